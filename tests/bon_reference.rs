//! The exact best-of-N and quantilizer solvers against an independent 60-digit computation
//! (`scripts/reference_bon.py`, mpmath), fixture `tests/fixtures/bon_reference.json`: two-point
//! and uniform bases, reward ties, zeros in the base, constant rewards, near-degenerate bases
//! (masses 1e-13 next to 1 - 1e-13), and N up to 10^15.

use rlhf_claims::solve::{best_of_n, quantilize};
use rlhf_claims::Dist;
use serde_json::Value;

/// Relative tolerance: the solver forms each class probability in log space with `O(1)`
/// roundings of size `eps * |N log F|`; at N = 10^15 on the fixtures `|N log F|` stays below
/// ~10^3 wherever the probability is representable, so relative errors stay below ~1e-13.
const REL: f64 = 1e-12;
/// Absolute floor: a quantity that is exactly 0 (the KL at N = 1) comes out as a compensated
/// sum of terms of size ~1 that cancel, leaving rounding of a few `eps`.
const ABS: f64 = 1e-15;

fn fixture() -> Vec<Value> {
    let text = include_str!("fixtures/bon_reference.json");
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    v["cases"].as_array().cloned().unwrap_or_default()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// `|got - want| <= REL * |want| + ABS`, with a message naming the case.
pub fn assert_close(got: f64, want: f64, what: &str, case: &Value) {
    assert!(
        (got - want).abs() <= REL * want.abs() + ABS,
        "{what}: got {got:e}, reference {want:e} in {case}"
    );
}

fn check_common(case: &Value, policy: &[f64], e: f64, kl: f64) {
    let want = floats(&case["policy"]);
    assert_eq!(policy.len(), want.len());
    for (g, w) in policy.iter().zip(&want) {
        assert_close(*g, *w, "policy", case);
    }
    assert_close(
        e,
        case["expected_reward"].as_f64().unwrap_or(f64::NAN),
        "E[r]",
        case,
    );
    assert_close(kl, case["kl"].as_f64().unwrap_or(f64::NAN), "KL", case);
}

#[test]
fn best_of_n_matches_the_60_digit_reference() -> rlhf_claims::Result<()> {
    let cases: Vec<Value> = fixture()
        .into_iter()
        .filter(|c| c["solver"] == "best_of_n")
        .collect();
    assert!(
        cases.len() >= 30,
        "fixture has {} best-of-N cases",
        cases.len()
    );
    for case in &cases {
        let base = Dist::new(floats(&case["base"]))?;
        let n = case["n"].as_u64().unwrap_or(0);
        let b = best_of_n(&base, &floats(&case["reward"]), n)?;
        check_common(
            case,
            b.solution.policy.probs(),
            b.solution.expected_reward,
            b.solution.kl,
        );
        for key in ["kl_bound", "win_rate_half_ties", "win_rate_strict"] {
            let got = match key {
                "kl_bound" => b.kl_bound,
                "win_rate_half_ties" => b.win_rate_half_ties,
                _ => b.win_rate_strict,
            };
            assert_close(got, case[key].as_f64().unwrap_or(f64::NAN), key, case);
        }
    }
    Ok(())
}

#[test]
fn quantilizer_matches_the_60_digit_reference() -> rlhf_claims::Result<()> {
    let cases: Vec<Value> = fixture()
        .into_iter()
        .filter(|c| c["solver"] == "quantilizer")
        .collect();
    assert!(
        cases.len() >= 15,
        "fixture has {} quantilizer cases",
        cases.len()
    );
    for case in &cases {
        let base = Dist::new(floats(&case["base"]))?;
        let q = case["q"].as_f64().unwrap_or(f64::NAN);
        let s = quantilize(&base, &floats(&case["reward"]), q)?;
        check_common(
            case,
            s.solution.policy.probs(),
            s.solution.expected_reward,
            s.solution.kl,
        );
    }
    Ok(())
}
