//! Sampled witnesses: each runs one sampled algorithm of [`crate::sample`] with a seeded RNG on a
//! fixed instance, tests its output against the exact solver at a stated false-alarm rate, and
//! runs the same test against a wrong target (the negative control: beta x 1.1, N +- 1, q x 1.1,
//! the bar moved, the KL reversed, ...), which must be rejected.
//!
//! Every witness returns a [`WitnessOutcome`]: `passed` says the test against the exact answer
//! did not reject (at a level that, together with any coupling budget the witness states, makes
//! the false-alarm rate at most `false_alarm_rate`), `control_rejected` that the same statistic
//! rejected every wrong target. The sample size of each witness comes from a power calculation
//! in [`crate::stats`], so that a correct sampler rejects the control except with probability at
//! most [`CONTROL_MISS`] (split evenly when there are several wrong targets). The same seed
//! gives the same outcome on every platform.
//!
//! The claim registry maps claims to these witnesses in [`crate::claims::witnesses`].

use super::seeded_rng;
use crate::claims::WitnessOutcome;
use crate::dist::Dist;
use crate::error::{Error, Result};
use crate::stats::{
    chi_square_gof, chi_square_sample_size, histogram, TestResult, CONTROL_MISS, MAX_SAMPLE_SIZE,
};
use rand_chacha::ChaCha20Rng;

pub mod displacement;
pub mod kl_gradient;
pub mod laws;
pub mod means;
pub mod soft;
pub mod tilt;

/// A [`WitnessOutcome`] from the test against the exact answer (`main`, run at `level`) and the
/// same test against each wrong target (`controls`, at the same level).
fn outcome(
    name: String,
    main: &TestResult,
    level: f64,
    false_alarm_rate: f64,
    controls: &[TestResult],
) -> WitnessOutcome {
    WitnessOutcome {
        name,
        statistic: main.statistic,
        p_value: main.p_value,
        false_alarm_rate,
        passed: !main.rejects(level),
        control_rejected: !controls.is_empty() && controls.iter().all(|c| c.rejects(level)),
    }
}

/// The RNG of stream `stream` of `seed`: independent of the other streams of the same seed.
fn stream_rng(seed: u64, stream: u64) -> ChaCha20Rng {
    let mut rng = seeded_rng(seed);
    rng.set_stream(stream);
    rng
}

/// The number of draws at which Pearson's test of draws from `exact` rejects every one of
/// `wrongs` at `level` except with total probability [`CONTROL_MISS`] (each wrong target gets an
/// equal share; [`chi_square_sample_size`]), raised if needed so that every outcome of `exact`'s
/// support has an expected count of at least [`MIN_WITNESS_EXPECTED`].
fn chi_square_draws(exact: &Dist, wrongs: &[Dist], level: f64) -> Result<usize> {
    let miss = CONTROL_MISS / wrongs.len().max(1) as f64;
    let smallest = exact.support().map(|x| exact.prob(x)).fold(1.0, f64::min);
    let floor = (MIN_WITNESS_EXPECTED / smallest).ceil();
    if !(floor <= MAX_SAMPLE_SIZE) {
        return Err(Error::InvalidInput(format!(
            "an outcome of probability {smallest:e} needs {floor:e} draws"
        )));
    }
    let mut m = floor as u64;
    for wrong in wrongs {
        m = m.max(chi_square_sample_size(
            exact.probs(),
            wrong.probs(),
            level,
            miss,
        )?);
    }
    usize::try_from(m).map_err(|e| Error::InvalidInput(e.to_string()))
}

/// Counts of `m` draws of `draw` over `0..n`.
fn draw_counts(m: usize, n: usize, mut draw: impl FnMut() -> Result<usize>) -> Result<Vec<u64>> {
    let mut draws = Vec::with_capacity(m);
    for _ in 0..m {
        draws.push(draw()?);
    }
    Ok(histogram(draws, n))
}

/// The smallest expected count under the null that a chi-square witness accepts (`100`): the
/// chi-square approximation behind the stated false-alarm rate is trusted only with expected
/// counts of that size, so the chi-square witnesses draw at least `100 / min pi` samples
/// (in `chi_square_draws`).
pub const MIN_WITNESS_EXPECTED: f64 = 100.0;

/// Pearson's test of `counts` against `exact` and against each of `wrongs`, at `level`.
fn chi_square_witness(
    name: String,
    counts: &[u64],
    exact: &Dist,
    wrongs: &[Dist],
    level: f64,
    false_alarm_rate: f64,
) -> Result<WitnessOutcome> {
    let main = chi_square_gof(counts, exact.probs())?;
    let controls = wrongs
        .iter()
        .map(|w| chi_square_gof(counts, w.probs()))
        .collect::<Result<Vec<_>>>()?;
    Ok(outcome(name, &main, level, false_alarm_rate, &controls))
}
pub mod grpo;
pub mod winrate;
