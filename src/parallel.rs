//! Deterministic data parallelism with `std::thread::scope`.
//!
//! Two shapes of work, both with results that never depend on the number of threads:
//!
//! - [`map_tiles`]: a pass over `n` outcomes cut into tiles of [`TILE`] consecutive outcomes
//!   (the last may be shorter), each tile processed whole, with its part of some output arrays;
//!   the per-tile results come back in tile order, so a reduction that combines them in that
//!   order gives the same bits on one core or many.
//! - [`map_parts`]: a slice cut at boundaries that the caller fixes from the data alone (see
//!   [`even_bounds`]), one thread per part, results in part order.
//!
//! Small jobs run on the calling thread. In a parallel job the calling thread and its helpers
//! claim the tiles (or parts) one at a time, in order, until none is left, so a helper that is
//! slow to start holds nothing up. Without the `rayon` feature the helpers are scoped threads
//! (`std::thread::scope`), and if one cannot be started the others do its share, so nothing
//! here panics. With it, the helpers run on rayon's global pool, whose threads persist between
//! jobs: a sweep then costs a wake-up instead of a thread start (a dozen system calls each),
//! which matters at 10^4 to 10^6 outcomes, where a sweep takes tens of microseconds. (rayon
//! starts its pool on first use, and panics if it cannot start a thread then.) A solver call of
//! several sweeps runs as one job of that pool ([`as_one_job`]), so that its caller blocks once
//! rather than at the end of every sweep. The results are the same bits either way.
//!
//! ## The number of threads
//!
//! At most [`max_threads`] threads work on one job: the environment variable
//! `RLHF_CLAIMS_THREADS` (a positive integer, read once) or else the available parallelism
//! capped at 8; [`set_max_threads`] overrides both for the whole process and [`with_threads`]
//! for one closure on the calling thread. Results do not depend on it (see above).
//!
//! No oversubscription: a job started on one of this module's worker threads runs on that
//! thread alone, and so does a job started on a rayon worker thread when the `rayon` feature is
//! on (`rayon::current_thread_index()`). Callers with a thread pool of their own (not rayon)
//! wrap each task in `with_threads(1, ..)`.

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Outcomes per tile: a multiple of [`crate::numeric::BlockSum::BLOCK`], large enough that
/// handing out a tile costs nothing next to processing it (64 KiB per array, which also keeps
/// a tile's arrays in L2), and small enough that the tiles of a job just above
/// [`MIN_PARALLEL`] split evenly over the threads (at `10^5` outcomes, 13 tiles: 7 and 6).
pub(crate) const TILE: usize = 1 << 13;

/// Jobs over fewer items than this run on the calling thread: starting a thread costs about
/// 20 us, a pass over `10^4` outcomes, so from `2^16` outcomes (a pass of about 130 us) two
/// threads save about 45 us a pass; below, the saving shrinks to nothing.
pub(crate) const MIN_PARALLEL: usize = 1 << 16;

/// The number of threads for a job over `len` items: 1 for short jobs and inside a parallel
/// job, else [`max_threads`].
pub(crate) fn threads(len: usize) -> usize {
    if len < MIN_PARALLEL || inside_parallel_job() {
        1
    } else {
        max_threads()
    }
}

/// The environment variable that sets the default number of threads.
pub const THREADS_VAR: &str = "RLHF_CLAIMS_THREADS";

/// Process-wide override from [`set_max_threads`] (0: none).
static OVERRIDE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Per-thread limit from [`with_threads`] (0: none), and whether this thread is one of
    /// this module's workers.
    static LOCAL_LIMIT: Cell<usize> = const { Cell::new(0) };
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
    /// Whether this rayon worker runs a solver call on behalf of a caller outside the pool
    /// (see [`as_one_job`]): its jobs then split as the caller's would.
    static RUNS_A_CALL: Cell<bool> = const { Cell::new(false) };
}

/// The most threads one solver call uses: the innermost [`with_threads`] on this thread, else
/// [`set_max_threads`], else `RLHF_CLAIMS_THREADS`, else the available parallelism capped at 8.
pub fn max_threads() -> usize {
    let local = LOCAL_LIMIT.with(Cell::get);
    if local > 0 {
        return local;
    }
    match OVERRIDE.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}

/// Sets the most threads one solver call uses, for the whole process (`0` restores the
/// default: `RLHF_CLAIMS_THREADS` or the available parallelism capped at 8).
pub fn set_max_threads(n: usize) {
    OVERRIDE.store(n, Ordering::Relaxed);
}

/// Runs `f` with solver calls on this thread limited to `n` threads (at least 1): what a task
/// of a caller's own thread pool uses to avoid oversubscription (`with_threads(1, || ..)`).
pub fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    /// Restores the previous limit, also when `f` unwinds.
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            LOCAL_LIMIT.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(LOCAL_LIMIT.with(|l| l.replace(n.max(1))));
    f()
}

/// `work()` with every job it starts on this thread run on this thread: for work that is
/// itself one of several parts already running in parallel (the rows of a batch), where
/// splitting further would only add threads. Results do not change (no job's result depends
/// on its number of threads).
pub(crate) fn sequential<R>(work: impl FnOnce() -> R) -> R {
    with_threads(1, work)
}

/// Whether the calling thread already works for a parallel job (one of ours, or rayon's with
/// the `rayon` feature).
fn inside_parallel_job() -> bool {
    #[cfg(feature = "rayon")]
    if rayon::current_thread_index().is_some() && !RUNS_A_CALL.with(Cell::get) {
        return true;
    }
    IS_WORKER.with(Cell::get)
}

/// `call()`, a solver call of several sweeps over `len` outcomes, run as one job of rayon's
/// pool when its sweeps will run in parallel (with the `rayon` feature; otherwise, or for a
/// job on one thread, on the calling thread).
///
/// Why: a thread outside the pool that starts a parallel sweep blocks on a lock until the
/// pool's helper has finished its last tile, and is woken by the system; the helper, idle
/// meanwhile, falls asleep and must be woken for the next sweep. A tilt at `10^5` outcomes
/// has four sweeps and took about 20 context switches. A pool thread waits for its helpers
/// by spinning and stealing instead, so as one pool job the call blocks its caller once
/// (measured at `10^5` outcomes on two threads: context switches eight times fewer,
/// `kl_budget_into` about 5% faster, `tilt_into` within the spread; `benches/RESULTS.md`). The call keeps its caller's limit on threads
/// ([`max_threads`]), and its results do not change (no result depends on the thread that
/// computes it).
pub(crate) fn as_one_job<R: Send>(len: usize, call: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "rayon")]
    if threads(len) > 1 && rayon::current_thread_index().is_none() {
        let limit = max_threads();
        return rayon::scope(|_| {
            /// Restores the worker's flag, also when `call` unwinds.
            struct Restore(bool);
            impl Drop for Restore {
                fn drop(&mut self) {
                    RUNS_A_CALL.with(|c| c.set(self.0));
                }
            }
            let _restore = Restore(RUNS_A_CALL.with(|c| c.replace(true)));
            with_threads(limit, call)
        });
    }
    #[cfg(not(feature = "rayon"))]
    let _ = len;
    call()
}

/// `RLHF_CLAIMS_THREADS` when it is a positive integer, else the available parallelism (at most
/// 8), read once: `available_parallelism` reads the cgroup limits from the file system, which
/// costs more than a pass over `10^4` outcomes.
fn default_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var(THREADS_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |t| t.get().min(8)))
    })
}

/// The tiles of `0..n`.
pub(crate) fn tiles(n: usize) -> impl Iterator<Item = Range<usize>> {
    (0..n).step_by(TILE).map(move |at| at..(at + TILE).min(n))
}

/// `work(tile, outputs)` for every tile of `0..n`, in parallel, results in tile order. Each
/// array of `outputs` must have length `n`; `work` receives the tile's range of outcomes and
/// the matching part of each output (indexed from 0 within the tile).
pub(crate) fn map_tiles<T, F>(n: usize, outputs: Vec<&mut [f64]>, work: F) -> Vec<T>
where
    T: Send,
    F: Fn(Range<usize>, &mut [&mut [f64]]) -> T + Sync,
{
    map_tiles_on(threads(n), n, outputs, work)
}

/// [`map_tiles`] on at most `threads` threads.
fn map_tiles_on<T, F>(threads: usize, n: usize, outputs: Vec<&mut [f64]>, work: F) -> Vec<T>
where
    T: Send,
    F: Fn(Range<usize>, &mut [&mut [f64]]) -> T + Sync,
{
    let mut parts: Vec<Vec<&mut [f64]>> = tiles(n).map(|_| Vec::new()).collect();
    for out in outputs {
        for (part, chunk) in parts.iter_mut().zip(out.chunks_mut(TILE)) {
            part.push(chunk);
        }
    }
    let items: Vec<_> = tiles(n).zip(parts).collect();
    map_claimed(items, threads, |(range, mut outs)| work(range, &mut outs))
}

/// The boundaries `0 = b_0 <= b_1 <= ... <= b_parts = len` of `parts` nearly equal parts.
pub(crate) fn even_bounds(len: usize, parts: usize) -> Vec<usize> {
    let parts = parts.max(1);
    (0..=parts)
        .map(|k| len / parts * k + len % parts * k / parts)
        .collect()
}

/// `f(bounds[k], &mut data[bounds[k]..bounds[k + 1]])` for each part `k`, each part on its own
/// thread when there are several; the results in the order of the parts. `bounds` must be
/// non-decreasing, from 0 to `data.len()`.
pub(crate) fn map_parts<T: Send, R: Send>(
    data: &mut [T],
    bounds: &[usize],
    f: impl Fn(usize, &mut [T]) -> R + Sync,
) -> Vec<R> {
    if bounds.len() <= 2 {
        return vec![f(0, data)];
    }
    let mut items = Vec::with_capacity(bounds.len() - 1);
    let mut rest = data;
    for w in bounds.windows(2) {
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
        items.push((w[0], part));
        rest = tail;
    }
    let threads = items.len();
    map_claimed(items, threads, |(start, part)| f(start, part))
}

/// `work(item)` for every item, on as many threads as items (the calling thread among them;
/// see [`map_claimed`]); the results in item order.
pub(crate) fn map_each<I: Send, R: Send>(items: Vec<I>, work: impl Fn(I) -> R + Sync) -> Vec<R> {
    let threads = items.len();
    map_claimed(items, threads, work)
}

/// `work(item)` for every item, on up to `threads` threads (the calling thread and
/// `threads - 1` helpers), the results in item order. Each participant claims the next
/// unclaimed item until none is left, so a helper that is slow to start (a pool thread waking
/// from sleep takes tens of microseconds, a pass over a tile at 10^5 outcomes about as long)
/// delays nothing: the calling thread goes on with the items it has not taken. Which thread
/// runs an item never changes its result.
fn map_claimed<I: Send, R: Send>(
    items: Vec<I>,
    threads: usize,
    work: impl Fn(I) -> R + Sync,
) -> Vec<R> {
    let helpers = threads.min(items.len()).saturating_sub(1);
    if helpers == 0 {
        return items.into_iter().map(work).collect();
    }
    let slots: Vec<Mutex<(Option<I>, Option<R>)>> = items
        .into_iter()
        .map(|item| Mutex::new((Some(item), None)))
        .collect();
    let next = AtomicUsize::new(0);
    let lock = |k: usize| slots[k].lock().unwrap_or_else(PoisonError::into_inner);
    let claim_all = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= slots.len() {
            break;
        }
        // Each index is claimed once, so the item is there (taken with the lock released
        // before the work starts).
        let item = lock(k).0.take();
        if let Some(item) = item {
            let r = work(item);
            lock(k).1 = Some(r);
        }
    };
    run_with_helpers(helpers, &claim_all);
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner).1)
        .collect()
}

/// `claim_all()` on the calling thread and on `helpers` more threads of rayon's pool, whose
/// threads persist between jobs (no thread is started per sweep); returns when all have
/// returned. A panic in any of them is passed on once all have ended.
#[cfg(feature = "rayon")]
fn run_with_helpers(helpers: usize, claim_all: &(dyn Fn() + Sync)) {
    rayon::in_place_scope(|s| {
        for _ in 0..helpers {
            s.spawn(move |_| claim_all());
        }
        claim_all();
    });
}

/// [`run_with_helpers`] with `helpers` scoped threads (a thread that cannot be started leaves
/// its share to the others); a panic in a thread is passed on unchanged.
#[cfg(not(feature = "rayon"))]
fn run_with_helpers(helpers: usize, claim_all: &(dyn Fn() + Sync)) {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..helpers)
            .map(|_| {
                std::thread::Builder::new().spawn_scoped(s, move || {
                    IS_WORKER.with(|w| w.set(true));
                    claim_all()
                })
            })
            .collect();
        claim_all();
        for h in handles.into_iter().flatten() {
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tile_is_processed_once_in_order_with_its_outputs() {
        for n in [
            0,
            1,
            TILE - 1,
            TILE,
            3 * TILE + 5,
            MIN_PARALLEL + 7,
            9 * TILE,
        ] {
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            let got = map_tiles(n, vec![&mut a, &mut b], |range, outs| {
                for (k, i) in range.clone().enumerate() {
                    outs[0][k] = i as f64;
                    outs[1][k] = -(i as f64);
                }
                range
            });
            assert_eq!(got, tiles(n).collect::<Vec<_>>());
            assert!(a.iter().enumerate().all(|(i, x)| *x == i as f64));
            assert!(b.iter().enumerate().all(|(i, x)| *x == -(i as f64)));
        }
    }

    /// A panic in one part is passed on with its payload, and only after the other parts have
    /// ended (they borrow the caller's data), with scoped threads and with rayon's pool alike.
    #[test]
    fn a_panic_in_a_part_reaches_the_caller_after_every_part_ends() {
        let done = AtomicUsize::new(0);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map_each((0..4).collect(), |i: usize| {
                if i == 1 {
                    panic!("part 1");
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                done.fetch_add(1, Ordering::SeqCst);
            })
        }));
        let payload = result.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"part 1"));
        assert_eq!(done.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_reduction_in_tile_order_gives_the_same_bits_on_any_number_of_threads() {
        let n = 7 * TILE + 11;
        let xs: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1013) as f64 * 1e-3 + 1e-9)
            .collect();
        let total = |threads| {
            let parts = map_tiles_on(threads, n, Vec::new(), |range, _| {
                range.map(|i| xs[i].sqrt()).sum::<f64>()
            });
            parts.iter().sum::<f64>().to_bits()
        };
        let one = total(1);
        for threads in [2, 3, 8] {
            assert_eq!(total(threads), one);
        }
    }

    #[test]
    fn the_thread_count_follows_with_threads_and_set_max_threads() {
        let big = MIN_PARALLEL;
        with_threads(3, || {
            assert_eq!(threads(big), 3);
            with_threads(1, || assert_eq!(threads(big), 1));
            assert_eq!(threads(big), 3);
            assert_eq!(threads(MIN_PARALLEL - 1), 1);
        });
        // A process-wide override, visible on this thread (no `with_threads` active); other
        // tests read `max_threads` only through `threads`, whose results never depend on it.
        set_max_threads(5);
        let overridden = max_threads();
        set_max_threads(0);
        assert_eq!(overridden, 5);
        assert_eq!(max_threads(), default_threads());
        assert_eq!(with_threads(0, max_threads), 1);
    }

    #[test]
    fn a_job_inside_a_parallel_job_runs_on_one_thread() {
        // Each tile of an outer parallel job asks how many threads a nested job may use:
        // workers answer 1 (no oversubscription); the calling thread, which is not a worker,
        // keeps its own limit. Tiles go to whichever thread claims them first.
        let n = 4 * TILE;
        let caller = std::thread::current().id();
        let nested = map_tiles_on(4, n, Vec::new(), |_, _| {
            (
                std::thread::current().id() == caller,
                inside_parallel_job(),
                with_threads(8, || threads(MIN_PARALLEL)),
            )
        });
        assert_eq!(nested.len(), 4);
        for (k, &(on_caller, inside, limit)) in nested.iter().enumerate() {
            let want = if on_caller { (false, 8) } else { (true, 1) };
            assert_eq!(
                (inside, limit),
                want,
                "tile {k}, on the caller: {on_caller}"
            );
        }
    }

    #[cfg(feature = "rayon")]
    #[test]
    fn a_job_on_a_rayon_worker_runs_on_one_thread() -> Result<(), String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .map_err(|e| e.to_string())?;
        // The same limit inside a rayon worker and on this (non-worker) thread.
        let inside = pool.install(|| with_threads(2, || threads(MIN_PARALLEL)));
        let outside = with_threads(2, || threads(MIN_PARALLEL));
        if (inside, outside) == (1, 2) {
            Ok(())
        } else {
            Err(format!("inside a rayon pool {inside}, outside {outside}"))
        }
    }

    /// A call made one pool job runs on a pool thread with its caller's limit, splits its
    /// sweeps as the caller would (and its helpers do not split further); a call on one thread
    /// stays on the calling thread; a panic reaches the caller and leaves no flag set.
    #[cfg(feature = "rayon")]
    #[test]
    fn a_call_made_one_pool_job_keeps_its_callers_limit() {
        let (on_pool, limit, nested) = with_threads(2, || {
            as_one_job(MIN_PARALLEL, || {
                let owner = std::thread::current().id();
                let nested = map_tiles(MIN_PARALLEL, Vec::new(), |_, _| {
                    (std::thread::current().id() == owner, threads(MIN_PARALLEL))
                });
                (
                    rayon::current_thread_index().is_some(),
                    threads(MIN_PARALLEL),
                    nested,
                )
            })
        });
        assert_eq!((on_pool, limit), (true, 2));
        for (on_owner, t) in nested {
            assert_eq!(t, if on_owner { 2 } else { 1 }, "on the owner: {on_owner}");
        }
        let here = with_threads(1, || as_one_job(MIN_PARALLEL, rayon::current_thread_index));
        assert_eq!(here, None);
        let small = as_one_job(MIN_PARALLEL - 1, rayon::current_thread_index);
        assert_eq!(small, None);
        let result = std::panic::catch_unwind(|| {
            with_threads(2, || as_one_job(MIN_PARALLEL, || panic!("in the call")))
        });
        let payload = result.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"in the call"));
        let flags = rayon::broadcast(|_| RUNS_A_CALL.with(Cell::get));
        assert!(flags.iter().all(|&set| !set), "{flags:?}");
    }

    #[test]
    fn every_element_is_visited_once_with_its_offset() {
        for parts in [1, 2, 3, 7] {
            let mut v = vec![0usize; 1000];
            let bounds = even_bounds(v.len(), parts);
            assert_eq!((bounds[0], bounds[parts]), (0, 1000));
            let lens = map_parts(&mut v, &bounds, |offset, part| {
                for (k, x) in part.iter_mut().enumerate() {
                    *x += offset + k + 1;
                }
                part.len()
            });
            assert_eq!(lens.iter().sum::<usize>(), 1000);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i + 1));
        }
    }
}
