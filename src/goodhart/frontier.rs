//! "At `KL(pi||pi0) <= eps`, how far can `E_pi[V]` move?" (claim `goodhart.frontier`).
//!
//! The exact answer is the interval between the tilts of `pi0` by `-V` and by `+V` at KL `eps`
//! (each is the solution of `max +-E_pi[V] s.t. KL <= eps`, claim `lagrange.kl-budget`). Two
//! closed-form bounds on the half-width are reported next to it: Pinsker's
//! `range(V) sqrt(eps/2)` and the sub-Gaussian transport bound `sqrt(2 s^2 eps)` with `s^2` the
//! optimal variance proxy of `V` under `pi0`.

use crate::dist::{check_reward, Dist};
use crate::error::{Error, Result};
use crate::numeric::{golden_section_max, log_sum_exp, CompensatedSum};
use crate::solve::kl_budget;
use serde::Serialize;

/// The exact range of `E_pi[V]` over `{pi : KL(pi||pi0) <= eps}` and two bounds on it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct TrueUtilityRange {
    /// The budget `eps` in nats.
    pub eps: f64,
    /// `E_pi0[V]`.
    pub base_mean: f64,
    /// `min E_pi[V]`: the tilt by `-V` at KL `eps` (or the argmin limit if the budget is slack).
    pub low: f64,
    /// `max E_pi[V]`: the tilt by `+V` at KL `eps`.
    pub high: f64,
    /// Pinsker: `range(V) sqrt(eps/2)`, with the range over the support of `pi0`.
    pub pinsker: f64,
    /// `s^2 = sup_{lambda != 0} 2 log E_pi0[e^{lambda (V - E V)}] / lambda^2`.
    pub variance_proxy: f64,
    /// `sqrt(2 s^2 eps)`.
    pub sub_gaussian: f64,
}

/// Returns the exact range of `E_pi[V]` at `KL(pi||pi0) <= eps` and the two bounds.
///
/// ```
/// use rlhf_claims::{Dist, goodhart::true_utility_range};
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let r = true_utility_range(&base, &[0.0, 1.0], 0.01)?;
/// assert!(r.low < 0.5 && 0.5 < r.high);
/// assert!(r.high - 0.5 <= r.sub_gaussian && r.sub_gaussian <= r.pinsker + 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
///
/// Errors: bad base or `V`; `eps` negative or non-finite.
pub fn true_utility_range(base: &Dist, truth: &[f64], eps: f64) -> Result<TrueUtilityRange> {
    check_reward(base, truth)?;
    let high = kl_budget(base, truth, eps)?.solution.expected_reward;
    let neg: Vec<f64> = truth.iter().map(|v| -v).collect();
    let low = -kl_budget(base, &neg, eps)?.solution.expected_reward;
    let (lo_v, hi_v) = base
        .support()
        .map(|i| truth[i])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let s2 = variance_proxy(base, truth)?;
    Ok(TrueUtilityRange {
        eps,
        base_mean: base.expectation(truth)?,
        low,
        high,
        pinsker: (hi_v - lo_v) * (eps / 2.0).sqrt(),
        variance_proxy: s2,
        sub_gaussian: (2.0 * s2 * eps).sqrt(),
    })
}

/// Grid intervals of the variance-proxy search (40 per decade over 7 decades).
const GRID: u32 = 280;

/// `e^x - 1 - x`, by its Taylor series for `|x| < 1/2` (terms to `x^17/17!`, truncation below
/// `2^-60` relative) and directly otherwise (losing at most one digit near `|x| = 1/2`).
fn exp_minus_linear(x: f64) -> f64 {
    if x.abs() < 0.5 {
        let mut term = x * x / 2.0;
        let mut sum = term;
        for k in 3..=17 {
            term *= x / f64::from(k);
            sum += term;
        }
        sum
    } else {
        x.exp() - 1.0 - x
    }
}

/// `2 psi(lambda) / lambda^2` with `psi(lambda) = log E_pi0[e^{lambda (V - E V)}]`.
///
/// `psi` is `log1p(m)` with `m = E[e^{lambda c} - 1 - lambda c] + lambda E[c]` (`c` the centred
/// values; `E[c]` is zero up to rounding), a sum of non-negative terms, so `psi ~ lambda^2 Var/2`
/// keeps full relative accuracy for small `lambda` where `log E e^{lambda c}` would not. When
/// `lambda c` exceeds 700 somewhere, log-sum-exp is used (then `psi` is large).
fn proxy_at(base: &Dist, centred: &[f64], lambda: f64, scratch: &mut Vec<f64>) -> f64 {
    let big = base.support().any(|i| lambda * centred[i] > 700.0);
    let psi = if big {
        scratch.clear();
        scratch.extend(
            base.log_probs()
                .iter()
                .zip(centred)
                .map(|(l, v)| l + lambda * v),
        );
        log_sum_exp(scratch)
    } else {
        let mut m = CompensatedSum::new();
        for i in base.support() {
            let p = base.prob(i);
            m.add(p * exp_minus_linear(lambda * centred[i]));
            m.add(lambda * p * centred[i]);
        }
        m.value().ln_1p()
    };
    2.0 * psi / (lambda * lambda)
}

/// The optimal sub-Gaussian variance proxy `s^2 = sup_{lambda != 0} 2 psi(lambda)/lambda^2`
/// of `V` under `pi0` (`>= Var(V)`, its limit at 0; `<= range^2/4` by Hoeffding's lemma).
///
/// The supremum is taken over `|lambda| range(V)` in `[1e-3, 1e4]` on a log grid of 281 points
/// per sign, then refined by golden-section search around the best grid point; together with
/// `Var(V)` this is a lower estimate of `s^2` accurate to about `1e-10` relative for the
/// unimodal profiles met in practice. The upper end covers the far maximizer of a tiny atom:
/// for mass `p` at distance `D` the supremum sits near `lambda D = 2 log(1/p) <= 1.5e3` for every
/// `p >= 1e-320`.
pub fn variance_proxy(base: &Dist, truth: &[f64]) -> Result<f64> {
    check_reward(base, truth)?;
    let mean = base.expectation(truth)?;
    let centred: Vec<f64> = truth.iter().map(|v| v - mean).collect();
    let var = base.variance(truth)?;
    let range = base.support().map(|i| centred[i].abs()).fold(0.0, f64::max);
    if !(range > 0.0) {
        return Ok(0.0);
    }
    let mut scratch = Vec::new();
    let mut best = (var, 0.0);
    for sign in [-1.0, 1.0] {
        for k in 0..=GRID {
            let lambda = sign * 10f64.powf(-3.0 + 7.0 * f64::from(k) / f64::from(GRID)) / range;
            let v = proxy_at(base, &centred, lambda, &mut scratch);
            if v > best.0 {
                best = (v, lambda);
            }
        }
    }
    if best.1 == 0.0 {
        return Ok(var);
    }
    // Golden-section refinement in log|lambda| over one grid step each side.
    let sign = best.1.signum();
    let step = 7.0 * std::f64::consts::LN_10 / f64::from(GRID);
    let ln_best = best.1.abs().ln();
    let f = |t: f64| proxy_at(base, &centred, sign * t.exp(), &mut scratch);
    let (_, refined) = golden_section_max(f, ln_best - step, ln_best + step);
    let s2 = best.0.max(refined);
    if s2.is_finite() {
        Ok(s2)
    } else {
        Err(Error::NoConvergence("variance proxy is not finite".into()))
    }
}
