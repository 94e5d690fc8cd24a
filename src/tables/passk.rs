//! `passk`: exact `1 - pass@k` curves and their local slopes (claim `bon.passk`) for the finite
//! task set `p = (0.5, 0.2, 0.05, 0.01)` and for `p ~ Beta(1/2, 2)`, `k = 10^0 .. 10^12`.

use super::{Table, TableSpec};
use crate::claims::best_of_n_variants::{PASSK_BETA, PASSK_TASKS};
use crate::error::Result;
use crate::solve::pass_at_k::{beta_power_law_constant, Population};

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "passk",
    description: "1 - pass@k and its local slope d log/d log k: exponential on a finite task set, \
power law k^(-a) for Beta(a, b) success rates",
    build,
};

/// One row per population and `k = 10^j`, `j = 0..=12`: `1 - pass@k`, its logarithm, the
/// local slope, and the rescaled failure that tends to a constant: `(1 - pass@k)/(1 -
/// p_min)^k` (limit: the share of tasks with the smallest `p`, 1/4) for the finite set,
/// `k^a (1 - pass@k)` (limit `Gamma(a+b)/Gamma(b)`) for the Beta population.
pub fn build() -> Result<Table> {
    let mut t = Table::new(
        "1 - pass@k: finite task set vs Beta(1/2, 2) success rates",
        &[
            "population",
            "k",
            "fail",
            "log_fail",
            "local_slope",
            "rescaled",
            "limit",
        ],
    );
    let finite = Population::finite(PASSK_TASKS.to_vec())?;
    let p_min = PASSK_TASKS.iter().copied().fold(1.0, f64::min);
    let (a, b) = PASSK_BETA;
    let beta = Population::beta(a, b)?;
    for (name, pop) in [
        ("finite (0.5, 0.2, 0.05, 0.01)", &finite),
        ("Beta(1/2, 2)", &beta),
    ] {
        for j in 0..=12 {
            let k = 10f64.powi(j);
            let pt = pop.at(k)?;
            let (rescaled, limit) = match pop {
                // (1/m) sum_i ((1 - p_i)/(1 - p_min))^k, formed per task so that the huge
                // exponents k log(1 - p) never meet in a difference.
                Population::Finite { p } => (
                    p.iter()
                        .map(|pi| (k * ((-pi).ln_1p() - (-p_min).ln_1p())).exp())
                        .sum::<f64>()
                        / p.len() as f64,
                    0.25,
                ),
                Population::Beta { .. } => (
                    (pt.log_fail + a * k.ln()).exp(),
                    beta_power_law_constant(a, b),
                ),
            };
            t.push(vec![
                name.into(),
                k.into(),
                pt.fail.into(),
                pt.log_fail.into(),
                pt.slope.into(),
                rescaled.into(),
                limit.into(),
            ])?;
        }
    }
    Ok(t)
}
