use proptest::prelude::*;
use rstest::rstest;

use super::*;

/// Feeds `input` in one piece and collects every result until `Ok(None)` or an error.
fn parse_all(limits: ReplyLimits, input: &[u8]) -> Vec<Result<Reply, ReplyError>> {
    parse_chunks(limits, &[input])
}

/// Feeds `chunks` one by one, draining the parser after each, and collects every result.
fn parse_chunks(limits: ReplyLimits, chunks: &[&[u8]]) -> Vec<Result<Reply, ReplyError>> {
    let mut parser = ReplyParser::new(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk);
        loop {
            match parser.next_reply() {
                Ok(Some(r)) => out.push(Ok(r)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

/// The single reply in `input`, which must be complete.
fn one(input: &[u8]) -> Reply {
    let mut results = parse_all(ReplyLimits::default(), input);
    assert_eq!(results.len(), 1, "{results:?}");
    results.remove(0).expect("a reply")
}

fn lines(reply: &Reply) -> Vec<&[u8]> {
    reply.lines().iter().map(Vec::as_slice).collect()
}

fn err(input: &[u8]) -> ReplyError {
    let results = parse_all(ReplyLimits::default(), input);
    match results.as_slice() {
        [Err(e)] => e.clone(),
        other => panic!("expected one error, got {other:?}"),
    }
}

// REPLY-01
#[rstest]
#[case(b"299 Done\r\n", 299, ReplyClass::Completion, "Done")]
#[case(b"599 Nope\r\n", 599, ReplyClass::PermanentNegative, "Nope")]
#[case(
    b"250 Transfer complete\r\n",
    250,
    ReplyClass::Completion,
    "Transfer complete"
)]
#[case(b"150 Opening\r\n", 150, ReplyClass::Preliminary, "Opening")]
#[case(b"331 Password\r\n", 331, ReplyClass::Intermediate, "Password")]
#[case(b"421 Bye\r\n", 421, ReplyClass::TransientNegative, "Bye")]
fn single_line_and_class(
    #[case] input: &[u8],
    #[case] code: u16,
    #[case] class: ReplyClass,
    #[case] text: &str,
) {
    let reply = one(input);
    assert_eq!(reply.code(), code);
    assert_eq!(reply.class(), class);
    assert_eq!(reply.text(), text);
    assert_eq!(reply.first_line(), text);
    assert_eq!(reply.is_preliminary(), class == ReplyClass::Preliminary);
    assert_eq!(reply.is_completion(), class == ReplyClass::Completion);
    assert_eq!(reply.is_intermediate(), class == ReplyClass::Intermediate);
    assert_eq!(
        reply.is_negative(),
        matches!(
            class,
            ReplyClass::TransientNegative | ReplyClass::PermanentNegative
        )
    );
    assert!(!reply.truncated());
}

// REPLY-02, the example of RFC 959 §4.2
#[test]
fn rfc959_multi_line_example() {
    let reply = one(
        b"123-First line\r\nSecond line\r\n  234 A line beginning with numbers\r\n123 The last line\r\n",
    );
    assert_eq!(reply.code(), 123);
    assert_eq!(
        lines(&reply),
        [
            &b"First line"[..],
            b"Second line",
            b"  234 A line beginning with numbers",
            b"The last line"
        ]
    );
}

// REPLY-02, the scenario's six lines
#[test]
fn multi_line_with_digit_lines() {
    let input = b"211-First line\r\nSecond line\r\n  234 A line beginning with numbers\r\n\
234 unpadded line with another code\r\n211-line with the same code and a hyphen\r\n\
211 The last line\r\n";
    let reply = one(input);
    assert_eq!(reply.code(), 211);
    assert_eq!(
        lines(&reply),
        [
            &b"First line"[..],
            b"Second line",
            b"  234 A line beginning with numbers",
            b"234 unpadded line with another code",
            b"211-line with the same code and a hyphen",
            b"The last line",
        ]
    );
    assert_eq!(
        reply.text(),
        "First line\nSecond line\n  234 A line beginning with numbers\n\
234 unpadded line with another code\n211-line with the same code and a hyphen\nThe last line"
    );
}

#[test]
fn terminator_needs_the_same_code_and_a_space_or_eol() {
    // `2110` and `211x` do not end the reply; a bare `211` does.
    let reply = one(b"211-a\r\n2110 no\r\n211x no\r\n211\r\n");
    assert_eq!(lines(&reply), [&b"a"[..], b"2110 no", b"211x no", b""]);
}

// REPLY-03
#[rstest]
#[case::proftpd_style(b"220-Welcome\r\n220-to\r\n220 ready\r\n", &[&b"Welcome"[..], b"220-to", b"ready"])]
#[case::indented(b"220-Welcome\r\n to\r\n220 ready\r\n", &[&b"Welcome"[..], b" to", b"ready"])]
#[case::empty_texts(b"220-\r\n220-\r\n220 \r\n", &[&b""[..], b"220-", b""])]
fn greeting_styles(#[case] input: &[u8], #[case] expected: &[&[u8]]) {
    let reply = one(input);
    assert_eq!(reply.code(), 220);
    assert_eq!(lines(&reply), expected);
}

#[test]
fn forty_line_banner_then_the_auth_reply() {
    let mut input = b"220-Banner start\r\n".to_vec();
    for i in 0..38 {
        input.extend_from_slice(format!("220-line {i}\r\n").as_bytes());
    }
    input.extend_from_slice(b"220 ready\r\n234 AUTH TLS ok\r\n");
    let results = parse_all(ReplyLimits::default(), &input);
    assert_eq!(results.len(), 2);
    let banner = results[0].as_ref().unwrap();
    assert_eq!(banner.code(), 220);
    assert_eq!(banner.lines().len(), 40);
    assert_eq!(banner.lines()[39], b"ready");
    assert_eq!(
        results[1].as_ref().unwrap(),
        &Reply::new(234, "AUTH TLS ok")
    );
}

// REPLY-04
#[test]
fn one_byte_at_a_time() {
    let input: &[u8] = b"220-Welcome\r\n to\r\n220 ready\r\n331 Password\r\n";
    let chunks: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        parse_chunks(ReplyLimits::default(), &chunks),
        parse_all(ReplyLimits::default(), input)
    );
    assert_eq!(parse_chunks(ReplyLimits::default(), &chunks).len(), 2);
}

#[test]
fn cr_and_lf_in_different_reads() {
    let mut parser = ReplyParser::default();
    parser.feed(b"200 OK\r");
    assert_eq!(parser.next_reply(), Ok(None));
    assert_eq!(parser.partial_line(), b"200 OK\r");
    parser.feed(b"\n");
    assert_eq!(parser.next_reply(), Ok(Some(Reply::new(200, "OK"))));
    assert!(!parser.has_pending());
}

#[test]
fn code_split_across_reads() {
    let mut parser = ReplyParser::default();
    parser.feed(b"22");
    assert_eq!(parser.next_reply(), Ok(None));
    parser.feed(b"0 ready\r\n");
    assert_eq!(parser.next_reply(), Ok(Some(Reply::new(220, "ready"))));
}

// REPLY-05
#[rstest]
#[case(b"120 Wait\r\n220 Ready\r\n", 120, 220)]
#[case(b"150 Opening\r\n226 Done\r\n", 150, 226)]
#[case(b"226 Transfer done\r\n226 ABOR ok\r\n", 226, 226)]
fn several_replies_in_one_read(#[case] input: &[u8], #[case] first: u16, #[case] second: u16) {
    let mut parser = ReplyParser::default();
    parser.feed(input);
    assert_eq!(parser.next_reply().unwrap().unwrap().code(), first);
    // The second reply is still there, byte for byte.
    let rest = &input[input.iter().position(|&b| b == b'\n').unwrap() + 1..];
    assert_eq!(parser.buffered(), rest);
    assert!(parser.has_pending());
    assert_eq!(parser.next_reply().unwrap().unwrap().code(), second);
    assert_eq!(parser.next_reply(), Ok(None));
    assert!(!parser.has_pending());
    assert_eq!(parser.buffered(), b"");
}

#[test]
fn bytes_after_a_234_stay_buffered() {
    let mut parser = ReplyParser::default();
    parser.feed(b"234 AUTH TLS ok\r\n\x16\x03\x01\x02");
    assert_eq!(parser.next_reply().unwrap().unwrap().code(), 234);
    assert_eq!(parser.buffered(), b"\x16\x03\x01\x02");
}

// REPLY-06
#[test]
fn greeting_variants() {
    let results = parse_all(
        ReplyLimits::default(),
        b"120 Service ready in 1 minutes\r\n220 ready\r\n",
    );
    let codes: Vec<u16> = results.iter().map(|r| r.as_ref().unwrap().code()).collect();
    assert_eq!(codes, [120, 220]);
    assert_eq!(one(b"421 Too many connections\r\n").code(), 421);
    let utf8 = one("220 Grüß Gott, 日本\r\n".as_bytes());
    assert_eq!(utf8.text(), "Grüß Gott, 日本");
}

// REPLY-07
#[test]
fn utf8_text() {
    let reply = one("257 \"/Übergröße/日本\" is the current directory\r\n".as_bytes());
    assert_eq!(reply.code(), 257);
    assert_eq!(
        reply.first_line(),
        "\"/Übergröße/日本\" is the current directory"
    );
}

// REPLY-08
#[test]
fn non_utf8_bytes_are_kept_raw() {
    let reply = one(b"257 \"/caf\xE9\"\r\n");
    assert_eq!(lines(&reply), [&b"\"/caf\xE9\""[..]]);
    assert_eq!(reply.text(), "\"/caf\u{FFFD}\"");
    let reply = one(b"550 \xFF\xFE junk\r\n");
    assert_eq!(reply.code(), 550);
    assert_eq!(lines(&reply), [&b"\xFF\xFE junk"[..]]);
    assert_eq!(reply.text(), "\u{FFFD}\u{FFFD} junk");
}

// REPLY-09 a)
#[test]
fn excess_lines_are_dropped_and_the_parser_stays_in_sync() {
    let limits = ReplyLimits::new(4096, 1000, 1024 * 1024);
    let mut input = b"211-start\r\n".to_vec();
    for i in 1..4999 {
        input.extend_from_slice(format!(" line {i}\r\n").as_bytes());
    }
    input.extend_from_slice(b"211 End\r\n200 next\r\n");
    let results = parse_all(limits, &input);
    assert_eq!(results.len(), 2, "{:?}", results.get(2));
    let big = results[0].as_ref().unwrap();
    assert_eq!(big.code(), 211);
    assert!(big.truncated());
    assert_eq!(big.lines().len(), 1000);
    assert_eq!(big.lines()[0], b"start");
    assert_eq!(big.lines()[999], b" line 999");
    assert_eq!(results[1], Ok(Reply::new(200, "next")));
}

// REPLY-09 b)
#[test]
fn a_line_over_the_limit() {
    let limits = ReplyLimits::new(4096, 1000, 1024 * 1024);
    let mut input = b"200 ".to_vec();
    input.resize(8192, b'x');
    input.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_all(limits, &input),
        [Err(ReplyError::LineTooLong { limit: 4096 })]
    );
}

#[test]
fn a_line_of_exactly_the_limit_is_accepted() {
    let limits = ReplyLimits::new(10, 10, 1000);
    assert_eq!(
        parse_all(limits, b"200 abcdef\r\n"),
        [Ok(Reply::new(200, "abcdef"))]
    );
    assert_eq!(
        parse_all(limits, b"200 abcdefg\r\n"),
        [Err(ReplyError::LineTooLong { limit: 10 })]
    );
    // Split just before the LF: the CR does not count.
    assert_eq!(
        parse_chunks(limits, &[b"200 abcdef\r", b"\n"]),
        [Ok(Reply::new(200, "abcdef"))]
    );
}

// REPLY-09 c), BAD-04
#[test]
fn endless_multi_line_reply_is_too_large() {
    let limits = ReplyLimits::new(4096, 1000, 1024 * 1024);
    let mut parser = ReplyParser::new(limits);
    parser.feed(b"211-start\r\n");
    assert_eq!(parser.next_reply(), Ok(None));
    let line = b"211-more lines to fill the buffer forever and ever\r\n".repeat(100);
    let mut fed = 0usize;
    let error = loop {
        parser.feed(&line);
        fed += line.len();
        assert!(parser.buffered().len() <= line.len());
        match parser.next_reply() {
            Ok(None) => {}
            Ok(Some(r)) => panic!("unexpected reply {r:?}"),
            Err(e) => break e,
        }
        assert!(fed < 2 * 1024 * 1024, "no error after {fed} bytes");
    };
    assert_eq!(error, ReplyError::TooLarge { limit: 1024 * 1024 });
    assert!(fed > 1024 * 1024 - line.len());
}

// BAD-05
#[test]
fn endless_line_fails_after_max_line_bytes() {
    let mut parser = ReplyParser::default();
    let chunk = vec![b'7'; 1024 * 1024];
    parser.feed(b"200 ");
    parser.feed(&chunk);
    // Memory stays bounded even before next_reply is called.
    assert!(parser.buffered().len() <= 8192 + 2);
    parser.feed(&chunk);
    assert!(parser.buffered().len() <= 8192 + 2);
    assert_eq!(
        parser.next_reply(),
        Err(ReplyError::LineTooLong { limit: 8192 })
    );
}

#[test]
fn long_partial_line_fails_without_its_end() {
    let limits = ReplyLimits::new(16, 10, 1000);
    let mut parser = ReplyParser::new(limits);
    parser.feed(b"200 0123456789ab");
    assert_eq!(parser.next_reply(), Ok(None));
    parser.feed(b"c");
    assert_eq!(
        parser.next_reply(),
        Err(ReplyError::LineTooLong { limit: 16 })
    );
}

#[test]
fn a_reply_over_the_byte_limit_with_short_lines() {
    let limits = ReplyLimits::new(100, 100, 30);
    assert_eq!(
        parse_all(limits, b"211-0123456789\r\n0123456789\r\n211 end\r\n"),
        [Err(ReplyError::TooLarge { limit: 30 })]
    );
    // Exactly at the limit is fine.
    let reply = b"211-abc\r\n0123456789\r\n211 end\r\n";
    let limits = ReplyLimits::new(100, 100, reply.len());
    assert_eq!(parse_all(limits, reply).len(), 1);
    assert!(parse_all(limits, reply)[0].is_ok());
}

#[test]
fn too_large_is_detected_on_a_partial_line() {
    let limits = ReplyLimits::new(100, 100, 30);
    let mut parser = ReplyParser::new(limits);
    parser.feed(b"211-0123456789\r\n012345678901");
    assert_eq!(parser.next_reply(), Ok(None));
    parser.feed(b"2345");
    assert_eq!(parser.next_reply(), Err(ReplyError::TooLarge { limit: 30 }));
}

#[test]
fn the_limit_crossed_first_wins_whatever_the_split() {
    // Found by the fuzz target: the reply limit is crossed at the 4th byte of the line, the
    // line limit only at the 11th.
    let limits = ReplyLimits::new(10, 100, 12);
    let input: &[u8] = b"211-abc\r\n0123456789ABC\r\n";
    let expected = [Err(ReplyError::TooLarge { limit: 12 })];
    assert_eq!(parse_all(limits, input), expected);
    assert_eq!(
        parse_chunks(limits, &[&input[..13], &input[13..]]),
        expected
    );
    // The other way round: the line limit is crossed first.
    let limits = ReplyLimits::new(4, 100, 20);
    let input: &[u8] = b"211-\r\n0123456789ABCDEFGH\r\n";
    let expected = [Err(ReplyError::LineTooLong { limit: 4 })];
    assert_eq!(parse_all(limits, input), expected);
    assert_eq!(
        parse_chunks(limits, &[&input[..12], &input[12..]]),
        expected
    );
}

// REPLY-10
#[rstest]
#[case::bare_lf(b"200 OK\n", 200, "OK")]
#[case::no_text(b"226\r\n", 226, "")]
#[case::no_text_bare_lf(b"226\n", 226, "")]
#[case::lone_cr(b"200 a\rb\r\n", 200, "a\rb")]
#[case::space_only(b"200 \r\n", 200, "")]
fn line_end_leniency(#[case] input: &[u8], #[case] code: u16, #[case] text: &str) {
    let reply = one(input);
    assert_eq!(reply.code(), code);
    assert_eq!(reply.text(), text);
    assert_eq!(reply.lines().len(), 1);
}

#[rstest]
#[case(b"200 OK")]
#[case(b"200 OK\r")]
fn connection_closed_mid_line(#[case] input: &[u8]) {
    let mut parser = ReplyParser::default();
    parser.feed(input);
    assert_eq!(parser.next_reply(), Ok(None));
    assert!(parser.has_pending());
    assert_eq!(parser.partial_line(), input);
    assert_eq!(parser.buffered(), input);
}

#[test]
fn unfinished_multi_line_reply_is_pending() {
    let mut parser = ReplyParser::default();
    parser.feed(b"211-start\r\n more\r\n");
    assert_eq!(parser.next_reply(), Ok(None));
    assert!(parser.has_pending());
    assert_eq!(parser.partial_line(), b"");
    assert_eq!(parser.buffered(), b"");
}

// REPLY-11, BAD-06
#[rstest]
#[case(b"20 OK\r\n")]
#[case(b"2000 OK\r\n")]
#[case(b"2x0 OK\r\n")]
#[case(b"abc OK\r\n")]
#[case(b"600 x\r\n")]
#[case(b"000 x\r\n")]
#[case(b" 200 OK\r\n")]
#[case(b"200\tOK\r\n")]
#[case(b"\r\n")]
#[case(b"20\r\n")]
#[case(b"630 x\r\n")]
#[case(b"634 x\r\n")]
#[case(b"\xFF\xFB\x01200 OK\r\n")]
fn malformed_first_lines(#[case] input: &[u8]) {
    let line = &input[..input.len() - 2];
    let expected: String = String::from_utf8_lossy(line).chars().take(60).collect();
    assert_eq!(err(input), ReplyError::Malformed { excerpt: expected });
}

#[test]
fn malformed_excerpt_is_cut_at_60_chars() {
    let mut input = vec![b'z'; 100];
    input.extend_from_slice(b"\r\n");
    assert_eq!(
        err(&input),
        ReplyError::Malformed {
            excerpt: "z".repeat(60)
        }
    );
}

#[rstest]
#[case(b"631 base64stuff\r\n", 631)]
#[case(b"632 base64stuff\r\n", 632)]
#[case(b"633-base64stuff\r\n", 633)]
fn protected_replies(#[case] input: &[u8], #[case] code: u16) {
    assert_eq!(err(input), ReplyError::ProtectedReply { code });
}

// BAD-20
#[test]
fn iac_at_the_start_of_a_middle_line_is_malformed() {
    assert_eq!(
        err(b"211-start\r\n\xFF\xFD\x18 x\r\n211 end\r\n"),
        ReplyError::Malformed {
            excerpt: "\u{FFFD}\u{FFFD}\u{18} x".into()
        }
    );
}

#[test]
fn iac_inside_text_is_text() {
    let reply = one(b"211-a \xFF\xFB\x01\r\n x\xFF\r\n211 b\xFF\r\n");
    assert_eq!(lines(&reply), [&b"a \xFF\xFB\x01"[..], b" x\xFF", b"b\xFF"]);
}

#[test]
fn errors_poison_the_parser() {
    let mut parser = ReplyParser::default();
    parser.feed(b"200 fine\r\nabc bad\r\n200 later\r\n");
    assert_eq!(parser.next_reply(), Ok(Some(Reply::new(200, "fine"))));
    let error = parser.next_reply().unwrap_err();
    assert!(matches!(error, ReplyError::Malformed { .. }));
    assert_eq!(parser.next_reply(), Err(error.clone()));
    parser.feed(b"200 more\r\n");
    assert_eq!(parser.next_reply(), Err(error));
    assert_eq!(parser.buffered(), b"");
    assert!(!parser.has_pending());
}

#[test]
fn error_messages() {
    assert_eq!(
        ReplyError::LineTooLong { limit: 8 }.to_string(),
        "reply line longer than 8 bytes"
    );
    assert_eq!(
        ReplyError::Malformed {
            excerpt: "a\u{1b}b".into()
        }
        .to_string(),
        "malformed reply line \"a\\u{1b}b\""
    );
    assert_eq!(
        ReplyError::ProtectedReply { code: 631 }.to_string(),
        "protected reply 631 is not supported"
    );
}

#[test]
fn display_is_short_and_escaped() {
    assert_eq!(
        Reply::new(226, "Transfer complete").to_string(),
        "226 Transfer complete"
    );
    assert_eq!(Reply::new(226, "").to_string(), "226");
    assert_eq!(
        Reply::new(550, "a\u{1b}[31mb").to_string(),
        "550 a\\u{1b}[31mb"
    );
    let long = Reply::new(550, &"é".repeat(500)).to_string();
    assert_eq!(long, format!("550 {}...", "é".repeat(200)));
    let controls = Reply::new(550, &"\0".repeat(100)).to_string();
    assert_eq!(controls, format!("550 {}...", "\\u{0}".repeat(40)));
    let multi = Reply::from_lines(211, vec![b"first".to_vec(), b"second".to_vec()]);
    assert_eq!(multi.to_string(), "211 first");
    assert_eq!(multi.text(), "first\nsecond");
}

#[test]
fn debug_shows_text() {
    let debug = format!("{:?}", Reply::new(200, "OK"));
    assert_eq!(
        debug,
        "Reply { code: 200, lines: [\"OK\"], truncated: false }"
    );
}

#[test]
fn empty_reply_lines() {
    let reply = Reply::from_lines(200, Vec::new());
    assert_eq!(reply.first_line(), "");
    assert_eq!(reply.text(), "");
    assert_eq!(reply.to_string(), "200");
}

#[test]
fn zero_max_lines_keeps_one_line() {
    let limits = ReplyLimits::new(100, 0, 1000);
    let results = parse_all(limits, b"211-a\r\n b\r\n211 c\r\n");
    let reply = results[0].as_ref().unwrap();
    assert_eq!(lines(reply), [&b"a"[..]]);
    assert!(reply.truncated());
}

/// Inputs made of plausible lines, so multi-line replies and limits are exercised often.
fn reply_stream() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just(b"211-start".to_vec()),
        Just(b"211 end".to_vec()),
        Just(b"211".to_vec()),
        Just(b"220-x".to_vec()),
        Just(b"220 y".to_vec()),
        Just(b" 211 padded".to_vec()),
        Just(b"200 OK".to_vec()),
        Just(b"631 p".to_vec()),
        Just(b"\xFFx".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    let end = prop_oneof![Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"\r"[..])];
    proptest::collection::vec((line, end), 0..30).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(mut l, e)| {
                l.extend_from_slice(e);
                l
            })
            .collect()
    })
}

proptest! {
    // REPLY-04: splitting the input anywhere gives the same replies and errors.
    #[test]
    fn splits_do_not_matter(
        input in reply_stream(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        small in proptest::option::of((4usize..24, 0usize..5, 8usize..90)),
    ) {
        let limits = match small {
            Some((line, lines, bytes)) => ReplyLimits::new(line, lines, bytes),
            None => ReplyLimits::default(),
        };
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&input[last..p]);
            last = p;
        }
        chunks.push(&input[last..]);
        let whole = parse_all(limits, &input);
        prop_assert_eq!(parse_chunks(limits, &chunks), whole.clone());
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(parse_chunks(limits, &bytes), whole);
    }

    // BAD-06: arbitrary bytes never panic, and the buffer stays bounded.
    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20),
    ) {
        let limits = ReplyLimits::new(64, 4, 256);
        let mut parser = ReplyParser::new(limits);
        for chunk in &chunks {
            parser.feed(chunk);
            prop_assert!(parser.buffered().len() <= chunk.len() + 66);
            loop {
                match parser.next_reply() {
                    Ok(Some(reply)) => {
                        prop_assert!((100..600).contains(&reply.code()));
                        prop_assert!(reply.lines().len() <= 4);
                        prop_assert!(reply.to_string().chars().count() <= 4 + 200 + 3);
                    }
                    Ok(None) => {
                        // Every complete line has been consumed.
                        prop_assert_eq!(parser.buffered(), parser.partial_line());
                        break;
                    }
                    Err(_) => {
                        prop_assert_eq!(parser.buffered(), b"");
                        break;
                    }
                }
            }
            prop_assert!(parser.partial_line().len() <= 66);
        }
    }
}
