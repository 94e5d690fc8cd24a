//! The least counterexamples of the refuted claims `bon.kl-formula` and
//! `conditioning.more-diverse`: randomized search (256 cases), proptest's shrinking, then the
//! exhaustive search of `claims::minimal` (the order is stated there), snapshotted at seed 0 so
//! that a reviewer sees them (`tests/snapshots/`) and checked to be the same at other seeds.

use rlhf_claims::claims::best_of_n::{kl_formula_holds, kl_formula_strategy};
use rlhf_claims::claims::conditioning::{more_diverse_holds, more_diverse_strategy};
use rlhf_claims::claims::minimal::{minimal_counterexample, SmallSpace, KL_FORMULA, MORE_DIVERSE};
use rlhf_claims::claims::CheckConfig;
use rlhf_claims::divergence::entropy;
use rlhf_claims::solve::{best_of_n, condition_on_threshold, reward_target};
use std::fmt::Debug;

/// The least counterexample at seed 0 (256 cases), from the enumeration, and the same at seeds
/// 5, 11 and 17.
fn least_at_every_seed<S, P>(
    strategy: impl Fn() -> S,
    holds: P,
    space: SmallSpace<S::Value>,
) -> Result<S::Value, String>
where
    S: proptest::strategy::Strategy,
    S::Value: Debug + PartialEq,
    P: Fn(&S::Value) -> Result<bool, String> + Copy,
{
    let least =
        |seed| minimal_counterexample(&CheckConfig::new(256, seed), strategy(), holds, space);
    let search = least(0)?;
    assert!(search.minimal);
    for seed in [5, 11, 17] {
        assert_eq!(least(seed)?.found, search.found, "seed {seed}");
    }
    search.found.ok_or("no counterexample found".into())
}

#[test]
fn kl_formula_shrinks_to_a_point_mass_with_two_draws() -> Result<(), String> {
    let (inst, n) = least_at_every_seed(
        kl_formula_strategy,
        |(i, n): &(_, u64)| kl_formula_holds(i, *n),
        KL_FORMULA,
    )?;
    let b = best_of_n(&inst.base, &inst.reward, n).map_err(|e| e.to_string())?;
    // On one outcome best-of-N is the base itself: KL = 0, while the formula gives
    // log 2 - 1/2 = 0.19314718... at N = 2.
    assert_eq!(b.solution.kl, 0.0);
    insta::assert_snapshot!(format!(
        "{inst:?} n={n} kl={} formula={}",
        b.solution.kl, b.kl_bound
    ));
    Ok(())
}

#[test]
fn more_diverse_shrinks_to_a_uniform_base_on_three_outcomes() -> Result<(), String> {
    let (inst, t) = least_at_every_seed(
        more_diverse_strategy,
        |(i, t): &(_, usize)| more_diverse_holds(i, *t),
        MORE_DIVERSE,
    )?;
    let bar = inst.reward[t % inst.reward.len()];
    let cond = condition_on_threshold(&inst.base, &inst.reward, bar).map_err(|e| e.to_string())?;
    let tilt =
        reward_target(&inst.base, &inst.reward, cond.expected_reward).map_err(|e| e.to_string())?;
    let (h_cond, h_tilt) = (entropy(&cond.policy), entropy(&tilt.solution.policy));
    assert!(h_tilt > h_cond + 1e-3, "{h_tilt} vs {h_cond}");
    insta::assert_snapshot!(format!(
        "{inst:?} threshold={bar} E[r]={:.9} H(conditioned)={h_cond:.9} H(tilt)={h_tilt:.9}",
        cond.expected_reward
    ));
    Ok(())
}
