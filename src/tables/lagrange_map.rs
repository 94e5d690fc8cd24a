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

/// For beta = 10^k, k = 2, 1.5, .., -2: KL, `E[r]`, the objective `beta log Z`, the condition
/// number of the inverse map, and the beta that `kl_budget` recovers from that KL.
///
/// The inverse map KL -> beta is ill-conditioned where the KL saturates: since
/// `dKL/dbeta = -Var_beta(r)/beta^3`, a relative change `delta` in the KL moves beta by the relative
/// amount `kappa delta` with `kappa = KL beta^2 / Var_beta(r)` (the `condition` column). A KL known to
/// rounding (`2^-52`) therefore fixes beta to about `-log10(kappa 2^-52)` significant digits; the
/// recovered beta is printed to exactly those digits (empty where fewer than one is determined), so
/// the table shows what the data determine and no rounding noise.
pub fn build() -> Result<Table> {
    let (base, reward) = example()?;
    let mut t = Table::new(
        "beta <-> KL budget <-> expected reward (base 0.4,0.3,0.2,0.1; reward 0,1,2,3)",
        &[
            "beta",
            "kl",
            "expected_reward",
            "objective",
            "condition",
            "beta_from_kl_budget",
        ],
    );
    for k in 0..=8 {
        let beta = 10f64.powf(2.0 - 0.5 * f64::from(k));
        let s = tilt(&base, &reward, beta)?;
        let back = kl_budget(&base, &reward, s.solution.kl)?;
        let condition = s.solution.kl * beta * beta / s.reward_variance;
        t.push(vec![
            beta.into(),
            s.solution.kl.into(),
            s.solution.expected_reward.into(),
            s.objective().into(),
            condition.into(),
            back.beta
                .and_then(|b| determined_digits(b, condition))
                .into(),
        ])?;
    }
    Ok(t)
}

/// `b` rounded to the significant digits that a condition number `kappa` leaves determined when
/// the input is known to `2^-52` relative (keeping a safety digit), capped at the table's
/// [`super::SNAPSHOT_DIGITS`]; `None` if not even one digit is determined.
fn determined_digits(b: f64, kappa: f64) -> Option<f64> {
    let digits = -(kappa * f64::EPSILON).log10() - 1.0;
    if !(digits >= 1.0) {
        return None;
    }
    let digits = (digits.floor() as usize).min(super::SNAPSHOT_DIGITS);
    Some(super::round_sig(b, digits))
}
