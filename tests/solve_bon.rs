//! `rlhf-claims solve` for `best_of_n` and `quantilizer`: agreement with the 60-digit fixture
//! (`scripts/reference_bon.py`) through the binary, and the error contract.

mod common;

use serde_json::{json, Value};

/// Relative tolerance against the fixture; see `tests/bon_reference.rs` for its derivation
/// (the JSON round trip is exact: numbers are written in shortest round-trip form).
const REL: f64 = 1e-12;
const ABS: f64 = 1e-15;

fn solve(problem: &Value) -> (i32, Value) {
    let (code, value) = common::solve_json(&problem.to_string());
    (code.unwrap_or(-1), value)
}

fn close(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) => (g - w).abs() <= REL * w.abs() + ABS,
        _ => false,
    }
}

#[test]
fn binary_agrees_with_the_reference_at_large_n_and_with_ties() {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/bon_reference.json")).unwrap_or(Value::Null);
    let cases = fixture["cases"].as_array().cloned().unwrap_or_default();
    let chosen: Vec<&Value> = cases
        .iter()
        .filter(|c| {
            c["n"].as_u64() == Some(1_000_000_000_000)
                || (c["solver"] == "quantilizer" && c["reward"] == json!([0.0, 1.0, 1.0, 2.0]))
        })
        .collect();
    assert!(chosen.len() >= 8, "only {} cases chosen", chosen.len());
    for case in chosen {
        let mut problem =
            json!({"solver": case["solver"], "base": case["base"], "reward": case["reward"]});
        if case["solver"] == "best_of_n" {
            problem["n"] = case["n"].clone();
        } else {
            problem["q"] = case["q"].clone();
        }
        let (code, out) = solve(&problem);
        assert_eq!(code, 0, "{problem} -> {out}");
        let keys: &[&str] = if case["solver"] == "best_of_n" {
            &[
                "expected_reward",
                "kl",
                "kl_bound",
                "win_rate_half_ties",
                "win_rate_strict",
            ]
        } else {
            &["expected_reward", "kl"]
        };
        for key in keys {
            assert!(
                close(&out[key], &case[key]),
                "{key}: {} vs {} in {problem}",
                out[key],
                case[key]
            );
        }
        let got = out["policy"].as_array().cloned().unwrap_or_default();
        let want = case["policy"].as_array().cloned().unwrap_or_default();
        assert_eq!(got.len(), want.len());
        assert!(got.iter().zip(&want).all(|(g, w)| close(g, w)), "{problem}");
    }
}

#[test]
fn n_as_a_float_literal_is_read_exactly_when_integral() {
    let base = json!([0.5, 0.5]);
    let (code, a) =
        solve(&json!({"solver": "best_of_n", "base": base, "reward": [0, 1], "n": 1e12}));
    assert_eq!(code, 0, "{a}");
    assert_eq!(a["n"], json!(1_000_000_000_000u64));
    // log(10^12) - (10^12 - 1)/10^12 = 12 ln 10 - 1 + 1e-12.
    let want = 12.0 * std::f64::consts::LN_10 - 1.0 + 1e-12;
    assert!((a["kl_bound"].as_f64().unwrap_or(f64::NAN) - want).abs() < 1e-14);
}

#[test]
fn bad_parameters_are_typed_errors() {
    let bad = [
        json!({"solver": "best_of_n", "base": [1.0], "reward": [0.0], "n": 0}),
        json!({"solver": "best_of_n", "base": [1.0], "reward": [0.0], "n": 2.5}),
        json!({"solver": "best_of_n", "base": [1.0], "reward": [0.0], "n": -3}),
        json!({"solver": "best_of_n", "base": [1.0], "reward": [0.0], "n": 1e300}),
        json!({"solver": "quantilizer", "base": [1.0], "reward": [0.0], "q": 0.0}),
        json!({"solver": "quantilizer", "base": [1.0], "reward": [0.0], "q": 1.5}),
        json!({"solver": "quantilizer", "base": [1.0], "reward": [0.0], "q": -0.5}),
    ];
    for problem in bad {
        let (code, out) = solve(&problem);
        assert_eq!(code, 2, "{problem} -> {out}");
        assert_eq!(
            out["error"]["kind"], "invalid_parameter",
            "{problem} -> {out}"
        );
    }
    let (code, out) =
        solve(&json!({"solver": "best_of_n", "base": [0.5, 0.6], "reward": [0, 1], "n": 2}));
    assert_eq!(code, 2);
    assert_eq!(out["error"]["kind"], "not_normalized", "{out}");
}
