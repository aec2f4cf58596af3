//! The control connection: one stream (clear or TLS), the reply parser, and time-bounded reads.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::error::{Error, Phase, ProtocolError, Result};
use crate::reply::{Reply, ReplyLimits, ReplyParser};
use crate::tls::{SecureConnection, SecureStream, ServerName, TlsError, TlsErrorKind};

use super::config::Timeouts;
use super::io_error;

const READ_CHUNK: usize = 4096;

enum Stream<S> {
    Plain(TcpStream),
    Tls(S),
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
            Some(Stream::Tls(s)) => Some(s),
            _ => None,
        }
    }

    fn tcp(&self) -> Option<&TcpStream> {
        match &self.stream {
            Some(Stream::Plain(t)) => Some(t),
            Some(Stream::Tls(s)) => Some(s.tcp()),
            None => None,
        }
    }

    /// Writes `bytes` whole, within the write time limit.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let result = match &mut self.stream {
            Some(Stream::Plain(t)) => t.write_all(bytes).and_then(|()| t.flush()),
            Some(Stream::Tls(s)) => s.write_all(bytes).and_then(|()| s.flush()),
            None => return Err(Error::Unusable),
        };
        result.map_err(|e| stream_error(Phase::Control, e))
    }

    /// Reads the next reply, within the idle and the whole-reply time limits.
    pub(crate) fn read_reply(&mut self, phase: Phase) -> Result<Reply> {
        let deadline = Instant::now() + self.timeouts.reply_total;
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
            Some(Stream::Plain(t)) => t.read(buf),
            Some(Stream::Tls(s)) => s.read(buf),
            None => return Err(Error::Unusable),
        };
        match result {
            Ok(n) => Ok(n),
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
                Some(Stream::Plain(t)) => t.read(&mut buf),
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
        let stream = connector
            .secure_control(tcp, server)
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
