//! Restarted transfers (RFC 3659 §5): the `REST` bookkeeping around [`Client::restart_at`],
//! and resumed uploads ([`Client::resume_upload`]).
//!
//! - `REST n` is always the last command before the transfer command, and transfers always
//!   run under `TYPE I`, so a restart never happens under `TYPE A` (decision D13).
//! - A refused `REST` sends no transfer command (it would silently start at offset 0): `500`
//!   and `502` give [`Error::Unsupported`], other codes [`Error::Reply`] (SCENARIOS REST-02).
//! - A restart the server accepted but that no successful transfer used up leaves a `REST 0`
//!   pending for the next transfer (RFC 3659 §5.3: "If that transfer is not to be restarted,
//!   then "REST 0" should be issued"; SCENARIOS REST-03).

use std::io::{Read, Seek, SeekFrom};

use crate::command::{Command, CommandError, TransferType};
use crate::error::{Error, Phase, Result};
use crate::tls::SecureConnection;

use super::{Client, TransferOutcome};

impl<C: SecureConnection> Client<C> {
    /// Resumes an upload of `source` to `path` (RFC 3659 §4, §5.3): `TYPE I`, `SIZE path` for
    /// the bytes the server already has, then `REST size` and `STOR path` with the rest of
    /// `source`, from that offset (no `REST` when the size is 0).
    ///
    /// A `SIZE` refusal (`550` for a missing file, say) is returned as it is. A remote file
    /// longer than `source` is refused with [`Error::InvalidArgument`] before any transfer.
    pub fn resume_upload(
        &mut self,
        path: impl AsRef<[u8]>,
        source: &mut (impl Read + Seek),
    ) -> Result<TransferOutcome> {
        self.resume_upload_with(path.as_ref(), false, source)
    }

    /// Like [`Client::resume_upload`], but appends the rest of `source` with `APPE path` and
    /// sends no `REST`, for servers that refuse `REST` before `STOR`.
    pub fn resume_upload_appending(
        &mut self,
        path: impl AsRef<[u8]>,
        source: &mut (impl Read + Seek),
    ) -> Result<TransferOutcome> {
        self.resume_upload_with(path.as_ref(), true, source)
    }

    fn resume_upload_with(
        &mut self,
        path: &[u8],
        append: bool,
        source: &mut (impl Read + Seek),
    ) -> Result<TransferOutcome> {
        let command = if append {
            Command::Appe(path.to_vec())
        } else {
            Command::Stor(path.to_vec())
        };
        self.ready()?;
        self.guard(command.validate().map_err(Error::from))?;
        // The size depends on the representation type: binary first (RFC 3659 §4).
        let result = self.binary();
        self.guard(result)?;
        let offset = self.size(path)?;
        let local_io = |source: std::io::Error| Error::Io {
            phase: Phase::Data,
            usable: true,
            source,
        };
        let length = source.seek(SeekFrom::End(0)).map_err(local_io)?;
        if offset > length {
            return Err(Error::InvalidArgument(CommandError::BadArgument {
                verb: command.verb().to_owned(),
                reason: "the remote file is longer than the local source",
            }));
        }
        source.seek(SeekFrom::Start(offset)).map_err(local_io)?;
        if !append && offset > 0 {
            self.restart_offset = Some(offset);
        }
        self.upload_from(&command, source)
    }

    /// `TYPE I` unless binary is already in force.
    pub(super) fn binary(&mut self) -> Result<()> {
        if self.transfer_type != Some(TransferType::Binary) {
            self.simple(&Command::Type(TransferType::Binary))?;
            self.transfer_type = Some(TransferType::Binary);
        }
        Ok(())
    }

    /// A restarted transfer did not complete: the next transfer starts with `REST 0`, unless
    /// the caller asked for another restart meanwhile.
    pub(super) fn restart_not_used_up(&mut self) {
        if self.restart_offset.is_none() {
            self.restart_offset = Some(0);
        }
    }

    /// After opening a transfer that had the restart `requested` pending, when `result` is an
    /// error: a restart not yet sent stays pending; a refused `REST` leaves none (the server
    /// holds no marker), and `500`/`502` become [`Error::Unsupported`]; a `REST n` (n > 0) the
    /// server accepted before the transfer failed leaves `REST 0` pending.
    pub(super) fn settle_restart<T>(
        &mut self,
        requested: Option<u64>,
        result: Result<T>,
    ) -> Result<T> {
        let (Some(offset), Err(e)) = (requested, &result) else {
            return result;
        };
        if self.restart_offset.is_some() {
            return result;
        }
        match e {
            Error::Reply { reply, command } if command == "REST" => {
                if matches!(reply.code(), 500 | 502) {
                    return Err(Error::Unsupported(format!(
                        "restarting transfers: the server answered {reply} to REST"
                    )));
                }
            }
            _ if offset > 0 => self.restart_offset = Some(0),
            _ => {}
        }
        result
    }
}
