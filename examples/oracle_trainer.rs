//! A naive softmax "trainer" checked against the exact tilt by proptest: the regression-oracle
//! use of the crate, for code that is not the crate's own.
//!
//! `cargo run --release --example oracle_trainer --features testing`
//!
//! The trainer computes the KL-regularized optimum `pi ∝ pi0 exp(r / beta)` as a softmax over
//! `log pi0 + r / beta`. Proptest draws problems at sane scales
//! ([`rlhf_claims::testing::sane`]) and compares the trainer's policy with
//! [`rlhf_claims::solve::tilt`] entry by entry within
//! [`rlhf_claims::testing::softmax_tolerance`] (its derivation is in its docs).
//!
//! The check can fail: the same run with a trainer that uses `beta (1 + 1e-6)` must be
//! rejected (a relative change of `1e-6 |r - E r| / beta` in the entries, far above the
//! tolerance of about `1e-12` whenever the reward is not constant), and so must a trainer that
//! forgets to subtract the maximum (it overflows once `r / beta` exceeds ~709).

use rlhf_claims::testing::proptest::test_runner::{Config, TestCaseError, TestRunner};
use rlhf_claims::testing::{policy_close, sane, softmax_tolerance};
use std::process::ExitCode;

/// The trainer under test: `softmax(log pi0 + r / beta)`, the maximum subtracted first.
fn softmax_trainer(base: &[f64], reward: &[f64], beta: f64) -> Vec<f64> {
    let z: Vec<f64> = base
        .iter()
        .zip(reward)
        .map(|(b, r)| b.ln() + r / beta)
        .collect();
    let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    normalize(z.iter().map(|x| (x - top).exp()).collect())
}

/// A wrong trainer: the temperature off by one part in a million.
fn perturbed_trainer(base: &[f64], reward: &[f64], beta: f64) -> Vec<f64> {
    softmax_trainer(base, reward, beta * (1.0 + 1e-6))
}

/// A fragile trainer: no maximum subtracted.
fn unshifted_trainer(base: &[f64], reward: &[f64], beta: f64) -> Vec<f64> {
    let w = base.iter().zip(reward).map(|(b, r)| b * (r / beta).exp());
    normalize(w.collect())
}

fn normalize(w: Vec<f64>) -> Vec<f64> {
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

type Trainer = fn(&[f64], &[f64], f64) -> Vec<f64>;

/// Runs `cases` proptest cases of `trainer` against the exact tilt; the first failure's
/// message, if any.
fn check(trainer: Trainer, cases: u32) -> Result<(), String> {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(sane::instance(1..=12), sane::beta()), |(inst, beta)| {
            let exact = rlhf_claims::solve::tilt(&inst.base, &inst.reward, beta)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got = trainer(inst.base.probs(), &inst.reward, beta);
            let tol = softmax_tolerance(inst.base.probs(), &inst.reward, beta);
            policy_close(&got, exact.solution.policy.probs(), tol).map_err(TestCaseError::fail)
        })
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cases = 256;
    let mut ok = true;
    match check(softmax_trainer, cases) {
        Ok(()) => println!("softmax trainer: {cases} cases pass"),
        Err(e) => {
            println!("softmax trainer FAILED: {e}");
            ok = false;
        }
    }
    for (name, wrong) in [
        ("beta (1 + 1e-6)", perturbed_trainer as Trainer),
        ("no max subtracted", unshifted_trainer as Trainer),
    ] {
        match check(wrong, cases) {
            Err(e) => println!(
                "control {name}: rejected ({})",
                e.lines().next().unwrap_or("")
            ),
            Ok(()) => {
                println!("control {name}: NOT rejected, the check cannot tell");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
