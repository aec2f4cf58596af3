//! `ftps-bench`: times one download, upload or many-file run of the ftps client against an
//! FTPS server and prints one JSON line of figures (throughput, files per second, CPU time and
//! peak RSS of this process, data connections and how many of them resumed the TLS session).
//!
//! ```text
//! ftps-bench get  --server ftp://U:P@127.0.0.1:2121 --ca ca.der --path big.bin [--file out]
//! ftps-bench put  --server ... --ca ca.der --file local.bin --path remote.bin
//! ftps-bench many --server ... --ca ca.der --dir small/ --path remote-dir
//! ftps-bench get  --root served/ --path big.bin       # the embedded server over served/
//! ftps-bench soak --clients 16 --transfers 200 --backend openssl [--server ... --ca ca.der]
//! ```
//!
//! Errors go to stderr and the exit status is 1; `soak` also exits with 1 when a round trip
//! failed or came back corrupted, or descriptors leaked, after printing its JSON line.

mod connect;
mod embedded;
mod ops;
mod soak;
mod trace;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ftps_conformance::remote::{RemoteTarget, TlsVersion};
use serde_json::{json, Value};

use connect::Backend;
use embedded::EmbeddedServer;
use ops::Job;
use soak::{Plan, Soak};

/// Times one FTPS transfer run of the ftps client and prints one JSON line with the keys op,
/// backend, tls, cipher, bytes, files, wall_s, mib_s, files_s, user_s, sys_s, peak_rss_kib,
/// data_connections and resumed.
///
/// wall_s, mib_s and files_s cover the transfers (from the first command after login to the
/// last final reply); user_s, sys_s and peak_rss_kib are this whole process's.
#[derive(Debug, Parser)]
#[command(name = "ftps-bench", version)]
struct Cli {
    /// The operation to measure.
    #[command(subcommand)]
    op: Op,
}

/// The operations.
#[derive(Debug, Subcommand)]
enum Op {
    /// Download one remote file (into --file, or into a sink that only counts the bytes).
    Get {
        /// The remote file.
        #[arg(long, value_name = "REMOTE")]
        path: String,
        /// Write the download to this local file instead of discarding it.
        #[arg(long, value_name = "LOCAL")]
        file: Option<PathBuf>,
        /// Server and connection options.
        #[command(flatten)]
        common: Common,
    },
    /// Upload one local file.
    Put {
        /// The local file to upload.
        #[arg(long, value_name = "LOCAL")]
        file: PathBuf,
        /// The remote file to write.
        #[arg(long, value_name = "REMOTE")]
        path: String,
        /// Server and connection options.
        #[command(flatten)]
        common: Common,
    },
    /// Upload every regular file of a local directory, then download each back, over one
    /// control connection and one login (files counts both directions).
    Many {
        /// The local directory whose regular files are uploaded.
        #[arg(long, value_name = "LOCAL_DIR")]
        dir: PathBuf,
        /// The remote directory to upload into (made if missing).
        #[arg(long, value_name = "REMOTE_DIR")]
        path: String,
        /// Server and connection options.
        #[command(flatten)]
        common: Common,
    },
    /// Many clients at once, each on its own control connection, each uploading files of
    /// mixed sizes (0 B to 16 MiB) of random data and downloading them back, every byte
    /// checked with SHA-256. Prints one JSON line with the keys clients, transfers (round
    /// trips run), failed, corrupted, leaked_fds, p50_ms, p99_ms (round-trip latency),
    /// peak_rss_kib, backend and wall_s. Without --server it serves a fresh scratch directory.
    Soak {
        /// Clients at once.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
        clients: u32,
        /// Upload-then-download round trips per client.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
        transfers: u32,
        /// The remote directory the files go to (made if missing).
        #[arg(long, value_name = "REMOTE_DIR", default_value = "ftps-soak")]
        path: String,
        /// Server and connection options.
        #[command(flatten)]
        common: Common,
    },
}

/// The options every operation takes.
#[derive(Debug, Args)]
struct Common {
    /// The server: ftp://USER:PASS@HOST:PORT (explicit FTPS) or ftps://... (implicit).
    /// Default: the embedded server (`ftps-conformance serve`, found beside ftps-bench or on
    /// PATH) started over --root for this run, in a process of its own.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The directory the embedded server serves when --server is not given (default: the
    /// current directory; for soak, a fresh scratch directory).
    #[arg(long, value_name = "DIR", conflicts_with = "server")]
    root: Option<PathBuf>,
    /// The CA certificate to trust (DER or PEM) with --server. rustls has no system roots:
    /// required with it.
    #[arg(long, value_name = "FILE", requires = "server")]
    ca: Option<PathBuf>,
    /// The TLS backend.
    #[arg(long, value_enum, default_value_t = Backend::Rustls)]
    backend: Backend,
    /// Pin the TLS version (1.2 or 1.3); by default the backend negotiates either.
    #[arg(long, value_name = "1.2|1.3")]
    tls: Option<TlsVersion>,
    /// Implicit FTPS (TLS from the first byte) even with an ftp:// URL.
    #[arg(long)]
    implicit: bool,
    /// Print the client's log (commands, replies, handshakes) on stderr with timestamps.
    #[arg(long)]
    trace: bool,
}

impl Common {
    /// The server to connect to, with its CA, version pin and mode; the embedded server is
    /// started first when no --server was given (it runs as long as the returned guard), over
    /// --root, else over the current directory, or over a scratch directory if `scratch`.
    fn target(&self, scratch: bool) -> Result<(RemoteTarget, Option<EmbeddedServer>), String> {
        let (mut target, embedded) = match &self.server {
            Some(url) => {
                let mut target = RemoteTarget::parse_url(url)?;
                if let Some(ca) = &self.ca {
                    target = target.with_ca_file(ca)?;
                }
                (target, None)
            }
            None => {
                let current = (!scratch).then(|| PathBuf::from("."));
                let root = self.root.clone().or(current);
                let server = EmbeddedServer::start(root.as_deref(), self.implicit)?;
                (server.target.clone(), Some(server))
            }
        };
        target.tls = self.tls;
        target.implicit |= self.implicit;
        Ok((target, embedded))
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok((line, clean)) => {
            println!("{line}");
            if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("ftps-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the operation and renders its JSON line; the flag says whether it went cleanly.
fn run(cli: Cli) -> Result<(String, bool), String> {
    let (job, common) = match cli.op {
        Op::Get { path, file, common } => (Job::Get { path, file }, common),
        Op::Put { file, path, common } => (Job::Put { file, path }, common),
        Op::Many { dir, path, common } => (Job::Many { dir, path }, common),
        Op::Soak {
            clients,
            transfers,
            path,
            common,
        } => {
            let plan = Plan {
                clients: clients as usize,
                round_trips: transfers as usize,
                path,
            };
            return run_soak(&plan, &common);
        }
    };
    if common.trace {
        trace::enable();
    }
    let (target, _embedded) = common.target(false)?;
    let run = connect::run(common.backend, &target, &job)?;
    let usage = usage::current()?;
    let tally = run.tally;
    let wall_s = tally.wall.as_secs_f64();
    let per_second = |amount: f64| {
        if wall_s > 0.0 {
            amount / wall_s
        } else {
            0.0
        }
    };
    let line = render(&[
        ("op", json!(job.name())),
        ("backend", json!(run.backend)),
        ("tls", json!(run.tls)),
        ("cipher", json!(run.cipher)),
        ("bytes", json!(tally.bytes)),
        ("files", json!(tally.files)),
        ("wall_s", json!(wall_s)),
        (
            "mib_s",
            json!(per_second(tally.bytes as f64 / (1024.0 * 1024.0))),
        ),
        ("files_s", json!(per_second(tally.files as f64))),
        ("user_s", json!(usage.user_s)),
        ("sys_s", json!(usage.sys_s)),
        ("peak_rss_kib", json!(usage.peak_rss_kib)),
        ("data_connections", json!(tally.data_connections)),
        ("resumed", json!(tally.resumed)),
    ]);
    Ok((line, true))
}

/// Runs a soak and renders its JSON line; clean when nothing failed, came back corrupted or
/// leaked.
fn run_soak(plan: &Plan, common: &Common) -> Result<(String, bool), String> {
    if common.trace {
        trace::enable();
    }
    let (target, _embedded) = common.target(true)?;
    let started = std::time::Instant::now();
    let report = connect::with_backend(
        common.backend,
        &target,
        Soak {
            target: &target,
            plan,
        },
    )?;
    let wall_s = started.elapsed().as_secs_f64();
    let usage = usage::current()?;
    let line = render(&[
        ("clients", json!(plan.clients)),
        ("transfers", json!(report.round_trips)),
        ("failed", json!(report.failed)),
        ("corrupted", json!(report.corrupted)),
        ("leaked_fds", json!(report.leaked_fds)),
        ("p50_ms", json!(report.p50_ms)),
        ("p99_ms", json!(report.p99_ms)),
        ("peak_rss_kib", json!(usage.peak_rss_kib)),
        ("backend", json!(common.backend.to_string())),
        ("wall_s", json!(wall_s)),
    ]);
    Ok((line, report.is_clean()))
}

/// One compact JSON object with the keys in the given order (serde_json's map sorts them).
fn render(fields: &[(&str, Value)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{}:{value}", Value::from(*key)))
        .collect();
    format!("{{{}}}", members.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_a_pinned_openssl_get() {
        let cli = Cli::try_parse_from([
            "ftps-bench",
            "get",
            "--server",
            "ftp://u:p@127.0.0.1:2121",
            "--backend",
            "openssl",
            "--tls",
            "1.2",
            "--path",
            "big.bin",
        ])
        .unwrap();
        let Op::Get { path, file, common } = cli.op else {
            panic!("not a get: {cli:?}");
        };
        assert_eq!((path.as_str(), file), ("big.bin", None));
        assert_eq!(common.backend, Backend::Openssl);
        let (target, embedded) = common.target(false).unwrap();
        assert!(embedded.is_none());
        assert_eq!((target.port, target.tls), (2121, Some(TlsVersion::Tls12)));
        assert!(!target.implicit);
    }

    #[test]
    fn renders_the_keys_in_order() {
        let line = render(&[
            ("op", json!("get")),
            ("tls", json!(null)),
            ("b", json!(1.5)),
        ]);
        assert_eq!(line, r#"{"op":"get","tls":null,"b":1.5}"#);
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["b"], json!(1.5));
    }

    #[test]
    fn the_ca_and_the_root_go_with_their_kind_of_server() {
        let err =
            Cli::try_parse_from(["ftps-bench", "get", "--path", "x", "--ca", "c"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let err = Cli::try_parse_from([
            "ftps-bench",
            "get",
            "--path",
            "x",
            "--server",
            "ftp://u@h:1",
            "--root",
            "d",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
