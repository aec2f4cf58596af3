//! The RFC 3659 extensions (EXT-02 SIZE and MDTM, EXT-03 MLST and MLSD) and CCC (CCC-01
//! accepted, CCC-04 not implemented, CCC-05 refused by policy).

use std::time::{SystemTime, UNIX_EPOCH};

use ftps_core::listing::EntryKind;
use ftps_core::{Capability, Client, Error, ProtectionLevel, SecureConnection};

use super::transfer::round_trip;
use super::{merge, one, Findings};
use crate::remote::context::{describe, ensure, fail, Ctx, Scratch, Step};
use crate::remote::data::{content, unix_seconds};
use crate::scenario::Outcome;

/// How far MDTM may be from this machine's clock (the server's clock may be off).
const CLOCK_SLACK_S: i64 = 2 * 86_400;

/// EXT-02: SIZE gives the stored length and MDTM a time close to now, both in UTC; SIZE of a
/// missing file is a negative reply on a usable connection. n/a where either is missing.
pub(super) fn size_mdtm<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch("EXT-02", |client, scratch| {
        let body = content(12_345, 21);
        let name = scratch.file("sized.bin");
        client
            .upload(&name, &mut body.as_slice())
            .map_err(|e| ctx.err("STOR", e))?;
        let size = client.size(&name).map_err(|e| ctx.err_or_na("SIZE", e))?;
        ensure(size == body.len() as u64, || {
            format!("SIZE says {size}, {} were stored", body.len())
        })?;
        let time = client.mdtm(&name).map_err(|e| ctx.err_or_na("MDTM", e))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        ensure((unix_seconds(&time) - now).abs() <= CLOCK_SLACK_S, || {
            format!("MDTM says {time}, more than two days from now")
        })?;
        match client.size("missing.bin") {
            Ok(n) => fail(format!("SIZE of a missing file gave {n}")),
            Err(Error::Reply { reply, .. }) if reply.is_negative() => client
                .noop()
                .map(|_| ())
                .map_err(|e| ctx.err("NOOP after the refused SIZE", e)),
            Err(e) => fail(format!("SIZE of a missing file: {}", describe(&e))),
        }
    });
    one("EXT-02", step)
}

/// EXT-03: MLST of an uploaded file (type and size facts), and MLSD (a protected transfer)
/// lists it with the same size. n/a where the server has no MLST or MLSD.
pub(super) fn mlst<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = ctx.in_scratch("EXT-03", |client, scratch| {
        let body = content(5_000, 31);
        let name = scratch.file("facts.bin");
        client
            .upload(&name, &mut body.as_slice())
            .map_err(|e| ctx.err("STOR", e))?;
        let entry = client
            .mlst(Some(name.as_bytes()))
            .map_err(|e| ctx.err_or_na("MLST", e))?;
        ensure(entry.kind() == Some(EntryKind::File), || {
            format!("MLST type is {:?}, not file: {entry:?}", entry.kind())
        })?;
        ensure(entry.size().is_none_or(|s| s == 5_000), || {
            format!("MLST size is {:?}, 5000 were stored", entry.size())
        })?;
        let entries = client.mlsd(None).map_err(|e| ctx.err_or_na("MLSD", e))?;
        let listed = entries
            .iter()
            .filter_map(|e| e.as_ref().ok())
            .find(|e| e.name.as_bytes() == name.as_bytes());
        let Some(listed) = listed else {
            return fail(format!("MLSD does not list {name}: {entries:?}"));
        };
        ensure(
            listed.kind() == Some(EntryKind::File) && listed.size().is_none_or(|s| s == 5_000),
            || format!("MLSD lists {listed:?}"),
        )
    });
    one("EXT-03", step)
}

/// CCC: after login and PROT P, CCC. A 200 (CCC-01): the control connection is in the clear,
/// NOOP works, and data connections stay protected. A 500/502 (CCC-04) or 534 (CCC-05): the
/// control connection stays protected and usable. The IDs the server's answer does not reach
/// are n/a; a backend that cannot unwrap gets unsupported.
pub(super) fn ccc<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    const IDS: [&str; 3] = ["CCC-01", "CCC-04", "CCC-05"];
    if !ctx.supports(Capability::Unwrap) {
        return IDS
            .iter()
            .map(|id| (*id, Outcome::Unsupported(Capability::Unwrap)))
            .collect();
    }
    let mut findings = Findings::new();
    let step = ctx.in_scratch("CCC-01", |client, scratch| {
        client
            .set_data_protection_level(ProtectionLevel::Private)
            .map_err(|e| ctx.err("PBSZ and PROT P", e))?;
        let (this, why) = match client.ccc() {
            Ok(reply) => {
                let step = after_ccc(ctx, client, scratch);
                findings.push(("CCC-01", step.err().unwrap_or(Outcome::Pass)));
                ("CCC-01", format!("the server accepted CCC ({reply})"))
            }
            Err(Error::Reply { reply, .. }) if matches!(reply.code(), 500 | 502) => {
                let step = still_protected(ctx, client, scratch);
                findings.push(("CCC-04", step.err().unwrap_or(Outcome::Pass)));
                (
                    "CCC-04",
                    format!("the server does not implement CCC ({reply})"),
                )
            }
            Err(Error::Reply { reply, .. }) if reply.code() == 534 => {
                let step = still_protected(ctx, client, scratch);
                findings.push(("CCC-05", step.err().unwrap_or(Outcome::Pass)));
                (
                    "CCC-05",
                    format!("the server refuses CCC by policy ({reply})"),
                )
            }
            Err(Error::Reply { reply, .. }) => {
                let why = format!("the server refused CCC with {reply}");
                let step = still_protected(ctx, client, scratch);
                let outcome = step.err().unwrap_or(Outcome::NotApplicable(why.clone()));
                findings.push(("CCC-01", outcome));
                ("CCC-01", why)
            }
            Err(e) => return Err(ctx.err("CCC", e)),
        };
        for id in IDS {
            if id != this {
                findings.push((id, Outcome::NotApplicable(why.clone())));
            }
        }
        Ok(())
    });
    merge(findings, &IDS, step)
}

/// After a 200 to CCC: commands in the clear, data still protected.
fn after_ccc<C: SecureConnection + Clone>(
    ctx: &Ctx<C>,
    client: &mut Client<C>,
    scratch: &mut Scratch,
) -> Step {
    ensure(!client.is_control_protected(), || {
        "the control connection is still protected after CCC".into()
    })?;
    client.noop().map_err(|e| ctx.err("NOOP in the clear", e))?;
    round_trip(ctx, client, scratch, "after-ccc.bin", 20_000, 41).map(|_| ())
}

/// After a refused CCC: still protected and usable, data still flows.
fn still_protected<C: SecureConnection + Clone>(
    ctx: &Ctx<C>,
    client: &mut Client<C>,
    scratch: &mut Scratch,
) -> Step {
    ensure(client.is_control_protected(), || {
        "the control connection lost its protection after a refused CCC".into()
    })?;
    client
        .noop()
        .map_err(|e| ctx.err("NOOP after the refused CCC", e))?;
    round_trip(ctx, client, scratch, "after-ccc.bin", 20_000, 42).map(|_| ())
}
