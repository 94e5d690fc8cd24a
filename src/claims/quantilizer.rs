//! Family `quantilizer`: the q-quantilizer samples `pi0` restricted to its top `q` mass by
//! reward, a boundary tie class taken in part, proportionally (Taylor 2016).

use super::strategy::{self, Instance};
use super::strategy_bon::kept_mass;
use super::{check_theorem, CheckConfig, Claim, Deviation, Status, Verdict};
use crate::divergence::kl;
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
            check: check_cost,
            control: None,
        },
        Claim {
            id: "quantilizer.kl",
            title: "KL of the q-quantilizer is at most log(1/q)",
            statement: "$KL(\\pi_q\\|\\pi_0) \\le \\log(1/q)$, with equality iff no reward class is split \
at the boundary.",
            sources: &["Taylor 2016"],
            status: Status::Theorem,
            settled: None,
            check: check_kl,
            control: None,
        },
        Claim {
            id: "quantilizer.optimal",
            title: "The quantilizer maximizes reward under the density cap pi <= pi0/q",
            statement: "Among policies with $\\pi \\le \\pi_0 / q$ pointwise, the q-quantilizer maximizes \
$E_\\pi[r]$.",
            sources: &["Taylor 2016"],
            status: Status::Theorem,
            settled: None,
            check: check_optimal,
            control: None,
        },
    ]
}

fn solve(inst: &Instance, q: f64) -> Result<Quantilizer, String> {
    quantilize(&inst.base, &inst.reward, q).map_err(|e| e.to_string())
}

/// A non-negative cost: zero with probability 1/4 per outcome, else log-uniform on
/// `[1e-6, 1e6]`.
fn costs(n: usize) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(
        prop_oneof![1 => Just(0.0), 3 => (-6.0f64..6.0).prop_map(|e| 10f64.powf(e))],
        n,
    )
}

/// Per instance: `E_q[c] <= E_pi0[c]/q` to `1e-13 + 4 eps max |log pi0|` relative. Each `pi_q(x)`
/// is `exp(log pi0(x) - log q)` (boundary class: plus `log fraction`): the rounding of the
/// exponent (`eps |log pi0(x)|` absolute) puts it within `eps |log pi0(x)|` relative of
/// `pi0(x)/q` or below it (up to ~1e-13 for masses near 1e-300), and both expectations are
/// compensated sums of non-negative terms.
fn check_cost(config: &CheckConfig) -> Verdict {
    let strat = (strategy::instance(1..=8), kept_mass()).prop_flat_map(|(inst, q)| {
        let n = inst.base.len();
        (Just(inst), Just(q), costs(n))
    });
    check_theorem(config, strat, |(inst, q, cost)| {
        let s = solve(inst, *q)?;
        let e_q = s
            .solution
            .policy
            .expectation(cost)
            .map_err(|e| e.to_string())?;
        let e_0 = inst.base.expectation(cost).map_err(|e| e.to_string())?;
        let cap = e_0 / q;
        // The policy's masses are `exp(log p)` (`Dist::from_log_weights`): rounding `log p` to
        // `eps |log p|` absolute makes each mass relatively wrong by up to `eps |log p|`, which
        // reaches ~1e-13 for masses near 1e-300 (`|log p|` ~ 700). So the slack is `1e-13`
        // (the sums) plus `4 eps max |log pi0|` over the support, relative to the cap.
        let log_span = inst
            .base
            .support()
            .map(|x| inst.base.log_prob(x).abs())
            .fold(0.0, f64::max);
        let rel = 1e-13 + 4.0 * f64::EPSILON * log_span;
        Ok(Deviation::at_most(e_q, cap, rel * cap))
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

/// Per instance: (a) `KL(pi_q||pi0)` recomputed by [`kl`] from the policy agrees with the
/// solver's, to `1e-12` relative plus `1e-15` (two compensated sums of the same terms); (b) it is
/// at most `log(1/q)` to that tolerance; (c) with the boundary class kept whole it equals
/// `log(1/q)`, and with the class split by a fraction `f` it is below `log(1/q)` by the exact
/// amount `(k/q) log(1/f)` (`k` the kept boundary mass), checked where that amount exceeds the
/// tolerance.
fn check_kl(config: &CheckConfig) -> Verdict {
    let strat = strategy::instance(1..=8).prop_flat_map(|inst| {
        let q = q_for(&inst);
        (Just(inst), q)
    });
    check_theorem(config, strat, |(inst, q)| {
        let s = solve(inst, *q)?;
        let direct = kl(&s.solution.policy, &inst.base).map_err(|e| e.to_string())?;
        let log_inv_q = -q.ln();
        let tol = 1e-12 * log_inv_q.max(1.0) + 1e-15;
        let mut dev = Deviation::new((direct - s.solution.kl).abs(), tol);
        dev = dev.worst(Deviation::at_most(direct, log_inv_q, tol));
        let f = s.boundary_fraction;
        if f == 1.0 {
            dev = dev.worst(Deviation::new((direct - log_inv_q).abs(), tol));
        } else {
            let kept_share = s
                .solution
                .policy
                .mass_where(|i| inst.base.in_support(i) && inst.reward[i] == s.boundary_reward);
            let deficit = -kept_share * f.ln();
            if deficit > 2.0 * tol {
                dev = dev.worst(Deviation::new(
                    (log_inv_q - direct - deficit).abs(),
                    tol + 1e-12 * deficit,
                ));
            }
        }
        Ok(dev)
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

/// Per instance: `E_pi[r] <= E_q[r]` for random feasible competitors, to `1e-12` of the reward
/// scale (the competitor's mass may miss 1 by rounding of the running remainder, and both
/// expectations are compensated sums).
fn check_optimal(config: &CheckConfig) -> Verdict {
    let strat =
        (strategy::instance(1..=8), kept_mass(), 0.0f64..=1.0).prop_flat_map(|(inst, q, mix)| {
            let idx: Vec<usize> = (0..inst.base.len()).collect();
            (
                Just(inst),
                Just(q),
                Just(mix),
                Just(idx.clone()).prop_shuffle(),
                Just(idx).prop_shuffle(),
            )
        });
    check_theorem(config, strat, |(inst, q, mix, o1, o2)| {
        let s = solve(inst, *q)?;
        let a = competitor(&inst.base, *q, o1);
        let b = competitor(&inst.base, *q, o2);
        let pi: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| mix * x + (1.0 - mix) * y)
            .collect();
        let e_pi: f64 = crate::numeric::sum(pi.iter().zip(&inst.reward).map(|(p, r)| p * r));
        let scale = inst.reward.iter().fold(0.0f64, |m, r| m.max(r.abs()));
        Ok(Deviation::at_most(
            e_pi,
            s.solution.expected_reward,
            1e-12 * scale,
        ))
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
