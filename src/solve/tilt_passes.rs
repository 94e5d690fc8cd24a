//! The array passes of one tilt evaluation (see [`super::tilt`] for the mathematics).
//!
//! Three sweeps over the outcomes: the reward maximum and the tilt's mode, the unnormalized
//! weights `q = pi0 e^v` with their sums, and the normalized policy with the sums behind the KL,
//! the mean and the variance ([`normalize`]) or without them, where the statistics come from
//! the sums of the weights ([`normalize_policy`]). Each sweep is written so that it
//! vectorizes: the outcomes are taken [`LANES`] (the mode scan) or [`SUM_LANES`] (the passes
//! with running sums) at a time into independent accumulators, branches are selects, and `exp`
//! is the branch-free [`exp_expm1`]; the functions are compiled for several instruction sets and
//! the widest the CPU offers is chosen at run time ([`multiversion`]). The order of every
//! addition is fixed by the code, not by the instruction set, so all targets give bit-identical
//! results.
//!
//! Sums run over blocks of [`BlockSum::BLOCK`] outcomes: within a block each lane adds
//! naively, the lanes are added in a fixed order, and the block sums are combined with
//! [`CompensatedSum`] (the rounding of [`BlockSum`]) within a tile of
//! [`crate::parallel::TILE`] outcomes; the tiles run on all cores and their sums are combined,
//! again compensated, in tile order, so the number of threads does not change a bit either.
//!
//! Rare elements that the vector form cannot evaluate exactly (a subnormal base mass, or a
//! weight `e^v` beyond the overflow threshold although `pi0 e^v` is representable) make their
//! block be evaluated again, element by element, with the exact scalar form.

use crate::exp_kernel::{exp_expm1, exp_normal_and_expm1_near_zero, expm1_tail};
use crate::numeric::{BlockSum, CompensatedSum};
use crate::parallel::map_tiles;
use multiversion::multiversion;

/// Elements processed side by side in the mode scan (one AVX-512 register of `f64`; narrower
/// units split it).
const LANES: usize = 8;

/// Lanes of the running sums of passes 1 and 2 (one AVX2 register of `f64`). Each sum is kept
/// per lane, and pass 2 keeps six: at eight lanes they alone took twelve of AVX2's sixteen
/// registers and the loop spilled to the stack; four lanes made the tilt at 10^5 outcomes 8-10%
/// faster (benches/RESULTS.md). The lane count fixes the order of the additions, so it is the
/// same on every target (AVX-512 uses half a register for these sums).
const SUM_LANES: usize = 4;

/// Division by a fixed positive number `by`, done as a multiplication by `1/by` when that
/// reciprocal is a normal number: one more rounding (at most `2 eps` relative in all) in
/// exchange for a division per outcome in the hot loops. A subnormal or infinite reciprocal
/// would lose digits, so then it divides.
#[derive(Debug, Clone, Copy)]
pub(super) struct Divide {
    by: f64,
    inv: f64,
}

impl Divide {
    pub(super) fn by(by: f64) -> Self {
        Self { by, inv: 1.0 / by }
    }

    /// The same division as a plain multiplication, when the reciprocal is normal. The vector
    /// loops take this form: with the test inside, they would evaluate both sides of it.
    fn as_multiply(self) -> Option<Multiply> {
        self.inv.is_normal().then_some(Multiply(self.inv))
    }
}

/// `x -> x / by` for a fixed positive `by`, in one of two forms.
pub(super) trait Scale: Copy {
    /// `x / by`, to within 2 eps relative.
    fn of(self, x: f64) -> f64;
}

impl Scale for Divide {
    #[inline(always)]
    fn of(self, x: f64) -> f64 {
        if self.inv.is_normal() {
            x * self.inv
        } else {
            x / self.by
        }
    }
}

/// Multiplication by a normal reciprocal `1/by` (see [`Divide::as_multiply`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Multiply(f64);

impl Scale for Multiply {
    #[inline(always)]
    fn of(self, x: f64) -> f64 {
        x * self.0
    }
}

/// The per-outcome inputs of a tilt: `pi0`, `log pi0` and `r`, all of one length.
///
/// Only the sweep entry points take this bundle. The per-tile functions take the slices as
/// separate arguments: a reference argument tells the compiler that it does not alias the
/// output `&mut [f64]`, a reference inside a struct does not, and without that the lane loops
/// of pass 2 stay scalar (measured: the tilt at 10^7 outcomes twice as slow).
#[derive(Clone, Copy)]
pub(super) struct Outcomes<'a> {
    pub(super) p: &'a [f64],
    pub(super) lp: &'a [f64],
    pub(super) reward: &'a [f64],
}

impl<'a> Outcomes<'a> {
    fn len(&self) -> usize {
        self.p.len()
    }

    /// The outcomes in `range`.
    #[inline(always)]
    fn part(self, range: std::ops::Range<usize>) -> Self {
        Self {
            p: &self.p[range.clone()],
            lp: &self.lp[range.clone()],
            reward: &self.reward[range],
        }
    }
}

/// Chunks of [`BlockSum::BLOCK`] indices covering `0..n`.
fn blocks(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..n)
        .step_by(BlockSum::BLOCK)
        .map(move |s| s..(s + BlockSum::BLOCK).min(n))
}

/// Sums of `K` quantities over one block, kept per lane.
struct Lanes<const K: usize>([[f64; SUM_LANES]; K]);

impl<const K: usize> Lanes<K> {
    /// Adds the first `K` of `terms` to lane `j` (any others are dropped, and the compiler
    /// leaves them unformed).
    #[inline(always)]
    fn add<const M: usize>(&mut self, j: usize, terms: [f64; M]) {
        for (a, t) in self.0.iter_mut().zip(terms) {
            a[j] += t;
        }
    }

    fn new() -> Self {
        Self([[0.0; SUM_LANES]; K])
    }

    /// The block sums, lanes added in index order.
    fn totals(&self) -> [f64; K] {
        self.0.map(|lane| lane.iter().sum())
    }
}

/// The per-tile sums added in tile order, each of the `K` with [`CompensatedSum`].
fn combine<const K: usize>(parts: Vec<[f64; K]>) -> [f64; K] {
    let mut totals = [CompensatedSum::new(); K];
    for part in parts {
        accumulate(&mut totals, part);
    }
    totals.map(|t| t.value())
}

/// Adds each block's `K` sums into `K` compensated totals.
fn accumulate<const K: usize>(totals: &mut [CompensatedSum; K], block: [f64; K]) {
    for (t, b) in totals.iter_mut().zip(block) {
        t.add(b);
    }
}

/// `(f(d), expm1(d))` with `f(d) = 1 + (d - 1) e^d = sum_{k>=2} (k-1) d^k / k!`, for
/// `|d| < 1/2`, from one polynomial: with `P(d) = (e^d - 1 - d)/d^2 = sum_j d^j/(j+2)!` to degree
/// 13 (truncation below `2^-57` relative, a sixteenth of an ulp), `expm1(d) = d + d^2 P` and
/// `f(d) = d^2 (1 + (d - 1) P)` (the bracket lies in `[1/3, 2/3]`, so forming it costs at most
/// two bits). `P` is [`expm1_tail`], whose first twelve terms are those of the vector `exp`.
#[inline(always)]
pub(crate) fn f_and_expm1_series(d: f64) -> (f64, f64) {
    let (d2, p) = (d * d, expm1_tail(d));
    (d2 * (1.0 + (d - 1.0) * p), d + d2 * p)
}

/// What the first sweep of a tilt finds (see [`mode_scan`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct ModeScan {
    /// `(min r, max r)` over the outcomes with `log pi0 > -inf` (`r*` is the maximum).
    pub(super) range: (f64, f64),
    /// The reward at the tilt's mode.
    pub(super) r_mode: f64,
    /// Whether every reward is finite (on the support and off it); when one is not, the other
    /// fields are meaningless.
    pub(super) rewards_finite: bool,
}

/// What [`mode_tile`] finds in one tile.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TileScan {
    /// `(min r, max r)` on the support.
    range: (f64, f64),
    /// `(key, index)` of the first largest key, if the tile meets the support.
    mode: Option<(f64, usize)>,
    /// Whether every reward in the tile is finite.
    finite: bool,
}

/// The range of `r` over `supp pi0` (the outcomes with `log pi0 > -inf`, which includes any
/// whose mass underflowed to 0 from a finite log) and the reward at the mode
/// `k = argmax_x log pi0(x) + r(x)/beta` of the tilt (the outcome of largest tilted mass; the
/// first one on a tie), in one sweep (and, per tile, a search for the first largest key). The
/// key is evaluated as `log pi0 + r/beta` when `beta >= 1` and as `beta log pi0 + r` (the same
/// order, scaled by beta) when `beta < 1`, so neither `r/beta` nor `beta log pi0` can overflow.
/// (Rounding of the key can only pick an outcome whose tilted mass is within a few ulps of the
/// largest, which serves the passes equally well.)
pub(super) fn mode_scan(lp: &[f64], reward: &[f64], beta: f64, over_beta: Divide) -> ModeScan {
    let parts = map_tiles(lp.len(), Vec::new(), |range, _| {
        let at = range.start;
        let tile = mode_tile(&lp[range.clone()], &reward[range], beta, over_beta);
        TileScan {
            mode: tile.mode.map(|(key, i)| (key, at + i)),
            ..tile
        }
    });
    let range = parts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
            (lo.min(t.range.0), hi.max(t.range.1))
        });
    // Tiles in order and a strict comparison: the first of equal keys.
    let mode = parts.iter().filter_map(|t| t.mode).fold(
        None,
        |m: Option<(f64, usize)>, (key, i)| match m {
            Some((best, _)) if key <= best => m,
            _ => Some((key, i)),
        },
    );
    ModeScan {
        range,
        r_mode: mode.map_or(range.1, |(_, i)| reward[i]),
        rewards_finite: parts.iter().all(|t| t.finite),
    }
}

/// The range on the support, the first largest key and the rewards' finiteness over one tile.
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn mode_tile(lp: &[f64], reward: &[f64], beta: f64, over_beta: Divide) -> TileScan {
    // The key `log pi0 + r/beta` for `beta >= 1`, `beta log pi0 + r` otherwise, chosen here so
    // that the scan's loops carry no test.
    match (beta >= 1.0, over_beta.as_multiply()) {
        (true, Some(m)) => scan_range_and_mode(lp, reward, |l, r| l + m.of(r)),
        (true, None) => scan_range_and_mode(lp, reward, |l, r| l + over_beta.of(r)),
        (false, _) => scan_range_and_mode(lp, reward, |l, r| beta * l + r),
    }
}

/// [`mode_tile`] with the key `key(log pi0, r)`, in two sweeps that are vector code: the range
/// of the rewards on the support, the largest key and the rewards' finiteness (as in
/// [`crate::error::require_finite`]: `r * 0` summed is 0 unless some `r` is infinite or NaN),
/// lane by lane; then the first outcome whose key equals the largest, found block by block
/// (keys are recomputed by the same expression, so the equality is exact). Off the support
/// the key is `-inf`, on it finite when the rewards are.
#[inline(always)]
fn scan_range_and_mode(lp: &[f64], reward: &[f64], key: impl Fn(f64, f64) -> f64) -> TileScan {
    let n = lp.len().min(reward.len());
    let (lp, reward) = (&lp[..n], &reward[..n]);
    let (mut r_min, mut r_max) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
    let (mut best, mut poison) = ([f64::NEG_INFINITY; LANES], [0.0; LANES]);
    let mut visit = |j: usize, l: f64, r: f64| {
        let k = key(l, r);
        let on_support = l > f64::NEG_INFINITY;
        r_min[j] = r_min[j].min(if on_support { r } else { f64::INFINITY });
        r_max[j] = r_max[j].max(if on_support { r } else { f64::NEG_INFINITY });
        best[j] = if k > best[j] { k } else { best[j] };
        poison[j] = r.mul_add(0.0, poison[j]);
    };
    for (lc, rc) in lp.chunks_exact(LANES).zip(reward.chunks_exact(LANES)) {
        for j in 0..LANES {
            visit(j, lc[j], rc[j]);
        }
    }
    let tail = n / LANES * LANES;
    for (j, (&l, &r)) in lp[tail..].iter().zip(&reward[tail..]).enumerate() {
        visit(j, l, r);
    }
    let range = (
        r_min.iter().copied().fold(f64::INFINITY, f64::min),
        r_max.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let top = best.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // A NaN sum (some reward not finite) fails the comparison.
    let finite = poison.iter().sum::<f64>() == 0.0;
    if top == f64::NEG_INFINITY {
        return TileScan {
            range,
            mode: None,
            finite,
        };
    }
    let hits = |at: usize, end: usize| {
        lp[at..end]
            .iter()
            .zip(&reward[at..end])
            .fold(false, |any, (&l, &r)| any | (key(l, r) == top))
    };
    let first = blocks(n)
        .find(|b| hits(b.start, b.end))
        .and_then(|b| b.clone().find(|&i| key(lp[i], reward[i]) == top));
    TileScan {
        range,
        mode: first.map(|i| (top, i)),
        finite,
    }
}

/// Result of pass 1: `z = sum q`, `log z`, and the shift `s = sum q (r - r_mode) / z` (the mean
/// of `r - r_mode` under the tilt, to rounding), `None` when the linear weights are too small
/// to carry it (`z <= 1e-280`).
pub(super) struct Partition {
    pub(super) z: f64,
    pub(super) log_z: f64,
    pub(super) shift: Option<f64>,
    /// `log z` as `(m, ln s)` (see [`log_space_log_z`]) when `z <= 1e-280`.
    pub(super) log_z_parts: Option<(f64, f64)>,
    /// `sum q (r - r_mode - c)^2` for the centre `c` of [`PassOneSums`] (0 when it has none).
    pub(super) centred_square: f64,
    /// `sum pi0 (r - r_mode) = E_pi0[r] - r_mode` with [`PassOneSums::Summary`], else `None`.
    pub(super) base_offset: Option<f64>,
}

/// Which sums pass 1 forms besides `z`, `z - 1` and `sum q (r - r_mode)`.
#[derive(Debug, Clone, Copy)]
pub(super) enum PassOneSums {
    /// No more.
    Weights,
    /// `sum q (r - r_mode - c)^2` for the centre `c` (a reward minus `r_mode`).
    Centred(f64),
    /// `sum q (r - r_mode)^2` and `sum pi0 (r - r_mode)`: what the statistics of a tilt from
    /// pass 1 alone need (see `Weighed::summary` in [`super::tilt`]).
    Summary,
}

impl PassOneSums {
    /// The centre `c` of `sum q (r - r_mode - c)^2`, where that sum is formed.
    pub(super) fn centre(self) -> Option<f64> {
        match self {
            Self::Weights => None,
            Self::Centred(c) => Some(c),
            Self::Summary => Some(0.0),
        }
    }
}

/// [`tilted_weight`] forms `e^v` only for `v` below this (from it on, `e^v` may overflow).
const EXP_SAFE: f64 = 700.0;

/// `(q, q - pi0)` for the unnormalized weight `q = pi0 e^v` of one outcome, exact where
/// [`weight_form_applies`] (not for a subnormal `pi0 > 0`, nor for `v >= 700`, where `e^v` may
/// overflow). For `|v| < ln 2`, `q - pi0 = pi0 expm1(v)` is formed without
/// cancellation; otherwise `q = pi0 e^v` is a product (relative error ~3 eps) rather than
/// `exp(log pi0 + v)`, whose argument carries an absolute error `eps |log pi0|`. Where `e^v`
/// is below the normal range (`v < -1022 ln 2`), `q` is 0: the exact weight is then below the
/// smallest normal double too, and pass 2 forms such an outcome's mass from its logarithm.
#[inline(always)]
fn tilted_weight(p: f64, v: f64) -> (f64, f64) {
    // `em1` is used only where `|v| < ln 2`, where it is `e^v - 1`.
    let (e, em1) = exp_normal_and_expm1_near_zero(v);
    let small = v.abs() < std::f64::consts::LN_2;
    let dq_small = p * em1;
    let q_large = p * e;
    let q = if small { p + dq_small } else { q_large };
    let dq = if small { dq_small } else { q_large - p };
    (q, dq)
}

/// Whether [`tilted_weight`] is exact for `(pi0, v)`: `pi0` is 0 or normal, and `v` below
/// [`EXP_SAFE`]. (The vector pass decides the same per block from a lane maximum of `v` and
/// minimum of the positive `pi0`.)
#[inline(always)]
fn weight_form_applies(p: f64, v: f64) -> bool {
    !(p > 0.0 && p < f64::MIN_POSITIVE) && v < EXP_SAFE
}

/// The weight where [`tilted_weight`] does not apply: `exp(log pi0 + v)` (the log view of a
/// subnormal `pi0` is the more precise one, and the sum of logs cannot overflow).
fn tilted_weight_exact(p: f64, lp: f64, v: f64) -> (f64, f64) {
    if weight_form_applies(p, v) {
        tilted_weight(p, v)
    } else if p == 0.0 {
        (0.0, 0.0)
    } else {
        let q = (lp + v).exp();
        (q, q - p)
    }
}

/// Pass 1 of a tilt evaluation: fills `q` with `pi0(x) e^{v(x)}`, `v = (r - r_mode)/beta` (the
/// reward difference is formed first, so `v` is exact to rounding relative to itself).
///
/// `log z = log1p(sum (q - pi0))` keeps full relative accuracy when `z` is within `1e-16` of 1;
/// when `z` is small, `log z = ln(sum q)` does. With `r_mode` the mode's reward, the mode's term
/// is exactly `pi0(mode)` and `q <= pi0(mode) <= 1` everywhere, so nothing overflows.
pub(super) fn unnormalized_tilt(
    x: Outcomes,
    r_mode: f64,
    over_beta: Divide,
    sums: PassOneSums,
    q: &mut [f64],
) -> Partition {
    let parts = map_tiles(x.len(), vec![q], |range, q| {
        let x = x.part(range);
        weight_tile(x.p, x.lp, x.reward, (r_mode, sums), over_beta, &mut *q[0])
    });
    let [z, z_m1, moment, centred_square, base_offset] = combine(parts);
    let shift = moment / z;
    // z is subnormal or nearly so (the mode's own mass is below ~1e-280): the linear weights
    // have lost relative precision, so take log z from the log view of pi0.
    let log_z_parts = (z <= 1e-280).then(|| log_space_log_z(x.lp, x.reward, r_mode, over_beta));
    let log_z = match log_z_parts {
        Some((m, ln_s)) => m + ln_s,
        None if z > 0.5 => z_m1.ln_1p(),
        None => z.ln(),
    };
    Partition {
        z,
        log_z,
        shift: (z > 1e-280 && shift.is_finite()).then_some(shift),
        log_z_parts,
        centred_square,
        base_offset: matches!(sums, PassOneSums::Summary).then_some(base_offset),
    }
}

/// `(sum q, sum (q - pi0), sum q (r - r_mode), sum q (r - r_mode - c)^2, sum pi0 (r - r_mode))`
/// over one tile, filling `q`; the last two are 0 (and not formed) where `sums` does not ask for
/// them.
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn weight_tile(
    p: &[f64],
    lp: &[f64],
    reward: &[f64],
    (r_mode, sums): (f64, PassOneSums),
    over_beta: Divide,
    q: &mut [f64],
) -> [f64; 5] {
    let c = (r_mode, sums.centre().unwrap_or(0.0));
    match (over_beta.as_multiply(), sums) {
        (Some(m), PassOneSums::Weights) => widened(weight_sums::<_, 3>(p, lp, reward, c, m, q)),
        (None, PassOneSums::Weights) => {
            widened(weight_sums::<_, 3>(p, lp, reward, c, over_beta, q))
        }
        (Some(m), PassOneSums::Centred(_)) => widened(weight_sums::<_, 4>(p, lp, reward, c, m, q)),
        (None, PassOneSums::Centred(_)) => {
            widened(weight_sums::<_, 4>(p, lp, reward, c, over_beta, q))
        }
        (Some(m), PassOneSums::Summary) => weight_sums::<_, 5>(p, lp, reward, c, m, q),
        (None, PassOneSums::Summary) => weight_sums::<_, 5>(p, lp, reward, c, over_beta, q),
    }
}

/// The first `K` sums of pass 1, the others 0.
fn widened<const K: usize>(sums: [f64; K]) -> [f64; 5] {
    let mut all = [0.0; 5];
    all[..K].copy_from_slice(&sums);
    all
}

/// The terms that pass 1 sums for one outcome of base mass `p`, weight `q`, `q - pi0` = `dq`
/// and `dev = r - r_mode`: `q`, `dq`, `q dev`, `q (dev - c)^2`, `p dev` (see [`weight_tile`];
/// only the first `K` are summed, see [`Lanes::add`]).
#[inline(always)]
fn weight_terms(p: f64, q: f64, dq: f64, dev: f64, centre: f64) -> [f64; 5] {
    let centred = dev - centre;
    [q, dq, q * dev, q * (centred * centred), p * dev]
}

/// [`weight_tile`]'s first `K` sums with the division in the form `over_beta`.
#[inline(always)]
fn weight_sums<S: Scale, const K: usize>(
    p: &[f64],
    lp: &[f64],
    reward: &[f64],
    centres: (f64, f64),
    over_beta: S,
    q: &mut [f64],
) -> [f64; K] {
    let mut totals = [CompensatedSum::new(); K];
    for b in blocks(p.len()) {
        let (pb, rb, qb) = (&p[b.clone()], &reward[b.clone()], &mut q[b.clone()]);
        let sums = match weights_block::<S, K>(pb, rb, centres, over_beta, qb) {
            Some(sums) => sums,
            None => weights_block_exact::<S, K>((pb, &lp[b], rb), centres, over_beta, qb),
        };
        accumulate(&mut totals, sums);
    }
    totals.map(|t| t.value())
}

/// One block of pass 1 in vector form: the first `K` sums of [`weight_tile`], or `None` if an
/// element needs [`tilted_weight_exact`].
#[inline(always)]
fn weights_block<S: Scale, const K: usize>(
    p: &[f64],
    r: &[f64],
    (r_mode, centre): (f64, f64),
    over_beta: S,
    q: &mut [f64],
) -> Option<[f64; K]> {
    // Whether the block needs the exact form (see [`weight_form_applies`]) is decided from the
    // largest `v` and the smallest positive `pi0`, kept per lane (`v` is never NaN: finite
    // rewards, `beta > 0`): a maximum and a minimum per outcome rather than three comparisons
    // packed into flags.
    let mut acc = Lanes::<K>::new();
    let (mut v_max, mut p_min) = ([f64::NEG_INFINITY; SUM_LANES], [f64::INFINITY; SUM_LANES]);
    let mut visit = |j: usize, p: f64, r: f64, q: &mut f64| {
        let dev = r - r_mode;
        let v = over_beta.of(dev);
        let (qi, dq) = tilted_weight(p, v);
        *q = qi;
        // Selects rather than `f64::max`/`min`, whose rule for NaN costs two instructions
        // more each (neither `v` nor `pi0` is NaN).
        v_max[j] = if v > v_max[j] { v } else { v_max[j] };
        let positive = if p > 0.0 { p } else { f64::INFINITY };
        p_min[j] = if positive < p_min[j] {
            positive
        } else {
            p_min[j]
        };
        acc.add(j, weight_terms(p, qi, dq, dev, centre));
    };
    let mut chunks = p
        .chunks_exact(SUM_LANES)
        .zip(r.chunks_exact(SUM_LANES))
        .zip(q.chunks_exact_mut(SUM_LANES));
    for ((pc, rc), qc) in chunks.by_ref() {
        for j in 0..SUM_LANES {
            visit(j, pc[j], rc[j], &mut qc[j]);
        }
    }
    let tail = p.len() / SUM_LANES * SUM_LANES;
    for (j, qi) in q[tail..].iter_mut().enumerate() {
        visit(j, p[tail + j], r[tail + j], qi);
    }
    let exact =
        v_max.iter().all(|&v| v < EXP_SAFE) && p_min.iter().all(|&p| p >= f64::MIN_POSITIVE);
    exact.then(|| acc.totals())
}

/// One block of pass 1, element by element with [`tilted_weight_exact`] (same lanes, same order
/// of additions as [`weights_block`]).
fn weights_block_exact<S: Scale, const K: usize>(
    (p, lp, r): (&[f64], &[f64], &[f64]),
    (r_mode, centre): (f64, f64),
    over_beta: S,
    q: &mut [f64],
) -> [f64; K] {
    let mut acc = Lanes::<K>::new();
    for i in 0..p.len() {
        let (j, dev) = (i % SUM_LANES, r[i] - r_mode);
        let (qi, dq) = tilted_weight_exact(p[i], lp[i], over_beta.of(dev));
        q[i] = qi;
        acc.add(j, weight_terms(p[i], qi, dq, dev, centre));
    }
    acc.totals()
}

/// `log sum_x pi0(x) e^{(r(x) - r_mode)/beta}` from the log-probabilities, as `(m, ln s)` with
/// `m = max (log pi0 + v)` over the support and `s = sum exp(log pi0 + (v - m))` (only when
/// `z <= 1e-280`). The terms are formed as `log pi0 + (v - m)`, with `v - m` shared by the
/// outcomes of one reward: pass 2 forms the log-policy from the same terms, and then outcomes
/// rated equally keep their base odds to a rounding of their own logarithms (as
/// `(log pi0 + v) - m` they carried a rounding of `log pi0 + v`, up to `~700` in size:
/// `kl.odds` found odds off by `4e-14` against a tolerance of `1.2e-14`).
fn log_space_log_z(lp: &[f64], reward: &[f64], r_mode: f64, over_beta: Divide) -> (f64, f64) {
    let v = |i: usize| over_beta.of(reward[i] - r_mode);
    let support = || (0..lp.len()).filter(|&i| lp[i] > f64::NEG_INFINITY);
    let m = support().fold(f64::NEG_INFINITY, |m, i| m.max(lp[i] + v(i)));
    if m.is_infinite() {
        return (m, 0.0);
    }
    let mut s = BlockSum::new();
    for i in support() {
        s.add((lp[i] + (v(i) - m)).exp());
    }
    (m, s.value().ln())
}

/// Sums of pass 2 over the support: `F`, `e`, `sum pi (r* - r)`, `sum pi (r - r_mode)`,
/// `sum pi (r - r_mode - s)^2` for the shift `s` of pass 1, and the lift
/// `sum (pi - pi0) (r - r_mode)` with each `pi - pi0` taken from the `e` terms (so it keeps
/// relative accuracy when the tilt barely moves the base).
pub(super) struct Moments {
    pub(super) f: f64,
    pub(super) e: f64,
    pub(super) gap: f64,
    pub(super) offset: f64,
    pub(super) square: f64,
    pub(super) lift: f64,
}

/// What pass 2 needs besides the arrays.
#[derive(Clone, Copy)]
pub(super) struct Normalization<S: Scale = Divide> {
    pub(super) r_max: f64,
    pub(super) r_mode: f64,
    pub(super) over_beta: S,
    pub(super) over_z: S,
    pub(super) log_z: f64,
    pub(super) shift: f64,
    /// [`Partition::log_z_parts`]: where given, every mass is formed in the log view as
    /// `exp((log pi0 + (v - m)) - ln s)`, the same terms `log z` was summed from, so the masses
    /// sum to 1 to rounding (`exp(log pi0 + v - log z)` carried the rounding of `log z ~ -712`,
    /// `6e-14`, into every mass alike, and the policy summed to `1 + 5e-14`).
    pub(super) log_z_parts: Option<(f64, f64)>,
}

/// One outcome of pass 2: `(pi, log pi, [F term, e term, gap, offset, square, lift])`.
///
/// `pi = q/z`, or `pi0 e^d` (`d = v - log z`, the log density ratio) when `LOG_FORM` and `q`
/// underflowed (the unnormalized `q` can underflow when `z` is tiny, while `pi` is
/// representable). The KL terms `(pi0 f(d), pi - pi0)` with `f(d) = 1 + (d - 1) e^d` come from
/// the series for `|d| < 1/2` (no cancellation), else from `pi`. Off the support (`pi0 = 0`)
/// everything is 0 and `log pi = -inf`.
#[inline(always)]
fn normalized<S: Scale, const LOG_FORM: bool>(
    n: Normalization<S>,
    p: f64,
    lp: f64,
    r: f64,
    q: f64,
) -> (f64, f64, [f64; 6]) {
    let dev = r - n.r_mode;
    let v = n.over_beta.of(dev);
    let d = v - n.log_z;
    let linear = n.over_z.of(q);
    let log_pi = match n.log_z_parts {
        Some((m, ln_s)) => (lp + (v - m)) - ln_s,
        None => lp + d,
    };
    let pi = if LOG_FORM && p > 0.0 && (q < f64::MIN_POSITIVE || n.log_z_parts.is_some()) {
        exp_expm1(log_pi).0
    } else {
        linear
    };
    let (fs, es) = f_and_expm1_series(d);
    let small = d.abs() < 0.5;
    let positive = pi > 0.0;
    let f = if small {
        p * fs
    } else if positive {
        p + (d - 1.0) * pi
    } else {
        p
    };
    let e = if small { p * es } else { pi - p };
    let centred = dev - n.shift;
    let weighted = |x: f64| if positive { pi * x } else { 0.0 };
    let terms = [
        f,
        e,
        weighted(n.r_max - r),
        weighted(dev),
        weighted(centred * centred),
        if p > 0.0 { e * dev } else { 0.0 },
    ];
    (pi, if positive { log_pi } else { f64::NEG_INFINITY }, terms)
}

/// Pass 2 of a tilt evaluation: turns `q` into the normalized policy, writes `log pi` into
/// `logs` when given (`-inf` off the support of `pi`), and returns the [`Moments`].
pub(super) fn normalize(
    x: Outcomes,
    n: Normalization,
    q: &mut [f64],
    logs: Option<&mut [f64]>,
) -> Moments {
    let [f, e, gap, offset, square, lift] = normalize_sweep(x, n, q, logs);
    Moments {
        f,
        e,
        gap,
        offset,
        square,
        lift,
    }
}

impl<const K: usize> Lanes<K> {
    /// Pass 2 for one outcome `(pi0, log pi0, r)` in lane `j`: replaces `q` by `pi`, adds the
    /// first `K` terms (with `K = 0` none, and the compiler forms none), returns `log pi`.
    #[inline(always)]
    fn add_normalized<S: Scale, const LOG_FORM: bool>(
        &mut self,
        j: usize,
        n: Normalization<S>,
        (p, lp, r): (f64, f64, f64),
        q: &mut f64,
    ) -> f64 {
        let (pi, log_pi, terms) = normalized::<S, LOG_FORM>(n, p, lp, r, *q);
        *q = pi;
        self.add(j, terms);
        log_pi
    }

    /// Pass 2 for the `len <= SUM_LANES` outcomes from `at` (outcome `at + j` in lane `j`).
    #[inline(always)]
    fn normalize_run<S: Scale, const LOG_FORM: bool>(
        &mut self,
        n: Normalization<S>,
        (p, lp, r): (&[f64], &[f64], &[f64]),
        q: &mut [f64],
        logs: Option<&mut [f64]>,
        at: usize,
        len: usize,
    ) {
        let span = at..at + len;
        let (p, lp, r, q) = (
            &p[span.clone()],
            &lp[span.clone()],
            &r[span.clone()],
            &mut q[span.clone()],
        );
        match logs {
            Some(logs) => {
                let logs = &mut logs[span];
                for j in 0..len {
                    logs[j] =
                        self.add_normalized::<S, LOG_FORM>(j, n, (p[j], lp[j], r[j]), &mut q[j]);
                }
            }
            None => {
                for j in 0..len {
                    self.add_normalized::<S, LOG_FORM>(j, n, (p[j], lp[j], r[j]), &mut q[j]);
                }
            }
        }
    }
}

/// Pass 2 without its sums: turns `q` into the normalized policy and writes `log pi` into
/// `logs` when given, the same bits as [`normalize`] (the same [`normalized`] per outcome), for
/// a tilt whose statistics come from pass 1 (`Weighed::summary` in [`super::tilt`]). Without
/// the KL series and the six sums it is about a quarter of the work of [`normalize`].
pub(super) fn normalize_policy(
    x: Outcomes,
    n: Normalization,
    q: &mut [f64],
    logs: Option<&mut [f64]>,
) {
    let [] = normalize_sweep(x, n, q, logs);
}

/// Pass 2 over all tiles with the first `K` of its six sums (6 for [`normalize`], 0 for
/// [`normalize_policy`]), combined in tile order.
fn normalize_sweep<const K: usize>(
    x: Outcomes,
    n: Normalization,
    q: &mut [f64],
    logs: Option<&mut [f64]>,
) -> [f64; K] {
    let mut outputs = vec![q];
    outputs.extend(logs);
    let parts = map_tiles(x.len(), outputs, |range, outs| match outs {
        [q, rest @ ..] => {
            let x = x.part(range);
            let logs = rest.first_mut().map(|l| &mut **l);
            normalize_tile::<K>(x.p, x.lp, x.reward, n, q, logs)
        }
        [] => [0.0; K],
    });
    combine(parts)
}

/// The first `K` sums of pass 2 over one tile (see [`normalize_sums`]), with the divisions as
/// multiplications where their reciprocals are normal (chosen once per tile, outside the
/// vector loop).
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn normalize_tile<const K: usize>(
    p: &[f64],
    lp: &[f64],
    reward: &[f64],
    n: Normalization,
    q: &mut [f64],
    logs: Option<&mut [f64]>,
) -> [f64; K] {
    match (n.over_beta.as_multiply(), n.over_z.as_multiply()) {
        (Some(over_beta), Some(over_z)) => {
            let n = n.with_scales(over_beta, over_z);
            normalize_sums(p, lp, reward, n, q, logs)
        }
        _ => normalize_sums(p, lp, reward, n, q, logs),
    }
}

impl Normalization {
    /// The same normalization with the divisions in the forms `over_beta` and `over_z`.
    fn with_scales<S: Scale>(self, over_beta: S, over_z: S) -> Normalization<S> {
        Normalization {
            over_beta,
            over_z,
            r_max: self.r_max,
            r_mode: self.r_mode,
            log_z: self.log_z,
            shift: self.shift,
            log_z_parts: self.log_z_parts,
        }
    }
}

/// The first `K` of the six sums of pass 2 over a tile, each block in vector form, with
/// `pi0 e^d` where `q` underflowed.
#[inline(always)]
fn normalize_sums<S: Scale, const K: usize>(
    p: &[f64],
    lp: &[f64],
    reward: &[f64],
    n: Normalization<S>,
    q: &mut [f64],
    mut logs: Option<&mut [f64]>,
) -> [f64; K] {
    let mut totals = [CompensatedSum::new(); K];
    for b in blocks(p.len()) {
        let (pb, lb, rb) = (&p[b.clone()], &lp[b.clone()], &reward[b.clone()]);
        let qb = &mut q[b.clone()];
        // Whether some `q` underflowed on the support (a fold without short cut, so it
        // vectorizes).
        let log_form = n.log_z_parts.is_some()
            | pb.iter().zip(qb.iter()).fold(false, |any, (&p, &q)| {
                any | (p > 0.0 && q < f64::MIN_POSITIVE)
            });
        let logs_b = logs.as_deref_mut().map(|l| &mut l[b]);
        let sums = if log_form {
            normalize_block::<S, true, K>(n, pb, lb, rb, qb, logs_b)
        } else {
            normalize_block::<S, false, K>(n, pb, lb, rb, qb, logs_b)
        };
        accumulate(&mut totals, sums);
    }
    totals.map(|t| t.value())
}

/// One block of pass 2 (see [`normalized`]), with its first `K` sums.
#[inline(always)]
fn normalize_block<S: Scale, const LOG_FORM: bool, const K: usize>(
    n: Normalization<S>,
    p: &[f64],
    lp: &[f64],
    r: &[f64],
    q: &mut [f64],
    logs: Option<&mut [f64]>,
) -> [f64; K] {
    let mut acc = Lanes::<K>::new();
    let mut logs = logs;
    let full = p.len() / SUM_LANES * SUM_LANES;
    // Full runs with the constant length SUM_LANES (so that the lane loop becomes vector code),
    // then the tail.
    for at in (0..full).step_by(SUM_LANES) {
        let logs = logs.as_deref_mut();
        acc.normalize_run::<S, LOG_FORM>(n, (p, lp, r), q, logs, at, SUM_LANES);
    }
    acc.normalize_run::<S, LOG_FORM>(n, (p, lp, r), q, logs, full, p.len() - full);
    acc.totals()
}

/// `log pi = log pi0 + ((r - r_mode)/beta - log z)` where `pi > 0`, `-inf` elsewhere, into
/// `logs`: the log-policy of [`normalize`] (the same expression, so the same bits) for a policy
/// `pi` that it has already normalized; `(r_mode, log z)` is `shift`.
pub(super) fn log_policy(
    lp: &[f64],
    reward: &[f64],
    pi: &[f64],
    over_beta: Divide,
    (r_mode, log_z): (f64, f64),
    logs: &mut [f64],
) {
    map_tiles(pi.len(), vec![logs], |t, logs| {
        let (lp, reward, pi) = (&lp[t.clone()], &reward[t.clone()], &pi[t]);
        log_policy_tile(lp, reward, pi, over_beta, (r_mode, log_z), &mut *logs[0]);
    });
}

/// [`log_policy`] over one tile, as vector code (the division's form chosen outside the loop).
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn log_policy_tile(
    lp: &[f64],
    reward: &[f64],
    pi: &[f64],
    over_beta: Divide,
    shift: (f64, f64),
    logs: &mut [f64],
) {
    match over_beta.as_multiply() {
        Some(m) => log_policy_run(lp, reward, pi, m, shift, logs),
        None => log_policy_run(lp, reward, pi, over_beta, shift, logs),
    }
}

/// [`log_policy_tile`] with the division in the form `over_beta`.
#[inline(always)]
fn log_policy_run<S: Scale>(
    lp: &[f64],
    reward: &[f64],
    pi: &[f64],
    over_beta: S,
    (r_mode, log_z): (f64, f64),
    logs: &mut [f64],
) {
    for (((l, &lp), &r), &pi) in logs.iter_mut().zip(lp).zip(reward).zip(pi) {
        let log_pi = lp + (over_beta.of(r - r_mode) - log_z);
        *l = if pi > 0.0 { log_pi } else { f64::NEG_INFINITY };
    }
}

/// `Var_pi0(x)` for the rewards mapped to `x = (r - r*)/spread` in `[-1, 0]` (so that it neither
/// underflows for rewards of scale 1e-300 nor overflows for rewards of scale 1e300): two
/// passes over the support, the mean and then the centred squares, each summed as the passes'
/// sums are (lanes within blocks, blocks compensated within a tile, tiles compensated in
/// order).
pub(super) fn scaled_variance(p: &[f64], reward: &[f64], r_max: f64, spread: f64) -> f64 {
    let over_spread = Divide::by(spread);
    let moment = |centre: Option<f64>| {
        let tiles = map_tiles(p.len(), Vec::new(), |t, _| {
            [scaled_moment_tile(
                &p[t.clone()],
                &reward[t],
                r_max,
                over_spread,
                centre,
            )]
        });
        combine(tiles)[0]
    };
    let mean = moment(None);
    moment(Some(mean)).max(0.0)
}

/// `sum pi0 x` (`centre` `None`) or `sum pi0 (x - centre)^2` over the support in one tile, for
/// `x = (r - r_max)/spread`; the division's form is chosen here, outside the vector loop.
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn scaled_moment_tile(
    p: &[f64],
    reward: &[f64],
    r_max: f64,
    over_spread: Divide,
    centre: Option<f64>,
) -> f64 {
    match (over_spread.as_multiply(), centre) {
        (Some(m), None) => support_sum(p, reward, |p, r| p * m.of(r - r_max)),
        (None, None) => support_sum(p, reward, |p, r| p * over_spread.of(r - r_max)),
        (Some(m), Some(c)) => support_sum(p, reward, |p, r| p * squared(m.of(r - r_max) - c)),
        (None, Some(c)) => {
            support_sum(p, reward, |p, r| p * squared(over_spread.of(r - r_max) - c))
        }
    }
}

#[inline(always)]
fn squared(d: f64) -> f64 {
    d * d
}

/// `sum term(pi0, r)` over the support (`pi0 > 0`; `term` is evaluated off the support too,
/// and its value, even NaN, dropped by a select, so that the loop is vector code):
/// [`SUM_LANES`] lanes within each block of [`BlockSum::BLOCK`] outcomes, the blocks
/// compensated.
#[inline(always)]
fn support_sum(p: &[f64], reward: &[f64], term: impl Fn(f64, f64) -> f64) -> f64 {
    let mut total = CompensatedSum::new();
    for b in blocks(p.len().min(reward.len())) {
        let (pb, rb) = (&p[b.clone()], &reward[b]);
        let mut acc = Lanes::<1>::new();
        let mut visit = |j: usize, p: f64, r: f64| {
            let t = term(p, r);
            acc.add(j, [if p > 0.0 { t } else { 0.0 }]);
        };
        for (pc, rc) in pb.chunks_exact(SUM_LANES).zip(rb.chunks_exact(SUM_LANES)) {
            for j in 0..SUM_LANES {
                visit(j, pc[j], rc[j]);
            }
        }
        let tail = pb.len() / SUM_LANES * SUM_LANES;
        for (j, (&p, &r)) in pb[tail..].iter().zip(&rb[tail..]).enumerate() {
            visit(j, p, r);
        }
        total.add(acc.totals()[0]);
    }
    total.value()
}

/// `Var_pi(r)` by a separate pass about `offset = E_pi[r - r_mode]`, for the rare case where
/// pass 1 could not provide the shift.
pub(super) fn centred_variance(pi: &[f64], reward: &[f64], r_mode: f64, offset: f64) -> f64 {
    let mut var = BlockSum::new();
    for (q, r) in pi.iter().zip(reward) {
        if *q > 0.0 {
            let dev = (r - r_mode) - offset;
            var.add(q * dev * dev);
        }
    }
    var.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The range of the rewards on the support, the first index of the largest key and the
    /// rewards' finiteness, element by element: the reference for the vector scan.
    fn naive_mode(lp: &[f64], reward: &[f64], beta: f64) -> TileScan {
        let key = |l: f64, r: f64| {
            if beta >= 1.0 {
                l + r / beta
            } else {
                beta * l + r
            }
        };
        let (mut r_min, mut r_max) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut mode = None::<(f64, usize)>;
        for (i, (&l, &r)) in lp.iter().zip(reward).enumerate() {
            if l > f64::NEG_INFINITY {
                (r_min, r_max) = (r_min.min(r), r_max.max(r));
                if mode.is_none_or(|(b, _)| key(l, r) > b) {
                    mode = Some((key(l, r), i));
                }
            }
        }
        TileScan {
            range: (r_min, r_max),
            mode,
            finite: reward.iter().all(|r| r.is_finite()),
        }
    }

    #[test]
    fn mode_scan_takes_the_first_of_tied_keys_and_ignores_the_off_support() {
        // Rewards on a coarse grid (many ties), every third outcome off the support with a
        // reward of +-1e300 that the range must pass over, lengths around the lane and block
        // sizes, both forms of the key. The betas have exact reciprocals, so the reference's
        // `r / beta` and the scan's `r * (1/beta)` agree.
        for n in [0, 1, 7, 8, 9, 63, 64, 65, 200, 1000] {
            for beta in [0.25, 1.0, 2.0] {
                let reward: Vec<f64> = (0..n)
                    .map(|i| match i % 3 {
                        0 if i % 2 == 0 => 1e300,
                        0 => -1e300,
                        _ => ((i * 37) % 11) as f64,
                    })
                    .collect();
                let lp: Vec<f64> = (0..n)
                    .map(|i| {
                        if i % 3 == 0 {
                            f64::NEG_INFINITY
                        } else {
                            -(((i * 13) % 5) as f64)
                        }
                    })
                    .collect();
                let got = mode_tile(&lp, &reward, beta, Divide::by(beta));
                assert_eq!(
                    got,
                    naive_mode(&lp, &reward, beta),
                    "n = {n}, beta = {beta}"
                );
            }
        }
    }

    /// An infinite or NaN reward anywhere (on the support, off it, in the first or last lane
    /// or tile) makes the scan report the rewards not finite; finite ones up to `f64::MAX` do
    /// not.
    #[test]
    fn mode_scan_reports_a_reward_that_is_not_finite_on_or_off_the_support() {
        for n in [1, 7, 8, 9, 65, 3 * crate::parallel::TILE + 5] {
            let lp: Vec<f64> = (0..n)
                .map(|i| if i % 2 == 1 { f64::NEG_INFINITY } else { -1.0 })
                .collect();
            let reward: Vec<f64> = (0..n)
                .map(|i| if i % 3 == 0 { f64::MAX } else { -(i as f64) })
                .collect();
            let scan = |r: &[f64]| mode_scan(&lp, r, 1.0, Divide::by(1.0)).rewards_finite;
            assert!(scan(&reward), "n = {n}");
            for bad in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
                for at in [0, n / 2, n - 1] {
                    let mut r = reward.clone();
                    r[at] = bad;
                    assert!(!scan(&r), "n = {n}, {bad} at {at}");
                }
            }
        }
    }

    /// The scaled variance against a plain two-pass reference, element by element: lengths
    /// around the lane, block and tile sizes, a third of the outcomes off the support with
    /// rewards of 1e300 (whose squared terms are `0 * inf`, NaN, unless the select drops them),
    /// spreads with and without an exact reciprocal. A comparison that NaN fails.
    #[test]
    fn scaled_variance_agrees_with_a_two_pass_reference() {
        for n in [1usize, 3, 4, 5, 63, 64, 65, 200, 8193, 20_000] {
            for spread in [4.0, 3.0] {
                let p: Vec<f64> = (0..n)
                    .map(|i| {
                        if i % 3 == 1 {
                            0.0
                        } else {
                            ((i % 7) + 1) as f64
                        }
                    })
                    .collect();
                let total: f64 = p.iter().sum();
                let p: Vec<f64> = p.iter().map(|w| w / total).collect();
                let reward: Vec<f64> = (0..n)
                    .map(|i| match i % 3 {
                        1 => 1e300,
                        _ => -(((i * 5) % 9) as f64) / 4.0,
                    })
                    .collect();
                let support = || (0..n).filter(|&i| p[i] > 0.0);
                let x = |i: usize| (reward[i] - 0.0) / spread;
                let mean = crate::numeric::sum(support().map(|i| p[i] * x(i)));
                let want = crate::numeric::sum(support().map(|i| p[i] * (x(i) - mean).powi(2)));
                let got = scaled_variance(&p, &reward, 0.0, spread);
                // Both sums have terms of one sign. The reference is compensated (a few eps);
                // the scan adds at most 16 terms naively per lane and block (16 eps), then
                // compensates, and its `x` carries one more rounding (the reciprocal of the
                // spread, 2 eps per term); an error in the mean changes the centred sum only
                // to second order. 64 eps relative covers all of it.
                assert!(
                    (got - want).abs() <= 64.0 * f64::EPSILON * want,
                    "n = {n}, spread = {spread}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn series_keeps_relative_accuracy_on_the_whole_interval() {
        // Reference: sum_{k>=2} (k-1) d^k / k! term by term (to k = 40, far below rounding).
        let reference = |d: f64| {
            let (mut term, mut f) = (d, 0.0);
            for k in 2..40 {
                term *= d / k as f64;
                f += (k - 1) as f64 * term;
            }
            f
        };
        let mut d = -0.4999;
        while d < 0.5 {
            let (f, e) = f_and_expm1_series(d);
            let want = reference(d);
            // f = d^2 (1 + (d - 1) P): P within ~2 eps (Estrin on terms of one sign for
            // d > 0, alternating but dominated by 1/2 for d < 0), the bracket in [1/3, 2/3]
            // magnifies that by at most 2 (two bits), plus three roundings: 8 eps. The
            // reference, a sum of terms of one sign (d > 0) or dominated by d^2/2, adds ~2 eps.
            assert!(
                (f - want).abs() <= 8.0 * f64::EPSILON * want,
                "f({d}) = {f} vs {want}"
            );
            assert!(
                (e - d.exp_m1()).abs() <= 2.0 * f64::EPSILON * e.abs(),
                "expm1({d})"
            );
            d += 0.000_37;
        }
        for d in [1e-300, -1e-300, 1e-160, 3e-9, -2e-12] {
            let (f, e) = f_and_expm1_series(d);
            assert!((f - reference(d)).abs() <= 2.0 * f64::EPSILON * f, "f({d})");
            assert!(
                (e - d.exp_m1()).abs() <= f64::EPSILON * e.abs(),
                "expm1({d})"
            );
        }
    }

    #[test]
    fn series_matches_libm_away_from_zero() {
        for &d in &[-0.49, -0.3, -0.1, 0.1, 0.3, 0.49] {
            let (f, e) = f_and_expm1_series(d);
            let f_libm = 1.0 + (d - 1.0) * d.exp();
            assert!((e - d.exp_m1()).abs() <= 2.0 * f64::EPSILON * e.abs());
            // libm's f = 1 + (d-1)e^d carries rounding of size eps * (1 + |d-1| e^d).
            let tol = 4.0 * f64::EPSILON * (1.0 + (d - 1.0).abs() * d.exp());
            assert!((f - f_libm).abs() <= tol, "d = {d}: {f} vs {f_libm}");
        }
    }
}
