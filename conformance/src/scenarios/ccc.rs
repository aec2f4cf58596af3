//! CCC-01 … CCC-06: clearing the control connection (RFC 4217 §6, §10.2, §12.3).
//!
//! After the server's `200` the client sends its close_notify at once, reads up to the
//! server's, and goes on in the clear on the same TCP connection; data connections stay
//! Private and resume the cleared control connection's TLS session.
//!
//! Real servers (SCENARIOS §21): the servers that accept CCC are ProFTPD (`TLSRequired` off for
//! the control connection) and Pure-FTPd (after login). Neither is installed where this group
//! was written, so CCC has no real-server test yet; the scripts here play their reply texts and
//! their close_notify habits (ProFTPD's bidirectional shutdown is CCC-02 a). vsftpd and
//! pyftpdlib refuse CCC with 500 (CCC-04).

use ftps_core::session::ControlProtection;
use ftps_core::{Capability, Client, Error, ProtectionLevel, SecureConnection};

use super::steps::{
    end_control_tls, login, noop_ok, secure_handshake, serve_retr, CLOSE_NOTIFY_WAIT,
};
use super::transcript::{none_of, protected_data};
use super::{
    connect_plain, download_content, each_pinned, ensure_kind, ensure_level, ensure_usable_reply,
    final_noop, next_call_unusable, scripted, scripted_plain, CONTENT,
};
use crate::checks::{ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Record, ServerOptions};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "CCC-01",
            title: "CCC accepted: 200, a close_notify exchange, then commands in the clear",
            needs: &[Capability::Unwrap],
            run: ccc_01::<C>,
        },
        Scenario {
            id: "CCC-02",
            title: "The order of the close_notify alerts, and no lost bytes",
            needs: &[Capability::Unwrap],
            run: ccc_02::<C>,
        },
        Scenario {
            id: "CCC-03",
            title: "CCC on an unprotected control connection",
            needs: &[Capability::Unwrap],
            run: ccc_03::<C>,
        },
        Scenario {
            id: "CCC-04",
            title: "CCC not supported: 500 or 502",
            needs: &[Capability::Unwrap],
            run: ccc_04::<C>,
        },
        Scenario {
            id: "CCC-05",
            title: "CCC refused by policy: 534",
            needs: &[Capability::Unwrap],
            run: ccc_05::<C>,
        },
        Scenario {
            id: "CCC-06",
            title: "After CCC: no PBSZ, PROT or AUTH, and data stays protected",
            // Resumption only for the reuse-requiring variant, which runs when the backend
            // declares it.
            needs: &[Capability::Unwrap],
            run: ccc_06::<C>,
        },
    ]
}

/// The reply ProFTPD sends to an accepted CCC.
const CLEARING: &str = "200 Clearing control channel protection";

/// The client reports the control connection cleared by CCC, and Private data.
fn ensure_cleared<C: SecureConnection>(client: &Client<C>, what: &str) -> Check {
    ensure_eq(
        client.control_protection(),
        ControlProtection::Cleared,
        &format!("{what}: control protection"),
    )?;
    ensure(!client.is_control_protected(), || {
        format!("{what}: control still reported protected")
    })?;
    ensure_level(
        client,
        ProtectionLevel::Private,
        &format!("{what}: data level"),
    )
}

/// The client reports the control connection protected, as before a refused CCC.
fn ensure_protected<C: SecureConnection>(client: &Client<C>, what: &str) -> Check {
    ensure_eq(
        client.control_protection(),
        ControlProtection::Protected,
        &format!("{what}: control protection"),
    )?;
    ensure_level(
        client,
        ProtectionLevel::Private,
        &format!("{what}: data level"),
    )
}

/// Connects, logs in and clears the control connection; the reply must be the 200.
fn login_ccc<C: SecureConnection>(
    h: &Harness<C>,
    server: &crate::server::TestServer,
) -> Result<Client<C>, String> {
    let mut client = ok(h.connect_login(server), "connect and login")?;
    let reply = ok(client.ccc(), "CCC")?;
    ensure_eq(reply.code(), 200, "reply to CCC")?;
    ensure_cleared(&client, "after CCC")?;
    Ok(client)
}

/// `CCC` went inside TLS, every later command in the clear, and the cleartext the server
/// received is exactly `AUTH TLS` and those commands: nothing else crossed in the clear (no
/// TLS leftovers, no byte twice). Returns the commands after CCC.
fn cleared_after_ccc(record: &Record) -> Result<Vec<String>, String> {
    let at = record
        .commands
        .iter()
        .position(|(_, c)| c == "CCC")
        .ok_or("the server never received CCC")?;
    ensure(record.commands[at].0, || "CCC was sent in the clear".into())?;
    let after = &record.commands[at + 1..];
    for (protected, line) in after {
        ensure(!protected, || {
            format!("{line:?} after CCC was sent inside TLS")
        })?;
    }
    let mut expected = b"AUTH TLS\r\n".to_vec();
    for (_, line) in after {
        expected.extend_from_slice(line.as_bytes());
        expected.extend_from_slice(b"\r\n");
    }
    ensure(record.cleartext == expected, || {
        format!(
            "cleartext: got {:?}, expected {:?}",
            String::from_utf8_lossy(&record.cleartext),
            String::from_utf8_lossy(&expected)
        )
    })?;
    Ok(after.iter().map(|(_, l)| l.clone()).collect())
}

/// No `CCC` was received, and everything after `AUTH TLS` came inside TLS.
fn never_ccc_and_protected(record: &Record) -> Check {
    none_of(record, &["CCC"])?;
    ensure_eq(record.cleartext.as_slice(), b"AUTH TLS\r\n", "cleartext")
}

fn ccc_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                c.secure_login()?;
                c.expect("CCC")?;
                c.send(CLEARING)?;
                end_control_tls(c)?;
                c.expect("PWD")?;
                c.send("257 \"/\" is the current directory")?;
                // PROT P is still in force: the data handshake comes.
                serve_retr(c, true, CONTENT)?;
                noop_ok(c)
            },
            |server| {
                let mut client = login_ccc(h, server)?;
                let path = ok(client.pwd(), "PWD in the clear")?;
                ensure_eq(path.as_bytes(), b"/", "PWD")?;
                download_content(&mut client, "RETR after CCC")?;
                ensure_cleared(&client, "after the transfer")?;
                final_noop(&mut client)
            },
            |record| {
                let after = cleared_after_ccc(record)?;
                ensure(after.first().map(String::as_str) == Some("PWD"), || {
                    format!("commands after CCC: {after:?}")
                })?;
                protected_data(record, 1)
            },
        )
    })
}

/// How the server ends its side of the control TLS session in CCC-02.
#[derive(Clone, Copy, Debug)]
enum Order {
    /// a) close_notify right after the 200, then the wait for the client's.
    ServerFirst,
    /// b) the wait for the client's close_notify, then the server's.
    ClientFirst,
    /// c) the 200 and the close_notify in one TCP segment.
    OneSegment,
}

/// The 421 a server sends in the same TCP segment as the 200 and its close_notify (CCC-02,
/// "no lost bytes"): bytes right after the close_notify that must reach the client, once.
const CLOSING: &[u8] = b"421 Service not available, closing control connection.\r\n";

fn ccc_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        for order in [Order::ServerFirst, Order::ClientFirst, Order::OneSegment] {
            ccc_02_order(h, options.clone(), order).map_err(|e| format!("{order:?}: {e}"))?;
        }
        ccc_02_bytes_after(h, options).map_err(|e| format!("BytesAfter: {e}"))
    })
}

/// Variants a to c: the exchange in `order`, then A3 in the clear.
fn ccc_02_order<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    order: Order,
) -> Check {
    scripted(
        options,
        move |c| {
            c.secure_login()?;
            c.expect("CCC")?;
            match order {
                Order::ServerFirst => {
                    c.send(CLEARING)?;
                    c.close_notify()?;
                    c.wait_close_notify(CLOSE_NOTIFY_WAIT)?;
                }
                Order::ClientFirst => {
                    c.send(CLEARING)?;
                    c.wait_close_notify(CLOSE_NOTIFY_WAIT)?;
                    // The client may send nothing in the clear before the server's close_notify.
                    c.expect_nothing_after_close_notify(std::time::Duration::from_millis(300))?;
                    c.close_notify()?;
                }
                Order::OneSegment => {
                    c.send_then_close_notify(CLEARING)?;
                    c.wait_close_notify(CLOSE_NOTIFY_WAIT)?;
                }
            }
            c.end_tls()?;
            noop_ok(c)
        },
        |server| {
            let mut client = login_ccc(h, server)?;
            final_noop(&mut client)
        },
        |record| {
            let after = cleared_after_ccc(record)?;
            ensure_eq(after, vec!["NOOP".to_owned()], "commands after CCC")
        },
    )
}

/// The 421 that came right after the server's close_notify is the next thing the client
/// reads: not lost, not read twice, and no command is sent.
fn ccc_02_bytes_after<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        options,
        |c| {
            c.secure_login()?;
            c.expect("CCC")?;
            c.send_close_notify_then_clear(CLEARING, CLOSING)?;
            c.wait_close_notify(CLOSE_NOTIFY_WAIT)?;
            c.end_tls()?;
            // The client must close without sending a command.
            c.expect_eof(CLOSE_NOTIFY_WAIT).map(drop)
        },
        |server| {
            let mut client = login_ccc(h, server)?;
            let e = err(client.noop(), "NOOP after the 421")?;
            ensure_kind(
                &e,
                matches!(&e, Error::ServiceClosing { reply }
                    if reply.text() == "Service not available, closing control connection."),
                "ServiceClosing with the whole 421",
            )?;
            ensure_code(&e, 421)?;
            ensure_usable(&e, false)?;
            next_call_unusable(&mut client)
        },
        |record| {
            let after = cleared_after_ccc(record)?;
            ensure(after.is_empty(), || {
                format!("commands after CCC: {after:?}")
            })
        },
    )
}

fn ccc_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted_plain(
        ServerOptions::default(),
        |c| {
            c.send("220 ready")?;
            login(c)?;
            noop_ok(c)
        },
        |server| {
            let mut client = connect_plain(h, server)?;
            ok(client.login("alice", "secret"), "login in plain ftp")?;
            for (what, result) in [
                ("CCC on a clear connection", client.ccc()),
                ("raw CCC on a clear connection", client.raw("CCC")),
            ] {
                let e = err(result, what)?;
                ensure_kind(&e, matches!(e, Error::InvalidState(_)), "InvalidState")?;
                ensure_usable(&e, true)?;
            }
            final_noop(&mut client)
        },
        |record| none_of(record, &["CCC"]),
    )
}

/// CCC-04 and CCC-05: the server refuses CCC with `reply`: `Reply{code}`, usable, and the
/// control connection stays protected (A3 inside TLS).
fn ccc_refused<C: SecureConnection>(h: &Harness<C>, code: u16, reply: &'static str) -> Check {
    each_pinned(h, |options| {
        scripted(
            options,
            move |c| {
                c.secure_login()?;
                c.expect("CCC")?;
                c.send(reply)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let e = err(client.ccc(), "CCC")?;
                ensure_usable_reply(&e, code)?;
                ensure_protected(&client, "after the refusal")?;
                final_noop(&mut client)
            },
            |record| {
                ensure_eq(
                    record.commands.last(),
                    Some(&(true, "NOOP".to_owned())),
                    "the last command (protected)",
                )?;
                ensure_eq(record.cleartext.as_slice(), b"AUTH TLS\r\n", "cleartext")
            },
        )
        .map_err(|e| format!("{reply:?}: {e}"))
    })
}

fn ccc_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    ccc_refused(h, 500, "500 Unknown command.")?;
    ccc_refused(h, 500, "500 Command \"CCC\" not understood.")?;
    ccc_refused(h, 502, "502 Command not implemented.")
}

fn ccc_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    ccc_refused(h, 534, "534 Unwilling to accept security parameters")?;
    ccc_refused(h, 534, "534 CCC not allowed at this point")
}

fn ccc_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let reuse = h.capabilities().supports(Capability::Resumption);
    each_pinned(h, |options| {
        let options = ServerOptions {
            require_resumption: reuse,
            ..options
        };
        ccc_06_after(h, options.clone())?;
        ccc_06_too_early(h, options)
    })
}

/// After CCC: PBSZ, PROT, AUTH and Clear data are refused locally; two transfers are
/// protected, each resuming the cleared control session when the backend resumes.
fn ccc_06_after<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let reuse = options.require_resumption;
    scripted(
        options,
        |c| {
            c.secure_login()?;
            c.expect("CCC")?;
            c.send(CLEARING)?;
            end_control_tls(c)?;
            serve_retr(c, true, CONTENT)?;
            serve_retr(c, true, CONTENT)?;
            noop_ok(c)
        },
        |server| {
            let mut client = login_ccc(h, server)?;
            let e = err(
                client.set_data_protection_level(ProtectionLevel::Clear),
                "Clear data after CCC",
            )?;
            refused_locally(&e, "Clear data after CCC")?;
            for line in ["PBSZ 0", "PROT C", "PROT P", "AUTH TLS", "CCC"] {
                let e = err(client.raw(line), &format!("raw {line} after CCC"))?;
                refused_locally(&e, line)?;
            }
            download_content(&mut client, "first RETR after CCC")?;
            download_content(&mut client, "second RETR after CCC")?;
            ensure_cleared(&client, "after the transfers")?;
            final_noop(&mut client)
        },
        move |record| {
            let after = cleared_after_ccc(record)?;
            let forbidden: Vec<_> = after
                .iter()
                .filter(|c| {
                    ["PBSZ", "PROT", "AUTH", "CCC"]
                        .iter()
                        .any(|v| c.starts_with(v))
                })
                .collect();
            ensure(forbidden.is_empty(), || {
                format!("sent after CCC: {forbidden:?}")
            })?;
            protected_data(record, 2)?;
            if reuse {
                for (i, d) in record.data.iter().enumerate() {
                    ensure_eq(
                        d.resumed,
                        Some(true),
                        &format!("data connection {i} resumed"),
                    )?;
                }
            }
            Ok(())
        },
    )
}

/// CCC before login, and after login while PROT P was refused: `InvalidState`, nothing sent.
fn ccc_06_too_early<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        options,
        |c| {
            secure_handshake(c)?;
            noop_ok(c)?;
            login(c)?;
            c.expect("PBSZ 0")?;
            c.send("200 PBSZ=0")?;
            c.expect("PROT P")?;
            c.send("534 Request denied for policy reasons.")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            let e = err(client.ccc(), "CCC before login")?;
            refused_locally(&e, "CCC before login")?;
            final_noop(&mut client)?;
            let e = err(client.login("alice", "secret"), "login with PROT P refused")?;
            ensure_kind(
                &e,
                matches!(e, Error::DataProtectionRefused { .. }),
                "DataProtectionRefused",
            )?;
            let e = err(client.ccc(), "CCC before PROT is final")?;
            refused_locally(&e, "CCC before PROT is final")?;
            final_noop(&mut client)
        },
        never_ccc_and_protected,
    )
}

/// `e` is the local `InvalidState` refusal, and the connection is usable.
fn refused_locally(e: &Error, what: &str) -> Check {
    ensure_kind(e, matches!(e, Error::InvalidState(_)), "InvalidState")
        .and_then(|()| ensure_usable(e, true))
        .map_err(|m| format!("{what}: {m}"))
}
