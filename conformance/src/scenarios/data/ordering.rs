//! DATA-06, DATA-07, DATA-13: the 1xx reply and the data handshake in time: which comes
//! first, replies that arrive early, multi-line 1xx replies.

use std::time::{Duration, Instant};

use ftps_core::SecureConnection;

use super::{after_error_a3, download_served, payload};
use crate::checks::{ensure, ensure_eq, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{login_binary, noop_ok, send_protected, OPENING};
use crate::scenarios::transcript::protected_data;
use crate::scenarios::{each_pinned, final_noop, scripted};
use crate::server::ServerOptions;

pub(super) fn data_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        let variants: [(&str, &'static str, Duration); 3] = [
            ("a", OPENING, Duration::ZERO),
            (
                "b",
                "125 Data connection already open; transfer starting.",
                Duration::ZERO,
            ),
            ("c", OPENING, Duration::from_millis(500)),
        ];
        for (name, opening, delay) in variants {
            download_served(
                h,
                options.clone(),
                payload(4_000, 9),
                move |c, listener, body| {
                    c.expect("RETR f")?;
                    let data = listener.accept(c)?;
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                    c.send(opening)?;
                    send_protected(data, body)?;
                    c.send("226 Transfer complete.")
                },
                |_| Ok(()),
            )
            .map_err(|e| format!("variant {name}: {e}"))?;
        }
        Ok(())
    })
}

pub(super) fn data_07<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| data_07_a(h, options)).map_err(|e| format!("a: {e}"))?;
    data_07_b(h).map_err(|e| format!("b: {e}"))
}

/// pyftpdlib: the server's TLS accept starts when the data TCP connection is accepted, before
/// the transfer command arrives; it answers 125.
fn data_07_a<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    download_served(
        h,
        options,
        payload(7_000, 10),
        |c, listener, body| {
            let data = listener.accept(c)?;
            let sent = body.to_vec();
            let tls = std::thread::Builder::new()
                .name("data-07a-tls".into())
                .spawn(move || send_protected(data, &sent))
                .map_err(|e| format!("cannot start the data thread: {e}"))?;
            c.expect("RETR f")?;
            c.send("125 Data connection already open; transfer starting.")?;
            tls.join()
                .map_err(|_| "the data thread panicked".to_owned())??;
            c.send("226 Transfer complete.")
        },
        |_| Ok(()),
    )
}

/// A server that sends the 1xx only after the data handshake: `Ok`, or a bounded timeout.
fn data_07_b<C: SecureConnection>(h: &Harness<C>) -> Check {
    let body = payload(3_000, 11);
    let sent = body.clone();
    let options = ServerOptions {
        accept_timeout: Duration::from_secs(4),
        ..ServerOptions::default()
    };
    scripted(
        options,
        move |c| {
            login_binary(c)?;
            let listener = c.epsv()?;
            c.expect("RETR f")?;
            let mut data = listener.accept(c)?;
            match data.accept_tls() {
                Ok(_) => {
                    c.send(OPENING)?;
                    data.write_all(&sent)?;
                    data.close_notify()?;
                    data.wait_client_close(Duration::from_secs(1));
                    data.fin();
                    c.send("226 Transfer complete.")?;
                    noop_ok(c)
                }
                Err(_) => {
                    // The client gave up waiting: it aborts, or it drops the connection.
                    match c.recv() {
                        Ok(line) if line == "ABOR" => {
                            c.send("426 Connection closed; transfer aborted.")?;
                            c.send("226 Abort successful.")?;
                            noop_ok(c)
                        }
                        Ok(line) => Err(format!("after the timeout the client sent {line:?}")),
                        Err(_) => Ok(()),
                    }
                }
            }
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let started = Instant::now();
            let mut file = Vec::new();
            match client.download("f", &mut file) {
                Ok(_) => {
                    ensure(file == body, || "downloaded bytes differ".into())?;
                    final_noop(&mut client)
                }
                Err(e) => {
                    let elapsed = started.elapsed();
                    ensure(e.is_timeout(), || {
                        format!("expected Ok or a timeout, got {e:?}")
                    })?;
                    let bound = Harness::<C>::timeouts().data_idle + Duration::from_secs(1);
                    ensure(elapsed <= bound, || {
                        format!("the timeout took {elapsed:?}, more than {bound:?}")
                    })?;
                    after_error_a3(&mut client, &e)
                }
            }
        },
        |_| Ok(()),
    )
}

pub(super) fn data_13<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        data_13_multiline(h, options.clone()).map_err(|e| format!("a: {e}"))?;
        data_13_empty(h, options.clone(), true).map_err(|e| format!("b (one record): {e}"))?;
        data_13_empty(h, options.clone(), false)
            .map_err(|e| format!("b (226 right after FIN): {e}"))?;
        data_13_early_226(h, options).map_err(|e| format!("c: {e}"))
    })
}

/// a) Pure-FTPd's multi-line 150.
fn data_13_multiline<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    download_served(
        h,
        options,
        payload(4_096, 15),
        |c, listener, body| {
            c.expect("RETR f")?;
            c.send_raw(b"150-Accepted data connection\r\n150 4.0 kbytes to download\r\n")?;
            let data = listener.accept(c)?;
            send_protected(data, body)?;
            c.send("226-File successfully transferred\r\n226 0.001 seconds")
        },
        |_| Ok(()),
    )
}

/// b) A zero-byte file. `one_record`: the 150 and the 226 in one TLS record, before the data
/// handshake; otherwise the 226 right after the server's close_notify and FIN.
fn data_13_empty<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    one_record: bool,
) -> Check {
    scripted(
        options,
        move |c| {
            login_binary(c)?;
            let listener = c.epsv()?;
            c.expect("RETR empty")?;
            if one_record {
                c.send_raw(
                    b"150 Opening BINARY mode data connection for empty (0 bytes).\r\n\
                      226 Transfer complete.\r\n",
                )?;
            } else {
                c.send("150 Opening BINARY mode data connection for empty (0 bytes).")?;
            }
            let mut data = listener.accept(c)?;
            data.accept_tls()?;
            data.close_notify()?;
            data.fin();
            if !one_record {
                c.send("226 Transfer complete.")?;
            }
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut file = Vec::new();
            let outcome = ok(client.download("empty", &mut file), "RETR empty")?;
            ensure_eq(file.len(), 0, "downloaded bytes")?;
            ensure_eq(outcome.bytes(), 0, "bytes in the outcome")?;
            ensure_eq(outcome.reply().code(), 226, "final reply")?;
            final_noop(&mut client)
        },
        |record| protected_data(record, 1),
    )
}

/// c) The 226 arrives while half of the data is still to come.
fn data_13_early_226<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    download_served(
        h,
        options,
        payload(20_000, 16),
        |c, listener, body| {
            c.expect("RETR f")?;
            c.send(OPENING)?;
            let mut data = listener.accept(c)?;
            data.accept_tls()?;
            let (first, rest) = body.split_at(body.len() / 2);
            data.write_all(first)?;
            c.send("226 Transfer complete.")?;
            std::thread::sleep(Duration::from_millis(200));
            data.write_all(rest)?;
            data.close_notify()?;
            data.wait_client_close(Duration::from_secs(1));
            data.fin();
            Ok(())
        },
        |_| Ok(()),
    )
}
