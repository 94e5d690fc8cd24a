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
//! - [`error`]: the crate's one error type.
//! - [`logits`]: distributions from logits (f64 or f32).
//! - [`solve`]: exact solvers (tilt, KL budget, reward target, conditioning, ...), their batch
//!   forms (`solve::batch`) and forms that write into caller buffers (`solve::output`).
//! - [`goodhart`]: joint proxy / true-utility models.
//! - [`sample`]: seeded sampled optimizers, and the witnesses that test them.
//! - [`api`]: the JSON interface of `rlhf-claims solve`.
//! - [`claims`]: the registry of claims, each with a property that checks it; `tables`,
//!   `report` (list/check output, the md/html/tex report, citations) and `plot` (SVG figures)
//!   present it.
//!
//! ## Features
//!
//! - `cli` (default): the `rlhf-claims` command line (clap).
//! - `claims` (default): the claim registry ([`claims`]), its report formats, the tables and
//!   the sampled witnesses; it checks claims with proptest. With `default-features = false`
//!   the library is the solvers alone, without clap or proptest.
//! - `testing`: the module `testing`, generators and tolerances for checking a trainer against the exact
//!   solvers with proptest (implies `claims`).
//! - `plots` (default): the module `plot`, SVG figures with plotters (implies `claims`).
//! - `quickcheck`: `Arbitrary` impls for the public types.
//! - `rayon`: solver calls made on a rayon worker thread run on that thread alone.
//!
//! ## Threads
//!
//! Large solver calls (from about `10^5` outcomes) split their passes over up to
//! [`max_threads`] threads, with results that never depend on the count. Set the count with
//! the environment variable `RLHF_CLAIMS_THREADS`, [`set_max_threads`] (process-wide) or
//! [`with_threads`] (one closure); a call made from one of the crate's own workers, or from a
//! rayon worker with the `rayon` feature, uses one thread.

// `!(x > 0.0)` is the NaN-rejecting form of "x is not positive" and is used on purpose in
// input validation.
#![allow(clippy::neg_cmp_op_on_partial_ord)]
#![warn(missing_docs)]
// One `unsafe` call in the crate: the huge-page advice in `buffer`, allowed there.
#![deny(unsafe_code)]

pub mod api;
// Huge-page buffers: an implementation detail, public for the benchmarks.
#[doc(hidden)]
pub mod buffer;
#[cfg(feature = "claims")]
pub mod claims;
pub mod dist;
pub mod divergence;
pub mod error;
mod exp_kernel;
#[doc(hidden)]
pub mod fuzz;
pub mod goodhart;
pub mod logits;
pub mod numeric;
mod parallel;
#[cfg(feature = "plots")]
pub mod plot;
#[cfg(feature = "claims")]
pub mod report;
pub mod sample;
pub mod solve;
pub mod stats;
#[cfg(feature = "claims")]
pub mod tables;
#[cfg(feature = "testing")]
pub mod testing;

pub use dist::Dist;
pub use parallel::{max_threads, set_max_threads, with_threads, THREADS_VAR};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use error::{Error, Result};
