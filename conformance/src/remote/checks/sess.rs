//! Session reuse and long transfers: many data connections in a row, each resuming the control
//! session (SESS-01/02 by version, SESS-03), the refusal of a data connection that does not
//! resume (SESS-04), and a large file up (CLOSE-06) and down (CLOSE-01).

use ftps_core::{Capability, Error, SecureConnection, TlsErrorKind, TransferOutcome};

use super::{merge, one, Findings};
use crate::remote::context::{
    describe, ensure, fail, is_resumption_refusal, not_applicable, resumed, Ctx, Step,
};
use crate::remote::data::{content, sha256, HashSink, Pattern};
use crate::scenario::Outcome;

/// Alternating STOR and RETR round trips (two data connections each).
const ROUND_TRIPS: usize = 25;
/// Uploads in a row afterwards (an uploader never reads, so tickets must still arrive).
const UPLOADS_IN_A_ROW: usize = 20;
/// The large file: streamed from a generator and into a hasher, never held in memory.
const LARGE: u64 = 32 * 1024 * 1024;

/// SESS-01 (TLS 1.2) or SESS-02 (TLS 1.3), by the control session's version: the first data
/// connection resumes the control session. SESS-03: a listing, 25 round trips and 20 uploads
/// in a row (71 data connections), every one resumed.
pub(super) fn many_resumed<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    const IDS: [&str; 3] = ["SESS-01", "SESS-02", "SESS-03"];
    if let Err(outcome) = ctx.reports_resumption() {
        return IDS.iter().map(|id| (*id, outcome.clone())).collect();
    }
    let mut findings = Findings::new();
    let step = ctx.in_scratch("SESS-03", |client, scratch| {
        let version = client
            .control_session_info()
            .and_then(|i| i.protocol_version().map(str::to_owned))
            .unwrap_or_default();
        client.list(None).map_err(|e| ctx.err("LIST", e))?;
        let first = client.last_data_session_info().and_then(|s| s.resumed());
        // A server that accepted a data connection that did not resume may simply have issued
        // nothing to resume (Pure-FTPd sends no TLS 1.3 ticket): then resumption is n/a here,
        // as long as no later data connection resumes either.
        let server_resumes = first == Some(true);
        let first_outcome = if server_resumes {
            Outcome::Pass
        } else {
            Outcome::NotApplicable(format!(
                "the server accepted the first data connection (LIST) without resuming the \
                 {version} control session: it issued no session to resume"
            ))
        };
        let mut resumed_later = 0;
        let mut check_resumed = |outcome: &TransferOutcome, what: &str| {
            if server_resumes {
                resumed(outcome, what)
            } else {
                resumed_later +=
                    usize::from(outcome.data_session().and_then(|s| s.resumed()) == Some(true));
                Ok(())
            }
        };
        let (this, other) = match version.as_str() {
            "TLSv1.2" => ("SESS-01", "SESS-02"),
            "TLSv1.3" => ("SESS-02", "SESS-01"),
            _ => return fail(format!("unexpected control session version {version:?}")),
        };
        findings.push((this, first_outcome));
        findings.push((
            other,
            Outcome::NotApplicable(format!("the control session is {version}")),
        ));
        for i in 0..ROUND_TRIPS {
            let name = scratch.file(&format!("small-{i}.bin"));
            let body = content(1000 + i * 37, 100 + i as u64);
            let up = client
                .upload(&name, &mut body.as_slice())
                .map_err(|e| ctx.err(&format!("STOR {name}"), e))?;
            check_resumed(&up, &format!("STOR {name} (round trip {})", i + 1))?;
            let mut back = Vec::new();
            let down = client
                .download(&name, &mut back)
                .map_err(|e| ctx.err(&format!("RETR {name}"), e))?;
            check_resumed(&down, &format!("RETR {name} (round trip {})", i + 1))?;
            ensure(sha256(&back) == sha256(&body), || {
                format!("{name} came back different ({} bytes)", back.len())
            })?;
        }
        for i in 0..UPLOADS_IN_A_ROW {
            let name = scratch.file(&format!("row-{i}.bin"));
            let body = content(2000 + i * 11, 500 + i as u64);
            let up = client
                .upload(&name, &mut body.as_slice())
                .map_err(|e| ctx.err(&format!("STOR {name}"), e))?;
            check_resumed(&up, &format!("STOR {name} (upload {} in a row)", i + 1))?;
        }
        let names = client.nlst(None).map_err(|e| ctx.err("NLST", e))?;
        ensure(names.len() >= ROUND_TRIPS + UPLOADS_IN_A_ROW, || {
            format!("NLST names {} files after the uploads", names.len())
        })?;
        let last = client.last_data_session_info().and_then(|s| s.resumed());
        if !server_resumes {
            ensure(resumed_later == 0 && last != Some(true), || {
                format!(
                    "the first data connection did not resume, but {resumed_later} later ones \
                     did: the client missed a session it had"
                )
            })?;
            return not_applicable(
                "the server accepted every data connection without resumption and resumed \
                 none: it issues no session to resume (every transfer checked by SHA-256)",
            );
        }
        ensure(last == Some(true), || {
            format!("the final NLST did not resume ({last:?})")
        })
    });
    let step = step.map(|()| findings.push(("SESS-03", Outcome::Pass)));
    merge(findings, &IDS, step)
}

/// SESS-04: a backend that cannot resume, against a server that requires reuse, gets the
/// refusal as a typed error (`ResumptionRefused`, with the server's 522) and no hang. n/a for
/// backends that resume, and for servers that do not require reuse.
pub(super) fn refusal<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    if ctx.supports(Capability::Resumption) {
        return one(
            "SESS-04",
            not_applicable("the backend resumes every data connection: nothing to refuse"),
        );
    }
    let step = (|| -> Step {
        let mut client = ctx.connect()?;
        match client.list(None) {
            Ok(_) => {
                let _ = client.quit();
                not_applicable(
                    "the server accepted a data connection that did not resume: it does not \
                     require session reuse",
                )
            }
            Err(e) if is_resumption_refusal(&e) => match &e {
                Error::Tls { source, reply, .. }
                    if source.kind() == TlsErrorKind::ResumptionRefused =>
                {
                    log::info!(
                        "the server refused the data connection as expected: {}",
                        describe(&e)
                    );
                    ensure(reply.is_some(), || {
                        "the refusal carries no final reply from the server".into()
                    })
                }
                _ => fail(format!(
                    "a 522 without the typed ResumptionRefused error: {}",
                    describe(&e)
                )),
            },
            Err(e) => fail(format!(
                "LIST without session reuse: expected ResumptionRefused or success, got {}",
                describe(&e)
            )),
        }
    })();
    one("SESS-04", step)
}

/// CLOSE-06: a 32 MiB upload, streamed, ends with close_notify and the server confirms all of
/// it (SIZE, where the server has it). CLOSE-01: the download ends with the server's
/// close_notify, then 226, with the same SHA-256.
pub(super) fn large_file<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    const IDS: [&str; 2] = ["CLOSE-06", "CLOSE-01"];
    let mut findings = Findings::new();
    let step = ctx.in_scratch("CLOSE-06", |client, scratch| {
        let name = scratch.file("large.bin");
        let mut source = Pattern::new(LARGE, 32);
        let up = client
            .upload(&name, &mut source)
            .map_err(|e| ctx.err("STOR of the large file", e))?;
        ensure(up.bytes() == LARGE, || {
            format!("STOR sent {} bytes of {LARGE}", up.bytes())
        })?;
        ensure(up.reply().is_completion(), || {
            format!("STOR ended with {}", up.reply())
        })?;
        match client.size(&name) {
            Ok(size) => ensure(size == LARGE, || {
                format!("the server stored {size} bytes of {LARGE}")
            })?,
            Err(Error::Reply { reply, .. }) if matches!(reply.code(), 500 | 502) => {
                log::info!("no SIZE ({reply}): the download checks the stored length")
            }
            Err(e) => return Err(ctx.err("SIZE", e)),
        }
        findings.push(("CLOSE-06", Outcome::Pass));
        let mut sink = HashSink::new();
        let down = client
            .download(&name, &mut sink)
            .map_err(|e| ctx.err("RETR of the large file", e))?;
        ensure(
            sink.len() == LARGE && sink.digest() == source.digest(),
            || {
                format!(
                    "RETR gave {} bytes of {LARGE}, or a different SHA-256",
                    sink.len()
                )
            },
        )?;
        match down.clean_tls_shutdown() {
            Some(true) => Ok(()),
            Some(false) => not_applicable(
                "the server ended the download without close_notify (a bare FIN that its 226 \
                 vouched for: CLOSE-02)",
            ),
            None => fail("the download ran without TLS"),
        }
    });
    let step = step.map(|()| findings.push(("CLOSE-01", Outcome::Pass)));
    merge(findings, &IDS, step)
}
