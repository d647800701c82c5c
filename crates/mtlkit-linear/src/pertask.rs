//! The general formulation: one design per task, a loss per task, per-task intercepts.
//!
//! ```text
//! P(W, b) = Σ_t c_t Σ_i s_ti ℓ_t(y_ti, x_tiᵀ w_t + b_t) + λ₁ Σ_j ‖W_j‖₂ + (λ₂/2) ‖W‖²_F
//! ```
//!
//! with `ℓ = ½(y − z)²` ([`Loss::Squared`]) or `ℓ = log(1 + eᶻ) − y z`, `y ∈ {0, 1}`
//! ([`Loss::Logistic`]), task weights `c_t` from the [`LossScaling`] and sample weights `s_ti`
//! (rescaled to sum to `n_t` in each task; all 1 without weights).
//!
//! Solver: cyclic block coordinate descent over the rows `W_j`. A row update minimises the
//! second-order model of the data term with each task's own curvature `h_t` (exact for the
//! squared loss; the upper bound `c_t Σ_i s_ti x_tij² / 4` for the logistic loss, a
//! majorise-minimise step), plus the penalty, exactly: with `a_t = h_t + λ₂` and
//! `v_t = h_t w_t − g_t` the new row is `u_t = v_t ν / (a_t ν + λ₁)`, where `ν = ‖u‖` is the root
//! of `Σ_t v_t² / (a_t ν + λ₁)² = 1` (found by Newton's method from a lower bound; zero when
//! `‖v‖ <= λ₁`). A uniform step over the tasks (one `h` for all) would need many more epochs
//! when the tasks' scales differ.
//!
//! Squared tasks get their intercept by (weighted) centring; logistic tasks by a damped Newton
//! step on `b_t` after every epoch, polished to optimality before each duality-gap check, so
//! the dual point satisfies the intercept's constraint and the gap is a certificate.
//! Squared tasks with `n_t >= 2 d` run in Gram mode (`X_tᵀX_t`, shared between tasks with the
//! same design).

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::linalg;

/// The loss of one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Regression: `½ (y − z)²`.
    #[default]
    Squared,
    /// Binary classification: `log(1 + eᶻ) − y z` with `y ∈ {0, 1}` (labels `{−1, 1}` are
    /// mapped to `{0, 1}`); `P(y = 1) = σ(z)`.
    Logistic,
}

impl Loss {
    /// `squared` or `logistic`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Squared => "squared",
            Self::Logistic => "logistic",
        }
    }
}

/// How each task's summed loss is weighted (`c_t`), with `n_t` the task's number of labelled
/// samples and `N = Σ_t n_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossScaling {
    /// `c_t = 1/n_t`: each task's mean loss (RMTL's convention), `Σ_t 1/(2n_t) ‖y_t − X_t w_t‖²`
    /// for squared tasks. With one design for all tasks and no missing target this is exactly
    /// scikit-learn's `1/(2n) ‖Y − XW‖²_F`, hence the default.
    #[default]
    TaskMean,
    /// `c_t = 1/N`: the mean over all samples of all tasks, `1/(2N) Σ_t ‖y_t − X_t w_t‖²`
    /// (scikit-learn's `1/(2n)` applied to the stacked problem).
    AllSamples,
    /// `c_t = 1`: MALSAR's unnormalised `Σ_t ½ ‖y_t − X_t w_t‖²`.
    Sum,
}

impl LossScaling {
    /// `c_t` for a task of `n_t` samples out of `n_total`.
    pub fn factor(self, n_t: usize, n_total: usize) -> f64 {
        match self {
            Self::TaskMean => 1.0 / n_t as f64,
            Self::AllSamples => 1.0 / n_total as f64,
            Self::Sum => 1.0,
        }
    }

    /// `task-mean`, `all-samples` or `sum`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TaskMean => "task-mean",
            Self::AllSamples => "all-samples",
            Self::Sum => "sum",
        }
    }
}

/// One task as the solver sees it.
pub(crate) struct Task {
    /// Design, `n × d` column-major: for squared tasks centred and row-scaled by `√s`; for
    /// logistic tasks as given. Shared between tasks with the same prepared design.
    pub x: Arc<Vec<f64>>,
    /// Squared: `√s (y − ȳ)`; logistic: labels in `{0, 1}`.
    pub y: Vec<f64>,
    /// Logistic: sample weights (rescaled); empty otherwise.
    pub s: Vec<f64>,
    /// Samples.
    pub n: usize,
    /// Loss.
    pub loss: Loss,
    /// Task weight `c_t`.
    pub c: f64,
    /// Logistic: fit an intercept.
    pub intercept: bool,
}

/// Solver options.
pub(crate) struct Options {
    pub max_iter: usize,
    pub tol: f64,
    pub random: Option<u64>,
    pub anderson: bool,
}

/// Result: `w` row-major `d × T`, logistic intercepts `b` (0 for squared tasks), final gap (in
/// objective units), the tolerance it was held to, epochs, convergence.
pub(crate) struct Solution {
    pub w: Vec<f64>,
    pub b: Vec<f64>,
    pub gap: f64,
    pub tol_abs: f64,
    pub n_iter: usize,
    pub converged: bool,
}

/// Per-task CD state.
enum State {
    /// Squared, residual `r = y − X w`.
    Residual { r: Vec<f64> },
    /// Squared, Gram mode: `G = XᵀX` (shared), `Xᵀy`, `H = Xᵀr`, `‖y‖²`.
    Gram {
        g: Arc<Vec<f64>>,
        xty: Vec<f64>,
        h: Vec<f64>,
        y2: f64,
    },
    /// Logistic: linear predictor `z = X w + b` and `p = σ(z)`.
    Logit { z: Vec<f64>, p: Vec<f64> },
}

/// `σ(z) = 1 / (1 + e⁻ᶻ)` without overflow.
#[inline]
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + eᶻ)` without overflow.
#[inline]
pub(crate) fn log1pexp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// `p ln p + (1 − p) ln(1 − p)` (0 at the ends).
#[inline]
fn neg_entropy(p: f64) -> f64 {
    let term = |q: f64| if q > 0.0 { q * q.ln() } else { 0.0 };
    term(p) + term(1.0 - p)
}

/// `argmin_u Σ_t (a_t/2) u_t² − v_t u_t + l1 ‖u‖` into `out` (see the module docs).
pub(crate) fn row_solve(v: &[f64], a: &[f64], l1: f64, out: &mut [f64]) {
    let vn2: f64 = v.iter().map(|x| x * x).sum();
    if vn2.sqrt() <= l1 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    if l1 == 0.0 {
        for ((o, &vt), &at) in out.iter_mut().zip(v).zip(a) {
            *o = if at > 0.0 { vt / at } else { 0.0 };
        }
        return;
    }
    // ψ(ν) = Σ v²/(aν + l1)² − 1 is convex and decreasing: Newton from a point left of the
    // root increases monotonically to it. With a_max the largest curvature among tasks with
    // v_t ≠ 0, (‖v‖ − l1)/a_max is such a point.
    let a_max = v
        .iter()
        .zip(a)
        .filter(|(vt, _)| **vt != 0.0)
        .map(|(_, &at)| at)
        .fold(0.0f64, f64::max);
    let mut nu = (vn2.sqrt() - l1) / a_max;
    if !nu.is_finite() {
        nu = 0.0;
    }
    for _ in 0..100 {
        let mut psi = -1.0;
        let mut dpsi = 0.0;
        for (&vt, &at) in v.iter().zip(a) {
            if vt != 0.0 {
                let den = at * nu + l1;
                let q = vt * vt / (den * den);
                psi += q;
                dpsi -= 2.0 * q * at / den;
            }
        }
        if psi <= 0.0 || dpsi >= 0.0 {
            break;
        }
        let step = psi / -dpsi;
        nu += step;
        if step <= 1e-15 * nu {
            break;
        }
    }
    for ((o, &vt), &at) in out.iter_mut().zip(v).zip(a) {
        *o = vt * nu / (at * nu + l1);
    }
}

/// Solve from `w0` (row-major `d × T`) and `b0`.
pub(crate) fn solve(
    tasks: &[Task],
    d: usize,
    l1: f64,
    l2: f64,
    opts: &Options,
    w0: Option<&[f64]>,
    b0: Option<&[f64]>,
) -> Solution {
    let nt = tasks.len();
    let mut w = w0.map_or_else(|| vec![0.0; d * nt], <[f64]>::to_vec);
    let mut b = b0.map_or_else(|| vec![0.0; nt], <[f64]>::to_vec);
    for (bt, task) in b.iter_mut().zip(tasks) {
        if task.loss == Loss::Squared || !task.intercept {
            *bt = 0.0;
        }
    }
    // curvature per (task, feature): c ‖X_j‖² (squared), c Σ s x² / 4 (logistic)
    let mut curv = vec![0.0; nt * d];
    let mut gram_cache: Vec<(*const Vec<f64>, Arc<Vec<f64>>)> = Vec::new();
    let mut states: Vec<State> = Vec::with_capacity(nt);
    for (t, task) in tasks.iter().enumerate() {
        let n = task.n;
        let x = &task.x;
        for j in 0..d {
            let col = &x[j * n..(j + 1) * n];
            curv[t * d + j] = match task.loss {
                Loss::Squared => task.c * linalg::dot(col, col),
                Loss::Logistic => {
                    task.c * col.iter().zip(&task.s).map(|(v, s)| s * v * v).sum::<f64>() / 4.0
                }
            };
        }
        let mut state = match task.loss {
            Loss::Squared if n >= 2 * d => {
                let key = Arc::as_ptr(x);
                let g = match gram_cache.iter().find(|(k, _)| *k == key) {
                    Some((_, g)) => Arc::clone(g),
                    None => {
                        let mut g = vec![0.0; d * d];
                        linalg::gram(x, n, d, &mut g, 1);
                        let g = Arc::new(g);
                        gram_cache.push((key, Arc::clone(&g)));
                        g
                    }
                };
                let mut xty = vec![0.0; d];
                linalg::xt_r(x, n, d, &task.y, 1, &mut xty, 1);
                State::Gram {
                    g,
                    xty,
                    h: vec![0.0; d],
                    y2: task.y.iter().map(|v| v * v).sum(),
                }
            }
            Loss::Squared => State::Residual { r: vec![0.0; n] },
            Loss::Logistic => State::Logit {
                z: vec![0.0; n],
                p: vec![0.0; n],
            },
        };
        // residual, H or (z, p) at the starting point
        rebuild(task, &mut state, &w, t, nt, d, b[t]);
        states.push(state);
    }
    // tolerance: tol × (twice the data term at W = 0, b = 0 for squared tasks; c Σ s 2 ln 2 for
    // logistic ones): scikit-learn's `tol ‖Y‖²/n` in the shared case
    let tol_abs = opts.tol
        * tasks
            .iter()
            .map(|task| match task.loss {
                Loss::Squared => task.c * task.y.iter().map(|v| v * v).sum::<f64>(),
                Loss::Logistic => {
                    task.c * task.s.iter().sum::<f64>() * 2.0 * std::f64::consts::LN_2
                }
            })
            .sum::<f64>();
    let mut rng = opts.random.map(StdRng::seed_from_u64);
    let all_gram = states.iter().all(|s| matches!(s, State::Gram { .. }));
    let gap_every = if all_gram { 1 } else { 5 };
    let (mut g, mut v, mut a, mut u) = (vec![0.0; nt], vec![0.0; nt], vec![0.0; nt], vec![0.0; nt]);
    let mut gap = f64::INFINITY;
    let mut hist: Vec<Vec<f64>> = Vec::new();
    let mut epochs = 0;
    let mut converged = false;
    while epochs < opts.max_iter {
        // check first (a warm start may already be optimal)
        if epochs % gap_every == 0 {
            polish_intercepts(tasks, &mut states, &mut b);
            gap = duality_gap(tasks, &states, &w, &b, d, l1, l2);
            if gap <= tol_abs {
                converged = true;
                break;
            }
        }
        epochs += 1;
        for f in 0..d {
            let j = match rng.as_mut() {
                Some(r) => r.random_range(0..d),
                None => f,
            };
            let wj = &mut w[j * nt..(j + 1) * nt];
            let mut any_logit = false;
            for t in 0..nt {
                let task = &tasks[t];
                let n = task.n;
                let col = &task.x[j * n..(j + 1) * n];
                let (gt, ht) = match &states[t] {
                    State::Residual { r } => (-task.c * linalg::dot(col, r), curv[t * d + j]),
                    State::Gram { h, .. } => (-task.c * h[j], curv[t * d + j]),
                    State::Logit { p, .. } => {
                        // gradient and the exact diagonal Hessian c Σ s x² p(1 − p) (a Newton
                        // step, checked by the line search below), floored by a small fraction
                        // of the global bound c Σ s x² / 4
                        let (mut gs, mut hs) = (0.0, 0.0);
                        for (((x, p), y), s) in col.iter().zip(p).zip(&task.y).zip(&task.s) {
                            gs += s * x * (p - y);
                            hs += s * x * x * p * (1.0 - p);
                        }
                        any_logit = true;
                        (task.c * gs, (task.c * hs).max(1e-6 * curv[t * d + j]))
                    }
                };
                g[t] = gt;
                v[t] = ht * wj[t] - gt;
                a[t] = ht + l2;
            }
            row_solve(&v, &a, l1, &mut u);
            let mut eta = 1.0;
            if any_logit && u.iter().zip(wj.iter()).any(|(a, b)| a != b) {
                eta = line_search(tasks, &states, j, wj, &u, &g, &a, l1, l2);
                if eta == 0.0 {
                    // no verified decrease (e.g. at rounding level): the majorise-minimise step
                    // with the global curvature bound, a descent step by construction
                    for t in 0..nt {
                        if tasks[t].loss == Loss::Logistic {
                            let hb = curv[t * d + j];
                            v[t] = hb * wj[t] - g[t];
                            a[t] = hb + l2;
                        }
                    }
                    row_solve(&v, &a, l1, &mut u);
                    eta = 1.0;
                }
            }
            for t in 0..nt {
                let target = if eta == 1.0 {
                    u[t]
                } else {
                    wj[t] + eta * (u[t] - wj[t])
                };
                let delta = target - wj[t];
                if delta == 0.0 {
                    continue;
                }
                wj[t] = target;
                let task = &tasks[t];
                let n = task.n;
                let col = &task.x[j * n..(j + 1) * n];
                match &mut states[t] {
                    State::Residual { r } => linalg::axpy(-delta, col, r),
                    State::Gram { g, h, .. } => linalg::axpy(-delta, &g[j * d..(j + 1) * d], h),
                    State::Logit { z, p } => {
                        linalg::axpy(delta, col, z);
                        p.iter_mut()
                            .zip(z.iter())
                            .for_each(|(p, &z)| *p = sigmoid(z));
                    }
                }
            }
        }
        for (t, task) in tasks.iter().enumerate() {
            if task.loss == Loss::Logistic
                && task.intercept
                && let State::Logit { z, p } = &mut states[t]
            {
                newton_intercept(task, z, p, &mut b[t]);
            }
        }
        if opts.anderson {
            // extrapolate the last iterates of (W, b); keep only if the objective decreases
            let mut snap = w.clone();
            snap.extend_from_slice(&b);
            hist.push(snap);
            if hist.len() > ANDERSON_K {
                if let Some(acc) = crate::solver::ws::extrapolate(&hist) {
                    let before = primal(tasks, &states, &w, d, l1, l2);
                    let (old_w, old_b) = (w.clone(), b.clone());
                    w.copy_from_slice(&acc[..d * nt]);
                    b.copy_from_slice(&acc[d * nt..]);
                    for (t, task) in tasks.iter().enumerate() {
                        rebuild(task, &mut states[t], &w, t, nt, d, b[t]);
                    }
                    if primal(tasks, &states, &w, d, l1, l2) >= before {
                        w = old_w;
                        b = old_b;
                        for (t, task) in tasks.iter().enumerate() {
                            rebuild(task, &mut states[t], &w, t, nt, d, b[t]);
                        }
                    }
                }
                hist.clear();
            }
        }
    }
    if !converged {
        polish_intercepts(tasks, &mut states, &mut b);
        gap = duality_gap(tasks, &states, &w, &b, d, l1, l2);
        converged = gap <= tol_abs;
    }
    Solution {
        w,
        b,
        gap,
        tol_abs,
        n_iter: epochs,
        converged,
    }
}

/// Recompute task `t`'s state at coefficients `w` (row-major `d × T`) and intercept `bt`.
fn rebuild(task: &Task, state: &mut State, w: &[f64], t: usize, nt: usize, d: usize, bt: f64) {
    let n = task.n;
    let x = &task.x;
    match state {
        State::Residual { r } => {
            r.copy_from_slice(&task.y);
            for j in 0..d {
                let wj = w[j * nt + t];
                if wj != 0.0 {
                    linalg::axpy(-wj, &x[j * n..(j + 1) * n], r);
                }
            }
        }
        State::Gram { g, xty, h, .. } => {
            h.copy_from_slice(xty);
            for j in 0..d {
                let wj = w[j * nt + t];
                if wj != 0.0 {
                    linalg::axpy(-wj, &g[j * d..(j + 1) * d], h);
                }
            }
        }
        State::Logit { z, p } => {
            z.iter_mut().for_each(|v| *v = bt);
            for j in 0..d {
                let wj = w[j * nt + t];
                if wj != 0.0 {
                    linalg::axpy(wj, &x[j * n..(j + 1) * n], z);
                }
            }
            p.iter_mut()
                .zip(z.iter())
                .for_each(|(p, &z)| *p = sigmoid(z));
        }
    }
}

/// `P(W, b)` from the states.
fn primal(tasks: &[Task], states: &[State], w: &[f64], d: usize, l1: f64, l2: f64) -> f64 {
    let nt = tasks.len();
    let mut total = 0.0;
    for (t, (task, st)) in tasks.iter().zip(states).enumerate() {
        total += task.c
            * match st {
                State::Residual { r } => 0.5 * r.iter().map(|v| v * v).sum::<f64>(),
                State::Gram { xty, h, y2, .. } => {
                    let (mut wxty, mut wh) = (0.0, 0.0);
                    for j in 0..d {
                        let wj = w[j * nt + t];
                        wxty += wj * xty[j];
                        wh += wj * h[j];
                    }
                    0.5 * (y2 - wxty - wh).max(0.0)
                }
                State::Logit { z, .. } => z
                    .iter()
                    .zip(&task.y)
                    .zip(&task.s)
                    .map(|((&z, &y), &s)| s * (log1pexp(z) - y * z))
                    .sum::<f64>(),
            };
    }
    for j in 0..d {
        let wn2: f64 = w[j * nt..(j + 1) * nt].iter().map(|v| v * v).sum();
        total += l1 * wn2.sqrt() + 0.5 * l2 * wn2;
    }
    total
}

/// Step `η ∈ (0, 1]` along `u − w_j` for row `j` (Armijo backtracking on the true objective,
/// from the Newton model's predicted decrease); 0 if no decrease is found.
#[allow(clippy::too_many_arguments)]
fn line_search(
    tasks: &[Task],
    states: &[State],
    j: usize,
    wj: &[f64],
    u: &[f64],
    g: &[f64],
    a: &[f64],
    l1: f64,
    l2: f64,
) -> f64 {
    let pen = |row: &dyn Fn(usize) -> f64| -> f64 {
        let n2: f64 = (0..wj.len()).map(|t| row(t) * row(t)).sum();
        l1 * n2.sqrt() + 0.5 * l2 * n2
    };
    let pen0 = pen(&|t| wj[t]);
    // predicted decrease of the model at η = 1 (negative)
    let pred: f64 =
        (0..wj.len()).map(|t| g[t] * (u[t] - wj[t])).sum::<f64>() + pen(&|t| u[t]) - pen0;
    if pred >= 0.0 {
        return 0.0;
    }
    let mut eta = 1.0;
    for _ in 0..30 {
        let mut change = pen(&|t| wj[t] + eta * (u[t] - wj[t])) - pen0;
        for (t, (task, st)) in tasks.iter().zip(states).enumerate() {
            let dt = eta * (u[t] - wj[t]);
            if dt == 0.0 {
                continue;
            }
            let n = task.n;
            let col = &task.x[j * n..(j + 1) * n];
            change += match st {
                // log(1 + e^(z+Δ)) − log(1 + e^z) = log1p(p (e^Δ − 1)), p = σ(z): one exp and one
                // log per sample, accurate for small Δ
                State::Logit { p, .. } => {
                    task.c
                        * col
                            .iter()
                            .zip(p)
                            .zip(&task.y)
                            .zip(&task.s)
                            .map(|(((x, &pi), y), s)| {
                                let dz = dt * x;
                                s * ((pi * dz.exp_m1()).ln_1p() - y * dz)
                            })
                            .sum::<f64>()
                }
                // squared tasks: their model is exact (a_t includes the ridge weight, counted in
                // `pen`)
                _ => g[t] * dt + 0.5 * (a[t] - l2) * dt * dt,
            };
        }
        if change <= 1e-4 * eta * pred {
            return eta;
        }
        eta *= 0.5;
    }
    0.0
}

/// Anderson memory (as the shared-design solver).
const ANDERSON_K: usize = 5;

/// One safeguarded Newton step on a logistic task's intercept (halved until the gradient's
/// magnitude decreases: the 1-D loss is convex); returns the gradient's magnitude before it.
fn newton_intercept(task: &Task, z: &mut [f64], p: &mut [f64], b: &mut f64) -> f64 {
    let (mut gb, mut hb) = (0.0, 0.0);
    for ((&pi, &yi), &si) in p.iter().zip(&task.y).zip(&task.s) {
        gb += si * (pi - yi);
        hb += si * pi * (1.0 - pi);
    }
    if gb == 0.0 {
        return 0.0;
    }
    let grad_at = |shift: f64| -> f64 {
        z.iter()
            .zip(&task.y)
            .zip(&task.s)
            .map(|((&zi, &yi), &si)| si * (sigmoid(zi + shift) - yi))
            .sum()
    };
    let mut step = -gb / hb.max(1e-12 * task.s.iter().sum::<f64>());
    let mut accepted = false;
    for _ in 0..40 {
        if !step.is_finite() {
            break;
        }
        if grad_at(step).abs() < gb.abs() {
            accepted = true;
            break;
        }
        step *= 0.5;
    }
    if !accepted {
        return gb.abs();
    }
    *b += step;
    for (zi, pi) in z.iter_mut().zip(p.iter_mut()) {
        *zi += step;
        *pi = sigmoid(*zi);
    }
    gb.abs()
}

/// Newton on every logistic intercept until its gradient vanishes (up to rounding).
fn polish_intercepts(tasks: &[Task], states: &mut [State], b: &mut [f64]) {
    for (t, task) in tasks.iter().enumerate() {
        if task.loss != Loss::Logistic || !task.intercept {
            continue;
        }
        if let State::Logit { z, p } = &mut states[t] {
            let scale: f64 = task.s.iter().sum();
            for _ in 0..30 {
                let before = b[t];
                let gb = newton_intercept(task, z, p, &mut b[t]);
                if gb <= 1e-13 * scale || b[t] == before {
                    break;
                }
            }
        }
    }
}

/// `P(W, b) − D(κ U)` with `U` the data term's gradient at `XW + b` (the dual point),
/// scaled by `κ = min(1, λ₁ / max_j ‖(XᵀU)_j‖)` when `λ₂ = 0` so that it is feasible.
///
/// With logistic intercepts the dual constraint `Σ_i u_ti = 0` holds only as far as the
/// intercepts were polished (their gradient `1e-13` relative); the term `κ b_t Σ_i u_ti` it
/// leaves is removed, so the value is the sum of the Fenchel–Young gaps of the loss and the
/// penalty, never negative.
fn duality_gap(
    tasks: &[Task],
    states: &[State],
    w: &[f64],
    b: &[f64],
    d: usize,
    l1: f64,
    l2: f64,
) -> f64 {
    let nt = tasks.len();
    // G = XᵀU, d × T row-major
    let mut gm = vec![0.0; d * nt];
    let mut col_buf = vec![0.0; d];
    for (t, (task, st)) in tasks.iter().zip(states).enumerate() {
        let n = task.n;
        match st {
            State::Residual { r } => {
                linalg::xt_r(&task.x, n, d, r, 1, &mut col_buf, 1);
                for j in 0..d {
                    gm[j * nt + t] = -task.c * col_buf[j];
                }
            }
            State::Gram { h, .. } => {
                for j in 0..d {
                    gm[j * nt + t] = -task.c * h[j];
                }
            }
            State::Logit { p, .. } => {
                let u: Vec<f64> = p
                    .iter()
                    .zip(&task.y)
                    .zip(&task.s)
                    .map(|((p, y), s)| s * (p - y))
                    .collect();
                linalg::xt_r(&task.x, n, d, &u, 1, &mut col_buf, 1);
                for j in 0..d {
                    gm[j * nt + t] = task.c * col_buf[j];
                }
            }
        }
    }
    let row_norm = |j: usize, m: &[f64]| -> f64 {
        m[j * nt..(j + 1) * nt]
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
    };
    let kappa = if l2 > 0.0 {
        1.0
    } else {
        let gmax = (0..d).map(|j| row_norm(j, &gm)).fold(0.0f64, f64::max);
        if gmax > l1 { l1 / gmax } else { 1.0 }
    };
    // Σ_t F_t + F_t*(κ u_t)
    let mut fit = 0.0;
    for (t, (task, st)) in tasks.iter().zip(states).enumerate() {
        let c = task.c;
        match st {
            State::Residual { r } => {
                let r2: f64 = r.iter().map(|v| v * v).sum();
                let ry: f64 = r.iter().zip(&task.y).map(|(a, b)| a * b).sum();
                fit += 0.5 * c * r2 + 0.5 * kappa * kappa * c * r2 - kappa * c * ry;
            }
            State::Gram { xty, h, y2, .. } => {
                let (mut wxty, mut wh) = (0.0, 0.0);
                for j in 0..d {
                    let wj = w[j * nt + t];
                    wxty += wj * xty[j];
                    wh += wj * h[j];
                }
                let r2 = (y2 - wxty - wh).max(0.0);
                let ry = y2 - wxty;
                fit += 0.5 * c * r2 + 0.5 * kappa * kappa * c * r2 - kappa * c * ry;
            }
            State::Logit { z, p } => {
                let mut sum_u = 0.0;
                for (((&zi, &pi), &yi), &si) in z.iter().zip(p).zip(&task.y).zip(&task.s) {
                    let q = kappa * pi + (1.0 - kappa) * yi;
                    fit += c * si * (log1pexp(zi) - yi * zi + neg_entropy(q));
                    sum_u += c * si * (pi - yi);
                }
                fit -= kappa * b[t] * sum_u;
            }
        }
    }
    // Ω(W) + Ω*(−κ G)
    let mut pen = 0.0;
    for j in 0..d {
        let wn2: f64 = w[j * nt..(j + 1) * nt].iter().map(|v| v * v).sum();
        pen += l1 * wn2.sqrt() + 0.5 * l2 * wn2;
        if l2 > 0.0 {
            let excess = (kappa * row_norm(j, &gm) - l1).max(0.0);
            pen += excess * excess / (2.0 * l2);
        }
    }
    fit + pen
}

/// Tasks prepared from a dataset, with what turns the solution back into a model.
pub(crate) struct Prepared {
    pub tasks: Vec<Task>,
    /// Squared tasks: `x̄_t` (zeros without intercept); logistic tasks: zeros.
    pub x_offsets: Vec<Vec<f64>>,
    /// Squared tasks: `ȳ_t`; logistic tasks: 0.
    pub y_offsets: Vec<f64>,
    /// Logistic tasks: the labels standing for 0 and 1.
    pub classes: Vec<Option<[f64; 2]>>,
}

impl Prepared {
    /// The model's intercepts for coefficients `coef` (`d × T`): for squared tasks from the
    /// centring offsets, `ȳ_t − x̄_tᵀ w_t`; for logistic tasks the fitted `b[t]`.
    pub(crate) fn intercepts(
        &self,
        coef: ndarray::ArrayView2<'_, f64>,
        b: &[f64],
    ) -> ndarray::Array1<f64> {
        ndarray::Array1::from_shape_fn(self.tasks.len(), |t| match self.tasks[t].loss {
            Loss::Squared => {
                self.y_offsets[t]
                    - self.x_offsets[t]
                        .iter()
                        .zip(coef.column(t))
                        .map(|(a, c)| a * c)
                        .sum::<f64>()
            }
            Loss::Logistic => b[t],
        })
    }
}

/// `(labels mapped to {0, 1}, [label of 0, label of 1])`.
fn binary_labels(y: &[f64], task: &str) -> crate::Result<(Vec<f64>, [f64; 2])> {
    let mut seen: Vec<f64> = Vec::new();
    for &v in y {
        if !seen.contains(&v) {
            seen.push(v);
            if seen.len() > 2 {
                break;
            }
        }
    }
    seen.sort_by(f64::total_cmp);
    let classes = match seen.as_slice() {
        [a, b] if (*a == 0.0 || *a == -1.0) && *b == 1.0 => [*a, *b],
        _ => {
            let shown: Vec<String> = seen.iter().map(|v| v.to_string()).collect();
            let found = if seen.len() == 1 {
                format!("only the label {}", shown[0])
            } else {
                format!(
                    "labels {}{}",
                    shown.join(", "),
                    if seen.len() > 2 { ", …" } else { "" }
                )
            };
            return Err(crate::LinearError::InvalidLabels {
                task: task.to_string(),
                found,
            });
        }
    };
    Ok((
        y.iter()
            .map(|&v| if v == classes[1] { 1.0 } else { 0.0 })
            .collect(),
        classes,
    ))
}

/// Prepare every task of `data` (either layout; missing targets of the shared layout drop the
/// sample from that task only).
pub(crate) fn prepare(
    data: &mtlkit_core::MultiTaskDataset,
    losses: &[Loss],
    scaling: LossScaling,
    fit_intercept: bool,
) -> crate::Result<Prepared> {
    use mtlkit_core::TaskId;
    let nt = data.n_tasks();
    let d = data.n_features();
    let shared = data.as_shared();
    // labelled rows per task (None = all rows)
    let rows: Vec<Option<Vec<usize>>> = (0..nt)
        .map(|t| {
            let (_, y) = data.task(TaskId(t));
            if y.iter().any(|v| v.is_nan()) {
                Some((0..y.len()).filter(|&i| !y[i].is_nan()).collect())
            } else {
                None
            }
        })
        .collect();
    let n_of = |t: usize| {
        rows[t]
            .as_ref()
            .map_or_else(|| data.n_samples(TaskId(t)), Vec::len)
    };
    let n_total: usize = (0..nt).map(n_of).sum();
    let mut cache_sq: Option<(Arc<Vec<f64>>, Vec<f64>)> = None;
    let mut cache_raw: Option<Arc<Vec<f64>>> = None;
    let mut out = Prepared {
        tasks: Vec::with_capacity(nt),
        x_offsets: Vec::with_capacity(nt),
        y_offsets: Vec::with_capacity(nt),
        classes: Vec::with_capacity(nt),
    };
    for t in 0..nt {
        let name = &data.task_names()[t];
        let (x, y) = data.task(TaskId(t));
        let idx: Vec<usize> = rows[t].clone().unwrap_or_else(|| (0..y.len()).collect());
        let n = idx.len();
        if n == 0 {
            return Err(mtlkit_core::Error::NoLabels { task: name.clone() }.into());
        }
        // the design can be shared with other tasks when it is the whole shared X
        let whole = shared.is_some() && rows[t].is_none();
        let yt: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
        let s: Vec<f64> = match data.sample_weight() {
            Some(w) => {
                let raw: Vec<f64> = idx.iter().map(|&i| w[i]).collect();
                let sum: f64 = raw.iter().sum();
                if sum <= 0.0 {
                    return Err(mtlkit_core::Error::InvalidParameter {
                        name: "sample_weight",
                        value: format!("all zero on the labelled samples of task {name}"),
                        expected: "at least one positive weight per task",
                    }
                    .into());
                }
                raw.iter().map(|v| v * n as f64 / sum).collect()
            }
            None => vec![1.0; n],
        };
        let gather = |offset: &[f64], scale: &[f64]| -> Vec<f64> {
            let mut col_major = Vec::with_capacity(n * d);
            for j in 0..d {
                col_major.extend(
                    idx.iter()
                        .zip(scale)
                        .map(|(&i, sc)| (x[[i, j]] - offset[j]) * sc),
                );
            }
            col_major
        };
        let c = scaling.factor(n, n_total);
        match losses[t] {
            Loss::Squared => {
                let (x_off, y_off) = if fit_intercept {
                    let x_off: Vec<f64> = (0..d)
                        .map(|j| {
                            idx.iter()
                                .zip(&s)
                                .map(|(&i, si)| si * x[[i, j]])
                                .sum::<f64>()
                                / n as f64
                        })
                        .collect();
                    let y_off = yt.iter().zip(&s).map(|(v, si)| si * v).sum::<f64>() / n as f64;
                    (x_off, y_off)
                } else {
                    (vec![0.0; d], 0.0)
                };
                let sqrt_s: Vec<f64> = s.iter().map(|v| v.sqrt()).collect();
                let xt = match (&cache_sq, whole) {
                    (Some((arc, off)), true) if *off == x_off => Arc::clone(arc),
                    _ => {
                        let arc = Arc::new(gather(&x_off, &sqrt_s));
                        if whole {
                            cache_sq = Some((Arc::clone(&arc), x_off.clone()));
                        }
                        arc
                    }
                };
                out.tasks.push(Task {
                    x: xt,
                    y: yt
                        .iter()
                        .zip(&sqrt_s)
                        .map(|(v, sc)| (v - y_off) * sc)
                        .collect(),
                    s: Vec::new(),
                    n,
                    loss: Loss::Squared,
                    c,
                    intercept: false,
                });
                out.x_offsets.push(x_off);
                out.y_offsets.push(y_off);
                out.classes.push(None);
            }
            Loss::Logistic => {
                let (y01, classes) = binary_labels(&yt, name)?;
                let xt = match (&cache_raw, whole) {
                    (Some(arc), true) => Arc::clone(arc),
                    _ => {
                        let arc = Arc::new(gather(&vec![0.0; d], &vec![1.0; n]));
                        if whole {
                            cache_raw = Some(Arc::clone(&arc));
                        }
                        arc
                    }
                };
                out.tasks.push(Task {
                    x: xt,
                    y: y01,
                    s,
                    n,
                    loss: Loss::Logistic,
                    c,
                    intercept: fit_intercept,
                });
                out.x_offsets.push(vec![0.0; d]);
                out.y_offsets.push(0.0);
                out.classes.push(Some(classes));
            }
        }
    }
    Ok(out)
}

/// The data term `Σ_t c_t Σ_i s_ti ℓ_t(y_ti, x_tiᵀ w_t + b_t)` of coefficients `w` (`d × T`) and
/// intercepts `b` on `data` as given (labels of classification tasks mapped as for the fit).
pub(crate) fn data_term(
    data: &mtlkit_core::MultiTaskDataset,
    losses: &[Loss],
    scaling: LossScaling,
    w: ndarray::ArrayView2<'_, f64>,
    b: ndarray::ArrayView1<'_, f64>,
) -> crate::Result<f64> {
    use mtlkit_core::TaskId;
    let nt = data.n_tasks();
    let labelled = |t: usize| -> Vec<usize> {
        let (_, y) = data.task(TaskId(t));
        (0..y.len()).filter(|&i| !y[i].is_nan()).collect()
    };
    let rows: Vec<Vec<usize>> = (0..nt).map(labelled).collect();
    let n_total: usize = rows.iter().map(Vec::len).sum();
    let mut total = 0.0;
    for t in 0..nt {
        let (x, y) = data.task(TaskId(t));
        let idx = &rows[t];
        let n = idx.len();
        let s: Vec<f64> = match data.sample_weight() {
            Some(sw) => {
                let sum: f64 = idx.iter().map(|&i| sw[i]).sum();
                idx.iter().map(|&i| sw[i] * n as f64 / sum).collect()
            }
            None => vec![1.0; n],
        };
        let yt: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
        let y01 = match losses[t] {
            Loss::Squared => yt,
            Loss::Logistic => binary_labels(&yt, &data.task_names()[t])?.0,
        };
        let mut sum = 0.0;
        for ((&i, &yi), &si) in idx.iter().zip(&y01).zip(&s) {
            let z = x.row(i).dot(&w.column(t)) + b[t];
            sum += si
                * match losses[t] {
                    Loss::Squared => 0.5 * (yi - z) * (yi - z),
                    Loss::Logistic => log1pexp(z) - yi * z,
                };
        }
        total += scaling.factor(n, n_total) * sum;
    }
    Ok(total)
}

/// `max_j ‖∇_j‖` of the data term at `W = 0` (intercepts at their optimum): the smallest L2,1
/// weight at which `W = 0` is optimal.
pub(crate) fn l21_max(tasks: &[Task], d: usize) -> f64 {
    let nt = tasks.len();
    let mut g = vec![0.0; d * nt];
    let mut col = vec![0.0; d];
    for (t, task) in tasks.iter().enumerate() {
        let u: Vec<f64> = match task.loss {
            Loss::Squared => task.y.iter().map(|v| -v).collect(),
            Loss::Logistic => {
                let sw: f64 = task.s.iter().sum();
                let pbar = if task.intercept {
                    task.s.iter().zip(&task.y).map(|(s, y)| s * y).sum::<f64>() / sw
                } else {
                    0.5
                };
                task.s
                    .iter()
                    .zip(&task.y)
                    .map(|(s, y)| s * (pbar - y))
                    .collect()
            }
        };
        linalg::xt_r(&task.x, task.n, d, &u, 1, &mut col, 1);
        for j in 0..d {
            g[j * nt + t] = task.c * col[j];
        }
    }
    g.chunks_exact(nt.max(1))
        .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
        .fold(0.0f64, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_solve_minimises_the_row_problem() {
        // the returned u beats random perturbations of itself on
        // Σ (a_t/2) u_t² − v_t u_t + l1 ‖u‖, for spread-out curvatures
        let obj = |u: &[f64], v: &[f64], a: &[f64], l1: f64| -> f64 {
            let q: f64 = u
                .iter()
                .zip(v)
                .zip(a)
                .map(|((u, v), a)| 0.5 * a * u * u - v * u)
                .sum();
            q + l1 * u.iter().map(|x| x * x).sum::<f64>().sqrt()
        };
        let mut rng = StdRng::seed_from_u64(3);
        for case in 0..200 {
            let k = 1 + case % 7;
            let v: Vec<f64> = (0..k).map(|_| rng.random::<f64>() * 4.0 - 2.0).collect();
            let a: Vec<f64> = (0..k)
                .map(|_| 10f64.powf(rng.random::<f64>() * 4.0 - 2.0))
                .collect();
            let l1 = rng.random::<f64>() * 2.0;
            let mut u = vec![0.0; k];
            row_solve(&v, &a, l1, &mut u);
            let best = obj(&u, &v, &a, l1);
            for _ in 0..50 {
                let pert: Vec<f64> = u
                    .iter()
                    .map(|x| x + (rng.random::<f64>() - 0.5) * 1e-3)
                    .collect();
                assert!(obj(&pert, &v, &a, l1) >= best - 1e-12, "case {case}");
            }
            // stationarity when u ≠ 0: a_t u_t − v_t + l1 u_t/‖u‖ = 0
            let un = u.iter().map(|x| x * x).sum::<f64>().sqrt();
            if un > 0.0 {
                for t in 0..k {
                    let r = a[t] * u[t] - v[t] + l1 * u[t] / un;
                    assert!(r.abs() < 1e-9 * (1.0 + v[t].abs()), "case {case}: {r:e}");
                }
            } else {
                assert!(v.iter().map(|x| x * x).sum::<f64>().sqrt() <= l1);
            }
        }
        // equal curvatures: block soft-thresholding
        let mut u = [0.0; 2];
        row_solve(&[3.0, 4.0], &[2.0, 2.0], 1.0, &mut u);
        assert!((u[0] - 0.6 * 2.0).abs() < 1e-12 && (u[1] - 0.8 * 2.0).abs() < 1e-12);
    }
}
