//! # ftps: FTP over TLS with the TLS library of your choice
//!
//! An FTPS client (RFC 4217 explicit `AUTH TLS`, and implicit FTPS) that interoperates with the
//! servers people run: data connections resume the control connection's TLS session (vsftpd's
//! `require_ssl_reuse`, ProFTPD, FileZilla Server), every upload ends with close_notify, a
//! download is complete only when the TLS stream ended properly *and* the server said so, and
//! credentials never cross the network in the clear unless you say so in a method named
//! `danger_*`.
//!
//! ## Design overview
//!
//! ```text
//!   your program
//!       │  Client: login, retr/stor as Read/Write streams, list, mlsd, ...
//!   ┌───▼──────────────────────── ftps-core ─────────────────────────────┐
//!   │ client   (blocking I/O over std::net, every wait bounded)          │
//!   │ session  (RFC 4217/2228 state machine: AUTH, PBSZ, PROT, login)    │
//!   │ command  (typed commands; CR/LF/NUL refused)   reply (parser)      │
//!   └───┬────────────────────────────────────────────────────────────────┘
//!       │  SecureConnection / SecureStream (the only contract with TLS)
//!   ftps-rustls  ·  your own backend (checked by ftps-conformance)
//! ```
//!
//! ## Getting started
//!
//! ```no_run
//! use std::fs::File;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let connector = ftps::RustlsConnector::trusting(&std::fs::read("ca.der")?)?;
//! let mut client = ftps::ClientBuilder::new("ftp.example.com").connect(connector)?;
//! client.login("alice", "secret")?; // USER/PASS inside TLS, then PBSZ 0 and PROT P
//! let mut file = File::create("report.csv")?;
//! let outcome = client.download("report.csv", &mut file)?;
//! println!("{} bytes, server said {}", outcome.bytes(), outcome.reply());
//! client.quit()?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Choosing a backend
//!
//! | Feature | Backend crate | Default | Notes |
//! |---|---|---|---|
//! | `rustls` | `ftps-rustls` | yes | rustls 0.23 with the ring provider; session resumption on data connections, TLS 1.2 and 1.3 |
//!
//! With no backend feature the crate still builds: bring your own [`SecureConnection`] and run
//! the `ftps-conformance` suite against it.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub use ftps_core::*;

/// The rustls backend.
///
/// # Optional
///
/// This requires the `rustls` feature (on by default).
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use ftps_rustls::{rustls, RustlsConnector};

/// The backend the enabled features pick: rustls.
///
/// # Optional
///
/// This requires a backend feature.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub type DefaultBackend = RustlsConnector;

/// A client over the [`DefaultBackend`].
///
/// # Optional
///
/// This requires a backend feature.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub type DefaultClient = Client<DefaultBackend>;
