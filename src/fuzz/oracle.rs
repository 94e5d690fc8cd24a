//! The oracle: invariants every answer of `solve` must satisfy, recomputed from the answer and
//! the problem without the solver code (only [`Dist`] for the validated base and
//! [`crate::divergence::kl`] for the KL of the returned policy).
//!
//! # Tolerances
//!
//! `u = 32 eps` bounds the relative error of each returned probability (the solvers form each
//! entry with a handful of roundings: an `exp`, a product, a division). From it:
//!
//! - mass: `|sum pi - 1| <= u + n eps` (the entries' errors plus a naive sum of `n` terms);
//! - expected reward: `|E - sum pi r| <= (u + n eps) sum pi |r|`;
//! - KL: perturbing each entry by a relative `eps_i` and renormalizing moves `KL(pi||pi0)` by
//!   `sum pi eps_i (log(pi/pi0) - KL) + O(u^2)`. A tilt forms `pi(i)` from `e^{v_i}`,
//!   `v_i = (r(i) - r(m))/beta` against the outcome `m` of largest mass, whose rounding (3 eps
//!   relative) is `3 eps |v_i|` relative in `pi(i)`; with `d = log(pi/pi0)`,
//!   `v_i = d_i - d_m` by the Gibbs form. So `|eps_i| <= u_i = u + 4 eps |d_i - d_m|` (a mass
//!   that is not a tilt's is only judged more loosely by it), and
//!   `|KL - KL(pi||pi0)| <= sum pi u_i |d_i - KL| + u^2 + eps sum pi |d_i|` (the
//!   last term: the compensated sum of the recomputation), plus `n 2^-1074 (|log ratio| + 1)`
//!   for subnormal entries, whose relative error is not bounded by `u`, `16 eps KL` for the
//!   solver's own rounding, and `(n + 1) eps (1 + KL)` for the renormalization of the rounded
//!   policy and base (their sums are 1 only to a few eps);
//! - Gibbs form of a tilt at `beta`: with `j` the outcome of largest `pi`, `log pi(i)` must equal
//!   `log pi(j) + log pi0(i) - log pi0(j) + (r(i) - r(j))/beta` to within
//!   `4 u + 8 eps (|log pi0(i)| + |log pi0(j)| + |(r(i) - r(j))/beta|)` (logs of rounded
//!   numbers, and the rounded quotient), wherever that predicted value is above `-700`
//!   (normal numbers with margin); where it is below `-750` the entry must be below the
//!   smallest normal number;
//! - near-base tilt (`s = spread/beta <= 1e-4`): `KL = Var_pi0(r/beta)/2 (1 + c)` with
//!   `|c| <= (2/3) s + s^2` (the cumulant series `KL = k2/(2 beta^2) + k3/(3 beta^3) + ...`,
//!   `|k3| <= spread k2`), plus `1e-12` relative for the solver's rounding, `16 eps
//!   sqrt(1 + 1/p_m)` for the oracle's (the variance taken about the reward of the outcome `m` of
//!   largest mass), and an absolute
//!   `1e-305` below which doubles lose relative precision;
//! - a constraint (budget, target) met to `1e-12` relative (the solvers iterate to ~`1e-15`).

use crate::dist::Dist;
use crate::numeric::{CompensatedSum, Scaled};
use serde_json::Value;

/// `u`: the relative accuracy assumed of each returned probability.
const U: f64 = 32.0 * f64::EPSILON;
/// Relative accuracy required of a met constraint.
const CONSTRAINT: f64 = 1e-12;
/// The longest error message accepted (an echo of a huge input must be truncated).
pub const MAX_MESSAGE: usize = 4096;

/// The error kinds of [`crate::Error::kind`].
const KINDS: [&str; 10] = [
    "empty",
    "length_mismatch",
    "non_finite",
    "negative_probability",
    "not_normalized",
    "invalid_parameter",
    "infeasible",
    "no_convergence",
    "invalid_input",
    "not_unique",
];

/// One broken invariant.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Which invariant.
    pub check: &'static str,
    /// The numbers behind it.
    pub detail: String,
}

/// What an answer was.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A solution object.
    Solved,
    /// A typed error, with its kind.
    Refused(String),
}

/// The findings of one case: collected, not stopped at the first.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    fn fail(&mut self, check: &'static str, detail: String) {
        self.0.push(Finding { check, detail });
    }

    /// Records `check` unless `ok` (write `ok` so that NaN makes it false).
    fn require(&mut self, ok: bool, check: &'static str, detail: impl FnOnce() -> String) {
        if !ok {
            self.fail(check, detail());
        }
    }
}

/// The keys of a solution that may be `null` (a quantity beyond the `f64` range, or one that
/// does not exist), by solver, as documented in [`crate::api`].
fn nullable(solver: &str, key: &str) -> bool {
    matches!(
        (solver, key),
        ("tilt", "log_partition")
            | ("kl_budget" | "reward_target" | "winrate_optimal", "beta")
            | ("maxent", "value")
            | ("forward_kl", "lambda")
            | ("soft_best_of_n", "kl_to_tilt")
            | ("kl_gradient", "reverse_kl_gradient")
            | (_, "log_policy")
    )
}

/// Solvers that must not answer `no_convergence` on a well-formed problem.
fn must_converge(solver: &str) -> bool {
    matches!(
        solver,
        "tilt" | "kl_budget" | "reward_target" | "condition" | "maxent" | "quantilizer"
    )
}

/// Checks an answer to a problem (`None`: the input was malformed and must be refused).
pub fn check(problem: Option<&Value>, answer: &Value) -> (Verdict, Findings) {
    let mut f = Findings::default();
    if let Some(err) = answer.get("error") {
        let kind = err.get("kind").and_then(Value::as_str).unwrap_or("");
        let message = err.get("message").and_then(Value::as_str);
        f.require(KINDS.contains(&kind), "error kind", || format!("{err}"));
        f.require(
            message.is_some_and(|m| m.len() <= MAX_MESSAGE),
            "error message",
            || format!("length {:?}", message.map(str::len)),
        );
        if let Some(p) = problem {
            let solver = p["solver"].as_str().unwrap_or("");
            f.require(
                !(kind == "no_convergence" && must_converge(solver)),
                "valid problem refused with no_convergence",
                || format!("{err}"),
            );
        }
        return (Verdict::Refused(kind.to_string()), f);
    }
    let Some(p) = problem else {
        f.fail("malformed input accepted", truncate(&answer.to_string()));
        return (Verdict::Solved, f);
    };
    solution(p, answer, &mut f);
    (Verdict::Solved, f)
}

fn truncate(s: &str) -> String {
    s.chars().take(300).collect()
}

/// A vector of numbers from JSON (`None` if any entry is not a number).
fn numbers(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(Value::as_f64).collect()
}

/// No `null` outside the documented keys, no `-0.0` in a policy.
fn shape(solver: &str, answer: &Value, f: &mut Findings) {
    let Some(obj) = answer.as_object() else {
        f.fail("answer is an object", truncate(&answer.to_string()));
        return;
    };
    for (key, v) in obj {
        let nulls = match v {
            Value::Null => 1,
            Value::Array(a) => a.iter().filter(|x| x.is_null()).count(),
            _ => 0,
        };
        f.require(
            nulls == 0 || nullable(solver, key),
            "undocumented null",
            || format!("{key} in {solver}"),
        );
    }
    if let Some(pi) = obj.get("policy").and_then(numbers) {
        f.require(
            pi.iter().all(|x| !(x.is_sign_negative())),
            "negative zero or negative probability",
            || format!("{:?}", &pi[..pi.len().min(8)]),
        );
    }
}

/// The base of a problem (`uniform` for `maxent`; the softmax of `base_logits`, `null` for
/// `-inf`, when given so), if it has one.
fn base_of(p: &Value) -> Option<Dist> {
    if p["solver"] == "maxent" {
        return Dist::uniform(numbers(&p["reward"])?.len()).ok();
    }
    if let Some(logits) = p["base_logits"].as_array() {
        let w: Vec<f64> = logits
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NEG_INFINITY))
            .collect();
        return Dist::from_logits(&w).ok();
    }
    Dist::new(numbers(&p["base"])?).ok()
}

/// How far `log_policy` may be from `ln policy` where the policy is a normal double: the two
/// are formed by different roundings (the mass through an `exp` or a division, its logarithm
/// as a sum of logarithms), so they agree to a few ulps of the largest term, which the oracle
/// does not see; `1e-9` absolute is far above that for every input the generator makes, and a
/// log-policy of another solution (or of a shifted multiplier) is off by far more.
const LOG_POLICY_TOLERANCE: f64 = 1e-9;

/// With `"output": "log_policy"`: one entry per outcome, `null` exactly where the mass is zero
/// and the rest of it is `ln policy` (to [`LOG_POLICY_TOLERANCE`] where the mass is normal,
/// below the logarithm of the smallest normal double where it is subnormal, below `-744`, the
/// logarithm of half the smallest subnormal, where it underflows to 0).
fn log_policy(p: &Value, answer: &Value, pi: &[f64], f: &mut Findings) {
    if p["output"] != "log_policy" {
        return;
    }
    let Some(logs) = answer["log_policy"].as_array() else {
        f.fail("log_policy reported", truncate(&answer.to_string()));
        return;
    };
    f.require(logs.len() == pi.len(), "log_policy length", || {
        format!("{} vs {}", logs.len(), pi.len())
    });
    for (i, (l, &m)) in logs.iter().zip(pi).enumerate() {
        let ok = match l.as_f64() {
            None => m == 0.0,
            Some(l) if m >= f64::MIN_POSITIVE => (l - m.ln()).abs() <= LOG_POLICY_TOLERANCE,
            Some(l) if m > 0.0 => l < f64::MIN_POSITIVE.ln() + LOG_POLICY_TOLERANCE,
            Some(l) => l < -744.0,
        };
        f.require(ok, "log_policy is ln policy", || {
            format!("outcome {i}: log_policy {l}, policy {m}")
        });
    }
}

/// The checks on a solution object.
fn solution(p: &Value, answer: &Value, f: &mut Findings) {
    let solver = p["solver"].as_str().unwrap_or("");
    shape(solver, answer, f);
    let (Some(base), Some(pi)) = (base_of(p), numbers(&answer["policy"])) else {
        // The reduced answers (gaussian_best_of_n, kl_gradient): finite numbers only.
        return;
    };
    let Some(reward) = numbers(&p["reward"]) else {
        return;
    };
    f.require(pi.len() == base.len(), "policy length", || {
        format!("{} vs {}", pi.len(), base.len())
    });
    if pi.len() != base.len() {
        return;
    }
    let n = pi.len() as f64;
    let sum = crate::numeric::sum(pi.iter().copied());
    f.require(
        (sum - 1.0).abs() <= U + n * f64::EPSILON,
        "policy sums to 1",
        || format!("sum {sum}"),
    );
    f.require(
        (0..pi.len()).all(|i| base.prob(i) > 0.0 || pi[i] == 0.0),
        "policy within the support of the base",
        String::new,
    );
    log_policy(p, answer, &pi, f);
    let Ok(policy) = Dist::new(pi.clone()) else {
        f.fail("policy is a distribution", format!("sum {sum}"));
        return;
    };
    let e = answer["expected_reward"].as_f64().unwrap_or(f64::NAN);
    expected_reward(&policy, &reward, e, f);
    let kl = answer["kl"].as_f64().unwrap_or(f64::NAN);
    kl_recomputed(&policy, &base, kl, f);
    let ctx = Context {
        p,
        answer,
        base: &base,
        policy: &policy,
        reward: &reward,
        kl,
        e,
    };
    defining_condition(solver, &ctx, f);
}

/// `E` in the range of `r` on the policy's support and equal to `sum pi r`.
fn expected_reward(policy: &Dist, reward: &[f64], e: f64, f: &mut Findings) {
    let (lo, hi) = policy.support_range(reward);
    let (mut s, mut abs) = (CompensatedSum::new(), CompensatedSum::new());
    for (pi, r) in policy.probs().iter().zip(reward) {
        // Halved: a sum of terms near f64::MAX must not overflow.
        s.add(pi * (r / 2.0));
        abs.add(pi * (r / 2.0).abs());
    }
    let n = policy.len() as f64;
    let tol = 2.0 * (U + n * f64::EPSILON) * abs.value() + 4.0 * n * f64::from_bits(1);
    let want = 2.0 * s.value();
    f.require(
        e >= lo - tol && e <= hi + tol,
        "expected reward within the support's range",
        || format!("{e} not in [{lo}, {hi}]"),
    );
    f.require(
        (e - want).abs() <= tol || (e / 2.0 - s.value()).abs() <= tol / 2.0,
        "expected reward equals sum pi r",
        || format!("{e} vs {want} (tol {tol})"),
    );
}

/// The KL bound of the module docs for the policy `pi`, around the KL `k`.
fn kl_tolerance(policy: &Dist, base: &Dist, k: f64) -> f64 {
    let (mut spread, mut total, mut subnormal) = (0.0, 0.0, 0.0);
    let mode = (0..policy.len()).fold(0, |m, i| {
        if policy.prob(i) > policy.prob(m) {
            i
        } else {
            m
        }
    });
    let mode_ratio = policy.log_prob(mode) - base.log_prob(mode);
    for i in 0..policy.len() {
        let pi = policy.prob(i);
        if pi > 0.0 {
            let ratio = policy.log_prob(i) - base.log_prob(i);
            let relative = U + 4.0 * f64::EPSILON * (ratio - mode_ratio).abs();
            spread += pi * relative * (ratio - k).abs();
            total += pi * ratio.abs();
            if pi < f64::MIN_POSITIVE {
                subnormal += f64::from_bits(1) * (ratio.abs() + 1.0);
            }
        }
    }
    // The solver's own KL carries a relative rounding of a few eps (16 eps allowed).
    spread + U * U + f64::EPSILON * total + subnormal + 16.0 * f64::EPSILON * k
}

/// How far `divergence::kl(pi, pi0)` of the returned (rounded) policy may be from the KL of
/// the exact one: [`kl_tolerance`] plus `(n + 1) eps (1 + KL)`, the renormalization (see
/// [`kl_recomputed`]), which also covers the rounding of `log pi - log pi0` in the recomputation
/// (`eps sum pi (|log pi| + |log pi0|)`, a few `eps` times the cross-entropy).
fn recomputation_tolerance(policy: &Dist, base: &Dist, k: f64) -> f64 {
    let n = policy.len() as f64;
    kl_tolerance(policy, base, k) + (n + 1.0) * f64::EPSILON * (1.0 + k)
}

/// `KL >= 0` and equal to `KL(pi||pi0)` recomputed from the returned policy by
/// [`crate::divergence::kl`], to within [`kl_tolerance`] plus `(n + 1) eps (1 + KL)`: the
/// renormalization of the rounded policy (and the base's own) shifts the KL by up to the
/// defect of their sums, a few `eps` absolute. (So a KL far below `eps` cannot be judged from
/// the policy, which then equals the base to rounding; the near-base check of the tilt judges
/// it from the problem instead.)
fn kl_recomputed(policy: &Dist, base: &Dist, kl: f64, f: &mut Findings) {
    f.require(kl >= 0.0, "KL non-negative", || format!("{kl}"));
    match crate::divergence::kl(policy, base) {
        Ok(k) => {
            let tol = recomputation_tolerance(policy, base, k);
            f.require(
                (kl - k).abs() <= tol,
                "KL equals divergence::kl(pi, pi0)",
                || format!("{kl} vs {k} (tol {tol:e})"),
            );
        }
        Err(e) => f.fail("KL recomputable", e.to_string()),
    }
}

/// Everything a defining condition needs.
struct Context<'a> {
    p: &'a Value,
    answer: &'a Value,
    base: &'a Dist,
    policy: &'a Dist,
    reward: &'a [f64],
    kl: f64,
    e: f64,
}

impl Context<'_> {
    fn param(&self, key: &str) -> f64 {
        self.p[key].as_f64().unwrap_or(f64::NAN)
    }

    /// How closely any policy in doubles can pin `E`: a mass below the normal range is held
    /// only to `2^-1075` absolute, so the `E` of the exact optimum and that of its nearest
    /// representable policy differ by up to `sum 2^-1075 |r|` over the support's outcomes with
    /// such masses (counted here with `2^-1074`). No search beats it: a target met by a mass of
    /// `3.0e-314` on a reward of `-1e308` is pinned to `5e-16` absolute at best.
    fn subnormal_mass_resolution(&self) -> f64 {
        self.base
            .support()
            .filter(|&i| self.policy.prob(i) < f64::MIN_POSITIVE)
            .map(|i| f64::from_bits(1) * self.reward[i].abs())
            .sum()
    }

    /// Slack for `E`: the same bound as in [`expected_reward`].
    fn e_tol(&self) -> f64 {
        let n = self.policy.len() as f64;
        let scale: f64 = (0..self.policy.len())
            .map(|i| self.policy.prob(i) * (self.reward[i] / 2.0).abs())
            .sum();
        2.0 * (U + n * f64::EPSILON) * scale + 4.0 * n * f64::from_bits(1)
    }
}

/// The condition that defines each solver's answer.
fn defining_condition(solver: &str, c: &Context, f: &mut Findings) {
    match solver {
        "tilt" => {
            let beta = c.param("beta");
            gibbs(c, beta, f);
            near_base(c, beta, f);
        }
        "maxent" => {
            let alpha = c.param("alpha");
            gibbs(c, alpha, f);
            near_base(c, alpha, f);
        }
        "kl_budget" => budget(c, f),
        "reward_target" => target(c, f),
        "condition" => condition(c, f),
        "quantilizer" => quantilizer(c, f),
        "forward_kl" => forward_kl(c, f),
        "soft_best_of_n" => soft_kl_to_tilt(c, f),
        "grpo" => grpo_infinite(c, f),
        "winrate_optimal" => {
            // A KL budget on the mid-rank values: met to the search's accuracy in beta times
            // the KL's sensitivity to it, as for `kl_budget`.
            let eps = c.param("kl_budget");
            let met = c.answer["beta"].as_f64().map_or(0.0, |beta| {
                conditioning(c.policy, &mid_ranks(c.base, c.reward), c.kl, beta)
            });
            let tol = kl_tolerance(c.policy, c.base, c.kl) + (CONSTRAINT + met) * eps;
            f.require(c.kl <= eps + tol, "KL budget met", || {
                format!("KL {} > {eps}", c.kl)
            });
        }
        "best_of_n" => {
            let e0 = c.base.expectation(c.reward).unwrap_or(f64::NAN);
            f.require(
                c.e >= e0 - c.e_tol() - (e0 * U).abs(),
                "best-of-n E >= E0",
                || format!("{} < {e0}", c.e),
            );
        }
        _ => {}
    }
}

/// `(r(i) - r(j))/beta` without overflow of the difference.
fn scaled_difference(a: f64, b: f64, beta: f64) -> f64 {
    let d = a - b;
    if d.is_finite() {
        d / beta
    } else {
        2.0 * ((a / 2.0 - b / 2.0) / beta)
    }
}

/// The Gibbs form `pi proportional to pi0 exp(r/beta)`, against the outcome of largest `pi`.
fn gibbs(c: &Context, beta: f64, f: &mut Findings) {
    let (pi, base) = (c.policy, c.base);
    let Some(j) = (0..pi.len()).max_by(|&a, &b| pi.prob(a).total_cmp(&pi.prob(b))) else {
        return;
    };
    // A multiplier below the smallest normal double is reported to an absolute `h = 2^-1075`
    // (its rounding when mapped back from a rescaled problem, e.g. rewards of `5e-315`): the
    // true `beta'` is within `h` of `beta`, so `delta' = delta beta/beta'` is within
    // `|delta| h/(beta - h)` of `delta`, where `beta/h = 2 k` for `beta = k 2^-1074`. (The
    // first-order `|delta| h/beta` is half of that at `beta = 5e-324`, where the answer's
    // `beta' = 3.1e-324` put a mass `0.61` off in the log.)
    let beta_rounding = if beta < f64::MIN_POSITIVE {
        1.0 / (2.0 * beta.to_bits() as f64 - 1.0)
    } else {
        0.0
    };
    for i in base.support() {
        let delta = scaled_difference(c.reward[i], c.reward[j], beta);
        let (li, lj) = (base.log_prob(i), base.log_prob(j));
        let predicted = pi.log_prob(j) + (li - lj) + delta;
        let tol = 4.0 * U
            + 8.0 * f64::EPSILON * (li.abs() + lj.abs() + delta.abs())
            + delta.abs() * beta_rounding;
        if predicted > -700.0 {
            let got = pi.log_prob(i);
            f.require(
                (got - predicted).abs() <= tol,
                "Gibbs form of the tilt",
                || format!("outcome {i}: log pi {got} vs {predicted} (beta {beta})"),
            );
        } else if predicted < -750.0 {
            f.require(
                pi.prob(i) < f64::MIN_POSITIVE,
                "Gibbs form of the tilt (underflow)",
                || format!("outcome {i}: pi {} where log pi ~ {predicted}", pi.prob(i)),
            );
        }
    }
}

/// Near the base (`spread/beta <= 1e-4`), `KL = Var_pi0(r/beta)/2` to the bound of the module
/// docs, computed independently of the policy (which equals the base to rounding there).
fn near_base(c: &Context, beta: f64, f: &mut Findings) {
    let (lo, hi) = c.base.support_range(c.reward);
    let spread = hi - lo;
    let s = spread / beta;
    if !(spread > 0.0 && s <= 1e-4) {
        return;
    }
    // Var of x = (r - r_m)/spread, then scaled by s^2, where m is the outcome of largest mass.
    // Shifting by `lo` instead lost the small differences between rewards far from `lo`
    // (`x - mean` cancelled to 1e-11 relative). With the pivot `m`, each `x` carries 2 rounding
    // errors relative to itself, and `p_m mean^2 <= Var` bounds the mean (so `E x^2 <=
    // Var (1 + 1/p_m)`): the computed variance is off by at most
    // `16 eps sqrt(1 + 1/p_m)` relative.
    let m = c
        .base
        .support()
        .max_by(|&i, &j| c.base.prob(i).total_cmp(&c.base.prob(j)))
        .unwrap_or(0);
    let pivot = c.reward[m];
    let var = variance_over_support(c.base, |i| (c.reward[i] - pivot) / spread);
    let want = var / 2.0 * s * s;
    let rounding = 16.0 * f64::EPSILON * (1.0 + 1.0 / c.base.prob(m)).sqrt();
    let tol = want * ((2.0 / 3.0) * s + s * s + CONSTRAINT + rounding) + 1e-305;
    f.require(
        (c.kl - want).abs() <= tol,
        "near-base KL = Var(r/beta)/2",
        || format!("KL {} vs {want} (s = {s:e})", c.kl),
    );
}

/// `Var_dist(x)` over the support of `dist`: the mean by a compensated sum, then the mean
/// squared deviation by [`spread_about`], so that it keeps relative accuracy when the spread of
/// `x` is tiny next to its values, and where the squares underflow.
fn variance_over_support(dist: &Dist, x: impl Fn(usize) -> f64) -> f64 {
    let mean = dist
        .support()
        .map(|i| dist.prob(i) * x(i))
        .collect::<CompensatedSum>()
        .value();
    if !mean.is_finite() {
        // Some x is not finite (`Scaled` holds no NaN): the variance is not either.
        return f64::NAN;
    }
    spread_about(dist.support(), |i| dist.prob(i), x, mean).value()
}

/// The relative accuracy to which a double-precision multiplier can meet a KL budget, beyond
/// `CONSTRAINT`: `kappa = |d ln KL / d ln beta| = Var_pi(r/beta)/KL` (from `dKL/dbeta =
/// -Var_pi(r)/beta^3`) turns a relative change of `beta` into one of the KL, and the search
/// holds `u = ln(spread/beta)` to a few ulps, a relative change of `beta` of `eps (1 + |u|)`:
/// `8 eps kappa (1 + |u|)` (0 where `beta` is not reported or the ratio overflows). A budget
/// of `1e-15` spent on a mass of `5e-324` at `beta = 1.4e-3` has `kappa = 700`, `u = 6.6`: the
/// KL can only be met to `2.5e-12`.
fn budget_conditioning(c: &Context) -> f64 {
    c.answer["beta"]
        .as_f64()
        .map_or(0.0, |beta| conditioning(c.policy, c.reward, c.kl, beta))
}

/// [`budget_conditioning`] of a tilt of the values `x` (the reward, or the win-rate optimum's
/// mid-rank values) at `beta`, with KL `kl`.
fn conditioning(policy: &Dist, x: &[f64], kl: f64, beta: f64) -> f64 {
    let (v, u) = beta_sensitivity(policy, x, beta);
    finite_or_zero(8.0 * f64::EPSILON * (v / kl) * (1.0 + u))
}

/// The absolute accuracy to which a double-precision multiplier can meet a reward target,
/// beyond `CONSTRAINT`: `dE/d ln beta = -Var_pi(r)/beta = -beta Var_pi(r/beta)`, and the search
/// holds `beta` to `eps (1 + |u|)` relative as in [`budget_conditioning`]: `8 eps beta
/// Var_pi(r/beta) (1 + |u|)` (0 where `beta` is not reported or the product overflows). A
/// target near 0 beside a reward of `-1.8e308` of mass `8.5e-309` at `beta = 2.5e305` (that
/// outcome's mass moves 709 times faster than `beta`) can only be met to `1.4e-11`.
fn target_conditioning(c: &Context) -> f64 {
    c.answer["beta"].as_f64().map_or(0.0, |beta| {
        let (v, u) = beta_sensitivity(c.policy, c.reward, beta);
        finite_or_zero(8.0 * f64::EPSILON * beta * v * (1.0 + u))
    })
}

/// `(Var_pi(x/beta), |u|)` with `u = ln(spread/beta)`, the spread of `x` on the policy's
/// support. The differences are taken on halved values, `(x/2 - lo/2)/beta`, and scaled back
/// (`4` on the variance, `ln 2` on `u`): `x - lo` overflows for rewards `+-1e308`, which made
/// the tolerances infinite and so 0, and flagged budgets met to the `1e-12` their conditioning
/// allows.
fn beta_sensitivity(policy: &Dist, x: &[f64], beta: f64) -> (f64, f64) {
    let (lo, hi) = policy.support_range(x);
    let half_var = variance_over_support(policy, |i| (x[i] / 2.0 - lo / 2.0) / beta);
    let u = ((hi / 2.0 - lo / 2.0) / beta).ln() + std::f64::consts::LN_2;
    (4.0 * half_var, u.abs())
}

/// `t` when finite, else 0: a tolerance that overflows is no tolerance (the check stays strict).
fn finite_or_zero(t: f64) -> f64 {
    if t.is_finite() {
        t
    } else {
        0.0
    }
}

/// The mid-rank win values `w(x) = pi0(r < r(x)) + pi0(r = r(x))/2` over the base's support
/// (0 off it), from one sort: the values the win-rate optimum tilts.
fn mid_ranks(base: &Dist, reward: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = base.support().collect();
    order.sort_by(|&a, &b| reward[a].total_cmp(&reward[b]));
    let mut w = vec![0.0; reward.len()];
    let (mut below, mut k) = (CompensatedSum::new(), 0);
    while k < order.len() {
        let tied = order[k..].partition_point(|&i| reward[i] == reward[order[k]]);
        let mass = crate::numeric::sum(order[k..k + tied].iter().map(|&i| base.prob(i)));
        let value = below.value() + mass / 2.0;
        order[k..k + tied].iter().for_each(|&i| w[i] = value);
        below.add(mass);
        k += tied;
    }
    w
}

/// `kl_budget`: the budget met; equality when binding; the base when zero.
fn budget(c: &Context, f: &mut Findings) {
    let eps = c.param("kl_budget");
    let regime = c.answer["regime"].as_str().unwrap_or("");
    let met = CONSTRAINT + budget_conditioning(c);
    let recomputed = crate::divergence::kl(c.policy, c.base).unwrap_or(f64::NAN);
    let tol = recomputation_tolerance(c.policy, c.base, recomputed);
    // The KL's resolution below the normal doubles: two steps of `2^-1074` beside the budget,
    // and the steps of the policy's subnormal masses (none: exactly the two steps).
    let subnormal = crate::divergence::subnormal_kl_resolution(c.policy.probs(), c.base.probs());
    f.require(
        recomputed <= eps * (1.0 + met) + tol + subnormal,
        "KL budget met",
        || format!("KL(pi||pi0) {recomputed} > budget {eps} ({regime})"),
    );
    f.require(
        c.kl <= eps * (1.0 + met) + subnormal,
        "KL budget met (as reported)",
        || format!("KL {} > budget {eps} ({regime})", c.kl),
    );
    if regime == "binding" {
        f.require(
            (c.kl - eps).abs() <= met * eps + subnormal,
            "binding budget: KL = budget",
            || format!("KL {} vs {eps}", c.kl),
        );
        if let Some(beta) = c.answer["beta"].as_f64() {
            gibbs(c, beta, f);
        }
    }
    if regime == "slack" {
        let (_, hi) = c.base.support_range(c.reward);
        f.require(c.e >= hi - c.e_tol(), "slack budget reaches max r", || {
            format!("E {} < {hi}", c.e)
        });
    }
}

/// `reward_target`: the target met; equality when interior.
fn target(c: &Context, f: &mut Findings) {
    let t = c.param("target");
    let regime = c.answer["regime"].as_str().unwrap_or("");
    let (_, hi) = c.base.support_range(c.reward);
    // The search meets `r* - E = r* - c` to `1e-12` relative (it iterates on `ln(r* - E)`), so
    // an interior answer meets the target to `1e-12 (r* - c)`: with rewards `+-1e308` around a
    // target of `-0.01`, no double-precision search pins `E` closer than that.
    let resolution = if regime == "interior" {
        CONSTRAINT * (hi - t)
    } else {
        0.0
    };
    let tol = c.e_tol()
        + CONSTRAINT * t.abs()
        + resolution
        + c.subnormal_mass_resolution()
        + target_conditioning(c);
    f.require(c.e >= t - tol, "reward target met", || {
        format!("E {} < target {t} ({regime})", c.e)
    });
    if regime == "interior" {
        f.require(
            (c.e - t).abs() <= tol,
            "interior target: E = target",
            || format!("E {} vs {t}", c.e),
        );
        if let Some(beta) = c.answer["beta"].as_f64() {
            gibbs(c, beta, f);
        }
    }
}

/// `condition`: `pi0` restricted to `r >= threshold`, renormalized.
fn condition(c: &Context, f: &mut Findings) {
    let t = c.param("threshold");
    let kept: Vec<usize> = c.base.support().filter(|&i| c.reward[i] >= t).collect();
    let mass: f64 = crate::numeric::sum(kept.iter().map(|&i| c.base.prob(i)));
    for i in c.base.support() {
        let (p0, pi) = (c.base.prob(i), c.policy.prob(i));
        if c.reward[i] < t {
            f.require(pi == 0.0, "conditioning drops r < threshold", || {
                format!("outcome {i}: {pi}")
            });
        } else if p0 >= f64::MIN_POSITIVE && pi >= f64::MIN_POSITIVE {
            let want = p0 / mass;
            f.require(
                (pi - want).abs() <= (U + kept.len() as f64 * f64::EPSILON) * want,
                "conditioning keeps pi0 / pi0(kept)",
                || format!("outcome {i}: {pi} vs {want}"),
            );
        }
    }
}

/// The quantilizer: the base restricted to its top `q` mass, the boundary class split.
///
/// With the support's reward classes in decreasing order, `above` the mass strictly above a
/// class and `m` its mass: a class with `above + m <= q (1 - 1e-12)` has density ratio
/// `1/q`; one with `above >= q (1 + 1e-12)` has 0; the boundary class has
/// `(q - above)/(q m)`, with `q - above` formed as `mass at or below - (1 - q)` when
/// `above > 1/2` (no cancellation: for `q = 1` and a class of mass `1e-20` at the bottom, it is
/// `1e-20`, not `1 - (1 - 1e-20) = 0`). Classes within `1e-12` of the edge are not judged.
fn quantilizer(c: &Context, f: &mut Findings) {
    let q = c.param("q");
    // The support by decreasing reward, then its classes with their masses (one sort, one
    // sweep: the check is O(n log n), as a run of 10^6 outcomes needs).
    let mut order: Vec<usize> = c.base.support().collect();
    order.sort_by(|&a, &b| c.reward[b].total_cmp(&c.reward[a]));
    let mut classes: Vec<(f64, f64, Vec<usize>)> = Vec::new();
    for i in order {
        match classes.last_mut() {
            Some((r, m, members)) if *r == c.reward[i] => {
                *m += c.base.prob(i);
                members.push(i);
            }
            _ => classes.push((c.reward[i], c.base.prob(i), vec![i])),
        }
    }
    let masses: Vec<f64> = classes.iter().map(|k| k.1).collect();
    // above[k]: mass strictly above class k; below[k]: mass at or below it (compensated).
    let mut above = Vec::with_capacity(masses.len());
    let mut acc = CompensatedSum::new();
    for m in &masses {
        above.push(acc.value());
        acc.add(*m);
    }
    let mut below = vec![0.0; masses.len()];
    let mut acc = CompensatedSum::new();
    for k in (0..masses.len()).rev() {
        acc.add(masses[k]);
        below[k] = acc.value();
    }
    for (k, (class, m, members)) in classes.iter().enumerate() {
        let (above, m) = (above[k], *m);
        // The kept share of the class, `pi(x) = pi0(x) share / q` with `share = m` for a class
        // kept whole; formed as `(pi0(x)/m) (share/q)`, two factors of at most 1 (the product
        // `q m` or `1/q` would under- or overflow at `q = 1e-300` or `5e-324`).
        let share = if above + m <= q * (1.0 - CONSTRAINT) {
            Some(m)
        } else if above >= q * (1.0 + CONSTRAINT) {
            Some(0.0)
        } else if (above - q).abs() <= CONSTRAINT * q || (above + m - q).abs() <= CONSTRAINT * q {
            None
        } else if above > 0.5 {
            Some(below[k] - (1.0 - q))
        } else {
            Some(q - above)
        };
        let Some(share) = share else { continue };
        for &i in members {
            let (p0, pi) = (c.base.prob(i), c.policy.prob(i));
            if p0 < f64::MIN_POSITIVE {
                continue;
            }
            let want = (p0 / m) * (share / q);
            let tol = 1e-9 * want + 2.0 * f64::MIN_POSITIVE;
            f.require(
                (pi - want).abs() <= tol,
                "quantilizer density ratio",
                || format!("outcome {i} (r {class}): pi {pi} vs {want} (q {q})"),
            );
        }
    }
}

/// `forward_kl`: `pi = gamma pi0/(lambda - r)` at the returned `lambda`.
///
/// Tolerance of `pi (lambda - r)` against `gamma pi0`: each returned `pi` carries a relative
/// error of a few `eps` (`64 eps` allowed, as below), `lambda` a rounding of `eps |lambda|/2`
/// (which dominates when `lambda` is within rounding of `r`), and the difference and product
/// one rounding each; and where the exact `pi` is below the smallest normal number it is
/// rounded into the subnormal range twice, once by the solver and once by the renormalization
/// of [`Dist::new`] here, each by at most half of `2^-1074`: `|pi - pi_exact| <= 2^-1074` on top
/// of the relative error, so `pi (lambda - r)` may be off by `2^-1074 |lambda - r|` more (at
/// `lambda - r = 1e308` that is `5e-16` absolute: a `gamma pi0 = 3.5e-4` is met by a
/// subnormal `pi = 3.46e-312` only to `1.4e-12` relative, and one below `2^-1075 |lambda - r|`
/// by `pi = 0`).
fn forward_kl(c: &Context, f: &mut Findings) {
    let gamma = c.param("gamma");
    let Some(lambda) = c.answer["lambda"].as_f64() else {
        return;
    };
    for i in c.base.support() {
        let (p0, pi, r) = (c.base.prob(i), c.policy.prob(i), c.reward[i]);
        let lhs = pi * (lambda - r);
        let rhs = gamma * p0;
        if !(lhs.is_finite() && rhs.is_finite()) || p0 < f64::MIN_POSITIVE {
            continue;
        }
        let subnormal = f64::from_bits(1) * (lambda - r).abs();
        // `pi |lambda| + pi |r|`, not `pi (|lambda| + |r|)`: the sum overflows at rewards near
        // `f64::MAX`, and `0 * inf` would make the tolerance NaN.
        let tol = 64.0 * f64::EPSILON * (pi * lambda.abs() + pi * r.abs() + rhs)
            + subnormal
            + f64::MIN_POSITIVE;
        f.require((lhs - rhs).abs() <= tol, "forward-KL stationarity", || {
            format!("outcome {i}: pi (lambda - r) {lhs} vs gamma pi0 {rhs}")
        });
    }
}

/// `grpo` at `G = infinity`, where a group's advantage is the reward standardized under the
/// policy itself, `z = (r - mu_pi)/sigma_pi` (under either std convention), so that the
/// stationary point solves, on the base's support:
/// - the k3 loss: `pi (1 - z/beta) = pi0`;
/// - the k3 ratio: `ln(pi/pi0) - z/beta` is the same for every outcome of positive mass.
///
/// `mu` and `sigma` are recomputed here from the returned policy, on halved rewards (nothing
/// overflows; `z` is unchanged), by compensated sums: each to a few `eps` relative. `z(o)` then
/// carries `delta_z = 16 eps ((|r/2| + |mu|)/sigma + |z|)`, and `z/beta` that over `beta`; the
/// masses carry `4 eps (1 + |z/beta|)` relative (formed from `e^{z/beta}` or `1/(1 - z/beta)`),
/// plus `2^-1074` absolute where they are subnormal, and `CONSTRAINT` relative for the solver's
/// root finder on its one scalar (to `1e-14` in its logarithm, which moves the masses by up to
/// `1e-13` where the top outcome is rare; through `mu` and `sigma` that adds `CONSTRAINT (1 +
/// |z|)` to `delta_z`). On the k3 loss `z/beta < 1` must hold on the whole
/// support (else no positive `pi` solves it). No check where the policy's reward is constant
/// (`sigma = 0`: the advantage is 0 by convention) or not finite.
fn grpo_infinite(c: &Context, f: &mut Findings) {
    if c.p["group_size"] != "infinite" {
        return;
    }
    let beta = c.param("beta");
    let half = centred_half_rewards(c);
    let mu = c
        .policy
        .support()
        .map(|i| c.policy.prob(i) * half[i])
        .collect::<CompensatedSum>()
        .value();
    let var = spread_about(c.policy.support(), |i| c.policy.prob(i), |i| half[i], mu);
    if var == Scaled::ZERO || !mu.is_finite() {
        return;
    }
    // mu carries up to 16 eps sum pi |half|, and the computed variance is the true one plus
    // that error squared. That never matters: centred at the heaviest outcome (mass p >= 1/n,
    // deviation 0), p mu^2 <= sigma^2, so sum pi |half| <= sqrt(sigma^2 + mu^2) <=
    // sigma sqrt(1 + n), and the error stays below sigma/2 for every n below 1e28.
    let sigma = var.sqrt();
    let over_sigma = |x: f64| Scaled::new(x).div(sigma).value();
    // A mass below the normal doubles is known only to 2^-1075 (half a subnormal step): one
    // reported as 0 may be 1e-429, which at a reward of -1e308 holds a variance of 1e187 and
    // sets sigma and every z; one of 1.35e-313 is 2e-11 off, which moves sigma by 1e-11. With
    // r the variance those masses can add or remove over the variance seen, the true sigma
    // lies within a factor [sqrt(1 - r), sqrt(1 + r)] of sigma, which moves z by up to
    // |z| (1/sqrt(1 - r) - 1) (undecided, infinite, from r = 1/2), and mu by up to
    // sum 2^-1075 |half - mu|.
    let hidden: Vec<usize> = c
        .base
        .support()
        .filter(|&i| c.policy.prob(i) < f64::MIN_POSITIVE)
        .collect();
    let hidden_var =
        spread_about(hidden.iter().copied(), |_| 1.0, |i| half[i], mu).times_pow2(-1075);
    let r = hidden_var.div(var).value();
    let sigma_share = if r < 0.5 {
        1.0 / (1.0 - r).sqrt() - 1.0
    } else {
        f64::INFINITY
    };
    let hidden_mean: f64 = hidden
        .iter()
        .map(|&i| over_sigma((half[i] - mu).abs()) * 2f64.powi(-1075 + 600) * 2f64.powi(-600))
        .sum();
    let standardized = |i: usize| {
        let deviation = half[i] - mu;
        let z = over_sigma(deviation.abs()).copysign(deviation);
        let size = Scaled::new(half[i].abs())
            .add(Scaled::new(mu.abs()))
            .div(sigma)
            .value();
        // Rounding, masses off by CONSTRAINT relative (which move mu by up to CONSTRAINT
        // sigma and sigma by CONSTRAINT sigma), and the masses that underflowed.
        let dz = 16.0 * f64::EPSILON * (size + z.abs())
            + CONSTRAINT * (1.0 + z.abs())
            + z.abs() * sigma_share
            + hidden_mean;
        (z / beta, dz / beta)
    };
    let tiny = f64::from_bits(1);
    if c.p["kl"] == "k3_ratio" {
        grpo_ratio_levels(c, &standardized, f);
        return;
    }
    for i in c.base.support() {
        let (x, dx) = standardized(i);
        if !dx.is_finite() {
            // z/beta's uncertainty overflows (a subnormal beta): nothing is decidable here (at
            // beta = 1e-310 on rewards of f64::MAX, z itself is rounding noise and z/beta inf).
            continue;
        }
        let (pi, pi0) = (c.policy.prob(i), c.base.prob(i));
        // A mass of 0 is right where pi0/(1 - z/beta) rounds to 0 (including z/beta = -inf,
        // where tol is infinite); the products with pi are then left out (0 inf is NaN).
        let lhs = if pi == 0.0 { 0.0 } else { pi * (1.0 - x) };
        let from_pi = if pi == 0.0 {
            0.0
        } else {
            pi * (dx + 4.0 * f64::EPSILON * (1.0 + x.abs()))
        };
        let tol = from_pi + (4.0 * U + CONSTRAINT) * pi0 + tiny * (1.0 + x.abs());
        f.require(
            x - dx < 1.0 && (lhs - pi0).abs() <= tol,
            "GRPO stationarity at G = inf (k3 loss)",
            || format!("outcome {i}: pi (1 - z/beta) = {lhs} vs pi0 {pi0} (z/beta {x})"),
        );
    }
}

/// The halved rewards minus the halved reward of the policy's heaviest outcome: `mu` and the
/// deviations are then formed near the bulk of the mass, so that a spread of `1e108` beside
/// rewards of `f64::MAX` is not lost in the rounding of `mu` (`eps f64::MAX = 4e292`).
fn centred_half_rewards(c: &Context) -> Vec<f64> {
    let heaviest = c
        .policy
        .support()
        .max_by(|&a, &b| c.policy.prob(a).total_cmp(&c.policy.prob(b)));
    let centre = heaviest.map_or(0.0, |i| c.reward[i] / 2.0);
    c.reward.iter().map(|r| r / 2.0 - centre).collect()
}

/// `sum m(i) (x_i - mu)^2` over `outcomes`, as `m 2^e` ([`Scaled::sum`]): in doubles a
/// subnormal mass times a small square (`9.6e-316` at a deviation of `5e-3`), or any square
/// below `1e-308` (rewards of `1e-200`), underflows, and `sigma` lost digits or came out 0 (the
/// check then skipped).
fn spread_about(
    outcomes: impl Iterator<Item = usize>,
    mass: impl Fn(usize) -> f64,
    x: impl Fn(usize) -> f64,
    mu: f64,
) -> Scaled {
    let terms: Vec<Scaled> = outcomes
        .map(|i| {
            let d = Scaled::new((x(i) - mu).abs());
            Scaled::new(mass(i)).mul(d).mul(d)
        })
        .collect();
    Scaled::sum(&terms)
}

/// The k3-ratio condition of [`grpo_infinite`]: the levels `ln(pi/pi0) - z/beta` over the
/// outcomes of normal mass lie within the sum of the two extreme outcomes' tolerances.
fn grpo_ratio_levels(c: &Context, standardized: &dyn Fn(usize) -> (f64, f64), f: &mut Findings) {
    let levels: Vec<(usize, f64, f64)> = c
        .base
        .support()
        .filter(|&i| c.policy.prob(i) >= f64::MIN_POSITIVE)
        .map(|i| {
            let (x, dx) = standardized(i);
            let (lp, lp0) = (c.policy.log_prob(i), c.base.log_prob(i));
            let tol = dx + U + CONSTRAINT + 8.0 * f64::EPSILON * (lp.abs() + lp0.abs() + x.abs());
            (i, lp - lp0 - x, tol)
        })
        // As in the k3-loss check, an outcome whose tolerance overflows decides nothing.
        .filter(|level| level.2.is_finite())
        .collect();
    let by_level = |a: &&(usize, f64, f64), b: &&(usize, f64, f64)| a.1.total_cmp(&b.1);
    let (Some(lo), Some(hi)) = (
        levels.iter().min_by(by_level),
        levels.iter().max_by(by_level),
    ) else {
        return;
    };
    f.require(
        hi.1 - lo.1 <= hi.2 + lo.2,
        "GRPO stationarity at G = inf (k3 ratio)",
        || {
            format!(
                "levels {} (outcome {}) and {} (outcome {})",
                lo.1, lo.0, hi.1, hi.0
            )
        },
    );
}

/// `soft_best_of_n`: a `null` `kl_to_tilt` only where `KL(pi||T)` is beyond the `f64` range,
/// `T = pi0 e^{(r - r*)/lambda}/Z` the tilt at the temperature. With `Z >= pi0(argmax)`,
/// `ln(1/T(i)) = (r* - r(i))/lambda + ln Z - ln pi0(i) >= (r* - r(i))/lambda - 745` (every
/// positive mass is at least `2^-1074`, so `|ln pi0| <= 745`), and
/// `KL = sum pi ln pi + sum pi ln(1/T) >= -ln n + sum pi (r* - r)/lambda - 745`. So the null is
/// honest when `sum pi (r* - r)/lambda` exceeds `f64::MAX + 745 + ln n`; and as `Z <= 1`,
/// `KL <= sum pi (r* - r)/lambda + 745`, so it is wrong when that sum is below
/// `f64::MAX - 745`. The halved sum over `lambda` is computed here to `5u = 2.5 eps` relative
/// (`u = 2^-53`: the difference and the product each round once per term, the compensated
/// sum adds `2u`, the division `u`), which is far above `745 + ln n` at this scale. So a null
/// is flagged only when that computed value is below `(f64::MAX/2)(1 - 5u)`: between that and
/// `(f64::MAX/2)(1 + 5u)` neither answer can be told wrong in doubles (a KL of `f64::MAX (1 +
/// 6e-16)`, from a policy one part in `1e12` off the top reward `f64::MAX`, was flagged when
/// the check required the null to be certain).
fn soft_kl_to_tilt(c: &Context, f: &mut Findings) {
    if !c.answer["kl_to_tilt"].is_null() {
        return;
    }
    let lambda = c.param("temperature");
    let (_, hi) = c.base.support_range(c.reward);
    let half = crate::numeric::sum(
        c.base
            .support()
            .map(|i| c.policy.prob(i) * (hi / 2.0 - c.reward[i] / 2.0)),
    );
    let bound = half / lambda;
    f.require(
        bound >= f64::MAX / 2.0 * (1.0 - 2.5 * f64::EPSILON),
        "null KL to the tilt beyond the f64 range",
        || format!("sum pi (r* - r)/lambda / 2 = {bound}"),
    );
}
