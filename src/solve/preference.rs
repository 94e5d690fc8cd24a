//! Preference learning on a finite space: Bradley-Terry preferences, the population DPO and IPO
//! losses, and their minimizers (claims `pref.dpo-optimum`, `pref.dpo-deterministic`,
//! `pref.ipo`, `pref.dpo-minimizer`).
//!
//! # Setting
//!
//! A full-support reference `pi0` on `{0, .., n-1}`, pair weights `w(x, y) = w(y, x) >= 0`
//! (`x != y`; the probability that the unordered pair `{x, y}` is shown, up to normalization),
//! and preferences `P(x, y) = P(x > y)` with `P(x, y) + P(y, x) = 1` on every shown pair. A
//! policy is written through its log density ratio `h = log(pi/pi0)`, defined up to an additive
//! constant (both losses depend on `h` only through differences `h(x) - h(y)`).
//!
//! ```text
//! L_DPO(h) = sum_{x<y} w(x,y) [ P(x,y) s(-beta D) + P(y,x) s(beta D) ],  D = h(x) - h(y),
//! L_IPO(h) = sum_{x<y} w(x,y) [ P(x,y) (D - c)^2 + P(y,x) (-D - c)^2 ],    c = 1/(2 tau),
//! ```
//!
//! with `s(u) = log(1 + e^u)` (so `s(-beta D) = -log sigmoid(beta D)`).

use crate::dist::Dist;
use crate::error::{require_finite, require_positive, Error, Result};
use crate::numeric::CompensatedSum;
use nalgebra::{DMatrix, DVector};

/// Tolerance on `P(x,y) + P(y,x) = 1`: preference matrices built in floating point (for
/// example `sigmoid(r_x - r_y)` and `sigmoid(r_y - r_x)`) satisfy it to a few ulps.
const COMPLEMENT_TOLERANCE: f64 = 1e-12;

/// `log(1 + e^u)` without overflow or loss of accuracy for large `|u|`.
pub fn softplus(u: f64) -> f64 {
    if u > 0.0 {
        u + (-u).exp().ln_1p()
    } else {
        u.exp().ln_1p()
    }
}

/// The logistic function `1/(1 + e^{-u})`, accurate in both tails.
pub fn sigmoid(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

/// Pair weights and preferences on `n` outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparisons {
    weight: DMatrix<f64>,
    prefs: DMatrix<f64>,
}

impl Comparisons {
    /// Validates and stores `w` (symmetric, non-negative, finite; the diagonal is ignored) and
    /// `P` (entries in `[0, 1]`, `P(x,y) + P(y,x) = 1` within `1e-12` wherever `w(x,y) > 0`).
    pub(crate) fn new(weight: DMatrix<f64>, prefs: DMatrix<f64>) -> Result<Self> {
        let n = weight.nrows();
        if n == 0 {
            return Err(Error::Empty {
                what: "pair weights",
            });
        }
        if weight.ncols() != n || prefs.nrows() != n || prefs.ncols() != n {
            return Err(Error::InvalidInput(format!(
                "pair weights ({}x{}) and preferences ({}x{}) must be square of one size",
                weight.nrows(),
                weight.ncols(),
                prefs.nrows(),
                prefs.ncols()
            )));
        }
        require_finite("pair weights", weight.as_slice())?;
        require_finite("preferences", prefs.as_slice())?;
        for x in 0..n {
            for y in 0..n {
                let (w, p) = (weight[(x, y)], prefs[(x, y)]);
                if x == y {
                    continue;
                }
                if w < 0.0 || w != weight[(y, x)] {
                    return Err(Error::InvalidInput(format!(
                        "pair weights must be symmetric and >= 0 (w({x},{y}) = {w})"
                    )));
                }
                if !(0.0..=1.0).contains(&p)
                    || (w > 0.0 && (p + prefs[(y, x)] - 1.0).abs() > COMPLEMENT_TOLERANCE)
                {
                    return Err(Error::InvalidInput(format!(
                        "preferences must lie in [0, 1] with P(x,y) + P(y,x) = 1 (at {x},{y})"
                    )));
                }
            }
        }
        Ok(Self { weight, prefs })
    }

    /// Comparisons from `n x n` matrices given row-major (`weight[x * n + y]` is `w(x, y)`):
    /// `w` symmetric, non-negative, finite (the diagonal is ignored), `P` with entries in
    /// `[0, 1]` and `P(x,y) + P(y,x) = 1` within `1e-12` wherever `w(x,y) > 0`. A length other than `n^2` is
    /// [`Error::LengthMismatch`].
    pub fn from_row_major(n: usize, weight: &[f64], prefs: &[f64]) -> Result<Self> {
        Self::new(
            square_row_major("pair weights", n, weight)?,
            square_row_major("preferences", n, prefs)?,
        )
    }

    /// Bradley-Terry preferences `P(x,y) = sigmoid(r(x) - r(y))` on the pairs of `weight`, an
    /// `n x n` row-major matrix (`n = reward.len()`).
    pub fn bradley_terry_row_major(reward: &[f64], weight: &[f64]) -> Result<Self> {
        Self::bradley_terry(
            reward,
            square_row_major("pair weights", reward.len(), weight)?,
        )
    }

    /// Bradley-Terry preferences `P(x,y) = sigmoid(r(x) - r(y))` on the pairs of `weight`.
    pub(crate) fn bradley_terry(reward: &[f64], weight: DMatrix<f64>) -> Result<Self> {
        require_finite("reward", reward)?;
        let n = reward.len();
        let prefs = DMatrix::from_fn(n, n, |x, y| sigmoid(reward[x] - reward[y]));
        Self::new(weight, prefs)
    }

    /// The pair weights of independent draws `x, y ~ mu` (`w(x,y) = mu(x) mu(y)`, `x != y`).
    pub(crate) fn product_weights(mu: &Dist) -> DMatrix<f64> {
        let n = mu.len();
        DMatrix::from_fn(
            n,
            n,
            |x, y| {
                if x == y {
                    0.0
                } else {
                    mu.prob(x) * mu.prob(y)
                }
            },
        )
    }

    /// The pair weights of independent draws `x, y ~ mu` (`w(x,y) = mu(x) mu(y)`, `x != y`),
    /// row-major.
    pub fn product_weights_row_major(mu: &Dist) -> Vec<f64> {
        Self::product_weights(mu).transpose().as_slice().to_vec()
    }

    /// Number of outcomes.
    pub fn len(&self) -> usize {
        self.weight.nrows()
    }

    /// Always false (at least one outcome).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `w(x, y)`.
    pub fn weight(&self, x: usize, y: usize) -> f64 {
        if x == y {
            0.0
        } else {
            self.weight[(x, y)]
        }
    }

    /// `P(x > y)`.
    pub fn pref(&self, x: usize, y: usize) -> f64 {
        self.prefs[(x, y)]
    }

    /// The shown pairs `x < y` with their weight and `P(x > y)`.
    fn pairs(&self) -> impl Iterator<Item = (usize, usize, f64, f64)> + '_ {
        let n = self.len();
        (0..n).flat_map(move |x| {
            (x + 1..n).filter_map(move |y| {
                let w = self.weight(x, y);
                (w > 0.0).then(|| (x, y, w, self.pref(x, y)))
            })
        })
    }

    /// `sum_{x<y} w(x,y)`, the scale of both losses' gradients.
    pub fn total_weight(&self) -> f64 {
        self.pairs().map(|(_, _, w, _)| w).sum()
    }

    fn check_len(&self, h: &[f64]) -> Result<()> {
        crate::error::require_same_len("pairs", self.len(), "log-ratio", h.len())
    }
}

/// `L_DPO(h)` (module docs); `h = log(pi/pi0)`.
pub fn dpo_loss(c: &Comparisons, beta: f64, h: &[f64]) -> Result<f64> {
    c.check_len(h)?;
    let s: CompensatedSum = c
        .pairs()
        .map(|(x, y, w, p)| {
            let u = beta * (h[x] - h[y]);
            w * (p * softplus(-u) + (1.0 - p) * softplus(u))
        })
        .collect();
    Ok(s.value())
}

/// `dL_DPO/dh(x) = beta sum_y w(x,y) (sigmoid(beta (h(x) - h(y))) - P(x,y))`.
pub fn dpo_gradient(c: &Comparisons, beta: f64, h: &[f64]) -> Result<Vec<f64>> {
    c.check_len(h)?;
    let mut g = vec![0.0; c.len()];
    for (x, y, w, p) in c.pairs() {
        let term = beta * w * (sigmoid(beta * (h[x] - h[y])) - p);
        g[x] += term;
        g[y] -= term;
    }
    Ok(g)
}

/// `L_IPO(h)` (module docs) with `c = 1/(2 tau)`.
pub fn ipo_loss(c: &Comparisons, tau: f64, h: &[f64]) -> Result<f64> {
    c.check_len(h)?;
    let m = 0.5 / tau;
    let s: CompensatedSum = c
        .pairs()
        .map(|(x, y, w, p)| {
            let d = h[x] - h[y];
            w * (p * (d - m).powi(2) + (1.0 - p) * (d + m).powi(2))
        })
        .collect();
    Ok(s.value())
}

/// `dL_IPO/dh(x) = 2 sum_y w(x,y) (h(x) - h(y) - (2 P(x,y) - 1)/(2 tau))`.
pub fn ipo_gradient(c: &Comparisons, tau: f64, h: &[f64]) -> Result<Vec<f64>> {
    c.check_len(h)?;
    let m = 0.5 / tau;
    let mut g = vec![0.0; c.len()];
    for (x, y, w, p) in c.pairs() {
        let term = 2.0 * w * (h[x] - h[y] - m * (2.0 * p - 1.0));
        g[x] += term;
        g[y] -= term;
    }
    Ok(g)
}

/// `h = log(pi/pi0)` of a policy, for a full-support `pi0` (`-inf` where `pi` vanishes).
pub fn log_ratio(policy: &Dist, base: &Dist) -> Result<Vec<f64>> {
    crate::error::require_same_len("policy", policy.len(), "base", base.len())?;
    Ok((0..base.len())
        .map(|i| policy.log_prob(i) - base.log_prob(i))
        .collect())
}

/// A minimizer of a population preference loss, with its certificate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PreferenceOptimum {
    /// `pi = pi0 e^h / Z`.
    pub policy: Dist,
    /// `h = log(pi/pi0)`, normalized so that `h(0) = 0`.
    pub log_ratio: Vec<f64>,
    /// The loss at `h`.
    pub loss: f64,
    /// Certificate: `max_x |dL/dh(x)|` at the returned point. For these convex losses a zero
    /// gradient characterizes the minimizers.
    pub gradient_norm: f64,
    /// Newton iterations used (0 for a direct linear solve).
    pub iterations: usize,
}

fn require_full_support(base: &Dist, c: &Comparisons) -> Result<()> {
    crate::error::require_same_len("base", base.len(), "pairs", c.len())?;
    if base.support().count() != base.len() {
        return Err(Error::InvalidInput(
            "preference losses need a full-support reference policy".into(),
        ));
    }
    Ok(())
}

fn sup_norm(g: &[f64]) -> f64 {
    g.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Solves `H[1..,1..] delta = -g[1..]` (the gauge `h(0)` fixed) by Cholesky; `None` when the
/// reduced matrix is not positive definite (the comparison graph is disconnected, or curvature
/// underflowed).
fn reduced_newton_step(hess: &DMatrix<f64>, g: &[f64]) -> Option<Vec<f64>> {
    let n = g.len();
    let reduced = hess.view((1, 1), (n - 1, n - 1)).into_owned();
    let rhs = DVector::from_iterator(n - 1, g[1..].iter().map(|v| -v));
    let chol = reduced.cholesky()?;
    let step = chol.solve(&rhs);
    let mut out = vec![0.0; n];
    out[1..].copy_from_slice(step.as_slice());
    Some(out)
}

fn optimum(
    base: &Dist,
    h: Vec<f64>,
    loss: f64,
    grad: &[f64],
    iterations: usize,
) -> Result<PreferenceOptimum> {
    let logs: Vec<f64> = (0..base.len()).map(|i| base.log_prob(i) + h[i]).collect();
    Ok(PreferenceOptimum {
        policy: Dist::from_log_weights(&logs)?,
        log_ratio: h,
        loss,
        gradient_norm: sup_norm(grad),
        iterations,
    })
}

/// The minimizer of the population IPO loss: the normal equations `L h = b` of the weighted
/// least-squares problem, `L` the weighted graph Laplacian and
/// `b(x) = sum_y w(x,y) (2 P(x,y) - 1)/(2 tau)`, solved by Cholesky with `h(0) = 0` (claim
/// `pref.ipo`). The minimizer exists for every preference matrix, deterministic ones included,
/// and is unique up to the gauge when the comparison graph is connected.
///
/// Errors: `tau <= 0`, a base without full support, a disconnected comparison graph.
pub fn ipo_minimizer(base: &Dist, c: &Comparisons, tau: f64) -> Result<PreferenceOptimum> {
    require_positive("tau", tau)?;
    require_full_support(base, c)?;
    let n = c.len();
    let zero = vec![0.0; n];
    if n == 1 {
        return optimum(base, zero.clone(), 0.0, &zero, 0);
    }
    let mut lap = DMatrix::zeros(n, n);
    for (x, y, w, _) in c.pairs() {
        lap[(x, x)] += 2.0 * w;
        lap[(y, y)] += 2.0 * w;
        lap[(x, y)] -= 2.0 * w;
        lap[(y, x)] -= 2.0 * w;
    }
    // The gradient at h = 0 is -b (times 2): one Newton step of the quadratic is exact.
    let g0 = ipo_gradient(c, tau, &zero)?;
    let h = reduced_newton_step(&lap, &g0).ok_or_else(|| {
        Error::InvalidInput("the comparison graph is not connected: no unique minimizer".into())
    })?;
    let g = ipo_gradient(c, tau, &h)?;
    let loss = ipo_loss(c, tau, &h)?;
    optimum(base, h, loss, &g, 0)
}

/// Azar et al.'s closed form of the IPO optimum for pairs drawn independently from `mu`:
/// `pi(x) = pi0(x) exp(p(x > mu)/tau) / Z` with `p(x > mu) = sum_y mu(y) P(x, y)` and the
/// convention `P(x, x) = 1/2`.
// Used by the claim registry only.
#[cfg_attr(not(feature = "claims"), allow(dead_code))]
pub(crate) fn ipo_closed_form(
    base: &Dist,
    mu: &Dist,
    prefs: &DMatrix<f64>,
    tau: f64,
) -> Result<Dist> {
    require_positive("tau", tau)?;
    let n = base.len();
    crate::error::require_same_len("base", n, "mu", mu.len())?;
    let logs: Vec<f64> = (0..n)
        .map(|x| {
            let win: f64 = (0..n)
                .map(|y| mu.prob(y) * if x == y { 0.5 } else { prefs[(x, y)] })
                .sum();
            base.log_prob(x) + win / tau
        })
        .collect();
    Dist::from_log_weights(&logs)
}

/// Labels of the connected components of the graph on `0..n` with the given edges.
fn components(n: usize, edges: impl Iterator<Item = (usize, usize)>) -> Vec<usize> {
    let mut label: Vec<usize> = (0..n).collect();
    fn root(label: &mut [usize], mut x: usize) -> usize {
        while label[x] != x {
            label[x] = label[label[x]];
            x = label[x];
        }
        x
    }
    for (x, y) in edges {
        let (a, b) = (root(&mut label, x), root(&mut label, y));
        label[a] = b;
    }
    (0..n).map(|x| root(&mut label, x)).collect()
}

/// Whether every vertex in `targets` is reachable from `start` along directed `edges`
/// (vertices are labels in `0..n`).
fn all_reachable(n: usize, start: usize, targets: &[usize], edges: &[(usize, usize)]) -> bool {
    let mut seen = vec![false; n];
    let mut stack = vec![start];
    seen[start] = true;
    while let Some(x) = stack.pop() {
        for &(a, b) in edges {
            if a == x && !seen[b] {
                seen[b] = true;
                stack.push(b);
            }
        }
    }
    targets.iter().all(|&t| seen[t])
}

/// Whether the population DPO loss attains its infimum, for a connected comparison graph.
///
/// Characterization (proved in `proofs/pref.dpo-minimizer.md`): a minimizer exists iff no
/// non-constant direction `v` has `v(x) = v(y)` on every shown pair with `0 < P(x,y) < 1` and
/// `v(x) >= v(y)` whenever `x` beats `y` deterministically. Equivalently: contract the pairs with
/// non-deterministic preferences; the digraph "loser -> winner" of the deterministic pairs on the
/// contracted vertices must be strongly connected. Errors when the comparison graph is not
/// connected.
pub fn dpo_has_minimizer(c: &Comparisons) -> Result<bool> {
    let n = c.len();
    let all = components(n, c.pairs().map(|(x, y, _, _)| (x, y)));
    if all.iter().any(|&l| l != all[0]) {
        return Err(Error::InvalidInput(
            "the comparison graph is not connected: no unique minimizer".into(),
        ));
    }
    let soft = components(
        n,
        c.pairs()
            .filter(|&(_, _, _, p)| p > 0.0 && p < 1.0)
            .map(|(x, y, _, _)| (x, y)),
    );
    // Directed edges between contracted vertices, loser -> winner.
    let mut forward = Vec::new();
    for (x, y, _, p) in c.pairs() {
        if p == 1.0 {
            forward.push((soft[y], soft[x]));
        } else if p == 0.0 {
            forward.push((soft[x], soft[y]));
        }
    }
    // Contracted vertices are labelled by their representatives (labels in 0..n).
    let mut reps = soft.clone();
    reps.sort_unstable();
    reps.dedup();
    let back: Vec<(usize, usize)> = forward.iter().map(|&(a, b)| (b, a)).collect();
    Ok(all_reachable(n, soft[0], &reps, &forward) && all_reachable(n, soft[0], &reps, &back))
}

/// Stopping rule of [`dpo_minimizer`]: `max |grad| <= DPO_GRADIENT_TOLERANCE * beta * W` with
/// `W` the total pair weight (the gradient is a sum of terms `beta w (sigmoid - P)` of size at
/// most `beta w`, so this is a relative bound of about 50 ulps).
pub const DPO_GRADIENT_TOLERANCE: f64 = 1e-14;

/// Minimizes the population DPO loss: [`dpo_has_minimizer`] decides whether a minimizer
/// exists, then [`dpo_descent`] finds it.
///
/// For Bradley-Terry preferences the minimizer is known in closed form (the tilt, claim
/// `pref.dpo-optimum`); this solver is the independent check. When a minimizer does not exist
/// (claim `pref.dpo-minimizer`) the result is [`Error::Infeasible`].
pub fn dpo_minimizer(base: &Dist, c: &Comparisons, beta: f64) -> Result<PreferenceOptimum> {
    require_positive("beta", beta)?;
    require_full_support(base, c)?;
    if !dpo_has_minimizer(c)? {
        return Err(Error::Infeasible(
            "the population DPO loss has no minimizer: the comparison graph is not strongly \
             connected, so a set of outputs that never loses to the rest can be pushed up \
             forever while the loss keeps decreasing"
                .into(),
        ));
    }
    dpo_descent(base, c, beta)
}

/// The reduced Hessian's Newton step `-H^{-1} g` of the DPO loss at `h` (the gauge `h(0)` fixed),
/// `H = beta^2 sum_{x<y} w sigma' (e_x - e_y)(e_x - e_y)^T`; `None` when the reduced Hessian is
/// not positive definite in floating point.
pub fn dpo_newton_step(c: &Comparisons, beta: f64, h: &[f64]) -> Result<Option<Vec<f64>>> {
    let g = dpo_gradient(c, beta, h)?;
    let n = c.len();
    if n == 1 {
        return Ok(Some(vec![0.0]));
    }
    let mut hess = DMatrix::zeros(n, n);
    for (x, y, w, _) in c.pairs() {
        let s = sigmoid(beta * (h[x] - h[y]));
        let k = beta * beta * w * s * (1.0 - s);
        hess[(x, x)] += k;
        hess[(y, y)] += k;
        hess[(x, y)] -= k;
        hess[(y, x)] -= k;
    }
    Ok(reduced_newton_step(&hess, &g))
}

/// Damped Newton's method on the population DPO loss from `h = 0` (the gauge `h(0)` fixed,
/// Armijo backtracking), for any preference matrix, **without** deciding first whether a
/// minimizer exists. The loss is convex in `h`; the returned point carries its gradient norm.
///
/// Stops when `max |grad| <= DPO_GRADIENT_TOLERANCE * beta * W` or when no decrease is
/// representable. Where no minimizer exists the gradient still falls below the tolerance
/// (the escaping log-ratio difference grows by about `1/beta` per step until its terms are
/// below rounding), so a small gradient here is not evidence of a minimizer: the Newton step
/// at the returned point ([`dpo_newton_step`]) is, being about `1/beta` along the escape
/// direction and vanishing at a minimizer.
pub fn dpo_descent(base: &Dist, c: &Comparisons, beta: f64) -> Result<PreferenceOptimum> {
    require_positive("beta", beta)?;
    require_full_support(base, c)?;
    let n = c.len();
    let mut h = vec![0.0; n];
    let goal = DPO_GRADIENT_TOLERANCE * beta * c.total_weight();
    let mut loss = dpo_loss(c, beta, &h)?;
    for iter in 0..200 {
        let g = dpo_gradient(c, beta, &h)?;
        if sup_norm(&g) <= goal || n == 1 {
            return optimum(base, h, loss, &g, iter);
        }
        // Fall back to a scaled gradient step where the curvature is lost in rounding.
        let step = dpo_newton_step(c, beta, &h)?.unwrap_or_else(|| {
            let mut s: Vec<f64> = g.iter().map(|v| -v / (beta * beta)).collect();
            s[0] = 0.0;
            s
        });
        let slope: f64 = g.iter().zip(&step).map(|(a, b)| a * b).sum();
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            let trial: Vec<f64> = h.iter().zip(&step).map(|(a, b)| a + t * b).collect();
            let l = dpo_loss(c, beta, &trial)?;
            // Armijo, or (near the minimum, where loss changes fall below its rounding) a
            // halving of the gradient norm with the loss unchanged to rounding.
            if l <= loss + 1e-4 * t * slope
                || (l <= loss + 1e-13 * (1.0 + loss)
                    && sup_norm(&dpo_gradient(c, beta, &trial)?) < 0.5 * sup_norm(&g))
            {
                h = trial;
                loss = l;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            // No decrease is representable: the gradient is at rounding level.
            return optimum(base, h, loss, &g, iter);
        }
    }
    Err(Error::NoConvergence(
        "DPO Newton iterations did not reach the gradient tolerance".into(),
    ))
}

/// The outcomes that appear in some shown pair (`w(x, y) > 0` for some `y`).
pub fn seen_outcomes(c: &Comparisons) -> Vec<bool> {
    let mut seen = vec![false; c.len()];
    for (x, y, _, _) in c.pairs() {
        seen[x] = true;
        seen[y] = true;
    }
    seen
}

/// The member with unseen mass `unseen_mass` of the family of population DPO minimizers when
/// some outcomes appear in no shown pair (claim `pref.dpo-unseen`).
///
/// The loss depends on `h = log(pi/pi0)` only through `h(x) - h(y)` on shown pairs, so an
/// outcome `u` in no pair never enters it: with `S` the seen outcomes and `U` the rest, the
/// minimizers are exactly the policies whose restriction to `S`, renormalized, is the minimizer
/// of the loss on `S` (reference `pi0(. | S)`), with any split of the remaining mass over `U`.
/// This returns the member with `pi(U) = m` split over `U` in proportion to `pi0` (for `m = 0`
/// the unseen outcomes get mass 0, a minimizer of the loss, which never looks at them, though
/// outside the full-support policies). `log_ratio` is `log(pi/pi0)` (not gauge-fixed; `-inf`
/// on `U` when `m = 0`) and `loss`, `gradient_norm` those of the seen part.
///
/// Errors: `m` outside `[0, 1)` (mass 1 on `U` leaves no policy on `S`, whose log-ratios the
/// loss needs), `m > 0` with every outcome seen (the minimizer is then unique, see
/// [`dpo_minimizer`]), no shown pair, a base without full support, and the errors of
/// [`dpo_minimizer`] on the seen part (no minimizer, seen outcomes not connected).
pub fn dpo_minimizer_with_unseen(
    base: &Dist,
    c: &Comparisons,
    beta: f64,
    unseen_mass: f64,
) -> Result<PreferenceOptimum> {
    require_positive("beta", beta)?;
    require_full_support(base, c)?;
    if !(0.0..1.0).contains(&unseen_mass) {
        return Err(Error::InvalidParameter {
            name: "unseen_mass",
            value: unseen_mass,
            requirement: "in [0, 1)",
        });
    }
    let seen = seen_outcomes(c);
    let s: Vec<usize> = (0..c.len()).filter(|&x| seen[x]).collect();
    if s.is_empty() {
        return Err(Error::Empty {
            what: "shown pairs",
        });
    }
    if s.len() == c.len() && unseen_mass > 0.0 {
        return Err(Error::InvalidParameter {
            name: "unseen_mass",
            value: unseen_mass,
            requirement: "0 when every outcome appears in a shown pair",
        });
    }
    let k = s.len();
    let sub = Comparisons::new(
        DMatrix::from_fn(k, k, |i, j| c.weight(s[i], s[j])),
        DMatrix::from_fn(k, k, |i, j| c.pref(s[i], s[j])),
    )?;
    let sub_base =
        Dist::from_log_weights(&s.iter().map(|&x| base.log_prob(x)).collect::<Vec<_>>())?;
    let part = dpo_minimizer(&sub_base, &sub, beta)?;
    let log_seen = (-unseen_mass).ln_1p();
    let log_unseen = unseen_mass.ln() + base.neg_log_mass_where(|x| !seen[x]);
    let mut logs = vec![0.0; c.len()];
    let mut next = 0;
    for (x, l) in logs.iter_mut().enumerate() {
        *l = if seen[x] {
            next += 1;
            log_seen + part.policy.log_prob(next - 1)
        } else {
            log_unseen + base.log_prob(x)
        };
    }
    let policy = Dist::from_log_weights(&logs)?;
    let log_ratio = (0..c.len())
        .map(|x| policy.log_prob(x) - base.log_prob(x))
        .collect();
    Ok(PreferenceOptimum {
        policy,
        log_ratio,
        loss: part.loss,
        gradient_norm: part.gradient_norm,
        iterations: part.iterations,
    })
}

/// The `n x n` matrix whose row-major entries are `entries` (exactly `n^2` of them).
fn square_row_major(what: &'static str, n: usize, entries: &[f64]) -> Result<DMatrix<f64>> {
    let len = n
        .checked_mul(n)
        .ok_or_else(|| Error::InvalidInput(format!("{n}^2 overflows")))?;
    crate::error::require_same_len(what, entries.len(), "n^2 for n outcomes", len)?;
    Ok(DMatrix::from_row_slice(n, n, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipo_on_two_outcomes_prefers_the_first_by_sigmoid_of_one_over_two_tau() -> Result<()> {
        // Always prefer outcome 0: h0 - h1 = 1/(2 tau), pi(0) = sigmoid(1/(2 tau)) (uniform pi0).
        let base = Dist::uniform(2)?;
        let w = DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0]);
        let p = DMatrix::from_row_slice(2, 2, &[0.5, 1.0, 0.0, 0.5]);
        let c = Comparisons::new(w, p)?;
        let tau = 0.3;
        let opt = ipo_minimizer(&base, &c, tau)?;
        let want = sigmoid(0.5 / tau);
        assert!((opt.policy.prob(0) - want).abs() < 4.0 * f64::EPSILON);
        assert!(dpo_minimizer(&base, &c, 1.0).is_err());
        Ok(())
    }

    /// `w(x, y) = mu(x) mu(y)` off the diagonal and 0 on it, row `x` after row `x - 1` (the
    /// Python package's `Comparisons.product_weights` reads it so).
    #[test]
    fn product_weights_row_major_holds_mu_x_mu_y_off_the_diagonal() -> Result<()> {
        let mu = Dist::new(vec![0.2, 0.3, 0.5])?;
        let w = Comparisons::product_weights_row_major(&mu);
        assert_eq!(w.len(), 9);
        for x in 0..3 {
            for y in 0..3 {
                let want = if x == y { 0.0 } else { mu.prob(x) * mu.prob(y) };
                assert_eq!(w[3 * x + y].to_bits(), want.to_bits(), "({x}, {y})");
            }
        }
        Ok(())
    }
}
