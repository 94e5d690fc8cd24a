//! Solvers behind a JSON interface: one problem object in, one solution object out.
//!
//! This is what `rlhf-claims solve` reads on stdin and writes on stdout, so that code in any
//! language can call the exact solvers. Problems are tagged by `"solver"`:
//!
//! | solver | fields | extra output |
//! | --- | --- | --- |
//! | `tilt` | `base`, `reward`, `beta` | `beta`, `log_partition` |
//! | `kl_budget` | `base`, `reward`, `kl_budget` | `beta` (null when no finite beta, when it is beyond the `f64` range, as for rewards `1.8e308` apart, or when the constraint binds only through masses below the doubles, which no double-precision search resolves), `regime` |
//! | `reward_target` | `base`, `reward`, `target` | `beta` (null as for `kl_budget`), `regime` |
//! | `condition` | `base`, `reward`, `threshold` (keeps `r >= threshold`) | |
//! | `maxent` | `reward`, `alpha` | `value` (null beyond the `f64` range, e.g. `alpha = f64::MAX`), `entropy` (`kl` is against uniform) |
//! | `gaussian_best_of_n` | `n` (as for `best_of_n`), `rho` (in [-1, 1]) | only `expected_proxy`, `expected_true`, `kl` |
//! | `best_of_n` | `base`, `reward`, `n` | `n`, `kl_bound` (= log n - (n-1)/n), `win_rate_half_ties`, `win_rate_strict` |
//! | `quantilizer` | `base`, `reward`, `q` | `q`, `boundary_reward`, `boundary_fraction` |
//! | `forward_kl` | `base`, `reward`, `gamma` | `gamma`, `lambda` (`policy = gamma base/(lambda - reward)`; null beyond the `f64` range) |
//! | `kl_gradient` | `base`, `logits`, `behavior_logits` (optional, default `logits`), `estimator` (`"k1"`, `"k2"`, `"k3"`), `placement` (`"reward"`, `"loss"`, `"loss_ratio"`) | only `gradient`, `reverse_kl_gradient` (null when `base` has a zero: infinite KL), `forward_kl_gradient`, all with respect to `logits` |
//! | `grpo` | `base`, `reward`, `beta`, `group_size` (integer >= 2 or `"infinite"`), `std` (`"sample"` or `"population"`), `kl` (`"k3_loss"` or `"k3_ratio"`) | `kl_forward` (KL(base\|\|policy)), `truncation_bound` (bound on the error of `P_G` from the pruned enumeration, 0 for `G = 2` and `"infinite"`); the stationary point of population GRPO |
//! | `grpo_ratio_temperatures` | `base`, `reward` (at least two values on the support), `beta` | only `temperatures`: the `tau` with `tau = beta sigma_tau(reward)`, increasing; the tilts at them are GRPO's candidate stationary points at `G = infinite` with `kl = "k3_ratio"`, where `grpo` answers only when there is exactly one |
//! | `winrate_optimal` | `base`, `reward`, `kl_budget` | `win_rate` (against the base, ties half), `beta` (of the tilt of the mid-rank `w`; null when no finite beta) |
//! | `soft_best_of_n` | `base`, `reward`, `n` (as for `best_of_n`), `temperature` (> 0) | `kl_to_tilt` (KL(policy \|\| tilt at beta = temperature); null beyond the `f64` range) |
//! | `chipo` | `base`, `reward`, `beta` | `lambda` (`policy = base W(exp((reward - lambda)/beta))`) |
//! | `fdiv` | `base`, `reward`, `divergence` (`"reverse_kl"`, `"forward_kl"`, `"chi_square"` or `{"alpha": a}`), `beta` | `divergence` (its label), `beta`, `lambda` (the normalization multiplier), `divergence_value` |
//! | `dpo` | `base`, `weight` (`n x n` rows: pair weights, symmetric, >= 0), exactly one of `reward` (Bradley-Terry preferences) or `prefs` (`n x n` rows, `P(x,y) + P(y,x) = 1`), `beta` | only `policy`, `kl`, `log_ratio` (log policy/base), `loss`, `gradient_norm`, `iterations`; `infeasible` when the DPO loss has no minimizer |
//! | `ipo` | as `dpo`, with `tau` in place of `beta` | only as `dpo` |
//! | `class_optimum` | `base`, `features` (`n x k` rows, `k >= 1`: the class `pi ∝ base exp(features theta)`), `reward`, `beta` | only `policy`, `expected_reward`, `kl`, `theta`, `objective`, `gradient_norm`, `iterations` |
//! | `frontier` | `base`, `truth` (the true utility), `eps` (KL budget) | only `eps`, `base_mean`, `low`, `high` (the range of `E_pi[truth]` over `KL(pi\|\|base) <= eps`), `pinsker`, `variance_proxy`, `sub_gaussian` |
//! | `base_logits` | in place of `base`, in every problem that has one (exactly one of the two; both or neither is `invalid_input`): unnormalized natural-log weights, `null` for `-inf` (a masked outcome) | the fields of the problem with the normalized base |
//! | `output` | `"policy"` (the default) or `"log_policy"`, in every problem whose answer has a `policy` (else `invalid_input`) | with `"log_policy"`: `log_policy`, `log policy(x)` per outcome as the solver formed it (finite where `policy` underflows to 0), `null` where the mass is zero (`-inf`) |
//! | (batch) `{"batch": [problem, ...]}` | any problems above, each with its `"solver"` | `{"batch": [solution, ...]}` in order; a failing problem gets its `{"error": ..}` object in place, the others are solved ([`solve_batch`]) |
//!
//! `n` must be a whole number `>= 1`: an integer literal up to `u64::MAX` (`1000000000000`), or
//! a number literal whose value is an integer no larger than `2^53` (`1e12` is read as
//! 10^12, where every integer is exact in `f64`). `2.5`, `0`, negatives, and float literals above
//! `2^53` (not exactly integers in the input) are [`Error::InvalidParameter`]. `q` must be in
//! `(0, 1]`.
//!
//! Every solution has `policy`, `expected_reward` and `kl` (KL(policy||base) in nats), except the
//! reduced answers marked "only" in the table. Numbers
//! are written in the shortest form that round-trips to the same `f64`; input numbers are parsed
//! correctly rounded. A quantity beyond the `f64` range is written as `null`; only the fields
//! the table marks as nullable can be (`log_partition`, the multipliers `beta`, `maxent`'s
//! `value`, `forward_kl`'s `lambda`, `soft_best_of_n`'s `kl_to_tilt`, `reverse_kl_gradient`,
//! and the entries of `log_policy`, where `null` is `-inf`, zero mass). A `-0.0` in a base is
//! mass
//! zero and comes back as `0.0`. A parser message that quotes the input is cut to 1000
//! characters.
//!
//! # Logits in, log-probabilities out
//!
//! A base given as `base_logits` is the softmax of [`Dist::from_logits`] (see [`BaseInput`]):
//! the answer is the one for the normalized base that softmax yields, bit for bit, and
//! `"output": "log_policy"` adds `log_policy`, the policy's log view as the solver formed it
//! (the tilt family forms `log pi = log base + r/beta - log Z` without a logarithm of the
//! rounded policy, so logits spread by thousands keep finite log-probabilities whose
//! probabilities underflow to 0; the other solvers' log view is `ln` of their policy). JSON has no
//! `-inf`, so a masked logit is written `null`, and a zero-mass outcome's log-probability comes
//! back `null`. JSON numbers carry no width: `f32` logits written from their exact value (as
//! Python's `json` writes a NumPy `float32` converted with `tolist()`) are read exactly. The
//! batch form takes both options in each of its problems.
//!
//! [`SCHEMA`] and [`OPTIONS`] hold this table as data (`rlhf-claims solve --schema` prints it); a test checks
//! that it names every [`Problem`] variant and matches the table above.

use crate::error::{Error, Result};
use crate::solve;
use crate::Dist;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A problem as read from JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "solver", rename_all = "snake_case")]
pub enum Problem {
    /// The KL-regularized optimum at `beta`.
    Tilt {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// KL coefficient.
        beta: f64,
    },
    /// `max E[r] s.t. KL <= kl_budget`.
    KlBudget {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// The KL budget in nats.
        kl_budget: f64,
    },
    /// `min KL s.t. E[r] >= target`.
    RewardTarget {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// The reward target.
        target: f64,
    },
    /// `pi0(. | r >= threshold)`.
    Condition {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
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
        /// Number of draws, a whole number >= 1 (as for `best_of_n`).
        n: serde_json::Number,
        /// Correlation of `U` and `V`.
        rho: f64,
    },
    /// Best-of-N: draw `n` from the base, keep one of highest reward (ties uniformly).
    BestOfN {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// Number of draws, a whole number >= 1 (see the module docs for accepted forms).
        n: serde_json::Number,
    },
    /// The q-quantilizer: the base restricted to its top `q` mass by reward.
    Quantilizer {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// Kept mass, in (0, 1].
        q: f64,
    },
    /// The pretraining-mix optimum `argmax E[r] + gamma E_base[log pi]`.
    ForwardKl {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// Weight of the pretraining term (`> 0`).
        gamma: f64,
    },
    /// The exact expected gradient of a KL estimator in a placement
    /// ([`solve::kl_gradient::kl_gradients`]).
    KlGradient {
        /// The reference `pi0`: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Logits of the policy `pi = softmax(logits)` (finite).
        logits: Vec<f64>,
        /// Logits of the behaviour policy that drew the samples (default: `logits`).
        #[serde(default)]
        behavior_logits: Option<Vec<f64>>,
        /// `"k1"`, `"k2"` or `"k3"`.
        estimator: solve::kl_estimator::Estimator,
        /// `"reward"`, `"loss"` or `"loss_ratio"`.
        placement: solve::kl_gradient::Placement,
    },
    /// The stationary point of population GRPO ([`solve::grpo`]).
    Grpo {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// KL coefficient (`> 0`).
        beta: f64,
        /// An integer `>= 2` or the string `"infinite"`.
        group_size: Value,
        /// `"sample"` or `"population"`.
        std: String,
        /// `"k3_loss"` or `"k3_ratio"`.
        kl: String,
    },
    /// The temperatures of the self-consistent tilts `tau = beta sigma_tau(r)`
    /// ([`solve::grpo::ratio_temperatures`]).
    GrpoRatioTemperatures {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// KL coefficient (`> 0`).
        beta: f64,
    },
    /// `max W(pi) s.t. KL <= kl_budget`, `W` the win rate against the base (ties half).
    WinrateOptimal {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// The KL budget in nats.
        kl_budget: f64,
    },
    /// Soft best-of-N: draw `n` from the base, return one with probability proportional to
    /// `exp(reward/temperature)`.
    SoftBestOfN {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// Number of draws, a whole number >= 1 (as for `best_of_n`).
        n: serde_json::Number,
        /// The selection temperature `lambda > 0`.
        temperature: f64,
    },
    /// The chiPO optimum `argmax E[r] - beta (chi2(pi||base)/2 + KL(pi||base))`.
    Chipo {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// Regularization coefficient (`> 0`).
        beta: f64,
    },
    /// `argmax E[r] - beta D_f(pi||base)` ([`solve::fdiv_optimum`]).
    Fdiv {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Rewards.
        reward: Vec<f64>,
        /// `"reverse_kl"`, `"forward_kl"`, `"chi_square"` or `{"alpha": a}`.
        divergence: solve::Divergence,
        /// Regularization coefficient (`> 0`).
        beta: f64,
    },
    /// The population-DPO minimizer over all policies ([`solve::preference::dpo_minimizer`]).
    Dpo {
        /// The base and the comparisons.
        #[serde(flatten)]
        pairs: PairProblem,
        /// KL coefficient (`> 0`).
        beta: f64,
    },
    /// The population-IPO minimizer over all policies ([`solve::preference::ipo_minimizer`]).
    Ipo {
        /// The base and the comparisons.
        #[serde(flatten)]
        pairs: PairProblem,
        /// Regularization `tau` (`> 0`).
        tau: f64,
    },
    /// The KL-regularized optimum within a log-linear class ([`solve::class_optimum`]).
    ClassOptimum {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// Features: `n` rows of `k >= 1` (row `x` is `phi(x)`).
        features: Vec<Vec<f64>>,
        /// Rewards.
        reward: Vec<f64>,
        /// KL coefficient (`> 0`).
        beta: f64,
    },
    /// The range of `E_pi[truth]` over `KL(pi||base) <= eps`
    /// ([`goodhart::frontier::true_utility_range`](crate::goodhart::frontier::true_utility_range)).
    Frontier {
        /// The base: `base` (probabilities) or `base_logits`.
        #[serde(flatten)]
        base: BaseInput,
        /// The true utility.
        truth: Vec<f64>,
        /// The KL budget in nats.
        eps: f64,
    },
}

/// The base of a problem: probabilities (`base`) or logits (`base_logits`), exactly one.
///
/// `base_logits` are unnormalized natural-log weights `w` (log-probabilities are accepted as
/// they are), read into [`Dist::from_logits`]: `p_i = e^{w_i - max w} / sum_j e^{w_j - max w}`,
/// with the log view `log p_i = (w_i - max w) - ln sum_j e^{w_j - max w}` formed from the
/// logits (so a log-probability far below the underflow of `exp` survives into
/// `"output": "log_policy"`). An entry `-inf` cannot be written in JSON: write `null` for a
/// masked outcome (zero mass).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BaseInput {
    /// Base probabilities (non-negative, summing to 1 within the crate's tolerance).
    #[serde(default)]
    pub base: Option<Vec<f64>>,
    /// Base logits (`null` for `-inf`: a masked outcome).
    #[serde(default)]
    pub base_logits: Option<Vec<Option<f64>>>,
}

impl BaseInput {
    /// The base distribution. Both or neither of `base` and `base_logits` is
    /// [`Error::InvalidInput`]; bad entries are the errors of [`Dist::new`] and
    /// [`Dist::from_logits`].
    pub fn dist(&self) -> Result<Dist> {
        match (&self.base, &self.base_logits) {
            (Some(p), None) => Dist::new(p.clone()),
            (None, Some(w)) => {
                let w: Vec<f64> = w.iter().map(|x| x.unwrap_or(f64::NEG_INFINITY)).collect();
                Dist::from_logits(&w)
            }
            (Some(_), Some(_)) => Err(Error::InvalidInput(
                "give one of base (probabilities) and base_logits (logits), not both".into(),
            )),
            (None, None) => Err(Error::InvalidInput(
                "missing the base: give base (probabilities) or base_logits (logits)".into(),
            )),
        }
    }
}

/// What a solution reports of its policy (the optional field `"output"` of every problem).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// `policy` only (the default).
    #[default]
    Policy,
    /// `policy` and `log_policy` (`log policy(x)`, `null` where the mass is zero).
    LogPolicy,
}

/// The data of a `dpo` or `ipo` problem: a base and pairwise comparisons.
#[derive(Debug, Clone, Deserialize)]
pub struct PairProblem {
    /// The base: `base` (probabilities) or `base_logits`.
    #[serde(flatten)]
    pub base: BaseInput,
    /// Pair weights `w(x, y)`, `n` rows of `n`.
    pub weight: Vec<Vec<f64>>,
    /// Bradley-Terry rewards (`P(x,y) = sigmoid(r(x) - r(y))`); exclusive with `prefs`.
    #[serde(default)]
    pub reward: Option<Vec<f64>>,
    /// Preference probabilities `P(x, y)`, `n` rows of `n`; exclusive with `reward`.
    #[serde(default)]
    pub prefs: Option<Vec<Vec<f64>>>,
}

impl PairProblem {
    /// The base and the comparisons: `weight` with Bradley-Terry preferences from `reward`, or
    /// with `prefs`; both or neither is [`Error::InvalidInput`].
    fn parts(&self) -> Result<(Dist, solve::Comparisons)> {
        let n = self.weight.len();
        let w = row_major("weight", &self.weight, n)?;
        let c = match (&self.reward, &self.prefs) {
            (Some(r), None) => solve::Comparisons::bradley_terry_row_major(r, &w)?,
            (None, Some(p)) => {
                solve::Comparisons::from_row_major(n, &w, &row_major("prefs", p, n)?)?
            }
            _ => {
                return Err(Error::InvalidInput(
                    "give exactly one of reward (Bradley-Terry) and prefs".into(),
                ))
            }
        };
        Ok((self.base.dist()?, c))
    }
}

/// One problem type of the JSON interface: its `"solver"` tag, its input fields and its output
/// beyond `policy`, `expected_reward` and `kl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProblemSchema {
    /// The value of `"solver"`.
    pub solver: &'static str,
    /// The input fields, in words.
    pub fields: &'static str,
    /// The output, in words (`only ...`: the output has just these fields).
    pub output: &'static str,
}

const fn row(solver: &'static str, fields: &'static str, output: &'static str) -> ProblemSchema {
    ProblemSchema {
        solver,
        fields,
        output,
    }
}

/// Every problem type, in the order of the module docs' table (the same text).
pub const SCHEMA: &[ProblemSchema] = &[
    row("tilt", "`base`, `reward`, `beta`", "`beta`, `log_partition`"),
    row("kl_budget", "`base`, `reward`, `kl_budget`", "`beta` (null when no finite beta, when it is beyond the `f64` range, as for rewards `1.8e308` apart, or when the constraint binds only through masses below the doubles, which no double-precision search resolves), `regime`"),
    row("reward_target", "`base`, `reward`, `target`", "`beta` (null as for `kl_budget`), `regime`"),
    row("condition", "`base`, `reward`, `threshold` (keeps `r >= threshold`)", ""),
    row("maxent", "`reward`, `alpha`", "`value` (null beyond the `f64` range, e.g. `alpha = f64::MAX`), `entropy` (`kl` is against uniform)"),
    row("gaussian_best_of_n", "`n` (as for `best_of_n`), `rho` (in [-1, 1])", "only `expected_proxy`, `expected_true`, `kl`"),
    row("best_of_n", "`base`, `reward`, `n`", "`n`, `kl_bound` (= log n - (n-1)/n), `win_rate_half_ties`, `win_rate_strict`"),
    row("quantilizer", "`base`, `reward`, `q`", "`q`, `boundary_reward`, `boundary_fraction`"),
    row("forward_kl", "`base`, `reward`, `gamma`", "`gamma`, `lambda` (`policy = gamma base/(lambda - reward)`; null beyond the `f64` range)"),
    row("kl_gradient", "`base`, `logits`, `behavior_logits` (optional, default `logits`), `estimator` (`\"k1\"`, `\"k2\"`, `\"k3\"`), `placement` (`\"reward\"`, `\"loss\"`, `\"loss_ratio\"`)", "only `gradient`, `reverse_kl_gradient` (null when `base` has a zero: infinite KL), `forward_kl_gradient`, all with respect to `logits`"),
    row("grpo", "`base`, `reward`, `beta`, `group_size` (integer >= 2 or `\"infinite\"`), `std` (`\"sample\"` or `\"population\"`), `kl` (`\"k3_loss\"` or `\"k3_ratio\"`)", "`kl_forward` (KL(base\\|\\|policy)), `truncation_bound` (bound on the error of `P_G` from the pruned enumeration, 0 for `G = 2` and `\"infinite\"`); the stationary point of population GRPO"),
    row("grpo_ratio_temperatures", "`base`, `reward` (at least two values on the support), `beta`", "only `temperatures`: the `tau` with `tau = beta sigma_tau(reward)`, increasing; the tilts at them are GRPO's candidate stationary points at `G = infinite` with `kl = \"k3_ratio\"`, where `grpo` answers only when there is exactly one"),
    row("winrate_optimal", "`base`, `reward`, `kl_budget`", "`win_rate` (against the base, ties half), `beta` (of the tilt of the mid-rank `w`; null when no finite beta)"),
    row("soft_best_of_n", "`base`, `reward`, `n` (as for `best_of_n`), `temperature` (> 0)", "`kl_to_tilt` (KL(policy \\|\\| tilt at beta = temperature); null beyond the `f64` range)"),
    row("chipo", "`base`, `reward`, `beta`", "`lambda` (`policy = base W(exp((reward - lambda)/beta))`)"),
    row("fdiv", "`base`, `reward`, `divergence` (`\"reverse_kl\"`, `\"forward_kl\"`, `\"chi_square\"` or `{\"alpha\": a}`), `beta`", "`divergence` (its label), `beta`, `lambda` (the normalization multiplier), `divergence_value`"),
    row("dpo", "`base`, `weight` (`n x n` rows: pair weights, symmetric, >= 0), exactly one of `reward` (Bradley-Terry preferences) or `prefs` (`n x n` rows, `P(x,y) + P(y,x) = 1`), `beta`", "only `policy`, `kl`, `log_ratio` (log policy/base), `loss`, `gradient_norm`, `iterations`; `infeasible` when the DPO loss has no minimizer"),
    row("ipo", "as `dpo`, with `tau` in place of `beta`", "only as `dpo`"),
    row("class_optimum", "`base`, `features` (`n x k` rows, `k >= 1`: the class `pi ∝ base exp(features theta)`), `reward`, `beta`", "only `policy`, `expected_reward`, `kl`, `theta`, `objective`, `gradient_norm`, `iterations`"),
    row("frontier", "`base`, `truth` (the true utility), `eps` (KL budget)", "only `eps`, `base_mean`, `low`, `high` (the range of `E_pi[truth]` over `KL(pi\\|\\|base) <= eps`), `pinsker`, `variance_proxy`, `sub_gaussian`"),
];

/// The options of every problem, rows of the same table after [`SCHEMA`] (the same text as the
/// module docs).
pub const OPTIONS: &[ProblemSchema] = &[
    row("base_logits", "in place of `base`, in every problem that has one (exactly one of the two; both or neither is `invalid_input`): unnormalized natural-log weights, `null` for `-inf` (a masked outcome)", "the fields of the problem with the normalized base"),
    row("output", "`\"policy\"` (the default) or `\"log_policy\"`, in every problem whose answer has a `policy` (else `invalid_input`)", "with `\"log_policy\"`: `log_policy`, `log policy(x)` per outcome as the solver formed it (finite where `policy` underflows to 0), `null` where the mass is zero (`-inf`)"),
];

/// [`SCHEMA`] and [`OPTIONS`] as a Markdown table (what `rlhf-claims solve --schema` prints).
pub fn schema_markdown() -> String {
    let mut s = String::from("| solver | fields | extra output |\n| --- | --- | --- |\n");
    for r in SCHEMA.iter().chain(OPTIONS) {
        // An empty cell is written `| |`, as in the module docs.
        let output = if r.output.is_empty() {
            String::new()
        } else {
            format!(" {}", r.output)
        };
        s.push_str(&format!("| `{}` | {} |{output} |\n", r.solver, r.fields));
    }
    s
}

fn finite_or_null(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn solution_json(s: &solve::Solution, output: Output) -> Value {
    with_logs(s, s.policy.log_probs(), output)
}

/// [`solution_json`] with `logs` as the log-policy.
fn with_logs(s: &solve::Solution, logs: &[f64], output: Output) -> Value {
    extend(
        policy_json(s.policy.probs(), logs, output),
        json!({"expected_reward": s.expected_reward, "kl": s.kl}),
    )
}

/// [`solution_json`] of the tilt of `base` by `reward` at `beta` (`None`: a solution of the
/// tilt family that is no tilt, such as a slack budget's), its log-policy extended to where
/// the policy underflows ([`solve::Solution::tilt_log_policy`]) when asked for.
fn tilt_json(
    s: &solve::Solution,
    (base, reward): (&Dist, &[f64]),
    beta: Option<f64>,
    output: Output,
) -> Result<Value> {
    Ok(match (output, beta) {
        (Output::LogPolicy, Some(beta)) => {
            with_logs(s, &s.tilt_log_policy(base, reward, beta)?, output)
        }
        _ => solution_json(s, output),
    })
}

/// `{"policy": [..]}`, with `"log_policy"` when asked: the log-policy `logs`, `null` for `-inf`
/// (zero mass), which JSON cannot write.
fn policy_json(probs: &[f64], logs: &[f64], output: Output) -> Value {
    match output {
        Output::Policy => json!({ "policy": probs }),
        Output::LogPolicy => {
            let logs: Vec<Value> = logs.iter().map(|&l| finite_or_null(l)).collect();
            json!({ "policy": probs, "log_policy": logs })
        }
    }
}

/// [`policy_json`] of a distribution and its own log view.
fn dist_json(policy: &Dist, output: Output) -> Value {
    policy_json(policy.probs(), policy.log_probs(), output)
}

/// [`Error::InvalidInput`] when `"output": "log_policy"` is asked of a solver with no policy.
fn no_policy(solver: &str, output: Output) -> Result<()> {
    match output {
        Output::Policy => Ok(()),
        Output::LogPolicy => Err(Error::InvalidInput(format!(
            "\"output\": \"log_policy\" needs a policy, and {solver} returns none"
        ))),
    }
}

fn extend(mut v: Value, extra: Value) -> Value {
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    v
}

/// Solves one problem and returns its solution object (`"output": "policy"`).
pub fn solve(problem: &Problem) -> Result<Value> {
    solve_with(problem, Output::Policy)
}

/// Solves one problem and returns its solution object, with the log-policy when `output`
/// asks for it (an error for the solvers whose answer has no policy).
pub fn solve_with(problem: &Problem, output: Output) -> Result<Value> {
    Ok(match problem {
        Problem::Tilt { base, reward, beta } => {
            let base = base.dist()?;
            let t = solve::tilt(&base, reward, *beta)?;
            extend(
                tilt_json(&t.solution, (&base, reward), Some(t.beta), output)?,
                json!({"beta": t.beta, "log_partition": finite_or_null(t.log_partition)}),
            )
        }
        Problem::KlBudget {
            base,
            reward,
            kl_budget,
        } => {
            let base = base.dist()?;
            let s = solve::kl_budget(&base, reward, *kl_budget)?;
            extend(
                tilt_json(&s.solution, (&base, reward), s.beta, output)?,
                json!({"beta": s.beta, "regime": s.regime}),
            )
        }
        Problem::RewardTarget {
            base,
            reward,
            target,
        } => {
            let base = base.dist()?;
            let s = solve::reward_target(&base, reward, *target)?;
            extend(
                tilt_json(&s.solution, (&base, reward), s.beta, output)?,
                json!({"beta": s.beta, "regime": s.regime}),
            )
        }
        Problem::Condition {
            base,
            reward,
            threshold,
        } => {
            let s = solve::condition_on_threshold(&base.dist()?, reward, *threshold)?;
            solution_json(&s, output)
        }
        Problem::Maxent { reward, alpha } => {
            let m = solve::maxent(reward, *alpha)?;
            let uniform = Dist::uniform(reward.len())?;
            extend(
                tilt_json(&m.solution, (&uniform, reward), Some(m.alpha), output)?,
                json!({"alpha": m.alpha, "value": finite_or_null(m.value), "entropy": m.entropy}),
            )
        }
        Problem::GaussianBestOfN { n, rho } => {
            no_policy("gaussian_best_of_n", output)?;
            let g = crate::goodhart::gaussian::best_of_n(draws_from_json(n)?, *rho)?;
            json!({
                "expected_proxy": g.expected_proxy,
                "expected_true": g.expected_true,
                "kl": g.kl,
            })
        }
        Problem::BestOfN { base, reward, n } => {
            let b = solve::best_of_n(&base.dist()?, reward, draws_from_json(n)?)?;
            extend(
                solution_json(&b.solution, output),
                json!({
                    "n": b.n,
                    "kl_bound": b.kl_bound,
                    "win_rate_half_ties": b.win_rate_half_ties,
                    "win_rate_strict": b.win_rate_strict,
                }),
            )
        }
        Problem::Quantilizer { base, reward, q } => {
            let s = solve::quantilize(&base.dist()?, reward, *q)?;
            extend(
                solution_json(&s.solution, output),
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
            let s = solve::forward_kl(&base.dist()?, reward, *gamma)?;
            extend(
                solution_json(&s.solution, output),
                json!({"gamma": s.beta, "lambda": finite_or_null(s.lambda)}),
            )
        }
        Problem::KlGradient {
            base,
            logits,
            behavior_logits,
            estimator,
            placement,
        } => {
            no_policy("kl_gradient", output)?;
            let g = solve::kl_gradient::kl_gradients(
                &base.dist()?,
                logits,
                behavior_logits.as_deref(),
                *estimator,
                *placement,
            )?;
            json!({
                "gradient": g.gradient,
                "reverse_kl_gradient": g.reverse_kl_gradient,
                "forward_kl_gradient": g.forward_kl_gradient,
            })
        }
        Problem::Grpo {
            base,
            reward,
            beta,
            group_size,
            std,
            kl,
        } => {
            let config = grpo_config(*beta, group_size, std, kl)?;
            let s = solve::grpo_stationary(&base.dist()?, reward, &config)?;
            extend(
                solution_json(&s.solution, output),
                json!({"kl_forward": s.kl_forward, "truncation_bound": s.truncation_bound}),
            )
        }
        Problem::GrpoRatioTemperatures { base, reward, beta } => {
            no_policy("grpo_ratio_temperatures", output)?;
            let taus = solve::grpo::ratio_temperatures(&base.dist()?, reward, *beta)?;
            json!({ "temperatures": taus })
        }
        Problem::WinrateOptimal {
            base,
            reward,
            kl_budget,
        } => {
            let s = solve::winrate_optimal(&base.dist()?, reward, *kl_budget)?;
            extend(
                solution_json(&s.solution, output),
                json!({"win_rate": s.win_rate, "beta": s.beta}),
            )
        }
        Problem::SoftBestOfN {
            base,
            reward,
            n,
            temperature,
        } => {
            let s =
                solve::soft_best_of_n(&base.dist()?, reward, draws_from_json(n)?, *temperature)?;
            extend(
                solution_json(&s.solution, output),
                json!({"kl_to_tilt": s.kl_to_tilt}),
            )
        }
        Problem::Chipo { base, reward, beta } => {
            let s = solve::chipo(&base.dist()?, reward, *beta)?;
            extend(
                solution_json(&s.solution, output),
                json!({"lambda": s.lambda}),
            )
        }
        Problem::Fdiv {
            base,
            reward,
            divergence,
            beta,
        } => {
            let s = solve::fdiv_optimum(&base.dist()?, reward, *divergence, *beta)?;
            extend(
                solution_json(&s.solution, output),
                json!({"divergence": s.divergence.label(), "beta": s.beta, "lambda": s.lambda,
                       "divergence_value": s.divergence_value}),
            )
        }
        Problem::Dpo { pairs, beta } => {
            let (base, c) = pairs.parts()?;
            preference_json(
                &base,
                &solve::preference::dpo_minimizer(&base, &c, *beta)?,
                output,
            )?
        }
        Problem::Ipo { pairs, tau } => {
            let (base, c) = pairs.parts()?;
            preference_json(
                &base,
                &solve::preference::ipo_minimizer(&base, &c, *tau)?,
                output,
            )?
        }
        Problem::ClassOptimum {
            base,
            features,
            reward,
            beta,
        } => {
            let base = base.dist()?;
            let k = features.first().map_or(0, Vec::len);
            let phi = row_major("features", features, k)?;
            let class = solve::LogLinearClass::from_row_major(base.clone(), k, &phi)?;
            let s = solve::class_optimum(&class, reward, *beta)?;
            extend(
                dist_json(&s.policy, output),
                json!({
                    "expected_reward": s.policy.expectation(reward)?,
                    "kl": crate::divergence::kl(&s.policy, &base)?,
                    "theta": s.theta,
                    "objective": s.objective,
                    "gradient_norm": s.gradient_norm,
                    "iterations": s.iterations,
                }),
            )
        }
        Problem::Frontier { base, truth, eps } => {
            no_policy("frontier", output)?;
            let r = crate::goodhart::frontier::true_utility_range(&base.dist()?, truth, *eps)?;
            serde_json::to_value(r).map_err(|e| Error::InvalidInput(e.to_string()))?
        }
    })
}

/// The entries of `rows` (each of length `cols`) in row-major order; a row of another length
/// is [`Error::LengthMismatch`].
fn row_major(what: &'static str, rows: &[Vec<f64>], cols: usize) -> Result<Vec<f64>> {
    for r in rows {
        crate::error::require_same_len(what, r.len(), "its first row", cols)?;
    }
    Ok(rows.concat())
}

/// The output of a `dpo` or `ipo` problem; `kl` recomputed from the policy.
fn preference_json(base: &Dist, s: &solve::PreferenceOptimum, output: Output) -> Result<Value> {
    Ok(extend(
        dist_json(&s.policy, output),
        json!({
            "kl": crate::divergence::kl(&s.policy, base)?,
            "log_ratio": s.log_ratio,
            "loss": s.loss,
            "gradient_norm": s.gradient_norm,
            "iterations": s.iterations,
        }),
    ))
}

/// Reads a GRPO problem's configuration: `group_size` an integer `>= 2` or `"infinite"`
/// (anything else, including `1` and `2.5`, is [`Error::InvalidParameter`]), `std` and `kl` one
/// of their two names (else [`Error::InvalidInput`]).
pub fn grpo_config(
    beta: f64,
    group_size: &Value,
    std: &str,
    kl: &str,
) -> Result<solve::GrpoConfig> {
    let group_size = match group_size {
        Value::String(s) if s == "infinite" => solve::GroupSize::Infinite,
        Value::Number(n) if n.as_u64().is_some_and(|g| g >= 2) => {
            let g = n.as_u64().unwrap_or(0);
            solve::GroupSize::Finite(
                usize::try_from(g).map_err(|e| Error::InvalidInput(e.to_string()))?,
            )
        }
        other => {
            return Err(Error::InvalidParameter {
                name: "group_size",
                value: other.as_f64().unwrap_or(f64::NAN),
                requirement: "an integer >= 2 or \"infinite\"",
            })
        }
    };
    let std = match std {
        "sample" => solve::GroupStd::Sample,
        "population" => solve::GroupStd::Population,
        other => {
            return Err(Error::InvalidInput(format!(
                "std must be \"sample\" or \"population\", got {other:?}"
            )))
        }
    };
    let kl = match kl {
        "k3_loss" => solve::KlPlacement::K3Loss,
        "k3_ratio" => solve::KlPlacement::K3Ratio,
        other => {
            return Err(Error::InvalidInput(format!(
                "kl must be \"k3_loss\" or \"k3_ratio\", got {other:?}"
            )))
        }
    };
    let config = solve::GrpoConfig {
        beta,
        group_size,
        std,
        kl,
    };
    config.validate()?;
    Ok(config)
}

/// Parses a JSON problem and solves it. Malformed JSON, unknown solvers and missing fields are
/// [`Error::InvalidInput`].
pub fn solve_str(input: &str) -> Result<Value> {
    if let Ok(b) = serde_json::from_str::<BatchInput>(input) {
        return Ok(solve_batch(&b.batch));
    }
    let r: Request = serde_json::from_str(input).map_err(bad_problem)?;
    solve_with(&r.problem, r.output)
}

/// A problem and its `"output"` option.
#[derive(Deserialize)]
struct Request {
    #[serde(flatten)]
    problem: Problem,
    #[serde(default)]
    output: Output,
}

/// Solves one problem given as a JSON value: the [`Problem`] and its optional `"output"`
/// (`"policy"`, the default, or `"log_policy"`; see [`Output`]).
pub fn solve_value(problem: &Value) -> Result<Value> {
    let r = Request::deserialize(problem).map_err(bad_problem)?;
    solve_with(&r.problem, r.output)
}

/// The [`Error::InvalidInput`] of a parser error, its message clipped.
fn bad_problem(e: serde_json::Error) -> Error {
    Error::InvalidInput(format!("bad problem: {}", clipped(&e.to_string())))
}

/// The longest parser message echoed (it quotes the input, e.g. an unknown solver name, which
/// may be megabytes long).
const MAX_ECHO: usize = 1000;

/// `message` cut to [`MAX_ECHO`] characters, with a note of how much was dropped.
fn clipped(message: &str) -> String {
    let total = message.chars().count();
    if total <= MAX_ECHO {
        return message.to_string();
    }
    let head: String = message.chars().take(MAX_ECHO).collect();
    format!("{head}... ({} more characters)", total - MAX_ECHO)
}

/// The JSON error object `{"error": {"kind": .., "message": ..}}` for an error.
pub fn error_json(e: &Error) -> Value {
    json!({"error": {"kind": e.kind(), "message": e.to_string()}})
}

/// Largest float-literal `n` accepted: every integer up to `2^53` is exact in `f64`.
const MAX_EXACT_FLOAT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Reads the number of draws `n` from JSON: an integer literal (`u64`), or a float literal with
/// an integral value in `[1, 2^53]`. Zero and everything else is [`Error::InvalidParameter`].
fn draws_from_json(n: &serde_json::Number) -> Result<u64> {
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

/// `{"batch": [problem, ...]}`: the batch form of `solve` (only this key).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchInput {
    batch: Vec<Value>,
}

/// Solves every problem of a batch, in parallel for large batches, and returns
/// `{"batch": [solution, ...]}` in the order of the problems, with the error object of
/// [`error_json`] in place of each problem that fails (the others are still solved). Each
/// entry is exactly what `solve` returns for that problem alone.
pub fn solve_batch(problems: &[Value]) -> Value {
    // Outcomes in all (the length of each `base`, else `reward`): decides whether threads are
    // worth starting.
    let outcomes = |p: &Value| {
        let field = |k: &str| p.get(k).and_then(Value::as_array).map(Vec::len);
        field("base")
            .or_else(|| field("base_logits"))
            .or_else(|| field("reward"))
            .unwrap_or(1)
    };
    let work = problems.iter().map(outcomes).sum();
    let results = solve::batch::map_items(problems.len(), work, |i| {
        solve_value(&problems[i]).unwrap_or_else(|e| error_json(&e))
    });
    json!({ "batch": results })
}
