//! `listing`: MLSD and MLST facts, and LIST lines in the Unix and DOS formats.
//!
//! Input: the first byte picks the parser (MLSD data, one MLST entry line, or LIST data); the
//! rest is what the server sent. Oracle: one result per non-empty line, each the same as
//! parsing that line alone; a parsed name is not empty, holds no line break, and is the end of
//! its line (MLSD) or a part of it (LIST); fact names are lower case; dates and times are in
//! range; and a name a hostile server gives can never be sent back as a command with a CR, LF
//! or NUL in it: the command built from it is refused instead.

use ftps_core::command::Command;
use ftps_core::listing::list::{parse_list, parse_list_line, ListLine};
use ftps_core::listing::{parse_mlsd, parse_mlst_line, parse_mlsx_line, Entry};
use ftps_core::path::FtpPath;

use crate::has_line_break_or_nul;

/// Runs one input; panics if the oracle fails.
pub fn run(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => mlsd(input),
        1 => {
            // An MLST entry is one line of a reply: the reply parser never leaves a LF in it.
            let line = input.split(|b| *b == b'\n').next().unwrap_or_default();
            if let Ok(entry) = parse_mlst_line(line) {
                check_entry(&entry);
            }
        }
        _ => list(input),
    }
}

/// The lines the parsers split the data into: LF or CR LF ends a line; empty lines are skipped.
fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect()
}

fn mlsd(data: &[u8]) {
    let entries = parse_mlsd(data);
    let lines = lines(data);
    assert_eq!(entries.len(), lines.len());
    for (entry, line) in entries.iter().zip(lines) {
        assert_eq!(entry, &parse_mlsx_line(line));
        if let Ok(entry) = entry {
            assert!(line.ends_with(entry.name.as_bytes()));
            check_entry(entry);
        }
    }
}

fn check_entry(entry: &Entry) {
    check_name(&entry.name);
    for (name, _) in &entry.facts {
        assert!(!name.is_empty());
        assert_eq!(name, &name.to_ascii_lowercase());
    }
}

fn list(data: &[u8]) {
    let parsed = parse_list(data);
    let lines = lines(data);
    assert_eq!(parsed.len(), lines.len());
    for (line, text) in parsed.iter().zip(lines) {
        assert_eq!(line, &parse_list_line(text));
        match line {
            ListLine::Entry(entry) => {
                check_name(&entry.name);
                assert!(contains(text, entry.name.as_bytes()));
                if let Some(target) = &entry.link_target {
                    assert!(!has_line_break_or_nul(target.as_bytes()) || refused(target));
                }
                if let Some(time) = entry.modified {
                    assert!((1..=12).contains(&time.month));
                    assert!((1..=31).contains(&time.day));
                    if let Some((hour, minute)) = time.time {
                        assert!(hour < 24 && minute < 60);
                    }
                }
            }
            ListLine::Unparsed(bytes) => assert_eq!(bytes.as_slice(), text),
            _ => {}
        }
    }
}

/// A listed name: not empty, no LF (lines end there), and unusable in a command if it holds a
/// CR or NUL.
fn check_name(name: &FtpPath) {
    let bytes = name.as_bytes();
    assert!(!bytes.is_empty());
    assert!(!bytes.contains(&b'\n'));
    if has_line_break_or_nul(bytes) {
        assert!(refused(name));
    } else {
        let mut out = Vec::new();
        Command::Retr(bytes.to_vec()).encode(&mut out).unwrap();
        assert_eq!(out.len(), "RETR ".len() + bytes.len() + 2);
        assert!(!has_line_break_or_nul(&out[..out.len() - 2]));
    }
}

/// Whether a RETR of this name is refused before anything is encoded.
fn refused(name: &FtpPath) -> bool {
    let mut out = Vec::new();
    Command::Retr(name.as_bytes().to_vec())
        .encode(&mut out)
        .is_err()
        && out.is_empty()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
