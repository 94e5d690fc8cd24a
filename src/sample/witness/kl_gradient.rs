//! Witnesses of the KL-placement gradients (claim `estimator.placement`) and of the sequence
//! KL estimators (claim `estimator.sequence`): Monte Carlo averages of what a trainer computes
//! per sample, tested against the exact expectations with Bernstein's inequality.
//!
//! Every averaged quantity takes finitely many values with known probabilities, so its exact
//! variance and range under the null are sums, and Bernstein's test ([`bernstein_test`]) has a
//! false-alarm rate bounded by [`FALSE_ALARM_RATE`] (`1e-6`) with no normal approximation. The
//! number of draws is [`bernstein_sample_size`]'s, so the negative control (the same mean
//! against the other KL direction) is rejected except with probability [`CONTROL_MISS`].

use super::seeded_rng;
use crate::claims::WitnessOutcome;
use crate::dist::Dist;
use crate::divergence;
use crate::error::Result;
use crate::numeric::dot;
use crate::sample::DistSampler;
use crate::solve::kl_estimator::{k3_value, log_ratio, Estimator};
use crate::solve::kl_gradient::{softmax_policy, Placement};
use crate::solve::sequence::{SeqEstimator, SequenceModel, SequencePair};
use crate::stats::{bernstein_sample_size, bernstein_test, CONTROL_MISS, FALSE_ALARM_RATE};
use crate::tables::estimator_placement::{BASE, BEHAVIOR, LOGITS};

/// The stochastic gradient a trainer computes from one sample `x ~ mu` (`mu = pi` on-policy):
/// `rho k (e_x - pi)` in the reward (importance-corrected REINFORCE), `-k'(l) (e_x - pi)` as a
/// loss, `rho (k - k')(l) (e_x - pi)` as a loss times `rho = pi/mu`.
pub fn sample_gradient(
    pi: &Dist,
    mu: &Dist,
    base: &Dist,
    k: Estimator,
    placement: Placement,
    x: usize,
) -> Vec<f64> {
    let l = log_ratio(pi, base, x);
    let rho = (pi.log_prob(x) - mu.log_prob(x)).exp();
    let factor = match placement {
        Placement::Reward => rho * k.value(l),
        Placement::Loss => -k.derivative(l),
        Placement::LossRatio => rho * (k.value(l) - k.derivative(l)),
    };
    (0..pi.len())
        .map(|j| factor * (f64::from(u8::from(j == x)) - pi.prob(j)))
        .collect()
}

/// A sample mean of the scalar `s(x)`, `x ~ law`, tested against `null` and `wrong` by
/// Bernstein's test with the exact variance and range of `s` under `law` (around `null`).
fn bernstein_witness(
    name: String,
    law: &Dist,
    s: impl Fn(usize) -> f64,
    draw: &mut dyn FnMut() -> usize,
    null: f64,
    wrong: f64,
) -> Result<WitnessOutcome> {
    let values: Vec<f64> = (0..law.len()).map(&s).collect();
    let variance = law.variance(&values)?;
    let radius = law
        .support()
        .map(|x| (values[x] - null).abs())
        .fold(0.0, f64::max);
    let n = bernstein_sample_size(
        null - wrong,
        variance,
        radius,
        FALSE_ALARM_RATE,
        CONTROL_MISS,
    )?;
    let mut total = crate::numeric::CompensatedSum::new();
    for _ in 0..n {
        total.add(values[draw()]);
    }
    let mean = total.value() / n as f64;
    let test = |m: f64| bernstein_test(mean, m, variance, radius, n);
    Ok(super::outcome(
        name,
        &test(null)?,
        FALSE_ALARM_RATE,
        FALSE_ALARM_RATE,
        &[test(wrong)?],
    ))
}

/// Monte Carlo average of the per-sample gradient of `k` in `placement`, samples from the
/// behaviour policy (`off_policy`: `mu` uniform, else `mu = pi`), on the instance of table
/// `estimator-placement`, projected on the unit vector `u` from `grad KL(pi0||pi)` to
/// `grad KL(pi||pi0)`: null `u . grad KL(pi||pi0)` (closed form `pi_j (log(pi_j/pi0_j) - KL)`
/// with `KL` from `divergence::kl`), negative control `u . grad KL(pi0||pi)` (the wrong KL
/// direction). Bernstein's test at `1e-6`.
pub fn placement(
    k: Estimator,
    placement: Placement,
    off_policy: bool,
    seed: u64,
) -> Result<WitnessOutcome> {
    let base = Dist::new(BASE.to_vec())?;
    let pi = softmax_policy("logits", &LOGITS)?;
    let mu = if off_policy {
        softmax_policy("behavior_logits", &BEHAVIOR)?
    } else {
        pi.clone()
    };
    let kl = divergence::kl(&pi, &base)?;
    let reverse: Vec<f64> = (0..pi.len())
        .map(|j| pi.prob(j) * (pi.log_prob(j) - base.log_prob(j) - kl))
        .collect();
    let forward: Vec<f64> = (0..pi.len()).map(|j| pi.prob(j) - base.prob(j)).collect();
    let diff: Vec<f64> = reverse.iter().zip(&forward).map(|(r, f)| r - f).collect();
    let norm = dot(&diff, &diff).sqrt();
    let u: Vec<f64> = diff.iter().map(|d| d / norm).collect();
    let sampler = DistSampler::new(&mu)?;
    let mut rng = seeded_rng(seed);
    bernstein_witness(
        format!(
            "monte carlo {} gradient of {} as {}",
            if off_policy {
                "off-policy"
            } else {
                "on-policy"
            },
            k.name(),
            placement.name()
        ),
        &mu,
        |x| dot(&u, &sample_gradient(&pi, &mu, &base, k, placement, x)),
        &mut || sampler.draw(&mut rng),
        dot(&u, &reverse),
        dot(&u, &forward),
    )
}

/// The sequence instance of the witnesses: `V = 2`, `L = 3`, reference and policy per-prefix
/// logits `(0, c_h)` with `c_h` from [`SEQUENCE_POLICY`] and [`SEQUENCE_BASE`] (prefixes in
/// level order: empty, 0, 1, 00, 01, 10, 11).
pub fn sequence_pair() -> Result<SequencePair> {
    let rows = |c: &[f64]| -> Vec<Vec<f64>> { c.iter().map(|&x| vec![0.0, x]).collect() };
    SequencePair::new(
        SequenceModel::from_logits(2, 3, &rows(&SEQUENCE_POLICY))?,
        SequenceModel::from_logits(2, 3, &rows(&SEQUENCE_BASE))?,
    )
}

/// Second-token logits of the witnesses' policy, one per prefix.
pub const SEQUENCE_POLICY: [f64; 7] = [1.0, -1.0, 0.5, 2.0, -0.5, 0.0, 1.5];
/// Second-token logits of the witnesses' reference.
pub const SEQUENCE_BASE: [f64; 7] = [0.0, 0.5, -0.5, 0.0, 1.0, -1.0, 0.0];

/// Monte Carlo mean of a sequence estimator (summed per-token `k1` or `k3`, or
/// Rao-Blackwellized; all unbiased here, every policy table having full support) over
/// sequences drawn ancestrally from the policy (one next-token draw per position, the per-token
/// log-ratio and the exact next-token KL accumulated along the way), against
/// `KL(pi||pi0)` of the joint laws (`divergence::kl`); negative control: the other direction
/// `KL(pi0||pi)`. Bernstein's test at `1e-6`, the variance and range from the exact law of the
/// estimator over the `2^3` sequences.
pub fn sequence_mean(e: SeqEstimator, seed: u64) -> Result<WitnessOutcome> {
    let pair = sequence_pair()?;
    let (p, q) = (&pair.policy, &pair.base);
    let (jp, jq) = (p.joint()?, q.joint()?);
    let null = divergence::kl(&jp, &jq)?;
    let wrong = divergence::kl(&jq, &jp)?;
    let samplers = p
        .tables()
        .iter()
        .map(DistSampler::new)
        .collect::<Result<Vec<_>>>()?;
    let local = pair.local_kls()?;
    // Each sequence's value, accumulated position by position from the tables.
    let value = |y: usize| -> f64 {
        (0..p.length())
            .map(|t| {
                let (h, j) = (p.prefix_of(y, t), p.token(y, t));
                let a = p.tables()[h].log_prob(j) - q.tables()[h].log_prob(j);
                match e {
                    SeqEstimator::K1 => a,
                    SeqEstimator::K2 => 0.5 * a * a,
                    SeqEstimator::K3 => k3_value(-a),
                    SeqEstimator::RaoBlackwell => local[h],
                }
            })
            .sum()
    };
    let mut rng = seeded_rng(seed);
    let mut draw = || {
        // Ancestral sampling: walk down the prefix tree.
        let mut y = 0usize;
        let mut h = 0usize;
        for _ in 0..p.length() {
            let j = samplers[h].draw(&mut rng);
            y = y * p.vocab() + j;
            if let Some(c) = p.child(h, j) {
                h = c;
            }
        }
        y
    };
    bernstein_witness(
        format!("monte carlo mean of the sequence estimator {}", e.name()),
        &jp,
        value,
        &mut draw,
        null,
        wrong,
    )
}
