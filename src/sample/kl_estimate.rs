//! Sample means of the k1/k2/k3 KL estimators from seeded draws of the policy: the independent
//! witness for the exact moments of [`crate::solve::kl_estimator`].

use super::{seeded_rng, DistSampler};
use crate::dist::Dist;
use crate::error::Result;
use crate::solve::kl_estimator::{log_ratio, ESTIMATORS};

/// Sample means `[k1, k2, k3]` over `n` iid draws `x ~ pi` (seeded).
pub fn sample_means(policy: &Dist, base: &Dist, n: u64, seed: u64) -> Result<[f64; 3]> {
    crate::error::require_same_len("policy", policy.len(), "base", base.len())?;
    let sampler = DistSampler::new(policy)?;
    let mut rng = seeded_rng(seed);
    let mut sums = [0.0f64; 3];
    for _ in 0..n {
        let l = log_ratio(policy, base, sampler.draw(&mut rng));
        for (s, k) in sums.iter_mut().zip(ESTIMATORS) {
            *s += k.value(l);
        }
    }
    Ok(sums.map(|s| s / n.max(1) as f64))
}
