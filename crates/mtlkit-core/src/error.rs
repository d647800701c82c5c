//! The core error type.

use std::path::PathBuf;

/// Result alias for [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors raised by the data model, parameter checks and shared IO.
///
/// Variants keep their fields (task names, indices, values) rather than pre-formatted strings,
/// so callers can react to them; `Display` gives a one-line message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two arrays that must agree in one dimension do not.
    #[error("shape mismatch{}: {what}: expected {expected}, found {found}", task_suffix(.task))]
    ShapeMismatch {
        /// What was compared, e.g. "rows of y vs rows of X".
        what: &'static str,
        /// Task concerned, if any.
        task: Option<String>,
        /// Expected size.
        expected: usize,
        /// Size found.
        found: usize,
    },
    /// A NaN or infinite value in the input.
    #[error("non-finite value ({value}) in {array}{} at row {row}, column {col}", task_suffix(.task))]
    NonFinite {
        /// Which array ("X", "Y", "y").
        array: &'static str,
        /// Task concerned, if any.
        task: Option<String>,
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based).
        col: usize,
        /// The offending value.
        value: f64,
    },
    /// The input has no samples (or a task has none).
    #[error("no samples{}", task_suffix(.task))]
    NoSamples {
        /// Task concerned, if any.
        task: Option<String>,
    },
    /// A task of a shared-design dataset has no labelled sample (every target is NaN).
    #[error("task {task} has no labelled sample: every one of its targets is missing (NaN)")]
    NoLabels {
        /// Task concerned.
        task: String,
    },
    /// The input has no features.
    #[error("no features: X has zero columns")]
    NoFeatures,
    /// The input has no tasks.
    #[error("no tasks: at least one task is required")]
    NoTasks,
    /// Tasks disagree on the number of features.
    #[error("task '{task}' has {found} features, but the first task has {expected}")]
    FeatureCountMismatch {
        /// Task concerned.
        task: String,
        /// Number of features of the first task.
        expected: usize,
        /// Number of features of this task.
        found: usize,
    },
    /// A list of names has the wrong length.
    #[error("{what}: expected {expected} names, found {found}")]
    NamesLength {
        /// "task names" or "feature names".
        what: &'static str,
        /// Expected count.
        expected: usize,
        /// Count given.
        found: usize,
    },
    /// A list of names contains a duplicate or an empty name.
    #[error("{what}: invalid name '{name}' (names must be non-empty and unique)")]
    InvalidName {
        /// "task names" or "feature names".
        what: &'static str,
        /// The offending name.
        name: String,
    },
    /// A hyperparameter is out of its valid range (or NaN).
    #[error("invalid parameter {name} = {value}: must be {expected}")]
    InvalidParameter {
        /// Parameter name, in scikit-learn's words (`alpha`, `l1_ratio`, `tol`, ...).
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// The valid range, in words.
        expected: &'static str,
    },
    /// The operation needs another data layout (e.g. a shared design matrix).
    #[error("{operation} needs {expected}, but the dataset has {found}")]
    WrongLayout {
        /// The operation attempted.
        operation: &'static str,
        /// The layout it needs.
        expected: &'static str,
        /// The layout given.
        found: &'static str,
    },
    /// A task has too few samples for the requested operation.
    #[error("task '{task}' has {found} samples; {operation} needs at least {needed}")]
    TooFewSamples {
        /// Task concerned.
        task: String,
        /// The operation attempted.
        operation: &'static str,
        /// Samples needed.
        needed: usize,
        /// Samples found.
        found: usize,
    },
    /// An IO error on a named path.
    #[error("{operation} '{}': {source}", .path.display())]
    Io {
        /// What was attempted ("writing", "reading", ...).
        operation: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn task_suffix(task: &Option<String>) -> String {
    match task {
        Some(t) => format!(" in task '{t}'"),
        None => String::new(),
    }
}
