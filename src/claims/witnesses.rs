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
use crate::sample::witness::tilt::TILT_INSTANCES as T;
use crate::sample::witness::{laws, means, tilt};
use crate::solve::kl_estimator::Estimator;

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
    ("pref.likelihood-displacement", DISPLACEMENT),
];

/// The witnesses of claim `id` (empty for claims that are not about a sampled algorithm).
pub fn for_claim(id: &str) -> &'static [Witness] {
    TABLE
        .iter()
        .find(|(claim, _)| *claim == id)
        .map_or(&[], |(_, w)| *w)
}
