//! Penalties on `W` (`n_features × n_tasks`), grouped by structure. This module holds the
//! **block-separable** ones, whose groups are the rows `W_j` (one feature across all tasks).
//!
//! A penalty is a small object of math methods only ([`Penalty`]); what a solver needs beyond that
//! is a capability trait: [`ProxRow`] (a proximal step on one row) and [`DualNorm`] (the closed
//! form that gives a duality-gap certificate with the quadratic datafit).
//!
//! Scaling: penalties are stated in the same units as [`Quadratic`](crate::Quadratic)
//! (`1/(2n)‖Y − XW‖²_F`), i.e. scikit-learn's `alpha`.

use mtlkit_core::param;
use ndarray::{ArrayView1, ArrayView2};

/// A penalty `R(W)`.
pub trait Penalty {
    /// `R(W)`.
    fn value(&self, w: ArrayView2<'_, f64>) -> f64;
    /// Distance from `−grad_row` to the subdifferential of the penalty at `w_row`, where
    /// `grad_row` is the datafit gradient with respect to that row: zero exactly at an optimum.
    /// Solvers use it as the optimality violation of a row (working sets, stopping).
    fn subdiff_distance(&self, w_row: ArrayView1<'_, f64>, grad_row: ArrayView1<'_, f64>) -> f64;
    /// Check the penalty's hyperparameters.
    ///
    /// # Errors
    /// [`mtlkit_core::Error::InvalidParameter`] naming the offending value.
    fn check(&self) -> mtlkit_core::Result<()>;
}

/// Capability: the proximal operator of the penalty restricted to one row.
pub trait ProxRow: Penalty {
    /// Replace `v` by `prox_{step · R_row}(v) = argmin_u ½‖u − v‖² + step · R_row(u)`.
    fn prox_row(&self, v: &mut [f64], step: f64);
}

/// Capability: penalties of the form `a · Σ_j ‖W_j‖₂ + (b/2) · ‖W‖²_F`, whose Fenchel conjugate
/// is known, so a duality gap (and gap-safe screening) is available with the quadratic datafit.
pub trait DualNorm: Penalty {
    /// The weight `a` of the L2,1 norm.
    fn l21_weight(&self) -> f64;
    /// The weight `b` of the squared Frobenius norm.
    fn ridge_weight(&self) -> f64;
}

/// Row-wise L2,1 norm (joint feature selection, the group-Lasso over rows):
///
/// `R(W) = alpha · Σ_j ‖W_j‖₂`
///
/// `alpha >= 0` (scikit-learn's `MultiTaskLasso.alpha`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct L21 {
    /// Regularization strength.
    pub alpha: f64,
}

/// L2,1 plus ridge (the multi-task elastic net):
///
/// `R(W) = alpha · l1_ratio · Σ_j ‖W_j‖₂ + alpha · (1 − l1_ratio)/2 · ‖W‖²_F`
///
/// `alpha >= 0`, `0 <= l1_ratio <= 1` (scikit-learn's `MultiTaskElasticNet`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct L21Ridge {
    /// Regularization strength.
    pub alpha: f64,
    /// Mix between the L2,1 part (1) and the ridge part (0).
    pub l1_ratio: f64,
}

fn row_norm(v: impl IntoIterator<Item = f64>) -> f64 {
    v.into_iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `‖v‖₂` of a slice on four accumulators (the row prox runs once per row update).
#[inline]
fn slice_norm(v: &[f64]) -> f64 {
    crate::linalg::sum_squares(v).sqrt()
}

/// `prox` of `a‖u‖ + (b/2)‖u‖²` with step `s`: block soft-thresholding then shrinkage.
fn prox_enet_row(v: &mut [f64], a: f64, b: f64, s: f64) {
    let nrm = slice_norm(v);
    let scale = if nrm > 0.0 {
        (1.0 - s * a / nrm).max(0.0) / (1.0 + s * b)
    } else {
        0.0
    };
    v.iter_mut().for_each(|x| *x *= scale);
}

/// Subdifferential distance of `a‖w‖ + (b/2)‖w‖²` at row `w` given gradient `g`.
fn subdiff_enet_row(w: ArrayView1<'_, f64>, g: ArrayView1<'_, f64>, a: f64, b: f64) -> f64 {
    let wn = row_norm(w.iter().copied());
    if wn == 0.0 {
        (row_norm(g.iter().copied()) - a).max(0.0)
    } else {
        row_norm(w.iter().zip(g).map(|(wi, gi)| gi + b * wi + a * wi / wn))
    }
}

fn enet_value(w: ArrayView2<'_, f64>, a: f64, b: f64) -> f64 {
    let l21: f64 = w
        .rows()
        .into_iter()
        .map(|r| row_norm(r.iter().copied()))
        .sum();
    let fro2: f64 = w.iter().map(|x| x * x).sum();
    a * l21 + 0.5 * b * fro2
}

impl Penalty for L21 {
    fn value(&self, w: ArrayView2<'_, f64>) -> f64 {
        enet_value(w, self.alpha, 0.0)
    }
    fn subdiff_distance(&self, w_row: ArrayView1<'_, f64>, grad_row: ArrayView1<'_, f64>) -> f64 {
        subdiff_enet_row(w_row, grad_row, self.alpha, 0.0)
    }
    fn check(&self) -> mtlkit_core::Result<()> {
        param::non_negative("alpha", self.alpha).map(drop)
    }
}

impl ProxRow for L21 {
    fn prox_row(&self, v: &mut [f64], step: f64) {
        prox_enet_row(v, self.alpha, 0.0, step);
    }
}

impl DualNorm for L21 {
    fn l21_weight(&self) -> f64 {
        self.alpha
    }
    fn ridge_weight(&self) -> f64 {
        0.0
    }
}

impl Penalty for L21Ridge {
    fn value(&self, w: ArrayView2<'_, f64>) -> f64 {
        enet_value(w, self.l21_weight(), self.ridge_weight())
    }
    fn subdiff_distance(&self, w_row: ArrayView1<'_, f64>, grad_row: ArrayView1<'_, f64>) -> f64 {
        subdiff_enet_row(w_row, grad_row, self.l21_weight(), self.ridge_weight())
    }
    fn check(&self) -> mtlkit_core::Result<()> {
        param::non_negative("alpha", self.alpha)?;
        param::unit_interval("l1_ratio", self.l1_ratio).map(drop)
    }
}

impl ProxRow for L21Ridge {
    fn prox_row(&self, v: &mut [f64], step: f64) {
        prox_enet_row(v, self.l21_weight(), self.ridge_weight(), step);
    }
}

impl DualNorm for L21Ridge {
    fn l21_weight(&self) -> f64 {
        self.alpha * self.l1_ratio
    }
    fn ridge_weight(&self) -> f64 {
        self.alpha * (1.0 - self.l1_ratio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, array};

    /// The prox is the minimiser: no perturbation lowers `½‖u − v‖² + s·R(u)`.
    #[test]
    fn prox_minimises_its_objective() {
        let cases = [
            (
                L21Ridge {
                    alpha: 0.7,
                    l1_ratio: 1.0,
                },
                0.3,
            ),
            (
                L21Ridge {
                    alpha: 0.7,
                    l1_ratio: 0.4,
                },
                2.0,
            ),
            (
                L21Ridge {
                    alpha: 5.0,
                    l1_ratio: 0.5,
                },
                1.0,
            ),
        ];
        for (p, s) in cases {
            let v = array![1.0, -2.0, 0.5];
            let mut u = v.to_vec();
            p.prox_row(&mut u, s);
            let f = |u: &[f64]| {
                let d: f64 = u.iter().zip(&v).map(|(a, b)| (a - b) * (a - b)).sum();
                0.5 * d
                    + s * p.value(
                        Array1::from(u.to_vec())
                            .insert_axis(ndarray::Axis(0))
                            .view(),
                    )
            };
            let f0 = f(&u);
            for k in 0..3 {
                for eps in [1e-4, -1e-4] {
                    let mut u2 = u.clone();
                    u2[k] += eps;
                    assert!(f(&u2) >= f0 - 1e-12, "{p:?} step {s}");
                }
            }
        }
        // a large enough alpha zeroes the row exactly
        let mut u = vec![1.0, -2.0];
        L21 { alpha: 10.0 }.prox_row(&mut u, 1.0);
        assert_eq!(u, vec![0.0, 0.0]);
    }

    #[test]
    fn subdiff_distance_is_zero_at_optimum_of_a_row_problem() {
        // min_w ½‖w − v‖² + R(w): gradient of the smooth part is w − v; at w = prox(v) distance 0.
        for p in [
            L21Ridge {
                alpha: 0.7,
                l1_ratio: 1.0,
            },
            L21Ridge {
                alpha: 0.7,
                l1_ratio: 0.3,
            },
            L21Ridge {
                alpha: 9.0,
                l1_ratio: 0.5,
            },
        ] {
            let v = array![1.0, -2.0, 0.5];
            let mut w = v.to_vec();
            p.prox_row(&mut w, 1.0);
            let w = Array1::from(w);
            let g = &w - &v;
            assert!(p.subdiff_distance(w.view(), g.view()) < 1e-12);
            // away from the optimum the distance is positive (at a zero row only once the
            // gradient leaves the ball of radius alpha·l1_ratio)
            let g_bad = if w.iter().any(|&v| v != 0.0) {
                &g + 0.1
            } else {
                &g * 10.0
            };
            assert!(p.subdiff_distance(w.view(), g_bad.view()) > 1e-3, "{p:?}");
        }
    }

    #[test]
    fn lasso_is_the_l1_ratio_one_elastic_net() {
        let w = array![[1.0, -2.0], [0.0, 0.0], [3.0, 4.0]];
        let a = L21 { alpha: 0.3 }.value(w.view());
        let b = L21Ridge {
            alpha: 0.3,
            l1_ratio: 1.0,
        }
        .value(w.view());
        assert_eq!(a, b);
        assert!((a - 0.3 * (5f64.sqrt() + 5.0)).abs() < 1e-15);
        let e = L21Ridge {
            alpha: 2.0,
            l1_ratio: 0.25,
        }
        .value(w.view());
        assert!((e - (0.5 * (5f64.sqrt() + 5.0) + 0.5 * 1.5 * 30.0)).abs() < 1e-12);
    }

    #[test]
    fn checks_hyperparameters() {
        assert!(L21 { alpha: -1.0 }.check().is_err());
        assert!(L21 { alpha: f64::NAN }.check().is_err());
        assert!(
            L21Ridge {
                alpha: 1.0,
                l1_ratio: 1.5
            }
            .check()
            .is_err()
        );
        assert!(
            L21Ridge {
                alpha: 1.0,
                l1_ratio: 0.0
            }
            .check()
            .is_ok()
        );
    }
}
