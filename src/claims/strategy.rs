//! Proptest strategies shared by the claim properties.
//!
//! They are built to reach the corners where claims about RLHF break or numerics fail, not only
//! friendly random vectors: zeros in the base, masses down to `1e-300`, reward ties, rewards
//! constant on the support, mixed signs and scales, and temperatures from `1e-300` to `1e300`.
//! Everything shrinks: a failing instance is reduced toward fewer outcomes, simpler masses and
//! small integer rewards.

use crate::dist::Dist;
use proptest::prelude::*;
use std::fmt;
use std::ops::RangeInclusive;

/// A base policy and a reward on the same outcomes.
#[derive(Clone, PartialEq)]
pub struct Instance {
    /// The base policy `pi0`.
    pub base: Dist,
    /// The reward `r`.
    pub reward: Vec<f64>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base={:?} reward={:?}", self.base.probs(), self.reward)
    }
}

/// One unnormalized base weight: mostly moderate, sometimes exactly zero, sometimes tiny
/// (log-uniform down to `1e-300`), sometimes dominant.
pub fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => 0.01f64..1.0,
        1 => Just(0.0),
        1 => (-300.0f64..-3.0).prop_map(|e| 10f64.powf(e)),
        1 => Just(1.0),
        1 => (3.0f64..12.0).prop_map(|e| 10f64.powf(e)),
    ]
}

/// Unnormalized weights of length `n` with at least one positive entry.
pub fn weights(n: usize) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(weight(), n).prop_map(|mut w| {
        if w.iter().all(|x| *x == 0.0) {
            w[0] = 1.0;
        }
        w
    })
}

/// A base distribution on `n` outcomes, normalized from [`weights`].
pub fn base(n: usize) -> impl Strategy<Value = Dist> {
    weights(n).prop_filter_map("weights must normalize", |w| Dist::from_weights(w).ok())
}

/// A reward vector of length `n`: small integers (ties are likely), uniform reals, mixed signs
/// and scales (`+-10^k`, `|k| <= 5`), or a constant.
pub fn reward(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        3 => proptest::collection::vec((-3i32..=3).prop_map(f64::from), n),
        3 => proptest::collection::vec(-10.0f64..10.0, n),
        2 => proptest::collection::vec(
            (any::<bool>(), -5i32..=5, 1.0f64..10.0)
                .prop_map(|(neg, k, m)| if neg { -m } else { m } * 10f64.powi(k)),
            n
        ),
        1 => (-10.0f64..10.0).prop_map(move |c| vec![c; n]),
    ]
}

/// A base and reward on `n` outcomes, `n` drawn from `sizes`.
pub fn instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
    sizes
        .prop_flat_map(|n| (base(n), reward(n)))
        .prop_map(|(base, reward)| Instance { base, reward })
}

/// An instance whose reward is non-constant on the support of the base.
pub fn nonconstant_instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
    instance(sizes).prop_filter("reward constant on the support", |i| {
        let mut vals = i.base.support().map(|x| i.reward[x]);
        match vals.next() {
            Some(first) => vals.any(|v| v != first),
            None => false,
        }
    })
}

/// A temperature `beta`: mostly log-uniform on `[1e-3, 1e3]`, with tails to `1e-12` and `1e12`
/// and the extremes `1e-300` and `1e300`.
pub fn beta() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => (-3.0f64..3.0).prop_map(|e| 10f64.powf(e)),
        1 => (-12.0f64..-3.0).prop_map(|e| 10f64.powf(e)),
        1 => (3.0f64..12.0).prop_map(|e| 10f64.powf(e)),
        1 => Just(1e-300),
        1 => Just(1e300),
    ]
}

/// A moderate temperature, log-uniform on `[1e-2, 1e2]`, for properties that compare against
/// formulas which themselves lose accuracy at extreme temperatures.
pub fn moderate_beta() -> impl Strategy<Value = f64> {
    (-2.0f64..2.0).prop_map(|e| 10f64.powf(e))
}
