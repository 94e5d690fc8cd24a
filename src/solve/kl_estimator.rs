//! The single-sample KL estimators of RLHF trainers, computed exactly on a finite space (claims
//! `estimator.*`).
//!
//! For `x ~ pi` and the log-ratio `l(x) = log(pi0(x)/pi(x))` the estimators of `KL(pi||pi0)` are
//! `k1 = -l`, `k2 = l^2/2`, `k3 = (e^l - 1) - l` (Schulman's note on approximating KL). Used as a
//! loss on on-policy samples, a trainer differentiates `k(l_theta(x))` with the sample `x` held
//! fixed (no score-function term): for a softmax policy `pi_theta = softmax(theta)`,
//! `grad_theta l_theta(x) = -(e_x - pi_theta)`, so the expected gradient is
//!
//! ```text
//! G_k(theta) = E_{x ~ pi_theta}[ k'(l(x)) (pi_theta - e_x) ].
//! ```

use crate::dist::Dist;
use crate::error::{require_same_len, Result};
use crate::numeric::CompensatedSum;
use serde::Serialize;

/// One of the three estimators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// `k1 = -l = log(pi/pi0)`: unbiased, can be negative.
    K1,
    /// `k2 = l^2/2`: biased, non-negative; its loss gradient is that of `KL(pi||pi0)`.
    K2,
    /// `k3 = e^l - 1 - l`: unbiased when `supp pi0` is within `supp pi`, non-negative.
    K3,
}

/// The three estimators, in order.
pub const ESTIMATORS: [Estimator; 3] = [Estimator::K1, Estimator::K2, Estimator::K3];

/// `1/k!` for `k = 0..=19`.
const INV_FACT: [f64; 20] = {
    let mut c = [1.0; 20];
    let mut k = 1;
    while k < 20 {
        c[k] = c[k - 1] / k as f64;
        k += 1;
    }
    c
};

/// `e^l - 1 - l = sum_{k>=2} l^k/k!`, by its series for `|l| < 1/2` (no cancellation; Horner
/// on the terms up to `k = 19`, truncation below `2^-60` relative) and by `expm1(l) - l`
/// elsewhere; `+inf` at `l = -inf`.
pub fn k3_value(l: f64) -> f64 {
    if l.abs() < 0.5 {
        let mut s = 0.0;
        for c in INV_FACT[2..].iter().rev() {
            s = s * l + c;
        }
        s * l * l
    } else if l == f64::NEG_INFINITY {
        f64::INFINITY
    } else {
        l.exp_m1() - l
    }
}

impl Estimator {
    /// `k(l)`.
    pub fn value(self, l: f64) -> f64 {
        match self {
            Estimator::K1 => -l,
            Estimator::K2 => 0.5 * l * l,
            Estimator::K3 => k3_value(l),
        }
    }

    /// `dk/dl`: `-1`, `l`, `e^l - 1`.
    pub fn derivative(self, l: f64) -> f64 {
        match self {
            Estimator::K1 => -1.0,
            Estimator::K2 => l,
            Estimator::K3 => l.exp_m1(),
        }
    }

    /// `"k1"`, `"k2"`, `"k3"`.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::K1 => "k1",
            Estimator::K2 => "k2",
            Estimator::K3 => "k3",
        }
    }
}

/// `l(x) = log pi0(x) - log pi(x)` (`-inf` where `pi0(x) = 0 < pi(x)`).
pub fn log_ratio(policy: &Dist, base: &Dist, x: usize) -> f64 {
    base.log_prob(x) - policy.log_prob(x)
}

/// Exact mean and variance of an estimator under `x ~ pi`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EstimatorMoments {
    /// `E_pi[k]` (`+inf` when `pi` samples outside `supp pi0`, for every estimator).
    pub mean: f64,
    /// `Var_pi[k]` (two-pass; `+inf` together with the mean).
    pub variance: f64,
}

/// `E_pi[g(l)]` and `Var_pi[g(l)]` over `supp pi`, for any per-sample function `g` of the
/// log-ratio.
pub fn moments_of(policy: &Dist, base: &Dist, g: impl Fn(f64) -> f64) -> Result<EstimatorMoments> {
    require_same_len("policy", policy.len(), "base", base.len())?;
    let values: Vec<f64> = (0..policy.len())
        .map(|x| {
            if policy.prob(x) > 0.0 {
                g(log_ratio(policy, base, x))
            } else {
                0.0
            }
        })
        .collect();
    let mean = policy.expectation(&values)?;
    if !mean.is_finite() {
        return Ok(EstimatorMoments {
            mean: f64::INFINITY,
            variance: f64::INFINITY,
        });
    }
    Ok(EstimatorMoments {
        mean,
        variance: policy.variance(&values)?,
    })
}

/// Exact mean and variance of `k` under `x ~ pi`.
pub fn moments(policy: &Dist, base: &Dist, k: Estimator) -> Result<EstimatorMoments> {
    moments_of(policy, base, |l| k.value(l))
}

/// `E_pi[k3]` with the log-ratio clamped to `[-c, c]` before the estimator is applied (as some
/// trainers do to avoid overflow). Clamping moves `l` toward 0, where `k3` is smallest, so the
/// clamped mean is never above the unclamped one.
pub fn clamped_k3_mean(policy: &Dist, base: &Dist, c: f64) -> Result<f64> {
    crate::error::require_positive("clamp", c)?;
    Ok(moments_of(policy, base, |l| k3_value(l.clamp(-c, c)))?.mean)
}

/// `G_k(theta) = E_{x ~ pi_theta}[k'(l(x)) (pi_theta - e_x)]`, the expected gradient of `k` used
/// as a loss for `pi_theta = softmax(theta)`, `theta = logits`.
pub fn loss_gradient(logits: &[f64], base: &Dist, k: Estimator) -> Result<Vec<f64>> {
    let pi = Dist::from_log_weights(logits)?;
    require_same_len("logits", logits.len(), "base", base.len())?;
    let kd: Vec<f64> = (0..pi.len())
        .map(|x| k.derivative(log_ratio(&pi, base, x)))
        .collect();
    let mean = pi.expectation(&kd)?;
    Ok((0..pi.len()).map(|j| pi.prob(j) * (mean - kd[j])).collect())
}

/// The surrogate loss `theta' -> E_{x ~ pi_theta}[k(l_theta'(x))]` with the sampling policy
/// frozen at `theta` (what autodiff sees); its gradient at `theta' = theta` is
/// [`loss_gradient`]. Used for finite-difference checks.
pub fn surrogate_loss(
    sample_logits: &[f64],
    eval_logits: &[f64],
    base: &Dist,
    k: Estimator,
) -> Result<f64> {
    let sampler = Dist::from_log_weights(sample_logits)?;
    let eval = Dist::from_log_weights(eval_logits)?;
    let s: CompensatedSum = (0..sampler.len())
        .filter(|&x| sampler.prob(x) > 0.0)
        .map(|x| sampler.prob(x) * k.value(log_ratio(&eval, base, x)))
        .collect();
    Ok(s.value())
}

/// `grad_theta KL(pi_theta||pi0) = pi_theta (a - KL)` with `a = log(pi_theta/pi0)`.
pub fn reverse_kl_gradient(logits: &[f64], base: &Dist) -> Result<Vec<f64>> {
    let pi = Dist::from_log_weights(logits)?;
    let a: Vec<f64> = (0..pi.len()).map(|x| -log_ratio(&pi, base, x)).collect();
    let kl = pi.expectation(&a)?;
    Ok((0..pi.len()).map(|j| pi.prob(j) * (a[j] - kl)).collect())
}

/// `grad_theta KL(pi0||pi_theta) = pi_theta - pi0`.
pub fn forward_kl_gradient(logits: &[f64], base: &Dist) -> Result<Vec<f64>> {
    let pi = Dist::from_log_weights(logits)?;
    require_same_len("logits", logits.len(), "base", base.len())?;
    Ok((0..pi.len()).map(|j| pi.prob(j) - base.prob(j)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k3_series_matches_libm_and_is_non_negative() {
        for &l in &[-0.49, -0.1, -1e-9, 0.0, 1e-9, 0.2, 0.49] {
            let v = k3_value(l);
            assert!(v >= 0.0);
            // expm1(l) - l loses about eps/l^2 relative; the series is the accurate one.
            let libm = l.exp_m1() - l;
            assert!((v - libm).abs() <= 4.0 * f64::EPSILON * l.abs().max(1e-300));
        }
        assert_eq!(k3_value(f64::NEG_INFINITY), f64::INFINITY);
    }
}
