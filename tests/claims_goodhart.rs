//! The `goodhart` claims: every check passes, the two no-dominance witnesses are snapshotted,
//! and the reweighting identity fails for an optimizer that does not reweight by `U` (negative
//! control).

use rlhf_claims::claims::goodhart::{compare_at_equal_proxy, no_dominance_witnesses};
use rlhf_claims::claims::{self, CheckConfig};
use rlhf_claims::goodhart::JointTable;
use rlhf_claims::tables::{round_sig, SNAPSHOT_DIGITS};
use rlhf_claims::Dist;

/// A JSON value with every number rounded to the snapshot digits (platform-stable).
fn rounded(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) => n
            .as_f64()
            .map(|x| serde_json::json!(round_sig(x, SNAPSHOT_DIGITS)))
            .unwrap_or(Value::Number(n)),
        Value::Array(a) => Value::Array(a.into_iter().map(rounded).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, x)| (k, rounded(x))).collect()),
        other => other,
    }
}

#[test]
fn every_goodhart_claim_passes() {
    for c in claims::all()
        .into_iter()
        .filter(|c| c.family() == "goodhart")
    {
        let v = c.run(&CheckConfig::new(64, 11));
        assert!(v.passed, "{}: {v:?}", c.id);
    }
    let ids: Vec<&str> = claims::goodhart::claims().iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), 12);
    for id in ids {
        assert!(
            std::path::Path::new(&format!("proofs/{id}.md")).exists(),
            "{id}"
        );
    }
}

/// The witnesses found at seed 0 with 256 cases (the default `check` run), shrunk.
#[test]
fn no_dominance_witnesses_snapshot() {
    let (a, b) = no_dominance_witnesses(&CheckConfig::new(256, 0)).expect("both witnesses");
    assert!(a.tilt_true > a.bon_true && b.bon_true > b.tilt_true);
    let json = |c| rounded(serde_json::to_value(c).expect("serializes"));
    insta::assert_json_snapshot!("no-dominance-tilt-higher", json(&a));
    insta::assert_json_snapshot!("no-dominance-bon-higher", json(&b));
}

/// The second witness recomputed by hand. Base (0.6, 0.2, 0.2), U = (1, 2, 0), V = (0, 0, -1),
/// N = 2: BoN puts `F(U)^2 - F(U-)^2` on each class: U = 0 gets 0.2^2 = 0.04, U = 1 gets
/// 0.8^2 - 0.04 = 0.6, U = 2 gets 1 - 0.64 = 0.36; so E[U] = 1.32 and E[V] = -0.04.
#[test]
fn bon_witness_by_hand() {
    let t = JointTable::new(
        Dist::new(vec![0.6, 0.2, 0.2]).expect("valid"),
        vec![1.0, 2.0, 0.0],
        vec![0.0, 0.0, -1.0],
    )
    .expect("valid");
    let c = compare_at_equal_proxy(&t, 2)
        .expect("solves")
        .expect("non-degenerate");
    assert!((c.expected_proxy - 1.32).abs() <= 1e-15);
    assert!((c.bon_true + 0.04).abs() <= 1e-15);
    assert!(c.bon_true > c.tilt_true);
}

/// Negative control for `goodhart.reweighting`: a policy that moves mass between two outcomes
/// with the same `U` but different `V` changes `E[V]` while the law of `U` stays put, so the
/// identity `E_pi[V] = E_pi[m(U)]` detects it.
#[test]
fn reweighting_identity_detects_a_policy_that_looks_at_v() {
    let t = JointTable::new(
        Dist::new(vec![0.5, 0.5]).expect("valid"),
        vec![1.0, 1.0],
        vec![0.0, 1.0],
    )
    .expect("valid");
    let reg = t.regression().expect("regression");
    let pi = Dist::new(vec![0.2, 0.8]).expect("valid");
    let direct = pi.expectation(&t.truth).expect("expectation");
    let via_m: f64 = reg.iter().map(|(_, _, m)| m).sum::<f64>();
    assert!((direct - via_m).abs() > 0.1);
}
