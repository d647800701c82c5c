//! Block coordinate descent over the rows of `W` (Simon, Friedman & Hastie 2013), with
//! scikit-learn 1.9's stopping rule and gap-safe screening.
//!
//! Two paths share the stopping rule (duality gap `gap_n <= tol · ‖Y‖²_F`, so both return a
//! certified solution): the accelerated one (default: working sets, Anderson extrapolation, Gram
//! mode when `n ≫ d`; see the `ws` module) and the plain one below, which follows
//! scikit-learn's iteration exactly (same passes, same `n_iter`).
//!
//! The plain path:
//! One pass ("iteration") updates each active row `j` in turn:
//!
//! ```text
//! W_j ← prox_{(n/‖X_j‖²) R}( W_j + X_jᵀ R / ‖X_j‖² ),    R ← R − X_j (W_j,new − W_j,old)
//! ```
//!
//! After a pass whose largest coefficient change is at most `tol` times the largest coefficient
//! (or after the last pass), the duality gap is computed; the solver stops when
//! `gap_n <= tol · ‖Y‖²_F` (scikit-learn's rule on the centred problem). Each gap computation also
//! applies gap-safe screening (Ndiaye et al. 2017, eq. 2.2): a row `j` with
//! `(1 − ‖G_j‖/max(A, ‖G‖_∞)) / sqrt(‖X_j‖² + B) > sqrt(2 gap_n) / A` is provably zero at the
//! optimum and is set to zero and removed from later passes.

use ndarray::{Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{PathPoint, Solver, SolverResult, ws};
use crate::datafit::Quadratic;
use crate::design::Design;
use crate::gap::{GapState, duality_gap};
use crate::penalty::{DualNorm, ProxRow};

/// Options of [`BlockCoordinateDescent`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BcdOptions {
    /// Maximum number of passes over the features.
    pub max_iter: usize,
    /// Relative tolerance: stop when `gap_n <= tol · ‖Y‖²_F`.
    pub tol: f64,
    /// Visit features at random (with replacement, `n_active` draws per pass) instead of cyclically.
    pub random: bool,
    /// Seed of the random selection.
    pub random_state: u64,
    /// Apply gap-safe screening at each gap computation.
    pub screening: bool,
    /// Working sets (support + most violating features). Off: scikit-learn's plain passes.
    pub working_set: bool,
    /// Anderson extrapolation of the working-set iterates (working-set path only).
    pub anderson: bool,
    /// Gram mode (working-set path only).
    pub gram: GramMode,
    /// Mixed precision (working-set path, dense designs, cyclic selection): the inner loops'
    /// matrix products with the change of the residuals run in `f32` (about twice the `f64`
    /// speed), while every outer evaluation — gap, screening, the stopping certificate — is
    /// exact in `f64` (see the solver's notes); used when `R` has at least 8192 entries
    /// (`n_samples · n_tasks`; smaller problems' epochs are cheap, and their results then
    /// match the `f64` solver's to the last digits) and the columns' norms and `‖Y‖` are
    /// within `[1e-12, 1e12]`. Under the same conditions a single fit (one penalty) in
    /// automatic Gram mode forms `XᵀX` with `f32` products (half the time of the `f64` one,
    /// most of a fit with `n ≫ d`) and certifies on exact passes (`R = Y − XW` and `XᵀR` in
    /// `f64`) from which it continues, so its error only touches `XᵀX (W − W_ref)`; along a
    /// path, where every alpha would pay its own exact passes, `XᵀX` stays `f64`.
    /// Off: everything in `f64`.
    pub mixed_precision: bool,
}

/// Whether block CD works on `XᵀX` and `XᵀY` instead of the residuals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GramMode {
    /// Gram mode allowed when `5·n_features <= n_samples` (then `XᵀX` costs at most 0.2× the
    /// memory of `X`); the solver starts on residuals and switches once its epochs have cost
    /// about as much as building `XᵀX` (a row update then costs `d·T` instead of `n·T`).
    #[default]
    Auto,
    /// Always precompute `XᵀX`.
    On,
    /// Never.
    Off,
}

impl GramMode {
    /// Whether to use Gram mode for an `n × d` design.
    pub fn resolve(self, n: usize, d: usize) -> bool {
        match self {
            Self::Auto => d.saturating_mul(5) <= n,
            Self::On => true,
            Self::Off => false,
        }
    }
}

impl Default for BcdOptions {
    fn default() -> Self {
        Self {
            max_iter: 1000,
            tol: 1e-4,
            random: false,
            random_state: 0,
            screening: true,
            working_set: true,
            anderson: true,
            gram: GramMode::Auto,
            mixed_precision: true,
        }
    }
}

/// Block coordinate descent for the quadratic datafit with a row-proximable penalty that has a
/// duality-gap certificate ([`ProxRow`] + [`DualNorm`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BlockCoordinateDescent {
    /// Solver options.
    pub options: BcdOptions,
}

impl<P: ProxRow + DualNorm> Solver<Quadratic, P> for BlockCoordinateDescent {
    fn solve<X: Design>(
        &self,
        x: &X,
        y: ArrayView2<'_, f64>,
        _datafit: &Quadratic,
        penalty: &P,
        init: Option<ArrayView2<'_, f64>>,
    ) -> SolverResult {
        let mut out = self.solve_path(x, y, std::slice::from_ref(penalty), init);
        out.pop()
            .unwrap_or_else(|| unreachable!("one penalty gives one result"))
    }
}

impl BlockCoordinateDescent {
    /// Solve for each penalty in turn (e.g. decreasing `alpha`), each warm-started from the
    /// previous solution. With working sets the CD state (residuals, or the Gram matrix once
    /// built) is kept along the whole path instead of being rebuilt per penalty.
    ///
    /// # Panics
    /// If `y` or `init` do not match `x` (callers validate user input first).
    pub fn solve_path<X: Design, P: ProxRow + DualNorm>(
        &self,
        x: &X,
        y: ArrayView2<'_, f64>,
        penalties: &[P],
        init: Option<ArrayView2<'_, f64>>,
    ) -> Vec<SolverResult> {
        let (d, t) = (x.n_features(), y.ncols());
        let mut out = Vec::with_capacity(penalties.len());
        let last = penalties.len().saturating_sub(1);
        let w = self.solve_path_with(x, y, penalties, init, &mut |i, w, p| {
            out.push(SolverResult {
                // the last point's coefficients are the solver's own buffer, moved below (a
                // single fit makes no copy of `W`)
                coef: if i == last {
                    Array2::zeros((0, t))
                } else {
                    Array2::from_shape_vec((d, t), w.to_vec())
                        .unwrap_or_else(|_| Array2::zeros((d, t)))
                },
                dual_gap: p.dual_gap,
                gap_n: p.gap_n,
                tol_n: p.tol_n,
                n_iter: p.n_iter,
                converged: p.converged,
            });
        });
        if let Some(res) = out.last_mut() {
            res.coef = Array2::from_shape_vec((d, t), w).unwrap_or_else(|_| Array2::zeros((d, t)));
        }
        out
    }

    /// [`solve_path`](Self::solve_path) handing each penalty's solution to `visit` (its index,
    /// `W` as a row-major `d × t` slice, and its certificate) instead of collecting copies: a
    /// cross-validation scores each point on the fly. Returns the last point's `W`.
    ///
    /// # Panics
    /// As [`solve_path`](Self::solve_path).
    pub fn solve_path_with<X: Design, P: ProxRow + DualNorm>(
        &self,
        x: &X,
        y: ArrayView2<'_, f64>,
        penalties: &[P],
        init: Option<ArrayView2<'_, f64>>,
        visit: &mut dyn FnMut(usize, &[f64], PathPoint),
    ) -> Vec<f64> {
        let (n, d, t) = (x.n_samples(), x.n_features(), y.ncols());
        assert_eq!(y.nrows(), n, "rows of Y must match X");
        let opts = self.options;
        // W row-major d × t; Y and R column-major n × t.
        let mut w: Vec<f64> = match init {
            Some(w0) => {
                assert_eq!(w0.dim(), (d, t), "init must be (n_features, n_tasks)");
                w0.iter().copied().collect()
            }
            None => vec![0.0; d * t],
        };
        // `Y` column-major: borrowed when it already is (the estimators prepare it so)
        let yc_owned: Vec<f64>;
        let yc: &[f64] = match y.t().to_slice() {
            Some(s) => s,
            None => {
                yc_owned = y.t().iter().copied().collect();
                &yc_owned
            }
        };
        let mut rng = StdRng::seed_from_u64(opts.random_state);
        let nf = n as f64;
        let norms = || -> Vec<f64> { (0..d).map(|j| x.col_norm2(j)).collect() };
        let tol_n = opts.tol * yc.iter().map(|v| v * v).sum::<f64>();
        let point = |gap_n: f64, n_iter: usize, converged: bool| PathPoint {
            dual_gap: gap_n / nf,
            gap_n,
            tol_n,
            n_iter,
            converged,
        };
        if !opts.working_set {
            let norm2 = norms();
            for (i, p) in penalties.iter().enumerate() {
                let res =
                    self.solve_plain(x, yc, t, p, std::mem::take(&mut w), &norm2, tol_n, &mut rng);
                w = res.coef.iter().copied().collect();
                visit(i, &w, point(res.gap_n, res.n_iter, res.converged));
            }
            return w;
        }
        let wopts = ws::WsOptions {
            max_iter: opts.max_iter,
            tol_n,
            screening: opts.screening,
            anderson: opts.anderson,
            random: opts.random,
        };
        // residual state: `R = Y − XW`, then the column norms and the first outer iteration's
        // `XᵀR` in one pass over `X` (handed to the first solve through its cache)
        let residual = |w: &[f64]| {
            let mut r = yc.to_vec();
            if w.iter().any(|&v| v != 0.0) {
                x.sub_x_w(w, t, &mut r);
            }
            let (mut xtr, mut norm2) = (vec![0.0; d * t], vec![0.0; d]);
            x.xt_r_norm2(&r, t, &mut xtr, &mut norm2);
            // single-precision inner loops only where `f32` holds the products comfortably
            let moderate = |v2: f64| v2 == 0.0 || (1e-24..=1e24).contains(&v2);
            let single = opts.mixed_precision
                && !opts.random
                && n * t >= ws::SINGLE_MIN_NT
                && norm2.iter().all(|&v| moderate(v))
                && moderate(yc.iter().map(|v| v * v).sum());
            let r2 = r.iter().map(|v| v * v).sum();
            let ry = r.iter().zip(yc).map(|(a, b)| a * b).sum();
            let mut cache = ws::OuterCache::default();
            cache.store(xtr, r2, ry);
            (
                ws::Residual::new(x, yc, r, t)
                    .with_fresh_xtr()
                    .with_single(single),
                norm2,
                cache,
            )
        };
        let mut go = |state: &mut dyn ws::CdState,
                      w: &mut Vec<f64>,
                      norm2: &[f64],
                      mut cache: ws::OuterCache| {
            for (i, p) in penalties.iter().enumerate() {
                let out = ws::solve(state, w, norm2, n, t, p, &wopts, &mut rng, &mut cache);
                visit(i, w, point(out.gap.gap_n, out.n_iter, out.converged));
            }
        };
        match opts.gram {
            GramMode::On => {
                let mut state = ws::Gram::new(x, yc, t, &w);
                go(&mut state, &mut w, &norms(), ws::OuterCache::default());
            }
            GramMode::Auto if opts.gram.resolve(n, d) => {
                let (res, norm2, cache) = residual(&w);
                let mut state = ws::AutoState::new(res, penalties.len() == 1);
                go(&mut state, &mut w, &norm2, cache);
            }
            _ => {
                let (mut state, norm2, cache) = residual(&w);
                go(&mut state, &mut w, &norm2, cache);
            }
        }
        w
    }

    /// scikit-learn's plain cyclic (or random) passes over all features.
    #[allow(clippy::too_many_arguments)]
    fn solve_plain<X: Design, P: ProxRow + DualNorm>(
        &self,
        x: &X,
        yc: &[f64],
        t: usize,
        penalty: &P,
        mut w: Vec<f64>,
        norm2: &[f64],
        tol_n: f64,
        rng: &mut StdRng,
    ) -> SolverResult {
        let (n, d) = (x.n_samples(), x.n_features());
        let nf = n as f64;
        let opts = self.options;
        let a_n = nf * penalty.l21_weight();
        let b_n = nf * penalty.ridge_weight();
        if !a_n.is_finite() || !b_n.is_finite() {
            // a penalty weight beyond f64's range: the zero model, certified (see `ws::solve`)
            return SolverResult {
                coef: Array2::zeros((d, t)),
                dual_gap: 0.0,
                gap_n: 0.0,
                tol_n,
                n_iter: 0,
                converged: true,
            };
        }
        let mut r = yc.to_vec();
        if w.iter().any(|&v| v != 0.0) {
            x.sub_x_w(&w, t, &mut r);
        }
        let screening = opts.screening && a_n > 0.0;
        let mut xta = vec![0.0; d * t];
        let mut active: Vec<usize> = (0..d).collect();
        let mut old = vec![0.0; t];
        let mut tmp = vec![0.0; t];

        let mut g = duality_gap(x, yc, &r, &w, t, penalty, &mut xta);
        let finish = |w: Vec<f64>, g: &GapState, n_iter: usize, converged: bool| SolverResult {
            coef: Array2::from_shape_vec((d, t), w).unwrap_or_else(|_| Array2::zeros((d, t))),
            dual_gap: g.gap_n / nf,
            gap_n: g.gap_n,
            tol_n,
            n_iter,
            converged,
        };
        if g.gap_n <= tol_n {
            return finish(w, &g, 0, true);
        }
        if screening {
            screen(x, norm2, &g, a_n, b_n, t, &mut w, &mut r, &mut active);
        }
        let mut converged = false;
        let mut n_iter = 0;
        for it in 0..opts.max_iter {
            n_iter = it + 1;
            let mut w_max = 0.0f64;
            let mut d_w_max = 0.0f64;
            let n_active = active.len();
            for f in 0..n_active {
                let j = if opts.random {
                    active[rng.random_range(0..n_active)]
                } else {
                    active[f]
                };
                let nj = norm2[j];
                if nj == 0.0 {
                    continue;
                }
                let wj = &mut w[j * t..(j + 1) * t];
                old.copy_from_slice(wj);
                // v = W_j + X_jᵀR / ‖X_j‖², step n / ‖X_j‖²
                for k in 0..t {
                    tmp[k] = (x.col_dot(j, &r[k * n..(k + 1) * n]) + old[k] * nj) / nj;
                }
                penalty.prox_row(&mut tmp, nf / nj);
                wj.copy_from_slice(&tmp);
                let mut dj = 0.0f64;
                let mut wjm = 0.0f64;
                for k in 0..t {
                    let delta = old[k] - tmp[k];
                    if delta != 0.0 {
                        x.col_axpy(j, delta, &mut r[k * n..(k + 1) * n]);
                    }
                    dj = dj.max(delta.abs());
                    wjm = wjm.max(tmp[k].abs());
                }
                d_w_max = d_w_max.max(dj);
                w_max = w_max.max(wjm);
            }
            if w_max == 0.0 || d_w_max / w_max <= opts.tol || it + 1 == opts.max_iter {
                g = duality_gap(x, yc, &r, &w, t, penalty, &mut xta);
                if g.gap_n <= tol_n {
                    converged = true;
                    break;
                }
                if screening {
                    screen(x, norm2, &g, a_n, b_n, t, &mut w, &mut r, &mut active);
                }
            }
        }
        finish(w, &g, n_iter, converged)
    }
}

/// Gap-safe screening: drop rows that are provably zero at the optimum (zeroing them in `w`
/// and restoring their contribution to `r`).
#[allow(clippy::too_many_arguments)]
fn screen<X: Design>(
    x: &X,
    norm2: &[f64],
    g: &GapState,
    a_n: f64,
    b_n: f64,
    t: usize,
    w: &mut [f64],
    r: &mut [f64],
    active: &mut Vec<usize>,
) {
    let n = x.n_samples();
    active.retain(|&j| {
        let keep = norm2[j] > 0.0 && !g.screens(j, norm2[j], a_n, b_n);
        if !keep {
            for k in 0..t {
                let wjk = w[j * t + k];
                if wjk != 0.0 {
                    x.col_axpy(j, wjk, &mut r[k * n..(k + 1) * n]);
                    w[j * t + k] = 0.0;
                }
            }
        }
        keep
    });
}
