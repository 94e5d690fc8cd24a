//! Witness of the exact law of soft best-of-N (claim `bon.soft`): Monte Carlo soft best-of-N
//! ([`crate::sample::soft_best_of_n`]) tested by Pearson's chi-square against the exact solver
//! [`soft_best_of_n()`] and against the exact laws at `N - 1` and `N + 1`.
//!
//! The draws are exactly i.i.d. from the sampler's law, so the test runs at the whole
//! false-alarm rate `FALSE_ALARM_RATE = 1e-6` (up to the chi-square approximation: every
//! expected count is at least [`super::MIN_WITNESS_EXPECTED`]` = 100`).

use super::laws::problem;
use super::{chi_square_draws, chi_square_witness, draw_counts};
use crate::claims::WitnessOutcome;
use crate::error::Result;
use crate::sample::soft_best_of_n::draw_soft_best_of_n;
use crate::sample::{seeded_rng, DistSampler};
use crate::solve::soft_best_of_n;
use crate::stats::FALSE_ALARM_RATE;

/// `N` of the soft best-of-N witness.
pub const SOFT_N: u64 = 4;

/// The selection temperature of the witness.
pub const SOFT_TEMPERATURE: f64 = 1.0;

/// Monte Carlo soft best-of-4 at temperature 1 on [`problem`] (a tie class at the top and a
/// zero-mass outcome with the highest reward, which must never be drawn) against the exact law.
///
/// False-alarm rate `FALSE_ALARM_RATE = 1e-6` (i.i.d. draws). Negative control: the same counts
/// against the exact laws at `N = 3` and `N = 5`, each rejected with probability at least
/// `1 - 1.5e-7` by the power calculation.
pub fn monte_carlo_soft_best_of_n(seed: u64) -> Result<WitnessOutcome> {
    let (base, reward) = problem()?;
    let law = |n: u64| -> Result<crate::Dist> {
        Ok(soft_best_of_n(&base, &reward, n, SOFT_TEMPERATURE)?
            .solution
            .policy)
    };
    let exact = law(SOFT_N)?;
    let wrongs = [law(SOFT_N - 1)?, law(SOFT_N + 1)?];
    let m = chi_square_draws(&exact, &wrongs, FALSE_ALARM_RATE)?;
    let sampler = DistSampler::new(&base)?;
    let mut rng = seeded_rng(seed);
    let counts = draw_counts(m, base.len(), || {
        draw_soft_best_of_n(&sampler, &reward, SOFT_N, SOFT_TEMPERATURE, &mut rng)
    })?;
    chi_square_witness(
        format!("monte carlo soft best-of-{SOFT_N} at temperature {SOFT_TEMPERATURE}"),
        &counts,
        &exact,
        &wrongs,
        FALSE_ALARM_RATE,
        FALSE_ALARM_RATE,
    )
}
