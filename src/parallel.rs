//! Data parallelism over disjoint parts of a slice, with `std::thread::scope`.
//!
//! Results never depend on the number of threads: callers split work into parts whose
//! boundaries are fixed by the data alone, or do elementwise work, and combine partial results
//! in a fixed order.

/// Jobs over fewer items than this run on the calling thread (spawning costs some 20 us).
const PARALLEL_MIN: usize = 1 << 16;

/// The number of threads for a job over `len` items: 1 for short jobs, else the available
/// parallelism (at most 8).
pub(crate) fn threads(len: usize) -> usize {
    if len < PARALLEL_MIN {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
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
    std::thread::scope(|scope| {
        let mut rest = data;
        let mut handles = Vec::with_capacity(bounds.len() - 1);
        for w in bounds.windows(2) {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
            rest = tail;
            let (f, start) = (&f, w[0]);
            handles.push(scope.spawn(move || f(start, part)));
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
