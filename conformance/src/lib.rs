//! The conformance suite of ftps: does a TLS backend keep the [`SecureConnection`] contract, and
//! does the client keep RFC 4217?
//!
//! * [`server`]: an in-process, scriptable FTPS server (rustls on the server side, certificates
//!   made with rcgen at run time, loopback only, every wait bounded) that records every byte the
//!   client sends before and after TLS.
//! * [`scenarios()`]: the scenarios of `SCENARIOS.md`, each with its stable ID, the
//!   capabilities it needs and a run function. The outcome is pass, fail with a reason, or
//!   unsupported, which never counts as a pass.
//! * [`conformance_main!`]: one line in a backend crate's `harness = false` test target runs
//!   every scenario against that backend, one test per scenario ID.
//! * the `ftps-conformance` binary: every scenario against every backend compiled in, as a
//!   matrix or as JSON lines.
//! * [`real`]: the harness that starts real servers (vsftpd, ...) through the project's scripts.
//! * [`client_hello`]: what a connector's first ClientHello offers (key shares), for a
//!   backend's own tests of choices no scenario judges.
//!
//! A third-party backend adds `ftps-conformance` as a dev-dependency, a `[[test]]` with
//! `harness = false`, and:
//!
//! ```ignore
//! ftps_conformance::conformance_main!(|pki| my_tls::Connector::trusting(pki.ca_der()).unwrap());
//! ```
//!
//! The [`guide`] explains the contract a backend keeps, what each capability promises, how to
//! run the suite and how to read its results. The scenario IDs are the stable contract; the
//! helpers' internals are not.
//!
//! [`SecureConnection`]: ftps_core::SecureConnection

pub mod backends;
pub mod checks;
pub mod client_hello;
pub mod fault;
pub mod guide;
pub mod harness;
mod macros;
pub mod real;
#[cfg(feature = "runner")]
pub mod remote;
pub mod report;
pub mod scenario;
mod scenarios;
pub mod server;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use harness::{Factory, Harness};
pub use report::{Filter, Report, ReportEntry};
pub use scenario::{Outcome, Scenario};
pub use scenarios::scenarios;
