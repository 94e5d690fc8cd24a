//! The capability-limited submodule model (claim `goodhart.submodules`), our precise
//! reconstruction (the source's formulas were lost; see `proofs/goodhart.submodules.md`).
//!
//! A model splits a fixed resource `theta` on the simplex over three submodules. Submodule `k`
//! yields, per unit of resource, truth `t_k` and persuasion `p_k`. An output has
//!
//! ```text
//! T = theta . t + sigma_T xi_T,    P = theta . p + sigma_P xi_P,
//! ```
//!
//! with `(xi_T, xi_P)` standard bivariate normal with correlation `rho`, independent of `theta`.
//! The base draws `theta` uniformly from the grid `{(i, j, k)/K : i + j + k = K}` of the simplex.
//!
//! Two ways to raise expected persuasion:
//! - conditioning the base on `P >= c` (keeps the base's `theta` and noise, filters outputs);
//! - reallocating: `theta -> (1 - lambda) theta + lambda e_*` toward the vertex `e_*` of the
//!   best persuasion per unit (`lambda = 1` maximizes `E[P]` over reallocations).
//!
//! Both have closed forms given the grid: with `z = (c - theta . p)/sigma_P`,
//! `P(P >= c | theta) = Q(z)`, `E[xi_P ; xi_P >= z] = phi(z)` and
//! `E[xi_T ; xi_P >= z] = rho phi(z)`.

use super::gaussian::{pdf, upper_tail};
use crate::error::{Error, Result};
use crate::numeric::CompensatedSum;
use serde::Serialize;

/// The model's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SubmoduleModel {
    /// Per-unit truth of each submodule.
    pub truth: [f64; 3],
    /// Per-unit persuasion of each submodule.
    pub persuasion: [f64; 3],
    /// Noise scale of `T`.
    pub sigma_truth: f64,
    /// Noise scale of `P`.
    pub sigma_persuasion: f64,
    /// Correlation of the two noises.
    pub rho: f64,
    /// Grid resolution `K` of the simplex.
    pub resolution: usize,
}

/// Expected truth and persuasion of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TruthPersuasion {
    /// `E[T]`.
    pub truth: f64,
    /// `E[P]`.
    pub persuasion: f64,
}

impl SubmoduleModel {
    /// The parameters found for the claim: submodule 1 is honest argument (truth 1, persuasion
    /// 1), submodule 2 is manipulation (truth -1, persuasion 2), submodule 3 is idle (0, 0);
    /// unit noises with correlation 0.5 (an output that happens to be more persuasive tends to
    /// be more true, whatever the allocation); `K = 30` (496 allocations).
    pub const WITNESS: SubmoduleModel = SubmoduleModel {
        truth: [1.0, -1.0, 0.0],
        persuasion: [1.0, 2.0, 0.0],
        sigma_truth: 1.0,
        sigma_persuasion: 1.0,
        rho: 0.5,
        resolution: 30,
    };

    fn validate(&self) -> Result<()> {
        let finite = self
            .truth
            .iter()
            .chain(&self.persuasion)
            .all(|x| x.is_finite());
        if !finite
            || !(self.sigma_truth >= 0.0)
            || !(self.sigma_persuasion > 0.0)
            || !(self.rho.abs() <= 1.0)
            || self.resolution == 0
        {
            return Err(Error::InvalidInput(format!("bad submodule model {self:?}")));
        }
        Ok(())
    }

    /// The base's allocations (the simplex grid), each with probability `1 / #grid`.
    pub fn allocations(&self) -> Vec<[f64; 3]> {
        let k = self.resolution;
        let kf = k as f64;
        let mut v = Vec::new();
        for i in 0..=k {
            for j in 0..=(k - i) {
                v.push([i as f64 / kf, j as f64 / kf, (k - i - j) as f64 / kf]);
            }
        }
        v
    }

    fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
        a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    }

    /// The base's expected truth and persuasion.
    pub fn base(&self) -> Result<TruthPersuasion> {
        self.validate()?;
        let all = self.allocations();
        let n = all.len() as f64;
        let t: CompensatedSum = all.iter().map(|a| Self::dot(a, &self.truth) / n).collect();
        let p: CompensatedSum = all
            .iter()
            .map(|a| Self::dot(a, &self.persuasion) / n)
            .collect();
        Ok(TruthPersuasion {
            truth: t.value(),
            persuasion: p.value(),
        })
    }

    /// The base conditioned on `P >= c`, with `P(P >= c)`.
    pub fn condition(&self, c: f64) -> Result<(TruthPersuasion, f64)> {
        self.validate()?;
        crate::error::require_finite("threshold", &[c])?;
        let (s_t, s_p) = (self.sigma_truth, self.sigma_persuasion);
        let (mut mass, mut t, mut p) = (
            CompensatedSum::new(),
            CompensatedSum::new(),
            CompensatedSum::new(),
        );
        let all = self.allocations();
        for a in &all {
            let (mt, mp) = (Self::dot(a, &self.truth), Self::dot(a, &self.persuasion));
            let z = (c - mp) / s_p;
            let (q, f) = (upper_tail(z), pdf(z));
            mass.add(q);
            t.add(mt * q + s_t * self.rho * f);
            p.add(mp * q + s_p * f);
        }
        let m = mass.value();
        if !(m > 0.0) {
            return Err(Error::Infeasible(format!("P(P >= {c}) underflows")));
        }
        Ok((
            TruthPersuasion {
                truth: t.value() / m,
                persuasion: p.value() / m,
            },
            m / all.len() as f64,
        ))
    }

    /// The vertex of the best persuasion per unit (the first on ties).
    pub fn best_vertex(&self) -> usize {
        let mut best = 0;
        for k in 1..3 {
            if self.persuasion[k] > self.persuasion[best] {
                best = k;
            }
        }
        best
    }

    /// Reallocation toward the best vertex with the `lambda in [0, 1]` that gives
    /// `E[P] = persuasion`; returns the policy's `(E[T], E[P])` and `lambda`.
    ///
    /// Errors: the target is above what full reallocation reaches, or below the base's.
    pub fn reallocate_to(&self, persuasion: f64) -> Result<(TruthPersuasion, f64)> {
        let b = self.base()?;
        let k = self.best_vertex();
        let span = self.persuasion[k] - b.persuasion;
        let lambda = (persuasion - b.persuasion) / span;
        if !(span > 0.0) || !(0.0..=1.0).contains(&lambda) {
            return Err(Error::Infeasible(format!(
                "E[P] = {persuasion} is not reachable by reallocation (base {}, vertex {})",
                b.persuasion, self.persuasion[k]
            )));
        }
        Ok((
            TruthPersuasion {
                truth: (1.0 - lambda) * b.truth + lambda * self.truth[k],
                persuasion,
            },
            lambda,
        ))
    }

    /// The same model with noise correlation `rho`.
    pub fn with_rho(&self, rho: f64) -> Self {
        Self { rho, ..*self }
    }

    /// The noise correlation at which conditioning on `P >= c` leaves `E[T]` at the base's:
    /// `E[T | P >= c]` is affine and strictly increasing in `rho` (slope
    /// `sigma_T sum phi(z) / sum Q(z) > 0`), so the gain `E[T | P >= c] - E[T]` has one root,
    /// found by bisection on `[-1, 1]` to rounding (200 halvings) through [`Self::condition`].
    ///
    /// Errors: invalid model, `sigma_T = 0` (no dependence on `rho`), or no sign change on
    /// `[-1, 1]`.
    pub fn neutral_rho(&self, c: f64) -> Result<f64> {
        let base = self.base()?.truth;
        let gain =
            |rho: f64| -> Result<f64> { Ok(self.with_rho(rho).condition(c)?.0.truth - base) };
        let (mut lo, mut hi) = (-1.0f64, 1.0f64);
        if !(self.sigma_truth > 0.0 && gain(lo)? < 0.0 && gain(hi)? > 0.0) {
            return Err(Error::Infeasible(format!(
                "the conditioning gain does not change sign for rho in [-1, 1] at c = {c}"
            )));
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if gain(mid)? < 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(0.5 * (lo + hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The base averages `theta . t` over the simplex grid, where each coordinate has mean 1/3
    /// by symmetry: `E[T] = (t_1 + t_2 + t_3)/3` and likewise for `P`. With a third submodule
    /// that is not idle (`t_3 = 0.5`, `p_3 = -3`), every coordinate of the dot product counts.
    /// (The claim's models have an idle third submodule, where a wrong sign on its term passed
    /// the whole suite.)
    #[test]
    fn the_base_averages_every_submodule() -> Result<()> {
        let model = SubmoduleModel {
            truth: [1.0, -1.0, 0.5],
            persuasion: [1.0, 2.0, -3.0],
            ..SubmoduleModel::WITNESS
        };
        let b = model.base()?;
        // A compensated mean of 496 terms of size at most 3: a few ulps of the mean.
        assert!((b.truth - 0.5 / 3.0).abs() <= 1e-15, "{b:?}");
        assert!(b.persuasion.abs() <= 1e-15, "{b:?}");
        Ok(())
    }

    /// When truth per unit is ten times persuasion per unit (`T = (10, 20, 0)`,
    /// `P = (1, 2, 0)`), conditioning on `P >= 1` raises truth at every noise correlation (the
    /// gain is 0.63 at `rho = -1` and 2.10 at `rho = 1`), so it has no root in `[-1, 1]` and
    /// `neutral_rho` must refuse; a noise-free truth (`sigma_T = 0`) must be refused too. The
    /// crate's witness model has its root inside, and so does a shifted model, where the root
    /// is checked against the conditioned truth.
    #[test]
    fn neutral_rho_refuses_without_a_sign_change_and_finds_the_root() -> Result<()> {
        let aligned = SubmoduleModel {
            truth: [10.0, 20.0, 0.0],
            ..SubmoduleModel::WITNESS
        };
        let c = 1.0;
        let base = aligned.base()?.truth;
        let gain =
            |rho: f64| -> Result<f64> { Ok(aligned.with_rho(rho).condition(c)?.0.truth - base) };
        assert!(gain(-1.0)? > 0.0 && gain(1.0)? > 0.0);
        assert!(aligned.neutral_rho(c).is_err());
        let noiseless = SubmoduleModel {
            sigma_truth: 0.0,
            ..SubmoduleModel::WITNESS
        };
        assert!(noiseless.neutral_rho(c).is_err());
        let root = SubmoduleModel::WITNESS.neutral_rho(c)?;
        assert!(root > -1.0 && root < 1.0, "{root}");
        // At the root, conditioning leaves the expected truth where the base has it
        // (recomputed here; the bisection stops at the spacing of doubles in rho, and the gain
        // has a slope of order one: from -0.81 at rho = -1 to 0.65 at rho = 1, so `1e-12`
        // absolute is a wide margin). The model's base truth is 1/15, not 0 as in the witness,
        // so a gain measured from the wrong side of it moves the root.
        let shifted = SubmoduleModel {
            truth: [1.0, -1.0, 0.2],
            ..SubmoduleModel::WITNESS
        };
        let root = shifted.neutral_rho(c)?;
        let at_root = shifted.with_rho(root).condition(c)?.0.truth;
        let base_truth = shifted.base()?.truth;
        assert!(
            (at_root - base_truth).abs() <= 1e-12,
            "{at_root} vs {base_truth}"
        );
        Ok(())
    }
}
