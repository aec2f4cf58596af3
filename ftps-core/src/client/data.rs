//! Data connections: passive (EPSV, PASV) and active (EPRT, PORT), secured through the backend.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::command::{Command, ProtectionLevel};
use crate::error::{Error, Phase, ProtocolError, Result};
use crate::passive::{parse_epsv, parse_pasv};
use crate::session::Action;
use crate::tls::{CloseState, SecureConnection, SecureStream, SessionInfo};

use super::config::{DataConnectionMode, PassiveAddress};
use super::control::{bounded_handshake, is_timeout, stream_error};
use super::socket::accept_blocks_for;
use super::{io_error, Client};

/// One data connection: clear or TLS.
pub(crate) enum DataStream<S> {
    Plain(TcpStream),
    Tls(S),
}

impl<S: SecureStream> DataStream<S> {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            DataStream::Plain(t) => t,
            DataStream::Tls(s) => s.tcp(),
        }
    }

    /// How the peer ended the stream so far; a clear stream has no TLS close.
    pub(crate) fn close_state(&self) -> Option<CloseState> {
        match self {
            DataStream::Plain(_) => None,
            DataStream::Tls(s) => Some(s.close_state()),
        }
    }

    pub(crate) fn session_info(&self) -> Option<SessionInfo> {
        match self {
            DataStream::Plain(_) => None,
            DataStream::Tls(s) => Some(s.session_info()),
        }
    }

    /// Sends close_notify (TLS only) and shuts down the write half.
    pub(crate) fn close_write(&mut self) -> io::Result<()> {
        if let DataStream::Tls(s) = self {
            s.send_close_notify()?;
        }
        self.tcp().shutdown(Shutdown::Write)
    }
}

impl<S: SecureStream> Read for DataStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            DataStream::Plain(t) => t.read(buf),
            DataStream::Tls(s) => s.read(buf),
        }
    }
}

impl<S: SecureStream> Write for DataStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            DataStream::Plain(t) => t.write(buf),
            DataStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            DataStream::Plain(t) => t.flush(),
            DataStream::Tls(s) => s.flush(),
        }
    }
}

/// A data connection being set up: connected (passive) or waiting for the server (active).
pub(crate) enum Prepared {
    Connected(TcpStream),
    Listening(TcpListener),
}

/// What a transfer command got before its data connection is usable.
pub(crate) struct Opened<S> {
    pub(crate) stream: DataStream<S>,
    /// A 2xx that came instead of a 1xx: the transfer's final reply is already known.
    pub(crate) early_final: Option<crate::reply::Reply>,
    /// The (last) preliminary reply.
    pub(crate) preliminary: Option<crate::reply::Reply>,
}

impl<C: SecureConnection> Client<C> {
    /// Opens the data connection for `command` and sends it: the EPSV/PASV or EPRT/PORT
    /// exchange, the transfer command and its preliminary reply, then the data TLS handshake
    /// when Private is in force.
    pub(crate) fn open_transfer(&mut self, command: &Command) -> Result<Opened<C::Stream>> {
        let prepared = self.prepare_data()?;
        if let Some(offset) = self.restart_offset.take() {
            self.simple(&Command::Rest(offset))?;
        }
        self.send_command(command)?;
        // Active mode: the server may connect before or after its 1xx (vsftpd connects first
        // and answers 425 if it cannot), so the listener and the control connection are
        // watched together. The listener is closed once the connection arrived.
        let (tcp, preliminary) = match prepared {
            Prepared::Connected(tcp) => (tcp, None),
            Prepared::Listening(listener) => self.accept_data(&listener, command)?,
        };
        let (preliminary, early_final) = match preliminary {
            Some(reply) => (Some(reply), None),
            None => match self.read_action(Phase::Control)? {
                Action::AwaitFinal(reply) => (Some(reply), None),
                Action::Done(reply) => (None, Some(reply)),
                // The data connection is dropped here, before any TLS handshake.
                Action::Refused(reply) => return Err(transfer_refusal(command, reply)),
                other => return Err(self.unexpected(command, other)),
            },
        };
        let stream = self.secure_data(tcp)?;
        Ok(Opened {
            stream,
            early_final,
            preliminary,
        })
    }

    fn secure_data(&mut self, tcp: TcpStream) -> Result<DataStream<C::Stream>> {
        let timeouts = self.config.timeouts;
        tcp.set_nodelay(true)
            .and_then(|()| tcp.set_write_timeout(Some(timeouts.handshake)))
            .and_then(|()| tcp.set_read_timeout(Some(timeouts.handshake)))
            .map_err(|e| io_error(Phase::DataConnect, e))?;
        if self.session.data_protection() == ProtectionLevel::Clear {
            set_data_timeouts(&tcp, timeouts.data_idle, timeouts.write)?;
            return Ok(DataStream::Plain(tcp));
        }
        let Some(control) = self.control.tls() else {
            return Err(Error::InvalidState(
                "private data needs a protected control connection".into(),
            ));
        };
        let connector = &self.connector;
        let server_name = &self.server_name;
        let secured = bounded_handshake(tcp, timeouts.handshake, |tcp| {
            connector.secure_data(tcp, server_name, control)
        });
        match secured {
            Ok(stream) => {
                set_data_timeouts(stream.tcp(), timeouts.data_idle, timeouts.write)?;
                Ok(DataStream::Tls(stream))
            }
            Err(source) => {
                // The server owes the transfer's final reply (522 or 425, RFC 4217 §10.2); the
                // error carries both. A server that closes the control connection instead
                // (Pure-FTPd's session process exits) gives `ConnectionClosed`, and a 421
                // gives `ServiceClosing`: either way the connection is unusable.
                let reply = match self.read_final(Phase::Control) {
                    Ok(Action::Done(r) | Action::Refused(r)) => Some(r),
                    Ok(Action::ServiceClosing(reply)) => {
                        log::debug!("data handshake failed: {source}");
                        self.mark_broken();
                        return Err(Error::ServiceClosing { reply });
                    }
                    Err(closed @ Error::ConnectionClosed { .. }) => {
                        log::debug!("data handshake failed: {source}");
                        self.mark_broken();
                        return Err(closed);
                    }
                    Ok(_) | Err(_) => {
                        self.mark_broken();
                        None
                    }
                };
                Err(Error::Tls {
                    phase: Phase::DataHandshake,
                    reply,
                    source,
                })
            }
        }
    }

    fn prepare_data(&mut self) -> Result<Prepared> {
        match self.config.data_mode {
            DataConnectionMode::Passive | DataConnectionMode::Pasv => {
                self.passive().map(Prepared::Connected)
            }
            DataConnectionMode::Active => self.active().map(Prepared::Listening),
        }
    }

    fn passive(&mut self) -> Result<TcpStream> {
        let peer = self.control.peer();
        let target = if self.epsv_works {
            match self.command_reply(&Command::Epsv)? {
                Ok(reply) => {
                    let port = parse_epsv(&reply.first_line()).map_err(|_| {
                        ProtocolError::BadReplyText {
                            what: "229",
                            text: reply.text(),
                        }
                    })?;
                    Some(SocketAddr::new(peer.ip(), port))
                }
                Err(reply) if matches!(reply.code(), 500..=502) => {
                    // The server does not know EPSV: use PASV from now on (RFC 2428 §3).
                    self.epsv_works = false;
                    None
                }
                Err(reply) => {
                    return Err(Error::Reply {
                        reply,
                        command: "EPSV".into(),
                    })
                }
            }
        } else {
            None
        };
        let target = match target {
            Some(t) => t,
            None => {
                let reply = self
                    .command_reply(&Command::Pasv)?
                    .map_err(|reply| Error::Reply {
                        reply,
                        command: "PASV".into(),
                    })?;
                let (ip, port) =
                    parse_pasv(&reply.text()).map_err(|_| ProtocolError::BadReplyText {
                        what: "227",
                        text: reply.text(),
                    })?;
                match self.config.passive_address {
                    PassiveAddress::ControlPeer => SocketAddr::new(peer.ip(), port),
                    PassiveAddress::DangerFromReply => {
                        SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)
                    }
                }
            }
        };
        TcpStream::connect_timeout(&target, self.config.timeouts.connect).map_err(|e| {
            if is_timeout(&e) {
                Error::Timeout {
                    phase: Phase::DataConnect,
                    usable: true,
                }
            } else {
                Error::Io {
                    phase: Phase::DataConnect,
                    usable: true,
                    source: e,
                }
            }
        })
    }

    fn active(&mut self) -> Result<TcpListener> {
        let local = self.control.local();
        let listener = TcpListener::bind(SocketAddr::new(local.ip(), 0))
            .map_err(|e| io_error(Phase::DataConnect, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| io_error(Phase::DataConnect, e))?;
        let command = match addr {
            SocketAddr::V4(v4) => Command::Port(v4),
            SocketAddr::V6(_) => Command::Eprt(addr),
        };
        self.command_reply(&command)?
            .map_err(|reply| Error::Reply {
                reply,
                command: command.verb().to_owned(),
            })?;
        Ok(listener)
    }

    /// Active mode: waits for the server's connection from the control peer's address only
    /// (stray connections are closed at once, SCENARIOS BAD-10), watching the control
    /// connection meanwhile: a 1xx is kept and returned with the connection, a final reply
    /// ends the wait (DATA-11). At the data-accept time limit the transfer is aborted.
    fn accept_data(
        &mut self,
        listener: &TcpListener,
        command: &Command,
    ) -> Result<(TcpStream, Option<crate::reply::Reply>)> {
        let deadline = Instant::now() + self.config.timeouts.data_accept;
        let peer_ip = self.control.peer().ip();
        let mut preliminary = None;
        loop {
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), ACCEPT_SLICE);
            let blocking = accept_blocks_for(listener, slice);
            listener
                .set_nonblocking(!blocking)
                .map_err(|e| io_error(Phase::DataConnect, e))?;
            match listener.accept() {
                Ok((tcp, from)) if from.ip() == peer_ip => {
                    tcp.set_nonblocking(false)
                        .map_err(|e| io_error(Phase::DataConnect, e))?;
                    return Ok((tcp, preliminary));
                }
                Ok((stray, from)) => {
                    log::warn!("refused a data connection from {from}: not the control peer");
                    drop(stray);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => return Err(io_error(Phase::DataConnect, e)),
            }
            if let Some(reply) = self
                .control
                .check_idle()
                .inspect_err(|_| self.mark_broken())?
            {
                match self.session.handle_reply(reply) {
                    // The server connects next (or is connecting): keep waiting.
                    Action::AwaitFinal(reply) => preliminary = Some(reply),
                    Action::Refused(reply) | Action::Done(reply) => {
                        return Err(transfer_refusal(command, reply))
                    }
                    other => return Err(self.unexpected(command, other)),
                }
            }
            if Instant::now() >= deadline {
                self.abort_after_local_failure();
                return Err(Error::Timeout {
                    phase: Phase::DataConnect,
                    usable: !self.broken,
                });
            }
            if !blocking {
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }
}

/// How long one wait for the server's active-mode connection lasts before the control
/// connection is looked at again (for a final reply that ends the wait, DATA-11).
const ACCEPT_SLICE: Duration = Duration::from_millis(50);

/// Where `accept` cannot block with a time limit, how often it is retried.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

fn set_data_timeouts(tcp: &TcpStream, idle: Duration, write: Duration) -> Result<()> {
    tcp.set_read_timeout(Some(idle))
        .and_then(|()| tcp.set_write_timeout(Some(write)))
        .map_err(|e| io_error(Phase::Data, e))
}

/// The error for a negative reply to a transfer command: 521, 522 and 534 say the protection
/// level is wrong (RFC 4217 §10.2); anything else is a plain refusal.
pub(crate) fn transfer_refusal(command: &Command, reply: crate::reply::Reply) -> Error {
    match reply.code() {
        521 | 522 | 534 => Error::DataProtectionRequired { reply },
        _ => Error::Reply {
            reply,
            command: command.verb().to_owned(),
        },
    }
}

/// Maps an I/O error on an established data connection.
pub(crate) fn data_error(e: io::Error) -> Error {
    if is_timeout(&e) {
        return Error::Timeout {
            phase: Phase::Data,
            usable: true,
        };
    }
    stream_error(Phase::Data, e)
}
