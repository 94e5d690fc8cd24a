//! Snapshot of the table `winrate-frontier` (rounded to 9 significant digits), plus the
//! identities its rows must satisfy whatever the snapshot says.

use rlhf_claims::tables::{self, Cell};

fn num(c: &Cell) -> f64 {
    match c {
        Cell::Num(x) => *x,
        _ => f64::NAN,
    }
}

#[test]
fn winrate_frontier_table() -> rlhf_claims::Result<()> {
    let t = tables::build("winrate-frontier")?;
    assert_eq!(t.rows.len(), 8);
    for row in &t.rows {
        let kl = num(&row[2]);
        // KL matched: the budget solvers locate beta to ~1e-15 relative in the KL, the
        // quantilizer's kept mass is bisected to the spacing of doubles (its KL then within a
        // few eps of the target, from below); 1e-9 relative plus 1e-14 absolute covers both
        // with room, and also the slack case, where the optimum's KL is -log pi0(top) <= kl.
        for k in [4, 7, 9] {
            let matched = num(&row[k]);
            assert!(matched <= kl * (1.0 + 1e-9) + 1e-14, "{row:?} column {k}");
            assert!(matched >= kl * (1.0 - 1e-9) - 1e-14, "{row:?} column {k}");
        }
        // The tilt of w has the largest win rate at that KL (bon.winrate-optimal): win rates
        // are sums of 1000 terms (a few eps each, compensated), and the KLs match to 1e-9
        // relative, which moves a win rate by at most beta 1e-9 kl <= 1e-9 here.
        let best = num(&row[5]);
        for k in [3, 8, 10] {
            assert!(num(&row[k]) <= best + 1e-9, "{row:?} column {k}");
        }
        // The gap column is W(optimum) - W(best-of-N).
        assert!(
            (num(&row[11]) - (best - num(&row[3]))).abs() <= 1e-15,
            "{row:?}"
        );
        // Best-of-N's win rate is below N/(N+1) (bon.winrate).
        let n = num(&row[1]);
        assert!(num(&row[3]) < n / (n + 1.0), "{row:?}");
    }
    // The refutation of bon.vs-quantilizer shows on the tied base at N = 16: the
    // quantilizer beats best-of-N at the same KL (by far more than rounding).
    for row in t
        .rows
        .iter()
        .filter(|r| matches!(&r[0], Cell::Text(s) if s == "tied"))
    {
        if num(&row[1]) == 16.0 {
            assert!(num(&row[10]) > num(&row[3]) + 1e-6, "{row:?}");
        }
    }
    insta::assert_snapshot!(t.snapshot());
    Ok(())
}
