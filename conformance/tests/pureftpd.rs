//! Tier 3: the backends against a real Pure-FTPd 1.0.50 (Debian's build, unpacked by
//! `scripts/pure-ftpd/install.sh`) on loopback, with `-Y 3` (TLS required on the control
//! connection and on every data connection).
//!
//! For every backend and each TLS version the server is pinned to (1.3 and 1.2): a 4 MiB file
//! up and back down and 20 small files up then down in a row, every one compared by SHA-256,
//! then LIST, NLST and MLSD, in passive mode with EPSV, in active mode (PORT or EPRT), and in
//! passive mode with PASV (a server started with `-b`, which answers EPSV on IPv4 with `500`,
//! so the client falls back to PASV). Pure-FTPd does not require data connections to resume the
//! control connection's TLS session, so native-tls (which cannot resume) must pass too.
//!
//! Runs when `FTPS_REAL_SERVERS=1` (after `scripts/install-servers.sh`); otherwise every trial
//! is reported as ignored.

use std::io::{Read, Write};

use ftps_conformance::real::{enabled, RealServer};
use ftps_core::listing::EntryKind;
use ftps_core::{Client, ClientBuilder, DataConnectionMode, SecureConnection};
use libtest_mimic::{Arguments, Failed, Trial};
use sha2::{Digest, Sha256};

const SERVER: &str = "pure-ftpd";
const BIG: usize = 4 * 1024 * 1024;
const SMALL_FILES: usize = 20;

/// Makes a backend that trusts the given CA (DER).
type Make<C> = fn(&[u8]) -> C;

/// How the data connections of one client are opened.
#[derive(Clone, Copy, Debug)]
enum Data {
    /// EPSV (the client's default).
    Epsv,
    /// PASV, because the server refuses EPSV.
    Pasv,
    /// PORT/EPRT: the server connects to the client.
    Active,
}

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (tls, version) in [("tls13", "TLSv1.3"), ("tls12", "TLSv1.2")] {
        trials.extend(backend_trials("rustls", tls, version, |ca| {
            ftps_rustls::RustlsConnector::trusting(ca).expect("valid CA")
        }));
        #[cfg(feature = "openssl")]
        trials.extend(backend_trials("openssl", tls, version, |ca| {
            ftps_openssl::OpenSslConnector::trusting(ca).expect("valid CA")
        }));
        #[cfg(feature = "native-tls")]
        trials.extend(backend_trials("native_tls", tls, version, |ca| {
            ftps_native::NativeTlsConnector::trusting(ca).expect("valid CA")
        }));
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// Two trials for one backend and TLS version: EPSV then active mode against one server, and
/// PASV against a server that refuses EPSV.
fn backend_trials<C: SecureConnection>(
    backend: &'static str,
    tls: &'static str,
    version: &'static str,
    make: Make<C>,
) -> Vec<Trial> {
    let flag = if tls == "tls12" { "--tls12" } else { "--tls13" };
    vec![
        Trial::test(format!("{backend}_{tls}_epsv_and_active"), move || {
            run(&[flag], &[Data::Epsv, Data::Active], version, make).map_err(Failed::from)
        })
        .with_ignored_flag(!enabled())
        .with_kind("real-server"),
        // -b (--brokenclientscompatibility) makes Pure-FTPd answer EPSV on IPv4 with 500.
        Trial::test(format!("{backend}_{tls}_pasv"), move || {
            run(&[flag, "--opt=-b"], &[Data::Pasv], version, make).map_err(Failed::from)
        })
        .with_ignored_flag(!enabled())
        .with_kind("real-server"),
    ]
}

/// Starts a server and runs the whole workload once per data mode, each with its own client
/// and its own file names.
fn run<C: SecureConnection>(
    server_args: &[&str],
    modes: &[Data],
    version: &str,
    make: Make<C>,
) -> Result<(), String> {
    let server = RealServer::start(SERVER, server_args)?;
    for &mode in modes {
        session(&server, mode, version, make).map_err(|e| {
            format!(
                "{mode:?}: {e}\n--- {SERVER} transfer log (tail) ---\n{}\n--- console ---\n{}",
                tail(&server.log(), 20),
                tail(&read(server.value("console")), 20)
            )
        })?;
    }
    Ok(())
}

fn session<C: SecureConnection>(
    server: &RealServer,
    mode: Data,
    version: &str,
    make: Make<C>,
) -> Result<(), String> {
    let connector = make(&server.ca_der()?);
    let data_mode = match mode {
        Data::Epsv | Data::Pasv => DataConnectionMode::Passive,
        Data::Active => DataConnectionMode::Active,
    };
    let mut client = ClientBuilder::new("localhost")
        .port(server.port())
        .data_connection_mode(data_mode)
        .connect(connector)
        .map_err(|e| format!("connect: {e:?}"))?;
    let (user, password) = server.credentials();
    client
        .login(user, password)
        .map_err(|e| format!("login: {e:?}"))?;
    if let Some(v) = client
        .control_session_info()
        .and_then(|i| i.protocol_version().map(str::to_owned))
    {
        check(v == version, || {
            format!("control connection negotiated {v}, want {version}")
        })?;
    }
    let prefix = format!("{mode:?}").to_lowercase();
    workload(&mut client, &prefix, version)?;
    let bye = client.quit().map_err(|e| format!("QUIT: {e:?}"))?;
    if let Some(reply) = bye {
        check(reply.code() == 221, || format!("QUIT answered {reply}"))?;
    }
    Ok(())
}

/// The 4 MiB file and the 20 small files, each compared by SHA-256, then the listings.
fn workload<C: SecureConnection>(
    client: &mut Client<C>,
    prefix: &str,
    version: &str,
) -> Result<(), String> {
    let big_name = format!("{prefix}-big.bin");
    let big = content(BIG, 42);
    let outcome = client
        .upload(&big_name, &mut big.as_slice())
        .map_err(|e| format!("STOR {big_name}: {e:?}"))?;
    check(outcome.bytes() == BIG as u64, || {
        format!("uploaded {} bytes of {BIG}", outcome.bytes())
    })?;
    data_version(&outcome, version, &big_name)?;
    let mut sink = HashingSink(Sha256::new(), 0);
    let outcome = client
        .download(&big_name, &mut sink)
        .map_err(|e| format!("RETR {big_name}: {e:?}"))?;
    data_version(&outcome, version, &big_name)?;
    check(sink.1 == BIG as u64, || {
        format!("downloaded {} bytes of {BIG}", sink.1)
    })?;
    check(sink.0.finalize() == Sha256::digest(&big), || {
        format!("SHA-256 of {big_name} differs after the round trip")
    })?;

    let names: Vec<String> = (0..SMALL_FILES)
        .map(|i| format!("{prefix}-small-{i}.txt"))
        .collect();
    let bodies: Vec<Vec<u8>> = (0..SMALL_FILES)
        .map(|i| content(100 + i * 997, i as u64 + 7))
        .collect();
    for (name, body) in names.iter().zip(&bodies) {
        let mut upload = client
            .stor(name)
            .map_err(|e| format!("STOR {name}: {e:?}"))?;
        upload
            .write_all(body)
            .map_err(|e| format!("write {name}: {e}"))?;
        let outcome = upload
            .finish()
            .map_err(|e| format!("finish STOR {name}: {e:?}"))?;
        check(outcome.bytes() == body.len() as u64, || {
            format!(
                "{name}: uploaded {} bytes of {}",
                outcome.bytes(),
                body.len()
            )
        })?;
    }
    for (name, body) in names.iter().zip(&bodies) {
        let mut download = client
            .retr(name)
            .map_err(|e| format!("RETR {name}: {e:?}"))?;
        let mut back = Vec::new();
        download
            .read_to_end(&mut back)
            .map_err(|e| format!("read {name}: {e}"))?;
        download
            .finish()
            .map_err(|e| format!("finish RETR {name}: {e:?}"))?;
        check(Sha256::digest(&back) == Sha256::digest(body), || {
            format!(
                "{name}: SHA-256 differs ({} bytes back of {})",
                back.len(),
                body.len()
            )
        })?;
    }

    let list = client.list(None).map_err(|e| format!("LIST: {e:?}"))?;
    for name in names.iter().chain([&big_name]) {
        check(list.iter().any(|l| l.ends_with(name.as_str())), || {
            format!("LIST lacks {name}: {list:?}")
        })?;
    }
    let nlst: Vec<String> = client
        .nlst(None)
        .map_err(|e| format!("NLST: {e:?}"))?
        .iter()
        .map(|p| p.to_string_lossy())
        .collect();
    for name in names.iter().chain([&big_name]) {
        check(
            nlst.iter()
                .any(|n| n == name || n.ends_with(&format!("/{name}"))),
            || format!("NLST lacks {name}: {nlst:?}"),
        )?;
    }
    let entries = client.mlsd(None).map_err(|e| format!("MLSD: {e:?}"))?;
    let big_entry = entries
        .iter()
        .filter_map(|e| e.as_ref().ok())
        .find(|e| e.name.to_string_lossy() == big_name)
        .ok_or_else(|| format!("MLSD lacks {big_name}: {entries:?}"))?;
    check(
        big_entry.size() == Some(BIG as u64) && big_entry.kind() == Some(EntryKind::File),
        || format!("MLSD entry of {big_name}: {big_entry:?}"),
    )?;
    for (name, body) in names.iter().zip(&bodies) {
        let entry = entries
            .iter()
            .filter_map(|e| e.as_ref().ok())
            .find(|e| e.name.to_string_lossy() == *name)
            .ok_or_else(|| format!("MLSD lacks {name}"))?;
        check(entry.size() == Some(body.len() as u64), || {
            format!("MLSD entry of {name}: {entry:?}")
        })?;
    }
    Ok(())
}

/// The data connection's TLS version, when the backend reports it, is the pinned one; under
/// TLS 1.2 a backend that reports resumption resumed the control connection's session
/// (Pure-FTPd keeps a server-side session cache). Under TLS 1.3 Pure-FTPd 1.0.50 sends no
/// NewSessionTicket, so there is nothing to resume and the data handshakes are full ones.
fn data_version(
    outcome: &ftps_core::TransferOutcome,
    version: &str,
    what: &str,
) -> Result<(), String> {
    let session = outcome.data_session();
    if let Some(v) = session.and_then(|s| s.protocol_version()) {
        check(v == version, || {
            format!("{what}: data connection negotiated {v}, want {version}")
        })?;
    }
    if version == "TLSv1.2" {
        if let Some(resumed) = session.and_then(|s| s.resumed()) {
            check(resumed, || {
                format!("{what}: TLS 1.2 data connection did not resume the session")
            })?;
        }
    }
    Ok(())
}

/// Deterministic pseudo-random content, so compression or caching cannot help.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
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

fn read(path: Option<&str>) -> String {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
