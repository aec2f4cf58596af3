//! Tier 3: the backends against a real Pure-FTPd 1.0.50 (Debian's build, unpacked by
//! `scripts/pure-ftpd/install.sh`) on loopback, with `-Y 3` (TLS required on the control
//! connection and on every data connection).
//!
//! For every backend and each TLS version the server is pinned to (1.3 and 1.2): a 4 MiB file
//! up and back down and 20 small files up then down in a row, every one compared by SHA-256,
//! then LIST, NLST and MLSD, in passive mode with EPSV, in active mode (PORT or EPRT), and in
//! passive mode with PASV (a server started with `-b`, which answers EPSV on IPv4 with `500`,
//! so the client falls back to PASV). Pure-FTPd does not require data connections to resume the
//! control connection's TLS session, so native-tls (which cannot resume) must pass too. The
//! workload is `ftps_conformance::real::modes`.
//!
//! Runs when `FTPS_REAL_SERVERS=1` (after `scripts/install-servers.sh`); otherwise every trial
//! is reported as ignored.

mod common;

use ftps_conformance::real::modes::ModesSuite;
use ftps_conformance::real::{tail, verify, RealServer};
use ftps_core::TransferOutcome;

fn main() -> std::process::ExitCode {
    common::modes_main(ModesSuite {
        server: "pure-ftpd",
        args: &[],
        // -b (--brokenclientscompatibility) makes Pure-FTPd answer EPSV on IPv4 with 500.
        refuse_epsv: &["--opt=-b"],
        verify_data,
        verify_log: |_, _| Ok(()),
        report,
    })
}

/// The data connection's TLS version, when the backend reports it, is the pinned one; under
/// TLS 1.2 a backend that reports resumption resumed the control connection's session
/// (Pure-FTPd keeps a server-side session cache). Under TLS 1.3 Pure-FTPd 1.0.50 sends no
/// NewSessionTicket, so there is nothing to resume and the data handshakes are full ones.
fn verify_data(outcome: &TransferOutcome, version: &str, what: &str) -> Result<(), String> {
    verify::version_if_reported(outcome, version, what)?;
    if version == "TLSv1.2" {
        verify::resumed_if_reported(outcome, what)?;
    }
    Ok(())
}

/// The ends of Pure-FTPd's transfer log and console output.
fn report(server: &RealServer) -> String {
    format!(
        "--- pure-ftpd transfer log (tail) ---\n{}\n--- console ---\n{}",
        tail(&server.log(), 20),
        tail(&server.file("console"), 20)
    )
}
