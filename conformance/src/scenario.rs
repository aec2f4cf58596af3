//! Scenarios as data: an ID from SCENARIOS.md, a group, the capabilities it needs, a run
//! function, and the three outcomes.

use std::fmt;

use ftps_core::{Capability, SecureConnection};

use crate::harness::Harness;

/// One conformance scenario, runnable against any backend `C`.
pub struct Scenario<C: SecureConnection> {
    /// The stable ID from SCENARIOS.md, such as `"AUTH-01"`: the test name everywhere.
    pub id: &'static str,
    /// The title from SCENARIOS.md.
    pub title: &'static str,
    /// The backend capabilities the scenario depends on; a backend that lacks one reports
    /// [`Outcome::Unsupported`], never a pass.
    pub needs: &'static [Capability],
    /// Runs the scenario against the harness's backend: `Err` holds the reason it failed.
    pub run: fn(&mut Harness<C>) -> Result<(), String>,
}

impl<C: SecureConnection> Scenario<C> {
    /// The group: the ID's prefix before the dash (`AUTH`, `DATA`, ...).
    pub fn group(&self) -> &'static str {
        self.id.split('-').next().unwrap_or(self.id)
    }
}

impl<C: SecureConnection> Clone for Scenario<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C: SecureConnection> Copy for Scenario<C> {}

impl<C: SecureConnection> fmt::Debug for Scenario<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario")
            .field("id", &self.id)
            .field("needs", &self.needs)
            .finish()
    }
}

/// How a scenario ended for one backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Pass,
    /// A check failed; the reason says which.
    Fail(String),
    /// The backend lacks the capability; the scenario did not run.
    Unsupported(Capability),
    /// The scenario does not apply (a real server without the feature, say); the reason says
    /// why. Never counts as a pass.
    NotApplicable(String),
}

impl Outcome {
    /// `"pass"`, `"fail"`, `"unsupported"` or `"n/a"`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "fail",
            Outcome::Unsupported(_) => "unsupported",
            Outcome::NotApplicable(_) => "n/a",
        }
    }

    /// The failure reason, the missing capability or why it does not apply; empty for a pass.
    pub fn detail(&self) -> String {
        match self {
            Outcome::Pass => String::new(),
            Outcome::Fail(reason) | Outcome::NotApplicable(reason) => reason.clone(),
            Outcome::Unsupported(capability) => format!("backend lacks {capability}"),
        }
    }
}

impl From<Result<(), String>> for Outcome {
    fn from(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Outcome::Pass,
            Err(reason) => Outcome::Fail(reason),
        }
    }
}
