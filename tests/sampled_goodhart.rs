//! A sampled witness for the Gaussian Goodhart model, compared with the exact values by statistical tests
//! at the crate's false-alarm rate `FALSE_ALARM_RATE = 1e-6`, with a negative control.

use rand::Rng;
use rand_distr::StandardNormal;
use rlhf_claims::goodhart::gaussian;
use rlhf_claims::sample::seeded_rng;
use rlhf_claims::stats::{z_test_mean, FALSE_ALARM_RATE};

/// Monte Carlo best-of-N in the bivariate normal (`rho = 0.6`, `N = 16`, 20000 rounds, seed
/// 41): draw `N` pairs `(U, V)` with `V = rho U + sqrt(1 - rho^2) Z`, keep the pair of largest
/// `U`, and z-test the mean kept `V` against `rho e_N` (standard deviation estimated from the
/// sample; the kept `V` has finite variance `rho^2 Var(max) + 1 - rho^2 < 1`). The z-test at
/// `1e-6` must accept `rho e_N` and reject the negative control `rho e_N` with `N = 14`
/// (`rho (e_16 - e_14) = 0.6 (1.76599 - 1.70338) = 0.0376`; the standard error is about
/// `0.875 / sqrt(20000) = 0.0062`, so about 6 standard errors, beyond the `4.9` of `1e-6`).
#[test]
fn monte_carlo_best_of_n_matches_rho_e_n() {
    let (rho, n, rounds) = (0.6f64, 16usize, 20_000u64);
    let mut rng = seeded_rng(41);
    let c = (1.0 - rho * rho).sqrt();
    let kept: Vec<f64> = (0..rounds)
        .map(|_| {
            let mut best = (f64::NEG_INFINITY, 0.0);
            for _ in 0..n {
                let u: f64 = rng.sample(StandardNormal);
                let z: f64 = rng.sample(StandardNormal);
                if u > best.0 {
                    best = (u, rho * u + c * z);
                }
            }
            best.1
        })
        .collect();
    let mean = kept.iter().sum::<f64>() / rounds as f64;
    let var = kept.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (rounds - 1) as f64;
    let exact = gaussian::best_of_n(n as u64, rho)
        .expect("valid")
        .expected_true;
    let test = z_test_mean(mean, exact, var.sqrt(), rounds).expect("valid test");
    assert!(!test.rejects(FALSE_ALARM_RATE), "{test:?}");
    let wrong = gaussian::best_of_n(14, rho).expect("valid").expected_true;
    let control = z_test_mean(mean, wrong, var.sqrt(), rounds).expect("valid test");
    assert!(control.rejects(FALSE_ALARM_RATE), "{control:?}");
}
