//! The scenario registry: every implemented scenario of SCENARIOS.md, in catalogue order.

use ftps_core::SecureConnection;

use crate::checks::{a1_nothing_sensitive, no_prot_s_or_e, Check};
use crate::scenario::Scenario;
use crate::server::{Conn, Record, ServerOptions, TestServer};

mod auth;
mod close;
mod cmd;
mod data;
mod pbsz;
mod pol;
mod prot;
mod reply;
mod sess;

/// Every implemented scenario, for backend `C`, in catalogue order.
pub fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    let mut all = Vec::new();
    all.extend(auth::scenarios::<C>());
    all.extend(pbsz::scenarios::<C>());
    all.extend(prot::scenarios::<C>());
    all.extend(pol::scenarios::<C>());
    all.extend(data::scenarios::<C>());
    all.extend(sess::scenarios::<C>());
    all.extend(close::scenarios::<C>());
    all.extend(reply::scenarios::<C>());
    all.extend(cmd::scenarios::<C>());
    all
}

/// Runs `script` on a fresh server, the `client` part against it, then the checks every
/// scenario makes (A1 under a TLS-required policy, PROT-03) and the scenario's own `record`
/// checks on what the server saw.
pub(crate) fn scripted<F>(
    options: ServerOptions,
    script: F,
    client: impl FnOnce(&TestServer) -> Check,
    record: impl FnOnce(&Record) -> Check,
) -> Check
where
    F: FnOnce(&mut Conn) -> Result<(), String> + Send + 'static,
{
    scripted_with_policy(true, options, script, client, record)
}

/// Like [`scripted`], for scenarios whose user opted out of TLS (no A1).
pub(crate) fn scripted_plain<F>(
    options: ServerOptions,
    script: F,
    client: impl FnOnce(&TestServer) -> Check,
    record: impl FnOnce(&Record) -> Check,
) -> Check
where
    F: FnOnce(&mut Conn) -> Result<(), String> + Send + 'static,
{
    scripted_with_policy(false, options, script, client, record)
}

fn scripted_with_policy<F>(
    tls_required: bool,
    options: ServerOptions,
    script: F,
    client: impl FnOnce(&TestServer) -> Check,
    record: impl FnOnce(&Record) -> Check,
) -> Check
where
    F: FnOnce(&mut Conn) -> Result<(), String> + Send + 'static,
{
    let server = TestServer::start(options, script);
    let client_result = client(&server);
    match (client_result, server.finish()) {
        (Err(c), Err(s)) => Err(format!("{c} (server: {s})")),
        (Err(c), Ok(_)) => Err(c),
        (Ok(()), Err(s)) => Err(format!("server: {s}")),
        (Ok(()), Ok(rec)) => {
            if tls_required {
                a1_nothing_sensitive(&rec)?;
            }
            no_prot_s_or_e(&rec)?;
            record(&rec)
        }
    }
}

/// The server side of "answer the harness's closing NOOP" (A3).
pub(crate) fn noop_ok(c: &mut Conn) -> Result<(), String> {
    c.expect("NOOP")?;
    c.send("200 NOOP ok")
}
