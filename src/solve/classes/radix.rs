//! Stable most-significant-digit radix sort of the support by reward key, carrying each
//! outcome's index and mass along (so no random gather of masses is needed afterwards).
//!
//! # Cost
//!
//! A run is split on the highest bits in which its keys differ (up to 11 of them), and each
//! part is sorted the same way; runs of equal keys stop at once, short runs are finished by
//! insertion sort. The digit width shrinks with the run (about `log2(len) - 2` bits), so each
//! level costs `O(len)` and most parts end after two or three levels: at 10^7 distinct rewards
//! the first one or two levels stream through memory and the rest runs in cache, instead of the
//! six full passes of a least-significant-digit sort. At most `64 / 2` levels in all.

use crate::buffer::zeroed;

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

    fn copy_from(&mut self, src: &Run<'_>) {
        self.keys.copy_from_slice(src.keys);
        self.index.copy_from_slice(src.index);
        self.mass.copy_from_slice(src.mass);
    }

    /// Stable insertion sort by key.
    fn insertion_sort(&mut self) {
        for i in 1..self.keys.len() {
            let (k, x, m) = (self.keys[i], self.index[i], self.mass[i]);
            let mut j = i;
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
    }
}

/// Sorts `items` by key, stably (equal keys keep their relative order), using `scratch` (as
/// long as `items`; its contents are clobbered).
pub(super) fn sort(items: &mut Columns, scratch: &mut Columns) {
    sort_run(items.run(), scratch.run(), false);
}

/// Digit width for a run of `len` items: about four items per bucket if the keys are spread.
fn digit_bits(len: usize) -> u32 {
    len.max(1)
        .ilog2()
        .saturating_sub(2)
        .clamp(2, MAX_DIGIT_BITS)
}

/// Sorts `data` stably by key, leaving the result in `scratch` if `into_scratch`, else in
/// `data`; the other one is clobbered.
fn sort_run(mut data: Run<'_>, mut scratch: Run<'_>, into_scratch: bool) {
    let (all, any) = data
        .keys
        .iter()
        .fold((u64::MAX, 0), |(all, any), &k| (all & k, any | k));
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
    // The digit ends at the highest bit in which the keys differ: bits above it are common.
    let top = u64::BITS - varying.leading_zeros();
    let bits = digit_bits(data.keys.len()).min(top);
    let shift = top - bits;
    let mask = (1u64 << bits) - 1;
    let digit = |k: u64| ((k >> shift) & mask) as usize;
    let mut next = vec![0usize; 1 << bits];
    for &k in data.keys.iter() {
        next[digit(k)] += 1;
    }
    let mut start = 0;
    for slot in next.iter_mut() {
        let count = *slot;
        *slot = start;
        start += count;
    }
    for ((&k, &x), &m) in data
        .keys
        .iter()
        .zip(data.index.iter())
        .zip(data.mass.iter())
    {
        let d = digit(k);
        let pos = next[d];
        next[d] += 1;
        scratch.keys[pos] = k;
        scratch.index[pos] = x;
        scratch.mass[pos] = m;
    }
    // `next[d]` is now the end of bucket `d`.
    let (mut rest_sorted, mut rest_other) = (scratch, data);
    let mut begin = 0;
    for end in next {
        let (bucket, rest) = rest_sorted.split_at(end - begin);
        let (other, rest2) = rest_other.split_at(end - begin);
        if end > begin {
            sort_run(bucket, other, !into_scratch);
        }
        rest_sorted = rest;
        rest_other = rest2;
        begin = end;
    }
}

#[cfg(test)]
mod tests {
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
    /// of ties, keys differing only in low bits, only in the top bit, spread over all bits.
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
        let shapes: [&dyn Fn(u64) -> u64; 5] = [
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
                sort(&mut sorted, &mut Columns::zeroed(len));
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
