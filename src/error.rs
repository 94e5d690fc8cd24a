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
    // Chunks scanned without a short cut (vector code), then the first bad chunk element by
    // element: at vocabulary sizes the scan is otherwise a scalar pass costing a fifth of a
    // tilt.
    const CHUNK: usize = 256;
    let bad_chunk = values.chunks(CHUNK).position(has_non_finite);
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

/// Whether some entry of `values` is infinite or NaN: `v * 0 + acc` stays `0` while every `v`
/// is finite and becomes NaN at the first that is not (`inf * 0` is NaN), summed in eight
/// lanes. One fused multiply-add per entry, compiled for the widest instruction set the CPU
/// offers (a test of the exponent bits was a 64-bit integer comparison, which SSE2 emulates
/// with three instructions per pair of entries: 3.5% of a tilt at `10^5` outcomes).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn has_non_finite(values: &[f64]) -> bool {
    const LANES: usize = 8;
    let mut acc = [0.0f64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for c in chunks.by_ref() {
        for j in 0..LANES {
            acc[j] = c[j].mul_add(0.0, acc[j]);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(0.0, |a, v| v.mul_add(0.0, a));
    acc.iter().fold(tail, |a, b| a + b) != 0.0
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The first non-finite entry is reported wherever it sits (around the lanes, the chunks
    /// and the tail), and the largest finite values, `-0` and subnormals pass. The vector test
    /// itself is checked too: a [`has_non_finite`] that always answered `true` would leave
    /// `require_finite`'s answers right (its element scan decides), only slower.
    #[test]
    fn require_finite_reports_the_first_non_finite_entry() {
        let finite = [f64::MAX, -f64::MAX, -0.0, f64::from_bits(1), 1.0];
        for n in [1, 7, 8, 9, 255, 256, 257, 1000] {
            let ok: Vec<f64> = (0..n).map(|i| finite[i % finite.len()]).collect();
            assert!(require_finite("x", &ok).is_ok(), "n = {n}");
            assert!(!has_non_finite(&ok), "n = {n}");
            for bad in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
                for at in [0, n / 2, n - 1] {
                    let mut v = ok.clone();
                    v[at] = bad;
                    assert!(has_non_finite(&v), "n = {n}, {bad} at {at}");
                    if at + 1 < n {
                        v[n - 1] = f64::NAN;
                    }
                    let index = match require_finite("x", &v) {
                        Err(Error::NonFinite { index, .. }) => Some(index),
                        _ => None,
                    };
                    assert_eq!(index, Some(at), "n = {n}, {bad} at {at}");
                }
            }
        }
    }
}
