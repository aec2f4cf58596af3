//! Parsers for the structured replies and listings of the FTP extensions: MLSD/MLST facts
//! ([RFC 3659 §7](https://www.rfc-editor.org/rfc/rfc3659#section-7)), the FEAT listing
//! ([RFC 2389 §3](https://www.rfc-editor.org/rfc/rfc2389#section-3)), and the SIZE and MDTM
//! replies ([RFC 3659 §3 and §4](https://www.rfc-editor.org/rfc/rfc3659#section-3)), and in
//! [`list`] the LIST output of Unix and DOS style servers.

pub mod list;

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

    /// The `modify` fact as a time in UTC, if it is a valid time-val (RFC 3659 §2.3).
    pub fn modify_time(&self) -> Option<ModTime> {
        parse_mdtm(self.fact("modify")?)
    }

    /// The `create` fact as a time in UTC, if it is a valid time-val.
    pub fn create_time(&self) -> Option<ModTime> {
        parse_mdtm(self.fact("create")?)
    }

    /// The `perm` fact, as given: the letters `a c d e f l m p r w` of RFC 3659 §7.5.5.
    pub fn perm(&self) -> Option<&str> {
        self.fact("perm")
    }

    /// Whether the `perm` fact contains `letter` (compared case-insensitively); `None` when
    /// there is no `perm` fact, so "not granted" and "not said" stay apart.
    pub fn has_perm(&self, letter: char) -> Option<bool> {
        self.perm()
            .map(|p| p.chars().any(|c| c.eq_ignore_ascii_case(&letter)))
    }

    /// The `unique` fact: an identifier of the file or directory on the server (§7.5.2).
    pub fn unique(&self) -> Option<&str> {
        self.fact("unique")
    }

    /// The facts that RFC 3659 §7.5 does not define (local `x.` facts, `UNIX.mode`, ...), in
    /// the order given, kept as raw pairs.
    pub fn other_facts(&self) -> impl Iterator<Item = (&str, &str)> {
        const STANDARD: [&str; 9] = [
            "size",
            "modify",
            "create",
            "type",
            "unique",
            "perm",
            "lang",
            "media-type",
            "charset",
        ];
        self.facts
            .iter()
            .filter(|(n, _)| !STANDARD.contains(&n.as_str()))
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether this is the listed directory itself (`cdir`) or its parent (`pdir`), which a
    /// caller walking a tree usually skips.
    pub fn is_self_or_parent(&self) -> bool {
        matches!(
            self.kind(),
            Some(EntryKind::CurrentDir | EntryKind::ParentDir)
        )
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
    // Only a line terminator: a CR without a LF after it is the name's (MLSD's lines come here
    // with their CR LF already gone, and a name may end in CR).
    let line = match line.strip_suffix(b"\n") {
        Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
        None => line,
    };
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

/// Parses the data of an MLSD listing: one result per non-empty line (LF or CR LF ends a
/// line; lines may be of any length). A malformed line gives an error for that entry only and
/// never fails the listing (SCENARIOS EXT-03).
///
/// ```
/// use ftps_core::listing::parse_mlsd;
/// let entries = parse_mlsd(b"type=dir; sub\r\nbroken\r\ntype=file;size=3; f\r\n");
/// assert_eq!(entries.len(), 3);
/// assert!(entries[1].is_err());
/// assert_eq!(entries[2].as_ref().unwrap().size(), Some(3));
/// ```
pub fn parse_mlsd(data: &[u8]) -> Vec<Result<Entry, ListingError>> {
    data.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(parse_mlsx_line)
        .collect()
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
                Some(name) => (name.trim().to_ascii_lowercase(), true),
                None => (f.to_ascii_lowercase(), false),
            })
            .filter(|(name, _)| !name.is_empty())
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
mod tests;
