//! The two sampled witnesses of the tilt (Metropolis-Hastings with independence proposals, and
//! softmax policy gradient with a sampled KL penalty) against the exact solver `solve::tilt`, on
//! every instance of `TILT_INSTANCES` and several seeds. The tests themselves (Pearson
//! chi-square at `5e-7` plus a coupling budget of `5e-7`, false-alarm rate `1e-6`; the negative
//! control, the tilt at `1.1 beta`, rejected with probability at least `1 - 3e-7` by the power
//! calculation) are the library's `sample::witness::tilt::{metropolis, policy_gradient}`, which
//! `rlhf-claims check --witnesses` runs for claim `kl.tilt`; here they run at more seeds, with
//! a calibration test of the thinning rule they rely on.

use rlhf_claims::sample::metropolis::{metropolis_tilt, thinning_for_coupling, MetropolisConfig};
use rlhf_claims::sample::policy_gradient::{policy_gradient_tilt, PolicyGradientConfig};
use rlhf_claims::sample::witness::tilt::{
    metropolis, policy_gradient, TiltInstance, TILT_INSTANCES,
};
use rlhf_claims::solve::tilt;
use rlhf_claims::stats::{chi_square_gof, uniformity_test, FALSE_ALARM_RATE};
use rlhf_claims::{Dist, Error, Result};

/// Seeds of the witness runs.
const SEEDS: [u64; 3] = [1000, 1001, 1002];

/// Runs `witness` on every instance at every seed and asserts that it passes and rejects its
/// control.
fn assert_witness(
    witness: fn(&TiltInstance, u64) -> Result<rlhf_claims::claims::WitnessOutcome>,
) -> Result<()> {
    for seed in SEEDS {
        for inst in &TILT_INSTANCES {
            let o = witness(inst, seed)?;
            eprintln!("seed {seed}: {o:?}");
            assert!(o.passed, "seed {seed}: {o:?}");
            assert!(o.control_rejected, "seed {seed}: {o:?}");
        }
    }
    Ok(())
}

/// Metropolis-Hastings against the exact tilt; control: the tilt at `1.1 beta`.
#[test]
fn metropolis_matches_the_tilt_and_rejects_a_wrong_beta() -> Result<()> {
    assert_witness(metropolis)
}

/// Policy gradient against the exact tilt, directly (its stationarity certificate) and by draws
/// from the learned policy; control: the tilt at `1.1 beta`.
#[test]
fn policy_gradient_matches_the_tilt_and_rejects_a_wrong_beta() -> Result<()> {
    assert_witness(policy_gradient)
}

/// Both witnesses are deterministic for a seed and depend on it.
#[test]
fn witnesses_are_reproducible_from_their_seed() -> Result<()> {
    let inst = &TILT_INSTANCES[0];
    let base = Dist::new(inst.base.to_vec())?;
    let config = MetropolisConfig {
        samples: 200,
        burn_in: 5,
        thin: 3,
    };
    let mh = |seed| metropolis_tilt(&base, inst.reward, inst.beta, config, seed);
    assert_eq!(mh(5)?, mh(5)?);
    assert_ne!(mh(5)?.samples, mh(6)?.samples);
    let config = PolicyGradientConfig {
        iterations: 50,
        batch_size: 4,
        step_size: 0.5,
        decay: 0.01,
    };
    let pg = |seed| policy_gradient_tilt(&base, inst.reward, inst.beta, config, seed);
    assert_eq!(pg(5)?, pg(5)?);
    assert_ne!(pg(5)?.policy, pg(6)?.policy);
    assert_eq!(metropolis(inst, 5)?, metropolis(inst, 5)?);
    assert_ne!(metropolis(inst, 5)?, metropolis(inst, 6)?);
    Ok(())
}

/// Number of chains in the calibration test.
const CALIBRATION_RUNS: u64 = 100;
/// Recorded states per chain in the calibration test.
const CALIBRATION_SAMPLES: usize = 1000;
/// Bins of the p-value histogram in the calibration test (expected count 10 each).
const CALIBRATION_BINS: usize = 10;

/// p-values of the chi-square test of `CALIBRATION_RUNS` independent chains on `inst`, each
/// thinned by `thin`.
fn calibration_p_values(inst: &TiltInstance, thin: usize) -> Result<Vec<f64>> {
    let base = Dist::new(inst.base.to_vec())?;
    let exact = tilt(&base, inst.reward, inst.beta)?.solution.policy;
    let config = MetropolisConfig {
        samples: CALIBRATION_SAMPLES,
        burn_in: thin,
        thin,
    };
    (0..CALIBRATION_RUNS)
        .map(|seed| {
            let run = metropolis_tilt(&base, inst.reward, inst.beta, config, 7000 + seed)?;
            Ok(chi_square_gof(&run.counts(), exact.probs())?.p_value)
        })
        .collect()
}

/// Chi-square test that `p_values` are uniform on `[0, 1]`, on `CALIBRATION_BINS` equal bins.
fn uniformity(p_values: &[f64]) -> Result<rlhf_claims::stats::TestResult> {
    uniformity_test(p_values, CALIBRATION_BINS)
}

/// The thinning rule is what makes the Metropolis test calibrated: over 100 independent chains
/// on the instance with the slowest mixing (`rare-argmax`, acceptance 0.5), the p-values of the
/// chi-square test are uniform when the chains are thinned by `thinning_for_coupling`, and far
/// from uniform when every state is recorded (successive states repeat with probability about
/// 1/2, which inflates the statistic).
///
/// False-alarm rate at most `1e-6 + 1e-7`: the uniformity test runs at `FALSE_ALARM_RATE`; each
/// chain's coupling budget is `1e-9`, so all 100 chains are exactly i.i.d. draws except with
/// probability `1e-7`; the p-values of Pearson's test with expected counts above 150 are uniform
/// up to the chi-square approximation, a deviation a 100-run histogram cannot resolve.
/// Negative control: the same uniformity test on unthinned chains must reject.
#[test]
fn metropolis_test_is_calibrated_only_with_the_thinning_rule() -> Result<()> {
    let inst = TILT_INSTANCES
        .iter()
        .find(|i| i.name == "rare-argmax")
        .ok_or(Error::InvalidInput(
            "instance rare-argmax is missing".into(),
        ))?;
    let base = Dist::new(inst.base.to_vec())?;
    let thin = thinning_for_coupling(&base, inst.reward, inst.beta, CALIBRATION_SAMPLES, 1e-9)?;
    let thinned = uniformity(&calibration_p_values(inst, thin)?)?;
    let unthinned = uniformity(&calibration_p_values(inst, 1)?)?;
    eprintln!(
        "calibration (thin = {thin}): uniformity p = {:.4}; unthinned: p = {:.3e}",
        thinned.p_value, unthinned.p_value
    );
    assert!(
        !thinned.rejects(FALSE_ALARM_RATE),
        "thinned p-values not uniform"
    );
    assert!(
        unthinned.rejects(FALSE_ALARM_RATE),
        "unthinned p-values look uniform"
    );
    Ok(())
}
