//! REPLY-09 … REPLY-12: replies the client must refuse or survive: limits on length and line
//! count, line-end leniency and a missing CRLF, malformed codes and protected replies, and
//! unsolicited replies while idle.

use std::time::Duration;

use ftps_core::reply::{ReplyError, ReplyLimits};
use ftps_core::{Client, Error, ProtocolError, SecureConnection};

use super::{crlf, noop_ok_reply, pause};
use crate::checks::{commands, ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{login, noop_ok};
use crate::scenarios::{
    connect_login_with, each_supported_version, ensure_kind, next_call_unusable, pinned, scripted,
};
use crate::server::{Conn, ServerOptions, TestServer};

/// The error `e` leaves the connection unusable, and a later call fails at once with
/// [`Error::Unusable`] (A3).
fn ensure_dead<C: SecureConnection>(client: &mut Client<C>, e: &Error) -> Check {
    ensure_usable(e, false)?;
    next_call_unusable(client)
}

/// The reply limits REPLY-09 sets: lines of 4 KiB, 1000 lines, 1 MiB in all.
fn limits() -> ReplyLimits {
    ReplyLimits::new(4096, 1000, 1 << 20)
}

/// A client with [`limits`], logged in.
fn limited_client<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
) -> Result<Client<C>, String> {
    connect_login_with(h, server, |b| b.reply_limits(limits()), "connect")
}

/// The server's side of a reply that makes the client give up: written after `STAT`, then the
/// client must close without sending anything more. Write errors are fine (the client may
/// close while the server still writes).
fn hostile_stat(bytes: Vec<u8>) -> impl FnOnce(&mut Conn) -> Check + Send {
    move |c| {
        c.secure_login()?;
        c.expect("STAT")?;
        for chunk in bytes.chunks(16 * 1024) {
            if c.send_raw(chunk).is_err() {
                return Ok(());
            }
        }
        c.expect_eof(Duration::from_secs(3)).map(drop)
    }
}

/// STAT answered with `bytes` ([`hostile_stat`]): the error (`what` names the call) must pass
/// `check` and leave the connection unusable.
fn stat_over_limit<C: SecureConnection>(
    h: &Harness<C>,
    bytes: Vec<u8>,
    what: &str,
    check: impl FnOnce(&Error) -> Check,
) -> Check {
    scripted(
        ServerOptions::default(),
        hostile_stat(bytes),
        |server| {
            let mut client = limited_client(h, server)?;
            let e = err(client.raw("STAT"), what)?;
            check(&e)?;
            ensure_dead(&mut client, &e)
        },
        |_| Ok(()),
    )
}

pub(super) fn reply_09<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) 5,000 lines, under 1 MiB: the first 1000 kept, truncated, in sync afterwards.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("STAT")?;
            let mut bytes = b"211-status follows\r\n".to_vec();
            for i in 1..5000 {
                bytes.extend_from_slice(format!(" line {i:04}\r\n").as_bytes());
            }
            bytes.extend_from_slice(b"211 End of status\r\n");
            c.send_split(&bytes, 16 * 1024, Duration::ZERO)?;
            noop_ok(c)
        },
        |server| {
            let mut client = limited_client(h, server)?;
            let reply = ok(client.raw("STAT"), "STAT with 5000 lines")?;
            ensure_eq(reply.code(), 211, "code")?;
            ensure(reply.truncated(), || {
                "the reply is not marked truncated".into()
            })?;
            ensure_eq(reply.lines().len(), 1000, "lines kept")?;
            ensure_eq(reply.lines()[0].as_slice(), b"status follows", "first line")?;
            ensure_eq(reply.lines()[999].as_slice(), b" line 0999", "line 1000")?;
            noop_ok_reply(&mut client, "NOOP after the long reply")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("variant a (5000 lines): {e}"))?;
    // b) One line of 8 KiB.
    let mut long = b"211 ".to_vec();
    long.extend(std::iter::repeat_n(b'L', 8 * 1024));
    long.extend_from_slice(b"\r\n");
    stat_over_limit(h, long, "STAT answered with an 8 KiB line", |e| {
        ensure_kind(
            e,
            matches!(e, Error::BadReply(ReplyError::LineTooLong { limit: 4096 })),
            "ReplyLineTooLong (4096)",
        )
    })
    .map_err(|e| format!("variant b (8 KiB line): {e}"))?;
    // c) More than 1 MiB with no terminating line.
    let mut endless = b"211-here it comes\r\n".to_vec();
    let line = format!("-{}\r\n", "x".repeat(1000));
    while endless.len() <= (1 << 20) + 64 * 1024 {
        endless.extend_from_slice(line.as_bytes());
    }
    stat_over_limit(h, endless, "STAT answered with more than 1 MiB", |e| {
        ensure_kind(
            e,
            matches!(
                e,
                Error::BadReply(ReplyError::TooLarge { limit: 1_048_576 })
            ),
            "ReplyTooLarge (1 MiB)",
        )
    })
    .map_err(|e| format!("variant c (over 1 MiB): {e}"))
}

pub(super) fn reply_10<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // Accepted: a bare LF (greeting and NOOP), `226` alone, a lone CR in the text.
    scripted(
        ServerOptions::default(),
        |c| {
            c.send_raw(b"220 ready\n")?;
            c.expect("AUTH TLS")?;
            c.send_raw(b"234 go\n")?;
            c.start_tls()?;
            login(c)?;
            c.expect("PBSZ 0")?;
            c.send("200 PBSZ=0")?;
            c.expect("PROT P")?;
            c.send("200 ok")?;
            c.expect("NOOP")?;
            c.send_raw(b"200 OK\n")?;
            c.expect("NOOP")?;
            c.send_raw(b"226\r\n")?;
            c.expect("NOOP")?;
            c.send_raw(b"200 a\rb\r\n")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login (bare LF)")?;
            let r = ok(client.noop(), "NOOP answered `200 OK\\n`")?;
            ensure_eq(
                (r.code(), r.text()),
                (200, "OK".to_owned()),
                "bare-LF reply",
            )?;
            let r = ok(client.noop(), "NOOP answered `226`")?;
            ensure_eq(r.code(), 226, "bare code")?;
            ensure_eq(r.lines().to_vec(), vec![Vec::new()], "bare code's text")?;
            let r = ok(client.noop(), "NOOP answered `200 a\\rb`")?;
            ensure_eq(r.lines().to_vec(), vec![b"a\rb".to_vec()], "lone CR kept")?;
            let r = ok(client.noop(), "NOOP")?;
            ensure_eq((r.code(), r.text()), (200, "NOOP ok".to_owned()), "NOOP")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("accepted line ends: {e}"))?;
    // A partial line, then the connection closes (with close_notify, or a bare FIN).
    each_supported_version(h, |version| {
        for partial in [&b"200 OK"[..], b"200 OK\r"] {
            for close_notify in [true, false] {
                let what = format!(
                    "{:?} then {}",
                    String::from_utf8_lossy(partial),
                    if close_notify {
                        "close_notify + FIN"
                    } else {
                        "FIN"
                    }
                );
                scripted(
                    pinned(version),
                    move |c| {
                        c.secure_login()?;
                        c.expect("NOOP")?;
                        c.send_raw(partial)?;
                        pause(50)?;
                        if close_notify {
                            c.close_notify()?;
                        }
                        c.fin();
                        Ok(())
                    },
                    |server| {
                        let mut client = ok(h.connect_login(server), "connect and login")?;
                        let e = err(client.noop(), "NOOP answered by a partial line")?;
                        match &e {
                            Error::ConnectionClosed { partial: got, .. } => {
                                ensure_eq(got.as_slice(), partial, "partial line in the error")?
                            }
                            other => {
                                return Err(format!("expected ConnectionClosed, got {other:?}"))
                            }
                        }
                        ensure_dead(&mut client, &e)
                    },
                    |_| Ok(()),
                )
                .map_err(|e| format!("{what}: {e}"))?;
            }
        }
        Ok(())
    })
}

pub(super) fn reply_11<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let malformed = [
        "20 OK", "2000 OK", "2x0 OK", "abc OK", "600 x", "000 x", " 200 OK", "200\tOK",
    ];
    for line in malformed {
        bad_noop_reply(h, line, |e| match e {
            Error::BadReply(ReplyError::Malformed { excerpt }) => {
                ensure_eq(excerpt.as_str(), line, "excerpt of the malformed line")
            }
            other => Err(format!("expected MalformedReply, got {other:?}")),
        })
        .map_err(|e| format!("{line:?}: {e}"))?;
    }
    for code in [631u16, 632, 633] {
        let line = format!("{code} RmFrZSBwcm90ZWN0ZWQgcmVwbHk=");
        bad_noop_reply(h, &line, |e| match e {
            Error::BadReply(ReplyError::ProtectedReply { code: got }) => {
                ensure_eq(*got, code, "protected reply code")
            }
            other => Err(format!(
                "expected an unsupported protected reply, got {other:?}"
            )),
        })
        .map_err(|e| format!("{code}: {e}"))?;
    }
    Ok(())
}

/// `[secure-login]`, then `line` as the reply to NOOP: the error must pass `check`, leave the
/// connection unusable, and nothing more may be sent.
fn bad_noop_reply<C: SecureConnection>(
    h: &Harness<C>,
    line: &str,
    check: impl FnOnce(&Error) -> Check,
) -> Check {
    let bytes = crlf(line);
    scripted(
        ServerOptions::default(),
        move |c| {
            c.secure_login()?;
            c.expect("NOOP")?;
            c.send_raw(&bytes)?;
            c.expect_eof(Duration::from_secs(3)).map(drop)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let e = err(client.noop(), "NOOP")?;
            check(&e)?;
            ensure_dead(&mut client, &e)
        },
        |_| Ok(()),
    )
}

/// How long the client stays idle before its next call, so the server's unsolicited bytes
/// have arrived.
const IDLE: Duration = Duration::from_millis(300);

/// Connects, logs in, then stays idle for [`IDLE`].
fn idle_client<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
) -> Result<Client<C>, String> {
    let client = ok(h.connect_login(server), "connect and login")?;
    std::thread::sleep(IDLE);
    Ok(client)
}

pub(super) fn reply_12<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_supported_version(h, |version| {
        // `421 Timeout.`, close_notify and FIN while idle; then the user calls noop().
        scripted(
            pinned(version),
            |c| {
                c.secure_login()?;
                c.send("421 Timeout.")?;
                c.close_notify()?;
                c.fin();
                Ok(())
            },
            |server| {
                let mut client = idle_client(h, server)?;
                let e = err(client.noop(), "NOOP after the server's 421")?;
                match &e {
                    Error::ServiceClosing { reply } => ensure_eq(reply.code(), 421, "code")?,
                    Error::ConnectionClosed { .. } => {}
                    other => {
                        return Err(format!(
                            "expected ServiceClosing or ConnectionClosed, got {other:?}"
                        ))
                    }
                }
                ensure(!client.is_usable(), || {
                    "the client still says usable".into()
                })?;
                ensure_dead(&mut client, &e)
            },
            // The server's side is shut down, so what the client sends next cannot be
            // recorded; the open-connection variant below checks that no NOOP goes out.
            |_| Ok(()),
        )
        .map_err(|e| format!("421 while idle: {e}"))?;
        // A 421 that stays unanswered on an open connection: the same, never the NOOP's reply.
        scripted(
            pinned(version),
            |c| {
                c.secure_login()?;
                c.send("421 Timeout.")?;
                c.expect_eof(Duration::from_secs(3)).map(drop)
            },
            |server| {
                let mut client = idle_client(h, server)?;
                let e = err(client.noop(), "NOOP after the server's 421")?;
                ensure_kind(
                    &e,
                    matches!(e, Error::ServiceClosing { .. }),
                    "ServiceClosing",
                )?;
                ensure_code(&e, 421)?;
                ensure_dead(&mut client, &e)
            },
            |_| Ok(()),
        )
        .map_err(|e| format!("421 on an open connection: {e}"))
    })?;
    // Variant: a stray `200 extra` while idle.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.send("200 extra")?;
            c.expect_eof(Duration::from_secs(3)).map(drop)
        },
        |server| stray_reply_refused(&mut idle_client(h, server)?),
        |record| {
            ensure(!commands(record).iter().any(|c| c == "NOOP"), || {
                "the NOOP was sent after the stray reply".into()
            })
        },
    )
    .map_err(|e| format!("stray 200 while idle: {e}"))?;
    // Variant: the stray reply arrives in the same segment as a real one and sits in the buffer.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("NOOP")?;
            c.send_raw(b"200 NOOP ok\r\n200 extra\r\n")?;
            c.expect_eof(Duration::from_secs(3)).map(drop)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            ensure_eq(
                ok(client.noop(), "NOOP")?.text(),
                "NOOP ok".to_owned(),
                "NOOP",
            )?;
            stray_reply_refused(&mut client)
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("stray 200 in the buffer: {e}"))
}

/// The next call after a stray `200 extra` fails with a protocol violation carrying that
/// reply, and the connection is unusable (decision D8).
fn stray_reply_refused<C: SecureConnection>(client: &mut Client<C>) -> Check {
    let e = err(client.noop(), "NOOP after a stray reply")?;
    match &e {
        Error::Protocol(ProtocolError::UnsolicitedReply { reply }) => {
            ensure_eq(reply.text(), "extra".to_owned(), "the stray reply")?
        }
        other => return Err(format!("expected ProtocolViolation, got {other:?}")),
    }
    ensure_dead(client, &e)
}
