//! Tests of the LIST parser: Unix and DOS layouts, and lines kept unparsed.

use rstest::rstest;

use super::*;

fn entry(line: &[u8]) -> ListEntry {
    match parse_list_line(line) {
        ListLine::Entry(e) => e,
        other => panic!(
            "{:?} did not parse: {other:?}",
            String::from_utf8_lossy(line)
        ),
    }
}

fn time(year: Option<u16>, month: u8, day: u8, time: Option<(u8, u8)>) -> Option<ListTime> {
    Some(ListTime {
        year,
        month,
        day,
        time,
    })
}

#[test]
fn unix_file_with_time() {
    let e = entry(b"-rw-r--r--    1 ftp      ftp          1830 Jan 01 12:00 report.csv");
    assert_eq!(e.name.as_bytes(), b"report.csv");
    assert_eq!(e.kind, EntryKind::File);
    assert_eq!(e.size, Some(1830));
    assert_eq!(e.modified, time(None, 1, 1, Some((12, 0))));
    assert_eq!(e.permissions.as_deref(), Some("-rw-r--r--"));
    assert_eq!(e.links, Some(1));
    assert_eq!(e.owner.as_deref(), Some("ftp"));
    assert_eq!(e.group.as_deref(), Some("ftp"));
    assert_eq!(e.link_target, None);
    assert_eq!(e.format, ListFormat::Unix);
}

#[test]
fn unix_directory_with_year_and_spaces_in_the_name() {
    let e = entry(b"drwxr-xr-x   2 alice staff   4096 Dec 31  2023 my  dir; x");
    assert_eq!(e.name.as_bytes(), b"my  dir; x");
    assert_eq!(e.kind, EntryKind::Dir);
    assert_eq!(e.modified, time(Some(2023), 12, 31, None));
    // One space ends the date; further leading spaces belong to the name.
    let e = entry(b"-rw-r--r-- 1 a b 5 Mar  3 09:07  lead");
    assert_eq!(e.name.as_bytes(), b" lead");
    assert_eq!(e.modified, time(None, 3, 3, Some((9, 7))));
}

#[test]
fn unix_symlink_and_special_files() {
    let e = entry(b"lrwxrwxrwx 1 root root 7 Feb 29 2024 bin -> usr/bin");
    assert_eq!(e.kind, EntryKind::Link);
    assert_eq!(e.name.as_bytes(), b"bin");
    assert_eq!(
        e.link_target.as_ref().map(FtpPath::as_bytes),
        Some(&b"usr/bin"[..])
    );
    let e = entry(b"crw-rw-rw- 1 root root 1, 3 Jun  5 10:00 null");
    assert_eq!(e.kind, EntryKind::Other("c".into()));
    assert_eq!(e.size, Some(3));
    assert_eq!(e.owner.as_deref(), Some("root"));
    assert_eq!(e.group.as_deref(), Some("root"));
    // No group column (some servers), an ACL marker, non-UTF-8 name bytes.
    let e = entry(b"-rw-r--r--+ 1 owner 42 aug 7 23:59 caf\xE9");
    assert_eq!(e.owner.as_deref(), Some("owner"));
    assert_eq!(e.group, None);
    assert_eq!(e.size, Some(42));
    assert_eq!(e.name.as_bytes(), b"caf\xE9");
    assert_eq!(e.modified, time(None, 8, 7, Some((23, 59))));
    // No link count.
    let e = entry(b"-rw-------  user group 10 Oct 10 2010 f");
    assert_eq!((e.links, e.owner.as_deref()), (None, Some("user")));
}

#[test]
fn dos_lines() {
    let e = entry(b"01-15-24  03:04PM       <DIR>          Program Files");
    assert_eq!(e.name.as_bytes(), b"Program Files");
    assert_eq!(e.kind, EntryKind::Dir);
    assert_eq!(e.size, None);
    assert_eq!(e.modified, time(Some(2024), 1, 15, Some((15, 4))));
    assert_eq!(e.format, ListFormat::Dos);
    let e = entry(b"12-31-1999  12:00AM             1,234 old.txt");
    assert_eq!(e.size, Some(1234));
    assert_eq!(e.kind, EntryKind::File);
    assert_eq!(e.modified, time(Some(1999), 12, 31, Some((0, 0))));
    let e = entry(b"07-04-76  12:30 PM  5 a b");
    assert_eq!(e.modified, time(Some(1976), 7, 4, Some((12, 30))));
    assert_eq!(e.name.as_bytes(), b"a b");
    let e = entry(b"02-03-2021  17:45  99 plain24h.bin");
    assert_eq!(e.modified, time(Some(2021), 2, 3, Some((17, 45))));
}

#[test]
fn totals_and_whole_listings() {
    assert_eq!(parse_list_line(b"total 0"), ListLine::Total(0));
    assert_eq!(parse_list_line(b"TOTAL 12"), ListLine::Total(12));
    let lines = parse_list(
        b"total 4\r\n-rw-r--r-- 1 u g 3 Jan 1 00:00 a\n\r\nnonsense here\r\n01-01-20  01:00AM  1 b\r\n",
    );
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], ListLine::Total(4));
    assert!(matches!(&lines[1], ListLine::Entry(e) if e.name.as_bytes() == b"a"));
    assert_eq!(lines[2], ListLine::Unparsed(b"nonsense here".to_vec()));
    assert!(matches!(&lines[3], ListLine::Entry(e) if e.format == ListFormat::Dos));
    assert!(parse_list(b"").is_empty());
}

#[rstest]
#[case(b"")]
#[case(b"total")]
#[case(b"total x")]
#[case(b"drwxr-xr-x 2 u g 4096 Jan 1 12:00")] // no name
#[case(b"drwxr-xr-x 2 u g 4096 Jan 1 12:00 ")] // only the separator
#[case(b"drwxr-xr-x 2 u g 4096 Jan 1 12:00\t")] // only the separator
#[case(b"drwxr-xr-x 2 u g 4096 Foo 1 12:00 name")] // no month
#[case(b"drwxr-xr-x 2 u g 4096 Jan 32 12:00 name")] // day 32
#[case(b"drwxr-xr-x 2 u g 4096 Jan 1 24:00 name")] // hour 24
#[case(b"drwxr-xr-x 2 u g 4096 Jan 1 12:60 name")] // minute 60
#[case(b"drwxr-xr-x 2 u g 4096 Jan 1 123 name")] // neither time nor year
#[case(b"drwxr-xr-x 2 u g -1 Jan 1 12:00 name")] // negative size
#[case(b"xrwxr-xr-x 2 u g 1 Jan 1 12:00 name")] // bad type letter
#[case(b"drwxr-xr-q 2 u g 1 Jan 1 12:00 name")] // bad permission letter
#[case(b"13-01-24  03:04PM  <DIR>  x")] // month 13
#[case(b"01-15-24  13:04PM  <DIR>  x")] // 13 PM
#[case(b"01-15-24  03:04PM  <DIR>")] // no name
#[case(b"01-15-241  03:04PM  1 x")] // three-digit year
#[case(b"01-15-24  03:04PM  12a x")] // bad size
#[case(b"250 not a listing")]
fn unparsed(#[case] line: &[u8]) {
    assert_eq!(parse_list_line(line), ListLine::Unparsed(line.to_vec()));
}

proptest::proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
        let _ = parse_list(&bytes);
        let _ = parse_list_line(&bytes);
    }

    #[test]
    fn unix_lines_keep_their_name(name in "[a-zA-Z0-9 ._;-]{1,30}", size in 0u64..1_000_000) {
        let line = format!("-rw-r--r-- 1 u g {size} Jan 1 12:00 {name}");
        let ListLine::Entry(e) = parse_list_line(line.as_bytes()) else {
            panic!("{line:?} did not parse");
        };
        proptest::prop_assert_eq!(e.name.as_bytes(), name.as_bytes());
        proptest::prop_assert_eq!(e.size, Some(size));
    }
}

/// A link's name is never empty: ` -> ` right after the date is part of the name (found by the
/// `listing` fuzz target), and the first arrow with a name before it splits.
#[test]
fn a_link_name_is_never_empty() {
    let e = entry(b"lrwxrwxrwx 1 root root 5 Jan  1  2024  -> x");
    assert_eq!(e.name.as_bytes(), b" -> x");
    assert_eq!(e.link_target, None);
    let e = entry(b"lrwxrwxrwx 1 root root 5 Jan  1  2024 a -> b -> c");
    assert_eq!(e.name.as_bytes(), b"a");
    assert_eq!(
        e.link_target.as_ref().map(FtpPath::as_bytes),
        Some(&b"b -> c"[..])
    );
}
