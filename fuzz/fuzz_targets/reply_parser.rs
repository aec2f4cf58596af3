//! Fuzzes `ftps_core::reply::ReplyParser` (SCENARIOS BAD-06): any byte sequence gives replies or
//! a typed error, never a panic, in bounded memory, and the way the bytes are split into reads
//! does not change the result.
//!
//! The first input byte picks the limits (bit 7) and the size of the reads (bits 0-5); the rest
//! is what the server sends.
#![no_main]

use ftps_core::reply::{Reply, ReplyError, ReplyLimits, ReplyParser};
use libfuzzer_sys::fuzz_target;

/// Feeds `chunks` one by one, draining the parser after each, and checks its invariants.
fn run(limits: ReplyLimits, chunks: &[&[u8]]) -> Vec<Result<Reply, ReplyError>> {
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
                    // Every complete line was consumed; only the partial line is kept, and it
                    // is bounded.
                    assert_eq!(parser.buffered(), parser.partial_line());
                    assert!(parser.partial_line().len() <= limits.max_line + 2);
                    break;
                }
                Err(e) => {
                    // Poisoned: the same error again, and nothing kept.
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

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let limits = if selector & 0x80 != 0 {
        ReplyLimits::new(24, 4, 96)
    } else {
        ReplyLimits::default()
    };
    let read_size = usize::from(selector & 0x3f) + 1;
    let whole = run(limits, &[input]);
    let pieces: Vec<&[u8]> = input.chunks(read_size).collect();
    assert_eq!(run(limits, &pieces), whole);
});
