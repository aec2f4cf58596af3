//! CMD-01: command hygiene (RFC 959 §4.1.3, §5.3): an argument can never carry a second command.

use ftps_core::{Error, SecureConnection};

use super::scripted;
use super::steps::secure_login_noop;
use super::transcript::ensure_login_then;
use crate::checks::{ensure, ensure_eq, ensure_usable, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::ServerOptions;

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![Scenario {
        id: "CMD-01",
        title: "Injection through arguments is refused",
        needs: &[],
        run: cmd_01::<C>,
    }]
}

/// The error must be `InvalidArgument`, and the connection usable.
fn refused<T: std::fmt::Debug>(result: ftps_core::Result<T>, what: &str) -> Check {
    match result {
        Err(e @ Error::InvalidArgument(_)) => ensure_usable(&e, true),
        Err(e) => Err(format!("{what}: expected InvalidArgument, got {e:?}")),
        Ok(v) => Err(format!("{what}: succeeded ({v:?}) but had to be refused")),
    }
}

fn cmd_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        // The injected logins come first: nothing may arrive before the real USER.
        secure_login_noop,
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            refused(client.login("x\nPASS y", "secret"), "login(\"x\\nPASS y\")")?;
            refused(
                client.login("alice", "secret\r\nDELE b"),
                "login with CR LF in the password",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            refused(client.retr("a\r\nDELE b"), "retr(\"a\\r\\nDELE b\")")?;
            refused(client.mkdir("a\0b"), "mkdir(\"a\\0b\")")?;
            refused(client.delete("a\rb"), "delete(\"a\\rb\")")?;
            refused(client.raw("NOOP\r\nDELE b"), "raw(\"NOOP\\r\\nDELE b\")")?;
            let mut sink = Vec::new();
            refused(client.download("a\nb", &mut sink), "download(\"a\\nb\")")?;
            ensure(sink.is_empty(), || {
                "the refused download wrote bytes".into()
            })?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP reply (A3)")
        },
        |record| {
            ensure_login_then(
                record,
                &["NOOP"],
                "commands (no EPSV, PASV, TYPE or injected command)",
            )
        },
    )
}
