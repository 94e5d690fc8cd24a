//! Family `goodhart: proxies and true utility`.
//!
//! A joint model gives each outcome a proxy `U` (what is optimized) and a true utility `V`. The
//! models live in [`crate::goodhart`]; this file states the claims and checks them.

use super::strategy::{self as shared};
use super::strategy_goodhart as strat;
use super::{check_model, check_theorem, runner, CheckConfig, Claim, Deviation, Status, Verdict};
use crate::goodhart::additive::{kl_for_gain, AdditiveModel, TailLaw};
use crate::goodhart::gaussian::{self, log_cdf, pdf, upper_tail};
use crate::goodhart::outlier::OutlierModel;
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
            check: check_reweighting,
            control: None,
        },
        Claim {
            id: "goodhart.no-dominance",
            title: "At equal E[U], neither the tilt nor best-of-N always gives the higher E[V]",
            statement: "There are joint tables where the least-KL tilt with $E[U] = E_{BoN_N}[U]$ has a strictly \
higher $E[V]$ than best-of-$N$, and joint tables where it has a strictly lower one.",
            sources: &["[S0] Shlegeris 2022 (further assumptions on the joint distribution are needed)"],
            status: Status::Theorem,
            settled: Some("by two witnesses found by seeded search and shrunk (snapshotted in tests/snapshots)"),
            check: check_no_dominance,
            control: None,
        },
        Claim {
            id: "goodhart.regressional",
            title: "Regressional Goodhart: the regression of V on U = V + E shrinks toward the mean",
            statement: "If $V \\sim N(\\mu_V, s_V^2)$ and $E \\sim N(\\mu_E, s_E^2)$ are independent and $U = V + E$, then \
$E[V \\mid U = u] = \\mu_V + \\frac{s_V^2}{s_V^2 + s_E^2}(u - \\mu_V - \\mu_E)$.",
            sources: &["Manheim & Garrabrant 2018, Categorizing Variants of Goodhart's Law"],
            status: Status::Theorem,
            settled: None,
            check: check_regressional,
            control: None,
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
            check: check_gaussian,
            control: None,
        },
        Claim {
            id: "goodhart.outlier",
            title: "One adversarial output among a million: the tilt cannot keep quality without admitting it",
            statement: "$10^6$ ordinary outputs with rewards $100 i/(10^6 - 1)$ and one adversarial output with reward $10^5$, \
uniform base. Conditioning on $r > 99$ picks the adversarial output with probability exactly $1/10001$. No $\\beta$ \
gives both a mean ordinary reward $\\ge 99$ and adversarial mass $\\le 10^{-4}$: the best mean ordinary reward at \
adversarial mass $\\le 10^{-4}$ is reached at the $\\beta$ where the mass equals $10^{-4}$, and is about 50.",
            sources: &["[S0] comment by Lawrence Chan"],
            status: Status::Model,
            settled: None,
            check: check_outlier,
            control: None,
        },
        Claim {
            id: "goodhart.submodules",
            title: "Capability-limited submodules: conditioning raises truth, reallocation lowers it",
            statement: "In the submodule model of `proofs/goodhart.submodules.md` (truth per unit $(1,-1,0)$, persuasion \
per unit $(1,2,0)$, unit noises with correlation $0.5$, $\\theta$ uniform on the simplex grid with $K = 30$), \
conditioning the base on $P \\ge 1$ raises $E[T]$ above the base's, while reallocating $\\theta$ toward the \
persuasion-optimal vertex to the same $E[P]$ lowers $E[T]$ below it.",
            sources: &["[S0] comments by Neyman and Thomas (reconstruction)"],
            status: Status::Model,
            settled: None,
            check: check_submodules,
            control: None,
        },
        Claim {
            id: "goodhart.resource",
            title: "A proxy on a subset of attributes drives the others to their minimum",
            statement: "Attributes $a_i \\ge m_i$, a budget $\\sum_i c_i a_i \\le B$ with $c_i > 0$, and a proxy \
$\\sum_{i \\in S} w_i a_i$ with $w_i > 0$ on a strict subset $S$. Every maximizer has $a_j = m_j$ for all $j \\notin S$.",
            sources: &["Zhuang & Hadfield-Menell 2020, Consequences of Misaligned AI"],
            status: Status::Theorem,
            settled: None,
            check: check_resource,
            control: None,
        },
        Claim {
            id: "goodhart.heavy-tail",
            title: "Heavy-tailed error: the tilt buys proxy gain without true gain",
            statement: "$U = V + X$, $V \\sim N(0,1)$, $X$ independent of $V$. Finite form checked: on grids cut at \
$L$, the least-KL policy with $E[U] - E_0[U] = 1$ (a tilt) has true gain $E[V] - E_0[V]$ that decreases toward 0 \
as $L$ grows when $X$ is Student-t(3), Pareto(1.5) or lognormal(1), and stays at $1/2$ when $X \\sim N(0,1)$.",
            sources: &["Kwa, Thomas & Garriga-Alonso 2024, Catastrophic Goodhart"],
            status: Status::Theorem,
            settled: None,
            check: check_heavy_tail,
            control: None,
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
            check: check_heavy_tail_kl,
            control: None,
        },
        Claim {
            id: "goodhart.kwa-unbiased",
            title: "The 'unbiased but heteroskedastic' example does not regress to 0",
            statement: "$V \\sim N(0,1)$; $X \\mid V \\sim N(0, 4)$ when $|V| \\le 1$ and $X = 0$ otherwise. The statement \
$E[V \\mid X + V \\ge t] \\to 0$ is false: $E[V \\mid X + V \\ge t] \\to 1$, with $1 - E[V \\mid X + V \\ge t] \\sim 4/t$.",
            sources: &["Kwa, Thomas & Garriga-Alonso 2024, Catastrophic Goodhart"],
            status: Status::Refuted,
            settled: Some("by proof (proofs/goodhart.kwa-unbiased.md) and by quadrature with a stated error bound: E[V | U >= t] rises toward 1, e.g. 0.9129 at t = 50 and 0.9899 at t = 400"),
            check: check_kwa_unbiased,
            control: None,
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
            check: check_gao_forms,
            control: None,
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
            check: check_frontier,
            control: None,
        },
    ]
}

/// Largest `|x|` over a slice, at least 1.
fn scale_of(xs: &[f64]) -> f64 {
    xs.iter().fold(1.0f64, |m, x| m.max(x.abs()))
}

/// Checks, per random joint table and optimizer: (a) `log pi - log pi0` is constant on each
/// proxy class where `pi > 0` (to `16 eps` times the size of the logs: each is a sum of a few
/// rounded logarithms), and an outcome of a class with `pi = 0` next to one with `pi > 0` has a
/// log ratio that underflows (`log pi0 + c < -700`); (b) `E_pi[V] = sum_u pi(U = u) m(u)` to
/// `1e-13 max|V|` (two sums of at most 8 products, each product rounded a few times).
fn check_reweighting(config: &CheckConfig) -> Verdict {
    check_theorem(config, (strat::joint(1..=8), strat::pick()), |(t, pick)| {
        let opt = strat::resolve(t, *pick)?;
        let sol = t.optimize(opt).map_err(s)?;
        let pi = &sol.policy;
        let classes = solve::RewardClasses::new(&t.base, &t.proxy).map_err(s)?;
        let k = classes.classes.len();
        let (mut lo, mut hi, mut size) =
            (vec![f64::INFINITY; k], vec![f64::NEG_INFINITY; k], 1.0f64);
        let mut class_mass = vec![crate::numeric::CompensatedSum::new(); k];
        for (i, c) in classes.class_of(t.base.len()).iter().enumerate() {
            let Some(c) = c else {
                if pi.prob(i) > 0.0 {
                    return Ok(Deviation::exact(false));
                }
                continue;
            };
            class_mass[*c].add(pi.prob(i));
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
        let reg = t.regression().map_err(s)?;
        let via_m: f64 = crate::numeric::sum(
            reg.iter()
                .zip(&class_mass)
                .map(|((_, _, m), w)| w.value() * m),
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

/// Compares best-of-N with the least-KL tilt at the same `E[U]`; `None` if best-of-N does not
/// raise `E[U]` (proxy constant on the support).
pub fn compare_at_equal_proxy(t: &JointTable, n: u64) -> Result<Option<Comparison>, String> {
    let bon = t.evaluate(Optimizer::BestOfN { n }).map_err(s)?;
    let e0 = t.base.expectation(&t.proxy).map_err(s)?;
    if !(bon.expected_proxy > e0) {
        return Ok(None);
    }
    let tilt = t
        .evaluate(Optimizer::RewardTarget {
            target: bon.expected_proxy,
        })
        .map_err(s)?;
    Ok(Some(Comparison {
        base: t.base.probs().to_vec(),
        proxy: t.proxy.clone(),
        truth: t.truth.clone(),
        n,
        expected_proxy: bon.expected_proxy,
        bon_true: bon.expected_true,
        tilt_true: tilt.expected_true,
        bon_kl: bon.kl,
        tilt_kl: tilt.kl,
    }))
}

/// A strict difference must exceed rounding: both `E[V]` are sums of at most 4 products with
/// `|V| <= 3`, so `1e-9` is far above their rounding error and far below the witnesses' gaps.
const STRICT_GAP: f64 = 1e-9;

/// The two witnesses of `goodhart.no-dominance`, found by seeded search over
/// [`strat::small_integer_joint`] and shrunk: first one where the tilt's `E[V]` is strictly
/// higher, then one where best-of-N's is.
pub fn no_dominance_witnesses(config: &CheckConfig) -> Result<(Comparison, Comparison), String> {
    let find = |tilt_wins: bool| -> Result<Comparison, String> {
        let holds = |(t, n): &(JointTable, u64)| -> Result<bool, String> {
            Ok(match compare_at_equal_proxy(t, *n)? {
                None => true,
                Some(c) if tilt_wins => !(c.tilt_true > c.bon_true + STRICT_GAP),
                Some(c) => !(c.bon_true > c.tilt_true + STRICT_GAP),
            })
        };
        let found = runner::shrunk_counterexample(config, strat::small_integer_joint(), holds)?
            .ok_or_else(|| "no witness found".to_string())?;
        compare_at_equal_proxy(&found.0, found.1)?.ok_or_else(|| "degenerate witness".into())
    };
    Ok((find(true)?, find(false)?))
}

fn check_no_dominance(config: &CheckConfig) -> Verdict {
    // The search needs at least 64 cases to meet both witnesses.
    let cfg = CheckConfig::new(config.cases.max(64), config.seed);
    match no_dominance_witnesses(&cfg) {
        Ok((a, b)) => {
            let mut v = check_model(|| {
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
/// a few thousand terms summed with compensation).
fn check_regressional(config: &CheckConfig) -> Verdict {
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
        let formula = mu_v + s_v * s_v / (s_v * s_v + s_e * s_e) * (u - mu_v - mu_e);
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

/// Compares the closed forms with the crate's exact finite solvers on [`discretized_gaussian`]
/// (`h = 1e-3`, `rho = 0.6`): best-of-N for `N = 2, 10, 100, 1000` against the quadrature
/// `e_N` and the continuous KL `log N - (N-1)/N`, the tilt at `beta = 2, 1, 0.5`, and
/// conditioning on `U >= 1.5` (a cell edge, so exact up to the `2e-33` mass outside
/// `[-12, 12]`). Within a cell the optimized law differs from
/// the base's conditional law by a density ratio whose log-slope is at most `(N-1) phi/Phi` (BoN)
/// or `1/beta` (tilt), which moves the cell's mean by at most `h^2/12` times that slope: below
/// `1e-6 * 3` for these parameters, hence the tolerance `1e-6` relative.
fn check_gaussian(_config: &CheckConfig) -> Verdict {
    check_model(|| {
        let rho = 0.6;
        let t = discretized_gaussian(1e-3, rho)?;
        let mut dev = Deviation::new(0.0, 0.0);
        for n in [2u64, 10, 100, 1000] {
            let exact = t.evaluate(Optimizer::BestOfN { n }).map_err(s)?;
            let g = gaussian::best_of_n(n, rho).map_err(s)?;
            dev = dev.worst(gaussian_agreement(&exact, &g));
        }
        for beta in [2.0, 1.0, 0.5] {
            let exact = t.evaluate(Optimizer::Tilt { beta }).map_err(s)?;
            let g = gaussian::tilt(beta, rho).map_err(s)?;
            dev = dev.worst(gaussian_agreement(&exact, &g));
        }
        // The threshold is the edge -12 + 13500 h = 1.5 up to rounding; keep U >= 1.5 - h/2.
        let exact = t
            .evaluate(Optimizer::Condition {
                threshold: 1.5 - 5e-4,
            })
            .map_err(s)?;
        let g = gaussian::condition(1.5, rho).map_err(s)?;
        dev = dev
            .worst(Deviation::close(
                exact.expected_proxy,
                g.expected_proxy,
                1e-6,
                1.0,
            ))
            .worst(Deviation::close(exact.kl, g.kl, 1e-6, 1.0));
        // Mean shift: E[V] = 0 by construction; its KL exceeds the tilt's at the same E[U].
        let shift = gaussian::mean_shift(1.0, rho).map_err(s)?;
        dev = dev.worst(Deviation::close(
            shift.kl,
            0.5 / (1.0 - rho * rho),
            1e-14,
            1.0,
        ));
        Ok(dev)
    })
    .with_note("closed forms vs exact finite solvers on a 24000-cell discretization")
}

/// E[U], E[V] and KL of an exact finite solution against the closed form, each to `1e-6`
/// relative (the discretization bound derived for `check_gaussian`).
fn gaussian_agreement(
    exact: &crate::goodhart::joint::ProxyTrue,
    closed: &gaussian::GaussianPoint,
) -> Deviation {
    Deviation::close(exact.expected_proxy, closed.expected_proxy, 1e-6, 1.0)
        .worst(Deviation::close(
            exact.expected_true,
            closed.expected_true,
            1e-6,
            1.0,
        ))
        .worst(Deviation::close(exact.kl, closed.kl, 1e-6, 1.0))
}

/// Computes the outlier model's conditioning probability (exactly `1/10001`: 10^4 ordinary
/// rewards exceed 99, plus the adversarial one; compared to `1e-12` relative, a sum of 10^4
/// equal masses), the `beta` where the adversarial mass is `1e-4`, and checks that the mass
/// computed by the full tilt there is `1e-4` to `1e-9` relative (the closed form and the
/// `O(M)` solver agree to rounding of `ln S ~ 1e3`), and that the mean ordinary reward there is
/// below 99 (so no beta reaches both, by the monotonicity shown in the proof).
fn check_outlier(_config: &CheckConfig) -> Verdict {
    check_model(|| {
        let m = OutlierModel::CATALOG;
        let c = m.condition(99.0).map_err(s)?;
        let mut dev = Deviation::close(c.adversarial_mass, 1.0 / 10_001.0, 1e-12, 0.0);
        let beta = m.beta_for_adversarial_mass(1e-4).map_err(s)?;
        let p = m.tilt(beta).map_err(s)?;
        dev = dev.worst(Deviation::close(p.adversarial_mass, 1e-4, 1e-9, 0.0));
        dev = dev.worst(Deviation::exact(p.mean_ordinary_reward < 99.0));
        Ok(dev)
    })
}

/// Threshold of the submodule witness.
pub const SUBMODULE_THRESHOLD: f64 = 1.0;

/// Checks the witness parameters: conditioning on `P >= 1` raises `E[T]`, reallocation to the
/// same `E[P]` lowers it (strict inequalities), and the closed-form conditional truth agrees
/// with Gauss-Legendre quadrature over the persuasion noise
/// (`int_z^{z+40} (mt + sigma_T rho x) phi(x) dx` per allocation) to `1e-11` relative.
fn check_submodules(_config: &CheckConfig) -> Verdict {
    check_model(|| {
        let m = SubmoduleModel::WITNESS;
        let base = m.base().map_err(s)?;
        let (cond, _) = m.condition(SUBMODULE_THRESHOLD).map_err(s)?;
        let (real, _) = m.reallocate_to(cond.persuasion).map_err(s)?;
        let mut dev = Deviation::exact(cond.truth > base.truth && real.truth < base.truth);
        let (mut num, mut den) = (0.0, 0.0);
        for a in m.allocations() {
            let mt: f64 = (0..3).map(|k| a[k] * m.truth[k]).sum();
            let mp: f64 = (0..3).map(|k| a[k] * m.persuasion[k]).sum();
            let z = (SUBMODULE_THRESHOLD - mp) / m.sigma_persuasion;
            den += quadrature::integrate(pdf, z, z + 40.0, 400);
            num += quadrature::integrate(
                |x| (mt + m.sigma_truth * m.rho * x) * pdf(x),
                z,
                z + 40.0,
                400,
            );
        }
        // statrs' erfc is accurate to ~1e-14 relative; 496 terms summed: 1e-11.
        dev = dev.worst(Deviation::close(num / den, cond.truth, 1e-11, 1.0));
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

/// Checks: the greedy maximizer (all slack to an attribute of largest `w_i / c_i`) keeps every
/// attribute outside `S` at its minimum; a random feasible competitor never beats it
/// (slack `1e-12` relative); and moving the competitor's excess off `S` onto the best
/// attribute of `S` strictly raises the proxy whenever there is any excess.
fn check_resource(config: &CheckConfig) -> Verdict {
    check_theorem(config, resource_instance(), |inst| {
        let n = inst.minima.len();
        let proxy = |a: &[f64]| -> f64 { (0..n).map(|i| inst.weights[i] * a[i]).sum() };
        let best = (0..n)
            .filter(|i| inst.weights[*i] > 0.0)
            .max_by(|a, b| {
                (inst.weights[*a] / inst.costs[*a]).total_cmp(&(inst.weights[*b] / inst.costs[*b]))
            })
            .ok_or("empty S")?;
        let mut opt = inst.minima.clone();
        opt[best] += inst.slack / inst.costs[best];
        let off_at_min = (0..n).all(|j| inst.weights[j] > 0.0 || opt[j] == inst.minima[j]);
        let comp: Vec<f64> = (0..n)
            .map(|i| inst.minima[i] + inst.shares[i] * inst.slack / inst.costs[i])
            .collect();
        let scale = proxy(&opt).abs().max(proxy(&inst.minima).abs()).max(1.0);
        let mut dev = Deviation::exact(off_at_min).worst(Deviation::at_most(
            proxy(&comp),
            proxy(&opt),
            1e-12 * scale,
        ));
        let freed: f64 = (0..n)
            .filter(|j| inst.weights[*j] == 0.0)
            .map(|j| inst.costs[j] * (comp[j] - inst.minima[j]))
            .sum();
        if freed > 0.0 {
            let gain = inst.weights[best] * freed / inst.costs[best];
            dev = dev.worst(Deviation::exact(gain > 0.0));
        }
        Ok(dev)
    })
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

/// Checks the finite form of `goodhart.heavy-tail` at proxy gain 1: for each heavy law the true
/// gain strictly decreases along the cuts and is below 0.25 at `L = 1e4`; for the Gaussian error
/// it is `1/2` to `1e-4` (the grid's variance is `1 + h^2/12` and its truncation `2e-23`, so the
/// exact value is `1/2` to `1e-5`).
fn check_heavy_tail(_config: &CheckConfig) -> Verdict {
    check_model(|| {
        let mut dev = Deviation::new(0.0, 0.0);
        for (_, law) in TAIL_LAWS {
            let mut gains = Vec::new();
            for l in HEAVY_TAIL_CUTS {
                let p = AdditiveModel::standard_truth(law, l)
                    .map_err(s)?
                    .at_proxy_gain(1.0)
                    .map_err(s)?;
                gains.push(p.true_gain);
            }
            if let TailLaw::Gaussian { .. } = law {
                for g in &gains {
                    dev = dev.worst(Deviation::close(*g, 0.5, 1e-4, 1.0));
                }
            } else {
                let decreasing = gains.windows(2).all(|w| w[1] < w[0]);
                dev = dev.worst(Deviation::exact(
                    decreasing && gains[gains.len() - 1] < 0.25,
                ));
            }
        }
        Ok(dev)
    })
}

/// Checks the finite form of `goodhart.heavy-tail-kl` at gain 1: for each heavy law the least
/// KL strictly decreases along the cuts, is at most the construction's KL (a feasible policy with
/// gain exactly 1 up to rounding; slack `1e-12` relative for that rounding), and is below 0.05
/// at `L = 1e4`; for `N(0, 1)` it is `1/2` to `1e-4` (grid variance
/// `1 + h^2/12`).
fn check_heavy_tail_kl(_config: &CheckConfig) -> Verdict {
    check_model(|| {
        let mut dev = Deviation::new(0.0, 0.0);
        for (_, law) in TAIL_LAWS {
            let mut kls = Vec::new();
            for l in HEAVY_TAIL_CUTS {
                let g = law.grid(l).map_err(s)?;
                let k = kl_for_gain(&g, 1.0).map_err(s)?;
                dev = dev
                    .worst(Deviation::close(k.construction_gain, 1.0, 1e-12, 1.0))
                    .worst(Deviation::at_most(
                        k.min_kl,
                        k.construction_kl,
                        1e-12 * k.min_kl,
                    ));
                kls.push(k.min_kl);
            }
            if let TailLaw::Gaussian { .. } = law {
                for k in &kls {
                    dev = dev.worst(Deviation::close(*k, 0.5, 1e-4, 1.0));
                }
            } else {
                let decreasing = kls.windows(2).all(|w| w[1] < w[0]);
                dev = dev.worst(Deviation::exact(decreasing && kls[kls.len() - 1] < 0.05));
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

/// Settles `goodhart.kwa-unbiased`: `E[V | U >= t]` increases along [`KWA_THRESHOLDS`] (it
/// dips between `t = 2` and `t = 5` while the `V >= t` branch fades) and exceeds 0.98 at
/// `t = 400`, with quadrature error estimates below `1e-12`; and `kappa(t) (1 - E)` is within
/// 2% of its limit 1 at `t = 400` (the proof's next-order terms are `O(1/t)`).
fn check_kwa_unbiased(_config: &CheckConfig) -> Verdict {
    let mut v = check_model(|| {
        let vals: Vec<(f64, f64)> = KWA_THRESHOLDS
            .iter()
            .map(|t| kwa_conditional_mean(*t))
            .collect();
        let err = vals.iter().map(|(_, e)| *e).fold(0.0, f64::max);
        let increasing = vals.windows(2).all(|w| w[1].0 > w[0].0);
        let last = vals[vals.len() - 1].0;
        Ok(Deviation::new(err, 1e-12)
            .worst(Deviation::exact(increasing && last > 0.98))
            .worst(Deviation::close(
                kwa_rate(400.0) * (1.0 - last),
                1.0,
                0.02,
                1.0,
            )))
    });
    let (e, _) = kwa_conditional_mean(400.0);
    v.counterexample = Some(format!("E[V | X + V >= 400] = {e:.12} (tends to 1, not 0)"));
    v
}

/// Checks the Gao et al. forms: for random `(alpha, beta, s)`, at `d = d*/2` with
/// `d* = e^{(alpha - sqrt2 s)/beta}` the RL form exceeds `sqrt2 s d` (exact inequality, with
/// relative margin `beta ln 2 / (sqrt2 s) >= 1e-3`, checked when `d > 1e-290` so that no product
/// is subnormal); the BoN form with `alpha = sqrt2 s` stays below the bound at random
/// `d`; and on random finite instances the tilt's reward gain is at most `sqrt(2 s^2 KL)` with
/// `s^2` the variance proxy (relative slack `1e-9`: the proxy is a lower estimate accurate to
/// about `1e-10`; plus `4 eps max|r|` for the rounding of the gain, a difference of means).
fn check_gao_forms(config: &CheckConfig) -> Verdict {
    let strat = (
        -5.0f64..5.0,
        0.01f64..5.0,
        0.1f64..5.0,
        0.0f64..10.0,
        shared::nonconstant_instance(2..=6),
        shared::moderate_beta(),
    );
    check_theorem(config, strat, |(alpha, beta, sg, d_bon, inst, b)| {
        let bound = std::f64::consts::SQRT_2 * sg;
        let d_star = ((alpha - bound) / beta).exp();
        let d = 0.5 * d_star;
        // Below ~1e-290 the products with d become subnormal and lose their digits.
        let mut dev = if d > 1e-290 && d.is_finite() {
            Deviation::exact(d * (alpha - beta * d.ln()) > bound * d)
        } else {
            Deviation::new(0.0, 0.0)
        };
        dev = dev.worst(Deviation::exact(
            d_bon * (bound - beta * d_bon) <= bound * d_bon,
        ));
        let t = solve::tilt(&inst.base, &inst.reward, *b).map_err(s)?;
        let gain = t.solution.expected_reward - inst.base.expectation(&inst.reward).map_err(s)?;
        let s2 = crate::goodhart::frontier::variance_proxy(&inst.base, &inst.reward).map_err(s)?;
        let transport = (2.0 * s2 * t.solution.kl).sqrt();
        // The gain is a difference of two means: absolute rounding ~ 4 eps max|r| on top.
        let slack = 1e-9 * transport + 4.0 * f64::EPSILON * scale_of(&inst.reward);
        Ok(dev.worst(Deviation::at_most(gain, transport, slack)))
    })
}

/// Checks, per random table `(pi0, V)` and random competitor `pi`: at `eps = KL(pi||pi0)`,
/// `low <= E_pi[V] <= high` (slack `1e-10` relative to `max|V|`: the competitor's KL and the
/// frontier's are each accurate to ~`1e-14` relative, and `E[V]` moves by at most
/// `range sqrt(2 eps)`-scaled amounts per unit of KL error); both frontier values are attained
/// by policies with KL at most `eps (1 + 1e-10) + 1e-15`; and
/// `max(high - E0, E0 - low) <= sqrt(2 s^2 eps) <= range sqrt(eps/2)` (relative slack `1e-9`).
fn check_frontier(config: &CheckConfig) -> Verdict {
    let strat = (
        shared::nonconstant_instance(2..=6),
        proptest::collection::vec(0.01f64..1.0, 6),
        (-6.0f64..1.0).prop_map(|e| 10f64.powf(e)),
    );
    check_theorem(config, strat, |(inst, raw, temp)| {
        // pi proportional to pi0 raw^(1/temp), in log space (raw^(1/temp) underflows).
        let w: Vec<f64> = (0..inst.base.len())
            .map(|i| inst.base.log_prob(i) + raw[i].ln() / temp)
            .collect();
        let pi = Dist::from_log_weights(&w).map_err(s)?;
        let eps = crate::divergence::kl(&pi, &inst.base).map_err(s)?;
        let r = true_utility_range(&inst.base, &inst.reward, eps).map_err(s)?;
        let e = pi.expectation(&inst.reward).map_err(s)?;
        let scale = scale_of(&inst.reward);
        let hi = solve::kl_budget(&inst.base, &inst.reward, eps).map_err(s)?;
        let mut dev = Deviation::at_most(e, r.high, 1e-10 * scale)
            .worst(Deviation::at_most(r.low, e, 1e-10 * scale))
            // The multiplier is located to ~1e-15 in u = ln(spread/beta), and d ln KL/du reaches
            // ~1e3 when the budget is near -log pi0(argmax): KL matches eps to ~1e-12 relative
            // (observed up to 2e-12), hence 1e-10. The competitor's KL carries absolute
            // rounding ~1e-16 when pi is within rounding of pi0, hence the floor 1e-15.
            .worst(Deviation::at_most(hi.solution.kl, eps, 1e-10 * eps + 1e-15));
        let half = (r.high - r.base_mean).max(r.base_mean - r.low);
        dev = dev
            .worst(Deviation::at_most(
                half,
                r.sub_gaussian,
                1e-9 * r.sub_gaussian + 1e-12 * scale,
            ))
            .worst(Deviation::at_most(
                r.sub_gaussian,
                r.pinsker,
                1e-9 * r.pinsker,
            ));
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
