//! Distributions from logits: [`Dist::from_logits`] and [`Dist::from_logits_f32`], and the
//! log-policy view of a [`Solution`].
//!
//! A language model hands out unnormalized logits `w` (or log-probabilities, which are logits
//! that happen to be normalized), often in `f32`. The softmax
//!
//! ```text
//! p_i = e^{w_i - m} / s,   log p_i = (w_i - m) - ln s,   m = max w,   s = sum_j e^{w_j - m}
//! ```
//!
//! is formed with one `exp` per outcome and no `log` per outcome: the log view comes from the
//! shifted logits directly, never as `ln p_i` (so a log-probability of `-800`, whose probability
//! underflows, is kept exactly), and the linear view is a quotient of two numbers that each
//! carry a few ulps, rather than `exp(log p_i)` (whose argument carries `eps |log p_i|`).
//!
//! # Accuracy
//!
//! `w_i - m` is exact when `w_i` and `m` are within a factor 2 of each other (Sterbenz) and
//! otherwise rounded once, an absolute error of `eps |w_i - m| / 2`, which is the condition of
//! the softmax itself. `e^{w_i - m}` is within 2 ulp (the crate's vector `exp`); `s >= 1` is a sum
//! of non-negative terms, naive within blocks of 64 and compensated across them (relative error
//! below `64 eps`, in practice a few eps); the quotient rounds once more. So `p_i` is within
//! `(|w_i - m| / 2 + 70) eps` relative of the exact softmax of the given logits. Where
//! `e^{w_i - m}` is subnormal (`w_i - m < -708`), `p_i` is taken as `e^{log p_i}`, rounded once
//! into the subnormal range.
//!
//! # Determinism
//!
//! The sums are combined over tiles of `2^13` consecutive outcomes in tile order, so the
//! result is the same bits on any number of threads. Shifting every logit by the same `c`
//! changes nothing when `w_i + c` is exact for every `i` (for instance logits on a grid of
//! `2^-k` shifted by a multiple of it within range): then `(w_i + c) - (m + c) = w_i - m`
//! exactly.

use crate::dist::Dist;
use crate::error::{require_same_len, Error, Result};
use crate::exp_kernel::exp_expm1;
use crate::numeric::{BlockSum, CompensatedSum};
use crate::parallel::map_tiles;
use crate::solve::Solution;
use multiversion::multiversion;

impl Dist {
    /// The softmax of `logits`: `p_i ∝ exp(logits[i])`, with the log view taken from the
    /// logits themselves (see the [module documentation](crate::logits) for the formulas and
    /// the accuracy). Log-probabilities are accepted as they are (they are renormalized, which
    /// changes them only by rounding).
    ///
    /// Entries may be `-inf` (a masked outcome: zero mass) but not NaN or `+inf`; at least one
    /// must be finite. Errors: [`Error::Empty`], [`Error::NonFinite`], [`Error::InvalidInput`]
    /// when every entry is `-inf`.
    ///
    /// ```
    /// use rlhf_claims::Dist;
    /// let d = Dist::from_logits(&[0.0, 2f64.ln(), f64::NEG_INFINITY])?;
    /// assert!((d.prob(1) - 2.0 / 3.0).abs() < 1e-15);
    /// assert_eq!(d.prob(2), 0.0);
    /// assert!((d.log_prob(0) - (1.0f64 / 3.0).ln()).abs() < 1e-15);
    /// # Ok::<(), rlhf_claims::Error>(())
    /// ```
    pub fn from_logits(logits: &[f64]) -> Result<Self> {
        let m = checked_max(logits)?;
        let n = logits.len();
        let (mut p, mut log_p) = (crate::buffer::zeroed(n), crate::buffer::zeroed(n));
        let parts = map_tiles(n, vec![&mut p], |range, out| {
            [shifted_exp_tile(&logits[range], m, &mut *out[0])]
        });
        let s = combine_in_order(parts);
        let log_s = s.ln();
        map_tiles(n, vec![&mut p, &mut log_p], |range, out| {
            if let [p, log_p] = out {
                normalize_tile(&logits[range], m, (s, log_s), p, log_p);
            }
        });
        Ok(Self::from_parts_unchecked(p, log_p))
    }

    /// [`Dist::from_logits`] for `f32` logits (each widened to `f64` exactly first, so the
    /// result is that of the `f64` logits with the same values).
    ///
    /// ```
    /// use rlhf_claims::Dist;
    /// let d = Dist::from_logits_f32(&[1.5f32, -0.25, 3.0])?;
    /// assert_eq!(d, Dist::from_logits(&[1.5, -0.25, 3.0])?);
    /// # Ok::<(), rlhf_claims::Error>(())
    /// ```
    pub fn from_logits_f32(logits: &[f32]) -> Result<Self> {
        let wide: Vec<f64> = logits.iter().map(|&w| f64::from(w)).collect();
        Self::from_logits(&wide)
    }
}

impl Solution {
    /// `log policy(x)` for every outcome (`-inf` off its support): the log view the solver
    /// formed directly, not the logarithm of the rounded probabilities.
    pub fn log_policy(&self) -> &[f64] {
        self.policy.log_probs()
    }

    /// The log-policy of a tilt `pi ∝ base e^{reward/beta}` (this solution, solved at `beta`)
    /// on the whole support of the base, including where `pi` underflows to 0.
    ///
    /// The solver's log view is `-inf` wherever its policy rounds to 0, though `log pi(x)` is
    /// finite for every `x` in the support of the base (with logits spread by thousands, most
    /// of them). For such an `x` this takes, with `j` the mode of `pi` (largest mass, lowest
    /// index on ties),
    ///
    /// ```text
    /// log pi(x) = log pi0(x) + (r(x) - r(j))/beta + (log pi(j) - log pi0(j)),
    /// ```
    ///
    /// the tilt's identity `log pi - log pi0 = r/beta - log Z` at `x` less at `j`, so no
    /// partition function is needed; the result has an absolute error of a few eps times
    /// `|log pi0(x)| + |r(x) - r(j)|/beta + |log pi(j) - log pi0(j)|`, a few eps relative to
    /// `|log pi(x)| > 708`. Every other entry is the solver's own log view, bit for bit. A value
    /// not below `ln f64::MIN_POSITIVE` (inconsistent with an underflow, which a rescaled
    /// solve of rewards beyond the `f64` range could produce) or NaN is left at `-inf`.
    ///
    /// Errors: [`Error::LengthMismatch`] when `base` or `reward` has another length than the
    /// policy.
    ///
    /// ```
    /// use rlhf_claims::{solve, Dist};
    /// let base = Dist::from_logits(&[0.0, -1500.0])?;
    /// let t = solve::tilt(&base, &[0.0, 2.0], 1.0)?;
    /// assert_eq!(t.solution.policy.prob(1), 0.0);
    /// assert_eq!(t.solution.log_policy()[1], f64::NEG_INFINITY);
    /// let full = t.solution.tilt_log_policy(&base, &[0.0, 2.0], 1.0)?;
    /// assert_eq!(full[1], -1498.0);
    /// # Ok::<(), rlhf_claims::Error>(())
    /// ```
    pub fn tilt_log_policy(&self, base: &Dist, reward: &[f64], beta: f64) -> Result<Vec<f64>> {
        let (pi, logs) = (self.policy.probs(), self.policy.log_probs());
        require_same_len("policy", pi.len(), "base", base.len())?;
        require_same_len("policy", pi.len(), "reward", reward.len())?;
        let lp = base.log_probs();
        let mut out = logs.to_vec();
        // The mode: the largest mass, the first on ties (the policy sums to 1, so it is > 0).
        let j = (0..pi.len()).fold(0, |j, i| if pi[i] > pi[j] { i } else { j });
        let at_mode = logs[j] - lp[j];
        let underflow = f64::MIN_POSITIVE.ln();
        for (i, l) in out.iter_mut().enumerate() {
            if pi[i] == 0.0 && lp[i] > f64::NEG_INFINITY {
                let v = lp[i] + ((reward[i] - reward[j]) / beta + at_mode);
                if v < underflow {
                    *l = v;
                }
            }
        }
        Ok(out)
    }
}

/// `max logits` after validation: non-empty, no NaN or `+inf`, not all `-inf`.
fn checked_max(logits: &[f64]) -> Result<f64> {
    if logits.is_empty() {
        return Err(Error::Empty { what: "logits" });
    }
    if let Some(index) = logits
        .iter()
        .position(|w| w.is_nan() || *w == f64::INFINITY)
    {
        return Err(Error::NonFinite {
            what: "logits",
            index,
            value: logits[index],
        });
    }
    let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return Err(Error::InvalidInput(
            "all logits are -inf: no outcome has mass".into(),
        ));
    }
    Ok(m)
}

/// The per-tile sums added in tile order, compensated.
fn combine_in_order(parts: Vec<[f64; 1]>) -> f64 {
    parts
        .into_iter()
        .map(|[x]| x)
        .collect::<CompensatedSum>()
        .value()
}

/// Writes `e^{w - m}` into `out` and returns their sum (naive within blocks of
/// [`BlockSum::BLOCK`], compensated across blocks, in index order).
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn shifted_exp_tile(logits: &[f64], m: f64, out: &mut [f64]) -> f64 {
    let mut total = CompensatedSum::new();
    for (w, o) in logits
        .chunks(BlockSum::BLOCK)
        .zip(out.chunks_mut(BlockSum::BLOCK))
    {
        let mut block = 0.0;
        for (w, o) in w.iter().zip(o.iter_mut()) {
            *o = exp_expm1(w - m).0;
            block += *o;
        }
        total.add(block);
    }
    total.value()
}

/// `p = e^{w - m} / s` (already in `p` as `e^{w - m}`), or `e^{log p}` where `e^{w - m}` is
/// subnormal; `log p = (w - m) - ln s`.
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn normalize_tile(
    logits: &[f64],
    m: f64,
    (s, log_s): (f64, f64),
    p: &mut [f64],
    log_p: &mut [f64],
) {
    for ((w, p), l) in logits.iter().zip(p.iter_mut()).zip(log_p.iter_mut()) {
        let lp = (w - m) - log_s;
        *l = lp;
        *p = if *p < f64::MIN_POSITIVE {
            exp_expm1(lp).0
        } else {
            *p / s
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits on the grid `2^-10` in `[-40, 40]`, with a few masked entries.
    fn grid_logits(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| {
                if i % 97 == 5 {
                    f64::NEG_INFINITY
                } else {
                    ((i * 7919 + 13) % 81_920) as f64 / 1024.0 - 40.0
                }
            })
            .collect()
    }

    /// The textbook softmax in long form: libm `exp` of the shifted logits, a compensated sum,
    /// a division.
    fn reference(logits: &[f64]) -> Vec<f64> {
        let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|w| (w - m).exp()).collect();
        let s = crate::numeric::sum(e.iter().copied());
        e.iter().map(|x| x / s).collect()
    }

    /// Against the reference, each `p_i` within `1e-12` relative: both are within
    /// `(|w_i - m|/2 + 70) eps <= 110 eps = 2.4e-14` of the exact softmax (module docs; here
    /// `|w_i - m| <= 80`), so 1e-12 holds with a factor 40 to spare, and a wrong normalization
    /// or a wrong shift (errors of order 1) cannot pass. The log view must match `ln p_i`
    /// within `1e-12` absolute-plus-relative for the same reason.
    #[test]
    fn from_logits_is_the_normalized_softmax() -> Result<()> {
        for n in [1, 3, 1000, 300_001] {
            let w = grid_logits(n);
            let w = if n == 1 { vec![2.5] } else { w };
            let d = Dist::from_logits(&w)?;
            let want = reference(&w);
            for (i, (p, q)) in d.probs().iter().zip(&want).enumerate() {
                assert!((p - q).abs() <= 1e-12 * q, "n {n} i {i}: {p} vs {q}");
                let (l, lq) = (d.log_prob(i), q.ln());
                if *q > 0.0 {
                    assert!(
                        (l - lq).abs() <= 1e-12 * (1.0 + lq.abs()),
                        "log {l} vs {lq}"
                    );
                } else {
                    assert_eq!(l, f64::NEG_INFINITY);
                }
            }
        }
        Ok(())
    }

    /// On the grid `2^-10`, adding `c = 512` is exact, and so is `(w + c) - (m + c)`: the two
    /// distributions must agree bit for bit, at one tile and at several.
    #[test]
    fn shifting_the_logits_changes_no_bit() -> Result<()> {
        for n in [1000, 200_000] {
            let w = grid_logits(n);
            let shifted: Vec<f64> = w.iter().map(|x| x + 512.0).collect();
            assert_eq!(Dist::from_logits(&w)?, Dist::from_logits(&shifted)?);
        }
        Ok(())
    }

    /// `f32` logits give the distribution of their exact `f64` values; a normalized input
    /// (log-probabilities) is returned to within rounding.
    #[test]
    fn f32_logits_and_log_probabilities() -> Result<()> {
        let w32: Vec<f32> = (0..5000)
            .map(|i| ((i * 31) % 977) as f32 * 0.0173 - 8.0)
            .collect();
        let w64: Vec<f64> = w32.iter().map(|&x| f64::from(x)).collect();
        assert_eq!(Dist::from_logits_f32(&w32)?, Dist::from_logits(&w64)?);
        let d = Dist::from_logits(&w64)?;
        let again = Dist::from_logits(d.log_probs())?;
        for (a, b) in again.probs().iter().zip(d.probs()) {
            // The second pass sees logits within ~30 eps of normalized: ~100 eps.
            assert!((a - b).abs() <= 1e-13 * b, "{a} vs {b}");
        }
        Ok(())
    }

    /// Log-probabilities far below the underflow of `exp` are kept exactly in the log view, and
    /// the probability of a logit 720 below the top is the subnormal `e^{-720}` to rounding.
    #[test]
    fn tiny_masses_are_exact_in_the_log_view() -> Result<()> {
        let d = Dist::from_logits(&[0.0, -720.0, -2000.0])?;
        // s = 1 + e^-720 rounds to 1, so ln s = 0 and the log view is the logit itself.
        assert_eq!(d.log_prob(2), -2000.0);
        assert_eq!(d.prob(2), 0.0);
        let want = (-720.0f64).exp();
        assert!((d.prob(1) - want).abs() <= 4.0 * f64::from_bits(1) + 4e-16 * want);
        Ok(())
    }

    #[test]
    fn rejects_bad_logits() {
        assert!(matches!(Dist::from_logits(&[]), Err(Error::Empty { .. })));
        assert!(matches!(
            Dist::from_logits(&[0.0, f64::NAN]),
            Err(Error::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            Dist::from_logits(&[f64::INFINITY]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            Dist::from_logits(&[f64::NEG_INFINITY; 3]),
            Err(Error::InvalidInput(_))
        ));
    }
}
