//! `estimator-placement`: the exact expected gradient of every estimator (k1, k2, k3) in every
//! placement (in the reward, as a loss, as a loss times the differentiable ratio
//! `pi_theta/mu`), on- and off-policy, next to the gradients of both KL directions, and which
//! KL (if any) each is the gradient of (claim `estimator.placement`).

use super::{Cell, Table, TableSpec};
use crate::error::Result;
use crate::solve::kl_estimator::ESTIMATORS;
use crate::solve::kl_gradient::{kl_gradients, PLACEMENTS};
use crate::Dist;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "estimator-placement",
    description: "expected gradient of k1/k2/k3 in the reward, as a loss and as a loss times pi/mu, on and off policy, against grad KL(pi||pi0) and grad KL(pi0||pi)",
    build,
};

/// The reference `pi0`.
pub const BASE: [f64; 3] = [0.2, 0.3, 0.5];
/// The policy's logits: `pi = softmax(1, 0, -1/2) = (0.6285, 0.2312, 0.1402)`.
pub const LOGITS: [f64; 3] = [1.0, 0.0, -0.5];
/// The off-policy behaviour logits: `mu` uniform.
pub const BEHAVIOR: [f64; 3] = [0.0, 0.0, 0.0];

/// Two gradients are the same when they agree to `1e-12` entrywise (each entry is a sum of at
/// most three terms of size below 3 here, computed to a few `1e-16`; distinct gradients on
/// this instance differ by more than `1e-2`).
pub const SAME: f64 = 1e-12;

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= SAME)
}

/// Which KL gradient `g` is: `"KL(pi||pi0)"`, `"KL(pi0||pi)"`, `"KL(pi||pi0) - KL(pi0||pi)"`,
/// `"zero"`, or `"none"`.
pub fn unbiased_for(g: &[f64], reverse: &[f64], forward: &[f64]) -> &'static str {
    let diff: Vec<f64> = reverse.iter().zip(forward).map(|(r, f)| r - f).collect();
    if same(g, reverse) {
        "KL(pi||pi0)"
    } else if same(g, forward) {
        "KL(pi0||pi)"
    } else if same(g, &diff) {
        "KL(pi||pi0) - KL(pi0||pi)"
    } else if same(g, &vec![0.0; g.len()]) {
        "zero"
    } else {
        "none"
    }
}

/// Rows: behaviour (`on`: `mu = pi`; `off`: `mu` uniform) x estimator x placement; columns the
/// placement's gradient, `grad KL(pi||pi0)` and `grad KL(pi0||pi)` (with respect to the three
/// logits), and [`unbiased_for`].
pub fn build() -> Result<Table> {
    let mut t = Table::new(
        "expected gradient of each KL placement on pi = softmax(1, 0, -1/2), pi0 = (0.2, 0.3, 0.5); off-policy mu uniform",
        &[
            "behavior", "estimator", "placement", "g0", "g1", "g2", "rkl0", "rkl1", "rkl2", "fkl0",
            "fkl1", "fkl2", "unbiased_for",
        ],
    );
    let base = Dist::new(BASE.to_vec())?;
    for (label, behavior) in [("on", None), ("off", Some(&BEHAVIOR[..]))] {
        for k in ESTIMATORS {
            for p in PLACEMENTS {
                let g = kl_gradients(&base, &LOGITS, behavior, k, p)?;
                let reverse = g.reverse_kl_gradient.unwrap_or_default();
                let mut row: Vec<Cell> = vec![label.into(), k.name().into(), p.name().into()];
                row.extend(g.gradient.iter().map(|x| Cell::from(*x)));
                row.extend(reverse.iter().map(|x| Cell::from(*x)));
                row.extend(g.forward_kl_gradient.iter().map(|x| Cell::from(*x)));
                row.push(unbiased_for(&g.gradient, &reverse, &g.forward_kl_gradient).into());
                t.push(row)?;
            }
        }
    }
    Ok(t)
}
