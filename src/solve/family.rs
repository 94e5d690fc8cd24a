//! Restricted (log-linear) policy classes and the KL-regularized optimum inside them (claim
//! `pref.restricted-class`).
//!
//! The class of a base `pi0` and a feature matrix `Phi` (`n x k`, row `phi(x)`) is
//! `pi_theta(x) = pi0(x) exp(theta . phi(x) - A(theta))`, `A(theta) = log E_pi0[e^{theta . phi}]`.
//! On it, with `s_theta = r - beta theta . phi`,
//!
//! ```text
//! J(theta)      = E_theta[r] - beta KL(pi_theta||pi0) = beta log Z - beta KL(pi_theta||pi_beta),
//! grad J(theta) = Cov_theta(phi, s_theta),
//! Hess J(theta) = kappa3_theta(phi_i, phi_j, s_theta) - beta Cov_theta(phi_i, phi_j),
//! ```
//!
//! where `kappa3` is the third joint central moment. Stationarity `Cov_theta(phi, r - beta theta
//! . phi) = 0` is the moment-matching condition: `theta` is the `pi_theta`-weighted
//! least-squares coefficient of `r/beta` on `phi` (with intercept).

use crate::dist::{check_reward, Dist};
use crate::error::{require_positive, Error, Result};
use crate::numeric::CompensatedSum;
use nalgebra::{DMatrix, DVector};

/// A log-linear policy class `pi_theta proportional to pi0 exp(theta . phi)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLinearClass {
    base: Dist,
    features: DMatrix<f64>,
}

/// Moments of `phi` and `s` under `pi_theta`.
struct Moments {
    policy: Dist,
    /// `Cov(phi, s)`.
    gradient: DVector<f64>,
    /// `kappa3(phi_i, phi_j, s) - beta Cov(phi_i, phi_j)`.
    hessian: DMatrix<f64>,
}

impl LogLinearClass {
    /// A class from a base and an `n x k` feature matrix (finite entries, `n = base.len()`,
    /// `k >= 1`).
    pub fn new(base: Dist, features: DMatrix<f64>) -> Result<Self> {
        crate::error::require_same_len("base", base.len(), "feature rows", features.nrows())?;
        if features.ncols() == 0 {
            return Err(Error::Empty { what: "features" });
        }
        crate::error::require_finite("features", features.as_slice())?;
        Ok(Self { base, features })
    }

    /// Number of parameters `k`.
    pub fn dim(&self) -> usize {
        self.features.ncols()
    }

    /// The base `pi0`.
    pub fn base(&self) -> &Dist {
        &self.base
    }

    fn score(&self, theta: &[f64], x: usize) -> f64 {
        (0..self.dim())
            .map(|j| theta[j] * self.features[(x, j)])
            .sum()
    }

    /// `pi_theta`, normalized in log space (so `|theta . phi|` up to ~1e300 is fine).
    pub fn policy(&self, theta: &[f64]) -> Result<Dist> {
        crate::error::require_same_len("theta", theta.len(), "features", self.dim())?;
        crate::error::require_finite("theta", theta)?;
        let logs: Vec<f64> = (0..self.base.len())
            .map(|x| self.base.log_prob(x) + self.score(theta, x))
            .collect();
        Dist::from_log_weights(&logs)
    }

    /// The size of the covariance terms `Cov_theta(phi, r - beta theta . phi)` that make up
    /// `grad J`: `(1 + max |r| + beta max_x |theta . phi(x)|) (1 + max |phi|)`, the scale against
    /// which its rounding (and so the attainable certificate) is measured.
    pub fn gradient_scale(&self, reward: &[f64], beta: f64, theta: &[f64]) -> f64 {
        let r = reward.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let score = (0..self.base.len()).fold(0.0f64, |m, x| m.max(self.score(theta, x).abs()));
        let phi = self.features.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        (1.0 + r + beta * score) * (1.0 + phi)
    }

    /// The size of the terms `pi(x) dev_i(x) dev_j(x) (s(x) - E s - beta)` summed into
    /// `Hess J`: `(1 + max |phi|)^2 (1 + max |r| + beta max_x |theta . phi(x)| + beta)`, so that
    /// each entry is computed to a small multiple of `f64::EPSILON` times this scale.
    fn hessian_scale(&self, reward: &[f64], beta: f64, theta: &[f64]) -> f64 {
        let phi = self.features.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        (self.gradient_scale(reward, beta, theta) + beta * (1.0 + phi)) * (1.0 + phi)
    }

    /// `max_x - min_x` over the support of `step . phi(x)`: how far a step of `theta` moves the
    /// log density ratios `log pi_theta / pi0` relative to each other (in nats).
    fn log_ratio_spread(&self, step: &DVector<f64>) -> f64 {
        let (lo, hi) = self
            .base
            .support()
            .map(|x| self.score(step.as_slice(), x))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        hi - lo
    }

    /// `J(theta) = E_theta[r] - beta KL(pi_theta||pi0)`.
    pub fn objective(&self, reward: &[f64], beta: f64, theta: &[f64]) -> Result<f64> {
        check_reward(&self.base, reward)?;
        let pi = self.policy(theta)?;
        let ratios: Vec<f64> = (0..pi.len())
            .map(|x| pi.log_prob(x) - self.base.log_prob(x))
            .collect();
        let kl = super::fdiv::kl_from_log_ratios(&self.base, &ratios);
        Ok(pi.expectation(reward)? - beta * kl)
    }

    fn moments(&self, reward: &[f64], beta: f64, theta: &[f64]) -> Result<Moments> {
        let pi = self.policy(theta)?;
        let (n, k) = (self.base.len(), self.dim());
        let s: Vec<f64> = (0..n)
            .map(|x| reward[x] - beta * self.score(theta, x))
            .collect();
        let mean = |f: &dyn Fn(usize) -> f64| -> f64 {
            (0..n)
                .filter(|&x| pi.prob(x) > 0.0)
                .map(|x| pi.prob(x) * f(x))
                .collect::<CompensatedSum>()
                .value()
        };
        let s_mean = mean(&|x| s[x]);
        let m: Vec<f64> = (0..k).map(|j| mean(&|x| self.features[(x, j)])).collect();
        let dev = |x: usize, j: usize| self.features[(x, j)] - m[j];
        let gradient = DVector::from_fn(k, |i, _| mean(&|x| dev(x, i) * (s[x] - s_mean)));
        let hessian = DMatrix::from_fn(k, k, |i, j| {
            mean(&|x| dev(x, i) * dev(x, j) * ((s[x] - s_mean) - beta))
        });
        Ok(Moments {
            policy: pi,
            gradient,
            hessian,
        })
    }
}

/// The in-class optimum with its certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassOptimum {
    /// The parameter `theta*`.
    pub theta: Vec<f64>,
    /// `pi_{theta*}`.
    pub policy: Dist,
    /// `J(theta*)`.
    pub objective: f64,
    /// Certificate of stationarity: `max_j |Cov_theta(phi_j, r - beta theta . phi)|`.
    pub gradient_norm: f64,
    /// Certificate of a strict local maximum: the largest eigenvalue of `Hess J(theta*)`
    /// (negative at a strict local maximum).
    pub max_hessian_eigenvalue: f64,
    /// Newton iterations used.
    pub iterations: usize,
}

/// `pi0`-weighted least squares of `y` on the features with an intercept: returns the
/// coefficients (without intercept) and the largest absolute residual on `supp pi0`. A zero
/// residual means `y` is affine in `phi` on the support.
pub fn affine_fit(base: &Dist, features: &DMatrix<f64>, y: &[f64]) -> Result<(Vec<f64>, f64)> {
    check_reward(base, y)?;
    let k = features.ncols();
    let support: Vec<usize> = base.support().collect();
    // Design [1, phi] with rows scaled by sqrt(pi0); solve by SVD (rank-deficient features are
    // allowed: the minimum-norm solution is returned).
    let a = DMatrix::from_fn(support.len(), k + 1, |r, c| {
        let x = support[r];
        base.prob(x).sqrt() * if c == 0 { 1.0 } else { features[(x, c - 1)] }
    });
    let b = DVector::from_fn(support.len(), |r, _| {
        base.prob(support[r]).sqrt() * y[support[r]]
    });
    let svd = a.svd(true, true);
    let coef = svd
        .solve(&b, 1e-12)
        .map_err(|e| Error::NoConvergence(format!("least squares failed: {e}")))?;
    let resid = support
        .iter()
        .map(|&x| {
            let fit = coef[0] + (0..k).map(|j| coef[j + 1] * features[(x, j)]).sum::<f64>();
            (y[x] - fit).abs()
        })
        .fold(0.0, f64::max);
    Ok((coef.iter().skip(1).copied().collect(), resid))
}

/// Relative stopping rule of [`class_optimum`]: `max |grad J| <= 1e-12 * scale` with the scale
/// of [`LogLinearClass::gradient_scale`].
pub const CLASS_GRADIENT_TOLERANCE: f64 = 1e-12;

/// The KL-regularized optimum inside the class: maximizes `J(theta)` by damped Newton's method
/// on the moment-matching condition `Cov_theta(phi, r - beta theta . phi) = 0`, starting from the
/// `pi0`-weighted least-squares coefficient of `r/beta` on `phi` (exact when `r` is affine in
/// `phi`). Where the Hessian is not negative definite the step is a gradient step; every step
/// is accepted only if it increases `J` (Armijo).
///
/// `J` need not be concave in `theta`; the returned point is certified as a stationary point
/// (`gradient_norm`) and a strict local maximum (`max_hessian_eigenvalue < 0`). When `r` is
/// affine in `phi` on the support the tilt is in the class and is the global optimum.
///
/// The supremum of `J` over the class need not be attained: `J` may increase along a ray
/// `theta = t v`, `t -> inf`, toward a policy on a face of the simplex. When the iterates
/// collapse onto such a face (a support outcome's mass underflows) the result is
/// [`Error::Infeasible`].
pub fn class_optimum(class: &LogLinearClass, reward: &[f64], beta: f64) -> Result<ClassOptimum> {
    require_positive("beta", beta)?;
    check_reward(&class.base, reward)?;
    let scaled: Vec<f64> = reward.iter().map(|r| r / beta).collect();
    let (fit, _) = affine_fit(&class.base, &class.features, &scaled)?;
    let zero = vec![0.0; class.dim()];
    let (j_fit, j_zero) = (
        class.objective(reward, beta, &fit)?,
        class.objective(reward, beta, &zero)?,
    );
    // Start from the better of the least-squares fit and theta = 0 (the fit ignores outcomes
    // of tiny base mass and can start far out on a plateau).
    let (mut theta, mut value) = if j_fit >= j_zero {
        (fit, j_fit)
    } else {
        (zero, j_zero)
    };
    for iter in 0..MAX_ITERATIONS {
        let m = class.moments(reward, beta, &theta)?;
        let grad_norm = m.gradient.amax();
        if class.base.support().any(|x| m.policy.prob(x) == 0.0) {
            // Collapsed onto a face: no maximizer in the class (`finish` reports it). Going on
            // would crawl along the face at the trust region's pace, which the outcomes of
            // vanished mass still bound.
            return finish(class, theta, m, value, iter);
        }
        let goal = CLASS_GRADIENT_TOLERANCE * class.gradient_scale(reward, beta, &theta);
        if grad_norm <= goal {
            return finish(class, theta, m, value, iter);
        }
        // Newton step on |Hess J| (eigenvalues replaced by their absolute values):
        // the Newton step where J is concave, an ascent step of the right length elsewhere.
        // Directions of curvature at the rounding level of the Hessian (flat directions of a
        // rank-deficient class, where the gradient is zero up to rounding) are left out, as in
        // a pseudo-inverse. The floor is absolute, not relative to the largest eigenvalue: a
        // direction of small but genuine curvature (a policy mass of 1e-7 still to be pushed
        // out) carries a gradient far above rounding and must keep its Newton step.
        let eig = (-m.hessian.clone()).symmetric_eigen();
        let floor = HESSIAN_ROUNDING * class.hessian_scale(reward, beta, &theta);
        let coords = eig.eigenvectors.transpose() * &m.gradient;
        let scaled = DVector::from_fn(coords.len(), |i, _| {
            let l = eig.eigenvalues[i].abs();
            if l > floor {
                coords[i] / l
            } else {
                0.0
            }
        });
        let mut step = &eig.eigenvectors * scaled;
        if m.gradient.dot(&step) <= 0.0 {
            step = m.gradient.clone() / eig.eigenvalues.amax().max(beta);
        }
        // Trust region: one step moves the log density ratios by at most MAX_LOG_RATIO_STEP
        // nats, so that a step in a non-concave region cannot jump over a maximum.
        let spread = class.log_ratio_spread(&step);
        if spread > MAX_LOG_RATIO_STEP {
            step *= MAX_LOG_RATIO_STEP / spread;
        }
        // Try the (trust-region) Newton direction, then, if it yields no representable ascent
        // (curvature left out of the pseudo-inverse), the plain gradient, first scaled by the
        // largest curvature, then stretched to the trust region (where the curvature along the
        // gradient is far below the largest, the short step changes J only below its rounding).
        let gradient_step = m.gradient.clone() / eig.eigenvalues.amax().max(beta);
        let g_spread = class.log_ratio_spread(&m.gradient);
        let region_step = if g_spread > 0.0 {
            m.gradient.clone() * (MAX_LOG_RATIO_STEP / g_spread)
        } else {
            gradient_step.clone()
        };
        let mut moved = false;
        for direction in [&step, &gradient_step, &region_step] {
            if let Some((next, v)) =
                line_search(class, reward, beta, &theta, value, direction, grad_norm)?
            {
                theta = next;
                value = v;
                moved = true;
                break;
            }
        }
        if !moved {
            // No representable ascent: the gradient is at rounding level.
            return finish(class, theta, m, value, iter);
        }
    }
    Err(Error::NoConvergence(
        "Newton's method on the moment-matching condition did not converge".into(),
    ))
}

/// Backtracking along `direction` from `theta`: the first `t = 2^-i` (`i < 60`) with Armijo
/// ascent, or (near a stationary point, where changes of `J` fall below its rounding) a halving
/// of the gradient norm with `J` unchanged to rounding. `None` when no representable step
/// qualifies.
fn line_search(
    class: &LogLinearClass,
    reward: &[f64],
    beta: f64,
    theta: &[f64],
    value: f64,
    direction: &DVector<f64>,
    grad_norm: f64,
) -> Result<Option<(Vec<f64>, f64)>> {
    let slope = class.moments(reward, beta, theta)?.gradient.dot(direction);
    let mut t = 1.0;
    for _ in 0..60 {
        let trial: Vec<f64> = theta
            .iter()
            .zip(direction.iter())
            .map(|(a, b)| a + t * b)
            .collect();
        if trial == theta {
            return Ok(None);
        }
        let v = class.objective(reward, beta, &trial)?;
        // Armijo with a strict increase: where `1e-4 t slope` is below the rounding of `J`,
        // `value + 1e-4 t slope == value` and a bare `>=` would accept a step that leaves `J`
        // unchanged, letting the iterates shuttle between two rounding-level neighbours until
        // the iteration cap instead of trying a longer step.
        if (v > value && v >= value + 1e-4 * t * slope)
            || (v >= value - 1e-13 * (1.0 + value.abs())
                && class.moments(reward, beta, &trial)?.gradient.amax() < 0.5 * grad_norm)
        {
            return Ok(Some((trial, v)));
        }
        t *= 0.5;
    }
    Ok(None)
}

/// Iteration cap of [`class_optimum`] (with the trust region, a parameter at distance `D` nats
/// takes at least `D/4` iterations).
const MAX_ITERATIONS: usize = 5000;

/// Relative rounding level of the computed Hessian eigenvalues, in units of
/// [`LogLinearClass::hessian_scale`]. Each entry is a compensated sum of products of three
/// rounded factors (`dev_i`, `dev_j` and `s - E s - beta`, each carrying a relative error of a
/// few `f64::EPSILON` of its scale), so it is exact to about `4 eps` of the scale; the
/// symmetric eigensolver adds `O(k eps ||H||)`. `1e-13` (about `450 eps`) leaves room for `k`
/// up to ~100 features. Since the computed gradient is exact to about `eps` times
/// [`LogLinearClass::gradient_scale`] `<= hessian_scale / (1 + max |phi|)`, a direction kept at
/// this floor whose gradient is pure rounding gets a step of at most ~`1e-3` in `theta`, so
/// flat directions of a rank-deficient class cannot send `theta` off.
const HESSIAN_ROUNDING: f64 = 1e-13;

/// Largest change of the log density ratios (in nats, spread over the support) in one step.
const MAX_LOG_RATIO_STEP: f64 = 4.0;

fn finish(
    class: &LogLinearClass,
    theta: Vec<f64>,
    m: Moments,
    objective: f64,
    iterations: usize,
) -> Result<ClassOptimum> {
    if class.base.support().any(|x| m.policy.prob(x) == 0.0) {
        return Err(Error::Infeasible(
            "no maximizer in the class: J approaches its supremum as |theta| -> inf (the \
             iterates collapse onto a face of the class)"
                .into(),
        ));
    }
    let eig = m.hessian.clone().symmetric_eigen();
    Ok(ClassOptimum {
        theta,
        policy: m.policy,
        objective,
        gradient_norm: m.gradient.amax(),
        max_hessian_eigenvalue: eig.eigenvalues.max(),
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_reward_puts_the_tilt_in_the_class() -> Result<()> {
        // r = 1 + 2 phi: theta* = 2/beta and pi_theta* is the tilt.
        let base = Dist::new(vec![0.2, 0.5, 0.3])?;
        let phi = DMatrix::from_column_slice(3, 1, &[0.0, 1.0, -1.0]);
        let r = [1.0, 3.0, -1.0];
        let class = LogLinearClass::new(base.clone(), phi)?;
        let opt = class_optimum(&class, &r, 0.5)?;
        assert!((opt.theta[0] - 4.0).abs() < 1e-12);
        let t = crate::solve::tilt(&base, &r, 0.5)?;
        assert!(crate::divergence::tv(&opt.policy, &t.solution.policy)? < 1e-14);
        assert!(opt.max_hessian_eigenvalue < 0.0);
        Ok(())
    }

    #[test]
    fn hessian_matches_finite_differences_of_the_gradient() -> Result<()> {
        let base = Dist::new(vec![0.1, 0.2, 0.3, 0.4])?;
        let phi = DMatrix::from_row_slice(4, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.5]);
        let r = [0.3, -1.0, 2.0, 0.7];
        let class = LogLinearClass::new(base, phi)?;
        let theta = [0.4, -0.2];
        let m = class.moments(&r, 0.8, &theta)?;
        let h = 1e-6;
        for j in 0..2 {
            let mut tp = theta;
            let mut tm = theta;
            tp[j] += h;
            tm[j] -= h;
            let gp = class.moments(&r, 0.8, &tp)?.gradient;
            let gm = class.moments(&r, 0.8, &tm)?.gradient;
            for i in 0..2 {
                let fd = (gp[i] - gm[i]) / (2.0 * h);
                // Central differences: O(h^2) ~ 1e-12 truncation, 1e-16/1e-6 rounding.
                assert!((fd - m.hessian[(i, j)]).abs() < 1e-8, "{i},{j}");
            }
            // The gradient itself matches differences of J.
            let fd = (class.objective(&r, 0.8, &tp)? - class.objective(&r, 0.8, &tm)?) / (2.0 * h);
            assert!((fd - m.gradient[j]).abs() < 1e-8);
        }
        Ok(())
    }

    /// A class whose optimum pushes two outcomes' masses toward 1e-12 and 1e-7: the curvature
    /// left along that direction (~2e-10) is below one part in 1e10 of the largest, and a
    /// pseudo-inverse floor relative to the largest eigenvalue dropped it, so Newton stalled at
    /// `J = -0.0114` with a gradient of 8.9e-9, 160 times its certificate. With the floor at the
    /// Hessian's rounding level the iteration reaches a certified strict local maximum with a
    /// larger `J` (about 0.106).
    #[test]
    fn small_genuine_curvature_keeps_its_newton_step() -> Result<()> {
        let base = Dist::from_weights(vec![
            0.11447151977571489,
            0.11626196625904718,
            0.494726506734208,
            0.11988506048439637,
            0.12223528995880255,
            0.03241965678783113,
        ])?;
        let phi = DMatrix::from_column_slice(
            6,
            3,
            &[
                -0.2536227412826768,
                -0.3632940852034822,
                0.14168098996869413,
                0.8662944601322168,
                -0.8524846461638722,
                -0.4203294599834385,
                1.8894931188327597,
                0.5015056946422788,
                0.1872564011299677,
                0.0,
                -0.9084842978760439,
                -0.18262188111501745,
                -1.3147767709483127,
                1.674422988907783,
                -0.7517159329752408,
                -1.3069982319452278,
                -1.9133337760816866,
                -0.5596771974059334,
            ],
        );
        let r = [
            -1.8035618983997603,
            0.9137643214265568,
            -2.225442077305277,
            0.2050399592632798,
            1.3179367736798817,
            -2.9162840605887035,
        ];
        let beta = 0.8078273834530892;
        let class = LogLinearClass::new(base, phi)?;
        let opt = class_optimum(&class, &r, beta)?;
        let goal = CLASS_GRADIENT_TOLERANCE * class.gradient_scale(&r, beta, &opt.theta);
        assert!(opt.gradient_norm <= goal, "{} > {goal}", opt.gradient_norm);
        assert!(opt.max_hessian_eigenvalue < 0.0);
        // The stalled point's objective, -0.0114, is beaten by a wide margin.
        assert!(opt.objective > 0.1, "{}", opt.objective);
        Ok(())
    }
}
