//! CLOSE-01 … CLOSE-08: the end of data: close_notify, FIN, truncation (RFC 4217 §12.6-12.7,
//! RFC 8446 §6.1, RFC 5246 §7.2.1, RFC 959 §3.3 and §5.4; SCENARIOS decision D4).

use std::io::{self, Read, Write};
use std::time::Duration;

use ftps_core::{Error, SecureConnection};

use super::steps::{login_binary, noop_ok, open_retr, retr_tls, send_file, stor_tls, OPENING_F};
use super::{
    connect_login_with, each_supported_version, ensure_shutdown, ensure_usable_error,
    ensure_usable_reply, final_noop, login_failed_download, next_call_unusable, pattern, pinned,
    scripted,
};
use crate::checks::{
    a2_data_protection, describe, ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check,
};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{DataEnd, ServerOptions, TlsVersion};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "CLOSE-01",
            title: "A download ends with close_notify, then 226",
            needs: &[],
            run: close_01::<C>,
        },
        Scenario {
            id: "CLOSE-02",
            title: "A download ends with a bare TCP FIN, then 226",
            needs: &[],
            run: close_02::<C>,
        },
        Scenario {
            id: "CLOSE-03",
            title: "A bare FIN, then a negative or missing final reply",
            needs: &[],
            run: close_03::<C>,
        },
        Scenario {
            id: "CLOSE-04",
            title: "close_notify, then a negative final reply",
            needs: &[],
            run: close_04::<C>,
        },
        Scenario {
            id: "CLOSE-05",
            title: "On downloads, the client answers the server's close_notify",
            needs: &[],
            run: close_05::<C>,
        },
        Scenario {
            id: "CLOSE-06",
            title: "An upload ends with close_notify, a half-close and a bounded drain",
            needs: &[],
            run: close_06::<C>,
        },
        Scenario {
            id: "CLOSE-07",
            title: "An upload refused in the middle",
            needs: &[],
            run: close_07::<C>,
        },
        Scenario {
            id: "CLOSE-08",
            title: "An upload the caller did not finish never looks complete",
            needs: &[],
            run: close_08::<C>,
        },
    ]
}

/// The file of the download scenarios: several TLS records long.
fn content() -> Vec<u8> {
    pattern(50_000, 3)
}

fn close_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_supported_version(h, |version| {
        let file = content();
        let sent = file.clone();
        scripted(
            pinned(version),
            move |c| {
                let data = retr_tls(c)?;
                send_file(c, data, &sent)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let mut got = Vec::new();
                let outcome = ok(client.download("f", &mut got), "RETR f")?;
                ensure(got == file, || {
                    format!("{} bytes received, not the {} sent", got.len(), file.len())
                })?;
                ensure_eq(outcome.bytes(), file.len() as u64, "reported bytes")?;
                ensure_eq(outcome.reply().code(), 226, "final reply")?;
                ensure_shutdown(&outcome, Some(true))?;
                final_noop(&mut client)
            },
            |record| a2_data_protection(record, true),
        )
    })
}

fn close_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_supported_version(h, |version| {
        for strict in [false, true] {
            bare_fin_then_226(h, version, strict, None)
                .map_err(|e| format!("strict={strict}: {e}"))?;
        }
        // The 150 reply announced the size (vsftpd, ProFTPD): all of it before the bare FIN is
        // D4's flagged Ok; fewer bytes are a truncation even without strict TLS EOF.
        let size = content().len() as u64;
        for announced in [size, size + 1] {
            bare_fin_then_226(h, version, false, Some(announced))
                .map_err(|e| format!("150 announcing {announced} of {size} bytes: {e}"))?;
        }
        Ok(())
    })
}

/// CLOSE-02 once: the file, a bare FIN and 226, after a 150 that announces `announced`
/// bytes if given; the client with strict TLS EOF or not.
fn bare_fin_then_226<C: SecureConnection>(
    h: &Harness<C>,
    version: TlsVersion,
    strict: bool,
    announced: Option<u64>,
) -> Check {
    let file = content();
    let sent = file.clone();
    let opening = match announced {
        Some(size) => format!("{OPENING_F} ({size} bytes)."),
        None => OPENING_F.to_owned(),
    };
    let short_of_announced = announced.is_some_and(|size| size > file.len() as u64);
    scripted(
        pinned(version),
        move |c| {
            login_binary(c)?;
            let mut data = open_retr(c, "f", &opening)?;
            data.accept_tls()?;
            data.write_all(&sent)?;
            data.fin();
            c.send("226 Transfer complete.")?;
            noop_ok(c)
        },
        |server| {
            let mut client =
                connect_login_with(h, server, |b| b.strict_tls_eof(strict), "connect")?;
            let mut got = Vec::new();
            let result = client.download("f", &mut got);
            ensure(got.len() <= file.len() && got == file[..got.len()], || {
                "the bytes given to the caller are not the file's".into()
            })?;
            if strict || short_of_announced {
                let e = err(result, "RETR f")?;
                ensure(matches!(e, Error::Truncated { .. }), || {
                    format!("expected a truncated transfer, got {e:?}")
                })?;
                ensure_code(&e, 226)?;
                ensure_usable(&e, true)?;
            } else {
                let outcome = ok(result, "RETR f")?;
                ensure_eq(got.len(), file.len(), "bytes received")?;
                ensure_shutdown(&outcome, Some(false))?;
            }
            final_noop(&mut client)
        },
        |_| Ok(()),
    )
}

/// How CLOSE-03's server ends the transfer after the partial data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// a, b: FIN, then this negative reply.
    FinThen(&'static str),
    /// c: FIN, then the control connection closes without a reply.
    FinThenClose,
    /// d: FIN, then no reply within the client's control time limit.
    FinThenSilence,
    /// e: RST in the middle of the stream, then this reply.
    RstThen(&'static str),
}

fn close_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let endings = [
        (
            "a",
            Ending::FinThen("426 Connection closed; transfer aborted."),
        ),
        (
            "b",
            Ending::FinThen("451 Requested action aborted: local error in processing."),
        ),
        ("c", Ending::FinThenClose),
        (
            "e",
            Ending::RstThen("426 Connection closed; transfer aborted."),
        ),
    ];
    each_supported_version(h, |version| {
        for (name, ending) in endings {
            close_03_variant(h, pinned(version), ending)
                .map_err(|e| format!("variant {name}: {e}"))?;
        }
        Ok(())
    })?;
    // d waits for the control time limit, which does not depend on the TLS version: run once.
    close_03_variant(h, ServerOptions::default(), Ending::FinThenSilence)
        .map_err(|e| format!("variant d: {e}"))
}

/// One CLOSE-03 variant: 20 000 bytes of the file, then the server ends as `ending` says.
fn close_03_variant<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    ending: Ending,
) -> Check {
    // Announce more than is sent: the server "fails" after 20 000 of 50 000 bytes.
    let partial = pattern(20_000, 4);
    let sent = partial.clone();
    scripted(
        options,
        move |c| {
            let mut data = retr_tls(c)?;
            data.write_all(&sent)?;
            match ending {
                Ending::FinThen(reply) => {
                    data.fin();
                    c.send(reply)?;
                    noop_ok(c)
                }
                Ending::FinThenClose => {
                    data.fin();
                    c.fin();
                    Ok(())
                }
                Ending::FinThenSilence => {
                    data.fin();
                    // The client's reply time limit is 2 s idle; it must give up and close.
                    c.expect_eof(Duration::from_secs(4)).map(drop)
                }
                Ending::RstThen(reply) => {
                    // Let the bytes reach the client before the reset.
                    std::thread::sleep(Duration::from_millis(50));
                    data.rst();
                    c.send(reply)?;
                    noop_ok(c)
                }
            }
        },
        |server| {
            let (mut client, e, got) = login_failed_download(h, server, "f", "RETR f")?;
            ensure(
                got.len() <= partial.len() && got == partial[..got.len()],
                || "the bytes given to the caller are not the file's".into(),
            )?;
            match ending {
                Ending::FinThen(_) | Ending::RstThen(_) => {
                    let code = match ending {
                        Ending::FinThen(r) | Ending::RstThen(r) => r[..3].parse().unwrap_or(0),
                        _ => 0,
                    };
                    match &e {
                        Error::Truncated {
                            bytes,
                            reply: Some(_),
                            ..
                        } => ensure_eq(*bytes, got.len() as u64, "bytes in the error"),
                        other => Err(format!("expected a truncated transfer, got {other:?}")),
                    }?;
                    if matches!(ending, Ending::FinThen(_)) {
                        ensure_eq(got.len(), partial.len(), "bytes received")?;
                    }
                    ensure_code(&e, code)?;
                    ensure_usable(&e, true)?;
                    final_noop(&mut client)
                }
                Ending::FinThenClose => {
                    ensure(matches!(e, Error::Truncated { reply: None, .. }), || {
                        format!("expected a truncated transfer without a reply, got {e:?}")
                    })?;
                    ensure_usable(&e, false)?;
                    ensure_unusable_after(&mut client)
                }
                Ending::FinThenSilence => {
                    ensure(e.is_timeout(), || {
                        format!("expected a time-out, got {e:?} ({})", describe(&e))
                    })?;
                    ensure_usable(&e, false)?;
                    ensure_unusable_after(&mut client)
                }
            }
        },
        |_| Ok(()),
    )
}

/// A3 for "unusable": the client says so, and the next call fails at once with a typed error.
fn ensure_unusable_after<C: SecureConnection>(client: &mut ftps_core::Client<C>) -> Check {
    ensure(!client.is_usable(), || {
        "the client still says it is usable".into()
    })?;
    next_call_unusable(client)
}

fn close_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let replies = [
        "451 Requested action aborted",
        "426 Connection closed; transfer aborted.",
        "535 Failed security check.",
        "552 Requested file action aborted. Exceeded storage allocation.",
    ];
    each_supported_version(h, |version| {
        for reply in replies {
            let file = content();
            let sent = file.clone();
            scripted(
                pinned(version),
                move |c| {
                    let mut data = retr_tls(c)?;
                    data.write_all(&sent)?;
                    data.close_notify()?;
                    data.fin();
                    c.send(reply)?;
                    noop_ok(c)
                },
                |server| {
                    let (mut client, e, _) = login_failed_download(h, server, "f", "RETR f")?;
                    ensure_usable_reply(&e, reply[..3].parse().unwrap_or(0))?;
                    final_noop(&mut client)
                },
                |_| Ok(()),
            )
            .map_err(|e| format!("reply {}: {e}", &reply[..3]))?;
        }
        Ok(())
    })
}

fn close_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let file = content();
    let sent = file.clone();
    scripted(
        pinned(TlsVersion::Tls12),
        move |c| {
            let mut data = retr_tls(c)?;
            data.write_all(&sent)?;
            data.close_notify()?;
            // The strict server (vsftpd's strict_ssl_write_shutdown) waits 1 s for the answer.
            let answered = data.wait_client_close(Duration::from_secs(1)) == DataEnd::CloseNotify
                || data.client_close_notify();
            data.fin();
            if !answered {
                c.send("426 Failure writing network stream.")?;
                noop_ok(c)?;
                return Err("the client did not answer the server's close_notify".into());
            }
            c.send("226 Transfer complete.")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut got = Vec::new();
            let outcome = ok(client.download("f", &mut got), "RETR f")?;
            ensure(got == file, || "the file differs".into())?;
            ensure_shutdown(&outcome, Some(true))?;
            final_noop(&mut client)
        },
        |record| {
            ensure(
                record.data.first().is_some_and(|d| d.client_close_notify),
                || "the server did not see the client's close_notify".into(),
            )
        },
    )
}

fn close_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_supported_version(h, |version| {
        let file = pattern(300_000, 6);
        let expected = file.clone();
        scripted(
            pinned(version),
            move |c| {
                let mut data = stor_tls(c)?;
                let (got, end) = data.read_to_end()?;
                if end != DataEnd::CloseNotify {
                    data.fin();
                    c.send("426 Failure reading network stream.")?;
                    noop_ok(c)?;
                    return Err(format!("the upload ended with {end:?}, not close_notify"));
                }
                // After its close_notify the client shuts down its write half: a FIN.
                let after = data.wait_client_close(Duration::from_secs(1));
                if after != DataEnd::Fin {
                    return Err(format!(
                        "after close_notify the client's side ended with {after:?}, not a FIN"
                    ));
                }
                if got != expected {
                    return Err(format!(
                        "the server received {} bytes, not the {} uploaded",
                        got.len(),
                        expected.len()
                    ));
                }
                data.close_notify()?;
                // A client that closed without reading the close_notify makes its kernel
                // answer it with an RST, which leaves an error on the socket.
                std::thread::sleep(Duration::from_millis(150));
                let late = data.take_socket_error();
                data.fin();
                c.send("226 Transfer complete.")?;
                noop_ok(c)?;
                match late {
                    Some(e) => Err(format!(
                        "the client reset the data connection after its FIN ({e})"
                    )),
                    None => Ok(()),
                }
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let outcome = ok(client.upload("f", &mut file.as_slice()), "STOR f")?;
                ensure_eq(outcome.bytes(), file.len() as u64, "reported bytes")?;
                ensure_shutdown(&outcome, Some(true))?;
                final_noop(&mut client)
            },
            |record| {
                let d = record
                    .data
                    .first()
                    .ok_or_else(|| "no data connection".to_owned())?;
                ensure(d.client_close_notify, || {
                    "the server did not see the client's close_notify".into()
                })?;
                ensure(d.ended != Some(DataEnd::Reset), || {
                    "the client reset the data connection".into()
                })
            },
        )
    })
}

/// CLOSE-07: how the server cuts the upload.
#[derive(Clone, Copy, Debug)]
enum Cut {
    Rst,
    Alert,
}

fn close_07<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_supported_version(h, |version| {
        for cut in [Cut::Rst, Cut::Alert] {
            close_07_variant(h, version, cut).map_err(|e| format!("{cut:?}: {e}"))?;
        }
        Ok(())
    })
}

/// One CLOSE-07 variant: the server cuts an 8 MiB upload after 1 MiB as `cut` says, then 552.
fn close_07_variant<C: SecureConnection>(h: &Harness<C>, version: TlsVersion, cut: Cut) -> Check {
    const MIB: usize = 1 << 20;
    scripted(
        pinned(version),
        move |c| {
            let mut data = stor_tls(c)?;
            let (got, _) = data.read_at_least(MIB)?;
            if got.len() < MIB {
                return Err(format!("only {} bytes arrived before the end", got.len()));
            }
            match cut {
                Cut::Rst => data.rst(),
                Cut::Alert => {
                    data.send_alert(20)?;
                    data.rst();
                }
            }
            c.send("552 Exceeded storage allocation")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let file = pattern(8 * MIB, 7);
            let e = err(client.upload("f", &mut file.as_slice()), "STOR f")?;
            ensure_usable_reply(&e, 552)?;
            final_noop(&mut client)
        },
        |_| Ok(()),
    )
}

/// A source that gives `left` bytes, then fails.
struct FailingSource {
    left: usize,
}

impl Read for FailingSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("the source failed"));
        }
        let n = buf.len().min(self.left);
        buf[..n].fill(b'x');
        self.left -= n;
        Ok(n)
    }
}

fn close_08<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_supported_version(h, |version| {
        for dropped in [true, false] {
            let how = if dropped {
                "dropped writer"
            } else {
                "failing source"
            };
            close_08_variant(h, version, dropped).map_err(|e| format!("{how}: {e}"))?;
        }
        Ok(())
    })
}

/// One CLOSE-08 variant: an upload the caller drops (`dropped`) or whose source fails.
fn close_08_variant<C: SecureConnection>(
    h: &Harness<C>,
    version: TlsVersion,
    dropped: bool,
) -> Check {
    scripted(
        pinned(version),
        |c| {
            let mut data = stor_tls(c)?;
            let (_, end) = data.read_to_end()?;
            let close_notify = data.client_close_notify();
            data.fin();
            // The strict server: an upload without close_notify failed.
            if close_notify || end == DataEnd::CloseNotify {
                c.send("226 Transfer complete.")?;
                return Err("the unfinished upload ended with close_notify".into());
            }
            c.expect("ABOR")?;
            c.send("426 Failure reading network stream.")?;
            c.send("226 ABOR command successful.")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let e = if dropped {
                let mut upload = ok(client.stor("f"), "STOR f")?;
                upload
                    .write_all(&[b'y'; 10_000])
                    .map_err(|e| format!("writing the upload failed: {e}"))?;
                drop(upload);
                err(client.noop(), "the call after the dropped upload")?
            } else {
                let mut source = FailingSource { left: 10_000 };
                err(
                    client.upload("f", &mut source),
                    "STOR f from a failing source",
                )?
            };
            ensure_usable_error(&e, matches!(e, Error::Aborted { .. }), "Aborted", 426)?;
            final_noop(&mut client)
        },
        |record| {
            let d = record
                .data
                .first()
                .ok_or_else(|| "no data connection".to_owned())?;
            ensure(!d.client_close_notify, || {
                "the unfinished upload ended with close_notify".into()
            })?;
            ensure(
                matches!(d.ended, Some(DataEnd::Fin | DataEnd::Reset)),
                || format!("the data connection ended with {:?}", d.ended),
            )
        },
    )
}
