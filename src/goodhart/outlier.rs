//! The adversarial-outlier model (claim `goodhart.outlier`): `M` ordinary outputs with rewards
//! `r_i = top * i / (M - 1)`, `i = 0..M-1` (spread uniformly on `[0, top]`), and one adversarial
//! output with reward `adversarial > top`; the base is uniform on the `M + 1` outputs. The
//! catalog's instance is `M = 10^6`, `top = 100`, `adversarial = 10^5`.
//!
//! Everything is exact and `O(M)` per temperature: the tilt is the crate's [`solve::tilt()`]
//! on the full table, and the temperature at which the adversarial mass equals a cap is found
//! from the closed form of the geometric sum `sum_i e^{u r_i}` in `O(1)` per Newton step.

use crate::dist::Dist;
use crate::error::{require_positive, Error, Result};
use crate::numeric::{monotone_root, RootTolerance};
use crate::solve;
use serde::Serialize;

/// The model's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OutlierModel {
    /// Number `M >= 2` of ordinary outputs.
    pub ordinary: usize,
    /// Largest ordinary reward.
    pub top: f64,
    /// The adversarial output's reward, `> top`.
    pub adversarial: f64,
}

/// One point of the tradeoff.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OutlierPoint {
    /// `pi(adversarial)`.
    pub adversarial_mass: f64,
    /// `E_pi[r | ordinary]`.
    pub mean_ordinary_reward: f64,
    /// `KL(pi || pi0)`.
    pub kl: f64,
}

impl OutlierModel {
    /// `M = 10^6`, rewards on `[0, 100]`, adversarial reward `10^5`.
    pub const CATALOG: OutlierModel = OutlierModel {
        ordinary: 1_000_000,
        top: 100.0,
        adversarial: 1e5,
    };

    fn validate(&self) -> Result<()> {
        if self.ordinary < 2 || !(self.top > 0.0) || !(self.adversarial > self.top) {
            return Err(Error::InvalidInput(format!(
                "outlier model needs >= 2 ordinary outputs and 0 < top < adversarial: {self:?}"
            )));
        }
        Ok(())
    }

    /// Grid step `h = top / (M - 1)`.
    fn step(&self) -> f64 {
        self.top / (self.ordinary - 1) as f64
    }

    /// Rewards of the ordinary outputs.
    pub fn ordinary_rewards(&self) -> Vec<f64> {
        let h = self.step();
        (0..self.ordinary).map(|i| h * i as f64).collect()
    }

    /// The uniform base on `M + 1` outputs and the rewards (adversarial last).
    pub fn table(&self) -> Result<(Dist, Vec<f64>)> {
        self.validate()?;
        let mut r = self.ordinary_rewards();
        r.push(self.adversarial);
        Ok((Dist::uniform(self.ordinary + 1)?, r))
    }

    /// The tilt at `beta`: adversarial mass, mean ordinary reward (the ordinary part of a tilt
    /// is the tilt of the uniform law on the ordinary outputs, computed as such so it stays
    /// defined when the ordinary mass underflows), and KL.
    pub fn tilt(&self, beta: f64) -> Result<OutlierPoint> {
        require_positive("beta", beta)?;
        let (base, r) = self.table()?;
        let full = solve::tilt(&base, &r, beta)?;
        let ordinary = solve::tilt(&Dist::uniform(self.ordinary)?, &r[..self.ordinary], beta)?;
        Ok(OutlierPoint {
            adversarial_mass: full.solution.policy.prob(self.ordinary),
            mean_ordinary_reward: ordinary.solution.expected_reward,
            kl: full.solution.kl,
        })
    }

    /// Conditioning on `r > threshold`: the probability of the adversarial output, the mean
    /// ordinary reward given an ordinary output, and `KL = -log pi0(r > threshold)`.
    pub fn condition(&self, threshold: f64) -> Result<OutlierPoint> {
        let (base, r) = self.table()?;
        let event: Vec<bool> = r.iter().map(|x| *x > threshold).collect();
        let s = solve::condition_on_event(&base, &r, &event)?;
        let a = s.policy.prob(self.ordinary);
        let mut ord = crate::numeric::CompensatedSum::new();
        for (p, x) in s.policy.probs()[..self.ordinary].iter().zip(&r) {
            ord.add(p * x);
        }
        Ok(OutlierPoint {
            adversarial_mass: a,
            mean_ordinary_reward: if a < 1.0 {
                ord.value() / (1.0 - a)
            } else {
                f64::NAN
            },
            kl: s.kl,
        })
    }

    /// `(ln S(u), E_u[r | ordinary])` with `S(u) = sum_i e^{u (r_i - adversarial)}`, from the
    /// geometric sum `sum_{j<M} q^j = -expm1(-M h u) / -expm1(-h u)`, `q = e^{-h u}`, and the
    /// truncated-geometric mean `E[j] = 1/expm1(h u) - M / expm1(M h u)`.
    fn log_ordinary_sum(&self, u: f64) -> (f64, f64) {
        let (h, m) = (self.step(), self.ordinary as f64);
        let log_s = u * (self.top - self.adversarial) + (-(-m * h * u).exp_m1()).ln()
            - (-(-h * u).exp_m1()).ln();
        let mean_j = 1.0 / (h * u).exp_m1() - m / (m * h * u).exp_m1();
        (log_s, self.top - h * mean_j)
    }

    /// The `beta` at which the tilt's adversarial mass equals `cap` (`0 < cap < 1`, above the
    /// base mass `1/(M+1)`). The adversarial mass is `1/(1 + S(1/beta))`, strictly increasing
    /// in `u = 1/beta`, so the log-odds equation `-ln S(u) = ln(cap/(1-cap))` has one root,
    /// found by Newton's method (derivative `adversarial - E_u[r | ordinary] > 0`) safeguarded
    /// by bisection.
    pub fn beta_for_adversarial_mass(&self, cap: f64) -> Result<f64> {
        self.validate()?;
        let floor = 1.0 / (self.ordinary as f64 + 1.0);
        if !(cap > floor && cap < 1.0) {
            return Err(Error::InvalidParameter {
                name: "cap",
                value: cap,
                requirement: "strictly between the base mass 1/(M+1) and 1",
            });
        }
        let target = (cap / (1.0 - cap)).ln();
        let g = |ln_u: f64| -> Result<(f64, f64)> {
            let u = ln_u.exp();
            let (log_s, mean) = self.log_ordinary_sum(u);
            Ok((-log_s - target, (self.adversarial - mean) * u))
        };
        let tol = RootTolerance {
            x_abs: 1e-15,
            x_rel: 2.0 * f64::EPSILON,
            f_abs: 0.0,
            max_iter: 300,
        };
        let ln_u = monotone_root(g, -60.0, 10.0, tol)?;
        Ok((-ln_u).exp())
    }
}
