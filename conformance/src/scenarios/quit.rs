//! QUIT-01 … QUIT-02: a protected QUIT and the TLS shutdown (RFC 959 §4.1.1 and §5.4,
//! RFC 4217 §10.3, RFC 8446 §6.1).
//!
//! QUIT-02 as the catalogue words it ("QUIT while a transfer is still in progress") cannot be
//! written with the typed API: a [`ftps_core::Download`] borrows the client, so `quit()` cannot
//! be called while one is alive. What remains possible is the script of QUIT-02: the caller
//! drops a download that is still running, then calls `quit()`, which must settle the
//! transfer (ABOR and every reply owed) before its QUIT.

use std::io::Read;
use std::time::{Duration, Instant};

use ftps_core::reply::Reply;
use ftps_core::SecureConnection;

use super::steps::retr_tls;
use super::transcript::ensure_login_then;
use super::{each_pinned, pattern, scripted};
use crate::checks::{ensure, ensure_eq, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, DataEnd, Record, ServerOptions};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "QUIT-01",
            title: "A protected QUIT, and the TLS shutdown",
            needs: &[],
            run: quit_01::<C>,
        },
        Scenario {
            id: "QUIT-02",
            title: "QUIT while a transfer is still in progress",
            needs: &[],
            run: quit_02::<C>,
        },
    ]
}

/// How long the server waits for the client to close after the 221.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// The longest `quit()` may take when the server answers at once: the client waits for the
/// server's close_notify only briefly, if at all.
const QUIT_LIMIT: Duration = Duration::from_millis(1500);

/// How the server ends the session after `C* QUIT`.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// `S* 221`, then it waits for the client's close_notify and close.
    Reply,
    /// `S* 221`, `S~ close_notify`, then it waits for the client's close_notify and close.
    ReplyCloseNotify,
    /// a) `S* 221`, then a bare TCP close.
    ReplyFin,
    /// b) Pure-FTPd's multi-line 221, then it waits for the client.
    MultiLine,
    /// c) A TCP close without any reply.
    NoReply,
}

/// The server's side of QUIT in `ending`; records how the client closed when it waits.
fn serve_quit(c: &mut Conn, ending: Ending) -> Check {
    c.expect("QUIT")?;
    match ending {
        Ending::Reply | Ending::ReplyCloseNotify | Ending::MultiLine => {
            match ending {
                Ending::MultiLine => c.send_raw(
                    b"221-Goodbye. You uploaded 0 and downloaded 0 kbytes.\r\n221 Logout.\r\n",
                )?,
                _ => c.send("221 Goodbye.")?,
            }
            if matches!(ending, Ending::ReplyCloseNotify) {
                c.close_notify()?;
            }
            let seen = c.expect_eof(CLOSE_WAIT)?;
            ensure(seen.close_notify, || {
                format!("the client closed without close_notify ({seen:?})")
            })?;
            ensure(matches!(seen.end, DataEnd::Fin | DataEnd::Reset), || {
                format!("the client sent close_notify but did not close ({seen:?})")
            })?;
            c.fin();
            Ok(())
        }
        Ending::ReplyFin => {
            c.send("221 Goodbye.")?;
            c.fin();
            Ok(())
        }
        Ending::NoReply => {
            c.fin();
            Ok(())
        }
    }
}

fn quit_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        for ending in [
            Ending::Reply,
            Ending::ReplyCloseNotify,
            Ending::ReplyFin,
            Ending::MultiLine,
            Ending::NoReply,
        ] {
            quit_01_one(h, options.clone(), ending).map_err(|e| format!("{ending:?}: {e}"))?;
        }
        Ok(())
    })
}

fn quit_01_one<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    ending: Ending,
) -> Check {
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            serve_quit(c, ending)
        },
        |server| {
            let client = ok(h.connect_login(server), "connect and login")?;
            let started = Instant::now();
            let reply = ok(client.quit(), "QUIT")?;
            let elapsed = started.elapsed();
            ensure(elapsed < QUIT_LIMIT, || format!("quit() took {elapsed:?}"))?;
            check_quit_reply(reply.as_ref(), ending)
        },
        |record| {
            ensure_login_then(record, &["QUIT"], "commands")?;
            protected_after_auth(record)
        },
    )
}

/// Every command after `AUTH TLS` came inside TLS (QUIT and ABOR above all).
fn protected_after_auth(record: &Record) -> Check {
    let clear: Vec<&String> = record
        .commands
        .iter()
        .skip(1)
        .filter(|(protected, _)| !protected)
        .map(|(_, c)| c)
        .collect();
    ensure(clear.is_empty(), || {
        format!("commands in the clear after AUTH: {clear:?}")
    })
}

/// The reply `quit()` returned fits `ending`: the 221 (both lines of the multi-line one), or
/// `None` when the server closed without one.
fn check_quit_reply(reply: Option<&Reply>, ending: Ending) -> Check {
    match ending {
        Ending::NoReply => ensure(reply.is_none(), || {
            format!("quit() returned {reply:?} although no 221 came")
        }),
        Ending::MultiLine => {
            let reply = reply.ok_or("quit() says no 221 came")?;
            ensure_eq(reply.code(), 221, "reply code")?;
            ensure_eq(
                reply.text(),
                "Goodbye. You uploaded 0 and downloaded 0 kbytes.\nLogout.".to_owned(),
                "multi-line 221",
            )
        }
        _ => {
            let reply = reply.ok_or("quit() says no 221 came")?;
            ensure_eq(reply.code(), 221, "reply code")
        }
    }
}

fn quit_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| quit_02_one(h, options))
}

/// The caller reads part of a download and drops it; `quit()` then goes through the ABOR-01
/// path (`C* ABOR` · `S* 426` · `S* 226`) before `C* QUIT` · `S* 221`.
fn quit_02_one<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let file = pattern(16_000, 9);
    let sent = file.clone();
    scripted(
        options,
        move |c| {
            let mut data = retr_tls(c)?;
            data.write_all(&sent)?;
            // The transfer is still running: no close_notify, no 226 until the ABOR.
            c.expect("ABOR")?;
            data.rst();
            c.send("426 Connection closed; transfer aborted.")?;
            c.send("226 Closing data connection.")?;
            serve_quit(c, Ending::Reply)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut download = ok(client.retr("f"), "RETR f")?;
            let mut first = [0u8; 1000];
            download
                .read_exact(&mut first)
                .map_err(|e| format!("reading the first bytes: {e}"))?;
            ensure_eq(&first[..], &file[..1000], "the first bytes")?;
            drop(download);
            let reply = ok(client.quit(), "QUIT after a dropped download")?;
            check_quit_reply(reply.as_ref(), Ending::Reply)
        },
        |record| {
            ensure_login_then(
                record,
                &["TYPE I", "EPSV", "RETR f", "ABOR", "QUIT"],
                "commands",
            )?;
            protected_after_auth(record)?;
            ensure_eq(record.data.len(), 1, "data connections")
        },
    )
}
