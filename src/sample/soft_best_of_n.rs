//! Monte Carlo soft best-of-N, literally: draw N outcomes from `pi0`, return one of them with
//! probability proportional to `exp(r/lambda)`. The independent witness for
//! [`crate::solve::soft_best_of_n()`].

use super::DistSampler;
use crate::error::{require_positive, Error, Result};
use rand::Rng;

/// One soft best-of-`n` draw (`n >= 1`, `temperature > 0`). The weights are taken relative to
/// the best draw, `exp((r - r_best)/lambda)` (the same selection law, without overflow), and one
/// draw is picked by inverse CDF over them. Cost `O(n log |X|)`, memory `O(n)`.
///
/// ```
/// use rlhf_claims::{Dist, sample::{seeded_rng, DistSampler, soft_best_of_n::draw_soft_best_of_n}};
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let sampler = DistSampler::new(&base)?;
/// let mut rng = seeded_rng(1);
/// let x = draw_soft_best_of_n(&sampler, &[0.0, 1.0], 3, 1.0, &mut rng)?;
/// assert!(x < 2);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn draw_soft_best_of_n<R: Rng + ?Sized>(
    sampler: &DistSampler,
    reward: &[f64],
    n: u64,
    temperature: f64,
    rng: &mut R,
) -> Result<usize> {
    let lambda = require_positive("temperature", temperature)?;
    if n == 0 {
        return Err(Error::InvalidParameter {
            name: "n",
            value: 0.0,
            requirement: "an integer >= 1",
        });
    }
    let r = |x: usize| {
        reward.get(x).copied().ok_or(Error::LengthMismatch {
            left: "sampler",
            left_len: x + 1,
            right: "reward",
            right_len: reward.len(),
        })
    };
    let draws: Vec<usize> = (0..n).map(|_| sampler.draw(rng)).collect();
    let mut best = f64::NEG_INFINITY;
    for &x in &draws {
        best = best.max(r(x)?);
    }
    let mut weights = Vec::with_capacity(draws.len());
    for &x in &draws {
        let d = r(x)? - best;
        weights.push(if d == 0.0 { 1.0 } else { (d / lambda).exp() });
    }
    let total: f64 = weights.iter().sum();
    let mut u = rng.gen::<f64>() * total;
    for (&x, &w) in draws.iter().zip(&weights) {
        if u < w {
            return Ok(x);
        }
        u -= w;
    }
    // Rounding left u at or above the last weight: the last draw with positive weight.
    let last = draws.iter().zip(&weights).rev().find(|(_, w)| **w > 0.0);
    Ok(last.map_or(draws[0], |(x, _)| *x))
}
