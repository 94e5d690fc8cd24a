//! The linear resource-allocation model of claim `goodhart.resource` (the finite, linear case of
//! Zhuang & Hadfield-Menell 2020): attributes `a_i >= m_i`, a budget `sum_i c_i a_i <= B`, and a
//! proxy `sum_i w_i a_i` with `w_i >= 0`.

use crate::error::{Error, Result};

/// One allocation problem.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceProblem {
    /// Lower bounds `m_i`.
    pub minima: Vec<f64>,
    /// Costs `c_i > 0`.
    pub costs: Vec<f64>,
    /// Proxy weights `w_i >= 0`.
    pub weights: Vec<f64>,
    /// Budget `B > sum_i c_i m_i`.
    pub budget: f64,
}

impl ResourceProblem {
    /// The slack `B - sum_i c_i m_i` after paying for the minima.
    pub fn slack(&self) -> f64 {
        self.budget
            - self
                .costs
                .iter()
                .zip(&self.minima)
                .map(|(c, m)| c * m)
                .sum::<f64>()
    }

    /// The proxy `sum_i w_i a_i`.
    pub fn proxy(&self, a: &[f64]) -> f64 {
        self.weights.iter().zip(a).map(|(w, x)| w * x).sum()
    }

    fn validate(&self) -> Result<()> {
        let n = self.minima.len();
        let ok = n >= 1
            && self.costs.len() == n
            && self.weights.len() == n
            && self.minima.iter().all(|m| m.is_finite())
            && self.costs.iter().all(|c| c.is_finite() && *c > 0.0)
            && self.weights.iter().all(|w| w.is_finite() && *w >= 0.0)
            && self.slack() > 0.0;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "bad resource problem {self:?}"
            )))
        }
    }

    /// A maximizer of the proxy: every attribute at its minimum except the first one of largest
    /// `w_i / c_i`, which receives the whole slack (the LP's vertex solution; the proof of
    /// `goodhart.resource` shows it is optimal).
    ///
    /// Errors: lengths differ, a cost is not positive, a weight is negative, or the budget does
    /// not exceed the cost of the minima.
    pub fn greedy_maximizer(&self) -> Result<Vec<f64>> {
        self.validate()?;
        let mut best = 0;
        for i in 1..self.minima.len() {
            if self.weights[i] / self.costs[i] > self.weights[best] / self.costs[best] {
                best = i;
            }
        }
        let mut a = self.minima.clone();
        a[best] += self.slack() / self.costs[best];
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem() -> ResourceProblem {
        ResourceProblem {
            minima: vec![0.0, 1.0],
            costs: vec![1.0, 2.0],
            weights: vec![1.0, 0.0],
            budget: 4.0,
        }
    }

    #[test]
    fn the_slack_goes_to_the_best_ratio() -> Result<()> {
        // Slack 4 - 2 = 2 at cost 1 on attribute 0 (ratio 1 against 0).
        assert_eq!(problem().greedy_maximizer()?, vec![2.0, 1.0]);
        Ok(())
    }

    /// Each way a problem can be malformed is refused, one defect at a time.
    #[test]
    fn malformed_problems_are_refused() {
        let defects: [fn(&mut ResourceProblem); 6] = [
            |p| p.minima.clear(),
            |p| p.costs[1] = 0.0,
            |p| p.weights[0] = -1.0,
            |p| p.minima[0] = f64::NAN,
            |p| p.budget = 2.0,
            |p| p.weights.push(1.0),
        ];
        for (k, defect) in defects.iter().enumerate() {
            let mut p = problem();
            defect(&mut p);
            assert!(p.greedy_maximizer().is_err(), "defect {k}: {p:?}");
        }
    }
}
