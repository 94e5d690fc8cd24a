//! Family `bon`: best-of-N.
//!
//! Best-of-N draws N iid outputs from `pi0` and returns one of highest reward, ties broken
//! uniformly among the tied draws. The exact law is [`crate::solve::best_of_n()`].

use super::strategy::{self, Instance};
use super::strategy_bon::{self as sb, draws};
use super::{check_model, check_theorem, CheckConfig, Claim, Deviation, Status, Verdict};
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
            check: check_exact,
            control: None,
        },
        Claim {
            id: "bon.kl-bound",
            title: "KL of best-of-N is at most log N - (N-1)/N",
            statement: "For every finite $\\pi_0$, reward $r$ and $N \\ge 1$: \
$KL(P_N\\|\\pi_0) \\le \\log N - (N-1)/N$.",
            sources: &["Beirami et al. 2024"],
            status: Status::Theorem,
            settled: None,
            check: check_kl_bound,
            control: None,
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
            control: None,
        },
        Claim {
            id: "bon.winrate",
            title: "Best-of-N beats a fresh base sample with probability at most N/(N+1)",
            statement: "$P(r(Y) > r(X)) + \\tfrac12 P(r(Y) = r(X)) \\le N/(N+1)$ for $Y \\sim P_N$, \
$X \\sim \\pi_0$ independent; on every finite support the inequality is strict for $N \\ge 2$.",
            sources: &["Beirami et al. 2024 (Thm 5.3)", "Gui et al. 2024"],
            status: Status::Theorem,
            settled: None,
            check: check_winrate,
            control: None,
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
            check: check_kl_gap,
            control: None,
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
            check: check_kl_estimator,
            control: None,
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
            check: check_unbiased_estimator,
            control: None,
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
            check: check_tilt_dominates,
            control: None,
        },
        Claim {
            id: "bon.nats",
            title: "Best-of-e^30 spends at most 29 nats",
            statement: "The KL spent by best-of-N grows like $\\log N$: for $N = \\lfloor e^{30} \\rfloor$ \
the bound is $29 + 5\\cdot 10^{-14}$ nats, and the exact KL on bases of $10$, $1000$ and $10^6$ \
uniform outcomes is below it (and below $\\log |X|$).",
            sources: &["[S0] Shlegeris 2022, comment thread (30 nats vs best-of-exp(30))"],
            status: Status::Model,
            settled: None,
            check: check_nats,
            control: None,
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

/// Against brute-force enumeration (N <= 5, up to 5 outcomes): relative error `1e-12` (the
/// enumeration adds at most 3125 products of N factors, each exact to `(N+1) eps`, with
/// compensated sums; the solver's log-space formula is exact to `~10 eps`), with an absolute
/// floor `1e-290` below which products of tiny masses underflow in the enumeration.
fn check_exact(config: &CheckConfig) -> Verdict {
    let strat = (strategy::instance(1..=5), 1u32..=5);
    check_theorem(config, strat, |(inst, n)| {
        let b = solve(inst, u64::from(*n))?;
        let brute = brute_force(inst, *n);
        let mut dev = Deviation::new(0.0, 0.0);
        for (got, want) in b.solution.policy.probs().iter().zip(&brute) {
            dev = dev.worst(Deviation::close(*got, *want, 1e-12, 1e-290));
        }
        Ok(dev)
    })
}

/// Tolerance for comparisons with the bound: `1e-12 max(1, bound)`. The KL is a compensated
/// sum of `P(C) (log P(C) - log pi0(C))`, whose logs carry rounding `~eps |N log F| <= 1e-13`
/// relative at N <= 1e15 where `P(C)` is representable.
fn bound_tolerance(n: u64) -> f64 {
    1e-12 * kl_bound(n).max(1.0)
}

fn check_kl_bound(config: &CheckConfig) -> Verdict {
    check_theorem(config, (strategy::instance(1..=8), draws()), |(inst, n)| {
        let b = solve(inst, *n)?;
        Ok(Deviation::at_most(
            b.solution.kl,
            b.kl_bound,
            bound_tolerance(*n),
        ))
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

/// `N/(N+1)` is compared with the computed win rate to `4 eps` (a compensated sum of terms that
/// each carry a few roundings); strictness is checked for `N >= 2` where the true gap exceeds
/// that (the gap is at least `pi0(C)^3/6`-sized for some class on supports of at most 8
/// outcomes once N is moderate; see the proof).
fn check_winrate(config: &CheckConfig) -> Verdict {
    check_theorem(config, (strategy::instance(1..=8), draws()), |(inst, n)| {
        let b = solve(inst, *n)?;
        let nf = *n as f64;
        let bound = nf / (nf + 1.0);
        let mut dev = Deviation::at_most(b.win_rate_half_ties, bound, 4.0 * f64::EPSILON);
        dev = dev.worst(Deviation::at_most(
            b.win_rate_strict,
            b.win_rate_half_ties,
            0.0,
        ));
        if *n >= 2 && *n <= 1_000_000 {
            dev = dev.worst(Deviation::exact(b.win_rate_half_ties < bound));
        }
        Ok(dev)
    })
}

fn check_kl_gap(config: &CheckConfig) -> Verdict {
    check_theorem(
        config,
        (sb::distinct_instance(1..=8), draws()),
        |(inst, n)| {
            let b = solve(inst, *n)?;
            let nf = *n as f64;
            let sum_sq: f64 = inst.base.probs().iter().map(|p| p * p).sum();
            let gap = b.kl_bound - b.solution.kl;
            Ok(Deviation::at_most(
                gap,
                2.0 * nf * (nf - 1.0) * sum_sq,
                bound_tolerance(*n),
            ))
        },
    )
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
    let b = solve(inst, n)?;
    Ok(Deviation::at_most(
        b.solution.kl,
        estimator_mean(inst, &b),
        bound_tolerance(n),
    ))
}

fn check_kl_estimator(config: &CheckConfig) -> Verdict {
    check_theorem(config, estimator_strategy(), |(inst, n)| {
        estimator_deviation(inst, *n)
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
/// `E_{P_N}[r]`, to `1e-12 max|r|`: at most 4096 terms, each a product of at most 6 masses
/// times a weighted sum of rewards, summed with compensation.
fn check_unbiased_estimator(config: &CheckConfig) -> Verdict {
    let strat = (strategy::instance(1..=4), 1u32..=4, 0u32..=2);
    check_theorem(config, strat, |(inst, n, extra)| {
        let b = solve(inst, u64::from(*n))?;
        let got = estimator_expectation(inst, *n, n + extra);
        let scale = inst.reward.iter().fold(0.0f64, |m, r| m.max(r.abs()));
        Ok(Deviation::new(
            (got - b.solution.expected_reward).abs(),
            1e-12 * scale,
        ))
    })
}

/// At the best-of-N expected reward the tilt's KL is at most best-of-N's; at best-of-N's KL
/// the KL-budget optimum's reward is at least best-of-N's. See [`sb::matched_kl_tolerance`]
/// for the tolerance on the first part; the second allows `1e-9` of the reward scale (the
/// budget solver locates beta to ~1e-14 relative, and `dE/dKL = beta` is at most the reward
/// spread divided by the KL scale of the instance).
fn check_tilt_dominates(config: &CheckConfig) -> Verdict {
    check_theorem(config, (strategy::instance(1..=6), draws()), |(inst, n)| {
        let b = solve(inst, *n)?;
        let kl = b.solution.kl;
        let mut dev = sb::tilt_kl_at_most(inst, b.solution.expected_reward, kl)?;
        let budget = kl_budget(&inst.base, &inst.reward, kl).map_err(|e| e.to_string())?;
        let spread = inst.reward.iter().fold(0.0f64, |m, r| m.max(r.abs()));
        dev = dev.worst(Deviation::at_most(
            b.solution.expected_reward,
            budget.solution.expected_reward,
            1e-9 * spread,
        ));
        Ok(dev)
    })
}

/// `N = floor(e^30) = 10686474581524`: the bound is `log N - (N-1)/N = 29 + 5.1e-14` (since
/// `log N = 30 - 4.3e-14` and `(N-1)/N = 1 - 9.4e-14`); checked to `1e-12` absolute, and the
/// exact KL on uniform bases of 10, 1000 and 10^6 outcomes with distinct rewards is at most
/// the bound and at most `log |X|`.
fn check_nats(_config: &CheckConfig) -> Verdict {
    check_model(|| {
        let n: u64 = 10_686_474_581_524;
        let mut dev = Deviation::new((kl_bound(n) - 29.0).abs(), 1e-12);
        for size in [10usize, 1000, 1_000_000] {
            let base = crate::Dist::uniform(size).map_err(|e| e.to_string())?;
            let reward: Vec<f64> = (0..size).map(|i| i as f64).collect();
            let b = best_of_n(&base, &reward, n).map_err(|e| e.to_string())?;
            dev = dev.worst(Deviation::at_most(b.solution.kl, kl_bound(n), 1e-12 * 29.0));
            dev = dev.worst(Deviation::at_most(
                b.solution.kl,
                (size as f64).ln(),
                1e-12 * 29.0,
            ));
        }
        Ok(dev)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bon_claim_passes_a_short_run() {
        crate::claims::assert_short_run_passes(&claims(), 32, 3);
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
