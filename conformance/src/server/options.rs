//! The knobs of one test server.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::time::Duration;

use super::pki::CertChoice;

/// The TLS versions the server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
    /// TLS 1.2 and TLS 1.3.
    Any,
}

/// Whether the server asks the client for a certificate (verified against the test CA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// No CertificateRequest.
    None,
    /// A certificate is requested; a client without one is still accepted.
    Request,
    /// A certificate is required; the handshake fails without one.
    Require,
}

/// Options of a [`TestServer`](super::TestServer).
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The TLS versions offered; default [`TlsVersion::Any`].
    pub tls_version: TlsVersion,
    /// NewSessionTicket messages sent after each TLS 1.3 control handshake; default 2.
    ///
    /// Tickets are stateful (a per-control-connection session cache, no ticketer), so each can
    /// be used only once.
    pub tls13_tickets: usize,
    /// NewSessionTicket messages sent after each TLS 1.3 data handshake; default 1 (what
    /// OpenSSL-based servers send after a resumed handshake, SESS-03).
    pub data_tls13_tickets: usize,
    /// With TLS 1.3, keep the control connection's tickets back until the server's next write
    /// (the first protected reply, as SESS-02 scripts it) instead of sending them right after
    /// the handshake; default true.
    pub defer_control_tickets: bool,
    /// The certificate of the control connection; default [`CertChoice::Valid`].
    pub cert: CertChoice,
    /// The certificate of the data connections; default [`CertChoice::Valid`].
    pub data_cert: CertChoice,
    /// Client certificates; default [`ClientAuth::None`].
    pub client_auth: ClientAuth,
    /// Data handshakes that do not resume this control connection's session are refused
    /// ([`DataConn::accept_tls`](super::DataConn::accept_tls) closes them and returns an
    /// error); default false.
    pub require_resumption: bool,
    /// The bound of every wait of the server (accepting the control and data connections,
    /// reading a command, a handshake, ...); default 5 s.
    pub accept_timeout: Duration,
    /// The address the control listener and the passive data listeners bind; default
    /// `127.0.0.1`.
    pub bind_ip: IpAddr,
    /// The ports the passive data listeners bind, the first free one in order; default `None`
    /// (a port the system picks). A [`FaultProxy`](crate::fault::FaultProxy) in front of the
    /// server listens on the same ports.
    pub passive_ports: Option<RangeInclusive<u16>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            tls_version: TlsVersion::Any,
            tls13_tickets: 2,
            data_tls13_tickets: 1,
            defer_control_tickets: true,
            cert: CertChoice::Valid,
            data_cert: CertChoice::Valid,
            client_auth: ClientAuth::None,
            require_resumption: false,
            accept_timeout: Duration::from_secs(5),
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            passive_ports: None,
        }
    }
}
