//! The two sampled witnesses for the tilt (Metropolis-Hastings with independence proposals, and
//! softmax policy gradient with a sampled KL penalty) against the exact solver `solve::tilt`.
//!
//! Every comparison is a Pearson chi-square goodness-of-fit test run at level
//! `FALSE_ALARM_RATE / 2`; the other `FALSE_ALARM_RATE / 2` of the budget pays for the draws not
//! being exactly i.i.d. from the null law (see each test), so each test's false-alarm rate is at
//! most `FALSE_ALARM_RATE = 1e-6` (up to the chi-square approximation, which is accurate here:
//! every expected count is above 400). Each test has a negative control: the same counts
//! are tested against the tilt at `1.1 beta`, and the sample size is chosen so that this test
//! rejects with probability at least `1 - 3e-7` (see [`sample_size`]); the test asserts that it
//! does.

use rlhf_claims::divergence::tv;
use rlhf_claims::sample::metropolis::{
    metropolis_tilt, regeneration_probability, thinning_for_coupling, MetropolisConfig,
};
use rlhf_claims::sample::policy_gradient::{policy_gradient_tilt, PolicyGradientConfig};
use rlhf_claims::sample::{seeded_rng, DistSampler};
use rlhf_claims::solve::tilt;
use rlhf_claims::stats::{chi_square_gof, histogram, FALSE_ALARM_RATE};
use rlhf_claims::{Dist, Error, Result};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Level of each chi-square test.
const TEST_LEVEL: f64 = FALSE_ALARM_RATE / 2.0;
/// Probability allowed for the draws to differ from i.i.d. draws of the null law.
const COUPLING_BUDGET: f64 = FALSE_ALARM_RATE / 2.0;
/// The wrong temperature of the negative controls, as a multiple of the true one.
const CONTROL_FACTOR: f64 = 1.1;
/// Standard deviations between the control statistic's mean and the critical value.
const POWER_Z: f64 = 5.0;

/// A tilt problem.
struct Instance {
    name: &'static str,
    base: Vec<f64>,
    reward: Vec<f64>,
    beta: f64,
}

/// The instances: mixed-sign rewards; ties (two outcomes share the maximum reward, a uniform
/// base); a zero in the base at the outcome of highest reward (it must keep zero mass); and six
/// outcomes with rewards of mixed sign and scale; a rare argmax (base mass 0.02, tilted mass
/// 0.37), where the independence sampler accepts rarely (`eps = 0.053`) and needs a long
/// thinning, and policy gradient must raise a small logit. Each has a reward that is not constant on the
/// support, so the tilt at `1.1 beta` differs from the tilt at `beta` and the control can reject.
fn instances() -> Vec<Instance> {
    vec![
        Instance {
            name: "mixed-sign",
            base: vec![0.1, 0.2, 0.3, 0.4],
            reward: vec![1.0, 0.0, 2.0, -1.0],
            beta: 1.0,
        },
        Instance {
            name: "ties",
            base: vec![0.25; 4],
            reward: vec![1.0, 1.0, 0.0, -0.5],
            beta: 0.8,
        },
        Instance {
            name: "zero-in-base",
            base: vec![0.3, 0.0, 0.5, 0.2],
            reward: vec![0.0, 5.0, 1.0, -2.0],
            beta: 1.5,
        },
        Instance {
            name: "six-outcomes",
            base: vec![0.05, 0.15, 0.2, 0.3, 0.1, 0.2],
            reward: vec![-3.0, 0.5, 0.25, -0.75, 2.5, 1.0],
            beta: 2.0,
        },
        Instance {
            name: "rare-argmax",
            base: vec![0.02, 0.49, 0.49],
            reward: vec![3.0, 0.0, -1.0],
            beta: 1.0,
        },
    ]
}

/// The exact tilt at `beta` (the null) and at `CONTROL_FACTOR * beta` (the control).
fn exact_and_control(inst: &Instance, base: &Dist) -> Result<(Dist, Dist)> {
    let exact = tilt(base, &inst.reward, inst.beta)?.solution.policy;
    let control = tilt(base, &inst.reward, CONTROL_FACTOR * inst.beta)?
        .solution
        .policy;
    Ok((exact, control))
}

/// The sample size at which the chi-square test of draws from `truth` against `wrong` rejects
/// at `TEST_LEVEL` with probability at least `1 - 3e-7`.
///
/// Under `truth`, Pearson's statistic against `wrong` is approximately noncentral chi-square with
/// `d = |supp wrong| - 1` degrees of freedom and noncentrality `lambda = m D`,
/// `D = sum (truth - wrong)^2 / wrong`, of mean `d + lambda` and variance `2 (d + 2 lambda)`. We
/// require the mean to exceed the critical value `c` by `z = POWER_Z = 5` standard deviations;
/// by the normal approximation the power is then at least `1 - 2.9e-7`, and the approximation
/// errs on the safe side because the noncentral chi-square is skewed to the right (its left tail
/// is lighter than the normal one). With `s = sqrt(2 (d + 2 lambda))` the requirement
/// `d + lambda - c >= z s` reads `s^2 - 4 z s + 2 d - 4 c >= 0`, i.e.
/// `s >= 2 z + sqrt(4 z^2 - 2 d + 4 c)`, whence `lambda = (s^2 - 2 d)/4` and `m = ceil(lambda / D)`.
fn sample_size(truth: &Dist, wrong: &Dist) -> Result<usize> {
    let divergence: f64 = truth
        .probs()
        .iter()
        .zip(wrong.probs())
        .filter(|(_, &q)| q > 0.0)
        .map(|(p, q)| (p - q).powi(2) / q)
        .sum();
    let d = wrong.support().count() as f64 - 1.0;
    let chi = ChiSquared::new(d).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let c = chi.inverse_cdf(1.0 - TEST_LEVEL);
    let z = POWER_Z;
    let s = 2.0 * z + (4.0 * z * z - 2.0 * d + 4.0 * c).sqrt();
    let lambda = (s * s - 2.0 * d) / 4.0;
    let m = (lambda / divergence).ceil();
    if !(m.is_finite() && m <= 1e7) {
        return Err(Error::InvalidInput(format!(
            "the control is too close to the null for a test of this size: D = {divergence:e}"
        )));
    }
    Ok(m as usize)
}

/// The main test and the control on the same counts, with their assertions.
fn test_and_control(name: &str, counts: &[u64], exact: &Dist, control: &Dist) -> Result<()> {
    let main = chi_square_gof(counts, exact.probs())?;
    let ctrl = chi_square_gof(counts, control.probs())?;
    eprintln!(
        "    {name}: p = {:.4} (chi2 = {:.2}, dof {}), control at {CONTROL_FACTOR} beta: p = {:.3e} (chi2 = {:.1})",
        main.p_value, main.statistic, main.dof, ctrl.p_value, ctrl.statistic
    );
    assert!(
        !main.rejects(TEST_LEVEL),
        "{name}: the exact tilt is rejected, p = {}",
        main.p_value
    );
    assert!(
        ctrl.rejects(TEST_LEVEL),
        "{name}: the tilt at {CONTROL_FACTOR} beta is not rejected, p = {}",
        ctrl.p_value
    );
    Ok(())
}

/// Outcomes of base probability zero must never be drawn.
fn assert_no_mass_off_support(name: &str, base: &Dist, counts: &[u64]) {
    for (i, &c) in counts.iter().enumerate() {
        assert!(
            base.in_support(i) || c == 0,
            "{name}: outcome {i} has base probability 0 but {c} draws"
        );
    }
}

/// Metropolis-Hastings (independence proposals from `pi0`) against the exact tilt.
///
/// False-alarm rate at most `1e-6`: the chain's kernel dominates `eps pi_beta` with
/// `eps = E_pi0[exp((r - r*)/beta)]` (the independence sampler's acceptance bound, see
/// `sample::metropolis`), so with the thinning `k` of `thinning_for_coupling` the `m` recorded
/// states are exactly i.i.d. `pi_beta` except on an event of probability at most
/// `m (1 - eps)^k <= COUPLING_BUDGET = 5e-7`; the chi-square test at `TEST_LEVEL = 5e-7` on
/// i.i.d. draws adds the rest. No burn-in is needed for that argument (the first block is
/// covered like the others); one block of burn-in is run anyway.
/// Control: the same counts against the tilt at `1.1 beta` must be rejected.
#[test]
fn metropolis_matches_the_tilt_and_rejects_a_wrong_beta() -> Result<()> {
    for (seed, inst) in (1000u64..).zip(instances()) {
        let base = Dist::new(inst.base.clone())?;
        let (exact, control) = exact_and_control(&inst, &base)?;
        let m = sample_size(&exact, &control)?;
        let k = thinning_for_coupling(&base, &inst.reward, inst.beta, m, COUPLING_BUDGET)?;
        let eps = regeneration_probability(&base, &inst.reward, inst.beta)?;
        let config = MetropolisConfig {
            samples: m,
            burn_in: k,
            thin: k,
        };
        let run = metropolis_tilt(&base, &inst.reward, inst.beta, config, seed)?;
        eprintln!(
            "metropolis {}: m = {m}, eps = {eps:.4}, thin = {k}, acceptance = {:.3}",
            inst.name, run.acceptance_rate
        );
        let counts = run.counts();
        assert_eq!(counts.iter().sum::<u64>(), m as u64);
        assert_no_mass_off_support(inst.name, &base, &counts);
        test_and_control(inst.name, &counts, &exact, &control)?;
    }
    Ok(())
}

/// Policy gradient against the exact tilt, twice: directly, and by draws from the learned
/// policy.
///
/// 1. Direct (false-alarm rate 0 up to rounding): the run's stationarity residual `delta`, a
///    function of the learned policy, `pi0`, `r` and `beta` only, implies
///    `TV(policy, pi_beta) <= 1 - e^{-delta}` (a theorem, see `sample::policy_gradient`); we
///    assert it against the exact solver's tilt, and as control that the tilt at `1.1 beta`
///    violates it.
/// 2. Sampled (false-alarm rate at most `1e-6`): `m` i.i.d. draws from the learned policy can be
///    coupled with `m` i.i.d. draws from `pi_beta` so that they differ with probability at most
///    `m TV <= m (1 - e^{-delta})`; we require (and assert) that this is at most
///    `COUPLING_BUDGET = 5e-7` (a convergence requirement on the run: with a constant step the
///    iteration converges linearly, because the gradient noise vanishes at the tilt), and test
///    the counts at `TEST_LEVEL = 5e-7`. Control: the same counts against the tilt at
///    `1.1 beta` must be rejected.
#[test]
fn policy_gradient_matches_the_tilt_and_rejects_a_wrong_beta() -> Result<()> {
    for (seed, inst) in (2000u64..).zip(instances()) {
        let base = Dist::new(inst.base.clone())?;
        let (exact, control) = exact_and_control(&inst, &base)?;
        let config = PolicyGradientConfig {
            iterations: 20_000,
            batch_size: 16,
            // eta beta = 1/2: stable (module docs of `sample::policy_gradient`).
            step_size: 0.5 / inst.beta,
            decay: 0.0,
        };
        let run = policy_gradient_tilt(&base, &inst.reward, inst.beta, config, seed)?;
        let bound = run.tv_bound();
        // Rounding: each probability is within a few ulps of its value and TV sums n of their
        // differences, so 16 n EPSILON (<= 2.2e-14) covers the arithmetic in `tv` and `tilt`.
        let rounding = 16.0 * base.len() as f64 * f64::EPSILON;
        let tv_exact = tv(&run.policy, &exact)?;
        let tv_control = tv(&run.policy, &control)?;
        let m = sample_size(&exact, &control)?;
        eprintln!(
            "policy gradient {}: residual = {:.2e}, TV bound = {bound:.2e}, TV to tilt = {tv_exact:.2e}, \
             TV to control = {tv_control:.2e}, m = {m}",
            inst.name, run.residual
        );
        assert!(
            tv_exact <= bound + rounding,
            "{}: TV above bound",
            inst.name
        );
        assert!(
            tv_control > bound + rounding,
            "{}: control within bound",
            inst.name
        );
        assert!(
            m as f64 * bound <= COUPLING_BUDGET,
            "{}: policy gradient did not converge far enough for the sampled test",
            inst.name
        );
        for i in (0..base.len()).filter(|&i| !base.in_support(i)) {
            assert_eq!(
                run.policy.prob(i),
                0.0,
                "{}: mass off the support",
                inst.name
            );
        }
        let sampler = DistSampler::new(&run.policy)?;
        let mut rng = seeded_rng(seed + 500);
        let counts = histogram((0..m).map(|_| sampler.draw(&mut rng)), base.len());
        assert_no_mass_off_support(inst.name, &base, &counts);
        test_and_control(inst.name, &counts, &exact, &control)?;
    }
    Ok(())
}

/// Both witnesses are deterministic for a seed and depend on it.
#[test]
fn witnesses_are_reproducible_from_their_seed() -> Result<()> {
    let inst = &instances()[0];
    let base = Dist::new(inst.base.clone())?;
    let config = MetropolisConfig {
        samples: 200,
        burn_in: 5,
        thin: 3,
    };
    let mh = |seed| metropolis_tilt(&base, &inst.reward, inst.beta, config, seed);
    assert_eq!(mh(5)?, mh(5)?);
    assert_ne!(mh(5)?.samples, mh(6)?.samples);
    let config = PolicyGradientConfig {
        iterations: 50,
        batch_size: 4,
        step_size: 0.5,
        decay: 0.01,
    };
    let pg = |seed| policy_gradient_tilt(&base, &inst.reward, inst.beta, config, seed);
    assert_eq!(pg(5)?, pg(5)?);
    assert_ne!(pg(5)?.policy, pg(6)?.policy);
    Ok(())
}

/// Number of chains in the calibration test.
const CALIBRATION_RUNS: u64 = 100;
/// Recorded states per chain in the calibration test.
const CALIBRATION_SAMPLES: usize = 1000;
/// Bins of the p-value histogram in the calibration test (expected count 10 each).
const CALIBRATION_BINS: usize = 10;

/// p-values of the chi-square test of `CALIBRATION_RUNS` independent chains on `inst`, each
/// thinned by `thin`.
fn calibration_p_values(inst: &Instance, thin: usize) -> Result<Vec<f64>> {
    let base = Dist::new(inst.base.clone())?;
    let exact = tilt(&base, &inst.reward, inst.beta)?.solution.policy;
    let config = MetropolisConfig {
        samples: CALIBRATION_SAMPLES,
        burn_in: thin,
        thin,
    };
    (0..CALIBRATION_RUNS)
        .map(|seed| {
            let run = metropolis_tilt(&base, &inst.reward, inst.beta, config, 7000 + seed)?;
            Ok(chi_square_gof(&run.counts(), exact.probs())?.p_value)
        })
        .collect()
}

/// Chi-square test that `p_values` are uniform on `[0, 1]`, on `CALIBRATION_BINS` equal bins.
fn uniformity(p_values: &[f64]) -> Result<rlhf_claims::stats::TestResult> {
    let bins = p_values
        .iter()
        .map(|p| ((p * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1));
    let counts = histogram(bins, CALIBRATION_BINS);
    chi_square_gof(&counts, &[1.0 / CALIBRATION_BINS as f64; CALIBRATION_BINS])
}

/// The thinning rule is what makes the Metropolis test calibrated: over 100 independent chains
/// on the instance with the slowest mixing (`rare-argmax`, acceptance 0.5), the p-values of the
/// chi-square test are uniform when the chains are thinned by `thinning_for_coupling`, and far
/// from uniform when every state is recorded (successive states repeat with probability about
/// 1/2, which inflates the statistic).
///
/// False-alarm rate at most `1e-6 + 1e-7`: the uniformity test runs at `FALSE_ALARM_RATE`; each
/// chain's coupling budget is `1e-9`, so all 100 chains are exactly i.i.d. draws except with
/// probability `1e-7`; the p-values of Pearson's test with expected counts above 150 are uniform
/// up to the chi-square approximation, a deviation a 100-run histogram cannot resolve.
/// Negative control: the same uniformity test on unthinned chains must reject.
#[test]
fn metropolis_test_is_calibrated_only_with_the_thinning_rule() -> Result<()> {
    let inst = instances()
        .into_iter()
        .find(|i| i.name == "rare-argmax")
        .ok_or(Error::InvalidInput(
            "instance rare-argmax is missing".into(),
        ))?;
    let base = Dist::new(inst.base.clone())?;
    let thin = thinning_for_coupling(&base, &inst.reward, inst.beta, CALIBRATION_SAMPLES, 1e-9)?;
    let thinned = uniformity(&calibration_p_values(&inst, thin)?)?;
    let unthinned = uniformity(&calibration_p_values(&inst, 1)?)?;
    eprintln!(
        "calibration (thin = {thin}): uniformity p = {:.4}; unthinned: p = {:.3e}",
        thinned.p_value, unthinned.p_value
    );
    assert!(
        !thinned.rejects(FALSE_ALARM_RATE),
        "thinned p-values not uniform"
    );
    assert!(
        unthinned.rejects(FALSE_ALARM_RATE),
        "unthinned p-values look uniform"
    );
    Ok(())
}
