//! Statistical tests used to compare sampled optimizers with exact solvers.
//!
//! Every comparison is a hypothesis test whose null hypothesis is "the sampler draws from the
//! exact solution"; [`FALSE_ALARM_RATE`] is the probability that a correct sampler fails it.
//! Tests that use these must also run a negative control (the same test against a slightly wrong
//! target) and require that it rejects.

use crate::error::{require_same_len, Error, Result};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Default false-alarm rate (type I error) of the sampled-versus-exact tests: `1e-6`.
pub const FALSE_ALARM_RATE: f64 = 1e-6;

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
            cells += 1;
        }
    }
    if pooled_exp > 0.0 {
        stat += (pooled_obs - pooled_exp).powi(2) / pooled_exp;
        cells += 1;
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

    #[test]
    fn gof_accepts_exact_counts_and_rejects_skewed_ones() -> Result<()> {
        let ok = chi_square_gof(&[500, 300, 200], &[0.5, 0.3, 0.2])?;
        assert!(ok.p_value > 0.99);
        let bad = chi_square_gof(&[600, 250, 150], &[0.5, 0.3, 0.2])?;
        assert!(bad.rejects(FALSE_ALARM_RATE));
        let impossible = chi_square_gof(&[1, 9], &[0.0, 1.0])?;
        assert_eq!(impossible.p_value, 0.0);
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
