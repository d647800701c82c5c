//! Negative-transfer report: for each task, is it better learned alone, with all tasks
//! (**pooled**), or with its group (**grouped**)?
//!
//! **Protocol** (regression tasks, squared loss). Each task's labelled rows are split into
//! `n_folds` folds of its own (seeded; a NaN target is an unlabelled row and is left out). For
//! every outer fold, using the training rows only:
//!
//! 1. features are standardised (mean and standard deviation pooled over all tasks' training
//!    rows; constant features are only centred);
//! 2. **single-task** models: the model family's single-task member per task, regularisation
//!    chosen by `inner_folds`-fold CV within that task's training rows;
//! 3. **pooled** model: the family's multi-task model over all tasks, regularisation chosen by
//!    inner CV within tasks on the training rows;
//! 4. **grouped** models (if `n_groups` is set): an affinity computed on the training rows
//!    (or the one given), groups chosen from it, one multi-task model per group of two or more
//!    tasks (a task alone keeps its single-task model).
//!
//! Every model is scored on the fold's held-out rows of each task: R² (against the held-out
//! rows' own mean) and MSE. No held-out row is used to choose anything.
//!
//! Model families ([`ModelFamily`]):
//!
//! | family | single-task | multi-task | chosen by inner CV |
//! |---|---|---|---|
//! | `mean-regularized` (default) | ridge `1/(2n)‖y − Xw − b‖² + α/2‖w‖²` | Evgeniou & Pontil's `w_t = w₀ + v_t`, `αr·T/2‖w₀‖² + α/2 Σ‖v_t‖²` | `α` (and the pooling ratio `r`; `r → ∞` is the single-task model) |
//! | `l21` | Lasso | multi-task Lasso (L2,1) | `α` |
//!
//! **Gain** of a multi-task model for a task: per fold, `R²(multi-task) − R²(single-task)` on
//! the same held-out rows (paired); reported as the mean over folds ± its standard error
//! (`sd / √K`, `sd` with `K − 1`), with the number of folds where the multi-task model wins.
//! **Flag rule**: a task is *hurt* by a multi-task model when its mean gain is negative and
//! larger in size than twice its standard error (`mean < 0` and `|mean| > 2·SE`), over at least
//! two folds with a finite gain (a held-out fold of constant targets has no R²).

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use mtlkit_core::split::k_fold_indices;
use mtlkit_core::{MultiTaskDataset, TaskId};
use mtlkit_linear::MultiTaskLasso;
use mtlkit_linear::cv::{Folds, MultiTaskLassoCV};
use mtlkit_linear::structured::{ClusteredMtl, GoMtl, Mtrl, StructuredParams};

use crate::affinity::{
    TaskAffinity, basis_usage, covariance_correlation, weight_correlation, weight_cosine,
};
use crate::grouping::{GroupingMethod, TaskGrouping, adjusted_rand_index, group_tasks};
use crate::{RelateError, Result};

/// Where the affinity used for grouping comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AffinityMethod {
    /// Cosine of the single-task models' weight vectors.
    WeightCosine,
    /// Correlation of the single-task models' weight vectors.
    WeightCorrelation,
    /// MTRL's learned task covariance as correlations (`λ₁ = λ₂ =` the median single-task `α`).
    Mtrl,
    /// Clustered MTL's cluster matrix `M` as correlations (`ρ₁ = ρ₂ =` the median `α`,
    /// `k = n_groups`).
    Clustered,
    /// GO-MTL's basis usage (`k = n_groups` basis vectors, `μ = 0.1·α`, `λ = α`).
    GoMtl,
}

impl AffinityMethod {
    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::WeightCosine => "weight-cosine",
            Self::WeightCorrelation => "weight-correlation",
            Self::Mtrl => "mtrl",
            Self::Clustered => "clustered",
            Self::GoMtl => "go-mtl",
        }
    }
}

/// The linear model family compared (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelFamily {
    /// Ridge alone, mean regularization together.
    MeanRegularized,
    /// Lasso alone, multi-task Lasso (L2,1) together.
    L21,
}

/// Settings of [`negative_transfer_report`] and [`fit_affinity`].
///
/// | field | default | purpose |
/// |---|---|---|
/// | `n_folds` | 5 | outer folds within each task (`>= 2`) |
/// | `inner_folds` | 3 | inner CV folds for the regularisation (`>= 2`) |
/// | `seed` | 0 | shuffles the rows before the folds |
/// | `n_groups` | `Some(2)` | groups for the grouped model (`None`: no grouped model) |
/// | `grouping` | `Auto` | exact search when small enough, else hierarchical |
/// | `affinity` | `WeightCosine` | affinity fitted on each training part |
/// | `family` | `MeanRegularized` | the models compared |
/// | `alphas` | 13 values `10^-3 … 10^3` | regularisation grid (on standardised features) |
/// | `pooling_ratios` | `[0, 0.03, 0.3, 3]` | mean regularization's `r` grid |
/// | `tol`, `max_iter` | `1e-6`, 5000 | the multi-task fits' tolerance and iteration cap |
/// | `fixed_affinity` | `None` | group with this affinity instead (e.g. a deep model's) |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportParams {
    /// Outer folds within each task.
    pub n_folds: usize,
    /// Inner CV folds.
    pub inner_folds: usize,
    /// Seed of the fold shuffles.
    pub seed: u64,
    /// Number of groups of the grouped model, if any.
    pub n_groups: Option<usize>,
    /// How groups are chosen.
    pub grouping: GroupingMethod,
    /// The affinity fitted for grouping.
    pub affinity: AffinityMethod,
    /// The models compared.
    pub family: ModelFamily,
    /// Regularisation grid.
    pub alphas: Vec<f64>,
    /// Mean regularization's pooling ratios `r`.
    pub pooling_ratios: Vec<f64>,
    /// Tolerance of the multi-task fits.
    pub tol: f64,
    /// Iteration cap of the multi-task fits.
    pub max_iter: usize,
    /// Group with this affinity (tasks matched by name) instead of fitting one.
    #[serde(skip)]
    pub fixed_affinity: Option<TaskAffinity>,
}

impl Default for ReportParams {
    fn default() -> Self {
        Self {
            n_folds: 5,
            inner_folds: 3,
            seed: 0,
            n_groups: Some(2),
            grouping: GroupingMethod::Auto,
            affinity: AffinityMethod::WeightCosine,
            family: ModelFamily::MeanRegularized,
            alphas: (0..13).map(|k| 10f64.powf(-3.0 + 0.5 * k as f64)).collect(),
            pooling_ratios: vec![0.0, 0.03, 0.3, 3.0],
            tol: 1e-6,
            max_iter: 5000,
            fixed_affinity: None,
        }
    }
}

/// Mean held-out scores of one model on one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Mean R² over folds.
    pub r2: f64,
    /// Mean MSE over folds.
    pub mse: f64,
}

/// The paired per-fold gain `R²(multi-task) − R²(single-task)` of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gain {
    /// Mean over folds.
    pub mean: f64,
    /// Standard error of the mean (`sd / √K`).
    pub se: f64,
    /// Folds where the multi-task model scored higher.
    pub wins: usize,
    /// Folds with a finite gain (`K`, unless a held-out fold had constant targets).
    pub n_folds: usize,
    /// The gain of each fold.
    pub per_fold: Vec<f64>,
    /// The flag rule: `mean < 0` and `|mean| > 2·se`, over at least 2 finite folds (one fold
    /// has no standard error: never flagged).
    pub hurt: bool,
}

impl Gain {
    fn new(per_fold: Vec<f64>) -> Self {
        let finite: Vec<f64> = per_fold.iter().copied().filter(|v| v.is_finite()).collect();
        let (mean, se) = mean_se(&finite);
        Self {
            mean,
            se,
            wins: finite.iter().filter(|&&v| v > 0.0).count(),
            n_folds: finite.len(),
            per_fold,
            hurt: finite.len() >= 2 && mean < 0.0 && mean.abs() > 2.0 * se,
        }
    }
}

/// Mean and standard error (`sd / √n`, `sd` with `n − 1`; NaN for one value, both NaN for
/// none).
pub fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    (mean, (var / n as f64).sqrt())
}

/// One task's row of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Task name.
    pub task: String,
    /// Labelled samples.
    pub n_samples: usize,
    /// Group of the task in the report's grouping (all data), if any.
    pub group: Option<usize>,
    /// Single-task model.
    pub single: Scores,
    /// Pooled multi-task model.
    pub pooled: Scores,
    /// Grouped multi-task models.
    pub grouped: Option<Scores>,
    /// Gain of the pooled model.
    pub gain_pooled: Gain,
    /// Gain of the grouped models.
    pub gain_grouped: Option<Gain>,
}

/// Summary over tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean over tasks of the mean pooled gain, and its standard error over tasks.
    pub gain_pooled: (f64, f64),
    /// Same for the grouped models.
    pub gain_grouped: Option<(f64, f64)>,
    /// Tasks hurt by pooling (the flag rule).
    pub hurt_by_pooling: Vec<String>,
    /// Tasks hurt by grouping.
    pub hurt_by_grouping: Vec<String>,
    /// Mean R² over tasks of the single-task, pooled and grouped models.
    pub mean_r2: (f64, f64, Option<f64>),
}

/// The report: settings, affinity and grouping on all data, per-task rows and a summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The settings used.
    pub params: ReportParams,
    /// The flag rule, in words.
    pub flag_rule: String,
    /// The affinity on all data (the fitted one, or the one given).
    pub affinity: TaskAffinity,
    /// The grouping of all data (if `n_groups` is set).
    pub grouping: Option<TaskGrouping>,
    /// Adjusted Rand index between each outer fold's grouping and `grouping` (stability).
    pub fold_grouping_ari: Vec<f64>,
    /// One row per task.
    pub tasks: Vec<TaskReport>,
    /// Summary.
    pub summary: Summary,
    /// Iterative fits behind the report (Lasso and structured refits, affinity models).
    #[serde(default)]
    pub fits: usize,
    /// Of those, the fits that stopped at `max_iter` before their tolerance: non-zero means
    /// the gains may be off (a warning is logged too; raise `max_iter` or `tol`).
    #[serde(default)]
    pub unconverged_fits: usize,
}

/// Counts of the report's iterative fits (the Lasso and structured refits, the affinity
/// models) and of those that stopped before their tolerance.
#[derive(Debug, Default)]
struct Tally {
    fits: std::cell::Cell<usize>,
    unconverged: std::cell::Cell<usize>,
}

impl Tally {
    fn fit(&self, converged: bool) {
        self.fits.set(self.fits.get() + 1);
        if !converged {
            self.unconverged.set(self.unconverged.get() + 1);
        }
    }

    /// A warning when any fit did not converge (`what` was computed from them).
    fn warn(&self, what: &str) {
        let (bad, all) = (self.unconverged.get(), self.fits.get());
        if bad > 0 {
            log::warn!(
                "{what}: {bad} of {all} fits stopped before their tolerance (raise max_iter or \
                 tol); their results may be off"
            );
        }
    }
}

/// The labelled rows of each task (NaN targets dropped).
#[derive(Debug, Clone)]
struct Tasks {
    x: Vec<Array2<f64>>,
    y: Vec<Array1<f64>>,
    names: Vec<String>,
}

impl Tasks {
    fn from_dataset(data: &MultiTaskDataset) -> Self {
        let mut out = Self {
            x: Vec::new(),
            y: Vec::new(),
            names: data.task_names().to_vec(),
        };
        for t in 0..data.n_tasks() {
            let (x, y) = data.task(TaskId(t));
            let keep: Vec<usize> = (0..y.len()).filter(|&i| !y[i].is_nan()).collect();
            out.x.push(x.select(Axis(0), &keep));
            out.y.push(y.select(Axis(0), &keep));
        }
        out
    }

    fn n_tasks(&self) -> usize {
        self.y.len()
    }

    fn rows(&self, rows: &[Vec<usize>]) -> Self {
        Self {
            x: self
                .x
                .iter()
                .zip(rows)
                .map(|(x, r)| x.select(Axis(0), r))
                .collect(),
            y: self
                .y
                .iter()
                .zip(rows)
                .map(|(y, r)| y.select(Axis(0), r))
                .collect(),
            names: self.names.clone(),
        }
    }

    fn select(&self, tasks: &[usize]) -> Self {
        Self {
            x: tasks.iter().map(|&t| self.x[t].clone()).collect(),
            y: tasks.iter().map(|&t| self.y[t].clone()).collect(),
            names: tasks.iter().map(|&t| self.names[t].clone()).collect(),
        }
    }

    /// Pooled feature mean and scale (1 for constant features).
    fn scaler(&self) -> (Array1<f64>, Array1<f64>) {
        let d = self.x[0].ncols();
        let n: usize = self.x.iter().map(|x| x.nrows()).sum();
        let mut mean = Array1::<f64>::zeros(d);
        for x in &self.x {
            mean += &x.sum_axis(Axis(0));
        }
        mean /= n.max(1) as f64;
        let mut var = Array1::<f64>::zeros(d);
        for x in &self.x {
            for r in x.rows() {
                let c = &r - &mean;
                var += &(&c * &c);
            }
        }
        var /= n.max(1) as f64;
        let scale = var.mapv(|v| if v > 1e-24 { v.sqrt() } else { 1.0 });
        (mean, scale)
    }

    fn standardized(&self, mean: &Array1<f64>, scale: &Array1<f64>) -> Self {
        Self {
            x: self.x.iter().map(|x| (x - mean) / scale).collect(),
            y: self.y.clone(),
            names: self.names.clone(),
        }
    }

    fn dataset(&self) -> Result<MultiTaskDataset> {
        Ok(MultiTaskDataset::per_task(
            self.x.iter().cloned().zip(self.y.iter().cloned()).collect(),
        )?
        .with_task_names(self.names.clone())?)
    }
}

/// A linear model per task: weights (`d × T`) and intercepts.
#[derive(Debug, Clone)]
struct Linear {
    coef: Array2<f64>,
    intercept: Array1<f64>,
}

impl Linear {
    fn predict(&self, t: usize, x: &Array2<f64>) -> Array1<f64> {
        x.dot(&self.coef.column(t)) + self.intercept[t]
    }
}

/// Solve `A w = b` for a symmetric positive definite `A` (Cholesky).
fn cholesky_solve(a: &Array2<f64>, b: &Array1<f64>) -> Option<Array1<f64>> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[[i, i]] = s.sqrt();
            } else {
                l[[i, j]] = s / l[[j, j]];
            }
        }
    }
    let mut z = Array1::<f64>::zeros(n);
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[[i, k]] * z[k];
        }
        z[i] = s / l[[i, i]];
    }
    let mut w = Array1::<f64>::zeros(n);
    for i in (0..n).rev() {
        let mut s = z[i];
        for k in (i + 1)..n {
            s -= l[[k, i]] * w[k];
        }
        w[i] = s / l[[i, i]];
    }
    Some(w)
}

/// Ridge `1/(2n)‖y − Xw − b‖² + α/2‖w‖²` in closed form: `(w, b)`.
fn ridge(x: &Array2<f64>, y: &Array1<f64>, alpha: f64) -> (Array1<f64>, f64) {
    let n = x.nrows().max(1) as f64;
    let xm = x
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()));
    let ym = y.mean().unwrap_or(0.0);
    let xc = x - &xm;
    let yc = y - ym;
    let mut g = xc.t().dot(&xc) / n;
    for j in 0..g.nrows() {
        g[[j, j]] += alpha.max(1e-12);
    }
    let rhs = xc.t().dot(&yc) / n;
    let w = cholesky_solve(&g, &rhs).unwrap_or_else(|| Array1::zeros(x.ncols()));
    let b = ym - xm.dot(&w);
    (w, b)
}

fn mse(y: &Array1<f64>, p: &Array1<f64>) -> f64 {
    let n = y.len().max(1) as f64;
    y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / n
}

fn r2(y: &Array1<f64>, p: &Array1<f64>) -> f64 {
    let m = y.mean().unwrap_or(0.0);
    let tot: f64 = y.iter().map(|v| (v - m) * (v - m)).sum();
    if tot <= 0.0 {
        return f64::NAN;
    }
    let res: f64 = y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
    1.0 - res / tot
}

/// Single-task models, one per task, each with its `α` chosen by inner CV within the task:
/// returns the models and the chosen `α`s.
fn fit_single(tasks: &Tasks, p: &ReportParams, tally: &Tally) -> Result<(Linear, Vec<f64>)> {
    let nt = tasks.n_tasks();
    let d = tasks.x[0].ncols();
    let mut coef = Array2::<f64>::zeros((d, nt));
    let mut intercept = Array1::<f64>::zeros(nt);
    let mut chosen = Vec::with_capacity(nt);
    for t in 0..nt {
        let (x, y) = (&tasks.x[t], &tasks.y[t]);
        match p.family {
            ModelFamily::MeanRegularized => {
                let folds = k_fold_indices(y.len(), p.inner_folds, Some(p.seed ^ 0x5eed));
                let mut best = (f64::INFINITY, p.alphas[0]);
                for &a in &p.alphas {
                    let mut loss = 0.0;
                    for te in &folds {
                        let tr: Vec<usize> = (0..y.len())
                            .filter(|i| te.binary_search(i).is_err())
                            .collect();
                        let (xt, yt) = (x.select(Axis(0), &tr), y.select(Axis(0), &tr));
                        let (w, b) = ridge(&xt, &yt, a);
                        let xe = x.select(Axis(0), te);
                        loss += mse(&y.select(Axis(0), te), &(xe.dot(&w) + b));
                    }
                    if loss < best.0 {
                        best = (loss, a);
                    }
                }
                let (w, b) = ridge(x, y, best.1);
                coef.column_mut(t).assign(&w);
                intercept[t] = b;
                chosen.push(best.1);
            }
            ModelFamily::L21 => {
                let one = tasks.select(&[t]).dataset()?;
                let cv = lasso_cv(&one, p, tally)?;
                coef.column_mut(t).assign(&cv.0.coef.column(0));
                intercept[t] = cv.0.intercept[0];
                chosen.push(cv.1);
            }
        }
    }
    Ok((Linear { coef, intercept }, chosen))
}

fn lasso_cv(data: &MultiTaskDataset, p: &ReportParams, tally: &Tally) -> Result<(Linear, f64)> {
    let base = MultiTaskLasso::new(1.0)
        .tol(p.tol.max(1e-8))
        .max_iter(p.max_iter)
        .check()?;
    let cv = MultiTaskLassoCV::new(base)
        .n_alphas(20)
        .folds(Folds::KFold {
            n_splits: p.inner_folds,
            shuffle: Some(p.seed ^ 0x5eed),
        })
        .fit(data)?;
    tally.fit(cv.model.info().converged);
    Ok((
        Linear {
            coef: cv.model.coef().to_owned(),
            intercept: cv.model.intercept().clone(),
        },
        cv.alpha,
    ))
}

/// The family's multi-task model on `tasks`, regularisation by inner CV within tasks.
fn fit_multi(tasks: &Tasks, p: &ReportParams, tally: &Tally) -> Result<Linear> {
    let data = tasks.dataset()?;
    match p.family {
        ModelFamily::MeanRegularized => {
            let mut scales: Vec<f64> = p.alphas.clone();
            scales.sort_by(|a, b| b.total_cmp(a));
            let mut best: Option<(f64, Linear)> = None;
            for &r in &p.pooling_ratios {
                let mut params = StructuredParams::mean_regularized(r, 1.0);
                params.tol = p.tol;
                params.max_iter = p.max_iter;
                let cv =
                    params.cross_validate(&data, &scales, p.inner_folds, Some(p.seed ^ 0x5eed))?;
                tally.fit(cv.model.info.converged);
                let score = cv.scores.mean_axis(Axis(1)).map_or(f64::INFINITY, |m| {
                    m.iter().copied().fold(f64::INFINITY, f64::min)
                });
                if best.as_ref().is_none_or(|(s, _)| score < *s) {
                    best = Some((
                        score,
                        Linear {
                            coef: cv.model.coef.clone(),
                            intercept: cv.model.intercept.clone(),
                        },
                    ));
                }
            }
            best.map(|b| b.1).ok_or(RelateError::InvalidSetting {
                name: "pooling_ratios",
                value: "[]".into(),
                expected: "at least one ratio",
            })
        }
        ModelFamily::L21 => Ok(lasso_cv(&data, p, tally)?.0),
    }
}

/// The affinity of `tasks` (standardised) with `method`, from single-task weights `single`
/// (and their chosen strengths) or a fitted multi-task model.
fn affinity_of(
    tasks: &Tasks,
    single: &Linear,
    alphas: &[f64],
    p: &ReportParams,
    tally: &Tally,
) -> Result<TaskAffinity> {
    if let Some(a) = &p.fixed_affinity {
        return a.reorder(&tasks.names);
    }
    let names = Some(tasks.names.clone());
    let mut sorted = alphas.to_vec();
    sorted.sort_by(f64::total_cmp);
    let alpha = sorted.get(sorted.len() / 2).copied().unwrap_or(1.0);
    let k = p.n_groups.unwrap_or(2).clamp(1, tasks.n_tasks());
    match p.affinity {
        AffinityMethod::WeightCosine => weight_cosine(single.coef.view(), names),
        AffinityMethod::WeightCorrelation => weight_correlation(single.coef.view(), names),
        AffinityMethod::Mtrl => {
            let mut m = Mtrl::new(alpha, alpha);
            m.inner.tol = p.tol;
            let fit = m.fit(&tasks.dataset()?)?;
            tally.fit(fit.converged);
            covariance_correlation("mtrl-correlation", fit.covariance.view(), names)
        }
        AffinityMethod::Clustered => {
            let mut m = ClusteredMtl::new(alpha, alpha, k);
            m.inner.tol = p.tol;
            let fit = m.fit(&tasks.dataset()?)?;
            tally.fit(fit.converged);
            covariance_correlation("clustered-mtl", fit.covariance.view(), names)
        }
        AffinityMethod::GoMtl => {
            let d = tasks.x[0].ncols();
            let mut m = GoMtl::new(k.min(d), 0.1 * alpha, alpha);
            m.inner.tol = p.tol;
            m.max_outer = 500;
            let fit = m.fit(&tasks.dataset()?)?;
            tally.fit(fit.converged);
            basis_usage(fit.codes.view(), names)
        }
    }
}

fn check_params(p: &ReportParams, tasks: &Tasks) -> Result<()> {
    let bad = |name: &'static str, value: String, expected: &'static str| {
        Err(RelateError::InvalidSetting {
            name,
            value,
            expected,
        })
    };
    if p.n_folds < 2 {
        return bad("n_folds", p.n_folds.to_string(), "at least 2");
    }
    if p.inner_folds < 2 {
        return bad("inner_folds", p.inner_folds.to_string(), "at least 2");
    }
    if p.alphas.is_empty() || p.alphas.iter().any(|a| !a.is_finite() || *a <= 0.0) {
        return bad(
            "alphas",
            format!("{:?}", p.alphas),
            "a non-empty list of positive numbers",
        );
    }
    if p.pooling_ratios.is_empty() || p.pooling_ratios.iter().any(|a| !a.is_finite() || *a < 0.0) {
        return bad(
            "pooling_ratios",
            format!("{:?}", p.pooling_ratios),
            "a non-empty list of numbers >= 0",
        );
    }
    // numbers whose squares overflow f64 would turn every score of the report into NaN (and
    // a feature's pooled scale into ∞, zeroing it): refused, as the linear fits refuse them
    for (name, (x, y)) in tasks.names.iter().zip(tasks.x.iter().zip(&tasks.y)) {
        let sq = |v: &f64| v * v;
        if !y.iter().map(sq).sum::<f64>().is_finite() || !x.iter().map(sq).sum::<f64>().is_finite()
        {
            return Err(mtlkit_linear::LinearError::Overflow {
                what: format!("task '{name}': the sum of squared targets or features"),
            }
            .into());
        }
    }
    let nt = tasks.n_tasks();
    if nt < 2 {
        return Err(RelateError::TooFewTasks {
            operation: "a negative-transfer report",
            needed: 2,
            found: nt,
        });
    }
    if let Some(k) = p.n_groups
        && (k == 0 || k > nt)
    {
        return Err(RelateError::InvalidGroups {
            n_groups: k,
            n_tasks: nt,
        });
    }
    // (saturating: fold counts near usize::MAX need more samples than any task has)
    let needed = p
        .n_folds
        .max(p.inner_folds.saturating_add(1))
        .saturating_mul(2);
    for (name, y) in tasks.names.iter().zip(&tasks.y) {
        if y.len() < needed {
            return Err(RelateError::TooFewSamples {
                task: name.clone(),
                operation: "the report's folds (2 per outer fold, inner folds within training)",
                needed,
                found: y.len(),
            });
        }
    }
    Ok(())
}

/// The affinity of `data`'s tasks fitted on all of it (features standardised; single-task
/// regularisation by inner CV as in the report), or `p.fixed_affinity` reordered to `data`'s
/// tasks.
///
/// # Errors
/// Invalid settings, too few samples, fit errors, a fixed affinity missing one of the tasks.
pub fn fit_affinity(data: &MultiTaskDataset, p: &ReportParams) -> Result<TaskAffinity> {
    let tasks = Tasks::from_dataset(data);
    check_params(p, &tasks)?;
    let (m, s) = tasks.scaler();
    let st = tasks.standardized(&m, &s);
    let tally = Tally::default();
    let (single, alphas) = fit_single(&st, p, &tally)?;
    let affinity = affinity_of(&st, &single, &alphas, p, &tally)?;
    tally.warn("the affinity");
    Ok(affinity)
}

/// The negative-transfer report of `data` (regression tasks; see the module docs).
///
/// ```
/// use mtlkit_relate::report::{negative_transfer_report, ReportParams};
/// use mtlkit_relate::synthetic::{planted_groups, PlantedGroups};
///
/// let cfg = PlantedGroups { n_groups: 2, tasks_per_group: 2, n_samples: 30, ..Default::default() };
/// let (data, _, _) = planted_groups(&cfg, 0)?;
/// let p = ReportParams { n_groups: Some(3), alphas: vec![0.01, 0.1, 1.0], ..Default::default() };
/// let report = negative_transfer_report(&data, &p)?;
/// assert_eq!(report.tasks.len(), 5);
/// assert_eq!(report.tasks[0].gain_pooled.n_folds, 5);
/// # Ok::<(), mtlkit_relate::RelateError>(())
/// ```
///
/// # Errors
/// Fewer than 2 tasks, a task with fewer than `2·max(n_folds, inner_folds + 1)` labelled rows,
/// invalid settings, `n_groups` outside `1..=T`, a fixed affinity missing a task or asymmetric,
/// exact grouping over the partition limit, and fit errors.
pub fn negative_transfer_report(data: &MultiTaskDataset, p: &ReportParams) -> Result<Report> {
    let tasks = Tasks::from_dataset(data);
    check_params(p, &tasks)?;
    if let Some(a) = &p.fixed_affinity {
        a.reorder(&tasks.names)?.check_symmetric()?;
    }
    let nt = tasks.n_tasks();
    // the affinity and grouping of all the data
    let (m, s) = tasks.scaler();
    let all = tasks.standardized(&m, &s);
    let tally = Tally::default();
    let (single_all, alphas_all) = fit_single(&all, p, &tally)?;
    let affinity = affinity_of(&all, &single_all, &alphas_all, p, &tally)?;
    let grouping = p
        .n_groups
        .map(|k| group_tasks(&affinity, k, p.grouping))
        .transpose()?;
    // outer folds within each task
    let folds: Vec<Vec<Vec<usize>>> = tasks
        .y
        .iter()
        .enumerate()
        .map(|(t, y)| k_fold_indices(y.len(), p.n_folds, Some(p.seed.wrapping_add(t as u64))))
        .collect();
    let mut scores = vec![vec![[[f64::NAN; 2]; 3]; p.n_folds]; nt]; // [task][fold][model][r2, mse]
    let mut fold_ari = Vec::new();
    for f in 0..p.n_folds {
        let test_rows: Vec<Vec<usize>> = folds.iter().map(|u| u[f].clone()).collect();
        let train_rows: Vec<Vec<usize>> = folds
            .iter()
            .zip(&tasks.y)
            .map(|(u, y)| {
                (0..y.len())
                    .filter(|i| u[f].binary_search(i).is_err())
                    .collect()
            })
            .collect();
        let (train, test) = (tasks.rows(&train_rows), tasks.rows(&test_rows));
        let (m, s) = train.scaler();
        let (train, test) = (train.standardized(&m, &s), test.standardized(&m, &s));
        let (single, alphas) = fit_single(&train, p, &tally)?;
        let pooled = fit_multi(&train, p, &tally)?;
        let mut grouped_pred: Option<Vec<Array1<f64>>> = None;
        if let Some(k) = p.n_groups {
            let aff = affinity_of(&train, &single, &alphas, p, &tally)?;
            let g = group_tasks(&aff, k, p.grouping)?;
            if let Some(full) = &grouping {
                fold_ari.push(adjusted_rand_index(&g.labels, &full.labels)?);
            }
            let mut pred: Vec<Array1<f64>> =
                (0..nt).map(|t| single.predict(t, &test.x[t])).collect();
            for members in &g.groups {
                if members.len() < 2 {
                    continue;
                }
                let model = fit_multi(&train.select(members), p, &tally)?;
                for (i, &t) in members.iter().enumerate() {
                    pred[t] = model.predict(i, &test.x[t]);
                }
            }
            grouped_pred = Some(pred);
        }
        for t in 0..nt {
            let y = &test.y[t];
            let preds = [
                Some(single.predict(t, &test.x[t])),
                Some(pooled.predict(t, &test.x[t])),
                grouped_pred.as_ref().map(|g| g[t].clone()),
            ];
            for (k, pr) in preds.iter().enumerate() {
                if let Some(pr) = pr {
                    scores[t][f][k] = [r2(y, pr), mse(y, pr)];
                }
            }
        }
    }
    let mean_of = |t: usize, k: usize, which: usize| -> f64 {
        let v: Vec<f64> = scores[t]
            .iter()
            .map(|f| f[k][which])
            .filter(|v| v.is_finite())
            .collect();
        mean_se(&v).0
    };
    let group_of = |t: usize| grouping.as_ref().map(|g| g.labels[t]);
    let rows: Vec<TaskReport> = (0..nt)
        .map(|t| {
            let sc = |k: usize| Scores {
                r2: mean_of(t, k, 0),
                mse: mean_of(t, k, 1),
            };
            let gain = |k: usize| Gain::new(scores[t].iter().map(|f| f[k][0] - f[0][0]).collect());
            TaskReport {
                task: tasks.names[t].clone(),
                n_samples: tasks.y[t].len(),
                group: group_of(t),
                single: sc(0),
                pooled: sc(1),
                grouped: p.n_groups.map(|_| sc(2)),
                gain_pooled: gain(1),
                gain_grouped: p.n_groups.map(|_| gain(2)),
            }
        })
        .collect();
    let over_tasks = |f: &dyn Fn(&TaskReport) -> Option<f64>| -> (f64, f64) {
        let v: Vec<f64> = rows
            .iter()
            .filter_map(f)
            .filter(|v| v.is_finite())
            .collect();
        mean_se(&v)
    };
    let summary = Summary {
        gain_pooled: over_tasks(&|r| Some(r.gain_pooled.mean)),
        gain_grouped: p
            .n_groups
            .map(|_| over_tasks(&|r| r.gain_grouped.as_ref().map(|g| g.mean))),
        hurt_by_pooling: rows
            .iter()
            .filter(|r| r.gain_pooled.hurt)
            .map(|r| r.task.clone())
            .collect(),
        hurt_by_grouping: rows
            .iter()
            .filter(|r| r.gain_grouped.as_ref().is_some_and(|g| g.hurt))
            .map(|r| r.task.clone())
            .collect(),
        mean_r2: (
            over_tasks(&|r| Some(r.single.r2)).0,
            over_tasks(&|r| Some(r.pooled.r2)).0,
            p.n_groups
                .map(|_| over_tasks(&|r| r.grouped.as_ref().map(|g| g.r2)).0),
        ),
    };
    tally.warn("the negative-transfer report");
    Ok(Report {
        fits: tally.fits.get(),
        unconverged_fits: tally.unconverged.get(),
        params: p.clone(),
        flag_rule: "hurt when the mean over folds of R2(multi-task) - R2(single-task) is \
                    negative and its size exceeds twice its standard error"
            .into(),
        affinity,
        grouping,
        fold_grouping_ari: fold_ari,
        tasks: rows,
        summary,
    })
}
