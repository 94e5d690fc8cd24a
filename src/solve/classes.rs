//! Reward classes: the outcomes of the base's support grouped by equal reward, sorted by reward,
//! with their masses and cumulative masses. Best-of-N and the quantilizer act on classes and
//! split mass within a class proportionally to the base (so they cannot separate outcomes the
//! reward rates equally: claim `kl.odds`).
//!
//! # Cost
//!
//! One stable LSD radix sort of the support by the bit pattern of the reward (`O(n)`, six
//! 11-bit passes at most, passes on a digit that is the same for every key are skipped), then
//! one sequential pass. The members of each class are stored contiguously, so solvers that walk
//! the classes read memory in order.

use crate::dist::{check_reward, Dist};
use crate::error::Result;
use crate::numeric::CompensatedSum;

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

/// The inverse of [`order_key`]: the `f64` whose key is `k`.
fn key_value(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Bits per radix digit: 11, so six passes cover 64-bit keys and the 2048 counters stay in L1.
const RADIX_BITS: u32 = 11;
const RADIX_PASSES: u32 = 64_u32.div_ceil(RADIX_BITS);

/// Stable LSD radix sort of `(key, index)` pairs by key, 11 bits per pass. The histograms of all
/// passes are taken in one read of the input; a pass whose digit is the same for every key is
/// skipped (it would not move anything).
fn radix_sort(items: &mut Vec<(u64, usize)>) {
    const BUCKETS: usize = 1 << RADIX_BITS;
    let mask = (BUCKETS - 1) as u64;
    let mut counts = vec![[0usize; BUCKETS]; RADIX_PASSES as usize];
    for &(k, _) in items.iter() {
        for (pass, c) in counts.iter_mut().enumerate() {
            c[((k >> (RADIX_BITS * pass as u32)) & mask) as usize] += 1;
        }
    }
    let mut scratch = vec![(0u64, 0usize); items.len()];
    for (pass, c) in counts.iter_mut().enumerate() {
        if c.contains(&items.len()) {
            continue;
        }
        let shift = RADIX_BITS * pass as u32;
        let mut start = 0;
        for slot in c.iter_mut() {
            let n = *slot;
            *slot = start;
            start += n;
        }
        for &item in items.iter() {
            let digit = ((item.0 >> shift) & mask) as usize;
            scratch[c[digit]] = item;
            c[digit] += 1;
        }
        std::mem::swap(items, &mut scratch);
    }
}

impl RewardClasses {
    /// Groups the support of `base` by reward (`-0.0` and `0.0` are one class).
    pub fn new(base: &Dist, reward: &[f64]) -> Result<Self> {
        check_reward(base, reward)?;
        let mut keyed: Vec<(u64, usize)> = base
            .support()
            .map(|i| (order_key(reward[i] + 0.0), i))
            .collect();
        radix_sort(&mut keyed);
        // The masses in sorted order, gathered by a loop of independent loads (so the random
        // reads overlap) rather than one at a time inside the class loop below; the class
        // reward is read back from its key, not from `reward` (another random read).
        let p = base.probs();
        let sorted_mass: Vec<f64> = keyed.iter().map(|&(_, i)| p[i]).collect();
        let mut classes: Vec<RewardClass> = Vec::new();
        let mut offsets = Vec::new();
        let mut mass = CompensatedSum::new();
        let mut last_key = None;
        for (pos, (&(key, _), &m)) in keyed.iter().zip(&sorted_mass).enumerate() {
            if last_key != Some(key) {
                if let Some(c) = classes.last_mut() {
                    c.mass = mass.value();
                }
                mass = CompensatedSum::new();
                classes.push(RewardClass {
                    reward: key_value(key),
                    mass: 0.0,
                    below: 0.0,
                    above: 0.0,
                });
                offsets.push(pos);
                last_key = Some(key);
            }
            mass.add(m);
        }
        if let Some(c) = classes.last_mut() {
            c.mass = mass.value();
        }
        offsets.push(keyed.len());
        let mut below = CompensatedSum::new();
        for c in classes.iter_mut() {
            c.below = below.value();
            below.add(c.mass);
        }
        let mut above = CompensatedSum::new();
        for c in classes.iter_mut().rev() {
            c.above = above.value();
            above.add(c.mass);
        }
        let order = keyed.into_iter().map(|(_, i)| i).collect();
        Ok(Self {
            classes,
            order,
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
    fn radix_sort_orders_signed_values_and_keeps_ties_stable() {
        let xs = [3.5, -0.0, -2.0, 0.0, 1e-300, -1e300, 3.5, -2.0];
        let mut keyed: Vec<(u64, usize)> = xs
            .iter()
            .enumerate()
            .map(|(i, x)| (order_key(x + 0.0), i))
            .collect();
        radix_sort(&mut keyed);
        let order: Vec<usize> = keyed.iter().map(|p| p.1).collect();
        assert_eq!(order, vec![5, 2, 7, 1, 3, 4, 0, 6]);
        for (k, i) in keyed {
            assert_eq!(key_value(k).to_bits(), (xs[i] + 0.0).to_bits());
        }
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
