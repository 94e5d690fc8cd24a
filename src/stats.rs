//! Statistical tests used to compare sampled optimizers with exact solvers.
//!
//! Every comparison is a hypothesis test whose null hypothesis is "the sampler draws from the
//! exact solution"; [`FALSE_ALARM_RATE`] is the probability that a correct sampler fails it.
//! Tests that use these must also run a negative control (the same test against a slightly wrong
//! target) and require that it rejects; the sample sizes come from the power calculations below
//! ([`chi_square_sample_size`], [`z_sample_size`], [`bernstein_sample_size`]), which make the
//! control escape with probability at most [`CONTROL_MISS`].

use crate::error::{require_same_len, Error, Result};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Default false-alarm rate (type I error) of the sampled-versus-exact tests: `1e-6`.
pub const FALSE_ALARM_RATE: f64 = 1e-6;

/// The largest probability with which a sampled test may fail to reject its negative control:
/// `3e-7`. The power calculations choose the sample size so that the control is rejected with
/// probability at least `1 - CONTROL_MISS`.
pub const CONTROL_MISS: f64 = 3e-7;

/// The largest sample a power calculation may ask for (`1e7`): a control closer to the null than
/// that allows is a badly chosen control, reported as an error rather than run for minutes.
pub const MAX_SAMPLE_SIZE: f64 = 1e7;

/// Cells whose expected count is below this are pooled (the chi-square approximation needs
/// expected counts of about 5 or more).
pub const MIN_EXPECTED: f64 = 5.0;

/// Result of a goodness-of-fit test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The test statistic.
    pub statistic: f64,
    /// Degrees of freedom (chi-square) or 1 (z-test).
    pub dof: f64,
    /// `P(statistic at least as extreme | null)`.
    pub p_value: f64,
}

impl TestResult {
    /// Whether the null is rejected at level `alpha`.
    pub fn rejects(&self, alpha: f64) -> bool {
        self.p_value < alpha
    }
}

/// Pearson's chi-square goodness-of-fit test of observed `counts` against cell probabilities
/// `probs` (which must sum to 1 within `1e-9`). Cells with expected count below
/// [`MIN_EXPECTED`] are pooled into one cell; cells of probability 0 with a non-zero count make
/// the p-value 0 (impossible under the null).
///
/// The sum is checked on the cells the statistic is formed from (the counted cells and the
/// pooled one): their expected counts must add up to the sample size within `1e-9` of it, so
/// that neither a defective `probs` nor a cell left out of the statistic passes unnoticed.
pub fn chi_square_gof(counts: &[u64], probs: &[f64]) -> Result<TestResult> {
    require_same_len("counts", counts.len(), "probs", probs.len())?;
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return Err(Error::Empty { what: "counts" });
    }
    let nf = n as f64;
    let mut stat = 0.0;
    let mut cells = 0usize;
    let (mut pooled_obs, mut pooled_exp) = (0.0, 0.0);
    // The expected counts of the cells the statistic is formed from.
    let mut covered = 0.0;
    for (&c, &p) in counts.iter().zip(probs) {
        if p == 0.0 {
            if c > 0 {
                return Ok(TestResult {
                    statistic: f64::INFINITY,
                    dof: 1.0,
                    p_value: 0.0,
                });
            }
            continue;
        }
        let e = nf * p;
        if e < MIN_EXPECTED {
            pooled_obs += c as f64;
            pooled_exp += e;
        } else {
            stat += (c as f64 - e).powi(2) / e;
            covered += e;
            cells += 1;
        }
    }
    if pooled_exp > 0.0 {
        stat += (pooled_obs - pooled_exp).powi(2) / pooled_exp;
        covered += pooled_exp;
        cells += 1;
    }
    if !((covered / nf - 1.0).abs() <= 1e-9) {
        return Err(Error::InvalidInput(format!(
            "the cells of the chi-square test expect {covered} of {n} draws: their \
             probabilities must sum to 1 within 1e-9"
        )));
    }
    if cells < 2 {
        return Ok(TestResult {
            statistic: 0.0,
            dof: 0.0,
            p_value: 1.0,
        });
    }
    let dof = (cells - 1) as f64;
    let chi = ChiSquared::new(dof).map_err(|e| Error::InvalidInput(e.to_string()))?;
    Ok(TestResult {
        statistic: stat,
        dof,
        p_value: chi.sf(stat),
    })
}

/// The upper tail of a statistic that is chi-square with `dof` degrees of freedom under the null
/// (a Wald statistic, say): `p = P(chi2_dof >= statistic)`; `p = 0` for a NaN statistic.
pub fn chi_square_tail(statistic: f64, dof: f64) -> Result<TestResult> {
    let chi = ChiSquared::new(dof).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let p_value = if statistic.is_nan() {
        0.0
    } else {
        chi.sf(statistic)
    };
    Ok(TestResult {
        statistic,
        dof,
        p_value,
    })
}

/// Two-sided z-test that a sample mean of `n` iid draws comes from a law with mean `mean` and
/// standard deviation `sd` (normal approximation by the central limit theorem).
pub fn z_test_mean(sample_mean: f64, mean: f64, sd: f64, n: u64) -> Result<TestResult> {
    if !(sd > 0.0) || n == 0 {
        return Err(Error::InvalidInput(format!(
            "z-test needs sd > 0 and n > 0, got sd = {sd}, n = {n}"
        )));
    }
    let z = (sample_mean - mean) / (sd / (n as f64).sqrt());
    let normal = Normal::new(0.0, 1.0).map_err(|e| Error::InvalidInput(e.to_string()))?;
    Ok(TestResult {
        statistic: z,
        dof: 1.0,
        p_value: 2.0 * normal.sf(z.abs()),
    })
}

/// The upper quantile `z` with `P(N(0,1) > z) = p`, `0 < p < 1`.
pub fn upper_normal_quantile(p: f64) -> Result<f64> {
    if !(p > 0.0 && p < 1.0) {
        return Err(Error::InvalidParameter {
            name: "p",
            value: p,
            requirement: "in (0, 1)",
        });
    }
    let normal = Normal::new(0.0, 1.0).map_err(|e| Error::InvalidInput(e.to_string()))?;
    Ok(-normal.inverse_cdf(p))
}

/// The noncentrality `lambda` at which a chi-square test with `dof` degrees of freedom, run at
/// level `level`, rejects with probability at least `1 - miss`.
///
/// Under the alternative, Pearson's statistic (or a Wald statistic) is approximately noncentral
/// chi-square with `d = dof` degrees of freedom and noncentrality `lambda`, of mean `d + lambda`
/// and variance `2 (d + 2 lambda)`. We require the mean to exceed the critical value `c` by
/// `z = upper_normal_quantile(miss)` standard deviations (`z = 4.99` for `miss = 3e-7`); by the
/// normal approximation the power is then at least `1 - miss`, and the approximation errs on the
/// safe side because the noncentral chi-square is skewed to the right (its left tail is lighter
/// than the normal one). With `s = sqrt(2 (d + 2 lambda))` the requirement `d + lambda - c >= z s`
/// reads `s^2 - 4 z s + 2 d - 4 c >= 0`, i.e. `s >= 2 z + sqrt(4 z^2 - 2 d + 4 c)`, whence
/// `lambda = (s^2 - 2 d)/4`.
pub fn chi_square_noncentrality(dof: f64, level: f64, miss: f64) -> Result<f64> {
    let chi = ChiSquared::new(dof).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let c = chi.inverse_cdf(1.0 - level);
    let z = upper_normal_quantile(miss)?;
    let s = 2.0 * z + (4.0 * z * z - 2.0 * dof + 4.0 * c).max(0.0).sqrt();
    let lambda = ((s * s - 2.0 * dof) / 4.0).max(0.0);
    // Certificate: the requirement itself, recomputed at the returned lambda (with equality
    // unless the clamp at 0 is active, where it holds with room).
    let gap = dof + lambda - c - z * (2.0 * (dof + 2.0 * lambda)).sqrt();
    let tight = lambda > 0.0;
    if !(gap >= -1e-9 * (dof + lambda + c) && (!tight || gap <= 1e-9 * (dof + lambda + c))) {
        return Err(Error::NoConvergence(format!(
            "the noncentrality {lambda} misses its requirement by {gap} (dof {dof}, critical \
             value {c}, z {z})"
        )));
    }
    Ok(lambda)
}

/// The sample size `m` at which Pearson's test ([`chi_square_gof`]) of `m` draws from `truth`
/// against the wrong cell probabilities `wrong` rejects at level `level` with probability at
/// least `1 - miss`.
///
/// Under `truth`, the statistic against `wrong` has noncentrality `lambda = m D` with
/// `D = sum_{wrong > 0} (truth - wrong)^2 / wrong` on `d = |supp wrong| - 1` degrees of freedom,
/// so `m = ceil(lambda / D)` with `lambda` from [`chi_square_noncentrality`]. Cells where `wrong`
/// is 0 and `truth` is not only help (a single draw there rejects outright) and are left out of
/// `D`. Error if `D` is so small that `m` exceeds [`MAX_SAMPLE_SIZE`].
pub fn chi_square_sample_size(truth: &[f64], wrong: &[f64], level: f64, miss: f64) -> Result<u64> {
    require_same_len("truth", truth.len(), "wrong", wrong.len())?;
    let divergence: f64 = truth
        .iter()
        .zip(wrong)
        .filter(|(_, &q)| q > 0.0)
        .map(|(p, q)| (p - q).powi(2) / q)
        .sum();
    let dof = wrong.iter().filter(|&&q| q > 0.0).count() as f64 - 1.0;
    let lambda = chi_square_noncentrality(dof, level, miss)?;
    bounded_sample_size(lambda / divergence, "chi-square")
}

/// The sample size `n` at which the two-sided z-test ([`z_test_mean`]) at level `level` of the
/// mean of `n` draws with standard deviation at most `sd` rejects a mean `shift` away from the
/// true one with probability at least `1 - miss`: `n = ceil(((z_{level/2} + z_miss) sd / shift)^2)`
/// (normal approximation, as for the test itself).
///
/// Certified against [`z_test_mean`] itself: at `n`, a sample mean that falls short of the
/// wrong mean by `z_miss` standard errors (its `miss` quantile under the wrong law) lies beyond
/// the true mean and has a p-value at most `level`, and at `n - 1` it does not (both to `1e-9`
/// relative), so the size is the smallest the test's own p-value allows.
pub fn z_sample_size(shift: f64, sd: f64, level: f64, miss: f64) -> Result<u64> {
    let z_miss = upper_normal_quantile(miss)?;
    let z = upper_normal_quantile(level / 2.0)? + z_miss;
    let n = bounded_sample_size((z * sd / shift).powi(2), "z")?;
    // The miss quantile of the sample mean under the wrong law; where it lies on the true
    // mean's side of it, the power requirement fails outright (p-value 1).
    let p_value_at = |n: u64| {
        let short_of_wrong = shift.abs() - z_miss * sd / (n as f64).sqrt();
        if short_of_wrong > 0.0 {
            z_test_mean(short_of_wrong, 0.0, sd, n).map(|t| t.p_value)
        } else {
            Ok(1.0)
        }
    };
    let enough = p_value_at(n)? <= level * (1.0 + 1e-9);
    let smallest = n == 1 || p_value_at(n - 1)? >= level * (1.0 - 1e-9);
    if enough && smallest {
        Ok(n)
    } else {
        Err(Error::NoConvergence(format!(
            "the z-test's sample size {n} is not the smallest whose p-value at the wrong mean's \
             {miss} quantile is {level} (shift {shift}, sd {sd})"
        )))
    }
}

/// Bernstein's two-sided test that a sample mean of `n` i.i.d. draws comes from a law with mean
/// `mean`, variance at most `variance` and `|X - mean| <= radius` almost surely.
///
/// Bernstein's inequality `P(|mean_n - mean| >= t) <= 2 exp(-n t^2 / (2 variance + 2 radius t /
/// 3))` makes its right-hand side (capped at 1), at the observed `t`, a valid p-value for every
/// `n`: no normal approximation is involved. The statistic reported is the deviation in standard
/// errors, `(mean_n - mean) sqrt(n / variance)` (the raw deviation when `variance = 0`).
pub fn bernstein_test(
    sample_mean: f64,
    mean: f64,
    variance: f64,
    radius: f64,
    n: u64,
) -> Result<TestResult> {
    check_bernstein(variance, radius, n)?;
    let t = (sample_mean - mean).abs();
    let nf = n as f64;
    let denominator = 2.0 * variance + 2.0 * radius * t / 3.0;
    let p_value = if t.is_nan() {
        0.0
    } else if denominator > 0.0 {
        (2.0 * (-nf * t * t / denominator).exp()).min(1.0)
    } else if t == 0.0 {
        1.0
    } else {
        0.0
    };
    let statistic = if variance > 0.0 {
        (sample_mean - mean) * (nf / variance).sqrt()
    } else {
        sample_mean - mean
    };
    Ok(TestResult {
        statistic,
        dof: 1.0,
        p_value,
    })
}

/// The deviation `t` at which Bernstein's bound equals `alpha`: the root of
/// `n t^2 = L (2 variance + 2 radius t / 3)`, `L = ln(2/alpha)`, i.e.
/// `t = (L radius/3 + sqrt((L radius/3)^2 + 2 n variance L)) / n`.
fn bernstein_threshold(variance: f64, radius: f64, n: u64, alpha: f64) -> f64 {
    let l = (2.0 / alpha).ln();
    let a = l * radius / 3.0;
    (a + (a * a + 2.0 * n as f64 * variance * l).sqrt()) / n as f64
}

/// The smallest sample size `n` at which [`bernstein_test`] at level `level` rejects, with
/// probability at least `1 - miss`, a mean `shift` away from the true one.
///
/// Proof: by Bernstein's inequality the sample mean is within `t_miss(n)` of the true mean except
/// with probability `miss`; the test against the wrong mean rejects whenever the deviation from
/// it is at least `t_level(n)`; so `shift >= t_level(n) + t_miss(n)` suffices (both thresholds
/// from `bernstein_threshold`, decreasing in `n`). No approximation is involved.
pub fn bernstein_sample_size(
    shift: f64,
    variance: f64,
    radius: f64,
    level: f64,
    miss: f64,
) -> Result<u64> {
    check_bernstein(variance, radius, 1)?;
    for (name, alpha) in [("level", level), ("miss", miss)] {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(Error::InvalidParameter {
                name,
                value: alpha,
                requirement: "in (0, 1)",
            });
        }
    }
    let enough = |n: u64| {
        bernstein_threshold(variance, radius, n, level)
            + bernstein_threshold(variance, radius, n, miss)
            <= shift.abs()
    };
    let mut hi = 1u64;
    while !enough(hi) {
        hi = hi.saturating_mul(2);
        if hi as f64 > 2.0 * MAX_SAMPLE_SIZE {
            return Err(too_large("Bernstein", f64::INFINITY));
        }
    }
    let mut lo = hi / 2;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if enough(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    for alpha in [level, miss] {
        certify_bernstein_threshold(variance, radius, hi, alpha)?;
    }
    bounded_sample_size(hi as f64, "Bernstein")
}

/// Certificate of [`bernstein_threshold`]: the p-value of [`bernstein_test`] at that deviation
/// is `alpha` (to `1e-9` relative), so the closed-form root and the test agree; a zero
/// threshold (no variance and no radius, where every deviation rejects) needs no certificate.
fn certify_bernstein_threshold(variance: f64, radius: f64, n: u64, alpha: f64) -> Result<()> {
    let t = bernstein_threshold(variance, radius, n, alpha);
    if t == 0.0 {
        return Ok(());
    }
    let p = bernstein_test(t, 0.0, variance, radius, n)?.p_value;
    if (p / alpha - 1.0).abs() <= 1e-9 {
        Ok(())
    } else {
        Err(Error::NoConvergence(format!(
            "Bernstein's threshold {t} at n = {n} has the p-value {p}, not {alpha}"
        )))
    }
}

fn check_bernstein(variance: f64, radius: f64, n: u64) -> Result<()> {
    if !(variance >= 0.0 && variance.is_finite() && radius >= 0.0 && radius.is_finite()) || n == 0 {
        return Err(Error::InvalidInput(format!(
            "Bernstein's test needs a finite variance and radius >= 0 and n > 0, got \
             variance = {variance}, radius = {radius}, n = {n}"
        )));
    }
    Ok(())
}

/// `max(ceil(m), 1)` if `m` is at most [`MAX_SAMPLE_SIZE`], else (also for NaN) an error.
fn bounded_sample_size(m: f64, test: &str) -> Result<u64> {
    if m <= MAX_SAMPLE_SIZE {
        Ok(m.ceil().max(1.0) as u64)
    } else {
        Err(too_large(test, m))
    }
}

fn too_large(test: &str, m: f64) -> Error {
    Error::InvalidInput(format!(
        "the control is too close to the null for a {test} test of at most {MAX_SAMPLE_SIZE:e} \
         draws (needs {m:e})"
    ))
}

/// Pearson's test that `p_values` (in `[0, 1]`) are uniform, on `bins >= 2` equal bins: the
/// calibration check of a test run many times on independent data.
pub fn uniformity_test(p_values: &[f64], bins: usize) -> Result<TestResult> {
    if bins < 2 {
        return Err(Error::InvalidParameter {
            name: "bins",
            value: bins as f64,
            requirement: "at least 2",
        });
    }
    let cells = p_values
        .iter()
        .map(|p| ((p * bins as f64) as usize).min(bins - 1));
    chi_square_gof(&histogram(cells, bins), &vec![1.0 / bins as f64; bins])
}

/// Counts of each outcome in a sample of indices into `0..n`.
pub fn histogram(samples: impl IntoIterator<Item = usize>, n: usize) -> Vec<u64> {
    let mut h = vec![0u64; n];
    for s in samples {
        if s < n {
            h[s] += 1;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cells of expected count below 5 are pooled, and the pooled cell counts: probabilities
    /// `(0.49, 0.49, 0.01, 0.01)` at `n = 100` expect `(49, 49, 1, 1)`; the last two pool into
    /// one cell expecting 2, which observes 10. By hand, `X^2 = 2 (4^2/49) + 8^2/2 = 32.653`
    /// with 2 degrees of freedom. (A mutant that dropped the pooled cell, leaving `0.65` on 1,
    /// survived the registry and the witnesses.)
    #[test]
    fn gof_counts_the_pooled_cell() -> Result<()> {
        let r = chi_square_gof(&[45, 45, 5, 5], &[0.49, 0.49, 0.01, 0.01])?;
        let want = 2.0 * 16.0 / 49.0 + 64.0 / 2.0;
        assert!((r.statistic - want).abs() <= 1e-12 * want, "{r:?}");
        assert_eq!(r.dof, 2.0);
        Ok(())
    }

    /// Bernstein's threshold is the deviation at which the test's p-value is the level: at
    /// `variance = 0.3`, `radius = 2`, `n = 1000`, `alpha = 0.01`, a sample mean that far from
    /// the mean gets the p-value `2 exp(-n t^2/(2 variance + 2 radius t/3)) = alpha`, to
    /// rounding. (A mutant with `2 variance L / n` under the root, a threshold too small,
    /// survived the registry and the witnesses.)
    #[test]
    fn bernstein_threshold_is_where_the_p_value_is_the_level() -> Result<()> {
        let t = bernstein_threshold(0.3, 2.0, 1000, 0.01);
        let p = bernstein_test(0.5 + t, 0.5, 0.3, 2.0, 1000)?.p_value;
        assert!((p - 0.01).abs() <= 1e-12, "t {t}: p {p}");
        Ok(())
    }

    #[test]
    fn gof_accepts_exact_counts_and_rejects_skewed_ones() -> Result<()> {
        let ok = chi_square_gof(&[500, 300, 200], &[0.5, 0.3, 0.2])?;
        assert!(ok.p_value > 0.99);
        let bad = chi_square_gof(&[600, 250, 150], &[0.5, 0.3, 0.2])?;
        assert!(bad.rejects(FALSE_ALARM_RATE));
        let impossible = chi_square_gof(&[1, 9], &[0.0, 1.0])?;
        assert_eq!(impossible.p_value, 0.0);
        // Probabilities that do not sum to 1 (within 1e-9) are refused, NaN among them.
        assert!(chi_square_gof(&[500, 500], &[0.5, 0.4]).is_err());
        assert!(chi_square_gof(&[500, 500], &[0.5, f64::NAN]).is_err());
        Ok(())
    }

    #[test]
    fn chi_square_sample_size_gives_the_stated_power() -> Result<()> {
        // The noncentrality puts the mean z standard deviations above the critical value.
        let (d, level, miss) = (3.0, 5e-7, CONTROL_MISS);
        let lambda = chi_square_noncentrality(d, level, miss)?;
        let c = ChiSquared::new(d).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let crit = c.inverse_cdf(1.0 - level);
        let z = upper_normal_quantile(miss)?;
        let gap = d + lambda - crit - z * (2.0 * (d + 2.0 * lambda)).sqrt();
        assert!(gap.abs() < 1e-9, "gap {gap}");
        // m = ceil(lambda / D) with D = sum (p - q)^2 / q.
        let (p, q) = ([0.5, 0.5], [0.4, 0.6]);
        let divergence = 0.01 / 0.4 + 0.01 / 0.6;
        let lambda1 = chi_square_noncentrality(1.0, level, miss)?;
        let m = chi_square_sample_size(&p, &q, level, miss)?;
        assert_eq!(m, (lambda1 / divergence).ceil() as u64);
        assert!(chi_square_sample_size(&p, &p, level, miss).is_err());
        Ok(())
    }

    #[test]
    fn bernstein_sample_size_is_the_smallest_that_separates() -> Result<()> {
        let (shift, var, radius) = (0.1, 1.0, 3.0);
        let n = bernstein_sample_size(shift, var, radius, FALSE_ALARM_RATE, CONTROL_MISS)?;
        let sum = |n| {
            bernstein_threshold(var, radius, n, FALSE_ALARM_RATE)
                + bernstein_threshold(var, radius, n, CONTROL_MISS)
        };
        assert!(sum(n) <= shift && sum(n - 1) > shift);
        // At the threshold the p-value is the level.
        let t = bernstein_threshold(var, radius, n, FALSE_ALARM_RATE);
        let r = bernstein_test(t, 0.0, var, radius, n)?;
        assert!((r.p_value / FALSE_ALARM_RATE - 1.0).abs() < 1e-9);
        assert_eq!(bernstein_test(f64::NAN, 0.0, var, radius, n)?.p_value, 0.0);
        assert_eq!(bernstein_test(1.0, 1.0, 0.0, 0.0, 5)?.p_value, 1.0);
        for bad in [0.0, 1.0, 1.5, f64::NAN] {
            assert!(bernstein_sample_size(shift, var, radius, bad, CONTROL_MISS).is_err());
            assert!(bernstein_sample_size(shift, var, radius, FALSE_ALARM_RATE, bad).is_err());
        }
        Ok(())
    }

    #[test]
    fn z_sample_size_puts_the_wrong_mean_beyond_both_quantiles() -> Result<()> {
        // The witnesses' levels, a lax level with a strict miss (where the miss quantile at
        // `n - 1` can fall on the true mean's side), a negative shift, a size of 1.
        let cases = [
            (0.05, 2.0, FALSE_ALARM_RATE, CONTROL_MISS),
            (0.3, 1.0, 0.5, 1e-12),
            (-0.05, 2.0, 1e-3, 1e-3),
            (100.0, 1.0, 0.05, 0.05),
        ];
        for (shift, sd, level, miss) in cases {
            let n = z_sample_size(shift, sd, level, miss)?;
            let z = upper_normal_quantile(level / 2.0)? + upper_normal_quantile(miss)?;
            let reach = |n: u64| shift.abs() * (n as f64).sqrt() / sd;
            assert!(reach(n) >= z, "{shift} {sd} {level} {miss}: {n}");
            assert!(
                n == 1 || reach(n - 1) < z,
                "{shift} {sd} {level} {miss}: {n}"
            );
        }
        Ok(())
    }

    #[test]
    fn z_test_matches_the_normal_tail() -> Result<()> {
        // z = 1.959963984540054 has two-sided p = 0.05.
        let r = z_test_mean(1.959963984540054, 0.0, 1.0, 1)?;
        assert!((r.p_value - 0.05).abs() < 1e-9);
        Ok(())
    }
}
