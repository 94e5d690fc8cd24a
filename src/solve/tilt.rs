//! The KL-regularized optimum (claim `kl.tilt`) and its two inverse problems
//! (`lagrange.kl-budget`, `lagrange.reward-target`).
//!
//! For $\beta > 0$ the maximizer of $J(\pi) = E_\pi\[r\] - \beta\\,\mathrm{KL}(\pi\\|\pi_0)$ is
//! the tilt
//!
//! $$\pi_\beta(x) = \frac{\pi_0(x)\\, e^{r(x)/\beta}}{Z}, \qquad
//! Z = E_{\pi_0}\[e^{r/\beta}\], \qquad \max J = \beta \log Z.$$
//!
//! # Numerics
//!
//! With `r* = max r` on `supp pi0` and `w(x) = (r(x) - r*)/beta <= 0`, the solver forms
//! `q(x) = pi0(x) e^{w(x)}` (never overflows), `Z' = sum q = exp(L)` with
//! `L = log1p(sum pi0 expm1(w))` (a sum of non-positive terms), and the log density
//! ratio `d(x) = log(pi_beta(x)/pi0(x)) = w(x) - L`. The KL is then evaluated as
//!
//! ```text
//! KL = (F + e) / (1 + e) - log1p(e),  F = sum pi0 f(d),  f(d) = 1 + (d - 1) e^d >= 0,
//!                                     e = sum pi0 expm1(d)  (= 0 up to rounding),
//! ```
//!
//! an identity valid for any vector `d` once the policy is normalized. Its terms are
//! non-negative, so nothing cancels: the KL keeps full relative accuracy even when it is
//! `1e-300` (beta huge) or when the mass piles up on an argmax of base probability
//! `1 - 1e-15` (beta tiny), where the textbook `E_pi[r]/beta - log Z` loses every digit. `f` and
//! `expm1` are evaluated by their Taylor series for `|d| < 1/2`. In fact `Z` is formed relative
//! to the mode of the tilt (the outcome of largest tilted mass) rather than to `r*`, so that the
//! mode's `d`, tiny when the tilt barely moves the base, is not swamped by the rounding of
//! `log Z` (one cheap extra sweep without `exp`). `E_pi[r] - E_pi0[r]` is summed as
//! `sum pi0 expm1(d) (r - r_mode)` from the same terms as `e`, so it too keeps its relative
//! accuracy as beta grows. The sweeps themselves are in `tilt_passes`.
//!
//! A tilt that is returned (`tilt`, `tilt_into`, the batch) rather than evaluated inside a
//! search takes its KL, mean, variance and gain from the sums of the first pass where their
//! error bounds certify a relative error below `2^-42` (the textbook `E_pi[r - r_mode]/beta -
//! log z` and its kin: see `Weighed::summary`, with the bounds and the cases it refuses), and
//! the second pass then only writes the policy and the log-policy (the same bits): it is most of
//! a pass's arithmetic saved, a quarter of the tilt at `10^5` outcomes. Near the base, where
//! those differences cancel, the bounds fail and the second pass forms the statistics as above.

use super::tilt_passes::{
    centred_variance, log_policy, mode_scan, normalize, normalize_policy, scaled_variance,
    unnormalized_tilt, Divide, ModeScan, Normalization, Outcomes, Partition, PassOneSums, Scale,
};
use super::Solution;
use crate::buffer::zeroed;
use crate::dist::{check_reward, check_reward_len, Dist};
use crate::error::{require_finite, require_positive, Error, Result};
use crate::numeric::{monotone_root, times_pow2, RootTolerance};
use serde::Serialize;

/// The tilt `pi_beta` with the quantities around it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Tilt {
    /// Policy, expected reward and `KL(pi_beta || pi0)`.
    #[serde(flatten)]
    pub solution: Solution,
    /// The temperature `beta` (the KL coefficient).
    pub beta: f64,
    /// `log Z = log E_pi0[exp(r/beta)]`. Equals `r*/beta + L` and so may round to `+inf` when
    /// `r*/beta` exceeds `f64::MAX`; the policy, reward and KL are unaffected.
    pub log_partition: f64,
    /// `Var_{pi_beta}(r)`, the derivative `dE[r]/d(1/beta)` (claim `kl.monotone`).
    pub reward_variance: f64,
    /// `E_{pi_beta}[r] - E_pi0[r] >= 0`, with full relative accuracy even when the tilt barely
    /// moves the base (beta large), where the difference of the two means would not have it.
    pub reward_gain: f64,
}

impl Tilt {
    /// The optimal value `max J = E_pi[r] - beta KL = beta log Z`, computed from the former
    /// expression (which never overflows).
    pub fn objective(&self) -> f64 {
        self.solution.expected_reward - self.beta * self.solution.kl
    }
}

/// Sufficient statistics of one tilt evaluation.
#[derive(Debug, Clone, Copy)]
pub(super) struct TiltStats {
    /// `max r` on `supp pi0`.
    r_max: f64,
    /// The mode's reward `r_mode` (pass 1 is formed relative to it).
    r_mode: f64,
    /// `log z = log sum_x pi0(x) exp((r(x) - r_mode)/beta)`.
    log_z_mode: f64,
    /// `log sum_x pi0(x) exp(w(x))`.
    log_z: f64,
    /// `KL(pi_beta || pi0)`.
    kl: f64,
    /// `sum pi_beta (r* - r) = r* - E[r] >= 0` (what the target search iterates on).
    mean_gap: f64,
    /// `sum pi_beta (r - r_mode) = E[r] - r_mode`.
    mode_offset: f64,
    /// `Var_{pi_beta}(r)`.
    variance: f64,
    /// `E_{pi_beta}[r] - E_pi0[r]`, or NaN when its sum overflowed.
    gain: f64,
}

/// `E_pi[r] - E_pi0[r]` from the lift `S = sum (pi - pi0)(r - c)` (`c = r_mode`) of a policy
/// whose computed mass is `1 + e` rather than 1: normalizing it gives
/// `(S - e (E_pi0[r] - c)) / (1 + e)`, with `E_pi0[r] - c = offset - S` to first order
/// (`offset = sum pi (r - c)`). Each term of `S` has relative accuracy of a few eps, so the gain
/// keeps it when the tilt barely moves the base (where `E_pi[r] - E_pi0[r]` as a difference of
/// means would lose every digit).
fn normalized_lift(lift: f64, e: f64, offset: f64) -> f64 {
    (lift - e * (offset - lift)) / (1.0 + e)
}

/// `h(e) = (1 + e) log1p(e) - e = sum_{k>=2} (-1)^k e^k / (k (k - 1)) >= 0`, so that
/// `KL = (F + e)/(1 + e) - log1p(e) = (F - h(e))/(1 + e)`: `e` is a rounding-level residue
/// (the policy is normalized), and in the first form its first-order part cancels only after
/// being added to `F`, which loses `F` entirely when `F < eps |e|` (a tilt at beta = 1e100 on
/// `pi0 = (0.3, 0.7)`: `F ~ 1e-201` against `e ~ 1e-117`). In the second form `h(e) ~ e^2/2`
/// is far below `F`. For `|e| < 1e-3` the series to `e^6` (truncation below `e^7/42`, relative
/// `1e-20` of `e^2/2`); beyond, the closed form, whose cancellation costs at most a factor
/// `1/|e| <= 1e3` in an `h` that is itself only a correction there.
fn excess_log1p(e: f64) -> f64 {
    if e.abs() < 1e-3 {
        let e2 = e * e;
        e2 * (0.5 - e * (1.0 / 6.0 - e * (1.0 / 12.0 - e * (1.0 / 20.0 - e * (1.0 / 30.0)))))
    } else {
        (1.0 + e) * e.ln_1p() - e
    }
}

/// One evaluation of the tilt at `beta`. On return `q` (resized to `n` only if its length
/// differs, without a fill) holds the normalized policy; when `logs` is given, the log-policy
/// is written there. After a sweep for the mode, two passes, the first with one `exp` per
/// outcome of the support:
///
/// 1. relative to the mode (the outcome of largest tilted mass), so that the mode's log
///    density ratio `d` is formed as `-log1p(small)`, without the absolute rounding error of a
///    difference `w - log Z` of O(1) numbers (which would swamp a KL of, say, 1e-170): `q`,
///    `z`, `log z` and the shift `s ≈ E_pi[r - r_mode]`;
/// 2. the policy, `F`, `e`, `r* - E[r]`, the lift behind `E[r] - E0[r]`, and
///    `Var(r) = E[(r - r_mode - s)^2] - (E[r - r_mode] - s)^2`. Centred at the mode,
///    `E - r_mode` is tiny and accurate where the tilt sits on the mode's reward class, so a variance of 1e-250 is not swamped by the rounding of `r* - E`;
///    with `s` the mean to rounding, the correction is of order `eps^2 E|r - r_mode|^2` and
///    nothing cancels (the two-pass algorithm with its correction term).
fn tilt_stats(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    q: &mut Vec<f64>,
    logs: Option<&mut [f64]>,
) -> TiltStats {
    if q.len() != base.len() {
        *q = zeroed(base.len());
    }
    tilt_stats_in(base, reward, beta, q, logs)
}

/// [`tilt_stats`] into a caller's buffer `q` of length `n` (and `logs`, when given, of length
/// `n`).
pub(super) fn tilt_stats_in(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    q: &mut [f64],
    logs: Option<&mut [f64]>,
) -> TiltStats {
    let scan = scan_tilt(base, reward, beta);
    tilt_stats_scanned(base, reward, beta, scan, q, logs)
}

/// The first sweep of a tilt evaluation: the reward's range on the support and the reward at
/// the tilt's mode.
pub(super) fn scan_tilt(base: &Dist, reward: &[f64], beta: f64) -> ModeScan {
    mode_scan(base.log_probs(), reward, beta, Divide::by(beta))
}

/// [`scan_tilt`] with the checks of a tilt's inputs ([`check_reward`], then `beta`): the scan
/// reads every reward anyway, so it finds whether all are finite, and only when one is not
/// does [`require_finite`] read them again to name the first (a separate check cost 3.5% of a
/// one-thread tilt at `10^5` outcomes, and ran on one thread while the sweeps run on all).
pub(super) fn checked_scan(base: &Dist, reward: &[f64], beta: f64) -> Result<ModeScan> {
    check_reward_len(base, reward)?;
    require_positive("beta", beta)?;
    let scan = scan_tilt(base, reward, beta);
    if !scan.rewards_finite {
        require_finite("reward", reward)?;
    }
    Ok(scan)
}

/// [`tilt_stats_in`] after its first sweep, `scan`.
pub(super) fn tilt_stats_scanned(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    scan: ModeScan,
    q: &mut [f64],
    logs: Option<&mut [f64]>,
) -> TiltStats {
    let weighed = weigh(base, reward, beta, scan, None, q);
    normalized_stats(base, reward, weighed, q, logs)
}

/// [`tilt_stats_scanned`] for a tilt that is returned rather than searched: the statistics come
/// from pass 1 where their error bounds allow ([`Weighed::summary`]), and pass 2 then only
/// normalizes (about a quarter of its work); elsewhere pass 2 forms them. The policy and the
/// log-policy are the same bits either way; the statistics agree to within
/// [`SUMMARY_TRUST`] relative.
pub(super) fn tilt_outputs_scanned(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    scan: ModeScan,
    q: &mut [f64],
    logs: Option<&mut [f64]>,
) -> TiltStats {
    let weighed = weigh_with(base, reward, beta, scan, PassOneSums::Summary, q);
    match weighed.summary(scan.range.0) {
        Some(stats) => {
            let x = outcomes(base, reward);
            normalize_policy(x, weighed.normalization(), q, logs);
            stats
        }
        None => normalized_stats(base, reward, weighed, q, logs),
    }
}

/// The arrays of a tilt's passes.
fn outcomes<'a>(base: &'a Dist, reward: &'a [f64]) -> Outcomes<'a> {
    Outcomes {
        p: base.probs(),
        lp: base.log_probs(),
        reward,
    }
}

/// Pass 1 of a tilt evaluation at `beta`, with what pass 2 ([`normalized_stats`]) and a
/// search's [`Weighed::estimate`] need.
pub(super) struct Weighed {
    beta: f64,
    r_max: f64,
    r_mode: f64,
    over_beta: Divide,
    part: Partition,
    /// The centre of [`Partition::centred_square`] relative to `r_mode`, when one was given.
    centre: Option<f64>,
}

/// Pass 1 of the tilt at `beta` after its mode scan `scan`: the weights into `q`, and, when a
/// `centre` (a reward) is given, the second moment of the rewards about it that
/// [`Weighed::estimate`] needs.
pub(super) fn weigh(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    scan: ModeScan,
    centre: Option<f64>,
    q: &mut [f64],
) -> Weighed {
    let sums = match centre {
        Some(c) => PassOneSums::Centred(c - scan.r_mode),
        None => PassOneSums::Weights,
    };
    weigh_with(base, reward, beta, scan, sums, q)
}

/// [`weigh`] with the sums `sums` (their centre relative to the mode's reward).
fn weigh_with(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    ModeScan {
        range: (_, r_max),
        r_mode,
        ..
    }: ModeScan,
    sums: PassOneSums,
    q: &mut [f64],
) -> Weighed {
    let over_beta = Divide::by(beta);
    Weighed {
        beta,
        r_max,
        r_mode,
        over_beta,
        part: unnormalized_tilt(outcomes(base, reward), r_mode, over_beta, sums, q),
        centre: sums.centre(),
    }
}

/// Pass 2 of a tilt evaluation after pass 1, `weighed`, whose weights are in `q`: the
/// normalized policy into `q`, the log-policy into `logs` when given, and the statistics.
pub(super) fn normalized_stats(
    base: &Dist,
    reward: &[f64],
    weighed: Weighed,
    q: &mut [f64],
    logs: Option<&mut [f64]>,
) -> TiltStats {
    let norm = weighed.normalization();
    let Weighed {
        beta,
        r_max,
        r_mode,
        part,
        ..
    } = weighed;
    let m = normalize(outcomes(base, reward), norm, q, logs);
    let (f, e) = (m.f, m.e);
    let kl = ((f - excess_log1p(e)) / (1.0 + e)).max(0.0);
    let offset = m.offset;
    let variance = match part.shift {
        Some(s) => (m.square - (offset - s) * (offset - s)).max(0.0),
        None => centred_variance(q, reward, r_mode, offset),
    };
    TiltStats {
        r_max,
        r_mode,
        log_z_mode: part.log_z,
        log_z: (r_mode - r_max) / beta + part.log_z,
        kl,
        mean_gap: m.gap.max(0.0),
        mode_offset: offset,
        variance,
        gain: normalized_lift(m.lift, m.e, offset),
    }
}

/// The KL and the reward variance of a tilt from pass 1 alone (see [`Weighed::estimate`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct PassOneEstimate {
    /// `KL(pi_beta || pi0)`, within `kl_error`.
    pub(super) kl: f64,
    /// A bound on the error of `kl` against the KL that pass 2 would form from the same
    /// weights.
    pub(super) kl_error: f64,
    /// `Var_{pi_beta}(r)`, to a relative `2^-27`.
    pub(super) variance: f64,
    /// `E_{pi_beta}[r]`.
    pub(super) mean: f64,
}

impl Weighed {
    /// The KL and `Var(r)` of the tilt from the sums of pass 1, for the steps of a search that
    /// is still far from its root (pass 2 forms both to full accuracy, at the cost of a second
    /// pass with the degree-13 KL series per outcome).
    ///
    /// With `v = (r - r_mode)/beta` and `d = v - log z` the log density ratio,
    /// `KL = E_pi[d] = s/beta - log z` for the mean `s = sum q (r - r_mode)/z` of pass 1, and
    /// `Var(r) = E_pi[(r - r_mode - c)^2] - (s - c)^2` about the centre `c`. The first
    /// difference cancels when the KL is small against `|log z|` or `E_pi|r - r_mode|/beta`,
    /// the second when the centre is far from the mean, so both come with their error:
    ///
    /// - each weight carries a relative error of a few eps against the weights of the rewards
    ///   as rounded into `v`, which pass 2 shares, each product `q (r - r_mode)` one more, and
    ///   the compensated sums little more: `|err s| <= 13 eps E|r - r_mode|` and
    ///   `|err s/beta| <= 16 eps E|r - r_mode|/beta`; `log z` from `z` (relative error
    ///   `5 eps`) or from `z - 1 = sum (q - pi0)` (terms of absolute error `6 eps (q + pi0)`,
    ///   `z > 1/2`) is within `18 eps + eps |log z|`; the difference adds `eps KL`. With a
    ///   factor of two for safety, `kl_error = 32 eps (E|r - r_mode|/beta + 1 + |log z| +
    ///   KL)`, with `E|r - r_mode| <= sqrt(E (r - r_mode - c)^2) + |c|`;
    /// - `Var(r)` is kept only when it is at least `2^-20 E (r - r_mode - c)^2`, where its
    ///   relative error is below `32 eps 2^20 = 2^-27` (it steers the search's Newton steps,
    ///   which need far less).
    ///
    /// `None` without a centre, when the linear weights were too small to carry the mean
    /// (`z <= 1e-280`), or when either quantity is not a positive finite number.
    pub(super) fn estimate(&self) -> Option<PassOneEstimate> {
        let (c, s) = (self.centre?, self.part.shift?);
        let z = self.part.z;
        let second = self.part.centred_square / z;
        let log_z = self.part.log_z;
        let kl = self.over_beta.of(s) - log_z;
        let variance = second - (s - c) * (s - c);
        let first_abs = self.over_beta.of(second.sqrt() + c.abs());
        let kl_error = 32.0 * f64::EPSILON * (first_abs + 1.0 + log_z.abs() + kl);
        let usable = kl > 0.0
            && kl_error.is_finite()
            && variance >= second * VARIANCE_CANCELLATION
            && variance.is_finite();
        usable.then_some(PassOneEstimate {
            kl,
            kl_error,
            variance,
            mean: self.r_mode + s,
        })
    }
}

/// `2^-20`: the smallest `Var(r) / E (r - c)^2` at which [`Weighed::estimate`] forms `Var(r)`
/// from pass 1.
const VARIANCE_CANCELLATION: f64 = 1.0 / 1_048_576.0;

/// `2^-42` (about `2.3e-13`): the largest relative error bound at which
/// [`Weighed::summary`] takes a statistic from pass 1, a quarter of the accuracy that every
/// solver guarantees (`1e-12` relative) and far above what rounding costs in practice.
pub(super) const SUMMARY_TRUST: f64 = 1.0 / (1u64 << 42) as f64;

impl Weighed {
    /// What pass 2 needs from pass 1.
    fn normalization(&self) -> Normalization {
        Normalization {
            r_max: self.r_max,
            r_mode: self.r_mode,
            over_beta: self.over_beta,
            over_z: Divide::by(self.part.z),
            log_z: self.part.log_z,
            shift: self.part.shift.unwrap_or(0.0),
            log_z_parts: self.part.log_z_parts,
        }
    }

    /// The statistics of the tilt from the sums of pass 1 formed with
    /// [`PassOneSums::Summary`], when each has a relative error bound of at most
    /// [`SUMMARY_TRUST`]; `None` otherwise (pass 2 then forms them). `r_min` is the least
    /// reward on the support.
    ///
    /// With `dev = r - r_mode`, `s = E_pi[dev]` (pass 1's shift), `m2 = E_pi[dev^2]` and
    /// `P = E_pi0[dev]`:
    ///
    /// - the KL and `E[r] = r_mode + s` are those of [`Weighed::estimate`] (centre 0), whose KL
    ///   bound is doubled here (`64 eps (E|dev|/beta + 1 + |log z| + KL)`, each sum of pass 1
    ///   taken at the worst case of its naive in-block additions);
    /// - `Var(r) = m2 - s^2`: each of `m2`, `s` is a ratio of sums with terms of one sign or
    ///   bounded by `|dev|`, within `48 eps` relative to `m2` and to `E|dev| <= sqrt(m2)`
    ///   respectively (a few eps per term, 15 naive additions per lane of a block of 64, the
    ///   lanes and the compensated block sums, the division by `z`), so
    ///   `|err Var| <= 48 eps m2 + 2 |s| 48 eps sqrt(m2) + 2 eps m2 <= 160 eps m2`
    ///   (`|s| <= sqrt(m2)`);
    /// - `E_pi[r] - E_pi0[r] = s - P`, `P` summed as `s` is, so
    ///   `|err| <= 48 eps (sqrt(m2) + reach) + 2 eps |s - P|` with
    ///   `reach = max(r_mode - r_min, r* - r_mode) >= E_pi0|dev|`.
    ///
    /// Where the tilt barely moves the base (`Var(r)` or the gain small against `m2`) or the
    /// KL is small against the terms it is the difference of, the bounds fail and pass 2,
    /// which has no such cancellation, forms the statistics.
    fn summary(&self, r_min: f64) -> Option<TiltStats> {
        let (stats, trusted) = self.unchecked_summary(r_min)?;
        (trusted == SummaryTrust::ALL).then_some(stats)
    }

    /// The statistics of [`Weighed::summary`] with which of them their bounds trust, or `None`
    /// where pass 1 could not form them.
    fn unchecked_summary(&self, r_min: f64) -> Option<(TiltStats, SummaryTrust)> {
        let estimate = self.estimate()?;
        let (s, base_offset) = (self.part.shift?, self.part.base_offset?);
        let m2 = self.part.centred_square / self.part.z;
        let reach = (self.r_mode - r_min).max(self.r_max - self.r_mode);
        let gain = s - base_offset;
        let eps = f64::EPSILON;
        let trusted = |value: f64, bound: f64| bound <= SUMMARY_TRUST * value;
        let gain_error = 48.0 * eps * (m2.sqrt() + reach) + 2.0 * eps * gain.abs();
        let trust = SummaryTrust {
            kl: trusted(estimate.kl, 2.0 * estimate.kl_error),
            variance: trusted(estimate.variance, 160.0 * eps * m2),
            gain: trusted(gain, gain_error),
        };
        let stats = TiltStats {
            r_max: self.r_max,
            r_mode: self.r_mode,
            log_z_mode: self.part.log_z,
            log_z: (self.r_mode - self.r_max) / self.beta + self.part.log_z,
            kl: estimate.kl,
            // Without a bound of its own (it cancels where the policy sits at `r*`): only the
            // searches read it, and they take their statistics from pass 2.
            mean_gap: ((self.r_max - self.r_mode) - s).max(0.0),
            mode_offset: s,
            variance: estimate.variance,
            gain,
        };
        Some((stats, trust))
    }
}

/// Which statistics of a tilt formed from pass 1 are within [`SUMMARY_TRUST`] by their bounds
/// (see [`Weighed::summary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SummaryTrust {
    kl: bool,
    variance: bool,
    gain: bool,
}

impl SummaryTrust {
    const ALL: Self = Self {
        kl: true,
        variance: true,
        gain: true,
    };
}

/// The tilt at `beta` with its policy (two fresh buffers of length `n`, one of which doubles as
/// the scratch space of the passes).
fn assemble(base: &Dist, reward: &[f64], beta: f64) -> Tilt {
    assemble_scanned(base, reward, beta, scan_tilt(base, reward, beta))
}

/// [`assemble`] after the first sweep, `scan`.
fn assemble_scanned(base: &Dist, reward: &[f64], beta: f64, scan: ModeScan) -> Tilt {
    let n = base.len();
    let (mut probs, mut logs) = (zeroed(n), zeroed(n));
    let s = tilt_outputs_scanned(base, reward, beta, scan, &mut probs, Some(&mut logs));
    tilt_from_parts((base, reward), s, beta, probs, logs)
}

fn tilt_from_parts(
    (base, reward): (&Dist, &[f64]),
    s: TiltStats,
    beta: f64,
    probs: Vec<f64>,
    logs: Vec<f64>,
) -> Tilt {
    let t = summarize((base, reward), s, beta);
    Tilt {
        solution: Solution {
            policy: Dist::from_parts_unchecked(probs, logs),
            expected_reward: t.expected_reward,
            kl: t.kl,
        },
        beta,
        log_partition: t.log_partition,
        reward_variance: t.reward_variance,
        reward_gain: t.reward_gain,
    }
}

/// The numbers of a [`Tilt`] without its policy (what the into-buffer solvers return).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TiltSummary {
    /// The temperature `beta`.
    pub beta: f64,
    /// `E_{pi_beta}[r]`.
    pub expected_reward: f64,
    /// `KL(pi_beta || pi0)`.
    pub kl: f64,
    /// `log Z` (see [`Tilt::log_partition`]).
    pub log_partition: f64,
    /// `Var_{pi_beta}(r)`.
    pub reward_variance: f64,
    /// `E_{pi_beta}[r] - E_pi0[r]` (see [`Tilt::reward_gain`]).
    pub reward_gain: f64,
}

/// The scalar results of one tilt evaluation.
pub(super) fn summarize((base, reward): (&Dist, &[f64]), s: TiltStats, beta: f64) -> TiltSummary {
    // `E = r_mode + sum pi (r - r_mode)`: the mode (the outcome of largest tilted mass, so
    // `pi(mode) >= 1/n`) is where the policy sits, so nothing cancels; `r* - sum pi (r* - r)`
    // would lose `E` entirely when the policy sits far below `r*` (a mass of 6e-16 at
    // `r* = 0.7` above a base at 0: `E = 4.5e-16`, which that form rounds to `2^-51`).
    let expected_reward = (s.r_mode + s.mode_offset).min(s.r_max);
    // The lift overflows only for rewards more than ~1e308 apart; the difference of means is
    // the fallback there.
    let gain = if s.gain.is_finite() {
        s.gain
    } else {
        base.expectation(reward)
            .map_or(f64::NAN, |e0| expected_reward - e0)
    };
    TiltSummary {
        beta,
        expected_reward,
        kl: s.kl,
        log_partition: s.r_max / beta + s.log_z,
        reward_variance: s.variance,
        reward_gain: gain.max(0.0),
    }
}

/// The tilt at the multiplier `beta` found by a root finder whose last evaluation, `last`,
/// left the normalized policy in `policy`: when that evaluation was at this very beta, only
/// the log-policy `log pi0 + (r - r_mode)/beta - log z` remains to be formed, in `logs` (the
/// same
/// expression as in [`normalize`], so the result is identical to [`assemble`]'s), saving the
/// passes with `exp`.
fn tilt_at_root(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    [policy, logs]: [Vec<f64>; 2],
    last: Option<(f64, TiltStats)>,
) -> Tilt {
    match last {
        Some((b, _)) if b == beta && policy.len() == base.len() && logs.len() == base.len() => {
            let (mut policy, mut logs) = (policy, logs);
            let s = finish_at_root(base, reward, beta, last, &mut policy, &mut logs);
            tilt_from_parts((base, reward), s, beta, policy, logs)
        }
        _ => assemble(base, reward, beta),
    }
}

/// The statistics of the tilt at `beta` with its policy in `policy` and log-policy in `logs`
/// (both of length `n`), where `policy` holds what the root finder's last evaluation `last`
/// left there: at this very beta only the log-policy is formed (see [`tilt_at_root`]), else
/// the tilt is evaluated afresh into both buffers.
pub(super) fn finish_at_root(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    last: Option<(f64, TiltStats)>,
    policy: &mut [f64],
    logs: &mut [f64],
) -> TiltStats {
    match last {
        Some((b, s)) if b == beta => {
            let shift = (s.r_mode, s.log_z_mode);
            let lp = base.log_probs();
            log_policy(lp, reward, policy, Divide::by(beta), shift, logs);
            s
        }
        _ => tilt_stats_in(base, reward, beta, policy, Some(logs)),
    }
}

/// The exponent `k` of a power-of-two rescaling `r -> r 2^k` that brings the reward's spread on
/// the support into `[1, 2)`, when that spread is outside `[2^lo, 2^hi]` (or beyond `f64::MAX`);
/// `None` when no rescaling is needed (or the reward is constant on the support).
///
/// Every problem here depends on `r` and its parameter (`beta`, the target) only through
/// `(r - r')/beta` and differences of rewards, so it is solved on `r 2^k` (with `beta 2^k`,
/// `c 2^k`) and the rewards and multipliers are mapped back. The rescaled rewards are exact
/// except where a reward tiny against the spread underflows, a change far below the spread's
/// rounding; off the support the rescaled reward is 0 (it has no influence on any answer).
pub(super) fn rescaling(base: &Dist, reward: &[f64], (lo, hi): (i32, i32)) -> Option<i32> {
    let (r_min, r_max) = base.support_range(reward);
    let spread = r_max - r_min;
    // floor(log2(spread)) (exact for a double), from half the spread when it overflows.
    let e = if spread.is_finite() {
        spread.log2().floor() as i32
    } else {
        (r_max / 2.0 - r_min / 2.0).log2().floor() as i32 + 1
    };
    if !(spread > 0.0) {
        return None;
    }
    (!spread.is_finite() || e > hi || e < lo).then_some(-e)
}

/// The reward rescaled by `2^k` on the support (0 off it).
pub(super) fn rescaled(base: &Dist, reward: &[f64], k: i32) -> Vec<f64> {
    reward
        .iter()
        .zip(base.probs())
        .map(|(r, p)| if *p > 0.0 { times_pow2(*r, k) } else { 0.0 })
        .collect()
}

/// The tilt's rescaling: `Some(-1)` (halve the rewards and `beta`) when the reward's spread on
/// the support (`log pi0 > -inf`, as the tilt's first sweep `scan` found it) is beyond
/// `f64::MAX`, else `None`. Halving suffices (`|r| <= f64::MAX`, so the spread is below
/// `2^1025`) and is exact except for subnormal rewards and a subnormal `beta` (an absolute
/// change of at most `2^-1075`): a stronger rescaling would flush rewards that are tiny against
/// the spread to zero, although at a small `beta` their differences decide the tilt (rewards
/// `-f64::MAX`, `1e-300`, `-3e-91` at `beta = 1e-300`).
pub(super) fn tilt_rescaling(scan: &ModeScan) -> Option<i32> {
    let (r_min, r_max) = scan.range;
    (r_max - r_min == f64::INFINITY).then_some(-1)
}

/// `beta 2^k` for the rescaled tilt (the smallest subnormal if it underflows, where the tilt is
/// the argmax limit either way).
pub(super) fn scaled_beta(beta: f64, k: i32) -> f64 {
    times_pow2(beta, k).max(f64::from_bits(1))
}

impl TiltSummary {
    /// The summary of the tilt of `r 2^k` at `beta 2^k` mapped back to `r` at `beta`.
    pub(super) fn unscaled(self, k: i32, beta: f64) -> Self {
        Self {
            beta,
            expected_reward: times_pow2(self.expected_reward, -k),
            reward_variance: times_pow2(self.reward_variance, -2 * k),
            reward_gain: times_pow2(self.reward_gain, -k),
            ..self
        }
    }
}

/// The spread range `[2^-500, 2^500]` within which the multiplier searches work unscaled: the
/// variance (up to `spread^2`) and `spread * e^{+-745}` stay finite.
pub(super) const SEARCH_SPREAD: (i32, i32) = (-500, 500);

/// How far below `r* = max r` the multiplier searches raise the rewards (see
/// [`raised_low_rewards`]): `2^499`, so that the raised rewards' spread is inside
/// [`SEARCH_SPREAD`] and the searches on them never rescale (nor come back here).
const SEARCH_RAISED_GAP: f64 = f64::from_bits((1023 + 499) << 52);

/// How far below `r* = max r` the tilt raises a reward whose spread is beyond `f64::MAX`:
/// `2^1022`, a spread every difference of which is finite.
const TILT_RAISED_GAP: f64 = f64::from_bits((1023 + 1022) << 52);

/// The reward on the support raised to `floor = r* - gap` where it is lower (and `floor` off
/// the support), with the gap `r* - floor` as rounded; `None` when no reward on the support is
/// below the floor (a spread below `gap`: nothing to raise) or when `r*` is too large for the
/// gap to be resolved (`r* - gap == r*`). The raised rewards' spread is then that gap.
///
/// At a multiplier `beta <= (r* - floor)/1500` (see [`raised_rewards_are_invisible`]) the
/// tilts of the raised and of the original reward are the same in doubles: an outcome at or
/// below the floor has `pi = pi0 e^{(r - r*)/beta}/Z <= e^{-1500}/pi0(A) < e^{-755}`, which
/// is 0 either way, as `pi0(A) >= 5e-324 = e^{-744.4}`. So a multiplier search on the raised
/// reward (whose spread is inside the searches' range, so nothing is rescaled and no reward of
/// order one is flushed to a subnormal) solves the original problem whenever its root is in
/// that range; the answer is then the tilt of the original reward at that root.
fn raised_low_rewards(base: &Dist, reward: &[f64], gap: f64) -> Option<(Vec<f64>, f64)> {
    let (r_min, r_max) = base.support_range(reward);
    let floor = r_max - gap;
    if !(r_min < floor && floor < r_max) {
        return None;
    }
    let raised = reward
        .iter()
        .zip(base.probs())
        .map(|(&r, &p)| if p > 0.0 { r.max(floor) } else { floor })
        .collect();
    Some((raised, r_max - floor))
}

/// Whether outcomes `gap` below the top reward have a policy mass of exactly 0 at `beta`
/// (the condition `gap/beta >= 1500` of [`raised_low_rewards`]).
fn raised_rewards_are_invisible(gap: f64, beta: f64) -> bool {
    gap / beta >= 1500.0
}

/// The tilt of a reward whose spread is beyond `f64::MAX`, at a `beta <= 2^1022/1500`, from the
/// rewards raised to `r* - 2^1022` (see [`raised_low_rewards`]): the policy, `E`, the KL,
/// `log Z`, the variance and the log view (`-inf` where a mass is 0, as for every tilt; the
/// finite log-policy there is [`Solution::tilt_log_policy`], formed from the original reward)
/// are those of the raised problem, the same in doubles; the gain is taken against `E_pi0` of
/// the original reward. `None` at a larger `beta` (where halving the rewards and `beta`
/// loses nothing that matters: a reward difference of `2^-1074` is then `0` against `beta`).
/// Halving at every `beta` lost a subnormal `beta` and the subnormal rewards whose differences
/// decide the tilt there (rewards `+-5e-324` at `beta = 5e-324`: a factor `e^2`).
pub(super) fn tilt_of_raised(base: &Dist, reward: &[f64], beta: f64) -> Option<Tilt> {
    let (raised, gap) = raised_low_rewards(base, reward, TILT_RAISED_GAP)?;
    if !raised_rewards_are_invisible(gap, beta) {
        return None;
    }
    let mut t = assemble(base, &raised, beta);
    let e0 = base.expectation(reward).unwrap_or(f64::NAN);
    t.reward_gain = (t.solution.expected_reward - e0).max(0.0);
    Some(t)
}

/// The gaps below `r*` at which the multiplier searches raise low rewards (see
/// [`raised_low_rewards`]), tried in order: [`SEARCH_RAISED_GAP`], and then `1`. A multiplier
/// below the normal doubles (top rewards `5e-324` apart, beside a reward of `-1e308`) is out of
/// reach at the first gap, whose spread leaves no room to scale the rewards up; at a gap of 1
/// the raised problem is solved scaled up by `2^499` (see [`budget_by_scaling_up`]).
const SEARCH_RAISED_GAPS: [f64; 2] = [SEARCH_RAISED_GAP, 1.0];

/// The tilt of the original reward at the multiplier that `search` finds on the raised
/// rewards of [`raised_low_rewards`] (at the first of [`SEARCH_RAISED_GAPS`] that gives one),
/// when that multiplier leaves the raised outcomes invisible, with that multiplier; `None`
/// otherwise (no multiplier, or one too large). `search` returns the raised problem's solution
/// and multiplier (`None` beyond the doubles).
///
/// A multiplier below the normal doubles is only its rounding (to `2^-1075`): the tilt at it is
/// not the one the search found (a mass `e^{0.6}` off at `beta = 5e-324`). The raised
/// solution is then the answer, the same in doubles as the original tilt at the unrounded
/// multiplier, with `E` taken on the original reward. A multiplier beyond the doubles is below
/// them (`beta < 2^-1075`, rewards `5e-324` apart whose masses differ by `e^{32}`) exactly when
/// the raised outcomes keep no mass; it is then `None`, with the raised solution.
fn tilt_by_raising(
    base: &Dist,
    reward: &[f64],
    mut search: impl FnMut(&[f64]) -> Option<(Solution, Option<f64>)>,
) -> Result<Option<(Solution, Option<f64>)>> {
    for gap in SEARCH_RAISED_GAPS {
        let Some((raised, gap)) = raised_low_rewards(base, reward, gap) else {
            continue;
        };
        let Some((s, beta)) = search(&raised) else {
            continue;
        };
        let invisible = match beta {
            Some(b) => raised_rewards_are_invisible(gap, b),
            None => floor_is_empty(base, &raised, s.policy.probs()),
        };
        if !invisible {
            continue;
        }
        let solution = match beta {
            Some(b) if b >= f64::MIN_POSITIVE => tilt(base, reward, b)?.solution,
            _ => unscale(s, reward),
        };
        return Ok(Some((solution, beta)));
    }
    Ok(None)
}

/// Whether `policy` has no mass where the raised reward is at its floor (its least value on the
/// base's support).
fn floor_is_empty(base: &Dist, raised: &[f64], policy: &[f64]) -> bool {
    let (floor, _) = base.support_range(raised);
    base.support()
        .all(|i| raised[i] > floor || policy[i] == 0.0)
}

/// `kl_budget` solved on raised rewards (see [`raised_low_rewards`]) when its binding
/// multiplier leaves them invisible; `None` otherwise (or when that search fails).
pub(super) fn budget_by_raising(base: &Dist, reward: &[f64], eps: f64) -> Result<Option<KlBudget>> {
    let found = tilt_by_raising(base, reward, |raised| {
        let s = kl_budget(base, raised, eps).ok()?;
        (s.regime == BudgetRegime::Binding).then_some((s.solution, s.beta))
    })?;
    let Some((solution, beta)) = found else {
        return Ok(None);
    };
    budget_met(solution.kl, eps, solution.policy.probs(), base.probs())?;
    Ok(Some(KlBudget {
        solution,
        beta,
        regime: BudgetRegime::Binding,
    }))
}

/// `reward_target` solved on raised rewards, as [`budget_by_raising`]. The target is checked
/// by [`target_met_in_doubles`], against `r* - c`, the scale of the original problem near its
/// top, and not against the raised spread (`2^499`): the raised search's own fallback for a
/// target within rounding of `E_pi0` measures that rounding by the raised spread, and returned
/// a multiplier whose tilt missed a target of 0 by `0.23`. (A target of `-5e-324` beside a
/// reward of `-1e308` is met by `E = 0`: the mass that would bring `E` to it, `5e-332`, is
/// below the doubles.)
fn target_by_raising(base: &Dist, reward: &[f64], c: f64) -> Result<Option<RewardTarget>> {
    let found = tilt_by_raising(base, reward, |raised| {
        let s = reward_target(base, raised, c).ok()?;
        (s.regime == TargetRegime::Interior).then_some((s.solution, s.beta))
    })?;
    let Some((solution, beta)) = found else {
        return Ok(None);
    };
    target_met_in_doubles(base, reward, &solution, c)?;
    Ok(Some(RewardTarget {
        solution,
        beta,
        regime: TargetRegime::Interior,
    }))
}

impl Tilt {
    /// Its scalar results.
    pub(super) fn summary(&self) -> TiltSummary {
        TiltSummary {
            beta: self.beta,
            expected_reward: self.solution.expected_reward,
            kl: self.solution.kl,
            log_partition: self.log_partition,
            reward_variance: self.reward_variance,
            reward_gain: self.reward_gain,
        }
    }

    /// The tilt of `r 2^k` at `beta 2^k` mapped back to `r` at `beta` (the policy is the same).
    fn unscaled(self, k: i32, beta: f64) -> Self {
        let s = self.summary().unscaled(k, beta);
        Self {
            solution: Solution {
                expected_reward: s.expected_reward,
                ..self.solution
            },
            beta,
            log_partition: s.log_partition,
            reward_variance: s.reward_variance,
            reward_gain: s.reward_gain,
        }
    }
}

/// Maps a solution of the rescaled problem (rewards times `2^k`) back: the policy and KL are
/// those of the original problem, and `E[r]` is recomputed from the policy and the original
/// rewards (the rescaled rewards lose what underflowed: rewards of `-3` rescaled by `2^-1023`
/// at masses of `3e-300` left `E = 0` where it is `-4.8e-300`).
fn unscale(mut s: Solution, reward: &[f64]) -> Solution {
    s.expected_reward = super::expected_reward(&s.policy, reward);
    s
}

/// A multiplier of the rescaled problem mapped back; `None` beyond the positive doubles.
pub(super) fn unscale_beta(beta: Option<f64>, k: i32) -> Option<f64> {
    beta.map(|b| times_pow2(b, -k))
        .filter(|b| b.is_finite() && *b > 0.0)
}

/// The KL-regularized optimum `pi_beta = argmax_pi E_pi[r] - beta KL(pi||pi0)` (claim
/// `kl.tilt`).
///
/// Assumptions: `base` any distribution (zeros allowed: `pi_beta` vanishes there, claim
/// `kl.support`), `reward` finite with the same length, `0 < beta < inf`. Cost: three sweeps
/// over the outcomes (the mode; the weights, with one vectorized `exp` per outcome; the
/// normalization and the sums), each split into tiles over all cores from `2^16` outcomes on,
/// with results independent of the number of cores (see `tilt_passes`).
///
/// ```
/// use rlhf_claims::{Dist, solve::tilt};
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let t = tilt(&base, &[0.0, 1.0], 1.0)?;
/// let e = std::f64::consts::E;
/// assert!((t.solution.policy.prob(1) - e / (1.0 + e)).abs() < 1e-15);
/// assert!((t.log_partition - ((1.0 + e) / 2.0).ln()).abs() < 1e-15);
/// // Extreme but valid: r/beta = 1e5 stays finite and exact.
/// let t = tilt(&base, &[0.0, 1e5], 1.0)?;
/// assert_eq!(t.solution.policy.prob(1), 1.0);
/// assert!((t.solution.kl - 2f64.ln()).abs() < 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn tilt(base: &Dist, reward: &[f64], beta: f64) -> Result<Tilt> {
    crate::parallel::as_one_job(reward.len(), || {
        // A spread beyond f64::MAX (rewards near +-1.8e308): solve on r/2 at beta/2 (the smallest
        // subnormal if beta/2 underflows, where the tilt is the argmax limit either way).
        let scan = checked_scan(base, reward, beta)?;
        if let Some(k) = tilt_rescaling(&scan) {
            if let Some(t) = tilt_of_raised(base, reward, beta) {
                return Ok(t);
            }
            return Ok(
                assemble(base, &rescaled(base, reward, k), scaled_beta(beta, k)).unscaled(k, beta),
            );
        }
        Ok(assemble_scanned(base, reward, beta, scan))
    })
}

/// MaxEnt RL (claim `kl.maxent`): the maximizer of `E_pi[r] + alpha H(pi)`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct MaxEnt {
    /// `softmax(r/alpha)`, its expected reward, and its KL to the uniform distribution.
    #[serde(flatten)]
    pub solution: Solution,
    /// The entropy coefficient.
    pub alpha: f64,
    /// The optimal value `alpha log sum_x exp(r(x)/alpha)`.
    pub value: f64,
    /// `H(softmax(r/alpha))`.
    pub entropy: f64,
}

/// `softmax(r/alpha)`, the maximizer of `E_pi[r] + alpha H(pi)`; it is the tilt of the uniform
/// distribution at `beta = alpha`, because `alpha H(pi) = -alpha KL(pi||uniform) + alpha log n`.
pub fn maxent(reward: &[f64], alpha: f64) -> Result<MaxEnt> {
    let base = Dist::uniform(reward.len()).map_err(|_| Error::Empty { what: "reward" })?;
    let t = tilt(&base, reward, alpha)?;
    let log_n = (reward.len() as f64).ln();
    let entropy = (log_n - t.solution.kl).max(0.0);
    let value = t.solution.expected_reward + alpha * entropy;
    Ok(MaxEnt {
        solution: t.solution,
        alpha,
        value,
        entropy,
    })
}

/// Which case of `lagrange.kl-budget` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BudgetRegime {
    /// `eps = 0`: the only feasible policy is `pi0` (beta = +inf).
    Zero,
    /// `0 < eps < -log pi0(A)`: the constraint binds; the optimum is the tilt at the unique beta
    /// with `KL(pi_beta||pi0) = eps`.
    Binding,
    /// `eps >= -log pi0(A)`: the budget is slack; `max r` is reached, with the least KL by
    /// `pi0(. | A)` (beta = 0+).
    Slack,
}

/// Solution of `max E_pi[r] s.t. KL(pi||pi0) <= eps`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct KlBudget {
    /// The optimal policy (the least-KL one in the slack case).
    #[serde(flatten)]
    pub solution: Solution,
    /// The multiplier beta; `None` when no finite positive beta is the answer, when it is not a
    /// positive finite double (beyond `f64::MAX`, or below half the smallest subnormal), or
    /// when the constraint binds only through masses below the doubles (the regime still says
    /// which case applies).
    pub beta: Option<f64>,
    /// Which case applies.
    pub regime: BudgetRegime,
}

/// Which case of `lagrange.reward-target` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TargetRegime {
    /// `c <= E_pi0[r]`: `pi0` itself meets the target (beta = +inf).
    Unconstrained,
    /// `E_pi0[r] < c < max r`: the tilt with `E_beta[r] = c`.
    Interior,
    /// `c = max r`: `pi0(. | A)` (beta = 0+).
    Boundary,
}

/// Solution of `min KL(pi||pi0) s.t. E_pi[r] >= c`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RewardTarget {
    /// The optimal policy.
    #[serde(flatten)]
    pub solution: Solution,
    /// The multiplier beta; `None` when no finite positive beta is the answer, when it is not a
    /// positive finite double (beyond `f64::MAX`, or below half the smallest subnormal), or
    /// when the constraint binds only through masses below the doubles (the regime still says
    /// which case applies).
    pub beta: Option<f64>,
    /// Which case applies.
    pub regime: TargetRegime,
}

/// Root-finding variable: `u = ln(spread / beta)`, so `beta = spread * exp(-u)`; `|u| <= U_MAX`
/// spans every beta for which the tilt is representable and distinct from its limits when the
/// spread is at most 1. A larger spread reaches further: see [`u_range`].
const U_MAX: f64 = 745.0;

/// The range of `u` a search covers: `[-U_MAX, U_MAX]`, extended on the small-`beta` side to
/// `ln(spread / 2^-1022)` when that is larger, so that every normal `beta` is reachable. The
/// raised searches (a spread of `2^499`) need it: there `U_MAX` stops at `beta = 3.5e-174`,
/// while rewards of order `1e-300` beside the raised ones are decided at `beta ~ 1e-293`.
fn u_range(spread: f64) -> (f64, f64) {
    (-U_MAX, U_MAX.max(spread.ln() - f64::MIN_POSITIVE.ln()))
}

/// `pi0` as a solution (beta = +inf).
fn base_solution(base: &Dist, reward: &[f64]) -> Result<Solution> {
    Ok(Solution {
        policy: base.clone(),
        expected_reward: base.expectation(reward)?,
        kl: 0.0,
    })
}

/// `pi0(. | argmax r)` as a solution (beta = 0+).
fn argmax_solution(base: &Dist, reward: &[f64], r_max: f64) -> Result<Solution> {
    let event: Vec<bool> = reward.iter().map(|r| *r == r_max).collect();
    let mut s = super::condition_on_event(base, reward, &event)?;
    s.expected_reward = r_max;
    Ok(s)
}

/// Expands `[lo, hi]` around `start` until `g(lo) <= 0 <= g(hi)` for an increasing `g`, or
/// reports which end of the range `(u_lo, u_hi)` (from [`u_range`]) was hit.
///
/// Each probe goes 10% beyond the Newton point of the last one (at least `1e-3`, at most
/// `2^k` after `k` probes), so a good start brackets the root tightly in one or two probes: on
/// the convex side of `g` Newton's point falls short of the root by a second-order amount,
/// which the 10% covers; on the concave side it already overshoots. Where the derivative is
/// useless the step doubles.
///
/// The caps double from 1, so the end of the range (at most `745 + 1055` wide) is reached within
/// `log2(1800) + 1 = 12` probes beyond the first; [`MAX_PROBES`] bounds the loop regardless (a
/// NaN start or `g` ends it with [`Error::NoConvergence`] instead of probing forever).
fn bracket<G: FnMut(f64) -> Result<(f64, f64)>>(
    g: &mut G,
    start: f64,
    (u_lo, u_hi): (f64, f64),
) -> Result<(f64, f64)> {
    let mut edge = if start.is_nan() {
        0.0
    } else {
        start.clamp(u_lo, u_hi)
    };
    let (g0, mut dg) = g(edge)?;
    if g0.is_nan() {
        return Err(Error::NoConvergence(format!(
            "the multiplier equation is NaN at ln(spread/beta) = {edge}"
        )));
    }
    let mut g_edge = g0;
    let mut cap = 1.0;
    for _ in 0..MAX_PROBES {
        let newton = 1.1 * g_edge.abs() / dg;
        let step = if newton.is_finite() && dg > 0.0 {
            newton.clamp(1e-3, cap)
        } else {
            cap
        };
        let next = if g0 < 0.0 { edge + step } else { edge - step }.clamp(u_lo, u_hi);
        let (gn, dgn) = g(next)?;
        if g0 < 0.0 && gn >= 0.0 {
            return Ok((edge, next));
        }
        if g0 >= 0.0 && gn <= 0.0 {
            return Ok((next, edge));
        }
        if !(u_lo < next && next < u_hi && gn.is_finite()) {
            return Err(Error::NoConvergence(format!(
                "no bracket for the multiplier within {u_lo} <= ln(spread/beta) <= {u_hi}"
            )));
        }
        (edge, g_edge, dg) = (next, gn, dgn);
        cap *= 2.0;
    }
    Err(Error::NoConvergence(format!(
        "no bracket for the multiplier after {MAX_PROBES} probes"
    )))
}

/// The most probes [`bracket`] makes (it needs at most 13).
const MAX_PROBES: usize = 64;

/// `ln(a/b)` for positive `a`, `b`, as `log1p((a - b)/b)` when `a/b` is within `[1/2, 2]`:
/// relative accuracy near `a = b` even when `|ln a|` is large (`ln a - ln b` there has absolute
/// error `eps |ln a|`, e.g. `1e-13` at `a = 1e-243`, which is the whole dynamic range of a KL
/// that saturates near `-log pi0(A)`). Elsewhere `ln a - ln b`, which never over- or
/// underflows.
fn log_ratio(a: f64, b: f64) -> f64 {
    let rel = (a - b) / b;
    if (-0.5..=1.0).contains(&rel) {
        rel.ln_1p()
    } else {
        a.ln() - b.ln()
    }
}

/// $\max E_\pi\[r\]$ subject to $\mathrm{KL}(\pi\\|\pi_0) \le \varepsilon$ (claim
/// `lagrange.kl-budget`).
///
/// Uses `kl.monotone`: $\mathrm{KL}(\pi_\beta\\|\pi_0)$ increases strictly in $1/\beta$ from 0
/// to $-\log \pi_0(A)$ ($A$ the argmax set of $r$ on the support) when $r$ is non-constant on
/// the support. The multiplier solves $\ln \mathrm{KL}(u) = \ln \varepsilon$ in
/// $u = \ln(\mathrm{spread}/\beta)$ by Newton's method with the exact derivative
/// $d\mathrm{KL}/du = \mathrm{Var}_\beta(r)/\beta^2$, safeguarded by bisection, to relative
/// accuracy $\sim 10^{-15}$ in the KL. Far from the root a step evaluates the KL and the
/// variance from the first of the tilt's two passes, with an error bound; near it, both passes
/// (so the last steps and the answer are those of the full evaluation).
///
/// Errors: `eps` negative or non-finite, bad base or reward.
pub fn kl_budget(base: &Dist, reward: &[f64], eps: f64) -> Result<KlBudget> {
    crate::parallel::as_one_job(reward.len(), || {
        kl_budget_from(base, reward, eps, None, [Vec::new(), Vec::new()])
    })
}

/// [`kl_budget`] with the multiplier search started at `beta_guess` (a positive finite guess
/// of the answer's beta; otherwise, or on rescaled rewards, from the small-`1/beta` expansion),
/// and the policy and its logarithms written into `buffers` when they have the base's length
/// (any contents; memory already paged in saves the kernel's zeroing of fresh pages). The
/// guess changes only where the search starts: the bracket and the root finder that follow it
/// are the same, and so is the accuracy of the answer.
pub(super) fn kl_budget_from(
    base: &Dist,
    reward: &[f64],
    eps: f64,
    beta_guess: Option<f64>,
    buffers: [Vec<f64>; 2],
) -> Result<KlBudget> {
    let case = budget_case(base, reward, eps)?;
    let BudgetCase::Binding { r_max, spread } = case else {
        return budget_limit(base, reward, &case);
    };
    if let Some(k) = rescaling(base, reward, SEARCH_SPREAD) {
        if let Some(s) = budget_by_raising(base, reward, eps)? {
            return Ok(s);
        }
        let s = kl_budget(base, &rescaled(base, reward, k), eps)?;
        let binding = s.regime == BudgetRegime::Binding;
        let kept = keeps_multiplier(binding, || {
            budget_met(s.solution.kl, eps, s.solution.policy.probs(), base.probs())
        })?;
        return Ok(KlBudget {
            solution: unscale(s.solution, reward),
            beta: unscale_beta(s.beta.filter(|_| kept), k),
            regime: BudgetRegime::Binding,
        });
    }
    let range = (r_max, spread);
    if let Some(s) = subnormal_budget(base, reward, eps, range) {
        return s;
    }
    let n = base.len();
    let [mut scratch, logs] = buffers.map(|b| if b.len() == n { b } else { zeroed(n) });
    let (beta, last) = match budget_multiplier(base, reward, eps, range, beta_guess, &mut scratch) {
        Ok(found) => found,
        Err(e) => return budget_fallback(base, reward, eps, range, e),
    };
    let t = tilt_at_root(base, reward, beta, [scratch, logs], last);
    if let Err(e) = budget_met(t.solution.kl, eps, t.solution.policy.probs(), base.probs()) {
        return budget_fallback(base, reward, eps, range, e);
    }
    Ok(KlBudget {
        solution: t.solution,
        beta: Some(beta),
        regime: BudgetRegime::Binding,
    })
}

/// Whether the rescaled problem's answer keeps its multiplier, for a constraint that binds in
/// the original problem. It may come back as a limit: the rescaling by `2^-1023` that a
/// reward of `-1e308` forces flushes a reward of `-1e-300` to 0, joining it to the argmax, so
/// a budget of `5e-324` that the original problem spends on removing a mass of `5e-324` (its
/// argmax holds all but `1e-20`) came back "slack", with `E` below `max r`. The limit's policy
/// is then the original optimum in doubles, whose multiplier no double-precision search can
/// find (it is where a weight of `e^{-752}` costs the last subnormal step of the KL): the
/// answer binds, with `beta` null, when `met` confirms the constraint (`Ok(false)`); else
/// [`Error::NoConvergence`], never a wrong regime. `Ok(true)` when `binding`.
pub(super) fn keeps_multiplier(binding: bool, met: impl FnOnce() -> Result<()>) -> Result<bool> {
    if binding {
        return Ok(true);
    }
    met().map(|()| false).map_err(|e| {
        Error::NoConvergence(format!(
            "the constraint binds, but the rewards rescaled into the double range tell its \
             multiplier from a limit only through masses below the doubles, and the limit \
             misses it ({e})"
        ))
    })
}

/// A target met by `solution` to what a policy in doubles can show: `MET` relative to
/// `|c| + r* - c` as for every search, plus `2^-1074 |r|` for each outcome of the support
/// whose mass is below the normal doubles (held only to that step: `0` for a mass of `1e-513`
/// on `-1e308` that the exact optimum carries, `1e-205` of `E`).
fn target_met_in_doubles(base: &Dist, reward: &[f64], solution: &Solution, c: f64) -> Result<()> {
    let (_, r_max) = base.support_range(reward);
    let policy = solution.policy.probs();
    let resolution: f64 = base
        .support()
        .filter(|&i| policy[i] < f64::MIN_POSITIVE)
        .map(|i| f64::from_bits(1) * reward[i].abs())
        .sum();
    let e = solution.expected_reward;
    if !((e - c).abs() <= MET * (c.abs() + (r_max - c)) + resolution) {
        return Err(Error::NoConvergence(format!(
            "E[r] = {e} for the target {c}"
        )));
    }
    Ok(())
}

/// A binding budget whose search failed (`e`) or ended off the budget: one so small that its
/// tilt is the base in doubles ([`near_base_budget`]), or one whose multiplier is below the
/// normal doubles, where the KL moves in steps too coarse for the budget at this scale
/// ([`budget_by_scaling_up`]); else `e`.
pub(super) fn budget_fallback(
    base: &Dist,
    reward: &[f64],
    eps: f64,
    (r_max, spread): (f64, f64),
    e: Error,
) -> Result<KlBudget> {
    near_base_budget(base, reward, eps, (r_max, spread))
        .or_else(|| budget_by_scaling_up(base, reward, eps, spread))
        .unwrap_or(Err(e))
}

/// A budget so small that the tilt spending it is `pi0` in doubles. With `var0 =
/// Var_pi0(r)/spread^2`, `KL(pi_beta||pi0) = Var_pi0(r)/(2 beta^2) (1 + O(spread/beta))`
/// (`kl.second-order`), so `beta = spread sqrt(var0/(2 eps))` and `spread/beta = sqrt(2 eps /
/// var0)`. When that is at most `2^-60`, every mass `pi0 e^{(r - c)/beta}/Z` is within a relative
/// `2^-59` of `pi0`, below half an ulp, and the correction to the KL is below rounding: the
/// answer is `pi0`, `E_pi0[r]`, the KL `eps` (its value at that `beta`, which the policy in
/// doubles cannot show: its recomputed KL is 0), and that `beta` (null beyond `f64::MAX`, as for
/// rewards `7e148` apart on a budget of `5e-324`). The search fails there because the KL it
/// evaluates is below the normal doubles, in steps of `5e-324`. `None` for a larger budget.
fn near_base_budget(
    base: &Dist,
    reward: &[f64],
    eps: f64,
    (r_max, spread): (f64, f64),
) -> Option<Result<KlBudget>> {
    let var0 = scaled_variance(base.probs(), reward, r_max, spread);
    if !(var0 > 0.0 && 2.0 * eps <= var0 * NEAR_BASE_SQUARED) {
        return None;
    }
    let beta = spread * (var0 / 2.0).sqrt() / eps.sqrt();
    Some(base_solution(base, reward).map(|solution| KlBudget {
        solution: Solution {
            kl: eps,
            ..solution
        },
        beta: Some(beta).filter(|b| b.is_finite()),
        regime: BudgetRegime::Binding,
    }))
}

/// A budget below the normal doubles answered by [`near_base_budget`] before any search: the KL
/// a search evaluates there holds 1 to 4 digits (`1e-320` is `2024` steps of `5e-324`), and
/// its `beta` only as many, where the closed form holds it to an ulp. `None` otherwise.
pub(super) fn subnormal_budget(
    base: &Dist,
    reward: &[f64],
    eps: f64,
    range: (f64, f64),
) -> Option<Result<KlBudget>> {
    (eps < f64::MIN_POSITIVE)
        .then(|| near_base_budget(base, reward, eps, range))
        .flatten()
}

/// `(2^-60)^2`: the largest `(spread/beta)^2` at which [`near_base_budget`] answers.
const NEAR_BASE_SQUARED: f64 = 1.0 / (1u128 << 120) as f64;

/// A binding budget whose multiplier lies below the normal doubles, where the search in
/// [`u_range`] finds no bracket: the top rewards differ by a few subnormal steps against a
/// larger spread (`-5e-324` and `5e-324` beside `-0.0026`: the budget needs `beta ~ 1e-322`).
/// Solved on the rewards scaled up by `2^k` (exact: the spread is below `2^499` and every
/// reward on the support within `2^53` spreads of 0), `k` bringing the spread into
/// `[2^499, 2^500)`, where that multiplier is a normal number; the policy, KL and `E` are then
/// those of the original problem, and its `beta`, mapped back by `2^-k`, is correctly rounded
/// to a subnormal double (which holds it to fewer digits than a normal one; `null` if it
/// underflows). `None` when the spread is already in that range (nothing to gain).
pub(super) fn budget_by_scaling_up(
    base: &Dist,
    reward: &[f64],
    eps: f64,
    spread: f64,
) -> Option<Result<KlBudget>> {
    scale_up_exponent(spread).map(|k| {
        let s = kl_budget(base, &rescaled(base, reward, k), eps)?;
        Ok(KlBudget {
            solution: unscale(s.solution, reward),
            beta: unscale_beta(s.beta, k),
            regime: s.regime,
        })
    })
}

/// `reward_target` on rewards scaled up as in [`budget_by_scaling_up`] (the target `c` with
/// them, exactly: `c` lies between two rewards on the support), for a target whose multiplier
/// lies below the normal doubles (the top rewards `5e-324` apart against a spread of `2e-4`).
fn target_by_scaling_up(
    base: &Dist,
    reward: &[f64],
    c: f64,
    spread: f64,
) -> Option<Result<RewardTarget>> {
    scale_up_exponent(spread).map(|k| {
        let s = reward_target(base, &rescaled(base, reward, k), times_pow2(c, k))?;
        Ok(RewardTarget {
            solution: unscale(s.solution, reward),
            beta: unscale_beta(s.beta, k),
            regime: s.regime,
        })
    })
}

/// The `k > 0` that brings a finite positive `spread` into `[2^499, 2^500)` by `spread 2^k`;
/// `None` when it is already there or above (nothing to gain), or not finite and positive.
fn scale_up_exponent(spread: f64) -> Option<i32> {
    if !(spread > 0.0 && spread.is_finite()) {
        return None;
    }
    let k = SEARCH_SPREAD.1 - 1 - spread.log2().floor() as i32;
    (k > 0).then_some(k)
}

/// Which case of `lagrange.kl-budget` a validated problem is in, with what the next step
/// needs.
pub(super) enum BudgetCase {
    /// `eps >= -log pi0(A)`.
    Slack {
        /// `max r` on the support.
        r_max: f64,
    },
    /// `eps = 0`.
    Zero,
    /// The constraint binds.
    Binding {
        /// `r* = max r` on the support.
        r_max: f64,
        /// `r* - min r` on the support.
        spread: f64,
    },
}

/// Validates a KL-budget problem and tells its case.
pub(super) fn budget_case(base: &Dist, reward: &[f64], eps: f64) -> Result<BudgetCase> {
    check_reward(base, reward)?;
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "kl_budget",
            value: eps,
            requirement: "finite and >= 0",
        });
    }
    let (r_min, r_max) = base.support_range(reward);
    let kl_max = base.neg_log_mass_where(|i| reward[i] == r_max);
    if eps >= kl_max {
        return Ok(BudgetCase::Slack { r_max });
    }
    if eps == 0.0 {
        return Ok(BudgetCase::Zero);
    }
    Ok(BudgetCase::Binding {
        r_max,
        spread: r_max - r_min,
    })
}

/// The `pi0(. | argmax r)` or `pi0` answer of the non-binding cases (no finite beta).
pub(super) fn budget_limit(base: &Dist, reward: &[f64], case: &BudgetCase) -> Result<KlBudget> {
    let (solution, regime) = match case {
        BudgetCase::Slack { r_max } => {
            (argmax_solution(base, reward, *r_max)?, BudgetRegime::Slack)
        }
        _ => (base_solution(base, reward)?, BudgetRegime::Zero),
    };
    Ok(KlBudget {
        solution,
        beta: None,
        regime,
    })
}

/// The multiplier of a binding budget, with the root finder's last full evaluation when its
/// policy is what `scratch` (of length `n`) holds; the search starts at `beta_guess` when one
/// is given. Far from the root each step costs pass 1 alone ([`Weighed::estimate`], trusted
/// within [`ESTIMATE_TRUST`]), near it both passes.
pub(super) fn budget_multiplier(
    base: &Dist,
    reward: &[f64],
    eps: f64,
    (r_max, spread): (f64, f64),
    beta_guess: Option<f64>,
    scratch: &mut [f64],
) -> Result<(f64, Option<(f64, TiltStats)>)> {
    let (u_lo, u_hi) = u_range(spread);
    let start = match beta_guess {
        Some(b) if b > 0.0 && b.is_finite() => (spread / b).ln().clamp(u_lo, u_hi),
        // Small-beta^-1 expansion KL ~ Var0 / (2 beta^2) = var0 e^{2u} / 2 (var0 =
        // Var0/spread^2).
        _ => {
            let var0 = scaled_variance(base.probs(), reward, r_max, spread);
            (0.5 * (2.0 * eps / var0).ln()).clamp(u_lo, u_hi)
        }
    };
    // `last`: the full evaluation whose normalized policy `scratch` holds, if any; `centre`:
    // the tilted mean of the last evaluation, about which the next one's variance is formed.
    let (mut last, mut centre) = (None, None);
    let mut g = |beta: f64| -> Result<(f64, f64)> {
        let scan = scan_tilt(base, reward, beta);
        let weighed = weigh(
            base,
            reward,
            beta,
            scan,
            Some(centre.unwrap_or(scan.r_mode)),
            scratch,
        );
        if let Some(e) = weighed.estimate() {
            let gv = log_ratio(e.kl, eps);
            if e.kl_error <= ESTIMATE_TRUST * gv.abs() * e.kl {
                (last, centre) = (None, Some(e.mean));
                return Ok(budget_equation(e.kl, e.variance, beta, eps));
            }
        }
        let s = normalized_stats(base, reward, weighed, scratch, None);
        (last, centre) = (Some((beta, s)), Some(s.r_mode + s.mode_offset));
        Ok(budget_equation(s.kl, s.variance, beta, eps))
    };
    let beta = solve_in_u(&mut g, start, spread)?;
    Ok((beta, last))
}

/// The budget search's equation at `beta` from the KL and `Var(r)` there: `ln(KL/eps)` and its
/// derivative in `u = ln(spread/beta)`, `(dKL/du)/KL = Var(r)/(beta^2 KL)`; a KL of 0 (the
/// base in doubles) is far below any budget.
fn budget_equation(kl: f64, variance: f64, beta: f64, eps: f64) -> (f64, f64) {
    if kl <= 0.0 {
        return (-1e300, 2.0);
    }
    (log_ratio(kl, eps), variance / (beta * beta) / kl)
}

/// How far a [`PassOneEstimate`] may be off for the KL-budget search to step on it: its bound
/// on the error of `ln KL` at most `2^-8` of `|ln(KL/eps)|`, so that the sign of the
/// equation is right and a Newton step is off by at most a relative `2^-8` of itself. Near
/// the root (where that fails) the search evaluates both passes, so its last steps, and the
/// answer, are those of the full evaluation.
const ESTIMATE_TRUST: f64 = 1.0 / 256.0;

/// Relative accuracy within which a multiplier search must meet its constraint (it iterates to
/// ~1e-15); a result further off is [`Error::NoConvergence`], never an answer.
const MET: f64 = 1e-9;

/// The absolute resolution of a KL below the smallest normal double, `2 * 2^-1074`: a budget
/// of `5e-324` is met by a KL of 0 or `1e-323` (the neighbouring doubles), whose policies
/// equal `pi0` in every mass; no relative accuracy is possible there.
const SUBNORMAL_KL: f64 = 2.0 * 5e-324;

/// Never a broken constraint reported as binding: the search meets the budget to ~1e-15
/// relative; a KL beyond `MET` relative of the budget is a failure of the search, not an
/// answer. Below the normal doubles no relative accuracy is possible: a budget there is met to
/// [`SUBNORMAL_KL`], or, where the `policy` has subnormal masses (whose steps of `2^-1074` move
/// the KL by up to `745` such steps each), to the resolution of its KL against `base`
/// ([`crate::divergence::subnormal_kl_resolution`], formed only when needed).
pub(super) fn budget_met(kl: f64, eps: f64, policy: &[f64], base: &[f64]) -> Result<()> {
    let near = |resolution: f64| (kl - eps).abs() <= MET * eps + resolution;
    let resolution = || crate::divergence::subnormal_kl_resolution(policy, base);
    if !(near(SUBNORMAL_KL) || near(resolution())) {
        return Err(Error::NoConvergence(format!(
            "the multiplier search ended at KL {kl:e} for the budget {eps:e}"
        )));
    }
    Ok(())
}

/// Never a missed target reported as met: `E[r]` within `MET (|c| + spread)` of the target `c`.
fn target_met(e: f64, c: f64, spread: f64) -> Result<()> {
    if !((e - c).abs() <= MET * (c.abs() + spread)) {
        return Err(Error::NoConvergence(format!(
            "the multiplier search ended at E[r] = {e:e} for the target {c:e}"
        )));
    }
    Ok(())
}

/// How many evaluations [`remembered`] keeps.
const RECENT: usize = 4;

/// `g(u)`, looked up among the last [`RECENT`] evaluations first: each evaluation is a pass over
/// all outcomes, and the root finder re-evaluates the bracket ends that [`bracket`] just
/// computed.
fn remembered<G: FnMut(f64) -> Result<(f64, f64)>>(
    recent: &mut Vec<(f64, (f64, f64))>,
    g: &mut G,
    u: f64,
) -> Result<(f64, f64)> {
    if let Some((_, v)) = recent.iter().find(|(x, _)| *x == u) {
        return Ok(*v);
    }
    let v = g(u)?;
    if recent.len() == RECENT {
        recent.remove(0);
    }
    recent.push((u, v));
    Ok(v)
}

/// Brackets and solves `g(u) = 0` for an increasing `g`, given as a function of
/// `beta = spread * e^{-u}` (its value and its derivative in `u`); returns that `beta`.
/// When the root lies beyond the representable range on the large-`u` side (the constraint is
/// met only by the `beta -> 0` limit to within rounding), the end of the range is returned.
/// A root at `|u| >` [`POLISH_U`] is [`polished`] in `beta`.
fn solve_in_u<G: FnMut(f64) -> Result<(f64, f64)>>(
    g_beta: &mut G,
    start: f64,
    spread: f64,
) -> Result<f64> {
    let mut recent = Vec::with_capacity(RECENT);
    // Kept a positive normal number: spread * e^{-745} underflows for small spreads.
    let g = &mut |u: f64| remembered(&mut recent, &mut |u| g_beta(beta_at(u, spread)), u);
    let range = u_range(spread);
    let (lo, hi) = match bracket(g, start, range) {
        Ok(b) => b,
        Err(e) => {
            let (g_hi, _) = g(range.1)?;
            if g_hi.abs() <= 1e-12 {
                return Ok(beta_at(range.1, spread));
            }
            return Err(e);
        }
    };
    let tol = RootTolerance {
        x_abs: 1e-15,
        x_rel: 2.0 * f64::EPSILON,
        f_abs: 2.0 * f64::EPSILON,
        max_iter: 300,
    };
    let u = monotone_root(&mut *g, lo, hi, tol)?;
    if u.abs() <= POLISH_U {
        return Ok(beta_at(u, spread));
    }
    let at_root = g(u)?;
    polished(g_beta, beta_at(u, spread), at_root)
}

/// The `|u|` above which a root found in `u` is [`polished`]: below it `u` holds `beta` to
/// `eps |u| <= 7e-15` relative.
const POLISH_U: f64 = 32.0;

/// The most Newton steps [`polished`] takes (one usually suffices).
const POLISH_STEPS: usize = 3;

/// Newton steps on `beta` itself after the search in `u = ln(spread/beta)`, from `beta` where
/// `(g, dg/du)` is `at_root`. A double holds `u` only to `eps |u|`, and so `beta` to as much
/// relative: `8e-14` at `u = 352` (a spread of `2^499` from the raised searches against
/// `beta = 1.4e-3`), which moved a reward target met at `1/beta = 712` by `3e-12` relative. The
/// Newton step in `u`, `-g/g'`, taken multiplicatively, `beta e^{g/g'}`, holds `beta` to an ulp;
/// a step is kept only while it shrinks `|g|`.
///
/// The analytic slope carries `Var_pi(r)`, which underflows to 0 when the rewards that keep
/// mass are tiny although `r/beta` is not (rewards of `1e-300` at `beta = 4e-303`); the slope is
/// then the [`difference_slope`], and a later step whose own slope is unusable keeps the last
/// usable one.
fn polished<G: FnMut(f64) -> Result<(f64, f64)>>(
    g_beta: &mut G,
    mut beta: f64,
    (mut gv, dg): (f64, f64),
) -> Result<f64> {
    let mut dg = if usable_slope(dg) || gv == 0.0 {
        dg
    } else {
        match difference_slope(g_beta, beta, gv)? {
            Some(d) => d,
            None => return Ok(beta),
        }
    };
    for _ in 0..POLISH_STEPS {
        let next = beta * (gv / dg).exp();
        if !(gv != 0.0
            && usable_slope(dg)
            && next.is_finite()
            && next >= f64::MIN_POSITIVE
            && next != beta)
        {
            break;
        }
        let (g_next, dg_next) = g_beta(next)?;
        if !(g_next.abs() < gv.abs()) {
            break;
        }
        (beta, gv) = (next, g_next);
        if usable_slope(dg_next) {
            dg = dg_next;
        }
    }
    Ok(beta)
}

/// Whether a slope `dg/du` can take a Newton step: positive (`g` increases in `u`) and finite.
fn usable_slope(d: f64) -> bool {
    d > 0.0 && d.is_finite()
}

/// Step in `u` of [`difference_slope`]: `2^-20`, so that `g` moves by `2^-20 g'` (above its
/// rounding, ~`1e-15`, for any slope above `1e-9`) while the forward difference's truncation,
/// `g'' h / 2`, leaves the slope a relative `~1e-6` off: a Newton step from `|g| = 1e-10` then
/// lands within `1e-16`.
const SLOPE_STEP: f64 = 1.0 / 1_048_576.0;

/// `dg/du` at `beta` (where `g = gv`) by a forward difference over [`SLOPE_STEP`]: one more
/// evaluation, at `beta e^{-h}`. `None` when it is not a positive finite number.
fn difference_slope<G: FnMut(f64) -> Result<(f64, f64)>>(
    g_beta: &mut G,
    beta: f64,
    gv: f64,
) -> Result<Option<f64>> {
    let (g_step, _) = g_beta(beta * (-SLOPE_STEP).exp())?;
    let d = (g_step - gv) / SLOPE_STEP;
    Ok(usable_slope(d).then_some(d))
}

/// `beta = spread * e^{-u}`, kept a positive normal number: for small spreads `spread * e^{-745}`
/// underflows to 0 (and a tilt at beta = 0 is undefined), while the smallest normal beta already
/// gives the `beta -> 0` limit to within rounding.
///
/// `e^{-u}` is a normal double only up to `u = 708.4`; beyond it (reached for spreads above
/// 1, see [`u_range`]) it is subnormal, with fewer digits the larger `u` (3 at `u = 740`,
/// where `beta` then moved by 0.8% between neighbouring `u`: a budget search ended 6% off its
/// budget). So `beta` is formed there as `(spread e^{-EXP_SPLIT}) e^{EXP_SPLIT - u}`, both
/// factors normal, to a few ulps; wherever the product is a normal double the first factor is
/// too, as `e^{EXP_SPLIT - u} < 1`.
fn beta_at(u: f64, spread: f64) -> f64 {
    let beta = if u <= EXP_SPLIT {
        spread * (-u).exp()
    } else {
        spread * (-EXP_SPLIT).exp() * (EXP_SPLIT - u).exp()
    };
    beta.max(f64::MIN_POSITIVE)
}

/// Where [`beta_at`] splits `e^{-u}` in two: `e^{-700} = 9.9e-305` is normal.
const EXP_SPLIT: f64 = 700.0;

/// `min KL(pi||pi0) s.t. E_pi[r] >= c` (claim `lagrange.reward-target`).
///
/// Cases: `c <= E_pi0[r]` gives `pi0`; `E_pi0[r] < c < max r` the tilt with `E_beta[r] = c`
/// (found in `u = ln(spread/beta)` on `ln(r* - E_beta[r])`, which is smooth in both the near-base
/// and the near-argmax regimes); `c = max r` gives `pi0(. | A)`; `c > max r` is
/// [`Error::Infeasible`].
pub fn reward_target(base: &Dist, reward: &[f64], c: f64) -> Result<RewardTarget> {
    crate::parallel::as_one_job(reward.len(), || {
        check_reward(base, reward)?;
        if !c.is_finite() {
            return Err(Error::InvalidParameter {
                name: "target",
                value: c,
                requirement: "finite",
            });
        }
        let (r_min, r_max) = base.support_range(reward);
        if c > r_max {
            return Err(Error::Infeasible(format!(
                "reward target {c} exceeds the maximum reward {r_max} on the support of the base"
            )));
        }
        let base_sol = base_solution(base, reward)?;
        if c <= base_sol.expected_reward {
            return Ok(RewardTarget {
                solution: base_sol,
                beta: None,
                regime: TargetRegime::Unconstrained,
            });
        }
        if c == r_max {
            return Ok(RewardTarget {
                solution: argmax_solution(base, reward, r_max)?,
                beta: None,
                regime: TargetRegime::Boundary,
            });
        }
        // A reward constant on the support makes pi0 optimal for every feasible c below max r (its
        // computed mean may round one ulp below max r, which must not send the solver after a
        // multiplier that does not exist).
        if r_min == r_max {
            return Ok(RewardTarget {
                solution: base_sol,
                beta: None,
                regime: TargetRegime::Unconstrained,
            });
        }
        if let Some(k) = rescaling(base, reward, SEARCH_SPREAD) {
            if let Some(s) = target_by_raising(base, reward, c)? {
                return Ok(s);
            }
            // c lies strictly between E_pi0[r] and max r, so c 2^k is finite (up to underflow).
            let s = reward_target(base, &rescaled(base, reward, k), times_pow2(c, k))?;
            let solution = unscale(s.solution, reward);
            let interior = s.regime == TargetRegime::Interior;
            let kept = keeps_multiplier(interior, || {
                target_met_in_doubles(base, reward, &solution, c)
            })?;
            return Ok(RewardTarget {
                solution,
                beta: unscale_beta(s.beta.filter(|_| kept), k),
                regime: TargetRegime::Interior,
            });
        }
        let spread = r_max - r_min;
        let var0 = scaled_variance(base.probs(), reward, r_max, spread);
        let target_gap = r_max - c;
        let target_gain = c - base_sol.expected_reward;
        // Which side of the target the search measures from: the one it is nearer to. Far below
        // r* against the spread (c = 3 beside r* = 1.8e308), r* - E cannot resolve E near c: every
        // E within eps r* of it gives the same r* - E. The gain E - E0, summed as
        // sum (pi - pi0)(r - r_mode) term by term, resolves it there.
        let from_base = target_gain < target_gap;
        let (mut scratch, mut last) = (Vec::new(), None);
        let mut g = |beta: f64| -> Result<(f64, f64)> {
            let s = tilt_stats(base, reward, beta, &mut scratch, None);
            last = Some((beta, s));
            // dE/du = Var(r)/beta, so d/du ln(E - E0) = (dE/du)/(E - E0) and
            // d/du ln(r* - E) = -(dE/du)/(r* - E).
            if from_base && s.gain.is_finite() {
                if s.gain <= 0.0 {
                    return Ok((-1e300, 1.0));
                }
                return Ok((log_ratio(s.gain, target_gain), s.variance / beta / s.gain));
            }
            if s.mean_gap <= 0.0 {
                return Ok((1e300, 1.0));
            }
            Ok((
                log_ratio(target_gap, s.mean_gap),
                s.variance / beta / s.mean_gap,
            ))
        };
        // Linear response E ~ E0 + Var0/beta = E0 + var0 spread e^u (var0 = Var0/spread^2) gives
        // the starting point.
        let start = ((c - base_sol.expected_reward) / spread / var0).ln();
        let e0 = base_sol.expected_reward;
        let beta = match solve_in_u(&mut g, start, spread) {
            Ok(beta) => beta,
            // c exceeds E0 by a rounding-level amount, below what the tilt's own evaluation of E
            // resolves: the linear response E = E0 + Var0/beta (whose next term is O(beta^-2),
            // here below rounding) gives the multiplier. That evaluation, summed about r*, errs by
            // at most ~n eps (|r*| + E0|r - r*|) = n eps (|r*| + r* - E0); the spread in place of
            // r* - E0 took a target 8.8e-5 above E0 beside a reward of -3e91 (of mass 1.5e-323) for
            // rounding, and answered with a multiplier that missed it by all of that.
            Err(e) => {
                let rounding =
                    64.0 * reward.len() as f64 * f64::EPSILON * (r_max.abs() + (r_max - e0));
                let beta = var0 * spread * (spread / (c - e0));
                if c - e0 <= rounding && beta.is_finite() {
                    beta
                } else {
                    return target_by_scaling_up(base, reward, c, spread).unwrap_or(Err(e));
                }
            }
        };
        let t = tilt_at_root(base, reward, beta, [scratch, zeroed(base.len())], last);
        if let Err(e) = target_met(t.solution.expected_reward, c, spread) {
            return target_by_scaling_up(base, reward, c, spread).unwrap_or(Err(e));
        }
        Ok(RewardTarget {
            solution: t.solution,
            beta: Some(beta),
            regime: TargetRegime::Interior,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`finish_at_root`] reuses the last evaluation only when it was at the returned beta: with
    /// a last evaluation at `beta = 2` and a root at `beta = 1/2`, the policy, log-policy and KL
    /// are those of a fresh tilt at `1/2` (a reused evaluation would normalize by the wrong
    /// partition function and report the other beta's KL); at the same beta they are too. (The
    /// KL is compared with a fresh search evaluation, whose statistics come from pass 2, as a
    /// search's do; `tilt` may take them from pass 1, see [`tilt_outputs_scanned`].)
    #[test]
    fn finishing_at_a_root_reuses_only_an_evaluation_at_that_root() -> Result<()> {
        let base = Dist::new(vec![0.2, 0.3, 0.5])?;
        let reward = [0.0, 1.0, 3.0];
        let fresh = tilt(&base, &reward, 0.5)?;
        let fresh_kl = tilt_stats_in(&base, &reward, 0.5, &mut [0.0; 3], None).kl;
        for last_beta in [2.0, 0.5] {
            let mut policy = vec![0.0; 3];
            let last = tilt_stats_in(&base, &reward, last_beta, &mut policy, None);
            let mut logs = vec![0.0; 3];
            let s = finish_at_root(
                &base,
                &reward,
                0.5,
                Some((last_beta, last)),
                &mut policy,
                &mut logs,
            );
            // The same passes as the tilt's own (see `tilt_at_root`): the same bits.
            assert_eq!(policy, fresh.solution.policy.probs(), "{last_beta}");
            assert_eq!(logs, fresh.solution.policy.log_probs(), "{last_beta}");
            assert_eq!(s.kl, fresh_kl, "{last_beta}");
        }
        Ok(())
    }

    /// A mode of base mass `1e-300` (reward 700 at `beta = 1`: log weight `9.2` against
    /// `ln 0.5 + 1 = 0.31` for the runner-up): the unnormalized weights sum to `~1e-300`, below
    /// the `1e-280` where pass 1 carries the variance's shift, so the variance comes from the
    /// separate centred pass. It must equal the pairwise form
    /// `Var = (1/2) sum_{x,y} pi(x) pi(y) (r(x) - r(y))^2`, computed here from the policy (no
    /// cancellation: every term is non-negative), to `1e-12` relative.
    #[test]
    fn variance_of_a_tilt_with_a_buried_mode_takes_the_centred_pass() -> Result<()> {
        let base = Dist::new(vec![1e-300, 0.5, 0.5])?;
        let reward = [700.0, 0.0, 1.0];
        let t = tilt(&base, &reward, 1.0)?;
        let pi = t.solution.policy.probs();
        let mut pairwise = 0.0;
        for (x, px) in pi.iter().enumerate() {
            for (y, py) in pi.iter().enumerate() {
                pairwise += 0.5 * px * py * (reward[x] - reward[y]).powi(2);
            }
        }
        assert!(pi[0] > 0.99 && pairwise > 1.0, "{pi:?} {pairwise}");
        let err = (t.reward_variance - pairwise).abs();
        assert!(
            err <= 1e-12 * pairwise,
            "{} vs {pairwise}",
            t.reward_variance
        );
        Ok(())
    }

    #[test]
    fn kl_keeps_relative_accuracy_when_mass_piles_on_a_heavy_argmax() -> Result<()> {
        // beta -> 0 on pi0 = (1 - 1e-15, 1e-15) with the argmax first: KL -> -log(1 - 1e-15).
        let base = Dist::new(vec![1.0 - 1e-15, 1e-15])?;
        let t = tilt(&base, &[1.0, 0.0], 1e-3)?;
        let want = -(-1e-15f64).ln_1p(); // e^{-1000} corrections are far below rounding
        assert!((t.solution.kl - want).abs() <= 4.0 * f64::EPSILON * want);
        Ok(())
    }

    #[test]
    fn kl_keeps_relative_accuracy_when_the_argmax_is_rare() -> Result<()> {
        // pi0 = (1, p) with p = 1e-170, r = (-1, 0), beta = 1/lambda: the tilt moves mass p to
        // p e^lambda / (1 + p (e^lambda - 1)), and to first order in p,
        // KL = p (1 + (lambda - 1) e^lambda) (the O(p^2) terms are ~1e-340); the bracket is
        // sum_{k>=2} (k-1) lambda^k / k!, summed term by term (all positive, no cancellation).
        let p = 1e-170;
        let base = Dist::new(vec![1.0, p])?;
        // A sweep: before Z was formed relative to the mode, about one lambda in ten gave KL = 0.
        for k in 0..200 {
            let lambda = 0.01 * 1.04f64.powi(k);
            let t = tilt(&base, &[-1.0, 0.0], 1.0 / lambda)?;
            let (mut term, mut bracket) = (lambda, 0.0);
            for k in 2..400 {
                term *= lambda / k as f64;
                bracket += (k - 1) as f64 * term;
            }
            let want = p * bracket;
            assert!(
                (t.solution.kl - want).abs() <= 1e-13 * want,
                "lambda {lambda}: {} vs {want}",
                t.solution.kl
            );
        }
        Ok(())
    }

    #[test]
    fn representable_mass_survives_underflow_of_the_unnormalized_tilt() -> Result<()> {
        // pi0 = (1, 1e-136), r = (-2, 1), beta = 1/300: Z = 1e-136 + e^{-900} and
        // pi_beta(0) = e^{-900} / 1e-136 = e^{-900 + 313.15...} ~ 1e-255, a normal double, while
        // the unnormalized e^{-900} underflows.
        let base = Dist::new(vec![1.0, 1e-136])?;
        let t = tilt(&base, &[-2.0, 1.0], 1.0 / 300.0)?;
        let want_log = -900.0 - (1e-136f64).ln(); // log(1 + e^{-900}/1e-136) is ~1e-255
        let got = t.solution.policy.log_prob(0);
        assert!(t.solution.policy.prob(0) > 0.0);
        assert!(
            (got - want_log).abs() <= 1e-12 * want_log.abs(),
            "{got} vs {want_log}"
        );
        Ok(())
    }

    #[test]
    fn variance_keeps_relative_accuracy_when_the_tilt_sits_below_r_max() -> Result<()> {
        // pi0 = (0.18, 0.82, 1e-250), r = (-1, -1, 0), beta = 1: pi(2) = 1e-250 e / (1 + 1e-250 e)
        // = 1e-250 e to double precision, and Var = pi(2)(1 - pi(2)) * 1^2 = 1e-250 e.
        let base = Dist::new(vec![0.18, 0.82, 1e-250])?;
        let t = tilt(&base, &[-1.0, -1.0, 0.0], 1.0)?;
        let want = 1e-250 * std::f64::consts::E;
        assert!(
            (t.reward_variance - want).abs() <= 1e-14 * want,
            "{}",
            t.reward_variance
        );
        Ok(())
    }

    #[test]
    fn reward_target_a_rounding_level_above_the_base_mean() -> Result<()> {
        // c = E0 + 1e-12 (c - E0): c sits an ulp or so above E0, below what the tilt's E
        // resolves; the answer is the tilt at beta = Var0/(c - E0), whose E rounds to c.
        let base = Dist::new(vec![
            4.5654021865803847e-11,
            0.00013481217350232448,
            0.9998651877808435,
            0.0,
        ])?;
        let r = [0.0, 0.24612965402874465, 2.2150628033237143, 0.0];
        let e0 = base.expectation(&r)?;
        let c = e0 + 1.0164258062320936e-12 * (2.2150628033237143 - e0);
        assert!(c > e0);
        let s = reward_target(&base, &r, c)?;
        assert_eq!(s.regime, TargetRegime::Interior);
        assert!((s.solution.expected_reward - c).abs() <= 4.0 * f64::EPSILON * c);
        Ok(())
    }

    #[test]
    fn a_subnormal_mode_keeps_its_mass() -> Result<()> {
        // The argmax has base mass 8e-312 (subnormal, ~40 bits, normalized from weights so the
        // log view is more precise than the linear one); beta = 1/300 and a gap of 3 leave the
        // others at ~e^{-900 + 716} ~ 1e-80, so pi(argmax) = 1 to double precision.
        let base = Dist::from_weights(vec![2.4e-311, 3.0])?;
        let t = tilt(&base, &[2.0, -1.0], 1.0 / 300.0)?;
        assert_eq!(t.solution.policy.prob(0), 1.0);
        Ok(())
    }

    #[test]
    fn kl_budget_with_a_small_spread_and_a_rare_argmax() -> Result<()> {
        // Spread 0.0034 and pi0(argmax) = 1.2e-302: the multiplier search must not try
        // beta = spread * e^{-745} = 0. At eps = (1 - 3e-6) * (-log pi0(A)) it binds.
        let base = Dist::new(vec![1.0, 1.2486971241230819e-302, 0.0])?;
        let r = [-0.23093468712711396, -0.22757135034630163, 1.0];
        let k = base.neg_log_mass_where(|i| i == 1);
        let eps = 0.999997 * k;
        let b = kl_budget(&base, &r, eps)?;
        assert_eq!(b.regime, BudgetRegime::Binding);
        assert!((b.solution.kl - eps).abs() <= 1e-12 * eps);
        Ok(())
    }

    #[test]
    fn a_budget_at_the_saturation_point_never_returns_beta_zero() -> Result<()> {
        // Found by `check goodhart.frontier --cases 2000 --seed 27`: eps equal (to rounding) to
        // -log pi0(argmax) with a spread of 0.089 sent the search to the end of its range,
        // where spread * e^{-745} rounds to 0 and the tilt at beta = 0 is NaN.
        let base = Dist::from_weights(vec![
            f64::from_bits(4604255449817183692),
            f64::from_bits(4599525557883573349),
        ])?;
        let reward = [-0.08872512914783061, 4.1049100553614744e-5];
        let b = kl_budget(&base, &reward, -base.log_prob(1))?;
        assert!(b.beta.is_none_or(|beta| beta > 0.0), "{:?}", b.beta);
        assert!(b.solution.policy.probs().iter().all(|p| p.is_finite()));
        assert!((b.solution.kl - (-base.log_prob(1))).abs() <= 1e-12);
        assert_eq!(b.solution.expected_reward, reward[1]);
        Ok(())
    }

    #[test]
    fn inverse_solvers_are_scale_invariant_down_to_1e_minus_300() -> Result<()> {
        // The problems are invariant under r -> s r, beta -> s beta: scaling the rewards by
        // 1e-300 (or 1e300) must scale beta alike and leave the policy unchanged.
        let base = Dist::new(vec![0.3, 0.3, 0.4])?;
        let r = [0.0, 1.0, -2.0];
        for scale in [1e-300, 1e300] {
            let scaled: Vec<f64> = r.iter().map(|x| x * scale).collect();
            let (a, b) = (kl_budget(&base, &r, 0.5)?, kl_budget(&base, &scaled, 0.5)?);
            let (ba, bb) = (a.beta.unwrap_or(f64::NAN), b.beta.unwrap_or(f64::NAN));
            // beta's condition number w.r.t. the KL is O(1) here; 1e-13 is ~500 roundings.
            assert!((bb / scale - ba).abs() <= 1e-13 * ba, "{ba} vs {bb}");
            let a = reward_target(&base, &r, 0.5)?;
            let b = reward_target(&base, &scaled, 0.5 * scale)?;
            let (ba, bb) = (a.beta.unwrap_or(f64::NAN), b.beta.unwrap_or(f64::NAN));
            assert!((bb / scale - ba).abs() <= 1e-13 * ba, "{ba} vs {bb}");
        }
        Ok(())
    }

    #[test]
    fn a_large_support_split_across_threads_matches_its_two_class_reduction() -> Result<()> {
        // Uniform base on 2m outcomes with r alternating 0, 1: by claim `kl.odds` the tilt is
        // the two-point tilt of (1/2, 1/2) spread evenly over each class, so E[r], KL and the
        // gain equal the two-outcome values (computed without the large-n passes).
        let m = 150_001; // 300_002 outcomes: 37 tiles, processed on several threads
        let base = Dist::uniform(2 * m)?;
        let reward: Vec<f64> = (0..2 * m).map(|i| (i % 2) as f64).collect();
        let two = Dist::new(vec![0.5, 0.5])?;
        for beta in [0.05, 1.0, 1e6] {
            let (big, small) = (tilt(&base, &reward, beta)?, tilt(&two, &[0.0, 1.0], beta)?);
            // Each side is within ~16 eps relative: 2 ulp from the vector exp, at most 8 eps
            // from the naive sums of 8 terms per lane within a block (blocks are compensated),
            // and a few roundings in the KL identity and the normalization; 32 eps covers both
            // (the largest difference measured is 4 eps).
            let close = |a: f64, b: f64| (a - b).abs() <= 32.0 * f64::EPSILON * b.abs();
            assert!(close(
                big.solution.expected_reward,
                small.solution.expected_reward
            ));
            assert!(close(big.solution.kl, small.solution.kl), "beta {beta}");
            assert!(close(big.reward_gain, small.reward_gain), "beta {beta}");
            let top = small.solution.policy.prob(1) / m as f64;
            assert!(close(big.solution.policy.prob(2 * m - 1), top));
        }
        Ok(())
    }

    #[test]
    fn the_slack_boundary_on_a_large_support_is_the_mass_of_the_argmax() -> Result<()> {
        // 300_000 outcomes (parallel tiles), argmax class of mass ~1/3 spread over the support:
        // at eps = -log pi0(A) as `neg_log_mass_where` gives it the budget is slack, one ulp
        // below it binds (the two use the same sum, so they agree to the last bit).
        let n: usize = 300_000;
        let weights: Vec<f64> = (0..n).map(|i| 1.0 + ((i * 7919) % 1009) as f64).collect();
        let base = Dist::from_weights(weights)?;
        let reward: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
        let k = base.neg_log_mass_where(|i| reward[i] == 2.0);
        assert_eq!(kl_budget(&base, &reward, k)?.regime, BudgetRegime::Slack);
        let below = f64::from_bits(k.to_bits() - 1);
        assert_eq!(
            kl_budget(&base, &reward, below)?.regime,
            BudgetRegime::Binding
        );
        assert_eq!(
            kl_budget(&base, &reward, 0.9 * k)?.regime,
            BudgetRegime::Binding
        );
        Ok(())
    }

    #[test]
    fn reward_gain_keeps_relative_accuracy_near_the_base() -> Result<()> {
        // pi0 = (1/2, 1/2), r = (0, 1): E_beta[r] = e^(1/beta) / (1 + e^(1/beta)), so the gain
        // over E_0[r] = 1/2 is tanh(1/(2 beta)) / 2, evaluated here without cancellation.
        let base = Dist::new(vec![0.5, 0.5])?;
        for beta in [0.3, 1.0, 1e3, 1e8, 1e15, 1e100, 1e300] {
            let t = tilt(&base, &[0.0, 1.0], beta)?;
            let want = (0.5 / beta).tanh() / 2.0;
            assert!(
                (t.reward_gain - want).abs() <= 8.0 * f64::EPSILON * want,
                "beta {beta}: {} vs {want}",
                t.reward_gain
            );
        }
        Ok(())
    }

    #[test]
    fn kl_keeps_relative_accuracy_near_the_base() -> Result<()> {
        // KL(pi_beta||pi0) = Var0/(2 beta^2) + O(beta^-3); for beta = 1e6 the O term is 1e-6 relative.
        let base = Dist::new(vec![0.5, 0.5])?;
        let t = tilt(&base, &[0.0, 1.0], 1e6)?;
        let want = 0.25 / 2.0 / 1e12;
        assert!((t.solution.kl - want).abs() <= 1e-5 * want);
        Ok(())
    }

    /// `kl.odds` at `check --cases 20000 --seed 11`: a top outcome of base mass `1.2e-288`
    /// holds the tilt at `beta = 0.0045`, so `z ~ 1e-288` and the policy is formed in the log
    /// view. The two outcomes of reward -2 must keep their base odds to `4 eps` times the size
    /// of the four logarithms (the claim's tolerance); with the terms formed as
    /// `(log pi0 + v) - m` (a rounding of a `~670` in size per outcome) the log-odds were off
    /// by `4.2e-14` against `1.2e-14`.
    #[test]
    fn tied_outcomes_keep_their_odds_when_the_policy_is_formed_in_the_log_view() -> Result<()> {
        let base = Dist::new(vec![
            1.202478329597361e-288,
            0.026310818692507693,
            0.9736891813074923,
        ])?;
        let t = tilt(&base, &[1.0, -2.0, -2.0], 0.00450419517641676)?;
        let pi = &t.solution.policy;
        let (lx, ly) = (pi.log_prob(1), pi.log_prob(2));
        let (bx, by) = (base.log_prob(1), base.log_prob(2));
        let size = lx.abs() + ly.abs() + bx.abs() + by.abs();
        let dev = ((lx - ly) - (bx - by)).abs();
        assert!(
            dev <= 4.0 * f64::EPSILON * size,
            "{dev:e} {:?}",
            pi.log_probs()
        );
        assert!(
            pi.prob(0) > 0.9,
            "the mode is the top outcome: {:?}",
            pi.probs()
        );
        Ok(())
    }

    /// Pass 1 at `beta` with its estimate about the reward `centre`, then pass 2 on the same
    /// weights.
    fn estimate_and_full(
        base: &Dist,
        reward: &[f64],
        beta: f64,
        centre: f64,
    ) -> (Option<PassOneEstimate>, TiltStats) {
        let mut q = vec![0.0; base.len()];
        let weighed = weigh(
            base,
            reward,
            beta,
            scan_tilt(base, reward, beta),
            Some(centre),
            &mut q,
        );
        let estimate = weighed.estimate();
        (
            estimate,
            normalized_stats(base, reward, weighed, &mut q, None),
        )
    }

    /// [`Weighed::estimate`] keeps its stated bounds against pass 2 on the same weights: the KL
    /// within `kl_error`, the variance within `2^-27` relative, the mean within `64 eps` of the
    /// rewards' scale. Bases with masses in ratios up to `1e3` and up to `1e6`, rewards of
    /// scale `1e-3`, 1 and 100, sizes from 2 outcomes to `70000` (above the size at which the
    /// passes run on several threads), `beta` from `1e-2` to `1e2`, centred at the mode's
    /// reward and at the base mean: 240 cases, of which at least 200 must give an estimate, so
    /// the test cannot pass on `None`s alone.
    #[test]
    fn a_pass_one_estimate_is_within_its_bounds_of_pass_two() -> Result<()> {
        let mut checked = 0;
        for (case, base, reward, scale) in pass_one_grid()? {
            let mean = base.expectation(&reward)?;
            for beta in [1e-2, 0.1, 1.0, 10.0, 100.0].map(|b| b * scale) {
                let mode = scan_tilt(&base, &reward, beta).r_mode;
                for centre in [mode, mean] {
                    let (e, full) = estimate_and_full(&base, &reward, beta, centre);
                    let Some(e) = e else { continue };
                    let case = format!("{case} beta {beta}");
                    assert!(
                        (e.kl - full.kl).abs() <= e.kl_error,
                        "{case}: {e:?} {full:?}"
                    );
                    let var_err = (e.variance - full.variance).abs();
                    assert!(var_err <= full.variance / (1u64 << 27) as f64, "{case}");
                    // Both means are r_mode plus a shift with error below 13 eps
                    // E|r - r_mode| <= 26 eps scale (rewards in [-scale, scale]), and one
                    // rounding each: 64 eps scale covers both.
                    let mean_full = full.r_mode + full.mode_offset;
                    let mean_err = (e.mean - mean_full).abs();
                    assert!(mean_err <= 64.0 * f64::EPSILON * scale, "{case}");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 200, "only {checked} estimates");
        Ok(())
    }

    /// One instance of [`pass_one_grid`]: a label, the base, the rewards and their scale.
    type GridCase = (String, Dist, Vec<f64>, f64);

    /// The instances of the pass-1 tests, with a label and the rewards' scale: bases of 2, 7,
    /// 1000 and 70000 outcomes with masses in ratios up to `1e3` (skew 1) and `1e6` (skew 2),
    /// rewards `scale sin(0.7 i)` at scales `1e-3`, 1 and 100.
    fn pass_one_grid() -> Result<Vec<GridCase>> {
        let mut grid = Vec::new();
        for n in [2usize, 7, 1000, 70_000] {
            for skew in [1.0, 2.0] {
                let p: Vec<f64> = (0..n)
                    .map(|i| (1.0 + ((i * 7919) % 1000) as f64).powf(skew))
                    .collect();
                let base = Dist::from_weights(p)?;
                for scale in [1e-3, 1.0, 100.0] {
                    let reward: Vec<f64> = (0..n).map(|i| scale * (0.7 * i as f64).sin()).collect();
                    let case = format!("n {n} skew {skew} scale {scale}");
                    grid.push((case, base.clone(), reward, scale));
                }
            }
        }
        Ok(grid)
    }

    /// Pass 1 at `beta` with the sums of [`PassOneSums::Summary`], its statistics where
    /// [`Weighed::summary`] trusts them, and pass 2's on the same weights.
    fn summary_and_full(base: &Dist, reward: &[f64], beta: f64) -> (Option<TiltStats>, TiltStats) {
        let mut q = vec![0.0; base.len()];
        let scan = scan_tilt(base, reward, beta);
        let weighed = weigh_with(base, reward, beta, scan, PassOneSums::Summary, &mut q);
        let summary = weighed.summary(scan.range.0);
        (
            summary,
            normalized_stats(base, reward, weighed, &mut q, None),
        )
    }

    /// `|got - want| <= SUMMARY_TRUST |want|` (false for NaN).
    fn within_trust(got: f64, want: f64) -> bool {
        (got - want).abs() <= SUMMARY_TRUST * want.abs()
    }

    /// [`Weighed::summary`] keeps its bound against pass 2 on the same weights: the KL, the
    /// variance and the gain within [`SUMMARY_TRUST`] relative, the mean within `64 eps` of the
    /// rewards' scale (the bound of [`Weighed::estimate`]'s). The grid of
    /// [`a_pass_one_estimate_is_within_its_bounds_of_pass_two`] with `beta` up to `1e4` times
    /// the rewards' scale: 144 cases, of which at least 40 must give a summary (48 did when
    /// this was written), so the test cannot pass on `None`s alone. The summary is refused near
    /// the base, where the KL and the gain cancel: at `beta = 1e4` times the scale, and for the
    /// bases of 2 and 7 outcomes, which put all but `1e-3` of their mass on one outcome (a KL
    /// of `1e-3` and less, from terms of order 1).
    #[test]
    fn a_summary_from_pass_one_is_within_its_trust_of_pass_two() -> Result<()> {
        let mut trusted = 0;
        for (case, base, reward, scale) in pass_one_grid()? {
            for beta in [1e-2, 0.1, 1.0, 10.0, 100.0, 1e4].map(|b| b * scale) {
                let (summary, full) = summary_and_full(&base, &reward, beta);
                let Some(got) = summary else { continue };
                let case = format!("{case} beta {beta}");
                assert!(within_trust(got.kl, full.kl), "{case}: {got:?} {full:?}");
                assert!(within_trust(got.variance, full.variance), "{case}");
                assert!(within_trust(got.gain, full.gain), "{case}");
                let mean = |s: &TiltStats| s.r_mode + s.mode_offset;
                let mean_err = (mean(&got) - mean(&full)).abs();
                assert!(mean_err <= 64.0 * f64::EPSILON * scale, "{case}");
                trusted += 1;
            }
        }
        assert!(trusted >= 40, "only {trusted} summaries");
        Ok(())
    }

    /// The control of the summary: near the base (`beta = 1e6` on two outcomes of reward 0 and
    /// 1, KL `1.25e-13`, gain `2.5e-7`) pass 1's `s/beta - log z` and `s - E_pi0[r - r_mode]`
    /// cancel, and both differ from pass 2's (which keeps them to `1e-5` relative, the
    /// `O(1/beta)` correction) by more than the `1e-12` that every solver guarantees, so a
    /// summary without its bounds would report them; [`Weighed::summary`] must refuse.
    #[test]
    fn a_summary_is_refused_where_pass_one_cancels() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let reward = [0.0, 1.0];
        let beta = 1e6;
        let (summary, full) = summary_and_full(&base, &reward, beta);
        assert!(summary.is_none(), "{summary:?}");
        let (kl, gain) = (0.25 / 2.0 / (beta * beta), 0.25 / beta);
        assert!((full.kl - kl).abs() <= 1e-5 * kl, "{full:?}");
        assert!((full.gain - gain).abs() <= 1e-5 * gain, "{full:?}");
        let mut q = vec![0.0; 2];
        let scan = scan_tilt(&base, &reward, beta);
        let w = weigh_with(&base, &reward, beta, scan, PassOneSums::Summary, &mut q);
        let (s, p0) = (
            w.part.shift.unwrap_or(f64::NAN),
            w.part.base_offset.unwrap_or(f64::NAN),
        );
        let raw_kl = w.over_beta.of(s) - w.part.log_z;
        assert!(
            (raw_kl - full.kl).abs() > 1e-12 * full.kl,
            "{raw_kl} {full:?}"
        );
        assert!(((s - p0) - full.gain).abs() > 1e-12 * full.gain, "{full:?}");
        Ok(())
    }

    /// Each of the summary's three bounds refuses alone: a tilt that moves the base little
    /// (KL `0.02`, base `(1/2, 1/2)`, rewards `(0, 1)`, `beta = 2.5`), a tilt that piles onto a
    /// cluster of rewards far from the mode's (`pi0 = 0.6` at reward 0 and 100 outcomes of
    /// `0.004` at `4.8`, `beta = 1`: KL `0.85`, `Var(r)` `1.2%` of `E (r - r_mode)^2`), and a base
    /// with an outlier of mass `1e-9` a million below the rest (the gain's bound takes the
    /// reach of the rewards). In each the other two bounds hold, so a summary that skipped the
    /// refusing one would be returned: the test fails if any bound is dropped.
    #[test]
    fn each_bound_of_the_summary_refuses_on_its_own() -> Result<()> {
        let cluster_base: Vec<f64> = std::iter::once(0.6).chain([0.004; 100]).collect();
        let cluster_reward: Vec<f64> = std::iter::once(0.0).chain([4.8; 100]).collect();
        let cases = [
            (vec![0.5, 0.5], vec![0.0, 1.0], 2.5, "kl"),
            (cluster_base, cluster_reward, 1.0, "variance"),
            (
                vec![0.5, 0.5 - 1e-9, 1e-9],
                vec![0.0, 3.0, -1e6],
                1.0,
                "gain",
            ),
        ];
        for (p, reward, beta, refusing) in cases {
            let base = Dist::new(p)?;
            let mut q = vec![0.0; base.len()];
            let scan = scan_tilt(&base, &reward, beta);
            let w = weigh_with(&base, &reward, beta, scan, PassOneSums::Summary, &mut q);
            assert!(w.summary(scan.range.0).is_none(), "{refusing}");
            let trust = w.unchecked_summary(scan.range.0).map(|(_, t)| t);
            let want = SummaryTrust {
                kl: refusing != "kl",
                variance: refusing != "variance",
                gain: refusing != "gain",
            };
            assert_eq!(trust, Some(want), "{refusing}");
        }
        Ok(())
    }

    /// Where the statistics come from pass 1, the policy and the log-policy are those of the
    /// full evaluation, bit for bit (one [`normalized`](super::super::tilt_passes) per outcome
    /// in both), on one thread and over tiles on several.
    #[test]
    fn a_tilt_summarized_from_pass_one_keeps_the_policy_bits() -> Result<()> {
        for n in [1000usize, 70_000] {
            let base = Dist::from_weights((0..n).map(|i| 1.0 + (i % 17) as f64).collect())?;
            let reward: Vec<f64> = (0..n).map(|i| (0.3 * i as f64).cos()).collect();
            let scan = scan_tilt(&base, &reward, 1.0);
            let (mut fast, mut fast_logs) = (vec![0.0; n], vec![0.0; n]);
            let s =
                tilt_outputs_scanned(&base, &reward, 1.0, scan, &mut fast, Some(&mut fast_logs));
            assert!(
                summary_and_full(&base, &reward, 1.0).0.is_some(),
                "{n}: no summary"
            );
            let (mut full, mut full_logs) = (vec![0.0; n], vec![0.0; n]);
            let f = tilt_stats_scanned(&base, &reward, 1.0, scan, &mut full, Some(&mut full_logs));
            assert_eq!(fast, full, "{n}");
            assert_eq!(fast_logs, full_logs, "{n}");
            assert!(within_trust(s.kl, f.kl), "{n}: {s:?} {f:?}");
        }
        Ok(())
    }

    /// The control of the estimate: near the base (`beta = 1e6` on two outcomes, KL
    /// `Var0/(2 beta^2) = 1.25e-13`) `s/beta - log z` cancels to a few digits, and the estimate
    /// must say so: its `kl_error` above `2^-8` of the KL, so that no budget search steps on
    /// it, while pass 2 keeps the KL to `1e-5` relative (the `O(1/beta)` correction). The
    /// estimate's own KL is off by more than `1e-9` relative there, so a bound that did not see
    /// the cancellation would let the search converge to a wrong multiplier.
    #[test]
    fn a_pass_one_estimate_reports_its_cancellation_near_the_base() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let reward = [0.0, 1.0];
        let want = 0.25 / 2.0 / 1e12;
        let (e, full) = estimate_and_full(&base, &reward, 1e6, 0.5);
        assert!((full.kl - want).abs() <= 1e-5 * want, "{full:?}");
        match e {
            None => {}
            Some(e) => {
                assert!(e.kl_error > e.kl * ESTIMATE_TRUST, "{e:?}");
                assert!((e.kl - full.kl).abs() <= e.kl_error, "{e:?} {full:?}");
            }
        }
        Ok(())
    }
}
