//! Family `kl`: KL-regularized RL is a Bayesian update.

use super::strategy::{self, Instance};
use super::{check_theorem, CheckConfig, Claim, Deviation, Status, Verdict};
use crate::solve::tilt;

/// The claims of this family, in catalog order.
pub fn claims() -> Vec<Claim> {
    vec![Claim {
        id: "kl.tilt",
        title: "The KL-regularized optimum is the Gibbs tilt of the base",
        statement: "For $\\beta > 0$ the unique maximizer of $J(\\pi) = E_\\pi[r] - \\beta\\,KL(\\pi\\|\\pi_0)$ is \
$\\pi_\\beta(x) = \\pi_0(x) e^{r(x)/\\beta} / Z$ with $Z = E_{\\pi_0}[e^{r/\\beta}]$, and $\\max J = \\beta \\log Z$.",
        sources: &["[S0] Shlegeris 2022", "Korbak, Perez & Buckley 2022"],
        status: Status::Theorem,
        settled: None,
        check: check_tilt,
    }]
}

/// A random competitor policy on the support of the base: weights in (0, 1] on the support.
fn competitor(inst: &Instance, raw: &[f64]) -> Option<crate::Dist> {
    let w: Vec<f64> = (0..inst.base.len())
        .map(|i| {
            if inst.base.in_support(i) {
                raw[i % raw.len()]
            } else {
                0.0
            }
        })
        .collect();
    crate::Dist::from_weights(w).ok()
}

fn objective(inst: &Instance, pi: &crate::Dist, beta: f64) -> Result<f64, String> {
    let e = pi.expect(&inst.reward).map_err(|e| e.to_string())?;
    let k = crate::divergence::kl(pi, &inst.base).map_err(|e| e.to_string())?;
    Ok(e - beta * k)
}

/// Checks, per instance: (a) `log pi_beta(x) - log pi0(x) - (r(x) - r*)/beta` is the same
/// constant on the support (the Gibbs form), to `4 eps` times the size of the terms; (b)
/// `E[r] - beta KL = beta log Z` to `1e-12` relative when `log Z` is representable; (c) no
/// random competitor policy has a larger objective (slack `1e-12` relative to the scale of `J`).
fn check_tilt(config: &CheckConfig) -> Verdict {
    let strat = (
        strategy::instance(1..=8),
        strategy::beta(),
        proptest::collection::vec(0.01f64..1.0, 8),
    );
    check_theorem(config, strat, |(inst, beta, raw)| {
        let t = tilt(&inst.base, &inst.reward, *beta).map_err(|e| e.to_string())?;
        let pi = &t.solution.policy;
        let r_max = inst
            .base
            .support()
            .map(|i| inst.reward[i])
            .fold(f64::NEG_INFINITY, f64::max);
        // (a) Gibbs form on the outcomes the tilt keeps representable mass on.
        let mut consts = Vec::new();
        let mut scale = 1.0f64;
        for i in inst.base.support() {
            if pi.prob(i) > 0.0 {
                let w = (inst.reward[i] - r_max) / beta;
                consts.push(pi.log_prob(i) - inst.base.log_prob(i) - w);
                scale = scale.max(w.abs()).max(inst.base.log_prob(i).abs());
            }
        }
        let lo = consts.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = consts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut dev = Deviation::new(hi - lo, 8.0 * f64::EPSILON * scale);
        // Off the support the tilt has no mass.
        let off = (0..pi.len()).any(|i| !inst.base.in_support(i) && pi.prob(i) > 0.0);
        dev = dev.worst(Deviation::exact(!off));
        // (b) max J = beta log Z.
        let j = t.objective();
        let j_scale = inst.reward.iter().fold(1.0f64, |m, r| m.max(r.abs()));
        if (beta * t.log_partition).is_finite() {
            dev = dev.worst(Deviation::close(j, beta * t.log_partition, 1e-12, j_scale));
        }
        // (c) optimality against a competitor.
        if let Some(other) = competitor(inst, raw) {
            let j_other = objective(inst, &other, *beta)?;
            if j_other.is_finite() {
                dev = dev.worst(Deviation::at_most(j_other, j, 1e-12 * j_scale.max(j.abs())));
            }
        }
        Ok(dev)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilt_claim_passes_on_a_short_run() {
        let v = check_tilt(&CheckConfig::new(64, 7));
        assert!(v.passed, "{v:?}");
    }
}
