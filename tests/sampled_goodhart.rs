//! A sampled witness for the Gaussian Goodhart model: Monte Carlo best-of-N in the bivariate
//! normal, z-tested against `rho e_N` at the false-alarm rate `FALSE_ALARM_RATE = 1e-6`, with
//! the negative control `rho e_{N -+ 1}`. The test is the library's
//! `sample::witness::means::gaussian_best_of_n`; here it runs at several seeds.

use rlhf_claims::sample::witness::means::gaussian_best_of_n;
use rlhf_claims::Result;

#[test]
fn monte_carlo_best_of_n_matches_rho_e_n() -> Result<()> {
    for seed in 40..44 {
        let o = gaussian_best_of_n(seed)?;
        eprintln!("seed {seed}: {o:?}");
        assert!(o.passed && o.control_rejected, "seed {seed}: {o:?}");
    }
    Ok(())
}
