//! Exact best-of-N (claim `bon.exact`): draw $N$ iid outputs from $\pi_0$, return one of
//! highest reward, ties broken uniformly among the tied draws.
//!
//! With reward classes $C$ (equal reward), $F(C) = \pi_0(r \le r_C)$ and
//! $F(C^-) = \pi_0(r < r_C)$:
//!
//! $$P_N(C) = F(C)^N - F(C^-)^N, \qquad
//! P_N(x) = \frac{\pi_0(x)}{\pi_0(C)}\\, P_N(C) \quad \text{for } x \in C.$$
//!
//! # Numerics
//!
//! For `F` near 1 and `N` up to `1e15`, `F^N - F_-^N` is a cancellation trap. The solver forms
//! `a = N log F(C)` (as `N log1p(-pi0(r > r_C))` when the upper tail is small) and
//! `b - a = N log1p(-pi0(C)/F(C))`, then `P_N(C) = e^a (-expm1(b - a))`, all in log space, so
//! each class probability keeps relative accuracy ~`N`-independent (`~|a| eps`).

use super::classes::{RewardClass, RewardClasses, SortedSupport};
use super::Solution;
use crate::buffer::{filled, zeroed};
use crate::dist::Dist;
use crate::error::{Error, Result};
use crate::numeric::{log1mexp, CompensatedSum};
use crate::parallel;
use serde::Serialize;

/// The exact best-of-N policy and the numbers around it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct BestOfN {
    /// Policy, expected reward, and `KL(P_N || pi0)`.
    #[serde(flatten)]
    pub solution: Solution,
    /// N.
    pub n: u64,
    /// The bound `log N - (N-1)/N` of claim `bon.kl-bound`.
    pub kl_bound: f64,
    /// `P(BoN output beats a fresh pi0 sample) + P(tie)/2`.
    pub win_rate_half_ties: f64,
    /// `P(BoN output strictly beats a fresh pi0 sample)`.
    pub win_rate_strict: f64,
}

/// `log N - (N-1)/N`, the KL bound of Beirami et al. (2024), for `N >= 1`.
pub fn kl_bound(n: u64) -> f64 {
    let nf = n as f64;
    nf.ln() - (nf - 1.0) / nf
}

/// Below this, `exp` underflows to zero (`e^-745.2 < 2^-1074 / 2`): the probability is stored as
/// 0 without calling `exp` (whose underflow path is slow), its logarithm is kept exactly.
const EXP_UNDERFLOW: f64 = -745.2;

/// `exp(l)`, skipping the libm call where the result is 0 anyway.
fn exp_or_zero(l: f64) -> f64 {
    if l < EXP_UNDERFLOW {
        0.0
    } else {
        l.exp()
    }
}

/// `log P_N(C) = N log F(C) + log(1 - (F(C-)/F(C))^N)` for one class.
fn class_log_prob(c: &RewardClass, nf: f64) -> f64 {
    let cdf = c.cdf();
    let log_f = if c.above < 0.5 {
        (-c.above).ln_1p()
    } else {
        cdf.ln()
    };
    let a = nf * log_f;
    let share = c.mass / cdf;
    // diff = N log(1 - share) <= -N share: below -746 (with margin for rounding) it is below
    // EXP_UNDERFLOW, the tail is 0 and the logarithm need not be taken (most classes at large
    // N; `+ 0.0` as below turns a = -0.0, at the top class, into 0.0).
    if nf * share > 746.0 {
        return a + 0.0;
    }
    // log(F(C-)/F(C)): from the share of the class when it is small, else from `below`
    // directly (forming 1 - mass/cdf would cancel when the class holds almost all of F(C)).
    let diff = nf
        * if share < 0.5 {
            (-share).ln_1p()
        } else {
            (c.below / cdf).ln()
        };
    // log(1 - e^diff) = -e^diff (1 + O(e^diff)) rounds to 0 relative to `a` once e^diff
    // underflows.
    let tail = if diff < EXP_UNDERFLOW {
        0.0
    } else {
        log1mexp(diff)
    };
    a + tail
}

/// `log P_N(C)` for each class, in increasing reward.
pub fn class_log_probs(classes: &RewardClasses, n: u64) -> Vec<f64> {
    let nf = n as f64;
    classes
        .classes
        .iter()
        .map(|c| class_log_prob(c, nf))
        .collect()
}

/// The exact best-of-N distribution for `n >= 1` draws (claim `bon.exact`).
///
/// `n` is converted to `f64`, exact for `n <= 2^53`; above that the relative rounding of `n` is
/// below `1.2e-16`.
///
/// Cost: one radix sort of the support (see [`RewardClasses`]), one walk over the classes (one
/// or two logarithms per class: `log(1 - pi0(C)/F(C))` is skipped when `N pi0(C)/F(C) > 746`,
/// where the term it feeds underflows; a `log1mexp` for the classes where it does not), one
/// write of `log P_N(x)` per outcome at its random position in the output, and one pass in
/// index order for the policy (an `exp` only where `P_N(x)` is representable, so at large `N`
/// almost none). The walk, the scatter and the policy pass run on all cores for supports of
/// `2^16` outcomes or more; the sums (expected reward, KL, win rates) are combined from fixed
/// chunks of classes in a fixed order, so the result does not depend on the number of cores.
/// About 0.5 s at 10^7 outcomes with distinct rewards, on one core or two (`benches/RESULTS.md`).
///
/// ```
/// use rlhf_claims::{Dist, solve::best_of_n};
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let b = best_of_n(&base, &[0.0, 1.0], 2)?;
/// assert_eq!(b.solution.policy.probs(), &[0.25, 0.75]);
/// // N = 10^12 on a near-degenerate base: no overflow, no cancellation.
/// let base = Dist::new(vec![1.0 - 1e-13, 1e-13])?;
/// let b = best_of_n(&base, &[0.0, 1.0], 1_000_000_000_000)?;
/// let top = -(1e12 * (-1e-13f64).ln_1p()).exp_m1(); // 1 - (1 - 1e-13)^(1e12)
/// assert!((b.solution.policy.prob(1) - top).abs() < 1e-15);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn best_of_n(base: &Dist, reward: &[f64], n: u64) -> Result<BestOfN> {
    if n == 0 {
        return Err(Error::InvalidParameter {
            name: "n",
            value: 0.0,
            requirement: "an integer >= 1",
        });
    }
    let mut support = SortedSupport::new(base, reward)?;
    let nf = n as f64;
    // `log P_N(x)` for the outcome at each sorted position, then moved to index order.
    let mut sorted_logs = support.spare(support.len(), 0.0);
    let chunk_sums = support.map_classes(
        &mut sorted_logs,
        || [CompensatedSum::new(); 3], // KL, half-tie win, strict win
        |c, members, out, sums| {
            // N = 1 is the base itself: P_1(C) = pi0(C) exactly, so the KL is exactly 0.
            let lp = if n == 1 {
                c.log_mass()
            } else {
                class_log_prob(c, nf)
            };
            if let [l] = out {
                *l = lp;
            } else {
                let shift = lp - c.log_mass();
                for (l, &i) in out.iter_mut().zip(members) {
                    *l = base.log_prob(i) + shift;
                }
            }
            // `log pi0(C)` is needed only where P_N(C) is representable (most classes
            // underflow at large N), so it is formed here rather than for every class.
            let pc = exp_or_zero(lp);
            if pc > 0.0 {
                sums[0].add(pc * (lp - c.log_mass()));
                sums[1].add(pc * (c.below + 0.5 * c.mass));
                sums[2].add(pc * c.below);
            }
        },
    );
    let mut sums = [CompensatedSum::new(); 3];
    for chunk in &chunk_sums {
        for (s, c) in sums.iter_mut().zip(chunk) {
            s.add(c.value());
        }
    }
    let mut logs = filled(base.len(), f64::NEG_INFINITY);
    support.scatter(&sorted_logs, &mut logs);
    drop(sorted_logs);
    // Each probability is the exponential of its logarithm, so the policy is written in index
    // order from `logs`. Only the representable ones are written (a conditional store: a
    // branch-free form would call `exp` for every outcome, and its underflow path is slow); the
    // rest stay zero.
    let mut probs = zeroed(logs.len());
    let bounds = parallel::even_bounds(logs.len(), parallel::threads(logs.len()));
    parallel::map_parts(&mut probs, &bounds, |lo, part| {
        for (p, &l) in part.iter_mut().zip(&logs[lo..]) {
            if l >= EXP_UNDERFLOW {
                *p = l.exp();
            }
        }
    });
    // N = 1 is the base itself (its masses exactly, not the exponentials of their logarithms,
    // which carry `eps |log pi0|` and moved `E` below `E0` by 2e-14 relative). `E` is
    // `sum pi r` of the returned policy (a class sum would round `P_N(C)` differently from its
    // members' masses).
    let policy = if n == 1 {
        base.clone()
    } else {
        Dist::from_parts_unchecked(probs, logs)
    };
    let expected_reward = super::expected_reward(&policy, reward);
    Ok(BestOfN {
        solution: Solution {
            policy,
            expected_reward,
            kl: sums[0].value().max(0.0),
        },
        n,
        kl_bound: kl_bound(n),
        win_rate_half_ties: sums[1].value(),
        win_rate_strict: sums[2].value(),
    })
}
