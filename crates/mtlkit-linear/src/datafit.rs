//! Datafits: the per-task loss, with its scaling stated.

use ndarray::ArrayView2;

/// A data-fitting term `F(W)` of the multi-task objective.
pub trait Datafit {
    /// Value of the datafit for targets `y` and predictions `xw`, both `n × T`.
    fn value(&self, y: ArrayView2<'_, f64>, xw: ArrayView2<'_, f64>) -> f64;
}

/// The quadratic datafit of scikit-learn's multi-task models:
///
/// `F(W) = 1/(2n) · ‖Y − XW‖²_F`
///
/// (`n` = number of samples; the `1/(2n)` is summed over all tasks, not averaged over them).
/// Its gradient with respect to row `j` of `W` is `−X_jᵀ R / n` with `R = Y − XW`, and
/// `‖X_j‖² / n` is the Lipschitz constant of that block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quadratic;

impl Datafit for Quadratic {
    fn value(&self, y: ArrayView2<'_, f64>, xw: ArrayView2<'_, f64>) -> f64 {
        let n = y.nrows() as f64;
        let ss: f64 = y
            .iter()
            .zip(xw.iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        ss / (2.0 * n)
    }
}
