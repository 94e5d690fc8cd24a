//! Family `conditioning`: conditioning versus RL (the tilt) at matched expected reward.

use super::strategy::{self, Instance};
use super::strategy_bon::{self as sb, draws, kept_mass};
use super::{check_theorem, CheckConfig, Claim, Deviation, Status, Verdict};
use crate::divergence::entropy;
use crate::solve::{best_of_n, condition_on_threshold, quantilize, reward_target, Solution};
use crate::Dist;
use proptest::prelude::*;

/// The claims of this family, in catalog order.
pub fn claims() -> Vec<Claim> {
    vec![
        Claim {
            id: "conditioning.tilt-closest",
            title: "At equal expected reward the tilt is KL-closest to the base",
            statement: "If a policy $\\pi$ (threshold conditioning $\\pi_0(\\cdot\\mid r \\ge t)$, best-of-N, or \
the q-quantilizer) has $E_\\pi[r] = c$, the tilt with $E[r] = c$ has $KL(\\cdot\\|\\pi_0) \\le KL(\\pi\\|\\pi_0)$.",
            sources: &["[S0] Shlegeris 2022", "[S2]"],
            status: Status::Theorem,
            settled: None,
            check: check_tilt_closest,
            control: None,
        },
        Claim {
            id: "conditioning.more-diverse",
            title: "\"Conditioning keeps more diversity than RLHF at the same score\"",
            statement: "For every base and threshold $t$, $H(\\pi_0(\\cdot\\mid r \\ge t)) \\ge H(\\pi_c)$ where \
$\\pi_c$ is the tilt with the same expected reward $c$.",
            sources: &["[S2]"],
            status: Status::Refuted,
            settled: None,
            check: check_more_diverse,
            control: None,
        },
        Claim {
            id: "conditioning.uniform-maxent",
            title: "For a uniform base the tilt is the maximum-entropy policy at its reward",
            statement: "For uniform $\\pi_0$ and any $\\pi$ with $E_\\pi[r] \\ge c$: $H(\\pi) \\le H(\\pi_c)$, where \
$\\pi_c$ is the tilt with $E[r] = c$ ($\\pi_0$ itself if $c \\le E_{\\pi_0}[r]$).",
            sources: &["[S2] (discussion)"],
            status: Status::Theorem,
            settled: None,
            check: check_uniform_maxent,
            control: None,
        },
    ]
}

fn err(e: crate::Error) -> String {
    e.to_string()
}

/// The three selection methods compared with the tilt, each as (expected reward, KL).
fn methods(inst: &Instance, t_index: usize, n: u64, q: f64) -> Result<Vec<Solution>, String> {
    let t = inst.reward[t_index % inst.reward.len()];
    let mut out = Vec::new();
    match condition_on_threshold(&inst.base, &inst.reward, t) {
        Ok(s) => out.push(s),
        Err(crate::Error::Infeasible(_)) => {} // the bar is above every outcome with mass
        Err(e) => return Err(err(e)),
    }
    out.push(
        best_of_n(&inst.base, &inst.reward, n)
            .map_err(err)?
            .solution,
    );
    out.push(
        quantilize(&inst.base, &inst.reward, q)
            .map_err(err)?
            .solution,
    );
    Ok(out)
}

/// Per instance and method: the tilt at the method's expected reward has KL at most the
/// method's, with the tolerance of [`sb::tilt_kl_at_most`].
fn check_tilt_closest(config: &CheckConfig) -> Verdict {
    let strat = (strategy::instance(1..=6), 0usize..6, draws(), kept_mass());
    check_theorem(config, strat, |(inst, t_index, n, q)| {
        let mut dev = Deviation::new(0.0, 0.0);
        for m in methods(inst, *t_index, *n, *q)? {
            dev = dev.worst(sb::tilt_kl_at_most(inst, m.expected_reward, m.kl)?);
        }
        Ok(dev)
    })
}

/// Whether `H(pi0(.|r >= t)) >= H(tilt at the same expected reward)` holds on an instance,
/// with the threshold `t = r[t_index]`; to `1e-9` (the counterexamples violate it by `O(0.1)`
/// nats, and the tilt's entropy is exact to the root finder's ~1e-12).
pub fn more_diverse_holds(inst: &Instance, t_index: usize) -> Result<bool, String> {
    let t = inst.reward[t_index % inst.reward.len()];
    let cond = match condition_on_threshold(&inst.base, &inst.reward, t) {
        Ok(s) => s,
        Err(crate::Error::Infeasible(_)) => return Ok(true),
        Err(e) => return Err(err(e)),
    };
    let tilt = sb::tilt_at_reward(inst, cond.expected_reward)?;
    Ok(entropy(&cond.policy) >= entropy(&tilt.solution.policy) - 1e-9)
}

/// The search space of `conditioning.more-diverse`: small integer instances and a threshold
/// index.
pub fn more_diverse_strategy() -> impl Strategy<Value = (Instance, usize)> {
    (sb::integer_instance(1..=4), 0usize..4)
}

fn check_more_diverse(config: &CheckConfig) -> Verdict {
    super::minimal::find_minimal_counterexample(
        config,
        more_diverse_strategy(),
        |(inst, t)| more_diverse_holds(inst, *t),
        super::minimal::MORE_DIVERSE,
    )
}

/// Per instance: a random policy `pi` (weights in `[0.01, 1]` or 0) sets `c = E_pi[r]`; the
/// tilt of the uniform base at `c` has entropy at least `H(pi)`, to `1e-9 max(1, H)`: the
/// tilt's target is off by the rounding of `c`, which moves its entropy by `|dH/dc| dc = dc /
/// beta`; we evaluate the tilt at `c - 16 eps s` (as in [`sb::tilt_kl_at_most`]), which can only
/// raise its entropy, so the tolerance covers the root finder and the entropy sums alone.
fn check_uniform_maxent(config: &CheckConfig) -> Verdict {
    let strat = (1usize..=8).prop_flat_map(|n| {
        (
            strategy::reward(n),
            proptest::collection::vec(prop_oneof![1 => Just(0.0), 4 => 0.01f64..1.0], n),
        )
    });
    check_theorem(config, strat, |(reward, w)| {
        let n = reward.len();
        let base = Dist::uniform(n).map_err(err)?;
        let mut w = w.clone();
        if w.iter().all(|x| *x == 0.0) {
            w[0] = 1.0;
        }
        let pi = Dist::from_weights(w).map_err(err)?;
        let c = pi.expectation(reward).map_err(err)?;
        let scale = reward.iter().fold(0.0f64, |m, r| m.max(r.abs()));
        let inst = Instance {
            base: base.clone(),
            reward: reward.clone(),
        };
        let target = (c - 16.0 * f64::EPSILON * scale).min(sb::support_max(&inst));
        let t = reward_target(&base, reward, target).map_err(err)?;
        let h_tilt = entropy(&t.solution.policy);
        let h_pi = entropy(&pi);
        Ok(Deviation::at_most(h_pi, h_tilt, 1e-9 * h_tilt.max(1.0)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_conditioning_claim_passes_a_short_run() {
        crate::claims::assert_short_run_passes(&claims(), 32, 9);
    }
}
