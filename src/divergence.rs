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
}
