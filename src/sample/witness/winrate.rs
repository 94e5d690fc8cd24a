//! Witness of `bon.winrate-optimal` (part 1, the win rate is `E_pi[w]`): Monte Carlo best-of-N
//! duels against fresh base samples, scored 1 for a win, 1/2 for a tie, 0 for a loss, against
//! the exact `W(P_N) = sum_x P_N(x) w(x)` with the mid-rank `w` of [`win_values`].

use super::{outcome, seeded_rng};
use crate::claims::WitnessOutcome;
use crate::error::Result;
use crate::sample::best_of_n::draw_best_of_n;
use crate::sample::DistSampler;
use crate::solve::{best_of_n, win_values};
use crate::stats::{bernstein_sample_size, bernstein_test, CONTROL_MISS, FALSE_ALARM_RATE};

/// `N` of the win-rate witness.
pub const WINRATE_N: u64 = 4;

/// Monte Carlo best-of-`N` (`N = 4`, [`draw_best_of_n`]) against a fresh `pi0` draw per round on
/// [`super::laws::problem`] (a tie class at the top, so ties are scored), the mean score against
/// the exact `W(P_N) = E_{P_N}[w]` (from the exact law and [`win_values`], not from the
/// solver's own win-rate sum).
///
/// Test: Bernstein's at `FALSE_ALARM_RATE = 1e-6`: the score lies in `[0, 1]`, so under the null
/// mean `mu` its range around `mu` is at most `max(mu, 1 - mu)` and its variance at most
/// `mu (1 - mu)` (Bhatia-Davis): the false-alarm rate is an exact bound. Negative control: the
/// same mean against `W(P_{N+1})`; the number of rounds is [`bernstein_sample_size`]'s, so the
/// control is rejected with probability at least `1 - 3e-7`.
pub fn monte_carlo_win_rate(seed: u64) -> Result<WitnessOutcome> {
    let (base, reward) = super::laws::problem()?;
    let w = win_values(&base, &reward)?;
    let exact = |n: u64| -> Result<f64> {
        best_of_n(&base, &reward, n)?
            .solution
            .policy
            .expectation(&w)
    };
    let (null, wrong) = (exact(WINRATE_N)?, exact(WINRATE_N + 1)?);
    let radius = null.max(1.0 - null);
    let variance = (null * (1.0 - null)).max(0.0);
    let rounds = bernstein_sample_size(
        null - wrong,
        variance,
        radius,
        FALSE_ALARM_RATE,
        CONTROL_MISS,
    )?;
    let sampler = DistSampler::new(&base)?;
    let mut rng = seeded_rng(seed);
    let mut total = 0.0;
    for _ in 0..rounds {
        let y = reward[draw_best_of_n(&sampler, &reward, WINRATE_N, &mut rng)?];
        let x = reward[sampler.draw(&mut rng)];
        total += if y > x {
            1.0
        } else if y == x {
            0.5
        } else {
            0.0
        };
    }
    let mean = total / rounds as f64;
    let test = |m: f64| bernstein_test(mean, m, variance, radius, rounds);
    Ok(outcome(
        format!("monte carlo best-of-{WINRATE_N} duels against the base"),
        &test(null)?,
        FALSE_ALARM_RATE,
        FALSE_ALARM_RATE,
        &[test(wrong)?],
    ))
}
