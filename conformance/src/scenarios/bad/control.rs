//! Hostile behaviour on the control connection: no greeting (BAD-01), slowloris replies
//! (BAD-02), endless and over-long replies (BAD-04, BAD-05), malformed replies (BAD-06),
//! replies of the wrong class (BAD-07), early closes (BAD-11) and Telnet IAC bytes (BAD-20).

use std::time::{Duration, Instant};

use ftps_core::reply::ReplyError;
use ftps_core::{Error, Phase, ProtocolError, SecureConnection, TlsErrorKind};

use super::{ensure_dead, ensure_within, parallel, versions, Variant, SLACK};
use crate::checks::{commands, ensure, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{
    answer_auth, login, login_binary, noop_ok, open_retr, send_protected, OPENING_F,
};
use crate::scenarios::transcript::ensure_login_then;
use crate::scenarios::{each_pinned, ensure_kind, final_noop, pinned, scripted};
use crate::server::{Conn, ServerOptions};

/// How long a script waits for the client to close after it gave up.
const CLOSE_WAIT: Duration = Duration::from_secs(4);

/// Sends `bytes` in 64 KiB writes, up to `total` bytes, until a write fails (the client
/// closed). `Err` if every byte went out: the client kept reading past its limit.
fn flood(c: &mut Conn, first: &[u8], filler: &[u8], total: usize) -> Check {
    if c.send_raw(first).is_err() {
        return Ok(());
    }
    let chunk: Vec<u8> = filler
        .iter()
        .copied()
        .cycle()
        .take((64 * 1024 / filler.len().max(1)) * filler.len().max(1))
        .collect();
    let mut sent = first.len();
    while sent < total {
        if c.send_raw(&chunk).is_err() {
            return Ok(());
        }
        sent += chunk.len();
    }
    Err(format!(
        "the client read {sent} bytes of one reply and did not give up"
    ))
}

// ---- BAD-01 ----------------------------------------------------------------------------------

pub(super) fn bad_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        // TCP is accepted, then nothing: the client gives up and closes.
        |c| c.expect_eof(CLOSE_WAIT).map(drop),
        |server| {
            let started = Instant::now();
            let e = err(h.connect(server), "connect to a server that never greets")?;
            ensure_kind(
                &e,
                matches!(
                    e,
                    Error::Timeout {
                        phase: Phase::Greeting,
                        ..
                    }
                ),
                "Timeout{greeting}",
            )?;
            ensure_usable(&e, false)?;
            ensure_within(
                started.elapsed(),
                Harness::<C>::timeouts().reply_idle + SLACK,
                "giving up on the greeting",
            )
        },
        |record| ensure_eq(record.cleartext.as_slice(), b"", "bytes the client sent"),
    )
}

// ---- BAD-02 ----------------------------------------------------------------------------------

/// The pause between two bytes: below the idle limit (2 s), so only the whole-reply limit
/// (4 s) can end the wait.
const TRICKLE: Duration = Duration::from_millis(1500);

/// The client must give up on a trickled reply at the whole-reply limit: `Timeout{phase}`,
/// unusable, within the limit (plus slack), long before the reply could have arrived.
fn slow_reply_error<C: SecureConnection>(e: &Error, phase: Phase, took: Duration) -> Check {
    ensure_kind(
        e,
        matches!(e, Error::Timeout { phase: p, .. } if *p == phase),
        &format!("Timeout{{{phase}}}"),
    )?;
    ensure_usable(e, false)?;
    let total = Harness::<C>::timeouts().reply_total;
    ensure_within(took, total + SLACK, "giving up on the trickled reply")
}

/// The server side of a trickle: the client must close before every byte went out.
fn trickled(given_up: Option<Duration>) -> Check {
    match given_up {
        Some(_) => Ok(()),
        None => Err("every byte of the trickled reply was sent: the client never gave up".into()),
    }
}

/// The greeting, in the clear, one byte per TCP segment.
fn bad_02_greeting<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| trickled(c.trickle(b"220 ftps test server ready\r\n", TRICKLE, false)?),
        |server| {
            let started = Instant::now();
            let e = err(h.connect(server), "connect")?;
            slow_reply_error::<C>(&e, Phase::Greeting, started.elapsed())
        },
        |_| Ok(()),
    )
}

/// The reply to NOOP, protected: each byte in its own TLS record, or (`one_record`) one
/// record trickled byte by byte, which only a deadline over the whole backend read can end.
fn bad_02_protected<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    one_record: bool,
) -> Check {
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            c.expect("NOOP")?;
            trickled(c.trickle(b"200 NOOP ok\r\n", TRICKLE, one_record)?)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let started = Instant::now();
            let e = err(client.noop(), "NOOP answered one byte at a time")?;
            slow_reply_error::<C>(&e, Phase::Control, started.elapsed())?;
            ensure_dead(&mut client, &e)
        },
        |_| Ok(()),
    )
}

pub(super) fn bad_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let h = &*h;
    let mut variants: Vec<Variant<'_>> = vec![(
        "greeting in the clear".into(),
        Box::new(move || bad_02_greeting(h)),
    )];
    for version in versions(h) {
        variants.push((
            format!("{version:?}, one record per byte"),
            Box::new(move || bad_02_protected(h, pinned(version), false)),
        ));
        variants.push((
            format!("{version:?}, one record trickled"),
            Box::new(move || bad_02_protected(h, pinned(version), true)),
        ));
    }
    parallel(variants)
}

// ---- BAD-04, BAD-05 --------------------------------------------------------------------------

pub(super) fn bad_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                c.secure_login()?;
                c.expect("FEAT")?;
                flood(c, b"211-Features:\r\n", b" MDTM\r\n SIZE\r\n", 64 << 20)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let e = err(client.feat(), "FEAT answered with an endless reply")?;
                ensure_kind(
                    &e,
                    matches!(
                        e,
                        Error::BadReply(ReplyError::TooLarge { limit: 1_048_576 })
                    ),
                    "ReplyTooLarge at the default 1 MiB",
                )?;
                ensure_dead(&mut client, &e)
            },
            |_| Ok(()),
        )
    })
}

/// The line-too-long error at the default limit of 8 KiB.
fn line_too_long(e: &Error) -> Check {
    ensure_kind(
        e,
        matches!(e, Error::BadReply(ReplyError::LineTooLong { limit: 8192 })),
        "ReplyLineTooLong at the default 8 KiB",
    )
}

pub(super) fn bad_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    const HUGE: usize = 100 << 20;
    // The greeting, in the clear.
    scripted(
        ServerOptions::default(),
        |c| flood(c, b"220 ", b"A", HUGE),
        |server| {
            let e = err(h.connect(server), "connect")?;
            line_too_long(&e)?;
            ensure_usable(&e, false)
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("greeting: {e}"))?;
    // The reply to NOOP, protected.
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                c.secure_login()?;
                c.expect("NOOP")?;
                flood(c, b"200 ", b"A", HUGE)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let e = err(client.noop(), "NOOP answered with a 100 MiB line")?;
                line_too_long(&e)?;
                ensure_dead(&mut client, &e)
            },
            |_| Ok(()),
        )
    })
}

// ---- BAD-06 ----------------------------------------------------------------------------------

/// `len` bytes from a small xorshift generator seeded with `seed`.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The malformed replies of BAD-06: REPLY-11's shapes, then random bytes whose first line
/// cannot start with a code (the first byte is not a digit), each ending with CRLF.
fn malformed_replies() -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = [
        &b"2000 ok\r\n"[..],
        b"20 ok\r\n",
        b"abc\r\n",
        b"600 six hundred\r\n",
        b"099 zero\r\n",
        b" 200 leading space\r\n",
        b"200x ok\r\n",
        b"\r\n",
        b"\x00\x01\x02\r\n",
    ]
    .iter()
    .map(|r| r.to_vec())
    .collect();
    for (seed, len) in [(7u64, 64usize), (99, 700), (12345, 3000)] {
        let mut bytes = random_bytes(len, seed);
        if bytes[0].is_ascii_digit() {
            bytes[0] = b'#';
        }
        bytes.extend_from_slice(b"\r\n");
        all.push(bytes);
    }
    all
}

pub(super) fn bad_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    for (i, reply) in malformed_replies().into_iter().enumerate() {
        let shown = String::from_utf8_lossy(&reply[..reply.len().min(16)]).into_owned();
        scripted(
            ServerOptions::default(),
            move |c| {
                c.secure_login()?;
                c.expect("NOOP")?;
                c.send_raw(&reply)?;
                c.fin_and_wait(CLOSE_WAIT)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let e = err(client.noop(), "NOOP answered with a malformed reply")?;
                ensure_kind(
                    &e,
                    matches!(e, Error::BadReply(ReplyError::Malformed { .. })),
                    "MalformedReply",
                )?;
                ensure_dead(&mut client, &e)
            },
            |record| ensure_login_then(record, &["NOOP"], "commands"),
        )
        .map_err(|e| format!("reply {i} ({shown:?}...): {e}"))?;
    }
    Ok(())
}

// ---- BAD-07 ----------------------------------------------------------------------------------

/// A `ProtocolViolation`: the server broke the command/reply sequence.
/// A `ProtocolViolation` over the reply of the wrong class, `code`.
fn protocol_violation(e: &Error, code: u16) -> Check {
    let fits = matches!(
        e,
        Error::Protocol(ProtocolError::UnexpectedReply { reply, .. }) if reply.code() == code
    );
    ensure_kind(e, fits, &format!("ProtocolViolation over the {code}"))
}

/// A simple command answered with a 1xx: `ProtocolViolation`, unusable, nothing more sent.
fn preliminary_to<C: SecureConnection>(
    h: &Harness<C>,
    command: &'static str,
    reply: &'static str,
    call: fn(&mut ftps_core::Client<C>) -> Result<(), Error>,
) -> Check {
    scripted(
        ServerOptions::default(),
        move |c| {
            c.secure_login()?;
            c.expect(command)?;
            c.send(reply)?;
            c.fin_and_wait(CLOSE_WAIT)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let e = err(call(&mut client), command)?;
            let code = reply[..3].parse().unwrap_or(0);
            protocol_violation(&e, code)?;
            ensure_dead(&mut client, &e)
        },
        |record| ensure_login_then(record, &[command], "commands"),
    )
    .map_err(|e| format!("{reply:?} to {command}: {e}"))
}

pub(super) fn bad_07<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    preliminary_to(h, "NOOP", "150 Here it comes", |c| c.noop().map(drop))?;
    preliminary_to(h, "PWD", "120 Ready in a minute", |c| c.pwd().map(drop))?;
    // A 3xx to RETR.
    scripted(
        ServerOptions::default(),
        |c| {
            login_binary(c)?;
            let _listener = c.epsv()?;
            c.expect("RETR f")?;
            c.send("350 Restarting at 0")?;
            c.fin_and_wait(CLOSE_WAIT)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut sink = Vec::new();
            let e = err(client.download("f", &mut sink), "RETR answered 350")?;
            protocol_violation(&e, 350)?;
            ensure(sink.is_empty(), || "bytes reached the caller".into())?;
            ensure_dead(&mut client, &e)
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("350 to RETR: {e}"))?;
    // `200 OK` to AUTH TLS: no TLS, no USER, nothing more at all.
    scripted(
        ServerOptions::default(),
        |c| {
            answer_auth(c, "220 ready", "200 OK")?;
            c.expect_eof(CLOSE_WAIT).map(drop)
        },
        |server| {
            let e = err(h.connect(server), "connect, AUTH TLS answered 200")?;
            protocol_violation(&e, 200)?;
            ensure_usable(&e, false)
        },
        |record| {
            ensure_eq(record.cleartext.as_slice(), b"AUTH TLS\r\n", "cleartext")?;
            ensure(record.control_version.is_none(), || {
                "a TLS handshake took place".into()
            })
        },
    )
    .map_err(|e| format!("200 to AUTH TLS: {e}"))?;
    // A 227 to EPSV: the reply was complete, so the connection stays usable, and no data
    // connection is attempted.
    bad_07_227(h)
}

/// EPSV answered with a 227 reply naming a real listener.
fn bad_07_227<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            login_binary(c)?;
            c.expect("EPSV")?;
            let listener = c.listen_data()?;
            let port = listener.port();
            c.send(&format!(
                "227 Entering Passive Mode (127,0,0,1,{},{})",
                port >> 8,
                port & 0xff
            ))?;
            c.expect("NOOP")?;
            let stray = listener.try_accept(c);
            ensure(stray.is_none(), || {
                "the client opened a data connection after a 227 to EPSV".into()
            })?;
            c.send("200 NOOP ok")
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let e = err(
                client.download("f", &mut Vec::new()),
                "RETR, EPSV answered 227",
            )?;
            let fits = matches!(
                e,
                Error::Protocol(ProtocolError::BadReplyText { what: "229", .. })
            );
            ensure_kind(&e, fits, "ProtocolViolation: a 229 was wanted")?;
            ensure_usable(&e, true)?;
            final_noop(&mut client)
        },
        |record| ensure_login_then(record, &["TYPE I", "EPSV", "NOOP"], "commands"),
    )
    .map_err(|e| format!("227 to EPSV: {e}"))
}

// ---- BAD-11 ----------------------------------------------------------------------------------

/// The control connection closed early: `ConnectionClosed`, or a TLS end-of-stream during
/// the handshake; unusable.
fn closed_early(e: &Error) -> Check {
    let fits = match e {
        Error::ConnectionClosed { .. } => true,
        Error::Tls { source, .. } => source.kind() == TlsErrorKind::UnexpectedEof,
        _ => false,
    };
    ensure_kind(e, fits, "ConnectionClosed or Tls{unexpected_eof}")?;
    ensure_usable(e, false)
}

/// Where the server closes.
#[derive(Clone, Copy, Debug)]
enum Close {
    AfterGreeting,
    After234,
    DuringHandshake,
    AfterPass,
    After150,
    Before226,
}

fn bad_11_one<C: SecureConnection>(h: &Harness<C>, options: ServerOptions, at: Close) -> Check {
    scripted(
        options,
        move |c| {
            match at {
                Close::AfterGreeting => c.send("220 ready")?,
                Close::After234 => answer_auth(c, "220 ready", "234 go")?,
                Close::DuringHandshake => {
                    answer_auth(c, "220 ready", "234 go")?;
                    c.take_client_hello()?;
                }
                Close::AfterPass => {
                    answer_auth(c, "220 ready", "234 go")?;
                    c.start_tls()?;
                    c.expect("USER alice")?;
                    c.send("331 Password required")?;
                    c.expect("PASS secret")?;
                }
                Close::After150 => {
                    login_binary(c)?;
                    let data = open_retr(c, "f", OPENING_F)?;
                    data.fin();
                }
                Close::Before226 => {
                    login_binary(c)?;
                    let data = open_retr(c, "f", OPENING_F)?;
                    send_protected(data, b"all of it")?;
                }
            }
            c.fin_and_wait(CLOSE_WAIT)
        },
        |server| {
            let started = Instant::now();
            let (e, client) = match at {
                Close::AfterGreeting | Close::After234 | Close::DuringHandshake => {
                    (err(h.connect(server), "connect")?, None)
                }
                Close::AfterPass => {
                    let mut client = ok(h.connect(server), "connect")?;
                    (err(client.login("alice", "secret"), "login")?, Some(client))
                }
                Close::After150 | Close::Before226 => {
                    let mut client = ok(h.connect_login(server), "connect and login")?;
                    let e = err(client.download("f", &mut Vec::new()), "RETR")?;
                    (e, Some(client))
                }
            };
            closed_early(&e)?;
            ensure_within(started.elapsed(), SLACK, "noticing the close")?;
            match client {
                Some(mut client) => ensure_dead(&mut client, &e),
                None => Ok(()),
            }
        },
        |_| Ok(()),
    )
}

pub(super) fn bad_11<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let h = &*h;
    let mut variants: Vec<Variant<'_>> = Vec::new();
    for version in versions(h) {
        for at in [
            Close::AfterGreeting,
            Close::After234,
            Close::DuringHandshake,
            Close::AfterPass,
            Close::After150,
            Close::Before226,
        ] {
            variants.push((
                format!("{version:?}, {at:?}"),
                Box::new(move || bad_11_one(h, pinned(version), at)),
            ));
        }
    }
    parallel(variants)
}

// ---- BAD-20 ----------------------------------------------------------------------------------

/// IAC WILL ECHO and IAC DO TERMINAL-TYPE.
const IAC_WILL_ECHO: &[u8] = b"\xff\xfb\x01";
const IAC_DO_TTYPE: &[u8] = b"\xff\xfd\x18";

pub(super) fn bad_20<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) IAC inside the text of the greeting and of a protected reply: text, never answered.
    scripted(
        ServerOptions::default(),
        |c| {
            c.send_raw(&[b"220 ready ", IAC_WILL_ECHO, b" go\r\n"].concat())?;
            c.expect("AUTH TLS")?;
            c.send("234 go")?;
            c.start_tls()?;
            login(c)?;
            c.expect("PBSZ 0")?;
            c.send("200 PBSZ=0")?;
            c.expect("PROT P")?;
            c.send("200 ok")?;
            c.expect("NOOP")?;
            c.send_raw(&[b"200 ok ", IAC_DO_TTYPE, b" fine\r\n"].concat())?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let reply = ok(client.noop(), "NOOP answered with IAC DO in the text")?;
            ensure_eq(
                reply.lines().to_vec(),
                vec![[b"ok ", IAC_DO_TTYPE, b" fine"].concat()],
                "reply text",
            )?;
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(record.cleartext.as_slice(), b"AUTH TLS\r\n", "cleartext")?;
            ensure_login_then(record, &["NOOP", "NOOP"], "commands (no Telnet answer)")
        },
    )
    .map_err(|e| format!("IAC inside text: {e}"))?;
    // b) IAC at the start of a line: MalformedReply, and nothing is answered.
    let starts: [(&str, Vec<u8>); 2] = [
        ("first line", [IAC_WILL_ECHO, b"200 ok\r\n"].concat()),
        (
            "continuation line",
            [b"211-status\r\n", IAC_DO_TTYPE, b"\r\n211 end\r\n"].concat(),
        ),
    ];
    for (place, reply) in starts {
        scripted(
            ServerOptions::default(),
            move |c| {
                c.secure_login()?;
                c.expect("STAT")?;
                c.send_raw(&reply)?;
                c.expect_eof(CLOSE_WAIT).map(drop)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let e = err(client.raw("STAT"), "STAT answered with IAC at a line start")?;
                ensure_kind(
                    &e,
                    matches!(e, Error::BadReply(ReplyError::Malformed { .. })),
                    "MalformedReply",
                )?;
                ensure_dead(&mut client, &e)
            },
            |record| ensure_login_then(record, &["STAT"], "commands"),
        )
        .map_err(|e| format!("IAC at the start of the {place}: {e}"))?;
    }
    // c) A greeting that starts with IAC DO, in the clear: nothing at all is sent back.
    scripted(
        ServerOptions::default(),
        |c| {
            c.send_raw(&[IAC_DO_TTYPE, b"220 ready\r\n"].concat())?;
            c.expect_eof(CLOSE_WAIT).map(drop)
        },
        |server| {
            let e = err(h.connect(server), "connect, greeting starting with IAC")?;
            ensure_kind(
                &e,
                matches!(e, Error::BadReply(ReplyError::Malformed { .. })),
                "MalformedReply",
            )?;
            ensure_usable(&e, false)
        },
        |record| {
            ensure(commands(record).is_empty(), || {
                format!("the client sent {:?}", commands(record))
            })?;
            ensure_eq(record.cleartext.as_slice(), b"", "cleartext")
        },
    )
    .map_err(|e| format!("IAC at the start of the greeting: {e}"))
}
