//! Model files: safetensors with JSON metadata, written atomically, validated on load.
//!
//! Layout: tensors `coef` (`F64`, `[n_features, n_tasks]`) and `intercept` (`F64`, `[n_tasks]`);
//! the safetensors header's metadata map holds one key, `mtlkit`, whose value is a JSON object:
//!
//! ```json
//! {"format": "mtlkit-model", "format_version": 1, "kind": "linear-multitask",
//!  "hyperparameters": {...}, "task_names": [...], "feature_names": [...],
//!  "fit_info": {"n_iter": 12, "dual_gap": 1e-9, "converged": true}}
//! ```
//!
//! Loading checks that the file parses, carries that metadata, has a supported version, and that
//! tensor shapes, dtypes and name counts agree and all values are finite; anything else is a
//! typed [`LinearError`], never a panic.

use std::collections::HashMap;
use std::path::Path;

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::estimator::{FitInfo, Hyperparameters, MultiTaskLinearModel};
use crate::{LinearError, Loss, Result};

/// The model file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT: &str = "mtlkit-model";
const KIND: &str = "linear-multitask";
const META_KEY: &str = "mtlkit";

#[derive(Serialize, Deserialize)]
struct Metadata {
    format: String,
    format_version: u32,
    kind: String,
    hyperparameters: Hyperparameters,
    task_names: Vec<String>,
    feature_names: Vec<String>,
    fit_info: FitInfo,
    /// Loss per task (absent in older files: all squared).
    #[serde(default)]
    losses: Vec<Loss>,
    /// Class labels per task (absent in older files: none).
    #[serde(default)]
    classes: Vec<Option<[f64; 2]>>,
    /// Structured models: their regularizers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    structure: Option<serde_json::Value>,
    /// The original class labels (per task `[neg, pos]` or `null`) where they are not numbers,
    /// as the Python estimators write them; kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    class_labels: Option<serde_json::Value>,
}

fn f64_bytes(v: impl Iterator<Item = f64>) -> Vec<u8> {
    v.flat_map(f64::to_le_bytes).collect()
}

impl MultiTaskLinearModel {
    /// Serialize to safetensors bytes.
    ///
    /// # Errors
    /// [`LinearError::InvalidModel`] if serialization fails (not expected for a fitted model).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bad = |reason: String| LinearError::InvalidModel { path: None, reason };
        let meta = self.metadata_json()?;
        let (d, t) = self.coef.dim();
        let coef = f64_bytes(self.coef.iter().copied());
        let intercept = f64_bytes(self.intercept.iter().copied());
        let tensors = [
            (
                "coef",
                TensorView::new(Dtype::F64, vec![d, t], &coef).map_err(|e| bad(e.to_string()))?,
            ),
            (
                "intercept",
                TensorView::new(Dtype::F64, vec![t], &intercept).map_err(|e| bad(e.to_string()))?,
            ),
        ];
        let info = Some(HashMap::from([(META_KEY.to_string(), meta)]));
        safetensors::serialize(tensors, info).map_err(|e| bad(e.to_string()))
    }

    /// The model's metadata (everything but `coef` and `intercept`) as the JSON object stored in
    /// model files (see the module docs).
    ///
    /// # Errors
    /// [`LinearError::InvalidModel`] if serialization fails (not expected).
    pub fn metadata_json(&self) -> Result<String> {
        let meta = Metadata {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            kind: KIND.into(),
            hyperparameters: self.hyperparameters,
            task_names: self.task_names.to_vec(),
            feature_names: self.feature_names.to_vec(),
            fit_info: self.info,
            losses: self.losses.clone(),
            classes: self.classes.clone(),
            structure: self.structure.clone(),
            class_labels: self.class_labels.clone(),
        };
        serde_json::to_string(&meta).map_err(|e| LinearError::InvalidModel {
            path: None,
            reason: e.to_string(),
        })
    }

    /// A model from its coefficients (`n_features × n_tasks`), intercepts and the metadata JSON
    /// of [`metadata_json`](Self::metadata_json), validated as a model file is on load (how
    /// the Python estimators write files the CLI reads).
    ///
    /// # Errors
    /// [`LinearError::InvalidModel`], [`LinearError::ForeignModel`] or
    /// [`LinearError::UnsupportedVersion`] as [`from_bytes`](Self::from_bytes).
    pub fn from_parts(
        coef: Array2<f64>,
        intercept: Array1<f64>,
        metadata_json: &str,
    ) -> Result<Self> {
        let invalid = |reason: String| LinearError::InvalidModel { path: None, reason };
        let shape_of = |name: &str, found: &[usize], expected: &[usize]| {
            invalid(format!(
                "'{name}' has shape {found:?}, but the metadata implies {expected:?}"
            ))
        };
        let mut m = Self::parse_metadata(metadata_json)?;
        let (d, t) = (m.feature_names.len(), m.task_names.len());
        if coef.dim() != (d, t) {
            return Err(shape_of("coef", coef.shape(), &[d, t]));
        }
        if intercept.len() != t {
            return Err(shape_of("intercept", intercept.shape(), &[t]));
        }
        if coef.iter().chain(&intercept).any(|v| !v.is_finite()) {
            return Err(invalid("coef or intercept has a non-finite value".into()));
        }
        m.coef = coef;
        m.intercept = intercept;
        Ok(m)
    }

    /// Save to `path` atomically (temporary file + rename): a failed write leaves no partial file.
    ///
    /// # Errors
    /// [`mtlkit_core::Error::Io`] naming the path.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        mtlkit_core::io::atomic_write(path, &bytes)?;
        Ok(())
    }

    /// Load a model written by [`save`](Self::save).
    ///
    /// # Errors
    /// [`mtlkit_core::Error::Io`] if unreadable; [`LinearError::InvalidModel`] if corrupt;
    /// [`LinearError::ForeignModel`] if not an mtlkit model; [`LinearError::UnsupportedVersion`].
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| mtlkit_core::Error::Io {
            operation: "reading",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            LinearError::InvalidModel { reason, .. } => LinearError::InvalidModel {
                path: Some(path.to_path_buf()),
                reason,
            },
            LinearError::ForeignModel { reason, .. } => LinearError::ForeignModel {
                path: Some(path.to_path_buf()),
                reason,
            },
            other => other,
        })
    }

    /// Parse and validate safetensors bytes.
    ///
    /// # Errors
    /// As [`load`](Self::load), without the IO error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let invalid = |reason: String| LinearError::InvalidModel { path: None, reason };
        let foreign = |reason: &str| LinearError::ForeignModel {
            path: None,
            reason: reason.to_string(),
        };
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| invalid(format!("not a readable safetensors file ({e})")))?;
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| invalid(format!("not a readable safetensors file ({e})")))?;
        let raw = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| foreign("no 'mtlkit' metadata in the header"))?;
        let mut m = Self::parse_metadata(raw)?;
        let (d, t) = (m.feature_names.len(), m.task_names.len());
        let coef = read_f64(&st, "coef", &[d, t]).map_err(invalid)?;
        let intercept = read_f64(&st, "intercept", &[t]).map_err(invalid)?;
        m.coef = Array2::from_shape_vec((d, t), coef).map_err(|e| invalid(e.to_string()))?;
        m.intercept = Array1::from(intercept);
        Ok(m)
    }

    /// Parse and validate the metadata JSON; `coef` and `intercept` are left zero.
    fn parse_metadata(raw: &str) -> Result<Self> {
        let invalid = |reason: String| LinearError::InvalidModel { path: None, reason };
        let foreign = |reason: &str| LinearError::ForeignModel {
            path: None,
            reason: reason.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| invalid(format!("metadata is not JSON ({e})")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(foreign("metadata 'format' is not 'mtlkit-model'"));
        }
        let version = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if version != u64::from(FORMAT_VERSION) {
            return Err(LinearError::UnsupportedVersion {
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        let meta: Metadata =
            serde_json::from_value(value).map_err(|e| invalid(format!("metadata fields: {e}")))?;
        if meta.kind != KIND {
            return Err(foreign("metadata 'kind' is not a linear multi-task model"));
        }
        let (d, t) = (meta.feature_names.len(), meta.task_names.len());
        if d == 0 || t == 0 {
            return Err(invalid("no features or no tasks".into()));
        }
        let losses = if meta.losses.is_empty() {
            vec![Loss::Squared; t]
        } else {
            meta.losses
        };
        let classes = if meta.classes.is_empty() {
            vec![None; t]
        } else {
            meta.classes
        };
        if losses.len() != t || classes.len() != t {
            return Err(invalid("losses or classes do not match the tasks".into()));
        }
        for (loss, cls) in losses.iter().zip(&classes) {
            let ok = match (loss, cls) {
                (Loss::Squared, None) => true,
                (Loss::Logistic, Some([a, b])) => a.is_finite() && b.is_finite() && a != b,
                _ => false,
            };
            if !ok {
                return Err(invalid("a task's classes do not match its loss".into()));
            }
        }
        Ok(Self {
            coef: Array2::zeros((d, t)),
            intercept: Array1::zeros(t),
            task_names: meta.task_names.into(),
            feature_names: meta.feature_names.into(),
            hyperparameters: meta.hyperparameters,
            info: meta.fit_info,
            losses,
            classes,
            structure: meta.structure,
            class_labels: meta.class_labels,
        })
    }
}

fn read_f64(
    st: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
) -> std::result::Result<Vec<f64>, String> {
    let tv = st
        .tensor(name)
        .map_err(|_| format!("tensor '{name}' is missing"))?;
    if tv.dtype() != Dtype::F64 {
        return Err(format!(
            "tensor '{name}' has dtype {:?}, expected F64",
            tv.dtype()
        ));
    }
    if tv.shape() != shape {
        return Err(format!(
            "tensor '{name}' has shape {:?}, but the metadata implies {shape:?}",
            tv.shape()
        ));
    }
    let v: Vec<f64> = tv
        .data()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "tensor '{name}' has a non-finite value at flat index {i}"
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MultiTaskLasso;
    use mtlkit_core::{Fit, MultiTaskDataset};
    use ndarray::array;

    fn model() -> MultiTaskLinearModel {
        let x = array![
            [1.0, 0.0, 2.0],
            [0.0, 1.0, 1.0],
            [2.0, 2.0, 0.0],
            [1.0, 3.0, 1.0]
        ];
        let y = array![[1.0, 0.5], [0.0, 1.0], [2.0, 2.5], [1.5, 3.0]];
        let data = MultiTaskDataset::shared(x, y)
            .unwrap()
            .with_task_names(["a", "b"])
            .unwrap()
            .with_feature_names(["f0", "f1", "f2"])
            .unwrap();
        MultiTaskLasso::new(0.05).fit(&data).unwrap()
    }

    #[test]
    fn roundtrip_is_exact() {
        let m = model();
        let back = MultiTaskLinearModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn a_nan_dual_gap_survives_the_file() {
        // JSON has no NaN: written as null, read back as NaN (not a corrupt-file error)
        let mut m = model();
        m.info.dual_gap = f64::NAN;
        let back = MultiTaskLinearModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert!(back.info().dual_gap.is_nan());
        assert_eq!(back.coef(), m.coef());
    }

    #[test]
    fn every_truncation_and_byte_flip_is_an_error_not_a_panic() {
        let bytes = model().to_bytes().unwrap();
        for len in 0..bytes.len() {
            assert!(
                MultiTaskLinearModel::from_bytes(&bytes[..len]).is_err(),
                "prefix {len}"
            );
        }
        // flipping a byte either still parses (a changed value) or is a typed error
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            let _ = MultiTaskLinearModel::from_bytes(&b);
        }
    }

    #[test]
    fn foreign_and_newer_files_are_recognised() {
        let data = 1.0f64.to_le_bytes().to_vec();
        let tv = TensorView::new(Dtype::F64, vec![1], &data).unwrap();
        let plain = safetensors::serialize([("w", tv.clone())], None).unwrap();
        assert!(matches!(
            MultiTaskLinearModel::from_bytes(&plain),
            Err(LinearError::ForeignModel { .. })
        ));
        let meta = serde_json::json!({"format": "mtlkit-model", "format_version": 99}).to_string();
        let newer = safetensors::serialize(
            [("w", tv)],
            Some(HashMap::from([(META_KEY.to_string(), meta)])),
        )
        .unwrap();
        assert!(matches!(
            MultiTaskLinearModel::from_bytes(&newer),
            Err(LinearError::UnsupportedVersion { found: 99, .. })
        ));
    }

    #[test]
    fn names_and_shapes_must_agree() {
        let mut m = model();
        let mut names = m.feature_names.to_vec();
        names.push("extra".into());
        m.feature_names = names.into();
        let bytes = m.to_bytes().unwrap();
        let e = MultiTaskLinearModel::from_bytes(&bytes).unwrap_err();
        assert!(e.to_string().contains("shape"), "{e}");
    }
}
