//! Tier 3: the rustls backend against a real vsftpd on loopback, with
//! `require_ssl_reuse=YES`, `force_local_logins_ssl=YES` and `force_local_data_ssl=YES`.
//!
//! Runs when `FTPS_REAL_SERVERS=1` (set by `.ci/run` after `scripts/install-servers.sh`);
//! otherwise every trial is reported as ignored.

use std::io::{Read, Write};

use ftps_conformance::real::{enabled, RealServer};
use ftps_core::{Client, ClientBuilder};
use ftps_rustls::RustlsConnector;
use libtest_mimic::{Arguments, Failed, Trial};
use sha2::{Digest, Sha256};

const BIG: usize = 64 * 1024 * 1024;
const SMALL_ROUNDS: usize = 30;

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let trials = vec![
        trial(
            "vsftpd_tls13_big_file_and_30_resumed_transfers",
            &["--tls13"],
        ),
        trial(
            "vsftpd_tls12_big_file_and_30_resumed_transfers",
            &["--tls12"],
        ),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

fn trial(name: &'static str, server_args: &'static [&'static str]) -> Trial {
    Trial::test(name, move || round_trip(server_args).map_err(Failed::from))
        .with_ignored_flag(!enabled())
        .with_kind("real-server")
}

fn connect(server: &RealServer) -> Result<Client<RustlsConnector>, String> {
    let connector = RustlsConnector::trusting(&server.ca_der()?).map_err(|e| e.to_string())?;
    let mut client = ClientBuilder::new("localhost")
        .port(server.port())
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

fn round_trip(server_args: &[&str]) -> Result<(), String> {
    let server = RealServer::start("vsftpd", server_args)?;
    let result = exercise(&server);
    result.map_err(|e| {
        format!(
            "{e}\n--- vsftpd log (tail) ---\n{}",
            tail(&server.log(), 40)
        )
    })
}

fn exercise(server: &RealServer) -> Result<(), String> {
    let mut client = connect(server)?;
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
    for i in 0..SMALL_ROUNDS {
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
    let names = client.nlst(None).map_err(|e| format!("NLST: {e:?}"))?;
    check(names.len() > SMALL_ROUNDS, || {
        format!("NLST gave {} names", names.len())
    })?;
    client.quit().map_err(|e| format!("QUIT: {e:?}"))?;
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
