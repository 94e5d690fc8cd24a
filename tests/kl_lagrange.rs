//! The `kl.*` and `lagrange.*` claims through the registry, and targeted edge cases of the
//! solvers behind them (`tilt`, `kl_budget`, `reward_target`, `condition_on_threshold`,
//! `maxent`): extreme ratios r/beta, extreme beta, mixed signs and scales, zeros in the base,
//! one outcome, 10^6 outcomes, every validation error, and every constraint regime. Expected
//! values are derived in the comments.

use rlhf_claims::claims::{self, CheckConfig};
use rlhf_claims::solve::{
    condition_on_threshold, kl_budget, maxent, reward_target, tilt, BudgetRegime, TargetRegime,
};
use rlhf_claims::{Dist, Error, Result};

const IDS: [&str; 13] = [
    "kl.tilt",
    "kl.gap",
    "kl.density-budget",
    "kl.support",
    "kl.odds",
    "kl.collapse",
    "kl.monotone",
    "kl.maxent",
    "lagrange.kl-budget",
    "lagrange.reward-target",
    "lagrange.duality",
    "lagrange.threshold",
    "lagrange.lexicographic",
];

fn rel_err(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Every claim of both families is registered under its catalog id, has a proof file, and its
/// property holds on 256 cases from a seed different from the CLI default.
#[test]
fn every_kl_and_lagrange_claim_passes_through_the_registry() {
    for id in IDS {
        let claim = claims::find(id).unwrap_or_else(|| panic!("{id} is not registered"));
        assert!(
            std::path::Path::new(&claim.proof_path()).exists(),
            "{id}: missing {}",
            claim.proof_path()
        );
        let v = claim.run(&CheckConfig::new(256, 2024));
        assert!(v.passed, "{id}: {v:?}");
        assert_eq!(v.cases, 256, "{id}");
    }
}

/// r/beta = 1e5 on base (1/2, 1/2), r = (0, 1e5), beta = 1: pi(0) = e^{-1e5}/(1 + e^{-1e5})
/// underflows to 0, pi(1) = 1, KL = log 2, E = 1e5, and log Z = log((1 + e^{1e5})/2)
/// = 1e5 - log 2 + log1p(e^{-1e5}) = 1e5 - log 2 in double precision.
#[test]
fn tilt_with_reward_over_beta_of_1e5() -> Result<()> {
    let base = Dist::new(vec![0.5, 0.5])?;
    let t = tilt(&base, &[0.0, 1e5], 1.0)?;
    assert_eq!(t.solution.policy.probs(), &[0.0, 1.0]);
    assert!(rel_err(t.solution.kl, 2f64.ln()) <= 4.0 * f64::EPSILON);
    assert_eq!(t.solution.expected_reward, 1e5);
    assert!(rel_err(t.log_partition, 1e5 - 2f64.ln()) <= 2.0 * f64::EPSILON);
    Ok(())
}

/// r/beta = 1e300 (r = (0, 1), beta = 1e-300): the same policy (0, 1), KL = log 2, E = 1, and
/// log Z = 1/1e-300 - log 2, which is 1/1e-300 (~1e300) to double precision. With r = (0, 1e10) the ratio
/// overflows; log Z is then +inf (documented), while the policy, E and KL stay exact.
#[test]
fn tilt_with_reward_over_beta_of_1e300_and_beyond() -> Result<()> {
    let base = Dist::new(vec![0.5, 0.5])?;
    let t = tilt(&base, &[0.0, 1.0], 1e-300)?;
    assert_eq!(t.solution.policy.probs(), &[0.0, 1.0]);
    assert!(rel_err(t.solution.kl, 2f64.ln()) <= 4.0 * f64::EPSILON);
    assert_eq!(t.solution.expected_reward, 1.0);
    assert!(rel_err(t.log_partition, 1.0 / 1e-300) <= 2.0 * f64::EPSILON);
    let t = tilt(&base, &[0.0, 1e10], 1e-300)?;
    assert_eq!(t.solution.policy.probs(), &[0.0, 1.0]);
    assert_eq!(t.log_partition, f64::INFINITY);
    // J = E - beta KL = 1e10 - 1e-300 log 2 = 1e10.
    assert_eq!(t.objective(), 1e10);
    Ok(())
}

/// Huge beta: KL(pi_beta||pi0) = Var0/(2 beta^2) + O(beta^-3). For base (1/2, 1/2), r = (0, 1),
/// Var0 = 1/4, so at beta = 1e150, KL = 1/8 * 1e-300 = 1.25e-301 (relative correction 1e-150),
/// and E = 1/2 + Var0/beta = 1/2 + 2.5e-151 = 1/2 in double precision.
#[test]
fn tilt_with_huge_beta_keeps_the_tiny_kl() -> Result<()> {
    let base = Dist::new(vec![0.5, 0.5])?;
    let t = tilt(&base, &[0.0, 1.0], 1e150)?;
    assert!(rel_err(t.solution.kl, 1.25e-301) <= 1e-13);
    assert_eq!(t.solution.expected_reward, 0.5);
    Ok(())
}

/// Mixed signs and scales: uniform base on 3 outcomes, r = (-1e6, 1e-6, 1e6), beta = 1e6, so
/// r/beta = (-1, 1e-12, 1) and pi = e^{r/beta} / sum e^{r/beta}, computed directly here (the
/// exponents are moderate).
#[test]
fn tilt_with_mixed_sign_and_scale_rewards() -> Result<()> {
    let base = Dist::uniform(3)?;
    let r = [-1e6, 1e-6, 1e6];
    let t = tilt(&base, &r, 1e6)?;
    let w: Vec<f64> = r.iter().map(|x| (x / 1e6).exp()).collect();
    let z: f64 = w.iter().sum();
    for (i, wi) in w.iter().enumerate() {
        assert!(rel_err(t.solution.policy.prob(i), wi / z) <= 1e-14);
    }
    // log Z = log(z/3).
    assert!(rel_err(t.log_partition, (z / 3.0).ln()) <= 1e-14);
    Ok(())
}

/// Zeros in the base: base (1/2, 0, 1/2), r = (0, 100, 1), beta = 1. The outcome of reward 100
/// has no base mass and gets none (kl.support); on the support pi = (1, e)/(1 + e).
/// The KL budget's slack threshold is -log pi0(argmax on the support) = log 2.
#[test]
fn zeros_in_the_base_are_respected() -> Result<()> {
    let base = Dist::new(vec![0.5, 0.0, 0.5])?;
    let r = [0.0, 100.0, 1.0];
    let t = tilt(&base, &r, 1.0)?;
    let e = std::f64::consts::E;
    assert_eq!(t.solution.policy.prob(1), 0.0);
    assert!(rel_err(t.solution.policy.prob(2), e / (1.0 + e)) <= 4.0 * f64::EPSILON);
    let b = kl_budget(&base, &r, 2f64.ln())?;
    assert_eq!(b.regime, BudgetRegime::Slack);
    assert_eq!(b.solution.expected_reward, 1.0);
    assert_eq!(b.solution.policy.probs(), &[0.0, 0.0, 1.0]);
    Ok(())
}

/// One outcome: the tilt is the base, KL = 0, E = r, log Z = r/beta; every KL budget is slack
/// (max KL = -log 1 = 0) and every target <= r is met by the base.
#[test]
fn a_single_outcome() -> Result<()> {
    let base = Dist::new(vec![1.0])?;
    let t = tilt(&base, &[3.0], 0.5)?;
    assert_eq!(t.solution.policy.probs(), &[1.0]);
    assert_eq!(t.solution.kl, 0.0);
    assert_eq!(t.solution.expected_reward, 3.0);
    assert_eq!(t.log_partition, 6.0);
    assert_eq!(kl_budget(&base, &[3.0], 0.0)?.regime, BudgetRegime::Slack);
    let rt = reward_target(&base, &[3.0], 3.0)?;
    assert_eq!(rt.regime, TargetRegime::Unconstrained);
    assert!(matches!(
        reward_target(&base, &[3.0], 3.5),
        Err(Error::Infeasible(_))
    ));
    Ok(())
}

/// 10^6 outcomes: uniform base, r_i = i/n, beta = 1/lambda with lambda = 10. Geometric sums:
/// Z = (1/n) sum_i e^{lambda i/n} = expm1(lambda) / (n expm1(lambda/n)), and
/// E = d log Z / d lambda = e^lambda/expm1(lambda) - (1/n) e^{lambda/n}/expm1(lambda/n).
/// Then kl_budget at the tilt's KL must return beta = 0.1 again.
#[test]
fn a_million_outcomes() -> Result<()> {
    let n = 1_000_000usize;
    let nf = n as f64;
    let base = Dist::uniform(n)?;
    let r: Vec<f64> = (0..n).map(|i| i as f64 / nf).collect();
    let lambda = 10.0f64;
    let t = tilt(&base, &r, 1.0 / lambda)?;
    let log_z = lambda.exp_m1().ln() - (nf * (lambda / nf).exp_m1()).ln();
    assert!(rel_err(t.log_partition, log_z) <= 1e-12);
    let e = lambda.exp() / lambda.exp_m1() - (lambda / nf).exp() / (nf * (lambda / nf).exp_m1());
    assert!(rel_err(t.solution.expected_reward, e) <= 1e-12);
    // KL = lambda E - log Z (no cancellation here: lambda E ~ 9, log Z ~ 7.7).
    assert!(rel_err(t.solution.kl, lambda * e - log_z) <= 1e-12);
    let b = kl_budget(&base, &r, t.solution.kl)?;
    assert_eq!(b.regime, BudgetRegime::Binding);
    assert!(rel_err(b.beta.unwrap_or(f64::NAN), 0.1) <= 1e-12);
    Ok(())
}

/// Every validation error kind the solvers can return.
#[test]
fn every_validation_error_kind() -> Result<()> {
    assert!(matches!(Dist::new(vec![]), Err(Error::Empty { .. })));
    assert!(matches!(
        Dist::new(vec![f64::NAN, 1.0]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        Dist::new(vec![-0.5, 1.5]),
        Err(Error::NegativeProbability { .. })
    ));
    assert!(matches!(
        Dist::new(vec![0.5, 0.6]),
        Err(Error::NotNormalized { .. })
    ));
    let base = Dist::new(vec![0.5, 0.5])?;
    assert!(matches!(tilt(&base, &[], 1.0), Err(Error::Empty { .. })));
    assert!(matches!(
        tilt(&base, &[1.0, 2.0, 3.0], 1.0),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        tilt(&base, &[1.0, f64::INFINITY], 1.0),
        Err(Error::NonFinite { .. })
    ));
    for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            tilt(&base, &[0.0, 1.0], beta),
            Err(Error::InvalidParameter { .. })
        ));
    }
    for eps in [-1e-300, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            kl_budget(&base, &[0.0, 1.0], eps),
            Err(Error::InvalidParameter { .. })
        ));
    }
    assert!(matches!(
        reward_target(&base, &[0.0, 1.0], f64::NAN),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        reward_target(&base, &[0.0, 1.0], 1.0 + 1e-15),
        Err(Error::Infeasible(_))
    ));
    assert!(matches!(
        condition_on_threshold(&base, &[0.0, 1.0], f64::NAN),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        condition_on_threshold(&base, &[0.0, 1.0], 1.5),
        Err(Error::Infeasible(_))
    ));
    assert!(matches!(maxent(&[], 1.0), Err(Error::Empty { .. })));
    assert!(matches!(
        maxent(&[0.0, 1.0], 0.0),
        Err(Error::InvalidParameter { .. })
    ));
    Ok(())
}

/// The KL-budget regimes on base (0.4, 0.3, 0.2, 0.1), r = (0, 1, 2, 3): max KL = -log 0.1.
/// Zero budget: pi0 (E = 1). Slack at exactly -log 0.1: the point mass on outcome 3 (E = 3).
/// Binding at the KL of the tilt at beta = 0.7: beta = 0.7 again. Just below the boundary
/// (1 - 1e-12 of the max KL): still binding, with KL = eps to 1e-13 relative.
#[test]
fn kl_budget_regimes() -> Result<()> {
    let base = Dist::new(vec![0.4, 0.3, 0.2, 0.1])?;
    let r = [0.0, 1.0, 2.0, 3.0];
    let zero = kl_budget(&base, &r, 0.0)?;
    assert_eq!(zero.regime, BudgetRegime::Zero);
    assert_eq!(zero.beta, None);
    assert!((zero.solution.expected_reward - 1.0).abs() <= 4.0 * f64::EPSILON);
    let max = -(0.1f64.ln());
    let slack = kl_budget(&base, &r, max)?;
    assert_eq!(slack.regime, BudgetRegime::Slack);
    assert_eq!(slack.solution.policy.probs(), &[0.0, 0.0, 0.0, 1.0]);
    assert_eq!(slack.solution.expected_reward, 3.0);
    let t = tilt(&base, &r, 0.7)?;
    let binding = kl_budget(&base, &r, t.solution.kl)?;
    assert_eq!(binding.regime, BudgetRegime::Binding);
    assert!(rel_err(binding.beta.unwrap_or(f64::NAN), 0.7) <= 1e-13);
    let eps = max * (1.0 - 1e-12);
    let near = kl_budget(&base, &r, eps)?;
    assert_eq!(near.regime, BudgetRegime::Binding);
    assert!(rel_err(near.solution.kl, eps) <= 1e-13);
    Ok(())
}

/// The reward-target regimes on the same example (E0 = 1, max r = 3): c = 0.5 and c = 1 are
/// met by pi0; c = 3 is the boundary pi0(.|r = 3) with KL = -log 0.1; c = 3 + 1e-12 is
/// infeasible; c = E of the tilt at beta = 0.7 gives beta = 0.7; c = 3 - 1e-9 is still interior
/// (the tilt has E = 3 - 1e-9 at some beta ~ 0.05) and gives E = c.
#[test]
fn reward_target_regimes() -> Result<()> {
    let base = Dist::new(vec![0.4, 0.3, 0.2, 0.1])?;
    let r = [0.0, 1.0, 2.0, 3.0];
    for c in [0.5, 1.0] {
        let s = reward_target(&base, &r, c)?;
        assert_eq!(s.regime, TargetRegime::Unconstrained);
        assert_eq!(s.solution.kl, 0.0);
    }
    let b = reward_target(&base, &r, 3.0)?;
    assert_eq!(b.regime, TargetRegime::Boundary);
    assert!(rel_err(b.solution.kl, -(0.1f64.ln())) <= 2.0 * f64::EPSILON);
    assert!(matches!(
        reward_target(&base, &r, 3.0 + 1e-12),
        Err(Error::Infeasible(_))
    ));
    let t = tilt(&base, &r, 0.7)?;
    let s = reward_target(&base, &r, t.solution.expected_reward)?;
    assert_eq!(s.regime, TargetRegime::Interior);
    assert!(rel_err(s.beta.unwrap_or(f64::NAN), 0.7) <= 1e-12);
    let c = 3.0 - 1e-9;
    let s = reward_target(&base, &r, c)?;
    assert_eq!(s.regime, TargetRegime::Interior);
    assert!((s.solution.expected_reward - c).abs() <= 1e-13 * 1e-9 + 8.0 * f64::EPSILON);
    Ok(())
}

/// Conditioning on r >= t for base (0.4, 0.3, 0.2, 0.1), r = (0, 1, 2, 3), t = 2: the policy is
/// (0, 0, 2/3, 1/3), KL = -log 0.3, E = (2*0.2 + 3*0.1)/0.3 = 7/3. With a base mass of 1 - 1e-15
/// above the bar, KL = -log(1 - 1e-15) = 1e-15 + 5e-31, which needs the complement sum.
#[test]
fn threshold_conditioning() -> Result<()> {
    let base = Dist::new(vec![0.4, 0.3, 0.2, 0.1])?;
    let s = condition_on_threshold(&base, &[0.0, 1.0, 2.0, 3.0], 2.0)?;
    assert!(rel_err(s.policy.prob(2), 2.0 / 3.0) <= 2.0 * f64::EPSILON);
    assert!(rel_err(s.kl, -(0.3f64.ln())) <= 2.0 * f64::EPSILON);
    assert!(rel_err(s.expected_reward, 7.0 / 3.0) <= 4.0 * f64::EPSILON);
    let base = Dist::new(vec![1e-15, 1.0 - 1e-15])?;
    let s = condition_on_threshold(&base, &[0.0, 1.0], 0.5)?;
    let p_below = base.prob(0);
    assert!(rel_err(s.kl, -(-p_below).ln_1p()) <= 4.0 * f64::EPSILON);
    Ok(())
}

/// MaxEnt: for r = (0, log 3), alpha = 1, softmax = (1/4, 3/4) and the value is
/// log(e^0 + e^{log 3}) = log 4. For alpha = 1e-300 the policy is the argmax and the value is
/// max r + alpha log(#argmax) = max r.
#[test]
fn maxent_values() -> Result<()> {
    let m = maxent(&[0.0, 3f64.ln()], 1.0)?;
    assert!(rel_err(m.solution.policy.prob(1), 0.75) <= 4.0 * f64::EPSILON);
    assert!(rel_err(m.value, 4f64.ln()) <= 4.0 * f64::EPSILON);
    let m = maxent(&[1.0, 2.0, -5.0], 1e-300)?;
    assert_eq!(m.solution.policy.probs(), &[0.0, 1.0, 0.0]);
    assert_eq!(m.value, 2.0);
    Ok(())
}

/// A heavier sweep (16 seeds x 4096 cases per claim), run with `RLHF_CLAIMS_HEAVY=1`; this is
/// the sweep that found the solver weaknesses fixed in `solve/tilt.rs`.
#[test]
fn heavy_sweep_of_kl_and_lagrange_claims() {
    if std::env::var("RLHF_CLAIMS_HEAVY").as_deref() != Ok("1") {
        return;
    }
    for seed in 400..416 {
        for id in IDS {
            let claim = claims::find(id).unwrap_or_else(|| panic!("{id} is not registered"));
            let v = claim.run(&CheckConfig::new(4096, seed));
            assert!(v.passed, "{id} seed {seed}: {v:?}");
        }
    }
}
