//! Running many scenarios, and the report: a matrix for people, JSON lines for machines.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ftps_core::{Capability, SecureConnection};

use crate::harness::{run_scenario, Factory};
use crate::scenario::Outcome;
use crate::scenarios::scenarios;

/// Which scenarios to run.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only scenarios whose ID starts with this (`AUTH`, `SESS-0`, `CLOSE-03`).
    pub scenario_prefix: Option<String>,
}

impl Filter {
    /// Whether the scenario `id` is selected.
    pub fn selects(&self, id: &str) -> bool {
        self.scenario_prefix
            .as_deref()
            .is_none_or(|p| id.starts_with(&p.to_ascii_uppercase()))
    }
}

/// One scenario's outcome on one backend.
#[derive(Clone, Debug)]
pub struct ReportEntry {
    /// The scenario ID.
    pub scenario: &'static str,
    /// The backend name.
    pub backend: String,
    /// The outcome.
    pub outcome: Outcome,
}

/// The outcomes of a run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// In run order.
    pub entries: Vec<ReportEntry>,
}

impl Report {
    /// Runs every selected scenario against the backend `factory` makes, one after another,
    /// calling `progress` after each.
    pub fn run<C: SecureConnection>(
        &mut self,
        backend: &str,
        factory: &Factory<C>,
        filter: &Filter,
        mut progress: impl FnMut(&ReportEntry),
    ) {
        for scenario in scenarios::<C>().iter().filter(|s| filter.selects(s.id)) {
            let entry = ReportEntry {
                scenario: scenario.id,
                backend: backend.to_owned(),
                outcome: run_scenario(scenario, factory),
            };
            progress(&entry);
            self.entries.push(entry);
        }
    }

    /// Whether any scenario failed.
    pub fn has_failures(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.outcome, Outcome::Fail(_)))
    }

    /// The matrix (scenario x backend), then the failures with their reasons, then one summary
    /// line per backend and a total.
    pub fn matrix(&self) -> String {
        let mut backends: Vec<&str> = Vec::new();
        let mut rows: BTreeMap<&str, BTreeMap<&str, &Outcome>> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for e in &self.entries {
            if !backends.contains(&e.backend.as_str()) {
                backends.push(&e.backend);
            }
            if !order.contains(&e.scenario) {
                order.push(e.scenario);
            }
            rows.entry(e.scenario)
                .or_default()
                .insert(&e.backend, &e.outcome);
        }
        let mut out = String::new();
        let _ = write!(out, "{:<10}", "scenario");
        for b in &backends {
            let _ = write!(out, " {b:>12}");
        }
        out.push('\n');
        for id in &order {
            let _ = write!(out, "{id:<10}");
            for b in &backends {
                let cell = match rows[id].get(b) {
                    Some(Outcome::Pass) => "pass",
                    Some(Outcome::Fail(_)) => "FAIL",
                    Some(Outcome::Unsupported(_)) => "unsupported",
                    Some(Outcome::NotApplicable(_)) => "n/a",
                    None => "-",
                };
                let _ = write!(out, " {cell:>12}");
            }
            out.push('\n');
        }
        for e in &self.entries {
            if let Outcome::Fail(reason) = &e.outcome {
                let _ = writeln!(out, "FAIL {} [{}]: {reason}", e.scenario, e.backend);
            }
        }
        // Each unsupported cell's missing capability, grouped by backend and capability.
        let mut unsupported: Vec<(&str, Capability, Vec<&str>)> = Vec::new();
        for e in &self.entries {
            if let Outcome::Unsupported(capability) = e.outcome {
                match unsupported
                    .iter_mut()
                    .find(|(b, c, _)| *b == e.backend && *c == capability)
                {
                    Some((_, _, ids)) => ids.push(e.scenario),
                    None => unsupported.push((&e.backend, capability, vec![e.scenario])),
                }
            }
        }
        for (backend, capability, ids) in &unsupported {
            let _ = writeln!(
                out,
                "unsupported [{backend}]: lacks {capability}: {}",
                ids.join(", ")
            );
        }
        let mut not_applicable: Vec<(&str, &str, Vec<&str>)> = Vec::new();
        for e in &self.entries {
            if let Outcome::NotApplicable(reason) = &e.outcome {
                match not_applicable
                    .iter_mut()
                    .find(|(id, r, _)| *id == e.scenario && r == reason)
                {
                    Some((_, _, list)) => list.push(&e.backend),
                    None => not_applicable.push((e.scenario, reason, vec![&e.backend])),
                }
            }
        }
        for (id, reason, list) in &not_applicable {
            let _ = writeln!(out, "n/a {id} [{}]: {reason}", list.join(", "));
        }
        let (mut total_pass, mut total_fail, mut total_unsupported, mut total_na) = (0, 0, 0, 0);
        for b in &backends {
            let of = |label: &str| {
                self.entries
                    .iter()
                    .filter(|e| e.backend == *b && e.outcome.label() == label)
                    .count()
            };
            let (pass, fail, unsupported, na) =
                (of("pass"), of("fail"), of("unsupported"), of("n/a"));
            total_pass += pass;
            total_fail += fail;
            total_unsupported += unsupported;
            total_na += na;
            let _ = writeln!(
                out,
                "{b}: {pass} pass, {fail} fail, {unsupported} unsupported{}",
                na_count(na)
            );
        }
        let _ = writeln!(
            out,
            "summary: {} scenarios x {} backends: {total_pass} pass, {total_fail} fail, {total_unsupported} unsupported{}",
            order.len(),
            backends.len(),
            na_count(total_na)
        );
        out
    }
}

/// `", N n/a"`, or nothing when no scenario was not applicable (the embedded run).
fn na_count(count: usize) -> String {
    if count == 0 {
        String::new()
    } else {
        format!(", {count} n/a")
    }
}
