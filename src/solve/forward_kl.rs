//! The pretraining-mix optimum (claim `pref.forward-kl`), evaluated so that every returned
//! number keeps its relative accuracy over the whole `f64` range.
//!
//! # The problem
//!
//! The maximizer of `E_pi[r] - gamma KL(pi0||pi)` over policies on `supp pi0` is
//!
//! ```text
//! pi(x) = gamma pi0(x) / (lambda - r(x)) = pi0(x) / (x_* + d(x)),
//! d(x) = (r* - r(x))/gamma >= 0,   x_* = (lambda - r*)/gamma in [p_A, 1],
//! ```
//!
//! with `r* = max r` on the support, `p_A` the base mass of the argmax class, and `x_*` the root
//! of `S(x) = sum pi0/(x + d) = 1` (decreasing in `x`; `S(p_A) >= 1` from the argmax class
//! alone, `S(1) <= 1` since every term is at most `pi0`). Then `E_pi[r] = lambda - gamma`.
//!
//! # Numerics
//!
//! - `x_*` is first found in `v = ln x` (the root of [`super::fdiv`]'s alpha-divergence
//!   normalization at `c = -1`), which resolves `1 - x` to full relative accuracy when the
//!   policy is near the base (`x` near 1).
//! - Where `x_* < 1/2`, the absolute accuracy `eps |v|` of `v` is up to `745 eps` relative in
//!   `x` (at a subnormal `p_A`), so `x` is polished by Newton's method on `S(x) = 1` in `x`
//!   itself: with `q = pi0/(x + d)` and `rho = x/(x + d)`, `S'(x) = -sum q rho / x`, so the step
//!   is `x <- x (1 + (S - 1)/sum q rho)` (quadratic convergence from `~1e-13`; `S` is convex,
//!   so an overshoot cannot leave the root's basin).
//! - Every `pi0/(x + d)`, `d = (r* - r)/gamma` and `gamma x` is formed on [`Scaled`] numbers
//!   (a mantissa and an unbounded binary exponent), so `d` beyond `f64::MAX` (a reward gap of
//!   `1e308` at `gamma = 1e-3`) or a subnormal `x` lose nothing, and each probability is
//!   rounded once into the `f64` range (a subnormal one to half of `2^-1074`). A reward gap
//!   beyond `f64::MAX` is formed from the halved rewards (exact scaling).
//! - `KL(pi||pi0)` from the log ratios `a = -ln(x + d)` by the cancellation-free identity of
//!   [`super::fdiv::kl_from_terms`]; `E_pi[r] = sum pi r` summed directly (compensated, halved
//!   where the sum would overflow), since `lambda - gamma` and `r* - sum pi (r* - r)` cancel
//!   when `lambda` is huge and `E` small.
//! - `lambda = r* + gamma x_*` is `+inf` (reported as `null` by `solve`) when it is beyond the
//!   `f64` range.

use super::fdiv::{alpha_root, gaps, kl_from_terms, Divergence, FdivOptimum};
use super::Solution;
use crate::dist::{check_reward, Dist};
use crate::error::{require_positive, Error, Result};
use crate::numeric::{CompensatedSum, Scaled};
use std::f64::consts::LN_2;

/// `r* - r >= 0` without overflow (from the halved rewards when the difference overflows).
fn gap(r_max: f64, r: f64) -> Scaled {
    let g = r_max - r;
    if g.is_finite() {
        Scaled::new(g)
    } else {
        let h = Scaled::new(r_max / 2.0 - r / 2.0);
        h.times_pow2(1)
    }
}

/// The base masses: the linear value where it is normal (a correctly rounded quotient), else
/// from the log view (a subnormal linear mass is stored only to `2^-1074` absolute, its
/// logarithm to a relative `eps`).
fn base_masses(base: &Dist) -> Vec<Scaled> {
    (0..base.len())
        .map(|i| {
            let p = base.prob(i);
            if p >= f64::MIN_POSITIVE || p == 0.0 {
                Scaled::new(p)
            } else {
                Scaled::exp(base.log_prob(i))
            }
        })
        .collect()
}

/// Newton steps on `S(x) = total` in `x` (see the module docs); at most this many.
const POLISH_STEPS: usize = 8;

/// `(S(x), sum q rho)` over the support, `q = pi0/(x + d)`, `rho = x/(x + d)`.
fn normalization(base: &Dist, pi0: &[Scaled], d: &[Scaled], x: Scaled) -> (f64, f64) {
    let (mut s, mut slope) = (CompensatedSum::new(), CompensatedSum::new());
    for i in base.support() {
        let y = x.add(d[i]);
        let q = pi0[i].div(y).value();
        s.add(q);
        slope.add(q * x.div(y).value());
    }
    (s.value(), slope.value())
}

/// Polishes a root `x` of `S(x) = total` found to `~1e-13` relative.
fn polish(base: &Dist, pi0: &[Scaled], d: &[Scaled], mut x: Scaled, total: f64) -> Result<Scaled> {
    for _ in 0..POLISH_STEPS {
        let (s, slope) = normalization(base, pi0, d, x);
        let step = (s - total) / slope;
        if !(step.abs() <= 0.5) {
            return Err(Error::NoConvergence(format!(
                "forward-KL normalization: Newton step {step} at x = {}",
                x.value()
            )));
        }
        x = x.mul(Scaled::new(1.0 + step));
        if step.abs() <= f64::EPSILON {
            break;
        }
    }
    Ok(x)
}

/// The pretraining-mix optimum, as documented at [`super::fdiv::forward_kl`] (the public
/// path), evaluated as in the module docs.
pub fn forward_kl(base: &Dist, reward: &[f64], gamma: f64) -> Result<FdivOptimum> {
    check_reward(base, reward)?;
    require_positive("gamma", gamma)?;
    let (r_max, neg_log_p_top, _) = gaps(base, reward, gamma);
    let g = Scaled::new(gamma);
    let d: Vec<Scaled> = (0..base.len())
        .map(|i| {
            if base.in_support(i) {
                gap(r_max, reward[i]).div(g)
            } else {
                Scaled::ZERO
            }
        })
        .collect();
    // The bracketing root in v = ln x. A `d` beyond `f64::MAX` is `+inf` there, its term
    // `pi0/(x + d) < 2^-1024` dropped (it is kept in the polish and in the answer).
    let d_float: Vec<f64> = d.iter().map(|s| s.value()).collect();
    let v = alpha_root(base, &d_float, neg_log_p_top, -1.0)?;
    let near = v >= -LN_2;
    let x = if near {
        Scaled::new(v.exp())
    } else {
        let total = crate::numeric::sum(base.support().map(|i| base.prob(i)));
        polish(base, &base_masses(base), &d, Scaled::exp(v), total)?
    };
    let em1 = v.exp_m1();
    // q = pi0/(x + d) and a = ln(q/pi0) = -ln(x + d); near the base (x >= 1/2) a small a is
    // -log1p(expm1(v) + d), which keeps its relative accuracy.
    let pi0 = base_masses(base);
    let mut q = vec![Scaled::ZERO; base.len()];
    let mut a = vec![f64::NEG_INFINITY; base.len()];
    for i in base.support() {
        let y = x.add(d[i]);
        q[i] = pi0[i].div(y);
        let z = em1 + d_float[i];
        a[i] = if near && z.abs() < 0.5 {
            -z.ln_1p()
        } else {
            -y.ln()
        };
    }
    let z_sum = crate::numeric::sum(q.iter().map(|s| s.value()));
    let z = Scaled::new(z_sum);
    let (mut p, mut log_p) = (vec![0.0; base.len()], vec![f64::NEG_INFINITY; base.len()]);
    for i in base.support() {
        p[i] = q[i].div(z).value();
        log_p[i] = if p[i] >= f64::MIN_POSITIVE {
            p[i].ln()
        } else {
            base.log_prob(i) + a[i] - z_sum.ln()
        };
    }
    let policy = Dist::from_parts_unchecked(p, log_p);
    let kl = kl_from_terms(base.support().map(|i| (base.prob(i), a[i], q[i].value())));
    let lambda = r_max + g.mul(x).value();
    Ok(FdivOptimum {
        solution: Solution {
            expected_reward: super::expected_reward(&policy, reward),
            policy,
            kl,
        },
        divergence: Divergence::ForwardKl,
        beta: gamma,
        lambda,
        divergence_value: forward_divergence(base, &a, z_sum),
    })
}

/// `KL(pi0||pi) = sum pi0 (t - 1 - ln t)` with `t = pi/pi0 = e^b`, `b = a - ln Z` (the terms are
/// non-negative, and `sum pi0 (t - 1) = 0` once normalized): `pi0 (expm1(b) - b)` for
/// `|b| < 1/2`, else `pi - pi0 - pi0 b` with `pi = pi0 e^b` formed in log space.
fn forward_divergence(base: &Dist, a: &[f64], z: f64) -> f64 {
    let ln_z = z.ln();
    let terms = base.support().map(|i| {
        let (p0, b) = (base.prob(i), a[i] - ln_z);
        if b.abs() < 0.5 {
            p0 * (b.exp_m1() - b)
        } else {
            (base.log_prob(i) + b).exp() - p0 - p0 * b
        }
    });
    crate::numeric::sum(terms).max(0.0)
}
