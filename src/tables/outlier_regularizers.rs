//! `outlier-regularizers`: the adversarial output's mass on the `goodhart.outlier` example
//! (`M = 10^6` ordinary outputs with rewards spread on `[0, 100]`, one adversarial output with
//! reward `10^5`, uniform base) under the reverse KL (the tilt), the forward KL and chiPO, each
//! at the coefficient that gives the same mean ordinary reward `E_pi[r | ordinary]` (claims
//! `pref.chipo`, `pref.forward-collapse`).
//!
//! The forward-KL optimum `gamma pi0/(lambda - r)` has `lambda > 10^5`, so its ordinary part is
//! within a factor `1.001` of uniform: its mean ordinary reward stays below
//! `50 + Var/10^5 ~ 50.0083` for every `gamma`, and only the first target is reachable for it.

use super::{Cell, Table, TableSpec};
use crate::dist::Dist;
use crate::error::{Error, Result};
use crate::goodhart::outlier::OutlierModel;
use crate::numeric::CompensatedSum;
use crate::solve::{chipo, forward_kl};

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "outlier-regularizers",
    description: "adversarial mass on the goodhart.outlier example under reverse KL, forward KL and chiPO at matched mean ordinary reward",
    build,
};

/// The matched mean ordinary rewards (the base's is 50).
pub const TARGETS: [f64; 4] = [50.005, 60.0, 75.0, 90.0];

/// The regularizers, by label.
pub const REGULARIZERS: [&str; 3] = ["reverse_kl", "forward_kl", "chipo"];

/// One regularizer's optimum on the model at a coefficient: adversarial mass, mean ordinary
/// reward, `KL(pi||pi0)` and the multiplier (`None` for the tilt, whose normalizer is reported
/// by `goodhart-outlier`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// `pi(adversarial)`.
    pub adversarial_mass: f64,
    /// `E_pi[r | ordinary]`.
    pub mean_ordinary: f64,
    /// `KL(pi||pi0)`.
    pub kl: f64,
    /// `lambda` of the KKT form.
    pub lambda: Option<f64>,
}

/// `E_pi[r | ordinary]` summed from the policy's ordinary entries (all but the last), weighted
/// by `e^{log pi - max log pi}` from the log view, so that it stays defined when the ordinary
/// masses underflow (chiPO at small `beta` puts almost everything on the adversarial output).
fn mean_ordinary(policy: &Dist, reward: &[f64]) -> f64 {
    let logs = &policy.log_probs()[..reward.len() - 1];
    let top = logs.iter().fold(f64::NEG_INFINITY, |m, l| m.max(*l));
    let (mut num, mut den) = (CompensatedSum::new(), CompensatedSum::new());
    for (l, r) in logs.iter().zip(reward) {
        let w = (l - top).exp();
        num.add(w * r);
        den.add(w);
    }
    num.value() / den.value()
}

/// The optimum of regularizer `label` at coefficient `coef` on `model`.
pub fn point(model: &OutlierModel, label: &str, coef: f64) -> Result<Point> {
    let (base, reward) = model.table()?;
    let m = model.ordinary;
    let (s, lambda) = match label {
        "reverse_kl" => {
            let t = model.tilt(coef)?;
            return Ok(Point {
                adversarial_mass: t.adversarial_mass,
                mean_ordinary: t.mean_ordinary_reward,
                kl: t.kl,
                lambda: None,
            });
        }
        "forward_kl" => {
            let s = forward_kl(&base, &reward, coef)?;
            (s.solution, s.lambda)
        }
        "chipo" => {
            let s = chipo(&base, &reward, coef)?;
            (s.solution, s.lambda)
        }
        other => return Err(Error::InvalidInput(format!("unknown regularizer {other}"))),
    };
    Ok(Point {
        adversarial_mass: s.policy.prob(m),
        mean_ordinary: mean_ordinary(&s.policy, &reward),
        kl: s.kl,
        lambda: Some(lambda),
    })
}

/// The coefficient at which `label`'s mean ordinary reward equals `target`, by the Illinois
/// variant of regula falsi in `ln coef` (the mean ordinary reward decreases in the coefficient
/// for all three), to `1e-12` relative in the mean. The search starts on `near` (a bracket in
/// `ln coef` suggested by the tilt's matched `beta`; each chiPO solve on the `10^6 + 1` outcomes
/// costs a few passes of Lambert evaluations) and falls back to `[-20, 20]` when `near` does not
/// straddle the target; `None` when that does not either (the forward KL above 50.0083).
pub fn matched(
    model: &OutlierModel,
    label: &str,
    target: f64,
    near: Option<(f64, f64)>,
) -> Result<Option<f64>> {
    let g = |x: f64| -> Result<f64> { Ok(point(model, label, x.exp())?.mean_ordinary - target) };
    for (a, b) in near.into_iter().chain([(-20.0, 20.0)]) {
        let (fa, fb) = (g(a)?, g(b)?);
        if fa >= 0.0 && fb <= 0.0 {
            return illinois(&g, (a, fa), (b, fb))
                .map(|x| Some(x.exp()))
                .map_err(|e| Error::NoConvergence(format!("{label} at mean {target}: {e}")));
        }
    }
    Ok(None)
}

/// The root of a decreasing `g` with `g(a) >= 0 >= g(b)` by the Illinois method, to `|g| <=
/// 1e-12` of the scale 50 of the means or a bracket of `1e-15` relative.
fn illinois(
    g: &dyn Fn(f64) -> Result<f64>,
    (mut a, mut fa): (f64, f64),
    (mut b, mut fb): (f64, f64),
) -> Result<f64> {
    let mut side = 0i8;
    for _ in 0..200 {
        if fa == fb {
            return Ok(0.5 * (a + b));
        }
        let x = (a * fb - b * fa) / (fb - fa);
        let fx = g(x)?;
        if fx.abs() <= 5e-11 || (b - a).abs() <= 1e-15 * a.abs().max(b.abs()) {
            return Ok(x);
        }
        if fx > 0.0 {
            a = x;
            fa = fx;
            if side == 1 {
                fb *= 0.5;
            }
            side = 1;
        } else {
            b = x;
            fb = fx;
            if side == -1 {
                fa *= 0.5;
            }
            side = -1;
        }
    }
    Err(Error::NoConvergence(
        "Illinois iteration did not converge".into(),
    ))
}

/// One row per target and regularizer: the coefficient (`beta` or `gamma`), `lambda`, the
/// adversarial mass, the mean ordinary reward reached, and `KL(pi||pi0)`; empty cells where the
/// regularizer cannot reach the target.
pub fn build() -> Result<Table> {
    let model = OutlierModel::CATALOG;
    let mut t = Table::new(
        "adversarial mass at matched mean ordinary reward (goodhart.outlier: 10^6 ordinary outputs on [0, 100], adversarial reward 10^5, uniform base)",
        &[
            "target_mean_ordinary",
            "regularizer",
            "coefficient",
            "lambda",
            "adversarial_mass",
            "mean_ordinary",
            "kl",
        ],
    );
    for target in TARGETS {
        let tilt_beta = matched(&model, "reverse_kl", target, None)?;
        for label in REGULARIZERS {
            // chiPO's matched beta lies within a factor 10 below the tilt's on this model, the
            // forward KL's gamma within a factor 10 of it (a hint only: it is verified).
            let near = tilt_beta.map(|b| match label {
                "chipo" => (b.ln() - 10f64.ln(), b.ln()),
                _ => (b.ln() - 10f64.ln(), b.ln() + 10f64.ln()),
            });
            let coef = if label == "reverse_kl" {
                tilt_beta
            } else {
                matched(&model, label, target, near)?
            };
            let row: Vec<Cell> = match coef {
                Some(coef) => {
                    let p = point(&model, label, coef)?;
                    vec![
                        target.into(),
                        label.into(),
                        coef.into(),
                        p.lambda.into(),
                        p.adversarial_mass.into(),
                        p.mean_ordinary.into(),
                        p.kl.into(),
                    ]
                }
                None => {
                    let mut row = vec![target.into(), label.into()];
                    row.extend(std::iter::repeat_with(|| Cell::Empty).take(5));
                    row
                }
            };
            t.push(row)?;
        }
    }
    Ok(t)
}
