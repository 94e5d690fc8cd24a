//! `estimator-bias`: exact means, standard deviations and loss gradients of the k1/k2/k3 KL
//! estimators on two-outcome policy/reference pairs, and the bias of k3 with the log-ratio
//! clamped to `[-10, 10]` (claims `estimator.*`).

use super::{Table, TableSpec};
use crate::divergence;
use crate::error::Result;
use crate::solve::kl_estimator::{
    clamped_k3_mean, forward_kl_gradient, loss_gradient, moments, reverse_kl_gradient, ESTIMATORS,
};
use crate::Dist;

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "estimator-bias",
    description: "mean, sd and loss gradient of k1/k2/k3 for pi=(1-p,p) against pi0=(1-q,q), and the bias of k3 with the log-ratio clamped to [-10,10]",
    build,
};

/// The grid: reference mass `q` of the second outcome, policy mass `p`.
pub const GRID: [(f64, f64); 8] = [
    (0.5, 0.5),
    (0.5, 0.3),
    (0.5, 0.1),
    (0.5, 1e-3),
    (0.5, 1e-6),
    (0.1, 0.5),
    (0.1, 0.01),
    (1e-6, 0.5),
];

/// One row per `(q, p)`. Gradients are with respect to the logit of the second outcome of
/// `pi = softmax(0, log(p/(1-p)))`: `grad_k*` the expected loss gradients, `grad_rkl` and
/// `grad_fkl` those of `KL(pi||pi0)` and `KL(pi0||pi)`; `clamped_k3_bias` is the clamped mean
/// minus `E[k3]` (which equals the KL: both policies have full support).
pub fn build() -> Result<Table> {
    let mut t = Table::new(
        "k1/k2/k3 on pi=(1-p,p) vs pi0=(1-q,q): exact mean, sd, loss gradient (d/d logit_2), clamped-k3 bias",
        &[
            "q", "p", "kl", "mean_k1", "mean_k2", "mean_k3", "sd_k1", "sd_k2", "sd_k3", "grad_k1",
            "grad_k2", "grad_k3", "grad_rkl", "grad_fkl", "clamped_k3_bias",
        ],
    );
    for (q, p) in GRID {
        let base = Dist::new(vec![1.0 - q, q])?;
        let logits = [0.0, (p / (1.0 - p)).ln()];
        let pi = Dist::from_log_weights(&logits)?;
        let kl = divergence::kl(&pi, &base)?;
        let mut row = vec![q.into(), p.into(), kl.into()];
        let m: Vec<_> = ESTIMATORS
            .iter()
            .map(|k| moments(&pi, &base, *k))
            .collect::<Result<_>>()?;
        row.extend(m.iter().map(|x| x.mean.into()));
        row.extend(m.iter().map(|x| x.variance.sqrt().into()));
        for k in ESTIMATORS {
            row.push(loss_gradient(&logits, &base, k)?[1].into());
        }
        row.push(reverse_kl_gradient(&logits, &base)?[1].into());
        row.push(forward_kl_gradient(&logits, &base)?[1].into());
        // Against the unclamped E[k3] (= KL here: full support), so the bias is exactly 0
        // when nothing is clamped.
        row.push((clamped_k3_mean(&pi, &base, 10.0)? - m[2].mean).into());
        t.push(row)?;
    }
    Ok(t)
}
