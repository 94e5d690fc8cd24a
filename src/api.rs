//! Solvers behind a JSON interface: one problem object in, one solution object out.
//!
//! This is what `rlhf-claims solve` reads on stdin and writes on stdout, so that code in any
//! language can call the exact solvers. Problems are tagged by `"solver"`:
//!
//! | solver | fields | extra output |
//! | --- | --- | --- |
//! | `tilt` | `base`, `reward`, `beta` | `beta`, `log_partition` |
//! | `kl_budget` | `base`, `reward`, `kl_budget` | `beta` (null when no finite beta), `regime` |
//! | `reward_target` | `base`, `reward`, `target` | `beta` (null when no finite beta), `regime` |
//! | `condition` | `base`, `reward`, `threshold` (keeps `r >= threshold`) | |
//! | `maxent` | `reward`, `alpha` | `value`, `entropy` (`kl` is against uniform) |
//! | `forward_kl` | `base`, `reward`, `gamma` | `gamma`, `lambda` (`policy = gamma base/(lambda - reward)`) |
//!
//! Every solution has `policy`, `expected_reward` and `kl` (KL(policy||base) in nats). Numbers
//! are written in the shortest form that round-trips to the same `f64`. A quantity beyond the
//! `f64` range (only `log_partition` can be) is written as `null`.

use crate::error::{Error, Result};
use crate::solve;
use crate::Dist;
use serde::Deserialize;
use serde_json::{json, Value};

/// A problem as read from JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "solver", rename_all = "snake_case")]
pub enum Problem {
    /// The KL-regularized optimum at `beta`.
    Tilt {
        /// Base probabilities.
        base: Vec<f64>,
        /// Rewards.
        reward: Vec<f64>,
        /// KL coefficient.
        beta: f64,
    },
    /// `max E[r] s.t. KL <= kl_budget`.
    KlBudget {
        /// Base probabilities.
        base: Vec<f64>,
        /// Rewards.
        reward: Vec<f64>,
        /// The KL budget in nats.
        kl_budget: f64,
    },
    /// `min KL s.t. E[r] >= target`.
    RewardTarget {
        /// Base probabilities.
        base: Vec<f64>,
        /// Rewards.
        reward: Vec<f64>,
        /// The reward target.
        target: f64,
    },
    /// `pi0(. | r >= threshold)`.
    Condition {
        /// Base probabilities.
        base: Vec<f64>,
        /// Rewards.
        reward: Vec<f64>,
        /// The bar.
        threshold: f64,
    },
    /// `softmax(reward / alpha)`.
    Maxent {
        /// Rewards.
        reward: Vec<f64>,
        /// Entropy coefficient.
        alpha: f64,
    },
    /// The pretraining-mix optimum `argmax E[r] + gamma E_base[log pi]`.
    ForwardKl {
        /// Base probabilities.
        base: Vec<f64>,
        /// Rewards.
        reward: Vec<f64>,
        /// Weight of the pretraining term (`> 0`).
        gamma: f64,
    },
}

fn finite_or_null(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn solution_json(s: &solve::Solution) -> Value {
    json!({
        "policy": s.policy.probs(),
        "expected_reward": s.expected_reward,
        "kl": s.kl,
    })
}

fn extend(mut v: Value, extra: Value) -> Value {
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    v
}

/// Solves one problem and returns its solution object.
pub fn solve(problem: &Problem) -> Result<Value> {
    Ok(match problem {
        Problem::Tilt { base, reward, beta } => {
            let t = solve::tilt(&Dist::new(base.clone())?, reward, *beta)?;
            extend(
                solution_json(&t.solution),
                json!({"beta": t.beta, "log_partition": finite_or_null(t.log_partition)}),
            )
        }
        Problem::KlBudget {
            base,
            reward,
            kl_budget,
        } => {
            let s = solve::kl_budget(&Dist::new(base.clone())?, reward, *kl_budget)?;
            extend(
                solution_json(&s.solution),
                json!({"beta": s.beta, "regime": s.regime}),
            )
        }
        Problem::RewardTarget {
            base,
            reward,
            target,
        } => {
            let s = solve::reward_target(&Dist::new(base.clone())?, reward, *target)?;
            extend(
                solution_json(&s.solution),
                json!({"beta": s.beta, "regime": s.regime}),
            )
        }
        Problem::Condition {
            base,
            reward,
            threshold,
        } => {
            let s = solve::condition_on_threshold(&Dist::new(base.clone())?, reward, *threshold)?;
            solution_json(&s)
        }
        Problem::Maxent { reward, alpha } => {
            let m = solve::maxent(reward, *alpha)?;
            extend(
                solution_json(&m.solution),
                json!({"alpha": m.alpha, "value": m.value, "entropy": m.entropy}),
            )
        }
        Problem::ForwardKl {
            base,
            reward,
            gamma,
        } => {
            let s = solve::forward_kl(&Dist::new(base.clone())?, reward, *gamma)?;
            extend(
                solution_json(&s.solution),
                json!({"gamma": s.beta, "lambda": s.lambda}),
            )
        }
    })
}

/// Parses a JSON problem and solves it. Malformed JSON, unknown solvers and missing fields are
/// [`Error::InvalidInput`].
pub fn solve_str(input: &str) -> Result<Value> {
    let problem: Problem = serde_json::from_str(input)
        .map_err(|e| Error::InvalidInput(format!("bad problem: {e}")))?;
    solve(&problem)
}

/// The JSON error object `{"error": {"kind": .., "message": ..}}` for an error.
pub fn error_json(e: &Error) -> Value {
    json!({"error": {"kind": e.kind(), "message": e.to_string()}})
}
