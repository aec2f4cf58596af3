//! Data connections: [`DataListener`] (passive mode) and [`DataConn`].

use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ServerConfig;

use super::control::{alert_record, lock, show, Conn, HANDSHAKE_RECORD};
use super::net::{self, Bound, Got};
use super::record::{DataEnd, DataRecord, Record};
use super::tls::{Event, Link};

mod hostile;

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

    /// Reads until the client's close_notify, EOF or reset, or until nothing arrives for the
    /// server's timeout. Returns the payload and how it ended.
    pub fn read_to_end(&mut self) -> Result<(Vec<u8>, DataEnd), String> {
        let (out, end) = self.read_until(usize::MAX)?;
        Ok((out, end.unwrap_or(DataEnd::Timeout)))
    }

    /// Reads until at least `n` payload bytes arrived (for a partial upload, CLOSE-07) or the
    /// client's side ended (then the end is returned too). Each wait is bounded by the
    /// server's timeout.
    pub fn read_at_least(&mut self, n: usize) -> Result<(Vec<u8>, Option<DataEnd>), String> {
        self.read_until(n)
    }

    fn read_until(&mut self, n: usize) -> Result<(Vec<u8>, Option<DataEnd>), String> {
        let mut out = std::mem::take(&mut self.pending);
        let tls = self.link.tls().is_some();
        let end = loop {
            if self.link.close_notify_received() {
                break Some(DataEnd::CloseNotify);
            }
            if out.len() >= n {
                break None;
            }
            let before = out.len();
            let deadline = Instant::now() + self.link.timeout;
            match self.link.read_event(&mut out, deadline) {
                Ok(Event::Data(_)) => {
                    if !tls && out.len() > before {
                        self.note_first_byte(out[before]);
                    }
                }
                Ok(Event::Fin) => break Some(DataEnd::Fin),
                Ok(Event::Reset) => break Some(DataEnd::Reset),
                Ok(Event::Timeout) => break Some(DataEnd::Timeout),
                Err(e) => {
                    let n = out.len() as u64;
                    self.update(|d| d.bytes_received += n);
                    return Err(e);
                }
            }
        };
        let close_notify = self.link.close_notify_received();
        let len = out.len() as u64;
        self.update(|d| {
            d.bytes_received += len;
            if end.is_some() {
                d.ended = end;
            }
            d.client_close_notify |= close_notify;
        });
        Ok((out, end))
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
