//! Tier 3, the interop matrix: each real server profile is started through the project's own
//! scripts (`scripts/<server>/start.sh`), the real-server checks of `ftps_conformance::remote`
//! run against it for one backend, and the server is stopped. One trial per profile and
//! backend, named `<server>_<profile>_<backend>`.
//!
//! A trial fails on any "fail" outcome, and when a check that every server supports is not a
//! pass (for a backend that cannot resume against a server that requires reuse: when its
//! transfers are not reported as the declared limitation, and SESS-04 is not a pass).
//!
//! Runs when `FTPS_REAL_SERVERS=1` (set by `scripts/test.sh` after
//! `scripts/install-servers.sh`); otherwise every trial is reported as ignored.
//! A server is added with one line in [`PROFILES`].

use ftps_conformance::real::{enabled, RealServer};
use ftps_conformance::remote::{self, RemoteTarget, TlsVersion};
use ftps_conformance::{Filter, Outcome, Report};
use ftps_core::Capability;
use libtest_mimic::{Arguments, Failed, Trial};

/// One way to run a server: its script, the script's arguments, and what the profile is.
#[derive(Clone, Copy, Debug)]
struct Profile {
    /// The directory under `scripts/`.
    server: &'static str,
    /// A short name for the trial (`tls13`, `tls12_implicit`, ...).
    name: &'static str,
    /// The arguments of `start.sh` after the work directory.
    args: &'static [&'static str],
    /// Implicit FTPS.
    implicit: bool,
    /// The version the client is pinned to (the one the server is set to).
    tls: Option<TlsVersion>,
    /// The server refuses data connections that do not resume the control session.
    requires_reuse: bool,
    /// Only these backends (all compiled-in backends when empty).
    only: &'static [&'static str],
}

impl Profile {
    /// Explicit FTPS, session reuse required, every backend.
    const fn new(server: &'static str, name: &'static str, args: &'static [&'static str]) -> Self {
        Profile {
            server,
            name,
            args,
            implicit: false,
            tls: None,
            requires_reuse: true,
            only: &[],
        }
    }

    const fn tls(mut self, version: TlsVersion) -> Self {
        self.tls = Some(version);
        self
    }

    const fn implicit(mut self) -> Self {
        self.implicit = true;
        self
    }

    const fn without_reuse(mut self) -> Self {
        self.requires_reuse = false;
        self
    }

    const fn only(mut self, backends: &'static [&'static str]) -> Self {
        self.only = backends;
        self
    }
}

use TlsVersion::{Tls12, Tls13};

/// Every server profile of the matrix, one line each.
const PROFILES: &[Profile] = &[
    Profile::new("vsftpd", "tls13", &["--tls13"]).tls(Tls13),
    Profile::new("vsftpd", "tls12", &["--tls12"]).tls(Tls12),
    Profile::new("vsftpd", "tls13_implicit", &["--tls13", "--implicit"])
        .tls(Tls13)
        .implicit(),
    Profile::new(
        "vsftpd",
        "tls13_no_reuse",
        &["--tls13", "--opt", "require_ssl_reuse=NO"],
    )
    .tls(Tls13)
    .without_reuse()
    .only(&["native-tls"]),
    Profile::new("proftpd", "tls13", &["--tls13"]).tls(Tls13),
    Profile::new("proftpd", "tls12", &["--tls12"]).tls(Tls12),
    Profile::new("proftpd", "tls13_implicit", &["--tls13", "--implicit"])
        .tls(Tls13)
        .implicit(),
    Profile::new("pure-ftpd", "tls13", &["--tls13"])
        .tls(Tls13)
        .without_reuse(),
    Profile::new("pyftpdlib", "tls13", &["--tls13"])
        .tls(Tls13)
        .without_reuse(),
];

/// Checks every server supports, which must pass wherever data connections work.
const EVERYWHERE: &[&str] = &[
    "AUTH-09", "DATA-08", "DATA-09", "DATA-10", "SESS-03", "CLOSE-06", "CLOSE-01", "REST-01",
    "REST-04", "ABOR-01", "QUIT-01",
];

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for profile in PROFILES {
        for backend in ftps_conformance::backends::compiled_in() {
            if !profile.only.is_empty() && !profile.only.contains(&backend) {
                continue;
            }
            let profile = *profile;
            trials.push(
                Trial::test(
                    format!(
                        "{}_{}_{}",
                        profile.server,
                        profile.name,
                        backend.replace('-', "_")
                    ),
                    move || interop(&profile, backend).map_err(Failed::from),
                )
                .with_ignored_flag(!enabled())
                .with_kind("real-server"),
            );
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

fn interop(profile: &Profile, backend: &str) -> Result<(), String> {
    let server = RealServer::start(profile.server, profile.args)?;
    let (user, password) = server.credentials();
    let mut target = RemoteTarget::new("127.0.0.1", server.port(), user, password);
    target.implicit = profile.implicit;
    target.ca_der = Some(server.ca_der()?);
    target.tls = profile.tls;
    let mut report = Report::default();
    remote::run(
        &target,
        Some(backend),
        &Filter::default(),
        &mut report,
        |_| {},
    )?;
    rerun_abor_after_proftpd_panic(profile, &server, &target, backend, &mut report)?;
    let matrix = report.matrix();
    print!(
        "--- {} {} ({} FTPS), {backend} ---\n{matrix}",
        profile.server,
        profile.name,
        target.mode_name()
    );
    println!(
        "{}\n{}",
        table_header(),
        table_row(profile, &target, backend, &report)
    );
    let problems = judge(profile, &report);
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}\n{matrix}--- {} log (tail) ---\n{}",
        problems.join("\n"),
        profile.server,
        tail(&server.log(), 40)
    ))
}

/// What ProFTPD's mod_tls writes to its TLS log when it ends a whole session over an
/// `EPIPE` on a data connection the client reset.
const PROFTPD_EPIPE_PANIC: [&str; 2] = ["panic: SSL_ERROR_SYSCALL", "Broken pipe"];

/// How often ABOR-01 runs again after that panic.
const ABOR_RERUNS: usize = 2;

/// ABOR-01 closes the data connection of a download in full flow (a reset), then sends `ABOR`.
/// ProFTPD (mod_tls 2.9.2) answers `426`, but when one of its later writes on that data
/// connection fails with `EPIPE` rather than `ECONNRESET`, which depends on timing, mod_tls
/// logs "panic: SSL_ERROR_SYSCALL, ... Broken pipe" and "unexpected OpenSSL error,
/// disconnecting" and closes the control connection too: ABOR-01 then fails with "the server
/// closed the control connection", in about 2 runs in 100 (`ftps-conformance --server ...
/// --backend openssl --tls 1.2 --scenario ABOR-01` in a loop against
/// `scripts/proftpd/start.sh DIR --tls12`). Only when the server's own log shows that panic
/// does ABOR-01 run again, at most [`ABOR_RERUNS`] times, and the report keeps the last
/// outcome; any other failure stands.
fn rerun_abor_after_proftpd_panic(
    profile: &Profile,
    server: &RealServer,
    target: &RemoteTarget,
    backend: &str,
    report: &mut Report,
) -> Result<(), String> {
    // Lines of the TLS log with the panic; each failure must have added one.
    let panics = || {
        server
            .file("tls_log")
            .lines()
            .filter(|line| {
                PROFTPD_EPIPE_PANIC
                    .iter()
                    .all(|needle| line.contains(needle))
            })
            .count()
    };
    let mut seen = 0;
    for _ in 0..ABOR_RERUNS {
        let Some(entry) = report.entries.iter_mut().find(|e| e.scenario == "ABOR-01") else {
            return Ok(());
        };
        let cut_off = matches!(&entry.outcome, Outcome::Fail(reason)
            if reason.contains("closed the control connection"));
        if profile.server != "proftpd" || !cut_off {
            return Ok(());
        }
        let now = panics();
        if now <= seen {
            return Ok(());
        }
        seen = now;
        println!(
            "ABOR-01: ProFTPD ended the session after EPIPE on the reset data connection \
             (its TLS log: {}); running ABOR-01 again",
            PROFTPD_EPIPE_PANIC.join(" ... ")
        );
        let mut rerun = Report::default();
        let only = Filter {
            scenario_prefix: Some("ABOR-01".to_owned()),
        };
        remote::run(target, Some(backend), &only, &mut rerun, |_| {})?;
        match rerun.entries.into_iter().find(|e| e.scenario == "ABOR-01") {
            Some(again) => entry.outcome = again.outcome,
            None => return Ok(()),
        }
    }
    Ok(())
}

/// What is wrong with a report: failures, and required checks that are not passes.
fn judge(profile: &Profile, report: &Report) -> Vec<String> {
    let outcome = |id: &str| {
        report
            .entries
            .iter()
            .find(|e| e.scenario == id)
            .map(|e| &e.outcome)
    };
    let mut problems: Vec<String> = report
        .entries
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Fail(_)))
        .map(|e| format!("{} failed: {}", e.scenario, e.outcome.detail()))
        .collect();
    let resumes = !matches!(
        outcome("SESS-03"),
        Some(Outcome::Unsupported(Capability::Resumption))
    );
    let login = if profile.implicit {
        "IMPL-01"
    } else {
        "AUTH-01"
    };
    let mut required: Vec<&str> = vec![login, "AUTH-09", "DATA-10", "QUIT-01"];
    if resumes || !profile.requires_reuse {
        // Resumption is checked where the server requires it; elsewhere the server may have
        // issued nothing to resume (SESS-* n/a with the reason).
        required.extend(
            EVERYWHERE
                .iter()
                .filter(|id| profile.requires_reuse || !id.starts_with("SESS")),
        );
        if profile.implicit {
            required.push("IMPL-04");
        }
    } else {
        // The declared limitation: refused with a typed error, never a pass.
        required.push("SESS-04");
        for id in ["DATA-08", "DATA-09", "CLOSE-01", "CLOSE-06", "REST-01"] {
            if !matches!(
                outcome(id),
                Some(Outcome::Unsupported(Capability::Resumption))
            ) {
                problems.push(format!(
                    "{id}: expected the declared limitation (no session resumption), got {:?}",
                    outcome(id)
                ));
            }
        }
    }
    // A backend that offers each TLS 1.3 session once runs out of tickets against a server
    // that requires reuse and issues none on some data connections (ProFTPD on uploads): the
    // declared limitation, reported as unsupported with its capability.
    let declared = |o: &Outcome| {
        profile.requires_reuse
            && profile.tls != Some(Tls12)
            && *o == Outcome::Unsupported(Capability::Tls13SessionReuse)
    };
    for id in required {
        match outcome(id) {
            Some(Outcome::Pass) => {}
            Some(o) if declared(o) => {}
            other => problems.push(format!("{id} must pass here, got {other:?}")),
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// The columns of the README's interop table after server, TLS, mode and backend: a scenario
/// each, with its heading.
const TABLE_COLUMNS: &[(&str, &str)] = &[
    ("DATA-01", "EPSV"),
    ("DATA-02", "PASV"),
    ("DATA-03", "active"),
    ("SESS-03", "71 resumed transfers"),
    ("CLOSE-06", "32 MiB up+down"),
    ("ABOR-01", "ABOR"),
    ("CCC-01", "CCC"),
];

/// The header of the README's interop table (two markdown lines), prefixed `interop-header:`.
fn table_header() -> String {
    let names: Vec<&str> = TABLE_COLUMNS.iter().map(|(_, name)| *name).collect();
    let columns = 5 + names.len() + 1;
    format!(
        "interop-header: | server | TLS | mode | reuse required | backend | {} | all real-server \
         checks |\n\
         interop-header: |{}",
        names.join(" | "),
        "---|".repeat(columns)
    )
}

/// One row of the README's interop table, prefixed `interop-row:` so that
/// `scripts/interop-table.sh` can collect the rows from the test output.
fn table_row(profile: &Profile, target: &RemoteTarget, backend: &str, report: &Report) -> String {
    let tls = match profile.tls {
        Some(Tls12) => "1.2",
        Some(Tls13) => "1.3",
        None => "any",
    };
    let mut row = format!(
        "interop-row: | {} | {tls} | {} | {} | {backend} |",
        profile.server,
        target.mode_name(),
        if profile.requires_reuse { "yes" } else { "no" }
    );
    for (id, _) in TABLE_COLUMNS {
        let cell = match report.entries.iter().find(|e| e.scenario == *id) {
            Some(e) => match &e.outcome {
                Outcome::Unsupported(capability) => format!("unsupported ({capability})"),
                other => other.label().to_owned(),
            },
            None => "-".to_owned(),
        };
        row.push_str(&format!(" {cell} |"));
    }
    let count = |label: &str| {
        report
            .entries
            .iter()
            .filter(|e| e.outcome.label() == label)
            .count()
    };
    row.push_str(&format!(
        " {} pass, {} fail, {} unsupported, {} n/a |",
        count("pass"),
        count("fail"),
        count("unsupported"),
        count("n/a")
    ));
    row
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
