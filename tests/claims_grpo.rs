//! The `grpo` family: every claim passes its check with its control rejected at several seeds,
//! the refuted claim's least counterexample is the same at every seed, and the sampled witness
//! passes and rejects the tilt.

use rlhf_claims::claims::grpo::{tilt_holds, tilt_strategy, TiltReading, TILT_SPACE};
use rlhf_claims::claims::minimal::minimal_counterexample;
use rlhf_claims::claims::{self, CheckConfig};

#[test]
fn every_grpo_claim_passes_and_rejects_its_control() {
    for seed in [0, 3, 11] {
        let config = CheckConfig::new(128, seed);
        let mut seen = 0;
        for c in claims::all().into_iter().filter(|c| c.family() == "grpo") {
            let v = c.run_with_witnesses(&config);
            assert!(v.passed, "{} at seed {seed}: {v:?}", c.id);
            assert!(
                v.control.as_ref().is_some_and(|o| o.rejected),
                "{}: {v:?}",
                c.id
            );
            seen += 1;
        }
        assert_eq!(seen, 3);
    }
}

#[test]
fn grpo_tilt_least_counterexample_is_two_outcomes() -> Result<(), String> {
    for seed in 0..3 {
        let search = minimal_counterexample(
            &CheckConfig::new(256, seed),
            tilt_strategy(),
            |c| tilt_holds(c, TiltReading::Tilt),
            TILT_SPACE,
        )?;
        assert!(search.minimal, "{search:?}");
        let (inst, beta) = search.found.ok_or("no counterexample")?;
        assert_eq!(inst.base.probs(), &[0.5, 0.5]);
        assert_eq!(inst.reward, vec![0.0, 1.0]);
        assert_eq!(beta, 1.0);
    }
    Ok(())
}
