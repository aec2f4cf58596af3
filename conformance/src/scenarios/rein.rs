//! REIN-01 … REIN-02: reinitialising a protected session (RFC 4217 §13, RFC 959 §4.1.1,
//! decision D9).
//!
//! Real servers (SCENARIOS §21): vsftpd and ProFTPD answer 502 (REIN-02 a), pyftpdlib answers
//! 230 and keeps TLS (REIN-02 b). No real server here ends TLS after REIN, so REIN-01 is scripted
//! only.

use ftps_core::session::ControlProtection;
use ftps_core::{Capability, Client, Error, ProtectionLevel, SecureConnection};

use super::steps::{
    end_control_tls, login_and_protect, noop_ok, secure_handshake, serve_retr, type_i, upgrade,
};
use super::transcript::{pbsz_precedes_prot, protected_data};
use super::{
    connect_login_with, download_content, each_pinned, ensure_kind, ensure_level, final_noop,
    scripted, CONTENT,
};
use crate::checks::{ensure, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Record, ServerOptions};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "REIN-01",
            title: "REIN on a protected session, with a server that follows RFC 4217 §13",
            needs: &[Capability::Unwrap],
            run: rein_01::<C>,
        },
        Scenario {
            id: "REIN-02",
            title: "REIN not implemented, or answered positively without clearing TLS",
            // The client refuses REIN on a protected connection when the backend could not
            // follow a server that ends TLS.
            needs: &[Capability::Unwrap],
            run: rein_02::<C>,
        },
    ]
}

/// The client reports a protected control connection and data level `level`.
fn ensure_state<C: SecureConnection>(
    client: &Client<C>,
    level: ProtectionLevel,
    what: &str,
) -> Check {
    ensure_eq(
        client.control_protection(),
        ControlProtection::Protected,
        &format!("{what}: control protection"),
    )?;
    ensure_level(client, level, &format!("{what}: data level"))
}

/// The commands the server received after `REIN`, each with its protected flag.
fn after_rein(record: &Record) -> Result<&[(bool, String)], String> {
    let at = record
        .commands
        .iter()
        .position(|(_, c)| c == "REIN")
        .ok_or("the server never received REIN")?;
    ensure(record.commands[at].0, || {
        "REIN was sent in the clear".into()
    })?;
    Ok(&record.commands[at + 1..])
}

fn rein_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                c.secure_login()?;
                serve_retr(c, true, CONTENT)?;
                c.expect("REIN")?;
                c.send("220 Service ready for new user.")?;
                end_control_tls(c)?;
                // TLS is required: secured again before any USER.
                upgrade(c, "234 Proceed with negotiation.")?;
                login_and_protect(c)?;
                // TYPE was forgotten: set again before the next transfer.
                type_i(c)?;
                serve_retr(c, true, CONTENT)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                download_content(&mut client, "RETR before REIN")?;
                let reply = ok(client.rein(), "REIN")?;
                ensure_eq(reply.code(), 220, "reply to REIN")?;
                ensure_state(&client, ProtectionLevel::Clear, "after REIN")?;
                ok(client.login("alice", "secret"), "login after REIN")?;
                ensure_state(&client, ProtectionLevel::Private, "after the new login")?;
                download_content(&mut client, "RETR after REIN")?;
                final_noop(&mut client)
            },
            |record| {
                // A1 for the second login: only the two AUTH TLS crossed in the clear.
                ensure_eq(
                    record.cleartext.as_slice(),
                    b"AUTH TLS\r\nAUTH TLS\r\n",
                    "cleartext",
                )?;
                let after = after_rein(record)?;
                ensure_eq(
                    after.first(),
                    Some(&(false, "AUTH TLS".to_owned())),
                    "first command after REIN",
                )?;
                for (protected, line) in &after[1..] {
                    ensure(*protected, || {
                        format!("{line:?} after the second AUTH went in the clear")
                    })?;
                }
                pbsz_precedes_prot(record)?;
                protected_data(record, 2)
            },
        )
    })?;
    rein_01_host(h).map_err(|e| format!("with HOST: {e}"))
}

/// REIN-01 with `HOST` configured (RFC 7151 §3.2.1: REIN resets it): sent again after the new
/// `AUTH TLS`, inside TLS, as at the start (the name `localhost` goes as SNI, decision D15).
fn rein_01_host<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            secure_handshake(c)?;
            c.expect("HOST localhost")?;
            c.send("220 Host accepted")?;
            login_and_protect(c)?;
            c.expect("REIN")?;
            c.send("220 Service ready for new user.")?;
            end_control_tls(c)?;
            upgrade(c, "234 Proceed with negotiation.")?;
            c.expect("HOST localhost")?;
            c.send("220 Host accepted")?;
            login_and_protect(c)?;
            noop_ok(c)
        },
        |server| {
            let mut client =
                connect_login_with(h, server, |b| b.host_command(true), "connect with HOST")?;
            ok(client.rein(), "REIN")?;
            ok(client.login("alice", "secret"), "login after REIN")?;
            final_noop(&mut client)
        },
        |record| {
            let hosts: Vec<_> = record
                .commands
                .iter()
                .filter(|(_, c)| c.starts_with("HOST"))
                .collect();
            ensure_eq(hosts.len(), 2, "HOST commands")?;
            ensure(hosts.iter().all(|(protected, _)| *protected), || {
                format!("HOST in the clear: {hosts:?}")
            })?;
            ensure_eq(
                record.cleartext.as_slice(),
                b"AUTH TLS\r\nAUTH TLS\r\n",
                "cleartext",
            )
        },
    )
}

fn rein_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    for reply in [
        "502 REIN not implemented.",
        "502 REIN command not implemented",
    ] {
        rein_02_refused(h, reply).map_err(|e| format!("a) {reply:?}: {e}"))?;
    }
    each_pinned(h, |options| rein_02_kept(h, options)).map_err(|e| format!("b) {e}"))
}

/// a) `502`: `Unsupported(REIN)`, nothing changed, usable, A3 inside TLS.
fn rein_02_refused<C: SecureConnection>(h: &Harness<C>, reply: &'static str) -> Check {
    scripted(
        ServerOptions::default(),
        move |c| {
            c.secure_login()?;
            c.expect("REIN")?;
            c.send(reply)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let e = err(client.rein(), "REIN")?;
            ensure_kind(&e, matches!(e, Error::Unsupported(_)), "Unsupported(REIN)")?;
            ensure_usable(&e, true)?;
            ensure_state(&client, ProtectionLevel::Private, "after the 502")?;
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(
                after_rein(record)?,
                &[(true, "NOOP".to_owned())][..],
                "commands after REIN",
            )?;
            ensure_eq(record.cleartext.as_slice(), b"AUTH TLS\r\n", "cleartext")
        },
    )
}

/// b) `230` and no close_notify (pyftpdlib): after the grace period the client stays inside
/// TLS, logged out with PBSZ and PROT unknown; the next login is protected and sets them again.
fn rein_02_kept<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        options,
        |c| {
            c.secure_login()?;
            c.expect("REIN")?;
            c.send("230 Ready for new user.")?;
            login_and_protect(c)?;
            if c.client_close_notify() {
                return Err("the client sent close_notify after a REIN that kept TLS".into());
            }
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let reply = ok(client.rein(), "REIN")?;
            ensure_eq(reply.code(), 230, "reply to REIN")?;
            ensure_state(&client, ProtectionLevel::Clear, "after REIN")?;
            ok(client.login("alice", "secret"), "login after REIN")?;
            ensure_state(&client, ProtectionLevel::Private, "after the new login")?;
            final_noop(&mut client)
        },
        |record| {
            let after: Vec<_> = after_rein(record)?.to_vec();
            let expected: Vec<(bool, String)> =
                ["USER alice", "PASS secret", "PBSZ 0", "PROT P", "NOOP"]
                    .iter()
                    .map(|c| (true, (*c).to_owned()))
                    .collect();
            ensure_eq(after, expected, "commands after REIN")?;
            ensure_eq(record.cleartext.as_slice(), b"AUTH TLS\r\n", "cleartext")
        },
    )
}
