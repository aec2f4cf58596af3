//! DATA-01 … DATA-13: data connections (RFC 4217 §7, §10.2, §12; RFC 959 §4.1.2; RFC 2428).
//!
//! The scenarios are grouped by what they exercise: [`passive`] (EPSV, PASV and their
//! replies), [`active`] (PORT, EPRT), [`ordering`] (the 1xx reply and the data handshake in
//! time) and [`transfers`] (listings, uploads, refusals, failed data handshakes).

use std::time::{Duration, Instant};

use ftps_core::{Client, Error, SecureConnection};

use super::steps::{login_binary, noop_ok, send_protected, OPENING};
use super::transcript::protected_data;
use super::{login_download_noop, scripted};
use crate::checks::{ensure, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, DataListener, Record, ServerOptions};

mod active;
mod ordering;
mod passive;
mod transfers;

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "DATA-01",
            title: "EPSV and a protected RETR, connecting to the control peer",
            needs: &[],
            run: passive::data_01::<C>,
        },
        Scenario {
            id: "DATA-02",
            title: "PASV: the address in the reply is ignored by default",
            needs: &[],
            run: passive::data_02::<C>,
        },
        Scenario {
            id: "DATA-03",
            title: "Active mode (PORT, EPRT): the client is still the TLS client",
            needs: &[],
            run: active::data_03::<C>,
        },
        Scenario {
            id: "DATA-04",
            title: "EPSV not supported: fall back to PASV",
            needs: &[],
            run: passive::data_04::<C>,
        },
        Scenario {
            id: "DATA-05",
            title: "Passive reply formats",
            needs: &[],
            run: passive::data_05::<C>,
        },
        Scenario {
            id: "DATA-06",
            title: "The 1xx reply comes before the data TLS handshake",
            needs: &[],
            run: ordering::data_06::<C>,
        },
        Scenario {
            id: "DATA-07",
            title: "The server is ready for the handshake before the transfer command",
            needs: &[],
            run: ordering::data_07::<C>,
        },
        Scenario {
            id: "DATA-08",
            title: "LIST, NLST and MLSD are protected like RETR",
            needs: &[],
            run: transfers::data_08::<C>,
        },
        Scenario {
            id: "DATA-09",
            title: "Uploads: STOR, APPE, STOU",
            needs: &[],
            run: transfers::data_09::<C>,
        },
        Scenario {
            id: "DATA-10",
            title: "A transfer refused before any 1xx",
            needs: &[],
            run: transfers::data_10::<C>,
        },
        Scenario {
            id: "DATA-11",
            title: "Active mode: the server never connects",
            needs: &[],
            run: active::data_11::<C>,
        },
        Scenario {
            id: "DATA-12",
            title: "The data TLS handshake fails after the 1xx",
            needs: &[],
            run: transfers::data_12::<C>,
        },
        Scenario {
            id: "DATA-13",
            title: "Multi-line 1xx replies, and replies that run together on tiny transfers",
            needs: &[],
            run: ordering::data_13::<C>,
        },
    ]
}

// ---- shared pieces ---------------------------------------------------------------------------

/// `n` bytes of a pattern that is not all one value, so a shifted or cut copy shows.
fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// On `listener`: `C* RETR path` · `S* 150` · `D tcp` · the protected download of `body`
/// ([`send_protected`]) · `S* 226 Transfer complete.`
fn retr_on(c: &mut Conn, listener: &DataListener, path: &str, body: &[u8]) -> Check {
    c.expect(&format!("RETR {path}"))?;
    c.send(OPENING)?;
    let data = listener.accept(c)?;
    send_protected(data, body)?;
    c.send("226 Transfer complete.")
}

/// A protected download of `body` as `f`, checked from both ends. The server plays
/// `[secure-login]` · `TYPE I` · `[epsv]`, then `serve` (given the listener and the bytes to
/// send) and the closing NOOP; the client connects, logs in, downloads and compares
/// ([`login_download_noop`]); the record must show one data connection, protected, and pass
/// `record`.
fn download_served<C, F>(
    h: &Harness<C>,
    options: ServerOptions,
    body: Vec<u8>,
    serve: F,
    record: impl FnOnce(&Record) -> Check,
) -> Check
where
    C: SecureConnection,
    F: FnOnce(&mut Conn, DataListener, &[u8]) -> Check + Send + 'static,
{
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            login_binary(c)?;
            let listener = c.epsv()?;
            serve(c, listener, &sent)?;
            noop_ok(c)
        },
        |server| login_download_noop(h, server, "f", &body),
        |rec| {
            protected_data(rec, 1)?;
            record(rec)
        },
    )
}

/// A3 after an error: usable → NOOP gets its own 200; unusable → the next call fails fast
/// with [`Error::Unusable`].
fn after_error_a3<C: SecureConnection>(client: &mut Client<C>, e: &Error) -> Check {
    if e.connection_usable() {
        return ok(client.noop(), "NOOP after the error").map(drop);
    }
    let started = Instant::now();
    let next = err(client.noop(), "NOOP on an unusable connection")?;
    ensure(matches!(next, Error::Unusable), || {
        format!("expected Unusable, got {next:?}")
    })?;
    ensure(started.elapsed() < Duration::from_millis(200), || {
        "the call on an unusable connection did not fail fast".into()
    })
}
