//! A compressed sparse column (CSC) matrix: the layout coordinate descent wants for sparse
//! designs (each feature's non-zeros contiguous), as `scipy.sparse.csc_matrix`.

use ndarray::Array2;

use crate::{Error, Result};

/// A validated CSC matrix `n_rows × n_cols`: column `j` holds rows `indices[indptr[j]..indptr[j+1]]`
/// with values `data[indptr[j]..indptr[j+1]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CscMatrix {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<f64>,
}

impl CscMatrix {
    /// Build from raw parts, checking them.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `indptr` has not `n_cols + 1` entries or `indices` and `data`
    /// differ in length; [`Error::InvalidParameter`] for a decreasing `indptr`, a row index out of
    /// range or repeated within a column; [`Error::NonFinite`] for a NaN/inf value;
    /// [`Error::NoSamples`] / [`Error::NoFeatures`] for an empty shape.
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<usize>,
        data: Vec<f64>,
    ) -> Result<Self> {
        if n_rows == 0 {
            return Err(Error::NoSamples { task: None });
        }
        if n_cols == 0 {
            return Err(Error::NoFeatures);
        }
        if indptr.len() != n_cols + 1 {
            return Err(Error::ShapeMismatch {
                what: "length of indptr vs n_cols + 1",
                task: None,
                expected: n_cols + 1,
                found: indptr.len(),
            });
        }
        if indices.len() != data.len() || indptr[n_cols] != data.len() || indptr[0] != 0 {
            return Err(Error::ShapeMismatch {
                what: "number of stored values (indices, data, indptr[-1])",
                task: None,
                expected: data.len(),
                found: indices.len(),
            });
        }
        let bad = |what: &str| Error::InvalidParameter {
            name: "csc",
            value: what.to_string(),
            expected: "a valid CSC matrix",
        };
        let mut seen = vec![usize::MAX; n_rows];
        for j in 0..n_cols {
            let (a, b) = (indptr[j], indptr[j + 1]);
            if a > b {
                return Err(bad("decreasing indptr"));
            }
            for k in a..b {
                let i = indices[k];
                if i >= n_rows {
                    return Err(bad("row index out of range"));
                }
                if seen[i] == j {
                    return Err(bad("repeated row index in a column"));
                }
                seen[i] = j;
                if !data[k].is_finite() {
                    return Err(Error::NonFinite {
                        array: "X",
                        task: None,
                        row: i,
                        col: j,
                        value: data[k],
                    });
                }
            }
        }
        Ok(Self {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }

    /// The non-zeros of a dense matrix (exact zeros are dropped).
    pub fn from_dense(x: &Array2<f64>) -> Self {
        let (n, d) = x.dim();
        let mut indptr = Vec::with_capacity(d + 1);
        let (mut indices, mut data) = (Vec::new(), Vec::new());
        indptr.push(0);
        for col in x.columns() {
            for (i, &v) in col.iter().enumerate() {
                if v != 0.0 {
                    indices.push(i);
                    data.push(v);
                }
            }
            indptr.push(data.len());
        }
        Self {
            n_rows: n,
            n_cols: d,
            indptr,
            indices,
            data,
        }
    }

    /// `(n_rows, n_cols)`.
    pub fn dim(&self) -> (usize, usize) {
        (self.n_rows, self.n_cols)
    }

    /// Number of stored values.
    pub fn nnz(&self) -> usize {
        self.data.len()
    }

    /// Row indices and values of column `j`.
    ///
    /// # Panics
    /// If `j >= n_cols` (a programming error).
    #[inline]
    pub fn col(&self, j: usize) -> (&[usize], &[f64]) {
        let (a, b) = (self.indptr[j], self.indptr[j + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// The dense matrix.
    pub fn to_dense(&self) -> Array2<f64> {
        let mut x = Array2::zeros((self.n_rows, self.n_cols));
        for j in 0..self.n_cols {
            let (idx, val) = self.col(j);
            for (&i, &v) in idx.iter().zip(val) {
                x[[i, j]] = v;
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn roundtrip_and_validation() {
        let x = array![[0.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 3.0, 4.0]];
        let c = CscMatrix::from_dense(&x);
        assert_eq!(c.nnz(), 4);
        assert_eq!(c.to_dense(), x);
        assert_eq!(c.col(1), (&[0usize, 2][..], &[2.0, 3.0][..]));
        let ok = CscMatrix::new(3, 2, vec![0, 1, 2], vec![0, 2], vec![1.0, 2.0]);
        assert!(ok.is_ok());
        assert!(CscMatrix::new(3, 2, vec![0, 1], vec![0], vec![1.0]).is_err());
        assert!(CscMatrix::new(3, 2, vec![0, 2, 1], vec![0, 1], vec![1.0, 2.0]).is_err());
        assert!(CscMatrix::new(3, 2, vec![0, 1, 2], vec![0, 3], vec![1.0, 2.0]).is_err());
        assert!(CscMatrix::new(3, 1, vec![0, 2], vec![1, 1], vec![1.0, 2.0]).is_err());
        assert!(CscMatrix::new(3, 1, vec![0, 1], vec![1], vec![f64::NAN]).is_err());
        assert!(CscMatrix::new(0, 1, vec![0, 0], vec![], vec![]).is_err());
    }
}
