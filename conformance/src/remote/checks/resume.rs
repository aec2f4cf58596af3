//! Restarted transfers (REST-01 download, REST-04 upload) and ABOR during a protected
//! download (ABOR-01).

use std::io::{Cursor, Read};

use ftps_core::{Error, SecureConnection};

use super::transfer::round_trip;
use super::{one, Findings};
use crate::remote::context::{describe, ensure, fail, Ctx};
use crate::remote::data::{content, sha256, Pattern};

/// ABOR-01's file: large enough that the server is still sending when ABOR arrives.
const ABORTED: u64 = 16 * 1024 * 1024;

/// REST-01: `REST n` then RETR gives the file from byte n; the next RETR starts at 0 again.
/// A server that refuses REST makes it n/a.
pub(super) fn download<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch("REST-01", |client, scratch| {
        let body = content(256 * 1024, 11);
        let name = scratch.file("restart.bin");
        client
            .upload(&name, &mut body.as_slice())
            .map_err(|e| ctx.err("STOR", e))?;
        let offset = 100_000;
        client.restart_at(offset as u64);
        let mut tail = Vec::new();
        let outcome = client
            .download(&name, &mut tail)
            .map_err(|e| ctx.err_or_na("REST and RETR", e))?;
        ensure(tail == body[offset..], || {
            format!(
                "after REST {offset}, RETR gave {} bytes (want the last {})",
                tail.len(),
                body.len() - offset
            )
        })?;
        ensure(outcome.bytes() == tail.len() as u64, || {
            format!("the outcome counts {} bytes", outcome.bytes())
        })?;
        let mut whole = Vec::new();
        client
            .download(&name, &mut whole)
            .map_err(|e| ctx.err("RETR after the restarted one", e))?;
        ensure(sha256(&whole) == sha256(&body), || {
            format!(
                "the RETR after the restarted one gave {} bytes (want {})",
                whole.len(),
                body.len()
            )
        })
    });
    one("REST-01", step)
}

/// REST-04: part of a file is on the server; `resume_upload` (SIZE, REST, STOR) sends the
/// rest, or APPE where the server refuses REST before STOR; the result is the whole file.
pub(super) fn upload<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch("REST-04", |client, scratch| {
        let full = content(300_000, 12);
        let part = 120_000;
        let name = scratch.file("resumed.bin");
        client
            .upload(&name, &mut &full[..part])
            .map_err(|e| ctx.err("STOR of the first part", e))?;
        let mut source = Cursor::new(full.as_slice());
        let outcome = match client.resume_upload(&name, &mut source) {
            Ok(outcome) => outcome,
            Err(Error::Unsupported(why)) => {
                log::info!("REST before STOR refused ({why}): resuming with APPE");
                source.set_position(0);
                client
                    .resume_upload_appending(&name, &mut source)
                    .map_err(|e| ctx.err_or_na("SIZE and APPE", e))?
            }
            Err(e) => return Err(ctx.err_or_na("SIZE, REST and STOR", e)),
        };
        ensure(outcome.bytes() == (full.len() - part) as u64, || {
            format!(
                "the resumed upload sent {} bytes (want {})",
                outcome.bytes(),
                full.len() - part
            )
        })?;
        let mut back = Vec::new();
        client
            .download(&name, &mut back)
            .map_err(|e| ctx.err("RETR", e))?;
        ensure(sha256(&back) == sha256(&full), || {
            format!(
                "the resumed file has {} bytes (want {}) or differs",
                back.len(),
                full.len()
            )
        })
    });
    one("REST-04", step)
}

/// ABOR-01: ABOR in the middle of a 16 MiB protected download: the transfer's final reply and
/// the ABOR's are read (an `Aborted` error with the 426, or the 226 of a transfer that had
/// completed), and the connection carries on with a round trip.
pub(super) fn abort<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch("ABOR-01", |client, scratch| {
        let name = scratch.file("aborted.bin");
        client
            .upload(&name, &mut Pattern::new(ABORTED, 16))
            .map_err(|e| ctx.err("STOR", e))?;
        let mut download = client.retr(&name).map_err(|e| ctx.err("RETR", e))?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut read = 0;
        while read < buf.len() {
            match download.read(&mut buf[read..]) {
                Ok(0) => break,
                Ok(n) => read += n,
                Err(e) => return fail(format!("reading the download: {e}")),
            }
        }
        ensure(read == buf.len(), || {
            format!("the download ended after {read} bytes")
        })?;
        match download.abort() {
            Ok(reply) => {
                log::info!("the server had completed the transfer before ABOR: {reply}");
                ensure(reply.is_completion(), || {
                    format!("ABOR returned the reply {reply}")
                })?;
            }
            Err(Error::Aborted { reply }) => {
                log::info!(
                    "transfer aborted, final reply {}",
                    reply.map_or_else(|| "none".to_owned(), |r| r.to_string())
                );
            }
            Err(e) => {
                return fail(format!(
                    "ABOR: expected Aborted or the 226, got {}",
                    describe(&e)
                ))
            }
        }
        client.noop().map_err(|e| ctx.err("NOOP after ABOR", e))?;
        round_trip(ctx, client, scratch, "after-abort.bin", 10_000, 17).map(|_| ())
    });
    one("ABOR-01", step)
}
