//! Hand-written AVX-512 kernels for the thin products every fit runs on a dense design:
//! * `R −= X W` with few columns in `R` (the tasks): faer packs its operands for wide products
//!   and reaches about 40 % of the core's peak on this shape (`10000 × 500` by `10` tasks: 4.9
//!   ms against 3.4 ms here); this one keeps 16 rows of the tasks' columns in registers while
//!   it applies every column of `X`. Used by [`crate::linalg`] on one thread when the CPU has
//!   AVX-512F and `R` has at most 12 columns (one register group: wider `R` would stream `X`
//!   once per group, slower than faer's packed product, see [`sub_x_w_runs`]); in single
//!   precision, on a block of columns in cache, for any number of tasks.
//! * `Pᵀ D` in single precision on such a block ([`xt_d_f32`]): faer packs `Pᵀ` first and runs
//!   at 70–120 GFLOP/s on the blocked epoch's shapes; this one needs no packing and, on
//!   columns that start on cache lines, runs at 135–150. Its variant [`xt_d_f32_round`] takes
//!   the block's columns in `f64` and rounds them four at a time while fetching the next four
//!   (blocks too large to be fetched whole during the previous one).
//!
//! The entry points return `false` (nothing done) where a kernel does not run; the caller then
//! takes faer's product. Sums run in a fixed order, so results are deterministic (they differ
//! from faer's in the last bits).

/// Task columns per register group (`2 × TG` accumulators plus operands fit the 32 registers).
#[cfg(target_arch = "x86_64")]
const TG: usize = 12;

/// Whether [`sub_x_w`] runs here for `t` task columns: AVX-512F and at most one register
/// group of tasks. With more groups the kernel streams the columns of `X` once per group, by
/// strips of 16 rows that each touch a page per column: on `2000 × 10000` with 50 tasks that
/// made the residual's recomputation 2.5× slower than faer's packed product, so wider `R` goes
/// to faer.
pub(crate) fn sub_x_w_runs(t: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        t <= TG && available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = t;
        false
    }
}

/// Whether the kernels run here (AVX-512F).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The entry points' bounds (the kernels read and write within them): rows `r0..r1` of the
/// columns `cols` of `x` (length `xl`, leading dimension `ldx`), rows `cols` of `w` (length
/// `wl`, `t` columns) and the `t` columns of `r` (length `rl`, leading dimension `ldr`).
#[allow(clippy::too_many_arguments)]
fn check_bounds(
    xl: usize,
    ldx: usize,
    cols: &[usize],
    wl: usize,
    t: usize,
    rl: usize,
    ldr: usize,
    (r0, r1): (usize, usize),
) {
    assert!(
        r0 <= r1 && r1 <= ldx && r1 <= ldr,
        "row range out of bounds"
    );
    for &j in cols {
        assert!(xl >= j * ldx + r1, "x too short");
        assert!(wl >= (j + 1) * t, "w too short");
    }
    assert!(t == 0 || rl >= (t - 1) * ldr + r1, "r too short");
}

/// `R[i, k] −= Σ_{j ∈ cols} X[i, j] · W[j, k]` for `i ∈ r0..r1`: `x` column-major with leading
/// dimension `ldx`, `w` row-major with `t` columns (row `j` of `W` for column `j` of `X`),
/// `r` column-major with leading dimension `ldr`. Returns `false` (nothing done) where
/// [`sub_x_w_runs`] is false.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sub_x_w(
    x: &[f64],
    ldx: usize,
    cols: &[usize],
    w: &[f64],
    t: usize,
    r: &mut [f64],
    ldr: usize,
    rows: (usize, usize),
) -> bool {
    check_bounds(x.len(), ldx, cols, w.len(), t, r.len(), ldr, rows);
    #[cfg(target_arch = "x86_64")]
    {
        if sub_x_w_runs(t) {
            let (r0, r1) = rows;
            // SAFETY: AVX-512F is available (checked just above); the bounds are asserted above.
            unsafe {
                avx512::sub_x_w(x, ldx, cols, w, t, r, ldr, r0, r1, &mut Prefetch::default())
            };
            return true;
        }
    }
    false
}

/// [`sub_x_w`] in single precision (`x`, `w`, `r` all `f32`; the single-precision inner
/// loops' `D −= X_B ΔW_B`), for any `t` (the block is in cache, so reading it once per group
/// of [`TG`] tasks is cheap: 8.1 µs against faer's 10.9 µs on `500 × 64` by 20 tasks, the same
/// as faer's within 5 % on `2000 × 64` by 50); `false` (nothing done) without AVX-512F.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sub_x_w_f32(
    x: &[f32],
    ldx: usize,
    cols: &[usize],
    w: &[f32],
    t: usize,
    r: &mut [f32],
    ldr: usize,
    rows: (usize, usize),
    pf: &mut Prefetch,
) -> bool {
    check_bounds(x.len(), ldx, cols, w.len(), t, r.len(), ldr, rows);
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            let (r0, r1) = rows;
            // SAFETY: AVX-512F is available (checked just above); the bounds are asserted above.
            unsafe { avx512::sub_x_w_f32(x, ldx, cols, w, t, r, ldr, r0, r1, pf) };
            return true;
        }
    }
    false
}

/// Cache lines to fetch into L2 a few at a time from inside the kernels' loops: the next
/// block's columns of a blocked epoch, read from memory or L3 while the current block is
/// computed from L1 and L2 (the epoch otherwise waits for them when it rounds that block).
#[derive(Default)]
pub(crate) struct Prefetch {
    /// Spans (address, bytes) to fetch, in order.
    spans: Vec<(usize, usize)>,
    /// The span and the offset within it of the next line.
    at: usize,
    off: usize,
}

impl Prefetch {
    /// Start over with `spans`.
    pub(crate) fn reset(&mut self, spans: impl Iterator<Item = (usize, usize)>) {
        self.spans.clear();
        self.spans.extend(spans);
        self.at = 0;
        self.off = 0;
    }

    /// Fetch the next line into L2 (nothing once every span is fetched).
    #[inline(always)]
    pub(crate) fn next(&mut self) {
        if let Some(&(addr, len)) = self.spans.get(self.at) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a prefetch never faults, whatever the address.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(
                    (addr + self.off) as *const i8,
                );
            }
            self.off += 64;
            if self.off >= len {
                self.at += 1;
                self.off = 0;
            }
        }
    }
}

/// `out = Pᵀ D` in single precision (the single-precision inner loops' `X_Bᵀ D`): `p`
/// column-major `rows × m`, `dm` column-major `rows × t`, `out` row-major `m × t`. Each 4 × 4
/// tile of `out` keeps 16 accumulators of 16 rows in registers over all the rows (no packing:
/// the block is in cache), then sums their lanes with one shuffle tree. Sums run in a fixed
/// order (deterministic). Returns `false` (nothing done) without AVX-512F.
/// Panics if an operand is shorter than its shape.
pub(crate) fn xt_d_f32(
    p: &[f32],
    rows: usize,
    m: usize,
    dm: &[f32],
    t: usize,
    out: &mut [f32],
    pf: &mut Prefetch,
) -> bool {
    assert!(
        p.len() >= rows * m && dm.len() >= rows * t && out.len() >= m * t,
        "operand shorter than its shape"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: AVX-512F is available (checked just above); the lengths are asserted
            // above.
            unsafe { avx512::xt_d_f32(p, rows, m, dm, t, out, pf) };
            return true;
        }
    }
    false
}

/// The lower triangle of `PᵀP` in single precision, column-major in the `m × m` `out` (entry
/// `(i, j)`, `i ≥ j`, at `out[j·m + i]`; the upper triangle is left unspecified), for `p`
/// column-major `rows × m`: the tiles of [`xt_d_f32`] on and below the diagonal (a block's
/// Gram matrix when a working set's members change: 64 × 64 from 512 rows in about a third of
/// the time of faer's triangular product here). Returns `false` (nothing done) without
/// AVX-512F. Panics if an operand is shorter than its shape.
pub(crate) fn gram_lower_f32(p: &[f32], rows: usize, m: usize, out: &mut [f32]) -> bool {
    assert!(
        p.len() >= rows * m && out.len() >= m * m,
        "operand shorter than its shape"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: AVX-512F is available (checked just above); the lengths are asserted
            // above.
            unsafe { avx512::gram_lower_f32(p, rows, m, out) };
            return true;
        }
    }
    false
}

/// [`xt_d_f32`] on columns still in `f64`: `src` (each at most `ld` long) rounded into the
/// column-major `xb` (leading dimension `ld`, padding rows zero) four at a time, each group
/// just before its tiles, while the tiles fetch the next group's columns into L2 (one block
/// of an epoch otherwise waits on memory or L3 while all of it is rounded first). `out`
/// (row-major `|src| × t`) `= xbᵀ D`. Returns `false` (nothing done) without AVX-512F.
/// Panics if an operand is shorter than its shape.
pub(crate) fn xt_d_f32_round(
    src: &[&[f64]],
    ld: usize,
    xb: &mut [f32],
    dm: &[f32],
    t: usize,
    out: &mut [f32],
) -> bool {
    let m = src.len();
    assert!(
        src.iter().all(|c| c.len() <= ld)
            && xb.len() >= ld * m
            && dm.len() >= ld * t
            && out.len() >= m * t,
        "operand shorter than its shape"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: AVX-512F is available (checked just above); the lengths are asserted
            // above.
            unsafe { avx512::xt_d_f32_round(src, ld, xb, dm, t, out) };
            return true;
        }
    }
    false
}

/// `out[k] −= Σ_{p ∈ idx} coef[p] · rows[p·t + k]` for `k < t = out.len()` (`rows` row-major
/// with `t` columns): the blocked epoch's in-block gradient correction, with up to 32 lanes of
/// `out` in registers per pass over `idx` and two interleaved accumulator sets (a row's
/// corrections are a chain of up to 63 dependent FMAs per lane: two chains halve its latency).
/// The sum runs in a fixed order (deterministic). Returns `false` (nothing done) without
/// AVX-512F.
/// Panics if a row of `idx` lies outside `coef` or `rows`.
pub(crate) fn sub_row_combination(
    out: &mut [f64],
    coef: &[f64],
    rows: &[f64],
    idx: &[usize],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: AVX-512F is available (checked just above); the kernel indexes `coef` and
            // slices `rows` with bounds checks.
            unsafe { avx512::sub_row_combination(out, coef, rows, idx) };
            return true;
        }
    }
    let _ = (out, coef, rows, idx);
    false
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::TG;
    use std::arch::x86_64::{
        __m512, __m512d, _MM_HINT_T0, _mm_prefetch, _mm512_add_pd, _mm512_add_ps, _mm512_fmadd_ps,
        _mm512_fnmadd_pd, _mm512_fnmadd_ps, _mm512_mask_storeu_pd, _mm512_mask_storeu_ps,
        _mm512_maskz_loadu_pd, _mm512_maskz_loadu_ps, _mm512_set1_pd, _mm512_set1_ps,
        _mm512_setzero_pd, _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_shuffle_ps,
        _mm512_storeu_pd, _mm512_storeu_ps,
    };

    /// The mask of the `v`-th group of 8 lanes of a `w`-lane panel.
    #[inline(always)]
    fn lanes(w: usize, v: usize) -> u8 {
        let k = w.saturating_sub(8 * v).min(8);
        ((1u16 << k) - 1) as u8
    }

    /// See [`super::sub_row_combination`].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sub_row_combination(
        out: &mut [f64],
        coef: &[f64],
        rows: &[f64],
        idx: &[usize],
    ) {
        let t = out.len();
        let mut s = 0;
        while s < t {
            let w = (t - s).min(32);
            // SAFETY: as the caller's (lanes `s..s + w` of rows within bounds).
            unsafe {
                match w.div_ceil(8) {
                    1 => panel::<1>(out, coef, rows, idx, s, w),
                    2 => panel::<2>(out, coef, rows, idx, s, w),
                    3 => panel::<3>(out, coef, rows, idx, s, w),
                    _ => panel::<4>(out, coef, rows, idx, s, w),
                }
            }
            s += w;
        }
    }

    /// Lanes `s..s + w` (`w ≤ 8·NV`) of [`sub_row_combination`].
    #[target_feature(enable = "avx512f")]
    unsafe fn panel<const NV: usize>(
        out: &mut [f64],
        coef: &[f64],
        rows: &[f64],
        idx: &[usize],
        s: usize,
        w: usize,
    ) {
        let t = out.len();
        let mut a = [_mm512_setzero_pd(); NV];
        let mut b = [_mm512_setzero_pd(); NV];
        let pairs = idx.chunks_exact(2);
        let rest = pairs.remainder();
        // each row's lanes `s..s + w` as a checked slice (a row outside `rows` panics)
        let lanes_of = |p: usize| rows[p * t + s..p * t + s + w].as_ptr();
        let out = &mut out[s..s + w];
        // SAFETY (all loads and stores below): masked to lanes `< w` of those slices and of
        // `out`, so every touched address lies within them.
        unsafe {
            for pq in pairs {
                let (p, q) = (pq[0], pq[1]);
                let (cp, cq) = (_mm512_set1_pd(coef[p]), _mm512_set1_pd(coef[q]));
                let (rp, rq) = (lanes_of(p), lanes_of(q));
                for (v, (av, bv)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
                    let m = lanes(w, v);
                    *av = _mm512_fnmadd_pd(cp, _mm512_maskz_loadu_pd(m, rp.add(8 * v)), *av);
                    *bv = _mm512_fnmadd_pd(cq, _mm512_maskz_loadu_pd(m, rq.add(8 * v)), *bv);
                }
            }
            for &p in rest {
                let cp = _mm512_set1_pd(coef[p]);
                let rp = lanes_of(p);
                for (v, av) in a.iter_mut().enumerate() {
                    let m = lanes(w, v);
                    *av = _mm512_fnmadd_pd(cp, _mm512_maskz_loadu_pd(m, rp.add(8 * v)), *av);
                }
            }
            let op = out.as_mut_ptr();
            for (v, (av, bv)) in a.iter().zip(&b).enumerate() {
                let m = lanes(w, v);
                let o = _mm512_maskz_loadu_pd(m, op.add(8 * v));
                let sum = _mm512_add_pd(*av, *bv);
                _mm512_mask_storeu_pd(op.add(8 * v), m, _mm512_add_pd(o, sum));
            }
        }
    }

    /// The lane sums of 16 registers: lane `4ℓ + k` of the result is the sum of `a[4k + ℓ]`
    /// (a tree of 128-bit and in-lane shuffles, 15 additions).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce16(a: [__m512; 16]) -> __m512 {
        // 16 → 8: lanes 0..8 of s[q] sum to a[2q], lanes 8..16 to a[2q + 1]
        let s: [__m512; 8] = std::array::from_fn(|q| {
            let (x, y) = (a[2 * q], a[2 * q + 1]);
            _mm512_add_ps(
                _mm512_shuffle_f32x4::<0x44>(x, y),
                _mm512_shuffle_f32x4::<0xEE>(x, y),
            )
        });
        // 8 → 4: 128-bit lane ℓ of u[q] sums to a[4q + ℓ]
        let u: [__m512; 4] = std::array::from_fn(|q| {
            let (x, y) = (s[2 * q], s[2 * q + 1]);
            _mm512_add_ps(
                _mm512_shuffle_f32x4::<0x88>(x, y),
                _mm512_shuffle_f32x4::<0xDD>(x, y),
            )
        });
        // 4 → 2: in 128-bit lane ℓ of v[r], elements 0, 1 sum to a[8r + ℓ], 2, 3 to a[8r + 4 + ℓ]
        let v: [__m512; 2] = std::array::from_fn(|r| {
            let (x, y) = (u[2 * r], u[2 * r + 1]);
            _mm512_add_ps(
                _mm512_shuffle_ps::<0x44>(x, y),
                _mm512_shuffle_ps::<0xEE>(x, y),
            )
        });
        // 2 → 1: element k of 128-bit lane ℓ is the sum of a[4k + ℓ]
        _mm512_add_ps(
            _mm512_shuffle_ps::<0x88>(v[0], v[1]),
            _mm512_shuffle_ps::<0xDD>(v[0], v[1]),
        )
    }

    /// Rows per panel of the `Pᵀ D` kernels (a tile sums one panel, the next ones add to it).
    const CHUNK: usize = 512;

    /// See [`super::xt_d_f32`].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn xt_d_f32(
        p: &[f32],
        rows: usize,
        m: usize,
        dm: &[f32],
        t: usize,
        out: &mut [f32],
        pf: &mut super::Prefetch,
    ) {
        for j0 in (0..m).step_by(4) {
            // SAFETY: columns j0..j0 + 4 ∧ m of `p`, every column of `dm` (asserted by the
            // entry point)
            unsafe { group_tiles(p.as_ptr(), dm.as_ptr(), rows, (j0, m), (0, t), out, pf, 1) };
        }
    }

    /// See [`super::gram_lower_f32`].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gram_lower_f32(p: &[f32], rows: usize, m: usize, out: &mut [f32]) {
        let mut pf = super::Prefetch::default();
        for j0 in (0..m).step_by(4) {
            // SAFETY: columns of `p` below `m`, rows below `rows`; `out` is `m × m` (asserted
            // by the entry point)
            unsafe {
                group_tiles(
                    p.as_ptr(),
                    p.as_ptr(),
                    rows,
                    (j0, m),
                    (j0, m),
                    out,
                    &mut pf,
                    1,
                )
            };
        }
    }

    /// See [`super::xt_d_f32_round`].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn xt_d_f32_round(
        src: &[&[f64]],
        ld: usize,
        xb: &mut [f32],
        dm: &[f32],
        t: usize,
        out: &mut [f32],
    ) {
        let m = src.len();
        let mut pf = super::Prefetch::default();
        // lines of the next group to fetch per step: a group's 4 columns are `ld / 2` lines,
        // its tiles `⌈t/4⌉·ld/16` steps
        let per_step = 8usize.div_ceil(t.div_ceil(4)).clamp(1, 4);
        for j0 in (0..m).step_by(4) {
            // this group's columns, rounded (from L2: fetched during the previous group)
            for (c, s) in src.iter().enumerate().skip(j0).take(4) {
                let col = &mut xb[c * ld..(c + 1) * ld];
                crate::linalg::narrow_into(s, &mut col[..s.len()]);
                col[s.len()..].fill(0.0);
            }
            pf.reset(
                src.iter()
                    .skip(j0 + 4)
                    .take(4)
                    .map(|s| (s.as_ptr() as usize, std::mem::size_of_val(*s))),
            );
            // SAFETY: as above, on the rounded block
            unsafe {
                group_tiles(
                    xb.as_ptr(),
                    dm.as_ptr(),
                    ld,
                    (j0, m),
                    (0, t),
                    out,
                    &mut pf,
                    per_step,
                )
            };
        }
    }

    /// Rows of `out = Pᵀ D` for the columns `j0..j0 + 4 ∧ m` of `P` (`p` and `dm` column-major
    /// with leading dimension `rows`), the groups of four columns of `D` from `k_from` (a
    /// multiple of 4) to `t`, by panels of
    /// [`CHUNK`] rows (the first replaces, the others add): `per_step` lines of `pf` fetched
    /// per 16 rows.
    ///
    /// # Safety
    /// AVX-512F; `p` holds the `m` columns and `dm` the `t` columns of `rows` values each, and
    /// `out` is `m × t`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn group_tiles(
        p: *const f32,
        dm: *const f32,
        rows: usize,
        (j0, m): (usize, usize),
        (k_from, t): (usize, usize),
        out: &mut [f32],
        pf: &mut super::Prefetch,
        per_step: usize,
    ) {
        const L: usize = 16;
        let mj = (m - j0).min(4);
        let mut lanes = [0.0f32; 16];
        let mut r0 = 0;
        while r0 < rows || (r0 == 0 && rows == 0) {
            let rc = (rows - r0).min(CHUNK);
            let (steps, tail) = (rc / L, rc % L);
            let tmask: u16 = ((1u32 << tail) - 1) as u16;
            let (pp, dp) = (p.wrapping_add(r0), dm.wrapping_add(r0));
            // a partial tile repeats its last column (its sums are not stored)
            // SAFETY (all pointer arithmetic below): columns j0 + jj < m of `p` and
            // k0 + kk < t of `dm`, rows below `rows` (the caller's contract).
            let pc: [*const f32; 4] =
                std::array::from_fn(|jj| unsafe { pp.add((j0 + jj.min(mj - 1)) * rows) });
            for k0 in (k_from..t).step_by(4) {
                let nk = (t - k0).min(4);
                let dc: [*const f32; 4] =
                    std::array::from_fn(|kk| unsafe { dp.add((k0 + kk.min(nk - 1)) * rows) });
                // SAFETY: as above
                let z = unsafe { tile(pc, dc, steps, tail, tmask, pf, per_step) };
                // SAFETY: 16 lanes into a 16-element array
                unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), z) };
                put_tile(&lanes, out, j0, mj, k0, nk, t, r0 > 0);
            }
            r0 += CHUNK;
        }
    }

    /// One 4 × 4 tile of `Pᵀ D` over `steps` full groups of 16 rows and a masked tail (columns
    /// `pc` of `P`, `dc` of `D`, from their row `r0`), `per_step` lines of `pf` fetched per
    /// group of rows; the lane sums as [`reduce16`] orders them.
    ///
    /// # Safety
    /// AVX-512F; the rows read lie within the columns.
    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        pc: [*const f32; 4],
        dc: [*const f32; 4],
        steps: usize,
        tail: usize,
        tmask: u16,
        pf: &mut super::Prefetch,
        per_step: usize,
    ) -> __m512 {
        const L: usize = 16;
        let mut acc = [_mm512_setzero_ps(); 16];
        let mut step = |o: usize, mask: u16| {
            for _ in 0..per_step {
                pf.next();
            }
            // SAFETY: rows o..o + 16 (or the masked ones) of the tile's columns
            let xv: [__m512; 4] =
                std::array::from_fn(|jj| unsafe { _mm512_maskz_loadu_ps(mask, pc[jj].add(o)) });
            let dv: [__m512; 4] =
                std::array::from_fn(|kk| unsafe { _mm512_maskz_loadu_ps(mask, dc[kk].add(o)) });
            for kk in 0..4 {
                for jj in 0..4 {
                    acc[4 * kk + jj] = _mm512_fmadd_ps(xv[jj], dv[kk], acc[4 * kk + jj]);
                }
            }
        };
        for s in 0..steps {
            step(s * L, 0xffff);
        }
        if tail > 0 {
            step(steps * L, tmask);
        }
        reduce16(acc)
    }

    /// A tile's sums into `out` (lane `4·jj + kk` at `out[j0 + jj, k0 + kk]`), replaced or
    /// (`add`) accumulated, element by element (a copy of variable length would be a call to
    /// `memcpy`, 1.5 % of an elastic-net fit).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn put_tile(
        lanes: &[f32; 16],
        out: &mut [f32],
        j0: usize,
        mj: usize,
        k0: usize,
        nk: usize,
        t: usize,
        add: bool,
    ) {
        for jj in 0..mj {
            let o = (j0 + jj) * t + k0;
            let put = |out: &mut [f32], kk: usize| {
                let v = lanes[4 * jj + kk];
                if add {
                    out[o + kk] += v;
                } else {
                    out[o + kk] = v;
                }
            };
            if nk == 4 {
                for kk in 0..4 {
                    put(out, kk);
                }
            } else {
                for kk in 0..nk {
                    put(out, kk);
                }
            }
        }
    }

    /// The kernel for one element type: `$elem` in registers `$vec` of `$lanes` lanes with
    /// lane masks `$mask` (`$full` = every lane), and the intrinsics of that type.
    macro_rules! kernel {
        (
            $name:ident, $group:ident, $elem:ty, $vec:ty, $mask:ty, $full:expr, $lanes:expr,
            $setzero:ident, $loadu:ident, $set1:ident, $fnmadd:ident, $storeu:ident,
            $mask_storeu:ident
        ) => {
            /// See [`super::sub_x_w`] (and [`super::sub_x_w_f32`]); any `t` (groups of `TG`
            /// task columns).
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = "avx512f")]
            pub(super) unsafe fn $name(
                x: &[$elem],
                ldx: usize,
                cols: &[usize],
                w: &[$elem],
                t: usize,
                r: &mut [$elem],
                ldr: usize,
                r0: usize,
                r1: usize,
                pf: &mut super::Prefetch,
            ) {
                // SAFETY: the caller guarantees AVX-512F and the bounds (see the entry points).
                unsafe {
                    let xp = x.as_ptr();
                    let wp = w.as_ptr();
                    let rp = r.as_mut_ptr();
                    let mut k0 = 0;
                    while k0 < t {
                        let g = (t - k0).min(TG);
                        // SAFETY (all arms): rows r0..r1 of the columns `cols` of `x` and of
                        // columns k0..k0 + g ≤ t of `r`, and rows `cols` of `w` (asserted by
                        // the caller).
                        let (wk, rk) = (wp.add(k0), rp.add(k0 * ldr));
                        match g {
                            1 => $group::<1>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            2 => $group::<2>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            3 => $group::<3>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            4 => $group::<4>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            5 => $group::<5>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            6 => $group::<6>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            7 => $group::<7>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            8 => $group::<8>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            9 => $group::<9>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            10 => $group::<10>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            11 => $group::<11>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            12 => $group::<12>(xp, ldx, cols, wk, t, rk, ldr, r0, r1, pf),
                            _ => unreachable!("group size is 1..=TG"),
                        }
                        k0 += g;
                    }
                }
            }

            /// Rows `r0..r1` of `G` columns of `R`, two registers of rows at a time, every
            /// column of `cols` applied while they stay in registers; the next rows of each
            /// column are prefetched as the current ones are read (the columns are `ldx`
            /// apart: too many streams for the hardware prefetcher).
            #[allow(clippy::too_many_arguments)]
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn $group<const G: usize>(
                xp: *const $elem,
                ldx: usize,
                cols: &[usize],
                wp: *const $elem,
                t: usize,
                rp: *mut $elem,
                ldr: usize,
                r0: usize,
                r1: usize,
                pf: &mut super::Prefetch,
            ) {
                const L: usize = $lanes;
                // mask of the first `m < L` lanes
                let mask = |m: usize| -> $mask { ((1u32 << m) - 1) as $mask };
                // SAFETY: the caller guarantees AVX-512F and the bounds (see the entry points).
                unsafe {
                    let mut i = r0;
                    while i < r1 {
                        let m = r1 - i;
                        let (m0, m1) = if m >= 2 * L {
                            ($full, $full)
                        } else if m > L {
                            ($full, mask(m - L))
                        } else if m == L {
                            ($full, 0)
                        } else {
                            (mask(m), 0)
                        };
                        let mut acc0: [$vec; G] = [$setzero(); G];
                        let mut acc1: [$vec; G] = [$setzero(); G];
                        for k in 0..G {
                            acc0[k] = $loadu(m0, rp.add(k * ldr + i));
                            acc1[k] = $loadu(m1, rp.wrapping_add(k * ldr + i + L));
                        }
                        let ahead = i + 2 * L;
                        for &j in cols {
                            pf.next();
                            let xc = xp.add(j * ldx + i);
                            if ahead + 2 * L <= r1 {
                                _mm_prefetch::<_MM_HINT_T0>(xc.add(2 * L).cast());
                                _mm_prefetch::<_MM_HINT_T0>(xc.add(4 * L - 1).cast());
                            }
                            let x0 = $loadu(m0, xc);
                            let x1 = $loadu(m1, xc.wrapping_add(L));
                            let wr = wp.add(j * t);
                            for k in 0..G {
                                let wb = $set1(*wr.add(k));
                                acc0[k] = $fnmadd(x0, wb, acc0[k]);
                                acc1[k] = $fnmadd(x1, wb, acc1[k]);
                            }
                        }
                        for k in 0..G {
                            if m0 == $full {
                                $storeu(rp.add(k * ldr + i), acc0[k]);
                            } else {
                                $mask_storeu(rp.add(k * ldr + i), m0, acc0[k]);
                            }
                            if m1 == $full {
                                $storeu(rp.add(k * ldr + i + L), acc1[k]);
                            } else if m1 != 0 {
                                $mask_storeu(rp.wrapping_add(k * ldr + i + L), m1, acc1[k]);
                            }
                        }
                        i += m.min(2 * L);
                    }
                }
            }
        };
    }

    kernel!(
        sub_x_w,
        sub_x_w_group,
        f64,
        __m512d,
        u8,
        0xff,
        8,
        _mm512_setzero_pd,
        _mm512_maskz_loadu_pd,
        _mm512_set1_pd,
        _mm512_fnmadd_pd,
        _mm512_storeu_pd,
        _mm512_mask_storeu_pd
    );
    kernel!(
        sub_x_w_f32,
        sub_x_w_group_f32,
        f32,
        __m512,
        u16,
        0xffff,
        16,
        _mm512_setzero_ps,
        _mm512_maskz_loadu_ps,
        _mm512_set1_ps,
        _mm512_fnmadd_ps,
        _mm512_storeu_ps,
        _mm512_mask_storeu_ps
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn row_combination_kernel_matches_the_scalar_sum() {
        // every panel width (masked lanes, several 32-lane panels), odd and even numbers of
        // rows (the two accumulator chains), rows in any order, none at all
        if !super::available() {
            return;
        }
        for t in [1, 3, 8, 9, 20, 31, 32, 33, 50, 70] {
            let rows = fill(64 * t, t as u64);
            let coef = fill(64, 7 + t as u64);
            for idx in [
                vec![],
                vec![5],
                vec![0, 63],
                (0..63).collect(),
                vec![9, 2, 40, 2, 17],
            ] {
                let start = fill(t, 3);
                let mut out = start.clone();
                assert!(super::sub_row_combination(&mut out, &coef, &rows, &idx));
                for k in 0..t {
                    let want =
                        start[k] - idx.iter().map(|&p| coef[p] * rows[p * t + k]).sum::<f64>();
                    assert!(
                        (out[k] - want).abs() <= 1e-13,
                        "t {t} k {k}: {} vs {want}",
                        out[k]
                    );
                }
            }
        }
    }

    /// Every tile shape (partial tiles of columns and tasks), row counts around the register
    /// width (masked tails), none at all; against the plain sums in `f64`.
    #[test]
    fn transposed_product_kernel_matches_the_plain_sums() {
        for &rows in &[0usize, 1, 15, 16, 17, 33, 100, 500] {
            for &m in &[0usize, 1, 3, 4, 5, 9, 64] {
                for &t in &[1usize, 2, 3, 4, 6, 10, 20, 50] {
                    let seed = (rows * 10_000 + m * 100 + t) as u64;
                    let p: Vec<f32> = fill(rows * m, seed).iter().map(|&v| v as f32).collect();
                    let dm: Vec<f32> = fill(rows * t, seed + 1).iter().map(|&v| v as f32).collect();
                    // a sentinel past the end: the kernel writes `m × t` values only
                    let mut out = vec![f32::NAN; m * t + 1];
                    // (fetching lines along the way, here the operand's own, changes nothing)
                    let mut pf = super::Prefetch::default();
                    pf.reset(std::iter::once((p.as_ptr() as usize, 4 * p.len())));
                    if !super::xt_d_f32(&p, rows, m, &dm, t, &mut out, &mut pf) {
                        assert!(!super::available());
                        return;
                    }
                    assert!(out[m * t].is_nan());
                    for j in 0..m {
                        for k in 0..t {
                            check_product(
                                out[j * t + k],
                                &p[j * rows..(j + 1) * rows],
                                &dm[k * rows..(k + 1) * rows],
                                format_args!("rows {rows} m {m} t {t} ({j}, {k})"),
                            );
                        }
                    }
                }
            }
        }
    }

    /// The Gram kernel: the lower triangle (column-major) equals the plain sums, on blocks with
    /// partial groups of columns and row counts around the panel size.
    #[test]
    fn gram_kernel_lower_triangle_matches_the_plain_sums() {
        for &rows in &[0usize, 1, 17, 512, 530, 1100] {
            for &m in &[0usize, 1, 3, 4, 7, 64] {
                let seed = (rows * 100 + m) as u64;
                let p: Vec<f32> = fill(rows * m, seed).iter().map(|&v| v as f32).collect();
                let mut out = vec![f32::NAN; m * m + 1];
                if !super::gram_lower_f32(&p, rows, m, &mut out) {
                    assert!(!super::available());
                    return;
                }
                assert!(out[m * m].is_nan());
                for j in 0..m {
                    for i in j..m {
                        check_product(
                            out[j * m + i],
                            &p[i * rows..(i + 1) * rows],
                            &p[j * rows..(j + 1) * rows],
                            format_args!("rows {rows} m {m} ({i}, {j})"),
                        );
                    }
                }
            }
        }
    }

    /// The rounding variant: the columns rounded into the block (padding rows zero, stale
    /// values there cleared) and the same sums as the kernel on the rounded block.
    #[test]
    fn rounding_transposed_product_kernel_matches_the_plain_sums() {
        for &rows in &[0usize, 1, 17, 100, 500] {
            for &m in &[0usize, 1, 5, 9, 64] {
                for &t in &[1usize, 3, 4, 20, 50] {
                    let ld = crate::linalg::padded_rows(rows);
                    let seed = (rows * 10_000 + m * 100 + t) as u64;
                    let x = fill(rows * m, seed);
                    let src: Vec<&[f64]> = (0..m).map(|j| &x[j * rows..(j + 1) * rows]).collect();
                    let dm: Vec<f32> = fill(ld * t, seed + 1).iter().map(|&v| v as f32).collect();
                    let mut xb = vec![f32::NAN; ld * m];
                    let mut out = vec![f32::NAN; m * t];
                    if !super::xt_d_f32_round(&src, ld, &mut xb, &dm, t, &mut out) {
                        assert!(!super::available());
                        return;
                    }
                    for j in 0..m {
                        for i in 0..ld {
                            let want = if i < rows {
                                x[j * rows + i] as f32
                            } else {
                                0.0
                            };
                            assert_eq!(xb[j * ld + i], want, "rows {rows} column {j} row {i}");
                        }
                    }
                    let mut plain = vec![0.0f32; m * t];
                    assert!(super::xt_d_f32(
                        &xb,
                        ld,
                        m,
                        &dm,
                        t,
                        &mut plain,
                        &mut super::Prefetch::default()
                    ));
                    assert_eq!(out, plain, "rows {rows} m {m} t {t}");
                    for j in 0..m {
                        for k in 0..t {
                            check_product(
                                out[j * t + k],
                                &xb[j * ld..j * ld + rows],
                                &dm[k * ld..k * ld + rows],
                                format_args!("rows {rows} m {m} t {t} ({j}, {k})"),
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "shorter than its shape")]
    fn transposed_product_kernel_checks_its_bounds() {
        let mut out = vec![0.0f32; 6];
        super::xt_d_f32(
            &[0.0; 10],
            4,
            3,
            &[0.0; 8],
            2,
            &mut out,
            &mut super::Prefetch::default(),
        );
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn row_combination_kernel_checks_its_bounds() {
        // (through the dispatching entry point: the kernel or the portable loop)
        let mut out = vec![0.0; 4];
        crate::linalg::sub_row_combination(&mut out, &[1.0; 8], &[0.0; 12], &[3]);
    }

    /// `got` (a kernel's single-precision sum) against `Σ a_i b_i` in `f64`, within `1e-5`
    /// relative.
    fn check_product(got: f32, a: &[f32], b: &[f32], what: std::fmt::Arguments<'_>) {
        let want: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        let got = f64::from(got);
        assert!(
            (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
            "{what}: {got} vs {want}"
        );
    }

    fn fill(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    /// Shapes around the register widths (8 and 16 rows, 12 task columns), row ranges inside
    /// larger leading dimensions, a subset of the columns.
    #[test]
    fn kernel_equals_the_plain_sums() {
        let mut checked = 0;
        for &(rows, r0, ldx) in &[
            (0usize, 0usize, 3usize),
            (1, 0, 1),
            (7, 2, 12),
            (8, 0, 8),
            (9, 1, 13),
            (15, 0, 15),
            (16, 3, 20),
            (17, 0, 17),
            (31, 1, 33),
            (33, 5, 40),
            (64, 0, 70),
            (100, 0, 100),
        ] {
            let r1 = r0 + rows;
            for &d in &[0usize, 1, 2, 3, 5] {
                for &t in &[1usize, 2, 11, 12, 13, 25] {
                    let seed = (rows * 1000 + d * 50 + t) as u64;
                    let x = fill(d * ldx, seed);
                    let ldr = ldx + 1;
                    let r = fill(t * ldr, seed + 1);
                    let w = fill(d * t, seed + 2);
                    // R −= X_cols W_cols over the rows (every other column), other rows intact
                    let cols: Vec<usize> = (0..d).step_by(2).collect();
                    // single precision, 32-row registers pairs: within f32 rounding
                    let narrow = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
                    let (x32, w32) = (narrow(&x), narrow(&w));
                    // the entry points run one register group of tasks (where the CPU has
                    // AVX-512F); the kernels any number
                    let mut entry32 = narrow(&r);
                    let ran32 = super::sub_x_w_f32(
                        &x32,
                        ldx,
                        &cols,
                        &w32,
                        t,
                        &mut entry32,
                        ldr,
                        (r0, r1),
                        &mut super::Prefetch::default(),
                    );
                    let mut entry = r.clone();
                    let ran = super::sub_x_w(&x, ldx, &cols, &w, t, &mut entry, ldr, (r0, r1));
                    // (the f64 entry point runs one register group of tasks, since it streams
                    // all of `X`; the f32 one, for blocks in cache, any number)
                    assert_eq!(ran, t <= super::TG && super::available());
                    assert_eq!(ran32, super::available());
                    if !super::available() {
                        return; // the callers take faer's products
                    }
                    let (mut got, mut got32) = (r.clone(), narrow(&r));
                    // SAFETY: AVX-512F is available (checked above); the shapes hold the rows
                    // and columns used (as the entry points assert)
                    unsafe {
                        super::avx512::sub_x_w(
                            &x,
                            ldx,
                            &cols,
                            &w,
                            t,
                            &mut got,
                            ldr,
                            r0,
                            r1,
                            &mut super::Prefetch::default(),
                        );
                        super::avx512::sub_x_w_f32(
                            &x32,
                            ldx,
                            &cols,
                            &w32,
                            t,
                            &mut got32,
                            ldr,
                            r0,
                            r1,
                            &mut super::Prefetch::default(),
                        );
                    }
                    if ran {
                        assert_eq!(entry, got);
                    }
                    assert_eq!(entry32, got32);
                    for k in 0..t {
                        for i in 0..ldr {
                            let mut v = r[k * ldr + i];
                            if (r0..r1).contains(&i) {
                                for &j in &cols {
                                    v -= x[j * ldx + i] * w[j * t + k];
                                }
                            }
                            let g = got[k * ldr + i];
                            assert!((g - v).abs() <= 1e-12 * (1.0 + v.abs()), "{g} vs {v}");
                            let g32 = f64::from(got32[k * ldr + i]);
                            assert!((g32 - v).abs() <= 1e-5 * (1.0 + v.abs()), "{g32} vs {v}");
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 12 * 5 * 6);
    }
}
