//! The control connection: one stream (clear or TLS), the reply parser, and time-bounded reads.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::error::{Error, Phase, ProtocolError, Result};
use crate::reply::{Reply, ReplyLimits, ReplyParser};
use crate::tls::{SecureConnection, SecureStream, ServerName, TlsError, TlsErrorKind};

use super::config::Timeouts;
use super::io_error;
use super::socket::ack_now;

const READ_CHUNK: usize = 4096;

enum Stream<S> {
    Plain(TcpStream),
    Tls(S),
    /// After `CCC` (RFC 4217 §6): commands and replies go in the clear on `tcp`, and `session`,
    /// the TLS stream after its close_notify exchange, is never read or written again; it stays
    /// the session that data connections resume (RFC 4217 §10.2).
    Cleared {
        tcp: TcpStream,
        session: S,
    },
}

/// The control connection of one client.
pub(crate) struct Control<S> {
    stream: Option<Stream<S>>,
    parser: ReplyParser,
    peer: SocketAddr,
    local: SocketAddr,
    timeouts: Timeouts,
}

impl<S: SecureStream> Control<S> {
    /// Wraps a connected TCP stream.
    pub(crate) fn new(tcp: TcpStream, timeouts: Timeouts, limits: ReplyLimits) -> Result<Self> {
        let peer = tcp.peer_addr().map_err(|e| io_error(Phase::Connect, e))?;
        let local = tcp.local_addr().map_err(|e| io_error(Phase::Connect, e))?;
        tcp.set_write_timeout(Some(timeouts.write))
            .and_then(|()| tcp.set_nodelay(true))
            .map_err(|e| io_error(Phase::Connect, e))?;
        Ok(Control {
            stream: Some(Stream::Plain(tcp)),
            parser: ReplyParser::new(limits),
            peer,
            local,
            timeouts,
        })
    }

    /// The server's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// This side's address of the control connection.
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// The TLS stream, when the control connection is protected.
    pub(crate) fn tls(&self) -> Option<&S> {
        match &self.stream {
            Some(Stream::Tls(s) | Stream::Cleared { session: s, .. }) => Some(s),
            _ => None,
        }
    }

    fn tcp(&self) -> Option<&TcpStream> {
        match &self.stream {
            Some(Stream::Plain(t) | Stream::Cleared { tcp: t, .. }) => Some(t),
            Some(Stream::Tls(s)) => Some(s.tcp()),
            None => None,
        }
    }

    /// Writes `bytes` whole, within the write time limit.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let result = match &mut self.stream {
            Some(Stream::Plain(t) | Stream::Cleared { tcp: t, .. }) => {
                t.write_all(bytes).and_then(|()| t.flush())
            }
            Some(Stream::Tls(s)) => s.write_all(bytes).and_then(|()| s.flush()),
            None => return Err(Error::Unusable),
        };
        result.map_err(|e| stream_error(Phase::Control, e))
    }

    /// Reads the next reply, within the idle and the whole-reply time limits.
    pub(crate) fn read_reply(&mut self, phase: Phase) -> Result<Reply> {
        let deadline = Instant::now() + self.timeouts.reply_total;
        let mut armed = None;
        let result = self.read_reply_until(phase, deadline, &mut armed);
        if armed.is_some_and(Armed::disarm) {
            // The watchdog cut a read that the TLS backend kept alive byte by byte.
            return Err(Error::Timeout {
                phase,
                usable: false,
            });
        }
        result
    }

    fn read_reply_until(
        &mut self,
        phase: Phase,
        deadline: Instant,
        armed: &mut Option<Armed>,
    ) -> Result<Reply> {
        let mut buf = [0u8; READ_CHUNK];
        loop {
            if let Some(reply) = self.parser.next_reply()? {
                log::debug!("<- {reply}");
                return Ok(reply);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    phase,
                    usable: false,
                });
            }
            // The socket time limit bounds each `recv`, but a TLS backend may loop over many
            // of them inside one `read` while a record trickles in (SCENARIOS BAD-02): the
            // watchdog holds the whole reply to its deadline.
            if armed.is_none() {
                if let Some(Stream::Tls(s)) = &self.stream {
                    *armed = Some(Watchdog::arm(s.tcp(), deadline));
                }
            }
            let wait = self.timeouts.reply_idle.min(deadline - now);
            let n = self.read_some(&mut buf, Some(wait), phase)?;
            if n == 0 {
                return Err(Error::ConnectionClosed {
                    phase,
                    partial: self.parser.partial_line().to_vec(),
                });
            }
            self.parser.feed(&buf[..n]);
        }
    }

    fn read_some(&mut self, buf: &mut [u8], wait: Option<Duration>, phase: Phase) -> Result<usize> {
        let Some(tcp) = self.tcp() else {
            return Err(Error::Unusable);
        };
        tcp.set_read_timeout(wait).map_err(|e| io_error(phase, e))?;
        let result = match &mut self.stream {
            Some(Stream::Plain(t) | Stream::Cleared { tcp: t, .. }) => t.read(buf),
            Some(Stream::Tls(s)) => s.read(buf),
            None => return Err(Error::Unusable),
        };
        match result {
            Ok(n) => {
                if n > 0 {
                    if let Some(tcp) = self.tcp() {
                        ack_now(tcp);
                    }
                }
                Ok(n)
            }
            Err(e) if is_timeout(&e) => Err(Error::Timeout {
                phase,
                usable: false,
            }),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Error::ConnectionClosed {
                phase,
                partial: self.parser.partial_line().to_vec(),
            }),
            Err(e) => Err(stream_error(phase, e)),
        }
    }

    /// Whether reply bytes are buffered or arrive (or the connection ends) within `grace`;
    /// consumes nothing, so the TLS layer's state is untouched whatever the answer.
    pub(crate) fn wait_readable(&mut self, grace: Duration) -> Result<bool> {
        if self.parser.has_pending() {
            return Ok(true);
        }
        let Some(tcp) = self.tcp() else {
            return Err(Error::Unusable);
        };
        tcp.set_read_timeout(Some(grace))
            .map_err(|e| io_error(Phase::Control, e))?;
        match tcp.peek(&mut [0u8; 1]) {
            // Bytes, or the end of the connection: the next read tells which.
            Ok(_) => Ok(true),
            Err(e) if is_timeout(&e) => Ok(false),
            Err(e) => Err(stream_error(Phase::Control, e)),
        }
    }

    /// Looks, without waiting, for bytes the server sent while no reply was owed (SCENARIOS
    /// REPLY-12). Returns the complete unsolicited reply if one is there, or an error.
    pub(crate) fn check_idle(&mut self) -> Result<Option<Reply>> {
        if !self.parser.has_pending() {
            let Some(tcp) = self.tcp() else {
                return Err(Error::Unusable);
            };
            tcp.set_nonblocking(true)
                .map_err(|e| io_error(Phase::Control, e))?;
            let mut buf = [0u8; READ_CHUNK];
            let result = match &mut self.stream {
                Some(Stream::Plain(t) | Stream::Cleared { tcp: t, .. }) => t.read(&mut buf),
                Some(Stream::Tls(s)) => s.read(&mut buf),
                None => return Err(Error::Unusable),
            };
            if let Some(tcp) = self.tcp() {
                tcp.set_nonblocking(false)
                    .map_err(|e| io_error(Phase::Control, e))?;
            }
            match result {
                Ok(0) => {
                    return Err(Error::ConnectionClosed {
                        phase: Phase::Control,
                        partial: Vec::new(),
                    })
                }
                Ok(n) => self.parser.feed(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(Error::ConnectionClosed {
                        phase: Phase::Control,
                        partial: Vec::new(),
                    })
                }
                Err(e) => return Err(stream_error(Phase::Control, e)),
            }
        }
        // Something is there: it is a reply nobody asked for. Read it whole (bounded).
        self.read_reply(Phase::Control).map(Some)
    }

    /// Runs the TLS handshake on the control connection.
    pub(crate) fn secure<C: SecureConnection<Stream = S>>(
        &mut self,
        connector: &C,
        server: &ServerName,
        after_code: u16,
    ) -> Result<()> {
        if self.parser.has_pending() {
            let len = self.parser.buffered().len();
            self.close();
            return Err(ProtocolError::DataBeforeHandshake {
                code: after_code,
                len,
            }
            .into());
        }
        // Checked before taking the stream, so a refusal leaves the connection as it was.
        if !matches!(self.stream, Some(Stream::Plain(_))) {
            return Err(Error::InvalidState(
                "the control connection is not in the clear".into(),
            ));
        }
        let Some(Stream::Plain(tcp)) = self.stream.take() else {
            return Err(Error::Unusable);
        };
        let limit = Some(self.timeouts.handshake);
        tcp.set_read_timeout(limit)
            .and_then(|()| tcp.set_write_timeout(limit))
            .map_err(|e| io_error(Phase::ControlHandshake, e))?;
        let stream = bounded_handshake(tcp, self.timeouts.handshake, |tcp| {
            connector.secure_control(tcp, server)
        })
        .map_err(|source| Error::Tls {
            phase: Phase::ControlHandshake,
            reply: None,
            source,
        })?;
        stream
            .tcp()
            .set_write_timeout(Some(self.timeouts.write))
            .map_err(|e| io_error(Phase::ControlHandshake, e))?;
        self.stream = Some(Stream::Tls(stream));
        Ok(())
    }

    /// Clears the control connection after the positive reply to `CCC` (RFC 4217 §6): sends
    /// our close_notify at once (a server may wait for it before it sends its own, SCENARIOS
    /// CCC-02 b), reads up to the server's close_notify within the whole-reply time limit, then
    /// goes on in the clear on the same TCP connection. Nothing is sent in the clear before the
    /// server's close_notify has arrived. The TLS stream stays as the session that data
    /// connections resume.
    pub(crate) fn clear(&mut self) -> Result<()> {
        match &mut self.stream {
            Some(Stream::Tls(s)) => s
                .send_close_notify()
                .map_err(|e| stream_error(Phase::Control, e))?,
            _ => {
                return Err(Error::InvalidState(
                    "the control connection is not protected".into(),
                ))
            }
        }
        let deadline = Instant::now() + self.timeouts.reply_total;
        if !self.read_to_close_notify(deadline)? {
            return Err(Error::Timeout {
                phase: Phase::Control,
                usable: false,
            });
        }
        self.unwrap_tls(true)
    }

    /// After a positive reply to `REIN` on a protected connection: waits up to `grace` for the
    /// server's close_notify (RFC 4217 §13). When it comes, answers it and goes on in the
    /// clear, the TLS session forgotten, and returns `true`. When none comes in time, the
    /// server kept TLS (SCENARIOS D9): returns `false`, still protected.
    pub(crate) fn end_tls_after_rein(&mut self, grace: Duration) -> Result<bool> {
        if !matches!(self.stream, Some(Stream::Tls(_))) {
            return Err(Error::InvalidState(
                "the control connection is not protected".into(),
            ));
        }
        if !self.read_to_close_notify(Instant::now() + grace)? {
            return Ok(false);
        }
        if let Some(Stream::Tls(s)) = &mut self.stream {
            s.send_close_notify()
                .map_err(|e| stream_error(Phase::Control, e))?;
        }
        self.unwrap_tls(false).map(|()| true)
    }

    /// After `REIN` on a cleared connection: the TLS session kept for data connections is
    /// dropped (RFC 4217 §13), so a new `AUTH` starts a new one.
    pub(crate) fn forget_tls(&mut self) {
        if let Some(Stream::Cleared { tcp, .. }) = self.stream.take() {
            self.stream = Some(Stream::Plain(tcp));
        }
    }

    /// Reads the protected stream until the peer's close_notify (`true`) or `deadline`
    /// (`false`). Protected bytes that come before the close_notify go to the reply parser, so
    /// none is lost.
    fn read_to_close_notify(&mut self, deadline: Instant) -> Result<bool> {
        // A record trickled in byte by byte would hold one TLS read past every socket time
        // limit (SCENARIOS BAD-02): the watchdog cuts it one idle limit after the deadline, so
        // it never races the ordinary end of the wait.
        let armed = match &self.stream {
            Some(Stream::Tls(s)) => {
                Some(Watchdog::arm(s.tcp(), deadline + self.timeouts.reply_idle))
            }
            _ => None,
        };
        let result = self.read_to_close_notify_until(deadline);
        if armed.is_some_and(Armed::disarm) {
            return Err(Error::Timeout {
                phase: Phase::Control,
                usable: false,
            });
        }
        result
    }

    fn read_to_close_notify_until(&mut self, deadline: Instant) -> Result<bool> {
        let mut buf = [0u8; READ_CHUNK];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let wait = self.timeouts.reply_idle.min(deadline - now);
            match self.read_some(&mut buf, Some(wait), Phase::Control) {
                Ok(0) => return Ok(true),
                Ok(n) => self.parser.feed(&buf[..n]),
                Err(Error::Timeout { .. }) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the TCP stream back from the TLS stream after the close_notify exchange; the bytes
    /// the backend read past the close_notify go to the reply parser first, so no byte is lost
    /// or read twice. `keep` keeps the TLS stream as the data connections' session (CCC).
    fn unwrap_tls(&mut self, keep: bool) -> Result<()> {
        let Some(Stream::Tls(mut session)) = self.stream.take() else {
            return Err(Error::Unusable);
        };
        match session.unwrap_tcp() {
            Ok((tcp, leftover)) => {
                log::debug!(
                    "control connection in the clear; {} bytes read past the close_notify",
                    leftover.len()
                );
                self.parser.feed(&leftover);
                self.stream = Some(if keep {
                    Stream::Cleared { tcp, session }
                } else {
                    Stream::Plain(tcp)
                });
                Ok(())
            }
            Err(source) => {
                self.stream = Some(Stream::Tls(session));
                Err(Error::Tls {
                    phase: Phase::Control,
                    reply: None,
                    source,
                })
            }
        }
    }

    /// Ends the control connection: close_notify when protected, then the TCP close.
    pub(crate) fn shutdown(&mut self) {
        if let Some(Stream::Tls(s)) = &mut self.stream {
            let _ = s.send_close_notify();
        }
        self.close();
    }

    /// Drops the connection at once (no close_notify): after errors that leave it unusable.
    pub(crate) fn close(&mut self) {
        if let Some(tcp) = self.tcp() {
            let _ = tcp.shutdown(Shutdown::Both);
        }
        self.stream = None;
    }

    /// Whether the connection is still open.
    pub(crate) fn is_open(&self) -> bool {
        self.stream.is_some()
    }
}

/// Whether a socket error is a time-out (`WouldBlock` on Unix, `TimedOut` on Windows).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Turns an error from a possibly-TLS stream into the client's error: a [`TlsError`] carried
/// inside the `io::Error` (or an `InvalidData` error) is a TLS failure, the rest is I/O.
pub(crate) fn stream_error(phase: Phase, e: io::Error) -> Error {
    let kind = e.kind();
    if e.get_ref().is_some_and(|inner| inner.is::<TlsError>()) {
        if let Some(Ok(tls)) = e.into_inner().map(|inner| inner.downcast::<TlsError>()) {
            return Error::Tls {
                phase,
                reply: None,
                source: *tls,
            };
        }
        return io_error(phase, io::Error::from(kind));
    }
    if kind == io::ErrorKind::InvalidData {
        let message = e.to_string();
        return Error::Tls {
            phase,
            reply: None,
            source: TlsError::new(TlsErrorKind::Other, message).with_source(e),
        };
    }
    io_error(phase, e)
}

/// Runs `handshake`, a backend's blocking TLS handshake on `tcp`, within `limit` in all: the
/// socket time limits bound each read and write, the [`Watchdog`] the whole handshake, so a
/// server that trickles its handshake messages (SCENARIOS BAD-03) cannot hold it longer. A
/// handshake cut by the deadline fails with [`TlsErrorKind::Timeout`].
pub(crate) fn bounded_handshake<S>(
    tcp: TcpStream,
    limit: Duration,
    handshake: impl FnOnce(TcpStream) -> std::result::Result<S, TlsError>,
) -> std::result::Result<S, TlsError> {
    let armed = Watchdog::arm(&tcp, Instant::now() + limit);
    let result = handshake(tcp);
    if !armed.disarm() {
        return result;
    }
    // Even a handshake that completed at the last moment is over a socket that is shut down.
    let error = TlsError::new(
        TlsErrorKind::Timeout,
        format!("the tls handshake did not complete within {limit:?}"),
    );
    Err(match result {
        Err(cause) => error.with_source(cause),
        Ok(_) => error,
    })
}

/// A deadline on a blocking call that socket time limits alone cannot bound: a backend's TLS
/// handshake, or a read the backend loops on until a whole TLS record is in. The socket time
/// limit bounds each `recv`, so a server that trickles a byte just before each limit (SCENARIOS
/// BAD-02, BAD-03) would hold such a call forever; when the deadline passes, the watchdog shuts
/// the socket down, the blocked call returns, and [`Armed::disarm`] tells the caller that this
/// is why.
///
/// One background thread serves every armed deadline of the process; it starts with the first
/// one and sleeps while none is armed. If it cannot be started, arming does nothing and only
/// the socket time limits apply.
pub(crate) struct Watchdog;

/// One armed deadline of the [`Watchdog`]; dropping it disarms it.
pub(crate) struct Armed {
    id: Option<u64>,
}

struct Entry {
    id: u64,
    deadline: Instant,
    socket: TcpStream,
}

struct Deadlines {
    next_id: u64,
    armed: Vec<Entry>,
    /// Ids that fired and were not disarmed yet.
    fired: Vec<u64>,
    /// When the watchdog thread wakes up next on its own; `None` while it sleeps until woken.
    /// Arming a later deadline needs no wake-up: the thread looks again at that time anyway,
    /// so a steady stream of arms and disarms costs no context switch.
    wakes_at: Option<Instant>,
}

struct Shared {
    deadlines: std::sync::Mutex<Deadlines>,
    wake: std::sync::Condvar,
}

static SHARED: Shared = Shared {
    deadlines: std::sync::Mutex::new(Deadlines {
        next_id: 0,
        armed: Vec::new(),
        fired: Vec::new(),
        wakes_at: None,
    }),
    wake: std::sync::Condvar::new(),
};

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Deadlines> {
        self.deadlines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The watchdog thread: shuts down every socket whose deadline passed, then sleeps until
    /// the next deadline or a new one.
    fn run(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let mut i = 0;
            while i < state.armed.len() {
                if state.armed[i].deadline <= now {
                    let entry = state.armed.swap_remove(i);
                    log::debug!("deadline passed: shutting the socket down");
                    let _ = entry.socket.shutdown(Shutdown::Both);
                    state.fired.push(entry.id);
                } else {
                    i += 1;
                }
            }
            let next = state.armed.iter().map(|e| e.deadline).min();
            state.wakes_at = next;
            state = match next {
                None => self
                    .wake
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(deadline) => {
                    self.wake
                        .wait_timeout(state, deadline.saturating_duration_since(now))
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

impl Watchdog {
    /// The shared deadlines, once the thread runs; `None` if it could not be started.
    fn shared() -> Option<&'static Shared> {
        static STARTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let started = *STARTED.get_or_init(|| {
            let spawned = std::thread::Builder::new()
                .name("ftps-watchdog".into())
                .spawn(|| SHARED.run());
            match spawned {
                Ok(_) => true,
                Err(e) => {
                    log::warn!(
                        "cannot start the watchdog thread, only socket time limits apply: {e}"
                    );
                    false
                }
            }
        });
        started.then_some(&SHARED)
    }

    /// Shuts `tcp` down at `deadline` unless the returned guard is disarmed first.
    pub(crate) fn arm(tcp: &TcpStream, deadline: Instant) -> Armed {
        let Some(shared) = Self::shared() else {
            return Armed { id: None };
        };
        let socket = match tcp.try_clone() {
            Ok(s) => s,
            Err(e) => {
                log::warn!("cannot arm the watchdog, only socket time limits apply: {e}");
                return Armed { id: None };
            }
        };
        let mut state = shared.lock();
        let id = state.next_id;
        state.next_id = state.next_id.wrapping_add(1);
        state.armed.push(Entry {
            id,
            deadline,
            socket,
        });
        let wake = state.wakes_at.is_none_or(|at| deadline < at);
        drop(state);
        if wake {
            shared.wake.notify_one();
        }
        Armed { id: Some(id) }
    }
}

impl Armed {
    /// Disarms the deadline; `true` if it had already passed and the socket was shut down.
    pub(crate) fn disarm(mut self) -> bool {
        self.take()
    }

    fn take(&mut self) -> bool {
        let (Some(id), Some(shared)) = (self.id.take(), Watchdog::shared()) else {
            return false;
        };
        let mut state = shared.lock();
        if let Some(i) = state.armed.iter().position(|e| e.id == id) {
            // Dropping the entry closes the watchdog's handle, not the socket.
            state.armed.swap_remove(i);
            return false;
        }
        match state.fired.iter().position(|f| *f == id) {
            Some(i) => {
                state.fired.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.take();
    }
}

#[cfg(test)]
pub(crate) mod tests;
