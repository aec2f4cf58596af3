//! Hostile behaviour around data connections: passive replies that point elsewhere or do not
//! parse (BAD-08, BAD-09), stray active-mode connections (BAD-10), data connections that close,
//! alert or never end (BAD-12, BAD-13, BAD-16), endless data (BAD-17), extra 1xx replies
//! (BAD-19) and endless 1xx replies while data flows (BAD-22).

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ftps_core::reply::ReplyError;
use ftps_core::{
    DataConnectionMode, Error, Phase, ProtectionLevel, ProtocolError, SecureConnection,
    TlsErrorKind,
};

use super::{ensure_dead, ensure_within, parallel, versions, Variant, SLACK};
use crate::checks::{ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{
    login_binary, noop_ok, open_retr, parse_port_arg, recv_after_type, retr_opened, retr_tls,
    send_protected, serve_payload, OPENING, OPENING_F,
};
use crate::scenarios::transcript::{ensure_login_then, protected_data};
use crate::scenarios::{
    connect_login_with, download_eq, each_pinned, ensure_kind, final_noop, pattern, pinned,
    scripted,
};
use crate::server::{Conn, DataEnd, DataListener, ServerOptions};

/// How long a script waits for the client to give up or close.
const CLOSE_WAIT: Duration = Duration::from_secs(4);

/// The refusal of servers that do not know EPSV.
const EPSV_UNKNOWN: &str = "500 'EPSV': command not understood.";

/// `127.0.0.2`: a second loopback address, not the control connection's.
const OTHER_LOOPBACK: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The 227 reply naming `ip` and `port`.
fn reply_227(ip: Ipv4Addr, port: u16) -> String {
    let o = ip.octets();
    format!(
        "227 Entering Passive Mode ({},{},{},{},{},{}).",
        o[0],
        o[1],
        o[2],
        o[3],
        port >> 8,
        port & 0xff
    )
}

/// A listener on [`OTHER_LOOPBACK`] and, when `with_control`, one on the control address with
/// the same port.
fn foreign_and_control(
    c: &Conn,
    with_control: bool,
) -> Result<(DataListener, Option<DataListener>), String> {
    let control_ip = c.local_addr().ip();
    for _ in 0..20 {
        let foreign = TcpListener::bind((OTHER_LOOPBACK, 0))
            .map_err(|e| format!("bind on {OTHER_LOOPBACK} failed: {e}"))?;
        let port = foreign
            .local_addr()
            .map_err(|e| format!("local_addr failed: {e}"))?
            .port();
        if !with_control {
            return Ok((DataListener::new(foreign)?, None));
        }
        if let Ok(real) = TcpListener::bind((control_ip, port)) {
            return Ok((DataListener::new(foreign)?, Some(DataListener::new(real)?)));
        }
    }
    Err("no port free on both loopback addresses".into())
}

// ---- BAD-08 ----------------------------------------------------------------------------------

pub(super) fn bad_08<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let foreign_ips = [
        Ipv4Addr::new(10, 1, 2, 3),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        OTHER_LOOPBACK,
    ];
    let body = pattern(4_000, 8);
    let sent = body.clone();
    each_pinned(h, |options| {
        let sent = sent.clone();
        scripted(
            options,
            move |c| {
                login_binary(c)?;
                c.expect("EPSV")?;
                c.send(EPSV_UNKNOWN)?;
                for ip in foreign_ips {
                    c.expect("PASV")?;
                    // For 127.0.0.2 the server listens there too, on the same port: the client
                    // must still come to the control address.
                    let (foreign, real) = if ip == OTHER_LOOPBACK {
                        let (foreign, real) = foreign_and_control(c, true)?;
                        (Some(foreign), real.ok_or("no control listener")?)
                    } else {
                        (None, c.listen_data()?)
                    };
                    c.send(&reply_227(ip, real.port()))?;
                    c.expect("RETR f")?;
                    c.send(OPENING_F)?;
                    let data = real.accept(c)?;
                    serve_payload(data, true, &sent)?;
                    c.send("226 Transfer complete.")?;
                    if let Some(foreign) = foreign {
                        ensure(foreign.try_accept(c).is_none(), || {
                            format!("{ip}: the client connected to the address in the 227")
                        })?;
                    }
                }
                // Only the foreign address listens: the data connection cannot be made.
                c.expect("PASV")?;
                let (foreign, _) = foreign_and_control(c, false)?;
                c.send(&reply_227(OTHER_LOOPBACK, foreign.port()))?;
                c.expect("NOOP")?;
                ensure(foreign.try_accept(c).is_none(), || {
                    "the client connected to 127.0.0.2, the address in the 227".into()
                })?;
                c.send("200 NOOP ok")
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                for ip in foreign_ips {
                    download_eq(&mut client, "f", &body)
                        .map_err(|e| format!("227 naming {ip}: {e}"))?;
                }
                let e = err(
                    client.download("f", &mut Vec::new()),
                    "RETR with only 127.0.0.2 listening",
                )?;
                let fits = matches!(
                    e,
                    Error::Io {
                        phase: Phase::DataConnect,
                        ..
                    } | Error::Timeout {
                        phase: Phase::DataConnect,
                        ..
                    }
                );
                ensure_kind(&e, fits, "a data-connect error")?;
                ensure_usable(&e, true)?;
                final_noop(&mut client)
            },
            |record| protected_data(record, foreign_ips.len()),
        )
    })
}

// ---- BAD-09 ----------------------------------------------------------------------------------

/// 229 replies that do not parse.
const BAD_229: [&str; 7] = [
    "229 Entering Extended Passive Mode (|||0|)",
    "229 Entering Extended Passive Mode (|||70000|)",
    "229 Entering Extended Passive Mode (|||abc|)",
    "229 Entering Extended Passive Mode (|||40001!)",
    "229 Entering Extended Passive Mode |||40001|",
    "229 Entering Extended Passive Mode (   40001 )",
    "229 Entering Extended Passive Mode (\u{7f}\u{7f}\u{7f}40001\u{7f})",
];

/// 227 replies that do not parse.
const BAD_227: [&str; 6] = [
    "227 Entering Passive Mode (127,0,0,256,156,65)",
    "227 Entering Passive Mode (127,0,0,1,0,0)",
    "227 Entering Passive Mode (127,0,0,1,156)",
    "227 Entering Passive Mode (127,0,0,1,-156,65)",
    "227 Entering Passive Mode (a,b,c,d,e,f)",
    "227 Entering Passive Mode",
];

pub(super) fn bad_09<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            login_binary(c)?;
            for reply in BAD_229 {
                c.expect("EPSV")?;
                c.send(reply)?;
            }
            c.expect("EPSV")?;
            c.send(EPSV_UNKNOWN)?;
            for reply in BAD_227 {
                c.expect("PASV")?;
                c.send(reply)?;
            }
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            for (reply, what) in BAD_229
                .iter()
                .map(|r| (r, "229"))
                .chain(BAD_227.iter().map(|r| (r, "227")))
            {
                let e = err(client.download("f", &mut Vec::new()), reply)?;
                let fits = matches!(
                    &e,
                    Error::Protocol(ProtocolError::BadReplyText { what: w, .. }) if *w == what
                );
                ensure_kind(&e, fits, &format!("a malformed {what} reply"))
                    .map_err(|e| format!("{reply:?}: {e}"))?;
                ensure_usable(&e, true).map_err(|e| format!("{reply:?}: {e}"))?;
            }
            final_noop(&mut client)
        },
        |record| {
            ensure(record.data.is_empty(), || {
                format!("{} data connections were made", record.data.len())
            })?;
            let mut expected = vec!["TYPE I"];
            expected.extend(std::iter::repeat_n("EPSV", BAD_229.len() + 1));
            expected.extend(std::iter::repeat_n("PASV", BAD_227.len()));
            expected.push("NOOP");
            ensure_login_then(record, &expected, "commands (no RETR)")
        },
    )
}

// ---- BAD-10 ----------------------------------------------------------------------------------

/// The client's active-mode listener no longer accepts connections (A6).
fn listener_closed(addr: SocketAddr) -> Check {
    match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
        Ok(_) => Err(format!(
            "A6: the client's active-mode listener {addr} still accepts connections"
        )),
        Err(_) => Ok(()),
    }
}

/// `[secure-login]` · `TYPE I` · `PORT` · `RETR f` · `150`, then a connection from 127.0.0.2
/// that the client must close at once.
fn stray_first(c: &mut Conn) -> Result<SocketAddr, String> {
    login_binary(c)?;
    let addr = parse_port_arg(&c.expect_verb("PORT")?)?;
    c.send("200 PORT command successful.")?;
    c.expect("RETR f")?;
    c.send(OPENING)?;
    let mut stray = c.connect_data_from(addr, IpAddr::V4(OTHER_LOOPBACK))?;
    let end = stray.wait_client_close(Duration::from_secs(1));
    ensure(matches!(end, DataEnd::Fin | DataEnd::Reset), || {
        format!("the stray connection from 127.0.0.2 was not closed at once: {end:?}")
    })?;
    Ok(addr)
}

pub(super) fn bad_10<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let body = pattern(6_000, 10);
    let sent = body.clone();
    // a) The stray comes first, then the real peer: the transfer works.
    scripted(
        ServerOptions::default(),
        move |c| {
            let addr = stray_first(c)?;
            let data = c.connect_data(addr)?;
            send_protected(data, &sent)?;
            c.send("226 Transfer complete.")?;
            noop_ok(c)?;
            listener_closed(addr)
        },
        |server| {
            let mut client = connect_login_with(
                h,
                server,
                |b| b.data_connection_mode(DataConnectionMode::Active),
                "connect in active mode",
            )?;
            download_eq(&mut client, "f", &body)?;
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(record.data.len(), 2, "data connections")?;
            ensure_eq(
                record.data[0].bytes_received,
                0,
                "bytes on the stray connection",
            )?;
            ensure(record.data[1].tls, || {
                "the real data connection had no TLS".into()
            })
        },
    )
    .map_err(|e| format!("stray, then the real peer: {e}"))?;
    // b) Only the stray comes: the client keeps waiting up to the data-connect limit, then
    // aborts the transfer; the connection stays usable.
    scripted(
        ServerOptions::default(),
        |c| {
            let addr = stray_first(c)?;
            c.expect("ABOR")?;
            c.send("426 Connection closed; transfer aborted.")?;
            c.send("226 Abort successful.")?;
            noop_ok(c)?;
            listener_closed(addr)
        },
        |server| {
            let mut client = connect_login_with(
                h,
                server,
                |b| b.data_connection_mode(DataConnectionMode::Active),
                "connect in active mode",
            )?;
            let started = Instant::now();
            let e = err(client.download("f", &mut Vec::new()), "RETR")?;
            let took = started.elapsed();
            ensure_kind(
                &e,
                matches!(
                    e,
                    Error::Timeout {
                        phase: Phase::DataConnect,
                        ..
                    }
                ),
                "Timeout{data connect}",
            )?;
            ensure_usable(&e, true)?;
            let accept = Harness::<C>::timeouts().data_accept;
            ensure(took + Duration::from_millis(100) >= accept, || {
                format!("the client gave up after {took:?}, before the {accept:?} limit")
            })?;
            ensure_within(took, accept + SLACK, "waiting for the real peer")?;
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(record.data.len(), 1, "data connections")?;
            ensure_eq(
                record.data[0].bytes_received,
                0,
                "bytes on the stray connection",
            )
        },
    )
    .map_err(|e| format!("only the stray: {e}"))
}

// ---- BAD-12, BAD-13 --------------------------------------------------------------------------

pub(super) fn bad_12<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        for code in [425u16, 522] {
            scripted(
                options.clone(),
                move |c| {
                    let mut data = retr_opened(c)?;
                    data.take_client_hello()?;
                    data.fin();
                    c.send(&format!("{code} Cannot open the data connection"))?;
                    noop_ok(c)
                },
                |server| {
                    let mut client = ok(h.connect_login(server), "connect and login")?;
                    let e = err(client.download("f", &mut Vec::new()), "RETR")?;
                    let fits = matches!(
                        &e,
                        Error::Tls { phase: Phase::DataHandshake, source, .. }
                            if source.kind() == TlsErrorKind::UnexpectedEof
                    );
                    ensure_kind(&e, fits, "Tls{data, unexpected_eof}")?;
                    ensure_code(&e, code)?;
                    ensure_usable(&e, true)?;
                    final_noop(&mut client)
                },
                |_| Ok(()),
            )
            .map_err(|e| format!("{code}: {e}"))?;
        }
        Ok(())
    })
}

pub(super) fn bad_13<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let body = pattern(20_000, 13);
    each_pinned(h, |options| {
        for before in [0usize, 10_000] {
            let sent = body[..before].to_vec();
            scripted(
                options.clone(),
                move |c| {
                    let mut data = retr_tls(c)?;
                    if !sent.is_empty() {
                        data.write_all(&sent)?;
                    }
                    // rustls sends bad_record_mac; it cannot send other alerts on demand.
                    data.send_alert(20)?;
                    data.fin();
                    c.send("426 Connection closed; transfer aborted.")?;
                    noop_ok(c)
                },
                |server| {
                    let mut client = ok(h.connect_login(server), "connect and login")?;
                    let mut got = Vec::new();
                    let e = err(client.download("f", &mut got), "RETR")?;
                    let fits = matches!(
                        &e,
                        Error::Tls { phase: Phase::Data, source, .. }
                            if source.kind() == TlsErrorKind::AlertReceived
                    );
                    ensure_kind(&e, fits, "Tls{data, alert}")?;
                    ensure_code(&e, 426)?;
                    ensure_usable(&e, true)?;
                    ensure(got.len() <= before, || {
                        format!("{} bytes reached the caller, {before} were sent", got.len())
                    })?;
                    final_noop(&mut client)
                },
                |_| Ok(()),
            )
            .map_err(|e| format!("alert after {before} bytes: {e}"))?;
        }
        Ok(())
    })
}

// ---- BAD-16 ----------------------------------------------------------------------------------

/// The file is sent, then 226, but the data connection stays open: no close_notify, no FIN.
fn bad_16_one<C: SecureConnection>(h: &Harness<C>, options: ServerOptions, tls: bool) -> Check {
    let body = pattern(30_000, 16);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            if tls {
                c.secure_login()?;
            } else {
                c.secure_login_clear()?;
                c.expect("PROT C")?;
                c.send("200 Protection set to Clear")?;
            }
            crate::scenarios::steps::type_i(c)?;
            let mut data = open_retr(c, "f", OPENING_F)?;
            if tls {
                data.accept_tls()?;
            }
            data.write_all(&sent)?;
            c.send("226 Transfer complete.")?;
            let end = data.wait_client_close(CLOSE_WAIT);
            ensure(matches!(end, DataEnd::Fin | DataEnd::Reset), || {
                format!("the client did not close the data connection: {end:?}")
            })?;
            noop_ok(c)
        },
        |server| {
            let mut client = connect_login_with(
                h,
                server,
                |b| {
                    b.data_protection(if tls {
                        ProtectionLevel::Private
                    } else {
                        ProtectionLevel::Clear
                    })
                },
                "connect and login",
            )?;
            let started = Instant::now();
            let mut got = Vec::new();
            let e = err(client.download("f", &mut got), "RETR")?;
            ensure_kind(
                &e,
                matches!(
                    e,
                    Error::Timeout {
                        phase: Phase::DataEof,
                        ..
                    }
                ),
                "Timeout{data_eof}",
            )?;
            ensure_usable(&e, true)?;
            ensure(got == body, || {
                format!("got {} bytes, {} were sent", got.len(), body.len())
            })?;
            ensure_within(
                started.elapsed(),
                Harness::<C>::timeouts().data_idle + SLACK,
                "waiting for the end of the data",
            )?;
            final_noop(&mut client)
        },
        |_| Ok(()),
    )
}

pub(super) fn bad_16<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let h = &*h;
    let mut variants: Vec<Variant<'_>> = vec![(
        "clear data".into(),
        Box::new(move || bad_16_one(h, ServerOptions::default(), false)),
    )];
    for version in versions(h) {
        variants.push((
            format!("{version:?}"),
            Box::new(move || bad_16_one(h, pinned(version), true)),
        ));
    }
    parallel(variants)
}

// ---- BAD-17 ----------------------------------------------------------------------------------

/// What the caller reads of the endless file before it stops.
const READ_BEFORE_STOP: usize = 8 << 20;

/// The endless file repeats a pattern of this many bytes.
const ENDLESS_CHUNK: usize = 64 * 1024;

pub(super) fn bad_17<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                c.secure_login()?;
                ensure_eq(recv_after_type(c)?, "SIZE f".to_owned(), "command")?;
                c.send("213 1000")?;
                let mut data = open_retr_typed(c)?;
                data.accept_tls()?;
                // The data flows on its own thread, endlessly (up to 1 GiB), until the client
                // stops reading and closes; meanwhile the control connection answers ABOR.
                let writer = std::thread::spawn(move || {
                    let chunk = pattern(ENDLESS_CHUNK, 17);
                    let mut sent = 0usize;
                    while sent < (1 << 30) && data.write_all(&chunk).is_ok() {
                        sent += chunk.len();
                    }
                    sent
                });
                c.expect("ABOR")?;
                c.send("426 Connection closed; transfer aborted.")?;
                c.send("226 Abort successful.")?;
                let sent = writer.join().map_err(|_| "the data writer panicked")?;
                ensure(sent < 1 << 30, || "the client read 1 GiB".into())?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                ensure_eq(ok(client.size("f"), "SIZE f")?, 1000, "SIZE")?;
                let mut download = ok(client.retr("f"), "RETR f")?;
                // Read through a small buffer while the server is still sending: a client that
                // buffered the whole file would never return from an endless one.
                let expected = pattern(ENDLESS_CHUNK, 17);
                let mut buf = vec![0u8; 16 * 1024];
                let mut total = 0usize;
                while total < READ_BEFORE_STOP {
                    let n = download
                        .read(&mut buf)
                        .map_err(|e| format!("reading the stream: {e}"))?;
                    ensure(n > 0, || format!("the stream ended after {total} bytes"))?;
                    let fits = buf[..n]
                        .iter()
                        .enumerate()
                        .all(|(i, b)| *b == expected[(total + i) % ENDLESS_CHUNK]);
                    ensure(fits, || format!("wrong bytes after offset {total}"))?;
                    total += n;
                }
                // The caller decides to stop: ABOR (ABOR-01).
                let e = err(download.abort(), "aborting the endless download")?;
                ensure_kind(&e, matches!(e, Error::Aborted { .. }), "Aborted")?;
                ensure_code(&e, 426)?;
                ensure_usable(&e, true)?;
                final_noop(&mut client)
            },
            |_| Ok(()),
        )
    })
}

/// `[epsv]` (after an optional `TYPE I`) · `C* RETR f` · `S* 150` · `D tcp`.
fn open_retr_typed(c: &mut Conn) -> Result<crate::server::DataConn, String> {
    let listener = crate::scenarios::steps::epsv_after_type(c)?;
    c.expect("RETR f")?;
    c.send(OPENING_F)?;
    listener.accept(c)
}

// ---- BAD-19 ----------------------------------------------------------------------------------

/// A download whose 150 is followed by `extra` more 1xx replies before the 226.
fn bad_19_one<C: SecureConnection>(h: &Harness<C>, options: ServerOptions, extra: usize) -> Check {
    let body = pattern(5_000, 19);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            let data = retr_opened(c)?;
            for i in 0..extra {
                c.send(&format!("150 Still opening ({})", i + 1))?;
            }
            send_protected(data, &sent)?;
            c.send("226 Transfer complete.")?;
            if extra <= ftps_core::session::MAX_PRELIMINARY {
                noop_ok(c)
            } else {
                c.fin_and_wait(CLOSE_WAIT)
            }
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            if extra <= ftps_core::session::MAX_PRELIMINARY {
                download_eq(&mut client, "f", &body)?;
                return final_noop(&mut client);
            }
            let e = err(client.download("f", &mut Vec::new()), "RETR")?;
            let fits = match &e {
                Error::Protocol(ProtocolError::TooManyPreliminaryReplies) => true,
                Error::Protocol(ProtocolError::UnexpectedReply { reply, .. }) => {
                    reply.is_preliminary()
                }
                _ => false,
            };
            ensure_kind(&e, fits, "ProtocolViolation over a 1xx reply")?;
            ensure_dead(&mut client, &e)
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("150 and {extra} more 1xx: {e}"))
}

pub(super) fn bad_19<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        bad_19_one(h, options.clone(), ftps_core::session::MAX_PRELIMINARY)?;
        bad_19_one(h, options, ftps_core::session::MAX_PRELIMINARY + 1)
    })
}

// ---- BAD-22 ----------------------------------------------------------------------------------

/// Continuation lines of a `150-` reply, up to `total` bytes, until a write fails (the client
/// closed). `Err` if every byte went out.
fn endless_150(c: &mut Conn, total: usize) -> Check {
    if c.send("150-Opening BINARY mode data connection").is_err() {
        return Ok(());
    }
    let chunk = " still opening, please wait\r\n".repeat(2048);
    let mut sent = 0;
    while sent < total {
        if c.send_raw(chunk.as_bytes()).is_err() {
            return Ok(());
        }
        sent += chunk.len();
    }
    Err(format!("the client read {sent} bytes of one 150 reply"))
}

/// `ReplyTooLarge` at the default limit.
fn too_large(e: &Error) -> Check {
    ensure_kind(
        e,
        matches!(
            e,
            Error::BadReply(ReplyError::TooLarge { limit: 1_048_576 })
        ),
        "ReplyTooLarge at the default 1 MiB",
    )
}

pub(super) fn bad_22<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        // a) The 1xx itself never ends.
        scripted(
            options.clone(),
            |c| {
                login_binary(c)?;
                let listener = c.epsv()?;
                c.expect("RETR f")?;
                let _data = listener.accept(c)?;
                endless_150(c, 64 << 20)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let e = err(client.download("f", &mut Vec::new()), "RETR")?;
                too_large(&e)?;
                ensure_dead(&mut client, &e)
            },
            |_| Ok(()),
        )
        .map_err(|e| format!("endless first 1xx: {e}"))?;
        // b) A second 1xx that never ends, sent while the data flows.
        let body = pattern(1 << 20, 22);
        let sent = body.clone();
        scripted(
            options,
            move |c| {
                let data = retr_opened(c)?;
                let writer = std::thread::spawn(move || send_protected(data, &sent));
                let flood = endless_150(c, 64 << 20);
                writer.join().map_err(|_| "the data writer panicked")??;
                flood
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let mut got = Vec::new();
                let e = err(client.download("f", &mut got), "RETR")?;
                too_large(&e)?;
                ensure(got == body, || {
                    format!("got {} bytes of the {} sent", got.len(), body.len())
                })?;
                ensure_dead(&mut client, &e)
            },
            |_| Ok(()),
        )
        .map_err(|e| format!("endless second 1xx while data flows: {e}"))
    })
}
