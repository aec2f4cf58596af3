//! `ftps-conformance`: runs the RFC 4217 scenarios against every backend compiled in, against
//! the embedded server, and prints the matrix (or JSON lines with `--format json`).
//!
//! With `--server ftp://USER:PASS@HOST:PORT` it runs the real-server checks against that
//! server instead (`ftps_conformance::remote`): n/a where the server lacks a feature.
//!
//! `ftps-conformance serve --root DIR` runs the embedded server as a standalone FTPS server
//! over a directory (see `serve_cmd`).

mod serve_cmd;

use std::process::ExitCode;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use ftps_conformance::remote::{RemoteTarget, TlsVersion};
use ftps_conformance::{Filter, Report, ReportEntry};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// A scenario x backend matrix and a summary, for people.
    Matrix,
    /// One JSON object per line: scenario, backend, outcome, detail.
    Json,
}

/// Runs the ftps conformance scenarios against the compiled-in TLS backends.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Args {
    /// Another job than running the scenarios.
    #[command(subcommand)]
    command: Option<Command>,
    /// Run only this backend (rustls, ...).
    #[arg(long)]
    backend: Option<String>,
    /// Run only scenarios whose ID starts with this (AUTH, SESS-03, ...).
    #[arg(long)]
    scenario: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Matrix)]
    format: Format,
    /// List the backends compiled in and exit.
    #[arg(long)]
    list_backends: bool,
    /// Run the real-server checks against this server instead of the embedded one:
    /// ftp://USER:PASS@HOST:PORT (explicit FTPS) or ftps://... (implicit).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Implicit FTPS (TLS from the first byte) with --server.
    #[arg(long, requires = "server")]
    implicit: bool,
    /// The CA certificate (DER or PEM) that signed the server's certificate, with --server.
    #[arg(long, value_name = "FILE", requires = "server")]
    ca: Option<PathBuf>,
    /// Pin the client to TLS 1.2 or 1.3, with --server.
    #[arg(long, value_name = "1.2|1.3", requires = "server")]
    tls: Option<TlsVersion>,
}

/// The jobs besides the scenario runs.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the embedded FTPS server over a directory until stopped (for benchmarks and any
    /// client); prints {"host","port","ca","user","pass"} when ready.
    Serve(serve_cmd::ServeArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Serve(serve)) = args.command {
        return match serve_cmd::run(serve) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ftps-conformance serve: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let backends = ftps_conformance::backends::compiled_in();
    if args.list_backends {
        for name in backends {
            println!("{name}");
        }
        return ExitCode::SUCCESS;
    }
    if let Some(wanted) = &args.backend {
        if !backends.contains(&wanted.as_str()) {
            eprintln!(
                "unknown backend {wanted:?}; compiled in: {}",
                backends.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    let filter = Filter {
        scenario_prefix: args.scenario.clone(),
    };
    let format = args.format;
    let mut report = Report::default();
    let target = match &args.server {
        Some(url) => match remote_target(url, &args) {
            Ok(target) => Some(target),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let progress = |entry: &ReportEntry| match format {
        Format::Json => {
            let line = serde_json::json!({
                "scenario": entry.scenario,
                "backend": entry.backend,
                "outcome": entry.outcome.label(),
                "detail": entry.outcome.detail(),
            });
            println!("{line}");
        }
        Format::Matrix => eprintln!(
            "{} [{}]: {}",
            entry.scenario,
            entry.backend,
            entry.outcome.label()
        ),
    };
    match &target {
        Some(target) => {
            if let Err(e) = ftps_conformance::remote::run(
                target,
                args.backend.as_deref(),
                &filter,
                &mut report,
                progress,
            ) {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
        None => ftps_conformance::backends::run_all(
            &mut report,
            args.backend.as_deref(),
            &filter,
            progress,
        ),
    }
    if report.entries.is_empty() {
        eprintln!("no scenario matches the filter");
        return ExitCode::from(2);
    }
    if let Format::Matrix = format {
        print!("{}", report.matrix());
    }
    if report.has_failures() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The target of `--server`, with `--implicit`, `--ca` and `--tls` applied.
fn remote_target(url: &str, args: &Args) -> Result<RemoteTarget, String> {
    let mut target = RemoteTarget::parse_url(url)?;
    if args.implicit {
        target.implicit = true;
    }
    if let Some(path) = &args.ca {
        target = target.with_ca_file(path)?;
    }
    target.tls = args.tls;
    Ok(target)
}
