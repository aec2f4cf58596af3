//! `reply`: the reply parser (SCENARIOS BAD-06, REPLY-04).
//!
//! Input: the first byte picks the limits (bit 7: small ones) and the size of the reads (bits
//! 0-5, 1 to 64 bytes); the rest is what the server sends. Oracle: replies have a code in
//! 100..=599 and stay within the limits; after each read only the partial line is kept, and it
//! is bounded; an error poisons the parser (the same error again, nothing kept); and the
//! replies and errors are the same whether the bytes come in one read or in many.

use ftps_core::reply::{Reply, ReplyError, ReplyLimits, ReplyParser};

/// Runs one input; panics if the oracle fails.
pub fn run(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let limits = if selector & 0x80 != 0 {
        ReplyLimits::new(24, 4, 96)
    } else {
        ReplyLimits::default()
    };
    let read_size = usize::from(selector & 0x3f) + 1;
    let whole = parse(limits, &[input]);
    let pieces: Vec<&[u8]> = input.chunks(read_size).collect();
    assert_eq!(parse(limits, &pieces), whole);
}

/// Feeds `chunks` one by one, draining the parser after each, and checks its invariants.
pub fn parse(limits: ReplyLimits, chunks: &[&[u8]]) -> Vec<Result<Reply, ReplyError>> {
    let mut parser = ReplyParser::new(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk);
        loop {
            match parser.next_reply() {
                Ok(Some(reply)) => {
                    assert!((100..600).contains(&reply.code()));
                    assert!(reply.lines().len() <= limits.max_lines.max(1));
                    assert!(reply.lines().iter().all(|l| l.len() <= limits.max_line));
                    assert!(reply.to_string().chars().count() <= 3 + 1 + 200 + 3);
                    out.push(Ok(reply));
                }
                Ok(None) => {
                    assert_eq!(parser.buffered(), parser.partial_line());
                    assert!(parser.partial_line().len() <= limits.max_line + 2);
                    break;
                }
                Err(e) => {
                    assert_eq!(parser.next_reply(), Err(e.clone()));
                    assert!(parser.buffered().is_empty());
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}
