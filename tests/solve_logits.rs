//! `solve` with a base given as logits (`base_logits`) and the log-policy in the output
//! (`"output": "log_policy"`), alone and in the batch form.

use rlhf_claims::api::solve_str;
use rlhf_claims::{solve, Dist};
use serde_json::{json, Value};

const EPS: f64 = f64::EPSILON;

/// `|x - y| <= tol`, false for NaN.
fn within(x: f64, y: f64, tol: f64) -> bool {
    (x - y).abs() <= tol
}

fn answer(problem: &Value) -> Result<Value, String> {
    solve_str(&problem.to_string()).map_err(|e| e.to_string())
}

fn kind_of(problem: &Value) -> String {
    match solve_str(&problem.to_string()) {
        Ok(v) => format!("solved: {v}"),
        Err(e) => e.kind().to_string(),
    }
}

/// An array of numbers read back, `null` as `-inf` (how `log_policy` writes zero mass; a
/// policy has no `null`, and a `-inf` there would fail every comparison below).
fn numbers(v: &Value) -> Result<Vec<f64>, String> {
    v.as_array()
        .ok_or_else(|| format!("not an array: {v}"))?
        .iter()
        .map(|x| match x {
            Value::Null => Ok(f64::NEG_INFINITY),
            x => x.as_f64().ok_or_else(|| format!("not a number: {x}")),
        })
        .collect()
}

/// Logits on the grid `2^-6` in `[-20, 0]` (`n = 200`), rewards in `[-1, 1]`.
fn instance() -> (Vec<f64>, Vec<f64>) {
    let w = (0..200)
        .map(|i| -(((i * 37) % 1280) as f64) / 64.0)
        .collect();
    let r = (0..200)
        .map(|i| ((i * 11) % 21) as f64 / 10.0 - 1.0)
        .collect();
    (w, r)
}

/// The problems of every type with a base, on `n` outcomes, without the base.
fn problems_without_base(n: usize) -> Vec<Value> {
    let reward: Vec<f64> = (0..n).map(|i| [1.0, -0.5, 2.0, 0.25, 0.0][i % 5]).collect();
    let weight: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|k| if i == k { 0.0 } else { 1.0 }).collect())
        .collect();
    let features: Vec<Vec<f64>> = (0..n).map(|i| vec![i as f64 / 2.0]).collect();
    let logits: Vec<f64> = (0..n).map(|i| i as f64 / 10.0).collect();
    vec![
        json!({"solver": "tilt", "reward": reward, "beta": 0.7}),
        json!({"solver": "kl_budget", "reward": reward, "kl_budget": 0.1}),
        json!({"solver": "reward_target", "reward": reward, "target": 0.5}),
        json!({"solver": "condition", "reward": reward, "threshold": 0.2}),
        json!({"solver": "best_of_n", "reward": reward, "n": 4}),
        json!({"solver": "quantilizer", "reward": reward, "q": 0.3}),
        json!({"solver": "forward_kl", "reward": reward, "gamma": 0.5}),
        json!({"solver": "kl_gradient", "logits": logits, "estimator": "k3", "placement": "loss"}),
        json!({"solver": "grpo", "reward": reward, "beta": 0.5, "group_size": 4, "std": "sample", "kl": "k3_loss"}),
        json!({"solver": "winrate_optimal", "reward": reward, "kl_budget": 0.1}),
        json!({"solver": "soft_best_of_n", "reward": reward, "n": 3, "temperature": 0.5}),
        json!({"solver": "chipo", "reward": reward, "beta": 0.5}),
        json!({"solver": "fdiv", "reward": reward, "divergence": "chi_square", "beta": 0.5}),
        json!({"solver": "dpo", "weight": weight, "reward": reward, "beta": 0.5}),
        json!({"solver": "ipo", "weight": weight, "reward": reward, "tau": 0.5}),
        json!({"solver": "class_optimum", "features": features, "reward": reward, "beta": 0.5}),
        json!({"solver": "frontier", "truth": reward, "eps": 0.1}),
    ]
}

/// Equal logits, some masked: the softmax is exact (`e^0 = 1`, `s = 4`, `p = 1/4`, and the log
/// view `0 - ln 4` is `ln(1/4)` because the logarithm is correctly rounded and odd in the
/// exponent), so `base_logits` and the normalized `base` must give the same answer (the same
/// JSON, bit for bit, or the same error where a solver needs a full support) for every problem
/// type with a base, with the log-policy asked where there is a policy.
#[test]
fn exact_conversion_gives_the_same_answer_bit_for_bit() -> Result<(), String> {
    let cases = [
        (
            json!([0.0, 0.0, null, 0.0, 0.0]),
            json!([0.25, 0.25, 0.0, 0.25, 0.25]),
        ),
        (json!([0.0, 0.0, 0.0, 0.0]), json!([0.25, 0.25, 0.25, 0.25])),
    ];
    let mut solved = 0;
    for (logits, base) in cases {
        let n = base.as_array().map_or(0, Vec::len);
        for p in problems_without_base(n) {
            let (mut a, mut b) = (p.clone(), p.clone());
            a["base"] = base.clone();
            b["base_logits"] = logits.clone();
            let has_policy = !matches!(p["solver"].as_str(), Some("kl_gradient" | "frontier"));
            if has_policy {
                a["output"] = json!("log_policy");
                b["output"] = json!("log_policy");
            }
            let run = |q: &Value| {
                solve_str(&q.to_string()).unwrap_or_else(|e| rlhf_claims::api::error_json(&e))
            };
            let (want, got) = (run(&a), run(&b));
            // Values compare numbers as f64: bit for bit up to the sign of zero.
            if want != got {
                return Err(format!("{p}:\nbase   {want}\nlogits {got}"));
            }
            solved += usize::from(want.get("error").is_none());
        }
    }
    // Only the preference solvers refuse the masked base (they need a full support).
    assert!(solved >= 32, "only {solved} solved");
    Ok(())
}

/// In general the two bases differ by rounding. The JSON `base` written from the softmax is
/// renormalized by `Dist::new` (a relative change of at most `(n/2 + 1) eps`) and its log view
/// recomputed as `ln p` (within `3 eps + eps (|w - m| + ln n)` of the softmax's own), so the
/// bases differ by `delta <= (n/2 + 4 + 20 + ln n) eps = 130 eps` relative (`n = 200`, logits
/// within 20 of the top). The tilt's policy is linear in the base, so it moves by at most
/// `2 delta` relative, plus each run's own rounding (tens of eps): `1e-12` relative leaves a
/// margin of 10x, and `E[r]`, `KL` (sums of such terms times numbers of order 1) `1e-12`
/// absolute-plus-relative likewise. The answer with `base_logits` is also bit for bit that of
/// the library with `Dist::from_logits`. A wrong reading (the logits halved, or taken as
/// probabilities) misses by far more, which the last lines check.
#[test]
fn logits_give_the_normalized_base_answer_within_rounding() -> Result<(), String> {
    let (w, r) = instance();
    let d = Dist::from_logits(&w).map_err(|e| e.to_string())?;
    for (solver, param, value) in [("tilt", "beta", 0.3), ("kl_budget", "kl_budget", 0.5)] {
        let mut p = json!({"solver": solver, "reward": r, param: value});
        p["base_logits"] = json!(w);
        let got = answer(&p)?;
        p["base_logits"] = Value::Null;
        let p = {
            let mut q = p.clone();
            if let Some(o) = q.as_object_mut() {
                o.remove("base_logits");
            }
            q["base"] = json!(d.probs());
            q
        };
        let want = answer(&p)?;
        let (a, b) = (numbers(&got["policy"])?, numbers(&want["policy"])?);
        for (x, y) in a.iter().zip(&b) {
            if !within(*x, *y, 1e-12 * y) {
                return Err(format!("{solver}: policy {x} vs {y}"));
            }
        }
        for key in ["kl", "expected_reward"] {
            let (x, y) = (got[key].as_f64(), want[key].as_f64());
            let (Some(x), Some(y)) = (x, y) else {
                return Err(format!("{solver}: {key} missing"));
            };
            if !within(x, y, 1e-12 * (1.0 + y.abs())) {
                return Err(format!("{solver}: {key} {x} vs {y}"));
            }
        }
    }
    // Bit for bit against the library on the softmax of the logits.
    let lib = solve::tilt(&d, &r, 0.3).map_err(|e| e.to_string())?;
    let got = answer(&json!({"solver": "tilt", "base_logits": w, "reward": r, "beta": 0.3}))?;
    assert_eq!(numbers(&got["policy"])?, lib.solution.policy.probs());
    assert_eq!(got["kl"].as_f64(), Some(lib.solution.kl));
    // Negative control: the logits halved give a policy off by far more than the tolerance.
    let half: Vec<f64> = w.iter().map(|x| x / 2.0).collect();
    let off = answer(&json!({"solver": "tilt", "base_logits": half, "reward": r, "beta": 0.3}))?;
    let worst = numbers(&off["policy"])?
        .iter()
        .zip(lib.solution.policy.probs())
        .map(|(x, y)| (x - y).abs() / y)
        .fold(0.0, f64::max);
    assert!(worst > 1e-3, "halved logits went unnoticed: {worst}");
    Ok(())
}

/// `log_policy` is `ln policy` where the policy is a normal number: the tilt forms both views
/// from the same shifted exponents, each within a few ulps (the policy's relative error
/// `<= 100 eps` moves `ln` by as much absolutely; the log view's absolute error is a few eps
/// times the magnitudes added, here `<= 40`), so `1e-12 (1 + |log pi|)` has a margin of ~10x.
/// Zero mass (a masked logit) is `null`, and so is nothing else.
#[test]
fn log_policy_is_the_log_of_the_policy_where_representable() -> Result<(), String> {
    let (mut w, r) = instance();
    w[7] = f64::NEG_INFINITY;
    let wj: Vec<Value> = w
        .iter()
        .map(|x| if x.is_finite() { json!(x) } else { Value::Null })
        .collect();
    for p in [
        json!({"solver": "tilt", "base_logits": wj, "reward": r, "beta": 0.3, "output": "log_policy"}),
        json!({"solver": "kl_budget", "base_logits": wj, "reward": r, "kl_budget": 0.5, "output": "log_policy"}),
        json!({"solver": "best_of_n", "base_logits": wj, "reward": r, "n": 8, "output": "log_policy"}),
    ] {
        let a = answer(&p)?;
        let (pi, l) = (numbers(&a["policy"])?, numbers(&a["log_policy"])?);
        assert_eq!(pi.len(), l.len());
        for (i, (p, l)) in pi.iter().zip(&l).enumerate() {
            if *p == 0.0 {
                assert_eq!(*l, f64::NEG_INFINITY, "{i}: zero mass, log {l}");
                continue;
            }
            let want = p.ln();
            if !within(*l, want, 1e-12 * (1.0 + want.abs())) {
                return Err(format!("{}: {i}: log {l} vs ln {want}", p));
            }
        }
        assert!(a["log_policy"][7].is_null());
        // Without the option there is no log_policy.
        let mut plain = p.clone();
        plain["output"] = json!("policy");
        assert!(answer(&plain)?.get("log_policy").is_none());
    }
    Ok(())
}

/// Logits spread by 2000: `w = (0, -700.5, -1400, -2000)`, `r = (0, 1, 2, 3)`, `beta = 1`.
/// The exact `log pi_i = w_i + r_i - L`, `L = ln(1 + e^{-699.5} + ...) = e^{-699.5}` to
/// within `e^{-1399}`, which rounds away beside the other terms, so `log pi = (-e^{-699.5},
/// -699.5, -1398, -1997)`, the last three exact in `f64`. The log view is a sum of a few
/// terms of at most these sizes, so it must give them within `4 eps (1 + |log pi|)` absolute
/// (the base's own log view already drops `ln(1 + e^{-700.5})`, `6e-305`, at the first
/// entry, within that bound), while `pi_2 = e^{-1398}` and `pi_3` underflow to 0 in `policy`. The normalized
/// `base` cannot carry `e^{-1400}` and gives `null` there (the contrast that makes the check
/// able to fail).
#[test]
fn log_policy_stays_accurate_where_the_policy_underflows() -> Result<(), String> {
    let p = json!({"solver": "tilt", "base_logits": [0.0, -700.5, -1400.0, -2000.0],
                   "reward": [0.0, 1.0, 2.0, 3.0], "beta": 1.0, "output": "log_policy"});
    let a = answer(&p)?;
    let l = numbers(&a["log_policy"])?;
    let want = [-(-699.5f64).exp(), -699.5, -1398.0, -1997.0];
    for (x, y) in l.iter().zip(want) {
        if !within(*x, y, 4.0 * EPS * (1.0 + y.abs())) {
            return Err(format!("log_policy {l:?} vs {want:?}"));
        }
    }
    let pi = numbers(&a["policy"])?;
    assert_eq!(&pi[2..], &[0.0, 0.0]);
    assert!(pi[1] > 0.0 && pi[1] < 1e-300);
    // Through the probabilities, the tail is lost.
    let base = Dist::from_logits(&[0.0, -700.5, -1400.0, -2000.0]).map_err(|e| e.to_string())?;
    let q = json!({"solver": "tilt", "base": base.probs(), "reward": [0.0, 1.0, 2.0, 3.0],
                   "beta": 1.0, "output": "log_policy"});
    let b = answer(&q)?;
    assert!(b["log_policy"][2].is_null() && b["log_policy"][3].is_null());
    Ok(())
}

/// A subnormal base mass given as a logit keeps its digits through the tilt: at logits
/// `(-740, 0)`, rewards `(600, 0)` and `beta = 1`, the tilt is `∝ (e^{-740} e^{600}, 1) =
/// (e^{-140}, 1)`, so `pi_0 = e^{-140}/(1 + e^{-140})`. The base's linear mass `e^{-740}`
/// (`4.2e-322`) is subnormal with about 7 bits; the tilt takes the weight from the log view
/// there (formed as the product `pi0 e^v` it would be off by up to 1%). Tolerance `4 eps`.
#[test]
fn a_subnormal_mass_given_as_a_logit_keeps_its_digits_through_the_tilt() -> Result<(), String> {
    let p = json!({"solver": "tilt", "base_logits": [-740.0, 0.0], "reward": [600.0, 0.0],
                   "beta": 1.0});
    let pi = numbers(&answer(&p)?["policy"])?;
    let a = (-140f64).exp();
    let want = a / (1.0 + a);
    if !within(pi[0], want, 4.0 * EPS * want) {
        return Err(format!("pi_0 {} vs {want}", pi[0]));
    }
    Ok(())
}

/// Both or neither of `base` and `base_logits`, a bad `output`, `log_policy` of a solver with
/// no policy, and bad logits are typed errors.
#[test]
fn malformed_combinations_are_typed_errors() {
    let both = json!({"solver": "tilt", "base": [0.5, 0.5], "base_logits": [0.0, 0.0],
                      "reward": [0.0, 1.0], "beta": 1.0});
    let neither = json!({"solver": "tilt", "reward": [0.0, 1.0], "beta": 1.0});
    let pair_both = json!({"solver": "dpo", "base": [0.5, 0.5], "base_logits": [0.0, 0.0],
                           "weight": [[0, 1], [1, 0]], "reward": [0.0, 1.0], "beta": 1.0});
    let cases = [
        (both, "invalid_input"),
        (neither, "invalid_input"),
        (pair_both, "invalid_input"),
        (
            json!({"solver": "tilt", "base_logits": [null, null], "reward": [0.0, 1.0], "beta": 1.0}),
            "invalid_input",
        ),
        (
            json!({"solver": "tilt", "base_logits": [], "reward": [], "beta": 1.0}),
            "empty",
        ),
        (
            json!({"solver": "tilt", "base_logits": [0.0, "a"], "reward": [0.0, 1.0], "beta": 1.0}),
            "invalid_input",
        ),
        (
            json!({"solver": "tilt", "base_logits": [0.0, 1.0], "reward": [0.0], "beta": 1.0}),
            "length_mismatch",
        ),
        (
            json!({"solver": "tilt", "base": [0.5, 0.5], "reward": [0.0, 1.0], "beta": 1.0, "output": "logits"}),
            "invalid_input",
        ),
        (
            json!({"solver": "tilt", "base": [0.5, 0.5], "reward": [0.0, 1.0], "beta": 1.0, "output": 1}),
            "invalid_input",
        ),
        (
            json!({"solver": "gaussian_best_of_n", "n": 4, "rho": 0.5, "output": "log_policy"}),
            "invalid_input",
        ),
        (
            json!({"solver": "frontier", "base": [0.5, 0.5], "truth": [0.0, 1.0], "eps": 0.1, "output": "log_policy"}),
            "invalid_input",
        ),
        (
            json!({"solver": "kl_gradient", "base": [0.5, 0.5], "logits": [0.0, 1.0], "estimator": "k1", "placement": "loss", "output": "log_policy"}),
            "invalid_input",
        ),
    ];
    for (p, kind) in cases {
        assert_eq!(kind_of(&p), kind, "{p}");
    }
    // A repeated key is refused, not read as its last value.
    for dup in [
        r#"{"solver": "tilt", "base_logits": [0, 0], "base_logits": [0, 1], "reward": [0, 1], "beta": 1}"#,
        r#"{"solver": "tilt", "base": [0.5, 0.5], "reward": [0, 1], "beta": 1, "output": "log_policy", "output": "policy"}"#,
    ] {
        assert!(
            matches!(solve_str(dup), Err(ref e) if e.kind() == "invalid_input"),
            "{dup}"
        );
    }
    // The same inputs with the defect removed are solved (the errors are the defects').
    let fine = json!({"solver": "tilt", "base_logits": [0.0, 0.0], "reward": [0.0, 1.0], "beta": 1.0, "output": "log_policy"});
    assert!(kind_of(&fine).starts_with("solved"));
}

/// In the batch form each problem takes `base_logits` and `output`, and each entry is the
/// single problem's answer; a malformed one is an error in its place.
#[test]
fn batch_entries_take_logits_and_log_policy() -> Result<(), String> {
    let (w, r) = instance();
    let problems = vec![
        json!({"solver": "tilt", "base_logits": w, "reward": r, "beta": 0.3, "output": "log_policy"}),
        json!({"solver": "kl_budget", "base_logits": w, "reward": r, "kl_budget": 0.2}),
        json!({"solver": "tilt", "base": [0.5, 0.5], "base_logits": [0.0, 0.0], "reward": [0.0, 1.0], "beta": 1.0}),
        json!({"solver": "quantilizer", "base_logits": [0.0, -1.0, null], "reward": [1.0, 0.0, 2.0], "q": 0.5, "output": "log_policy"}),
    ];
    let out = answer(&json!({ "batch": problems }))?;
    let entries = out["batch"].as_array().ok_or("no batch")?;
    assert_eq!(entries.len(), problems.len());
    for (p, got) in problems.iter().zip(entries) {
        let want = solve_str(&p.to_string()).unwrap_or_else(|e| rlhf_claims::api::error_json(&e));
        assert_eq!(*got, want, "{p}");
    }
    assert_eq!(entries[2]["error"]["kind"], "invalid_input");
    assert!(entries[0]["log_policy"].is_array() && entries[1].get("log_policy").is_none());
    assert!(entries[3]["log_policy"][2].is_null());
    Ok(())
}
