//! The fuzzing oracle's invariants as proptest properties over the Rust API (not the JSON
//! path): the exact solvers called directly on the crate's extreme strategies (masses down to
//! the subnormal range, buried top outcomes, temperatures from 1e-300 to 1e300), with the
//! rewards rescaled by up to `f64::MAX`, and each answer judged by `fuzz::oracle::check`.

use proptest::prelude::*;
use rlhf_claims::claims::strategy::{beta, instance, Instance};
use rlhf_claims::fuzz::{check, Failure, Finding};
use rlhf_claims::{solve, Dist};
use serde_json::{json, Value};

/// A reward scale: 1, tiny, huge, or so large that the spread exceeds `f64::MAX`.
fn scale() -> impl Strategy<Value = f64> {
    prop_oneof![4 => Just(1.0), 1 => Just(1e-300), 1 => Just(1e300), 1 => Just(1.7e307)]
}

/// The instance with its rewards scaled (kept finite), and its base rebuilt from the linear
/// probabilities: the strategies build subnormal masses from weights, with a log view more
/// precise than the linear one, while the oracle (like a JSON caller) sees only the linear
/// one; both must judge the same problem.
fn scaled(inst: &Instance, s: f64) -> Result<(Dist, Vec<f64>), TestCaseError> {
    let base =
        Dist::new(inst.base.probs().to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let r = inst
        .reward
        .iter()
        .map(|r| (r * s).clamp(-f64::MAX, f64::MAX))
        .collect();
    Ok((base, r))
}

/// Fails on a finding that is not a documented open item.
fn judge(problem: &Value, answer: &Value) -> Result<(), TestCaseError> {
    let (_, findings) = check(Some(problem), answer);
    let solver = problem["solver"].as_str().unwrap_or("").to_string();
    let new: Vec<&Finding> = findings
        .0
        .iter()
        .filter(|f| {
            let failure = Failure {
                index: 0,
                solver: solver.clone(),
                input: String::new(),
                finding: (*f).clone(),
                extreme: rlhf_claims::fuzz::is_extreme(problem),
            };
            !failure.is_known_open()
        })
        .collect();
    prop_assert!(new.is_empty(), "{new:?} for {problem}");
    Ok(())
}

fn base_json(base: &Dist) -> Value {
    json!(base.probs())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tilt_answers_satisfy_the_oracle(inst in instance(1..=6), b in beta(), s in scale()) {
        let (base, r) = scaled(&inst, s)?;
        let problem = json!({"solver": "tilt", "base": base_json(&base), "reward": r, "beta": b * s.max(1.0)});
        let beta = problem["beta"].as_f64().unwrap_or(f64::NAN);
        if let Ok(t) = solve::tilt(&base, &r, beta) {
            let answer = json!({"policy": t.solution.policy.probs(),
                "expected_reward": t.solution.expected_reward, "kl": t.solution.kl});
            judge(&problem, &answer)?;
        }
    }

    #[test]
    fn budget_answers_satisfy_the_oracle(inst in instance(1..=6), e in -20.0f64..1.0, s in scale()) {
        let (base, r) = scaled(&inst, s)?;
        let eps = 10f64.powf(e);
        let problem = json!({"solver": "kl_budget", "base": base_json(&base), "reward": r, "kl_budget": eps});
        if let Ok(k) = solve::kl_budget(&base, &r, eps) {
            let answer = json!({"policy": k.solution.policy.probs(),
                "expected_reward": k.solution.expected_reward, "kl": k.solution.kl,
                "beta": k.beta, "regime": k.regime});
            judge(&problem, &answer)?;
        }
    }

    #[test]
    fn quantilizer_answers_satisfy_the_oracle(inst in instance(1..=6), q in 1e-12f64..=1.0, s in scale()) {
        let (base, r) = scaled(&inst, s)?;
        let problem = json!({"solver": "quantilizer", "base": base_json(&base), "reward": r, "q": q});
        if let Ok(z) = solve::quantilize(&base, &r, q) {
            let answer = json!({"policy": z.solution.policy.probs(),
                "expected_reward": z.solution.expected_reward, "kl": z.solution.kl});
            judge(&problem, &answer)?;
        }
    }
}
