//! Sampled witnesses for the `pref` and `estimator` families.

use rlhf_claims::sample::dpo::{dpo_sgd, DpoSgdConfig};
use rlhf_claims::sample::kl_estimate::sample_means;
use rlhf_claims::sample::{seeded_rng, DistSampler};
use rlhf_claims::solve::kl_estimator::{moments, ESTIMATORS};
use rlhf_claims::solve::tilt;
use rlhf_claims::stats::{chi_square_gof, histogram, z_test_mean, FALSE_ALARM_RATE};
use rlhf_claims::Dist;

/// Draws per goodness-of-fit test of the SGD policy.
const DRAWS: usize = 20_000;

fn counts_from(policy: &Dist, seed: u64) -> Vec<u64> {
    let sampler = DistSampler::new(policy).expect("sampler");
    let mut rng = seeded_rng(seed);
    histogram((0..DRAWS).map(|_| sampler.draw(&mut rng)), policy.len())
}

/// DPO by SGD (2e6 sampled Bradley-Terry comparisons, Polyak averaging) converges to the tilt.
///
/// Test: 20,000 draws from the SGD policy, Pearson chi-square against the exact tilt at the
/// false-alarm rate `FALSE_ALARM_RATE = 1e-6` (the rate a sampler drawing exactly from the tilt
/// fails it). The SGD's own error (measured: at most 5e-3 in the log-ratios, 1.5e-3 in the
/// probabilities, after 2e6 steps) adds a non-centrality `20000 * sum dp^2/p ~ 0.25` to a
/// statistic with 3 degrees of freedom whose 1e-6 critical value is about 31, so it changes that
/// rate negligibly. Negative control: the same draws against the tilt at
/// `1.1 beta` must be rejected.
#[test]
fn dpo_sgd_converges_to_the_tilt_and_rejects_beta_off_by_ten_percent() {
    let base = Dist::new(vec![0.4, 0.3, 0.2, 0.1]).expect("base");
    let reward = [0.0, 1.0, 2.0, 3.0];
    let beta = 1.5;
    let learned = dpo_sgd(&base, &reward, beta, DpoSgdConfig::default()).expect("sgd");
    let counts = counts_from(&learned, 17);
    let exact = tilt(&base, &reward, beta).expect("tilt");
    let test = chi_square_gof(&counts, exact.solution.policy.probs()).expect("gof");
    assert!(!test.rejects(FALSE_ALARM_RATE), "{test:?}");
    let wrong = tilt(&base, &reward, 1.1 * beta).expect("tilt");
    let control = chi_square_gof(&counts, wrong.solution.policy.probs()).expect("gof");
    assert!(control.rejects(FALSE_ALARM_RATE), "{control:?}");
}

/// Sample means of k1, k2, k3 over 1e6 draws agree with their exact expectations within their
/// exact standard errors: two-sided z-tests at `FALSE_ALARM_RATE = 1e-6` each (the three tests
/// together fail a correct sampler with probability at most 3e-6), using the exact variances.
/// Negative control: each sample mean against its exact expectation plus 10% of the KL must be
/// rejected.
#[test]
fn k_estimator_sample_means_match_exact_moments() {
    let base = Dist::new(vec![0.1, 0.2, 0.3, 0.4]).expect("base");
    let policy = Dist::new(vec![0.4, 0.3, 0.2, 0.1]).expect("policy");
    let n = 1_000_000u64;
    let means = sample_means(&policy, &base, n, 23).expect("sample");
    let kl = rlhf_claims::divergence::kl(&policy, &base).expect("kl");
    for (k, mean) in ESTIMATORS.into_iter().zip(means) {
        let m = moments(&policy, &base, k).expect("moments");
        let sd = m.variance.sqrt();
        let ok = z_test_mean(mean, m.mean, sd, n).expect("z");
        assert!(!ok.rejects(FALSE_ALARM_RATE), "{}: {ok:?}", k.name());
        let off = z_test_mean(mean, m.mean + 0.1 * kl, sd, n).expect("z");
        assert!(off.rejects(FALSE_ALARM_RATE), "{}: {off:?}", k.name());
    }
}
