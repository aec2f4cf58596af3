//! The errors of the blocking client.
//!
//! Every error can say whether the control connection is still usable
//! ([`Error::connection_usable`]): when it is, the next call gets its own reply; when it is not,
//! every later call fails fast with [`Error::Unusable`] and nothing more is written.

use std::io;

use crate::command::CommandError;
use crate::reply::{Reply, ReplyError};
use crate::tls::{TlsError, TlsErrorKind};

/// Which connection, or which step, an error happened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Opening the control TCP connection.
    Connect,
    /// Waiting for the server's greeting.
    Greeting,
    /// The TLS handshake on the control connection.
    ControlHandshake,
    /// Sending a command or reading a reply on the control connection.
    Control,
    /// Opening the data connection (passive connect or active accept).
    DataConnect,
    /// The TLS handshake on a data connection.
    DataHandshake,
    /// Moving bytes on a data connection.
    Data,
    /// Waiting for the end of a data connection after its final reply.
    DataEof,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connect",
            Phase::Greeting => "greeting",
            Phase::ControlHandshake => "control handshake",
            Phase::Control => "control connection",
            Phase::DataConnect => "data connect",
            Phase::DataHandshake => "data handshake",
            Phase::Data => "data connection",
            Phase::DataEof => "data end of stream",
        })
    }
}

/// A violation of the FTP command/reply sequence by the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The reply's class does not fit the command (a 1xx to NOOP, a 200 to AUTH TLS, ...).
    #[error("unexpected reply {} to {command}", reply.code())]
    UnexpectedReply {
        /// The command verb the reply answered.
        command: String,
        /// The reply.
        reply: Reply,
    },
    /// Cleartext bytes arrived together with, or right after, the reply that starts TLS.
    #[error(
        "unexpected data after {code}: {len} cleartext bytes arrived before the tls handshake"
    )]
    DataBeforeHandshake {
        /// The reply code that starts TLS (234), or 0 in implicit mode.
        code: u16,
        /// How many bytes were waiting.
        len: usize,
    },
    /// A reply arrived that no command asked for.
    #[error("unsolicited reply {} while idle", reply.code())]
    UnsolicitedReply {
        /// The reply.
        reply: Reply,
    },
    /// A 227 or 229 reply, or another structured reply, did not parse.
    #[error("malformed {what} reply: {text}")]
    BadReplyText {
        /// What was being parsed (`"227"`, `"229"`, `"213"`, ...).
        what: &'static str,
        /// The reply text.
        text: String,
    },
    /// Too many preliminary (1xx) replies to one command.
    #[error("too many preliminary replies to one command")]
    TooManyPreliminaryReplies,
}

/// An error of the ftps client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket error.
    #[error("i/o error on the {phase}")]
    Io {
        /// Where it happened.
        phase: Phase,
        /// Whether the control connection can still be used.
        usable: bool,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// A wait ran past its time limit.
    #[error("timed out waiting for the {phase}")]
    Timeout {
        /// What was being waited for.
        phase: Phase,
        /// Whether the control connection can still be used.
        usable: bool,
    },
    /// A TLS failure: handshake, certificate, alert, truncation.
    #[error("tls failure on the {phase}{}", reply.as_ref().map(|r| format!(" (server replied {r})")).unwrap_or_default())]
    Tls {
        /// Where it happened.
        phase: Phase,
        /// The server's final reply, when one was read (data connections).
        reply: Option<Reply>,
        /// The backend's error.
        #[source]
        source: TlsError,
    },
    /// `AUTH TLS` was refused (or answered with something other than 234).
    #[error("the server refused tls: {reply}")]
    TlsUnavailable {
        /// The server's reply to AUTH.
        reply: Reply,
    },
    /// A negative (4xx or 5xx) reply.
    #[error("the server replied {reply}")]
    Reply {
        /// The reply.
        reply: Reply,
        /// The command verb it answered.
        command: String,
    },
    /// The server asked for a password during login (331, or 336 with a challenge) and none
    /// was given ([`Client::login_with_certificate`](crate::Client::login_with_certificate), or
    /// a prompt callback that returned `None`); no `PASS` was sent.
    #[error("the server requires a password: {reply}")]
    PasswordRequired {
        /// The 331 or 336 reply to USER.
        reply: Reply,
    },
    /// The server sent 421 and is closing the connection.
    #[error("the server is closing the connection: {reply}")]
    ServiceClosing {
        /// The 421 reply.
        reply: Reply,
    },
    /// The server closed the connection.
    #[error("the server closed the {phase}")]
    ConnectionClosed {
        /// Where it happened.
        phase: Phase,
        /// Bytes of an incomplete reply line that had arrived, if any.
        partial: Vec<u8>,
    },
    /// A reply that does not parse, or that breaks the limits.
    #[error("bad reply from the server")]
    BadReply(#[from] ReplyError),
    /// The server broke the command/reply sequence.
    #[error("protocol violation")]
    Protocol(#[from] ProtocolError),
    /// A transfer ended early: no clean TLS end and no positive final reply.
    #[error("transfer truncated after {bytes} bytes{}", reply.as_ref().map(|r| format!(" (server replied {r})")).unwrap_or_default())]
    Truncated {
        /// Bytes moved before the end.
        bytes: u64,
        /// The final reply, when one was read.
        reply: Option<Reply>,
        /// Whether the control connection can still be used.
        usable: bool,
    },
    /// The server refused the data protection level the client asked for (PROT).
    #[error("the server refused data protection: {reply}")]
    DataProtectionRefused {
        /// The reply to PROT.
        reply: Reply,
    },
    /// The server refused a transfer at the current data protection level (521, 522, 534).
    #[error("the server requires another data protection level: {reply}")]
    DataProtectionRequired {
        /// The reply to the transfer command.
        reply: Reply,
    },
    /// The request is not allowed in the current state; nothing was sent.
    #[error("not allowed now: {0}")]
    InvalidState(String),
    /// An argument was refused; nothing was sent.
    #[error("invalid argument")]
    InvalidArgument(#[from] CommandError),
    /// The server or the backend lacks a feature.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The transfer was aborted (ABOR) before it completed.
    #[error("transfer aborted{}", reply.as_ref().map(|r| format!(" (server replied {r})")).unwrap_or_default())]
    Aborted {
        /// The transfer's final reply (usually 426), when one was read.
        reply: Option<Reply>,
    },
    /// An earlier error left the connection unusable; nothing was sent.
    #[error("the connection is unusable after an earlier error")]
    Unusable,
    /// The client's settings are inconsistent; nothing was connected.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}

impl Error {
    /// Whether the control connection can still be used after this error: when `true`, the
    /// next command gets its own reply; when `false`, reconnect.
    pub fn connection_usable(&self) -> bool {
        match self {
            Error::Io { usable, .. }
            | Error::Timeout { usable, .. }
            | Error::Truncated { usable, .. } => *usable,
            Error::Tls { phase, reply, .. } => {
                matches!(
                    phase,
                    Phase::DataConnect | Phase::DataHandshake | Phase::Data
                ) && reply.is_some()
            }
            Error::Reply { .. }
            | Error::PasswordRequired { .. }
            | Error::DataProtectionRefused { .. }
            | Error::DataProtectionRequired { .. }
            | Error::InvalidState(_)
            | Error::InvalidArgument(_)
            | Error::Unsupported(_)
            | Error::Aborted { .. } => true,
            Error::Protocol(ProtocolError::BadReplyText { .. }) => true,
            Error::TlsUnavailable { .. }
            | Error::ServiceClosing { .. }
            | Error::ConnectionClosed { .. }
            | Error::BadReply(_)
            | Error::Protocol(_)
            | Error::Unusable
            | Error::InvalidConfig(_) => false,
        }
    }

    /// Whether a time limit ran out.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Tls { source, .. } => source.kind() == TlsErrorKind::Timeout,
            _ => false,
        }
    }

    /// Whether the TLS layer failed.
    pub fn is_tls(&self) -> bool {
        matches!(self, Error::Tls { .. })
    }

    /// The server reply this error carries, if any.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Error::TlsUnavailable { reply }
            | Error::Reply { reply, .. }
            | Error::PasswordRequired { reply }
            | Error::ServiceClosing { reply }
            | Error::DataProtectionRefused { reply }
            | Error::DataProtectionRequired { reply } => Some(reply),
            Error::Tls { reply, .. }
            | Error::Truncated { reply, .. }
            | Error::Aborted { reply } => reply.as_ref(),
            Error::Protocol(ProtocolError::UnexpectedReply { reply, .. })
            | Error::Protocol(ProtocolError::UnsolicitedReply { reply }) => Some(reply),
            _ => None,
        }
    }

    /// The reply code this error carries, if any.
    pub fn reply_code(&self) -> Option<u16> {
        self.reply().map(Reply::code)
    }
}

/// The result type of the client.
pub type Result<T, E = Error> = std::result::Result<T, E>;
