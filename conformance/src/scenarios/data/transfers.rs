//! DATA-08, DATA-09, DATA-10, DATA-12: listings and uploads are protected like RETR, a
//! transfer refused before any 1xx, and a data handshake that fails after it.

use std::io::Write;
use std::time::Duration;

use ftps_core::listing::EntryKind;
use ftps_core::{Error, Phase, SecureConnection};

use super::{after_error_a3, payload};
use crate::checks::{a2_data_protection, commands, ensure, ensure_eq, ensure_usable, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{login_binary, noop_ok, open_retr, send_protected, OPENING};
use crate::scenarios::transcript::{private_data_count, protected_data};
use crate::scenarios::{
    each_pinned, ensure_kind, ensure_usable_error, ensure_usable_reply, final_noop,
    login_failed_download, scripted,
};
use crate::server::{Conn, DataConn, DataEnd, ServerOptions};

const LIST_TEXT: &[u8] = b"-rw-r--r--    1 ftp      ftp          4096 Jan 01 12:00 a.txt\r\n\
drwxr-xr-x    2 ftp      ftp          4096 Jan 01 12:00 sub\r\n";
const NLST_TEXT: &[u8] = b"a.txt\r\nsub\r\n";
const MLSD_TEXT: &[u8] = b"type=file;size=4096;modify=20260101120000; a.txt\r\n\
type=dir;modify=20260101120000; sub\r\n";

pub(super) fn data_08<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                login_binary(c)?;
                for (verb, listing) in [
                    ("LIST", LIST_TEXT),
                    ("NLST", NLST_TEXT),
                    ("MLSD", MLSD_TEXT),
                ] {
                    let listener = c.epsv()?;
                    c.expect(verb)?;
                    c.send("150 Here comes the directory listing.")?;
                    let data = listener.accept(c)?;
                    send_protected(data, listing)?;
                    c.send("226 Directory send OK.")?;
                }
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let list = ok(client.list(None), "LIST")?;
                ensure_eq(
                    list,
                    vec![
                        "-rw-r--r--    1 ftp      ftp          4096 Jan 01 12:00 a.txt".to_owned(),
                        "drwxr-xr-x    2 ftp      ftp          4096 Jan 01 12:00 sub".to_owned(),
                    ],
                    "LIST lines",
                )?;
                let names = ok(client.nlst(None), "NLST")?;
                let names: Vec<&[u8]> = names.iter().map(|p| p.as_bytes()).collect();
                ensure_eq(names, vec![&b"a.txt"[..], b"sub"], "NLST names")?;
                let entries = ok(client.mlsd(None), "MLSD")?
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("a valid MLSD line was refused: {e}"))?;
                ensure_eq(entries.len(), 2, "MLSD entries")?;
                ensure_eq(entries[0].name.as_bytes(), b"a.txt", "first MLSD name")?;
                ensure_eq(entries[0].kind(), Some(EntryKind::File), "a.txt type")?;
                ensure_eq(entries[0].size(), Some(4096), "a.txt size")?;
                ensure_eq(entries[1].name.as_bytes(), b"sub", "second MLSD name")?;
                ensure_eq(entries[1].kind(), Some(EntryKind::Dir), "sub type")?;
                final_noop(&mut client)
            },
            |record| {
                protected_data(record, 3)?;
                ensure(
                    !commands(record).iter().any(|c| c.starts_with("PROT C")),
                    || "the client moved a listing to Clear".into(),
                )
            },
        )
    })
}

/// The server's side of one protected upload: the handshake, the bytes up to the client's
/// close_notify, its FIN, then 226. Fails unless the bytes equal `want`.
fn receive_protected(c: &mut Conn, mut data: DataConn, want: &[u8], what: &str) -> Check {
    data.accept_tls()?;
    let (bytes, end) = data.read_to_end()?;
    ensure_eq(
        end,
        DataEnd::CloseNotify,
        &format!("{what}: end of the upload"),
    )?;
    ensure(bytes == want, || {
        format!(
            "{what}: the server got {} bytes, expected {} (equal: false)",
            bytes.len(),
            want.len()
        )
    })?;
    let tcp_end = data.wait_client_close(Duration::from_secs(1));
    ensure_eq(
        tcp_end,
        DataEnd::Fin,
        &format!("{what}: TCP end after close_notify"),
    )?;
    data.fin();
    c.send("226 Transfer complete.")
}

pub(super) fn data_09<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        let stor = payload(9_000, 12);
        let appe = payload(3_000, 13);
        let stou = payload(1_000, 14);
        let (s_stor, s_appe, s_stou) = (stor.clone(), appe.clone(), stou.clone());
        scripted(
            options,
            move |c| {
                login_binary(c)?;
                for (command, opening, want) in [
                    ("STOR f", "150 Ok to send data.", &s_stor),
                    ("APPE f", "150 Ok to send data.", &s_appe),
                    ("STOU", "150 FILE: f.1", &s_stou),
                ] {
                    let listener = c.epsv()?;
                    c.expect(command)?;
                    c.send(opening)?;
                    let data = listener.accept(c)?;
                    receive_protected(c, data, want, command)?;
                }
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let mut up = ok(client.stor("f"), "STOR f")?;
                up.write_all(&stor)
                    .map_err(|e| format!("STOR write: {e}"))?;
                ok(up.finish(), "STOR finish")?;
                let mut up = ok(client.appe("f"), "APPE f")?;
                up.write_all(&appe)
                    .map_err(|e| format!("APPE write: {e}"))?;
                ok(up.finish(), "APPE finish")?;
                let mut up = ok(client.stou(), "STOU")?;
                up.write_all(&stou)
                    .map_err(|e| format!("STOU write: {e}"))?;
                let outcome = ok(up.finish(), "STOU finish")?;
                ensure_eq(
                    outcome.unique_name().map(|p| p.as_bytes().to_vec()),
                    Some(b"f.1".to_vec()),
                    "STOU name",
                )?;
                ensure_eq(outcome.bytes(), stou.len() as u64, "STOU bytes")?;
                final_noop(&mut client)
            },
            |record| {
                protected_data(record, 3)?;
                for (i, d) in record.data.iter().enumerate() {
                    ensure(d.client_close_notify, || {
                        format!("upload {i} ended without the client's close_notify")
                    })?;
                }
                Ok(())
            },
        )
    })
}

pub(super) fn data_10<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        for (code, reply) in [
            (550, "550 No such file."),
            (450, "450 Requested file action not taken."),
            (425, "425 Can't open data connection."),
            (530, "530 Not logged in."),
        ] {
            scripted(
                options.clone(),
                move |c| {
                    login_binary(c)?;
                    let listener = c.epsv()?;
                    let mut data = listener.accept(c)?;
                    c.expect("RETR missing")?;
                    c.send(reply)?;
                    // The client closes its data connection without a handshake (A6).
                    let first = data.peek_first_byte(Duration::from_secs(2))?;
                    ensure_eq(first, None, "first byte on the refused data connection")?;
                    let end = data.wait_client_close(Duration::from_secs(2));
                    ensure(matches!(end, DataEnd::Fin | DataEnd::Reset), || {
                        format!("A6: the client did not close the data connection ({end:?})")
                    })?;
                    noop_ok(c)
                },
                |server| {
                    let (mut client, e, _) =
                        login_failed_download(h, server, "missing", "RETR missing")?;
                    ensure_usable_reply(&e, code)?;
                    final_noop(&mut client)
                },
                |record| {
                    ensure_eq(record.data.len(), 1, "data connections")?;
                    ensure(!record.data[0].tls, || {
                        "a TLS handshake ran on the refused data connection".into()
                    })
                },
            )
            .map_err(|e| format!("{code}: {e}"))?;
        }
        Ok(())
    })
}

/// How the server fails the data handshake.
#[derive(Clone, Copy, Debug)]
enum HandshakeFailure {
    /// A fatal handshake_failure alert, then FIN.
    Alert,
    /// A FIN after the ClientHello.
    Fin,
}

pub(super) fn data_12<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        for (how, reply, code) in [
            (
                HandshakeFailure::Alert,
                "522 SSL connection failed; session reuse required: see require_ssl_reuse \
                 option in vsftpd.conf man page",
                522,
            ),
            (HandshakeFailure::Fin, "522 SSL handshake failed.", 522),
            (
                HandshakeFailure::Alert,
                "425 Unable to build data connection: Operation not permitted",
                425,
            ),
        ] {
            data_12_reply(h, options.clone(), how, reply, code)
                .map_err(|e| format!("{how:?} then {code}: {e}"))?;
        }
        data_12_closed(h, options).map_err(|e| format!("control closed (Pure-FTPd): {e}"))
    })
}

/// `[epsv]`, RETR, 150, the data connection accepted and its handshake failed as `how`.
fn failed_data_handshake(c: &mut Conn, how: HandshakeFailure) -> Check {
    login_binary(c)?;
    let mut data = open_retr(c, "f", OPENING)?;
    match how {
        HandshakeFailure::Alert => data.send_alert(40)?,
        HandshakeFailure::Fin => {
            let first = data.peek_first_byte(Duration::from_secs(2))?;
            ensure_eq(first, Some(0x16), "first byte on the data connection")?;
        }
    }
    data.fin();
    Ok(())
}

/// DATA-12 with a final reply: the handshake fails as `how`, then the server answers `reply`.
fn data_12_reply<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    how: HandshakeFailure,
    reply: &'static str,
    code: u16,
) -> Check {
    scripted(
        options,
        move |c| {
            failed_data_handshake(c, how)?;
            c.send(reply)?;
            noop_ok(c)
        },
        |server| {
            let (mut client, e, _) = login_failed_download(h, server, "f", "RETR f")?;
            ensure_usable_error(
                &e,
                matches!(
                    e,
                    Error::Tls {
                        phase: Phase::DataHandshake,
                        ..
                    }
                ),
                "a data-handshake TLS error",
                code,
            )?;
            final_noop(&mut client)
        },
        |record| private_data_count(record, 1),
    )
}

/// DATA-12 as Pure-FTPd: the handshake fails, then the control connection closes.
fn data_12_closed<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        options,
        |c| {
            failed_data_handshake(c, HandshakeFailure::Fin)?;
            // The whole session process exits: the control connection closes without a reply.
            c.fin();
            Ok(())
        },
        |server| {
            let (mut client, e, _) = login_failed_download(h, server, "f", "RETR f")?;
            ensure_kind(
                &e,
                matches!(e, Error::ConnectionClosed { .. }),
                "ConnectionClosed",
            )?;
            ensure_usable(&e, false)?;
            after_error_a3(&mut client, &e)
        },
        |record| a2_data_protection(record, true),
    )
}
