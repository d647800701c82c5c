//! Block coordinate descent with working sets, gap-safe screening and Anderson extrapolation
//! (the accelerated path of [`BlockCoordinateDescent`](super::BlockCoordinateDescent)).
//!
//! Outer iteration: one full gradient `XᵀR` gives the duality gap (stop when `gap_n <= tol_n`,
//! the same certified rule as the plain solver; the gap is the objective at `W` against the
//! best dual point of the solve so far, each a feasible point, so it never grows between outer
//! iterations where the current residuals' own gap often does), gap-safe screening (around the
//! current dual point, with its own gap), and each feature's
//! optimality violation (distance of `−∇_j F` to `∂R(W_j)`). The working set is the current
//! support plus the most violating features, `max(100, 4·|support|, |candidates|/4)` in all
//! (skglm and celer use `max(10, 2·|support|)`; see [`GROWTH`]); the last term skips ramp-up
//! rounds when most features violate (e.g. an elastic net whose support is nearly everything).
//! Inner epochs run block CD on the working set only (two sweeps over the rows of a block of
//! strongly correlated features, see [`COUPLED`]); every `K = 5` epochs (after the first
//! [`ANDERSON_FROM`] epochs of a solve) the last iterates are extrapolated (Anderson, as skglm)
//! and the extrapolation is kept only if it lowers the objective; the inner loop ends when the
//! working set's largest violation falls below 0.3 × the outer one (0.9 × in a warm-started
//! solve along a path; or, when epochs are cheap, when the working set's own duality gap meets
//! the tolerance). After its second epoch an inner loop drops the working-set rows still at
//! zero when there are many of them ([`PRUNE_AFTER`]).
//!
//! The CD state takes one of three forms:
//! * the residual `R = Y − XW` (`n × T`): on a dense design an epoch handles the working set in
//!   blocks of 64 features with two matrix products per block (see [`Residual`]); with mixed
//!   precision an inner loop keeps `R₀` fixed and carries its change in `f32`, its products
//!   in `f32` too, and `R` is recomputed in `f64` when the loop ends (see [`Single`]: every
//!   outer evaluation, and so the certificate, is exact);
//! * working-set Gram mode, inside one inner loop: `X_wsᵀ X_ws` and `X_wsᵀ R`, chosen when the
//!   working set is small next to `n` (a row update then costs `|ws|·T` instead of `n·T`);
//! * Gram mode, `H = XᵀR = XᵀY − (XᵀX) W` (`d × T`; a row update costs `d·T`), for `n ≫ d` once
//!   the epochs run so far have cost about as much as `XᵀX` ([`AutoState`]).

use rand::Rng;
use rand::rngs::StdRng;

use crate::design::Design;
use crate::gap::{GapState, gap_from_parts};
use crate::penalty::{DualNorm, ProxRow};

/// Smallest working set.
const P0: usize = 100;
/// Working-set size relative to the support. Larger than skglm's 2: only violating features
/// enter (so a converged working set is the support whatever this factor), and fewer outer rounds
/// are spent ramping up (measured on the benchmark grid: 15–55 % fewer passes than p0 = 10, ×2).
const GROWTH: usize = 4;
/// A warm start's first working set: the support plus `1/WARM_GROWTH_DIV` of it (at least
/// [`P0`]) of the most violating features.
const WARM_GROWTH_DIV: usize = 2;
/// Anderson memory.
const K: usize = 5;
/// Inner-loop target: the working set's largest violation below this fraction of the outer
/// one (skglm's rule).
const INNER: f64 = 0.3;
/// [`INNER`] for a warm-started solve (along a path): its working set starts close to the
/// final one, and stopping its inner loops early (back to the full gradient, which updates
/// the working set and certifies the gap) pays — cross-validation on 200×2000×10 (100
/// alphas, tol 1e-4): 0.31 s at 0.3, 0.29 s at 0.9; the cold single fits of the benchmark
/// grid are up to 14 % slower at 0.9 and keep 0.3.
const INNER_WARM: f64 = 0.9;
/// Anderson extrapolation starts after this many epochs of a solve: an extrapolation costs
/// about an epoch (the move, its objective, the move back if rejected), which short solves —
/// warm-started alphas of a path converge in ≈ 5 epochs — never earn back (cross-validation on
/// 200×2000×10: 6 % faster; the single fits of the benchmark grid unchanged within noise).
const ANDERSON_FROM: usize = 20;
/// When inner epochs are cheap (working-set Gram mode) the inner loop runs until the working
/// set's duality gap meets the tolerance, or for this many epochs.
const INNER_CHEAP_MAX: usize = 20 * K;
/// After this many epochs of an inner loop, the working set drops the rows still at zero for
/// the rest of the loop (the next outer iteration sees every feature again), when at least
/// `1/PRUNE_MIN` of its rows are: a working set grown to every violating feature (7650 of
/// 10000 on the benchmark's wide problem at `α_max/10`, whose support is 4683) then runs its
/// remaining epochs on ≈ 5000 rows. Wide `α_max/10` Lasso 7 % and small 5 % faster (time to
/// 1e-8 suboptimality); after one epoch instead of two too many rows that enter later were
/// dropped (an extra outer round, 20 % slower).
const PRUNE_AFTER: usize = 2;
/// See [`PRUNE_AFTER`].
const PRUNE_MIN: usize = 8;
/// An approximate outer gap ([`CdState::approximate`]) steers the working set only while it
/// falls to at most this fraction of the previous outer iteration's gap; otherwise (it may sit
/// on its own rounding) an exact pass recomputes it.
const APPROX_PROGRESS: f64 = 0.5;
/// The outer loop asks for an approximate pass ([`CdState::outer_grad`]) only when the gap,
/// falling by the factor it fell last time, would stay above this multiple of the tolerance:
/// nearer, the pass would be followed by an exact one (small `α_max/10` Lasso: two approximate
/// passes and an exact one instead of three approximate ones and an exact one).
const APPROX_NEAR: f64 = 3.0;
/// An approximate pass folds the loop's `‖D‖` into its anchor (see [`Single`]): it is taken
/// only while the folded rounding stays below this fraction of what the hand-over check allows
/// at the current violations (the next loop divides them by about ten).
const APPROX_ROOM: f64 = 0.1;

/// A single-precision epoch fetches the next block's columns into L2 while it computes the
/// current block when they take at most this many bytes.
const PREFETCH_MAX: usize = 512 << 10;

/// What block CD needs from its state.
pub(super) trait CdState {
    /// `out = X_jᵀ R` (length `t`).
    fn grad_row(&self, j: usize, out: &mut [f64]);
    /// Row `j` of `W` changed by `delta`: `R −= X_j deltaᵀ`.
    fn update_row(&mut self, j: usize, delta: &[f64]);
    /// `out = XᵀR` (`d × t` row-major).
    fn full_grad(&mut self, w: &[f64], out: &mut [f64]);
    /// The outer loop's `XᵀR` (`out` holds the buffer [`take_outer_xtr`](Self::take_outer_xtr)
    /// handed back, if any): [`full_grad`](Self::full_grad) by default; a state may return an
    /// approximation here when `approx_ok` (the outer loop does not expect to stop on it) and
    /// say so through [`approximate`](Self::approximate).
    fn outer_grad(&mut self, w: &[f64], out: &mut [f64], _approx_ok: bool) {
        self.full_grad(w, out);
    }
    /// `(‖R‖², ⟨R, Y⟩)`; valid after [`full_grad`](Self::full_grad) (the outer loop).
    fn r2_ry(&self, w: &[f64]) -> (f64, f64);
    /// `‖R‖²`, valid at any point (the inner loop's objective checks).
    fn r2(&self, w: &[f64]) -> f64 {
        self.r2_ry(w).0
    }
    /// Called after each epoch with the number of rows it updated.
    fn account(&mut self, _rows: usize) {}
    /// Called before each inner loop, with the working set, the number of candidates it was
    /// drawn from (support plus violating features) and the outer loop's `XᵀR` (`d × t`
    /// row-major; a point where the state may change form).
    fn before_inner(&mut self, _w: &[f64], _ws: &[usize], _candidates: usize, _xtr: &mut Vec<f64>) {
    }
    /// The outer loop's `XᵀR` buffer, if [`before_inner`](Self::before_inner) took it (a
    /// single-precision inner loop reads its gradients at the loop's start from it instead of
    /// copying them); the outer loop takes it back before its next `XᵀR`.
    fn take_outer_xtr(&mut self) -> Option<Vec<f64>> {
        None
    }
    /// Whether [`full_grad`](Self::full_grad) and [`r2_ry`](Self::r2_ry) are approximations
    /// (a Gram matrix with single-precision products): the outer loop then neither stops,
    /// screens nor keeps a dual point on them, and calls [`exact`](Self::exact) first.
    fn approximate(&self) -> bool {
        false
    }
    /// `out = XᵀR` and `(‖R‖², ⟨R, Y⟩)` exactly (`f64` passes over `X`); an approximate state
    /// continues from them. Default: [`full_grad`](Self::full_grad) and
    /// [`r2_ry`](Self::r2_ry).
    fn exact(&mut self, w: &[f64], out: &mut [f64]) -> (f64, f64) {
        self.full_grad(w, out);
        self.r2_ry(w)
    }
    /// `(‖R‖², ⟨R, Y⟩)` during an inner loop, when the state has them cheaply (working-set
    /// Gram mode); `None` otherwise.
    fn inner_r2_ry(&self) -> Option<(f64, f64)> {
        None
    }
    /// One cyclic epoch: a block update of each row of `ws`, in order (`prox(v, step)` is the
    /// penalty's row prox): [`epoch_into`](Self::epoch_into) without a record of the changes
    /// (the tests' shorthand).
    #[cfg(test)]
    fn epoch(&mut self, w: &mut [f64], ws: &[usize], norm2: &[f64], nf: f64, prox: Prox<'_>) {
        self.epoch_into(w, ws, norm2, nf, prox, None);
    }
    /// One cyclic epoch (as [`epoch`](Self::epoch)), adding each row's change to row `i` of
    /// `changes` (`|ws| × t` row-major, `f32`; row `i` for `ws[i]`) when given: [`Anderson`]'s
    /// difference of iterates, recorded as the epoch makes it instead of kept as a snapshot of
    /// `W`. Default: row by row through [`grad_row`](Self::grad_row) and
    /// [`update_row`](Self::update_row).
    fn epoch_into(
        &mut self,
        w: &mut [f64],
        ws: &[usize],
        norm2: &[f64],
        nf: f64,
        prox: Prox<'_>,
        changes: Option<&mut [f32]>,
    ) {
        epoch_rows(self, w, ws, norm2, nf, prox, changes);
    }
    /// The largest optimality violation ([`violation`]) the last [`epoch`](Self::epoch) saw,
    /// each row's taken just before its update (at the point the sweep had reached), when the
    /// epoch tracked it; `None` otherwise. Free where an end-of-epoch gradient is not
    /// ([`Residual`]'s blocked epoch: `X_wsᵀR` is a pass over the working set's columns).
    fn epoch_violation(&self) -> Option<f64> {
        None
    }
    /// Whether the next [`epoch`](Self::epoch) must measure [`epoch_violation`](Self::epoch_violation)
    /// (the inner loop reads it every [`K`] epochs): a state whose epoch pays for the measure
    /// (the blocked epoch: a square root and a division per row) skips it otherwise, and its
    /// `epoch_violation` is then `None`. Unless told, an epoch measures.
    fn measure_next(&mut self, _on: bool) {}
    /// `out[i] = X_{rows[i]}ᵀ R` (`|rows| × t` row-major).
    fn grad_rows(&mut self, rows: &[usize], out: &mut [f64]) {
        let t = out.len() / rows.len().max(1);
        for (&j, o) in rows.iter().zip(out.chunks_exact_mut(t.max(1))) {
            self.grad_row(j, o);
        }
    }
    /// Rows `rows[i]` of `W` changed by `deltas[i]` (`|rows| × t` row-major).
    fn update_rows(&mut self, rows: &[usize], deltas: &[f64]) {
        let t = deltas.len() / rows.len().max(1);
        for (&j, dl) in rows.iter().zip(deltas.chunks_exact(t.max(1))) {
            if dl.iter().any(|&v| v != 0.0) {
                self.update_row(j, dl);
            }
        }
    }
    /// Whether the state keeps `R` in a form that [`residual_snapshot`](Self::residual_snapshot)
    /// reads and [`set_residual`](Self::set_residual) writes (residual mode outside
    /// working-set Gram mode): [`Anderson`] then moves `R` with `W` from a history of residuals
    /// (`n·t` per difference, no pass over the working set's columns).
    fn residual_history(&self) -> bool {
        false
    }
    /// `last = R` (`n × t` column-major, `f64`), and `diff = R − last` (the `last` given, in
    /// `f32`) when asked.
    fn residual_snapshot(&self, _last: &mut Vec<f64>, _diff: Option<&mut Vec<f32>>) {}
    /// `R = base − Σ_l below_l · diffs_l` (`W` was moved to the matching point).
    fn set_residual(&mut self, _base: &[f64], _diffs: &[Vec<f32>], _below: &[f64]) {}
    /// Changes whenever `R` is recomputed as `Y − XW`: a difference of residuals across such
    /// a recomputation holds its rounding correction besides `−X ΔW`, so [`Anderson`] moves
    /// `R` from its history only while this stays the same.
    fn residual_generation(&self) -> u64 {
        0
    }
}

/// The row prox of the penalties this solver takes, `a‖·‖₂ + (b/2)‖·‖²` (the form their
/// [`DualNorm`] weights describe, and the one [`ProxRow`] computes for them), inlined into the
/// row update: one call per row update, the most frequent operation of a fit.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowProx {
    a: f64,
    b: f64,
}

impl RowProx {
    /// The prox of `penalty`.
    pub(super) fn of<P: DualNorm>(penalty: &P) -> Self {
        Self {
            a: penalty.l21_weight(),
            b: penalty.ridge_weight(),
        }
    }

    /// The block CD update of a row with `‖X_j‖² = nj`: on entry `v` holds the row's gradient
    /// term `X_jᵀR`, on exit the new row `prox_{(n/nj) R}(old + v / nj)`.
    #[inline(always)]
    fn update(&self, v: &mut [f64], old: &[f64], nj: f64, nf: f64) {
        let inv = 1.0 / nj;
        for (x, o) in v.iter_mut().zip(old) {
            *x = *x * inv + o;
        }
        let s2 = crate::linalg::sum_squares(v);
        let thr = nf * inv * self.a;
        // block soft-thresholding (a row that stays at zero needs no square root), then the
        // ridge part's shrinkage
        if s2 <= thr * thr {
            v.iter_mut().for_each(|x| *x = 0.0);
            return;
        }
        // (1 − thr/s) / (1 + nf·b/nj) with one division
        let s = s2.sqrt();
        let scale = (s - thr) / (s * (1.0 + nf * inv * self.b));
        v.iter_mut().for_each(|x| *x *= scale);
    }
}

/// The row prox an epoch applies.
pub(super) type Prox<'a> = &'a RowProx;

/// Features per block in [`Residual`]'s blocked epoch (measured on the benchmark grid).
const BLOCK: usize = 64;

/// A block whose members are this strongly coupled — the mean over its members of
/// `Σ_p corr²(X_i, X_p)` over the other members — gets a second sweep over its rows in each
/// epoch (in cache: `b²·t` flops against the block's `4·n·b·t` of products). On the benchmark's
/// AR(1) designs blocks of consecutive features measure 2–8 at ρ = 0.9 and 0.1–0.8 at ρ = 0.5
/// (independent columns: about `b / n`). A second sweep made small ρ = 0.9 fits 18–48 %
/// faster but, given to every block, ρ = 0.5 ones 7–29 % slower: hence the threshold, which
/// only ρ = 0.9 blocks pass there (a third sweep: slower than two on most fits).
const COUPLED: f64 = 1.5;

/// Smallest `R` (`n·t` elements) whose inner loops run in single precision ([`Single`]):
/// below it an epoch's products are too small for `f32` to pay for the rounding of each block
/// and the exact update that ends each loop.
pub(super) const SINGLE_MIN_NT: usize = 1 << 13;

/// Bound on the relative rounding of a single-precision product's entry, `|X_jᵀD|` against
/// `‖X_j‖·‖D‖` (`f32`'s unit roundoff 6e-8 with room for the accumulation).
const SINGLE_ROUNDING: f64 = 1e-6;
/// A single-precision loop continues in `f64` once its largest violation is within this factor
/// of its products' rounding bound (see [`Single`]).
const SINGLE_MARGIN: f64 = 100.0;

/// Largest `R` (`n·t` elements, 256 KiB) to which [`Residual::apply_pending`] applies a pending
/// `ΔW` a chunk of whole columns at a time (`R` then stays in cache, and no panel of rows of
/// every moved column is gathered); a larger `R` is updated a panel of rows at a time.
const PENDING_COLUMNS_MAX: usize = 1 << 15;

/// Columns per gathered chunk in [`Residual`]'s batched `X_rowsᵀR` and `R −= X_rows Δ`: up to
/// [`BLOCK`], fewer when `n` is large so that the gather buffer stays within 1 MiB (these
/// products run at memory speed for large `n` whatever the chunk).
/// [`Residual::recompute`] takes a span of consecutive columns whole (zero rows of `W`
/// included) when the support fills at least this fraction of it: a view of `X` instead of a
/// gathered copy of the support's columns.
const DENSE_RUN: f64 = 0.75;

fn chunk_cols(n: usize) -> usize {
    ((1usize << 17) / n.max(1)).clamp(8, BLOCK)
}

/// One cyclic epoch, row by row (each row's change added to `changes`, as
/// [`CdState::epoch_into`]).
fn epoch_rows<S: CdState + ?Sized>(
    state: &mut S,
    w: &mut [f64],
    ws: &[usize],
    norm2: &[f64],
    nf: f64,
    prox: Prox<'_>,
    mut changes: Option<&mut [f32]>,
) {
    let t = w.len() / norm2.len().max(1);
    let mut tmp = vec![0.0; t];
    let mut delta = vec![0.0; t];
    for (i, &j) in ws.iter().enumerate() {
        if cd_row(state, w, j, t, norm2[j], nf, prox, &mut tmp, &mut delta) {
            add_changes(changes.as_deref_mut(), i * t, &delta);
        }
    }
}

/// `changes[off..off + len] += rows` (in `f32`) when there is a record ([`CdState::epoch_into`]).
#[inline]
fn add_changes(changes: Option<&mut [f32]>, off: usize, rows: &[f64]) {
    if let Some(c) = changes {
        for (o, &v) in c[off..off + rows.len()].iter_mut().zip(rows) {
            #[allow(clippy::cast_possible_truncation)]
            {
                *o += v as f32;
            }
        }
    }
}

/// Residual state that switches to Gram mode once the epochs run so far have cost about as
/// much as building `XᵀX` (automatic Gram mode: cheap fits never pay for the Gram matrix,
/// long ones stop paying `n·T` per row update).
pub(super) enum AutoState<'a, X> {
    /// Residual mode, with the accumulated cost `Σ |ws|·T`, the switch threshold and whether
    /// Gram mode may use single-precision products ([`AutoState::Mixed`]).
    Residual(Residual<'a, X>, usize, usize, bool),
    /// Gram mode.
    Gram(Gram),
    /// Gram mode on `XᵀX` formed with single-precision products (about half the time of the
    /// `f64` one, which is most of a fit with `n ≫ d`), kept exact by the residual state:
    /// `H = C − G W` with `C = XᵀR_ref + G W_ref` from the last exact pass at `W_ref`, so the
    /// rounding of `G` only touches `G·(W − W_ref)`; each stopping check first recomputes
    /// `R = Y − XW` and `XᵀR` in `f64` ([`CdState::exact`]) and starts again from them
    /// (iterative refinement: the error shrinks with the step, not with `W`).
    Mixed(Gram, Residual<'a, X>),
}

impl<'a, X: Design> AutoState<'a, X> {
    /// Start in residual mode; switch when `Σ |ws|·T` (spent, plus the next `K` epochs) exceeds
    /// `d²/16`: a row update costs `4·n·T` flops bound by memory bandwidth, the (triangular) Gram
    /// matrix `n·d²` flops at GEMM speed, about 4× faster per flop. `mixed`: Gram mode may
    /// form `XᵀX` in single precision ([`AutoState::Mixed`]; a single fit, where the exact
    /// passes it adds are paid once — along a path each alpha would pay its own).
    pub fn new(res: Residual<'a, X>, mixed: bool) -> Self {
        let d = res.x.n_features();
        Self::Residual(res, 0, d.saturating_mul(d) / 16, mixed)
    }
}

impl<X: Design> CdState for AutoState<'_, X> {
    #[inline]
    fn grad_row(&self, j: usize, out: &mut [f64]) {
        match self {
            Self::Residual(r, ..) => r.grad_row(j, out),
            Self::Gram(g) | Self::Mixed(g, _) => g.grad_row(j, out),
        }
    }
    #[inline]
    fn update_row(&mut self, j: usize, delta: &[f64]) {
        match self {
            Self::Residual(r, ..) => r.update_row(j, delta),
            Self::Gram(g) | Self::Mixed(g, _) => g.update_row(j, delta),
        }
    }
    fn full_grad(&mut self, w: &[f64], out: &mut [f64]) {
        match self {
            Self::Residual(r, ..) => r.full_grad(w, out),
            Self::Gram(g) | Self::Mixed(g, _) => g.full_grad(w, out),
        }
    }
    fn outer_grad(&mut self, w: &[f64], out: &mut [f64], approx_ok: bool) {
        match self {
            Self::Residual(r, ..) => r.outer_grad(w, out, approx_ok),
            Self::Gram(g) | Self::Mixed(g, _) => g.full_grad(w, out),
        }
    }
    fn r2_ry(&self, w: &[f64]) -> (f64, f64) {
        match self {
            Self::Residual(r, ..) => r.r2_ry(w),
            Self::Gram(g) | Self::Mixed(g, _) => g.r2_ry(w),
        }
    }
    fn epoch_into(
        &mut self,
        w: &mut [f64],
        ws: &[usize],
        norm2: &[f64],
        nf: f64,
        prox: Prox<'_>,
        changes: Option<&mut [f32]>,
    ) {
        match self {
            Self::Residual(r, ..) => r.epoch_into(w, ws, norm2, nf, prox, changes),
            Self::Gram(g) | Self::Mixed(g, _) => g.epoch_into(w, ws, norm2, nf, prox, changes),
        }
    }
    fn grad_rows(&mut self, rows: &[usize], out: &mut [f64]) {
        match self {
            Self::Residual(r, ..) => r.grad_rows(rows, out),
            Self::Gram(g) | Self::Mixed(g, _) => g.grad_rows(rows, out),
        }
    }
    fn update_rows(&mut self, rows: &[usize], deltas: &[f64]) {
        match self {
            Self::Residual(r, ..) => r.update_rows(rows, deltas),
            Self::Gram(g) | Self::Mixed(g, _) => g.update_rows(rows, deltas),
        }
    }
    fn residual_history(&self) -> bool {
        match self {
            Self::Residual(r, ..) => r.residual_history(),
            Self::Gram(_) | Self::Mixed(..) => false,
        }
    }
    fn residual_snapshot(&self, last: &mut Vec<f64>, diff: Option<&mut Vec<f32>>) {
        if let Self::Residual(r, ..) = self {
            r.residual_snapshot(last, diff);
        }
    }
    fn set_residual(&mut self, base: &[f64], diffs: &[Vec<f32>], below: &[f64]) {
        if let Self::Residual(r, ..) = self {
            r.set_residual(base, diffs, below);
        }
    }
    fn residual_generation(&self) -> u64 {
        match self {
            Self::Residual(r, ..) => r.residual_generation(),
            Self::Gram(_) | Self::Mixed(..) => 0,
        }
    }
    fn account(&mut self, rows: usize) {
        // epochs in working-set Gram mode do not cost `n·t` per row
        if let Self::Residual(r, cost, ..) = self
            && r.wsg.is_none()
        {
            *cost = cost.saturating_add(rows.saturating_mul(r.t));
        }
    }
    fn r2(&self, w: &[f64]) -> f64 {
        match self {
            Self::Residual(r, ..) => r.r2(w),
            Self::Gram(g) | Self::Mixed(g, _) => g.r2(w),
        }
    }
    fn inner_r2_ry(&self) -> Option<(f64, f64)> {
        match self {
            Self::Residual(r, ..) => r.inner_r2_ry(),
            Self::Gram(_) | Self::Mixed(..) => None,
        }
    }
    fn epoch_violation(&self) -> Option<f64> {
        match self {
            Self::Residual(r, ..) => r.epoch_violation(),
            Self::Gram(_) | Self::Mixed(..) => None,
        }
    }
    fn measure_next(&mut self, on: bool) {
        if let Self::Residual(r, ..) = self {
            r.measure_next(on);
        }
    }
    fn approximate(&self) -> bool {
        match self {
            Self::Residual(r, ..) => r.approximate(),
            Self::Gram(_) => false,
            Self::Mixed(..) => true,
        }
    }
    fn exact(&mut self, w: &[f64], out: &mut [f64]) -> (f64, f64) {
        match self {
            Self::Mixed(g, r) => {
                let clock = std::time::Instant::now();
                // `R = Y − XW` over the support, then `XᵀR` (one pass over `X`)
                r.x.residual_xt_r(r.y, w, r.t, &mut r.r, out);
                g.rebase(w, out);
                log::debug!("exact pass: {:.2} ms", clock.elapsed().as_secs_f64() * 1e3);
                r.r2_ry(w)
            }
            _ => {
                self.full_grad(w, out);
                self.r2_ry(w)
            }
        }
    }
    fn take_outer_xtr(&mut self) -> Option<Vec<f64>> {
        match self {
            Self::Residual(r, ..) => r.take_outer_xtr(),
            Self::Gram(_) | Self::Mixed(..) => None,
        }
    }
    fn before_inner(&mut self, w: &[f64], ws: &[usize], candidates: usize, xtr: &mut Vec<f64>) {
        if let Self::Residual(r, cost, threshold, mixed) = self {
            // switch if the epochs so far plus the shortest inner loop ahead (K epochs) reach it;
            // or when the working set holds half the features or more: its Gram matrix would
            // cost a quarter of `XᵀX` or more, and `XᵀX` once built is never rebuilt as the
            // working set changes and makes every later `XᵀR` free; or when 90 % of the
            // features or more violate their optimality condition (at `W = 0` on the benchmark
            // grid: 100 % at α_max/100, where the support is 99 % of the features, against 47–79 %
            // at α_max/10, where it is 20–30 %)
            let ahead = K.saturating_mul(ws.len()).saturating_mul(r.t);
            let d = r.x.n_features();
            if cost.saturating_add(ahead) > *threshold
                || 2 * ws.len() >= d
                || 10 * candidates >= 9 * d
            {
                log::debug!(
                    "switching to Gram mode after cost {cost} (threshold {threshold}), working set {} of {d}",
                    ws.len()
                );
                // `xtr` is the outer loop's `XᵀR`: stale when screening has zeroed rows of `W`
                // (and so moved `R`) since it was computed
                let own: Vec<f64>;
                let xtr = if r.fresh && xtr.len() == d * r.t {
                    &xtr[..]
                } else {
                    r.flush(w);
                    let mut v = vec![0.0; d * r.t];
                    r.x.xt_r(&r.r, r.t, &mut v);
                    own = v;
                    &own
                };
                let mut g = vec![0.0; d.saturating_mul(d)];
                let single = *mixed && r.allow_single && r.x.gram_f32(&mut g);
                if !single {
                    r.x.gram(&mut g);
                }
                let gram = Gram::from_parts(g, r.y, r.t, w, xtr);
                if single {
                    // the residual state stays, for the exact passes
                    if let Self::Residual(res, ..) =
                        std::mem::replace(self, Self::Gram(Gram::empty()))
                    {
                        *self = Self::Mixed(gram, res);
                    }
                } else {
                    *self = Self::Gram(gram);
                }
            } else {
                r.before_inner(w, ws, candidates, xtr);
            }
        }
    }
}

/// Residual state over a design.
///
/// On a dense design an epoch works on blocks of [`BLOCK`] working-set features at a time: one
/// product `G = X_Bᵀ R`, the rows updated in order, each row's gradient `G_i` corrected for the
/// rows of the block that moved before it through the block's Gram matrix `X_Bᵀ X_B` (cached
/// while the working set does not change; the correction is accumulated in registers), then one product
/// `R −= X_B ΔW_B`. The updates are those of row-by-row cyclic CD (same order, same values up
/// to rounding), at matrix-product speed instead of `t` dots and axpys per row. A block whose
/// features are strongly correlated ([`COUPLED`]) has its rows swept twice before `R` is
/// updated: row-by-row CD that visits that block's rows twice in a row, for `b²·t` more flops.
pub(super) struct Residual<'a, X> {
    pub x: &'a X,
    pub y: &'a [f64],
    pub r: Vec<f64>,
    pub t: usize,
    blocks: Box<BlockCache>,
    /// Working-set Gram mode for the current inner loop, if chosen.
    wsg: Option<Box<WsGram>>,
    /// The last blocked epoch's largest violation (see [`CdState::epoch_violation`]).
    worst: Option<f64>,
    /// Whether the next blocked epoch measures its rows' violations ([`CdState::measure_next`]).
    measure: bool,
    /// Whether `R` is unchanged since the last `XᵀR` was computed from it (the outer loop's,
    /// handed to [`CdState::before_inner`]): working-set Gram mode then takes `X_wsᵀR` from it.
    fresh: bool,
    /// The last working-set Gram matrix (its columns, in its order, and `G` row-major): the
    /// next one reuses the products of the columns they share.
    prev: Option<(Vec<usize>, Vec<f64>)>,
    /// A panel of rows of working-set columns (reused: no fresh pages per outer iteration).
    panel: Vec<f64>,
    /// Whether inner loops may run in single precision ([`Single`]).
    allow_single: bool,
    /// The single-precision inner loop (active when `single.on`; its buffers are kept between
    /// loops).
    single: Box<Single>,
    /// Counts the recomputations of `R` from `Y − XW` ([`CdState::residual_generation`]).
    generation: u64,
    /// Whether Anderson may keep a history of residuals ([`CdState::residual_history`]):
    /// `None` decides by size ([`residual_history_fits`]); tests force it.
    history: Option<bool>,
}

/// A single-precision inner loop: `R = R₀ + D` with `R₀` (`f64`) fixed during the loop and its
/// change `D` (`n × t`, `f32`) updated by `f32` matrix products (about twice the `f64`
/// products' speed on the blocked epoch's shapes); a row's gradient is `X_jᵀR₀ + X_jᵀD`,
/// `XᵀR₀` being the outer loop's exact product (its buffer, lent for the loop). When the loop
/// ends `R` is recomputed in `f64` as `Y − XW` (one product over the support), so every outer
/// evaluation — gap, screening, stopping — is exact; within a loop a gradient is off by about
/// `1e-7` of the loop's own change `X_jᵀD` (not of `X_jᵀR`), which the next loop's exact start
/// removes (iterative refinement).
#[derive(Default)]
struct Single {
    on: bool,
    /// `XᵀR₀`, row-major `d × t` (the outer loop's buffer while `on`).
    xtr0: Vec<f64>,
    /// `D`, column-major `n × t` with leading dimension
    /// [`padded_rows(n)`](crate::linalg::padded_rows) (the padding rows stay zero).
    d: crate::linalg::AlignedF32,
    /// A block of columns rounded to `f32` (the same leading dimension, zero padding rows),
    /// its `X_Bᵀ D` and `ΔW_B` in `f32`.
    xb: crate::linalg::AlignedF32,
    g: Vec<f32>,
    dwb: Vec<f32>,
    /// A block's Gram matrix in `f32` (lower triangle, column-major `b × b`).
    gram: Vec<f32>,
    /// The next block's columns, fetched while the current block's products run.
    pf: crate::simd::Prefetch,
    /// The `XᵀR₀` buffer went back to the outer loop ([`CdState::take_outer_xtr`]) while the
    /// loop was on: the outer loop's next [`CdState::outer_grad`] receives it.
    handed: bool,
    /// The last [`CdState::outer_grad`] was an approximate pass ([`Residual::approximate_pass`]).
    approx: bool,
    /// Approximate passes so far (the debug log and the tests read it).
    approx_passes: usize,
    /// Blocks rounded within the kernel of `X_Bᵀ D` so far (the tests read it).
    rounded_blocks: usize,
    /// `Σ ‖D‖` over the approximate passes since the loop began from an exact `R`: the `f32`
    /// rounding those passes folded into `R₀` and `XᵀR₀` is bounded as the loop's own
    /// products are, by `SINGLE_ROUNDING·‖X_j‖·(‖D‖ + anchor)`.
    anchor: f64,
    /// The folded `‖D‖` the loop's last epoch could take before its hand-over check would
    /// fire at that epoch's largest violation (`worst / (SINGLE_MARGIN·SINGLE_ROUNDING·
    /// max‖X_j‖/n)`): an approximate pass is taken only while `anchor + ‖D‖` stays within
    /// [`APPROX_ROOM`] of it.
    room: f64,
}

/// Working-set Gram mode: for one inner loop over a working set much smaller than `n`, CD runs
/// on `G = X_wsᵀ X_ws` and `H = X_wsᵀ R` (a row update costs `|ws|·t` instead of `n·t`); the
/// residual catches up with one product `R −= X_ws ΔW` when the loop ends.
struct WsGram {
    /// Position of each feature in the working set (`usize::MAX` outside it).
    pos: Vec<usize>,
    /// The working set.
    cols: Vec<usize>,
    /// `G`, `m × m` (symmetric).
    g: Vec<f64>,
    /// `H`, column-major `m × t` (an update is `t` axpys of length `m`).
    h: Vec<f64>,
    /// `H` at the start of the loop, `R₀` its residual's `‖R₀‖²`.
    h0: Vec<f64>,
    r0_2: f64,
    /// `⟨R₀, Y⟩` and `X_wsᵀ Y` (row-major `m × t`), for `⟨R, Y⟩ = ⟨R₀, Y⟩ − ⟨ΔW, X_wsᵀ Y⟩`.
    r0_y: f64,
    xty: Vec<f64>,
    /// Pending `ΔW` on the working set, row-major `m × t`.
    dw: Vec<f64>,
}

impl WsGram {
    /// `⟨R, Y⟩`.
    fn ry(&self) -> f64 {
        self.r0_y
            - self
                .dw
                .iter()
                .zip(&self.xty)
                .map(|(a, b)| a * b)
                .sum::<f64>()
    }

    /// `‖R‖² = ‖R₀‖² − ⟨ΔW, H₀ + H⟩` (from `H = H₀ − G ΔW`).
    fn r2(&self, t: usize) -> f64 {
        let m = self.cols.len();
        let mut s = 0.0;
        for p in 0..m {
            for k in 0..t {
                let dv = self.dw[p * t + k];
                if dv != 0.0 {
                    s += dv * (self.h0[k * m + p] + self.h[k * m + p]);
                }
            }
        }
        (self.r0_2 - s).max(0.0)
    }
}

/// Whether an inner loop over `m` working-set features should run in working-set Gram mode:
/// building `G` (`n·m²` flops, triangular, at matrix-product speed) plus `K` epochs of `2·m²·t`
/// flops at axpy speed (about 4× slower per flop) against `K` blocked residual epochs of
/// `4·n·m·t` flops at matrix-product speed.
fn ws_gram_pays(n: usize, m: usize, t: usize) -> bool {
    let (n, m, t, k) = (n as f64, m as f64, t as f64, K as f64);
    n * m * m + 8.0 * k * m * m * t < 4.0 * k * n * m * t
}

/// Scratch space and cached block Gram matrices of the blocked epoch.
#[derive(Default)]
struct BlockCache {
    /// Per bucket of features (`j / BLOCK`): the working-set members of the bucket and their
    /// `b × b` Gram matrix, recomputed only when the members change (along a path, most
    /// buckets keep theirs from one alpha to the next).
    grams: std::collections::HashMap<usize, BlockEntry>,
    /// Gathered columns, `n × b`.
    xb: Vec<f64>,
    /// `X_Bᵀ R`, `b × t`.
    g: Vec<f64>,
    /// `ΔW_B`, `b × t`.
    dw: Vec<f64>,
    /// Positions in the block of the rows that moved so far in this block.
    changed: Vec<usize>,
    /// A block's full `b × b` Gram matrix as computed, before it is packed.
    full: Vec<f64>,
    /// Positions of a bucket's new members among its old ones.
    pos: Vec<usize>,
    /// Which rows of the block are in `changed` (second sweeps).
    inset: Vec<bool>,
    /// The members' `1 / ‖X_i‖` (the block's coupling).
    inv: Vec<f64>,
}

/// One row update of a block sweep: row `i` of the block, whose gradient at the block's start is
/// corrected by `Σ_{p ∈ changed} coefs[p] · ΔW_p` (the rows of the block that moved since).
struct BlockStep<'a> {
    coefs: &'a [f64],
    changed: &'a [usize],
    i: usize,
    /// Whether to measure the row's optimality violation before its update.
    track: bool,
}

impl BlockStep<'_> {
    /// `grad` holds `(X_Bᵀ R₀)_i` on entry: correct it, apply the row prox to `wj`, add the
    /// change to row `i` of `dw` (`b × t`); whether the row moved, and (when tracking) its
    /// optimality violation before the update (`0` otherwise).
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        grad: &mut [f64],
        dw: &mut [f64],
        wj: &mut [f64],
        nj: f64,
        nf: f64,
        prox: Prox<'_>,
    ) -> (bool, f64) {
        let t = grad.len();
        if !self.changed.is_empty() {
            crate::linalg::sub_row_combination(grad, self.coefs, dw, self.changed);
        }
        let viol = if self.track {
            violation(wj, crate::linalg::sum_squares(wj), grad, nf, prox.a, prox.b)
        } else {
            0.0
        };
        prox.update(grad, wj, nj, nf);
        let mut moved = false;
        let di = &mut dw[self.i * t..(self.i + 1) * t];
        for ((dl, new), old) in di.iter_mut().zip(grad.iter()).zip(wj.iter_mut()) {
            let step = new - *old;
            moved |= step != 0.0;
            *dl += step;
            *old = *new;
        }
        (moved, viol)
    }
}

/// Start of row `i` of a packed strictly lower triangle (row `i` holds columns `0..i`).
#[inline]
fn tri(i: usize) -> usize {
    i * i.saturating_sub(1) / 2
}

/// Whether every member of `new` is in `old` (both sorted); `pos` then holds their positions in
/// `old`.
fn subset_positions(old: &[usize], new: &[usize], pos: &mut Vec<usize>) -> bool {
    pos.clear();
    if new.len() > old.len() || old.is_empty() {
        return false;
    }
    let mut k = 0;
    for &j in new {
        while k < old.len() && old[k] < j {
            k += 1;
        }
        if k == old.len() || old[k] != j {
            return false;
        }
        pos.push(k);
        k += 1;
    }
    true
}

/// One bucket's cached state: its working-set members and their Gram matrix (the strictly lower
/// triangle, packed by rows: what the in-block corrections read, half the memory). A bucket's
/// columns are gathered again at each epoch (a view of `X` when they are consecutive): keeping
/// them between epochs (up to 2 % of `X`) was no faster on any problem of the benchmark grid.
#[derive(Default)]
struct BlockEntry {
    cols: Vec<usize>,
    gram: Vec<f64>,
    /// Whether the members are [`COUPLED`] (a second sweep per epoch).
    coupled: bool,
}

/// The coupling of a block (see [`COUPLED`]) from its packed Gram matrix and column norms
/// (`inv`: scratch for the members' `1/‖X_i‖`); no division in the `b²/2` loop, which runs at
/// each Gram matrix of a path (as often as every alpha of a cross-validation).
fn coupling(gram: &[f64], cols: &[usize], norm2: &[f64], inv: &mut Vec<f64>) -> f64 {
    let b = cols.len();
    if b < 2 {
        return 0.0;
    }
    inv.clear();
    inv.extend(cols.iter().map(|&j| {
        let v = norm2[j];
        if v > 0.0 { 1.0 / v.sqrt() } else { 0.0 }
    }));
    let mut sum = 0.0;
    for i in 1..b {
        let row = &gram[tri(i)..tri(i) + i];
        let mut acc = [0.0f64; 4];
        let (rc, ic) = (row.chunks_exact(4), inv[..i].chunks_exact(4));
        let (rr, ir) = (rc.remainder(), ic.remainder());
        for (g4, v4) in rc.zip(ic) {
            for k in 0..4 {
                let c = g4[k] * v4[k];
                acc[k] += c * c;
            }
        }
        let mut s = acc[0] + acc[1] + acc[2] + acc[3];
        for (g, v) in rr.iter().zip(ir) {
            let c = g * v;
            s += c * c;
        }
        sum += s * inv[i] * inv[i];
    }
    2.0 * sum / b as f64
}

/// Columns `cols` of a design that [`Design::can_gather`], rounded to `f32` into `dst` with
/// leading dimension `ld` (rows `n..ld` zero), one column at a time: no gathered `f64` copy of
/// the block where the design lends its columns (`buf` holds one column otherwise).
fn round_columns<X: Design>(
    x: &X,
    cols: &[usize],
    ld: usize,
    buf: &mut Vec<f64>,
    dst: &mut crate::linalg::AlignedF32,
) {
    let n = x.n_samples();
    dst.resize(ld * cols.len(), 0.0);
    for (i, &j) in cols.iter().enumerate() {
        let c = gather(x, &[j], buf);
        let col = &mut dst[i * ld..(i + 1) * ld];
        crate::linalg::narrow_into(c, &mut col[..n]);
        col[n..].fill(0.0);
    }
}

/// Columns `cols` of a design that [`Design::can_gather`].
fn gather<'s, X: Design>(x: &'s X, cols: &[usize], buf: &'s mut Vec<f64>) -> &'s [f64] {
    x.gather(cols, buf)
        .unwrap_or_else(|| unreachable!("called only on designs that can gather"))
}

impl<'a, X: Design> Residual<'a, X> {
    /// Residual state with `r = Y − XW` already computed.
    pub fn new(x: &'a X, y: &'a [f64], r: Vec<f64>, t: usize) -> Self {
        Self {
            x,
            y,
            r,
            t,
            blocks: Box::default(),
            wsg: None,
            worst: None,
            measure: true,
            fresh: false,
            prev: None,
            panel: Vec::new(),
            allow_single: false,
            single: Box::default(),
            generation: 0,
            history: None,
        }
    }

    /// The state with single-precision inner loops allowed or not ([`Single`]; off by
    /// default: the solver turns them on for cyclic fits on dense designs).
    pub fn with_single(mut self, allow: bool) -> Self {
        self.allow_single = allow;
        self
    }

    /// The state with Anderson's history of residuals allowed or not whatever its size
    /// (tests).
    #[cfg(test)]
    fn with_residual_history(mut self, on: bool) -> Self {
        self.history = Some(on);
        self
    }

    /// The state with `XᵀR` just computed from its `R` (and handed to the first outer
    /// iteration).
    pub fn with_fresh_xtr(mut self) -> Self {
        self.fresh = true;
        self
    }

    /// Leave working-set Gram mode: apply the pending `ΔW` to `R` (`R −= X_moved ΔW_moved`
    /// over panels of rows, each panel of `R` updated once while in cache).
    fn flush(&mut self, w: &[f64]) {
        if self.single.on {
            // leave the single-precision loop: `R = Y − XW` in f64 over the support
            self.single.on = false;
            self.recompute(w);
        }
        let Some(wsg) = self.wsg.take() else {
            return;
        };
        self.apply_pending(&wsg.cols, &wsg.dw);
        self.prev = Some((wsg.cols, wsg.g));
    }

    /// `R = Y − XW` in `f64`, over the support's columns (by chunks: a view of `X` and a
    /// slice of `W` where the support is consecutive).
    fn recompute(&mut self, w: &[f64]) {
        {
            self.fresh = false;
            self.generation += 1;
            let (x, n, t) = (self.x, self.x.n_samples(), self.t);
            let support: Vec<usize> = (0..x.n_features())
                .filter(|&j| !crate::linalg::is_zero(&w[j * t..(j + 1) * t]))
                .collect();
            self.r.copy_from_slice(self.y);
            if crate::simd::sub_x_w_runs(t) {
                // one pass of the AVX-512 kernel (it skips the zero rows of `W` and needs no
                // packing buffers); faer's product would take every column and pack `X`'s
                // blocks (memory the fit adds), so the chunks below serve otherwise
                x.sub_x_w(w, t, &mut self.r);
                return;
            }
            // chunks of at most `c` consecutive columns from each support column on: where the
            // support fills at least DENSE_RUN of the chunk's span, the span itself (a view of
            // `X` and a slice of `W`, its zero rows included: no copy of `X`), else the
            // support's columns gathered with their rows of `W`
            let c = chunk_cols(n);
            let (mut rows, mut span) = (Vec::new(), Vec::with_capacity(c));
            let mut i = 0;
            while i < support.len() {
                let first = support[i];
                let k = i + support[i..].partition_point(|&j| j < first + c);
                let cols = &support[i..k];
                let width = cols[cols.len() - 1] - first + 1;
                i = k;
                let (cols, wc) = if DENSE_RUN * width as f64 <= cols.len() as f64 {
                    span.clear();
                    span.extend(first..first + width);
                    (&span[..], &w[first * t..(first + width) * t])
                } else {
                    rows.clear();
                    for &j in cols {
                        rows.extend_from_slice(&w[j * t..(j + 1) * t]);
                    }
                    (cols, &rows[..])
                };
                let xbs = gather(x, cols, &mut self.blocks.xb);
                crate::linalg::sub_x_w(xbs, n, cols.len(), wc, t, &mut self.r, 1);
            }
        }
    }

    /// `R −= X_cols ΔW` for the rows of `dw` (row-major `|cols| × t`) that are not zero: over
    /// panels of rows of the moved columns (each panel of `R` updated once while in cache), or
    /// a chunk of whole columns at a time when `R` is small.
    fn apply_pending(&mut self, all: &[usize], all_dw: &[f64]) {
        let t = self.t;
        let moved: Vec<usize> = (0..all.len())
            .filter(|&p| all_dw[p * t..(p + 1) * t].iter().any(|&v| v != 0.0))
            .collect();
        if moved.is_empty() {
            return;
        }
        self.fresh = false;
        let cols: Vec<usize> = moved.iter().map(|&p| all[p]).collect();
        let dw: Vec<f64> = moved
            .iter()
            .flat_map(|&p| all_dw[p * t..(p + 1) * t].iter().copied())
            .collect();
        let (x, n, m) = (self.x, self.x.n_samples(), cols.len());
        if n * t <= PENDING_COLUMNS_MAX {
            // `R` stays in cache: chunks of whole columns (no row-panel buffer of `n·m`)
            self.update_rows(&cols, &dw);
            return;
        }
        let panel = ((1usize << 16) / m).max(256).min(n.max(1));
        let mut buf = std::mem::take(&mut self.panel);
        let mut r0 = 0;
        while r0 < n {
            let r1 = (r0 + panel).min(n);
            let Some(p) = x.gather_rows(&cols, r0, r1, &mut buf) else {
                // no row panels (not reached: both modes need them)
                self.update_rows(&cols, &dw);
                break;
            };
            crate::linalg::sub_rows_w(p, r1 - r0, m, &dw, t, &mut self.r[r0..], n, 1);
            r0 = r1;
        }
        self.panel = buf;
    }

    /// The outer loop's `XᵀR` from a single-precision loop without leaving it: `out` holds
    /// `XᵀR₀` (the loop's buffer, handed back); `out += XᵀD` by `f32` products over every
    /// column, then `R₀ += D` and `D = 0` (the loop's anchor moves to the current point). Half
    /// the cost of an exact pass (`R = Y − XW` and `XᵀR` in `f64`) or less; its gradients are
    /// off by the `f32` rounding of the change since the last exact pass, so the outer loop
    /// steers by it but neither stops, screens nor keeps a dual point on it
    /// ([`CdState::approximate`]): it asks for an exact pass first.
    fn approximate_pass(&mut self, out: &mut [f64]) {
        let clock = std::time::Instant::now();
        let (x, n, t, d) = (self.x, self.x.n_samples(), self.t, self.x.n_features());
        let ld = crate::linalg::padded_rows(n);
        let c = chunk_cols(n);
        let s = &mut *self.single;
        let mut cols = Vec::with_capacity(c);
        let mut j0 = 0;
        while j0 < d {
            let j1 = (j0 + c).min(d);
            cols.clear();
            cols.extend(j0..j1);
            let xbs = gather(x, &cols, &mut self.blocks.xb);
            crate::linalg::narrow_cols(xbs, n, ld, j1 - j0, &mut s.xb);
            s.g.resize((j1 - j0) * t, 0.0);
            crate::linalg::xt_r_f32(&s.xb, ld, j1 - j0, &s.d, t, &mut s.g, &mut s.pf);
            for (o, &g) in out[j0 * t..j1 * t].iter_mut().zip(&s.g) {
                *o += f64::from(g);
            }
            j0 = j1;
        }
        s.anchor += crate::linalg::dot_f32s(&s.d, &s.d).sqrt();
        for (r, dc) in self
            .r
            .chunks_exact_mut(n.max(1))
            .zip(s.d.chunks_exact_mut(ld.max(1)))
        {
            for (r, dv) in r.iter_mut().zip(&mut dc[..n]) {
                *r += f64::from(*dv);
                *dv = 0.0;
            }
        }
        s.approx = true;
        s.handed = false;
        s.approx_passes += 1;
        self.fresh = false;
        log::debug!(
            "approximate pass {}: {:.2} ms",
            s.approx_passes,
            clock.elapsed().as_secs_f64() * 1e3
        );
    }

    /// Within a single-precision loop: `R₀ = Y − XW` and `XᵀR₀` recomputed in `f64` (the loop's
    /// buffer), `D = 0`, no folded rounding left; the loop stays in single precision.
    fn reanchor(&mut self, w: &[f64]) {
        self.recompute(w);
        let s = &mut *self.single;
        self.x.xt_r(&self.r, self.t, &mut s.xtr0);
        s.d.fill(0.0);
        s.anchor = 0.0;
    }

    /// Enter a single-precision inner loop (`R` up to date, `xtr` its exact `XᵀR`, lent).
    fn enter_single(&mut self, xtr: &mut Vec<f64>) {
        let (n, t) = (self.x.n_samples(), self.t);
        let s = &mut *self.single;
        s.xtr0 = std::mem::take(xtr);
        s.d.clear();
        s.d.resize(crate::linalg::padded_rows(n) * t, 0.0);
        s.anchor = 0.0;
        s.on = true;
    }

    /// Enter working-set Gram mode over `ws` (`R` up to date; `xtr` its `XᵀR` when
    /// [`fresh`](Self::fresh)).
    fn enter_ws_gram(&mut self, w: &[f64], ws: &[usize], xtr: Option<&[f64]>) {
        if !self.x.can_gather() {
            return;
        }
        let x = self.x;
        let (n, d, t, m) = (x.n_samples(), x.n_features(), self.t, ws.len());
        // the columns in the order of `G`: those of the previous working-set Gram matrix first
        // (their products are taken from it), then the others, whose products with every
        // column are computed (`a × m` instead of the `m × m` triangle) — when at most half
        // of them are new
        let prev = self.prev.take();
        let mut old_pos = Vec::new();
        let mut order = ws.to_vec();
        if let Some((pcols, _)) = &prev {
            let mut at = vec![usize::MAX; d];
            for (k, &j) in pcols.iter().enumerate() {
                at[j] = k;
            }
            let kept: Vec<usize> = ws
                .iter()
                .copied()
                .filter(|&j| at[j] != usize::MAX)
                .collect();
            if 2 * kept.len() >= m && !kept.is_empty() {
                old_pos = kept.iter().map(|&j| at[j]).collect();
                order = kept;
                order.extend(ws.iter().copied().filter(|&j| at[j] == usize::MAX));
            }
        }
        let (nk, a) = (old_pos.len(), m - old_pos.len());
        // one pass over row panels of the columns (each ≤ 512 KiB, L2-resident): G's lower
        // triangle (or the new columns' products) and, unless the outer loop's `XᵀR` holds
        // it, `X_wsᵀ R`, accumulated panel by panel, no copy of whole columns
        let panel = ((1usize << 16) / m.max(1)).max(256).min(n.max(1));
        let mut gl = vec![0.0; if nk == 0 { m * m } else { a * m }];
        let mut rows = vec![0.0; m * t];
        let mut buf = std::mem::take(&mut self.panel);
        let mut r0 = 0;
        while r0 < n && (a > 0 || xtr.is_none()) {
            let r1 = (r0 + panel).min(n);
            let Some(p) = x.gather_rows(&order, r0, r1, &mut buf) else {
                self.panel = buf;
                return;
            };
            let h = r1 - r0;
            if nk == 0 {
                crate::linalg::gram_lower_acc(p, h, m, &mut gl);
            } else if a > 0 {
                crate::linalg::cross_panel_acc(&p[nk * h..], p, h, a, m, &mut gl);
            }
            if xtr.is_none() {
                crate::linalg::xt_r_panel_acc(p, h, m, &self.r[r0..], n, t, &mut rows);
            }
            r0 = r1;
        }
        self.panel = buf;
        let g = if nk == 0 {
            // symmetric: row-major and column-major agree
            let mut g = gl;
            for q in 0..m {
                for p in q + 1..m {
                    g[p * m + q] = g[q * m + p];
                }
            }
            g
        } else {
            let (pcols, pg) = prev
                .as_ref()
                .map_or((&[][..], &[][..]), |(c, g)| (&c[..], &g[..]));
            let mp = pcols.len();
            let mut g = vec![0.0; m * m];
            for (p, &op) in old_pos.iter().enumerate() {
                for (q, &oq) in old_pos.iter().enumerate() {
                    g[p * m + q] = pg[op * mp + oq];
                }
            }
            for i in 0..a {
                for q in 0..m {
                    let v = gl[i * m + q];
                    g[(nk + i) * m + q] = v;
                    g[q * m + nk + i] = v;
                }
            }
            g
        };
        if let Some(xtr) = xtr {
            for (p, &j) in order.iter().enumerate() {
                rows[p * t..(p + 1) * t].copy_from_slice(&xtr[j * t..(j + 1) * t]);
            }
        }
        let mut h = vec![0.0; m * t];
        for p in 0..m {
            for k in 0..t {
                h[k * m + p] = rows[p * t + k];
            }
        }
        // X_wsᵀ Y = X_wsᵀ R₀ + G W_ws (the support lies in the working set)
        let mut xty = rows;
        for p in 0..m {
            for (q, &jq) in order.iter().enumerate() {
                let c = g[p * m + q];
                let wq = &w[jq * t..(jq + 1) * t];
                if c != 0.0 && wq.iter().any(|&v| v != 0.0) {
                    for (o, v) in xty[p * t..(p + 1) * t].iter_mut().zip(wq) {
                        *o += c * v;
                    }
                }
            }
        }
        let mut pos = vec![usize::MAX; d];
        for (p, &j) in order.iter().enumerate() {
            pos[j] = p;
        }
        self.wsg = Some(Box::new(WsGram {
            pos,
            cols: order,
            g,
            h0: h.clone(),
            h,
            r0_2: self.r.iter().map(|v| v * v).sum(),
            r0_y: self.r.iter().zip(self.y).map(|(a, b)| a * b).sum(),
            xty,
            dw: vec![0.0; m * t],
        }));
    }
}

impl<X: Design> CdState for Residual<'_, X> {
    fn residual_history(&self) -> bool {
        // within a single-precision loop only: its end recomputes `R = Y − XW` exactly, which
        // removes the rounding of the moved `R` (an `f64` residual would keep it)
        self.single.on
            && self.wsg.is_none()
            && self.history.unwrap_or_else(|| {
                residual_history_fits(self.x.n_features(), self.t, self.x.value_bytes())
            })
    }
    fn residual_snapshot(&self, last: &mut Vec<f64>, mut diff: Option<&mut Vec<f32>>) {
        let (n, t) = (self.x.n_samples(), self.t);
        let ld = crate::linalg::padded_rows(n);
        last.resize(n * t, 0.0);
        if let Some(u) = diff.as_deref_mut() {
            u.clear();
            u.resize(n * t, 0.0);
        }
        for k in 0..t {
            for i in 0..n {
                let v = residual_at(&self.r, &self.single, n, ld, i, k);
                let l = &mut last[k * n + i];
                if let Some(u) = diff.as_deref_mut() {
                    #[allow(clippy::cast_possible_truncation)]
                    {
                        u[k * n + i] = (v - *l) as f32;
                    }
                }
                *l = v;
            }
        }
    }
    fn set_residual(&mut self, base: &[f64], diffs: &[Vec<f32>], below: &[f64]) {
        let (n, t) = (self.x.n_samples(), self.t);
        let ld = crate::linalg::padded_rows(n);
        self.fresh = false;
        for k in 0..t {
            for i in 0..n {
                let p = k * n + i;
                let mut v = base[p];
                for (&b, u) in below.iter().zip(diffs) {
                    v -= b * f64::from(u[p]);
                }
                if self.single.on {
                    #[allow(clippy::cast_possible_truncation)]
                    {
                        self.single.d[k * ld + i] = (v - self.r[p]) as f32;
                    }
                } else {
                    self.r[p] = v;
                }
            }
        }
    }
    fn residual_generation(&self) -> u64 {
        self.generation
    }
    #[inline]
    fn grad_row(&self, j: usize, out: &mut [f64]) {
        if let Some(wsg) = &self.wsg {
            let (m, p) = (wsg.cols.len(), wsg.pos[j]);
            debug_assert!(p < m, "feature {j} outside the working set");
            for (k, o) in out.iter_mut().enumerate() {
                *o = wsg.h[k * m + p];
            }
            return;
        }
        let n = self.x.n_samples();
        if self.single.on {
            // `X_jᵀR₀ + X_jᵀD` (not reached in the solver: single-precision loops run blocked
            // epochs, whose rows read `X_Bᵀ D` from one product)
            let s = &self.single;
            let ld = crate::linalg::padded_rows(n);
            let mut col = vec![0.0; n];
            for (k, o) in out.iter_mut().enumerate() {
                for (c, &dv) in col.iter_mut().zip(&s.d[k * ld..k * ld + n]) {
                    *c = f64::from(dv);
                }
                *o = s.xtr0[j * self.t + k] + self.x.col_dot(j, &col);
            }
            return;
        }
        for (k, o) in out.iter_mut().enumerate() {
            *o = self.x.col_dot(j, &self.r[k * n..(k + 1) * n]);
        }
    }
    #[inline]
    fn update_row(&mut self, j: usize, delta: &[f64]) {
        if self.single.on && self.x.can_gather() {
            let n = self.x.n_samples();
            let ld = crate::linalg::padded_rows(n);
            let xj = gather(self.x, &[j], &mut self.blocks.xb);
            let s = &mut *self.single;
            for (k, &dk) in delta.iter().enumerate() {
                if dk != 0.0 {
                    for (dv, &xv) in s.d[k * ld..k * ld + n].iter_mut().zip(xj) {
                        #[allow(clippy::cast_possible_truncation)]
                        {
                            *dv -= (dk * xv) as f32;
                        }
                    }
                }
            }
            return;
        }
        if let Some(wsg) = &mut self.wsg {
            let (m, p, t) = (wsg.cols.len(), wsg.pos[j], self.t);
            debug_assert!(p < m, "feature {j} outside the working set");
            let gp = &wsg.g[p * m..(p + 1) * m];
            for (k, &dk) in delta.iter().enumerate() {
                if dk != 0.0 {
                    crate::linalg::axpy(-dk, gp, &mut wsg.h[k * m..(k + 1) * m]);
                    wsg.dw[p * t + k] += dk;
                }
            }
            return;
        }
        self.fresh = false;
        let n = self.x.n_samples();
        for (k, &dk) in delta.iter().enumerate() {
            if dk != 0.0 {
                self.x.col_axpy(j, -dk, &mut self.r[k * n..(k + 1) * n]);
            }
        }
    }
    fn full_grad(&mut self, w: &[f64], out: &mut [f64]) {
        let clock = std::time::Instant::now();
        self.single.approx = false;
        self.single.handed = false;
        self.flush(w);
        self.x.xt_r(&self.r, self.t, out);
        self.fresh = true;
        log::debug!("full pass: {:.2} ms", clock.elapsed().as_secs_f64() * 1e3);
    }
    fn outer_grad(&mut self, w: &[f64], out: &mut [f64], approx_ok: bool) {
        let s = &*self.single;
        if approx_ok
            && s.on
            && s.handed
            && self.wsg.is_none()
            && out.len() == self.x.n_features() * self.t
            && s.anchor + crate::linalg::dot_f32s(&s.d, &s.d).sqrt() <= APPROX_ROOM * s.room
        {
            self.approximate_pass(out);
        } else {
            self.full_grad(w, out);
        }
    }
    fn approximate(&self) -> bool {
        self.single.approx
    }
    fn take_outer_xtr(&mut self) -> Option<Vec<f64>> {
        let s = &mut *self.single;
        s.handed = s.on && !s.xtr0.is_empty();
        (!s.xtr0.is_empty()).then(|| std::mem::take(&mut s.xtr0))
    }
    fn r2_ry(&self, w: &[f64]) -> (f64, f64) {
        debug_assert!(self.wsg.is_none(), "r2_ry in working-set Gram mode");
        debug_assert!(
            !self.single.on || self.single.approx,
            "r2_ry in a single-precision loop"
        );
        let ry = self.r.iter().zip(self.y).map(|(a, b)| a * b).sum();
        (self.r2(w), ry)
    }
    fn r2(&self, _w: &[f64]) -> f64 {
        if self.single.on {
            let n = self.x.n_samples();
            let ld = crate::linalg::padded_rows(n);
            return self
                .r
                .chunks_exact(n.max(1))
                .zip(self.single.d.chunks_exact(ld.max(1)))
                .flat_map(|(r, dc)| r.iter().zip(&dc[..n]))
                .map(|(&r, &dv)| {
                    let v = r + f64::from(dv);
                    v * v
                })
                .sum();
        }
        match &self.wsg {
            Some(wsg) => wsg.r2(self.t),
            None => self.r.iter().map(|v| v * v).sum(),
        }
    }
    fn inner_r2_ry(&self) -> Option<(f64, f64)> {
        self.wsg.as_ref().map(|g| (g.r2(self.t), g.ry()))
    }
    fn before_inner(&mut self, w: &[f64], ws: &[usize], _candidates: usize, xtr: &mut Vec<f64>) {
        let (d, t) = (self.x.n_features(), self.t);
        if self.single.on
            && self.single.approx
            && !ws.is_empty()
            && xtr.len() == d * t
            && !ws_gram_pays(self.x.n_samples(), ws.len(), t)
        {
            // the single-precision loop goes on from its approximate outer pass (`R₀` and
            // `XᵀR₀` rebased there, `D = 0`)
            self.single.xtr0 = std::mem::take(xtr);
            self.single.handed = false;
            return;
        }
        self.flush(w);
        if ws.is_empty() || !self.x.can_gather() {
            return;
        }
        let fresh = self.fresh && xtr.len() == self.x.n_features() * self.t;
        if ws_gram_pays(self.x.n_samples(), ws.len(), self.t) {
            self.enter_ws_gram(w, ws, fresh.then_some(&xtr[..]));
        } else if self.allow_single && fresh {
            self.enter_single(xtr);
        }
    }
    fn epoch_into(
        &mut self,
        w: &mut [f64],
        ws: &[usize],
        norm2: &[f64],
        nf: f64,
        prox: Prox<'_>,
        mut changes: Option<&mut [f32]>,
    ) {
        self.worst = None;
        self.fresh = false;
        let measure = std::mem::replace(&mut self.measure, true);
        if !self.x.can_gather() || self.wsg.is_some() {
            return epoch_rows(self, w, ws, norm2, nf, prox, changes);
        }
        let mut worst = 0.0f64;
        let x = self.x;
        let (n, t) = (x.n_samples(), self.t);
        let ld = crate::linalg::padded_rows(n);
        let BlockCache {
            grams,
            xb,
            g,
            dw,
            changed,
            full,
            pos,
            inset,
            inv,
        } = &mut *self.blocks;
        let single = &mut *self.single;
        let mut tmp = vec![0.0; t];
        // blocks: the working-set members of each bucket of BLOCK consecutive features
        let blocks: Vec<&[usize]> = ws.chunk_by(|a, b| a / BLOCK == b / BLOCK).collect();
        let mut srcs: Vec<&[f64]> = Vec::with_capacity(BLOCK);
        // the block's first row in `ws` (blocks are consecutive runs of it)
        let mut off = 0;
        for (bi, &cols) in blocks.iter().enumerate() {
            let b = cols.len();
            let first = off;
            off += b;
            if single.on {
                let next = blocks.get(bi + 1).copied().unwrap_or(&[]);
                let next = if next.len() * n * 8 <= PREFETCH_MAX {
                    next
                } else {
                    &[]
                };
                single.pf.reset(
                    next.iter()
                        .filter_map(|&j| x.col_f64(j))
                        .map(|c| (c.as_ptr() as usize, std::mem::size_of_val(c))),
                );
            }
            // in a single-precision loop the block's columns are rounded to f32 first: a block
            // too large to be fetched whole during the previous one ([`PREFETCH_MAX`]) within
            // the kernel of `X_Bᵀ D`, four columns at a time with the next four fetched (when
            // the design lends its columns), else column by column here (no gathered f64 copy)
            let mut g_ready = false;
            if single.on {
                single.xb.resize(ld * b, 0.0);
                srcs.clear();
                if b * n * 8 > PREFETCH_MAX {
                    srcs.extend(cols.iter().map_while(|&j| x.col_f64(j)));
                }
                single.g.resize(b * t, 0.0);
                g_ready = srcs.len() == b
                    && crate::simd::xt_d_f32_round(
                        &srcs,
                        ld,
                        &mut single.xb,
                        &single.d,
                        t,
                        &mut single.g,
                    );
                single.rounded_blocks += usize::from(g_ready);
                if !g_ready {
                    round_columns(x, cols, ld, xb, &mut single.xb);
                }
            }
            let entry = grams.entry(cols[0] / BLOCK).or_default();
            if entry.cols.as_slice() != cols {
                if subset_positions(&entry.cols, cols, pos) {
                    // members dropped only: the new Gram matrix is part of the old one
                    let old = std::mem::take(&mut entry.gram);
                    entry.gram.reserve(b * b.saturating_sub(1) / 2);
                    for (i, &oi) in pos.iter().enumerate() {
                        let row = tri(oi);
                        entry.gram.extend(pos[..i].iter().map(|&op| old[row + op]));
                    }
                } else if single.on {
                    // from the rounded block, in f32 (half the f64 product's time, and no
                    // gather): the in-block corrections are then off by the loop's own
                    // rounding, `1e-7·‖X_i‖·‖X_p Δ_p‖`, which vanishes with the steps (an
                    // f64 loop that reuses the matrix converges to the same point: each block
                    // starts from its exact `X_Bᵀ R`)
                    single.gram.resize(b * b, 0.0);
                    crate::linalg::gram_lower_f32(&single.xb, ld, b, &mut single.gram);
                    entry.gram.clear();
                    for i in 1..b {
                        let g32 = &single.gram;
                        entry.gram.extend((0..i).map(|p| f64::from(g32[p * b + i])));
                    }
                } else {
                    let xbs = gather(x, cols, xb);
                    full.clear();
                    full.resize(b * b, 0.0);
                    crate::linalg::gram(xbs, n, b, full, 1);
                    entry.gram.clear();
                    for i in 1..b {
                        entry.gram.extend_from_slice(&full[i * b..i * b + i]);
                    }
                }
                entry.cols.clear();
                entry.cols.extend_from_slice(cols);
                entry.coupled = coupling(&entry.gram, cols, norm2, inv) >= COUPLED;
            }
            let (gram, coupled) = (&entry.gram, entry.coupled);
            // the block's columns: in f64 (gathered when not consecutive), or rounded to f32
            // above in a single-precision loop
            let xbs = if single.on {
                &[][..]
            } else {
                gather(x, cols, xb)
            };
            g.resize(b * t, 0.0);
            dw.clear();
            dw.resize(b * t, 0.0);
            if single.on {
                // G = X_BᵀR₀ + X_BᵀD, the second product in f32
                if !g_ready {
                    single.g.resize(b * t, 0.0);
                    crate::linalg::xt_r_f32(
                        &single.xb,
                        ld,
                        b,
                        &single.d,
                        t,
                        &mut single.g,
                        &mut single.pf,
                    );
                }
                for (i, &j) in cols.iter().enumerate() {
                    let (gi, g32) = (&mut g[i * t..(i + 1) * t], &single.g[i * t..(i + 1) * t]);
                    for ((o, &r0), &dv) in
                        gi.iter_mut().zip(&single.xtr0[j * t..(j + 1) * t]).zip(g32)
                    {
                        *o = r0 + f64::from(dv);
                    }
                }
            } else {
                crate::linalg::xt_r(xbs, n, b, &self.r, t, g, 1);
            }
            changed.clear();
            for (i, &j) in cols.iter().enumerate() {
                // the row's current gradient: G_i − Σ_{p<i changed} (X_iᵀ X_p) Δ_p, from row i
                // of the packed lower triangle
                tmp.copy_from_slice(&g[i * t..(i + 1) * t]);
                let step = BlockStep {
                    coefs: &gram[tri(i)..tri(i) + i],
                    changed,
                    i,
                    track: measure,
                };
                let (moved, viol) =
                    step.apply(&mut tmp, dw, &mut w[j * t..(j + 1) * t], norm2[j], nf, prox);
                worst = worst.max(viol);
                if moved {
                    changed.push(i);
                }
            }
            if coupled && !changed.is_empty() {
                // a second sweep, each row's gradient corrected for every row of the block
                // that moved (itself included) through the full symmetric Gram matrix
                // (diagonal: the column norms); `dw` accumulates each row's change
                full.clear();
                full.resize(b * b, 0.0);
                for i in 0..b {
                    full[i * b + i] = norm2[cols[i]];
                    for p in 0..i {
                        let v = gram[tri(i) + p];
                        full[i * b + p] = v;
                        full[p * b + i] = v;
                    }
                }
                inset.clear();
                inset.resize(b, false);
                for &p in changed.iter() {
                    inset[p] = true;
                }
                for (i, &j) in cols.iter().enumerate() {
                    tmp.copy_from_slice(&g[i * t..(i + 1) * t]);
                    let step = BlockStep {
                        coefs: &full[i * b..(i + 1) * b],
                        changed,
                        i,
                        track: false,
                    };
                    let (moved, _) =
                        step.apply(&mut tmp, dw, &mut w[j * t..(j + 1) * t], norm2[j], nf, prox);
                    if moved && !inset[i] {
                        inset[i] = true;
                        changed.push(i);
                    }
                }
            }
            if !changed.is_empty() {
                add_changes(changes.as_deref_mut(), first * t, dw);
                if single.on {
                    crate::linalg::narrow(dw, &mut single.dwb);
                    crate::linalg::sub_x_w_f32(
                        &single.xb,
                        ld,
                        b,
                        &single.dwb,
                        t,
                        &mut single.d,
                        &mut single.pf,
                    );
                } else {
                    crate::linalg::sub_x_w(xbs, n, b, dw, t, &mut self.r, 1);
                }
            }
        }
        if !measure {
            return;
        }
        if self.single.on {
            // (checked on the epochs that measure: every K-th of an inner loop)
            // the f32 products' rounding of a row's gradient is about 1e-7·‖X_j‖·‖D‖; once the
            // largest violation comes within SINGLE_MARGIN of that bound (a loop that moved R a
            // lot but must now resolve small violations, as on ill-conditioned fits late in
            // their solve), the loop goes on in f64 from an exact R
            // (plus the rounding that approximate outer passes folded into `R₀` and `XᵀR₀`)
            // — unless that rounding is mostly the folded one: then `R₀` and `XᵀR₀` are
            // recomputed exactly and the loop goes on in f32 from them (an exact pass, as a new
            // loop would start from, instead of the loop's remaining epochs in f64)
            let own = crate::linalg::dot_f32s(&self.single.d, &self.single.d).sqrt();
            let xmax = ws.iter().map(|&j| norm2[j]).fold(0.0f64, f64::max).sqrt();
            let bound = |dn: f64| SINGLE_MARGIN * SINGLE_ROUNDING * xmax * dn / nf;
            self.single.room = worst / bound(1.0);
            if worst <= bound(own + self.single.anchor) {
                if worst > bound(own) {
                    log::debug!(
                        "single-precision loop re-anchored: violation {worst:.3e}, folded rounding bound {:.3e}",
                        bound(self.single.anchor) / SINGLE_MARGIN
                    );
                    self.reanchor(w);
                } else {
                    log::debug!(
                        "single-precision loop continues in f64: violation {worst:.3e}, rounding bound {:.3e}",
                        bound(own + self.single.anchor) / SINGLE_MARGIN
                    );
                    self.flush(w);
                }
            }
        }
        self.worst = Some(worst);
    }
    fn epoch_violation(&self) -> Option<f64> {
        self.worst
    }
    fn measure_next(&mut self, on: bool) {
        self.measure = on;
    }
    fn grad_rows(&mut self, rows: &[usize], out: &mut [f64]) {
        if !self.x.can_gather() || self.wsg.is_some() {
            for (&j, o) in rows.iter().zip(out.chunks_exact_mut(self.t)) {
                self.grad_row(j, o);
            }
            return;
        }
        let x = self.x;
        let (n, t) = (x.n_samples(), self.t);
        let c = chunk_cols(n);
        for (cols, o) in rows.chunks(c).zip(out.chunks_mut(c * t)) {
            let xbs = gather(x, cols, &mut self.blocks.xb);
            if self.single.on {
                let s = &mut *self.single;
                let ld = crate::linalg::padded_rows(n);
                crate::linalg::narrow_cols(xbs, n, ld, cols.len(), &mut s.xb);
                s.g.resize(cols.len() * t, 0.0);
                crate::linalg::xt_r_f32(&s.xb, ld, cols.len(), &s.d, t, &mut s.g, &mut s.pf);
                for (i, &j) in cols.iter().enumerate() {
                    for k in 0..t {
                        o[i * t + k] = s.xtr0[j * t + k] + f64::from(s.g[i * t + k]);
                    }
                }
            } else {
                crate::linalg::xt_r(xbs, n, cols.len(), &self.r, t, o, 1);
            }
        }
    }
    fn update_rows(&mut self, rows: &[usize], deltas: &[f64]) {
        if !self.x.can_gather() || self.wsg.is_some() {
            for (&j, dl) in rows.iter().zip(deltas.chunks_exact(self.t)) {
                self.update_row(j, dl);
            }
            return;
        }
        let x = self.x;
        let (n, t) = (x.n_samples(), self.t);
        let c = chunk_cols(n);
        for (cols, dl) in rows.chunks(c).zip(deltas.chunks(c * t)) {
            if dl.iter().any(|&v| v != 0.0) {
                self.fresh = false;
                if self.single.on {
                    let s = &mut *self.single;
                    let ld = crate::linalg::padded_rows(n);
                    round_columns(x, cols, ld, &mut self.blocks.xb, &mut s.xb);
                    crate::linalg::narrow(dl, &mut s.dwb);
                    crate::linalg::sub_x_w_f32(
                        &s.xb,
                        ld,
                        cols.len(),
                        &s.dwb,
                        t,
                        &mut s.d,
                        &mut s.pf,
                    );
                } else {
                    let xbs = gather(x, cols, &mut self.blocks.xb);
                    crate::linalg::sub_x_w(xbs, n, cols.len(), dl, t, &mut self.r, 1);
                }
            }
        }
    }
}

/// Anderson's history of residuals (`R` in `f64` and [`K`] differences in `f32`, `(4K + 8)·n·t`
/// bytes) is kept only when it costs at most [`RESIDUAL_HISTORY_SHARE`] of `X` (`n·d` values of
/// `value_bytes`, so `d ≥ 175·t` in `f64`): it saves a product over the working set's columns
/// per extrapolation. On the benchmark's grid that is wide (1.8 % of `X`; its `α_max/100` fits
/// then add 0.175 × X in all, where they added 0.18 before Anderson's differences were
/// recorded by the epochs and its snapshot of `W` went) and xwide (0.07 %), not small, whose
/// fits are above the 0.2 × X budget already (3.6 %), nor tall (5.6 %).
fn residual_history_fits(d: usize, t: usize, value_bytes: usize) -> bool {
    (4 * K + 8)
        .saturating_mul(t)
        .saturating_mul(RESIDUAL_HISTORY_SHARE)
        <= d.saturating_mul(value_bytes)
}

/// See [`residual_history_fits`]: `X / 50`.
const RESIDUAL_HISTORY_SHARE: usize = 50;

/// `R`'s entry `(i, k)` of a residual state: `R₀ + D` in a single-precision loop.
#[inline]
fn residual_at(r: &[f64], single: &Single, n: usize, ld: usize, i: usize, k: usize) -> f64 {
    let v = r[k * n + i];
    if single.on {
        v + f64::from(single.d[k * ld + i])
    } else {
        v
    }
}

/// Gram state: `G = XᵀX`, `XᵀY`, `H = XᵀY − G W` (`xty` and `h` stored column-major `d × t`,
/// so an update is `t` vectorised axpys of length `d`).
pub(super) struct Gram {
    pub g: Vec<f64>,
    pub xty: Vec<f64>,
    pub h: Vec<f64>,
    pub y2: f64,
    pub d: usize,
    pub t: usize,
}

impl Gram {
    /// Build from a design and targets (column-major `n × t`), at `W = w`.
    pub fn new<X: Design>(x: &X, y: &[f64], t: usize, w: &[f64]) -> Self {
        let d = x.n_features();
        let mut g = vec![0.0; d * d];
        x.gram(&mut g);
        let mut xty_rows = vec![0.0; d * t];
        x.xt_r(y, t, &mut xty_rows);
        let mut xty = vec![0.0; d * t];
        for j in 0..d {
            for k in 0..t {
                xty[k * d + j] = xty_rows[j * t + k];
            }
        }
        let mut s = Self {
            g,
            xty,
            h: vec![0.0; d * t],
            y2: y.iter().map(|v| v * v).sum(),
            d,
            t,
        };
        s.refresh(w);
        s
    }

    #[cfg(test)]
    /// Build at `W = w` from `xtr = XᵀR` (`d × t` row-major, `R = Y − XW`) already computed:
    /// `XᵀY = XᵀR + G W` then costs `d·|support|·t` instead of a pass over `X`.
    pub fn with_xtr<X: Design>(x: &X, y: &[f64], t: usize, w: &[f64], xtr: &[f64]) -> Self {
        let d = x.n_features();
        let mut g = vec![0.0; d * d];
        x.gram(&mut g);
        Self::from_parts(g, y, t, w, xtr)
    }

    /// Build at `W = w` from `G = XᵀX` (`d × d`, given) and `xtr = XᵀR` (`d × t` row-major,
    /// `R = Y − XW`) already computed: `XᵀY = XᵀR + G W`, no pass over `X`.
    pub fn from_parts(g: Vec<f64>, y: &[f64], t: usize, w: &[f64], xtr: &[f64]) -> Self {
        let d = xtr.len() / t.max(1);
        let mut s = Self {
            g,
            xty: vec![0.0; d * t],
            h: vec![0.0; d * t],
            y2: y.iter().map(|v| v * v).sum(),
            d,
            t,
        };
        s.rebase(w, xtr);
        s
    }

    /// A placeholder without data (replaced before use).
    fn empty() -> Self {
        Self {
            g: Vec::new(),
            xty: Vec::new(),
            h: Vec::new(),
            y2: 0.0,
            d: 0,
            t: 0,
        }
    }

    /// Continue from `xtr = XᵀR` (`d × t` row-major) computed at `W = w`: `H = XᵀR` and
    /// `XᵀY = XᵀR + G W` (with an approximate `G` the later `H = XᵀY − G W` then carries `G`'s
    /// error on `W − w` only).
    fn rebase(&mut self, w: &[f64], xtr: &[f64]) {
        let (d, t) = (self.d, self.t);
        for j in 0..d {
            for k in 0..t {
                self.h[k * d + j] = xtr[j * t + k];
            }
        }
        self.xty.copy_from_slice(&self.h);
        for q in 0..d {
            let wq = &w[q * t..(q + 1) * t];
            if wq.iter().any(|&v| v != 0.0) {
                let gq = &self.g[q * d..(q + 1) * d];
                for (k, &wk) in wq.iter().enumerate() {
                    if wk != 0.0 {
                        crate::linalg::axpy(wk, gq, &mut self.xty[k * d..(k + 1) * d]);
                    }
                }
            }
        }
    }

    /// Recompute `H = XᵀY − G W` exactly (removes drift from incremental updates): one
    /// product (`2·d²·t` flops at matrix-product speed).
    fn refresh(&mut self, w: &[f64]) {
        let (d, t) = (self.d, self.t);
        self.h.copy_from_slice(&self.xty);
        if w.iter().any(|&v| v != 0.0) {
            // G is symmetric: its row-major storage is its column-major one
            crate::linalg::sub_x_w(&self.g, d, d, w, t, &mut self.h, 1);
        }
    }
}

impl CdState for Gram {
    #[inline]
    fn grad_row(&self, j: usize, out: &mut [f64]) {
        let d = self.d;
        for (k, o) in out.iter_mut().enumerate() {
            *o = self.h[k * d + j];
        }
    }
    #[inline]
    fn update_row(&mut self, j: usize, delta: &[f64]) {
        let d = self.d;
        let gj = &self.g[j * d..(j + 1) * d];
        for (k, &dk) in delta.iter().enumerate() {
            if dk != 0.0 {
                crate::linalg::axpy(-dk, gj, &mut self.h[k * d..(k + 1) * d]);
            }
        }
    }
    /// Blocks of [`BLOCK`] working-set rows (as [`Residual`]'s blocked epoch): the rows'
    /// gradients read from `H`, each corrected for the rows of its block that moved before it
    /// through the block's entries of `G`, then one product `H −= G_{:,B} ΔW_B`: the updates
    /// of row-by-row CD (same order, same values up to rounding), `t` axpys of length `d` per
    /// row replaced by a matrix product per block.
    fn epoch_into(
        &mut self,
        w: &mut [f64],
        ws: &[usize],
        norm2: &[f64],
        nf: f64,
        prox: Prox<'_>,
        mut changes: Option<&mut [f32]>,
    ) {
        let (d, t) = (self.d, self.t);
        let mut tmp = vec![0.0; t];
        let (mut coefs, mut dw, mut cols_g, mut changed) = (vec![], vec![], vec![], vec![]);
        let mut off = 0;
        for cols in ws.chunk_by(|a, b| a / BLOCK == b / BLOCK) {
            let b = cols.len();
            let first = off;
            off += b;
            coefs.clear();
            for &ji in cols {
                let gi = &self.g[ji * d..(ji + 1) * d];
                coefs.extend(cols.iter().map(|&jp| gi[jp]));
            }
            dw.clear();
            dw.resize(b * t, 0.0);
            changed.clear();
            for (i, &j) in cols.iter().enumerate() {
                for (k, o) in tmp.iter_mut().enumerate() {
                    *o = self.h[k * d + j];
                }
                let step = BlockStep {
                    coefs: &coefs[i * b..(i + 1) * b],
                    changed: &changed,
                    i,
                    track: false,
                };
                let (moved, _) = step.apply(
                    &mut tmp,
                    &mut dw,
                    &mut w[j * t..(j + 1) * t],
                    norm2[j],
                    nf,
                    prox,
                );
                if moved {
                    changed.push(i);
                }
            }
            if changed.is_empty() {
                continue;
            }
            add_changes(changes.as_deref_mut(), first * t, &dw);
            // G's columns of the block (G is symmetric: its rows), a slice when consecutive
            let a = crate::design::gather_f64(&self.g, d, cols, &mut cols_g);
            crate::linalg::sub_x_w(a, d, b, &dw, t, &mut self.h, 1);
        }
    }
    fn full_grad(&mut self, w: &[f64], out: &mut [f64]) {
        self.refresh(w);
        let (d, t) = (self.d, self.t);
        for j in 0..d {
            for k in 0..t {
                out[j * t + k] = self.h[k * d + j];
            }
        }
    }
    fn r2_ry(&self, w: &[f64]) -> (f64, f64) {
        let (d, t) = (self.d, self.t);
        let mut wxty = 0.0;
        let mut wh = 0.0;
        for j in 0..d {
            for k in 0..t {
                let wjk = w[j * t + k];
                if wjk != 0.0 {
                    wxty += wjk * self.xty[k * d + j];
                    wh += wjk * self.h[k * d + j];
                }
            }
        }
        ((self.y2 - wxty - wh).max(0.0), self.y2 - wxty)
    }
}

/// Options of the accelerated solver.
pub(super) struct WsOptions {
    pub max_iter: usize,
    pub tol_n: f64,
    pub screening: bool,
    pub anderson: bool,
    pub random: bool,
}

/// Outcome: epochs run, convergence and the last gap.
pub(super) struct WsOutcome {
    pub n_iter: usize,
    pub converged: bool,
    pub gap: GapState,
}

/// What the last outer iteration of one solve leaves for the next solve of a path (the same
/// `W` and `R`): `XᵀR` (`d × t` row-major), `‖R‖²` and `⟨R, Y⟩`.
#[derive(Default)]
pub(super) struct OuterCache {
    xtr: Vec<f64>,
    r2: f64,
    ry: f64,
    valid: bool,
    /// Per-feature scratch of the outer iterations (violation scores, `‖W_j‖²`), kept from one
    /// alpha to the next instead of reallocated.
    scores: Vec<f64>,
    wn2: Vec<f64>,
}

impl OuterCache {
    /// Keep `xtr` (moved in, not copied) with its `‖R‖²` and `⟨R, Y⟩` for the next solve.
    pub(super) fn store(&mut self, xtr: Vec<f64>, r2: f64, ry: f64) {
        self.xtr = xtr;
        (self.r2, self.ry, self.valid) = (r2, ry, true);
    }

    /// The stored `XᵀR` buffer (moved out, resized to `len`) and, if it is valid for the
    /// current `W` (once: the cache is invalid afterwards), its `(‖R‖², ⟨R, Y⟩)`.
    fn take(&mut self, len: usize) -> (Vec<f64>, Option<(f64, f64)>) {
        let ok = std::mem::take(&mut self.valid) && self.xtr.len() == len;
        let mut xtr = std::mem::take(&mut self.xtr);
        xtr.resize(len, 0.0);
        (xtr, ok.then_some((self.r2, self.ry)))
    }

    /// Forget the stored parts (`W` or the state changed).
    fn invalidate(&mut self) {
        self.valid = false;
    }
}

/// Solve with working sets. `w` (`d × t` row-major) is updated in place; `norm2[j] = ‖X_j‖²`.
#[allow(clippy::too_many_arguments)]
pub(super) fn solve<S: CdState + ?Sized, P: ProxRow + DualNorm>(
    state: &mut S,
    w: &mut [f64],
    norm2: &[f64],
    n: usize,
    t: usize,
    penalty: &P,
    opts: &WsOptions,
    rng: &mut StdRng,
    cache: &mut OuterCache,
) -> WsOutcome {
    let d = norm2.len();
    let nf = n as f64;
    let a_n = nf * penalty.l21_weight();
    let b_n = nf * penalty.ridge_weight();
    let screening = opts.screening && a_n > 0.0;
    let mut excluded = vec![false; d];
    let warm = w.iter().any(|&v| v != 0.0);
    let mut n_outer = 0usize;
    let mut delta = vec![0.0; t];
    if !a_n.is_finite() || !b_n.is_finite() {
        // a penalty weight beyond f64's range (alpha near f64::MAX): the zero model is the
        // solution (the prox of every row is zero for any finite gradient), and `θ = Y / n` is
        // a dual point for it with the same objective (gap 0); no gap formula is evaluated
        // (its products with the weight overflow)
        if warm {
            cache.invalidate();
        }
        for j in 0..d {
            if w[j * t..(j + 1) * t].iter().any(|&v| v != 0.0) {
                zero_row(state, w, j, t, &mut delta);
            }
        }
        let primal_n = 0.5 * state.r2(w);
        return WsOutcome {
            n_iter: 0,
            converged: true,
            gap: GapState {
                gap_n: 0.0,
                primal_n,
                dual_norm: 0.0,
                row_norms: Vec::new(),
            },
        };
    }
    for j in 0..d {
        if norm2[j] == 0.0 {
            excluded[j] = true;
            if w[j * t..(j + 1) * t].iter().any(|&v| v != 0.0) {
                cache.invalidate();
                zero_row(state, w, j, t, &mut delta);
            }
        }
    }
    let min_norm2 = norm2
        .iter()
        .copied()
        .filter(|&v| v > 0.0)
        .fold(f64::INFINITY, f64::min);
    // `XᵀR` of the outer loop, and scratch space for the gap of a penalty without L2,1 part
    let (mut grad, mut cached) = cache.take(d * t);
    let mut xtr = Vec::new();
    let mut scores = std::mem::take(&mut cache.scores);
    scores.resize(d, 0.0);
    let mut wn2 = std::mem::take(&mut cache.wn2);
    wn2.resize(d, 0.0);
    let mut tmp = vec![0.0; t];
    let mut epochs = 0usize;
    let mut anderson = Anderson::default();
    let mut ws: Vec<usize> = Vec::new();
    let mut best_dual = f64::NEG_INFINITY;
    let (mut prev_gap, mut last_gap) = (f64::INFINITY, f64::INFINITY);
    let inner_frac = if warm { INNER_WARM } else { INNER };
    let clock = std::time::Instant::now();
    let (a, b) = (penalty.l21_weight(), penalty.ridge_weight());
    loop {
        // along a path the first outer iteration of an alpha sees the `W` (and `R`) the previous
        // alpha ended with: its `XᵀR`, `‖R‖²` and `⟨R, Y⟩` are reused
        if let Some(v) = state.take_outer_xtr() {
            grad = v;
        }
        // (values kept from the previous solve are exact)
        let (mut r2, mut ry) = match cached.take() {
            Some(parts) => parts,
            None => {
                // an approximate pass only where the gap, going down as it did last time,
                // would stay above APPROX_NEAR × the tolerance, and went down by APPROX_PROGRESS
                // or more last time (else the exact pass would follow it: near the end, or
                // where the gap falls slowly, as on ill-conditioned ElasticNet fits)
                let (predicted, fast) = if prev_gap.is_finite() {
                    let fall = last_gap / prev_gap;
                    (last_gap * fall.min(1.0), fall <= APPROX_PROGRESS)
                } else {
                    (last_gap, true)
                };
                let approx_ok = fast && predicted > APPROX_NEAR * opts.tol_n;
                state.outer_grad(w, &mut grad, approx_ok);
                state.r2_ry(w)
            }
        };
        let mut exact = !state.approximate();
        // optimality violations (documented scale: gradient of F is −XᵀR / n) and the gap, in
        // one pass over the rows; an approximate state's gap that says stop is recomputed from
        // exact passes first
        let gap = loop {
            let gap = if a > 0.0 {
                outer_pass(
                    w,
                    &grad,
                    t,
                    nf,
                    (a, b),
                    (r2, ry),
                    &excluded,
                    &mut wn2,
                    &mut scores,
                )
            } else {
                for j in 0..d {
                    let wj = &w[j * t..(j + 1) * t];
                    wn2[j] = wj.iter().map(|v| v * v).sum();
                    scores[j] = if excluded[j] {
                        f64::NEG_INFINITY
                    } else {
                        violation(wj, wn2[j], &grad[j * t..(j + 1) * t], nf, a, b)
                    };
                }
                xtr.clear();
                xtr.extend_from_slice(&grad);
                gap_from_parts(n, &mut xtr, r2, ry, w, t, penalty)
            };
            // (an approximate gap that did not halve since the last outer iteration may sit
            // on its rounding: the exact pass decides)
            if exact
                || (gap.gap_n > opts.tol_n
                    && epochs < opts.max_iter
                    && gap.gap_n <= APPROX_PROGRESS * last_gap)
            {
                break gap;
            }
            (r2, ry) = state.exact(w, &mut grad);
            exact = true;
        };
        // the stopping certificate: the primal at `W` against the best dual point of this
        // solve (every one of them is feasible for this penalty, and the dual objective does
        // not depend on `W`), so the certified gap never grows from one outer iteration to
        // the next; screening keeps the current point's own gap, the radius of a sphere
        // centred there
        // (an approximate state's gap is none of these: it only guides the working set)
        let mut gap = gap;
        let own_gap = gap.gap_n;
        (prev_gap, last_gap) = (last_gap, own_gap);
        if exact && gap.primal_n.is_finite() {
            best_dual = best_dual.max(gap.primal_n - gap.gap_n);
            gap.gap_n = gap.gap_n.min(gap.primal_n - best_dual);
        }
        let done = if !exact {
            None
        } else if gap.gap_n <= opts.tol_n {
            Some(true)
        } else if epochs >= opts.max_iter {
            Some(false)
        } else {
            None
        };
        if let Some(converged) = done {
            log::debug!(
                "done: {:.2} ms, epochs {epochs}, outer {n_outer}, gap {:.3e}, converged {converged}",
                clock.elapsed().as_secs_f64() * 1e3,
                gap.gap_n
            );
            cache.store(grad, r2, ry);
            cache.scores = scores;
            cache.wn2 = wn2;
            return WsOutcome {
                n_iter: epochs,
                converged,
                gap,
            };
        }
        // no row can be screened while the gap sphere is too large for the best-placed one
        // (the test needs `1 − ‖G_j‖/max(A, ‖G‖∞) > radius·√(‖X_j‖² + B)`, and the left side
        // is at most 1): skips the per-row tests early in a fit and on loose tolerances
        gap.gap_n = own_gap;
        let radius = (2.0 * gap.gap_n.max(0.0)).sqrt() / a_n;
        if exact && screening && radius * (min_norm2 + b_n).sqrt() < 1.0 {
            let screen = gap.screener(a_n, b_n);
            for j in 0..d {
                if !excluded[j] && screen.screens(j, norm2[j]) {
                    excluded[j] = true;
                    scores[j] = f64::NEG_INFINITY;
                    if !crate::linalg::is_zero(&w[j * t..(j + 1) * t]) {
                        // `R` moves with a row outside Anderson's history
                        anderson.reset();
                    }
                    zero_row(state, w, j, t, &mut delta);
                }
            }
        }
        let stop_crit = scores.iter().copied().fold(0.0f64, f64::max);
        // working set: support first, then the largest violations (features that already
        // satisfy their optimality condition are left out)
        // (rows zeroed by screening have `scores = −∞`; their stale `wn2` is not read)
        let n_support = (0..d).filter(|&j| !excluded[j] && wn2[j] > 0.0).count();
        let mut cand: Vec<usize> = (0..d)
            .filter(|&j| !excluded[j] && (wn2[j] > 0.0 || scores[j] > 0.0))
            .collect();
        let n_candidates = cand.len();
        // a warm start (along a path) begins near its solution: its first working set adds
        // few features to the support it starts from
        let ws_size = if warm && n_outer == 0 {
            P0.max(n_support + n_support / WARM_GROWTH_DIV)
        } else {
            P0.max(GROWTH * n_support).max(cand.len() / 4)
        }
        .min(cand.len());
        n_outer += 1;
        if ws_size < cand.len() {
            let key = |j: usize| {
                if wn2[j] > 0.0 {
                    f64::INFINITY
                } else {
                    scores[j]
                }
            };
            cand.select_nth_unstable_by(ws_size, |&a, &b| key(b).total_cmp(&key(a)));
            cand.truncate(ws_size);
        }
        cand.sort_unstable();
        // Anderson's history stays valid while the working set does not change
        if cand != ws {
            anderson.reset();
        }
        ws = cand;
        state.before_inner(w, &ws, n_candidates, &mut grad);
        log::debug!(
            "outer: {:.1} ms, epochs {epochs} gap {:.3e} tol {:.3e} violation {:.3e} support {n_support} candidates {n_candidates} ws {} exact {exact}",
            clock.elapsed().as_secs_f64() * 1e3,
            gap.gap_n,
            opts.tol_n,
            stop_crit,
            ws.len()
        );
        let mut inner = 0usize;
        let prox = RowProx::of(penalty);
        // the working set's gradient rows, checked every K epochs, reuse the outer `XᵀR`'s
        // buffer (recomputed at the next outer iteration): no `|ws|·t` allocation per round
        while epochs < opts.max_iter {
            epochs += 1;
            inner += 1;
            // Anderson's next difference of iterates, recorded by the epoch
            let mut changes = if opts.anderson && epochs > ANDERSON_FROM {
                anderson.begin(state, ws.len() * t)
            } else {
                None
            };
            if opts.random {
                for _ in 0..ws.len() {
                    let i = rng.random_range(0..ws.len());
                    let j = ws[i];
                    if cd_row(state, w, j, t, norm2[j], nf, &prox, &mut tmp, &mut delta) {
                        add_changes(changes.as_deref_mut(), i * t, &delta);
                    }
                }
            } else {
                state.measure_next(inner.is_multiple_of(K));
                state.epoch_into(w, &ws, norm2, nf, &prox, changes.as_deref_mut());
            }
            state.account(ws.len());
            if inner == PRUNE_AFTER && ws.len() >= 2 * P0 {
                let before = ws.len();
                let kept: Vec<usize> = ws
                    .iter()
                    .copied()
                    .filter(|&j| !crate::linalg::is_zero(&w[j * t..(j + 1) * t]))
                    .collect();
                if PRUNE_MIN * (before - kept.len()) >= before {
                    log::debug!("pruned working set {before} -> {}", kept.len());
                    ws = kept;
                    anderson.reset();
                    if ws.is_empty() {
                        break;
                    }
                }
            }
            if let Some(u) = changes {
                anderson.step(state, w, &ws, t, penalty, nf, u);
            }
            if inner.is_multiple_of(K) {
                // the blocked epoch's own measure when it has one (no pass over the working
                // set's columns), else the working set's gradient
                if let Some(worst) = state.epoch_violation() {
                    if worst <= inner_frac * stop_crit {
                        break;
                    }
                    continue;
                }
                // (a state that took the outer `XᵀR` buffer left an empty one)
                if grad.len() < ws.len() * t {
                    grad.resize(ws.len() * t, 0.0);
                }
                let ws_grad = &mut grad[..ws.len() * t];
                state.grad_rows(&ws, ws_grad);
                let mut worst = 0.0f64;
                for (&j, gj) in ws.iter().zip(ws_grad.chunks_exact(t)) {
                    let wj = &w[j * t..(j + 1) * t];
                    let w2 = wj.iter().map(|v| v * v).sum();
                    worst = worst.max(violation(wj, w2, gj, nf, a, b));
                }
                if let Some((r2, ry)) = state.inner_r2_ry() {
                    // cheap epochs: solve the working-set problem to the tolerance (its gap,
                    // with the dual point scaled on the working set only, bounds the full gap
                    // from below), within at most INNER_CHEAP_MAX epochs
                    let w_ws: Vec<f64> = ws
                        .iter()
                        .flat_map(|&j| w[j * t..(j + 1) * t].iter().copied())
                        .collect();
                    let g = gap_from_parts(n, ws_grad, r2, ry, &w_ws, t, penalty);
                    if g.gap_n <= 0.5 * opts.tol_n || inner >= INNER_CHEAP_MAX {
                        break;
                    }
                } else if worst <= inner_frac * stop_crit {
                    break;
                }
            }
        }
    }
}

/// The outer iteration's pass over the rows, for a penalty `a‖·‖₂ + (b/2)‖·‖²` with `a > 0`:
/// `wn2[j] = ‖W_j‖²`, `scores[j]` the optimality violation of row `j` (as [`violation`];
/// `−∞` for excluded rows) and the duality gap (as [`gap_from_parts`], which it equals up to
/// rounding) from `xtr = XᵀR` (`d × t` row-major, not modified), `‖R‖²` and `⟨R, Y⟩`. Row sums
/// run on four accumulators (and AVX2 when the CPU has it): this pass is most of an outer
/// iteration's own cost when `n` is small.
#[allow(clippy::too_many_arguments)]
fn outer_pass(
    w: &[f64],
    xtr: &[f64],
    t: usize,
    nf: f64,
    ab: (f64, f64),
    r2_ry: (f64, f64),
    excluded: &[bool],
    wn2: &mut [f64],
    scores: &mut [f64],
) -> GapState {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { outer_pass_avx2(w, xtr, t, nf, ab, r2_ry, excluded, wn2, scores) };
    }
    outer_pass_impl(w, xtr, t, nf, ab, r2_ry, excluded, wn2, scores)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn outer_pass_avx2(
    w: &[f64],
    xtr: &[f64],
    t: usize,
    nf: f64,
    ab: (f64, f64),
    r2_ry: (f64, f64),
    excluded: &[bool],
    wn2: &mut [f64],
    scores: &mut [f64],
) -> GapState {
    outer_pass_impl(w, xtr, t, nf, ab, r2_ry, excluded, wn2, scores)
}

/// `Σ f(u_i, v_i)` on four accumulators.
#[inline(always)]
fn sum4(u: &[f64], v: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let (cu, cv) = (u.chunks_exact(4), v.chunks_exact(4));
    let (ru, rv) = (cu.remainder(), cv.remainder());
    for (a, b) in cu.zip(cv) {
        for k in 0..4 {
            acc[k] += f(a[k], b[k]);
        }
    }
    let mut s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (&a, &b) in ru.iter().zip(rv) {
        s += f(a, b);
    }
    s
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn outer_pass_impl(
    w: &[f64],
    xtr: &[f64],
    t: usize,
    nf: f64,
    (a, b): (f64, f64),
    (r2, ry): (f64, f64),
    excluded: &[bool],
    wn2: &mut [f64],
    scores: &mut [f64],
) -> GapState {
    let (an, bn) = (nf * a, nf * b);
    let inv_n = 1.0 / nf;
    let d = wn2.len();
    let mut row_norms = Vec::with_capacity(d);
    let (mut dual_norm, mut l21, mut w2_all) = (0.0f64, 0.0, 0.0);
    for j in 0..d {
        let (wj, xj) = (&w[j * t..(j + 1) * t], &xtr[j * t..(j + 1) * t]);
        let w2 = sum4(wj, wj, |u, _| u * u);
        let x2 = sum4(xj, xj, |u, _| u * u);
        wn2[j] = w2;
        // the gap's G_j = X_jᵀR − B W_j
        let g2 = if bn > 0.0 && w2 > 0.0 {
            sum4(xj, wj, |x, v| {
                let g = x - bn * v;
                g * g
            })
        } else {
            x2
        };
        let g = g2.sqrt();
        row_norms.push(g);
        dual_norm = dual_norm.max(g);
        let wn = w2.sqrt();
        l21 += wn;
        w2_all += w2;
        scores[j] = if excluded[j] {
            f64::NEG_INFINITY
        } else if w2 == 0.0 {
            (x2.sqrt() * inv_n - a).max(0.0)
        } else {
            let c = b + a / wn;
            sum4(wj, xj, |v, x| {
                let e = c * v - x * inv_n;
                e * e
            })
            .sqrt()
        };
    }
    GapState {
        gap_n: crate::gap::gap_value(an, bn, r2, ry, w2_all, l21, dual_norm),
        primal_n: 0.5 * (r2 + bn * w2_all) + an * l21,
        dual_norm,
        row_norms,
    }
}

/// Optimality violation of row `w` with `xtr = X_jᵀR` for the penalty `a‖·‖₂ + (b/2)‖·‖²`:
/// the distance of `−∇_j F = xtr / n` to the row's subdifferential (the penalty's
/// `subdiff_distance`, on slices in one pass).
/// `w2 = ‖w‖²`.
/// (Every row step of an epoch measures it: one division, and sums on four accumulators, so
/// that it is not a chain of `t` dependent additions and `t` divisions.)
#[inline]
fn violation(w: &[f64], w2: f64, xtr: &[f64], nf: f64, a: f64, b: f64) -> f64 {
    let inv = 1.0 / nf;
    if w2 == 0.0 {
        return (crate::linalg::sum_squares(xtr).sqrt() * inv - a).max(0.0);
    }
    let c = b + a / w2.sqrt();
    let d = |wi: f64, gi: f64| {
        let v = c * wi - gi * inv;
        v * v
    };
    let (wc, gc) = (w.chunks_exact(4), xtr.chunks_exact(4));
    let (wr, gr) = (wc.remainder(), gc.remainder());
    let mut acc = [0.0f64; 4];
    for (wq, gq) in wc.zip(gc) {
        for k in 0..4 {
            acc[k] += d(wq[k], gq[k]);
        }
    }
    let mut s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (&wi, &gi) in wr.iter().zip(gr) {
        s += d(wi, gi);
    }
    s.sqrt()
}

fn zero_row<S: CdState + ?Sized>(
    state: &mut S,
    w: &mut [f64],
    j: usize,
    t: usize,
    delta: &mut [f64],
) {
    let wj = &mut w[j * t..(j + 1) * t];
    if wj.iter().any(|&v| v != 0.0) {
        delta.iter_mut().zip(wj.iter()).for_each(|(dl, v)| *dl = -v);
        wj.iter_mut().for_each(|v| *v = 0.0);
        state.update_row(j, delta);
    }
}

/// One block update of row `j`; whether the row moved (`delta` then holds its change).
#[allow(clippy::too_many_arguments)]
#[inline]
fn cd_row<S: CdState + ?Sized>(
    state: &mut S,
    w: &mut [f64],
    j: usize,
    t: usize,
    nj: f64,
    nf: f64,
    prox: Prox<'_>,
    tmp: &mut [f64],
    delta: &mut [f64],
) -> bool {
    let wj = &mut w[j * t..(j + 1) * t];
    state.grad_row(j, tmp);
    prox.update(tmp, wj, nj, nf);
    let mut changed = false;
    for ((dl, new), old) in delta.iter_mut().zip(tmp.iter()).zip(wj.iter_mut()) {
        *dl = new - *old;
        changed |= *dl != 0.0;
        *old = *new;
    }
    if changed {
        state.update_row(j, delta);
    }
    changed
}

/// Primal objective in `n`-scaled units.
fn primal<S: CdState + ?Sized, P: DualNorm>(
    state: &S,
    w: &[f64],
    t: usize,
    penalty: &P,
    nf: f64,
) -> f64 {
    let r2 = state.r2(w);
    let a = nf * penalty.l21_weight();
    let b = nf * penalty.ridge_weight();
    let mut l21 = 0.0;
    let mut w2 = 0.0;
    for row in w.chunks_exact(t) {
        let s: f64 = row.iter().map(|v| v * v).sum();
        l21 += s.sqrt();
        w2 += s;
    }
    0.5 * (r2 + b * w2) + a * l21
}

/// Anderson extrapolation of the working-set coefficients (Bertrand & Massias 2021).
///
/// Holds the `K` differences between consecutive iterates in single precision, each recorded
/// by its epoch as the rows move ([`CdState::epoch_into`]): `K/2` vectors of `|ws|·t` doubles
/// (the `K + 1` iterates and their differences in `f64` would be `2K + 1`; a snapshot of `W` to
/// subtract from, `1 + K/2`). An extrapolation only proposes a point, kept when it lowers the
/// objective; the differences' rounding (relative `6e-8`) perturbs that proposal by a fraction
/// of the step, not of `W`. The point, `w_k − Σ_l β_l u_l` from the current iterate `w_k`, is
/// applied to `W` (and the CD state) a chunk of rows at a time, with no full-length scratch
/// vector; a rejected point is undone by adding the same change back. On the benchmark's wide
/// problem at `α_max/100` (working set ≈ 9400 × 50) this holds 9.4 MB instead of 41.
///
/// The CD state's residual moves with `W`: by a product `R −= X_ws ΔW` over the working set's
/// columns (about half an epoch), or, within a single-precision loop whose design is large
/// enough for it ([`residual_history_fits`]), from a history of residuals kept beside the
/// differences of `W`: `R_k − Σ_l β_l (R_{l+1} − R_l)` is the point's residual (`R` is affine in
/// `W`), `n·t` flops per difference and no pass over `X`. Both are exact up to `f32` rounding of
/// the step; a history that spans a recomputation of `R` ([`CdState::residual_generation`]: its
/// differences hold that rounding correction besides `−X ΔW`) falls back to the product.
#[derive(Default)]
struct Anderson {
    /// `u_l = w_{l+1} − w_l` in single precision, oldest first (row `i` for `ws[i]`).
    diffs: Vec<Vec<f32>>,
    /// Buffers for the differences, reused from one step to the next.
    pool: Vec<Vec<f32>>,
    /// Row updates of one chunk.
    deltas: Vec<f64>,
    /// `R` at the newest iterate and the differences of consecutive ones (`f32`), kept while
    /// the state offers them ([`CdState::residual_history`]; `r_ok`).
    r_last: Vec<f64>,
    r_diffs: Vec<Vec<f32>>,
    r_pool: Vec<Vec<f32>>,
    r_ok: bool,
    /// The state's [`CdState::residual_generation`] when the history began.
    r_gen: u64,
    /// Whether the epoch after the last (re)start went by ([`begin`](Self::begin)).
    primed: bool,
}

/// Rows per batch when [`Anderson`] moves `W` (and the CD state's residuals).
const ANDERSON_CHUNK: usize = 64;

impl Anderson {
    fn reset(&mut self) {
        self.primed = false;
        self.pool.append(&mut self.diffs);
        self.r_pool.append(&mut self.r_diffs);
        self.r_ok = false;
    }

    /// A zeroed record of `m` entries for the next epoch's changes ([`CdState::epoch_into`]);
    /// a history that starts here first takes the state's residual, if it keeps one. The first
    /// epoch after a (re)start is not recorded (`None`): an extrapolation every `K + 1` epochs,
    /// off the inner loop's checks every `K` (recording it too took small α_max/100 fits 5–10
    /// epochs more to 1e-8).
    fn begin<S: CdState + ?Sized>(&mut self, state: &S, m: usize) -> Option<Vec<f32>> {
        if self.diffs.is_empty() && !self.primed {
            self.primed = true;
            return None;
        }
        if self.diffs.is_empty() {
            self.r_pool.append(&mut self.r_diffs);
            self.r_ok = state.residual_history();
            self.r_gen = state.residual_generation();
            if self.r_ok {
                state.residual_snapshot(&mut self.r_last, None);
            }
        }
        let mut u = self.pool.pop().unwrap_or_default();
        u.clear();
        u.resize(m, 0.0);
        Some(u)
    }

    /// After an epoch that recorded its changes in `u` (from [`begin`](Self::begin)): keep
    /// them, and extrapolate once there are `K`.
    #[allow(clippy::too_many_arguments)]
    fn step<S: CdState + ?Sized, P: DualNorm>(
        &mut self,
        state: &mut S,
        w: &mut [f64],
        ws: &[usize],
        t: usize,
        penalty: &P,
        nf: f64,
        u: Vec<f32>,
    ) {
        if u.len() != ws.len() * t || self.diffs.first().is_some_and(|d| d.len() != u.len()) {
            // the working set changed within the epoch's step (pruned): start over
            self.pool.push(u);
            self.reset();
            return;
        }
        self.diffs.push(u);
        if self.r_ok && state.residual_history() && state.residual_generation() == self.r_gen {
            let mut du = self.r_pool.pop().unwrap_or_default();
            state.residual_snapshot(&mut self.r_last, Some(&mut du));
            self.r_diffs.push(du);
        } else {
            self.r_ok = false;
            self.r_pool.append(&mut self.r_diffs);
        }
        if self.diffs.len() < K {
            return;
        }
        let Some(below) = anderson_coefs(&self.diffs, crate::linalg::dot_f32s) else {
            self.reset();
            return;
        };
        let before = primal(state, w, t, penalty, nf);
        // `W` on the working set to `w_k − Σ_l β_l u_l`, kept only if the objective decreases
        // (a non-finite objective is not a decrease)
        let cheap = self.r_ok;
        move_rows(
            state,
            w,
            ws,
            t,
            &mut self.deltas,
            (&self.diffs, &below),
            -1.0,
            !cheap,
        );
        if cheap {
            state.set_residual(&self.r_last, &self.r_diffs, &below);
        }
        let after = primal(state, w, t, penalty, nf);
        log::trace!("anderson: objective {before:.10e} -> {after:.10e}");
        if after.partial_cmp(&before) != Some(std::cmp::Ordering::Less) {
            // back to the point before the extrapolation
            move_rows(
                state,
                w,
                ws,
                t,
                &mut self.deltas,
                (&self.diffs, &below),
                1.0,
                !cheap,
            );
            if cheap {
                state.set_residual(&self.r_last, &[], &[]);
            }
        }
        self.reset();
    }
}

/// Move `W` on the working set by `sign · Σ_l below_l u_l` (row `ws[i]` by rows `i` of each
/// `u_l` in `diffs`), [`ANDERSON_CHUNK`] rows at a time, updating the CD state when `update`
/// (else the caller moves `R` itself; `deltas`: scratch for one chunk). The change is computed
/// the same way for either sign, so a move and its reverse cancel (a row at zero returns to
/// exactly zero).
#[allow(clippy::too_many_arguments)]
fn move_rows<S: CdState + ?Sized>(
    state: &mut S,
    w: &mut [f64],
    ws: &[usize],
    t: usize,
    deltas: &mut Vec<f64>,
    (diffs, below): (&[Vec<f32>], &[f64]),
    sign: f64,
    update: bool,
) {
    for (c, rows) in ws.chunks(ANDERSON_CHUNK).enumerate() {
        let off = c * ANDERSON_CHUNK * t;
        let len = rows.len() * t;
        // the chunk's change `Σ_l β_l u_l`
        deltas.clear();
        deltas.resize(len, 0.0);
        for (&b, u) in below.iter().zip(diffs) {
            if b != 0.0 {
                crate::linalg::axpy_f32(b, &u[off..off + len], deltas);
            }
        }
        for (r, &j) in rows.iter().enumerate() {
            let dr = &mut deltas[r * t..(r + 1) * t];
            for (o, d) in w[j * t..(j + 1) * t].iter_mut().zip(dr) {
                *d *= sign;
                *o += *d;
            }
        }
        if update {
            state.update_rows(rows, deltas);
        }
    }
}

/// Anderson's weights from the differences `u_l = w_{l+1} − w_l` (`l < k`): the extrapolated
/// point `Σ_i c_i w_{i+1}` (`c = z / Σz`, `(U Uᵀ) z = 1`) equals `w_k − Σ_l β_l u_l` with
/// `β_l = Σ_{i<l} c_i`; returns `β`, or `None` if the system is singular or not finite.
fn anderson_coefs<T>(diffs: &[Vec<T>], dot: impl Fn(&[T], &[T]) -> f64) -> Option<Vec<f64>> {
    let k = diffs.len();
    let mut c = vec![vec![0.0; k + 1]; k];
    for i in 0..k {
        for j in 0..=i {
            let v = dot(&diffs[i], &diffs[j]);
            c[i][j] = v;
            c[j][i] = v;
        }
        c[i][k] = 1.0;
    }
    let z = solve_small(c)?;
    let s: f64 = z.iter().sum();
    if !s.is_finite() || s == 0.0 {
        return None;
    }
    let mut below = vec![0.0; k];
    for l in 1..k {
        below[l] = below[l - 1] + z[l - 1] / s;
    }
    below.iter().all(|b| b.is_finite()).then_some(below)
}

/// The Anderson point `Σ_i c_i w_{i+1}` (as [`extrapolate`]) from the newest iterate
/// `last = w_k` and the differences `u_l = w_{l+1} − w_l` (`l < k`), written to `out`:
/// `w_{i+1} = w_k − Σ_{l>i} u_l`, so the point is `w_k − Σ_l (Σ_{i<l} c_i) u_l`. `false` (and
/// `out` unspecified) if the system is singular or the point not finite.
fn extrapolate_diffs(last: &[f64], diffs: &[Vec<f64>], out: &mut Vec<f64>) -> bool {
    let Some(below) = anderson_coefs(diffs, crate::linalg::dot) else {
        return false;
    };
    out.clear();
    out.extend_from_slice(last);
    for (b, u) in below.iter().zip(diffs) {
        if *b != 0.0 {
            crate::linalg::axpy(-b, u, out);
        }
    }
    out.iter().all(|v| v.is_finite())
}

/// `Σ c_i w_{i+1}` with `c = z / Σz`, `(U Uᵀ) z = 1`, `U_i = w_{i+1} − w_i` for the iterates
/// `hist = [w_0, …, w_k]` (as [`extrapolate_diffs`]); `None` if singular.
pub(crate) fn extrapolate(hist: &[Vec<f64>]) -> Option<Vec<f64>> {
    let diffs: Vec<Vec<f64>> = hist
        .windows(2)
        .map(|p| p[1].iter().zip(&p[0]).map(|(a, b)| a - b).collect())
        .collect();
    let mut out = Vec::new();
    extrapolate_diffs(hist.last()?, &diffs, &mut out).then_some(out)
}

/// Gaussian elimination with partial pivoting on an augmented `k × (k+1)` system.
fn solve_small(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let k = a.len();
    let scale = (0..k).map(|i| a[i][i].abs()).fold(0.0f64, f64::max);
    if scale == 0.0 {
        return None;
    }
    for col in 0..k {
        let piv = (col..k).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() <= 1e-14 * scale {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col].clone();
        for row in a.iter_mut().skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (rc, pc) in row.iter_mut().zip(&pivot_row).skip(col) {
                *rc -= f * pc;
            }
        }
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|j| a[i][j] * x[j]).sum();
        x[i] = (a[i][k] - s) / a[i][i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::DenseDesign;
    use crate::penalty::{L21, L21Ridge};
    use crate::solver::{BcdOptions, BlockCoordinateDescent, GramMode};
    use ndarray::{Array2, ShapeBuilder};
    use rand::SeedableRng;

    #[test]
    fn row_prox_is_the_penalties_prox_row() {
        let mut rng = StdRng::seed_from_u64(11);
        let pens = [
            L21Ridge {
                alpha: 0.3,
                l1_ratio: 0.6,
            },
            L21Ridge {
                alpha: 0.05,
                l1_ratio: 0.0,
            },
        ];
        for trial in 0..200 {
            let t = 1 + trial % 13;
            let old: Vec<f64> = (0..t).map(|_| rng.random_range(-1.0..1.0)).collect();
            let g: Vec<f64> = (0..t).map(|_| rng.random_range(-2.0..2.0)).collect();
            let (nj, nf) = (rng.random_range(0.1..5.0), 20.0);
            let l21 = L21 {
                alpha: rng.random_range(0.0..0.5),
            };
            let check = |prox: RowProx, reference: &dyn Fn(&mut [f64], f64)| {
                let mut got = g.clone();
                prox.update(&mut got, &old, nj, nf);
                let mut want: Vec<f64> = g.iter().zip(&old).map(|(a, o)| a / nj + o).collect();
                reference(&mut want, nf / nj);
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                        "{got:?} vs {want:?}"
                    );
                }
            };
            check(RowProx::of(&l21), &|v, s| l21.prox_row(v, s));
            for p in &pens {
                check(RowProx::of(p), &|v, s| p.prox_row(v, s));
            }
        }
    }

    #[test]
    fn violation_is_the_penalty_subdifferential_distance() {
        use crate::penalty::Penalty;
        let mut rng = StdRng::seed_from_u64(3);
        let nf = 7.0;
        for (alpha, l1_ratio) in [(0.3, 1.0), (0.5, 0.4), (2.0, 0.9)] {
            let p = L21Ridge { alpha, l1_ratio };
            for case in 0..40 {
                let t = 1 + case % 6;
                let w: Vec<f64> = (0..t)
                    .map(|_| {
                        if case % 3 == 0 {
                            0.0
                        } else {
                            rng.random::<f64>() - 0.5
                        }
                    })
                    .collect();
                let xtr: Vec<f64> = (0..t).map(|_| 4.0 * (rng.random::<f64>() - 0.5)).collect();
                let grad: Vec<f64> = xtr.iter().map(|g| -g / nf).collect();
                let want = p.subdiff_distance(
                    ndarray::ArrayView1::from(&w[..]),
                    ndarray::ArrayView1::from(&grad[..]),
                );
                let w2 = w.iter().map(|v| v * v).sum();
                let got = violation(&w, w2, &xtr, nf, p.l21_weight(), p.ridge_weight());
                assert!(
                    (got - want).abs() <= 1e-12 * (1.0 + want),
                    "{got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn outer_pass_equals_the_gap_and_the_violations() {
        let mut rng = StdRng::seed_from_u64(4);
        for (alpha, l1_ratio, t) in [(0.3, 1.0, 10), (0.5, 0.4, 3), (2.0, 0.9, 17)] {
            let p = L21Ridge { alpha, l1_ratio };
            let d = 30;
            let nf = 11.0;
            let w: Vec<f64> = (0..d * t)
                .map(|i| {
                    if (i / t) % 3 == 0 {
                        0.0
                    } else {
                        rng.random::<f64>() - 0.5
                    }
                })
                .collect();
            let xtr: Vec<f64> = (0..d * t)
                .map(|_| 9.0 * (rng.random::<f64>() - 0.5))
                .collect();
            let excluded: Vec<bool> = (0..d).map(|j| j == 7).collect();
            let (r2, ry) = (40.0, 55.0);
            let (mut wn2, mut scores) = (vec![0.0; d], vec![0.0; d]);
            let (a, b) = (p.l21_weight(), p.ridge_weight());
            let got = outer_pass(
                &w,
                &xtr,
                t,
                nf,
                (a, b),
                (r2, ry),
                &excluded,
                &mut wn2,
                &mut scores,
            );
            let mut g = xtr.clone();
            let want = gap_from_parts(11, &mut g, r2, ry, &w, t, &p);
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-11 * (1.0 + x.abs().max(y.abs()));
            assert!(
                close(got.gap_n, want.gap_n),
                "{} vs {}",
                got.gap_n,
                want.gap_n
            );
            assert!(close(got.dual_norm, want.dual_norm));
            for j in 0..d {
                assert!(close(got.row_norms[j], want.row_norms[j]));
                let wj = &w[j * t..(j + 1) * t];
                let w2: f64 = wj.iter().map(|v| v * v).sum();
                assert!(close(wn2[j], w2));
                if excluded[j] {
                    assert_eq!(scores[j], f64::NEG_INFINITY);
                } else {
                    let v = violation(wj, w2, &xtr[j * t..(j + 1) * t], nf, a, b);
                    assert!(close(scores[j], v), "row {j}: {} vs {v}", scores[j]);
                }
            }
        }
    }

    /// The duality gap (`gap_n`) of `w` recomputed from `R = Y − XW` in `f64`.
    fn exact_gap_n(design: &DenseDesign, yv: &[f64], w: &[f64], t: usize, pen: &L21Ridge) -> f64 {
        exact_gap_state(design, yv, w, t, pen).gap_n
    }

    /// As [`exact_gap_n`], the whole gap state (the primal value with it).
    fn exact_gap_state(
        design: &DenseDesign,
        yv: &[f64],
        w: &[f64],
        t: usize,
        pen: &L21Ridge,
    ) -> GapState {
        let n = design.n_samples();
        let mut r = yv.to_vec();
        design.sub_x_w(w, t, &mut r);
        let mut xtr = xt_r_of(design, &r, t);
        let r2 = r.iter().map(|v| v * v).sum();
        let ry = r.iter().zip(yv).map(|(a, b)| a * b).sum();
        gap_from_parts(n, &mut xtr, r2, ry, w, t, pen)
    }

    /// A random column-major `n × d` design and `n × t` targets (column-major slice).
    /// `XᵀR` (`d × t` row-major) for `r` column-major `n × t`.
    fn xt_r_of(design: &DenseDesign, r: &[f64], t: usize) -> Vec<f64> {
        let mut out = vec![0.0; design.n_features() * t];
        design.xt_r(r, t, &mut out);
        out
    }

    /// `XᵀY`, `α_max` (the largest row norm of `XᵀY`, over `n`) and `‖Y‖²`.
    fn xty_amax_y2(design: &DenseDesign, y: &[f64], t: usize) -> (Vec<f64>, f64, f64) {
        let g0 = xt_r_of(design, y, t);
        let amax = g0
            .chunks_exact(t)
            .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
            .fold(0.0f64, f64::max)
            / design.n_samples() as f64;
        (g0, amax, y.iter().map(|v| v * v).sum())
    }

    fn problem(n: usize, d: usize, t: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut x = Array2::<f64>::zeros((n, d).f());
        x.mapv_inplace(|_| rng.random::<f64>() - 0.5);
        let y = (0..n * t).map(|_| rng.random::<f64>() - 0.5).collect();
        (x, y)
    }

    #[test]
    fn recompute_takes_dense_spans_whole_and_gathers_sparse_ones() {
        // `R = Y − XW` over a support that fills some chunks densely (spans taken whole, zero
        // rows of W included) and others sparsely (columns gathered), with t above the
        // AVX-512 kernel's limit so that the chunked products run on every machine
        let (n, d, t) = (50, 300, 16);
        let (x, y) = problem(n, d, t, 41);
        let design = DenseDesign::new(x.view(), None);
        let mut rng = StdRng::seed_from_u64(5);
        let mut w = vec![0.0; d * t];
        for j in 0..d {
            let on = match j {
                0..64 => j % 8 != 3,
                64..192 => j % 5 == 0,
                _ => j == 250 || j == 299,
            };
            if on {
                w[j * t..(j + 1) * t]
                    .iter_mut()
                    .for_each(|v| *v = rng.random::<f64>() - 0.5);
            }
        }
        let mut state = Residual::new(&design, &y, vec![f64::NAN; n * t], t);
        state.recompute(&w);
        for k in 0..t {
            for i in 0..n {
                let xw: f64 = (0..d).map(|j| x[[i, j]] * w[j * t + k]).sum();
                let want = y[k * n + i] - xw;
                let got = state.r[k * n + i];
                assert!(
                    (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                    "{got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn epochs_told_not_to_measure_make_the_same_updates() {
        // single-precision blocked epochs: one state measures every epoch, the other only every
        // third (as the inner loop asks, `measure_next`); the updates are the same bit for bit,
        // the unmeasured epochs report no violation, and an epoch not told measures
        let (n, d, t) = (300, 200, 30);
        let (x, y) = problem(n, d, t, 43);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let ws: Vec<usize> = (0..d).filter(|j| j % 5 != 2).collect();
        let pen = L21Ridge {
            alpha: 0.003,
            l1_ratio: 0.6,
        };
        let prox = RowProx::of(&pen);
        let mut xtr = xt_r_of(&design, &y, t);
        let mut a = Residual::new(&design, &y, y.clone(), t)
            .with_fresh_xtr()
            .with_single(true);
        let mut b = Residual::new(&design, &y, y.clone(), t)
            .with_fresh_xtr()
            .with_single(true);
        let (mut wa, mut wb) = (vec![0.0; d * t], vec![0.0; d * t]);
        a.before_inner(&wa, &ws, ws.len(), &mut xtr.clone());
        b.before_inner(&wb, &ws, ws.len(), &mut xtr);
        assert!(a.single.on && b.single.on);
        for e in 0..7 {
            let on = e % 3 == 2;
            if e < 6 {
                b.measure_next(on);
            }
            a.epoch(&mut wa, &ws, &norm2, n as f64, &prox);
            b.epoch(&mut wb, &ws, &norm2, n as f64, &prox);
            assert_eq!(wa, wb, "epoch {e}");
            let va = a.epoch_violation().expect("an epoch measures unless told");
            match b.epoch_violation() {
                Some(vb) => {
                    assert!(on || e == 6, "epoch {e} measured");
                    assert_eq!(va.to_bits(), vb.to_bits());
                }
                None => assert!(!on && e < 6, "epoch {e} did not measure"),
            }
        }
        assert!(wa.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn blocked_epoch_equals_row_by_row_epochs() {
        // The blocked residual epoch must make the same updates as row-by-row cyclic CD, on a
        // working set with gaps (gathered blocks) and more than one block (independent columns:
        // no block is coupled enough for a second sweep).
        let (n, d, t) = (40, 200, 3);
        let (x, y) = problem(n, d, t, 7);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let ws: Vec<usize> = (0..d).filter(|j| j % 3 != 1).collect();
        let pen = L21Ridge {
            alpha: 0.01,
            l1_ratio: 0.7,
        };
        let prox = RowProx::of(&pen);
        let nf = n as f64;
        let mut a = Residual::new(&design, &y, y.clone(), t);
        let mut b = Residual::new(&design, &y, y.clone(), t);
        let (mut wa, mut wb) = (vec![0.0; d * t], vec![0.0; d * t]);
        // the working set loses members after two epochs (each block's Gram matrix is then
        // taken from the old one) and gets them back for the last epoch (recomputed)
        let ws2: Vec<usize> = ws.iter().copied().filter(|j| j % 4 != 0).collect();
        let (mut tmp, mut delta) = (vec![0.0; t], vec![0.0; t]);
        for e in 0..5 {
            let set = if e < 2 || e == 4 { &ws } else { &ws2 };
            a.epoch(&mut wa, set, &norm2, nf, &prox);
            // row by row, each row's violation measured just before its update: the largest
            // is the blocked epoch's own measure
            let mut worst = 0.0f64;
            for &j in set {
                b.grad_row(j, &mut tmp);
                let wj = &wb[j * t..(j + 1) * t];
                let w2 = wj.iter().map(|v| v * v).sum();
                worst = worst.max(violation(wj, w2, &tmp, nf, prox.a, prox.b));
                cd_row(
                    &mut b, &mut wb, j, t, norm2[j], nf, &prox, &mut tmp, &mut delta,
                );
            }
            let measured = a.epoch_violation().unwrap();
            assert!(worst > 0.0);
            assert!(
                (measured - worst).abs() <= 1e-9 * worst,
                "{measured} vs {worst}"
            );
        }
        assert!(a.blocks.grams.values().all(|e| !e.coupled));
        assert!(wa.iter().any(|&v| v != 0.0));
        let scale = wb.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (p, q) in wa.iter().zip(&wb) {
            assert!((p - q).abs() <= 1e-12 * scale, "{p} vs {q}");
        }
        for (p, q) in a.r.iter().zip(&b.r) {
            assert!((p - q).abs() <= 1e-10, "{p} vs {q}");
        }
        // batched gradients and updates agree with the row versions
        let mut g1 = vec![0.0; ws.len() * t];
        a.grad_rows(&ws, &mut g1);
        let mut g2 = vec![0.0; t];
        for (&j, gj) in ws.iter().zip(g1.chunks_exact(t)) {
            a.grad_row(j, &mut g2);
            for (p, q) in gj.iter().zip(&g2) {
                assert!((p - q).abs() <= 1e-10, "{p} vs {q}");
            }
        }
    }

    #[test]
    fn blocked_gram_epoch_equals_row_by_row_epochs() {
        // Gram mode's blocked epoch (a product per block) makes the updates of row-by-row CD
        // on `H = XᵀY − G W`, on a working set with gaps (gathered columns of G) and with a
        // block whose members are consecutive (a slice of G)
        let (n, d, t) = (120, 150, 3);
        let (x, y) = problem(n, d, t, 13);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let ws: Vec<usize> = (0..d).filter(|&j| j < 64 || j % 3 != 1).collect();
        let pen = L21Ridge {
            alpha: 0.004,
            l1_ratio: 0.7,
        };
        let prox = RowProx::of(&pen);
        let nf = n as f64;
        let w0 = vec![0.0; d * t];
        let mut a = Gram::new(&design, &y, t, &w0);
        let mut b = Gram::new(&design, &y, t, &w0);
        let (mut wa, mut wb) = (w0.clone(), w0);
        for _ in 0..4 {
            a.epoch(&mut wa, &ws, &norm2, nf, &prox);
            epoch_rows(&mut b, &mut wb, &ws, &norm2, nf, &prox, None);
        }
        assert!(wa.iter().filter(|&&v| v != 0.0).count() > 3 * t);
        let scale = wb.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (p, q) in wa.iter().zip(&wb) {
            assert!((p - q).abs() <= 1e-11 * scale, "{p} vs {q}");
        }
        for (p, q) in a.h.iter().zip(&b.h) {
            assert!((p - q).abs() <= 1e-9, "{p} vs {q}");
        }
        // and H is still XᵀY − G W (the product-based refresh agrees)
        let h = a.h.clone();
        a.refresh(&wa);
        for (p, q) in h.iter().zip(&a.h) {
            assert!((p - q).abs() <= 1e-9, "{p} vs {q}");
        }
    }

    #[test]
    fn coupled_blocks_get_a_second_sweep() {
        // strongly correlated neighbouring features (AR(1), ρ = 0.95): every block is coupled,
        // and the blocked epoch equals row-by-row CD that sweeps each block's rows twice
        let (n, d, t) = (60, 150, 4);
        let mut rng = StdRng::seed_from_u64(3);
        let mut x = Array2::<f64>::zeros((n, d).f());
        for i in 0..n {
            let mut prev = 0.0;
            for j in 0..d {
                let e: f64 = rng.random::<f64>() - 0.5;
                prev = 0.95 * prev + (1.0f64 - 0.95 * 0.95).sqrt() * e;
                x[[i, j]] = prev;
            }
        }
        let y: Vec<f64> = (0..n * t).map(|_| rng.random::<f64>() - 0.5).collect();
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let ws: Vec<usize> = (0..d).filter(|j| j % 5 != 2).collect();
        let pen = L21Ridge {
            alpha: 0.002,
            l1_ratio: 0.8,
        };
        let prox = RowProx::of(&pen);
        let nf = n as f64;
        let mut a = Residual::new(&design, &y, y.clone(), t);
        let mut b = Residual::new(&design, &y, y.clone(), t);
        let (mut wa, mut wb) = (vec![0.0; d * t], vec![0.0; d * t]);
        for _ in 0..3 {
            a.epoch(&mut wa, &ws, &norm2, nf, &prox);
            for cols in ws.chunk_by(|p, q| p / BLOCK == q / BLOCK) {
                epoch_rows(&mut b, &mut wb, cols, &norm2, nf, &prox, None);
                epoch_rows(&mut b, &mut wb, cols, &norm2, nf, &prox, None);
            }
        }
        assert!(a.blocks.grams.values().all(|e| e.coupled));
        assert!(wa.iter().any(|&v| v != 0.0));
        let scale = wb.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (p, q) in wa.iter().zip(&wb) {
            assert!((p - q).abs() <= 1e-10 * scale, "{p} vs {q}");
        }
        for (p, q) in a.r.iter().zip(&b.r) {
            assert!((p - q).abs() <= 1e-10, "{p} vs {q}");
        }
    }

    #[test]
    fn working_set_gram_mode_matches_the_plain_solver() {
        // n ≫ |ws| with many tasks: the inner loops run on X_wsᵀ X_ws (two chunks of 64
        // columns); the solution, objective and certified gap must match the plain solver's.
        let (n, d, t) = (2000, 100, 8);
        assert!(ws_gram_pays(n, d, t));
        let (x, yv) = problem(n, d, t, 11);
        let y = Array2::from_shape_vec((n, t).f(), yv).unwrap();
        let design = DenseDesign::new(x.view(), None);
        let amax = {
            let mut g = vec![0.0; d * t];
            design.xt_r(y.as_slice_memory_order().unwrap(), t, &mut g);
            g.chunks_exact(t)
                .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
                .fold(0.0f64, f64::max)
                / n as f64
        };
        for ratio in [0.5, 0.05, 0.002] {
            let pen = L21 {
                alpha: amax * ratio,
            };
            let solve = |working_set: bool, gram: GramMode| {
                BlockCoordinateDescent {
                    options: BcdOptions {
                        tol: 1e-13,
                        max_iter: 100_000,
                        working_set,
                        gram,
                        ..BcdOptions::default()
                    },
                }
                .solve_path(&design, y.view(), std::slice::from_ref(&pen), None)
                .pop()
                .unwrap()
            };
            let plain = solve(false, GramMode::Off);
            assert!(plain.converged);
            // residual mode with working-set Gram inner loops, and automatic Gram mode (which
            // switches to `XᵀX` when the working set or the violating features are most of
            // the features: ratio 0.002 here)
            for gram in [GramMode::Off, GramMode::Auto] {
                let fast = solve(true, gram);
                assert!(fast.converged);
                let diff = (&fast.coef - &plain.coef).mapv(f64::abs).sum();
                let size = plain.coef.mapv(f64::abs).sum().max(1e-300);
                assert!(
                    diff <= 1e-6 * size,
                    "ratio {ratio} {gram:?}: {diff:e} vs {size:e}"
                );
            }
        }
    }

    #[test]
    fn working_set_gram_reuses_the_previous_products() {
        // a second working-set Gram matrix over a working set that keeps most of the first's
        // columns takes their products from the first and computes the new columns' only; with
        // `X_wsᵀR` from the outer `XᵀR` when `R` did not change since, from `R` otherwise
        let (n, d, t) = (2000, 60, 4);
        let (x, y) = problem(n, d, t, 21);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let dot = |a: usize, v: &[f64]| -> f64 { design.col_dot(a, v) };
        let check = |st: &Residual<'_, DenseDesign<'_>>, w: &[f64], ws: &[usize]| {
            let g = st.wsg.as_ref().unwrap();
            let m = ws.len();
            let mut cols = g.cols.clone();
            cols.sort_unstable();
            assert_eq!(cols, ws);
            // R = Y − XW with the pending ΔW applied
            let mut r = y.clone();
            design.sub_x_w(w, t, &mut r);
            for (p, &jp) in g.cols.iter().enumerate() {
                assert_eq!(g.pos[jp], p);
                for (q, &jq) in g.cols.iter().enumerate() {
                    let want = dot(jp, x.column(jq).as_slice().unwrap());
                    assert!((g.g[p * m + q] - want).abs() <= 1e-9 * want.abs().max(1.0));
                }
                for k in 0..t {
                    let want = dot(jp, &r[k * n..(k + 1) * n]);
                    assert!(
                        (g.h[k * m + p] - want).abs() <= 1e-9,
                        "{} vs {want}",
                        g.h[k * m + p]
                    );
                    let want = dot(jp, &y[k * n..(k + 1) * n]);
                    assert!((g.xty[p * t + k] - want).abs() <= 1e-9);
                }
            }
        };
        let pen = L21 { alpha: 0.002 };
        let prox = RowProx::of(&pen);
        let nf = n as f64;
        let mut st = Residual::new(&design, &y, y.clone(), t);
        let mut w = vec![0.0; d * t];
        let mut xtr = vec![0.0; d * t];
        st.full_grad(&w, &mut xtr);
        let ws1: Vec<usize> = (0..30).map(|i| 2 * i).collect();
        assert!(ws_gram_pays(n, ws1.len(), t));
        st.before_inner(&w, &ws1, d, &mut xtr);
        assert!(st.prev.is_none());
        check(&st, &w, &ws1);
        for _ in 0..3 {
            st.epoch(&mut w, &ws1, &norm2, nf, &prox);
        }
        check(&st, &w, &ws1);
        assert!(w.iter().any(|&v| v != 0.0));
        // the outer loop: `XᵀR`, then a working set of the support (a working set always
        // holds it), other columns of the first up to 22, and 8 new ones
        st.full_grad(&w, &mut xtr);
        let nonzero = |w: &[f64], j: usize| w[j * t..(j + 1) * t].iter().any(|&v| v != 0.0);
        let support: Vec<usize> = ws1.iter().copied().filter(|&j| nonzero(&w, j)).collect();
        assert!(support.len() < ws1.len());
        let mut kept = support.clone();
        kept.extend(ws1.iter().copied().filter(|&j| !nonzero(&w, j)));
        kept.truncate(22.max(support.len()));
        kept.sort_unstable();
        let mut ws2: Vec<usize> = kept
            .iter()
            .copied()
            .chain((0..8).map(|i| 2 * i + 1))
            .collect();
        ws2.sort_unstable();
        st.before_inner(&w, &ws2, d, &mut xtr);
        check(&st, &w, &ws2);
        let g2 = st.wsg.as_ref().unwrap();
        assert_eq!(&g2.cols[..kept.len()], &kept[..]);
        for _ in 0..2 {
            st.epoch(&mut w, &ws2, &norm2, nf, &prox);
        }
        // `R` changed after the outer `XᵀR` (a row zeroed): `X_wsᵀR` is computed from `R`
        st.full_grad(&w, &mut xtr);
        let j = (0..d).find(|&j| nonzero(&w, j)).unwrap();
        let mut delta = vec![0.0; t];
        zero_row(&mut st, &mut w, j, t, &mut delta);
        assert!(!st.fresh);
        let ws3: Vec<usize> = ws2
            .iter()
            .copied()
            .filter(|&i| i != j)
            .chain([59])
            .collect();
        st.before_inner(&w, &ws3, d, &mut xtr);
        check(&st, &w, &ws3);
    }

    #[test]
    fn gram_state_from_the_residual_gradient_equals_a_fresh_one() {
        let (n, d, t) = (300, 40, 3);
        let (x, y) = problem(n, d, t, 5);
        let design = DenseDesign::new(x.view(), None);
        let mut rng = StdRng::seed_from_u64(9);
        let w: Vec<f64> = (0..d * t)
            .map(|i| {
                if (i / t) % 3 == 0 {
                    rng.random::<f64>() - 0.5
                } else {
                    0.0
                }
            })
            .collect();
        let mut r = y.clone();
        design.sub_x_w(&w, t, &mut r);
        let xtr = xt_r_of(&design, &r, t);
        let fresh = Gram::new(&design, &y, t, &w);
        let from = Gram::with_xtr(&design, &y, t, &w, &xtr);
        for (a, b) in fresh
            .h
            .iter()
            .zip(&from.h)
            .chain(fresh.xty.iter().zip(&from.xty))
        {
            assert!((a - b).abs() <= 1e-10 * (1.0 + a.abs()), "{a} vs {b}");
        }
        assert_eq!(fresh.y2, from.y2);
        let ((r2a, rya), (r2b, ryb)) = (fresh.r2_ry(&w), from.r2_ry(&w));
        let r2: f64 = r.iter().map(|v| v * v).sum();
        for (a, b) in [(r2a, r2b), (rya, ryb), (r2a, r2)] {
            assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn switch_to_gram_mode_after_a_move_uses_the_current_residual() {
        // the outer loop's `XᵀR` goes stale when screening zeroes rows of `W` before the
        // inner loop (`R` moves): switching to Gram mode then must take `XᵀY` from the current
        // residual, not from the stale product
        let (n, d, t) = (400, 20, 3);
        let (x, y) = problem(n, d, t, 12);
        let design = DenseDesign::new(x.view(), None);
        let mut w: Vec<f64> = (0..d * t).map(|i| ((i * 7) % 5) as f64 * 0.05).collect();
        let mut r = y.clone();
        design.sub_x_w(&w, t, &mut r);
        let mut state = AutoState::new(Residual::new(&design, &y, r, t), false);
        let mut stale = vec![0.0; d * t];
        state.full_grad(&w, &mut stale);
        // row 4 zeroed (as screening does) after the outer loop's product
        let mut delta = vec![0.0; t];
        zero_row(&mut state, &mut w, 4, t, &mut delta);
        let ws: Vec<usize> = (0..d).collect();
        state.before_inner(&w, &ws, d, &mut stale);
        assert!(matches!(state, AutoState::Gram(_)));
        let fresh = Gram::new(&design, &y, t, &w);
        let AutoState::Gram(g) = &state else {
            unreachable!()
        };
        for (a, b) in g.xty.iter().zip(&fresh.xty).chain(g.h.iter().zip(&fresh.h)) {
            assert!((a - b).abs() <= 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn single_precision_epochs_track_the_f64_epochs() {
        // a working set with gaps over more than one block: epochs of a single-precision
        // inner loop make the f64 epochs' updates to f32 rounding of the products, and
        // leaving the loop recomputes R exactly (R = Y − XW to f64 rounding)
        let (n, d, t) = (300, 200, 4);
        let (x, y) = problem(n, d, t, 31);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let ws: Vec<usize> = (0..d).filter(|j| j % 3 != 1).collect();
        assert!(!ws_gram_pays(n, ws.len(), t));
        let pen = L21Ridge {
            alpha: 0.002,
            l1_ratio: 0.8,
        };
        let prox = RowProx::of(&pen);
        let mut xtr = xt_r_of(&design, &y, t);
        let mut a = Residual::new(&design, &y, y.clone(), t).with_fresh_xtr();
        let mut b = Residual::new(&design, &y, y.clone(), t)
            .with_fresh_xtr()
            .with_single(true);
        let (mut wa, mut wb) = (vec![0.0; d * t], vec![0.0; d * t]);
        a.before_inner(&wa, &ws, ws.len(), &mut xtr.clone());
        b.before_inner(&wb, &ws, ws.len(), &mut xtr);
        assert!(!a.single.on && b.single.on);
        for _ in 0..3 {
            a.epoch(&mut wa, &ws, &norm2, n as f64, &prox);
            b.epoch(&mut wb, &ws, &norm2, n as f64, &prox);
            let (va, vb) = (a.epoch_violation().unwrap(), b.epoch_violation().unwrap());
            assert!((va - vb).abs() <= 1e-5 * va, "violation {va} vs {vb}");
        }
        let size = wa.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(size > 0.0);
        for (p, q) in wa.iter().zip(&wb) {
            assert!((p - q).abs() <= 1e-5 * size, "{p} vs {q}");
        }
        // objective terms inside the loop (Anderson's check) from R₀ + D
        let exact_r2 = |w: &[f64]| {
            let mut r = y.clone();
            design.sub_x_w(w, t, &mut r);
            (r.iter().map(|v| v * v).sum::<f64>(), r)
        };
        let (r2b, _) = exact_r2(&wb);
        assert!((b.r2(&wb) - r2b).abs() <= 1e-6 * r2b);
        // leaving the loop: exact R
        let mut g = vec![0.0; d * t];
        b.full_grad(&wb, &mut g);
        assert!(!b.single.on);
        let (_, r) = exact_r2(&wb);
        let rmax = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (p, q) in b.r.iter().zip(&r) {
            assert!((p - q).abs() <= 1e-12 * rmax, "{p} vs {q}");
        }
    }

    #[test]
    fn single_precision_block_grams_are_the_f64_ones_to_f32_rounding() {
        // a single-precision loop forms its blocks' Gram matrices from the rounded columns:
        // each packed entry (X_iᵀX_p, p < i) within f32 rounding of the f64 product; a later
        // f64 loop keeps them (its fixed point does not depend on them: the mixed-precision
        // fit tests check the solutions)
        let (n, d, t) = (400, 150, 4);
        let (x, y) = problem(n, d, t, 34);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let ws: Vec<usize> = (0..d).filter(|j| j % 5 != 3).collect();
        let pen = L21 { alpha: 0.001 };
        let prox = RowProx::of(&pen);
        let mut xtr = xt_r_of(&design, &y, t);
        let mut st = Residual::new(&design, &y, y.clone(), t)
            .with_fresh_xtr()
            .with_single(true);
        let mut w = vec![0.0; d * t];
        st.before_inner(&w, &ws, ws.len(), &mut xtr);
        assert!(st.single.on);
        st.epoch(&mut w, &ws, &norm2, n as f64, &prox);
        let mut checked = 0;
        for entry in st.blocks.grams.values() {
            for (i, &ci) in entry.cols.iter().enumerate() {
                for (p, &cp) in entry.cols[..i].iter().enumerate() {
                    let exact: f64 = x.column(ci).dot(&x.column(cp));
                    let bound = 1e-6 * (norm2[ci] * norm2[cp]).sqrt();
                    let got = entry.gram[tri(i) + p];
                    assert!((got - exact).abs() <= bound, "{got} vs {exact}");
                    checked += 1;
                }
            }
        }
        // buckets of 51, 52 and 17 members
        assert_eq!(checked, 51 * 50 / 2 + 52 * 51 / 2 + 17 * 16 / 2);
    }

    #[test]
    fn approximate_pass_rebases_the_single_precision_loop() {
        // after single-precision epochs, the approximate outer pass gives XᵀR at the current W
        // to f32 rounding of the loop's change, moves R₀ to R₀ + D (D = 0), and the loop then
        // goes on from it (same buffer lent again) until an exact pass
        let (n, d, t) = (300, 200, 4);
        let (x, y) = problem(n, d, t, 33);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let ws: Vec<usize> = (0..d).filter(|j| j % 4 != 2).collect();
        let pen = L21Ridge {
            alpha: 0.002,
            l1_ratio: 0.8,
        };
        let prox = RowProx::of(&pen);
        let mut xtr = xt_r_of(&design, &y, t);
        let mut st = Residual::new(&design, &y, y.clone(), t)
            .with_fresh_xtr()
            .with_single(true);
        let mut w = vec![0.0; d * t];
        let exact = |w: &[f64]| {
            let mut r = y.clone();
            design.sub_x_w(w, t, &mut r);
            let mut g = vec![0.0; d * t];
            design.xt_r(&r, t, &mut g);
            (r, g)
        };
        for round in 0..2 {
            st.before_inner(&w, &ws, ws.len(), &mut xtr);
            assert!(st.single.on && xtr.is_empty());
            for _ in 0..3 {
                st.epoch(&mut w, &ws, &norm2, n as f64, &prox);
            }
            // the outer loop takes its buffer back (it holds XᵀR₀) and asks for its XᵀR
            xtr = st.take_outer_xtr().unwrap();
            st.outer_grad(&w, &mut xtr, true);
            assert!(st.approximate() && st.single.on, "round {round}");
            assert_eq!(st.single.approx_passes, round + 1);
            assert!(st.single.d.iter().all(|&v| v == 0.0));
            let (r, g) = exact(&w);
            let (rmax, gmax) = (
                r.iter().fold(0.0f64, |m, v| m.max(v.abs())),
                g.iter().fold(0.0f64, |m, v| m.max(v.abs())),
            );
            for (p, q) in st.r.iter().zip(&r) {
                assert!((p - q).abs() <= 1e-5 * rmax, "R: {p} vs {q}");
            }
            let err = xtr
                .iter()
                .zip(&g)
                .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
            assert!(err <= 1e-5 * gmax, "XᵀR off by {err:e} of {gmax:e}");
            assert!(err > 0.0, "an approximate pass is not exact");
        }
        // rounding folded in beyond what the violations allow (as after a pass that folded a
        // large D): the loop re-anchors on an exact R and XᵀR and stays in single precision
        st.before_inner(&w, &ws, ws.len(), &mut xtr);
        assert!(st.single.on);
        st.single.anchor = 1e12;
        st.epoch(&mut w, &ws, &norm2, n as f64, &prox);
        assert!(st.single.on && st.single.anchor == 0.0);
        assert!(st.single.d.iter().all(|&v| v == 0.0));
        let (r, g) = exact(&w);
        let (rmax, gmax) = (
            r.iter().fold(0.0f64, |m, v| m.max(v.abs())),
            g.iter().fold(0.0f64, |m, v| m.max(v.abs())),
        );
        for (p, q) in st.r.iter().zip(&r) {
            assert!((p - q).abs() <= 1e-12 * rmax, "R: {p} vs {q}");
        }
        for (p, q) in st.single.xtr0.iter().zip(&g) {
            assert!((p - q).abs() <= 1e-12 * gmax, "XᵀR: {p} vs {q}");
        }
        // the room left for folded rounding: an approximate pass is declined when the loop's
        // ‖D‖ exceeds it
        st.epoch(&mut w, &ws, &norm2, n as f64, &prox);
        st.single.room = 0.0;
        xtr = st.take_outer_xtr().unwrap();
        st.outer_grad(&w, &mut xtr, true);
        assert!(!st.approximate() && !st.single.on);
        // not asked for an approximation: the exact pass leaves the loop
        st.before_inner(&w, &ws, ws.len(), &mut xtr);
        st.epoch(&mut w, &ws, &norm2, n as f64, &prox);
        xtr = st.take_outer_xtr().unwrap();
        st.outer_grad(&w, &mut xtr, false);
        assert!(!st.approximate() && !st.single.on);
        let (r, g) = exact(&w);
        let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (p, q) in xtr.iter().zip(&g) {
            assert!((p - q).abs() <= 1e-12 * gmax, "{p} vs {q}");
        }
        let rmax = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (p, q) in st.r.iter().zip(&r) {
            assert!((p - q).abs() <= 1e-12 * rmax, "{p} vs {q}");
        }
    }

    #[test]
    fn anderson_moves_the_residual_from_its_history_or_by_a_product() {
        // an extrapolation within a single-precision loop moves R from the history of residuals
        // when the state keeps one, else by a product over the working set's columns: both
        // propose the same W and leave the state's R at Y − XW of the W kept (to f32 rounding)
        let (n, d, t) = (300, 200, 4);
        let (x, y) = problem(n, d, t, 41);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let ws: Vec<usize> = (0..d).collect();
        let pen = L21Ridge {
            alpha: 0.002,
            l1_ratio: 0.8,
        };
        let prox = RowProx::of(&pen);
        let nf = n as f64;
        let run = |history: bool| {
            let mut xtr = xt_r_of(&design, &y, t);
            let mut st = Residual::new(&design, &y, y.clone(), t)
                .with_fresh_xtr()
                .with_single(true)
                .with_residual_history(history);
            let mut w = vec![0.0; d * t];
            st.before_inner(&w, &ws, ws.len(), &mut xtr);
            assert!(st.single.on);
            let mut and = Anderson::default();
            let (mut from_history, mut before) = (false, f64::NAN);
            let mut epoch_w = Vec::new();
            for _ in 0..=K {
                let before_epoch = w.clone();
                let Some(mut u) = and.begin(&st, d * t) else {
                    st.epoch(&mut w, &ws, &norm2, nf, &prox);
                    continue;
                };
                st.epoch_into(&mut w, &ws, &norm2, nf, &prox, Some(&mut u));
                // the record is the epoch's change of W, to f32 rounding
                for ((&a, &b), &c) in w.iter().zip(&before_epoch).zip(&u) {
                    assert!(((a - b) - f64::from(c)).abs() <= 1e-6 * (a - b).abs() + 1e-300);
                }
                if and.diffs.len() == K - 1 {
                    // this step extrapolates, from the history of residuals if it kept one
                    before = primal(&st, &w, t, &pen, nf);
                    from_history = and.r_ok;
                    epoch_w = w.clone();
                }
                and.step(&mut st, &mut w, &ws, t, &pen, nf, u);
            }
            assert_ne!(w, epoch_w, "the point moved");
            assert!(and.diffs.is_empty(), "the last step extrapolated");
            let after = primal(&st, &w, t, &pen, nf);
            let ld = crate::linalg::padded_rows(n);
            let r: Vec<f64> = (0..t)
                .flat_map(|k| (0..n).map(move |i| (k, i)))
                .map(|(k, i)| st.r[k * n + i] + f64::from(st.single.d[k * ld + i]))
                .collect();
            (w, r, from_history, before, after)
        };
        let (w1, r1, h1, before, after) = run(true);
        let (w0, r0, h0, _, _) = run(false);
        assert!(h1 && !h0);
        assert!(
            after < before,
            "the extrapolation was kept: {before} -> {after}"
        );
        for (a, b) in w1.iter().zip(&w0) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "W: {a} vs {b}");
        }
        let mut exact = y.clone();
        design.sub_x_w(&w1, t, &mut exact);
        let rmax = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for r in [&r1, &r0] {
            let err = r
                .iter()
                .zip(&exact)
                .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
            assert!(err <= 1e-5 * rmax, "R off by {err:e} of {rmax:e}");
        }
        // the size rule: the benchmark's small and tall problems keep no history, wide and
        // xwide do; a single-precision design counts its own bytes
        assert!(!residual_history_fits(2000, 20, 8));
        assert!(!residual_history_fits(500, 10, 8));
        assert!(residual_history_fits(10_000, 50, 8));
        assert!(residual_history_fits(50_000, 10, 8));
        assert!(!residual_history_fits(10_000, 50, 4));
    }

    #[test]
    fn approximate_outer_passes_steer_and_exact_passes_certify() {
        // whole residual-mode solves with single-precision loops: some outer iterations run
        // on approximate passes, yet every solve stops on an exact gap (recomputed here from
        // R = Y − XW in f64) within the tolerance — also at tolerances near f64 rounding,
        // where approximate gaps sit on their own rounding — and matches the f64 solve
        // (1000 rows: blocks of 64 columns fetched whole during the previous block; 1100: too
        // large for that, rounded within the kernel of `X_Bᵀ D`)
        for n in [1000, 1100] {
            outer_passes_case(n);
        }
    }

    fn outer_passes_case(n: usize) {
        let (d, t) = (1200, 9);
        assert!(n * t >= SINGLE_MIN_NT);
        let (x, yv) = problem(n, d, t, 52);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let (g0, amax, y2) = xty_amax_y2(&design, &yv, t);
        let mut approx_total = 0;
        let mut rounded_total = 0;
        for (ratio, l1, tol) in [
            (0.1, 1.0, 1e-8),
            (0.1, 0.5, 1e-8),
            (0.03, 1.0, 1e-14),
            (0.02, 0.5, 1e-10),
        ] {
            let pen = L21Ridge {
                alpha: amax * ratio,
                l1_ratio: l1,
            };
            let run = |single: bool| {
                let mut w = vec![0.0; d * t];
                let mut cache = OuterCache::default();
                cache.store(g0.clone(), y2, y2);
                let mut st = Residual::new(&design, &yv, yv.clone(), t)
                    .with_fresh_xtr()
                    .with_single(single);
                let opts = WsOptions {
                    max_iter: 100_000,
                    tol_n: tol * y2,
                    screening: true,
                    anderson: true,
                    random: false,
                };
                let mut rng = StdRng::seed_from_u64(0);
                let out = solve(
                    &mut st, &mut w, &norm2, n, t, &pen, &opts, &mut rng, &mut cache,
                );
                assert!(out.converged, "ratio {ratio} l1 {l1} tol {tol}");
                assert!(out.gap.gap_n <= tol * y2);
                // the certificate is the primal at W against the best dual point of the solve
                // (each dual value computed from an exact residual), so check the primal from
                // scratch against that dual value: within the tolerance up to the f64 rounding
                // of the primal itself (the current point's own gap may be larger, as it is at
                // 1100 rows and 1e-14 in the f64 solve)
                let exact = exact_gap_state(&design, &yv, &w, t, &pen);
                let best_dual = out.gap.primal_n - out.gap.gap_n;
                assert!(
                    exact.primal_n - best_dual
                        <= tol * y2 * (1.0 + 1e-9) + 4.0 * f64::EPSILON * exact.primal_n,
                    "n {n} single {single} ratio {ratio} l1 {l1}: primal {:e} − dual {best_dual:e} > {:e}",
                    exact.primal_n,
                    tol * y2
                );
                (w, st.single.approx_passes, st.single.rounded_blocks)
            };
            let ((wm, passes, rounded), (wp, none, _)) = (run(true), run(false));
            assert_eq!(none, 0);
            approx_total += passes;
            rounded_total += rounded;
            let diff: f64 = wm.iter().zip(&wp).map(|(a, b)| (a - b).abs()).sum();
            let size: f64 = wp.iter().map(|v| v.abs()).sum::<f64>().max(1e-300);
            assert!(diff <= 1e-5 * size, "ratio {ratio}: {diff:e} vs {size:e}");
        }
        assert!(approx_total > 0, "no approximate outer pass was taken");
        assert_eq!(
            rounded_total > 0,
            64 * n * 8 > PREFETCH_MAX && crate::simd::available(),
            "n {n}: {rounded_total} blocks rounded in the kernel"
        );
    }

    #[test]
    fn single_precision_loop_hands_over_to_f64_near_its_rounding() {
        // one long inner loop from W = 0: once the violation reaches the f32 products' rounding
        // bound the loop leaves single precision (R exact again) and its epochs go on to
        // violations far below what f32 gradients resolve
        let (n, d, t) = (300, 120, 4);
        let (x, y) = problem(n, d, t, 51);
        let design = DenseDesign::new(x.view(), None);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let ws: Vec<usize> = (0..d).collect();
        let pen = L21Ridge {
            alpha: 0.001,
            l1_ratio: 0.9,
        };
        let prox = RowProx::of(&pen);
        let mut xtr = xt_r_of(&design, &y, t);
        let mut st = Residual::new(&design, &y, y.clone(), t)
            .with_fresh_xtr()
            .with_single(true);
        let mut w = vec![0.0; d * t];
        st.before_inner(&w, &ws, d, &mut xtr);
        assert!(st.single.on);
        let first = {
            st.epoch(&mut w, &ws, &norm2, n as f64, &prox);
            st.epoch_violation().unwrap()
        };
        let mut last = first;
        for _ in 0..3000 {
            st.epoch(&mut w, &ws, &norm2, n as f64, &prox);
            last = st.epoch_violation().unwrap();
            if last < 1e-12 * first {
                break;
            }
        }
        assert!(!st.single.on, "the loop left single precision");
        assert!(last < 1e-12 * first, "violation {last:e} from {first:e}");
        let mut r = y.clone();
        design.sub_x_w(&w, t, &mut r);
        let rmax = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (p, q) in st.r.iter().zip(&r) {
            assert!((p - q).abs() <= 1e-10 * rmax, "{p} vs {q}");
        }
    }

    #[test]
    fn mixed_precision_fits_match_the_f64_fits_and_certify() {
        // whole fits with and without single-precision inner loops: same solution, and the
        // mixed fit's gap, recomputed here from R = Y − XW in f64, within the tolerance; at
        // scales f32 does not hold comfortably the inner loops stay in f64 (same result)
        let mut differ = 0;
        for (n, d, t, seed) in [(1000, 1200, 9, 41), (2100, 500, 4, 42)] {
            assert!(n * t >= SINGLE_MIN_NT);
            let (x, yv) = problem(n, d, t, seed);
            let y = Array2::from_shape_vec((n, t).f(), yv.clone()).unwrap();
            let design = DenseDesign::new(x.view(), None);
            let (_, amax, y2) = xty_amax_y2(&design, &yv, t);
            for (ratio, l1) in [(0.1, 1.0), (0.01, 1.0), (0.02, 0.5)] {
                let pen = L21Ridge {
                    alpha: amax * ratio,
                    l1_ratio: l1,
                };
                let tol = 1e-12;
                let fit = |mixed: bool| {
                    BlockCoordinateDescent {
                        options: BcdOptions {
                            tol,
                            max_iter: 100_000,
                            mixed_precision: mixed,
                            gram: GramMode::Off,
                            ..BcdOptions::default()
                        },
                    }
                    .solve_path(&design, y.view(), std::slice::from_ref(&pen), None)
                    .pop()
                    .unwrap()
                };
                let (mixed, plain) = (fit(true), fit(false));
                assert!(mixed.converged && plain.converged);
                let w: Vec<f64> = mixed.coef.iter().copied().collect();
                let exact = exact_gap_n(&design, &yv, &w, t, &pen);
                assert!(
                    exact <= tol * y2 * (1.0 + 1e-9),
                    "n {n} ratio {ratio}: exact gap {exact:e} > {:e}",
                    tol * y2
                );
                let diff = (&mixed.coef - &plain.coef).mapv(f64::abs).sum();
                let size = plain.coef.mapv(f64::abs).sum().max(1e-300);
                assert!(
                    diff <= 1e-6 * size,
                    "n {n} ratio {ratio}: {diff:e} vs {size:e}"
                );
                // the inner loops did run in f32 (their rounding shows in the last digits)
                differ += usize::from(diff > 0.0);
            }
        }
        assert!(differ > 0);
        // columns of norm 1e13: f64 throughout, the same fit as without mixed precision
        let (n, d, t) = (1000, 150, 9);
        let (mut x, yv) = problem(n, d, t, 43);
        x.mapv_inplace(|v| v * 1e13);
        let y = Array2::from_shape_vec((n, t).f(), yv).unwrap();
        let design = DenseDesign::new(x.view(), None);
        let pen = L21 { alpha: 1e11 };
        let fit = |mixed: bool| {
            BlockCoordinateDescent {
                options: BcdOptions {
                    tol: 1e-10,
                    max_iter: 100_000,
                    mixed_precision: mixed,
                    ..BcdOptions::default()
                },
            }
            .solve_path(&design, y.view(), std::slice::from_ref(&pen), None)
            .pop()
            .unwrap()
        };
        let (mixed, plain) = (fit(true), fit(false));
        assert!(plain.converged);
        assert_eq!(mixed.coef, plain.coef);
        assert_eq!(mixed.n_iter, plain.n_iter);
    }

    #[test]
    fn mixed_gram_fits_certify_and_match_the_f64_gram() {
        // n ≥ 5d with one penalty: Gram mode on `XᵀX` formed in f32; every stop is decided on
        // exact passes, so the gap recomputed here from R = Y − XW in f64 meets the tolerance,
        // and the solution is the f64 Gram mode's; along a path (several penalties) the f64
        // Gram matrix is kept
        let (n, d, t) = (3000, 150, 4);
        assert!(n * t >= SINGLE_MIN_NT && 5 * d <= n);
        let (x, yv) = problem(n, d, t, 51);
        let y = Array2::from_shape_vec((n, t).f(), yv.clone()).unwrap();
        let design = DenseDesign::new(x.view(), None);
        let (_, amax, y2) = xty_amax_y2(&design, &yv, t);
        let norm2: Vec<f64> = (0..d).map(|j| design.col_norm2(j)).collect();
        let mut mixed_runs = 0;
        for (ratio, l1, tol) in [(0.01, 1.0, 1e-12), (0.003, 0.5, 1e-10), (0.2, 1.0, 1e-8)] {
            let pen = L21Ridge {
                alpha: amax * ratio,
                l1_ratio: l1,
            };
            // the state after a whole solve, and its exact gap
            let run = |mixed: bool| {
                let mut w = vec![0.0; d * t];
                let xtr = xt_r_of(&design, &yv, t);
                let mut cache = OuterCache::default();
                let ry = y2;
                cache.store(xtr, y2, ry);
                let res = Residual::new(&design, &yv, yv.clone(), t)
                    .with_fresh_xtr()
                    .with_single(true);
                let mut state = AutoState::new(res, mixed);
                let opts = WsOptions {
                    max_iter: 100_000,
                    tol_n: tol * y2,
                    screening: true,
                    anderson: true,
                    random: false,
                };
                let mut rng = StdRng::seed_from_u64(0);
                let out = solve(
                    &mut state, &mut w, &norm2, n, t, &pen, &opts, &mut rng, &mut cache,
                );
                assert!(out.converged);
                let is_mixed = matches!(state, AutoState::Mixed(..));
                let exact = exact_gap_n(&design, &yv, &w, t, &pen);
                assert!(
                    exact <= tol * y2 * (1.0 + 1e-9),
                    "ratio {ratio} mixed {mixed}: exact gap {exact:e} > {:e}",
                    tol * y2
                );
                (w, is_mixed)
            };
            let (wm, is_mixed) = run(true);
            let (wp, was_mixed) = run(false);
            assert!(!was_mixed);
            mixed_runs += usize::from(is_mixed);
            let diff: f64 = wm.iter().zip(&wp).map(|(a, b)| (a - b).abs()).sum();
            let size: f64 = wp.iter().map(|v| v.abs()).sum::<f64>().max(1e-300);
            assert!(diff <= 1e-5 * size, "ratio {ratio}: {diff:e} vs {size:e}");
        }
        // the two small alphas switch to Gram mode at once (most features violate at W = 0)
        assert!(mixed_runs >= 2, "mixed Gram mode taken {mixed_runs} times");
        // the estimator's path: several penalties keep the f64 Gram matrix, one takes f32
        let pens: Vec<L21> = [0.1, 0.01]
            .iter()
            .map(|r| L21 { alpha: amax * r })
            .collect();
        let solver = BlockCoordinateDescent {
            options: BcdOptions {
                tol: 1e-10,
                max_iter: 100_000,
                ..BcdOptions::default()
            },
        };
        let path = solver.solve_path(&design, y.view(), &pens, None);
        let single = solver.solve_path(&design, y.view(), &pens[1..], None);
        assert!(path.iter().all(|p| p.converged) && single[0].converged);
        let diff = (&path[1].coef - &single[0].coef).mapv(f64::abs).sum();
        assert!(diff <= 1e-5 * path[1].coef.mapv(f64::abs).sum());
    }

    #[test]
    fn single_precision_differences_give_the_same_anderson_weights() {
        // the solver's Anderson keeps its differences in f32: its weights (and so its point,
        // `last − Σ β_l u_l`) match those from the f64 differences to single precision, on
        // iterates of a contraction whose steps shrink by 1e-3 (as late in a solve)
        let mut rng = StdRng::seed_from_u64(5);
        let m = 300;
        let mut w: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
        let target: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
        let rates: Vec<f64> = (0..m).map(|_| rng.random_range(0.2..0.95)).collect();
        let mut diffs = Vec::new();
        for _ in 0..K {
            let next: Vec<f64> = (0..m)
                .map(|i| target[i] + rates[i] * (w[i] - target[i]))
                .collect();
            diffs.push(
                next.iter()
                    .zip(&w)
                    .map(|(a, b)| 1e-3 * (a - b))
                    .collect::<Vec<f64>>(),
            );
            w = next;
        }
        #[allow(clippy::cast_possible_truncation)]
        let single: Vec<Vec<f32>> = diffs
            .iter()
            .map(|u| u.iter().map(|&v| v as f32).collect())
            .collect();
        let b64 = anderson_coefs(&diffs, crate::linalg::dot).unwrap();
        let b32 = anderson_coefs(&single, crate::linalg::dot_f32s).unwrap();
        let step: f64 = diffs.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
        let dev: f64 = (0..m)
            .map(|i| {
                let e: f64 = (0..K)
                    .map(|l| b64[l] * diffs[l][i] - b32[l] * f64::from(single[l][i]))
                    .sum();
                e * e
            })
            .sum::<f64>()
            .sqrt();
        assert!(
            dev <= 1e-5 * step,
            "point moved by {dev:e} against steps of {step:e}"
        );
        assert!(b64.iter().any(|&b| b.abs() > 1e-3), "{b64:?}");
    }

    #[test]
    fn extrapolation_moves_towards_the_fixed_point() {
        // w_{k+1} = M w_k + b with a contraction M in 3-D: the extrapolated point is much closer
        // to the fixed point than the last iterate (Anderson's defining property).
        let m = [[0.5, 0.2, 0.0], [0.1, 0.3, 0.1], [0.0, 0.2, 0.4]];
        let b = [1.0, -1.0, 0.5];
        let step = |w: &[f64]| -> Vec<f64> {
            (0..3)
                .map(|i| (0..3).map(|j| m[i][j] * w[j]).sum::<f64>() + b[i])
                .collect()
        };
        let mut hist = vec![vec![0.0; 3]];
        for _ in 0..3 {
            let next = step(hist.last().unwrap());
            hist.push(next);
        }
        let acc = extrapolate(&hist).unwrap();
        let residual =
            |w: &[f64]| -> f64 { step(w).iter().zip(w).map(|(a, b)| (a - b).abs()).sum() };
        let (res_acc, res_last) = (residual(&acc), residual(&hist[3]));
        assert!(res_acc < 0.5 * res_last, "{res_acc:e} vs {res_last:e}");
        // coefficients sum to one: a constant sequence is reproduced exactly
        let flat = vec![vec![2.0, 3.0], vec![2.0, 3.0 + 1e-3], vec![2.0 + 1e-3, 3.0]];
        let e = extrapolate(&flat).unwrap();
        assert!(e.iter().all(|v| v.is_finite()));
        // the point is the affine combination Σ c_i w_{i+1} (c ∝ (UUᵀ)⁻¹1, Σc = 1), which the
        // solver forms from the newest iterate and the differences
        let u: Vec<Vec<f64>> = hist
            .windows(2)
            .map(|p| p[1].iter().zip(&p[0]).map(|(a, b)| a - b).collect())
            .collect();
        let mut sys: Vec<Vec<f64>> = u
            .iter()
            .map(|ui| {
                let mut row: Vec<f64> = u
                    .iter()
                    .map(|uj| ui.iter().zip(uj).map(|(a, b)| a * b).sum())
                    .collect();
                row.push(1.0);
                row
            })
            .collect();
        let z = solve_small(std::mem::take(&mut sys)).unwrap();
        let zs: f64 = z.iter().sum();
        for (k, a) in acc.iter().enumerate() {
            let direct: f64 = z.iter().zip(&hist[1..]).map(|(zi, w)| zi / zs * w[k]).sum();
            assert!(
                (a - direct).abs() <= 1e-12 * (1.0 + direct.abs()),
                "{a} vs {direct}"
            );
        }
        let mut out = Vec::new();
        // singular systems are refused, not divided by zero
        assert!(solve_small(vec![vec![0.0, 0.0, 1.0], vec![0.0, 0.0, 1.0]]).is_none());
        assert!(!extrapolate_diffs(
            &[1.0, 2.0],
            &[vec![0.0, 0.0], vec![0.0, 0.0]],
            &mut out
        ));
    }
}
