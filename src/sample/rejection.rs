//! Rejection sampling for conditioning: draw `x ~ pi0` until `r(x) >= t`. The accepted law is
//! `pi0(. | r >= t)`, the independent witness for [`crate::solve::condition_on_threshold`].

use super::DistSampler;
use crate::error::{Error, Result};
use rand::Rng;

/// One draw from `pi0(. | r >= threshold)`, trying at most `max_tries` proposals.
pub fn draw_conditioned<R: Rng + ?Sized>(
    sampler: &DistSampler,
    reward: &[f64],
    threshold: f64,
    rng: &mut R,
    max_tries: u64,
) -> Result<usize> {
    for _ in 0..max_tries {
        let x = sampler.draw(rng);
        if reward.get(x).is_some_and(|r| *r >= threshold) {
            return Ok(x);
        }
    }
    Err(Error::NoConvergence(format!(
        "no draw with reward >= {threshold} in {max_tries} tries"
    )))
}
