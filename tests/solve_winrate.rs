//! `rlhf-claims solve` for `winrate_optimal`: the answer's fields, its win rate and KL recomputed
//! from the returned policy, and the error contract on bad input.

mod common;

use serde_json::{json, Value};

fn solve(problem: &Value) -> (i32, Value) {
    let (code, value) = common::solve_json(&problem.to_string());
    (code.unwrap_or(-1), value)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// `P(r(Y) > r(X)) + P(r(Y) = r(X))/2` for `Y ~ policy`, `X ~ base`, summed over pairs.
fn pairwise_win_rate(policy: &[f64], base: &[f64], reward: &[f64]) -> f64 {
    let mut w = 0.0;
    for (y, p) in policy.iter().enumerate() {
        for (x, b) in base.iter().enumerate() {
            if reward[y] > reward[x] {
                w += p * b;
            } else if reward[y] == reward[x] {
                w += 0.5 * p * b;
            }
        }
    }
    w
}

fn kl(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, b)| a * (a / b).ln())
        .sum()
}

#[test]
fn the_answer_spends_the_budget_and_reports_its_win_rate() {
    let base = [0.4, 0.1, 0.3, 0.2];
    let reward = [0.0, 1.0, 1.0, 3.0];
    let (code, out) = solve(&json!({
        "solver": "winrate_optimal", "base": base, "reward": reward, "kl_budget": 0.5
    }));
    assert_eq!(code, 0, "{out}");
    let mut keys: Vec<&String> = out
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    keys.sort();
    assert_eq!(
        keys,
        ["beta", "expected_reward", "kl", "policy", "win_rate"],
        "{out}"
    );
    let policy = floats(&out["policy"]);
    // Sums of four terms: a few eps; the budget solver hits the KL to ~1e-15 relative.
    let tol = 1e-13;
    let w = out["win_rate"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (w - pairwise_win_rate(&policy, &base, &reward)).abs() <= tol,
        "{out}"
    );
    assert!((kl(&policy, &base) - 0.5).abs() <= tol, "{out}");
    assert!(
        (out["kl"].as_f64().unwrap_or(f64::NAN) - 0.5).abs() <= tol,
        "{out}"
    );
    let e: f64 = policy.iter().zip(&reward).map(|(p, r)| p * r).sum();
    assert!((out["expected_reward"].as_f64().unwrap_or(f64::NAN) - e).abs() <= tol);
    assert!(out["beta"].as_f64().is_some_and(|b| b > 0.0), "{out}");
    // Tied outcomes keep their base odds (kl.odds): 0.1 : 0.3.
    assert!((policy[2] / policy[1] - 3.0).abs() <= 1e-12, "{out}");
}

#[test]
fn a_slack_budget_gives_the_top_class_and_a_null_beta() {
    let (code, out) = solve(&json!({
        "solver": "winrate_optimal", "base": [0.5, 0.5], "reward": [0, 1], "kl_budget": 10
    }));
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["policy"], json!([0.0, 1.0]));
    assert_eq!(out["beta"], Value::Null);
    assert_eq!(out["win_rate"], json!(0.75));
}

#[test]
fn bad_input_gets_the_json_error() {
    for (problem, kind) in [
        (
            json!({"solver": "winrate_optimal", "base": [0.5, 0.5], "reward": [0, 1], "kl_budget": -1}),
            "invalid_parameter",
        ),
        (
            json!({"solver": "winrate_optimal", "base": [0.5, 0.5], "reward": [0], "kl_budget": 1}),
            "length_mismatch",
        ),
        (
            json!({"solver": "winrate_optimal", "base": [0.5, 0.6], "reward": [0, 1], "kl_budget": 1}),
            "not_normalized",
        ),
        (
            json!({"solver": "winrate_optimal", "base": [0.5, 0.5], "reward": [0, 1]}),
            "invalid_input",
        ),
    ] {
        let (code, out) = solve(&problem);
        assert_eq!(code, 2, "{problem} -> {out}");
        assert_eq!(out["error"]["kind"], json!(kind), "{problem} -> {out}");
    }
}
