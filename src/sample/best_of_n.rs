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
