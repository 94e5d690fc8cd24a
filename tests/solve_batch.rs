//! The batch form of `solve`: `{"batch": [problem, ...]}` gives `{"batch": [solution, ...]}`,
//! each entry exactly the single problem's answer (same JSON, same bits), a failing problem an
//! error object in its place.

use rlhf_claims::api::solve_str;
use serde_json::{json, Value};

/// Three kinds of problem and a bad one (beta = -1), plus a problem large enough (2 x 70000
/// outcomes) that the batch is split over threads.
fn problems() -> Vec<Value> {
    let n = 70_000;
    let base: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64).collect();
    let total: f64 = base.iter().sum();
    let base: Vec<f64> = base.iter().map(|w| w / total).collect();
    let reward: Vec<f64> = (0..n).map(|i| ((i * 31) % 13) as f64 * 0.1).collect();
    vec![
        json!({"solver": "tilt", "base": [0.2, 0.3, 0.5], "reward": [1.0, 0.0, 2.0], "beta": 0.7}),
        json!({"solver": "kl_budget", "base": [0.2, 0.3, 0.5], "reward": [1.0, 0.0, 2.0], "kl_budget": 0.1}),
        json!({"solver": "tilt", "base": [0.5, 0.5], "reward": [0.0, 1.0], "beta": -1.0}),
        json!({"solver": "best_of_n", "base": [0.25, 0.75], "reward": [1.0, 0.0], "n": 4}),
        json!({"solver": "kl_budget", "base": base.clone(), "reward": reward.clone(), "kl_budget": 0.3}),
        json!({"solver": "tilt", "base": base, "reward": reward, "beta": 0.25}),
    ]
}

#[test]
fn each_batch_entry_is_the_single_answer() -> Result<(), String> {
    let problems = problems();
    let input = json!({ "batch": problems }).to_string();
    let out = solve_str(&input).map_err(|e| e.to_string())?;
    let entries = out["batch"].as_array().ok_or("no batch array")?;
    assert_eq!(entries.len(), problems.len());
    for (p, got) in problems.iter().zip(entries) {
        let want = match solve_str(&p.to_string()) {
            Ok(v) => v,
            Err(e) => rlhf_claims::api::error_json(&e),
        };
        // Values compare numbers exactly (f64 equality), so this is bit for bit up to the
        // sign of zero.
        assert_eq!(*got, want, "problem {p}");
    }
    assert_eq!(entries[2]["error"]["kind"], "invalid_parameter");
    assert!(entries[0]["policy"].is_array());
    Ok(())
}

#[test]
fn an_empty_batch_and_bad_entries() -> Result<(), String> {
    let out = solve_str(r#"{"batch": []}"#).map_err(|e| e.to_string())?;
    assert_eq!(out, json!({"batch": []}));
    let out = solve_str(r#"{"batch": [{"solver": "nope"}, 3]}"#).map_err(|e| e.to_string())?;
    for entry in out["batch"].as_array().ok_or("no batch array")? {
        assert_eq!(entry["error"]["kind"], "invalid_input");
    }
    // Not a list: the whole input is a bad problem.
    assert!(solve_str(r#"{"batch": 3}"#).is_err());
    Ok(())
}
