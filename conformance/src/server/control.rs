//! [`Conn`]: the server's side of the control connection, what a script drives.

use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::data::{DataConn, DataListener};
use super::net::{self, Got};
use super::options::ServerOptions;
use super::pki::Pki;
use super::record::{CloseSeen, DataEnd, DataRecord, Record};
use super::tls::{Event, Link, TlsConfigs};

mod hostile;

/// The longest command line the server buffers.
const MAX_LINE: usize = 64 * 1024;

/// The TLS record type of a handshake message: the first byte of a ClientHello.
pub(crate) const HANDSHAKE_RECORD: u8 = 0x16;

/// Locks the shared record, recovering it after a panic elsewhere.
pub(crate) fn lock(record: &Mutex<Record>) -> MutexGuard<'_, Record> {
    record.lock().unwrap_or_else(|e| e.into_inner())
}

/// Shows bytes for an error message: lossy UTF-8, at most 200 bytes.
pub(crate) fn show(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(200)];
    format!("{:?}", String::from_utf8_lossy(cut))
}

/// A plaintext TLS alert record (level fatal), sent in place of a handshake.
pub(crate) fn alert_record(description: u8) -> [u8; 7] {
    [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]
}

/// The server's side of the control connection, cleartext until [`Conn::start_tls`] and
/// protected after. Every wait is bounded by [`ServerOptions::accept_timeout`] unless the call
/// takes its own bound. Errors are messages for the scenario's failure report.
///
/// Everything the client sends is recorded; see [`Conn::record`].
pub struct Conn {
    link: Link,
    inbuf: Vec<u8>,
    record: Arc<Mutex<Record>>,
    options: ServerOptions,
    pki: &'static Pki,
    configs: TlsConfigs,
    sent_234: bool,
    peer: SocketAddr,
    local: SocketAddr,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.peer)
            .field("protected", &self.protected())
            .finish_non_exhaustive()
    }
}

impl Conn {
    pub(crate) fn new(
        tcp: TcpStream,
        peer: SocketAddr,
        options: ServerOptions,
        pki: &'static Pki,
        stop: Arc<AtomicBool>,
    ) -> Result<Conn, String> {
        let configs = TlsConfigs::new(&options, pki)?;
        let local = tcp
            .local_addr()
            .map_err(|e| format!("local_addr failed: {e}"))?;
        Ok(Conn {
            link: Link::new(tcp, stop, options.accept_timeout),
            inbuf: Vec::new(),
            record: Arc::new(Mutex::new(Record::default())),
            options,
            pki,
            configs,
            sent_234: false,
            peer,
            local,
        })
    }

    /// A copy of everything recorded so far.
    pub fn record(&self) -> Record {
        lock(&self.record).clone()
    }

    /// This server's options.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// The PKI the server's certificates come from.
    pub fn pki(&self) -> &'static Pki {
        self.pki
    }

    /// The client's address on the control connection.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The server's address on the control connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// True once the control TLS handshake completed.
    pub fn protected(&self) -> bool {
        self.link.tls().is_some()
    }

    fn timeout(&self) -> Duration {
        self.options.accept_timeout
    }

    /// Reads more bytes into `inbuf`, recording cleartext and urgent data.
    fn fill(&mut self, deadline: Instant) -> Result<Event, String> {
        let before = self.inbuf.len();
        let protected = self.protected();
        let event = self.link.read_event(&mut self.inbuf, deadline)?;
        let mut rec = lock(&self.record);
        if !protected && self.inbuf.len() > before {
            if self.sent_234 && rec.first_after_234.is_none() {
                rec.first_after_234 = Some(self.inbuf[before]);
            }
            rec.cleartext.extend_from_slice(&self.inbuf[before..]);
        }
        if let Ok(tcp) = self.link.tcp() {
            rec.urgent_bytes += net::take_urgent(tcp);
        }
        Ok(event)
    }

    fn note_sent(&mut self, bytes: &[u8]) {
        if !self.protected() && bytes.starts_with(b"234") {
            self.sent_234 = true;
        }
    }

    /// Sends `line` and CRLF in one write (one TLS record when protected).
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        log::debug!("S{} {line}", if self.protected() { "*" } else { ":" });
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.note_sent(&bytes);
        self.link.write(&bytes)
    }

    /// Sends exactly `bytes` in one write (one TLS record when protected, up to 16 KiB).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.note_sent(bytes);
        self.link.write(bytes)
    }

    /// Sends `bytes` in chunks of `chunk` bytes, each its own TCP segment (or TLS record),
    /// flushed, with `delay` between chunks.
    pub fn send_split(
        &mut self,
        bytes: &[u8],
        chunk: usize,
        delay: Duration,
    ) -> Result<(), String> {
        self.note_sent(bytes);
        for (i, part) in bytes.chunks(chunk.max(1)).enumerate() {
            if i > 0 && !delay.is_zero() {
                net::pause(delay, &self.link.stop)?;
            }
            self.link.write(part)?;
        }
        Ok(())
    }

    /// Sends `bytes` straight to TCP, outside TLS even on a protected connection ("plaintext
    /// where TLS is expected").
    pub fn send_tcp_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.link.write_tcp(bytes)
    }

    /// Receives the next command line, without its line end, as raw bytes, and records it.
    ///
    /// `Err("client closed")` on EOF.
    pub fn recv_raw(&mut self) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + self.timeout();
        loop {
            if let Some(pos) = self.inbuf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.inbuf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let text = String::from_utf8_lossy(&line).into_owned();
                log::debug!("C{} {text}", if self.protected() { "*" } else { ":" });
                lock(&self.record).commands.push((self.protected(), text));
                return Ok(line);
            }
            if self.inbuf.len() > MAX_LINE {
                return Err(format!("command line longer than {MAX_LINE} bytes"));
            }
            match self.fill(deadline)? {
                Event::Data(_) => {}
                Event::Fin => return Err("client closed".into()),
                Event::Reset => return Err("client reset the connection".into()),
                Event::Timeout => {
                    let partial = if self.inbuf.is_empty() {
                        String::new()
                    } else {
                        format!(" (partial line {})", show(&self.inbuf))
                    };
                    return Err(format!(
                        "no command from the client within {:?}{partial}",
                        self.timeout()
                    ));
                }
            }
        }
    }

    /// Receives the next command line (lossy UTF-8, without its line end) and records it.
    pub fn recv(&mut self) -> Result<String, String> {
        self.recv_raw()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
    }

    /// Receives a command and requires it to be exactly `command`.
    pub fn expect(&mut self, command: &str) -> Result<(), String> {
        let got = self
            .recv()
            .map_err(|e| format!("expected {command:?}: {e}"))?;
        if got == command {
            Ok(())
        } else {
            Err(format!("expected {command:?}, got {got:?}"))
        }
    }

    /// Receives a command, requires its verb (the first word, case-insensitive) to be `verb`,
    /// and returns its argument (the rest after one space, possibly empty).
    pub fn expect_verb(&mut self, verb: &str) -> Result<String, String> {
        let got = self.recv().map_err(|e| format!("expected {verb}: {e}"))?;
        let (v, arg) = got.split_once(' ').unwrap_or((got.as_str(), ""));
        if v.eq_ignore_ascii_case(verb) {
            Ok(arg.to_owned())
        } else {
            Err(format!("expected {verb}, got {got:?}"))
        }
    }

    /// Requires that no byte arrives for `d`. A close (FIN or RST) is fine.
    pub fn expect_silence(&mut self, d: Duration) -> Result<(), String> {
        let deadline = Instant::now() + d;
        loop {
            if !self.inbuf.is_empty() {
                return Err(format!("expected silence, got {}", show(&self.inbuf)));
            }
            match self.fill(deadline)? {
                Event::Data(_) => {}
                Event::Fin | Event::Reset | Event::Timeout => return Ok(()),
            }
        }
    }

    /// Waits up to `d` for bytes from the client and returns, unparsed, everything received
    /// but not yet read as a command (recorded as cleartext when the connection is not
    /// protected): for scripts that meet a client speaking the wrong protocol (IMPL-03).
    /// Empty if the client closed (FIN or RST) first; an error if nothing came within `d`.
    pub fn recv_bytes(&mut self, d: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + d;
        while self.inbuf.is_empty() {
            match self.fill(deadline)? {
                Event::Data(_) => {}
                Event::Fin | Event::Reset => break,
                Event::Timeout => return Err(format!("no bytes from the client within {d:?}")),
            }
        }
        Ok(std::mem::take(&mut self.inbuf))
    }

    /// Waits up to `d` for the client to close the control connection, and tells whether a
    /// TLS close_notify came before the TCP end. Any command instead is an error, and so is no
    /// sign of closing at all. The result is also kept in [`Record::control_close`].
    pub fn expect_eof(&mut self, d: Duration) -> Result<CloseSeen, String> {
        let deadline = Instant::now() + d;
        let seen = loop {
            if !self.inbuf.is_empty() {
                return Err(format!(
                    "expected the client to close, got {}",
                    show(&self.inbuf)
                ));
            }
            let close_notify = self.link.close_notify_received();
            match self.fill(deadline)? {
                Event::Data(_) => {}
                Event::Fin => {
                    break CloseSeen {
                        close_notify: self.link.close_notify_received(),
                        end: DataEnd::Fin,
                    }
                }
                Event::Reset => {
                    break CloseSeen {
                        close_notify,
                        end: DataEnd::Reset,
                    }
                }
                Event::Timeout if close_notify => {
                    break CloseSeen {
                        close_notify,
                        end: DataEnd::Timeout,
                    }
                }
                Event::Timeout => {
                    return Err(format!(
                        "the client did not close the connection within {d:?}"
                    ))
                }
            }
        };
        lock(&self.record).control_close = Some(seen);
        Ok(seen)
    }

    /// Runs the server side of the control TLS handshake with [`ServerOptions::cert`] and the
    /// pinned version, and records the version, cipher suite, client certificate or error.
    ///
    /// The first byte from the client must be `0x16`; otherwise what arrived is recorded as
    /// cleartext and the call fails without a handshake.
    pub fn start_tls(&mut self) -> Result<(), String> {
        if self.protected() {
            return Err("tls already started on the control connection".into());
        }
        let result = self.start_tls_inner();
        let mut rec = lock(&self.record);
        match (&result, self.link.tls()) {
            (Ok(()), Some(tls)) => {
                rec.control_version = tls.version();
                rec.control_cipher = tls.cipher();
                rec.control_client_cert = tls.client_cert();
                rec.control_sni = tls.sni();
            }
            (Err(e), _) => rec.control_tls_error = Some(e.clone()),
            (Ok(()), None) => {}
        }
        result
    }

    fn start_tls_inner(&mut self) -> Result<(), String> {
        let initial = std::mem::take(&mut self.inbuf);
        let first = match initial.first() {
            Some(b) => *b,
            None => {
                let tcp = self.link.tcp()?;
                match net::peek(tcp, self.link.bound(self.timeout()))? {
                    (_, Some(b)) => {
                        let mut rec = lock(&self.record);
                        if self.sent_234 && rec.first_after_234.is_none() {
                            rec.first_after_234 = Some(b);
                        }
                        b
                    }
                    (Got::Timeout, None) => {
                        return Err(format!("no TLS ClientHello within {:?}", self.timeout()))
                    }
                    (_, None) => return Err("client closed before the tls handshake".into()),
                }
            }
        };
        self.sent_234 = false;
        if first != HANDSHAKE_RECORD {
            let tcp = self.link.tcp()?;
            let (more, _) = net::read_available(tcp);
            lock(&self.record).cleartext.extend_from_slice(&more);
            let mut all = initial;
            all.extend_from_slice(&more);
            return Err(format!(
                "expected a TLS handshake record (0x16), got {}",
                show(&all)
            ));
        }
        let config = self.configs.control.clone();
        let defer = self.options.defer_control_tickets;
        self.link
            .handshake(config, &initial, defer, &mut self.inbuf)
    }

    /// From now on, data handshakes cannot resume any earlier session: the data connections
    /// get a fresh, empty session cache of their own, as if the client's session cache had been
    /// cleared (SESS-04), and a data certificate ([`ServerOptions::data_cert`]) is always
    /// presented in a full handshake (SESS-05).
    pub fn forget_data_sessions(&mut self) {
        let mut config = rustls::ServerConfig::clone(&self.configs.data);
        config.session_storage = rustls::server::ServerSessionMemoryCache::new(256);
        self.configs.data = Arc::new(config);
    }

    /// Sends a TLS close_notify on the control connection.
    pub fn close_notify(&mut self) -> Result<(), String> {
        self.link.close_notify()
    }

    /// Sends `line` and CRLF, then a TLS close_notify, in one TCP write (CCC-02 c).
    pub fn send_then_close_notify(&mut self, line: &str) -> Result<(), String> {
        log::debug!("S* {line} + close_notify");
        self.link
            .write_then_close_notify(format!("{line}\r\n").as_bytes())
    }

    /// Sends `line` and CRLF inside TLS, a TLS close_notify, then `clear` outside TLS, in one
    /// TCP write: bytes right after the close_notify that the client must neither lose nor
    /// read twice (CCC-02). Follow with [`Conn::wait_close_notify`] and [`Conn::end_tls`].
    pub fn send_close_notify_then_clear(&mut self, line: &str, clear: &[u8]) -> Result<(), String> {
        log::debug!("S* {line} + close_notify + S: {}", show(clear));
        self.link
            .write_close_notify_clear(format!("{line}\r\n").as_bytes(), clear)
    }

    /// After the client's close_notify: watches the control connection for `d` and fails if
    /// the client sends anything more (cleartext before the server's own close_notify, which
    /// a server still inside TLS would misread, CCC-02) or closes.
    pub fn expect_nothing_after_close_notify(&mut self, d: Duration) -> Result<(), String> {
        if !self.link.close_notify_received() {
            return Err("no close_notify from the client yet".into());
        }
        let deadline = Instant::now() + d;
        loop {
            let after = self.link.bytes_after_close_notify();
            if after > 0 {
                return Err(format!(
                    "the client sent {after} bytes after its close_notify, before the server's"
                ));
            }
            match self.fill(deadline)? {
                Event::Data(_) => {}
                Event::Fin => return Err("client closed after its close_notify".into()),
                Event::Reset => return Err("client reset after its close_notify".into()),
                Event::Timeout => return Ok(()),
            }
        }
    }

    /// True once the client's TLS close_notify arrived on the control connection.
    pub fn client_close_notify(&self) -> bool {
        self.link.close_notify_received()
    }

    /// Waits up to `d` for the client's TLS close_notify on the control connection (CCC,
    /// REIN). A command before it, a close, or no alert in time is an error.
    pub fn wait_close_notify(&mut self, d: Duration) -> Result<(), String> {
        if !self.protected() {
            return Err("the control connection is not protected".into());
        }
        let deadline = Instant::now() + d;
        while !self.link.close_notify_received() {
            if !self.inbuf.is_empty() {
                return Err(format!(
                    "expected the client's close_notify, got {}",
                    show(&self.inbuf)
                ));
            }
            match self.fill(deadline)? {
                Event::Data(_) => {}
                Event::Fin => return Err("client closed instead of sending close_notify".into()),
                Event::Reset => return Err("client reset instead of sending close_notify".into()),
                Event::Timeout => {
                    return Err(format!("no close_notify from the client within {d:?}"))
                }
            }
        }
        if !self.inbuf.is_empty() {
            return Err(format!(
                "the client sent protected data before its close_notify: {}",
                show(&self.inbuf)
            ));
        }
        Ok(())
    }

    /// Drops the control TLS session and goes on in the clear on the same TCP connection (CCC,
    /// REIN). Bytes the client sent after its close_notify become cleartext input (and are
    /// recorded as cleartext). Usually preceded by [`Conn::close_notify`] and
    /// [`Conn::wait_close_notify`], in either order.
    pub fn end_tls(&mut self) -> Result<(), String> {
        if !self.protected() {
            return Err("the control connection is not protected".into());
        }
        let after = self.link.end_tls();
        if !after.is_empty() {
            lock(&self.record).cleartext.extend_from_slice(&after);
        }
        self.inbuf.extend_from_slice(&after);
        Ok(())
    }

    /// After a handshake the server failed: reads and discards whatever the client still
    /// sends (it cannot be decrypted) until the client closes the connection, or fails after
    /// `d`. Closing first would reset the connection and could destroy the alert the server
    /// sent before the client reads it.
    pub fn wait_client_gone(&mut self, d: Duration) -> Result<(), String> {
        let tcp = self.link.tcp()?;
        let bound = self.link.bound(d);
        let mut buf = [0u8; 4096];
        loop {
            match net::read(tcp, &mut buf, bound)? {
                Got::Data(_) => {}
                Got::Eof | Got::Reset => return Ok(()),
                Got::Timeout => {
                    return Err(format!(
                        "the client kept the connection open for {d:?} after the failed handshake"
                    ))
                }
            }
        }
    }

    /// Closes the control connection normally: `shutdown(Both)`, a FIN.
    pub fn fin(&mut self) {
        self.link.shutdown(Shutdown::Both);
    }

    /// Closes the control connection with an RST (SO_LINGER 0, then close). Later calls fail.
    pub fn rst(&mut self) {
        self.link.rst();
    }

    /// Sends a fatal TLS alert.
    ///
    /// - Before the control handshake (after a `234`): reads the client's ClientHello and
    ///   answers with a plaintext fatal alert record carrying `description` (for example 40,
    ///   handshake_failure, or 70, protocol_version), as a server that fails the handshake
    ///   does.
    /// - On a protected connection: rustls cannot send an alert on demand, so the server sends
    ///   a fatal `bad_record_mac` (20) whatever `description` says, encrypted as TLS requires;
    ///   the session is dead afterwards.
    ///
    /// The TCP connection stays open; follow with [`Conn::fin`] or [`Conn::rst`].
    pub fn send_alert(&mut self, description: u8) -> Result<(), String> {
        if self.protected() {
            if description != 20 {
                log::debug!("alert {description} requested; rustls sends bad_record_mac");
            }
            return self.link.fatal_alert();
        }
        self.inbuf.clear();
        let tcp = self.link.tcp()?;
        if let (_, Some(b)) = net::peek(tcp, self.link.bound(self.timeout()))? {
            let mut rec = lock(&self.record);
            if self.sent_234 && rec.first_after_234.is_none() {
                rec.first_after_234 = Some(b);
            }
            drop(rec);
            let _ = net::read_available(tcp);
        }
        self.sent_234 = false;
        self.link.write_tcp(&alert_record(description))
    }

    /// Plays `[secure-login]`: `220`, `AUTH TLS`/`234`, the handshake, `USER alice`/`331`,
    /// `PASS secret`/`230`, `PBSZ 0`/`200`, `PROT P`/`200`.
    pub fn secure_login(&mut self) -> Result<(), String> {
        self.secure_login_clear()?;
        self.expect("PROT P")?;
        self.send("200 Protection set to Private")
    }

    /// Plays `[secure-login C]`: the same as [`Conn::secure_login`] without `PROT P`.
    pub fn secure_login_clear(&mut self) -> Result<(), String> {
        self.send("220 ftps test server ready")?;
        self.expect("AUTH TLS")?;
        self.send("234 Proceed with negotiation.")?;
        self.start_tls()?;
        self.expect("USER alice")?;
        self.send("331 Password required")?;
        self.expect("PASS secret")?;
        self.send("230 Logged in")?;
        self.expect("PBSZ 0")?;
        self.send("200 PBSZ=0")
    }

    /// Expects `EPSV`, listens on a new port and sends
    /// `229 Entering Extended Passive Mode (|||port|)`.
    pub fn epsv(&mut self) -> Result<DataListener, String> {
        self.expect_verb("EPSV")?;
        let listener = self.listen_data()?;
        self.send(&format!(
            "229 Entering Extended Passive Mode (|||{}|)",
            listener.port()
        ))?;
        Ok(listener)
    }

    /// Expects `PASV`, listens on a new port and sends
    /// `227 Entering Passive Mode (127,0,0,1,p1,p2).`
    pub fn pasv(&mut self) -> Result<DataListener, String> {
        self.expect_verb("PASV")?;
        let listener = self.listen_data()?;
        self.send(&pasv_reply(listener.addr()))?;
        Ok(listener)
    }

    /// Listens for a data connection on the control connection's local address (on the first
    /// free port of [`ServerOptions::passive_ports`], or one the system picks), and sends
    /// nothing (the script sends its own reply).
    pub fn listen_data(&mut self) -> Result<DataListener, String> {
        let ip = self.local.ip();
        let listener = match self.options.passive_ports.clone() {
            None => TcpListener::bind(SocketAddr::new(ip, 0))
                .map_err(|e| format!("data listener bind failed: {e}"))?,
            Some(ports) => ports
                .clone()
                .find_map(|port| TcpListener::bind(SocketAddr::new(ip, port)).ok())
                .ok_or_else(|| format!("no free passive port in {ports:?}"))?,
        };
        DataListener::new(listener)
    }

    /// Listens for a data connection on `ip` (not the control connection's address), port 0,
    /// and sends nothing: for a passive reply that names another address (DATA-02's opt-in).
    pub fn listen_data_on(&mut self, ip: IpAddr) -> Result<DataListener, String> {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("data listener bind on {ip} failed: {e}"))?;
        DataListener::new(listener)
    }

    /// Active mode: connects to the client's PORT/EPRT address.
    pub fn connect_data(&mut self, addr: SocketAddr) -> Result<DataConn, String> {
        let tcp = net::connect(addr, None, self.timeout())?;
        Ok(self.new_data(tcp, addr))
    }

    /// Active mode from a chosen local address, such as `127.0.0.2` (BAD-10).
    pub fn connect_data_from(
        &mut self,
        addr: SocketAddr,
        from: IpAddr,
    ) -> Result<DataConn, String> {
        let tcp = net::connect(addr, Some(from), self.timeout())?;
        Ok(self.new_data(tcp, addr))
    }

    /// Wraps an accepted or connected data connection and records it.
    pub(crate) fn new_data(&self, tcp: TcpStream, peer: SocketAddr) -> DataConn {
        let index = {
            let mut rec = lock(&self.record);
            rec.data.push(DataRecord {
                peer: Some(peer),
                ..DataRecord::default()
            });
            rec.data.len() - 1
        };
        DataConn::new(
            Link::new(tcp, self.link.stop.clone(), self.timeout()),
            self.record.clone(),
            index,
            self.configs.data.clone(),
            self.options.require_resumption,
        )
    }

    /// The server's stop flag, for waits outside this connection.
    pub(crate) fn stop_flag(&self) -> &AtomicBool {
        &self.link.stop
    }
}

/// The 227 reply for a listener: its IPv4 address, or `127,0,0,1` for an IPv6 one.
pub(crate) fn pasv_reply(addr: SocketAddr) -> String {
    let octets = match addr.ip() {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(_) => [127, 0, 0, 1],
    };
    let port = addr.port();
    format!(
        "227 Entering Passive Mode ({},{},{},{},{},{}).",
        octets[0],
        octets[1],
        octets[2],
        octets[3],
        port >> 8,
        port & 0xff
    )
}
