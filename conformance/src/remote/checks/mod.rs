//! The checks, in run order. Each reports under the SCENARIOS.md IDs it exercises; most have
//! one ID, a few decide between several (CCC-01/04/05 by the server's answer, SESS-01/02 by
//! the negotiated version).

mod control;
mod ext;
mod resume;
mod sess;
mod transfer;

use std::time::Duration;

use ftps_core::SecureConnection;

use super::context::{Ctx, Step};
use super::BUDGET;
use crate::scenario::Outcome;

/// The outcomes of one check, by scenario ID.
pub(super) type Findings = Vec<(&'static str, Outcome)>;

/// One check: the IDs it reports, its time budget, and its function.
pub(super) struct Check<C> {
    pub(super) ids: &'static [&'static str],
    pub(super) budget: Duration,
    pub(super) run: fn(&Ctx<C>) -> Findings,
}

/// A check with one ID and the default budget.
fn check<C>(id: &'static [&'static str], run: fn(&Ctx<C>) -> Findings) -> Check<C> {
    Check {
        ids: id,
        budget: BUDGET,
        run,
    }
}

/// The findings of a single-ID check.
fn one(id: &'static str, step: Step) -> Findings {
    vec![(id, step.err().unwrap_or(Outcome::Pass))]
}

/// Every check, in run order.
pub(super) fn all<C: SecureConnection + Clone>() -> Vec<Check<C>> {
    let long = Duration::from_secs(180);
    vec![
        check(&["AUTH-01", "IMPL-01"], control::login),
        check(&["AUTH-09"], control::wrong_ca),
        check(&["EXT-01"], control::feat),
        check(&["DATA-01"], transfer::epsv),
        check(&["DATA-02"], transfer::pasv),
        check(&["DATA-03"], transfer::active),
        check(&["DATA-08"], transfer::listings),
        check(&["DATA-09"], transfer::stor_appe),
        check(&["DATA-10"], transfer::refused),
        check(&["IMPL-04"], transfer::implicit_data),
        Check {
            ids: &["SESS-01", "SESS-02", "SESS-03"],
            budget: long,
            run: sess::many_resumed,
        },
        check(&["SESS-04"], sess::refusal),
        Check {
            ids: &["CLOSE-06", "CLOSE-01"],
            budget: long,
            run: sess::large_file,
        },
        check(&["REST-01"], resume::download),
        check(&["REST-04"], resume::upload),
        check(&["EXT-02"], ext::size_mdtm),
        check(&["EXT-03"], ext::mlst),
        Check {
            ids: &["ABOR-01"],
            budget: long,
            run: resume::abort,
        },
        check(&["CCC-01", "CCC-04", "CCC-05"], ext::ccc),
        check(&["QUIT-01"], control::quit),
    ]
}

/// The findings of a check that decides several IDs: those `findings` holds, and every other
/// ID of `ids` gets the outcome that ended `step` (a failure, a limitation, a cleanup
/// failure).
fn merge(mut findings: Findings, ids: &[&'static str], step: Step) -> Findings {
    if let Err(outcome) = step {
        for id in ids {
            if !findings.iter().any(|(found, _)| found == id) {
                findings.push((id, outcome.clone()));
            }
        }
    }
    findings
}
