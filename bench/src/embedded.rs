//! The default server: without `--server`, ftps-bench starts `ftps-conformance serve` over
//! `--root` (or a fresh scratch directory) as a separate process (so its CPU time and memory
//! are not counted as the client's), reads its ready line, and stops it by its PID when the
//! run ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ftps_conformance::remote::RemoteTarget;
use serde_json::Value;

/// The name of the server's binary, looked for beside ftps-bench's own, then on `PATH`.
const SERVE_BINARY: &str = "ftps-conformance";

/// A running `ftps-conformance serve`, killed on drop; its CA file lives in `state`.
pub(crate) struct EmbeddedServer {
    /// Held for its drop, which stops the server.
    _process: ServeProcess,
    /// The server as a target (address, login and CA), without the client's options.
    pub(crate) target: RemoteTarget,
}

/// The server's process and its state directory: the process is killed (by its PID) and
/// waited for, and the directory removed, on drop.
struct ServeProcess {
    child: Child,
    state: PathBuf,
}

impl EmbeddedServer {
    /// Starts the server over `root` (with `--implicit` when asked) and waits for its ready
    /// line. Without a root it serves a fresh empty directory, removed when it stops.
    pub(crate) fn start(root: Option<&Path>, implicit: bool) -> Result<EmbeddedServer, String> {
        let binary = serve_binary();
        let state = std::env::temp_dir().join(format!("ftps-bench-{}", std::process::id()));
        let scratch = state.join("root");
        std::fs::create_dir_all(&scratch)
            .map_err(|e| format!("cannot make {}: {e}", scratch.display()))?;
        let root = root.unwrap_or(&scratch);
        let ca_file = state.join("ca.pem");
        let mut command = Command::new(&binary);
        command
            .arg("serve")
            .arg("--root")
            .arg(root)
            .arg("--ca-file")
            .arg(&ca_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if implicit {
            command.arg("--implicit");
        }
        let child = command.spawn().map_err(|e| {
            format!(
                "cannot start {} (build it with `cargo build --release -p ftps-conformance`, \
                 or pass --server): {e}",
                binary.display()
            )
        })?;
        let mut process = ServeProcess { child, state };
        let ready = process.ready_line()?;
        let target = target_of(&ready, implicit)?;
        Ok(EmbeddedServer {
            _process: process,
            target,
        })
    }
}

impl ServeProcess {
    /// The first line the server prints (it prints exactly one, when it listens).
    fn ready_line(&mut self) -> Result<String, String> {
        let stdout = self.child.stdout.take().ok_or("the server has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("reading the server's ready line: {e}"))?;
        if line.trim().is_empty() {
            return Err("the server stopped before it was ready".into());
        }
        Ok(line)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// `ftps-conformance` beside this executable if it is there, else the name alone (`PATH`).
fn serve_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(SERVE_BINARY)))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(SERVE_BINARY))
}

/// The target a ready line `{"host","port","ca","user","pass"}` describes.
fn target_of(line: &str, implicit: bool) -> Result<RemoteTarget, String> {
    let ready: Value =
        serde_json::from_str(line).map_err(|e| format!("bad ready line {line:?}: {e}"))?;
    let field = |key: &str| {
        ready[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("the ready line has no {key:?}: {line:?}"))
    };
    let port = ready["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| format!("the ready line has no port: {line:?}"))?;
    let mut target = RemoteTarget::parse_url(&format!("ftp://x:x@{}:{port}", field("host")?))?;
    target.user = field("user")?;
    target.password = field("pass")?;
    target.implicit = implicit;
    target.with_ca_file(Path::new(&field("ca")?))
}

#[cfg(test)]
mod tests {
    use super::target_of;

    #[test]
    fn a_ready_line_becomes_a_target() {
        let dir = std::env::temp_dir().join(format!("ftps-bench-ready-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        let pki = ftps_conformance::server::shared_pki();
        std::fs::write(&ca, pki.ca_pem()).unwrap();
        let line = format!(
            r#"{{"host":"127.0.0.1","port":2121,"ca":"{}","user":"u","pass":"p:w"}}"#,
            ca.display()
        );
        let target = target_of(&line, true).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((target.host.as_str(), target.port), ("127.0.0.1", 2121));
        assert_eq!(
            (target.user.as_str(), target.password.as_str()),
            ("u", "p:w")
        );
        assert!(target.implicit);
        assert_eq!(target.ca_der.as_deref(), Some(pki.ca_der()));
        assert!(target_of(r#"{"host":"127.0.0.1"}"#, false).is_err());
    }
}
