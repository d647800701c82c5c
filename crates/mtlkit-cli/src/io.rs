//! Reading and writing user files: `.npy`, `.csv` (with a header) and `.npz`. Every write goes
//! through [`mtlkit_core::io::atomic_write`], so a failed write leaves no partial file.

use std::io::Cursor;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use ndarray::{Array0, Array1, Array2};
use ndarray_npy::{NpzWriter, ReadNpyExt, WriteNpyExt};

/// File kinds by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// NumPy `.npy`.
    Npy,
    /// CSV with a header row.
    Csv,
}

/// The kind of `path`, from its extension.
pub fn kind(path: &Path) -> Result<Kind> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("npy") => Ok(Kind::Npy),
        Some("csv") => Ok(Kind::Csv),
        _ => bail!(
            "'{}': unsupported file type (use .npy or .csv)",
            path.display()
        ),
    }
}

/// A table read from a file: values and, for CSV, the column names.
pub struct Table {
    /// Values, rows × columns.
    pub values: Array2<f64>,
    /// Column names (CSV header), if any.
    pub columns: Option<Vec<String>>,
}

/// Read a 2-D table (a 1-D `.npy` becomes one column).
pub fn read_table(path: &Path) -> Result<Table> {
    match kind(path)? {
        Kind::Npy => Ok(Table {
            values: read_npy(path)?,
            columns: None,
        }),
        Kind::Csv => {
            let (columns, values) = read_csv(path)?;
            Ok(Table {
                values,
                columns: Some(columns),
            })
        }
    }
}

fn read_npy(path: &Path) -> Result<Array2<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading '{}'", path.display()))?;
    let ctx = || {
        format!(
            "'{}' is not a 1-D or 2-D numeric .npy array",
            path.display()
        )
    };
    macro_rules! try_dtype {
        ($t:ty) => {
            if let Ok(a) = Array2::<$t>::read_npy(Cursor::new(&bytes)) {
                return Ok(a.mapv(|v| v as f64));
            }
            if let Ok(a) = Array1::<$t>::read_npy(Cursor::new(&bytes)) {
                let n = a.len();
                return Ok(a.mapv(|v| v as f64).into_shape_with_order((n, 1))?);
            }
        };
    }
    try_dtype!(f64);
    try_dtype!(f32);
    try_dtype!(i64);
    try_dtype!(i32);
    // Report the real reason for the common dtype.
    let err = Array2::<f64>::read_npy(Cursor::new(&bytes))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    Err(anyhow!("{err}")).with_context(ctx)
}

/// Read a CSV with a header; every field must be a number.
pub fn read_csv(path: &Path) -> Result<(Vec<String>, Array2<f64>)> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("reading '{}'", path.display()))?;
    let header: Vec<String> = rdr
        .headers()
        .with_context(|| format!("'{}': reading the header", path.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        bail!("'{}': empty file or header", path.display());
    }
    let mut vals = Vec::new();
    let mut rows = 0usize;
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("'{}' line {line}", path.display()))?;
        for (c, field) in rec.iter().enumerate() {
            let v: f64 = field.parse().map_err(|_| {
                anyhow!(
                    "'{}' line {line}, column '{}': '{field}' is not a number",
                    path.display(),
                    header[c]
                )
            })?;
            vals.push(v);
        }
        rows += 1;
    }
    if rows == 0 {
        bail!("'{}': no data rows", path.display());
    }
    Ok((
        header.clone(),
        Array2::from_shape_vec((rows, header.len()), vals)?,
    ))
}

/// Write a matrix as `.npy` or as `.csv` with `header`.
pub fn write_table(path: &Path, values: &Array2<f64>, header: &[String]) -> Result<()> {
    let bytes = match kind(path)? {
        Kind::Npy => {
            let mut buf = Vec::new();
            values.write_npy(&mut buf)?;
            buf
        }
        Kind::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(header)?;
            for row in values.rows() {
                w.write_record(row.iter().map(|v| format!("{v:?}")))?;
            }
            w.into_inner().map_err(|e| anyhow!("{e}"))?
        }
    };
    mtlkit_core::io::atomic_write(path, &bytes)?;
    Ok(())
}

/// An array to put in an `.npz`.
pub enum NpzEntry<'a> {
    /// A 2-D float64 array.
    Matrix(&'a Array2<f64>),
    /// A 1-D float64 array.
    Vector(&'a Array1<f64>),
    /// A float64 scalar.
    Float(f64),
    /// An int64 scalar.
    Int(i64),
}

/// Write an uncompressed `.npz` (as `np.savez`) atomically.
pub fn write_npz(path: &Path, entries: &[(&str, NpzEntry<'_>)]) -> Result<()> {
    let mut z = NpzWriter::new(Cursor::new(Vec::new()));
    for (name, e) in entries {
        match e {
            NpzEntry::Matrix(a) => z.add_array(*name, *a)?,
            NpzEntry::Vector(a) => z.add_array(*name, *a)?,
            NpzEntry::Float(v) => z.add_array(*name, &Array0::from_elem((), *v))?,
            NpzEntry::Int(v) => z.add_array(*name, &Array0::from_elem((), *v))?,
        }
    }
    let bytes = z.finish()?.into_inner();
    mtlkit_core::io::atomic_write(path, &bytes)?;
    Ok(())
}
