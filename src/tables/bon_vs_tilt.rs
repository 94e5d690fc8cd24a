//! `bon-vs-tilt`: KL to the base of four ways to reach the same expected reward (claims
//! `bon.tilt-dominates`, `conditioning.tilt-closest`): best-of-N, the tilt, the quantilizer,
//! and threshold conditioning.

use super::{Table, TableSpec};
use crate::error::Result;
use crate::numeric::{monotone_root, RootTolerance};
use crate::solve::{best_of_n, condition_on_threshold, quantilize, reward_target};
use crate::Dist;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "bon-vs-tilt",
    description: "KL of best-of-N, tilt, quantilizer and threshold conditioning at matched expected reward (uniform base over 1000, reward k/999)",
    build,
};

/// Outcomes of the example base.
pub const OUTCOMES: usize = 1000;

/// The example: uniform base over 1000 outcomes, reward `k/999`.
pub fn example() -> Result<(Dist, Vec<f64>)> {
    let last = (OUTCOMES - 1) as f64;
    Ok((
        Dist::uniform(OUTCOMES)?,
        (0..OUTCOMES).map(|k| k as f64 / last).collect(),
    ))
}

/// The `q` whose quantilizer has expected reward `c` (`E_q` falls continuously from `max r` to
/// `E_pi0[r]` as `q` goes from 0 to 1), by bisection on `[1e-9, 1]` to `1e-14`.
pub fn quantile_for_reward(base: &Dist, reward: &[f64], c: f64) -> Result<f64> {
    monotone_root(
        |q| {
            Ok((
                c - quantilize(base, reward, q)?.solution.expected_reward,
                0.0,
            ))
        },
        1e-9,
        1.0,
        RootTolerance::default(),
    )
}

/// For `N = 2^k`, `k = 1..=10`, at `c = E_BoN[r]`: KL of best-of-N, of the tilt with
/// `E[r] = c`, of the quantilizer with `E[r] = c` (and its q), and of the cheapest threshold
/// conditioning that reaches at least `c` (threshold conditioning only reaches a discrete set of
/// rewards; its threshold and reward are shown).
pub fn build() -> Result<Table> {
    let (base, reward) = example()?;
    let mut t = Table::new(
        "KL to the base at matched expected reward (uniform over 1000, reward k/999)",
        &[
            "n",
            "expected_reward",
            "kl_best_of_n",
            "kl_tilt",
            "q",
            "kl_quantilizer",
            "threshold",
            "threshold_reward",
            "kl_threshold",
        ],
    );
    for k in 1..=10u32 {
        let n = 1u64 << k;
        let b = best_of_n(&base, &reward, n)?;
        let c = b.solution.expected_reward;
        let tilt = reward_target(&base, &reward, c)?;
        let q = quantile_for_reward(&base, &reward, c)?;
        let quant = quantilize(&base, &reward, q)?;
        // The highest bar whose conditional mean still reaches c: conditional means rise with
        // the bar, so scan bars from the top.
        let mut chosen = None;
        for &bar in reward.iter().rev() {
            let s = condition_on_threshold(&base, &reward, bar)?;
            if s.expected_reward < c {
                break;
            }
            chosen = Some((bar, s));
        }
        let (bar, cond) = match chosen {
            Some(x) => x,
            None => (
                reward[0],
                condition_on_threshold(&base, &reward, reward[0])?,
            ),
        };
        t.push(vec![
            (n as f64).into(),
            c.into(),
            b.solution.kl.into(),
            tilt.solution.kl.into(),
            q.into(),
            quant.solution.kl.into(),
            bar.into(),
            cond.expected_reward.into(),
            cond.kl.into(),
        ])?;
    }
    Ok(t)
}
