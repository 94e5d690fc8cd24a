//! Family `bon`: best-of-N.
//!
//! Best-of-N draws N iid outputs from `pi0` and returns one of highest reward, ties broken
//! uniformly among the tied draws. The exact law is [`crate::solve::best_of_n()`].
#![doc = include_str!("../../docs/claims/best_of_n.md")]

use super::strategy::{self, Instance};
use super::strategy_bon::{self as sb, draws};
use super::{
    check_model_cases, check_theorem, CheckConfig, Claim, Control, Deviation, Status, Verdict,
};
use crate::numeric::CompensatedSum;
use crate::solve::best_of_n::{best_of_n, kl_bound, BestOfN};
use crate::solve::kl_budget;
use proptest::prelude::*;

/// The claims of this family, in catalog order.
pub fn claims() -> Vec<Claim> {
    vec![
        Claim {
            id: "bon.exact",
            title: "The exact best-of-N law with reward ties",
            statement: "On a finite support with reward classes $C$, \
$P_N(x) = \\frac{\\pi_0(x)}{\\pi_0(C)}\\big(F(C)^N - F(C^-)^N\\big)$ for $x \\in C$, where \
$F(C) = \\pi_0(r \\le r_C)$ and $F(C^-) = \\pi_0(r < r_C)$.",
            sources: &["Beirami et al. 2024"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_exact(c, 0),
            control: Control {
                description: "solver perturbed: P_{N+1} from the solver against brute force at N",
                check: |c| check_exact(c, 1),
            },
        },
        Claim {
            id: "bon.kl-bound",
            title: "KL of best-of-N is at most log N - (N-1)/N",
            statement: "For every finite $\\pi_0$, reward $r$ and $N \\ge 1$: \
$KL(P_N\\|\\pi_0) \\le \\log N - (N-1)/N$.",
            sources: &["Beirami et al. 2024"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_kl_bound(c, 1.0),
            control: Control {
                description: "bound tightened by 1%: KL <= 0.99 (log N - (N-1)/N)",
                check: |c| check_kl_bound(c, 0.99),
            },
        },
        Claim {
            id: "bon.kl-formula",
            title: "\"KL(BoN||pi0) = log N - (N-1)/N\" as an equality",
            statement: "The widely quoted $KL(P_N\\|\\pi_0) = \\log N - (N-1)/N$, read as an equality \
for every base and reward.",
            sources: &[
                "Stiennon et al. 2020",
                "Gao et al. 2022",
                "refuted by Beirami et al. 2024",
            ],
            status: Status::Refuted,
            settled: None,
            check: check_kl_formula,
            control: Control {
                description: "true variant: KL <= log N - (N-1)/N, which the same search must \
fail to refute",
                check: check_kl_formula_control,
            },
        },
        Claim {
            id: "bon.winrate",
            title: "Best-of-N beats a fresh base sample with probability at most N/(N+1)",
            statement: "$P(r(Y) > r(X)) + \\tfrac12 P(r(Y) = r(X)) \\le N/(N+1)$ for $Y \\sim P_N$, \
$X \\sim \\pi_0$ independent; on every finite support the inequality is strict for $N \\ge 2$.",
            sources: &["Beirami et al. 2024 (Thm 5.3)", "Gui et al. 2024"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_winrate(c, 1.0),
            control: Control {
                description: "bound tightened by 0.1%: W <= 0.999 N/(N+1)",
                check: |c| check_winrate(c, 0.999),
            },
        },
        Claim {
            id: "bon.kl-gap",
            title: "The bound is tight up to 2N(N-1) sum pi0^2",
            statement: "With pairwise distinct rewards on the support, \
$(\\log N - (N-1)/N) - KL(P_N\\|\\pi_0) \\le 2N(N-1)\\sum_x \\pi_0(x)^2$.",
            sources: &["Beirami et al. 2024 (Thm 3.4, as read from secondary notes)"],
            status: Status::Theorem,
            settled: Some(
                "by proof (proofs/bon.kl-gap.md): the gap is at most N^2 sum_C pi0(C)^2 F(C)^(N-2), \
which is at most 2N(N-1) sum_x pi0(x)^2 for N >= 2 and distinct rewards; the gap is 0 at N = 1",
            ),
            check: |c| check_kl_gap(c, 1.0),
            control: Control {
                description: "both bounds scaled by 0.04: gap <= 0.04 N^2 sum_C pi0(C)^2 F(C)^(N-2) \
(the search reaches 0.048)",
                check: |c| check_kl_gap(c, GAP_CONTROL_SCALE),
            },
        },
        Claim {
            id: "bon.kl-estimator",
            title: "Beirami et al.'s KL estimator over-estimates the KL",
            statement: "With $\\epsilon = \\pi_0(Y)$ for the selected output $Y \\sim P_N$ and \
$D(\\epsilon) = (1-\\epsilon)^N[\\log N + (N-1)\\log(1-\\epsilon) - \\tfrac{N-1}{N}] + \
(1-(1-\\epsilon)^N)\\log\\frac{1-(1-\\epsilon)^N}{\\epsilon}$: $E[D(\\epsilon)] \\ge KL(P_N\\|\\pi_0)$.",
            sources: &["Beirami et al. 2024 (Conjecture 4.4)"],
            status: Status::Conjecture,
            settled: Some(ESTIMATOR_SEARCH),
            check: |c| check_kl_estimator(c, 1.0),
            control: Control {
                description: "tightened (false) version the same search must refute: \
KL <= 0.999 E[D]",
                check: |c| check_kl_estimator(c, 0.999),
            },
        },
        Claim {
            id: "bon.unbiased-estimator",
            title: "The order-statistic estimator of best-of-N reward is unbiased",
            statement: "For $M \\ge N$ iid draws from $\\pi_0$ with rewards sorted increasingly \
$r_{(1)} \\le \\dots \\le r_{(M)}$ (ties in any order): \
$E\\big[\\sum_{i=1}^M \\binom{i-1}{N-1} r_{(i)} / \\binom{M}{N}\\big] = E_{P_N}[r]$.",
            sources: &["Nakano et al. 2021", "reproductions of Gao et al. 2022"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_unbiased_estimator(c, 0),
            control: Control {
                description: "law perturbed: the estimator for N against E[r] under P_{N+1}",
                check: |c| check_unbiased_estimator(c, 1),
            },
        },
        Claim {
            id: "bon.tilt-dominates",
            title: "The tilt is at least as KL-efficient as best-of-N",
            statement: "At equal expected reward the tilt has $KL(\\cdot\\|\\pi_0)$ no larger than \
best-of-N; at equal KL its expected reward is no smaller.",
            sources: &[
                "Gibbs variational principle",
                "contrast: Gao et al. 2022 (trained RL policies sit at larger KL than BoN)",
            ],
            status: Status::Theorem,
            settled: None,
            check: |c| check_tilt_dominates(c, 1.0),
            control: Control {
                description: "bound tightened by 0.1%: KL(tilt) <= 0.999 KL(best-of-N) at equal reward",
                check: |c| check_tilt_dominates(c, 0.999),
            },
        },
        Claim {
            id: "bon.nats",
            title: "Best-of-floor(e^30) spends at most log N - (N-1)/N = 29 + 5.0e-14 nats",
            statement: "The KL spent by best-of-N grows like $\\log N$: for $N = \\lfloor e^{30} \\rfloor$ \
the bound is $29 + 5.0\\cdot 10^{-14}$ nats, and the exact KL on bases of $10$, $1000$ and $10^6$ \
uniform outcomes is below it (and below $\\log |X|$).",
            sources: &["[S0] Shlegeris 2022, comment thread (30 nats vs best-of-exp(30))"],
            status: Status::Model,
            settled: None,
            check: |_| check_nats(NATS_EXCESS),
            control: Control {
                description: "figure moved by one unit in its last certified digit (the 1e-15 place): \
bound 29 + 5.13e-14",
                check: |_| check_nats(NATS_EXCESS + 1e-15),
            },
        },
    ]
}

/// How hard `bon.kl-estimator` was searched; see `proofs/bon.kl-estimator.md`.
pub const ESTIMATOR_SEARCH: &str = "open, no counterexample found: the default check (seed 0, \
256 cases) and the heavy search (tests/bon_heavy.rs, run with --ignored: seeds 1..=64 x \
32768 cases = 2,097,152 instances of 1..=8 outcomes with zeros, masses down to 1e-300, reward \
ties or pairwise distinct rewards, N from 1 to 1e15) all satisfy E[D] >= KL; the largest excess \
KL - E[D] seen is 9.9e-14, rounding of sums of size up to 35 (tolerance 1e-12 max(1, log N - \
(N-1)/N))";

fn solve(inst: &Instance, n: u64) -> Result<BestOfN, String> {
    best_of_n(&inst.base, &inst.reward, n).map_err(|e| e.to_string())
}

/// Advances `tuple` (digits in `0..base`) to the next tuple in lexicographic order, least
/// significant digit first; false after the last one.
fn next_tuple(tuple: &mut [usize], base: usize) -> bool {
    for digit in tuple.iter_mut() {
        *digit += 1;
        if *digit < base {
            return true;
        }
        *digit = 0;
    }
    false
}

/// `P_N` by enumerating all `|X|^N` draw tuples, with the uniform tie-break applied literally:
/// a tuple whose maximum reward is attained at `k` positions gives each of them `1/k`.
pub fn brute_force(inst: &Instance, n: u32) -> Vec<f64> {
    let m = inst.base.len();
    let mut out = vec![CompensatedSum::new(); m];
    let mut tuple = vec![0usize; n as usize];
    loop {
        let prob: f64 = tuple.iter().map(|&i| inst.base.prob(i)).product();
        if prob > 0.0 {
            let best = tuple
                .iter()
                .map(|&i| inst.reward[i])
                .fold(f64::NEG_INFINITY, f64::max);
            let winners: Vec<usize> = tuple
                .iter()
                .copied()
                .filter(|&i| inst.reward[i] == best)
                .collect();
            let share = prob / winners.len() as f64;
            for i in winners {
                out[i].add(share);
            }
        }
        if !next_tuple(&mut tuple, m) {
            break;
        }
    }
    out.iter().map(CompensatedSum::value).collect()
}

/// The largest enumeration [`law_against_brute_force`] runs: `|X|^N <= 4096` tuples.
const BRUTE_FORCE_TUPLES: u64 = 4096;

/// The largest N [`law_against_brute_force`] enumerates.
const BRUTE_FORCE_MAX_N: u32 = 12;

/// The solver's policy against [`brute_force`] at `n` draws, outcome by outcome, where the
/// enumeration has at most [`BRUTE_FORCE_TUPLES`] tuples and N is at most
/// [`BRUTE_FORCE_MAX_N`] (else no comparison): relative error
/// `1e-12` (the enumeration adds at most 4096 products of N factors, each exact to `(N+1) eps`,
/// with compensated sums; the solver's log-space formula is exact to `~10 eps`), with an
/// absolute floor `1e-290` below which products of tiny masses underflow in the enumeration.
fn law_against_brute_force(inst: &Instance, policy: &crate::Dist, n: u64) -> Deviation {
    let mut dev = Deviation::new(0.0, 0.0);
    // N itself is bounded too: on one outcome every N gives a single tuple of length N.
    let small = u32::try_from(n).ok().filter(|&n32| {
        n32 <= BRUTE_FORCE_MAX_N
            && (inst.base.len() as u64)
                .checked_pow(n32)
                .is_some_and(|t| t <= BRUTE_FORCE_TUPLES)
    });
    if let Some(n32) = small {
        for (got, want) in policy.probs().iter().zip(&brute_force(inst, n32)) {
            dev = dev.worst(Deviation::close(*got, *want, 1e-12, 1e-290));
        }
    }
    dev
}

/// Against brute-force enumeration (N <= 5, up to 5 outcomes), with the tolerance of
/// [`law_against_brute_force`]. `extra` is added to N in the solver only (0 for the claim; 1 for
/// the control, which must fail wherever two reward classes carry mass).
fn check_exact(config: &CheckConfig, extra: u64) -> Verdict {
    let strat = (strategy::instance(1..=5), 1u64..=5);
    check_theorem(config, strat, |(inst, n)| {
        let b = solve(inst, n + extra)?;
        Ok(law_against_brute_force(inst, &b.solution.policy, *n))
    })
}

/// Tolerance for comparisons with the bound: `1e-12 max(1, bound)`. The KL is a compensated
/// sum of `P(C) (log P(C) - log pi0(C))`, whose logs carry rounding `~eps |N log F| <= 1e-13`
/// relative at N <= 1e15 where `P(C)` is representable.
fn bound_tolerance(n: u64) -> f64 {
    1e-12 * kl_bound(n).max(1.0)
}

/// `KL(P||pi0)` recomputed from a policy a solver returned ([`sb::policy_kl`]).
fn recomputed_kl(inst: &Instance, policy: &crate::Dist) -> Result<f64, String> {
    sb::policy_kl(inst, policy)
}

/// Per instance (small ones of 1..=8 outcomes, or large bases of `10^3..10^6` outcomes where
/// the KL comes within `O(N/n)` of the bound): the KL recomputed by [`kl`] from the returned
/// policy is at most `factor (log N - (N-1)/N)` ([`bound_tolerance`]), and where `|X|^N <=
/// 4096` the policy is the brute-force law. `factor` is 1 for the claim, below 1 for the
/// control.
fn check_kl_bound(config: &CheckConfig, factor: f64) -> Verdict {
    let strat = (sb::with_large(strategy::instance(1..=8)), draws());
    check_theorem(config, strat, |(case, n)| {
        let inst = case.instance()?;
        let b = solve(&inst, *n)?;
        let d = recomputed_kl(&inst, &b.solution.policy)?;
        Ok(
            Deviation::at_most(d, factor * kl_bound(*n), bound_tolerance(*n))
                .worst(law_against_brute_force(&inst, &b.solution.policy, *n)),
        )
    })
}

/// Whether `KL(P_N||pi0) = log N - (N-1)/N` holds on `(instance, N)`, to `1e-9` relative.
pub fn kl_formula_holds(inst: &Instance, n: u64) -> Result<bool, String> {
    let b = solve(inst, n)?;
    Ok((b.solution.kl - b.kl_bound).abs() <= 1e-9 * b.kl_bound.max(1.0))
}

/// The search space of `bon.kl-formula`: small integer instances and `N` in `1..=8`.
pub fn kl_formula_strategy() -> impl Strategy<Value = (Instance, u64)> {
    (sb::integer_instance(1..=4), 1u64..=8)
}

fn check_kl_formula(config: &CheckConfig) -> Verdict {
    super::minimal::find_minimal_counterexample(
        config,
        kl_formula_strategy(),
        |(inst, n)| kl_formula_holds(inst, *n),
        super::minimal::KL_FORMULA,
    )
}

/// Whether the true inequality `KL(P_N||pi0) <= log N - (N-1)/N` holds on `(instance, N)`, with
/// the KL recomputed from the policy, to the `1e-9` relative of [`kl_formula_holds`].
pub fn kl_formula_inequality_holds(inst: &Instance, n: u64) -> Result<bool, String> {
    let b = solve(inst, n)?;
    let d = recomputed_kl(inst, &b.solution.policy)?;
    Ok(d <= kl_bound(n) + 1e-9 * kl_bound(n).max(1.0))
}

/// The control of `bon.kl-formula`: the same two-stage search (random and shrunk over
/// [`kl_formula_strategy`], then exhaustive over the small space) for a counterexample to the
/// true inequality; it must find none (the verdict then does not pass, and the control is
/// rejected).
fn check_kl_formula_control(config: &CheckConfig) -> Verdict {
    super::minimal::find_minimal_counterexample(
        config,
        kl_formula_strategy(),
        |(inst, n)| kl_formula_inequality_holds(inst, *n),
        super::minimal::KL_FORMULA,
    )
}

/// `(P(r(Y) > r(X)) + P(r(Y) = r(X))/2, P(r(Y) > r(X)))` for independent `Y ~ policy` and
/// `X ~ pi0`, summed over all pairs of outcomes (compensated).
pub fn pairwise_win_rates(inst: &Instance, policy: &crate::Dist) -> (f64, f64) {
    let (mut half, mut strict) = (CompensatedSum::new(), CompensatedSum::new());
    for y in policy.support() {
        for x in inst.base.support() {
            let p = policy.prob(y) * inst.base.prob(x);
            if inst.reward[y] > inst.reward[x] {
                half.add(p);
                strict.add(p);
            } else if inst.reward[y] == inst.reward[x] {
                half.add(0.5 * p);
            }
        }
    }
    (half.value(), strict.value())
}

/// Per instance: the win rates recomputed pairwise from the returned policy and the base
/// ([`pairwise_win_rates`]; the policy itself checked against brute force where `|X|^N <=
/// 4096`): `W <= factor N/(N+1)` to `4 eps` (compensated sums of at most 64 products) plus the
/// mass defects `|sum P - 1| + |sum pi0 - 1|` of the two distributions (each mass is the
/// exponential of a rounded logarithm, so the total misses 1 by a few `eps`, and `W` scales
/// with it),
/// strict rate `<= W` exactly, and `W < factor N/(N+1)` in floating point for `2 <= N <= 10^6`
/// (the true gap exceeds rounding there on supports of at most 8 outcomes; see the proof).
/// `factor` is 1 for the claim, below 1 for the control.
fn check_winrate(config: &CheckConfig, factor: f64) -> Verdict {
    check_theorem(config, (strategy::instance(1..=8), draws()), |(inst, n)| {
        let b = solve(inst, *n)?;
        let (half, strict) = pairwise_win_rates(inst, &b.solution.policy);
        let nf = *n as f64;
        let bound = factor * nf / (nf + 1.0);
        let defect = |d: &crate::Dist| (crate::numeric::sum(d.probs().iter().copied()) - 1.0).abs();
        let tol = 4.0 * f64::EPSILON + defect(&b.solution.policy) + defect(&inst.base);
        let mut dev = Deviation::at_most(half, bound, tol);
        let mut strict_dev = Deviation::at_most(strict, half, 0.0);
        strict_dev.tightness = None;
        dev = dev.worst(strict_dev);
        if *n >= 2 && *n <= 1_000_000 {
            dev = dev.worst(Deviation::exact(half < bound));
        }
        Ok(dev.worst(law_against_brute_force(inst, &b.solution.policy, *n)))
    })
}

/// The scale of both bounds in the control of `bon.kl-gap`: the largest ratio of the gap to
/// the sharper bound is `(log 2 - 1/2)/4 = 0.0483` (N = 2, one class holding almost all the
/// mass below a light top class), which the search reaches; 0.04 is below it.
const GAP_CONTROL_SCALE: f64 = 0.04;

/// The sharper bound of the proof, `N^2 sum_C pi0(C)^2 F(C)^(N-2)` for `N >= 2` (0 at `N = 1`,
/// where the gap is 0), from the classes of the support sorted by reward. `F(C)^(N-2)` is
/// `exp((N-2) log F(C))` with `log F(C) = log1p(-pi0(r > r_C))` (the upper tail summed from the
/// top, accurate when `F(C)` is near 1, where the terms matter at large N) when that tail is
/// below 1/2, else `log(pi0(r < r_C) + pi0(C))` (summed from the bottom, so that `F(C)` stays
/// positive when it is tiny).
pub fn sharp_gap_bound(inst: &Instance, n: u64) -> f64 {
    if n < 2 {
        return 0.0;
    }
    let mut support: Vec<(f64, f64)> = inst
        .base
        .support()
        .map(|x| (inst.reward[x], inst.base.prob(x)))
        .collect();
    support.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut masses = Vec::new();
    let mut k = 0;
    while k < support.len() {
        let mut class = CompensatedSum::new();
        let reward = support[k].0;
        while k < support.len() && support[k].0 == reward {
            class.add(support[k].1);
            k += 1;
        }
        masses.push(class.value());
    }
    let mut below = vec![0.0; masses.len()];
    let mut running = CompensatedSum::new();
    for (b, m) in below.iter_mut().zip(&masses) {
        *b = running.value();
        running.add(*m);
    }
    let nf = n as f64;
    let (mut total, mut above) = (CompensatedSum::new(), CompensatedSum::new());
    for (m, b) in masses.iter().zip(&below).rev() {
        let tail = above.value();
        let log_f = if tail < 0.5 {
            (-tail).ln_1p()
        } else {
            (b + m).ln()
        };
        total.add(nf * nf * m * m * ((nf - 2.0) * log_f).exp());
        above.add(*m);
    }
    total.value()
}

/// Per instance with distinct rewards (small ones of 1..=8 outcomes, or large bases of
/// `10^3..10^6` outcomes, where the catalog's bound `2N(N-1) sum pi0^2` is below
/// `log N - (N-1)/N` for moderate N, so that a solver reporting KL = 0 fails): the gap
/// `log N - (N-1)/N - KL`, with the KL recomputed from the policy, is at most `scale` times
/// the catalog's bound and at most `scale` times the sharper bound of the proof
/// ([`sharp_gap_bound`]), to [`bound_tolerance`]. `scale` is 1 for the claim and
/// [`GAP_CONTROL_SCALE`] for the control.
fn check_kl_gap(config: &CheckConfig, scale: f64) -> Verdict {
    let strat = (sb::with_large(sb::distinct_instance(1..=8)), gap_draws());
    check_theorem(config, strat, |(case, n)| {
        let inst = case.instance()?;
        let b = solve(&inst, *n)?;
        let gap = kl_bound(*n) - recomputed_kl(&inst, &b.solution.policy)?;
        let nf = *n as f64;
        let sum_sq = crate::numeric::sum(inst.base.probs().iter().map(|p| p * p));
        let catalog = 2.0 * nf * (nf - 1.0) * sum_sq;
        let tol = bound_tolerance(*n);
        Ok(
            Deviation::at_most(gap, scale * catalog, tol).worst(Deviation::at_most(
                gap,
                scale * sharp_gap_bound(&inst, *n),
                tol,
            )),
        )
    })
}

/// The draws of `bon.kl-gap`: [`draws`], and N = 2 (where the gap comes closest to the bounds)
/// one time in four.
fn gap_draws() -> impl Strategy<Value = u64> {
    prop_oneof![3 => draws(), 1 => Just(2u64)]
}

/// `D(eps)` of Beirami et al., evaluated stably: `(1-eps)^N = e^a` with `a = N log1p(-eps)`,
/// `1 - (1-eps)^N = -expm1(a)`.
pub fn estimator_d(eps: f64, n: u64) -> f64 {
    let nf = n as f64;
    let a = nf * (-eps).ln_1p();
    let stay = a.exp();
    let leave = -a.exp_m1();
    let mut d = 0.0;
    if stay > 0.0 {
        d += stay * (nf.ln() + (nf - 1.0) * (-eps).ln_1p() - (nf - 1.0) / nf);
    }
    if leave > 0.0 {
        d += leave * (leave.ln() - eps.ln());
    }
    d
}

/// `E_{Y ~ P_N}[D(pi0(Y))]`, compensated.
pub fn estimator_mean(inst: &Instance, b: &BestOfN) -> f64 {
    let mut s = CompensatedSum::new();
    for i in inst.base.support() {
        let p = b.solution.policy.prob(i);
        if p > 0.0 {
            s.add(p * estimator_d(inst.base.prob(i), b.n));
        }
    }
    s.value()
}

/// The search of `bon.kl-estimator`: instances with ties or with distinct rewards, and N from
/// 1 to 1e15.
pub fn estimator_strategy() -> impl Strategy<Value = (Instance, u64)> {
    (
        prop_oneof![strategy::instance(1..=8), sb::distinct_instance(1..=8)],
        draws(),
    )
}

/// `KL <= E[D]` per instance, to the bound tolerance (both sides are compensated sums of terms
/// of size at most `log N + 1`).
pub fn estimator_deviation(inst: &Instance, n: u64) -> Result<Deviation, String> {
    scaled_estimator_deviation(inst, n, 1.0)
}

/// `KL <= factor E[D]` per instance, the KL recomputed from the policy by [`crate::divergence::kl`], to the bound
/// tolerance. The tightness `KL / (factor E[D])` is recorded only where `factor E[D]` exceeds
/// the tolerance (below it the ratio of two rounding-level numbers means nothing).
pub fn scaled_estimator_deviation(
    inst: &Instance,
    n: u64,
    factor: f64,
) -> Result<Deviation, String> {
    let b = solve(inst, n)?;
    let tol = bound_tolerance(n);
    let bound = factor * estimator_mean(inst, &b);
    let mut d = Deviation::at_most(recomputed_kl(inst, &b.solution.policy)?, bound, tol);
    if !(bound > tol) {
        d.tightness = None;
    }
    Ok(d)
}

/// The conjecture (`factor = 1`) or its tightened, false control (`factor < 1`), which the
/// same search must refute: KL/E[D] comes within `1e-12` of 1 at large N, where best-of-N
/// sits on one outcome and `D` is exact.
fn check_kl_estimator(config: &CheckConfig, factor: f64) -> Verdict {
    check_theorem(config, estimator_strategy(), |(inst, n)| {
        scaled_estimator_deviation(inst, *n, factor)
    })
}

/// `C(a, b)` as `f64` (exact for the small arguments used here).
fn binomial(a: u32, b: u32) -> f64 {
    if b > a {
        return 0.0;
    }
    (0..b).fold(1.0, |acc, k| acc * f64::from(a - k) / f64::from(k + 1))
}

/// `E[estimator]` by enumerating all `|X|^M` ordered samples.
pub fn estimator_expectation(inst: &Instance, n: u32, m: u32) -> f64 {
    let k = inst.base.len();
    let weights: Vec<f64> = (1..=m)
        .map(|i| binomial(i - 1, n - 1) / binomial(m, n))
        .collect();
    let mut tuple = vec![0usize; m as usize];
    let mut total = CompensatedSum::new();
    let mut rewards = vec![0.0; m as usize];
    loop {
        let prob: f64 = tuple.iter().map(|&i| inst.base.prob(i)).product();
        if prob > 0.0 {
            for (r, &i) in rewards.iter_mut().zip(&tuple) {
                *r = inst.reward[i];
            }
            rewards.sort_by(f64::total_cmp);
            let est: f64 = weights.iter().zip(&rewards).map(|(w, r)| w * r).sum();
            total.add(prob * est);
        }
        if !next_tuple(&mut tuple, k) {
            break;
        }
    }
    total.value()
}

/// Exact expectation over all `|X|^M` samples (`|X| <= 4`, `N <= 4`, `M <= N + 2`) against
/// `E_{P_N}[r]` under the brute-force law ([`brute_force`], independent of the solver), and
/// the solver's policy against that law; to `1e-12 max|r|`: at most 4096 terms, each a product
/// of at most 6 masses times a weighted sum of rewards, summed with compensation. `extra` is
/// added to N in the law only (0 for the claim, 1 for the control).
fn check_unbiased_estimator(config: &CheckConfig, extra: u32) -> Verdict {
    let strat = (strategy::instance(1..=4), 1u32..=4, 0u32..=2);
    check_theorem(config, strat, |(inst, n, more)| {
        let got = estimator_expectation(inst, *n, n + more);
        let law = brute_force(inst, n + extra);
        let want = crate::numeric::sum(law.iter().zip(&inst.reward).map(|(p, r)| p * r));
        let b = solve(inst, u64::from(*n))?;
        Ok(
            Deviation::new((got - want).abs(), 1e-12 * sb::reward_scale(inst)).worst(
                law_against_brute_force(inst, &b.solution.policy, u64::from(*n)),
            ),
        )
    })
}

/// With best-of-N's expected reward and KL recomputed from its policy: at that reward the
/// tilt's KL is at most `factor` times best-of-N's, and the tilt reaches the reward (both as in
/// [`sb::tilt_kl_at_most`]); at best-of-N's KL the KL-budget optimum, whose KL and reward are
/// recomputed from its policy, stays within the budget (to `1e-9` of it, the root finder's
/// accuracy, plus [`sb::KL_FLOOR`] and twice the policies' mass defects, see
/// [`sb::mass_defect`]) and has reward at least best-of-N's, to `1e-9` of the reward scale (the budget
/// solver locates beta to ~1e-14 relative, and `dE/dKL = beta` is at most the reward spread
/// divided by the KL scale of the instance). `factor` is 1 for the claim, below 1 for the
/// control (the tilt and best-of-N coincide on two reward classes).
fn check_tilt_dominates(config: &CheckConfig, factor: f64) -> Verdict {
    check_theorem(config, (strategy::instance(1..=6), draws()), |(inst, n)| {
        let b = solve(inst, *n)?;
        let (reward, d, defect) = sb::reward_and_kl(inst, &b.solution.policy)?;
        let dev = sb::tilt_kl_at_most(inst, reward, d, defect, factor)?;
        let budget = kl_budget(&inst.base, &inst.reward, d).map_err(|e| e.to_string())?;
        let (_, budget_kl, budget_defect) = sb::reward_and_kl(inst, &budget.solution.policy)?;
        let within_tol = 1e-9 * d + sb::KL_FLOOR + 2.0 * (defect + budget_defect);
        let mut within = Deviation::at_most(budget_kl, d, within_tol);
        within.tightness = None;
        let better = sb::reaches(
            inst,
            &budget.solution.policy,
            reward,
            1e-9 * sb::reward_scale(inst),
        )?;
        Ok(dev.worst(within).worst(better))
    })
}

/// `floor(e^30)`, the N of `bon.nats`.
const NATS_N: u64 = 10_686_474_581_524;

/// The figure of `bon.nats`: `log N - (N-1)/N - 29` at `N = floor(e^30)`, which is
/// `5.0330257e-14` to 8 digits (50-digit arithmetic; see the proof file). The check certifies
/// it to [`NATS_TOLERANCE`], so its last certified digit is the `1e-15` place.
const NATS_EXCESS: f64 = 5.03e-14;

/// The rounding of [`nats_excess`]: `e^-30` is within an ulp (`2.2e-16` relative), the product
/// `N e^-30` adds half an ulp of 1 (`1.1e-16`), `log1p` of `-4.3e-14` and the exact `1/N` add
/// rounding of the size `1e-30`: at most `3.4e-16`, stated as `5e-16`.
const NATS_TOLERANCE: f64 = 5e-16;

/// `log N - (N-1)/N - 29 = log(N e^-30) + 1/N`, formed without the cancellation of
/// `log N - 30` in floating point (where `log N` alone carries half an ulp of 30, `1.8e-15`).
fn nats_excess(n: u64) -> f64 {
    let nf = n as f64;
    (nf * (-30.0f64).exp() - 1.0).ln_1p() + 1.0 / nf
}

/// The model of `bon.nats`, against the figure `29 + excess` (`excess` is [`NATS_EXCESS`] for
/// the claim, moved by one unit in its last certified digit for the control), 4 computations:
/// (1) the excess recomputed by [`nats_excess`] equals the figure to [`NATS_TOLERANCE`], and
/// the solver's bound `kl_bound(N)` (plain `log N - (N-1)/N`, rounded to an ulp or two of 30)
/// equals it to `64 eps = 4 ulp(29) = 1.4e-14`; (2-4) on uniform bases of 10, 1000 and 10^6 outcomes
/// with distinct rewards, the KL recomputed by [`kl`] from best-of-N's policy equals its closed
/// form `log n` (the top outcome gets `1 - (1 - 1/n)^N`, which is 1 in floating point, since
/// `(1 - 1/n)^N < 10^-4641080`) to `8 eps log n`, and is at most the figure and at most
/// `log n` through `at_most`.
fn check_nats(excess: f64) -> Verdict {
    let note = format!(
        "excess over 29: recomputed {:.4e}, figure {excess:.4e}",
        nats_excess(NATS_N)
    );
    let verdict = check_model_cases(4, || {
        let figure = 29.0 + excess;
        let mut dev = Deviation::new((nats_excess(NATS_N) - excess).abs(), NATS_TOLERANCE);
        dev = dev.worst(Deviation::new(
            (kl_bound(NATS_N) - figure).abs(),
            64.0 * f64::EPSILON,
        ));
        for size in [10usize, 1000, 1_000_000] {
            let base = crate::Dist::uniform(size).map_err(|e| e.to_string())?;
            let reward: Vec<f64> = (0..size).map(|i| i as f64).collect();
            let b = best_of_n(&base, &reward, NATS_N).map_err(|e| e.to_string())?;
            let d = recomputed_kl(&Instance { base, reward }, &b.solution.policy)?;
            let log_n = (size as f64).ln();
            let tol = 8.0 * f64::EPSILON * log_n;
            dev = dev
                .worst(Deviation::new((d - log_n).abs(), tol))
                .worst(Deviation::at_most(d, figure, tol))
                .worst(Deviation::at_most(d, log_n, tol));
        }
        Ok(dev)
    });
    verdict.with_note(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bon_claim_passes_a_short_run() {
        crate::claims::assert_short_run_passes(&claims(), 32, 3);
    }

    #[test]
    fn a_zero_kl_fails_the_gap_check_on_large_bases() -> Result<(), String> {
        // On the large bases of the generator the catalog's bound is below log N - (N-1)/N at
        // small N, so a solver reporting KL = 0 (gap = the whole bound) would be caught.
        let spec = sb::LargeSpec {
            size: 1000,
            shape: sb::LargeShape::Dirichlet,
            seed: 7,
        };
        let inst = spec.instance()?;
        let sum_sq = crate::numeric::sum(inst.base.probs().iter().map(|p| p * p));
        for n in [2u64, 3, 4, 8] {
            let nf = n as f64;
            let zero_kl_gap = kl_bound(n);
            assert!(zero_kl_gap > 2.0 * nf * (nf - 1.0) * sum_sq, "N = {n}");
            assert!(zero_kl_gap > sharp_gap_bound(&inst, n), "N = {n}");
        }
        Ok(())
    }

    #[test]
    fn sharp_gap_bound_matches_the_closed_form_on_two_outcomes() -> Result<(), String> {
        // pi0 = (3/4, 1/4), rewards (0, 1), N = 3: N^2 (m_1^2 F_1 + m_2^2 F_2)
        // = 9 (9/16 * 3/4 + 1/16 * 1) = 9 * 31/64.
        let inst = Instance {
            base: crate::Dist::new(vec![0.75, 0.25]).map_err(|e| e.to_string())?,
            reward: vec![0.0, 1.0],
        };
        assert!((sharp_gap_bound(&inst, 3) - 9.0 * 31.0 / 64.0).abs() < 1e-15);
        Ok(())
    }

    #[test]
    fn brute_force_splits_ties_uniformly() -> Result<(), String> {
        // Two tied outcomes of mass 1/2 each and N = 2: each is returned with probability 1/2.
        let inst = Instance {
            base: crate::Dist::uniform(2).map_err(|e| e.to_string())?,
            reward: vec![1.0, 1.0],
        };
        assert_eq!(brute_force(&inst, 2), vec![0.5, 0.5]);
        Ok(())
    }
}
