//! `goodhart-gaussian`: best-of-N, the tilt, conditioning and a mean shift of `U` at matched
//! `E[U]` in the standard bivariate normal with `rho = 0.5` (claim `goodhart.gaussian`).

use super::{Table, TableSpec};
use crate::error::Result;
use crate::goodhart::gaussian::{self, GaussianPoint};

/// The table's registry entry.
pub const SPEC: TableSpec = TableSpec {
    name: "goodhart-gaussian",
    description:
        "bivariate normal (rho = 0.5): BoN, tilt, conditioning, mean shift at matched E[U]",
    build,
};

/// The correlation used.
pub const RHO: f64 = 0.5;

/// For `N = 2, 4, 16, 64, 256, 1024, 10^6`, the target `E[U] = e_N` and four ways to reach it:
/// best-of-N, the tilt at `beta = 1/e_N`, conditioning on `U >= t` with
/// `E[U | U >= t] = e_N`, and shifting the mean of `U` alone by `e_N`. The first three give
/// `E[V] = rho e_N`; the shift gives 0; the KL column says what each pays.
pub fn build() -> Result<Table> {
    let mut t = Table::new(
        "bivariate normal, rho = 0.5: four ways to reach E[U] = e_N",
        &[
            "n",
            "method",
            "parameter",
            "expected_proxy",
            "expected_true",
            "kl",
        ],
    );
    for n in [2u64, 4, 16, 64, 256, 1024, 1_000_000] {
        let bon = gaussian::best_of_n(n, RHO)?;
        let m = bon.expected_proxy;
        let beta = 1.0 / m;
        let thr = gaussian::threshold_for_mean(m)?;
        let rows: [(&str, f64, GaussianPoint); 4] = [
            ("best-of-n", n as f64, bon),
            ("tilt (beta)", beta, gaussian::tilt(beta, RHO)?),
            ("condition (threshold)", thr, gaussian::condition(thr, RHO)?),
            ("mean shift (delta)", m, gaussian::mean_shift(m, RHO)?),
        ];
        for (label, param, p) in rows {
            t.push(vec![
                (n as f64).into(),
                label.into(),
                param.into(),
                p.expected_proxy.into(),
                p.expected_true.into(),
                p.kl.into(),
            ])?;
        }
    }
    Ok(t)
}
