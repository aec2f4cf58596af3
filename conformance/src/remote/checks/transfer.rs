//! Checks of protected data connections: the data modes (DATA-01 EPSV, DATA-02 PASV, DATA-03
//! active), listings (DATA-08), STOR and APPE (DATA-09), a refused transfer (DATA-10), and
//! implicit FTPS data connections (IMPL-04).

use std::io::Write;

use ftps_core::{
    Capability, Client, DataConnectionMode, Error, ProtectionLevel, SecureConnection,
    TransferOutcome,
};

use super::{one, Findings};
use crate::remote::context::{ensure, fail, not_applicable, resumed, Ctx, Scratch, Step};
use crate::remote::data::{content, sha256};

/// Uploads `len` pattern bytes as `name` with STOR, downloads them with RETR and compares
/// SHA-256; both data connections must be protected. Returns both outcomes.
pub(super) fn round_trip<C: SecureConnection + Clone>(
    ctx: &Ctx<C>,
    client: &mut Client<C>,
    scratch: &mut Scratch,
    name: &str,
    len: usize,
    seed: u64,
) -> Step<(TransferOutcome, TransferOutcome)> {
    let body = content(len, seed);
    let name = scratch.file(name);
    let up = client
        .upload(&name, &mut body.as_slice())
        .map_err(|e| ctx.err(&format!("STOR {name}"), e))?;
    ensure(up.bytes() == len as u64, || {
        format!("STOR {name}: {} bytes sent of {len}", up.bytes())
    })?;
    let mut back = Vec::with_capacity(len);
    let down = client
        .download(&name, &mut back)
        .map_err(|e| ctx.err(&format!("RETR {name}"), e))?;
    ensure(back.len() == len && sha256(&back) == sha256(&body), || {
        format!(
            "RETR {name}: {} bytes whose SHA-256 differs from the {len} uploaded",
            back.len()
        )
    })?;
    ensure(down.bytes() == len as u64, || {
        format!("RETR {name}: the outcome counts {} bytes", down.bytes())
    })?;
    ensure(client.data_protection() == ProtectionLevel::Private, || {
        format!(
            "data protection is {:?}, not Private",
            client.data_protection()
        )
    })?;
    ensure(
        up.data_session().is_some() && down.data_session().is_some(),
        || format!("{name}: a data connection without TLS"),
    )?;
    Ok((up, down))
}

/// DATA-01: passive data connections through EPSV, protected, against the control peer.
pub(super) fn epsv<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch("DATA-01", |client, scratch| {
        let features = client.feat().map_err(|e| ctx.err("FEAT", e))?;
        if features.is_empty() {
            return not_applicable(
                "FEAT lists nothing: EPSV cannot be told from the PASV fallback",
            );
        }
        if !features.supports("EPSV") {
            return not_applicable("the server does not list EPSV in FEAT");
        }
        round_trip(ctx, client, scratch, "epsv.bin", 100_000, 1)?;
        let lines = client.list(None).map_err(|e| ctx.err("LIST", e))?;
        ensure(lines.iter().any(|l| l.contains("epsv.bin")), || {
            format!("LIST does not show epsv.bin: {lines:?}")
        })
    });
    one("DATA-01", step)
}

/// DATA-02: passive data connections through PASV, forced with
/// [`DataConnectionMode::Pasv`] (no EPSV): a listing and a round trip. A server that refuses
/// PASV (an IPv6-only one, say) makes it n/a.
pub(super) fn pasv<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let connect = ctx.connect_in(DataConnectionMode::Pasv);
    let step = ctx.in_scratch_with("DATA-02", connect, |client, scratch| {
        match client.nlst(None) {
            Ok(_) => {}
            Err(Error::Reply { reply, command }) if command == "PASV" => {
                return not_applicable(format!("the server refuses PASV: {reply}"))
            }
            Err(e) => return Err(ctx.err("NLST (PASV)", e)),
        }
        round_trip(ctx, client, scratch, "pasv.bin", 100_000, 2).map(|_| ())
    });
    one("DATA-02", step)
}

/// DATA-03: active mode (PORT or EPRT): the server connects, the client is still the TLS
/// client; a listing and a round trip. A server that refuses PORT/EPRT makes it n/a.
pub(super) fn active<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch_with(
        "DATA-03",
        ctx.connect_in(DataConnectionMode::Active),
        |client, scratch| {
            match client.nlst(None) {
                Ok(_) => {}
                Err(Error::Reply { reply, command }) if command == "PORT" || command == "EPRT" => {
                    return not_applicable(format!(
                        "the server refuses active mode: {reply} to {command}"
                    ))
                }
                Err(e) => return Err(ctx.err("NLST (active)", e)),
            }
            round_trip(ctx, client, scratch, "active.bin", 100_000, 3)?;
            let lines = client.list(None).map_err(|e| ctx.err("LIST (active)", e))?;
            ensure(lines.iter().any(|l| l.contains("active.bin")), || {
                format!("LIST does not show active.bin: {lines:?}")
            })
        },
    );
    one("DATA-03", step)
}

/// DATA-08: LIST and NLST are protected transfers like RETR, and show an uploaded file.
/// (MLSD is EXT-03.)
pub(super) fn listings<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch("DATA-08", |client, scratch| {
        round_trip(ctx, client, scratch, "listed.bin", 4096, 8)?;
        let lines = client.list(None).map_err(|e| ctx.err("LIST", e))?;
        ensure(lines.iter().any(|l| l.contains("listed.bin")), || {
            format!("LIST does not show listed.bin: {lines:?}")
        })?;
        let names = client.nlst(None).map_err(|e| ctx.err("NLST", e))?;
        ensure(
            names.iter().any(|n| n.as_bytes().ends_with(b"listed.bin")),
            || {
                format!(
                    "NLST does not name listed.bin: {:?}",
                    names
                        .iter()
                        .map(|n| n.to_string_lossy())
                        .collect::<Vec<_>>()
                )
            },
        )?;
        let info = client.last_data_session_info().cloned();
        ensure(info.is_some(), || "NLST ran without TLS".into())
    });
    one("DATA-08", step)
}

/// DATA-09: STOR, then APPE adds to the file; the download is the concatenation.
pub(super) fn stor_appe<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch("DATA-09", |client, scratch| {
        let first = content(70_000, 91);
        let second = content(30_011, 92);
        let name = scratch.file("appended.bin");
        client
            .upload(&name, &mut first.as_slice())
            .map_err(|e| ctx.err("STOR", e))?;
        let mut upload = client.appe(&name).map_err(|e| ctx.err_or_na("APPE", e))?;
        if let Err(e) = upload.write_all(&second) {
            return fail(format!("APPE: writing failed: {e}"));
        }
        let outcome = upload.finish().map_err(|e| ctx.err("APPE", e))?;
        ensure(outcome.bytes() == second.len() as u64, || {
            format!("APPE sent {} bytes", outcome.bytes())
        })?;
        let mut back = Vec::new();
        client
            .download(&name, &mut back)
            .map_err(|e| ctx.err("RETR", e))?;
        let mut want = first;
        want.extend_from_slice(&second);
        ensure(sha256(&back) == sha256(&want), || {
            format!(
                "after STOR and APPE the file has {} bytes (want {}) or differs",
                back.len(),
                want.len()
            )
        })
    });
    one("DATA-09", step)
}

/// DATA-10: RETR of a missing file is refused before any data flows: a typed negative reply,
/// and the connection stays usable.
pub(super) fn refused<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch("DATA-10", |client, _scratch| {
        match client.retr("missing.bin").map(|_| ()) {
            Ok(()) => return fail("RETR of a missing file was accepted"),
            Err(Error::Reply { reply, command }) => {
                ensure(command == "RETR" && reply.is_negative(), || {
                    format!("expected a negative reply to RETR, got {reply} to {command}")
                })?;
            }
            Err(e) => return Err(ctx.err("RETR of a missing file", e)),
        }
        client
            .noop()
            .map(|_| ())
            .map_err(|e| ctx.err("NOOP after the refusal", e))
    });
    one("DATA-10", step)
}

/// IMPL-04: in implicit FTPS, data connections work (and resume) as in explicit mode.
pub(super) fn implicit_data<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    if !ctx.target.implicit {
        return one(
            "IMPL-04",
            not_applicable("the target is explicit FTPS (run with --implicit)"),
        );
    }
    let step = ctx.in_scratch("IMPL-04", |client, scratch| {
        let (up, down) = round_trip(ctx, client, scratch, "implicit.bin", 100_000, 4)?;
        if ctx.supports(Capability::Resumption) && ctx.supports(Capability::Describe) {
            resumed(&up, "STOR")?;
            resumed(&down, "RETR")?;
        }
        let lines = client.list(None).map_err(|e| ctx.err("LIST", e))?;
        ensure(lines.iter().any(|l| l.contains("implicit.bin")), || {
            format!("LIST does not show implicit.bin: {lines:?}")
        })
    });
    one("IMPL-04", step)
}
