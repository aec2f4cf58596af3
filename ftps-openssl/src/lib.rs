//! The [OpenSSL](openssl) backend for ftps: an implementation of [`SecureConnection`] on the
//! `openssl` crate and the system's OpenSSL (1.1.1 or newer; OpenSSL 3 is the one tested).
//!
//! Supports every capability of the contract: data connections resume the session of *their own*
//! control connection (TLS 1.2 session IDs and tickets, TLS 1.3 tickets, a fresh one for each data
//! connection), the TCP stream is handed back after a close_notify exchange without losing a byte
//! (for `CCC`), the session is described, TLS 1.3 is negotiated where the configuration allows it,
//! and a client certificate is presented when the [`SslConnector`] has one. Certificate and name
//! verification are those of [`SslConnector`]: on unless the user turned them off in it.
//!
//! ```no_run
//! use ftps_openssl::OpenSslConnector;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ca_der = std::fs::read("ca.der")?;
//! // Trust exactly this CA, TLS 1.2 or newer.
//! let connector = OpenSslConnector::trusting(&ca_der)?;
//! // Or change settings first: `OpenSslConnectorBuilder::trusting(&ca_der)?`, then `build()`.
//! // Or bring your own: `OpenSslConnector::new(SslConnector::builder(..)?.build())`.
//! // Then hand `connector` to the ftps client builder as its `SecureConnection`.
//! # let _ = connector;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

use ftps_core::tls::framing::{CloseTracker, FramedTcp};
use ftps_core::{
    Capabilities, CloseState, SecureConnection, SecureStream, ServerName, SessionInfo, TlsError,
    TlsErrorKind,
};
pub use openssl;
use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::ssl::{
    self, ErrorCode, ShutdownState, Ssl, SslConnector, SslContext, SslContextRef, SslRef,
    SslSession, SslStream, SslVersion,
};
use openssl::x509::verify::X509CheckFlags;
use openssl::x509::X509;

mod builder;

pub use builder::OpenSslConnectorBuilder;

/// The key-exchange groups [`OpenSslConnector::trusting`] and
/// [`OpenSslConnector::trusting_with_client_cert`] offer, in order: P-256 first, because an
/// OpenSSL client sends a TLS 1.3 key share for its first group only, and servers that accept
/// P-256 alone (vsftpd sets that one curve) answer any other share with a HelloRetryRequest: one
/// more round trip and key generation on the control connection and on *every* data connection
/// (OpenSSL, unlike rustls, does not remember the group a server chose). Servers that prefer
/// X25519 accept a P-256 share as it is. For your own [`SslConnector`]:
/// `builder.set_groups_list(ftps_openssl::KEY_EXCHANGE_GROUPS)?`.
pub const KEY_EXCHANGE_GROUPS: &str = "P-256:X25519:P-384:P-521";

/// The most plaintext one [`OpenSslStream::write`] takes: four full TLS records, whose
/// ciphertext fits in [`ftps_core::tls::framing::GATHER_LEN`].
const GATHERED_PLAINTEXT: usize = 4 * 16 * 1024;

/// `ERR_LIB_SSL`: the library code of errors raised by libssl (`openssl/err.h`).
const LIB_SSL: i32 = 20;
/// `SSL_R_UNEXPECTED_EOF_WHILE_READING`: OpenSSL 3's TCP EOF without close_notify.
const UNEXPECTED_EOF: i32 = 294;
/// libssl reasons that mean the peer did not speak TLS (`openssl/sslerr.h`): wrong version
/// number, unknown protocol, HTTP request, HTTPS proxy request, packet length too long.
const NOT_TLS: [i32; 5] = [267, 252, 156, 155, 198];
/// `SSL_R_CERTIFICATE_VERIFY_FAILED`: the chain or the name did not verify.
const VERIFY_FAILED: i32 = 134;
/// `SSL_AD_REASON_OFFSET`: reasons from here on are alerts received from the peer.
const ALERT_OFFSET: i32 = 1000;
/// `SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED`: the server's `certificate_required` alert (116).
const CERTIFICATE_REQUIRED: i32 = ALERT_OFFSET + 116;
/// `X509_V_ERR_HOSTNAME_MISMATCH` and `X509_V_ERR_IP_ADDRESS_MISMATCH` (`openssl/x509_vfy.h`).
const NAME_MISMATCH: [i32; 2] = [62, 64];

/// A [`SecureConnection`] built on an [`SslConnector`] or an [`OpenSslConnectorBuilder`].
///
/// All streams of a connector share its one [`SslContext`]. Each connection verifies the
/// server's chain and its name as [`SslConnector`] does: a DNS name is sent as SNI and matched
/// against the DNS SANs, an IP literal is not sent and is matched against the IP SANs, and
/// wildcards only match a whole label. Every control connection gets a session
/// slot of its own; its data connections offer the session in that slot and put the sessions they
/// receive back into it, so they never resume a session of another control connection.
#[derive(Clone, Debug)]
pub struct OpenSslConnector {
    context: SslContext,
}

impl OpenSslConnector {
    /// A connector using `connector` as given: its trust store, verification mode, versions,
    /// ciphers and client certificate.
    pub fn new(connector: SslConnector) -> Self {
        OpenSslConnector::from_context(connector.into_context())
    }

    /// A connector on a context set up as [`SslConnector`] sets one up (peer verification on).
    fn from_context(context: SslContext) -> Self {
        OpenSslConnector { context }
    }

    /// A connector that trusts exactly the CA certificate `ca_der` (DER), not the system's
    /// roots, with TLS 1.2 as the minimum version, the key-exchange groups of
    /// [`KEY_EXCHANGE_GROUPS`] and no client certificate ([`OpenSslConnectorBuilder::trusting`],
    /// built).
    pub fn trusting(ca_der: &[u8]) -> Result<Self, TlsError> {
        Ok(OpenSslConnectorBuilder::trusting(ca_der)?.build())
    }

    /// Like [`OpenSslConnector::trusting`], and presents a client certificate when the server
    /// asks for one: `cert_pem` holds the certificate, then any intermediates (PEM), and
    /// `key_pem` its private key (PEM).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let connector = ftps_openssl::OpenSslConnector::trusting_with_client_cert(
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
        let unusable = |message: &'static str| {
            move |e: ErrorStack| TlsError::new(TlsErrorKind::Other, message).with_source(e)
        };
        let mut chain = X509::stack_from_pem(cert_pem)
            .map_err(unusable("the client certificate is not usable"))?
            .into_iter();
        let leaf = chain.next().ok_or_else(|| {
            TlsError::new(
                TlsErrorKind::Other,
                "no certificate in the client certificate pem",
            )
        })?;
        let key = PKey::private_key_from_pem(key_pem)
            .map_err(unusable("the client private key is not usable"))?;
        let mut builder = OpenSslConnectorBuilder::trusting(ca_der)?;
        builder.set_certificate(&leaf).map_err(stack_error)?;
        for intermediate in chain {
            builder
                .add_extra_chain_cert(intermediate)
                .map_err(stack_error)?;
        }
        builder.set_private_key(&key).map_err(stack_error)?;
        builder.check_private_key().map_err(unusable(
            "the client private key does not match the certificate",
        ))?;
        Ok(builder.build())
    }

    /// The OpenSSL context every stream of this connector is made from.
    pub fn context(&self) -> &SslContextRef {
        &self.context
    }

    fn connect(
        &self,
        tcp: TcpStream,
        server: &ServerName,
        slot: Arc<SessionSlot>,
        control: bool,
    ) -> Result<OpenSslStream, TlsError> {
        let mut ssl = Ssl::new(&self.context).map_err(stack_error)?;
        let offer = if control { None } else { slot.latest() };
        if let Some(session) = offer {
            if std::ptr::eq(ssl.ssl_context(), &*slot.context) {
                // SAFETY: `SslRef::set_session` requires a session of this `Ssl`'s own
                // `SslContext`. Sessions enter `slot` only from streams whose `Ssl` was made from
                // `slot.context` (a data stream shares its control stream's slot only when its
                // connector has that very context, see `secure_data`), and the line above checks
                // that this `Ssl` was made from it too. The slot holds a reference to the
                // context, so its address cannot have been reused by another one.
                #[allow(unsafe_code)]
                let set = unsafe { ssl.set_session(&session) };
                set.map_err(stack_error)?;
            }
        }
        expect_server_name(&mut ssl, server).map_err(stack_error)?;
        // A control stream never reads past the record it is on (CCC hands the socket back
        // intact); a data stream reads ahead, one system call per several records.
        let tcp = if control {
            FramedTcp::new(tcp)
        } else {
            FramedTcp::greedy(tcp)
        };
        let mut stream = SslStream::new(ssl, tcp).map_err(stack_error)?;
        if let Err(e) = stream.connect() {
            return Err(map_error(e, stream.ssl()));
        }
        let ssl = stream.ssl();
        log::debug!(
            "tls handshake with {server} done: {}, resumed {}",
            ssl.version_str(),
            ssl.session_reused()
        );
        let seen_id = ssl.session().map(|s| s.id().to_vec()).unwrap_or_default();
        // A TLS 1.2 control session is resumable as soon as the handshake ends. A TLS 1.3 one
        // is not: its tickets arrive later, as new sessions, and `note_session` picks them up.
        if control && ssl.version2() != Some(SslVersion::TLS1_3) && !seen_id.is_empty() {
            slot.store(ssl.session().map(|s| s.to_owned()));
        }
        Ok(OpenSslStream {
            ssl: stream,
            slot,
            seen_id,
            close: CloseTracker::default(),
        })
    }
}

/// Sets `ssl` up to verify that the server's certificate names `server`, as openssl's
/// `ConnectConfiguration::into_ssl` does: a DNS name is sent as SNI and checked against the DNS
/// SANs; an IP literal is not sent and is checked against the IP SANs; no partial wildcards.
fn expect_server_name(ssl: &mut SslRef, server: &ServerName) -> Result<(), ErrorStack> {
    let name = server.to_string();
    match name.parse::<IpAddr>() {
        Ok(ip) => {
            let param = ssl.param_mut();
            param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
            param.set_ip(ip)
        }
        Err(_) => {
            ssl.set_hostname(&name)?;
            let param = ssl.param_mut();
            param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
            param.set_host(&name)
        }
    }
}

impl From<SslConnector> for OpenSslConnector {
    fn from(connector: SslConnector) -> Self {
        OpenSslConnector::new(connector)
    }
}

impl SecureConnection for OpenSslConnector {
    type Stream = OpenSslStream;

    fn name(&self) -> &'static str {
        "openssl"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    fn secure_control(
        &self,
        tcp: TcpStream,
        server: &ServerName,
    ) -> Result<OpenSslStream, TlsError> {
        let slot = Arc::new(SessionSlot::new(self.context.clone()));
        self.connect(tcp, server, slot, true)
    }

    fn secure_data(
        &self,
        tcp: TcpStream,
        server: &ServerName,
        control: &OpenSslStream,
    ) -> Result<OpenSslStream, TlsError> {
        let slot = if std::ptr::eq(&*self.context, &*control.slot.context) {
            Arc::clone(&control.slot)
        } else {
            // A session may only be resumed by the context that made it.
            log::warn!("data connection secured by another connector: no session resumption");
            Arc::new(SessionSlot::new(self.context.clone()))
        };
        self.connect(tcp, server, slot, false)
    }
}

/// The newest resumable session of one control connection, shared with its data connections.
struct SessionSlot {
    /// The context of every stream that fills `latest`.
    context: SslContext,
    latest: Mutex<Option<SslSession>>,
}

impl SessionSlot {
    fn new(context: SslContext) -> Self {
        SessionSlot {
            context,
            latest: Mutex::new(None),
        }
    }

    fn latest(&self) -> Option<SslSession> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, session: Option<SslSession>) {
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = session;
    }
}

/// A TLS client stream over a [`TcpStream`], produced by [`OpenSslConnector`].
///
/// OpenSSL reads the socket one TLS record at a time, so after the peer's close_notify no byte
/// of what follows (the cleartext after `CCC`) has been taken from the socket. Sessions that
/// arrive on any stream of a control connection (TLS 1.3 tickets) go into that control
/// connection's slot when the stream is read.
pub struct OpenSslStream {
    ssl: SslStream<FramedTcp>,
    slot: Arc<SessionSlot>,
    /// The ID of the session this stream last saw, so each new ticket is stored once.
    seen_id: Vec<u8>,
    close: CloseTracker,
}

impl fmt::Debug for OpenSslStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenSslStream")
            .field("ssl", &self.ssl)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

impl OpenSslStream {
    /// Stores the stream's session in the slot if it is a new one: OpenSSL replaces the session
    /// with a new one, of a new ID, for each TLS 1.3 ticket it processes.
    fn note_session(&mut self) {
        let Some(session) = self.ssl.ssl().session() else {
            return;
        };
        if session.id().is_empty() || session.id() == self.seen_id.as_slice() {
            return;
        }
        self.seen_id = session.id().to_vec();
        self.slot.store(Some(session.to_owned()));
    }

    /// An OpenSSL error from `read` or `write` as an `io::Error`: socket errors as they are, a
    /// TCP EOF without close_notify as `UnexpectedEof`, the rest `InvalidData` carrying a
    /// [`TlsError`].
    fn io_error(&self, error: ssl::Error) -> io::Error {
        let error = match error.into_io_error() {
            Ok(io) => return io,
            Err(error) => error,
        };
        let tls = map_error(error, self.ssl.ssl());
        match tls.kind() {
            TlsErrorKind::UnexpectedEof => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed connection without sending tls close_notify",
            ),
            _ => io::Error::new(io::ErrorKind::InvalidData, tls),
        }
    }
}

impl Drop for OpenSslStream {
    /// Keeps the session resumable when the stream goes without a close_notify of its own (a
    /// transfer ended by `ABOR`, an error): `SSL_free` would otherwise remove the session from
    /// the cache and mark it not resumable, and that session (a TLS 1.3 ticket in particular)
    /// is the one this control connection's next data connection offers. Since TLS 1.1 a
    /// connection closed without close_notify no longer forbids resuming its session
    /// (RFC 5246 §7.2.1; RFC 8446 §6.1), and servers that require reuse refuse the next
    /// transfer otherwise (vsftpd: `522 session reuse required`).
    fn drop(&mut self) {
        let state = self.ssl.get_shutdown();
        self.ssl.set_shutdown(state | ShutdownState::SENT);
    }
}

impl Read for OpenSslStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.close.state() == CloseState::Truncated {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let result = loop {
            match self.ssl.ssl_read(buf) {
                Ok(n) => break Ok(n),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => break Ok(0),
                // A record without application data (a ticket) and no automatic retry.
                Err(e) if e.code() == ErrorCode::WANT_READ && e.io_error().is_none() => {}
                Err(e) => break Err(self.io_error(e)),
            }
        };
        self.note_session();
        self.close.observe(buf.len(), result)
    }
}

impl Write for OpenSslStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.close.check_writable()?;
        // OpenSSL hands each record to the socket on its own, and with ENABLE_PARTIAL_WRITE
        // (SslConnector's default) one SSL_write writes one record: up to four records are
        // written here and leave in one system call, as rustls sends them (a 64 KiB upload
        // chunk: one `send` and one TCP segment instead of four).
        let chunk = &buf[..buf.len().min(GATHERED_PLAINTEXT)];
        self.ssl.get_mut().gather_writes();
        let mut written = 0;
        let mut failure = None;
        while written < chunk.len() {
            match self.ssl.ssl_write(&chunk[written..]) {
                Ok(n) => written += n,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let sent = self.ssl.get_mut().send_gathered();
        match (written, failure) {
            // Records written and gathered before a failure are sent; the failure comes back
            // with the next write.
            (0, Some(e)) => Err(self.io_error(e)),
            _ => sent.map(|()| written),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ssl.get_mut().flush()
    }
}

impl SecureStream for OpenSslStream {
    fn send_close_notify(&mut self) -> io::Result<()> {
        if self.close.mark_sent() {
            // A second SSL_shutdown would wait for the peer's close_notify.
            return Ok(());
        }
        match self.ssl.shutdown() {
            Ok(_) => Ok(()),
            Err(e) => Err(self.io_error(e)),
        }
    }

    fn close_state(&self) -> CloseState {
        self.close.state()
    }

    /// Needs the peer's close_notify read (a `read` returned `Ok(0)`) and ours sent. OpenSSL never
    /// got a byte past the close_notify record: on a control stream every later byte is still in
    /// the socket and the leftover is empty; a data stream's leftover is what its read-ahead
    /// buffer holds. The TCP stream handed back is a clone of OpenSSL's; the stream keeps its
    /// own for the session's lifetime and never uses it again.
    fn unwrap_tcp(&mut self) -> Result<(TcpStream, Vec<u8>), TlsError> {
        self.close
            .check_unwrap(self.ssl.get_ref().at_record_boundary())?;
        let tcp = self
            .ssl
            .get_ref()
            .get_ref()
            .try_clone()
            .map_err(TlsError::from_io)?;
        log::debug!("tls stream unwrapped after close_notify exchange");
        Ok((tcp, self.ssl.get_ref().buffered().to_vec()))
    }

    fn session_info(&self) -> SessionInfo {
        let ssl = self.ssl.ssl();
        let mut info = SessionInfo::new()
            .with_protocol_version(ssl.version_str())
            .with_resumed(ssl.session_reused());
        if let Some(cipher) = ssl.current_cipher() {
            info = info.with_cipher_suite(cipher.standard_name().unwrap_or(cipher.name()));
        }
        if let Some(der) = ssl.peer_certificate().and_then(|c| c.to_der().ok()) {
            info = info.with_peer_certificate(der);
        }
        info
    }

    fn tcp(&self) -> &TcpStream {
        self.ssl.get_ref().get_ref()
    }
}

/// An error from setting up OpenSSL objects (no I/O involved).
fn stack_error(error: ErrorStack) -> TlsError {
    TlsError::new(TlsErrorKind::Other, "openssl setup failed").with_source(error)
}

fn map_error(error: ssl::Error, ssl: &SslRef) -> TlsError {
    let error = match error.into_io_error() {
        Ok(io) => return TlsError::from_io(io),
        Err(error) => error,
    };
    let stack = error
        .ssl_error()
        .map(ErrorStack::errors)
        .unwrap_or_default();
    let ssl_errors = stack.iter().filter(|e| e.library_code() == LIB_SSL);
    let reasons: Vec<i32> = ssl_errors.map(|e| e.reason_code()).collect();
    let verify = ssl.verify_result().as_raw();
    let cert_failed = reasons.contains(&VERIFY_FAILED);
    let (kind, message) = if error.code() == ErrorCode::SYSCALL || reasons.contains(&UNEXPECTED_EOF)
    {
        (TlsErrorKind::UnexpectedEof, "tcp eof inside the tls stream")
    } else if cert_failed && NAME_MISMATCH.contains(&verify) {
        (
            TlsErrorKind::NameMismatch,
            "certificate not valid for the server name",
        )
    } else if cert_failed {
        (
            TlsErrorKind::CertificateInvalid,
            "the server certificate did not verify",
        )
    } else if reasons.contains(&CERTIFICATE_REQUIRED) {
        (
            TlsErrorKind::ClientCertificateRequired,
            "the server requires a client certificate",
        )
    } else if reasons.iter().any(|r| *r >= ALERT_OFFSET) {
        (TlsErrorKind::AlertReceived, "received a fatal tls alert")
    } else if reasons.iter().any(|r| NOT_TLS.contains(r)) {
        (
            TlsErrorKind::NotTls,
            "the peer sent something that is not tls",
        )
    } else {
        (TlsErrorKind::HandshakeFailed, "tls protocol failure")
    };
    TlsError::new(kind, message).with_source(error)
}
