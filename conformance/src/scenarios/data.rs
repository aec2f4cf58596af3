//! DATA-01 … DATA-13: data connections (RFC 4217 §7, §10.2, §12; RFC 959 §4.1.2; RFC 2428).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ftps_core::listing::EntryKind;
use ftps_core::{Client, DataConnectionMode, Error, Phase, SecureConnection};

use super::{noop_ok, scripted};
use crate::checks::{
    a2_data_protection, commands, ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check,
};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, DataConn, DataEnd, ServerOptions, TestServer, TlsVersion};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "DATA-01",
            title: "EPSV and a protected RETR, connecting to the control peer",
            needs: &[],
            run: data_01::<C>,
        },
        Scenario {
            id: "DATA-02",
            title: "PASV: the address in the reply is ignored by default",
            needs: &[],
            run: data_02::<C>,
        },
        Scenario {
            id: "DATA-03",
            title: "Active mode (PORT, EPRT): the client is still the TLS client",
            needs: &[],
            run: data_03::<C>,
        },
        Scenario {
            id: "DATA-04",
            title: "EPSV not supported: fall back to PASV",
            needs: &[],
            run: data_04::<C>,
        },
        Scenario {
            id: "DATA-05",
            title: "Passive reply formats",
            needs: &[],
            run: data_05::<C>,
        },
        Scenario {
            id: "DATA-06",
            title: "The 1xx reply comes before the data TLS handshake",
            needs: &[],
            run: data_06::<C>,
        },
        Scenario {
            id: "DATA-07",
            title: "The server is ready for the handshake before the transfer command",
            needs: &[],
            run: data_07::<C>,
        },
        Scenario {
            id: "DATA-08",
            title: "LIST, NLST and MLSD are protected like RETR",
            needs: &[],
            run: data_08::<C>,
        },
        Scenario {
            id: "DATA-09",
            title: "Uploads: STOR, APPE, STOU",
            needs: &[],
            run: data_09::<C>,
        },
        Scenario {
            id: "DATA-10",
            title: "A transfer refused before any 1xx",
            needs: &[],
            run: data_10::<C>,
        },
        Scenario {
            id: "DATA-11",
            title: "Active mode: the server never connects",
            needs: &[],
            run: data_11::<C>,
        },
        Scenario {
            id: "DATA-12",
            title: "The data TLS handshake fails after the 1xx",
            needs: &[],
            run: data_12::<C>,
        },
        Scenario {
            id: "DATA-13",
            title: "Multi-line 1xx replies, and replies that run together on tiny transfers",
            needs: &[],
            run: data_13::<C>,
        },
    ]
}

// ---- shared pieces ----

/// SCENARIOS §1.4: TLS scenarios run with TLS 1.2 and with TLS 1.3.
const VERSIONS: [TlsVersion; 2] = [TlsVersion::Tls12, TlsVersion::Tls13];

/// Runs `run` once per TLS version, on server options pinned to it.
fn per_version(mut run: impl FnMut(ServerOptions) -> Check) -> Check {
    for version in VERSIONS {
        let options = ServerOptions {
            tls_version: version,
            ..ServerOptions::default()
        };
        run(options).map_err(|e| format!("{version:?}: {e}"))?;
    }
    Ok(())
}

/// `n` bytes of a pattern that is not all one value, so a shifted or cut copy shows.
fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The server's side of a protected download on an accepted data connection: the handshake
/// (the client must send the ClientHello), `content`, close_notify, a bounded wait for the
/// client's close, FIN.
fn send_protected(mut data: DataConn, content: &[u8]) -> Result<(), String> {
    data.accept_tls()?;
    data.write_all(content)?;
    data.close_notify()?;
    data.wait_client_close(Duration::from_secs(1));
    data.fin();
    Ok(())
}

/// `TYPE I` / `200`: the client sets binary before its first transfer.
fn type_i(c: &mut Conn) -> Result<(), String> {
    c.expect("TYPE I")?;
    c.send("200 Switching to Binary mode.")
}

/// Downloads `path` and checks the bytes.
fn download_eq<C: SecureConnection>(client: &mut Client<C>, path: &str, want: &[u8]) -> Check {
    let mut file = Vec::new();
    let outcome = ok(client.download(path, &mut file), &format!("RETR {path}"))?;
    ensure(file == want, || {
        format!(
            "RETR {path}: got {} bytes, expected {} (equal: false)",
            file.len(),
            want.len()
        )
    })?;
    ensure_eq(outcome.bytes(), want.len() as u64, "bytes in the outcome")
}

/// Connects, logs in, downloads `path` (`want`), then NOOP (A3).
fn login_download_noop<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
    path: &str,
    want: &[u8],
) -> Check {
    let mut client = ok(h.connect_login(server), "connect and login")?;
    download_eq(&mut client, path, want)?;
    ok(client.noop(), "NOOP").map(drop)
}

/// A2 with Private in force, and the number of data connections.
fn protected_data(record: &crate::server::Record, count: usize) -> Check {
    ensure_eq(record.data.len(), count, "data connections")?;
    a2_data_protection(record, true)?;
    for (i, d) in record.data.iter().enumerate() {
        ensure(d.tls, || format!("data connection {i} was not protected"))?;
    }
    Ok(())
}

/// The 227 reply naming `ip` and `port`.
fn reply_227(ip: [u8; 4], port: u16) -> String {
    format!(
        "227 Entering Passive Mode ({},{},{},{},{},{}).",
        ip[0],
        ip[1],
        ip[2],
        ip[3],
        port >> 8,
        port & 0xff
    )
}

/// Parses a PORT argument `h1,h2,h3,h4,p1,p2`.
fn parse_port_arg(arg: &str) -> Result<SocketAddr, String> {
    let nums: Vec<u8> = arg
        .trim()
        .split(',')
        .map(|n| n.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bad PORT argument {arg:?}"))?;
    let [a, b, c, d, p1, p2] = nums[..] else {
        return Err(format!("bad PORT argument {arg:?}"));
    };
    Ok(SocketAddr::new(
        IpAddr::from([a, b, c, d]),
        u16::from(p1) << 8 | u16::from(p2),
    ))
}

/// Parses an EPRT argument `|2|addr|port|` and requires protocol 2.
fn parse_eprt_v6(arg: &str) -> Result<SocketAddr, String> {
    let fields: Vec<&str> = arg.trim().split('|').collect();
    let ["", "2", addr, port, ""] = fields[..] else {
        return Err(format!("expected EPRT |2|addr|port|, got {arg:?}"));
    };
    let ip: Ipv6Addr = addr
        .parse()
        .map_err(|_| format!("bad EPRT address in {arg:?}"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("bad EPRT port in {arg:?}"))?;
    Ok(SocketAddr::new(IpAddr::V6(ip), port))
}

/// A6: the client's active-mode listener no longer accepts connections.
fn listener_closed(addr: SocketAddr) -> Result<(), String> {
    match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
        Ok(_) => Err(format!(
            "A6: the client's active-mode listener {addr} still accepts connections"
        )),
        Err(_) => Ok(()),
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then closed).
fn dead_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("bind for a dead port failed: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr failed: {e}"))
}

// ---- DATA-01 ----

fn data_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
        let body = payload(10_000, 1);
        let sent = body.clone();
        scripted(
            options,
            move |c| {
                c.secure_login()?;
                type_i(c)?;
                // The listener binds only the control connection's address, so the data
                // connection arrives only if the client connected to the control peer.
                let listener = c.epsv()?;
                c.expect("RETR f")?;
                c.send("150 Opening BINARY mode data connection")?;
                let data = listener.accept(c)?;
                send_protected(data, &sent)?;
                c.send("226 Transfer complete.")?;
                noop_ok(c)
            },
            |server| login_download_noop(h, server, "f", &body),
            |record| {
                protected_data(record, 1)?;
                ensure_eq(
                    commands(record),
                    [
                        "AUTH TLS",
                        "USER alice",
                        "PASS secret",
                        "PBSZ 0",
                        "PROT P",
                        "TYPE I",
                        "EPSV",
                        "RETR f",
                        "NOOP",
                    ]
                    .map(String::from)
                    .to_vec(),
                    "commands",
                )
            },
        )
    })
}

// ---- DATA-02 ----

/// EPSV refused, then PASV answered with `reply_ip` and a listener on `listen_ip` (`None`:
/// the control connection's address), then a protected RETR.
fn pasv_retr(
    c: &mut Conn,
    reply_ip: [u8; 4],
    listen_ip: Option<IpAddr>,
    body: &[u8],
) -> Result<(), String> {
    c.secure_login()?;
    type_i(c)?;
    c.expect("EPSV")?;
    c.send("500 'EPSV': command not understood.")?;
    c.expect("PASV")?;
    let listener = match listen_ip {
        Some(ip) => c.listen_data_on(ip)?,
        None => c.listen_data()?,
    };
    c.send(&reply_227(reply_ip, listener.port()))?;
    c.expect("RETR f")?;
    c.send("150 Opening BINARY mode data connection")?;
    let data = listener.accept(c)?;
    send_protected(data, body)?;
    c.send("226 Transfer complete.")?;
    noop_ok(c)
}

fn data_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
        let body = payload(5_000, 2);
        // Default: the reply names 10.99.0.7; the server listens only on the control address.
        let sent = body.clone();
        scripted(
            options.clone(),
            move |c| pasv_retr(c, [10, 99, 0, 7], None, &sent),
            |server| login_download_noop(h, server, "f", &body),
            |record| protected_data(record, 1),
        )
        .map_err(|e| format!("default: {e}"))?;
        // Opt-in, as SCENARIOS scripts it: the reply names 127.0.0.1.
        for (ip, listen) in [
            ([127, 0, 0, 1], None),
            // And a listener on 127.0.0.2 only, so only a client that used the reply's
            // address finds it.
            (
                [127, 0, 0, 2],
                Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
            ),
        ] {
            let sent = body.clone();
            scripted(
                options.clone(),
                move |c| pasv_retr(c, ip, listen, &sent),
                |server| {
                    let mut client = ok(
                        h.builder(server)
                            .danger_use_pasv_address()
                            .connect(h.connector()),
                        "connect with the PASV-address opt-in",
                    )?;
                    ok(client.login("alice", "secret"), "login")?;
                    download_eq(&mut client, "f", &body)?;
                    ok(client.noop(), "NOOP").map(drop)
                },
                |record| protected_data(record, 1),
            )
            .map_err(|e| format!("opt-in, reply {ip:?}: {e}"))?;
        }
        Ok(())
    })
}

// ---- DATA-03 ----

fn data_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
        data_03_port(h, options.clone(), false).map_err(|e| format!("a (PORT): {e}"))?;
        data_03_port(h, options.clone(), true).map_err(|e| format!("b (connect at PORT): {e}"))?;
        data_03_eprt(h, options.clone()).map_err(|e| format!("a (EPRT over IPv6): {e}"))?;
        data_03_eprt_refused(h, options).map_err(|e| format!("c (522 to EPRT): {e}"))
    })
}

fn active_client<C: SecureConnection>(
    h: &Harness<C>,
    builder: ftps_core::ClientBuilder,
) -> Result<Client<C>, String> {
    let mut client = ok(
        builder
            .data_connection_mode(DataConnectionMode::Active)
            .connect(h.connector()),
        "connect (active mode)",
    )?;
    ok(client.login("alice", "secret"), "login")?;
    Ok(client)
}

/// IPv4 active mode; `early`: the server connects as soon as it gets PORT (pyftpdlib).
fn data_03_port<C: SecureConnection>(h: &Harness<C>, options: ServerOptions, early: bool) -> Check {
    let body = payload(8_000, 3);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            type_i(c)?;
            let arg = c.expect_verb("PORT")?;
            let addr = parse_port_arg(&arg)?;
            // The control connection's local address, never 0.0.0.0.
            ensure_eq(addr.ip(), c.peer_addr().ip(), "address in PORT")?;
            let data = if early {
                let data = c.connect_data(addr)?;
                c.send("200 Active data connection established.")?;
                c.expect("RETR f")?;
                c.send("125 Data connection already open; transfer starting.")?;
                data
            } else {
                c.send("200 PORT command successful.")?;
                c.expect("RETR f")?;
                c.send("150 Opening BINARY mode data connection")?;
                c.connect_data(addr)?
            };
            // The server waits for the ClientHello: the client is the TLS client.
            send_protected(data, &sent)?;
            c.send("226 Transfer complete.")?;
            noop_ok(c)?;
            listener_closed(addr)
        },
        |server| {
            let mut client = active_client(h, h.builder(server))?;
            download_eq(&mut client, "f", &body)?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| protected_data(record, 1),
    )
}

/// The server bound to `::1`; the client connects to `::1`.
fn ipv6_options(options: ServerOptions) -> ServerOptions {
    ServerOptions {
        bind_ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
        ..options
    }
}

fn ipv6_builder<C: SecureConnection>(server: &TestServer) -> ftps_core::ClientBuilder {
    ftps_core::ClientBuilder::new("::1")
        .port(server.addr().port())
        .timeouts(Harness::<C>::timeouts())
}

fn data_03_eprt<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let body = payload(6_000, 4);
    let sent = body.clone();
    scripted(
        ipv6_options(options),
        move |c| {
            c.secure_login()?;
            type_i(c)?;
            let arg = c.expect_verb("EPRT")?;
            let addr = parse_eprt_v6(&arg)?;
            ensure_eq(addr.ip(), c.peer_addr().ip(), "address in EPRT")?;
            c.send("200 EPRT command successful.")?;
            c.expect("RETR f")?;
            c.send("150 Opening BINARY mode data connection")?;
            let data = c.connect_data(addr)?;
            send_protected(data, &sent)?;
            c.send("226 Transfer complete.")?;
            noop_ok(c)?;
            listener_closed(addr)
        },
        |server| {
            let mut client = active_client(h, ipv6_builder::<C>(server))?;
            download_eq(&mut client, "f", &body)?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| protected_data(record, 1),
    )
}

fn data_03_eprt_refused<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        ipv6_options(options),
        |c| {
            c.secure_login()?;
            type_i(c)?;
            let arg = c.expect_verb("EPRT")?;
            parse_eprt_v6(&arg)?;
            c.send("522 Network protocol not supported, use (1)")?;
            noop_ok(c)
        },
        |server| {
            let mut client = active_client(h, ipv6_builder::<C>(server))?;
            let mut file = Vec::new();
            let e = err(
                client.download("f", &mut file),
                "RETR f after a 522 to EPRT",
            )?;
            ensure(matches!(e, Error::Reply { .. }), || {
                format!("expected a Reply error, got {e:?}")
            })?;
            ensure_code(&e, 522)?;
            ensure_usable(&e, true)?;
            let text = e.reply().map(|r| r.text()).unwrap_or_default();
            ensure(text.contains("(1)"), || {
                format!("the error does not carry the protocol list: {text:?}")
            })?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| ensure_eq(record.data.len(), 0, "data connections"),
    )
}

// ---- DATA-04 ----

fn data_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
        for refusal in [
            "500 'EPSV': command not understood.",
            "501 Syntax error in parameters or arguments.",
            "502 Command not implemented.",
        ] {
            data_04_fallback(h, options.clone(), refusal)
                .map_err(|e| format!("EPSV answered {refusal:?}: {e}"))?;
        }
        data_04_no_fallback_after_229(h, options)
            .map_err(|e| format!("229 then a failed connect: {e}"))
    })
}

fn data_04_fallback<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    refusal: &'static str,
) -> Check {
    let (one, two) = (payload(3_000, 5), payload(2_000, 6));
    let (sent_one, sent_two) = (one.clone(), two.clone());
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            type_i(c)?;
            c.expect("EPSV")?;
            c.send(refusal)?;
            for (path, body) in [("f", &sent_one), ("g", &sent_two)] {
                // The second transfer must start directly with PASV.
                let listener = c.pasv()?;
                c.expect(&format!("RETR {path}"))?;
                c.send("150 Opening BINARY mode data connection")?;
                let data = listener.accept(c)?;
                send_protected(data, body)?;
                c.send("226 Transfer complete.")?;
            }
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            download_eq(&mut client, "f", &one)?;
            download_eq(&mut client, "g", &two)?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| {
            protected_data(record, 2)?;
            let epsv = commands(record).iter().filter(|c| *c == "EPSV").count();
            ensure_eq(epsv, 1, "EPSV commands")
        },
    )
}

fn data_04_no_fallback_after_229<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
) -> Check {
    let body = payload(2_500, 7);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            type_i(c)?;
            c.expect("EPSV")?;
            let port = dead_port()?;
            c.send(&format!("229 Entering Extended Passive Mode (|||{port}|)"))?;
            // The next transfer must try EPSV again: a failed connect is a data error.
            let listener = c.epsv()?;
            c.expect("RETR f")?;
            c.send("150 Opening BINARY mode data connection")?;
            let data = listener.accept(c)?;
            send_protected(data, &sent)?;
            c.send("226 Transfer complete.")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut file = Vec::new();
            let e = err(
                client.download("f", &mut file),
                "RETR f with nothing listening",
            )?;
            let data_connect = matches!(
                e,
                Error::Io {
                    phase: Phase::DataConnect,
                    ..
                } | Error::Timeout {
                    phase: Phase::DataConnect,
                    ..
                }
            );
            ensure(data_connect, || {
                format!("expected a data-connect error, got {e:?}")
            })?;
            ensure_usable(&e, true)?;
            download_eq(&mut client, "f", &body)?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| {
            ensure(!commands(record).iter().any(|c| c == "PASV"), || {
                format!(
                    "the client fell back to PASV after a 229: {:?}",
                    commands(record)
                )
            })
        },
    )
}

// ---- DATA-05 ----

/// One row of DATA-05: the passive reply for a listener port.
type PassiveReply = fn(u16) -> String;

fn data_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let rows: [(bool, PassiveReply); 8] = [
        (false, |p| {
            format!(
                "227 Entering Passive Mode (127,0,0,1,{},{})",
                p >> 8,
                p & 0xff
            )
        }),
        (false, |p| {
            format!(
                "227 Entering Passive Mode (127,0,0,1,{},{}).",
                p >> 8,
                p & 0xff
            )
        }),
        (false, |p| {
            format!(
                "227 Entering Passive Mode 127,0,0,1,{},{}",
                p >> 8,
                p & 0xff
            )
        }),
        (false, |p| format!("227 =127,0,0,1,{},{}", p >> 8, p & 0xff)),
        (true, |p| {
            format!("229 Entering Extended Passive Mode (|||{p}|)")
        }),
        (true, |p| {
            format!("229 Entering Extended Passive Mode (!!!{p}!)")
        }),
        (true, |p| format!("229 (|||{p}|)")),
        (true, |p| format!("229 Extended Passive (|1|10.0.0.9|{p}|)")),
    ];
    per_version(|options| {
        for (epsv, reply) in rows {
            let body = payload(1_500, 8);
            let sent = body.clone();
            scripted(
                options.clone(),
                move |c| {
                    c.secure_login()?;
                    type_i(c)?;
                    c.expect("EPSV")?;
                    if !epsv {
                        c.send("500 'EPSV': command not understood.")?;
                        c.expect("PASV")?;
                    }
                    let listener = c.listen_data()?;
                    c.send(&reply(listener.port()))?;
                    c.expect("RETR f")?;
                    c.send("150 Opening BINARY mode data connection")?;
                    let data = listener.accept(c)?;
                    send_protected(data, &sent)?;
                    c.send("226 Transfer complete.")?;
                    noop_ok(c)
                },
                |server| login_download_noop(h, server, "f", &body),
                |record| protected_data(record, 1),
            )
            .map_err(|e| format!("reply {:?}: {e}", reply(40001)))?;
        }
        Ok(())
    })
}

// ---- DATA-06 ----

fn data_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
        let variants: [(&str, &'static str, Duration); 3] = [
            (
                "a",
                "150 Opening BINARY mode data connection",
                Duration::ZERO,
            ),
            (
                "b",
                "125 Data connection already open; transfer starting.",
                Duration::ZERO,
            ),
            (
                "c",
                "150 Opening BINARY mode data connection",
                Duration::from_millis(500),
            ),
        ];
        for (name, opening, delay) in variants {
            let body = payload(4_000, 9);
            let sent = body.clone();
            scripted(
                options.clone(),
                move |c| {
                    c.secure_login()?;
                    type_i(c)?;
                    let listener = c.epsv()?;
                    c.expect("RETR f")?;
                    let data = listener.accept(c)?;
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                    c.send(opening)?;
                    send_protected(data, &sent)?;
                    c.send("226 Transfer complete.")?;
                    noop_ok(c)
                },
                |server| login_download_noop(h, server, "f", &body),
                |record| protected_data(record, 1),
            )
            .map_err(|e| format!("variant {name}: {e}"))?;
        }
        Ok(())
    })
}

// ---- DATA-07 ----

fn data_07<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| data_07_a(h, options)).map_err(|e| format!("a: {e}"))?;
    data_07_b(h).map_err(|e| format!("b: {e}"))
}

/// pyftpdlib: the server's TLS accept starts when the data TCP connection is accepted, before
/// the transfer command arrives; it answers 125.
fn data_07_a<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let body = payload(7_000, 10);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            type_i(c)?;
            let listener = c.epsv()?;
            let data = listener.accept(c)?;
            let tls = std::thread::Builder::new()
                .name("data-07a-tls".into())
                .spawn(move || send_protected(data, &sent))
                .map_err(|e| format!("cannot start the data thread: {e}"))?;
            c.expect("RETR f")?;
            c.send("125 Data connection already open; transfer starting.")?;
            tls.join()
                .map_err(|_| "the data thread panicked".to_owned())??;
            c.send("226 Transfer complete.")?;
            noop_ok(c)
        },
        |server| login_download_noop(h, server, "f", &body),
        |record| protected_data(record, 1),
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
            c.secure_login()?;
            type_i(c)?;
            let listener = c.epsv()?;
            c.expect("RETR f")?;
            let mut data = listener.accept(c)?;
            match data.accept_tls() {
                Ok(_) => {
                    c.send("150 Opening BINARY mode data connection")?;
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
                    ok(client.noop(), "NOOP").map(drop)
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

// ---- DATA-08 ----

const LIST_TEXT: &[u8] = b"-rw-r--r--    1 ftp      ftp          4096 Jan 01 12:00 a.txt\r\n\
drwxr-xr-x    2 ftp      ftp          4096 Jan 01 12:00 sub\r\n";
const NLST_TEXT: &[u8] = b"a.txt\r\nsub\r\n";
const MLSD_TEXT: &[u8] = b"type=file;size=4096;modify=20260101120000; a.txt\r\n\
type=dir;modify=20260101120000; sub\r\n";

fn data_08<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
        scripted(
            options,
            |c| {
                c.secure_login()?;
                type_i(c)?;
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
                let entries = ok(client.mlsd(None), "MLSD")?;
                ensure_eq(entries.len(), 2, "MLSD entries")?;
                ensure_eq(entries[0].name.as_bytes(), b"a.txt", "first MLSD name")?;
                ensure_eq(entries[0].kind(), Some(EntryKind::File), "a.txt type")?;
                ensure_eq(entries[0].size(), Some(4096), "a.txt size")?;
                ensure_eq(entries[1].name.as_bytes(), b"sub", "second MLSD name")?;
                ensure_eq(entries[1].kind(), Some(EntryKind::Dir), "sub type")?;
                ok(client.noop(), "NOOP").map(drop)
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

// ---- DATA-09 ----

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

fn data_09<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
        let stor = payload(9_000, 12);
        let appe = payload(3_000, 13);
        let stou = payload(1_000, 14);
        let (s_stor, s_appe, s_stou) = (stor.clone(), appe.clone(), stou.clone());
        scripted(
            options,
            move |c| {
                c.secure_login()?;
                type_i(c)?;
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
                ok(client.noop(), "NOOP").map(drop)
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

// ---- DATA-10 ----

fn data_10<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
        for (code, reply) in [
            (550, "550 No such file."),
            (450, "450 Requested file action not taken."),
            (425, "425 Can't open data connection."),
            (530, "530 Not logged in."),
        ] {
            scripted(
                options.clone(),
                move |c| {
                    c.secure_login()?;
                    type_i(c)?;
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
                    let mut client = ok(h.connect_login(server), "connect and login")?;
                    let mut file = Vec::new();
                    let e = err(client.download("missing", &mut file), "RETR missing")?;
                    ensure(matches!(e, Error::Reply { .. }), || {
                        format!("expected a Reply error, got {e:?}")
                    })?;
                    ensure_code(&e, code)?;
                    ensure_usable(&e, true)?;
                    ok(client.noop(), "NOOP").map(drop)
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

// ---- DATA-11 ----

fn data_11<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    data_11_425(h).map_err(|e| format!("425: {e}"))?;
    data_11_silent(h).map_err(|e| format!("silent: {e}"))
}

fn data_11_425<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            type_i(c)?;
            let addr = parse_port_arg(&c.expect_verb("PORT")?)?;
            c.send("200 PORT command successful.")?;
            c.expect("RETR f")?;
            c.send("425 Failed to establish connection.")?;
            noop_ok(c)?;
            listener_closed(addr)
        },
        |server| {
            let mut client = active_client(h, h.builder(server))?;
            let started = Instant::now();
            let mut file = Vec::new();
            let e = err(client.download("f", &mut file), "RETR f")?;
            let elapsed = started.elapsed();
            ensure(matches!(e, Error::Reply { .. }), || {
                format!("expected Reply{{425}}, got {e:?}")
            })?;
            ensure_code(&e, 425)?;
            ensure_usable(&e, true)?;
            // It watched the control connection instead of waiting out the accept timeout.
            let limit = Harness::<C>::timeouts().data_accept;
            ensure(elapsed < limit, || {
                format!("the 425 took {elapsed:?} to be noticed")
            })?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| ensure_eq(record.data.len(), 0, "data connections"),
    )
}

fn data_11_silent<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            type_i(c)?;
            let addr = parse_port_arg(&c.expect_verb("PORT")?)?;
            c.send("200 PORT command successful.")?;
            c.expect("RETR f")?;
            // Silence until the client gives up; it must then abort (ABOR-02), and since the
            // ABOR is answered, the connection stays usable.
            c.expect("ABOR")?;
            c.send("426 Connection closed; transfer aborted.")?;
            c.send("226 Abort successful.")?;
            noop_ok(c)?;
            listener_closed(addr)
        },
        |server| {
            let mut client = active_client(h, h.builder(server))?;
            let started = Instant::now();
            let mut file = Vec::new();
            let e = err(client.download("f", &mut file), "RETR f")?;
            let elapsed = started.elapsed();
            ensure(
                matches!(
                    e,
                    Error::Timeout {
                        phase: Phase::DataConnect,
                        ..
                    }
                ),
                || format!("expected a data-connect timeout, got {e:?}"),
            )?;
            let t = Harness::<C>::timeouts();
            let bound = t.data_accept + t.reply_idle;
            ensure(elapsed <= bound, || {
                format!("the timeout took {elapsed:?}, more than {bound:?}")
            })?;
            ensure_usable(&e, true)?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| ensure_eq(record.data.len(), 0, "data connections"),
    )
}

// ---- DATA-12 ----

/// How the server fails the data handshake.
#[derive(Clone, Copy, Debug)]
enum HandshakeFailure {
    /// A fatal handshake_failure alert, then FIN.
    Alert,
    /// A FIN after the ClientHello.
    Fin,
}

fn data_12<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
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
fn failed_data_handshake(c: &mut Conn, how: HandshakeFailure) -> Result<(), String> {
    c.secure_login()?;
    type_i(c)?;
    let listener = c.epsv()?;
    c.expect("RETR f")?;
    c.send("150 Opening BINARY mode data connection")?;
    let mut data = listener.accept(c)?;
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
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut file = Vec::new();
            let e = err(client.download("f", &mut file), "RETR f")?;
            ensure(
                matches!(
                    e,
                    Error::Tls {
                        phase: Phase::DataHandshake,
                        ..
                    }
                ),
                || format!("expected a data-handshake TLS error, got {e:?}"),
            )?;
            ensure_code(&e, code)?;
            ensure_usable(&e, true)?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| {
            ensure_eq(record.data.len(), 1, "data connections")?;
            a2_data_protection(record, true)
        },
    )
}

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
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut file = Vec::new();
            let e = err(client.download("f", &mut file), "RETR f")?;
            ensure(matches!(e, Error::ConnectionClosed { .. }), || {
                format!("expected ConnectionClosed, got {e:?}")
            })?;
            ensure_usable(&e, false)?;
            after_error_a3(&mut client, &e)
        },
        |record| a2_data_protection(record, true),
    )
}

// ---- DATA-13 ----

fn data_13<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    per_version(|options| {
        data_13_multiline(h, options.clone()).map_err(|e| format!("a: {e}"))?;
        data_13_empty(h, options.clone(), true).map_err(|e| format!("b (one record): {e}"))?;
        data_13_empty(h, options.clone(), false)
            .map_err(|e| format!("b (226 right after FIN): {e}"))?;
        data_13_early_226(h, options).map_err(|e| format!("c: {e}"))
    })
}

/// a) Pure-FTPd's multi-line 150.
fn data_13_multiline<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let body = payload(4_096, 15);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            type_i(c)?;
            let listener = c.epsv()?;
            c.expect("RETR f")?;
            c.send_raw(b"150-Accepted data connection\r\n150 4.0 kbytes to download\r\n")?;
            let data = listener.accept(c)?;
            send_protected(data, &sent)?;
            c.send("226-File successfully transferred\r\n226 0.001 seconds")?;
            noop_ok(c)
        },
        |server| login_download_noop(h, server, "f", &body),
        |record| protected_data(record, 1),
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
            c.secure_login()?;
            type_i(c)?;
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
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| protected_data(record, 1),
    )
}

/// c) The 226 arrives while half of the data is still to come.
fn data_13_early_226<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let body = payload(20_000, 16);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            type_i(c)?;
            let listener = c.epsv()?;
            c.expect("RETR f")?;
            c.send("150 Opening BINARY mode data connection")?;
            let mut data = listener.accept(c)?;
            data.accept_tls()?;
            let (first, rest) = sent.split_at(sent.len() / 2);
            data.write_all(first)?;
            c.send("226 Transfer complete.")?;
            std::thread::sleep(Duration::from_millis(200));
            data.write_all(rest)?;
            data.close_notify()?;
            data.wait_client_close(Duration::from_secs(1));
            data.fin();
            noop_ok(c)
        },
        |server| login_download_noop(h, server, "f", &body),
        |record| protected_data(record, 1),
    )
}
