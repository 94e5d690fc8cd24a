//! GRPO from sampled groups on a tabular softmax policy (the sampled counterpart of
//! [`crate::solve::grpo`]).
//!
//! One step: draw a group of `G` outputs i.i.d. from `pi = softmax(theta)`, standardize their
//! rewards inside the group ([`group_advantages`]: the sample or population std, `A = 0` when
//! the group's std is 0), and move the logits along
//!
//! ```text
//! g = (1/G) sum_i [ A_i (e_{o_i} - pi) - beta k'(o_i) ],
//! ```
//!
//! where `k'(x)` is the gradient of the KL term of one sample: `(pi0(x)/pi(x) - 1)(pi - e_x)`
//! for the k3 loss (`d k3/d theta` with the sample held fixed) and `log(pi(x)/pi0(x)) (e_x -
//! pi)` for `k3 pi_theta/pi_old` at `theta = theta_old`. [`expected_group_update`] takes the
//! exact expectation of `g` by enumerating all `n^G` ordered groups, an independent
//! recomputation of the solver's expected update.

use super::{seeded_rng, DistSampler};
use crate::dist::check_reward;
use crate::dist::Dist;
use crate::error::{require_same_len, Error, Result};
use crate::solve::grpo::{GroupSize, GroupStd, GrpoConfig, KlPlacement};
use serde::Serialize;

/// The standardized advantages of one group's rewards; all zero when the rewards are equal.
pub fn group_advantages(rewards: &[f64], std: GroupStd) -> Vec<f64> {
    let g = rewards.len() as f64;
    let mean = rewards.iter().sum::<f64>() / g;
    let ss: f64 = rewards.iter().map(|r| (r - mean) * (r - mean)).sum();
    let all_equal = rewards.iter().all(|r| *r == rewards[0]);
    let div = match std {
        GroupStd::Sample => g - 1.0,
        GroupStd::Population => g,
    };
    let sd = (ss / div).sqrt();
    rewards
        .iter()
        .map(|r| if all_equal { 0.0 } else { (r - mean) / sd })
        .collect()
}

/// The update `g` of one group (module docs) at the policy `pi`.
pub fn group_update(
    group: &[usize],
    pi: &Dist,
    base: &Dist,
    reward: &[f64],
    config: &GrpoConfig,
) -> Vec<f64> {
    let n = pi.len();
    let g = group.len() as f64;
    let rewards: Vec<f64> = group.iter().map(|&o| reward[o]).collect();
    let adv = group_advantages(&rewards, config.std);
    let mut out = vec![0.0; n];
    for (&o, a) in group.iter().zip(&adv) {
        let coef = match config.kl {
            // -beta (pi0/pi - 1)(pi - e_x) = beta (pi0/pi - 1)(e_x - pi)
            KlPlacement::K3Loss => a + config.beta * (base.prob(o) / pi.prob(o) - 1.0),
            // -beta log(pi/pi0) (e_x - pi)
            KlPlacement::K3Ratio => a - config.beta * (pi.log_prob(o) - base.log_prob(o)),
        };
        for (j, slot) in out.iter_mut().enumerate() {
            let e = if j == o { 1.0 } else { 0.0 };
            *slot += coef * (e - pi.prob(j)) / g;
        }
    }
    out
}

/// Largest `n^G` that [`expected_group_update`] enumerates.
pub const MAX_GROUPS: f64 = 1e6;

/// The exact mean and covariance of [`group_update`] over a group drawn from `pi`, by
/// enumerating all `n^G` ordered groups (finite `G` with `n^G <= MAX_GROUPS`).
pub fn expected_group_update(
    pi: &Dist,
    base: &Dist,
    reward: &[f64],
    config: &GrpoConfig,
) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    check_reward(pi, reward)?;
    require_same_len("policy", pi.len(), "base", base.len())?;
    let GroupSize::Finite(g) = config.group_size else {
        return Err(Error::InvalidInput(
            "enumeration needs a finite group".into(),
        ));
    };
    let n = pi.len();
    if !((n as f64).powi(g as i32) <= MAX_GROUPS) {
        return Err(Error::InvalidInput(format!(
            "{n}^{g} groups exceed {MAX_GROUPS}"
        )));
    }
    let mut mean = vec![0.0; n];
    let mut second = vec![vec![0.0; n]; n];
    let mut group = vec![0usize; g];
    loop {
        let w: f64 = group.iter().map(|&o| pi.prob(o)).product();
        if w > 0.0 {
            let u = group_update(&group, pi, base, reward, config);
            for a in 0..n {
                mean[a] += w * u[a];
                for b in 0..n {
                    second[a][b] += w * u[a] * u[b];
                }
            }
        }
        // Next group in lexicographic order.
        let mut i = 0;
        while i < g && group[i] + 1 == n {
            group[i] = 0;
            i += 1;
        }
        if i == g {
            break;
        }
        group[i] += 1;
    }
    let cov = (0..n)
        .map(|a| (0..n).map(|b| second[a][b] - mean[a] * mean[b]).collect())
        .collect();
    Ok((mean, cov))
}

/// The SGD schedule: step `step0 / (1 + t/t0)^exponent`, Polyak averaging of the logits over the
/// iterations after `burn_in`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GrpoSgdConfig {
    /// Number of steps, one group each.
    pub iterations: usize,
    /// Initial step size.
    pub step0: f64,
    /// `t0` of the decay.
    pub t0: f64,
    /// Decay exponent, in `(1/2, 1)` for Polyak-Juditsky averaging.
    pub exponent: f64,
    /// Steps before the averaging window.
    pub burn_in: usize,
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct GrpoSgdRun {
    /// The Polyak average of the logits over the averaging window.
    pub average_logits: Vec<f64>,
    /// Steps in the averaging window.
    pub averaged: usize,
}

/// Runs GRPO by SGD from `theta = log pi0` (restricted to a full-support base) with the seed
/// `seed`.
pub fn grpo_sgd(
    base: &Dist,
    reward: &[f64],
    config: &GrpoConfig,
    sgd: &GrpoSgdConfig,
    seed: u64,
) -> Result<GrpoSgdRun> {
    check_reward(base, reward)?;
    config.validate()?;
    let GroupSize::Finite(g) = config.group_size else {
        return Err(Error::InvalidInput(
            "sampled GRPO needs a finite group".into(),
        ));
    };
    if base.probs().iter().any(|p| !(*p > 0.0)) || sgd.burn_in >= sgd.iterations {
        return Err(Error::InvalidInput(
            "sampled GRPO needs a full-support base and burn_in < iterations".into(),
        ));
    }
    let mut rng = seeded_rng(seed);
    let mut theta: Vec<f64> = base.log_probs().to_vec();
    let mut sum = vec![0.0; theta.len()];
    let mut group = vec![0usize; g];
    for t in 0..sgd.iterations {
        let pi = Dist::from_log_weights(&theta)?;
        let sampler = DistSampler::new(&pi)?;
        for slot in group.iter_mut() {
            *slot = sampler.draw(&mut rng);
        }
        let step = sgd.step0 / (1.0 + t as f64 / sgd.t0).powf(sgd.exponent);
        let u = group_update(&group, &pi, base, reward, config);
        for (th, du) in theta.iter_mut().zip(&u) {
            *th += step * du;
        }
        if t >= sgd.burn_in {
            for (s, th) in sum.iter_mut().zip(&theta) {
                *s += th;
            }
        }
    }
    let averaged = sgd.iterations - sgd.burn_in;
    Ok(GrpoSgdRun {
        average_logits: sum.iter().map(|s| s / averaged as f64).collect(),
        averaged,
    })
}

/// `P_G(o | pi) = E[A_1 | o_1 = o]` for every `o`, by enumerating the other `G - 1` outputs
/// over all `n^(G-1)` ordered tuples (finite `G`, at most [`MAX_GROUPS`] tuples): the
/// brute-force counterpart of [`crate::solve::grpo::group_advantage`].
pub fn conditional_advantage_by_enumeration(
    pi: &Dist,
    reward: &[f64],
    config: &GrpoConfig,
) -> Result<Vec<f64>> {
    check_reward(pi, reward)?;
    let GroupSize::Finite(g) = config.group_size else {
        return Err(Error::InvalidInput(
            "enumeration needs a finite group".into(),
        ));
    };
    let n = pi.len();
    if !(g >= 2 && (n as f64).powi(g as i32 - 1) <= MAX_GROUPS) {
        return Err(Error::InvalidInput(format!(
            "{n}^{} tuples exceed {MAX_GROUPS}",
            g - 1
        )));
    }
    let mut out = vec![0.0; n];
    let mut others = vec![0usize; g - 1];
    let mut rewards = vec![0.0; g];
    loop {
        let w: f64 = others.iter().map(|&o| pi.prob(o)).product();
        if w > 0.0 {
            for (slot, &o) in rewards[1..].iter_mut().zip(&others) {
                *slot = reward[o];
            }
            for (o, acc) in out.iter_mut().enumerate() {
                rewards[0] = reward[o];
                *acc += w * group_advantages(&rewards, config.std)[0];
            }
        }
        let mut i = 0;
        while i < g - 1 && others[i] + 1 == n {
            others[i] = 0;
            i += 1;
        }
        if i == g - 1 {
            break;
        }
        others[i] += 1;
    }
    Ok(out)
}
