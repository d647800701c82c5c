//! `mtlkit._core`: the Python extension module under the pure-Python estimators of
//! `python/mtlkit/`.
//!
//! This crate converts and maps errors only; every algorithm lives in `mtlkit-linear`,
//! `mtlkit-relate` and `mtlkit-deep` (saved deep models are loaded and run here, see
//! the `deep` module).
//!
//! - numpy arrays are read in place (`float64` or `float32`, C or Fortran order, any strides):
//!   no copy is made here. The solver itself makes the one prepared copy scikit-learn also makes
//!   (the centred design when `fit_intercept`), and none for a Fortran-ordered design without
//!   intercept.
//! - The GIL is released while a model is fitted.
//! - Hyperparameters arrive as one JSON object (built by the Python estimators), parsed into a
//!   typed struct that rejects unknown keys.
//! - Errors are mapped in one place, `to_py_err`: invalid data or hyperparameters and corrupt
//!   model files raise `ValueError`, file-system failures `OSError`, anything else
//!   `RuntimeError`. (`NotFittedError` and `ConvergenceWarning` are raised by the Python layer,
//!   from `converged`.)

use mtlkit_core::{MultiTaskDataset, sparse::CscMatrix};
use mtlkit_linear::cv::{CvResult, Folds, MultiTaskCv};
use mtlkit_linear::estimator::EstimatorPenalty;
use mtlkit_linear::{
    GramMode, L21, L21Ridge, LinearError, Loss, LossScaling, MultiTaskElasticNet, MultiTaskLasso,
    MultiTaskLinearModel, MultiTaskParams, Selection, ValidMultiTaskParams,
};
use ndarray::{ArrayView1, ArrayView2};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use serde::Deserialize;

mod deep;

/// Map a Rust error to the Python exception a scikit-learn user expects.
fn to_py_err(e: LinearError) -> PyErr {
    match &e {
        LinearError::Core(mtlkit_core::Error::Io { .. }) => PyOSError::new_err(e.to_string()),
        LinearError::Core(_)
        | LinearError::WarmStartShape { .. }
        | LinearError::InvalidLabels { .. }
        | LinearError::LossCount { .. }
        | LinearError::NoClassificationTask { .. }
        | LinearError::InvalidModel { .. }
        | LinearError::ForeignModel { .. }
        | LinearError::UnsupportedVersion { .. }
        | LinearError::Overflow { .. } => PyValueError::new_err(e.to_string()),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

fn bad_param(name: &str, value: &str, expected: &str) -> PyErr {
    PyValueError::new_err(format!("invalid {name} {value:?}: expected {expected}"))
}

const fn one() -> f64 {
    1.0
}
const fn yes() -> bool {
    true
}
const fn default_tol() -> f64 {
    1e-4
}
const fn default_max_iter() -> usize {
    1000
}
const fn one_thread() -> usize {
    1
}
fn cyclic() -> String {
    "cyclic".into()
}
fn task_mean() -> String {
    "task_mean".into()
}
fn auto() -> String {
    "auto".into()
}

/// The hyperparameters of a fit, as sent by the Python estimators (JSON).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FitParams {
    /// `lasso` or `elasticnet`.
    estimator: String,
    alpha: f64,
    #[serde(default = "one")]
    l1_ratio: f64,
    #[serde(default = "yes")]
    fit_intercept: bool,
    #[serde(default = "default_tol")]
    tol: f64,
    #[serde(default = "default_max_iter")]
    max_iter: usize,
    #[serde(default = "cyclic")]
    selection: String,
    #[serde(default)]
    random_state: u64,
    /// One loss for all tasks or one per task (`squared`, `logistic`).
    #[serde(default)]
    losses: Option<Vec<String>>,
    #[serde(default = "task_mean")]
    scaling: String,
    #[serde(default = "one_thread")]
    n_threads: usize,
    #[serde(default = "yes")]
    screening: bool,
    #[serde(default = "yes")]
    working_set: bool,
    #[serde(default = "yes")]
    anderson: bool,
    /// Mixed-precision inner loops (gaps and stops exact in f64).
    #[serde(default = "yes")]
    mixed_precision: bool,
    #[serde(default = "auto")]
    gram: String,
    #[serde(default)]
    task_names: Option<Vec<String>>,
    #[serde(default)]
    feature_names: Option<Vec<String>>,
}

/// Cross-validation settings (JSON).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CvParams {
    #[serde(default)]
    l1_ratios: Option<Vec<f64>>,
    #[serde(default)]
    alphas: Option<Vec<f64>>,
    #[serde(default = "hundred")]
    n_alphas: usize,
    #[serde(default = "default_eps")]
    eps: f64,
    /// Test rows of each fold (shared design).
    #[serde(default)]
    test_folds: Option<Vec<Vec<usize>>>,
    /// Training rows of each fold, with `test_folds` (a splitter's own training rows, which
    /// need not be the complement of the test rows).
    #[serde(default)]
    train_folds: Option<Vec<Vec<usize>>>,
    /// K-fold within each task (per-task designs, or when no explicit folds are given).
    #[serde(default = "five")]
    n_splits: usize,
    #[serde(default)]
    shuffle_seed: Option<u64>,
    #[serde(default)]
    one_standard_error: bool,
    #[serde(default = "one_thread")]
    n_jobs: usize,
}

const fn hundred() -> usize {
    100
}
const fn five() -> usize {
    5
}
const fn default_eps() -> f64 {
    1e-3
}

fn parse<T: for<'de> Deserialize<'de>>(what: &str, json: &str) -> PyResult<T> {
    serde_json::from_str(json).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

fn parse_loss(s: &str) -> PyResult<Loss> {
    match s {
        "squared" => Ok(Loss::Squared),
        "logistic" => Ok(Loss::Logistic),
        other => Err(bad_param("loss", other, "'squared' or 'logistic'")),
    }
}

fn parse_scaling(s: &str) -> PyResult<LossScaling> {
    match s {
        "task_mean" => Ok(LossScaling::TaskMean),
        "all_samples" => Ok(LossScaling::AllSamples),
        "sum" => Ok(LossScaling::Sum),
        other => Err(bad_param(
            "scaling",
            other,
            "'task_mean', 'all_samples' or 'sum'",
        )),
    }
}

/// Apply everything but the penalty to `p` and check it.
fn configure<P: EstimatorPenalty>(
    mut p: MultiTaskParams<P>,
    fp: &FitParams,
) -> PyResult<ValidMultiTaskParams<P>> {
    let selection = match fp.selection.as_str() {
        "cyclic" => Selection::Cyclic,
        "random" => Selection::Random,
        other => return Err(bad_param("selection", other, "'cyclic' or 'random'")),
    };
    let scaling = parse_scaling(&fp.scaling)?;
    let gram = match fp.gram.as_str() {
        "auto" => GramMode::Auto,
        "on" => GramMode::On,
        "off" => GramMode::Off,
        other => return Err(bad_param("gram", other, "'auto', 'on' or 'off'")),
    };
    if fp.n_threads == 0 {
        return Err(bad_param("n_threads", "0", "at least 1"));
    }
    p = p
        .fit_intercept(fp.fit_intercept)
        .tol(fp.tol)
        .max_iter(fp.max_iter)
        .selection(selection)
        .random_state(fp.random_state)
        .scaling(scaling)
        .screening(fp.screening)
        .working_set(fp.working_set)
        .anderson(fp.anderson)
        .mixed_precision(fp.mixed_precision)
        .gram(gram)
        .n_threads(fp.n_threads);
    if let Some(losses) = &fp.losses {
        let losses: Vec<Loss> = losses
            .iter()
            .map(|s| parse_loss(s))
            .collect::<PyResult<_>>()?;
        p = p.task_losses(losses);
    }
    p.check().map_err(to_py_err)
}

/// The two named estimators, checked.
enum Params {
    Lasso(ValidMultiTaskParams<L21>),
    ElasticNet(ValidMultiTaskParams<L21Ridge>),
}

impl Params {
    fn new(fp: &FitParams) -> PyResult<Self> {
        match fp.estimator.as_str() {
            "lasso" => Ok(Self::Lasso(configure(MultiTaskLasso::new(fp.alpha), fp)?)),
            "elasticnet" => Ok(Self::ElasticNet(configure(
                MultiTaskElasticNet::new(fp.alpha, fp.l1_ratio),
                fp,
            )?)),
            other => Err(bad_param("estimator", other, "'lasso' or 'elasticnet'")),
        }
    }
}

/// Run `$body` with `$p` bound to the checked parameters of either estimator.
macro_rules! with_params {
    ($params:expr, $p:ident => $body:expr) => {
        match $params {
            Params::Lasso($p) => $body,
            Params::ElasticNet($p) => $body,
        }
    };
}

/// Give the model the names sent by Python, when any.
fn named(mut m: MultiTaskLinearModel, fp: &FitParams) -> PyResult<MultiTaskLinearModel> {
    if let Some(t) = &fp.task_names {
        m = m.with_task_names(t.clone()).map_err(to_py_err)?;
    }
    if let Some(f) = &fp.feature_names {
        m = m.with_feature_names(f.clone()).map_err(to_py_err)?;
    }
    Ok(m)
}

/// A fitted linear multi-task model (coefficients `n_features × n_tasks`, as in Rust).
#[pyclass(module = "mtlkit._core", frozen)]
struct Model {
    inner: MultiTaskLinearModel,
}

#[pymethods]
impl Model {
    /// Coefficients, `n_features × n_tasks` (a copy).
    #[getter]
    fn coef<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.inner.coef().to_owned().into_pyarray(py)
    }
    /// Intercepts, one per task (a copy).
    #[getter]
    fn intercept<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.intercept().clone().into_pyarray(py)
    }
    /// Passes over the data.
    #[getter]
    fn n_iter(&self) -> usize {
        self.inner.info().n_iter
    }
    /// Final duality gap (in the objective's own scale).
    #[getter]
    fn dual_gap(&self) -> f64 {
        self.inner.info().dual_gap
    }
    /// Whether the duality gap met the tolerance.
    #[getter]
    fn converged(&self) -> bool {
        self.inner.info().converged
    }
    /// Loss of each task (`squared` / `logistic`).
    #[getter]
    fn losses(&self) -> Vec<&'static str> {
        self.inner.losses().iter().map(|l| l.name()).collect()
    }
    /// The two class labels of each classification task (`None` for regression tasks).
    #[getter]
    fn classes(&self) -> Vec<Option<(f64, f64)>> {
        self.inner
            .classes()
            .iter()
            .map(|c| c.map(|[a, b]| (a, b)))
            .collect()
    }
    /// Task names.
    #[getter]
    fn task_names(&self) -> Vec<String> {
        self.inner.task_names().to_vec()
    }
    /// Feature names.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_names().to_vec()
    }
    /// Everything but the arrays, as the JSON stored in model files.
    #[getter]
    fn metadata_json(&self) -> PyResult<String> {
        self.inner.metadata_json().map_err(to_py_err)
    }
    /// Save as safetensors + JSON metadata, atomically (the CLI's model format).
    fn save(&self, path: std::path::PathBuf) -> PyResult<()> {
        self.inner.save(&path).map_err(to_py_err)
    }
    /// The model file's bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = self.inner.to_bytes().map_err(to_py_err)?;
        Ok(PyBytes::new(py, &b))
    }
    /// Load a model file written by the CLI, Rust or Python.
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        Ok(Self {
            inner: MultiTaskLinearModel::load(&path).map_err(to_py_err)?,
        })
    }
    /// Parse a model file's bytes.
    #[staticmethod]
    fn from_bytes(b: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: MultiTaskLinearModel::from_bytes(b).map_err(to_py_err)?,
        })
    }
    /// A model from `coef` (`n_features × n_tasks`), `intercept` and metadata JSON, validated
    /// as a file is on load.
    #[staticmethod]
    fn from_parts(
        coef: PyReadonlyArray2<'_, f64>,
        intercept: PyReadonlyArray1<'_, f64>,
        metadata_json: &str,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: MultiTaskLinearModel::from_parts(
                coef.as_array().to_owned(),
                intercept.as_array().to_owned(),
                metadata_json,
            )
            .map_err(to_py_err)?,
        })
    }
    /// Pickle support: through the model file's bytes.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let ctor = py.get_type::<Self>().getattr("from_bytes")?;
        Ok((ctor, (slf.get().to_bytes(py)?,)))
    }
}

/// A design from Python: dense `float64`, dense `float32`, or CSC parts.
enum XView<'a> {
    F64(ArrayView2<'a, f64>),
    F32(ArrayView2<'a, f32>),
}

fn fit_on(
    p: &Params,
    x: XView<'_>,
    y: ArrayView2<'_, f64>,
    w: Option<ArrayView1<'_, f64>>,
    init: Option<ArrayView2<'_, f64>>,
) -> Result<MultiTaskLinearModel, LinearError> {
    match x {
        XView::F64(x) => with_params!(p, p => p.fit_arrays(x, y, w, init)),
        XView::F32(x) => {
            if w.is_some() || init.is_some() || y.iter().any(|v| v.is_nan()) {
                return Err(mtlkit_core::Error::InvalidParameter {
                    name: "X",
                    value: "float32".into(),
                    expected: "float64 X with sample_weight, warm start or missing targets",
                }
                .into());
            }
            with_params!(p, p => p.fit_f32(x, y))
        }
    }
}

/// Fit on a dense design shared by all tasks. `x`: `float64` or `float32` array `n × d` (read in
/// place); `y`: `n × T` (NaN = missing target); `sample_weight`: `n`; `coef_init`: `d × T`;
/// `params`: JSON hyperparameters. The GIL is released during the fit.
#[pyfunction]
#[pyo3(signature = (x, y, params, sample_weight=None, coef_init=None))]
fn fit_dense(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: PyReadonlyArray2<'_, f64>,
    params: &str,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    coef_init: Option<PyReadonlyArray2<'_, f64>>,
) -> PyResult<Model> {
    let fp: FitParams = parse("params", params)?;
    let p = Params::new(&fp)?;
    let yv = y.as_array();
    let wv = sample_weight.as_ref().map(|w| w.as_array());
    let iv = coef_init.as_ref().map(|c| c.as_array());
    let m = if let Ok(x64) = x.cast::<PyArray2<f64>>() {
        let xr = x64
            .try_readonly()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let xv = xr.as_array();
        py.detach(|| fit_on(&p, XView::F64(xv), yv, wv, iv))
    } else if let Ok(x32) = x.cast::<PyArray2<f32>>() {
        let xr = x32
            .try_readonly()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let xv = xr.as_array();
        py.detach(|| fit_on(&p, XView::F32(xv), yv, wv, iv))
    } else {
        return Err(PyValueError::new_err(
            "X must be a 2-D float64 or float32 numpy array",
        ));
    }
    .map_err(to_py_err)?;
    Ok(Model {
        inner: named(m, &fp)?,
    })
}

/// Fit on a sparse design in CSC form (scipy's `data`, `indices`, `indptr`, `shape`).
#[pyfunction]
#[pyo3(signature = (data, indices, indptr, shape, y, params, coef_init=None))]
#[allow(clippy::too_many_arguments)]
fn fit_csc(
    py: Python<'_>,
    data: PyReadonlyArray1<'_, f64>,
    indices: PyReadonlyArray1<'_, i64>,
    indptr: PyReadonlyArray1<'_, i64>,
    shape: (usize, usize),
    y: PyReadonlyArray2<'_, f64>,
    params: &str,
    coef_init: Option<PyReadonlyArray2<'_, f64>>,
) -> PyResult<Model> {
    let fp: FitParams = parse("params", params)?;
    let p = Params::new(&fp)?;
    let to_usize = |name: &str, a: &PyReadonlyArray1<'_, i64>| -> PyResult<Vec<usize>> {
        a.as_array()
            .iter()
            .map(|&v| usize::try_from(v))
            .collect::<Result<_, _>>()
            .map_err(|_| PyValueError::new_err(format!("CSC {name} has a negative entry")))
    };
    let x = CscMatrix::new(
        shape.0,
        shape.1,
        to_usize("indptr", &indptr)?,
        to_usize("indices", &indices)?,
        data.as_array().to_vec(),
    )
    .map_err(|e| to_py_err(e.into()))?;
    let yv = y.as_array();
    let init = coef_init.as_ref().map(|c| c.as_array());
    let m = py
        .detach(|| with_params!(&p, p => p.fit_csc_init(&x, yv, init)))
        .map_err(to_py_err)?;
    Ok(Model {
        inner: named(m, &fp)?,
    })
}

/// The per-task dataset of `xs[t]` (`n_t × d`) and `ys[t]` (`n_t`).
fn per_task_dataset(
    xs: &[PyReadonlyArray2<'_, f64>],
    ys: &[PyReadonlyArray1<'_, f64>],
) -> PyResult<MultiTaskDataset> {
    if xs.len() != ys.len() {
        return Err(PyValueError::new_err(format!(
            "{} designs but {} target vectors: give one (X_t, y_t) per task",
            xs.len(),
            ys.len()
        )));
    }
    let tasks = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| (x.as_array().to_owned(), y.as_array().to_owned()))
        .collect();
    MultiTaskDataset::per_task(tasks).map_err(|e| to_py_err(e.into()))
}

/// Fit with one design per task: `xs[t]` (`n_t × d`, float64), `ys[t]` (`n_t`). The data are
/// copied into the per-task dataset (the general solver reorganises them anyway).
#[pyfunction]
#[pyo3(signature = (xs, ys, params, coef_init=None))]
fn fit_tasks(
    py: Python<'_>,
    xs: Vec<PyReadonlyArray2<'_, f64>>,
    ys: Vec<PyReadonlyArray1<'_, f64>>,
    params: &str,
    coef_init: Option<PyReadonlyArray2<'_, f64>>,
) -> PyResult<Model> {
    let fp: FitParams = parse("params", params)?;
    let p = Params::new(&fp)?;
    let data = per_task_dataset(&xs, &ys)?;
    let init = coef_init.as_ref().map(|c| c.as_array());
    let m = py
        .detach(|| with_params!(&p, p => p.fit_init(&data, init)))
        .map_err(to_py_err)?;
    Ok(Model {
        inner: named(m, &fp)?,
    })
}

/// `alpha_max` (the smallest alpha with all-zero coefficients) for these hyperparameters on a
/// shared design (`x`, `y`, optional weights) or per-task designs (`xs`, `ys`).
#[pyfunction]
#[pyo3(signature = (params, x=None, y=None, sample_weight=None, xs=None, ys=None))]
fn alpha_max(
    params: &str,
    x: Option<PyReadonlyArray2<'_, f64>>,
    y: Option<PyReadonlyArray2<'_, f64>>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    xs: Option<Vec<PyReadonlyArray2<'_, f64>>>,
    ys: Option<Vec<PyReadonlyArray1<'_, f64>>>,
) -> PyResult<f64> {
    let fp: FitParams = parse("params", params)?;
    let p = Params::new(&fp)?;
    let data = dataset(x, y, sample_weight, xs, ys)?;
    with_params!(&p, p => p.alpha_max(&data)).map_err(to_py_err)
}

/// A dataset from either a shared design or per-task designs.
fn dataset(
    x: Option<PyReadonlyArray2<'_, f64>>,
    y: Option<PyReadonlyArray2<'_, f64>>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    xs: Option<Vec<PyReadonlyArray2<'_, f64>>>,
    ys: Option<Vec<PyReadonlyArray1<'_, f64>>>,
) -> PyResult<MultiTaskDataset> {
    match (x, y, xs, ys) {
        (Some(x), Some(y), None, None) => {
            let mut d = MultiTaskDataset::shared(x.as_array().to_owned(), y.as_array().to_owned())
                .map_err(|e| to_py_err(e.into()))?;
            if let Some(w) = sample_weight {
                d = d
                    .with_sample_weight(w.as_array().to_owned())
                    .map_err(|e| to_py_err(e.into()))?;
            }
            Ok(d)
        }
        (None, None, Some(xs), Some(ys)) => {
            if sample_weight.is_some() {
                return Err(PyValueError::new_err(
                    "sample_weight is supported with a shared design only",
                ));
            }
            per_task_dataset(&xs, &ys)
        }
        _ => Err(PyValueError::new_err(
            "give either x and y (shared design) or xs and ys (one design per task)",
        )),
    }
}

/// Cross-validate `alpha` (and `l1_ratio` for the elastic net), then refit on all the data.
/// Returns a dict: `alpha`, `l1_ratio`, `alphas` (`n_l1_ratios × n_alphas`), `mse_path`
/// (`n_l1_ratios × n_alphas × n_folds`), `l1_ratios`, `model`.
#[pyfunction]
#[pyo3(signature = (params, cv, x=None, y=None, sample_weight=None, xs=None, ys=None))]
#[allow(clippy::too_many_arguments)]
fn cross_validate<'py>(
    py: Python<'py>,
    params: &str,
    cv: &str,
    x: Option<PyReadonlyArray2<'_, f64>>,
    y: Option<PyReadonlyArray2<'_, f64>>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    xs: Option<Vec<PyReadonlyArray2<'_, f64>>>,
    ys: Option<Vec<PyReadonlyArray1<'_, f64>>>,
) -> PyResult<Bound<'py, PyDict>> {
    let fp: FitParams = parse("params", params)?;
    let cp: CvParams = parse("cv", cv)?;
    let p = Params::new(&fp)?;
    let data = dataset(x, y, sample_weight, xs, ys)?;
    let folds = match (cp.test_folds, cp.train_folds) {
        (Some(test), Some(train)) => {
            if train.len() != test.len() {
                return Err(PyValueError::new_err(format!(
                    "{} training folds for {} test folds",
                    train.len(),
                    test.len()
                )));
            }
            Folds::Splits(train.into_iter().zip(test).collect())
        }
        (Some(f), None) => Folds::Explicit(f),
        (None, _) => Folds::KFold {
            n_splits: cp.n_splits,
            shuffle: cp.shuffle_seed,
        },
    };
    let res: CvResult = py
        .detach(|| -> Result<CvResult, LinearError> {
            macro_rules! run {
                ($cv:expr) => {{
                    let mut c = $cv
                        .n_alphas(cp.n_alphas)
                        .eps(cp.eps)
                        .folds(folds)
                        .one_standard_error(cp.one_standard_error)
                        .n_jobs(cp.n_jobs);
                    if let Some(a) = cp.alphas {
                        c = c.alphas(a);
                    }
                    c.fit(&data)
                }};
            }
            match p {
                Params::Lasso(p) => run!(MultiTaskCv::<L21>::new(p)),
                Params::ElasticNet(p) => run!(MultiTaskCv::<L21Ridge>::new(
                    p,
                    cp.l1_ratios.unwrap_or_else(|| vec![fp.l1_ratio])
                )),
            }
        })
        .map_err(to_py_err)?;
    let out = PyDict::new(py);
    out.set_item("alpha", res.alpha)?;
    out.set_item("l1_ratio", res.l1_ratio)?;
    out.set_item("l1_ratios", res.l1_ratios.clone())?;
    out.set_item("alphas", res.alphas.clone().into_pyarray(py))?;
    let mse: Bound<'py, PyArray3<f64>> = res.mse_path.clone().into_pyarray(py);
    out.set_item("mse_path", mse)?;
    out.set_item(
        "model",
        Model {
            inner: named(res.model, &fp)?,
        },
    )?;
    Ok(out)
}

/// A structured fit's settings (JSON): `parts` (regularizers, `{"kind": "lasso", "alpha": 0.1}`,
/// kinds as `mtlkit_linear::structured::Regularizer`), optional `graph` (`{"edges": [[s, t],
/// ...], "alpha": a}`), `model` (`structured`, `mtrl`, `feature-learning`) with its own
/// settings, and the common ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StructuredJson {
    #[serde(default = "structured")]
    model: String,
    #[serde(default)]
    parts: Vec<mtlkit_linear::structured::Regularizer>,
    #[serde(default)]
    graph: Option<GraphJson>,
    #[serde(default)]
    losses: Option<Vec<String>>,
    #[serde(default = "task_mean")]
    scaling: String,
    #[serde(default = "yes")]
    fit_intercept: bool,
    #[serde(default = "default_structured_tol")]
    tol: f64,
    #[serde(default = "default_structured_iter")]
    max_iter: usize,
    #[serde(default)]
    lambda1: f64,
    #[serde(default)]
    lambda2: f64,
    #[serde(default)]
    gamma: f64,
    #[serde(default)]
    rho1: f64,
    #[serde(default)]
    rho2: f64,
    #[serde(default = "one_thread")]
    k: usize,
    #[serde(default)]
    mu: f64,
    #[serde(default)]
    lambda: f64,
    #[serde(default = "default_eps_rel")]
    epsilon: f64,
    #[serde(default = "hundred")]
    max_outer: usize,
    #[serde(default = "default_outer_tol")]
    outer_tol: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphJson {
    edges: Vec<(usize, usize)>,
    alpha: f64,
}

fn structured() -> String {
    "structured".into()
}
const fn default_structured_tol() -> f64 {
    1e-6
}
const fn default_structured_iter() -> usize {
    10_000
}
const fn default_eps_rel() -> f64 {
    1e-4
}
const fn default_outer_tol() -> f64 {
    1e-6
}

/// Fit a structured model (`mtlkit_linear::structured`) on a shared design (`x`, `y`, NaN =
/// missing, optional weights) or per-task designs (`xs`, `ys`). Returns a dict: `coef`
/// (`d × T`), `parts` (list of `d × T`), `intercept`, `n_iter`, `kkt_residual`, `objective`,
/// `converged`, `losses`, `classes`, and for alternating models `covariance` and
/// `objective_trace`.
#[pyfunction]
#[pyo3(signature = (params, x=None, y=None, sample_weight=None, xs=None, ys=None))]
fn fit_structured<'py>(
    py: Python<'py>,
    params: &str,
    x: Option<PyReadonlyArray2<'_, f64>>,
    y: Option<PyReadonlyArray2<'_, f64>>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    xs: Option<Vec<PyReadonlyArray2<'_, f64>>>,
    ys: Option<Vec<PyReadonlyArray1<'_, f64>>>,
) -> PyResult<Bound<'py, PyDict>> {
    use mtlkit_linear::structured::{
        ClusteredMtl, FeatureLearning, GoMtl, Mtrl, StructuredParams, TaskGraph,
    };
    let sj: StructuredJson = parse("params", params)?;
    let data = dataset(x, y, sample_weight, xs, ys)?;
    let scaling = parse_scaling(&sj.scaling)?;
    let losses: Vec<Loss> = match &sj.losses {
        None => vec![Loss::Squared],
        Some(l) => l.iter().map(|s| parse_loss(s)).collect::<PyResult<_>>()?,
    };
    let mut inner = StructuredParams::new(sj.parts.clone())
        .losses(losses)
        .scaling(scaling)
        .fit_intercept(sj.fit_intercept)
        .tol(sj.tol)
        .max_iter(sj.max_iter);
    if let Some(g) = &sj.graph {
        inner = inner
            .graph(TaskGraph::from_edges(data.n_tasks(), &g.edges, g.alpha).map_err(to_py_err)?);
    }
    let out = PyDict::new(py);
    if sj.model == "go-mtl" {
        let mut g = GoMtl::new(sj.k, sj.mu, sj.lambda);
        g.inner = inner;
        g.max_outer = sj.max_outer;
        g.outer_tol = sj.outer_tol;
        let m = py.detach(|| g.fit(&data)).map_err(to_py_err)?;
        let meta = m
            .to_linear_model(&g, &data)
            .metadata_json()
            .map_err(to_py_err)?;
        out.set_item("metadata", meta)?;
        out.set_item("coef", m.coef.clone().into_pyarray(py))?;
        out.set_item("parts", vec![m.coef.into_pyarray(py)])?;
        out.set_item("basis", m.basis.into_pyarray(py))?;
        out.set_item("codes", m.codes.into_pyarray(py))?;
        out.set_item("intercept", m.intercept.into_pyarray(py))?;
        out.set_item("n_iter", m.objective_trace.len())?;
        out.set_item("kkt_residual", f64::NAN)?;
        out.set_item(
            "objective",
            m.objective_trace.last().copied().unwrap_or(f64::NAN),
        )?;
        out.set_item("converged", m.converged)?;
        out.set_item("objective_trace", m.objective_trace)?;
        return Ok(out);
    }
    let inner_c = inner.clone();
    let model = match sj.model.as_str() {
        "structured" => {
            let m = py.detach(|| inner.fit(&data)).map_err(to_py_err)?;
            let meta = m
                .to_linear_model(&inner_c, &data)
                .metadata_json()
                .map_err(to_py_err)?;
            out.set_item("metadata", meta)?;
            m
        }
        "mtrl" | "feature-learning" | "clustered" => {
            let alt = if sj.model == "clustered" {
                let mut m = ClusteredMtl::new(sj.rho1, sj.rho2, sj.k);
                m.inner = inner;
                m.max_outer = sj.max_outer;
                m.outer_tol = sj.outer_tol;
                py.detach(|| m.fit(&data))
            } else if sj.model == "mtrl" {
                let mut m = Mtrl::new(sj.lambda1, sj.lambda2);
                m.inner = inner;
                m.epsilon = sj.epsilon;
                m.max_outer = sj.max_outer;
                m.outer_tol = sj.outer_tol;
                py.detach(|| m.fit(&data))
            } else {
                let mut m = FeatureLearning::new(sj.gamma);
                m.inner = inner;
                m.epsilon = sj.epsilon;
                m.max_outer = sj.max_outer;
                m.outer_tol = sj.outer_tol;
                py.detach(|| m.fit(&data))
            }
            .map_err(to_py_err)?;
            let hp = serde_json::json!({
                "lambda1": sj.lambda1, "lambda2": sj.lambda2, "gamma": sj.gamma,
                "rho1": sj.rho1, "rho2": sj.rho2, "k": sj.k, "epsilon": sj.epsilon,
            });
            let meta = alt
                .to_linear_model(&inner_c, &data, &sj.model, hp)
                .metadata_json()
                .map_err(to_py_err)?;
            out.set_item("metadata", meta)?;
            out.set_item("covariance", alt.covariance.clone().into_pyarray(py))?;
            out.set_item("objective_trace", alt.objective_trace)?;
            out.set_item("outer_converged", alt.converged)?;
            alt.model
        }
        other => {
            return Err(bad_param(
                "model",
                other,
                "'structured', 'mtrl', 'feature-learning', 'clustered' or 'go-mtl'",
            ));
        }
    };
    out.set_item("coef", model.coef.into_pyarray(py))?;
    let parts: Vec<Bound<'py, PyArray2<f64>>> = model
        .parts
        .into_iter()
        .map(|p| p.into_pyarray(py))
        .collect();
    out.set_item("parts", parts)?;
    out.set_item("intercept", model.intercept.into_pyarray(py))?;
    out.set_item("n_iter", model.info.n_iter)?;
    out.set_item("kkt_residual", model.info.kkt_residual)?;
    out.set_item("objective", model.info.objective)?;
    out.set_item("converged", model.info.converged)?;
    let losses: Vec<&str> = model.losses.iter().map(|l| l.name()).collect();
    out.set_item("losses", losses)?;
    let classes: Vec<Option<(f64, f64)>> = model
        .classes
        .iter()
        .map(|c| c.map(|[a, b]| (a, b)))
        .collect();
    out.set_item("classes", classes)?;
    Ok(out)
}

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Model>()?;
    m.add_class::<deep::DeepModel>()?;
    m.add_function(wrap_pyfunction!(fit_dense, m)?)?;
    m.add_function(wrap_pyfunction!(fit_csc, m)?)?;
    m.add_function(wrap_pyfunction!(fit_tasks, m)?)?;
    m.add_function(wrap_pyfunction!(alpha_max, m)?)?;
    m.add_function(wrap_pyfunction!(cross_validate, m)?)?;
    m.add_function(wrap_pyfunction!(fit_structured, m)?)?;
    m.add_function(wrap_pyfunction!(relate_affinity, m)?)?;
    m.add_function(wrap_pyfunction!(relate_group, m)?)?;
    m.add_function(wrap_pyfunction!(relate_ari, m)?)?;
    m.add_function(wrap_pyfunction!(relate_report, m)?)?;
    Ok(())
}

// ---- task relationships (mtlkit-relate) ----

/// Map a task-relationship error: bad input raises `ValueError`, file-system failures
/// `OSError`, the linear models' errors as [`to_py_err`].
fn relate_err(e: mtlkit_relate::RelateError) -> PyErr {
    use mtlkit_relate::RelateError as R;
    match e {
        R::Linear(l) => to_py_err(l),
        R::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// A task affinity (JSON) from a matrix: `coef` (`n_features × n_tasks`) for `cosine` /
/// `correlation`, a `T × T` covariance for `covariance`, GO-MTL codes (`k × T`) for
/// `basis-usage`.
#[pyfunction]
#[pyo3(signature = (matrix, method, task_names=None))]
fn relate_affinity(
    matrix: PyReadonlyArray2<'_, f64>,
    method: &str,
    task_names: Option<Vec<String>>,
) -> PyResult<String> {
    use mtlkit_relate::affinity as a;
    let m = matrix.as_array();
    let aff = match method {
        "cosine" => a::weight_cosine(m, task_names),
        "correlation" => a::weight_correlation(m, task_names),
        "covariance" => a::covariance_correlation("covariance-correlation", m, task_names),
        "basis-usage" => a::basis_usage(m, task_names),
        other => {
            return Err(bad_param(
                "method",
                other,
                "'cosine', 'correlation', 'covariance' or 'basis-usage'",
            ));
        }
    }
    .map_err(relate_err)?;
    aff.to_json().map_err(relate_err)
}

fn grouping_method(s: &str) -> PyResult<mtlkit_relate::GroupingMethod> {
    use mtlkit_relate::GroupingMethod as G;
    match s {
        "auto" => Ok(G::Auto),
        "hierarchical" => Ok(G::Hierarchical),
        "exact" => Ok(G::Exact),
        other => Err(bad_param(
            "method",
            other,
            "'auto', 'hierarchical' or 'exact'",
        )),
    }
}

/// Task groups (JSON) from an affinity (JSON).
#[pyfunction]
fn relate_group(affinity: &str, n_groups: usize, method: &str) -> PyResult<String> {
    let a = mtlkit_relate::TaskAffinity::from_json(affinity).map_err(relate_err)?;
    let g =
        mtlkit_relate::group_tasks(&a, n_groups, grouping_method(method)?).map_err(relate_err)?;
    serde_json::to_string(&g).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Adjusted Rand index of two labelings.
#[pyfunction]
fn relate_ari(a: Vec<usize>, b: Vec<usize>) -> PyResult<f64> {
    mtlkit_relate::adjusted_rand_index(&a, &b).map_err(relate_err)
}

/// Settings of the report, from Python (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportSettings {
    n_folds: usize,
    inner_folds: usize,
    seed: u64,
    n_groups: Option<usize>,
    grouping: String,
    affinity: String,
    family: String,
    alphas: Option<Vec<f64>>,
    task_names: Option<Vec<String>>,
    fixed_affinity: Option<String>,
}

/// The negative-transfer report (JSON) of per-task data `xs[t]`, `ys[t]`.
#[pyfunction]
fn relate_report(
    py: Python<'_>,
    xs: Vec<PyReadonlyArray2<'_, f64>>,
    ys: Vec<PyReadonlyArray1<'_, f64>>,
    settings: &str,
) -> PyResult<String> {
    use mtlkit_relate::report::{AffinityMethod as A, ModelFamily as F, ReportParams};
    let s: ReportSettings = parse("settings", settings)?;
    let mut data = per_task_dataset(&xs, &ys)?;
    if let Some(names) = &s.task_names {
        data = data
            .with_task_names(names.clone())
            .map_err(|e| to_py_err(e.into()))?;
    }
    let mut p = ReportParams {
        n_folds: s.n_folds,
        inner_folds: s.inner_folds,
        seed: s.seed,
        n_groups: s.n_groups,
        grouping: grouping_method(&s.grouping)?,
        affinity: match s.affinity.as_str() {
            "cosine" => A::WeightCosine,
            "correlation" => A::WeightCorrelation,
            "mtrl" => A::Mtrl,
            "clustered" => A::Clustered,
            "go-mtl" => A::GoMtl,
            other => {
                return Err(bad_param(
                    "affinity",
                    other,
                    "'cosine', 'correlation', 'mtrl', 'clustered' or 'go-mtl'",
                ));
            }
        },
        family: match s.family.as_str() {
            "mean-regularized" => F::MeanRegularized,
            "l21" => F::L21,
            other => return Err(bad_param("model", other, "'mean-regularized' or 'l21'")),
        },
        ..ReportParams::default()
    };
    if let Some(a) = s.alphas {
        p.alphas = a;
    }
    if let Some(f) = &s.fixed_affinity {
        p.fixed_affinity = Some(mtlkit_relate::TaskAffinity::from_json(f).map_err(relate_err)?);
    }
    let r = py
        .detach(|| mtlkit_relate::negative_transfer_report(&data, &p))
        .map_err(relate_err)?;
    serde_json::to_string(&r).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}
