//! `e^x` and `e^x - 1` in branch-free form, so that loops over arrays that call them vectorize.
//!
//! libm's `exp` is a scalar call with branches; in a loop it costs about 3 ns per element,
//! which is most of a tilt evaluation on 10^7 outcomes. [`exp_expm1`] is written with selects
//! and integer bit operations only, so that LLVM evaluates 2 to 8 of them at once (with the
//! widest vector unit the solvers' [`multiversion`](https://docs.rs/multiversion) dispatch finds
//! at run time). Rust never contracts `a * b + c`, and the polynomial's fused multiply-adds are
//! explicit (`mul_add`, exactly rounded on every target: an FMA instruction on those the
//! dispatch picks, a library call elsewhere), so every target computes bit-identical results.
//!
//! # Method
//!
//! Cody-Waite reduction `x = k ln 2 + r`, `k = round(x / ln 2)`, `|r| <= ln 2 / 2 + 2^-40`, with
//! `ln 2 = LN2_HI + LN2_LO` (fdlibm's split: `LN2_HI` has 21 trailing zero bits, so `k LN2_HI`
//! is exact for `|k| < 2^21`), then `expm1(r) = r + r^2 P(r)` with `P` the Taylor polynomial of
//! `(e^r - 1 - r)/r^2` to degree 11 ([`exp_tail`]; the first term left out, `r^12/14!`, is below
//! `2^-54` of `P` for `|r| <= 0.35`), and
//! `e^x = 2^k (1 + expm1(r))`. The scaling `2^k` is applied as `2^{k1} 2^{k2}`,
//! `k1 = floor(k/2)`, so that results down to the subnormal range round only once. The argument
//! is first clamped to `[-760, 710]` (outside, `e^x` is 0 or `+inf` in double precision).
//!
//! # Accuracy
//!
//! Within 2 ulp of the C library's `exp` and `expm1` (themselves within 1 ulp) on dense grids of
//! `[-760, 712]` and `[-1, 1]`, as the unit tests assert; the largest differences measured on a
//! grid of `[-700, 700]` (step `3.17e-4`) are 1.0 ulp (`exp`) and 1.2 ulp (`expm1`).

const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// fdlibm's `ln2_hi` (bits `0x3fe62e42fee00000`) and `ln2_lo` (bits `0x3dea39ef35793c76`); the
/// unit tests check the bits.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// `1.5 * 2^52`: adding it to `|y| < 2^51` rounds `y` to the nearest integer, which then sits in
/// the low bits of the sum.
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// `2^k` for an integer `k` with `-1022 <= k <= 1023`, from its exponent bits.
#[inline(always)]
fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `(round(y), round(y))` for `|y| < 2^51`, as a double and as an integer, without a branch:
/// adding [`ROUNDER`] rounds `y` to an integer held in the low bits of the sum. Both come from
/// the one sum, so no integer-to-double conversion is needed (AVX2 has none for 64-bit
/// integers, and the scalar one per lane cost a fifth of the vector loop).
#[inline(always)]
fn rounded(y: f64) -> (f64, i64) {
    let sum = y + ROUNDER;
    (
        sum - ROUNDER,
        (sum.to_bits() as i64) - (ROUNDER.to_bits() as i64),
    )
}

/// `(e^x, e^x - 1)`, each within 2 ulp; `x = -inf` gives `(0, -1)`, `x = +inf` gives
/// `(+inf, +inf)`. `x` must not be NaN.
#[inline(always)]
pub(crate) fn exp_expm1(x: f64) -> (f64, f64) {
    let (e, em1_near_zero) = exp_and_expm1_near_zero(x);
    // Beyond |x| < 1, e^x - 1 is formed from e^x with no worse than 1 ulp of cancellation.
    let em1 = if x.abs() < 1.0 {
        em1_near_zero
    } else {
        e - 1.0
    };
    (e, em1)
}

/// The reduction `x = k ln 2 + r` of a clamped argument (`|x| < 2^20 ln 2`), as
/// `(k as a double, k, e^r - 1)`.
#[inline(always)]
fn reduced(x: f64) -> (f64, i64, f64) {
    let (kf, k) = rounded(x * LOG2_E);
    // `kf LN2_HI` is exact (|k| < 2^21), so the fused form rounds only the difference, as the
    // plain one does: the same bits, one instruction and one rounding step less on the path.
    let r = (-kf).mul_add(LN2_HI, x) - kf * LN2_LO;
    (kf, k, r + r * r * exp_tail(r))
}

/// `(e^x, e^x - 1)` as [`exp_expm1`] gives them where `|x| < 1`; for `|x| >= 1` the second is
/// not `e^x - 1` (callers that use it only for small arguments skip the select).
#[inline(always)]
pub(crate) fn exp_and_expm1_near_zero(x: f64) -> (f64, f64) {
    let (kf, k, em1_r) = reduced(x.clamp(-760.0, 710.0));
    // floor(k/2) by rounding k/2 - 1/4 (exact: k/2 is an integer or a half-integer).
    // (0.5 kf is exact, so the fused form gives the same bits.)
    let (_, k1) = rounded(kf.mul_add(0.5, -0.25));
    let (s1, s2) = (pow2(k1), pow2(k - k1));
    let e = ((1.0 + em1_r) * s1) * s2;
    // For |x| < 1, k is -1, 0 or 1 and 2^k (e^r - 1) + (2^k - 1) keeps relative accuracy.
    let s = s1 * s2;
    (e, s * em1_r + (s - 1.0))
}

/// `-1022 ln 2`: below it `e^x` is below the smallest normal double.
const X_MIN_NORMAL: f64 = -708.396_418_532_264_1;

/// `(e^x, e^x - 1)` as [`exp_and_expm1_near_zero`] gives them for `-1022 ln 2 <= x < 709`
/// (the same bits), and `(0, _)` below that range, where `e^x` is subnormal or 0: for a weight
/// `pi0 e^v` whose exact value only matters when it is a normal number (the tilt's pass 1,
/// whose pass 2 forms every smaller mass again from its logarithm). With no subnormal
/// results to round, one scaling by `2^k` replaces the two of [`exp_and_expm1_near_zero`] (a
/// product by `2^k` is exact when it is normal, and rounds once when it is not, as the second
/// of the two scalings did). With this and selects in its block test, pass 1's vector loop
/// went from 97 to 85 instructions per four outcomes (`perf annotate`, AVX2).
#[inline(always)]
pub(crate) fn exp_normal_and_expm1_near_zero(x: f64) -> (f64, f64) {
    let (_, k, em1_r) = reduced(x.clamp(X_MIN_NORMAL, 709.0));
    let s = pow2(k);
    let e = if x < X_MIN_NORMAL {
        0.0
    } else {
        (1.0 + em1_r) * s
    };
    (e, s * em1_r + (s - 1.0))
}

/// `1/(j+2)!` for `j = 0..14`: the Taylor coefficients of `(e^r - 1 - r)/r^2`.
const TAIL: [f64; 14] = {
    let mut c = [0.0; 14];
    let mut fact = 2.0;
    let mut j = 0;
    while j < 14 {
        c[j] = 1.0 / fact;
        fact *= (j + 3) as f64;
        j += 1;
    }
    c
};

/// `sum_{j<12} TAIL[j] r^j` by Estrin's scheme (short dependency chains, so vector lanes stay
/// busy) with fused multiply-adds (`mul_add`: one rounding each, the same bits on every
/// machine; one instruction where the CPU has FMA, which every instruction set the solvers
/// dispatch to has), in two parts: `(low, high, [r^2, r^4, r^8])` with the sum
/// `low + r^8 high`, `low` the terms below `r^8`. Written out (no closures), so that it inlines
/// into every vector loop.
#[inline(always)]
fn estrin_to_degree_11(r: f64) -> (f64, f64, [f64; 3]) {
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let a = [
        r.mul_add(TAIL[1], TAIL[0]),
        r.mul_add(TAIL[3], TAIL[2]),
        r.mul_add(TAIL[5], TAIL[4]),
        r.mul_add(TAIL[7], TAIL[6]),
        r.mul_add(TAIL[9], TAIL[8]),
        r.mul_add(TAIL[11], TAIL[10]),
    ];
    let low = r4.mul_add(r2.mul_add(a[3], a[2]), r2.mul_add(a[1], a[0]));
    let high = r2.mul_add(a[5], a[4]);
    (low, high, [r2, r4, r8])
}

/// `(e^r - 1 - r) / r^2 = sum_{j>=0} r^j / (j + 2)!` to degree 11, for the reduced argument
/// `|r| <= ln 2 / 2` of [`exp_expm1`] (truncation below `2^-54` relative).
#[inline(always)]
fn exp_tail(r: f64) -> f64 {
    let (low, high, [_, _, r8]) = estrin_to_degree_11(r);
    r8.mul_add(high, low)
}

/// `(e^r - 1 - r) / r^2 = sum_{j>=0} r^j / (j + 2)!` to degree 13 (the scheme of
/// [`estrin_to_degree_11`] with two more terms), for `|r| < 1/2`, the range of the KL series of
/// the tilt. The first term left out, `r^14/16!`, is below `2^-57` of the sum there (which is
/// at least `0.42`): a sixteenth of an ulp.
#[inline(always)]
pub(crate) fn expm1_tail(r: f64) -> f64 {
    let (low, high, [_, r4, r8]) = estrin_to_degree_11(r);
    let top = r.mul_add(TAIL[13], TAIL[12]);
    r8.mul_add(r4.mul_add(top, high), low)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `|got - want| <= 2 ulp(want)` (absolute `2^-1074` in the subnormal range).
    fn assert_within_2_ulp(got: f64, want: f64, x: f64, what: &str) {
        let ulp = (want.abs() * f64::EPSILON).max(f64::from_bits(1));
        assert!(
            (got - want).abs() <= 2.0 * ulp || got == want,
            "{what}({x:e}) = {got:e}, libm {want:e}"
        );
    }

    #[test]
    fn ln2_split_is_fdlibms() {
        assert_eq!(LN2_HI.to_bits(), 0x3fe6_2e42_fee0_0000);
        assert_eq!(LN2_LO.to_bits(), 0x3dea_39ef_3579_3c76);
        assert_eq!(LN2_HI.to_bits() & 0x1f_ffff, 0, "21 trailing zero bits");
    }

    #[test]
    fn agrees_with_libm_over_the_whole_range() {
        let mut x = -760.0;
        while x < 712.0 {
            let (e, em1) = exp_expm1(x);
            assert_within_2_ulp(e, x.exp(), x, "exp");
            assert_within_2_ulp(em1, x.exp_m1(), x, "expm1");
            x += 0.000_731;
        }
    }

    #[test]
    fn expm1_keeps_relative_accuracy_near_zero() {
        let mut x = -1.0;
        while x < 1.0 {
            assert_within_2_ulp(exp_expm1(x).1, x.exp_m1(), x, "expm1");
            x += 1.37e-6;
        }
        for x in [1e-300, -1e-300, 1e-17, -3e-12, 0.0, -0.0] {
            assert_within_2_ulp(exp_expm1(x).1, x.exp_m1(), x, "expm1");
        }
    }

    /// The same bits as the general form from `-1022 ln 2` to 709 (densely, and at the ends),
    /// 0 below; `expm1` the same near 0.
    #[test]
    fn the_normal_range_form_matches_the_general_one_and_flushes_below() {
        let mut x = -760.0;
        while x < 709.0 {
            let (e, em1) = exp_and_expm1_near_zero(x);
            let (e_n, em1_n) = exp_normal_and_expm1_near_zero(x);
            let want = if x < X_MIN_NORMAL { 0.0 } else { e };
            assert_eq!(e_n.to_bits(), want.to_bits(), "exp({x:e})");
            if x.abs() < 1.0 {
                assert_eq!(em1_n.to_bits(), em1.to_bits(), "expm1({x:e})");
            }
            x += 0.000_913;
        }
        let below = f64::from_bits(X_MIN_NORMAL.to_bits() + 1);
        let above = f64::from_bits(X_MIN_NORMAL.to_bits() - 1);
        for x in [X_MIN_NORMAL, above, 708.9, 0.0, -0.0, 1e-300] {
            assert_eq!(
                exp_normal_and_expm1_near_zero(x).0.to_bits(),
                exp_and_expm1_near_zero(x).0.to_bits(),
                "exp({x:e})"
            );
        }
        assert!(
            exp_and_expm1_near_zero(below).0 > 0.0,
            "subnormal in the general form"
        );
        assert_eq!(exp_normal_and_expm1_near_zero(below).0, 0.0);
        assert_eq!(exp_normal_and_expm1_near_zero(-1e300).0, 0.0);
        // X_MIN_NORMAL is -1022 ln 2 to half an ulp of 708 (`5.7e-14`), so `e^x` there is
        // `2^-1022` to that relative amount (plus the 2 ulps of the kernel).
        let at_edge = exp_normal_and_expm1_near_zero(X_MIN_NORMAL).0;
        assert!(
            (at_edge / f64::MIN_POSITIVE - 1.0).abs() <= 1e-13,
            "{at_edge:e}"
        );
    }

    #[test]
    fn limits_and_reduction_boundaries() {
        assert_eq!(exp_expm1(f64::NEG_INFINITY), (0.0, -1.0));
        assert_eq!(exp_expm1(f64::INFINITY).0, f64::INFINITY);
        assert_eq!(exp_expm1(-800.0).0, 0.0);
        assert_eq!(exp_expm1(709.9).0, f64::INFINITY);
        // The largest finite result and the subnormal range round once.
        for x in [709.78, 709.782_712_893_38, -708.4, -744.0, -745.13] {
            assert_within_2_ulp(exp_expm1(x).0, f64::exp(x), x, "exp");
        }
        // Arguments at odd multiples of ln2/2, where the rounding of k switches.
        for k in -2000..2000 {
            let x = f64::from(k) * std::f64::consts::LN_2 / 2.0;
            if x.abs() < 709.0 {
                assert_within_2_ulp(exp_expm1(x).0, x.exp(), x, "exp");
            }
        }
    }
}
