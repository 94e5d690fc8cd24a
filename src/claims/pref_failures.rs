//! Failure modes of regularized preference optimization from the 2024-2026 literature (family
//! `pref`): the forward KL's collapse as its weight vanishes, the diversity folklore about it,
//! chiPO's chi-square-plus-KL regularizer, outcomes that no preference pair constrains, and
//! likelihood displacement by a DPO step in a log-linear class.
#![doc = include_str!("../../docs/claims/pref_failures.md")]

use super::pref::{full_base, pretrain_mix_strategy, MixInstance};
use super::strategy::{self, Instance};
use super::strategy_bon as sb;
use super::{check_theorem, refused, CheckConfig, Claim, Control, Deviation, Status, Verdict};
use crate::divergence;
use crate::numeric::{log_sum_exp, CompensatedSum};
use crate::solve::chipo::{chipo, chipo_divergence};
use crate::solve::dpo_step::dpo_step;
use crate::solve::fdiv::{fdiv_optimum, forward_kl, Divergence};
use crate::solve::preference::{
    dpo_gradient, dpo_loss, dpo_minimizer_with_unseen, log_ratio, sigmoid, Comparisons,
};
use crate::solve::{tilt, LogLinearClass};
use crate::Dist;
use nalgebra::DMatrix;
use proptest::prelude::*;
use std::fmt;

/// The claims of this module, in catalog order.
pub fn claims() -> Vec<Claim> {
    vec![
        Claim {
            id: "pref.forward-collapse",
            title: "Forward-KL regularization collapses onto the argmax as gamma -> 0, with off-argmax mass ~ gamma sum pi0/(r* - r)",
            statement: "Let $A$ be the argmax class of $r$ on $\\mathrm{supp}\\,\\pi_0$, $p_A = \\pi_0(A)$, \
$\\Delta(x) = r^* - r(x)$, $S = \\sum_{x \\notin A} \\pi_0(x)/\\Delta(x)$, $S_2 = \\sum_{x \\notin A} \\pi_0(x)/\\Delta(x)^2$. \
The maximizer of $E_\\pi[r] - \\gamma \\mathrm{KL}(\\pi_0\\|\\pi)$ has off-argmax mass $M(\\gamma)$ with, for $\\gamma S < 1$ and \
$\\delta^+ = \\gamma p_A/(1 - \\gamma S)$, \
$\\gamma^2 p_A \\sum_{x\\notin A} \\frac{\\pi_0(x)}{\\Delta(x)(\\Delta(x) + \\delta^+)} \\le \\gamma S - M(\\gamma) \\le \\frac{\\gamma^2 p_A S_2}{1 - \\gamma S}$: \
$M = \\gamma S - \\gamma^2 p_A S_2 + O(\\gamma^3)$, polynomial in $\\gamma$ (the tilt's is $O(e^{-\\min\\Delta/\\beta})$), and \
the optimum tends to $\\pi_0(\\cdot \\mid A)$. Under every $f$-divergence regularizer (reverse and forward KL, chi-square, \
the alpha family, chiPO) outcomes of equal reward keep their $\\pi_0$ odds.",
            sources: &["GX-Chen et al. 2025 (arXiv:2510.20817)", "derivation in proofs/pref.forward-collapse.md"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_forward_collapse(c, 1.0),
            control: Control {
                description: "the predicted constants scaled by 1 + 1e-5: first-order constant \
S (1 + 1e-5) and equal-reward odds pi0(x)/pi0(y) (1 + 1e-5)",
                check: |c| check_forward_collapse(c, 1.0 + 1e-5),
            },
        },
        Claim {
            id: "pref.forward-diversity",
            title: "\"Forward (mass-covering) KL keeps more diversity than reverse KL at the same expected reward\"",
            statement: "Claim as worded: for every base, reward and $\\gamma > 0$, the maximizer of \
$E_\\pi[r] - \\gamma\\mathrm{KL}(\\pi_0\\|\\pi)$ has at least the entropy of the tilt with the same expected reward. \
False: for a uniform base the tilt is the maximum-entropy policy at its expected reward \
(`conditioning.uniform-maxent`), and the forward-KL optimum is a different policy as soon as the reward takes three \
distinct values (`pref.pretrain-mix`), so it has strictly less entropy; least counterexample: uniform base on three \
outcomes, rewards $(0, 1, 2)$, $\\gamma = 1$. True instead, measured relative to the base: \
$\\mathrm{KL}(\\text{tilt}\\|\\pi_0) \\le \\mathrm{KL}(\\pi\\|\\pi_0)$ at equal expected reward (`lagrange.kl-budget`).",
            sources: &["folklore", "GX-Chen et al. 2025 (arXiv:2510.20817)"],
            status: Status::Refuted,
            settled: None,
            check: |c| check_forward_diversity(c, DiversityReading::Entropy),
            control: Control {
                description: "true variant: relative to the base, KL(tilt||pi0) <= KL(forward-KL optimum||pi0) \
at equal expected reward (the same two-stage search must fail to refute it)",
                check: |c| check_forward_diversity(c, DiversityReading::RelativeToBase),
            },
        },
        Claim {
            id: "pref.chipo",
            title: "chiPO's optimum is pi0 W(exp((r - lambda)/beta)): the density ratio grows linearly in the reward",
            statement: "For $f(t) = (t-1)^2/2 + t\\log t$ (chi-square plus KL, $f'(t) = t + \\log t$) the maximizer of \
$E_\\pi[r] - \\beta D_f(\\pi\\|\\pi_0)$ is $\\pi = \\pi_0 W(e^{(r - \\lambda)/\\beta})$, $W$ the principal Lambert function and \
$\\lambda$ normalizing; every support outcome keeps positive mass and \
$\\pi(x)/\\pi_0(x) \\le \\max(1, (r(x) - \\lambda)/\\beta)$. On the `goodhart.outlier` example, at matched mean ordinary \
reward, the adversarial output gets mass about $p_{adv}(10^5 - \\lambda)/\\beta$ under chiPO against almost all the mass \
under the tilt (table `outlier-regularizers`).",
            sources: &["Huang et al. 2024 (arXiv:2407.13399)"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_chipo(c, 1.0),
            control: Control {
                description: "the KKT link with beta x (1 + 1e-6): beta' (t + log t) = r - lambda",
                check: |c| check_chipo(c, 1.0 + 1e-6),
            },
        },
        Claim {
            id: "pref.dpo-unseen",
            title: "An outcome in no preference pair is unconstrained by the population DPO loss",
            statement: "Let $U \\ne \\emptyset$ be the outcomes in no shown pair, $S$ the rest, with a minimizer on $S$. The \
population DPO loss depends on $h = \\log(\\pi/\\pi_0)$ only through $h(x) - h(y)$ on shown pairs, so its minimizers \
are exactly the policies with $\\pi(\\cdot\\mid S)$ the minimizer on $S$ and any mass $m = \\pi(U) \\in [0, 1)$ on $U$: \
one loss value along the whole family. The KL-regularized optimum $\\pi_0 e^{r/\\beta}/Z$ of any reward extending \
the Bradley-Terry reward to $U$ is unique, and is the member with $m = \\pi_0 e^{r/\\beta}(U)/Z$.",
            sources: &["Xu et al. 2024 (arXiv:2404.10719)"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_dpo_unseen(c, 1.0),
            control: Control {
                description: "the family computed at beta x (1 + 1e-6)",
                check: |c| check_dpo_unseen(c, 1.0 + 1e-6),
            },
        },
        Claim {
            id: "pref.likelihood-displacement",
            title: "A DPO step raises log pi(w) for a tabular softmax but can lower it in a log-linear class",
            statement: "For $\\pi_\\theta \\propto \\pi_0 e^{\\theta\\cdot\\phi}$, one DPO gradient step on the pair $(w, l)$ is \
$\\theta' = \\theta + c(\\phi(w) - \\phi(l))$, $c = \\eta\\beta\\sigma(-m) > 0$, and with \
$D = (\\phi(w) - E_\\pi\\phi)\\cdot(\\phi(w) - \\phi(l))$, $g = \\phi(w) - \\phi(l)$ and $s$ the range of $\\phi\\cdot g$ on the \
support: $cD - c^2 s^2/8 \\le \\log\\pi'(w) - \\log\\pi(w) \\le cD$. Tabular ($\\phi(x) = e_x$): $D = 1 - \\pi(w) + \\pi(l) > 0$ \
and the change is positive for every step size. Log-linear: the step lowers $\\log\\pi(w)$ for every step size when \
$D < 0$ and for all small ones only if $D \\le 0$; least witness: three outcomes, one feature \
$\\phi = (1, 2, -1)$, uniform $\\pi_0$, $\\theta = 0$, pair $(0, 1)$: $D = -1/3$ (two outcomes never displace: \
$D = \\pi(l)(\\phi(w) - \\phi(l))^2 \\ge 0$).",
            sources: &["Razin et al. 2024 (arXiv:2410.08847)", "derivation in proofs/pref.likelihood-displacement.md"],
            status: Status::Theorem,
            settled: None,
            check: |c| check_displacement(c, 1.0),
            control: Control {
                description: "the first-order constant D scaled by 1 + 1e-3 (tabular: (1 + 1e-3)(1 - pi(w) + pi(l)))",
                check: |c| check_displacement(c, 1.0 + 1e-3),
            },
        },
    ]
}

fn err(e: crate::Error) -> String {
    e.to_string()
}

/// `max |v|`, NaN-propagating.
fn sup(v: &[f64]) -> f64 {
    v.iter().fold(
        0.0,
        |m: f64, x| if x.is_nan() { f64::NAN } else { m.max(x.abs()) },
    )
}

/// `a <= b` within `tol`, with the tightness `a / b` recorded only where `b` is resolved (above
/// `1e3 tol`): a bound of the size of the rounding says nothing about how close `a` came to it.
fn bound(a: f64, b: f64, tol: f64) -> Deviation {
    if b > 1e3 * tol {
        Deviation::at_most(a, b, tol)
    } else {
        Deviation::new((a - b).max(0.0), tol)
    }
}

// ---------------------------------------------------------------------------------------------
// pref.forward-collapse

/// An instance of `pref.forward-collapse`: base and reward (some support outcome below the top),
/// whether outcome 1 is given outcome 0's reward, the exponent `u` of `gamma = 10^u min Delta`,
/// a regularizer and its coefficient.
#[derive(Clone)]
pub struct CollapseInstance {
    /// Base and reward (outcomes 0 and 1 tied when `tie`).
    pub instance: Instance,
    /// `gamma / min_{x not in A} Delta(x)`.
    pub relative_gamma: f64,
    /// The regularizer of the odds part (`None`: chiPO).
    pub divergence: Option<Divergence>,
    /// Its coefficient.
    pub beta: f64,
}

impl fmt::Debug for CollapseInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} gamma/min_gap={:?} divergence={:?} beta={:?}",
            self.instance, self.relative_gamma, self.divergence, self.beta
        )
    }
}

/// Instances on 2..=6 outcomes (the shared strategy), outcome 1 given outcome 0's reward (half
/// the time raised to the top, so the tie sits in the argmax class, which no regularizer clips),
/// filtered to keep a support outcome below the top; `gamma / min Delta` log-uniform on
/// `[1e-7, 1e-3]` (so `gamma S <= 1e-3 < 1`), a regularizer (chiPO one time in five) and
/// `beta` moderate.
fn collapse_instance() -> impl Strategy<Value = CollapseInstance> {
    let div = prop_oneof![
        4 => super::pref::divergence_strategy().prop_map(Some),
        1 => Just(None),
    ];
    (
        strategy::instance(2..=6),
        any::<bool>(),
        -7.0f64..-3.0,
        div,
        strategy::moderate_beta(),
    )
        .prop_map(|(mut instance, top, u, divergence, beta)| {
            let r_max = instance
                .reward
                .iter()
                .fold(f64::NEG_INFINITY, |m, r| m.max(*r));
            instance.reward[1] = if top { r_max } else { instance.reward[0] };
            CollapseInstance {
                instance,
                relative_gamma: 10f64.powf(u),
                divergence,
                beta,
            }
        })
        .prop_filter("some support outcome below the top", |c| {
            let (lo, hi) = c.instance.base.support_range(&c.instance.reward);
            lo < hi
        })
}

/// Per instance (`factor = 1` for the claim, `1 + 1e-5` for its control):
///
/// (a) collapse: with `S`, `S_2`, `p_A`, `delta+` of the statement (recomputed here from the
/// instance) and `M` the off-argmax mass summed from the returned policy,
/// `gamma^2 L <= gamma S factor - M <= gamma^2 U` (`L`, `U` the two sides of the statement);
/// slack `1e-11 max(gamma S, f64::MIN_POSITIVE)` (each policy entry is within ~`1e-13`
/// relative of the closed form, see `pref.forward-kl`, while it is a normal number). The band's width is `gamma^2 (U - L) <= 2e-6 gamma S` at the largest
/// `gamma`, so the control's shift `1e-5 gamma S` leaves it on every instance.
///
/// (b) odds: for each pair of support outcomes of equal reward under the instance's regularizer
/// (or chiPO), `log pi(x) - log pi(y) = log pi0(x) - log pi0(y) + log factor` from the log views
/// (both masses 0, clipped, is allowed), tolerance `8 eps (1 + |log pi(x)| + |log pi(y)| +
/// |log pi0(x)| + |log pi0(y)|)`: the solvers give tied outcomes the same density ratio, and the
/// policy's logarithms carry the rounding of the normalization.
fn check_forward_collapse(config: &CheckConfig, factor: f64) -> Verdict {
    check_theorem(config, collapse_instance(), |ci| {
        let inst = &ci.instance;
        let mut dev = collapse_band(inst, ci.relative_gamma, factor)?;
        let policy = match ci.divergence {
            Some(div) => {
                fdiv_optimum(&inst.base, &inst.reward, div, ci.beta)
                    .map_err(err)?
                    .solution
                    .policy
            }
            None => {
                chipo(&inst.base, &inst.reward, ci.beta)
                    .map_err(err)?
                    .solution
                    .policy
            }
        };
        let support: Vec<usize> = inst.base.support().collect();
        for (i, &x) in support.iter().enumerate() {
            for &y in &support[i + 1..] {
                if inst.reward[x] != inst.reward[y] {
                    continue;
                }
                let (px, py) = (policy.log_prob(x), policy.log_prob(y));
                if px == f64::NEG_INFINITY || py == f64::NEG_INFINITY {
                    dev = dev.worst(Deviation::exact(px == py));
                    continue;
                }
                let (bx, by) = (inst.base.log_prob(x), inst.base.log_prob(y));
                let tol = 8.0 * f64::EPSILON * (1.0 + px.abs() + py.abs() + bx.abs() + by.abs());
                dev = dev.worst(Deviation::new(
                    ((px - py) - (bx - by) - factor.ln()).abs(),
                    tol,
                ));
            }
        }
        Ok(dev)
    })
}

/// Part (a) of [`check_forward_collapse`].
fn collapse_band(inst: &Instance, relative_gamma: f64, factor: f64) -> Result<Deviation, String> {
    let r_max = inst.base.support_range(&inst.reward).1;
    let below: Vec<usize> = inst
        .base
        .support()
        .filter(|&x| inst.reward[x] < r_max)
        .collect();
    let gap = |x: usize| r_max - inst.reward[x];
    let min_gap = below.iter().map(|&x| gap(x)).fold(f64::INFINITY, f64::min);
    let gamma = relative_gamma * min_gap;
    let p_a = inst.base.mass_where(|x| inst.reward[x] == r_max);
    let sum = |f: &dyn Fn(usize) -> f64| -> f64 {
        below
            .iter()
            .map(|&x| f(x))
            .collect::<CompensatedSum>()
            .value()
    };
    let s = sum(&|x| inst.base.prob(x) / gap(x));
    let s2 = sum(&|x| inst.base.prob(x) / (gap(x) * gap(x)));
    let delta_hi = gamma * p_a / (1.0 - gamma * s);
    let lower = gamma * gamma * p_a * sum(&|x| inst.base.prob(x) / (gap(x) * (gap(x) + delta_hi)));
    let upper = gamma * gamma * p_a * s2 / (1.0 - gamma * s);
    let opt = forward_kl(&inst.base, &inst.reward, gamma).map_err(err)?;
    let m = sum(&|x| opt.solution.policy.prob(x));
    let excess = gamma * s * factor - m;
    // Below the normal range the masses have absolute precision only (steps of 2^-1074), so
    // the relative slack gets the floor `1e-11 f64::MIN_POSITIVE` (2.2e-319): an off-argmax
    // base mass of 8.9e-312 two gaps of 5e4 below gives `gamma S ~ 1e-319`, where the policy's
    // subnormal entry missed it by 201 steps (seed 2 at 20000 cases).
    let tol = 1e-11 * (gamma * s).max(f64::MIN_POSITIVE);
    Ok(bound(lower, excess, tol).worst(bound(excess, upper, tol)))
}

// ---------------------------------------------------------------------------------------------
// pref.forward-diversity

/// Which diversity statement the search of `pref.forward-diversity` tries to refute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiversityReading {
    /// The folklore: `H(forward-KL optimum) >= H(tilt at the same E[r])` (refuted).
    Entropy,
    /// Relative to the base: `KL(tilt||pi0) <= KL(forward-KL optimum||pi0)` (true).
    RelativeToBase,
}

/// Whether `reading` holds on the instance: the forward-KL optimum at `gamma` against the tilt
/// with its expected reward (both recomputed from the policies). Entropy: `H(fwd) >= H(tilt) -
/// 1e-9` (both solvers are accurate to ~1e-13 per entry; the least counterexample misses by
/// 0.00615 nats). Relative: [`sb::tilt_kl_at_most`] with its stated tolerance.
pub fn forward_diversity_holds(m: &MixInstance, reading: DiversityReading) -> Result<bool, String> {
    let inst = &m.instance;
    let fwd = forward_kl(&inst.base, &inst.reward, m.gamma).map_err(err)?;
    let pi = &fwd.solution.policy;
    let (reward, kl, defect) = sb::reward_and_kl(inst, pi)?;
    match reading {
        DiversityReading::Entropy => {
            let t = sb::tilt_at_reward(inst, reward)?;
            Ok(divergence::entropy(pi) >= divergence::entropy(&t.solution.policy) - 1e-9)
        }
        DiversityReading::RelativeToBase => {
            Ok(sb::tilt_kl_at_most(inst, reward, kl, defect, 1.0)?.ok())
        }
    }
}

/// The two-stage search (random and shrunk over `pref::pretrain_mix_strategy`, then exhaustive
/// over the small space [`super::minimal::PRETRAIN_MIX`]) for a counterexample to `reading`.
fn check_forward_diversity(config: &CheckConfig, reading: DiversityReading) -> Verdict {
    super::minimal::find_minimal_counterexample(
        config,
        pretrain_mix_strategy(),
        |m| forward_diversity_holds(m, reading),
        super::minimal::PRETRAIN_MIX,
    )
}

// ---------------------------------------------------------------------------------------------
// pref.chipo

/// Per instance (`factor` multiplies `beta` in the link: 1 for the claim, `1 + 1e-6` for its
/// control): (a) the KKT link `beta (t + ln t) = r - lambda` at every support outcome, `ln t =
/// log pi - log pi0` from the log views (so masses below the `f64` range are checked too),
/// tolerance `1e-11 (|r| + |lambda| + |r*| + beta (1 + t)(1 + |log pi| + |log pi0|))`: the
/// solver's `y = u - d` carries `eps (|r* - lambda| + |r* - r|)/beta`, which moves
/// `beta (t + ln t)` by the same times `beta`, and the recomputed `ln t` the rounding of two
/// logarithms, moved by `beta (1 + t)`; plus `4 eps (1 + t)(|r* - lambda| + r* - min r)`: the
/// levels `y = u - d` are exact to `eps (|u| + |d|)` absolute, which moves the dominant
/// outcomes' `W` by as much relative, and the policy's normalization spreads that shift of
/// `ln t` to every outcome, moving `beta (t + ln t)` by `beta (1 + t)` times it (an argmax of
/// base mass `7.5e-11` at reward 498 above a mass-1 outcome at `-9e5`, `beta = 0.038`: `u ~ 2.3e7`,
/// an error of `8e-4` in `beta t ~ 9e5`); (b) linear growth `t <= max(1, (r - lambda)/beta)`
/// (`at_most`, same tolerance over `beta`); (c) every support outcome keeps positive mass (a
/// finite log mass); (d) no random competitor on the support and no mixture
/// `0.999 pi + 0.001 competitor` has a larger objective `E[r] - beta (chi2/2 + KL)`, recomputed
/// from the policies through `crate::divergence` (slack `1e-12` of the objective's scale).
fn check_chipo(config: &CheckConfig, factor: f64) -> Verdict {
    let strat = (
        strategy::instance(1..=6),
        strategy::moderate_beta(),
        proptest::collection::vec(0.01f64..1.0, 6),
    );
    check_theorem(config, strat, |(inst, beta, raw)| {
        let s = chipo(&inst.base, &inst.reward, *beta).map_err(err)?;
        let pi = &s.solution.policy;
        let (r_min, r_max) = inst.base.support_range(&inst.reward);
        let mut dev = Deviation::exact(true);
        for x in inst.base.support() {
            let (lp, lb) = (pi.log_prob(x), inst.base.log_prob(x));
            dev = dev.worst(Deviation::exact(lp > f64::NEG_INFINITY));
            let ln_t = lp - lb;
            let t = ln_t.exp();
            let rhs = inst.reward[x] - s.lambda;
            let tol = 1e-11
                * (inst.reward[x].abs()
                    + s.lambda.abs()
                    + r_max.abs()
                    + beta * (1.0 + t) * (1.0 + lp.abs() + lb.abs()))
                + 4.0 * f64::EPSILON * (1.0 + t) * ((r_max - s.lambda).abs() + (r_max - r_min));
            let lhs = beta * factor * (t + ln_t);
            dev = dev.worst(Deviation::new((lhs - rhs).abs(), tol));
            dev = dev.worst(Deviation::at_most(t, (rhs / beta).max(1.0), tol / beta));
        }
        let Some(other) = super::pref::competitor(&inst.base, raw) else {
            return Ok(dev);
        };
        let value = |p: &Dist| -> Result<f64, String> {
            let d = chipo_divergence(p, &inst.base).map_err(err)?;
            Ok(p.expectation(&inst.reward).map_err(err)? - beta * d)
        };
        let j = value(pi)?;
        let scale = 1.0 + j.abs() + sup(&inst.reward);
        Ok(dev.worst(super::pref::no_better_competitor(
            pi, &other, j, scale, value,
        )?))
    })
}

// ---------------------------------------------------------------------------------------------
// pref.dpo-unseen

/// A preference problem with unseen outcomes: reference, Bradley-Terry reward (on every outcome;
/// its values on the unseen ones only enter the tilt), pair weights zero on every pair touching
/// an unseen outcome, `beta`, and a random unseen mass.
#[derive(Clone)]
pub struct UnseenInstance {
    /// Full-support reference.
    pub base: Dist,
    /// Reward on every outcome.
    pub reward: Vec<f64>,
    /// Pair weights (zero on pairs with an unseen outcome).
    pub weight: DMatrix<f64>,
    /// Which outcomes appear in no pair.
    pub unseen: Vec<bool>,
    /// DPO temperature.
    pub beta: f64,
    /// A member of the family, in `[0, 1)`.
    pub mass: f64,
}

impl fmt::Debug for UnseenInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "base={:?} reward={:?} unseen={:?} weight={:?} beta={:?} mass={:?}",
            self.base.probs(),
            self.reward,
            self.unseen,
            self.weight.as_slice(),
            self.beta,
            self.mass
        )
    }
}

/// 2..=4 seen and 1..=2 unseen outcomes at random positions, full-support base, rewards in
/// `[-3, 3]`, pair weights in `[0.05, 1)` on the seen pairs, `beta` moderate, a mass in `[0, 1)`.
fn unseen_instance() -> impl Strategy<Value = UnseenInstance> {
    (2usize..=4, 1usize..=2)
        .prop_flat_map(|(s, u)| {
            let n = s + u;
            (
                full_base(n),
                proptest::collection::vec(-3.0f64..3.0, n),
                super::pref::pair_weights(n),
                proptest::sample::subsequence((0..n).collect::<Vec<_>>(), u),
                strategy::moderate_beta(),
                0.0f64..1.0,
            )
        })
        .prop_map(|(base, reward, weight, hidden, beta, mass)| {
            let n = base.len();
            let unseen: Vec<bool> = (0..n).map(|x| hidden.contains(&x)).collect();
            let weight = DMatrix::from_fn(n, n, |x, y| {
                if unseen[x] || unseen[y] {
                    0.0
                } else {
                    weight[(x, y)]
                }
            });
            UnseenInstance {
                base,
                reward,
                weight,
                unseen,
                beta,
                mass,
            }
        })
}

/// Per instance (`factor` multiplies `beta` in the family: 1 for the claim, `1 + 1e-6` for the
/// control), for the members with unseen mass `m` in `{0, mass, 1/2, 1 - 1e-3}` and the one at the
/// tilt's unseen mass: (a) the unseen mass summed from the returned policy (the tilt's member only where its
/// unseen mass is below 1 in floating point) is `m` (to
/// `1e-13 + 4 n eps`); (b) the DPO loss recomputed from the policy (`h = log pi - log pi0` from
/// the log views, the loss formula of `solve::preference::dpo_loss`) is the same for every
/// member, to `64 eps W (log 2 + 2 max |r|)`; (c) minimal: the gradient recomputed from the
/// policy is within `2e-14 beta W + 2 beta^2 W eps l` (the DPO checks' stationarity,
/// `pref.dpo-minimizer`), and a perturbation of `h` on a seen outcome strictly raises the loss;
/// (d) the tilt `pi0 e^{r/beta}` (its reward on the unseen outcomes arbitrary) agrees with the
/// member at its own unseen mass on every seen outcome (summed absolute difference (TV `<= 1e-10`).
fn check_dpo_unseen(config: &CheckConfig, factor: f64) -> Verdict {
    check_theorem(config, unseen_instance(), |ui| {
        let n = ui.base.len();
        let prefs = DMatrix::from_fn(n, n, |x, y| sigmoid(ui.reward[x] - ui.reward[y]));
        let c = Comparisons::new(ui.weight.clone(), prefs).map_err(err)?;
        let w = c.total_weight();
        let beta = ui.beta;
        let t = tilt(&ui.base, &ui.reward, beta).map_err(err)?;
        let tilt_mass = t.solution.policy.mass_where(|x| ui.unseen[x]);
        let r_max = sup(&ui.reward);
        let mut dev = Deviation::exact(true);
        let mut first: Option<f64> = None;
        // The tilt's unseen mass may round to 1 (a seen part below rounding), outside [0, 1).
        let members = [0.0, ui.mass, 0.5, 1.0 - 1e-3, tilt_mass];
        for m in members.into_iter().filter(|m| *m < 1.0) {
            let opt = dpo_minimizer_with_unseen(&ui.base, &c, beta * factor, m).map_err(err)?;
            let pi = &opt.policy;
            let got = pi.mass_where(|x| ui.unseen[x]);
            dev = dev.worst(Deviation::new(
                (got - m).abs(),
                1e-13 + 4.0 * n as f64 * f64::EPSILON,
            ));
            let h = log_ratio(pi, &ui.base).map_err(err)?;
            let loss = dpo_loss(&c, beta, &h).map_err(err)?;
            let slack = 64.0 * f64::EPSILON * w * (2f64.ln() + 2.0 * r_max);
            let l0 = *first.get_or_insert(loss);
            dev = dev.worst(Deviation::new((loss - l0).abs(), slack));
            let g = dpo_gradient(&c, beta, &h).map_err(err)?;
            let l = (0..n)
                .filter(|&x| !ui.unseen[x])
                .map(|x| pi.log_prob(x).abs() + ui.base.log_prob(x).abs())
                .fold(0.0, f64::max);
            let seen_g: Vec<f64> = (0..n).filter(|&x| !ui.unseen[x]).map(|x| g[x]).collect();
            let goal = 2e-14 * beta * w + 2.0 * beta * beta * w * f64::EPSILON * l;
            dev = dev.worst(Deviation::new(sup(&seen_g), goal));
            let x = (0..n).find(|&x| !ui.unseen[x]).ok_or("no seen outcome")?;
            let mut bumped = h.clone();
            bumped[x] += 0.1 / beta;
            let lb = dpo_loss(&c, beta, &bumped).map_err(err)?;
            dev = dev.worst(Deviation::exact(lb > loss));
            if m == tilt_mass {
                // The tilt splits its unseen mass by pi0 e^{r/beta}, the member by pi0: the
                // seen entries must agree (the unseen totals agree by construction).
                let seen_gap: f64 = (0..n)
                    .filter(|&x| !ui.unseen[x])
                    .map(|x| (pi.prob(x) - t.solution.policy.prob(x)).abs())
                    .sum();
                dev = dev.worst(Deviation::new(seen_gap, 1e-10));
            }
        }
        Ok(dev)
    })
}

// ---------------------------------------------------------------------------------------------
// pref.likelihood-displacement

/// One DPO step's instance: a log-linear class (or the tabular softmax), parameters, reference,
/// pair, temperature and step size.
#[derive(Clone)]
pub struct StepInstance {
    /// Full-support base of the class.
    pub base: Dist,
    /// Features, `n x k` (the identity for the tabular softmax).
    pub features: DMatrix<f64>,
    /// Whether the class is the tabular softmax.
    pub tabular: bool,
    /// Parameters.
    pub theta: Vec<f64>,
    /// Full-support reference.
    pub reference: Dist,
    /// The preferred and the dispreferred outcome.
    pub pair: (usize, usize),
    /// DPO temperature.
    pub beta: f64,
    /// Step size.
    pub eta: f64,
}

impl fmt::Debug for StepInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "base={:?} tabular={} features(col-major)={:?} theta={:?} reference={:?} pair={:?} beta={:?} eta={:?}",
            self.base.probs(),
            self.tabular,
            self.features.as_slice(),
            self.theta,
            self.reference.probs(),
            self.pair,
            self.beta,
            self.eta
        )
    }
}

/// Tabular (half the time) or log-linear classes on 2..=6 outcomes with 1..=3 features in
/// `[-2, 2]`, parameters in `[-2, 2]`, full-support base and reference, a random ordered pair,
/// `beta` moderate and `eta` log-uniform on `[1e-6, 1]` (small steps reach the first-order edge).
fn step_instance() -> impl Strategy<Value = StepInstance> {
    (2usize..=6, 1usize..=3, any::<bool>())
        .prop_flat_map(|(n, k, tabular)| {
            let k = if tabular { n } else { k };
            (
                full_base(n),
                full_base(n),
                proptest::collection::vec(-2.0f64..2.0, n * k),
                proptest::collection::vec(-2.0f64..2.0, k),
                (0..n, 1..n),
                strategy::moderate_beta(),
                (-6.0f64..0.0).prop_map(|e| 10f64.powf(e)),
                Just((n, k, tabular)),
            )
        })
        .prop_map(
            |(base, reference, phi, theta, (w, shift), beta, eta, (n, k, tabular))| {
                let features = if tabular {
                    DMatrix::identity(n, n)
                } else {
                    DMatrix::from_column_slice(n, k, &phi)
                };
                StepInstance {
                    base,
                    features,
                    tabular,
                    theta,
                    reference,
                    pair: (w, (w + shift) % n),
                    beta,
                    eta,
                }
            },
        )
}

/// Per instance (`factor` multiplies the claimed first-order constant: 1 for the claim,
/// `1 + 1e-3` for the control), everything recomputed from the returned `before` policy and the
/// instance, independently of the solver's own fields: `c = eta beta sigmoid(-m)`; the projection
/// `p(x) = phi(x) . g`; `D = p(w) - E_pi[p]` (tabular: the statement's `1 - pi(w) + pi(l)`);
/// the exact change `Delta = c p(w) - log E_pi[e^{c p}]` by log-sum-exp; `s = max p - min p`.
/// Checks: (a) `Delta` agrees with the solver's and with `log pi'(w) - log pi(w)` read from the
/// returned policies (tolerance `tol = 16 eps (1 + |log pi(w)| + |log pi'(w)| + c max |p|)`),
/// `D` and the spread of `p` over the base's support with the solver's `first_order` and
/// `spread` (`64 eps (1 + max |p|)`), `c` and `m` with its `coefficient` and `margin`
/// (`8 eps` relative);
/// (b) `factor c D - c^2 s^2/8 <= Delta <= factor c D` (slack `tol`); (c) tabular: `Delta > 0`
/// (exact, whenever `c D` exceeds `tol`); log-linear with `D < 0`: `Delta < 0` (exact).
fn check_displacement(config: &CheckConfig, factor: f64) -> Verdict {
    check_theorem(config, step_instance(), |si| {
        let class = LogLinearClass::new(si.base.clone(), si.features.clone()).map_err(err)?;
        let s = dpo_step(
            &class,
            &si.features,
            &si.theta,
            &si.reference,
            si.pair,
            si.beta,
            si.eta,
        )
        .map_err(err)?;
        refuses_pairs_outside(si, &class)?;
        let (w, l) = si.pair;
        let pi = &s.before;
        let m = si.beta
            * ((pi.log_prob(w) - si.reference.log_prob(w))
                - (pi.log_prob(l) - si.reference.log_prob(l)));
        let c = si.eta * si.beta * sigmoid(-m);
        let n = si.base.len();
        let p: Vec<f64> = (0..n)
            .map(|x| {
                (0..si.features.ncols())
                    .map(|j| si.features[(x, j)] * (si.features[(w, j)] - si.features[(l, j)]))
                    .sum()
            })
            .collect();
        let mean: f64 = (0..n)
            .map(|x| pi.prob(x) * p[x])
            .collect::<CompensatedSum>()
            .value();
        let d = if si.tabular {
            1.0 - pi.prob(w) + pi.prob(l)
        } else {
            p[w] - mean
        };
        let terms: Vec<f64> = (0..n).map(|x| pi.log_prob(x) + c * p[x]).collect();
        let delta = c * p[w] - log_sum_exp(&terms);
        let (lo, hi) = p
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let s_range = hi - lo;
        let read = s.after.log_prob(w) - pi.log_prob(w);
        let tol = 16.0
            * f64::EPSILON
            * (1.0 + pi.log_prob(w).abs() + s.after.log_prob(w).abs() + c * sup(&p));
        let mut dev = Deviation::new((s.log_change - delta).abs(), tol);
        dev = dev.worst(Deviation::new((read - delta).abs(), tol));
        dev = dev.worst(Deviation::close(s.coefficient, c, 8.0 * f64::EPSILON, 0.0));
        // The solver's margin and spread (the latter over the base's support, where the step
        // moves the policy), each formed by the same operations as here, up to the order of
        // the sums.
        dev = dev.worst(Deviation::close(s.margin, m, 8.0 * f64::EPSILON, 0.0));
        let (lo_s, hi_s) = si.base.support_range(&p);
        dev = dev.worst(Deviation::close(
            s.spread,
            hi_s - lo_s,
            64.0 * f64::EPSILON,
            1.0 + sup(&p),
        ));
        // The solver's own D, summed per feature, against the recomputed one, summed per
        // outcome: two orders of at most 6 x 3 products of numbers below 24 in magnitude.
        dev = dev.worst(Deviation::close(
            s.first_order,
            d,
            64.0 * f64::EPSILON,
            1.0 + sup(&p),
        ));
        let first = factor * c * d;
        dev = dev.worst(bound(delta, first, tol));
        dev = dev.worst(bound(first - c * c * s_range * s_range / 8.0, delta, tol));
        if si.tabular && c * d > tol {
            dev = dev.worst(Deviation::exact(delta > 0.0));
        }
        if !si.tabular && c * d < -tol {
            dev = dev.worst(Deviation::exact(delta < 0.0));
        }
        Ok(dev)
    })
}

/// The step's hypotheses on the pair, at their edge: the solver must refuse the instance's
/// step for the pair `(w, w)`, for a loser beyond the outcomes, and against a reference that
/// gives the loser no mass (the margin would be infinite).
fn refuses_pairs_outside(si: &StepInstance, class: &LogLinearClass) -> Result<(), String> {
    let (w, l) = si.pair;
    let step = |reference: &Dist, pair| {
        dpo_step(
            class,
            &si.features,
            &si.theta,
            reference,
            pair,
            si.beta,
            si.eta,
        )
    };
    refused("the pair (w, w)", step(&si.reference, (w, w)))?;
    refused(
        "a loser beyond the outcomes",
        step(&si.reference, (w, si.base.len())),
    )?;
    let mut without_loser = si.reference.probs().to_vec();
    without_loser[l] = 0.0;
    let without_loser = Dist::from_weights(without_loser).map_err(err)?;
    refused(
        "a reference without mass on the loser",
        step(&without_loser, si.pair),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_claim_passes_on_a_short_run_and_rejects_its_control() {
        for seed in [0, 3] {
            crate::claims::assert_short_run_passes(&claims(), 32, seed);
        }
    }

    /// Each half of the forward-collapse control is rejected on its own: the check with only
    /// the odds or only the constant perturbed.
    #[test]
    fn forward_collapse_band_rejects_a_shifted_constant() -> Result<(), String> {
        let inst = Instance {
            base: Dist::new(vec![0.5, 0.25, 0.25]).map_err(err)?,
            reward: vec![1.0, 0.0, -1.0],
        };
        assert!(collapse_band(&inst, 1e-4, 1.0)?.ok());
        assert!(!collapse_band(&inst, 1e-4, 1.0 + 1e-5)?.ok());
        assert!(!collapse_band(&inst, 1e-4, 1.0 - 1e-5)?.ok());
        Ok(())
    }

    /// The least counterexample to the diversity folklore: uniform base on three outcomes,
    /// rewards (0, 1, 2), gamma = 1.
    #[test]
    fn forward_kl_is_less_diverse_on_the_least_counterexample() -> Result<(), String> {
        let m = MixInstance {
            instance: Instance {
                base: Dist::uniform(3).map_err(err)?,
                reward: vec![0.0, 1.0, 2.0],
            },
            gamma: 1.0,
        };
        assert!(!forward_diversity_holds(&m, DiversityReading::Entropy)?);
        assert!(forward_diversity_holds(
            &m,
            DiversityReading::RelativeToBase
        )?);
        Ok(())
    }
}
