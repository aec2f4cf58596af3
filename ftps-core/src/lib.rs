//! The sans-TLS core of ftps.
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

pub use client::{
    Client, ClientBuilder, DataConnectionMode, Download, Mode, PassiveAddress, Timeouts,
    TransferOutcome, Upload,
};
pub use command::{ProtectionLevel, TransferType};
pub use error::{Error, Phase, ProtocolError, Result};
pub use tls::{
    Capabilities, Capability, CloseState, SecureConnection, SecureStream, ServerName, SessionInfo,
    TlsError, TlsErrorKind,
};
