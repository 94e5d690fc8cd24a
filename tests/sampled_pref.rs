//! Sampled witnesses for the `pref` and `estimator` families: DPO by SGD against the tilt (a
//! Wald test of the averaged iterate at `1e-6`; control: the tilt at `1.1 beta`), and the Monte
//! Carlo means of the k1/k2/k3 KL estimators (Bernstein's test at `1e-6` each; control: the
//! reversed KL, or "k2 is unbiased"). The tests are the library's
//! `sample::witness::{tilt::dpo, means::kl_estimator}`; here they run at several seeds, with a
//! calibration test of the DPO witness, whose false-alarm rate is asymptotic.

use rlhf_claims::claims::WitnessOutcome;
use rlhf_claims::sample::dpo::DpoSgdConfig;
use rlhf_claims::sample::witness::means::kl_estimator;
use rlhf_claims::sample::witness::tilt::{dpo, dpo_config, dpo_with_config, DPO_MIN_STEPS};
use rlhf_claims::solve::kl_estimator::ESTIMATORS;
use rlhf_claims::stats::{uniformity_test, FALSE_ALARM_RATE};
use rlhf_claims::Result;

fn assert_ok(o: &WitnessOutcome, seed: u64) {
    eprintln!("seed {seed}: {o:?}");
    assert!(o.passed && o.control_rejected, "seed {seed}: {o:?}");
}

/// DPO by SGD converges to the tilt; the tilt at `1.1 beta` is rejected.
#[test]
fn dpo_sgd_converges_to_the_tilt_and_rejects_beta_off_by_ten_percent() -> Result<()> {
    for seed in 17..21 {
        assert_ok(&dpo(seed)?, seed);
    }
    Ok(())
}

/// Runs of the DPO calibration test.
const CALIBRATION_RUNS: u64 = 64;
/// Bins of its p-value histogram (expected count 8 each).
const CALIBRATION_BINS: usize = 8;

/// The p-values of the DPO witness's Wald test over `CALIBRATION_RUNS` independent runs of
/// `config(seed)`.
fn dpo_p_values(config: impl Fn(u64) -> DpoSgdConfig) -> Result<Vec<f64>> {
    (0..CALIBRATION_RUNS)
        .map(|seed| Ok(dpo_with_config(config(5000 + seed))?.p_value))
        .collect()
}

/// The DPO witness's false-alarm rate rests on the Wald statistic being chi-square, which is
/// asymptotic in the run length: over 64 independent runs of its schedule at `DPO_MIN_STEPS`,
/// the p-values are uniform (Pearson's test on 8 bins at `FALSE_ALARM_RATE`, false-alarm rate
/// `1e-6` up to the chi-square approximation with expected counts of 8). Negative control: the
/// default schedule (`alpha = 0.6`, whose averaged iterate keeps a bias of the order of its last
/// step) must give p-values the same test rejects.
#[test]
fn dpo_wald_test_is_calibrated_only_with_the_witness_schedule() -> Result<()> {
    let calibrated = uniformity_test(
        &dpo_p_values(|seed| dpo_config(DPO_MIN_STEPS, seed))?,
        CALIBRATION_BINS,
    )?;
    let biased = uniformity_test(
        &dpo_p_values(|seed| DpoSgdConfig {
            steps: DPO_MIN_STEPS,
            seed,
            ..DpoSgdConfig::default()
        })?,
        CALIBRATION_BINS,
    )?;
    eprintln!(
        "witness schedule: uniformity p = {:.4}; default schedule: p = {:.3e}",
        calibrated.p_value, biased.p_value
    );
    assert!(!calibrated.rejects(FALSE_ALARM_RATE), "{calibrated:?}");
    assert!(biased.rejects(FALSE_ALARM_RATE), "{biased:?}");
    Ok(())
}

/// Monte Carlo means of k1, k2, k3 against their claimed expectations.
#[test]
fn k_estimator_sample_means_match_exact_moments() -> Result<()> {
    for seed in 23..26 {
        for k in ESTIMATORS {
            assert_ok(&kl_estimator(k, seed)?, seed);
        }
    }
    Ok(())
}
