//! `P_G` at a finite group size by a pruned walk over the compositions of the other outputs,
//! with a bound on the error of the pruning.
//!
//! # The sum
//!
//! With `K` reward classes of values `v_k` and masses `x_k`, the other `G - 1` outputs of a group
//! fall into the classes with counts `n` of multinomial law `M(G - 1; x)`, and
//!
//! ```text
//! P_G(c) = sum_n M(G - 1; x)(n) A(c; n),   A(c; n) = (v_c - mean) / std
//! ```
//!
//! over the group `n + e_c` (population std, `A = 0` when the group lies in one class). The
//! multinomial law is walked as a chain of conditional binomials, `n_k ~ Bin(left_k, x_k /
//! (x_k + .. + x_{K-1}))` with `left_k` the draws not yet placed, so the weight of a node is the
//! exact probability of its whole subtree. The derivative of the multilinear extension in a
//! class mass is again such a sum: `dP_G(c)/dx_l = (G - 1) E[A(c; m + e_l)]`, `m ~ M(G - 2; x)`
//! (one of the other draws pinned to class `l`), which needs no division by `x_l`.
//!
//! # Pruning and its bound
//!
//! Each conditional binomial is computed by the ratio recurrence outward from its mode (no
//! factorials, so nothing overflows at any `G`), and stops once a term falls below `cut` times
//! the mode's term; the terms left out sum to at most `t/(1 - r)` with `t` the first omitted
//! term and `r < 1` its ratio to the next (the ratios of a binomial decrease, so the tail is
//! dominated by a geometric series). A subtree whose weight is below `cut` is dropped whole. The
//! walk accounts for every omission: the subtree weights dropped, and twice each binomial's tail
//! fraction (once for the missing mass, once for renormalizing the kept terms by their own sum),
//! weighted by its node. Since `|A| <= sqrt(G - 1)` for every group of `G` (Samuelson's
//! inequality for the population std), the computed sum differs from the exact one by at most
//!
//! ```text
//! truncation_bound = sqrt(G - 1) * omitted
//! ```
//!
//! plus rounding. Rounding: each binomial term `d` steps from its mode carries a relative error
//! of at most about `3 d eps`; the terms that carry weight lie within `9 sigma <= 4.5 sqrt(G)` of
//! their mode and `|A| <= sqrt(G - 1)`, and the class sums are compensated, which gives a
//! worst-case estimate of about `2 (K - 1) G eps`. Observed errors are far smaller: against
//! 50-digit references (`tests/grpo_reference.rs`, binary rewards up to `G = 10^6`, three
//! classes up to `G = 400`) at most `7e-14`, within the crate's `1e-12` relative target.
//!
//! The walk's work (binomial terms plus `K` per visited composition) is capped by a
//! [`Budget`]; running out is a typed refusal.

use super::UnitScaling;
use crate::error::{Error, Result};
use crate::numeric::CompensatedSum;
use std::cell::Cell;

/// A shared cap on the work of one solve (binomial terms computed plus `K^2` per composition
/// visited), so that an iterative solver calling the walk many times still ends.
#[derive(Debug)]
pub(super) struct Budget {
    left: Cell<f64>,
    group_size: f64,
}

impl Budget {
    /// A budget of `units` of work for walks at group size `group_size` (reported on refusal).
    pub(super) fn new(units: f64, group_size: usize) -> Self {
        Self {
            left: Cell::new(units),
            group_size: group_size as f64,
        }
    }

    fn spend(&self, units: f64) -> Result<()> {
        let left = self.left.get() - units;
        self.left.set(left);
        if left < 0.0 {
            return Err(Error::InvalidParameter {
                name: "group_size",
                value: self.group_size,
                requirement: "small enough for the pruned enumeration's work budget \
(about (18 sigma)^(K-1) K^2 per evaluation, sigma the binomial std of a class count)",
            });
        }
        Ok(())
    }
}

/// `P_G` per class (population std), or with `pinned = Some(l)` the sum
/// `E[A(c; m + e_l)]` over `m ~ M(G - 2; x)`, and its truncation bound.
#[derive(Debug, Clone)]
pub(super) struct WalkResult {
    /// The sum for each class `c` of `o_1`.
    pub(super) values: Vec<f64>,
    /// `sqrt(G - 1)` times the omitted probability.
    pub(super) truncation_bound: f64,
}

/// Runs the pruned walk: `values` sorted distinct rewards, `mass` their probabilities, `g` the
/// group size (`>= 2`), `pinned` an other-output class held fixed (the derivative sum), `cut`
/// the pruning threshold.
pub(super) fn walk(
    values: &[f64],
    mass: &[f64],
    g: usize,
    pinned: Option<usize>,
    cut: f64,
    budget: &Budget,
) -> Result<WalkResult> {
    let k = values.len();
    let mut tail = vec![0.0; k + 1];
    let mut acc = CompensatedSum::new();
    for i in (0..k).rev() {
        acc.add(mass[i]);
        tail[i] = acc.value();
    }
    let draws = g - 1 - usize::from(pinned.is_some());
    let mut w = Walker {
        values,
        mass,
        tail,
        g,
        pinned,
        cut,
        budget,
        counts: vec![0; k],
        sums: vec![CompensatedSum::new(); k],
        omitted: CompensatedSum::new(),
    };
    w.node(0, draws, 1.0)?;
    Ok(WalkResult {
        values: w.sums.iter().map(CompensatedSum::value).collect(),
        truncation_bound: ((g - 1) as f64).sqrt() * w.omitted.value(),
    })
}

/// Work units charged for each inner node of the walk (one unit is about one leaf flop).
const NODE_WORK: f64 = 256.0;

/// State of one walk.
struct Walker<'a> {
    values: &'a [f64],
    mass: &'a [f64],
    tail: Vec<f64>,
    g: usize,
    pinned: Option<usize>,
    cut: f64,
    budget: &'a Budget,
    counts: Vec<usize>,
    sums: Vec<CompensatedSum>,
    omitted: CompensatedSum,
}

impl Walker<'_> {
    /// Places the `left` remaining draws in classes `k..`; `weight` is the probability of the
    /// counts placed so far (and of the whole subtree).
    fn node(&mut self, k: usize, left: usize, weight: f64) -> Result<()> {
        if weight < self.cut {
            self.omitted.add(weight);
            return Ok(());
        }
        let last = self.values.len() - 1;
        if k == last || left == 0 {
            self.counts[k] = left;
            let r = self.leaf(weight);
            self.counts[k] = 0;
            return r;
        }
        let p = if self.tail[k] > 0.0 {
            (self.mass[k] / self.tail[k]).min(1.0)
        } else {
            // The remaining classes carry no mass: the subtree has probability 0.
            return Ok(());
        };
        // An inner node costs about as much as a leaf's `NODE_WORK` units (the binomial's
        // allocation and sums), whether or not any of its children survive the cut.
        self.budget.spend(NODE_WORK)?;
        let law = TruncatedBinomial::new(left, p, self.cut, self.budget)?;
        self.omitted.add(2.0 * weight * law.omitted);
        for (i, t) in law.terms.iter().enumerate() {
            let n = law.first + i;
            self.counts[k] = n;
            self.node(k + 1, left - n, weight * t)?;
        }
        self.counts[k] = 0;
        Ok(())
    }

    /// Adds one composition's advantage, for every class of `o_1`.
    fn leaf(&mut self, weight: f64) -> Result<()> {
        let k = self.values.len();
        self.budget.spend((k * k) as f64)?;
        for cls in 0..k {
            let a = self.advantage(cls);
            if a != 0.0 {
                self.sums[cls].add(weight * a);
            }
        }
        Ok(())
    }

    /// `A_1` for `o_1` in `cls`: `(v_cls - mean)/std` over the group (population std), `0` if
    /// the whole group lies in one class. Computed on the group's [`UnitScaling`] about
    /// `v_cls` (per group: one scaling for all classes would flush the differences among small
    /// rewards beside a reward of `f64::MAX`); in a group `(v, w, w, w, w, w)` it is `-sqrt(5)`
    /// whether `v` and `w` are `1e-300` or `f64::MAX` apart.
    fn advantage(&self, cls: usize) -> f64 {
        let v = self.values;
        let count = |j: usize| {
            (self.counts[j] + usize::from(j == cls) + usize::from(Some(j) == self.pinned)) as f64
        };
        let g = self.g as f64;
        if count(cls) == g {
            return 0.0;
        }
        // Over the classes in the group only: an absent one may be infinitely far.
        let present = || (0..v.len()).filter(|&j| count(j) > 0.0);
        let Some(scaling) = UnitScaling::of(present().map(|j| v[j]), v[cls]) else {
            return 0.0;
        };
        let d = |j: usize| scaling.apply(v[j]);
        let mean = present().map(|j| count(j) * d(j)).sum::<f64>() / g;
        let var = present()
            .map(|j| count(j) * (d(j) - mean) * (d(j) - mean))
            .sum::<f64>()
            / g;
        -mean / var.sqrt()
    }
}

/// The terms of `Bin(n, p)` at least `cut` times its largest term, normalized by their own sum,
/// and the probability left out (relative to that sum, bounded above).
#[derive(Debug)]
struct TruncatedBinomial {
    /// The count of the first kept term.
    first: usize,
    /// The kept terms, normalized.
    terms: Vec<f64>,
    /// An upper bound on the omitted terms over the kept sum.
    omitted: f64,
}

impl TruncatedBinomial {
    fn new(n: usize, p: f64, cut: f64, budget: &Budget) -> Result<Self> {
        if p <= 0.0 || p >= 1.0 {
            let first = if p <= 0.0 { 0 } else { n };
            return Ok(Self {
                first,
                terms: vec![1.0],
                omitted: 0.0,
            });
        }
        let odds = p / (1.0 - p);
        let nf = n as f64;
        let mode = (((nf + 1.0) * p).floor() as usize).min(n);
        // Upward from the mode: t_{j+1} = t_j (n - j)/(j + 1) odds.
        let up_ratio = |j: usize| (nf - j as f64) / (j as f64 + 1.0) * odds;
        let (up, up_tail) = Self::side(mode, n, cut, budget, |j| j + 1, up_ratio)?;
        // Downward: t_{j-1} = t_j j / ((n - j + 1) odds).
        let down_ratio = |j: usize| j as f64 / ((nf - j as f64 + 1.0) * odds);
        let (down, down_tail) = Self::side(mode, 0, cut, budget, |j| j - 1, down_ratio)?;
        let first = mode - down.len();
        let mut terms: Vec<f64> = down.into_iter().rev().collect();
        terms.push(1.0);
        terms.extend(up);
        let mut total = CompensatedSum::new();
        for t in &terms {
            total.add(*t);
        }
        let s = total.value();
        for t in &mut terms {
            *t /= s;
        }
        Ok(Self {
            first,
            terms,
            omitted: (up_tail + down_tail) / s,
        })
    }

    /// Terms from the mode (term 1) towards `end`, excluding the mode, while at least `cut`;
    /// and a bound on the sum of the rest: `t/(1 - r)` at the first omitted term `t`.
    fn side(
        mode: usize,
        end: usize,
        cut: f64,
        budget: &Budget,
        step: impl Fn(usize) -> usize,
        ratio: impl Fn(usize) -> f64,
    ) -> Result<(Vec<f64>, f64)> {
        let mut out = Vec::new();
        let mut j = mode;
        let mut t = 1.0;
        while j != end {
            t *= ratio(j);
            j = step(j);
            if t < cut {
                let tail = if j == end {
                    t
                } else {
                    let r = ratio(j);
                    if r < 1.0 {
                        t / (1.0 - r)
                    } else {
                        f64::INFINITY
                    }
                };
                if tail.is_finite() {
                    return Ok((out, tail));
                }
            }
            out.push(t);
            if out.len() % 4096 == 0 {
                budget.spend(4096.0)?;
            }
        }
        Ok((out, 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `P_G` is unchanged by an affine map of the rewards with a positive slope, so values
    /// `1e-300` apart, values `f64::MAX` apart and values a power of two away from order one
    /// all give the `P_G` of the unit values (to rounding, 1e-14 here). The variance of the
    /// values themselves underflowed in the first case (`P = -inf`) and overflowed in the second
    /// (`P = 0`).
    #[test]
    fn advantages_do_not_depend_on_the_scale_of_the_rewards() -> Result<()> {
        let mass = [0.25, 0.5, 0.25];
        let budget = Budget::new(1e9, 5);
        let unit = walk(&[-1.0, 0.0, 1.0], &mass, 5, None, 0.0, &budget)?.values;
        for values in [
            [-1e-300, 0.0, 1e-300],
            [-f64::MAX, 0.0, f64::MAX],
            [-0.75, 0.0, 0.75],
        ] {
            let p = walk(&values, &mass, 5, None, 0.0, &budget)?.values;
            for (a, b) in p.iter().zip(&unit) {
                assert!((a - b).abs() <= 1e-14, "{values:?}: {p:?} vs {unit:?}");
            }
        }
        assert!(
            unit[0] < 0.0 && unit[2] > 0.0 && unit[1].abs() <= 1e-15,
            "{unit:?}"
        );
        Ok(())
    }

    /// The truncated law sums to 1 and matches `C(n, k) p^k (1-p)^(n-k)` on small `n`.
    #[test]
    fn truncated_binomial_matches_the_pmf() -> Result<()> {
        let budget = Budget::new(1e9, 2);
        for (n, p) in [(10usize, 0.3), (25, 0.9), (7, 0.5), (40, 0.01)] {
            let law = TruncatedBinomial::new(n, p, 0.0, &budget)?;
            assert_eq!(law.omitted, 0.0);
            assert_eq!(law.first, 0);
            assert_eq!(law.terms.len(), n + 1);
            let mut c = 1.0;
            for (k, t) in law.terms.iter().enumerate() {
                let exact = c * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32);
                assert!((t - exact).abs() <= 1e-14 * exact + 1e-300, "n {n} k {k}");
                c = c * (n - k) as f64 / (k + 1) as f64;
            }
        }
        Ok(())
    }

    /// With a cut, the omitted bound covers the true omitted mass (computed with no cut).
    #[test]
    fn truncation_bound_covers_the_omitted_mass() -> Result<()> {
        let budget = Budget::new(1e9, 2);
        for (n, p, cut) in [(200usize, 0.3, 1e-3), (1000, 0.5, 1e-6), (60, 0.05, 1e-2)] {
            let full = TruncatedBinomial::new(n, p, 0.0, &budget)?;
            let cutl = TruncatedBinomial::new(n, p, cut, &budget)?;
            let kept: f64 = (cutl.first..cutl.first + cutl.terms.len())
                .map(|k| full.terms[k])
                .sum();
            let missing = 1.0 - kept;
            assert!(missing > 0.0, "the cut must drop something");
            assert!(
                missing <= cutl.omitted * (1.0 + 1e-9),
                "{missing} > {}",
                cutl.omitted
            );
        }
        Ok(())
    }

    /// The walk's truncation bound covers its error against the unpruned walk, and the coarse
    /// cut does cost something (so the comparison is not vacuous).
    #[test]
    fn walk_bound_covers_the_pruning_error() -> Result<()> {
        let budget = Budget::new(1e9, 2);
        let values = [-1.0, 0.0, 0.5, 3.0];
        let mass = [0.1, 0.5, 0.3, 0.1];
        for (g, cut) in [(40usize, 1e-3), (120, 1e-6), (60, 1e-2)] {
            let exact = walk(&values, &mass, g, None, 0.0, &budget)?;
            assert_eq!(exact.truncation_bound, 0.0);
            let pruned = walk(&values, &mass, g, None, cut, &budget)?;
            let err = exact
                .values
                .iter()
                .zip(&pruned.values)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err > 1e-14, "G {g} cut {cut}: the cut changed nothing");
            assert!(
                err <= pruned.truncation_bound,
                "G {g} cut {cut}: error {err:e} > bound {:e}",
                pruned.truncation_bound
            );
        }
        Ok(())
    }

    /// A budget too small for the walk is a typed refusal.
    #[test]
    fn an_exhausted_budget_is_refused() {
        let budget = Budget::new(10.0, 50);
        let r = walk(&[0.0, 1.0, 2.0], &[0.3, 0.3, 0.4], 50, None, 0.0, &budget);
        assert!(matches!(r, Err(Error::InvalidParameter { .. })));
    }
}
