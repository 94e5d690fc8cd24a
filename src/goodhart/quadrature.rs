//! Composite Gauss-Legendre quadrature on panels, for the continuous models of this module.
//!
//! A 16-point rule integrates polynomials of degree 31 exactly; on a panel of width `h` an
//! analytic integrand whose derivatives grow like `k! / r^k` (distance `r` to the nearest
//! singularity) is integrated with error `O((h / 2r)^32)`, so panels a tenth of the integrand's
//! length scale give results at rounding level.

use crate::numeric::CompensatedSum;

/// Number of nodes of the rule.
pub const NODES: usize = 16;

/// Nodes and weights of the `NODES`-point Gauss-Legendre rule on `[-1, 1]`, by Newton's method on
/// the Legendre polynomial `P_16` from the Chebyshev initial guesses (converged to rounding).
pub fn gauss_legendre() -> [(f64, f64); NODES] {
    let n = NODES;
    let mut out = [(0.0, 0.0); NODES];
    for (i, slot) in out.iter_mut().enumerate() {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            // Three-term recurrence for P_n(x) and its derivative.
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let kf = k as f64;
                let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
                p0 = p1;
                p1 = p2;
            }
            dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() <= 1e-16 {
                break;
            }
        }
        *slot = (x, 2.0 / ((1.0 - x * x) * dp * dp));
    }
    out
}

/// `int_a^b f(x) dx` by the 16-point rule on `panels` equal panels, compensated summation.
pub fn integrate(mut f: impl FnMut(f64) -> f64, a: f64, b: f64, panels: usize) -> f64 {
    let rule = gauss_legendre();
    let panels = panels.max(1);
    let h = (b - a) / panels as f64;
    let mut s = CompensatedSum::new();
    for k in 0..panels {
        let mid = a + (k as f64 + 0.5) * h;
        for (x, w) in rule {
            s.add(0.5 * h * w * f(mid + 0.5 * h * x));
        }
    }
    s.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_the_exponential_to_rounding() {
        // int_0^1 e^x dx = e - 1.
        let v = integrate(f64::exp, 0.0, 1.0, 1);
        assert!((v - (std::f64::consts::E - 1.0)).abs() <= 4.0 * f64::EPSILON);
        let w: f64 = gauss_legendre().iter().map(|(_, w)| w).sum();
        assert!((w - 2.0).abs() <= 8.0 * f64::EPSILON);
    }
}
