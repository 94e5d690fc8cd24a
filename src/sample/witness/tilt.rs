//! Witnesses of the tilt `pi_beta = pi0 exp(r/beta) / Z` (claims `kl.tilt` and
//! `pref.dpo-optimum`): Metropolis-Hastings, softmax policy gradient, and DPO by SGD, each tested
//! against the exact solver [`crate::solve::tilt()`] with the tilt at `1.1 beta` as the negative
//! control.

use super::{chi_square_draws, chi_square_witness, draw_counts, outcome, stream_rng};
use crate::claims::WitnessOutcome;
use crate::dist::Dist;
use crate::divergence::tv;
use crate::error::{Error, Result};
use crate::sample::dpo::{dpo_sgd, DpoSgdConfig};
use crate::sample::metropolis::{metropolis_tilt, thinning_for_coupling, MetropolisConfig};
use crate::sample::metropolis_acceptance::{chain_acceptance_radius, stationary_acceptance};
use crate::sample::policy_gradient::{policy_gradient_tilt, PolicyGradientConfig};
use crate::sample::DistSampler;
use crate::solve::preference::sigmoid;
use crate::solve::tilt;
use crate::stats::{chi_square_noncentrality, chi_square_tail, CONTROL_MISS, FALSE_ALARM_RATE};

/// Level of each chi-square test of the Metropolis and policy-gradient witnesses: half the
/// false-alarm rate.
pub const TEST_LEVEL: f64 = FALSE_ALARM_RATE / 2.0;
/// The other half: the probability allowed for the draws to differ from i.i.d. draws of the
/// exact tilt (a coupling argument, see each witness).
pub const COUPLING_BUDGET: f64 = FALSE_ALARM_RATE / 2.0;
/// The wrong temperature of the negative controls, as a multiple of the true one.
pub const CONTROL_FACTOR: f64 = 1.1;

/// A tilt problem.
#[derive(Debug, Clone, Copy)]
pub struct TiltInstance {
    /// Short name, used in the witness names.
    pub name: &'static str,
    /// The base `pi0` (sums to 1).
    pub base: &'static [f64],
    /// The reward.
    pub reward: &'static [f64],
    /// The temperature.
    pub beta: f64,
}

/// The instances: mixed-sign rewards; ties (two outcomes share the maximum reward, a uniform
/// base); a zero in the base at the outcome of highest reward (it must keep zero mass); six
/// outcomes with rewards of mixed sign and scale; a rare argmax (base mass 0.02, tilted mass
/// 0.37), where the independence sampler accepts rarely (`eps = 0.053`) and needs a long
/// thinning, and policy gradient must raise a small logit. Each reward is not constant on the
/// support, so the tilt at `1.1 beta` differs from the tilt at `beta` and the control can reject.
pub const TILT_INSTANCES: [TiltInstance; 5] = [
    TiltInstance {
        name: "mixed-sign",
        base: &[0.1, 0.2, 0.3, 0.4],
        reward: &[1.0, 0.0, 2.0, -1.0],
        beta: 1.0,
    },
    TiltInstance {
        name: "ties",
        base: &[0.25; 4],
        reward: &[1.0, 1.0, 0.0, -0.5],
        beta: 0.8,
    },
    TiltInstance {
        name: "zero-in-base",
        base: &[0.3, 0.0, 0.5, 0.2],
        reward: &[0.0, 5.0, 1.0, -2.0],
        beta: 1.5,
    },
    TiltInstance {
        name: "six-outcomes",
        base: &[0.05, 0.15, 0.2, 0.3, 0.1, 0.2],
        reward: &[-3.0, 0.5, 0.25, -0.75, 2.5, 1.0],
        beta: 2.0,
    },
    TiltInstance {
        name: "rare-argmax",
        base: &[0.02, 0.49, 0.49],
        reward: &[3.0, 0.0, -1.0],
        beta: 1.0,
    },
];

/// The base, the exact tilt at `beta` (the null) and at `CONTROL_FACTOR beta` (the control).
fn solve(inst: &TiltInstance) -> Result<(Dist, Dist, Dist)> {
    let base = Dist::new(inst.base.to_vec())?;
    let exact = tilt(&base, inst.reward, inst.beta)?.solution.policy;
    let control = tilt(&base, inst.reward, CONTROL_FACTOR * inst.beta)?
        .solution
        .policy;
    Ok((base, exact, control))
}

/// Metropolis-Hastings with independence proposals from `pi0`
/// ([`crate::sample::metropolis`]) against the exact tilt, twice from one run: Pearson's
/// chi-square test of the thinned chain's counts, and the run's acceptance rate against the
/// chain's stationary rate `A` ([`crate::sample::metropolis_acceptance`]), which tests the
/// accept step itself.
///
/// False-alarm rate at most `FALSE_ALARM_RATE = 1e-6`: the chain's kernel dominates
/// `eps pi_beta` with `eps = E_pi0[exp((r - r*)/beta)]`, so with the thinning `k` of
/// [`thinning_for_coupling`] the `m` recorded states are exactly i.i.d. `pi_beta` except on an
/// event of probability at most `m (1 - eps)^k <= COUPLING_BUDGET - ACCEPTANCE_LEVEL = 2.5e-7`;
/// the chi-square test at `TEST_LEVEL = 5e-7` on i.i.d. draws adds its level (up to the
/// chi-square approximation, trusted because every expected count is at least
/// [`super::MIN_WITNESS_EXPECTED`]` = 100`), and the acceptance rate of the `n = k + m k` steps
/// strays beyond its radius `t` ([`chain_acceptance_radius`], a theorem for any start) with
/// probability at most `ACCEPTANCE_LEVEL = 2.5e-7`. One block of burn-in is run, though the
/// coupling argument does not need it.
///
/// Negative control: the same counts against the tilt at `1.1 beta` (`m` is chosen by
/// [`crate::stats::chi_square_sample_size`] so that it is rejected with probability at least
/// `1 - 3e-7`), and the same rate against the stationary rate of the chain at
/// `ACCEPTANCE_CONTROL_FACTOR beta = 2 beta`, rejected when it is more than `t` away (with
/// probability at least `1 - 2.5e-7` wherever the two stationary rates differ by `2t` or more,
/// as on every instance of [`TILT_INSTANCES`]: a test checks it). The reported statistic and
/// p-value are the chi-square test's; `passed` also requires the rate within `t` of `A`.
pub fn metropolis(inst: &TiltInstance, seed: u64) -> Result<WitnessOutcome> {
    let (base, exact, control) = solve(inst)?;
    let controls = [control];
    let (m, k) = metropolis_run_length(inst, &base, &exact, &controls)?;
    let config = MetropolisConfig {
        samples: m,
        burn_in: k,
        thin: k,
    };
    let run = metropolis_tilt(&base, inst.reward, inst.beta, config, seed)?;
    // The coupling bound counts `m` states `k` steps apart: a chain that recorded another
    // number has not run the experiment the false-alarm rate is stated for.
    if run.samples.len() != m {
        return Err(Error::NoConvergence(format!(
            "the chain recorded {} states, not the {m} asked for",
            run.samples.len()
        )));
    }
    let counts = chi_square_witness(
        format!("metropolis-hastings on {}", inst.name),
        &run.counts(),
        &exact,
        &controls,
        TEST_LEVEL,
        TEST_LEVEL + COUPLING_BUDGET,
    )?;
    let rate = acceptance_test(inst, &base, run.acceptance_rate, k + m * k)?;
    Ok(WitnessOutcome {
        passed: counts.passed && rate.0,
        control_rejected: counts.control_rejected && rate.1,
        ..counts
    })
}

/// `(m, k)`: the recorded states the chi-square test needs against `controls`, and the
/// thinning that couples them with i.i.d. draws except with probability
/// `COUPLING_BUDGET - ACCEPTANCE_LEVEL`.
fn metropolis_run_length(
    inst: &TiltInstance,
    base: &Dist,
    exact: &Dist,
    controls: &[Dist],
) -> Result<(usize, usize)> {
    let m = chi_square_draws(exact, controls, TEST_LEVEL)?;
    let coupling = COUPLING_BUDGET - ACCEPTANCE_LEVEL;
    let k = thinning_for_coupling(base, inst.reward, inst.beta, m, coupling)?;
    Ok((m, k))
}

/// Share of the Metropolis witness's coupling budget taken by its acceptance-rate test.
pub const ACCEPTANCE_LEVEL: f64 = COUPLING_BUDGET / 2.0;
/// The temperature of the acceptance-rate test's negative control, as a multiple of the true
/// one (the rate moves too little at [`CONTROL_FACTOR`] for a test of this power).
pub const ACCEPTANCE_CONTROL_FACTOR: f64 = 2.0;

/// `(passed, control rejected)` of the acceptance-rate test of a run of `steps` steps: the rate
/// within the radius of the stationary rate at `beta`, and not within it of the rate at
/// [`ACCEPTANCE_CONTROL_FACTOR`]` beta` (a NaN rate passes neither).
pub fn acceptance_test(
    inst: &TiltInstance,
    base: &Dist,
    rate: f64,
    steps: usize,
) -> Result<(bool, bool)> {
    let t = chain_acceptance_radius(base, inst.reward, inst.beta, steps, ACCEPTANCE_LEVEL)?;
    let a = stationary_acceptance(base, inst.reward, inst.beta)?;
    let wrong = ACCEPTANCE_CONTROL_FACTOR * inst.beta;
    let a_wrong = stationary_acceptance(base, inst.reward, wrong)?;
    Ok(((rate - a).abs() <= t, (rate - a_wrong).abs() > t))
}

/// The policy-gradient run of the witness: 20,000 iterations of batches of 16 at the constant
/// step `0.5 / beta` (`eta beta = 1/2`, stable: module docs of
/// [`crate::sample::policy_gradient`]).
pub fn policy_gradient_config(inst: &TiltInstance) -> PolicyGradientConfig {
    PolicyGradientConfig {
        iterations: 20_000,
        batch_size: 16,
        step_size: 0.5 / inst.beta,
        decay: 0.0,
    }
}

/// Softmax policy gradient with a sampled KL penalty ([`crate::sample::policy_gradient`])
/// against the exact tilt, twice: directly, and by draws from the learned policy.
///
/// 1. Direct (false-alarm rate 0 up to rounding): the run's stationarity residual `delta`, a
///    function of the learned policy, `pi0`, `r` and `beta` only, implies
///    `TV(policy, pi_beta) <= 1 - e^{-delta}` (a theorem); the witness requires it of the exact
///    solver's tilt, and as control that the tilt at `1.1 beta` violates it.
/// 2. Sampled (false-alarm rate at most `FALSE_ALARM_RATE = 1e-6`): `m` i.i.d. draws from the
///    learned policy can be coupled with `m` i.i.d. draws from `pi_beta` so that they differ with
///    probability at most `m TV <= m (1 - e^{-delta})`; the witness requires that this is at most
///    `COUPLING_BUDGET = 5e-7` (a convergence requirement on the run: with a constant step the
///    iteration converges linearly, because the gradient noise vanishes at the tilt), and tests
///    the counts by Pearson's chi-square at `TEST_LEVEL = 5e-7`.
///
/// Negative control: the same counts against the tilt at `1.1 beta` (with `m` from the power
/// calculation, rejected with probability at least `1 - 3e-7`), and the direct bound against it.
/// The reported statistic and p-value are those of the sampled test; `passed` also requires the
/// two conditions above.
pub fn policy_gradient(inst: &TiltInstance, seed: u64) -> Result<WitnessOutcome> {
    let (base, exact, control) = solve(inst)?;
    let run = policy_gradient_tilt(
        &base,
        inst.reward,
        inst.beta,
        policy_gradient_config(inst),
        seed,
    )?;
    let bound = run.tv_bound();
    // Rounding: each probability is within a few ulps of its value and TV sums n of their
    // differences, so 16 n EPSILON (<= 2.2e-14 here) covers the arithmetic in `tv` and `tilt`.
    let rounding = 16.0 * base.len() as f64 * f64::EPSILON;
    let within = tv(&run.policy, &exact)? <= bound + rounding;
    let control_outside = !(tv(&run.policy, &control)? <= bound + rounding);
    let controls = [control];
    let m = chi_square_draws(&exact, &controls, TEST_LEVEL)?;
    let coupled = m as f64 * bound <= COUPLING_BUDGET;
    let sampler = DistSampler::new(&run.policy)?;
    let mut rng = stream_rng(seed, 1);
    let counts = draw_counts(m, base.len(), || Ok(sampler.draw(&mut rng)))?;
    let mut o = chi_square_witness(
        format!("policy gradient on {}", inst.name),
        &counts,
        &exact,
        &controls,
        TEST_LEVEL,
        TEST_LEVEL + COUPLING_BUDGET,
    )?;
    o.passed &= within && coupled;
    o.control_rejected &= control_outside;
    Ok(o)
}

/// The DPO instance: four outcomes, base `(0.4, 0.3, 0.2, 0.1)`, rewards `(0, 1, 2, 3)`,
/// `beta = 1.5`.
pub const DPO_INSTANCE: TiltInstance = TiltInstance {
    name: "four-outcomes",
    base: &[0.4, 0.3, 0.2, 0.1],
    reward: &[0.0, 1.0, 2.0, 3.0],
    beta: 1.5,
};

/// The fewest SGD steps the DPO witness runs (`2e5`), however small the power calculation's
/// answer: the Wald statistic's chi-square law is asymptotic in the number of steps.
pub const DPO_MIN_STEPS: u64 = 200_000;

/// The SGD schedule of the DPO witness: `steps` steps of size `1 / (1 + t/100)`, averaged over
/// the second half.
///
/// Why not the default `alpha = 0.6`: the averaged iterate's bias is of the order of the last
/// step, `sqrt(n)` times larger in units of the Wald statistic's noise; measured on
/// [`DPO_INSTANCE`] over 100 runs of `1e6` steps, `alpha = 0.6` gives a mean Wald statistic of
/// 14 (3 is the chi-square mean), `alpha = 0.75` about 4.6, and `alpha = 1` with `t0 = 100`
/// about 3 with variance near 6 (the chi-square values), also at `2e5` steps.
pub fn dpo_config(steps: u64, seed: u64) -> DpoSgdConfig {
    DpoSgdConfig {
        steps,
        step_size: 1.0,
        decay_steps: 100.0,
        decay_power: 1.0,
        seed,
    }
}

/// `u^T I u` for the Fisher information `I` of one sampled comparison at the tilt, in the
/// log-ratios `h = log(pi/pi0)` on `support`: with `P` the number of unordered pairs,
///
/// ```text
/// u^T I u = (beta^2 / P) sum_{a < b} sigma(r_a - r_b) sigma(r_b - r_a) (u_a - u_b)^2.
/// ```
///
/// Derivation: the pair `{a, b}` is drawn with probability `1/P`; at the optimum
/// `beta (h_a - h_b) = r_a - r_b =: D`, the loss gradient is `beta X (e_a - e_b)` with `X =
/// -sigma(-D)` when `a` wins (probability `sigma(D)`) and `X = sigma(D)` otherwise, so its mean
/// is 0 and its covariance is `beta^2 sigma(D) sigma(-D) (e_a - e_b)(e_a - e_b)^T`, which is also
/// the expected Hessian of `-log sigma(beta (h_w - h_l))`. The form vanishes on constants (`h`
/// is defined up to one).
fn dpo_information(support: &[usize], reward: &[f64], beta: f64, u: &[f64]) -> f64 {
    let mut total = 0.0;
    let mut pairs = 0usize;
    for (k, &a) in support.iter().enumerate() {
        for &b in &support[k + 1..] {
            let d = reward[a] - reward[b];
            total += sigmoid(d) * sigmoid(-d) * (u[a] - u[b]).powi(2);
            pairs += 1;
        }
    }
    beta * beta * total / pairs.max(1) as f64
}

/// `log p - log q` on `support` (0 elsewhere).
fn log_difference(p: &Dist, q: &Dist, support: &[usize]) -> Vec<f64> {
    let mut u = vec![0.0; p.len()];
    for &x in support {
        u[x] = p.log_prob(x) - q.log_prob(x);
    }
    u
}

/// The number of SGD steps of the DPO witness: twice the number of averaged iterates at which
/// the Wald statistic against the tilt at `1.1 beta` has the noncentrality
/// [`chi_square_noncentrality`] asks for (power `1 - 3e-7` at level `1e-6`), and at least
/// [`DPO_MIN_STEPS`].
pub fn dpo_steps() -> Result<u64> {
    let (base, exact, control) = solve(&DPO_INSTANCE)?;
    let support: Vec<usize> = base.support().collect();
    let delta = log_difference(&control, &exact, &support);
    let per_step = dpo_information(&support, DPO_INSTANCE.reward, DPO_INSTANCE.beta, &delta);
    let dof = support.len() as f64 - 1.0;
    let lambda = chi_square_noncentrality(dof, FALSE_ALARM_RATE, CONTROL_MISS)?;
    let averaged = (lambda / per_step).ceil();
    if !(averaged <= crate::stats::MAX_SAMPLE_SIZE) {
        return Err(Error::InvalidInput(format!(
            "the DPO control is too close to the tilt: {averaged:e} steps"
        )));
    }
    Ok((2 * averaged as u64).max(DPO_MIN_STEPS))
}

/// DPO by SGD on sampled Bradley-Terry comparisons ([`crate::sample::dpo`], schedule
/// [`dpo_config`]) against the exact tilt: a Wald test of the averaged iterate.
///
/// With `h_bar` the average of the `n` iterates of the second half of the run and
/// `h* = log(pi_beta/pi0)`, the statistic is `W = n (h_bar - h*)^T I (h_bar - h*)`, `I` the
/// Fisher information of one comparison (`dpo_information`). For Polyak-Ruppert averaging the
/// Polyak-Juditsky theorem gives `sqrt(n) (h_bar - h*) -> N(0, I^+ S I^+)` with `S` the gradient
/// covariance at the optimum; here `S = I` (the model is well specified), so `W` is
/// asymptotically chi-square with `|supp pi0| - 1 = 3` degrees of freedom (the iterates keep
/// `sum h = 0`). The witness tests `W` at `FALSE_ALARM_RATE = 1e-6`.
///
/// This false-alarm rate is asymptotic, not a bound, and the schedule `1/(1 + t/100)` is at the
/// edge of the theorem's `alpha < 1`; the chi-square law was measured instead: over 2000 runs of
/// `2e5` steps, `W` had mean 2.88 and variance 5.4 (chi-square: 3 and 6), 20 runs above the 99%
/// quantile (20 expected) and none above the 99.9% one (2 expected), so if anything `W` is
/// slightly smaller than chi-square and the test conservative. `tests/sampled_pref.rs` repeats a
/// smaller calibration (64 runs) with the default `alpha = 0.6` schedule as its control.
///
/// Negative control: the same statistic with `h*` the log-ratio of the tilt at `1.1 beta`; the
/// run length from [`dpo_steps`] makes it reject with probability at least `1 - 3e-7`.
pub fn dpo(seed: u64) -> Result<WitnessOutcome> {
    dpo_with_config(dpo_config(dpo_steps()?, seed))
}

/// [`dpo`] with another SGD run (for calibration).
pub fn dpo_with_config(config: DpoSgdConfig) -> Result<WitnessOutcome> {
    let inst = DPO_INSTANCE;
    let (base, exact, control) = solve(&inst)?;
    let learned = dpo_sgd(&base, inst.reward, inst.beta, config)?;
    let support: Vec<usize> = base.support().collect();
    let averaged = (config.steps - config.steps / 2) as f64;
    let dof = support.len() as f64 - 1.0;
    let wald = |target: &Dist| {
        let u = log_difference(&learned, target, &support);
        chi_square_tail(
            averaged * dpo_information(&support, inst.reward, inst.beta, &u),
            dof,
        )
    };
    Ok(outcome(
        format!("dpo by sgd on {}", inst.name),
        &wald(&exact)?,
        FALSE_ALARM_RATE,
        FALSE_ALARM_RATE,
        &[wald(&control)?],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Metropolis and policy-gradient witnesses report, by a union bound, the chi-square
    /// test's level plus the probability that the draws differ from i.i.d. draws of the tilt;
    /// the two halves add up to the suite's `FALSE_ALARM_RATE` (a larger sum fails the claim's
    /// verdict in `run_with_witnesses`).
    #[test]
    fn the_test_level_and_the_coupling_budget_add_up_to_the_reported_rate() {
        assert_eq!(TEST_LEVEL + COUPLING_BUDGET, FALSE_ALARM_RATE);
    }

    /// On every instance the stationary acceptance rates at `beta` and at the control's `2 beta`
    /// differ by at least twice the radius of the witness's run, so a run within the radius of
    /// the one is outside it of the other: the control is rejected whenever the test passes.
    #[test]
    fn the_acceptance_control_is_two_radii_away_on_every_instance() -> Result<()> {
        for inst in &TILT_INSTANCES {
            let (base, exact, control) = solve(inst)?;
            let (m, k) = metropolis_run_length(inst, &base, &exact, &[control])?;
            let t = chain_acceptance_radius(
                &base,
                inst.reward,
                inst.beta,
                k + m * k,
                ACCEPTANCE_LEVEL,
            )?;
            let a = stationary_acceptance(&base, inst.reward, inst.beta)?;
            let wrong =
                stationary_acceptance(&base, inst.reward, ACCEPTANCE_CONTROL_FACTOR * inst.beta)?;
            assert!(
                (a - wrong).abs() >= 2.0 * t,
                "{}: {a} {wrong} {t}",
                inst.name
            );
            // A rate at the stationary value passes and rejects the control; a NaN does neither.
            assert_eq!(acceptance_test(inst, &base, a, k + m * k)?, (true, true));
            assert_eq!(
                acceptance_test(inst, &base, f64::NAN, k + m * k)?,
                (false, false)
            );
        }
        Ok(())
    }
}
