//! Optima of `E_pi[r] - beta D_f(pi||pi0)` for the reverse KL, the forward KL (the
//! pretraining-mix objective), Pearson's chi-square and Amari's alpha-divergence family (claims
//! `pref.fdiv`, `pref.forward-kl`).
//!
//! # The problem
//!
//! `D_f(pi||pi0) = sum_x pi0(x) f(pi(x)/pi0(x))` for a strictly convex `f` with `f(1) = 0`. The
//! maximization runs over policies with `supp pi within supp pi0` (fine-tuning the base never
//! creates outcomes the base cannot produce). For the reverse KL and chi-square that restriction
//! is implied by finiteness of `D_f`; for `f` with `lim f(t)/t < inf` (the forward KL, alpha < 1)
//! it is a constraint: such `D_f` charges nothing, or a finite price, for mass off `supp pi0`.
//!
//! # The KKT form
//!
//! With density ratio `t = pi/pi0` and multiplier `lambda` for `sum pi = 1`, the optimum is
//! `t(x) = g((r(x) - lambda)/beta)` where `g = (f')^{-1}` extended by `0` below `f'(0+)`
//! (clipping at zero), and `lambda` is the unique root of `sum pi0 g((r - lambda)/beta) = 1`.
//!
//! Every divergence here is, up to a term linear in `t` (which only shifts `lambda`) and a
//! factor (which rescales `beta`), an alpha-divergence
//! `f_alpha(t) = (t^alpha - 1 - alpha (t - 1)) / (alpha (alpha - 1))`, with
//! `(f_alpha')^{-1}(y) = (1 + c y)_+^{1/c}`, `c = alpha - 1` (and `e^y` at `c = 0`). With
//! `d(x) = (r* - r(x))/beta >= 0` (`r* = max r` on the support) and the unknown `b > 0`
//! (`b = t(argmax)^c`), the optimum is
//!
//! ```text
//! t(x) = (b - c d(x))_+^{1/c},     lambda_alpha = r* + beta (1 - b)/c.
//! ```
//!
//! The solver finds `v = ln b` by [`monotone_root`] on a bracket derived from the argmax class
//! (see `alpha_root`); working in `ln b` and in `d` (not in `r - lambda`) makes it invariant to
//! shifts and scales of the reward, so `r ~ 1e10` with `beta ~ 1e-5` is as easy as `r ~ 1`.

use super::Solution;
use crate::dist::{check_reward, Dist};
use crate::divergence;
use crate::error::{require_positive, Error, Result};
use crate::numeric::{log_sum_exp, monotone_root, CompensatedSum, RootTolerance};
use serde::Serialize;

/// A regularizer `D_f(pi||pi0)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Divergence {
    /// `KL(pi||pi0)`, `f(t) = t log t`: the optimum is the tilt.
    ReverseKl,
    /// `KL(pi0||pi)`, `f(t) = -log t`: the pretraining-mix objective,
    /// `pi = beta pi0 / (lambda - r)`.
    ForwardKl,
    /// Pearson `chi2(pi||pi0)`, `f(t) = (t - 1)^2`: `pi = pi0 (1 + (r - lambda)/(2 beta))_+`.
    ChiSquare,
    /// Amari's `f_alpha(t) = (t^alpha - 1 - alpha (t - 1)) / (alpha (alpha - 1))`; alpha = 1 is
    /// the reverse KL and alpha = 0 the forward KL (as limits), alpha = 2 half the chi-square.
    Alpha(f64),
}

impl Divergence {
    /// A short label (`reverse_kl`, `alpha(0.5)`, ...).
    pub fn label(&self) -> String {
        match self {
            Divergence::ReverseKl => "reverse_kl".into(),
            Divergence::ForwardKl => "forward_kl".into(),
            Divergence::ChiSquare => "chi_square".into(),
            Divergence::Alpha(a) => format!("alpha({a})"),
        }
    }

    /// `f(t)` for `t >= 0` (with `f(0) = lim_{t->0+} f(t)`, possibly `+inf`).
    pub fn f(&self, t: f64) -> f64 {
        match *self {
            Divergence::ReverseKl => {
                if t > 0.0 {
                    t * t.ln()
                } else {
                    0.0
                }
            }
            Divergence::ForwardKl => -t.ln(),
            Divergence::ChiSquare => (t - 1.0) * (t - 1.0),
            Divergence::Alpha(a) => alpha_f(a, t),
        }
    }

    /// The alpha of the equivalent alpha-divergence (`f = k f_alpha + s (t - 1)`): 1 for the
    /// reverse KL, 0 for the forward KL, 2 for chi-square.
    pub fn alpha(&self) -> f64 {
        self.as_alpha().0
    }

    /// `f'(t)` for `t > 0`: `1 + ln t`, `-1/t`, `2 (t - 1)`, `(t^(alpha-1) - 1)/(alpha - 1)`
    /// (through [`Divergence::f_prime_at_log`]).
    pub fn f_prime(&self, t: f64) -> f64 {
        self.f_prime_at_log(t.ln())
    }

    /// `f'(e^l)`, from the log density ratio `l = ln t`: `1 + l`, `-e^{-l}`, `2 expm1(l)`,
    /// `expm1((alpha - 1) l)/(alpha - 1)`. Defined where `t = e^l` itself is beyond the `f64`
    /// range (a policy mass of order 1 over a subnormal base mass has `l ~ 745`).
    pub fn f_prime_at_log(&self, l: f64) -> f64 {
        match *self {
            Divergence::ReverseKl => 1.0 + l,
            Divergence::ForwardKl => -(-l).exp(),
            Divergence::ChiSquare => 2.0 * l.exp_m1(),
            Divergence::Alpha(1.0) => l,
            Divergence::Alpha(a) => ((a - 1.0) * l).exp_m1() / (a - 1.0),
        }
    }

    /// `(f')^{-1}(y)` extended by `0` for `y <= f'(0+)` (and `+inf` beyond the range of `f'`):
    /// the density ratio the KKT form assigns to the level `y = (r - lambda)/beta`.
    pub fn f_prime_inverse(&self, y: f64) -> f64 {
        let (alpha, k, s) = self.as_alpha();
        // f' = k f_alpha' + s, so (f')^{-1}(y) = (f_alpha')^{-1}((y - s)/k).
        let u = (y - s) / k;
        let c = alpha - 1.0;
        if c == 0.0 {
            return u.exp();
        }
        let base = 1.0 + c * u;
        if base <= 0.0 {
            if c > 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            base.powf(1.0 / c)
        }
    }

    /// `f'(0+)`, the threshold below which the KKT form clips `t` to zero (`-inf`: never clips).
    pub fn f_prime_at_zero(&self) -> f64 {
        match *self {
            Divergence::ChiSquare => -2.0,
            Divergence::Alpha(a) if a > 1.0 => -1.0 / (a - 1.0),
            _ => f64::NEG_INFINITY,
        }
    }

    /// `t f''(t)` for `t > 0`: the sensitivity of `f'` to a relative change of `t` (through
    /// [`Divergence::t_f_second_at_log`]).
    pub fn t_f_second(&self, t: f64) -> f64 {
        self.t_f_second_at_log(t.ln())
    }

    /// `t f''(t)` at `t = e^l`: `1`, `e^{-l}`, `2 e^l`, `e^{(alpha - 1) l}`.
    pub fn t_f_second_at_log(&self, l: f64) -> f64 {
        match *self {
            Divergence::ReverseKl => 1.0,
            Divergence::ForwardKl => (-l).exp(),
            Divergence::ChiSquare => 2.0 * l.exp(),
            Divergence::Alpha(a) => ((a - 1.0) * l).exp(),
        }
    }

    /// The equivalent alpha-divergence problem `(alpha, k, s)` with `f = k f_alpha + s (t - 1)`.
    /// The linear term integrates to zero against `pi0`, so the optimum at `beta` is that of the
    /// alpha problem at `k beta`; since `f' = k f_alpha' + s`, `lambda = lambda_alpha - s beta`.
    fn as_alpha(&self) -> (f64, f64, f64) {
        match *self {
            // t log t = f_1(t) + (t - 1)
            Divergence::ReverseKl => (1.0, 1.0, 1.0),
            // -log t = f_0(t) - (t - 1)
            Divergence::ForwardKl => (0.0, 1.0, -1.0),
            // (t - 1)^2 = 2 f_2(t)
            Divergence::ChiSquare => (2.0, 2.0, 0.0),
            Divergence::Alpha(a) => (a, 1.0, 0.0),
        }
    }
}

/// `f_alpha(t)`, with the limits `t log t - t + 1` (alpha = 1) and `t - 1 - log t` (alpha = 0).
fn alpha_f(a: f64, t: f64) -> f64 {
    if a == 1.0 {
        if t > 0.0 {
            t * t.ln() - t + 1.0
        } else {
            1.0
        }
    } else if a == 0.0 {
        t - 1.0 - t.ln()
    } else {
        (t.powf(a) - 1.0 - a * (t - 1.0)) / (a * (a - 1.0))
    }
}

/// The optimum of `E_pi[r] - beta D_f(pi||pi0)` over `supp pi within supp pi0`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct FdivOptimum {
    /// Policy, `E_pi[r]`, and `KL(pi||pi0)`.
    #[serde(flatten)]
    pub solution: Solution,
    /// The regularizer.
    pub divergence: Divergence,
    /// The coefficient `beta`.
    pub beta: f64,
    /// The normalizing multiplier `lambda` of the KKT form `t = (f')^{-1}((r - lambda)/beta)`.
    pub lambda: f64,
    /// `D_f(pi||pi0)` at the optimum.
    pub divergence_value: f64,
}

impl FdivOptimum {
    /// The optimal value `E_pi[r] - beta D_f(pi||pi0)`.
    pub fn objective(&self) -> f64 {
        self.solution.expected_reward - self.beta * self.divergence_value
    }
}

/// The density ratios `t = pi/pi0` on the support as log-ratios `a = ln t` (`-inf` where
/// clipped), plus the multiplier.
struct AlphaSolution {
    log_ratio: Vec<f64>,
    lambda: f64,
}

/// Support max of the reward, `-log` of the mass of the argmax class (from the log view when
/// that mass is subnormal, see [`Dist::neg_log_mass_where`], so that it agrees with the log
/// masses the root's terms are built from), and `d = (r* - r)/beta` (0 off the support, where
/// it is unused).
pub(crate) fn gaps(base: &Dist, reward: &[f64], beta: f64) -> (f64, f64, Vec<f64>) {
    let r_max = base
        .support()
        .map(|i| reward[i])
        .fold(f64::NEG_INFINITY, f64::max);
    let neg_log_p_top = base.neg_log_mass_where(|i| reward[i] == r_max);
    let d = (0..base.len())
        .map(|i| {
            if base.in_support(i) {
                (r_max - reward[i]) / beta
            } else {
                0.0
            }
        })
        .collect();
    (r_max, neg_log_p_top, d)
}

/// `ln t = ln(b - c d)/c` with `b = e^v`, `-inf` when `b - c d <= 0` (clipped).
///
/// Near `t = 1` it is evaluated as `log1p(z)/c` with `z = expm1(v) - c d` (so `ln t` keeps
/// full relative accuracy when it is tiny, which the KL identity needs); for `c < 0` elsewhere
/// as `log(e^v + |c| d)/c` by log-add-exp (so `b` far below 1, even below the `f64` range, is
/// not rounded away); for `c > 0` (`b >= 1`) as `ln(b - c d)/c`.
#[inline]
fn log_ratio(c: f64, v: f64, em1: f64, d: f64) -> f64 {
    let z = em1 - c * d;
    if z.abs() < 0.5 {
        return z.ln_1p() / c;
    }
    if c < 0.0 {
        let spread = -c * d;
        let ln_y = if spread > 0.0 {
            crate::numeric::log_add_exp(v, spread.ln())
        } else {
            v
        };
        return ln_y / c;
    }
    let y = v.exp() - c * d;
    if y <= 0.0 {
        f64::NEG_INFINITY
    } else {
        y.ln() / c
    }
}

/// The edge of the root's bracket that one term of the normalization sets.
///
/// Term `i` is `pi0(i) t_i(v)` with `t_i = (e^v - c d_i)^{1/c}`; it equals 1 at
/// `v_i = ln(pi0(i)^{-c} + c d_i)` (when the argument is positive), and there
/// `F(v_i) = sign(c)(h - 1) >= 0` for `c > 0` and `<= 0` for `c < 0`, since the other terms are
/// positive. `t_i` moves with `v` in the direction of `sign(c)`, so between `v_i` and the
/// root every term stays at most 1: bracketing at `min_i v_i` (`c > 0`) or `max_i v_i`
/// (`c < 0`) keeps the normalization sum finite, where the argmax class's edge alone may let a
/// heavy non-argmax term overflow (a subnormal argmax mass puts that edge at `|c| 724`).
/// Returns `+inf` (`c > 0`) or `-inf` (`c < 0`) when no term sets an edge.
fn single_term_edge(base: &Dist, d: &[f64], c: f64) -> f64 {
    let term_edge = |i: usize| {
        let lead = -c * base.log_prob(i);
        let shift = c * d[i];
        if c > 0.0 {
            // ln(e^lead + c d), both positive.
            if shift > 0.0 {
                crate::numeric::log_add_exp(lead, shift.ln())
            } else {
                lead
            }
        } else {
            // ln(e^lead - |c| d) = lead + ln(1 - |c| d e^{-lead}), when positive.
            let ratio = -shift * (-lead).exp();
            if ratio < 1.0 {
                lead + (-ratio).ln_1p()
            } else {
                f64::NEG_INFINITY
            }
        }
    };
    let edges = base.support().map(term_edge);
    if c > 0.0 {
        edges.fold(f64::INFINITY, f64::min)
    } else {
        edges.fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Solves the alpha problem (`c = alpha - 1 != 0`) for `v = ln b`.
///
/// `F(v) = sign(c) (sum_x pi0(x) t_v(x) - 1)` is increasing, with
/// `F'(v) = e^v/|c| sum pi0 t/(1 + z) > 0`. Brackets (`p_A` = base mass of the argmax class,
/// whose `t` is `b^{1/c}`):
/// - `c < 0`: `t <= b^{1/c}` everywhere gives `F(0) >= 0`; the argmax term alone gives
///   `F(c ln p_A) <= 0`, i.e. `v in [-|c| ln(1/p_A), 0]`.
/// - `c > 0`: `t <= b^{1/c}` again gives `F(0) <= 0` and the argmax term `F(-c ln p_A) >= 0`.
///
/// Each edge is then moved inward to the tightest single-term edge ([`single_term_edge`]),
/// where no term of the sum exceeds 1.
pub(super) fn alpha_root(base: &Dist, d: &[f64], neg_log_p_top: f64, c: f64) -> Result<f64> {
    let p = base.probs();
    // Compare with the total of pi0 computed in the same arithmetic as h (not with 1), so
    // that at v = 0 with d = 0 the sign of F is exactly right whatever the rounding.
    let total = crate::numeric::sum(base.support().map(|i| base.log_prob(i).exp()));
    let eval = |v: f64| -> Result<(f64, f64)> {
        let em1 = v.exp_m1();
        let (mut h, mut dh) = (CompensatedSum::new(), CompensatedSum::new());
        for (i, &pi0) in p.iter().enumerate() {
            if pi0 > 0.0 {
                // In log space: pi0 t and b pi0 t^{1-c} stay finite when pi0 or b is tiny and
                // t huge.
                let a = log_ratio(c, v, em1, d[i]);
                if a > f64::NEG_INFINITY {
                    let lp = base.log_prob(i);
                    h.add((lp + a).exp());
                    dh.add((v + lp + (1.0 - c) * a).exp());
                }
            }
        }
        // t/(1+z) = t^{1-c}, so F' = e^v/|c| sum pi0 t^{1-c}.
        let value = c.signum() * (h.value() - total);
        let slope = dh.value() / c.abs();
        if !(value.is_finite() && slope.is_finite()) {
            return Err(Error::NoConvergence(format!(
                "alpha-divergence normalization overflowed at ln b = {v}"
            )));
        }
        Ok((value, slope))
    };
    // Widened by a relative 1e-9 (and 1e-12 absolute) so that rounding in the normalization
    // sum cannot leave F a hair short of its sign at the edge.
    let widen = |v: f64| v.abs() * 1e-9 + 1e-12;
    let edge = c.abs() * neg_log_p_top + widen(c.abs() * neg_log_p_top);
    // The tightest single-term edge, widened the same way: at `v_i` one term already equals 1.
    let single = single_term_edge(base, d, c);
    let (lo, hi) = if c < 0.0 {
        ((-edge).max(single - widen(single)), 0.0)
    } else {
        let edge = edge.min(single + widen(single));
        // `e^edge` may overflow when alpha is large and p_A tiny: expand from 1 by doubling,
        // stopping at the first v with F(v) >= 0 (or at the edge).
        let mut hi = 1.0f64.min(edge);
        while hi < edge && eval(hi)?.0 < 0.0 {
            hi = (2.0 * hi).min(edge);
        }
        (0.0, hi)
    };
    if !(lo < hi) {
        // p_A = 1: the reward is constant on the support and pi = pi0 (b = 1).
        return Ok(0.0);
    }
    let tol = RootTolerance {
        x_abs: f64::MIN_POSITIVE,
        x_rel: 2.0 * f64::EPSILON,
        f_abs: 0.0,
        max_iter: 2000,
    };
    monotone_root(eval, lo, hi, tol)
}

/// Solves `max E[r] - beta D_f` for `f = k f_alpha + s (t - 1)`. With `beta_alpha = k beta`
/// and `b = e^v`, `lambda = r* + beta_alpha (1 - b)/c - s beta = r* - beta (k expm1(v)/c + s)`,
/// with `expm1(v)` formed from `v` itself, so that neither `b` far below 1 is rounded away
/// nor `b` near 1 cancels: near `alpha = 1` (`c` small) `v` is of the size of `c`, and
/// `1 - b` from a rounded `b` erred by `eps/|v|` relative, which the division by `c` carried
/// into `lambda` (`check pref.fdiv --cases 20000 --seed 14`: `alpha = 1 + 5.6e-7`, `lambda` off
/// by `5e-10`). (Forward KL: `lambda = r* + beta b`.)
fn solve_alpha(
    base: &Dist,
    reward: &[f64],
    divergence: Divergence,
    beta: f64,
) -> Result<AlphaSolution> {
    let (alpha, k, s) = divergence.as_alpha();
    let beta_alpha = k * beta;
    let (r_max, neg_log_p_top, d) = gaps(base, reward, beta_alpha);
    if alpha == 1.0 {
        // t = e^{-d - u}, u = ln sum pi0 e^{-d}: closed form.
        let logs: Vec<f64> = base.support().map(|i| base.log_prob(i) - d[i]).collect();
        let u = log_sum_exp(&logs);
        let log_ratio = (0..base.len())
            .map(|i| {
                if base.in_support(i) {
                    -d[i] - u
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        return Ok(AlphaSolution {
            log_ratio,
            lambda: r_max + beta * (k * u - s),
        });
    }
    let c = alpha - 1.0;
    let v = alpha_root(base, &d, neg_log_p_top, c)?;
    let em1 = v.exp_m1();
    let log_ratio = (0..base.len())
        .map(|i| {
            if base.in_support(i) {
                log_ratio(c, v, em1, d[i])
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    Ok(AlphaSolution {
        log_ratio,
        lambda: r_max - beta * (k * em1 / c + s),
    })
}

/// `KL(pi||pi0)` from the log density ratios `a = ln(pi/pi0)` on the support:
/// `KL = (F + e)/(1 + e) - log1p(e)` with `F = sum pi0 (1 + (a - 1) e^a)` (terms `>= 0`) and
/// `e = sum pi0 expm1(a)` (`= 0` up to rounding), the identity the tilt solver uses; exact for
/// any `a` once `pi` is renormalized, and free of cancellation when `pi` is close to `pi0`.
pub(crate) fn kl_from_log_ratios(base: &Dist, log_ratio: &[f64]) -> f64 {
    kl_from_terms(log_ratio.iter().enumerate().filter_map(|(i, &a)| {
        let p = base.prob(i);
        (p != 0.0).then(|| (p, a, p * a.exp()))
    }))
}

/// [`kl_from_log_ratios`] from the terms `(pi0, a, pi0 e^a)` of the support, for a caller that
/// has `pi0 e^a` without forming `e^a` (which overflows where `pi0` is subnormal and `pi` of
/// order one).
pub(crate) fn kl_from_terms(terms: impl Iterator<Item = (f64, f64, f64)>) -> f64 {
    let (mut f_sum, mut e_sum) = (CompensatedSum::new(), CompensatedSum::new());
    for (p, a, pt) in terms {
        let (f, e) = kl_terms_given(p, a, pt);
        f_sum.add(f);
        e_sum.add(e);
    }
    kl_from_sums(f_sum.value(), e_sum.value())
}

/// The terms `(pi0 (1 + (a - 1) e^a), pi0 expm1(a))` of one outcome of mass `p = pi0 > 0` in
/// [`kl_from_log_ratios`] (by the series where `|a| < 1/2`).
#[inline]
pub(crate) fn kl_terms(p: f64, a: f64) -> (f64, f64) {
    let pt = if a.abs() < 0.5 { 0.0 } else { p * a.exp() };
    kl_terms_given(p, a, pt)
}

/// [`kl_terms`] given `pt = pi0 e^a` (read only where `|a| >= 1/2`).
#[inline]
fn kl_terms_given(p: f64, a: f64, pt: f64) -> (f64, f64) {
    if a.abs() < 0.5 {
        let (f, e) = super::tilt_passes::f_and_expm1_series(a);
        (p * f, p * e)
    } else {
        (if pt > 0.0 { p + (a - 1.0) * pt } else { p }, pt - p)
    }
}

/// `KL = (F + e)/(1 + e) - log1p(e)` from the sums of [`kl_terms`] (clamped at 0).
pub(crate) fn kl_from_sums(f: f64, e: f64) -> f64 {
    ((f + e) / (1.0 + e) - e.ln_1p()).max(0.0)
}

/// The optimum of `E_pi[r] - beta D_f(pi||pi0)` (claim `pref.fdiv`).
///
/// Assumptions: `base` any distribution, `reward` finite of the same length, `0 < beta < inf`;
/// the maximization is over `supp pi within supp pi0` (see the module docs). Errors: bad input,
/// a non-finite alpha.
///
/// ```
/// use rlhf_claims::{Dist, solve::fdiv::{fdiv_optimum, Divergence}};
/// let base = Dist::new(vec![0.5, 0.5])?;
/// // Chi-square clips: with beta = 1/4, pi = pi0 (1 + (r - lambda)/(2 beta))_+ puts all mass
/// // on the better outcome.
/// let s = fdiv_optimum(&base, &[0.0, 1.0], Divergence::ChiSquare, 0.25)?;
/// assert_eq!(s.solution.policy.probs(), &[0.0, 1.0]);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn fdiv_optimum(
    base: &Dist,
    reward: &[f64],
    divergence: Divergence,
    beta: f64,
) -> Result<FdivOptimum> {
    check_reward(base, reward)?;
    require_positive("beta", beta)?;
    if !divergence.as_alpha().0.is_finite() {
        return Err(Error::InvalidParameter {
            name: "alpha",
            value: divergence.as_alpha().0,
            requirement: "finite",
        });
    }
    if divergence == Divergence::ForwardKl {
        return super::forward_kl::forward_kl(base, reward, beta);
    }
    let s = solve_alpha(base, reward, divergence, beta)?;
    let log_weights: Vec<f64> = (0..base.len())
        .map(|i| base.log_prob(i) + s.log_ratio[i])
        .collect();
    let policy = Dist::from_log_weights(&log_weights)?;
    let kl = kl_from_log_ratios(base, &s.log_ratio);
    let (r_max, _, d) = gaps(base, reward, beta);
    let gap: CompensatedSum = (0..base.len())
        .filter(|&i| policy.prob(i) > 0.0)
        .map(|i| policy.prob(i) * d[i])
        .collect();
    let expected_reward = r_max - beta * gap.value();
    let divergence_value = divergence_value(&policy, base, divergence)?;
    Ok(FdivOptimum {
        solution: Solution {
            policy,
            expected_reward,
            kl,
        },
        divergence,
        beta,
        lambda: s.lambda,
        divergence_value,
    })
}

/// `D_f(pi||pi0)`; for the two KL directions the crate's accurate KL routines are used.
pub fn divergence_value(policy: &Dist, base: &Dist, divergence: Divergence) -> Result<f64> {
    match divergence {
        Divergence::ReverseKl => divergence::kl(policy, base),
        Divergence::ForwardKl => divergence::reverse_kl(policy, base),
        Divergence::ChiSquare => divergence::chi_square(policy, base),
        Divergence::Alpha(a) => alpha_divergence(policy, base, a),
    }
}

/// `D_alpha(pi||pi0) = sum_x pi0(x) f_alpha(pi(x)/pi0(x))` (with `pi0 f(pi/pi0) = pi f'(inf)` off
/// `supp pi0`: `+inf` for `alpha >= 1`, `pi/(1 - alpha)` below). Where the ratio `pi/pi0`
/// or `f_alpha` of it overflows (`pi0(x)` subnormal or tiny) the term is the perspective
/// evaluated from the log masses, `(pi^alpha pi0^(1-alpha) - pi0 - alpha (pi - pi0)) / (alpha (alpha - 1))` (its limits
/// `pi log(pi/pi0) - pi + pi0` at `alpha = 1` and `pi - pi0 - pi0 log(pi/pi0)` at `alpha = 0`),
/// which is finite whenever the term is representable (and `+inf` otherwise); `f` at an
/// overflowing ratio would be `inf - inf`.
fn alpha_divergence(policy: &Dist, base: &Dist, a: f64) -> Result<f64> {
    crate::error::require_same_len("policy", policy.len(), "base", base.len())?;
    let mut sum = CompensatedSum::new();
    for x in 0..policy.len() {
        let (p, q) = (policy.prob(x), base.prob(x));
        if q == 0.0 {
            if p > 0.0 {
                if a >= 1.0 {
                    return Ok(f64::INFINITY);
                }
                sum.add(p / (1.0 - a));
            }
            continue;
        }
        let term = q * alpha_f(a, p / q);
        if term.is_finite() {
            sum.add(term);
            continue;
        }
        let log_t = policy.log_prob(x) - base.log_prob(x);
        sum.add(if a == 1.0 {
            p * log_t - p + q
        } else if a == 0.0 {
            p - q - q * log_t
        } else {
            let power = (a * policy.log_prob(x) + (1.0 - a) * base.log_prob(x)).exp();
            (power - q - a * (p - q)) / (a * (a - 1.0))
        });
    }
    Ok(sum.value())
}

/// The pretraining-mix optimum (claim `pref.forward-kl`): the maximizer of
/// `E_pi[r] + gamma E_pi0[log pi]`, equivalently of `E_pi[r] - gamma KL(pi0||pi)`, over policies
/// on `supp pi0`:
///
/// ```text
/// pi(x) = gamma pi0(x) / (lambda - r(x)),   lambda > max r the root of sum pi = 1,
/// E_pi[r] = lambda - gamma.
/// ```
///
/// Assumptions: `base` any distribution, `reward` finite of the same length, `0 < gamma < inf`.
/// Each probability, `E` and the KLs to about `1e-14` relative over the whole `f64` range;
/// `lambda` is `+inf` when beyond the `f64` range.
///
/// ```
/// use rlhf_claims::{Dist, solve::forward_kl};
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let s = forward_kl(&base, &[0.0, 1.0], 1.0)?;
/// // lambda solves 0.5/lambda + 0.5/(lambda - 1) = 1, i.e. lambda^2 - 2 lambda + 1/2 = 0:
/// // lambda = 1 + 1/sqrt(2).
/// let lambda = 1.0 + 0.5f64.sqrt();
/// assert!((s.lambda - lambda).abs() < 1e-15);
/// assert!((s.solution.expected_reward - (lambda - 1.0)).abs() < 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn forward_kl(base: &Dist, reward: &[f64], gamma: f64) -> Result<FdivOptimum> {
    super::forward_kl::forward_kl(base, reward, gamma)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Near `alpha = 1` the multiplier keeps the KKT form `beta f'(t) = r - lambda` to a few
    /// ulps at every outcome: the case `check pref.fdiv --cases 20000 --seed
    /// 14` found (`alpha = 1 + 5.6e-7`), where `lambda` from `1 - e^v` erred by `5e-10`, and
    /// `alpha` closer still. `f'(t) = expm1(c ln t)/c` is exact to a few ulps itself.
    #[test]
    fn the_multiplier_keeps_the_kkt_form_near_alpha_1() -> Result<()> {
        let base = Dist::new(vec![0.000_999_000_999_000_999_2, 0.999_000_999_000_999_1])?;
        let reward = [8.813_673_508_514_954, 0.0];
        let beta = 3.403_057_055_714_230_6;
        for alpha in [1.000_000_562_420_384_7, 1.0 + 1e-9, 1.0 - 3e-8] {
            let div = Divergence::Alpha(alpha);
            let s = fdiv_optimum(&base, &reward, div, beta)?;
            let pi = &s.solution.policy;
            for (x, &r) in reward.iter().enumerate() {
                let lhs = beta * div.f_prime_at_log(pi.log_prob(x) - base.log_prob(x));
                let rhs = r - s.lambda;
                // The sides' roundings: `lambda` is exact to about `6 eps` of
                // `|r*| + |lambda| + beta |ln t|` (its parts; `|ln t| < 7` here) and the
                // difference adds one; the stored logs carry about `2 eps` of the
                // normalization each, and `beta f'(t)` moves by `beta` times that (`f'' t ~ 1`
                // at `c ~ 0`). All of it is below `16 eps (|r| + |lambda| + beta)`; `64` leaves
                // room, and the old form's error (`5e-10`) is still `10^3` times the bound.
                let tol = 64.0 * f64::EPSILON * (r.abs() + s.lambda.abs() + beta);
                assert!(
                    (lhs - rhs).abs() <= tol,
                    "alpha = {alpha}, x = {x}: {lhs} vs {rhs}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn chi_square_matches_the_truncated_linear_form() -> Result<()> {
        // pi = pi0 (1 + (r - lambda)/(2 beta))_+ with pi0 uniform on 3, r = (0, 1, 2), beta = 1:
        // all positive: sum (1 + (r - lambda)/2)/3 = 1 gives lambda = mean r = 1,
        // pi = (1/6, 1/3, 1/2).
        let base = Dist::uniform(3)?;
        let s = fdiv_optimum(&base, &[0.0, 1.0, 2.0], Divergence::ChiSquare, 1.0)?;
        let want = [1.0 / 6.0, 1.0 / 3.0, 0.5];
        for (p, w) in s.solution.policy.probs().iter().zip(want) {
            assert!((p - w).abs() < 4.0 * f64::EPSILON);
        }
        assert!((s.lambda - 1.0).abs() < 4.0 * f64::EPSILON);
        Ok(())
    }

    #[test]
    fn alpha_limits_agree_with_the_named_cases() -> Result<()> {
        let base = Dist::new(vec![0.2, 0.3, 0.5])?;
        let r = [1.0, -2.0, 0.5];
        let rev = fdiv_optimum(&base, &r, Divergence::ReverseKl, 0.7)?;
        let near1 = fdiv_optimum(&base, &r, Divergence::Alpha(1.0 + 1e-7), 0.7)?;
        let fwd = fdiv_optimum(&base, &r, Divergence::ForwardKl, 0.7)?;
        let a0 = fdiv_optimum(&base, &r, Divergence::Alpha(0.0), 0.7)?;
        for i in 0..3 {
            // alpha -> 1 converges at rate O(alpha - 1) = 1e-7.
            assert!((rev.solution.policy.prob(i) - near1.solution.policy.prob(i)).abs() < 1e-6);
            assert!((fwd.solution.policy.prob(i) - a0.solution.policy.prob(i)).abs() < 1e-15);
        }
        Ok(())
    }

    /// The forward-KL optimum when the top reward's base mass is subnormal (`3.2e-320`): the
    /// root `ln b` lies near `ln pi0(argmax) = -736.0`, which the bracket must contain when that
    /// logarithm is read from the log view (the linear view, `3.2e-320` to `4.9e-324` absolute,
    /// put the bracket's end at `-735.66` and the root outside it).
    #[test]
    fn forward_kl_with_a_subnormal_top_mass() -> Result<()> {
        let base = Dist::from_log_weights(&[(3.209e-320f64).ln(), 0.0])?;
        let s = forward_kl(&base, &[245.15761941386546, 0.0], 0.012937200522615178)?;
        let sum: f64 = s.solution.policy.probs().iter().sum();
        assert!((sum - 1.0).abs() <= 4.0 * f64::EPSILON, "{sum}");
        // pi(1) = gamma pi0(1) / lambda with lambda ~ 245.16: about 5.3e-5.
        let want = 0.012937200522615178 / s.lambda;
        let got = s.solution.policy.prob(1);
        assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
        Ok(())
    }

    /// A subnormal argmax mass `2.08e-315` (reward 1) beside a heavy outcome (reward 0), alpha
    /// just below 1 (`c = -0.0035`): the argmax class alone puts the bracket's lower edge at
    /// `ln b = |c| ln p_A = -2.54`, where the heavy outcome's term `t = (b + |c|)^{1/c}` is
    /// `e^712` and the normalization sum overflowed (no convergence). The heavy term sets the
    /// edge `ln(1 - |c|)` instead, and the optimum is near it: the heavy outcome keeps
    /// `pi(1) = t_1 = (b + |c|)^{1/c} = 1 - O(1e-314)`, the argmax a subnormal mass.
    #[test]
    fn alpha_root_brackets_inside_a_heavy_term() -> Result<()> {
        let a = 0.9964983011382051;
        let c: f64 = a - 1.0;
        let base = Dist::from_log_weights(&[(2.08454294e-315f64).ln(), 0.0])?;
        let s = fdiv_optimum(&base, &[1.0, 0.0], Divergence::Alpha(a), 1.0)?;
        let pi = &s.solution.policy;
        let sum: f64 = pi.probs().iter().sum();
        assert!((sum - 1.0).abs() <= 4.0 * f64::EPSILON, "{sum}");
        // KKT: beta f'(t) = r - lambda at both outcomes, so f'(t_A) - f'(t_1) = 1.
        let f_prime = |l: f64| Divergence::Alpha(a).f_prime_at_log(l);
        let l_a = pi.log_prob(0) - base.log_prob(0);
        let l_1 = pi.log_prob(1) - base.log_prob(1);
        let gap = f_prime(l_a) - f_prime(l_1);
        assert!((gap - 1.0).abs() <= 1e-10, "{gap}");
        // pi(1) = 1 - O(1e-314), so t_1^c = b + |c| = 1 and t_A = b^{1/c} = (1 - |c|)^{1/c}.
        let want = (-c.abs()).ln_1p() / c;
        assert!((l_a - want).abs() <= 1e-12 * want, "{l_a} vs {want}");
        Ok(())
    }

    /// A policy mass of 0.1 where the base has 1e-310 (subnormal): `pi/pi0` overflows and
    /// `f_alpha(inf)` is `inf - inf`, which made the divergence NaN. The term is the perspective
    /// `pi^alpha pi0^(1-alpha) / (alpha (alpha - 1))` up to terms of order 1:
    /// `0.1^1.5 (1e-310)^-0.5 / 0.75 = 10^153.5 / 0.75`; at `alpha = 1` it is
    /// `0.1 ln(0.1/1e-310) - 0.1 = 0.1 (309 ln 10) - 0.1`, plus the first outcome's
    /// `0.9 ln 0.9 - 0.9 + 1`.
    #[test]
    fn alpha_divergence_survives_an_overflowing_ratio() -> Result<()> {
        let base = Dist::new(vec![1.0, 1e-310])?;
        let policy = Dist::new(vec![0.9, 0.1])?;
        let d = divergence_value(&policy, &base, Divergence::Alpha(1.5))?;
        let want = 10f64.powf(153.5) / 0.75;
        assert!(((d - want) / want).abs() < 1e-12, "{d} vs {want}");
        let d1 = divergence_value(&policy, &base, Divergence::Alpha(1.0))?;
        let want1 = 0.1 * (309.0 * 10f64.ln()) - 0.1 + (0.9 * 0.9f64.ln() - 0.9 + 1.0);
        assert!((d1 - want1).abs() < 1e-12 * want1, "{d1} vs {want1}");
        let d0 = divergence_value(&policy, &base, Divergence::Alpha(0.0))?;
        assert!(d0.is_finite() && d0 > 0.0, "{d0}");
        // pi/pi0 = 0.0005/6.1e-312 = 8e307 is finite, but t^alpha and alpha (t - 1) overflow
        // (inf - inf); the true term 0.0005^a (6.1e-312)^(1-a) / (a (a-1)) is ~1e531: +inf.
        let base = Dist::new(vec![1.0, 6.144527892927e-312])?;
        let policy = Dist::new(vec![0.9995, 0.0005])?;
        let d = divergence_value(&policy, &base, Divergence::Alpha(2.7356654230234945))?;
        assert_eq!(d, f64::INFINITY);
        Ok(())
    }
}
