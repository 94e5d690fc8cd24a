//! Strategies and reference computations shared by the `kl` and `lagrange` families.
//!
//! The reference computations here are deliberately written independently of
//! [`crate::solve::tilt()`]: they use the generic [`crate::numeric::log_sum_exp`] (or a
//! plain `log1p` of a sum of `expm1` terms) rather than the solver's passes, so that a claim
//! check compares two different evaluations of the same mathematics.

use super::strategy::{self, Instance};
use super::Deviation;
use crate::dist::Dist;
use crate::numeric::{log_sum_exp, CompensatedSum};
use proptest::prelude::*;
use std::ops::RangeInclusive;

/// Maps a crate error to the claim runner's error string.
pub fn fail(e: crate::Error) -> String {
    e.to_string()
}

/// `|a - b|` against `rel * max(|a|, |b|) + abs`: a relative tolerance with an absolute floor
/// (for quantities whose rounding error is absolute, such as a TV summed from differences).
pub fn within(a: f64, b: f64, rel: f64, abs: f64) -> Deviation {
    let err = (a - b).abs();
    Deviation::new(
        if err.is_nan() { f64::INFINITY } else { err },
        rel * a.abs().max(b.abs()) + abs,
    )
}

/// `a <= b` within `slack`, through [`Deviation::at_most`] (so a NaN on either side fails);
/// the tightness `a / b` is kept only where the bound is resolved, `b >= 1e6 slack`: below
/// that the ratio measures rounding, not how close the instance came to the edge.
pub fn bound(a: f64, b: f64, slack: f64) -> Deviation {
    let mut d = Deviation::at_most(a, b, slack);
    if !(b >= 1e6 * slack) {
        d.tightness = None;
    }
    d
}

/// `x >= 0` within `slack` (NaN fails); no tightness, the bound being 0.
pub fn non_negative(x: f64, slack: f64) -> Deviation {
    Deviation::at_most(-x, 0.0, slack)
}

/// `max r` over `supp pi0`.
pub fn support_max(inst: &Instance) -> f64 {
    inst.base.support_range(&inst.reward).1
}

/// `min r` over `supp pi0`.
pub fn support_min(inst: &Instance) -> f64 {
    inst.base.support_range(&inst.reward).0
}

/// `max |r|` over all outcomes, at least 1 (the scale of rewards and objectives).
pub fn reward_scale(inst: &Instance) -> f64 {
    inst.reward.iter().fold(1.0f64, |m, r| m.max(r.abs()))
}

/// The largest reward on the support strictly below `max r`, if any (the second level).
pub fn second_level(inst: &Instance) -> Option<f64> {
    let top = support_max(inst);
    inst.base
        .support()
        .map(|i| inst.reward[i])
        .filter(|r| *r < top)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))))
}

/// `L(beta) = log E_pi0[exp((r - r*)/beta)] <= 0`, by `log_sum_exp` over the support.
pub fn shifted_log_partition(inst: &Instance, beta: f64) -> f64 {
    let top = support_max(inst);
    let terms: Vec<f64> = inst
        .base
        .support()
        .map(|i| inst.base.log_prob(i) + (inst.reward[i] - top) / beta)
        .collect();
    log_sum_exp(&terms)
}

/// The same `L(beta)`, as `log1p(sum_x pi0(x) expm1((r(x) - r*)/beta))`: every term is `<= 0`,
/// so the sum has no cancellation and `L` keeps full relative accuracy when it is tiny
/// (beta large), where `log_sum_exp` has absolute error `~eps`. Falls back to `log_sum_exp`
/// when the sum is below `-1/2`.
pub fn shifted_log_partition_accurate(inst: &Instance, beta: f64) -> f64 {
    let top = support_max(inst);
    let s: CompensatedSum = inst
        .base
        .support()
        .map(|i| inst.base.prob(i) * ((inst.reward[i] - top) / beta).exp_m1())
        .collect();
    let s = s.value();
    if s > -0.5 {
        s.ln_1p()
    } else {
        shifted_log_partition(inst, beta)
    }
}

/// `log pi_beta(x) = log pi0(x) + (r(x) - r*)/beta - L(beta)` for every outcome (`-inf` off the
/// support), computed in log space without the solver.
pub fn reference_log_tilt(inst: &Instance, beta: f64) -> Vec<f64> {
    let top = support_max(inst);
    let l = shifted_log_partition(inst, beta);
    (0..inst.base.len())
        .map(|i| {
            if inst.base.in_support(i) {
                inst.base.log_prob(i) + (inst.reward[i] - top) / beta - l
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect()
}

/// A recipe for a competitor policy on the support of a base: kept abstract (a mode and raw
/// numbers) so that proptest can shrink it independently of the base.
#[derive(Debug, Clone, PartialEq)]
pub struct Competitor {
    /// Which construction to use (see [`Competitor::realize`]).
    pub mode: u8,
    /// Raw numbers in `[0, 1]`, some exactly 0.
    pub raw: Vec<f64>,
}

/// Competitor recipes: the base itself, random weights on its support (some zero), point masses,
/// the base conditioned on a random subset, and strong reweightings of the base.
pub fn competitor() -> impl Strategy<Value = Competitor> {
    (
        0u8..5,
        proptest::collection::vec(prop_oneof![4 => 0.0f64..=1.0, 1 => Just(0.0)], 8),
    )
        .prop_map(|(mode, raw)| Competitor { mode, raw })
}

impl Competitor {
    fn raw_at(&self, i: usize) -> f64 {
        self.raw[i % self.raw.len()]
    }

    /// The competitor policy for `base` (supported within `supp base`):
    /// - mode 0: `base` itself;
    /// - mode 1: weights `raw` on the support;
    /// - mode 2: a point mass on a support outcome chosen by `raw[0]`;
    /// - mode 3: `base` conditioned on `{x : raw[x] > 1/2}` within the support;
    /// - otherwise: `base(x) exp(40 (raw[x] - 1/2))`, a reweighting by up to `e^{20}` each way.
    ///
    /// Falls back to `base` when the construction has no mass.
    pub fn realize(&self, base: &Dist) -> Dist {
        let support: Vec<usize> = base.support().collect();
        let built = match self.mode {
            0 => None,
            1 => {
                let w = (0..base.len())
                    .map(|i| {
                        if base.in_support(i) {
                            self.raw_at(i)
                        } else {
                            0.0
                        }
                    })
                    .collect();
                Dist::from_weights(w).ok()
            }
            2 => {
                let k = ((self.raw_at(0) * support.len() as f64) as usize).min(support.len() - 1);
                Dist::point_mass(base.len(), support[k]).ok()
            }
            3 => base.condition(|i| self.raw_at(i) > 0.5).ok(),
            _ => {
                let lw: Vec<f64> = (0..base.len())
                    .map(|i| base.log_prob(i) + 40.0 * (self.raw_at(i) - 0.5))
                    .collect();
                Dist::from_log_weights(&lw).ok()
            }
        };
        built.unwrap_or_else(|| base.clone())
    }
}

/// Instances whose rewards take only a few levels, so that ties (and whole tie classes) are
/// the rule: each outcome's reward is one of up to three levels drawn from the shared reward
/// strategy.
pub fn tied_instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
    sizes
        .prop_flat_map(|n| {
            (
                strategy::base(n),
                strategy::reward(3),
                proptest::collection::vec(0usize..3, n),
            )
        })
        .prop_map(|(base, levels, pick)| Instance {
            base,
            reward: pick.iter().map(|k| levels[*k]).collect(),
        })
}

/// Instances from the shared strategy or with heavy ties, half each.
pub fn any_instance(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
    prop_oneof![strategy::instance(sizes.clone()), tied_instance(sizes),]
}

/// An instance from [`any_instance`] with an independent temperature from
/// [`strategy::beta`], and one time in five a [`strategy::buried_top_instance`] with the
/// temperature at which its buried top outcome surfaces (the corner where the unnormalized tilt
/// underflows but the policy there is of order 1); one time in six, rewards and temperature
/// are then scaled by a power of two beyond `2^+-500` ([`strategy::scaled_by_power_of_two`]);
/// one time in two, the rewards off the base's support are then anywhere in the doubles
/// (`off_support_rewards`).
pub fn any_instance_and_beta(
    sizes: RangeInclusive<usize>,
) -> impl Strategy<Value = (Instance, f64)> {
    let unscaled = prop_oneof![
        4 => (any_instance(sizes.clone()), strategy::beta()),
        1 => strategy::buried_top_instance(sizes),
    ];
    // The temperature is always there, and scaled along with the rewards.
    let scaled = strategy::at_any_scale(unscaled.prop_map(|(inst, beta)| (inst, Some(beta))), 5)
        .prop_map(|(inst, beta)| (inst, beta.unwrap_or(1.0)));
    (scaled, off_support_rewards())
        .prop_map(|((inst, beta), wild)| (with_rewards_off_support(inst, &wild), beta))
}

/// Rewards for the outcomes outside the base's support, where no tilt depends on them: one
/// time in two none (the instance's own), else a reward per outcome anywhere in the doubles,
/// `+-f64::MAX` among them, so that `(r - r*)/beta` overflows there.
fn off_support_rewards() -> impl Strategy<Value = Vec<Option<f64>>> {
    let one = prop_oneof![
        2 => Just(None),
        1 => Just(Some(f64::MAX)),
        1 => Just(Some(-f64::MAX)),
        2 => (-308.0f64..308.0, any::<bool>())
            .prop_map(|(e, neg)| Some(if neg { -1.0 } else { 1.0 } * 10f64.powf(e))),
    ];
    prop_oneof![
        1 => Just(Vec::new()),
        1 => proptest::collection::vec(one, 8),
    ]
}

/// `inst` with the reward of every outcome of base mass 0 replaced by `wild[x]` where that is
/// given (cycling through `wild`).
fn with_rewards_off_support(mut inst: Instance, wild: &[Option<f64>]) -> Instance {
    if wild.is_empty() {
        return inst;
    }
    for x in 0..inst.reward.len() {
        if let (false, Some(r)) = (inst.base.in_support(x), wild[x % wild.len()]) {
            inst.reward[x] = r;
        }
    }
    inst
}

/// An instance from [`any_instance`], one time in six with its rewards scaled by a power of two
/// beyond `2^+-500` ([`strategy::scaled_by_power_of_two`]), where the multiplier searches of
/// `kl_budget` and `reward_target` rescale before they search.
pub fn any_instance_at_any_scale(sizes: RangeInclusive<usize>) -> impl Strategy<Value = Instance> {
    strategy::at_any_scale(any_instance(sizes).prop_map(|inst| (inst, None)), 5)
        .prop_map(|(inst, _)| inst)
}

/// A position of a constraint level between two limits, as a fraction: exactly 0, tiny
/// (`1e-12..1e-3`), interior, near 1 (`1 - 1e-12..1 - 1e-3`), exactly 1, or beyond (`1..3`).
pub fn fraction() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(0.0),
        1 => (-12.0f64..-3.0).prop_map(|e| 10f64.powf(e)),
        4 => 0.001f64..0.999,
        1 => (-12.0f64..-3.0).prop_map(|e| 1.0 - 10f64.powf(e)),
        1 => Just(1.0),
        1 => 1.0f64..3.0,
    ]
}

/// `beta * KL(pi || pi_beta)` for a policy `pi` supported within `supp pi0`, computed in
/// beta-units without forming `pi_beta`:
///
/// ```text
/// beta KL(pi||pi_beta) = sum_x pi(x) [ beta (log pi(x) - log pi0(x)) + (r* - r(x)) + beta L ],
/// ```
///
/// with `L = log E_pi0[exp((r - r*)/beta)]` ([`shifted_log_partition_accurate`]). Stays finite
/// when `pi_beta` underflows (tiny beta), where `KL(pi||pi_beta)` itself is astronomically
/// large but `beta KL` is not. Returns the value and the scale of its rounding error (the sum
/// of the absolute sizes of its terms, with the log-probabilities counted at their own size).
pub fn beta_kl_to_tilt(inst: &Instance, pi: &Dist, beta: f64) -> (f64, f64) {
    let top = support_max(inst);
    let l = shifted_log_partition_accurate(inst, beta);
    let (mut sum, mut abs) = (CompensatedSum::new(), CompensatedSum::new());
    for i in 0..pi.len() {
        let p = pi.prob(i);
        if p > 0.0 {
            let (a, b) = (pi.log_prob(i), inst.base.log_prob(i));
            let parts = [beta * (a - b), top - inst.reward[i], beta * l];
            for part in parts {
                sum.add(p * part);
            }
            // The stored logs are exact only to ~eps of their own size (and of the
            // normalization), so `beta (a - b)` carries `beta eps (|a| + |b| + 1)`.
            abs.add(p * (beta * (a.abs() + b.abs() + 1.0) + parts[1].abs() + parts[2].abs()));
        }
    }
    (sum.value(), abs.value())
}

/// `sum_x pi(x) (1 + |log pi(x)| + |log pi0(x)| + |log pi(x) - log pi0(x)|)`: the scale of the
/// rounding error of `KL(pi||pi0)` evaluated as a sum of signed terms from stored
/// log-probabilities (each of which is itself exact only to a few ulps of its size, plus the
/// `~eps` of its distribution's normalization).
///
/// The disagreement of each distribution's linear and log views ([`log_view_gap`]), an absolute
/// error in every stored log, is included in units of `eps`.
pub fn kl_term_scale(pi: &Dist, base: &Dist) -> f64 {
    let views = (log_view_gap(pi) + log_view_gap(base)) / f64::EPSILON;
    let s: CompensatedSum = (0..pi.len())
        .filter(|&i| pi.prob(i) > 0.0)
        .map(|i| {
            let (a, b) = (pi.log_prob(i), base.log_prob(i));
            pi.prob(i) * (1.0 + a.abs() + b.abs() + (a - b).abs())
        })
        .collect();
    s.value() + views
}

/// An upper bound on the true `KL(pi||pi0)`: the computed value plus `16 n eps` times
/// [`kl_term_scale`].
pub fn kl_upper(pi: &Dist, base: &Dist) -> Result<f64, String> {
    let k = crate::divergence::kl(pi, base).map_err(fail)?;
    Ok(k + 16.0 * pi.len() as f64 * f64::EPSILON * kl_term_scale(pi, base))
}

/// The sensitivity factor of a tilt to the rounding of its multiplier and exponents: the
/// solvers pin `u = ln(range/beta)` to `1e-15 + 4 eps |u|`, and each exponent `(r - r')/beta`
/// carries `eps range/beta`; so a quantity `Q` with `|dQ/du| = D` is exact only to
/// `D (1e-15 + 4 eps (|u| + range/beta + 1))`.
pub fn multiplier_rounding(range: f64, beta: f64) -> f64 {
    let u = (range / beta).ln();
    1e-15 + 4.0 * f64::EPSILON * (u.abs() + range / beta + 1.0)
}

/// `max_x |ln p(x) - log_prob(x)|` over outcomes with normal `p(x)`: how far a [`Dist`]'s
/// linear and log views disagree (a few ulps of `|log p|` plus the rounding of its
/// normalization). A check that compares a solver reading one view with a reference reading the
/// other must allow this much.
pub fn log_view_gap(d: &Dist) -> f64 {
    (0..d.len())
        .filter(|&i| d.prob(i) >= f64::MIN_POSITIVE)
        .map(|i| (d.prob(i).ln() - d.log_prob(i)).abs())
        .fold(0.0, f64::max)
}

/// `log pi0(E)` summed from the log view of `d` over the event `E = {x : event(x)}` (`-inf` for
/// an empty event). For a subnormal `pi0(E)` this keeps the relative precision that the linear
/// view (which holds a subnormal only to `2^-1074` absolutely) has lost; for `pi0(E)` near 1
/// [`Dist::neg_log_mass_where`] is the accurate one.
pub fn log_mass_where(d: &Dist, event: impl Fn(usize) -> bool) -> f64 {
    let logs: Vec<f64> = d
        .support()
        .filter(|&i| event(i))
        .map(|i| d.log_prob(i))
        .collect();
    log_sum_exp(&logs)
}

/// How far `-log pi0(E)` from the linear view ([`Dist::neg_log_mass_where`], which conditioning
/// and the constrained solvers use) is from the same quantity summed from the log view
/// ([`log_mass_where`]) when `pi0(E)` is subnormal (0 otherwise): the representational limit of
/// a subnormal mass, e.g. `7e-10` for `pi0(E) ~ 7e-315`. A check comparing a quantity formed
/// from one view with one formed from the other must allow this much.
pub fn mass_view_gap(d: &Dist, event: impl Fn(usize) -> bool + Sync + Copy) -> f64 {
    if d.mass_where(event) >= f64::MIN_POSITIVE {
        return 0.0;
    }
    let gap = (d.neg_log_mass_where(event) + log_mass_where(d, event)).abs();
    if gap.is_nan() {
        0.0
    } else {
        gap
    }
}

/// The size of the logarithms a tilt at `beta` is assembled from on the outcomes that keep
/// representable mass: `max |log pi0|` on the support plus the largest exponent
/// `range/beta` (capped at 1500: beyond `|log pi0| + |exponent| ~ 1490` a probability is below
/// the subnormal range whatever its rounding). The tilt's probabilities are exact only to
/// `~4 eps` times this, relatively (the exponents themselves are rounded quotients), so its
/// normalization is exact only to that, absolutely.
pub fn tilt_log_scale(inst: &Instance, beta: f64) -> f64 {
    let max_log = inst
        .base
        .support()
        .fold(0.0f64, |m, i| m.max(inst.base.log_prob(i).abs()));
    let range = support_max(inst) - support_min(inst);
    max_log + (range / beta).min(1500.0) + 1.0
}
