//! # rlhf-claims
//!
//! Claims people make about RLHF-style optimization, stated precisely, solved exactly on finite
//! outcome spaces, and checked.
//!
//! ## The model
//!
//! A finite outcome set `X = {0, .., n-1}`, a base policy `pi0` (a [`Dist`], zeros allowed), a
//! reward `r: X -> R` (a finite `&[f64]`), and policies `pi` on `X`. `KL(p||q) = sum p log(p/q)`
//! in nats.
//!
//! ## Module map
//!
//! - [`dist`]: validated finite distributions, kept in log space as well as linear space.
//! - [`divergence`]: KL (both directions), TV, entropy, chi-square, f-divergences.
//! - [`numeric`]: log-sum-exp, `log(1 - e^x)`, compensated sums, safeguarded monotone roots.
//! - [`buffer`]: large per-outcome vectors backed by huge pages.
//! - [`error`]: the crate's one error type.
//! - [`solve`]: exact solvers (tilt, KL budget, reward target, conditioning, ...).
//! - [`claims`]: the registry of claims, each with a property that checks it.

// `!(x > 0.0)` is the NaN-rejecting form of "x is not positive" and is used on purpose in
// input validation.
#![allow(clippy::neg_cmp_op_on_partial_ord)]
#![warn(missing_docs)]
// One `unsafe` call in the crate: the huge-page advice in `buffer`, allowed there.
#![deny(unsafe_code)]

pub mod api;
pub mod buffer;
pub mod claims;
pub mod dist;
pub mod divergence;
pub mod error;
mod exp_kernel;
#[doc(hidden)]
pub mod fuzz;
pub mod goodhart;
pub mod numeric;
mod parallel;
pub mod report;
pub mod sample;
pub mod solve;
pub mod stats;
pub mod tables;

pub use dist::Dist;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use error::{Error, Result};
