//! DATA-01, DATA-02, DATA-04, DATA-05: passive mode (EPSV, PASV) and its replies.

use std::net::{IpAddr, Ipv4Addr, TcpListener};

use ftps_core::{DataConnectionMode, Error, Phase, SecureConnection};

use super::{download_served, payload, retr_on};
use crate::checks::{commands, ensure, ensure_eq, ensure_usable, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{login_binary, noop_ok};
use crate::scenarios::transcript::{ensure_login_then, protected_data};
use crate::scenarios::{
    connect_login_with, download_eq, each_pinned, final_noop, login_download_noop,
    login_failed_download, scripted,
};
use crate::server::{Conn, ServerOptions};

/// The refusal of servers that do not know EPSV.
const EPSV_UNKNOWN: &str = "500 'EPSV': command not understood.";

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

/// A port on 127.0.0.1 where nothing listens (bound, then closed).
fn dead_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("bind for a dead port failed: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr failed: {e}"))
}

/// `[secure-login]` · `TYPE I` · `C* EPSV`, answered with [`EPSV_UNKNOWN`] and followed by
/// `C* PASV` when `pasv`; then the passive `reply` for a listener on `listen_ip` (`None`: the
/// control connection's address), a protected `RETR f` of `body`, and the closing NOOP.
fn passive_retr(
    c: &mut Conn,
    pasv: bool,
    listen_ip: Option<IpAddr>,
    reply: impl FnOnce(u16) -> String,
    body: &[u8],
) -> Check {
    login_binary(c)?;
    c.expect("EPSV")?;
    if pasv {
        c.send(EPSV_UNKNOWN)?;
        c.expect("PASV")?;
    }
    let listener = match listen_ip {
        Some(ip) => c.listen_data_on(ip)?,
        None => c.listen_data()?,
    };
    c.send(&reply(listener.port()))?;
    retr_on(c, &listener, "f", body)?;
    noop_ok(c)
}

pub(super) fn data_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        download_served(
            h,
            options,
            payload(10_000, 1),
            // The listener binds only the control connection's address, so the data
            // connection arrives only if the client connected to the control peer.
            |c, listener, body| retr_on(c, &listener, "f", body),
            |record| ensure_login_then(record, &["TYPE I", "EPSV", "RETR f", "NOOP"], "commands"),
        )
    })
}

pub(super) fn data_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        let body = payload(5_000, 2);
        // Default: the reply names 10.99.0.7; the server listens only on the control address.
        let sent = body.clone();
        scripted(
            options.clone(),
            move |c| passive_retr(c, true, None, |p| reply_227([10, 99, 0, 7], p), &sent),
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
                move |c| passive_retr(c, true, listen, |p| reply_227(ip, p), &sent),
                |server| {
                    let mut client = connect_login_with(
                        h,
                        server,
                        |b| b.danger_use_pasv_address(),
                        "connect with the PASV-address opt-in",
                    )?;
                    download_eq(&mut client, "f", &body)?;
                    final_noop(&mut client)
                },
                |record| protected_data(record, 1),
            )
            .map_err(|e| format!("opt-in, reply {ip:?}: {e}"))?;
        }
        data_02_forced(h, options).map_err(|e| format!("PASV forced: {e}"))
    })
}

/// DATA-02 with [`DataConnectionMode::Pasv`]: `PASV` for every transfer and never `EPSV`,
/// though the server would answer it; the reply's address is still ignored.
fn data_02_forced<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let body = payload(7_000, 22);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            login_binary(c)?;
            for _ in 0..2 {
                c.expect("PASV")?;
                let listener = c.listen_data()?;
                c.send(&reply_227([10, 99, 0, 7], listener.port()))?;
                retr_on(c, &listener, "f", &sent)?;
            }
            noop_ok(c)
        },
        |server| {
            let mut client = connect_login_with(
                h,
                server,
                |b| b.data_connection_mode(DataConnectionMode::Pasv),
                "connect with PASV forced",
            )?;
            download_eq(&mut client, "f", &body)?;
            download_eq(&mut client, "f", &body)?;
            final_noop(&mut client)
        },
        |record| protected_data(record, 2),
    )
}

pub(super) fn data_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        for refusal in [
            EPSV_UNKNOWN,
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

/// DATA-04: EPSV answered with `refusal`, so this and the next transfer use PASV.
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
            login_binary(c)?;
            c.expect("EPSV")?;
            c.send(refusal)?;
            for (path, body) in [("f", &sent_one), ("g", &sent_two)] {
                // The second transfer must start directly with PASV.
                let listener = c.pasv()?;
                retr_on(c, &listener, path, body)?;
            }
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            download_eq(&mut client, "f", &one)?;
            download_eq(&mut client, "g", &two)?;
            final_noop(&mut client)
        },
        |record| {
            protected_data(record, 2)?;
            let epsv = commands(record).iter().filter(|c| *c == "EPSV").count();
            ensure_eq(epsv, 1, "EPSV commands")
        },
    )
}

/// DATA-04: a 229 whose port does not answer is a data error; the next transfer tries EPSV
/// again, never PASV.
fn data_04_no_fallback_after_229<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
) -> Check {
    let body = payload(2_500, 7);
    let sent = body.clone();
    scripted(
        options,
        move |c| {
            login_binary(c)?;
            c.expect("EPSV")?;
            let port = dead_port()?;
            c.send(&format!("229 Entering Extended Passive Mode (|||{port}|)"))?;
            // The next transfer must try EPSV again: a failed connect is a data error.
            let listener = c.epsv()?;
            retr_on(c, &listener, "f", &sent)?;
            noop_ok(c)
        },
        |server| {
            let (mut client, e, _) =
                login_failed_download(h, server, "f", "RETR f with nothing listening")?;
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
            final_noop(&mut client)
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

/// One row of DATA-05: the passive reply for a listener port.
type PassiveReply = fn(u16) -> String;

pub(super) fn data_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let rows: [(bool, PassiveReply); 8] = [
        (false, |p| {
            format!(
                "227 Entering Passive Mode (127,0,0,1,{},{})",
                p >> 8,
                p & 0xff
            )
        }),
        (false, |p| reply_227([127, 0, 0, 1], p)),
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
    each_pinned(h, |options| {
        for (epsv, reply) in rows {
            let body = payload(1_500, 8);
            let sent = body.clone();
            scripted(
                options.clone(),
                move |c| passive_retr(c, !epsv, None, reply, &sent),
                |server| login_download_noop(h, server, "f", &body),
                |record| protected_data(record, 1),
            )
            .map_err(|e| format!("reply {:?}: {e}", reply(40001)))?;
        }
        Ok(())
    })
}
