//! Saved models: one safetensors file holding the weights and, under the metadata key
//! `mtlkit`, a JSON document ([`ModelMeta`]) with everything needed to rebuild the model — the
//! architecture, the tasks, the feature names and the input standardisation. Files are written
//! atomically (a failed write leaves no partial file).

use std::path::Path;

use burn::module::Module;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::{DeepError, Result};
use crate::model::{ArchConfig, DeepModel};
use crate::task::TaskSpec;

/// Format name in the metadata.
pub const FORMAT: &str = "mtlkit-deep";
/// Format version written by this build (and the highest it reads).
pub const VERSION: u32 = 1;

/// Per-feature standardisation `x' = (x − mean) / scale` fitted on the training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Means.
    pub mean: Vec<f64>,
    /// Scales (standard deviations; 1 for constant features).
    pub scale: Vec<f64>,
}

impl Standardizer {
    /// Fit on the rows of `x` (constant columns get scale 1).
    pub fn fit(x: ndarray::ArrayView2<'_, f32>) -> Self {
        let n = x.nrows().max(1) as f64;
        let mut mean = vec![0.0; x.ncols()];
        let mut scale = vec![0.0; x.ncols()];
        for (j, col) in x.columns().into_iter().enumerate() {
            let m = col.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = col.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / n;
            mean[j] = m;
            scale[j] = if var > 1e-24 { var.sqrt() } else { 1.0 };
        }
        Self { mean, scale }
    }

    /// Apply in place.
    pub fn apply(&self, x: &mut ndarray::Array2<f32>) {
        for (j, mut col) in x.columns_mut().into_iter().enumerate() {
            let (m, s) = (self.mean[j], self.scale[j]);
            #[allow(clippy::cast_possible_truncation)]
            col.mapv_inplace(|v| ((f64::from(v) - m) / s) as f32);
        }
    }
}

/// What a saved model records besides its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version.
    pub version: u32,
    /// The architecture.
    pub architecture: ArchConfig,
    /// The tasks, in head order.
    pub tasks: Vec<TaskSpec>,
    /// Input feature names (their number is the input width).
    pub feature_names: Vec<String>,
    /// Input standardisation, if the model was trained on standardised inputs.
    pub standardizer: Option<Standardizer>,
    /// Free-form training information (seed, best epoch, validation metrics, …).
    #[serde(default)]
    pub info: serde_json::Value,
}

impl ModelMeta {
    /// Check the metadata is complete and consistent.
    ///
    /// # Errors
    /// A foreign format, a newer version, invalid tasks or architecture, a standardiser of the
    /// wrong width.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| DeepError::Config(m);
        if self.format != FORMAT {
            return Err(bad(format!(
                "not an mtlkit deep model (format '{}')",
                self.format
            )));
        }
        if self.version > VERSION {
            return Err(bad(format!(
                "model format version {} is newer than this build reads ({VERSION})",
                self.version
            )));
        }
        crate::task::validate_specs(&self.tasks)?;
        self.architecture.validate()?;
        self.architecture.check_inputs(self.feature_names.len())?;
        if self.feature_names.is_empty() {
            return Err(bad("the model has no input features".into()));
        }
        if let Some(s) = &self.standardizer
            && (s.mean.len() != self.feature_names.len()
                || s.scale.len() != self.feature_names.len())
        {
            return Err(bad("the standardiser does not match the features".into()));
        }
        if let Some(s) = &self.standardizer
            && (s.mean.iter().any(|m| !m.is_finite())
                || s.scale.iter().any(|v| !(v.is_finite() && *v > 0.0)))
        {
            return Err(bad(
                "the standardiser needs finite means and positive finite scales".into(),
            ));
        }
        Ok(())
    }

    /// Build an untrained model of this shape.
    pub fn build(&self, device: &Device) -> DeepModel {
        let out: Vec<usize> = self.tasks.iter().map(|t| t.kind.output_dim()).collect();
        crate::seeded(device, 0, |d| {
            self.architecture.build(self.feature_names.len(), &out, d)
        })
    }
}

fn file_err(path: &Path, message: impl Into<String>) -> DeepError {
    DeepError::ModelFile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Save `model` with its metadata to `path` (a `.safetensors` file), atomically.
///
/// # Errors
/// Invalid metadata, encoding or IO errors.
pub fn save_model(path: &Path, model: &DeepModel, meta: &ModelMeta) -> Result<()> {
    meta.validate()?;
    let json = serde_json::to_string(meta).map_err(|e| file_err(path, e.to_string()))?;
    let mut store = SafetensorsStore::from_bytes(None).metadata("mtlkit", json);
    model
        .save_into(&mut store)
        .map_err(|e| file_err(path, format!("cannot encode the weights: {e}")))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| file_err(path, format!("cannot encode the weights: {e}")))?;
    mtlkit_core::io::atomic_write(path, &bytes)?;
    Ok(())
}

/// Read only the metadata of a saved model.
///
/// # Errors
/// Unreadable, corrupt or foreign files.
pub fn read_meta(path: &Path) -> Result<ModelMeta> {
    let bytes = std::fs::read(path).map_err(|source| DeepError::Io {
        operation: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    meta_of(path, &bytes)
}

fn meta_of(path: &Path, bytes: &[u8]) -> Result<ModelMeta> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| file_err(path, format!("not a safetensors file ({e})")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("mtlkit"))
        .ok_or_else(|| file_err(path, "no mtlkit metadata: not an mtlkit deep model"))?;
    let meta: ModelMeta = serde_json::from_str(json).map_err(|e| {
        // a linear model (the same container, its own metadata) is not a corrupt deep one
        let linear = serde_json::from_str::<serde_json::Value>(json)
            .is_ok_and(|v| v.get("format").and_then(|f| f.as_str()) == Some("mtlkit-model"));
        if linear {
            file_err(
                path,
                "a linear mtlkit model, not a deep one: use `mtlkit predict` (Python: \
                 mtlkit.load_model)",
            )
        } else {
            file_err(path, format!("corrupt mtlkit metadata ({e})"))
        }
    })?;
    meta.validate().map_err(|e| file_err(path, e.to_string()))?;
    Ok(meta)
}

/// Load a saved model onto `device` (a plain device for prediction, or an autodiff one to
/// continue training).
///
/// # Errors
/// Unreadable, corrupt or foreign files; weights that do not fit the recorded architecture.
pub fn load_model(path: &Path, device: &Device) -> Result<(DeepModel, ModelMeta)> {
    let bytes = std::fs::read(path).map_err(|source| DeepError::Io {
        operation: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    let meta = meta_of(path, &bytes)?;
    let mut model = meta.build(device);
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let applied = model
        .load_from(&mut store)
        .map_err(|e| file_err(path, format!("cannot read the weights ({e})")))?;
    if !applied.missing.is_empty() || !applied.errors.is_empty() {
        return Err(file_err(
            path,
            format!(
                "the weights do not fit the recorded architecture (missing {:?}, errors {:?})",
                applied.missing, applied.errors
            ),
        ));
    }
    let model = model.fork(device);
    Ok((model, meta))
}

/// A saved model loaded for prediction (from Rust; the CLI's `mtlkit evaluate` and Python's
/// `mtlkit.deep.load` use it too): inputs are raw feature rows in the order of
/// [`ModelMeta::feature_names`]; the recorded standardisation is applied here.
///
/// ```no_run
/// use mtlkit_deep::persist::SavedModel;
/// let m = SavedModel::load(std::path::Path::new("runs/x/model.safetensors"))?;
/// let x = ndarray::Array2::<f32>::zeros((4, m.meta().feature_names.len()));
/// let per_task = m.predict(x.view())?; // values, or class probabilities
/// # Ok::<(), mtlkit_deep::DeepError>(())
/// ```
pub struct SavedModel {
    model: DeepModel,
    meta: ModelMeta,
    device: Device,
}

impl SavedModel {
    /// Load `path` on burn's CPU backend.
    ///
    /// # Errors
    /// As [`load_model`].
    pub fn load(path: &Path) -> Result<Self> {
        let device = Device::flex();
        let (model, meta) = load_model(path, &device)?;
        Ok(Self {
            model,
            meta,
            device,
        })
    }

    /// The metadata (architecture, tasks, feature names, standardisation).
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// The model.
    pub fn model(&self) -> &DeepModel {
        &self.model
    }

    /// Raw outputs for the rows of `x`, per task `n × output_dim` (values for regression,
    /// logits otherwise).
    ///
    /// # Errors
    /// A column count other than the model's features, non-finite inputs.
    pub fn predict_raw(
        &self,
        x: ndarray::ArrayView2<'_, f32>,
    ) -> Result<Vec<ndarray::Array2<f32>>> {
        use crate::arch::MultiTaskModel;
        let d = self.meta.feature_names.len();
        if x.ncols() != d {
            return Err(DeepError::Input(format!(
                "the model reads {d} features ({}), the input has {} columns",
                self.meta.feature_names.join(", "),
                x.ncols()
            )));
        }
        if let Some((i, j)) = x
            .indexed_iter()
            .find(|(_, v)| !v.is_finite())
            .map(|(ij, _)| ij)
        {
            return Err(DeepError::Input(format!(
                "row {i}, feature '{}': inputs must be finite",
                self.meta.feature_names[j]
            )));
        }
        let t_n = self.meta.tasks.len();
        let mut outs: Vec<Vec<f32>> = vec![Vec::new(); t_n];
        let mut widths: Vec<usize> = self
            .meta
            .tasks
            .iter()
            .map(|t| t.kind.output_dim())
            .collect();
        const CHUNK: usize = 4096;
        for start in (0..x.nrows()).step_by(CHUNK) {
            let end = (start + CHUNK).min(x.nrows());
            let mut xc = x.slice(ndarray::s![start..end, ..]).to_owned();
            if let Some(s) = &self.meta.standardizer {
                s.apply(&mut xc);
            }
            let rows = vec![Some(0..end - start); t_n];
            let xt = crate::loss::tensor2(&xc, &self.device);
            for (t, o) in self.model.forward(xt, &rows).into_iter().enumerate() {
                if let Some(o) = o {
                    widths[t] = o.dims()[1];
                    let v = o
                        .into_data()
                        .convert::<f32>()
                        .try_to_vec::<f32>()
                        .map_err(|e| DeepError::Training(format!("{e:?}")))?;
                    outs[t].extend(v);
                }
            }
        }
        outs.into_iter()
            .zip(widths)
            .map(|(v, w)| {
                ndarray::Array2::from_shape_vec((x.nrows(), w), v)
                    .map_err(|e| DeepError::Training(e.to_string()))
            })
            .collect()
    }

    /// Predictions for the rows of `x`, per task: values (regression), probabilities of the
    /// positive class (binary, and per label for multilabel; the logistic of the logit), class
    /// probabilities (multiclass; the softmax of the logits).
    ///
    /// # Errors
    /// As [`predict_raw`](Self::predict_raw).
    pub fn predict(&self, x: ndarray::ArrayView2<'_, f32>) -> Result<Vec<ndarray::Array2<f32>>> {
        use crate::task::TaskKind;
        let mut raw = self.predict_raw(x)?;
        for (out, task) in raw.iter_mut().zip(&self.meta.tasks) {
            match task.kind {
                TaskKind::Regression => {}
                TaskKind::Binary | TaskKind::Multilabel { .. } => {
                    out.mapv_inplace(|z| 1.0 / (1.0 + (-z).exp()));
                }
                TaskKind::Multiclass { .. } => {
                    for mut row in out.rows_mut() {
                        let mx = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                        row.mapv_inplace(|z| (z - mx).exp());
                        let s = row.sum();
                        row.mapv_inplace(|z| z / s);
                    }
                }
            }
        }
        Ok(raw)
    }
}
