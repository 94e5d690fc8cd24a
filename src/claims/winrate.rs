//! Family `bon` (win rate): the win-rate-optimal policy under a KL budget, and best-of-N
//! against the quantilizer at matched KL.
//!
//! The win rate against `pi0` (ties half) is `W(pi) = sum_x pi(x) w(x)` with the mid-rank
//! `w(x) = pi0(r < r(x)) + pi0(r = r(x))/2` ([`crate::solve::winrate`]). Every win rate in these
//! checks is recomputed pairwise from the policies ([`pairwise_win_rates`]), every KL by
//! [`crate::divergence::kl`] from the policies ([`sb::policy_kl`]).
#![doc = include_str!("../../docs/claims/winrate.md")]

use super::best_of_n::pairwise_win_rates;
use super::minimal::{drop_zero_mass, find_minimal_counterexample, SmallSpace};
use super::strategy::{self, Instance};
use super::strategy_bon::{self as sb, draws};
use super::{check_theorem, CheckConfig, Claim, Control, Deviation, Status, Verdict};
use crate::dist::Dist;
use crate::solve::winrate::{win_rate, win_values};
use crate::solve::{best_of_n, kl_budget, quantilizer_at_kl, tilt, winrate_optimal};
use proptest::prelude::*;

/// The claims of this family, in catalog order.
pub fn claims() -> Vec<Claim> {
    vec![
        Claim {
            id: "bon.winrate-optimal",
            title: "The win-rate-optimal policy under a KL budget is a tilt of the mid-rank",
            statement: "The win rate against $\\pi_0$ (ties half) is linear in $\\pi$, \
$W(\\pi) = \\sum_x \\pi(x) w(x)$ with $w(x) = \\pi_0(r < r(x)) + \\tfrac12 \\pi_0(r = r(x))$, so \
among policies with $KL(\\pi\\|\\pi_0) \\le \\epsilon$ the largest win rate is attained by the \
tilt $\\pi^* \\propto \\pi_0 e^{w/\\beta}$ with $KL(\\pi^*\\|\\pi_0) = \\epsilon$. At the KL of \
best-of-N, $W(\\pi^*) - W(P_N) = \\beta\\, KL(P_N\\|\\pi^*) \\ge 0$: best-of-N is on the frontier \
only when it is itself a tilt of $w$ ($N = 1$, at most two reward classes on the support, or a \
Lebesgue-null set of bases with three or more classes, non-empty for $N \\ge 4$).",
            sources: &[
                "Gui et al. 2024 (BoNBoN, arXiv:2406.00832)",
                "Balashankar et al. 2024 (InfAlign, arXiv:2412.19792)",
            ],
            status: Status::Theorem,
            settled: None,
            check: |c| check_winrate_optimal(c, Optimizer::WinRate),
            control: Control {
                description: "the tilt of the raw reward at the same budget in place of the \
tilt of w",
                check: |c| check_winrate_optimal(c, Optimizer::RewardTilt),
            },
        },
        Claim {
            id: "bon.vs-quantilizer",
            title: "\"At matched KL, best-of-N has a higher win rate than any quantilizer\"",
            statement: "For every finite base and reward and every $N$, the quantilizer \
$\\pi_q$ with $KL(\\pi_q\\|\\pi_0) = KL(P_N\\|\\pi_0)$ has win rate against $\\pi_0$ (ties half) \
at most that of best-of-N (read in its weak form; the strict form already fails at $N = 1$ and \
on two reward classes, where the two policies coincide).",
            sources: &["Beirami et al. 2024-25 discussion"],
            status: Status::Refuted,
            settled: Some(VS_QUANTILIZER_SETTLED),
            check: |c| check_vs_quantilizer(c, Leader::BestOfN),
            control: Control {
                description: "true variant: the win-rate-optimal tilt at best-of-N's KL in place \
of best-of-N (bon.winrate-optimal), which the same search must fail to refute",
                check: |c| check_vs_quantilizer(c, Leader::WinRateTilt),
            },
        },
    ]
}

/// How `bon.vs-quantilizer` was settled; see `proofs/bon.vs-quantilizer.md`.
pub const VS_QUANTILIZER_SETTLED: &str = "refuted: the least counterexample by (outcomes, \
distinct rewards, N in 1..=16, weights in 1..=4, rewards in 0..=3) is base [1/7, 2/7, 4/7], \
reward [1, 2, 0], N = 11 (a heavy bottom class: the quantilizer drops it, best-of-N keeps \
(4/7)^11 of it); the statement holds in the atomless limit (N/(N+1) > 1 - e^((N-1)/N)/(2N) for \
N >= 2), on two reward classes (the policies coincide) and, in our searches, for N <= 9";

/// Which policy a check puts at the budget: the claim's (the tilt of `w`) or the control's
/// (the tilt of the raw reward).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    /// [`winrate_optimal`]: the tilt of the win value `w`.
    WinRate,
    /// [`kl_budget`] on the raw reward: the expected-reward optimum.
    RewardTilt,
}

/// The policy of `which` at the KL budget `eps`, with its beta where it has one and the win
/// rate the solver reports where it reports one.
type Optimum = (Dist, Option<f64>, Option<f64>);

/// [`Optimum`] of `which` at the KL budget `eps`.
fn optimum(inst: &Instance, eps: f64, which: Optimizer) -> Result<Optimum, String> {
    let (base, reward) = (&inst.base, &inst.reward);
    match which {
        Optimizer::WinRate => winrate_optimal(base, reward, eps)
            .map(|s| (s.solution.policy, s.beta, Some(s.win_rate))),
        Optimizer::RewardTilt => {
            kl_budget(base, reward, eps).map(|s| (s.solution.policy, s.beta, None))
        }
    }
    .map_err(|e| e.to_string())
}

/// The optimum's win rate recomputed pairwise against the two the crate gives a user: the
/// solver's reported `win_rate` (where it reports one) and [`win_rate`] of the optimum's policy
/// with the [`win_values`], each to [`win_tolerance`] of the optimum's mass defect.
fn reported_win_rates(
    inst: &Instance,
    opt: &Dist,
    reported: Option<f64>,
) -> Result<Deviation, String> {
    let pairwise = pairwise_win_rates(inst, opt).0;
    let tol = win_tolerance(sb::mass_defect(opt));
    let values = win_values(&inst.base, &inst.reward).map_err(|e| e.to_string())?;
    let by_values = win_rate(opt, &values).map_err(|e| e.to_string())?;
    let mut dev = Deviation::new((by_values - pairwise).abs(), tol);
    if let Some(w) = reported {
        dev = dev.worst(Deviation::new((w - pairwise).abs(), tol));
    }
    Ok(dev)
}

/// The budget given to the optimum when it is compared with a policy whose KL was recomputed
/// as `k`: widened by the recomputation's error (`1e-9 k` for the sums, plus [`sb::KL_FLOOR`]
/// and twice the policy's mass defect), so that the optimum's budget is at least the policy's
/// true KL and the comparison needs no slope of the frontier (which is unbounded near KL 0).
fn widened(k: f64, defect: f64) -> f64 {
    k + 1e-9 * k + sb::KL_FLOOR + 2.0 * defect
}

/// The budget given to a quantilizer matched to a policy whose KL was recomputed as `k`:
/// narrowed by the same error as [`widened`], so that the quantilizer never gets more KL than the
/// policy truly has (its win rate grows like the square root of a KL near 0, so an excess of
/// `1e-17` in the budget would move it by `~1e-9`).
fn narrowed(k: f64, defect: f64) -> f64 {
    (k - (1e-9 * k + sb::KL_FLOOR + 2.0 * defect)).max(0.0)
}

/// `w` summed over pairs of outcomes from its definition (independently of the solver's class
/// walk).
fn pairwise_values(inst: &Instance) -> Vec<f64> {
    inst.reward
        .iter()
        .map(|&r| {
            crate::numeric::sum(inst.base.support().map(|y| {
                let p = inst.base.prob(y);
                if inst.reward[y] < r {
                    p
                } else if inst.reward[y] == r {
                    0.5 * p
                } else {
                    0.0
                }
            }))
        })
        .collect()
}

/// Bisection steps on `log(1/beta)` and on mixing weights: the brackets shrink to below the
/// spacing of doubles.
const STEPS: usize = 200;

/// The largest `x` in `[lo, hi]` (to bisection accuracy) with `kl_at(x) <= eps`, for
/// `kl_at` non-decreasing, and the policy there; `lo` must be feasible.
fn bisect_budget(
    inst: &Instance,
    eps: f64,
    (mut lo, mut hi): (f64, f64),
    policy_at: impl Fn(f64) -> Result<Dist, String>,
) -> Result<Dist, String> {
    let feasible =
        |x: f64| -> Result<bool, String> { Ok(sb::policy_kl(inst, &policy_at(x)?)? <= eps) };
    if feasible(hi)? {
        return policy_at(hi);
    }
    for _ in 0..STEPS {
        let mid = 0.5 * (lo + hi);
        if !(mid > lo && mid < hi) {
            break;
        }
        if feasible(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    policy_at(lo)
}

/// The tilt of the pairwise `w` with recomputed KL at most `eps`, found by bisection on
/// `s = log(1/beta)` in `[-40, 700]` with [`tilt`] (a root finder independent of the budget
/// solver's Newton iteration).
fn independent_winrate_tilt(inst: &Instance, eps: f64) -> Result<Dist, String> {
    let w = pairwise_values(inst);
    bisect_budget(inst, eps, (-40.0, 700.0), |s| {
        tilt(&inst.base, &w, (-s).exp())
            .map(|t| t.solution.policy)
            .map_err(|e| e.to_string())
    })
}

/// `(1 - t) pi0 + t pi_r` with `pi_r` proportional to `weights` on the support of `pi0`, at the
/// largest `t` in `[0, 1]` whose recomputed KL is at most `eps` (the KL is convex in `t` and 0 at
/// `t = 0`, so non-decreasing); `pi0` if the weights vanish on the support.
fn random_policy_in_budget(inst: &Instance, weights: &[f64], eps: f64) -> Result<Dist, String> {
    let n = inst.base.len();
    let raw: Vec<f64> = (0..n)
        .map(|x| {
            if inst.base.in_support(x) {
                weights[x % weights.len()]
            } else {
                0.0
            }
        })
        .collect();
    let Ok(direction) = Dist::from_weights(raw) else {
        return Ok(inst.base.clone());
    };
    bisect_budget(inst, eps, (0.0, 1.0), |t| {
        let mix = (0..n)
            .map(|x| (1.0 - t) * inst.base.prob(x) + t * direction.prob(x))
            .collect();
        Dist::from_weights(mix).map_err(|e| e.to_string())
    })
}

/// `W(pi) - 1/2` recomputed pairwise (the gain over `pi0`, whose win rate is exactly 1/2), and
/// the policy's mass defect.
fn gain(inst: &Instance, pi: &Dist) -> (f64, f64) {
    (pairwise_win_rates(inst, pi).0 - 0.5, sb::mass_defect(pi))
}

/// Tolerance of a win-rate comparison between two policies: compensated pairwise sums of at
/// most 36 products (`4 eps`), the budget solver's KL accuracy (`~1e-15` relative, which moves
/// the optimum's win rate by far less than `1e-12`), and the mass defects of both policies
/// (`W` scales with the total mass).
fn win_tolerance(defects: f64) -> f64 {
    1e-12 + defects
}

/// One competitor `pi` against the optimum at `pi`'s recomputed KL (widened, [`widened`]): the
/// optimum's recomputed KL is within that budget (to `1e-9` of it plus twice [`sb::KL_FLOOR`]:
/// the budget solver meets its target to the rounding of its own KL sums, and the recomputation
/// adds its own; at budgets near the floor both are of that size) and its
/// recomputed gain `W - 1/2` is at least `pi`'s, to [`win_tolerance`]. Returns the deviation and
/// the optimum with its beta and budget.
fn against_optimum(
    inst: &Instance,
    pi: &Dist,
    which: Optimizer,
) -> Result<(Deviation, Dist, Option<f64>, f64), String> {
    let (k, defect) = (sb::policy_kl(inst, pi)?, sb::mass_defect(pi));
    let budget = widened(k, defect);
    let (opt, beta, reported) = optimum(inst, budget, which)?;
    let (opt_kl, opt_defect) = (sb::policy_kl(inst, &opt)?, sb::mass_defect(&opt));
    let mut within = Deviation::at_most(
        opt_kl,
        budget,
        1e-9 * budget + 2.0 * sb::KL_FLOOR + 2.0 * opt_defect,
    );
    within.tightness = None;
    let (g_pi, _) = gain(inst, pi);
    let (g_opt, _) = gain(inst, &opt);
    let tol = win_tolerance(defect + opt_defect);
    let mut better = Deviation::at_most(g_pi, g_opt, tol);
    if !(g_opt > 1e6 * tol) {
        // A gain within a millionfold of its rounding: the ratio is no measure of tightness.
        better.tightness = None;
    }
    let reported = reported_win_rates(inst, &opt, reported)?;
    Ok((within.worst(better).worst(reported), opt, beta, budget))
}

/// The identity behind the theorem for best-of-N: with `pi*` the tilt of `w` at beta and
/// `KL(pi*) = K*`, `W(pi*) - W(P_N) = beta (K* - KL(P_N) + KL(P_N||pi*))`, all recomputed from the
/// policies (`KL(P_N||pi*)` from the log views where a mass underflows in the linear one; not
/// evaluated where the optimum's mass underflows in both views).
/// Tolerance: the win-rate tolerance, plus beta times the error of the three
/// recomputed KLs (`3` [`sb::KL_FLOOR`] `+ 1e-12 (K* + KL(P_N))` and the mass defects).
fn gap_identity(inst: &Instance, bon: &Dist, opt: &Dist, beta: f64) -> Result<Deviation, String> {
    let (g_bon, d_bon) = gain(inst, bon);
    let (g_opt, d_opt) = gain(inst, opt);
    let (k_bon, k_opt) = (sb::policy_kl(inst, bon)?, sb::policy_kl(inst, opt)?);
    let fresh = |p: &Dist| Dist::from_weights(p.probs().to_vec()).map_err(|e| e.to_string());
    let mut cross = crate::divergence::kl(&fresh(bon)?, &fresh(opt)?).map_err(|e| e.to_string())?;
    if !cross.is_finite() {
        // The optimum's mass underflows in the linear view where best-of-N's does not (a top
        // outcome buried under a base mass of 1e-295, or a low class at w/beta = -2000): its
        // log view may still hold it.
        cross = crate::divergence::kl(bon, opt).map_err(|e| e.to_string())?;
    }
    if !cross.is_finite() {
        // Not even the log view holds it: the identity cannot be evaluated in floating point
        // on this instance (the competitor comparisons still apply).
        return Ok(Deviation::new(0.0, 0.0));
    }
    let rhs = beta * (k_opt - k_bon + cross);
    let kl_error = 3.0 * sb::KL_FLOOR + 1e-12 * (k_opt + k_bon) + 2.0 * (d_bon + d_opt);
    let tol = win_tolerance(d_bon + d_opt) + beta * kl_error;
    Ok(Deviation::new((g_opt - g_bon - rhs).abs(), tol))
}

/// A case of `bon.winrate-optimal`: an instance (1..=6 outcomes), N, and the weights of a
/// random policy.
type OptimalCase = (Instance, u64, Vec<f64>);

/// Per case, with `d` the KL of best-of-N recomputed from its policy: the competitors are
/// best-of-N, the quantilizer at KL `d` ([`quantilizer_at_kl`]), the tilt of the raw reward at
/// budget `d`, a random policy mixed with `pi0` into the budget, and the tilt of the pairwise
/// `w` matched to `d` by bisection ([`independent_winrate_tilt`]). Each is compared with the
/// optimum of `which` at its own recomputed KL ([`against_optimum`]); for best-of-N the gap
/// identity ([`gap_identity`]) holds where the optimum has a beta. `which` is the tilt of `w`
/// for the claim and the tilt of the raw reward for the control, which the independent tilt of
/// `w` beats wherever the reward is not an affine function of `w` on the support (three or more
/// classes, in general), and which fails the gap identity there.
fn check_winrate_optimal(config: &CheckConfig, which: Optimizer) -> Verdict {
    let strat = (
        strategy::instance(1..=6),
        draws(),
        proptest::collection::vec(0.0f64..1.0, 6),
    );
    check_theorem(config, strat, |(inst, n, weights): &OptimalCase| {
        let b = best_of_n(&inst.base, &inst.reward, *n).map_err(|e| e.to_string())?;
        let bon = b.solution.policy;
        let d = sb::policy_kl(inst, &bon)?;
        let quant = quantilizer_at_kl(&inst.base, &inst.reward, d).map_err(|e| e.to_string())?;
        let reward_tilt = kl_budget(&inst.base, &inst.reward, d).map_err(|e| e.to_string())?;
        let competitors = [
            quant.solution.policy,
            reward_tilt.solution.policy,
            random_policy_in_budget(inst, weights, d)?,
            independent_winrate_tilt(inst, d)?,
        ];
        let (mut dev, opt, beta, _) = against_optimum(inst, &bon, which)?;
        if let Some(beta) = beta {
            dev = dev.worst(gap_identity(inst, &bon, &opt, beta)?);
        }
        for pi in &competitors {
            dev = dev.worst(against_optimum(inst, pi, which)?.0);
        }
        Ok(dev)
    })
}

/// Which policy `bon.vs-quantilizer` sets against the quantilizer at best-of-N's KL: best-of-N
/// (the claim) or the win-rate-optimal tilt at that KL (the control's true variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leader {
    /// Best-of-N itself.
    BestOfN,
    /// The tilt of `w` at best-of-N's KL (widened by its recomputation error).
    WinRateTilt,
}

/// Whether the quantilizer at best-of-N's KL (`d`, recomputed from best-of-N's policy) has a
/// win rate at most the leader's, both recomputed pairwise from the policies, to `1e-12` plus
/// the mass defects. The quantilizer gets the budget `d` narrowed by its recomputation error
/// (`1e-9 d` plus `16 eps` plus twice the mass defect) and [`quantilizer_at_kl`] meets it from
/// below, so it never has more KL than best-of-N (a counterexample is one even with that
/// handicap).
pub fn vs_quantilizer_holds(inst: &Instance, n: u64, leader: Leader) -> Result<bool, String> {
    let b = best_of_n(&inst.base, &inst.reward, n).map_err(|e| e.to_string())?;
    let bon = b.solution.policy;
    let (d, defect) = (sb::policy_kl(inst, &bon)?, sb::mass_defect(&bon));
    let lead = match leader {
        Leader::BestOfN => bon,
        Leader::WinRateTilt => optimum(inst, widened(d, defect), Optimizer::WinRate)?.0,
    };
    let quant = quantilizer_at_kl(&inst.base, &inst.reward, narrowed(d, defect))
        .map_err(|e| e.to_string())?;
    let (g_lead, d_lead) = gain(inst, &lead);
    let (g_quant, d_quant) = gain(inst, &quant.solution.policy);
    Ok(g_quant <= g_lead + win_tolerance(d_lead + d_quant))
}

/// The search space of `bon.vs-quantilizer`: small integer instances of 1..=6 outcomes, N in
/// `1..=16`, half the time in `10..=16` (counterexamples need a heavy low class and N of about
/// 10 or more).
pub fn vs_quantilizer_strategy() -> impl Strategy<Value = (Instance, u64)> {
    (
        sb::integer_instance(1..=6),
        prop_oneof![1 => 1u64..=16, 1 => 10u64..=16],
    )
}

/// The small space of `bon.vs-quantilizer`: `(instance, N)` with `N` in `1..=16`.
pub const VS_QUANTILIZER: SmallSpace<(Instance, u64)> = SmallSpace {
    parameter: "N in 1..=16",
    values: |_| 16,
    build: |inst, i| (inst, i as u64 + 1),
    reduce: |(inst, n)| drop_zero_mass(inst).map(|(i, _)| (i, *n)),
    outcomes: |(inst, _)| inst.base.len(),
};

/// The two-stage least-counterexample search ([`find_minimal_counterexample`]) for `leader`.
fn check_vs_quantilizer(config: &CheckConfig, leader: Leader) -> Verdict {
    find_minimal_counterexample(
        config,
        vs_quantilizer_strategy(),
        |(inst, n)| vs_quantilizer_holds(inst, *n, leader),
        VS_QUANTILIZER,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_winrate_claim_passes_a_short_run() {
        crate::claims::assert_short_run_passes(&claims(), 32, 3);
    }

    #[test]
    fn controls_are_rejected_at_several_seeds_and_small_budgets() {
        for claim in claims() {
            for seed in 0..8 {
                for cases in [32, 256] {
                    let outcome = claim.control.run(&CheckConfig::new(cases, seed));
                    assert!(outcome.rejected, "{} seed {seed} cases {cases}", claim.id);
                }
            }
        }
    }

    #[test]
    fn the_least_counterexample_is_the_same_at_every_seed() {
        let seventh = 1.0f64 / 7.0;
        let expected = format!(
            "(base=[{seventh:?}, {:?}, {:?}] reward=[1.0, 2.0, 0.0], 11)",
            2.0 / 7.0,
            4.0 / 7.0
        );
        for seed in 0..6 {
            let v = check_vs_quantilizer(&CheckConfig::new(256, seed), Leader::BestOfN);
            assert!(v.passed, "seed {seed}: {v:?}");
            assert_eq!(
                v.counterexample.as_deref(),
                Some(expected.as_str()),
                "seed {seed}"
            );
        }
    }

    /// On two reward classes best-of-N is a tilt of `w`, so it sits on the frontier: the gap
    /// `W(pi*) - W(P_N)` vanishes to rounding.
    #[test]
    fn best_of_n_is_on_the_frontier_with_two_classes() -> Result<(), String> {
        let inst = Instance {
            base: Dist::new(vec![0.3, 0.7]).map_err(|e| e.to_string())?,
            reward: vec![1.0, 0.0],
        };
        let b = best_of_n(&inst.base, &inst.reward, 5).map_err(|e| e.to_string())?;
        let (dev, opt, _, _) = against_optimum(&inst, &b.solution.policy, Optimizer::WinRate)?;
        assert!(dev.ok());
        let gap = gain(&inst, &opt).0 - gain(&inst, &b.solution.policy).0;
        assert!(gap.abs() < 1e-9, "{gap}");
        Ok(())
    }
}
