//! Win rate against the base and the policy that maximizes it under a KL budget (claim
//! `bon.winrate-optimal`, after Gui et al. 2024 and Balashankar et al. 2024).
//!
//! A policy `pi` beats a fresh base sample `X ~ pi0` (ties count half) with probability
//!
//! ```text
//! W(pi) = P(r(Y) > r(X)) + P(r(Y) = r(X))/2 = sum_x pi(x) w(x),   Y ~ pi,
//! w(x)  = pi0(r < r(x)) + pi0(r = r(x))/2,
//! ```
//!
//! linear in `pi` with the per-outcome value `w`, the mid-rank of `r(x)` under `pi0`. So
//! `max W(pi) s.t. KL(pi||pi0) <= eps` is the KL-budget problem of `lagrange.kl-budget` with the
//! reward `w`: its optimum is the tilt `pi0 exp(w/beta)/Z` at the beta where the KL is `eps`
//! (or `pi0(. | top reward class)` when the budget is slack, `pi0` when it is 0). `w` depends on
//! the reward only through the order of its values, so the optimum does too.
//!
//! # Cost
//!
//! One radix sort of the support by reward and one walk over the reward classes (compensated
//! sums of the masses below each class, see [`super::classes`]), a scatter of `w` back to index
//! order, then the budget search on `w`, started where the tilt of a uniform `w` spends the
//! budget (see `uniform_value_beta`): about three tilt passes. The policy and its logarithms
//! are written into two of the sort's columns, which are no longer needed, instead of into
//! fresh memory. At `10^7` outcomes with distinct rewards (bench `winrate_optimal` in
//! `benches/solvers.rs`, `benches/RESULTS.md`) it takes 9-10 times one tilt.

use super::classes::{RewardClasses, SortedSupport};
use super::quantilize::{quantilize, Quantilizer};
use super::tilt::{kl_budget_from, BudgetRegime};
use super::Solution;
use crate::buffer::filled;
use crate::dist::Dist;
use crate::error::{Error, Result};
use crate::numeric::CompensatedSum;
use serde::Serialize;

/// The win-rate-optimal policy under a KL budget.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct WinRateOptimum {
    /// The policy, its expected (original) reward and `KL(policy || pi0)`.
    #[serde(flatten)]
    pub solution: Solution,
    /// `W(policy) = E_policy[w]`, the probability of beating a fresh `pi0` sample, ties half.
    pub win_rate: f64,
    /// The temperature of the tilt of `w` (in units of `w`, which lies in `[0, 1]`); `None` when
    /// no finite positive beta is the answer (budget 0, or slack).
    pub beta: Option<f64>,
    /// Which case of the budget problem applies.
    pub regime: BudgetRegime,
}

/// `(reward, pi0(r < reward), pi0(r = reward))` of one reward class.
type ClassRow = (f64, f64, f64);

/// `w(x) = pi0(r < r(x)) + pi0(r = r(x))/2` for every outcome `x` (off the support of `pi0` too,
/// where it is defined by the same formula), from the reward classes of the support with
/// compensated sums of the masses below each class.
///
/// ```
/// use rlhf_claims::{Dist, solve::winrate::win_values};
/// let base = Dist::new(vec![0.5, 0.25, 0.25, 0.0])?;
/// let w = win_values(&base, &[1.0, 0.0, 1.0, 0.5])?;
/// assert_eq!(w, vec![0.625, 0.125, 0.625, 0.25]);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn win_values(base: &Dist, reward: &[f64]) -> Result<Vec<f64>> {
    Ok(win_values_and_spares(base, reward)?.0)
}

/// [`win_values`], with two paged-in buffers as long as the support that the computation no
/// longer needs (their contents unspecified): the policy and its logarithms can be written
/// there instead of into fresh memory, whose pages the kernel would zero first (at `10^7`
/// outcomes, 160 MB).
fn win_values_and_spares(base: &Dist, reward: &[f64]) -> Result<(Vec<f64>, [Vec<f64>; 2])> {
    let mut support = SortedSupport::without_above(base, reward)?;
    let off_support = support.len() < base.len();
    // Every sorted position belongs to one class, so the walk writes all of `sorted`.
    let mut sorted = support.take_spare_masses();
    let rows = support.map_classes(&mut sorted, Vec::new, |c, _, out, rows| {
        out.fill(c.below + 0.5 * c.mass);
        if off_support {
            rows.push((c.reward, c.below, c.mass));
        }
    });
    let mut values = filled(base.len(), 0.0);
    support.scatter(&sorted, &mut values);
    if off_support {
        let rows: Vec<ClassRow> = rows.into_iter().flatten().collect();
        for x in (0..base.len()).filter(|&x| !base.in_support(x)) {
            values[x] = value_off_support(&rows, reward[x]);
        }
    }
    Ok((values, [sorted, support.into_masses()]))
}

/// `w` at a reward `r` that no support outcome need have, from the class rows in increasing
/// reward: the mass of the classes below `r`, plus half the class at `r` if there is one.
fn value_off_support(rows: &[ClassRow], r: f64) -> f64 {
    let k = rows.partition_point(|row| row.0 < r);
    match rows.get(k) {
        Some(&(reward, below, mass)) if reward == r => below + 0.5 * mass,
        Some(&(_, below, _)) => below,
        None => rows.last().map_or(0.0, |&(_, below, mass)| below + mass),
    }
}

/// `W(pi) = sum_x pi(x) w(x)` (compensated) for values `w` from [`win_values`].
pub fn win_rate(policy: &Dist, values: &[f64]) -> Result<f64> {
    policy.expectation(values)
}

/// `max W(pi) s.t. KL(pi||pi0) <= eps`: the tilt of the win value `w` at the KL budget `eps`
/// (claim `bon.winrate-optimal`).
///
/// Assumptions: `base` any distribution (zeros allowed; the optimum vanishes off the support),
/// `reward` finite with the same length, `eps` finite and `>= 0`. With one reward class on the
/// support `w` is constant (`1/2`) and the optimum is `pi0` itself. The expected reward reported
/// is that of the original reward `r`; the win rate is `E_pi[w]` as the budget solver computed
/// it.
///
/// ```
/// use rlhf_claims::{Dist, solve::winrate::winrate_optimal};
/// let base = Dist::new(vec![0.5, 0.25, 0.25])?;
/// // Only the order of the rewards matters: 10 and 2 give the same optimum.
/// let a = winrate_optimal(&base, &[0.0, 1.0, 10.0], 0.1)?;
/// let b = winrate_optimal(&base, &[0.0, 1.0, 2.0], 0.1)?;
/// assert_eq!(a.solution.policy, b.solution.policy);
/// assert!((a.solution.kl - 0.1).abs() < 1e-12 && a.win_rate > 0.5);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn winrate_optimal(base: &Dist, reward: &[f64], eps: f64) -> Result<WinRateOptimum> {
    let (values, spares) = win_values_and_spares(base, reward)?;
    let guess = (eps.is_finite() && eps > 0.0).then(|| uniform_value_beta(eps));
    let budget = kl_budget_from(base, &values, eps, guess, spares)?;
    let expected_reward = super::expected_reward(&budget.solution.policy, reward);
    Ok(WinRateOptimum {
        win_rate: budget.solution.expected_reward,
        solution: Solution {
            expected_reward,
            ..budget.solution
        },
        beta: budget.beta,
        regime: budget.regime,
    })
}

/// `KL(pi_a || U(0, 1))` for the tilt `pi_a(w) = a e^{a w}/(e^a - 1)` of the uniform law on
/// `[0, 1]` at `a = 1/beta`:
///
/// ```text
/// KL = a E[w] - ln Z,   Z = (e^a - 1)/a,   E[w] = 1/(1 - e^-a) - 1/a,
/// ```
///
/// written with `e^-a` so that it holds for every `a > 0`; below `a = 1e-3` the series
/// `a^2/24` (the variance `1/12` times `a^2/2`), whose next term is `-a^4/960` (at most
/// `2.5e-8` relative): this is only the start of a search.
fn uniform_tilt_kl(a: f64) -> f64 {
    if a < 1e-3 {
        return a * a / 24.0;
    }
    let one_minus = -(-a).exp_m1();
    a / one_minus - 1.0 - a - one_minus.ln() + a.ln()
}

/// The beta at which the tilt of `w ~ U(0, 1)` has KL `eps`: where the search for the
/// win-rate optimum's beta starts.
///
/// Under `pi0` the mid-rank `w` is a midpoint-rule sample of `U(0, 1)`: each outcome stands for
/// the interval `[pi0(r < r(x)), pi0(r <= r(x))]` of width `pi0(x)` at its midpoint. So every
/// expectation of a smooth function of `w` under `pi0` is its uniform integral up to
/// `O(max_x pi0(x)^2)`, and the tilt's KL is [`uniform_tilt_kl`] to that order: for bases
/// with small masses the search starts within rounding of the root and needs a step or two.
/// Ties are no exception (a reward class is one interval of the rule); a class of large mass
/// makes the guess rougher, and the bracket then widens as from any start. The guess only
/// places the start. `uniform_tilt_kl` increases in `a`, so the guess
/// is found by bisection in `ln a` over `[-30, 40]`, far wider than any binding budget below
/// `ln(e^40) - 1`; larger budgets get the end of the range.
fn uniform_value_beta(eps: f64) -> f64 {
    let (mut lo, mut hi) = (-30.0f64, 40.0f64);
    for _ in 0..GUESS_STEPS {
        let mid = 0.5 * (lo + hi);
        if uniform_tilt_kl(mid.exp()) < eps {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (-0.5 * (lo + hi)).exp()
}

/// Bisection steps of [`uniform_value_beta`]: `70 / 2^60` is below `1e-16`.
const GUESS_STEPS: usize = 60;

/// Bisection steps of [`quantilizer_at_kl`]: the kept mass of the boundary class halves its
/// interval each step, so 1100 steps reach the spacing of doubles anywhere in `(0, 1]`.
const BISECTION_STEPS: usize = 1100;

/// The quantilizer with the largest KL to `pi0` that is at most `eps`: the `q` with
/// `KL(pi_q||pi0) = eps` when `eps < -log pi0(top reward class)`, else the top class
/// (`q = pi0(top)`, the largest KL any quantilizer has).
///
/// `KL(pi_q||pi0)` is continuous and non-increasing in `q`, strictly decreasing on
/// `[pi0(top), 1]`: with `A` the mass strictly above the boundary class `b` and `t = q - A` the
/// part of `b` kept, `KL = -log q + (t/q) log(t/pi0(b))`, whose derivative in `t` is
/// `A log(t/pi0(b))/q^2 <= 0`. The boundary class is the first class from the top whose full
/// inclusion brings the KL (`-log` of the mass at or above it) to `eps` or below; `t` is then
/// found by bisection on the closed form, keeping the side with `KL <= eps`, and the policy is
/// [`quantilize`]'s at `q = A + t`.
///
/// Errors: `eps` negative or non-finite, bad base or reward.
pub fn quantilizer_at_kl(base: &Dist, reward: &[f64], eps: f64) -> Result<Quantilizer> {
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "kl_budget",
            value: eps,
            requirement: "finite and >= 0",
        });
    }
    let classes = RewardClasses::new(base, reward)?;
    let mut above = CompensatedSum::new();
    for c in classes.classes.iter().rev() {
        let a = above.value();
        // `1 - (A + pi0(b)) = pi0(r < r_b)`, so `-log` of the mass at or above `b` keeps its
        // accuracy when that mass is close to 1 (budgets near 0).
        let kl_full = -(-c.below).ln_1p();
        if kl_full <= eps {
            if a == 0.0 {
                // The class mass is a sum that may round above 1.
                return quantilize(base, reward, c.mass.min(1.0));
            }
            let kl_at = |t: f64| {
                let q = a + t;
                -(-(c.below + (c.mass - t))).ln_1p() + (t / q) * ((t - c.mass) / c.mass).ln_1p()
            };
            let (mut lo, mut hi) = (0.0, c.mass);
            for _ in 0..BISECTION_STEPS {
                let mid = 0.5 * (lo + hi);
                if !(mid > lo && mid < hi) {
                    break;
                }
                if kl_at(mid) <= eps {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return quantilize(base, reward, (a + hi).min(1.0));
        }
        above.add(c.mass);
    }
    // Unreachable for a valid base (the lowest class has nothing below it, so its full
    // inclusion has KL 0 <= eps), kept as an error rather than a panic.
    Err(Error::Infeasible(format!(
        "no quantilizer has KL at most {eps}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::divergence::kl;

    /// `w` by its definition, summed over pairs.
    fn pairwise_values(base: &Dist, reward: &[f64]) -> Vec<f64> {
        reward
            .iter()
            .map(|&r| {
                base.support()
                    .map(|y| {
                        let p = base.prob(y);
                        if reward[y] < r {
                            p
                        } else if reward[y] == r {
                            0.5 * p
                        } else {
                            0.0
                        }
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn values_match_the_pairwise_definition_on_and_off_the_support() -> Result<()> {
        let base = Dist::new(vec![0.1, 0.0, 0.2, 0.3, 0.0, 0.4, 0.0])?;
        let reward = [2.0, 2.0, -1.0, 2.0, 5.0, 0.0, -3.0];
        let w = win_values(&base, &reward)?;
        for (a, b) in w.iter().zip(pairwise_values(&base, &reward)) {
            assert!((a - b).abs() <= 1e-16, "{w:?}");
        }
        Ok(())
    }

    /// `W(pi)` against the pairwise duel: `pi0 = (1/2, 1/2)`, `r = (0, 1)`, `pi = (0.2, 0.8)`
    /// wins `pi(1) pi0(0) = 0.4` outright and ties `pi(0) pi0(0) + pi(1) pi0(1) = 0.5`, half
    /// of which counts: `0.65`.
    #[test]
    fn the_win_rate_is_the_pairwise_duel() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        let w = win_values(&base, &[0.0, 1.0])?;
        let policy = Dist::new(vec![0.2, 0.8])?;
        // Two products and a sum: a few ulps of 0.65.
        let got = win_rate(&policy, &w)?;
        assert!((got - 0.65).abs() <= 4.0 * f64::EPSILON, "{got}");
        Ok(())
    }

    #[test]
    fn a_constant_reward_leaves_the_base() -> Result<()> {
        let base = Dist::new(vec![0.25, 0.75])?;
        let s = winrate_optimal(&base, &[1.0, 1.0], 0.3)?;
        assert_eq!(s.solution.policy.probs(), base.probs());
        assert_eq!(s.win_rate, 0.5);
        assert_eq!(s.solution.kl, 0.0);
        Ok(())
    }

    #[test]
    fn the_budget_binds_and_the_slack_case_is_the_top_class() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.3, 0.2])?;
        let reward = [0.0, 1.0, 2.0];
        let s = winrate_optimal(&base, &reward, 0.2)?;
        assert_eq!(s.regime, BudgetRegime::Binding);
        assert!((kl(&s.solution.policy, &base)? - 0.2).abs() < 1e-12);
        let top = winrate_optimal(&base, &reward, 5.0)?;
        assert_eq!(top.regime, BudgetRegime::Slack);
        assert!((top.win_rate - 0.9).abs() < 1e-15);
        assert!(top.win_rate > s.win_rate);
        Ok(())
    }

    /// On a uniform base of `n` outcomes with distinct rewards, `w_i = (i + 1/2)/n` is the
    /// midpoint rule for `U(0, 1)`, whose relative error on `int e^{a w}` (and, to first order,
    /// on the KL) is about `a^2 / (24 n^2)`: the discrete KL must agree with the closed form to
    /// within `a^2 / n^2` (a wrong closed form, e.g. one that drops its `- 1`, is off by 1).
    #[test]
    fn the_uniform_closed_form_is_the_limit_of_the_midpoint_values() -> Result<()> {
        let n = 1000;
        let base = Dist::new(vec![1.0 / n as f64; n])?;
        let reward: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let w = win_values(&base, &reward)?;
        for a in [0.5, 5.0, 40.0] {
            let t = crate::solve::tilt(&base, &w, 1.0 / a)?;
            let closed = uniform_tilt_kl(a);
            let bound = a * a / (n * n) as f64 * closed.max(1.0);
            assert!(
                (t.solution.kl - closed).abs() <= bound,
                "a {a}: {} vs {closed}",
                t.solution.kl
            );
        }
        Ok(())
    }

    /// The two branches of `uniform_tilt_kl` meet at `a = 1e-3`: the series' next term is
    /// `-a^4/960` (from the cumulants `K(a) = a/2 + a^2/24 - a^4/2880 + ...` of `U(0, 1)`,
    /// `KL = a K'(a) - K(a)`), `a^2/40 = 2.5e-8` relative; the closed form cancels `O(1)` terms
    /// down to `4e-8`, and its five roundings of about `eps` each cost up to `3e-8` relative.
    /// Bound `1e-7`. And the guess inverts the closed form: 60 bisection steps leave `ln a`
    /// within `70/2^60 = 6e-17`, which moves the KL by at most twice as much relative, and the
    /// closed form's own rounding (a few `eps` absolute) is `1e-13` relative at the smallest
    /// budget that takes it (`1e-3`, `a = 0.155`); smaller ones take the series. Bound `1e-12`.
    #[test]
    fn the_uniform_guess_inverts_the_closed_form() {
        let a: f64 = 1e-3;
        let series = a * a / 24.0;
        let one_minus = -(-a).exp_m1();
        let closed = a / one_minus - 1.0 - a - one_minus.ln() + a.ln();
        assert!(
            (series - closed).abs() <= 1e-7 * series,
            "{series} vs {closed}"
        );
        for eps in [1e-12, 1e-3, 0.5, 1.0, 5.0, 20.0] {
            let kl = uniform_tilt_kl(1.0 / uniform_value_beta(eps));
            assert!((kl - eps).abs() <= 1e-12 * eps, "eps {eps}: {kl}");
        }
    }

    /// The guess moves only where the search starts: the optimum is the plain budget search's
    /// at budgets near 0, near the slack edge and on a base with one heavy atom, where the
    /// uniform guess is far off. Each search returns a `u = ln(spread/beta)` within its
    /// stopping width `x_tol = 1e-15 + 2 eps |u|` of the root, so the two betas
    /// `spread e^{-u}` differ by at most `2 x_tol` relative plus the rounding of each `exp` and
    /// product (`4 eps` in all; measured: `7.2e-15` against a bound of `7.9e-15` at
    /// `eps = 3.9`, where `u = 5.6`), and the KL, whose
    /// logarithm moves at most twice as fast as `u` (`KL ~ Var0 e^{2u}/2` near the base),
    /// meets the budget to `2 x_tol` relative.
    #[test]
    fn the_guessed_start_finds_the_plain_search_optimum() -> Result<()> {
        let base = Dist::new(vec![0.9, 0.05, 0.03, 0.02])?;
        let reward = [0.0, 1.0, 2.0, 3.0];
        let w = win_values(&base, &reward)?;
        let spread = w[3] - w[0];
        for eps in [1e-9, 0.1, 1.0, 3.9] {
            let s = winrate_optimal(&base, &reward, eps)?;
            let plain = crate::solve::kl_budget(&base, &w, eps)?;
            let (b, p) = (s.beta.unwrap_or(0.0), plain.beta.unwrap_or(0.0));
            let x_tol = 1e-15 + 2.0 * f64::EPSILON * (spread / p).ln().abs();
            assert!(
                (b - p).abs() <= (2.0 * x_tol + 4.0 * f64::EPSILON) * p,
                "eps {eps}: {b} vs {p}"
            );
            let kl = s.solution.kl;
            assert!((kl - eps).abs() <= 2.0 * x_tol * eps, "eps {eps}: {kl}");
        }
        Ok(())
    }

    #[test]
    fn the_quantilizer_at_a_kl_meets_it_from_below() -> Result<()> {
        let base = Dist::new(vec![0.4, 0.1, 0.3, 0.2])?;
        let reward = [0.0, 1.0, 1.0, 3.0];
        for eps in [0.0, 1e-9, 0.05, 0.3, 0.9, (1.0f64 / 0.2).ln(), 4.0] {
            let q = quantilizer_at_kl(&base, &reward, eps)?;
            let d = kl(&q.solution.policy, &base)?;
            let target = eps.min((1.0f64 / 0.2).ln());
            assert!(d <= target + 1e-14, "eps {eps}: {d}");
            assert!(d >= target - 1e-12, "eps {eps}: {d}");
        }
        assert!(quantilizer_at_kl(&base, &reward, -1.0).is_err());
        Ok(())
    }
}
