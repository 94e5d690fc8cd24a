//! Witnesses of the exact laws of best-of-N, the quantilizer and conditioning (claims
//! `bon.exact`, `quantilizer.kl`, `lagrange.threshold`): each sampler's draws are tested by
//! Pearson's chi-square against the exact solver's law and against wrong laws.
//!
//! The draws are exactly i.i.d. from the sampler's law (no chain, no optimization), so each test
//! runs at the whole false-alarm rate `FALSE_ALARM_RATE = 1e-6` (up to the chi-square
//! approximation: every expected count is at least
//! [`super::MIN_WITNESS_EXPECTED`]` = 100`).

use super::{chi_square_draws, chi_square_witness, draw_counts};
use crate::claims::WitnessOutcome;
use crate::dist::Dist;
use crate::error::Result;
use crate::sample::best_of_n::draw_best_of_n;
use crate::sample::quantilizer::QuantilizerSampler;
use crate::sample::rejection::draw_conditioned;
use crate::sample::{seeded_rng, DistSampler};
use crate::solve::{best_of_n, condition_on_threshold, quantilize};
use crate::stats::FALSE_ALARM_RATE;

/// Proposals a rejection sampler may try per draw before giving up: on [`problem`] the
/// acceptance rate is `q = 0.6` for the quantilizer and `pi0(r >= 1) = 0.7` for conditioning, so
/// giving up has probability below `0.4^10000`.
const MAX_TRIES: u64 = 10_000;

/// Five outcomes, base `(0.3, 0.2, 0.25, 0.25, 0)`, rewards `(0, 2, 1, 2, 9)`: a tie class
/// `{1, 3}` at the top of the support, and a zero-mass outcome 4 with the highest reward (it must
/// never be drawn).
pub fn problem() -> Result<(Dist, Vec<f64>)> {
    Ok((
        Dist::new(vec![0.3, 0.2, 0.25, 0.25, 0.0])?,
        vec![0.0, 2.0, 1.0, 2.0, 9.0],
    ))
}

/// `N` of the best-of-N witness.
pub const BEST_OF_N: u64 = 4;

/// Monte Carlo best-of-N ([`crate::sample::best_of_n`]: draw `N = 4` from `pi0`, keep one of
/// highest reward, ties broken uniformly) against the exact law [`best_of_n()`], on [`problem`].
///
/// False-alarm rate `FALSE_ALARM_RATE = 1e-6` (i.i.d. draws). Negative control: the same counts
/// against the exact laws at `N = 3` and `N = 5`, each rejected with probability at least
/// `1 - 1.5e-7` by the power calculation.
pub fn monte_carlo_best_of_n(seed: u64) -> Result<WitnessOutcome> {
    let (base, reward) = problem()?;
    let exact = best_of_n(&base, &reward, BEST_OF_N)?.solution.policy;
    let wrongs = [
        best_of_n(&base, &reward, BEST_OF_N - 1)?.solution.policy,
        best_of_n(&base, &reward, BEST_OF_N + 1)?.solution.policy,
    ];
    let m = chi_square_draws(&exact, &wrongs, FALSE_ALARM_RATE)?;
    let sampler = DistSampler::new(&base)?;
    let mut rng = seeded_rng(seed);
    let counts = draw_counts(m, base.len(), || {
        draw_best_of_n(&sampler, &reward, BEST_OF_N, &mut rng)
    })?;
    chi_square_witness(
        format!("monte carlo best-of-{BEST_OF_N}"),
        &counts,
        &exact,
        &wrongs,
        FALSE_ALARM_RATE,
        FALSE_ALARM_RATE,
    )
}

/// `q` of the quantilizer witness: keeps the tie class `{1, 3}` (mass 0.45) and splits the class
/// `{2}` (0.15 of its 0.25).
pub const QUANTILE: f64 = 0.6;

/// The rejection quantilizer ([`crate::sample::quantilizer`]: Taylor's procedure, a draw of
/// `pi0` placed uniformly in its tie class's interval of the reward ranking and kept when in the
/// top `q`) against the exact law [`quantilize()`], on [`problem`] with `q = 0.6`.
///
/// False-alarm rate `FALSE_ALARM_RATE = 1e-6` (i.i.d. draws). Negative control: the same counts
/// against the exact law at `1.1 q`, rejected with probability at least `1 - 3e-7` by the power
/// calculation.
pub fn rejection_quantilizer(seed: u64) -> Result<WitnessOutcome> {
    let (base, reward) = problem()?;
    let exact = quantilize(&base, &reward, QUANTILE)?.solution.policy;
    let wrongs = [quantilize(&base, &reward, 1.1 * QUANTILE)?.solution.policy];
    let m = chi_square_draws(&exact, &wrongs, FALSE_ALARM_RATE)?;
    let sampler = QuantilizerSampler::new(&base, &reward, QUANTILE)?;
    let mut rng = seeded_rng(seed);
    let counts = draw_counts(m, base.len(), || sampler.draw(&mut rng, MAX_TRIES))?;
    chi_square_witness(
        format!("rejection quantilizer at q = {QUANTILE}"),
        &counts,
        &exact,
        &wrongs,
        FALSE_ALARM_RATE,
        FALSE_ALARM_RATE,
    )
}

/// The bar of the conditioning witness, and the reward levels just below and above it.
pub const BAR: f64 = 1.0;
const BAR_BELOW: f64 = 0.0;
const BAR_ABOVE: f64 = 2.0;

/// Rejection sampling ([`crate::sample::rejection`]: draw `pi0` until `r >= t`) against the
/// exact conditional law [`condition_on_threshold`], on [`problem`] with the bar `t = 1`.
///
/// False-alarm rate `FALSE_ALARM_RATE = 1e-6` (i.i.d. draws). Negative control: the same counts
/// against the laws with the bar moved to the next reward level below (`t = 0`, the base itself)
/// and above (`t = 2`), each rejected with probability at least `1 - 1.5e-7` by the power
/// calculation.
pub fn rejection_conditioning(seed: u64) -> Result<WitnessOutcome> {
    let (base, reward) = problem()?;
    let exact = condition_on_threshold(&base, &reward, BAR)?.policy;
    let wrongs = [
        condition_on_threshold(&base, &reward, BAR_BELOW)?.policy,
        condition_on_threshold(&base, &reward, BAR_ABOVE)?.policy,
    ];
    let m = chi_square_draws(&exact, &wrongs, FALSE_ALARM_RATE)?;
    let sampler = DistSampler::new(&base)?;
    let mut rng = seeded_rng(seed);
    let counts = draw_counts(m, base.len(), || {
        draw_conditioned(&sampler, &reward, BAR, &mut rng, MAX_TRIES)
    })?;
    chi_square_witness(
        format!("rejection sampling above r = {BAR}"),
        &counts,
        &exact,
        &wrongs,
        FALSE_ALARM_RATE,
        FALSE_ALARM_RATE,
    )
}
