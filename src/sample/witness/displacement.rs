//! Likelihood displacement from sampled DPO steps (claim `pref.likelihood-displacement`).
//!
//! The sampled algorithm: draw an unordered pair uniformly among the pairs of distinct
//! outcomes, a winner by Bradley-Terry (`P(x wins) = sigmoid(r(x) - r(y))`), and take one SGD
//! step `theta <- theta - eta grad L` on the pair's DPO loss `-log sigmoid(m)` from a fixed
//! `theta`, with the gradient taken by central differences of the loss (so the witness does not
//! reuse the exact solver's analytic step); record whether `log pi(winner)` fell. The exact law
//! of that indicator is computed from [`crate::solve::dpo_step::dpo_step`] on every ordered pair.
//! Pearson's test of the counts against it runs at `FALSE_ALARM_RATE = 1e-6` (i.i.d. draws).
//! Negative control: the same procedure in the tabular softmax on the same outcomes, where the
//! theorem says the winner's log-probability never falls; its counts `(0, m)` give the
//! statistic `m p/(1 - p)` against the log-linear law, and the sample size is chosen so that this
//! exceeds the test's critical value: the control is rejected with certainty whenever the
//! tabular theorem holds.

use super::stream_rng;
use crate::claims::WitnessOutcome;
use crate::dist::Dist;
use crate::error::{Error, Result};
use crate::solve::dpo_step::dpo_step;
use crate::solve::preference::sigmoid;
use crate::solve::LogLinearClass;
use crate::stats::{
    chi_square_gof, chi_square_noncentrality, upper_normal_quantile, CONTROL_MISS, FALSE_ALARM_RATE,
};
use nalgebra::DMatrix;
use rand::Rng;

/// Rewards of the four outcomes.
pub const REWARD: [f64; 4] = [0.0, 1.0, 2.0, 3.0];
/// DPO temperature and step size.
pub const BETA: f64 = 1.0;
/// Step size.
pub const ETA: f64 = 0.1;

/// Features `phi(x)` (rows) of the log-linear class: `(1, 0), (2, 1), (-1, 1), (0, -2)`. Under
/// the uniform policy (`theta = 0`, uniform base and reference) only the pair where outcome 0
/// beats outcome 1 displaces (`D = -1/2`); its probability is `sigmoid(-1)/6 = 0.0448`.
pub(crate) fn features() -> DMatrix<f64> {
    DMatrix::from_row_slice(4, 2, &[1.0, 0.0, 2.0, 1.0, -1.0, 1.0, 0.0, -2.0])
}

/// The ordered pairs `(w, l)` with their probabilities under the sampling scheme.
fn ordered_pairs() -> Vec<((usize, usize), f64)> {
    let n = REWARD.len();
    let pairs = (n * (n - 1) / 2) as f64;
    let mut v = Vec::new();
    for (x, rx) in REWARD.iter().enumerate() {
        for (y, ry) in REWARD.iter().enumerate().skip(x + 1) {
            let p = sigmoid(rx - ry);
            v.push(((x, y), p / pairs));
            v.push(((y, x), (1.0 - p) / pairs));
        }
    }
    v
}

/// The exact probability that one sampled step lowers `log pi(winner)` in the class.
fn exact_displacement(class: &LogLinearClass, phi: &DMatrix<f64>, base: &Dist) -> Result<f64> {
    let theta = vec![0.0; phi.ncols()];
    let mut p = 0.0;
    for (pair, prob) in ordered_pairs() {
        if dpo_step(class, phi, &theta, base, pair, BETA, ETA)?.log_change < 0.0 {
            p += prob;
        }
    }
    Ok(p)
}

/// The pair's DPO loss at `theta`.
fn pair_loss(
    class: &LogLinearClass,
    reference: &Dist,
    theta: &[f64],
    (w, l): (usize, usize),
) -> Result<f64> {
    let pi = class.policy(theta)?;
    let m = BETA
        * ((pi.log_prob(w) - reference.log_prob(w)) - (pi.log_prob(l) - reference.log_prob(l)));
    Ok(crate::solve::preference::softplus(-m))
}

/// One sampled SGD step from `theta = 0` with the gradient by central differences (step
/// `1e-6`: truncation `~1e-12`, rounding `~1e-10` per coordinate, far below the `|Delta| >= 0.02`
/// of every pair on this instance); whether `log pi(w)` fell.
fn sampled_step(class: &LogLinearClass, reference: &Dist, pair: (usize, usize)) -> Result<bool> {
    let k = class.dim();
    let theta = vec![0.0; k];
    let h = 1e-6;
    let mut next = theta.clone();
    for j in 0..k {
        let (mut up, mut down) = (theta.clone(), theta.clone());
        up[j] += h;
        down[j] -= h;
        let g = (pair_loss(class, reference, &up, pair)?
            - pair_loss(class, reference, &down, pair)?)
            / (2.0 * h);
        next[j] -= ETA * g;
    }
    let (before, after) = (class.policy(&theta)?, class.policy(&next)?);
    Ok(after.log_prob(pair.0) < before.log_prob(pair.0))
}

/// Counts `(fell, rose)` of `m` sampled steps in `class` (stream `stream` of `seed`).
fn counts(
    class: &LogLinearClass,
    reference: &Dist,
    m: u64,
    seed: u64,
    stream: u64,
) -> Result<Vec<u64>> {
    let mut rng = stream_rng(seed, stream);
    let n = REWARD.len();
    let mut c = vec![0u64; 2];
    for _ in 0..m {
        let x = rng.gen_range(0..n);
        let y = (x + rng.gen_range(1..n)) % n;
        let pair = if rng.gen::<f64>() < sigmoid(REWARD[x] - REWARD[y]) {
            (x, y)
        } else {
            (y, x)
        };
        c[usize::from(!sampled_step(class, reference, pair)?)] += 1;
    }
    Ok(c)
}

/// The relative error in the displacement probability `p` that the witness detects with
/// probability at least `1 - CONTROL_MISS`: a sampler whose pairs, winners or steps are off
/// enough to move `p` by a quarter fails it.
pub const DETECTED_RELATIVE_ERROR: f64 = 0.25;

/// The witness (module docs): sample size
/// `m = max(100/min(p, 1 - p), z^2 (1 - p)/p, lambda (1 - p)/(d^2 p))`, with `z^2` the
/// chi-square(1) critical value at `1e-6` and `lambda` the noncentrality at which that test
/// has power `1 - CONTROL_MISS` ([`chi_square_noncentrality`]): every expected count is at
/// least 100, the tabular control's statistic `m p/(1 - p)` exceeds the critical value, and a
/// sampled law with displacement probability `p (1 +- d)`, `d =` [`DETECTED_RELATIVE_ERROR`],
/// whose Pearson noncentrality is `m d^2 p/(1 - p)`, is rejected with probability at least
/// `1 - CONTROL_MISS` (at the earlier size, `100/min(p, 1 - p)` draws, only a shift by more
/// than `p` itself was: `d^2 >= lambda (1 - p)/100 = 1.36` here).
pub fn sampled_displacement(seed: u64) -> Result<WitnessOutcome> {
    let n = REWARD.len();
    let base = Dist::uniform(n)?;
    let phi = features();
    let class = LogLinearClass::new(base.clone(), phi.clone())?;
    let p = exact_displacement(&class, &phi, &base)?;
    if !(p > 0.0 && p < 1.0) {
        return Err(Error::InvalidInput(format!("displacement probability {p}")));
    }
    let z = upper_normal_quantile(FALSE_ALARM_RATE / 2.0)?;
    let lambda = chi_square_noncentrality(1.0, FALSE_ALARM_RATE, CONTROL_MISS)?;
    let d2 = DETECTED_RELATIVE_ERROR * DETECTED_RELATIVE_ERROR;
    let m = (100.0 / p.min(1.0 - p))
        .max(z * z * (1.0 - p) / p * 1.01)
        .max(lambda * (1.0 - p) / (d2 * p))
        .ceil() as u64;
    let exact = [p, 1.0 - p];
    let main = chi_square_gof(&counts(&class, &base, m, seed, 0)?, &exact)?;
    let tabular = LogLinearClass::new(base.clone(), DMatrix::identity(n, n))?;
    let control = chi_square_gof(&counts(&tabular, &base, m, seed, 1)?, &exact)?;
    Ok(WitnessOutcome {
        name: "sampled dpo steps in a two-feature log-linear class".into(),
        statistic: main.statistic,
        p_value: main.p_value,
        false_alarm_rate: FALSE_ALARM_RATE,
        passed: !main.rejects(FALSE_ALARM_RATE),
        control_rejected: control.rejects(FALSE_ALARM_RATE),
    })
}
