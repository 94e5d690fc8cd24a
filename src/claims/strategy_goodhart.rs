//! Proptest strategies for the `goodhart` family: joint (proxy, truth) tables, optimizer
//! choices resolved against a table, and small integer tables for witness search.

use super::strategy;
use crate::goodhart::{JointTable, Optimizer};
use crate::Dist;
use proptest::prelude::*;
use std::ops::RangeInclusive;

/// A joint table on `n` outcomes, `n` from `sizes`: a corner-reaching base (zeros, masses down
/// to `1e-300`) and proxy and truth drawn independently from the shared reward strategy (ties,
/// constants, mixed scales).
pub fn joint(sizes: RangeInclusive<usize>) -> impl Strategy<Value = JointTable> {
    sizes
        .prop_flat_map(|n| (strategy::base(n), strategy::reward(n), strategy::reward(n)))
        .prop_map(|(base, proxy, truth)| JointTable { base, proxy, truth })
}

/// An optimizer choice whose parameter may depend on the table (resolved by [`resolve`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pick {
    /// Tilt at this beta.
    Tilt(f64),
    /// Best-of-N with this N.
    BestOfN(u64),
    /// Condition on `U >= U(x)` for the `k`-th outcome of the support (mod its size).
    ConditionAt(usize),
    /// Quantilizer with this q.
    Quantilize(f64),
    /// KL budget eps.
    KlBudget(f64),
    /// Reward target at this fraction of the way from `E_pi0[U]` to `max U`.
    TargetFraction(f64),
}

/// Every optimizer, with parameters from extreme to moderate.
pub fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        strategy::beta().prop_map(Pick::Tilt),
        prop_oneof![1u64..=64, Just(1_000_000u64), Just(1_000_000_000_000u64)]
            .prop_map(Pick::BestOfN),
        (0usize..8).prop_map(Pick::ConditionAt),
        prop_oneof![0.001f64..=1.0, Just(1.0), Just(1e-12)].prop_map(Pick::Quantilize),
        prop_oneof![(-6.0f64..1.0).prop_map(|e| 10f64.powf(e)), Just(0.0)].prop_map(Pick::KlBudget),
        prop_oneof![0.0f64..=1.0, Just(1.0)].prop_map(Pick::TargetFraction),
    ]
}

/// The optimizer a [`Pick`] denotes on this table.
pub fn resolve(table: &JointTable, pick: Pick) -> Result<Optimizer, String> {
    let support: Vec<usize> = table.base.support().collect();
    Ok(match pick {
        Pick::Tilt(beta) => Optimizer::Tilt { beta },
        Pick::BestOfN(n) => Optimizer::BestOfN { n },
        Pick::ConditionAt(k) => Optimizer::Condition {
            threshold: table.proxy[support[k % support.len()]],
        },
        Pick::Quantilize(q) => Optimizer::Quantilize { q },
        Pick::KlBudget(eps) => Optimizer::KlBudget { eps },
        Pick::TargetFraction(f) => {
            let e0 = table
                .base
                .expectation(&table.proxy)
                .map_err(|e| e.to_string())?;
            let top = support
                .iter()
                .map(|i| table.proxy[*i])
                .fold(f64::NEG_INFINITY, f64::max);
            let target = if f >= 1.0 {
                top
            } else {
                (e0 + f * (top - e0)).min(top)
            };
            Optimizer::RewardTarget { target }
        }
    })
}

/// A small table with integer data, for witnesses a reader can check by hand: 3 or 4
/// outcomes, base weights in `1..=4`, proxy in `0..=3`, truth in `-3..=3`, and `N` in `2..=4`.
pub fn small_integer_joint() -> impl Strategy<Value = (JointTable, u64)> {
    (3usize..=4)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec(1u32..=4, n),
                proptest::collection::vec(0i32..=3, n),
                proptest::collection::vec(-3i32..=3, n),
                2u64..=4,
            )
        })
        .prop_filter_map("weights must normalize", |(w, u, v, n)| {
            let base = Dist::from_weights(w.into_iter().map(f64::from).collect()).ok()?;
            let table = JointTable {
                base,
                proxy: u.into_iter().map(f64::from).collect(),
                truth: v.into_iter().map(f64::from).collect(),
            };
            Some((table, n))
        })
}

/// An instance and a tilt temperature for the transport bound: half the time a general
/// non-constant instance at a moderate temperature, half the time the symmetric two-point reward
/// `+-a` under the uniform base (variance proxy `a^2` equals its variance) at a temperature
/// `beta in [4a, 100a]`, where the tilt's gain is within 1% of `sqrt(2 a^2 KL)`: the edge of the
/// bound.
pub fn transport_edge() -> impl Strategy<Value = (strategy::Instance, f64)> {
    prop_oneof![
        (
            strategy::nonconstant_instance(2..=6),
            strategy::moderate_beta()
        ),
        (0.1f64..10.0, 0.6f64..2.0).prop_filter_map("uniform base", |(a, e)| {
            let base = Dist::uniform(2).ok()?;
            Some((
                strategy::Instance {
                    base,
                    reward: vec![-a, a],
                },
                a * 10f64.powf(e),
            ))
        }),
    ]
}
