//! Model selection: the `alpha` grid, and cross-validated estimators ([`MultiTaskLassoCV`],
//! [`MultiTaskElasticNetCV`]) with scikit-learn's attributes.
//!
//! For every `l1_ratio` the grid runs from `alpha_max` (computed on all the data, for the
//! estimator's losses, scaling, intercept and sample weights) down to `eps · alpha_max`,
//! geometrically (scikit-learn's `eps = 1e-3`, 100 alphas), unless alphas are given. Each fold
//! fits one warm-started path on its training part and scores every alpha on its test part;
//! the folds split **within each task** ([`mtlkit_core::split::k_fold`]). The score of a task is
//! its mean squared error (regression) or mean log-loss (classification) on its test samples
//! (each weighted by its sample weight, as scikit-learn weighs a fold's test error);
//! the CV criterion is the mean over tasks (for a shared design and squared losses this is
//! scikit-learn's `mse_path_`, the mean over samples and tasks). The best `(l1_ratio, alpha)`
//! minimises the criterion averaged over folds (ties: the first, i.e. the largest alpha), or,
//! with the one-standard-error rule, is the largest alpha within one standard error of that
//! minimum; the model is then refitted on all the data.

use mtlkit_core::split::k_fold;
use mtlkit_core::{Fit, MultiTaskDataset, TaskId, param};
use ndarray::{Array2, Array3, Array4, ArrayView2};

use crate::estimator::{EstimatorPenalty, MultiTaskLinearModel, ValidMultiTaskParams};
use crate::penalty::{L21, L21Ridge};
use crate::pertask::Loss;
use crate::{LinearError, Result};

/// `n_alphas` values from `alpha_max` down to `eps · alpha_max`, evenly spaced in log scale
/// (scikit-learn's `_alpha_grid`).
///
/// # Errors
/// `alpha_max` not positive and finite, `eps` outside `(0, 1)`, `n_alphas = 0`.
pub fn alpha_grid(alpha_max: f64, eps: f64, n_alphas: usize) -> Result<Vec<f64>> {
    param::positive("alpha_max", alpha_max)?;
    param::open_unit_interval("eps", eps)?;
    param::positive_count("n_alphas", n_alphas)?;
    if n_alphas == 1 {
        return Ok(vec![alpha_max]);
    }
    // (`log10(alpha_max · eps)` in two terms: the product may underflow to 0)
    let (hi, lo) = (alpha_max.log10(), alpha_max.log10() + eps.log10());
    Ok((0..n_alphas)
        .map(|k| 10f64.powf(hi + (lo - hi) * k as f64 / (n_alphas - 1) as f64))
        .collect())
}

/// The largest automatic grid ([`auto_alpha_grid`]): more alphas than this is a mistake, not a
/// grid (each one is a fit; `n_alphas` values are allocated up front).
pub const MAX_N_ALPHAS: usize = 1_000_000;

/// The automatic grid for an estimator whose `alpha_max` on the data is `alpha_max`, at
/// `l1_ratio`: [`alpha_grid`], with scikit-learn's two special cases. There is no grid at
/// `l1_ratio = 0` (a pure ridge penalty zeroes no row at any alpha: give the alphas). Where
/// `alpha_max` is at most `1e-15` (constant or zero targets, or zero features), every alpha is
/// `1e-15` (the zero model).
///
/// # Errors
/// `l1_ratio = 0`, `n_alphas` of 0 or above [`MAX_N_ALPHAS`], `eps` outside `(0, 1)`, a
/// non-finite `alpha_max` (the data's scale overflows: rescale it or give the alphas).
pub fn auto_alpha_grid(
    alpha_max: f64,
    l1_ratio: f64,
    eps: f64,
    n_alphas: usize,
) -> Result<Vec<f64>> {
    param::positive_count("n_alphas", n_alphas)?;
    param::open_unit_interval("eps", eps)?;
    if n_alphas > MAX_N_ALPHAS {
        return Err(mtlkit_core::Error::InvalidParameter {
            name: "n_alphas",
            value: n_alphas.to_string(),
            expected: "at most 1000000",
        }
        .into());
    }
    if l1_ratio == 0.0 {
        return Err(mtlkit_core::Error::InvalidParameter {
            name: "l1_ratio",
            value: "0".into(),
            expected: "> 0 for an automatic alpha grid (a pure ridge penalty has no alpha_max: \
                       give the alphas)",
        }
        .into());
    }
    if !alpha_max.is_finite() {
        return Err(mtlkit_core::Error::InvalidParameter {
            name: "alpha_max",
            value: alpha_max.to_string(),
            expected: "finite (the data's scale overflows: rescale it or give the alphas)",
        }
        .into());
    }
    // scikit-learn's `np.finfo(float).resolution`
    const RESOLUTION: f64 = 1e-15;
    if alpha_max <= RESOLUTION {
        return Ok(vec![RESOLUTION; n_alphas]);
    }
    alpha_grid(alpha_max, eps, n_alphas)
}

/// How the folds are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Folds {
    /// `n_splits` folds within each task, in order, or shuffled with a seed.
    KFold {
        /// Number of folds (`>= 2`).
        n_splits: usize,
        /// Shuffle with this seed before splitting; `None` keeps the order (scikit-learn's
        /// default).
        shuffle: Option<u64>,
    },
    /// The test rows of each fold, given (shared design only); each fold trains on every
    /// other row.
    Explicit(Vec<Vec<usize>>),
    /// The `(train, test)` rows of each split, given (shared design only): scikit-learn's
    /// splitters, whose training rows need not be the complement of the test rows
    /// (`TimeSeriesSplit`, `ShuffleSplit` with a `train_size`).
    Splits(Vec<(Vec<usize>, Vec<usize>)>),
    /// Rows of the same group never split across train and test (shared design only): groups
    /// go, largest first, to the fold with the fewest rows so far (scikit-learn's
    /// `GroupKFold`). `groups[i]` is row `i`'s group id.
    Groups {
        /// Number of folds (`>= 2`, at most the number of groups).
        n_splits: usize,
        /// Group id of each row.
        groups: Vec<u64>,
    },
}

/// Cross-validated linear multi-task estimator: the estimator `P` with `alpha` (and
/// `l1_ratio`) chosen by cross-validation.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiTaskCv<P> {
    base: ValidMultiTaskParams<P>,
    l1_ratios: Vec<f64>,
    alphas: Option<Vec<f64>>,
    n_alphas: usize,
    eps: f64,
    folds: Folds,
    one_standard_error: bool,
    n_jobs: usize,
    progress: Progress,
}

/// A callback run after each `(l1_ratio, fold)` path (e.g. to move a progress bar).
#[derive(Clone, Default)]
pub struct Progress(Option<std::sync::Arc<dyn Fn() + Send + Sync>>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(set)"
        } else {
            "Progress(none)"
        })
    }
}

impl PartialEq for Progress {
    /// Callbacks do not take part in comparisons.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Cross-validated [`crate::MultiTaskLasso`] (scikit-learn's `MultiTaskLassoCV`).
///
/// ```
/// use mtlkit_core::MultiTaskDataset;
/// use mtlkit_linear::{MultiTaskLasso, cv::MultiTaskLassoCV};
/// use ndarray::Array2;
///
/// let x = Array2::from_shape_fn((30, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
/// let y = Array2::from_shape_fn((30, 2), |(i, t)| x[[i, 0]] * (1.0 + t as f64) + (i % 3) as f64);
/// let data = MultiTaskDataset::shared(x, y)?;
/// let cv = MultiTaskLassoCV::new(MultiTaskLasso::new(1.0).tol(1e-8).check()?).n_alphas(20).fit(&data)?;
/// assert_eq!(cv.mse_path.dim(), (1, 20, 5)); // (l1_ratios, alphas, folds)
/// assert!(cv.alphas.row(0).iter().any(|&a| a == cv.alpha));
/// # Ok::<(), mtlkit_linear::LinearError>(())
/// ```
pub type MultiTaskLassoCV = MultiTaskCv<L21>;

/// Cross-validated [`crate::MultiTaskElasticNet`] (scikit-learn's `MultiTaskElasticNetCV`):
/// `alpha` and `l1_ratio` chosen together; each candidate minimises the elastic net's objective
/// `1/(2n)‖Y − XW − 1bᵀ‖²_F + alpha·l1_ratio·Σ_j‖W_j‖₂ + alpha·(1 − l1_ratio)/2·‖W‖²_F` (or its
/// general per-task form) on each fold's training part.
///
/// ```
/// use mtlkit_core::MultiTaskDataset;
/// use mtlkit_linear::{MultiTaskElasticNet, cv::{Folds, MultiTaskElasticNetCV}};
/// use ndarray::Array2;
///
/// let x = Array2::from_shape_fn((40, 5), |(i, j)| ((i * 7 + j * 3) % 13) as f64);
/// let y = Array2::from_shape_fn((40, 3), |(i, t)| x[[i, 1]] * (t as f64 + 1.0) - x[[i, 4]]);
/// let data = MultiTaskDataset::shared(x, y)?;
/// let base = MultiTaskElasticNet::new(1.0, 0.5).tol(1e-8).check()?;
/// let cv = MultiTaskElasticNetCV::new(base, vec![0.3, 0.9])
///     .n_alphas(15)
///     .folds(Folds::KFold { n_splits: 4, shuffle: Some(0) })
///     .fit(&data)?;
/// assert_eq!(cv.mse_path.dim(), (2, 15, 4));
/// assert!(cv.l1_ratio == 0.3 || cv.l1_ratio == 0.9);
/// # Ok::<(), mtlkit_linear::LinearError>(())
/// ```
pub type MultiTaskElasticNetCV = MultiTaskCv<L21Ridge>;

/// The outcome of a cross-validated fit (scikit-learn's attribute names without the trailing
/// underscore).
#[derive(Debug, Clone)]
pub struct CvResult {
    /// The chosen `alpha`.
    pub alpha: f64,
    /// The chosen `l1_ratio`.
    pub l1_ratio: f64,
    /// The grid, `n_l1_ratios × n_alphas`.
    pub alphas: Array2<f64>,
    /// The CV criterion (mean over tasks of each task's test score), `n_l1_ratios × n_alphas ×
    /// n_folds`.
    pub mse_path: Array3<f64>,
    /// Each task's test score (MSE or log-loss), `n_l1_ratios × n_alphas × n_folds × n_tasks`.
    pub task_score_path: Array4<f64>,
    /// Each regression task's test R² (same shape; NaN for classification tasks).
    pub task_r2_path: Array4<f64>,
    /// Each classification task's test accuracy (same shape; NaN for regression tasks).
    pub task_accuracy_path: Array4<f64>,
    /// Each classification task's test ROC AUC (same shape; NaN for regression tasks, and
    /// for a test fold with one class only).
    pub task_auc_path: Array4<f64>,
    /// The `l1_ratios` searched.
    pub l1_ratios: Vec<f64>,
    /// The model refitted on all the data at the chosen values.
    pub model: MultiTaskLinearModel,
}

impl MultiTaskCv<L21> {
    /// Cross-validate `alpha` of a multi-task Lasso with `base`'s other hyperparameters.
    pub fn new(base: ValidMultiTaskParams<L21>) -> Self {
        Self::with_base(base, vec![1.0])
    }
}

impl MultiTaskCv<L21Ridge> {
    /// Cross-validate `alpha` and `l1_ratio` (each of `l1_ratios`) of a multi-task elastic net
    /// with `base`'s other hyperparameters.
    pub fn new(base: ValidMultiTaskParams<L21Ridge>, l1_ratios: Vec<f64>) -> Self {
        Self::with_base(base, l1_ratios)
    }
}

impl<P: EstimatorPenalty + Send + Sync> MultiTaskCv<P> {
    fn with_base(base: ValidMultiTaskParams<P>, l1_ratios: Vec<f64>) -> Self {
        Self {
            base,
            l1_ratios,
            alphas: None,
            n_alphas: 100,
            eps: 1e-3,
            folds: Folds::KFold {
                n_splits: 5,
                shuffle: None,
            },
            one_standard_error: false,
            n_jobs: 1,
            progress: Progress(None),
        }
    }

    /// Call `f` after each `(l1_ratio, fold)` path (from the worker threads when `n_jobs > 1`).
    pub fn on_progress(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.progress = Progress(Some(std::sync::Arc::new(f)));
        self
    }

    /// Number of `(l1_ratio, fold)` paths a fit runs (the progress callback's total).
    pub fn n_paths(&self) -> usize {
        let folds = match &self.folds {
            Folds::KFold { n_splits, .. } | Folds::Groups { n_splits, .. } => *n_splits,
            Folds::Explicit(t) => t.len(),
            Folds::Splits(t) => t.len(),
        };
        self.l1_ratios.len() * folds
    }

    /// Number of alphas of the grid. Default 100.
    pub fn n_alphas(mut self, v: usize) -> Self {
        self.n_alphas = v;
        self
    }
    /// `alpha_min / alpha_max` of the grid. Default `1e-3`.
    pub fn eps(mut self, v: f64) -> Self {
        self.eps = v;
        self
    }
    /// Use these alphas (every `l1_ratio`) instead of a grid; searched in decreasing order.
    pub fn alphas(mut self, v: Vec<f64>) -> Self {
        self.alphas = Some(v);
        self
    }
    /// The folds. Default 5 folds in order ([`Folds::KFold`]).
    pub fn folds(mut self, v: Folds) -> Self {
        self.folds = v;
        self
    }
    /// Choose the largest alpha within one standard error of the best mean score. Default off.
    pub fn one_standard_error(mut self, v: bool) -> Self {
        self.one_standard_error = v;
        self
    }
    /// Run the `(l1_ratio, fold)` paths on `n_jobs` threads (results do not depend on it).
    /// Default 1.
    pub fn n_jobs(mut self, v: usize) -> Self {
        self.n_jobs = v.max(1);
        self
    }

    /// The grid for `l1_ratio` on `data`.
    fn grid(&self, data: &MultiTaskDataset, l1_ratio: f64) -> Result<Vec<f64>> {
        if let Some(a) = &self.alphas {
            let mut a = a.clone();
            a.sort_by(|p, q| q.total_cmp(p));
            return Ok(a);
        }
        let p = self.base.with_l1_ratio(l1_ratio);
        let amax = p.alpha_max(data)?;
        auto_alpha_grid(amax, l1_ratio, self.eps, self.n_alphas)
    }

    /// Cross-validate on `data`, then refit at the chosen values.
    ///
    /// # Errors
    /// Invalid settings (`n_alphas = 0`, `eps` outside `(0, 1)`, an empty or invalid
    /// `l1_ratios`, negative alphas, explicit folds with the per-task layout or out-of-range
    /// rows, too few samples per task for the folds), and any error of the fit itself.
    pub fn fit(&self, data: &MultiTaskDataset) -> Result<CvResult> {
        param::positive_count("n_alphas", self.n_alphas)?;
        param::open_unit_interval("eps", self.eps)?;
        if self.l1_ratios.is_empty() {
            return Err(mtlkit_core::Error::InvalidParameter {
                name: "l1_ratios",
                value: "[]".into(),
                expected: "at least one l1_ratio",
            }
            .into());
        }
        for &r in &self.l1_ratios {
            param::unit_interval("l1_ratio", r)?;
        }
        if let Some(a) = &self.alphas {
            if a.is_empty() {
                return Err(mtlkit_core::Error::InvalidParameter {
                    name: "alphas",
                    value: "[]".into(),
                    expected: "at least one alpha",
                }
                .into());
            }
            for &v in a {
                param::non_negative("alpha", v)?;
            }
        }
        let splits = self.splits(data)?;
        let nt = data.n_tasks();
        let losses = self.base.params().task_loss_list(nt)?;
        let grids: Vec<Vec<f64>> = self
            .l1_ratios
            .iter()
            .map(|&r| self.grid(data, r))
            .collect::<Result<_>>()?;
        let n_alphas = grids[0].len();
        let (nl, nf) = (self.l1_ratios.len(), splits.len());
        let jobs: Vec<(usize, usize)> =
            (0..nl).flat_map(|l| (0..nf).map(move |f| (l, f))).collect();
        let run = |&(l, f): &(usize, usize)| -> Result<Vec<Vec<TaskMetrics>>> {
            let (train, test) = &splits[f];
            let p = self.base.with_l1_ratio(self.l1_ratios[l]);
            // shared design, squared losses: each alpha is scored as the path reaches it, no
            // model built
            let mut scores: Vec<Result<Vec<TaskMetrics>>> = Vec::with_capacity(n_alphas);
            let mut shared = SharedScorer::new(test);
            let scored = match &mut shared {
                Some(sc) => p.path_with(train, &grids[l], &mut |_, w, b| {
                    scores.push(sc.scores(w, b, &losses, &[]));
                })?,
                None => false,
            };
            if !scored {
                // the general formulation: a model per alpha
                scores = p
                    .path(train, &grids[l])?
                    .iter()
                    .map(|m| match &mut shared {
                        Some(sc) => sc.scores(m.coef(), m.intercept().view(), &losses, m.classes()),
                        None => task_scores(m, test, &losses),
                    })
                    .collect();
            }
            if let Some(f) = &self.progress.0 {
                f();
            }
            scores.into_iter().collect()
        };
        // no more threads than paths to run (a huge n_jobs would only start idle threads)
        let n_jobs = self.n_jobs.min(jobs.len());
        let results: Vec<Result<Vec<Vec<TaskMetrics>>>> = if n_jobs > 1 {
            use rayon::prelude::*;
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n_jobs)
                .build()
                .map_err(|_| mtlkit_core::Error::InvalidParameter {
                    name: "n_jobs",
                    value: self.n_jobs.to_string(),
                    expected: "a thread count the system can start",
                })?;
            pool.install(|| jobs.par_iter().map(run).collect())
        } else {
            jobs.iter().map(run).collect()
        };
        let shape = (nl, n_alphas, nf, nt);
        let mut task_score_path = Array4::<f64>::zeros(shape);
        let mut task_r2_path = Array4::<f64>::from_elem(shape, f64::NAN);
        let mut task_accuracy_path = Array4::<f64>::from_elem(shape, f64::NAN);
        let mut task_auc_path = Array4::<f64>::from_elem(shape, f64::NAN);
        for ((l, f), r) in jobs.iter().zip(results) {
            for (a, scores) in r?.into_iter().enumerate() {
                for (t, m) in scores.into_iter().enumerate() {
                    let at = [*l, a, *f, t];
                    task_score_path[at] = m.score;
                    task_r2_path[at] = m.r2;
                    task_accuracy_path[at] = m.accuracy;
                    task_auc_path[at] = m.auc;
                }
            }
        }
        let mse_path = task_score_path
            .mean_axis(ndarray::Axis(3))
            .unwrap_or_else(|| unreachable!("at least one task"));
        let mean = mse_path
            .mean_axis(ndarray::Axis(2))
            .unwrap_or_else(|| unreachable!("at least one fold"));
        // best: first minimum in (l1_ratio, alpha) order
        let mut best = (0usize, 0usize);
        for l in 0..nl {
            for a in 0..n_alphas {
                if mean[[l, a]] < mean[[best.0, best.1]] {
                    best = (l, a);
                }
            }
        }
        if self.one_standard_error {
            let (l, a0) = best;
            let scores = mse_path.slice(ndarray::s![l, a0, ..]);
            let sd = scores.std(1.0);
            let threshold = mean[[l, a0]] + sd / (nf as f64).sqrt();
            // the largest alpha (first in the decreasing grid) within one standard error
            if let Some(a) = (0..=a0).find(|&a| mean[[l, a]] <= threshold) {
                best = (l, a);
            }
        }
        let (alpha, l1_ratio) = (grids[best.0][best.1], self.l1_ratios[best.0]);
        let model = self
            .base
            .with_l1_ratio(l1_ratio)
            .with_alpha(alpha)
            .fit(data)?;
        let mut alphas = Array2::zeros((nl, n_alphas));
        for (l, g) in grids.iter().enumerate() {
            for (a, &v) in g.iter().enumerate() {
                alphas[[l, a]] = v;
            }
        }
        Ok(CvResult {
            alpha,
            l1_ratio,
            alphas,
            mse_path,
            task_score_path,
            task_r2_path,
            task_accuracy_path,
            task_auc_path,
            l1_ratios: self.l1_ratios.clone(),
            model,
        })
    }

    fn splits(&self, data: &MultiTaskDataset) -> Result<Vec<(MultiTaskDataset, MultiTaskDataset)>> {
        let losses = self.base.params().task_loss_list(data.n_tasks())?;
        let tests: Vec<Vec<usize>> = match &self.folds {
            Folds::KFold { n_splits, shuffle } => {
                match stratified(data, &losses, *n_splits, *shuffle)? {
                    Some(per_unit) => return Ok(from_tests(data, &per_unit)),
                    None => return Ok(k_fold(data, *n_splits, *shuffle)?),
                }
            }
            Folds::Explicit(tests) => tests.clone(),
            Folds::Groups { n_splits, groups } => group_folds(data, *n_splits, groups)?,
            Folds::Splits(pairs) => {
                return explicit_splits(data, pairs, self.one_standard_error);
            }
        };
        let (x, _) = data.require_shared("explicit or group folds")?;
        let n = x.nrows();
        at_least_one_split(tests.len(), self.one_standard_error)?;
        let mut units = Vec::with_capacity(tests.len());
        for te in tests {
            if te.is_empty() || te.iter().any(|&i| i >= n) || te.len() >= n {
                return Err(mtlkit_core::Error::InvalidParameter {
                    name: "folds",
                    value: format!("a fold of {} rows", te.len()),
                    expected: "non-empty test rows below n_samples, leaving training rows",
                }
                .into());
            }
            let mut te = te;
            te.sort_unstable();
            te.dedup();
            units.push(vec![te]);
        }
        // units[f] = [test rows of fold f]; transpose to per-unit lists of folds
        let per_unit = vec![units.into_iter().map(|mut u| u.remove(0)).collect()];
        Ok(from_tests(data, &per_unit))
    }
}

/// Given folds or splits: at least one (a single split, as scikit-learn's
/// `ShuffleSplit(n_splits=1)`, is a validation set; the one-standard-error rule needs two).
fn at_least_one_split(count: usize, one_standard_error: bool) -> Result<()> {
    param::positive_count("folds", count)?;
    if count < 2 && one_standard_error {
        return Err(mtlkit_core::Error::InvalidParameter {
            name: "folds",
            value: count.to_string(),
            expected: "at least 2 splits for the one-standard-error rule",
        }
        .into());
    }
    Ok(())
}

/// The given `(train, test)` rows of each split as datasets (shared design only): each side
/// non-empty, within the rows, the two disjoint (rows repeated within a side are kept once).
fn explicit_splits(
    data: &MultiTaskDataset,
    pairs: &[(Vec<usize>, Vec<usize>)],
    one_standard_error: bool,
) -> Result<Vec<(MultiTaskDataset, MultiTaskDataset)>> {
    let (x, _) = data.require_shared("explicit splits")?;
    let n = x.nrows();
    at_least_one_split(pairs.len(), one_standard_error)?;
    let bad = |what: String| -> LinearError {
        mtlkit_core::Error::InvalidParameter {
            name: "folds",
            value: what,
            expected: "non-empty, disjoint training and test rows below n_samples",
        }
        .into()
    };
    pairs
        .iter()
        .enumerate()
        .map(|(k, (train, test))| {
            let (mut tr, mut te) = (train.clone(), test.clone());
            for v in [&mut tr, &mut te] {
                v.sort_unstable();
                v.dedup();
            }
            if tr.is_empty() || te.is_empty() {
                return Err(bad(format!("split {k} with an empty side")));
            }
            if tr.iter().chain(&te).any(|&i| i >= n) {
                return Err(bad(format!("split {k} with a row beyond {n}")));
            }
            if te.iter().any(|i| tr.binary_search(i).is_ok()) {
                return Err(bad(format!(
                    "split {k} with a row in both training and test"
                )));
            }
            Ok((data.take_rows(&[tr]), data.take_rows(&[te])))
        })
        .collect()
}

/// `(train, test)` per fold from, for each layout unit (the shared rows, or each task), the
/// test rows of every fold.
fn from_tests(
    data: &MultiTaskDataset,
    per_unit: &[Vec<Vec<usize>>],
) -> Vec<(MultiTaskDataset, MultiTaskDataset)> {
    let n_folds = per_unit.first().map_or(0, Vec::len);
    let sizes: Vec<usize> = (0..per_unit.len())
        .map(|u| match data.as_shared() {
            Some((x, _)) => x.nrows(),
            None => data.n_samples(TaskId(u)),
        })
        .collect();
    (0..n_folds)
        .map(|f| {
            let test: Vec<Vec<usize>> = per_unit.iter().map(|u| u[f].clone()).collect();
            let train: Vec<Vec<usize>> = per_unit
                .iter()
                .zip(&sizes)
                .map(|(u, &n)| (0..n).filter(|i| u[f].binary_search(i).is_err()).collect())
                .collect();
            (data.take_rows(&train), data.take_rows(&test))
        })
        .collect()
}

/// Stratified k-fold for classification tasks: in the per-task layout each logistic task's
/// rows are dealt to the folds class by class (so every fold sees both classes); in the shared
/// layout the rows are stratified on the labels of the classification task when there is
/// exactly one (missing labels as a class of their own). `None` when nothing is to be
/// stratified (plain k-fold applies).
fn stratified(
    data: &MultiTaskDataset,
    losses: &[Loss],
    n_splits: usize,
    shuffle: Option<u64>,
) -> Result<Option<Vec<Vec<Vec<usize>>>>> {
    use mtlkit_core::split::k_fold_indices;
    let cls: Vec<usize> = (0..losses.len())
        .filter(|&t| losses[t] == Loss::Logistic)
        .collect();
    let shared = data.as_shared().is_some();
    if cls.is_empty() || (shared && cls.len() != 1) || n_splits < 2 {
        return Ok(None);
    }
    // deal the rows of each label value to the folds in turn (their order within a class
    // shuffled with the seed when given)
    let deal = |labels: &[f64], unit: u64| -> Result<Vec<Vec<usize>>> {
        let mut keys: Vec<f64> = Vec::new();
        for &v in labels {
            if !keys.iter().any(|k| k.total_cmp(&v).is_eq()) {
                keys.push(v);
            }
        }
        keys.sort_by(f64::total_cmp);
        let mut folds = vec![Vec::new(); n_splits];
        let mut offset = 0;
        for (ci, k) in keys.into_iter().enumerate() {
            let mut rows: Vec<usize> = (0..labels.len())
                .filter(|&i| labels[i].total_cmp(&k).is_eq())
                .collect();
            if let Some(seed) = shuffle {
                use rand::SeedableRng;
                use rand::seq::SliceRandom;
                let mut rng = rand::rngs::StdRng::seed_from_u64(
                    seed.wrapping_add(unit.wrapping_mul(1000))
                        .wrapping_add(ci as u64),
                );
                rows.shuffle(&mut rng);
            }
            for (pos, &r) in rows.iter().enumerate() {
                folds[(offset + pos) % n_splits].push(r);
            }
            offset += rows.len();
        }
        for f in &mut folds {
            f.sort_unstable();
        }
        if folds.iter().any(Vec::is_empty) {
            return Err(mtlkit_core::Error::TooFewSamples {
                task: "a task".into(),
                operation: "stratified k-fold cross-validation",
                needed: n_splits,
                found: labels.len(),
            }
            .into());
        }
        Ok(folds)
    };
    if shared {
        let (_, y) = data.task(TaskId(cls[0]));
        let labels: Vec<f64> = y.to_vec();
        return Ok(Some(vec![deal(&labels, 0)?]));
    }
    let mut per_unit = Vec::with_capacity(losses.len());
    for (t, loss) in losses.iter().enumerate() {
        let (_, y) = data.task(TaskId(t));
        let n = y.len();
        if n < n_splits {
            return Err(mtlkit_core::Error::TooFewSamples {
                task: data.task_names()[t].clone(),
                operation: "k-fold cross-validation",
                needed: n_splits,
                found: n,
            }
            .into());
        }
        per_unit.push(if *loss == Loss::Logistic {
            deal(&y.to_vec(), t as u64)?
        } else {
            k_fold_indices(n, n_splits, shuffle.map(|s| s.wrapping_add(t as u64)))
        });
    }
    Ok(Some(per_unit))
}

/// scikit-learn's `GroupKFold`: groups sorted by size (largest first) go to the fold with the
/// fewest rows so far.
fn group_folds(
    data: &MultiTaskDataset,
    n_splits: usize,
    groups: &[u64],
) -> Result<Vec<Vec<usize>>> {
    let (x, _) = data.require_shared("group folds")?;
    if groups.len() != x.nrows() {
        return Err(mtlkit_core::Error::ShapeMismatch {
            what: "length of groups vs rows of X",
            task: None,
            expected: x.nrows(),
            found: groups.len(),
        }
        .into());
    }
    let mut ids: Vec<u64> = groups.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if n_splits < 2 || ids.len() < n_splits {
        return Err(mtlkit_core::Error::InvalidParameter {
            name: "n_splits",
            value: n_splits.to_string(),
            expected: "between 2 and the number of groups",
        }
        .into());
    }
    let mut sizes: Vec<(u64, usize)> = ids
        .iter()
        .map(|&g| (g, groups.iter().filter(|&&h| h == g).count()))
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut load = vec![0usize; n_splits];
    let mut fold_of = std::collections::HashMap::new();
    for (g, size) in sizes {
        let f = (0..n_splits).min_by_key(|&f| (load[f], f)).unwrap_or(0);
        load[f] += size;
        fold_of.insert(g, f);
    }
    Ok((0..n_splits)
        .map(|f| {
            (0..groups.len())
                .filter(|&i| fold_of[&groups[i]] == f)
                .collect()
        })
        .collect())
}

/// One task's test metrics.
struct TaskMetrics {
    /// MSE (regression) or mean log-loss (classification): the CV criterion.
    score: f64,
    /// R² (regression; NaN otherwise).
    r2: f64,
    /// Accuracy (classification; NaN otherwise).
    accuracy: f64,
    /// ROC AUC (classification with both classes in the fold; NaN otherwise).
    auc: f64,
}

/// ROC AUC of scores `z` for binary labels `y01` (Mann–Whitney, ties counted half).
fn roc_auc(z: &[f64], y01: &[f64]) -> f64 {
    let pos = y01.iter().filter(|&&v| v == 1.0).count();
    let neg = y01.len() - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..z.len()).collect();
    idx.sort_by(|&a, &b| z[a].total_cmp(&z[b]));
    // average ranks over ties
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && z[idx[j + 1]] == z[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if y01[k] == 1.0 {
                rank_sum_pos += avg;
            }
        }
        i = j + 1;
    }
    (rank_sum_pos - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64
}

/// Each task's test metrics of `model` on a per-task `test` (its own design per task), over
/// the task's labelled samples (a shared layout goes through [`SharedScorer`]).
fn task_scores(
    model: &MultiTaskLinearModel,
    test: &MultiTaskDataset,
    losses: &[Loss],
) -> Result<Vec<TaskMetrics>> {
    let mut out = Vec::with_capacity(losses.len());
    for (t, loss) in losses.iter().enumerate() {
        let (x, y) = test.task(TaskId(t));
        // as an n × 1 product: ndarray's matrix-vector loop is far slower
        let z = x.dot(&model.coef().column(t).insert_axis(ndarray::Axis(1)));
        let b = model.intercept()[t];
        out.push(task_metrics(
            z.iter().map(|&v| v + b),
            y.iter().copied(),
            *loss,
            model.classes()[t],
            test,
            t,
        )?);
    }
    Ok(out)
}

/// Task `t`'s metrics from its decision values `z` and targets `y` (samples whose target is NaN
/// left out), each sample weighted by its sample weight in a shared-layout `test` (scikit-learn
/// weighs a fold's test error so; the AUC stays unweighted).
fn task_metrics(
    z: impl Iterator<Item = f64>,
    y: impl Iterator<Item = f64>,
    loss: Loss,
    classes: Option<[f64; 2]>,
    test: &MultiTaskDataset,
    t: usize,
) -> Result<TaskMetrics> {
    // the test rows' sample weights (shared layout: one per row, in order), as scikit-learn
    // weighs each fold's test error; 1 each without weights
    let sw = test.as_shared().and(test.sample_weight());
    let weight = |i: usize| sw.map_or(1.0, |w| w[i]);
    let mut zs = Vec::new();
    let mut ys = Vec::new();
    let mut ws = Vec::new();
    for (i, (zi, yi)) in z.zip(y).enumerate() {
        if !yi.is_nan() {
            zs.push(zi);
            ys.push(yi);
            ws.push(weight(i));
        }
    }
    let n = zs.len();
    let nf: f64 = ws.iter().sum();
    if n == 0 || nf <= 0.0 {
        return Err(LinearError::Core(mtlkit_core::Error::NoLabels {
            task: test.task_names()[t].clone(),
        }));
    }
    Ok(match (loss, classes) {
        (Loss::Logistic, Some([_, c1])) => {
            let y01: Vec<f64> = ys
                .iter()
                .map(|&v| if v == c1 { 1.0 } else { 0.0 })
                .collect();
            let mut ll = 0.0;
            let mut correct = 0.0;
            for ((&zi, &yi), &wi) in zs.iter().zip(&y01).zip(&ws) {
                ll += wi * (crate::pertask::log1pexp(zi) - yi * zi);
                if (zi > 0.0) == (yi == 1.0) {
                    correct += wi;
                }
            }
            TaskMetrics {
                score: ll / nf,
                r2: f64::NAN,
                accuracy: correct / nf,
                auc: roc_auc(&zs, &y01),
            }
        }
        _ => {
            let sse: f64 = zs
                .iter()
                .zip(&ys)
                .zip(&ws)
                .map(|((a, b), w)| w * (b - a) * (b - a))
                .sum();
            let mean = ys.iter().zip(&ws).map(|(v, w)| v * w).sum::<f64>() / nf;
            let sst: f64 = ys
                .iter()
                .zip(&ws)
                .map(|(v, w)| w * (v - mean) * (v - mean))
                .sum();
            TaskMetrics {
                score: sse / nf,
                r2: if sst > 0.0 { 1.0 - sse / sst } else { f64::NAN },
                accuracy: f64::NAN,
                auc: f64::NAN,
            }
        }
    })
}

/// Scores coefficients on a shared-layout test set (a path's points as they come, or models):
/// `X_test W` through the non-zero rows of `W` only, as one matrix product of gathered columns.
struct SharedScorer<'a> {
    test: &'a MultiTaskDataset,
    /// `X_test` column-major (`n × d`).
    xc: Vec<f64>,
    n: usize,
    /// Gathered support columns, support rows of `W` (row-major) and `−X_S W_S` (column-major).
    xs: Vec<f64>,
    ws: Vec<f64>,
    z: Vec<f64>,
}

impl<'a> SharedScorer<'a> {
    /// `None` unless `test` has the shared layout.
    fn new(test: &'a MultiTaskDataset) -> Option<Self> {
        let (x, _) = test.as_shared()?;
        Some(Self {
            test,
            xc: x.t().iter().copied().collect(),
            n: x.nrows(),
            xs: Vec::new(),
            ws: Vec::new(),
            z: Vec::new(),
        })
    }

    /// Each task's metrics of coefficients `w` (`d × T`) and intercept `b`; `classes[t]` the
    /// classes of a classification task (none when `classes` is shorter).
    fn scores(
        &mut self,
        w: ArrayView2<'_, f64>,
        b: ndarray::ArrayView1<'_, f64>,
        losses: &[Loss],
        classes: &[Option<[f64; 2]>],
    ) -> Result<Vec<TaskMetrics>> {
        let (n, t) = (self.n, w.ncols());
        let w = w.as_standard_layout();
        let wf = w
            .as_slice()
            .unwrap_or_else(|| unreachable!("a standard-layout array is contiguous"));
        self.xs.clear();
        self.ws.clear();
        let mut s = 0;
        for (j, row) in wf.chunks_exact(t.max(1)).enumerate() {
            if !crate::linalg::is_zero(row) {
                self.xs.extend_from_slice(&self.xc[j * n..(j + 1) * n]);
                self.ws.extend_from_slice(row);
                s += 1;
            }
        }
        self.z.clear();
        self.z.resize(n * t, 0.0);
        if s > 0 {
            crate::linalg::sub_x_w(&self.xs, n, s, &self.ws, t, &mut self.z, 1);
        }
        let (_, y) = self
            .test
            .as_shared()
            .unwrap_or_else(|| unreachable!("built on a shared layout"));
        let mut out = Vec::with_capacity(t);
        for (k, loss) in losses.iter().enumerate() {
            let bk = b[k];
            out.push(task_metrics(
                self.z[k * n..(k + 1) * n].iter().map(|&v| bk - v),
                y.column(k).iter().copied(),
                *loss,
                classes.get(k).copied().flatten(),
                self.test,
                k,
            )?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_matches_known_values() {
        // scikit-learn's roc_auc_score doc example
        assert!((roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0]) - 0.75).abs() < 1e-15);
        // ties count half; one class only is undefined
        assert!((roc_auc(&[1.0, 1.0], &[0.0, 1.0]) - 0.5).abs() < 1e-15);
        assert!(roc_auc(&[1.0, 2.0], &[1.0, 1.0]).is_nan());
        // a perfect ranking
        assert_eq!(roc_auc(&[-2.0, -1.0, 3.0], &[0.0, 0.0, 1.0]), 1.0);
    }

    #[test]
    fn path_scores_match_the_models_scores() {
        use crate::estimator::MultiTaskLasso;
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(5);
        for (n, d, t) in [(30, 12, 3), (25, 40, 1), (40, 8, 5)] {
            let x = Array2::from_shape_fn((n, d), |_| rng.random_range(-1.0..1.0));
            let w = Array2::from_shape_fn((d, t), |(j, _)| {
                if j % 3 == 0 {
                    rng.random_range(-2.0..2.0)
                } else {
                    0.0
                }
            });
            let y = x.dot(&w) + Array2::from_shape_fn((n, t), |_| rng.random_range(-0.3..0.3));
            let data = MultiTaskDataset::shared(x, y).expect("valid data");
            let test_rows: Vec<usize> = (0..n).filter(|i| i % 4 == 1).collect();
            let splits = from_tests(&data, &[vec![test_rows]]);
            let (train, test) = &splits[0];
            let p = MultiTaskLasso::new(1.0).check().expect("valid");
            let amax = crate::estimator::alpha_max(train, 1.0, true).expect("alpha_max");
            let alphas = alpha_grid(amax, 1e-2, 8).expect("valid grid");
            let losses = vec![Loss::Squared; t];
            let models = p.path(train, &alphas).expect("path");
            let mut sc = SharedScorer::new(test).expect("shared layout");
            let mut seen = 0;
            let ran = p
                .path_with(train, &alphas, &mut |i, coef, b| {
                    let fast = sc.scores(coef, b, &losses, &[]).expect("scores");
                    let slow = task_scores(&models[i], test, &losses).expect("scores");
                    assert_eq!(coef, models[i].coef());
                    for (f, s) in fast.iter().zip(&slow) {
                        assert!((f.score - s.score).abs() <= 1e-12 * (1.0 + s.score));
                        assert!((f.r2 - s.r2).abs() <= 1e-12 * (1.0 + s.r2.abs()));
                    }
                    seen += 1;
                })
                .expect("path_with");
            assert!(ran && seen == alphas.len());
        }
    }

    #[test]
    fn automatic_grid_has_sklearns_special_cases() {
        assert_eq!(
            auto_alpha_grid(2.0, 0.5, 1e-3, 4).unwrap(),
            alpha_grid(2.0, 1e-3, 4).expect("valid grid")
        );
        // zero alpha_max (zero targets): every alpha 1e-15, the zero model
        assert_eq!(auto_alpha_grid(0.0, 1.0, 1e-3, 3).unwrap(), vec![1e-15; 3]);
        let msg = |r: Result<Vec<f64>>| r.unwrap_err().to_string();
        assert!(msg(auto_alpha_grid(1.0, 0.0, 1e-3, 3)).contains("l1_ratio"));
        assert!(msg(auto_alpha_grid(f64::INFINITY, 1.0, 1e-3, 3)).contains("alpha_max"));
        assert!(msg(auto_alpha_grid(1.0, 1.0, 1e-3, MAX_N_ALPHAS + 1)).contains("n_alphas"));
        assert!(msg(auto_alpha_grid(1.0, 1.0, 1e-3, 0)).contains("n_alphas"));
    }

    #[test]
    fn grid_is_geometric_from_alpha_max() {
        let g = alpha_grid(1.0, 1e-2, 3).expect("valid grid");
        assert!((g[1] - 0.1).abs() < 1e-15 && (g[2] - 0.01).abs() < 1e-15);
        assert_eq!(alpha_grid(3.0, 1e-3, 1).expect("valid grid"), vec![3.0]);
        // no grid from a zero or NaN eps, a zero alpha_max or no alphas (was [NaN, 0, 0])
        for (amax, eps, n) in [
            (1.0, 0.0, 3),
            (1.0, f64::NAN, 3),
            (0.0, 1e-3, 3),
            (1.0, 1e-3, 0),
        ] {
            assert!(alpha_grid(amax, eps, n).is_err(), "{amax} {eps} {n}");
        }
        // alpha_max · eps below f64's range: still a finite geometric grid
        let tiny = alpha_grid(1e-300, 1e-30, 3).expect("valid grid");
        assert!(tiny.iter().all(|a| a.is_finite() && *a >= 0.0), "{tiny:?}");
        assert_eq!(tiny[0], 1e-300);
    }
}
