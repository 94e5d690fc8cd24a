//! Reward classes: the outcomes of the base's support grouped by equal reward, sorted by reward,
//! with their masses and cumulative masses. Best-of-N and the quantilizer act on classes and
//! split mass within a class proportionally to the base (so they cannot separate outcomes the
//! reward rates equally: claim `kl.odds`).
//!
//! # Cost
//!
//! One stable radix sort of the support by reward (`O(n)`, see the `radix` submodule: the first
//! split streams through memory, the rest runs in cache, on all cores for large supports), a
//! backward pass summing the masses above each class, then one forward pass. The members of
//! each class are stored contiguously, so solvers that walk the classes read memory in order.
//! Solvers that visit each class once (best-of-N) walk the sorted support directly
//! (`SortedSupport`) and never store a [`RewardClass`] per class, which at 10^7 distinct
//! rewards would be 320 MB.

use crate::buffer::{filled, with_capacity};
use crate::dist::{check_reward, Dist};
use crate::error::Result;
use crate::numeric::CompensatedSum;
use crate::parallel;

mod radix;

/// One reward class `C = {x in supp pi0 : r(x) = r_C}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RewardClass {
    /// The common reward `r_C`.
    pub reward: f64,
    /// `pi0(C)`.
    pub mass: f64,
    /// `F(C-) = pi0(r < r_C)`, summed from below.
    pub below: f64,
    /// `pi0(r > r_C)`, summed from above (accurate when tiny).
    pub above: f64,
}

impl RewardClass {
    /// `F(C) = pi0(r <= r_C) = below + mass`.
    pub fn cdf(&self) -> f64 {
        self.below + self.mass
    }

    /// `log pi0(C)`. A class holding more than half the mass is taken as the complement of the
    /// rest, `log1p(-(pi0(r < r_C) + pi0(r > r_C)))`: the other masses are summed exactly
    /// enough that this keeps relative accuracy in quantities like `log(P(C)/pi0(C))` when both
    /// are close to 1 (the convention of [`Dist::neg_log_mass_where`] and of the tilt solvers,
    /// so that solvers agree on near-degenerate bases).
    pub fn log_mass(&self) -> f64 {
        if self.mass > 0.5 {
            (-(self.below + self.above)).ln_1p()
        } else {
            self.mass.ln()
        }
    }
}

/// The classes of `supp pi0` in increasing reward, and the outcomes of each class.
#[derive(Debug, Clone, PartialEq)]
pub struct RewardClasses {
    /// Classes sorted by increasing reward.
    pub classes: Vec<RewardClass>,
    /// The support sorted by increasing reward (ties by increasing index): class `k` is
    /// `order[offsets[k]..offsets[k + 1]]`.
    pub order: Vec<usize>,
    /// Start of each class in `order`, plus a final `order.len()`.
    pub offsets: Vec<usize>,
}

/// Maps an `f64` to a `u64` whose unsigned order is the numeric order (for finite values;
/// `-0.0` and `0.0` must be merged by the caller, which adds `0.0` first).
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// The support of `base` sorted by reward, as parallel columns: the classes are its runs of
/// equal keys. For solvers that visit each class once ([`SortedSupport::for_each_class`]) and
/// so need not store a [`RewardClass`] per class.
pub(crate) struct SortedSupport {
    /// Keys, outcome indices and masses in increasing reward (ties by increasing index).
    sorted: radix::Columns,
    /// `pi0(r > r_C)` at the first position of each class `C` (other entries unspecified);
    /// empty for a support sorted by [`SortedSupport::without_above`].
    above: Vec<f64>,
    /// The sort's scratch space, already paged in, for [`SortedSupport::spare`].
    spare: Vec<u64>,
    /// The sort's scratch masses, for `above`.
    spare_masses: Vec<f64>,
}

/// Sorted positions per chunk of [`SortedSupport::map_classes`] (moved forward to the next
/// class start).
const CHUNK: usize = 1 << 14;

impl SortedSupport {
    /// Sorts the support of `base` by reward (`-0.0` taken as `0.0`), with the masses above
    /// each class.
    pub(crate) fn new(base: &Dist, reward: &[f64]) -> Result<Self> {
        let mut support = Self::without_above(base, reward)?;
        support.above = support.take_spare_masses();
        support.sum_from_above();
        Ok(support)
    }

    /// [`SortedSupport::new`] without the backward pass for the masses above each class (one
    /// sequential pass over the support), for walks that read only `below` and `mass`: their
    /// classes carry `above = NaN`.
    pub(crate) fn without_above(base: &Dist, reward: &[f64]) -> Result<Self> {
        check_reward(base, reward)?;
        let p = base.probs();
        let mut sorted = radix::Columns {
            keys: with_capacity(p.len()),
            index: with_capacity(p.len()),
            mass: with_capacity(p.len()),
        };
        for (i, (&m, &r)) in p.iter().zip(reward).enumerate() {
            if m > 0.0 {
                sorted.keys.push(order_key(r + 0.0));
                sorted.index.push(i);
                sorted.mass.push(m);
            }
        }
        let len = sorted.keys.len();
        let mut scratch = radix::Columns::zeroed(len);
        radix::sort(&mut sorted, &mut scratch);
        Ok(Self {
            sorted,
            above: Vec::new(),
            spare: scratch.keys,
            spare_masses: scratch.mass,
        })
    }

    /// The sort's scratch column of masses (paged in, as long as the support, its contents
    /// unspecified); empty after [`SortedSupport::new`], which keeps `above` there. Once.
    pub(crate) fn take_spare_masses(&mut self) -> Vec<f64> {
        std::mem::take(&mut self.spare_masses)
    }

    /// The sorted masses column, paged in, for reuse once the walks are done.
    pub(crate) fn into_masses(self) -> Vec<f64> {
        self.sorted.mass
    }

    /// `vec![value; len]`, reusing the sort's scratch space (paged in already, so no fresh
    /// pages to zero) when it is large enough; once.
    pub(crate) fn spare(&mut self, len: usize, value: f64) -> Vec<f64> {
        let spare = std::mem::take(&mut self.spare);
        if spare.capacity() < len {
            return filled(len, value);
        }
        // Same size and alignment: collected in place (std reuses the allocation).
        let mut v: Vec<f64> = spare.into_iter().map(|_| value).collect();
        v.resize(len, value);
        v
    }

    /// The size of the support.
    pub(crate) fn len(&self) -> usize {
        self.sorted.keys.len()
    }

    /// The number of classes.
    pub(crate) fn class_count(&self) -> usize {
        let keys = &self.sorted.keys;
        usize::from(!keys.is_empty()) + keys.windows(2).filter(|w| w[0] != w[1]).count()
    }

    /// The class starting at sorted position `start`, its length, and its mass (summed in
    /// index order).
    fn class_at(&self, start: usize) -> (u64, usize, f64) {
        let keys = &self.sorted.keys;
        let key = keys[start];
        let len = keys[start..].iter().take_while(|&&k| k == key).count();
        let mass: CompensatedSum = self.sorted.mass[start..start + len]
            .iter()
            .copied()
            .collect();
        (key, len, mass.value())
    }

    /// The class starting at sorted position `start`, given `pi0(r < r_C)` summed so far in
    /// `below` (to which its mass is added), and its length.
    fn class(&self, start: usize, below: &mut CompensatedSum) -> (RewardClass, usize) {
        let (key, len, mass) = self.class_at(start);
        let class = RewardClass {
            reward: key_value(key),
            mass,
            below: below.value(),
            above: self.above.get(start).copied().unwrap_or(f64::NAN),
        };
        below.add(mass);
        (class, len)
    }

    /// `pi0(r < r_C)` for the class `C` starting at sorted position `end`, as a running sum
    /// over the classes below it in increasing reward (the same sum, term for term, as the one
    /// carried through [`SortedSupport::for_each_class`]).
    fn sum_below(&self, end: usize) -> CompensatedSum {
        let mut below = CompensatedSum::new();
        let mut start = 0;
        while start < end {
            let (_, len, mass) = self.class_at(start);
            below.add(mass);
            start += len;
        }
        below
    }

    /// Fills `above` from the highest class down.
    fn sum_from_above(&mut self) {
        let mut above = CompensatedSum::new();
        let mut end = self.len();
        while end > 0 {
            let key = self.sorted.keys[end - 1];
            let len = self.sorted.keys[..end]
                .iter()
                .rev()
                .take_while(|&&k| k == key)
                .count();
            let start = end - len;
            let (_, _, mass) = self.class_at(start);
            self.above[start] = above.value();
            above.add(mass);
            end = start;
        }
    }

    /// Calls `visit(class, start, members)` for each class in increasing reward, where
    /// `members` are the outcomes of the class (increasing) and `start` their position in the
    /// sorted support.
    pub(crate) fn for_each_class(&self, mut visit: impl FnMut(RewardClass, usize, &[usize])) {
        let mut below = CompensatedSum::new();
        let mut start = 0;
        while start < self.len() {
            let (class, len) = self.class(start, &mut below);
            visit(class, start, &self.sorted.index[start..start + len]);
            start += len;
        }
    }

    /// The first class start at or after sorted position `pos` (or the support size).
    fn class_start_from(&self, pos: usize) -> usize {
        let keys = &self.sorted.keys;
        match pos.checked_sub(1).and_then(|p| keys.get(p)) {
            Some(&key) => pos + keys[pos..].iter().take_while(|&&k| k == key).count(),
            None => pos.min(keys.len()),
        }
    }

    /// Calls `visit(class, members, out, acc)` for each class, on several threads for large
    /// supports: `out` is the stretch of `values` (one entry per sorted position, so
    /// `values.len()` must be the support size) at the class's members, `acc` the accumulator
    /// of the chunk holding the class. The sorted positions are cut into chunks of about
    /// [`CHUNK`] at class starts, each chunk's classes are visited in increasing reward with a
    /// fresh `init()`, and the accumulators come back in increasing reward: the result does not
    /// depend on the number of threads. (On a support from [`SortedSupport::without_above`]
    /// the classes carry `above = NaN`.)
    pub(crate) fn map_classes<A: Send>(
        &self,
        values: &mut [f64],
        init: impl Fn() -> A + Sync,
        visit: impl Fn(&RewardClass, &[usize], &mut [f64], &mut A) + Sync,
    ) -> Vec<A> {
        let n = self.len();
        let mut chunks: Vec<usize> = (0..n.div_ceil(CHUNK))
            .map(|k| self.class_start_from(k * CHUNK))
            .collect();
        chunks.push(n);
        chunks.dedup();
        let threads = parallel::threads(n);
        // Each thread takes whole chunks.
        let groups: Vec<usize> = parallel::even_bounds(n, threads)
            .into_iter()
            .map(|b| chunks[chunks.partition_point(|&c| c < b)])
            .collect();
        let per_group = parallel::map_parts(values, &groups, |lo, part| {
            let hi = lo + part.len();
            // Each thread first sums the masses below its stretch (the thread taking the
            // lowest classes has nothing to sum).
            let mut below = self.sum_below(lo);
            let mut accs = Vec::new();
            for w in chunks.windows(2).filter(|w| w[0] >= lo && w[1] <= hi) {
                let mut acc = init();
                let mut start = w[0];
                while start < w[1] {
                    let (class, len) = self.class(start, &mut below);
                    let members = &self.sorted.index[start..start + len];
                    visit(
                        &class,
                        members,
                        &mut part[start - lo..start - lo + len],
                        &mut acc,
                    );
                    start += len;
                }
                accs.push(acc);
            }
            accs
        });
        per_group.into_iter().flatten().collect()
    }

    /// `dest[x] = values[pos]` for the outcome `x` at each sorted position `pos` (on several
    /// threads for large supports, each writing its own stretch of `dest`).
    pub(crate) fn scatter(&self, values: &[f64], dest: &mut [f64]) {
        let bounds = parallel::even_bounds(dest.len(), parallel::threads(values.len()));
        parallel::map_parts(dest, &bounds, |lo, part| {
            for (&x, &v) in self.sorted.index.iter().zip(values) {
                if let Some(slot) = part.get_mut(x.wrapping_sub(lo)) {
                    *slot = v;
                }
            }
        });
    }
}

/// The inverse of [`order_key`]: the `f64` whose key is `k`.
fn key_value(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

impl RewardClasses {
    /// Groups the support of `base` by reward (`-0.0` and `0.0` are one class).
    pub fn new(base: &Dist, reward: &[f64]) -> Result<Self> {
        let support = SortedSupport::new(base, reward)?;
        let count = support.class_count();
        let mut classes: Vec<RewardClass> = with_capacity(count);
        let mut offsets: Vec<usize> = with_capacity(count + 1);
        support.for_each_class(|class, start, _| {
            classes.push(class);
            offsets.push(start);
        });
        offsets.push(support.sorted.index.len());
        Ok(Self {
            classes,
            order: support.sorted.index,
            offsets,
        })
    }

    /// The outcomes of class `k` (empty if `k` is out of range).
    pub fn members(&self, k: usize) -> &[usize] {
        match (self.offsets.get(k), self.offsets.get(k + 1)) {
            (Some(&a), Some(&b)) => &self.order[a..b],
            _ => &[],
        }
    }

    /// For each of `n` outcomes its class index, `None` off the support (or beyond `n`).
    pub fn class_of(&self, n: usize) -> Vec<Option<usize>> {
        let mut out = vec![None; n];
        for k in 0..self.classes.len() {
            for &i in self.members(k) {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(k);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_signed_values_and_ties_stay_in_index_order() -> Result<()> {
        let xs = [3.5, -0.0, -2.0, 0.0, 1e-300, -1e300, 3.5, -2.0];
        let base = Dist::new(vec![0.125; 8])?;
        let sorted = SortedSupport::new(&base, &xs)?.sorted;
        assert_eq!(sorted.index, vec![5, 2, 7, 1, 3, 4, 0, 6]);
        for (k, i) in sorted.keys.iter().zip(&sorted.index) {
            assert_eq!(key_value(*k).to_bits(), (xs[*i] + 0.0).to_bits());
        }
        Ok(())
    }

    /// Large enough for several threads and chunks (where the machine has several cores): the
    /// threaded walk visits the same classes, with the same sums, as the sequential one, and
    /// `scatter` puts each sorted position's value at its outcome.
    #[test]
    fn threaded_class_walk_matches_the_sequential_one() -> Result<()> {
        let n = 200_000;
        let base = Dist::from_weights((0..n).map(|i| ((i * 7919) % 1013 + 1) as f64).collect())?;
        // 104729 is prime, so i -> i * 104729 mod n is a bijection when `levels = n`.
        for levels in [1000, n] {
            let reward: Vec<f64> = (0..n)
                .map(|i| ((i * 104_729) % levels) as f64 - 3.0)
                .collect();
            let support = SortedSupport::new(&base, &reward)?;
            let mut sequential = Vec::new();
            support.for_each_class(|c, _, members| sequential.push((c, members.to_vec())));
            let mut values = vec![0.0; support.len()];
            let threaded: Vec<(RewardClass, Vec<usize>)> = support
                .map_classes(&mut values, Vec::new, |c, members, out, acc| {
                    for (o, &x) in out.iter_mut().zip(members) {
                        *o = x as f64;
                    }
                    acc.push((c.clone(), members.to_vec()));
                })
                .into_iter()
                .flatten()
                .collect();
            assert_eq!(threaded, sequential);
            // Without the backward pass the walk is the same but for `above`.
            let bare = SortedSupport::without_above(&base, &reward)?;
            let mut bare_walk = Vec::new();
            bare.for_each_class(|c, _, members| bare_walk.push((c, members.to_vec())));
            assert_eq!(bare_walk.len(), sequential.len());
            for ((b, bm), (s, sm)) in bare_walk.iter().zip(&sequential) {
                assert!(b.above.is_nan() && bm == sm);
                assert_eq!((b.reward, b.mass, b.below), (s.reward, s.mass, s.below));
            }
            let mut dest = vec![-1.0; n];
            support.scatter(&values, &mut dest);
            assert!(dest.iter().enumerate().all(|(i, &v)| v == i as f64));
        }
        Ok(())
    }

    #[test]
    fn classes_group_ties_and_skip_zero_mass() -> Result<()> {
        let base = Dist::new(vec![0.25, 0.0, 0.25, 0.5])?;
        let c = RewardClasses::new(&base, &[1.0, 5.0, 1.0, -1.0])?;
        assert_eq!(c.classes.len(), 2);
        assert_eq!(c.members(0), &[3]);
        assert_eq!(c.members(1), &[0, 2]);
        assert_eq!(c.classes[1].mass, 0.5);
        assert_eq!(c.classes[1].below, 0.5);
        assert_eq!(c.classes[0].above, 0.5);
        Ok(())
    }
}
