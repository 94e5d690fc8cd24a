//! Reward classes: the outcomes of the base's support grouped by equal reward, sorted by reward,
//! with their masses and cumulative masses. Best-of-N and the quantilizer act on classes and
//! split mass within a class proportionally to the base (so they cannot separate outcomes the
//! reward rates equally: claim `kl.odds`).

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
}

/// The classes of `supp pi0` in increasing reward, and for each outcome its class index
/// (`None` off the support).
#[derive(Debug, Clone, PartialEq)]
pub struct RewardClasses {
    /// Classes sorted by increasing reward.
    pub classes: Vec<RewardClass>,
    /// `class_of[x]`: index into `classes`, `None` where `pi0(x) = 0`.
    pub class_of: Vec<Option<usize>>,
}

/// Maps an `f64` to a `u64` whose unsigned order is the numeric order (for finite values).
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

impl RewardClasses {
    /// Groups the support of `base` by reward. Cost: one sort of the support, `O(n log n)`.
    pub fn new(base: &Dist, reward: &[f64]) -> Result<Self> {
        check_reward(base, reward)?;
        let mut order: Vec<(u64, usize)> = base
            .support()
            .map(|i| (order_key(reward[i] + 0.0), i))
            .collect();
        order.sort_unstable();
        let mut classes: Vec<RewardClass> = Vec::new();
        let mut class_of = vec![None; base.len()];
        let mut masses: Vec<CompensatedSum> = Vec::new();
        let mut last_key = None;
        for &(key, i) in &order {
            if last_key != Some(key) {
                classes.push(RewardClass {
                    reward: reward[i] + 0.0,
                    mass: 0.0,
                    below: 0.0,
                    above: 0.0,
                });
                masses.push(CompensatedSum::new());
                last_key = Some(key);
            }
            let k = classes.len() - 1;
            masses[k].add(base.prob(i));
            class_of[i] = Some(k);
        }
        for (c, m) in classes.iter_mut().zip(&masses) {
            c.mass = m.value();
        }
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
        Ok(Self { classes, class_of })
    }
}
