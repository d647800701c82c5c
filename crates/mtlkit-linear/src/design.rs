//! How solvers see `X`: the [`Design`] trait (column norms, column dot, column axpy, `Xᵀ R`).
//!
//! Dense and (later) sparse designs share one solver code path through this trait. The trait lives
//! here rather than in `mtlkit-core` because its dense implementation calls faer, which the brief
//! keeps behind one internal module of the linear crate.

use std::borrow::Cow;

use ndarray::ArrayView2;

use crate::linalg;

/// A design matrix `X` (`n_samples × n_features`) as column operations.
pub trait Design {
    /// `n`.
    fn n_samples(&self) -> usize;
    /// `d`.
    fn n_features(&self) -> usize;
    /// `‖X_j‖²`.
    fn col_norm2(&self, j: usize) -> f64;
    /// `X_jᵀ v` (`v` of length `n`).
    fn col_dot(&self, j: usize, v: &[f64]) -> f64;
    /// `v += a X_j`.
    fn col_axpy(&self, j: usize, a: f64, v: &mut [f64]);
    /// `out = Xᵀ R` with `R` `n × t` column-major and `out` `d × t` row-major.
    fn xt_r(&self, r: &[f64], t: usize, out: &mut [f64]);
    /// `R -= X W` with `W` `d × t` row-major and `R` `n × t` column-major.
    fn sub_x_w(&self, w: &[f64], t: usize, r: &mut [f64]);
    /// `out = XᵀX` (`d × d`).
    fn gram(&self, out: &mut [f64]);
}

/// A dense design stored column-major (each feature contiguous), optionally centred.
///
/// A column-major (Fortran-order) `X` with no centring is borrowed, not copied.
#[derive(Debug, Clone)]
pub struct DenseDesign<'a> {
    data: Cow<'a, [f64]>,
    n: usize,
    d: usize,
}

impl<'a> DenseDesign<'a> {
    /// A design over `x` (`n × d`). With `offset`, column `j` is centred by `offset[j]` (for
    /// `fit_intercept`); a non-zero offset or a row-major `x` means one column-major copy.
    ///
    /// # Panics
    /// If `offset` is given with a length other than `x.ncols()` (a programming error).
    pub fn new(x: ArrayView2<'a, f64>, offset: Option<&[f64]>) -> Self {
        let (n, d) = x.dim();
        let centred = offset.is_some_and(|o| o.iter().any(|&v| v != 0.0));
        if !centred && x.t().is_standard_layout() {
            if let Some(s) = x.to_slice_memory_order() {
                return Self {
                    data: Cow::Borrowed(s),
                    n,
                    d,
                };
            }
        }
        let mut data = Vec::with_capacity(n * d);
        for (j, col) in x.columns().into_iter().enumerate() {
            let o = offset.map_or(0.0, |o| o[j]);
            data.extend(col.iter().map(|v| v - o));
        }
        Self {
            data: Cow::Owned(data),
            n,
            d,
        }
    }

    /// A design `diag(s) (X − 1 offsetᵀ)` (weighted, centred) in a column-major copy: row `i`
    /// scaled by `s[i]` (the square root of its sample weight).
    ///
    /// # Panics
    /// If `offset` or `s` do not match `x` (a programming error).
    pub fn weighted(x: ArrayView2<'_, f64>, offset: &[f64], s: &[f64]) -> DenseDesign<'static> {
        let (n, d) = x.dim();
        assert_eq!(offset.len(), d);
        assert_eq!(s.len(), n);
        let mut data = Vec::with_capacity(n * d);
        for (j, col) in x.columns().into_iter().enumerate() {
            data.extend(col.iter().zip(s).map(|(v, si)| (v - offset[j]) * si));
        }
        DenseDesign {
            data: Cow::Owned(data),
            n,
            d,
        }
    }

    /// Whether `X` is used in place (no copy was made).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.data, Cow::Borrowed(_))
    }

    /// Column `j` as a slice.
    #[inline]
    pub fn col(&self, j: usize) -> &[f64] {
        &self.data[j * self.n..(j + 1) * self.n]
    }
}

impl Design for DenseDesign<'_> {
    fn n_samples(&self) -> usize {
        self.n
    }
    fn n_features(&self) -> usize {
        self.d
    }
    fn col_norm2(&self, j: usize) -> f64 {
        let c = self.col(j);
        linalg::dot(c, c)
    }
    #[inline]
    fn col_dot(&self, j: usize, v: &[f64]) -> f64 {
        linalg::dot(self.col(j), v)
    }
    #[inline]
    fn col_axpy(&self, j: usize, a: f64, v: &mut [f64]) {
        linalg::axpy(a, self.col(j), v);
    }
    fn xt_r(&self, r: &[f64], t: usize, out: &mut [f64]) {
        linalg::xt_r(&self.data, self.n, self.d, r, t, out);
    }
    fn sub_x_w(&self, w: &[f64], t: usize, r: &mut [f64]) {
        linalg::sub_x_w(&self.data, self.n, self.d, w, t, r);
    }
    fn gram(&self, out: &mut [f64]) {
        linalg::gram(&self.data, self.n, self.d, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, ShapeBuilder};

    #[test]
    fn fortran_order_is_borrowed_and_columns_agree() {
        let c = Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f64);
        let mut f = Array2::zeros((3, 2).f());
        f.assign(&c);
        let dc = DenseDesign::new(c.view(), None);
        let df = DenseDesign::new(f.view(), Some(&[0.0, 0.0]));
        assert!(!dc.is_borrowed());
        assert!(df.is_borrowed());
        for j in 0..2 {
            assert_eq!(dc.col(j), df.col(j));
        }
        let centred = DenseDesign::new(f.view(), Some(&[1.0, 0.0]));
        assert!(!centred.is_borrowed());
        assert_eq!(centred.col(0), &[-1.0, 1.0, 3.0]);
    }
}
