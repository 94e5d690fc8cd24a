//! Divergences between distributions on the same finite outcome set, in nats.
//!
//! Conventions (the standard ones): `0 log 0 = 0`, `0 log(0/q) = 0`, and `p log(p/0) = +inf` for
//! `p > 0`; so `KL(p||q)` is finite iff `supp p` is within `supp q`.

use crate::dist::Dist;
use crate::error::{require_same_len, Result};
use crate::numeric::CompensatedSum;

fn same_len(p: &Dist, q: &Dist) -> Result<()> {
    require_same_len("p", p.len(), "q", q.len())
}

/// `KL(p||q) = sum_x p(x) log(p(x)/q(x))`; `+inf` when `p` puts mass where `q` has none.
///
/// Each term is formed from the stored log-probabilities, so ratios of tiny probabilities are
/// exact to rounding.
///
/// ```
/// use rlhf_claims::{Dist, divergence::kl};
/// let p = Dist::new(vec![1.0, 0.0])?;
/// let q = Dist::new(vec![0.5, 0.5])?;
/// assert!((kl(&p, &q)? - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(kl(&q, &p)?, f64::INFINITY);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn kl(p: &Dist, q: &Dist) -> Result<f64> {
    same_len(p, q)?;
    let mut s = CompensatedSum::new();
    for i in 0..p.len() {
        let pi = p.prob(i);
        if pi > 0.0 {
            if q.prob(i) == 0.0 {
                return Ok(f64::INFINITY);
            }
            s.add(pi * (p.log_prob(i) - q.log_prob(i)));
        }
    }
    Ok(s.value().max(0.0))
}

/// The absolute resolution of `KL(p||q)` computed in doubles where `p` has masses below the
/// smallest normal double:
/// `R = 2^-1074 (2 + sum_{x: q(x) > 0, p(x) < 2^-1022} (1 + |ln p(x) - ln q(x)|))`, with
/// `ln p(x)` read as `-1074 ln 2` where `p(x) = 0`.
///
/// Derivation: such a mass is a multiple of `2^-1074`, so it misses the exact mass by at most
/// `2^-1075`, which moves its term `p ln(p/q)` by at most `2^-1075 |ln(p/q)|` (to first
/// order; `|ln(p/q)| <= 745 + |ln q|`), and rounding the subnormal product adds `2^-1075`. A
/// root finder that moves a multiplier across the point where the computed KL crosses a
/// budget sees it jump by at most twice the sum of those errors over the subnormal masses (all
/// may jump at once: equal outcomes do); the leading `2` is the two doubles beside a subnormal
/// budget. Normal masses err relatively, which a relative tolerance covers. So a KL search can
/// meet a budget below `2^-1022` to `R` absolute and no better (`R = 3.8e-323` for one
/// subnormal mass `100` times below its base mass).
pub fn subnormal_kl_resolution(p: &[f64], q: &[f64]) -> f64 {
    const STEP: f64 = 5e-324;
    let smallest_log = STEP.ln();
    let steps: f64 = p
        .iter()
        .zip(q)
        .filter(|(pi, qi)| **qi > 0.0 && **pi < f64::MIN_POSITIVE)
        .map(|(pi, qi)| {
            let lp = if *pi > 0.0 { pi.ln() } else { smallest_log };
            1.0 + (lp - qi.ln()).abs()
        })
        .sum();
    STEP * (2.0 + steps)
}

/// `KL(q||p)`: the forward (mass-covering) direction when `p` is the policy and `q` the base.
pub fn reverse_kl(p: &Dist, q: &Dist) -> Result<f64> {
    kl(q, p)
}

/// Total variation `TV(p, q) = (1/2) sum_x |p(x) - q(x)|`, in `[0, 1]`.
pub fn tv(p: &Dist, q: &Dist) -> Result<f64> {
    same_len(p, q)?;
    let s: CompensatedSum = p
        .probs()
        .iter()
        .zip(q.probs())
        .map(|(a, b)| (a - b).abs())
        .collect();
    Ok((0.5 * s.value()).min(1.0))
}

/// Shannon entropy `H(p) = -sum_x p(x) log p(x)`.
pub fn entropy(p: &Dist) -> f64 {
    let s: CompensatedSum = (0..p.len())
        .filter(|&i| p.prob(i) > 0.0)
        .map(|i| -p.prob(i) * p.log_prob(i))
        .collect();
    s.value().max(0.0)
}

/// Pearson chi-square `chi2(p||q) = sum_x (p(x) - q(x))^2 / q(x)`; `+inf` if `supp p` is not
/// within `supp q`.
pub fn chi_square(p: &Dist, q: &Dist) -> Result<f64> {
    same_len(p, q)?;
    let mut s = CompensatedSum::new();
    for i in 0..p.len() {
        let (a, b) = (p.prob(i), q.prob(i));
        if b == 0.0 {
            if a > 0.0 {
                return Ok(f64::INFINITY);
            }
            continue;
        }
        s.add((a - b) * (a - b) / b);
    }
    Ok(s.value())
}

/// The f-divergence `D_f(p||q) = sum_x q(x) f(p(x)/q(x))` for a convex `f` with `f(1) = 0`.
///
/// Outcomes with `q(x) = 0 < p(x)` contribute `p(x) * f_prime_inf`, where
/// `f_prime_inf = lim_{t->inf} f(t)/t` (pass `f64::INFINITY` for KL and chi-square); outcomes
/// where both vanish contribute nothing.
pub fn f_divergence(p: &Dist, q: &Dist, f: impl Fn(f64) -> f64, f_prime_inf: f64) -> Result<f64> {
    same_len(p, q)?;
    let mut s = CompensatedSum::new();
    for i in 0..p.len() {
        let (a, b) = (p.prob(i), q.prob(i));
        if b > 0.0 {
            s.add(b * f(a / b));
        } else if a > 0.0 {
            if f_prime_inf == f64::INFINITY {
                return Ok(f64::INFINITY);
            }
            s.add(a * f_prime_inf);
        }
    }
    Ok(s.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_and_tv_agree_with_hand_values() -> Result<()> {
        let p = Dist::new(vec![0.5, 0.5])?;
        let q = Dist::new(vec![0.25, 0.75])?;
        // 0.5 ln 2 + 0.5 ln(2/3)
        let want = 0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln();
        assert!((kl(&p, &q)? - want).abs() < 1e-16);
        assert!((tv(&p, &q)? - 0.25).abs() < 1e-16);
        // f-divergence with f = t log t reproduces KL.
        let fkl = f_divergence(
            &p,
            &q,
            |t| if t > 0.0 { t * t.ln() } else { 0.0 },
            f64::INFINITY,
        )?;
        assert!((fkl - want).abs() < 1e-16);
        // chi-square: (0.25^2/0.25 + 0.25^2/0.75)
        assert!((chi_square(&p, &q)? - (0.25 + 0.0625 / 0.75)).abs() < 1e-15);
        assert!((entropy(&p) - 2f64.ln()).abs() < 1e-16);
        Ok(())
    }

    /// Without subnormal masses the resolution is the two doubles beside a budget; with one, a
    /// step of its mass moves its term by more than those two doubles (what a fixed resolution
    /// missed: `kl_budget` refused `1.09477867e-316` on `pi0 = (1, 3.4184e-320)`), and by no
    /// more than the resolution.
    #[test]
    fn subnormal_kl_resolution_bounds_a_step_of_a_subnormal_mass() {
        let step: f64 = 5e-324;
        assert_eq!(
            subnormal_kl_resolution(&[0.5, 0.5], &[0.25, 0.75]),
            2.0 * step
        );
        let (p, q): (f64, f64) = (2.0314967e-317, 3.4184e-320);
        let term = |p: f64| p * (p.ln() - q.ln());
        let jump = (term(p + step) - term(p)).abs();
        let r = subnormal_kl_resolution(&[1.0, p], &[1.0, q]);
        assert_eq!(r, step * (3.0 + (p / q).ln()));
        assert!(
            jump > 2.0 * step && jump <= r,
            "jump {jump:e}, resolution {r:e}"
        );
        // A mass flushed to 0 is read as one step below the smallest double.
        let flushed = subnormal_kl_resolution(&[1.0, 0.0], &[0.5, 0.5]);
        assert_eq!(flushed, step * (3.0 + (step.ln() - 0.5f64.ln()).abs()));
    }
}
