//! ABOR-01 … ABOR-04: aborting protected transfers (RFC 959 §4.1.3 and §5.4, RFC 4217 §14,
//! RFC 8446 §6.1; SCENARIOS decision D12).
//!
//! The caller aborts with [`Download::abort`](ftps_core::Download::abort) or
//! [`Upload::abort`](ftps_core::Upload::abort). The server checks that `ABOR` came as exactly
//! that line, inside TLS, with no urgent data; the client checks that it read exactly the
//! replies owed: the closing `NOOP` must get the server's own `200 NOOP ok`, not a left-over
//! reply of the abort.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use ftps_core::{Capability, Client, Download, Error, SecureConnection};

use super::steps::{login_binary, noop_ok, open_retr, stor_tls, OPENING};
use super::transcript::protected_data;
use super::{
    each_pinned, ensure_kind, ensure_usable_error, next_call_unusable, pattern, pinned, scripted,
};
use crate::checks::{commands, ensure, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, DataConn, DataEnd, Record, ServerOptions, TlsVersion};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "ABOR-01",
            title: "ABOR during a protected download",
            needs: &[],
            run: abor_01::<C>,
        },
        Scenario {
            id: "ABOR-02",
            title: "ABOR after the transfer has finished",
            needs: &[],
            run: abor_02::<C>,
        },
        Scenario {
            id: "ABOR-03",
            title: "Aborting an upload",
            needs: &[],
            run: abor_03::<C>,
        },
        Scenario {
            id: "ABOR-04",
            title: "ABOR gets no answer",
            needs: &[],
            run: abor_04::<C>,
        },
    ]
}

/// How much of the big download the caller reads before aborting (ABOR-01's 64 KiB).
const READ_BEFORE_ABORT: usize = 64 * 1024;

/// The most the server writes of the big download: far more than the socket buffers hold, so
/// the transfer cannot end before the client closes the data connection.
const FLOOD_LIMIT: usize = 64 * 1024 * 1024;

/// The file of ABOR-02, sent whole before the caller aborts.
fn small_file() -> Vec<u8> {
    pattern(4096, 11)
}

// ---- server steps ----------------------------------------------------------------------------

/// `[secure-login]` · `C* TYPE I` · `S* 200` · `[epsv]` · `C* RETR big` · `S* 150` ·
/// `~data handshake`.
fn retr_big(c: &mut Conn) -> Result<DataConn, String> {
    login_binary(c)?;
    let mut data = open_retr(c, "big", OPENING)?;
    data.accept_tls()?;
    Ok(data)
}

/// `D* ...` until the client closes the data connection: the server's write fails (reset or
/// broken pipe). A write that times out means the client neither read nor closed.
fn flood_until_closed(data: &mut DataConn) -> Check {
    let chunk = pattern(64 * 1024, 5);
    for _ in 0..FLOOD_LIMIT / chunk.len() {
        if let Err(e) = data.write_all(&chunk) {
            let timed_out = ["os error 11", "timed out", "would block"]
                .iter()
                .any(|t| e.to_ascii_lowercase().contains(t));
            return ensure(!timed_out, || {
                format!("the client neither read nor closed the data connection: {e}")
            });
        }
    }
    Err(format!(
        "the client did not close the data connection after {FLOOD_LIMIT} bytes"
    ))
}

// ---- client steps ----------------------------------------------------------------------------

/// Reads exactly `n` bytes of the download.
fn read_part<C: SecureConnection>(download: &mut Download<'_, C>, n: usize) -> Check {
    let mut buf = vec![0u8; n];
    download
        .read_exact(&mut buf)
        .map_err(|e| format!("reading the first {n} bytes of the download: {e}"))
}

/// A3 with the reply checked: the `NOOP` gets the script's own `200 NOOP ok`, so the client
/// is not one reply behind (a left-over `226` would also pass as a positive reply).
pub(super) fn noop_in_sync<C: SecureConnection>(client: &mut Client<C>) -> Check {
    let reply = ok(client.noop(), "NOOP")?;
    ensure_eq(reply.code(), 200, "NOOP reply code")?;
    ensure_eq(reply.text().as_str(), "NOOP ok", "NOOP reply text")
}

// ---- record checks ---------------------------------------------------------------------------

/// D12 and A1 on the record: one `ABOR`, exactly that line, inside TLS, right after
/// `transfer`; no urgent data; nothing in the clear but `AUTH TLS`.
fn abor_on_the_wire(record: &Record, transfer: &str, then: &[&str]) -> Check {
    ensure_eq(record.urgent_bytes, 0, "bytes of TCP urgent data (D12)")?;
    ensure_eq(
        record.cleartext.as_slice(),
        b"AUTH TLS\r\n".as_slice(),
        "control bytes outside TLS",
    )?;
    let abors: Vec<_> = record
        .commands
        .iter()
        .filter(|(_, line)| line.to_ascii_uppercase().contains("ABOR"))
        .collect();
    ensure_eq(
        abors,
        vec![&(true, "ABOR".to_owned())],
        "the ABOR lines received, (protected, line)",
    )?;
    let sent = commands(record);
    let tail: Vec<&str> = [transfer, "ABOR"].iter().chain(then).copied().collect();
    ensure_eq(
        sent[sent.len().saturating_sub(tail.len())..].to_vec(),
        tail.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        "the last commands",
    )
}

// ---- ABOR-01 ---------------------------------------------------------------------------------

fn abor_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        scripted(
            options.clone(),
            |c| {
                let mut data = retr_big(c)?;
                flood_until_closed(&mut data)?;
                drop(data);
                c.expect("ABOR")?;
                c.send("426 Connection closed; transfer aborted.")?;
                c.send("226 Abort successful")?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let mut download = ok(client.retr("big"), "RETR big")?;
                read_part(&mut download, READ_BEFORE_ABORT)?;
                let e = err(download.abort(), "aborting the download")?;
                ensure_usable_error(&e, matches!(e, Error::Aborted { .. }), "Aborted", 426)?;
                noop_in_sync(&mut client)
            },
            |record| {
                abor_on_the_wire(record, "RETR big", &["NOOP"])?;
                protected_data(record, 1)
            },
        )?;
        abor_01_one_reply(h, options).map_err(|e| format!("one reply for both: {e}"))
    })
}

/// ABOR-01 against a server that answers the cut transfer and the `ABOR` with one reply
/// (Pure-FTPd): the client does not wait for a second reply until its time limit; it asks with
/// `NOOP` whether one is coming, and stays in sync.
fn abor_01_one_reply<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    const ONE_REPLY: &str = "226 Since you see this ABOR must've succeeded";
    scripted(
        options,
        |c| {
            let mut data = retr_big(c)?;
            flood_until_closed(&mut data)?;
            drop(data);
            c.expect("ABOR")?;
            c.send(ONE_REPLY)?;
            noop_ok(c)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut download = ok(client.retr("big"), "RETR big")?;
            read_part(&mut download, READ_BEFORE_ABORT)?;
            let started = Instant::now();
            let reply = ok(download.abort(), "aborting the download")?;
            ensure_eq(reply.to_string(), ONE_REPLY.to_owned(), "the one reply")?;
            ensure(started.elapsed() < Duration::from_secs(1), || {
                format!("the abort took {:?}", started.elapsed())
            })?;
            noop_in_sync(&mut client)
        },
        |record| {
            abor_on_the_wire(record, "RETR big", &["NOOP", "NOOP"])?;
            protected_data(record, 1)
        },
    )
}

// ---- ABOR-02 ---------------------------------------------------------------------------------

/// How the script of one ABOR-02 variant ends the transfer and answers `ABOR`.
#[derive(Clone, Copy, Debug)]
enum Finished {
    /// a) `226` instead of a `150`, so the client read it before any abort; `ABOR` gets one
    /// reply.
    ReadEarly(&'static str),
    /// b), c) The transfer's `226`, not read yet; then the `ABOR`'s reply.
    Unread(&'static str),
    /// c) A server without ABOR that answers it before the transfer's `226`.
    AborFirst(&'static str),
}

fn abor_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let variants = [
        (
            "a (226 read, ABOR 225)",
            Finished::ReadEarly("225 No transfer to ABOR."),
        ),
        (
            "a (226 read, ABOR 226)",
            Finished::ReadEarly("226 ABOR command successful."),
        ),
        (
            "b (226 unread, ABOR 225)",
            Finished::Unread("225 No transfer to ABOR."),
        ),
        (
            "b (226 unread, ABOR 226)",
            Finished::Unread("226 ABOR command successful."),
        ),
        (
            "c (226, then 502)",
            Finished::Unread("502 Command not implemented."),
        ),
        (
            "c (226, then 500)",
            Finished::Unread("500 Unknown command."),
        ),
        (
            "c (500 before the 226)",
            Finished::AborFirst("500 Unknown command."),
        ),
    ];
    for (name, variant) in variants {
        abor_02_variant(h, variant).map_err(|e| format!("variant {name}: {e}"))?;
    }
    Ok(())
}

const TRANSFER_COMPLETE: &str = "226 Transfer complete.";

fn abor_02_variant<C: SecureConnection>(h: &Harness<C>, variant: Finished) -> Check {
    let file = small_file();
    let served = file.clone();
    scripted(
        ServerOptions::default(),
        move |c| {
            login_binary(c)?;
            let listener = c.epsv()?;
            c.expect("RETR f")?;
            let early = matches!(variant, Finished::ReadEarly(_));
            c.send(if early { TRANSFER_COMPLETE } else { OPENING })?;
            let mut data = listener.accept(c)?;
            data.accept_tls()?;
            data.write_all(&served)?;
            data.close_notify()?;
            data.fin();
            match variant {
                Finished::ReadEarly(abor) => {
                    c.expect("ABOR")?;
                    c.send(abor)?;
                }
                Finished::Unread(abor) => {
                    c.send(TRANSFER_COMPLETE)?;
                    c.expect("ABOR")?;
                    c.send(abor)?;
                }
                Finished::AborFirst(abor) => {
                    c.expect("ABOR")?;
                    c.send(abor)?;
                    c.send(TRANSFER_COMPLETE)?;
                }
            }
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut download = ok(client.retr("f"), "RETR f")?;
            read_part(&mut download, 16)?;
            let reply = ok(download.abort(), "aborting the finished download")?;
            ensure_eq(
                reply.to_string(),
                TRANSFER_COMPLETE.to_owned(),
                "the transfer's final reply",
            )?;
            noop_in_sync(&mut client)
        },
        |record| abor_on_the_wire(record, "RETR f", &["NOOP"]),
    )
}

// ---- ABOR-03 ---------------------------------------------------------------------------------

/// The part of the upload the caller writes before aborting.
const PARTIAL_UPLOAD: usize = 10_000;

fn abor_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                let mut data = stor_tls(c)?;
                let (bytes, end) = data.read_to_end()?;
                let close_notify = data.client_close_notify();
                data.fin();
                // The strict server: an upload that ended with close_notify is complete.
                if close_notify || end == DataEnd::CloseNotify {
                    c.send("226 Transfer complete.")?;
                    return Err("the aborted upload ended with close_notify".into());
                }
                ensure_eq(bytes.len(), PARTIAL_UPLOAD, "upload bytes received")?;
                c.expect("ABOR")?;
                c.send("426 Failure reading network stream.")?;
                c.send("226 ABOR command successful.")?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let mut upload = ok(client.stor("f"), "STOR f")?;
                upload
                    .write_all(&[b'u'; PARTIAL_UPLOAD])
                    .and_then(|()| upload.flush())
                    .map_err(|e| format!("writing the partial upload: {e}"))?;
                let e = err(upload.abort(), "aborting the upload")?;
                ensure_usable_error(&e, matches!(e, Error::Aborted { .. }), "Aborted", 426)?;
                noop_in_sync(&mut client)
            },
            |record| {
                abor_on_the_wire(record, "STOR f", &["NOOP"])?;
                protected_data(record, 1)?;
                let d = &record.data[0];
                ensure(!d.client_close_notify, || {
                    "the aborted upload ended with close_notify".into()
                })?;
                ensure(
                    matches!(d.ended, Some(DataEnd::Fin | DataEnd::Reset)),
                    || format!("the data connection ended with {:?}", d.ended),
                )
            },
        )
    })
}

// ---- ABOR-04 ---------------------------------------------------------------------------------

/// The longest the abort may take: the control reply timeouts of A4 (2 s idle, 4 s whole
/// reply) and a margin.
const ABORT_BOUND: Duration = Duration::from_secs(6);

/// How long the server waits for the client to close the control connection.
const CLOSE_WAIT: Duration = Duration::from_secs(8);

fn abor_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // Not a TLS-version question: the two variants share the versions out between them.
    let later = if h.capabilities().supports(Capability::Tls13) {
        TlsVersion::Tls13
    } else {
        TlsVersion::Tls12
    };
    abor_04_variant(h, TlsVersion::Tls12, false).map_err(|e| format!("no reply at all: {e}"))?;
    abor_04_variant(h, later, true).map_err(|e| format!("426, then nothing: {e}"))
}

fn abor_04_variant<C: SecureConnection>(
    h: &Harness<C>,
    version: TlsVersion,
    send_426: bool,
) -> Check {
    scripted(
        pinned(version),
        move |c| {
            let mut data = retr_big(c)?;
            flood_until_closed(&mut data)?;
            drop(data);
            c.expect("ABOR")?;
            if send_426 {
                c.send("426 Connection closed; transfer aborted.")?;
                // The client may ask with NOOP whether a second reply is coming at all (as
                // for Pure-FTPd, which sends one); that gets no answer either.
                c.expect("NOOP")?;
            }
            // No answer to the ABOR: the client must give up and close the connection.
            c.expect_eof(CLOSE_WAIT).map(drop)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut download = ok(client.retr("big"), "RETR big")?;
            read_part(&mut download, READ_BEFORE_ABORT)?;
            let started = Instant::now();
            let e = err(download.abort(), "aborting without an answer")?;
            let took = started.elapsed();
            ensure(took <= ABORT_BOUND, || {
                format!("the abort took {took:?}, more than {ABORT_BOUND:?}")
            })?;
            ensure_kind(&e, matches!(e, Error::Timeout { .. }), "Timeout")?;
            ensure_usable(&e, false)?;
            ensure(!client.is_usable(), || {
                "the client still says it is usable".into()
            })?;
            next_call_unusable(&mut client)
        },
        move |record| {
            let then: &[&str] = if send_426 { &["NOOP"] } else { &[] };
            abor_on_the_wire(record, "RETR big", then)
        },
    )
}
