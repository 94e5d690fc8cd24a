//! Repeated sampling (claim `bon.passk`): the failure rate `1 - pass@k` of `k` independent
//! attempts, averaged over a population of tasks with per-task success probabilities `p`.
//!
//! ```text
//! finite task set:   1 - pass@k = (1/m) sum_i (1 - p_i)^k
//! p ~ Beta(a, b):    1 - pass@k = E[(1 - p)^k] = B(a, b + k)/B(a, b)
//!                               = Gamma(a+b) Gamma(b+k) / (Gamma(b) Gamma(a+b+k)),
//! ```
//!
//! and the local slope `d log(1 - pass@k) / d log k` of each curve (with `k` read as a real
//! number): `k E_w[log(1 - p)]` with weights `w_i` proportional to `(1 - p_i)^k` on a finite
//! set, `k (psi(b+k) - psi(a+b+k))` for the Beta population.
//!
//! Everything is in log space: `k log1p(-p_i)` and a log-sum-exp for finite sets (no underflow
//! at `k = 10^15`), and differences of log-gamma and digamma functions formed directly (Stirling
//! series of the difference above argument 30, recurrence below), so that `log Gamma(x + a) -
//! log Gamma(x)` keeps absolute accuracy ~`1e-15` at `x = 10^15`, where two separate log-gamma
//! values of size `3e16` would cancel to nothing.

use crate::error::{require_positive, Error, Result};
use crate::numeric::{log_sum_exp, CompensatedSum};
use serde::Serialize;

/// A population of tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Population {
    /// Finitely many tasks with success probabilities in `[0, 1]`.
    Finite {
        /// Per-task success probabilities.
        p: Vec<f64>,
    },
    /// Success probabilities drawn from `Beta(a, b)`.
    Beta {
        /// Shape at 0 (`a > 0`): the density near 0 is `~ p^(a-1)`.
        a: f64,
        /// Shape at 1 (`b > 0`).
        b: f64,
    },
}

/// One point of a pass@k curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PassPoint {
    /// Number of attempts.
    pub k: f64,
    /// `log(1 - pass@k)`.
    pub log_fail: f64,
    /// `1 - pass@k`.
    pub fail: f64,
    /// The local slope `d log(1 - pass@k) / d log k`.
    pub slope: f64,
}

impl Population {
    /// A finite task set; every `p_i` must be in `[0, 1]`, and there must be at least one.
    pub fn finite(p: Vec<f64>) -> Result<Self> {
        if p.is_empty() {
            return Err(Error::Empty { what: "p" });
        }
        if let Some((index, &value)) = p
            .iter()
            .enumerate()
            .find(|(_, x)| !(0.0..=1.0).contains(*x))
        {
            return Err(Error::InvalidParameter {
                name: "p",
                value,
                requirement: if index == 0 {
                    "in [0, 1]"
                } else {
                    "in [0, 1] (every entry)"
                },
            });
        }
        Ok(Self::Finite { p })
    }

    /// The Beta population; `a`, `b` finite and positive.
    pub fn beta(a: f64, b: f64) -> Result<Self> {
        Ok(Self::Beta {
            a: require_positive("a", a)?,
            b: require_positive("b", b)?,
        })
    }

    /// The curve at `k >= 0` attempts (real `k`; `k = 0` gives failure 1).
    pub fn at(&self, k: f64) -> Result<PassPoint> {
        if !(k >= 0.0 && k.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "k",
                value: k,
                requirement: "finite and >= 0",
            });
        }
        let (log_fail, slope) = match self {
            Self::Finite { p } => finite_log_fail_and_slope(p, k),
            Self::Beta { a, b } => (
                log_gamma_ratio(*b, *a) - log_gamma_ratio(b + k, *a),
                -k * digamma_difference(b + k, *a),
            ),
        };
        Ok(PassPoint {
            k,
            log_fail,
            fail: log_fail.exp(),
            slope,
        })
    }
}

/// `log((1/m) sum_i (1-p_i)^k)` and `k E_w[log(1-p)]`, `w_i` proportional to `(1-p_i)^k`.
fn finite_log_fail_and_slope(p: &[f64], k: f64) -> (f64, f64) {
    let logs: Vec<f64> = p
        .iter()
        .map(|&pi| if k == 0.0 { 0.0 } else { k * (-pi).ln_1p() })
        .collect();
    let lse = log_sum_exp(&logs);
    let log_fail = lse - (p.len() as f64).ln();
    let mut slope = CompensatedSum::new();
    for (&l, &pi) in logs.iter().zip(p) {
        let w = (l - lse).exp();
        if w > 0.0 {
            slope.add(w * k * (-pi).ln_1p());
        }
    }
    (log_fail, slope.value())
}

/// Above this argument the Stirling series of the differences is used directly.
const ASYMPTOTIC: f64 = 30.0;

/// `B_{2k} / (2k (2k - 1))`, `k = 1..=5`: the Stirling series of `log Gamma`.
const LOG_GAMMA_SERIES: [f64; 5] = [
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
];

/// `B_{2k} / (2k)`, `k = 1..=5`: the asymptotic series of the digamma function.
const DIGAMMA_SERIES: [f64; 5] = [
    1.0 / 12.0,
    -1.0 / 120.0,
    1.0 / 252.0,
    -1.0 / 240.0,
    1.0 / 132.0,
];

/// `sum_k c_k z^{-(2k-1+extra)}`, the tail of a Stirling-type series at `z >= 30` (the first
/// omitted term is below `2e-19`).
fn series(c: &[f64; 5], z: f64, first_power: i32) -> f64 {
    let z2 = 1.0 / (z * z);
    let mut acc = 0.0;
    for &ck in c.iter().rev() {
        acc = acc * z2 + ck;
    }
    acc * z.powi(-first_power)
}

/// `log Gamma(x + a) - log Gamma(x)` for `x > 0`, `a >= 0`, to ~`1e-15` absolute at every
/// scale of `x`.
pub fn log_gamma_ratio(x: f64, a: f64) -> f64 {
    // Recurrence up to the asymptotic range: log Gamma(z + 1) = log Gamma(z) + log z.
    let mut x = x;
    let mut shift = CompensatedSum::new();
    while x < ASYMPTOTIC {
        shift.add(-(a / x).ln_1p());
        x += 1.0;
    }
    let y = x + a;
    // (y - 1/2) log y - y - [(x - 1/2) log x - x], rearranged without cancellation.
    let main = (x - 0.5) * (a / x).ln_1p() + a * y.ln() - a;
    let tail = series(&LOG_GAMMA_SERIES, y, 1) - series(&LOG_GAMMA_SERIES, x, 1);
    main + tail + shift.value()
}

/// `psi(x + a) - psi(x)` for `x > 0`, `a >= 0`.
pub fn digamma_difference(x: f64, a: f64) -> f64 {
    // psi(z + 1) = psi(z) + 1/z.
    let mut x = x;
    let mut shift = CompensatedSum::new();
    while x < ASYMPTOTIC {
        shift.add(1.0 / x - 1.0 / (x + a));
        x += 1.0;
    }
    let y = x + a;
    // psi(z) = log z - 1/(2z) - sum_k B_{2k}/(2k z^{2k}).
    let main = (a / x).ln_1p() - 0.5 / y + 0.5 / x;
    let tail = series(&DIGAMMA_SERIES, x, 2) - series(&DIGAMMA_SERIES, y, 2);
    main + tail + shift.value()
}

/// The constant of the power law of the Beta population:
/// `lim_k k^a (1 - pass@k) = Gamma(a + b)/Gamma(b)`.
pub fn beta_power_law_constant(a: f64, b: f64) -> f64 {
    log_gamma_ratio(b, a).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_k_matches_direct_powers() -> Result<()> {
        let p = vec![0.5, 0.2, 0.05, 0.01, 0.0, 1.0];
        let pop = Population::finite(p.clone())?;
        for k in [0u32, 1, 2, 10, 100] {
            let direct: f64 =
                p.iter().map(|x| (1.0 - x).powi(k as i32)).sum::<f64>() / p.len() as f64;
            let got = pop.at(f64::from(k))?.fail;
            assert!((got - direct).abs() <= 1e-14 * direct, "k = {k}");
        }
        Ok(())
    }

    #[test]
    fn beta_curve_matches_the_product_formula() -> Result<()> {
        // E[(1-p)^k] = prod_{j<k} (b + j)/(a + b + j) for integer k.
        for (a, b) in [(0.5, 2.0), (0.3, 0.7), (2.0, 5.0), (1.0, 1.0)] {
            let pop = Population::beta(a, b)?;
            let mut log_prod = CompensatedSum::new();
            for k in 1..=20_000u32 {
                log_prod.add((-(a / (a + b + f64::from(k - 1)))).ln_1p());
                if k.is_power_of_two() || k == 20_000 {
                    let got = pop.at(f64::from(k))?.log_fail;
                    assert!((got - log_prod.value()).abs() <= 1e-13, "a={a} b={b} k={k}");
                }
            }
        }
        Ok(())
    }

    #[test]
    fn gamma_differences_match_statrs_at_small_arguments() {
        use statrs::function::gamma::{digamma, ln_gamma};
        for x in [0.1, 0.7, 1.0, 3.5, 29.0, 31.0, 200.0] {
            for a in [0.25, 0.5, 1.0, 3.0] {
                let want = ln_gamma(x + a) - ln_gamma(x);
                assert!((log_gamma_ratio(x, a) - want).abs() <= 1e-12, "x={x} a={a}");
                let want = digamma(x + a) - digamma(x);
                assert!(
                    (digamma_difference(x, a) - want).abs() <= 1e-12,
                    "x={x} a={a}"
                );
            }
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Population::finite(vec![]).is_err());
        assert!(Population::finite(vec![0.5, 1.5]).is_err());
        assert!(Population::finite(vec![f64::NAN]).is_err());
        assert!(Population::beta(0.0, 1.0).is_err());
        assert!(Population::beta(1.0, f64::INFINITY).is_err());
        assert!(Population::beta(1.0, 1.0).and_then(|p| p.at(-1.0)).is_err());
    }
}
