//! Errors of the linear crate.

use std::path::PathBuf;

/// Result alias for [`LinearError`].
pub type Result<T, E = LinearError> = std::result::Result<T, E>;

/// Errors from fitting, predicting and persisting linear models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinearError {
    /// Invalid data or hyperparameters (see [`mtlkit_core::Error`]).
    #[error(transparent)]
    Core(#[from] mtlkit_core::Error),
    /// The warm-start coefficients do not match the data.
    #[error(
        "warm start: previous coef has shape {found:?}, but the data needs {expected:?} (n_features, n_tasks)"
    )]
    WarmStartShape {
        /// `(n_features, n_tasks)` of the data.
        expected: (usize, usize),
        /// Shape of the previous coefficients.
        found: (usize, usize),
    },
    /// Labels of a classification (logistic) task that are not binary `{0, 1}` or `{−1, 1}`
    /// with both classes present.
    #[error(
        "task {task}: logistic loss needs binary labels, {{0, 1}} or {{-1, 1}} with both classes present; found {found}"
    )]
    InvalidLabels {
        /// The task.
        task: String,
        /// What was found (the distinct values, or the one class).
        found: String,
    },
    /// The number of per-task losses does not match the data.
    #[error("{found} losses given for {expected} tasks (give one for all tasks or one per task)")]
    LossCount {
        /// Tasks in the data.
        expected: usize,
        /// Losses given.
        found: usize,
    },
    /// An operation that needs classification tasks on a model without any.
    #[error("{operation}: the model has no classification (logistic) task")]
    NoClassificationTask {
        /// The operation.
        operation: &'static str,
    },
    /// A model file that is corrupt, truncated or inconsistent.
    #[error("invalid model file{}: {reason}", path_suffix(.path))]
    InvalidModel {
        /// The file, when read from disk.
        path: Option<PathBuf>,
        /// What is wrong with it.
        reason: String,
    },
    /// A valid safetensors file that was not written by mtlkit.
    #[error("not an mtlkit model{}: {reason}", path_suffix(.path))]
    ForeignModel {
        /// The file, when read from disk.
        path: Option<PathBuf>,
        /// Why it is not recognised.
        reason: String,
    },
    /// The fit's numbers left `f64`'s range (targets or features near `1e154` and beyond,
    /// whose squares overflow): its coefficients would not be finite.
    #[error("the fit overflows f64: {what}; rescale the data (e.g. standardise X and Y)")]
    Overflow {
        /// What overflowed.
        what: String,
    },
    /// A model written by a newer format version.
    #[error("model format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
}

fn path_suffix(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| format!(" '{}'", p.display()))
        .unwrap_or_default()
}
