//! # mtlkit-core
//!
//! The pieces every part of mtlkit shares:
//!
//! - [`MultiTaskDataset`]: the multi-task data model. Either one design `X` (`n_samples × n_features`)
//!   shared by all tasks with a target matrix `Y` (`n_samples × n_tasks`), or one `(X_t, y_t)` per
//!   task with its own number of samples `n_t` and a common `n_features`.
//! - [`Error`]: typed errors for bad input (shape mismatches naming the task, non-finite values,
//!   empty tasks, invalid hyperparameters).
//! - [`Fit`] / [`Predict`]: the traits estimators implement; fitting returns a new fitted type.
//! - [`split::train_test_split`]: a seeded split **within each task**.
//! - [`metrics`]: R² and mean squared error with scikit-learn's conventions.
//! - [`io::atomic_write`]: write a file through a temporary file and a rename.
//!
//! ```
//! use mtlkit_core::{MultiTaskDataset, split::train_test_split};
//! use ndarray::array;
//!
//! let x = array![[0., 1.], [1., 0.], [2., 1.], [3., 0.]];
//! let y = array![[1., 2.], [2., 3.], [3., 4.], [4., 5.]];
//! let data = MultiTaskDataset::shared(x, y)?.with_task_names(["a", "b"])?;
//! let (train, test) = train_test_split(&data, 0.25, 0)?;
//! assert_eq!(train.n_samples(mtlkit_core::TaskId(0)) + test.n_samples(mtlkit_core::TaskId(0)), 4);
//! # Ok::<(), mtlkit_core::Error>(())
//! ```

mod dataset;
/// Input checks shared by the data model and estimators.
pub mod dataset_checks {
    pub use crate::dataset::{check_design, check_finite, check_sample_weight};
}
mod error;
pub mod io;
pub mod metrics;
pub mod param;
pub mod sparse;
pub mod split;
mod traits;

pub use dataset::{Layout, MultiTaskDataset, TaskData, TaskId};
pub use error::{Error, Result};
pub use traits::{Fit, Predict};
