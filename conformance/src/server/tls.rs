//! The server's TLS side (always rustls, whatever backend is under test) and [`Link`], one TCP
//! connection that may carry TLS, used by the control and the data connections alike.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{HandshakeKind, ProtocolVersion, RootCertStore, ServerConfig, ServerConnection};

use super::net::{self, Bound, Got};
use super::options::{ClientAuth, ServerOptions, TlsVersion};
use super::pki::{CertChoice, Pki};

pub(super) mod hostile;

/// The two server configurations of one control connection. They share one session cache
/// (and nothing else), so a data connection can resume this control connection's session and
/// no other.
pub(crate) struct TlsConfigs {
    pub(crate) control: Arc<ServerConfig>,
    pub(crate) data: Arc<ServerConfig>,
}

impl TlsConfigs {
    pub(crate) fn new(options: &ServerOptions, pki: &Pki) -> Result<TlsConfigs, String> {
        let cache = ServerSessionMemoryCache::new(1024);
        let control = build(options, pki, options.cert, options.tls13_tickets, &cache)?;
        let data = build(
            options,
            pki,
            options.data_cert,
            options.data_tls13_tickets,
            &cache,
        )?;
        Ok(TlsConfigs {
            control: Arc::new(control),
            data: Arc::new(data),
        })
    }
}

fn build(
    options: &ServerOptions,
    pki: &Pki,
    cert: CertChoice,
    tickets: usize,
    cache: &Arc<ServerSessionMemoryCache>,
) -> Result<ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match options.tls_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
        TlsVersion::Any => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("server config: {e}"))?;
    let builder = match options.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Request | ClientAuth::Require => {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from(pki.ca_der().to_vec()))
                .map_err(|e| format!("client roots: {e}"))?;
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if options.client_auth == ClientAuth::Request {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|e| format!("client verifier: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let chain = vec![CertificateDer::from(pki.cert_der(cert).to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der(cert).to_vec()));
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("server certificate: {e}"))?;
    config.session_storage = cache.clone();
    config.send_tls13_tickets = tickets;
    Ok(config)
}

/// The name of a negotiated version, "TLSv1.2" or "TLSv1.3".
fn version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        other => format!("{other:?}"),
    }
}

/// A server TLS session on top of some TCP connection.
pub(crate) struct TlsStream {
    pub(crate) conn: ServerConnection,
    close_notify: bool,
    /// Received bytes not yet given to rustls: an incomplete record, or anything after the
    /// client's close_notify (cleartext after CCC or REIN).
    raw: Vec<u8>,
}

/// The most bytes kept after a close_notify.
const MAX_AFTER_CLOSE: usize = 1 << 20;

impl TlsStream {
    /// Feeds TLS bytes received from the client; application data goes to `out`. On error
    /// the alert rustls queued still has to be flushed by the caller.
    ///
    /// rustls gets one whole record at a time, so that it never holds bytes that follow the
    /// client's close_notify: those stay in `raw`, for [`Link::end_tls`].
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if self.close_notify {
            let room = MAX_AFTER_CLOSE.saturating_sub(self.raw.len());
            self.raw.extend_from_slice(&bytes[..bytes.len().min(room)]);
            return Ok(());
        }
        self.raw.extend_from_slice(bytes);
        let mut used = 0;
        let mut result = Ok(());
        while !self.close_notify && self.raw.len() - used >= 5 {
            let head = &self.raw[used..];
            let plausible = (0x14..=0x18).contains(&head[0]) && head[1] == 3;
            let len = if plausible {
                5 + usize::from(u16::from_be_bytes([head[3], head[4]]))
            } else {
                // Not a TLS record: let rustls see it now and fail.
                head.len()
            };
            if head.len() < len {
                break;
            }
            let mut record = &head[..len];
            used += len;
            while !record.is_empty() {
                match self.conn.read_tls(&mut record) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        result = Err(e.to_string());
                        break;
                    }
                }
            }
            if result.is_ok() {
                result = self
                    .conn
                    .process_new_packets()
                    .map(drop)
                    .map_err(|e| e.to_string());
            }
            if result.is_err() {
                break;
            }
            self.close_notify |= drain(&mut self.conn, out);
        }
        self.raw.drain(..used);
        result
    }

    /// Tells rustls about a TCP EOF.
    fn feed_eof(&mut self, out: &mut Vec<u8>) {
        let mut empty: &[u8] = &[];
        let _ = self.conn.read_tls(&mut empty);
        let _ = self.conn.process_new_packets();
        self.close_notify |= drain(&mut self.conn, out);
    }

    fn flush(&mut self, tcp: &TcpStream) -> Result<(), String> {
        let mut w = tcp;
        while self.conn.wants_write() {
            self.conn
                .write_tls(&mut w)
                .map_err(|e| format!("write failed: {e}"))?;
        }
        w.flush().map_err(|e| format!("write failed: {e}"))
    }

    /// The negotiated version, e.g. "TLSv1.3".
    pub(crate) fn version(&self) -> Option<String> {
        self.conn.protocol_version().map(version_name)
    }

    /// The negotiated cipher suite, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub(crate) fn cipher(&self) -> Option<String> {
        self.conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
    }

    /// The server name the client sent (SNI), if any.
    pub(crate) fn sni(&self) -> Option<String> {
        self.conn.server_name().map(str::to_owned)
    }

    /// Whether the handshake resumed a session.
    pub(crate) fn resumed(&self) -> bool {
        self.conn.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// The client's end-entity certificate, if any.
    pub(crate) fn client_cert(&self) -> Option<Vec<u8>> {
        self.conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec())
    }
}

/// Moves the plaintext rustls holds to the end of `out`, straight into its spare room; true
/// once the client's close_notify was read.
fn drain(conn: &mut ServerConnection, out: &mut Vec<u8>) -> bool {
    loop {
        let len = out.len();
        out.resize(len + 16 * 1024, 0);
        let got = conn.reader().read(&mut out[len..]);
        let n = *got.as_ref().unwrap_or(&0);
        out.truncate(len + n);
        match got {
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// What one [`Link::read_event`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// Bytes were received; `n` payload bytes were appended (0 for TLS records that carry no
    /// application data, or bytes after a close_notify, which are discarded).
    Data(usize),
    /// TCP EOF.
    Fin,
    /// TCP reset.
    Reset,
    /// The deadline passed.
    Timeout,
}

/// The most bytes one read takes off a socket: four full TLS records.
const READ_BUFFER: usize = 4 * (16 * 1024 + 512);

/// The plaintext written per TCP write under TLS: four full records, sent with one `writev`.
const WRITE_BATCH: usize = 4 * 16 * 1024;

/// One TCP connection of the server, cleartext or with TLS on it.
pub(crate) struct Link {
    tcp: Option<TcpStream>,
    tls: Option<Box<TlsStream>>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) timeout: Duration,
    buf: Vec<u8>,
}

impl Link {
    pub(crate) fn new(tcp: TcpStream, stop: Arc<AtomicBool>, timeout: Duration) -> Link {
        if let Err(e) = net::prepare(&tcp, timeout) {
            log::warn!("{e}");
        }
        Link {
            tcp: Some(tcp),
            tls: None,
            stop,
            timeout,
            buf: vec![0; READ_BUFFER],
        }
    }

    pub(crate) fn tcp(&self) -> Result<&TcpStream, String> {
        self.tcp
            .as_ref()
            .ok_or_else(|| "the connection was already closed by the script".to_owned())
    }

    pub(crate) fn tls(&self) -> Option<&TlsStream> {
        self.tls.as_deref()
    }

    /// A bound of `d` from now, with this link's stop flag.
    pub(crate) fn bound(&self, d: Duration) -> Bound<'_> {
        Bound::after(d, &self.stop)
    }

    /// True once the client's TLS close_notify arrived.
    pub(crate) fn close_notify_received(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.close_notify)
    }

    /// Runs the server handshake. `initial` holds bytes already read off the socket. With
    /// `defer_flush` and TLS 1.3, what rustls queued after the handshake (the tickets) goes out
    /// with the next write instead of now. Application data that came with the handshake is
    /// appended to `out`.
    pub(crate) fn handshake(
        &mut self,
        config: Arc<ServerConfig>,
        initial: &[u8],
        defer_flush: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let conn = ServerConnection::new(config).map_err(|e| format!("tls setup failed: {e}"))?;
        let mut tls = TlsStream {
            conn,
            close_notify: false,
            raw: Vec::new(),
        };
        let tcp = self.tcp()?;
        if !initial.is_empty() {
            if let Err(e) = tls.feed(initial, out) {
                let _ = tls.flush(tcp);
                return Err(format!("tls handshake failed: {e}"));
            }
        }
        let bound = Bound::after(self.timeout, &self.stop);
        let mut buf = vec![0u8; 16 * 1024];
        while tls.conn.is_handshaking() {
            tls.flush(tcp)?;
            match net::read(tcp, &mut buf, bound)? {
                Got::Data(n) => {
                    if let Err(e) = tls.feed(&buf[..n], out) {
                        let _ = tls.flush(tcp);
                        return Err(format!("tls handshake failed: {e}"));
                    }
                }
                Got::Eof => {
                    return Err("client closed the connection during the tls handshake".into())
                }
                Got::Reset => {
                    return Err("client reset the connection during the tls handshake".into())
                }
                Got::Timeout => return Err("tls handshake timed out".into()),
            }
        }
        let tls13 = tls.conn.protocol_version() == Some(ProtocolVersion::TLSv1_3);
        if !(defer_flush && tls13) {
            tls.flush(tcp)?;
        }
        self.tls = Some(Box::new(tls));
        Ok(())
    }

    /// Waits for bytes until `deadline`. Payload (raw bytes in the clear, plaintext with TLS)
    /// is appended to `out`.
    pub(crate) fn read_event(
        &mut self,
        out: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<Event, String> {
        let tcp = self
            .tcp
            .as_ref()
            .ok_or("the connection was already closed by the script")?;
        let bound = Bound {
            deadline,
            stop: &self.stop,
        };
        match net::read(tcp, &mut self.buf, bound)? {
            Got::Data(n) => match self.tls.as_mut() {
                None => {
                    out.extend_from_slice(&self.buf[..n]);
                    Ok(Event::Data(n))
                }
                Some(tls) => {
                    let before = out.len();
                    if let Err(e) = tls.feed(&self.buf[..n], out) {
                        let _ = tls.flush(tcp);
                        return Err(format!("tls error: {e}"));
                    }
                    Ok(Event::Data(out.len() - before))
                }
            },
            Got::Eof => {
                if let Some(tls) = self.tls.as_mut() {
                    tls.feed_eof(out);
                }
                Ok(Event::Fin)
            }
            Got::Reset => Ok(Event::Reset),
            Got::Timeout => Ok(Event::Timeout),
        }
    }

    /// Writes `bytes`: in one write in the clear; under TLS, in full 16 KiB records, four
    /// records per TCP write.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let tcp = self
            .tcp
            .as_ref()
            .ok_or("the connection was already closed by the script")?;
        match self.tls.as_mut() {
            None => {
                let mut w = tcp;
                w.write_all(bytes).map_err(|e| format!("write failed: {e}"))
            }
            Some(tls) => {
                for chunk in bytes.chunks(WRITE_BATCH) {
                    tls.conn
                        .writer()
                        .write_all(chunk)
                        .map_err(|e| format!("tls write failed: {e}"))?;
                    tls.flush(tcp)?;
                }
                tls.flush(tcp)
            }
        }
    }

    /// Writes `bytes` straight to TCP, outside TLS even when TLS is on.
    pub(crate) fn write_tcp(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut w = self.tcp()?;
        w.write_all(bytes).map_err(|e| format!("write failed: {e}"))
    }

    /// Drops the TLS session and goes on in the clear on the same TCP connection (after CCC
    /// or REIN). Returns the bytes received after the client's close_notify.
    pub(crate) fn end_tls(&mut self) -> Vec<u8> {
        self.tls.take().map(|t| t.raw).unwrap_or_default()
    }

    /// Writes `bytes` and a close_notify, flushed together (one TCP write).
    pub(crate) fn write_then_close_notify(&mut self, bytes: &[u8]) -> Result<(), String> {
        let tcp = self
            .tcp
            .as_ref()
            .ok_or("the connection was already closed by the script")?;
        let tls = self.tls.as_mut().ok_or("no TLS session to close")?;
        tls.conn
            .writer()
            .write_all(bytes)
            .map_err(|e| format!("tls write failed: {e}"))?;
        tls.conn.send_close_notify();
        tls.flush(tcp)
    }

    /// Writes `bytes` inside TLS, a close_notify, then `clear` outside TLS, all in one TCP
    /// write.
    pub(crate) fn write_close_notify_clear(
        &mut self,
        bytes: &[u8],
        clear: &[u8],
    ) -> Result<(), String> {
        let mut tcp = self
            .tcp
            .as_ref()
            .ok_or("the connection was already closed by the script")?;
        let tls = self.tls.as_mut().ok_or("no TLS session to close")?;
        tls.conn
            .writer()
            .write_all(bytes)
            .map_err(|e| format!("tls write failed: {e}"))?;
        tls.conn.send_close_notify();
        let mut segment = Vec::new();
        while tls.conn.wants_write() {
            tls.conn
                .write_tls(&mut segment)
                .map_err(|e| format!("tls write failed: {e}"))?;
        }
        segment.extend_from_slice(clear);
        tcp.write_all(&segment)
            .and_then(|()| tcp.flush())
            .map_err(|e| format!("write failed: {e}"))
    }

    /// How many bytes the client sent after its close_notify (0 before it).
    pub(crate) fn bytes_after_close_notify(&self) -> usize {
        self.tls
            .as_ref()
            .filter(|t| t.close_notify)
            .map_or(0, |t| t.raw.len())
    }

    /// Sends a TLS close_notify.
    pub(crate) fn close_notify(&mut self) -> Result<(), String> {
        let tcp = self
            .tcp
            .as_ref()
            .ok_or("the connection was already closed by the script")?;
        let tls = self.tls.as_mut().ok_or("no TLS session to close")?;
        tls.conn.send_close_notify();
        tls.flush(tcp)
    }

    /// Sends a fatal alert on an established TLS session. rustls has no call for that, so the
    /// server feeds itself a record that cannot be decrypted: rustls then sends
    /// `bad_record_mac` (encrypted, as the protocol requires) and the session is dead.
    pub(crate) fn fatal_alert(&mut self) -> Result<(), String> {
        let tcp = self
            .tcp
            .as_ref()
            .ok_or("the connection was already closed by the script")?;
        let tls = self.tls.as_mut().ok_or("no TLS session")?;
        let mut bogus = vec![0x17, 0x03, 0x03, 0x00, 0x20];
        bogus.extend_from_slice(&[0u8; 0x20]);
        let mut sink = Vec::new();
        // A half-received record of the client (in the middle of an upload) would swallow the
        // bogus record; the session ends here anyway, so drop it.
        if !tls.close_notify {
            tls.raw.clear();
        }
        let result = tls.feed(&bogus, &mut sink);
        tls.flush(tcp)?;
        match result {
            Err(e) => {
                log::debug!("fatal alert sent after: {e}");
                Ok(())
            }
            Ok(()) => Err("rustls accepted a bogus record; no alert was sent".into()),
        }
    }

    /// Shuts the TCP connection down in `how`.
    pub(crate) fn shutdown(&mut self, how: Shutdown) {
        if let Some(tcp) = self.tcp.as_ref() {
            let _ = tcp.shutdown(how);
        }
    }

    /// Closes the TCP connection with an RST.
    pub(crate) fn rst(&mut self) {
        if let Some(tcp) = self.tcp.take() {
            net::reset(tcp);
        }
    }

    /// Closes the TCP connection (FIN, or RST if unread bytes are waiting, as the kernel does).
    pub(crate) fn close(&mut self) {
        self.tcp = None;
    }
}
