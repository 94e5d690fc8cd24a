//! Exact expected gradients of every placement of a KL estimator in a trainer (claim
//! `estimator.placement`).
//!
//! The policy is `pi = softmax(theta)` on `n` outcomes, the reference `pi0`, the behaviour
//! policy `mu = softmax(theta_mu)` (the policy that drew the samples; `mu = pi` on-policy), and
//! one of the estimators `k1`, `k2`, `k3` of [`Estimator`] of the log-ratio
//! `l(x) = log(pi0(x)/pi(x))`. With `grad_theta log pi(x) = e_x - pi` and
//! `grad_theta l(x) = pi - e_x`, the three placements are
//!
//! ```text
//! reward      E_pi[k(l(x)) grad log pi(x)]           score-function term only: the estimate is
//!                                                    subtracted from the reward (REINFORCE)
//! loss        E_mu[grad_theta k(l_theta(x))]         the estimate is a loss on samples from mu,
//!                                                    no ratio
//! loss_ratio  E_mu[grad_theta (rho(x) k(l_theta(x)))]  rho = pi_theta/mu, differentiable
//! ```
//!
//! Every placement is a finite sum of the form `sum_x w(x) c(x) (e_x - pi)`:
//!
//! | placement | weight `w(x)` | coefficient `c(x)` |
//! | --- | --- | --- |
//! | `reward` | `pi(x)` | `k(l(x))` |
//! | `loss` | `mu(x)` | `-k'(l(x))` |
//! | `loss_ratio` | `mu(x) rho(x)` | `k(l(x)) - k'(l(x))` |
//!
//! (`grad (rho k) = rho (e_x - pi) k + rho k' (pi - e_x)`), so component `j` is
//! `w(j) c(j) - pi_j sum_x w(x) c(x)`, computed with compensated sums. The `reward` placement
//! is the importance-corrected REINFORCE term when samples come from `mu`
//! (`E_mu[rho k grad log pi] = E_pi[k grad log pi]`), so it does not depend on `mu`; the
//! `loss_ratio` weight `mu rho = pi` makes it independent of `mu` too (it is computed literally,
//! as `exp(log mu + log rho)`, so that the independence is a result, not an assumption). Only
//! `loss` depends on the behaviour policy.
//!
//! The reference gradients are `grad KL(pi||pi0) = pi_j (log(pi_j/pi0_j) - KL(pi||pi0))` and
//! `grad KL(pi0||pi) = pi - pi0` ([`reverse_kl_gradient`], [`forward_kl_gradient`]).

use crate::dist::Dist;
use crate::error::{require_finite, require_same_len, Error, Result};
use crate::numeric::CompensatedSum;
use crate::solve::kl_estimator::{forward_kl_gradient, log_ratio, reverse_kl_gradient, Estimator};
use serde::{Deserialize, Serialize};

/// Where a trainer puts the KL estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Subtracted from the reward: only the score-function term `E_pi[k grad log pi]`.
    Reward,
    /// A loss on samples from the behaviour policy, differentiated with the sample held fixed:
    /// `E_mu[grad k]`.
    Loss,
    /// A loss multiplied by the differentiable ratio `rho = pi_theta/mu`: `E_mu[grad(rho k)]`.
    LossRatio,
}

/// The three placements, in order.
pub const PLACEMENTS: [Placement; 3] = [Placement::Reward, Placement::Loss, Placement::LossRatio];

impl Placement {
    /// `"reward"`, `"loss"`, `"loss_ratio"`.
    pub fn name(self) -> &'static str {
        match self {
            Placement::Reward => "reward",
            Placement::Loss => "loss",
            Placement::LossRatio => "loss_ratio",
        }
    }
}

/// A placement's exact expected gradient next to the gradients of both KL directions, all with
/// respect to the logits `theta`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct KlGradients {
    /// The placement's expected gradient.
    pub gradient: Vec<f64>,
    /// `grad KL(pi||pi0)`; `None` when `pi0` has a zero where `pi` (full support) does not, so
    /// that the reverse KL is infinite.
    pub reverse_kl_gradient: Option<Vec<f64>>,
    /// `grad KL(pi0||pi) = pi - pi0`.
    pub forward_kl_gradient: Vec<f64>,
}

/// The softmax policy of finite logits (`-inf` and NaN are [`Error::NonFinite`]: a softmax
/// policy has full support).
pub fn softmax_policy(what: &'static str, logits: &[f64]) -> Result<Dist> {
    require_finite(what, logits)?;
    Dist::from_log_weights(logits)
}

/// The weight `w(x)` and coefficient `c(x)` of the placement at outcome `x` (module docs).
fn term(
    pi: &Dist,
    mu: &Dist,
    base: &Dist,
    k: Estimator,
    placement: Placement,
    x: usize,
) -> (f64, f64) {
    let l = log_ratio(pi, base, x);
    match placement {
        Placement::Reward => (pi.prob(x), k.value(l)),
        Placement::Loss => (mu.prob(x), -k.derivative(l)),
        Placement::LossRatio => {
            let log_rho = pi.log_prob(x) - mu.log_prob(x);
            // k - k' = -l + 1, l^2/2 - l, -l for k1, k2, k3 (k3: the e^l terms cancel exactly).
            let c = match k {
                Estimator::K3 => -l,
                _ => k.value(l) - k.derivative(l),
            };
            ((mu.log_prob(x) + log_rho).exp(), c)
        }
    }
}

/// `sum_x w(x) c(x) (e_x - pi)` for the placement (module docs).
///
/// Errors: [`Error::InvalidInput`] when a coefficient is infinite, i.e. the placement needs
/// `log pi0(x)` at an outcome with `pi0(x) = 0` (every estimator in `reward` and `loss_ratio`,
/// `k2` in `loss`; `k1` and `k3` as a plain loss only use `k'(l) = -1, e^l - 1`, finite there).
pub fn placement_gradient(
    pi: &Dist,
    mu: &Dist,
    base: &Dist,
    k: Estimator,
    placement: Placement,
) -> Result<Vec<f64>> {
    require_same_len("policy", pi.len(), "base", base.len())?;
    require_same_len("behavior", mu.len(), "base", base.len())?;
    let terms: Vec<(f64, f64)> = (0..pi.len())
        .map(|x| term(pi, mu, base, k, placement, x))
        .collect();
    if let Some(x) = terms.iter().position(|(_, c)| !c.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "{} as {} needs log pi0 at outcome {x}, where pi0 = {} and pi = {:e}: the placement's \
             gradient is infinite",
            k.name(),
            placement.name(),
            base.prob(x),
            pi.prob(x)
        )));
    }
    let total: CompensatedSum = terms.iter().map(|(w, c)| w * c).collect();
    let total = total.value();
    Ok(terms
        .iter()
        .enumerate()
        .map(|(j, (w, c))| w * c - pi.prob(j) * total)
        .collect())
}

/// The placement's gradient at `logits` with behaviour logits `behavior_logits` (`None`:
/// on-policy, `mu = pi`), next to both KL gradients.
///
/// Errors: empty or non-finite logits ([`Error::Empty`], [`Error::NonFinite`]), lengths that
/// differ ([`Error::LengthMismatch`]), and a placement that needs `log pi0` where `pi0 = 0`
/// ([`placement_gradient`]).
///
/// ```
/// use rlhf_claims::solve::kl_gradient::{kl_gradients, Placement};
/// use rlhf_claims::solve::kl_estimator::Estimator;
/// use rlhf_claims::Dist;
/// let base = Dist::new(vec![0.2, 0.3, 0.5])?;
/// let g = kl_gradients(&base, &[1.0, 0.0, -0.5], Some(&[0.0, 0.0, 0.0]), Estimator::K3,
///     Placement::LossRatio)?;
/// let rkl = g.reverse_kl_gradient.expect("finite reverse KL");
/// for (a, b) in g.gradient.iter().zip(&rkl) {
///     assert!((a - b).abs() < 1e-14);
/// }
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn kl_gradients(
    base: &Dist,
    logits: &[f64],
    behavior_logits: Option<&[f64]>,
    k: Estimator,
    placement: Placement,
) -> Result<KlGradients> {
    let pi = softmax_policy("logits", logits)?;
    require_same_len("logits", logits.len(), "base", base.len())?;
    let mu = match behavior_logits {
        Some(b) => {
            require_same_len("behavior_logits", b.len(), "base", base.len())?;
            softmax_policy("behavior_logits", b)?
        }
        None => pi.clone(),
    };
    let gradient = placement_gradient(&pi, &mu, base, k, placement)?;
    let covered = (0..base.len()).all(|x| base.in_support(x));
    Ok(KlGradients {
        gradient,
        reverse_kl_gradient: if covered {
            Some(reverse_kl_gradient(logits, base)?)
        } else {
            None
        },
        forward_kl_gradient: forward_kl_gradient(logits, base)?,
    })
}

/// The scalar surrogate whose gradient in `eval_logits`, at `eval_logits = logits`, is the
/// placement's expected gradient (what autodiff differentiates), for finite-difference checks:
///
/// - `reward`: `E_{pi_eval}[k(l_theta)]`, the estimate frozen at `theta` (a fixed reward),
///   the sampling law moving;
/// - `loss`: `E_mu[k(l_eval)]`;
/// - `loss_ratio`: `E_mu[(pi_eval/mu) k(l_eval)]`.
pub fn placement_surrogate(
    base: &Dist,
    logits: &[f64],
    eval_logits: &[f64],
    behavior_logits: &[f64],
    k: Estimator,
    placement: Placement,
) -> Result<f64> {
    let pi = softmax_policy("logits", logits)?;
    let eval = softmax_policy("eval_logits", eval_logits)?;
    let mu = softmax_policy("behavior_logits", behavior_logits)?;
    require_same_len("logits", pi.len(), "base", base.len())?;
    require_same_len("eval_logits", eval.len(), "base", base.len())?;
    require_same_len("behavior_logits", mu.len(), "base", base.len())?;
    let s: CompensatedSum = (0..base.len())
        .map(|x| match placement {
            Placement::Reward => eval.prob(x) * k.value(log_ratio(&pi, base, x)),
            Placement::Loss => mu.prob(x) * k.value(log_ratio(&eval, base, x)),
            Placement::LossRatio => {
                let rho = (eval.log_prob(x) - mu.log_prob(x)).exp();
                mu.prob(x) * rho * k.value(log_ratio(&eval, base, x))
            }
        })
        .collect();
    Ok(s.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_base_mass_is_refused_where_log_pi0_is_needed() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5, 0.0])?;
        let theta = [0.0, 0.5, -1.0];
        for k in crate::solve::kl_estimator::ESTIMATORS {
            for p in PLACEMENTS {
                let g = kl_gradients(&base, &theta, None, k, p);
                let finite = p == Placement::Loss && k != Estimator::K2;
                assert_eq!(g.is_ok(), finite, "{} {}", k.name(), p.name());
                if let Ok(g) = g {
                    assert!(g.reverse_kl_gradient.is_none());
                }
            }
        }
        Ok(())
    }

    #[test]
    fn bad_logits_are_typed_errors() -> Result<()> {
        let base = Dist::uniform(2)?;
        let k = Estimator::K1;
        let p = Placement::Loss;
        let nan = kl_gradients(&base, &[0.0, f64::NAN], None, k, p);
        assert!(matches!(nan, Err(Error::NonFinite { .. })));
        let inf = kl_gradients(&base, &[0.0, f64::NEG_INFINITY], None, k, p);
        assert!(matches!(inf, Err(Error::NonFinite { .. })));
        let short = kl_gradients(&base, &[0.0], None, k, p);
        assert!(matches!(short, Err(Error::LengthMismatch { .. })));
        let mu = kl_gradients(&base, &[0.0, 1.0], Some(&[0.0]), k, p);
        assert!(matches!(mu, Err(Error::LengthMismatch { .. })));
        Ok(())
    }
}
