//! A regression-oracle kit: check your own trainer, sampler or closed form against the exact
//! solvers with proptest (feature `testing`).
//!
//! - [`sane`]: generators at the scales a trainer is asked to handle: base masses no smaller
//!   than about `1e-8`, rewards within `+-1e3`, temperatures in `[1e-2, 1e2]`.
//! - [`extreme`]: the generators the crate's own claims are checked with: masses down to
//!   `1e-300` and exact zeros, rewards up to `1e6` with ties and `-0.0`, temperatures from
//!   `1e-300` to `1e300`, tops buried below the subnormal range. A trainer that passes these is
//!   robust; most trainers are not meant to.
//! - Tolerances with their derivation: [`softmax_tolerance`], [`sum_tolerance`], and the
//!   comparison [`policy_close`] (NaN fails).
//! - [`proptest`] itself, re-exported so that your tests use the version the generators are
//!   built with.
//!
//! ```
//! use rlhf_claims::testing::{policy_close, proptest, sane, softmax_tolerance};
//! use proptest::test_runner::TestRunner;
//!
//! // A trainer's closed form for the KL-regularized optimum: softmax(log pi0 + r / beta).
//! fn softmax_policy(base: &[f64], reward: &[f64], beta: f64) -> Vec<f64> {
//!     let z: Vec<f64> = base.iter().zip(reward).map(|(b, r)| b.ln() + r / beta).collect();
//!     let top = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
//!     let w: Vec<f64> = z.iter().map(|x| (x - top).exp()).collect();
//!     let total: f64 = w.iter().sum();
//!     w.iter().map(|x| x / total).collect()
//! }
//!
//! let fail = proptest::test_runner::TestCaseError::fail;
//! let mut runner = TestRunner::default();
//! runner
//!     .run(&(sane::instance(1..=8), sane::beta()), |(inst, beta)| {
//!         let exact = rlhf_claims::solve::tilt(&inst.base, &inst.reward, beta)
//!             .map_err(|e| fail(e.to_string()))?;
//!         let got = softmax_policy(inst.base.probs(), &inst.reward, beta);
//!         let tol = softmax_tolerance(inst.base.probs(), &inst.reward, beta);
//!         policy_close(&got, exact.solution.policy.probs(), tol).map_err(fail)
//!     })
//!     .map_err(|e| e.to_string())?;
//! # Ok::<(), String>(())
//! ```

pub use crate::claims::strategy::Instance;
pub use proptest;

/// Generators at the scales a trainer is asked to handle.
pub mod sane {
    use super::Instance;
    use crate::Dist;
    use proptest::prelude::*;
    use std::ops::RangeInclusive;

    /// Smallest unnormalized base weight; normalized masses are at least `MIN_WEIGHT / n`.
    pub const MIN_WEIGHT: f64 = 1e-6;
    /// Largest reward magnitude.
    pub const MAX_REWARD: f64 = 1e3;

    /// A base on `n` outcomes: unnormalized weights mostly uniform on `[0.01, 1]`, one time in
    /// four log-uniform on `[1e-6, 1e-2]`; every mass at least `1e-6 / n`, no zeros.
    pub fn base(n: usize) -> impl Strategy<Value = Dist> {
        let weight = prop_oneof![
            3 => 0.01f64..1.0,
            1 => (-6.0f64..-2.0).prop_map(|e| 10f64.powf(e)),
        ];
        proptest::collection::vec(weight, n)
            .prop_filter_map("weights must normalize", |w| Dist::from_weights(w).ok())
    }

    /// A reward on `n` outcomes: small integers (ties), reals in `[-10, 10]`, or reals in
    /// `[-1e3, 1e3]`.
    pub fn reward(n: usize) -> impl Strategy<Value = Vec<f64>> {
        prop_oneof![
            1 => proptest::collection::vec((-3i32..=3).prop_map(f64::from), n),
            1 => proptest::collection::vec(-10.0f64..10.0, n),
            1 => proptest::collection::vec(-MAX_REWARD..MAX_REWARD, n),
        ]
    }

    /// A base and a reward on `n` outcomes, `n` drawn from `sizes` (which must not contain 0).
    pub fn instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
        sizes
            .prop_flat_map(|n| (base(n), reward(n)))
            .prop_map(|(base, reward)| Instance { base, reward })
    }

    /// A temperature (KL coefficient), log-uniform on `[1e-2, 1e2]`.
    pub fn beta() -> impl Strategy<Value = f64> {
        crate::claims::strategy::moderate_beta()
    }
}

/// The generators the crate's claims are checked with (see [the module docs](self)).
pub mod extreme {
    pub use crate::claims::strategy::{
        base, beta, buried_top_instance, instance, nonconstant_instance, reward,
    };
}

/// Relative tolerance, per entry, for a policy computed in `f64` as
/// `softmax(log pi0 + r / beta)` (with the maximum subtracted) and compared with the exact
/// tilt.
///
/// Derivation (unit roundoff `u = 2^-53`): `z_i = log pi0(i) + r_i / beta` is formed with an
/// absolute error of at most `u (|log pi0(i)| + 2 |r_i / beta|)` (log, division, addition,
/// each correct to `u` relative, the log's input exact); subtracting `z_max` adds
/// `u |z_i - z_max|`. `exp` turns an absolute error `d` of its argument into a relative error
/// `d + u`; the sum of `n` positive terms has relative error at most `(n - 1) u`, the division
/// `u`. With `Z = max_i (|log pi0(i)| + 2 |r_i / beta|)` (so `|z_i - z_max| <= 2 Z`), every
/// entry is within `u (3 Z + n + 4)` of the exact value, relative. The exact solver obeys the
/// same kind of bound, so the tolerance is twice it: `2 u (3 Z + n + 4)`.
pub fn softmax_tolerance(base: &[f64], reward: &[f64], beta: f64) -> f64 {
    let z = base
        .iter()
        .zip(reward)
        .filter(|(b, _)| **b > 0.0)
        .map(|(b, r)| b.ln().abs() + 2.0 * (r / beta).abs())
        .fold(0.0, f64::max);
    2.0 * f64::EPSILON / 2.0 * (3.0 * z + base.len() as f64 + 4.0)
}

/// Relative tolerance of a plain left-to-right sum of `n` terms of one sign: `(n - 1) u`
/// (each addition rounds once, relative to a partial sum no larger than the total), doubled
/// for the reference it is compared with: `2 (n - 1) u`, `u = 2^-53`.
pub fn sum_tolerance(n: usize) -> f64 {
    2.0 * n.saturating_sub(1) as f64 * f64::EPSILON / 2.0
}

/// Whether `got` matches `exact` entry by entry within relative tolerance `rel`:
/// `|got_i - exact_i| <= rel |exact_i| + f64::MIN_POSITIVE` (below the normal range, where
/// relative accuracy is lost, the absolute floor applies). NaN entries and a length mismatch
/// fail; the error names the first offending entry.
pub fn policy_close(got: &[f64], exact: &[f64], rel: f64) -> Result<(), String> {
    if got.len() != exact.len() {
        return Err(format!(
            "length {} where the exact policy has {}",
            got.len(),
            exact.len()
        ));
    }
    for (i, (g, e)) in got.iter().zip(exact).enumerate() {
        if !((g - e).abs() <= rel * e.abs() + f64::MIN_POSITIVE) {
            return Err(format!(
                "entry {i}: got {g:e}, exact {e:e} (relative error {:e} > {rel:e})",
                ((g - e) / e).abs()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::{Config, TestRunner};

    #[test]
    fn sane_instances_respect_their_scales() -> Result<(), String> {
        let mut runner = TestRunner::new(Config::with_cases(200));
        runner
            .run(&(sane::instance(1..=8), sane::beta()), |(inst, beta)| {
                let n = inst.base.len() as f64;
                let floor = sane::MIN_WEIGHT / n * (1.0 - 1e-12);
                proptest::prop_assert!(inst.base.probs().iter().all(|p| *p >= floor));
                proptest::prop_assert!(inst.reward.iter().all(|r| r.abs() <= sane::MAX_REWARD));
                proptest::prop_assert!((1e-2..=1e2).contains(&beta));
                Ok(())
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn policy_close_rejects_nan_and_a_moved_entry() {
        let exact = [0.25, 0.75];
        assert!(policy_close(&[0.25, 0.75], &exact, 0.0).is_ok());
        assert!(policy_close(&[f64::NAN, 0.75], &exact, 1.0).is_err());
        assert!(policy_close(&[0.25 * (1.0 + 1e-9), 0.75], &exact, 1e-10).is_err());
        assert!(policy_close(&[0.25 * (1.0 + 1e-11), 0.75], &exact, 1e-10).is_ok());
        assert!(policy_close(&[0.25], &exact, 1.0).is_err());
    }

    #[test]
    fn the_softmax_tolerance_grows_with_the_exponent_range() {
        let small = softmax_tolerance(&[0.5, 0.5], &[0.0, 1.0], 1.0);
        let large = softmax_tolerance(&[0.5, 0.5], &[0.0, 1e3], 1e-2);
        // Z = ln 2 + 2 and ln 2 + 2e5: tolerance u (3 Z + 6).
        let u = f64::EPSILON / 2.0;
        assert!((small - 2.0 * u * (3.0 * (2f64.ln() + 2.0) + 6.0)).abs() <= 1e-30);
        assert!(large > 1e4 * small);
    }
}
