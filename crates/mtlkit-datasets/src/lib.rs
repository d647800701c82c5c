//! # mtlkit-datasets
//!
//! Data bundled with mtlkit, embedded in the binary so examples and `mtlkit demo` run anywhere.
//!
//! - [`parkinsons`]: UCI Parkinson's Telemonitoring (Tsanas et al. 2009, CC BY 4.0; see
//!   `data/ATTRIBUTION.md`): 5875 recordings of 42 patients, 19 features, two targets
//!   (`motor_UPDRS`, `total_UPDRS`).
//!
//! ```
//! let p = mtlkit_datasets::parkinsons()?;
//! assert_eq!(p.features.dim(), (5875, 19));
//! let data = p.to_shared_dataset()?;
//! assert_eq!(data.task_names(), ["motor_UPDRS", "total_UPDRS"]);
//! # Ok::<(), mtlkit_datasets::DatasetError>(())
//! ```

use mtlkit_core::MultiTaskDataset;
use ndarray::Array2;

/// The raw Parkinson's telemonitoring CSV (with header).
pub const PARKINSONS_CSV: &str = include_str!("../data/parkinsons_updrs.data");

/// Errors while parsing bundled or user data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// A CSV record could not be read.
    #[error("CSV line {line}: {source}")]
    Csv {
        /// 1-based line.
        line: u64,
        /// Underlying error.
        #[source]
        source: csv::Error,
    },
    /// A field is not a number.
    #[error("CSV line {line}, column '{column}': '{value}' is not a number")]
    NotANumber {
        /// 1-based line.
        line: u64,
        /// Column name.
        column: String,
        /// The text found.
        value: String,
    },
    /// A required column is absent.
    #[error("column '{0}' is missing")]
    MissingColumn(String),
    /// The data model rejected the data.
    #[error(transparent)]
    Core(#[from] mtlkit_core::Error),
}

/// The Parkinson's telemonitoring data, parsed.
#[derive(Debug, Clone)]
pub struct Parkinsons {
    /// Patient id (1..=42) of each recording.
    pub subject: Vec<u32>,
    /// Features, `5875 × 19`: `age`, `sex`, `test_time` and 16 voice measures.
    pub features: Array2<f64>,
    /// Names of the feature columns.
    pub feature_names: Vec<String>,
    /// Targets, `5875 × 2`: `motor_UPDRS`, `total_UPDRS`.
    pub targets: Array2<f64>,
    /// Names of the target columns.
    pub target_names: Vec<String>,
}

impl Parkinsons {
    /// The two UPDRS scores as two tasks over one shared design.
    ///
    /// # Errors
    /// Never for the bundled data; the data model's checks otherwise.
    pub fn to_shared_dataset(&self) -> Result<MultiTaskDataset, DatasetError> {
        Ok(
            MultiTaskDataset::shared(self.features.clone(), self.targets.clone())?
                .with_task_names(self.target_names.clone())?
                .with_feature_names(self.feature_names.clone())?,
        )
    }
}

/// Parse the bundled Parkinson's telemonitoring data.
///
/// # Errors
/// Never for the bundled file (the error type is shared with user CSV parsing).
pub fn parkinsons() -> Result<Parkinsons, DatasetError> {
    let mut rdr = csv::Reader::from_reader(PARKINSONS_CSV.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|source| DatasetError::Csv { line: 1, source })?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DatasetError::MissingColumn(name.to_string()))
    };
    let subject_col = col("subject#")?;
    let target_names = vec!["motor_UPDRS".to_string(), "total_UPDRS".to_string()];
    let target_cols = [col("motor_UPDRS")?, col("total_UPDRS")?];
    let feature_cols: Vec<usize> = (0..headers.len())
        .filter(|c| *c != subject_col && !target_cols.contains(c))
        .collect();
    let mut subject = Vec::new();
    let mut feats = Vec::new();
    let mut targets = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|source| DatasetError::Csv { line, source })?;
        let num = |c: usize| -> Result<f64, DatasetError> {
            let s = rec.get(c).unwrap_or("");
            s.trim()
                .parse::<f64>()
                .map_err(|_| DatasetError::NotANumber {
                    line,
                    column: headers[c].clone(),
                    value: s.to_string(),
                })
        };
        subject.push(num(subject_col)? as u32);
        for &c in &feature_cols {
            feats.push(num(c)?);
        }
        for &c in &target_cols {
            targets.push(num(c)?);
        }
    }
    let n = subject.len();
    let shape_err = |_| DatasetError::MissingColumn("consistent row lengths".into());
    Ok(Parkinsons {
        subject,
        features: Array2::from_shape_vec((n, feature_cols.len()), feats).map_err(shape_err)?,
        feature_names: feature_cols.iter().map(|&c| headers[c].clone()).collect(),
        targets: Array2::from_shape_vec((n, 2), targets).map_err(shape_err)?,
        target_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parkinsons_matches_its_description() {
        let p = parkinsons().unwrap();
        assert_eq!(p.subject.len(), 5875);
        assert_eq!(p.features.ncols(), 19);
        assert_eq!(p.feature_names[0], "age");
        assert_eq!(*p.subject.iter().max().unwrap(), 42);
        // 101..168 recordings per patient (UCI's description)
        let mut counts = [0usize; 43];
        p.subject.iter().for_each(|&s| counts[s as usize] += 1);
        assert_eq!(counts[1..].iter().min(), Some(&101));
        assert_eq!(counts[1..].iter().max(), Some(&168));
        assert!((p.targets[[0, 0]] - 28.199).abs() < 1e-12);
        assert!((p.targets[[0, 1]] - 34.398).abs() < 1e-12);
    }
}
