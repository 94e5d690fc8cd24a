//! `rlhf-claims solve` with `{"solver": "grpo", ...}`: closed forms, agreement with the
//! forward-KL and tilt solvers where the theory says they coincide, the answer's fields, and the
//! error contract (exit code 2 with a JSON error object, never a panic).

mod common;

use serde_json::Value;

fn run_solve(input: &str) -> (i32, Value) {
    let (code, value) = common::solve_json(input);
    (code.unwrap_or(-1), value)
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn policy(v: &Value) -> Vec<f64> {
    v["policy"]
        .as_array()
        .map(|a| a.iter().map(num).collect())
        .unwrap_or_default()
}

fn grpo(base: &str, reward: &str, beta: f64, g: &str, std: &str, kl: &str) -> String {
    format!(
        r#"{{"solver":"grpo","base":{base},"reward":{reward},"beta":{beta},"group_size":{g},"std":"{std}","kl":"{kl}"}}"#
    )
}

/// Two outcomes, uniform base, 0/1 reward, G = 2, k3 loss: `p^2 + (b - 1) p - b/2 = 0` with
/// `b = beta` (population std) or `sqrt(2) beta` (sample std).
#[test]
fn pairwise_closed_form() {
    for (std, b) in [("population", 1.0f64), ("sample", 2f64.sqrt())] {
        let (code, out) = run_solve(&grpo("[0.5,0.5]", "[0,1]", 1.0, "2", std, "k3_loss"));
        assert_eq!(code, 0, "{out}");
        let p = (-(b - 1.0) + ((b - 1.0) * (b - 1.0) + 2.0 * b).sqrt()) / 2.0;
        let got = policy(&out);
        assert!((got[1] - p).abs() < 1e-15, "{std}: {got:?} vs {p}");
        assert!((num(&out["expected_reward"]) - p).abs() < 1e-15);
        // KL(policy||base) and KL(base||policy), recomputed.
        let kl = got[0] * (2.0 * got[0]).ln() + got[1] * (2.0 * got[1]).ln();
        let kl_f = 0.5 * (0.5 / got[0]).ln() + 0.5 * (0.5 / got[1]).ln();
        assert!((num(&out["kl"]) - kl).abs() < 1e-15, "{out}");
        assert!((num(&out["kl_forward"]) - kl_f).abs() < 1e-15, "{out}");
    }
}

/// `G = inf`, k3 loss: the forward-KL optimum at `gamma = beta sigma_pi(r)`, by the
/// `forward_kl` problem with sigma recomputed from the returned policy.
#[test]
fn infinite_group_is_the_forward_kl_optimum() {
    let (base, reward) = ("[0.1,0.4,0.3,0.2]", [-1.0, 0.5, 2.0, 3.0]);
    for std in ["sample", "population"] {
        let (code, out) = run_solve(&grpo(
            base,
            "[-1,0.5,2,3]",
            0.7,
            r#""infinite""#,
            std,
            "k3_loss",
        ));
        assert_eq!(code, 0, "{out}");
        let pi = policy(&out);
        let mu: f64 = pi.iter().zip(reward).map(|(p, r)| p * r).sum();
        let var: f64 = pi
            .iter()
            .zip(reward)
            .map(|(p, r)| p * (r - mu) * (r - mu))
            .sum();
        let input = format!(
            r#"{{"solver":"forward_kl","base":{base},"reward":[-1,0.5,2,3],"gamma":{}}}"#,
            0.7 * var.sqrt()
        );
        let (_, f) = run_solve(&input);
        for (a, b) in pi.iter().zip(policy(&f)) {
            assert!((a - b).abs() < 1e-12, "{out} vs {f}");
        }
    }
}

/// The ratio placement at `G = 2` with the population std and a two-valued reward is the tilt
/// of the 0/1 reward at beta.
#[test]
fn ratio_placement_pairwise_binary_is_the_tilt() {
    let (code, out) = run_solve(&grpo(
        "[0.2,0.5,0.3]",
        "[0,1,1]",
        0.6,
        "2",
        "population",
        "k3_ratio",
    ));
    assert_eq!(code, 0, "{out}");
    let (_, t) = run_solve(r#"{"solver":"tilt","base":[0.2,0.5,0.3],"reward":[0,1,1],"beta":0.6}"#);
    for (a, b) in policy(&out).iter().zip(policy(&t)) {
        assert!((a - b).abs() < 1e-12, "{out} vs {t}");
    }
}

/// Finite groups by enumeration: the k3-loss point satisfies `pi (1 - P_G/beta) = pi0`; here
/// only that every answer is a distribution with mass moved toward higher reward.
#[test]
fn finite_groups_answer() {
    for g in ["3", "4", "8"] {
        for kl in ["k3_loss", "k3_ratio"] {
            let (code, out) = run_solve(&grpo(
                "[0.4,0.3,0.2,0.1]",
                "[0,1,2,3]",
                1.0,
                g,
                "sample",
                kl,
            ));
            assert_eq!(code, 0, "{g} {kl}: {out}");
            let pi = policy(&out);
            assert!((pi.iter().sum::<f64>() - 1.0).abs() < 1e-14);
            assert!(num(&out["expected_reward"]) > 1.0, "{out}");
        }
    }
}

/// Large groups on a binary reward (the common verifiable-reward case): the pruned walk answers
/// at `G` up to `10^6` (the full enumeration's binomial coefficients overflowed from
/// `G ~ 1030`, and `G = 10^5` ran for minutes), with a truncation bound far below the crate's
/// accuracy, and the success mass rises with `G` towards the `G = inf` point.
#[test]
fn large_groups_on_a_binary_reward_approach_the_infinite_group() {
    let success = |g: &str| {
        let (code, out) = run_solve(&grpo("[0.5,0.5]", "[0,1]", 1.0, g, "population", "k3_loss"));
        assert_eq!(code, 0, "G {g}: {out}");
        let bound = num(&out["truncation_bound"]);
        assert!(bound <= 1e-14, "G {g}: truncation bound {bound:e}");
        policy(&out)[1]
    };
    let limit = success(r#""infinite""#);
    let mut last = success("2");
    for g in ["64", "1100", "100000", "1000000"] {
        let p = success(g);
        assert!(last < p && p < limit, "G {g}: {last} < {p} < {limit} fails");
        last = p;
    }
    assert!(limit - last < 1e-5, "G = 10^6 is {last}, the limit {limit}");
}

#[test]
fn bad_input_gets_a_json_error() {
    let bad = [
        (grpo("[0.5,0.5]", "[0,1]", 1.0, "1", "sample", "k3_loss"), "invalid_parameter"),
        (grpo("[0.5,0.5]", "[0,1]", 1.0, "0", "sample", "k3_loss"), "invalid_parameter"),
        (grpo("[0.5,0.5]", "[0,1]", 1.0, "2.5", "sample", "k3_loss"), "invalid_parameter"),
        (grpo("[0.5,0.5]", "[0,1]", 1.0, "-3", "sample", "k3_loss"), "invalid_parameter"),
        (grpo("[0.5,0.5]", "[0,1]", 1.0, r#""many""#, "sample", "k3_loss"), "invalid_parameter"),
        (grpo("[0.5,0.5]", "[0,1]", 1.0, "4", "unbiased", "k3_loss"), "invalid_input"),
        (grpo("[0.5,0.5]", "[0,1]", 1.0, "4", "sample", "k1"), "invalid_input"),
        (grpo("[0.5,0.5]", "[0,1]", 0.0, "4", "sample", "k3_loss"), "invalid_parameter"),
        (grpo("[0.5,0.5]", "[0,1]", -1.0, "4", "sample", "k3_loss"), "invalid_parameter"),
        (grpo("[0.5,0.5]", "[0]", 1.0, "4", "sample", "k3_loss"), "length_mismatch"),
        (grpo("[0.5,0.6]", "[0,1]", 1.0, "4", "sample", "k3_loss"), "not_normalized"),
        // The ratio placement at G = inf: no self-consistent tilt at small beta, two at large.
        (grpo("[0.5,0.5]", "[0,1]", 0.5, r#""infinite""#, "sample", "k3_ratio"), "infeasible"),
        (grpo("[0.5,0.5]", "[0,1]", 20.0, r#""infinite""#, "sample", "k3_ratio"), "not_unique"),
        // The enumeration's documented work budget (ten classes at G = 64).
        (
            grpo("[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]", "[0,1,2,3,4,5,6,7,8,9]", 1.0, "64", "sample", "k3_loss"),
            "invalid_parameter",
        ),
        (
            r#"{"solver":"grpo","base":[0.5,0.5],"reward":[0,1],"beta":1,"std":"sample","kl":"k3_loss"}"#.to_string(),
            "invalid_input",
        ),
    ];
    for (input, kind) in bad {
        let (code, out) = run_solve(&input);
        assert_eq!(code, 2, "{input}: {out}");
        assert_eq!(out["error"]["kind"], kind, "{input}: {out}");
    }
}
