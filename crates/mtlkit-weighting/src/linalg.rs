//! Tiny dense helpers (matrix-vector products, Cholesky, LU) for the T×T problems of this crate.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// `G v`.
pub(crate) fn matvec(g: ArrayView2<f64>, v: ArrayView1<f64>) -> Array1<f64> {
    g.dot(&v)
}

/// Largest diagonal entry (0 for an empty matrix).
pub(crate) fn max_diag(g: ArrayView2<f64>) -> f64 {
    g.diag().iter().fold(0.0_f64, |m, &x| m.max(x))
}

/// Lower Cholesky factor of a symmetric positive definite matrix, `None` if a pivot is not
/// positive relative to its own diagonal entry (so badly scaled but well-conditioned-after-
/// diagonal-scaling matrices factor fine).
pub(crate) fn cholesky(a: ArrayView2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let mut d = a[[j, j]];
        for k in 0..j {
            d -= l[[j, k]] * l[[j, k]];
        }
        let ok = d.is_finite() && d > 0.0 && d > 1e-14 * a[[j, j]].abs();
        if !ok {
            return None;
        }
        let djj = d.sqrt();
        l[[j, j]] = djj;
        for i in (j + 1)..n {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = s / djj;
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` given the lower Cholesky factor.
pub(crate) fn cholesky_solve(l: &Array2<f64>, b: ArrayView1<f64>) -> Array1<f64> {
    let n = l.nrows();
    let mut y = b.to_owned();
    for i in 0..n {
        let mut s = y[i];
        for k in 0..i {
            s -= l[[i, k]] * y[k];
        }
        y[i] = s / l[[i, i]];
    }
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in (i + 1)..n {
            s -= l[[k, i]] * y[k];
        }
        y[i] = s / l[[i, i]];
    }
    y
}

/// Solves the symmetric positive (semi)definite system `A x = b`, adding a growing multiple of
/// the identity when the Cholesky factorization fails. Returns the solution and the jitter used.
pub(crate) fn spd_solve(a: ArrayView2<f64>, b: ArrayView1<f64>) -> Option<(Array1<f64>, f64)> {
    if let Some(l) = cholesky(a) {
        return Some((cholesky_solve(&l, b), 0.0));
    }
    let scale = max_diag(a).max(f64::MIN_POSITIVE);
    let mut jitter = 1e-13 * scale;
    for _ in 0..12 {
        let mut aj = a.to_owned();
        for i in 0..aj.nrows() {
            aj[[i, i]] += jitter;
        }
        if let Some(l) = cholesky(aj.view()) {
            return Some((cholesky_solve(&l, b), jitter));
        }
        jitter *= 10.0;
    }
    None
}

/// Solves a general square system by LU with partial pivoting; `None` when singular.
pub(crate) fn lu_solve(a: ArrayView2<f64>, b: ArrayView1<f64>) -> Option<Array1<f64>> {
    let n = a.nrows();
    let mut m = a.to_owned();
    let mut x = b.to_owned();
    let scale = m
        .iter()
        .fold(0.0_f64, |s, &v| s.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    for col in 0..n {
        let mut piv = col;
        for r in (col + 1)..n {
            if m[[r, col]].abs() > m[[piv, col]].abs() {
                piv = r;
            }
        }
        if m[[piv, col]].abs() <= 1e-14 * scale {
            return None;
        }
        if piv != col {
            for c in 0..n {
                m.swap([piv, c], [col, c]);
            }
            x.swap(piv, col);
        }
        let p = m[[col, col]];
        for r in (col + 1)..n {
            let f = m[[r, col]] / p;
            if f != 0.0 {
                for c in col..n {
                    m[[r, c]] -= f * m[[col, c]];
                }
                x[r] -= f * x[col];
            }
        }
    }
    for i in (0..n).rev() {
        let mut s = x[i];
        for c in (i + 1)..n {
            s -= m[[i, c]] * x[c];
        }
        x[i] = s / m[[i, i]];
    }
    if x.iter().all(|v| v.is_finite()) {
        Some(x)
    } else {
        None
    }
}

/// Numerically stable softmax.
pub(crate) fn softmax(v: &[f64]) -> Vec<f64> {
    let m = v.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    if m == f64::INFINITY {
        // the limit: the weight shared by the infinite scores
        let top = v.iter().filter(|&&x| x == f64::INFINITY).count() as f64;
        return v
            .iter()
            .map(|&x| if x == f64::INFINITY { 1.0 / top } else { 0.0 })
            .collect();
    }
    if !m.is_finite() {
        return vec![1.0 / v.len().max(1) as f64; v.len()];
    }
    let e: Vec<f64> = v.iter().map(|&x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}
