//! The standard bivariate normal `(U, V)` with correlation `rho` (claim `goodhart.gaussian`), and
//! the expected maximum of `N` independent standard normals.
//!
//! Since `E[V | U] = rho U`, claim `goodhart.reweighting` gives `E_pi[V] = rho E_pi[U]` for every
//! optimizer that reweights by a function of `U`: best-of-N, the tilt and conditioning all sit
//! on the line `E[V] = rho E[U]`, and they differ only in the KL they pay for a given `E[U]`.

use super::erfc::erfc;
use super::quadrature;
use crate::error::{Error, Result};
use nalgebra::{Matrix2, Vector2};
use serde::Serialize;
use std::f64::consts::{PI, SQRT_2};

/// `phi(x)`, the standard normal density.
pub fn pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// `Q(x) = 1 - Phi(x)`, to a few ulps relative in the upper tail (via [`erfc`]).
pub fn upper_tail(x: f64) -> f64 {
    0.5 * erfc(x / SQRT_2)
}

/// `log Phi(x)`: `log(erfc(-x/sqrt 2)/2)` for `x < 0` (accurate deep in the lower tail until
/// `erfc` underflows near `x = -38`, where `-inf` is returned), `log1p(-Q(x))` for `x >= 0`.
pub fn log_cdf(x: f64) -> f64 {
    if x < 0.0 {
        (0.5 * erfc(-x / SQRT_2)).ln()
    } else {
        (-upper_tail(x)).ln_1p()
    }
}

/// Mode of the density `N phi(x) Phi(x)^{N-1}` of the maximum of `N` standard normals: the root
/// of the decreasing function `-x + (N-1) phi(x)/Phi(x)`, by bisection on `[-40, 40]`.
fn max_density_mode(n: f64) -> f64 {
    // phi/Phi in log space: Phi underflows long before the ratio does.
    let h = |x: f64| -x + (n - 1.0) * (-0.5 * x * x - 0.5 * (2.0 * PI).ln() - log_cdf(x)).exp();
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if h(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Panel width of the quadrature for `e_N`: the density of the maximum has length scale at
/// least `~0.13` for `N <= 1e15` (its standard deviation is about `pi / sqrt(12 log N)`), so
/// panels of `0.02` resolve it with a 16-point rule far below rounding.
const MAX_PANEL: f64 = 0.02;

/// `e_N = E[max(Z_1, .., Z_N)]` for iid standard normals, `N >= 1`:
/// `e_N = int x g(x) dx`, `g(x) = N phi(x) Phi(x)^{N-1}`.
///
/// The integrand concentrates near the mode of `g` (about `sqrt(2 log N)`) with width
/// `~1/sqrt(2 log N)`; `g` is evaluated as `exp(log N + log phi + (N-1) log Phi)` (no
/// underflow of `Phi^{N-1}` before it matters, no loss in `Phi` near 1), the interval is cut where
/// `g` falls below `e^{-80}` times its peak, and the result is divided by the quadrature of `g`
/// itself (which is 1 to rounding; dividing removes the common truncation error). Accurate to
/// about `1e-13` relative for `2 <= N <= 1e12`, checked against 40-digit mpmath values
/// (`scripts/gaussian_max.py`, `tests/fixtures/gaussian_max.json`). For `N = 1` the exact value
/// is 0 and the result is `O(1e-17)`.
///
/// Errors: `n = 0`.
///
/// ```
/// use rlhf_claims::goodhart::gaussian::expected_max;
/// // e_2 = 1/sqrt(pi).
/// let e2 = expected_max(2)?;
/// assert!((e2 - 1.0 / std::f64::consts::PI.sqrt()).abs() < 1e-14);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn expected_max(n: u64) -> Result<f64> {
    if n == 0 {
        return Err(Error::InvalidParameter {
            name: "n",
            value: 0.0,
            requirement: "an integer >= 1",
        });
    }
    let nf = n as f64;
    let log_g = |x: f64| nf.ln() - 0.5 * x * x - 0.5 * (2.0 * PI).ln() + (nf - 1.0) * log_cdf(x);
    let mode = max_density_mode(nf);
    let peak = log_g(mode);
    let edge = |dir: f64| {
        let mut x = mode;
        while log_g(x) > peak - 80.0 && x.abs() < 40.0 {
            x += dir * 0.05;
        }
        x
    };
    let (lo, hi) = (edge(-1.0), edge(1.0));
    let panels = ((hi - lo) / MAX_PANEL).ceil() as usize;
    let mass = quadrature::integrate(|x| (log_g(x) - peak).exp(), lo, hi, panels);
    let first = quadrature::integrate(|x| x * (log_g(x) - peak).exp(), lo, hi, panels);
    Ok(first / mass)
}

/// `E[U]`, `E[V]` and KL of one optimizer in the bivariate normal model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct GaussianPoint {
    /// `E_pi[U]`.
    pub expected_proxy: f64,
    /// `E_pi[V]`.
    pub expected_true: f64,
    /// `KL(pi || pi0)` of the joint law, nats.
    pub kl: f64,
}

/// Requires `|rho| <= 1`.
pub fn check_rho(rho: f64) -> Result<f64> {
    if rho.is_finite() && rho.abs() <= 1.0 {
        Ok(rho)
    } else {
        Err(Error::InvalidParameter {
            name: "rho",
            value: rho,
            requirement: "in [-1, 1]",
        })
    }
}

/// Best-of-N on `U`: `E[U] = e_N`, `E[V] = rho e_N`, `KL = log N - (N-1)/N` (the continuous
/// best-of-N KL, which depends on nothing but `N`).
pub fn best_of_n(n: u64, rho: f64) -> Result<GaussianPoint> {
    let rho = check_rho(rho)?;
    let e = expected_max(n)?;
    Ok(GaussianPoint {
        expected_proxy: e,
        expected_true: rho * e,
        kl: crate::solve::best_of_n::kl_bound(n),
    })
}

/// The tilt `pi0 e^{U/beta}/Z`: it shifts `(U, V)` by `(1, rho)/beta` with the covariance
/// unchanged, so `E[U] = 1/beta`, `E[V] = rho/beta`, `KL = 1/(2 beta^2)`.
pub fn tilt(beta: f64, rho: f64) -> Result<GaussianPoint> {
    let rho = check_rho(rho)?;
    let beta = crate::error::require_positive("beta", beta)?;
    Ok(GaussianPoint {
        expected_proxy: 1.0 / beta,
        expected_true: rho / beta,
        kl: 0.5 / (beta * beta),
    })
}

/// Conditioning on `U >= t`: `E[U] = phi(t)/Q(t)`, `E[V] = rho E[U]`, `KL = -log Q(t)`.
pub fn condition(t: f64, rho: f64) -> Result<GaussianPoint> {
    let rho = check_rho(rho)?;
    crate::error::require_finite("threshold", &[t])?;
    let q = upper_tail(t);
    if !(q > 0.0) {
        return Err(Error::Infeasible(format!("P(U >= {t}) underflows")));
    }
    let m = pdf(t) / q;
    Ok(GaussianPoint {
        expected_proxy: m,
        expected_true: rho * m,
        kl: -q.ln(),
    })
}

/// The threshold `t` with `E[U | U >= t] = m`, for `m > 0` (the inverse Mills ratio
/// `phi(t)/Q(t)` increases from 0 to infinity), by bisection to rounding.
pub fn threshold_for_mean(m: f64) -> Result<f64> {
    let m = crate::error::require_positive("target mean", m)?;
    let (mut lo, mut hi) = (-40.0f64, 37.0f64);
    if pdf(hi) / upper_tail(hi) < m {
        return Err(Error::Infeasible(format!(
            "E[U | U >= t] = {m} needs t beyond 37"
        )));
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if pdf(mid) / upper_tail(mid) < m {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Shifting the mean of `U` alone by `delta` (the law `N((delta, 0), Sigma)`): `E[U] = delta`,
/// `E[V] = 0`, `KL = mu^T Sigma^{-1} mu / 2 = delta^2 / (2 (1 - rho^2))`, computed with the
/// covariance matrix (infinite when `|rho| = 1` and `delta != 0`: the shifted law is then
/// singular with respect to the base).
pub fn mean_shift(delta: f64, rho: f64) -> Result<GaussianPoint> {
    let rho = check_rho(rho)?;
    crate::error::require_finite("delta", &[delta])?;
    let sigma = Matrix2::new(1.0, rho, rho, 1.0);
    let mu = Vector2::new(delta, 0.0);
    let kl = match sigma.cholesky() {
        Some(c) if rho.abs() < 1.0 => 0.5 * mu.dot(&c.solve(&mu)),
        _ if delta == 0.0 => 0.0,
        _ => f64::INFINITY,
    };
    Ok(GaussianPoint {
        expected_proxy: delta,
        expected_true: 0.0,
        kl,
    })
}

/// `E[U]`, `E[V]` and `KL(pi || pi0)` of the mean shift of [`mean_shift`] computed without its
/// closed form: both bivariate normal densities (exponent
/// `-(u^2 - 2 rho u v + v^2) / (2 (1 - rho^2))`, `u` shifted by `delta` for `pi`) are sampled on
/// the lattice `h Z^2` restricted to `[-w, w + max(delta, 0)] x [-w, w]` (and `[min(delta, 0) - w, w]`
/// for negative shifts), normalized, and the KL taken by [`crate::divergence::kl`].
///
/// Lattice sums of a Gaussian converge faster than any power of `h` (Poisson summation): the
/// relative error of each normalized moment is about `exp(-2 pi^2 (1 - |rho|) / h^2)`, the
/// variance along the narrowest axis being `1 - |rho|`. The window cuts mass about
/// `Q(w - |delta|)` per side.
///
/// Errors: `|rho| >= 1`, `h` or `w` not positive, or a lattice too large to allocate sensibly
/// (more than `4e6` points).
pub fn mean_shift_on_lattice(delta: f64, rho: f64, h: f64, w: f64) -> Result<GaussianPoint> {
    let rho = check_rho(rho)?;
    if !(rho.abs() < 1.0) {
        return Err(Error::InvalidParameter {
            name: "rho",
            value: rho,
            requirement: "in (-1, 1) for a density",
        });
    }
    crate::error::require_finite("delta", &[delta])?;
    let h = crate::error::require_positive("h", h)?;
    let w = crate::error::require_positive("w", w)?;
    let (u_lo, u_hi) = (delta.min(0.0) - w, delta.max(0.0) + w);
    let (ku_lo, ku_hi) = ((u_lo / h).ceil() as i64, (u_hi / h).floor() as i64);
    let kv = (w / h).floor() as i64;
    let points = (ku_hi - ku_lo + 1).max(0) as f64 * (2 * kv + 1) as f64;
    if !(points <= 4e6) {
        return Err(Error::InvalidParameter {
            name: "h",
            value: h,
            requirement: "a lattice of at most 4e6 points",
        });
    }
    let quad = |u: f64, v: f64| -(u * u - 2.0 * rho * u * v + v * v) / (2.0 * (1.0 - rho * rho));
    let (mut us, mut vs, mut lp, mut lq) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in ku_lo..=ku_hi {
        for j in -kv..=kv {
            let (u, v) = (h * i as f64, h * j as f64);
            us.push(u);
            vs.push(v);
            lp.push(quad(u - delta, v));
            lq.push(quad(u, v));
        }
    }
    let p = crate::Dist::from_log_weights(&lp)?;
    let q = crate::Dist::from_log_weights(&lq)?;
    Ok(GaussianPoint {
        expected_proxy: p.expectation(&us)?,
        expected_true: p.expectation(&vs)?,
        kl: crate::divergence::kl(&p, &q)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lattice's size guard, at its edge: `h = 0.01`, `w = 10`, `delta = 1` span `u` in
    /// `[-10, 11]` (2101 points) and `v` in `[-10, 10]` (2001), `4.2e6` points, just above the
    /// `4e6` limit: refused; a window of 9.5 (`2001 * 1901 = 3.8e6`) is answered. (The registry
    /// never reaches the guard: a mutant counting `ku_hi / ku_lo + 1` points survived it.)
    #[test]
    fn the_lattice_size_guard_refuses_just_above_its_limit() -> Result<()> {
        assert!(matches!(
            mean_shift_on_lattice(1.0, 0.5, 0.01, 10.0),
            Err(Error::InvalidParameter { name: "h", .. })
        ));
        let p = mean_shift_on_lattice(1.0, 0.5, 0.01, 9.5)?;
        assert!(p.kl > 0.0 && p.kl.is_finite(), "{p:?}");
        Ok(())
    }

    /// The inverse Mills ratio at the search's upper end, `t = 37`, is a feasible target (its
    /// threshold is 37 itself): answered, not refused; just above it, refused. Bisection over
    /// `[-40, 37]` for 200 steps ends within an ulp of the end; the ratio's own rounding (a few
    /// eps, and `d ratio/dt` is about 1 there) allows 1e-12.
    #[test]
    fn the_mean_at_the_search_end_is_feasible_and_beyond_it_is_refused() -> Result<()> {
        let at_end = pdf(37.0) / upper_tail(37.0);
        let t = threshold_for_mean(at_end)?;
        assert!((t - 37.0).abs() <= 1e-12, "{t}");
        assert!(matches!(
            threshold_for_mean(at_end * (1.0 + 1e-12)),
            Err(Error::Infeasible(_))
        ));
        // A mean inside: E[U | U >= t] recomputed at the returned threshold.
        let t = threshold_for_mean(1.0)?;
        assert!((pdf(t) / upper_tail(t) - 1.0).abs() <= 1e-13, "{t}");
        Ok(())
    }
}
