//! The runner against a real FTPS server: the scenarios whose **Real:** line in SCENARIOS.md
//! applies to any server (log in, the three listings, uploads and downloads compared by
//! SHA-256, a large file, many transfers in a row, resume, CCC, the data modes, SIZE, MDTM,
//! MLST, ABOR, QUIT), for every backend compiled in, reported under the scenario IDs of the
//! embedded matrix.
//!
//! * A check that the server cannot exercise (no MLST, CCC answered `500`, ...) is reported as
//!   [`Outcome::NotApplicable`] with the reason, never as a pass.
//! * A backend that lacks a capability gets [`Outcome::Unsupported`]: native-tls cannot resume
//!   sessions, so against a server that requires session reuse its transfers end in the typed
//!   refusal (`ResumptionRefused`, or the server's `522`), reported as unsupported.
//! * Each check runs on its own control connection, in its own scratch directory under the
//!   login's home, removes what it created, and has a time budget; checks run one after
//!   another.
//!
//! ```no_run
//! use ftps_conformance::remote::{run, RemoteTarget};
//! use ftps_conformance::{Filter, Report};
//!
//! let target = RemoteTarget::parse_url("ftp://alice:secret@127.0.0.1:2121")?
//!     .with_ca_file("ca.pem".as_ref())?;
//! let mut report = Report::default();
//! run(&target, None, &Filter::default(), &mut report, |e| {
//!     eprintln!("{} [{}]: {}", e.scenario, e.backend, e.outcome.label())
//! })?;
//! print!("{}", report.matrix());
//! # Ok::<(), String>(())
//! ```

// A runner built without any backend has nothing to run the checks with.
#![cfg_attr(
    not(any(feature = "rustls", feature = "openssl", feature = "native-tls")),
    allow(dead_code)
)]

mod checks;
pub mod connectors;
mod context;
mod data;

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use ftps_core::SecureConnection;

use crate::report::{Filter, Report, ReportEntry};
use crate::scenario::Outcome;

use checks::{Check, Findings};
use context::Ctx;

/// The TLS version the client is pinned to (`--tls 1.2` or `--tls 1.3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl TlsVersion {
    /// The name backends report in [`ftps_core::SessionInfo::protocol_version`].
    pub fn protocol_name(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }
}

impl FromStr for TlsVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().trim_start_matches("tls") {
            "1.2" | "v1.2" | "12" => Ok(TlsVersion::Tls12),
            "1.3" | "v1.3" | "13" => Ok(TlsVersion::Tls13),
            _ => Err(format!("unknown TLS version {s:?}: use 1.2 or 1.3")),
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        })
    }
}

/// A real FTPS server and how to reach it.
#[derive(Clone)]
pub struct RemoteTarget {
    /// Host name or IP address; the certificate is verified against it.
    pub host: String,
    /// The control port.
    pub port: u16,
    /// The login name.
    pub user: String,
    /// The password.
    pub password: String,
    /// Implicit FTPS (TLS from the first byte) instead of `AUTH TLS`.
    pub implicit: bool,
    /// The CA certificate (DER) to trust instead of the system's roots.
    pub ca_der: Option<Vec<u8>>,
    /// Pin the client to this TLS version; `None` lets the backend choose (1.2 or 1.3).
    pub tls: Option<TlsVersion>,
}

impl fmt::Debug for RemoteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("implicit", &self.implicit)
            .field("ca_der", &self.ca_der.as_ref().map(Vec::len))
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl RemoteTarget {
    /// A target with these credentials, explicit FTPS, the system's roots, no version pin.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> RemoteTarget {
        RemoteTarget {
            host: host.into(),
            port,
            user: user.into(),
            password: password.into(),
            implicit: false,
            ca_der: None,
            tls: None,
        }
    }

    /// Parses `ftp://USER:PASS@HOST[:PORT][/]` (explicit FTPS, port 21 by default) or
    /// `ftps://...` (implicit FTPS, port 990 by default). User and password may be
    /// percent-encoded; an IPv6 host goes in brackets.
    pub fn parse_url(text: &str) -> Result<RemoteTarget, String> {
        let bad = |why: &str| format!("bad server URL {text:?}: {why}");
        let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        let implicit = match url.scheme() {
            "ftp" => false,
            "ftps" => true,
            _ => return Err(bad("the scheme must be ftp (explicit) or ftps (implicit)")),
        };
        if !url.path().trim_matches('/').is_empty() || url.query().is_some() {
            return Err(bad("a path or query is not supported"));
        }
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| bad("a %-escape that is not UTF-8"))
        };
        let user = decode(url.username())?;
        if user.is_empty() {
            return Err(bad("USER:PASS@ is missing"));
        }
        let password = decode(
            url.password()
                .ok_or_else(|| bad("the password is missing (USER:PASS@)"))?,
        )?;
        let host = match url.host() {
            Some(url::Host::Ipv6(address)) => address.to_string(),
            Some(host) => host.to_string(),
            None => return Err(bad("the host is missing")),
        };
        let port = url.port().unwrap_or(if implicit { 990 } else { 21 });
        let mut target = RemoteTarget::new(host, port, user, password);
        target.implicit = implicit;
        Ok(target)
    }

    /// Trusts the CA certificate in `path` (DER, or PEM: the first certificate).
    pub fn with_ca_file(mut self, path: &Path) -> Result<RemoteTarget, String> {
        self.ca_der = Some(read_ca(path)?);
        Ok(self)
    }

    /// `"explicit"` or `"implicit"`.
    pub fn mode_name(&self) -> &'static str {
        if self.implicit {
            "implicit"
        } else {
            "explicit"
        }
    }
}

/// Reads a CA certificate file: DER, or PEM (the first `CERTIFICATE` block).
pub fn read_ca(path: &Path) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject;
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read the CA {}: {e}", path.display()))?;
    if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        rustls::pki_types::CertificateDer::from_pem_slice(&bytes)
            .map(|der| der.to_vec())
            .map_err(|e| format!("no PEM certificate in {}: {e}", path.display()))
    } else {
        Ok(bytes)
    }
}

/// Runs the real-server checks selected by `filter` against every compiled-in backend (or only
/// `backend`), one check after another, calling `progress` after each outcome.
///
/// Fails before running anything when `backend` is not compiled in or a connector cannot be
/// built (an unusable CA, rustls without `--ca`).
#[allow(unused_variables, unused_mut)]
pub fn run(
    target: &RemoteTarget,
    backend: Option<&str>,
    filter: &Filter,
    report: &mut Report,
    mut progress: impl FnMut(&ReportEntry),
) -> Result<(), String> {
    let compiled = crate::backends::compiled_in();
    if let Some(wanted) = backend {
        if !compiled.contains(&wanted) {
            return Err(format!(
                "unknown backend {wanted:?}; compiled in: {}",
                compiled.join(", ")
            ));
        }
    }
    let target = Arc::new(target.clone());
    let wrong_ca = crate::server::shared_pki().other_ca_der();
    let selected = |name: &str| backend.is_none_or(|b| b == name);
    #[cfg(feature = "rustls")]
    if selected("rustls") {
        let trusting = connectors::rustls(target.ca_der.as_deref(), target.tls)?;
        let untrusting = connectors::rustls(Some(wrong_ca), target.tls)?;
        run_backend(&target, trusting, untrusting, filter, report, &mut progress);
    }
    #[cfg(feature = "openssl")]
    if selected("openssl") {
        let trusting = connectors::openssl(target.ca_der.as_deref(), target.tls)?;
        let untrusting = connectors::openssl(Some(wrong_ca), target.tls)?;
        run_backend(&target, trusting, untrusting, filter, report, &mut progress);
    }
    #[cfg(feature = "native-tls")]
    if selected("native-tls") {
        let trusting = connectors::native_tls(target.ca_der.as_deref(), target.tls)?;
        let untrusting = connectors::native_tls(Some(wrong_ca), target.tls)?;
        run_backend(&target, trusting, untrusting, filter, report, &mut progress);
    }
    Ok(())
}

/// Every check against one backend; `untrusting` trusts an unrelated CA (AUTH-09).
fn run_backend<C: SecureConnection + Clone>(
    target: &Arc<RemoteTarget>,
    trusting: C,
    untrusting: C,
    filter: &Filter,
    report: &mut Report,
    progress: &mut impl FnMut(&ReportEntry),
) {
    let backend = trusting.name().to_owned();
    let ctx = Arc::new(Ctx::new(Arc::clone(target), trusting, untrusting));
    for check in checks::all::<C>() {
        if !check.ids.iter().any(|id| filter.selects(id)) {
            continue;
        }
        for (id, outcome) in run_check(&ctx, &check) {
            if !filter.selects(id) {
                continue;
            }
            let entry = ReportEntry {
                scenario: id,
                backend: backend.clone(),
                outcome,
            };
            progress(&entry);
            report.entries.push(entry);
        }
    }
}

/// Runs one check on a thread of its own, so that its budget holds even if the client hangs
/// (the thread is then left to end at the client's own time limits). A panic or an overrun
/// fails every ID of the check; an ID the check did not report fails too.
fn run_check<C: SecureConnection + Clone>(ctx: &Arc<Ctx<C>>, check: &Check<C>) -> Findings {
    let (tx, rx) = mpsc::channel();
    let worker_ctx = Arc::clone(ctx);
    let run = check.run;
    let spawned = std::thread::Builder::new()
        .name(format!("check-{}", check.ids[0]))
        .spawn(move || {
            let _ = tx.send(run(&worker_ctx));
        });
    let result = match spawned {
        Ok(_) => rx.recv_timeout(check.budget).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => {
                format!("did not finish within {} s (hang)", check.budget.as_secs())
            }
            mpsc::RecvTimeoutError::Disconnected => "the check panicked".to_owned(),
        }),
        Err(e) => Err(format!("cannot start a thread: {e}")),
    };
    match result {
        Ok(findings) => check
            .ids
            .iter()
            .map(|id| {
                let outcome = findings
                    .iter()
                    .find(|(found, _)| found == id)
                    .map(|(_, o)| o.clone())
                    .unwrap_or_else(|| Outcome::Fail("the check reported no outcome".into()));
                (*id, outcome)
            })
            .collect(),
        Err(reason) => check
            .ids
            .iter()
            .map(|id| (*id, Outcome::Fail(reason.clone())))
            .collect(),
    }
}

/// The default time budget of one check.
const BUDGET: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_explicit_and_implicit_urls() {
        let t = RemoteTarget::parse_url("ftp://al%40ice:p%3Ass@127.0.0.1:2121/").unwrap();
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.user.as_str(),
                t.password.as_str()
            ),
            ("127.0.0.1", 2121, "al@ice", "p:ss")
        );
        assert!(!t.implicit);
        let t = RemoteTarget::parse_url("ftps://u:p@[::1]").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.implicit), ("::1", 990, true));
        let t = RemoteTarget::parse_url("ftp://u:p@example.org").unwrap();
        assert_eq!(t.port, 21);
        for bad in [
            "http://u:p@h:1",
            "ftp://h:21",
            "ftp://u@h:21",
            "ftp://u:p@h:x",
            "ftp://u:p@h:21/dir",
            "ftp://u:p%C3@h:21",
            "ftp://:p@h",
        ] {
            assert!(RemoteTarget::parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_tls_versions() {
        assert_eq!("1.2".parse::<TlsVersion>(), Ok(TlsVersion::Tls12));
        assert_eq!("TLSv1.3".parse::<TlsVersion>(), Ok(TlsVersion::Tls13));
        assert!("1.1".parse::<TlsVersion>().is_err());
    }
}
