//! Data connections: [`DataListener`] (passive mode) and [`DataConn`].

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ServerConfig;

use super::control::{alert_record, lock, show, Conn, HANDSHAKE_RECORD};
use super::net::{self, Bound, Got};
use super::record::{DataEnd, DataRecord, Record};
use super::tls::{Event, Link};

mod hostile;

/// How much a download reads from its source at a time: sixteen full TLS records.
const SEND_CHUNK: usize = 256 * 1024;

/// A passive-mode listener for one data connection.
#[derive(Debug)]
pub struct DataListener {
    listener: TcpListener,
    addr: SocketAddr,
}

impl DataListener {
    pub(crate) fn new(listener: TcpListener) -> Result<DataListener, String> {
        let addr = listener
            .local_addr()
            .map_err(|e| format!("local_addr failed: {e}"))?;
        Ok(DataListener { listener, addr })
    }

    /// The port to announce.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts the data connection, waiting at most the server's timeout, and records a new
    /// [`DataRecord`] on `conn`.
    pub fn accept(&self, conn: &Conn) -> Result<DataConn, String> {
        let timeout = conn.options().accept_timeout;
        let bound = Bound::after(timeout, conn.stop_flag());
        match net::accept(&self.listener, bound)? {
            Some((tcp, peer)) => Ok(conn.new_data(tcp, peer)),
            None => Err(format!("no data connection within {timeout:?}")),
        }
    }

    /// Accepts a data connection only if one is already waiting.
    pub fn try_accept(&self, conn: &Conn) -> Option<DataConn> {
        net::accept_now(&self.listener).map(|(tcp, peer)| conn.new_data(tcp, peer))
    }
}

/// The server's side of one data connection, cleartext until [`DataConn::accept_tls`].
///
/// What happens on it is recorded in the control connection's [`Record::data`].
pub struct DataConn {
    link: Link,
    record: Arc<Mutex<Record>>,
    index: usize,
    config: Arc<ServerConfig>,
    require_resumption: bool,
    first_byte: Option<u8>,
    resumed: Option<bool>,
    pending: Vec<u8>,
}

impl std::fmt::Debug for DataConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataConn")
            .field("index", &self.index)
            .field("tls", &self.link.tls().is_some())
            .field("resumed", &self.resumed)
            .finish_non_exhaustive()
    }
}

impl DataConn {
    pub(crate) fn new(
        link: Link,
        record: Arc<Mutex<Record>>,
        index: usize,
        config: Arc<ServerConfig>,
        require_resumption: bool,
    ) -> DataConn {
        DataConn {
            link,
            record,
            index,
            config,
            require_resumption,
            first_byte: None,
            resumed: None,
            pending: Vec::new(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut DataRecord)) {
        if let Some(d) = lock(&self.record).data.get_mut(self.index) {
            f(d);
        }
    }

    fn note_first_byte(&mut self, b: u8) {
        if self.first_byte.is_none() {
            self.first_byte = Some(b);
            self.update(|d| d.first_byte = Some(b));
        }
    }

    /// The client's address on this connection.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.link.tcp().ok().and_then(|t| t.peer_addr().ok())
    }

    /// Waits up to `timeout` for the client's first byte without consuming it, and records it
    /// (A2: `0x16` is a TLS ClientHello). `None` if the connection ended or nothing came.
    pub fn peek_first_byte(&mut self, timeout: Duration) -> Result<Option<u8>, String> {
        if self.first_byte.is_some() {
            return Ok(self.first_byte);
        }
        let tcp = self.link.tcp()?;
        let (_, byte) = net::peek(tcp, self.link.bound(timeout))?;
        if let Some(b) = byte {
            self.note_first_byte(b);
        }
        Ok(byte)
    }

    /// Runs the server side of the data TLS handshake with this control connection's
    /// configuration ([`ServerOptions::data_cert`](super::ServerOptions::data_cert), the
    /// control connection's session cache) and returns whether it resumed.
    ///
    /// With [`ServerOptions::require_resumption`](super::ServerOptions::require_resumption), a
    /// handshake that does not resume closes the connection and returns `Err("not resumed")`;
    /// the script then sends its own 522.
    pub fn accept_tls(&mut self) -> Result<bool, String> {
        let result = self.accept_tls_inner();
        if let Err(e) = &result {
            let e = e.clone();
            self.update(|d| d.tls_error = Some(e));
        }
        result
    }

    fn accept_tls_inner(&mut self) -> Result<bool, String> {
        if self.link.tls().is_some() {
            return Err("tls already started on this data connection".into());
        }
        let timeout = self.link.timeout;
        match self.peek_first_byte(timeout)? {
            None => return Err("no TLS ClientHello on the data connection".into()),
            Some(b) if b != HANDSHAKE_RECORD => {
                let tcp = self.link.tcp()?;
                let (bytes, _) = net::read_available(tcp);
                return Err(format!(
                    "expected a TLS ClientHello (0x16) on the data connection, got {}",
                    show(&bytes)
                ));
            }
            Some(_) => {}
        }
        self.link
            .handshake(self.config.clone(), &[], false, &mut self.pending)?;
        let Some(tls) = self.link.tls() else {
            return Err("tls handshake left no session".into());
        };
        let resumed = tls.resumed();
        let (version, cert) = (tls.version(), tls.client_cert());
        let (cipher, sni) = (tls.cipher(), tls.sni());
        self.resumed = Some(resumed);
        self.update(|d| {
            d.tls = true;
            d.resumed = Some(resumed);
            d.version = version;
            d.cipher = cipher;
            d.sni = sni;
            d.client_cert = cert;
        });
        if self.require_resumption && !resumed {
            self.link.close();
            return Err("not resumed".into());
        }
        Ok(resumed)
    }

    /// Whether the data handshake resumed; `None` before (or without) one.
    pub fn resumed(&self) -> Option<bool> {
        self.resumed
    }

    /// True once the client's TLS close_notify arrived on this connection.
    pub fn client_close_notify(&self) -> bool {
        self.link.close_notify_received()
    }

    /// Sends `bytes`, inside TLS if the handshake was accepted.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.link.write(bytes)?;
        let n = bytes.len() as u64;
        self.update(|d| d.bytes_sent += n);
        Ok(())
    }

    /// Sends everything `source` yields, inside TLS if the handshake was accepted: large reads,
    /// full TLS records, several records per TCP write. Returns the number of bytes sent.
    pub fn send_from(&mut self, source: &mut dyn Read) -> Result<u64, String> {
        let mut buf = vec![0u8; SEND_CHUNK];
        let mut total = 0u64;
        let result = loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(format!("reading what to send: {e}")),
            };
            if let Err(e) = self.link.write(&buf[..n]) {
                break Err(e);
            }
            total += n as u64;
        };
        self.update(|d| d.bytes_sent += total);
        result
    }

    /// Reads until the client's close_notify, EOF or reset, or until nothing arrives for the
    /// server's timeout. Returns the payload and how it ended.
    pub fn read_to_end(&mut self) -> Result<(Vec<u8>, DataEnd), String> {
        let (out, end) = self.read_until(u64::MAX)?;
        Ok((out, end.unwrap_or(DataEnd::Timeout)))
    }

    /// Like [`DataConn::read_to_end`], but writes the payload to `sink` as it arrives, so an
    /// upload of any size takes a fixed amount of memory.
    pub fn receive_into(&mut self, sink: &mut dyn Write) -> Result<DataEnd, String> {
        let (_, end) = self.pump(u64::MAX, sink)?;
        Ok(end.unwrap_or(DataEnd::Timeout))
    }

    /// Reads until at least `n` payload bytes arrived (for a partial upload, CLOSE-07) or the
    /// client's side ended (then the end is returned too). Each wait is bounded by the
    /// server's timeout.
    pub fn read_at_least(&mut self, n: usize) -> Result<(Vec<u8>, Option<DataEnd>), String> {
        self.read_until(n as u64)
    }

    fn read_until(&mut self, n: u64) -> Result<(Vec<u8>, Option<DataEnd>), String> {
        let mut out = Vec::new();
        let (_, end) = self.pump(n, &mut out)?;
        Ok((out, end))
    }

    /// Moves payload to `sink` until `limit` bytes were moved (then the end is `None`) or the
    /// client's side ended. Returns the bytes moved and the end.
    fn pump(&mut self, limit: u64, sink: &mut dyn Write) -> Result<(u64, Option<DataEnd>), String> {
        let mut chunk = std::mem::take(&mut self.pending);
        let tls = self.link.tls().is_some();
        let mut total = 0u64;
        let mut outcome = Ok(None);
        loop {
            if !chunk.is_empty() {
                if !tls {
                    self.note_first_byte(chunk[0]);
                }
                total += chunk.len() as u64;
                if let Err(e) = sink.write_all(&chunk) {
                    outcome = Err(format!("storing the received data: {e}"));
                    break;
                }
                chunk.clear();
            }
            if !matches!(outcome, Ok(None)) {
                break;
            }
            if self.link.close_notify_received() {
                outcome = Ok(Some(DataEnd::CloseNotify));
                break;
            }
            if total >= limit {
                break;
            }
            let deadline = Instant::now() + self.link.timeout;
            // A terminal event may still come with payload (rustls drains at EOF): the loop
            // stores it before it stops.
            outcome = match self.link.read_event(&mut chunk, deadline) {
                Ok(Event::Data(_)) => Ok(None),
                Ok(Event::Fin) => Ok(Some(DataEnd::Fin)),
                Ok(Event::Reset) => Ok(Some(DataEnd::Reset)),
                Ok(Event::Timeout) => Ok(Some(DataEnd::Timeout)),
                Err(e) => Err(e),
            };
        }
        let close_notify = self.link.close_notify_received();
        let end = outcome.as_ref().ok().copied().flatten();
        self.update(|d| {
            d.bytes_received += total;
            if end.is_some() {
                d.ended = end;
            }
            d.client_close_notify |= close_notify;
        });
        outcome.map(|end| (total, end))
    }

    /// Waits up to `d` for the client to end its side: returns [`DataEnd::CloseNotify`] as soon
    /// as its close_notify arrives, [`DataEnd::Fin`] or [`DataEnd::Reset`] for a TCP end, or
    /// [`DataEnd::Timeout`]. If the close_notify had already arrived, waits for the TCP end
    /// and returns [`DataEnd::CloseNotify`] if none came. Payload that arrives meanwhile is
    /// counted and discarded.
    pub fn wait_client_close(&mut self, d: Duration) -> DataEnd {
        let deadline = Instant::now() + d;
        let had_close_notify = self.link.close_notify_received();
        let mut sink = std::mem::take(&mut self.pending);
        let end = loop {
            if !had_close_notify && self.link.close_notify_received() {
                break DataEnd::CloseNotify;
            }
            match self.link.read_event(&mut sink, deadline) {
                Ok(Event::Data(_)) => {}
                Ok(Event::Fin) => break DataEnd::Fin,
                Ok(Event::Reset) => break DataEnd::Reset,
                Ok(Event::Timeout) if had_close_notify => break DataEnd::CloseNotify,
                Ok(Event::Timeout) => break DataEnd::Timeout,
                Err(e) => {
                    log::debug!("waiting for the client's close: {e}");
                    break if e == net::STOPPED {
                        DataEnd::Timeout
                    } else {
                        DataEnd::Reset
                    };
                }
            }
        };
        let close_notify = self.link.close_notify_received();
        let n = sink.len() as u64;
        self.update(|r| {
            r.bytes_received += n;
            r.ended = Some(end);
            r.client_close_notify |= close_notify;
        });
        end
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any. After the client's FIN was read,
    /// reads only ever see EOF, so this is how an RST that came later shows (CLOSE-06).
    pub fn take_socket_error(&self) -> Option<String> {
        let tcp = self.link.tcp().ok()?;
        tcp.take_error().ok().flatten().map(|e| e.to_string())
    }

    /// Sends a TLS close_notify on this data connection.
    pub fn close_notify(&mut self) -> Result<(), String> {
        self.link.close_notify()
    }

    /// Sends a fatal TLS alert; see [`Conn::send_alert`] for what is sent before and after the
    /// handshake. The connection stays open.
    pub fn send_alert(&mut self, description: u8) -> Result<(), String> {
        if self.link.tls().is_some() {
            return self.link.fatal_alert();
        }
        let timeout = self.link.timeout;
        if self.peek_first_byte(timeout)?.is_some() {
            let _ = net::read_available(self.link.tcp()?);
        }
        self.link.write_tcp(&alert_record(description))
    }

    /// Closes normally: a FIN (`shutdown(Write)`), then reads what the client already sent so
    /// the close does not turn into an RST, then closes.
    pub fn fin(mut self) {
        self.link.shutdown(Shutdown::Write);
        if let Ok(tcp) = self.link.tcp() {
            let end = match net::read_available(tcp).1 {
                Some(Got::Reset) => Some(DataEnd::Reset),
                Some(_) => Some(DataEnd::Fin),
                None => None,
            };
            if let Some(end) = end {
                self.update(|d| d.ended = Some(end));
            }
        }
        self.link.close();
    }

    /// Closes with an RST (SO_LINGER 0, then close).
    pub fn rst(mut self) {
        self.link.rst();
    }
}
