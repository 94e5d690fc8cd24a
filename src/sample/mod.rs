//! Sampled optimizers: textbook algorithms, each seeded (`rand_chacha`), that serve as
//! independent witnesses for the exact solvers in [`crate::solve`].
//!
//! Determinism: every sampler takes a seed, and the same seed gives the same draws on every
//! platform (ChaCha20 is portable; sampling uses only integer and IEEE arithmetic).

use crate::dist::Dist;
use crate::error::{Error, Result};
use rand::distributions::{Distribution, WeightedIndex};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The crate's RNG, seeded.
pub fn seeded_rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Draws outcome indices from a [`Dist`] (inverse CDF by binary search over the cumulative
/// weights: `O(log n)` per draw after `O(n)` setup).
#[derive(Debug, Clone)]
pub struct DistSampler {
    index: WeightedIndex<f64>,
}

impl DistSampler {
    /// A sampler for `dist`.
    pub fn new(dist: &Dist) -> Result<Self> {
        WeightedIndex::new(dist.probs())
            .map(|index| Self { index })
            .map_err(|e| Error::InvalidInput(format!("cannot sample from distribution: {e}")))
    }

    /// One draw.
    pub fn draw<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> usize {
        self.index.sample(rng)
    }
}

pub mod best_of_n;
pub mod dpo;
pub mod grpo;
pub mod kl_estimate;
pub mod metropolis;
pub mod metropolis_acceptance;
pub mod policy_gradient;
pub mod quantilizer;
pub mod rejection;
pub mod soft_best_of_n;
#[cfg(feature = "claims")]
pub mod witness;
