//! Transfers as streams: [`Download`] reads, [`Upload`] writes, and `finish` judges the result.
//!
//! A transfer is complete only when the data connection ended properly *and* the server's final
//! reply is positive. A download that ended without close_notify and without a 2xx is an error,
//! never a short file reported as complete. An upload ends with close_notify, a half-close and
//! a bounded drain of the data connection (which also collects TLS 1.3 tickets), and only then
//! is the final reply read. A stream dropped without `finish` makes the next call on the client
//! send `ABOR` and fail with [`Error::Aborted`]; [`Download::abort`] and [`Upload::abort`] do
//! the same at once ([`abort`]). Restarted transfers (`REST`) and resumed uploads are in
//! [`resume`].

mod abort;
mod resume;
#[cfg(test)]
mod tests;

use std::io::{self, Read, Write};

use crate::command::Command;
use crate::error::{Error, Phase, Result};
use crate::listing::{parse_mlsx_line, Entry};
use crate::path::FtpPath;
use crate::reply::Reply;
use crate::session::Action;
use crate::tls::{CloseState, SecureConnection, SessionInfo};

use super::control::is_timeout;
use super::data::{data_error, DataStream, Opened};
use super::socket::ack_now;
use super::Client;

const COPY_CHUNK: usize = 64 * 1024;

/// The result of a completed transfer.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TransferOutcome {
    bytes: u64,
    reply: Reply,
    clean_tls_shutdown: Option<bool>,
    data_session: Option<SessionInfo>,
    unique_name: Option<FtpPath>,
}

impl TransferOutcome {
    /// Bytes moved on the data connection.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The server's final reply (226 or 250).
    pub fn reply(&self) -> &Reply {
        &self.reply
    }

    /// For protected transfers: whether the TLS stream ended with close_notify (`Some(true)`)
    /// or with a bare TCP close that the final reply vouched for (`Some(false)`). `None` for
    /// clear data connections.
    pub fn clean_tls_shutdown(&self) -> Option<bool> {
        self.clean_tls_shutdown
    }

    /// The data connection's TLS session, for protected transfers.
    pub fn data_session(&self) -> Option<&SessionInfo> {
        self.data_session.as_ref()
    }

    /// For `STOU`: the name the server chose (`FILE: name` in the preliminary reply).
    pub fn unique_name(&self) -> Option<&FtpPath> {
        self.unique_name.as_ref()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Open,
    /// close_notify (TLS) or FIN (clear).
    Clean,
    /// TCP EOF without close_notify.
    Truncated,
}

/// A download in progress: an [`io::Read`] of the file's bytes. Call [`Download::finish`] at the
/// end to learn whether the transfer is complete.
pub struct Download<'a, C: SecureConnection> {
    client: &'a mut Client<C>,
    verb: String,
    stream: Option<DataStream<C::Stream>>,
    early_final: Option<Reply>,
    bytes: u64,
    end: End,
    failure: Option<io::Error>,
    finished: bool,
    /// A `REST n` (n > 0) came before the transfer command: if the transfer does not complete,
    /// the next one starts with `REST 0` (RFC 3659 §5.3).
    restarted: bool,
    /// The size the preliminary reply of a whole binary `RETR` announced (`(N bytes)`, as
    /// vsftpd, ProFTPD and others write it): fewer bytes before a bare FIN are a truncation
    /// even without strict TLS EOF.
    announced: Option<u64>,
}

impl<C: SecureConnection> std::fmt::Debug for Download<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("bytes", &self.bytes)
            .field("end", &self.end)
            .finish()
    }
}

impl<C: SecureConnection> Read for Download<'_, C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.end != End::Open || buf.is_empty() {
            return Ok(0);
        }
        if let Some(e) = &self.failure {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(0);
        };
        match stream.read(buf) {
            Ok(0) => {
                // The server may wait for our ACK of its last bytes before it replies.
                ack_now(stream.tcp());
                self.end = match stream.close_state() {
                    None | Some(CloseState::CleanClose) => End::Clean,
                    Some(_) => End::Truncated,
                };
                Ok(0)
            }
            Ok(n) => {
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                // TCP EOF without close_notify: the final reply decides (decision D4).
                ack_now(stream.tcp());
                self.end = End::Truncated;
                Ok(0)
            }
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failure = Some(e);
                Err(copy)
            }
        }
    }
}

impl<C: SecureConnection> Download<'_, C> {
    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Reads what is left of the data (discarding it), ends the data connection (answering the
    /// server's close_notify), reads the final reply and judges the transfer.
    pub fn finish(mut self) -> Result<TransferOutcome> {
        self.finished = true;
        let mut sink = [0u8; COPY_CHUNK];
        while self.end == End::Open && self.failure.is_none() {
            if self.read(&mut sink).is_err() {
                break;
            }
        }
        let mut stream = self.stream.take();
        let data_session = stream.as_ref().and_then(DataStream::session_info);
        let tls = stream.as_ref().is_some_and(|s| s.close_state().is_some());
        if self.end == End::Clean {
            if let Some(s) = stream.as_mut() {
                // Answer the server's close_notify (RFC 5246 §7.2.1, SCENARIOS CLOSE-05).
                let _ = s.close_write();
            }
        }
        drop(stream);
        let client = &mut *self.client;
        client.last_data_session = data_session.clone().or(client.last_data_session.take());
        let not_resumed = tls && client.data_not_resumed(data_session.as_ref());
        let final_reply = match self.early_final.take() {
            Some(reply) => Ok(Action::Done(reply)),
            None => client.read_final(Phase::Control),
        };
        let result = judge_download(
            &self.verb,
            self.bytes,
            self.end,
            self.failure.take(),
            final_reply,
            tls,
            client.config.strict_tls_eof,
            not_resumed,
            data_session,
            self.announced,
        );
        if self.restarted && result.is_err() {
            client.restart_not_used_up();
        }
        client.guard(result)
    }
}

impl<C: SecureConnection> Drop for Download<'_, C> {
    fn drop(&mut self) {
        if !self.finished {
            self.stream = None;
            if self.early_final.is_none() {
                self.client.abandoned_transfer = true;
            }
            if self.restarted {
                self.client.restart_not_used_up();
            }
        }
    }
}

/// How a download's data connection ended, for [`judge_download_end`] (fuzz targets only).
#[cfg(feature = "fuzzing")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataEnd {
    /// Still open: only with a failure (the read failed before the end).
    Open,
    /// close_notify (TLS) or FIN (clear).
    Clean,
    /// TCP EOF without close_notify.
    Truncated,
}

/// The verdict [`Download::finish`] gives for a data connection that ended as `end` (with the
/// read error `failure`, if any) and the session's action for the final reply. Exposed for the
/// fuzz targets in `fuzz/`; not a stable API.
#[cfg(feature = "fuzzing")]
pub fn judge_download_end(
    end: DataEnd,
    failure: Option<io::Error>,
    final_reply: Result<Action>,
    tls: bool,
    strict: bool,
) -> Result<TransferOutcome> {
    let end = match end {
        DataEnd::Open => End::Open,
        DataEnd::Clean => End::Clean,
        DataEnd::Truncated => End::Truncated,
    };
    judge_download(
        "RETR",
        0,
        end,
        failure,
        final_reply,
        tls,
        strict,
        false,
        None,
        None,
    )
}

#[allow(clippy::too_many_arguments)]
fn judge_download(
    verb: &str,
    bytes: u64,
    end: End,
    failure: Option<io::Error>,
    final_reply: Result<Action>,
    tls: bool,
    strict: bool,
    not_resumed: bool,
    data_session: Option<SessionInfo>,
    announced: Option<u64>,
) -> Result<TransferOutcome> {
    let action = match final_reply {
        Ok(action) => action,
        Err(Error::Timeout { phase, .. }) => {
            return Err(Error::Timeout {
                phase,
                usable: false,
            })
        }
        Err(Error::ConnectionClosed { .. }) if end != End::Clean => {
            return Err(Error::Truncated {
                bytes,
                reply: None,
                usable: false,
            })
        }
        Err(e) => return Err(e),
    };
    let reply = match action {
        Action::Done(reply) => reply,
        Action::Refused(reply) if refuses_resumption(&reply, not_resumed) => {
            return Err(resumption_refused(reply));
        }
        Action::Refused(reply) => {
            return Err(match (end, failure) {
                (End::Clean, None) => Error::Reply {
                    reply,
                    command: verb.to_owned(),
                },
                (_, Some(e)) if !is_timeout(&e) && tls => tls_data_error(e, bytes, Some(reply)),
                _ => Error::Truncated {
                    bytes,
                    reply: Some(reply),
                    usable: true,
                },
            })
        }
        Action::ServiceClosing(reply) => return Err(Error::ServiceClosing { reply }),
        Action::AwaitFinal(reply) | Action::SecureControl(reply) | Action::Unexpected(reply) => {
            return Err(unexpected_final(verb, reply))
        }
    };
    if let Some(e) = failure {
        // The final reply came, but the data connection failed: never a success.
        return Err(if is_timeout(&e) {
            Error::Timeout {
                phase: Phase::DataEof,
                usable: true,
            }
        } else if tls {
            tls_data_error(e, bytes, Some(reply))
        } else {
            Error::Truncated {
                bytes,
                reply: Some(reply),
                usable: true,
            }
        });
    }
    let short_of_announced = announced.is_some_and(|size| bytes < size);
    if end == End::Truncated && short_of_announced && !strict {
        log::warn!(
            "{verb}: a bare TCP close after {bytes} of the {} bytes the server announced",
            announced.unwrap_or_default()
        );
    }
    let clean = match end {
        End::Clean => true,
        End::Truncated if strict || short_of_announced => {
            return Err(Error::Truncated {
                bytes,
                reply: Some(reply),
                usable: true,
            })
        }
        _ => false,
    };
    Ok(TransferOutcome {
        bytes,
        reply,
        clean_tls_shutdown: tls.then_some(clean),
        data_session,
        unique_name: None,
    })
}

/// The error for a protected data connection that failed after `bytes` bytes: a TLS failure
/// stays one; a socket failure (a reset, say) is a truncated transfer.
fn tls_data_error(e: io::Error, bytes: u64, reply: Option<Reply>) -> Error {
    match data_error(e) {
        Error::Tls { source, .. } => Error::Tls {
            phase: Phase::Data,
            reply,
            source,
        },
        Error::Io { source, .. } => {
            log::debug!("data connection failed: {source}");
            Error::Truncated {
                bytes,
                reply,
                usable: true,
            }
        }
        other => other,
    }
}

/// Whether `reply` refuses a data connection because its TLS handshake did not resume the
/// control connection's session: after a data handshake that completed without resuming, a
/// `522` (RFC 4217 §10.2: "the '522' reply should indicate this"; vsftpd's
/// `require_ssl_reuse`) or a `425` (ProFTPD's default: `425 Unable to build data connection`,
/// its TLS log saying "client did not reuse TLS session"). A `425` before any handshake (no
/// data connection at all) is not this: then there was no TLS session to resume.
fn refuses_resumption(reply: &Reply, not_resumed: bool) -> bool {
    matches!(reply.code(), 522 | 425) && not_resumed
}

/// The error of [`refuses_resumption`]: a data TLS error that carries the 522; the control
/// connection stays usable.
fn resumption_refused(reply: Reply) -> Error {
    Error::Tls {
        phase: Phase::Data,
        reply: Some(reply),
        source: crate::tls::TlsError::new(
            crate::tls::TlsErrorKind::ResumptionRefused,
            "the server requires tls session reuse and the data connection did not resume \
             the control connection's session",
        ),
    }
}

/// An upload in progress: an [`io::Write`] into the remote file. Call [`Upload::finish`] to
/// end it with close_notify and read the server's verdict; dropping it instead aborts the
/// transfer.
pub struct Upload<'a, C: SecureConnection> {
    client: &'a mut Client<C>,
    verb: String,
    stream: Option<DataStream<C::Stream>>,
    bytes: u64,
    failure: Option<io::Error>,
    unique_name: Option<FtpPath>,
    finished: bool,
    /// As [`Download`]'s: a `REST n` (n > 0) came before the transfer command.
    restarted: bool,
}

impl<C: SecureConnection> std::fmt::Debug for Upload<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl<C: SecureConnection> Write for Upload<'_, C> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(e) = &self.failure {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "upload ended"));
        };
        match stream.write(buf) {
            Ok(n) => {
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failure = Some(e);
                Err(copy)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.stream.as_mut() {
            Some(stream) => stream.flush(),
            None => Ok(()),
        }
    }
}

impl<C: SecureConnection> Upload<'_, C> {
    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Ends the upload: close_notify after the last byte, a half-close, a bounded drain of the
    /// data connection until the server closes it, then the final reply.
    pub fn finish(mut self) -> Result<TransferOutcome> {
        self.finished = true;
        let mut stream = self.stream.take();
        let data_session = stream.as_ref().and_then(DataStream::session_info);
        let tls = stream.as_ref().is_some_and(|s| s.close_state().is_some());
        if self.failure.is_none() {
            if let Some(s) = stream.as_mut() {
                if let Err(e) = s.flush().and_then(|()| s.close_write()) {
                    self.failure = Some(e);
                } else {
                    log::debug!("upload: close_notify and FIN sent, draining the data connection");
                    drain(s, self.client.config.timeouts.data_idle);
                    log::debug!("upload: the server closed the data connection");
                }
            }
        }
        drop(stream);
        let client = &mut *self.client;
        client.last_data_session = data_session.clone().or(client.last_data_session.take());
        let not_resumed = tls && client.data_not_resumed(data_session.as_ref());
        let action = client.read_final(Phase::Control);
        let result = match action {
            Ok(Action::Done(reply)) => match self.failure.take() {
                None => Ok(TransferOutcome {
                    bytes: self.bytes,
                    reply,
                    clean_tls_shutdown: tls.then_some(true),
                    data_session,
                    unique_name: self.unique_name.take(),
                }),
                Some(_) => Err(Error::Truncated {
                    bytes: self.bytes,
                    reply: Some(reply),
                    usable: true,
                }),
            },
            Ok(Action::Refused(reply)) if refuses_resumption(&reply, not_resumed) => {
                Err(resumption_refused(reply))
            }
            Ok(Action::Refused(reply)) => Err(Error::Reply {
                reply,
                command: self.verb.clone(),
            }),
            Ok(Action::ServiceClosing(reply)) => Err(Error::ServiceClosing { reply }),
            Ok(
                Action::AwaitFinal(reply)
                | Action::SecureControl(reply)
                | Action::Unexpected(reply),
            ) => Err(unexpected_final(&self.verb, reply)),
            Err(e) => Err(e),
        };
        if self.restarted && result.is_err() {
            client.restart_not_used_up();
        }
        client.guard(result)
    }
}

impl<C: SecureConnection> Drop for Upload<'_, C> {
    fn drop(&mut self) {
        if !self.finished {
            // No close_notify: the server must not take a cut upload for a complete one.
            self.stream = None;
            self.client.abandoned_transfer = true;
            if self.restarted {
                self.client.restart_not_used_up();
            }
        }
    }
}

/// A final reply of the wrong class for a transfer: the reply sync is unclear (unusable).
fn unexpected_final(verb: &str, reply: Reply) -> Error {
    crate::error::ProtocolError::UnexpectedReply {
        command: verb.to_owned(),
        reply,
    }
    .into()
}

/// Reads the data connection until the server closes it, within `limit` in all; the bytes are
/// discarded (TLS 1.3 tickets among them are kept by the backend). Each read is acknowledged
/// at once: a server that lingers on close waits for that ACK before its final reply.
///
/// After the server's close_notify the TCP stream is read on to its FIN: closing our socket
/// while that FIN is in flight can lose it (the kernel is turning the socket into a time-wait
/// entry), and a server that lingers on close (vsftpd) then waits one retransmission timeout,
/// about 200 ms, before its final reply.
fn drain<S: crate::tls::SecureStream>(stream: &mut DataStream<S>, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while std::time::Instant::now() < deadline {
        let result = stream.read(&mut buf);
        ack_now(stream.tcp());
        match result {
            Ok(0) => break,
            Err(_) => return,
            Ok(_) => {}
        }
    }
    let mut tcp = stream.tcp();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || tcp.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

impl<C: SecureConnection> Client<C> {
    /// Whether a protected data connection did not resume the control session: the backend
    /// says so, or the backend cannot resume at all.
    fn data_not_resumed(&self, data_session: Option<&SessionInfo>) -> bool {
        let backend_resumes = self
            .connector
            .capabilities()
            .supports(crate::tls::Capability::Resumption);
        !backend_resumes || data_session.and_then(SessionInfo::resumed) == Some(false)
    }

    /// Prepares and opens a transfer: checks first, so an invalid argument sends nothing
    /// (SCENARIOS CMD-01); binary type; the wanted data protection; then the data connection,
    /// with `REST` last before the transfer command when a restart is pending (decision D13).
    fn begin(&mut self, command: &Command, binary: bool) -> Result<Opened<C::Stream>> {
        self.ready()?;
        self.guard(command.validate().map_err(Error::from))?;
        let restart = self.restart_offset;
        let result = (|| {
            if binary {
                self.binary()?;
            }
            if self.session.needs_data_protection() {
                self.set_data_protection()?;
            }
            self.open_transfer(command)
        })();
        let result = self.settle_restart(restart, result);
        self.guard(result)
    }

    /// `RETR path`: a [`Download`] to read from.
    pub fn retr(&mut self, path: impl AsRef<[u8]>) -> Result<Download<'_, C>> {
        let command = Command::Retr(path.as_ref().to_vec());
        self.download_stream(&command, true)
    }

    fn download_stream(&mut self, command: &Command, binary: bool) -> Result<Download<'_, C>> {
        let restarted = self.restart_offset.is_some_and(|offset| offset > 0);
        let opened = self.begin(command, binary)?;
        let whole_file = binary && !restarted && matches!(command, Command::Retr(_));
        let announced = opened
            .preliminary
            .as_ref()
            .filter(|_| whole_file)
            .and_then(|reply| announced_size(&reply.first_line()));
        Ok(Download {
            client: self,
            verb: command.verb().to_owned(),
            stream: Some(opened.stream),
            early_final: opened.early_final,
            bytes: 0,
            end: End::Open,
            failure: None,
            finished: false,
            restarted,
            announced,
        })
    }

    /// `RETR path` into `sink`; returns the outcome once the server confirmed the transfer.
    pub fn download(
        &mut self,
        path: impl AsRef<[u8]>,
        sink: &mut impl Write,
    ) -> Result<TransferOutcome> {
        let mut download = self.retr(path)?;
        copy_download(&mut download, sink)?;
        download.finish()
    }

    /// `STOR path`: an [`Upload`] to write into.
    pub fn stor(&mut self, path: impl AsRef<[u8]>) -> Result<Upload<'_, C>> {
        self.upload_stream(&Command::Stor(path.as_ref().to_vec()))
    }

    /// `APPE path`: an [`Upload`] appending to the remote file.
    pub fn appe(&mut self, path: impl AsRef<[u8]>) -> Result<Upload<'_, C>> {
        self.upload_stream(&Command::Appe(path.as_ref().to_vec()))
    }

    /// `STOU`: an [`Upload`] into a file whose name the server picks
    /// ([`TransferOutcome::unique_name`]).
    pub fn stou(&mut self) -> Result<Upload<'_, C>> {
        self.upload_stream(&Command::Stou)
    }

    fn upload_stream(&mut self, command: &Command) -> Result<Upload<'_, C>> {
        let restarted = self.restart_offset.is_some_and(|offset| offset > 0);
        let opened = self.begin(command, true)?;
        let unique_name = opened
            .preliminary
            .as_ref()
            .and_then(|r| unique_name_from(&r.first_line()));
        Ok(Upload {
            client: self,
            verb: command.verb().to_owned(),
            stream: Some(opened.stream),
            bytes: 0,
            failure: None,
            unique_name,
            finished: false,
            restarted,
        })
    }

    /// `STOR path` from `source`; returns the outcome once the server confirmed the transfer.
    /// If `source` fails, the upload is cut without close_notify, `ABOR` is sent and its
    /// replies are read, and the result is [`Error::Aborted`] (the source's error is logged).
    pub fn upload(
        &mut self,
        path: impl AsRef<[u8]>,
        source: &mut impl Read,
    ) -> Result<TransferOutcome> {
        self.upload_from(&Command::Stor(path.as_ref().to_vec()), source)
    }

    /// [`Client::upload`] with `command` (`STOR` or `APPE`).
    fn upload_from(
        &mut self,
        command: &Command,
        source: &mut impl Read,
    ) -> Result<TransferOutcome> {
        let mut upload = self.upload_stream(command)?;
        let mut buf = vec![0u8; COPY_CHUNK];
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // The upload is cut: no close_notify, ABOR, and the owed replies are read;
                    // the caller learns it as an aborted transfer (SCENARIOS CLOSE-08, ABOR-03).
                    drop(upload);
                    log::warn!("the upload's source failed, aborting the transfer: {e}");
                    return Err(self.abort_upload(e));
                }
            };
            if upload.write_all(&buf[..n]).is_err() {
                break; // finish() reads the server's verdict (SCENARIOS CLOSE-07)
            }
        }
        upload.finish()
    }

    /// `LIST [path]`: the listing lines, as the server formats them.
    pub fn list(&mut self, path: Option<&[u8]>) -> Result<Vec<String>> {
        let lines = self.listing(&Command::List(path.map(<[u8]>::to_vec)))?;
        Ok(lines
            .into_iter()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .collect())
    }

    /// `NLST [path]`: the names, byte for byte.
    pub fn nlst(&mut self, path: Option<&[u8]>) -> Result<Vec<FtpPath>> {
        let lines = self.listing(&Command::Nlst(path.map(<[u8]>::to_vec)))?;
        Ok(lines.into_iter().map(FtpPath::new).collect())
    }

    /// `MLSD [path]` (RFC 3659 §7): the entries with their facts.
    ///
    /// A malformed line gives an error for that entry only; the rest of the listing is kept
    /// (SCENARIOS EXT-03).
    pub fn mlsd(
        &mut self,
        path: Option<&[u8]>,
    ) -> Result<Vec<std::result::Result<Entry, crate::listing::ListingError>>> {
        let lines = self.listing(&Command::Mlsd(path.map(<[u8]>::to_vec)))?;
        Ok(lines.iter().map(|l| parse_mlsx_line(l)).collect())
    }

    fn listing(&mut self, command: &Command) -> Result<Vec<Vec<u8>>> {
        let mut download = self.download_stream(command, true)?;
        let mut raw = Vec::new();
        copy_download(&mut download, &mut raw)?;
        download.finish()?;
        Ok(raw
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .filter(|l| !l.is_empty())
            .collect())
    }

    /// After the source of an upload failed: `ABOR` and its replies, then [`Error::Aborted`]
    /// with the transfer's final reply, or the source's error if the connection did not
    /// survive the abort.
    fn abort_upload(&mut self, e: io::Error) -> Error {
        self.abandoned_transfer = false;
        let reply = self.abort_after_local_failure();
        if self.broken {
            Error::Io {
                phase: Phase::Data,
                usable: false,
                source: e,
            }
        } else {
            Error::Aborted { reply }
        }
    }

    fn abandon_after_local_error(&mut self, e: io::Error) -> Error {
        self.abandoned_transfer = false;
        let _ = self.abort_after_local_failure();
        Error::Io {
            phase: Phase::Data,
            usable: !self.broken,
            source: e,
        }
    }
}

/// The size a preliminary reply announces in its last parentheses, `(N bytes)`: vsftpd's and
/// ProFTPD's `150 Opening BINARY mode data connection for f (N bytes).`
fn announced_size(text: &str) -> Option<u64> {
    let inside = &text[text.rfind('(')? + 1..];
    let count = inside
        .strip_suffix(").")
        .or_else(|| inside.strip_suffix(')'))?;
    let digits = count.strip_suffix(" bytes")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The name in a `150 FILE: name` reply to STOU (RFC 1123 §4.1.2.9).
fn unique_name_from(text: &str) -> Option<FtpPath> {
    let start = text.find("FILE: ")? + "FILE: ".len();
    let name = text[start..].trim();
    (!name.is_empty()).then(|| FtpPath::new(name.as_bytes()))
}

/// Copies a download into `sink`; a failure of the data connection is left for `finish` to
/// judge, a failure of `sink` aborts the transfer.
fn copy_download<C: SecureConnection>(
    download: &mut Download<'_, C>,
    sink: &mut impl Write,
) -> Result<()> {
    let mut buf = vec![0u8; COPY_CHUNK];
    loop {
        match download.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                if let Err(e) = sink.write_all(&buf[..n]) {
                    download.finished = true;
                    download.stream = None;
                    if download.restarted {
                        download.client.restart_not_used_up();
                    }
                    return Err(download.client.abandon_after_local_error(e));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(()),
        }
    }
}
