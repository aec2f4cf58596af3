//! Server paths, kept as bytes.
//!
//! FTP paths need not be UTF-8: [RFC 3659 §7.3](https://www.rfc-editor.org/rfc/rfc3659#section-7.3)
//! encourages clients "to treat non-UTF-8 encodings of file names as octet sequences". An
//! [`FtpPath`] taken from a reply goes back to the server byte for byte (SCENARIOS REPLY-08).

use std::fmt;

/// A path on the server, kept byte for byte.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FtpPath(Vec<u8>);

impl FtpPath {
    /// A path made of these bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        FtpPath(bytes.into())
    }

    /// The raw bytes of the path.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The path decoded as UTF-8, with invalid bytes replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    /// The raw bytes of the path.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl AsRef<[u8]> for FtpPath {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<&str> for FtpPath {
    fn from(s: &str) -> Self {
        FtpPath::new(s)
    }
}

impl From<String> for FtpPath {
    fn from(s: String) -> Self {
        FtpPath::new(s)
    }
}

impl From<Vec<u8>> for FtpPath {
    fn from(bytes: Vec<u8>) -> Self {
        FtpPath(bytes)
    }
}

impl From<&[u8]> for FtpPath {
    fn from(bytes: &[u8]) -> Self {
        FtpPath::new(bytes)
    }
}

impl fmt::Debug for FtpPath {
    /// The lossy text, quoted and escaped like a `str`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*String::from_utf8_lossy(&self.0), f)
    }
}

impl fmt::Display for FtpPath {
    /// The lossy text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// The path in a 257 reply (PWD, MKD): the first `"`-quoted string, with each `""` inside it
/// turned back into `"` (the quote-doubling convention of
/// [RFC 959 Appendix II](https://www.rfc-editor.org/rfc/rfc959#page-63)).
///
/// Works on raw bytes, so a path that is not UTF-8 survives unchanged. Returns `None` when
/// there is no opening quote, no closing quote, or the quoted path is empty.
///
/// ```
/// use ftps_core::path::parse_quoted_path;
/// let path = parse_quoted_path(br#""/x/a""b" created"#).unwrap();
/// assert_eq!(path.as_bytes(), br#"/x/a"b"#);
/// ```
pub fn parse_quoted_path(text_bytes: &[u8]) -> Option<FtpPath> {
    let open = text_bytes.iter().position(|&b| b == b'"')?;
    let mut path = Vec::new();
    let mut rest = &text_bytes[open + 1..];
    loop {
        let quote = rest.iter().position(|&b| b == b'"')?;
        path.extend_from_slice(&rest[..quote]);
        if rest.get(quote + 1) == Some(&b'"') {
            path.push(b'"');
            rest = &rest[quote + 2..];
        } else {
            break;
        }
    }
    if path.is_empty() {
        None
    } else {
        Some(FtpPath(path))
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    // REPLY-07, REPLY-08
    #[rstest]
    #[case("\"/Übergröße/日本\" is the current directory".as_bytes(), "/Übergröße/日本".as_bytes())]
    #[case(br#""/x/a""b" created"#, br#"/x/a"b"#)]
    #[case(b"\"/caf\xE9\"", b"/caf\xE9")]
    #[case(br#"257 "/home/user" is cwd"#, b"/home/user")]
    #[case(br#""/""""" weird"#, br#"/"""#)]
    #[case(br#""a""" then "b""#, br#"a""#)]
    #[case(br##""/with space/and ""quotes""" x"##, br#"/with space/and "quotes""#)]
    #[case(b"\"/\"", b"/")]
    fn quoted_paths(#[case] text: &[u8], #[case] expected: &[u8]) {
        assert_eq!(parse_quoted_path(text).unwrap().as_bytes(), expected);
    }

    #[rstest]
    #[case(b"/no/quotes")]
    #[case(b"\"/unterminated")]
    #[case(b"\"/unterminated\"\"")]
    #[case(b"\"\" empty")]
    #[case(b"")]
    fn no_quoted_path(#[case] text: &[u8]) {
        assert_eq!(parse_quoted_path(text), None);
    }

    #[test]
    fn bytes_survive_and_render_lossily() {
        let path = FtpPath::new(b"/caf\xE9".to_vec());
        assert_eq!(path.as_bytes(), b"/caf\xE9");
        assert_eq!(path.as_ref(), b"/caf\xE9");
        assert_eq!(path.to_string_lossy(), "/caf\u{FFFD}");
        assert_eq!(path.to_string(), "/caf\u{FFFD}");
        assert_eq!(format!("{path:?}"), "\"/caf\u{FFFD}\"");
        assert_eq!(format!("{:?}", FtpPath::from("a\"b\n")), r#""a\"b\n""#);
        assert_eq!(path.clone().into_bytes(), b"/caf\xE9");
        assert_eq!(FtpPath::from("/x"), FtpPath::new(b"/x".to_vec()));
        assert_eq!(FtpPath::from(String::from("/x")), FtpPath::from(&b"/x"[..]));
    }
}
