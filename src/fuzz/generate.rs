//! The seeded generator of `solve` inputs: valid problems at the extremes of `f64` for every
//! solver of [`crate::api`], and malformed inputs.
//!
//! Valid problems are built as JSON values and written by `serde_json` (shortest round-trip
//! form, so the solver reads exactly the doubles generated here). Malformed inputs are valid
//! texts with one defect each: a `NaN`/`Infinity` token, a wrong type, a duplicate key, deep
//! nesting, trailing bytes, a non-UTF-8 byte, a truncation, an unknown solver name, or a
//! missing field.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};

/// Every solver of [`crate::api::Problem`], by its JSON tag.
pub const SOLVERS: [&str; 14] = [
    "tilt",
    "kl_budget",
    "reward_target",
    "condition",
    "maxent",
    "gaussian_best_of_n",
    "best_of_n",
    "quantilizer",
    "forward_kl",
    "kl_gradient",
    "grpo",
    "winrate_optimal",
    "soft_best_of_n",
    "chipo",
];

/// One generated input.
#[derive(Debug, Clone)]
pub struct Case {
    /// The bytes handed to the solver.
    pub text: Vec<u8>,
    /// The problem as a JSON value when the input is well formed (`None` for malformed input,
    /// which must be refused).
    pub problem: Option<Value>,
    /// Which defect a malformed input carries (`""` for a valid one).
    pub defect: &'static str,
}

/// Sizes of the generated problems.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// One valid problem in `large_every` gets between 10^5 and `max_outcomes` outcomes
    /// (0: never).
    pub large_every: u32,
    /// The largest number of outcomes of a large problem.
    pub max_outcomes: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            large_every: 1000,
            max_outcomes: 1_000_000,
        }
    }
}

/// A probability mass before normalization: zero, subnormal, tiny, or of order one.
fn mass(rng: &mut ChaCha20Rng) -> f64 {
    match rng.gen_range(0..12) {
        0 => 0.0,
        1 => 5e-324,
        2 => 1e-310,
        3 => 1e-300,
        4 => 1e-200,
        5 => 1e-100,
        6 => 1e-20,
        7 => 1e-15,
        8 => 10f64.powf(-rng.gen_range(0.0..320.0)),
        _ => rng.gen_range(0.0..1.0),
    }
}

/// A base policy on `n` outcomes: masses from [`mass`] divided by their sum (at least one of
/// order one), sometimes scaled so that the sum is off by up to 0.9 of the accepted tolerance,
/// sometimes with a `-0.0`.
fn base(rng: &mut ChaCha20Rng, n: usize) -> Vec<f64> {
    let mut w: Vec<f64> = (0..n).map(|_| mass(rng)).collect();
    let k = rng.gen_range(0..n);
    w[k] = w[k].max(rng.gen_range(0.1..1.0));
    let total: f64 = w.iter().sum();
    let off = if rng.gen_bool(0.1) {
        1.0 + rng.gen_range(-0.9..0.9) * crate::dist::NORMALIZATION_TOLERANCE
    } else {
        1.0
    };
    let mut p: Vec<f64> = w.iter().map(|x| x / total * off).collect();
    if rng.gen_bool(0.05) {
        if let Some(z) = p.iter_mut().find(|x| **x == 0.0) {
            *z = -0.0;
        }
    }
    p
}

/// A reward: zero, subnormal, tiny, of order one, up to `+-f64::MAX`, any sign.
fn reward_value(rng: &mut ChaCha20Rng) -> f64 {
    let sign = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
    sign * match rng.gen_range(0..12) {
        0 => 0.0,
        1 => 5e-324,
        2 => 1e-300,
        3 => 1.0,
        4 => 1e308,
        5 => f64::MAX,
        6 => rng.gen_range(0..4) as f64,
        7 => 10f64.powf(rng.gen_range(-320.0..308.0)),
        _ => rng.gen_range(0.0..1.0) * 10f64.powi(rng.gen_range(-5..6)),
    }
}

/// A reward vector, with ties copied in now and then.
fn reward(rng: &mut ChaCha20Rng, n: usize) -> Vec<f64> {
    let mut r: Vec<f64> = (0..n).map(|_| reward_value(rng)).collect();
    if n > 1 && rng.gen_bool(0.3) {
        let (a, b) = (rng.gen_range(0..n), rng.gen_range(0..n));
        r[a] = r[b];
    }
    r
}

/// A positive parameter from the smallest subnormal to `f64::MAX`.
fn positive(rng: &mut ChaCha20Rng) -> f64 {
    match rng.gen_range(0..12) {
        0 => 5e-324,
        1 => 1e-310,
        2 => 1e-300,
        3 => 1e-15,
        4 => 1e-3,
        5 => 1.0,
        6 => 1e15,
        7 => 1e100,
        8 => 1e300,
        9 => f64::MAX,
        _ => 10f64.powf(rng.gen_range(-323.0..308.0)),
    }
}

/// A kept mass in `(0, 1]`.
fn kept_mass(rng: &mut ChaCha20Rng) -> f64 {
    match rng.gen_range(0..8) {
        0 => 5e-324,
        1 => 1e-300,
        2 => 1e-15,
        3 => 0.5,
        4 => 1.0 - f64::EPSILON / 2.0,
        5 => 1.0,
        _ => rng.gen_range(f64::MIN_POSITIVE..1.0),
    }
}

/// A KL budget: zero, subnormal, tiny, ordinary, or beyond every `-log pi0(A)`.
fn budget(rng: &mut ChaCha20Rng) -> f64 {
    match rng.gen_range(0..8) {
        0 => 0.0,
        1 => 5e-324,
        2 => 1e-300,
        3 => 1e-15,
        4 => 745.0,
        5 => f64::MAX,
        _ => 10f64.powf(rng.gen_range(-20.0..1.0)),
    }
}

/// A number near the rewards: one of them, a midpoint of two, just above the largest, or a
/// random point of their range (written as `a/2 + b/2` forms, which never overflow).
fn near_rewards(rng: &mut ChaCha20Rng, r: &[f64]) -> f64 {
    let a = *r.choose(rng).unwrap_or(&0.0);
    let b = *r.choose(rng).unwrap_or(&0.0);
    let t: f64 = rng.gen_range(0.0..1.0);
    match rng.gen_range(0..5) {
        0 => a,
        1 => a / 2.0 + b / 2.0,
        2 => {
            let top = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            top + top.abs() * f64::EPSILON
        }
        3 => f64::MAX * if rng.gen_bool(0.5) { 1.0 } else { -1.0 },
        _ => a * (1.0 - t) + b * t,
    }
}

/// The number of draws `n`: an integer literal, a float literal (`2.0`), up to `u64::MAX`.
fn draws(rng: &mut ChaCha20Rng) -> Value {
    match rng.gen_range(0..8) {
        0 => json!(1),
        1 => json!(2.0),
        2 => json!(rng.gen_range(1..20)),
        3 => json!(9_007_199_254_740_992.0_f64),
        4 => json!(u64::MAX),
        5 => json!(1_000_000_000_000u64),
        _ => json!(rng.gen_range(1..1_000_000u64)),
    }
}

/// The number of outcomes: mostly 1 to 8, sometimes up to 1000, rarely (see [`Sizes`]) up to
/// `max_outcomes`.
fn outcomes(rng: &mut ChaCha20Rng, sizes: Sizes, large_ok: bool) -> usize {
    if large_ok && sizes.large_every > 0 && rng.gen_ratio(1, sizes.large_every) {
        return rng.gen_range(100_000..=sizes.max_outcomes.max(100_000));
    }
    if rng.gen_bool(0.05) {
        rng.gen_range(9..=1000)
    } else {
        rng.gen_range(1..=8)
    }
}

/// A valid problem for `solver` (valid JSON with the right fields; the values may still be
/// outside a solver's domain, which must then be a typed refusal).
pub fn problem(rng: &mut ChaCha20Rng, solver: &str, sizes: Sizes) -> Value {
    // The solvers whose cost is linear in the number of outcomes get the large sizes.
    let large_ok = matches!(
        solver,
        "tilt" | "kl_budget" | "reward_target" | "condition" | "maxent" | "quantilizer"
    );
    let n = outcomes(rng, sizes, large_ok);
    let (p, r) = (base(rng, n), reward(rng, n));
    let mut v = match solver {
        "tilt" | "chipo" => json!({"base": p, "reward": r, "beta": positive(rng)}),
        "kl_budget" | "winrate_optimal" => {
            json!({"base": p, "reward": r, "kl_budget": budget(rng)})
        }
        "reward_target" => {
            let c = near_rewards(rng, &r);
            json!({"base": p, "reward": r, "target": c})
        }
        "condition" => {
            let c = near_rewards(rng, &r);
            json!({"base": p, "reward": r, "threshold": c})
        }
        "maxent" => json!({"reward": r, "alpha": positive(rng)}),
        "gaussian_best_of_n" => {
            let rho = match rng.gen_range(0..5) {
                0 => -1.0,
                1 => 1.0,
                2 => 0.0,
                3 => 1.0 - f64::EPSILON,
                _ => rng.gen_range(-1.0..1.0),
            };
            json!({"n": draws(rng), "rho": rho})
        }
        "best_of_n" => json!({"base": p, "reward": r, "n": draws(rng)}),
        "soft_best_of_n" => {
            json!({"base": p, "reward": r, "n": draws(rng), "temperature": positive(rng)})
        }
        "quantilizer" => json!({"base": p, "reward": r, "q": kept_mass(rng)}),
        "forward_kl" => json!({"base": p, "reward": r, "gamma": positive(rng)}),
        "kl_gradient" => {
            let logits: Vec<f64> = (0..n).map(|_| rng.gen_range(-700.0..700.0)).collect();
            let estimator = *["k1", "k2", "k3"].choose(rng).unwrap_or(&"k1");
            let placement = *["reward", "loss", "loss_ratio"]
                .choose(rng)
                .unwrap_or(&"loss");
            let mut v = json!({"base": p, "logits": logits, "estimator": estimator,
                "placement": placement});
            if rng.gen_bool(0.5) {
                let behavior: Vec<f64> = (0..n).map(|_| rng.gen_range(-50.0..50.0)).collect();
                v["behavior_logits"] = json!(behavior);
            }
            v
        }
        _ => {
            let group = if rng.gen_bool(0.3) {
                json!("infinite")
            } else {
                json!(rng.gen_range(2..10))
            };
            json!({"base": p, "reward": r, "beta": positive(rng), "group_size": group,
                "std": *["sample", "population"].choose(rng).unwrap_or(&"sample"),
                "kl": *["k3_loss", "k3_ratio"].choose(rng).unwrap_or(&"k3_loss")})
        }
    };
    v["solver"] = json!(solver);
    v
}

/// Writes a JSON value (numbers in the shortest form that round-trips).
fn text(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// The key of one numeric or array field of `v` other than `solver`, if any.
fn some_field(rng: &mut ChaCha20Rng, v: &Value) -> Option<String> {
    let keys: Vec<String> = v
        .as_object()?
        .keys()
        .filter(|k| *k != "solver")
        .cloned()
        .collect();
    keys.choose(rng).cloned()
}

/// Whether a problem may omit `key`: the fields [`crate::api::SCHEMA`] marks "(optional", and
/// the options of [`crate::api::OPTIONS`] that have a default. Leaving such a field out (or
/// setting one of the former to `null`, its "absent") is not a defect, so the "wrong type" and
/// "missing" defects put a wrong value there instead.
fn is_optional(key: &str) -> bool {
    let marked = format!("`{key}` (optional");
    crate::api::SCHEMA
        .iter()
        .any(|row| row.fields.contains(&marked))
        || crate::api::OPTIONS
            .iter()
            .any(|row| row.solver == key && row.fields.contains("(the default)"))
}

/// `v` with `key` replaced by a placeholder, written, and the placeholder replaced by `raw`.
fn with_raw(v: &Value, key: &str, raw: &str) -> Vec<u8> {
    let mut w = v.clone();
    w[key] = json!("\u{1}PLACEHOLDER\u{1}");
    let s = w.to_string();
    s.replace("\"\\u0001PLACEHOLDER\\u0001\"", raw).into_bytes()
}

/// A malformed input derived from the valid problem `v`.
fn malformed(rng: &mut ChaCha20Rng, v: &Value, sizes: Sizes) -> (Vec<u8>, &'static str) {
    let key = some_field(rng, v).unwrap_or_else(|| "reward".into());
    let valid = text(v);
    match rng.gen_range(0..10) {
        0 => {
            let token = *[
                "NaN",
                "Infinity",
                "-Infinity",
                "nan",
                "inf",
                "1e400",
                "-1e400",
            ]
            .choose(rng)
            .unwrap_or(&"NaN");
            (with_raw(v, &key, token), "non-finite token")
        }
        1 => {
            let raw = *["\"1\"", "true", "null", "{}", "[[1]]", "[\"a\"]"]
                .choose(rng)
                .unwrap_or(&"true");
            // `null` may be a valid value of an optional field (it means "absent").
            let raw = if raw == "null" && is_optional(&key) {
                "true"
            } else {
                raw
            };
            (with_raw(v, &key, raw), "wrong type")
        }
        2 => {
            let mut s = valid;
            s.pop();
            let dup = format!(",\"{key}\":{}}}", v[&key]);
            s.extend_from_slice(dup.as_bytes());
            (s, "duplicate key")
        }
        3 => {
            let depth = rng.gen_range(200..100_000);
            let raw = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            (with_raw(v, &key, &raw), "deep nesting")
        }
        4 => {
            let mut s = valid;
            let tail = *[&b"x"[..], b"{}", b"]", b",", b"\0"]
                .choose(rng)
                .unwrap_or(&&b"x"[..]);
            s.extend_from_slice(tail);
            (s, "trailing bytes")
        }
        5 => {
            let mut s = valid;
            let at = rng.gen_range(0..s.len());
            s.insert(at, *[0xFFu8, 0xC0, 0x80, 0xFE].choose(rng).unwrap_or(&0xFF));
            (s, "non-UTF-8 byte")
        }
        6 => {
            let mut s = valid;
            let cut = rng.gen_range(0..s.len());
            s.truncate(cut);
            (s, "truncated")
        }
        7 => {
            let len = if rng.gen_bool(0.1) {
                sizes.max_outcomes.max(10)
            } else {
                rng.gen_range(1..100)
            };
            let name: String = (0..len).map(|_| rng.gen_range('a'..='z')).collect();
            let mut w = v.clone();
            w["solver"] = json!(format!("x{name}"));
            (text(&w), "unknown solver")
        }
        8 => {
            let mut w = v.clone();
            if let Some(obj) = w.as_object_mut() {
                obj.remove(&key);
            }
            // A missing optional field is not a defect.
            if is_optional(&key) {
                w[&key] = json!("x");
            }
            (text(&w), "missing or mistyped field")
        }
        _ => {
            let raw = *["[]", "{\"solver\":1}", "", "[1,2]", "\"tilt\""]
                .choose(rng)
                .unwrap_or(&"");
            (raw.as_bytes().to_vec(), "not a problem object")
        }
    }
}

/// One problem in this many (that has a base) gets it as `base_logits`, and one in this many
/// (whose answer has a policy) asks for `"output": "log_policy"`.
const OPTION_EVERY: u32 = 8;

/// Offsets added to the logits of a base given as `base_logits` (the softmax ignores them up
/// to rounding; `1e5` leaves `ln pi0` to the rounding of numbers near `1e5`).
const LOGIT_OFFSETS: [f64; 5] = [0.0, 0.0, 500.0, -500.0, 1e5];

/// Mixed into the seed of the options' stream.
const OPTION_SALT: u64 = 0x6f70_7469_6f6e_7321;

/// `v` with the options of [`crate::api::OPTIONS`] drawn from `rng`: the base as `base_logits`
/// (`ln pi0` plus an offset from [`LOGIT_OFFSETS`], `null` for a zero mass) and the log-policy
/// output, each for one problem in [`OPTION_EVERY`].
fn with_options(rng: &mut ChaCha20Rng, mut v: Value) -> Value {
    let solver = v["solver"].as_str().unwrap_or("").to_string();
    if rng.gen_ratio(1, OPTION_EVERY) {
        if let (Some(obj), Some(offset)) = (v.as_object_mut(), LOGIT_OFFSETS.choose(rng)) {
            if let Some(Value::Array(base)) = obj.remove("base") {
                let logits: Vec<Value> = base
                    .iter()
                    .map(|m| match m.as_f64() {
                        Some(m) if m > 0.0 => json!(m.ln() + offset),
                        _ => Value::Null,
                    })
                    .collect();
                obj.insert("base_logits".into(), Value::Array(logits));
            }
        }
    }
    let has_policy = !matches!(solver.as_str(), "gaussian_best_of_n" | "kl_gradient");
    if has_policy && rng.gen_ratio(1, OPTION_EVERY) {
        v["output"] = json!("log_policy");
    }
    v
}

/// Case `index` of the run with `seed`: a valid problem for a solver (cycling through
/// [`SOLVERS`]) or, one time in four, a malformed input. Cases are independent of each other
/// (each has its own generator state), so a failing case is reproduced from `(seed, index)`.
pub fn case(seed: u64, index: u64, sizes: Sizes) -> Case {
    use rand::SeedableRng;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(index);
    let solver = SOLVERS[(index % SOLVERS.len() as u64) as usize];
    let v = problem(&mut rng, solver, sizes);
    // The options come from a stream of their own, so that adding them left every other
    // draw (and so every problem without options) as it was.
    let mut option_rng = ChaCha20Rng::seed_from_u64(seed ^ OPTION_SALT);
    option_rng.set_stream(index);
    let v = with_options(&mut option_rng, v);
    if rng.gen_ratio(1, 4) {
        let small = Sizes {
            large_every: 0,
            ..sizes
        };
        let v = if v.to_string().len() > 100_000 {
            problem(&mut rng, solver, small)
        } else {
            v
        };
        let (text, defect) = malformed(&mut rng, &v, sizes);
        Case {
            text,
            problem: None,
            defect,
        }
    } else {
        Case {
            text: text(&v),
            problem: Some(v),
            defect: "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The optional fields come from the schema's marks: `behavior_logits` ("(optional") and
    /// `output` (an option with a default); a base or a required parameter is not optional.
    #[test]
    fn optional_fields_are_read_from_the_schema() {
        assert!(is_optional("behavior_logits") && is_optional("output"));
        for key in ["base", "base_logits", "reward", "beta", "solver"] {
            assert!(!is_optional(key), "{key}");
        }
    }

    /// Some problems carry the options, drawn from their own stream: the problems without them
    /// are those the generator made before the options existed (compared here by solver and
    /// reward).
    #[test]
    fn options_reach_some_problems_and_leave_the_others_unchanged() {
        let cases: Vec<Value> = (0..400)
            .filter_map(|i| case(3, i, Sizes::default()).problem)
            .collect();
        let logits = cases
            .iter()
            .filter(|v| v.get("base_logits").is_some())
            .count();
        let logs = cases.iter().filter(|v| v["output"] == "log_policy").count();
        assert!(logits > 10 && logs > 10, "{logits} {logs}");
        for v in cases.iter().filter(|v| v.get("base_logits").is_some()) {
            assert!(v.get("base").is_none(), "{v}");
        }
    }
}
