//! The deep crate's error type.

use std::path::PathBuf;

/// Result alias for [`DeepError`].
pub type Result<T, E = DeepError> = std::result::Result<T, E>;

/// Errors of the deep multi-task crate: invalid data, configurations and model files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeepError {
    /// Invalid input data (shapes, non-finite values, labels outside a task's range, …).
    #[error(transparent)]
    Data(#[from] mtlkit_core::Error),
    /// A task's targets do not fit its kind (e.g. a label 2 for a binary task).
    #[error("task '{task}': {message} (row {row})")]
    BadTarget {
        /// Task name.
        task: String,
        /// Row index (0-based).
        row: usize,
        /// What is wrong.
        message: String,
    },
    /// An invalid configuration value.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Inputs handed to a loaded model that do not fit it (column count, non-finite values).
    #[error("invalid input: {0}")]
    Input(String),
    /// A model or checkpoint file that cannot be read (corrupt, foreign or of another version).
    #[error("cannot read {path}: {message}")]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An IO error on a named file.
    #[error("{operation} {path}: {source}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A loss or weighting method failed (e.g. non-finite losses: training diverged).
    #[error("training failed: {0}")]
    Training(String),
    /// The weighting method rejected its input or settings.
    #[error(transparent)]
    Weighting(#[from] mtlkit_weighting::WeightingError),
}

/// A configuration error.
pub(crate) fn config_err(msg: impl Into<String>) -> DeepError {
    DeepError::Config(msg.into())
}
