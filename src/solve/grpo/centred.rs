//! Reward classes as gaps that keep their digits: deviations from the base mean centred at the
//! class nearest it, in a power-of-two unit of the spread, and the scaled weights `q h^2` of
//! their variance. Shared by the `G = inf` fixed points: the k3 loss solves on them, the k3
//! ratio takes its tilts' std from them.

use super::Columns;
use crate::numeric::{log_sum_exp, pow2, CompensatedSum, Scaled};
use std::f64::consts::LN_2;

/// `sum q h^2` (or `S`) below which the evaluations in doubles hand over to the scaled weights
/// (or to logarithms). In doubles a term can underflow: a product of factors within `[0, 2]`
/// rounded three times into the subnormal range is off by at most `3 2^-1075 < 2^-1073`
/// absolute. Over fewer than `2^48` classes that is below `2^-1025` in all, and relative to a
/// sum of at least `1e-270 > 2^-897` below `2^-128`: far under the sum's own rounding. Above
/// the floor the doubles are as good as the scaled form.
const LINEAR_FLOOR: f64 = 1e-270;

/// The classes' rewards as gaps that keep their digits, in a unit `w`, a power of two at least
/// half the reward spread (the scaling is exact, and no gap overflows), with the masses `q`
/// normalized:
///
/// - `deviation` `h = (v - mu0)/w`, centred first at the class value `c` nearest `mu0`:
///   `h = d - sum q d` with `d = (v - c)/w`. Since `|mu0 - c| <= |mu0 - v|` for every class,
///   `|sum q d| <= |h|` and `|d| <= 2 |h|`: every `h` keeps its relative accuracy, including the
///   heavy class's;
/// - `top_gap` `D = (v_max - v)/w >= 0`;
/// - `mean_gap` `G = (v_max - mu0)/w = D_c - sum q d >= 0`.
pub(super) struct CentredClasses {
    pub(super) mass: Vec<f64>,
    pub(super) deviation: Vec<f64>,
    pub(super) top_gap: Vec<f64>,
    pub(super) mean_gap: f64,
    /// `w`.
    unit: f64,
}

impl CentredClasses {
    pub(super) fn new(c: &Columns) -> Self {
        let (low, vmax) = (c.values[0], c.values[c.values.len() - 1]);
        let total: f64 = c.mass.iter().sum();
        let mass: Vec<f64> = c.mass.iter().map(|m| m / total).collect();
        let half_mean: f64 = mass.iter().zip(&c.values).map(|(q, v)| q * (v / 2.0)).sum();
        let centre = nearest(&c.values, half_mean);
        let half_spread = vmax / 2.0 - low / 2.0;
        let unit = pow2((half_spread.log2().ceil() as i64).clamp(-1022, 1023));
        let gap = |a: f64, b: f64| a / unit - b / unit;
        let d: Vec<f64> = c.values.iter().map(|&v| gap(v, centre)).collect();
        let mut mean = CompensatedSum::new();
        for (q, x) in mass.iter().zip(&d) {
            mean.add(q * x);
        }
        let mean = mean.value();
        Self {
            deviation: d.iter().map(|x| x - mean).collect(),
            top_gap: c.values.iter().map(|&v| gap(vmax, v)).collect(),
            mean_gap: (gap(vmax, centre) - mean).max(0.0),
            mass,
            unit,
        }
    }

    /// The std `w sqrt(sum q h^2)`: in doubles while the sum is at least [`LINEAR_FLOOR`], else
    /// from the terms as `m 2^e` (a subnormal mass at a large deviation), with one rounding in the
    /// square root. No square overflows
    /// (`|h| <= 2`), and none of the heavy class's digits are lost in `v - mu0`.
    pub(super) fn std(&self) -> f64 {
        let mut sum = CompensatedSum::new();
        for (q, h) in self.mass.iter().zip(&self.deviation) {
            sum.add(q * h * h);
        }
        let sum = sum.value();
        if sum >= LINEAR_FLOOR {
            return sum.sqrt() * self.unit;
        }
        Scaled::sum(&self.variance_terms())
            .sqrt()
            .mul(Scaled::new(self.unit))
            .value()
    }

    /// The terms `q h^2` of the variance in units `w^2`, as `m 2^e`: the product of a
    /// subnormal mass and a square that underflows (the top class's `h^2` at `h = 1e-310`) is
    /// still exact but for rounding.
    fn variance_terms(&self) -> Vec<Scaled> {
        self.mass
            .iter()
            .zip(&self.deviation)
            .map(|(&q, h)| {
                let h = Scaled::new(h.abs());
                Scaled::new(q).mul(h).mul(h)
            })
            .collect()
    }
}

/// The value in the increasing `values` nearest `half * 2` (compared in halves: no overflow).
fn nearest(values: &[f64], half: f64) -> f64 {
    let i = values.partition_point(|v| v / 2.0 < half);
    let below = values[i.saturating_sub(1)];
    match values.get(i) {
        Some(&above) if above / 2.0 - half <= half - below / 2.0 => above,
        _ => below,
    }
}

/// The weights `W = q h^2 2^K` of the spread `S(s) = sum W y`, `y = s^2/((D + s)(G + s))`,
/// with the even `K` that puts the largest weight near 1, and their logarithms (for the
/// evaluation where `S` underflows).
pub(super) struct Weights<'a> {
    classes: &'a CentredClasses,
    weight: Vec<f64>,
    log_weight: Vec<f64>,
    /// `K`.
    pub(super) scale: i64,
}

impl<'a> Weights<'a> {
    pub(super) fn new(classes: &'a CentredClasses) -> Self {
        let raw = classes.variance_terms();
        let scale = -2 * Scaled::top_exponent(&raw).div_euclid(2);
        Self {
            classes,
            weight: raw.iter().map(|w| w.times_pow2(scale).value()).collect(),
            log_weight: raw.iter().map(|w| w.ln() + scale as f64 * LN_2).collect(),
            scale,
        }
    }

    /// `ln sum W` (`y = 1`, the limit `s -> inf`).
    pub(super) fn log_total(&self) -> f64 {
        log_sum_exp(&self.log_weight)
    }

    /// `ln(S 2^-K)` from `ln S`.
    pub(super) fn unscaled(&self, log_spread: f64) -> f64 {
        log_spread - self.scale as f64 * LN_2
    }

    /// `(ln S, dln S/du)` at `s = e^u`: from [`Self::linear_spread`] where it answers, else in
    /// logarithms.
    pub(super) fn spread(&self, u: f64) -> (f64, f64) {
        match self.linear_spread(u.exp()) {
            Some((total, slope)) => (total.ln(), slope),
            None => self.log_spread(u),
        }
    }

    /// `(S, dln S/du)` at `s`, with `s dy/ds = y (D/(D + s) + G/(G + s))`; `None` where
    /// `S < LINEAR_FLOOR` (or is NaN: `0/0` at `s = 0`) or `s` is infinite.
    pub(super) fn linear_spread(&self, s: f64) -> Option<(f64, f64)> {
        let g = self.classes.mean_gap;
        let (mut total, mut slope) = (CompensatedSum::new(), CompensatedSum::new());
        for (w, d) in self.weight.iter().zip(&self.classes.top_gap) {
            let y = (s / (d + s)) * (s / (g + s));
            total.add(w * y);
            slope.add(w * y * (d / (d + s) + g / (g + s)));
        }
        let total = total.value();
        (total >= LINEAR_FLOOR && s.is_finite()).then(|| (total, slope.value() / total))
    }

    /// [`Self::spread`] in logarithms: `ln y = -ln(1 + D/s) - ln(1 + G/s)`.
    fn log_spread(&self, u: f64) -> (f64, f64) {
        let log_g = log_one_plus_ratio(self.classes.mean_gap, u);
        let terms: Vec<f64> = self
            .log_weight
            .iter()
            .zip(&self.classes.top_gap)
            .map(|(lw, &d)| lw - log_one_plus_ratio(d, u) - log_g)
            .collect();
        let log_total = log_sum_exp(&terms);
        // D/(D + s) = 1/(1 + s/D), 0 at D = 0.
        let share = |d: f64| {
            if d > 0.0 {
                1.0 / (1.0 + u.exp() / d)
            } else {
                0.0
            }
        };
        let g_share = share(self.classes.mean_gap);
        let slope = terms
            .iter()
            .zip(&self.classes.top_gap)
            .map(|(t, &d)| (t - log_total).exp() * (share(d) + g_share))
            .sum();
        (log_total, slope)
    }
}

/// `ln(1 + d/s)` for `d >= 0`, `s = e^u`, also where `d/s` overflows.
fn log_one_plus_ratio(d: f64, u: f64) -> f64 {
    if d == 0.0 {
        // Not 0 e^{-u}, which is NaN where e^{-u} overflows.
        return 0.0;
    }
    let x = d * (-u).exp();
    if x.is_finite() {
        x.ln_1p()
    } else {
        d.ln() - u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes `(0, 1)` with masses `(1 - q, q)`: the std is `sqrt(q (1 - q))`. At
    /// `q = 1e-300` and at the smallest subnormal the variance (in the unit `w = 1/2`) is below
    /// [`LINEAR_FLOOR`], and the std comes from the terms as `m 2^e`, to a few ulps (`2^-537`
    /// exactly at `q = 2^-1074`; `e^{ln S / 2}` was off by `|ln S| eps / 2`).
    #[test]
    fn std_below_the_linear_floor_keeps_its_digits() {
        for q in [1e-300, f64::from_bits(1)] {
            let columns = Columns {
                values: vec![0.0, 1.0],
                mass: vec![1.0 - q, q],
            };
            let std = CentredClasses::new(&columns).std();
            let want = (q * (1.0 - q)).sqrt();
            assert!(
                (std - want).abs() <= 4.0 * f64::EPSILON * want,
                "{std:e} vs {want:e}"
            );
        }
        let columns = Columns {
            values: vec![0.0, 1.0],
            mass: vec![1.0, f64::from_bits(1)],
        };
        assert_eq!(CentredClasses::new(&columns).std(), 2f64.powi(-537));
    }
}
