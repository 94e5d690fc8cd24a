//! The tilt and the KL-budget solver writing their policy into the caller's buffers.
//!
//! [`tilt`](super::tilt()) and [`kl_budget`](super::kl_budget()) return two fresh `n`-vectors
//! (the policy and its log); at 10^7 outcomes, allocating and faulting in those 160 MB costs
//! about as much as the arithmetic. A loop that solves many problems of one size can instead
//! keep one [`PolicyBuffers`] and call [`tilt_into`] / [`kl_budget_into`], which run the same
//! passes (the same functions, so the results are the same bits as the allocating solvers',
//! which the tests check) and return only the scalars. The `_slices` forms write into any
//! `&mut [f64]` of length `n`, such as the rows of a batch ([`super::batch`]).
//!
//! Three rare cases allocate and copy the allocating solver's answer: a budget that is 0 or
//! slack (no `exp` pass), and the raised-reward paths for a reward spread beyond the
//! searches' range (a reward near `-f64::MAX` beside rewards of order one) or beyond
//! `f64::MAX` at a small `beta`.

use super::tilt::{
    budget_by_raising, budget_case, budget_fallback, budget_limit, budget_met, budget_multiplier,
    checked_scan, finish_at_root, keeps_multiplier, rescaled, rescaling, scaled_beta,
    subnormal_budget, summarize, tilt_of_raised, tilt_outputs_scanned, tilt_rescaling,
    unscale_beta, BudgetCase, BudgetRegime, KlBudget, TiltSummary, SEARCH_SPREAD,
};
use crate::buffer::zeroed;
use crate::dist::{check_reward_len, Dist};
use crate::error::{require_same_len, Result};
use serde::Serialize;

/// A policy and its log-policy, reused across calls (each resized to `n` only when its length
/// differs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyBuffers {
    /// `pi(x)` for each outcome.
    pub policy: Vec<f64>,
    /// `log pi(x)` for each outcome (`-inf` off the support of `pi`).
    pub log_policy: Vec<f64>,
}

impl PolicyBuffers {
    /// Empty buffers (sized by the first call).
    pub fn new() -> Self {
        Self::default()
    }

    /// Buffers of length `n` (zeroed, with the huge-page advice when large).
    pub fn with_len(n: usize) -> Self {
        Self {
            policy: zeroed(n),
            log_policy: zeroed(n),
        }
    }

    /// Makes both buffers of length `n`, keeping them when they already are.
    pub(crate) fn fit(&mut self, n: usize) {
        for v in [&mut self.policy, &mut self.log_policy] {
            if v.len() != n {
                *v = zeroed(n);
            }
        }
    }
}

/// The numbers of a [`KlBudget`] without its policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BudgetSummary {
    /// `E_pi[r]`.
    pub expected_reward: f64,
    /// `KL(pi || pi0)`.
    pub kl: f64,
    /// The multiplier; `None` as for [`KlBudget::beta`](super::KlBudget::beta).
    pub beta: Option<f64>,
    /// Which case applies.
    pub regime: BudgetRegime,
}

/// [`tilt`](super::tilt()) into `out`: the same policy and log-policy, bit for bit, and the
/// numbers of the [`Tilt`](super::Tilt).
///
/// ```
/// use rlhf_claims::{Dist, solve};
/// let base = Dist::from_logits(&[0.0, 1.0, -1.0])?;
/// let mut out = solve::PolicyBuffers::new();
/// for beta in [0.5, 1.0, 2.0] {
///     let t = solve::tilt_into(&base, &[1.0, 0.0, 2.0], beta, &mut out)?;
///     let fresh = solve::tilt(&base, &[1.0, 0.0, 2.0], beta)?;
///     assert_eq!(out.policy, fresh.solution.policy.probs());
///     assert_eq!(t.kl, fresh.solution.kl);
/// }
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn tilt_into(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    out: &mut PolicyBuffers,
) -> Result<TiltSummary> {
    out.fit(base.len());
    tilt_into_slices(base, reward, beta, &mut out.policy, &mut out.log_policy)
}

/// [`tilt_into`] with the policy and log-policy written into two slices of length `n`.
pub fn tilt_into_slices(
    base: &Dist,
    reward: &[f64],
    beta: f64,
    policy: &mut [f64],
    log_policy: &mut [f64],
) -> Result<TiltSummary> {
    crate::parallel::as_one_job(reward.len(), || {
        check_reward_len(base, reward)?;
        check_buffers(base, policy, log_policy)?;
        let scan = checked_scan(base, reward, beta)?;
        if let Some(k) = tilt_rescaling(&scan) {
            // A spread beyond f64::MAX: the tilt of raised rewards (copied) or of `r 2^k` at
            // `beta 2^k`, as in `tilt`.
            if let Some(t) = tilt_of_raised(base, reward, beta) {
                policy.copy_from_slice(t.solution.policy.probs());
                log_policy.copy_from_slice(t.solution.policy.log_probs());
                return Ok(t.summary());
            }
            let scaled = rescaled(base, reward, k);
            let t = tilt_into_slices(base, &scaled, scaled_beta(beta, k), policy, log_policy)?;
            return Ok(t.unscaled(k, beta));
        }
        let s = tilt_outputs_scanned(base, reward, beta, scan, policy, Some(log_policy));
        Ok(summarize((base, reward), s, beta))
    })
}

/// [`kl_budget`](super::kl_budget()) into `out`: the same policy and log-policy, bit for bit,
/// and its numbers. The root finder's scratch space is `out.policy` itself.
pub fn kl_budget_into(
    base: &Dist,
    reward: &[f64],
    eps: f64,
    out: &mut PolicyBuffers,
) -> Result<BudgetSummary> {
    out.fit(base.len());
    kl_budget_into_slices(base, reward, eps, &mut out.policy, &mut out.log_policy)
}

/// [`kl_budget_into`] with the policy and log-policy written into two slices of length `n`.
pub fn kl_budget_into_slices(
    base: &Dist,
    reward: &[f64],
    eps: f64,
    policy: &mut [f64],
    log_policy: &mut [f64],
) -> Result<BudgetSummary> {
    crate::parallel::as_one_job(reward.len(), || {
        let case = budget_case(base, reward, eps)?;
        check_buffers(base, policy, log_policy)?;
        let BudgetCase::Binding { r_max, spread } = case else {
            // pi0 or pi0(. | argmax r): no pass with exp; the allocating form, copied.
            let k = budget_limit(base, reward, &case)?;
            return Ok(copied(&k, policy, log_policy));
        };
        if let Some(k) = rescaling(base, reward, SEARCH_SPREAD) {
            // Rewards whose spread is beyond the searches' range: solved on `r 2^k` (see
            // `kl_budget`), the answer mapped back; or, first, on raised low rewards (the
            // allocating form's answer, copied).
            if let Some(b) = budget_by_raising(base, reward, eps)? {
                return Ok(copied(&b, policy, log_policy));
            }
            let scaled = rescaled(base, reward, k);
            let mut s = kl_budget_into_slices(base, &scaled, eps, policy, log_policy)?;
            let binding = s.regime == BudgetRegime::Binding;
            let kept = keeps_multiplier(binding, || budget_met(s.kl, eps, policy, base.probs()))?;
            s.expected_reward = super::expected_reward_of(policy, reward);
            s.beta = unscale_beta(s.beta.filter(|_| kept), k);
            s.regime = BudgetRegime::Binding;
            return Ok(s);
        }
        let range = (r_max, spread);
        if let Some(b) = subnormal_budget(base, reward, eps, range) {
            return Ok(copied(&b?, policy, log_policy));
        }
        let (beta, last) = match budget_multiplier(base, reward, eps, range, None, policy) {
            Ok(found) => found,
            // A budget near the base or a multiplier below the normal doubles: the allocating
            // form's answer, copied.
            Err(e) => {
                let b = budget_fallback(base, reward, eps, range, e)?;
                return Ok(copied(&b, policy, log_policy));
            }
        };
        let s = finish_at_root(base, reward, beta, last, policy, log_policy);
        let t = summarize((base, reward), s, beta);
        if let Err(e) = budget_met(t.kl, eps, policy, base.probs()) {
            let b = budget_fallback(base, reward, eps, range, e)?;
            return Ok(copied(&b, policy, log_policy));
        }
        Ok(BudgetSummary {
            expected_reward: t.expected_reward,
            kl: t.kl,
            beta: Some(beta),
            regime: BudgetRegime::Binding,
        })
    })
}

/// An allocating answer copied into the caller's slices, and its numbers.
fn copied(b: &KlBudget, policy: &mut [f64], log_policy: &mut [f64]) -> BudgetSummary {
    policy.copy_from_slice(b.solution.policy.probs());
    log_policy.copy_from_slice(b.solution.policy.log_probs());
    BudgetSummary {
        expected_reward: b.solution.expected_reward,
        kl: b.solution.kl,
        beta: b.beta,
        regime: b.regime,
    }
}

/// Both output slices have the base's length.
fn check_buffers(base: &Dist, policy: &[f64], log_policy: &[f64]) -> Result<()> {
    require_same_len("base", base.len(), "policy buffer", policy.len())?;
    require_same_len("base", base.len(), "log-policy buffer", log_policy.len())
}

#[cfg(test)]
mod tests {
    use super::super::{kl_budget, tilt};
    use super::*;

    /// Problems that take each path of the passes: plain; a buried mode (the centred
    /// variance pass); a subnormal base mass (the exact scalar block); an underflowing
    /// unnormalized tilt (the log form of pass 2); several tiles (threads).
    fn problems() -> Vec<(Dist, Vec<f64>)> {
        let n: usize = 300_001;
        let big = Dist::from_logits(
            &(0..n)
                .map(|i| ((i * 7919) % 1009) as f64 / 97.0)
                .collect::<Vec<_>>(),
        );
        let mut out = vec![];
        let small = [
            (vec![0.2, 0.3, 0.5], vec![1.0, -1.0, 0.5]),
            (vec![1e-300, 0.5, 0.5], vec![700.0, 0.0, 1.0]),
            (vec![1.0, 1e-136], vec![-2.0, 1.0]),
            (vec![0.18, 0.82, 1e-250], vec![-1.0, -1.0, 0.0]),
        ];
        for (p, r) in small {
            if let Ok(d) = Dist::new(p) {
                out.push((d, r));
            }
        }
        if let Ok(d) = Dist::from_weights(vec![2.4e-311, 3.0]) {
            out.push((d, vec![2.0, -1.0]));
        }
        // Spreads beyond f64::MAX (the rescaled paths): on the support, and through an outcome
        // whose mass underflows to 0 from a finite log (logit -800).
        if let Ok(d) = Dist::new(vec![0.25, 0.25, 0.5]) {
            out.push((d, vec![f64::MAX, -f64::MAX, 0.0]));
        }
        if let Ok(d) = Dist::from_logits(&[0.0, 0.0, -800.0]) {
            out.push((d, vec![f64::MAX, 0.0, -f64::MAX]));
        }
        if let Ok(d) = big {
            out.push((d, (0..n).map(|i| ((i * 31) % 17) as f64 * 0.1).collect()));
        }
        out
    }

    /// The into-buffer tilt gives the allocating tilt's bits, with one pair of buffers reused
    /// across problems of different sizes (so stale contents would show).
    #[test]
    fn tilt_into_equals_tilt_bit_for_bit() -> Result<()> {
        let mut out = PolicyBuffers::new();
        for (base, r) in problems() {
            for beta in [1.0 / 300.0, 0.7, 1.0, 1e6] {
                let s = tilt_into(&base, &r, beta, &mut out)?;
                let t = tilt(&base, &r, beta)?;
                assert_eq!(out.policy, t.solution.policy.probs());
                assert_eq!(out.log_policy, t.solution.policy.log_probs());
                let want = (
                    t.solution.expected_reward,
                    t.solution.kl,
                    t.log_partition,
                    t.reward_variance,
                    t.reward_gain,
                );
                let got = (
                    s.expected_reward,
                    s.kl,
                    s.log_partition,
                    s.reward_variance,
                    s.reward_gain,
                );
                assert_eq!(format!("{got:?}"), format!("{want:?}"));
            }
        }
        Ok(())
    }

    /// The same for the budget solver, in all three regimes.
    #[test]
    fn kl_budget_into_equals_kl_budget_bit_for_bit() -> Result<()> {
        let mut out = PolicyBuffers::new();
        let mut regimes = vec![];
        for (base, r) in problems() {
            for eps in [0.0, 1e-9, 0.05, 0.4, 50.0, 1e4] {
                let s = kl_budget_into(&base, &r, eps, &mut out)?;
                let k = kl_budget(&base, &r, eps)?;
                assert_eq!(out.policy, k.solution.policy.probs());
                assert_eq!(out.log_policy, k.solution.policy.log_probs());
                assert_eq!(
                    (s.expected_reward, s.kl, s.beta, s.regime),
                    (k.solution.expected_reward, k.solution.kl, k.beta, k.regime)
                );
                regimes.push(s.regime);
            }
        }
        for regime in [
            BudgetRegime::Zero,
            BudgetRegime::Binding,
            BudgetRegime::Slack,
        ] {
            assert!(regimes.contains(&regime), "{regime:?} not exercised");
        }
        Ok(())
    }

    #[test]
    fn wrong_buffer_lengths_are_typed_errors() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let (mut p, mut l) = (vec![0.0; 3], vec![0.0; 2]);
        let e = tilt_into_slices(&base, &[0.0, 1.0], 1.0, &mut p, &mut l);
        assert!(matches!(e, Err(crate::Error::LengthMismatch { .. })));
        let e = kl_budget_into_slices(&base, &[0.0, 1.0], 0.1, &mut p, &mut l);
        assert!(matches!(e, Err(crate::Error::LengthMismatch { .. })));
        Ok(())
    }
}
