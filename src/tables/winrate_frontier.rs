//! `winrate-frontier`: win rate against the base at the KL of best-of-N (claims
//! `bon.winrate-optimal`, `bon.vs-quantilizer`): best-of-N, the win-rate-optimal tilt of the
//! mid-rank `w`, the tilt of the raw reward and the quantilizer, all at best-of-N's KL, for
//! `N = 2, 4, 16, 256` on an untied base (atomless-like) and on a tied one.

use super::{Cell, Table, TableSpec};
use crate::error::Result;
use crate::solve::{best_of_n, kl_budget, quantilizer_at_kl, win_values, winrate_optimal};
use crate::Dist;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "winrate-frontier",
    description: "win rate against the base at best-of-N's KL: best-of-N, the win-rate-optimal tilt, the reward tilt and the quantilizer (untied: uniform over 1000, reward k/999; tied: uniform over 700, rewards 0, 1, 2 on 400, 100, 200 outcomes)",
    build,
};

/// The draw counts of the table.
pub const DRAWS: [u64; 4] = [2, 4, 16, 256];

/// The two bases: untied (uniform over 1000 outcomes, reward `k/999`, close to the atomless
/// case where best-of-N wins `N/(N+1)`), and tied (uniform over 700 outcomes in three reward
/// classes of masses 4/7, 1/7, 2/7 from the bottom: the least counterexample of
/// `bon.vs-quantilizer`, with ties).
pub fn bases() -> Result<Vec<(&'static str, Dist, Vec<f64>)>> {
    let untied = (0..1000).map(|k| f64::from(k) / 999.0).collect();
    let tied = (0..700)
        .map(|k| match k {
            0..=399 => 0.0,
            400..=499 => 1.0,
            _ => 2.0,
        })
        .collect();
    Ok(vec![
        ("untied", Dist::uniform(1000)?, untied),
        ("tied", Dist::uniform(700)?, tied),
    ])
}

/// One row per base and N: best-of-N's KL and win rate; the win-rate-optimal tilt at that KL
/// (its KL, win rate and beta); the tilt of the raw reward at that KL and the quantilizer at
/// that KL (each with its KL and its win rate `E[w]`); and the gap `W(optimum) - W(best-of-N)`.
pub fn build() -> Result<Table> {
    let mut t = Table::new(
        "Win rate against the base (ties half) at best-of-N's KL",
        &[
            "base",
            "n",
            "kl",
            "win_rate_best_of_n",
            "kl_optimal",
            "win_rate_optimal",
            "beta_optimal",
            "kl_reward_tilt",
            "win_rate_reward_tilt",
            "kl_quantilizer",
            "win_rate_quantilizer",
            "gap_best_of_n",
        ],
    );
    for (name, base, reward) in bases()? {
        let w = win_values(&base, &reward)?;
        for n in DRAWS {
            let b = best_of_n(&base, &reward, n)?;
            let kl = b.solution.kl;
            let opt = winrate_optimal(&base, &reward, kl)?;
            let tilt = kl_budget(&base, &reward, kl)?;
            let quant = quantilizer_at_kl(&base, &reward, kl)?;
            t.push(vec![
                Cell::from(name),
                Cell::from(n as f64),
                Cell::from(kl),
                Cell::from(b.win_rate_half_ties),
                Cell::from(opt.solution.kl),
                Cell::from(opt.win_rate),
                Cell::from(opt.beta),
                Cell::from(tilt.solution.kl),
                Cell::from(tilt.solution.policy.expectation(&w)?),
                Cell::from(quant.solution.kl),
                Cell::from(quant.solution.policy.expectation(&w)?),
                Cell::from(opt.win_rate - b.win_rate_half_ties),
            ])?;
        }
    }
    Ok(t)
}
