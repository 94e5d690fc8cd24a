//! GRPO's fixed points at `G = inf` on extreme problems against independent 1600-bit answers.
//!
//! `tests/fixtures/grpo_infinite_reference.json` is written by
//! `scripts/reference_grpo_infinite.py` (mpmath; the k3 loss's `lambda` bisected on the
//! defining equation `sum q (v - mu0)/(lambda - v) = 1/beta^2`, the k3 ratio's temperatures found
//! as sign changes of `ln(beta sigma_tau/tau)`), on problems where the solver once missed:
//! a heavy class whose deviation from the base mean cancelled, a `beta` of `1e15` where a light
//! mass moves by `3e-8`, ratios of `1e-223`, a subnormal mass at a reward of `-1e308`, and tilts
//! whose masses were formed as subnormal products.
//!
//! Tolerance: `1e-12` relative on each policy entry (the crate's accuracy target), plus 4
//! subnormal steps (`2e-323`) for entries below the normal doubles, which are rounded more
//! than once. The control moves one reference entry by `1e-10` relative and must be rejected.

mod common;

use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/grpo_infinite_reference.json");
const REL: f64 = 1e-12;

/// The fixture's cases that carry `key` (`policy` for the k3 loss, `roots` for the ratio).
fn cases_with(key: &str) -> Vec<Value> {
    match serde_json::from_str(FIXTURE) {
        Ok(Value::Array(cases)) => cases.into_iter().filter(|c| c.get(key).is_some()).collect(),
        _ => Vec::new(),
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|xs| xs.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

/// The entries of `got` that differ from `want` beyond the tolerance (written so that NaN
/// fails), as messages.
fn policy_misses(got: &[f64], want: &[f64]) -> Vec<String> {
    if got.len() != want.len() {
        return vec![format!("{} entries against {}", got.len(), want.len())];
    }
    got.iter()
        .zip(want)
        .enumerate()
        .filter(|(_, (g, w))| {
            let tol = REL * w.abs() + 4.0 * f64::from_bits(1);
            let within = (*g - *w).abs() <= tol;
            !within
        })
        .map(|(i, (g, w))| format!("entry {i}: {g:e} against {w:e}"))
        .collect()
}

#[test]
fn the_k3_loss_fixed_point_matches_the_references() {
    let loss = cases_with("policy");
    assert!(loss.len() >= 9, "fixture has {} k3-loss cases", loss.len());
    let mut failures = Vec::new();
    for case in &loss {
        let (code, out) = common::solve_json(&case["problem"].to_string());
        let misses = policy_misses(&numbers(&out["policy"]), &numbers(&case["policy"]));
        if code != Some(0) || !misses.is_empty() {
            failures.push(format!("{}: {out} {misses:?}", case["problem"]));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_comparison_rejects_a_policy_moved_by_1e_10() {
    let case = cases_with("policy")
        .into_iter()
        .next()
        .expect("a k3-loss case");
    let want = numbers(&case["policy"]);
    let (_, out) = common::solve_json(&case["problem"].to_string());
    let got = numbers(&out["policy"]);
    assert!(policy_misses(&got, &want).is_empty());
    // The smallest positive entry, moved by 1e-10 relative: above the tolerance, below what a
    // wrong formula moves (the cancelling form moved such entries by 3e-6).
    let (i, _) = want
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0.0)
        .min_by(|a, b| a.1.total_cmp(b.1))
        .expect("a positive entry");
    let mut moved = want.clone();
    moved[i] *= 1.0 + 1e-10;
    assert!(!policy_misses(&got, &moved).is_empty());
    assert!(!policy_misses(&[f64::NAN], &want[..1]).is_empty());
}

#[test]
fn the_k3_ratio_roots_match_the_references() {
    let ratio = cases_with("roots");
    assert!(
        ratio.len() >= 3,
        "fixture has {} k3-ratio cases",
        ratio.len()
    );
    for case in &ratio {
        let (_, out) = common::solve_json(&case["problem"].to_string());
        let kind = out["error"]["kind"].as_str().unwrap_or("answer");
        let message = out["error"]["message"].as_str().unwrap_or("");
        match case["roots"].as_u64() {
            Some(0) => assert_eq!(kind, "infeasible", "{out}"),
            Some(1) => assert!(out.get("policy").is_some(), "{out}"),
            Some(n) => {
                assert_eq!(kind, "not_unique", "{out}");
                assert!(
                    message.contains(&format!("has {n} stationary points")),
                    "{out}"
                );
                // The first temperature as the message prints it (shortest round trip).
                let first = case["first_temperature"].as_f64().unwrap_or(f64::NAN);
                let printed: f64 = message
                    .split('[')
                    .nth(1)
                    .and_then(|s| s.split(',').next())
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(f64::NAN);
                assert!(
                    (printed / first - 1.0).abs() <= 1e-9,
                    "{printed} vs {first}"
                );
            }
            None => panic!("bad fixture entry {case}"),
        }
    }
}
