//! Stable most-significant-digit radix sort of the support by reward key, carrying each
//! outcome's index and mass along (so no random gather of masses is needed afterwards).
//!
//! # Cost
//!
//! A run is split into buckets by a digit that is non-decreasing in the key, each bucket is
//! sorted the same way, runs of equal keys stop at once and short buckets are finished by
//! insertion sort. The digit is the highest bits in which the run's keys differ (about
//! `log2(len) - 2` of them, at most 11), or, for runs of `2^16` keys or more, equal-width
//! intervals of the reward when that leaves a smaller largest bucket: the high bits of a
//! reward are its binade, so rewards spread over an interval fall mostly into a few bit
//! buckets, and in equal-width intervals into buckets small enough for the cache. Each level
//! costs `O(len)`; at 10^7 rewards uniform on `[-1, 1)` the first split streams through memory
//! (24 bytes moved per outcome) and the rest (one more split, insertion sorts) runs in cache,
//! where a least-significant-digit sort makes six full passes. Each level consumes at least one
//! key bit, so there are at most 64 levels. The first split itself runs on all cores: each
//! thread takes a stretch of the run, counts its digits, and writes its items of each bucket
//! after those of the stretches before it, so the split is the stable one whatever the number
//! of threads. After it the buckets are sorted on all cores (each thread takes a stretch of
//! whole buckets; the result is the same).

use super::key_value;
use crate::buffer::zeroed;
use crate::parallel;

/// Runs this short (or shorter) are finished by insertion sort.
const SHORT_RUN: usize = 32;
/// The widest digit: 2048 buckets, whose counters stay in L1.
const MAX_DIGIT_BITS: u32 = 11;

/// Outcomes in parallel columns: order key, index in the base, mass.
#[derive(Debug, Default)]
pub(super) struct Columns {
    /// Order keys (see `order_key`).
    pub keys: Vec<u64>,
    /// Outcome indices.
    pub index: Vec<usize>,
    /// Masses `pi0(x)`.
    pub mass: Vec<f64>,
}

impl Columns {
    /// Zeroed columns of length `len`, for scratch space.
    pub fn zeroed(len: usize) -> Self {
        Self {
            keys: zeroed(len),
            index: zeroed(len),
            mass: zeroed(len),
        }
    }

    fn run(&mut self) -> Run<'_> {
        Run {
            keys: &mut self.keys,
            index: &mut self.index,
            mass: &mut self.mass,
        }
    }
}

/// A contiguous stretch of [`Columns`].
struct Run<'a> {
    keys: &'a mut [u64],
    index: &'a mut [usize],
    mass: &'a mut [f64],
}

impl<'a> Run<'a> {
    fn split_at(self, mid: usize) -> (Run<'a>, Run<'a>) {
        let (k0, k1) = self.keys.split_at_mut(mid);
        let (i0, i1) = self.index.split_at_mut(mid);
        let (m0, m1) = self.mass.split_at_mut(mid);
        (
            Run {
                keys: k0,
                index: i0,
                mass: m0,
            },
            Run {
                keys: k1,
                index: i1,
                mass: m1,
            },
        )
    }

    /// The same stretch, borrowed again (so that `self` can be used afterwards).
    fn reborrow(&mut self) -> Run<'_> {
        Run {
            keys: self.keys,
            index: self.index,
            mass: self.mass,
        }
    }

    fn copy_from(&mut self, src: &Run<'_>) {
        self.keys.copy_from_slice(src.keys);
        self.index.copy_from_slice(src.index);
        self.mass.copy_from_slice(src.mass);
    }

    /// Inserts the item `(k, x, m)` into the sorted `self[..end]`, after the keys `<= k`
    /// (so stably), moving the greater ones up by one place (the last into `end`).
    #[inline(always)]
    fn insert(&mut self, end: usize, (k, x, m): (u64, usize, f64)) {
        let mut j = end;
        while j > 0 && self.keys[j - 1] > k {
            self.keys[j] = self.keys[j - 1];
            self.index[j] = self.index[j - 1];
            self.mass[j] = self.mass[j - 1];
            j -= 1;
        }
        self.keys[j] = k;
        self.index[j] = x;
        self.mass[j] = m;
    }

    /// Writes the items, sorted stably by key, to `dst` (as long as `self`): an insertion sort
    /// that reads each item once, for short runs (no `memcpy` calls).
    #[inline]
    fn insertion_sort_into(&self, dst: &mut Run<'_>) {
        let items = self
            .keys
            .iter()
            .zip(self.index.iter())
            .zip(self.mass.iter());
        for (i, ((&k, &x), &m)) in items.enumerate() {
            dst.insert(i, (k, x, m));
        }
    }

    /// Stable insertion sort by key.
    #[inline]
    fn insertion_sort(&mut self) {
        for i in 1..self.keys.len() {
            let item = (self.keys[i], self.index[i], self.mass[i]);
            self.insert(i, item);
        }
    }
}

/// Sorts `items` by key, stably (equal keys keep their relative order), using `scratch` (as
/// long as `items`; its contents are clobbered).
pub(super) fn sort(items: &mut Columns, scratch: &mut Columns) {
    let threads = parallel::threads(items.keys.len());
    sort_run(items.run(), scratch.run(), false, threads);
}

/// Digit width for a run of `len` items: about four items per bucket if the keys are spread.
fn digit_bits(len: usize) -> u32 {
    len.max(1)
        .ilog2()
        .saturating_sub(2)
        .clamp(2, MAX_DIGIT_BITS)
}

/// A bucket function for one split: non-decreasing in the key, so concatenating the buckets
/// in order and sorting each sorts the run.
#[derive(Clone, Copy)]
enum Digit {
    /// `bits` bits of the key ending at the highest bit in which the run's keys differ (the
    /// bits above it are the same for every key).
    Bits { shift: u32, mask: u64 },
    /// Equal-width intervals of the reward between the run's least and greatest value `lo`
    /// and `hi`: `floor((v/2 - lo/2) * scale)`, capped at `last`, with
    /// `scale = (last + 1) / (hi/2 - lo/2)`. Every step rounds monotonically, so the bucket
    /// is non-decreasing in `v`; halving keeps `hi/2 - lo/2` finite.
    Value { lo: f64, scale: f64, last: usize },
}

impl Digit {
    #[inline]
    fn of(self, k: u64) -> usize {
        match self {
            Digit::Bits { shift, mask } => ((k >> shift) & mask) as usize,
            Digit::Value { lo, scale, last } => {
                // `as usize` saturates (and maps NaN, impossible here, to 0).
                (((key_value(k) * 0.5 - lo * 0.5) * scale) as usize).min(last)
            }
        }
    }
}

/// Runs at least this long may be split by value (typically rewards are spread over an
/// interval much more evenly than over their bit patterns, whose high bits are the binade).
const VALUE_SPLIT_MIN: usize = 1 << 16;

/// The digit for splitting a run with these keys (least `min`, greatest `max`, differing in the
/// bits `varying`), and its histogram: by bits, or for long runs by value when that leaves the
/// largest bucket smaller.
/// Its histogram is taken per part of the run (cut at `bounds`, one thread per part), and so
/// comes back as one histogram per part.
fn choose_digit(
    keys: &[u64],
    bounds: &[usize],
    (min, max): (u64, u64),
    varying: u64,
) -> (Digit, Vec<Vec<usize>>) {
    let top = u64::BITS - varying.leading_zeros();
    let bits = digit_bits(keys.len());
    let by_bits = Digit::Bits {
        shift: top - bits.min(top),
        mask: (1u64 << bits.min(top)) - 1,
    };
    let histogram = |digit: Digit, buckets: usize| {
        per_part(keys, bounds, |part| {
            let mut counts = vec![0usize; buckets];
            for &k in part {
                counts[digit.of(k)] += 1;
            }
            counts
        })
    };
    let bit_counts = histogram(by_bits, 1 << bits.min(top));
    if keys.len() < VALUE_SPLIT_MIN {
        return (by_bits, bit_counts);
    }
    let (lo, hi) = (key_value(min), key_value(max));
    let last = (1usize << bits) - 1;
    let scale = (last + 1) as f64 / (hi * 0.5 - lo * 0.5);
    if !(scale.is_finite() && scale > 0.0) {
        return (by_bits, bit_counts);
    }
    let by_value = Digit::Value { lo, scale, last };
    let value_counts = histogram(by_value, last + 1);
    if largest_bucket(&value_counts) < largest_bucket(&bit_counts) {
        (by_value, value_counts)
    } else {
        (by_bits, bit_counts)
    }
}

/// The size of each bucket of a histogram given per part.
fn bucket_sizes(counts: &[Vec<usize>]) -> impl Iterator<Item = usize> + '_ {
    let buckets = counts.first().map_or(0, Vec::len);
    (0..buckets).map(|d| counts.iter().map(|c| c[d]).sum())
}

/// The size of the largest bucket of a histogram given per part.
fn largest_bucket(counts: &[Vec<usize>]) -> usize {
    bucket_sizes(counts).max().unwrap_or(0)
}

/// `f(part)` for each part of `keys` cut at `bounds`, each part on its own thread when there
/// are several; the results in part order.
fn per_part<R: Send>(keys: &[u64], bounds: &[usize], f: impl Fn(&[u64]) -> R + Sync) -> Vec<R> {
    let parts = bounds.windows(2).map(|w| &keys[w[0]..w[1]]).collect();
    parallel::map_each(parts, f)
}

/// `(all, any, min, max)` of the keys: the bits set in every key, in some key, and the least
/// and greatest key.
fn key_summary(keys: &[u64], bounds: &[usize]) -> (u64, u64, u64, u64) {
    let fold = |part: &[u64]| {
        part.iter()
            .fold((u64::MAX, 0, u64::MAX, 0), |(all, any, min, max), &k| {
                (all & k, any | k, min.min(k), max.max(k))
            })
    };
    per_part(keys, bounds, fold).into_iter().fold(
        (u64::MAX, 0, u64::MAX, 0),
        |(all, any, min, max), (a, o, lo, hi)| (all & a, any | o, min.min(lo), max.max(hi)),
    )
}

/// `dest` cut into the places of each part's items of each bucket: `out[t][d]` has
/// `counts[t][d]` places, laid out bucket by bucket and, within a bucket, part by part.
fn carve<'a, T>(dest: &'a mut [T], counts: &[Vec<usize>]) -> Vec<Vec<&'a mut [T]>> {
    let buckets = counts.first().map_or(0, Vec::len);
    let mut out: Vec<Vec<&mut [T]>> = counts.iter().map(|_| Vec::with_capacity(buckets)).collect();
    let mut rest = dest;
    for d in 0..buckets {
        for (places, c) in out.iter_mut().zip(counts) {
            let (here, tail) = std::mem::take(&mut rest).split_at_mut(c[d]);
            places.push(here);
            rest = tail;
        }
    }
    out
}

/// The places of one part's items, per bucket and column (see [`carve`]).
struct Places<'a> {
    keys: Vec<&'a mut [u64]>,
    index: Vec<&'a mut [usize]>,
    mass: Vec<&'a mut [f64]>,
}

/// Writes the items of `part` to their places, bucket by bucket in the order they come.
fn scatter_part(part: &Run<'_>, digit: Digit, mut places: Places<'_>) {
    let starts = vec![0usize; places.keys.len()];
    split_items(part, digit, starts, |d, pos, (k, x, m)| {
        places.keys[d][pos] = k;
        places.index[d][pos] = x;
        places.mass[d][pos] = m;
    });
}

/// `write(d, pos, item)` for each item of `run` in order, `d` its bucket by `digit` and `pos`
/// the next place of that bucket (counted up from `starts[d]`).
#[inline(always)]
fn split_items(
    run: &Run<'_>,
    digit: Digit,
    mut next: Vec<usize>,
    mut write: impl FnMut(usize, usize, (u64, usize, f64)),
) {
    let items = run.keys.iter().zip(run.index.iter()).zip(run.mass.iter());
    for ((&k, &x), &m) in items {
        let d = digit.of(k);
        let pos = next[d];
        next[d] += 1;
        write(d, pos, (k, x, m));
    }
}

/// The split of `data` into `scratch` by `digit` on one thread per part (the parts cut at
/// `bounds`, with the histograms `counts` per part): each part's items of a bucket go after
/// those of the parts before it, so the split is the stable one whatever the parts.
fn split_in_parts(
    data: Run<'_>,
    scratch: Run<'_>,
    digit: Digit,
    counts: &[Vec<usize>],
    bounds: &[usize],
) {
    let keys = carve(scratch.keys, counts);
    let index = carve(scratch.index, counts);
    let mass = carve(scratch.mass, counts);
    let mut rest = data;
    let mut parts = Vec::with_capacity(counts.len());
    for (((keys, index), mass), w) in keys.into_iter().zip(index).zip(mass).zip(bounds.windows(2)) {
        let (part, tail) = rest.split_at(w[1] - w[0]);
        rest = tail;
        parts.push((part, Places { keys, index, mass }));
    }
    parallel::map_each(parts, |(part, places)| scatter_part(&part, digit, places));
}

/// Sorts `data` stably by key, leaving the result in `scratch` if `into_scratch`, else in
/// `data`; the other one is clobbered. After the first split the parts are sorted on up to
/// `threads` threads (each takes a stretch of whole parts; the result is the same).
fn sort_run(mut data: Run<'_>, mut scratch: Run<'_>, into_scratch: bool, threads: usize) {
    let bounds = parallel::even_bounds(data.keys.len(), threads);
    let (all, any, min, max) = key_summary(data.keys, &bounds);
    let varying = all ^ any;
    if varying == 0 || data.keys.len() <= SHORT_RUN {
        if varying != 0 {
            data.insertion_sort();
        }
        if into_scratch {
            scratch.copy_from(&data);
        }
        return;
    }
    let (digit, counts) = choose_digit(data.keys, &bounds, (min, max), varying);
    // The end of each bucket.
    let next: Vec<usize> = bucket_sizes(&counts)
        .scan(0, |end, size| {
            *end += size;
            Some(*end)
        })
        .collect();
    if threads <= 1 {
        split_sequentially(&data, &mut scratch, digit, &counts[0]);
        finish_buckets(scratch, data, &next, into_scratch);
        return;
    }
    split_in_parts(data.reborrow(), scratch.reborrow(), digit, &counts, &bounds);
    let len = data.keys.len();
    let cuts: Vec<usize> = parallel::even_bounds(len, threads)
        .into_iter()
        .map(|b| match b {
            0 => 0,
            _ => next
                .get(next.partition_point(|&e| e < b))
                .map_or(len, |&e| e),
        })
        .collect();
    let (mut rest_sorted, mut rest_other) = (scratch, data);
    let mut stretches = Vec::with_capacity(threads);
    for w in cuts.windows(2) {
        let (sorted, tail) = rest_sorted.split_at(w[1] - w[0]);
        let (other, tail2) = rest_other.split_at(w[1] - w[0]);
        rest_sorted = tail;
        rest_other = tail2;
        let ends: Vec<usize> = next
            .iter()
            .filter(|&&e| e > w[0] && e <= w[1])
            .map(|&e| e - w[0])
            .collect();
        stretches.push((sorted, other, ends));
    }
    parallel::map_each(stretches, |(sorted, other, ends)| {
        finish_buckets(sorted, other, &ends, into_scratch)
    });
}

/// The split of `data` into `scratch` by `digit`, whose histogram is `counts`, on this thread
/// (for runs in cache, where carving per-bucket places would cost more than the split).
fn split_sequentially(data: &Run<'_>, scratch: &mut Run<'_>, digit: Digit, counts: &[usize]) {
    let mut starts = Vec::with_capacity(counts.len());
    let mut start = 0;
    for &c in counts {
        starts.push(start);
        start += c;
    }
    split_items(data, digit, starts, |_, pos, (k, x, m)| {
        scratch.keys[pos] = k;
        scratch.index[pos] = x;
        scratch.mass[pos] = m;
    });
}

/// Sorts the buckets of `sorted` (which end at `ends`, increasing) one after the other, each
/// into `sorted` if `into_scratch`, else into `other` (see [`sort_run`]). Short buckets are
/// finished here: most buckets are short once a run fits in cache, and a call per bucket
/// would cost more than sorting it.
fn finish_buckets(sorted: Run<'_>, other: Run<'_>, ends: &[usize], into_scratch: bool) {
    let (mut rest_sorted, mut rest_other) = (sorted, other);
    let mut begin = 0;
    for &end in ends {
        let (mut bucket, rest) = rest_sorted.split_at(end - begin);
        let (mut other, rest2) = rest_other.split_at(end - begin);
        if end - begin > SHORT_RUN {
            sort_run(bucket, other, !into_scratch, 1);
        } else if into_scratch {
            bucket.insertion_sort();
        } else {
            bucket.insertion_sort_into(&mut other);
        }
        rest_sorted = rest;
        rest_other = rest2;
        begin = end;
    }
}

#[cfg(test)]
mod tests {
    use super::super::order_key;
    use super::*;

    fn columns(keys: Vec<u64>) -> Columns {
        let n = keys.len();
        Columns {
            keys,
            index: (0..n).collect(),
            mass: (0..n).map(|i| i as f64).collect(),
        }
    }

    /// Against the standard library's stable sort, on keys that exercise every path: long runs
    /// of ties, keys differing only in low bits, only in the top bit, spread over all bits; on
    /// one thread and on three (runs from `2^16` keys are split in parts, one per thread).
    #[test]
    fn matches_a_stable_sort() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let uniform = |z: u64| (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        let shapes: [&dyn Fn(u64) -> u64; 7] = [
            &|z| order_key(uniform(z)),
            &|z| order_key(uniform(z).powi(9) * 1e200),
            &|z| z,
            &|z| z % 7,
            &|z| (z % 3) << 63,
            &|z| 0x8000_0000_0000_0000 | (z >> 40),
            &|z| z >> (z % 64),
        ];
        for len in [0, 1, 2, 31, 33, 100, 5000, 70_000] {
            for shape in shapes {
                let keys: Vec<u64> = (0..len).map(|_| shape(next())).collect();
                let mut sorted = columns(keys.clone());
                let mut on_one = columns(keys.clone());
                parallel::with_threads(3, || sort(&mut sorted, &mut Columns::zeroed(len)));
                parallel::with_threads(1, || sort(&mut on_one, &mut Columns::zeroed(len)));
                assert_eq!((&sorted.keys, &sorted.index), (&on_one.keys, &on_one.index));
                let mut expected: Vec<(u64, usize)> = keys.iter().copied().zip(0..).collect();
                expected.sort_by_key(|&(k, _)| k);
                let got: Vec<(u64, usize)> = sorted
                    .keys
                    .iter()
                    .copied()
                    .zip(sorted.index.iter().copied())
                    .collect();
                assert_eq!(got, expected);
                for (x, m) in sorted.index.iter().zip(&sorted.mass) {
                    assert_eq!(*x as f64, *m);
                }
            }
        }
    }
}
