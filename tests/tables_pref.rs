//! Snapshots of the `pref-regularizers` and `estimator-bias` tables (9 significant digits), and
//! the identities their rows must satisfy.

use rlhf_claims::tables;

fn num(c: &tables::Cell) -> f64 {
    match c {
        tables::Cell::Num(x) => *x,
        other => panic!("not a number: {other:?}"),
    }
}

#[test]
fn pref_regularizers_snapshot_and_matched_kl() {
    let t = tables::build("pref-regularizers").expect("table");
    let kl = t.columns.iter().position(|c| c == "kl").expect("kl column");
    let er = t
        .columns
        .iter()
        .position(|c| c == "expected_reward")
        .expect("column");
    for row in &t.rows {
        // Every row spends the same budget: the bisection stops at |d ln beta| <= 1e-13, and
        // dKL/d ln beta is O(1) here, so the KL is matched far inside 1e-9.
        assert!((num(&row[kl]) - 0.5).abs() < 1e-9, "{row:?}");
        // At equal KL the tilt (first row) has the largest expected reward
        // (lagrange.kl-budget): every other regularizer pays for its shape.
        assert!(num(&row[er]) <= num(&t.rows[0][er]), "{row:?}");
    }
    insta::assert_snapshot!("pref_regularizers", t.snapshot());
}

#[test]
fn estimator_bias_snapshot_and_identities() {
    let t = tables::build("estimator-bias").expect("table");
    let col = |name: &str| t.columns.iter().position(|c| c == name).expect("column");
    for row in &t.rows {
        let kl = num(&row[col("kl")]);
        // estimator.unbiased and estimator.loss-gradient, row by row (full support: exact
        // identities up to rounding of sums of two terms).
        assert!((num(&row[col("mean_k1")]) - kl).abs() <= 1e-14 * (1.0 + kl));
        assert!((num(&row[col("mean_k3")]) - kl).abs() <= 1e-12 * (1.0 + kl));
        assert!(num(&row[col("grad_k1")]).abs() <= 1e-15);
        assert!((num(&row[col("grad_k2")]) - num(&row[col("grad_rkl")])).abs() <= 1e-12);
        assert!((num(&row[col("grad_k3")]) - num(&row[col("grad_fkl")])).abs() <= 1e-15);
        assert!(num(&row[col("clamped_k3_bias")]) <= 0.0);
    }
    insta::assert_snapshot!("estimator_bias", t.snapshot());
}
