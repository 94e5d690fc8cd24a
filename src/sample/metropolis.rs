//! Metropolis-Hastings with independence proposals from the base: a sampled witness for the
//! tilt `pi_beta = pi0 exp(r/beta) / Z` ([`mod@crate::solve::tilt`]).
//!
//! # The chain
//!
//! From the state `x`, propose `y ~ pi0` (independently of `x`) and accept it with probability
//!
//! ```text
//! a(x, y) = min(1, [pi_beta(y) pi0(x)] / [pi_beta(x) pi0(y)]) = min(1, exp((r(y) - r(x))/beta)),
//! ```
//!
//! otherwise stay at `x`. The normalizer `Z` cancels, so the chain needs only rewards. It satisfies
//! detailed balance with respect to `pi_beta`, and the initial state is drawn from `pi0`, so it
//! never leaves `supp pi0` (outcomes of base probability zero are never visited).
//!
//! # How fast draws decorrelate
//!
//! Let `w(x) = pi_beta(x)/pi0(x)` and `w* = max w`, attained at the reward's maximizer on the
//! support. For every state `x` and target `y`, `P(x, y) >= pi0(y) min(1, w(y)/w(x)) >=
//! pi_beta(y)/w*`, so the kernel splits as `P = eps pi_beta + (1 - eps) R` with
//!
//! ```text
//! eps = 1/w* = E_pi0[exp((r - r*)/beta)] in (0, 1],      r* = max r on supp pi0,
//! ```
//!
//! (see [`regeneration_probability`]) and, when `eps < 1`, `R` a Markov kernel that also leaves
//! `pi_beta` invariant (because `pi_beta P = pi_beta`; when `eps = 1`, `P = pi_beta` outright). Simulating `P` as "with probability `eps` draw a
//! fresh state from `pi_beta`, otherwise move by `R`" (Nummelin's splitting; the uniform
//! ergodicity bound of Mengersen and Tweedie, 1996) shows: if each of `m` blocks of `k` steps
//! contains at least one fresh draw, the states at the block ends are exactly i.i.d. `pi_beta`.
//! The probability that some block has none is at most `m (1 - eps)^k`. [`thinning_for_coupling`]
//! picks the smallest `k` that makes this at most a given `delta`, so a test of level `alpha` on
//! the thinned draws has false-alarm rate at most `alpha + delta`.

use super::{seeded_rng, DistSampler};
use crate::dist::{check_reward, Dist};
use crate::error::{require_positive, Error, Result};
use crate::stats::histogram;
use rand::Rng;

/// Run length of a Metropolis-Hastings chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetropolisConfig {
    /// Number of recorded states `m >= 1`.
    pub samples: usize,
    /// Steps discarded before the first recorded block.
    pub burn_in: usize,
    /// Steps between recorded states, `k >= 1` (`1` records every state).
    pub thin: usize,
}

/// The recorded states of one chain.
#[derive(Debug, Clone, PartialEq)]
pub struct MetropolisRun {
    /// Recorded states (outcome indices), in chain order: the states after steps
    /// `burn_in + k, burn_in + 2k, .., burn_in + m k`.
    pub samples: Vec<usize>,
    /// Accepted proposals divided by all proposals, over the whole run including burn-in.
    pub acceptance_rate: f64,
    /// Number of outcomes `n` (the length of the base).
    pub outcomes: usize,
}

impl MetropolisRun {
    /// How often each outcome `0..n` was recorded.
    pub fn counts(&self) -> Vec<u64> {
        histogram(self.samples.iter().copied(), self.outcomes)
    }
}

/// Runs the independence sampler for the tilt of `base` by `reward` at `beta`, seeded by `seed`.
///
/// Assumptions: `reward` finite with the length of `base`, `0 < beta < inf`,
/// `config.samples >= 1`, `config.thin >= 1`. Cost: `burn_in + samples * thin` steps, each one
/// `O(log n)` draw from the base and one uniform draw. The same seed gives the same run.
///
/// ```
/// use rlhf_claims::{Dist, sample::metropolis::{metropolis_tilt, MetropolisConfig}};
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let config = MetropolisConfig { samples: 1000, burn_in: 10, thin: 5 };
/// let run = metropolis_tilt(&base, &[0.0, 1.0], 1.0, config, 7)?;
/// let counts = run.counts();
/// assert_eq!(counts.iter().sum::<u64>(), 1000);
/// // pi_beta(1) = e/(1+e) = 0.731...: outcome 1 dominates.
/// assert!(counts[1] > counts[0]);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn metropolis_tilt(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    config: MetropolisConfig,
    seed: u64,
) -> Result<MetropolisRun> {
    check_reward(base, reward)?;
    require_positive("beta", beta)?;
    require_at_least_one("samples", config.samples)?;
    require_at_least_one("thin", config.thin)?;
    let steps = config
        .samples
        .checked_mul(config.thin)
        .and_then(|s| s.checked_add(config.burn_in))
        .ok_or_else(|| Error::InvalidInput("burn_in + samples * thin overflows usize".into()))?;
    let proposal = DistSampler::new(base)?;
    let mut rng = seeded_rng(seed);
    let mut state = proposal.draw(&mut rng);
    let mut accepted = 0u64;
    let mut samples = Vec::new();
    samples
        .try_reserve_exact(config.samples)
        .map_err(|e| Error::InvalidInput(format!("cannot hold {} samples: {e}", config.samples)))?;
    for step in 1..=steps {
        let candidate = proposal.draw(&mut rng);
        // (r(y) - r(x))/beta is never NaN: the difference of finite numbers is finite or
        // +-inf, and u < exp(+inf) = inf always accepts, u < exp(-inf) = 0 never does.
        let log_ratio = (reward[candidate] - reward[state]) / beta;
        let u: f64 = rng.gen();
        if u < log_ratio.exp() {
            state = candidate;
            accepted += 1;
        }
        if step > config.burn_in && (step - config.burn_in).is_multiple_of(config.thin) {
            samples.push(state);
        }
    }
    Ok(MetropolisRun {
        samples,
        acceptance_rate: accepted as f64 / steps as f64,
        outcomes: base.len(),
    })
}

/// The regeneration probability `eps = E_pi0[exp((r - r*)/beta)] = Z e^{-r*/beta}`, with `r*`
/// the maximum of `r` on `supp pi0`: the largest `eps` with `P(x, .) >= eps pi_beta` for every
/// state `x` of the independence sampler (module docs). `eps = 1` iff the reward is constant on
/// the support (the proposal is then the target and every proposal is accepted).
///
/// Assumptions as for [`metropolis_tilt`]. `eps >= pi0(argmax r) > 0`, except that the sum may
/// underflow when that base probability is subnormal.
pub fn regeneration_probability(base: &Dist, reward: &[f64], beta: f64) -> Result<f64> {
    check_reward(base, reward)?;
    require_positive("beta", beta)?;
    let r_max = base
        .support()
        .map(|i| reward[i])
        .fold(f64::NEG_INFINITY, f64::max);
    let eps = crate::numeric::sum(
        base.support()
            .map(|i| (base.log_prob(i) + (reward[i] - r_max) / beta).exp()),
    );
    Ok(eps.min(1.0))
}

/// The smallest thinning `k >= 1` with `m (1 - eps)^k <= delta`: with it, `m` recorded states
/// of the chain coincide with `m` i.i.d. draws from `pi_beta` except on an event of probability
/// at most `delta` (module docs), where `eps` is the [`regeneration_probability`] and `m` the
/// number of recorded states.
///
/// Errors: `m = 0`, `delta` not in `(0, 1)`, or `eps` so small that `k` exceeds `usize::MAX`
/// ([`Error::Infeasible`]).
///
/// ```
/// use rlhf_claims::{Dist, sample::metropolis::thinning_for_coupling};
/// // eps = (1 + e^-1)/2 = 0.684: k = ceil(ln(1e6 / 1e-6) / -ln(1 - eps)) = ceil(23.99) = 24.
/// let base = Dist::new(vec![0.5, 0.5])?;
/// assert_eq!(thinning_for_coupling(&base, &[0.0, 1.0], 1.0, 1_000_000, 1e-6)?, 24);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn thinning_for_coupling(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    samples: usize,
    delta: f64,
) -> Result<usize> {
    require_at_least_one("samples", samples)?;
    if !(delta > 0.0 && delta < 1.0) {
        return Err(Error::InvalidParameter {
            name: "delta",
            value: delta,
            requirement: "in (0, 1)",
        });
    }
    let eps = regeneration_probability(base, reward, beta)?;
    if eps >= 1.0 {
        return Ok(1);
    }
    // -ln(1 - eps) by ln_1p keeps full accuracy when eps is tiny.
    let per_step = -(-eps).ln_1p();
    let k = ((samples as f64 / delta).ln() / per_step).ceil().max(1.0);
    if !(k.is_finite() && k < usize::MAX as f64) {
        return Err(Error::Infeasible(format!(
            "regeneration probability {eps:e} is too small for a thinning that fits in usize"
        )));
    }
    Ok(k as usize)
}

/// `Ok(value)` if `value >= 1`.
fn require_at_least_one(name: &'static str, value: usize) -> Result<usize> {
    if value >= 1 {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value: value as f64,
            requirement: "at least 1",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run recording `samples` consecutive states from the first step on.
    fn every_state(samples: usize) -> MetropolisConfig {
        MetropolisConfig {
            samples,
            burn_in: 0,
            thin: 1,
        }
    }

    /// The acceptance rate is the fraction of accepted proposals: exactly 1 for a constant
    /// reward (`u < e^0` for every uniform `u` in `[0, 1)`), and for a reward that makes every
    /// move to the second outcome impossible, the fraction of proposals of the first, within
    /// 6 binomial standard deviations of `1/2` (false alarm below `2e-9`). (The rate formed as
    /// `accepted % steps` passed every other test.)
    #[test]
    fn the_acceptance_rate_is_the_accepted_fraction() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let config = every_state(10_000);
        let flat = metropolis_tilt(&base, &[2.0, 2.0], 1.0, config, 3)?;
        assert_eq!(flat.acceptance_rate, 1.0);
        let wall = metropolis_tilt(&base, &[0.0, -1e300], 1.0, config, 3)?;
        let sd = (0.25f64 / 10_000.0).sqrt();
        assert!(
            (wall.acceptance_rate - 0.5).abs() <= 6.0 * sd,
            "rate {}",
            wall.acceptance_rate
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_parameters() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let ok = every_state(10);
        let zero_thin = MetropolisConfig { thin: 0, ..ok };
        let zero_samples = MetropolisConfig { samples: 0, ..ok };
        assert!(metropolis_tilt(&base, &[0.0, 1.0], 1.0, zero_thin, 1).is_err());
        assert!(metropolis_tilt(&base, &[0.0, 1.0], 1.0, zero_samples, 1).is_err());
        assert!(metropolis_tilt(&base, &[0.0, 1.0], 0.0, ok, 1).is_err());
        assert!(metropolis_tilt(&base, &[0.0], 1.0, ok, 1).is_err());
        assert!(thinning_for_coupling(&base, &[0.0, 1.0], 1.0, 10, 0.0).is_err());
        // More samples than memory can hold: an error, not an allocation panic.
        let huge = MetropolisConfig {
            samples: usize::MAX / 2,
            ..ok
        };
        assert!(matches!(
            metropolis_tilt(&base, &[0.0, 1.0], 1.0, huge, 1),
            Err(Error::InvalidInput(_))
        ));
        Ok(())
    }

    #[test]
    fn regeneration_probability_is_one_over_max_density_ratio() -> Result<()> {
        // pi_beta = (1, e)/(1 + e) on a uniform base: w* = 2e/(1 + e), eps = (1 + e)/(2e).
        let base = Dist::new(vec![0.5, 0.5])?;
        let e = std::f64::consts::E;
        let eps = regeneration_probability(&base, &[0.0, 1.0], 1.0)?;
        assert!((eps - (1.0 + e) / (2.0 * e)).abs() < 4.0 * f64::EPSILON);
        // At beta = 2 (where dividing and multiplying by beta differ): eps = (e^{-1/2} + 1)/2.
        let eps = regeneration_probability(&base, &[0.0, 1.0], 2.0)?;
        assert!((eps - ((-0.5f64).exp() + 1.0) / 2.0).abs() < 4.0 * f64::EPSILON);
        // Constant reward on the support (off-support reward ignored): eps = 1, k = 1.
        let base = Dist::new(vec![0.5, 0.0, 0.5])?;
        assert_eq!(regeneration_probability(&base, &[3.0, 9.0, 3.0], 1.0)?, 1.0);
        assert_eq!(
            thinning_for_coupling(&base, &[3.0, 9.0, 3.0], 1.0, 5, 1e-6)?,
            1
        );
        Ok(())
    }

    #[test]
    fn extreme_rewards_neither_panic_nor_leave_the_support() -> Result<()> {
        let base = Dist::new(vec![0.25, 0.0, 0.75])?;
        let config = MetropolisConfig {
            samples: 200,
            burn_in: 0,
            thin: 1,
        };
        let run = metropolis_tilt(&base, &[-1e308, 1e308, 1e308], 1e-300, config, 3)?;
        let counts = run.counts();
        assert_eq!(counts[1], 0);
        // Once at outcome 2 (the support's argmax) the chain never leaves it: the first
        // proposal of outcome 2 is accepted and every later move away has ratio exp(-inf) = 0.
        assert_eq!(run.samples.last(), Some(&2));
        Ok(())
    }
}
