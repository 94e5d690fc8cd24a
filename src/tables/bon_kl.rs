//! `bon-kl`: the exact KL of best-of-N against the bound `log N - (N-1)/N` (claims
//! `bon.kl-bound`, `bon.kl-formula`, `bon.nats`), for `N = 2^k`, `k = 0..=40`, on five bases.

use super::{Table, TableSpec};
use crate::error::Result;
use crate::solve::best_of_n;
use crate::Dist;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "bon-kl",
    description: "exact KL(BoN||pi0) vs log N - (N-1)/N for N = 1, 2, 4, .., 2^40 on five bases",
    build,
};

/// The bases: a name, the base and the reward.
pub fn bases() -> Result<Vec<(&'static str, Dist, Vec<f64>)>> {
    let uniform = |n: usize| -> Result<(Dist, Vec<f64>)> {
        Ok((Dist::uniform(n)?, (0..n).map(|i| i as f64).collect()))
    };
    let (u2, r2) = uniform(2)?;
    let (u10, r10) = uniform(10)?;
    let (u1000, r1000) = uniform(1000)?;
    let (u1e6, r1e6) = uniform(1_000_000)?;
    Ok(vec![
        ("two-point uniform", u2, r2),
        (
            "ties (0.1,0.2,0.3,0.4; reward 0,1,1,2)",
            Dist::new(vec![0.1, 0.2, 0.3, 0.4])?,
            vec![0.0, 1.0, 1.0, 2.0],
        ),
        ("uniform over 10", u10, r10),
        ("uniform over 1000", u1000, r1000),
        ("uniform over 10^6", u1e6, r1e6),
    ])
}

/// One row per (base, N): the exact KL, the bound and their gap (`bound - KL >= 0`). As N grows
/// the KL tends to `-log pi0(top class)` while the bound grows like `log N`.
///
/// The gap is a difference of two numbers of size up to ~27, each exact to a few `1e-16`, so it
/// is rounded to `1e-14` absolute (its accuracy) rather than shown to 9 significant digits of
/// rounding noise where it is tiny (uniform over 10^6 at small N).
pub fn build() -> Result<Table> {
    let mut t = Table::new(
        "best-of-N: exact KL vs log N - (N-1)/N",
        &["base", "n", "kl", "bound", "gap"],
    );
    for (name, base, reward) in bases()? {
        for k in 0..=40u32 {
            let n = 1u64 << k;
            let b = best_of_n(&base, &reward, n)?;
            t.push(vec![
                name.into(),
                (n as f64).into(),
                b.solution.kl.into(),
                b.kl_bound.into(),
                ((b.kl_bound - b.solution.kl) * 1e14)
                    .round()
                    .mul_add(1e-14, 0.0)
                    .into(),
            ])?;
        }
    }
    Ok(t)
}
