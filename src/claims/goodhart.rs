//! Family `goodhart: proxies and true utility`.
//!
//! A joint model gives each outcome a proxy `U` (what is optimized) and a true utility `V`. The
//! models live in [`crate::goodhart`]; this file states the claims and checks them.
#![doc = include_str!("../../docs/claims/goodhart.md")]

use super::strategy::{self as shared};
use super::strategy_goodhart as strat;
use super::{
    check_model, check_model_cases, check_theorem, refused, runner, CheckConfig, Claim, Control,
    Deviation, Status, Verdict,
};
use crate::goodhart::additive::{kl_for_gain, AdditiveModel, TailLaw};
use crate::goodhart::gaussian::{self, log_cdf, pdf, upper_tail};
use crate::goodhart::outlier::OutlierModel;
use crate::goodhart::resource::ResourceProblem;
use crate::goodhart::submodules::SubmoduleModel;
use crate::goodhart::{quadrature, true_utility_range, JointTable, Optimizer};
use crate::solve;
use crate::Dist;
use proptest::prelude::*;
use serde::Serialize;

fn s(e: impl ToString) -> String {
    e.to_string()
}

/// The claims of this family, in catalog order.
pub fn claims() -> Vec<Claim> {
    vec![
        Claim {
            id: "goodhart.reweighting",
            title: "Optimizers that reweight by a function of U change V only through the law of U",
            statement: "If $\\pi(x) = \\pi_0(x) g(U(x))$ (tilt, best-of-N, conditioning, quantilizer, \
KL budget, reward target), then $\\pi(V \\mid U = u) = \\pi_0(V \\mid U = u)$ for every $u$ with $\\pi(U = u) > 0$, \
so $E_\\pi[V] = E_\\pi[m(U)]$ with $m(u) = E_{\\pi_0}[V \\mid U = u]$.",
            sources: &["[S0] Shlegeris 2022 (comment thread on causal Goodhart)"],
            status: Status::Theorem,
            settled: None,
            check: |c| reweighting(c, |p| p),
            control: Control {
                description: "m(u) under the wrong conditional: V averaged uniformly over each U-class instead of by pi0",
                check: |c| reweighting(c, |_| 1.0),
            },
        },
        Claim {
            id: "goodhart.no-dominance",
            title: "At equal E[U], neither the tilt nor best-of-N always gives the higher E[V]",
            statement: "There are joint tables where the least-KL tilt with $E[U] = E_{BoN_N}[U]$ has a strictly \
higher $E[V]$ than best-of-$N$, and joint tables where it has a strictly lower one.",
            sources: &["[S0] Shlegeris 2022 (further assumptions on the joint distribution are needed)"],
            status: Status::Theorem,
            settled: Some("by two witnesses found by seeded search and shrunk (snapshotted in tests/snapshots)"),
            check: |c| no_dominance(c, Challenger::Tilt),
            control: Control {
                description: "the tilt replaced by the U-reweighting with best-of-N's law of U (false: that one never differs from best-of-N in E[V])",
                check: |c| no_dominance(c, Challenger::BonLawOfU),
            },
        },
        Claim {
            id: "goodhart.regressional",
            title: "Regressional Goodhart: the regression of V on U = V + E shrinks toward the mean",
            statement: "If $V \\sim N(\\mu_V, s_V^2)$ and $E \\sim N(\\mu_E, s_E^2)$ are independent and $U = V + E$, then \
$E[V \\mid U = u] = \\mu_V + \\frac{s_V^2}{s_V^2 + s_E^2}(u - \\mu_V - \\mu_E)$.",
            sources: &["Manheim & Garrabrant 2018, Categorizing Variants of Goodhart's Law"],
            status: Status::Theorem,
            settled: None,
            check: |c| regressional(c, 1.0),
            control: Control {
                description: "coefficient s_V^2/(s_V^2 + s_E^2) perturbed by 1e-6 relative",
                check: |c| regressional(c, 1.0 + 1e-6),
            },
        },
        Claim {
            id: "goodhart.gaussian",
            title: "Standard bivariate normal: every U-optimizer moves along E[V] = rho E[U]",
            statement: "$(U, V)$ standard bivariate normal with correlation $\\rho$. Best-of-$N$ on $U$: $E[U] = e_N$, \
$E[V] = \\rho e_N$. Tilt: $E[U] = 1/\\beta$, $E[V] = \\rho/\\beta$, $KL = 1/(2\\beta^2)$. Conditioning on $U \\ge t$: \
$E[U] = \\phi(t)/Q(t)$, $E[V] = \\rho E[U]$, $KL = -\\log Q(t)$. Shifting the mean of $U$ alone by $\\delta$: \
$E[V] = 0$, $KL = \\delta^2 / (2(1 - \\rho^2))$.",
            sources: &["[S0] Shlegeris 2022 (Gaussian example)"],
            status: Status::Model,
            settled: None,
            check: |c| gaussian_model(c, 1.0),
            control: Control {
                description: "rho in the closed forms moved by 1e-5 relative (0.6 -> 0.600006)",
                check: |c| gaussian_model(c, 1.0 + 1e-5),
            },
        },
        Claim {
            id: "goodhart.outlier",
            title: "One adversarial output among a million: the tilt cannot keep quality without admitting it",
            statement: "$10^6$ ordinary outputs with rewards $100 i/(10^6 - 1)$ and one adversarial output with reward $10^5$, \
uniform base. Conditioning on $r > 99$ picks the adversarial output with probability exactly $1/10001$. No $\\beta$ \
gives both a mean ordinary reward $\\ge 99$ and adversarial mass $\\le 10^{-4}$: the best mean ordinary reward at \
adversarial mass $\\le 10^{-4}$ is reached at the $\\beta$ where the mass equals $10^{-4}$, and is $50.0384$.",
            sources: &["[S0] comment by Lawrence Chan"],
            status: Status::Model,
            settled: None,
            check: |c| outlier(c, OUTLIER_BEST_MEAN),
            control: Control {
                description: "best mean ordinary reward 50.0384 moved by one in its last digit: 50.0385",
                check: |c| outlier(c, 50.0385),
            },
        },
        Claim {
            id: "goodhart.submodules",
            title: "Capability-limited submodules: reallocation lowers truth; conditioning raises it iff rho > 0.0932",
            statement: "In the submodule model of `proofs/goodhart.submodules.md` (truth per unit $(1,-1,0)$, persuasion \
per unit $(1,2,0)$, unit noises with correlation $\\rho$, $\\theta$ uniform on the simplex grid with $K = 30$), \
reallocating $\\theta$ toward the persuasion-optimal vertex to the $E[P]$ reached by conditioning on $P \\ge 1$ \
lowers $E[T]$ below the base's for every $\\rho$, while conditioning the base on $P \\ge 1$ raises $E[T]$ if and \
only if $\\rho > \\rho^* = 0.09319010$ (to 8 decimals; it lowers it for $\\rho < \\rho^*$): the sign of the \
contrast depends on the noise correlation.",
            sources: &["[S0] comments by Neyman and Thomas (reconstruction)"],
            status: Status::Model,
            settled: None,
            check: |c| submodules(c, SUBMODULE_NEUTRAL_RHO),
            control: Control {
                description: "neutral correlation moved by one in its last decimal: 0.09319011",
                check: |c| submodules(c, SUBMODULE_NEUTRAL_RHO + 1e-8),
            },
        },
        Claim {
            id: "goodhart.resource",
            title: "A proxy on a subset of attributes drives the others to their minimum",
            statement: "Attributes $a_i \\ge m_i$, a budget $\\sum_i c_i a_i \\le B$ with $c_i > 0$, and a proxy \
$\\sum_{i \\in S} w_i a_i$ with $w_i > 0$ on a strict subset $S$. Every maximizer has $a_j = m_j$ for all $j \\notin S$.",
            sources: &["Zhuang & Hadfield-Menell 2020, Consequences of Misaligned AI"],
            status: Status::Theorem,
            settled: None,
            check: |c| resource(c, |_, _| 0.0),
            control: Control {
                description: "attributes outside S weighted at the best ratio, w_j = c_j max_S w_i/c_i (a tie: some maximizer raises them)",
                check: |c| resource(c, |cost, ratio| cost * ratio),
            },
        },
        Claim {
            id: "goodhart.heavy-tail",
            title: "Heavy-tailed error: the tilt buys proxy gain without true gain",
            statement: "$U = V + X$, $V \\sim N(0,1)$, $X$ independent of $V$. Finite form checked: on grids cut at \
$L$, the least-KL policy with $E[U] - E_0[U] = 1$ (a tilt) has true gain $E[V] - E_0[V]$ that decreases toward 0 \
as $L$ grows when $X$ is Student-t(3), Pareto(1.5) or lognormal(1) (checked: by a factor $\\ge 2$ per decade of $L$ and \\
$\\le 0.01$ at $L = 10^4$), and stays at $1/2$ when $X \\sim N(0,1)$.",
            sources: &["Kwa, Thomas & Garriga-Alonso 2024, Catastrophic Goodhart"],
            status: Status::Theorem,
            settled: None,
            check: |c| heavy_tail(c, &TAIL_LAWS),
            control: Control {
                description: "Student-t(3) error replaced by the light-tailed N(0, 3) of the same variance",
                check: |c| heavy_tail(c, &LIGHT_IN_PLACE_OF_T),
            },
        },
        Claim {
            id: "goodhart.heavy-tail-kl",
            title: "Heavy tails: a fixed mean gain at vanishing KL",
            statement: "For a heavy-tailed base $Q$ with finite mean, the least $KL(P\\|Q)$ with $E_P[X] \\ge E_Q[X] + G$ \
tends to 0 as the support grows (the construction moving mass $G/t$ to a far point $t$ witnesses it); for $Q = N(0,1)$ \
it tends to $G^2/2$.",
            sources: &["Kwa, Thomas & Garriga-Alonso 2024, Catastrophic Goodhart, Theorem 1"],
            status: Status::Theorem,
            settled: None,
            check: |c| heavy_tail_kl(c, &TAIL_LAWS),
            control: Control {
                description: "Student-t(3) base replaced by the light-tailed N(0, 3) of the same variance",
                check: |c| heavy_tail_kl(c, &LIGHT_IN_PLACE_OF_T),
            },
        },
        Claim {
            id: "goodhart.kwa-unbiased",
            title: "The 'unbiased but heteroskedastic' example does not regress to 0",
            statement: "$V \\sim N(0,1)$; $X \\mid V \\sim N(0, 4)$ when $|V| \\le 1$ and $X = 0$ otherwise. The statement \
$E[V \\mid X + V \\ge t] \\to 0$ is false: $E[V \\mid X + V \\ge t] \\to 1$, with $1 - E[V \\mid X + V \\ge t] \\sim 4/t$.",
            sources: &["Thomas & Kwa 2023, \"When is Goodhart catastrophic?\" (comment thread)"],
            status: Status::Refuted,
            settled: Some("by proof (proofs/goodhart.kwa-unbiased.md) and by quadrature with a stated error bound: E[V | U >= t] rises toward 1, e.g. 0.9129 at t = 50 and 0.9899 at t = 400"),
            check: |c| kwa_unbiased(c, 0.0),
            control: Control {
                description: "the true variant: E[V | X + V >= t] -> 1 (the same computation must not refute it)",
                check: |c| kwa_unbiased(c, 1.0),
            },
        },
        Claim {
            id: "goodhart.gao-forms",
            title: "The RL scaling form d(alpha - beta log d) beats the transport bound at small KL",
            statement: "For $\\alpha \\in \\mathbb{R}$, $\\beta > 0$, $s > 0$: $R(d) = d(\\alpha - \\beta \\log d)$ exceeds \
$\\sqrt{2 s^2}\\, d$ for all $0 < d < e^{(\\alpha - \\sqrt 2 s)/\\beta}$, while $E_\\pi[r] - E_{\\pi_0}[r] \\le \\sqrt{2 s^2 KL}$ \
for every policy when $r$ is $s$-sub-Gaussian under $\\pi_0$; the form $d(\\alpha - \\beta d)$ with $\\alpha \\le \\sqrt 2 s$ \
respects the bound.",
            sources: &["Gao, Schulman & Hilton 2022, Scaling Laws for Reward Model Overoptimization"],
            status: Status::Theorem,
            settled: None,
            check: |c| gao_forms(c, 1.0),
            control: Control {
                description: "transport bound tightened by 1%: gain <= 0.99 sqrt(2 s^2 KL)",
                check: |c| gao_forms(c, 0.99),
            },
        },
        Claim {
            id: "goodhart.frontier",
            title: "The exact range of E[V] at a KL budget, and its closed-form bounds",
            statement: "For $KL(\\pi\\|\\pi_0) \\le \\varepsilon$, $E_\\pi[V]$ lies between the values of the tilts by $-V$ and \
$+V$ at KL $\\varepsilon$, both attained; hence $|E_\\pi[V] - E_{\\pi_0}[V]| \\le \\sqrt{2 s^2 \\varepsilon} \\le \
\\mathrm{range}(V)\\sqrt{\\varepsilon/2}$ with $s^2$ the optimal sub-Gaussian variance proxy.",
            sources: &["Donsker & Varadhan 1975; transportation inequalities (Boucheron, Lugosi & Massart 2013)"],
            status: Status::Theorem,
            settled: None,
            check: |c| frontier(c, 1.0),
            control: Control {
                description: "range tightened by 1%: E_pi[V] - E0 <= 0.99 (high - E0) and E0 - E_pi[V] <= 0.99 (E0 - low)",
                check: |c| frontier(c, 0.99),
            },
        },
    ]
}

/// Largest `|x|` over a slice, at least 1.
fn scale_of(xs: &[f64]) -> f64 {
    xs.iter().fold(1.0f64, |m, x| m.max(x.abs()))
}

/// How `m(u)` weighs the members of a proxy class: by their base mass (the theorem's
/// `m(u) = E_pi0[V | U = u]`), or uniformly (the control's wrong conditional).
type ClassWeight = fn(f64) -> f64;

/// Checks, per random joint table and optimizer: (a) `log pi - log pi0` is constant on each
/// proxy class where `pi > 0` (to `16 eps` times the size of the logs: each is a sum of a few
/// rounded logarithms), and an outcome of a class with `pi = 0` next to one with `pi > 0` has a
/// log ratio that underflows (`log pi0 + c < -700`); (b) `E_pi[V] = sum_u pi(U = u) m(u)` to
/// `1e-13 max|V|` (two sums of at most 8 products, each product rounded a few times), with
/// `m(u) = sum_{U(x) = u} w(pi0(x)) V(x) / sum_{U(x) = u} w(pi0(x))` recomputed here from the
/// table (`w` the identity for the theorem).
fn reweighting(config: &CheckConfig, weigh: ClassWeight) -> Verdict {
    check_theorem(config, (strat::joint(1..=8), strat::pick()), |(t, pick)| {
        let opt = strat::resolve(t, *pick)?;
        let sol = t.optimize(opt).map_err(s)?;
        let pi = &sol.policy;
        let classes = solve::RewardClasses::new(&t.base, &t.proxy).map_err(s)?;
        let k = classes.classes.len();
        let (mut lo, mut hi, mut size) =
            (vec![f64::INFINITY; k], vec![f64::NEG_INFINITY; k], 1.0f64);
        let mut class_mass = vec![crate::numeric::CompensatedSum::new(); k];
        let mut m_num = vec![crate::numeric::CompensatedSum::new(); k];
        let mut m_den = vec![crate::numeric::CompensatedSum::new(); k];
        for (i, c) in classes.class_of(t.base.len()).iter().enumerate() {
            let Some(c) = c else {
                if pi.prob(i) > 0.0 {
                    return Ok(Deviation::exact(false));
                }
                continue;
            };
            class_mass[*c].add(pi.prob(i));
            let w = weigh(t.base.prob(i));
            m_num[*c].add(w * t.truth[i]);
            m_den[*c].add(w);
            if pi.prob(i) > 0.0 {
                let d = pi.log_prob(i) - t.base.log_prob(i);
                lo[*c] = lo[*c].min(d);
                hi[*c] = hi[*c].max(d);
                size = size.max(pi.log_prob(i).abs()).max(t.base.log_prob(i).abs());
            }
        }
        let mut dev = Deviation::new(0.0, 16.0 * f64::EPSILON * size);
        for c in 0..k {
            if hi[c] > lo[c] {
                dev = dev.worst(Deviation::new(hi[c] - lo[c], 16.0 * f64::EPSILON * size));
            }
        }
        for (i, c) in classes.class_of(t.base.len()).iter().enumerate() {
            if let Some(c) = c {
                if pi.prob(i) == 0.0 && hi[*c] > f64::NEG_INFINITY {
                    dev = dev.worst(Deviation::exact(t.base.log_prob(i) + hi[*c] < -700.0));
                }
            }
        }
        let via_m: f64 = crate::numeric::sum(
            (0..k).map(|c| class_mass[c].value() * m_num[c].value() / m_den[c].value()),
        );
        let direct = pi.expectation(&t.truth).map_err(s)?;
        Ok(dev.worst(Deviation::close(direct, via_m, 1e-13, scale_of(&t.truth))))
    })
}

/// One side of the no-dominance comparison: best-of-N and the least-KL tilt with the same
/// `E[U]`, each evaluated on `V`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Base probabilities.
    pub base: Vec<f64>,
    /// Proxy.
    pub proxy: Vec<f64>,
    /// Truth.
    pub truth: Vec<f64>,
    /// N.
    pub n: u64,
    /// `E[U]` shared by both policies.
    pub expected_proxy: f64,
    /// `E[V]` under best-of-N.
    pub bon_true: f64,
    /// `E[V]` under the tilt.
    pub tilt_true: f64,
    /// KL of best-of-N.
    pub bon_kl: f64,
    /// KL of the tilt (never larger).
    pub tilt_kl: f64,
}

/// What best-of-N is compared with at its own `E[U]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenger {
    /// The least-KL policy with the same `E[U]` (a tilt): the claim.
    Tilt,
    /// The `U`-reweighting `pi0(x) P_N(U = U(x)) / pi0(U = U(x))`, which has best-of-N's whole law
    /// of `U`: the control (by `goodhart.reweighting` its `E[V]` equals best-of-N's).
    BonLawOfU,
}

/// Compares best-of-N with the least-KL tilt at the same `E[U]`; `None` if best-of-N does not
/// raise `E[U]` (proxy constant on the support). Every expectation and KL is recomputed from
/// the two policies.
pub fn compare_at_equal_proxy(t: &JointTable, n: u64) -> Result<Option<Comparison>, String> {
    compare_with(t, n, Challenger::Tilt)
}

/// The `U`-reweighting of the base that has the law of `U` of `pi`.
fn with_law_of_u(t: &JointTable, pi: &Dist) -> Result<Dist, String> {
    let classes = solve::RewardClasses::new(&t.base, &t.proxy).map_err(s)?;
    let of = classes.class_of(t.base.len());
    let mut target = vec![crate::numeric::CompensatedSum::new(); classes.classes.len()];
    for (i, c) in of.iter().enumerate() {
        if let Some(c) = c {
            target[*c].add(pi.prob(i));
        }
    }
    let w = of
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Some(c) => t.base.prob(i) * target[*c].value() / classes.classes[*c].mass,
            None => 0.0,
        })
        .collect();
    Dist::from_weights(w).map_err(s)
}

fn compare_with(
    t: &JointTable,
    n: u64,
    challenger: Challenger,
) -> Result<Option<Comparison>, String> {
    let bon = t.optimize(Optimizer::BestOfN { n }).map_err(s)?.policy;
    let e0 = t.base.expectation(&t.proxy).map_err(s)?;
    let expected_proxy = bon.expectation(&t.proxy).map_err(s)?;
    if !(expected_proxy > e0) {
        return Ok(None);
    }
    let other = match challenger {
        Challenger::Tilt => {
            // E[U] recomputed from the policy may round above max U when best-of-N is
            // (nearly) the argmax: clamp to the top of the support.
            let top = t
                .base
                .support()
                .map(|i| t.proxy[i])
                .fold(f64::NEG_INFINITY, f64::max);
            t.optimize(Optimizer::RewardTarget {
                target: expected_proxy.min(top),
            })
            .map_err(s)?
            .policy
        }
        Challenger::BonLawOfU => with_law_of_u(t, &bon)?,
    };
    let kl = |p: &Dist| crate::divergence::kl(p, &t.base).map_err(s);
    Ok(Some(Comparison {
        base: t.base.probs().to_vec(),
        proxy: t.proxy.clone(),
        truth: t.truth.clone(),
        n,
        expected_proxy,
        bon_true: bon.expectation(&t.truth).map_err(s)?,
        tilt_true: other.expectation(&t.truth).map_err(s)?,
        bon_kl: kl(&bon)?,
        tilt_kl: kl(&other)?,
    }))
}

/// A strict difference must exceed rounding: both `E[V]` are sums of at most 4 products with
/// `|V| <= 3`, so `1e-9` is far above their rounding error and far below the witnesses' gaps.
const STRICT_GAP: f64 = 1e-9;

/// The two witnesses of `goodhart.no-dominance`, found by seeded search over
/// [`strat::small_integer_joint`] and shrunk: first one where the tilt's `E[V]` is strictly
/// higher, then one where best-of-N's is.
pub fn no_dominance_witnesses(config: &CheckConfig) -> Result<(Comparison, Comparison), String> {
    let (a, b, _) = witnesses_against(config, Challenger::Tilt)?;
    Ok((a, b))
}

/// [`no_dominance_witnesses`] against `challenger`, with the number of tables evaluated.
fn witnesses_against(
    config: &CheckConfig,
    challenger: Challenger,
) -> Result<(Comparison, Comparison, u64), String> {
    let examined = std::cell::Cell::new(0u64);
    let find = |challenger_wins: bool| -> Result<Comparison, String> {
        let holds = |(t, n): &(JointTable, u64)| -> Result<bool, String> {
            examined.set(examined.get() + 1);
            Ok(match compare_with(t, *n, challenger)? {
                None => true,
                Some(c) if challenger_wins => !(c.tilt_true > c.bon_true + STRICT_GAP),
                Some(c) => !(c.bon_true > c.tilt_true + STRICT_GAP),
            })
        };
        let found = runner::shrunk_counterexample(config, strat::small_integer_joint(), holds)?
            .ok_or_else(|| "no witness found".to_string())?;
        compare_with(&found.0, found.1, challenger)?.ok_or_else(|| "degenerate witness".into())
    };
    let (a, b) = (find(true)?, find(false)?);
    Ok((a, b, examined.get()))
}

/// Searches both witnesses of `goodhart.no-dominance` (best-of-N against `challenger` at equal
/// `E[U]`); passes when both are found and re-verified strictly. `cases` is the number of tables
/// evaluated by the two searches, shrinking included.
fn no_dominance(config: &CheckConfig, challenger: Challenger) -> Verdict {
    // The search needs at least 64 cases to meet both witnesses.
    let cfg = CheckConfig::new(config.cases.max(64), config.seed);
    match witnesses_against(&cfg, challenger) {
        Ok((a, b, examined)) => {
            let mut v = check_model_cases(examined, || {
                Ok(Deviation::exact(
                    a.tilt_true > a.bon_true + STRICT_GAP && b.bon_true > b.tilt_true + STRICT_GAP,
                ))
            });
            v.counterexample = Some(format!(
                "tilt higher: base={:?} U={:?} V={:?} N={} E[V] tilt {:.6} > BoN {:.6}; BoN higher: base={:?} U={:?} V={:?} N={} E[V] BoN {:.6} > tilt {:.6}",
                a.base, a.proxy, a.truth, a.n, a.tilt_true, a.bon_true, b.base, b.proxy, b.truth, b.n, b.bon_true, b.tilt_true
            ));
            v
        }
        Err(e) => check_model(|| Err(e)),
    }
}

/// Checks the regression formula against `int v phi_V(v) phi_E(u - v) dv / int phi_V phi_E`
/// by Gauss-Legendre quadrature on panels a quarter of `min(s_V, s_E)` wide over a window of
/// 12 standard deviations around both centres (the neglected tails are below `e^{-70}`
/// relative); tolerance `1e-11` relative to `|mu_V| + s_V + |u|` (quadrature at rounding level,
/// a few thousand terms summed with compensation). The formula's coefficient
/// `s_V^2 / (s_V^2 + s_E^2)` is multiplied by `factor` (1 for the theorem).
fn regressional(config: &CheckConfig, factor: f64) -> Verdict {
    let strat = (
        -5.0f64..5.0,
        -5.0f64..5.0,
        0.1f64..10.0,
        0.1f64..10.0,
        -4.0f64..4.0,
    );
    check_theorem(config, strat, |&(mu_v, mu_e, s_v, s_e, z)| {
        let u = mu_v + mu_e + z * (s_v * s_v + s_e * s_e).sqrt();
        let log_w = |v: f64| {
            let a = (v - mu_v) / s_v;
            let b = (u - v - mu_e) / s_e;
            -0.5 * (a * a + b * b)
        };
        let (c1, c2) = (mu_v, u - mu_e);
        let wide = 12.0 * s_v.max(s_e);
        let (lo, hi) = (c1.min(c2) - wide, c1.max(c2) + wide);
        let panels = ((hi - lo) / (0.25 * s_v.min(s_e))).ceil() as usize;
        let peak = (0..=1000)
            .map(|k| log_w(lo + (hi - lo) * f64::from(k) / 1000.0))
            .fold(f64::NEG_INFINITY, f64::max);
        let mass = quadrature::integrate(|v| (log_w(v) - peak).exp(), lo, hi, panels);
        let first = quadrature::integrate(|v| v * (log_w(v) - peak).exp(), lo, hi, panels);
        let formula = mu_v + factor * s_v * s_v / (s_v * s_v + s_e * s_e) * (u - mu_v - mu_e);
        Ok(Deviation::close(
            first / mass,
            formula,
            1e-11,
            mu_v.abs() + s_v + u.abs(),
        ))
    })
}

/// A standard normal `U` discretized into cells of width `h` on `[-12, 12]`, each at its exact
/// conditional mean `(phi(a) - phi(b)) / (Phi(b) - Phi(a))`, with truth `rho` times it (by
/// `goodhart.reweighting`, only `m(u) = rho u` matters).
pub fn discretized_gaussian(h: f64, rho: f64) -> Result<JointTable, String> {
    let cells = (24.0 / h).round() as usize;
    let (mut w, mut u) = (Vec::with_capacity(cells), Vec::with_capacity(cells));
    for k in 0..cells {
        let a = -12.0 + h * k as f64;
        let b = a + h;
        // Mass from the tail on the far side of 0, where it is accurate.
        let m = if a >= 0.0 {
            upper_tail(a) - upper_tail(b)
        } else {
            upper_tail(-b) - upper_tail(-a)
        };
        w.push(m);
        u.push((pdf(a) - pdf(b)) / m);
    }
    let base = Dist::from_weights(w).map_err(s)?;
    let truth = u.iter().map(|x| rho * x).collect();
    JointTable::new(base, u, truth).map_err(s)
}

/// Lattice step of the mean-shift computation: the error `exp(-2 pi^2 (1 - rho) / h^2)` is
/// `e^{-790}` at `rho = 0.6`, far below rounding.
const SHIFT_LATTICE_STEP: f64 = 0.1;

/// Half-width of the mean-shift lattice: the mass cut is about `Q(10) = 8e-24` per side.
const SHIFT_LATTICE_WINDOW: f64 = 10.0;

/// Compares the closed forms, evaluated at correlation `rho * closed_rho` (`closed_rho = 1` for
/// the model), with independent computations at `rho = 0.6`: the crate's exact finite solvers on
/// [`discretized_gaussian`] (`h = 1e-3`) for best-of-N at `N = 2, 10, 100, 1000` (against the
/// quadrature `e_N` and the continuous KL `log N - (N-1)/N`), the tilt at `beta = 2, 1, 0.5`,
/// and conditioning on `U >= 1.5` (a cell edge, so exact up to the `2e-33` mass outside
/// `[-12, 12]`); and the mean shift by `delta = 1` against [`gaussian::mean_shift_on_lattice`]
/// (both bivariate densities on a lattice of step 0.1, KL by `divergence::kl`), and again on the
/// largest lattice the solver accepts ([`EDGE_LATTICE_STEP_AND_WINDOW`]), the next larger window
/// being refused.
///
/// Tolerances: within a cell the optimized law differs from the base's conditional law by a
/// density ratio whose log-slope is at most `(N-1) phi/Phi` (BoN) or `1/beta` (tilt), which moves
/// the cell's mean by at most `h^2/12` times that slope: below `3e-6` relative for these
/// parameters, hence `1e-6 max(|x|, 1)` (the measured worst is `8e-7`). The lattice values carry the `e^{-790}` aliasing error, the
/// `1e-23` truncation and the rounding of a 42411-term sum: `1e-10` relative (measured `~1e-14`).
fn gaussian_model(_config: &CheckConfig, closed_rho: f64) -> Verdict {
    check_model_cases(10, || {
        let rho = 0.6;
        let rho_closed = rho * closed_rho;
        let t = discretized_gaussian(1e-3, rho)?;
        let mut dev = Deviation::new(0.0, 0.0);
        for n in [2u64, 10, 100, 1000] {
            let exact = t.evaluate(Optimizer::BestOfN { n }).map_err(s)?;
            let g = gaussian::best_of_n(n, rho_closed).map_err(s)?;
            dev = dev.worst(gaussian_agreement(&exact, &g));
        }
        for beta in [2.0, 1.0, 0.5] {
            let exact = t.evaluate(Optimizer::Tilt { beta }).map_err(s)?;
            let g = gaussian::tilt(beta, rho_closed).map_err(s)?;
            dev = dev.worst(gaussian_agreement(&exact, &g));
        }
        // The threshold is the edge -12 + 13500 h = 1.5 up to rounding; keep U >= 1.5 - h/2.
        let exact = t
            .evaluate(Optimizer::Condition {
                threshold: 1.5 - 5e-4,
            })
            .map_err(s)?;
        let g = gaussian::condition(1.5, rho_closed).map_err(s)?;
        dev = dev
            .worst(Deviation::close(
                exact.expected_proxy,
                g.expected_proxy,
                1e-6,
                1.0,
            ))
            .worst(Deviation::close(exact.kl, g.kl, 1e-6, 1.0));
        let shift = gaussian::mean_shift(1.0, rho_closed).map_err(s)?;
        for (h, w) in [
            (SHIFT_LATTICE_STEP, SHIFT_LATTICE_WINDOW),
            EDGE_LATTICE_STEP_AND_WINDOW,
        ] {
            let lattice = gaussian::mean_shift_on_lattice(1.0, rho, h, w).map_err(s)?;
            dev = dev.worst(shift_agreement(&lattice, &shift));
        }
        let (h, w) = EDGE_LATTICE_STEP_AND_WINDOW;
        refused(
            "a lattice of 4.2e6 points (window 10 at step 0.01)",
            gaussian::mean_shift_on_lattice(1.0, rho, h, w + 0.5),
        )?;
        Ok(dev)
    })
    .with_note("closed forms vs exact finite solvers on a 24000-cell discretization and a lattice")
}

/// The largest lattice [`gaussian::mean_shift_on_lattice`] accepts near its `4e6`-point limit:
/// step `0.01` and window `9.5` span `2001 x 1901 = 3.8e6` points for `delta = 1`; the window
/// `10` (`2101 x 2001 = 4.2e6`) is beyond it and must be refused. The window cuts mass
/// `Q(8.5) = 1e-17`, the aliasing error is `exp(-2 pi^2 0.4 / 1e-4)`, and the sums of `3.8e6`
/// terms are compensated, so the same `1e-10` holds.
const EDGE_LATTICE_STEP_AND_WINDOW: (f64, f64) = (0.01, 9.5);

/// `[E[U], E[V], KL]` computed without the closed form against the closed form's, each to
/// `rel` relative with a floor of 1.
fn agreement(got: [f64; 3], closed: &gaussian::GaussianPoint, rel: f64) -> Deviation {
    let want = [closed.expected_proxy, closed.expected_true, closed.kl];
    got.iter()
        .zip(want)
        .fold(Deviation::exact(true), |d, (g, w)| {
            d.worst(Deviation::close(*g, w, rel, 1.0))
        })
}

/// The lattice's `E[U]`, `E[V]` and KL against the mean shift's closed form, to `1e-10`.
fn shift_agreement(
    lattice: &gaussian::GaussianPoint,
    shift: &gaussian::GaussianPoint,
) -> Deviation {
    let got = [lattice.expected_proxy, lattice.expected_true, lattice.kl];
    agreement(got, shift, 1e-10)
}

/// E[U], E[V] and KL of an exact finite solution against the closed form, each to `1e-6`
/// relative (the discretization bound derived for `check_gaussian`).
fn gaussian_agreement(
    exact: &crate::goodhart::joint::ProxyTrue,
    closed: &gaussian::GaussianPoint,
) -> Deviation {
    let got = [exact.expected_proxy, exact.expected_true, exact.kl];
    agreement(got, closed, 1e-6)
}

/// The best mean ordinary reward at adversarial mass `<= 1e-4` in the catalog's outlier model,
/// to 4 decimals (`proofs/goodhart.outlier.md`).
pub const OUTLIER_BEST_MEAN: f64 = 50.0384;

/// Half a unit in the last decimal of [`OUTLIER_BEST_MEAN`].
const OUTLIER_HALF_UNIT: f64 = 5e-5;

/// Computes the outlier model's conditioning probability (exactly `1/10001`: 10^4 ordinary
/// rewards exceed 99, plus the adversarial one; compared to `1e-12` relative, a sum of 10^4
/// equal masses), the `beta*` where the adversarial mass is `1e-4` (closed-form geometric sum),
/// and checks with the crate's `O(M)` tilt on all `10^6 + 1` outputs that the mass there is
/// `1e-4` to `1e-9` relative (the closed form and the solver agree to the rounding of
/// `ln S ~ 1e3`) and that the mean ordinary reward there, the best one at that cap, equals
/// `figure` to half a unit of its 4th decimal (`5e-5`; the solver's mean is accurate to about
/// `1e-12` relative) and is below 99 (so no beta reaches both, by the monotonicity shown in the
/// proof). Two instances (the conditioning and the tilt at `beta*`) are examined.
fn outlier(_config: &CheckConfig, figure: f64) -> Verdict {
    let mut best = f64::NAN;
    let mut v = check_model_cases(2, || {
        let m = OutlierModel::CATALOG;
        let c = m.condition(99.0).map_err(s)?;
        let mut dev = Deviation::close(c.adversarial_mass, 1.0 / 10_001.0, 1e-12, 0.0);
        let beta = m.beta_for_adversarial_mass(1e-4).map_err(s)?;
        let p = m.tilt(beta).map_err(s)?;
        best = p.mean_ordinary_reward;
        dev = dev
            .worst(Deviation::close(p.adversarial_mass, 1e-4, 1e-9, 0.0))
            .worst(Deviation::new((best - figure).abs(), OUTLIER_HALF_UNIT))
            .worst(Deviation::exact(best < 99.0));
        Ok(dev)
    });
    if v.note.is_none() {
        v.note = Some(format!("best mean ordinary reward at mass 1e-4: {best:.9}"));
    }
    v
}

/// Threshold of the submodule witness.
pub const SUBMODULE_THRESHOLD: f64 = 1.0;

/// The noise correlation below which conditioning on `P >= 1` lowers `E[T]` in the witness
/// model, to 8 decimals (40-digit value `0.09319010068905803780...`, `proofs/goodhart.submodules.md`).
pub const SUBMODULE_NEUTRAL_RHO: f64 = 0.093_190_10;

/// Half a unit in the last stated decimal of [`SUBMODULE_NEUTRAL_RHO`].
const NEUTRAL_RHO_HALF_UNIT: f64 = 5e-9;

/// The correlations swept: `-1, -0.9, ..., 1` and the two points half a unit of the last
/// stated decimal on either side of `neutral`.
fn submodule_rhos(neutral: f64) -> Vec<f64> {
    let mut v: Vec<f64> = (-10..=10).map(|k| f64::from(k) / 10.0).collect();
    v.push(neutral - NEUTRAL_RHO_HALF_UNIT);
    v.push(neutral + NEUTRAL_RHO_HALF_UNIT);
    v
}

/// The conditioning gain `E[T | P >= c] - E[T]` of `m` as an affine function of the noise
/// correlation, by Gauss-Legendre quadrature over the persuasion noise, independently of the
/// closed form: per allocation `int_z^{z+40} phi`, `int_z^{z+40} x phi` (400 panels of width 0.1;
/// the tail beyond `z + 40` is below `e^{-800}`), so that
/// `E[T | P >= c] = sum (mt int phi + sigma_T rho int x phi) / sum int phi`, against the plain
/// mean of `theta . t` over the grid ([`grid_means`]). Returns `rho -> gain`.
fn conditioning_gain_by_quadrature(m: &SubmoduleModel, c: f64) -> impl Fn(f64) -> f64 {
    let (mut truth_mass, mut first, mut mass) = (0.0, 0.0, 0.0);
    for a in &m.allocations() {
        let (mt, mp) = grid_point_means(m, a);
        let z = (c - mp) / m.sigma_persuasion;
        let q = quadrature::integrate(pdf, z, z + 40.0, 400);
        truth_mass += mt * q;
        mass += q;
        first += quadrature::integrate(|x| x * pdf(x), z, z + 40.0, 400);
    }
    let (base, _) = grid_means(m);
    let sigma = m.sigma_truth;
    move |rho| (truth_mass + sigma * rho * first) / mass - base
}

/// The mean truth and persuasion `theta . t`, `theta . p` of one allocation, summed term by
/// term (independently of the model's own products).
fn grid_point_means(m: &SubmoduleModel, a: &[f64; 3]) -> (f64, f64) {
    let mt = (0..3).map(|k| a[k] * m.truth[k]).sum();
    let mp = (0..3).map(|k| a[k] * m.persuasion[k]).sum();
    (mt, mp)
}

/// The base's expected truth and persuasion: plain means over the simplex grid.
fn grid_means(m: &SubmoduleModel) -> (f64, f64) {
    let all = m.allocations();
    let (t, p) = all.iter().fold((0.0, 0.0), |(t, p), a| {
        let (mt, mp) = grid_point_means(m, a);
        (t + mt, p + mp)
    });
    let n = all.len() as f64;
    (t / n, p / n)
}

/// A model whose three submodules are all active (the witness's third is idle): the
/// closed form's conditioning gain and base means must match quadrature and the plain grid
/// means here too.
const ACTIVE_SUBMODULES: SubmoduleModel = SubmoduleModel {
    truth: [1.0, -1.0, 0.5],
    persuasion: [1.0, 2.0, -3.0],
    ..SubmoduleModel::WITNESS
};

/// The closed form's base means and conditioning gain of `m` at `rho` against the plain grid
/// means (`1e-12`, a plain sum of 496 terms of size at most 3) and quadrature (`1e-11`).
fn closed_form_against_quadrature(
    m: &SubmoduleModel,
    by_quadrature: &impl Fn(f64) -> f64,
    rho: f64,
) -> Result<Deviation, String> {
    let m = m.with_rho(rho);
    let base = m.base().map_err(s)?;
    let (cond, _) = m.condition(SUBMODULE_THRESHOLD).map_err(s)?;
    let (t, p) = grid_means(&m);
    Ok(Deviation::close(base.truth, t, 1e-12, 1.0)
        .worst(Deviation::close(base.persuasion, p, 1e-12, 1.0))
        .worst(Deviation::close(
            by_quadrature(rho),
            cond.truth - base.truth,
            1e-11,
            1.0,
        )))
}

/// Checks the submodule model at `P >= 1` for every swept `rho` (see [`submodule_rhos`]):
/// the conditioning gain (by quadrature) has the sign of `rho - neutral` (strictly, so
/// `neutral` must sit within half a unit of its last decimal of the true root: the gain there
/// is about `0.73 * 5e-9`, far above the quadrature's `1e-14`), and agrees with the closed form
/// to `1e-11` (statrs-free `erfc` to a few ulps, 496 terms), as do the base means with the
/// plain grid means, on the witness and on [`ACTIVE_SUBMODULES`]; reallocation to the conditioned
/// `E[P]` lowers `E[T]` strictly whenever it can reach it; and the root found by bisection is
/// within half a unit of `neutral`'s last decimal.
fn submodules(_config: &CheckConfig, neutral: f64) -> Verdict {
    let rhos = submodule_rhos(neutral);
    check_model_cases(rhos.len() as u64 + 1, || {
        let witness = SubmoduleModel::WITNESS;
        let root = witness.neutral_rho(SUBMODULE_THRESHOLD).map_err(s)?;
        let mut dev = Deviation::new((root - neutral).abs(), NEUTRAL_RHO_HALF_UNIT);
        let by_quadrature = conditioning_gain_by_quadrature(&witness, SUBMODULE_THRESHOLD);
        let active = conditioning_gain_by_quadrature(&ACTIVE_SUBMODULES, SUBMODULE_THRESHOLD);
        for rho in rhos {
            let m = witness.with_rho(rho);
            let base = m.base().map_err(s)?;
            let (cond, _) = m.condition(SUBMODULE_THRESHOLD).map_err(s)?;
            let gain = by_quadrature(rho);
            let sign_ok = if rho > neutral {
                gain > 0.0
            } else {
                gain < 0.0
            };
            dev = dev
                .worst(Deviation::exact(sign_ok))
                .worst(closed_form_against_quadrature(
                    &witness,
                    &by_quadrature,
                    rho,
                )?)
                .worst(closed_form_against_quadrature(
                    &ACTIVE_SUBMODULES,
                    &active,
                    rho,
                )?);
            let (real, _) = m.reallocate_to(cond.persuasion).map_err(s)?;
            dev = dev.worst(Deviation::exact(real.truth < base.truth));
        }
        Ok(dev)
    })
}

/// A resource-allocation instance: minima, costs, proxy weights on the attributes in `S`
/// (zero elsewhere), slack budget above the minima, and a random feasible point.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInstance {
    /// Lower bounds `m_i`.
    pub minima: Vec<f64>,
    /// Costs `c_i > 0`.
    pub costs: Vec<f64>,
    /// Proxy weights: `> 0` on `S`, `0` off `S`.
    pub weights: Vec<f64>,
    /// `B - sum c_i m_i > 0`.
    pub slack: f64,
    /// Shares of the slack spent on each attribute by the competitor (sum `<= 1`).
    pub shares: Vec<f64>,
}

fn resource_instance() -> impl Strategy<Value = ResourceInstance> {
    (2usize..=6)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec(-5.0f64..5.0, n),
                proptest::collection::vec(0.1f64..10.0, n),
                proptest::collection::vec(prop_oneof![3 => 0.1f64..10.0, 2 => Just(0.0)], n),
                0.01f64..10.0,
                proptest::collection::vec(0.0f64..1.0, n),
            )
        })
        .prop_map(|(minima, costs, mut weights, slack, raw)| {
            let n = weights.len();
            // S must be a non-empty strict subset.
            if weights.iter().all(|w| *w == 0.0) {
                weights[0] = 1.0;
            }
            if weights.iter().all(|w| *w > 0.0) {
                weights[n - 1] = 0.0;
            }
            let total: f64 = raw.iter().sum::<f64>() + 1.0;
            let shares = raw.iter().map(|r| r / total).collect();
            ResourceInstance {
                minima,
                costs,
                weights,
                slack,
                shares,
            }
        })
}

/// The vertices of the polytope `{a : A a <= b}` in `R^n` (`A` has `n + 1` rows), by brute force:
/// every choice of `n` active rows whose system is non-singular, kept when it satisfies the
/// remaining row to `tol`. Independent of [`ResourceProblem::greedy_maximizer`].
fn polytope_vertices(rows: &[(Vec<f64>, f64)], tol: f64) -> Vec<Vec<f64>> {
    let n = rows.len().saturating_sub(1);
    let mut out = Vec::new();
    for dropped in 0..rows.len() {
        let active: Vec<&(Vec<f64>, f64)> = rows
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != dropped)
            .map(|(_, r)| r)
            .collect();
        let a = nalgebra::DMatrix::from_fn(n, n, |i, j| active[i].0[j]);
        let b = nalgebra::DVector::from_fn(n, |i, _| active[i].1);
        let Some(x) = a.lu().solve(&b) else { continue };
        let (row, rhs) = &rows[dropped];
        let lhs: f64 = row.iter().zip(x.iter()).map(|(r, v)| r * v).sum();
        if lhs <= rhs + tol {
            out.push(x.iter().copied().collect());
        }
    }
    out
}

/// The weight given to the attributes outside `S` from their cost `c_j` and the best ratio
/// `max_{i in S} w_i / c_i` (0 for the theorem).
type OffSubsetWeight = fn(f64, f64) -> f64;

/// Checks, per random instance (proxy weights `w_j = off(c_j, best ratio)` outside `S`, 0 for
/// the theorem), against the vertices of the feasible polytope enumerated by
/// [`polytope_vertices`] (the lower bounds as `-a_i <= -m_i` and the budget row; feasibility to
/// `1e-12` times the budget's scale): (a) every vertex that raises an attribute outside `S` above
/// its minimum has a proxy value strictly below the maximum over the vertices, by more than the
/// rounding `64 eps` times the proxy's scale (so every maximizer, a convex combination of
/// maximizing vertices, keeps those attributes at their minima); (b) the maximizer of
/// [`ResourceProblem::greedy_maximizer`] attains that maximum (to `1e-12` of the scale) and has
/// every attribute outside `S` exactly at its minimum; (c) a random feasible competitor gains at
/// most the maximal gain over `prx(m)` (to `1e-12` of the scale; its tightness is reported).
fn resource(config: &CheckConfig, off: OffSubsetWeight) -> Verdict {
    check_theorem(config, resource_instance(), |inst| {
        let n = inst.minima.len();
        let in_s: Vec<bool> = inst.weights.iter().map(|w| *w > 0.0).collect();
        let ratio = (0..n)
            .filter(|i| in_s[*i])
            .map(|i| inst.weights[i] / inst.costs[i])
            .fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = (0..n)
            .map(|i| {
                if in_s[i] {
                    inst.weights[i]
                } else {
                    off(inst.costs[i], ratio)
                }
            })
            .collect();
        let budget_at_min: f64 = (0..n).map(|i| inst.costs[i] * inst.minima[i]).sum();
        let p = ResourceProblem {
            minima: inst.minima.clone(),
            costs: inst.costs.clone(),
            weights,
            budget: budget_at_min + inst.slack,
        };
        let scale_b = (0..n)
            .map(|i| (inst.costs[i] * inst.minima[i]).abs())
            .sum::<f64>()
            + p.budget.abs();
        let mut rows: Vec<(Vec<f64>, f64)> = (0..n)
            .map(|i| {
                let mut r = vec![0.0; n];
                r[i] = -1.0;
                (r, -inst.minima[i])
            })
            .collect();
        rows.push((inst.costs.clone(), p.budget));
        let vertices = polytope_vertices(&rows, 1e-12 * scale_b);
        let values: Vec<f64> = vertices.iter().map(|v| p.proxy(v)).collect();
        let best = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let at_min = p.proxy(&p.minima);
        let scale = (0..n)
            .map(|i| (p.weights[i] * inst.minima[i]).abs())
            .sum::<f64>()
            + best.abs()
            + 1.0;
        let margin = 64.0 * f64::EPSILON * scale;
        let mut dev = Deviation::exact(vertices.len() == n + 1);
        for (v, value) in vertices.iter().zip(&values) {
            let raises_off = (0..n).any(|j| !in_s[j] && v[j] > inst.minima[j] + 1e-12 * scale_b);
            if raises_off {
                dev = dev.worst(Deviation::exact(best - value > margin));
            }
        }
        let greedy = p.greedy_maximizer().map_err(s)?;
        let off_at_min = (0..n).all(|j| in_s[j] || greedy[j] == inst.minima[j]);
        dev = dev
            .worst(Deviation::exact(off_at_min))
            .worst(untight(Deviation::at_most(
                best,
                p.proxy(&greedy),
                1e-12 * scale,
            )));
        let comp: Vec<f64> = (0..n)
            .map(|i| inst.minima[i] + inst.shares[i] * inst.slack / inst.costs[i])
            .collect();
        Ok(dev.worst(Deviation::at_most(
            p.proxy(&comp) - at_min,
            best - at_min,
            1e-12 * scale,
        )))
    })
}

/// `d` without its tightness: for comparisons that check a solver's accuracy rather than the
/// claim's bound, whose ratio would say nothing about the bound's edge.
fn untight(d: Deviation) -> Deviation {
    Deviation {
        tightness: None,
        ..d
    }
}

/// Truncation points of the heavy-tail checks.
pub const HEAVY_TAIL_CUTS: [f64; 3] = [1e2, 1e3, 1e4];

/// The error laws compared: one light, three heavy.
pub const TAIL_LAWS: [(&str, TailLaw); 4] = [
    ("gaussian(1)", TailLaw::Gaussian { sigma: 1.0 }),
    ("student-t(3)", TailLaw::StudentT { nu: 3.0 }),
    ("pareto(1.5)", TailLaw::Pareto { alpha: 1.5 }),
    ("lognormal(1)", TailLaw::LogNormal { sigma: 1.0 }),
];

/// The control's laws: Student-t(3) replaced by the light-tailed `N(0, 3)` of the same
/// variance, the other three unchanged.
const LIGHT_IN_PLACE_OF_T: [(&str, TailLaw); 4] = [
    TAIL_LAWS[0],
    (
        "gaussian(sqrt 3) in place of student-t(3)",
        TailLaw::Gaussian {
            sigma: 1.732_050_807_568_877_2,
        },
    ),
    TAIL_LAWS[2],
    TAIL_LAWS[3],
];

/// The largest value a heavy-tail quantity (true gain, least KL) may keep at `L = 1e4`. The
/// computed values are exact for the grid models up to rounding (the root in `ln(1/beta)` is
/// pinned to a few ulps); against the continuous laws cut at `L`, the grids carry the `O(h^2)`
/// cell error (`h = 0.01` near the origin: about `1e-5` relative) and the renormalized truncated
/// mass (reported in table `goodhart-heavy-tail`). The largest measured values are 0.0037 (true
/// gain, lognormal) and 0.0036 (least KL, lognormal), so 0.01 leaves a margin of 2.7, far above
/// those errors, while a light-tailed error keeps the true gain at
/// `Var V / (Var V + Var X)` (1/2 for `N(0, 1)`, 1/4 for `N(0, 3)`) and the least KL at
/// `1 / (2 Var X)` (1/2, 1/6), 17 to 50 times the threshold.
const HEAVY_TAIL_LIMIT: f64 = 0.01;

/// Least factor by which a heavy-tail quantity must shrink per decade of `L`: the measured
/// factors are 3.6 to 7.5 (true gain) and 2.8 to 7.2 (least KL); a light tail gives 1.
const HEAVY_TAIL_DECAY: f64 = 2.0;

/// The heavy-tail condition on a sequence along [`HEAVY_TAIL_CUTS`]: each decade divides it by
/// at least [`HEAVY_TAIL_DECAY`], and its last value is at most [`HEAVY_TAIL_LIMIT`] (through
/// `Deviation::at_most`, so the tightness `value / limit` is reported).
fn vanishing_along_cuts(values: &[f64]) -> Deviation {
    let decays = values
        .windows(2)
        .all(|w| w[1] > 0.0 && w[0] >= HEAVY_TAIL_DECAY * w[1]);
    let last = values.last().copied().unwrap_or(f64::NAN);
    Deviation::exact(decays).worst(Deviation::at_most(last, HEAVY_TAIL_LIMIT, 0.0))
}

/// Checks the finite form of `goodhart.heavy-tail` at proxy gain 1 on `laws` (the first one the
/// light `N(0, 1)`, the rest treated as heavy): for each heavy law the true gain along the cuts
/// satisfies [`vanishing_along_cuts`]; for the Gaussian error it is `1/2` to `1e-4` (the grid's
/// variance is `1 + h^2/12` and its truncation `2e-23`, so the exact value is `1/2` to `1e-5`).
fn heavy_tail(_config: &CheckConfig, laws: &[(&str, TailLaw)]) -> Verdict {
    check_model_cases((laws.len() * HEAVY_TAIL_CUTS.len()) as u64, || {
        let mut dev = Deviation::new(0.0, 0.0);
        for (k, (_, law)) in laws.iter().enumerate() {
            let mut gains = Vec::new();
            for l in HEAVY_TAIL_CUTS {
                let p = AdditiveModel::standard_truth(*law, l)
                    .map_err(s)?
                    .at_proxy_gain(1.0)
                    .map_err(s)?;
                gains.push(p.true_gain);
            }
            if k == 0 {
                for g in &gains {
                    dev = dev.worst(Deviation::close(*g, 0.5, 1e-4, 1.0));
                }
            } else {
                dev = dev.worst(vanishing_along_cuts(&gains));
            }
        }
        Ok(dev)
    })
}

/// Checks the finite form of `goodhart.heavy-tail-kl` at gain 1 on `laws` (as in
/// [`heavy_tail`]): for each heavy law the least KL satisfies [`vanishing_along_cuts`] and is at
/// most the construction's KL (a feasible policy with gain exactly 1 up to rounding; slack
/// `1e-12` relative for that rounding); for `N(0, 1)` it is `1/2` to `1e-4` (grid variance
/// `1 + h^2/12`).
fn heavy_tail_kl(_config: &CheckConfig, laws: &[(&str, TailLaw)]) -> Verdict {
    check_model_cases((laws.len() * HEAVY_TAIL_CUTS.len()) as u64, || {
        let mut dev = Deviation::new(0.0, 0.0);
        for (k, (_, law)) in laws.iter().enumerate() {
            let mut kls = Vec::new();
            for l in HEAVY_TAIL_CUTS {
                let g = law.grid(l).map_err(s)?;
                let kg = kl_for_gain(&g, 1.0).map_err(s)?;
                dev = dev
                    .worst(Deviation::close(kg.construction_gain, 1.0, 1e-12, 1.0))
                    .worst(untight(Deviation::at_most(
                        kg.min_kl,
                        kg.construction_kl,
                        1e-12 * kg.min_kl,
                    )));
                kls.push(kg.min_kl);
            }
            if k == 0 {
                for x in &kls {
                    dev = dev.worst(Deviation::close(*x, 0.5, 1e-4, 1.0));
                }
            } else {
                dev = dev.worst(vanishing_along_cuts(&kls));
            }
        }
        Ok(dev)
    })
}

/// `log Q(z)`: from `erfc` for `z < 25`, else the asymptotic series
/// `-z^2/2 - log(z sqrt(2 pi)) + log(1 - 1/z^2 + 3/z^4 - 15/z^6 + 105/z^8)`, whose first
/// omitted term `945/z^10 < 1e-11` there.
pub fn log_upper_tail(z: f64) -> f64 {
    if z < 25.0 {
        log_cdf(-z)
    } else {
        let w = 1.0 / (z * z);
        -0.5 * z * z - (z * (2.0 * std::f64::consts::PI).sqrt()).ln()
            + (1.0 - w + 3.0 * w * w - 15.0 * w * w * w + 105.0 * w * w * w * w).ln()
    }
}

/// `E[V | V + X >= t]` in the model of `goodhart.kwa-unbiased`, for `t > 1`, with an error
/// estimate. For `t > 1`, `{U >= t}` is `{V >= t}` (where `X = 0`) together with
/// `{|V| <= 1, V + X >= t}`, so
/// `E[V | U >= t] = (phi(t) + int_{-1}^1 v phi(v) Q((t-v)/2) dv) / (Q(t) + int_{-1}^1 phi(v) Q((t-v)/2) dv)`.
/// Every term is scaled by `e^{-c}`, `c = log phi(1) + log Q((t-1)/2)`, so nothing underflows;
/// the integrals use 16-point Gauss-Legendre on 64 and on 128 panels, and the returned error is
/// the difference of the two (the 128-panel value is returned).
pub fn kwa_conditional_mean(t: f64) -> (f64, f64) {
    let c = -0.5 - 0.5 * (2.0 * std::f64::consts::PI).ln() + log_upper_tail(0.5 * (t - 1.0));
    let w = |v: f64| {
        (-0.5 * v * v - 0.5 * (2.0 * std::f64::consts::PI).ln() + log_upper_tail(0.5 * (t - v)) - c)
            .exp()
    };
    let a0 = (log_upper_tail(t) - c).exp();
    let a1 = (-0.5 * t * t - 0.5 * (2.0 * std::f64::consts::PI).ln() - c).exp();
    let value = |panels: usize| {
        let b0 = quadrature::integrate(w, -1.0, 1.0, panels);
        let b1 = quadrature::integrate(|v| v * w(v), -1.0, 1.0, panels);
        (a1 + b1) / (a0 + b0)
    };
    let (coarse, fine) = (value(64), value(128));
    (fine, (fine - coarse).abs())
}

/// Thresholds at which `goodhart.kwa-unbiased` is evaluated.
pub const KWA_THRESHOLDS: [f64; 7] = [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 400.0];

/// The rate `kappa(t) = (t-1)/4 + 1/(t-1) - 1`: the slope at `v = 1` of the log density of `V`
/// given `U >= t` on `[-1, 1]`; the proof shows `kappa(t) (1 - E[V | U >= t]) -> 1`.
pub fn kwa_rate(t: f64) -> f64 {
    0.25 * (t - 1.0) + 1.0 / (t - 1.0) - 1.0
}

/// Thresholds from which the proof's remainder `1 - E[V | U >= t] ~ 1/kappa(t)` is used: the
/// computed `kappa(t) (1 - E)` is within 2% of 1 from `t = 50` on (0.981 at 50, 0.9997 at 400).
const KWA_ASYMPTOTIC_FROM: f64 = 50.0;

/// Tests the statement "`E[V | X + V >= t] -> limit`" against the computation: the statement is
/// refuted at a threshold `t >= 50` of [`KWA_THRESHOLDS`] when `|E(t) - limit|` exceeds twice
/// the proved distance `1/kappa(t)` of `E(t)` to its limit, plus the quadrature error estimate.
/// The verdict passes when some threshold refutes it, the quadrature error estimates are below
/// `1e-12`, and `kappa(400) (1 - E(400))` is within 2% of 1 (the rate that justifies the
/// remainder). `cases` is the number of thresholds evaluated.
fn kwa_unbiased(_config: &CheckConfig, limit: f64) -> Verdict {
    let vals: Vec<(f64, f64, f64)> = KWA_THRESHOLDS
        .iter()
        .map(|t| {
            let (e, err) = kwa_conditional_mean(*t);
            (*t, e, err)
        })
        .collect();
    let refuting = vals
        .iter()
        .find(|(t, e, err)| {
            *t >= KWA_ASYMPTOTIC_FROM && (e - limit).abs() - err > 2.0 / kwa_rate(*t)
        })
        .copied();
    let mut v = check_model_cases(vals.len() as u64, || {
        let err = vals.iter().map(|(_, _, e)| *e).fold(0.0, f64::max);
        let (t_last, e_last, _) = vals[vals.len() - 1];
        Ok(Deviation::new(err, 1e-12)
            .worst(Deviation::exact(refuting.is_some()))
            .worst(Deviation::close(
                kwa_rate(t_last) * (1.0 - e_last),
                1.0,
                0.02,
                1.0,
            )))
    });
    v.counterexample = refuting.map(|(t, e, _)| {
        format!(
            "E[V | X + V >= {t}] = {e:.12}: |E - {limit}| = {:.6} > 2/kappa(t) = {:.6}",
            (e - limit).abs(),
            2.0 / kwa_rate(t)
        )
    });
    v
}

/// The discretized `N(0, 1)` of part 3 of `goodhart.gao-forms`: cells of width `1e-2` on
/// `[-12, 12]` at their conditional means (variance `1 - h^2/12 + O(h^4)`).
const GAO_GRID_STEP: f64 = 1e-2;

/// Checks `goodhart.gao-forms` per random case, each part against an independent computation:
///
/// 1. Transport bound (`transport_factor = 1` for the theorem): the tilt's gain
///    `E_pi[r] - E_pi0[r]`, with `E_pi[r]` and `KL` recomputed from the returned policy
///    (`divergence::kl`), is at most `transport_factor sqrt(2 s^2 KL)`, `s^2` the variance proxy
///    (relative slack `1e-9`: the proxy is a lower estimate accurate to about `1e-10`; plus
///    `4 eps max|r|` for the rounding of the gain, a difference of means). Its tightness is
///    reported; [`strat::transport_edge`] reaches the edge.
/// 2. RL form: with `alpha = sqrt2 s + beta ln d*` (so `d*` is where `R_RL(d) = sqrt2 s d`, drawn
///    log-uniform in `[e^-4, e^0.5]`) and `d = theta d*`, `theta in [0.01, 0.99]`, `R_RL(d)` is
///    strictly above the exact largest gain of any policy with `KL <= d^2` on the same instance
///    (the crate's KL-budget solver, gain and KL recomputed from its policy, KL at most
///    `d^2 (1 + 1e-10) + 1e-15`): the RL form claims more than the reward allows. The margin is
///    `R_RL(d) - sqrt2 s d = beta d ln(1/theta) >= 1e-4 d`, far above rounding.
/// 3. BoN form at the edge `alpha = sqrt2 s`: for `r = s Z`, `Z ~ N(0, 1)` (on the grid of step
///    [`GAO_GRID_STEP`]), `R_BoN(d) = sqrt2 s d (1 - x)` with `beta = sqrt2 s x / d` is at most the
///    exact largest gain at `KL <= d^2`, which is `s` times that of `Z` (the tilt family is
///    scale-covariant), for `d in [0.01, 2]` and `x in [1e-3, 1)`: the BoN form is attained by a
///    sub-Gaussian reward. The grid loses `h^2/24 = 4e-6` of the continuous `sqrt2 d`, below the
///    smallest `x`.
fn gao_forms(config: &CheckConfig, transport_factor: f64) -> Verdict {
    let grid = match discretized_gaussian(GAO_GRID_STEP, 1.0) {
        Ok(g) => g,
        Err(e) => return check_model(|| Err(e)),
    };
    let strat = (
        strat::transport_edge(),
        (-4.0f64..0.5, 0.01f64..5.0, 0.01f64..0.99),
        (
            (-2.0f64..0.3).prop_map(|e| 10f64.powf(e)),
            (-3.0f64..0.0).prop_map(|e| 10f64.powf(e)),
        ),
    );
    check_theorem(
        config,
        strat,
        |((inst, b), (ln_d_star, beta, theta), (d_bon, x))| {
            let e0 = inst.base.expectation(&inst.reward).map_err(s)?;
            let scale = scale_of(&inst.reward);
            let s2 =
                crate::goodhart::frontier::variance_proxy(&inst.base, &inst.reward).map_err(s)?;
            let sg = s2.sqrt();
            // 1. The transport bound on the tilt.
            let t = solve::tilt(&inst.base, &inst.reward, *b).map_err(s)?;
            let pi = &t.solution.policy;
            let gain = pi.expectation(&inst.reward).map_err(s)? - e0;
            let kl = crate::divergence::kl(pi, &inst.base).map_err(s)?;
            let transport = transport_factor * (2.0 * s2 * kl).sqrt();
            let slack = 1e-9 * transport + 4.0 * f64::EPSILON * scale;
            let mut dev = Deviation::at_most(gain, transport, slack);
            // 2. The RL form against the exact frontier of the same instance.
            let d = theta * ln_d_star.exp();
            let alpha = std::f64::consts::SQRT_2 * sg + beta * ln_d_star;
            let r_rl = d * (alpha - beta * d.ln());
            let eps = d * d;
            let front = solve::kl_budget(&inst.base, &inst.reward, eps).map_err(s)?;
            let front_pi = &front.solution.policy;
            let front_gain = front_pi.expectation(&inst.reward).map_err(s)? - e0;
            let front_kl = crate::divergence::kl(front_pi, &inst.base).map_err(s)?;
            dev = dev
                .worst(untight(Deviation::at_most(
                    front_kl,
                    eps,
                    1e-10 * eps + 1e-15,
                )))
                .worst(Deviation::exact(r_rl > front_gain));
            // 3. The BoN form at the edge against the exact frontier of the Gaussian grid.
            let r_bon_over_s = std::f64::consts::SQRT_2 * d_bon * (1.0 - x);
            let g = solve::kl_budget(&grid.base, &grid.proxy, d_bon * d_bon).map_err(s)?;
            let g_gain = g.solution.policy.expectation(&grid.proxy).map_err(s)?
                - grid.base.expectation(&grid.proxy).map_err(s)?;
            Ok(dev.worst(untight(Deviation::at_most(r_bon_over_s, g_gain, 0.0))))
        },
    )
}

/// A competitor for the frontier check: `pi proportional to pi0 e^{f/T}` with `f` a random
/// log-weight (`kind 0`), `+V / max|V|` (`kind 1`: the tilt that attains the upper end) or
/// `-V / max|V|` (`kind 2`: the lower end).
fn competitor(inst: &shared::Instance, raw: &[f64], temp: f64, kind: u8) -> Result<Dist, String> {
    let scale = scale_of(&inst.reward);
    let w: Vec<f64> = (0..inst.base.len())
        .map(|i| {
            let f = match kind {
                0 => raw[i].ln(),
                1 => inst.reward[i] / scale,
                _ => -inst.reward[i] / scale,
            };
            inst.base.log_prob(i) + f / temp
        })
        .collect();
    Dist::from_log_weights(&w).map_err(s)
}

/// Checks, per random table `(pi0, V)` and competitor `pi` ([`competitor`]: random, or a tilt by
/// `+-V`, which attains the frontier): at `eps = KL(pi||pi0)` (by `divergence::kl`),
/// `E_pi[V] - E0 <= factor (high - E0)` and `E0 - E_pi[V] <= factor (E0 - low)` (`factor = 1` for
/// the theorem; slack `1e-10 max|V|`: the competitor's KL and the frontier's are each accurate to
/// ~`1e-14` relative, and `E[V]` moves by at most `range sqrt(2 eps)`-scaled amounts per unit of
/// KL error), with tightness `(E_pi[V] - E0) / (high - E0)` reported; the upper frontier is
/// attained by the KL-budget solver's policy, whose KL recomputed from the policy is at most
/// `eps (1 + 1e-10) + 1e-15` (the multiplier is located to ~1e-15 in `u = ln(spread/beta)`, and
/// `d ln KL/du` reaches ~1e3 when the budget is near `-log pi0(argmax)`: KL matches `eps` to
/// ~1e-12 relative; the competitor's KL carries absolute rounding ~1e-16 when `pi` is within
/// rounding of `pi0`, hence the floor); and
/// `max(high - E0, E0 - low) <= sqrt(2 s^2 eps) <= range sqrt(eps/2)` (relative slack `1e-9`).
fn frontier(config: &CheckConfig, factor: f64) -> Verdict {
    let strat = (
        shared::nonconstant_instance(2..=6),
        proptest::collection::vec(0.01f64..1.0, 6),
        (-6.0f64..1.0).prop_map(|e| 10f64.powf(e)),
        0u8..3,
    );
    check_theorem(config, strat, |(inst, raw, temp, kind)| {
        let pi = competitor(inst, raw, *temp, *kind)?;
        let eps = crate::divergence::kl(&pi, &inst.base).map_err(s)?;
        let r = true_utility_range(&inst.base, &inst.reward, eps).map_err(s)?;
        let e = pi.expectation(&inst.reward).map_err(s)?;
        let scale = scale_of(&inst.reward);
        let hi = solve::kl_budget(&inst.base, &inst.reward, eps).map_err(s)?;
        let hi_kl = crate::divergence::kl(&hi.solution.policy, &inst.base).map_err(s)?;
        let hi_e = hi.solution.policy.expectation(&inst.reward).map_err(s)?;
        let e0 = r.base_mean;
        // The tightness of a side whose width is within 1e3 times the slack is rounding: not
        // reported.
        let side = |a: f64, width: f64| {
            let d = Deviation::at_most(a, factor * width, 1e-10 * scale);
            if width > 1e-7 * scale {
                d
            } else {
                untight(d)
            }
        };
        let mut dev = side(e - e0, r.high - e0)
            .worst(side(e0 - e, e0 - r.low))
            .worst(Deviation::new((hi_e - r.high).abs(), 1e-10 * scale))
            .worst(untight(Deviation::at_most(hi_kl, eps, 1e-10 * eps + 1e-15)));
        let half = (r.high - e0).max(e0 - r.low);
        dev = dev
            .worst(untight(Deviation::at_most(
                half,
                r.sub_gaussian,
                1e-9 * r.sub_gaussian + 1e-12 * scale,
            )))
            .worst(untight(Deviation::at_most(
                r.sub_gaussian,
                r.pinsker,
                1e-9 * r.pinsker,
            )));
        Ok(dev)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_claim_passes_a_short_run() {
        crate::claims::assert_short_run_passes(&claims(), 32, 3);
    }
}
