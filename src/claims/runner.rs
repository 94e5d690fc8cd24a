//! The property engine behind every claim: proptest's runner with a seeded ChaCha RNG, a case
//! count, and shrinking of any failing instance to a minimal one.

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde::Serialize;
use std::cell::Cell;
use std::fmt::Debug;

/// How hard to check: number of generated cases and the seed of the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckConfig {
    /// Cases per property (model claims run one computation regardless).
    pub cases: u32,
    /// Seed; the same seed gives the same instances and the same verdicts.
    pub seed: u64,
}

/// Default case count when `PROPTEST_CASES` is not set.
pub const DEFAULT_CASES: u32 = 256;

impl Default for CheckConfig {
    /// `cases` from the `PROPTEST_CASES` environment variable if it parses, else
    /// [`DEFAULT_CASES`]; seed 0.
    fn default() -> Self {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_CASES);
        Self { cases, seed: 0 }
    }
}

impl CheckConfig {
    /// A config with `cases` cases and seed `seed`.
    pub fn new(cases: u32, seed: u64) -> Self {
        Self { cases, seed }
    }

    /// A copy with the case count scaled by `num/den` (at least 1), for properties whose
    /// instances are expensive.
    pub fn scaled(&self, num: u32, den: u32) -> Self {
        let cases = (u64::from(self.cases) * u64::from(num) / u64::from(den.max(1))).max(1);
        Self {
            cases: u32::try_from(cases).unwrap_or(u32::MAX),
            seed: self.seed,
        }
    }

    fn runner(&self) -> TestRunner {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.seed.to_le_bytes());
        let config = Config {
            cases: self.cases,
            failure_persistence: None,
            max_shrink_iters: 4096,
            max_global_rejects: self.cases.saturating_mul(64).max(1024),
            ..Config::default()
        };
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed))
    }
}

/// How far one instance is from the statement, against the tolerance the claim states for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Deviation {
    /// The measured error (absolute or relative, as the claim says).
    pub error: f64,
    /// The largest error the claim accepts for this instance.
    pub tolerance: f64,
    /// For an inequality `a <= b` with `b > 0`: the ratio `a / b`, how close this instance came
    /// to the bound (1 is the edge). `None` for identities and for bounds that are not positive.
    pub tightness: Option<f64>,
}

impl Deviation {
    /// A deviation of `error` against `tolerance`.
    pub fn new(error: f64, tolerance: f64) -> Self {
        Self {
            error: if error.is_nan() { f64::INFINITY } else { error },
            tolerance,
            tightness: None,
        }
    }

    /// An exact check (an inequality or identity that holds with no slack): error 0 if `ok`,
    /// else infinite.
    pub fn exact(ok: bool) -> Self {
        Self {
            error: if ok { 0.0 } else { f64::INFINITY },
            tolerance: 0.0,
            tightness: None,
        }
    }

    /// `|a - b|` against `rel * max(|a|, |b|, scale)`: relative error with a floor `scale`
    /// below which the comparison is absolute.
    pub fn close(a: f64, b: f64, rel: f64, scale: f64) -> Self {
        let err = (a - b).abs();
        Self {
            error: if err.is_nan() { f64::INFINITY } else { err },
            tolerance: rel * a.abs().max(b.abs()).max(scale),
            tightness: None,
        }
    }

    /// `a <= b + tolerance`; the error is the excess `max(a - b, 0)` (infinite if either side
    /// is NaN). When `b` exceeds the tolerance the tightness `a / b` is recorded; below it the
    /// bound is at rounding level and the ratio of two such numbers measures nothing
    /// (`goodhart.gao-forms` once reported a tightness of `1.5e131` from a bound of `1e-140`
    /// that the tolerance absorbed).
    pub fn at_most(a: f64, b: f64, tolerance: f64) -> Self {
        let excess = a - b;
        Self {
            error: if excess.is_nan() {
                f64::INFINITY
            } else {
                excess.max(0.0)
            },
            tolerance,
            tightness: (b > 0.0 && b > tolerance && b.is_finite() && a.is_finite()).then(|| a / b),
        }
    }

    /// Whether the error is within tolerance. A NaN error or tolerance is never within.
    pub fn ok(&self) -> bool {
        self.error <= self.tolerance
    }

    /// The worse of two deviations (by `error/tolerance`, ties to the larger error); the
    /// tightness is the larger of the two.
    pub fn worst(self, other: Self) -> Self {
        let tightness = max_tightness(self.tightness, other.tightness);
        let mut w = if other.ratio() > self.ratio()
            || (other.ratio() == self.ratio() && other.error > self.error)
        {
            other
        } else {
            self
        };
        w.tightness = tightness;
        w
    }

    fn ratio(&self) -> f64 {
        if self.error == 0.0 {
            0.0
        } else if self.tolerance == 0.0 {
            f64::INFINITY
        } else {
            self.error / self.tolerance
        }
    }
}

/// The larger of two optional tightness ratios.
fn max_tightness(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// What running a claim's control gave: the wrong variant must be rejected by the same check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlOutcome {
    /// What the wrong variant is.
    pub description: String,
    /// Whether the check rejected it (for a theorem or model: the check failed on it; for a
    /// refuted claim or a conjecture: the search found no counterexample to the true variant,
    /// or found one to the false variant, as the control states).
    pub rejected: bool,
    /// The control's own note or counterexample, as evidence of the rejection.
    pub evidence: Option<String>,
}

/// What one sampled witness gave: a statistical test of a sampled algorithm against the exact
/// answer, at a stated false-alarm rate, and the same test against a wrong target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WitnessOutcome {
    /// The witness's name (the sampled algorithm and the instance).
    pub name: String,
    /// The test statistic against the exact answer.
    pub statistic: f64,
    /// Its p-value under the null "the sampler draws from the exact answer".
    pub p_value: f64,
    /// The probability that a correct sampler fails the test.
    pub false_alarm_rate: f64,
    /// Whether the test against the exact answer passed: `p_value` at or above the test's level
    /// (`false_alarm_rate`, or less when part of it is spent on a stated coupling budget), and
    /// any deterministic condition the witness states.
    pub passed: bool,
    /// Whether the same test rejected the negative control (the wrong target).
    pub control_rejected: bool,
}

/// The outcome of checking one claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Theorem: every case held. Refuted: a counterexample was found. Model: the computation
    /// matched. Conjecture: no counterexample was found.
    pub passed: bool,
    /// Number of instances examined.
    pub cases: u64,
    /// The worst deviation seen among cases that held (for refuted claims: the margin by which
    /// the counterexample violates the statement, if the check reports one).
    pub worst_error: f64,
    /// The tolerance the worst case was held to.
    pub tolerance: f64,
    /// The shrunk counterexample, if any (Debug form of the minimal instance).
    pub counterexample: Option<String>,
    /// A one-line note (what was compared, or why the check failed).
    pub note: Option<String>,
    /// Wall time of the check.
    pub seconds: f64,
    /// For bounds: the largest observed ratio of the bounded side to the bound.
    pub tightness: Option<f64>,
    /// The control's outcome, once it has been run.
    pub control: Option<ControlOutcome>,
    /// The sampled witnesses' outcomes, when they were run.
    pub witnesses: Vec<WitnessOutcome>,
}

impl Verdict {
    fn new(passed: bool, cases: u64, worst: Deviation) -> Self {
        Self {
            passed,
            cases,
            worst_error: worst.error,
            tolerance: worst.tolerance,
            counterexample: None,
            note: None,
            seconds: 0.0,
            tightness: worst.tightness,
            control: None,
            witnesses: Vec::new(),
        }
    }

    /// Adds a note; a note the verdict already has (a failure's reason, say) is kept after it.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        let note = note.into();
        self.note = Some(match self.note.take() {
            Some(old) => format!("{note}: {old}"),
            None => note,
        });
        self
    }
}

/// Checks a theorem: `property` must hold (deviation within tolerance) on every instance drawn
/// from `strategy`. A failing instance is shrunk and reported; an `Err` from the property (a
/// solver rejected a valid instance) is a failure too.
pub fn check_theorem<S, P>(config: &CheckConfig, strategy: S, property: P) -> Verdict
where
    S: Strategy,
    S::Value: Debug,
    P: Fn(&S::Value) -> Result<Deviation, String>,
{
    let worst = Cell::new(Deviation::new(0.0, 0.0));
    let tightness = Cell::new(None);
    let count = Cell::new(0u64);
    let mut runner = config.runner();
    let result = runner.run(&strategy, |value| {
        count.set(count.get() + 1);
        let d = property(&value).map_err(TestCaseError::fail)?;
        tightness.set(max_tightness(tightness.get(), d.tightness));
        if d.ok() {
            worst.set(worst.get().worst(d));
            Ok(())
        } else {
            Err(TestCaseError::fail(format!(
                "error {:e} exceeds tolerance {:e}",
                d.error, d.tolerance
            )))
        }
    });
    let mut verdict = match result {
        Ok(()) => Verdict::new(true, count.get(), worst.get()),
        Err(TestError::Fail(reason, value)) => {
            let mut v = Verdict::new(false, count.get(), worst.get());
            v.counterexample = Some(format!("{value:?}"));
            v.note = Some(reason.to_string());
            v
        }
        Err(TestError::Abort(reason)) => {
            Verdict::new(false, count.get(), worst.get()).with_note(format!("aborted: {reason}"))
        }
    };
    verdict.tightness = tightness.get();
    verdict
}

/// The minimal instance on which `holds` is false, found by random search over `strategy` and
/// shrunk by proptest; `Ok(None)` if every generated case held. `Err` reports a property that
/// errored.
pub fn shrunk_counterexample<S, P>(
    config: &CheckConfig,
    strategy: S,
    holds: P,
) -> Result<Option<S::Value>, String>
where
    S: Strategy,
    S::Value: Debug,
    P: Fn(&S::Value) -> Result<bool, String>,
{
    shrunk_counterexample_counted(config, strategy, holds).map(|(v, _)| v)
}

/// [`shrunk_counterexample`] with the number of instances evaluated (search plus shrinking).
fn shrunk_counterexample_counted<S, P>(
    config: &CheckConfig,
    strategy: S,
    holds: P,
) -> Result<(Option<S::Value>, u64), String>
where
    S: Strategy,
    S::Value: Debug,
    P: Fn(&S::Value) -> Result<bool, String>,
{
    let errored = std::cell::RefCell::new(None);
    let count = Cell::new(0u64);
    let mut runner = config.runner();
    let result = runner.run(&strategy, |value| {
        count.set(count.get() + 1);
        match holds(&value) {
            Ok(true) => Ok(()),
            Ok(false) => Err(TestCaseError::fail("statement violated")),
            Err(e) => {
                errored.replace(Some(e));
                Err(TestCaseError::fail("property errored"))
            }
        }
    });
    if let Some(e) = errored.into_inner() {
        return Err(e);
    }
    match result {
        Ok(()) => Ok((None, count.get())),
        Err(TestError::Fail(_, value)) => Ok((Some(value), count.get())),
        Err(TestError::Abort(reason)) => Err(format!("aborted: {reason}")),
    }
}

/// Checks a refuted claim: passes when the search finds a counterexample; the shrunk instance
/// is reported.
pub fn find_counterexample<S, P>(config: &CheckConfig, strategy: S, holds: P) -> Verdict
where
    S: Strategy,
    S::Value: Debug,
    P: Fn(&S::Value) -> Result<bool, String>,
{
    match shrunk_counterexample_counted(config, strategy, holds) {
        Ok((Some(value), examined)) => {
            let mut v = Verdict::new(true, examined, Deviation::new(0.0, 0.0));
            v.counterexample = Some(format!("{value:?}"));
            v
        }
        Ok((None, examined)) => Verdict::new(false, examined, Deviation::new(0.0, 0.0))
            .with_note("no counterexample found"),
        Err(e) => Verdict::new(false, 0, Deviation::new(0.0, 0.0)).with_note(e),
    }
}

/// The edge of a claim's hypotheses: `result` is a solver's answer to an input just outside
/// them (`what` names it), and it must be a typed error. A verdict covers the numbers the solver
/// returns; a solver that also answered outside the hypotheses would return numbers no claim
/// covers, so each check confirms, beside its instances, that the solver's domain ends where
/// the claim's does.
pub fn refused<T>(what: &str, result: crate::Result<T>) -> Result<(), String> {
    match result {
        Err(_) => Ok(()),
        Ok(_) => Err(format!(
            "the solver answered {what}, outside the claim's hypotheses, instead of refusing it"
        )),
    }
}

/// Checks a model result: one exact computation returning its deviation from the closed form
/// or published figure.
pub fn check_model(compute: impl FnOnce() -> Result<Deviation, String>) -> Verdict {
    check_model_cases(1, compute)
}

/// [`check_model`] for a computation that examines `cases` instances (a sweep, a search, a
/// grid), so that the verdict reports how much was examined.
pub fn check_model_cases(
    cases: u64,
    compute: impl FnOnce() -> Result<Deviation, String>,
) -> Verdict {
    match compute() {
        Ok(d) => Verdict::new(d.ok(), cases, d),
        Err(e) => Verdict::new(false, cases, Deviation::new(f64::INFINITY, 0.0)).with_note(e),
    }
}
