//! Snapshots of the tables `soft-bon` and `passk` (rounded to 9 significant digits), plus the
//! identities and limits each row must satisfy whatever the snapshot says.

use rlhf_claims::tables::{self, Cell};

fn num(c: &Cell) -> f64 {
    match c {
        Cell::Num(x) => *x,
        _ => f64::NAN,
    }
}

#[test]
fn soft_bon_table() -> rlhf_claims::Result<()> {
    let t = tables::build("soft-bon")?;
    assert_eq!(t.rows.len(), 17);
    let mut last_kl = f64::INFINITY;
    for row in &t.rows {
        let n = num(&row[0]);
        let (kl_base, kl_tilt, gap) = (num(&row[1]), num(&row[2]), num(&row[3]));
        // P_N(x) <= N pi0(x), so 0 <= KL(P_N||pi0) <= log N (to rounding).
        assert!(kl_base >= 0.0 && kl_base <= n.ln() + 1e-15, "{row:?}");
        // The KL to the tilt decreases in N, and soft best-of-N lags the tilt's reward.
        assert!(kl_tilt > 0.0 && kl_tilt < last_kl, "{row:?}");
        assert!(gap > 0.0, "{row:?}");
        last_kl = kl_tilt;
        // The scaled columns are the products they name.
        assert!(
            (num(&row[4]) - n * n * kl_tilt).abs() <= 1e-12 * num(&row[4]),
            "{row:?}"
        );
        assert!(
            (num(&row[6]) - n * gap).abs() <= 1e-12 * num(&row[6]),
            "{row:?}"
        );
    }
    // At N = 2^16 both scaled columns are within 1e-3 of their limits (corrections O(1/N)).
    let last = &t.rows[16];
    assert!(
        (num(&last[4]) / num(&last[5]) - 1.0).abs() < 1e-3,
        "{last:?}"
    );
    assert!(
        (num(&last[6]) / num(&last[7]) - 1.0).abs() < 1e-3,
        "{last:?}"
    );
    insta::assert_snapshot!(t.snapshot());
    Ok(())
}

#[test]
fn passk_table() -> rlhf_claims::Result<()> {
    let t = tables::build("passk")?;
    assert_eq!(t.rows.len(), 26);
    for pop in t.rows.chunks(13) {
        for w in pop.windows(2) {
            // Failure never increases with more attempts, and the slopes are negative.
            assert!(num(&w[1][3]) <= num(&w[0][3]), "{w:?}");
            assert!(num(&w[1][4]) < 0.0, "{w:?}");
        }
        // fail = exp(log_fail) on every row.
        for row in pop {
            assert!(
                (num(&row[2]) - num(&row[3]).exp()).abs() <= 1e-15,
                "{row:?}"
            );
        }
        // The rescaled failure reaches its limit at k = 10^12.
        let last = &pop[12];
        assert!(
            (num(&last[5]) / num(&last[6]) - 1.0).abs() < 1e-11,
            "{last:?}"
        );
    }
    // Finite set: slope/k -> log(0.99); Beta: slope -> -1/2.
    let finite_last = &t.rows[12];
    assert!((num(&finite_last[4]) / 1e12 - 0.99f64.ln()).abs() < 1e-15);
    let beta_last = &t.rows[25];
    assert!((num(&beta_last[4]) + 0.5).abs() < 1e-11);
    insta::assert_snapshot!(t.snapshot());
    Ok(())
}
