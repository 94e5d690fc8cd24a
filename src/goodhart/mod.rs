//! Joint (proxy, true utility) models: every optimizer runs on the proxy `U` and is evaluated on
//! the true utility `V`.
//!
//! - [`joint`]: a finite joint table and the optimizers of [`crate::solve`] run on it.
//! - [`gaussian`]: the standard bivariate normal `(U, V)` with closed forms, and the expected
//!   maximum of `N` standard normals by quadrature.
//! - [`additive`]: `U = V + X` with `X` independent of `V`, light and heavy tails, discretized.
//! - [`outlier`]: one adversarial output among a million ordinary ones.
//! - [`submodules`]: the capability-limited submodule model.
//! - [`resource`]: a linear allocation under a budget, for a proxy on a subset of attributes.
//! - [`frontier`]: the exact range of `E[V]` at a KL budget, and its closed-form bounds.
//! - [`quadrature`]: Gauss-Legendre panels shared by the continuous models.

pub mod additive;
pub mod erfc;
pub mod frontier;
pub mod gaussian;
pub mod joint;
pub mod outlier;
pub mod quadrature;
pub mod resource;
pub mod submodules;

pub use frontier::{true_utility_range, TrueUtilityRange};
pub use joint::{JointTable, Optimizer, ProxyTrue};
