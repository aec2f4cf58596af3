//! Aborting a transfer on request: [`Download::abort`] and [`Upload::abort`].
//!
//! RFC 4217 §14: TLS has no urgent data, so `ABOR` goes as exactly `ABOR\r\n` inside TLS, with
//! no TCP urgent data and no Telnet IP or Synch bytes (SCENARIOS decision D12). The data
//! connection is closed first, without close_notify: a server that reads its control
//! connection only between writes (vsftpd without urgent data) then sees its write fail and
//! gets to the `ABOR`. Then exactly the replies owed are read (RFC 959 §4.1.3, §5.4): the
//! transfer's final reply, unless it was read already, and the `ABOR`'s own. Some servers
//! (Pure-FTPd: `226 Since you see this ABOR must've succeeded`) send one reply for both; when
//! the second does not follow the first within [`SECOND_REPLY_GRACE`], a `NOOP` tells a late
//! second reply from none at all, so the client is never one reply behind.

use std::time::Duration;

use crate::command::Command;
use crate::error::{Error, Phase, ProtocolError, Result};
use crate::reply::Reply;
use crate::session::MAX_PRELIMINARY;
use crate::tls::SecureConnection;

use super::super::data::DataStream;
use super::{Client, Download, Upload};

/// How long the second reply owed after `ABOR` may lag behind the first before the client asks,
/// with `NOOP`, whether it is coming at all.
const SECOND_REPLY_GRACE: Duration = Duration::from_millis(250);

impl<C: SecureConnection> Download<'_, C> {
    /// Aborts the download: closes the data connection, sends `ABOR` (inside TLS, nothing
    /// urgent) and reads the transfer's final reply and the `ABOR`'s reply.
    ///
    /// - The transfer was cut: [`Error::Aborted`] with the transfer's final reply (usually
    ///   `426`); the connection stays usable.
    /// - The server had completed the transfer before the `ABOR` arrived: `Ok` with its
    ///   positive final reply (`226`). The caller may still have read only part of the file.
    /// - The replies do not come within the control timeouts: [`Error::Timeout`], and the
    ///   connection is unusable (closed).
    pub fn abort(mut self) -> Result<Reply> {
        self.finished = true;
        let stream = self.stream.take();
        let early_final = self.early_final.take();
        let restarted = self.restarted;
        let client = &mut *self.client;
        client.close_for_abort(stream);
        client.abort_transfer(early_final, restarted)
    }
}

impl<C: SecureConnection> Upload<'_, C> {
    /// Aborts the upload: closes the data connection *without* close_notify, so the server
    /// cannot take the cut file for a complete one (RFC 8446 §6.1), sends `ABOR` and reads the
    /// replies owed. The outcomes are those of [`Download::abort`]: usually
    /// [`Error::Aborted`] with the transfer's `426`.
    pub fn abort(mut self) -> Result<Reply> {
        self.finished = true;
        let stream = self.stream.take();
        let restarted = self.restarted;
        let client = &mut *self.client;
        client.close_for_abort(stream);
        client.abort_transfer(None, restarted)
    }
}

impl<C: SecureConnection> Client<C> {
    /// Keeps the data connection's TLS session for [`Client::last_data_session_info`], then
    /// closes the connection: a plain TCP close, never a close_notify.
    fn close_for_abort(&mut self, stream: Option<DataStream<C::Stream>>) {
        if let Some(info) = stream.as_ref().and_then(DataStream::session_info) {
            self.last_data_session = Some(info);
        }
        drop(stream);
    }

    /// Sends `ABOR` for the transfer in progress and reads the replies owed: the transfer's
    /// final reply (unless `early_final` already is it) and the `ABOR`'s reply. Returns the
    /// transfer's final reply if positive, [`Error::Aborted`] if negative.
    fn abort_transfer(&mut self, early_final: Option<Reply>, restarted: bool) -> Result<Reply> {
        self.abandoned_transfer = false;
        let result = self.abort_exchange(early_final);
        if restarted && result.is_err() {
            self.restart_not_used_up();
        }
        self.guard(result)
    }

    fn abort_exchange(&mut self, early_final: Option<Reply>) -> Result<Reply> {
        if self.broken || !self.control.is_open() {
            return Err(Error::Unusable);
        }
        self.send_command(&Command::Abor)?;
        let (transfer, abor) = match early_final {
            Some(reply) => (reply, self.abort_reply()?),
            None => {
                let first = self.abort_reply()?;
                match self.second_abort_reply()? {
                    Some(second) if answers_abor_only(&first) => (second, first),
                    Some(second) => (first, second),
                    // One reply answered both the transfer and the ABOR.
                    None => (first.clone(), first),
                }
            }
        };
        self.session.reset_in_flight();
        log::debug!("ABOR: the transfer ended with {transfer}, the ABOR got {abor}");
        if transfer.is_completion() {
            Ok(transfer)
        } else if transfer.is_negative() {
            Err(Error::Aborted {
                reply: Some(transfer),
            })
        } else {
            self.mark_broken();
            Err(ProtocolError::UnexpectedReply {
                command: "ABOR".into(),
                reply: transfer,
            }
            .into())
        }
    }

    /// The second reply owed after `ABOR`, or `None` if the server sent only one: a reply that
    /// starts within [`SECOND_REPLY_GRACE`] is read; otherwise `NOOP` is sent, and since the
    /// server answers in order, its `200` coming first means no second reply was owed.
    fn second_abort_reply(&mut self) -> Result<Option<Reply>> {
        if self
            .control
            .wait_readable(SECOND_REPLY_GRACE)
            .inspect_err(|_| self.mark_broken())?
        {
            return self.abort_reply().map(Some);
        }
        self.session.reset_in_flight();
        self.send_command(&Command::Noop)?;
        let reply = self.abort_reply()?;
        if reply.code() == 200 {
            log::debug!("ABOR: the server sent one reply for the transfer and the ABOR");
            return Ok(None);
        }
        let noop = self.abort_reply()?;
        if noop.code() != 200 {
            self.mark_broken();
            return Err(ProtocolError::UnexpectedReply {
                command: "NOOP".into(),
                reply: noop,
            }
            .into());
        }
        Ok(Some(reply))
    }

    /// Reads one final reply during the abort: a `421` ends the session, preliminary replies
    /// are skipped (at most [`MAX_PRELIMINARY`]), and any failure to read leaves the
    /// connection unusable and closed (SCENARIOS ABOR-04).
    fn abort_reply(&mut self) -> Result<Reply> {
        let mut preliminary = 0;
        loop {
            let reply = match self.control.read_reply(Phase::Control) {
                Ok(reply) => reply,
                Err(e) => {
                    self.mark_broken();
                    return Err(e);
                }
            };
            if reply.code() == 421 {
                self.mark_broken();
                return Err(Error::ServiceClosing { reply });
            }
            if !reply.is_preliminary() {
                return Ok(reply);
            }
            preliminary += 1;
            if preliminary > MAX_PRELIMINARY {
                self.mark_broken();
                return Err(ProtocolError::TooManyPreliminaryReplies.into());
            }
            log::debug!("preliminary reply {reply} while aborting");
        }
    }
}

/// Whether `reply`, the first one after `ABOR` while a transfer's final reply is owed, can
/// only be the `ABOR`'s: `225` (no transfer in progress) or a "not understood" `500`, `501`
/// or `502` from a server without ABOR (SCENARIOS ABOR-02 c). A transfer that got its `1xx`
/// never ends with these. Anything else is the transfer's reply, which RFC 959 §4.1.3 sends
/// first.
fn answers_abor_only(reply: &Reply) -> bool {
    matches!(reply.code(), 225 | 500 | 501 | 502)
}

#[cfg(test)]
mod tests {
    use super::answers_abor_only;
    use crate::reply::Reply;

    #[test]
    fn only_abor_replies_are_taken_for_the_abors() {
        for code in [225, 500, 501, 502] {
            assert!(answers_abor_only(&Reply::new(code, "x")), "{code}");
        }
        for code in [226, 250, 425, 426, 451, 551] {
            assert!(!answers_abor_only(&Reply::new(code, "x")), "{code}");
        }
    }
}
