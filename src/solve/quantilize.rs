//! The q-quantilizer (Taylor 2016): `pi0` restricted to its top `q` mass by reward, renormalized;
//! a boundary tie class is taken in part, proportionally to `pi0`.
//!
//! With classes sorted by decreasing reward, `M` the mass of the classes strictly above the
//! boundary class `b` (the first class at which the cumulative mass reaches `q`):
//!
//! ```text
//! pi_q(x) = pi0(x) / q                              for r(x) > r_b,
//! pi_q(x) = pi0(x) (q - M) / (pi0(b) q)             for r(x) = r_b,
//! pi_q(x) = 0                                       otherwise.
//! ```
//!
//! So `pi_q <= pi0 / q` pointwise, with equality on every fully included class.

use super::classes::RewardClasses;
use super::Solution;
use crate::dist::{Dist, LINEAR_VIEW_FLOOR};
use crate::error::{Error, Result};
use crate::numeric::CompensatedSum;
use serde::Serialize;

/// The quantilizer and its boundary.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Quantilizer {
    /// Policy, expected reward and `KL(pi_q || pi0)`.
    #[serde(flatten)]
    pub solution: Solution,
    /// q.
    pub q: f64,
    /// Reward of the boundary class.
    pub boundary_reward: f64,
    /// Fraction of the boundary class's mass that is kept, in `(0, 1]`.
    pub boundary_fraction: f64,
}

/// Validates a kept mass: `0 < q <= 1`, else [`Error::InvalidParameter`].
pub fn check_kept_mass(q: f64) -> Result<f64> {
    if q > 0.0 && q <= 1.0 {
        Ok(q)
    } else {
        Err(Error::InvalidParameter {
            name: "q",
            value: q,
            requirement: "in (0, 1]",
        })
    }
}

/// `log` of the kept fraction `f = kept / pi0(b)` of the boundary class `b`, accurate when `f`
/// is close to 1: for a heavy class the dropped mass `pi0(b) - kept = (1 - q) - pi0(r < r_b)`
/// is formed from `1 - q` (exact for `q >= 1/2`) and the summed lower masses, and when it is
/// less than half the class, `log f = log1p(-dropped / pi0(b))`; otherwise
/// `log kept - log pi0(b)` (no cancellation: `f <= 1/2` there or the class is light).
fn log_kept_fraction(boundary: &super::classes::RewardClass, q: f64, kept: f64) -> f64 {
    if kept >= boundary.mass {
        return 0.0;
    }
    let dropped = ((1.0 - q) - boundary.below).max(0.0);
    if boundary.mass > 0.5 && dropped < 0.5 * boundary.mass {
        (-dropped / boundary.mass).ln_1p()
    } else {
        (kept.ln() - boundary.log_mass()).min(0.0)
    }
}

/// `log(pi_q(x)/pi0(x))` on the boundary class, `= log f - log q = log(kept/q) - log pi0(b)`,
/// from whichever form has the smaller rounding: the first carries `eps (|log f| + |log q|)`
/// (it cancels when `q` is tiny and the boundary is the top class), the second
/// `eps (1 + |log(kept/q)| + |log pi0(b)|)` (it cannot resolve a ratio closer to 1 than `eps`).
fn log_boundary_ratio(
    boundary: &super::classes::RewardClass,
    q: f64,
    kept: f64,
    log_frac: f64,
) -> f64 {
    let log_q = q.ln();
    let by_fraction = log_frac - log_q;
    let log_kept_over_q = (kept / q).ln();
    let log_mass = boundary.log_mass();
    if log_frac.abs() + log_q.abs() <= 1.0 + log_kept_over_q.abs() + log_mass.abs() {
        by_fraction
    } else {
        log_kept_over_q - log_mass
    }
}

/// The quantilizer whose kept mass is below [`LINEAR_VIEW_FLOOR`]: there the linear masses
/// from which `q` is matched may be subnormal, held only to `2^-1074` absolute, so the policy
/// built from the log view, `pi0(x)/q`, can miss total mass 1 by up to `2^-1074/q` relative. It
/// is normalized in the log view, and its KL and expected reward are taken from it.
fn from_log_view(
    base: &Dist,
    reward: &[f64],
    logs: &[f64],
    q: f64,
    boundary_reward: f64,
    boundary_fraction: f64,
) -> Result<Quantilizer> {
    let policy = Dist::from_log_weights(logs)?;
    let kl = crate::divergence::kl(&policy, base)?;
    let expected_reward = super::expected_reward(&policy, reward);
    Ok(Quantilizer {
        solution: Solution {
            policy,
            expected_reward,
            kl,
        },
        q,
        boundary_reward,
        boundary_fraction,
    })
}

/// The q-quantilizer for `0 < q <= 1`.
///
/// ```
/// use rlhf_claims::{Dist, solve::quantilize};
/// let base = Dist::new(vec![0.5, 0.25, 0.25])?;
/// let s = quantilize(&base, &[0.0, 1.0, 2.0], 0.375)?;
/// // keeps all of the top outcome and half of the middle one
/// assert!((s.solution.policy.prob(2) - 0.25 / 0.375).abs() < 1e-15);
/// assert!((s.boundary_fraction - 0.5).abs() < 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn quantilize(base: &Dist, reward: &[f64], q: f64) -> Result<Quantilizer> {
    check_kept_mass(q)?;
    let classes = RewardClasses::new(base, reward)?;
    // Boundary: the highest-reward class b with above(b) < q <= above(b) + mass(b).
    let b = classes
        .classes
        .iter()
        .rposition(|c| c.above + c.mass >= q)
        .unwrap_or(0);
    let boundary = &classes.classes[b];
    let kept = (q - boundary.above).clamp(0.0, boundary.mass);
    let fraction = if boundary.mass > 0.0 {
        (kept / boundary.mass).min(1.0)
    } else {
        1.0
    };
    let len = base.len();
    let (mut probs, mut logs) = (vec![0.0; len], vec![f64::NEG_INFINITY; len]);
    let log_q = q.ln();
    let log_frac = log_kept_fraction(boundary, q, kept);
    // The masses directly, `pi0(x)/q` and `(pi0(x)/pi0(b)) (kept/q)` (each factor at most 1, so
    // nothing overflows; a few roundings), not `exp` of the log view, whose rounding
    // `eps |log pi_q(x)|` is 1.5e-13 relative at `q = 1e-300`.
    let kept_over_q = kept / q;
    for (k, class) in classes.classes.iter().enumerate().skip(b) {
        let shift = if k == b { log_frac - log_q } else { -log_q };
        for &i in classes.members(k) {
            logs[i] = base.log_prob(i) + shift;
            probs[i] = if k == b {
                base.prob(i) / class.mass * kept_over_q
            } else {
                base.prob(i) / q
            };
        }
    }
    let total = boundary.above + kept;
    if total < LINEAR_VIEW_FLOOR {
        return from_log_view(base, reward, &logs, q, boundary.reward, fraction);
    }
    let above_share = boundary.above / total;
    let kept_share = kept / total;
    let mut kl = CompensatedSum::new();
    if above_share > 0.0 {
        kl.add(above_share * (-log_q));
    }
    if kept_share > 0.0 {
        kl.add(kept_share * log_boundary_ratio(boundary, q, kept, log_frac));
    }
    let policy = Dist::from_parts_unchecked(probs, logs);
    let expected_reward = super::expected_reward(&policy, reward);
    Ok(Quantilizer {
        solution: Solution {
            policy,
            expected_reward,
            kl: kl.value().max(0.0),
        },
        q,
        boundary_reward: boundary.reward,
        boundary_fraction: fraction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kept mass far below the top class's: `pi_q = pi0(.|top)` and `KL = -log pi0(top)`
    /// exactly, which [`log_boundary_ratio`] must keep to the last bits by taking
    /// `log(kept/q) - log pi0(b)` (here `0 - log(1/2)`): the other form, `log f - log q`,
    /// cancels two logarithms of size 575 and misses by about `575 eps = 1.3e-13`. (A mutant
    /// that picks that form whenever it tests which form to take passed every other test.)
    #[test]
    fn a_tiny_kept_mass_in_the_top_class_keeps_the_kl_to_its_last_bits() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let s = quantilize(&base, &[0.0, 1.0], 1e-250)?;
        let ln2 = std::f64::consts::LN_2;
        assert_eq!(s.solution.policy.probs(), &[0.0, 1.0]);
        assert!(
            (s.solution.kl - ln2).abs() <= 2.0 * f64::EPSILON * ln2,
            "kl {} against ln 2",
            s.solution.kl
        );
        Ok(())
    }
}
