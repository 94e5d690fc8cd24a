//! The KL-regularized optimum (claim `kl.tilt`) and its two inverse problems
//! (`lagrange.kl-budget`, `lagrange.reward-target`).
//!
//! For `beta > 0` the maximizer of `J(pi) = E_pi[r] - beta KL(pi||pi0)` is the tilt
//!
//! ```text
//! pi_beta(x) = pi0(x) exp(r(x)/beta) / Z,   Z = E_pi0[exp(r/beta)],   max J = beta log Z.
//! ```
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
//! `expm1` are evaluated by their Taylor series for `|d| < 1/2`.

use super::Solution;
use crate::dist::{check_reward, Dist};
use crate::error::{require_positive, Error, Result};
use crate::numeric::{monotone_root, BlockSum, CompensatedSum, RootTolerance};
use serde::Serialize;

/// The tilt `pi_beta` with the quantities around it.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

impl Tilt {
    /// The optimal value `max J = E_pi[r] - beta KL = beta log Z`, computed from the former
    /// expression (which never overflows).
    pub fn objective(&self) -> f64 {
        self.solution.expected_reward - self.beta * self.solution.kl
    }
}

/// Taylor coefficients `1/k!` for `k = 0..=17`.
const INV_FACT: [f64; 18] = {
    let mut c = [1.0; 18];
    let mut k = 1;
    while k < 18 {
        c[k] = c[k - 1] / k as f64;
        k += 1;
    }
    c
};

/// `(f(d), expm1(d))` with `f(d) = 1 + (d - 1) e^d = sum_{k>=2} (k-1) d^k / k!`, by Horner's
/// rule; the truncation error is below `2^-60` relative for `|d| < 1/2`.
#[inline]
fn f_and_expm1_series(d: f64) -> (f64, f64) {
    let mut f = 0.0;
    let mut e = 0.0;
    let mut k = 17;
    while k >= 1 {
        e = e * d + INV_FACT[k];
        f = f * d + (k as f64 - 1.0) * INV_FACT[k];
        k -= 1;
    }
    (f * d, e * d)
}

/// Sufficient statistics of one tilt evaluation.
#[derive(Debug, Clone, Copy)]
struct TiltStats {
    /// `max r` on `supp pi0`.
    r_max: f64,
    /// `log sum_x pi0(x) exp(w(x))`.
    log_z: f64,
    /// `KL(pi_beta || pi0)`.
    kl: f64,
    /// `sum pi_beta (r* - r) = r* - E[r] >= 0`.
    mean_gap: f64,
    /// `Var_{pi_beta}(r)`.
    variance: f64,
}

/// Max of `r` over `supp pi0` (the base is validated, so the support is non-empty).
fn support_max(base: &Dist, reward: &[f64]) -> f64 {
    base.probs()
        .iter()
        .zip(reward)
        .filter(|(p, _)| **p > 0.0)
        .map(|(_, r)| *r)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Min of `r` over `supp pi0`.
fn support_min(base: &Dist, reward: &[f64]) -> f64 {
    base.probs()
        .iter()
        .zip(reward)
        .filter(|(p, _)| **p > 0.0)
        .map(|(_, r)| *r)
        .fold(f64::INFINITY, f64::min)
}

/// Division by a fixed positive number, done as a multiplication by its reciprocal when that is
/// finite: one more rounding (at most `2 eps` relative in all) in exchange for a division per
/// outcome in the hot loops.
#[derive(Debug, Clone, Copy)]
struct Divide {
    by: f64,
    inv: f64,
}

impl Divide {
    fn by(by: f64) -> Self {
        Self { by, inv: 1.0 / by }
    }

    #[inline]
    fn of(self, x: f64) -> f64 {
        if self.inv.is_finite() {
            x * self.inv
        } else {
            x / self.by
        }
    }
}

/// A zeroed buffer for `n` policy entries. Large buffers are advised to the kernel as candidates
/// for transparent huge pages, as NumPy does for its arrays: a fresh 80 MB policy (10^7
/// outcomes) otherwise costs some 20 000 page faults, a large share of a tilt's time.
fn policy_buffer(n: usize) -> Vec<f64> {
    let mut v = vec![0.0; n];
    advise_huge_pages(&mut v);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(v: &mut [f64]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(v);
    if bytes < 4 * HUGE {
        return;
    }
    let start = v.as_mut_ptr() as usize;
    let first = (start + HUGE - 1) & !(HUGE - 1);
    let end = (start + bytes) & !(HUGE - 1);
    if end > first {
        // SAFETY: [first, end) lies inside the live allocation that `v` borrows mutably, and
        // MADV_HUGEPAGE is advice only: it changes neither the contents nor the mapping's
        // validity. A failure (e.g. THP disabled) leaves ordinary pages, so it is ignored.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_v: &mut [f64]) {}

/// Chunks of [`BlockSum::BLOCK`] indices covering `0..n`. The hot loops sum naively within a
/// chunk into plain `f64` accumulators and combine the chunk sums with [`CompensatedSum`]: the
/// rounding of [`BlockSum`] without its per-term bookkeeping.
fn blocks(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..n)
        .step_by(BlockSum::BLOCK)
        .map(move |s| s..(s + BlockSum::BLOCK).min(n))
}

/// One evaluation of the tilt at `beta`. On return `q` (length `n`; reallocated only if its
/// length differs) holds the normalized policy; when `logs` is given, the log-policy is
/// written there.
fn tilt_stats(
    base: &Dist,
    reward: &[f64],
    r_max: f64,
    beta: f64,
    q: &mut Vec<f64>,
    mut logs: Option<&mut [f64]>,
) -> TiltStats {
    let p = base.probs();
    let lp = base.log_probs();
    let n = p.len();
    if q.len() != n {
        *q = policy_buffer(n);
    }
    let over_beta = Divide::by(beta);
    // Pass 1: unnormalized tilt q = pi0 e^w with both Z = sum q and Z - 1 = sum (q - pi0).
    // For w > -ln 2, q - pi0 = pi0 expm1(w) is formed without cancellation; since every term of
    // Z - 1 is <= 0, log Z = log1p(Z - 1) keeps full relative accuracy when Z is within 1e-16
    // of 1 (beta huge). When Z is small (mass piles on a rare argmax), log Z = ln(sum q) does.
    // It also accumulates sum q (r* - r), whose ratio to Z is the mean reward gap to rounding:
    // the shift that lets pass 2 accumulate the variance in the same sweep.
    let (mut z_sum, mut z_m1, mut qg_sum) = (
        CompensatedSum::new(),
        CompensatedSum::new(),
        CompensatedSum::new(),
    );
    for block in blocks(n) {
        let (mut zs, mut zm, mut qg) = (0.0, 0.0, 0.0);
        for i in block {
            if p[i] == 0.0 {
                q[i] = 0.0;
                continue;
            }
            let w = over_beta.of(reward[i] - r_max);
            let (qi, dq) = if w > -std::f64::consts::LN_2 {
                let dq = p[i] * w.exp_m1();
                (p[i] + dq, dq)
            } else {
                let qi = (lp[i] + w).exp();
                (qi, qi - p[i])
            };
            q[i] = qi;
            zs += qi;
            zm += dq;
            qg += qi * (r_max - reward[i]);
        }
        z_sum.add(zs);
        z_m1.add(zm);
        qg_sum.add(qg);
    }
    let z = z_sum.value();
    let over_z = Divide::by(z);
    let shift = qg_sum.value() / z;
    let log_z = if z > 0.5 {
        z_m1.value().ln_1p()
    } else {
        z.ln()
    };
    // Pass 2: normalize, accumulate F, e, the reward gap and its second moment about the
    // shift; write the policy.
    let (mut f_sum, mut e_sum, mut gap, mut sq) = (
        CompensatedSum::new(),
        CompensatedSum::new(),
        CompensatedSum::new(),
        CompensatedSum::new(),
    );
    for block in blocks(n) {
        let (mut fb, mut eb, mut gb, mut sb) = (0.0, 0.0, 0.0, 0.0);
        for i in block {
            if p[i] == 0.0 {
                if let Some(l) = logs.as_deref_mut() {
                    l[i] = f64::NEG_INFINITY;
                }
                continue;
            }
            let w = over_beta.of(reward[i] - r_max);
            let d = w - log_z;
            // When q underflowed (or lost precision as a subnormal) while pi = q / z is still
            // representable (z tiny: the argmax has base mass like 1e-300), form pi in log
            // space.
            let pi = if q[i] >= f64::MIN_POSITIVE {
                over_z.of(q[i])
            } else {
                (lp[i] + d).exp()
            };
            q[i] = pi;
            if d.abs() < 0.5 {
                let (f, e) = f_and_expm1_series(d);
                fb += p[i] * f;
                eb += p[i] * e;
            } else if pi > 0.0 {
                fb += p[i] + (d - 1.0) * pi;
                eb += pi - p[i];
            } else {
                fb += p[i];
                eb -= p[i];
            }
            if pi > 0.0 {
                let g = r_max - reward[i];
                gb += pi * g;
                sb += pi * (g - shift) * (g - shift);
            }
            if let Some(l) = logs.as_deref_mut() {
                l[i] = if pi > 0.0 {
                    lp[i] + d
                } else {
                    f64::NEG_INFINITY
                };
            }
        }
        f_sum.add(fb);
        e_sum.add(eb);
        gap.add(gb);
        sq.add(sb);
    }
    let (f, e) = (f_sum.value(), e_sum.value());
    let kl = ((f + e) / (1.0 + e) - e.ln_1p()).max(0.0);
    let mean_gap = gap.value().max(0.0);
    // Var = E[(g - s)^2] - (E[g] - s)^2; with the shift s equal to the mean up to rounding the
    // correction is of order eps^2 E[g]^2 and nothing cancels (the two-pass algorithm).
    let variance = (sq.value() - (mean_gap - shift) * (mean_gap - shift)).max(0.0);
    TiltStats {
        r_max,
        log_z,
        kl,
        mean_gap,
        variance,
    }
}

/// The tilt at `beta` with its policy (two fresh buffers of length `n`, one of which doubles as
/// the scratch space of the passes).
fn assemble(base: &Dist, reward: &[f64], beta: f64) -> Tilt {
    let n = base.len();
    let (mut probs, mut logs) = (policy_buffer(n), policy_buffer(n));
    let r_max = support_max(base, reward);
    let s = tilt_stats(base, reward, r_max, beta, &mut probs, Some(&mut logs));
    tilt_from_parts(s, beta, probs, logs)
}

fn tilt_from_parts(s: TiltStats, beta: f64, probs: Vec<f64>, logs: Vec<f64>) -> Tilt {
    Tilt {
        solution: Solution {
            policy: Dist::from_parts_unchecked(probs, logs),
            expected_reward: s.r_max - s.mean_gap,
            kl: s.kl,
        },
        beta,
        log_partition: s.r_max / beta + s.log_z,
        reward_variance: s.variance,
    }
}

/// The tilt at the multiplier `beta` found by a root finder whose last evaluation, `last`,
/// left the normalized policy in `policy`: when that evaluation was at this very beta, only
/// the log-policy `log pi0 + w - log Z` remains to be formed (the same expression as in
/// [`tilt_stats`], so the result is identical to [`assemble`]'s), saving a pass with `exp`.
fn tilt_at_root(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    policy: Vec<f64>,
    last: Option<(f64, TiltStats)>,
) -> Tilt {
    match last {
        Some((b, s)) if b == beta && policy.len() == base.len() => {
            let lp = base.log_probs();
            let over_beta = Divide::by(beta);
            let mut logs = policy_buffer(policy.len());
            for (i, l) in logs.iter_mut().enumerate() {
                *l = if policy[i] > 0.0 {
                    lp[i] + (over_beta.of(reward[i] - s.r_max) - s.log_z)
                } else {
                    f64::NEG_INFINITY
                };
            }
            tilt_from_parts(s, beta, policy, logs)
        }
        _ => assemble(base, reward, beta),
    }
}

/// The KL-regularized optimum `pi_beta = argmax_pi E_pi[r] - beta KL(pi||pi0)` (claim
/// `kl.tilt`).
///
/// Assumptions: `base` any distribution (zeros allowed: `pi_beta` vanishes there, claim
/// `kl.support`), `reward` finite with the same length, `0 < beta < inf`. Cost: two passes with
/// one `exp` per outcome in the support.
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
    check_reward(base, reward)?;
    require_positive("beta", beta)?;
    Ok(assemble(base, reward, beta))
}

/// MaxEnt RL (claim `kl.maxent`): the maximizer of `E_pi[r] + alpha H(pi)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KlBudget {
    /// The optimal policy (the least-KL one in the slack case).
    #[serde(flatten)]
    pub solution: Solution,
    /// The multiplier beta, `None` when no finite positive beta is the answer.
    pub beta: Option<f64>,
    /// Which case applies.
    pub regime: BudgetRegime,
}

/// Which case of `lagrange.reward-target` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetRegime {
    /// `c <= E_pi0[r]`: `pi0` itself meets the target (beta = +inf).
    Unconstrained,
    /// `E_pi0[r] < c < max r`: the tilt with `E_beta[r] = c`.
    Interior,
    /// `c = max r`: `pi0(. | A)` (beta = 0+).
    Boundary,
}

/// Solution of `min KL(pi||pi0) s.t. E_pi[r] >= c`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RewardTarget {
    /// The optimal policy.
    #[serde(flatten)]
    pub solution: Solution,
    /// The multiplier beta, `None` when no finite positive beta is the answer.
    pub beta: Option<f64>,
    /// Which case applies.
    pub regime: TargetRegime,
}

/// Root-finding variable: `u = ln(spread / beta)`, so `beta = spread * exp(-u)`; `|u| <= U_MAX`
/// spans every beta for which the tilt is representable and distinct from its limits.
const U_MAX: f64 = 745.0;

/// `pi0` as a solution (beta = +inf).
fn base_solution(base: &Dist, reward: &[f64]) -> Result<Solution> {
    Ok(Solution {
        policy: base.clone(),
        expected_reward: base.expect(reward)?,
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
/// reports which end of `[-U_MAX, U_MAX]` was hit.
fn bracket<G: FnMut(f64) -> Result<(f64, f64)>>(g: &mut G, start: f64) -> Result<(f64, f64)> {
    let start = start.clamp(-U_MAX, U_MAX);
    let (g0, dg0) = g(start)?;
    // First probe 10% beyond the Newton point (within [1e-3, 1]), so that a good start gives a
    // tight bracket; then doubling steps.
    let newton = 1.1 * g0.abs() / dg0;
    let mut step = if newton.is_finite() && dg0 > 0.0 {
        newton.clamp(1e-3, 1.0)
    } else {
        1.0
    };
    let mut edge = start;
    loop {
        let next = if g0 < 0.0 { edge + step } else { edge - step }.clamp(-U_MAX, U_MAX);
        let (gn, _) = g(next)?;
        if g0 < 0.0 && gn >= 0.0 {
            return Ok((edge, next));
        }
        if g0 >= 0.0 && gn <= 0.0 {
            return Ok((next, edge));
        }
        if next.abs() >= U_MAX {
            return Err(Error::NoConvergence(format!(
                "no bracket for the multiplier within |ln(spread/beta)| <= {U_MAX}"
            )));
        }
        edge = next;
        step *= 2.0;
    }
}

/// `max E_pi[r] s.t. KL(pi||pi0) <= eps` (claim `lagrange.kl-budget`).
///
/// Uses `kl.monotone`: `KL(pi_beta||pi0)` increases strictly in `1/beta` from 0 to
/// `-log pi0(A)` when `r` is non-constant on the support. The multiplier solves
/// `ln KL(u) = ln eps` in `u = ln(spread/beta)` by Newton's method with the exact derivative
/// `dKL/du = Var_beta(r) / beta^2`, safeguarded by bisection, to relative accuracy `~1e-15` in
/// the KL.
///
/// Errors: `eps` negative or non-finite, bad base or reward.
pub fn kl_budget(base: &Dist, reward: &[f64], eps: f64) -> Result<KlBudget> {
    check_reward(base, reward)?;
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "kl_budget",
            value: eps,
            requirement: "finite and >= 0",
        });
    }
    let r_max = support_max(base, reward);
    let kl_max = base.neg_log_mass_where(|i| reward[i] == r_max);
    if eps >= kl_max {
        return Ok(KlBudget {
            solution: argmax_solution(base, reward, r_max)?,
            beta: None,
            regime: BudgetRegime::Slack,
        });
    }
    if eps == 0.0 {
        return Ok(KlBudget {
            solution: base_solution(base, reward)?,
            beta: None,
            regime: BudgetRegime::Zero,
        });
    }
    let spread = r_max - support_min(base, reward);
    let var0 = scaled_base_variance(base, reward, r_max, spread)?;
    let mut scratch = Vec::new();
    let mut last = None;
    let target = eps.ln();
    let mut g = |u: f64| -> Result<(f64, f64)> {
        let beta = spread * (-u).exp();
        let s = tilt_stats(base, reward, r_max, beta, &mut scratch, None);
        last = Some((beta, s));
        if s.kl <= 0.0 {
            return Ok((f64::NEG_INFINITY.max(-1e300), 2.0));
        }
        let dkl = s.variance / (beta * beta);
        Ok((s.kl.ln() - target, dkl / s.kl))
    };
    // Small-beta^-1 expansion KL ~ Var0 / (2 beta^2) gives the starting point.
    let start = (0.5 * (2.0 * eps / var0).ln()).clamp(-U_MAX, U_MAX);
    let beta = solve_in_u(&mut g, start, spread)?;
    let t = tilt_at_root(base, reward, beta, scratch, last);
    Ok(KlBudget {
        solution: t.solution,
        beta: Some(beta),
        regime: BudgetRegime::Binding,
    })
}

/// `Var_pi0(r) / spread^2`, computed on the rewards mapped to `[-1, 0]` by
/// `r -> (r - r*) / spread`, so that it neither underflows (rewards of scale 1e-300) nor
/// overflows (rewards of scale 1e300). It sets the starting point of the multiplier search.
fn scaled_base_variance(base: &Dist, reward: &[f64], r_max: f64, spread: f64) -> Result<f64> {
    let scaled: Vec<f64> = reward.iter().map(|r| (r - r_max) / spread).collect();
    base.variance(&scaled)
}

/// Brackets and solves `g(u) = 0` for an increasing `g`; returns `beta = spread * e^{-u}`.
/// When the root lies beyond the representable range on the large-`u` side (the constraint is
/// met only by the `beta -> 0` limit to within rounding), the end of the range is returned.
fn solve_in_u<G: FnMut(f64) -> Result<(f64, f64)>>(
    g: &mut G,
    start: f64,
    spread: f64,
) -> Result<f64> {
    // Each evaluation is a pass over all outcomes; the root finder re-evaluates the bracket
    // ends that `bracket` just computed, so the last few values are remembered.
    let mut recent: Vec<(f64, (f64, f64))> = Vec::with_capacity(4);
    let mut g = |u: f64| -> Result<(f64, f64)> {
        if let Some((_, v)) = recent.iter().find(|(x, _)| *x == u) {
            return Ok(*v);
        }
        let v = g(u)?;
        if recent.len() == 4 {
            recent.remove(0);
        }
        recent.push((u, v));
        Ok(v)
    };
    let g = &mut g;
    let (lo, hi) = match bracket(g, start) {
        Ok(b) => b,
        Err(e) => {
            let (g_hi, _) = g(U_MAX)?;
            if g_hi.abs() <= 1e-12 {
                return Ok(spread * (-U_MAX).exp());
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
    let u = monotone_root(g, lo, hi, tol)?;
    Ok(spread * (-u).exp())
}

/// `min KL(pi||pi0) s.t. E_pi[r] >= c` (claim `lagrange.reward-target`).
///
/// Cases: `c <= E_pi0[r]` gives `pi0`; `E_pi0[r] < c < max r` the tilt with `E_beta[r] = c`
/// (found in `u = ln(spread/beta)` on `ln(r* - E_beta[r])`, which is smooth in both the near-base
/// and the near-argmax regimes); `c = max r` gives `pi0(. | A)`; `c > max r` is
/// [`Error::Infeasible`].
pub fn reward_target(base: &Dist, reward: &[f64], c: f64) -> Result<RewardTarget> {
    check_reward(base, reward)?;
    if !c.is_finite() {
        return Err(Error::InvalidParameter {
            name: "target",
            value: c,
            requirement: "finite",
        });
    }
    let r_max = support_max(base, reward);
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
    let spread = r_max - support_min(base, reward);
    let var0 = scaled_base_variance(base, reward, r_max, spread)?;
    let target_gap = (r_max - c).ln();
    let mut scratch = Vec::new();
    let mut last = None;
    let mut g = |u: f64| -> Result<(f64, f64)> {
        let beta = spread * (-u).exp();
        let s = tilt_stats(base, reward, r_max, beta, &mut scratch, None);
        last = Some((beta, s));
        if s.mean_gap <= 0.0 {
            return Ok((1e300, 1.0));
        }
        // d/du ln(r* - E) = -(dE/du)/(r* - E), dE/du = Var(r)/beta.
        Ok((target_gap - s.mean_gap.ln(), s.variance / beta / s.mean_gap))
    };
    // Linear response E ~ E0 + Var0/beta gives the starting point.
    let start = ((c - base_sol.expected_reward) / spread / var0).ln();
    let beta = solve_in_u(&mut g, start, spread)?;
    let t = tilt_at_root(base, reward, beta, scratch, last);
    Ok(RewardTarget {
        solution: t.solution,
        beta: Some(beta),
        regime: TargetRegime::Interior,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn policy_survives_underflow_of_the_unnormalized_tilt() -> Result<()> {
        // Argmax of base mass 1e-300; at beta = 1/1300 the unnormalized weight of outcome 0,
        // 0.5 e^{-1300}, underflows, but Z ~ 0.5 e^{-650} so pi_0 ~ 1e-283 is representable.
        // Equal base masses give pi_0 / pi_1 = e^{(r_0 - r_1)/beta} = e^{-650} exactly.
        let base = Dist::new(vec![0.5, 0.5, 1e-300])?;
        let t = tilt(&base, &[0.0, 0.5, 1.0], 1.0 / 1300.0)?;
        let (p0, p1) = (t.solution.policy.prob(0), t.solution.policy.prob(1));
        let want = (-650.0f64).exp();
        // exp has condition number 650 at -650, on top of one rounding in 0.5/beta.
        assert!(p0 > 0.0 && (p0 / p1 - want).abs() <= 1e3 * f64::EPSILON * want);
        Ok(())
    }

    #[test]
    fn inverse_solvers_work_at_reward_scale_1e_minus_300() -> Result<()> {
        // The problems are invariant under r -> s r, beta -> s beta: scaling the rewards by
        // 1e-300 must scale beta by 1e-300 and leave the policy unchanged.
        let base = Dist::new(vec![0.3, 0.3, 0.4])?;
        let r = [0.0, 1.0, -2.0];
        let tiny: Vec<f64> = r.iter().map(|x| x * 1e-300).collect();
        let (a, b) = (kl_budget(&base, &r, 0.5)?, kl_budget(&base, &tiny, 0.5)?);
        let (ba, bb) = (a.beta.unwrap_or(f64::NAN), b.beta.unwrap_or(f64::NAN));
        // beta's condition number w.r.t. the KL is O(1) here; 1e-13 is ~500 roundings.
        assert!((bb / 1e-300 - ba).abs() <= 1e-13 * ba, "{ba} vs {bb}");
        let (a, b) = (
            reward_target(&base, &r, 0.5)?,
            reward_target(&base, &tiny, 0.5e-300)?,
        );
        let (ba, bb) = (a.beta.unwrap_or(f64::NAN), b.beta.unwrap_or(f64::NAN));
        assert!((bb / 1e-300 - ba).abs() <= 1e-13 * ba, "{ba} vs {bb}");
        Ok(())
    }

    #[test]
    fn inverse_solvers_return_exactly_the_tilt_at_their_multiplier() -> Result<()> {
        // The inverse solvers reuse their last evaluation; it must be bit-identical to tilt.
        let base = Dist::new(vec![0.1, 0.0, 0.3, 0.6])?;
        let r = [2.0, 9.0, -1.0, 0.5];
        let k = kl_budget(&base, &r, 0.2)?;
        let t = tilt(&base, &r, k.beta.unwrap_or(f64::NAN))?;
        assert_eq!(k.solution, t.solution);
        let k = reward_target(&base, &r, 1.5)?;
        let t = tilt(&base, &r, k.beta.unwrap_or(f64::NAN))?;
        assert_eq!(k.solution, t.solution);
        Ok(())
    }

    #[test]
    fn one_sweep_variance_matches_the_two_pass_variance() -> Result<()> {
        // Mean gap ~1e-3 next to a 1e6 outlier: the shifted one-sweep formula must agree with
        // the compensated two-pass variance of the returned policy (rounding only: 1e-12).
        let base = Dist::new(vec![0.25, 0.25, 0.5])?;
        let r = [1e6, 1e6 + 1e-3, 0.0];
        for beta in [1e-4, 1e-3, 1.0, 1e6] {
            let t = tilt(&base, &r, beta)?;
            let v = t.solution.policy.variance(&r)?;
            assert!(
                (t.reward_variance - v).abs() <= 1e-12 * v,
                "{beta}: {} vs {v}",
                t.reward_variance
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
}
