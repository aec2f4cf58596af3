//! Tests of the MLSD/MLST, FEAT, SIZE and MDTM parsers.

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

    let file =
        parse_mlsx_line(b"Type=file;Size=0;unique=A1; name with  spaces;and;semicolons").unwrap();
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
}

// Found by the `feat` fuzz target: a lone `*` (or `;;`) names no fact.
#[test]
fn mlst_facts_skip_empty_names() {
    let reply = Reply::from_lines(
        211,
        vec![
            b"211-Features:".to_vec(),
            b" MLST *;size*; ;Type;".to_vec(),
            b"211 End".to_vec(),
        ],
    );
    assert_eq!(
        Features::parse(&reply).mlst_facts(),
        [("size".to_owned(), true), ("type".to_owned(), false)]
    );
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

// EXT-03: typed facts, unknown facts kept as raw pairs.
#[test]
fn entry_getters() {
    let entry = parse_mlst_line(
        b" type=file;size=4161;Modify=19970214165800;perm=rw;Unique=A1;UNIX.mode=0644;x.desc=d; dir/f",
    )
    .unwrap();
    assert_eq!(
        entry.modify_time().unwrap().to_string(),
        "1997-02-14T16:58:00.000Z"
    );
    assert_eq!(entry.create_time(), None);
    assert_eq!(entry.perm(), Some("rw"));
    assert_eq!(entry.has_perm('r'), Some(true));
    assert_eq!(entry.has_perm('W'), Some(true));
    assert_eq!(entry.has_perm('d'), Some(false));
    assert_eq!(entry.unique(), Some("A1"));
    assert_eq!(
        entry.other_facts().collect::<Vec<_>>(),
        [("unix.mode", "0644"), ("x.desc", "d")]
    );
    assert!(!entry.is_self_or_parent());
    let bare = parse_mlsx_line(b" f").unwrap();
    assert_eq!(bare.has_perm('r'), None);
    assert_eq!(bare.modify_time(), None);
    let bad_time = parse_mlsx_line(b"modify=2023;create=20240101000000; f").unwrap();
    assert_eq!(bad_time.modify_time(), None);
    assert_eq!(
        bad_time.create_time().map(|t| t.to_string()).as_deref(),
        Some("2024-01-01T00:00:00.000Z")
    );
    assert!(parse_mlsx_line(b"type=cdir; .")
        .unwrap()
        .is_self_or_parent());
    assert!(parse_mlsx_line(b"type=PDIR; ..")
        .unwrap()
        .is_self_or_parent());
}

// EXT-03: a malformed entry does not abort the listing.
#[test]
fn mlsd_listing_keeps_going() {
    let desc = "a".repeat(10 * 1024);
    let data = format!(
        "type=cdir;modify=20240101000000; .\r\nType=file;Size=0;unique=A1; name with  spaces;and;semicolons\r\n\
         no-facts-no-space\r\n onlyname\n\r\ntype=file;size=12;x.desc={desc}; long\r\n"
    );
    let entries = parse_mlsd(data.as_bytes());
    assert_eq!(entries.len(), 5);
    assert_eq!(
        entries[0].as_ref().unwrap().kind(),
        Some(EntryKind::CurrentDir)
    );
    assert_eq!(
        entries[1].as_ref().unwrap().name.as_bytes(),
        b"name with  spaces;and;semicolons"
    );
    assert_eq!(entries[2], Err(ListingError::NoSeparator));
    assert_eq!(entries[3].as_ref().unwrap().name.as_bytes(), b"onlyname");
    assert_eq!(
        entries[4].as_ref().unwrap().fact("x.desc"),
        Some(desc.as_str())
    );
    assert!(parse_mlsd(b"").is_empty());
}

/// Only a line terminator is removed: a CR with no LF after it belongs to the name, so an MLSD
/// line ending in CR CR LF names `x\r` (found by the `listing` fuzz target: the name used to
/// lose its CR, and with it the link to its line).
#[test]
fn a_cr_before_the_line_end_stays_in_the_name() {
    assert_eq!(
        parse_mlsx_line(b"type=file; x\r\n")
            .unwrap()
            .name
            .as_bytes(),
        b"x"
    );
    assert_eq!(
        parse_mlsx_line(b"type=file; x\n").unwrap().name.as_bytes(),
        b"x"
    );
    assert_eq!(
        parse_mlsx_line(b"type=file; x\r").unwrap().name.as_bytes(),
        b"x\r"
    );
    let entries = parse_mlsd(b"type=file; x\r\r\ntype=file; y\r\n");
    let names: Vec<&[u8]> = entries
        .iter()
        .map(|e| e.as_ref().unwrap().name.as_bytes())
        .collect();
    assert_eq!(names, [&b"x\r"[..], b"y"]);
}
