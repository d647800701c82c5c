//! Solvers. A solver states which datafit and which penalty capabilities it works with through
//! its `Solver<D, P>` implementations, so an unsupported pairing does not compile.

mod bcd;
pub(crate) mod ws;

pub use bcd::{BcdOptions, BlockCoordinateDescent, GramMode};

use ndarray::{Array2, ArrayView2};

use crate::datafit::Datafit;
use crate::design::Design;
use crate::penalty::Penalty;

/// One point of a path as [`BlockCoordinateDescent::solve_path_with`] reports it: the
/// certificate of a [`SolverResult`] without its coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathPoint {
    /// Duality gap in the documented objective's scale.
    pub dual_gap: f64,
    /// The gap the solver stopped at, `n`-scaled.
    pub gap_n: f64,
    /// The threshold `gap_n` was compared with.
    pub tol_n: f64,
    /// Number of passes over the features.
    pub n_iter: usize,
    /// Whether `gap_n <= tol_n` was reached.
    pub converged: bool,
}

/// What a solver returns.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverResult {
    /// The coefficients `W`, `n_features × n_tasks`.
    pub coef: Array2<f64>,
    /// Duality gap at `coef`, in the documented objective's scale (`1/(2n)‖·‖²` datafit).
    pub dual_gap: f64,
    /// The gap the solver stopped at, in its own `n`-scaled units (`n · dual_gap`).
    pub gap_n: f64,
    /// The threshold `gap_n` was compared with (`tol · ‖Y‖²_F`).
    pub tol_n: f64,
    /// Number of passes over the features (0 when the start point already met the tolerance).
    pub n_iter: usize,
    /// Whether `gap_n <= tol_n` was reached within `max_iter` passes.
    pub converged: bool,
}

/// A solver for `min_W F(W) + R(W)` with datafit `D` and penalty `P`.
pub trait Solver<D: Datafit, P: Penalty> {
    /// Solve on design `x` and targets `y` (`n × T`), starting from `init` (`d × T`; zeros if
    /// `None`).
    ///
    /// # Panics
    /// If `y` or `init` do not match `x` (callers validate user input first).
    fn solve<X: Design>(
        &self,
        x: &X,
        y: ArrayView2<'_, f64>,
        datafit: &D,
        penalty: &P,
        init: Option<ArrayView2<'_, f64>>,
    ) -> SolverResult;
}
