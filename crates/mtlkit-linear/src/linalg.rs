//! The one place that calls faer (dense kernels behind plain slices).
//!
//! Matrices cross this boundary as column-major (`n × d`, leading dimension `n`) or row-major
//! slices, so the rest of the crate speaks `ndarray` and `&[f64]` only.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// faer's parallelism for `threads` threads (1 = sequential; rayon's global pool otherwise).
fn par(threads: usize) -> Par {
    if threads <= 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    }
}

/// `out = Xᵀ R` where `x` is `n × d` column-major, `r` is `n × t` column-major and `out` is
/// `d × t` row-major.
pub(crate) fn xt_r(
    x: &[f64],
    n: usize,
    d: usize,
    r: &[f64],
    t: usize,
    out: &mut [f64],
    threads: usize,
) {
    debug_assert_eq!(x.len(), n * d);
    debug_assert_eq!(r.len(), n * t);
    debug_assert_eq!(out.len(), d * t);
    let xt = MatRef::from_column_major_slice(x, n, d).transpose();
    let rm = MatRef::from_column_major_slice(r, n, t);
    let dst = MatMut::from_row_major_slice_mut(out, d, t);
    matmul(dst, Accum::Replace, xt, rm, 1.0, par(threads));
}

/// `out = XᵀX` (`d × d`, symmetric) for `x` `n × d` column-major.
pub(crate) fn gram(x: &[f64], n: usize, d: usize, out: &mut [f64], threads: usize) {
    // lower triangle only (half the flops of a full product), then mirror
    gram_lower(x, n, d, out, Accum::Replace, par(threads));
    for j in 0..d {
        for i in j + 1..d {
            out[i * d + j] = out[j * d + i];
        }
    }
}

/// Columns of `X` per call of the kernel in [`residual_xt_r`]'s first pass: each call runs down
/// all the rows of that many columns, which the hardware prefetcher streams from memory
/// (tall 10000 × 500 by 10 tasks: 4 columns 3.2 ms, 8 columns 2.9 ms, 16 columns 3.2 ms; by
/// panels of 256 rows, every column at once, 4.9–6.6 ms).
const RESIDUAL_GROUP: usize = 8;

/// `R = Y − X W` and `out = Xᵀ R` (`x` `n × d` and `y`, `r` `n × t` column-major; `w`, `out`
/// `d × t` row-major), over the rows of `W` that are not zero. Where the AVX-512 kernel takes
/// `t`: two passes that stream `X` column after column (see [`RESIDUAL_GROUP`]). Otherwise
/// one pass by panels of rows, each panel's `R_p = Y_p − X_p W` and then `out += X_pᵀ R_p`
/// while the panel is in cache.
#[allow(clippy::too_many_arguments)]
pub(crate) fn residual_xt_r(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    w: &[f64],
    t: usize,
    r: &mut [f64],
    out: &mut [f64],
) {
    debug_assert_eq!(x.len(), n * d);
    debug_assert_eq!(r.len(), n * t);
    debug_assert_eq!(out.len(), d * t);
    r.copy_from_slice(y);
    out.fill(0.0);
    if n == 0 || d == 0 || t == 0 {
        return;
    }
    let support: Vec<usize> = (0..d)
        .filter(|&j| !is_zero(&w[j * t..(j + 1) * t]))
        .collect();
    if crate::simd::sub_x_w_runs(t) {
        // two passes, each streaming `X` column after column: the kernel takes the support's
        // columns RESIDUAL_GROUP at a time over all the rows (as many streams as the hardware
        // prefetcher follows), then `XᵀR`; the row panels below read every column of a panel
        // at once (`d` streams `n` apart: on tall 10000 × 500, 7.8–9.3 ms against 6.3 ms)
        for group in support.chunks(RESIDUAL_GROUP) {
            crate::simd::sub_x_w(x, n, group, w, t, r, n, (0, n));
        }
        xt_r(x, n, d, r, t, out, 1);
        return;
    }
    // ≈ 1 MiB of `X` per panel (a multiple of 16 rows, at least 64)
    let rows = (((1usize << 17) / d) & !15).clamp(64, n);
    let wm = MatRef::from_row_major_slice(w, d, t);
    let mut r0 = 0;
    while r0 < n {
        let m = rows.min(n - r0);
        let xp = MatRef::from_column_major_slice_with_stride(&x[r0..], m, d, n);
        if !crate::simd::sub_x_w(x, n, &support, w, t, r, n, (r0, r0 + m)) {
            let rp = MatMut::from_column_major_slice_with_stride_mut(&mut r[r0..], m, t, n);
            matmul(rp, Accum::Add, xp, wm, -1.0, Par::Seq);
        }
        let rp = MatRef::from_column_major_slice_with_stride(&r[r0..], m, t, n);
        let dst = MatMut::from_row_major_slice_mut(out, d, t);
        matmul(dst, Accum::Add, xp.transpose(), rp, 1.0, Par::Seq);
        r0 += m;
    }
}

/// `out ≈ XᵀX` (`d × d`, symmetric, both triangles) for `x` `n × d` column-major, its
/// products in single precision: panels of rows rounded to `f32` (each panel within the core's
/// cache) and their lower-triangular products accumulated in `f32` (about twice the `f64`
/// speed), then widened. Entries are within a few `1e-7 · ‖X_i‖·‖X_j‖` of the exact ones (the
/// solver that uses it certifies against exact `XᵀR` passes).
pub(crate) fn gram_f32(x: &[f64], n: usize, d: usize, out: &mut [f64]) {
    debug_assert_eq!(x.len(), n * d);
    debug_assert_eq!(out.len(), d * d);
    // ≈ 512 KiB of `f32` per panel (at least 64 rows): the panel is memory the fit adds
    let rows = ((1usize << 17) / d.max(1)).clamp(64, n.max(1));
    let mut g = vec![0.0f32; d * d];
    let mut p = vec![0.0f32; rows * d];
    let mut r0 = 0;
    while r0 < n {
        let m = rows.min(n - r0);
        for j in 0..d {
            narrow_into(&x[j * n + r0..j * n + r0 + m], &mut p[j * m..(j + 1) * m]);
        }
        let accum = if r0 == 0 { Accum::Replace } else { Accum::Add };
        gram_lower(&p[..m * d], m, d, &mut g, accum, Par::Seq);
        r0 += m;
    }
    // column-major lower triangle `g[j·d + i]`, i ≥ j
    for j in 0..d {
        for i in j..d {
            let v = f64::from(g[j * d + i]);
            out[i * d + j] = v;
            out[j * d + i] = v;
        }
    }
}

/// `out += PᵀP` on the lower triangle of the column-major `m × m` `out` (the upper triangle is
/// left alone) for a column-major panel `p` of `rows × m`: a Gram matrix accumulated over
/// panels of rows.
pub(crate) fn gram_lower_acc(p: &[f64], rows: usize, m: usize, out: &mut [f64]) {
    gram_lower(p, rows, m, out, Accum::Add, Par::Seq);
}

/// The lower triangle of `PᵀP` in single precision (column-major `m × m` `out`, replaced) for
/// a column-major `rows × m` block `p` (a single-precision loop's block of rounded columns):
/// the AVX-512 kernel where the CPU has it ([`crate::simd::gram_lower_f32`]), faer's
/// triangular product otherwise.
pub(crate) fn gram_lower_f32(p: &[f32], rows: usize, m: usize, out: &mut [f32]) {
    if crate::simd::gram_lower_f32(p, rows, m, out) {
        return;
    }
    gram_lower(p, rows, m, out, Accum::Replace, Par::Seq);
}

/// The lower triangle of `PᵀP` (column-major `m × m` `out`, replaced or accumulated) for a
/// column-major `rows × m` panel `p`.
fn gram_lower<E: faer::traits::ComplexField + From<f32>>(
    p: &[E],
    rows: usize,
    m: usize,
    out: &mut [E],
    accum: Accum,
    par: Par,
) {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul as tri_matmul};
    let pm = MatRef::from_column_major_slice(p, rows, m);
    let dst = MatMut::from_column_major_slice_mut(out, m, m);
    tri_matmul(
        dst,
        BlockStructure::TriangularLower,
        accum,
        pm.transpose(),
        BlockStructure::Rectangular,
        pm,
        BlockStructure::Rectangular,
        E::from(1.0),
        par,
    );
}

/// `out += Pᵀ R[r0..r0 + rows, :]` for a column-major panel `p` (`rows × m`), `r` the
/// column-major `n × t` matrix starting at row `r0` (`r = &R[r0..]`, column stride `n`) and
/// `out` row-major `m × t`.
pub(crate) fn xt_r_panel_acc(
    p: &[f64],
    rows: usize,
    m: usize,
    r: &[f64],
    n: usize,
    t: usize,
    out: &mut [f64],
) {
    let pm = MatRef::from_column_major_slice(p, rows, m);
    let rm = MatRef::from_column_major_slice_with_stride(r, rows, t, n);
    let dst = MatMut::from_row_major_slice_mut(out, m, t);
    matmul(dst, Accum::Add, pm.transpose(), rm, 1.0, Par::Seq);
}

/// `R[..rows, :] −= P W` for `p` column-major `rows × m`, `w` row-major `m × t` and `r`
/// column-major with column stride `ld` (`≥ rows`; a panel of rows `r = &mut R[r0..]` of an
/// `ld × t` matrix), on `threads` threads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sub_rows_w(
    p: &[f64],
    rows: usize,
    m: usize,
    w: &[f64],
    t: usize,
    r: &mut [f64],
    ld: usize,
    threads: usize,
) {
    if threads <= 1 {
        // the rows of `W` that are not zero (the kernel skips the others' columns of `P`)
        let cols: Vec<usize> = (0..m)
            .filter(|&j| !is_zero(&w[j * t..(j + 1) * t]))
            .collect();
        if crate::simd::sub_x_w(p, rows, &cols, w, t, r, ld, (0, rows)) {
            return;
        }
    }
    let pm = MatRef::from_column_major_slice(p, rows, m);
    let wm = MatRef::from_row_major_slice(w, m, t);
    let dst = MatMut::from_column_major_slice_with_stride_mut(r, rows, t, ld);
    matmul(dst, Accum::Add, pm, wm, -1.0, par(threads));
}

/// `out (+)= Aᵀ P` for column-major panels `a` (`rows × k`) and `p` (`rows × m`), `out` row-major
/// `k × m`: the cross products of a few columns with a working set, accumulated over row panels.
pub(crate) fn cross_panel_acc(
    a: &[f64],
    p: &[f64],
    rows: usize,
    k: usize,
    m: usize,
    out: &mut [f64],
) {
    let am = MatRef::from_column_major_slice(a, rows, k);
    let pm = MatRef::from_column_major_slice(p, rows, m);
    let dst = MatMut::from_row_major_slice_mut(out, k, m);
    matmul(dst, Accum::Add, am.transpose(), pm, 1.0, Par::Seq);
}

/// `r -= X W` where `x` is `n × d` column-major, `w` is `d × t` row-major and `r` is `n × t`
/// column-major.
pub(crate) fn sub_x_w(
    x: &[f64],
    n: usize,
    d: usize,
    w: &[f64],
    t: usize,
    r: &mut [f64],
    threads: usize,
) {
    sub_rows_w(x, n, d, w, t, r, n, threads);
}

/// `out = Pᵀ D` in single precision: `p` column-major `rows × m`, `dm` column-major
/// `rows × t`, `out` row-major `m × t`. The AVX-512 kernel where the CPU has it (in cache, on
/// the blocked epoch's shapes, 1.3–1.7× faer's packed product when the columns start on cache
/// lines: see [`padded_rows`]), faer's product otherwise.
/// `pf`: lines to prefetch along the way (see [`crate::simd::Prefetch`]).
pub(crate) fn xt_r_f32(
    p: &[f32],
    rows: usize,
    m: usize,
    dm: &[f32],
    t: usize,
    out: &mut [f32],
    pf: &mut crate::simd::Prefetch,
) {
    if crate::simd::xt_d_f32(p, rows, m, dm, t, out, pf) {
        return;
    }
    let pm = MatRef::from_column_major_slice(p, rows, m);
    let rm = MatRef::from_column_major_slice(dm, rows, t);
    let dst = MatMut::from_row_major_slice_mut(out, m, t);
    matmul(dst, Accum::Replace, pm.transpose(), rm, 1.0f32, Par::Seq);
}

/// `D −= P W` in single precision: `p` column-major `rows × m`, `w` row-major `m × t`, `dm`
/// column-major `rows × t`.
/// `pf`: lines to prefetch along the way (see [`crate::simd::Prefetch`]).
pub(crate) fn sub_x_w_f32(
    p: &[f32],
    rows: usize,
    m: usize,
    w: &[f32],
    t: usize,
    dm: &mut [f32],
    pf: &mut crate::simd::Prefetch,
) {
    let cols: Vec<usize> = (0..m).collect();
    if crate::simd::sub_x_w_f32(p, rows, &cols, w, t, dm, rows, (0, rows), pf) {
        return;
    }
    let pm = MatRef::from_column_major_slice(p, rows, m);
    let wm = MatRef::from_row_major_slice(w, m, t);
    let dst = MatMut::from_column_major_slice_mut(dm, rows, t);
    matmul(dst, Accum::Add, pm, wm, -1.0f32, Par::Seq);
}

/// The leading dimension of the single-precision loops' column-major `f32` arrays for `n`
/// rows: `n` rounded up to 16, so that in a buffer that starts on a cache line
/// ([`AlignedF32`]) every column does too and the kernels' 16-lane loads never straddle two
/// lines (on 500 rows, `X_Bᵀ D` ran at 108 GFLOP/s with columns 2000 bytes apart, 149 at
/// 2048). The padding rows are zero, so products over them are those over the `n` rows.
/// A multiple of 1024 (columns 4 KiB apart, which map to the same cache sets) gets one more
/// line.
pub(crate) fn padded_rows(n: usize) -> usize {
    let ld = n.next_multiple_of(16);
    if ld > 0 && ld.is_multiple_of(1024) {
        ld + 16
    } else {
        ld
    }
}

/// 16 `f32` on a 64-byte boundary: one cache line, one AVX-512 register.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A growable `f32` buffer that starts on a cache line (see [`padded_rows`]); it reads as a
/// slice.
#[derive(Default)]
pub(crate) struct AlignedF32 {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedF32 {
    /// As [`Vec::resize`]: new elements are `v`.
    pub(crate) fn resize(&mut self, len: usize, v: f32) {
        let need = len.div_ceil(16);
        if self.lines.len() < need {
            // (no amortised doubling: these buffers are sized once per shape, and memory the
            // fit adds is measured)
            self.lines.reserve_exact(need - self.lines.len());
            self.lines.resize(need, Line::default());
        }
        let old = self.len;
        self.len = len;
        if len > old {
            self[old..].fill(v);
        }
    }

    /// Length 0 (the memory is kept).
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

impl std::ops::Deref for AlignedF32 {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        // SAFETY: `lines` holds `16·lines.len() ≥ len` contiguous, initialised `f32`
        // (`Line` is `repr(C)`, an array of `f32` with no padding).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f32>(), self.len) }
    }
}

impl std::ops::DerefMut for AlignedF32 {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

/// The `m` columns of the column-major `n × m` `src` rounded to `f32` into `dst` with leading
/// dimension `ld ≥ n` (`dst` resized to `ld × m`; the rows `n..ld` of each column zero).
pub(crate) fn narrow_cols(src: &[f64], n: usize, ld: usize, m: usize, dst: &mut AlignedF32) {
    dst.resize(ld * m, 0.0);
    for (c, out) in src[..n * m]
        .chunks_exact(n.max(1))
        .zip(dst.chunks_exact_mut(ld.max(1)))
    {
        narrow_into(c, &mut out[..n]);
        out[n..].fill(0.0);
    }
}

/// `dst = src` rounded to `f32` (`dst` resized to `src`'s length).
pub(crate) fn narrow(src: &[f64], dst: &mut Vec<f32>) {
    dst.resize(src.len(), 0.0);
    narrow_into(src, dst);
}

/// `dst[i] = src[i]` rounded to `f32` (equal lengths), vectorised (AVX-512 or AVX2 where the
/// CPU has them: the blocked single-precision epoch rounds each block it reads).
#[inline]
pub(crate) fn narrow_into(src: &[f64], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { narrow_avx512(src, dst) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { narrow_avx2(src, dst) };
        }
    }
    narrow_impl(src, dst);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn narrow_avx512(src: &[f64], dst: &mut [f32]) {
    narrow_impl(src, dst);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn narrow_avx2(src: &[f64], dst: &mut [f32]) {
    narrow_impl(src, dst);
}

#[inline(always)]
fn narrow_impl(src: &[f64], dst: &mut [f32]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        #[allow(clippy::cast_possible_truncation)]
        {
            *d = v as f32;
        }
    }
}

/// `Σ v_i²` on four accumulators (a short row's squared norm, inlined into the row updates).
#[inline(always)]
pub(crate) fn sum_squares(v: &[f64]) -> f64 {
    let c = v.chunks_exact(4);
    let r = c.remainder();
    let (mut a0, mut a1, mut a2, mut a3) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for x in c {
        a0 += x[0] * x[0];
        a1 += x[1] * x[1];
        a2 += x[2] * x[2];
        a3 += x[3] * x[3];
    }
    let mut s = (a0 + a2) + (a1 + a3);
    for x in r {
        s += x * x;
    }
    s
}

/// Whether every element of `v` is zero (`±0`), without a branch per element (the test a
/// pass over the rows of a sparse `W` makes for each row).
#[inline]
pub(crate) fn is_zero(v: &[f64]) -> bool {
    v.iter().fold(0u64, |acc, x| acc | (x.to_bits() << 1)) == 0
}

/// `Σ a_i b_i` (over the shorter length), vectorised: AVX2 + FMA when the CPU has them
/// (detected at run time), portable code otherwise.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { dot_avx2(a, b) };
    }
    dot_impl::<false>(a, b)
}

/// `y += alpha * x` (over the shorter length), vectorised as [`dot`].
#[inline]
pub(crate) fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { axpy_avx2(alpha, x, y) };
    }
    axpy_impl::<false>(alpha, x, y);
}

/// `Σ a_i b_i` with `a` in `f32` (widened), vectorised as [`dot`].
#[inline]
pub(crate) fn dot_f32(a: &[f32], b: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { dot_f32_avx2(a, b) };
    }
    dot_f32_impl::<false, f64>(a, b)
}

/// `y += alpha * x` with `x` in `f32` (widened).
#[inline]
pub(crate) fn axpy_f32(alpha: f64, x: &[f32], y: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { axpy_f32_avx2(alpha, x, y) };
    }
    let n = x.len().min(y.len());
    for (yi, xi) in y[..n].iter_mut().zip(&x[..n]) {
        *yi += alpha * f64::from(*xi);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_f32_avx2(a: &[f32], b: &[f64]) -> f64 {
    dot_f32_impl::<true, f64>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn axpy_f32_avx2(alpha: f64, x: &[f32], y: &mut [f64]) {
    let n = x.len().min(y.len());
    for (yi, xi) in y[..n].iter_mut().zip(&x[..n]) {
        *yi = alpha.mul_add(f64::from(*xi), *yi);
    }
}

/// `Σ a_i b_i` of two `f32` vectors, widened and accumulated in `f64`, vectorised as [`dot`].
#[inline]
pub(crate) fn dot_f32s(a: &[f32], b: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { dot_f32s_avx2(a, b) };
    }
    dot_f32_impl::<false, f32>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_f32s_avx2(a: &[f32], b: &[f32]) -> f64 {
    dot_f32_impl::<true, f32>(a, b)
}

#[inline(always)]
fn dot_f32_impl<const FMA: bool, B: Copy>(a: &[f32], b: &[B]) -> f64
where
    f64: From<B>,
{
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] = fmadd::<FMA>(<f64 as From<f32>>::from(x[k]), f64::from(y[k]), acc[k]);
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail = fmadd::<FMA>(<f64 as From<f32>>::from(*x), f64::from(*y), tail);
    }
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for k in 0..w {
            acc[k] += acc[k + w];
        }
    }
    acc[0] + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f64], b: &[f64]) -> f64 {
    dot_impl::<true>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn axpy_avx2(alpha: f64, x: &[f64], y: &mut [f64]) {
    axpy_impl::<true>(alpha, x, y);
}

const LANES: usize = 16;

#[inline(always)]
fn fmadd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

#[inline(always)]
fn dot_impl<const FMA: bool>(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] = fmadd::<FMA>(x[k], y[k], acc[k]);
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail = fmadd::<FMA>(*x, *y, tail);
    }
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for k in 0..w {
            acc[k] += acc[k + w];
        }
    }
    acc[0] + tail
}

#[inline(always)]
fn axpy_impl<const FMA: bool>(alpha: f64, x: &[f64], y: &mut [f64]) {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &mut y[..n]);
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = fmadd::<FMA>(alpha, *xi, *yi);
    }
}

/// `out[k] −= Σ_{p ∈ idx} coef[p] · rows[p·t + k]` for `k < t = out.len()` (a combination of
/// rows of the row-major `rows`), accumulated in registers: the in-block gradient correction of
/// the blocked coordinate-descent epoch. Vectorised as [`dot`].
#[inline]
pub(crate) fn sub_row_combination(out: &mut [f64], coef: &[f64], rows: &[f64], idx: &[usize]) {
    if crate::simd::sub_row_combination(out, coef, rows, idx) {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { sub_row_combination_avx2(out, coef, rows, idx) };
    }
    sub_row_combination_impl::<false>(out, coef, rows, idx);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn sub_row_combination_avx2(out: &mut [f64], coef: &[f64], rows: &[f64], idx: &[usize]) {
    sub_row_combination_impl::<true>(out, coef, rows, idx);
}

/// Lanes of [`sub_row_combination`]'s register accumulator.
const COMB: usize = 8;

#[inline(always)]
fn sub_row_combination_impl<const FMA: bool>(
    out: &mut [f64],
    coef: &[f64],
    rows: &[f64],
    idx: &[usize],
) {
    let t = out.len();
    let mut s = 0;
    while s + COMB <= t {
        let mut acc = [0.0f64; COMB];
        for &p in idx {
            let c = coef[p];
            let r = &rows[p * t + s..p * t + s + COMB];
            for l in 0..COMB {
                acc[l] = fmadd::<FMA>(c, r[l], acc[l]);
            }
        }
        for (o, a) in out[s..s + COMB].iter_mut().zip(acc) {
            *o -= a;
        }
        s += COMB;
    }
    if s < t {
        let w = t - s;
        let mut acc = [0.0f64; COMB];
        for &p in idx {
            let c = coef[p];
            let r = &rows[p * t + s..p * t + t];
            for l in 0..w {
                acc[l] = fmadd::<FMA>(c, r[l], acc[l]);
            }
        }
        for (o, a) in out[s..].iter_mut().zip(acc) {
            *o -= a;
        }
    }
}

/// Thin SVD of the row-major `m × n` matrix `a`, sequential (faer's high-level `thin_svd`
/// would use the global thread pool): `(U m × k, σ (k, non-increasing), V n × k)`, `k =
/// min(m, n)`; `None` if it does not converge (not expected for finite input).
fn thin_svd(
    a: &[f64],
    m: usize,
    n: usize,
    vectors: bool,
) -> Option<(Mat<f64>, Vec<f64>, Mat<f64>)> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::svd::{ComputeSvdVectors, svd, svd_scratch};
    let k = m.min(n);
    let am = MatRef::from_row_major_slice(a, m, n);
    let which = if vectors {
        ComputeSvdVectors::Thin
    } else {
        ComputeSvdVectors::No
    };
    let mut u = Mat::<f64>::zeros(if vectors { m } else { 0 }, if vectors { k } else { 0 });
    let mut v = Mat::<f64>::zeros(if vectors { n } else { 0 }, if vectors { k } else { 0 });
    let mut s = faer::diag::Diag::<f64>::zeros(k);
    let mut buf = MemBuffer::new(svd_scratch::<f64>(
        m,
        n,
        which,
        which,
        Par::Seq,
        Default::default(),
    ));
    let stack = MemStack::new(&mut buf);
    let (uo, vo) = if vectors {
        (Some(u.as_mut()), Some(v.as_mut()))
    } else {
        (None, None)
    };
    svd(am, s.as_mut(), uo, vo, Par::Seq, stack, Default::default()).ok()?;
    let sv: Vec<f64> = (0..k).map(|i| s[i]).collect();
    Some((u, sv, v))
}

/// Thin SVD of the row-major `m × n` matrix `a`: `(U, σ, V)` with `U` (`m × k`) and `V`
/// (`n × k`) row-major, `k = min(m, n)`, `σ` non-increasing; `None` if it fails to converge.
pub(crate) fn svd(a: &[f64], m: usize, n: usize) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let (u, s, v) = thin_svd(a, m, n, true)?;
    let k = s.len();
    let flat = |x: &Mat<f64>, rows: usize| -> Vec<f64> {
        (0..rows)
            .flat_map(|i| (0..k).map(move |r| (i, r)))
            .map(|(i, r)| x[(i, r)])
            .collect()
    };
    Some((flat(&u, m), s, flat(&v, n)))
}

/// Singular values of the row-major `m × n` matrix `a` (non-increasing). An SVD that fails to
/// converge (not expected for finite input) gives NaNs, which callers see as non-finite values.
pub(crate) fn singular_values(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    thin_svd(a, m, n, false).map_or_else(|| vec![f64::NAN; m.min(n)], |(_, s, _)| s)
}

/// In place: `a ← U diag(max(σ − τ, 0)) Vᵀ` for the row-major `m × n` matrix `a` (the prox of
/// `τ‖·‖_*`, singular value soft-thresholding).
pub(crate) fn shrink_singular_values(a: &mut [f64], m: usize, n: usize, tau: f64) {
    if tau <= 0.0 {
        return;
    }
    let Some((u, s, v)) = thin_svd(a, m, n, true) else {
        a.iter_mut().for_each(|x| *x = f64::NAN);
        return;
    };
    a.iter_mut().for_each(|x| *x = 0.0);
    for (r, &sr) in s.iter().enumerate() {
        let sr = sr - tau;
        if sr <= 0.0 {
            break;
        }
        for i in 0..m {
            let ui = u[(i, r)] * sr;
            for j in 0..n {
                a[i * n + j] += ui * v[(j, r)];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_and_its_product_match_the_plain_sums() {
        // `R = Y − XW` and `XᵀR` on both paths (t ≤ 12: column groups through the AVX-512
        // kernel where it runs; t = 14: panels of rows), with zero rows of `W` and a support
        // that is not a multiple of the column group; integer entries: exact sums
        for &(n, d, t) in &[(300usize, 29usize, 3usize), (300, 29, 14), (70, 3, 1)] {
            let x: Vec<f64> = (0..n * d).map(|k| ((k * 7) % 11) as f64 - 5.0).collect();
            let y: Vec<f64> = (0..n * t).map(|k| ((k * 3) % 13) as f64 - 6.0).collect();
            let w: Vec<f64> = (0..d * t)
                .map(|k| {
                    if (k / t) % 4 == 1 {
                        0.0
                    } else {
                        ((k * 5) % 7) as f64 - 3.0
                    }
                })
                .collect();
            let (mut r, mut out) = (vec![f64::NAN; n * t], vec![f64::NAN; d * t]);
            residual_xt_r(&x, n, d, &y, &w, t, &mut r, &mut out);
            for k in 0..t {
                for i in 0..n {
                    let xw: f64 = (0..d).map(|j| x[j * n + i] * w[j * t + k]).sum();
                    assert_eq!(r[k * n + i], y[k * n + i] - xw, "R ({i}, {k}), t {t}");
                }
                for j in 0..d {
                    let want: f64 = (0..n).map(|i| x[j * n + i] * r[k * n + i]).sum();
                    assert_eq!(out[j * t + k], want, "XᵀR ({j}, {k}), t {t}");
                }
            }
        }
    }

    #[test]
    fn gram_fills_both_triangles() {
        // both triangles of a Gram matrix wider than a block of the product; integer entries:
        // exact sums
        let (n, d) = (6, 70);
        let x: Vec<f64> = (0..n * d).map(|i| ((i * 29) % 13) as f64 - 6.0).collect();
        let mut g = vec![f64::NAN; d * d];
        gram(&x, n, d, &mut g, 1);
        for a in 0..d {
            for b in 0..d {
                let want: f64 = (0..n).map(|i| x[a * n + i] * x[b * n + i]).sum();
                assert_eq!(g[a * d + b], want, "gram[{a},{b}]");
            }
        }
    }

    #[test]
    fn products_match_naive_loops() {
        let (n, d, t) = (7, 5, 3);
        let x: Vec<f64> = (0..n * d).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        let r: Vec<f64> = (0..n * t).map(|i| ((i * 13) % 7) as f64 - 3.0).collect();
        let mut out = vec![0.0; d * t];
        xt_r(&x, n, d, &r, t, &mut out, 1);
        let mut out2 = vec![0.0; d * t];
        xt_r(&x, n, d, &r, t, &mut out2, 2);
        assert_eq!(out, out2);
        for j in 0..d {
            for k in 0..t {
                let want: f64 = (0..n).map(|i| x[j * n + i] * r[k * n + i]).sum();
                assert_eq!(out[j * t + k], want);
            }
        }
        let mut g = vec![0.0; d * d];
        gram(&x, n, d, &mut g, 1);
        for a in 0..d {
            for b in 0..d {
                let want: f64 = (0..n).map(|i| x[a * n + i] * x[b * n + i]).sum();
                assert_eq!(g[a * d + b], want, "gram[{a},{b}]");
            }
        }
        let w: Vec<f64> = (0..d * t).map(|i| i as f64 * 0.5).collect();
        let mut r2 = r.clone();
        sub_x_w(&x, n, d, &w, t, &mut r2, 1);
        for i in 0..n {
            for k in 0..t {
                let xw: f64 = (0..d).map(|j| x[j * n + i] * w[j * t + k]).sum();
                assert!((r2[k * n + i] - (r[k * n + i] - xw)).abs() < 1e-12);
            }
        }
        for t in [1, 3, 8, 11, 20] {
            let rows: Vec<f64> = (0..6 * t).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
            let coef = [0.5, -1.0, 2.0, 0.0, 3.0, -0.25];
            let idx = [0, 2, 3, 5];
            let mut out: Vec<f64> = (0..t).map(|k| k as f64).collect();
            sub_row_combination(&mut out, &coef, &rows, &idx);
            for (k, o) in out.iter().enumerate() {
                let want = k as f64 - idx.iter().map(|&p| coef[p] * rows[p * t + k]).sum::<f64>();
                assert!((o - want).abs() < 1e-12, "t {t} k {k}: {o} vs {want}");
            }
        }
        assert_eq!(
            dot(&x[..9], &r[..9]),
            (0..9).map(|i| x[i] * r[i]).sum::<f64>()
        );
    }

    #[test]
    fn padded_single_precision_blocks_start_on_cache_lines() {
        // leading dimensions: multiples of 16, never of 1024
        for (n, ld) in [
            (0, 0),
            (1, 16),
            (16, 16),
            (500, 512),
            (1000, 1008),
            (1024, 1040),
        ] {
            assert_eq!(padded_rows(n), ld, "n = {n}");
        }
        // resize as a Vec: kept values, new ones set, the start on a 64-byte boundary
        let mut buf = AlignedF32::default();
        buf.resize(5, 1.0);
        buf[4] = 7.0;
        buf.resize(40, 2.0);
        assert_eq!(buf.as_ptr() as usize % 64, 0);
        assert_eq!((buf.len(), buf[4], buf[5], buf[39]), (40, 7.0, 2.0, 2.0));
        buf.resize(3, 0.0);
        buf.resize(6, 3.0);
        assert_eq!(&buf[..], &[1.0, 1.0, 1.0, 3.0, 3.0, 3.0]);
        buf.clear();
        assert!(buf.is_empty());
        // columns rounded to f32, the padding rows zeroed (stale values there are cleared)
        let (n, m) = (5, 3);
        let x: Vec<f64> = (0..n * m).map(|i| i as f64 + 0.1).collect();
        let ld = padded_rows(n);
        let mut dst = AlignedF32::default();
        dst.resize(ld * m, f32::NAN);
        narrow_cols(&x, n, ld, m, &mut dst);
        assert_eq!(dst.len(), ld * m);
        for c in 0..m {
            for i in 0..ld {
                let want = if i < n { x[c * n + i] as f32 } else { 0.0 };
                assert_eq!(dst[c * ld + i], want, "column {c} row {i}");
            }
        }
    }
}
