//! `goodhart-outlier`: the whole tilt tradeoff of the adversarial-outlier model (claim
//! `goodhart.outlier`), the conditioning row, and the best mean ordinary reward at adversarial
//! mass `<= 1e-4`.

use super::{Table, TableSpec};
use crate::error::Result;
use crate::goodhart::outlier::{OutlierModel, OutlierPoint};

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "goodhart-outlier",
    description: "10^6 ordinary outputs on [0,100] + one adversarial (10^5): tilt tradeoff over beta, conditioning on r > 99",
    build,
};

/// The adversarial-mass cap of the catalog.
pub const MASS_CAP: f64 = 1e-4;

fn row(t: &mut Table, label: &str, beta: Option<f64>, p: OutlierPoint) -> Result<()> {
    t.push(vec![
        label.into(),
        beta.into(),
        p.adversarial_mass.into(),
        p.mean_ordinary_reward.into(),
        p.kl.into(),
    ])
}

/// Rows: the tilt at `beta = 10^{k/2}`, `k = -2..=14` (0.1 to 10^7); the tilt at the `beta`
/// where the adversarial mass is exactly `1e-4` (the best mean ordinary reward any `beta`
/// reaches under that cap, since both the mass and the mean ordinary reward decrease in
/// `beta`); and conditioning on `r > 99`.
pub fn build() -> Result<Table> {
    let m = OutlierModel::CATALOG;
    let mut t = Table::new(
        "adversarial outlier: tilt tradeoff and conditioning (uniform base on 10^6 + 1 outputs)",
        &[
            "policy",
            "beta",
            "adversarial_mass",
            "mean_ordinary_reward",
            "kl",
        ],
    );
    for k in -2..=14 {
        let beta = 10f64.powf(0.5 * f64::from(k));
        row(&mut t, "tilt", Some(beta), m.tilt(beta)?)?;
    }
    let beta = m.beta_for_adversarial_mass(MASS_CAP)?;
    row(
        &mut t,
        "tilt at adversarial mass 1e-4",
        Some(beta),
        m.tilt(beta)?,
    )?;
    row(&mut t, "condition on r > 99", None, m.condition(99.0)?)?;
    Ok(t)
}
