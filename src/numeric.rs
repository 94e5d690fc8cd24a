//! Numerical building blocks: stable log-sum-exp, `log(1 - e^x)`, compensated summation, and a
//! safeguarded root finder for monotone functions.
//!
//! Everything here is exact-arithmetic mathematics evaluated carefully in `f64`; each function
//! states the regime in which it is accurate.

use crate::error::{Error, Result};
use std::f64::consts::LN_2;

/// Neumaier's compensated sum: the running error of naive summation is carried in a second
/// accumulator, so the result has relative error about `2 eps` independent of the number of terms
/// (for sums without massive cancellation).
#[derive(Debug, Clone, Copy, Default)]
pub struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    /// An empty sum (0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one term.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    /// The current value of the sum (an infinite running sum is returned as is: its
    /// compensation term is `inf - inf = NaN` and carries no information).
    #[inline]
    pub fn value(&self) -> f64 {
        if self.sum.is_infinite() {
            return self.sum;
        }
        self.sum + self.compensation
    }
}

impl FromIterator<f64> for CompensatedSum {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut s = CompensatedSum::new();
        for x in iter {
            s.add(x);
        }
        s
    }
}

/// Compensated sum of an iterator of terms; see [`CompensatedSum`].
pub fn sum<I: IntoIterator<Item = f64>>(terms: I) -> f64 {
    terms.into_iter().collect::<CompensatedSum>().value()
}

/// Blocked summation for hot loops: terms are added naively within blocks of [`Self::BLOCK`]
/// and the block sums are combined with [`CompensatedSum`]. Relative error is at most about
/// `BLOCK * eps` for sums of non-negative terms (in practice `sqrt(BLOCK) * eps`), at nearly the
/// speed of a naive loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockSum {
    block: f64,
    count: usize,
    total: CompensatedSum,
}

impl BlockSum {
    /// Terms per naive block.
    pub const BLOCK: usize = 64;

    /// An empty sum.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one term.
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.block += x;
        self.count += 1;
        if self.count == Self::BLOCK {
            self.total.add(self.block);
            self.block = 0.0;
            self.count = 0;
        }
    }

    /// The current value.
    #[inline]
    pub fn value(&self) -> f64 {
        let mut t = self.total;
        t.add(self.block);
        t.value()
    }
}

/// `log(sum_i exp(x_i))`, computed as `m + log(sum exp(x_i - m))` with `m = max x_i`, so no term
/// overflows. Entries may be `-inf` (zero weight); returns `-inf` if all are (or the slice is
/// empty), `+inf` if any entry is `+inf`. NaN entries give NaN (callers validate first).
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let (m, ln_s) = log_sum_exp_parts(xs);
    if m.is_infinite() {
        return m;
    }
    m + ln_s
}

/// `(m, ln s)` with `m = max xs` and `s = sum e^{x - m}`, so that `log_sum_exp = m + ln s`; kept
/// apart, `x - m - ln s` has no rounding from a sum `m + ln s` of size `|m|` (`(-inf, 0)` for
/// an empty slice or all `-inf`).
pub(crate) fn log_sum_exp_parts(xs: &[f64]) -> (f64, f64) {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_infinite() {
        return (m, 0.0);
    }
    let mut s = BlockSum::new();
    for &x in xs {
        s.add((x - m).exp());
    }
    (m, s.value().ln())
}

/// `log(exp(a) + exp(b))` without overflow.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `log(1 - exp(x))` for `x <= 0`, accurate over the whole range (Maechler 2012): uses
/// `log(-expm1(x))` for `x > -ln 2` and `log1p(-exp(x))` otherwise. Returns `-inf` at `x = 0`
/// and NaN for `x > 0`.
pub fn log1mexp(x: f64) -> f64 {
    if x > -std::f64::consts::LN_2 {
        (-x.exp_m1()).ln()
    } else {
        (-x.exp()).ln_1p()
    }
}

/// `log(exp(a) - exp(b))` for `a >= b`, accurate when the two are close.
pub fn log_sub_exp(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    a + log1mexp(b - a)
}

/// `-log(p)` for a probability given as `p = 1 - complement`, accurate both when `p` is tiny and
/// when `p` is close to 1 (pass the directly summed complement mass in the latter case).
pub fn neg_log_mass(mass: f64, complement: f64) -> f64 {
    if mass > 0.5 {
        -(-complement).ln_1p()
    } else {
        -mass.ln()
    }
}

/// Stopping rule for [`monotone_root`].
#[derive(Debug, Clone, Copy)]
pub struct RootTolerance {
    /// Stop when the bracket is narrower than `x_abs + x_rel * |x|`.
    pub x_abs: f64,
    /// Relative part of the bracket-width rule.
    pub x_rel: f64,
    /// Stop when `|f(x)| <= f_abs`.
    pub f_abs: f64,
    /// Iteration cap (each iteration costs one evaluation).
    pub max_iter: usize,
}

impl Default for RootTolerance {
    fn default() -> Self {
        Self {
            x_abs: 1e-14,
            x_rel: 4.0 * f64::EPSILON,
            f_abs: 0.0,
            max_iter: 200,
        }
    }
}

/// Finds a root of an increasing function on a bracket by Newton's method safeguarded by
/// bisection.
///
/// `f(x)` returns `(value, derivative)`. Requires `lo < hi`, `f(lo) <= 0 <= f(hi)` (checked) and
/// `f` non-decreasing on `[lo, hi]` (assumed). Each Newton step that would leave the current
/// bracket, or that fails to halve `|f|`, is replaced by a bisection step, so convergence is
/// guaranteed (at worst linear, at the bisection rate) and is quadratic near a simple root.
/// Returns the last iterate `x` with the bracket `[lo, hi]` containing the root shrunk below the
/// tolerance, or `|f(x)| <= tol.f_abs`.
pub fn monotone_root<F>(mut f: F, mut lo: f64, mut hi: f64, tol: RootTolerance) -> Result<f64>
where
    F: FnMut(f64) -> Result<(f64, f64)>,
{
    if !(lo < hi) {
        return Err(Error::InvalidInput(format!(
            "root bracket [{lo}, {hi}] is empty"
        )));
    }
    let (flo, dlo) = f(lo)?;
    let (fhi, dhi) = f(hi)?;
    if flo > 0.0 || fhi < 0.0 {
        return Err(Error::NoConvergence(format!(
            "no sign change on [{lo}, {hi}]: f = {flo}, {fhi}"
        )));
    }
    if flo == 0.0 {
        return Ok(lo);
    }
    if fhi == 0.0 {
        return Ok(hi);
    }
    // Start from the Newton step off the end with the smaller |f| when it falls inside the
    // bracket (a bracket found around a good guess is often much wider on one side).
    let (x0, f0, d0) = if flo.abs() <= fhi.abs() {
        (lo, flo, dlo)
    } else {
        (hi, fhi, dhi)
    };
    let newton0 = x0 - f0 / d0;
    let mut x = if d0 > 0.0 && d0.is_finite() && newton0 > lo && newton0 < hi {
        newton0
    } else {
        0.5 * (lo + hi)
    };
    let mut last_abs = f64::INFINITY;
    let mut after_bisection = true;
    for _ in 0..tol.max_iter {
        let (fx, dfx) = f(x)?;
        if !fx.is_finite() {
            return Err(Error::NoConvergence(format!("f({x}) = {fx}")));
        }
        if fx.abs() <= tol.f_abs || fx == 0.0 {
            return Ok(x);
        }
        if fx < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let x_tol = tol.x_abs + tol.x_rel * x.abs();
        if hi - lo <= x_tol {
            return Ok(x);
        }
        let newton = x - fx / dfx;
        // A Newton correction below the x tolerance means the root is within it of x; without
        // this, an f at its rounding floor (|f| just above f_abs) sends the iteration into
        // bisection all the way down from the far bracket end.
        // (An infinite derivative, e.g. an overflowed variance, gives no information: bisect.)
        let usable = dfx > 0.0 && dfx.is_finite();
        if usable && (newton - x).abs() <= x_tol {
            return Ok(x);
        }
        let inside = usable && newton > lo && newton < hi;
        // Newton is trusted while it at least halves |f|, and retried after every bisection
        // step (so bisection at worst alternates with it and the bracket still halves).
        let good = inside && (fx.abs() < 0.5 * last_abs || after_bisection);
        let next = if good { newton } else { 0.5 * (lo + hi) };
        after_bisection = !good;
        last_abs = fx.abs();
        if next == x {
            return Ok(x);
        }
        x = next;
    }
    Err(Error::NoConvergence(format!(
        "monotone root finder reached {} iterations with bracket [{lo}, {hi}]",
        tol.max_iter
    )))
}

/// The maximum of `f` on `[a, b]` by golden-section search: `(x, f(x))` at the best point
/// evaluated.
///
/// Each step keeps the interior point of larger value, shrinks the bracket by the factor
/// `(sqrt 5 - 1)/2` and evaluates `f` once; it stops when the interior points no longer lie
/// strictly inside the bracket (they have met in the last bits) or after 200 steps
/// (`0.618^200 ~ 1e-42` of the bracket). Assumes `f` unimodal on `[a, b]`; otherwise the
/// result is a local maximum. A NaN value compares as neither larger nor smaller and steers the
/// search to one side; of the last two points, a non-NaN value is returned before a NaN.
pub(crate) fn golden_section_max(
    mut f: impl FnMut(f64) -> f64,
    mut a: f64,
    mut b: f64,
) -> (f64, f64) {
    const SHRINK: f64 = 0.618_033_988_749_894_9; // (sqrt 5 - 1)/2
    let (mut x1, mut x2) = (b - SHRINK * (b - a), a + SHRINK * (b - a));
    let (mut f1, mut f2) = (f(x1), f(x2));
    for _ in 0..200 {
        if !(a < x1 && x1 < x2 && x2 < b) {
            break;
        }
        if f1 < f2 {
            (a, x1, f1) = (x1, x2, f2);
            x2 = a + SHRINK * (b - a);
            f2 = f(x2);
        } else {
            (b, x2, f2) = (x2, x1, f1);
            x1 = b - SHRINK * (b - a);
            f1 = f(x1);
        }
    }
    if f1 >= f2 || f2.is_nan() {
        (x1, f1)
    } else {
        (x2, f2)
    }
}

/// `sum x_i y_i` over the shorter of the two, summed in order (no compensation).
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// A non-negative number `m 2^e` with `m` in `[1, 2)` (or `m = 0`): the exponent is unbounded,
/// so products and quotients of doubles never overflow or lose bits to the subnormal range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scaled {
    m: f64,
    e: i64,
}

/// `x 2^k` for `|k| <= 2200`, in two exact power-of-two factors (each within the normal range),
/// so the only rounding is the final under- or overflow.
pub(crate) fn times_pow2(x: f64, k: i32) -> f64 {
    let half = k / 2;
    let pow = |m: i32| 2f64.powi(m);
    x * pow(half) * pow(k - half)
}

/// `2^k` for `k` in `[-1022, 1023]`.
pub(crate) fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `m 2^k` for `m` in `[0, 4)`, rounded once (into the subnormal range, or to `+inf`).
fn ldexp(m: f64, k: i64) -> f64 {
    if m == 0.0 || k < -1100 {
        // m 2^k < 2^-1098: below half the smallest subnormal.
        0.0
    } else if k > 1025 {
        f64::INFINITY
    } else if k > 1023 {
        m * pow2(1023) * pow2(k - 1023)
    } else if k >= -1022 {
        m * pow2(k)
    } else {
        // The first product is exact (normal), the second rounds once.
        m * pow2(k + 200) * pow2(-200)
    }
}

impl Scaled {
    pub(crate) const ZERO: Scaled = Scaled { m: 0.0, e: 0 };

    /// A finite non-negative double, exactly.
    pub(crate) fn new(x: f64) -> Scaled {
        if x == 0.0 {
            return Scaled::ZERO;
        }
        let bits = x.to_bits();
        let field = ((bits >> 52) & 0x7ff) as i64;
        if field == 0 {
            // Subnormal: scale into the normal range first (exact).
            let s = Scaled::new(x * pow2(64));
            return Scaled {
                m: s.m,
                e: s.e - 64,
            };
        }
        let m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
        Scaled { m, e: field - 1023 }
    }

    /// `e^v` (to the accuracy of `exp` at the reduced argument; `v - k ln 2` carries
    /// `eps |v|`). The exponent is kept within `+-2^40`, so that sums of a few exponents stay
    /// integers: below `e^{-2^40 ln 2}` the result is 0, above `e^{2^40 ln 2}` it saturates
    /// there (no double is within either bound of 1 by a factor `2^1100`).
    pub(crate) fn exp(v: f64) -> Scaled {
        const LIMIT: f64 = (1u64 << 40) as f64;
        if !(v / LN_2 > -LIMIT) {
            return Scaled::ZERO;
        }
        if v / LN_2 > LIMIT {
            return Scaled { m: 1.0, e: 1 << 40 };
        }
        let k = (v / LN_2).floor();
        let s = Scaled::new((v - k * LN_2).exp());
        Scaled {
            m: s.m,
            e: s.e + k as i64,
        }
    }

    /// `m 2^e` for a finite `m >= 0`, normalized.
    fn renormalized(m: f64, e: i64) -> Scaled {
        let s = Scaled::new(m);
        if s.m == 0.0 {
            Scaled::ZERO
        } else {
            Scaled { m: s.m, e: s.e + e }
        }
    }

    pub(crate) fn mul(self, o: Scaled) -> Scaled {
        Scaled::renormalized(self.m * o.m, self.e + o.e)
    }

    /// `self / o` (`o` non-zero).
    pub(crate) fn div(self, o: Scaled) -> Scaled {
        Scaled::renormalized(self.m / o.m, self.e - o.e)
    }

    pub(crate) fn add(self, o: Scaled) -> Scaled {
        let (hi, lo) = if self.m == 0.0 || (o.m != 0.0 && o.e > self.e) {
            (o, self)
        } else {
            (self, o)
        };
        Scaled::renormalized(hi.m + ldexp(lo.m, lo.e - hi.e), hi.e)
    }

    /// The binary exponent `e` of `m 2^e` (0 for zero).
    pub(crate) fn exponent(self) -> i64 {
        self.e
    }

    /// The largest exponent among the non-zero `values` (0 if none is): the power of two that
    /// brings the largest of them near 1.
    pub(crate) fn top_exponent(values: &[Scaled]) -> i64 {
        values
            .iter()
            .filter(|w| **w != Scaled::ZERO)
            .map(|w| w.exponent())
            .max()
            .unwrap_or(0)
    }

    /// `sqrt(self)`: the exponent is halved exactly, so the only rounding is that of one
    /// `sqrt` (and of the final [`Self::value`]).
    pub(crate) fn sqrt(self) -> Scaled {
        let even = self.e - self.e.rem_euclid(2);
        Scaled::renormalized((self.m * pow2(self.e - even)).sqrt(), even / 2)
    }

    /// `sum values`, compensated at the scale of the largest: each term is brought to that
    /// scale (exact but for the terms below `2^-1074` of the largest, which round to a multiple
    /// of `2^-1074`), so `n` terms carry the compensated sum's error plus at most `n 2^-1075`
    /// relative to the largest.
    pub(crate) fn sum(values: &[Scaled]) -> Scaled {
        let top = Scaled::top_exponent(values);
        let total: CompensatedSum = values.iter().map(|v| v.times_pow2(-top).value()).collect();
        Scaled::renormalized(total.value(), top)
    }

    /// `self 2^k`, exactly.
    pub(crate) fn times_pow2(self, k: i64) -> Scaled {
        Scaled {
            m: self.m,
            e: self.e + k,
        }
    }

    /// The nearest double (`+inf` beyond the range).
    pub(crate) fn value(self) -> f64 {
        ldexp(self.m, self.e)
    }

    /// `ln` (`-inf` at zero).
    pub(crate) fn ln(self) -> f64 {
        if self.m == 0.0 {
            f64::NEG_INFINITY
        } else {
            self.m.ln() + self.e as f64 * LN_2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth maximum is located to the square root of the rounding (`f` is flat there to
    /// `eps`), its value to rounding, with one evaluation per step; an edge maximum is found at
    /// the edge.
    #[test]
    fn golden_section_finds_interior_and_edge_maxima() {
        let mut calls = 0;
        let (x, v) = golden_section_max(
            |x| {
                calls += 1;
                2.0 - (x - 0.3).powi(2)
            },
            -1.0,
            4.0,
        );
        assert!(
            (x - 0.3).abs() < 1e-7 && (v - 2.0).abs() <= 4.0 * f64::EPSILON,
            "{x} {v}"
        );
        assert!(calls <= 202, "{calls}");
        let (x, _) = golden_section_max(|x| x, 0.0, 1.0);
        assert!(x > 1.0 - 1e-12, "{x}");
    }

    /// `e^v` for `v` far beyond the doubles: an exponent of `-1e300 / ln 2` would leave the
    /// integers, and adding two of them (a product) overflowed; below `e^{-2^40 ln 2}` the value
    /// is 0, and `e^-2000` keeps its exponent `floor(-2000 / ln 2) = -2886`.
    #[test]
    fn scaled_exp_far_below_the_doubles_is_zero_and_multiplies() {
        let tiny = Scaled::exp(-1e300);
        assert_eq!(tiny, Scaled::ZERO);
        assert_eq!(tiny.mul(tiny), Scaled::ZERO);
        let small = Scaled::exp(-2000.0);
        assert_eq!(small.exponent(), -2886);
        assert_eq!(small.mul(small).exponent(), -5771);
        assert_eq!(small.value(), 0.0);
        assert_eq!(Scaled::exp(f64::NAN), Scaled::ZERO);
    }

    /// `sqrt` halves the exponent exactly: `(3 2^-2001)^2 = 9 2^-4002` (odd exponent after
    /// normalization: `9 = 1.125 2^3`) comes back as `3 2^-2001`, and `2^-1074` (the smallest
    /// subnormal) as `2^-537`.
    #[test]
    fn scaled_sqrt_halves_the_exponent_exactly() {
        let x = Scaled::new(3.0).times_pow2(-2001);
        assert_eq!(x.mul(x).sqrt(), x);
        assert_eq!(
            Scaled::new(f64::from_bits(1)).sqrt().value(),
            2f64.powi(-537)
        );
        assert_eq!(Scaled::ZERO.sqrt(), Scaled::ZERO);
        assert_eq!(Scaled::new(2.0).sqrt().value(), std::f64::consts::SQRT_2);
    }

    /// The sum is compensated at the largest term's scale: `2^-3000 (1 + 2^-53 + 2^-53) =
    /// 2^-3000 (1 + 2^-52)` keeps both small terms (a chain of `add`s rounds each away), a term
    /// `2^-2000` below the largest is dropped, and zeros are ignored.
    #[test]
    fn scaled_sum_is_compensated_at_the_largest_scale() {
        let one = Scaled::new(1.0).times_pow2(-3000);
        let small = one.times_pow2(-53);
        let total = Scaled::sum(&[one, small, Scaled::ZERO, small]);
        assert_eq!(total.times_pow2(3000).value(), 1.0 + f64::EPSILON);
        let chained = one.add(small).add(small);
        assert_eq!(chained.times_pow2(3000).value(), 1.0);
        assert_eq!(Scaled::sum(&[one, one.times_pow2(-2000)]), one);
        assert_eq!(Scaled::sum(&[]), Scaled::ZERO);
    }

    #[test]
    fn log_sum_exp_handles_huge_and_neg_infinite_entries() {
        let v = log_sum_exp(&[1e300, 1e300, f64::NEG_INFINITY]);
        assert_eq!(v, 1e300); // + ln 2 is below half an ulp of 1e300
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY]), f64::NEG_INFINITY);
        let v = log_sum_exp(&[0.0, 0.0]);
        assert!((v - std::f64::consts::LN_2).abs() <= f64::EPSILON);
    }

    #[test]
    fn log1mexp_is_accurate_at_both_ends() {
        // log(1 - e^{-1e-20}) = log(1e-20) to double precision.
        assert!((log1mexp(-1e-20) - (1e-20f64).ln()).abs() < 1e-14);
        // log(1 - e^{-50}) = -e^{-50} to double precision.
        let v = log1mexp(-50.0);
        assert!((v + (-50.0f64).exp()).abs() <= 1e-16 * (-50.0f64).exp());
    }

    #[test]
    fn compensated_sum_recovers_cancelled_terms() {
        let s = sum([1.0, 1e100, 1.0, -1e100]);
        assert_eq!(s, 2.0);
        assert_eq!(sum([1.0, f64::INFINITY]), f64::INFINITY);
    }

    #[test]
    fn root_finder_stops_at_the_rounding_floor_instead_of_bisecting() {
        // f(x) = 3 (x - c) with c = x0 + ulp(x0)/2 halfway between two doubles: |f| >= 1.5 ulp
        // = 6.7e-16 > f_abs at every double, and the Newton correction from x0 is half an ulp,
        // so it rounds back onto x0. The old rule then bisected from the far bracket end
        // down to 1e-15 (about 50 evaluations).
        let x0 = 2.78f64;
        let h = 0.5 * (f64::from_bits(x0.to_bits() + 1) - x0);
        let mut evals = 0;
        let tol = RootTolerance {
            x_abs: 1e-15,
            x_rel: 2.0 * f64::EPSILON,
            f_abs: 2.0 * f64::EPSILON,
            max_iter: 300,
        };
        let x = monotone_root(
            |x| {
                evals += 1;
                Ok((3.0 * ((x - x0) - h), 3.0))
            },
            0.0,
            10.0,
            tol,
        )
        .unwrap_or(f64::NAN);
        assert!((x - x0).abs() <= 2.0 * h, "{x} vs {x0}");
        assert!(evals <= 8, "{evals} evaluations");
    }

    #[test]
    fn root_finder_starts_from_the_better_bracket_end() {
        // f(x) = x^3 - 2 on [1.25, 8]: the midpoint 4.6 is far from the root 1.26 while a
        // Newton step from 1.25 lands within 1e-4 of it; from there quadratic convergence
        // needs about 3 more steps (the midpoint start took 8 evaluations plus the two ends).
        let mut evals = 0;
        let x = monotone_root(
            |x| {
                evals += 1;
                Ok((x * x * x - 2.0, 3.0 * x * x))
            },
            1.25,
            8.0,
            RootTolerance::default(),
        )
        .unwrap_or(f64::NAN);
        assert!((x - 2f64.cbrt()).abs() < 1e-14);
        assert!(evals <= 7, "{evals} evaluations");
    }

    #[test]
    fn an_infinite_derivative_falls_back_to_bisection() {
        // f(x) = x - 1 with a derivative reported as +inf (as when a variance overflows): the
        // Newton step is 0, which must not be taken for convergence.
        let r = monotone_root(
            |x| Ok((x - 1.0, f64::INFINITY)),
            0.0,
            3.0,
            RootTolerance::default(),
        );
        let x = r.unwrap_or(f64::NAN);
        assert!((x - 1.0).abs() < 1e-13, "{x}");
    }

    #[test]
    fn root_finder_converges_and_rejects_bad_brackets() {
        let r = monotone_root(
            |x| Ok((x * x * x - 2.0, 3.0 * x * x)),
            0.0,
            2.0,
            RootTolerance::default(),
        );
        let x = r.unwrap_or(f64::NAN);
        assert!((x - 2f64.cbrt()).abs() < 1e-14);
        let bad = monotone_root(|x| Ok((x + 10.0, 1.0)), 0.0, 1.0, RootTolerance::default());
        assert!(matches!(bad, Err(Error::NoConvergence(_))));
    }
}
