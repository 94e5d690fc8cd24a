//! `goodhart-submodules`: conditioning on persuasion versus reallocating the resource, at
//! matched expected persuasion (claim `goodhart.submodules`).

use super::{Table, TableSpec};
use crate::error::Result;
use crate::goodhart::submodules::SubmoduleModel;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "goodhart-submodules",
    description:
        "submodule model: E[truth] under conditioning on P >= c vs reallocation to the same E[P]",
    build,
};

/// For thresholds `c = -1, -0.5, .., 1.5`: `P(P >= c)`, `E[P | P >= c]`, `E[T | P >= c]`, and
/// the reallocation `lambda` and `E[T]` reaching the same `E[P]` (empty where full
/// reallocation cannot reach it). The base has `E[T] = 0`, `E[P] = 1`.
pub fn build() -> Result<Table> {
    let m = SubmoduleModel::WITNESS;
    let mut t = Table::new(
        "submodules: truth (1,-1,0), persuasion (1,2,0) per unit; unit noises, corr 0.5; K = 30",
        &[
            "threshold",
            "p_accept",
            "expected_persuasion",
            "truth_conditioning",
            "lambda",
            "truth_reallocation",
        ],
    );
    for k in -2..=3 {
        let c = 0.5 * f64::from(k);
        let (cond, mass) = m.condition(c)?;
        let (lambda, truth) = match m.reallocate_to(cond.persuasion) {
            Ok((r, l)) => (Some(l), Some(r.truth)),
            Err(_) => (None, None),
        };
        t.push(vec![
            c.into(),
            mass.into(),
            cond.persuasion.into(),
            cond.truth.into(),
            lambda.into(),
            truth.into(),
        ])?;
    }
    Ok(t)
}
