//! Sampled witnesses against the exact solvers: Monte Carlo best-of-N, the rejection-sampled
//! quantilizer, and rejection sampling for conditioning. Each comparison is Pearson's
//! chi-square goodness-of-fit test at the false-alarm rate `FALSE_ALARM_RATE = 1e-6` (a correct
//! sampler fails it with probability 1e-6; the seeds are fixed, so the outcome is deterministic),
//! and each has a negative control: the same counts must be rejected against a slightly wrong
//! target (N off by one, q off by 10%, the bar moved to the next reward level).

use rlhf_claims::sample::best_of_n::draw_best_of_n;
use rlhf_claims::sample::quantilizer::QuantilizerSampler;
use rlhf_claims::sample::rejection::draw_conditioned;
use rlhf_claims::sample::{seeded_rng, DistSampler};
use rlhf_claims::solve::{best_of_n, condition_on_threshold, quantilize};
use rlhf_claims::stats::{chi_square_gof, histogram, FALSE_ALARM_RATE};
use rlhf_claims::{Dist, Result};

const DRAWS: usize = 100_000;
const MAX_TRIES: u64 = 10_000;

/// Five outcomes with a tie class {1, 3} and a zero-mass outcome 4 (which has the top reward, so
/// it must never be drawn).
fn problem() -> Result<(Dist, Vec<f64>)> {
    Ok((
        Dist::new(vec![0.3, 0.2, 0.25, 0.25, 0.0])?,
        vec![0.0, 2.0, 1.0, 2.0, 9.0],
    ))
}

fn counts(draw: impl FnMut() -> Result<usize>, n: usize) -> Result<Vec<u64>> {
    let xs: Result<Vec<usize>> = std::iter::repeat_with(draw).take(DRAWS).collect();
    Ok(histogram(xs?, n))
}

#[test]
fn monte_carlo_best_of_n_matches_the_exact_law_and_rejects_n_off_by_one() -> Result<()> {
    let (base, reward) = problem()?;
    let sampler = DistSampler::new(&base)?;
    let mut rng = seeded_rng(11);
    let c = counts(
        || draw_best_of_n(&sampler, &reward, 4, &mut rng),
        base.len(),
    )?;
    let exact = best_of_n(&base, &reward, 4)?;
    let fit = chi_square_gof(&c, exact.solution.policy.probs())?;
    assert!(!fit.rejects(FALSE_ALARM_RATE), "{fit:?}");
    for wrong_n in [3, 5] {
        let wrong = best_of_n(&base, &reward, wrong_n)?;
        let control = chi_square_gof(&c, wrong.solution.policy.probs())?;
        assert!(
            control.rejects(FALSE_ALARM_RATE),
            "N = {wrong_n}: {control:?}"
        );
    }
    Ok(())
}

#[test]
fn rejection_quantilizer_matches_the_exact_law_and_rejects_q_off_by_ten_percent() -> Result<()> {
    let (base, reward) = problem()?;
    // q = 0.6 keeps the tie class {1, 3} (mass 0.45) and splits the class {2} (0.15 of 0.25).
    let q = 0.6;
    let sampler = QuantilizerSampler::new(&base, &reward, q)?;
    let mut rng = seeded_rng(12);
    let c = counts(|| sampler.draw(&mut rng, MAX_TRIES), base.len())?;
    let exact = quantilize(&base, &reward, q)?;
    let fit = chi_square_gof(&c, exact.solution.policy.probs())?;
    assert!(!fit.rejects(FALSE_ALARM_RATE), "{fit:?}");
    let wrong = quantilize(&base, &reward, q * 1.1)?;
    let control = chi_square_gof(&c, wrong.solution.policy.probs())?;
    assert!(control.rejects(FALSE_ALARM_RATE), "{control:?}");
    Ok(())
}

#[test]
fn rejection_sampling_matches_conditioning_and_rejects_a_moved_bar() -> Result<()> {
    let (base, reward) = problem()?;
    let sampler = DistSampler::new(&base)?;
    let mut rng = seeded_rng(13);
    let c = counts(
        || draw_conditioned(&sampler, &reward, 1.0, &mut rng, MAX_TRIES),
        base.len(),
    )?;
    let exact = condition_on_threshold(&base, &reward, 1.0)?;
    let fit = chi_square_gof(&c, exact.policy.probs())?;
    assert!(!fit.rejects(FALSE_ALARM_RATE), "{fit:?}");
    let wrong = condition_on_threshold(&base, &reward, 0.0)?;
    let control = chi_square_gof(&c, wrong.policy.probs())?;
    assert!(control.rejects(FALSE_ALARM_RATE), "{control:?}");
    Ok(())
}
