//! The JSON problem types `fdiv`, `dpo`, `ipo`, `class_optimum` and `frontier`, each against an
//! independent computation; their typed errors; `solve --schema` against the `Problem` enum
//! and the module docs; and the serde round trip of the public solution types.
//!
//! Tolerances: the closed forms below are evaluated with a handful of `exp`/`ln`/sums of at most
//! 4 terms of size <= ~3, so they are exact to ~1e-15 relative; the iterative solvers (Newton
//! on the DPO/IPO/class objectives) stop at gradient norms ~1e-14, which moves log-ratios by
//! about that over the Hessian's smallest eigenvalue (>= ~1e-2 here): `1e-10` relative leaves a
//! margin of ~100 over both.

// `!(x <= tol)` is the NaN-failing form of the comparison, on purpose.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use rlhf_claims::api::{self, SCHEMA};
use rlhf_claims::solve::{self, Divergence};
use rlhf_claims::Dist;
use serde_json::{json, Value};

const REL: f64 = 1e-10;

fn solve(problem: Value) -> Result<Value, String> {
    api::solve_str(&problem.to_string()).map_err(|e| e.to_string())
}

fn kind_of(problem: Value) -> Result<&'static str, String> {
    match api::solve_str(&problem.to_string()) {
        Ok(v) => Err(format!("expected an error, got {v}")),
        Err(e) => Ok(e.kind()),
    }
}

fn floats(v: &Value) -> Result<Vec<f64>, String> {
    v.as_array()
        .ok_or_else(|| format!("not an array: {v}"))?
        .iter()
        .map(|x| x.as_f64().ok_or_else(|| format!("not a number: {x}")))
        .collect()
}

fn close_all(got: &[f64], want: &[f64], what: &str) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{what}: lengths {} and {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if !((g - w).abs() <= REL * w.abs().max(1e-300)) {
            return Err(format!("{what}[{i}]: {g:e} vs {w:e}"));
        }
    }
    Ok(())
}

/// `base exp(reward / beta)`, normalized: the tilt, computed here.
fn tilt_closed_form(base: &[f64], reward: &[f64], beta: f64) -> Vec<f64> {
    let top = reward.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = base
        .iter()
        .zip(reward)
        .map(|(b, r)| b * ((r - top) / beta).exp())
        .collect();
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// `w(x, y) = mu(x) mu(y)` off the diagonal, as rows.
fn product_weights(mu: &[f64]) -> Vec<Vec<f64>> {
    (0..mu.len())
        .map(|x| {
            (0..mu.len())
                .map(|y| if x == y { 0.0 } else { mu[x] * mu[y] })
                .collect()
        })
        .collect()
}

fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

const BASE: [f64; 4] = [0.4, 0.3, 0.2, 0.1];
const REWARD: [f64; 4] = [0.0, 1.0, 0.5, 2.0];

#[test]
fn fdiv_reverse_kl_is_the_tilt_and_chi_square_clips() -> Result<(), String> {
    let v = solve(json!({"solver": "fdiv", "base": BASE, "reward": REWARD,
                         "divergence": "reverse_kl", "beta": 0.7}))?;
    close_all(
        &floats(&v["policy"])?,
        &tilt_closed_form(&BASE, &REWARD, 0.7),
        "policy",
    )?;
    // Chi-square at beta = 1/4 on two outcomes: pi = pi0 (1 + (r - lambda)/(2 beta))_+ puts
    // all mass on the better outcome (the solver's doc example).
    let v = solve(
        json!({"solver": "fdiv", "base": [0.5, 0.5], "reward": [0.0, 1.0],
                         "divergence": "chi_square", "beta": 0.25}),
    )?;
    if floats(&v["policy"])? != [0.0, 1.0] || v["divergence"] != "chi_square" {
        return Err(format!("chi-square: {v}"));
    }
    let v = solve(json!({"solver": "fdiv", "base": BASE, "reward": REWARD,
                         "divergence": {"alpha": 0.5}, "beta": 1.0}))?;
    let p = floats(&v["policy"])?;
    if !((p.iter().sum::<f64>() - 1.0).abs() <= 1e-12) || v["divergence"] != "alpha(0.5)" {
        return Err(format!("alpha: {v}"));
    }
    Ok(())
}

#[test]
fn dpo_on_every_pair_recovers_the_tilt_from_rewards_or_preferences() -> Result<(), String> {
    // Bradley-Terry preferences on all pairs: the DPO minimizer is the tilt at beta.
    let weight = product_weights(&BASE);
    let tilt = tilt_closed_form(&BASE, &REWARD, 0.8);
    let v = solve(
        json!({"solver": "dpo", "base": BASE, "weight": weight, "reward": REWARD,
                         "beta": 0.8}),
    )?;
    close_all(&floats(&v["policy"])?, &tilt, "dpo policy (reward)")?;
    let prefs: Vec<Vec<f64>> = (0..4)
        .map(|x| (0..4).map(|y| sigmoid(REWARD[x] - REWARD[y])).collect())
        .collect();
    let v = solve(
        json!({"solver": "dpo", "base": BASE, "weight": weight, "prefs": prefs,
                         "beta": 0.8}),
    )?;
    close_all(&floats(&v["policy"])?, &tilt, "dpo policy (prefs)")?;
    let kl: f64 = tilt.iter().zip(BASE).map(|(p, b)| p * (p / b).ln()).sum();
    close_all(&[v["kl"].as_f64().unwrap_or(f64::NAN)], &[kl], "dpo kl")
}

#[test]
fn ipo_on_every_pair_matches_its_closed_form() -> Result<(), String> {
    // With w = mu mu^T off the diagonal, stationarity of L_IPO gives
    // h(x) = const + (1/tau) sum_y mu(y) (P(x,y) - 1/2).
    let tau = 0.6;
    let v = solve(
        json!({"solver": "ipo", "base": BASE, "weight": product_weights(&BASE),
                         "reward": REWARD, "tau": tau}),
    )?;
    let h = floats(&v["log_ratio"])?;
    let shape: Vec<f64> = (0..4)
        .map(|x| {
            (0..4)
                .map(|y| BASE[y] * (sigmoid(REWARD[x] - REWARD[y]) - 0.5))
                .sum::<f64>()
                / tau
        })
        .collect();
    let got: Vec<f64> = h.iter().map(|hx| hx - h[0]).collect();
    let want: Vec<f64> = shape.iter().map(|s| s - shape[0]).collect();
    close_all(&got[1..], &want[1..], "ipo log-ratio differences")
}

#[test]
fn a_full_log_linear_class_recovers_the_tilt() -> Result<(), String> {
    let eye: Vec<Vec<f64>> = (0..4)
        .map(|x| (0..4).map(|y| f64::from(u8::from(x == y))).collect())
        .collect();
    let v = solve(
        json!({"solver": "class_optimum", "base": BASE, "features": eye,
                         "reward": REWARD, "beta": 0.9}),
    )?;
    close_all(
        &floats(&v["policy"])?,
        &tilt_closed_form(&BASE, &REWARD, 0.9),
        "class policy",
    )?;
    if floats(&v["theta"])?.len() != 4 {
        return Err(format!("theta: {v}"));
    }
    Ok(())
}

#[test]
fn the_frontier_is_spanned_by_two_kl_budget_solutions() -> Result<(), String> {
    // high = max E_pi[truth] over KL <= eps (the kl_budget solver), low = -max E_pi[-truth].
    let eps = 0.05;
    let v = solve(json!({"solver": "frontier", "base": BASE, "truth": REWARD, "eps": eps}))?;
    let up = solve(
        json!({"solver": "kl_budget", "base": BASE, "reward": REWARD,
                          "kl_budget": eps}),
    )?;
    let neg: Vec<f64> = REWARD.iter().map(|r| -r).collect();
    let down = solve(json!({"solver": "kl_budget", "base": BASE, "reward": neg,
                            "kl_budget": eps}))?;
    let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    close_all(
        &[num(&v["high"]), num(&v["low"])],
        &[num(&up["expected_reward"]), -num(&down["expected_reward"])],
        "frontier",
    )
}

#[test]
fn bad_problems_get_their_typed_errors() -> Result<(), String> {
    let w = product_weights(&BASE);
    let cases = [
        (
            json!({"solver": "dpo", "base": BASE, "weight": w, "reward": REWARD,
                "prefs": w, "beta": 1.0}),
            "invalid_input",
        ),
        (
            json!({"solver": "dpo", "base": BASE, "weight": w, "beta": 1.0}),
            "invalid_input",
        ),
        (
            json!({"solver": "dpo", "base": BASE, "weight": [[0.0, 1.0], [1.0]], "reward": [0, 1],
                "beta": 1.0}),
            "length_mismatch",
        ),
        (
            json!({"solver": "dpo", "base": [0.5, 0.5], "weight": [[0.0, 1.0], [1.0, 0.0]],
                "prefs": [[0.5, 1.0], [0.0, 0.5]], "beta": 1.0}),
            "infeasible",
        ),
        (
            json!({"solver": "ipo", "base": BASE, "weight": w, "reward": REWARD, "tau": 0.0}),
            "invalid_parameter",
        ),
        (
            json!({"solver": "fdiv", "base": BASE, "reward": REWARD, "divergence": "hellinger",
                "beta": 1.0}),
            "invalid_input",
        ),
        (
            json!({"solver": "fdiv", "base": BASE, "reward": REWARD, "divergence": "chi_square",
                "beta": -1.0}),
            "invalid_parameter",
        ),
        (
            json!({"solver": "class_optimum", "base": BASE, "features": [[1.0], [0.0], [1.0, 2.0],
                [0.0]], "reward": REWARD, "beta": 1.0}),
            "length_mismatch",
        ),
        (
            json!({"solver": "class_optimum", "base": BASE, "features": [[1.0], [0.0], [1.0]],
                "reward": REWARD, "beta": 1.0}),
            "length_mismatch",
        ),
        (
            json!({"solver": "frontier", "base": BASE, "truth": [0.0, f64::NAN], "eps": 0.1}),
            "invalid_input",
        ),
        (
            json!({"solver": "frontier", "base": BASE, "truth": REWARD, "eps": -0.1}),
            "invalid_parameter",
        ),
    ];
    for (problem, want) in cases {
        let got = kind_of(problem.clone())?;
        if got != want {
            return Err(format!("{problem}: kind {got}, expected {want}"));
        }
    }
    Ok(())
}

/// The variant names serde lists when it meets an unknown `"solver"`.
fn problem_variants() -> Result<Vec<String>, String> {
    let err = match serde_json::from_str::<api::Problem>(r#"{"solver": "no such solver"}"#) {
        Ok(p) => return Err(format!("parsed {p:?}")),
        Err(e) => e.to_string(),
    };
    let list = err
        .split("expected one of ")
        .nth(1)
        .ok_or_else(|| format!("unexpected serde message: {err}"))?;
    Ok(list
        .split(", ")
        .map(|s| s.split('`').nth(1).unwrap_or("").to_string())
        .collect())
}

#[test]
fn the_schema_names_every_problem_variant_once() -> Result<(), String> {
    let variants = problem_variants()?;
    let mut names: Vec<&str> = SCHEMA.iter().map(|r| r.solver).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = variants.iter().map(String::as_str).collect();
    want.sort_unstable();
    if names != want || want.len() < 19 {
        return Err(format!("schema {names:?}\nvariants {want:?}"));
    }
    Ok(())
}

#[test]
fn the_module_docs_table_is_the_schema() -> Result<(), String> {
    let source = include_str!("../src/api.rs");
    let doc_rows = source
        .lines()
        .filter(|l| l.starts_with("//! | `"))
        .collect::<Vec<_>>();
    let schema_rows: Vec<String> = api::schema_markdown()
        .lines()
        .skip(2)
        .map(|l| format!("//! {l}"))
        .collect();
    if doc_rows != schema_rows {
        return Err(format!("docs {doc_rows:#?}\nschema {schema_rows:#?}"));
    }
    Ok(())
}

#[test]
fn solve_schema_prints_every_solver() -> Result<(), String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rlhf-claims"))
        .args(["solve", "--schema"])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    for v in problem_variants()? {
        if !text.contains(&format!("| `{v}` |")) {
            return Err(format!("{v} missing from solve --schema:\n{text}"));
        }
    }
    if !out.status.success() {
        return Err(format!("exit {:?}", out.status));
    }
    Ok(())
}

#[test]
fn public_solution_types_round_trip_through_serde() -> Result<(), String> {
    let base = Dist::new(BASE.to_vec()).map_err(|e| e.to_string())?;
    let t = solve::tilt(&base, &REWARD, 0.7).map_err(|e| e.to_string())?;
    let text = serde_json::to_string(&t).map_err(|e| e.to_string())?;
    let back: solve::Tilt = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    // Scalars are written in shortest round-trip form, so they come back bit for bit; the
    // policy is renormalized by `Dist::new`, which moves an entry by at most an ulp or two.
    if (back.beta, back.log_partition, back.solution.kl) != (t.beta, t.log_partition, t.solution.kl)
    {
        return Err(format!("{text}\n{back:?}"));
    }
    close_all(
        back.solution.policy.probs(),
        t.solution.policy.probs(),
        "policy",
    )?;
    let b = solve::best_of_n(&base, &REWARD, 3).map_err(|e| e.to_string())?;
    let text = serde_json::to_string(&b).map_err(|e| e.to_string())?;
    let back: solve::BestOfN = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if (back.n, back.kl_bound, back.win_rate_strict) != (b.n, b.kl_bound, b.win_rate_strict) {
        return Err(format!("{text}\n{back:?}"));
    }
    let d: Divergence = serde_json::from_str(r#"{"alpha": 0.5}"#).map_err(|e| e.to_string())?;
    if d != Divergence::Alpha(0.5) {
        return Err(format!("{d:?}"));
    }
    // A distribution that does not sum to one is refused when read, as by `Dist::new`.
    if serde_json::from_str::<Dist>("[0.5, 0.6]").is_ok() {
        return Err("an unnormalized Dist was accepted".into());
    }
    Ok(())
}
