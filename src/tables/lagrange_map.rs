//! `lagrange-map`: the one-to-one map beta <-> KL budget <-> expected reward of claim
//! `kl.monotone`, on a named example.

use super::{Table, TableSpec};
use crate::error::Result;
use crate::solve::{kl_budget, tilt};
use crate::Dist;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "lagrange-map",
    description: "beta <-> KL(pi_beta||pi0) <-> E[r] for the example base (0.4,0.3,0.2,0.1), reward (0,1,2,3)",
    build,
};

/// The example: four outcomes, base (0.4, 0.3, 0.2, 0.1), reward (0, 1, 2, 3). The maximum KL is
/// `-log 0.1 = 2.302585...`, reached only as beta -> 0.
pub fn example() -> Result<(Dist, Vec<f64>)> {
    Ok((
        Dist::new(vec![0.4, 0.3, 0.2, 0.1])?,
        vec![0.0, 1.0, 2.0, 3.0],
    ))
}

/// For beta = 10^k, k = 2, 1.5, .., -2: KL, `E[r]`, the objective `beta log Z`, and the beta that
/// `kl_budget` recovers from that KL (the inverse map; it must reproduce beta).
pub fn build() -> Result<Table> {
    let (base, reward) = example()?;
    let mut t = Table::new(
        "beta <-> KL budget <-> expected reward (base 0.4,0.3,0.2,0.1; reward 0,1,2,3)",
        &[
            "beta",
            "kl",
            "expected_reward",
            "objective",
            "beta_from_kl_budget",
        ],
    );
    for k in 0..=8 {
        let beta = 10f64.powf(2.0 - 0.5 * f64::from(k));
        let s = tilt(&base, &reward, beta)?;
        let back = kl_budget(&base, &reward, s.solution.kl)?;
        t.push(vec![
            beta.into(),
            s.solution.kl.into(),
            s.solution.expected_reward.into(),
            s.objective().into(),
            back.beta.into(),
        ])?;
    }
    Ok(t)
}
