//! Batches: one solver over `B` contexts at once, each a row of a row-major `B x V` array.
//!
//! A training step holds hundreds of contexts, each with its own base policy over the
//! vocabulary (often given as logits) and its own rewards. The functions here take
//!
//! - the bases as [`Bases`]: one shared [`Dist`] or one per row (build them from a `B x V`
//!   array of logits with [`dists_from_logits`] / [`dists_from_logits_f32`], or of
//!   probabilities with [`dists_from_probs`]);
//! - the rewards as [`Rows`], a row-major `B x V` slice;
//! - each scalar parameter as a [`Param`]: one shared value or one per row;
//!
//! and return one result per row, in row order. [`tilt_into`] and [`kl_budget_into`] write the
//! `B x V` policy and log-policy into a reused [`PolicyBuffers`] and return only the scalars.
//!
//! # Parallelism and determinism
//!
//! With many rows (at least `4 x` the threads, or rows too short to split), the rows are cut
//! into as many contiguous parts as there are threads, each part solved on its own thread with
//! every row's passes on that thread; with few long rows, the rows are solved one after the
//! other, each with its passes split over all cores (see [`crate::solve::tilt()`]). Every row
//! runs exactly the code of the single-row solver, whose result never depends on the number of
//! threads, so a batch gives the same bits on any number of threads and the same bits as
//! solving its rows one by one (the tests check both).
//!
//! # Errors
//!
//! A shape mismatch (rows of different lengths, a per-row parameter or base list of the wrong
//! length) is [`Error::LengthMismatch`] or [`Error::InvalidInput`]; otherwise a batch fails
//! with the error of its first failing row, in row order (every row's own validation is that
//! of the single-row solver).

use super::best_of_n::{best_of_n as best_of_n_row, BestOfN};
use super::output::{kl_budget_into_slices, tilt_into_slices, BudgetSummary, PolicyBuffers};
use super::quantilize::{quantilize as quantilize_row, Quantilizer};
use super::tilt::{
    kl_budget as kl_budget_row, reward_target as reward_target_row, tilt as tilt_row, KlBudget,
    RewardTarget, Tilt, TiltSummary,
};
use super::{condition_on_threshold, Solution};
use crate::dist::Dist;
use crate::error::{require_same_len, Error, Result};
use crate::parallel;

/// A row-major `B x V` array: row `i` is `data[i V .. (i + 1) V]`.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a, T = f64> {
    data: &'a [T],
    cols: usize,
}

impl<'a, T> Rows<'a, T> {
    /// `data` as rows of `cols` entries. Errors: `cols = 0`, or a length that is not a
    /// multiple of `cols` ([`Error::InvalidInput`]).
    pub fn new(data: &'a [T], cols: usize) -> Result<Self> {
        if cols == 0 || !data.len().is_multiple_of(cols) {
            return Err(Error::InvalidInput(format!(
                "a batch of {} entries is not rows of {cols} entries",
                data.len()
            )));
        }
        Ok(Self { data, cols })
    }

    /// Number of rows `B`.
    pub fn rows(&self) -> usize {
        self.data.len() / self.cols
    }

    /// Entries per row `V`.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i` (`i < B`).
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// The base policies of a batch: one for all rows, or one per row.
#[derive(Debug, Clone, Copy)]
pub enum Bases<'a> {
    /// The same base for every row.
    Shared(&'a Dist),
    /// Row `i` has base `[i]`.
    PerRow(&'a [Dist]),
}

/// A scalar parameter of a batch: one value for all rows, or one per row.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a, T> {
    /// The same value for every row.
    Shared(T),
    /// Row `i` has value `[i]`.
    PerRow(&'a [T]),
}

impl<T: Copy> Param<'_, T> {
    fn at(&self, i: usize) -> T {
        match self {
            Param::Shared(x) => *x,
            Param::PerRow(xs) => xs[i],
        }
    }

    fn check(&self, what: &'static str, rows: usize) -> Result<()> {
        match self {
            Param::Shared(_) => Ok(()),
            Param::PerRow(xs) => require_same_len("batch rows", rows, what, xs.len()),
        }
    }
}

impl Bases<'_> {
    fn at(&self, i: usize) -> &Dist {
        match self {
            Bases::Shared(d) => d,
            Bases::PerRow(ds) => &ds[i],
        }
    }

    fn check(&self, rows: usize) -> Result<()> {
        match self {
            Bases::Shared(_) => Ok(()),
            Bases::PerRow(ds) => require_same_len("batch rows", rows, "bases", ds.len()),
        }
    }
}

/// `f(i, &mut items[i])` for every row `i`, on `threads` threads as the module documentation
/// describes; the results in row order, or the first row's error.
fn run_rows<I: Send, T: Send>(
    threads: usize,
    cols: usize,
    items: &mut [I],
    f: impl Fn(usize, &mut I) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let rows = items.len();
    let across = threads > 1 && (cols < parallel::MIN_PARALLEL || rows >= 4 * threads);
    let results: Vec<Result<T>> = if across {
        let bounds = parallel::even_bounds(rows, threads.min(rows));
        parallel::map_parts(items, &bounds, |start, part| {
            parallel::sequential(|| {
                part.iter_mut()
                    .enumerate()
                    .map(|(k, item)| f(start + k, item))
                    .collect::<Vec<_>>()
            })
        })
        .into_iter()
        .flatten()
        .collect()
    } else {
        items
            .iter_mut()
            .enumerate()
            .map(|(i, item)| f(i, item))
            .collect()
    };
    results.into_iter().collect()
}

/// `f(i)` for `i < count`, in parallel when `work` (the number of entries in all) is large,
/// results in order: for independent problems of any sizes (the batch form of
/// [`crate::api::solve`]).
pub(crate) fn map_items<T: Send>(
    count: usize,
    work: usize,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let mut items: Vec<usize> = (0..count).collect();
    let cols = work / count.max(1);
    let threads = parallel::threads(work);
    // `f` cannot fail, so neither can the run (the default is never taken).
    run_rows(threads, cols, &mut items, |i, _| Ok(f(i))).unwrap_or_default()
}

/// The thread count for a batch of `rows x cols` entries.
fn batch_threads(rows: usize, cols: usize) -> usize {
    parallel::threads(rows.saturating_mul(cols))
}

/// `solve(base_i, reward_i, i)` for every row, in parallel; results in row order.
fn map_rows<T: Send>(
    bases: Bases,
    rewards: Rows,
    solve: impl Fn(&Dist, &[f64], usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let (rows, cols) = (rewards.rows(), rewards.cols());
    bases.check(rows)?;
    let mut items: Vec<usize> = (0..rows).collect();
    run_rows(batch_threads(rows, cols), cols, &mut items, |i, _| {
        solve(bases.at(i), rewards.row(i), i)
    })
}

/// `build(row)` for every row, rows in parallel.
fn dists_of_rows<T: Sync>(
    rows: Rows<T>,
    build: impl Fn(&[T]) -> Result<Dist> + Sync,
) -> Result<Vec<Dist>> {
    let mut items: Vec<usize> = (0..rows.rows()).collect();
    let threads = batch_threads(rows.rows(), rows.cols());
    run_rows(threads, rows.cols(), &mut items, |i, _| build(rows.row(i)))
}

/// The distributions of the rows of a `B x V` array of logits ([`Dist::from_logits`] per row,
/// rows in parallel).
pub fn dists_from_logits(logits: Rows) -> Result<Vec<Dist>> {
    dists_of_rows(logits, Dist::from_logits)
}

/// [`dists_from_logits`] for `f32` logits.
pub fn dists_from_logits_f32(logits: Rows<f32>) -> Result<Vec<Dist>> {
    dists_of_rows(logits, Dist::from_logits_f32)
}

/// The distributions of the rows of a `B x V` array of probabilities ([`Dist::new`] per row,
/// rows in parallel).
pub fn dists_from_probs(probs: Rows) -> Result<Vec<Dist>> {
    dists_of_rows(probs, |row| Dist::new(row.to_vec()))
}

/// [`tilt`](super::tilt()) of every row.
pub fn tilt(bases: Bases, rewards: Rows, beta: Param<f64>) -> Result<Vec<Tilt>> {
    beta.check("beta", rewards.rows())?;
    map_rows(bases, rewards, |b, r, i| tilt_row(b, r, beta.at(i)))
}

/// [`kl_budget`](super::kl_budget()) of every row.
pub fn kl_budget(bases: Bases, rewards: Rows, eps: Param<f64>) -> Result<Vec<KlBudget>> {
    eps.check("kl_budget", rewards.rows())?;
    map_rows(bases, rewards, |b, r, i| kl_budget_row(b, r, eps.at(i)))
}

/// [`reward_target`](super::reward_target()) of every row.
pub fn reward_target(bases: Bases, rewards: Rows, target: Param<f64>) -> Result<Vec<RewardTarget>> {
    target.check("target", rewards.rows())?;
    map_rows(bases, rewards, |b, r, i| {
        reward_target_row(b, r, target.at(i))
    })
}

/// [`condition_on_threshold`](super::condition_on_threshold()) of every row.
pub fn condition(bases: Bases, rewards: Rows, threshold: Param<f64>) -> Result<Vec<Solution>> {
    threshold.check("threshold", rewards.rows())?;
    map_rows(bases, rewards, |b, r, i| {
        condition_on_threshold(b, r, threshold.at(i))
    })
}

/// [`best_of_n`](super::best_of_n()) of every row.
pub fn best_of_n(bases: Bases, rewards: Rows, n: Param<u64>) -> Result<Vec<BestOfN>> {
    n.check("n", rewards.rows())?;
    map_rows(bases, rewards, |b, r, i| best_of_n_row(b, r, n.at(i)))
}

/// [`quantilize`](super::quantilize()) of every row.
pub fn quantilize(bases: Bases, rewards: Rows, q: Param<f64>) -> Result<Vec<Quantilizer>> {
    q.check("q", rewards.rows())?;
    map_rows(bases, rewards, |b, r, i| quantilize_row(b, r, q.at(i)))
}

/// [`soft_best_of_n`](super::soft_best_of_n()) of every row.
pub fn soft_best_of_n(
    bases: Bases,
    rewards: Rows,
    n: Param<u64>,
    temperature: Param<f64>,
) -> Result<Vec<super::SoftBestOfN>> {
    n.check("n", rewards.rows())?;
    temperature.check("temperature", rewards.rows())?;
    map_rows(bases, rewards, |b, r, i| {
        super::soft_best_of_n(b, r, n.at(i), temperature.at(i))
    })
}

/// [`grpo_stationary`](super::grpo_stationary()) of every row.
pub fn grpo(
    bases: Bases,
    rewards: Rows,
    config: Param<super::GrpoConfig>,
) -> Result<Vec<super::GrpoStationary>> {
    config.check("config", rewards.rows())?;
    map_rows(bases, rewards, |b, r, i| {
        super::grpo_stationary(b, r, &config.at(i))
    })
}

/// The row-major `B x V` policy and log-policy buffers of `out`, made to fit, cut into rows.
fn row_buffers<'a>(
    out: &'a mut PolicyBuffers,
    rewards: &Rows,
) -> Vec<(&'a mut [f64], &'a mut [f64])> {
    out.fit(rewards.rows() * rewards.cols());
    let cols = rewards.cols();
    out.policy
        .chunks_mut(cols)
        .zip(out.log_policy.chunks_mut(cols))
        .collect()
}

/// [`tilt`] of every row into `out` (`B x V` policy and log-policy, row-major; resized only
/// when its length differs): the same bits as [`tilt_into`](super::tilt_into) on each row.
pub fn tilt_into(
    bases: Bases,
    rewards: Rows,
    beta: Param<f64>,
    out: &mut PolicyBuffers,
) -> Result<Vec<TiltSummary>> {
    tilt_into_on(
        batch_threads(rewards.rows(), rewards.cols()),
        (bases, rewards),
        beta,
        out,
    )
}

fn tilt_into_on(
    threads: usize,
    (bases, rewards): (Bases, Rows),
    beta: Param<f64>,
    out: &mut PolicyBuffers,
) -> Result<Vec<TiltSummary>> {
    bases.check(rewards.rows())?;
    beta.check("beta", rewards.rows())?;
    let mut rows = row_buffers(out, &rewards);
    run_rows(threads, rewards.cols(), &mut rows, |i, (p, l)| {
        tilt_into_slices(bases.at(i), rewards.row(i), beta.at(i), p, l)
    })
}

/// [`kl_budget`] of every row into `out`, as [`tilt_into`].
pub fn kl_budget_into(
    bases: Bases,
    rewards: Rows,
    eps: Param<f64>,
    out: &mut PolicyBuffers,
) -> Result<Vec<BudgetSummary>> {
    let threads = batch_threads(rewards.rows(), rewards.cols());
    kl_budget_into_on(threads, (bases, rewards), eps, out)
}

fn kl_budget_into_on(
    threads: usize,
    (bases, rewards): (Bases, Rows),
    eps: Param<f64>,
    out: &mut PolicyBuffers,
) -> Result<Vec<BudgetSummary>> {
    bases.check(rewards.rows())?;
    eps.check("kl_budget", rewards.rows())?;
    let mut rows = row_buffers(out, &rewards);
    run_rows(threads, rewards.cols(), &mut rows, |i, (p, l)| {
        kl_budget_into_slices(bases.at(i), rewards.row(i), eps.at(i), p, l)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `B x V` logits and rewards from a fixed integer hash, logits on the grid `2^-8`.
    fn instance(rows: usize, cols: usize) -> Result<(Vec<Dist>, Vec<f64>)> {
        let hash = |i: usize, k: usize| (i * 2_654_435_761 + k * 40_503 + 7) % 10_007;
        let logits: Vec<f64> = (0..rows * cols)
            .map(|i| hash(i, 1) as f64 / 256.0 - 20.0)
            .collect();
        let rewards = (0..rows * cols)
            .map(|i| (hash(i, 3) % 101) as f64 / 50.0 - 1.0)
            .collect();
        Ok((dists_from_logits(Rows::new(&logits, cols)?)?, rewards))
    }

    /// Each row of the batch tilt, into buffers and allocated, is the single-row tilt bit for
    /// bit, on 1, 2, 3 and 8 threads (both shapes of parallelism: many short rows, few long
    /// ones), with shared and per-row betas.
    #[test]
    fn batch_tilt_is_the_row_by_row_tilt_on_any_number_of_threads() -> Result<()> {
        for (rows, cols) in [(9, 1000), (2, 150_000)] {
            let (bases, rewards) = instance(rows, cols)?;
            let r = Rows::new(&rewards, cols)?;
            let betas: Vec<f64> = (0..rows).map(|i| 0.25 + i as f64).collect();
            let per_row = Param::PerRow(&betas);
            let alloc = tilt(Bases::PerRow(&bases), r, per_row)?;
            for threads in [1, 2, 3, 8] {
                let mut out = PolicyBuffers::new();
                let s = tilt_into_on(threads, (Bases::PerRow(&bases), r), per_row, &mut out)?;
                for i in 0..rows {
                    let one = super::super::tilt(&bases[i], r.row(i), betas[i])?;
                    assert_eq!(alloc[i], one);
                    let span = i * cols..(i + 1) * cols;
                    assert_eq!(&out.policy[span.clone()], one.solution.policy.probs());
                    assert_eq!(&out.log_policy[span], one.solution.policy.log_probs());
                    assert_eq!(s[i].kl.to_bits(), one.solution.kl.to_bits());
                    assert_eq!(s[i].reward_gain.to_bits(), one.reward_gain.to_bits());
                }
            }
            let shared = tilt(Bases::Shared(&bases[0]), r, Param::Shared(0.5))?;
            for (i, t) in shared.iter().enumerate() {
                assert_eq!(*t, super::super::tilt(&bases[0], r.row(i), 0.5)?);
            }
        }
        Ok(())
    }

    /// The same for the budget solver (budgets per row, from binding to slack).
    #[test]
    fn batch_kl_budget_is_the_row_by_row_solver_on_any_number_of_threads() -> Result<()> {
        for (rows, cols) in [(9, 1000), (2, 150_000)] {
            let (bases, rewards) = instance(rows, cols)?;
            let r = Rows::new(&rewards, cols)?;
            let eps: Vec<f64> = (0..rows)
                .map(|i| [0.0, 0.01, 0.3, 2.0, 1e3][i % 5])
                .collect();
            let alloc = kl_budget(Bases::PerRow(&bases), r, Param::PerRow(&eps))?;
            for threads in [1, 2, 3, 8] {
                let mut out = PolicyBuffers::new();
                let s = kl_budget_into_on(
                    threads,
                    (Bases::PerRow(&bases), r),
                    Param::PerRow(&eps),
                    &mut out,
                )?;
                for i in 0..rows {
                    let one = super::super::kl_budget(&bases[i], r.row(i), eps[i])?;
                    assert_eq!(alloc[i], one);
                    let span = i * cols..(i + 1) * cols;
                    assert_eq!(&out.policy[span.clone()], one.solution.policy.probs());
                    assert_eq!(&out.log_policy[span], one.solution.policy.log_probs());
                    assert_eq!((s[i].beta, s[i].regime), (one.beta, one.regime));
                }
            }
        }
        Ok(())
    }

    /// The other solvers' batches are their row-by-row results (exact equality of the
    /// returned structures), on a batch of many short rows (split over threads).
    #[test]
    fn other_solvers_batch_row_by_row() -> Result<()> {
        let (rows, cols) = (12, 40_000);
        let (bases, rewards) = instance(rows, cols)?;
        let (b, r) = (Bases::PerRow(&bases), Rows::new(&rewards, cols)?);
        let row = |i: usize| (&bases[i], r.row(i));
        let targets: Vec<f64> = (0..rows).map(|i| -0.5 + 0.1 * i as f64).collect();
        for (i, s) in reward_target(b, r, Param::PerRow(&targets))?
            .iter()
            .enumerate()
        {
            assert_eq!(
                *s,
                super::super::reward_target(row(i).0, row(i).1, targets[i])?
            );
        }
        for (i, s) in condition(b, r, Param::Shared(0.5))?.iter().enumerate() {
            assert_eq!(*s, condition_on_threshold(row(i).0, row(i).1, 0.5)?);
        }
        for (i, s) in best_of_n(b, r, Param::Shared(16))?.iter().enumerate() {
            assert_eq!(*s, super::super::best_of_n(row(i).0, row(i).1, 16)?);
        }
        for (i, s) in quantilize(b, r, Param::Shared(0.1))?.iter().enumerate() {
            assert_eq!(*s, super::super::quantilize(row(i).0, row(i).1, 0.1)?);
        }
        Ok(())
    }

    /// Rows of probabilities and of `f32` logits give the row-by-row distributions; a
    /// non-finite reward deep in a row is reported at its index.
    #[test]
    fn bases_from_probabilities_and_f32_logits() -> Result<()> {
        let probs: Vec<f64> = (0..3000)
            .map(|i| ((i % 7) + 1) as f64 / 4000.0 * 1000.0 / 1000.0)
            .collect();
        let sums: Vec<f64> = probs.chunks(1000).map(|c| c.iter().sum()).collect();
        let probs: Vec<f64> = probs
            .iter()
            .enumerate()
            .map(|(i, p)| p / sums[i / 1000])
            .collect();
        let dists = dists_from_probs(Rows::new(&probs, 1000)?)?;
        for (i, d) in dists.iter().enumerate() {
            assert_eq!(*d, Dist::new(probs[i * 1000..(i + 1) * 1000].to_vec())?);
        }
        let w32: Vec<f32> = (0..3000).map(|i| (i % 13) as f32 * 0.37).collect();
        let from32 = dists_from_logits_f32(Rows::new(&w32, 1000)?)?;
        for (i, d) in from32.iter().enumerate() {
            assert_eq!(*d, Dist::from_logits_f32(&w32[i * 1000..(i + 1) * 1000])?);
        }
        let mut reward = vec![0.5; 3000];
        reward[1000 + 700] = f64::INFINITY;
        let e = tilt(
            Bases::PerRow(&dists),
            Rows::new(&reward, 1000)?,
            Param::Shared(1.0),
        );
        assert!(
            matches!(e, Err(Error::NonFinite { index: 700, .. })),
            "{e:?}"
        );
        Ok(())
    }

    /// Shapes that do not fit, and a bad row, are typed errors (the first bad row's).
    #[test]
    fn shape_errors_and_the_first_bad_row() -> Result<()> {
        assert!(matches!(
            Rows::new(&[1.0; 5], 2),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            Rows::new(&[1.0; 4], 0),
            Err(Error::InvalidInput(_))
        ));
        let (bases, rewards) = instance(3, 10)?;
        let r = Rows::new(&rewards, 10)?;
        let two = [1.0, 2.0];
        let e = tilt(Bases::PerRow(&bases), r, Param::PerRow(&two));
        assert!(matches!(e, Err(Error::LengthMismatch { .. })));
        let e = tilt(Bases::PerRow(&bases[..2]), r, Param::Shared(1.0));
        assert!(matches!(e, Err(Error::LengthMismatch { .. })));
        let e = tilt(
            Bases::PerRow(&bases),
            r,
            Param::PerRow(&[1.0, -1.0, f64::NAN]),
        );
        assert!(matches!(
            e,
            Err(Error::InvalidParameter { value, .. }) if value == -1.0
        ));
        Ok(())
    }
}
