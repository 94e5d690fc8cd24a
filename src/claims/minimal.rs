//! Minimal counterexamples of the refuted claims, the same at every seed.
//!
//! Proptest's shrinking stops at a local minimum that depends on where the random search
//! started (and after 4096 iterations), so different seeds report different counterexamples.
//! [`find_minimal_counterexample`] continues after it: it drops the zero-mass outcomes of the
//! shrunk instance, which leaves `k0` outcomes, then enumerates the small instances with
//! `k = 1, 2, ..., k0` outcomes exhaustively, in the order
//!
//! 1. the number of outcomes `k`,
//! 2. the number of distinct rewards,
//! 3. the claim's scalar parameter (`N`, the threshold index, or `gamma`), in the order of its
//!    [`SmallSpace::parameter`] list,
//! 4. the integer base weights, each in `1..=4`, lexicographically,
//! 5. the integer rewards, each in `0..=3`, lexicographically,
//!
//! and reports the first instance that violates the statement. These are the instances of
//! [`super::strategy_bon::integer_instance`] with zero weights removed (an outcome of mass 0
//! changes none of the refuted statements, once a threshold on it is moved to the next reward
//! with mass). Every instance with fewer than `k0` outcomes precedes the shrunk one in the order,
//! so the first violation found is the least counterexample of the whole space, whatever the
//! seed, as long as the random search finds some counterexample. If the enumeration finds none
//! (the shrunk instance lies outside the space, e.g. real weights), the reduced shrunk instance
//! is reported and the note says that minimality was not established.

use super::pref::MixInstance;
use super::runner::shrunk_counterexample;
use super::strategy::Instance;
use super::{check_model_cases, CheckConfig, Deviation, Verdict};
use crate::Dist;
use proptest::strategy::Strategy;
use std::cell::Cell;
use std::fmt::Debug;

/// Largest integer base weight of the space.
pub const MAX_WEIGHT: u8 = 4;
/// Largest integer reward of the space (rewards are `0..=MAX_REWARD`).
pub const MAX_REWARD: u8 = 3;

/// A refuted claim's small instances: integer weights `1..=MAX_WEIGHT` and rewards
/// `0..=MAX_REWARD` on `k` outcomes, and a scalar parameter.
#[derive(Debug)]
pub struct SmallSpace<T> {
    /// The scalar parameter's name and values, in the order of the search (for the note).
    pub parameter: &'static str,
    /// Number of values of the scalar parameter on `k` outcomes.
    pub values: fn(usize) -> usize,
    /// The instance with this base and reward and the `i`-th value of the parameter.
    pub build: fn(Instance, usize) -> T,
    /// The instance without its zero-mass outcomes, if it has a positive-mass outcome.
    pub reduce: fn(&T) -> Option<T>,
    /// The number of outcomes of an instance.
    pub outcomes: fn(&T) -> usize,
}

// Function pointers and a `&'static str`: copyable whatever `T` is (a derive would ask
// `T: Copy`).
impl<T> Clone for SmallSpace<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SmallSpace<T> {}

/// What [`minimal_counterexample`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Search<T> {
    /// The counterexample: the least of the space in the order, or the reduced shrunk one.
    pub found: Option<T>,
    /// Whether `found` came from the exhaustive enumeration (so it is the least of the space).
    pub minimal: bool,
    /// Instances evaluated: random search, shrinking, the reduced instance, enumeration.
    pub examined: u64,
}

/// The vectors of `{lo, ..., hi}^k` in lexicographic order (none if `hi < lo` and `k > 0`).
pub fn lexicographic(k: usize, lo: u8, hi: u8) -> impl Iterator<Item = Vec<u8>> {
    let radix = if hi < lo { 0 } else { u64::from(hi - lo) + 1 };
    let count = u32::try_from(k).map_or(0, |k| radix.saturating_pow(k));
    (0..count).map(move |mut i| {
        let mut v = vec![lo; k];
        for digit in v.iter_mut().rev() {
            // The remainder is below `radix <= 256`.
            *digit = lo + u8::try_from(i % radix).unwrap_or(0);
            i /= radix;
        }
        v
    })
}

/// The number of distinct values of `v`.
pub fn distinct(v: &[u8]) -> usize {
    let mut seen = [false; 256];
    v.iter()
        .filter(|&&x| !std::mem::replace(&mut seen[usize::from(x)], true))
        .count()
}

/// The instances of `space` on `k` outcomes, in the order of the module documentation.
fn candidates<T>(space: SmallSpace<T>, k: usize) -> impl Iterator<Item = T> {
    let values = (space.values)(k);
    let max_distinct = k.min(usize::from(MAX_REWARD) + 1);
    (1..=max_distinct).flat_map(move |d| {
        (0..values).flat_map(move |value| {
            lexicographic(k, 1, MAX_WEIGHT).flat_map(move |w| {
                lexicographic(k, 0, MAX_REWARD)
                    .filter(move |r| distinct(r) == d)
                    .filter_map(move |r| {
                        let base = Dist::from_weights(w.iter().map(|x| f64::from(*x)).collect());
                        let reward = r.iter().map(|x| f64::from(*x)).collect();
                        let inst = Instance {
                            base: base.ok()?,
                            reward,
                        };
                        Some((space.build)(inst, value))
                    })
            })
        })
    })
}

/// `inst` restricted to its positive-mass outcomes, with the indices it keeps.
pub fn drop_zero_mass(inst: &Instance) -> Option<(Instance, Vec<usize>)> {
    let kept: Vec<usize> = inst.base.support().collect();
    let base = Dist::from_weights(kept.iter().map(|&x| inst.base.prob(x)).collect()).ok()?;
    let reward = kept.iter().map(|&x| inst.reward[x]).collect();
    Some((Instance { base, reward }, kept))
}

/// Random search and shrinking over `strategy`, then the exhaustive search of `space` up to the
/// shrunk instance's number of positive-mass outcomes (see the module documentation).
pub fn minimal_counterexample<S, P>(
    config: &CheckConfig,
    strategy: S,
    holds: P,
    space: SmallSpace<S::Value>,
) -> Result<Search<S::Value>, String>
where
    S: Strategy,
    S::Value: Debug,
    P: Fn(&S::Value) -> Result<bool, String>,
{
    let examined = Cell::new(0u64);
    let counted = |v: &S::Value| {
        examined.set(examined.get() + 1);
        holds(v)
    };
    let Some(shrunk) = shrunk_counterexample(config, strategy, counted)? else {
        return Ok(Search {
            found: None,
            minimal: false,
            examined: examined.get(),
        });
    };
    let shrunk = match (space.reduce)(&shrunk) {
        Some(reduced) if !counted(&reduced)? => reduced,
        _ => shrunk,
    };
    for k in 1..=(space.outcomes)(&shrunk) {
        for candidate in candidates(space, k) {
            if !counted(&candidate)? {
                return Ok(Search {
                    found: Some(candidate),
                    minimal: true,
                    examined: examined.get(),
                });
            }
        }
    }
    Ok(Search {
        found: Some(shrunk),
        minimal: false,
        examined: examined.get(),
    })
}

/// Checks a refuted claim like [`super::find_counterexample`], reporting the least
/// counterexample of `space` (see the module documentation); `cases` counts every evaluation of
/// the statement (search, shrinking, reduction, enumeration).
pub fn find_minimal_counterexample<S, P>(
    config: &CheckConfig,
    strategy: S,
    holds: P,
    space: SmallSpace<S::Value>,
) -> Verdict
where
    S: Strategy,
    S::Value: Debug,
    P: Fn(&S::Value) -> Result<bool, String>,
{
    let search = match minimal_counterexample(config, strategy, holds, space) {
        Ok(search) => search,
        Err(e) => return check_model_cases(0, || Err(e)),
    };
    let mut v = check_model_cases(search.examined, || {
        Ok(Deviation::exact(search.found.is_some()))
    });
    match &search.found {
        Some(found) => {
            v.counterexample = Some(format!("{found:?}"));
            v.note = Some(if search.minimal {
                format!(
                    "least counterexample by (outcomes, distinct rewards, {}, weights in 1..={MAX_WEIGHT} \
lexicographically, rewards in 0..={MAX_REWARD} lexicographically)",
                    space.parameter
                )
            } else {
                "shrunk counterexample outside the small space: minimality not established".into()
            });
        }
        None => v.note = Some("no counterexample found".into()),
    }
    v
}

/// `bon.kl-formula`: `(instance, N)` with `N` in `1..=8`.
pub const KL_FORMULA: SmallSpace<(Instance, u64)> = SmallSpace {
    parameter: "N in 1..=8",
    values: |_| 8,
    build: |inst, i| (inst, i as u64 + 1),
    reduce: |(inst, n)| drop_zero_mass(inst).map(|(i, _)| (i, *n)),
    outcomes: |(inst, _)| inst.base.len(),
};

/// `conditioning.more-diverse`: `(instance, t)`, the threshold being the reward of outcome `t`,
/// `t` in `0..k`.
pub const MORE_DIVERSE: SmallSpace<(Instance, usize)> = SmallSpace {
    parameter: "threshold index in 0..k",
    values: |k| k,
    build: |inst, t| (inst, t),
    reduce: reduce_threshold_instance,
    outcomes: |(inst, _)| inst.base.len(),
};

/// Drops the zero-mass outcomes of a threshold instance; the threshold `r[t]` becomes the
/// least reward with mass at or above it (conditioning on `r >= r[t]` keeps the same outcomes),
/// `None` if there is none.
fn reduce_threshold_instance((inst, t): &(Instance, usize)) -> Option<(Instance, usize)> {
    let bar = *inst.reward.get(t % inst.reward.len().max(1))?;
    let (reduced, _) = drop_zero_mass(inst)?;
    let at_or_above = (0..reduced.reward.len()).filter(|&j| reduced.reward[j] >= bar);
    let t = at_or_above.min_by(|&a, &b| reduced.reward[a].total_cmp(&reduced.reward[b]))?;
    Some((reduced, t))
}

/// The values of `gamma` in the search order: `2^e` for `e` in `-2..=1` (the range of
/// `pref::pretrain_mix_strategy`), by `|e|` and then `e`.
pub const GAMMAS: [f64; 4] = [1.0, 0.5, 2.0, 0.25];

/// `pref.pretrain-mix`: base, reward and `gamma` in [`GAMMAS`]. The search strategy's rewards
/// are integers in `-3..=3`; the statement is invariant under shifting the reward (the mix
/// optimum and every tilt are), so `0..=3` covers every reward vector of range at most 3.
pub const PRETRAIN_MIX: SmallSpace<MixInstance> = SmallSpace {
    parameter: "gamma in (1, 1/2, 2, 1/4)",
    values: |_| GAMMAS.len(),
    build: |instance, i| MixInstance {
        instance,
        gamma: GAMMAS[i % GAMMAS.len()],
    },
    reduce: |m| {
        drop_zero_mass(&m.instance).map(|(instance, _)| MixInstance {
            instance,
            gamma: m.gamma,
        })
    },
    outcomes: |m| m.instance.base.len(),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::best_of_n::{kl_formula_holds, kl_formula_strategy};
    use crate::claims::conditioning::{more_diverse_holds, more_diverse_strategy};
    use crate::claims::pref::{pretrain_mix_holds, pretrain_mix_strategy};

    /// `(outcomes, distinct rewards, parameter index, weights, rewards)`.
    type Key = (usize, usize, usize, Vec<u8>, Vec<u8>);

    /// The least violating instance of `space` with at most `max_k` outcomes, by building every
    /// instance and taking the minimum of the explicit key `(k, distinct rewards, parameter,
    /// weights, rewards)`: an independent reading of the order that the lazy enumeration
    /// follows.
    fn least_by_sorting<T>(
        space: SmallSpace<T>,
        holds: impl Fn(&T) -> Result<bool, String>,
        max_k: usize,
    ) -> Result<Option<T>, String> {
        let mut best: Option<(Key, T)> = None;
        for k in 1..=max_k {
            for r in lexicographic(k, 0, MAX_REWARD) {
                for w in lexicographic(k, 1, MAX_WEIGHT) {
                    for value in 0..(space.values)(k) {
                        let key = (k, distinct(&r), value, w.clone(), r.clone());
                        if best.as_ref().is_some_and(|(b, _)| *b <= key) {
                            continue;
                        }
                        let inst = Instance {
                            base: Dist::from_weights(w.iter().map(|x| f64::from(*x)).collect())
                                .map_err(|e| e.to_string())?,
                            reward: r.iter().map(|x| f64::from(*x)).collect(),
                        };
                        let candidate = (space.build)(inst, value);
                        if !holds(&candidate)? {
                            best = Some((key, candidate));
                        }
                    }
                }
            }
        }
        Ok(best.map(|(_, t)| t))
    }

    /// At seeds 0..=20 (256 cases) the check reports the same counterexample, from the
    /// enumeration, equal to `expected` and to the least one found by sorting.
    fn same_least_counterexample_at_every_seed<S, P>(
        strategy: impl Fn() -> S,
        holds: P,
        space: SmallSpace<S::Value>,
        expected: &str,
    ) -> Result<(), String>
    where
        S: Strategy,
        S::Value: Debug,
        P: Fn(&S::Value) -> Result<bool, String> + Copy,
    {
        for seed in 0..=20 {
            let config = CheckConfig::new(256, seed);
            let search = minimal_counterexample(&config, strategy(), holds, space)?;
            let found = search.found.ok_or(format!("seed {seed}: none found"))?;
            assert!(
                search.minimal,
                "seed {seed}: {found:?} not from the enumeration"
            );
            assert_eq!(format!("{found:?}"), expected, "seed {seed}");
            let v = find_minimal_counterexample(&config, strategy(), holds, space);
            assert!(v.passed && v.cases == search.examined, "seed {seed}: {v:?}");
            assert_eq!(v.counterexample.as_deref(), Some(expected), "seed {seed}");
        }
        let sorted = least_by_sorting(space, holds, 3)?.ok_or("no counterexample on 3 outcomes")?;
        assert_eq!(format!("{sorted:?}"), expected);
        Ok(())
    }

    #[test]
    fn kl_formula_least_counterexample_is_a_point_mass_with_two_draws() -> Result<(), String> {
        same_least_counterexample_at_every_seed(
            kl_formula_strategy,
            |(inst, n): &(Instance, u64)| kl_formula_holds(inst, *n),
            KL_FORMULA,
            "(base=[1.0] reward=[0.0], 2)",
        )
    }

    #[test]
    fn more_diverse_least_counterexample_is_uniform_on_three_outcomes() -> Result<(), String> {
        let third = 1.0f64 / 3.0;
        same_least_counterexample_at_every_seed(
            more_diverse_strategy,
            |(inst, t): &(Instance, usize)| more_diverse_holds(inst, *t),
            MORE_DIVERSE,
            &format!("(base=[{third:?}, {third:?}, {third:?}] reward=[1.0, 0.0, 2.0], 0)"),
        )
    }

    #[test]
    fn pretrain_mix_least_counterexample_is_uniform_with_rewards_0_1_2() -> Result<(), String> {
        let third = 1.0f64 / 3.0;
        same_least_counterexample_at_every_seed(
            pretrain_mix_strategy,
            pretrain_mix_holds,
            PRETRAIN_MIX,
            &format!("base=[{third:?}, {third:?}, {third:?}] reward=[0.0, 1.0, 2.0] gamma=1.0"),
        )
    }

    #[test]
    fn lexicographic_order_and_distinct_counts() {
        let v: Vec<Vec<u8>> = lexicographic(2, 1, 3).collect();
        assert_eq!(v.len(), 9);
        assert_eq!(v[0], vec![1, 1]);
        assert_eq!(v[1], vec![1, 2]);
        assert_eq!(v[8], vec![3, 3]);
        assert!(v.windows(2).all(|p| p[0] < p[1]));
        assert_eq!(distinct(&[0, 3, 0, 2]), 3);
        assert_eq!(lexicographic(0, 0, 3).count(), 1);
        assert_eq!(lexicographic(2, 3, 0).count(), 0);
    }

    #[test]
    fn zero_mass_outcomes_are_dropped_and_the_threshold_moves_up() -> Result<(), String> {
        let inst = Instance {
            base: Dist::from_weights(vec![0.0, 1.0, 0.0, 3.0]).map_err(|e| e.to_string())?,
            reward: vec![2.0, 1.0, 0.0, 3.0],
        };
        // The bar r[0] = 2 sits on a zero-mass outcome: r >= 2 keeps only outcome 3 (reward 3).
        let (reduced, t) =
            reduce_threshold_instance(&(inst.clone(), 0)).ok_or("reducible instance")?;
        assert_eq!(reduced.base.probs(), &[0.25, 0.75]);
        assert_eq!(reduced.reward, vec![1.0, 3.0]);
        assert_eq!(t, 1);
        // A bar above every reward with mass cannot be moved.
        let high = Instance {
            reward: vec![5.0, 1.0, 0.0, 3.0],
            ..inst
        };
        assert!(reduce_threshold_instance(&(high, 0)).is_none());
        Ok(())
    }
}
