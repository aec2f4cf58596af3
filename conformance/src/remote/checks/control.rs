//! Checks on the control connection: log in (AUTH-01 or IMPL-01), certificate verification
//! (AUTH-09), FEAT (EXT-01) and QUIT (QUIT-01).

use ftps_core::{Capability, Error, Phase, SecureConnection, TlsErrorKind};

use super::{one, Findings};
use crate::remote::context::{describe, ensure, fail, not_applicable, Ctx, Step};
use crate::scenario::Outcome;

/// AUTH-01 (explicit) or IMPL-01 (implicit): TLS on the control connection, then USER and
/// PASS inside it; the control session has the pinned version. The other ID is n/a.
pub(super) fn login<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let (this, other) = if ctx.target.implicit {
        ("IMPL-01", "AUTH-01")
    } else {
        ("AUTH-01", "IMPL-01")
    };
    let step = (|| -> Step {
        let client = ctx.connect()?;
        ensure(client.is_control_protected(), || {
            "the control connection is not protected after login".into()
        })?;
        let greeting = client.greeting().map(|r| r.code());
        ensure(greeting == Some(220), || {
            format!("greeting {greeting:?}, expected 220")
        })?;
        if ctx.supports(Capability::Describe) {
            let info = client.control_session_info();
            let version = info.as_ref().and_then(|i| i.protocol_version());
            ensure(version.is_some(), || {
                "the backend describes sessions but reported no control version".into()
            })?;
            if let Some(pin) = ctx.target.tls {
                ensure(version == Some(pin.protocol_name()), || {
                    format!(
                        "the control session is {version:?}, pinned to {}",
                        pin.protocol_name()
                    )
                })?;
            }
        }
        client.quit().map_err(|e| ctx.err("QUIT", e))?;
        Ok(())
    })();
    let mut findings = one(this, step);
    findings.push((
        other,
        Outcome::NotApplicable(format!("the target is {} FTPS", ctx.target.mode_name())),
    ));
    findings
}

/// AUTH-09: a backend that trusts an unrelated CA refuses the server's certificate during the
/// control handshake, with a typed error.
pub(super) fn wrong_ca<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = match ctx.connect_untrusting() {
        Ok(_) => fail("connected although the server's certificate is not from the trusted CA"),
        Err(Error::Tls {
            phase: Phase::ControlHandshake,
            source,
            ..
        }) if source.kind() == TlsErrorKind::CertificateInvalid => Ok(()),
        Err(e) => fail(format!(
            "expected CertificateInvalid on the control handshake, got {e:?} ({})",
            describe(&e)
        )),
    };
    one("AUTH-09", step)
}

/// EXT-01: FEAT after login lists features, and the client keeps them.
pub(super) fn feat<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = (|| -> Step {
        let mut client = ctx.connect()?;
        let features = client.feat().map_err(|e| ctx.err("FEAT", e))?;
        if features.is_empty() {
            return not_applicable("the server refused FEAT or listed no feature");
        }
        log::info!(
            "FEAT: {}",
            features
                .iter()
                .map(|(label, params)| match params {
                    Some(p) => format!("{label} {p}"),
                    None => label.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        ensure(client.features() == Some(&features), || {
            "the client did not keep the FEAT answer".into()
        })?;
        client.quit().map_err(|e| ctx.err("QUIT", e))?;
        Ok(())
    })();
    one("EXT-01", step)
}

/// QUIT-01: QUIT inside TLS is answered with 221, then the TLS shutdown.
pub(super) fn quit<C: SecureConnection + Clone>(ctx: &Ctx<C>) -> Findings {
    let step = (|| -> Step {
        let client = ctx.connect()?;
        match client.quit() {
            Ok(Some(reply)) if reply.code() == 221 => Ok(()),
            Ok(Some(reply)) => fail(format!("QUIT answered {reply}")),
            Ok(None) => fail("the server closed the connection without answering QUIT"),
            Err(e) => Err(ctx.err("QUIT", e)),
        }
    })();
    one("QUIT-01", step)
}
