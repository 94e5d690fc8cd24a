//! `grpo-vs-tilt`: stationary points of population GRPO (claims `grpo.*`) for `G = 2, 4, 8, 16,
//! inf`, both stds and both KL placements, against the tilt `pi0 exp(r/beta)/Z`, on one
//! instance: base `(0.4, 0.3, 0.2, 0.1)`, reward `(0, 1, 2, 3)`, `beta = 1`.

use super::{Cell, Table, TableSpec};
use crate::divergence::{kl, tv};
use crate::error::Result;
use crate::solve::grpo::{grpo_stationary, GroupSize, GroupStd, GrpoConfig, KlPlacement};
use crate::solve::tilt;
use crate::Dist;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "grpo-vs-tilt",
    description: "GRPO stationary points (G = 2..inf, sample/population std, k3 loss/ratio) against the tilt (base 0.4, 0.3, 0.2, 0.1; reward 0..3; beta = 1)",
    build,
};

/// The instance's base.
pub const BASE: [f64; 4] = [0.4, 0.3, 0.2, 0.1];
/// The instance's reward.
pub const REWARD: [f64; 4] = [0.0, 1.0, 2.0, 3.0];
/// The instance's KL coefficient.
pub const BETA: f64 = 1.0;
/// The group sizes of the rows.
pub const GROUPS: [GroupSize; 5] = [
    GroupSize::Finite(2),
    GroupSize::Finite(4),
    GroupSize::Finite(8),
    GroupSize::Finite(16),
    GroupSize::Infinite,
];

fn label(g: GroupSize) -> String {
    match g {
        GroupSize::Finite(n) => n.to_string(),
        GroupSize::Infinite => "inf".into(),
    }
}

/// One row per (placement, std, G), then the tilt: `pi(0..3)`, `E[r]`, `KL(pi||pi0)`,
/// `KL(pi0||pi)` and `TV(pi, tilt)`. A case without a unique stationary point shows the
/// error kind (`infeasible`: none; `not_unique`: several) and no numbers.
pub fn build() -> Result<Table> {
    let base = Dist::new(BASE.to_vec())?;
    let t = tilt(&base, &REWARD, BETA)?.solution;
    let mut table = Table::new(
        "GRPO stationary points against the tilt (base 0.4, 0.3, 0.2, 0.1; reward 0, 1, 2, 3; beta = 1)",
        &[
            "kl", "std", "group_size", "status", "pi_0", "pi_1", "pi_2", "pi_3",
            "expected_reward", "kl_reverse", "kl_forward", "tv_to_tilt",
        ],
    );
    for kl_place in [KlPlacement::K3Loss, KlPlacement::K3Ratio] {
        for std in [GroupStd::Sample, GroupStd::Population] {
            for g in GROUPS {
                let config = GrpoConfig {
                    beta: BETA,
                    group_size: g,
                    std,
                    kl: kl_place,
                };
                let head = vec![
                    Cell::from(format!("{kl_place:?}").to_lowercase()),
                    Cell::from(format!("{std:?}").to_lowercase()),
                    Cell::from(label(g)),
                ];
                let row = match grpo_stationary(&base, &REWARD, &config) {
                    Ok(s) => point_cells("stationary", &s.solution.policy, &base, &t.policy)?,
                    Err(e) => {
                        let mut r = vec![Cell::from(e.kind())];
                        r.extend(std::iter::repeat_n(Cell::Empty, 8));
                        r
                    }
                };
                table.push(head.into_iter().chain(row).collect())?;
            }
        }
    }
    let head = vec![Cell::from("tilt"), Cell::Empty, Cell::Empty];
    let row = point_cells("tilt", &t.policy, &base, &t.policy)?;
    table.push(head.into_iter().chain(row).collect())?;
    Ok(table)
}

/// The status and numeric cells of a policy.
fn point_cells(status: &str, pi: &Dist, base: &Dist, tilted: &Dist) -> Result<Vec<Cell>> {
    let mut r = vec![Cell::from(status)];
    r.extend(pi.probs().iter().map(|p| Cell::from(*p)));
    r.push(Cell::from(pi.expectation(&REWARD)?));
    r.push(Cell::from(kl(pi, base)?));
    r.push(Cell::from(kl(base, pi)?));
    r.push(Cell::from(tv(pi, tilted)?));
    Ok(r)
}
