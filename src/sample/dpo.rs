//! DPO by stochastic gradient descent on sampled Bradley-Terry comparisons: the independent
//! witness for claim `pref.dpo-optimum` (its population minimizer is the tilt).
//!
//! Each step draws an unordered pair `{x, y}` uniformly among the pairs of distinct outcomes,
//! a winner with `P(x wins) = sigmoid(r(x) - r(y))`, and takes a gradient step on the DPO loss
//! `-log sigmoid(beta (h(winner) - h(loser)))` in the log density ratio `h = log(pi/pi0)`.
//! Step sizes `a0 / (1 + t/t0)^alpha` with Polyak-Ruppert averaging of the iterates over the
//! second half of the run (the classical recipe for `O(1/sqrt(T))` error on a smooth, locally
//! strongly convex stochastic objective; the default `alpha = 0.6`). The averaged iterate keeps a
//! bias of the order of the last step size (the loss is not quadratic), which decays slowly for
//! `alpha` near 1/2: a test that resolves the `1/sqrt(T)` noise needs `alpha` near 1 (see
//! [`crate::sample::witness::tilt::dpo_config`]).

use super::seeded_rng;
use crate::dist::{check_reward, Dist};
use crate::error::{require_positive, Error, Result};
use crate::solve::preference::sigmoid;
use rand::Rng;

/// Settings of the SGD run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpoSgdConfig {
    /// Number of sampled comparisons (one gradient step each).
    pub steps: u64,
    /// Initial step size `a0`.
    pub step_size: f64,
    /// Decay scale `t0` of the step size.
    pub decay_steps: f64,
    /// Decay exponent `alpha` of the step size, in `(1/2, 1]`.
    pub decay_power: f64,
    /// RNG seed.
    pub seed: u64,
}

impl Default for DpoSgdConfig {
    fn default() -> Self {
        Self {
            steps: 2_000_000,
            step_size: 1.0,
            decay_steps: 1000.0,
            decay_power: 0.6,
            seed: 0,
        }
    }
}

/// Runs DPO by SGD and returns the averaged policy `pi0 e^h / Z`.
///
/// Assumptions: `base` with at least two outcomes in its support (the comparisons are drawn
/// among its support), finite `reward`, `beta > 0`, `steps >= 2`.
pub fn dpo_sgd(base: &Dist, reward: &[f64], beta: f64, config: DpoSgdConfig) -> Result<Dist> {
    check_reward(base, reward)?;
    require_positive("beta", beta)?;
    require_positive("step_size", config.step_size)?;
    require_positive("decay_steps", config.decay_steps)?;
    if !(config.decay_power > 0.5 && config.decay_power <= 1.0) {
        return Err(Error::InvalidParameter {
            name: "decay_power",
            value: config.decay_power,
            requirement: "in (1/2, 1]",
        });
    }
    let support: Vec<usize> = base.support().collect();
    let m = support.len();
    if m < 2 || config.steps < 2 {
        return Err(Error::InvalidInput(
            "DPO by SGD needs two outcomes in the support and at least two steps".into(),
        ));
    }
    let mut rng = seeded_rng(config.seed);
    let mut h = vec![0.0; m];
    let mut avg = vec![0.0; m];
    let burn_in = config.steps / 2;
    for t in 0..config.steps {
        let i = rng.gen_range(0..m);
        let j = (i + rng.gen_range(1..m)) % m;
        let (a, b) = (support[i], support[j]);
        let a_wins = rng.gen::<f64>() < sigmoid(reward[a] - reward[b]);
        let (w, l) = if a_wins { (i, j) } else { (j, i) };
        let rate =
            config.step_size / (1.0 + t as f64 / config.decay_steps).powf(config.decay_power);
        // d/dh_w of -log sigmoid(beta (h_w - h_l)) = -beta sigmoid(-beta (h_w - h_l)).
        let g = beta * sigmoid(-beta * (h[w] - h[l]));
        h[w] += rate * g;
        h[l] -= rate * g;
        if t >= burn_in {
            let k = (t - burn_in + 1) as f64;
            for (s, v) in avg.iter_mut().zip(&h) {
                *s += (v - *s) / k;
            }
        }
    }
    let mut logs = vec![f64::NEG_INFINITY; base.len()];
    for (k, &x) in support.iter().enumerate() {
        logs[x] = base.log_prob(x) + avg[k];
    }
    Dist::from_log_weights(&logs)
}
