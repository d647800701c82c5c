//! # mtlkit
//!
//! Multi-task learning in Rust. This facade re-exports the parts:
//!
//! - [`core`]: the multi-task data model, `Fit`/`Predict`, errors, metrics, splits;
//! - [`linear`]: linear multi-task models (`MultiTaskLasso`, `MultiTaskElasticNet`, the
//!   structural regularizers of [`linear::structured`], cross-validation, persistence);
//! - [`weighting`]: loss weighting and gradient balancing on plain matrices (PCGrad, MGDA,
//!   CAGrad, Nash-MTL, UPGrad, uncertainty weighting, DWA, GradNorm, FAMO, …), for any
//!   training loop;
//! - [`relate`]: task structure — affinity, grouping, negative-transfer reports;
//! - [`datasets`]: bundled data;
//! - with the feature `deep`: `mtlkit::deep`, shared networks with task heads (hard sharing, MMoE,
//!   CGC/PLE, cross-stitch, …) trained with the weighting methods (burn, CPU backend; the
//!   feature `cuda` adds burn's CUDA backend);
//! - with the feature `text`: `mtlkit::text`, token-level NLP models (CoNLL-U / IOB2 readers,
//!   BiLSTM taggers).
//!
//! The default build leaves out `deep` and `text` (they pull in burn, a long compile):
//! `mtlkit = { version = "0.1", features = ["deep"] }` adds them.
//!
//! A gradient-balancing step for your own training loop: the per-task gradients are the rows
//! of `J`, the method gives the task weights `λ` and the update direction `Jᵀλ`:
//!
//! ```
//! use mtlkit::weighting::{Method, StepInput};
//! use ndarray::array;
//!
//! let j = array![[-4.0, 1.0, 1.0], [6.0, 1.0, 1.0]]; // two conflicting task gradients
//! let losses = array![1.0, 1.0];
//! let method: Method = serde_json::from_str(r#"{"method": "mgda"}"#)?;
//! let mut mgda = method.build(2, 0)?;
//! let out = mgda.aggregate(&StepInput::new(losses.view()).with_jacobian(j.view()))?;
//! let d = out.combine(j.view())?;
//! // MGDA's direction is the min-norm point of the gradients' convex hull: it conflicts
//! // with neither task
//! assert!(j.dot(&d).iter().all(|&g| g >= -1e-12));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
#[cfg(feature = "deep")]
pub use mtlkit_deep as deep;
pub use mtlkit_linear as linear;
pub use mtlkit_relate as relate;
#[cfg(feature = "text")]
pub use mtlkit_text as text;
pub use mtlkit_weighting as weighting;

/// The names most programs need.
pub mod prelude {
    pub use mtlkit_core::split::train_test_split;
    pub use mtlkit_core::{Fit, MultiTaskDataset, Predict, TaskId};
    pub use mtlkit_linear::{MultiTaskElasticNet, MultiTaskLasso, MultiTaskLinearModel};
}
