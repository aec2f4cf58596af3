//! Hostile behaviour at the TLS level: stalled handshakes (BAD-03), alerts and garbage
//! records on the control connection (BAD-14), plaintext where TLS is expected (BAD-15) and
//! renegotiation requests (BAD-18) and huge handshake messages (BAD-21).

use std::time::{Duration, Instant};

use ftps_core::{Error, Phase, SecureConnection, TlsErrorKind};

use super::{ensure_dead, ensure_within, parallel, versions, Variant, SLACK};
use crate::checks::{commands, ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{answer_auth, noop_ok, retr_opened};
use crate::scenarios::transcript::ensure_login_then;
use crate::scenarios::{each_pinned, ensure_kind, final_noop, pinned, scripted};
use crate::server::{Conn, ServerOptions};

/// How long a script waits for the client to give up or close.
const GIVE_UP_WAIT: Duration = Duration::from_secs(5);

/// `e` is a TLS error on `phase` of `kind`.
fn ensure_tls(e: &Error, phase: Phase, kind: TlsErrorKind) -> Check {
    let fits =
        matches!(e, Error::Tls { phase: p, source, .. } if *p == phase && source.kind() == kind);
    ensure_kind(e, fits, &format!("Tls{{{phase}, {kind:?}}}"))
}

// ---- BAD-03 ----------------------------------------------------------------------------------

/// The pause between two bytes of a trickled handshake: far below the handshake limit
/// (2 s), so only a deadline over the whole handshake can end it.
const HANDSHAKE_TRICKLE: Duration = Duration::from_millis(250);

/// The client gave up on the stalled handshake within the handshake limit (plus slack).
fn ensure_handshake_bound<C: SecureConnection>(took: Duration, who: &str) -> Check {
    ensure_within(
        took,
        Harness::<C>::timeouts().handshake + SLACK,
        &format!("{who} giving up on the stalled handshake"),
    )
}

/// The control handshake stalls: the client fails with a handshake time-out, unusable, and
/// sends no FTP command.
fn bad_03_control<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    trickle: Option<Duration>,
) -> Check {
    scripted(
        options,
        move |c| {
            answer_auth(c, "220 ready", "234 go")?;
            let took = c.stall_tls(trickle, GIVE_UP_WAIT)?;
            ensure_handshake_bound::<C>(took, "the client (seen by the server)")
        },
        |server| {
            let started = Instant::now();
            let e = err(h.connect(server), "connect")?;
            ensure(e.is_timeout(), || format!("expected a time-out, got {e:?}"))?;
            ensure_tls(&e, Phase::ControlHandshake, TlsErrorKind::Timeout)?;
            ensure_usable(&e, false)?;
            ensure_handshake_bound::<C>(started.elapsed(), "the client")
        },
        |record| ensure_eq(commands(record), vec!["AUTH TLS".to_owned()], "commands"),
    )
}

/// A data handshake stalls: the client fails with a data-handshake time-out that carries the
/// server's final reply (425), and stays usable.
fn bad_03_data<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    trickle: Option<Duration>,
) -> Check {
    scripted(
        options,
        move |c| {
            let mut data = retr_opened(c)?;
            let took = data.stall_tls(trickle, GIVE_UP_WAIT)?;
            ensure_handshake_bound::<C>(took, "the client (seen by the server)")?;
            c.send("425 Cannot secure the data connection")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let started = Instant::now();
            let mut sink = Vec::new();
            let e = err(client.download("f", &mut sink), "RETR")?;
            ensure(e.is_timeout(), || format!("expected a time-out, got {e:?}"))?;
            ensure_tls(&e, Phase::DataHandshake, TlsErrorKind::Timeout)?;
            ensure_code(&e, 425)?;
            ensure_usable(&e, true)?;
            ensure(sink.is_empty(), || "bytes reached the caller".into())?;
            ensure_handshake_bound::<C>(started.elapsed(), "the client")?;
            final_noop(&mut client)
        },
        |_| Ok(()),
    )
}

pub(super) fn bad_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let h = &*h;
    let mut variants: Vec<Variant<'_>> = Vec::new();
    for version in versions(h) {
        for (how, trickle) in [
            ("nothing after the ClientHello", None),
            ("the first flight byte by byte", Some(HANDSHAKE_TRICKLE)),
        ] {
            variants.push((
                format!("{version:?}, control, {how}"),
                Box::new(move || bad_03_control(h, pinned(version), trickle)),
            ));
            variants.push((
                format!("{version:?}, data, {how}"),
                Box::new(move || bad_03_data(h, pinned(version), trickle)),
            ));
        }
    }
    parallel(variants)
}

// ---- BAD-14 ----------------------------------------------------------------------------------

/// After `[secure-login]` and `NOOP`, `attack` misbehaves on the protected control
/// connection; the NOOP fails with a control TLS error that `check` accepts, unusable.
fn bad_14_one<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    attack: fn(&mut Conn) -> Check,
    check: fn(&Error) -> Check,
) -> Check {
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            c.expect("NOOP")?;
            attack(c)?;
            c.fin_and_wait(GIVE_UP_WAIT)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let e = err(client.noop(), "NOOP")?;
            check(&e)?;
            ensure_dead(&mut client, &e)
        },
        |record| ensure_login_then(record, &["NOOP"], "commands"),
    )
}

/// A record that claims to be protected application data but is 32 bytes of junk.
const GARBAGE_RECORD: [u8; 37] = {
    let mut r = [0x5a; 37];
    r[0] = 0x17;
    r[1] = 0x03;
    r[2] = 0x03;
    r[3] = 0x00;
    r[4] = 0x20;
    r
};

pub(super) fn bad_14<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        bad_14_one(
            h,
            options.clone(),
            // rustls sends bad_record_mac, encrypted, on demand.
            |c| c.send_alert(20),
            |e| ensure_tls(e, Phase::Control, TlsErrorKind::AlertReceived),
        )
        .map_err(|e| format!("a fatal alert: {e}"))?;
        bad_14_one(
            h,
            options.clone(),
            |c| c.send_tcp_raw(&GARBAGE_RECORD),
            |e| {
                let fits = matches!(
                    e,
                    Error::Tls {
                        phase: Phase::Control,
                        ..
                    }
                );
                ensure_kind(e, fits, "Tls{control}")
            },
        )
        .map_err(|e| format!("a garbage record: {e}"))?;
        bad_14_one(
            h,
            options,
            |c| c.send_tcp_raw(b"200 NOOP ok\r\n"),
            |e| ensure_tls(e, Phase::Control, TlsErrorKind::NotTls),
        )
        .map_err(|e| format!("a cleartext reply inside TLS: {e}"))
    })
}

// ---- BAD-15 ----------------------------------------------------------------------------------

/// The server reads every line the client still sends until it closes; a USER or PASS among
/// them is a failure.
fn no_credentials_until_close(c: &mut Conn) -> Check {
    loop {
        match c.recv() {
            Ok(line) => {
                let upper = line.to_ascii_uppercase();
                if upper.contains("USER") || upper.contains("PASS") {
                    return Err(format!("the client sent {line:?} after the bad 234"));
                }
            }
            Err(_) => return Ok(()),
        }
    }
}

pub(super) fn bad_15<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) `200 OK` in the clear after the 234.
    scripted(
        ServerOptions::default(),
        |c| {
            answer_auth(c, "220 ready", "234 go")?;
            c.take_client_hello()?;
            c.send_tcp_raw(b"200 OK\r\n")?;
            no_credentials_until_close(c)
        },
        |server| {
            let e = err(h.connect(server), "connect, plaintext after 234")?;
            ensure_tls(&e, Phase::ControlHandshake, TlsErrorKind::NotTls)?;
            ensure_usable(&e, false)
        },
        |record| ensure_eq(commands(record), vec!["AUTH TLS".to_owned()], "commands"),
    )
    .map_err(|e| format!("control: {e}"))?;
    // b) Plain file bytes on a data connection under PROT P, and a 226 for them.
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                let mut data = retr_opened(c)?;
                data.take_client_hello()?;
                data.write_all(b"plain file bytes, not TLS\r\n")?;
                data.fin();
                c.send("226 Transfer complete.")?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let mut sink = Vec::new();
                let e = err(client.download("f", &mut sink), "RETR")?;
                ensure_tls(&e, Phase::DataHandshake, TlsErrorKind::NotTls)?;
                ensure_code(&e, 226)?;
                ensure_usable(&e, true)?;
                ensure(sink.is_empty(), || {
                    format!(
                        "the plaintext reached the caller: {:?}",
                        String::from_utf8_lossy(&sink)
                    )
                })?;
                final_noop(&mut client)
            },
            |_| Ok(()),
        )
        .map_err(|e| format!("data: {e}"))
    })
}

// ---- BAD-21 ----------------------------------------------------------------------------------

/// A certificate chain of about this many bytes.
const HUGE_CHAIN: usize = 1 << 20;

/// A handshake message that announces this length (the most a TLS handshake header can say).
const HUGE_MESSAGE: usize = (1 << 24) - 1;

/// The handshake failed as a TLS error on the control handshake, not as a time-out: the
/// backend's own limit refused it.
fn refused_handshake<C: SecureConnection>(e: &Error, took: Duration) -> Check {
    let fits = matches!(
        e,
        Error::Tls {
            phase: Phase::ControlHandshake,
            ..
        }
    ) && !e.is_timeout();
    ensure_kind(e, fits, "Tls{control handshake}, not a time-out")?;
    ensure_usable(e, false)?;
    ensure_within(
        took,
        Harness::<C>::timeouts().handshake,
        "refusing the handshake",
    )
}

pub(super) fn bad_21<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) A certificate chain of 1 MiB.
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                let copies = HUGE_CHAIN / c.pki().ca_der().len().max(1);
                c.pad_certificate_chain(copies)?;
                answer_auth(c, "220 ready", "234 go")?;
                ensure(c.start_tls().is_err(), || {
                    "the client accepted a 1 MiB certificate chain".into()
                })?;
                c.fin_and_wait(GIVE_UP_WAIT)
            },
            |server| {
                let started = Instant::now();
                let e = err(h.connect(server), "connect, 1 MiB certificate chain")?;
                refused_handshake::<C>(&e, started.elapsed())
            },
            |_| Ok(()),
        )
        .map_err(|e| format!("huge chain: {e}"))
    })?;
    // b) A ServerHello that announces 16 MiB, followed by filler for as long as the client
    // reads.
    scripted(
        ServerOptions::default(),
        |c| {
            answer_auth(c, "220 ready", "234 go")?;
            c.take_client_hello()?;
            let mut first = vec![0x16, 0x03, 0x03, 0x40, 0x00, 0x02];
            first.extend_from_slice(&(HUGE_MESSAGE as u32).to_be_bytes()[1..]);
            first.resize(5 + 0x4000, 0);
            let mut filler = vec![0x16, 0x03, 0x03, 0x40, 0x00];
            filler.resize(5 + 0x4000, 0);
            let mut sent = 0;
            let mut result = c.send_tcp_raw(&first);
            while result.is_ok() && sent < HUGE_MESSAGE {
                result = c.send_tcp_raw(&filler);
                sent += 0x4000;
            }
            ensure(result.is_err(), || {
                "the client read a whole 16 MiB handshake message".into()
            })
        },
        |server| {
            let started = Instant::now();
            let e = err(h.connect(server), "connect, 16 MiB ServerHello")?;
            refused_handshake::<C>(&e, started.elapsed())
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("huge handshake message: {e}"))
}

// ---- BAD-18 ----------------------------------------------------------------------------------

/// TLS record types.
const HANDSHAKE: u8 = 0x16;
const ALERT: u8 = 0x15;
const APPLICATION_DATA: u8 = 0x17;

/// A HelloRequest: handshake type 0, empty body.
const HELLO_REQUEST: [u8; 4] = [0, 0, 0, 0];

/// A warning `no_renegotiation` alert.
const NO_RENEGOTIATION: [u8; 2] = [1, 100];

/// What the client did after the HelloRequest, as the server saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reaction {
    /// It refused (a `no_renegotiation` warning) or ignored the request, and went on: its next
    /// command was answered.
    WentOn,
    /// It started a new handshake: the server aborted the connection.
    Renegotiated,
    /// It ended the session with this fatal alert.
    Alert(u8),
    /// It closed the connection.
    Closed,
}

/// The server's side of BAD-18: after `[secure-login]` and `NOOP`, a HelloRequest and the
/// NOOP's reply, protected by the script; then it watches what the client does.
fn hello_request(c: &mut Conn) -> Result<Reaction, String> {
    c.secure_login()?;
    c.expect("NOOP")?;
    let mut raw = c.take_raw_tls12()?;
    raw.write(HANDSHAKE, &HELLO_REQUEST)?;
    raw.write(APPLICATION_DATA, b"200 NOOP ok\r\n")?;
    let mut line = Vec::new();
    loop {
        match raw.read()? {
            None => return Ok(Reaction::Closed),
            Some((ALERT, alert)) if alert == NO_RENEGOTIATION => {}
            Some((ALERT, alert)) => {
                // A fatal alert: the backend's policy, unless it says the server's records
                // were broken (then this server, not the client, is wrong).
                ensure(
                    alert.get(1) != Some(&20) && alert.get(1) != Some(&50),
                    || format!("the client could not read the server's records: alert {alert:?}"),
                )?;
                return Ok(Reaction::Alert(alert.get(1).copied().unwrap_or(0)));
            }
            Some((HANDSHAKE, _)) => {
                // A new ClientHello: this server does not renegotiate, it aborts.
                raw.fin();
                return Ok(Reaction::Renegotiated);
            }
            Some((APPLICATION_DATA, bytes)) => {
                line.extend_from_slice(&bytes);
                if line.ends_with(b"\r\n") {
                    ensure_eq(line.as_slice(), b"NOOP\r\n", "the command after the NOOP")?;
                    raw.write(APPLICATION_DATA, b"200 NOOP ok\r\n")?;
                    return Ok(Reaction::WentOn);
                }
            }
            Some((other, _)) => return Err(format!("unexpected record type {other:#04x}")),
        }
    }
}

/// What the client's two NOOPs gave: the reply code, or whether the error left it usable.
type NoopResult = Result<u16, bool>;

pub(super) fn bad_18<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    use std::sync::{Arc, Mutex};
    let reaction = Arc::new(Mutex::new(None));
    let noops: Arc<Mutex<Vec<NoopResult>>> = Arc::new(Mutex::new(Vec::new()));
    let (seen, got) = (reaction.clone(), noops.clone());
    scripted(
        // HelloRequest exists in TLS 1.2 only; TLS 1.3 has no renegotiation.
        pinned(crate::server::TlsVersion::Tls12),
        move |c| {
            c.enable_secret_extraction();
            let r = hello_request(c)?;
            *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            Ok(())
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let started = Instant::now();
            for i in 0..2 {
                let result = client.noop();
                let last = match &result {
                    Ok(reply) => Ok(reply.code()),
                    Err(e) => Err(e.connection_usable()),
                };
                got.lock().unwrap_or_else(|e| e.into_inner()).push(last);
                if let Err(e) = result {
                    log::debug!("NOOP {} after the HelloRequest: {e:?}", i + 1);
                    ensure_dead(&mut client, &e)?;
                    break;
                }
            }
            ensure_within(
                started.elapsed(),
                Harness::<C>::timeouts().reply_total * 2 + SLACK,
                "the NOOPs after the HelloRequest",
            )
        },
        |_| {
            let reaction = *reaction.lock().unwrap_or_else(|e| e.into_inner());
            let noops = noops.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let fits = match reaction {
                Some(Reaction::WentOn) => noops == [Ok(200), Ok(200)],
                Some(Reaction::Renegotiated | Reaction::Alert(_) | Reaction::Closed) => {
                    matches!(noops.last(), Some(Err(false)))
                }
                None => false,
            };
            ensure(fits, || {
                format!("the server saw {reaction:?}, the client's NOOPs gave {noops:?}")
            })
        },
    )
}
