//! [`Dist`]: a validated probability vector on a finite outcome set `X = {0, .., n-1}`.
//!
//! A `Dist` keeps each probability both as a number and as its logarithm (`-inf` for zero
//! mass), so that tilts with huge reward/beta ratios, products of tiny probabilities and
//! conditional laws of rare events are formed in log space without overflow or underflow, while
//! sums and expectations use the linear values. The two views are computed from one source and
//! agree to rounding.

use crate::error::{require_finite, require_same_len, Error, Result};
use crate::numeric::{self, CompensatedSum};
use crate::parallel;
use serde::{Serialize, Serializer};

/// Largest allowed deviation of `sum p_i` from 1 when a `Dist` is built from probabilities.
///
/// The sum is computed with compensated summation, so rounding in the check itself is about
/// `2^-52`; `1e-9` accepts vectors that were normalized in single precision-free user code
/// (e.g. a million probabilities each rounded to 16 digits) and rejects vectors that are simply
/// not normalized. Accepted vectors are renormalized exactly (divided by their sum).
pub const NORMALIZATION_TOLERANCE: f64 = 1e-9;

/// `2^-970 = f64::MIN_POSITIVE / f64::EPSILON`: an event's mass below this may be made of
/// subnormal linear masses, each stored only to `2^-1074` absolute, so such masses are taken
/// from the log view. Above it the subnormal terms' rounding is at most `2^-105` relative each,
/// and the linear sum (exact to an ulp) is kept.
pub const LINEAR_VIEW_FLOOR: f64 = f64::MIN_POSITIVE / f64::EPSILON;

/// A probability distribution on `{0, .., n-1}`, `n >= 1`. May contain zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct Dist {
    p: Vec<f64>,
    log_p: Vec<f64>,
}

impl Dist {
    /// Builds a distribution from probabilities.
    ///
    /// Errors: empty input; NaN or infinite entries; negative entries; a sum that differs from 1
    /// by more than [`NORMALIZATION_TOLERANCE`]. The accepted vector is divided by its sum.
    ///
    /// ```
    /// use rlhf_claims::Dist;
    /// let d = Dist::new(vec![0.25, 0.75])?;
    /// assert_eq!(d.prob(1), 0.75);
    /// assert!(Dist::new(vec![0.5, 0.6]).is_err());
    /// # Ok::<(), rlhf_claims::Error>(())
    /// ```
    pub fn new(probs: Vec<f64>) -> Result<Self> {
        Self::validate(&probs)?;
        let total = numeric::sum(probs.iter().copied());
        if (total - 1.0).abs() > NORMALIZATION_TOLERANCE {
            return Err(Error::NotNormalized {
                sum: total,
                tolerance: NORMALIZATION_TOLERANCE,
            });
        }
        Ok(Self::from_weights_unchecked(probs, total))
    }

    /// Builds a distribution proportional to non-negative weights (any positive total).
    pub fn from_weights(weights: Vec<f64>) -> Result<Self> {
        Ok(Self::from_weights_with_total(weights)?.0)
    }

    /// [`Dist::from_weights`], with the total `sum w_i` it divided by (for callers that patch
    /// the log view from logarithms of their own and so need `ln` of the same total).
    pub(crate) fn from_weights_with_total(weights: Vec<f64>) -> Result<(Self, f64)> {
        Self::validate(&weights)?;
        let total = numeric::sum(weights.iter().copied());
        if !(total > 0.0) || !total.is_finite() {
            return Err(Error::InvalidInput(format!(
                "weights must have a finite positive total, got {total}"
            )));
        }
        Ok((Self::from_weights_unchecked(weights, total), total))
    }

    /// Builds the distribution with `p_i` proportional to `exp(w_i)`.
    ///
    /// Entries may be `-inf` (zero mass) but not NaN or `+inf`, and at least one must be finite.
    /// Normalization happens in log space, so `w = [1e300, 1e300 - 1]` is fine.
    pub fn from_log_weights(log_weights: &[f64]) -> Result<Self> {
        if log_weights.is_empty() {
            return Err(Error::Empty {
                what: "log-weights",
            });
        }
        if let Some(index) = log_weights
            .iter()
            .position(|w| w.is_nan() || *w == f64::INFINITY)
        {
            return Err(Error::NonFinite {
                what: "log-weights",
                index,
                value: log_weights[index],
            });
        }
        // Shift by the maximum first: with entries like 1e300, `w - lse` would round away
        // the normalizing constant.
        let m = log_weights
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            return Err(Error::InvalidInput(
                "all log-weights are -inf: no outcome has mass".into(),
            ));
        }
        let shifted: Vec<f64> = log_weights.iter().map(|w| w - m).collect();
        let lse = numeric::log_sum_exp(&shifted);
        let log_p: Vec<f64> = shifted.iter().map(|w| w - lse).collect();
        let p = log_p.iter().map(|l| l.exp()).collect();
        Ok(Self { p, log_p })
    }

    /// The uniform distribution on `n >= 1` outcomes.
    pub fn uniform(n: usize) -> Result<Self> {
        if n == 0 {
            return Err(Error::Empty {
                what: "uniform distribution",
            });
        }
        let q = 1.0 / n as f64;
        Ok(Self {
            p: vec![q; n],
            log_p: vec![-(n as f64).ln(); n],
        })
    }

    /// The point mass on outcome `i` of `n`.
    pub fn point_mass(n: usize, i: usize) -> Result<Self> {
        if i >= n {
            return Err(Error::InvalidInput(format!(
                "point mass at {i} on {n} outcomes"
            )));
        }
        let mut p = vec![0.0; n];
        p[i] = 1.0;
        Ok(Self::from_weights_unchecked(p, 1.0))
    }

    /// Crate-internal constructor from already normalized parts (`p[i] = exp(log_p[i])`).
    pub(crate) fn from_parts_unchecked(p: Vec<f64>, log_p: Vec<f64>) -> Self {
        Self { p, log_p }
    }

    /// `log p_i` is `ln(w_i / total)` where the quotient is a normal number: the quotient is
    /// correctly rounded, so the logarithm is off by at most `eps` absolute, as good as the
    /// probability itself allows. `ln w_i - ln total` would instead carry
    /// `eps max(|ln w_i|, |ln total|)` (`6e-15` at weights near `1e12`), which shifts every KL
    /// recomputed from the base by as much. Where the quotient is subnormal or zero, the
    /// difference of logarithms keeps the mass's logarithm (relative error `eps`).
    fn from_weights_unchecked(mut w: Vec<f64>, total: f64) -> Self {
        let log_total = total.ln();
        let log_p = w
            .iter()
            .map(|x| {
                let quotient = x / total;
                if quotient >= f64::MIN_POSITIVE {
                    quotient.ln()
                } else if *x > 0.0 {
                    x.ln() - log_total
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        if total != 1.0 {
            for x in &mut w {
                *x /= total;
            }
        }
        // A `-0.0` weight is an outcome of mass zero: stored as `+0.0`, so that no policy
        // derived from it carries the sign (`x + 0.0` maps `-0.0` to `0.0`, every other `x` to
        // itself).
        for x in &mut w {
            *x += 0.0;
        }
        Self { p: w, log_p }
    }

    fn validate(probs: &[f64]) -> Result<()> {
        if probs.is_empty() {
            return Err(Error::Empty {
                what: "probabilities",
            });
        }
        require_finite("probabilities", probs)?;
        if let Some(index) = probs.iter().position(|x| *x < 0.0) {
            return Err(Error::NegativeProbability {
                index,
                value: probs[index],
            });
        }
        Ok(())
    }

    /// Number of outcomes `n` (including those of zero mass).
    pub fn len(&self) -> usize {
        self.p.len()
    }

    /// Always false: a `Dist` has at least one outcome. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.p.is_empty()
    }

    /// `p(i)`.
    pub fn prob(&self, i: usize) -> f64 {
        self.p[i]
    }

    /// `log p(i)` (`-inf` where `p(i) = 0`).
    pub fn log_prob(&self, i: usize) -> f64 {
        self.log_p[i]
    }

    /// All probabilities.
    pub fn probs(&self) -> &[f64] {
        &self.p
    }

    /// All log-probabilities.
    pub fn log_probs(&self) -> &[f64] {
        &self.log_p
    }

    /// Indices with positive mass.
    pub fn support(&self) -> impl Iterator<Item = usize> + '_ {
        self.p
            .iter()
            .enumerate()
            .filter(|(_, p)| **p > 0.0)
            .map(|(i, _)| i)
    }

    /// Whether `p(i) > 0`.
    pub fn in_support(&self, i: usize) -> bool {
        self.p[i] > 0.0
    }

    /// `E_p[f] = sum_i p_i f_i` over the support (entries of `f` off the support are ignored, so
    /// they may be anything, including infinite). Compensated summation; finite whenever `f`
    /// is finite on the support: where the plain sum overflows (`f = f64::MAX` everywhere, with
    /// masses summing a rounding above 1) it is `2 sum p (f/2)` clamped to the range of `f` on
    /// the support, in which the exact value lies.
    pub fn expectation(&self, f: &[f64]) -> Result<f64> {
        require_same_len("distribution", self.len(), "function", f.len())?;
        Ok(mean_over_support(&self.p, f))
    }

    /// `(min f, max f)` over the support (`(inf, -inf)` only if `f` is shorter than the
    /// support reaches; entries of `f` off the support are ignored).
    pub fn support_range(&self, f: &[f64]) -> (f64, f64) {
        let n = self.p.len().min(f.len());
        // min and max are exact, so the tiles (done in parallel for large n) give the same
        // answer as one sweep.
        let tiles = parallel::map_tiles(n, Vec::new(), |t, _| {
            range_over_support(&self.p[t.clone()], &f[t])
        });
        tiles
            .into_iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (l, h)| {
                (lo.min(l), hi.max(h))
            })
    }

    /// `Var_p[f]`, computed in two passes (mean first), over the support.
    pub fn variance(&self, f: &[f64]) -> Result<f64> {
        let m = self.expectation(f)?;
        let mut s = CompensatedSum::new();
        for (p, x) in self.p.iter().zip(f) {
            if *p > 0.0 {
                s.add(p * (x - m) * (x - m));
            }
        }
        Ok(s.value().max(0.0))
    }

    /// `p(A)` for the event `A = {i : event(i)}`, compensated within tiles of consecutive
    /// outcomes (on all cores for large supports) and across them in order, so the result does
    /// not depend on the number of threads.
    pub fn mass_where(&self, event: impl Fn(usize) -> bool + Sync) -> f64 {
        self.masses_where(event).0
    }

    /// `-log p(A)`, accurate both for tiny `p(A)` and for `p(A)` close to 1 (the complement is
    /// summed directly rather than formed as `1 - p(A)`).
    ///
    /// Below [`LINEAR_VIEW_FLOOR`] the linear masses may be subnormal, stored only to `2^-1074`
    /// absolute; there `-log p(A)` is taken from the log view by log-sum-exp instead.
    pub fn neg_log_mass_where(&self, event: impl Fn(usize) -> bool + Sync) -> f64 {
        let (inside, outside) = self.masses_where(&event);
        if inside < LINEAR_VIEW_FLOOR {
            return -self.log_mass_from_log_view(event);
        }
        numeric::neg_log_mass(inside, outside)
    }

    /// `log p(A)` by log-sum-exp over the log view (exact to a few ulps of `log p(A)` whatever
    /// the size of `p(A)`); `-inf` for an event without mass.
    fn log_mass_from_log_view(&self, event: impl Fn(usize) -> bool) -> f64 {
        let logs: Vec<f64> = self
            .log_p
            .iter()
            .enumerate()
            .filter(|(i, l)| **l > f64::NEG_INFINITY && event(*i))
            .map(|(_, l)| *l)
            .collect();
        if logs.is_empty() {
            f64::NEG_INFINITY
        } else {
            numeric::log_sum_exp(&logs)
        }
    }

    /// `(p(A), p(not A))` over the support, each compensated: within tiles of consecutive
    /// outcomes (on all cores for large supports) and then across the tiles in order, so the
    /// result does not depend on the number of threads. Below one tile it is the plain
    /// compensated sum.
    fn masses_where(&self, event: impl Fn(usize) -> bool + Sync) -> (f64, f64) {
        let tiles = parallel::map_tiles(self.p.len(), Vec::new(), |t, _| {
            let (mut inside, mut outside) = (CompensatedSum::new(), CompensatedSum::new());
            for i in t {
                let p = self.p[i];
                if p > 0.0 {
                    if event(i) {
                        inside.add(p);
                    } else {
                        outside.add(p);
                    }
                }
            }
            (inside.value(), outside.value())
        });
        let (mut inside, mut outside) = (CompensatedSum::new(), CompensatedSum::new());
        for (i, o) in tiles {
            inside.add(i);
            outside.add(o);
        }
        (inside.value(), outside.value())
    }

    /// The conditional law `p(. | A)`; errors if `p(A) = 0`.
    pub fn condition(&self, mut event: impl FnMut(usize) -> bool) -> Result<Self> {
        let keep: Vec<bool> = (0..self.len()).map(&mut event).collect();
        let mass = self.mass_where(|i| keep[i]);
        if !(mass >= LINEAR_VIEW_FLOOR) {
            return self.condition_on_tiny_event(&keep);
        }
        let log_mass = mass.ln();
        let p = self
            .p
            .iter()
            .zip(&keep)
            .map(|(p, k)| if *k { p / mass } else { 0.0 })
            .collect();
        let log_p = self
            .log_p
            .iter()
            .zip(&keep)
            .map(|(l, k)| if *k { l - log_mass } else { f64::NEG_INFINITY })
            .collect();
        Ok(Self { p, log_p })
    }

    /// `p(. | A)` when `p(A) < LINEAR_VIEW_FLOOR`. The kept masses are scaled by `2^k`, `k` the
    /// power of two that brings the largest of them to `[1, 2)`: exactly for a normal linear
    /// mass (a normal double holds its mass to half an ulp, from either view), and from the log
    /// view, `exp(log p + k ln 2)`, for a subnormal or underflowed one (whose linear value is
    /// only good to `2^-1074` absolute). Each normal mass then keeps its relative accuracy
    /// (normalizing in the log view alone costs `|log p| eps ~ 1.6e-13` relative). A mass whose
    /// scaled weight still underflows keeps its log view, `log p - ln(p(A))`.
    fn condition_on_tiny_event(&self, keep: &[bool]) -> Result<Self> {
        let l_max = self
            .log_p
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(l, _)| *l)
            .fold(f64::NEG_INFINITY, f64::max);
        if l_max == f64::NEG_INFINITY {
            return Err(Error::Infeasible(
                "conditioning on an event of base probability zero".into(),
            ));
        }
        // `l_max <= ln(LINEAR_VIEW_FLOOR) < -672`, so `k > 969`: a scaling up.
        let k = -(l_max * std::f64::consts::LOG2_E).floor() as i32;
        let shift = f64::from(k) * std::f64::consts::LN_2;
        let weights: Vec<f64> = (0..self.len())
            .map(|i| match (keep[i], self.p[i]) {
                (false, _) => 0.0,
                (true, p) if p >= f64::MIN_POSITIVE => numeric::times_pow2(p, k),
                (true, _) => (self.log_p[i] + shift).exp(),
            })
            .collect();
        let (mut conditioned, total) = Self::from_weights_with_total(weights)?;
        let log_total = total.ln();
        // A kept mass whose scaled weight underflowed (or whose quotient did): its logarithm
        // from the log view.
        let patched = conditioned.p.iter().zip(conditioned.log_p.iter_mut());
        for ((&kept, &source), (&p, log_p)) in keep.iter().zip(&self.log_p).zip(patched) {
            if kept && p == 0.0 && source > f64::NEG_INFINITY {
                *log_p = source + shift - log_total;
            }
        }
        Ok(conditioned)
    }
}

impl Serialize for Dist {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.p.serialize(serializer)
    }
}

/// Reads the probabilities written by `Serialize` and validates them as [`Dist::new`] does (an
/// invalid vector is a deserialization error carrying the crate's message).
impl<'de> serde::Deserialize<'de> for Dist {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let probs = Vec::<f64>::deserialize(deserializer)?;
        Dist::new(probs).map_err(serde::de::Error::custom)
    }
}

/// Checks that a reward (or any per-outcome function) matches the distribution's length and is
/// finite everywhere.
pub fn check_reward(base: &Dist, reward: &[f64]) -> Result<()> {
    check_reward_len(base, reward)?;
    require_finite("reward", reward)
}

/// The first part of [`check_reward`]: a reward that is not empty and has the distribution's
/// length (for a solver whose first sweep also finds whether every entry is finite).
pub(crate) fn check_reward_len(base: &Dist, reward: &[f64]) -> Result<()> {
    if reward.is_empty() {
        return Err(Error::Empty { what: "reward" });
    }
    require_same_len("base", base.len(), "reward", reward.len())
}

/// `sum p f` over the entries with `p > 0`, compensated. Where that sum overflows although
/// every such `f` is finite (`f = f64::MAX` everywhere, with masses summing a rounding above 1),
/// it is `2 sum p (f/2)` (exact halving but for subnormals) clamped to the range of `f` there,
/// in which the exact value lies; a non-finite `f` on the support gives the plain sum.
pub(crate) fn mean_over_support(p: &[f64], f: &[f64]) -> f64 {
    let support = || p.iter().zip(f).filter(|(p, _)| **p > 0.0);
    let sum = |scale: f64| crate::numeric::sum(support().map(|(p, x)| p * (x * scale)));
    let plain = sum(1.0);
    if plain.is_finite() || !support().all(|(_, x)| x.is_finite()) {
        return plain;
    }
    let (lo, hi) = range_over_support(p, f);
    (2.0 * sum(0.5)).max(lo).min(hi)
}

/// `(min f, max f)` over the entries with `p > 0` (`(inf, -inf)` when there is none; NaN
/// entries are passed over, as by `f64::min`), in one sweep.
///
/// Eight running minima and maxima side by side, updated by selects, so that the sweep is
/// vector code (a filter and `f64::min` fold is a scalar loop: a tenth of a tilt at 10^5
/// outcomes); min and max are exact, so the order does not change the answer.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
pub(crate) fn range_over_support(p: &[f64], f: &[f64]) -> (f64, f64) {
    const LANES: usize = 8;
    let (mut lo, mut hi) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
    let mut visit = |j: usize, p: f64, x: f64| {
        let on_support = p > 0.0;
        lo[j] = lo[j].min(if on_support { x } else { f64::INFINITY });
        hi[j] = hi[j].max(if on_support { x } else { f64::NEG_INFINITY });
    };
    let n = p.len().min(f.len());
    let (p, f) = (&p[..n], &f[..n]);
    for (pc, fc) in p.chunks_exact(LANES).zip(f.chunks_exact(LANES)) {
        for j in 0..LANES {
            visit(j, pc[j], fc[j]);
        }
    }
    let tail = n / LANES * LANES;
    for (j, (&p, &x)) in p[tail..].iter().zip(&f[tail..]).enumerate() {
        visit(j, p, x);
    }
    (
        lo.iter().copied().fold(f64::INFINITY, f64::min),
        hi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_over_support_passes_over_zero_mass_and_nan() {
        // Lengths around the lane width; NaN and extremes off the support must not count.
        for n in [0usize, 1, 7, 8, 9, 17, 100] {
            let p: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
            let f: Vec<f64> = (0..n)
                .map(|i| match i % 3 {
                    0 if i % 2 == 0 => f64::NAN,
                    0 => 1e300 * if i % 4 == 1 { 1.0 } else { -1.0 },
                    _ => ((i * 7) % 13) as f64 - 6.0,
                })
                .collect();
            let support: Vec<f64> = (0..n).filter(|i| p[*i] > 0.0).map(|i| f[i]).collect();
            let want = (
                support.iter().copied().fold(f64::INFINITY, f64::min),
                support.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            );
            assert_eq!(range_over_support(&p, &f), want, "n = {n}");
        }
    }

    #[cfg(feature = "quickcheck")]
    quickcheck::quickcheck! {
        fn arbitrary_dists_are_normalized(d: Dist) -> bool {
            (crate::numeric::sum(d.probs().iter().copied()) - 1.0).abs() < 1e-12
                && d.probs().iter().all(|p| *p >= 0.0)
        }
    }

    #[test]
    fn rejects_each_kind_of_bad_input() {
        assert!(matches!(Dist::new(vec![]), Err(Error::Empty { .. })));
        assert!(matches!(
            Dist::new(vec![f64::NAN, 1.0]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            Dist::new(vec![-0.1, 1.1]),
            Err(Error::NegativeProbability { .. })
        ));
        assert!(matches!(
            Dist::new(vec![0.5, 0.5 + 2e-9]),
            Err(Error::NotNormalized { .. })
        ));
        assert!(Dist::new(vec![0.5, 0.5 + 1e-12]).is_ok());
    }

    #[test]
    fn log_weights_normalize_without_overflow() -> Result<()> {
        let d = Dist::from_log_weights(&[1e300, 1e300, f64::NEG_INFINITY])?;
        assert_eq!(d.probs(), &[0.5, 0.5, 0.0]);
        Ok(())
    }

    #[test]
    fn neg_log_mass_is_accurate_near_one() -> Result<()> {
        let d = Dist::new(vec![1.0 - 1e-15, 1e-15])?;
        let v = d.neg_log_mass_where(|i| i == 0);
        // -log(1 - 1e-15) = 1e-15 + 5e-31 + ...; relative accuracy ~1e-15 needs the complement.
        assert!((v - 1e-15).abs() < 1e-28);
        Ok(())
    }

    /// Weights `(3e-320, 7e-320, 1)`: the first two masses are subnormal, so the linear view
    /// holds them to `2^-1074 = 4.9e-324` absolute (about 1e-4 relative), while the log view is
    /// exact to a few ulps of `|log p| ~ 736`. The event `{0, 1}` has `-log p = -log(1e-319)`;
    /// conditioning on it gives `(0.3, 0.7)` to `4 eps 736` relative (the difference of two
    /// logs of size 736, each exact to an ulp) and sums to 1 to rounding.
    #[test]
    fn subnormal_events_are_read_from_the_log_view() -> Result<()> {
        let d = Dist::from_log_weights(&[(3e-320f64).ln(), (7e-320f64).ln(), 0.0])?;
        let want = -(1e-319f64).ln();
        let got = d.neg_log_mass_where(|i| i < 2);
        assert!(
            (got - want).abs() <= 4.0 * f64::EPSILON * want,
            "{got} vs {want}"
        );
        let c = d.condition(|i| i < 2)?;
        let tol = 4.0 * f64::EPSILON * 736.0;
        assert!((c.prob(0) - 0.3).abs() <= tol, "{:?}", c.probs());
        assert!((c.prob(1) - 0.7).abs() <= tol, "{:?}", c.probs());
        assert_eq!(c.prob(2), 0.0);
        assert!((c.probs().iter().sum::<f64>() - 1.0).abs() <= 2.0 * f64::EPSILON);
        Ok(())
    }

    /// Masses `(1.1191480688819016e-300, 2.8275929194069245e-297, 5e-324)` kept of a base whose
    /// other mass is 1: the event has mass `2.83e-297`, below [`LINEAR_VIEW_FLOOR`]. Normal
    /// masses are scaled by a power of two, exactly, so the quotient is rounded once or twice:
    /// the first entry is `3.9563873670626729255e-4` (80-digit reference, the ratio of the
    /// exact doubles), met to `4 eps`. Normalizing in the log view alone gave
    /// `3.9563873670625353e-4`, `3.5e-15` relative off.
    #[test]
    fn normal_masses_of_a_tiny_event_keep_their_relative_accuracy() -> Result<()> {
        let d = Dist::new(vec![
            1.1191480688819016e-300,
            2.8275929194069245e-297,
            5e-324,
            1.0,
        ])?;
        let c = d.condition(|i| i < 3)?;
        let want = 3.956_387_367_062_673e-4;
        assert!(
            (c.prob(0) - want).abs() <= 4.0 * f64::EPSILON * want,
            "{:?}",
            c.probs()
        );
        assert!((c.log_probs()[0] - want.ln()).abs() <= 8.0 * f64::EPSILON);
        assert!((c.probs().iter().sum::<f64>() - 1.0).abs() <= 2.0 * f64::EPSILON);
        Ok(())
    }

    /// Log weights `(-800, -900, 0)`: both masses of the event `{0, 1}` underflow in the linear
    /// view (which once made the event look impossible), but not in the log view: conditioning
    /// gives `(1/(1 + e^-100), e^-100/(1 + e^-100))` with log masses `(-ln(1 + e^-100), -100 -
    /// ln(1 + e^-100))`.
    #[test]
    fn an_event_seen_only_in_the_log_view_is_conditioned_on() -> Result<()> {
        let d = Dist::from_log_weights(&[-800.0, -900.0, 0.0])?;
        assert_eq!(d.prob(0), 0.0);
        let c = d.condition(|i| i < 2)?;
        let tail = (-100f64).exp();
        assert!(
            (c.prob(0) - 1.0).abs() <= 2.0 * f64::EPSILON,
            "{:?}",
            c.probs()
        );
        assert!((c.prob(1) / tail - 1.0).abs() <= 1e-12, "{:?}", c.probs());
        assert!(
            (c.log_probs()[1] + 100.0).abs() <= 1e-12,
            "{:?}",
            c.log_probs()
        );
        assert_eq!(c.prob(2), 0.0);
        Ok(())
    }
}

/// `quickcheck::Arbitrary` for [`Dist`] (feature `quickcheck`): up to `g.size()` outcomes with
/// integer weights, about one in four of them zero, never all zero. Shrinks by dropping
/// outcomes and by moving toward uniform.
#[cfg(feature = "quickcheck")]
impl quickcheck::Arbitrary for Dist {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        let n = 1 + usize::arbitrary(g) % g.size().max(1);
        let mut w: Vec<f64> = (0..n)
            .map(|_| {
                let k = u8::arbitrary(g);
                if k % 4 == 0 {
                    0.0
                } else {
                    f64::from(k)
                }
            })
            .collect();
        if w.iter().all(|x| *x == 0.0) {
            w[0] = 1.0;
        }
        let total: f64 = w.iter().sum();
        Self::from_weights_unchecked(w, total)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let mut out = Vec::new();
        if self.len() > 1 {
            let w: Vec<f64> = self.p[..self.len() - 1].to_vec();
            if let Ok(d) = Dist::from_weights(w) {
                out.push(d);
            }
        }
        if let Ok(u) = Dist::uniform(self.len()) {
            if u != *self {
                out.push(u);
            }
        }
        Box::new(out.into_iter())
    }
}
