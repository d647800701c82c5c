//! Deep models saved by `mtlkit train` (safetensors + JSON metadata): loading and prediction.
//! The model and its forward pass are `mtlkit-deep`'s ([`SavedModel`]); this module converts
//! arrays and maps errors only.

use std::path::PathBuf;

use mtlkit_deep::DeepError;
use mtlkit_deep::persist::SavedModel;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// Map a deep-model error to the Python exception a user expects: unreadable files raise
/// `OSError`; corrupt or foreign files and inputs that do not fit the model `ValueError`.
fn deep_err(e: DeepError) -> PyErr {
    match &e {
        DeepError::Io { .. } => PyOSError::new_err(e.to_string()),
        DeepError::ModelFile { .. }
        | DeepError::Input(_)
        | DeepError::Config(_)
        | DeepError::Data(_)
        | DeepError::BadTarget { .. } => PyValueError::new_err(e.to_string()),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

/// A deep multi-task model loaded from a file written by `mtlkit train`.
#[pyclass(name = "DeepModel", module = "mtlkit._core", unsendable)]
pub struct DeepModel {
    inner: SavedModel,
}

#[pymethods]
impl DeepModel {
    /// Load a saved model.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        Ok(Self {
            inner: SavedModel::load(&path).map_err(deep_err)?,
        })
    }

    /// The metadata as JSON (architecture, tasks, feature names, standardisation, run info).
    fn metadata_json(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.meta()).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Task names, in head order.
    fn task_names(&self) -> Vec<String> {
        self.inner
            .meta()
            .tasks
            .iter()
            .map(|t| t.name.clone())
            .collect()
    }

    /// Input feature names, in column order.
    fn feature_names(&self) -> Vec<String> {
        self.inner.meta().feature_names.clone()
    }

    /// Per task: outputs for the rows of `x` (`float32`, `n × n_features`, raw features in
    /// `feature_names` order): values or probabilities (`raw=False`), values or logits
    /// (`raw=True`), each `n × output_width`.
    #[pyo3(signature = (x, raw=false))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        raw: bool,
    ) -> PyResult<Vec<Bound<'py, PyArray2<f32>>>> {
        let xv = x.as_array();
        let out = if raw {
            self.inner.predict_raw(xv)
        } else {
            self.inner.predict(xv)
        }
        .map_err(deep_err)?;
        Ok(out.into_iter().map(|a| a.into_pyarray(py)).collect())
    }
}
