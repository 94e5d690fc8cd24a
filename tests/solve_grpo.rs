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

/// Case 523820 of the fuzzer's seed 0: `G = 8`, sample std, ratio placement, `beta = 0.001`.
/// Its stationary point puts all mass on the top reward (outcome 3): there every other outcome
/// is a lone outlier below seven copies of the top reward, whose standardized advantage is
/// `-(7/8) d / ((d/8) sqrt 8) = -7/sqrt 8`, and the ratio placement's condition
/// `ln(pi_j/pi0_j) = P_j/beta + KL` with `KL = -ln pi0_3` gives
/// `ln pi_j = ln pi0_j - 7/(sqrt(8) beta) - ln pi0_3`, about -2440 for outcome 0: far below
/// the doubles, so the policy is `e_3` and only the log view holds the rest. The solver once
/// accepted a Newton stall at a point with all mass on outcome 1 (base mass 3.6e-25), where the
/// top class's logit still moved at rate 4.1 (its mass underflowed, so `F = pi E` was 0), and
/// reported `kl_forward` as `null`.
#[test]
fn the_ratio_placement_finds_the_stationary_point_beyond_the_doubles() {
    let base = [
        1.0000000001604215,
        3.5803344021572073e-25,
        1.968442080460109e-90,
        1.0275594666712458e-15,
    ];
    let input = format!(
        r#"{{"solver":"grpo","base":{base:?},"reward":[-8.063852762672818,-0.00007192651426392023,-0.056168689430300046,1.0],"beta":0.001,"group_size":8,"std":"sample","kl":"k3_ratio","output":"log_policy"}}"#
    );
    let (code, out) = run_solve(&input);
    assert_eq!(code, 0, "{out}");
    assert_eq!(policy(&out), vec![0.0, 0.0, 0.0, 1.0], "{out}");
    let total: f64 = base.iter().sum();
    let log_base: Vec<f64> = base.iter().map(|b| (b / total).ln()).collect();
    let shift = -7.0 / (8f64.sqrt() * 0.001) - log_base[3];
    let logs: Vec<f64> = out["log_policy"]
        .as_array()
        .map(|a| a.iter().map(num).collect())
        .unwrap_or_default();
    assert_eq!(logs.len(), 4, "{out}");
    for j in 0..3 {
        let want = log_base[j] + shift;
        // The Newton tolerance on E (~4e-13) divided by beta, with margin.
        assert!((logs[j] - want).abs() <= 1e-9, "{j}: {} vs {want}", logs[j]);
    }
    let kl_forward: f64 = (0..3)
        .map(|j| base[j] / total * (log_base[j] - logs[j]))
        .sum();
    let got = num(&out["kl_forward"]);
    assert!(
        (got - kl_forward).abs() <= 1e-12 * kl_forward,
        "{got} vs {kl_forward}"
    );
    assert!((num(&out["kl"]) + log_base[3]).abs() <= 1e-12, "{out}");
}

/// Case 73286 of the fuzzer's seed 0: `G = inf`, the top reward `f64::MAX` on a subnormal base
/// mass (`1.3e-310`), at `beta = 0.001`. With the k3 ratio there is no stationary point: with `p`
/// the tilt's top mass and `x = f64::MAX/tau`, `sigma/tau <= x sqrt(p (1 - p))`, at most about
/// `ln(1/1.3e-310)/2 = 357` on the transition, below `1/beta = 1000` (an 1200-bit scan of
/// `ln tau` in `[-50, 800]` finds `beta sigma/tau <= 0.36`); the solver once answered with a
/// tilt that was not a fixed point, and now refuses. With the k3 loss the fixed point is unique
/// and keeps masses of about `1e-7` on the ordinary outcomes, whose weights `pi0 t` underflow
/// beside the top class's: formed as `m 2^e`, the weights are normalized together, so the
/// policy sums to 1 to rounding and the expected reward (`f64::MAX` times the top mass) equals
/// `sum pi r` recomputed. (Its masses match a 1600-bit reference, in
/// tests/grpo_infinite_reference.rs.)
#[test]
fn a_top_class_on_a_subnormal_base_mass_leaves_a_normalized_policy() {
    let ratio = r#"{"solver":"grpo","base":[6.2486639788394884e-220,-0.0,1.31716368773633e-310,0.288794712381554,1.3171636877363345e-15,0.23046527593119748,0.4807400116872471],"reward":[-8007.422073682888,2.0970398437837284e+199,1.7976931348623157e+308,3.0,3.0,-0.07704849927951325,818.0569583038946],"beta":0.001,"group_size":"infinite","std":"population","kl":"k3_ratio"}"#;
    let (_, refused) = run_solve(ratio);
    assert_eq!(refused["error"]["kind"], "infeasible", "{refused}");
    let input = ratio.replace("k3_ratio", "k3_loss");
    let input = input.as_str();
    let reward = [
        -8007.422073682888,
        2.0970398437837284e+199,
        f64::MAX,
        3.0,
        3.0,
        -0.07704849927951325,
        818.0569583038946,
    ];
    let (code, out) = run_solve(input);
    assert_eq!(code, 0, "{out}");
    let pi = policy(&out);
    let others: f64 = pi
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, p)| p)
        .sum();
    assert!(others > 5e-14, "{pi:?}");
    assert!(
        (pi.iter().sum::<f64>() - 1.0).abs() <= 4.0 * f64::EPSILON,
        "{pi:?}"
    );
    assert!(
        (pi[2] - (1.0 - others)).abs() <= 2.0 * f64::EPSILON,
        "{pi:?}"
    );
    // `sum pi r` halved, so that the terms at f64::MAX do not overflow.
    let half: f64 = pi.iter().zip(&reward).map(|(p, r)| p * (r / 2.0)).sum();
    let e = num(&out["expected_reward"]);
    assert!(
        (e / 2.0 - half).abs() <= 8.0 * f64::EPSILON * half,
        "{e} vs 2 * {half}"
    );
}

/// Case 3314 of the fuzzer's seed 0: `G = inf`, k3 loss, a reward of `-f64::MAX` on a mass of
/// `1e-200`. The class ratio `1/(v_max - v + s)` has the logarithm `-ln(v_max - v + s)`, which
/// is now carried into the log view: `kl_forward` was `null` (the ratio's log was taken from a
/// ratio that had lost it). `beta = 1e100` leaves the policy at the base to rounding, so
/// `KL(pi0||pi)` is at the rounding level, and the policy's log view matches its mass.
#[test]
fn an_infinite_group_beside_a_reward_of_minus_f64_max_has_a_finite_forward_kl() {
    let input = r#"{"solver":"grpo","base_logits":[39.10011720334893,499.1219811913229,499.4628210056396],"reward":[-1.7976931348623157e+308,5e-324,-0.1841379763148021],"beta":1e100,"group_size":"infinite","std":"population","kl":"k3_loss","output":"log_policy"}"#;
    let (code, out) = run_solve(input);
    assert_eq!(code, 0, "{out}");
    let kl_forward = num(&out["kl_forward"]);
    assert!((0.0..=1e-15).contains(&kl_forward), "{out}");
    let pi = policy(&out);
    let log0 = num(&out["log_policy"][0]);
    assert!(pi[0] > 0.0 && (pi[0].ln() - log0).abs() <= 1e-12, "{out}");
}

/// A case of the fuzzer's 10^6-case run of seed 0: `G = 2`, sample std, k3 loss, `beta = 1e-15`,
/// the top reward on a base mass of `1.9e-15`. In a group of two distinct rewards the sample
/// std is `d/sqrt 2`, so the higher one has advantage `s = 1/sqrt 2`, and the expected update of
/// the top class is `pi (1 - pi) s + beta (q - pi) = 0`: the low class keeps
/// `1 - pi = 2 beta (1 - q) / ((s + beta) + sqrt((s - beta)^2 + 4 s beta q))` (the root written
/// without cancellation), about `beta sqrt 2`. The closed form's denominator `b - C_{K-1}` once
/// cancelled to rounding and the policy went to the low class (with `kl_forward` null).
#[test]
fn the_pairwise_closed_form_at_a_tiny_beta_keeps_the_top_class() {
    let base = [1.873493359957836e-15, 1.0000000005229652];
    let input = format!(
        r#"{{"solver":"grpo","base":{base:?},"reward":[5e-324,-1.7976931348623157e+308],"beta":1e-15,"group_size":2,"std":"sample","kl":"k3_loss"}}"#
    );
    let (code, out) = run_solve(&input);
    assert_eq!(code, 0, "{out}");
    let q = base[0] / (base[0] + base[1]);
    let (s, beta) = (0.5f64.sqrt(), 1e-15);
    let low = 2.0 * beta * (1.0 - q)
        / ((s + beta) + ((s - beta) * (s - beta) + 4.0 * s * beta * q).sqrt());
    let pi = policy(&out);
    assert!((pi[1] / low - 1.0).abs() <= 1e-12, "{pi:?} vs {low}");
    assert!((pi[0] - (1.0 - low)).abs() <= 2.0 * f64::EPSILON, "{pi:?}");
    assert!(num(&out["kl_forward"]).is_finite(), "{out}");
}

/// The group advantage is unchanged by a positive scaling of the rewards, and so is the
/// stationary point. Rewards scaled by `2^-1000` (spread `4e-301`) and by `2^1000` (spread
/// `3e301`; both scalings exact) must give the policy of `(0, 1, 3)` at every finite `G` that
/// enumerates groups and at `G = inf`, for both placements. The advantages were computed from
/// the variance of the values themselves, which underflowed to 0 (advantages `-inf`) or
/// overflowed (advantages 0, the base returned as the stationary point); fuzz cases 9572 and
/// 17006 of seed 0 at 20000 cases. 1e-12: the two solves differ only by the rounding of the
/// scaled advantages and Newton's stopping point.
#[test]
fn the_stationary_point_does_not_depend_on_the_scale_of_the_rewards() {
    let base = "[0.3,0.5,0.2]";
    let scaled = |s: f64| format!("[0,{:e},{:e}]", s, 3.0 * s);
    for g in ["3", "5", r#""infinite""#] {
        for kl in ["k3_loss", "k3_ratio"] {
            let (code, unit) = run_solve(&grpo(base, "[0,1,3]", 0.4, g, "population", kl));
            if code != 0 {
                // G = inf with the ratio placement may have no or several stationary points;
                // then every scaling must say the same.
                for s in [2f64.powi(-1000), 2f64.powi(1000)] {
                    let (c, out) = run_solve(&grpo(base, &scaled(s), 0.4, g, "population", kl));
                    assert_eq!(c, code, "{out}");
                }
                continue;
            }
            for s in [2f64.powi(-1000), 2f64.powi(1000)] {
                // The point depends on the reward only through the scale-free advantage.
                let (c, out) = run_solve(&grpo(base, &scaled(s), 0.4, g, "population", kl));
                assert_eq!(c, 0, "G {g} {kl} scale {s:e}: {out}");
                for (a, b) in policy(&out).iter().zip(policy(&unit)) {
                    assert!(
                        (a - b).abs() <= 1e-12,
                        "G {g} {kl} scale {s:e}: {out} vs {unit}"
                    );
                }
            }
        }
    }
}

/// Two stationary points closer together than the ratio placement's root scan samples. For two
/// outcomes of equal base mass and rewards `(0, 1)`, the tilt at temperature `tau = 1/theta` has
/// `sigma = 1/(2 cosh(theta/2))`, so `tau = beta sigma_tau` reads `ln beta = -h(theta)` with
/// `h = ln theta - ln(2 cosh(theta/2))`, whose maximum is at `theta tanh(theta/2) = 2`:
/// `theta* = 2.39935728051547`, `beta* = e^{-h(theta*)} = 1.50887956153832` (mpmath, 50
/// digits). Just above `beta*` there are two tilts, `theta* -+ 3.7e-5 theta*` apart at
/// `beta* (1 + 1e-9)`, far closer than the scan's step; the scan alone reported "no stationary
/// point" there. Just below `beta*` there is none (the control).
#[test]
fn two_stationary_points_closer_than_the_scan_step_are_both_found() {
    let theta_star = 2.399_357_280_515_467_7;
    let beta_star = 1.508_879_561_538_32;
    let input = |beta: f64| {
        grpo(
            "[0.5,0.5]",
            "[0,1]",
            beta,
            r#""infinite""#,
            "population",
            "k3_ratio",
        )
    };
    let (code, out) = run_solve(&input(beta_star * (1.0 + 1e-9)));
    assert_eq!(code, 2, "{out}");
    assert_eq!(out["error"]["kind"], "not_unique", "{out}");
    let message = out["error"]["message"].as_str().unwrap_or_default();
    let temperatures: Vec<f64> = message
        .rsplit_once('[')
        .and_then(|(_, list)| list.strip_suffix(']'))
        .map(|list| list.split(", ").filter_map(|t| t.parse().ok()).collect())
        .unwrap_or_default();
    assert_eq!(temperatures.len(), 2, "{message}");
    for t in temperatures {
        assert!(
            (t * theta_star - 1.0).abs() < 1e-4,
            "{t} vs {}",
            1.0 / theta_star
        );
    }
    let (code, out) = run_solve(&input(beta_star * (1.0 - 1e-9)));
    assert_eq!(code, 2, "{out}");
    assert_eq!(out["error"]["kind"], "infeasible", "{out}");
}

/// `grpo_ratio_temperatures`: on three outcomes every returned `tau` satisfies
/// `tau = beta sigma_tau(r)` with `sigma_tau` summed here from the tilt's closed form (to
/// `1e-12` relative); a small `beta` has none, a large one two, the `grpo` problem at
/// `G = infinite` with the ratio placement refuses both (none or several points); a constant
/// reward is `invalid_input`.
#[test]
fn ratio_temperatures_are_self_consistent_tilts() {
    let (base, reward) = ([0.2, 0.5, 0.3], [-1.0, 0.5, 2.0]);
    let sigma = |tau: f64| {
        let w: Vec<f64> = (0..3).map(|i| base[i] * (reward[i] / tau).exp()).collect();
        let z: f64 = w.iter().sum();
        let mean: f64 = (0..3).map(|i| w[i] / z * reward[i]).sum();
        let var: f64 = (0..3).map(|i| w[i] / z * (reward[i] - mean).powi(2)).sum();
        var.sqrt()
    };
    for (beta, count) in [(0.3, 0), (5.0, 2)] {
        let input = format!(
            r#"{{"solver":"grpo_ratio_temperatures","base":[0.2,0.5,0.3],"reward":[-1,0.5,2],"beta":{beta}}}"#
        );
        let (code, out) = run_solve(&input);
        assert_eq!(code, 0, "{out}");
        let taus: Vec<f64> = out["temperatures"]
            .as_array()
            .map(|a| a.iter().map(num).collect())
            .unwrap_or_default();
        assert_eq!(taus.len(), count, "{out}");
        for tau in taus {
            assert!((beta * sigma(tau) / tau - 1.0).abs() < 1e-12, "{tau}");
        }
        let (code, out) = run_solve(&grpo(
            "[0.2,0.5,0.3]",
            "[-1,0.5,2]",
            beta,
            "\"infinite\"",
            "population",
            "k3_ratio",
        ));
        assert_eq!(code, 2, "{out}");
    }
    let (code, out) = run_solve(
        r#"{"solver":"grpo_ratio_temperatures","base":[0.5,0.5],"reward":[1,1],"beta":1}"#,
    );
    assert_eq!(
        (code, out["error"]["kind"].as_str()),
        (2, Some("invalid_input")),
        "{out}"
    );
}
