//! Exact solvers: pure functions from a problem (base policy, reward, parameter) to a solution.
//!
//! Every solver validates its input and returns a typed [`Error`](crate::Error) for bad input; a
//! constrained problem with no feasible point is [`Error::Infeasible`](crate::Error::Infeasible),
//! never a number.

use crate::dist::Dist;
use serde::Serialize;

pub mod best_of_n;
pub mod classes;
pub mod condition;
pub mod quantilize;
pub mod tilt;
mod tilt_passes;

pub use best_of_n::{best_of_n, BestOfN};
pub use classes::{RewardClass, RewardClasses};
pub use condition::{condition_on_event, condition_on_threshold};
pub use quantilize::{quantilize, Quantilizer};
pub use tilt::{
    kl_budget, maxent, reward_target, tilt, BudgetRegime, KlBudget, MaxEnt, RewardTarget,
    TargetRegime, Tilt,
};

/// What every solver returns: the policy and the two numbers a user asks next.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Solution {
    /// The optimal policy.
    pub policy: Dist,
    /// `E_policy[r]`.
    pub expected_reward: f64,
    /// `KL(policy || base)` in nats.
    pub kl: f64,
}
pub mod fdiv;
mod forward_kl;
pub use fdiv::{fdiv_optimum, forward_kl, Divergence, FdivOptimum};
pub mod preference;
pub use preference::{Comparisons, PreferenceOptimum};
pub mod family;
pub use family::{class_optimum, ClassOptimum, LogLinearClass};
pub mod grpo;
pub mod kl_estimator;
pub mod kl_gradient;
pub mod sequence;
pub use grpo::{grpo_stationary, GroupSize, GroupStd, GrpoConfig, GrpoStationary, KlPlacement};
pub mod winrate;
pub use winrate::{quantilizer_at_kl, win_values, winrate_optimal, WinRateOptimum};
pub mod soft_best_of_n;
pub use soft_best_of_n::{soft_best_of_n, SoftBestOfN};
pub mod chipo;
pub mod pass_at_k;
pub use chipo::{chipo, ChiPo};
pub mod dpo_step;
pub mod output;
pub use output::{kl_budget_into, tilt_into, BudgetSummary, PolicyBuffers};
pub use tilt::TiltSummary;
pub mod batch;

/// `E_pi[r] = sum pi r`, compensated, from the halved rewards when the plain sum overflows, and
/// clamped to the range of `r` on the policy's support (which the exact value lies in).
pub(crate) fn expected_reward(policy: &Dist, reward: &[f64]) -> f64 {
    expected_reward_of(policy.probs(), reward)
}

/// [`expected_reward`] of a probability vector given as a slice (a caller's buffer).
pub(crate) fn expected_reward_of(probs: &[f64], reward: &[f64]) -> f64 {
    let e = crate::dist::mean_over_support(probs, reward);
    let (lo, hi) = crate::dist::range_over_support(probs, reward);
    // (Not `clamp`, which panics on an empty range.)
    e.max(lo).min(hi)
}
