//! Named estimators: presets of one generic estimator, [`MultiTaskParams`]`<P>`
//! (quadratic datafit × penalty `P` × block coordinate descent).
//!
//! Hyperparameters follow scikit-learn's names and defaults; build them, [`check`] them into
//! [`ValidMultiTaskParams`], and [`Fit`] returns a [`MultiTaskLinearModel`] (fitted state exists
//! only there). Calling `fit` on unchecked parameters checks them first.
//!
//! | name | default | purpose | range |
//! |---|---|---|---|
//! | `alpha` | — | regularization strength | `>= 0` |
//! | `l1_ratio` | 0.5 (elastic net only) | L2,1 vs ridge mix | `[0, 1]` |
//! | `fit_intercept` | `true` | centre `X` and `Y`, fit an intercept per task | |
//! | `tol` | `1e-4` | stop when the duality gap `<= tol · ‖Y_c‖²_F / n` | `>= 0` |
//! | `max_iter` | 1000 | maximum passes over the features | `>= 1` |
//! | `selection` | cyclic | feature order in a pass | cyclic / random |
//! | `random_state` | 0 | seed of random selection | any `u64` |
//! | `screening` | `true` | gap-safe screening (sound; same solution) | |
//! | `working_set` | `true` | working sets + the accelerations below; `false` = scikit-learn's plain passes | |
//! | `anderson` | `true` | Anderson extrapolation, kept only when the objective decreases | |
//! | `gram` | auto | precompute `XᵀX` (auto: when `5·n_features <= n_samples`) | auto / on / off |
//! | `mixed_precision` | `true` | inner-loop products in `f32`, every gap and stop exact in `f64` | |
//! | `n_threads` | 1 | threads for the dense matrix products (rayon's global pool) | `>= 1` |
//! | `loss` | squared | per task: squared (regression) or logistic (binary classification) | one, or one per task |
//! | `scaling` | task-mean | weight `c_t` of each task's loss: `1/n_t`, `1/N` or 1 (MALSAR) | |
//!
//! **Two solvers, one estimator.** With one design for all tasks, squared losses, no missing
//! target and the default scaling, the fit is scikit-learn's problem and runs the accelerated
//! shared-design solver. Anything else — one design per task, missing targets (NaN in `Y`),
//! logistic or mixed losses, another scaling — runs the general per-task solver of
//! [`crate::pertask`] (block CD with each task's own curvature, same duality-gap certificate;
//! working sets and screening are not implemented there yet). Both give the same answer where
//! both apply (tested).
//!
//! With working sets, `n_iter` counts passes over the working set rather than over all features.
//!
//! [`check`]: MultiTaskParams::check

use mtlkit_core::{Fit, MultiTaskDataset, Predict, param};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, ShapeBuilder};
use serde::{Deserialize, Serialize};

use crate::datafit::{Datafit, Quadratic};
use crate::design::{CscDesign, DenseDesign, Design};
use crate::penalty::{DualNorm, L21, L21Ridge, ProxRow};
use crate::pertask::{self, Loss, LossScaling};
use crate::solver::{BcdOptions, BlockCoordinateDescent, GramMode, Solver};
use crate::{LinearError, Result};
use mtlkit_core::sparse::CscMatrix;

/// Order in which block coordinate descent visits the features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Selection {
    /// In order, every pass.
    #[default]
    Cyclic,
    /// A random feature at each step (seeded by `random_state`); often faster at loose `tol`.
    Random,
}

/// Which named estimator produced a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EstimatorKind {
    /// [`MultiTaskLasso`].
    MultitaskLasso,
    /// [`MultiTaskElasticNet`].
    MultitaskElasticnet,
    /// A structured model ([`crate::structured`]); its regularizers are in the model's
    /// `structure`.
    Structured,
}

impl EstimatorKind {
    /// The name used by the CLI and in model files (`multitask-lasso`, `multitask-elasticnet`).
    pub fn name(self) -> &'static str {
        match self {
            Self::MultitaskLasso => "multitask-lasso",
            Self::MultitaskElasticnet => "multitask-elasticnet",
            Self::Structured => "structured",
        }
    }
}

/// Every hyperparameter of a linear multi-task estimator, as stored in model files.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameters {
    /// The estimator.
    pub estimator: EstimatorKind,
    /// Regularization strength.
    pub alpha: f64,
    /// L2,1 / ridge mix (1 for the Lasso).
    pub l1_ratio: f64,
    /// Whether an intercept was fitted.
    pub fit_intercept: bool,
    /// Relative tolerance on the duality gap.
    pub tol: f64,
    /// Maximum number of passes.
    pub max_iter: usize,
    /// Feature order.
    pub selection: Selection,
    /// Seed of random selection.
    pub random_state: u64,
    /// Gap-safe screening on or off.
    pub screening: bool,
    /// Working sets on or off.
    pub working_set: bool,
    /// Anderson extrapolation on or off.
    pub anderson: bool,
    /// Gram mode.
    pub gram: GramMode,
    /// Weight of each task's loss (absent in files written before it existed: the default).
    #[serde(default)]
    pub scaling: LossScaling,
    /// Mixed-precision inner loops (absent in files written before it existed: `true`).
    #[serde(default = "default_true")]
    pub mixed_precision: bool,
}

/// `true` (a serde default).
fn default_true() -> bool {
    true
}

/// A penalty that can be the `R` of a named estimator.
pub trait EstimatorPenalty: ProxRow + DualNorm + Clone {
    /// The estimator this penalty makes.
    const KIND: EstimatorKind;
    /// `alpha`.
    fn alpha(&self) -> f64;
    /// `l1_ratio` (1 for the Lasso).
    fn l1_ratio(&self) -> f64;
    /// The same penalty with another `alpha`.
    fn with_alpha(&self, alpha: f64) -> Self;
    /// The same penalty with another `l1_ratio` (the Lasso has none: unchanged).
    fn with_l1_ratio(&self, l1_ratio: f64) -> Self;
}

impl EstimatorPenalty for L21 {
    const KIND: EstimatorKind = EstimatorKind::MultitaskLasso;
    fn alpha(&self) -> f64 {
        self.alpha
    }
    fn l1_ratio(&self) -> f64 {
        1.0
    }
    fn with_alpha(&self, alpha: f64) -> Self {
        L21 { alpha }
    }
    fn with_l1_ratio(&self, _l1_ratio: f64) -> Self {
        *self
    }
}

impl EstimatorPenalty for L21Ridge {
    const KIND: EstimatorKind = EstimatorKind::MultitaskElasticnet;
    fn alpha(&self) -> f64 {
        self.alpha
    }
    fn l1_ratio(&self) -> f64 {
        self.l1_ratio
    }
    fn with_alpha(&self, alpha: f64) -> Self {
        L21Ridge {
            alpha,
            l1_ratio: self.l1_ratio,
        }
    }
    fn with_l1_ratio(&self, l1_ratio: f64) -> Self {
        L21Ridge {
            alpha: self.alpha,
            l1_ratio,
        }
    }
}

/// Unchecked hyperparameters of a linear multi-task estimator with penalty `P`.
///
/// Objective with one design for all tasks (scikit-learn's, `n` = number of samples):
///
/// `min_{W,b} 1/(2n) ‖Y − X W − 1 bᵀ‖²_F + R(W)`
///
/// and in general, for tasks `t` with their own `(X_t, y_t)`, loss `ℓ_t` and weight `c_t` (see
/// [`LossScaling`]; the default `c_t = 1/n_t` gives the line above for a shared design):
///
/// `min_{W,b} Σ_t c_t Σ_i ℓ_t(y_ti, x_tiᵀ w_t + b_t) + R(W)`
///
/// ```
/// use mtlkit_core::{Fit, MultiTaskDataset, Predict};
/// use mtlkit_linear::{Loss, MultiTaskLasso};
/// use ndarray::array;
///
/// // two tasks with their own samples: a regression and a binary classification
/// let x1 = array![[1., 0.], [2., 1.], [0., 3.], [3., 3.]];
/// let y1 = array![1., 2., 0., 3.];
/// let x2 = array![[0., 1.], [1., 0.], [2., 2.], [3., 1.], [1., 3.]];
/// let y2 = array![0., 0., 1., 1., 0.];
/// let data = MultiTaskDataset::per_task(vec![(x1, y1), (x2.clone(), y2)])?;
/// let model = MultiTaskLasso::new(0.01)
///     .task_losses([Loss::Squared, Loss::Logistic])
///     .fit(&data)?;
/// assert_eq!(model.classification_tasks(), vec![1]);
/// let p = model.predict_proba(x2.view())?; // P(y = 1) of the classification task
/// assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
/// # Ok::<(), mtlkit_linear::LinearError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultiTaskParams<P> {
    penalty: P,
    fit_intercept: bool,
    tol: f64,
    max_iter: usize,
    selection: Selection,
    random_state: u64,
    screening: bool,
    working_set: bool,
    anderson: bool,
    gram: GramMode,
    mixed_precision: bool,
    n_threads: usize,
    losses: Vec<Loss>,
    scaling: LossScaling,
}

/// Multi-task Lasso (joint feature selection), exactly scikit-learn 1.9's `MultiTaskLasso`:
///
/// `min_{W,b} 1/(2n) ‖Y − XW − 1bᵀ‖²_F + alpha · Σ_j ‖W_j‖₂`
///
/// where `W_j` is row `j` of `W` (feature `j` across tasks): a feature is used by all tasks or by
/// none.
///
/// ```
/// use mtlkit_core::{Fit, MultiTaskDataset, Predict};
/// use mtlkit_linear::MultiTaskLasso;
/// use ndarray::array;
///
/// let x = array![[1., 0., 3.], [2., 1., 0.], [0., 4., 1.], [3., 3., 3.]];
/// let y = array![[1., 2.], [2., 4.], [0., 1.], [3., 6.]];
/// let data = MultiTaskDataset::shared(x.clone(), y)?;
/// let model = MultiTaskLasso::new(0.05).tol(1e-10).fit(&data)?;
/// assert_eq!(model.coef().dim(), (3, 2)); // (n_features, n_tasks)
/// let pred = model.predict(&x.view())?;
/// assert_eq!(pred.dim(), (4, 2));
/// # Ok::<(), mtlkit_linear::LinearError>(())
/// ```
///
/// # Errors
/// Fitting fails with a typed error on invalid hyperparameters (`alpha < 0`, NaN, `tol < 0`,
/// `max_iter = 0`), a loss list that does not match the tasks, or labels of a logistic task that
/// are not binary. Non-convergence is not an error: the model's [`FitInfo::converged`] is
/// `false` and a warning is logged.
pub type MultiTaskLasso = MultiTaskParams<L21>;

/// Multi-task elastic net, exactly scikit-learn 1.9's `MultiTaskElasticNet`:
///
/// `min_{W,b} 1/(2n) ‖Y − XW − 1bᵀ‖²_F + alpha·l1_ratio · Σ_j ‖W_j‖₂ + alpha·(1 − l1_ratio)/2 · ‖W‖²_F`
///
/// ```
/// use mtlkit_core::{Fit, MultiTaskDataset};
/// use mtlkit_linear::MultiTaskElasticNet;
/// use ndarray::array;
///
/// let x = array![[1., 0., 3.], [2., 1., 0.], [0., 4., 1.], [3., 3., 3.]];
/// let y = array![[1., 2.], [2., 4.], [0., 1.], [3., 6.]];
/// let data = MultiTaskDataset::shared(x, y)?;
/// let model = MultiTaskElasticNet::new(0.1, 0.5).fit(&data)?;
/// assert!(model.info().dual_gap >= 0.0);
/// # Ok::<(), mtlkit_linear::LinearError>(())
/// ```
///
/// # Errors
/// As [`MultiTaskLasso`], plus `l1_ratio` outside `[0, 1]`.
pub type MultiTaskElasticNet = MultiTaskParams<L21Ridge>;

impl MultiTaskParams<L21> {
    /// Multi-task Lasso with regularization `alpha` and scikit-learn's defaults otherwise.
    pub fn new(alpha: f64) -> Self {
        Self::with_penalty(L21 { alpha })
    }
}

impl MultiTaskParams<L21Ridge> {
    /// Multi-task elastic net with `alpha` and `l1_ratio`, scikit-learn's defaults otherwise.
    pub fn new(alpha: f64, l1_ratio: f64) -> Self {
        Self::with_penalty(L21Ridge { alpha, l1_ratio })
    }
}

impl<P: EstimatorPenalty> MultiTaskParams<P> {
    /// Parameters with penalty `penalty` and scikit-learn's defaults.
    pub fn with_penalty(penalty: P) -> Self {
        Self {
            penalty,
            fit_intercept: true,
            tol: 1e-4,
            max_iter: 1000,
            selection: Selection::Cyclic,
            random_state: 0,
            screening: true,
            working_set: true,
            anderson: true,
            mixed_precision: true,
            gram: GramMode::Auto,
            n_threads: 1,
            losses: vec![Loss::Squared],
            scaling: LossScaling::TaskMean,
        }
    }

    /// Replace `alpha` (every other hyperparameter kept).
    pub fn alpha(mut self, v: f64) -> Self {
        self.penalty = self.penalty.with_alpha(v);
        self
    }

    /// The loss of every task: [`Loss::Squared`] (default, regression) or [`Loss::Logistic`]
    /// (binary classification).
    pub fn loss(mut self, v: Loss) -> Self {
        self.losses = vec![v];
        self
    }
    /// One loss per task (a model may mix regression and classification tasks); the fit
    /// fails with [`LinearError::LossCount`] unless there is exactly one per task.
    pub fn task_losses(mut self, v: impl IntoIterator<Item = Loss>) -> Self {
        self.losses = v.into_iter().collect();
        self
    }
    /// How each task's loss is weighted. Default [`LossScaling::TaskMean`] (scikit-learn's
    /// objective when all tasks share `X`).
    pub fn scaling(mut self, v: LossScaling) -> Self {
        self.scaling = v;
        self
    }

    /// Fit an intercept per task (centre `X` and `Y`). Default `true`.
    pub fn fit_intercept(mut self, v: bool) -> Self {
        self.fit_intercept = v;
        self
    }
    /// Tolerance on the duality gap relative to `‖Y_c‖²_F / n`. Default `1e-4`.
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Maximum number of passes over the features. Default 1000.
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Feature order. Default cyclic.
    pub fn selection(mut self, v: Selection) -> Self {
        self.selection = v;
        self
    }
    /// Seed of random selection. Default 0.
    pub fn random_state(mut self, v: u64) -> Self {
        self.random_state = v;
        self
    }
    /// Gap-safe screening. Default `true`.
    pub fn screening(mut self, v: bool) -> Self {
        self.screening = v;
        self
    }

    /// Working sets (default `true`); `false` runs scikit-learn's plain passes (same `n_iter`).
    pub fn working_set(mut self, v: bool) -> Self {
        self.working_set = v;
        self
    }
    /// Anderson extrapolation on the working set. Default `true`.
    pub fn anderson(mut self, v: bool) -> Self {
        self.anderson = v;
        self
    }
    /// Gram mode (`XᵀX` precomputed). Default [`GramMode::Auto`].
    pub fn gram(mut self, v: GramMode) -> Self {
        self.gram = v;
        self
    }
    /// Mixed precision (default `true`): the working-set solver's inner loops take their
    /// matrix products with the change of the residuals in `f32`; every duality gap, screening
    /// test and stopping decision is computed exactly in `f64`, so the certificate is the same
    /// (see [`BcdOptions::mixed_precision`]). `false`: everything in `f64`.
    pub fn mixed_precision(mut self, v: bool) -> Self {
        self.mixed_precision = v;
        self
    }

    /// Threads for the matrix products (`XᵀR` gradients, `XᵀX`), from rayon's global pool.
    /// Default 1 (single thread); coordinate descent itself is sequential. Results are
    /// deterministic for a given count.
    pub fn n_threads(mut self, v: usize) -> Self {
        self.n_threads = v;
        self
    }

    /// The penalty.
    pub fn penalty(&self) -> &P {
        &self.penalty
    }

    /// Validate the hyperparameters.
    ///
    /// # Errors
    /// [`mtlkit_core::Error::InvalidParameter`] naming the first invalid one.
    pub fn check(&self) -> Result<ValidMultiTaskParams<P>> {
        self.penalty.check()?;
        param::non_negative("tol", self.tol)?;
        param::positive_count("max_iter", self.max_iter)?;
        param::positive_count("n_threads", self.n_threads)?;
        if self.losses.is_empty() {
            return Err(LinearError::LossCount {
                expected: 1,
                found: 0,
            });
        }
        Ok(ValidMultiTaskParams(self.clone()))
    }

    /// The hyperparameters as stored in a model file.
    pub fn hyperparameters(&self) -> Hyperparameters {
        Hyperparameters {
            estimator: P::KIND,
            alpha: self.penalty.alpha(),
            l1_ratio: self.penalty.l1_ratio(),
            fit_intercept: self.fit_intercept,
            tol: self.tol,
            max_iter: self.max_iter,
            selection: self.selection,
            random_state: self.random_state,
            screening: self.screening,
            working_set: self.working_set,
            anderson: self.anderson,
            gram: self.gram,
            scaling: self.scaling,
            mixed_precision: self.mixed_precision,
        }
    }

    /// The loss of each of `n_tasks` tasks.
    ///
    /// # Errors
    /// [`LinearError::LossCount`] unless one loss or `n_tasks` losses were given.
    pub fn task_loss_list(&self, n_tasks: usize) -> Result<Vec<Loss>> {
        match self.losses.len() {
            1 => Ok(vec![self.losses[0]; n_tasks]),
            k if k == n_tasks => Ok(self.losses.clone()),
            k => Err(LinearError::LossCount {
                expected: n_tasks,
                found: k,
            }),
        }
    }
}

impl<P: EstimatorPenalty> Fit<MultiTaskDataset> for MultiTaskParams<P> {
    type Fitted = MultiTaskLinearModel;
    type Error = LinearError;
    fn fit(&self, data: &MultiTaskDataset) -> Result<MultiTaskLinearModel> {
        self.check()?.fit(data)
    }
}

/// [`LinearError::Overflow`] unless every coefficient and intercept is finite.
fn finite_or_overflow(coef: &Array2<f64>, intercept: &Array1<f64>) -> Result<()> {
    if coef.iter().chain(intercept).all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(LinearError::Overflow {
            what: "the coefficients are not finite".into(),
        })
    }
}

/// [`LinearError::Overflow`] when the squares of the (centred) targets overflow: no solve
/// would give finite coefficients.
fn targets_in_range(prep: &Prepared) -> Result<()> {
    if prep.yc.iter().map(|v| v * v).sum::<f64>().is_finite() {
        Ok(())
    } else {
        Err(LinearError::Overflow {
            what: "the sum of squared targets is not finite".into(),
        })
    }
}

/// Checked hyperparameters (see [`MultiTaskParams::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidMultiTaskParams<P>(MultiTaskParams<P>);

impl<P: EstimatorPenalty> ValidMultiTaskParams<P> {
    /// The hyperparameters.
    pub fn params(&self) -> &MultiTaskParams<P> {
        &self.0
    }

    /// The same with another `alpha` (callers have checked it: `>= 0`, finite).
    pub(crate) fn with_alpha(&self, alpha: f64) -> Self {
        let mut p = self.0.clone();
        p.penalty = p.penalty.with_alpha(alpha);
        Self(p)
    }

    /// The same with another `l1_ratio` (callers have checked it: in `[0, 1]`).
    pub(crate) fn with_l1_ratio(&self, l1_ratio: f64) -> Self {
        let mut p = self.0.clone();
        p.penalty = p.penalty.with_l1_ratio(l1_ratio);
        Self(p)
    }

    /// Fit starting from a previous model's coefficients (scikit-learn's `warm_start=True`).
    ///
    /// # Errors
    /// As [`Fit::fit`], plus [`LinearError::WarmStartShape`] when `previous` does not match the
    /// data's `(n_features, n_tasks)`.
    pub fn fit_warm(
        &self,
        data: &MultiTaskDataset,
        previous: &MultiTaskLinearModel,
    ) -> Result<MultiTaskLinearModel> {
        self.fit_from(data, Some(previous.coef.view()))
    }

    /// Fit starting from coefficients `init` (`n_features × n_tasks`) when given: the borrowed
    /// form of [`fit_warm`](Self::fit_warm).
    ///
    /// # Errors
    /// As [`fit_warm`](Self::fit_warm).
    pub fn fit_init(
        &self,
        data: &MultiTaskDataset,
        init: Option<ArrayView2<'_, f64>>,
    ) -> Result<MultiTaskLinearModel> {
        self.fit_from(data, init)
    }

    fn fit_from(
        &self,
        data: &MultiTaskDataset,
        init: Option<ArrayView2<'_, f64>>,
    ) -> Result<MultiTaskLinearModel> {
        if self.needs_general(data)? {
            check_init(init, data.n_features(), data.n_tasks())?;
            return self.fit_general(data, init, None);
        }
        let (x, y) = data.require_shared(P::KIND.name())?;
        check_init(init, x.ncols(), y.ncols())?;
        let prep = Prepared::new(
            data.sample_weight().map(|w| w.view()),
            x,
            y,
            self.0.fit_intercept,
        );
        let design = prep.design(x).with_threads(self.0.n_threads);
        self.solve(
            &design,
            &prep,
            init,
            data.task_names(),
            data.feature_names(),
        )
    }

    /// Fit on arrays borrowed from the caller (how the Python bindings fit without copying):
    /// `x` (`n × d`, any memory order; used in place when column-major and no centring or
    /// weighting copy is needed), `y` (`n × T`, NaN = missing target), optional `sample_weight`
    /// (`n`) and warm-start coefficients `init` (`d × T`). Same objective and result as
    /// [`Fit::fit`] on `MultiTaskDataset::shared(x, y)` with those weights; fits that need the
    /// general formulation (missing targets, a non-squared loss, another scaling) copy the data
    /// into a dataset first.
    ///
    /// ```
    /// use mtlkit_linear::MultiTaskLasso;
    /// use ndarray::array;
    ///
    /// let x = array![[1., 0., 3.], [2., 1., 0.], [0., 4., 1.], [3., 3., 3.]];
    /// let y = array![[1., 2.], [2., 4.], [0., 1.], [3., 6.]];
    /// let model = MultiTaskLasso::new(0.05).check()?.fit_arrays(x.view(), y.view(), None, None)?;
    /// assert_eq!(model.coef().dim(), (3, 2));
    /// # Ok::<(), mtlkit_linear::LinearError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Fit::fit`] and [`MultiTaskDataset::with_sample_weight`], plus
    /// [`LinearError::WarmStartShape`].
    pub fn fit_arrays(
        &self,
        x: ArrayView2<'_, f64>,
        y: ArrayView2<'_, f64>,
        sample_weight: Option<ArrayView1<'_, f64>>,
        init: Option<ArrayView2<'_, f64>>,
    ) -> Result<MultiTaskLinearModel> {
        let general = y.iter().any(|v| v.is_nan())
            || self.0.scaling != LossScaling::TaskMean
            || self
                .0
                .task_loss_list(y.ncols().max(1))?
                .iter()
                .any(|&l| l != Loss::Squared);
        if general {
            let mut data = MultiTaskDataset::shared(x.to_owned(), y.to_owned())?;
            if let Some(w) = sample_weight {
                data = data.with_sample_weight(w.to_owned())?;
            }
            return self.fit_from(&data, init);
        }
        mtlkit_core::dataset_checks::check_design(x, None)?;
        check_targets(x.nrows(), y)?;
        if let Some(w) = sample_weight {
            mtlkit_core::dataset_checks::check_sample_weight(w, x.nrows())?;
        }
        check_init(init, x.ncols(), y.ncols())?;
        let prep = Prepared::new(sample_weight, x, y, self.0.fit_intercept);
        let design = prep.design(x).with_threads(self.0.n_threads);
        let (feature_names, task_names) = default_names(x.ncols(), y.ncols());
        self.solve(&design, &prep, init, &task_names, &feature_names)
    }

    /// A warm-started regularization path: one model per `alpha` in `alphas` (in the order
    /// given; decreasing is fastest), every other hyperparameter as set. The solver state (the
    /// centred design, the residuals or the Gram matrix) is built once for the whole path.
    ///
    /// ```
    /// use mtlkit_core::MultiTaskDataset;
    /// use mtlkit_linear::{MultiTaskLasso, alpha_max};
    /// use ndarray::array;
    ///
    /// let x = array![[1., 0., 3.], [2., 1., 0.], [0., 4., 1.], [3., 3., 3.], [1., 1., 1.]];
    /// let y = array![[1., 2.], [2., 4.], [0., 1.], [3., 6.], [1., 1.]];
    /// let data = MultiTaskDataset::shared(x, y)?;
    /// let amax = alpha_max(&data, 1.0, true)?;
    /// let alphas: Vec<f64> = (0..10).map(|k| amax * 0.5f64.powi(k)).collect();
    /// let path = MultiTaskLasso::new(1.0).check()?.path(&data, &alphas)?;
    /// assert!(path[0].coef().iter().all(|&v| v == 0.0)); // alpha_max: all zero
    /// assert!(path[9].coef().iter().any(|&v| v != 0.0));
    /// # Ok::<(), mtlkit_linear::LinearError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Fit::fit`], plus [`mtlkit_core::Error::InvalidParameter`] for a negative or non-finite
    /// alpha.
    pub fn path(
        &self,
        data: &MultiTaskDataset,
        alphas: &[f64],
    ) -> Result<Vec<MultiTaskLinearModel>> {
        for &a in alphas {
            param::non_negative("alpha", a)?;
        }
        if self.needs_general(data)? {
            // warm-started fits of the general formulation, one per alpha
            let mut out: Vec<MultiTaskLinearModel> = Vec::with_capacity(alphas.len());
            for &a in alphas {
                let prev = out.last().map(|m| m.coef.view());
                let m = self.fit_general(data, prev, Some(a))?;
                out.push(m);
            }
            return Ok(out);
        }
        let (task_names, feature_names): (std::sync::Arc<[String]>, std::sync::Arc<[String]>) =
            (data.task_names().into(), data.feature_names().into());
        let mut out = Vec::with_capacity(alphas.len());
        self.shared_path(data, alphas, &mut |i, w, point, prep| {
            let mut hp = self.0.hyperparameters();
            hp.alpha = alphas[i];
            let res = crate::solver::SolverResult {
                coef: w.to_owned(),
                dual_gap: point.dual_gap,
                gap_n: point.gap_n,
                tol_n: point.tol_n,
                n_iter: point.n_iter,
                converged: point.converged,
            };
            out.push(self.model(res, prep, hp, task_names.clone(), feature_names.clone()));
        })?;
        for m in &out {
            finite_or_overflow(&m.coef, &m.intercept)?;
        }
        Ok(out)
    }

    /// The warm-started path of the shared layout (squared losses): the centred design built
    /// once, each alpha's solution (`d × T`) and certificate handed to `visit` with the
    /// centring (for the intercept).
    fn shared_path(
        &self,
        data: &MultiTaskDataset,
        alphas: &[f64],
        visit: &mut SharedPathVisitor<'_>,
    ) -> Result<()> {
        let (x, y) = data.require_shared(P::KIND.name())?;
        let prep = Prepared::new(
            data.sample_weight().map(|w| w.view()),
            x,
            y,
            self.0.fit_intercept,
        );
        targets_in_range(&prep)?;
        let design = prep.design(x).with_threads(self.0.n_threads);
        let penalties: Vec<P> = alphas
            .iter()
            .map(|&a| self.0.penalty.with_alpha(a))
            .collect();
        let (d, t) = (x.ncols(), y.ncols());
        self.solver().solve_path_with(
            &design,
            prep.yc.view(),
            &penalties,
            None,
            &mut |i, w, point| {
                let w = ArrayView2::from_shape((d, t), w)
                    .unwrap_or_else(|_| unreachable!("the solver's W is d × t"));
                visit(i, w, point, &prep);
            },
        );
        Ok(())
    }

    /// [`path`](Self::path) on the shared layout with squared losses, handing each alpha's
    /// coefficients (`d × T`) and intercept to `visit` instead of building models (what a
    /// cross-validation scores). `Ok(false)` when `data` needs the general formulation (the
    /// per-task layout, missing targets, other losses or scalings): use `path` then.
    pub(crate) fn path_with(
        &self,
        data: &MultiTaskDataset,
        alphas: &[f64],
        visit: &mut PathVisitor<'_>,
    ) -> Result<bool> {
        for &a in alphas {
            param::non_negative("alpha", a)?;
        }
        if self.needs_general(data)? {
            return Ok(false);
        }
        self.shared_path(data, alphas, &mut |i, w, point, prep| {
            if !point.converged {
                warn_unconverged(P::KIND.name(), point.n_iter, point.gap_n, point.tol_n);
            }
            visit(i, w, prep.intercept(w).view());
        })?;
        Ok(true)
    }

    /// Fit on a sparse (CSC) design `x` (`n × d`) with dense targets `y` (`n × T`), optionally
    /// warm-started from `previous`. With `fit_intercept`, `X` is centred implicitly (its
    /// non-zeros stay sparse). Same objective, solver and certificate as the dense fit.
    ///
    /// ```
    /// use mtlkit_core::{Predict, sparse::CscMatrix};
    /// use mtlkit_linear::MultiTaskLasso;
    /// use ndarray::array;
    ///
    /// let dense = array![[1., 0., 0.], [0., 2., 0.], [0., 0., 3.], [1., 1., 0.]];
    /// let x = CscMatrix::from_dense(&dense);
    /// let y = array![[1., 2.], [2., 4.], [0., 1.], [2., 3.]];
    /// let model = MultiTaskLasso::new(0.05).check()?.fit_csc(&x, y.view(), None)?;
    /// assert_eq!(model.predict_csc(&x)?.dim(), (4, 2));
    /// # Ok::<(), mtlkit_linear::LinearError>(())
    /// ```
    ///
    /// # Errors
    /// Shape mismatch between `x` and `y`, non-finite `y`, no task, or a `previous` model of
    /// another shape.
    pub fn fit_csc(
        &self,
        x: &CscMatrix,
        y: ArrayView2<'_, f64>,
        previous: Option<&MultiTaskLinearModel>,
    ) -> Result<MultiTaskLinearModel> {
        self.fit_csc_init(x, y, previous.map(|m| m.coef.view()))
    }

    /// [`fit_csc`](Self::fit_csc) starting from coefficients `init` (`n_features × n_tasks`)
    /// when given.
    ///
    /// # Errors
    /// As [`fit_csc`](Self::fit_csc).
    pub fn fit_csc_init(
        &self,
        x: &CscMatrix,
        y: ArrayView2<'_, f64>,
        init: Option<ArrayView2<'_, f64>>,
    ) -> Result<MultiTaskLinearModel> {
        let (n, d) = x.dim();
        check_targets(n, y)?;
        check_init(init, d, y.ncols())?;
        let prep = Prepared::unweighted(y, self.0.fit_intercept, d, || {
            Array1::from(CscDesign::column_means(x))
        });
        let design = CscDesign::new(x, prep.x_offset.as_slice());
        let (feature_names, task_names) = default_names(d, y.ncols());
        self.solve(&design, &prep, init, &task_names, &feature_names)
    }

    /// Whether `data` needs the general per-task solver: per-task designs, missing targets,
    /// a non-squared loss or a scaling other than scikit-learn's.
    fn needs_general(&self, data: &MultiTaskDataset) -> Result<bool> {
        let losses = self.0.task_loss_list(data.n_tasks())?;
        Ok(data.as_shared().is_none()
            || data.has_missing_targets()
            || losses.iter().any(|&l| l != Loss::Squared)
            || self.0.scaling != LossScaling::TaskMean)
    }

    /// Fit the general formulation (see [`crate::pertask`]), at `alpha` if given.
    fn fit_general(
        &self,
        data: &MultiTaskDataset,
        init: Option<ArrayView2<'_, f64>>,
        alpha: Option<f64>,
    ) -> Result<MultiTaskLinearModel> {
        let p = &self.0;
        let penalty = alpha.map_or_else(|| p.penalty.clone(), |a| p.penalty.with_alpha(a));
        let losses = p.task_loss_list(data.n_tasks())?;
        let prep = pertask::prepare(data, &losses, p.scaling, p.fit_intercept)?;
        let (d, nt) = (data.n_features(), data.n_tasks());
        let w0: Option<Vec<f64>> = init.map(|w| w.iter().copied().collect());
        let opts = pertask::Options {
            max_iter: p.max_iter,
            tol: p.tol,
            random: (p.selection == Selection::Random).then_some(p.random_state),
            anderson: p.anderson,
        };
        let sol = pertask::solve(
            &prep.tasks,
            d,
            penalty.l21_weight(),
            penalty.ridge_weight(),
            &opts,
            w0.as_deref(),
            None,
        );
        if !sol.converged {
            log::warn!(
                "{} did not converge after {} iterations: duality gap {:.3e} > tolerance {:.3e} \
                 (increase max_iter, rescale the features or increase alpha)",
                P::KIND.name(),
                sol.n_iter,
                sol.gap,
                sol.tol_abs
            );
        }
        let coef = Array2::from_shape_vec((d, nt), sol.w)
            .unwrap_or_else(|_| unreachable!("the solver returns d × T coefficients"));
        let intercept = prep.intercepts(coef.view(), &sol.b);
        finite_or_overflow(&coef, &intercept)?;
        let mut hp = p.hyperparameters();
        hp.alpha = penalty.alpha();
        Ok(MultiTaskLinearModel {
            coef,
            intercept,
            task_names: data.task_names().into(),
            feature_names: data.feature_names().into(),
            hyperparameters: hp,
            info: FitInfo {
                n_iter: sol.n_iter,
                dual_gap: sol.gap,
                converged: sol.converged,
            },
            losses,
            classes: prep.classes,
            structure: None,
            class_labels: None,
        })
    }

    /// The smallest `alpha` at which every coefficient is zero, for this estimator's losses,
    /// scaling and intercept on `data` (either layout).
    ///
    /// # Errors
    /// As [`Fit::fit`].
    pub fn alpha_max(&self, data: &MultiTaskDataset) -> Result<f64> {
        let p = &self.0;
        let losses = p.task_loss_list(data.n_tasks())?;
        let prep = pertask::prepare(data, &losses, p.scaling, p.fit_intercept)?;
        Ok(pertask::l21_max(&prep.tasks, data.n_features()) / p.penalty.l1_ratio())
    }

    /// Fit on a single-precision design `x` (`n × d`, `f32`) with targets `y` (`n × T`): `X`
    /// stays in `f32` (half the memory of an `f64` copy; used in place when column-major and
    /// `fit_intercept` is off) and the solver computes in `f64`, widening columns as it reads
    /// them. The problem solved is the `f64` problem on `x` widened exactly, so the model equals
    /// [`Fit::fit`] on that widened design (with `fit_intercept` the centred copy is kept in
    /// `f32`, which rounds it to `f32` precision). Shared design, squared loss, default scaling,
    /// no sample weights.
    ///
    /// ```
    /// use mtlkit_linear::MultiTaskLasso;
    /// use ndarray::array;
    ///
    /// let x = array![[1f32, 0., 3.], [2., 1., 0.], [0., 4., 1.], [3., 3., 3.]];
    /// let y = array![[1., 2.], [2., 4.], [0., 1.], [3., 6.]];
    /// let model = MultiTaskLasso::new(0.05).check()?.fit_f32(x.view(), y.view())?;
    /// assert_eq!(model.predict_f32(x.view())?.dim(), (4, 2));
    /// # Ok::<(), mtlkit_linear::LinearError>(())
    /// ```
    ///
    /// # Errors
    /// Shape mismatch, empty input, non-finite values, or a loss or scaling other than the
    /// default ([`mtlkit_core::Error::InvalidParameter`]).
    pub fn fit_f32(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView2<'_, f64>,
    ) -> Result<MultiTaskLinearModel> {
        let (n, d) = x.dim();
        let p = &self.0;
        if p.losses.iter().any(|&l| l != Loss::Squared) || p.scaling != LossScaling::TaskMean {
            return Err(mtlkit_core::Error::InvalidParameter {
                name: "loss",
                value: "a non-squared loss or non-default scaling".into(),
                expected: "the squared loss with task-mean scaling for fit_f32 (use fit on f64 data)",
            }
            .into());
        }
        if n == 0 {
            return Err(mtlkit_core::Error::NoSamples { task: None }.into());
        }
        if d == 0 {
            return Err(mtlkit_core::Error::NoFeatures.into());
        }
        check_targets(n, y)?;
        if let Some(((row, col), &v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(mtlkit_core::Error::NonFinite {
                array: "X",
                task: None,
                row,
                col,
                value: f64::from(v),
            }
            .into());
        }
        let prep = Prepared::unweighted(y, p.fit_intercept, d, || {
            Array1::from_shape_fn(d, |j| {
                x.column(j).iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64
            })
        });
        let design = DenseDesign::<f32>::new(x, prep.x_offset.as_slice()).with_threads(p.n_threads);
        let (feature_names, task_names) = default_names(d, y.ncols());
        self.solve(&design, &prep, None, &task_names, &feature_names)
    }

    fn solver(&self) -> BlockCoordinateDescent {
        let p = &self.0;
        if p.penalty.l21_weight() == 0.0 {
            log::warn!(
                "{} with a zero L2,1 weight (alpha * l1_ratio = 0) is a ridge or least-squares \
                 problem: coordinate descent converges slowly there",
                P::KIND.name()
            );
        }
        BlockCoordinateDescent {
            options: BcdOptions {
                max_iter: p.max_iter,
                tol: p.tol,
                random: p.selection == Selection::Random,
                random_state: p.random_state,
                screening: p.screening,
                working_set: p.working_set,
                anderson: p.anderson,
                gram: p.gram,
                mixed_precision: p.mixed_precision,
            },
        }
    }

    fn solve<X: Design>(
        &self,
        design: &X,
        prep: &Prepared,
        init: Option<ArrayView2<'_, f64>>,
        task_names: &[String],
        feature_names: &[String],
    ) -> Result<MultiTaskLinearModel> {
        targets_in_range(prep)?;
        let res = self
            .solver()
            .solve(design, prep.yc.view(), &Quadratic, &self.0.penalty, init);
        let model = self.model(
            res,
            prep,
            self.0.hyperparameters(),
            task_names.into(),
            feature_names.into(),
        );
        finite_or_overflow(&model.coef, &model.intercept)?;
        Ok(model)
    }

    /// The fitted model from a solver result (intercept from the offsets; warning if the
    /// solver did not converge).
    fn model(
        &self,
        res: crate::solver::SolverResult,
        prep: &Prepared,
        hyperparameters: Hyperparameters,
        task_names: std::sync::Arc<[String]>,
        feature_names: std::sync::Arc<[String]>,
    ) -> MultiTaskLinearModel {
        if !res.converged {
            warn_unconverged(P::KIND.name(), res.n_iter, res.gap_n, res.tol_n);
        }
        let intercept = prep.intercept(res.coef.view());
        let nt = task_names.len();
        MultiTaskLinearModel {
            coef: res.coef,
            intercept,
            task_names,
            feature_names,
            hyperparameters,
            info: FitInfo {
                n_iter: res.n_iter,
                dual_gap: res.dual_gap,
                converged: res.converged,
            },
            losses: vec![Loss::Squared; nt],
            classes: vec![None; nt],
            structure: None,
            class_labels: None,
        }
    }

    /// The objective of `model` on `data`: `1/(2n)‖Y − XW − 1bᵀ‖²_F + R(W)` in the shared
    /// layout, and in general `Σ_t c_t Σ_i s_ti ℓ_t(y_ti, x_tiᵀw_t + b_t) + R(W)` with this
    /// estimator's losses and [`LossScaling`] (see [`crate::pertask`]).
    ///
    /// # Errors
    /// A shape mismatch between model and data, or invalid labels for a logistic task.
    pub fn objective(&self, data: &MultiTaskDataset, model: &MultiTaskLinearModel) -> Result<f64> {
        if self.needs_general(data)? {
            for (what, expected, found) in [
                (
                    "features of the model vs the data",
                    data.n_features(),
                    model.n_features(),
                ),
                (
                    "tasks of the model vs the data",
                    data.n_tasks(),
                    model.n_tasks(),
                ),
            ] {
                if expected != found {
                    return Err(mtlkit_core::Error::ShapeMismatch {
                        what,
                        task: None,
                        expected,
                        found,
                    }
                    .into());
                }
            }
            let losses = self.0.task_loss_list(data.n_tasks())?;
            let fit = pertask::data_term(
                data,
                &losses,
                self.0.scaling,
                model.coef.view(),
                model.intercept.view(),
            )?;
            return Ok(fit + self.0.penalty.value(model.coef.view()));
        }
        let (x, y) = data.require_shared("objective")?;
        let pred = model.predict(&x)?;
        if pred.dim() != y.dim() {
            return Err(mtlkit_core::Error::ShapeMismatch {
                what: "tasks of the model vs columns of Y",
                task: None,
                expected: y.ncols(),
                found: pred.ncols(),
            }
            .into());
        }
        let datafit = match data.sample_weight() {
            None => Quadratic.value(y, pred.view()),
            Some(w) => {
                // weights rescaled to sum to n, as scikit-learn: 1/(2n) Σ_i w_i ‖y_i − ŷ_i‖²
                let n = y.nrows() as f64;
                let scale = n / w.sum();
                let ss: f64 = y
                    .rows()
                    .into_iter()
                    .zip(pred.rows())
                    .zip(w)
                    .map(|((a, b), wi)| {
                        wi * scale * a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>()
                    })
                    .sum();
                ss / (2.0 * n)
            }
        };
        Ok(datafit + self.0.penalty.value(model.coef.view()))
    }
}

impl<P: EstimatorPenalty> Fit<MultiTaskDataset> for ValidMultiTaskParams<P> {
    type Fitted = MultiTaskLinearModel;
    type Error = LinearError;
    fn fit(&self, data: &MultiTaskDataset) -> Result<MultiTaskLinearModel> {
        self.fit_from(data, None)
    }
}

/// Targets for a design of `n` rows: at least one task, `n` rows, finite.
fn check_targets(n: usize, y: ArrayView2<'_, f64>) -> Result<()> {
    if y.ncols() == 0 {
        return Err(mtlkit_core::Error::NoTasks.into());
    }
    if y.nrows() != n {
        return Err(mtlkit_core::Error::ShapeMismatch {
            what: "rows of Y vs rows of X",
            task: None,
            expected: n,
            found: y.nrows(),
        }
        .into());
    }
    mtlkit_core::dataset_checks::check_finite("Y", y, None)?;
    Ok(())
}

/// The data model's default names: `x0, x1, …` and `task0, task1, …`.
fn default_names(d: usize, t: usize) -> (Vec<String>, Vec<String>) {
    (
        (0..d).map(|j| format!("x{j}")).collect(),
        (0..t).map(|k| format!("task{k}")).collect(),
    )
}

fn check_init(init: Option<ArrayView2<'_, f64>>, d: usize, t: usize) -> Result<()> {
    match init {
        Some(w0) if w0.dim() != (d, t) => Err(LinearError::WarmStartShape {
            expected: (d, t),
            found: w0.dim(),
        }),
        _ => Ok(()),
    }
}

/// The centred (and, with sample weights, row-scaled) problem the solver sees.
///
/// Weights `w` are rescaled to sum to `n` (scikit-learn 1.9); offsets are weighted means; rows of
/// `X − 1 x_offsetᵀ` and `Y − 1 y_offsetᵀ` are multiplied by `sqrt(w_i)`, which turns
/// `1/(2n) Σ_i w_i ‖y_i − x_i W − b‖²` into the unweighted quadratic datafit.
struct Prepared {
    x_offset: Array1<f64>,
    y_offset: Array1<f64>,
    sqrt_w: Option<Array1<f64>>,
    yc: Array2<f64>,
}

/// What [`ValidMultiTaskParams::path_with`] hands each alpha: its index, the coefficients
/// (`d × T`) and the intercept.
pub(crate) type PathVisitor<'a> = dyn FnMut(usize, ArrayView2<'_, f64>, ArrayView1<'_, f64>) + 'a;

/// What the shared-layout path hands each alpha: its index, `W` (`d × T`), its certificate
/// and the data's centring.
type SharedPathVisitor<'a> =
    dyn FnMut(usize, ArrayView2<'_, f64>, crate::solver::PathPoint, &Prepared) + 'a;

/// The warning of a fit that stopped at `max_iter` before its tolerance.
fn warn_unconverged(name: &str, n_iter: usize, gap_n: f64, tol_n: f64) {
    log::warn!(
        "{name} did not converge after {n_iter} iterations: duality gap {gap_n:.3e} > tolerance \
         {tol_n:.3e} (increase max_iter, rescale the features or increase alpha)"
    );
}

/// `Y − 1 offsetᵀ` in column-major order (the solver's layout of `Y` and `R`: it then borrows
/// these targets instead of copying them again).
fn centred_f(y: ArrayView2<'_, f64>, offset: &Array1<f64>) -> Array2<f64> {
    let mut yc = Array2::zeros(y.raw_dim().f());
    for ((mut col, ycol), &o) in yc
        .columns_mut()
        .into_iter()
        .zip(y.columns())
        .zip(offset.iter())
    {
        col.zip_mut_with(&ycol, |a, &b| *a = b - o);
    }
    yc
}

impl Prepared {
    /// The intercept `ȳ − x̄ W` of coefficients `w` (`d × T`).
    fn intercept(&self, w: ArrayView2<'_, f64>) -> Array1<f64> {
        let t = w.ncols();
        let w = w.as_standard_layout();
        let ws = w
            .as_slice()
            .unwrap_or_else(|| unreachable!("a standard-layout array is contiguous"));
        let mut b = self.y_offset.to_vec();
        // every row (a zero row subtracts exact zeros): no branch per row
        for (&xo, row) in self.x_offset.iter().zip(ws.chunks_exact(t.max(1))) {
            for (bk, &v) in b.iter_mut().zip(row) {
                *bk -= xo * v;
            }
        }
        Array1::from(b)
    }

    fn new(
        sample_weight: Option<ArrayView1<'_, f64>>,
        x: ArrayView2<'_, f64>,
        y: ArrayView2<'_, f64>,
        fit_intercept: bool,
    ) -> Self {
        let n = x.nrows() as f64;
        let w = sample_weight.map(|w| &w * (n / w.sum()));
        let (x_offset, y_offset) = match (&w, fit_intercept) {
            (_, false) => (Array1::zeros(x.ncols()), Array1::zeros(y.ncols())),
            (None, true) => (x.sum_axis(Axis(0)) / n, y.sum_axis(Axis(0)) / n),
            (Some(w), true) => {
                let wc = w.view().insert_axis(Axis(1));
                (
                    (&x * &wc).sum_axis(Axis(0)) / n,
                    (&y * &wc).sum_axis(Axis(0)) / n,
                )
            }
        };
        let sqrt_w = w.map(|w| w.mapv(f64::sqrt));
        let mut yc = centred_f(y, &y_offset);
        if let Some(s) = &sqrt_w {
            yc *= &s.view().insert_axis(Axis(1));
        }
        Self {
            x_offset,
            y_offset,
            sqrt_w,
            yc,
        }
    }

    /// Offsets and centred targets without sample weights; `x_mean` gives `X`'s column means
    /// (called only with an intercept).
    fn unweighted(
        y: ArrayView2<'_, f64>,
        fit_intercept: bool,
        d: usize,
        x_mean: impl FnOnce() -> Array1<f64>,
    ) -> Self {
        let n = y.nrows() as f64;
        let (x_offset, y_offset) = if fit_intercept {
            (x_mean(), y.sum_axis(Axis(0)) / n)
        } else {
            (Array1::zeros(d), Array1::zeros(y.ncols()))
        };
        let yc = centred_f(y, &y_offset);
        Self {
            x_offset,
            y_offset,
            sqrt_w: None,
            yc,
        }
    }

    /// The design: `X` in place when possible, else one prepared copy.
    fn design<'a>(&self, x: ArrayView2<'a, f64>) -> DenseDesign<'a> {
        match &self.sqrt_w {
            None => DenseDesign::new(x, self.x_offset.as_slice()),
            Some(s) => DenseDesign::weighted(
                x,
                self.x_offset.as_slice().unwrap_or(&[]),
                s.as_slice().unwrap_or(&[]),
            ),
        }
    }
}

/// The smallest `alpha` at which every coefficient is zero for the squared loss with the
/// default scaling: `alpha_max = max_j ‖X_jᵀ Y‖₂ / (n · l1_ratio)` on the centred data when
/// `fit_intercept` (infinite when `l1_ratio = 0`); per-task designs and missing targets use each
/// task's own samples. For other losses or scalings see [`ValidMultiTaskParams::alpha_max`].
///
/// # Errors
/// [`mtlkit_core::Error::InvalidParameter`] for `l1_ratio` outside `[0, 1]`.
pub fn alpha_max(data: &MultiTaskDataset, l1_ratio: f64, fit_intercept: bool) -> Result<f64> {
    param::unit_interval("l1_ratio", l1_ratio)?;
    if data.as_shared().is_none() || data.has_missing_targets() {
        let losses = vec![Loss::Squared; data.n_tasks()];
        let prep = pertask::prepare(data, &losses, LossScaling::TaskMean, fit_intercept)?;
        return Ok(pertask::l21_max(&prep.tasks, data.n_features()) / l1_ratio);
    }
    let (x, y) = data.require_shared("alpha_max")?;
    let prep = Prepared::new(data.sample_weight().map(|w| w.view()), x, y, fit_intercept);
    let mut xc = &x - &prep.x_offset.view().insert_axis(Axis(0));
    if let Some(s) = &prep.sqrt_w {
        xc *= &s.view().insert_axis(Axis(1));
    }
    let g = xc.t().dot(&prep.yc);
    let m = g
        .rows()
        .into_iter()
        .map(|r| r.dot(&r).sqrt())
        .fold(0.0f64, f64::max);
    Ok(m / (x.nrows() as f64 * l1_ratio))
}

/// How a fit ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    /// Passes over the features (0 if the start point met the tolerance).
    pub n_iter: usize,
    /// Duality gap at the solution, in the objective's scale (scikit-learn's `dual_gap_`).
    /// `NaN` where no gap could be computed; JSON writes that as `null`, read back as `NaN`.
    #[serde(deserialize_with = "nan_if_null")]
    pub dual_gap: f64,
    /// Whether the tolerance was reached within `max_iter`.
    pub converged: bool,
}

/// A number that JSON may hold as `null` (how `serde_json` writes `NaN`), read back as `NaN`.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A fitted linear multi-task model: `Ŷ = X W + 1 bᵀ`.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiTaskLinearModel {
    pub(crate) coef: Array2<f64>,
    pub(crate) intercept: Array1<f64>,
    /// Shared (`Arc`): the models of a path hold one copy of the names.
    pub(crate) task_names: std::sync::Arc<[String]>,
    pub(crate) feature_names: std::sync::Arc<[String]>,
    pub(crate) hyperparameters: Hyperparameters,
    pub(crate) info: FitInfo,
    pub(crate) losses: Vec<Loss>,
    pub(crate) classes: Vec<Option<[f64; 2]>>,
    /// Structured models: the regularizers and graph, as JSON.
    pub(crate) structure: Option<serde_json::Value>,
    /// The original class labels of classification tasks, as JSON (per task `[neg, pos]` or
    /// `null`), where they are not the numbers in `classes` (e.g. strings, kept by the Python
    /// estimators); stored in model files as they are.
    pub(crate) class_labels: Option<serde_json::Value>,
}

impl MultiTaskLinearModel {
    /// The regularizers of a structured model (JSON: `{"parts": [...], "graph": ...,
    /// "model": ...}`); `None` for the named estimators.
    pub fn structure(&self) -> Option<&serde_json::Value> {
        self.structure.as_ref()
    }
    /// `W`, `n_features × n_tasks` (Python's `coef_` is its transpose).
    pub fn coef(&self) -> ArrayView2<'_, f64> {
        self.coef.view()
    }
    /// `b`, one per task.
    pub fn intercept(&self) -> &Array1<f64> {
        &self.intercept
    }
    /// Task names.
    pub fn task_names(&self) -> &[String] {
        &self.task_names
    }
    /// Feature names.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
    /// The hyperparameters it was fitted with.
    pub fn hyperparameters(&self) -> &Hyperparameters {
        &self.hyperparameters
    }
    /// How the fit ended.
    pub fn info(&self) -> &FitInfo {
        &self.info
    }
    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.coef.nrows()
    }
    /// Number of tasks.
    pub fn n_tasks(&self) -> usize {
        self.coef.ncols()
    }
    /// The same model with other task names (e.g. from a CSV header).
    ///
    /// # Errors
    /// [`mtlkit_core::Error::NamesLength`] for a count other than `n_tasks`.
    pub fn with_task_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.len() != self.n_tasks() {
            return Err(mtlkit_core::Error::NamesLength {
                what: "task names",
                expected: self.n_tasks(),
                found: names.len(),
            }
            .into());
        }
        self.task_names = names.into();
        Ok(self)
    }
    /// The same model with other feature names (e.g. a data frame's columns).
    ///
    /// # Errors
    /// [`mtlkit_core::Error::NamesLength`] for a count other than `n_features`.
    pub fn with_feature_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.len() != self.n_features() {
            return Err(mtlkit_core::Error::NamesLength {
                what: "feature names",
                expected: self.n_features(),
                found: names.len(),
            }
            .into());
        }
        self.feature_names = names.into();
        Ok(self)
    }
    /// The loss of each task.
    pub fn losses(&self) -> &[Loss] {
        &self.losses
    }
    /// For each task, the labels standing for classes 0 and 1 (`None` for regression tasks).
    pub fn classes(&self) -> &[Option<[f64; 2]>] {
        &self.classes
    }
    /// Indices of the classification (logistic) tasks, in order: the columns of
    /// [`predict_proba`](Self::predict_proba).
    pub fn classification_tasks(&self) -> Vec<usize> {
        (0..self.n_tasks())
            .filter(|&t| self.losses[t] == Loss::Logistic)
            .collect()
    }

    /// `X W + 1 bᵀ` (`n × T`): the predictions of regression tasks, the log-odds of
    /// classification tasks.
    ///
    /// # Errors
    /// A shape mismatch with the model or a non-finite `x`.
    pub fn decision_function(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.n_features() {
            return Err(mtlkit_core::Error::ShapeMismatch {
                what: "columns of X vs n_features of the model",
                task: None,
                expected: self.n_features(),
                found: x.ncols(),
            }
            .into());
        }
        mtlkit_core::dataset_checks::check_finite("X", x.view(), None)?;
        Ok(x.dot(&self.coef) + self.intercept.view().insert_axis(Axis(0)))
    }

    /// [`Predict::predict`] for a single-precision `x` (widened in blocks of rows, never whole).
    ///
    /// # Errors
    /// As [`Predict::predict`].
    pub fn predict_f32(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f64>> {
        let mut out = Array2::zeros((x.nrows(), self.n_tasks()));
        for (xb, mut ob) in x
            .axis_chunks_iter(Axis(0), 4096)
            .zip(out.axis_chunks_iter_mut(Axis(0), 4096))
        {
            ob.assign(&self.predict(&xb.mapv(f64::from).view())?);
        }
        if x.nrows() == 0 {
            // shape check for empty input
            self.predict(&Array2::<f64>::zeros((0, x.ncols())).view())?;
        }
        Ok(out)
    }

    /// `P(y = class 1)` for each classification task (`n × k`, columns in the order of
    /// [`classification_tasks`](Self::classification_tasks)).
    ///
    /// # Errors
    /// [`LinearError::NoClassificationTask`] when every task is a regression; as
    /// [`decision_function`](Self::decision_function).
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let cls = self.classification_tasks();
        if cls.is_empty() {
            return Err(LinearError::NoClassificationTask {
                operation: "predict_proba",
            });
        }
        let z = self.decision_function(x)?;
        Ok(Array2::from_shape_fn((z.nrows(), cls.len()), |(i, k)| {
            pertask::sigmoid(z[[i, cls[k]]])
        }))
    }
}

impl MultiTaskLinearModel {
    /// `X W + 1 bᵀ` for a sparse `x` (`n × n_features`).
    ///
    /// # Errors
    /// A shape mismatch with the model.
    pub fn predict_csc(&self, x: &CscMatrix) -> Result<Array2<f64>> {
        let (n, d) = x.dim();
        if d != self.n_features() {
            return Err(mtlkit_core::Error::ShapeMismatch {
                what: "columns of X vs n_features of the model",
                task: None,
                expected: self.n_features(),
                found: d,
            }
            .into());
        }
        let mut out = Array2::zeros((n, self.n_tasks()));
        out += &self.intercept.view().insert_axis(Axis(0));
        for j in 0..d {
            let (idx, val) = x.col(j);
            let wj = self.coef.row(j);
            if wj.iter().all(|&v| v == 0.0) {
                continue;
            }
            for (&i, &v) in idx.iter().zip(val) {
                out.row_mut(i).scaled_add(v, &wj);
            }
        }
        Ok(out)
    }
}

impl Predict<ArrayView2<'_, f64>> for MultiTaskLinearModel {
    type Output = Array2<f64>;
    type Error = LinearError;
    /// For `x` of shape `n × n_features`: `X W + 1 bᵀ` for regression tasks, the predicted
    /// label (the task's own label values) for classification tasks.
    fn predict(&self, x: &ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let mut z = self.decision_function(x.view())?;
        for (t, cls) in self.classes.iter().enumerate() {
            if let Some([c0, c1]) = cls {
                z.column_mut(t)
                    .mapv_inplace(|v| if v > 0.0 { *c1 } else { *c0 });
            }
        }
        Ok(z)
    }
}
