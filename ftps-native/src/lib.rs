//! The [native-tls] backend for ftps: an implementation of [`SecureConnection`] over the
//! platform's TLS library (OpenSSL on Linux and the BSDs, Security.framework on Apple systems,
//! SChannel on Windows).
//!
//! native-tls offers a small, portable API, and this backend declares exactly what that API can
//! do ([`SecureConnection::capabilities`]):
//!
//! | capability | | why |
//! |---|---|---|
//! | `resumption` | no | native-tls has no API to offer a session on a new connection |
//! | `unwrap` | no | native-tls has no way to take the socket back after close_notify (no `CCC`) |
//! | `describe` | no | native-tls reports no protocol version, cipher suite or resumption; only the peer certificate is reported |
//! | `client-cert` | yes | a [`native_tls::Identity`] in the [`native_tls::TlsConnector`] is presented on every connection |
//! | `tls13` | OpenSSL only | OpenSSL 1.1.1+ negotiates it by default; native-tls disables TLS 1.3 on Apple systems; SChannel has it only on recent Windows |
//!
//! # Servers this backend cannot talk to
//!
//! Without session resumption, every data connection makes a full TLS handshake. Servers that
//! insist that data connections resume the control connection's TLS session (RFC 4217 §10.2)
//! refuse every transfer, typically with a `522` reply that names session reuse (the client
//! reports a TLS error of kind [`TlsErrorKind::ResumptionRefused`]):
//!
//! - **vsftpd** with its default `require_ssl_reuse=YES`;
//! - **ProFTPD** `mod_tls` by default (unless `TLSOptions NoSessionReuseRequired`);
//! - **FileZilla Server**, which requires session resumption on data connections by default.
//!
//! Logging in and commands work with these servers; transfers and listings do not. Use the
//! rustls or openssl backend for them, or turn the server's requirement off
//! (`require_ssl_reuse=NO`, `TLSOptions NoSessionReuseRequired`). Servers that do not require
//! reuse, such as Pure-FTPd and pyftpdlib, work. `CCC` (clearing the control connection) is not
//! supported either, since the socket cannot be taken back from native-tls.
//!
//! # Close semantics
//!
//! As with every ftps backend, after the server's close_notify `read` returns `Ok(0)` and the
//! close state is [`CloseState::CleanClose`]; a TCP end without close_notify makes `read` fail
//! with [`io::ErrorKind::UnexpectedEof`] and the state become [`CloseState::Truncated`].
//!
//! native-tls itself does not tell the two apart on Linux: over OpenSSL (1.1 and 3 alike) it
//! returns `Ok(0)` for a bare TCP end, even in the middle of a record, exactly as for
//! close_notify. So this backend watches the socket under the TLS library: if a read of the
//! socket returned end-of-file, the stream was truncated, whatever the library reports, because
//! a library that meets close_notify stops reading there. OpenSSL reads one record at a time,
//! so on Linux this is exact, and the conformance suite checks it (CLOSE-02, CLOSE-03). On
//! SChannel and Security.framework the same rule applies but has not been checked by this
//! project's tests.
//!
//! # Errors
//!
//! native-tls reports errors as text only. Time-outs, socket errors, end-of-file and a peer
//! that does not speak TLS are told from the socket itself, on every platform. Certificate
//! failures (and the name mismatch among them) and received alerts are recognised from
//! OpenSSL's messages; on the other platforms they are reported as
//! [`TlsErrorKind::HandshakeFailed`] with the library's error as the source.
//!
//! ```no_run
//! use ftps_native::NativeTlsConnector;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ca_der = std::fs::read("ca.der")?;
//! // Trust exactly this CA, TLS 1.2 or later.
//! let connector = NativeTlsConnector::trusting(&ca_der)?;
//! // Or bring your own configuration, with the system's roots:
//! let connector = NativeTlsConnector::new(ftps_native::native_tls::TlsConnector::new()?);
//! // Then hand `connector` to the ftps client builder as its `SecureConnection`.
//! # let _ = connector;
//! # Ok(())
//! # }
//! ```
//!
//! [native-tls]: https://docs.rs/native-tls

use std::error::Error as StdError;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};

use ftps_core::tls::framing::CloseTracker;
use ftps_core::{
    Capabilities, Capability, CloseState, SecureConnection, SecureStream, ServerName, SessionInfo,
    TlsError, TlsErrorKind,
};
pub use native_tls;
use native_tls::{
    Certificate, HandshakeError, Identity, Protocol, TlsConnector, TlsConnectorBuilder,
};

/// Whether native-tls runs on OpenSSL here (its choice of library, from its own manifest).
const OPENSSL: bool = cfg!(not(any(target_os = "windows", target_vendor = "apple")));

/// The content types a TLS server's first record can have: handshake or alert (RFC 8446 §5.1).
const HANDSHAKE_RECORD: u8 = 0x16;
const ALERT_RECORD: u8 = 0x15;

/// A [`SecureConnection`] built on a [`native_tls::TlsConnector`].
///
/// Every connection, control or data, makes a full handshake with the same connector: native-tls
/// cannot resume sessions. See the [crate documentation](crate) for what that rules out.
#[derive(Clone, Debug)]
pub struct NativeTlsConnector {
    connector: TlsConnector,
}

impl NativeTlsConnector {
    /// A connector using `connector` as given: its roots, protocol versions and identity.
    pub fn new(connector: TlsConnector) -> Self {
        NativeTlsConnector { connector }
    }

    /// A connector that trusts exactly the CA certificate `ca_der` (DER), not the system's
    /// roots, with TLS 1.2 as the minimum version and no client certificate.
    pub fn trusting(ca_der: &[u8]) -> Result<Self, TlsError> {
        build(&mut trusting_builder(ca_der)?)
    }

    /// Like [`NativeTlsConnector::trusting`], and presents a client certificate when the
    /// server asks for one: `cert_pem` holds the certificate, then any intermediates (PEM), and
    /// `key_pem` its PKCS#8 private key (PEM, `BEGIN PRIVATE KEY`), as
    /// [`Identity::from_pkcs8`] takes them.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let connector = ftps_native::NativeTlsConnector::trusting_with_client_cert(
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
        let identity = Identity::from_pkcs8(cert_pem, key_pem).map_err(|e| {
            TlsError::new(TlsErrorKind::Other, "the client certificate is not usable")
                .with_source(e)
        })?;
        build(trusting_builder(ca_der)?.identity(identity))
    }

    /// The native-tls connector this backend uses.
    pub fn connector(&self) -> &TlsConnector {
        &self.connector
    }

    fn connect(&self, tcp: TcpStream, server: &ServerName) -> Result<NativeTlsStream, TlsError> {
        // native-tls verifies the certificate against this string. OpenSSL matches an IP literal
        // against the IP SANs and sends no SNI for it (rust-openssl `into_ssl`).
        let domain = match server {
            ServerName::Dns(name) => name.clone(),
            ServerName::Ip(ip) => ip.to_string(),
            _ => {
                return Err(TlsError::new(
                    TlsErrorKind::Unsupported,
                    "unsupported kind of server name",
                ))
            }
        };
        let wire = Arc::new(Wire {
            tcp,
            seen: Mutex::default(),
        });
        match self.connector.connect(&domain, Socket(Arc::clone(&wire))) {
            Ok(tls) => {
                log::debug!("tls handshake with {server} done (native-tls)");
                Ok(NativeTlsStream {
                    tls,
                    wire,
                    close: CloseTracker::default(),
                })
            }
            // The core sets socket time-outs before the handshake: a read that would block
            // is a wait that ran out.
            Err(HandshakeError::WouldBlock(_)) => Err(TlsError::new(
                TlsErrorKind::Timeout,
                "the tls handshake timed out",
            )),
            Err(HandshakeError::Failure(e)) => {
                Err(map_error(e, wire.seen(), TlsErrorKind::HandshakeFailed))
            }
        }
    }
}

/// A connector builder that trusts exactly `ca_der`, with TLS 1.2 as the minimum version.
fn trusting_builder(ca_der: &[u8]) -> Result<TlsConnectorBuilder, TlsError> {
    let ca = Certificate::from_der(ca_der).map_err(|e| {
        TlsError::new(TlsErrorKind::Other, "the ca certificate is not usable").with_source(e)
    })?;
    let mut builder = TlsConnector::builder();
    builder
        .add_root_certificate(ca)
        .disable_built_in_roots(true)
        .min_protocol_version(Some(Protocol::Tlsv12));
    Ok(builder)
}

fn build(builder: &mut TlsConnectorBuilder) -> Result<NativeTlsConnector, TlsError> {
    let connector = builder.build().map_err(|e| {
        TlsError::new(TlsErrorKind::Other, "cannot build the tls connector").with_source(e)
    })?;
    Ok(NativeTlsConnector::new(connector))
}

impl From<TlsConnector> for NativeTlsConnector {
    fn from(connector: TlsConnector) -> Self {
        NativeTlsConnector::new(connector)
    }
}

impl SecureConnection for NativeTlsConnector {
    type Stream = NativeTlsStream;

    fn name(&self) -> &'static str {
        "native-tls"
    }

    /// Client certificates everywhere, TLS 1.3 where native-tls runs on OpenSSL (1.1.1 or
    /// later, which negotiates it by default); no resumption, unwrap or description, which
    /// native-tls's API does not offer.
    fn capabilities(&self) -> Capabilities {
        let capabilities = Capabilities::none().with(Capability::ClientCert);
        if OPENSSL {
            capabilities.with(Capability::Tls13)
        } else {
            capabilities
        }
    }

    fn secure_control(
        &self,
        tcp: TcpStream,
        server: &ServerName,
    ) -> Result<NativeTlsStream, TlsError> {
        self.connect(tcp, server)
    }

    /// A full handshake: native-tls cannot offer `control`'s session.
    fn secure_data(
        &self,
        tcp: TcpStream,
        server: &ServerName,
        _control: &NativeTlsStream,
    ) -> Result<NativeTlsStream, TlsError> {
        self.connect(tcp, server)
    }
}

/// What the socket under the TLS library did, seen from [`Socket`].
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    /// The first byte the peer sent.
    first_byte: Option<u8>,
    /// A read of the socket returned end-of-file.
    eof: bool,
    /// The last socket error since [`Wire::clear_error`].
    error: Option<io::ErrorKind>,
}

/// The TCP stream, shared by the stream newtype and the [`Socket`] that native-tls owns, so its
/// record survives a failed handshake (native-tls drops the socket then).
#[derive(Debug)]
struct Wire {
    tcp: TcpStream,
    seen: Mutex<Seen>,
}

impl Wire {
    fn seen(&self) -> Seen {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn note(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.seen.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn clear_error(&self) {
        self.note(|s| s.error = None);
    }
}

/// The stream native-tls reads and writes: the TCP stream, noting what happened on it.
#[derive(Debug)]
struct Socket(Arc<Wire>);

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = loop {
            match (&self.0.tcp).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => break result,
            }
        };
        self.0.note(|seen| match &result {
            Ok(0) => seen.eof |= !buf.is_empty(),
            Ok(_) => {
                seen.first_byte = seen.first_byte.or(buf.first().copied());
            }
            Err(e) => seen.error = Some(e.kind()),
        });
        result
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = (&self.0.tcp).write(buf);
        if let Err(e) = &result {
            self.0.note(|seen| seen.error = Some(e.kind()));
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.0.tcp).flush()
    }
}

/// A TLS client stream over a [`TcpStream`], produced by [`NativeTlsConnector`].
///
/// Reads have rustls' close semantics (see the [crate documentation](crate#close-semantics)).
/// A TLS failure inside `read` or `write` comes out as an [`io::ErrorKind::InvalidData`] error
/// whose inner error is a [`TlsError`]; socket errors (time-outs included) come out as they are.
#[derive(Debug)]
pub struct NativeTlsStream {
    tls: native_tls::TlsStream<Socket>,
    wire: Arc<Wire>,
    close: CloseTracker,
}

impl NativeTlsStream {
    /// Normalises the error of one TLS operation: a socket error passes as it is, a failure
    /// after the end of the TCP stream is [`io::ErrorKind::UnexpectedEof`] (for libraries that
    /// report a bare TCP end as an error), anything else is a TLS failure.
    fn normalise<T>(&self, result: io::Result<T>) -> io::Result<T> {
        let seen = self.wire.seen();
        match result {
            Err(_) if seen.error.is_none() && seen.eof => Err(truncated()),
            Err(e) if seen.error.is_none() => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                map_error(e, seen, TlsErrorKind::Other),
            )),
            other => other,
        }
    }
}

/// The error of a read that met the end of the TCP stream without close_notify.
fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the peer closed the tcp connection without close_notify",
    )
}

impl Read for NativeTlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.wire.clear_error();
        let result = match self.tls.read(buf) {
            // native-tls over OpenSSL reports a bare TCP end as Ok(0), like close_notify; the
            // socket knows better.
            Ok(0) if !buf.is_empty() && self.wire.seen().eof => Err(truncated()),
            result => self.normalise(result),
        };
        self.close.observe(buf.len(), result)
    }
}

impl Write for NativeTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.close.check_writable()?;
        self.wire.clear_error();
        let result = self.tls.write(buf);
        self.normalise(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.wire.clear_error();
        let result = self.tls.flush();
        self.normalise(result)
    }
}

impl SecureStream for NativeTlsStream {
    /// Sends close_notify without waiting for the peer's.
    fn send_close_notify(&mut self) -> io::Result<()> {
        if self.close.mark_sent() {
            return Ok(());
        }
        self.wire.clear_error();
        let result = self.tls.shutdown();
        self.normalise(result)
    }

    fn close_state(&self) -> CloseState {
        self.close.state()
    }

    /// Always an error of kind [`TlsErrorKind::Unsupported`]: native-tls cannot hand the
    /// socket back (capability `unwrap` is not declared).
    fn unwrap_tcp(&mut self) -> Result<(TcpStream, Vec<u8>), TlsError> {
        Err(TlsError::new(
            TlsErrorKind::Unsupported,
            "native-tls cannot hand back the tcp stream after close_notify",
        ))
    }

    /// The peer certificate only: native-tls reports no protocol version, cipher suite or
    /// resumption, so those stay unknown.
    fn session_info(&self) -> SessionInfo {
        let der = self.tls.peer_certificate().ok().flatten();
        match der.and_then(|cert| cert.to_der().ok()) {
            Some(der) => SessionInfo::new().with_peer_certificate(der),
            None => SessionInfo::new(),
        }
    }

    fn tcp(&self) -> &TcpStream {
        &self.wire.tcp
    }
}

/// Maps a native-tls failure to a [`TlsError`]: from what the socket saw first, then from the
/// library's text (OpenSSL's wording; other platforms fall back to `fallback`).
fn map_error<E>(error: E, seen: Seen, fallback: TlsErrorKind) -> TlsError
where
    E: StdError + Send + Sync + 'static,
{
    const NAME: [&str; 2] = ["(hostname mismatch)", "(ip address mismatch)"];
    const ALERT: [&str; 3] = ["sslv3 alert ", "tlsv1 alert ", "tlsv13 alert "];
    let text = error.to_string().to_ascii_lowercase();
    let has = |needles: &[&str]| OPENSSL && needles.iter().any(|n| text.contains(n));
    let (kind, message) = match seen.error {
        Some(io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            (TlsErrorKind::Timeout, "a tls wait timed out")
        }
        Some(_) => (TlsErrorKind::Io, "socket error during a tls operation"),
        None if seen
            .first_byte
            .is_some_and(|b| b != HANDSHAKE_RECORD && b != ALERT_RECORD) =>
        {
            (
                TlsErrorKind::NotTls,
                "the peer sent something that is not tls",
            )
        }
        None if has(&NAME) => (
            TlsErrorKind::NameMismatch,
            "the certificate is not valid for the server name",
        ),
        None if has(&["certificate verify failed"]) => (
            TlsErrorKind::CertificateInvalid,
            "the server certificate did not verify",
        ),
        None if has(&["alert certificate required"]) => (
            TlsErrorKind::ClientCertificateRequired,
            "the server requires a client certificate",
        ),
        None if has(&ALERT) => (TlsErrorKind::AlertReceived, "received a fatal tls alert"),
        // A record that is not TLS in the middle of the stream (cleartext inside TLS).
        None if has(&["wrong version number", "packet length too long"]) => (
            TlsErrorKind::NotTls,
            "the peer sent something that is not tls",
        ),
        None if seen.eof => (
            TlsErrorKind::UnexpectedEof,
            "the connection closed during the tls handshake",
        ),
        None => (fallback, "tls failure"),
    };
    TlsError::new(kind, message).with_source(error)
}
