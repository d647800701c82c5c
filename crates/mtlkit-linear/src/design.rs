//! How solvers see `X`: the [`Design`] trait (column norms, column dot, column axpy, `Xᵀ R`).
//!
//! Dense and (later) sparse designs share one solver code path through this trait. The trait lives
//! here rather than in `mtlkit-core` because its dense implementation calls faer, which the brief
//! keeps behind one internal module of the linear crate.

use std::borrow::Cow;

use mtlkit_core::sparse::CscMatrix;
use ndarray::ArrayView2;

use crate::linalg;

/// A design matrix `X` (`n_samples × n_features`) as column operations.
pub trait Design {
    /// `n`.
    fn n_samples(&self) -> usize;
    /// `d`.
    fn n_features(&self) -> usize;
    /// Bytes per stored entry of `X` (`8` by default, `4` for a single-precision dense
    /// design): solvers size their optional buffers against the design's own size.
    fn value_bytes(&self) -> usize {
        8
    }
    /// `‖X_j‖²`.
    fn col_norm2(&self, j: usize) -> f64;
    /// `X_jᵀ v` (`v` of length `n`).
    fn col_dot(&self, j: usize, v: &[f64]) -> f64;
    /// `v += a X_j`.
    fn col_axpy(&self, j: usize, a: f64, v: &mut [f64]);
    /// `out = Xᵀ R` with `R` `n × t` column-major and `out` `d × t` row-major.
    fn xt_r(&self, r: &[f64], t: usize, out: &mut [f64]);
    /// `out = Xᵀ R` (as [`xt_r`](Self::xt_r)) and `norm2[j] = ‖X_j‖²` (`norm2` of length `d`):
    /// what a solver needs before its first iteration, in one pass over `X` where the design
    /// can (dense `f64`: panels of columns read once from memory, their product then taken from
    /// cache); the default makes the two passes.
    fn xt_r_norm2(&self, r: &[f64], t: usize, out: &mut [f64], norm2: &mut [f64]) {
        self.xt_r(r, t, out);
        for (j, v) in norm2.iter_mut().enumerate() {
            *v = self.col_norm2(j);
        }
    }
    /// `R -= X W` with `W` `d × t` row-major and `R` `n × t` column-major.
    fn sub_x_w(&self, w: &[f64], t: usize, r: &mut [f64]);
    /// `out = XᵀX` (`d × d`).
    fn gram(&self, out: &mut [f64]);
    /// `r = Y − X W` and `out = Xᵀ r` (`y`, `r` `n × t` column-major; `w`, `out` `d × t`
    /// row-major): one pass over `X` where the design can (dense `f64`: panels of rows, each
    /// read from memory once); the default makes two.
    fn residual_xt_r(&self, y: &[f64], w: &[f64], t: usize, r: &mut [f64], out: &mut [f64]) {
        r.copy_from_slice(y);
        self.sub_x_w(w, t, r);
        self.xt_r(r, t, out);
    }
    /// `out ≈ XᵀX` (`d × d`) with single-precision products (entries within a few
    /// `1e-7 · ‖X_i‖·‖X_j‖`), for a solver that certifies against exact passes; `false` (the
    /// default, `out` untouched) where the design has no such kernel.
    fn gram_f32(&self, _out: &mut [f64]) -> bool {
        false
    }
    /// Columns `cols` as one column-major `n × |cols|` block of `f64`, for solvers that work on
    /// blocks of columns at matrix-product speed: a view of `X` when possible, else written to
    /// `buf`. `None` (the default) for designs without dense columns.
    fn gather<'s>(&'s self, _cols: &[usize], _buf: &'s mut Vec<f64>) -> Option<&'s [f64]> {
        None
    }
    /// Rows `r0..r1` of columns `cols` as one column-major `(r1 − r0) × |cols|` panel of `f64`
    /// written to `buf` (row panels of a working set, for products accumulated panel by panel
    /// without copying whole columns). `None` (the default) for designs without dense columns.
    fn gather_rows<'s>(
        &self,
        _cols: &[usize],
        _r0: usize,
        _r1: usize,
        _buf: &'s mut Vec<f64>,
    ) -> Option<&'s [f64]> {
        None
    }
    /// Whether [`gather`](Self::gather) returns blocks (dense designs).
    fn can_gather(&self) -> bool {
        false
    }
    /// Column `j` as `n` consecutive `f64`, where the design stores it so (for the blocked
    /// epoch's kernels, which fetch or round the next columns while computing the current
    /// ones); `None` (the default) otherwise.
    fn col_f64(&self, _j: usize) -> Option<&[f64]> {
        None
    }
}

/// Element types a [`DenseDesign`] can store: `f64`, or `f32` (half the memory of `X`; the
/// solver's arithmetic stays in `f64`: columns are widened as they are read).
pub trait Element: Copy + Send + Sync + std::fmt::Debug + 'static + private::Sealed {
    /// Widen to `f64`.
    fn to_f64(self) -> f64;
    /// Narrow from `f64` (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
}

impl Element for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl Element for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline]
    #[allow(clippy::cast_possible_truncation)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for f64 {}
    impl Sealed for f32 {}
}

/// A dense design stored column-major (each feature contiguous), optionally centred, in `f64`
/// (default) or `f32`.
///
/// A column-major (Fortran-order) `X` with no centring is borrowed, not copied.
#[derive(Debug, Clone)]
pub struct DenseDesign<'a, T: Element = f64> {
    data: Cow<'a, [T]>,
    n: usize,
    d: usize,
    threads: usize,
}

impl<'a, T: Element> DenseDesign<'a, T> {
    /// A design over `x` (`n × d`). With `offset`, column `j` is centred by `offset[j]` (for
    /// `fit_intercept`); a non-zero offset or a row-major `x` means one column-major copy (in
    /// `T`: an `f32` design is centred in `f64` and stored rounded to `f32`).
    ///
    /// # Panics
    /// If `offset` is given with a length other than `x.ncols()` (a programming error).
    pub fn new(x: ArrayView2<'a, T>, offset: Option<&[f64]>) -> Self {
        let (n, d) = x.dim();
        let centred = offset.is_some_and(|o| o.iter().any(|&v| v != 0.0));
        if !centred
            && x.t().is_standard_layout()
            && let Some(s) = x.to_slice_memory_order()
        {
            return Self {
                data: Cow::Borrowed(s),
                n,
                d,
                threads: 1,
            };
        }
        let off = |j: usize| offset.map_or(0.0, |o| o[j]);
        let data = match x.as_slice() {
            // row-major: transposed in tiles of rows, each row read in order and each column
            // written in runs (a column-by-column copy reads with a stride of `d`)
            Some(xs) if n > 0 && d > 0 => {
                const TILE: usize = 16;
                let mut data = vec![T::from_f64(0.0); n * d];
                for i0 in (0..n).step_by(TILE) {
                    let rows = &xs[i0 * d..(i0 + TILE).min(n) * d];
                    for (j, col) in data.chunks_exact_mut(n).enumerate() {
                        let o = off(j);
                        for (c, r) in col[i0..].iter_mut().zip(rows.chunks_exact(d)) {
                            *c = T::from_f64(r[j].to_f64() - o);
                        }
                    }
                }
                data
            }
            _ => {
                let mut data = Vec::with_capacity(n * d);
                for (j, col) in x.columns().into_iter().enumerate() {
                    let o = off(j);
                    data.extend(col.iter().map(|v| T::from_f64(v.to_f64() - o)));
                }
                data
            }
        };
        Self {
            data: Cow::Owned(data),
            n,
            d,
            threads: 1,
        }
    }

    /// A design `diag(s) (X − 1 offsetᵀ)` (weighted, centred) in a column-major copy: row `i`
    /// scaled by `s[i]` (the square root of its sample weight).
    ///
    /// # Panics
    /// If `offset` or `s` do not match `x` (a programming error).
    pub fn weighted(x: ArrayView2<'_, T>, offset: &[f64], s: &[f64]) -> DenseDesign<'static, T> {
        let (n, d) = x.dim();
        assert_eq!(offset.len(), d);
        assert_eq!(s.len(), n);
        let mut data = Vec::with_capacity(n * d);
        for (j, col) in x.columns().into_iter().enumerate() {
            data.extend(
                col.iter()
                    .zip(s)
                    .map(|(v, si)| T::from_f64((v.to_f64() - offset[j]) * si)),
            );
        }
        DenseDesign {
            data: Cow::Owned(data),
            n,
            d,
            threads: 1,
        }
    }

    /// Run the matrix products (`XᵀR`, `XᵀX`, `XW`) on `threads` threads of rayon's global
    /// pool (1, the default, is sequential). Results are deterministic for a given count.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Whether `X` is used in place (no copy was made).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.data, Cow::Borrowed(_))
    }

    /// Rows `r0..r1` of columns `cols`, widened to `f64`, as a column-major panel in `buf`.
    fn rows_of<'s>(
        &self,
        cols: &[usize],
        r0: usize,
        r1: usize,
        buf: &'s mut Vec<f64>,
    ) -> &'s [f64] {
        buf.clear();
        for &j in cols {
            buf.extend(
                self.data[j * self.n + r0..j * self.n + r1]
                    .iter()
                    .map(|v| v.to_f64()),
            );
        }
        buf
    }

    /// Column `j` as a slice.
    #[inline]
    pub fn col(&self, j: usize) -> &[T] {
        &self.data[j * self.n..(j + 1) * self.n]
    }
}

/// Elements of `X` per panel of [`Design::xt_r_norm2`] on a dense `f64` design (4 MiB).
const PANEL_ELEMS: usize = 1 << 19;

/// Columns `cols` (in any order) of the column-major `n × d` matrix `x`: a sub-slice when they
/// are consecutive and increasing, otherwise copied into `buf`.
pub(crate) fn gather_f64<'b>(
    x: &'b [f64],
    n: usize,
    cols: &[usize],
    buf: &'b mut Vec<f64>,
) -> &'b [f64] {
    let (first, last) = (cols[0], cols[cols.len() - 1]);
    if last >= first && last - first + 1 == cols.len() && cols.windows(2).all(|p| p[1] == p[0] + 1)
    {
        return &x[first * n..(last + 1) * n];
    }
    buf.clear();
    for &j in cols {
        buf.extend_from_slice(&x[j * n..(j + 1) * n]);
    }
    buf
}

impl Design for DenseDesign<'_, f64> {
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
        linalg::xt_r(&self.data, self.n, self.d, r, t, out, self.threads);
    }
    fn xt_r_norm2(&self, r: &[f64], t: usize, out: &mut [f64], norm2: &mut [f64]) {
        // panels of ≈ 4 MiB of X (within the last-level cache): the norms stream a panel in
        // from memory, its product then reads it from cache (tall 10000 × 500: 2.5 ms saved
        // of a 5 ms start)
        let n = self.n.max(1);
        let p = (PANEL_ELEMS / n).clamp(8, self.d.max(8));
        let mut j0 = 0;
        while j0 < self.d {
            let j1 = (j0 + p).min(self.d);
            for (j, v) in (j0..j1).zip(&mut norm2[j0..j1]) {
                *v = self.col_norm2(j);
            }
            linalg::xt_r(
                &self.data[j0 * self.n..j1 * self.n],
                self.n,
                j1 - j0,
                r,
                t,
                &mut out[j0 * t..j1 * t],
                self.threads,
            );
            j0 = j1;
        }
    }
    fn sub_x_w(&self, w: &[f64], t: usize, r: &mut [f64]) {
        linalg::sub_x_w(&self.data, self.n, self.d, w, t, r, self.threads);
    }
    fn gram(&self, out: &mut [f64]) {
        linalg::gram(&self.data, self.n, self.d, out, self.threads);
    }
    fn gram_f32(&self, out: &mut [f64]) -> bool {
        linalg::gram_f32(&self.data, self.n, self.d, out);
        true
    }
    fn residual_xt_r(&self, y: &[f64], w: &[f64], t: usize, r: &mut [f64], out: &mut [f64]) {
        if self.threads > 1 {
            r.copy_from_slice(y);
            self.sub_x_w(w, t, r);
            self.xt_r(r, t, out);
        } else {
            linalg::residual_xt_r(&self.data, self.n, self.d, y, w, t, r, out);
        }
    }
    fn gather<'s>(&'s self, cols: &[usize], buf: &'s mut Vec<f64>) -> Option<&'s [f64]> {
        Some(gather_f64(&self.data, self.n, cols, buf))
    }
    fn col_f64(&self, j: usize) -> Option<&[f64]> {
        Some(self.col(j))
    }
    fn gather_rows<'s>(
        &self,
        cols: &[usize],
        r0: usize,
        r1: usize,
        buf: &'s mut Vec<f64>,
    ) -> Option<&'s [f64]> {
        Some(self.rows_of(cols, r0, r1, buf))
    }
    fn can_gather(&self) -> bool {
        true
    }
}

impl DenseDesign<'_, f32> {
    /// Features per widened panel in the matrix products: a panel of `f64` stays within 5 % of
    /// the `f32` `X` (at least 64 KiB, 8 to 256 columns), so the products add little memory.
    fn panel(&self) -> usize {
        let x_bytes = 4 * self.n * self.d;
        let budget = (x_bytes / 20).max(64 << 10);
        (budget / (8 * self.n.max(1))).clamp(8, 256)
    }

    /// Call `f(j0, j1, panel)` for consecutive panels of columns `j0..j1`, widened to `f64`.
    fn for_each_panel(&self, mut f: impl FnMut(usize, usize, &[f64])) {
        let mut buf = Vec::new();
        let panel = self.panel();
        let mut j0 = 0;
        while j0 < self.d {
            let j1 = (j0 + panel).min(self.d);
            self.widen(j0, j1, &mut buf);
            f(j0, j1, &buf);
            j0 = j1;
        }
    }

    /// Columns `j0..j1` widened to `f64` (column-major) into `buf`.
    fn widen(&self, j0: usize, j1: usize, buf: &mut Vec<f64>) {
        buf.clear();
        buf.extend(
            self.data[j0 * self.n..j1 * self.n]
                .iter()
                .map(|&v| f64::from(v)),
        );
    }
}

impl Design for DenseDesign<'_, f32> {
    fn n_samples(&self) -> usize {
        self.n
    }
    fn n_features(&self) -> usize {
        self.d
    }
    fn value_bytes(&self) -> usize {
        4
    }
    fn col_norm2(&self, j: usize) -> f64 {
        self.col(j)
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum()
    }
    #[inline]
    fn col_dot(&self, j: usize, v: &[f64]) -> f64 {
        linalg::dot_f32(self.col(j), v)
    }
    #[inline]
    fn col_axpy(&self, j: usize, a: f64, v: &mut [f64]) {
        linalg::axpy_f32(a, self.col(j), v);
    }
    fn xt_r(&self, r: &[f64], t: usize, out: &mut [f64]) {
        self.for_each_panel(|j0, j1, xp| {
            linalg::xt_r(
                xp,
                self.n,
                j1 - j0,
                r,
                t,
                &mut out[j0 * t..j1 * t],
                self.threads,
            );
        });
    }
    fn sub_x_w(&self, w: &[f64], t: usize, r: &mut [f64]) {
        self.for_each_panel(|j0, j1, xp| {
            linalg::sub_x_w(xp, self.n, j1 - j0, &w[j0 * t..j1 * t], t, r, self.threads);
        });
    }
    fn gram(&self, out: &mut [f64]) {
        let (n, d) = (self.n, self.d);
        let (mut a, mut b, mut blk) = (Vec::new(), Vec::new(), Vec::new());
        let panel = self.panel();
        let mut i0 = 0;
        while i0 < d {
            let i1 = (i0 + panel).min(d);
            self.widen(i0, i1, &mut a);
            let mut j0 = 0;
            while j0 <= i0 {
                let j1 = (j0 + panel).min(d);
                blk.clear();
                blk.resize((i1 - i0) * (j1 - j0), 0.0);
                if j0 == i0 {
                    linalg::gram(&a, n, i1 - i0, &mut blk, self.threads);
                } else {
                    self.widen(j0, j1, &mut b);
                    linalg::xt_r(&a, n, i1 - i0, &b, j1 - j0, &mut blk, self.threads);
                }
                for (ia, row) in blk.chunks_exact(j1 - j0).enumerate() {
                    for (jb, &v) in row.iter().enumerate() {
                        out[(i0 + ia) * d + j0 + jb] = v;
                        out[(j0 + jb) * d + i0 + ia] = v;
                    }
                }
                j0 = j1;
            }
            i0 = i1;
        }
    }
    fn gather<'s>(&'s self, cols: &[usize], buf: &'s mut Vec<f64>) -> Option<&'s [f64]> {
        buf.clear();
        for &j in cols {
            buf.extend(self.col(j).iter().map(|&v| f64::from(v)));
        }
        Some(buf)
    }
    fn gather_rows<'s>(
        &self,
        cols: &[usize],
        r0: usize,
        r1: usize,
        buf: &'s mut Vec<f64>,
    ) -> Option<&'s [f64]> {
        Some(self.rows_of(cols, r0, r1, buf))
    }
    fn can_gather(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, ShapeBuilder};

    /// Gathered columns come in the order asked for, whatever it is: a view of `X` only for
    /// consecutive increasing columns (a permutation of a range, e.g. a working set in the order
    /// of its Gram matrix, is copied).
    #[test]
    fn gathered_columns_follow_the_order_asked() {
        let (n, d) = (5, 12);
        let x = Array2::from_shape_fn((n, d).f(), |(i, j)| (10 * j + i) as f64);
        let dd = DenseDesign::new(x.view(), None);
        let mut buf = Vec::new();
        for cols in [
            vec![3, 4, 5, 6],
            vec![3, 5, 4, 6],
            vec![6, 3, 4, 5],
            vec![9, 2],
            vec![7],
        ] {
            let g = dd.gather(&cols, &mut buf).unwrap().to_vec();
            let want: Vec<f64> = cols.iter().flat_map(|&j| x.column(j).to_vec()).collect();
            assert_eq!(g, want, "{cols:?}");
        }
    }

    /// The one-pass `XᵀR` and column norms of a dense design (panels of columns) equal the two
    /// separate passes, with a last panel shorter than the others.
    #[test]
    fn fused_xtr_and_norms_match_the_separate_passes() {
        let (n, d, t) = (PANEL_ELEMS / 8 + 1, 19, 3);
        let x = Array2::from_shape_fn((n, d).f(), |(i, j)| {
            ((i * 7 + j * 13) % 17) as f64 - 8.0 + 0.1 * j as f64
        });
        let r: Vec<f64> = (0..n * t).map(|k| ((k * 5) % 11) as f64 - 5.0).collect();
        let dd = DenseDesign::new(x.view(), None);
        let (mut xtr, mut norm2) = (vec![0.0; d * t], vec![0.0; d]);
        dd.xt_r_norm2(&r, t, &mut xtr, &mut norm2);
        let mut want = vec![0.0; d * t];
        dd.xt_r(&r, t, &mut want);
        for (a, b) in xtr.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
        }
        for (j, v) in norm2.iter().enumerate() {
            assert_eq!(*v, dd.col_norm2(j));
        }
    }

    /// The sparse design agrees with the dense one on every operation, centred or not.
    #[test]
    fn sparse_matches_dense() {
        let (n, d, t) = (7, 5, 3);
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            if (i * 3 + j) % 3 == 0 {
                (i + 2 * j) as f64 - 4.0
            } else {
                0.0
            }
        });
        let csc = CscMatrix::from_dense(&x);
        let means = CscDesign::column_means(&csc);
        for offset in [None, Some(&means[..])] {
            let dense = DenseDesign::new(x.view(), offset);
            let sparse = CscDesign::new(&csc, offset);
            let r: Vec<f64> = (0..n * t).map(|i| ((i * 5) % 7) as f64 - 3.0).collect();
            for j in 0..d {
                assert!((dense.col_norm2(j) - sparse.col_norm2(j)).abs() < 1e-12);
                assert!((dense.col_dot(j, &r[..n]) - sparse.col_dot(j, &r[..n])).abs() < 1e-12);
                let (mut a, mut b) = (r[..n].to_vec(), r[..n].to_vec());
                dense.col_axpy(j, 0.7, &mut a);
                sparse.col_axpy(j, 0.7, &mut b);
                assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-12));
            }
            let (mut g1, mut g2) = (vec![0.0; d * t], vec![0.0; d * t]);
            dense.xt_r(&r, t, &mut g1);
            sparse.xt_r(&r, t, &mut g2);
            assert!(g1.iter().zip(&g2).all(|(p, q)| (p - q).abs() < 1e-10));
            let w: Vec<f64> = (0..d * t).map(|i| (i % 4) as f64 * 0.25).collect();
            let (mut r1, mut r2) = (r.clone(), r.clone());
            dense.sub_x_w(&w, t, &mut r1);
            sparse.sub_x_w(&w, t, &mut r2);
            assert!(r1.iter().zip(&r2).all(|(p, q)| (p - q).abs() < 1e-10));
            let (mut q1, mut q2) = (vec![0.0; d * d], vec![0.0; d * d]);
            dense.gram(&mut q1);
            sparse.gram(&mut q2);
            assert!(q1.iter().zip(&q2).all(|(p, q)| (p - q).abs() < 1e-10));
        }
    }

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

/// A sparse (CSC) design, centred implicitly: `X̃ = X − 1 μᵀ` is never formed, so the non-zeros
/// stay sparse. Without centring a row update costs `O(nnz_j)`; with it `O(nnz_j + n)` (the
/// constant shift), as scikit-learn's sparse solver.
#[derive(Debug, Clone)]
pub struct CscDesign<'a> {
    x: &'a CscMatrix,
    mean: Vec<f64>,
    centred: bool,
}

impl<'a> CscDesign<'a> {
    /// A design over `x`, centred by `offset` when given (for `fit_intercept`).
    ///
    /// # Panics
    /// If `offset` has a length other than `n_cols` (a programming error).
    pub fn new(x: &'a CscMatrix, offset: Option<&[f64]>) -> Self {
        let d = x.dim().1;
        let mean = offset.map_or_else(|| vec![0.0; d], <[f64]>::to_vec);
        assert_eq!(mean.len(), d);
        let centred = mean.iter().any(|&m| m != 0.0);
        Self { x, mean, centred }
    }

    /// Column means of `x`.
    pub fn column_means(x: &CscMatrix) -> Vec<f64> {
        let (n, d) = x.dim();
        (0..d)
            .map(|j| x.col(j).1.iter().sum::<f64>() / n as f64)
            .collect()
    }
}

impl Design for CscDesign<'_> {
    fn n_samples(&self) -> usize {
        self.x.dim().0
    }
    fn n_features(&self) -> usize {
        self.x.dim().1
    }
    fn col_norm2(&self, j: usize) -> f64 {
        let (idx, val) = self.x.col(j);
        let m = self.mean[j];
        let n = self.n_samples() as f64;
        // Σ_i (x_ij − m)² over all rows, zeros included
        let nz: f64 = val.iter().map(|v| (v - m) * (v - m)).sum();
        (nz + (n - idx.len() as f64) * m * m).max(0.0)
    }
    #[inline]
    fn col_dot(&self, j: usize, v: &[f64]) -> f64 {
        let (idx, val) = self.x.col(j);
        let s: f64 = idx.iter().zip(val).map(|(&i, &x)| x * v[i]).sum();
        let m = self.mean[j];
        if m != 0.0 {
            s - m * v.iter().sum::<f64>()
        } else {
            s
        }
    }
    #[inline]
    fn col_axpy(&self, j: usize, a: f64, v: &mut [f64]) {
        let (idx, val) = self.x.col(j);
        for (&i, &x) in idx.iter().zip(val) {
            v[i] += a * x;
        }
        let m = self.mean[j];
        if m != 0.0 {
            v.iter_mut().for_each(|vi| *vi -= a * m);
        }
    }
    fn xt_r(&self, r: &[f64], t: usize, out: &mut [f64]) {
        let n = self.n_samples();
        let sums: Vec<f64> = if self.centred {
            (0..t).map(|k| r[k * n..(k + 1) * n].iter().sum()).collect()
        } else {
            vec![0.0; t]
        };
        for j in 0..self.n_features() {
            let (idx, val) = self.x.col(j);
            for k in 0..t {
                let rk = &r[k * n..(k + 1) * n];
                let s: f64 = idx.iter().zip(val).map(|(&i, &x)| x * rk[i]).sum();
                out[j * t + k] = s - self.mean[j] * sums[k];
            }
        }
    }
    fn sub_x_w(&self, w: &[f64], t: usize, r: &mut [f64]) {
        let n = self.n_samples();
        for j in 0..self.n_features() {
            for k in 0..t {
                let wjk = w[j * t + k];
                if wjk != 0.0 {
                    self.col_axpy(j, -wjk, &mut r[k * n..(k + 1) * n]);
                }
            }
        }
    }
    fn gram(&self, out: &mut [f64]) {
        let (n, d) = self.x.dim();
        let mut dense = vec![0.0; n];
        for j in 0..d {
            let (idx, val) = self.x.col(j);
            for (&i, &v) in idx.iter().zip(val) {
                dense[i] = v;
            }
            for k in 0..=j {
                let (ik, vk) = self.x.col(k);
                let s: f64 = ik.iter().zip(vk).map(|(&i, &v)| v * dense[i]).sum();
                let g = s - n as f64 * self.mean[j] * self.mean[k];
                out[j * d + k] = g;
                out[k * d + j] = g;
            }
            for &i in idx {
                dense[i] = 0.0;
            }
        }
    }
}
