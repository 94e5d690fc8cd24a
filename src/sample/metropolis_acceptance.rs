//! The acceptance rate of the independence sampler of [`crate::sample::metropolis`]: its exact
//! stationary value and how far a run's rate can stray from it.
//!
//! # The stationary rate
//!
//! From the state `x` a step accepts with probability
//!
//! ```text
//! a(x) = sum_y pi0(y) min(1, exp((r(y) - r(x))/beta))
//!      = pi0(r >= r(x)) + sum_{r(y) < r(x)} pi0(y) exp((r(y) - r(x))/beta),
//! ```
//!
//! and in stationarity the rate is `A = sum_x pi_beta(x) a(x)` ([`stationary_acceptance`]). Both
//! lie in `[eps, 1]`, with `eps` the [`regeneration_probability`]: `a(x) >= sum_y pi0(y) w(y)/w* =
//! eps` for `w = pi_beta/pi0` (module docs of [`crate::sample::metropolis`]).
//!
//! # Concentration of a run's rate
//!
//! Let `S` count the accepted proposals of `n` steps started anywhere (`x_0 ~ pi0` in
//! [`metropolis_tilt`](crate::sample::metropolis::metropolis_tilt)). Then for `0 < delta < 1`
//!
//! ```text
//! P(|S/n - A| > t) <= delta,   t = (c sqrt(n ln(2/delta)/2) + 2G)/n,   G = (1 - eps)/eps,
//! c = 1 + 2G,
//! ```
//!
//! ([`acceptance_radius`]). Proof. Write `S - nA = sum_{t=1}^n (A_t - a(x_{t-1})) + sum_{t=0}^{n-1}
//! h(x_t)`, with `A_t` the indicator that step `t` accepts and `h = a - A`, so `pi_beta h = 0` and
//! `|h| <= 1 - eps`. With the split `P = eps pi_beta + (1 - eps) R` of the kernel (`R` leaves
//! `pi_beta` invariant), `P^k h = (1 - eps)^k R^k h`, so `g = sum_{k>=0} P^k h` converges with
//! `|g| <= G` and solves Poisson's equation `g - Pg = h`. Hence `sum_{t=0}^{n-1} h(x_t) = g(x_0) -
//! Pg(x_{n-1}) + sum_{t=1}^{n-1} (g(x_t) - Pg(x_{t-1}))`, whose first two terms are at most `2G` in
//! size. The remaining terms, with the `A_t - a(x_{t-1})`, form a martingale whose increment at
//! step `t` lies, given the past, in an interval of length at most `1 + 2G = c`; the
//! Azuma-Hoeffding inequality bounds it by `s` except with probability `2 exp(-2 s^2/(n c^2))`,
//! which is `delta` at `s = c sqrt(n ln(2/delta)/2)`. So `|S - nA| <= s + 2G` except with
//! probability `delta`. (When `eps = 1`, `G = 0`: every proposal is accepted and `S = n`.)

use crate::dist::{check_reward, Dist};
use crate::error::{require_positive, Error, Result};
use crate::numeric::CompensatedSum;
use crate::sample::metropolis::regeneration_probability;
use crate::solve::tilt;

/// `A = sum_x pi_beta(x) a(x)`, the stationary acceptance rate of the independence sampler for
/// the tilt of `base` by `reward` at `beta` (module docs), in `O(n log n)`: the outcomes of the
/// support in increasing reward, with `sum_{r(y) < r(x)} pi0(y) exp((r(y) - r(x))/beta)` carried
/// from one reward to the next (each factor at most 1, so nothing overflows) and
/// `pi0(r >= r(x))` summed from the top.
///
/// Assumptions as for [`metropolis_tilt`](crate::sample::metropolis::metropolis_tilt): `reward`
/// finite with the length of `base`, `0 < beta < inf`.
///
/// ```
/// use rlhf_claims::{Dist, sample::metropolis_acceptance::stationary_acceptance};
/// // pi_beta = (1, e)/(1 + e); a(0) = 1, a(1) = 1/2 + e^-1/2.
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let e = 1f64.exp();
/// let want = (1.0 + e * (0.5 + 0.5 / e)) / (1.0 + e);
/// assert!((stationary_acceptance(&base, &[0.0, 1.0], 1.0)? - want).abs() < 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn stationary_acceptance(base: &Dist, reward: &[f64], beta: f64) -> Result<f64> {
    check_reward(base, reward)?;
    require_positive("beta", beta)?;
    let target = tilt(base, reward, beta)?.solution.policy;
    let mut order: Vec<usize> = base.support().collect();
    order.sort_by(|&x, &y| reward[x].total_cmp(&reward[y]));
    let classes: Vec<&[usize]> = order.chunk_by(|&x, &y| reward[x] == reward[y]).collect();
    let mass = |class: &[usize]| crate::numeric::sum(class.iter().map(|&x| base.prob(x)));
    let masses: Vec<f64> = classes.iter().map(|c| mass(c)).collect();
    // pi0(r >= r_k) for every class k, summed from the top.
    let mut at_or_above = vec![0.0; classes.len()];
    let mut top = CompensatedSum::new();
    for k in (0..classes.len()).rev() {
        top.add(masses[k]);
        at_or_above[k] = top.value();
    }
    // below_k = sum_{j<k} pi0(class j) exp((r_j - r_k)/beta), carried up one class at a time.
    let (mut below, mut rate) = (0.0, CompensatedSum::new());
    for (k, class) in classes.iter().enumerate() {
        let r_k = reward[class[0]];
        if k > 0 {
            let r_prev = reward[classes[k - 1][0]];
            below = (below + masses[k - 1]) * ((r_prev - r_k) / beta).exp();
        }
        let a = (at_or_above[k] + below).min(1.0);
        for &x in class.iter() {
            rate.add(target.prob(x) * a);
        }
    }
    Ok(rate.value())
}

/// The half-width `t` with `P(|S/n - A| > t) <= delta` for the acceptance rate `S/n` of a run of
/// `n = steps` steps started anywhere, given the chain's [`regeneration_probability`] `eps`
/// (module docs: `t = (c sqrt(n ln(2/delta)/2) + 2G)/n`, `G = (1 - eps)/eps`, `c = 1 + 2G`).
///
/// Errors: `eps` not in `(0, 1]`, `steps = 0`, `delta` not in `(0, 1)`.
///
/// ```
/// use rlhf_claims::sample::metropolis_acceptance::acceptance_radius;
/// // eps = 1/2: G = 1, c = 3; n = 10^6, delta = 1e-6: (3 sqrt(5e5 ln 2e6) + 2)/10^6.
/// let t = acceptance_radius(0.5, 1_000_000, 1e-6)?;
/// assert!((t - (3.0 * (5e5 * 2e6f64.ln()).sqrt() + 2.0) / 1e6).abs() < 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn acceptance_radius(eps: f64, steps: usize, delta: f64) -> Result<f64> {
    if !(eps > 0.0 && eps <= 1.0) {
        return Err(Error::InvalidParameter {
            name: "eps",
            value: eps,
            requirement: "in (0, 1]",
        });
    }
    if steps == 0 {
        return Err(Error::InvalidParameter {
            name: "steps",
            value: 0.0,
            requirement: "at least 1",
        });
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(Error::InvalidParameter {
            name: "delta",
            value: delta,
            requirement: "in (0, 1)",
        });
    }
    let n = steps as f64;
    let g = (1.0 - eps) / eps;
    let c = 1.0 + 2.0 * g;
    Ok((c * (n * (2.0 / delta).ln() / 2.0).sqrt() + 2.0 * g) / n)
}

/// [`acceptance_radius`] for the chain of `base`, `reward` and `beta`.
pub fn chain_acceptance_radius(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    steps: usize,
    delta: f64,
) -> Result<f64> {
    acceptance_radius(regeneration_probability(base, reward, beta)?, steps, delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::metropolis::{metropolis_tilt, MetropolisConfig};

    /// `A` against its definition summed over all pairs, on rewards with ties, a zero in the
    /// base and both signs.
    #[test]
    fn the_stationary_rate_is_the_pairwise_sum() -> Result<()> {
        let base = Dist::new(vec![0.1, 0.0, 0.3, 0.2, 0.15, 0.25])?;
        let reward = [1.0, 9.0, -0.5, 1.0, 2.5, -0.5];
        for beta in [0.3, 1.0, 4.0] {
            let pi = tilt(&base, &reward, beta)?.solution.policy;
            let mut want = 0.0;
            for x in base.support() {
                for y in base.support() {
                    let a = ((reward[y] - reward[x]) / beta).exp().min(1.0);
                    want += pi.prob(x) * base.prob(y) * a;
                }
            }
            let got = stationary_acceptance(&base, &reward, beta)?;
            assert!((got - want).abs() <= 1e-15, "beta {beta}: {got} vs {want}");
        }
        Ok(())
    }

    /// A flat reward accepts every proposal: `A = 1`, and the radius is 0 at `eps = 1`.
    #[test]
    fn a_flat_reward_accepts_everything() -> Result<()> {
        let base = Dist::new(vec![0.2, 0.8])?;
        assert_eq!(stationary_acceptance(&base, &[3.0, 3.0], 1.0)?, 1.0);
        assert_eq!(
            acceptance_radius(1.0, 100, 0.5)?,
            (100.0 * 4f64.ln() / 2.0).sqrt() / 100.0
        );
        Ok(())
    }

    /// A run's rate is within the radius of `A` at `delta = 1e-6` (a false alarm has
    /// probability at most `1e-6`), and the rate of the chain at `2 beta` is not (the negative
    /// control: `|A(beta) - A(2 beta)| = 0.21` here, more than twice the radius `0.016`).
    #[test]
    fn a_run_is_within_the_radius_of_its_rate_and_not_of_another() -> Result<()> {
        let base = Dist::new(vec![0.1, 0.2, 0.3, 0.4])?;
        let reward = [1.0, 0.0, 2.0, -1.0];
        let config = MetropolisConfig {
            samples: 1,
            burn_in: 1_000_000,
            thin: 1,
        };
        let run = metropolis_tilt(&base, &reward, 1.0, config, 5)?;
        let t = chain_acceptance_radius(&base, &reward, 1.0, 1_000_001, 1e-6)?;
        let a = stationary_acceptance(&base, &reward, 1.0)?;
        let control = stationary_acceptance(&base, &reward, 2.0)?;
        assert!(
            (run.acceptance_rate - a).abs() <= t,
            "{} {a} {t}",
            run.acceptance_rate
        );
        assert!((run.acceptance_rate - control).abs() > t);
        Ok(())
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(acceptance_radius(0.0, 10, 0.1).is_err());
        assert!(acceptance_radius(1.5, 10, 0.1).is_err());
        assert!(acceptance_radius(f64::NAN, 10, 0.1).is_err());
        assert!(acceptance_radius(0.5, 0, 0.1).is_err());
        assert!(acceptance_radius(0.5, 10, 1.0).is_err());
        assert!(acceptance_radius(0.5, 10, f64::NAN).is_err());
        let base = Dist::uniform(2).map(|b| stationary_acceptance(&b, &[0.0, 1.0], 0.0));
        assert!(matches!(base, Ok(Err(_))));
    }
}
