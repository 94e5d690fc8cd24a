//! Python bindings of `rlhf-claims`: every exact solver under the name and argument order of its
//! Rust function, NumPy arrays in and out, the claim registry, and the crate's errors as Python
//! exceptions (one class per error kind).
//!
//! Arrays are read without a copy when they are contiguous `float64` (a `Dist` keeps its own
//! copy of the base, as in Rust); anything array-like is converted first. The solvers run with
//! the GIL released.
//!
//! # Batches, logits, log-policies
//!
//! The solvers of `rlhf_claims::solve::batch` (`tilt`, `kl_budget`, `reward_target`,
//! `condition_on_threshold`, `best_of_n`, `quantilize`, `soft_best_of_n`, `grpo_stationary`)
//! accept 1-D arrays (one problem, as before) or 2-D `B x V` arrays (one problem per row; a 1-D
//! base or reward beside a 2-D one is shared by every row), each scalar parameter one value or a
//! 1-D array of length `B`. A batch's answer has `B x V` arrays, length-`B` arrays of numbers
//! (`NaN` where a single answer has `None`) and lists of strings; row `i` is, bit for bit, the
//! answer of row `i` alone (the batch runs the single-row solver on each row, rows on threads).
//! Their inputs are copied into row-major buffers (one copy of `B x V`). `logits=` (`float64`,
//! or `float32` read as its exact `float64` values; `-inf` masks an outcome) replaces `base`
//! and is read by `Dist::from_logits`; every answer with `policy`, `expected_reward` and `kl`
//! also has `log_policy`, the solver's log view (for the tilt family extended to where the
//! policy underflows, by `Solution::tilt_log_policy`).

use numpy::{AllowTypeChange, PyArray1, PyArrayLike1, PyArrayLike2, PyArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::IntoPyObjectExt;
use rlhf_claims::solve::batch::{self, Bases, Param, Rows};
use rlhf_claims::solve::{self, Comparisons, Divergence, LogLinearClass};
use rlhf_claims::{api, claims, goodhart, report, Dist};
use std::borrow::Cow;

type Array<'py> = PyArrayLike1<'py, f64, AllowTypeChange>;
type Matrix<'py> = PyArrayLike2<'py, f64, AllowTypeChange>;

create_exception!(
    rlhf_claims,
    RlhfClaimsError,
    PyValueError,
    "Base class of the errors raised by the solvers; `kind` is the Rust error's stable name."
);

/// The exception classes, one per `rlhf_claims::Error::kind`, each a subclass of
/// `RlhfClaimsError`, with the kind as a class attribute.
macro_rules! error_kinds {
    ($($class:ident => $kind:literal: $doc:literal),* $(,)?) => {
        $(create_exception!(rlhf_claims, $class, RlhfClaimsError, $doc);)*

        /// The Python exception for a crate error: its kind's class, the Rust message.
        fn to_py_err(e: rlhf_claims::Error) -> PyErr {
            let message = e.to_string();
            match e.kind() {
                $($kind => $class::new_err(message),)*
                _ => RlhfClaimsError::new_err(message),
            }
        }

        /// Registers the exception classes and sets their `kind`.
        fn add_errors(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            let base = py.get_type::<RlhfClaimsError>();
            base.setattr("kind", "error")?;
            m.add("RlhfClaimsError", base)?;
            $(
                let class = py.get_type::<$class>();
                class.setattr("kind", $kind)?;
                m.add(stringify!($class), class)?;
            )*
            Ok(())
        }
    };
}

error_kinds! {
    EmptyError => "empty": "An input vector had no entries.",
    LengthMismatchError => "length_mismatch": "Two inputs that must have the same length do not.",
    NonFiniteError => "non_finite": "A NaN or infinite entry where a finite number is required.",
    NegativeProbabilityError => "negative_probability": "A negative entry in a probability vector.",
    NotNormalizedError => "not_normalized": "Probabilities whose sum differs from 1 by more than the tolerance.",
    InvalidParameterError => "invalid_parameter": "A scalar parameter outside its domain.",
    InfeasibleError => "infeasible": "A constrained problem with no feasible point.",
    NoConvergenceError => "no_convergence": "An iterative method failed to reach its stated tolerance.",
    NotUniqueError => "not_unique": "A problem with more than one solution.",
    InvalidInputError => "invalid_input": "Structurally invalid input (unknown names, malformed problems).",
}

/// The entries of a 1-d array: borrowed when contiguous, else copied in logical order.
fn entries<'a>(a: &'a Array<'_>) -> Cow<'a, [f64]> {
    match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().iter().copied().collect()),
    }
}

/// A validated distribution from a 1-d array.
fn dist(a: &Array<'_>) -> PyResult<Dist> {
    Dist::new(entries(a).into_owned()).map_err(to_py_err)
}

/// The entries of a 2-d array in row-major order, with its shape.
fn row_major(a: &Matrix<'_>) -> (usize, usize, Vec<f64>) {
    let view = a.as_array();
    let (rows, cols) = view.dim();
    (rows, cols, view.iter().copied().collect())
}

/// Runs a solver with the GIL released and turns its error into a Python exception.
fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> rlhf_claims::Result<T> + Send) -> PyResult<T> {
    py.detach(f).map_err(to_py_err)
}

/// Validates `base` and runs `solver(base, reward)` with the GIL released.
fn on_problem<T: Send>(
    py: Python<'_>,
    base: &Array<'_>,
    reward: &Array<'_>,
    solver: impl FnOnce(&Dist, &[f64]) -> rlhf_claims::Result<T> + Send,
) -> PyResult<T> {
    let base = dist(base)?;
    let reward = entries(reward);
    run(py, || solver(&base, &reward))
}

/// The stable name serde gives an enum value (`"binding"`, `"interior"`, ...).
fn serde_name<T: serde::Serialize>(x: &T) -> String {
    match serde_json::to_value(x) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => e.to_string(),
    }
}

/// A solver's answer: the policy (a NumPy array) and its scalars as attributes, in the order
/// of the Rust result's fields. `keys()` names them; `to_dict()` returns them all.
#[pyclass(module = "rlhf_claims", frozen)]
struct Solution {
    solver: &'static str,
    fields: Vec<(&'static str, Py<PyAny>)>,
}

#[pymethods]
impl Solution {
    /// The solver that produced this answer (the Python function's name).
    #[getter]
    fn solver(&self) -> &'static str {
        self.solver
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        self.fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone_ref(py))
            .ok_or_else(|| {
                PyAttributeError::new_err(format!(
                    "{} result has no attribute {name:?} (it has {})",
                    self.solver,
                    self.keys().join(", ")
                ))
            })
    }

    /// The names of the fields.
    fn keys(&self) -> Vec<&'static str> {
        self.fields.iter().map(|(k, _)| *k).collect()
    }

    /// The fields as a dict (arrays are shared, not copied).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.fields {
            d.set_item(k, v.clone_ref(py))?;
        }
        Ok(d)
    }

    fn __dir__(&self) -> Vec<&'static str> {
        let mut names = self.keys();
        names.extend(["solver", "keys", "to_dict"]);
        names
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let parts: PyResult<Vec<String>> = self
            .fields
            .iter()
            .map(|(k, v)| {
                let v = v.bind(py);
                Ok(if v.cast::<PyArray1<f64>>().is_ok() {
                    format!("{k}=<array of {}>", v.len()?)
                } else {
                    format!("{k}={}", v.repr()?)
                })
            })
            .collect();
        Ok(format!("Solution[{}]({})", self.solver, parts?.join(", ")))
    }
}

/// Builds a [`Solution`] field by field.
struct Fields<'py> {
    py: Python<'py>,
    solver: &'static str,
    fields: Vec<(&'static str, Py<PyAny>)>,
}

impl<'py> Fields<'py> {
    fn new(py: Python<'py>, solver: &'static str) -> Self {
        Self {
            py,
            solver,
            fields: Vec::new(),
        }
    }

    fn set<T: IntoPyObject<'py>>(mut self, name: &'static str, value: T) -> PyResult<Self> {
        self.fields.push((name, value.into_py_any(self.py)?));
        Ok(self)
    }

    fn array(self, name: &'static str, values: Vec<f64>) -> PyResult<Self> {
        let a = PyArray1::from_vec(self.py, values);
        self.set(name, a)
    }

    /// `policy`, `log_policy`, `expected_reward`, `kl` of a [`solve::Solution`].
    fn solution(self, s: &solve::Solution) -> PyResult<Self> {
        self.array("policy", s.policy.probs().to_vec())?
            .array("log_policy", s.policy.log_probs().to_vec())?
            .set("expected_reward", s.expected_reward)?
            .set("kl", s.kl)
    }

    fn done(self) -> Solution {
        Solution {
            solver: self.solver,
            fields: self.fields,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One problem or a batch: 1-D or 2-D inputs, a base as probabilities or logits.

/// A per-outcome input: one problem (`rows = None`, a 1-D array) or a batch (`Some(B)`, a
/// `B x V` array), entries in row-major order.
struct Grid<T> {
    rows: Option<usize>,
    cols: usize,
    data: Vec<T>,
}

/// The entries of a 1-D or 2-D array and its shape; other dimensions are
/// [`InvalidInputError`].
fn grid_of<T: numpy::Element + Copy>(
    what: &str,
    view: numpy::ndarray::ArrayViewD<'_, T>,
) -> PyResult<Grid<T>> {
    let shape = view.shape().to_vec();
    let data: Vec<T> = view.iter().copied().collect();
    match shape[..] {
        [cols] => Ok(Grid {
            rows: None,
            cols,
            data,
        }),
        [rows, cols] => Ok(Grid {
            rows: Some(rows),
            cols,
            data,
        }),
        _ => Err(to_py_err(rlhf_claims::Error::InvalidInput(format!(
            "{what} must be a 1-D array (one problem) or a 2-D array (a batch of rows), got shape {shape:?}"
        )))),
    }
}

/// A `float64` grid from anything array-like.
fn f64_grid(what: &str, x: &Bound<'_, PyAny>) -> PyResult<Grid<f64>> {
    let a: numpy::PyArrayLikeDyn<'_, f64, AllowTypeChange> = x.extract()?;
    grid_of(what, a.as_array())
}

/// The base of a call: probabilities, or logits in `float64` or `float32`.
enum BaseGrid {
    Probs(Grid<f64>),
    Logits(Grid<f64>),
    Logits32(Grid<f32>),
}

impl BaseGrid {
    /// Exactly one of `base` and `logits` (both or neither is [`InvalidInputError`]); a
    /// `float32` NumPy array of logits is read as such, anything else as `float64`.
    fn read(base: Option<&Bound<'_, PyAny>>, logits: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        match (base, logits) {
            (Some(b), None) => Ok(Self::Probs(f64_grid("base", b)?)),
            (None, Some(w)) => match w.cast::<numpy::PyArrayDyn<f32>>() {
                Ok(a) => Ok(Self::Logits32(grid_of("logits", a.readonly().as_array())?)),
                Err(_) => Ok(Self::Logits(f64_grid("logits", w)?)),
            },
            _ => Err(to_py_err(rlhf_claims::Error::InvalidInput(
                "give exactly one of base (probabilities) and logits".into(),
            ))),
        }
    }

    fn shape(&self) -> (Option<usize>, usize) {
        match self {
            Self::Probs(g) | Self::Logits(g) => (g.rows, g.cols),
            Self::Logits32(g) => (g.rows, g.cols),
        }
    }

    /// The distribution of a 1-D base.
    fn dist(&self) -> rlhf_claims::Result<Dist> {
        match self {
            Self::Probs(g) => Dist::new(g.data.clone()),
            Self::Logits(g) => Dist::from_logits(&g.data),
            Self::Logits32(g) => Dist::from_logits_f32(&g.data),
        }
    }

    /// The distributions of the rows of a 2-D base (rows in parallel).
    fn dists(&self) -> rlhf_claims::Result<Vec<Dist>> {
        match self {
            Self::Probs(g) => batch::dists_from_probs(Rows::new(&g.data, g.cols)?),
            Self::Logits(g) => batch::dists_from_logits(Rows::new(&g.data, g.cols)?),
            Self::Logits32(g) => batch::dists_from_logits_f32(Rows::new(&g.data, g.cols)?),
        }
    }
}

/// A scalar parameter: one value, or one per row of a batch (a 1-D array of length `B`).
enum ParamArg<T> {
    Shared(T),
    PerRow(Vec<T>),
}

impl<T: Copy> ParamArg<T> {
    /// Reads `x` (required: a missing one is a `TypeError` naming `what`).
    fn read<'py>(what: &str, x: Option<&Bound<'py, PyAny>>) -> PyResult<Self>
    where
        T: pyo3::conversion::FromPyObjectOwned<'py>,
        Vec<T>: pyo3::conversion::FromPyObjectOwned<'py>,
    {
        let x = required(what, x)?;
        if let Ok(v) = x.extract::<T>() {
            return Ok(Self::Shared(v));
        }
        x.extract::<Vec<T>>().map(Self::PerRow).map_err(Into::into)
    }

    /// The value for a single problem (a per-row array is [`rlhf_claims::Error::InvalidInput`]).
    fn one(&self, what: &str) -> rlhf_claims::Result<T> {
        match self {
            Self::Shared(v) => Ok(*v),
            Self::PerRow(_) => Err(rlhf_claims::Error::InvalidInput(format!(
                "{what} is an array, which needs a batch (2-D base or reward)"
            ))),
        }
    }

    fn param(&self) -> Param<'_, T> {
        match self {
            Self::Shared(v) => Param::Shared(*v),
            Self::PerRow(v) => Param::PerRow(v),
        }
    }
}

/// A field value of one row, before it becomes Python.
enum Val {
    F(f64),
    OptF(Option<f64>),
    U(u64),
    S(String),
    Arr(Vec<f64>),
}

/// The fields of one answer, in order.
type Record = Vec<(&'static str, Val)>;

/// `policy`, `log_policy`, `expected_reward`, `kl` of a solution with log-policy `logs`.
fn solution_record(s: &solve::Solution, logs: Vec<f64>) -> Record {
    vec![
        ("policy", Val::Arr(s.policy.probs().to_vec())),
        ("log_policy", Val::Arr(logs)),
        ("expected_reward", Val::F(s.expected_reward)),
        ("kl", Val::F(s.kl)),
    ]
}

/// [`solution_record`] with the solver's own log view.
fn plain_record(s: &solve::Solution) -> Record {
    solution_record(s, s.policy.log_probs().to_vec())
}

/// [`solution_record`] of a tilt at `beta` (`None`: no tilt), the log view extended to where
/// the policy underflows ([`solve::Solution::tilt_log_policy`]).
fn tilt_record(
    s: &solve::Solution,
    (base, reward): (&Dist, &[f64]),
    beta: Option<f64>,
) -> rlhf_claims::Result<Record> {
    Ok(match beta {
        Some(beta) => solution_record(s, s.tilt_log_policy(base, reward, beta)?),
        None => plain_record(s),
    })
}

/// [`tilt_record`] with `beta` and `regime` (the KL-budget and reward-target answers).
fn regime_record<R: serde::Serialize>(
    s: &solve::Solution,
    problem: (&Dist, &[f64]),
    beta: Option<f64>,
    regime: &R,
) -> rlhf_claims::Result<Record> {
    let mut rec = tilt_record(s, problem, beta)?;
    rec.extend([
        ("beta", Val::OptF(beta)),
        ("regime", Val::S(serde_name(regime))),
    ]);
    Ok(rec)
}

/// The answer of one problem or of a batch, as records.
enum Answer {
    One(Record),
    Many(Vec<Record>),
}

/// Solves one problem (base and `reward` 1-D) with `one`, or a batch (either 2-D) with
/// `many`, with the GIL released, turns each result into a record with `record` (given the
/// row's base and reward), and returns the [`Solution`] of `solver`. The base is `base` or
/// `logits` ([`BaseGrid::read`]); a 1-D `reward` with a 2-D base is the reward of every row, a
/// 1-D base with a 2-D `reward` the base of every row.
fn batched<T: Send>(
    py: Python<'_>,
    (solver, base, logits, reward): (&'static str, Arg<'_, '_>, Arg<'_, '_>, Arg<'_, '_>),
    one: impl FnOnce(&Dist, &[f64]) -> rlhf_claims::Result<T> + Send,
    many: impl FnOnce(Bases, Rows) -> rlhf_claims::Result<Vec<T>> + Send,
    record: impl Fn(&T, &Dist, &[f64]) -> rlhf_claims::Result<Record> + Sync,
) -> PyResult<Solution> {
    let base = &BaseGrid::read(base, logits)?;
    let reward = required("reward", reward)?;
    solve_any(py, (base, reward), one, many, record)?.into_solution(py, solver)
}

/// An optional argument.
type Arg<'a, 'py> = Option<&'a Bound<'py, PyAny>>;

/// The [`Answer`] of [`batched`].
fn solve_any<T: Send>(
    py: Python<'_>,
    (base, reward): (&BaseGrid, &Bound<'_, PyAny>),
    one: impl FnOnce(&Dist, &[f64]) -> rlhf_claims::Result<T> + Send,
    many: impl FnOnce(Bases, Rows) -> rlhf_claims::Result<Vec<T>> + Send,
    record: impl Fn(&T, &Dist, &[f64]) -> rlhf_claims::Result<Record> + Sync,
) -> PyResult<Answer> {
    let reward = f64_grid("reward", reward)?;
    let (base_rows, cols) = base.shape();
    let rows = match (base_rows, reward.rows) {
        (None, None) => {
            return run(py, || {
                let b = base.dist()?;
                let t = one(&b, &reward.data)?;
                record(&t, &b, &reward.data)
            })
            .map(Answer::One);
        }
        (Some(b), Some(r)) => {
            rlhf_claims::error::require_same_len("base rows", b, "reward rows", r)
                .map_err(to_py_err)?;
            b
        }
        (Some(b), None) | (None, Some(b)) => b,
    };
    rlhf_claims::error::require_same_len("base columns", cols, "reward columns", reward.cols)
        .map_err(to_py_err)?;
    let rewards = match reward.rows {
        Some(_) => reward.data,
        None => reward.data.repeat(rows),
    };
    run(py, || {
        let (shared, dists) = match base_rows {
            None => (Some(base.dist()?), Vec::new()),
            Some(_) => (None, base.dists()?),
        };
        let bases = match &shared {
            Some(d) => Bases::Shared(d),
            None => Bases::PerRow(&dists),
        };
        let r = Rows::new(&rewards, cols.max(1))?;
        let results = many(bases, r)?;
        results
            .iter()
            .enumerate()
            .map(|(i, t)| record(t, shared.as_ref().unwrap_or_else(|| &dists[i]), r.row(i)))
            .collect::<rlhf_claims::Result<Vec<_>>>()
    })
    .map(Answer::Many)
}

impl Answer {
    /// The [`Solution`] of one problem (arrays 1-D, scalars Python numbers), or of a batch:
    /// each array field a `B x V` array, each number a length-`B` array (`NaN` where one
    /// problem's answer has `None`), each string a list.
    fn into_solution(self, py: Python<'_>, solver: &'static str) -> PyResult<Solution> {
        let mut f = Fields::new(py, solver);
        match self {
            Answer::One(record) => {
                for (k, v) in record {
                    f = match v {
                        Val::F(x) => f.set(k, x)?,
                        Val::OptF(x) => f.set(k, x)?,
                        Val::U(x) => f.set(k, x)?,
                        Val::S(x) => f.set(k, x)?,
                        Val::Arr(x) => f.array(k, x)?,
                    };
                }
            }
            Answer::Many(records) => {
                let b = records.len();
                let Some(first) = records.first() else {
                    return Ok(f.done());
                };
                for (j, (k, v0)) in first.iter().enumerate() {
                    let column = records.iter().map(|r| &r[j].1);
                    f = match v0 {
                        Val::F(_) | Val::OptF(_) => {
                            let xs: Vec<f64> = column
                                .map(|v| match v {
                                    Val::F(x) => *x,
                                    Val::OptF(x) => x.unwrap_or(f64::NAN),
                                    _ => f64::NAN,
                                })
                                .collect();
                            f.array(k, xs)?
                        }
                        Val::U(_) => {
                            let xs: Vec<u64> = column
                                .map(|v| if let Val::U(x) = v { *x } else { 0 })
                                .collect();
                            f.set(k, PyArray1::from_vec(py, xs))?
                        }
                        Val::S(_) => {
                            let xs: Vec<String> = column
                                .map(|v| {
                                    if let Val::S(x) = v {
                                        x.clone()
                                    } else {
                                        String::new()
                                    }
                                })
                                .collect();
                            f.set(k, xs)?
                        }
                        Val::Arr(a0) => {
                            let len = a0.len();
                            let mut all = Vec::with_capacity(b * len);
                            for v in column {
                                if let Val::Arr(x) = v {
                                    all.extend_from_slice(x);
                                }
                            }
                            let a = PyArray1::from_vec(py, all).reshape([b, len])?;
                            f.set(k, a)?
                        }
                    };
                }
            }
        }
        Ok(f.done())
    }
}

/// The KL-regularized optimum `pi_beta = argmax E_pi[r] - beta KL(pi||base)`, `pi_beta ∝ base
/// exp(reward/beta)`.
///
/// Returns `policy`, `log_policy`, `expected_reward`, `kl` (KL(policy||base), nats), `beta`,
/// `log_partition` (log E_base[exp(r/beta)]; may be inf), `reward_variance`, `reward_gain`
/// (E_policy[r] - E_base[r]) and `objective` (E[r] - beta KL). Batched (2-D) as described in
/// the module docs.
#[pyfunction]
#[pyo3(signature = (base = None, reward = None, beta = None, *, logits = None))]
fn tilt(
    py: Python<'_>,
    base: Option<Bound<'_, PyAny>>,
    reward: Option<Bound<'_, PyAny>>,
    beta: Option<Bound<'_, PyAny>>,
    logits: Option<Bound<'_, PyAny>>,
) -> PyResult<Solution> {
    let beta = ParamArg::<f64>::read("beta", beta.as_ref())?;
    batched(
        py,
        ("tilt", base.as_ref(), logits.as_ref(), reward.as_ref()),
        |b, r| solve::tilt(b, r, beta.one("beta")?),
        |b, r| batch::tilt(b, r, beta.param()),
        |t, b, r| {
            let mut rec = tilt_record(&t.solution, (b, r), Some(t.beta))?;
            rec.extend([
                ("beta", Val::F(t.beta)),
                ("log_partition", Val::F(t.log_partition)),
                ("reward_variance", Val::F(t.reward_variance)),
                ("reward_gain", Val::F(t.reward_gain)),
                ("objective", Val::F(t.objective())),
            ]);
            Ok(rec)
        },
    )
}

/// A required argument (its absence a `TypeError`, as for a missing positional argument).
fn required<'a, 'py>(
    what: &str,
    x: Option<&'a Bound<'py, PyAny>>,
) -> PyResult<&'a Bound<'py, PyAny>> {
    x.ok_or_else(|| {
        pyo3::exceptions::PyTypeError::new_err(format!("missing required argument {what}"))
    })
}

/// `max E_pi[r] s.t. KL(pi||base) <= eps`.
///
/// Returns the solution fields, `beta` (None when no finite beta attains it; NaN in a batch)
/// and `regime` (`"zero"`, `"binding"` or `"slack"`).
#[pyfunction]
#[pyo3(signature = (base = None, reward = None, eps = None, *, logits = None))]
fn kl_budget(
    py: Python<'_>,
    base: Option<Bound<'_, PyAny>>,
    reward: Option<Bound<'_, PyAny>>,
    eps: Option<Bound<'_, PyAny>>,
    logits: Option<Bound<'_, PyAny>>,
) -> PyResult<Solution> {
    let eps = ParamArg::<f64>::read("eps", eps.as_ref())?;
    batched(
        py,
        ("kl_budget", base.as_ref(), logits.as_ref(), reward.as_ref()),
        |b, r| solve::kl_budget(b, r, eps.one("eps")?),
        |b, r| batch::kl_budget(b, r, eps.param()),
        |s, b, r| regime_record(&s.solution, (b, r), s.beta, &s.regime),
    )
}

/// `min KL(pi||base) s.t. E_pi[r] >= c`.
///
/// Returns the solution fields, `beta` (None when no finite beta attains it; NaN in a batch)
/// and `regime` (`"unconstrained"`, `"interior"` or `"boundary"`).
#[pyfunction]
#[pyo3(signature = (base = None, reward = None, c = None, *, logits = None))]
fn reward_target(
    py: Python<'_>,
    base: Option<Bound<'_, PyAny>>,
    reward: Option<Bound<'_, PyAny>>,
    c: Option<Bound<'_, PyAny>>,
    logits: Option<Bound<'_, PyAny>>,
) -> PyResult<Solution> {
    let c = ParamArg::<f64>::read("c", c.as_ref())?;
    batched(
        py,
        (
            "reward_target",
            base.as_ref(),
            logits.as_ref(),
            reward.as_ref(),
        ),
        |b, r| solve::reward_target(b, r, c.one("c")?),
        |b, r| batch::reward_target(b, r, c.param()),
        |s, b, r| regime_record(&s.solution, (b, r), s.beta, &s.regime),
    )
}

/// The max-entropy policy `softmax(reward/alpha)` (`kl` is against the uniform policy).
///
/// Returns the solution fields, `alpha`, `value` (E[r] + alpha H) and `entropy` (nats).
#[pyfunction]
fn maxent(py: Python<'_>, reward: Array<'_>, alpha: f64) -> PyResult<Solution> {
    let reward = entries(&reward);
    let m = run(py, || solve::maxent(&reward, alpha))?;
    Fields::new(py, "maxent")
        .solution(&m.solution)?
        .set("alpha", m.alpha)?
        .set("value", m.value)?
        .set("entropy", m.entropy)
        .map(Fields::done)
}

/// The base conditioned on `reward >= threshold`: `policy`, `log_policy`, `expected_reward`,
/// `kl`.
#[pyfunction]
#[pyo3(signature = (base = None, reward = None, threshold = None, *, logits = None))]
fn condition_on_threshold(
    py: Python<'_>,
    base: Option<Bound<'_, PyAny>>,
    reward: Option<Bound<'_, PyAny>>,
    threshold: Option<Bound<'_, PyAny>>,
    logits: Option<Bound<'_, PyAny>>,
) -> PyResult<Solution> {
    let threshold = ParamArg::<f64>::read("threshold", threshold.as_ref())?;
    batched(
        py,
        (
            "condition_on_threshold",
            base.as_ref(),
            logits.as_ref(),
            reward.as_ref(),
        ),
        |b, r| solve::condition_on_threshold(b, r, threshold.one("threshold")?),
        |b, r| batch::condition(b, r, threshold.param()),
        |s, _, _| Ok(plain_record(s)),
    )
}

/// The base conditioned on an event (a boolean per outcome): `policy`, `expected_reward`, `kl`.
#[pyfunction]
fn condition_on_event(
    py: Python<'_>,
    base: Array<'_>,
    reward: Array<'_>,
    event: Vec<bool>,
) -> PyResult<Solution> {
    let s = on_problem(py, &base, &reward, |b, r| {
        solve::condition_on_event(b, r, &event)
    })?;
    Fields::new(py, "condition_on_event")
        .solution(&s)
        .map(Fields::done)
}

/// Best-of-n: draw `n` from the base, keep one of highest reward (ties uniformly).
///
/// Returns the solution fields, `n`, `kl_bound` (log n - (n-1)/n), `win_rate_half_ties` and
/// `win_rate_strict` (against a fresh base draw).
#[pyfunction]
#[pyo3(signature = (base = None, reward = None, n = None, *, logits = None))]
fn best_of_n(
    py: Python<'_>,
    base: Option<Bound<'_, PyAny>>,
    reward: Option<Bound<'_, PyAny>>,
    n: Option<Bound<'_, PyAny>>,
    logits: Option<Bound<'_, PyAny>>,
) -> PyResult<Solution> {
    let n = ParamArg::<u64>::read("n", n.as_ref())?;
    batched(
        py,
        ("best_of_n", base.as_ref(), logits.as_ref(), reward.as_ref()),
        |b, r| solve::best_of_n(b, r, n.one("n")?),
        |b, r| batch::best_of_n(b, r, n.param()),
        |s, _, _| {
            let mut rec = plain_record(&s.solution);
            rec.extend([
                ("n", Val::U(s.n)),
                ("kl_bound", Val::F(s.kl_bound)),
                ("win_rate_half_ties", Val::F(s.win_rate_half_ties)),
                ("win_rate_strict", Val::F(s.win_rate_strict)),
            ]);
            Ok(rec)
        },
    )
}

fn quantilizer_fields(
    py: Python<'_>,
    solver: &'static str,
    s: &solve::Quantilizer,
) -> PyResult<Solution> {
    Fields::new(py, solver)
        .solution(&s.solution)?
        .set("q", s.q)?
        .set("boundary_reward", s.boundary_reward)?
        .set("boundary_fraction", s.boundary_fraction)
        .map(Fields::done)
}

/// The q-quantilizer: the base restricted to its top `q` mass by reward.
///
/// Returns the solution fields, `q`, `boundary_reward` and `boundary_fraction`.
#[pyfunction]
#[pyo3(signature = (base = None, reward = None, q = None, *, logits = None))]
fn quantilize(
    py: Python<'_>,
    base: Option<Bound<'_, PyAny>>,
    reward: Option<Bound<'_, PyAny>>,
    q: Option<Bound<'_, PyAny>>,
    logits: Option<Bound<'_, PyAny>>,
) -> PyResult<Solution> {
    let q = ParamArg::<f64>::read("q", q.as_ref())?;
    batched(
        py,
        (
            "quantilize",
            base.as_ref(),
            logits.as_ref(),
            reward.as_ref(),
        ),
        |b, r| solve::quantilize(b, r, q.one("q")?),
        |b, r| batch::quantilize(b, r, q.param()),
        |s, _, _| {
            let mut rec = plain_record(&s.solution);
            rec.extend([
                ("q", Val::F(s.q)),
                ("boundary_reward", Val::F(s.boundary_reward)),
                ("boundary_fraction", Val::F(s.boundary_fraction)),
            ]);
            Ok(rec)
        },
    )
}

/// The quantilizer whose KL to the base is `eps` (fields as for `quantilize`).
#[pyfunction]
fn quantilizer_at_kl(
    py: Python<'_>,
    base: Array<'_>,
    reward: Array<'_>,
    eps: f64,
) -> PyResult<Solution> {
    let s = on_problem(py, &base, &reward, |b, r| {
        solve::quantilizer_at_kl(b, r, eps)
    })?;
    quantilizer_fields(py, "quantilizer_at_kl", &s)
}

fn fdiv_fields(py: Python<'_>, solver: &'static str, s: &solve::FdivOptimum) -> PyResult<Solution> {
    Fields::new(py, solver)
        .solution(&s.solution)?
        .set("divergence", s.divergence.label())?
        .set("beta", s.beta)?
        .set("lambda_", s.lambda)?
        .set("divergence_value", s.divergence_value)?
        .set("objective", s.objective())
        .map(Fields::done)
}

/// Reads a divergence: `"reverse_kl"`, `"forward_kl"`, `"chi_square"`, or a float `alpha`
/// (Amari's alpha-divergence).
fn divergence(d: &Bound<'_, PyAny>) -> PyResult<Divergence> {
    if let Ok(alpha) = d.extract::<f64>() {
        return Ok(Divergence::Alpha(alpha));
    }
    match d.extract::<String>()?.as_str() {
        "reverse_kl" => Ok(Divergence::ReverseKl),
        "forward_kl" => Ok(Divergence::ForwardKl),
        "chi_square" => Ok(Divergence::ChiSquare),
        other => Err(to_py_err(rlhf_claims::Error::InvalidInput(format!(
            "divergence must be \"reverse_kl\", \"forward_kl\", \"chi_square\" or a float alpha, got {other:?}"
        )))),
    }
}

/// `argmax E_pi[r] - beta D_f(pi||base)` for an f-divergence: `"reverse_kl"`, `"forward_kl"`,
/// `"chi_square"`, or a float `alpha` (Amari's alpha-divergence).
///
/// Returns the solution fields, `divergence` (its label), `beta`, `lambda_` (the
/// normalization multiplier), `divergence_value` and `objective`.
#[pyfunction]
fn fdiv_optimum(
    py: Python<'_>,
    base: Array<'_>,
    reward: Array<'_>,
    divergence: &Bound<'_, PyAny>,
    beta: f64,
) -> PyResult<Solution> {
    let d = self::divergence(divergence)?;
    let s = on_problem(py, &base, &reward, |b, r| {
        solve::fdiv_optimum(b, r, d, beta)
    })?;
    fdiv_fields(py, "fdiv_optimum", &s)
}

/// The pretraining-mix optimum `argmax E[r] + gamma E_base[log pi]`
/// (`policy = gamma base / (lambda_ - reward)`); fields as for `fdiv_optimum`.
#[pyfunction]
fn forward_kl(
    py: Python<'_>,
    base: Array<'_>,
    reward: Array<'_>,
    gamma: f64,
) -> PyResult<Solution> {
    let s = on_problem(py, &base, &reward, |b, r| solve::forward_kl(b, r, gamma))?;
    fdiv_fields(py, "forward_kl", &s)
}

/// `max W(pi) s.t. KL(pi||base) <= eps`, `W` the win rate against the base (ties half).
///
/// Returns the solution fields, `win_rate`, `beta` (None when no finite beta) and `regime`.
#[pyfunction]
fn winrate_optimal(
    py: Python<'_>,
    base: Array<'_>,
    reward: Array<'_>,
    eps: f64,
) -> PyResult<Solution> {
    let s = on_problem(py, &base, &reward, |b, r| solve::winrate_optimal(b, r, eps))?;
    Fields::new(py, "winrate_optimal")
        .solution(&s.solution)?
        .set("win_rate", s.win_rate)?
        .set("beta", s.beta)?
        .set("regime", serde_name(&s.regime))
        .map(Fields::done)
}

/// Soft best-of-n: draw `n` from the base, return one with probability proportional to
/// `exp(reward/temperature)`.
///
/// Returns the solution fields, `n`, `temperature`, `kl_to_tilt` (KL(policy||tilt at beta =
/// temperature)) and `nodes` (quadrature nodes used).
#[pyfunction]
#[pyo3(signature = (base = None, reward = None, n = None, temperature = None, *, logits = None))]
fn soft_best_of_n(
    py: Python<'_>,
    base: Option<Bound<'_, PyAny>>,
    reward: Option<Bound<'_, PyAny>>,
    n: Option<Bound<'_, PyAny>>,
    temperature: Option<Bound<'_, PyAny>>,
    logits: Option<Bound<'_, PyAny>>,
) -> PyResult<Solution> {
    let n = ParamArg::<u64>::read("n", n.as_ref())?;
    let temperature = ParamArg::<f64>::read("temperature", temperature.as_ref())?;
    batched(
        py,
        (
            "soft_best_of_n",
            base.as_ref(),
            logits.as_ref(),
            reward.as_ref(),
        ),
        |b, r| solve::soft_best_of_n(b, r, n.one("n")?, temperature.one("temperature")?),
        |b, r| batch::soft_best_of_n(b, r, n.param(), temperature.param()),
        |s, _, _| {
            let mut rec = plain_record(&s.solution);
            rec.extend([
                ("n", Val::U(s.n)),
                ("temperature", Val::F(s.temperature)),
                ("kl_to_tilt", Val::F(s.kl_to_tilt)),
                ("nodes", Val::U(s.nodes as u64)),
            ]);
            Ok(rec)
        },
    )
}

/// The chiPO optimum `argmax E[r] - beta (chi2(pi||base)/2 + KL(pi||base))`.
///
/// Returns the solution fields, `beta` and `lambda_` (`policy = base W(exp((r - lambda_)/beta))`).
#[pyfunction]
fn chipo(py: Python<'_>, base: Array<'_>, reward: Array<'_>, beta: f64) -> PyResult<Solution> {
    let s = on_problem(py, &base, &reward, |b, r| solve::chipo(b, r, beta))?;
    Fields::new(py, "chipo")
        .solution(&s.solution)?
        .set("beta", s.beta)?
        .set("lambda_", s.lambda)
        .map(Fields::done)
}

/// The stationary point of population GRPO. The Rust `GrpoConfig` is given as its fields:
/// `beta > 0` (one per row of a batch, or one for all), `group_size` (an integer >= 2 or
/// `"infinite"`), `std` (`"sample"` or `"population"`), `kl` (`"k3_loss"` or `"k3_ratio"`).
///
/// Returns the solution fields, `kl_forward` (KL(base||policy)), `advantage` (per outcome)
/// and `residual`.
#[pyfunction]
#[pyo3(signature = (base = None, reward = None, beta = None, group_size = None, std = "sample", kl = "k3_loss", *, logits = None))]
#[allow(clippy::too_many_arguments)]
fn grpo_stationary(
    py: Python<'_>,
    base: Option<Bound<'_, PyAny>>,
    reward: Option<Bound<'_, PyAny>>,
    beta: Option<Bound<'_, PyAny>>,
    group_size: Option<Bound<'_, PyAny>>,
    std: &str,
    kl: &str,
    logits: Option<Bound<'_, PyAny>>,
) -> PyResult<Solution> {
    let beta = ParamArg::<f64>::read("beta", beta.as_ref())?;
    let group_size = required("group_size", group_size.as_ref())?;
    let group_size = match group_size.extract::<u64>() {
        Ok(g) => serde_json::Value::from(g),
        Err(_) => serde_json::Value::from(group_size.extract::<String>()?),
    };
    let config = |b: f64| api::grpo_config(b, &group_size, std, kl).map_err(to_py_err);
    let config = match &beta {
        ParamArg::Shared(b) => ParamArg::Shared(config(*b)?),
        ParamArg::PerRow(bs) => {
            ParamArg::PerRow(bs.iter().map(|&b| config(b)).collect::<PyResult<_>>()?)
        }
    };
    batched(
        py,
        (
            "grpo_stationary",
            base.as_ref(),
            logits.as_ref(),
            reward.as_ref(),
        ),
        |b, r| solve::grpo_stationary(b, r, &config.one("beta")?),
        |b, r| batch::grpo(b, r, config.param()),
        |s, _, _| {
            let mut rec = plain_record(&s.solution);
            rec.extend([
                ("kl_forward", Val::F(s.kl_forward)),
                ("advantage", Val::Arr(s.advantage.clone())),
                ("residual", Val::F(s.residual)),
            ]);
            Ok(rec)
        },
    )
}

/// Reads a name through the enum's serde names (`"k1"`, `"loss_ratio"`, ...).
fn by_name<T: serde::de::DeserializeOwned>(what: &str, name: &str) -> PyResult<T> {
    serde_json::from_value(serde_json::Value::from(name)).map_err(|e| {
        to_py_err(rlhf_claims::Error::InvalidInput(format!(
            "bad {what} {name:?}: {e}"
        )))
    })
}

/// The exact expected gradient, with respect to `logits`, of a KL estimator `k` (`"k1"`,
/// `"k2"`, `"k3"`) in a placement (`"reward"`, `"loss"`, `"loss_ratio"`), samples drawn from
/// `softmax(behavior_logits)` (None: from the policy itself).
///
/// Returns `gradient`, `reverse_kl_gradient` (None when `base` has a zero) and
/// `forward_kl_gradient`.
#[pyfunction]
fn kl_gradients(
    py: Python<'_>,
    base: Array<'_>,
    logits: Array<'_>,
    behavior_logits: Option<Array<'_>>,
    k: &str,
    placement: &str,
) -> PyResult<Solution> {
    let k = by_name("estimator", k)?;
    let placement = by_name("placement", placement)?;
    let base = dist(&base)?;
    let logits = entries(&logits);
    let behavior = behavior_logits.as_ref().map(entries);
    let g = run(py, || {
        solve::kl_gradient::kl_gradients(&base, &logits, behavior.as_deref(), k, placement)
    })?;
    let f = Fields::new(py, "kl_gradients").array("gradient", g.gradient)?;
    let f = match g.reverse_kl_gradient {
        Some(v) => f.array("reverse_kl_gradient", v)?,
        None => f.set("reverse_kl_gradient", py.None())?,
    };
    f.array("forward_kl_gradient", g.forward_kl_gradient)
        .map(Fields::done)
}

/// Pairwise comparisons: pair weights `w(x, y)` (symmetric, >= 0) and preference
/// probabilities `P(x, y)` (`P(x,y) + P(y,x) = 1` on weighted pairs), both `n x n`.
#[pyclass(name = "Comparisons", module = "rlhf_claims", frozen)]
struct PyComparisons(Comparisons);

#[pymethods]
impl PyComparisons {
    #[new]
    fn new(weight: Matrix<'_>, prefs: Matrix<'_>) -> PyResult<Self> {
        let (n, _, w) = row_major(&weight);
        let (_, _, p) = row_major(&prefs);
        matrix_shape("weight", &weight, n)?;
        matrix_shape("prefs", &prefs, n)?;
        Comparisons::from_row_major(n, &w, &p)
            .map(Self)
            .map_err(to_py_err)
    }

    /// Bradley-Terry preferences `P(x, y) = sigmoid(r(x) - r(y))` on the pairs of `weight`.
    #[staticmethod]
    fn bradley_terry(reward: Array<'_>, weight: Matrix<'_>) -> PyResult<Self> {
        let reward = entries(&reward);
        matrix_shape("weight", &weight, reward.len())?;
        let (_, _, w) = row_major(&weight);
        Comparisons::bradley_terry_row_major(&reward, &w)
            .map(Self)
            .map_err(to_py_err)
    }

    /// The pair weights of independent draws `x, y ~ mu` (`mu(x) mu(y)` off the diagonal).
    #[staticmethod]
    fn product_weights<'py>(
        py: Python<'py>,
        mu: Array<'py>,
    ) -> PyResult<Bound<'py, numpy::PyArray2<f64>>> {
        let mu = dist(&mu)?;
        let w = Comparisons::product_weights_row_major(&mu);
        let rows: Vec<Vec<f64>> = w.chunks(mu.len()).map(<[f64]>::to_vec).collect();
        numpy::PyArray2::from_vec2(py, &rows).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }
}

/// A square `n x n` matrix, or a [`LengthMismatchError`] naming its shape.
fn matrix_shape(what: &'static str, m: &Matrix<'_>, n: usize) -> PyResult<()> {
    let (rows, cols) = m.as_array().dim();
    rlhf_claims::error::require_same_len(what, rows * cols, "n^2 for n outcomes", n * n)
        .and_then(|()| rlhf_claims::error::require_same_len(what, rows, "its columns", cols))
        .map_err(to_py_err)
}

fn preference_fields(
    py: Python<'_>,
    solver: &'static str,
    s: solve::PreferenceOptimum,
) -> PyResult<Solution> {
    Fields::new(py, solver)
        .array("policy", s.policy.probs().to_vec())?
        .array("log_ratio", s.log_ratio)?
        .set("loss", s.loss)?
        .set("gradient_norm", s.gradient_norm)?
        .set("iterations", s.iterations)
        .map(Fields::done)
}

/// The policy minimizing the population DPO loss at `beta` over all policies (`InfeasibleError`
/// when the infimum is not attained).
///
/// Returns `policy`, `log_ratio` (log policy/base), `loss`, `gradient_norm`, `iterations`.
#[pyfunction]
fn dpo_minimizer(
    py: Python<'_>,
    base: Array<'_>,
    c: PyRef<'_, PyComparisons>,
    beta: f64,
) -> PyResult<Solution> {
    let base = dist(&base)?;
    let c = &c.0;
    let s = run(py, || solve::preference::dpo_minimizer(&base, c, beta))?;
    preference_fields(py, "dpo_minimizer", s)
}

/// The policy minimizing the population IPO loss with regularization `tau`; fields as for
/// `dpo_minimizer`.
#[pyfunction]
fn ipo_minimizer(
    py: Python<'_>,
    base: Array<'_>,
    c: PyRef<'_, PyComparisons>,
    tau: f64,
) -> PyResult<Solution> {
    let base = dist(&base)?;
    let c = &c.0;
    let s = run(py, || solve::preference::ipo_minimizer(&base, c, tau))?;
    preference_fields(py, "ipo_minimizer", s)
}

/// The temperatures `tau = beta sigma_tau(reward)`, increasing: the tilts at them are GRPO's
/// candidate stationary points at `group_size = "infinite"` with `kl = "k3_ratio"` (none or
/// several; `grpo_stationary` refuses those problems).
#[pyfunction]
fn grpo_ratio_temperatures<'py>(
    py: Python<'py>,
    base: Array<'py>,
    reward: Array<'py>,
    beta: f64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let taus = on_problem(py, &base, &reward, |b, r| {
        solve::grpo::ratio_temperatures(b, r, beta)
    })?;
    Ok(PyArray1::from_vec(py, taus))
}

/// Whether the population DPO loss attains its infimum on these comparisons.
#[pyfunction]
fn dpo_has_minimizer(c: PyRef<'_, PyComparisons>) -> PyResult<bool> {
    solve::preference::dpo_has_minimizer(&c.0).map_err(to_py_err)
}

/// The log-linear class `pi_theta(x) ∝ base(x) exp(theta . phi(x))`, features an `n x k`
/// matrix (row `x` is `phi(x)`).
#[pyclass(name = "LogLinearClass", module = "rlhf_claims", frozen)]
struct PyLogLinearClass(LogLinearClass);

#[pymethods]
impl PyLogLinearClass {
    #[new]
    fn new(base: Array<'_>, features: Matrix<'_>) -> PyResult<Self> {
        let base = dist(&base)?;
        let (_, k, phi) = row_major(&features);
        LogLinearClass::from_row_major(base, k, &phi)
            .map(Self)
            .map_err(to_py_err)
    }

    /// Number of parameters `k`.
    fn dim(&self) -> usize {
        self.0.dim()
    }
}

/// The KL-regularized optimum within a log-linear class:
/// `argmax_theta E_theta[r] - beta KL(pi_theta||base)`.
///
/// Returns `theta`, `policy`, `objective`, `gradient_norm`, `newton_decrement`,
/// `max_hessian_eigenvalue`, `iterations`.
#[pyfunction]
fn class_optimum(
    py: Python<'_>,
    class_: PyRef<'_, PyLogLinearClass>,
    reward: Array<'_>,
    beta: f64,
) -> PyResult<Solution> {
    let reward = entries(&reward);
    let class = &class_.0;
    let s = run(py, || solve::class_optimum(class, &reward, beta))?;
    Fields::new(py, "class_optimum")
        .array("theta", s.theta)?
        .array("policy", s.policy.probs().to_vec())?
        .set("objective", s.objective)?
        .set("gradient_norm", s.gradient_norm)?
        .set("newton_decrement", s.newton_decrement)?
        .set("max_hessian_eigenvalue", s.max_hessian_eigenvalue)?
        .set("iterations", s.iterations)
        .map(Fields::done)
}

/// The range of `E_pi[truth]` over all `pi` with `KL(pi||base) <= eps` (the Goodhart
/// frontier), with the Pinsker and sub-Gaussian bounds on it.
///
/// Returns `eps`, `base_mean`, `low`, `high`, `pinsker`, `variance_proxy`, `sub_gaussian`.
#[pyfunction]
fn true_utility_range(
    py: Python<'_>,
    base: Array<'_>,
    truth: Array<'_>,
    eps: f64,
) -> PyResult<Solution> {
    let r = on_problem(py, &base, &truth, |b, t| {
        goodhart::frontier::true_utility_range(b, t, eps)
    })?;
    Fields::new(py, "true_utility_range")
        .set("eps", r.eps)?
        .set("base_mean", r.base_mean)?
        .set("low", r.low)?
        .set("high", r.high)?
        .set("pinsker", r.pinsker)?
        .set("variance_proxy", r.variance_proxy)?
        .set("sub_gaussian", r.sub_gaussian)
        .map(Fields::done)
}

/// Best-of-n on `U` for a standard bivariate normal `(U, V)` with correlation `rho`
/// (`goodhart::gaussian::best_of_n` in Rust).
///
/// Returns `expected_proxy` (E[U]), `expected_true` (E[V]) and `kl`.
#[pyfunction]
fn gaussian_best_of_n(py: Python<'_>, n: u64, rho: f64) -> PyResult<Solution> {
    let g = run(py, || goodhart::gaussian::best_of_n(n, rho))?;
    Fields::new(py, "gaussian_best_of_n")
        .set("expected_proxy", g.expected_proxy)?
        .set("expected_true", g.expected_true)?
        .set("kl", g.kl)
        .map(Fields::done)
}

/// Sets the most threads one solver call uses, process-wide (`0` restores the default: the
/// environment variable `RLHF_CLAIMS_THREADS`, else the available parallelism capped at 8).
#[pyfunction]
fn set_max_threads(n: usize) {
    rlhf_claims::set_max_threads(n);
}

/// The most threads one solver call uses.
#[pyfunction]
fn max_threads() -> usize {
    rlhf_claims::max_threads()
}

/// Parses a JSON string with Python's `json` module.
fn json_loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

/// The registered claims, each a dict: `id`, `title`, `status`, `sources`, `statement`,
/// `proof`, `settled`, `control`, `witnesses`, `machine_checked`.
#[pyfunction]
fn list(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let text = report::list(&claims::all(), report::Format::Json);
    Ok(json_loads(py, &text)?
        .get_item("claims")?
        .cast_into::<PyList>()?)
}

/// Checks claims (ids like `"kl.tilt"` or families like `"kl"`; all when None) with their
/// controls, `cases` per property (default: PROPTEST_CASES or 256), generator `seed`, and the
/// sampled witnesses when `witnesses` is true. Returns one dict per claim with `id`, `passed`
/// (the verdict, control included), `status`, `cases`, `control`, ...
#[pyfunction]
#[pyo3(signature = (ids = None, cases = None, seed = 0, witnesses = false))]
fn check(
    py: Python<'_>,
    ids: Option<Vec<String>>,
    cases: Option<u32>,
    seed: u64,
    witnesses: bool,
) -> PyResult<Bound<'_, PyList>> {
    let chosen = claims::select(ids.as_deref().unwrap_or(&[])).map_err(to_py_err)?;
    let mut config = claims::CheckConfig::default();
    if let Some(n) = cases {
        if n == 0 {
            return Err(to_py_err(rlhf_claims::Error::InvalidParameter {
                name: "cases",
                value: 0.0,
                requirement: ">= 1 (a check of zero cases is no evidence)",
            }));
        }
        config.cases = n;
    }
    config.seed = seed;
    let results: Vec<_> = py.detach(|| {
        chosen
            .into_iter()
            .map(|c| {
                let v = if witnesses {
                    c.run_with_witnesses(&config)
                } else {
                    c.run(&config)
                };
                (c, v)
            })
            .collect()
    });
    let text = report::check(&results, report::Format::Json);
    Ok(json_loads(py, &text)?
        .get_item("claims")?
        .cast_into::<PyList>()?)
}

/// Exact solvers for RLHF objectives on finite outcome spaces, and the registry of checked
/// claims about them. Arrays in and out are NumPy `float64`; errors are subclasses of
/// `RlhfClaimsError` (a `ValueError`) with the Rust error's `kind` and message.
#[pymodule]
#[pyo3(name = "rlhf_claims")]
fn py_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_errors(m)?;
    m.add_class::<Solution>()?;
    m.add_class::<PyComparisons>()?;
    m.add_class::<PyLogLinearClass>()?;
    m.add_function(wrap_pyfunction!(tilt, m)?)?;
    m.add_function(wrap_pyfunction!(kl_budget, m)?)?;
    m.add_function(wrap_pyfunction!(reward_target, m)?)?;
    m.add_function(wrap_pyfunction!(maxent, m)?)?;
    m.add_function(wrap_pyfunction!(condition_on_threshold, m)?)?;
    m.add_function(wrap_pyfunction!(condition_on_event, m)?)?;
    m.add_function(wrap_pyfunction!(best_of_n, m)?)?;
    m.add_function(wrap_pyfunction!(quantilize, m)?)?;
    m.add_function(wrap_pyfunction!(quantilizer_at_kl, m)?)?;
    m.add_function(wrap_pyfunction!(fdiv_optimum, m)?)?;
    m.add_function(wrap_pyfunction!(forward_kl, m)?)?;
    m.add_function(wrap_pyfunction!(winrate_optimal, m)?)?;
    m.add_function(wrap_pyfunction!(soft_best_of_n, m)?)?;
    m.add_function(wrap_pyfunction!(chipo, m)?)?;
    m.add_function(wrap_pyfunction!(grpo_stationary, m)?)?;
    m.add_function(wrap_pyfunction!(kl_gradients, m)?)?;
    m.add_function(wrap_pyfunction!(dpo_minimizer, m)?)?;
    m.add_function(wrap_pyfunction!(ipo_minimizer, m)?)?;
    m.add_function(wrap_pyfunction!(dpo_has_minimizer, m)?)?;
    m.add_function(wrap_pyfunction!(grpo_ratio_temperatures, m)?)?;
    m.add_function(wrap_pyfunction!(class_optimum, m)?)?;
    m.add_function(wrap_pyfunction!(true_utility_range, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian_best_of_n, m)?)?;
    m.add_function(wrap_pyfunction!(list, m)?)?;
    m.add_function(wrap_pyfunction!(set_max_threads, m)?)?;
    m.add_function(wrap_pyfunction!(max_threads, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
