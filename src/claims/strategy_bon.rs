//! Strategies and helpers for the `bon`, `quantilizer` and `conditioning` families.
//!
//! Draw counts reach both ends (`N = 1`, small `N`, and `N` up to `10^15`), instances reuse the
//! shared corners of [`super::strategy`] (zeros, masses down to `1e-300`, ties, constant
//! rewards), and the refuted claims search over small integer instances so that the shrunk
//! counterexample is readable.

use super::strategy::{self, Instance};
use super::Deviation;
use crate::divergence::kl;
use crate::solve::{reward_target, RewardTarget};

use crate::Dist;
use proptest::prelude::*;
use rand::Rng;
use std::borrow::Cow;
use std::fmt;
use std::ops::RangeInclusive;

/// A number of draws `N >= 1`: mostly small, often moderate, sometimes huge (log-uniform up to
/// `10^15`), and exactly `10^12` and `10^15`.
pub fn draws() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 1u64..=8,
        2 => 9u64..=1000,
        2 => (3.0f64..15.0).prop_map(|e| 10f64.powf(e) as u64),
        1 => Just(1_000_000_000_000u64),
        1 => Just(1_000_000_000_000_000u64),
    ]
}

/// An instance whose rewards are pairwise distinct (a random permutation of `0..n`).
pub fn distinct_instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
    sizes
        .prop_flat_map(|n| {
            (
                strategy::base(n),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
            )
        })
        .prop_map(|(base, perm)| Instance {
            base,
            reward: perm.into_iter().map(|k| k as f64).collect(),
        })
}

/// The shape of the base of a [`LargeSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LargeShape {
    /// Weights `1 + u/2` with `u` uniform on `[0, 1)`: every mass within a factor 1.5 of `1/n`.
    NearUniform,
    /// Weights `-log u` (standard exponential): the base is a draw from the flat Dirichlet
    /// distribution on the simplex, masses spread over several orders of magnitude.
    Dirichlet,
}

/// A large base with pairwise distinct rewards `r(x) = x`, described by its size, shape and the
/// seed of its weights, so that a failing case prints in one line and shrinks toward fewer
/// outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LargeSpec {
    /// Number of outcomes.
    pub size: usize,
    /// How the weights are drawn.
    pub shape: LargeShape,
    /// Seed of the weights ([`crate::sample::seeded_rng`]).
    pub seed: u64,
}

impl LargeSpec {
    /// The instance this spec describes.
    pub fn instance(&self) -> Result<Instance, String> {
        let mut rng = crate::sample::seeded_rng(self.seed);
        let weights: Vec<f64> = (0..self.size)
            .map(|_| {
                let u: f64 = rng.gen();
                match self.shape {
                    LargeShape::NearUniform => 1.0 + 0.5 * u,
                    LargeShape::Dirichlet => -(1.0 - u).ln(),
                }
            })
            .collect();
        Ok(Instance {
            base: Dist::from_weights(weights).map_err(|e| e.to_string())?,
            reward: (0..self.size).map(|x| x as f64).collect(),
        })
    }
}

/// A large base, near-uniform or Dirichlet, of `10^3` to `10^6` outcomes: log-uniform on
/// `[10^3, 10^5]` nine times in ten, else on `[10^5, 10^6]` (a case costs ~0.3 us per outcome,
/// so the top decade is drawn rarely).
pub fn large_spec() -> impl Strategy<Value = LargeSpec> {
    (
        prop_oneof![9 => 3.0f64..5.0, 1 => 5.0f64..6.0]
            .prop_map(|e| 10f64.powf(e).round() as usize),
        prop_oneof![Just(LargeShape::NearUniform), Just(LargeShape::Dirichlet)],
        any::<u64>(),
    )
        .prop_map(|(size, shape, seed)| LargeSpec { size, shape, seed })
}

/// An instance of the bounds on best-of-N: a small one, or (one case in eight) a large base
/// with distinct rewards, where `KL(P_N||pi0)` comes within `O(N/n)` of `log N - (N-1)/N` and
/// `sum_x pi0(x)^2` is of order `1/n`.
#[derive(Clone, PartialEq)]
pub enum BonCase {
    /// An explicit instance.
    Small(Instance),
    /// A large instance, built on use.
    Large(LargeSpec),
}

impl fmt::Debug for BonCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BonCase::Small(inst) => inst.fmt(f),
            BonCase::Large(spec) => spec.fmt(f),
        }
    }
}

impl BonCase {
    /// The instance (built, for a large case).
    pub fn instance(&self) -> Result<Cow<'_, Instance>, String> {
        match self {
            BonCase::Small(inst) => Ok(Cow::Borrowed(inst)),
            BonCase::Large(spec) => spec.instance().map(Cow::Owned),
        }
    }
}

/// [`BonCase`]s: `small` seven times in eight, else a [`large_spec`].
pub fn with_large(small: impl Strategy<Value = Instance>) -> impl Strategy<Value = BonCase> {
    prop_oneof![
        7 => small.prop_map(BonCase::Small),
        1 => large_spec().prop_map(BonCase::Large),
    ]
}

/// A small instance with integer base weights in `0..=4` (at least one positive) and integer
/// rewards in `0..=3`: the search space of the refuted claims, whose shrunk counterexamples
/// are meant to be read.
pub fn integer_instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
    sizes
        .prop_flat_map(|n| {
            (
                proptest::collection::vec(0u8..=4, n),
                proptest::collection::vec(0u8..=3, n),
            )
        })
        .prop_filter_map("base needs a positive weight", |(w, r)| {
            let base = Dist::from_weights(w.iter().map(|x| f64::from(*x)).collect()).ok()?;
            Some(Instance {
                base,
                reward: r.iter().map(|x| f64::from(*x)).collect(),
            })
        })
}

/// A kept mass `q` in `(0, 1]`: uniform, exactly 1, or log-uniform down to `1e-300`.
pub fn kept_mass() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (0.0f64..1.0).prop_map(|x| 1.0 - x),
        1 => Just(1.0),
        1 => (-300.0f64..-1.0).prop_map(|e| 10f64.powf(e)),
    ]
}

pub use super::strategy_tilt::support_max;

/// The KL-closest policy to `pi0` with expected reward at least `c` (the tilt, or `pi0` /
/// `pi0(.|argmax)` at the ends), with its beta where it has one; `c` is clamped to the support
/// maximum first, since a method's expected reward computed in floating point may exceed it by
/// rounding.
pub fn tilt_at_reward(inst: &Instance, c: f64) -> Result<RewardTarget, String> {
    let c = c.min(support_max(inst));
    reward_target(&inst.base, &inst.reward, c).map_err(|e| e.to_string())
}

/// How far below its target `t` a tilt's recomputed `E[r]` may fall, relative to the reward
/// scale `s = max |r|` (instances of at most 8 outcomes): the root finder solves
/// `log(r* - E) = log(r* - t)` to a few `eps`, so `E` is within a few `eps (r* - t) <= 8 eps s`
/// of `t`; its fallback for targets within rounding of `E_pi0[r]` (below
/// `64 n eps (|r*| + spread) <= 1536 eps s`) misses by at most that; the recomputed mean adds
/// `~n eps s`. `1e-12 s` is `4500 eps s`.
pub const REACH_TOLERANCE: f64 = 1e-12;

/// Absolute floor of the tolerances on recomputed KLs (`16 eps = 3.6e-15`): two policies equal
/// up to rounding have log-probabilities a few `eps (1 + |log pi0(x)|)` apart, so their
/// recomputed KLs differ by a few `eps (1 + H(pi0)) <= eps (1 + log 8)`-sized amounts, which a
/// relative tolerance of a KL that is 0 cannot absorb.
pub const KL_FLOOR: f64 = 16.0 * f64::EPSILON;

/// `max_x |r(x)|`, the reward scale of an instance.
pub fn reward_scale(inst: &Instance) -> f64 {
    inst.reward.iter().fold(0.0f64, |m, r| m.max(r.abs()))
}

/// `E_pi[r]` recomputed from a policy that a solver returned, as `sum_x pi(x) r(x) / sum_x
/// pi(x)` (compensated): the masses are exponentials of rounded logarithms, so their total
/// misses 1 by up to `eps |log pi(x)/pi0(x)|`-sized amounts (`3e-14` for a quantilizer at
/// `q = 1e-129`, whose `log(1/q) = 297`), and the plain sum would move the mean by that much
/// times the reward scale, far more than the few ulps the tilt's target allowance covers.
pub fn mean_reward(inst: &Instance, pi: &Dist) -> Result<f64, String> {
    let e = pi.expectation(&inst.reward).map_err(|e| e.to_string())?;
    Ok(e / crate::numeric::sum(pi.probs().iter().copied()))
}

/// `E_pi[r] >= target` for a policy that a solver returned for the reward target `target`,
/// with `E_pi[r]` recomputed from the policy ([`mean_reward`]), to `tol`. The comparison
/// records no tightness (it checks a solver's constraint, not the claim's bound).
pub fn reaches(inst: &Instance, pi: &Dist, target: f64, tol: f64) -> Result<Deviation, String> {
    let mut d = Deviation::at_most(target, mean_reward(inst, pi)?, tol);
    d.tightness = None;
    Ok(d)
}

/// The mass defect `|sum_x pi(x) - 1|` of a policy that a solver returned.
///
/// A solver stores `log pi(x)` and `pi(x) = exp(log pi(x))`; where it forms the logarithm of a
/// heavy outcome as a difference of large terms (a quantilizer at `q = 1e-273` subtracts
/// `log q = -627`), the stored value is off by `delta ~ eps |log q| = 1e-13`, and so is the
/// probability, relatively. That moves the KL by `~ pi delta` (to first order), more than the
/// whole KL of a near-degenerate instance (`1e-12`), and moves the total mass by the same
/// `pi delta`: the defect measures the error, and the KL comparisons allow twice it.
pub fn mass_defect(pi: &Dist) -> f64 {
    (crate::numeric::sum(pi.probs().iter().copied()) - 1.0).abs()
}

/// `KL(pi||pi0)` recomputed by [`kl`] from the probabilities of a policy that a solver
/// returned, normalized (`Dist::from_weights`), with their logarithms taken afresh: the
/// solver's stored logarithms are not used, since a heavy outcome's may be off by
/// `eps |log q|`-sized amounts (see [`mass_defect`]) while its probability is exact to a few
/// `eps`, so that each term `pi log(pi/pi0)` is exact to a few `eps pi` and the KL to a few
/// `eps`.
pub fn policy_kl(inst: &Instance, pi: &Dist) -> Result<f64, String> {
    let fresh = Dist::from_weights(pi.probs().to_vec()).map_err(|e| e.to_string())?;
    kl(&fresh, &inst.base).map_err(|e| e.to_string())
}

/// `(E_pi[r], KL(pi||pi0), mass defect)` recomputed from a policy that a solver returned
/// ([`mean_reward`], [`policy_kl`], [`mass_defect`]).
pub fn reward_and_kl(inst: &Instance, pi: &Dist) -> Result<(f64, f64, f64), String> {
    Ok((
        mean_reward(inst, pi)?,
        policy_kl(inst, pi)?,
        mass_defect(pi),
    ))
}

/// `KL(tilt at reward c || pi0) <= factor * kl`, for a method with expected reward `c` and KL
/// `kl` (`factor = 1` is the claim; a factor below 1 is its tightened control). Both the tilt's
/// KL and its expected reward are recomputed from the returned policy, and the tilt must reach
/// its target.
///
/// The method's `c` is computed in floating point and is off by up to a few ulps of the reward
/// scale `s = max |r|`. The tilt's KL increases with the target (claim `kl.monotone`) with slope
/// `1/beta`, which is unbounded near the top reward, so no tolerance on the KL side can absorb
/// that error; instead the tilt is taken at the low end `t = c - 16 eps s` of the target's
/// uncertainty interval (a weaker check by exactly the rounding of `c`). The remaining tolerance
/// is `1e-9` relative to `kl`, for the root finder and the KL sums, plus [`KL_FLOOR`], plus
/// twice the mass defects of the method's policy (`defect`) and of the tilt's ([`mass_defect`]).
///
/// The tilt reaches `t` when `E_tilt[r] >= t - ` [`REACH_TOLERANCE`]` s`.
pub fn tilt_kl_at_most(
    inst: &Instance,
    c: f64,
    kl: f64,
    defect: f64,
    factor: f64,
) -> Result<Deviation, String> {
    let scale = reward_scale(inst);
    let target = (c - 16.0 * f64::EPSILON * scale).min(support_max(inst));
    let t = tilt_at_reward(inst, target)?;
    let (_, tilt_kl, tilt_defect) = reward_and_kl(inst, &t.solution.policy)?;
    let tol = 1e-9 * kl + KL_FLOOR + 2.0 * (defect + tilt_defect);
    let reached = reaches(inst, &t.solution.policy, target, REACH_TOLERANCE * scale)?;
    let mut bound = Deviation::at_most(tilt_kl, factor * kl, tol);
    if !(factor * kl > tol) {
        // A rounding-level KL: the ratio of two such numbers is no measure of tightness.
        bound.tightness = None;
    }
    Ok(bound.worst(reached))
}
