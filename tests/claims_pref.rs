//! The `pref` and `estimator` families: every claim passes its check, and the refuted claim's
//! least counterexample (see `claims::minimal`) and the clamp model's minimal instance are
//! snapshotted.

use rlhf_claims::claims::estimator::{clamp_search_strategy, clamp_unbiased};
use rlhf_claims::claims::minimal::{minimal_counterexample, PRETRAIN_MIX};
use rlhf_claims::claims::pref::{pretrain_mix_holds, pretrain_mix_strategy, MixInstance};
use rlhf_claims::claims::runner::shrunk_counterexample;
use rlhf_claims::claims::strategy::Instance;
use rlhf_claims::claims::{self, CheckConfig};
use rlhf_claims::Dist;

#[test]
fn every_pref_and_estimator_claim_passes() {
    let config = CheckConfig::new(128, 1);
    let mut seen = 0;
    for c in claims::all() {
        if c.family() == "pref" || c.family() == "estimator" {
            let v = c.run(&config);
            assert!(v.passed, "{}: {v:?}", c.id);
            seen += 1;
        }
    }
    assert_eq!(seen, 19);
}

#[test]
fn pretrain_mix_least_counterexample_has_three_distinct_rewards() {
    let least = |seed| {
        minimal_counterexample(
            &CheckConfig::new(256, seed),
            pretrain_mix_strategy(),
            pretrain_mix_holds,
            PRETRAIN_MIX,
        )
        .expect("the property runs")
    };
    let search = least(0);
    assert!(search.minimal);
    for seed in [5, 11, 17] {
        assert_eq!(least(seed).found, search.found, "seed {seed}");
    }
    let found = search.found.expect("a counterexample exists");
    let inst = &found.instance;
    let mut values: Vec<f64> = inst.base.support().map(|x| inst.reward[x]).collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    assert_eq!(values.len(), 3, "{found:?}");
    assert_eq!(pretrain_mix_holds(&found), Ok(false));
    insta::assert_snapshot!("pretrain_mix_counterexample", format!("{found:?}"));
}

#[test]
fn pretrain_mix_is_a_tilt_with_two_reward_values() {
    // Two outcomes, and four outcomes with only two reward values: always a tilt.
    for (base, reward) in [
        (vec![0.3, 0.7], vec![1.0, -2.0]),
        (vec![0.1, 0.2, 0.3, 0.4], vec![0.0, 5.0, 0.0, 5.0]),
        (vec![1e-200, 1.0 - 1e-200], vec![3.0, 0.0]),
    ] {
        for gamma in [0.01, 1.0, 100.0] {
            let m = MixInstance {
                instance: Instance {
                    base: Dist::new(base.clone()).expect("base"),
                    reward: reward.clone(),
                },
                gamma,
            };
            assert_eq!(pretrain_mix_holds(&m), Ok(true), "{m:?}");
        }
    }
}

#[test]
fn clamp_minimal_instance_has_two_outcomes() {
    let found = shrunk_counterexample(
        &CheckConfig::new(1024, 0),
        clamp_search_strategy(),
        clamp_unbiased,
    )
    .expect("the property runs")
    .expect("a biased instance exists");
    assert_eq!(found.base.len(), 2);
    insta::assert_snapshot!("clamp_minimal_instance", format!("{found:?}"));
}
