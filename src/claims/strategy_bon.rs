//! Strategies and helpers for the `bon`, `quantilizer` and `conditioning` families.
//!
//! Draw counts reach both ends (`N = 1`, small `N`, and `N` up to `10^15`), instances reuse the
//! shared corners of [`super::strategy`] (zeros, masses down to `1e-300`, ties, constant
//! rewards), and the refuted claims search over small integer instances so that the shrunk
//! counterexample is readable.

use super::strategy::{self, Instance};
use super::Deviation;
use crate::solve::{reward_target, RewardTarget};

use crate::Dist;
use proptest::prelude::*;
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

/// `KL(tilt at reward c || pi0) <= kl`, for a method with expected reward `c` and KL `kl`.
///
/// The method's `c` is computed in floating point and is off by up to a few ulps of the reward
/// scale `s = max |r|`. The tilt's KL increases with the target (claim `kl.monotone`) with slope
/// `1/beta`, which is unbounded near the top reward, so no tolerance on the KL side can absorb
/// that error; instead the tilt is taken at the low end `c - 16 eps s` of the target's
/// uncertainty interval (a weaker check by exactly the rounding of `c`). The remaining tolerance
/// is `1e-9` relative to `kl`, for the root finder and the KL sums.
pub fn tilt_kl_at_most(inst: &Instance, c: f64, kl: f64) -> Result<Deviation, String> {
    let scale = inst.reward.iter().fold(0.0f64, |m, r| m.max(r.abs()));
    let t = tilt_at_reward(inst, c - 16.0 * f64::EPSILON * scale)?;
    Ok(Deviation::at_most(t.solution.kl, kl, 1e-9 * kl))
}
