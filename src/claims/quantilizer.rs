//! Family `quantilizer`: the q-quantilizer samples `pi0` restricted to its top `q` mass by
//! reward, a boundary tie class taken in part, proportionally (Taylor 2016).
#![doc = include_str!("../../docs/claims/quantilizer.md")]

use super::strategy::{self, Instance};
use super::strategy_bon::kept_mass;
use super::{check_theorem, refused, CheckConfig, Claim, Control, Deviation, Status, Verdict};
use crate::divergence::kl;
use crate::numeric::CompensatedSum;
use crate::solve::{quantilize, Quantilizer, RewardClasses};
use crate::Dist;
use proptest::prelude::*;

/// The claims of this family, in catalog order.
pub fn claims() -> Vec<Claim> {
    vec![
        Claim {
            id: "quantilizer.cost",
            title: "A quantilizer pays at most 1/q times the base's expected cost",
            statement: "For every cost $c \\ge 0$ and $q \\in (0, 1]$: $E_{\\pi_q}[c] \\le E_{\\pi_0}[c] / q$.",
            sources: &["Taylor 2016"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_cost(c, 1.0),
            control: Control {
                description: "bound tightened by 0.1%: E_q[c] <= 0.999 E_pi0[c]/q",
                check: |c| check_cost(c, 0.999),
            },
        },
        Claim {
            id: "quantilizer.kl",
            title: "KL of the q-quantilizer is at most log(1/q)",
            statement: "$KL(\\pi_q\\|\\pi_0) \\le \\log(1/q)$, with equality iff no reward class is split \
at the boundary.",
            sources: &["Taylor 2016"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_kl(c, 1.0),
            control: Control {
                description: "bound tightened by 0.1%: KL <= 0.999 log(1/q) (equality holds when \
no class is split)",
                check: |c| check_kl(c, 0.999),
            },
        },
        Claim {
            id: "quantilizer.optimal",
            title: "The quantilizer maximizes reward under the density cap pi <= pi0/q",
            statement: "Among policies with $\\pi \\le \\pi_0 / q$ pointwise, the q-quantilizer maximizes \
$E_\\pi[r]$.",
            sources: &["Taylor 2016"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_optimal(c, 1.0),
            control: Control {
                description: "solver perturbed: the quantilizer at q (1 + 1e-3) against competitors \
under the cap pi0/q",
                check: |c| check_optimal(c, 1.0 + 1e-3),
            },
        },
    ]
}

/// The quantilizer at `q`, once the solver has refused, on the same instance, the kept masses
/// just outside the claims' hypothesis `0 < q <= 1`: `0`, `-q`, the double above 1, 2, infinity
/// and NaN.
fn solve(inst: &Instance, q: f64) -> Result<Quantilizer, String> {
    for bad in [0.0, -q, 1.0 + f64::EPSILON, 2.0, f64::INFINITY, f64::NAN] {
        refused(
            &format!("the kept mass q = {bad}"),
            quantilize(&inst.base, &inst.reward, bad),
        )?;
    }
    quantilize(&inst.base, &inst.reward, q).map_err(|e| e.to_string())
}

/// The q-quantilizer recomputed from its definition, independently of the solver.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceLaw {
    /// `pi_q(x)`.
    pub policy: Vec<f64>,
    /// The mass `k` kept from the boundary class.
    pub kept: f64,
    /// The boundary class's mass `pi0(b)`.
    pub boundary_mass: f64,
}

impl ReferenceLaw {
    /// The KL deficit `log(1/q) - KL(pi_q||pi0) = (k/q) log(pi0(b)/k)` of the proof (0 when
    /// nothing of the boundary class is kept, the limit of `k log(1/k)`).
    pub fn deficit(&self, q: f64) -> f64 {
        if self.kept > 0.0 {
            self.kept / q * (self.boundary_mass.ln() - self.kept.ln())
        } else {
            0.0
        }
    }
}

/// Slack of the cumulative masses in [`reference_law`], relative to `q`: a compensated sum of
/// at most 8 masses is within a few `eps` of its value, so a class whose cumulative mass from
/// the top is within `8 eps q` of `q` reaches it (the solver may round it either way).
const CUMULATIVE_SLACK: f64 = 8.0 * f64::EPSILON;

/// The q-quantilizer by its definition: the support sorted by decreasing reward, whole classes
/// kept (`pi0(x)/q`) while the cumulative mass from the top stays below `q`, and the first
/// class at which it reaches `q` (within `CUMULATIVE_SLACK`, 8 eps of q) kept in part, the fraction
/// `(q - pi0(r > r_b))/pi0(b)` clipped to `[0, 1]`.
pub fn reference_law(inst: &Instance, q: f64) -> ReferenceLaw {
    let mut order: Vec<usize> = inst.base.support().collect();
    order.sort_by(|&a, &b| inst.reward[b].total_cmp(&inst.reward[a]));
    let mut policy = vec![0.0; inst.base.len()];
    let mut above = CompensatedSum::new();
    let mut start = 0;
    while start < order.len() {
        let r = inst.reward[order[start]];
        let len = order[start..]
            .iter()
            .take_while(|&&i| inst.reward[i] == r)
            .count();
        let class = &order[start..start + len];
        let mass = crate::numeric::sum(class.iter().map(|&i| inst.base.prob(i)));
        let a = above.value();
        start += len;
        if a + mass >= q * (1.0 - CUMULATIVE_SLACK) || start == order.len() {
            let kept = (q - a).clamp(0.0, mass);
            for &i in class {
                policy[i] = inst.base.prob(i) * (kept / mass) / q;
            }
            return ReferenceLaw {
                policy,
                kept,
                boundary_mass: mass,
            };
        }
        for &i in class {
            policy[i] = inst.base.prob(i) / q;
        }
        above.add(mass);
    }
    ReferenceLaw {
        policy,
        kept: 0.0,
        boundary_mass: 0.0,
    }
}

/// `pi_q` as the solver's reported boundary describes it: `pi0(x)/q` above the boundary
/// reward, `pi0(x) f/q` on it, 0 below.
fn described_policy(inst: &Instance, s: &Quantilizer) -> Vec<f64> {
    (0..inst.base.len())
        .map(|x| {
            let r = inst.reward[x];
            let share = if r > s.boundary_reward {
                1.0
            } else if r == s.boundary_reward {
                s.boundary_fraction
            } else {
                0.0
            };
            inst.base.prob(x) * share / s.q
        })
        .collect()
}

/// The solver's quantilizer against [`reference_law`], comparisons that fail on NaN: its
/// policy, and the policy its reported boundary `(r_b, f)` describes, agree with the reference
/// outcome by outcome to `1e-12` relative (the policy's masses are exponentials of
/// `log pi0 - log q`, exact to `eps |log pi0|`, up to `~1e-13` at masses near `1e-300`) plus
/// `16 eps` absolute (a boundary class within [`CUMULATIVE_SLACK`] of `q` may be rounded into
/// or out of the kept set, moving at most `8 eps` of policy mass); and the reported fraction
/// `f` lies in `(0, 1]`, as the solver documents, except that `f = 0` is accepted on a
/// boundary class of mass at most `8 eps q`, which rounding of the cumulative masses can leave
/// out of the kept set (the solver compares `pi0(r > r_C) + pi0(C)` with `q`, and the two
/// sides of a class below rounding can fall on either side of `q`).
/// The relative disagreement of the base's two views on its subnormal masses,
/// `max_x |pi0(x) e^{-log pi0(x)} - 1|` over outcomes whose linear mass is subnormal (0 when
/// there are none). A subnormal mass is held in the linear view only to `2^-1074` absolute;
/// the quantilizer forms its boundary and cumulative masses from the linear view and its
/// policy from the log view, so no check can hold them to each other more tightly than this.
/// It is about `1e-8` for a mass near `2e-316` and 0 on every instance of normal masses.
fn subnormal_view_gap(base: &Dist) -> f64 {
    base.support()
        .filter(|&x| base.prob(x) < f64::MIN_POSITIVE)
        .map(|x| (base.prob(x).ln() - base.log_prob(x)).exp_m1().abs())
        .fold(0.0, f64::max)
}

fn law_deviation(inst: &Instance, q: f64, s: &Quantilizer) -> Deviation {
    let reference = reference_law(inst, q);
    let f = s.boundary_fraction;
    let boundary_mass = inst
        .base
        .mass_where(|i| inst.base.in_support(i) && inst.reward[i] == s.boundary_reward);
    let mut dev = Deviation::exact(
        (f > 0.0 && f <= 1.0) || (f == 0.0 && boundary_mass <= CUMULATIVE_SLACK * q),
    );
    let described = described_policy(inst, s);
    let gap = subnormal_view_gap(&inst.base);
    for ((got, told), want) in s
        .solution
        .policy
        .probs()
        .iter()
        .zip(&described)
        .zip(&reference.policy)
    {
        let tol = (1e-12 + 4.0 * gap) * want + 16.0 * f64::EPSILON;
        dev = dev
            .worst(Deviation::new((got - want).abs(), tol))
            .worst(Deviation::new((told - want).abs(), tol));
    }
    dev
}

/// A non-negative cost: zero with probability 1/4 per outcome, else log-uniform on
/// `[1e-6, 1e6]`.
fn costs(n: usize) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(
        prop_oneof![1 => Just(0.0), 3 => (-6.0f64..6.0).prop_map(|e| 10f64.powf(e))],
        n,
    )
}

/// A cost for `quantilizer.cost`: [`costs`], or (one time in three) [`costs`] kept only on the
/// outcomes of the top reward, where the bound is an equality whenever `q` is at least the top
/// class's mass (`pi_q = pi0/q` there).
fn cost_for(inst: &Instance) -> BoxedStrategy<Vec<f64>> {
    let top = super::strategy_bon::support_max(inst);
    let on_top: Vec<bool> = inst.reward.iter().map(|r| *r == top).collect();
    let n = inst.base.len();
    prop_oneof![
        2 => costs(n),
        1 => costs(n).prop_map(move |c| {
            c.iter()
                .zip(&on_top)
                .map(|(x, top)| if *top { *x } else { 0.0 })
                .collect()
        }),
    ]
    .boxed()
}

/// Per instance, `q` from [`q_for`]: the solver's law against the reference
/// ([`law_deviation`]), and `E_q[c] <= factor E_pi0[c]/q` (`factor` 1 for the claim, below 1 for the control) to
/// `1e-13 + 4 eps max |log pi0|` relative. Each `pi_q(x)`
/// is `exp(log pi0(x) - log q)` (boundary class: plus `log fraction`): the rounding of the
/// exponent (`eps |log pi0(x)|` absolute) puts it within `eps |log pi0(x)|` relative of
/// `pi0(x)/q` or below it (up to ~1e-13 for masses near 1e-300), and both expectations are
/// compensated sums of non-negative terms.
fn check_cost(config: &CheckConfig, factor: f64) -> Verdict {
    let strat = strategy::instance(1..=8).prop_flat_map(|inst| {
        let (q, cost) = (q_for(&inst), cost_for(&inst));
        (Just(inst), q, cost)
    });
    check_theorem(config, strat, |(inst, q, cost)| {
        let s = solve(inst, *q)?;
        let e_q = s
            .solution
            .policy
            .expectation(cost)
            .map_err(|e| e.to_string())?;
        let e_0 = inst.base.expectation(cost).map_err(|e| e.to_string())?;
        let cap = factor * e_0 / q;
        // The policy's masses are `exp(log p)` (`Dist::from_log_weights`): rounding `log p` to
        // `eps |log p|` absolute makes each mass relatively wrong by up to `eps |log p|`, which
        // reaches ~1e-13 for masses near 1e-300 (`|log p|` ~ 700). So the slack is `1e-13`
        // (the sums) plus `4 eps max |log pi0|` over the support, relative to the cap.
        let log_span = inst
            .base
            .support()
            .map(|x| inst.base.log_prob(x).abs())
            .fold(0.0, f64::max);
        let rel = 1e-13 + 4.0 * f64::EPSILON * log_span + 4.0 * subnormal_view_gap(&inst.base);
        // Subnormal masses pi0(x) and pi_q(x), and their products with a cost, are rounded
        // to 2^-1074 absolute each: up to 2^-1074 max c on either side of the comparison,
        // the base's side divided by q.
        let c_max = cost.iter().fold(0.0f64, |m, c| m.max(*c));
        let floor =
            8.0 * inst.base.len() as f64 * f64::from_bits(1) * (1.0 + c_max) * (1.0 + 1.0 / q);
        Ok(Deviation::at_most(e_q, cap, rel * cap + floor).worst(law_deviation(inst, *q, &s)))
    })
}

/// A kept mass that is either free ([`kept_mass`]) or exactly the mass of the top `k` classes
/// (computed as the solver computes it), so both sides of "equality iff no class is split" are
/// reached.
fn q_for(inst: &Instance) -> BoxedStrategy<f64> {
    let tops: Vec<f64> = RewardClasses::new(&inst.base, &inst.reward)
        .map(|c| c.classes.iter().map(|k| k.above + k.mass).collect())
        .unwrap_or_default();
    if tops.is_empty() {
        return kept_mass().boxed();
    }
    prop_oneof![
        kept_mass(),
        // Cumulative masses are positive; the top one may round to just above 1.
        proptest::sample::select(tops).prop_map(|q| q.min(1.0)),
    ]
    .boxed()
}

/// Per instance: (a) the solver's law against the reference ([`law_deviation`]: policy,
/// reported boundary, `f` in `(0, 1]`); (b) `KL(pi_q||pi0)` recomputed by [`kl`] from the
/// policy agrees with the solver's, to `1e-12` relative plus `1e-15` (two compensated sums of
/// the same terms); (c) it is at most `factor log(1/q)` to that tolerance (`factor` 1 for the
/// claim, below 1 for the control); (d) it falls short of `log(1/q)` by exactly the deficit
/// `(k/q) log(pi0(b)/k)` of the reference law (0 when the boundary class is kept whole), to
/// the tolerance plus `1e-12` of the deficit.
fn check_kl(config: &CheckConfig, factor: f64) -> Verdict {
    let strat = strategy::instance(1..=8).prop_flat_map(|inst| {
        let q = q_for(&inst);
        (Just(inst), q)
    });
    check_theorem(config, strat, |(inst, q)| {
        let s = solve(inst, *q)?;
        let direct = kl(&s.solution.policy, &inst.base).map_err(|e| e.to_string())?;
        let log_inv_q = -q.ln();
        // A relative disagreement g of the base's views moves each log-ratio by about g.
        let tol = 1e-12 * log_inv_q.max(1.0) + 1e-15 + 4.0 * subnormal_view_gap(&inst.base);
        let deficit = reference_law(inst, *q).deficit(*q);
        let mut agree = Deviation::new((direct - s.solution.kl).abs(), tol);
        agree = agree.worst(Deviation::new(
            (log_inv_q - direct - deficit).abs(),
            tol + 1e-12 * deficit,
        ));
        let mut bound = Deviation::at_most(direct, factor * log_inv_q, tol);
        if !(log_inv_q > tol) {
            // Both sides are rounding-level: their ratio is no measure of tightness.
            bound.tightness = None;
        }
        Ok(bound.worst(agree).worst(law_deviation(inst, *q, &s)))
    })
}

/// A feasible competitor `pi <= pi0/q`: fill outcomes in a random order, each up to its cap
/// `pi0(x)/q`, until the mass reaches 1 (a vertex of the feasible polytope), then mix two such
/// vertices. The caps sum to `1/q >= 1`, so the fill always completes.
fn competitor(base: &Dist, q: f64, order: &[usize]) -> Vec<f64> {
    let mut pi = vec![0.0; base.len()];
    let mut left = 1.0f64;
    for &i in order {
        let take = (base.prob(i) / q).min(left);
        pi[i] = take;
        left -= take;
        if left <= 0.0 {
            break;
        }
    }
    pi
}

/// A fill order for [`competitor`]: random, or (one time in four) by decreasing reward, which
/// fills the caps greedily and gives the quantilizer itself, so the search reaches equality.
fn fill_order(inst: &Instance) -> BoxedStrategy<Vec<usize>> {
    let idx: Vec<usize> = (0..inst.base.len()).collect();
    let mut greedy = idx.clone();
    greedy.sort_by(|&a, &b| inst.reward[b].total_cmp(&inst.reward[a]));
    prop_oneof![3 => Just(idx).prop_shuffle(), 1 => Just(greedy)].boxed()
}

/// Per instance, `q` from [`q_for`]: the solver's law (at `q_solver = min(1, q * perturb)`) against the reference
/// ([`law_deviation`]), and `E_pi[r] <= E_q[r]` for feasible competitors `pi <= pi0/q` (a
/// mixture of two [`competitor`] vertices), both expectations recomputed from the policies and
/// shifted by the least reward on the support so that the tightness `E_pi/E_q` is a ratio of
/// non-negative numbers, to `1e-12` of the reward scale (the competitor's mass may miss 1 by
/// rounding of the running remainder, and both expectations are compensated sums). `perturb`
/// is 1 for the claim; above 1 for the control, whose quantilizer keeps more than `q` and loses
/// to the greedy competitor wherever the kept set spans two rewards.
fn check_optimal(config: &CheckConfig, perturb: f64) -> Verdict {
    let strat = (strategy::instance(1..=8), 0.0f64..=1.0).prop_flat_map(|(inst, mix)| {
        let (q, o1, o2) = (q_for(&inst), fill_order(&inst), fill_order(&inst));
        (Just(inst), q, Just(mix), o1, o2)
    });
    check_theorem(config, strat, |(inst, q, mix, o1, o2)| {
        let q_solver = (q * perturb).min(1.0);
        let s = solve(inst, q_solver)?;
        let a = competitor(&inst.base, *q, o1);
        let b = competitor(&inst.base, *q, o2);
        let pi: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| mix * x + (1.0 - mix) * y)
            .collect();
        let (lo, _) = inst.base.support_range(&inst.reward);
        let shifted =
            |p: &[f64]| crate::numeric::sum(p.iter().zip(&inst.reward).map(|(p, r)| p * (r - lo)));
        let e_pi = shifted(&pi);
        let e_q = shifted(s.solution.policy.probs());
        let scale = inst.reward.iter().fold(0.0f64, |m, r| m.max(r.abs()));
        let tol = (1e-12 + 4.0 * subnormal_view_gap(&inst.base)) * scale;
        Ok(Deviation::at_most(e_pi, e_q, tol).worst(law_deviation(inst, q_solver, &s)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quantilizer_claim_passes_a_short_run() {
        crate::claims::assert_short_run_passes(&claims(), 32, 5);
    }
}
