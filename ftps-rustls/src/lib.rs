//! The [rustls] backend for ftps: an implementation of [`SecureConnection`].
//!
//! Supports every capability of the contract: data connections resume the session of *their own*
//! control connection (TLS 1.2 session IDs and tickets, TLS 1.3 single-use tickets), the TCP
//! stream is handed back after a close_notify exchange without losing a byte (for `CCC`), the
//! session is described, TLS 1.3 is negotiated where the configuration allows it, and a client
//! certificate is presented when the [`rustls::ClientConfig`] has one. It does not support
//! TLS 1.0/1.1, which rustls does not implement.
//!
//! TLS 1.3 tickets are single-use in rustls (each one is offered once and cannot be copied), so
//! each resumed data connection needs a ticket the server issued earlier in the same control
//! session. Servers that issue none on some data connections run out: ProFTPD 1.3.8 (OpenSSL 3)
//! sends two after the control handshake, one on each resumed data connection it writes to
//! (`LIST`, `RETR`) and none on one it only reads from (`STOR`), so the third upload in
//! a row gets a full handshake, which ProFTPD refuses (`425`) while the control connection is
//! protected. Such a miss is logged at debug level. Use TLS 1.2 with such servers (sessions
//! are reusable there) or a backend that re-offers a TLS 1.3 session.
//!
//! ```no_run
//! use ftps_rustls::RustlsConnector;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ca_der = std::fs::read("ca.der")?;
//! // Trust exactly this CA, with rustls' ring provider and TLS 1.2 + 1.3.
//! let connector = RustlsConnector::trusting(&ca_der)?;
//! // Or bring your own configuration: `RustlsConnector::new(Arc::new(client_config))`.
//! // Then hand `connector` to the ftps client builder as its `SecureConnection`.
//! # let _ = connector;
//! # Ok(())
//! # }
//! ```

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ftps_core::tls::framing::{CloseTracker, ReadAhead, RecordFraming};
use ftps_core::{
    Capabilities, Capability, CloseState, SecureConnection, SecureStream, ServerName, SessionInfo,
    TlsError, TlsErrorKind,
};
pub use rustls;
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls12ClientSessionValue,
    Tls13ClientSessionValue,
};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{self, CertificateDer, PrivateKeyDer};
use rustls::{
    ClientConfig, ClientConnection, HandshakeKind, NamedGroup, ProtocolVersion, RootCertStore,
};

/// How many entries the per-control-connection session store holds: one server name with up to
/// eight TLS 1.3 tickets (see [`ClientSessionMemoryCache::new`]).
const STORE_SIZE: usize = 8;

/// A [`SecureConnection`] built on a [`rustls::ClientConfig`].
///
/// Every control connection gets its own clone of the configuration with a fresh session store,
/// and its data connections use that clone, so they offer this control session's ticket or
/// session ID and never one obtained by another control connection.
#[derive(Clone, Debug)]
pub struct RustlsConnector {
    config: Arc<ClientConfig>,
}

impl RustlsConnector {
    /// A connector using `config` as given: its roots, versions, cipher suites and client
    /// certificate. Its `resumption` setting is replaced per control connection.
    pub fn new(config: Arc<ClientConfig>) -> Self {
        RustlsConnector { config }
    }

    /// A connector that trusts exactly the CA certificate `ca_der` (DER), with the ring
    /// provider ([`crypto_provider`]: P-256 first), TLS 1.2 and 1.3, and no client certificate.
    pub fn trusting(ca_der: &[u8]) -> Result<Self, TlsError> {
        let config = trusting_builder(ca_der)?.with_no_client_auth();
        Ok(RustlsConnector::new(Arc::new(config)))
    }

    /// Like [`RustlsConnector::trusting`], and presents a client certificate when the server
    /// asks for one: `cert_pem` holds the certificate, then any intermediates (PEM), and
    /// `key_pem` its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let connector = ftps_rustls::RustlsConnector::trusting_with_client_cert(
    ///     &std::fs::read("ca.der")?,
    ///     &std::fs::read("client.pem")?,
    ///     &std::fs::read("client.key")?,
    /// )?;
    /// # let _ = connector;
    /// # Ok(())
    /// # }
    /// ```
    pub fn trusting_with_client_cert(
        ca_der: &[u8],
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unusable("the client certificate is not usable", e))?;
        if chain.is_empty() {
            return Err(TlsError::new(
                TlsErrorKind::Other,
                "no certificate in the client certificate pem",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| unusable("the client private key is not usable", e))?;
        let config = trusting_builder(ca_der)?
            .with_client_auth_cert(chain, key)
            .map_err(map_error)?;
        Ok(RustlsConnector::new(Arc::new(config)))
    }

    /// The configuration this connector starts from.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

/// rustls' ring provider with its key-exchange groups in the order the convenience constructors
/// offer them: P-256, X25519, P-384.
///
/// rustls sends a TLS 1.3 key share for its first group only, until its session store knows the
/// group the server chose (the `kx_hint` the data connections of a control connection then
/// use). Servers that accept P-256 alone (vsftpd sets that one curve) answer any other share
/// with a HelloRetryRequest: one more round trip and key generation at every login. Servers
/// that prefer X25519 accept a P-256 share as it is. For your own configuration:
///
/// ```
/// use std::sync::Arc;
///
/// let builder = rustls::ClientConfig::builder_with_provider(Arc::new(ftps_rustls::crypto_provider()));
/// # let _ = builder;
/// ```
pub fn crypto_provider() -> CryptoProvider {
    CryptoProvider {
        kx_groups: vec![
            ring::kx_group::SECP256R1,
            ring::kx_group::X25519,
            ring::kx_group::SECP384R1,
        ],
        ..ring::default_provider()
    }
}

/// A configuration builder with [`crypto_provider`], TLS 1.2 and 1.3, trusting exactly `ca_der`.
fn trusting_builder(
    ca_der: &[u8],
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(|e| unusable("the ca certificate is not usable", e))?;
    Ok(
        ClientConfig::builder_with_provider(Arc::new(crypto_provider()))
            .with_safe_default_protocol_versions()
            .map_err(map_error)?
            .with_root_certificates(roots),
    )
}

/// A configuration input that cannot be used: `message`, with the parser's error as source.
fn unusable(message: &str, error: impl std::error::Error + Send + Sync + 'static) -> TlsError {
    TlsError::new(TlsErrorKind::Other, message).with_source(error)
}

impl From<ClientConfig> for RustlsConnector {
    fn from(config: ClientConfig) -> Self {
        RustlsConnector::new(Arc::new(config))
    }
}

impl From<Arc<ClientConfig>> for RustlsConnector {
    fn from(config: Arc<ClientConfig>) -> Self {
        RustlsConnector::new(config)
    }
}

impl SecureConnection for RustlsConnector {
    type Stream = RustlsStream;

    fn name(&self) -> &'static str {
        "rustls"
    }

    /// Everything but [`Capability::Tls13SessionReuse`]: rustls offers each TLS 1.3 ticket once.
    fn capabilities(&self) -> Capabilities {
        Capabilities::all().without(Capability::Tls13SessionReuse)
    }

    fn secure_control(
        &self,
        tcp: TcpStream,
        server: &ServerName,
    ) -> Result<RustlsStream, TlsError> {
        let mut config = ClientConfig::clone(&self.config);
        config.resumption = Resumption::store(Arc::new(SessionStore::default()));
        RustlsStream::connect(
            Arc::new(config),
            tcp,
            server,
            Input::RecordByRecord(RecordFraming::default()),
        )
    }

    fn secure_data(
        &self,
        tcp: TcpStream,
        server: &ServerName,
        control: &RustlsStream,
    ) -> Result<RustlsStream, TlsError> {
        // The control stream's own configuration: its store offers this session's ticket or
        // session ID, and receives the tickets this data connection brings.
        RustlsStream::connect(
            Arc::clone(&control.config),
            tcp,
            server,
            Input::Greedy(ReadAhead::default()),
        )
    }
}

/// The session store of one control connection and its data connections: rustls' memory
/// cache, plus counts of the TLS 1.3 tickets received and used, to log why a data connection
/// could not offer one.
#[derive(Debug)]
struct SessionStore {
    cache: ClientSessionMemoryCache,
    tickets_received: AtomicUsize,
    tickets_used: AtomicUsize,
}

impl Default for SessionStore {
    fn default() -> Self {
        SessionStore {
            cache: ClientSessionMemoryCache::new(STORE_SIZE),
            tickets_received: AtomicUsize::new(0),
            tickets_used: AtomicUsize::new(0),
        }
    }
}

impl ClientSessionStore for SessionStore {
    fn set_kx_hint(&self, server: pki_types::ServerName<'static>, group: NamedGroup) {
        self.cache.set_kx_hint(server, group);
    }

    fn kx_hint(&self, server: &pki_types::ServerName<'_>) -> Option<NamedGroup> {
        self.cache.kx_hint(server)
    }

    fn set_tls12_session(
        &self,
        server: pki_types::ServerName<'static>,
        value: Tls12ClientSessionValue,
    ) {
        self.cache.set_tls12_session(server, value);
    }

    fn tls12_session(&self, server: &pki_types::ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.cache.tls12_session(server)
    }

    fn remove_tls12_session(&self, server: &pki_types::ServerName<'static>) {
        self.cache.remove_tls12_session(server);
    }

    fn insert_tls13_ticket(
        &self,
        server: pki_types::ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.tickets_received.fetch_add(1, Ordering::Relaxed);
        self.cache.insert_tls13_ticket(server, value);
    }

    fn take_tls13_ticket(
        &self,
        server: &pki_types::ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        let ticket = self.cache.take_tls13_ticket(server);
        let received = self.tickets_received.load(Ordering::Relaxed);
        if ticket.is_some() {
            self.tickets_used.fetch_add(1, Ordering::Relaxed);
        } else if received > 0 {
            log::debug!(
                "no unused tls 1.3 ticket left for this control session ({received} received, \
                 {} used, each usable once): this handshake cannot resume",
                self.tickets_used.load(Ordering::Relaxed)
            );
        }
        ticket
    }
}

/// A TLS client stream over a [`TcpStream`], produced by [`RustlsConnector`].
///
/// It reads from the socket at most up to the end of the TLS record being received, so after
/// the peer's close_notify no byte of what follows (the cleartext after `CCC`) has been taken
/// from the socket, and [`SecureStream::unwrap_tcp`] loses nothing. The cost is two reads per
/// record instead of one. TLS 1.3 tickets that arrive on any stream of a control session go into
/// that session's store when the stream is read.
#[derive(Debug)]
pub struct RustlsStream {
    conn: ClientConnection,
    tcp: TcpStream,
    /// The per-control-connection configuration, shared with its data connections.
    config: Arc<ClientConfig>,
    input: Input,
    close: CloseTracker,
}

/// How TLS bytes are taken off the socket.
#[derive(Debug)]
enum Input {
    /// At most up to the end of the current record (control connections: nothing after the
    /// server's close_notify is taken, so `CCC` can hand the socket back intact).
    RecordByRecord(RecordFraming),
    /// As much as the socket has, up to the buffer's size, in one read (data connections,
    /// which are never unwrapped): one system call per several records instead of several
    /// per record (rustls itself takes at most 4 KiB per read).
    Greedy(ReadAhead),
}

impl RustlsStream {
    fn connect(
        config: Arc<ClientConfig>,
        tcp: TcpStream,
        server: &ServerName,
        input: Input,
    ) -> Result<Self, TlsError> {
        let conn =
            ClientConnection::new(Arc::clone(&config), rustls_name(server)?).map_err(map_error)?;
        let mut stream = RustlsStream {
            conn,
            tcp,
            config,
            input,
            close: CloseTracker::default(),
        };
        stream.handshake()?;
        log::debug!(
            "tls handshake with {server} done: {:?}, {:?}",
            stream.conn.protocol_version(),
            stream.conn.handshake_kind()
        );
        Ok(stream)
    }

    fn handshake(&mut self) -> Result<(), TlsError> {
        while self.conn.is_handshaking() {
            self.write_pending().map_err(TlsError::from_io)?;
            if !self.conn.is_handshaking() {
                break;
            }
            if !self.conn.wants_read() {
                return Err(TlsError::new(TlsErrorKind::Other, "tls handshake stalled"));
            }
            if self.read_tls().map_err(TlsError::from_io)? == 0 {
                return Err(TlsError::new(
                    TlsErrorKind::UnexpectedEof,
                    "connection closed during the tls handshake",
                ));
            }
            self.process().map_err(map_error)?;
        }
        self.write_pending().map_err(TlsError::from_io)
    }

    /// Feeds rustls from the socket: at most the rest of the current record on a control
    /// connection; from the read-ahead buffer, refilled by one large read when empty, on a
    /// data connection.
    fn read_tls(&mut self) -> io::Result<usize> {
        match &mut self.input {
            Input::RecordByRecord(framing) => self.conn.read_tls(&mut framing.reader(&self.tcp)),
            Input::Greedy(ahead) => self.conn.read_tls(&mut ahead.reader(&self.tcp)),
        }
    }

    /// Processes buffered records; on error, tries to send the alert rustls queued.
    fn process(&mut self) -> Result<(), rustls::Error> {
        if let Err(e) = self.conn.process_new_packets() {
            let _ignored = self.write_pending();
            return Err(e);
        }
        Ok(())
    }

    /// Writes every queued TLS byte to the socket.
    fn write_pending(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.tcp)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }
}

impl Read for RustlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return self.close.observe(buf.len(), result),
            }
            // rustls needs more TLS data; a WouldBlock from the socket itself is a time-out.
            self.read_tls()?;
            self.process()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, map_error(e)))?;
            self.write_pending()?;
        }
    }
}

impl Write for RustlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.close.check_writable()?;
        let n = self.conn.writer().write(buf)?;
        self.write_pending()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.write_pending()
    }
}

impl SecureStream for RustlsStream {
    fn send_close_notify(&mut self) -> io::Result<()> {
        if !self.close.mark_sent() {
            self.conn.send_close_notify();
        }
        self.write_pending()
    }

    fn close_state(&self) -> CloseState {
        self.close.state()
    }

    /// Needs the peer's close_notify read (a `read` returned `Ok(0)`) and ours sent. A control
    /// stream never reads past the end of a record, so nothing follows the close_notify in
    /// rustls' buffers and the leftover is empty: every later byte is still in the socket. A
    /// data stream returns what its read-ahead buffer holds past the close_notify.
    fn unwrap_tcp(&mut self) -> Result<(TcpStream, Vec<u8>), TlsError> {
        let (boundary, leftover) = match &self.input {
            Input::RecordByRecord(framing) => (framing.at_record_boundary(), Vec::new()),
            Input::Greedy(ahead) => (true, ahead.buffered().to_vec()),
        };
        self.close
            .check_unwrap(!self.conn.wants_write() && boundary)?;
        let tcp = self.tcp.try_clone().map_err(TlsError::from_io)?;
        log::debug!("tls stream unwrapped after close_notify exchange");
        Ok((tcp, leftover))
    }

    fn session_info(&self) -> SessionInfo {
        let mut info = SessionInfo::new();
        if let Some(version) = self.conn.protocol_version() {
            info = info.with_protocol_version(match version {
                ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
                ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
                other => format!("{other:?}"),
            });
        }
        if let Some(suite) = self.conn.negotiated_cipher_suite() {
            info = info.with_cipher_suite(format!("{:?}", suite.suite()));
        }
        if let Some(kind) = self.conn.handshake_kind() {
            info = info.with_resumed(kind == HandshakeKind::Resumed);
        }
        if let Some(cert) = self.conn.peer_certificates().and_then(|c| c.first()) {
            info = info.with_peer_certificate(cert.to_vec());
        }
        info
    }

    fn tcp(&self) -> &TcpStream {
        &self.tcp
    }
}

/// The rustls name for `server`: DNS names are sent as SNI, IP addresses are not.
fn rustls_name(server: &ServerName) -> Result<pki_types::ServerName<'static>, TlsError> {
    match server {
        ServerName::Dns(name) => pki_types::ServerName::try_from(name.as_str())
            .map(|n| n.to_owned())
            .map_err(|e| TlsError::new(TlsErrorKind::Other, "invalid dns name").with_source(e)),
        ServerName::Ip(ip) => Ok(pki_types::ServerName::IpAddress((*ip).into())),
        _ => Err(TlsError::new(
            TlsErrorKind::Unsupported,
            "unsupported kind of server name",
        )),
    }
}

fn map_error(error: rustls::Error) -> TlsError {
    use rustls::{CertificateError as C, Error as E, InvalidMessage as M};
    let (kind, message) = match &error {
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => (
            TlsErrorKind::NameMismatch,
            "the certificate is not valid for the server name",
        ),
        E::InvalidCertificate(_) | E::NoCertificatesPresented => (
            TlsErrorKind::CertificateInvalid,
            "the server certificate did not verify",
        ),
        E::AlertReceived(rustls::AlertDescription::CertificateRequired) => (
            TlsErrorKind::ClientCertificateRequired,
            "the server requires a client certificate",
        ),
        E::AlertReceived(_) => (TlsErrorKind::AlertReceived, "received a fatal tls alert"),
        E::InvalidMessage(M::InvalidContentType | M::UnknownProtocolVersion) => (
            TlsErrorKind::NotTls,
            "the peer sent something that is not tls",
        ),
        _ => (TlsErrorKind::HandshakeFailed, "tls protocol failure"),
    };
    TlsError::new(kind, message).with_source(error)
}
