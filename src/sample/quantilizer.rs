//! Monte Carlo q-quantilizer by rejection: draw `x ~ pi0`, place it at a uniform position
//! `v = pi0(r > r(x)) + U pi0(r = r(x))` inside its tie class's interval of the reward ranking
//! (counted from the top), and accept when `v < q`. The accepted law is
//! `pi0(x) P(v < q) / q = pi0(x) clamp((q - pi0(r > r(x))) / pi0(r = r(x)), 0, 1) / q`: the top
//! `q` mass, with a boundary class split in proportion to `pi0`. The acceptance rate is `q`.

use super::DistSampler;
use crate::dist::Dist;
use crate::error::{Error, Result};
use crate::solve::quantilize::check_kept_mass;
use crate::solve::RewardClasses;
use rand::Rng;

/// A rejection sampler for the q-quantilizer.
#[derive(Debug, Clone)]
pub struct QuantilizerSampler {
    base: DistSampler,
    /// For each outcome: (mass strictly above its reward, mass of its reward class).
    interval: Vec<(f64, f64)>,
    q: f64,
}

impl QuantilizerSampler {
    /// A sampler for the q-quantilizer of `base` and `reward`, `0 < q <= 1`.
    pub fn new(base: &Dist, reward: &[f64], q: f64) -> Result<Self> {
        check_kept_mass(q)?;
        let classes = RewardClasses::new(base, reward)?;
        let mut interval = vec![(0.0, 0.0); base.len()];
        for (k, c) in classes.classes.iter().enumerate() {
            for &i in classes.members(k) {
                interval[i] = (c.above, c.mass);
            }
        }
        Ok(Self {
            base: DistSampler::new(base)?,
            interval,
            q,
        })
    }

    /// One draw, trying at most `max_tries` proposals (error if none is accepted).
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R, max_tries: u64) -> Result<usize> {
        for _ in 0..max_tries {
            let x = self.base.draw(rng);
            let (above, mass) = self.interval[x];
            if above + rng.gen::<f64>() * mass < self.q {
                return Ok(x);
            }
        }
        Err(Error::NoConvergence(format!(
            "no proposal accepted in {max_tries} tries (q = {})",
            self.q
        )))
    }
}
