//! Snapshots of the tables `bon-kl` and `bon-vs-tilt` (rounded to 9 significant digits), plus
//! the inequalities each row must satisfy whatever the snapshot says.

use rlhf_claims::tables::{self, Cell};

fn num(c: &Cell) -> f64 {
    match c {
        Cell::Num(x) => *x,
        _ => f64::NAN,
    }
}

#[test]
fn bon_kl_table() -> rlhf_claims::Result<()> {
    let t = tables::build("bon-kl")?;
    assert_eq!(t.rows.len(), 5 * 41);
    for row in &t.rows {
        // 0 <= KL <= bound (bon.kl-bound), to the rounding of the KL sum (1e-12 of the bound).
        let (kl, bound) = (num(&row[2]), num(&row[3]));
        assert!(kl >= 0.0 && kl <= bound + 1e-12 * bound.max(1.0), "{row:?}");
    }
    insta::assert_snapshot!(t.snapshot());
    Ok(())
}

#[test]
fn bon_vs_tilt_table() -> rlhf_claims::Result<()> {
    let t = tables::build("bon-vs-tilt")?;
    assert_eq!(t.rows.len(), 10);
    for row in &t.rows {
        // The tilt is KL-closest at matched reward (conditioning.tilt-closest), to 1e-9 relative.
        let (kl_bon, kl_tilt, kl_q) = (num(&row[2]), num(&row[3]), num(&row[5]));
        assert!(kl_tilt <= kl_bon * (1.0 + 1e-9), "{row:?}");
        assert!(kl_tilt <= kl_q * (1.0 + 1e-9), "{row:?}");
        // The chosen threshold reaches the target reward.
        assert!(num(&row[7]) >= num(&row[1]), "{row:?}");
    }
    insta::assert_snapshot!(t.snapshot());
    Ok(())
}
