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
    /// CSV with a header row (optionally gzip-compressed, `.csv.gz`).
    Csv,
}

/// The kind of `path`, from its extension.
pub fn kind(path: &Path) -> Result<Kind> {
    if is_gz_csv(path) {
        return Ok(Kind::Csv);
    }
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("npy") => Ok(Kind::Npy),
        Some("csv") => Ok(Kind::Csv),
        _ => bail!(
            "'{}': unsupported file type (use .npy, .csv or .csv.gz)",
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

/// A 2-D float32 `.npy` as `f32` (`None` for any other file or dtype).
pub fn read_npy_f32(path: &Path) -> Result<Option<Array2<f32>>> {
    if kind(path)? != Kind::Npy {
        return Ok(None);
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading '{}'", path.display()))?;
    check_npy_size(path, &bytes)?;
    Ok(Array2::<f32>::read_npy(Cursor::new(&bytes)).ok())
}

/// The shape an `.npy` header claims, checked against the bytes the file holds before any
/// array is allocated (a small file claiming billions of elements is an error, not an
/// allocation of that size). Headers this cannot parse are left to the reader's own errors.
fn check_npy_size(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Ok(());
    }
    let (len, start): (usize, usize) = if bytes[6] == 1 {
        (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10)
    } else if bytes.len() >= 12 {
        let l = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        (usize::try_from(l).unwrap_or(usize::MAX), 12)
    } else {
        return Ok(());
    };
    let Some(header) = bytes
        .get(start..start.saturating_add(len))
        .and_then(|h| std::str::from_utf8(h).ok())
    else {
        return Ok(());
    };
    let item = header
        .split("'descr':")
        .nth(1)
        .and_then(|d| d.split('\'').nth(1))
        .and_then(|d| d.trim_start_matches(['<', '>', '|', '=']).get(1..))
        .and_then(|n| n.parse::<u128>().ok())
        .unwrap_or(1)
        .max(1);
    let Some(shape) = header
        .split("'shape':")
        .nth(1)
        .and_then(|r| r.split('(').nth(1))
        .and_then(|r| r.split(')').next())
    else {
        return Ok(());
    };
    let mut elements: u128 = 1;
    for dim in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let Ok(v) = dim.parse::<u128>() else {
            return Ok(());
        };
        elements = elements.saturating_mul(v);
    }
    let have = (bytes.len() - (start + len).min(bytes.len())) as u128;
    if elements.saturating_mul(item) > have {
        bail!(
            "'{}': the .npy header claims shape ({shape}) of {item}-byte values, more than the {have} bytes of data the file holds (truncated or corrupt file)",
            path.display()
        );
    }
    Ok(())
}

fn read_npy(path: &Path) -> Result<Array2<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading '{}'", path.display()))?;
    check_npy_size(path, &bytes)?;
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

fn is_gz_csv(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv.gz"))
}

/// A CSV reader over a plain or gzip-compressed (`.csv.gz`) file.
fn csv_reader(path: &Path) -> Result<csv::Reader<Box<dyn std::io::Read>>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("reading '{}'", path.display()))?;
    let inner: Box<dyn std::io::Read> = if is_gz_csv(path) {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    Ok(csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(inner))
}

/// A field as a number: empty, `NA`, `nan` (any case) are missing (NaN).
fn parse_field(field: &str) -> Option<f64> {
    if field.is_empty() || field.eq_ignore_ascii_case("na") || field.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    field.parse().ok()
}

/// Read a CSV with a header (plain or `.csv.gz`); every field must be a number or missing
/// (empty, `NA`, `nan`: NaN, accepted as a missing target and rejected in features).
pub fn read_csv(path: &Path) -> Result<(Vec<String>, Array2<f64>)> {
    let (header, _, values) = read_csv_keyed(path, None)?;
    Ok((header, values))
}

/// Read a CSV whose column `key` (if given) holds text labels (e.g. a task id); the other
/// columns must be numbers. Returns the header without `key`, the labels and the values.
///
/// # Errors
/// Unreadable files, an unknown `key`, non-numeric fields (naming line and column).
pub fn read_csv_keyed(
    path: &Path,
    key: Option<&str>,
) -> Result<(Vec<String>, Vec<String>, Array2<f64>)> {
    let mut rdr = csv_reader(path)?;
    let header: Vec<String> = rdr
        .headers()
        .with_context(|| format!("'{}': reading the header", path.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        bail!("'{}': empty file or header", path.display());
    }
    // columns are found by name: a repeated name would pick one of them silently
    if let Some(dup) = mtlkit_core::param::first_duplicate(header.iter().map(String::as_str)) {
        bail!(
            "'{}': column name '{dup}' appears more than once in the header (names must be unique)",
            path.display()
        );
    }
    let key_col = match key {
        None => None,
        Some(k) => Some(header.iter().position(|h| h == k).ok_or_else(|| {
            anyhow!(
                "unknown task column '{k}' in '{}' (columns: {})",
                path.display(),
                header.join(", ")
            )
        })?),
    };
    let mut vals = Vec::new();
    let mut keys = Vec::new();
    let mut rows = 0usize;
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("'{}' line {line}", path.display()))?;
        for (c, field) in rec.iter().enumerate() {
            if Some(c) == key_col {
                keys.push(field.to_string());
                continue;
            }
            let v = parse_field(field).ok_or_else(|| {
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
    let cols: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|(c, _)| Some(*c) != key_col)
        .map(|(_, h)| h.clone())
        .collect();
    let values = Array2::from_shape_vec((rows, cols.len()), vals)?;
    Ok((cols, keys, values))
}

/// Write a CSV of text rows atomically.
pub fn write_csv_rows(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(r)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow!("{e}"))?;
    mtlkit_core::io::atomic_write(path, &bytes)?;
    Ok(())
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
            let plain = w.into_inner().map_err(|e| anyhow!("{e}"))?;
            if is_gz_csv(path) {
                use std::io::Write;
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(&plain)?;
                gz.finish()?
            } else {
                plain
            }
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
