//! `soft-bon`: soft best-of-N against the tilt it converges to (claim `bon.soft`), for
//! `N = 1, 2, 4, ..., 2^16`, on base `(0.1, 0.2, 0.3, 0.4)`, rewards `(0, 1, 1, 2)`,
//! temperature 1.

use super::{Table, TableSpec};
use crate::claims::best_of_n_variants::soft_rate_constants;
use crate::claims::strategy::Instance;
use crate::error::Result;
use crate::solve::{soft_best_of_n, tilt};
use crate::Dist;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "soft-bon",
    description: "soft best-of-N vs the tilt at beta = lambda: KL to base and tilt, reward gap, \
N^2 KL and N gap against their limits, N = 1..2^16",
    build,
};

/// The instance of the table: base, reward, temperature.
pub fn instance() -> Result<(Dist, Vec<f64>, f64)> {
    Ok((
        Dist::new(vec![0.1, 0.2, 0.3, 0.4])?,
        vec![0.0, 1.0, 1.0, 2.0],
        1.0,
    ))
}

/// One row per `N = 2^k`, `k = 0..=16`: `KL(P_N||pi0)`, `KL(P_N||tilt)`, the reward gap
/// `E_tilt r - E_{P_N} r`, then `N^2 KL(P_N||tilt)` and `N gap` with their limits
/// `Var_tilt(w)/(2 mu^2)` and `Cov_tilt(w, r)/mu`.
pub fn build() -> Result<Table> {
    let (base, reward, lambda) = instance()?;
    let t = tilt(&base, &reward, lambda)?;
    let (c_kl, c_gap) = soft_rate_constants(
        &Instance {
            base: base.clone(),
            reward: reward.clone(),
        },
        lambda,
    );
    let mut table = Table::new(
        "soft best-of-N (lambda = 1) vs the tilt at beta = 1",
        &[
            "n",
            "kl_to_base",
            "kl_to_tilt",
            "reward_gap",
            "n2_kl_to_tilt",
            "kl_limit",
            "n_gap",
            "gap_limit",
        ],
    );
    for k in 0..=16u32 {
        let n = 1u64 << k;
        let s = soft_best_of_n(&base, &reward, n, lambda)?;
        let nf = n as f64;
        let gap = t.solution.expected_reward - s.solution.expected_reward;
        table.push(vec![
            nf.into(),
            s.solution.kl.into(),
            s.kl_to_tilt.into(),
            gap.into(),
            (nf * nf * s.kl_to_tilt).into(),
            c_kl.into(),
            (nf * gap).into(),
            c_gap.into(),
        ])?;
    }
    Ok(table)
}
