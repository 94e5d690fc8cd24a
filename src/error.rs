//! The crate's one error type.
//!
//! Every fallible public function returns [`Result<T>`]. Validation happens at the boundary
//! (constructing a [`Dist`](crate::Dist), calling a solver); after that, code may assume validity.

/// Everything that can go wrong when a caller hands the crate a problem.
///
/// [`Error::kind`] gives a stable machine-readable name (used in the CLI's JSON error object).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input vector had no entries.
    #[error("empty input: {what} has no entries")]
    Empty {
        /// Which input was empty.
        what: &'static str,
    },
    /// Two inputs that must have the same length do not.
    #[error("length mismatch: {left} has {left_len} entries but {right} has {right_len}")]
    LengthMismatch {
        /// The first input's name.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// The second input's name.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// A NaN or infinite entry where a finite number is required.
    #[error("non-finite value in {what} at index {index}: {value}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Position of the offending entry.
        index: usize,
        /// The entry.
        value: f64,
    },
    /// A negative entry in a probability vector.
    #[error("negative probability at index {index}: {value}")]
    NegativeProbability {
        /// Position of the offending entry.
        index: usize,
        /// The entry.
        value: f64,
    },
    /// Probabilities whose sum differs from 1 by more than the stated tolerance.
    #[error(
        "probabilities sum to {sum}, which differs from 1 by more than the tolerance {tolerance}"
    )]
    NotNormalized {
        /// The (compensated) sum of the entries.
        sum: f64,
        /// The allowed absolute deviation, [`crate::dist::NORMALIZATION_TOLERANCE`].
        tolerance: f64,
    },
    /// A scalar parameter outside its domain (beta <= 0, q outside (0, 1], N = 0, ...).
    #[error("invalid parameter {name} = {value}: must be {requirement}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The domain, in words.
        requirement: &'static str,
    },
    /// A constrained problem with no feasible point (reward target above the maximum reward,
    /// conditioning on an event of base probability zero, ...).
    #[error("infeasible: {0}")]
    Infeasible(String),
    /// An iterative method failed to reach its stated tolerance.
    #[error("no convergence: {0}")]
    NoConvergence(String),
    /// A problem with more than one solution where the caller asked for the solution (for
    /// example several stationary points of an update rule).
    #[error("not unique: {0}")]
    NotUnique(String),
    /// Input that is well-formed numerically but structurally invalid (for example a malformed
    /// JSON problem).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl Error {
    /// A stable, machine-readable name for the variant (`"empty"`, `"length_mismatch"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Empty { .. } => "empty",
            Error::LengthMismatch { .. } => "length_mismatch",
            Error::NonFinite { .. } => "non_finite",
            Error::NegativeProbability { .. } => "negative_probability",
            Error::NotNormalized { .. } => "not_normalized",
            Error::InvalidParameter { .. } => "invalid_parameter",
            Error::Infeasible(_) => "infeasible",
            Error::NoConvergence(_) => "no_convergence",
            Error::InvalidInput(_) => "invalid_input",
            Error::NotUnique(_) => "not_unique",
        }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that `value` is finite and strictly positive; the common requirement on beta, alpha,
/// gamma and temperatures.
pub fn require_positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            requirement: "finite and > 0",
        })
    }
}

/// Checks that every entry of `values` is finite.
pub fn require_finite(what: &'static str, values: &[f64]) -> Result<()> {
    // Chunks scanned without a short cut (a fold that vectorizes), then the first bad chunk
    // element by element: at vocabulary sizes the scan is otherwise a scalar pass costing a
    // fifth of a tilt.
    const CHUNK: usize = 256;
    let bad_chunk = values
        .chunks(CHUNK)
        .position(|c| c.iter().fold(false, |bad, v| bad | !v.is_finite()));
    let position = bad_chunk.and_then(|k| {
        let at = k * CHUNK;
        values[at..]
            .iter()
            .position(|v| !v.is_finite())
            .map(|i| at + i)
    });
    match position {
        Some(index) => Err(Error::NonFinite {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Checks that two inputs have equal lengths.
pub fn require_same_len(
    left: &'static str,
    left_len: usize,
    right: &'static str,
    right_len: usize,
) -> Result<()> {
    if left_len == right_len {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            left,
            left_len,
            right,
            right_len,
        })
    }
}
