//! Tier 3: the backends against a real vsftpd on loopback, with `require_ssl_reuse=YES`,
//! `force_local_logins_ssl=YES` and `force_local_data_ssl=YES`.
//!
//! The backends that resume sessions (rustls, openssl) must move a 64 MiB file both ways and 30
//! more files in a row with every data connection resumed; native-tls, which cannot resume,
//! must fail its first transfer with a typed "session reuse required" error, without a hang.
//!
//! Runs when `FTPS_REAL_SERVERS=1` (set by `scripts/test.sh` after
//! `scripts/install-servers.sh`); otherwise every trial is reported as ignored.

use std::io::{Read, Write};

use ftps_conformance::real::{enabled, RealServer};
use ftps_core::{
    Client, ClientBuilder, DataConnectionMode, Error, Mode, SecureConnection, TlsErrorKind,
};
use libtest_mimic::{Arguments, Failed, Trial};
use sha2::{Digest, Sha256};

const BIG: usize = 64 * 1024 * 1024;
const SMALL_ROUNDS: usize = 30;

/// Makes a backend that trusts the given CA (DER).
type Make<C> = fn(&[u8]) -> C;

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (tls, server_args) in [("tls13", &["--tls13"][..]), ("tls12", &["--tls12"][..])] {
        trials.push(trial(
            format!("rustls_{tls}_big_file_and_30_resumed_transfers"),
            server_args,
            |ca| ftps_rustls::RustlsConnector::trusting(ca).expect("valid CA"),
        ));
        #[cfg(feature = "openssl")]
        trials.push(trial(
            format!("openssl_{tls}_big_file_and_30_resumed_transfers"),
            server_args,
            |ca| ftps_openssl::OpenSslConnector::trusting(ca).expect("valid CA"),
        ));
        #[cfg(feature = "native-tls")]
        trials.push(
            Trial::test(
                format!("native_tls_{tls}_fails_clearly_without_session_reuse"),
                move || {
                    without_reuse(server_args, |ca| {
                        ftps_native::NativeTlsConnector::trusting(ca).expect("valid CA")
                    })
                    .map_err(Failed::from)
                },
            )
            .with_ignored_flag(!enabled())
            .with_kind("real-server"),
        );
    }
    trials.push(mode_trial("rustls_implicit_and_active_modes", |ca| {
        ftps_rustls::RustlsConnector::trusting(ca).expect("valid CA")
    }));
    #[cfg(feature = "openssl")]
    trials.push(mode_trial("openssl_implicit_and_active_modes", |ca| {
        ftps_openssl::OpenSslConnector::trusting(ca).expect("valid CA")
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

fn mode_trial<C: SecureConnection>(name: &'static str, make: Make<C>) -> Trial {
    Trial::test(name, move || modes(make).map_err(Failed::from))
        .with_ignored_flag(!enabled())
        .with_kind("real-server")
}

fn trial<C: SecureConnection>(
    name: String,
    server_args: &'static [&'static str],
    make: Make<C>,
) -> Trial {
    Trial::test(name, move || {
        round_trip(server_args, make).map_err(Failed::from)
    })
    .with_ignored_flag(!enabled())
    .with_kind("real-server")
}

fn connect<C: SecureConnection>(server: &RealServer, make: Make<C>) -> Result<Client<C>, String> {
    connect_with(server, make, |b| b)
}

fn connect_with<C: SecureConnection>(
    server: &RealServer,
    make: Make<C>,
    tweak: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<Client<C>, String> {
    let connector = make(&server.ca_der()?);
    let mut client = tweak(ClientBuilder::new("localhost").port(server.port()))
        .connect(connector)
        .map_err(|e| format!("connect: {e:?}"))?;
    let (user, password) = server.credentials();
    client
        .login(user, password)
        .map_err(|e| format!("login: {e:?}"))?;
    Ok(client)
}

/// Deterministic pseudo-random content, so compression or caching cannot help.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn round_trip<C: SecureConnection>(server_args: &[&str], make: Make<C>) -> Result<(), String> {
    let server = RealServer::start("vsftpd", server_args)?;
    let result = exercise(&server, make);
    result.map_err(|e| {
        format!(
            "{e}\n--- vsftpd log (tail) ---\n{}",
            tail(&server.log(), 40)
        )
    })
}

/// A backend without session resumption against `require_ssl_reuse=YES`: login works, the
/// first transfer fails, within the time limits, with a typed error that names session reuse,
/// and the connection stays usable.
#[cfg_attr(not(feature = "native-tls"), allow(dead_code))]
fn without_reuse<C: SecureConnection>(server_args: &[&str], make: Make<C>) -> Result<(), String> {
    let server = RealServer::start("vsftpd", server_args)?;
    let mut client = connect(&server, make)?;
    let started = std::time::Instant::now();
    let e = match client.list(None) {
        Ok(lines) => return Err(format!("LIST succeeded without session reuse: {lines:?}")),
        Err(e) => e,
    };
    check(
        started.elapsed() < std::time::Duration::from_secs(30),
        || format!("the refusal took {:?}", started.elapsed()),
    )?;
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
    let started = std::time::Instant::now();
    match client.noop() {
        Ok(_) | Err(Error::ConnectionClosed { .. }) => {}
        Err(other) => return Err(format!("NOOP after the refusal: {other:?}")),
    }
    check(
        started.elapsed() < std::time::Duration::from_secs(5),
        || format!("NOOP after the refusal took {:?}", started.elapsed()),
    )?;
    Ok(())
}

fn exercise<C: SecureConnection>(server: &RealServer, make: Make<C>) -> Result<(), String> {
    let mut client = connect(server, make)?;
    let listing = client.list(None).map_err(|e| format!("LIST: {e:?}"))?;
    let _ = listing;

    // 64 MiB up, streamed from a reader, and back down into a hasher.
    let big = content(BIG, 42);
    let sent_digest = Sha256::digest(&big);
    let outcome = client
        .upload("big.bin", &mut big.as_slice())
        .map_err(|e| format!("STOR big.bin: {e:?}"))?;
    check(outcome.bytes() == BIG as u64, || {
        format!("uploaded {} bytes", outcome.bytes())
    })?;
    resumed(&outcome, "STOR big.bin")?;
    drop(big);
    let mut hasher = HashingSink(Sha256::new(), 0);
    let outcome = client
        .download("big.bin", &mut hasher)
        .map_err(|e| format!("RETR big.bin: {e:?}"))?;
    resumed(&outcome, "RETR big.bin")?;
    check(hasher.1 == BIG as u64, || {
        format!("downloaded {} bytes", hasher.1)
    })?;
    check(hasher.0.finalize() == sent_digest, || {
        "SHA-256 of the downloaded file differs".into()
    })?;
    check(outcome.clean_tls_shutdown() == Some(true), || {
        "vsftpd's download did not end with close_notify".into()
    })?;

    // 30 small transfers in a row, alternating, every data connection resumed.
    small_rounds(&mut client, SMALL_ROUNDS)?;
    let names = client.nlst(None).map_err(|e| format!("NLST: {e:?}"))?;
    check(names.len() > SMALL_ROUNDS, || {
        format!("NLST gave {} names", names.len())
    })?;
    client.quit().map_err(|e| format!("QUIT: {e:?}"))?;
    Ok(())
}

/// `rounds` uploads, each downloaded back and compared, every data connection resumed.
fn small_rounds<C: SecureConnection>(client: &mut Client<C>, rounds: usize) -> Result<(), String> {
    for i in 0..rounds {
        let name = format!("small-{i}.txt");
        let body = content(1000 + i * 37, i as u64 + 7);
        let mut upload = client
            .stor(&name)
            .map_err(|e| format!("STOR {name}: {e:?}"))?;
        upload
            .write_all(&body)
            .map_err(|e| format!("write {name}: {e}"))?;
        let outcome = upload
            .finish()
            .map_err(|e| format!("finish STOR {name}: {e:?}"))?;
        resumed(&outcome, &name)?;
        let mut download = client
            .retr(&name)
            .map_err(|e| format!("RETR {name}: {e:?}"))?;
        let mut back = Vec::new();
        download
            .read_to_end(&mut back)
            .map_err(|e| format!("read {name}: {e}"))?;
        let outcome = download
            .finish()
            .map_err(|e| format!("finish RETR {name}: {e:?}"))?;
        resumed(&outcome, &name)?;
        check(back == body, || format!("{name} came back different"))?;
    }
    Ok(())
}

/// Implicit FTPS (TLS before the greeting) and active mode (the server connects; the client
/// is still the TLS client, RFC 4217 §7): a listing and five round trips each, all resumed.
fn modes<C: SecureConnection>(make: Make<C>) -> Result<(), String> {
    let implicit = RealServer::start("vsftpd", &["--implicit"])?;
    let mut client = connect_with(&implicit, make, |b| b.mode(Mode::Implicit))
        .map_err(|e| format!("implicit: {e}"))?;
    client
        .list(None)
        .map_err(|e| format!("implicit LIST: {e:?}"))?;
    small_rounds(&mut client, 5).map_err(|e| format!("implicit: {e}"))?;
    client.quit().map_err(|e| format!("implicit QUIT: {e:?}"))?;
    drop(implicit);

    let explicit = RealServer::start("vsftpd", &["--tls13"])?;
    let mut client = connect_with(&explicit, make, |b| {
        b.data_connection_mode(DataConnectionMode::Active)
    })
    .map_err(|e| format!("active: {e}"))?;
    client
        .list(None)
        .map_err(|e| format!("active LIST: {e:?}"))?;
    small_rounds(&mut client, 5).map_err(|e| format!("active: {e}"))?;
    client.quit().map_err(|e| format!("active QUIT: {e:?}"))?;
    Ok(())
}

fn resumed(outcome: &ftps_core::TransferOutcome, what: &str) -> Result<(), String> {
    let resumed = outcome.data_session().and_then(|s| s.resumed());
    check(resumed == Some(true), || {
        format!("{what}: data connection not resumed ({resumed:?})")
    })
}

fn check(condition: bool, reason: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(reason())
    }
}

struct HashingSink(Sha256, u64);

impl Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
