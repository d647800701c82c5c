//! Duality gap of the quadratic datafit with a [`DualNorm`] penalty — the certificate behind
//! scikit-learn's stopping rule.
//!
//! With `a = alpha·l1_ratio`, `b = alpha·(1 − l1_ratio)`, residuals `R = Y − XW` and, in the
//! `n`-scaled units scikit-learn's solver uses (`A = n·a`, `B = n·b`):
//!
//! ```text
//! primal = ½(‖R‖² + B‖W‖²) + A Σ_j ‖W_j‖
//! G      = Xᵀ R − B W,   s = A / max(A, max_j ‖G_j‖)        (dual scaling, "formulation A")
//! dual   = −½ s² (‖R‖² + B‖W‖²) + s ⟨R, Y⟩
//! gap_n  = primal − dual
//! ```
//!
//! With `A = 0 < B` (ridge) "formulation B" is used: `gap_n = ‖R‖² + ½B‖W‖² − ⟨R,Y⟩ +
//! ‖XᵀR‖²/(2B)`; with `A = B = 0` the first-order condition `‖XᵀR‖²`.
//! The documented-scale gap is `gap_n / n`; it bounds `P(W) − P*` for
//! `P(W) = 1/(2n)‖Y − XW‖² + R(W)`.

use crate::design::Design;
use crate::penalty::DualNorm;

/// The gap and the by-products screening needs.
#[derive(Debug, Clone)]
pub struct GapState {
    /// Duality gap in the solver's `n`-scaled units (`n × ` the documented gap).
    pub gap_n: f64,
    /// The primal objective in the same units (`½(‖R‖² + B‖W‖²) + A Σ_j ‖W_j‖`); `NaN` for a
    /// penalty without L2,1 part (`A = 0`), whose gap has no separate dual value here. The
    /// dual value of the point behind the gap is `primal_n − gap_n`.
    pub primal_n: f64,
    /// `max_j ‖G_j‖` with `G = XᵀR − B W`.
    pub dual_norm: f64,
    /// `‖G_j‖` for each feature `j`.
    pub row_norms: Vec<f64>,
}

impl GapState {
    /// Gap-safe screening test (Ndiaye et al. 2017, eq. 2.2, as scikit-learn 1.9): `true` when
    /// row `j` is provably zero at the optimum. `norm2_j = ‖X_j‖²`; `a_n`, `b_n` are the L2,1 and
    /// ridge weights in `n`-scaled units (`n·a`, `n·b`, `a_n > 0`). Sound at any primal point.
    ///
    /// A margin of `1e-10` on `1 − ‖G_j‖/max(A, ‖G‖_∞)` guards against rounding: at a gap that is
    /// zero up to rounding the sphere has radius zero and a row of the support, whose
    /// `‖G_j‖/A` is 1 up to rounding, must not be removed.
    pub fn screens(&self, j: usize, norm2_j: f64, a_n: f64, b_n: f64) -> bool {
        self.screener(a_n, b_n).screens(j, norm2_j)
    }

    /// The test of [`screens`](Self::screens) with its per-gap parts (sphere radius, dual
    /// scaling) computed once, for a pass over every row.
    pub fn screener(&self, a_n: f64, b_n: f64) -> Screener<'_> {
        Screener {
            row_norms: &self.row_norms,
            radius: if a_n > 0.0 {
                (2.0 * self.gap_n.max(0.0)).sqrt() / a_n
            } else {
                f64::INFINITY
            },
            inv_denom: 1.0 / a_n.max(self.dual_norm),
            b_n,
        }
    }
}

/// [`GapState::screens`] for one gap: `1 − ‖G_j‖/max(A, ‖G‖_∞) − 1e-10 > radius·√(‖X_j‖² + B)`.
#[derive(Debug, Clone, Copy)]
pub struct Screener<'g> {
    row_norms: &'g [f64],
    radius: f64,
    inv_denom: f64,
    b_n: f64,
}

impl Screener<'_> {
    /// Whether row `j` (with `norm2_j = ‖X_j‖²`) is provably zero at the optimum.
    pub fn screens(&self, j: usize, norm2_j: f64) -> bool {
        const MARGIN: f64 = 1e-10;
        // `radius = ∞` (no L2,1 part) screens nothing
        1.0 - self.row_norms[j] * self.inv_denom - MARGIN
            > self.radius * (norm2_j + self.b_n).sqrt()
    }
}

/// Compute the duality gap at `W` (`d × t` row-major) with residuals `R = Y − XW` (`n × t`
/// column-major). `xta` is a `d × t` workspace.
pub fn duality_gap<X: Design, P: DualNorm>(
    x: &X,
    y: &[f64],
    r: &[f64],
    w: &[f64],
    t: usize,
    penalty: &P,
    xta: &mut [f64],
) -> GapState {
    let r2: f64 = r.iter().map(|v| v * v).sum();
    let ry: f64 = r.iter().zip(y).map(|(r, y)| r * y).sum();
    x.xt_r(r, t, xta);
    gap_from_parts(x.n_samples(), xta, r2, ry, w, t, penalty)
}

/// The duality gap from its parts: `xtr` holds `XᵀR` on entry (`d × t` row-major) and
/// `XᵀR − B W` on exit; `r2 = ‖R‖²_F`, `ry = ⟨R, Y⟩`; `n` samples.
pub fn gap_from_parts<P: DualNorm>(
    n: usize,
    xtr: &mut [f64],
    r2: f64,
    ry: f64,
    w: &[f64],
    t: usize,
    penalty: &P,
) -> GapState {
    let nf = n as f64;
    let a = nf * penalty.l21_weight();
    let b = nf * penalty.ridge_weight();
    let w2: f64 = if b > 0.0 {
        w.iter().map(|v| v * v).sum()
    } else {
        0.0
    };
    let xta = xtr;
    if a == 0.0 {
        let g2: f64 = xta.iter().map(|v| v * v).sum();
        let row_norms = xta
            .chunks_exact(t.max(1))
            .map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt())
            .collect();
        let gap_n = if b == 0.0 {
            g2
        } else {
            r2 + 0.5 * b * w2 - ry + g2 / (2.0 * b)
        };
        return GapState {
            gap_n,
            primal_n: f64::NAN,
            dual_norm: g2,
            row_norms,
        };
    }
    let d = w.len() / t.max(1);
    let mut row_norms = Vec::with_capacity(d);
    let mut dual_norm = 0.0f64;
    let mut l21 = 0.0;
    for (g, wj) in xta.chunks_exact_mut(t).zip(w.chunks_exact(t)) {
        let mut s = 0.0;
        let mut sw = 0.0;
        for (gi, wi) in g.iter_mut().zip(wj) {
            *gi -= b * wi;
            s += *gi * *gi;
            sw += wi * wi;
        }
        let s = s.sqrt();
        dual_norm = dual_norm.max(s);
        row_norms.push(s);
        l21 += sw.sqrt();
    }
    GapState {
        gap_n: gap_value(a, b, r2, ry, w2, l21, dual_norm),
        primal_n: 0.5 * (r2 + b * w2) + a * l21,
        dual_norm,
        row_norms,
    }
}

/// The gap ("formulation A", `A > 0`) from its scalar parts, `n`-scaled: `a = A`, `b = B`,
/// `r2 = ‖R‖²`, `ry = ⟨R, Y⟩`, `w2 = ‖W‖²_F`, `l21 = Σ_j ‖W_j‖`, `dual_norm = max_j ‖G_j‖`.
pub(crate) fn gap_value(
    a: f64,
    b: f64,
    r2: f64,
    ry: f64,
    w2: f64,
    l21: f64,
    dual_norm: f64,
) -> f64 {
    let primal = 0.5 * (r2 + b * w2) + a * l21;
    let scale = if dual_norm > a { a / dual_norm } else { 1.0 };
    let dual = -0.5 * scale * scale * (r2 + b * w2) + scale * ry;
    primal - dual
}
