//! Tier 3: the backends against a real pyftpdlib 2.2 server (`TLS_FTPHandler` with pyOpenSSL,
//! `scripts/pyftpdlib/server.py` in the venv `scripts/pyftpdlib/install.sh` makes) on loopback,
//! with `tls_control_required` and `tls_data_required`.
//!
//! For every backend and each TLS version the server is pinned to (1.3 and 1.2): a 4 MiB file
//! up and back down and 20 small files up then down in a row, every one compared by SHA-256,
//! then LIST, NLST and MLSD, in passive mode with EPSV, in active mode (PORT or EPRT), and in
//! passive mode with PASV (a server started with `--no-epsv`, which answers EPSV with `500`, so the
//! client falls back to PASV); the server's protocol log must show the data commands of each
//! mode. pyftpdlib does not require data connections to resume the control connection's TLS
//! session, so native-tls (which cannot resume) must pass too. Every server exits by itself
//! after 300 s at most (`--max-lifetime`). The workload is `ftps_conformance::real::modes`.
//!
//! Runs when `FTPS_REAL_SERVERS=1` (after `scripts/install-servers.sh`); otherwise every trial
//! is reported as ignored.

mod common;

use ftps_conformance::checks::ensure;
use ftps_conformance::real::modes::{DataMode, ModesSuite};
use ftps_conformance::real::{tail, verify};
use ftps_core::TransferOutcome;

fn main() -> std::process::ExitCode {
    common::modes_main(ModesSuite {
        server: "pyftpdlib",
        // The longest a server may live, whatever its client does.
        args: &["--max-lifetime=300"],
        refuse_epsv: &["--no-epsv"],
        verify_data,
        verify_log,
        report: |server| format!("--- pyftpdlib log (tail) ---\n{}", tail(&server.log(), 40)),
    })
}

/// The data connection's TLS version, when the backend reports it, is the pinned one, and a
/// backend that reports resumption resumed the control connection's session (pyftpdlib does
/// not require it, but its pyOpenSSL context keeps a session cache and sends TLS 1.3 tickets).
fn verify_data(outcome: &TransferOutcome, version: &str, what: &str) -> Result<(), String> {
    verify::version_if_reported(outcome, version, what)?;
    verify::resumed_if_reported(outcome, what)
}

/// The server's protocol log of one session's workload ("<- COMMAND", "-> reply") shows how
/// its data connections were opened.
fn verify_log(mode: DataMode, log: &str) -> Result<(), String> {
    let (wanted, unwanted): (&[&str], &[&str]) = match mode {
        DataMode::Epsv => (&["<- EPSV", "-> 229 "], &["<- PASV", "<- EPRT", "<- PORT"]),
        DataMode::Pasv => (
            &["<- EPSV", "-> 500 ", "<- PASV", "-> 227 "],
            &["-> 229 ", "<- EPRT", "<- PORT"],
        ),
        DataMode::Active => (
            &["-> 200 Active data connection established"],
            &["<- EPSV", "<- PASV"],
        ),
    };
    if mode == DataMode::Active {
        ensure(log.contains("<- PORT ") || log.contains("<- EPRT "), || {
            "the server log has neither PORT nor EPRT".to_owned()
        })?;
    }
    for w in wanted {
        ensure(log.contains(w), || format!("the server log has no '{w}'"))?;
    }
    for u in unwanted {
        ensure(!log.contains(u), || format!("the server log has '{u}'"))?;
    }
    Ok(())
}
