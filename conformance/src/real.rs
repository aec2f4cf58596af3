//! The harness for real FTPS servers on loopback (tier 3): starts a server through the
//! project's own scripts (`scripts/<server>/start.sh`), and stops exactly the process it
//! started (by PID, checked against its start time) when dropped.
//!
//! Real-server tests run only when `FTPS_REAL_SERVERS=1` is set (the install script's
//! environment, set by `.ci/run`); otherwise they are reported as ignored, never as passed.
//!
//! A test target for a real server (`harness = false`, libtest-mimic) makes its trials with
//! [`trial`], starts its server inside each trial with [`with_server`] (which adds the ends of
//! the server's logs to a failure), and builds the trial bodies from the submodules:
//!
//! * [`transfer`]: connecting and logging in with bounded waits, uploads, downloads and round
//!   trips with byte counts and SHA-256 checked, deterministic file contents, `QUIT`.
//! * [`verify`]: what a data connection's TLS session must be (protected, the pinned version,
//!   resumed).
//! * [`modes`]: one workload (a large file, many small ones, `LIST`, `NLST`, `MLSD`) in passive
//!   mode with EPSV, with PASV, and in active mode, as trials for any backend and server.
//!
//! ```no_run
//! use ftps_conformance::real::{self, transfer, verify};
//!
//! let trial = real::trial("rustls_round_trip", || {
//!     real::with_server("vsftpd", &["--tls13"], |server| {
//!         let mut client = transfer::connect(server, |ca: &[u8]| {
//!             ftps_rustls::RustlsConnector::trusting(ca).expect("valid CA")
//!         }, |b| b)?;
//!         let body = transfer::content(100_000, 7);
//!         transfer::round_trip(&mut client, "a.bin", &body, verify::resumed)?;
//!         transfer::quit(client)
//!     }, |server| real::tail(&server.log(), 40))
//! });
//! # let _ = trial;
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Failed, Trial};

pub mod modes;
pub mod transfer;
pub mod verify;

/// The environment variable that turns real-server tests on.
pub const ENABLE_VAR: &str = "FTPS_REAL_SERVERS";

/// Whether real-server tests should run.
pub fn enabled() -> bool {
    std::env::var(ENABLE_VAR).is_ok_and(|v| v == "1")
}

/// A libtest-mimic trial of kind `real-server` that runs `run`, ignored unless [`enabled`]:
/// without `FTPS_REAL_SERVERS=1` it is reported as ignored, never as passed.
pub fn trial(
    name: impl Into<String>,
    run: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Trial {
    Trial::test(name, move || run().map_err(Failed::from))
        .with_ignored_flag(!enabled())
        .with_kind("real-server")
}

/// Starts `scripts/<name>/start.sh` with `args`, runs `body` against the server and, when it
/// fails, appends `report(&server)` (the ends of the server's logs, say) to the reason on a
/// new line. The server is stopped afterwards either way.
pub fn with_server(
    name: &str,
    args: &[&str],
    body: impl FnOnce(&RealServer) -> Result<(), String>,
    report: impl FnOnce(&RealServer) -> String,
) -> Result<(), String> {
    let server = RealServer::start(name, args)?;
    body(&server).map_err(|e| format!("{e}\n{}", report(&server)))
}

/// The last `lines` lines of `text` (for the ends of logs in failure reports).
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The workspace root (where `scripts/` lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A running real server, stopped on drop.
#[derive(Debug)]
pub struct RealServer {
    name: String,
    dir: PathBuf,
    values: HashMap<String, String>,
}

impl RealServer {
    /// Starts `scripts/<name>/start.sh DIR ARGS...` in a fresh directory under the system
    /// temp dir, and reads the `key=value` line it prints.
    pub fn start(name: &str, args: &[&str]) -> Result<RealServer, String> {
        let dir = std::env::temp_dir().join(format!(
            "ftps-{name}-{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        let script = workspace_root().join("scripts").join(name).join("start.sh");
        let output = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let server = RealServer {
            name: name.to_owned(),
            dir: dir.clone(),
            values: parse_values(&stdout),
        };
        if !output.status.success() {
            return Err(format!(
                "{} failed ({}):\n{}\n{}",
                script.display(),
                output.status,
                stdout,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        for key in ["port", "pid", "user", "password", "ca_der"] {
            if !server.values.contains_key(key) {
                return Err(format!("{} printed no {key}: {stdout}", script.display()));
            }
        }
        Ok(server)
    }

    /// A value the start script printed (`port`, `user`, `password`, `ca_der`, `log`, ...).
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The control port.
    pub fn port(&self) -> u16 {
        self.value("port").and_then(|p| p.parse().ok()).unwrap_or(0)
    }

    /// The test user's name and password.
    pub fn credentials(&self) -> (&str, &str) {
        (
            self.value("user").unwrap_or_default(),
            self.value("password").unwrap_or_default(),
        )
    }

    /// The test CA certificate (DER).
    pub fn ca_der(&self) -> Result<Vec<u8>, String> {
        let path = self.value("ca_der").unwrap_or_default();
        std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
    }

    /// The server's log so far (for failure reports).
    pub fn log(&self) -> String {
        self.file("log")
    }

    /// The contents of the file whose path the start script printed under `key` (`log`,
    /// `protocol_log`, `tls_log`, `console`, ...); empty when there is no such key or file.
    pub fn file(&self, key: &str) -> String {
        self.value(key)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

/// Set to keep each server's work directory (configuration, logs, files) after the test.
pub const KEEP_DIRS_VARIABLE: &str = "FTPS_KEEP_SERVER_DIRS";

/// Stops the server by its PID (`stop.sh`), then removes its work directory unless
/// [`KEEP_DIRS_VARIABLE`] is set (failure reports already carry the ends of the logs) or the
/// server could not be confirmed stopped.
impl Drop for RealServer {
    fn drop(&mut self) {
        let script = workspace_root()
            .join("scripts")
            .join(&self.name)
            .join("stop.sh");
        let stopped = Command::new("bash")
            .arg(script)
            .arg(&self.dir)
            .status()
            .is_ok_and(|status| status.success());
        if stopped && std::env::var_os(KEEP_DIRS_VARIABLE).is_none() {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                eprintln!("cannot remove {}: {e}", self.dir.display());
            }
        }
    }
}

fn parse_values(stdout: &str) -> HashMap<String, String> {
    stdout
        .lines()
        .rev()
        .find(|l| l.contains("port="))
        .map(|line| {
            line.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
