//! `rlhf-claims solve` with `{"solver": "kl_gradient", ...}`: the answer on a two-outcome
//! instance computed by hand, the defaults of the contract, and the error contract (exit code 2
//! with a JSON error object).

mod common;

use serde_json::{json, Value};

fn run_solve(input: &str) -> (i32, Value) {
    let (code, value) = common::solve_json(input);
    (code.unwrap_or(-1), value)
}

fn vec_of(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// `|a - b| <= 1e-15` entrywise: every quantity is a sum of two terms of size below 1, so the
/// solver's rounding is a few `2^-53`.
fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-15, "{what}: {a:?} vs {b:?}");
    }
}

/// `pi0 = (1/2, 1/2)`, `pi = softmax(0, ln 3) = (1/4, 3/4)`:
/// `KL(pi||pi0) = (1/4) ln(1/2) + (3/4) ln(3/2)`, `grad KL(pi||pi0) = pi_j (ln(2 pi_j) - KL)`,
/// `grad KL(pi0||pi) = pi - pi0 = (-1/4, 1/4)`.
fn hand() -> (Vec<f64>, Vec<f64>) {
    let pi = [0.25f64, 0.75];
    let kl = 0.25 * 0.5f64.ln() + 0.75 * 1.5f64.ln();
    let rev = pi.iter().map(|p| p * ((2.0 * p).ln() - kl)).collect();
    (rev, vec![-0.25, 0.25])
}

/// Estimator, placement, behaviour logits, expected gradient.
type Case<'a> = (&'a str, &'a str, Option<[f64; 2]>, &'a Vec<f64>);

fn problem(estimator: &str, placement: &str, behavior: Option<[f64; 2]>) -> Value {
    let mut p = json!({
        "solver": "kl_gradient",
        "base": [0.5, 0.5],
        "logits": [0.0, 3f64.ln()],
        "estimator": estimator,
        "placement": placement,
    });
    if let Some(b) = behavior {
        p["behavior_logits"] = json!(b);
    }
    p
}

#[test]
fn kl_gradient_answers_the_catalog_identities_on_a_hand_instance() {
    let (rev, fwd) = hand();
    let diff: Vec<f64> = rev.iter().zip(&fwd).map(|(r, f)| r - f).collect();
    let zero = vec![0.0, 0.0];
    let off = Some([1.0, -2.0]);
    let cases: [Case; 8] = [
        ("k1", "reward", None, &rev),
        ("k1", "reward", off, &rev),
        ("k3", "reward", None, &diff),
        ("k1", "loss", None, &zero),
        ("k2", "loss", None, &rev),
        ("k3", "loss", None, &fwd),
        ("k1", "loss_ratio", off, &rev),
        ("k3", "loss_ratio", off, &rev),
    ];
    for (k, p, b, want) in cases {
        let (code, out) = run_solve(&problem(k, p, b).to_string());
        assert_eq!(code, 0, "{k} {p}: {out}");
        assert_close(&vec_of(&out["gradient"]), want, &format!("{k} {p} {b:?}"));
        assert_close(&vec_of(&out["reverse_kl_gradient"]), &rev, "reverse");
        assert_close(&vec_of(&out["forward_kl_gradient"]), &fwd, "forward");
        assert!(
            out.get("policy").is_none() && out.get("kl").is_none(),
            "{out}"
        );
    }
    // k2 rho is not unbiased: it adds the score term pi_j (l_j^2/2 - E[l^2/2]) != 0 here.
    let (_, out) = run_solve(&problem("k2", "loss_ratio", off).to_string());
    let g = vec_of(&out["gradient"]);
    assert!((g[1] - rev[1]).abs() > 1e-3, "{g:?} vs {rev:?}");
    // Omitting behavior_logits is the same as passing the logits.
    let (_, a) = run_solve(&problem("k2", "loss", None).to_string());
    let (_, b) = run_solve(&problem("k2", "loss", Some([0.0, 3f64.ln()])).to_string());
    assert_eq!(a, b);
}

#[test]
fn kl_gradient_with_a_zero_base_mass_answers_only_where_log_pi0_is_not_needed() {
    let p = json!({"solver": "kl_gradient", "base": [1.0, 0.0], "logits": [0.0, 0.0],
        "estimator": "k3", "placement": "loss"});
    let (code, out) = run_solve(&p.to_string());
    assert_eq!(code, 0, "{out}");
    // k3' = pi0/pi - 1: on-policy the gradient is still pi - pi0; the reverse KL is infinite.
    assert_close(&vec_of(&out["gradient"]), &[-0.5, 0.5], "k3 loss");
    assert!(out["reverse_kl_gradient"].is_null(), "{out}");
}

#[test]
fn kl_gradient_rejects_bad_input_with_exit_code_2_and_a_json_error() {
    let bad = [
        (
            r#"{"solver":"kl_gradient","base":[1,0],"logits":[0,0],"estimator":"k1","placement":"reward"}"#,
            "invalid_input",
        ),
        (
            r#"{"solver":"kl_gradient","base":[1,0],"logits":[0,0],"estimator":"k2","placement":"loss"}"#,
            "invalid_input",
        ),
        (
            r#"{"solver":"kl_gradient","base":[0.5,0.5],"logits":[0],"estimator":"k1","placement":"loss"}"#,
            "length_mismatch",
        ),
        (
            r#"{"solver":"kl_gradient","base":[0.5,0.5],"logits":[0,0],"behavior_logits":[0,0,0],"estimator":"k1","placement":"loss"}"#,
            "length_mismatch",
        ),
        (
            r#"{"solver":"kl_gradient","base":[0.5,0.6],"logits":[0,0],"estimator":"k1","placement":"loss"}"#,
            "not_normalized",
        ),
        (
            r#"{"solver":"kl_gradient","base":[0.5,0.5],"logits":[0,0],"estimator":"k4","placement":"loss"}"#,
            "invalid_input",
        ),
        (
            r#"{"solver":"kl_gradient","base":[0.5,0.5],"logits":[0,0],"estimator":"k1","placement":"ratio"}"#,
            "invalid_input",
        ),
        (
            r#"{"solver":"kl_gradient","base":[0.5,0.5],"logits":[0,0],"estimator":"k1"}"#,
            "invalid_input",
        ),
        (
            r#"{"solver":"kl_gradient","base":[],"logits":[],"estimator":"k1","placement":"loss"}"#,
            "empty",
        ),
        (
            r#"{"solver":"kl_gradient","base":[0.5,0.5],"logits":[0,1e999],"estimator":"k1","placement":"loss"}"#,
            "invalid_input",
        ),
    ];
    for (input, kind) in bad {
        let (code, out) = run_solve(input);
        assert_eq!(code, 2, "{input}");
        assert_eq!(out["error"]["kind"], kind, "{input}: {out}");
    }
}
