//! Autoregressive policies over a small vocabulary, with exact enumeration of all sequences:
//! the sequence KL, per-token KL estimators and their exact moments and expected gradients
//! (claim `estimator.sequence`).
//!
//! A [`SequenceModel`] on vocabulary `{0, .., V-1}` and length `L` holds one next-token
//! distribution `pi(. | h)` per prefix `h` of length `t < L` (a per-prefix softmax table when
//! built from logits). A sequence `y = (y_1, .., y_L)` has probability
//! `pi(y) = prod_t pi(y_t | h_t)`, `h_t = (y_1, .., y_{t-1})`. For a policy `pi` and a reference
//! `pi0` on the same `(V, L)`, write `a_t = log(pi(y_t|h_t)/pi0(y_t|h_t))` (so `l_t = -a_t` is
//! the per-token log-ratio of the single-step estimators), `KL_h = KL(pi(.|h)||pi0(.|h))`, and
//! `W(h)` for the KL of the continuation after prefix `h` (`W = 0` at length `L`,
//! `W(h) = KL_h + E_{y ~ pi(.|h)} W(hy)`); `KL(pi||pi0) = W(empty)` (the chain rule).
//!
//! Per-sequence estimators of `KL(pi||pi0)` ([`SeqEstimator`]): the summed per-token `k1`
//! (`sum_t a_t = log(pi(y)/pi0(y))`), `k2`, `k3`, and the Rao-Blackwellized
//! `RB(y) = sum_t KL_{h_t}` (the exact next-token KL along the sampled prefix).
//!
//! Gradients are with respect to all logits `theta_{h,j}` (one softmax per prefix, indexed by
//! [`SequenceModel::logit_index`]). With `P(h)` the probability that `pi` produces prefix `h`,
//!
//! ```text
//! grad_{h,j} KL(pi||pi0) = P(h) pi(j|h) [ a(h,j) + W(hj) - W(h) ]           (full)
//!                        = P(h) pi(j|h) [ a(h,j) - KL_h ]                     (myopic part)
//!                        + P(h) pi(j|h) [ W(hj) - E_{y~pi(.|h)} W(hy) ]       (future part)
//! ```
//!
//! A trainer that puts per-token `k1` into per-token rewards and REINFORCEs each token with the
//! return (reward-to-go, `sum_{s >= t} a_s`) gets the full gradient in expectation; one that
//! penalizes each token only with its own `a_t` (or differentiates the exact per-token KL
//! `KL_{h_t}` as a loss) gets the myopic part only: it misses the future part, the change of the
//! next-token law through the KL of the continuation it leads to ([`GradientEstimator`]).
//!
//! Size limit: at most [`MAX_SEQUENCES`] sequences (`V^L`); larger models are refused with
//! [`Error::InvalidParameter`] (everything here enumerates the `V^L` sequences).

use crate::dist::Dist;
use crate::divergence;
use crate::error::{require_finite, require_same_len, Error, Result};
use crate::numeric::CompensatedSum;
use crate::solve::kl_estimator::{k3_value, EstimatorMoments};
use serde::Serialize;

/// The largest number of sequences `V^L` a model may have (`2^14`): exact enumeration of every
/// sequence, and of every prefix's gradient block per sequence, stays in the milliseconds.
pub const MAX_SEQUENCES: usize = 1 << 14;

/// An autoregressive policy with one next-token distribution per prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceModel {
    vocab: usize,
    length: usize,
    /// `offsets[t]` is the index of the first prefix of length `t`; prefixes of one length are
    /// in the order of their base-`V` codes (first token most significant).
    offsets: Vec<usize>,
    tables: Vec<Dist>,
    count: usize,
}

/// `V^L` if at most [`MAX_SEQUENCES`], else [`Error::InvalidParameter`].
pub fn sequence_count(vocab: usize, length: usize) -> Result<usize> {
    let refuse = |value: f64| Error::InvalidParameter {
        name: "vocab^length",
        value,
        requirement: "at least 1 and at most 2^14 sequences (vocab >= 1, length >= 1)",
    };
    if vocab == 0 || length == 0 {
        return Err(refuse(0.0));
    }
    let mut n = 1usize;
    for _ in 0..length {
        n = n.saturating_mul(vocab);
        if n > MAX_SEQUENCES {
            return Err(refuse((vocab as f64).powi(length.min(1 << 20) as i32)));
        }
    }
    Ok(n)
}

impl SequenceModel {
    /// A model from its next-token distributions, one per prefix, level by level (the empty
    /// prefix first, then the `V` prefixes of length 1 in token order, ..., `sum_{t<L} V^t`
    /// tables), each on `V` tokens.
    pub fn from_tables(vocab: usize, length: usize, tables: Vec<Dist>) -> Result<Self> {
        let count = sequence_count(vocab, length)?;
        let mut offsets = Vec::with_capacity(length + 1);
        let (mut total, mut level) = (0usize, 1usize);
        for _ in 0..=length {
            offsets.push(total);
            total += level;
            level *= vocab;
        }
        let prefixes = offsets[length];
        require_same_len("tables", tables.len(), "prefixes", prefixes)?;
        for t in &tables {
            require_same_len("next-token table", t.len(), "vocab", vocab)?;
        }
        Ok(Self {
            vocab,
            length,
            offsets,
            tables,
            count,
        })
    }

    /// The per-prefix softmax policy of `logits` (`sum_{t<L} V^t` rows of `V` finite logits, in
    /// the order of [`SequenceModel::from_tables`]).
    pub fn from_logits(vocab: usize, length: usize, logits: &[Vec<f64>]) -> Result<Self> {
        let tables = logits
            .iter()
            .map(|row| {
                require_finite("sequence logits", row)?;
                Dist::from_log_weights(row)
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_tables(vocab, length, tables)
    }

    /// `V`.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// `L`.
    pub fn length(&self) -> usize {
        self.length
    }

    /// The number of prefixes `sum_{t<L} V^t` (one next-token table each).
    pub fn prefixes(&self) -> usize {
        self.tables.len()
    }

    /// `V^L`.
    pub fn sequences(&self) -> usize {
        self.count
    }

    /// The next-token tables, in prefix order.
    pub fn tables(&self) -> &[Dist] {
        &self.tables
    }

    /// The index of the prefix of sequence `y` (a base-`V` code of `L` digits) of length `t`.
    pub fn prefix_of(&self, y: usize, t: usize) -> usize {
        self.offsets[t] + y / self.vocab.pow((self.length - t) as u32)
    }

    /// The token `y_{t+1}` (0-based position `t`) of sequence `y`.
    pub fn token(&self, y: usize, t: usize) -> usize {
        (y / self.vocab.pow((self.length - t - 1) as u32)) % self.vocab
    }

    /// The index of logit `theta_{h,j}` in a flat gradient vector (`prefix * V + j`).
    pub fn logit_index(&self, prefix: usize, j: usize) -> usize {
        prefix * self.vocab + j
    }

    /// The index of the prefix `h` extended by token `j` (`None` at full length).
    pub fn child(&self, prefix: usize, j: usize) -> Option<usize> {
        let t = self.level(prefix);
        (t + 1 < self.length)
            .then(|| self.offsets[t + 1] + (prefix - self.offsets[t]) * self.vocab + j)
    }

    /// The length of prefix `prefix`.
    pub fn level(&self, prefix: usize) -> usize {
        self.offsets.partition_point(|&o| o <= prefix) - 1
    }

    /// The joint law of the `V^L` sequences (from summed log-probabilities).
    pub fn joint(&self) -> Result<Dist> {
        let logs: Vec<f64> = (0..self.sequences())
            .map(|y| {
                (0..self.length)
                    .map(|t| self.tables[self.prefix_of(y, t)].log_prob(self.token(y, t)))
                    .sum()
            })
            .collect();
        Dist::from_log_weights(&logs)
    }

    /// `P(h)` for every prefix: the probability that the model produces it.
    pub fn prefix_masses(&self) -> Vec<f64> {
        let mut mass = vec![0.0; self.prefixes()];
        mass[0] = 1.0;
        for h in 0..self.prefixes() {
            for j in 0..self.vocab {
                if let Some(c) = self.child(h, j) {
                    mass[c] = mass[h] * self.tables[h].prob(j);
                }
            }
        }
        mass
    }

    /// `pi` conditioned on the event `{y : event(y)}` of sequences, as an autoregressive model:
    /// `pi(j | h) = M(hj)/M(h)` with `M(h)` the mass of the event's sequences extending `h`;
    /// prefixes of zero mass keep their own table. Errors if the event has no mass.
    pub fn condition(&self, event: impl Fn(usize) -> bool) -> Result<Self> {
        let joint = self.joint()?;
        let mut below = vec![CompensatedSum::new(); self.prefixes() * self.vocab];
        for y in 0..self.sequences() {
            if event(y) && joint.in_support(y) {
                for t in 0..self.length {
                    below[self.logit_index(self.prefix_of(y, t), self.token(y, t))]
                        .add(joint.prob(y));
                }
            }
        }
        let tables = (0..self.prefixes())
            .map(|h| {
                let w: Vec<f64> = (0..self.vocab)
                    .map(|j| below[self.logit_index(h, j)].value())
                    .collect();
                Dist::from_weights(w).or_else(|_| Ok(self.tables[h].clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        if !(0..self.sequences()).any(|y| event(y) && joint.in_support(y)) {
            return Err(Error::Infeasible(
                "conditioning on an event of mass 0".into(),
            ));
        }
        Self::from_tables(self.vocab, self.length, tables)
    }
}

/// A policy `pi` and a reference `pi0` on the same vocabulary and length, with
/// `supp pi(.|h)` within `supp pi0(.|h)` at every prefix `pi` reaches (finite KL).
#[derive(Debug, Clone, PartialEq)]
pub struct SequencePair {
    /// The policy.
    pub policy: SequenceModel,
    /// The reference.
    pub base: SequenceModel,
}

/// Per-sequence estimators of the sequence KL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeqEstimator {
    /// `sum_t a_t = log(pi(y)/pi0(y))`.
    K1,
    /// `sum_t a_t^2/2`.
    K2,
    /// `sum_t k3(-a_t)`.
    K3,
    /// `sum_t KL_{h_t}`: the exact next-token KL along the sampled prefix.
    RaoBlackwell,
}

/// The four sequence estimators, in order.
pub const SEQ_ESTIMATORS: [SeqEstimator; 4] = [
    SeqEstimator::K1,
    SeqEstimator::K2,
    SeqEstimator::K3,
    SeqEstimator::RaoBlackwell,
];

impl SeqEstimator {
    /// `"k1"`, `"k2"`, `"k3"`, `"rao_blackwell"`.
    pub fn name(self) -> &'static str {
        match self {
            SeqEstimator::K1 => "k1",
            SeqEstimator::K2 => "k2",
            SeqEstimator::K3 => "k3",
            SeqEstimator::RaoBlackwell => "rao_blackwell",
        }
    }
}

/// Per-sequence gradient estimators of `KL(pi||pi0)` with respect to all logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientEstimator {
    /// Per-token `k1` rewards, REINFORCE with the return:
    /// `sum_t (e_{y_t} - pi(.|h_t)) sum_{s >= t} a_s`.
    K1RewardToGo,
    /// Per-token `k1` penalty without the future: `sum_t (e_{y_t} - pi(.|h_t)) a_t`.
    K1PerToken,
    /// Rao-Blackwellized, with the future: `sum_t [grad KL_{h_t} + (e_{y_t} - pi(.|h_t))
    /// sum_{s > t} KL_{h_s}]`.
    RbRewardToGo,
    /// The exact per-token KL differentiated as a loss, no future: `sum_t grad KL_{h_t}`.
    RbPerToken,
}

/// The four gradient estimators, in order.
pub const GRADIENT_ESTIMATORS: [GradientEstimator; 4] = [
    GradientEstimator::K1RewardToGo,
    GradientEstimator::K1PerToken,
    GradientEstimator::RbRewardToGo,
    GradientEstimator::RbPerToken,
];

impl SequencePair {
    /// Validates: the same `(V, L)`, and `supp pi(.|h)` within `supp pi0(.|h)` at every prefix
    /// (else [`Error::Infeasible`]: the sequence KL would be infinite).
    pub fn new(policy: SequenceModel, base: SequenceModel) -> Result<Self> {
        require_same_len("policy vocab", policy.vocab, "base vocab", base.vocab)?;
        require_same_len("policy length", policy.length, "base length", base.length)?;
        for (h, (p, q)) in policy.tables.iter().zip(&base.tables).enumerate() {
            if let Some(j) = p.support().find(|&j| !q.in_support(j)) {
                return Err(Error::Infeasible(format!(
                    "the policy puts mass on token {j} after prefix {h}, where the reference has \
                     none: infinite KL"
                )));
            }
        }
        Ok(Self { policy, base })
    }

    fn model(&self) -> &SequenceModel {
        &self.policy
    }

    /// `a(h, j) = log(pi(j|h)/pi0(j|h))` (0 where `pi(j|h) = 0`: never sampled).
    pub fn log_ratio(&self, h: usize, j: usize) -> f64 {
        let p = &self.policy.tables[h];
        if p.in_support(j) {
            p.log_prob(j) - self.base.tables[h].log_prob(j)
        } else {
            0.0
        }
    }

    /// `KL_h` for every prefix.
    pub fn local_kls(&self) -> Result<Vec<f64>> {
        self.policy
            .tables
            .iter()
            .zip(&self.base.tables)
            .map(|(p, q)| divergence::kl(p, q))
            .collect()
    }

    /// `W(h)`, the KL of the continuation after each prefix (backward recursion), and
    /// `W(hj)` for each child (`0` at full length), as `(W(h), [W(hj)]_j)`.
    pub fn future_kls(&self) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
        let m = self.model();
        let local = self.local_kls()?;
        let mut w = vec![0.0; m.prefixes()];
        let mut children = vec![vec![0.0; m.vocab]; m.prefixes()];
        for h in (0..m.prefixes()).rev() {
            for (j, c) in children[h].iter_mut().enumerate() {
                *c = m.child(h, j).map_or(0.0, |c| w[c]);
            }
            w[h] = local[h] + m.tables[h].expectation(&children[h])?;
        }
        Ok((w, children))
    }

    /// `KL(pi||pi0)` by the chain rule, `W(empty)`.
    pub fn sequence_kl(&self) -> Result<f64> {
        Ok(self.future_kls()?.0[0])
    }

    /// The value of estimator `e` on sequence `y`.
    pub fn estimate(&self, e: SeqEstimator, y: usize, local: &[f64]) -> f64 {
        let m = self.model();
        let s: CompensatedSum = (0..m.length)
            .map(|t| {
                let (h, j) = (m.prefix_of(y, t), m.token(y, t));
                let a = self.log_ratio(h, j);
                match e {
                    SeqEstimator::K1 => a,
                    SeqEstimator::K2 => 0.5 * a * a,
                    SeqEstimator::K3 => k3_value(-a),
                    SeqEstimator::RaoBlackwell => local[h],
                }
            })
            .collect();
        s.value()
    }

    /// Exact mean and variance of estimator `e` under `y ~ pi`, by enumeration.
    pub fn moments(&self, e: SeqEstimator) -> Result<EstimatorMoments> {
        let joint = self.policy.joint()?;
        let local = self.local_kls()?;
        let values: Vec<f64> = (0..joint.len())
            .map(|y| {
                if joint.in_support(y) {
                    self.estimate(e, y, &local)
                } else {
                    0.0
                }
            })
            .collect();
        Ok(EstimatorMoments {
            mean: joint.expectation(&values)?,
            variance: joint.variance(&values)?,
        })
    }

    /// The per-sequence gradient estimate `g(y)` of `ge` (flat, indexed by
    /// [`SequenceModel::logit_index`]).
    pub fn gradient_estimate(
        &self,
        ge: GradientEstimator,
        y: usize,
        local: &[f64],
    ) -> Result<Vec<f64>> {
        let m = self.model();
        let mut g = vec![0.0; m.prefixes() * m.vocab];
        let steps: Vec<(usize, usize)> = (0..m.length)
            .map(|t| (m.prefix_of(y, t), m.token(y, t)))
            .collect();
        for (t, &(h, j)) in steps.iter().enumerate() {
            let after = |f: &dyn Fn(usize, usize) -> f64| -> f64 {
                steps[t + 1..].iter().map(|&(hs, js)| f(hs, js)).sum()
            };
            let (score, local_grad) = match ge {
                GradientEstimator::K1RewardToGo => (
                    self.log_ratio(h, j) + after(&|hs, js| self.log_ratio(hs, js)),
                    false,
                ),
                GradientEstimator::K1PerToken => (self.log_ratio(h, j), false),
                GradientEstimator::RbRewardToGo => (after(&|hs, _| local[hs]), true),
                GradientEstimator::RbPerToken => (0.0, true),
            };
            let p = &m.tables[h];
            for i in 0..m.vocab {
                let e = if i == j { 1.0 } else { 0.0 };
                let mut gi = (e - p.prob(i)) * score;
                if local_grad {
                    gi += p.prob(i) * (self.log_ratio(h, i) - local[h]);
                }
                g[m.logit_index(h, i)] += gi;
            }
        }
        Ok(g)
    }

    /// `E_{y ~ pi}[g(y)]` of a gradient estimator, by enumeration of the sequences.
    pub fn expected_gradient(&self, ge: GradientEstimator) -> Result<Vec<f64>> {
        let m = self.model();
        let joint = m.joint()?;
        let local = self.local_kls()?;
        let mut sums = vec![CompensatedSum::new(); m.prefixes() * m.vocab];
        for y in joint.support() {
            let g = self.gradient_estimate(ge, y, &local)?;
            for (s, gi) in sums.iter_mut().zip(g) {
                s.add(joint.prob(y) * gi);
            }
        }
        Ok(sums.iter().map(CompensatedSum::value).collect())
    }

    /// The closed forms of the module docs: `(full, myopic, future)`, each indexed by
    /// [`SequenceModel::logit_index`], with `full = myopic + future` term by term.
    pub fn gradient_parts(&self) -> Result<GradientParts> {
        let m = self.model();
        let local = self.local_kls()?;
        let (_, children) = self.future_kls()?;
        let mass = m.prefix_masses();
        let size = m.prefixes() * m.vocab;
        let (mut myopic, mut future) = (vec![0.0; size], vec![0.0; size]);
        for h in 0..m.prefixes() {
            let p = &m.tables[h];
            let mean_future = p.expectation(&children[h])?;
            for j in 0..m.vocab {
                let w = mass[h] * p.prob(j);
                myopic[m.logit_index(h, j)] = w * (self.log_ratio(h, j) - local[h]);
                future[m.logit_index(h, j)] = w * (children[h][j] - mean_future);
            }
        }
        let full = myopic.iter().zip(&future).map(|(a, b)| a + b).collect();
        Ok(GradientParts {
            full,
            myopic,
            future,
        })
    }
}

/// The gradient of the sequence KL split into the part a per-token penalty sees and the part it
/// misses (module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradientParts {
    /// `grad KL(pi||pi0)`.
    pub full: Vec<f64>,
    /// `P(h) pi(j|h)(a(h,j) - KL_h)`: the expected gradient of a per-token penalty without the
    /// future.
    pub myopic: Vec<f64>,
    /// `P(h) pi(j|h)(W(hj) - E W(h.))`: the part it misses.
    pub future: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size limit is inclusive: exactly `2^14` sequences (`2^14`, and `4^7`) are accepted,
    /// one more token or symbol is refused. (Refusing `2^14` itself passed every other test.)
    #[test]
    fn the_sequence_limit_is_reached_and_not_exceeded() {
        assert_eq!(sequence_count(2, 14).ok(), Some(MAX_SEQUENCES));
        assert_eq!(sequence_count(4, 7).ok(), Some(MAX_SEQUENCES));
        assert!(matches!(
            sequence_count(2, 15),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            sequence_count(3, 9),
            Err(Error::InvalidParameter { .. })
        ));
    }

    /// An empty vocabulary or an empty sequence is refused, each alone (the test `vocab == 0
    /// && length == 0` passed every other test: it accepted `0^3 = 0` and `3^0 = 1`).
    #[test]
    fn an_empty_vocabulary_or_length_is_refused() {
        for (vocab, length) in [(0, 3), (3, 0), (0, 0)] {
            assert!(
                matches!(
                    sequence_count(vocab, length),
                    Err(Error::InvalidParameter { .. })
                ),
                "vocab {vocab}, length {length}"
            );
        }
    }

    fn pair(v: usize, l: usize, a: f64) -> Result<SequencePair> {
        let rows = |shift: f64| -> Vec<Vec<f64>> {
            let n = (0..l).map(|t| v.pow(t as u32)).sum::<usize>();
            (0..n)
                .map(|h| (0..v).map(|j| shift * ((h * v + j) as f64).sin()).collect())
                .collect()
        };
        SequencePair::new(
            SequenceModel::from_logits(v, l, &rows(a))?,
            SequenceModel::from_logits(v, l, &rows(0.3))?,
        )
    }

    #[test]
    fn indexing_is_consistent() -> Result<()> {
        let p = pair(3, 3, 1.0)?;
        let m = &p.policy;
        assert_eq!(m.prefixes(), 13);
        assert_eq!(m.sequences(), 27);
        assert_eq!(m.child(0, 2), Some(3));
        assert_eq!(m.child(3, 1), Some(4 + 2 * 3 + 1));
        assert_eq!(m.child(4, 0), None);
        assert_eq!(m.level(0), 0);
        assert_eq!(m.level(3), 1);
        assert_eq!(m.level(12), 2);
        assert_eq!(m.prefix_of(26, 2), 12);
        let masses = m.prefix_masses();
        let joint = m.joint()?;
        let y = 17;
        let h = m.prefix_of(y, 2);
        let direct = joint.mass_where(|z| m.prefix_of(z, 2) == h);
        assert!((direct - masses[h]).abs() < 1e-15);
        Ok(())
    }

    #[test]
    fn chain_rule_and_size_limit() -> Result<()> {
        let p = pair(2, 3, 1.5)?;
        let direct = divergence::kl(&p.policy.joint()?, &p.base.joint()?)?;
        assert!((p.sequence_kl()? - direct).abs() < 1e-14 * (1.0 + direct));
        assert!(matches!(
            sequence_count(2, 15),
            Err(Error::InvalidParameter { .. })
        ));
        assert_eq!(sequence_count(2, 14)?, MAX_SEQUENCES);
        assert!(sequence_count(usize::MAX, 3).is_err());
        Ok(())
    }
}
