//! What a hostile server does at the TLS level (SCENARIOS BAD-xx): handshakes that stall or
//! trickle, records trickled byte by byte, a huge certificate chain, and records the script
//! protects itself (a HelloRequest).

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::crypto::cipher::{
    InboundOpaqueMessage, MessageDecrypter, MessageEncrypter, OutboundChunks, OutboundPlainMessage,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    ConnectionTrafficSecrets, ContentType, ProtocolVersion, ServerConfig, ServerConnection,
    SupportedCipherSuite,
};

use super::super::net::{self, Bound, Got};
use super::super::pki::{CertChoice, Pki};
use super::Link;

/// `config` with a certificate chain made huge: the certificate `cert`, then `copies` copies
/// of the test CA's certificate (BAD-21).
pub(crate) fn padded_chain(
    config: &ServerConfig,
    pki: &Pki,
    cert: CertChoice,
    copies: usize,
) -> Result<Arc<ServerConfig>, String> {
    let mut chain = vec![CertificateDer::from(pki.cert_der(cert).to_vec())];
    chain.extend(std::iter::repeat_n(
        CertificateDer::from(pki.ca_der().to_vec()),
        copies,
    ));
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der(cert).to_vec()));
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("server key: {e}"))?;
    let mut config = config.clone();
    config.cert_resolver = Arc::new(SingleCertAndKey::from(CertifiedKey::new(chain, signing)));
    Ok(Arc::new(config))
}

impl Link {
    /// Writes one byte straight to TCP; `false` if the write failed (the client closed).
    fn write_byte(&self, byte: u8) -> Result<bool, String> {
        let mut w = self.tcp()?;
        Ok(w.write_all(&[byte]).and_then(|()| w.flush()).is_ok())
    }

    /// Waits until `until` for the client to close (FIN or RST: `true`); bytes it sends
    /// meanwhile (a TLS alert, say) are read and dropped.
    pub(crate) fn client_closed_by(&self, until: Instant) -> Result<bool, String> {
        let tcp = self.tcp()?;
        let mut buf = [0u8; 4096];
        loop {
            let bound = Bound {
                deadline: until,
                stop: &self.stop,
            };
            match net::read(tcp, &mut buf, bound)? {
                Got::Data(_) => {}
                Got::Eof | Got::Reset => return Ok(true),
                Got::Timeout => return Ok(false),
            }
        }
    }

    /// Plays a server that stalls the TLS handshake (BAD-03): reads the ClientHello (`initial`
    /// holds bytes of it already read), then sends nothing (`trickle` is `None`) or its first
    /// flight one byte at a time, `trickle` apart. Returns how long after the ClientHello the
    /// client gave up (closed the connection); an error if it did not within `limit`.
    pub(crate) fn stall_handshake(
        &mut self,
        config: Arc<ServerConfig>,
        initial: &[u8],
        trickle: Option<Duration>,
        limit: Duration,
    ) -> Result<Duration, String> {
        let mut conn =
            ServerConnection::new(config).map_err(|e| format!("tls setup failed: {e}"))?;
        let tcp = self.tcp()?;
        let bound = Bound::after(self.timeout, &self.stop);
        let mut input = initial.to_vec();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let mut rest = &input[..];
            while !rest.is_empty() {
                if conn.read_tls(&mut rest).map_err(|e| e.to_string())? == 0 {
                    break;
                }
            }
            input.clear();
            conn.process_new_packets()
                .map_err(|e| format!("bad ClientHello: {e}"))?;
            if conn.wants_write() {
                break;
            }
            match net::read(tcp, &mut buf, bound)? {
                Got::Data(n) => input.extend_from_slice(&buf[..n]),
                Got::Eof | Got::Reset => return Err("client closed before its ClientHello".into()),
                Got::Timeout => return Err("no ClientHello from the client".into()),
            }
        }
        let mut flight = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut flight)
                .map_err(|e| format!("tls write failed: {e}"))?;
        }
        let started = Instant::now();
        let deadline = started + limit;
        let mut next = flight.iter();
        loop {
            let until = match trickle {
                Some(delay) => {
                    if let Some(byte) = next.next() {
                        if !self.write_byte(*byte)? {
                            return Ok(started.elapsed());
                        }
                    }
                    (Instant::now() + delay).min(deadline)
                }
                None => deadline,
            };
            if self.client_closed_by(until)? {
                return Ok(started.elapsed());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the client did not give up on the stalled handshake within {limit:?}"
                ));
            }
        }
    }

    /// Sends `bytes` one byte at a time, `delay` apart (BAD-02): with TLS on, either each
    /// byte in its own record (`one_record` false) or one record trickled byte by byte. Stops
    /// when the client closes the connection. Returns how long after the first byte the
    /// client gave up, or `None` if every byte was sent.
    pub(crate) fn trickle(
        &mut self,
        bytes: &[u8],
        delay: Duration,
        one_record: bool,
    ) -> Result<Option<Duration>, String> {
        let wire: Vec<Vec<u8>> = match self.tls.as_mut() {
            None => bytes.iter().map(|b| vec![*b]).collect(),
            Some(tls) => {
                let pieces: Vec<&[u8]> = if one_record {
                    vec![bytes]
                } else {
                    bytes.chunks(1).collect()
                };
                let mut records = Vec::new();
                for piece in pieces {
                    tls.conn
                        .writer()
                        .write_all(piece)
                        .map_err(|e| format!("tls write failed: {e}"))?;
                    let mut record = Vec::new();
                    while tls.conn.wants_write() {
                        tls.conn
                            .write_tls(&mut record)
                            .map_err(|e| format!("tls write failed: {e}"))?;
                    }
                    records.push(record);
                }
                if one_record {
                    records.concat().into_iter().map(|b| vec![b]).collect()
                } else {
                    records
                }
            }
        };
        let started = Instant::now();
        for piece in wire {
            let mut w = self.tcp()?;
            if w.write_all(&piece).and_then(|()| w.flush()).is_err() {
                return Ok(Some(started.elapsed()));
            }
            if self.client_closed_by(Instant::now() + delay)? {
                return Ok(Some(started.elapsed()));
            }
        }
        Ok(None)
    }
}

/// A TLS 1.2 session whose record protection the script drives itself, from the keys rustls
/// handed over ([`Link::take_raw_tls12`]): for what rustls never sends, such as a
/// HelloRequest (BAD-18).
pub(crate) struct RawTls12 {
    tcp: TcpStream,
    stop: Arc<AtomicBool>,
    timeout: Duration,
    encrypter: Box<dyn MessageEncrypter>,
    decrypter: Box<dyn MessageDecrypter>,
    tx_seq: u64,
    rx_seq: u64,
    input: Vec<u8>,
}

impl RawTls12 {
    /// Writes `payload` as one protected record of type `typ`.
    pub(crate) fn write(&mut self, typ: u8, payload: &[u8]) -> Result<(), String> {
        let message = OutboundPlainMessage {
            typ: ContentType::from(typ),
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::Single(payload),
        };
        let record = self
            .encrypter
            .encrypt(message, self.tx_seq)
            .map_err(|e| format!("encrypt failed: {e}"))?
            .encode();
        self.tx_seq += 1;
        (&self.tcp)
            .write_all(&record)
            .map_err(|e| format!("write failed: {e}"))
    }

    /// Reads the next protected record within the server's timeout: its type and plaintext,
    /// or `None` when the client closed the connection.
    pub(crate) fn read(&mut self) -> Result<Option<(u8, Vec<u8>)>, String> {
        let bound = Bound::after(self.timeout, &self.stop);
        let mut buf = [0u8; 16 * 1024];
        loop {
            if self.input.len() >= 5 {
                let len = 5 + usize::from(u16::from_be_bytes([self.input[3], self.input[4]]));
                if self.input.len() >= len {
                    let mut record: Vec<u8> = self.input.drain(..len).collect();
                    let typ = record[0];
                    let message = InboundOpaqueMessage::new(
                        ContentType::from(typ),
                        ProtocolVersion::TLSv1_2,
                        &mut record[5..],
                    );
                    let plain = self
                        .decrypter
                        .decrypt(message, self.rx_seq)
                        .map_err(|e| format!("decrypt failed: {e}"))?;
                    self.rx_seq += 1;
                    return Ok(Some((typ, plain.payload.to_vec())));
                }
            }
            match net::read(&self.tcp, &mut buf, bound)? {
                Got::Data(n) => self.input.extend_from_slice(&buf[..n]),
                Got::Eof | Got::Reset => return Ok(None),
                Got::Timeout => return Err("nothing from the client".into()),
            }
        }
    }

    /// Closes the connection with a FIN (the server aborts the session).
    pub(crate) fn fin(&self) {
        let _ = self.tcp.shutdown(std::net::Shutdown::Both);
    }
}

impl Link {
    /// Takes the TLS 1.2 session out of rustls (the config must have had secret extraction on)
    /// and hands its record protection to the script. The link is in the clear afterwards.
    pub(crate) fn take_raw_tls12(&mut self) -> Result<RawTls12, String> {
        let tcp = self
            .tcp()?
            .try_clone()
            .map_err(|e| format!("try_clone failed: {e}"))?;
        let tls = self.tls.take().ok_or("no TLS session")?;
        if !tls.raw.is_empty() {
            return Err("unprocessed bytes from the client".into());
        }
        let Some(SupportedCipherSuite::Tls12(suite)) = tls.conn.negotiated_cipher_suite() else {
            return Err("not a TLS 1.2 session".into());
        };
        let secrets = tls
            .conn
            .dangerous_extract_secrets()
            .map_err(|e| format!("cannot extract the session's secrets: {e}"))?;
        let (tx_seq, tx) = secrets.tx;
        let (rx_seq, rx) = secrets.rx;
        let aead = suite.aead_alg;
        let encrypter = match tx {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv }
            | ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
                aead.encrypter(key, &iv.as_ref()[..4], &iv.as_ref()[4..])
            }
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                aead.encrypter(key, iv.as_ref(), &[])
            }
            _ => return Err("unknown cipher".into()),
        };
        let decrypter = match rx {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv }
            | ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
                aead.decrypter(key, &iv.as_ref()[..4])
            }
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                aead.decrypter(key, iv.as_ref())
            }
            _ => return Err("unknown cipher".into()),
        };
        Ok(RawTls12 {
            tcp,
            stop: self.stop.clone(),
            timeout: self.timeout,
            encrypter,
            decrypter,
            tx_seq,
            rx_seq,
            input: Vec::new(),
        })
    }
}
