//! Deterministic data parallelism over fixed tiles of outcomes.
//!
//! A pass over `n` outcomes is cut into tiles of [`TILE`] consecutive outcomes (the last may be
//! shorter). Each thread takes a run of consecutive tiles, each tile is processed whole, and the
//! per-tile results come back in tile order. The tiling does not depend on the
//! number of threads, so a reduction that combines the results in that order gives the same bits
//! on one core or many. Small inputs run on the calling thread; if a thread cannot be started,
//! the calling thread does its share.

use std::ops::Range;
use std::sync::{Mutex, OnceLock, PoisonError};

/// Outcomes per tile: a multiple of [`crate::numeric::BlockSum::BLOCK`], and large enough
/// that taking a tile costs nothing next to processing it.
pub(crate) const TILE: usize = 1 << 15;

/// Below this many outcomes a pass runs on the calling thread (starting a thread costs about as
/// much as a pass over `10^4` outcomes).
const MIN_PARALLEL: usize = 4 * TILE;

/// The tiles of `0..n`.
pub(crate) fn tiles(n: usize) -> impl Iterator<Item = Range<usize>> {
    (0..n).step_by(TILE).map(move |at| at..(at + TILE).min(n))
}

/// Consecutive tiles for one thread, each with its part of every output array; taken once.
type Group<'a> = Mutex<Option<Vec<(Range<usize>, Vec<&'a mut [f64]>)>>>;

/// `work(tile, outputs)` for every tile of `0..n`, in parallel, results in tile order. Each
/// array of `outputs` must have length `n`; `work` receives the tile's range of outcomes and
/// the matching part of each output (indexed from 0 within the tile).
pub(crate) fn map_tiles<T, F>(n: usize, outputs: Vec<&mut [f64]>, work: F) -> Vec<T>
where
    T: Send,
    F: Fn(Range<usize>, &mut [&mut [f64]]) -> T + Sync,
{
    map_tiles_on(threads(), n, outputs, work)
}

/// The number of threads to use, read once: `available_parallelism` reads the cgroup limits
/// from the file system, which costs more than a pass over `10^4` outcomes.
fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |t| t.get()))
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
    if n < MIN_PARALLEL || threads < 2 {
        return tiles(n)
            .zip(parts)
            .map(|(range, mut outs)| work(range, &mut outs))
            .collect();
    }
    let tiles_per_thread = parts.len().div_ceil(threads);
    let mut groups: Vec<Group> = Vec::new();
    let mut tiles_and_parts = tiles(n).zip(parts);
    loop {
        let group: Vec<_> = tiles_and_parts.by_ref().take(tiles_per_thread).collect();
        if group.is_empty() {
            break;
        }
        groups.push(Mutex::new(Some(group)));
    }
    let run = |k: usize| -> Option<Vec<T>> {
        let group = groups[k]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some(
            group
                .into_iter()
                .map(|(range, mut outs)| work(range, &mut outs))
                .collect(),
        )
    };
    let run = &run;
    let mut results: Vec<Option<Vec<T>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..groups.len())
            .map(|k| std::thread::Builder::new().spawn_scoped(s, move || run(k)))
            .collect();
        let mut results = vec![run(0)];
        for h in handles {
            // A thread that could not be started leaves its group for the loop below; a
            // panic in a thread is passed on unchanged.
            results.push(match h {
                Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                Err(_) => None,
            });
        }
        results
    });
    for (k, r) in results.iter_mut().enumerate() {
        if r.is_none() {
            *r = run(k);
        }
    }
    results.into_iter().flatten().flatten().collect()
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
}
