//! Snapshot of the `estimator-placement` table (9 significant digits) and the identities of
//! claim `estimator.placement` its rows must satisfy.

use rlhf_claims::tables;

fn num(c: &tables::Cell) -> f64 {
    match c {
        tables::Cell::Num(x) => *x,
        other => panic!("not a number: {other:?}"),
    }
}

fn text(c: &tables::Cell) -> &str {
    match c {
        tables::Cell::Text(s) => s,
        other => panic!("not a label: {other:?}"),
    }
}

#[test]
fn estimator_placement_snapshot_and_identities() {
    let t = tables::build("estimator-placement").expect("table");
    let col = |name: &str| t.columns.iter().position(|c| c == name).expect("column");
    assert_eq!(t.rows.len(), 18);
    for row in &t.rows {
        let (behavior, k, p) = (
            text(&row[col("behavior")]),
            text(&row[col("estimator")]),
            text(&row[col("placement")]),
        );
        let g: Vec<f64> = ["g0", "g1", "g2"].map(|c| num(&row[col(c)])).to_vec();
        let rkl: Vec<f64> = ["rkl0", "rkl1", "rkl2"].map(|c| num(&row[col(c)])).to_vec();
        let fkl: Vec<f64> = ["fkl0", "fkl1", "fkl2"].map(|c| num(&row[col(c)])).to_vec();
        // Gradients of a softmax sum to zero (to a few 1e-16: entries below 3 in size).
        for v in [&g, &rkl, &fkl] {
            assert!(v.iter().sum::<f64>().abs() <= 1e-14, "{row:?}");
        }
        // The catalog's statement, row by row; SAME = 1e-12 entrywise.
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-12);
        let diff: Vec<f64> = rkl.iter().zip(&fkl).map(|(r, f)| r - f).collect();
        let want = match (k, p, behavior) {
            ("k1", "reward", _) | ("k1", "loss_ratio", _) | ("k3", "loss_ratio", _) => {
                assert!(close(&g, &rkl), "{row:?}");
                "KL(pi||pi0)"
            }
            ("k3", "reward", _) => {
                assert!(close(&g, &diff), "{row:?}");
                "KL(pi||pi0) - KL(pi0||pi)"
            }
            ("k2", "loss", "on") => {
                assert!(close(&g, &rkl), "{row:?}");
                "KL(pi||pi0)"
            }
            ("k3", "loss", "on") => {
                assert!(close(&g, &fkl), "{row:?}");
                "KL(pi0||pi)"
            }
            ("k1", "loss", "on") => {
                assert!(g.iter().all(|x| x.abs() <= 1e-15), "{row:?}");
                "zero"
            }
            // k2 rho, k2 in the reward, and every plain loss off-policy: no KL's gradient,
            // and at least 1e-3 away from both on this instance.
            _ => {
                assert!(!close(&g, &rkl) && !close(&g, &fkl), "{row:?}");
                "none"
            }
        };
        assert_eq!(text(&row[col("unbiased_for")]), want, "{row:?}");
    }
    insta::assert_snapshot!("estimator_placement", t.snapshot());
}
