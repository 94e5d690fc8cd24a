//! Additive-error models `U = V + X` with `X` independent of `V` (claims `goodhart.heavy-tail`,
//! `goodhart.heavy-tail-kl`), discretized.
//!
//! # Discretization
//!
//! A law is cut to a window `[lo, L]` (symmetric laws: `[-L, L]`; Pareto: `[1, L]`;
//! lognormal: `[0, L]`) and the window is split into cells whose width is `h = 0.01` near the
//! origin and grows geometrically (`2e-3` relative) beyond `|x| = 5`. Each cell carries its exact
//! probability (a difference of CDFs, or of survival functions in the upper half, so the far tail
//! keeps relative accuracy) and sits at its midpoint. The mass outside the window, the
//! truncation error, is reported with the grid and removed by renormalization; it is the
//! quantity that tends to 0 as `L` grows.
//!
//! # Optimizing `U`
//!
//! Since `V` and `X` are independent under `pi0` and `e^{U/beta} = e^{V/beta} e^{X/beta}`, the
//! tilt of the joint law by `U` is the product of the tilts of the two marginals, so
//! `E[U]`, `E[V]` and the KL (which adds over independent factors) come from two
//! one-dimensional tilts. This is exact on the grid, with no product table.

use crate::dist::Dist;
use crate::error::{require_positive, Error, Result};
use crate::numeric::{monotone_root, RootTolerance};
use crate::solve::{self, Tilt};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, LogNormal, Normal, Pareto, StudentsT};

/// An error law for `X` (or a law for `V`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "law", rename_all = "snake_case")]
pub enum TailLaw {
    /// `N(0, sigma^2)`: light tail.
    Gaussian {
        /// Standard deviation.
        sigma: f64,
    },
    /// Student-t with `nu` degrees of freedom (`nu > 1` for a finite mean): tail `~ x^{-nu}`.
    StudentT {
        /// Degrees of freedom.
        nu: f64,
    },
    /// Pareto with scale 1 and shape `alpha` (`alpha > 1` for a finite mean): tail `x^{-alpha}`.
    Pareto {
        /// Shape.
        alpha: f64,
    },
    /// `exp(N(0, sigma^2))`: all moments, no exponential moment.
    LogNormal {
        /// Log-scale standard deviation.
        sigma: f64,
    },
}

/// A discretized law: a base on cell midpoints, and the mass cut off by the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Cell probabilities, renormalized over the window.
    pub base: Dist,
    /// Cell midpoints.
    pub values: Vec<f64>,
    /// `P(X outside the window)` under the untruncated law.
    pub truncated_mass: f64,
}

/// Cell width near the origin.
const FINE_STEP: f64 = 0.01;
/// Relative growth of cells beyond `FINE_STEP / GROWTH = 5`.
const GROWTH: f64 = 2e-3;

/// Edges `0 = e_0 < e_1 < ... < e_k = L` with `e_{j+1} = e_j + max(h, g e_j)`.
fn positive_edges(start: f64, end: f64) -> Vec<f64> {
    let mut edges = vec![start];
    let mut e = start;
    while e < end {
        e = (e + FINE_STEP.max(GROWTH * e)).min(end);
        edges.push(e);
    }
    edges
}

impl TailLaw {
    /// `(cdf, sf)` at `x`.
    fn cdf_sf(&self, x: f64) -> Result<(f64, f64)> {
        Ok(match *self {
            TailLaw::Gaussian { sigma } => {
                let d = Normal::new(0.0, sigma).map_err(|e| Error::InvalidInput(e.to_string()))?;
                (d.cdf(x), d.sf(x))
            }
            TailLaw::StudentT { nu } => {
                let d =
                    StudentsT::new(0.0, 1.0, nu).map_err(|e| Error::InvalidInput(e.to_string()))?;
                (d.cdf(x), d.sf(x))
            }
            TailLaw::Pareto { alpha } => {
                let d = Pareto::new(1.0, alpha).map_err(|e| Error::InvalidInput(e.to_string()))?;
                (d.cdf(x), d.sf(x))
            }
            TailLaw::LogNormal { sigma } => {
                let d =
                    LogNormal::new(0.0, sigma).map_err(|e| Error::InvalidInput(e.to_string()))?;
                (d.cdf(x), d.sf(x))
            }
        })
    }

    /// Lower end of the window for truncation `l`, and the law's median.
    fn window(&self, l: f64) -> (f64, f64) {
        match *self {
            TailLaw::Gaussian { .. } | TailLaw::StudentT { .. } => (-l, 0.0),
            TailLaw::Pareto { alpha } => (1.0, 2f64.powf(1.0 / alpha)),
            TailLaw::LogNormal { .. } => (0.0, 1.0),
        }
    }

    /// Mass of the cell `[a, b]`: from the CDF below the median, the survival function above.
    fn cell_mass(&self, a: f64, b: f64, median: f64) -> Result<f64> {
        let (ca, sa) = self.cdf_sf(a)?;
        let (cb, sb) = self.cdf_sf(b)?;
        Ok(if a >= median { sa - sb } else { cb - ca }.max(0.0))
    }

    /// Discretizes the law on its window cut at `l` (see the module docs).
    ///
    /// Errors: `l` not finite or too small for the window; invalid law parameters.
    pub fn grid(&self, l: f64) -> Result<Grid> {
        require_positive("truncation", l)?;
        let (lo, median) = self.window(l);
        if !(l > lo + FINE_STEP) {
            return Err(Error::InvalidParameter {
                name: "truncation",
                value: l,
                requirement: "above the lower end of the window",
            });
        }
        let edges: Vec<f64> = if lo < 0.0 {
            let pos = positive_edges(0.0, l);
            pos.iter()
                .rev()
                .map(|e| -e)
                .chain(pos[1..].iter().copied())
                .collect()
        } else {
            positive_edges(lo, l)
        };
        let mut masses = Vec::with_capacity(edges.len());
        let mut values = Vec::with_capacity(edges.len());
        for w in edges.windows(2) {
            masses.push(self.cell_mass(w[0], w[1], median)?);
            values.push(0.5 * (w[0] + w[1]));
        }
        let (c_lo, _) = self.cdf_sf(lo)?;
        let (_, s_hi) = self.cdf_sf(l)?;
        Ok(Grid {
            base: Dist::from_weights(masses)?,
            values,
            truncated_mass: c_lo + s_hi,
        })
    }
}

/// The tilt of `U = V + X` at one temperature, summarized.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AdditivePoint {
    /// `beta`.
    pub beta: f64,
    /// `E_pi[U] - E_pi0[U]`.
    pub proxy_gain: f64,
    /// `E_pi[V] - E_pi0[V]`.
    pub true_gain: f64,
    /// `KL(pi || pi0)`, the sum of the two marginal KLs.
    pub kl: f64,
}

/// `V` and `X` on their grids.
#[derive(Debug, Clone, PartialEq)]
pub struct AdditiveModel {
    /// The true utility's grid.
    pub truth: Grid,
    /// The error's grid.
    pub error: Grid,
}

impl AdditiveModel {
    /// `V ~ N(0, 1)` cut at `+-10` (truncated mass `1.5e-23`) and `X ~ law` cut at `l`.
    pub fn standard_truth(error: TailLaw, l: f64) -> Result<Self> {
        Ok(Self {
            truth: TailLaw::Gaussian { sigma: 1.0 }.grid(10.0)?,
            error: error.grid(l)?,
        })
    }

    fn tilts(&self, beta: f64) -> Result<(Tilt, Tilt)> {
        Ok((
            solve::tilt(&self.truth.base, &self.truth.values, beta)?,
            solve::tilt(&self.error.base, &self.error.values, beta)?,
        ))
    }

    /// The tilt of the joint law by `U / beta`.
    pub fn tilt(&self, beta: f64) -> Result<AdditivePoint> {
        let (v, x) = self.tilts(beta)?;
        // The gains straight from the tilts: relative accuracy even where they are tiny next to
        // the rewards' range (a difference of means would keep only `eps max|r| / gain`).
        let true_gain = v.reward_gain;
        Ok(AdditivePoint {
            beta,
            proxy_gain: true_gain + x.reward_gain,
            true_gain,
            kl: v.solution.kl + x.solution.kl,
        })
    }

    /// The least-KL policy with `E[U] >= E_pi0[U] + gain`: the tilt whose proxy gain is `gain`
    /// (claim `lagrange.reward-target`), found by Newton's method in `ln(1/beta)` safeguarded by
    /// bisection (`d gain / d ln(1/beta) = (Var V + Var X) / beta`).
    ///
    /// Errors: `gain` not positive, or not below the largest gain the grid allows.
    pub fn at_proxy_gain(&self, gain: f64) -> Result<AdditivePoint> {
        require_positive("gain", gain)?;
        let g = |t: f64| -> Result<(f64, f64)> {
            let beta = (-t).exp();
            let (v, x) = self.tilts(beta)?;
            let p = self.tilt(beta)?;
            let d = (v.reward_variance + x.reward_variance) / beta;
            Ok((p.proxy_gain - gain, d))
        };
        // The gains are accurate to a few eps relative, so t = ln(1/beta) can be pinned to a
        // few ulps (and with it the reported gains; a looser t would leave their trailing
        // digits undetermined).
        let tol = RootTolerance {
            x_abs: 4.0 * f64::EPSILON,
            x_rel: 4.0 * f64::EPSILON,
            f_abs: 0.0,
            max_iter: 300,
        };
        let t = monotone_root(g, -40.0, 10.0, tol)?;
        self.tilt((-t).exp())
    }
}

/// The least KL that raises `E[X]` by `gain` on the grid (the tilt of `X` alone), next to the
/// KL of the explicit construction of Kwa et al. (2024, Theorem 1): move mass
/// `w = gain / (t - E_Q[X])` to the top cell `t` (its midpoint), `P = (1 - w) Q + w delta_t`,
/// whose mean gain is exactly `gain`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KlForGain {
    /// `min KL(P||Q) s.t. E_P[X] >= E_Q[X] + gain`.
    pub min_kl: f64,
    /// `KL(P||Q)` of the construction.
    pub construction_kl: f64,
    /// Mean gain of the construction.
    pub construction_gain: f64,
}

/// See [`KlForGain`]. Errors: `gain` not positive or not reachable on the grid.
pub fn kl_for_gain(grid: &Grid, gain: f64) -> Result<KlForGain> {
    require_positive("gain", gain)?;
    let m0 = grid.base.expectation(&grid.values)?;
    let target = solve::reward_target(&grid.base, &grid.values, m0 + gain)?;
    let top = grid.values.len() - 1;
    let t = grid.values[top];
    let w = gain / (t - m0);
    if !(w > 0.0 && w < 1.0) {
        return Err(Error::InvalidParameter {
            name: "gain",
            value: gain,
            requirement: "below the top grid value minus the mean",
        });
    }
    let probs: Vec<f64> = grid
        .base
        .probs()
        .iter()
        .enumerate()
        .map(|(i, q)| (1.0 - w) * q + if i == top { w } else { 0.0 })
        .collect();
    let p = Dist::from_weights(probs)?;
    Ok(KlForGain {
        min_kl: target.solution.kl,
        construction_kl: crate::divergence::kl(&p, &grid.base)?,
        construction_gain: p.expectation(&grid.values)? - m0,
    })
}
