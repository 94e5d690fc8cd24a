//! `rlhf-claims solve` on malformed problems: every one must exit with status 2, print exactly
//! one JSON object `{"error": {"kind", "message"}}` on stdout with the right kind, print a human
//! message on stderr, and never panic.

mod common;

use serde_json::Value;
use std::process::Output;

fn run_solve(input: &str) -> Output {
    common::solve_output(input)
}

/// Checks the error contract for one input; returns a description of what is wrong, if
/// anything.
fn contract_violation(input: &str, kind: &str) -> Option<String> {
    let out = run_solve(input);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") {
        return Some(format!("panic: {stderr}"));
    }
    if out.status.code() != Some(2) {
        return Some(format!(
            "exit status {:?}, stdout {stdout}",
            out.status.code()
        ));
    }
    let values: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    let [v] = values.as_slice() else {
        return Some(format!("stdout is not exactly one JSON value: {stdout:?}"));
    };
    let Some(obj) = v.as_object() else {
        return Some(format!("stdout is not a JSON object: {v}"));
    };
    let err = obj.get("error").and_then(Value::as_object);
    let shape_ok = obj.len() == 1 && err.is_some_and(|e| e.len() == 2);
    let got_kind = err.and_then(|e| e.get("kind")).and_then(Value::as_str);
    let message = err.and_then(|e| e.get("message")).and_then(Value::as_str);
    if !shape_ok || got_kind != Some(kind) || message.is_none_or(str::is_empty) {
        return Some(format!("want kind {kind}, got {v}"));
    }
    if stderr.trim().is_empty() {
        return Some("no message on stderr".into());
    }
    None
}

const TILT_OK: &str = r#""solver": "tilt", "base": [0.5, 0.5], "reward": [0.0, 1.0]"#;

/// `(description, input, expected kind)`.
const CASES: &[(&str, &str, &str)] = &[
    ("bad JSON", "{not json", "invalid_input"),
    ("empty stdin", "", "invalid_input"),
    (
        "two objects",
        r#"{"solver": "maxent", "reward": [1], "alpha": 1} {}"#,
        "invalid_input",
    ),
    ("top-level array", "[1, 2]", "invalid_input"),
    (
        "unknown solver",
        r#"{"solver": "ppo", "reward": [1], "alpha": 1}"#,
        "invalid_input",
    ),
    (
        "no solver",
        r#"{"base": [1], "reward": [1], "beta": 1}"#,
        "invalid_input",
    ),
    (
        "missing beta",
        r#"{"solver": "tilt", "base": [1], "reward": [1]}"#,
        "invalid_input",
    ),
    (
        "missing base",
        r#"{"solver": "kl_budget", "reward": [1], "kl_budget": 1}"#,
        "invalid_input",
    ),
    (
        "missing target",
        r#"{"solver": "reward_target", "base": [1], "reward": [1]}"#,
        "invalid_input",
    ),
    (
        "missing threshold",
        r#"{"solver": "condition", "base": [1], "reward": [1]}"#,
        "invalid_input",
    ),
    (
        "missing alpha",
        r#"{"solver": "maxent", "reward": [1]}"#,
        "invalid_input",
    ),
    (
        "string for a number",
        r#"{"solver": "maxent", "reward": [1], "alpha": "1"}"#,
        "invalid_input",
    ),
    (
        "null for a number",
        r#"{"solver": "maxent", "reward": [1], "alpha": null}"#,
        "invalid_input",
    ),
    (
        "1e400 in the reward",
        r#"{"solver": "tilt", "base": [0.5, 0.5], "reward": [1e400, 0], "beta": 1}"#,
        "invalid_input",
    ),
    (
        "-1e400 in the base",
        r#"{"solver": "tilt", "base": [-1e400, 0.5], "reward": [1, 0], "beta": 1}"#,
        "invalid_input",
    ),
    (
        "beta = 1e400",
        r#"{"solver": "tilt", "base": [0.5, 0.5], "reward": [1, 0], "beta": 1e400}"#,
        "invalid_input",
    ),
    (
        "NaN literal",
        r#"{"solver": "maxent", "reward": [NaN], "alpha": 1}"#,
        "invalid_input",
    ),
    (
        "empty arrays (tilt)",
        r#"{"solver": "tilt", "base": [], "reward": [], "beta": 1}"#,
        "empty",
    ),
    (
        "empty arrays (kl_budget)",
        r#"{"solver": "kl_budget", "base": [], "reward": [], "kl_budget": 1}"#,
        "empty",
    ),
    (
        "empty reward (maxent)",
        r#"{"solver": "maxent", "reward": [], "alpha": 1}"#,
        "empty",
    ),
    (
        "length mismatch (tilt)",
        r#"{"solver": "tilt", "base": [0.5, 0.5], "reward": [1, 2, 3], "beta": 1}"#,
        "length_mismatch",
    ),
    (
        "length mismatch (condition)",
        r#"{"solver": "condition", "base": [0.5, 0.5], "reward": [1], "threshold": 0}"#,
        "length_mismatch",
    ),
    (
        "negative probability",
        r#"{"solver": "tilt", "base": [1.5, -0.5], "reward": [1, 0], "beta": 1}"#,
        "negative_probability",
    ),
    (
        "tiny negative probability",
        r#"{"solver": "kl_budget", "base": [1.0, -1e-300], "reward": [1, 0], "kl_budget": 1}"#,
        "negative_probability",
    ),
    (
        "unnormalized base",
        r#"{"solver": "tilt", "base": [0.5, 0.6], "reward": [1, 0], "beta": 1}"#,
        "not_normalized",
    ),
    (
        "base off by 1e-6",
        r#"{"solver": "reward_target", "base": [0.5, 0.500001], "reward": [1, 0], "target": 0.5}"#,
        "not_normalized",
    ),
    (
        "all-zero base",
        r#"{"solver": "condition", "base": [0, 0], "reward": [1, 0], "threshold": 0}"#,
        "not_normalized",
    ),
    (
        "beta = 0",
        r#"{"solver": "tilt", "base": [0.5, 0.5], "reward": [1, 0], "beta": 0}"#,
        "invalid_parameter",
    ),
    (
        "beta < 0",
        r#"{"solver": "tilt", "base": [0.5, 0.5], "reward": [1, 0], "beta": -1}"#,
        "invalid_parameter",
    ),
    (
        "negative budget",
        r#"{"solver": "kl_budget", "base": [0.5, 0.5], "reward": [1, 0], "kl_budget": -1e-300}"#,
        "invalid_parameter",
    ),
    (
        "alpha = 0",
        r#"{"solver": "maxent", "reward": [1, 0], "alpha": 0}"#,
        "invalid_parameter",
    ),
    (
        "alpha < 0",
        r#"{"solver": "maxent", "reward": [1, 0], "alpha": -2}"#,
        "invalid_parameter",
    ),
    (
        "target above max r",
        r#"{"solver": "reward_target", "base": [0.5, 0.5], "reward": [1, 0], "target": 1.5}"#,
        "infeasible",
    ),
    (
        "target above max r on the support",
        r#"{"solver": "reward_target", "base": [1, 0], "reward": [0, 5], "target": 3}"#,
        "infeasible",
    ),
    (
        "threshold above all rewards",
        r#"{"solver": "condition", "base": [0.5, 0.5], "reward": [1, 0], "threshold": 2}"#,
        "infeasible",
    ),
    (
        "threshold above the support's rewards",
        r#"{"solver": "condition", "base": [1, 0], "reward": [0, 5], "threshold": 3}"#,
        "infeasible",
    ),
];

#[test]
fn every_malformed_problem_gets_the_json_error() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|(what, input, kind)| {
            contract_violation(input, kind).map(|v| format!("{what}: {v}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Control: a valid problem is not an error (exit 0, a solution object), so the contract check
/// above distinguishes the two.
#[test]
fn a_valid_problem_is_not_an_error() {
    let out = run_solve(&format!("{{{TILT_OK}, \"beta\": 1}}"));
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(v.get("error").is_none() && v.get("policy").is_some(), "{v}");
    assert!(contract_violation(&format!("{{{TILT_OK}, \"beta\": 1}}"), "invalid_input").is_some());
}

#[test]
fn json_numbers_are_read_correctly_rounded() {
    // 0.9925434121760651 is the shortest text of its double; a parser off by one ulp reads
    // 0.9925434121760652. The echoed beta must be the same double.
    let out = run_solve(r#"{"solver":"tilt","base":[1],"reward":[0],"beta":0.9925434121760651}"#);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(v["beta"].as_f64(), Some(0.992_543_412_176_065_1), "{v}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0.9925434121760651"));
}
