//! Snapshots of the `goodhart-*` tables (9 significant digits, in the JSON form of
//! `Table::to_json`, which writes infinite values as "inf" rather than null), plus the facts
//! each table must show, checked directly so a regenerated snapshot cannot hide them.

use rlhf_claims::tables::{self, Cell, Table};

fn num(t: &Table, row: usize, col: &str) -> f64 {
    let j = t
        .columns
        .iter()
        .position(|c| c == col)
        .expect("column exists");
    match &t.rows[row][j] {
        Cell::Num(x) => *x,
        other => panic!("row {row} column {col}: {other:?}"),
    }
}

fn label(t: &Table, row: usize) -> String {
    match &t.rows[row][0] {
        Cell::Text(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// At matched `E[U]`, BoN, tilt and conditioning share `E[V] = 0.5 E[U]` (to `1e-12`, the
/// accuracy of `e_N` and of the threshold solve), the mean shift has `E[V] = 0`, and the tilt
/// pays the least KL (it is the least-KL policy at its `E[U]`).
#[test]
fn goodhart_gaussian() {
    let t = tables::build("goodhart-gaussian").expect("builds");
    for block in t.rows.chunks(4).enumerate().map(|(k, _)| 4 * k) {
        let m = num(&t, block, "expected_proxy");
        for r in block..block + 3 {
            assert!((num(&t, r, "expected_true") - 0.5 * m).abs() <= 1e-12 * m);
        }
        assert_eq!(num(&t, block + 3, "expected_true"), 0.0);
        let tilt_kl = num(&t, block + 1, "kl");
        for r in [block, block + 2, block + 3] {
            assert!(tilt_kl < num(&t, r, "kl"));
        }
    }
    insta::assert_snapshot!("goodhart-gaussian", t.snapshot());
}

/// The conditioning row has adversarial probability `1/10001` (to `1e-12` relative; exact in
/// theory) and the capped row has mass `1e-4` with mean ordinary reward below 99.
#[test]
fn goodhart_outlier() {
    let t = tables::build("goodhart-outlier").expect("builds");
    let n = t.rows.len();
    assert_eq!(label(&t, n - 1), "condition on r > 99");
    let p = num(&t, n - 1, "adversarial_mass");
    assert!((p - 1.0 / 10_001.0).abs() <= 1e-12 / 10_001.0);
    assert!((num(&t, n - 2, "adversarial_mass") - 1e-4).abs() <= 1e-13);
    let best = num(&t, n - 2, "mean_ordinary_reward");
    assert!(best < 99.0 && best > 50.0);
    insta::assert_snapshot!("goodhart-outlier", t.snapshot());
}

/// Wherever reallocation can match the conditioned `E[P]`, conditioning has higher truth than
/// the base (0) and reallocation lower.
#[test]
fn goodhart_submodules() {
    let t = tables::build("goodhart-submodules").expect("builds");
    let j = t
        .columns
        .iter()
        .position(|c| c == "truth_reallocation")
        .expect("column");
    for r in 0..t.rows.len() {
        assert!(num(&t, r, "truth_conditioning") > 0.0);
        if let Cell::Num(x) = t.rows[r][j] {
            assert!(x < 0.0);
        }
    }
    insta::assert_snapshot!("goodhart-submodules", t.snapshot());
}

/// Light tail: true gain 1/2 at every cut; heavy tails: true gain and least KL decrease
/// strictly as the cut grows.
#[test]
fn goodhart_heavy_tail() {
    let t = tables::build("goodhart-heavy-tail").expect("builds");
    for (k, block) in t.rows.chunks(4).enumerate() {
        let rows: Vec<usize> = (4 * k..4 * k + block.len()).collect();
        if k == 0 {
            for r in rows {
                assert!((num(&t, r, "true_gain") - 0.5).abs() <= 1e-4);
            }
        } else {
            for w in rows.windows(2) {
                assert!(num(&t, w[1], "true_gain") < num(&t, w[0], "true_gain"));
                assert!(num(&t, w[1], "min_kl_x_gain_1") < num(&t, w[0], "min_kl_x_gain_1"));
            }
        }
    }
    insta::assert_snapshot!("goodhart-heavy-tail", t.snapshot());
}

/// Exact half-width <= sub-Gaussian bound <= Pinsker bound on every row.
#[test]
fn goodhart_frontier() {
    let t = tables::build("goodhart-frontier").expect("builds");
    for r in 0..t.rows.len() {
        let half = num(&t, r, "exact_half_width");
        let sg = num(&t, r, "sub_gaussian");
        assert!(half <= sg * (1.0 + 1e-9) && sg <= num(&t, r, "pinsker"));
    }
    insta::assert_snapshot!("goodhart-frontier", t.snapshot());
}
