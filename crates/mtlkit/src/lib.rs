//! # mtlkit
//!
//! Multi-task learning in Rust. This facade re-exports the parts:
//!
//! - [`core`]: the multi-task data model, `Fit`/`Predict`, errors, metrics, splits;
//! - [`linear`]: linear multi-task models (`MultiTaskLasso`, `MultiTaskElasticNet`, …);
//! - [`datasets`]: bundled data.
//!
//! ```
//! use mtlkit::prelude::*;
//!
//! let data = mtlkit::datasets::parkinsons()?.to_shared_dataset()?;
//! let (train, test) = train_test_split(&data, 0.25, 0)?;
//! let model = MultiTaskLasso::new(0.1).fit(&train)?;
//! let (x_test, _) = test.as_shared().unwrap();
//! let pred = model.predict(&x_test)?;
//! assert_eq!(pred.ncols(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use mtlkit_core as core;
pub use mtlkit_datasets as datasets;
pub use mtlkit_linear as linear;

/// The names most programs need.
pub mod prelude {
    pub use mtlkit_core::split::train_test_split;
    pub use mtlkit_core::{Fit, MultiTaskDataset, Predict, TaskId};
    pub use mtlkit_linear::{MultiTaskElasticNet, MultiTaskLasso, MultiTaskLinearModel};
}
