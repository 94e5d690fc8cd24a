//! `rlhf-claims solve` for `soft_best_of_n`: the JSON contract (fields and answers), agreement
//! with a 40-digit reference through the binary, and the error contract.

mod common;

use serde_json::{json, Value};

fn solve(problem: &Value) -> (i32, Value) {
    let (code, value) = common::solve_json(&problem.to_string());
    (code.unwrap_or(-1), value)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

/// 40-digit references (`mpmath.quad` of `N pi0 w int e^{-wt} M(t)^{N-1} dt`): base
/// `(0.05, 0.15, 0.3, 0.5)`, rewards `(2, 1, 0.5, 0)`, temperature 1.
#[test]
fn binary_agrees_with_the_reference_and_answers_every_field() -> Result<(), String> {
    let base = [0.05, 0.15, 0.3, 0.5];
    let reward = [2.0, 1.0, 0.5, 0.0];
    let cases: [(Value, [f64; 4]); 2] = [
        (
            json!(1000),
            [
                0.20799034905538838,
                0.2301516899917671,
                0.27935687332503273,
                0.2825010876278118,
            ],
        ),
        (
            json!(1e12),
            [
                0.20851699698165932,
                0.2301273489736871,
                0.2791585855820282,
                0.2821970684626254,
            ],
        ),
    ];
    let tilt = rlhf_claims::solve::tilt(
        &rlhf_claims::Dist::new(base.to_vec()).map_err(|e| e.to_string())?,
        &reward,
        1.0,
    )
    .map_err(|e| e.to_string())?;
    for (n, want) in cases {
        let problem = json!({"solver": "soft_best_of_n", "base": base, "reward": reward,
            "n": n, "temperature": 1.0});
        let (code, out) = solve(&problem);
        assert_eq!(code, 0, "{out}");
        let policy = floats(&out["policy"]);
        for (g, w) in policy.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-13 * w, "{g} vs {w}");
        }
        // The other fields, recomputed from the policy.
        let er: f64 = policy.iter().zip(&reward).map(|(p, r)| p * r).sum();
        let kl: f64 = policy
            .iter()
            .zip(&base)
            .map(|(p, q)| p * (p / q).ln())
            .sum();
        let kl_tilt: f64 = policy
            .iter()
            .zip(tilt.solution.policy.probs())
            .map(|(p, q)| p * (p / q).ln())
            .sum();
        let get = |k: &str| out[k].as_f64().unwrap_or(f64::NAN);
        assert!((get("expected_reward") - er).abs() <= 1e-14, "{out}");
        assert!((get("kl") - kl).abs() <= 1e-14, "{out}");
        // KL to the tilt is ~1e-5 at N = 1000 and ~1e-23 at 1e12: the plain sum above is good to
        // ~1e-16 absolute.
        assert!((get("kl_to_tilt") - kl_tilt).abs() <= 1e-15, "{out}");
    }
    Ok(())
}

#[test]
fn one_draw_is_the_base() {
    let problem = json!({"solver": "soft_best_of_n", "base": [0.25, 0.75], "reward": [3, -1],
        "n": 1, "temperature": 0.5});
    let (code, out) = solve(&problem);
    assert_eq!(code, 0, "{out}");
    assert_eq!(floats(&out["policy"]), vec![0.25, 0.75]);
    assert_eq!(out["kl"], json!(0.0));
    assert!(out["kl_to_tilt"].as_f64().is_some_and(|k| k > 0.0), "{out}");
}

#[test]
fn bad_input_gets_the_json_error() {
    let ok = json!({"solver": "soft_best_of_n", "base": [0.5, 0.5], "reward": [0, 1],
        "n": 4, "temperature": 1.0});
    let with = |key: &str, value: Value| {
        let mut p = ok.clone();
        p[key] = value;
        p
    };
    for (problem, kind) in [
        (with("n", json!(0)), "invalid_parameter"),
        (with("n", json!(2.5)), "invalid_parameter"),
        (with("n", json!(-1)), "invalid_parameter"),
        (with("temperature", json!(0.0)), "invalid_parameter"),
        (with("temperature", json!(-2.0)), "invalid_parameter"),
        (with("base", json!([0.5, 0.6])), "not_normalized"),
        (with("reward", json!([0.0])), "length_mismatch"),
        (with("temperature", json!("hot")), "invalid_input"),
    ] {
        let (code, out) = solve(&problem);
        assert_eq!(code, 2, "{problem} -> {out}");
        assert_eq!(out["error"]["kind"], kind, "{problem} -> {out}");
    }
    let mut missing = ok.clone();
    if let Some(o) = missing.as_object_mut() {
        o.remove("temperature");
    }
    let (code, out) = solve(&missing);
    assert_eq!(code, 2, "{out}");
    assert_eq!(out["error"]["kind"], "invalid_input", "{out}");
}
