//! `ftps-bench soak` as a user runs it: the binary, 4 clients x 25 round trips each, against
//! the embedded server (in this process) for every backend, and against a real vsftpd with
//! `require_ssl_reuse=YES` for the backends that resume TLS sessions. Every run must end with
//! nothing failed, nothing corrupted, no descriptor left open and every remote file deleted;
//! and soaks that cannot work (a wrong password, a backend without resumption against vsftpd)
//! must count every round trip as failed and exit with status 1, within their time limit.
//!
//! The vsftpd trials run when `FTPS_REAL_SERVERS=1` (`scripts/test.sh`), else are ignored.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ftps_conformance::real::{self, tail, RealServer};
use ftps_conformance::server::{self, ServeOptions, ServerOptions, Standalone, StandaloneOptions};
use libtest_mimic::{Arguments, Trial};
use serde_json::Value;

/// Clients and round trips per client, as in CI.
const CLIENTS: u64 = 4;
const ROUND_TRIPS: u64 = 25;

/// How long one soak may take in a debug build before it counts as a hang.
const SOAK_LIMIT: Duration = Duration::from_secs(300);

/// The backends compiled into ftps-bench.
fn backends() -> Vec<&'static str> {
    let mut backends = vec!["rustls"];
    if cfg!(feature = "openssl") {
        backends.push("openssl");
    }
    if cfg!(feature = "native-tls") {
        backends.push("native-tls");
    }
    backends
}

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for backend in backends() {
        trials.push(Trial::test(
            format!("embedded_{backend}_4x25_intact"),
            move || Ok(embedded_soak(backend)?),
        ));
    }
    trials.push(Trial::test(
        "a_wrong_password_fails_every_round_trip",
        || Ok(wrong_password()?),
    ));
    for backend in backends().into_iter().filter(|b| *b != "native-tls") {
        trials.push(real::trial(
            format!("vsftpd_{backend}_4x25_intact"),
            move || vsftpd_soak(backend),
        ));
    }
    if backends().contains(&"native-tls") {
        trials.push(real::trial(
            "vsftpd_native_tls_fails_every_round_trip_without_reuse",
            vsftpd_without_reuse,
        ));
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// The embedded server over a fresh directory, with a fixed login, for one test.
struct Embedded {
    dir: PathBuf,
    server: Standalone,
}

impl Embedded {
    const USER: &'static str = "soak";
    const PASSWORD: &'static str = "soak-password";

    fn start(name: &str) -> Result<Embedded, String> {
        let dir = std::env::temp_dir().join(format!("ftps-soak-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).map_err(|e| e.to_string())?;
        let pki = server::shared_pki();
        std::fs::write(dir.join("ca.pem"), pki.ca_pem()).map_err(|e| e.to_string())?;
        let server = Standalone::start(
            StandaloneOptions {
                server: ServerOptions {
                    accept_timeout: Duration::from_secs(30),
                    ..ServerOptions::default()
                },
                serve: ServeOptions {
                    login: Some((Self::USER.into(), Self::PASSWORD.into())),
                    require_tls: true,
                    close_wait: Duration::ZERO,
                    ..ServeOptions::default()
                },
                port: 0,
                implicit: false,
                root: dir.join("root"),
            },
            pki,
        )?;
        Ok(Embedded { dir, server })
    }

    fn url(&self, password: &str) -> String {
        let addr = self.server.addr();
        format!(
            "ftp://{}:{password}@{}:{}",
            Self::USER,
            addr.ip(),
            addr.port()
        )
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn embedded_soak(backend: &str) -> Result<(), String> {
    let embedded = Embedded::start(backend)?;
    let url = embedded.url(Embedded::PASSWORD);
    let run = soak(backend, &url, &embedded.ca())?;
    run.expect_clean()?;
    every_file_deleted(&embedded.dir.join("root").join("ftps-soak"))
}

fn wrong_password() -> Result<(), String> {
    let embedded = Embedded::start("wrong-password")?;
    let url = embedded.url("not-the-password");
    let run = soak("rustls", &url, &embedded.ca())?;
    run.expect_every_round_trip_failed("cannot log in as soak")
}

/// vsftpd's start arguments: TLS 1.3, and more passive ports than the default 32 (for each
/// EPSV, vsftpd tries 10 random ports of its range and ends the session with a clear-text
/// `500 OOPS` when all ten are taken; with 16 clients, 32 ports lost 4 to 6 of 3200 round
/// trips).
const VSFTPD_ARGS: &[&str] = &["--tls13", "--pasv-ports", "128"];

fn vsftpd_soak(backend: &str) -> Result<(), String> {
    let server = RealServer::start("vsftpd", VSFTPD_ARGS)?;
    let run = soak(
        backend,
        &vsftpd_url(&server),
        Path::new(server.value("ca_der").unwrap_or_default()),
    )
    .and_then(|run| run.expect_clean());
    run.map_err(|e| {
        format!(
            "{e}\n--- vsftpd log (tail) ---\n{}",
            tail(&server.log(), 30)
        )
    })?;
    every_file_deleted(&Path::new(server.value("home").unwrap_or_default()).join("ftps-soak"))
}

fn vsftpd_without_reuse() -> Result<(), String> {
    let server = RealServer::start("vsftpd", VSFTPD_ARGS)?;
    let run = soak(
        "native-tls",
        &vsftpd_url(&server),
        Path::new(server.value("ca_der").unwrap_or_default()),
    )?;
    run.expect_every_round_trip_failed("session reuse required")
}

fn vsftpd_url(server: &RealServer) -> String {
    let (user, password) = server.credentials();
    format!("ftp://{user}:{password}@127.0.0.1:{}", server.port())
}

/// One finished `ftps-bench soak`: its exit status, its JSON line and its stderr.
struct SoakRun {
    success: bool,
    report: Value,
    stderr: String,
}

/// Runs `ftps-bench soak` with 4 clients of 25 round trips against `url`, and waits for it
/// (killing it, by its PID, after [`SOAK_LIMIT`]).
fn soak(backend: &str, url: &str, ca: &Path) -> Result<SoakRun, String> {
    let out_dir = ca.with_file_name(format!("ftps-soak-out-{backend}"));
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let (stdout_path, stderr_path) = (out_dir.join("stdout"), out_dir.join("stderr"));
    let file = |path: &Path| std::fs::File::create(path).map_err(|e| e.to_string());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftps-bench"))
        .args(["soak", "--clients", &CLIENTS.to_string()])
        .args(["--transfers", &ROUND_TRIPS.to_string()])
        .args(["--backend", backend, "--server", url, "--ca"])
        .arg(ca)
        .stdin(Stdio::null())
        .stdout(file(&stdout_path)?)
        .stderr(file(&stderr_path)?)
        .spawn()
        .map_err(|e| format!("cannot start ftps-bench: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > SOAK_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the soak hung: still running after {SOAK_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&out_dir);
    let line = stdout.lines().last().unwrap_or_default();
    let report: Value = serde_json::from_str(line)
        .map_err(|e| format!("no JSON line ({e}): stdout {stdout:?}, stderr {stderr}"))?;
    Ok(SoakRun {
        success: status.success(),
        report,
        stderr,
    })
}

impl SoakRun {
    fn count(&self, key: &str) -> Result<i64, String> {
        self.report[key]
            .as_i64()
            .ok_or_else(|| format!("{key} is not a count in {}", self.report))
    }

    fn mismatch(&self, what: &str) -> String {
        format!(
            "{what}\nreport: {}\nstderr (tail):\n{}",
            self.report,
            tail(&self.stderr, 20)
        )
    }

    /// 4 x 25 round trips, none failed or corrupted, no descriptor leaked, latencies and the
    /// peak RSS given, exit status 0.
    fn expect_clean(&self) -> Result<(), String> {
        let counts = [
            ("clients", CLIENTS as i64),
            ("transfers", (CLIENTS * ROUND_TRIPS) as i64),
            ("failed", 0),
            ("corrupted", 0),
            ("leaked_fds", 0),
        ];
        for (key, want) in counts {
            if self.count(key)? != want {
                return Err(self.mismatch(&format!("{key} is not {want}")));
            }
        }
        let (p50, p99) = (&self.report["p50_ms"], &self.report["p99_ms"]);
        let ordered =
            matches!((p50.as_f64(), p99.as_f64()), (Some(a), Some(b)) if 0.0 < a && a <= b);
        if !ordered || self.count("peak_rss_kib")? <= 0 {
            return Err(self.mismatch("latencies or peak RSS missing"));
        }
        if !self.success {
            return Err(self.mismatch("a clean soak exited with a failure status"));
        }
        Ok(())
    }

    /// Every round trip failed, none counted corrupted, exit status 1, and stderr names the
    /// cause.
    fn expect_every_round_trip_failed(&self, cause: &str) -> Result<(), String> {
        let all = (CLIENTS * ROUND_TRIPS) as i64;
        if self.count("failed")? < all || self.count("corrupted")? != 0 {
            return Err(self.mismatch(&format!("want {all} failed and 0 corrupted")));
        }
        if self.success {
            return Err(self.mismatch("a failed soak exited with status 0"));
        }
        if !self.stderr.contains(cause) {
            return Err(self.mismatch(&format!("stderr does not say {cause:?}")));
        }
        Ok(())
    }
}

/// The soak's remote directory exists (it was made) and holds no file (each client deleted
/// its own).
fn every_file_deleted(dir: &Path) -> Result<(), String> {
    let left: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("the soak's directory {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.file_name()))
        .collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("files left in {}: {left:?}", dir.display()))
    }
}
