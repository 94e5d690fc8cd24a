//! Monte Carlo best-of-N: the textbook procedure, literally. Draw N outcomes from `pi0`, keep
//! one of highest reward, break ties uniformly among the tied draws (reservoir rule: the k-th
//! draw that ties the current best replaces it with probability 1/k). The independent witness
//! for [`crate::solve::best_of_n()`].

use super::DistSampler;
use crate::error::{Error, Result};
use rand::Rng;

/// One best-of-`n` draw (`n >= 1`; `n = 0` is an error). Cost `O(n log |X|)`.
///
/// ```
/// use rlhf_claims::{Dist, sample::{seeded_rng, DistSampler, best_of_n::draw_best_of_n}};
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let sampler = DistSampler::new(&base)?;
/// let mut rng = seeded_rng(1);
/// let x = draw_best_of_n(&sampler, &[0.0, 1.0], 3, &mut rng)?;
/// assert!(x < 2);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn draw_best_of_n<R: Rng + ?Sized>(
    sampler: &DistSampler,
    reward: &[f64],
    n: u64,
    rng: &mut R,
) -> Result<usize> {
    if n == 0 {
        return Err(Error::InvalidParameter {
            name: "n",
            value: 0.0,
            requirement: "an integer >= 1",
        });
    }
    let mut best = sampler.draw(rng);
    let mut ties = 1u64;
    for _ in 1..n {
        let x = sampler.draw(rng);
        let (rx, rb) = (reward.get(x), reward.get(best));
        match rx.partial_cmp(&rb) {
            Some(std::cmp::Ordering::Greater) => {
                best = x;
                ties = 1;
            }
            Some(std::cmp::Ordering::Equal) => {
                ties += 1;
                if rng.gen_range(0..ties) == 0 {
                    best = x;
                }
            }
            _ => {}
        }
    }
    Ok(best)
}

/// The order-statistic estimate of the best-of-`n` expected reward from the rewards of `M =
/// rewards.len() >= n >= 1` i.i.d. base draws: with the rewards sorted increasingly,
/// `sum_{i=1}^M C(i-1, n-1) r_(i) / C(M, n)` (claim `bon.unbiased-estimator`). The rewards are
/// sorted in place.
///
/// The weights `w_i = C(i-1, n-1)/C(M, n)` are formed by the recursion `w_M = n/M`,
/// `w_{i-1} = w_i (i - n)/(i - 1)`, so no binomial coefficient is formed (no overflow for large
/// `M`). They are non-negative and sum to 1 (the hockey-stick identity), so the estimate lies
/// between the smallest and the largest reward.
pub fn order_statistic_estimate(rewards: &mut [f64], n: u64) -> Result<f64> {
    let m = rewards.len() as u64;
    if n == 0 || n > m {
        return Err(Error::InvalidInput(format!(
            "the order-statistic estimator needs 1 <= N <= M, got N = {n}, M = {m}"
        )));
    }
    rewards.sort_by(f64::total_cmp);
    let mut w = n as f64 / m as f64;
    let mut total = 0.0;
    for (i, r) in (n..=m).rev().zip(rewards.iter().rev()) {
        total += w * r;
        if i > 1 {
            w *= (i - n) as f64 / (i - 1) as f64;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistic_weights_are_the_binomial_ratios() -> Result<()> {
        // M = 4, N = 2: weights C(i-1, 1)/C(4, 2) = (0, 1, 2, 3)/6.
        let mut r = [3.0, 1.0, 4.0, 2.0];
        let est = order_statistic_estimate(&mut r, 2)?;
        assert!((est - (2.0 + 2.0 * 3.0 + 3.0 * 4.0) / 6.0).abs() < 1e-15);
        // N = M keeps the maximum; N = 1 is the sample mean.
        assert_eq!(order_statistic_estimate(&mut [1.0, 5.0, 2.0], 3)?, 5.0);
        let mean = order_statistic_estimate(&mut [1.0, 5.0, 3.0], 1)?;
        assert!((mean - 3.0).abs() < 1e-15);
        assert!(order_statistic_estimate(&mut [1.0], 2).is_err());
        assert!(order_statistic_estimate(&mut [1.0], 0).is_err());
        Ok(())
    }
}
