//! `rlhf-claims solve` with `{"solver": "chipo", ...}`: the Lambert function `W(e^y)` and the
//! chiPO optimum against independent 60-digit computations (`scripts/reference_lambert_w.py` ->
//! `tests/fixtures/lambert_w_exp_reference.json`), and the error contract (exit code 2 with a
//! JSON error object).

mod common;

use rlhf_claims::solve::chipo::{lambert_w_exp, ln_lambert_w_exp};
use serde_json::{json, Value};

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lambert_w_exp_reference.json"
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

fn num(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

/// `W(e^y)` to 4 ulps relative over the whole range (`y` from -745 to `f64::MAX`): the
/// reference is rounded to the nearest double (half an ulp), Fritsch's last step leaves
/// `< 1e-18` relative, and the step itself rounds in a handful of operations. At `y = -745`
/// the reference is the subnormal `5e-324`, compared absolutely. `ln W(e^y)` to 4 ulps of
/// `max(1, |ln W|)`.
#[test]
fn lambert_w_exp_matches_the_high_precision_reference() {
    let f = fixture();
    let cases = f["lambert_w_exp"].as_array().expect("cases");
    assert!(cases.len() >= 30);
    for c in cases {
        let (y, want) = (num(&c["y"]), num(&c["w"]));
        let got = lambert_w_exp(y);
        let tol = (4.0 * f64::EPSILON * want).max(f64::from_bits(1));
        assert!(
            (got - want).abs() <= tol,
            "W(e^{y}) = {got:e}, reference {want:e}"
        );
        let ln_want = if want >= f64::MIN_POSITIVE {
            want.ln()
        } else {
            y - want
        };
        let ln_got = ln_lambert_w_exp(y);
        assert!(
            (ln_got - ln_want).abs() <= 4.0 * f64::EPSILON * ln_want.abs().max(1.0),
            "ln W(e^{y}) = {ln_got:e}, reference {ln_want:e}"
        );
    }
}

/// Relative agreement `1e-12` for every returned number (policy entries, `lambda`, `E[r]`, KL):
/// the root `u` is solved to `2 eps` relative and each density ratio is `W` at `u - d`, whose
/// relative condition number `1/(1 + W)` is at most 1 in `y`, so each entry errs by a few
/// `eps (1 + |u|)`; `|u| <= 1/p_A + ln(1/p_A) ~ 2e9` on the rare-argmax case would allow more, but
/// there the root sits at `u ~ 47` (see the fixture): `1e-12` leaves a wide margin.
#[test]
fn chipo_matches_the_high_precision_reference() {
    let f = fixture();
    let cases = f["chipo"].as_array().expect("cases");
    assert!(cases.len() >= 6);
    for c in cases {
        let name = c["name"].as_str().expect("name");
        let problem = json!({
            "solver": "chipo",
            "base": c["base"],
            "reward": c["reward"],
            "beta": c["beta"],
        });
        let (code, out) = common::solve_json(&problem.to_string());
        assert_eq!(code, Some(0), "{name}: {out}");
        let close = |got: f64, want: f64, what: &str| {
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(f64::MIN_POSITIVE),
                "{name}: {what} = {got:e}, reference {want:e}"
            );
        };
        let policy = out["policy"].as_array().expect("policy");
        let want = c["policy"].as_array().expect("reference policy");
        assert_eq!(policy.len(), want.len());
        for (g, w) in policy.iter().zip(want) {
            close(num(g), num(w), "policy entry");
        }
        close(num(&out["lambda"]), num(&c["lambda"]), "lambda");
        close(
            num(&out["expected_reward"]),
            num(&c["expected_reward"]),
            "expected_reward",
        );
        close(num(&out["kl"]), num(&c["kl"]), "kl");
    }
}

#[test]
fn chipo_rejects_bad_input_with_exit_code_2_and_a_json_error() {
    let bad = [
        (
            r#"{"solver":"chipo","base":[0.5,0.5],"reward":[0,1],"beta":0}"#,
            "invalid_parameter",
        ),
        (
            r#"{"solver":"chipo","base":[0.5,0.5],"reward":[0,1],"beta":-1}"#,
            "invalid_parameter",
        ),
        (
            r#"{"solver":"chipo","base":[0.5,0.6],"reward":[0,1],"beta":1}"#,
            "not_normalized",
        ),
        (
            r#"{"solver":"chipo","base":[0.5,0.5],"reward":[0],"beta":1}"#,
            "length_mismatch",
        ),
        (
            r#"{"solver":"chipo","base":[0.5,0.5],"reward":[0,1]}"#,
            "invalid_input",
        ),
        (
            r#"{"solver":"chipo","base":[],"reward":[],"beta":1}"#,
            "empty",
        ),
    ];
    for (input, kind) in bad {
        let (code, out) = common::solve_json(input);
        assert_eq!(code, Some(2), "{input}");
        assert_eq!(out["error"]["kind"], kind, "{input}: {out}");
    }
}

/// Timing at `10^7` outcomes (run with `cargo test --release --test solve_chipo -- --ignored`; the test profile has `opt-level = 3`):
/// chiPO within 10 times the tilt's time on the same problem (base log-uniform weights, rewards
/// uniform on `[0, 10]`, `beta = 0.1`).
#[test]
#[ignore]
fn chipo_at_ten_million_outcomes_within_ten_times_the_tilt() -> Result<(), rlhf_claims::Error> {
    use rlhf_claims::{solve, Dist};
    let n = 10_000_000usize;
    let weights: Vec<f64> = (0..n)
        .map(|i| (-(((i * 7919) % 1000) as f64) / 200.0).exp())
        .collect();
    let reward: Vec<f64> = (0..n)
        .map(|i| ((i * 104_729) % n) as f64 * 10.0 / n as f64)
        .collect();
    let base = Dist::from_weights(weights)?;
    let best = |f: &dyn Fn() -> Result<(), rlhf_claims::Error>| -> Result<f64, rlhf_claims::Error> {
        let mut t = f64::INFINITY;
        for _ in 0..3 {
            let start = std::time::Instant::now();
            f()?;
            t = t.min(start.elapsed().as_secs_f64());
        }
        Ok(t)
    };
    let tilt = best(&|| solve::tilt(&base, &reward, 0.1).map(|_| ()))?;
    let chipo = best(&|| solve::chipo(&base, &reward, 0.1).map(|_| ()))?;
    eprintln!(
        "tilt {tilt:.3} s, chipo {chipo:.3} s, ratio {:.2}",
        chipo / tilt
    );
    assert!(chipo <= 10.0 * tilt, "chipo {chipo} s vs tilt {tilt} s");
    Ok(())
}

/// The chiPO passes run over fixed tiles whose sums are combined in tile order, so one thread
/// and four give the same bits (on `2^18` outcomes, four tiles' worth per thread).
#[test]
fn chipo_gives_the_same_bits_on_any_number_of_threads() -> Result<(), rlhf_claims::Error> {
    use rlhf_claims::{solve::chipo::chipo, with_threads, Dist};
    let n = 1 << 18;
    let weights: Vec<f64> = (0..n).map(|i| 1.0 + (i % 97) as f64).collect();
    let reward: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 100.0).collect();
    let base = Dist::from_weights(weights)?;
    let one = with_threads(1, || chipo(&base, &reward, 0.7))?;
    let four = with_threads(4, || chipo(&base, &reward, 0.7))?;
    assert_eq!(one.lambda.to_bits(), four.lambda.to_bits());
    assert_eq!(one.solution.kl.to_bits(), four.solution.kl.to_bits());
    assert_eq!(one.solution.policy, four.solution.policy);
    Ok(())
}
