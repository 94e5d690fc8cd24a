//! `pref-regularizers`: the optimal policy of one example under each regularizer of claim
//! `pref.fdiv`, each at the coefficient that spends the same KL budget.

use super::{Table, TableSpec};
use crate::error::{Error, Result};
use crate::numeric::{monotone_root, RootTolerance};
use crate::solve::fdiv::{fdiv_optimum, Divergence};

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "pref-regularizers",
    description: "optimal policy under reverse KL, forward KL, chi-square and alpha-divergences at matched KL(pi||pi0) = 0.5 (base 0.4,0.3,0.2,0.1; reward 0,1,2,3)",
    build,
};

/// The matched budget `KL(pi||pi0)` in nats.
pub const MATCHED_KL: f64 = 0.5;

/// The regularizers compared.
pub const DIVERGENCES: [Divergence; 6] = [
    Divergence::ReverseKl,
    Divergence::ForwardKl,
    Divergence::ChiSquare,
    Divergence::Alpha(-1.0),
    Divergence::Alpha(0.5),
    Divergence::Alpha(3.0),
];

/// The coefficient `beta` at which the optimum under `div` has `KL(pi||pi0) = kl`: bisection in
/// `ln beta` on `[-12, 12]` (the KL of the optimum decreases in beta on this example, from
/// `-log pi0(argmax) = 2.30` to 0; the bracket is checked).
pub fn matched_beta(div: Divergence, kl: f64) -> Result<f64> {
    let (base, reward) = super::lagrange_map::example()?;
    let g = |u: f64| -> Result<(f64, f64)> {
        let s = fdiv_optimum(&base, &reward, div, (-u).exp())?;
        Ok((s.solution.kl - kl, 0.0))
    };
    let tol = RootTolerance {
        x_abs: 1e-13,
        x_rel: 0.0,
        f_abs: 0.0,
        max_iter: 200,
    };
    let u = monotone_root(g, -12.0, 12.0, tol).map_err(|e| {
        Error::NoConvergence(format!(
            "no beta matches KL = {kl} for {}: {e}",
            div.label()
        ))
    })?;
    Ok((-u).exp())
}

/// One row per regularizer: beta, lambda, the policy, `E[r]`, `KL(pi||pi0)` and `D_f(pi||pi0)`.
pub fn build() -> Result<Table> {
    let (base, reward) = super::lagrange_map::example()?;
    let mut t = Table::new(
        "optimal policy under each regularizer at matched KL(pi||pi0) = 0.5 (base 0.4,0.3,0.2,0.1; reward 0,1,2,3)",
        &[
            "divergence",
            "beta",
            "lambda",
            "pi_0",
            "pi_1",
            "pi_2",
            "pi_3",
            "expected_reward",
            "kl",
            "divergence_value",
        ],
    );
    for div in DIVERGENCES {
        let beta = matched_beta(div, MATCHED_KL)?;
        let s = fdiv_optimum(&base, &reward, div, beta)?;
        let mut row = vec![div.label().into(), beta.into(), s.lambda.into()];
        row.extend(s.solution.policy.probs().iter().map(|p| (*p).into()));
        row.extend([
            s.solution.expected_reward.into(),
            s.solution.kl.into(),
            s.divergence_value.into(),
        ]);
        t.push(row)?;
    }
    Ok(t)
}
