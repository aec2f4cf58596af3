//! `ftps-conformance`: runs the RFC 4217 scenarios against every backend compiled in, against
//! the embedded server, and prints the matrix (or JSON lines with `--format json`).

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
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
#[command(version, about)]
struct Args {
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
}

fn main() -> ExitCode {
    let args = Args::parse();
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
    ftps_conformance::backends::run_all(&mut report, args.backend.as_deref(), &filter, progress);
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
