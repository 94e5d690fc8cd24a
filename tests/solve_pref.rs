//! `rlhf-claims solve` with `{"solver": "forward_kl", ...}`: agreement with an independent
//! 80-digit computation (`scripts/reference_forward_kl.py` -> `tests/fixtures/
//! forward_kl_reference.json`), and the error contract (exit code 2 with a JSON error object).

mod common;

use serde_json::{json, Value};

/// Runs `rlhf-claims solve` with `input` on stdin; returns (exit code, parsed stdout).
fn run_solve(input: &str) -> (i32, Value) {
    let (code, value) = common::solve_json(input);
    (code.unwrap_or(-1), value)
}

fn num(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

/// Relative agreement `1e-12`: the reference is exact to 80 digits then rounded to the nearest
/// double (error <= 2^-53 relative); the solver's root is exact to a few ulps in ln b and each
/// density ratio is `exp` of a log-ratio of size at most ~700, so its relative error is at most
/// ~700 * 2^-52 ~ 1.6e-13. `1e-12` leaves a factor ~6 of room and catches any real bug.
const REL: f64 = 1e-12;

fn close(got: f64, want: f64, what: &str, case: &str) {
    let err = (got - want).abs();
    assert!(
        err <= REL * want.abs().max(f64::MIN_POSITIVE),
        "{case}: {what} = {got:e}, reference {want:e} (rel err {:e})",
        err / want.abs()
    );
}

#[test]
fn forward_kl_matches_the_high_precision_reference() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/forward_kl_reference.json"
    ))
    .expect("fixture");
    let fixture: Value = serde_json::from_str(&text).expect("fixture JSON");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 8);
    for c in cases {
        let name = c["name"].as_str().expect("name");
        let problem = json!({
            "solver": "forward_kl",
            "base": c["base"],
            "reward": c["reward"],
            "gamma": c["gamma"],
        });
        let (code, out) = run_solve(&problem.to_string());
        assert_eq!(code, 0, "{name}: {out}");
        for (g, w) in out["policy"]
            .as_array()
            .expect("policy")
            .iter()
            .zip(c["policy"].as_array().expect("reference policy"))
        {
            close(num(g), num(w), "policy entry", name);
        }
        close(num(&out["lambda"]), num(&c["lambda"]), "lambda", name);
        close(
            num(&out["expected_reward"]),
            num(&c["expected_reward"]),
            "expected_reward",
            name,
        );
        close(num(&out["kl"]), num(&c["kl"]), "kl", name);
    }
}

#[test]
fn forward_kl_rejects_bad_input_with_exit_code_2_and_a_json_error() {
    let bad = [
        (
            r#"{"solver":"forward_kl","base":[0.5,0.5],"reward":[0,1],"gamma":0}"#,
            "invalid_parameter",
        ),
        (
            r#"{"solver":"forward_kl","base":[0.5,0.5],"reward":[0,1],"gamma":-1}"#,
            "invalid_parameter",
        ),
        (
            r#"{"solver":"forward_kl","base":[0.5,0.6],"reward":[0,1],"gamma":1}"#,
            "not_normalized",
        ),
        (
            r#"{"solver":"forward_kl","base":[0.5,0.5],"reward":[0],"gamma":1}"#,
            "length_mismatch",
        ),
        (
            r#"{"solver":"forward_kl","base":[0.5,0.5],"reward":[0,1]}"#,
            "invalid_input",
        ),
    ];
    for (input, kind) in bad {
        let (code, out) = run_solve(input);
        assert_eq!(code, 2, "{input}");
        assert_eq!(out["error"]["kind"], kind, "{input}: {out}");
    }
}
