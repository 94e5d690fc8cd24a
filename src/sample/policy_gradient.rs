//! Tabular softmax policy gradient with a sampled KL penalty: a sampled witness for the tilt
//! `pi_beta = pi0 exp(r/beta) / Z` ([`mod@crate::solve::tilt`]).
//!
//! # The algorithm (REINFORCE with a leave-one-out baseline)
//!
//! The policy is `pi_theta = softmax(theta)` over `supp pi0`; outcomes of base probability zero
//! have logit `-inf`, so they are never sampled and keep mass exactly zero. The logits start at
//! `theta_0 = log pi0` (so `pi_theta_0 = pi0`). Iteration `t = 0, 1, ..` draws a batch
//! `y_1..y_B ~ pi_theta` (`B >= 2`) and forms, for each draw, the KL-shaped reward
//!
//! ```text
//! g(y) = r(y) - beta log(pi_theta(y) / pi0(y))
//! ```
//!
//! whose `pi_theta`-mean is the objective `J(theta) = E_pi[r] - beta KL(pi || pi0)`: the KL
//! penalty is estimated from the samples by the per-sample log-ratio. With the leave-one-out
//! baseline `b_i = mean_{j != i} g(y_j)`, the advantages are `A_i = g(y_i) - b_i =
//! B/(B-1) (g(y_i) - mean_j g(y_j))`, and the REINFORCE step is
//!
//! ```text
//! theta <- theta + eta_t (1/B) sum_i A_i grad log pi_theta(y_i),   grad log pi_theta(y) = e_y - pi_theta,
//! eta_t = eta_0 / (1 + decay t).
//! ```
//!
//! Since `sum_i A_i = 0`, the `- pi_theta` parts cancel and only the sampled logits move.
//!
//! # Its fixed point is the tilt
//!
//! Differentiating `J = sum_y pi(y) (g(y))` through `d pi(y)/d theta_x = pi(y) (1[x = y] -
//! pi(x))` (the `-beta` from differentiating `log pi` inside `g` sums to zero) gives
//!
//! ```text
//! dJ/dtheta_x = pi(x) (g(x) - E_pi[g]),
//! ```
//!
//! and the step above is an unbiased estimate of it (`b_i` is independent of `y_i`). Because the
//! softmax keeps `pi(x) > 0` on the support, the gradient vanishes iff `g` is constant on
//! `supp pi0`, i.e. `log pi(x) = log pi0(x) + r(x)/beta - const`: iff `pi_theta = pi_beta`. As
//! `J(pi) = beta log Z - beta KL(pi || pi_beta)`, this is the global maximum (for exact
//! gradients the convergence is linear: Mei, Xiao, Szepesvari and Schuurmans, 2020, on
//! entropy-regularized softmax policy gradient).
//!
//! # Why constant steps are enough
//!
//! At the tilt, `g` is constant on the support, so every advantage `A_i` is exactly zero: the
//! noise of the gradient estimate vanishes at the fixed point and is proportional to the
//! distance from it near there (a "strong growth" condition, Schmidt and Le Roux, 2013). Constant
//! steps (`decay = 0`) then converge to the fixed point itself, not to a noise ball, at a linear
//! rate of roughly `eta_0 beta min_x pi_beta(x)` per iteration; `eta_0 beta <= 1` keeps each
//! step stable (the curvature of `J` in `theta` is `beta (diag pi - pi pi^T)`). A positive
//! `decay` gives the classical Robbins-Monro schedule (`sum eta_t = inf`, `sum eta_t^2 < inf`).
//!
//! # A certificate that needs no exact solver
//!
//! [`stationarity_residual`] measures how far the learned policy is from satisfying the fixed-
//! point equation: `delta = max - min` over `supp pi0` of `log(pi/pi0) - r/beta`. If
//! `u = log(pi/pi_beta)`, then `u` has spread `delta` and `E_pi_beta[e^u] = 1`, so
//! `min u <= 0 <= max u` and `|u| <= delta`; hence
//!
//! ```text
//! TV(pi, pi_beta) = E_pi_beta[(1 - e^u)_+] <= 1 - e^{-delta},     KL(pi || pi_beta) <= max u <= delta.
//! ```

use super::{seeded_rng, DistSampler};
use crate::dist::{check_reward, Dist};
use crate::error::{require_positive, Error, Result};

/// Run length and step-size schedule of [`policy_gradient_tilt`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyGradientConfig {
    /// Number of iterations `T`.
    pub iterations: usize,
    /// Draws per iteration `B >= 2` (the leave-one-out baseline needs two).
    pub batch_size: usize,
    /// Initial step size `eta_0 > 0`, in logits per unit of reward (`eta_0 beta <= 1` is stable).
    pub step_size: f64,
    /// `decay >= 0` in `eta_t = eta_0 / (1 + decay t)`; `0` keeps the step constant.
    pub decay: f64,
}

/// The outcome of one policy-gradient run.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyGradientRun {
    /// The final policy `softmax(theta_T)` (zero off `supp pi0`).
    pub policy: Dist,
    /// Draws used: `T B` (saturating at `u64::MAX`).
    pub samples_used: u64,
    /// [`stationarity_residual`] of the final policy.
    pub residual: f64,
}

impl PolicyGradientRun {
    /// The bound `TV(policy, pi_beta) <= 1 - e^{-residual}` (module docs).
    pub fn tv_bound(&self) -> f64 {
        tv_bound_from_residual(self.residual)
    }
}

/// Runs tabular softmax policy gradient (module docs) for `E_pi[r] - beta KL(pi || pi0)`,
/// seeded by `seed`; the same seed gives the same run.
///
/// Assumptions: `reward` finite with the length of `base`, `0 < beta < inf`, `iterations >= 0`,
/// `batch_size >= 2`, `step_size > 0`, `decay >= 0`, all finite. Cost per iteration: `O(n)` to
/// form the policy plus `O(B log n)` draws. Errors: bad input, or
/// [`Error::NoConvergence`] if the logits overflow (a step size far too large for the rewards).
///
/// ```
/// use rlhf_claims::{Dist, sample::policy_gradient::{policy_gradient_tilt, PolicyGradientConfig}};
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let config = PolicyGradientConfig { iterations: 2000, batch_size: 8, step_size: 0.5, decay: 0.0 };
/// let run = policy_gradient_tilt(&base, &[0.0, 1.0], 1.0, config, 11)?;
/// // The tilt is (1, e)/(1 + e); the residual certifies the distance without solving for it.
/// let e = std::f64::consts::E;
/// assert!((run.policy.prob(1) - e / (1.0 + e)).abs() <= run.tv_bound());
/// assert!(run.tv_bound() < 1e-12);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn policy_gradient_tilt(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    config: PolicyGradientConfig,
    seed: u64,
) -> Result<PolicyGradientRun> {
    check_reward(base, reward)?;
    require_positive("beta", beta)?;
    validate(&config)?;
    let mut rng = seeded_rng(seed);
    let mut theta = base.log_probs().to_vec();
    let batch = config.batch_size;
    let loo = batch as f64 / (batch as f64 - 1.0);
    let (mut draws, mut shaped) = (Vec::new(), Vec::new());
    draws
        .try_reserve_exact(batch)
        .and_then(|()| shaped.try_reserve_exact(batch))
        .map_err(|e| Error::InvalidInput(format!("cannot hold a batch of {batch}: {e}")))?;
    draws.resize(batch, 0usize);
    shaped.resize(batch, 0.0f64);
    for t in 0..config.iterations {
        let policy = Dist::from_log_weights(&theta)?;
        let sampler = DistSampler::new(&policy)?;
        for (y, g) in draws.iter_mut().zip(shaped.iter_mut()) {
            *y = sampler.draw(&mut rng);
            // y is in supp pi_theta = supp pi0, so both logs are finite.
            *g = reward[*y] - beta * (policy.log_prob(*y) - base.log_prob(*y));
        }
        let mean = shaped.iter().sum::<f64>() / batch as f64;
        let eta = config.step_size / (1.0 + config.decay * t as f64);
        for (&y, &g) in draws.iter().zip(&shaped) {
            theta[y] += eta * loo * (g - mean) / batch as f64;
        }
        if let Some(i) = draws.iter().find(|&&y| !theta[y].is_finite()) {
            return Err(Error::NoConvergence(format!(
                "policy gradient: logit {i} overflowed at iteration {t}; lower step_size"
            )));
        }
    }
    let policy = Dist::from_log_weights(&theta)?;
    let residual = stationarity_residual(&policy, base, reward, beta)?;
    Ok(PolicyGradientRun {
        policy,
        samples_used: (config.iterations as u64).saturating_mul(batch as u64),
        residual,
    })
}

/// The residual `delta = max_x h(x) - min_x h(x)` over `x in supp pi0`, with
/// `h(x) = log(policy(x)/pi0(x)) - (r(x) - r*)/beta` (`r*` the maximum of `r` on the support;
/// the shift changes nothing mathematically and keeps `h` small). `delta = 0` iff `policy` is
/// the tilt `pi_beta`, and `TV(policy, pi_beta) <= 1 - e^{-delta}`, `KL(policy || pi_beta) <=
/// delta` (module docs). `delta = +inf` when `policy` vanishes somewhere on `supp pi0`, puts mass
/// outside it, or `h` is not finite (e.g. `(r - r*)/beta` overflows).
pub fn stationarity_residual(policy: &Dist, base: &Dist, reward: &[f64], beta: f64) -> Result<f64> {
    check_reward(base, reward)?;
    check_reward(policy, reward)?;
    require_positive("beta", beta)?;
    if policy.support().any(|i| !base.in_support(i)) {
        return Ok(f64::INFINITY);
    }
    let r_max = base
        .support()
        .map(|i| reward[i])
        .fold(f64::NEG_INFINITY, f64::max);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for i in base.support() {
        let h = (policy.log_prob(i) - base.log_prob(i)) - (reward[i] - r_max) / beta;
        if !h.is_finite() {
            return Ok(f64::INFINITY);
        }
        lo = lo.min(h);
        hi = hi.max(h);
    }
    Ok(hi - lo)
}

/// `1 - e^{-delta}`: the bound on `TV(pi, pi_beta)` implied by a [`stationarity_residual`]
/// `delta >= 0` (module docs); `1` for `delta = inf`.
pub fn tv_bound_from_residual(delta: f64) -> f64 {
    -(-delta).exp_m1()
}

fn validate(config: &PolicyGradientConfig) -> Result<()> {
    if config.batch_size < 2 {
        return Err(Error::InvalidParameter {
            name: "batch_size",
            value: config.batch_size as f64,
            requirement: "at least 2 (the leave-one-out baseline needs two draws)",
        });
    }
    require_positive("step_size", config.step_size)?;
    if !(config.decay >= 0.0 && config.decay.is_finite()) {
        return Err(Error::InvalidParameter {
            name: "decay",
            value: config.decay,
            requirement: "finite and >= 0",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PolicyGradientConfig {
        PolicyGradientConfig {
            iterations: 10,
            batch_size: 4,
            step_size: 0.5,
            decay: 0.0,
        }
    }

    #[test]
    fn rejects_bad_parameters() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let r = [0.0, 1.0];
        let one_draw = PolicyGradientConfig {
            batch_size: 1,
            ..config()
        };
        let no_step = PolicyGradientConfig {
            step_size: 0.0,
            ..config()
        };
        let bad_decay = PolicyGradientConfig {
            decay: f64::NAN,
            ..config()
        };
        let huge_batch = PolicyGradientConfig {
            batch_size: usize::MAX,
            ..config()
        };
        for c in [one_draw, no_step, bad_decay, huge_batch] {
            assert!(policy_gradient_tilt(&base, &r, 1.0, c, 1).is_err());
        }
        assert!(policy_gradient_tilt(&base, &r, -1.0, config(), 1).is_err());
        Ok(())
    }

    #[test]
    fn zero_iterations_return_the_base_and_its_residual() -> Result<()> {
        let base = Dist::new(vec![0.25, 0.0, 0.75])?;
        let r = [0.0, 5.0, 1.0];
        let c = PolicyGradientConfig {
            iterations: 0,
            ..config()
        };
        let run = policy_gradient_tilt(&base, &r, 2.0, c, 1)?;
        // The policy is rebuilt from the logits log pi0 by a log-sum-exp, which may move each
        // log-probability by an ulp or two (|log p| < 2 here, so 4 EPSILON bounds it).
        let tol = 4.0 * f64::EPSILON;
        for i in 0..3 {
            assert!((run.policy.prob(i) - base.prob(i)).abs() <= tol);
        }
        assert_eq!(run.policy.prob(1), 0.0);
        // h = (0 - (0 - 1)/2, 0 - 0) = (1/2, 0) on the support: delta = 1/2 up to those ulps.
        assert!((run.residual - 0.5).abs() <= 2.0 * tol);
        Ok(())
    }

    #[test]
    fn residual_is_infinite_off_the_support() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.0, 0.5])?;
        let r = [0.0, 1.0, 2.0];
        let leaks = Dist::new(vec![0.4, 0.2, 0.4])?;
        let misses = Dist::new(vec![1.0, 0.0, 0.0])?;
        assert_eq!(
            stationarity_residual(&leaks, &base, &r, 1.0)?,
            f64::INFINITY
        );
        assert_eq!(
            stationarity_residual(&misses, &base, &r, 1.0)?,
            f64::INFINITY
        );
        assert_eq!(tv_bound_from_residual(f64::INFINITY), 1.0);
        Ok(())
    }

    #[test]
    fn overflowing_logits_are_an_error_not_a_nan() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let big = PolicyGradientConfig {
            step_size: 1e300,
            ..config()
        };
        let out = policy_gradient_tilt(&base, &[0.0, 1e300], 1.0, big, 1);
        assert!(matches!(out, Err(Error::NoConvergence(_))));
        Ok(())
    }
}
