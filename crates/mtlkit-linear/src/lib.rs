//! # mtlkit-linear
//!
//! Linear multi-task models as **Datafit × Penalty × Solver** (skglm's split, checked by the
//! compiler): a [`datafit`] states the per-task loss and its scaling, a [`penalty`] is a small
//! object of math methods (value, row prox, subdifferential distance, dual norm), and a
//! [`solver`] bounds its generics by the capabilities it needs, so a wrong pairing does not
//! compile. Named estimators are presets of one generic estimator:
//!
//! | estimator | datafit | penalty | solver |
//! |---|---|---|---|
//! | [`MultiTaskLasso`] | [`Quadratic`] | [`L21`] | [`BlockCoordinateDescent`] |
//! | [`MultiTaskElasticNet`] | [`Quadratic`] | [`L21Ridge`] | [`BlockCoordinateDescent`] |
//!
//! Shapes: `W` (`coef`) is `n_features × n_tasks`; its rows are the L2,1 groups. (Python's
//! `coef_` is `W.T`, as scikit-learn.)
//!
//! ```
//! use mtlkit_core::{Fit, MultiTaskDataset};
//! use mtlkit_linear::MultiTaskLasso;
//! use ndarray::array;
//!
//! let x = array![[0., 0., 0., 1.], [1., 1., 1., 1.], [8., 4., 2., 1.], [27., 9., 3., 1.], [64., 16., 4., 1.]];
//! let y = array![[0., 1., 2.], [3., 4., 5.], [6., 7., 8.], [9., 10., 11.], [12., 13., 14.]];
//! let data = MultiTaskDataset::shared(x, y)?;
//! let model = MultiTaskLasso::new(0.1).tol(1e-12).max_iter(100_000).fit(&data)?;
//! assert!(model.info().converged);
//! assert!((model.intercept()[0] - 0.219942959407).abs() < 1e-8);
//! # Ok::<(), mtlkit_linear::LinearError>(())
//! ```

pub mod cv;
pub mod datafit;
pub mod design;
mod error;
pub mod estimator;
pub mod gap;
mod linalg;
pub mod penalty;
pub mod persist;
pub mod pertask;
mod simd;
pub mod solver;
pub mod structured;

pub use datafit::{Datafit, Quadratic};
pub use error::{LinearError, Result};
pub use estimator::{
    EstimatorKind, FitInfo, Hyperparameters, MultiTaskElasticNet, MultiTaskLasso,
    MultiTaskLinearModel, MultiTaskParams, Selection, ValidMultiTaskParams, alpha_max,
};
pub use penalty::{DualNorm, L21, L21Ridge, Penalty, ProxRow};
pub use pertask::{Loss, LossScaling};
pub use solver::{BcdOptions, BlockCoordinateDescent, GramMode, Solver, SolverResult};
