//! The harness for real FTPS servers on loopback (tier 3): starts a server through the
//! project's own scripts (`scripts/<server>/start.sh`), and stops exactly the process it
//! started (by PID, checked against its start time) when dropped.
//!
//! Real-server tests run only when `FTPS_REAL_SERVERS=1` is set (the install script's
//! environment, set by `.ci/run`); otherwise they are reported as ignored, never as passed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable that turns real-server tests on.
pub const ENABLE_VAR: &str = "FTPS_REAL_SERVERS";

/// Whether real-server tests should run.
pub fn enabled() -> bool {
    std::env::var(ENABLE_VAR).is_ok_and(|v| v == "1")
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
        self.value("log")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let script = workspace_root()
            .join("scripts")
            .join(&self.name)
            .join("stop.sh");
        let _ = Command::new("bash").arg(script).arg(&self.dir).status();
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
