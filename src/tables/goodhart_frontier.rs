//! `goodhart-frontier`: the exact range of `E[V]` at a KL budget against the Pinsker and
//! sub-Gaussian bounds (claim `goodhart.frontier`).

use super::{Table, TableSpec};
use crate::error::Result;
use crate::goodhart::true_utility_range;
use crate::Dist;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "goodhart-frontier",
    description:
        "exact range of E[V] at KL <= eps vs Pinsker and sub-Gaussian bounds, two examples",
    build,
};

/// Examples: base (0.4, 0.3, 0.2, 0.1) with V = (0, 1, 2, 3); and a uniform base on 11 points
/// with V = 0, 0.1, .., 1. For `eps = 10^-4 .. 2`: the exact `min` and `max` of `E[V]`, the
/// exact half-width `max(high - E0, E0 - low)`, and the bounds `sqrt(2 s^2 eps)` and
/// `range sqrt(eps/2)`.
pub fn build() -> Result<Table> {
    let examples = [
        (
            "four-point",
            Dist::new(vec![0.4, 0.3, 0.2, 0.1])?,
            vec![0.0, 1.0, 2.0, 3.0],
        ),
        (
            "uniform on 11 points",
            Dist::uniform(11)?,
            (0..=10).map(|k| f64::from(k) / 10.0).collect(),
        ),
    ];
    let mut t = Table::new(
        "exact range of E[V] at KL <= eps vs closed-form bounds",
        &[
            "example",
            "eps",
            "low",
            "base_mean",
            "high",
            "exact_half_width",
            "sub_gaussian",
            "pinsker",
        ],
    );
    for (name, base, v) in &examples {
        for eps in [1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0, 2.0] {
            let r = true_utility_range(base, v, eps)?;
            let half = (r.high - r.base_mean).max(r.base_mean - r.low);
            t.push(vec![
                (*name).into(),
                eps.into(),
                r.low.into(),
                r.base_mean.into(),
                r.high.into(),
                half.into(),
                r.sub_gaussian.into(),
                r.pinsker.into(),
            ])?;
        }
    }
    Ok(t)
}
