//! Snapshot of the `lagrange-map` table (beta <-> KL budget <-> expected reward), rounded to
//! 9 significant digits, plus an independent check of one row.

use rlhf_claims::{tables, Result};

#[test]
fn lagrange_map_snapshot() -> Result<()> {
    let table = tables::build("lagrange-map")?;
    insta::assert_snapshot!("lagrange_map", table.snapshot());
    Ok(())
}

/// Row beta = 1 of the example (base 0.4, 0.3, 0.2, 0.1; reward 0..3), by hand: the weights are
/// pi0 e^r = (0.4, 0.3e, 0.2e^2, 0.1e^3), Z = their sum, E = sum r w / Z, KL = E - log Z, and
/// kl_budget must recover beta = 1 from that KL.
#[test]
fn lagrange_map_row_beta_one() -> Result<()> {
    let table = tables::build("lagrange-map")?;
    let w: Vec<f64> = [0.4, 0.3, 0.2, 0.1]
        .iter()
        .enumerate()
        .map(|(r, p)| p * (r as f64).exp())
        .collect();
    let z: f64 = w.iter().sum();
    let e: f64 = w.iter().enumerate().map(|(r, x)| r as f64 * x).sum::<f64>() / z;
    let kl = e - z.ln();
    let row = table
        .rows
        .iter()
        .find(|row| matches!(row[0], tables::Cell::Num(b) if b == 1.0))
        .expect("the table has a row at beta = 1");
    let num = |i: usize| match row[i] {
        tables::Cell::Num(x) => x,
        _ => f64::NAN,
    };
    // Direct sums of four positive terms: a few ulps.
    assert!((num(1) - kl).abs() <= 1e-14 * kl);
    assert!((num(2) - e).abs() <= 1e-14 * e);
    assert!((num(5) - 1.0).abs() <= 1e-13);
    Ok(())
}
