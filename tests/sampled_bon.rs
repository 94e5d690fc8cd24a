//! Sampled witnesses against the exact solvers: Monte Carlo best-of-N, the rejection-sampled
//! quantilizer, rejection sampling for conditioning (Pearson chi-square at the false-alarm rate
//! `FALSE_ALARM_RATE = 1e-6`; negative controls: N off by one, q off by 10%, the bar moved one
//! reward level), and the order-statistic estimator of best-of-N reward (Bernstein's test at
//! `1e-6`; control: the expected reward at N off by one). The tests are the library's
//! `sample::witness::{laws, means}`; here they run at several seeds.

use rlhf_claims::claims::WitnessOutcome;
use rlhf_claims::sample::witness::{laws, means};
use rlhf_claims::Result;

/// Asserts that `witness` passes and rejects its control at seeds `0..4`.
fn assert_witness(witness: fn(u64) -> Result<WitnessOutcome>) -> Result<()> {
    for seed in 0..4 {
        let o = witness(seed)?;
        eprintln!("seed {seed}: {o:?}");
        assert!(o.passed && o.control_rejected, "seed {seed}: {o:?}");
    }
    Ok(())
}

#[test]
fn monte_carlo_best_of_n_matches_the_exact_law_and_rejects_n_off_by_one() -> Result<()> {
    assert_witness(laws::monte_carlo_best_of_n)
}

#[test]
fn rejection_quantilizer_matches_the_exact_law_and_rejects_q_off_by_ten_percent() -> Result<()> {
    assert_witness(laws::rejection_quantilizer)
}

#[test]
fn rejection_sampling_matches_conditioning_and_rejects_a_moved_bar() -> Result<()> {
    assert_witness(laws::rejection_conditioning)
}

#[test]
fn order_statistic_estimator_is_unbiased_and_rejects_n_off_by_one() -> Result<()> {
    assert_witness(means::order_statistic)
}
