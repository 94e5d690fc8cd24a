//! Witness of `grpo.stationary` and `grpo.tilt`: GRPO run from sampled groups
//! ([`crate::sample::grpo`]) lands on the exact stationary point of
//! [`crate::solve::grpo::grpo_stationary`], not on the tilt.
//!
//! The statistic is the Wald statistic of the Polyak-averaged logits (gauge-fixed to
//! `z_j = theta_j - theta_{n-1}`, `j < n - 1`): by the Polyak-Juditsky theorem (steps
//! `t^-0.7`), `sqrt(T) (z_bar - z*)` is asymptotically normal with covariance
//! `H^-1 S H^-T`, with `H` the Jacobian of the exact expected update at `z*` (central
//! differences of the solver's update, step `1e-5`) and `S` the exact covariance of one group's
//! update at `z*` (enumeration of all `n^G` groups, [`expected_group_update`]). So
//! `Q = T (H d)^T S^-1 (H d)`, `d = z_bar - z*`, is asymptotically chi-square with `n - 1`
//! degrees of freedom; the witness passes when its p-value is at least `FALSE_ALARM_RATE =
//! 1e-6` (an asymptotic level: the finite-run bias of the average is `O(T^-0.7)` against a
//! noise of `O(T^-1/2)`).
//!
//! Negative control: the same statistic with `z*` replaced by the tilt `pi0 exp(r/beta)`, the
//! refuted limit (`grpo.tilt`), which must be rejected at the same level.

use super::outcome;
use crate::claims::WitnessOutcome;
use crate::dist::Dist;
use crate::error::{Error, Result};
use crate::sample::grpo::{expected_group_update, grpo_sgd, GrpoSgdConfig};
use crate::solve::grpo::{
    expected_update, group_advantage, grpo_stationary, solve_dense, GroupSize, GroupStd,
    GrpoConfig, KlPlacement,
};
use crate::solve::tilt;
use crate::stats::{chi_square_tail, FALSE_ALARM_RATE};

/// The witness instance: three outcomes, base `(0.5, 0.3, 0.2)`, rewards `(0, 1, 3)`,
/// `beta = 0.5`, groups of 4 with the sample std, k3 as a loss.
pub const BASE: [f64; 3] = [0.5, 0.3, 0.2];
/// Its rewards.
pub const REWARD: [f64; 3] = [0.0, 1.0, 3.0];
/// Its configuration.
pub const CONFIG: GrpoConfig = GrpoConfig {
    beta: 0.5,
    group_size: GroupSize::Finite(4),
    std: GroupStd::Sample,
    kl: KlPlacement::K3Loss,
};
/// The schedule: 300,000 groups, step `1/(1 + t/100)^0.7`, averaging after 30,000.
pub const SGD: GrpoSgdConfig = GrpoSgdConfig {
    iterations: 300_000,
    step0: 1.0,
    t0: 100.0,
    exponent: 0.7,
    burn_in: 30_000,
};

/// `z_j = v_j - v_{n-1}` for `j < n - 1`.
fn gauge(v: &[f64]) -> Vec<f64> {
    let last = v[v.len() - 1];
    v[..v.len() - 1].iter().map(|x| x - last).collect()
}

/// The covariance of [`gauge`]`(x)` from the covariance `cov` of `x` (`n x n`):
/// `Cov(x_a - x_{n-1}, x_b - x_{n-1}) = C_ab - C_{a,n-1} - C_{n-1,b} + C_{n-1,n-1}`.
fn gauged_covariance(cov: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let last = cov.len() - 1;
    (0..last)
        .map(|a| {
            (0..last)
                .map(|b| cov[a][b] - cov[a][last] - cov[last][b] + cov[last][last])
                .collect()
        })
        .collect()
}

/// The exact expected update at the logits `theta`, gauge-projected.
fn mean_field(theta: &[f64], base: &Dist) -> Result<Vec<f64>> {
    let pi = Dist::from_log_weights(theta)?;
    let adv = group_advantage(&pi, &REWARD, &CONFIG)?;
    Ok(gauge(&expected_update(&pi, base, &adv, &CONFIG)?))
}

/// `T (H d)^T S^-1 (H d)` for the averaged logits against the target logits `target`. `S` is a
/// covariance: a matrix that is not symmetric (to `1e-12` of its largest entry) is refused, as
/// the statistic would not be chi-square.
fn wald(
    average: &[f64],
    averaged: usize,
    target: &[f64],
    h: &[Vec<f64>],
    s: &[Vec<f64>],
) -> Result<f64> {
    let scale = s.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    let symmetric =
        (0..s.len()).all(|a| (0..a).all(|b| (s[a][b] - s[b][a]).abs() <= 1e-12 * scale));
    if !symmetric {
        return Err(Error::InvalidInput(format!(
            "the Wald statistic's covariance is not symmetric: {s:?}"
        )));
    }
    let d: Vec<f64> = gauge(average)
        .iter()
        .zip(gauge(target))
        .map(|(a, b)| a - b)
        .collect();
    let hd: Vec<f64> = h
        .iter()
        .map(|row| row.iter().zip(&d).map(|(a, b)| a * b).sum())
        .collect();
    let w = solve_dense(s.to_vec(), hd.clone())?;
    Ok(averaged as f64 * hd.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>())
}

/// The witness (module docs).
pub fn sgd_lands_on_the_stationary_point(seed: u64) -> Result<WitnessOutcome> {
    let base = Dist::new(BASE.to_vec())?;
    let exact = grpo_stationary(&base, &REWARD, &CONFIG)?.solution.policy;
    let wrong = tilt(&base, &REWARD, CONFIG.beta)?.solution.policy;
    let star = exact.log_probs().to_vec();
    let n = BASE.len();
    // H: central differences of the gauge-projected mean field in theta_0..theta_{n-2}.
    let step = 1e-5;
    let mut h = vec![vec![0.0; n - 1]; n - 1];
    for l in 0..n - 1 {
        let mut up = star.clone();
        up[l] += step;
        let mut down = star.clone();
        down[l] -= step;
        let (fu, fd) = (mean_field(&up, &base)?, mean_field(&down, &base)?);
        for k in 0..n - 1 {
            h[k][l] = (fu[k] - fd[k]) / (2.0 * step);
        }
    }
    let (_, cov) = expected_group_update(&exact, &base, &REWARD, &CONFIG)?;
    let s = gauged_covariance(&cov);
    let run = grpo_sgd(&base, &REWARD, &CONFIG, &SGD, seed)?;
    let dof = (n - 1) as f64;
    let main = chi_square_tail(wald(&run.average_logits, run.averaged, &star, &h, &s)?, dof)?;
    let control = chi_square_tail(
        wald(&run.average_logits, run.averaged, wrong.log_probs(), &h, &s)?,
        dof,
    )?;
    Ok(outcome(
        "grpo sgd (G = 4, sample std, k3 loss) on three outcomes".into(),
        &main,
        FALSE_ALARM_RATE,
        FALSE_ALARM_RATE,
        &[control],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The covariance of a few vectors and of their gauged forms, each from its definition.
    fn covariance(xs: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let (m, n) = (xs.len() as f64, xs[0].len());
        let mean: Vec<f64> = (0..n)
            .map(|a| xs.iter().map(|x| x[a]).sum::<f64>() / m)
            .collect();
        (0..n)
            .map(|a| {
                (0..n)
                    .map(|b| {
                        xs.iter()
                            .map(|x| (x[a] - mean[a]) * (x[b] - mean[b]))
                            .sum::<f64>()
                            / m
                    })
                    .collect()
            })
            .collect()
    }

    /// `gauged_covariance` is the covariance of the gauged vectors (a sign error in a cross
    /// term would leave the witness passing at a wrong false-alarm rate).
    #[test]
    fn the_gauged_covariance_is_the_covariance_of_the_gauged_vectors() {
        let xs = vec![
            vec![1.0, -2.0, 0.5],
            vec![0.3, 0.7, 2.0],
            vec![-1.5, 0.2, -0.4],
            vec![2.2, 1.1, 1.6],
        ];
        let gauged: Vec<Vec<f64>> = xs.iter().map(|x| gauge(x)).collect();
        let want = covariance(&gauged);
        let got = gauged_covariance(&covariance(&xs));
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!((g - w).abs() <= 1e-14, "{got:?} vs {want:?}");
        }
    }
}
