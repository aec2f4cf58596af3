//! The data-connection addresses of FTP: the 227 (PASV) and 229 (EPSV) replies, and the
//! arguments of PORT and EPRT.
//!
//! - 227: [RFC 959 §4.1.2](https://www.rfc-editor.org/rfc/rfc959#section-4.1.2) and
//!   [RFC 1123 §4.1.2.6](https://www.rfc-editor.org/rfc/rfc1123#page-31), which says a client
//!   "must scan the reply for the first digit of the host and port numbers".
//! - 229 and EPRT: [RFC 2428](https://www.rfc-editor.org/rfc/rfc2428).
//!
//! The address in a 227 reply is returned, but the client ignores it by default and connects to
//! the control connection's peer (decision D5 of SCENARIOS).

use std::net::{SocketAddr, SocketAddrV4};

/// Why a 227 or 229 reply text did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PassiveError {
    /// The 227 text contains no digit at all.
    #[error("no digits in the passive reply")]
    NoDigits,
    /// Fewer than six comma-separated numbers follow the first digit.
    #[error("fewer than six numbers in the passive reply")]
    TooFewNumbers,
    /// More than six comma-separated numbers.
    #[error("more than six numbers in the passive reply")]
    TooManyNumbers,
    /// A number is preceded by a minus sign.
    #[error("negative number in the passive reply")]
    NegativeNumber,
    /// A number is above 255.
    #[error("number {value} in the passive reply is above 255")]
    OctetOutOfRange {
        /// The number (saturated at `u64::MAX`).
        value: u64,
    },
    /// The port is 0.
    #[error("port 0 in the passive reply")]
    PortZero,
    /// The 229 text has no `(` or no `)` after the fields.
    #[error("no parenthesised port in the extended passive reply")]
    NoParentheses,
    /// The 229 delimiter is not a character in the range 33 to 126 (or is a digit).
    #[error("bad delimiter in the extended passive reply")]
    BadDelimiter,
    /// The 229 fields do not end with the delimiter they started with.
    #[error("mismatched delimiters in the extended passive reply")]
    MismatchedDelimiters,
    /// The 229 port is not a number from 1 to 65535.
    #[error("bad port {port:?} in the extended passive reply")]
    BadPort {
        /// The port field as received.
        port: String,
    },
}

/// Parses the text of a 227 reply into the address and port it names.
///
/// Following RFC 1123 §4.1.2.6, parentheses are not required: the text is scanned for six
/// comma-separated numbers `h1,h2,h3,h4,p1,p2`, each 0 to 255, and the port is `p1 * 256 + p2`.
/// The first run of digits (not preceded by a digit, `,` or `-`) that starts such six numbers is
/// used, so the reply code may be included in `text`
/// (`227 Entering Passive Mode (127,0,0,1,156,65)` works). Six numbers followed by a seventh,
/// a value above 255 and port 0 are errors; if no run of digits starts six numbers, the error
/// describes the first one.
///
/// ```
/// use ftps_core::passive::parse_pasv;
/// assert_eq!(parse_pasv("Entering Passive Mode (127,0,0,1,156,65)."), Ok(([127, 0, 0, 1], 40001)));
/// ```
pub fn parse_pasv(text: &str) -> Result<([u8; 4], u16), PassiveError> {
    let bytes = text.as_bytes();
    let mut first_error = None;
    let mut i = 0;
    while i < bytes.len() {
        let before = if i > 0 { bytes[i - 1] } else { b' ' };
        // Only a run of digits that does not continue a number or a list starts a candidate.
        if !bytes[i].is_ascii_digit() || before.is_ascii_digit() || before == b',' {
            i += 1;
            continue;
        }
        if before == b'-' {
            first_error.get_or_insert(PassiveError::NegativeNumber);
            i += 1;
            continue;
        }
        match six_numbers(&bytes[i..]) {
            Ok(numbers) => return pasv_values(numbers),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        i += 1;
    }
    Err(first_error.unwrap_or(PassiveError::NoDigits))
}

/// Reads six comma-separated digit runs at the start of `bytes`.
fn six_numbers(bytes: &[u8]) -> Result<[u64; 6], PassiveError> {
    let mut numbers = [0u64; 6];
    let mut pos = 0;
    for (n, slot) in numbers.iter_mut().enumerate() {
        if n > 0 {
            if bytes.get(pos) != Some(&b',') {
                return Err(PassiveError::TooFewNumbers);
            }
            pos += 1;
        }
        let digits = bytes[pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(match (bytes.get(pos), bytes.get(pos + 1)) {
                (Some(b'-'), Some(d)) if d.is_ascii_digit() => PassiveError::NegativeNumber,
                _ => PassiveError::TooFewNumbers,
            });
        }
        *slot = bytes[pos..pos + digits].iter().fold(0u64, |acc, d| {
            acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        pos += digits;
    }
    if bytes.get(pos) == Some(&b',')
        && bytes
            .get(pos + 1)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
    {
        return Err(PassiveError::TooManyNumbers);
    }
    Ok(numbers)
}

fn pasv_values(numbers: [u64; 6]) -> Result<([u8; 4], u16), PassiveError> {
    let mut octets = [0u8; 6];
    for (octet, &value) in octets.iter_mut().zip(&numbers) {
        *octet = u8::try_from(value).map_err(|_| PassiveError::OctetOutOfRange { value })?;
    }
    let port = u16::from(octets[4]) << 8 | u16::from(octets[5]);
    if port == 0 {
        return Err(PassiveError::PortZero);
    }
    Ok(([octets[0], octets[1], octets[2], octets[3]], port))
}

/// Parses the text of a 229 reply into the port it names.
///
/// The text holds `(` `d d d port d` `)` where `d` is one delimiter character in the range 33
/// to 126 (a digit is refused), the same each time ([RFC 2428 §3](https://www.rfc-editor.org/rfc/rfc2428#section-3)).
/// The first two fields should be blank; servers that fill them in (`(|1|10.0.0.9|40001|)`) are
/// accepted, and the address is ignored. Each `(` in the text is tried in turn; if none works,
/// the error describes the first.
///
/// ```
/// use ftps_core::passive::parse_epsv;
/// assert_eq!(parse_epsv("Entering Extended Passive Mode (|||40001|)"), Ok(40001));
/// ```
pub fn parse_epsv(text: &str) -> Result<u16, PassiveError> {
    let mut first_error = None;
    for (i, _) in text.match_indices('(') {
        match epsv_fields(&text.as_bytes()[i + 1..]) {
            Ok(port) => return Ok(port),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(PassiveError::NoParentheses))
}

/// Parses `d proto d addr d port d )`, the text after a `(`.
fn epsv_fields(bytes: &[u8]) -> Result<u16, PassiveError> {
    let Some((&delim, rest)) = bytes.split_first() else {
        return Err(PassiveError::NoParentheses);
    };
    if !(33..=126).contains(&delim) || delim.is_ascii_digit() {
        return Err(PassiveError::BadDelimiter);
    }
    let mut fields = rest.splitn(4, |&b| b == delim);
    let (Some(_proto), Some(_addr), Some(port), Some(after)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(PassiveError::MismatchedDelimiters);
    };
    if after.first() != Some(&b')') {
        return Err(if after.contains(&b')') {
            PassiveError::MismatchedDelimiters
        } else {
            PassiveError::NoParentheses
        });
    }
    let bad_port = || PassiveError::BadPort {
        port: String::from_utf8_lossy(port).into_owned(),
    };
    if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return Err(bad_port());
    }
    let value = port
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    match u16::try_from(value) {
        Ok(0) => Err(PassiveError::PortZero),
        Ok(port) => Ok(port),
        Err(_) => Err(bad_port()),
    }
}

/// Formats the argument of PORT: `h1,h2,h3,h4,p1,p2`.
///
/// ```
/// use ftps_core::passive::format_port;
/// assert_eq!(format_port("127.0.0.1:40002".parse().unwrap()), "127,0,0,1,156,66");
/// ```
pub fn format_port(addr: SocketAddrV4) -> String {
    let [a, b, c, d] = addr.ip().octets();
    let [p1, p2] = addr.port().to_be_bytes();
    format!("{a},{b},{c},{d},{p1},{p2}")
}

/// Formats the argument of EPRT ([RFC 2428 §2](https://www.rfc-editor.org/rfc/rfc2428#section-2)):
/// `|1|127.0.0.1|40002|` or `|2|::1|40002|`.
pub fn format_eprt(addr: SocketAddr) -> String {
    let family = match addr {
        SocketAddr::V4(_) => 1,
        SocketAddr::V6(_) => 2,
    };
    format!("|{family}|{}|{}|", addr.ip(), addr.port())
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    // DATA-05
    #[rstest]
    #[case("Entering Passive Mode (127,0,0,1,156,65)")]
    #[case("Entering Passive Mode (127,0,0,1,156,65).")]
    #[case("Entering Passive Mode 127,0,0,1,156,65")]
    #[case("=127,0,0,1,156,65")]
    #[case("227 Entering Passive Mode (127,0,0,1,156,65)")]
    #[case("227 =127,0,0,1,156,65")]
    #[case("Entering Passive Mode (127,000,0,001,156,65)")]
    fn pasv_formats(#[case] text: &str) {
        assert_eq!(parse_pasv(text), Ok(([127, 0, 0, 1], 40001)));
    }

    #[test]
    fn pasv_address_and_extremes() {
        assert_eq!(parse_pasv("(10,1,2,3,0,1)"), Ok(([10, 1, 2, 3], 1)));
        assert_eq!(
            parse_pasv("(255,255,255,255,255,255)"),
            Ok(([255, 255, 255, 255], 65535))
        );
    }

    // BAD-09
    #[rstest]
    #[case("Entering Passive Mode (127,0,0,256,156,65)", PassiveError::OctetOutOfRange { value: 256 })]
    #[case("Entering Passive Mode (127,0,0,1,999999999999999999999999,65)", PassiveError::OctetOutOfRange { value: u64::MAX })]
    #[case("Entering Passive Mode (127,0,0,1,0,0)", PassiveError::PortZero)]
    #[case("Entering Passive Mode (127,0,0,1,156)", PassiveError::TooFewNumbers)]
    #[case("Entering Passive Mode (127,0,0,1)", PassiveError::TooFewNumbers)]
    #[case(
        "Entering Passive Mode (127,0,0,1,-1,65)",
        PassiveError::NegativeNumber
    )]
    #[case(
        "Entering Passive Mode (127,0,0,1,156,65,7)",
        PassiveError::TooManyNumbers
    )]
    #[case(
        "Entering Passive Mode (-127,0,0,1,156,65)",
        PassiveError::NegativeNumber
    )]
    #[case("(1,2,3,4,5,6,7,8,9)", PassiveError::TooManyNumbers)]
    #[case("Entering Passive Mode", PassiveError::NoDigits)]
    #[case("", PassiveError::NoDigits)]
    #[case(
        "Entering Passive Mode (127, 0, 0, 1, 156, 65)",
        PassiveError::TooFewNumbers
    )]
    fn pasv_errors(#[case] text: &str, #[case] expected: PassiveError) {
        assert_eq!(parse_pasv(text), Err(expected));
    }

    // DATA-05
    #[rstest]
    #[case("Entering Extended Passive Mode (|||40001|)")]
    #[case("Entering Extended Passive Mode (!!!40001!)")]
    #[case("(|||40001|)")]
    #[case("229 (|||40001|)")]
    #[case("Extended Passive (|1|10.0.0.9|40001|)")]
    #[case("Extended Passive (|2|::1|40001|)")]
    #[case("Entering Extended Passive Mode (|||40001|).")]
    #[case("(~~~40001~)")]
    fn epsv_formats(#[case] text: &str) {
        assert_eq!(parse_epsv(text), Ok(40001));
    }

    #[test]
    fn epsv_extremes() {
        assert_eq!(parse_epsv("(|||1|)"), Ok(1));
        assert_eq!(parse_epsv("(|||65535|)"), Ok(65535));
        // A later parenthesis is tried when the first is not the port.
        assert_eq!(parse_epsv("Mode (v2) (|||40001|)"), Ok(40001));
    }

    // BAD-09
    #[rstest]
    #[case("(|||0|)", PassiveError::PortZero)]
    #[case("(|||00000|)", PassiveError::PortZero)]
    #[case("(|||70000|)", PassiveError::BadPort { port: "70000".into() })]
    #[case("(|||65536|)", PassiveError::BadPort { port: "65536".into() })]
    #[case("(|||123456|)", PassiveError::BadPort { port: "123456".into() })]
    #[case("(|||abc|)", PassiveError::BadPort { port: "abc".into() })]
    #[case("(||||)", PassiveError::BadPort { port: "".into() })]
    #[case("(|||-1|)", PassiveError::BadPort { port: "-1".into() })]
    #[case("(|||40001!)", PassiveError::MismatchedDelimiters)]
    #[case("(|||40001|x)", PassiveError::MismatchedDelimiters)]
    #[case(
        "Entering Extended Passive Mode |||40001|",
        PassiveError::NoParentheses
    )]
    #[case("(|||40001|", PassiveError::NoParentheses)]
    #[case("(", PassiveError::NoParentheses)]
    #[case("(   40001 )", PassiveError::BadDelimiter)]
    #[case("(\u{7f}\u{7f}\u{7f}40001\u{7f})", PassiveError::BadDelimiter)]
    #[case("(ééé40001é)", PassiveError::BadDelimiter)]
    #[case("(\t\t\t40001\t)", PassiveError::BadDelimiter)]
    #[case("(11140001)", PassiveError::BadDelimiter)]
    fn epsv_errors(#[case] text: &str, #[case] expected: PassiveError) {
        assert_eq!(parse_epsv(text), Err(expected));
    }

    #[test]
    fn port_and_eprt_arguments() {
        assert_eq!(
            format_port("127.0.0.1:40002".parse().unwrap()),
            "127,0,0,1,156,66"
        );
        assert_eq!(format_port("10.1.2.3:1".parse().unwrap()), "10,1,2,3,0,1");
        assert_eq!(
            format_eprt("127.0.0.1:40002".parse().unwrap()),
            "|1|127.0.0.1|40002|"
        );
        assert_eq!(format_eprt("[::1]:40002".parse().unwrap()), "|2|::1|40002|");
    }

    #[test]
    fn formats_round_trip() {
        let addr: SocketAddrV4 = "192.168.7.9:65535".parse().unwrap();
        assert_eq!(
            parse_pasv(&format!("Entering Passive Mode ({})", format_port(addr))),
            Ok((addr.ip().octets(), addr.port()))
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in ".{0,80}") {
            let _ = parse_pasv(&text);
            let _ = parse_epsv(&text);
        }
    }
}
