//! Errors of the text crate.

use thiserror::Error;

/// Anything that can go wrong reading, training or evaluating.
#[derive(Debug, Error)]
pub enum TextError {
    /// A malformed line of a CoNLL-U or IOB2 file (1-based line number).
    #[error("{source_name}: line {line}: {message}")]
    Parse {
        /// The file (or `<input>`).
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Training failed (e.g. a non-finite loss).
    #[error("training failed: {0}")]
    Training(String),
    /// A weighting method failed.
    #[error(transparent)]
    Weighting(#[from] mtlkit_weighting::WeightingError),
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, TextError>;

/// A configuration error.
pub(crate) fn config_err(msg: impl Into<String>) -> TextError {
    TextError::Config(msg.into())
}
