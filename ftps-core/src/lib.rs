//! The sans-TLS core of [ftps](https://docs.rs/ftps): FTP replies and commands, the RFC 4217
//! security state machine, the [`SecureConnection`] contract with TLS backends, and the blocking
//! client. No TLS library is in this crate's dependency tree; a backend crate (`ftps-rustls`,
//! or your own) implements [`SecureConnection`].
//!
//! Most users want the `ftps` crate, which re-exports this one and picks a backend with Cargo
//! features.
//!
//! # Layers
//!
//! Everything below `client` is sans-I/O: no sockets, no clock. It can drive an async client
//! later as well as the blocking one today.
//!
//! ```text
//!          bytes in                                            bytes out
//!             │                                                    ▲
//!   ┌─────────▼──────────┐                               ┌─────────┴──────────┐
//!   │ reply::ReplyParser │  Reply   ┌────────────────┐   │ command::Command   │
//!   │ (bounded, sans-I/O)├─────────►│ session::Session├──►│ (CR/LF/NUL refused,│
//!   └────────────────────┘  Action  │ (RFC 4217/2228) │   │  PASS redacted)    │
//!                          ◄────────┤                 │   └────────────────────┘
//!                                   └───────▲─────────┘
//!                                           │ asks before every command, applies every reply
//!   ┌───────────────────────────────────────┴──────────────────────────────────────┐
//!   │ client: Client / ClientBuilder over std::net: timeouts, EPSV/PASV/EPRT/PORT, │
//!   │ Download (io::Read) / Upload (io::Write), the judgement of a transfer        │
//!   └───────────────────────────────────────┬──────────────────────────────────────┘
//!                                           │ tls::SecureConnection / SecureStream
//!                                   ftps-rustls · your backend
//! ```
//!
//! # Invariants
//!
//! * `USER`, `PASS` and `ACCT` are never sent in the clear when TLS is required; a refused
//!   `AUTH TLS` ends the connection unless the user opted in to plain FTP.
//! * Never one reply behind: every path reads the reply a command is owed, or marks the
//!   connection unusable so later calls fail fast without writing.
//! * A download that ended without close_notify *and* without a 2xx is an error; uploads end
//!   with close_notify.
//! * `PBSZ 0` precedes `PROT`; passive mode connects to the control peer's address by default.
//! * Every wait has a finite, settable time limit; bad server input ends in a typed error.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
pub mod command;
pub mod error;
pub mod listing;
pub mod passive;
pub mod path;
pub mod reply;
pub mod session;
pub mod tls;

/// Internals for the fuzz targets in `fuzz/` (Cargo feature `fuzzing`); not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::client::fuzzing::{judge_download_end, DataEnd};
}

pub use client::{
    Client, ClientBuilder, DataConnectionMode, Download, Mode, PassiveAddress, PasswordPrompt,
    Timeouts, TransferOutcome, Upload,
};
pub use command::{ProtectionLevel, TransferType};
pub use error::{Error, Phase, ProtocolError, Result};
pub use tls::{
    Capabilities, Capability, CloseState, SecureConnection, SecureStream, ServerName, SessionInfo,
    TlsError, TlsErrorKind,
};
