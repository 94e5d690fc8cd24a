//! One exact DPO gradient step on a single preference pair, for a tabular softmax policy and a
//! log-linear class (claim `pref.likelihood-displacement`).
//!
//! # Setting
//!
//! A log-linear policy `pi_theta(x) = pi0(x) exp(theta . phi(x)) / Z(theta)` with features
//! `phi: X -> R^k` (the tabular softmax is `phi(x) = e_x`, `k = n`), a reference `pi_ref` of
//! full support, a pair `(w, l)` (`w` preferred), `beta > 0` and a step size `eta > 0`. The DPO
//! loss of the pair is `L(theta) = -log sigmoid(m)`,
//! `m = beta [(log pi(w) - log pi_ref(w)) - (log pi(l) - log pi_ref(l))]`. Since
//! `grad log pi(x) = phi(x) - E_pi[phi]`, the normalizer cancels from `m`:
//! `grad m = beta (phi(w) - phi(l))` and
//!
//! ```text
//! theta' = theta - eta grad L = theta + c g,   c = eta beta sigmoid(-m) > 0,   g = phi(w) - phi(l).
//! ```
//!
//! # The change of `log pi(w)`
//!
//! Exactly, `Delta(c) = log pi_{theta + c g}(w) - log pi_theta(w) = c phi(w) . g - (A(theta + c g)
//! - A(theta))` with `A = log Z`, whose derivatives are `A' = E[phi . g]`, `A'' = Var(phi . g)`
//! (under `pi_{theta + s g}`). So
//!
//! ```text
//! Delta(c) = c D - int_0^c (c - s) Var_s(phi . g) ds,     D = (phi(w) - E_pi[phi]) . (phi(w) - phi(l)),
//! c D - c^2 spread^2 / 8 <= Delta(c) <= c D,              spread = max_x phi(x) . g - min_x phi(x) . g
//! ```
//!
//! (Popoviciu: a variance is at most a quarter of the squared range). The first-order change is
//! `c D`. Tabular: `D = (e_w - pi) . (e_w - e_l) = 1 - pi(w) + pi(l) > 0`, and indeed
//! `Delta(c) = c - log(1 + pi(w)(e^c - 1) + pi(l)(e^{-c} - 1)) > 0` for every `c > 0`. In a
//! log-linear class `D < 0` is possible (likelihood displacement): `phi(w)` lies on the other
//! side of the hyperplane through `E_pi[phi]` orthogonal to `phi(w) - phi(l)`.

use crate::dist::Dist;
use crate::error::{require_positive, Error, Result};
use crate::numeric::log_sum_exp;
use crate::solve::preference::sigmoid;
use crate::solve::LogLinearClass;
use nalgebra::DMatrix;
use serde::Serialize;

/// What one DPO step did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DpoStep {
    /// Parameters after the step, `theta + c g`.
    pub theta: Vec<f64>,
    /// The policy before the step.
    pub before: Dist,
    /// The policy after the step.
    pub after: Dist,
    /// The step's coefficient `c = eta beta sigmoid(-m)`.
    pub coefficient: f64,
    /// The margin `m` before the step.
    pub margin: f64,
    /// `D = (phi(w) - E_pi[phi]) . (phi(w) - phi(l))`: the first-order change of `log pi(w)` is
    /// `c D`.
    pub first_order: f64,
    /// The exact change `log pi'(w) - log pi(w)`, from the log-partition functions.
    pub log_change: f64,
    /// `max_x phi(x) . g - min_x phi(x) . g`, for the bound `Delta >= c D - c^2 spread^2/8`.
    pub spread: f64,
}

/// The displacement coefficient `D = (phi(w) - E_pi[phi]) . (phi(w) - phi(l))` of the pair
/// `(w, l)` under `pi` (rows of `features` are `phi(x)`): one DPO step with coefficient `c`
/// changes `log pi(w)` by `c D + O(c^2)`, so `D < 0` is (first-order) likelihood displacement.
pub fn displacement_coefficient(
    features: &DMatrix<f64>,
    policy: &Dist,
    w: usize,
    l: usize,
) -> Result<f64> {
    crate::error::require_same_len("features", features.nrows(), "policy", policy.len())?;
    check_pair(policy.len(), w, l)?;
    let k = features.ncols();
    Ok((0..k)
        .map(|j| {
            let mean: f64 = (0..policy.len())
                .map(|x| policy.prob(x) * features[(x, j)])
                .sum();
            (features[(w, j)] - mean) * (features[(w, j)] - features[(l, j)])
        })
        .sum())
}

fn check_pair(n: usize, w: usize, l: usize) -> Result<()> {
    if w >= n || l >= n || w == l {
        return Err(Error::InvalidInput(format!(
            "the pair (w, l) = ({w}, {l}) must be two distinct outcomes of 0..{n}"
        )));
    }
    Ok(())
}

/// `theta . phi(x)` for every `x`.
fn scores(features: &DMatrix<f64>, theta: &[f64]) -> Vec<f64> {
    (0..features.nrows())
        .map(|x| (0..theta.len()).map(|j| theta[j] * features[(x, j)]).sum())
        .collect()
}

/// One exact DPO gradient step on the pair `(w, l)` for `pi_theta` in the log-linear class
/// `class` with the feature matrix `features` (the class's own), reference `reference`,
/// temperature `beta` and step size `eta` (module docs).
///
/// Assumptions: full-support `reference` of the class's size, `w != l` outcomes of it, finite
/// `theta` of the class's dimension, `beta, eta > 0`. Errors: otherwise.
pub fn dpo_step(
    class: &LogLinearClass,
    features: &DMatrix<f64>,
    theta: &[f64],
    reference: &Dist,
    (w, l): (usize, usize),
    beta: f64,
    eta: f64,
) -> Result<DpoStep> {
    require_positive("beta", beta)?;
    require_positive("eta", eta)?;
    let n = class.base().len();
    crate::error::require_same_len("reference", reference.len(), "class", n)?;
    crate::error::require_same_len("features", features.nrows(), "class", n)?;
    check_pair(n, w, l)?;
    if !(reference.in_support(w) && reference.in_support(l)) {
        return Err(Error::InvalidInput(
            "the reference must give both outcomes of the pair positive mass".into(),
        ));
    }
    let before = class.policy(theta)?;
    let margin = beta
        * ((before.log_prob(w) - reference.log_prob(w))
            - (before.log_prob(l) - reference.log_prob(l)));
    let c = eta * beta * sigmoid(-margin);
    let g: Vec<f64> = (0..features.ncols())
        .map(|j| features[(w, j)] - features[(l, j)])
        .collect();
    let next: Vec<f64> = theta.iter().zip(&g).map(|(t, gj)| t + c * gj).collect();
    let after = class.policy(&next)?;
    // log pi'(w) - log pi(w) = c phi(w) . g - (A(theta + c g) - A(theta)), the log-partitions
    // over the base's support.
    let support: Vec<usize> = class.base().support().collect();
    let (s0, s1) = (scores(features, theta), scores(features, &next));
    let log_z = |s: &[f64]| -> f64 {
        let terms: Vec<f64> = support
            .iter()
            .map(|&x| class.base().log_prob(x) + s[x])
            .collect();
        log_sum_exp(&terms)
    };
    let log_change = (s1[w] - s0[w]) - (log_z(&s1) - log_z(&s0));
    let proj = scores(features, &g);
    let (lo, hi) = support
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(proj[x]), b.max(proj[x]))
        });
    Ok(DpoStep {
        theta: next,
        first_order: displacement_coefficient(features, &before, w, l)?,
        before,
        after,
        coefficient: c,
        margin,
        log_change,
        spread: hi - lo,
    })
}

/// [`dpo_step`] for the tabular softmax `pi(x) = pi0(x) e^{theta(x)} / Z` (features the identity).
pub fn tabular_dpo_step(
    base: &Dist,
    theta: &[f64],
    reference: &Dist,
    pair: (usize, usize),
    beta: f64,
    eta: f64,
) -> Result<DpoStep> {
    let n = base.len();
    let features = DMatrix::identity(n, n);
    let class = LogLinearClass::new(base.clone(), features.clone())?;
    dpo_step(&class, &features, theta, reference, pair, beta, eta)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three outcomes, one feature `phi = (1, 2, -1)`, uniform base, `theta = 0`:
    /// `E phi = 2/3`, `D = (1 - 2/3)(1 - 2) = -1/3 < 0`: the step lowers `log pi(w = 0)`.
    #[test]
    fn a_one_feature_class_displaces_the_winner() -> Result<()> {
        let base = Dist::uniform(3)?;
        let features = DMatrix::from_column_slice(3, 1, &[1.0, 2.0, -1.0]);
        let class = LogLinearClass::new(base.clone(), features.clone())?;
        let s = dpo_step(&class, &features, &[0.0], &base, (0, 1), 1.0, 0.1)?;
        assert!((s.first_order + 1.0 / 3.0).abs() < 1e-15);
        assert!(s.log_change < 0.0);
        // g = phi(0) - phi(1) = -1, so phi . g = (-1, -2, 1) spreads over 3; the change lies in
        // the module's bracket [c D - c^2 spread^2 / 8, c D].
        assert_eq!(s.spread, 3.0);
        let (c, d) = (s.coefficient, s.first_order);
        assert!(c * d - c * c * 9.0 / 8.0 <= s.log_change && s.log_change <= c * d);
        let t = tabular_dpo_step(&base, &[0.0; 3], &base, (0, 1), 1.0, 0.1)?;
        assert!((t.first_order - 1.0).abs() < 1e-15 && t.log_change > 0.0);
        Ok(())
    }

    /// A reference that gives either outcome of the pair no mass leaves the margin's log ratio
    /// at `-inf`: refused, whichever of the two it is (and not only when both are).
    #[test]
    fn a_reference_without_one_outcome_of_the_pair_is_refused() -> Result<()> {
        let base = Dist::uniform(3)?;
        let features = DMatrix::from_column_slice(3, 1, &[1.0, 2.0, -1.0]);
        let class = LogLinearClass::new(base.clone(), features.clone())?;
        for reference in [vec![0.5, 0.0, 0.5], vec![0.0, 0.5, 0.5]] {
            let reference = Dist::new(reference)?;
            let step = dpo_step(&class, &features, &[0.0], &reference, (0, 1), 1.0, 0.1);
            assert!(matches!(step, Err(Error::InvalidInput(_))), "{step:?}");
        }
        Ok(())
    }

    /// A pair with either outcome out of range, or the same outcome twice, is refused, each
    /// alone, in both steps (testing `l >= n && w == l` passed every other test).
    #[test]
    fn a_pair_out_of_range_or_of_one_outcome_is_refused() -> Result<()> {
        let base = Dist::uniform(3)?;
        let features = DMatrix::from_column_slice(3, 1, &[1.0, 2.0, -1.0]);
        let class = LogLinearClass::new(base.clone(), features.clone())?;
        for pair in [(0, 3), (3, 0), (1, 1), (7, 7)] {
            let step = dpo_step(&class, &features, &[0.0], &base, pair, 1.0, 0.1);
            assert!(
                matches!(step, Err(Error::InvalidInput(_))),
                "{pair:?}: {step:?}"
            );
            let tabular = tabular_dpo_step(&base, &[0.0; 3], &base, pair, 1.0, 0.1);
            assert!(matches!(tabular, Err(Error::InvalidInput(_))), "{pair:?}");
        }
        Ok(())
    }
}
