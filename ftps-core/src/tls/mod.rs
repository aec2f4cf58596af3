//! The contract between the core and a TLS library: [`SecureConnection`] and [`SecureStream`].
//!
//! A backend crate (`ftps-rustls`, `ftps-openssl`, `ftps-native`, or your own) implements these two
//! traits and nothing about FTP. The core decides *when* to secure a connection, sets every time
//! limit on the [`TcpStream`] before it hands it over, and combines the TLS close state with the
//! server's replies to judge a transfer. The conformance suite (`ftps-conformance`) checks that a
//! backend keeps this contract.
//!
//! Close and EOF semantics are those of rustls for every backend: after the peer's close_notify,
//! [`Read::read`] returns `Ok(0)` and [`SecureStream::close_state`] is [`CloseState::CleanClose`];
//! a TCP EOF without close_notify makes `read` fail with [`io::ErrorKind::UnexpectedEof`] and
//! `close_state` become [`CloseState::Truncated`].

pub mod framing;

use std::error::Error as StdError;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};

/// A TLS client factory for the control connection and the data connections of one FTP session.
///
/// Implementations hold the TLS library's configuration (trust roots, versions, client
/// certificate). They must verify the server's certificate chain and name unless the user built
/// them with an explicitly named "danger" option.
pub trait SecureConnection: Send + Sync + 'static {
    /// The TLS stream this backend produces.
    type Stream: SecureStream;

    /// A short, stable name for this backend, such as `"rustls"`; used in reports.
    fn name(&self) -> &'static str;

    /// What this backend can do. Declared, never inferred: a backend that cannot keep a promise
    /// in some configuration says `false`.
    fn capabilities(&self) -> Capabilities;

    /// Performs the TLS handshake as client on the control connection.
    ///
    /// `server` is the name the user connected to: send SNI for DNS names only, and verify the
    /// certificate against it.
    fn secure_control(&self, tcp: TcpStream, server: &ServerName)
        -> Result<Self::Stream, TlsError>;

    /// Performs the TLS handshake as client on a data connection, offering to resume `control`'s
    /// own TLS session (never another control connection's) where the backend can.
    ///
    /// The certificate is verified against the same `server` name as the control connection.
    fn secure_data(
        &self,
        tcp: TcpStream,
        server: &ServerName,
        control: &Self::Stream,
    ) -> Result<Self::Stream, TlsError>;
}

/// A client TLS stream over a [`TcpStream`], as produced by a [`SecureConnection`].
pub trait SecureStream: Read + Write + Send + 'static {
    /// Queues and flushes a close_notify alert. Further writes fail; reads still work.
    fn send_close_notify(&mut self) -> io::Result<()>;

    /// Whether the peer ended the TLS stream, and how.
    fn close_state(&self) -> CloseState;

    /// After a close_notify exchange, hands back the TCP stream (a handle to the same socket)
    /// together with any bytes that were read from the socket past the peer's close_notify
    /// (they belong to the cleartext protocol that follows, as after `CCC`).
    ///
    /// The stream itself stays alive as the control session that later data connections resume
    /// through [`SecureConnection::secure_data`] (RFC 4217 §6: data stays protected after
    /// `CCC`); it must never touch the socket again, and a second unwrap fails.
    ///
    /// Backends that cannot do this without losing bytes declare
    /// [`Capability::Unwrap`] as unsupported and return a [`TlsErrorKind::Unsupported`] error.
    fn unwrap_tcp(&mut self) -> Result<(TcpStream, Vec<u8>), TlsError>;

    /// A description of the negotiated session.
    fn session_info(&self) -> SessionInfo;

    /// The underlying TCP stream, so the core can set time limits and shut down halves.
    fn tcp(&self) -> &TcpStream;
}

/// How the peer ended (or has not yet ended) a TLS stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseState {
    /// The peer has not closed its side.
    Open,
    /// The peer sent close_notify: everything it sent has arrived.
    CleanClose,
    /// The TCP connection ended without close_notify: data may be missing.
    Truncated,
}

/// The server name a connection is made to, as the user gave it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerName {
    /// A DNS name: sent as SNI and matched against DNS subject alternative names.
    Dns(String),
    /// An IP literal: no SNI is sent; matched against IP subject alternative names.
    Ip(IpAddr),
}

impl ServerName {
    /// Classifies a host string as an IP literal (with or without IPv6 brackets) or a DNS name.
    pub fn from_host(host: &str) -> Self {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => ServerName::Ip(ip),
            Err(_) => ServerName::Dns(host.to_owned()),
        }
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerName::Dns(name) => f.write_str(name),
            ServerName::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// A capability a backend may or may not have; the conformance suite reports scenarios that need
/// a missing one as unsupported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// Data connections resume the control connection's own TLS session.
    Resumption,
    /// After a close_notify exchange the TCP stream is handed back without losing a byte.
    Unwrap,
    /// A client certificate can be presented.
    ClientCert,
    /// Protocol version, cipher suite and resumption are reported.
    Describe,
    /// TLS 1.3 can be negotiated.
    Tls13,
    /// A TLS 1.3 session can be offered on more than one data connection, so data connections
    /// keep resuming with a server that issues no new ticket on some of them (ProFTPD sends
    /// none on an upload's data connection). Without it, each ticket serves one data
    /// connection (rustls: tickets are single-use).
    Tls13SessionReuse,
}

impl Capability {
    /// Every capability, in a stable order.
    pub const ALL: [Capability; 6] = [
        Capability::Resumption,
        Capability::Unwrap,
        Capability::ClientCert,
        Capability::Describe,
        Capability::Tls13,
        Capability::Tls13SessionReuse,
    ];

    /// The short name used in SCENARIOS.md and in reports (`resumption`, `unwrap`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Resumption => "resumption",
            Capability::Unwrap => "unwrap",
            Capability::ClientCert => "client-cert",
            Capability::Describe => "describe",
            Capability::Tls13 => "tls13",
            Capability::Tls13SessionReuse => "tls13-session-reuse",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of [`Capability`] values a backend declares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    bits: u8,
}

impl Capabilities {
    /// No capability at all.
    pub const fn none() -> Self {
        Capabilities { bits: 0 }
    }

    /// Every capability: what a backend that keeps the whole contract declares.
    pub const fn all() -> Self {
        Capabilities::none()
            .with(Capability::Resumption)
            .with(Capability::Unwrap)
            .with(Capability::ClientCert)
            .with(Capability::Describe)
            .with(Capability::Tls13)
            .with(Capability::Tls13SessionReuse)
    }

    /// This set plus `capability`.
    #[must_use]
    pub const fn with(self, capability: Capability) -> Self {
        Capabilities {
            bits: self.bits | Self::bit(capability),
        }
    }

    /// This set without `capability`.
    #[must_use]
    pub const fn without(self, capability: Capability) -> Self {
        Capabilities {
            bits: self.bits & !Self::bit(capability),
        }
    }

    /// Whether `capability` is in the set.
    pub const fn supports(self, capability: Capability) -> bool {
        self.bits & Self::bit(capability) != 0
    }

    const fn bit(capability: Capability) -> u8 {
        match capability {
            Capability::Resumption => 1,
            Capability::Unwrap => 2,
            Capability::ClientCert => 4,
            Capability::Describe => 8,
            Capability::Tls13 => 16,
            Capability::Tls13SessionReuse => 32,
        }
    }
}

/// A description of one negotiated TLS session. Unknown items are `None`, never guessed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    protocol_version: Option<String>,
    cipher_suite: Option<String>,
    resumed: Option<bool>,
    peer_certificate: Option<Vec<u8>>,
}

impl SessionInfo {
    /// An empty description: every item unknown.
    pub fn new() -> Self {
        SessionInfo::default()
    }

    /// Sets the protocol version, such as `"TLSv1.3"`.
    #[must_use]
    pub fn with_protocol_version(mut self, version: impl Into<String>) -> Self {
        self.protocol_version = Some(version.into());
        self
    }

    /// Sets the cipher suite name, such as `"TLS13_AES_256_GCM_SHA384"`.
    #[must_use]
    pub fn with_cipher_suite(mut self, suite: impl Into<String>) -> Self {
        self.cipher_suite = Some(suite.into());
        self
    }

    /// Sets whether the handshake resumed an earlier session.
    #[must_use]
    pub fn with_resumed(mut self, resumed: bool) -> Self {
        self.resumed = Some(resumed);
        self
    }

    /// Sets the DER encoding of the peer's end-entity certificate.
    #[must_use]
    pub fn with_peer_certificate(mut self, der: Vec<u8>) -> Self {
        self.peer_certificate = Some(der);
        self
    }

    /// The negotiated protocol version, such as `"TLSv1.2"` or `"TLSv1.3"`.
    pub fn protocol_version(&self) -> Option<&str> {
        self.protocol_version.as_deref()
    }

    /// The negotiated cipher suite.
    pub fn cipher_suite(&self) -> Option<&str> {
        self.cipher_suite.as_deref()
    }

    /// Whether the handshake resumed an earlier session.
    pub fn resumed(&self) -> Option<bool> {
        self.resumed
    }

    /// The DER encoding of the peer's end-entity certificate.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.peer_certificate.as_deref()
    }
}

/// What went wrong in the TLS layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The certificate chain did not verify (unknown issuer, expired, self-signed, ...).
    CertificateInvalid,
    /// The certificate is valid but not for the server name.
    NameMismatch,
    /// The handshake failed for another reason (no common version or cipher, bad message, ...).
    HandshakeFailed,
    /// The peer sent a fatal alert.
    AlertReceived,
    /// The server requires a client certificate and none was presented (its
    /// `certificate_required` alert; CERT-03). With TLS 1.3 the server sends it after the
    /// client's handshake has ended, so it surfaces on the first read of the control connection.
    ClientCertificateRequired,
    /// The server refused a data handshake that did not resume the control session.
    ResumptionRefused,
    /// The peer sent something that is not TLS where TLS was expected.
    NotTls,
    /// The TCP connection ended in the middle of the TLS stream or handshake.
    UnexpectedEof,
    /// A wait ran past the time limit the core set on the socket.
    Timeout,
    /// The backend cannot do what was asked.
    Unsupported,
    /// The handshake completed but the session failed a check the user configured.
    PostHandshakePolicy,
    /// A socket error.
    Io,
    /// Anything else.
    Other,
}

/// An error from a TLS backend: a kind the core can act on, a message, and the library's own
/// error as the source.
#[derive(Debug)]
pub struct TlsError {
    kind: TlsErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl TlsError {
    /// A new error of `kind` with a short lowercase `message`.
    pub fn new(kind: TlsErrorKind, message: impl Into<String>) -> Self {
        TlsError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the TLS library's own error as the source.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Maps a socket error met during a TLS operation to the matching kind
    /// (time-outs, EOF, other I/O).
    pub fn from_io(error: io::Error) -> Self {
        let kind = match error.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TlsErrorKind::Timeout,
            io::ErrorKind::UnexpectedEof => TlsErrorKind::UnexpectedEof,
            _ => TlsErrorKind::Io,
        };
        let message = error.to_string();
        TlsError::new(kind, message).with_source(error)
    }

    /// What went wrong.
    pub fn kind(&self) -> TlsErrorKind {
        self.kind
    }

    /// The message, without the source's text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for TlsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_classifies_ip_literals() {
        assert_eq!(
            ServerName::from_host("127.0.0.1"),
            ServerName::Ip("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            ServerName::from_host("[::1]"),
            ServerName::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            ServerName::from_host("localhost"),
            ServerName::Dns("localhost".into())
        );
    }

    #[test]
    fn capabilities_are_a_set() {
        let caps = Capabilities::none()
            .with(Capability::Resumption)
            .with(Capability::Tls13);
        assert!(caps.supports(Capability::Resumption));
        assert!(caps.supports(Capability::Tls13));
        assert!(!caps.supports(Capability::Unwrap));
    }

    #[test]
    fn io_errors_map_to_kinds() {
        let e = TlsError::from_io(io::Error::from(io::ErrorKind::WouldBlock));
        assert_eq!(e.kind(), TlsErrorKind::Timeout);
        let e = TlsError::from_io(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert_eq!(e.kind(), TlsErrorKind::UnexpectedEof);
    }
}
