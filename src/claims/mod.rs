//! The claim registry.
//!
//! A [`Claim`] is data (id, title, statement, sources, status, proof file) plus a check: a
//! property that generates instances with a proptest strategy and returns a [`Verdict`]. The
//! families live one per file; [`all`] lists every registered claim in catalog order.
//!
//! Semantics of a verdict by status:
//! - [`Status::Theorem`]: every generated instance must satisfy the statement within its stated
//!   tolerance; a failure is shrunk to a minimal instance and reported as a counterexample.
//! - [`Status::Refuted`]: the search must find a counterexample (the verdict passes when it
//!   does); the shrunk instance is reported.
//! - [`Status::Model`]: an exact computation in a named model, compared with its closed form or
//!   published figure.
//! - [`Status::Conjecture`]: open; the check is a counterexample search that passes when it finds
//!   none, and the claim's `settled` note says how hard it searched.
//!
//! Every claim carries a [`Control`]: a named wrong variant run through the same property, with
//! the same generator and budget, which the check must reject. A verdict whose control survives
//! is a failure, because a check that would also pass the wrong variant is no evidence. Claims
//! about what a sampled algorithm produces also have sampled witnesses ([`witnesses`]), run by
//! [`Claim::run_with_witnesses`].

use serde::Serialize;

pub mod best_of_n;
pub mod conditioning;
pub mod estimator;
pub mod goodhart;
pub mod kl;
pub mod lagrange;
#[doc(hidden)]
pub mod minimal;
pub mod pref;
pub mod quantilizer;
pub mod runner;
// Test helpers of the registry (generators, comparison helpers): public for the integration
// tests, not part of the library's API.
#[doc(hidden)]
pub mod strategy;
#[doc(hidden)]
pub mod strategy_tilt;

pub mod machine_checked;
pub mod witnesses;

pub use runner::{
    check_model, check_model_cases, check_theorem, find_counterexample, refused, CheckConfig,
    ControlOutcome, Deviation, Verdict, WitnessOutcome,
};

/// What the catalog says a claim is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// True under the stated assumptions; proved in the proof file.
    Theorem,
    /// False as people state it; a counterexample is found and shrunk.
    Refuted,
    /// An exact computation inside a named model.
    Model,
    /// Open: no proof, and no counterexample found by the search described in `settled`.
    Conjecture,
}

impl Status {
    /// The catalog's word for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Theorem => "theorem",
            Status::Refuted => "refuted",
            Status::Model => "model",
            Status::Conjecture => "conjecture",
        }
    }
}

/// One registered claim.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    /// Stable id, exactly as in the catalog (`kl.tilt`).
    pub id: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// The precise statement, Markdown with LaTeX.
    pub statement: &'static str,
    /// Where the claim comes from.
    pub sources: &'static [&'static str],
    /// Theorem, refuted, model, or conjecture.
    pub status: Status,
    /// For claims the catalog marked "settle": how the status was decided.
    pub settled: Option<&'static str>,
    /// Runs the claim's property.
    pub check: fn(&CheckConfig) -> Verdict,
    /// The wrong variant the same check must reject.
    pub control: Control,
}

/// A claim's control: a wrong variant of the claim (a bound tightened, a solver perturbed, a
/// figure moved in its last certified digit, or for a refuted claim a true variant that the
/// counterexample search must fail to refute) run through the same property, with the same
/// generator and budget.
#[derive(Debug, Clone, Copy)]
pub struct Control {
    /// What the wrong variant is, in one line.
    pub description: &'static str,
    /// Runs the same property on the wrong variant. The control is rejected when the returned
    /// verdict does not pass.
    pub check: fn(&CheckConfig) -> Verdict,
}

impl Control {
    /// Runs the control and reports whether the check rejected it.
    pub fn run(&self, config: &CheckConfig) -> ControlOutcome {
        let v = (self.check)(config);
        ControlOutcome {
            description: self.description.to_string(),
            rejected: !v.passed,
            evidence: v.counterexample.or(v.note),
        }
    }
}

impl Claim {
    /// Path of the proof file, relative to the crate root.
    pub fn proof_path(&self) -> String {
        format!("proofs/{}.md", self.id)
    }

    /// The claim's family (the part of the id before the first dot).
    pub fn family(&self) -> &'static str {
        self.id.split('.').next().unwrap_or(self.id)
    }

    /// Runs the check, then its control, and times both. The verdict passes only if the check
    /// passes and the control is rejected.
    pub fn run(&self, config: &CheckConfig) -> Verdict {
        let start = std::time::Instant::now();
        let mut v = (self.check)(config);
        let outcome = self.control.run(config);
        if !outcome.rejected {
            v.passed = false;
            v.note = Some(format!("control survived: {}", outcome.description));
        }
        v.control = Some(outcome);
        v.seconds = start.elapsed().as_secs_f64();
        v
    }

    /// [`Claim::run`], then the claim's sampled witnesses at `config.seed`; the verdict passes
    /// only if every witness passes its test and rejects its negative control, and states a
    /// false-alarm rate in `(0, FALSE_ALARM_RATE]` (a witness that spends part of its rate on a
    /// coupling budget states the sum of its parts).
    pub fn run_with_witnesses(&self, config: &CheckConfig) -> Verdict {
        let start = std::time::Instant::now();
        let mut v = self.run(config);
        for w in witnesses::for_claim(self.id) {
            match (w.run)(config.seed) {
                Ok(outcome) => {
                    let rate = outcome.false_alarm_rate;
                    if !(rate > 0.0 && rate <= crate::stats::FALSE_ALARM_RATE) {
                        v.passed = false;
                        v.note = Some(format!(
                            "witness {} states the false-alarm rate {rate:e}, above the \
                             suite's {:e}",
                            outcome.name,
                            crate::stats::FALSE_ALARM_RATE
                        ));
                    } else if !(outcome.passed && outcome.control_rejected) {
                        v.passed = false;
                        v.note = Some(format!("witness {} failed", outcome.name));
                    }
                    v.witnesses.push(outcome);
                }
                Err(e) => {
                    v.passed = false;
                    v.note = Some(format!("witness {} errored: {e}", w.name));
                }
            }
        }
        v.seconds = start.elapsed().as_secs_f64();
        v
    }
}

/// Test support: every claim of `claims` passes a short run at `seed` (`cases` cases; refuted
/// claims, whose search needs the full default budget, get at least [`runner::DEFAULT_CASES`]).
#[cfg(test)]
pub(crate) fn assert_short_run_passes(claims: &[Claim], cases: u32, seed: u64) {
    for c in claims {
        let n = if c.status == Status::Refuted {
            cases.max(runner::DEFAULT_CASES)
        } else {
            cases
        };
        let v = c.run(&CheckConfig::new(n, seed));
        assert!(v.passed, "{}: {v:?}", c.id);
    }
}

/// Every registered claim, in catalog order.
pub fn all() -> Vec<Claim> {
    let mut v = Vec::new();
    v.extend(kl::claims());
    v.extend(lagrange::claims());
    v.extend(best_of_n::claims());
    v.extend(quantilizer::claims());
    v.extend(conditioning::claims());
    v.extend(pref::claims());
    v.extend(goodhart::claims());
    v.extend(estimator::claims());
    v.extend(grpo::claims());
    v.extend(winrate::claims());
    v.extend(best_of_n_variants::claims());
    v.extend(pref_failures::claims());
    v
}

/// The claims named by `ids`: each an id (`kl.tilt`) or a family (`kl`), in the order given,
/// without repeats; every claim when `ids` is empty. An unknown name is
/// [`Error::InvalidInput`](crate::Error::InvalidInput).
pub fn select<S: AsRef<str>>(ids: &[S]) -> crate::Result<Vec<Claim>> {
    let all = all();
    if ids.is_empty() {
        return Ok(all);
    }
    let mut chosen: Vec<Claim> = Vec::new();
    for id in ids {
        let id = id.as_ref();
        let matched: Vec<_> = all
            .iter()
            .filter(|c| c.id == id || c.family() == id)
            .copied()
            .collect();
        if matched.is_empty() {
            return Err(crate::Error::InvalidInput(format!(
                "unknown claim id or family: {id}"
            )));
        }
        for c in matched {
            if !chosen.iter().any(|k| k.id == c.id) {
                chosen.push(c);
            }
        }
    }
    Ok(chosen)
}

/// The claim with this id, if registered.
pub fn find(id: &str) -> Option<Claim> {
    all().into_iter().find(|c| c.id == id)
}
pub mod best_of_n_variants;
pub mod grpo;
pub mod pref_failures;
#[doc(hidden)]
pub mod strategy_bon;
#[doc(hidden)]
pub mod strategy_goodhart;
pub mod winrate;
