//! REST-01 … REST-04: resuming transfers (RFC 3659 §4 and §5, RFC 1123 §4.1.3.4; SCENARIOS
//! decision D13).
//!
//! Downloads resume with [`Client::restart_at`](ftps_core::Client::restart_at) before the
//! transfer call; uploads with
//! [`Client::resume_upload`](ftps_core::Client::resume_upload) (`SIZE`, `REST`, `STOR`) or
//! [`Client::resume_upload_appending`](ftps_core::Client::resume_upload_appending) (`SIZE`,
//! `APPE`).

use std::io::Cursor;
use std::time::Duration;

use ftps_core::{Error, SecureConnection, TransferType};

use super::abor::noop_in_sync;
use super::steps::{login_binary, noop_ok, send_file, type_i, OPENING_F};
use super::transcript::{ensure_login_then, protected_data};
use super::{
    download_content, download_eq, download_fails, each_pinned, ensure_kind, ensure_shutdown,
    ensure_usable_reply, scripted, CONTENT,
};
use crate::checks::{ensure, ensure_eq, ensure_usable, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, DataEnd, ServerOptions};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "REST-01",
            title: "Resuming a protected download",
            needs: &[],
            run: rest_01::<C>,
        },
        Scenario {
            id: "REST-02",
            title: "REST refused",
            needs: &[],
            run: rest_02::<C>,
        },
        Scenario {
            id: "REST-03",
            title: "After a failed restart, the next transfer starts with REST 0",
            needs: &[],
            run: rest_03::<C>,
        },
        Scenario {
            id: "REST-04",
            title: "Resuming an upload with SIZE, REST and STOR",
            needs: &[],
            run: rest_04::<C>,
        },
    ]
}

// ---- server steps ----------------------------------------------------------------------------

/// `[epsv]` · `C* REST offset` · `S* 350` · `C* RETR f` · `S* 150` · `~data handshake` ·
/// `D* content` · `S~ close_notify` · `D FIN` · `S* 226`.
fn serve_restarted_retr(c: &mut Conn, offset: u64, content: &[u8]) -> Check {
    let listener = c.epsv()?;
    c.expect(&format!("REST {offset}"))?;
    c.send(&format!(
        "350 Restarting at {offset}. Send STORE or RETRIEVE to initiate transfer."
    ))?;
    c.expect("RETR f")?;
    c.send(OPENING_F)?;
    let mut data = listener.accept(c)?;
    data.accept_tls()?;
    send_file(c, data, content)
}

/// `[epsv]` · `C* RETR f` · `S* 150` · the protected download of `content` · `S* 226`.
fn serve_plain_retr(c: &mut Conn, content: &[u8]) -> Check {
    let listener = c.epsv()?;
    c.expect("RETR f")?;
    c.send(OPENING_F)?;
    let mut data = listener.accept(c)?;
    data.accept_tls()?;
    send_file(c, data, content)
}

// ---- REST-01 ---------------------------------------------------------------------------------

/// The restart marker of RFC 3659 §5.5's example.
const OFFSET: u64 = 802_816;

/// The part of the file after [`OFFSET`]: all the server sends.
fn tail() -> Vec<u8> {
    super::pattern(60_000, 9)
}

fn rest_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| rest_01_variant(h, options, false))?;
    // D13: the caller had set TYPE A; the restart still happens under TYPE I.
    rest_01_variant(h, ServerOptions::default(), true).map_err(|e| format!("after TYPE A: {e}"))
}

fn rest_01_variant<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    ascii_first: bool,
) -> Check {
    let content = tail();
    let served = content.clone();
    let rest = format!("REST {OFFSET}");
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            if ascii_first {
                c.expect("TYPE A")?;
                c.send("200 Switching to ASCII mode.")?;
            }
            type_i(c)?;
            serve_restarted_retr(c, OFFSET, &served)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            if ascii_first {
                ok(client.transfer_type(TransferType::Ascii), "TYPE A")?;
            }
            client.restart_at(OFFSET);
            download_eq(&mut client, "f", &content)?;
            noop_in_sync(&mut client)
        },
        |record| {
            let mut after = Vec::new();
            if ascii_first {
                after.push("TYPE A");
            }
            after.extend(["TYPE I", "EPSV", rest.as_str(), "RETR f", "NOOP"]);
            ensure_login_then(record, &after, "commands")?;
            protected_data(record, 1)
        },
    )
}

// ---- REST-02 ---------------------------------------------------------------------------------

fn rest_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let refusals = [
        (502, "502 Not implemented"),
        (500, "500 Unknown command."),
        (501, "501 Bad REST argument."),
        (504, "504 Command not implemented for that parameter."),
    ];
    for (code, reply) in refusals {
        rest_02_variant(h, code, reply).map_err(|e| format!("{reply}: {e}"))?;
    }
    Ok(())
}

fn rest_02_variant<C: SecureConnection>(h: &Harness<C>, code: u16, reply: &'static str) -> Check {
    scripted(
        ServerOptions::default(),
        move |c| {
            login_binary(c)?;
            let listener = c.epsv()?;
            c.expect("REST 100")?;
            c.send(reply)?;
            // The client connected in passive mode: it must close that connection, unused.
            let mut data = listener.accept(c)?;
            let end = data.wait_client_close(Duration::from_secs(2));
            ensure(matches!(end, DataEnd::Fin | DataEnd::Reset), || {
                format!("the client kept the passive data connection open ({end:?})")
            })?;
            // A RETR here (the transfer would start at offset 0) fails this expectation.
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            client.restart_at(100);
            let (e, got) = download_fails(&mut client, "f", "RETR f after a refused REST")?;
            if matches!(code, 500 | 502) {
                ensure_kind(
                    &e,
                    matches!(e, Error::Unsupported(_)),
                    "Unsupported(resume)",
                )?;
                ensure_usable(&e, true)?;
            } else {
                ensure_usable_reply(&e, code)?;
            }
            ensure(got.is_empty(), || {
                format!("the caller was given {} bytes", got.len())
            })?;
            noop_in_sync(&mut client)
        },
        |record| {
            ensure_login_then(record, &["TYPE I", "EPSV", "REST 100", "NOOP"], "commands")?;
            ensure_eq(record.data.len(), 1, "data connections")?;
            ensure_eq(
                record.data[0].bytes_received,
                0,
                "bytes the client sent on the unused data connection",
            )
        },
    )
}

// ---- REST-03 ---------------------------------------------------------------------------------

fn rest_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    rest_03_refused(h).map_err(|e| format!("554 to RETR: {e}"))?;
    rest_03_failed_after_150(h).map_err(|e| format!("451 after the data: {e}"))?;
    rest_03_used_up(h).map_err(|e| format!("a restart used up: {e}"))
}

/// The catalogue's script: `REST 999999999` accepted, the `RETR` refused with `554`, then a
/// plain download that starts with `REST 0`.
fn rest_03_refused<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            login_binary(c)?;
            let listener = c.epsv()?;
            c.expect("REST 999999999")?;
            c.send("350 Restarting at 999999999. Send STORE or RETRIEVE to initiate transfer.")?;
            c.expect("RETR f")?;
            c.send("554 Requested action not taken: invalid REST parameter.")?;
            let mut unused = listener.accept(c)?;
            unused.wait_client_close(Duration::from_secs(1));
            serve_restarted_retr(c, 0, CONTENT)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            client.restart_at(999_999_999);
            let (e, got) = download_fails(&mut client, "f", "RETR f at 999999999")?;
            ensure_usable_reply(&e, 554)?;
            ensure(got.is_empty(), || {
                format!("the caller was given {} bytes", got.len())
            })?;
            download_content(&mut client, "the plain download")?;
            noop_in_sync(&mut client)
        },
        |record| {
            ensure_login_then(
                record,
                &[
                    "TYPE I",
                    "EPSV",
                    "REST 999999999",
                    "RETR f",
                    "EPSV",
                    "REST 0",
                    "RETR f",
                    "NOOP",
                ],
                "commands",
            )
        },
    )
}

/// A restarted download that got its `150` but ended with `451`: the restart was not used up
/// by a transfer that succeeded, so the next plain download starts with `REST 0` too.
fn rest_03_failed_after_150<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            login_binary(c)?;
            let listener = c.epsv()?;
            c.expect("REST 100")?;
            c.send("350 Restarting at 100. Send STORE or RETRIEVE to initiate transfer.")?;
            c.expect("RETR f")?;
            c.send(OPENING_F)?;
            let mut data = listener.accept(c)?;
            data.accept_tls()?;
            data.write_all(&CONTENT[..10])?;
            data.close_notify()?;
            data.fin();
            c.send("451 Requested action aborted: local error in processing.")?;
            serve_restarted_retr(c, 0, CONTENT)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            client.restart_at(100);
            let (e, _) = download_fails(&mut client, "f", "the restarted RETR f")?;
            ensure_usable_reply(&e, 451)?;
            download_content(&mut client, "the plain download")?;
            noop_in_sync(&mut client)
        },
        |record| {
            ensure_login_then(
                record,
                &[
                    "TYPE I", "EPSV", "REST 100", "RETR f", "EPSV", "REST 0", "RETR f", "NOOP",
                ],
                "commands",
            )
        },
    )
}

/// A restarted download that succeeded used its restart up: the next plain download has no
/// `REST` at all.
fn rest_03_used_up<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            login_binary(c)?;
            serve_restarted_retr(c, 10, &CONTENT[10..])?;
            serve_plain_retr(c, CONTENT)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            client.restart_at(10);
            download_eq(&mut client, "f", &CONTENT[10..])?;
            download_content(&mut client, "the plain download")?;
            noop_in_sync(&mut client)
        },
        |record| {
            ensure_login_then(
                record,
                &[
                    "TYPE I", "EPSV", "REST 10", "RETR f", "EPSV", "RETR f", "NOOP",
                ],
                "commands",
            )
        },
    )
}

// ---- REST-04 ---------------------------------------------------------------------------------

/// What the server already has of the file (`213 1048576`).
const REMOTE_SIZE: usize = 1_048_576;

/// What the upload still has to send.
const REST_OF_FILE: usize = 100_000;

fn rest_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| rest_04_variant(h, options, false))?;
    rest_04_variant(h, ServerOptions::default(), true).map_err(|e| format!("APPE variant: {e}"))
}

fn rest_04_variant<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    append: bool,
) -> Check {
    let file = super::pattern(REMOTE_SIZE + REST_OF_FILE, 13);
    let want = file[REMOTE_SIZE..].to_vec();
    let rest = format!("REST {REMOTE_SIZE}");
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            type_i(c)?;
            c.expect("SIZE f")?;
            c.send(&format!("213 {REMOTE_SIZE}"))?;
            let listener = c.epsv()?;
            if append {
                c.expect("APPE f")?;
            } else {
                c.expect(&format!("REST {REMOTE_SIZE}"))?;
                c.send(&format!(
                    "350 Restarting at {REMOTE_SIZE}. Send STORE or RETRIEVE to initiate transfer."
                ))?;
                c.expect("STOR f")?;
            }
            c.send("150 Ok to send data.")?;
            let mut data = listener.accept(c)?;
            data.accept_tls()?;
            let (bytes, end) = data.read_to_end()?;
            let close_notify = data.client_close_notify();
            data.fin();
            ensure(close_notify, || {
                format!("the upload did not end with close_notify ({end:?})")
            })?;
            ensure(bytes == want, || {
                format!(
                    "received {} bytes, expected the {} bytes after offset {REMOTE_SIZE} \
                     (equal: false)",
                    bytes.len(),
                    want.len()
                )
            })?;
            c.send("226 Transfer complete.")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut source = Cursor::new(file);
            let outcome = if append {
                ok(
                    client.resume_upload_appending("f", &mut source),
                    "resuming the upload with APPE",
                )?
            } else {
                ok(
                    client.resume_upload("f", &mut source),
                    "resuming the upload",
                )?
            };
            ensure_eq(outcome.bytes(), REST_OF_FILE as u64, "bytes uploaded")?;
            ensure_shutdown(&outcome, Some(true))?;
            noop_in_sync(&mut client)
        },
        |record| {
            let transfer: &[&str] = if append {
                &["APPE f"]
            } else {
                &[rest.as_str(), "STOR f"]
            };
            let after = [&["TYPE I", "SIZE f", "EPSV"][..], transfer, &["NOOP"]].concat();
            ensure_login_then(record, &after, "commands")?;
            protected_data(record, 1)
        },
    )
}
