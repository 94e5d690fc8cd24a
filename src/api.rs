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
//! | `gaussian_best_of_n` | `n` (integer >= 1), `rho` (in [-1, 1]) | only `expected_proxy`, `expected_true`, `kl` |
//! | `best_of_n` | `base`, `reward`, `n` | `n`, `kl_bound` (= log n - (n-1)/n), `win_rate_half_ties`, `win_rate_strict` |
//! | `quantilizer` | `base`, `reward`, `q` | `q`, `boundary_reward`, `boundary_fraction` |
//! | `forward_kl` | `base`, `reward`, `gamma` | `gamma`, `lambda` (`policy = gamma base/(lambda - reward)`) |
//! | `chipo` | `base`, `reward`, `beta` | `lambda` (`policy = base W(exp((reward - lambda)/beta))`) |
//!
//! `n` must be a whole number `>= 1`: an integer literal up to `u64::MAX` (`1000000000000`), or
//! a number literal whose value is an integer no larger than `2^53` (`1e12` is read as
//! 10^12, where every integer is exact in `f64`). `2.5`, `0`, negatives, and float literals above
//! `2^53` (not exactly integers in the input) are [`Error::InvalidParameter`]. `q` must be in
//! `(0, 1]`.
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
    /// Best-of-N on `U` for a standard bivariate normal `(U, V)` with correlation `rho`.
    GaussianBestOfN {
        /// Number of draws (an integer >= 1).
        n: u64,
        /// Correlation of `U` and `V`.
        rho: f64,
    },
    /// Best-of-N: draw `n` from the base, keep one of highest reward (ties uniformly).
    BestOfN {
        /// Base probabilities.
        base: Vec<f64>,
        /// Rewards.
        reward: Vec<f64>,
        /// Number of draws, a whole number >= 1 (see the module docs for accepted forms).
        n: serde_json::Number,
    },
    /// The q-quantilizer: the base restricted to its top `q` mass by reward.
    Quantilizer {
        /// Base probabilities.
        base: Vec<f64>,
        /// Rewards.
        reward: Vec<f64>,
        /// Kept mass, in (0, 1].
        q: f64,
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
    /// The chiPO optimum `argmax E[r] - beta (chi2(pi||base)/2 + KL(pi||base))`.
    Chipo {
        /// Base probabilities.
        base: Vec<f64>,
        /// Rewards.
        reward: Vec<f64>,
        /// Regularization coefficient (`> 0`).
        beta: f64,
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
        Problem::GaussianBestOfN { n, rho } => {
            let g = crate::goodhart::gaussian::best_of_n(*n, *rho)?;
            json!({
                "expected_proxy": g.expected_proxy,
                "expected_true": g.expected_true,
                "kl": g.kl,
            })
        }
        Problem::BestOfN { base, reward, n } => {
            let b = solve::best_of_n(&Dist::new(base.clone())?, reward, draws_from_json(n)?)?;
            extend(
                solution_json(&b.solution),
                json!({
                    "n": b.n,
                    "kl_bound": b.kl_bound,
                    "win_rate_half_ties": b.win_rate_half_ties,
                    "win_rate_strict": b.win_rate_strict,
                }),
            )
        }
        Problem::Quantilizer { base, reward, q } => {
            let s = solve::quantilize(&Dist::new(base.clone())?, reward, *q)?;
            extend(
                solution_json(&s.solution),
                json!({
                    "q": s.q,
                    "boundary_reward": s.boundary_reward,
                    "boundary_fraction": s.boundary_fraction,
                }),
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
        Problem::Chipo { base, reward, beta } => {
            let s = solve::chipo(&Dist::new(base.clone())?, reward, *beta)?;
            extend(solution_json(&s.solution), json!({"lambda": s.lambda}))
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

/// Largest float-literal `n` accepted: every integer up to `2^53` is exact in `f64`.
const MAX_EXACT_FLOAT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Reads the number of draws `n` from JSON: an integer literal (`u64`), or a float literal with
/// an integral value in `[1, 2^53]`. Zero and everything else is [`Error::InvalidParameter`].
pub fn draws_from_json(n: &serde_json::Number) -> Result<u64> {
    let invalid = |value: f64| Error::InvalidParameter {
        name: "n",
        value,
        requirement: "a whole number >= 1 (float literals at most 2^53)",
    };
    if let Some(k) = n.as_u64() {
        return if k >= 1 { Ok(k) } else { Err(invalid(0.0)) };
    }
    let x = n.as_f64().unwrap_or(f64::NAN);
    if (1.0..=MAX_EXACT_FLOAT_INTEGER).contains(&x) && x.fract() == 0.0 {
        // In range and integral, so the conversion is exact.
        Ok(x as u64)
    } else {
        Err(invalid(x))
    }
}
