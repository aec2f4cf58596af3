//! A best-effort parser for `LIST` output, whose format no RFC defines (RFC 959 §4.1.3: "the
//! information on a file may vary widely from system to system"). Two layouts cover most
//! servers:
//!
//! * Unix `ls -l`: `drwxr-xr-x    2 user  group     4096 Jan  1 12:00 name` (a year instead of
//!   the time for older files; `name -> target` for symbolic links);
//! * DOS / IIS: `01-15-24  03:04PM       <DIR>          name` or `... 1234 name`.
//!
//! Parsing never fails the listing: a line that fits neither layout is kept, byte for byte, as
//! [`ListLine::Unparsed`]. Prefer MLSD ([`super::parse_mlsd`]) where the server offers it: its
//! format is defined and its times are in UTC, while LIST times are in the server's local time
//! zone, and Unix listings omit the year of recent files.
//!
//! ```
//! use ftps_core::listing::list::{parse_list, ListLine};
//! use ftps_core::listing::EntryKind;
//!
//! let lines = parse_list(b"total 8\r\n\
//!     drwxr-xr-x 2 ftp ftp 4096 Mar  3 14:05 pub\r\n\
//!     some banner text\r\n");
//! assert_eq!(lines[0], ListLine::Total(8));
//! let ListLine::Entry(entry) = &lines[1] else { panic!() };
//! assert_eq!(entry.name.as_bytes(), b"pub");
//! assert_eq!(entry.kind, EntryKind::Dir);
//! assert_eq!(lines[2], ListLine::Unparsed(b"some banner text".to_vec()));
//! ```

use crate::path::FtpPath;

use super::EntryKind;

#[cfg(test)]
mod tests;

/// One line of `LIST` output, as far as it could be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListLine {
    /// A file, directory, link or other entry.
    Entry(ListEntry),
    /// The `total N` line of Unix listings (N in blocks, whatever the server's block size).
    Total(u64),
    /// A line of neither layout, kept as received (without its line end).
    Unparsed(Vec<u8>),
}

/// Which layout an entry was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListFormat {
    /// Unix `ls -l`.
    Unix,
    /// DOS / IIS.
    Dos,
}

/// The date and time of a `LIST` entry, in the server's local time zone, as far as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ListTime {
    /// The year; `None` for recent files in Unix listings, which give the time instead.
    pub year: Option<u16>,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// Hour (0 to 23) and minute; `None` when the listing gives the year instead.
    pub time: Option<(u8, u8)>,
}

/// One entry of a `LIST` listing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListEntry {
    /// The name, byte for byte (for links, without the ` -> target` part). In Unix listings
    /// everything after the single space that follows the time is the name, leading spaces
    /// included; in DOS listings leading spaces cannot be told from the padding.
    pub name: FtpPath,
    /// File, directory, link ([`EntryKind::Other`] holds the Unix type letter otherwise).
    pub kind: EntryKind,
    /// The size in bytes; `None` for DOS directories.
    pub size: Option<u64>,
    /// The modification time.
    pub modified: Option<ListTime>,
    /// The Unix mode string as given, such as `drwxr-xr-x` (with a trailing `+` or `@` if any).
    pub permissions: Option<String>,
    /// The Unix link count.
    pub links: Option<u64>,
    /// The Unix owner.
    pub owner: Option<String>,
    /// The Unix group.
    pub group: Option<String>,
    /// The target of a symbolic link (`name -> target`).
    pub link_target: Option<FtpPath>,
    /// The layout the line was read from.
    pub format: ListFormat,
}

/// Parses a whole `LIST` listing: one [`ListLine`] per non-empty line (LF or CR LF ends a
/// line). Never fails; lines it cannot read are [`ListLine::Unparsed`].
pub fn parse_list(data: &[u8]) -> Vec<ListLine> {
    data.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(parse_list_line)
        .collect()
}

/// Parses one line of `LIST` output (without its line end). Never fails: a line of neither
/// layout is [`ListLine::Unparsed`].
pub fn parse_list_line(line: &[u8]) -> ListLine {
    let tokens = tokens(line);
    let text = |i: usize| tokens.get(i).map(|&(s, e)| &line[s..e]);
    if tokens.len() == 2 && text(0).is_some_and(|t| t.eq_ignore_ascii_case(b"total")) {
        if let Some(n) = text(1).and_then(number) {
            return ListLine::Total(n);
        }
    }
    match parse_unix(line, &tokens).or_else(|| parse_dos(line, &tokens)) {
        Some(entry) => ListLine::Entry(entry),
        None => ListLine::Unparsed(line.to_vec()),
    }
}

/// The `(start, end)` of each run of bytes other than space and tab.
fn tokens(line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, b) in line.iter().enumerate() {
        let blank = matches!(b, b' ' | b'\t');
        match (start, blank) {
            (None, false) => start = Some(i),
            (Some(s), true) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

/// Decimal digits only, fitting in a `u64`.
fn number(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// A small decimal number of one or two digits (for days, hours, minutes, months).
fn small(bytes: &[u8]) -> Option<u8> {
    if bytes.is_empty() || bytes.len() > 2 {
        return None;
    }
    u8::try_from(number(bytes)?).ok()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

fn month(bytes: &[u8]) -> Option<u8> {
    let lower = bytes.to_ascii_lowercase();
    let index = MONTHS.iter().position(|m| *m == lower.as_slice())?;
    u8::try_from(index + 1).ok()
}

/// `HH:MM` (24-hour clock).
fn clock(bytes: &[u8]) -> Option<(u8, u8)> {
    let colon = bytes.iter().position(|b| *b == b':')?;
    let hour = small(&bytes[..colon])?;
    let minute = bytes
        .get(colon + 1..)
        .filter(|m| m.len() == 2)
        .and_then(small)?;
    (hour < 24 && minute < 60).then_some((hour, minute))
}

/// A Unix mode string: a type letter and nine permission letters, then perhaps `+`, `@`, `.`.
fn is_mode(bytes: &[u8]) -> bool {
    bytes.len() >= 10
        && bytes.len() <= 11
        && b"-dlcbpsD".contains(&bytes[0])
        && bytes[1..10].iter().all(|b| b"rwxsStTlL-".contains(b))
        && bytes.get(10).is_none_or(|b| b"+@.".contains(b))
}

fn parse_unix(line: &[u8], tokens: &[(usize, usize)]) -> Option<ListEntry> {
    let text = |i: usize| tokens.get(i).map(|&(s, e)| &line[s..e]);
    let mode = text(0).filter(|m| is_mode(m))?;
    // The date is `Mon day HH:MM|YYYY`, right after the size; a name (at least one byte
    // after the separator) must follow it.
    let (at, modified) = (2..tokens.len().saturating_sub(2)).find_map(|i| {
        if line.len() <= tokens.get(i + 2)?.1 + 1 {
            return None;
        }
        let month = month(text(i)?)?;
        number(text(i - 1)?)?;
        let day = small(text(i + 1)?).filter(|d| (1..=31).contains(d))?;
        let last = text(i + 2)?;
        let (year, time) = match clock(last) {
            Some(t) => (None, Some(t)),
            None if last.len() == 4 => (Some(u16::try_from(number(last)?).ok()?), None),
            None => return None,
        };
        Some((
            i,
            ListTime {
                year,
                month,
                day,
                time,
            },
        ))
    })?;
    let size = number(text(at - 1)?)?;
    let mut middle: Vec<&[u8]> = (1..at - 1).filter_map(text).collect();
    let links = match middle.first().and_then(|t| number(t)) {
        Some(n) => {
            middle.remove(0);
            Some(n)
        }
        None => None,
    };
    // The name is everything after the one space (or tab) that follows the date.
    let name_start = tokens.get(at + 2)?.1 + 1;
    let mut name = line.get(name_start..).filter(|n| !n.is_empty())?;
    let kind = match mode[0] {
        b'-' => EntryKind::File,
        b'd' => EntryKind::Dir,
        b'l' => EntryKind::Link,
        other => EntryKind::Other(char::from(other).to_string()),
    };
    let mut link_target = None;
    if kind == EntryKind::Link {
        // The first ` -> ` with a name before it (found by the `listing` fuzz target: a line
        // whose name starts with ` -> ` gave an empty name).
        if let Some(arrow) = name.windows(4).skip(1).position(|w| w == b" -> ") {
            link_target = Some(FtpPath::new(&name[arrow + 5..]));
            name = &name[..arrow + 1];
        }
    }
    Some(ListEntry {
        name: FtpPath::new(name),
        kind,
        size: Some(size),
        modified: Some(modified),
        permissions: Some(lossy(mode)),
        links,
        owner: middle.first().map(|o| lossy(o)),
        group: middle.get(1).map(|g| lossy(g)),
        link_target,
        format: ListFormat::Unix,
    })
}

/// `MM-DD-YY` or `MM-DD-YYYY` (two-digit years: 70-99 are 19xx, the rest 20xx).
fn dos_date(bytes: &[u8]) -> Option<(u16, u8, u8)> {
    let parts: Vec<&[u8]> = bytes.split(|b| *b == b'-').collect();
    let [m, d, y] = parts[..] else {
        return None;
    };
    let month = small(m).filter(|m| (1..=12).contains(m))?;
    let day = small(d).filter(|d| (1..=31).contains(d))?;
    let year = match y.len() {
        2 => {
            let y = u16::from(small(y)?);
            if y >= 70 {
                1900 + y
            } else {
                2000 + y
            }
        }
        4 => u16::try_from(number(y)?).ok()?,
        _ => return None,
    };
    Some((year, month, day))
}

/// `HH:MM` with an optional `AM`/`PM`, attached or given as the next token; returns the time
/// and whether that next token was used.
fn dos_time(bytes: &[u8], next: Option<&[u8]>) -> Option<((u8, u8), bool)> {
    let upper = bytes.to_ascii_uppercase();
    let (clock_part, attached) = match upper.strip_suffix(b"AM") {
        Some(rest) => (rest.to_vec(), Some(false)),
        None => match upper.strip_suffix(b"PM") {
            Some(rest) => (rest.to_vec(), Some(true)),
            None => (upper.clone(), None),
        },
    };
    let (suffix, used_next) = match (attached, next.map(<[u8]>::to_ascii_uppercase)) {
        (Some(pm), _) => (Some(pm), false),
        (None, Some(n)) if n == b"AM" => (Some(false), true),
        (None, Some(n)) if n == b"PM" => (Some(true), true),
        (None, _) => (None, false),
    };
    let (hour, minute) = clock(&clock_part)?;
    let hour = match suffix {
        None => hour,
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
    };
    Some(((hour, minute), used_next))
}

fn parse_dos(line: &[u8], tokens: &[(usize, usize)]) -> Option<ListEntry> {
    let text = |i: usize| tokens.get(i).map(|&(s, e)| &line[s..e]);
    let (year, month, day) = dos_date(text(0)?)?;
    let (time, used_next) = dos_time(text(1)?, text(2))?;
    let at = if used_next { 3 } else { 2 };
    let what = text(at)?;
    let (kind, size) = if what.eq_ignore_ascii_case(b"<DIR>") {
        (EntryKind::Dir, None)
    } else {
        let digits: Vec<u8> = what.iter().copied().filter(|b| *b != b',').collect();
        (EntryKind::File, Some(number(&digits)?))
    };
    // The name starts at the next token: DOS pads the columns with spaces.
    let (name_start, _) = *tokens.get(at + 1)?;
    Some(ListEntry {
        name: FtpPath::new(&line[name_start..]),
        kind,
        size,
        modified: Some(ListTime {
            year: Some(year),
            month,
            day,
            time: Some(time),
        }),
        permissions: None,
        links: None,
        owner: None,
        group: None,
        link_target: None,
        format: ListFormat::Dos,
    })
}
