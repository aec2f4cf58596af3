//! DATA-03, DATA-11: active mode (PORT, EPRT), where the server connects but the client is
//! still the TLS client.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ftps_core::{Client, ClientBuilder, DataConnectionMode, Error, Phase, SecureConnection};

use super::payload;
use crate::checks::{ensure, ensure_eq, ensure_usable, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{login_binary, noop_ok, parse_port_arg, send_protected, OPENING};
use crate::scenarios::transcript::protected_data;
use crate::scenarios::{
    download_eq, download_fails, each_pinned, ensure_kind, ensure_usable_reply, final_noop,
    scripted,
};
use crate::server::{Conn, ServerOptions, TestServer};

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

/// Connects `builder` in active mode and logs in.
fn active_client<C: SecureConnection>(
    h: &Harness<C>,
    builder: ClientBuilder,
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

/// Downloads `f`, which must fail; returns the error and how long the call took.
fn timed_failure<C: SecureConnection>(client: &mut Client<C>) -> Result<(Error, Duration), String> {
    let started = Instant::now();
    let (e, _) = download_fails(client, "f", "RETR f")?;
    Ok((e, started.elapsed()))
}

/// `[secure-login]` · `TYPE I` · `C* PORT` · `S* 200` · `C* RETR f`; returns the PORT address.
fn port_then_retr(c: &mut Conn) -> Result<SocketAddr, String> {
    login_binary(c)?;
    let addr = parse_port_arg(&c.expect_verb("PORT")?)?;
    c.send("200 PORT command successful.")?;
    c.expect("RETR f")?;
    Ok(addr)
}

pub(super) fn data_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        data_03_port(h, options.clone(), false).map_err(|e| format!("a (PORT): {e}"))?;
        data_03_port(h, options.clone(), true).map_err(|e| format!("b (connect at PORT): {e}"))?;
        data_03_eprt(h, options.clone()).map_err(|e| format!("a (EPRT over IPv6): {e}"))?;
        data_03_eprt_refused(h, options).map_err(|e| format!("c (522 to EPRT): {e}"))
    })
}

/// IPv4 active mode; `early`: the server connects as soon as it gets PORT (pyftpdlib).
fn data_03_port<C: SecureConnection>(h: &Harness<C>, options: ServerOptions, early: bool) -> Check {
    let body = payload(8_000, 3);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            login_binary(c)?;
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
                c.send(OPENING)?;
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
            final_noop(&mut client)
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

/// A client builder for `server` by the IPv6 literal `::1`, with the A4 time limits.
fn ipv6_builder<C: SecureConnection>(server: &TestServer) -> ClientBuilder {
    ClientBuilder::new("::1")
        .port(server.addr().port())
        .timeouts(Harness::<C>::timeouts())
}

/// DATA-03 a over IPv6: EPRT with protocol 2, the server connects to the client's `::1`.
fn data_03_eprt<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let body = payload(6_000, 4);
    let sent = body.clone();
    scripted(
        ipv6_options(options),
        move |c| {
            login_binary(c)?;
            let arg = c.expect_verb("EPRT")?;
            let addr = parse_eprt_v6(&arg)?;
            ensure_eq(addr.ip(), c.peer_addr().ip(), "address in EPRT")?;
            c.send("200 EPRT command successful.")?;
            c.expect("RETR f")?;
            c.send(OPENING)?;
            let data = c.connect_data(addr)?;
            send_protected(data, &sent)?;
            c.send("226 Transfer complete.")?;
            noop_ok(c)?;
            listener_closed(addr)
        },
        |server| {
            let mut client = active_client(h, ipv6_builder::<C>(server))?;
            download_eq(&mut client, "f", &body)?;
            final_noop(&mut client)
        },
        |record| protected_data(record, 1),
    )
}

/// DATA-03 c: a 522 to EPRT is a usable `Reply{522}` that keeps the server's protocol list.
fn data_03_eprt_refused<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        ipv6_options(options),
        |c| {
            login_binary(c)?;
            let arg = c.expect_verb("EPRT")?;
            parse_eprt_v6(&arg)?;
            c.send("522 Network protocol not supported, use (1)")?;
            noop_ok(c)
        },
        |server| {
            let mut client = active_client(h, ipv6_builder::<C>(server))?;
            let (e, _) = download_fails(&mut client, "f", "RETR f after a 522 to EPRT")?;
            ensure_usable_reply(&e, 522)?;
            let text = e.reply().map(|r| r.text()).unwrap_or_default();
            ensure(text.contains("(1)"), || {
                format!("the error does not carry the protocol list: {text:?}")
            })?;
            final_noop(&mut client)
        },
        |record| ensure_eq(record.data.len(), 0, "data connections"),
    )
}

pub(super) fn data_11<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    data_11_425(h).map_err(|e| format!("425: {e}"))?;
    data_11_silent(h).map_err(|e| format!("silent: {e}"))
}

/// DATA-11, the server answers 425: noticed on the control connection, before the accept
/// timeout.
fn data_11_425<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            let addr = port_then_retr(c)?;
            c.send("425 Failed to establish connection.")?;
            noop_ok(c)?;
            listener_closed(addr)
        },
        |server| {
            let mut client = active_client(h, h.builder(server))?;
            let (e, elapsed) = timed_failure(&mut client)?;
            ensure_usable_reply(&e, 425)?;
            // It watched the control connection instead of waiting out the accept timeout.
            let limit = Harness::<C>::timeouts().data_accept;
            ensure(elapsed < limit, || {
                format!("the 425 took {elapsed:?} to be noticed")
            })?;
            final_noop(&mut client)
        },
        |record| ensure_eq(record.data.len(), 0, "data connections"),
    )
}

/// DATA-11, the server stays silent: a bounded data-connect timeout, then ABOR.
fn data_11_silent<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            let addr = port_then_retr(c)?;
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
            let (e, elapsed) = timed_failure(&mut client)?;
            ensure_kind(
                &e,
                matches!(
                    e,
                    Error::Timeout {
                        phase: Phase::DataConnect,
                        ..
                    }
                ),
                "a data-connect timeout",
            )?;
            let t = Harness::<C>::timeouts();
            let bound = t.data_accept + t.reply_idle;
            ensure(elapsed <= bound, || {
                format!("the timeout took {elapsed:?}, more than {bound:?}")
            })?;
            ensure_usable(&e, true)?;
            final_noop(&mut client)
        },
        |record| ensure_eq(record.data.len(), 0, "data connections"),
    )
}
