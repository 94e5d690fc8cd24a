//! `rlhf-claims solve` against an independent high-precision computation.
//!
//! `tests/fixtures/solve_reference.json` is written by `scripts/reference_solve.py`: random and
//! extreme problems for `tilt`, `kl_budget`, `reward_target`, `condition` and `maxent`, with
//! answers computed in mpmath at 100 working digits (50 kept) and rounded once to f64. Each
//! problem is piped into the built binary and every reported quantity is compared.
//!
//! # Tolerances
//!
//! The base tolerance is `REL = 1e-12` relative, about 4500 units of rounding: room for the
//! `O(eps)` rounding of a few dozen operations and of sums, but eight orders of magnitude below
//! any algorithmic error (a wrong branch, a lost `log1p`, a truncated series). It is applied to
//! the natural scale of each quantity, i.e. to its condition number as a function of the
//! exactly given inputs:
//!
//! - policy entry `pi_i = p_i e^{d_i}`: `REL (1 + |d_i|) max(pi_i, MIN_POSITIVE)`. `exp` has
//!   condition number `|d|`, and `d_i = (r_i - r*)/beta - log Z` can only be formed with a
//!   relative rounding error. Below `f64::MIN_POSITIVE` the format itself has only absolute
//!   resolution (subnormals), hence the floor.
//! - expected reward: `REL * E_pi|r|`, the condition number of the sum `sum pi r` (rewards of
//!   mixed sign cancel).
//! - KL: `REL * KL` (full relative accuracy, also at `KL = 1e-17` and `1e-301`, which the
//!   solver's non-cancelling formula is designed for).
//! - `log_partition = r*/beta + log Z'`: `REL (|r*/beta| + |log Z'|)`, the two summands.
//! - multiplier of `kl_budget`: KL is flat in beta near the argmax limit (budgets close to
//!   `-log pi0(A)`), so beta is ill-conditioned: `kappa = d ln beta / d ln KL = KL beta^2 / Var`
//!   (`beta_condition` in the fixture, up to `4e8`). Beta is compared with `REL (1 + kappa)`,
//!   and the meaningful property is checked directly: the KL of the tilt at the *returned* beta
//!   equals the budget to `REL (1 + 1/kappa)`. The `1/kappa` term matters where KL is steep in
//!   beta (an argmax of mass 1e-300, `kappa = 0.0017`): there even the f64 nearest to the exact
//!   beta has a KL off by `eps / kappa`. The expected reward moves by `dE/d eps = beta`
//!   (envelope theorem), which adds `REL beta KL (1 + 1/kappa)` to its tolerance.
//! - multiplier of `reward_target`: every f64 evaluation of `E_beta[r]` carries an absolute
//!   error `~ eps E|r|`, which moves `ln beta` by `eps beta E|r| / Var` (the fixture's
//!   `beta_condition`, against which beta is compared as above). A beta accurate to `REL` moves
//!   `E` by `REL Var / beta` (`dE/d ln beta = -Var/beta`), added to the `E` tolerance, and the
//!   KL moves by the `E` tolerance over beta (`dKL/dE = 1/beta`). That last term dominates
//!   `REL KL` near the base (target within 1e-12 of `E_pi0[r]`: KL is 2e-24 and any f64 method
//!   that evaluates `E` itself can only give it to ~1e-4 relative).
//! - policy entries of the inverse problems: `d ln pi_i / d ln beta = -(r_i - E)/beta`, which
//!   adds `|r_i - E|/beta` times beta's relative tolerance to the entry's relative tolerance.

mod common;

use rlhf_claims::{solve, Dist};
use serde_json::Value;

const REL: f64 = 1e-12;
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/solve_reference.json"
);

fn run_solve(problem: &Value) -> Result<Value, String> {
    let out = common::solve_output(&problem.to_string());
    if !out.status.success() {
        return Err(format!(
            "solve failed on {problem}: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(serde_json::from_slice(&out.stdout).expect("solution is JSON"))
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn vec_of(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array"))
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// Collects the failures of one case.
struct Case<'a> {
    name: &'a str,
    failures: Vec<String>,
}

impl Case<'_> {
    fn close(&mut self, what: &str, got: f64, want: f64, tol: f64) {
        // Written so that a NaN anywhere counts as a failure.
        let within = (got - want).abs() <= tol;
        if !within {
            self.failures.push(format!(
                "{}: {what} = {got:e}, want {want:e} (error {:.2e}, tolerance {tol:.2e})",
                self.name,
                (got - want).abs()
            ));
        }
    }
}

/// `beta_shift`: for the inverse problems, `(beta, E, dlnb)` where `dlnb` is the relative
/// tolerance on the multiplier; `ln pi_i` moves by `|r_i - E| / beta` per unit of `ln beta`.
fn check_policy(
    case: &mut Case,
    (base, reward): (&[f64], &[f64]),
    got: &[f64],
    want: &[f64],
    beta_shift: Option<(f64, f64, f64)>,
) {
    assert_eq!(got.len(), want.len(), "{}: policy length", case.name);
    for i in 0..want.len() {
        let d = if want[i] > 0.0 && base[i] > 0.0 {
            (want[i] / base[i]).ln().abs()
        } else {
            0.0
        };
        let shift = beta_shift.map_or(0.0, |(b, e, dlnb)| (reward[i] - e).abs() / b * dlnb);
        let tol = (REL * (1.0 + d) + shift) * want[i].max(f64::MIN_POSITIVE);
        case.close(&format!("policy[{i}]"), got[i], want[i], tol);
    }
}

fn abs_mean(policy: &[f64], reward: &[f64]) -> f64 {
    policy.iter().zip(reward).map(|(p, r)| (p * r).abs()).sum()
}

fn check_case(c: &Value) -> Vec<String> {
    let name = c["name"].as_str().expect("name");
    let problem = &c["problem"];
    let want = &c["expected"];
    let got = match run_solve(problem) {
        Ok(v) => v,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let mut case = Case {
        name,
        failures: Vec::new(),
    };
    let solver = problem["solver"].as_str().expect("solver");
    let reward = vec_of(problem, "reward");
    let base = if solver == "maxent" {
        vec![1.0 / reward.len() as f64; reward.len()]
    } else {
        vec_of(problem, "base")
    };
    let want_policy = vec_of(want, "policy");
    let (e_got, e_want) = (num(&got, "expected_reward"), num(want, "expected_reward"));
    let (kl_got, kl_want) = (num(&got, "kl"), num(want, "kl"));
    let (Some(e_got), Some(e_want), Some(kl_got), Some(kl_want)) = (e_got, e_want, kl_got, kl_want)
    else {
        panic!("{name}: expected_reward and kl must be numbers: {got}");
    };
    let s_e = abs_mean(&want_policy, &reward);
    let beta_want = num(want, "beta");
    let mut e_tol = REL * s_e;
    let mut kl_tol = REL * kl_want;
    if let Some(regime) = want.get("regime") {
        assert_eq!(&got["regime"], regime, "{name}: regime");
        match (beta_want, solver) {
            (None, _) => assert!(got["beta"].is_null(), "{name}: beta must be null"),
            (Some(b), "kl_budget") => {
                let kappa = num(want, "beta_condition").expect("beta_condition");
                kl_tol = REL * kl_want * (1.0 + 1.0 / kappa);
                e_tol += REL * b * kl_want * (1.0 + 1.0 / kappa);
                check_returned_beta_meets_budget(&mut case, problem, &got, kl_tol);
            }
            (Some(b), _) => {
                e_tol += REL * num(want, "reward_slope").expect("reward_slope");
                kl_tol += e_tol / b;
            }
        }
        if let (Some(b), Some(kappa)) = (beta_want, num(want, "beta_condition")) {
            let b_got = num(&got, "beta").unwrap_or(f64::NAN);
            case.close("beta", b_got, b, REL * (1.0 + kappa) * b);
        }
    }
    let beta_shift = match (beta_want, num(want, "beta_condition")) {
        (Some(b), Some(kappa)) if solver != "tilt" => Some((b, e_want, REL * (1.0 + kappa))),
        _ => None,
    };
    let got_policy = vec_of(&got, "policy");
    check_policy(
        &mut case,
        (&base, &reward),
        &got_policy,
        &want_policy,
        beta_shift,
    );
    case.close("expected_reward", e_got, e_want, e_tol);
    case.close("kl", kl_got, kl_want, kl_tol);

    if solver == "tilt" {
        let beta = problem["beta"].as_f64().expect("beta");
        check_log_partition(&mut case, &base, &reward, beta, &got, want);
    }
    if solver == "maxent" {
        let alpha = problem["alpha"].as_f64().expect("alpha");
        let log_n = (reward.len() as f64).ln();
        // entropy = ln n - KL: absolute error of the scale ln n.
        let h_want = num(want, "entropy").expect("entropy");
        case.close(
            "entropy",
            num(&got, "entropy").unwrap_or(f64::NAN),
            h_want,
            REL * log_n,
        );
        // value = E + alpha H: the two summands' scales.
        case.close(
            "value",
            num(&got, "value").unwrap_or(f64::NAN),
            num(want, "value").expect("value"),
            REL * (s_e + alpha * log_n),
        );
    }
    case.failures
}

/// The KL of the tilt at the beta that `kl_budget` returned equals the budget: the property
/// that matters even where beta itself is ill-conditioned. `tilt` is checked independently by
/// the tilt cases of the fixture.
fn check_returned_beta_meets_budget(case: &mut Case, problem: &Value, got: &Value, tol: f64) {
    let eps = problem["kl_budget"].as_f64().expect("kl_budget");
    let beta = num(got, "beta").unwrap_or(f64::NAN);
    let base = Dist::new(vec_of(problem, "base")).expect("valid base");
    match solve::tilt(&base, &vec_of(problem, "reward"), beta) {
        Ok(t) => case.close("KL at the returned beta", t.solution.kl, eps, tol),
        Err(e) => case
            .failures
            .push(format!("{}: tilt at beta: {e}", case.name)),
    }
}

fn check_log_partition(
    case: &mut Case,
    base: &[f64],
    reward: &[f64],
    beta: f64,
    got: &Value,
    want: &Value,
) {
    let Some(lp_want) = num(want, "log_partition") else {
        assert!(
            got["log_partition"].is_null(),
            "{}: log_partition beyond f64 must be null",
            case.name
        );
        return;
    };
    let r_star = base
        .iter()
        .zip(reward)
        .filter(|(p, _)| **p > 0.0)
        .map(|(_, r)| *r)
        .fold(f64::NEG_INFINITY, f64::max);
    let lead = r_star / beta;
    let tol = REL * (lead.abs() + (lp_want - lead).abs());
    let lp_got = num(got, "log_partition").unwrap_or(f64::NAN);
    case.close("log_partition", lp_got, lp_want, tol);
}

#[test]
fn solve_agrees_with_high_precision_reference() {
    let text = std::fs::read_to_string(FIXTURE).expect("read fixture");
    let doc: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 50, "fixture has {} cases", cases.len());
    let failures: Vec<String> = cases.iter().flat_map(check_case).collect();
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
