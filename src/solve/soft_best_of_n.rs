//! Exact soft best-of-N (claim `bon.soft`): draw N iid outputs from `pi0`, return one of them
//! with probability proportional to `w = exp(r/lambda)`.
//!
//! # The law
//!
//! With `S_{N-1}` a sum of `N-1` iid copies of `w(Y)`, `Y ~ pi0`,
//!
//! ```text
//! P_N(x) = N pi0(x) w(x) E[1/(w(x) + S_{N-1})]
//!        = N pi0(x) w(x) int_0^inf e^{-w(x) t} M(t)^{N-1} dt,      M(t) = E_pi0[e^{-t w(Y)}],
//! ```
//!
//! from `1/a = int_0^inf e^{-a t} dt` and independence. (Equivalently: give each draw an
//! exponential clock of rate `w`; the first to ring is the chosen one.) The law depends on `w`
//! only up to a common factor, and outcomes of equal reward keep their `pi0` odds.
//!
//! # Numerics
//!
//! - Weights are handled as logarithms relative to a reference, never as `exp(r/lambda)`.
//!   Reward classes (equal reward) are sorted downward and cut into *clusters* wherever two
//!   consecutive classes are more than `G = 800 + log N` apart in `r/lambda`: a draw from a
//!   lower cluster is then chosen over one from a higher cluster with probability at most
//!   `N e^{-G} < e^{-800}`, below the smallest positive double, so across clusters the selection
//!   is hard, and within a cluster it is computed with the cluster's top class as the reference
//!   weight 1. For a class `c` of cluster `k`, with `F_below` the `pi0` mass of the lower
//!   clusters and `F_above` that of the higher ones,
//!   `M_k(t) = F_below + sum_{y in k} pi0(y) e^{-w_y t}` (so `1 - M_k = F_above + ...`).
//! - `log M_k` is formed as `log1p(-(1 - M_k))` with `1 - M_k` summed from `-expm1` terms (or
//!   its Taylor series) while it is below 1/2 (at `N = 10^15` the integrand lives where `1 - M ~ 10^-15`), else as
//!   `log M_k` summed directly; sums are compensated. `M^{N-1}` is `exp((N-1) log M)`.
//! - The integral is taken in `u = log t` by the trapezoidal rule with step `h = 1/4`: the
//!   integrand `e^{u - w e^u} M(e^u)^{N-1}` is analytic and decays double-exponentially on the
//!   right and exponentially on the left, the setting where the trapezoidal rule converges like
//!   `exp(-pi^2/h)` (`~ 7e-18` relative at `h = 1/4`, half-width `pi/2` of the strip where
//!   `Re e^u > 0`). The range is `[log(1e-18/N), log(log(N/w_min) + 41.5) - log w_min]`: the
//!   head `t < 1e-18/N` carries at most `1e-18` of each class's integral (the integral is at
//!   least `(1 - F_above)^{N-1}/N` and the head at most `t (1 - F_above)^{N-1}`), and the tail
//!   beyond `t_hi` at most `N e^{-w t_hi}/w <= 1e-18` of it. The nodes past the point where
//!   the cluster's mass still to move, `M_k(e^u)^N - F_below^N` (formed from
//!   `sum pi0 e^{-w t}`, not as a difference of rounded powers), is below `e^-690 = 3e-300` of
//!   the cluster's mass `F_k^N - F_below^N` are dropped (found by binary search; each class's
//!   integrand there carries at most that mass, since `N pi0(x) w(x) e^{-w t} M^{N-1}` is a term
//!   of `-d(M^N)/dt`). For `t <= 1` (every `w t <= 1`), `M` and the per-class sums are Taylor
//!   series in `t` and `w` with precomputed moments (25 terms), so a large support costs a few
//!   flops per class per node. The quadrature step, range and truncation
//!   are certified in the tests against exact enumeration of the `|X|^N` draw tuples, against
//!   the same rule at `h/2`, and against a 40-digit reference.
//! - Accuracy: each probability to about `1e-13` relative (measured; the logarithm of a class's
//!   integral carries rounding of `eps (N-1)|log M| <= 1e-13` at the nodes that matter) when
//!   the span of `r/lambda` inside a cluster is moderate; the weights themselves are known only
//!   to `eps |r/lambda|`, which limits any method.
//! - The class probabilities are renormalized by their sum when it is within `1e-12` of 1; a
//!   sum farther off (the quadrature at `N` near `2^64` with weights of nearly equal size lost
//!   all its mass) is refused with `no_convergence` rather than returned.
//! - `N = 1` is the base itself.
//!
//! Cost: `O(K log K)` to sort `K` reward classes, then two special functions per class per
//! node (about 200 nodes at `N = 10^12`), on all cores for large supports.

use super::Solution;
use crate::dist::{check_reward, Dist};
use crate::error::{require_positive, Error, Result};
use crate::numeric::{log1mexp, log_sum_exp, CompensatedSum};
use crate::parallel;
use serde::Serialize;

/// The exact soft best-of-N policy and the numbers around it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SoftBestOfN {
    /// Policy, expected reward, and `KL(P_N || pi0)`.
    #[serde(flatten)]
    pub solution: Solution,
    /// N.
    pub n: u64,
    /// The temperature `lambda` of the selection weights `exp(r/lambda)`.
    pub temperature: f64,
    /// `KL(P_N || tilt)`, the tilt `pi0 exp(r/lambda)/Z` at `beta = lambda`.
    pub kl_to_tilt: f64,
    /// Quadrature nodes evaluated over all clusters (0 at `N = 1`).
    pub nodes: usize,
}

/// The trapezoidal step in `u = log t`.
pub const STEP: f64 = 0.25;

/// `log(1e-18)`: the relative truncation of each class's integral at either end.
const LOG_TRUNCATION: f64 = -41.446_531_673_892_82;

/// Relative mass (of its cluster) below which a stretch of nodes is dropped: `e^-690 ~ 3e-300`,
/// so that a class whose probability is `10^-280` of its cluster's still keeps full relative
/// accuracy.
const LOG_PRUNE: f64 = -690.0;

/// One reward class: reward, `pi0` mass, members.
struct Class {
    reward: f64,
    mass: f64,
    members: Vec<usize>,
}

/// The support's reward classes in decreasing reward.
fn classes_descending(base: &Dist, reward: &[f64]) -> Vec<Class> {
    let mut idx: Vec<usize> = base.support().collect();
    idx.sort_by(|&a, &b| reward[b].total_cmp(&reward[a]));
    let mut out: Vec<Class> = Vec::new();
    let mut sums: Vec<CompensatedSum> = Vec::new();
    for i in idx {
        match out.last_mut() {
            // `==` so that -0.0 and 0.0 share a class.
            Some(c) if c.reward == reward[i] => {
                c.members.push(i);
                if let Some(s) = sums.last_mut() {
                    s.add(base.prob(i));
                }
            }
            _ => {
                out.push(Class {
                    reward: reward[i],
                    mass: 0.0,
                    members: vec![i],
                });
                let mut s = CompensatedSum::new();
                s.add(base.prob(i));
                sums.push(s);
            }
        }
    }
    for (c, s) in out.iter_mut().zip(&sums) {
        c.mass = s.value();
    }
    out
}

/// `(r_a - r_b)/lambda`, without the overflow of `r_a - r_b` for huge rewards.
fn scaled_gap(ra: f64, rb: f64, lambda: f64) -> f64 {
    let d = ra - rb;
    if d.is_finite() {
        d / lambda
    } else {
        ra / lambda - rb / lambda
    }
}

/// One cluster: log-weights `a_c <= 0` relative to its top class, masses, and the `pi0` mass
/// of the classes above and below it.
struct Cluster {
    log_w: Vec<f64>,
    w: Vec<f64>,
    mass: Vec<f64>,
    above: f64,
    below: f64,
    /// `mu_k / k!` with `mu_k = sum_c pi0(c) w_c^k`, `k = 0..TERMS`: the Taylor coefficients of
    /// `sum_c pi0(c) e^{-w_c t}` in `-t`.
    moments: Vec<f64>,
}

/// Terms of the Taylor series in `w t <= 1` (the remainder is below `1/25! = 6e-26`).
const TERMS: usize = 25;

/// `sum_k c_k x^k` by Horner's rule.
fn horner(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, ck| acc * x + ck)
}

impl Cluster {
    fn new(log_w: Vec<f64>, mass: Vec<f64>, above: f64, below: f64) -> Self {
        let w: Vec<f64> = log_w.iter().map(|a| a.exp()).collect();
        let mut sums = vec![CompensatedSum::new(); TERMS];
        for (wc, mc) in w.iter().zip(&mass) {
            let mut p = *mc;
            for s in sums.iter_mut() {
                s.add(p);
                p *= wc;
            }
        }
        let mut fact = 1.0;
        let moments = sums
            .iter()
            .enumerate()
            .map(|(k, s)| {
                if k > 0 {
                    fact *= k as f64;
                }
                s.value() / fact
            })
            .collect();
        Self {
            log_w,
            w,
            mass,
            above,
            below,
            moments,
        }
    }

    /// `(D, E)` at `t = e^u`: `D = sum_c pi0(c) (1 - e^{-w_c t})` and
    /// `E = sum_c pi0(c) e^{-w_c t}` over the cluster's classes, each with full relative
    /// accuracy (`D + E` is the cluster's mass). For `t <= 1` (so every `w t <= 1`) from the
    /// moments: the alternating series' terms sum in absolute value to at most `e^{wt} <= e`
    /// times each value; else term by term.
    fn parts(&self, u: f64) -> (f64, f64) {
        if u <= 0.0 {
            let t = u.exp();
            let mut alt: Vec<f64> = self
                .moments
                .iter()
                .enumerate()
                .map(|(k, m)| if k % 2 == 0 { *m } else { -m })
                .collect();
            let e = horner(&alt, t);
            alt[0] = 0.0;
            return (-horner(&alt, t), e);
        }
        let t = u.exp();
        let (mut d, mut e) = (CompensatedSum::new(), CompensatedSum::new());
        for (k, m) in self.mass.iter().enumerate() {
            let a = self.log_w[k];
            let wt = if a > -700.0 && u < 700.0 {
                self.w[k] * t
            } else {
                (a + u).exp()
            };
            d.add(-m * (-wt).exp_m1());
            e.add(m * (-wt).exp());
        }
        (d.value(), e.value())
    }

    /// `log M_k(e^u)`: `log1p(-(F_above + D))` while `F_above + D < 1/2`, else
    /// `log(F_below + E)`.
    fn log_m(&self, u: f64) -> f64 {
        let (d, e) = self.parts(u);
        let one_minus = self.above + d;
        if one_minus < 0.5 {
            (-one_minus).ln_1p()
        } else {
            (self.below + e).ln()
        }
    }

    /// `log` of the cluster's mass still to move after `u`: `M_k(e^u)^N - F_below^N`, formed
    /// from `E` (never as a difference of two rounded powers).
    fn log_tail_mass(&self, u: f64, nf: f64) -> f64 {
        let (_, e) = self.parts(u);
        let m = self.below + e;
        nf * m.ln() + (-(nf * (-e / m).ln_1p()).exp_m1()).ln()
    }

    /// `log M_k` at each of `us`, on all cores when the work is large.
    fn log_m_at(&self, us: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; us.len()];
        let threads = parallel::threads(us.len() * self.mass.len()).min(us.len().max(1));
        let bounds = parallel::even_bounds(us.len(), threads);
        parallel::map_parts(&mut out, &bounds, |lo, part| {
            for (o, &u) in part.iter_mut().zip(&us[lo..]) {
                *o = self.log_m(u);
            }
        });
        out
    }
}

/// The last node index to keep: the first `j` (by binary search; the tail mass decreases in
/// `u`) at which the mass still to move, `M_k^N - F_below^N`, is below [`LOG_PRUNE`] of the
/// cluster's `log_total`, or `last`. Every class's integrand beyond it carries at most that
/// much mass (it is a term of `-d(M^N)/dt`).
fn last_node(cl: &Cluster, nf: f64, u_lo: f64, h: f64, last: usize, log_total: f64) -> usize {
    let negligible = |j: usize| cl.log_tail_mass(u_lo + j as f64 * h, nf) < log_total + LOG_PRUNE;
    if !negligible(last) {
        return last;
    }
    let (mut lo, mut hi) = (0usize, last);
    // Invariant: negligible(hi); lo is 0 or not negligible.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if negligible(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// `log I_c = log int_0^inf e^{-w_c t} M_k(t)^{N-1} dt` for each class of a cluster, by the
/// trapezoidal rule in `u = log t` at step `h`. Returns the logs and the node count.
fn cluster_log_integrals(cl: &Cluster, n: u64, h: f64) -> (Vec<f64>, usize) {
    let nf = n as f64;
    let log_n = nf.ln();
    let a_min = cl.log_w.iter().copied().fold(0.0f64, f64::min);
    let u_lo = LOG_TRUNCATION - log_n;
    let u_hi = (log_n - a_min - LOG_TRUNCATION).ln() - a_min;
    let last = ((u_hi - u_lo) / h).ceil().max(1.0) as usize;
    // log(F_k^N - F_below^N), the cluster's total mass.
    let total_mass = {
        let log_fk = (-cl.above).ln_1p();
        nf * log_fk + log1mexp(nf * (cl.below.ln() - log_fk)).min(0.0)
    };
    let end = last_node(cl, nf, u_lo, h, last, total_mass);
    let us: Vec<f64> = (0..=end).map(|j| u_lo + j as f64 * h).collect();
    let log_ms = cl.log_m_at(&us);
    // log of the integrand without its e^{-w t} factor: u + (N-1) log M.
    let s: Vec<f64> = us
        .iter()
        .zip(&log_ms)
        .map(|(u, lm)| u + (nf - 1.0) * lm)
        .collect();
    let s_max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let g: Vec<f64> = s.iter().map(|x| (x - s_max).exp()).collect();
    let ts: Vec<f64> = us.iter().map(|u| u.exp()).collect();
    // Nodes with t <= 1 (so w t <= 1 for every class): their part of the sum is a power series
    // in w with coefficients (-1)^k G_k/k!, G_k = sum_j g_j t_j^k; its terms' absolute sum is at
    // most e^{2 w t} <= e^2 times its value.
    let small = us.partition_point(|u| *u <= 0.0);
    let mut gk = vec![CompensatedSum::new(); TERMS];
    for (gj, tj) in g[..small].iter().zip(&ts) {
        let mut p = *gj;
        for s in gk.iter_mut() {
            s.add(p);
            p *= tj;
        }
    }
    let mut fact = 1.0;
    let coeffs: Vec<f64> = gk
        .iter()
        .enumerate()
        .map(|(k, s)| {
            if k > 0 {
                fact *= k as f64;
            }
            let c = s.value() / fact;
            if k % 2 == 0 {
                c
            } else {
                -c
            }
        })
        .collect();
    let mut out = vec![0.0; cl.mass.len()];
    let threads = parallel::threads(cl.mass.len() * us.len().max(1) / 64);
    let bounds = parallel::even_bounds(out.len(), threads);
    let log_h = h.ln();
    parallel::map_parts(&mut out, &bounds, |lo, part| {
        for (k, o) in part.iter_mut().enumerate() {
            let (a, w) = (cl.log_w[lo + k], cl.w[lo + k]);
            let mut sum = CompensatedSum::new();
            sum.add(horner(&coeffs, w));
            for (j, gj) in g.iter().enumerate().skip(small) {
                let wt = if a > -700.0 && us[j] < 700.0 {
                    w * ts[j]
                } else {
                    (a + us[j]).exp()
                };
                sum.add(gj * (-wt).exp());
            }
            let v = sum.value();
            *o = if v > 1e-250 {
                log_h + s_max + v.ln()
            } else {
                // Deep underflow of the linear sum: redo this class in log space.
                let terms: Vec<f64> = us
                    .iter()
                    .zip(&s)
                    .map(|(u, sj)| sj - (a + u).exp())
                    .collect();
                log_h + log_sum_exp(&terms)
            };
        }
    });
    (out, us.len())
}

/// `rho log rho - rho + 1` at `rho = e^l`, accurate for small `l` (series below `|l| < 0.01`).
fn phi_of_log(l: f64) -> f64 {
    if l.abs() < 0.01 {
        l * l * (0.5 + l * (1.0 / 3.0 + l * (0.125 + l * (1.0 / 30.0 + l / 144.0))))
    } else {
        l * l.exp() - l.exp_m1()
    }
}

/// The exact soft best-of-N law with the default quadrature step [`STEP`].
///
/// Errors: `n = 0`, a temperature that is not finite and positive, a reward of the wrong length
/// or with non-finite entries.
///
/// ```
/// use rlhf_claims::{Dist, solve::soft_best_of_n::soft_best_of_n};
/// // Two outcomes, N = 2, lambda = 1: P(1) = pi0(1)^2 + 2 pi0(0) pi0(1) e/(1 + e).
/// let base = Dist::new(vec![0.5, 0.5])?;
/// let s = soft_best_of_n(&base, &[0.0, 1.0], 2, 1.0)?;
/// let e = 1f64.exp();
/// assert!((s.solution.policy.prob(1) - (0.25 + 0.5 * e / (1.0 + e))).abs() < 1e-14);
/// # Ok::<(), rlhf_claims::Error>(())
/// ```
pub fn soft_best_of_n(
    base: &Dist,
    reward: &[f64],
    n: u64,
    temperature: f64,
) -> Result<SoftBestOfN> {
    soft_best_of_n_with_step(base, reward, n, temperature, STEP)
}

/// [`soft_best_of_n`] with the trapezoidal step `h` in `u = log t` (for certifying the
/// quadrature: the result at `h` against `h/2`). `h` must be finite and positive.
pub fn soft_best_of_n_with_step(
    base: &Dist,
    reward: &[f64],
    n: u64,
    temperature: f64,
    h: f64,
) -> Result<SoftBestOfN> {
    check_reward(base, reward)?;
    let lambda = require_positive("temperature", temperature)?;
    require_positive("h", h)?;
    if n == 0 {
        return Err(Error::InvalidParameter {
            name: "n",
            value: 0.0,
            requirement: "an integer >= 1",
        });
    }
    let classes = classes_descending(base, reward);
    let nf = n as f64;
    let r_max = classes.first().map_or(0.0, |c| c.reward);
    // log of each class's probability.
    let mut log_p = vec![f64::NEG_INFINITY; classes.len()];
    let mut nodes = 0;
    if n == 1 {
        for (lp, c) in log_p.iter_mut().zip(&classes) {
            *lp = c.mass.ln();
        }
    } else {
        let gap = 800.0 + nf.ln();
        let mut start = 0;
        let mut above = CompensatedSum::new();
        while start < classes.len() {
            let mut end = start + 1;
            while end < classes.len()
                && scaled_gap(classes[end - 1].reward, classes[end].reward, lambda) <= gap
            {
                end += 1;
            }
            let top = classes[start].reward;
            let log_w: Vec<f64> = classes[start..end]
                .iter()
                .map(|c| -scaled_gap(top, c.reward, lambda))
                .collect();
            let below: CompensatedSum = classes[end..].iter().map(|c| c.mass).collect();
            let cl = Cluster::new(
                log_w,
                classes[start..end].iter().map(|c| c.mass).collect(),
                above.value(),
                below.value(),
            );
            let (log_i, used) = cluster_log_integrals(&cl, n, h);
            nodes += used;
            for (k, li) in log_i.iter().enumerate() {
                log_p[start + k] = nf.ln() + cl.mass[k].ln() + cl.log_w[k] + li;
            }
            for m in &cl.mass {
                above.add(*m);
            }
            start = end;
        }
    }
    assemble(base, reward, &classes, &log_p, r_max, n, lambda, nodes)
}

/// Largest `|sum P_N - 1|` accepted from the quadrature (each probability is accurate to about
/// `1e-13` relative, see the module docs); beyond it the answer is refused, not renormalized.
const MASS_DEFECT: f64 = 1e-12;

/// The policy and its summaries from the classes' log-probabilities.
///
/// The class probabilities are renormalized by their sum `S` (within [`MASS_DEFECT`] of 1,
/// else [`Error::NoConvergence`]), so that the policy is a distribution to rounding and
/// `KL(P_N||pi0) = sum_C P(C) log(P(C)/pi0(C))` and `E = sum pi r` are those of the returned
/// policy. `KL(P_N||tilt) = sum_C T(C) phi(l_C)` with `l = log(P(C)/T(C))` and
/// `phi(l) = l e^l - expm1(l)`, formed as `P l - P + T` for `|l| >= 1/2` (no `e^l`, which
/// overflows when the tilt's mass underflows) with `P l` split as
/// `P (log P - log pi0(C) + log Z) + P (r* - r_C)/lambda`, the last product formed without
/// overflowing `(r* - r_C)/lambda`; it is `+inf` (reported as `null`) only beyond the `f64`
/// range.
#[allow(clippy::too_many_arguments)]
fn assemble(
    base: &Dist,
    reward: &[f64],
    classes: &[Class],
    log_p: &[f64],
    r_max: f64,
    n: u64,
    lambda: f64,
    nodes: usize,
) -> Result<SoftBestOfN> {
    let total = crate::numeric::sum(log_p.iter().map(|l| l.exp()));
    if !((total - 1.0).abs() <= MASS_DEFECT) {
        return Err(Error::NoConvergence(format!(
            "soft best-of-N quadrature: the probabilities sum to {total}, not to 1 within \
             {MASS_DEFECT} (N = {n}, temperature {lambda})"
        )));
    }
    let ln_total = total.ln();
    let mut logs = vec![f64::NEG_INFINITY; base.len()];
    let mut probs = vec![0.0; base.len()];
    // The tilt's class log-masses: log pi0(C) + (r_C - r_max)/lambda - log Z.
    let tilt_logs: Vec<f64> = classes
        .iter()
        .map(|c| c.mass.ln() - scaled_gap(r_max, c.reward, lambda))
        .collect();
    let log_z = log_sum_exp(&tilt_logs);
    let mut kl = CompensatedSum::new();
    let mut tilt_terms = Vec::with_capacity(classes.len());
    let mut log_terms = CompensatedSum::new();
    for ((c, &lp), &tl) in classes.iter().zip(log_p).zip(&tilt_logs) {
        let lp = lp - ln_total;
        let shift = lp - c.mass.ln();
        for &i in &c.members {
            logs[i] = base.log_prob(i) + shift;
            probs[i] = logs[i].exp();
        }
        let pc = lp.exp();
        let tc = (tl - log_z).exp();
        if pc > 0.0 {
            kl.add(pc * shift);
            log_terms.add(pc * (shift + log_z));
        }
        let l = lp - (tl - log_z);
        tilt_terms.push(if pc == 0.0 {
            tc
        } else if l.abs() < 0.5 {
            tc * phi_of_log(l)
        } else {
            pc * (shift + log_z) + times_scaled_gap(pc, r_max, c.reward, lambda) - pc + tc
        });
    }
    let policy = Dist::from_parts_unchecked(probs, logs);
    let expected_reward = super::expected_reward(&policy, reward);
    // Where the sum of the phi terms overflows, the KL is huge and has no cancellation to
    // avoid: `sum P l = sum P (log P - log pi0(C) + log Z) + (r* - E)/lambda`.
    let phi_sum = sum_without_overflow(&tilt_terms);
    let kl_to_tilt = if phi_sum.is_finite() {
        phi_sum
    } else {
        log_terms.value() + times_scaled_gap(1.0, r_max, expected_reward, lambda)
    };
    Ok(SoftBestOfN {
        solution: Solution {
            expected_reward,
            policy,
            kl: kl.value().max(0.0),
        },
        n,
        temperature: lambda,
        kl_to_tilt: kl_to_tilt.max(0.0),
        nodes,
    })
}

/// A compensated sum of non-negative terms, from their halves when the plain sum overflows (a
/// KL to a tilt whose mass sits at `r* = f64::MAX` is about `f64::MAX - 700`, in range, while
/// its partial sums may round past it).
fn sum_without_overflow(terms: &[f64]) -> f64 {
    let plain = crate::numeric::sum(terms.iter().copied());
    if plain.is_finite() {
        plain
    } else {
        2.0 * crate::numeric::sum(terms.iter().map(|t| t / 2.0))
    }
}

/// `p (a - b)/lambda` for `p` in `[0, 1]` and `a >= b`, without overflowing the difference or the quotient
/// when the product is in range (`+inf` when it is not).
fn times_scaled_gap(p: f64, a: f64, b: f64, lambda: f64) -> f64 {
    let q = scaled_gap(a, b, lambda);
    if q.is_finite() {
        return p * q;
    }
    let d = a - b;
    if d.is_finite() {
        (p * d) / lambda
    } else {
        2.0 * ((p * (a / 2.0 - b / 2.0)) / lambda)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `phi_of_log`'s series (below `|l| = 0.01`) and its closed form meet where they hand over:
    /// at `|l| = 0.0099` the closed form `l e^l - expm1(l)` cancels to about `200 eps` relative
    /// (terms of `0.01` against a value of `5e-5`), and the series' truncation (`l^7/840`) is
    /// `2e-13` relative; a wrong coefficient of `l^5` would leave `l^3/15 = 6e-8`.
    /// The reported node count: none at `N = 1` (the base, no integral), and at `N = 10^12`
    /// a positive count of the order the module docs state (197 here).
    #[test]
    fn the_node_count_is_reported() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.3, 0.2])?;
        let reward = [0.0, 1.0, 2.0];
        assert_eq!(soft_best_of_n(&base, &reward, 1, 1.0)?.nodes, 0);
        let nodes = soft_best_of_n(&base, &reward, 1_000_000_000_000, 1.0)?.nodes;
        assert!((50..=5000).contains(&nodes), "{nodes}");
        Ok(())
    }

    #[test]
    fn phi_of_log_series_meets_its_closed_form() {
        for l in [-0.0099, -0.005, 0.005, 0.0099] {
            let closed = l * f64::exp(l) - l.exp_m1();
            let series = phi_of_log(l);
            assert!(
                (series - closed).abs() <= 1e-12 * closed,
                "{l}: {series:e} vs {closed:e}"
            );
        }
    }
    use crate::solve::{best_of_n, tilt};

    /// `P_N` by enumerating all `|X|^N` draw tuples (the claim's reference).
    fn enumerate(base: &Dist, reward: &[f64], n: u32, lambda: f64) -> Vec<f64> {
        let inst = crate::claims::strategy::Instance {
            base: base.clone(),
            reward: reward.to_vec(),
        };
        crate::claims::best_of_n_variants::soft_brute_force(&inst, n, lambda)
    }

    fn close(a: &[f64], b: &[f64], rel: f64) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= rel * x.abs().max(y.abs()).max(1e-300))
    }

    #[test]
    fn matches_enumeration_on_small_instances() -> Result<()> {
        let cases: Vec<(Vec<f64>, Vec<f64>, f64)> = vec![
            (vec![0.5, 0.5], vec![0.0, 1.0], 1.0),
            (vec![0.1, 0.2, 0.3, 0.4], vec![0.0, 1.0, 1.0, 2.0], 0.5),
            (vec![0.7, 0.2, 0.1], vec![3.0, -1.0, 0.5], 0.1),
            (vec![0.25, 0.25, 0.25, 0.25], vec![0.0, 1.0, 2.0, 3.0], 10.0),
            (vec![0.999, 0.001], vec![0.0, 5.0], 0.2),
            (vec![0.3, 0.0, 0.7], vec![1.0, 9.0, 0.0], 2.0),
        ];
        for (b, r, lambda) in cases {
            let base = Dist::new(b)?;
            for n in 1..=6u32 {
                let got = soft_best_of_n(&base, &r, u64::from(n), lambda)?;
                let want = enumerate(&base, &r, n, lambda);
                assert!(
                    close(got.solution.policy.probs(), &want, 2e-14),
                    "{r:?} N = {n}: {:?} vs {want:?}",
                    got.solution.policy.probs()
                );
            }
        }
        Ok(())
    }

    #[test]
    fn the_step_is_converged() -> Result<()> {
        let base = Dist::new(vec![0.05, 0.15, 0.3, 0.5])?;
        let r = [2.0, 1.0, 0.5, 0.0];
        for n in [
            2u64,
            10,
            1000,
            1_000_000,
            1_000_000_000_000,
            1_000_000_000_000_000,
        ] {
            for lambda in [0.05, 1.0, 20.0] {
                let a = soft_best_of_n_with_step(&base, &r, n, lambda, STEP)?;
                let b = soft_best_of_n_with_step(&base, &r, n, lambda, STEP / 2.0)?;
                assert!(
                    close(a.solution.policy.probs(), b.solution.policy.probs(), 1e-13),
                    "N = {n}, lambda = {lambda}"
                );
                let mass = crate::numeric::sum(a.solution.policy.probs().iter().copied());
                assert!((mass - 1.0).abs() < 1e-13, "N = {n}: mass {mass}");
            }
        }
        Ok(())
    }

    /// 40-digit references (`mpmath.quad` of the integral, whose four values sum to 1 within
    /// `1e-36`): base `(0.05, 0.15, 0.3, 0.5)`, rewards `(2, 1, 0.5, 0)`, `lambda = 1`.
    #[test]
    fn matches_a_high_precision_reference() -> Result<()> {
        let base = Dist::new(vec![0.05, 0.15, 0.3, 0.5])?;
        let r = [2.0, 1.0, 0.5, 0.0];
        let refs: [(u64, [f64; 4]); 3] = [
            (
                3,
                [
                    0.10398122176177196,
                    0.20914115961438826,
                    0.31431422675356685,
                    0.37256339187027293,
                ],
            ),
            (
                1000,
                [
                    0.20799034905538838,
                    0.2301516899917671,
                    0.27935687332503273,
                    0.2825010876278118,
                ],
            ),
            (
                1_000_000_000_000,
                [
                    0.20851699698165932,
                    0.2301273489736871,
                    0.2791585855820282,
                    0.2821970684626254,
                ],
            ),
        ];
        for (n, want) in refs {
            let got = soft_best_of_n(&base, &r, n, 1.0)?;
            assert!(
                close(got.solution.policy.probs(), &want, 1e-13),
                "N = {n}: {:?}",
                got.solution.policy.probs()
            );
        }
        Ok(())
    }

    #[test]
    fn limits_are_hard_best_of_n_and_the_base() -> Result<()> {
        let base = Dist::new(vec![0.1, 0.2, 0.3, 0.4])?;
        let r = [0.0, 1.0, 1.0, 2.0];
        for n in [1u64, 2, 7, 1000, 1_000_000_000_000] {
            // lambda -> 0: gaps of 1/lambda = 10^4 > 800 + log N, hard selection.
            let soft = soft_best_of_n(&base, &r, n, 1e-4)?;
            let hard = best_of_n(&base, &r, n)?;
            assert!(
                close(
                    soft.solution.policy.probs(),
                    hard.solution.policy.probs(),
                    1e-13
                ),
                "N = {n}"
            );
            // lambda -> inf: |P_N - pi0| <= N (max w/min w - 1) ~ 2N/lambda.
            let lambda = 1e18;
            let flat = soft_best_of_n(&base, &r, n, lambda)?;
            for (p, q) in flat.solution.policy.probs().iter().zip(base.probs()) {
                assert!((p - q).abs() <= 4.0 * n as f64 / lambda + 1e-15, "N = {n}");
            }
        }
        Ok(())
    }

    #[test]
    fn kl_to_tilt_matches_the_divergence_of_the_policies() -> Result<()> {
        let base = Dist::new(vec![0.1, 0.2, 0.3, 0.4])?;
        let r = [0.0, 1.0, 1.0, 2.0];
        for n in [1u64, 3, 64, 4096] {
            let s = soft_best_of_n(&base, &r, n, 0.7)?;
            let t = tilt(&base, &r, 0.7)?;
            let d = crate::divergence::kl(&s.solution.policy, &t.solution.policy)?;
            // Both sums carry rounding of a few eps times their largest terms (`~|P - tilt|`),
            // and the solver's form absorbs the mass defect `|sum P - 1| < 1e-15`.
            assert!(
                (d - s.kl_to_tilt).abs() <= 1e-10 * d + 2e-15,
                "N = {n}: {d} vs {}",
                s.kl_to_tilt
            );
        }
        Ok(())
    }

    /// A tiny class far below the top of its cluster (its mass lives at `t ~ e^{339}`, where
    /// the cluster's total `M^N` changes by `1e-30` of itself): found by the claim's search.
    #[test]
    fn a_tiny_low_class_keeps_relative_accuracy() -> Result<()> {
        let base = Dist::from_weights(vec![
            7.933667584968086e-16,
            0.009900990099009892,
            0.9900990099009892,
        ])?;
        let r = [0.0, -9.45170327667233, 2.4196440779281496];
        let lambda = 0.007141754677335768;
        let got = soft_best_of_n(&base, &r, 2, lambda)?;
        // 50-digit enumeration of the 9 draw pairs.
        let want = [
            1.5710232841521578e-17,
            9.80296049406919e-5,
            0.999901970395059,
        ];
        assert!(
            close(got.solution.policy.probs(), &want, 1e-13),
            "{:?} vs {want:?}",
            got.solution.policy.probs()
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_input() -> Result<()> {
        let base = Dist::new(vec![0.5, 0.5])?;
        assert!(soft_best_of_n(&base, &[0.0, 1.0], 0, 1.0).is_err());
        assert!(soft_best_of_n(&base, &[0.0, 1.0], 2, 0.0).is_err());
        assert!(soft_best_of_n(&base, &[0.0, 1.0], 2, f64::NAN).is_err());
        assert!(soft_best_of_n(&base, &[0.0], 2, 1.0).is_err());
        assert!(soft_best_of_n(&base, &[0.0, f64::INFINITY], 2, 1.0).is_err());
        Ok(())
    }
}
