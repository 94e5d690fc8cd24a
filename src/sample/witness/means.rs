//! Witnesses that test a sample mean against an exact expectation: the k1/k2/k3 KL estimators
//! (claim `estimator.unbiased`), the order-statistic estimator of best-of-N reward
//! (`bon.unbiased-estimator`), and Monte Carlo best-of-N in the bivariate normal
//! (`goodhart.gaussian`).
//!
//! The first two average bounded quantities and use Bernstein's inequality
//! ([`bernstein_test`], [`bernstein_sample_size`]): their false-alarm rate and their power are
//! exact bounds, with no normal approximation. The Gaussian one averages an unbounded quantity
//! and uses the z-test.

use super::{outcome, seeded_rng};
use crate::claims::WitnessOutcome;
use crate::dist::Dist;
use crate::divergence::kl;
use crate::error::{Error, Result};
use crate::goodhart::gaussian;
use crate::sample::best_of_n::order_statistic_estimate;
use crate::sample::kl_estimate::sample_means;
use crate::sample::DistSampler;
use crate::solve::best_of_n;
use crate::solve::kl_estimator::{log_ratio, moments, Estimator, ESTIMATORS};
use crate::stats::{
    bernstein_sample_size, bernstein_test, z_sample_size, z_test_mean, TestResult, CONTROL_MISS,
    FALSE_ALARM_RATE,
};
use rand::Rng;
use rand_distr::StandardNormal;

/// The policy `pi` of the estimator witnesses: `(0.5, 0.25, 0.15, 0.1)`.
pub const ESTIMATOR_POLICY: [f64; 4] = [0.5, 0.25, 0.15, 0.1];
/// The reference `pi0`: `(0.1, 0.2, 0.3, 0.4)`. `KL(pi||pi0) = 0.6179` and
/// `KL(pi0||pi) = 0.5569` differ (unlike for `pi0` the mirror image of `pi`), so the reversed
/// direction is a control that can be rejected.
pub const ESTIMATOR_BASE: [f64; 4] = [0.1, 0.2, 0.3, 0.4];

/// The sample mean of estimator `k` over `x ~ pi` against its claimed expectation.
///
/// - `k1` and `k3` (unbiased, `supp pi0` within `supp pi`): the null mean is `KL(pi||pi0)`
///   computed by [`kl`]; the negative control is the reversed `KL(pi0||pi)`.
/// - `k2` (biased): the null mean is its exact expectation `E_pi[l^2/2]` from
///   [`crate::solve::kl_estimator::moments`]; the negative control is "`k2` is unbiased", the
///   mean `KL(pi||pi0)`.
///
/// Test: Bernstein's, at `FALSE_ALARM_RATE = 1e-6`, with the exact variance of `k(x)`, `x ~ pi`,
/// and its exact range around the null mean (a finite law: its moments are sums); the false-alarm
/// rate is an exact bound. The number of draws is [`bernstein_sample_size`]'s, so the control is
/// rejected with probability at least `1 - 3e-7`.
pub fn kl_estimator(k: Estimator, seed: u64) -> Result<WitnessOutcome> {
    let policy = Dist::new(ESTIMATOR_POLICY.to_vec())?;
    let base = Dist::new(ESTIMATOR_BASE.to_vec())?;
    let forward = kl(&policy, &base)?;
    let exact = moments(&policy, &base, k)?;
    let (null, wrong) = match k {
        Estimator::K2 => (exact.mean, forward),
        Estimator::K1 | Estimator::K3 => (forward, kl(&base, &policy)?),
    };
    let radius = policy
        .support()
        .map(|x| (k.value(log_ratio(&policy, &base, x)) - null).abs())
        .fold(0.0, f64::max);
    let n = bernstein_sample_size(
        null - wrong,
        exact.variance,
        radius,
        FALSE_ALARM_RATE,
        CONTROL_MISS,
    )?;
    let index = ESTIMATORS
        .iter()
        .position(|&e| e == k)
        .ok_or_else(|| Error::InvalidInput(format!("unknown estimator {}", k.name())))?;
    let mean = sample_means(&policy, &base, n, seed)?[index];
    mean_witness(
        format!("monte carlo mean of {}", k.name()),
        |m| bernstein_test(mean, m, exact.variance, radius, n),
        null,
        &[wrong],
    )
}

/// The witness outcome of a test of a sample mean (`test(m)` tests it against the mean `m`)
/// against the `null` mean and each `wrongs` mean, all at `FALSE_ALARM_RATE`.
fn mean_witness(
    name: String,
    test: impl Fn(f64) -> Result<TestResult>,
    null: f64,
    wrongs: &[f64],
) -> Result<WitnessOutcome> {
    let controls = wrongs
        .iter()
        .map(|&w| test(w))
        .collect::<Result<Vec<_>>>()?;
    Ok(outcome(
        name,
        &test(null)?,
        FALSE_ALARM_RATE,
        FALSE_ALARM_RATE,
        &controls,
    ))
}

/// The distance from `null` to the nearest of `wrongs` (the control the sample size must
/// resolve).
fn nearest_shift(null: f64, wrongs: &[f64]) -> f64 {
    wrongs
        .iter()
        .map(|w| (w - null).abs())
        .fold(f64::INFINITY, f64::min)
}

/// `N` and `M` of the order-statistic witness.
pub const ORDER_STATISTIC_N: u64 = 3;
/// Draws per estimate.
pub const ORDER_STATISTIC_M: usize = 8;

/// The order-statistic estimator of best-of-N reward ([`order_statistic_estimate`], `N = 3`
/// from `M = 8` draws of `pi0`), averaged over independent rounds, against the exact
/// `E_{P_N}[r]` (recomputed as `sum P_N(x) r(x)` from the exact best-of-N law), on
/// [`super::laws::problem`].
///
/// Test: Bernstein's, at `FALSE_ALARM_RATE = 1e-6`. The estimate is a convex combination of
/// rewards, so it lies in `[a, b] = [min r, max r]` on the support; under the null its mean is
/// `mu = E_{P_N}[r]`, so `|X - mu| <= max(mu - a, b - mu)` and `Var X <= (mu - a)(b - mu)`
/// (Bhatia-Davis): the false-alarm rate is an exact bound. Negative control: the same mean
/// against `E_{P_{N-1}}[r]` and `E_{P_{N+1}}[r]`; the number of rounds is
/// [`bernstein_sample_size`]'s for the nearer of the two, each rejected with probability at
/// least `1 - 1.5e-7`.
pub fn order_statistic(seed: u64) -> Result<WitnessOutcome> {
    let (base, reward) = super::laws::problem()?;
    let expected = |n: u64| -> Result<f64> {
        best_of_n(&base, &reward, n)?
            .solution
            .policy
            .expectation(&reward)
    };
    let null = expected(ORDER_STATISTIC_N)?;
    let wrongs = [
        expected(ORDER_STATISTIC_N - 1)?,
        expected(ORDER_STATISTIC_N + 1)?,
    ];
    let (a, b) = base.support_range(&reward);
    let radius = (null - a).max(b - null);
    let variance = ((null - a) * (b - null)).max(0.0);
    let shift = nearest_shift(null, &wrongs);
    let miss = CONTROL_MISS / wrongs.len() as f64;
    let rounds = bernstein_sample_size(shift, variance, radius, FALSE_ALARM_RATE, miss)?;
    let sampler = DistSampler::new(&base)?;
    let mut rng = seeded_rng(seed);
    let mut draws = vec![0.0; ORDER_STATISTIC_M];
    let mut total = 0.0;
    for _ in 0..rounds {
        for r in draws.iter_mut() {
            *r = reward[sampler.draw(&mut rng)];
        }
        total += order_statistic_estimate(&mut draws, ORDER_STATISTIC_N)?;
    }
    let mean = total / rounds as f64;
    mean_witness(
        format!("order-statistic estimator, N = {ORDER_STATISTIC_N}, M = {ORDER_STATISTIC_M}"),
        |m| bernstein_test(mean, m, variance, radius, rounds),
        null,
        &wrongs,
    )
}

/// Correlation of the bivariate-normal witness.
pub const GAUSSIAN_RHO: f64 = 0.6;
/// `N` of the bivariate-normal witness.
pub const GAUSSIAN_N: u64 = 8;

/// Monte Carlo best-of-N in the standard bivariate normal (`rho = 0.6`, `N = 8`): draw `N` pairs
/// `(U, V)` with `V = rho U + sqrt(1 - rho^2) Z`, keep the pair of largest `U`, and z-test the
/// mean kept `V` against `rho e_N` ([`gaussian::best_of_n`]), with the standard deviation
/// estimated from the sample.
///
/// False-alarm rate `FALSE_ALARM_RATE = 1e-6` up to the normal approximation of the mean (the
/// kept `V` is a Gaussian mixture with finite moments of all orders; with `n` in the tens of
/// thousands the relative error of the normal tail at `z = 4.9` is of order `z^3 |skew| /
/// (6 sqrt n)`, a few percent). Negative control: the same mean against `rho e_{N-1}` and
/// `rho e_{N+1}`; the number of rounds is [`z_sample_size`]'s for the nearer, with the standard
/// deviation bounded by 1 (`Var V_kept = rho^2 Var(max_N U) + 1 - rho^2 <= 1`, the maximum of
/// `N` standard normals having variance at most 1), each rejected with probability at least
/// `1 - 1.5e-7` by the normal approximation.
pub fn gaussian_best_of_n(seed: u64) -> Result<WitnessOutcome> {
    let (rho, n) = (GAUSSIAN_RHO, GAUSSIAN_N);
    let mean_at = |n: u64| gaussian::best_of_n(n, rho).map(|p| p.expected_true);
    let null = mean_at(n)?;
    let wrongs = [mean_at(n - 1)?, mean_at(n + 1)?];
    let shift = nearest_shift(null, &wrongs);
    let rounds = z_sample_size(shift, 1.0, FALSE_ALARM_RATE, CONTROL_MISS / 2.0)?;
    let mut rng = seeded_rng(seed);
    let c = (1.0 - rho * rho).sqrt();
    let kept: Vec<f64> = (0..rounds)
        .map(|_| {
            let mut best = (f64::NEG_INFINITY, 0.0);
            for _ in 0..n {
                let u: f64 = rng.sample(StandardNormal);
                let z: f64 = rng.sample(StandardNormal);
                if u > best.0 {
                    best = (u, rho * u + c * z);
                }
            }
            best.1
        })
        .collect();
    let count = rounds as f64;
    let mean = kept.iter().sum::<f64>() / count;
    let var = kept.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (count - 1.0);
    mean_witness(
        format!("monte carlo best-of-{GAUSSIAN_N} in the bivariate normal, rho = {GAUSSIAN_RHO}"),
        |m| z_test_mean(mean, m, var.sqrt(), rounds),
        null,
        &wrongs,
    )
}
