//! The chi-square-plus-KL regularizer of chiPO (claim `pref.chipo`) and the Lambert function
//! it needs.
//!
//! # The problem
//!
//! Maximize `E_pi[r] - beta D(pi||pi0)` with `D = sum pi0 f(pi/pi0)`,
//! `f(t) = (t - 1)^2/2 + t log t` (half Pearson's chi-square plus the reverse KL). `f` is strictly
//! convex with `f'(t) = t + log t`, which runs over all of `R` as `t` runs over `(0, inf)`: the
//! optimum never clips (every support outcome keeps positive mass) and never needs mass off
//! `supp pi0` (`D` is infinite there).
//!
//! # The KKT form
//!
//! With density ratio `t = pi/pi0` and multiplier `lambda` for `sum pi = 1`:
//! `t + log t = (r - lambda)/beta`, i.e. `t e^t = e^{(r - lambda)/beta}`, so
//!
//! ```text
//! pi(x) = pi0(x) W(exp((r(x) - lambda)/beta)),
//! ```
//!
//! `W` the principal branch of the Lambert function. Since `W(e^y) <= y` for `y >= 1`, the
//! density ratio grows at most linearly in the reward, where the tilt's grows exponentially.
//!
//! # The solver
//!
//! With `r* = max r` on the support, `d(x) = (r* - r(x))/beta >= 0` and the unknown
//! `u = (r* - lambda)/beta`, the normalization `F(u) = sum pi0 W(e^{u - d}) - 1` is increasing
//! (`dW(e^y)/dy = W/(1 + W)`), with `F(1) <= 0` (every `W(e^{1-d}) <= W(e) = 1`) and
//! `F(1/p_A + ln(1/p_A)) >= 0` (the argmax class alone, `p_A` its base mass, has density ratio
//! `1/p_A` there), and `F(1 + E_pi0[d]) >= 0` (Jensen: `W(e^y)` is convex in `y`). The root is
//! found by Newton's method from the upper end, safeguarded by bisection, with
//! each Lambert evaluation warm-started from the previous iterate's.
//! Log masses use `log W(e^y) = y - W(e^y)` (from `W e^W = e^y`), so masses below the `f64` range
//! keep their logarithms.

use super::Solution;
use crate::dist::{check_reward, Dist};
use crate::error::{require_positive, Error, Result};
use crate::numeric::CompensatedSum;
use serde::Serialize;

/// Below this `y`, `W(e^y) = x (1 - x)` with `x = e^y` is exact to `x^2 < 2e-35` relative.
const SMALL_Y: f64 = -40.0;

/// Above this `y` the starting point is the asymptotic series, whose relative error is below
/// `(ln y / y)^2 < 1e-6` there.
const LARGE_Y: f64 = 1e4;

/// `W(e^y)`, the principal Lambert function at `e^y`, for every `y` from `-inf` to `f64::MAX`
/// (`e^y` itself may overflow: the computation never forms it for `y > SMALL_Y`).
///
/// It solves `w + ln w = y` for `w > 0`. For `y < -40`: `x - x^2`, `x = e^y` (the series
/// `W(x) = x - x^2 + 3x^3/2 - ...` truncated, exact to `x^2` relative). Otherwise from a starting
/// point, Winitzki's approximation `L (1 - ln(1 + L)/(2 + L))` with `L = ln(1 + e^y)` for
/// `y <= 1e4` and the asymptotic series `y - ln y + ln y / y` above, followed by Fritsch's
/// iteration (fourth order: error `e -> (2w^2 - 8w - 1)/(72 (1 + w)^6) e^4`) written in the
/// variable `y`: `z = y - ln w - w`, `q = 2 (1 + w)(1 + w + 2z/3)`,
/// `w <- w (1 + z/(1 + w) (q - z)/(q - 2z))`. Winitzki's start is within 2% everywhere, so one
/// step leaves `< 1e-8` and the second full precision; the iteration stops after the step whose
/// relative change is below `1e-4` (the next would change `w` by less than `1e-18` relative).
/// For `w > 1e100`, where `(1 + w)^2` would overflow, the step is Newton's,
/// `w <- w - z' w/(1 + w)` with `z' = w + ln w - y` (quadratic; one step from the series suffices).
///
/// Accuracy: a few ulps relative, against an 50-digit reference
/// (`tests/fixtures/lambert_w_exp_reference.json`, from `scripts/reference_lambert_w.py`).
pub fn lambert_w_exp(y: f64) -> f64 {
    if y.is_nan() {
        return f64::NAN;
    }
    if y < SMALL_Y {
        let x = y.exp();
        return x - x * x;
    }
    if y == f64::INFINITY {
        return f64::INFINITY;
    }
    let w = if y <= LARGE_Y {
        let l = if y > 30.0 {
            y + (-y).exp()
        } else {
            y.exp().ln_1p()
        };
        l * (1.0 - l.ln_1p() / (2.0 + l))
    } else {
        let ly = y.ln();
        y - ly + ly / y
    };
    refine(y, w)
}

/// Fritsch's iteration for `w + ln w = y` from `w > 0` (Newton's above `w = 1e100`), until a
/// step changes `w` by less than `1e-4` relative (see [`lambert_w_exp`]); at most 8 steps.
fn refine(y: f64, mut w: f64) -> f64 {
    for _ in 0..8 {
        let next = if w > 1e100 {
            let z = w + w.ln() - y;
            w - z * (w / (1.0 + w))
        } else {
            let z = y - w.ln() - w;
            let q = 2.0 * (1.0 + w) * (1.0 + w + 2.0 * z / 3.0);
            w * (1.0 + z / (1.0 + w) * (q - z) / (q - 2.0 * z))
        };
        let change = ((next - w) / next).abs();
        w = next;
        if !(change > 1e-4) {
            break;
        }
    }
    w
}

/// `ln W(e^y) = y - W(e^y)`, finite for every finite `y` (also where `W(e^y)` underflows).
pub fn ln_lambert_w_exp(y: f64) -> f64 {
    let w = lambert_w_exp(y);
    if w < 1.0 {
        y - w
    } else {
        w.ln()
    }
}

/// `f(t) = (t - 1)^2/2 + t ln t`, the chiPO generator (`f(0) = 1/2`).
pub fn chipo_f(t: f64) -> f64 {
    let kl = if t > 0.0 { t * t.ln() } else { 0.0 };
    0.5 * (t - 1.0) * (t - 1.0) + kl
}

/// `D(pi||pi0) = chi2(pi||pi0)/2 + KL(pi||pi0)`, through the crate's divergence routines.
pub fn chipo_divergence(policy: &Dist, base: &Dist) -> Result<f64> {
    Ok(0.5 * crate::divergence::chi_square(policy, base)? + crate::divergence::kl(policy, base)?)
}

/// The chiPO optimum.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ChiPo {
    /// Policy, `E_pi[r]` and `KL(pi||pi0)`.
    #[serde(flatten)]
    pub solution: Solution,
    /// The coefficient `beta`.
    pub beta: f64,
    /// The multiplier: `pi = pi0 W(exp((r - lambda)/beta))`.
    pub lambda: f64,
}

/// `G(u) = S(u) - total` with `S(u) = sum pi0 W(e^{u - d})`, and `G'(u) = S'(u) =
/// sum pi0 W/(1 + W)`. Each evaluation keeps its `W`s: the next one, at `u'`, starts Fritsch's
/// iteration from `W exp((u' - u)/(1 + W))` (the first-order prediction of `ln W`, whose
/// derivative in `y` is `1/(1 + W)`: exact in both the exponential and the linear regime of
/// `W(e^y)`), which one or two steps finish, instead of from Winitzki's approximation.
struct Normalization<'a> {
    p: &'a [f64],
    d: &'a [f64],
    total: f64,
    w: Vec<f64>,
    at: Option<f64>,
}

impl Normalization<'_> {
    fn eval(&mut self, u: f64) -> Result<(f64, f64)> {
        let warm = self.at;
        let (mut h, mut dh) = (CompensatedSum::new(), CompensatedSum::new());
        for ((&pi0, &di), wi) in self.p.iter().zip(self.d).zip(self.w.iter_mut()) {
            if pi0 > 0.0 {
                let y = u - di;
                let w = match warm {
                    // Only from a previous point in the iterated range and for a predicted
                    // change of ln W of at most 1: Fritsch's step needs a start of the right
                    // order of magnitude.
                    Some(a)
                        if y >= SMALL_Y
                            && y - (u - a) >= SMALL_Y
                            && ((u - a) / (1.0 + *wi)).abs() <= 1.0 =>
                    {
                        refine(y, *wi * ((u - a) / (1.0 + *wi)).exp())
                    }
                    _ => lambert_w_exp(y),
                };
                *wi = w;
                h.add(pi0 * w);
                dh.add(pi0 * (w / (1.0 + w)));
            }
        }
        self.at = Some(u);
        let (s, slope) = (h.value(), dh.value());
        let value = s - self.total;
        if !(value.is_finite() && slope.is_finite()) {
            return Err(Error::NoConvergence(format!(
                "chiPO normalization overflowed at u = {u}"
            )));
        }
        Ok((value, slope))
    }
}

/// The root of `G` on `(1, hi]`, `G(1) <= 0 <= G(hi)` known: Newton's method from `hi`,
/// safeguarded by bisection (a step that leaves the bracket, or does not halve `|G|`, is
/// replaced by the midpoint), until the bracket is narrower than `2 eps |u|` or `G = 0`.
/// `G` is increasing and convex in `u` (`d^2 W(e^y)/dy^2 = W/(1 + W)^3 > 0`), so from the right
/// Newton's steps never cross the root and decrease monotonically to it (the bisection
/// safeguard only catches rounding near the root).
fn newton_from_right(norm: &mut Normalization<'_>, hi: f64) -> Result<f64> {
    let (mut lo, mut hi) = (1.0f64, hi);
    let (mut u, mut last) = (hi, f64::INFINITY);
    for _ in 0..400 {
        let (g, dg) = norm.eval(u)?;
        if g == 0.0 {
            return Ok(u);
        }
        if g > 0.0 {
            hi = u;
        } else {
            lo = u;
        }
        if hi - lo <= 2.0 * f64::EPSILON * hi.abs() {
            return Ok(u);
        }
        let newton = u - g / dg;
        if newton == u {
            // The Newton step is below the rounding of u: converged.
            return Ok(u);
        }
        u = if newton > lo && newton < hi && (g > 0.0 || g.abs() <= 0.5 * last) {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if u == lo || u == hi {
            return Ok(u);
        }
        last = g.abs();
    }
    Err(Error::NoConvergence(
        "chiPO normalization root did not converge".into(),
    ))
}

/// The maximizer of `E_pi[r] - beta (chi2(pi||pi0)/2 + KL(pi||pi0))` (claim `pref.chipo`):
/// `pi = pi0 W(exp((r - lambda)/beta))`, `lambda` the normalizing root (module docs).
///
/// Assumptions: `base` any distribution, `reward` finite of the same length, `0 < beta < inf`.
/// Errors: bad input; [`Error::NoConvergence`] when the argmax's density ratio `1/p_A` is beyond
/// the `f64` range (argmax class of subnormal base mass carrying almost all the policy's mass).
///
/// ```
/// use rlhf_claims::{Dist, solve::chipo::chipo};
/// let base = Dist::uniform(2)?;
/// let s = chipo(&base, &[0.0, 0.0], 1.0)?;
/// // A constant reward leaves the base unchanged: W(e^1) = 1.
/// assert!((s.solution.policy.prob(0) - 0.5).abs() < 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn chipo(base: &Dist, reward: &[f64], beta: f64) -> Result<ChiPo> {
    check_reward(base, reward)?;
    require_positive("beta", beta)?;
    let (r_max, neg_log_p_top, d) = super::fdiv::gaps(base, reward, beta);
    let p = base.probs();
    let total = crate::numeric::sum(base.support().map(|i| p[i]));
    // The root u lies in [1, 1 + dbar] (dbar = E_pi0[d]): the terms W(e^{u - d}) are at most
    // W(e^u), which is 1 at u = 1, and by Jensen (W(e^y) is convex in y) their mean is at least
    // W(e^{u - dbar}), which is 1 at u = 1 + dbar. Also u <= 1/p_A + ln(1/p_A) (the argmax class
    // alone). The upper end is widened by 1e-9 relative so rounding cannot leave G a hair short
    // of its sign there (a G(hi) < 0 is refused below).
    let dbar = crate::numeric::sum(base.support().map(|i| p[i] * d[i])) / total;
    let edge = (neg_log_p_top.exp() + neg_log_p_top).min(1.0 + dbar);
    let hi = (edge * (1.0 + 1e-9) + 1e-9).min(f64::MAX);
    let mut norm = Normalization {
        p,
        d: &d,
        total,
        w: vec![0.0; p.len()],
        at: None,
    };
    let u = if neg_log_p_top == 0.0 {
        1.0
    } else {
        newton_from_right(&mut norm, hi)?
    };
    let log_ratio: Vec<f64> = (0..base.len())
        .map(|i| {
            if base.in_support(i) {
                ln_lambert_w_exp(u - d[i])
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    let log_weights: Vec<f64> = (0..base.len())
        .map(|i| base.log_prob(i) + log_ratio[i])
        .collect();
    let policy = Dist::from_log_weights(&log_weights)?;
    let kl = super::fdiv::kl_from_log_ratios(base, &log_ratio);
    let gap: CompensatedSum = (0..base.len())
        .filter(|&i| policy.prob(i) > 0.0)
        .map(|i| policy.prob(i) * d[i])
        .collect();
    Ok(ChiPo {
        solution: Solution {
            policy,
            expected_reward: r_max - beta * gap.value(),
            kl,
        },
        beta,
        lambda: r_max - beta * u,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambert_w_solves_its_equation_across_the_range() {
        let ys = [
            -745.0,
            -100.0,
            -40.5,
            -39.5,
            -5.0,
            -1.0,
            0.0,
            1.0,
            3.0,
            30.0,
            31.0,
            709.0,
            710.0,
            1e4,
            1.0001e4,
            1e10,
            1e100,
            1e200,
            1e300,
            f64::MAX,
        ];
        for y in ys {
            let w = lambert_w_exp(y);
            // w + ln w = y to a few ulps of max(|y|, w).
            let resid = (w + ln_lambert_w_exp(y) - y).abs();
            assert!(
                resid <= 8.0 * f64::EPSILON * y.abs().max(1.0),
                "{y}: {w} {resid}"
            );
        }
        assert_eq!(lambert_w_exp(1.0), 1.0);
    }

    #[test]
    fn chipo_on_two_outcomes_solves_the_link() -> Result<()> {
        let base = Dist::new(vec![0.3, 0.7])?;
        let s = chipo(&base, &[2.0, -1.0], 0.5)?;
        for (i, r) in [2.0, -1.0].iter().enumerate() {
            let t = s.solution.policy.prob(i) / base.prob(i);
            let lhs = 0.5 * (t + t.ln());
            assert!(
                (lhs - (r - s.lambda)).abs() < 1e-13,
                "{lhs} {}",
                r - s.lambda
            );
        }
        Ok(())
    }
}
