//! The k3-loss fixed point at `G = inf`: `pi ∝ pi0 / (lambda - r)`.
//!
//! # The equation
//!
//! At `G = inf` the k3-loss fixed point `pi = pi0 / (1 - P/beta)`, `P = (r - mu_pi)/sigma_pi`,
//! is `pi ∝ pi0 / (lambda - r)` with `lambda > max r` the root of
//!
//! ```text
//! g(lambda) = sum q (v - mu0) / (lambda - v) = 1/beta^2      (q, v: the classes' base masses
//!                                                              and rewards, mu0 = sum q v)
//! ```
//!
//! (proof in `proofs/grpo.stationary.md`). Since `sum q (v - mu0) = 0`, subtracting
//! `sum q (v - mu0)/(lambda - mu0)` term by term gives
//!
//! ```text
//! g(lambda) = sum q (v - mu0)^2 / ((lambda - v)(lambda - mu0)),
//! ```
//!
//! a sum of non-negative terms, each decreasing in `lambda`: nothing cancels. With `s = lambda -
//! v_max`, `D = v_max - v` and `G = v_max - mu0`, the factor `y = s^2/((D + s)(G + s))` lies in
//! `(0, 1]`, and `beta sqrt(g) = (beta/s) sqrt(sum q (v - mu0)^2 y) =: rho(s)` decreases from
//! `+inf` to 0: the root of `rho = 1` is unique.
//!
//! # Accuracy
//!
//! - Gaps are formed in a power-of-two unit near the reward spread and centred at the class
//!   nearest `mu0` ([`CentredClasses`]), so every `v - mu0` keeps its relative accuracy.
//!   Formed as `v - mu0` with `mu0 = sum q v`, the heavy class's deviation carried a relative
//!   error `eps |mu0| / |v - mu0|`: at `beta = 1e15` a light class's mass moved 6% where it
//!   moves `3e-8`.
//! - The weights `q (v - mu0)^2` are scaled by a power of two so that the largest is near 1: a
//!   subnormal mass with a large deviation (`q = 6.6e-311` at a reward of `-1e308`) dominates
//!   `g` and must not underflow.
//! - The root is bracketed in `u = ln s` by closed forms (below) and found in `u` on
//!   `ln rho(u) = 0`, then polished by Newton steps in `s` on the linear `rho`, since a root in
//!   `u` is known only to `ulp(u)`, `|u| eps` relative in `s` (`1e-13` at `u = -500`).
//! - The ratios `s/(D + s) = 1/(1 + D/s)` (the top class's is 1) are formed with their logarithms
//!   `-ln_1p(D/s)`; where `D/s` overflows or `s` is subnormal, from `ln s - ln D -
//!   ln_1p(s/D)` with `ln s` the root's `u` (see [`shifted_reciprocal`]).

use super::centred::{CentredClasses, Weights};
use super::{Columns, Ratios};
use crate::error::{Error, Result};
use crate::numeric::{monotone_root, RootTolerance, Scaled};
use std::f64::consts::LN_2;

/// The class ratios `pi/pi0 ∝ 1/(lambda - v)` of the k3-loss fixed point at `G = inf`, `K >= 2`
/// classes. Errors: [`Error::NoConvergence`] where the mean gap `G` underflows in the unit of the
/// spread (every mass below the top class's is below about `1e-323`), or the root is not found.
pub(super) fn infinite_k3_loss(c: &Columns, beta: f64) -> Result<Ratios> {
    let centred = CentredClasses::new(c);
    let weights = Weights::new(&centred);
    let gap = centred.mean_gap;
    let top_mass = centred.mass[centred.mass.len() - 1];
    if !(gap > 0.0 && top_mass > 0.0) {
        return Err(Error::NoConvergence(format!(
            "GRPO at G = infinity: the mean's gap below the top reward ({gap:e} of the spread) \
is below the doubles"
        )));
    }
    let (lo, hi) = bracket(&weights, gap, top_mass, beta);
    // f(u) = -ln rho(e^u) = u - ln beta - ln(root of the weighted spread), increasing.
    let f = |u: f64| -> Result<(f64, f64)> {
        let (log_spread, slope) = weights.spread(u);
        Ok((
            u - beta.ln() - 0.5 * weights.unscaled(log_spread),
            1.0 - 0.5 * slope,
        ))
    };
    let u = monotone_root(f, lo, hi, RootTolerance::default())?;
    let s = polish(&weights, u, beta);
    let log_s = if s >= f64::MIN_POSITIVE { s.ln() } else { u };
    let (t, log_t) = centred
        .top_gap
        .iter()
        .map(|&d| shifted_reciprocal(d, s, log_s))
        .unzip();
    Ok(Ratios { t, log_t })
}

/// A bracket `[lo, hi]` of `u = ln s` with `rho >= 1` at `lo` and `rho <= 1` at `hi`:
///
/// - since `y <= 1`, `rho(s) <= beta sqrt(V)/s` (`V = sum q h^2`), at most 1 at
///   `s = beta sqrt(V)`;
/// - the top class alone has `D = 0` and `h = G`, so for `s <= G`, `y >= s/(2G)` and
///   `rho^2 >= beta^2 q_top G / (2 s)`, at least 1 at `s = beta^2 q_top G / 2`.
///
/// Each end is widened by 1 (a factor `e`), so that rounding cannot put the root outside.
fn bracket(weights: &Weights, gap: f64, top_mass: f64, beta: f64) -> (f64, f64) {
    let hi = beta.ln() + 0.5 * weights.unscaled(weights.log_total()) + 1.0;
    let lo = gap
        .ln()
        .min(2.0 * beta.ln() + top_mass.ln() + gap.ln() - LN_2)
        - 1.0;
    (lo, hi.max(lo + 1.0))
}

/// Newton steps in `s` from the root found in `u`, on the linear `rho(s) = (beta/s) sqrt(S 2^-K)`
/// (relative error a few `eps` near the root, where `ln rho` formed from `u` and `ln beta`
/// carries `eps (|u| + |ln beta|)`). With `r = ln rho` and `r' = dr/du`, a step is
/// `s e^{-r/r'}`; it is kept only while it shrinks `|r|`. A subnormal `s`, or one where
/// `beta/s` overflows, is left as it is.
fn polish(weights: &Weights, u: f64, beta: f64) -> f64 {
    let residual = |s: f64| -> Option<(f64, f64)> {
        if !(f64::MIN_POSITIVE..f64::INFINITY).contains(&s) {
            return None;
        }
        // (beta/s) 2^-K/2, formed exactly but for one rounding: near the root it is about
        // 1/sqrt(S) while beta/s alone can overflow.
        let ratio = Scaled::new(beta)
            .div(Scaled::new(s))
            .times_pow2(-weights.scale / 2)
            .value();
        let (total, slope) = weights.linear_spread(s)?;
        let rho = ratio * total.sqrt();
        (f64::MIN_POSITIVE..f64::INFINITY)
            .contains(&rho)
            .then(|| (rho.ln(), 0.5 * slope - 1.0))
    };
    let mut s = u.exp();
    let Some((mut r, mut dr)) = residual(s) else {
        return s;
    };
    for _ in 0..4 {
        let next = s * (-r / dr).exp();
        match residual(next) {
            Some((r_next, dr_next)) if r_next.abs() < r.abs() => {
                (s, r, dr) = (next, r_next, dr_next);
            }
            _ => break,
        }
    }
    s
}

/// `(s/(d + s), ln(s/(d + s)))` for `d >= 0`, `s > 0` with `ln s = log_s`: through `x = d/s` and
/// `ln_1p` while `s` is normal and `x` finite; otherwise the logarithm is
/// `log_s - ln(d + s)` with `ln(d + s) = ln d + ln_1p(e^{log_s - ln d})`, from `log_s` and not
/// from the rounded `s` (a subnormal `s = 2.6e-316` carries 8 digits, and `ln s` formed from it
/// moved every ratio by `2e-8`). The top class (`d = 0`) has ratio 1.
fn shifted_reciprocal(d: f64, s: f64, log_s: f64) -> (f64, f64) {
    let x = d / s;
    if d == 0.0 {
        (1.0, 0.0)
    } else if s >= f64::MIN_POSITIVE && x.is_finite() {
        (1.0 / (1.0 + x), -x.ln_1p())
    } else {
        let log_d = d.ln();
        let log_t = log_s - log_d - (log_s - log_d).exp().ln_1p();
        (log_t.exp(), log_t)
    }
}
