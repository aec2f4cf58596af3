//! Tier 3: the backends against a real vsftpd on loopback, with `require_ssl_reuse=YES`,
//! `force_local_logins_ssl=YES` and `force_local_data_ssl=YES`.
//!
//! The backends that resume sessions (rustls, openssl) must move a 64 MiB file both ways and 50
//! more files up and back down in a row, every data connection resumed; native-tls, which
//! cannot resume, must fail its first transfer with a typed "session reuse required" error,
//! without a hang.
//!
//! Runs when `FTPS_REAL_SERVERS=1` (set by `scripts/test.sh` after
//! `scripts/install-servers.sh`); otherwise every trial is reported as ignored.

mod common;

use std::time::{Duration, Instant};

use ftps_conformance::checks::ensure;
use ftps_conformance::real::transfer::{self, connect, Make};
use ftps_conformance::real::{tail, trial, verify, with_server, RealServer};
use ftps_core::{Client, DataConnectionMode, Error, Mode, SecureConnection, TlsErrorKind};
use libtest_mimic::Arguments;

#[cfg(feature = "native-tls")]
use common::native;
#[cfg(feature = "openssl")]
use common::openssl;
use common::rustls;

const BIG: usize = 64 * 1024 * 1024;
const SMALL_ROUNDS: usize = 50;

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (tls, server_args) in [("tls13", &["--tls13"][..]), ("tls12", &["--tls12"][..])] {
        trials.push(trial(
            format!("rustls_{tls}_big_file_and_50_resumed_round_trips"),
            move || round_trip(server_args, rustls),
        ));
        #[cfg(feature = "openssl")]
        trials.push(trial(
            format!("openssl_{tls}_big_file_and_50_resumed_round_trips"),
            move || round_trip(server_args, openssl),
        ));
        #[cfg(feature = "native-tls")]
        trials.push(trial(
            format!("native_tls_{tls}_fails_clearly_without_session_reuse"),
            move || without_reuse(server_args, native),
        ));
    }
    trials.push(trial("rustls_implicit_and_active_modes", || modes(rustls)));
    #[cfg(feature = "openssl")]
    trials.push(trial("openssl_implicit_and_active_modes", || {
        modes(openssl)
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

/// Starts a vsftpd, runs `body` against it, and adds the end of its log to a failure.
fn with_vsftpd(
    server_args: &[&str],
    body: impl FnOnce(&RealServer) -> Result<(), String>,
) -> Result<(), String> {
    with_server("vsftpd", server_args, body, |server| {
        format!("--- vsftpd log (tail) ---\n{}", tail(&server.log(), 40))
    })
}

fn round_trip<C: SecureConnection>(server_args: &[&str], make: Make<C>) -> Result<(), String> {
    with_vsftpd(server_args, |server| exercise(server, make))
}

/// A backend without session resumption against `require_ssl_reuse=YES`: login works, the
/// first transfer fails, within the time limits, with a typed error that names session reuse,
/// and the connection stays usable.
#[cfg_attr(not(feature = "native-tls"), allow(dead_code))]
fn without_reuse<C: SecureConnection>(server_args: &[&str], make: Make<C>) -> Result<(), String> {
    let server = RealServer::start("vsftpd", server_args)?;
    let mut client = connect(&server, make, |b| b)?;
    let started = Instant::now();
    let e = match client.list(None) {
        Ok(lines) => return Err(format!("LIST succeeded without session reuse: {lines:?}")),
        Err(e) => e,
    };
    ensure(started.elapsed() < Duration::from_secs(30), || {
        format!("the refusal took {:?}", started.elapsed())
    })?;
    match &e {
        Error::Tls {
            source,
            reply: Some(reply),
            ..
        } if source.kind() == TlsErrorKind::ResumptionRefused && reply.code() == 522 => {}
        other => {
            return Err(format!(
                "expected ResumptionRefused with 522, got {other:?}"
            ))
        }
    }
    // vsftpd ends the whole session after a refused data handshake: the next call must say
    // so with a typed error at once, or work.
    let started = Instant::now();
    match client.noop() {
        Ok(_) | Err(Error::ConnectionClosed { .. }) => {}
        Err(other) => return Err(format!("NOOP after the refusal: {other:?}")),
    }
    ensure(started.elapsed() < Duration::from_secs(5), || {
        format!("NOOP after the refusal took {:?}", started.elapsed())
    })?;
    Ok(())
}

fn exercise<C: SecureConnection>(server: &RealServer, make: Make<C>) -> Result<(), String> {
    let mut client = connect(server, make, |b| b)?;
    client.list(None).map_err(|e| format!("LIST: {e:?}"))?;

    // 64 MiB up, streamed from a reader, and back down into a hasher.
    let outcome = transfer::big_round_trip(&mut client, "big.bin", BIG, 42, verify::resumed)?;
    ensure(outcome.clean_tls_shutdown() == Some(true), || {
        "vsftpd's download did not end with close_notify".into()
    })?;

    // 50 small round trips in a row (100 transfers), every data connection resumed.
    small_rounds(&mut client, SMALL_ROUNDS)?;
    let names = client.nlst(None).map_err(|e| format!("NLST: {e:?}"))?;
    ensure(names.len() > SMALL_ROUNDS, || {
        format!("NLST gave {} names", names.len())
    })?;
    transfer::quit(client)
}

/// `rounds` uploads, each downloaded back and compared, every data connection resumed.
fn small_rounds<C: SecureConnection>(client: &mut Client<C>, rounds: usize) -> Result<(), String> {
    for i in 0..rounds {
        let body = transfer::content(1000 + i * 37, i as u64 + 7);
        transfer::round_trip(client, &format!("small-{i}.txt"), &body, verify::resumed)?;
    }
    Ok(())
}

/// Implicit FTPS (TLS before the greeting) and active mode (the server connects; the client
/// is still the TLS client, RFC 4217 §7): a listing and five round trips each, all resumed.
fn modes<C: SecureConnection>(make: Make<C>) -> Result<(), String> {
    with_vsftpd(&["--implicit"], |implicit| {
        let mut client = connect(implicit, make, |b| b.mode(Mode::Implicit))?;
        client.list(None).map_err(|e| format!("LIST: {e:?}"))?;
        small_rounds(&mut client, 5)?;
        transfer::quit(client)
    })
    .map_err(|e| format!("implicit: {e}"))?;
    with_vsftpd(&["--tls13"], |explicit| {
        let mut client = connect(explicit, make, |b| {
            b.data_connection_mode(DataConnectionMode::Active)
        })?;
        client.list(None).map_err(|e| format!("LIST: {e:?}"))?;
        small_rounds(&mut client, 5)?;
        transfer::quit(client)
    })
    .map_err(|e| format!("active: {e}"))
}
