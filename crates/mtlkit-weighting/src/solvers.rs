//! The small dense solvers the methods need, in pure Rust, each with a convergence report.
//!
//! All of them work on T×T matrices (T = number of tasks, 2..~100), usually the Gramian
//! `G = J Jᵀ` of the per-task gradients:
//!
//! - [`project_simplex`]: Euclidean projection onto the probability simplex (Duchi et al. 2008).
//! - [`min_norm_point`]: the exact min-norm point of the convex hull of the gradients, by
//!   Wolfe's (1976) nearest-point algorithm on the Gramian (finite, active-set).
//! - [`frank_wolfe_min_norm`]: the Frank–Wolfe solver of Sener & Koltun (2018, Algorithm 2), as
//!   implemented by torchjd's `MGDAWeighting` (line search, stop when the step is below
//!   `epsilon`).
//! - [`dual_cone_qp`]: `min_v vᵀ G v  s.t.  v ≥ u`, the dual form of the projection of `Jᵀu`
//!   onto the dual cone of the rows of `J` (Quinton & Rey 2024, Prop. 1), by a Lawson–Hanson
//!   active-set method with Cholesky solves.
//! - [`sym_eig`]: symmetric eigendecomposition by cyclic Jacobi rotations.
//! - [`pinv_sym`]: Moore–Penrose pseudo-inverse of a symmetric matrix through [`sym_eig`].
//! - [`alpha_fair`] / [`nash_bargaining`]: the positive solution of `(G α)_i = α_i^{-1/p}`
//!   (Nash bargaining for `p = 1`, Navon et al. 2022; α-fairness, Ban & Ji 2024), by a damped
//!   Newton method on the strictly convex potential `½ αᵀGα − Σ_i H(α_i)`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WeightingError};
use crate::linalg::{cholesky, cholesky_solve, lu_solve, matvec, max_diag, spd_solve};

/// How a solver ended: iterations used, whether its stopping criterion was met, and its final
/// residual (a scale-free optimality measure documented per solver; 0 for closed forms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SolverReport {
    /// Iterations performed (0 for closed-form methods).
    pub iterations: usize,
    /// Whether the stopping criterion was met (always `true` for closed forms).
    pub converged: bool,
    /// Final residual of the optimality conditions (scale-free; 0 for closed forms).
    pub residual: f64,
}

impl Default for SolverReport {
    fn default() -> Self {
        Self::closed_form()
    }
}

impl SolverReport {
    /// The report of a closed-form computation.
    pub fn closed_form() -> Self {
        Self {
            iterations: 0,
            converged: true,
            residual: 0.0,
        }
    }
}

fn check_square(what: &'static str, g: ArrayView2<f64>) -> Result<usize> {
    let (r, c) = g.dim();
    if r != c || r == 0 {
        return Err(WeightingError::Shape {
            what,
            expected: "a non-empty square matrix".into(),
            got: format!("{r}x{c}"),
        });
    }
    if g.iter().any(|v| !v.is_finite()) {
        return Err(WeightingError::NonFinite { what });
    }
    Ok(r)
}

/// Euclidean projection of `y` onto the probability simplex `{x ≥ 0, Σx = 1}`.
///
/// Sort-based algorithm of Duchi, Shalev-Shwartz, Singer & Chandra (ICML 2008), O(n log n).
/// Non-finite entries are an error.
pub fn project_simplex(y: ArrayView1<f64>) -> Result<Array1<f64>> {
    let n = y.len();
    if n == 0 {
        return Err(WeightingError::Shape {
            what: "simplex projection input",
            expected: "a non-empty vector".into(),
            got: "0".into(),
        });
    }
    if y.iter().any(|v| !v.is_finite()) {
        return Err(WeightingError::NonFinite {
            what: "simplex projection input",
        });
    }
    let mut s: Vec<f64> = y.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    let mut cum = 0.0;
    let mut theta = (s[0] - 1.0) / 1.0;
    for (k, &v) in s.iter().enumerate() {
        cum += v;
        let t = (cum - 1.0) / (k as f64 + 1.0);
        if v - t > 0.0 {
            theta = t;
        } else {
            break;
        }
    }
    Ok(y.mapv(|v| (v - theta).max(0.0)))
}

/// Exact min-norm point of the convex hull of the rows of `J`, given only `G = J Jᵀ`:
/// `argmin_{λ ∈ simplex} λᵀ G λ`.
///
/// Wolfe's nearest-point algorithm (Wolfe 1976, "Finding the nearest point in a polytope"):
/// active-set with affine minimizations over an affinely independent corral, finite
/// termination, robust to singular `G` (colinear, duplicated or zero gradients). `tol` is the
/// relative stopping tolerance of Wolfe's test `‖x‖² − xᵀg_j ≤ tol · max_i ‖g_i‖²` (e.g. 1e-12).
///
/// The report's residual is the KKT violation
/// `max_i max(λᵀGλ − (Gλ)_i, 0)` together with `max_{λ_i>0} |(Gλ)_i − λᵀGλ|`, divided by
/// `max_i G_ii`.
pub fn min_norm_point(
    g: ArrayView2<f64>,
    tol: f64,
    max_iters: usize,
) -> Result<(Array1<f64>, SolverReport)> {
    let n = check_square("gramian", g)?;
    let scale = max_diag(g);
    if scale <= 0.0 {
        // All gradients are zero: every point of the hull is the origin.
        return Ok((
            Array1::from_elem(n, 1.0 / n as f64),
            SolverReport::closed_form(),
        ));
    }
    let gs = g.mapv(|v| v / scale);
    let gs = gs.view();
    let mut j0 = 0;
    for i in 1..n {
        if gs[[i, i]] < gs[[j0, j0]] {
            j0 = i;
        }
    }
    let mut corral: Vec<usize> = vec![j0];
    let mut lambda = Array1::<f64>::zeros(n);
    lambda[j0] = 1.0;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iters {
        iterations += 1;
        let gl = matvec(gs, lambda.view());
        let xx = lambda.dot(&gl);
        let mut j = 0;
        for i in 1..n {
            if gl[i] < gl[j] {
                j = i;
            }
        }
        if xx - gl[j] <= tol {
            converged = true;
            break;
        }
        if corral.contains(&j) {
            // Numerical stall: the best vertex is already in the corral.
            converged = xx - gl[j] <= 1e3 * tol.max(1e-14);
            break;
        }
        corral.push(j);
        // Minor cycles.
        let mut minor = 0;
        loop {
            minor += 1;
            let m = corral.len();
            let mut kkt = Array2::<f64>::zeros((m + 1, m + 1));
            for (a, &ia) in corral.iter().enumerate() {
                for (b, &ib) in corral.iter().enumerate() {
                    kkt[[a, b]] = gs[[ia, ib]];
                }
                kkt[[a, m]] = 1.0;
                kkt[[m, a]] = 1.0;
            }
            let mut rhs = Array1::<f64>::zeros(m + 1);
            rhs[m] = 1.0;
            let Some(sol) = lu_solve(kkt.view(), rhs.view()) else {
                // The corral lost affine independence numerically; drop the newcomer.
                corral.pop();
                break;
            };
            let mu: Vec<f64> = (0..m).map(|a| sol[a]).collect();
            if mu.iter().all(|&v| v > 1e-14) {
                for (a, &ia) in corral.iter().enumerate() {
                    lambda[ia] = mu[a];
                }
                break;
            }
            let mut theta = 1.0_f64;
            let mut arg = 0;
            for (a, &ia) in corral.iter().enumerate() {
                if mu[a] <= 1e-14 {
                    let den = lambda[ia] - mu[a];
                    let t = if den > 0.0 { lambda[ia] / den } else { 0.0 };
                    if t < theta {
                        theta = t;
                        arg = a;
                    }
                }
            }
            for (a, &ia) in corral.iter().enumerate() {
                lambda[ia] += theta * (mu[a] - lambda[ia]);
            }
            let removed = corral[arg];
            lambda[removed] = 0.0;
            corral.retain(|&i| i != removed && lambda[i] > 1e-15);
            for i in 0..n {
                if !corral.contains(&i) {
                    lambda[i] = 0.0;
                }
            }
            if corral.is_empty() {
                corral.push(j);
                lambda[j] = 1.0;
                break;
            }
            let s = lambda.sum();
            lambda.mapv_inplace(|v| v / s);
            if minor > n + 2 {
                break;
            }
        }
    }
    let residual = min_norm_kkt_residual(gs, lambda.view());
    Ok((
        lambda,
        SolverReport {
            iterations,
            converged,
            residual,
        },
    ))
}

/// KKT residual of a simplex point for `min λᵀGλ` (G already scaled to unit max diagonal).
fn min_norm_kkt_residual(g: ArrayView2<f64>, lambda: ArrayView1<f64>) -> f64 {
    let gl = matvec(g, lambda);
    let xx = lambda.dot(&gl);
    let mut r = 0.0_f64;
    for i in 0..lambda.len() {
        r = r.max(xx - gl[i]);
        if lambda[i] > 1e-12 {
            r = r.max((gl[i] - xx).abs());
        }
    }
    r
}

/// Frank–Wolfe min-norm solver of Sener & Koltun (2018, Algorithm 2), exactly as torchjd's
/// `MGDAWeighting`: start at the uniform point, move towards the vertex `argmin (Gα)_t` with
/// the exact line search, stop when the step size `γ < epsilon` or after `max_iters`.
///
/// The report's residual is the relative KKT violation (see [`min_norm_point`]).
pub fn frank_wolfe_min_norm(
    g: ArrayView2<f64>,
    epsilon: f64,
    max_iters: usize,
) -> Result<(Array1<f64>, SolverReport)> {
    let n = check_square("gramian", g)?;
    let scale = max_diag(g);
    if scale <= 0.0 {
        return Ok((
            Array1::from_elem(n, 1.0 / n as f64),
            SolverReport::closed_form(),
        ));
    }
    let gs = g.mapv(|v| v / scale);
    let mut alpha = Array1::from_elem(n, 1.0 / n as f64);
    let mut iterations = 0;
    let mut converged = false;
    for _ in 0..max_iters {
        iterations += 1;
        let ga = gs.dot(&alpha);
        let mut t = 0;
        for i in 1..n {
            if ga[i] < ga[t] {
                t = i;
            }
        }
        let a = ga[t];
        let b = alpha.dot(&ga);
        let c = gs[[t, t]];
        let gamma = if c <= a {
            1.0
        } else if b <= a {
            0.0
        } else {
            (b - a) / (b + c - 2.0 * a)
        };
        if gamma == 1.0 && alpha[t] == 1.0 {
            // already at the vertex the step goes to (one task, identical gradients, one
            // gradient dominating): a fixed point, whatever `epsilon`
            converged = true;
            break;
        }
        alpha.mapv_inplace(|v| (1.0 - gamma) * v);
        alpha[t] += gamma;
        if gamma < epsilon {
            converged = true;
            break;
        }
    }
    let residual = min_norm_kkt_residual(gs.view(), alpha.view());
    Ok((
        alpha,
        SolverReport {
            iterations,
            // a point whose KKT residual is at rounding level is the solution, however the
            // step sizes ran
            converged: converged || residual <= 1e-12,
            residual,
        },
    ))
}

/// Solves `min_v vᵀ G v  s.t.  v ≥ u` for a symmetric positive (semi)definite `G`.
///
/// With `G = J Jᵀ`, `Jᵀv` is the projection of `Jᵀu` onto the dual cone `{x : Jx ≥ 0}` (Quinton
/// & Rey 2024, Prop. 1); this is the QP torchjd solves with quadprog in `project_weights`.
/// Substituting `v = u + w`, it becomes `min ½ wᵀGw + (Gu)ᵀw, w ≥ 0`, solved by the
/// Lawson–Hanson active-set method (Cholesky solves on the free set, with a tiny jitter only
/// if `G` is singular on it). Terminates when the KKT conditions hold within `tol`.
///
/// The report's residual is the KKT violation `max_j (w_j > 0 ? |∇_j| : max(−∇_j, 0))` of
/// `∇ = G v`, divided by `max_i G_ii · (1 + ‖u‖_∞)`.
pub fn dual_cone_qp(
    g: ArrayView2<f64>,
    u: ArrayView1<f64>,
    tol: f64,
    max_iters: usize,
) -> Result<(Array1<f64>, SolverReport)> {
    let n = check_square("gramian", g)?;
    if u.len() != n {
        return Err(WeightingError::Shape {
            what: "QP lower bound",
            expected: format!("{n}"),
            got: format!("{}", u.len()),
        });
    }
    if u.iter().any(|v| !v.is_finite()) {
        return Err(WeightingError::NonFinite {
            what: "QP lower bound",
        });
    }
    let md = max_diag(g);
    if md <= 0.0 {
        return Ok((u.to_owned(), SolverReport::closed_form()));
    }
    let unorm = u.iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
    let scale = md * (1.0 + unorm);
    let c = matvec(g, u);
    let mut w = Array1::<f64>::zeros(n);
    let mut free = vec![false; n];
    let mut iterations = 0;
    let mut converged = false;
    let mut last: Option<(usize, Array1<f64>)> = None;
    while iterations < max_iters {
        iterations += 1;
        let grad = matvec(g, w.view()) + &c;
        // Most violated bound among the fixed (w_j = 0) coordinates.
        let mut j: Option<usize> = None;
        for i in 0..n {
            if !free[i] && grad[i] < -tol * scale && j.is_none_or(|k| grad[i] < grad[k]) {
                j = Some(i);
            }
        }
        let Some(j) = j else {
            converged = true;
            break;
        };
        if let Some((lj, lw)) = &last
            && *lj == j
            && *lw == w
        {
            // No progress possible on this coordinate (numerically degenerate).
            break;
        }
        last = Some((j, w.clone()));
        free[j] = true;
        // Inner loop: solve on the free set, step back to feasibility when needed.
        for _ in 0..(3 * n + 3) {
            let idx: Vec<usize> = (0..n).filter(|&i| free[i]).collect();
            if idx.is_empty() {
                break;
            }
            let m = idx.len();
            let mut a = Array2::<f64>::zeros((m, m));
            let mut b = Array1::<f64>::zeros(m);
            for (p, &ip) in idx.iter().enumerate() {
                b[p] = -c[ip];
                for (q, &iq) in idx.iter().enumerate() {
                    a[[p, q]] = g[[ip, iq]];
                }
            }
            let Some((z, _)) = spd_solve(a.view(), b.view()) else {
                free[j] = false;
                break;
            };
            if z.iter().all(|&v| v > 0.0) {
                for (p, &ip) in idx.iter().enumerate() {
                    w[ip] = z[p];
                }
                break;
            }
            let mut alpha = f64::INFINITY;
            let mut blocking = idx[0];
            for (p, &ip) in idx.iter().enumerate() {
                if z[p] <= 0.0 {
                    let den = w[ip] - z[p];
                    let t = if den > 0.0 { w[ip] / den } else { 0.0 };
                    if t < alpha {
                        alpha = t;
                        blocking = ip;
                    }
                }
            }
            let alpha = alpha.min(1.0);
            for (p, &ip) in idx.iter().enumerate() {
                w[ip] += alpha * (z[p] - w[ip]);
            }
            w[blocking] = 0.0;
            free[blocking] = false;
            for &ip in &idx {
                if w[ip] <= 1e-15 * (1.0 + unorm) {
                    w[ip] = 0.0;
                    free[ip] = false;
                }
            }
        }
    }
    let v = &w + &u;
    let grad = matvec(g, v.view());
    let mut residual = 0.0_f64;
    for i in 0..n {
        let r = if w[i] > 0.0 {
            grad[i].abs()
        } else {
            (-grad[i]).max(0.0)
        };
        residual = residual.max(r / scale);
    }
    Ok((
        v,
        SolverReport {
            iterations,
            converged: converged && residual <= tol.max(1e-12) * 10.0,
            residual,
        },
    ))
}

/// A symmetric eigendecomposition `A = V diag(values) Vᵀ`.
#[derive(Debug, Clone)]
pub struct SymEig {
    /// Eigenvalues in ascending order.
    pub values: Array1<f64>,
    /// Orthonormal eigenvectors, one per column, in the order of `values`.
    pub vectors: Array2<f64>,
    /// Sweeps performed and the final relative off-diagonal norm.
    pub report: SolverReport,
}

/// Symmetric eigendecomposition by the cyclic Jacobi method (Golub & Van Loan, §8.5): sweeps of
/// plane rotations until the off-diagonal Frobenius norm is below `1e-15 ×` the matrix norm
/// (at most 100 sweeps). The input is symmetrized first. Accurate to full precision for the
/// small matrices of this crate.
pub fn sym_eig(a: ArrayView2<f64>) -> Result<SymEig> {
    let n = check_square("symmetric matrix", a)?;
    // the rotations run on `A / max|a_ij|` (no norm under- or overflows for entries near
    // 1e-300 or 1e300); the eigenvalues are scaled back at the end
    let scale = a.iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
    let unit = if scale > 0.0 && scale.is_finite() {
        scale
    } else {
        1.0
    };
    let mut m = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..n {
            m[[i, j]] = 0.5 * (a[[i, j]] / unit + a[[j, i]] / unit);
        }
    }
    let mut v = Array2::<f64>::eye(n);
    let total: f64 = m.iter().map(|x| x * x).sum::<f64>().sqrt();
    let off = |m: &Array2<f64>| -> f64 {
        let mut s = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    s += m[[i, j]] * m[[i, j]];
                }
            }
        }
        s.sqrt()
    };
    let mut sweeps = 0;
    let mut converged = total == 0.0;
    let mut rel = 0.0;
    while !converged && sweeps < 100 {
        sweeps += 1;
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = m[[p, q]];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[[q, q]] - m[[p, p]]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = m[[k, p]];
                    let akq = m[[k, q]];
                    m[[k, p]] = c * akp - s * akq;
                    m[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = m[[p, k]];
                    let aqk = m[[q, k]];
                    m[[p, k]] = c * apk - s * aqk;
                    m[[q, k]] = s * apk + c * aqk;
                }
                m[[p, q]] = 0.0;
                m[[q, p]] = 0.0;
                for k in 0..n {
                    let vkp = v[[k, p]];
                    let vkq = v[[k, q]];
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
        rel = off(&m) / total;
        converged = rel <= 1e-15;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[[i, i]].total_cmp(&m[[j, j]]));
    let values = Array1::from_iter(order.iter().map(|&i| m[[i, i]] * unit));
    let mut vectors = Array2::<f64>::zeros((n, n));
    for (c, &i) in order.iter().enumerate() {
        vectors.column_mut(c).assign(&v.column(i));
    }
    Ok(SymEig {
        values,
        vectors,
        report: SolverReport {
            iterations: sweeps,
            converged,
            residual: rel,
        },
    })
}

/// Moore–Penrose pseudo-inverse of a symmetric matrix, through [`sym_eig`]; eigenvalues with
/// `|λ| ≤ n · ε · max|λ|` are treated as zero (the default cut-off of `torch.linalg.pinv`).
pub fn pinv_sym(a: ArrayView2<f64>) -> Result<(Array2<f64>, SolverReport)> {
    let eig = sym_eig(a)?;
    let n = eig.values.len();
    let lmax = eig.values.iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
    let cut = n as f64 * f64::EPSILON * lmax;
    let mut p = Array2::<f64>::zeros((n, n));
    for k in 0..n {
        let l = eig.values[k];
        if l.abs() > cut && lmax > 0.0 {
            let vk = eig.vectors.column(k);
            for i in 0..n {
                for j in 0..n {
                    p[[i, j]] += vk[i] * vk[j] / l;
                }
            }
        }
    }
    Ok((p, eig.report))
}

/// Positive solution of the α-fair system `(G α)_i = α_i^{-1/p}` for all `i` (`p > 0`).
///
/// It is the unique minimizer of the strictly convex potential
/// `½ αᵀGα − Σ_i H(α_i)` over `α > 0`, with `H(a) = ln a` for `p = 1` and
/// `H(a) = a^{1−1/p} / (1 − 1/p)` otherwise. Solved by Newton's method with a fraction-to-the-
/// boundary rule and Armijo backtracking; `init` (if positive and finite) warm-starts it.
/// A solution exists when no non-negative combination of the gradients is orthogonal to all of
/// them except 0 (e.g. `G` positive definite); callers regularize `G` with a tiny multiple of
/// the identity to guarantee it.
///
/// The report's residual is `max_i |α_i^{1/p} (Gα)_i − 1|` (scale-free); the stopping test is
/// `residual ≤ tol`.
pub fn alpha_fair(
    g: ArrayView2<f64>,
    p: f64,
    init: Option<ArrayView1<f64>>,
    tol: f64,
    max_iters: usize,
) -> Result<(Array1<f64>, SolverReport)> {
    let n = check_square("gramian", g)?;
    if !(p.is_finite() && p > 0.0) {
        return Err(WeightingError::InvalidParameter {
            name: "alpha",
            value: format!("{p}"),
            reason: "must be finite and > 0",
        });
    }
    let inv_p = 1.0 / p;
    let q = 1.0 - inv_p;
    let is_log = q.abs() < 1e-12;
    // H(a + s) − H(a), computed without cancellation.
    let dh = |a: f64, s: f64| -> f64 {
        let x = s / a;
        if is_log {
            x.ln_1p()
        } else {
            a.powf(q) * (q * x.ln_1p()).exp_m1() / q
        }
    };
    // Potential change along `t·dir`, computed term by term (the potential itself can be
    // huge while its changes are tiny).
    let delta =
        |a: &Array1<f64>, ga: &Array1<f64>, dir: &Array1<f64>, gd: &Array1<f64>, t: f64| -> f64 {
            t * dir.dot(ga) + 0.5 * t * t * dir.dot(gd)
                - (0..n).map(|i| dh(a[i], t * dir[i])).sum::<f64>()
        };
    let residual_of = |a: &Array1<f64>| -> f64 {
        let ga = g.dot(a);
        (0..n).fold(0.0_f64, |m, i| {
            m.max((a[i].powf(inv_p) * ga[i] - 1.0).abs())
        })
    };
    let mut alpha = match init {
        Some(a) if a.len() == n && a.iter().all(|&x| x.is_finite() && x > 0.0) => a.to_owned(),
        _ => {
            // The solution for a diagonal G, then the best common rescaling of it.
            let e = p / (p + 1.0);
            let mut a = Array1::from_iter((0..n).map(|i| {
                let d = g[[i, i]];
                if d > 0.0 { d.powf(-e) } else { 1.0 }
            }));
            let q = a.dot(&g.dot(&a));
            if q > 0.0 {
                // Minimize the potential along the ray c·a: c^{1+1/p} q = Σ a_i^{1-1/p}.
                let m: f64 = a.iter().map(|&x| x.powf(1.0 - inv_p)).sum();
                let c = (m / q).powf(e);
                a.mapv_inplace(|x| x * c);
            }
            a
        }
    };
    let mut iterations = 0;
    let mut residual = residual_of(&alpha);
    let mut converged = residual <= tol;
    while !converged && iterations < max_iters {
        iterations += 1;
        let ga = g.dot(&alpha);
        let grad = Array1::from_iter((0..n).map(|i| ga[i] - alpha[i].powf(-inv_p)));
        let mut h = g.to_owned();
        for i in 0..n {
            h[[i, i]] += inv_p * alpha[i].powf(-inv_p - 1.0);
        }
        let dir = match cholesky(h.view()) {
            Some(l) => -cholesky_solve(&l, grad.view()),
            None => match spd_solve(h.view(), grad.view()) {
                Some((x, _)) => -x,
                None => -grad.clone(),
            },
        };
        let mut t = 1.0_f64;
        for i in 0..n {
            if dir[i] < 0.0 {
                t = t.min(0.99 * alpha[i] / -dir[i]);
            }
        }
        let gd = g.dot(&dir);
        let slope = grad.dot(&dir);
        let mut accepted = false;
        for _ in 0..60 {
            let cand = &alpha + &(t * &dir);
            if cand.iter().all(|&x| x > 0.0 && x.is_finite()) {
                let df = delta(&alpha, &ga, &dir, &gd, t);
                if df <= 1e-4 * t * slope {
                    alpha = cand;
                    accepted = true;
                    break;
                }
            }
            t *= 0.5;
        }
        residual = residual_of(&alpha);
        converged = residual <= tol;
        if !accepted {
            break;
        }
    }
    Ok((
        alpha,
        SolverReport {
            iterations,
            converged,
            residual,
        },
    ))
}

/// Nash bargaining system of Nash-MTL (Navon et al. 2022, Eq. 4): the positive `α` with
/// `α_i (G α)_i = 1` for all `i`, i.e. [`alpha_fair`] with `p = 1`.
pub fn nash_bargaining(
    g: ArrayView2<f64>,
    init: Option<ArrayView1<f64>>,
    tol: f64,
    max_iters: usize,
) -> Result<(Array1<f64>, SolverReport)> {
    alpha_fair(g, 1.0, init, tol, max_iters)
}
