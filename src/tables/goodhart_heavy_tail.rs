//! `goodhart-heavy-tail`: the tilt of `U = V + X` at proxy gain 1, light versus heavy error
//! tails, for growing supports (claims `goodhart.heavy-tail`, `goodhart.heavy-tail-kl`).

use super::{Table, TableSpec};
use crate::claims::goodhart::TAIL_LAWS;
use crate::error::Result;
use crate::goodhart::additive::{kl_for_gain, AdditiveModel};

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "goodhart-heavy-tail",
    description: "U = V + X, V ~ N(0,1): true gain and KL of the tilt at proxy gain 1, light vs heavy X, growing cut L",
    build,
};

/// Truncation points of the table.
pub const CUTS: [f64; 4] = [1e2, 1e3, 1e4, 1e5];

/// Rows: error law and cut `L`; the truncated mass; for the least-KL policy with
/// `E[U] - E0[U] = 1`: `E[V] - E0[V]` and its KL; for `X` alone: the least KL for a mean gain
/// of 1 and the KL of the construction moving mass `1/t` to the top cell `t`.
pub fn build() -> Result<Table> {
    let mut t = Table::new(
        "U = V + X at proxy gain 1: light (gaussian) vs heavy tails, growing cut L",
        &[
            "error_law",
            "cut",
            "truncated_mass",
            "true_gain",
            "kl",
            "min_kl_x_gain_1",
            "construction_kl",
        ],
    );
    for (name, law) in TAIL_LAWS {
        for l in CUTS {
            let model = AdditiveModel::standard_truth(law, l)?;
            let p = model.at_proxy_gain(1.0)?;
            let k = kl_for_gain(&model.error, 1.0)?;
            t.push(vec![
                name.into(),
                l.into(),
                model.error.truncated_mass.into(),
                p.true_gain.into(),
                p.kl.into(),
                k.min_kl.into(),
                k.construction_kl.into(),
            ])?;
        }
    }
    Ok(t)
}
