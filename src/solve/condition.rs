//! Conditioning the base policy on an event: `pi0(. | A)`.
//!
//! By claim `lagrange.threshold`, `pi0(. | A)` is the KL-closest policy to `pi0` among those that
//! put all their mass on `A`, and `KL(pi0(.|A) || pi0) = -log pi0(A)`.

use super::Solution;
use crate::dist::{check_reward, Dist};
use crate::error::{require_finite, require_same_len, Error, Result};
use crate::numeric::CompensatedSum;

/// `pi0(. | A)` for the event `A = {x : event[x]}`, with its expected reward and
/// `KL = -log pi0(A)` (computed from the complement mass when `pi0(A)` is close to 1).
///
/// Errors: length mismatches; non-finite rewards; `pi0(A) = 0` ([`Error::Infeasible`]).
pub fn condition_on_event(base: &Dist, reward: &[f64], event: &[bool]) -> Result<Solution> {
    check_reward(base, reward)?;
    require_same_len("base", base.len(), "event", event.len())?;
    let policy = base.condition(|i| event[i])?;
    let kl = base.neg_log_mass_where(|i| event[i]);
    let expected_reward = super::expected_reward(&policy, reward);
    Ok(Solution {
        policy,
        expected_reward,
        kl,
    })
}

/// `pi0(. | r >= t)`: filtering, or rejection sampling with the bar `t`.
///
/// ```
/// use rlhf_claims::{Dist, solve::condition_on_threshold};
/// let base = Dist::new(vec![0.5, 0.25, 0.25])?;
/// let s = condition_on_threshold(&base, &[0.0, 1.0, 2.0], 1.0)?;
/// assert_eq!(s.policy.probs(), &[0.0, 0.5, 0.5]);
/// assert!((s.kl - 2f64.ln()).abs() < 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn condition_on_threshold(base: &Dist, reward: &[f64], threshold: f64) -> Result<Solution> {
    check_reward(base, reward)?;
    if threshold.is_nan() {
        return Err(Error::InvalidParameter {
            name: "threshold",
            value: threshold,
            requirement: "a number (not NaN)",
        });
    }
    let event: Vec<bool> = reward.iter().map(|r| *r >= threshold).collect();
    condition_on_event(base, reward, &event).map_err(|e| match e {
        Error::Infeasible(_) => Error::Infeasible(format!(
            "no outcome in the support of the base has reward >= {threshold}"
        )),
        other => other,
    })
}

/// `pi0(r >= t)`, compensated.
pub fn threshold_mass(base: &Dist, reward: &[f64], threshold: f64) -> Result<f64> {
    check_reward(base, reward)?;
    require_finite("threshold", &[threshold])?;
    let s: CompensatedSum = base
        .probs()
        .iter()
        .zip(reward)
        .filter(|(_, r)| **r >= threshold)
        .map(|(p, _)| *p)
        .collect();
    Ok(s.value())
}
