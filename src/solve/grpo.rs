//! Stationary points of population GRPO on a finite space (claims `grpo.*`).
//!
//! GRPO (Group Relative Policy Optimization) draws a group of `G >= 2` outputs i.i.d. from the
//! policy `pi = softmax(theta)`, standardizes their rewards inside the group,
//!
//! ```text
//! A_i = (r_i - mean(r_1..r_G)) / std(r_1..r_G),   A_i = 0 when the group's std is 0,
//! ```
//!
//! with the sample std (divide by `G - 1`, torch's default) or the population std (divide by
//! `G`), and ascends `(1/G) sum_i A_i grad log pi(o_i)` minus `beta` times a KL term. With
//! `P_G(o | pi) = E[A_1 | o_1 = o]` (the other `G - 1` outputs i.i.d. from `pi`), the expected
//! policy-gradient term on logit `j` is `pi_j P_G(j)`, because `E_pi[P_G] = E[A_1] = 0` (the
//! advantages of a group sum to zero). The two KL placements:
//!
//! - [`KlPlacement::K3Loss`]: `k3 = pi0/pi - 1 - log(pi0/pi)` as a loss on on-policy samples;
//!   its expected gradient is `grad KL(pi0||pi) = pi - pi0`. The expected update is
//!   `F_j = pi_j P_G(j) + beta (pi0_j - pi_j)`, zero iff `pi_j = pi0_j / (1 - P_G(j)/beta)`.
//! - [`KlPlacement::K3Ratio`]: `k3` times the differentiable ratio `pi_theta/pi_old`; its
//!   expected gradient is `grad KL(pi||pi0)`, with components `pi_j (log(pi_j/pi0_j) - KL)`.
//!   `F_j = pi_j (P_G(j) - beta (log(pi_j/pi0_j) - KL))`, zero iff `pi ∝ pi0 exp(P_G/beta)`.
//!
//! `P_G(o)` depends on `o` only through `r(o)`, so every stationary point is `pi0` times a
//! function of the reward class, and the problem lives on the `K` reward classes of
//! `supp pi0` (outside it `pi = 0`, where `F_j = 0` too). The sample std's advantage is the
//! population one times `sqrt((G - 1)/G)`, so only the population `P_G` is computed.
//!
//! # Methods (proofs in `proofs/grpo.stationary.md` and `proofs/grpo.kl-placement.md`)
//!
//! - `P_2(o) = pi(r < r(o)) - pi(r > r(o))` (population std; `O(K)` after sorting).
//! - `P_inf(o) = (r(o) - E_pi r) / sigma_pi(r)` (both stds agree in the limit; `0` if
//!   `sigma_pi = 0`).
//! - `3 <= G < inf`: a walk over the compositions of the other `G - 1` outputs into the `K`
//!   classes, the multinomial law as a chain of conditional binomials computed by their ratio
//!   recurrence (no factorials: nothing overflows at any `G`), pruned below [`PRUNE_CUT`], with
//!   every omitted probability accounted for: the result comes with a truncation bound
//!   `sqrt(G - 1) * omitted` (`|A| <= sqrt(G - 1)`), reported as
//!   [`GrpoStationary::truncation_bound`] and [`BoundedAdvantage::truncation_bound`]. Its work
//!   is about `(18 sigma)^(K - 1) K^2` per evaluation (`sigma` the std of a class count, at most
//!   `sqrt(G)/2`) instead of the `C(G + K - 2, K - 1) K^2` of the full enumeration: a binary
//!   reward at `G = 10^6` is a few thousand compositions. One solve's work is capped by
//!   [`MAX_ENUMERATION_WORK`]; beyond it, a typed refusal.
//! - k3 loss, `G = 2`: closed form. With `C_k = pi(r <= v_k)` and `Q_k = pi0(r <= v_k)` on the
//!   sorted classes, the fixed point telescopes into `Phi(C_k) = b Q_k`, `Phi(C) = (b + 1) C -
//!   C^2`, `b = beta` (population) or `sqrt(2) beta` (sample): `C_k` is the smaller root for
//!   `k < K` and `C_K = 1`. Unique; `O(n)` (radix sort of the classes).
//! - k3 loss, `G = inf`: `pi ∝ pi0 / (lambda - r)` with `lambda > max r` the unique root of
//!   `Cov_pi0(r, 1/(lambda - r)) = 1/beta^2` (decreasing in `lambda`); this is the forward-KL
//!   optimum at `gamma = beta sigma_pi(r)`. Unique; `O(K)` per Newton step, on the covariance
//!   written as a sum of non-negative terms over centred deviations (module
//!   `infinite_k3_loss`, accurate where the base puts `1 - 1e-15` on one class).
//! - k3 ratio, `G = inf`: `pi` is the tilt at temperature `tau` with `tau = beta sigma_tau(r)`;
//!   roots of `ln(beta sigma_tau/tau) = 0` found on a log grid of [`TAU_GRID`] points and refined
//!   by bisection (in logarithms, so roots beyond `tau = f64::MAX` are found); where three
//!   samples of one sign have their extreme in the middle, that extreme is refined by
//!   golden-section search, so a pair of roots closer than the grid's step (`beta` just past
//!   the value where two tilts merge) is found too. The scan is not a proof of completeness:
//!   roots closer than the grid's step around an extremum that is not sampled as one can still
//!   be missed. None: [`Error::Infeasible`]; more than one: [`Error::NotUnique`].
//! - otherwise (finite `G >= 3`, or the ratio placement at `G = 2`): Newton on the `K - 1` free
//!   class logits with a backtracking line search, from several starts ([`NEWTON_STARTS`]);
//!   at most [`MAX_NEWTON_CLASSES`] classes. Starts that converge to different points give
//!   [`Error::NotUnique`]; none converging gives [`Error::NoConvergence`]. Uniqueness is proved
//!   for `G = 2` (both placements: a symmetric zero-sum game), for `G = inf` with the k3 loss,
//!   and for a two-valued reward at every `G` with the k3 loss (`h(p) = p (1 - P_G(1|p)/beta)`
//!   is increasing wherever it is positive); elsewhere the multi-start agreement is evidence,
//!   not proof.
//!
//! Every returned point is verified: the class-level expected update is recomputed from the
//! returned policy and must vanish within [`STATIONARITY_TOLERANCE`] times
//! `beta + max |P_G|`.

use crate::dist::{check_reward, Dist};
use crate::divergence::kl;
use crate::error::{require_positive, Error, Result};
use crate::numeric::{dot, golden_section_max, CompensatedSum, Scaled};
use crate::solve::{RewardClasses, Solution};
use composition::Budget;
use serde::Serialize;

mod centred;
mod composition;
mod infinite_k3_loss;

/// The group size: an integer `G >= 2`, or the limit `G -> infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupSize {
    /// `G` outputs per group.
    Finite(usize),
    /// The limit of infinitely large groups.
    Infinite,
}

/// Which standard deviation normalizes the group's rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStd {
    /// Divide by `G - 1` (torch.std's default).
    Sample,
    /// Divide by `G`.
    Population,
}

/// Where the k3 KL estimator enters the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlPlacement {
    /// `k3` as a loss on on-policy samples: expected gradient `grad KL(pi0||pi)`.
    K3Loss,
    /// `k3 pi_theta/pi_old` as a loss: expected gradient `grad KL(pi||pi0)`.
    K3Ratio,
}

impl GroupSize {
    /// `G` for a finite group, `0` for the infinite one (for messages).
    fn finite_or_zero(self) -> usize {
        match self {
            GroupSize::Finite(g) => g,
            GroupSize::Infinite => 0,
        }
    }
}

/// A GRPO problem's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct GrpoConfig {
    /// The KL coefficient, `> 0`.
    pub beta: f64,
    /// `G`.
    pub group_size: GroupSize,
    /// The std convention.
    pub std: GroupStd,
    /// The KL placement.
    pub kl: KlPlacement,
}

impl GrpoConfig {
    /// Checks `beta > 0` and `G >= 2`.
    pub fn validate(&self) -> Result<()> {
        require_positive("beta", self.beta)?;
        match self.group_size {
            GroupSize::Finite(g) if g < 2 => Err(Error::InvalidParameter {
                name: "group_size",
                value: g as f64,
                requirement: "an integer >= 2 or \"infinite\"",
            }),
            _ => Ok(()),
        }
    }

    /// The factor by which this std convention scales the population-std advantage:
    /// `sqrt((G - 1)/G)` for the sample std at finite `G`, else `1`.
    pub fn std_factor(&self) -> f64 {
        match (self.std, self.group_size) {
            (GroupStd::Sample, GroupSize::Finite(g)) => ((g as f64 - 1.0) / g as f64).sqrt(),
            _ => 1.0,
        }
    }
}

/// A stationary point of the expected GRPO update.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct GrpoStationary {
    /// The policy, its expected reward and `KL(policy||base)`.
    pub solution: Solution,
    /// `KL(base||policy)`.
    pub kl_forward: f64,
    /// `P_G(o | policy)` for every outcome.
    pub advantage: Vec<f64>,
    /// The largest class-level `|F|` of the expected update at the returned policy.
    pub residual: f64,
    /// A bound on `|P_G - advantage|` from the pruning of the composition walk (`0` where `P_G`
    /// is a closed form: `G = 2` and `G = inf`); rounding comes on top.
    pub truncation_bound: f64,
}

/// `P_G(o | pi)` for every outcome and a bound on its truncation error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundedAdvantage {
    /// `P_G(o | pi)`, as computed.
    pub advantage: Vec<f64>,
    /// A bound on `|P_G - advantage|` from the pruned walk (`0` for the closed forms).
    pub truncation_bound: f64,
}

/// Cap on the composition walk's work over one solve (binomial terms computed plus `K^2` per
/// composition visited, summed over every evaluation of a Newton solve; about a second).
pub const MAX_ENUMERATION_WORK: f64 = 1e8;
/// The composition walk drops binomial terms below `PRUNE_CUT` times their mode's term and
/// subtrees of probability below `PRUNE_CUT`; what it drops is bounded and reported.
pub const PRUNE_CUT: f64 = 1e-20;
/// Cap on the number of reward classes for the dense Newton solver.
pub const MAX_NEWTON_CLASSES: usize = 256;
/// The verification threshold: class-level `|F| <= STATIONARITY_TOLERANCE (beta + max|P|)`.
pub const STATIONARITY_TOLERANCE: f64 = 1e-9;
/// Points of the log-temperature grid of the ratio placement at `G = inf`.
pub const TAU_GRID: usize = 600;
/// Number of Newton starts: `pi0`, the `G = 2` point, mass `0.9` on the top class, and mass
/// `0.9` on the bottom class.
pub const NEWTON_STARTS: usize = 4;

/// Reward classes as plain columns: sorted distinct values and their masses.
#[derive(Debug, Clone)]
struct Columns {
    values: Vec<f64>,
    mass: Vec<f64>,
}

/// `P_G(o | pi)` for every outcome `o` (the conditional expected advantage of an output, the
/// other `G - 1` i.i.d. from `pi`), under `config`'s group size and std (beta and the KL
/// placement are ignored). Errors: lengths or non-finite rewards, `G < 2`, an enumeration above
/// [`MAX_ENUMERATION_WORK`].
pub fn group_advantage(pi: &Dist, reward: &[f64], config: &GrpoConfig) -> Result<Vec<f64>> {
    Ok(group_advantage_bounded(pi, reward, config)?.advantage)
}

/// [`group_advantage`] with the bound on its truncation error (see the module docs).
pub fn group_advantage_bounded(
    pi: &Dist,
    reward: &[f64],
    config: &GrpoConfig,
) -> Result<BoundedAdvantage> {
    check_reward(pi, reward)?;
    config.validate()?;
    let mut idx: Vec<usize> = (0..reward.len()).collect();
    idx.sort_by(|&a, &b| reward[a].total_cmp(&reward[b]));
    let mut cols = Columns {
        values: Vec::new(),
        mass: Vec::new(),
    };
    let mut class = vec![0usize; reward.len()];
    let mut acc = CompensatedSum::new();
    for (pos, &i) in idx.iter().enumerate() {
        let new_class = pos == 0 || reward[i] != reward[idx[pos - 1]];
        if new_class {
            if pos > 0 {
                cols.mass.push(acc.value());
            }
            acc = CompensatedSum::new();
            cols.values.push(reward[i]);
        }
        acc.add(pi.prob(i));
        class[i] = cols.values.len() - 1;
    }
    cols.mass.push(acc.value());
    let budget = Budget::new(MAX_ENUMERATION_WORK, config.group_size.finite_or_zero());
    let (p, truncation_bound) = class_advantage(&cols, config, &budget)?;
    Ok(BoundedAdvantage {
        advantage: class.iter().map(|&k| p[k]).collect(),
        truncation_bound,
    })
}

/// `P_G` per class (sorted values, masses summing to 1) and its truncation bound.
fn class_advantage(c: &Columns, config: &GrpoConfig, budget: &Budget) -> Result<(Vec<f64>, f64)> {
    let f = config.std_factor();
    let (p, bound) = match config.group_size {
        GroupSize::Finite(2) => (pairwise(&c.mass), 0.0),
        GroupSize::Finite(g) => {
            let (p, _, bound) = enumerate(c, g, false, budget)?;
            (p, bound)
        }
        GroupSize::Infinite => (standardized(c), 0.0),
    };
    Ok((p.into_iter().map(|x| x * f).collect(), bound * f))
}

/// `P_2` with the population std: `pi(r < v_k) - pi(r > v_k)` (compensated prefix sums).
fn pairwise(mass: &[f64]) -> Vec<f64> {
    let mut below = CompensatedSum::new();
    let mut prefix = Vec::with_capacity(mass.len());
    for &m in mass {
        prefix.push(below.value());
        below.add(m);
    }
    let mut above = CompensatedSum::new();
    let mut out = vec![0.0; mass.len()];
    for k in (0..mass.len()).rev() {
        out[k] = prefix[k] - above.value();
        above.add(mass[k]);
    }
    out
}

/// How the differences `v - reference` of a group's values map exactly onto `[-2, 2]`: halved
/// first when one of them overflows (`v/2 - reference/2`, exact but for subnormal values, then
/// negligible), then multiplied by the power of two `2^k` that brings the largest into
/// `[1, 2)`. The image is a positive affine map of the values, under which a standardized
/// advantage `(v - mean)/std` is unchanged; computed from the values themselves, its variance
/// underflows to 0 for rewards `1e-300` apart and overflows for rewards `f64::MAX` apart.
#[derive(Debug, Clone, Copy)]
struct UnitScaling {
    reference: f64,
    halve: bool,
    k: i32,
}

impl UnitScaling {
    /// The scaling of `values` about `reference`; `None` when every difference is 0.
    fn of(values: impl Iterator<Item = f64> + Clone, reference: f64) -> Option<Self> {
        let halve = values.clone().any(|v| !(v - reference).is_finite());
        let mut s = Self {
            reference,
            halve,
            k: 0,
        };
        let largest = values.map(|v| s.difference(v).abs()).fold(0.0, f64::max);
        if !(largest > 0.0) {
            return None;
        }
        s.k = -(largest.log2().floor() as i32);
        Some(s)
    }

    /// `v - reference`, halved if the scaling halves.
    fn difference(&self, v: f64) -> f64 {
        if self.halve {
            v / 2.0 - self.reference / 2.0
        } else {
            v - self.reference
        }
    }

    /// The image of `v`.
    fn apply(&self, v: f64) -> f64 {
        crate::numeric::times_pow2(self.difference(v), self.k)
    }
}

/// `P_inf = (v - mu)/sigma`, `0` when `sigma = 0`, computed on the [`UnitScaling`] of the
/// values about the lowest.
fn standardized(c: &Columns) -> Vec<f64> {
    let Some(&lo) = c.values.first() else {
        return Vec::new();
    };
    let Some(scaling) = UnitScaling::of(c.values.iter().copied(), lo) else {
        return vec![0.0; c.values.len()];
    };
    standardized_unscaled(&Columns {
        values: c.values.iter().map(|&v| scaling.apply(v)).collect(),
        mass: c.mass.clone(),
    })
}

/// [`standardized`] on values of moderate spread.
fn standardized_unscaled(c: &Columns) -> Vec<f64> {
    if c.values.len() < 2 {
        // One reward class: sigma = 0 exactly, every advantage is 0. (The rounded masses may
        // miss 1 by an ulp, which would leave `v - mu` and `sigma` at rounding level and make
        // their ratio +-1.)
        return vec![0.0; c.values.len()];
    }
    let mu: f64 = c.mass.iter().zip(&c.values).map(|(m, v)| m * v).sum();
    let var: f64 = c
        .mass
        .iter()
        .zip(&c.values)
        .map(|(m, v)| m * (v - mu) * (v - mu))
        .sum();
    let sigma = var.sqrt();
    c.values
        .iter()
        .map(|v| if sigma > 0.0 { (v - mu) / sigma } else { 0.0 })
        .collect()
}

/// Exact `P_G` (population std) per class by the pruned composition walk of
/// [`composition`](self) (module docs there), its truncation bound, and (if `jacobian`)
/// `d P_c / d x_l = (G - 1) E[A_c | one other output pinned to class l]` of the multilinear
/// extension in the class masses.
fn enumerate(
    c: &Columns,
    g: usize,
    jacobian: bool,
    budget: &Budget,
) -> Result<(Vec<f64>, Vec<Vec<f64>>, f64)> {
    let p = composition::walk(&c.values, &c.mass, g, None, PRUNE_CUT, budget)?;
    let mut jac = Vec::new();
    if jacobian {
        let k = c.values.len();
        jac = vec![vec![0.0; k]; k];
        for l in 0..k {
            let d = composition::walk(&c.values, &c.mass, g, Some(l), PRUNE_CUT, budget)?;
            for (row, v) in jac.iter_mut().zip(&d.values) {
                row[l] = (g - 1) as f64 * v;
            }
        }
    }
    Ok((p.values, jac, p.truncation_bound))
}

/// The stationary point of the expected GRPO update (see the module documentation for the
/// method of each case, its cost and its uniqueness).
///
/// ```
/// use rlhf_claims::{Dist, solve::grpo::*};
/// // Two outcomes, uniform base, 0/1 reward, beta = 1, G = 2, population std, k3 loss:
/// // p^2 + (beta - 1) p - beta q = 0, so p = 1/sqrt(2) (the tilt gives e/(1 + e)).
/// let base = Dist::uniform(2)?;
/// let config = GrpoConfig {
///     beta: 1.0,
///     group_size: GroupSize::Finite(2),
///     std: GroupStd::Population,
///     kl: KlPlacement::K3Loss,
/// };
/// let s = grpo_stationary(&base, &[0.0, 1.0], &config)?;
/// assert!((s.solution.policy.prob(1) - 0.5f64.sqrt()).abs() < 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn grpo_stationary(base: &Dist, reward: &[f64], config: &GrpoConfig) -> Result<GrpoStationary> {
    check_reward(base, reward)?;
    config.validate()?;
    let classes = RewardClasses::new(base, reward)?;
    let cols = Columns {
        values: classes.classes.iter().map(|c| c.reward).collect(),
        mass: classes.classes.iter().map(|c| c.mass).collect(),
    };
    let budget = Budget::new(MAX_ENUMERATION_WORK, config.group_size.finite_or_zero());
    let ratios = if cols.values.len() == 1 {
        Ratios::from_linear(vec![1.0])
    } else {
        class_ratio(&cols, config, &budget)?
    };
    let k = ratios.t.len();
    // One reward class: the base itself (renormalizing its masses could move them by an ulp).
    let policy = if k == 1 {
        base.clone()
    } else {
        let (weights, e) = scaled_weights(base, &classes, &ratios);
        let (policy, total) = Dist::from_weights_with_total(weights)?;
        with_log_view(policy, base, &classes, (total, e), &ratios.log_t)
    };
    let x = Columns {
        values: cols.values,
        mass: (0..k)
            .map(|k| classes.members(k).iter().map(|&i| policy.prob(i)).sum())
            .collect(),
    };
    let (class_p, truncation_bound) = class_advantage(&x, config, &budget)?;
    let mut advantage = vec![0.0; base.len()];
    for (k, p) in class_p.iter().enumerate() {
        for &i in classes.members(k) {
            advantage[i] = *p;
        }
    }
    let bounded = BoundedAdvantage {
        advantage,
        truncation_bound,
    };
    finish(base, reward, policy, bounded, config)
}

/// The class ratios `t = pi(class)/pi0(class)` of a stationary point and their logarithms.
/// The ratio placement's stationary ratios are `exp(P/beta + ...)`: at `beta = 0.001` a class
/// of advantage `-2.6` has `ln t` near `-2600`, so `t` underflows to 0 while `ln t` (and with it
/// `KL(pi0||pi)`) is finite; solvers that know `ln t` report it.
struct Ratios {
    /// `t`, one per class in increasing reward.
    t: Vec<f64>,
    /// `ln t`.
    log_t: Vec<f64>,
}

impl Ratios {
    /// Ratios that never underflow, with `ln t` taken from `t`.
    fn from_linear(t: Vec<f64>) -> Self {
        let log_t = t.iter().map(|x| x.ln()).collect();
        Self { t, log_t }
    }
}

/// `pi(class)/pi0(class)` at the stationary point, `K >= 2` classes.
fn class_ratio(c: &Columns, config: &GrpoConfig, budget: &Budget) -> Result<Ratios> {
    match (config.group_size, config.kl) {
        (GroupSize::Finite(2), KlPlacement::K3Loss) => {
            Ok(Ratios::from_linear(pairwise_k3_loss(c, config)))
        }
        (GroupSize::Infinite, KlPlacement::K3Loss) => {
            infinite_k3_loss::infinite_k3_loss(c, config.beta)
        }
        (GroupSize::Infinite, KlPlacement::K3Ratio) => infinite_k3_ratio(c, config.beta),
        _ => newton_multistart(c, config, budget),
    }
}

/// The `G = 2` k3-loss closed form: `C_k` the smaller root of `(b+1) C - C^2 = b Q_k` for
/// `k < K` (`Q_k` the base mass of the classes up to `k`), `C_K = 1`, ratio
/// `b / (b + 1 - C_{k-1} - C_k)`.
///
/// Formed without cancellation: with `A_k = 1 - Q_k` (the mass above class `k`, summed from the
/// top) the discriminant is `D_k = (b+1)^2 - 4 b Q_k = (1 - b)^2 + 4 b A_k` and
/// `(b + 1) - 2 C_k = sqrt(D_k)`, so for `k < K` the denominator is
/// `(sqrt(D_{k-1}) + sqrt(D_k))/2` (`D_{-1} = (1 + b)^2`), and for the top class it is
/// `b - C_{K-1} = (sqrt(D) - (1 - b))/2 = 2 b A/(sqrt(D) + (1 - b))` (`D = D_{K-1}`,
/// `A = A_{K-1}` the top class's mass), the first form for `b >= 1`, the second for `b < 1`.
/// (Formed as written, `b - C_{K-1}` at `b = 1e-15` with a top mass of `1.9e-15` cancelled to
/// rounding, and the policy went to the wrong class.)
fn pairwise_k3_loss(c: &Columns, config: &GrpoConfig) -> Vec<f64> {
    let b = config.beta / config.std_factor();
    let k = c.mass.len();
    // A_i, the mass above class i, summed from the top.
    let mut above = vec![0.0; k];
    let mut sum = CompensatedSum::new();
    for i in (0..k).rev() {
        above[i] = sum.value();
        sum.add(c.mass[i]);
    }
    let root_d = |a: f64| ((1.0 - b) * (1.0 - b) + 4.0 * b * a).sqrt();
    let mut prev = 1.0 + b;
    let mut out = Vec::with_capacity(k);
    for &a in &above[..k - 1] {
        let cur = root_d(a);
        out.push(2.0 * b / (prev + cur));
        prev = cur;
    }
    let a = above[k - 2];
    out.push(if b >= 1.0 {
        2.0 * b / (prev + (b - 1.0))
    } else {
        (prev + (1.0 - b)) / (2.0 * a)
    });
    out
}

/// `(v - vmax)/tau` at `tau = e^u`, the logarithms of the tilt's class ratios, formed as
/// `((v/2 - vmax/2) e^{-u/2}) (2 e^{-u/2})` so that neither the gap (`2 f64::MAX` at rewards of
/// `+-f64::MAX`) nor `tau` (`1.9e377` at a root) overflows.
fn tilt_log_ratio(c: &Columns, u: f64) -> Vec<f64> {
    let vmax = c.values[c.values.len() - 1];
    let root = (-u / 2.0).exp();
    c.values
        .iter()
        .map(|v| ((v / 2.0 - vmax / 2.0) * root) * (2.0 * root))
        .collect()
}

/// `ln(beta sigma_tau(r)/tau)` for the tilt at temperature `tau = e^u`: positive where
/// `sigma_tau/tau > 1/beta`. In logarithms, with the std from [`centred::CentredClasses`]:
/// `sigma/tau - 1/beta` formed in doubles overflowed (`tau = inf` beyond `u = 709.8` made a
/// sign change where there is no root), and the std lost the rare classes' spread.
fn tilt_gap(c: &Columns, beta: f64, u: f64) -> f64 {
    // Weights relative to the heaviest, from logarithms: `m e^{(v - vmax)/tau}` alone is
    // subnormal at `m = 0.29`, `(v - vmax)/tau = -745` while the top's `m` is `2.3e-100`.
    let log_w: Vec<f64> = tilt_log_ratio(c, u)
        .iter()
        .zip(&c.mass)
        .map(|(r, m)| r + m.ln())
        .collect();
    let heaviest = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = log_w.iter().map(|l| (l - heaviest).exp()).collect();
    let z: f64 = w.iter().sum();
    let tilted = Columns {
        values: c.values.clone(),
        mass: w.iter().map(|x| x / z).collect(),
    };
    standard_deviation(&tilted).ln() - u + beta.ln()
}

/// The std of the classes' rewards under their masses (see [`centred::CentredClasses::std`]).
fn standard_deviation(c: &Columns) -> f64 {
    centred::CentredClasses::new(c).std()
}

/// The temperatures `tau` of the tilts `pi0 exp(r/tau)/Z` with `tau = beta sigma_tau(r)`
/// (`sigma_tau` the reward's std under that tilt), in increasing order: the candidates for
/// GRPO's stationary points at `G = inf` with the k3 ratio placement (claim
/// `grpo.kl-placement`). There are none where `beta sigma_tau/tau < 1` for every `tau`, and
/// otherwise two or more (the ratio tends to 0 as `tau -> 0` and as `tau -> inf`), except at
/// a tangency; [`grpo_stationary`] answers only when there is exactly one and otherwise
/// reports these. Found as [`grpo_stationary`] finds them: a scan of `ln tau` over a bracket
/// outside which the ratio is provably below `1/beta`, sign changes bisected to the last bit,
/// and pairs hidden between two samples found by golden-section search.
///
/// Assumptions: `reward` finite with the length of `base`, taking at least two values on the
/// support; `0 < beta < inf`. Errors: otherwise.
///
/// ```
/// use rlhf_claims::{Dist, solve::grpo::ratio_temperatures};
/// // A fair coin's 0/1 reward: sigma_tau = sqrt(p q), p = 1/(1 + e^{-1/tau}), q = 1 - p.
/// let base = Dist::uniform(2)?;
/// assert!(ratio_temperatures(&base, &[0.0, 1.0], 0.5)?.is_empty());
/// let taus = ratio_temperatures(&base, &[0.0, 1.0], 20.0)?;
/// assert_eq!(taus.len(), 2);
/// for tau in taus {
///     let (p, q) = (1.0 / (1.0 + (-1.0 / tau).exp()), 1.0 / (1.0 + (1.0 / tau).exp()));
///     assert!((20.0 * (p * q).sqrt() / tau - 1.0).abs() < 1e-12);
/// }
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn ratio_temperatures(base: &Dist, reward: &[f64], beta: f64) -> Result<Vec<f64>> {
    check_reward(base, reward)?;
    let beta = require_positive("beta", beta)?;
    let classes = RewardClasses::new(base, reward)?;
    if classes.classes.len() < 2 {
        return Err(Error::InvalidInput(
            "the reward is constant on the support: no tilt has tau = beta sigma_tau > 0".into(),
        ));
    }
    let cols = Columns {
        values: classes.classes.iter().map(|c| c.reward).collect(),
        mass: classes.classes.iter().map(|c| c.mass).collect(),
    };
    Ok(ratio_log_temperatures(&cols, beta)
        .iter()
        .map(|u| u.exp())
        .collect())
}

/// `G = inf`, ratio placement: the self-consistent tilt `tau = beta sigma_tau(r)` when there is
/// exactly one ([`ratio_log_temperatures`]).
fn infinite_k3_ratio(c: &Columns, beta: f64) -> Result<Ratios> {
    let roots = ratio_log_temperatures(c, beta);
    match roots.as_slice() {
        [u] => {
            let log_t = tilt_log_ratio(c, *u);
            let t = log_t.iter().map(|x| x.exp()).collect();
            Ok(Ratios { t, log_t })
        }
        [] => Err(Error::Infeasible(format!(
            "GRPO with the k3 ratio at G = infinity has no stationary point at beta = {beta}: \
no tilt satisfies tau = beta sigma_tau(r) (the finite-G points collapse onto the top reward)"
        ))),
        many => Err(Error::NotUnique(format!(
            "GRPO with the k3 ratio at G = infinity has {} stationary points at beta = {beta}: \
the tilts at temperatures {:?}",
            many.len(),
            many.iter().map(|u| u.exp()).collect::<Vec<_>>()
        ))),
    }
}

/// The logarithms `u = ln tau` of the self-consistent tilts `tau = beta sigma_tau(r)` of the
/// classes `c` (at least two), in increasing order.
fn ratio_log_temperatures(c: &Columns, beta: f64) -> Vec<f64> {
    let k = c.values.len();
    // Halved gaps: the spread of rewards of +-f64::MAX overflows.
    let half_range = c.values[k - 1] / 2.0 - c.values[0] / 2.0;
    let half_gap = c
        .values
        .windows(2)
        .map(|w| w[1] / 2.0 - w[0] / 2.0)
        .fold(f64::INFINITY, f64::min);
    let sd0 = standard_deviation(c);
    let top_share = c.mass[k - 1] / c.mass.iter().sum::<f64>();
    // Below tau_lo every class under the top is lighter than e^{-4(|ln beta| + 40)} relative to
    // the top (whose base mass may be as small as 1e-300: hence the -ln(top share)): sigma/tau
    // < 1/beta there; above tau_hi, sigma/tau <= range/tau < 1/beta.
    let lo = (2.0 * half_gap).ln() - (4.0 * (beta.ln().abs() + 40.0) - top_share.ln()).ln();
    let hi = (4.0 * beta).ln() + (half_range + sd0 / 2.0).ln() + std::f64::consts::LN_2;
    let gap = |u: f64| tilt_gap(c, beta, u);
    let step = (hi - lo) / TAU_GRID as f64;
    let samples: Vec<(f64, f64)> = (0..=TAU_GRID)
        .map(|i| {
            let u = lo + step * i as f64;
            (u, gap(u))
        })
        .collect();
    let mut roots = Vec::new();
    for (i, w) in samples.windows(2).enumerate() {
        let ((a, ga), (b, gb)) = (w[0], w[1]);
        if (ga < 0.0) != (gb < 0.0) {
            roots.push(bisect(gap, a, b));
        }
        if i > 0 {
            roots.extend(hidden_pair(gap, [samples[i - 1], w[0], w[1]]));
        }
    }
    roots.sort_by(f64::total_cmp);
    roots
}

/// The two roots of `f` between three samples of one sign whose middle one is the extreme
/// (a maximum below 0 or a minimum at or above 0): the sampled extremum is refined by
/// golden-section search over the two steps, and where it crosses 0 the roots on either side
/// are bisected. Two tilts a tiny distance apart (beta just above the value where they merge)
/// lie between two samples of the scan, which sees no sign change there.
fn hidden_pair(
    f: impl Fn(f64) -> f64 + Copy,
    [(a, fa), (_, fm), (b, fb)]: [(f64, f64); 3],
) -> Vec<f64> {
    // Strict on the left: of two equal neighbouring samples only one is the middle.
    let below = fa < 0.0 && fm < 0.0 && fb < 0.0 && fm > fa && fm >= fb;
    let above = fa >= 0.0 && fm >= 0.0 && fb >= 0.0 && fm < fa && fm <= fb;
    if !(below || above) {
        return Vec::new();
    }
    let sign = if below { 1.0 } else { -1.0 };
    let (peak, value) = golden_section_max(|u| sign * f(u), a, b);
    if (value * sign < 0.0) == below {
        return Vec::new();
    }
    vec![bisect(f, a, peak), bisect(f, peak, b)]
}

/// Bisection of a sign change of `f` on `[a, b]` to the last bit.
fn bisect(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    let sa = f(a) < 0.0;
    for _ in 0..200 {
        let m = 0.5 * (a + b);
        if m <= a || m >= b {
            break;
        }
        if (f(m) < 0.0) == sa {
            a = m;
        } else {
            b = m;
        }
    }
    0.5 * (a + b)
}

/// `P` and `dP/dx` per class at masses `x` (population std scaled by the std factor).
fn advantage_and_jacobian(
    c: &Columns,
    config: &GrpoConfig,
    budget: &Budget,
) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    let f = config.std_factor();
    let k = c.values.len();
    let (p, j) = match config.group_size {
        GroupSize::Finite(2) => {
            let sign = |a: usize, b: usize| match a.cmp(&b) {
                std::cmp::Ordering::Less => -1.0,
                std::cmp::Ordering::Equal => 0.0,
                std::cmp::Ordering::Greater => 1.0,
            };
            let jac = (0..k)
                .map(|a| (0..k).map(|b| sign(a, b)).collect())
                .collect();
            (pairwise(&c.mass), jac)
        }
        GroupSize::Finite(g) => {
            let (p, j, _) = enumerate(c, g, true, budget)?;
            (p, j)
        }
        GroupSize::Infinite => {
            return Err(Error::InvalidInput(
                "the Newton solver handles finite groups only".into(),
            ))
        }
    };
    let scale = |v: Vec<f64>| v.into_iter().map(|x| x * f).collect::<Vec<_>>();
    Ok((scale(p), j.into_iter().map(scale).collect()))
}

/// The per-mass expected update `E_k = F_k / x_k` on classes and `KL(x||q)`, given the log
/// masses `log_x` beside the masses `x = c.mass` (the ratio placement's `ln(x_k/q_k)` stays
/// finite where `x_k` underflows).
fn scaled_update(
    c: &Columns,
    log_x: &[f64],
    q: &[f64],
    p: &[f64],
    config: &GrpoConfig,
) -> (Vec<f64>, f64) {
    let x = &c.mass;
    let klx: f64 = x
        .iter()
        .zip(q)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, b)| a * (a / b).ln())
        .sum();
    let beta = config.beta;
    let e = (0..x.len())
        .map(|k| match config.kl {
            KlPlacement::K3Loss => p[k] + beta * (q[k] / x[k] - 1.0),
            KlPlacement::K3Ratio => p[k] - beta * (log_mass_ratio(x[k], log_x[k], q[k]) - klx),
        })
        .collect();
    (e, klx)
}

/// `ln(x/q)`: from the quotient while `x` is a normal number, else `log_x - ln q` from the log
/// mass (so a mass that underflowed, `x = 0`, keeps its finite logarithm).
fn log_mass_ratio(x: f64, log_x: f64, q: f64) -> f64 {
    if x >= f64::MIN_POSITIVE {
        (x / q).ln()
    } else {
        log_x - q.ln()
    }
}

/// Softmax of logits `y` (`y` has `K` entries) and its logarithm `y - max y - ln z`, which
/// stays finite where the softmax underflows.
fn softmax(y: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let m = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = y.iter().map(|v| (v - m).exp()).collect();
    let z: f64 = w.iter().sum();
    let log_x = y.iter().map(|v| v - m - z.ln()).collect();
    (w.into_iter().map(|v| v / z).collect(), log_x)
}

/// Newton from each start; all converged points must agree.
fn newton_multistart(c: &Columns, config: &GrpoConfig, budget: &Budget) -> Result<Ratios> {
    let k = c.values.len();
    if k > MAX_NEWTON_CLASSES {
        return Err(Error::InvalidInput(format!(
            "{k} reward classes: the dense Newton solver of this case takes at most \
{MAX_NEWTON_CLASSES}"
        )));
    }
    let q = &c.mass;
    let mut starts: Vec<Vec<f64>> = vec![q.clone()];
    let g2 = GrpoConfig {
        group_size: GroupSize::Finite(2),
        kl: KlPlacement::K3Loss,
        ..*config
    };
    starts.push(
        pairwise_k3_loss(c, &g2)
            .iter()
            .zip(q)
            .map(|(r, m)| r * m)
            .collect(),
    );
    for heavy in [k - 1, 0] {
        starts.push(
            (0..k)
                .map(|i| {
                    if i == heavy {
                        0.9
                    } else {
                        0.1 / (k - 1) as f64
                    }
                })
                .collect(),
        );
    }
    let mut starts: Vec<Vec<f64>> = starts
        .iter()
        .map(|s| s.iter().map(|x| x.ln()).collect())
        .collect();
    if matches!(config.kl, KlPlacement::K3Ratio) {
        // (An advantage that cannot be evaluated at the point mass leaves the other starts.)
        if let Ok(start) = top_class_start(c, config, budget) {
            starts.push(start);
        }
    }
    let mut found: Vec<(Vec<f64>, Vec<f64>)> = Vec::new();
    let mut last_err = None;
    for s in starts {
        match newton(c, config, &s, budget) {
            Ok(x) => found.push(x),
            Err(e) => last_err = Some(e),
        }
    }
    let Some((first, log_first)) = found.first() else {
        return Err(last_err.unwrap_or_else(|| Error::NoConvergence("no start".into())));
    };
    for (other, _) in &found[1..] {
        let d: f64 = first.iter().zip(other).map(|(a, b)| (a - b).abs()).sum();
        if !(d <= 1e-8) {
            return Err(Error::NotUnique(format!(
                "Newton from different starts reached different stationary points \
(class masses {first:?} and {other:?})"
            )));
        }
    }
    Ok(Ratios {
        t: first.iter().zip(q).map(|(x, m)| x / m).collect(),
        log_t: (0..k)
            .map(|i| log_mass_ratio(first[i], log_first[i], q[i]))
            .collect(),
    })
}

/// Log masses `ln q + P(e_K)/beta`: one step, from all mass on the top class `e_K`, of the map
/// `x -> softmax(ln q + P(x)/beta)` whose fixed points are the ratio placement's stationary
/// points (`E = 0` is `ln(x/q) = P/beta + KL`, and `sum x P = 0`, the advantages of a group
/// summing to zero, makes the normalizer `e^-KL`). At small `beta` the other classes' masses
/// there are like `q e^{-2470}`, which a start given as masses cannot express.
fn top_class_start(c: &Columns, config: &GrpoConfig, budget: &Budget) -> Result<Vec<f64>> {
    let k = c.values.len();
    let top = Columns {
        values: c.values.clone(),
        mass: (0..k).map(|i| if i + 1 == k { 1.0 } else { 0.0 }).collect(),
    };
    let (p, _) = advantage_and_jacobian(&top, config, budget)?;
    Ok(c.mass
        .iter()
        .zip(&p)
        .map(|(q, p)| q.ln() + p / config.beta)
        .collect())
}

/// One evaluation of the Newton system: class masses and their logs, `E`, its Jacobian,
/// `max |P|`.
type Evaluation = ((Vec<f64>, Vec<f64>), Vec<f64>, Vec<Vec<f64>>, f64);

/// Levenberg-Marquardt (Newton's method damped where the Jacobian is singular or the step
/// fails) on `sum_k E_k^2` in the free logits `y_0..y_{K-2}` (`y_{K-1} = 0`). The step solves
/// `(J^T J + mu I) d = -J^T E`; `mu` shrinks tenfold after an accepted step (Newton's quadratic
/// convergence as `mu -> 0`) and grows tenfold after a rejected one.
/// Starts from the log masses `start` (up to a constant); returns the class masses and their
/// logarithms.
fn newton(
    c: &Columns,
    config: &GrpoConfig,
    start: &[f64],
    budget: &Budget,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let k = c.values.len();
    let q = &c.mass;
    let last = start[k - 1];
    let mut y: Vec<f64> = start.iter().map(|x| x - last).collect();
    let eval = |y: &[f64]| -> Result<Evaluation> {
        let (x, log_x) = softmax(y);
        let cx = Columns {
            values: c.values.clone(),
            mass: x.clone(),
        };
        let (p, j) = advantage_and_jacobian(&cx, config, budget)?;
        let (e, klx) = scaled_update(&cx, &log_x, q, &p, config);
        let jac = scaled_jacobian((&x, &log_x), q, &j, klx, config);
        let pmax = p.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        Ok(((x, log_x), e, jac, pmax))
    };
    let merit = |e: &[f64]| e.iter().map(|v| v * v).sum::<f64>();
    let (mut x, mut e, mut jac, mut pmax) = eval(&y)?;
    let mut mu = 1e-12;
    for _ in 0..500 {
        let tol = 1e-13 * (config.beta + pmax + 1.0);
        if e.iter().all(|v| v.abs() <= tol) {
            return Ok(x);
        }
        let n = k - 1;
        let columns = transpose(&jac);
        let rhs = columns.iter().map(|column| -dot(column, &e)).collect();
        let accepted = match solve_dense(damped_normal_matrix(&columns, mu), rhs) {
            Ok(step) => {
                let trial: Vec<f64> = (0..k)
                    .map(|i| if i < n { y[i] + step[i] } else { 0.0 })
                    .collect();
                match eval(&trial) {
                    Ok(next) if merit(&next.1) < merit(&e) => {
                        y = trial;
                        (x, e, jac, pmax) = next;
                        true
                    }
                    _ => false,
                }
            }
            Err(_) => false,
        };
        mu = if accepted {
            (mu * 0.1).max(1e-15)
        } else {
            mu * 10.0
        };
        if !(mu <= 1e12) {
            break;
        }
    }
    // Stalled at rounding level: accept if the update itself, F = x E, is that small; `finish`
    // verifies the returned policy again. Not so for the ratio placement, whose `E` is computed
    // from log masses at any mass: there a small `x E` with a large `E` is a class whose mass
    // underflowed (or nearly), and its logit still moves at the rate `E`. (At beta = 0.001 such
    // a point put all mass on a class of base mass 3.6e-25 with `E = 4.1` on the top class at
    // mass e^-1628, where the stationary point is near the top class.)
    let tol = 1e-11 * (config.beta + pmax + 1.0);
    let stalled_at_a_stationary_point = match config.kl {
        KlPlacement::K3Loss => x.0.iter().zip(&e).all(|(a, v)| (a * v).abs() <= tol),
        KlPlacement::K3Ratio => e.iter().all(|v| v.abs() <= tol),
    };
    if stalled_at_a_stationary_point {
        Ok(x)
    } else {
        Err(Error::NoConvergence(format!(
            "Newton stalled at max |F/pi| = {:e}",
            e.iter().fold(0.0f64, |a, b| if b.abs() > a || b.is_nan() {
                b.abs()
            } else {
                a
            })
        )))
    }
}

/// `dE_k/dy_l` for `k, l < K - 1`: with `D = diag(x) - x x^T` (`dx/dy`),
/// k3 loss `E_k = P_k + beta (q_k/x_k - 1)`: `(J D)_kl - beta q_k/x_k (delta_kl - x_l)`;
/// ratio `E_k = P_k - beta (ln(x_k/q_k) - KL)`: `(J D)_kl - beta (delta_kl - x_l) + beta x_l
/// (ln(x_l/q_l) - KL)`.
fn scaled_jacobian(
    (x, log_x): (&[f64], &[f64]),
    q: &[f64],
    j: &[Vec<f64>],
    klx: f64,
    config: &GrpoConfig,
) -> Vec<Vec<f64>> {
    let n = x.len() - 1;
    let beta = config.beta;
    (0..n)
        .map(|kk| {
            // (dP/dy)_{kk,l} = sum_m J_{kk,m} dx_m/dy_l with dx_m/dy_l = x_m (delta_ml - x_l):
            // x_l (J_{kk,l} - sum_m J_{kk,m} x_m), one sum per row.
            let mean_row = dot(&j[kk], x);
            (0..n)
                .map(|l| {
                    let jd = x[l] * (j[kk][l] - mean_row);
                    let delta = if kk == l { 1.0 } else { 0.0 };
                    match config.kl {
                        KlPlacement::K3Loss => jd - beta * q[kk] / x[kk] * (delta - x[l]),
                        KlPlacement::K3Ratio => {
                            let lr = log_mass_ratio(x[l], log_x[l], q[l]);
                            jd - beta * (delta - x[l]) + beta * x[l] * (lr - klx)
                        }
                    }
                })
                .collect()
        })
        .collect()
}

/// `J^T J + mu diag(1 + (J^T J)_aa)` of the Levenberg-Marquardt step, from the `columns` of a
/// square `J`. Each entry is the dot product of two columns, summed over rows in order, and the
/// upper triangle is mirrored: the same bits as summing `J[r][a] J[r][b]` entry by entry,
/// without striding through `J` for every entry.
fn damped_normal_matrix(columns: &[Vec<f64>], mu: f64) -> Vec<Vec<f64>> {
    let n = columns.len();
    let mut m = vec![vec![0.0; n]; n];
    for a in 0..n {
        for b in a..n {
            let s = dot(&columns[a], &columns[b]);
            m[a][b] = s;
            m[b][a] = s;
        }
        m[a][a] += mu * (1.0 + m[a][a]);
    }
    m
}

/// The columns of the square matrix `a` (as rows).
fn transpose(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    (0..a.len())
        .map(|c| a.iter().map(|row| row[c]).collect())
        .collect()
}

/// Solves `a z = b` by Gaussian elimination with partial pivoting.
pub fn solve_dense(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Result<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        if !(a[piv][col].abs() > 0.0) {
            return Err(Error::NoConvergence("singular Jacobian".into()));
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let (top, bottom) = a.split_at_mut(col + 1);
        let pivot = &top[col];
        for (i, row) in bottom.iter_mut().enumerate() {
            let f = row[col] / pivot[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot[col..]) {
                *x -= f * p;
            }
            b[col + 1 + i] -= f * b[col];
        }
    }
    let mut z = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * z[k]).sum();
        z[row] = (b[row] - s) / a[row][row];
    }
    Ok(z)
}

/// The weights `pi0 t 2^-e`, with `2^-e` the power of two that puts the largest in `[1, 2)`,
/// and `e`. Each product is formed as `m 2^e` ([`Scaled`]), so no weight underflows that the
/// normalized policy keeps, and the policy `pi0 t / sum pi0 t` is the same, bit for bit, as
/// from unscaled doubles wherever those stay normal:
/// - ratios of `5.6e-309` beside `6.5e-209` flushed a base mass of `8.6e-101` to a policy mass
///   of 0 where it is `7.4e-201`, and with it a share of `-1.3e108` of `E[r]` at a reward of
///   `-f64::MAX`;
/// - a top class of base mass `1.3e-310` (a reward of `f64::MAX`) made every other weight
///   underflow: their masses, `1e-14` each, came back only from the log view and the policy
///   summed to `1 + 5.6e-14`.
///
/// A ratio that is not a normal double (it underflowed, `ln t` near `-2600`) is taken from
/// `ln t`. Weights below `2^-1074` of the largest round (to 0 at the end).
fn scaled_weights(base: &Dist, classes: &RewardClasses, ratios: &Ratios) -> (Vec<f64>, i64) {
    let mut scaled = vec![Scaled::ZERO; base.len()];
    for (k, (&t, &log_t)) in ratios.t.iter().zip(&ratios.log_t).enumerate() {
        let t = if t >= f64::MIN_POSITIVE {
            Scaled::new(t)
        } else if log_t > f64::NEG_INFINITY {
            Scaled::exp(log_t)
        } else {
            Scaled::ZERO
        };
        for &i in classes.members(k) {
            scaled[i] = Scaled::new(base.prob(i)).mul(t);
        }
    }
    let e = Scaled::top_exponent(&scaled);
    let weights = scaled.iter().map(|w| w.times_pow2(-e).value()).collect();
    (weights, e)
}

/// The policy `pi0 t / sum pi0 t` with the log view `log pi0 + log t - log sum pi0 t` where the
/// linear mass underflowed to 0 (a base mass of `1e-310` at a ratio of `1e-15`, or a ratio of
/// `e^-2600` that underflowed itself), so that `KL(pi0||pi)` stays finite, as it is for every
/// positive ratio; the linear mass there is then `exp` of that log view (a subnormal the
/// product `pi0 t` lost, or 0). `total` is the sum of the weights `pi0 t 2^-e` from
/// [`scaled_weights`] that `policy` was normalized by, `log_t` the logarithms of the unscaled
/// ratios.
fn with_log_view(
    policy: Dist,
    base: &Dist,
    classes: &RewardClasses,
    (total, e): (f64, i64),
    log_t: &[f64],
) -> Dist {
    // `ln sum pi0 t` of the unscaled ratios.
    let log_total = total.ln() + e as f64 * std::f64::consts::LN_2;
    let (mut probs, mut logs) = (policy.probs().to_vec(), policy.log_probs().to_vec());
    for (k, lt) in log_t.iter().enumerate() {
        for &i in classes.members(k) {
            if policy.prob(i) == 0.0
                && base.log_prob(i) > f64::NEG_INFINITY
                && *lt > f64::NEG_INFINITY
            {
                logs[i] = base.log_prob(i) + lt - log_total;
                // A subnormal mass lost in the product `pi0 t` (rounded once from the log).
                probs[i] = logs[i].exp();
            }
        }
    }
    Dist::from_parts_unchecked(probs, logs)
}

/// `KL(pi0||pi)`: [`kl`], or where it is infinite because a mass of `pi` underflowed, the sum
/// of the terms `pi0 (log pi0 - log pi)` over the log views. Where even the log view of `pi`
/// is `-inf` on the base's support (the Newton solutions at a finite `G` keep masses, not
/// logs), the term comes from the stationarity condition the policy was verified to meet (see
/// [`stationary_forward_term`]), so a policy that is positive wherever `pi0` is gets an
/// infinite forward KL only when that KL is beyond the doubles.
fn forward_kl_of(
    base: &Dist,
    policy: &Dist,
    advantage: &[f64],
    config: &GrpoConfig,
    kl_rev: f64,
) -> Result<f64> {
    let k = kl(base, policy)?;
    if k.is_finite() {
        return Ok(k);
    }
    let terms = base.support().map(|i| match policy.log_prob(i) {
        l if l > f64::NEG_INFINITY => base.prob(i) * (base.log_prob(i) - l),
        _ => stationary_forward_term(base.prob(i), advantage[i], config, kl_rev),
    });
    Ok(crate::numeric::sum(terms).max(0.0))
}

/// `pi0_j (log pi0_j - log pi_j)` at a stationary point, from the advantage `P_j` alone. With
/// the `k3` loss the update `pi_j P_j + beta (pi0_j - pi_j)` vanishes at
/// `pi_j = beta pi0_j / (beta - P_j)` (no normalization: the condition fixes each mass), so the
/// term is `pi0_j (ln(beta - P_j) - ln beta)`, formed without `P_j/beta`, which overflows at
/// `beta = 1e-310`. With the ratio placement, `pi_j (P_j - beta (log(pi_j/pi0_j) - KL)) = 0`
/// at a positive mass gives `log(pi0_j/pi_j) = -P_j/beta - KL(pi||pi0)`, and the term
/// `-(pi0_j P_j)/beta - pi0_j KL`, whose product is formed first (`4.7e-16 * 1 / 1e-310` is a
/// double although `1/1e-310` is not).
fn stationary_forward_term(base_prob: f64, p: f64, config: &GrpoConfig, kl_rev: f64) -> f64 {
    let beta = config.beta;
    match config.kl {
        KlPlacement::K3Loss => base_prob * ((beta - p).ln() - beta.ln()),
        KlPlacement::K3Ratio => -(base_prob * p) / beta - base_prob * kl_rev,
    }
}

/// Verifies the returned policy (class-level expected update within tolerance, widened by the
/// truncation bound: an error `e` in `P_G` moves `F_j = pi_j P_j + ..` by at most `pi_j e <= e`)
/// and assembles the answer.
fn finish(
    base: &Dist,
    reward: &[f64],
    policy: Dist,
    bounded: BoundedAdvantage,
    config: &GrpoConfig,
) -> Result<GrpoStationary> {
    let BoundedAdvantage {
        advantage,
        truncation_bound,
    } = bounded;
    let residual = expected_update(&policy, base, &advantage, config)?
        .iter()
        .fold(0.0f64, |a, b| a.max(b.abs()));
    let pmax = advantage.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let tol = STATIONARITY_TOLERANCE * (config.beta + pmax) + truncation_bound;
    if !(residual <= tol) {
        return Err(Error::NoConvergence(format!(
            "the returned policy's expected update is {residual:e} > {tol:e}"
        )));
    }
    let expected_reward = policy.expectation(reward)?;
    let kl_rev = kl(&policy, base)?;
    let kl_forward = forward_kl_of(base, &policy, &advantage, config, kl_rev)?;
    Ok(GrpoStationary {
        solution: Solution {
            policy,
            expected_reward,
            kl: kl_rev,
        },
        kl_forward,
        advantage,
        residual,
        truncation_bound,
    })
}

/// The expected GRPO update on the logits at `pi`, given `P_G(. | pi)` per outcome:
/// `pi_j P_j + beta (pi0_j - pi_j)` (k3 loss) or `pi_j (P_j - beta (log(pi_j/pi0_j) - KL))`
/// (ratio; `+inf`-free: outcomes with `pi_j = 0` contribute 0).
pub fn expected_update(
    pi: &Dist,
    base: &Dist,
    advantage: &[f64],
    config: &GrpoConfig,
) -> Result<Vec<f64>> {
    let beta = config.beta;
    let klx = kl(pi, base)?;
    Ok((0..pi.len())
        .map(|j| {
            let p = pi.prob(j);
            match config.kl {
                KlPlacement::K3Loss => p * advantage[j] + beta * (base.prob(j) - p),
                KlPlacement::K3Ratio if p > 0.0 => {
                    p * (advantage[j] - beta * (pi.log_prob(j) - base.log_prob(j) - klx))
                }
                KlPlacement::K3Ratio => 0.0,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verification threshold scales with `beta + max |P|`: at `pi = pi0 = (1/2, 1/2)`,
    /// `beta = 4` and `P = (a, -a)`, the k3-loss update is `pi P = (a/2, -a/2)` and the
    /// threshold `1e-9 (4 + a)`; a residual at 3/4 of it is accepted, at 5/4 refused (a
    /// threshold divided by the scale instead, `2.5e-10`, would refuse both).
    #[test]
    fn the_stationarity_threshold_scales_with_beta_and_the_advantage() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let config = GrpoConfig {
            beta: 4.0,
            group_size: GroupSize::Finite(4),
            std: GroupStd::Sample,
            kl: KlPlacement::K3Loss,
        };
        let at = |fraction: f64| {
            // residual a/2 = fraction * 1e-9 (4 + a), solved for a.
            let a = fraction * 4e-9 / (0.5 - fraction * 1e-9);
            let bounded = BoundedAdvantage {
                advantage: vec![a, -a],
                truncation_bound: 0.0,
            };
            finish(&base, &[1.0, 0.0], base.clone(), bounded, &config)
        };
        assert!(at(0.75).is_ok());
        assert!(matches!(at(1.25), Err(Error::NoConvergence(_))));
        Ok(())
    }

    /// Class ratios far below 1 (`5.6e-309` for the class at `-f64::MAX`, `6.5e-209` for the
    /// others): the policy mass `pi0 t / sum pi0 t = 8.6e-101 * 5.6e-309 / 6.5e-209 = 7.4e-201`
    /// is representable, and with it the class's share of `E[r]`, `7.4e-201 * -1.8e308 =
    /// -1.3e108`. Unscaled, `pi0 t` underflowed: the policy reported 0 there (its log view,
    /// formed separately, was right) and `E[r]` was `-25`.
    #[test]
    fn tiny_class_ratios_keep_the_masses_they_normalize_to() -> Result<()> {
        let ninf = f64::NEG_INFINITY;
        let logits = [
            -4.400116531518021,
            ninf,
            -2.036787519533948,
            -230.41102666046262,
        ];
        let base = Dist::from_logits(&logits)?;
        let reward = [
            -2.317844999560006e-6,
            0.0,
            1.7993516006898447e-253,
            -f64::MAX,
        ];
        let config = GrpoConfig {
            beta: 1.0,
            group_size: GroupSize::Infinite,
            std: GroupStd::Sample,
            kl: KlPlacement::K3Loss,
        };
        let s = grpo_stationary(&base, &reward, &config)?;
        let pi = &s.solution.policy;
        assert!(pi.prob(3) > 0.0, "{:?}", pi.probs());
        assert!((pi.prob(3).ln() - pi.log_prob(3)).abs() < 1e-12);
        assert!(
            s.solution.expected_reward < -1e100,
            "{}",
            s.solution.expected_reward
        );
        Ok(())
    }

    /// A reward constant on the support (the shift -1.25 of `2.5 r - 1.25` applied to `r = 0`):
    /// every advantage is 0 and the stationary point is the base, for every group size and
    /// placement. At `G = inf` the class mass summed to `1 - eps`, the mean missed `-1.25` by
    /// an ulp, and the rounding-level deviation over a rounding-level sigma gave advantages of
    /// `+-1`.
    #[test]
    fn a_constant_reward_leaves_the_base() -> Result<()> {
        let base = Dist::new(vec![0.07215301309241064, 0.9278469869075895])?;
        for group_size in [
            GroupSize::Finite(2),
            GroupSize::Finite(4),
            GroupSize::Infinite,
        ] {
            for kl in [KlPlacement::K3Loss, KlPlacement::K3Ratio] {
                let config = GrpoConfig {
                    beta: 1.0,
                    group_size,
                    std: GroupStd::Population,
                    kl,
                };
                let s = grpo_stationary(&base, &[-1.25, -1.25], &config)?;
                assert_eq!(s.solution.policy.probs(), base.probs(), "{config:?}");
                assert!(s.advantage.iter().all(|a| *a == 0.0), "{config:?}");
            }
        }
        Ok(())
    }

    fn cfg(g: GroupSize, std: GroupStd, kl: KlPlacement, beta: f64) -> GrpoConfig {
        GrpoConfig {
            beta,
            group_size: g,
            std,
            kl,
        }
    }

    #[test]
    fn enumeration_at_two_matches_the_pairwise_form() -> Result<()> {
        let c = Columns {
            values: vec![-1.0, 0.5, 2.0],
            mass: vec![0.2, 0.5, 0.3],
        };
        let (p, _, _) = enumerate(&c, 2, false, &Budget::new(1e9, 3))?;
        for (a, b) in p.iter().zip(pairwise(&c.mass)) {
            assert!((a - b).abs() < 1e-15, "{a} {b}");
        }
        Ok(())
    }

    #[test]
    fn newton_reproduces_the_closed_forms_at_two() -> Result<()> {
        let c = Columns {
            values: vec![-1.0, 0.5, 2.0, 3.0],
            mass: vec![0.1, 0.4, 0.3, 0.2],
        };
        for (std, beta) in [(GroupStd::Population, 0.3), (GroupStd::Sample, 2.0)] {
            let config = cfg(GroupSize::Finite(2), std, KlPlacement::K3Loss, beta);
            let closed = pairwise_k3_loss(&c, &config);
            let start: Vec<f64> = c.mass.iter().map(|m| m.ln()).collect();
            let (x, _) = newton(&c, &config, &start, &Budget::new(1e9, 3))?;
            for k in 0..4 {
                assert!((x[k] / c.mass[k] - closed[k]).abs() < 1e-12);
            }
        }
        Ok(())
    }

    #[test]
    fn infinite_group_is_the_self_consistent_forward_kl_optimum() -> Result<()> {
        let base = Dist::new(vec![0.1, 0.4, 0.3, 0.2])?;
        let r = [-1.0, 0.5, 2.0, 3.0];
        let config = cfg(
            GroupSize::Infinite,
            GroupStd::Sample,
            KlPlacement::K3Loss,
            0.7,
        );
        let s = grpo_stationary(&base, &r, &config)?;
        let sd = s.solution.policy.variance(&r)?.sqrt();
        let f = crate::solve::forward_kl(&base, &r, 0.7 * sd)?;
        for i in 0..4 {
            assert!((f.solution.policy.prob(i) - s.solution.policy.prob(i)).abs() < 1e-12);
        }
        Ok(())
    }

    #[test]
    fn ratio_at_infinity_has_zero_or_two_points_on_a_binary_reward() -> Result<()> {
        let base = Dist::uniform(2)?;
        let r = [0.0, 1.0];
        let small = cfg(
            GroupSize::Infinite,
            GroupStd::Population,
            KlPlacement::K3Ratio,
            0.5,
        );
        assert!(matches!(
            grpo_stationary(&base, &r, &small),
            Err(Error::Infeasible(_))
        ));
        let large = cfg(
            GroupSize::Infinite,
            GroupStd::Population,
            KlPlacement::K3Ratio,
            20.0,
        );
        assert!(matches!(
            grpo_stationary(&base, &r, &large),
            Err(Error::NotUnique(_))
        ));
        Ok(())
    }

    #[test]
    fn rejects_bad_parameters() -> Result<()> {
        let base = Dist::uniform(2)?;
        let bad = cfg(
            GroupSize::Finite(1),
            GroupStd::Sample,
            KlPlacement::K3Loss,
            1.0,
        );
        assert!(matches!(
            grpo_stationary(&base, &[0.0, 1.0], &bad),
            Err(Error::InvalidParameter { .. })
        ));
        let bad = cfg(
            GroupSize::Finite(2),
            GroupStd::Sample,
            KlPlacement::K3Loss,
            0.0,
        );
        assert!(grpo_stationary(&base, &[0.0, 1.0], &bad).is_err());
        assert!(grpo_stationary(
            &base,
            &[0.0],
            &cfg(
                GroupSize::Infinite,
                GroupStd::Sample,
                KlPlacement::K3Loss,
                1.0
            )
        )
        .is_err());
        Ok(())
    }
}
#[cfg(test)]
mod jacobian_tests {
    use super::*;
    #[test]
    fn jacobian_matches_finite_differences() -> Result<()> {
        let values = vec![-1.0, 0.5, 2.0, 3.0];
        let q = vec![0.1, 0.4, 0.3, 0.2];
        for (g, kl) in [
            (2, KlPlacement::K3Loss),
            (3, KlPlacement::K3Loss),
            (3, KlPlacement::K3Ratio),
        ] {
            let config = GrpoConfig {
                beta: 0.3,
                group_size: GroupSize::Finite(g),
                std: GroupStd::Population,
                kl,
            };
            let ev = |y: &[f64]| -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
                let (x, log_x) = softmax(y);
                let cx = Columns {
                    values: values.clone(),
                    mass: x.clone(),
                };
                let (p, j) = advantage_and_jacobian(&cx, &config, &Budget::new(1e9, 3))?;
                let (e, klx) = scaled_update(&cx, &log_x, &q, &p, &config);
                Ok((
                    e.clone(),
                    scaled_jacobian((&x, &log_x), &q, &j, klx, &config),
                ))
            };
            let y = vec![0.3, -0.2, 0.1, 0.0];
            let (_, jac) = ev(&y)?;
            for l in 0..3 {
                let mut yp = y.clone();
                yp[l] += 1e-6;
                let mut ym = y.clone();
                ym[l] -= 1e-6;
                let (ep, _) = ev(&yp)?;
                let (em, _) = ev(&ym)?;
                for k in 0..3 {
                    let fd = (ep[k] - em[k]) / 2e-6;
                    assert!(
                        (fd - jac[k][l]).abs() < 1e-6,
                        "g {g} k {k} l {l}: fd {fd} vs {}",
                        jac[k][l]
                    );
                }
            }
        }
        Ok(())
    }
}
