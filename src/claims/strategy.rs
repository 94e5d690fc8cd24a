//! Proptest strategies shared by the claim properties.
//!
//! They are built to reach the corners where claims about RLHF break or numerics fail, not only
//! friendly random vectors: zeros in the base, masses down to `1e-300`, reward ties, rewards
//! constant on the support, mixed signs and scales, `-0.0` next to `0.0` in weights and rewards,
//! a top-reward outcome buried under a base mass down to the subnormal range (where the
//! unnormalized tilt `pi0(x) e^{r(x)/beta}` underflows although the normalized policy there is
//! of order 1, see [`buried_top_instance`]), temperatures from `1e-300` to `1e300`, and
//! rewards with their temperature scaled by powers of two out to the limits of the doubles
//! ([`scaled_by_power_of_two`]).
//! Everything shrinks: a failing instance is reduced toward fewer outcomes, simpler masses and
//! small integer rewards.

use crate::dist::Dist;
use crate::numeric::times_pow2;
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

/// One unnormalized base weight: mostly moderate, sometimes exactly zero (`0.0` or `-0.0`, which
/// is not negative and so a valid zero mass), sometimes tiny (log-uniform down to `1e-300`),
/// sometimes dominant.
pub fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => 0.01f64..1.0,
        1 => prop_oneof![Just(0.0), Just(-0.0)],
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

/// A reward vector of length `n`: small integers (ties are likely, and `-0.0` appears next to
/// `0.0`: equal rewards with different bits), uniform reals, mixed signs and scales (`+-10^k`,
/// `|k| <= 5`), or a constant.
pub fn reward(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        3 => proptest::collection::vec(
            prop_oneof![8 => (-3i32..=3).prop_map(f64::from), 1 => Just(-0.0)],
            n
        ),
        3 => proptest::collection::vec(-10.0f64..10.0, n),
        2 => proptest::collection::vec(
            (any::<bool>(), -5i32..=5, 1.0f64..10.0)
                .prop_map(|(neg, k, m)| if neg { -m } else { m } * 10f64.powi(k)),
            n
        ),
        1 => (-10.0f64..10.0).prop_map(move |c| vec![c; n]),
    ]
}

/// A base and reward on `n` outcomes, `n` drawn from `sizes`: independent draws of [`base`] and
/// [`reward`], and one time in ten a [`buried_top_instance`].
pub fn instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
    prop_oneof![
        9 => independent_instance(sizes.clone()),
        1 => buried_top_instance(sizes).prop_map(|(inst, _)| inst),
    ]
}

/// A base and reward drawn independently, `n` from `sizes`.
fn independent_instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
    sizes
        .prop_flat_map(|n| (base(n), reward(n)))
        .prop_map(|(base, reward)| Instance { base, reward })
}

/// A buried top outcome, with the temperature at which it surfaces.
///
/// From an independent instance, outcome `k` gets the unnormalized weight `10^e`,
/// `e in [-320, -295]` (down into the subnormal range) and the reward `r' + G`, where `r'` is
/// the largest reward of the other support outcomes and `G = 10^g`, `g in [0, 6]`. The
/// temperature `beta = G / (-log pi0(k) + c)`, `c in [-20, 20]`, gives
/// `pi_beta(k) / pi_beta(rest) ~ e^c pi0(r = r') / pi0(rest)`: the tilted mass at `k` is anywhere
/// from `~e^-20` to `~1 - e^-20` although the unnormalized tilt `pi0(k) e^{r(k)/beta}`, and even
/// `pi0(k)` itself, may be below the smallest normal `f64`. One time in two the base is given
/// by its logarithms (`Dist::from_log_weights`, the buried weight as `-e ln 10`), as a model's
/// logits give it: the log view then holds a subnormal mass to full relative precision, which
/// its linear view (to `2^-1074` absolutely) does not. Every component shrinks.
pub fn buried_top_instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = (Instance, f64)> {
    (
        independent_instance(sizes),
        0usize..8,
        295.0f64..=320.0,
        0.0f64..6.0,
        -20.0f64..20.0,
        any::<bool>(),
    )
        .prop_filter_map(
            "the buried weight must normalize",
            |(inst, k, neg_e, g, c, logits)| {
                let n = inst.base.len();
                let k = k % n;
                let base = if logits {
                    let mut lw = inst.base.log_probs().to_vec();
                    lw[k] = -neg_e * std::f64::consts::LN_10;
                    Dist::from_log_weights(&lw).ok()?
                } else {
                    let mut w = inst.base.probs().to_vec();
                    w[k] = 10f64.powf(-neg_e);
                    Dist::from_weights(w).ok()?
                };
                let gap = 10f64.powf(g);
                let others = (0..n)
                    .filter(|&i| i != k && base.in_support(i))
                    .map(|i| inst.reward[i])
                    .fold(f64::NEG_INFINITY, f64::max);
                let mut reward = inst.reward;
                reward[k] = if others.is_finite() {
                    others + gap
                } else {
                    gap
                };
                let beta = gap / (c - base.log_prob(k));
                (beta > 0.0 && beta.is_finite()).then_some((Instance { base, reward }, beta))
            },
        )
}

/// Limits of the power-of-two scaling of [`scaled_by_power_of_two`]: nonzero rewards, and the
/// spread of all rewards and 0, stay within `[1e-300, f64::MAX]` in magnitude (up to the
/// largest double, where doubling a reward difference overflows), and a temperature within
/// `[1e-300, 1e300]` (so that `beta` times a KL of order 1 stays finite in the checks'
/// objectives).
pub const SCALED_REWARD: (f64, f64) = (1e-300, f64::MAX);
/// The temperature's limits (see [`SCALED_REWARD`]).
pub const SCALED_BETA: (f64, f64) = (1e-300, 1e300);

/// Half the spread of the rewards and 0, `max(r, 0)/2 - min(r, 0)/2` (finite for finite
/// rewards).
fn half_spread(reward: &[f64]) -> f64 {
    let (lo, hi) = reward
        .iter()
        .fold((0.0f64, 0.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    hi / 2.0 - lo / 2.0
}

/// An instance (and a temperature, if it has one) with the rewards and the temperature
/// multiplied by the same power of two `2^k`, `|k| >= 500`, as far as [`SCALED_REWARD`] and
/// [`SCALED_BETA`] allow: `up` picks the sign of `k`, `t in [0, 1]` its place from 500 to the
/// limit (`t = 1`: the largest or smallest magnitude reaches its limit's power of two). The
/// instance is unchanged when that range is empty.
///
/// Every tilt depends on rewards and temperature only through `(r(x) - r(y))/beta`, and the
/// power of two leaves every such quotient the same double; but the spread of rewards of order
/// one is then outside `[2^-500, 2^500]`, where the solvers' multiplier searches rescale the problem before
/// they search and unscale the multiplier after, and near `f64::MAX`, where the tilt halves
/// rewards and temperature (the scale of RLHF rewards is arbitrary: a reward model's logits,
/// normalized advantages and raw scores differ by orders of magnitude).
pub fn scaled_by_power_of_two(
    inst: Instance,
    beta: Option<f64>,
    up: bool,
    t: f64,
) -> (Instance, Option<f64>) {
    let nonzero = inst.reward.iter().map(|r| r.abs()).filter(|r| *r > 0.0);
    let (lo, hi) = nonzero.fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
        (lo.min(r), hi.max(r))
    });
    // log2 of the room to each limit (`+inf` for an absent quantity: all rewards 0, or no
    // temperature); the spread, up to twice the largest magnitude, is halved first.
    let room = if up {
        let b = beta.map_or(f64::INFINITY, |b| (SCALED_BETA.1 / b).log2());
        let spread = (SCALED_REWARD.1 / 2.0 / half_spread(&inst.reward)).log2();
        (SCALED_REWARD.1 / hi).log2().min(spread).min(b)
    } else {
        let b = beta.map_or(f64::INFINITY, |b| (b / SCALED_BETA.0).log2());
        (lo / SCALED_REWARD.0).log2().min(b)
    };
    let reach = room.floor() - 500.0;
    if !(0.0..2000.0).contains(&reach) {
        return (inst, beta);
    }
    let k = (500.0 + (t.clamp(0.0, 1.0) * reach).floor()) as i32 * if up { 1 } else { -1 };
    let reward: Vec<f64> = inst.reward.iter().map(|r| times_pow2(*r, k)).collect();
    let scaled_beta = beta.map(|b| times_pow2(b, k));
    // The logarithms above may round up to the limit: every scaled value is checked.
    let within = |x: f64, (min, max): (f64, f64)| x == 0.0 || (min..=max).contains(&x.abs());
    let fits = reward.iter().all(|r| within(*r, SCALED_REWARD))
        && within(2.0 * half_spread(&reward), SCALED_REWARD)
        && scaled_beta.is_none_or(|b| b > 0.0 && within(b, SCALED_BETA));
    if !fits {
        return (inst, beta);
    }
    let base = inst.base;
    (Instance { base, reward }, scaled_beta)
}

/// An instance (with its temperature, if any) from `instances`, one time in `1 + odds` scaled
/// by [`scaled_by_power_of_two`] (a third of those to the limit of its range), and a quarter of
/// those first moved away from 0 ([`away_from_zero`]), so that near the limit every reward is
/// above `f64::MAX/2` while their spread is not.
pub fn at_any_scale(
    instances: impl Strategy<Value = (Instance, Option<f64>)>,
    odds: u32,
) -> impl Strategy<Value = (Instance, Option<f64>)> {
    let place = prop_oneof![2 => 0.0f64..=1.0, 1 => Just(1.0)];
    let offset = proptest::bool::weighted(0.25);
    (instances, 0..=odds, any::<bool>(), place, offset).prop_map(
        |((inst, beta), pick, up, t, offset)| {
            if pick != 0 {
                return (inst, beta);
            }
            let inst = if offset { away_from_zero(inst) } else { inst };
            scaled_by_power_of_two(inst, beta, up, t)
        },
    )
}

/// The instance with its rewards shifted by a constant, `r - min r + 4 (max r - min r)`, into
/// `[4 s, 5 s]` for the spread `s` (up to rounding): all of one sign, the smallest at least
/// `4/5` of the largest. A tilt depends on the rewards only through their differences, which
/// the shift keeps to rounding; the checks compute their references from the shifted rewards.
/// Unchanged when the rewards are constant or the shift would overflow.
pub fn away_from_zero(inst: Instance) -> Instance {
    let (lo, hi) = inst
        .reward
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(*r), hi.max(*r))
        });
    let spread = hi - lo;
    let reward: Vec<f64> = inst.reward.iter().map(|r| r - lo + 4.0 * spread).collect();
    if !(spread > 0.0) || !reward.iter().all(|r| r.is_finite()) {
        return inst;
    }
    Instance {
        base: inst.base,
        reward,
    }
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
