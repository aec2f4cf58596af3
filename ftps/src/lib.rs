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
//! | `rustls` | `ftps-rustls` | yes | rustls 0.23 with the ring provider (no cmake, no system library). Session resumption on data connections, TLS 1.2 and 1.3. |
//! | `openssl` | `ftps-openssl` | no | The system's OpenSSL (1.1.1 or newer) through the `openssl` crate; needs `libssl-dev` and `pkg-config` to build. Session resumption, TLS 1.2 and 1.3. |
//! | `native-tls` | `ftps-native` | no | The platform's TLS library. **No session resumption**: servers that require TLS session reuse on data connections (vsftpd's default `require_ssl_reuse=YES`, ProFTPD's default, FileZilla Server) refuse its transfers with `522`, reported as a `ResumptionRefused` TLS error. |
//!
//! Features are additive: with several on, each backend is re-exported, and
//! [`DefaultBackend`] is the first of rustls, openssl, native-tls that is on. Any backend can
//! be chosen explicitly by passing its connector to [`ClientBuilder::connect`]. With no backend
//! feature the crate still builds: bring your own [`SecureConnection`] and check it with the
//! `ftps-conformance` suite.
//!
//! ```toml
//! [dependencies]
//! ftps = { version = "0.1", default-features = false, features = ["openssl"] }
//! ```

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

/// The OpenSSL backend.
///
/// # Optional
///
/// This requires the `openssl` feature.
#[cfg(feature = "openssl")]
#[cfg_attr(docsrs, doc(cfg(feature = "openssl")))]
pub use ftps_openssl::{openssl, OpenSslConnector, OpenSslConnectorBuilder};

/// The native-tls backend (no session resumption).
///
/// # Optional
///
/// This requires the `native-tls` feature.
#[cfg(feature = "native-tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "native-tls")))]
pub use ftps_native::{native_tls, NativeTlsConnector};

/// The backend the enabled features pick: the first of rustls, openssl, native-tls.
///
/// # Optional
///
/// This requires a backend feature.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub type DefaultBackend = RustlsConnector;

/// The backend the enabled features pick: the first of rustls, openssl, native-tls.
///
/// # Optional
///
/// This requires a backend feature.
#[cfg(all(feature = "openssl", not(feature = "rustls")))]
#[cfg_attr(docsrs, doc(cfg(feature = "openssl")))]
pub type DefaultBackend = OpenSslConnector;

/// The backend the enabled features pick: the first of rustls, openssl, native-tls.
///
/// # Optional
///
/// This requires a backend feature.
#[cfg(all(
    feature = "native-tls",
    not(any(feature = "rustls", feature = "openssl"))
))]
#[cfg_attr(docsrs, doc(cfg(feature = "native-tls")))]
pub type DefaultBackend = NativeTlsConnector;

/// A client over the [`DefaultBackend`].
///
/// # Optional
///
/// This requires a backend feature.
#[cfg(any(feature = "rustls", feature = "openssl", feature = "native-tls"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "rustls", feature = "openssl", feature = "native-tls")))
)]
pub type DefaultClient = Client<DefaultBackend>;
