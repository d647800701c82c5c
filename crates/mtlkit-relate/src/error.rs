//! The error type of task-relationship analysis.

/// Result alias for [`RelateError`].
pub type Result<T, E = RelateError> = std::result::Result<T, E>;

/// Errors of affinity, grouping and report computations.
///
/// Every variant keeps its fields; `Display` gives a one-line message that names the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelateError {
    /// An error of the linear models (fits, data checks).
    #[error(transparent)]
    Linear(#[from] mtlkit_linear::LinearError),
    /// An affinity matrix that is not square.
    #[error(
        "affinity matrix: row {row} has {found} entries, expected {expected} (a square T x T matrix)"
    )]
    NotSquare {
        /// The offending row (0-based).
        row: usize,
        /// Expected length (number of rows).
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// The task names do not match the matrix size.
    #[error("affinity: {found} task names for a {expected} x {expected} matrix")]
    NamesLength {
        /// Matrix size `T`.
        expected: usize,
        /// Names given.
        found: usize,
    },
    /// A duplicate or empty task name.
    #[error("affinity: invalid task name '{name}' (names must be non-empty and unique)")]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// An empty affinity matrix.
    #[error("affinity: the matrix has no task")]
    Empty,
    /// A NaN or infinite affinity.
    #[error("affinity matrix: non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The value.
        value: f64,
    },
    /// An asymmetric affinity matrix where a symmetric one is needed.
    #[error(
        "affinity matrix is not symmetric: A[{row}][{col}] = {a} but A[{col}][{row}] = {b} \
         (symmetrize it first, e.g. (A + A^T) / 2)"
    )]
    Asymmetric {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// `A[row][col]`.
        a: f64,
        /// `A[col][row]`.
        b: f64,
    },
    /// A number of groups outside `1..=n_tasks`.
    #[error("n_groups = {n_groups} is invalid for {n_tasks} tasks: must be between 1 and n_tasks")]
    InvalidGroups {
        /// Groups requested.
        n_groups: usize,
        /// Tasks.
        n_tasks: usize,
    },
    /// The exact search would enumerate too many partitions.
    #[error(
        "exact grouping of {n_tasks} tasks into at most {n_groups} groups has {count:.3e} \
         partitions, above the limit of {limit:.0e}; use hierarchical grouping (or fewer groups)"
    )]
    TooManyPartitions {
        /// Tasks.
        n_tasks: usize,
        /// Groups.
        n_groups: usize,
        /// Number of partitions to enumerate.
        count: f64,
        /// The limit.
        limit: f64,
    },
    /// Two label vectors of different lengths.
    #[error("labels: {a} and {b} entries (the two clusterings must label the same tasks)")]
    LabelsLength {
        /// Length of the first.
        a: usize,
        /// Length of the second.
        b: usize,
    },
    /// A task name that is not in the data or the affinity.
    #[error("unknown task '{name}' (tasks: {known})")]
    UnknownTask {
        /// The name.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// The operation needs at least `needed` tasks.
    #[error("{operation} needs at least {needed} tasks, found {found}")]
    TooFewTasks {
        /// The operation.
        operation: &'static str,
        /// Tasks needed.
        needed: usize,
        /// Tasks found.
        found: usize,
    },
    /// A task with too few labelled samples for the folds.
    #[error("task '{task}' has {found} labelled samples; {operation} needs at least {needed}")]
    TooFewSamples {
        /// The task.
        task: String,
        /// The operation.
        operation: &'static str,
        /// Needed.
        needed: usize,
        /// Found.
        found: usize,
    },
    /// An invalid setting.
    #[error("invalid setting {name} = {value}: must be {expected}")]
    InvalidSetting {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: String,
        /// The valid range, in words.
        expected: &'static str,
    },
    /// A malformed affinity JSON document.
    #[error("affinity JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An IO error on a path.
    #[error("{operation} '{}': {source}", .path.display())]
    Io {
        /// What was attempted.
        operation: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl From<mtlkit_core::Error> for RelateError {
    fn from(e: mtlkit_core::Error) -> Self {
        Self::Linear(e.into())
    }
}
