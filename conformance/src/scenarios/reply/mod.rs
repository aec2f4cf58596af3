//! REPLY-01 … REPLY-12: reading replies end to end, over real sockets (RFC 959 §4.2, RFC 1123
//! §4.1.2.10-11, RFC 2228 §5.2, RFC 3659 §7).
//!
//! The reply parser has its own unit tests in `ftps-core`; these scenarios check that the
//! client, reading from a socket, parses replies however the bytes are cut into reads and TLS
//! records, keeps surplus bytes for the next reply, enforces its limits and never hands a stale
//! or unsolicited reply to a later command. They are grouped as [`lines`] (single-line,
//! multi-line and greeting shapes), [`reads`] (replies cut into reads, or run together),
//! [`text`] (UTF-8 and other bytes) and [`faults`] (limits, line ends, malformed and
//! unsolicited replies).

use std::time::Duration;

use ftps_core::reply::Reply;
use ftps_core::{Client, SecureConnection};

use super::connect_with;
use crate::checks::{ensure_eq, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::TestServer;

mod faults;
mod lines;
mod reads;
mod text;

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "REPLY-01",
            title: "Single-line replies, and decisions by the first digit",
            needs: &[],
            run: lines::reply_01::<C>,
        },
        Scenario {
            id: "REPLY-02",
            title: "A multi-line reply with lines that start with digits",
            needs: &[],
            run: lines::reply_02::<C>,
        },
        Scenario {
            id: "REPLY-03",
            title: "Continuation styles in greetings and FEAT",
            needs: &[],
            run: lines::reply_03::<C>,
        },
        Scenario {
            id: "REPLY-04",
            title: "Reads split anywhere; TLS record boundaries carry no meaning",
            needs: &[],
            run: reads::reply_04::<C>,
        },
        Scenario {
            id: "REPLY-05",
            title: "Several replies in one read",
            needs: &[],
            run: reads::reply_05::<C>,
        },
        Scenario {
            id: "REPLY-06",
            title: "Greeting variants",
            needs: &[],
            run: lines::reply_06::<C>,
        },
        Scenario {
            id: "REPLY-07",
            title: "UTF-8 text and quoted paths",
            needs: &[],
            run: text::reply_07::<C>,
        },
        Scenario {
            id: "REPLY-08",
            title: "Bytes that are not UTF-8",
            needs: &[],
            run: text::reply_08::<C>,
        },
        Scenario {
            id: "REPLY-09",
            title: "Limits on line length and on the number of lines",
            needs: &[],
            run: faults::reply_09::<C>,
        },
        Scenario {
            id: "REPLY-10",
            title: "Line-end leniency, and a missing CRLF",
            needs: &[],
            run: faults::reply_10::<C>,
        },
        Scenario {
            id: "REPLY-11",
            title: "Malformed codes, and protected (63z) replies",
            needs: &[],
            run: faults::reply_11::<C>,
        },
        Scenario {
            id: "REPLY-12",
            title: "An unsolicited reply while idle",
            needs: &[],
            run: faults::reply_12::<C>,
        },
    ]
}

// ---- shared pieces ---------------------------------------------------------------------------

/// Sleeps `ms` milliseconds inside a script.
fn pause(ms: u64) -> Check {
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

/// `line` with CRLF.
fn crlf(line: &str) -> Vec<u8> {
    let mut v = line.as_bytes().to_vec();
    v.extend_from_slice(b"\r\n");
    v
}

/// The multi-line `211` reply of RFC 959 §4.2's example (REPLY-02), and its six lines as
/// [`Reply::lines`] gives them.
const STAT_211: &[u8] = b"211-First line\r\n\
Second line\r\n  234 A line beginning with numbers\r\n\
234 unpadded line with another code\r\n\
211-line with the same code and a hyphen\r\n\
211 The last line\r\n";

/// The lines of [`STAT_211`] as the client must report them.
const STAT_211_LINES: [&str; 6] = [
    "First line",
    "Second line",
    "  234 A line beginning with numbers",
    "234 unpadded line with another code",
    "211-line with the same code and a hyphen",
    "The last line",
];

/// Checks that a reply carries exactly `expected` as its lines.
fn ensure_lines(reply: &Reply, expected: &[&str], what: &str) -> Check {
    let got: Vec<String> = reply
        .lines()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    ensure_eq(
        got,
        expected.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        what,
    )
}

/// A NOOP whose reply must have the code 200 (`what` names it in a failure).
fn noop_200<C: SecureConnection>(client: &mut Client<C>, what: &str) -> Check {
    ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, what)
}

/// A NOOP whose reply must be the script's own `200 NOOP ok`, code and text (`what` names
/// the call).
fn noop_ok_reply<C: SecureConnection>(client: &mut Client<C>, what: &str) -> Check {
    let noop = ok(client.noop(), what)?;
    ensure_eq(noop.code(), 200, "NOOP code")?;
    ensure_eq(noop.text(), "NOOP ok".to_owned(), "NOOP text")
}

/// Connects with the default settings (no login) and sends one NOOP, which must get 200.
fn connect_noop<C: SecureConnection>(h: &Harness<C>, server: &TestServer) -> Check {
    noop_200(
        &mut connect_with(h, server, |b| b, "connect")?,
        "NOOP reply",
    )
}
