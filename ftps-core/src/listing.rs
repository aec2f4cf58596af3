//! Parsers for the structured replies and listings of the FTP extensions: MLSD/MLST facts
//! ([RFC 3659 §7](https://www.rfc-editor.org/rfc/rfc3659#section-7)), the FEAT listing
//! ([RFC 2389 §3](https://www.rfc-editor.org/rfc/rfc2389#section-3)), and the SIZE and MDTM
//! replies ([RFC 3659 §3 and §4](https://www.rfc-editor.org/rfc/rfc3659#section-3)).

use std::fmt;

use crate::path::FtpPath;
use crate::reply::Reply;

/// One entry of an MLSD listing, or the entry of an MLST reply.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The pathname, everything after the space that ends the facts, byte for byte.
    pub name: FtpPath,
    /// The facts in the order given: names lower-cased, values as given (decoded lossily).
    pub facts: Vec<(String, String)>,
}

impl Entry {
    /// The value of the first fact with this name, compared case-insensitively.
    pub fn fact(&self, name: &str) -> Option<&str> {
        self.facts
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The kind of entry, from the `type` fact.
    pub fn kind(&self) -> Option<EntryKind> {
        let value = self.fact("type")?;
        let lower = value.to_ascii_lowercase();
        Some(match lower.as_str() {
            "file" => EntryKind::File,
            "dir" => EntryKind::Dir,
            "cdir" => EntryKind::CurrentDir,
            "pdir" => EntryKind::ParentDir,
            "os.unix=symlink" | "os.unix=slink" => EntryKind::Link,
            _ if lower.starts_with("os.unix=slink:") || lower.starts_with("os.unix=symlink:") => {
                EntryKind::Link
            }
            _ => EntryKind::Other(value.to_owned()),
        })
    }

    /// The `size` fact, if it is a decimal number.
    pub fn size(&self) -> Option<u64> {
        parse_decimal(self.fact("size")?)
    }

    /// The `modify` fact, as given (`YYYYMMDDHHMMSS[.sss]`; see [`parse_mdtm`]).
    pub fn modified(&self) -> Option<&str> {
        self.fact("modify")
    }
}

/// The kind of an entry, from its `type` fact (RFC 3659 §7.5.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// `type=file`.
    File,
    /// `type=dir`.
    Dir,
    /// `type=cdir`: the listed directory itself.
    CurrentDir,
    /// `type=pdir`: the parent of the listed directory.
    ParentDir,
    /// `type=OS.unix=symlink` (or `slink`).
    Link,
    /// Any other type, as given.
    Other(String),
}

/// Why an MLSD or MLST line did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListingError {
    /// The line has no space between the facts and the pathname.
    #[error("no space before the pathname")]
    NoSeparator,
    /// The pathname is empty.
    #[error("empty pathname")]
    EmptyName,
    /// The facts do not end with `;`.
    #[error("facts not terminated by ';'")]
    UnterminatedFacts,
    /// A fact is not `name=value` with a non-empty name.
    #[error("malformed fact {fact:?}")]
    MalformedFact {
        /// The fact as given, decoded lossily.
        fact: String,
    },
}

/// Parses one MLSD data line, `fact=value;fact=value; pathname`.
///
/// The facts end at the first space; the pathname is everything after it, kept as bytes with
/// its spaces and `;` ([RFC 3659 §7.2](https://www.rfc-editor.org/rfc/rfc3659#section-7.2)).
/// A line with no facts is ` pathname`. A trailing LF or CR LF is removed. Fact names are
/// lower-cased.
///
/// ```
/// use ftps_core::listing::{parse_mlsx_line, EntryKind};
/// let entry = parse_mlsx_line(b"Type=file;Size=4161; my file.txt").unwrap();
/// assert_eq!(entry.name.as_bytes(), b"my file.txt");
/// assert_eq!(entry.kind(), Some(EntryKind::File));
/// assert_eq!(entry.size(), Some(4161));
/// ```
pub fn parse_mlsx_line(line: &[u8]) -> Result<Entry, ListingError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let space = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(ListingError::NoSeparator)?;
    let (facts_part, name) = (&line[..space], &line[space + 1..]);
    if name.is_empty() {
        return Err(ListingError::EmptyName);
    }
    let facts_part = match facts_part {
        [] => facts_part,
        [head @ .., b';'] => head,
        _ => return Err(ListingError::UnterminatedFacts),
    };
    let mut facts = Vec::new();
    if !facts_part.is_empty() {
        for fact in facts_part.split(|&b| b == b';') {
            let malformed = || ListingError::MalformedFact {
                fact: String::from_utf8_lossy(fact).into_owned(),
            };
            let eq = fact.iter().position(|&b| b == b'=').ok_or_else(malformed)?;
            if eq == 0 {
                return Err(malformed());
            }
            let fact_name = String::from_utf8_lossy(&fact[..eq]).to_ascii_lowercase();
            let value = String::from_utf8_lossy(&fact[eq + 1..]).into_owned();
            facts.push((fact_name, value));
        }
    }
    Ok(Entry {
        name: FtpPath::new(name),
        facts,
    })
}

/// Parses one entry line of an MLST reply: a space, then the same format as an MLSD line
/// (so a line without facts starts with two spaces). Pass a middle line of the 250 reply,
/// as in [`Reply::lines`].
///
/// ```
/// use ftps_core::listing::parse_mlst_line;
/// let entry = parse_mlst_line(b" type=file;size=4161; dir/f").unwrap();
/// assert_eq!(entry.name.as_bytes(), b"dir/f");
/// ```
pub fn parse_mlst_line(line: &[u8]) -> Result<Entry, ListingError> {
    parse_mlsx_line(line.strip_prefix(b" ").unwrap_or(line))
}

/// The features a server listed in its reply to FEAT.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// Upper-cased label, then the parameters (trimmed), if any.
    list: Vec<(String, Option<String>)>,
}

impl Features {
    /// The features in a reply to FEAT.
    ///
    /// Only a 2xx reply lists features: its first and last lines are not features, and every
    /// line in between is one feature, `LABEL [params]`, normally after one space
    /// ([RFC 2389 §3.2](https://www.rfc-editor.org/rfc/rfc2389#section-3.2)). Leniently, lines
    /// without the space, or prefixed with the code and `-`, are read too. A one-line reply
    /// (`211 No features`) and negative replies (500, 502) give [`Features::none`]. If the reply
    /// was truncated, its last kept line is read as a feature.
    pub fn parse(reply: &Reply) -> Features {
        if !reply.is_completion() {
            return Features::none();
        }
        let lines = reply.lines();
        let end = if reply.truncated() {
            lines.len()
        } else {
            lines.len().saturating_sub(1)
        };
        let prefix = format!("{}-", reply.code());
        let list = lines
            .get(1..end)
            .unwrap_or_default()
            .iter()
            .filter_map(|line| {
                let line = line.strip_prefix(prefix.as_bytes()).unwrap_or(line);
                let text = String::from_utf8_lossy(line);
                let text = text.trim();
                if text.is_empty() {
                    return None;
                }
                let (label, params) = match text.split_once(char::is_whitespace) {
                    Some((label, params)) => (label, Some(params.trim().to_owned())),
                    None => (text, None),
                };
                Some((label.to_ascii_uppercase(), params))
            })
            .collect();
        Features { list }
    }

    /// No features known (FEAT refused, or not sent).
    pub fn none() -> Features {
        Features::default()
    }

    /// Whether the feature is listed, compared case-insensitively.
    ///
    /// `name` may be a label (`"MDTM"`) or a label and a parameter (`"AUTH TLS"`,
    /// `"REST STREAM"`): then one listing of that label must have the parameter among its
    /// words (separated by spaces or `;`).
    pub fn supports(&self, name: &str) -> bool {
        let name = name.trim();
        let (label, wanted) = match name.split_once(' ') {
            Some((label, param)) => (label, Some(param.trim())),
            None => (name, None),
        };
        self.list
            .iter()
            .filter(|(l, _)| l.eq_ignore_ascii_case(label))
            .any(|(_, params)| match (wanted, params) {
                (None, _) => true,
                (Some(w), Some(p)) => p
                    .split(|c: char| c == ';' || c.is_whitespace())
                    .any(|word| word.eq_ignore_ascii_case(w)),
                (Some(_), None) => false,
            })
    }

    /// The parameters of the first listing of the feature (`"TLS"` for `AUTH TLS`), compared
    /// case-insensitively; `None` if it is not listed or has no parameters.
    pub fn params(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(name))
            .and_then(|(_, p)| p.as_deref())
    }

    /// Every listed feature: the upper-cased label and its parameters.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.list.iter().map(|(l, p)| (l.as_str(), p.as_deref()))
    }

    /// Whether no feature is listed.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The MLST facts the server offers (lower-cased), each with whether it is on by default
    /// (marked `*`); empty if MLST is not listed.
    pub fn mlst_facts(&self) -> Vec<(String, bool)> {
        self.params("MLST")
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| match f.strip_suffix('*') {
                Some(name) => (name.to_ascii_lowercase(), true),
                None => (f.to_ascii_lowercase(), false),
            })
            .collect()
    }
}

/// Digits only, not empty, fitting in a `u64`.
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses the text of a 213 reply to SIZE: decimal digits only, surrounding whitespace
/// trimmed ([RFC 3659 §4.1](https://www.rfc-editor.org/rfc/rfc3659#section-4.1)). `None` for
/// anything else, including a number that does not fit in a `u64`.
pub fn parse_size(text: &str) -> Option<u64> {
    parse_decimal(text.trim())
}

/// A modification time from MDTM or the `modify` fact, in UTC
/// ([RFC 3659 §2.3](https://www.rfc-editor.org/rfc/rfc3659#section-2.3)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ModTime {
    /// 1000 to 9999.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to the length of the month.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 60 (60 only at a leap second).
    pub second: u8,
    /// 0 to 999; fractions finer than a millisecond are dropped.
    pub millis: u16,
}

impl ModTime {
    /// A time from its parts, or `None` if one is out of range.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        millis: u16,
    ) -> Option<ModTime> {
        let valid = (1000..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour <= 23
            && minute <= 59
            && second <= 60
            && millis <= 999;
        valid.then_some(ModTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millis,
        })
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for ModTime {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }
}

/// Parses the text of a 213 reply to MDTM, or a `modify` fact: `YYYYMMDDHHMMSS[.sss]`, with
/// at least one digit after a `.`, and every field in range; surrounding whitespace is trimmed.
///
/// ```
/// use ftps_core::listing::parse_mdtm;
/// let t = parse_mdtm("19980615100045.014").unwrap();
/// assert_eq!(t.to_string(), "1998-06-15T10:00:45.014Z");
/// ```
pub fn parse_mdtm(text: &str) -> Option<ModTime> {
    let text = text.trim();
    let (main, fraction) = match text.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (text, None),
    };
    let digits = main.as_bytes();
    if digits.len() != 14 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
    };
    let millis = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => f
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')),
        Some(_) => return None,
    };
    let byte = |range| u8::try_from(num(range)).ok();
    ModTime::new(
        num(0..4),
        byte(4..6)?,
        byte(6..8)?,
        byte(8..10)?,
        byte(10..12)?,
        byte(12..14)?,
        millis,
    )
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn pairs(entry: &Entry) -> Vec<(&str, &str)> {
        entry
            .facts
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    // EXT-03, MLSD lines
    #[test]
    fn mlsd_lines() {
        let cdir = parse_mlsx_line(b"type=cdir;modify=20240101000000; .").unwrap();
        assert_eq!(cdir.name.as_bytes(), b".");
        assert_eq!(cdir.kind(), Some(EntryKind::CurrentDir));
        assert_eq!(cdir.modified(), Some("20240101000000"));
        let pdir = parse_mlsx_line(b"type=pdir;modify=20240101000000; ..").unwrap();
        assert_eq!(pdir.name.as_bytes(), b"..");
        assert_eq!(pdir.kind(), Some(EntryKind::ParentDir));

        let file = parse_mlsx_line(b"Type=file;Size=0;unique=A1; name with  spaces;and;semicolons")
            .unwrap();
        assert_eq!(file.name.as_bytes(), b"name with  spaces;and;semicolons");
        assert_eq!(
            pairs(&file),
            [("type", "file"), ("size", "0"), ("unique", "A1")]
        );
        assert_eq!(file.kind(), Some(EntryKind::File));
        assert_eq!(file.size(), Some(0));
        assert_eq!(file.fact("UNIQUE"), Some("A1"));
        assert_eq!(file.fact("Size"), Some("0"));
        assert_eq!(file.modified(), None);

        let dir = parse_mlsx_line(b"type=dir; sub").unwrap();
        assert_eq!(dir.kind(), Some(EntryKind::Dir));
        assert_eq!(dir.name.as_bytes(), b"sub");

        let bare = parse_mlsx_line(b" onlyname").unwrap();
        assert_eq!(bare.name.as_bytes(), b"onlyname");
        assert!(bare.facts.is_empty());
        assert_eq!(bare.kind(), None);
        assert_eq!(bare.size(), None);

        let desc = "a".repeat(10 * 1024);
        let long = format!("type=file;size=12;x.desc={desc}; long");
        let long = parse_mlsx_line(long.as_bytes()).unwrap();
        assert_eq!(long.name.as_bytes(), b"long");
        assert_eq!(long.fact("x.desc"), Some(desc.as_str()));
        assert_eq!(long.size(), Some(12));
    }

    // EXT-03, MLST
    #[test]
    fn mlst_entry_line() {
        let entry =
            parse_mlst_line(b" type=file;size=4161;Modify=19970214165800;perm=r; dir/f").unwrap();
        assert_eq!(entry.name.as_bytes(), b"dir/f");
        assert_eq!(
            pairs(&entry),
            [
                ("type", "file"),
                ("size", "4161"),
                ("modify", "19970214165800"),
                ("perm", "r")
            ]
        );
        assert_eq!(entry.size(), Some(4161));
        assert_eq!(
            parse_mdtm(entry.modified().unwrap()).unwrap().to_string(),
            "1997-02-14T16:58:00.000Z"
        );
        let bare = parse_mlst_line(b"  /only/name").unwrap();
        assert_eq!(bare.name.as_bytes(), b"/only/name");
        assert!(bare.facts.is_empty());
    }

    #[test]
    fn mlsx_details() {
        let entry = parse_mlsx_line(b"type=OS.unix=symlink;perm=; caf\xE9\r\n").unwrap();
        assert_eq!(entry.name.as_bytes(), b"caf\xE9");
        assert_eq!(entry.kind(), Some(EntryKind::Link));
        assert_eq!(entry.fact("perm"), Some(""));
        let other = parse_mlsx_line(b"type=OS.unix=chr-13/29; tty").unwrap();
        assert_eq!(
            other.kind(),
            Some(EntryKind::Other("OS.unix=chr-13/29".into()))
        );
        assert_eq!(
            parse_mlsx_line(b"type=OS.unix=slink:/target; l\n")
                .unwrap()
                .kind(),
            Some(EntryKind::Link)
        );
        let bad_size = parse_mlsx_line(b"size=-1; f").unwrap();
        assert_eq!(bad_size.size(), None);
        let name_with_leading_space = parse_mlsx_line(b"type=file;  f").unwrap();
        assert_eq!(name_with_leading_space.name.as_bytes(), b" f");
    }

    #[rstest]
    #[case(b"type=file;size=1;name", ListingError::NoSeparator)]
    #[case(b"", ListingError::NoSeparator)]
    #[case(b"type=file; ", ListingError::EmptyName)]
    #[case(b"type=file; \r\n", ListingError::EmptyName)]
    #[case(b"type=file name", ListingError::UnterminatedFacts)]
    #[case(b"type; name", ListingError::MalformedFact { fact: "type".into() })]
    #[case(b"=file; name", ListingError::MalformedFact { fact: "=file".into() })]
    #[case(b"type=file;;size=1; name", ListingError::MalformedFact { fact: "".into() })]
    fn mlsx_errors(#[case] line: &[u8], #[case] expected: ListingError) {
        assert_eq!(parse_mlsx_line(line), Err(expected));
    }

    fn feat_reply(lines: &[&str]) -> Reply {
        Reply::from_lines(211, lines.iter().map(|l| l.as_bytes().to_vec()).collect())
    }

    // EXT-01
    #[test]
    fn feat_listing() {
        let reply = feat_reply(&[
            "Features:",
            " AUTH TLS",
            " PBSZ",
            " PROT",
            " EPSV",
            " MLST type*;size*;modify*;UNIX.mode;",
            " REST STREAM",
            " SIZE",
            " mdtm",
            " UTF8",
            " X-UNKNOWN foo bar",
            "End",
        ]);
        let features = Features::parse(&reply);
        for name in [
            "AUTH",
            "auth tls",
            "AUTH TLS",
            "PBSZ",
            "prot",
            "EPSV",
            "MLST",
            "REST STREAM",
            "size",
            "MDTM",
            "Utf8",
            "X-UNKNOWN",
        ] {
            assert!(features.supports(name), "{name}");
        }
        assert!(features.supports("REST"));
        for name in [
            "AUTH SSL",
            "EPRT",
            "Features:",
            "End",
            "TVFS",
            "MDTM X",
            "REST X",
        ] {
            assert!(!features.supports(name), "{name}");
        }
        assert_eq!(features.params("auth"), Some("TLS"));
        assert_eq!(features.params("PBSZ"), None);
        assert_eq!(features.params("x-unknown"), Some("foo bar"));
        assert_eq!(features.params("nope"), None);
        assert_eq!(
            features.mlst_facts(),
            [
                ("type".to_owned(), true),
                ("size".to_owned(), true),
                ("modify".to_owned(), true),
                ("unix.mode".to_owned(), false)
            ]
        );
        let labels: Vec<&str> = features.iter().map(|(l, _)| l).collect();
        assert_eq!(
            labels,
            [
                "AUTH",
                "PBSZ",
                "PROT",
                "EPSV",
                "MLST",
                "REST",
                "SIZE",
                "MDTM",
                "UTF8",
                "X-UNKNOWN"
            ]
        );
        assert!(!features.is_empty());
    }

    #[test]
    fn vsftpd_and_proftpd_style_feat() {
        let vsftpd = feat_reply(&[
            "Features:",
            " AUTH SSL",
            " AUTH TLS",
            " EPRT",
            " REST STREAM",
            "End",
        ]);
        let features = Features::parse(&vsftpd);
        assert!(features.supports("AUTH TLS"));
        assert!(features.supports("AUTH SSL"));
        assert_eq!(features.params("AUTH"), Some("SSL"));
        let dashed = feat_reply(&["Features:", "211-AUTH TLS", "211-SIZE", "End"]);
        let features = Features::parse(&dashed);
        assert!(features.supports("AUTH TLS"));
        assert!(features.supports("SIZE"));
        assert_eq!(features.iter().count(), 2);
    }

    #[test]
    fn no_features() {
        assert_eq!(
            Features::parse(&Reply::new(211, "No features")),
            Features::none()
        );
        for code in [500, 502] {
            let features = Features::parse(&feat_reply(&["x", " AUTH TLS", "y"]).with_code(code));
            assert!(features.is_empty());
            assert!(!features.supports("AUTH TLS"));
        }
        assert_eq!(Features::none().mlst_facts(), []);
        assert!(Features::parse(&feat_reply(&["Features:", "  ", "End"])).is_empty());
    }

    trait WithCode {
        fn with_code(self, code: u16) -> Reply;
    }

    impl WithCode for Reply {
        fn with_code(self, code: u16) -> Reply {
            Reply::from_lines(code, self.lines().to_vec())
        }
    }

    // EXT-02
    #[rstest]
    #[case("1830", Some(1830))]
    #[case(" 1830 ", Some(1830))]
    #[case("0", Some(0))]
    #[case("18446744073709551615", Some(u64::MAX))]
    #[case("12abc", None)]
    #[case("-1", None)]
    #[case("+1", None)]
    #[case("99999999999999999999999", None)]
    #[case("", None)]
    #[case("1 2", None)]
    fn sizes(#[case] text: &str, #[case] expected: Option<u64>) {
        assert_eq!(parse_size(text), expected);
    }

    // EXT-02
    #[rstest]
    #[case("19980615100045.014", "1998-06-15T10:00:45.014Z")]
    #[case("19990929003355", "1999-09-29T00:33:55.000Z")]
    #[case("19990929003355.5", "1999-09-29T00:33:55.500Z")]
    #[case("19990929003355.123456", "1999-09-29T00:33:55.123Z")]
    #[case("20000229235960", "2000-02-29T23:59:60.000Z")]
    #[case(" 20240101000000\r\n", "2024-01-01T00:00:00.000Z")]
    fn mdtm_values(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(parse_mdtm(text).unwrap().to_string(), expected);
    }

    #[test]
    fn mdtm_fields() {
        let t = parse_mdtm("19980615100045.014").unwrap();
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis),
            (1998, 6, 15, 10, 0, 45, 14)
        );
        assert_eq!(ModTime::new(1998, 6, 15, 10, 0, 45, 14), Some(t));
    }

    // EXT-02
    #[rstest]
    #[case("20231301000000")]
    #[case("2023061510004")]
    #[case("19980615100045.")]
    #[case("199806151000450")]
    #[case("20230015000000")]
    #[case("20230600000000")]
    #[case("20230631000000")]
    #[case("19000229000000")]
    #[case("20230615240000")]
    #[case("20230615236000")]
    #[case("20230615235961")]
    #[case("09990615000000")]
    #[case("2023061510004a")]
    #[case("20230615100045.1a")]
    #[case("20230615100045.1.2")]
    #[case("+2023061510004")]
    #[case("")]
    #[case("2023-06-15T10:00:45")]
    fn mdtm_rejects(#[case] text: &str) {
        assert_eq!(parse_mdtm(text), None);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = parse_mlsx_line(&bytes);
            let _ = parse_mlst_line(&bytes);
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_size(&text);
            let _ = parse_mdtm(&text);
        }
    }
}
