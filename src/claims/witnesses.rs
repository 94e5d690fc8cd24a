//! Sampled witnesses of the claims about what an optimizer or sampler produces.
//!
//! A witness runs a textbook sampled algorithm from [`crate::sample`] with a seeded RNG, tests
//! its output against the exact solver at a stated false-alarm rate, and runs the same test
//! against a wrong target (the negative control), which must be rejected; the witnesses
//! themselves, with their statistics, false-alarm rates and controls, are in
//! [`crate::sample::witness`]. The table below says which claims each witness supports;
//! `rlhf-claims check --witnesses` runs them.

use super::WitnessOutcome;
use crate::error::Result;
use crate::sample::witness::kl_gradient;
use crate::sample::witness::tilt::TILT_INSTANCES as T;
use crate::sample::witness::{laws, means, tilt};
use crate::solve::kl_estimator::Estimator;
use crate::solve::kl_gradient::Placement;
use crate::solve::sequence::SeqEstimator;

/// One sampled witness: a name and a seeded run.
#[derive(Debug, Clone, Copy)]
pub struct Witness {
    /// The sampled algorithm and its instance (the name of the outcome it returns).
    pub name: &'static str,
    /// Runs the witness with this seed.
    pub run: fn(u64) -> Result<WitnessOutcome>,
}

/// The Metropolis-Hastings and the policy-gradient witness of each tilt instance `T[i]`, named
/// after it.
macro_rules! tilt_witnesses {
    ($($i:literal $name:literal),*) => {
        &[
            $(Witness {
                name: concat!("metropolis-hastings on ", $name),
                run: |s| tilt::metropolis(&T[$i], s),
            },)*
            $(Witness {
                name: concat!("policy gradient on ", $name),
                run: |s| tilt::policy_gradient(&T[$i], s),
            },)*
        ]
    };
}

/// `kl.tilt`: Metropolis-Hastings (independence proposals) and softmax policy gradient on the
/// five tilt instances; chi-square at `5e-7` plus a coupling budget of `5e-7` (false-alarm rate
/// `1e-6`); control: the tilt at `1.1 beta`.
const KL_TILT: &[Witness] = tilt_witnesses!(
    0 "mixed-sign",
    1 "ties",
    2 "zero-in-base",
    3 "six-outcomes",
    4 "rare-argmax"
);

/// `bon.exact`: Monte Carlo best-of-4; chi-square at `1e-6`; control: `N = 3` and `N = 5`.
const BON_EXACT: &[Witness] = &[Witness {
    name: "monte carlo best-of-4",
    run: laws::monte_carlo_best_of_n,
}];

/// `bon.unbiased-estimator`: the order-statistic estimator averaged over rounds; Bernstein at
/// `1e-6`; control: the best-of-`N -+ 1` expected rewards.
const BON_UNBIASED: &[Witness] = &[Witness {
    name: "order-statistic estimator, N = 3, M = 8",
    run: means::order_statistic,
}];

/// `quantilizer.kl` (a statement about the law of the q-quantilizer, which this samples by
/// Taylor's procedure): chi-square at `1e-6`; control: `1.1 q`.
const QUANTILIZER_LAW: &[Witness] = &[Witness {
    name: "rejection quantilizer at q = 0.6",
    run: laws::rejection_quantilizer,
}];

/// `lagrange.threshold`: rejection sampling for conditioning; chi-square at `1e-6`; control: the
/// bar moved one reward level down and up.
const THRESHOLD: &[Witness] = &[Witness {
    name: "rejection sampling above r = 1",
    run: laws::rejection_conditioning,
}];

/// `pref.dpo-optimum`: DPO by SGD; Wald chi-square at `1e-6` (asymptotic); control: the tilt at
/// `1.1 beta`.
const DPO: &[Witness] = &[Witness {
    name: "dpo by sgd on four-outcomes",
    run: tilt::dpo,
}];

/// `goodhart.gaussian`: Monte Carlo best-of-8 in the bivariate normal; z-test at `1e-6`;
/// control: `N = 7` and `N = 9`.
const GAUSSIAN: &[Witness] = &[Witness {
    name: "monte carlo best-of-8 in the bivariate normal, rho = 0.6",
    run: means::gaussian_best_of_n,
}];

/// `estimator.unbiased`: Monte Carlo means of k1, k2, k3; Bernstein at `1e-6` each; control: the
/// reversed KL for k1 and k3, "k2 is unbiased" for k2.
const ESTIMATOR_UNBIASED: &[Witness] = &[
    Witness {
        name: "monte carlo mean of k1",
        run: |s| means::kl_estimator(Estimator::K1, s),
    },
    Witness {
        name: "monte carlo mean of k2",
        run: |s| means::kl_estimator(Estimator::K2, s),
    },
    Witness {
        name: "monte carlo mean of k3",
        run: |s| means::kl_estimator(Estimator::K3, s),
    },
];

/// `estimator.placement`: Monte Carlo averages of the per-sample gradients (k1 in the reward
/// on-policy; k1 and k3 times the ratio off-policy, `mu` uniform; k2 as an on-policy loss is
/// left out: its per-sample gradient `l (pi - e_x)` is the same vector as k1's in the reward,
/// so it would repeat the first witness draw for draw), projected on the
/// direction from `grad KL(pi0||pi)` to `grad KL(pi||pi0)`; Bernstein at `1e-6`; control: the
/// wrong KL direction's gradient.
const ESTIMATOR_PLACEMENT: &[Witness] = &[
    Witness {
        name: "monte carlo on-policy gradient of k1 as reward",
        run: |s| kl_gradient::placement(Estimator::K1, Placement::Reward, false, s),
    },
    Witness {
        name: "monte carlo off-policy gradient of k1 as loss_ratio",
        run: |s| kl_gradient::placement(Estimator::K1, Placement::LossRatio, true, s),
    },
    Witness {
        name: "monte carlo off-policy gradient of k3 as loss_ratio",
        run: |s| kl_gradient::placement(Estimator::K3, Placement::LossRatio, true, s),
    },
];

/// `estimator.sequence`: Monte Carlo means of the summed per-token k1 and k3 and of the
/// Rao-Blackwellized estimator over ancestrally sampled sequences; Bernstein at `1e-6`;
/// control: the reverse sequence KL `KL(pi0||pi)`.
const ESTIMATOR_SEQUENCE: &[Witness] = &[
    Witness {
        name: "monte carlo mean of the sequence estimator k1",
        run: |s| kl_gradient::sequence_mean(SeqEstimator::K1, s),
    },
    Witness {
        name: "monte carlo mean of the sequence estimator k3",
        run: |s| kl_gradient::sequence_mean(SeqEstimator::K3, s),
    },
    Witness {
        name: "monte carlo mean of the sequence estimator rao_blackwell",
        run: |s| kl_gradient::sequence_mean(SeqEstimator::RaoBlackwell, s),
    },
];

/// `grpo.stationary` and `grpo.tilt`: GRPO by SGD on sampled groups (averaged logits); Wald
/// chi-square at an asymptotic `1e-6`; control: the tilt as the limit.
const GRPO: &[Witness] = &[Witness {
    name: "grpo sgd (G = 4, sample std, k3 loss) on three outcomes",
    run: crate::sample::witness::grpo::sgd_lands_on_the_stationary_point,
}];

/// One sampled DPO step per comparison in a two-feature log-linear class: the frequency with
/// which the winner's log-probability falls, against the exact law; negative control the
/// tabular softmax, where it never falls.
const DISPLACEMENT: &[Witness] = &[Witness {
    name: "sampled dpo steps in a two-feature log-linear class",
    run: crate::sample::witness::displacement::sampled_displacement,
}];

/// Every claim with sampled witnesses, and its witnesses.
pub const TABLE: &[(&str, &[Witness])] = &[
    ("kl.tilt", KL_TILT),
    ("bon.exact", BON_EXACT),
    ("bon.unbiased-estimator", BON_UNBIASED),
    ("quantilizer.kl", QUANTILIZER_LAW),
    ("lagrange.threshold", THRESHOLD),
    ("pref.dpo-optimum", DPO),
    ("goodhart.gaussian", GAUSSIAN),
    ("estimator.unbiased", ESTIMATOR_UNBIASED),
    ("estimator.placement", ESTIMATOR_PLACEMENT),
    ("estimator.sequence", ESTIMATOR_SEQUENCE),
    ("grpo.stationary", GRPO),
    ("grpo.tilt", GRPO),
    ("bon.winrate-optimal", WINRATE),
    ("bon.soft", BON_SOFT),
    ("pref.likelihood-displacement", DISPLACEMENT),
];

/// `bon.winrate-optimal` (part 1: the win rate of a policy is `E[w]`): Monte Carlo best-of-4
/// duels against fresh base draws; Bernstein at `1e-6`; control: `W(P_5)`.
const WINRATE: &[Witness] = &[Witness {
    name: "monte carlo best-of-4 duels against the base",
    run: crate::sample::witness::winrate::monte_carlo_win_rate,
}];

/// `bon.soft`: Monte Carlo soft best-of-4 at temperature 1; chi-square at `1e-6`; control:
/// `N = 3` and `N = 5`.
const BON_SOFT: &[Witness] = &[Witness {
    name: "monte carlo soft best-of-4 at temperature 1",
    run: crate::sample::witness::soft::monte_carlo_soft_best_of_n,
}];

/// The witnesses of claim `id` (empty for claims that are not about a sampled algorithm).
pub fn for_claim(id: &str) -> &'static [Witness] {
    TABLE
        .iter()
        .find(|(claim, _)| *claim == id)
        .map_or(&[], |(_, w)| *w)
}
