//! Errors of this crate.

use crate::Need;

/// Everything that can go wrong when building or running a weighting method.
///
/// Bad input (wrong shapes, missing matrices, NaN/inf, invalid hyperparameters, a corrupt
/// checkpoint) is always reported through this type; the methods never panic on input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightingError {
    /// A matrix or vector does not have the expected shape.
    #[error("shape mismatch for {what}: expected {expected}, got {got}")]
    Shape {
        /// Which input (e.g. `"gramian"`).
        what: &'static str,
        /// The expected shape, in words.
        expected: String,
        /// The shape that was given.
        got: String,
    },
    /// The method needs an input that the step did not provide.
    #[error("method `{method}` needs the {need:?} but it was not provided in the step input")]
    MissingInput {
        /// The method's name.
        method: &'static str,
        /// What is missing.
        need: Need,
    },
    /// An input contains NaN or an infinity.
    #[error("non-finite value (NaN or infinity) in {what}")]
    NonFinite {
        /// Which input.
        what: &'static str,
    },
    /// An input is finite but not admissible (e.g. a negative loss for a log-based method).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A hyperparameter is out of its domain.
    #[error("invalid hyperparameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// The parameter's name, as in the config.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The task subset given with a step is not valid.
    #[error("invalid task subset: {0}")]
    InvalidTasks(String),
    /// A checkpointed state could not be restored (wrong method, wrong number of tasks, corrupt).
    #[error("cannot restore state: {0}")]
    State(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, WeightingError>;

/// Checks that a hyperparameter is finite and `>= 0` (or `> 0` with `strict`).
pub(crate) fn check_nonneg(name: &'static str, value: f64, strict: bool) -> Result<()> {
    if !value.is_finite() {
        return Err(WeightingError::InvalidParameter {
            name,
            value: format!("{value}"),
            reason: "must be finite",
        });
    }
    if strict && value <= 0.0 {
        return Err(WeightingError::InvalidParameter {
            name,
            value: format!("{value}"),
            reason: "must be > 0",
        });
    }
    if value < 0.0 {
        return Err(WeightingError::InvalidParameter {
            name,
            value: format!("{value}"),
            reason: "must be >= 0",
        });
    }
    Ok(())
}

/// Checks that a hyperparameter lies in `[lo, hi]` and is finite.
pub(crate) fn check_range(name: &'static str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if !value.is_finite() || value < lo || value > hi {
        return Err(WeightingError::InvalidParameter {
            name,
            value: format!("{value}"),
            reason: "out of range",
        });
    }
    Ok(())
}

/// Checks that an integer hyperparameter is at least 1.
pub(crate) fn check_positive_usize(name: &'static str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(WeightingError::InvalidParameter {
            name,
            value: "0".into(),
            reason: "must be >= 1",
        });
    }
    Ok(())
}
