//! Snapshot of the `outlier-regularizers` table (9 significant digits), and the identities its
//! rows must satisfy (claims `pref.chipo`, `pref.forward-collapse`).

use rlhf_claims::tables;

fn num(c: &tables::Cell) -> Option<f64> {
    match c {
        tables::Cell::Num(x) => Some(*x),
        _ => None,
    }
}

#[test]
fn outlier_regularizers_snapshot_and_identities() {
    let t = tables::build("outlier-regularizers").expect("table");
    let col = |name: &str| t.columns.iter().position(|c| c == name).expect("column");
    let (target, reg, coef, lambda, adv, mean) = (
        col("target_mean_ordinary"),
        col("regularizer"),
        col("coefficient"),
        col("lambda"),
        col("adversarial_mass"),
        col("mean_ordinary"),
    );
    // The base mass of the adversarial output: 1/(10^6 + 1).
    let p_adv = 1.0 / 1_000_001.0;
    for rows in t.rows.chunks(3) {
        let goal = num(&rows[0][target]).expect("target");
        let label = |r: &Vec<tables::Cell>| match &r[reg] {
            tables::Cell::Text(s) => s.clone(),
            other => panic!("not a label: {other:?}"),
        };
        assert_eq!(label(&rows[0]), "reverse_kl");
        assert_eq!(label(&rows[2]), "chipo");
        for row in rows {
            if let Some(m) = num(&row[mean]) {
                // Matched to 1e-12 relative by the coefficient search.
                assert!((m - goal).abs() <= 1e-11 * goal, "{row:?}");
            }
        }
        let tilt_adv = num(&rows[0][adv]).expect("tilt");
        let chipo_adv = num(&rows[2][adv]).expect("chipo reaches every target");
        let (beta, lam) = (
            num(&rows[2][coef]).expect("beta"),
            num(&rows[2][lambda]).expect("lambda"),
        );
        // pref.chipo: density ratio at most max(1, (r - lambda)/beta).
        assert!(
            chipo_adv <= p_adv * ((1e5 - lam) / beta).max(1.0) * (1.0 + 1e-12),
            "{rows:?}"
        );
        // Above the base's mean the tilt gives the adversarial output far more mass.
        if goal >= 60.0 {
            assert!(chipo_adv < 0.05 && tilt_adv > 0.999, "{rows:?}");
            // The forward KL cannot move the ordinary mean above 50 + Var/10^5 ~ 50.0083.
            assert!(num(&rows[1][mean]).is_none(), "{rows:?}");
        }
    }
    insta::assert_snapshot!("outlier_regularizers", t.snapshot());
}
