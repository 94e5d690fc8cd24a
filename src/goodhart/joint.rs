//! A finite joint table: outcomes `x` with base probability `pi0(x)`, proxy `U(x)` and true
//! utility `V(x)`. Every optimizer of [`crate::solve`] runs on `U`; [`JointTable::evaluate`]
//! reports `E[U]`, `E[V]` and the KL of the policy it returns (claim `goodhart.reweighting`).

use crate::dist::{check_reward, Dist};
use crate::error::Result;
use crate::solve::{self, RewardClasses, Solution};
use serde::Serialize;

/// Base policy, proxy and true utility on the same outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct JointTable {
    /// The base policy `pi0`.
    pub base: Dist,
    /// The proxy `U` that the optimizers see.
    pub proxy: Vec<f64>,
    /// The true utility `V` used only for evaluation.
    pub truth: Vec<f64>,
}

/// An optimizer of the proxy, with its parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "optimizer", rename_all = "snake_case")]
pub enum Optimizer {
    /// The KL-regularized optimum `pi0 e^{U/beta} / Z`.
    Tilt {
        /// KL coefficient.
        beta: f64,
    },
    /// Exact best-of-N on `U`.
    BestOfN {
        /// Number of draws.
        n: u64,
    },
    /// `pi0(. | U >= threshold)`.
    Condition {
        /// The bar.
        threshold: f64,
    },
    /// The q-quantilizer on `U`.
    Quantilize {
        /// Kept top mass.
        q: f64,
    },
    /// `max E[U] s.t. KL <= eps`.
    KlBudget {
        /// The budget in nats.
        eps: f64,
    },
    /// `min KL s.t. E[U] >= target`.
    RewardTarget {
        /// The proxy target.
        target: f64,
    },
}

/// What an optimizer achieves on the proxy and on the truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProxyTrue {
    /// `E_pi[U]`.
    pub expected_proxy: f64,
    /// `E_pi[V]`.
    pub expected_true: f64,
    /// `KL(pi || pi0)` in nats.
    pub kl: f64,
}

impl JointTable {
    /// Validates lengths and finiteness of both utilities.
    pub fn new(base: Dist, proxy: Vec<f64>, truth: Vec<f64>) -> Result<Self> {
        check_reward(&base, &proxy)?;
        check_reward(&base, &truth)?;
        Ok(Self { base, proxy, truth })
    }

    /// The policy the optimizer returns when run on `U`, as a [`Solution`] for the proxy.
    pub fn optimize(&self, optimizer: Optimizer) -> Result<Solution> {
        let (b, u) = (&self.base, self.proxy.as_slice());
        Ok(match optimizer {
            Optimizer::Tilt { beta } => solve::tilt(b, u, beta)?.solution,
            Optimizer::BestOfN { n } => solve::best_of_n(b, u, n)?.solution,
            Optimizer::Condition { threshold } => solve::condition_on_threshold(b, u, threshold)?,
            Optimizer::Quantilize { q } => solve::quantilize(b, u, q)?.solution,
            Optimizer::KlBudget { eps } => solve::kl_budget(b, u, eps)?.solution,
            Optimizer::RewardTarget { target } => solve::reward_target(b, u, target)?.solution,
        })
    }

    /// `E_pi[U]`, `E_pi[V]` and `KL(pi||pi0)` for the optimizer's policy `pi`.
    pub fn evaluate(&self, optimizer: Optimizer) -> Result<ProxyTrue> {
        let s = self.optimize(optimizer)?;
        Ok(ProxyTrue {
            expected_proxy: s.expected_reward,
            expected_true: s.policy.expectation(&self.truth)?,
            kl: s.kl,
        })
    }

    /// The regression of truth on proxy under the base, one entry per proxy class:
    /// `(u, pi0(U = u), m(u) = E_pi0[V | U = u])`, in increasing `u`.
    pub fn regression(&self) -> Result<Vec<(f64, f64, f64)>> {
        let classes = RewardClasses::new(&self.base, &self.proxy)?;
        let mut weighted = vec![crate::numeric::CompensatedSum::new(); classes.classes.len()];
        for (i, c) in classes.class_of(self.base.len()).iter().enumerate() {
            if let Some(k) = c {
                weighted[*k].add(self.base.prob(i) * self.truth[i]);
            }
        }
        Ok(classes
            .classes
            .iter()
            .zip(&weighted)
            .map(|(c, w)| (c.reward, c.mass, w.value() / c.mass))
            .collect())
    }
}
