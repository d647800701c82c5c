//! Structural regularizers (the MALSAR family and more) fitted by accelerated proximal gradient.
//!
//! The model is the general formulation of [`crate::pertask`] (a design per task or one shared
//! design, squared or logistic loss per task, missing targets, sample weights, the task
//! weights `c_t` of [`LossScaling`]) with coefficients that are a **sum of parts**, each with its
//! own regularizer:
//!
//! `min_{P_1..P_K, b}  Σ_t c_t Σ_i s_ti ℓ_t(y_ti, x_tiᵀ w_t + b_t) + α_G ‖W R‖²_F + Σ_k R_k(P_k)`,
//! `W = Σ_k P_k` (`n_features × n_tasks`, column `t` = task `t`'s weights),
//!
//! where `ℓ` is `½(y − z)²` or `log(1 + eᶻ) − y z` and the optional graph term uses a task graph
//! `R` (`n_tasks × n_edges`, e.g. one column `e_s − e_t` per edge: MALSAR's SRMTL). One part is
//! an ordinary model (Lasso, L1,∞, L2,1, trace norm, block MCP/SCAD, ridge); two parts make the
//! decomposed models:
//!
//! | model | parts |
//! |---|---|
//! | Lasso across tasks | `[Lasso]` |
//! | L1,∞ ("simultaneous Lasso") | `[L1Inf]` |
//! | trace norm (low rank) | `[TraceNorm]` |
//! | sparse + low rank (`W = P + Q`) | `[Lasso, TraceNorm]` |
//! | dirty model (Jalali et al.) | `[L1Inf or L21, Lasso]` |
//! | rMTFL (Gong et al.) | `[L21, ColumnL21]` |
//! | robust MTL (Chen et al.: low rank + outlier tasks) | `[TraceNorm, ColumnL21]` |
//! | mean regularization (Evgeniou & Pontil: `w_t = w_0 + v_t`) | `[SharedMean, Ridge]` |
//! | SRMTL (graph, optional ℓ1) | graph term + `[Lasso]` |
//! | block MCP / SCAD on rows | `[BlockMcp]`, `[BlockScad]` (warm-started from L2,1) |
//!
//! **Solver**: FISTA on all parts jointly (they share the data gradient) with backtracking that
//! also tries a larger step at every iteration (×1.25), O'Donoghue–Candès adaptive restart, and
//! a monotone safeguard (momentum is dropped when the objective rises, which also makes it a
//! descent method for the non-convex penalties). **Stopping rule**: the prox-gradient (KKT)
//! residual `‖G_s(x)‖_F = ‖x − prox_s(x − s∇f(x))‖_F / s` of the returned point, over every part
//! and intercept, at most `tol · ‖∇f(0)‖_F` (the data gradient at zero coefficients sets the
//! scale). It is zero exactly at a stationary point (a minimiser for the convex penalties), and
//! is recomputed at the point returned, not estimated from the extrapolated sequence.

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::pertask::{self, Loss, LossScaling, Task, log1pexp, sigmoid};
use crate::{LinearError, Result};
use mtlkit_core::{MultiTaskDataset, param};

/// The regularizer of one part `P` (`d × T`; row `j` = feature `j` across tasks, column `t` =
/// task `t`). Every variant states its value; `prox` is its proximal operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Regularizer {
    /// `α Σ_{j,t} |P_jt|` (entrywise Lasso).
    Lasso {
        /// Strength.
        alpha: f64,
    },
    /// `Σ_t α_t Σ_j |P_jt|` (entrywise Lasso with one strength per task; `alpha` scales them
    /// all: the strength of task `t` is `alpha · weights[t]`).
    TaskLasso {
        /// Common strength.
        alpha: f64,
        /// One weight per task (`>= 0`).
        weights: Vec<f64>,
    },
    /// `α Σ_j max_t |P_jt|` (L1,∞ on rows).
    L1Inf {
        /// Strength.
        alpha: f64,
    },
    /// `α Σ_j ‖P_j·‖₂` (L2,1 on rows: joint feature selection).
    L21 {
        /// Strength.
        alpha: f64,
    },
    /// `α Σ_t ‖P_·t‖₂` (L2,1 on columns: whole tasks as groups, outlier tasks).
    ColumnL21 {
        /// Strength.
        alpha: f64,
    },
    /// `α ‖P‖_*` (trace norm, the sum of singular values: low rank).
    TraceNorm {
        /// Strength.
        alpha: f64,
    },
    /// `α/2 ‖P‖²_F`.
    Ridge {
        /// Strength.
        alpha: f64,
    },
    /// All columns equal, `P = w₀ 1ᵀ`, with `α/2 ‖P‖²_F = α T/2 ‖w₀‖²` (the shared part of mean
    /// regularization).
    SharedMean {
        /// Strength.
        alpha: f64,
    },
    /// Block MCP on rows: `Σ_j ρ(‖P_j·‖)` with `ρ(u) = α u − u²/(2γ)` for `u ≤ γ α`, else
    /// `γ α²/2` (non-convex; needs `γ > step`, in practice `γ > 1/L`).
    BlockMcp {
        /// Strength.
        alpha: f64,
        /// Concavity (`> 0`; large = close to L2,1).
        gamma: f64,
    },
    /// Block SCAD on rows: `ρ(u) = α u` for `u ≤ α`, `(2γαu − u² − α²)/(2(γ − 1))` for
    /// `α < u ≤ γα`, `α²(γ + 1)/2` beyond (non-convex; `γ > 2`).
    BlockScad {
        /// Strength.
        alpha: f64,
        /// Concavity (`> 2`).
        gamma: f64,
    },
}

/// Matrices up to this size get the full positive semi-definiteness test in [`not_psd`]
/// (a Cholesky factorization); larger ones (feature metrics of many features, refitted at
/// every outer iteration) the `O(n²)` necessary conditions only.
const PSD_FULL_MAX: usize = 256;

/// Why `m` (square, finite) is not a symmetric positive semi-definite matrix, up to rounding
/// relative to its largest entry: asymmetric, a negative diagonal entry, `M_ij² > M_ii M_jj`,
/// or (up to [`PSD_FULL_MAX`]) a negative pivot of the Cholesky factorization of
/// `M + 1e-10·max|M|·I`; `None` when it is.
fn not_psd(m: &Array2<f64>) -> Option<String> {
    let n = m.nrows();
    let scale = m.iter().fold(0.0f64, |a, &v| a.max(v.abs()));
    if scale == 0.0 {
        return None;
    }
    let tol = 1e-10 * scale;
    for i in 0..n {
        if m[[i, i]] < -tol {
            return Some(format!("negative on the diagonal ({:e} at {i})", m[[i, i]]));
        }
        for j in 0..i {
            if (m[[i, j]] - m[[j, i]]).abs() > tol {
                return Some(format!("not symmetric (entries {i},{j} and {j},{i})"));
            }
            let bound = (m[[i, i]].max(0.0) * m[[j, j]].max(0.0)).sqrt() + tol;
            if m[[i, j]].abs() > bound {
                return Some(format!(
                    "indefinite (|M[{i},{j}]| > sqrt(M[{i},{i}] M[{j},{j}]))"
                ));
            }
        }
    }
    if n > PSD_FULL_MAX {
        return None;
    }
    // Cholesky of M + tol·I (row by row, lower triangle)
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut v = 0.5 * (m[[i, j]] + m[[j, i]]) + if i == j { tol } else { 0.0 };
            for k in 0..j {
                v -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if v <= 0.0 {
                    return Some("indefinite (a negative eigenvalue)".into());
                }
                l[i * n + i] = v.sqrt();
            } else {
                l[i * n + j] = v / l[j * n + j];
            }
        }
    }
    None
}

/// A `d × nt` row-major buffer of `len` values, `nt > 0`.
fn check_layout(len: usize, d: usize, nt: usize) -> Result<()> {
    if nt == 0 {
        return Err(mtlkit_core::Error::NoTasks.into());
    }
    if d.checked_mul(nt) != Some(len) {
        return Err(mtlkit_core::Error::ShapeMismatch {
            what: "values of the coefficient buffer vs d × n_tasks",
            task: None,
            expected: d.saturating_mul(nt),
            found: len,
        }
        .into());
    }
    Ok(())
}

impl Regularizer {
    /// The strength `α`.
    pub fn alpha(&self) -> f64 {
        match *self {
            Self::Lasso { alpha }
            | Self::TaskLasso { alpha, .. }
            | Self::L1Inf { alpha }
            | Self::L21 { alpha }
            | Self::ColumnL21 { alpha }
            | Self::TraceNorm { alpha }
            | Self::Ridge { alpha }
            | Self::SharedMean { alpha }
            | Self::BlockMcp { alpha, .. }
            | Self::BlockScad { alpha, .. } => alpha,
        }
    }

    /// The same regularizer with `alpha` multiplied by `c` (`gamma` unchanged).
    pub fn scaled(&self, c: f64) -> Self {
        match *self {
            Self::Lasso { alpha } => Self::Lasso { alpha: alpha * c },
            Self::TaskLasso { alpha, ref weights } => Self::TaskLasso {
                alpha: alpha * c,
                weights: weights.clone(),
            },
            Self::L1Inf { alpha } => Self::L1Inf { alpha: alpha * c },
            Self::L21 { alpha } => Self::L21 { alpha: alpha * c },
            Self::ColumnL21 { alpha } => Self::ColumnL21 { alpha: alpha * c },
            Self::TraceNorm { alpha } => Self::TraceNorm { alpha: alpha * c },
            Self::Ridge { alpha } => Self::Ridge { alpha: alpha * c },
            Self::SharedMean { alpha } => Self::SharedMean { alpha: alpha * c },
            Self::BlockMcp { alpha, gamma } => Self::BlockMcp {
                alpha: alpha * c,
                gamma,
            },
            Self::BlockScad { alpha, gamma } => Self::BlockScad {
                alpha: alpha * c,
                gamma,
            },
        }
    }

    /// Whether the regularizer is convex.
    pub fn is_convex(&self) -> bool {
        !matches!(self, Self::BlockMcp { .. } | Self::BlockScad { .. })
    }

    fn check(&self, nt: usize) -> Result<()> {
        param::non_negative("alpha", self.alpha())?;
        if let Self::TaskLasso { weights, .. } = self {
            if weights.len() != nt {
                return Err(mtlkit_core::Error::ShapeMismatch {
                    what: "task-lasso weights vs tasks",
                    task: None,
                    expected: nt,
                    found: weights.len(),
                }
                .into());
            }
            for &w in weights {
                param::non_negative("task-lasso weight", w)?;
            }
        }
        match *self {
            Self::BlockMcp { gamma, .. } => {
                param::positive("gamma", gamma)?;
            }
            Self::BlockScad { gamma, .. } if !(gamma > 2.0 && gamma.is_finite()) => {
                return Err(mtlkit_core::Error::InvalidParameter {
                    name: "gamma",
                    value: gamma.to_string(),
                    expected: "gamma > 2 for SCAD",
                }
                .into());
            }
            _ => {}
        }
        Ok(())
    }

    /// `R(P)` for `p` (`d × T` row-major). The constraint of [`Regularizer::SharedMean`] counts
    /// as `+∞` when violated by more than rounding.
    ///
    /// # Errors
    /// `p` does not hold `d × nt` values, or `nt = 0`.
    pub fn value(&self, p: &[f64], d: usize, nt: usize) -> Result<f64> {
        check_layout(p.len(), d, nt)?;
        Ok(self.value_of(p, d, nt))
    }

    /// In place: `p ← prox_{s R}(p) = argmin_u ½‖u − p‖²_F + s R(u)` (`p` is `d × T`
    /// row-major).
    ///
    /// # Errors
    /// `p` does not hold `d × nt` values, `nt = 0`, or a negative or non-finite step `s`.
    pub fn prox(&self, p: &mut [f64], d: usize, nt: usize, s: f64) -> Result<()> {
        check_layout(p.len(), d, nt)?;
        param::non_negative("step", s)?;
        self.prox_of(p, d, nt, s);
        Ok(())
    }

    /// [`value`](Self::value) on a layout the caller guarantees.
    fn value_of(&self, p: &[f64], d: usize, nt: usize) -> f64 {
        let rows = || (0..d).map(move |j| &p[j * nt..(j + 1) * nt]);
        let norm = |r: &[f64]| r.iter().map(|v| v * v).sum::<f64>().sqrt();
        match *self {
            Self::Lasso { alpha } => alpha * p.iter().map(|v| v.abs()).sum::<f64>(),
            Self::TaskLasso {
                alpha, ref weights, ..
            } => {
                alpha
                    * p.iter()
                        .enumerate()
                        .map(|(i, v)| weights.get(i % nt).copied().unwrap_or(0.0) * v.abs())
                        .sum::<f64>()
            }
            Self::L1Inf { alpha } => {
                alpha
                    * rows()
                        .map(|r| r.iter().fold(0.0f64, |m, v| m.max(v.abs())))
                        .sum::<f64>()
            }
            Self::L21 { alpha } => alpha * rows().map(norm).sum::<f64>(),
            Self::ColumnL21 { alpha } => {
                alpha
                    * (0..nt)
                        .map(|t| (0..d).map(|j| p[j * nt + t].powi(2)).sum::<f64>().sqrt())
                        .sum::<f64>()
            }
            Self::TraceNorm { alpha } => {
                alpha * crate::linalg::singular_values(p, d, nt).iter().sum::<f64>()
            }
            Self::Ridge { alpha } => 0.5 * alpha * p.iter().map(|v| v * v).sum::<f64>(),
            Self::SharedMean { alpha } => {
                let scale = p.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
                let off = rows()
                    .map(|r| r.iter().fold(0.0f64, |m, v| m.max((v - r[0]).abs())))
                    .fold(0.0f64, f64::max);
                if off > 1e-9 * scale {
                    f64::INFINITY
                } else {
                    0.5 * alpha * p.iter().map(|v| v * v).sum::<f64>()
                }
            }
            Self::BlockMcp { alpha, gamma } => rows()
                .map(|r| {
                    let u = norm(r);
                    if u <= gamma * alpha {
                        alpha * u - u * u / (2.0 * gamma)
                    } else {
                        0.5 * gamma * alpha * alpha
                    }
                })
                .sum(),
            Self::BlockScad { alpha, gamma } => rows()
                .map(|r| {
                    let u = norm(r);
                    if u <= alpha {
                        alpha * u
                    } else if u <= gamma * alpha {
                        (2.0 * gamma * alpha * u - u * u - alpha * alpha) / (2.0 * (gamma - 1.0))
                    } else {
                        0.5 * alpha * alpha * (gamma + 1.0)
                    }
                })
                .sum(),
        }
    }

    /// [`prox`](Self::prox) on a layout the caller guarantees.
    fn prox_of(&self, p: &mut [f64], d: usize, nt: usize, s: f64) {
        let shrink_group = |g: &mut [f64], tau: f64| {
            let n = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            let f = if n > tau { 1.0 - tau / n } else { 0.0 };
            g.iter_mut().for_each(|v| *v *= f);
        };
        match *self {
            Self::Lasso { alpha } => {
                let tau = s * alpha;
                p.iter_mut()
                    .for_each(|v| *v = v.signum() * (v.abs() - tau).max(0.0));
            }
            Self::TaskLasso {
                alpha, ref weights, ..
            } => {
                for (i, v) in p.iter_mut().enumerate() {
                    let tau = s * alpha * weights.get(i % nt).copied().unwrap_or(0.0);
                    *v = v.signum() * (v.abs() - tau).max(0.0);
                }
            }
            Self::L1Inf { alpha } => {
                // Moreau: prox of τ‖·‖∞ = identity − projection onto the ℓ1 ball of radius τ
                let tau = s * alpha;
                for r in p.chunks_exact_mut(nt) {
                    let proj = project_l1_ball(r, tau);
                    r.iter_mut().zip(&proj).for_each(|(v, q)| *v -= q);
                }
            }
            Self::L21 { alpha } => {
                for r in p.chunks_exact_mut(nt) {
                    shrink_group(r, s * alpha);
                }
            }
            Self::ColumnL21 { alpha } => {
                let tau = s * alpha;
                for t in 0..nt {
                    let n = (0..d).map(|j| p[j * nt + t].powi(2)).sum::<f64>().sqrt();
                    let f = if n > tau { 1.0 - tau / n } else { 0.0 };
                    (0..d).for_each(|j| p[j * nt + t] *= f);
                }
            }
            Self::TraceNorm { alpha } => {
                crate::linalg::shrink_singular_values(p, d, nt, s * alpha);
            }
            Self::Ridge { alpha } => {
                let f = 1.0 / (1.0 + s * alpha);
                p.iter_mut().for_each(|v| *v *= f);
            }
            Self::SharedMean { alpha } => {
                let f = 1.0 / (1.0 + s * alpha);
                for r in p.chunks_exact_mut(nt) {
                    let m = r.iter().sum::<f64>() / nt as f64 * f;
                    r.iter_mut().for_each(|v| *v = m);
                }
            }
            Self::BlockMcp { alpha, gamma } => {
                for r in p.chunks_exact_mut(nt) {
                    let u = r.iter().map(|v| v * v).sum::<f64>().sqrt();
                    let new = if u <= s * alpha {
                        0.0
                    } else if u <= gamma * alpha {
                        ((u - s * alpha) / (1.0 - s / gamma)).min(u).max(0.0)
                    } else {
                        u
                    };
                    let f = if u > 0.0 { new / u } else { 0.0 };
                    r.iter_mut().for_each(|v| *v *= f);
                }
            }
            Self::BlockScad { alpha, gamma } => {
                for r in p.chunks_exact_mut(nt) {
                    let u = r.iter().map(|v| v * v).sum::<f64>().sqrt();
                    let new = if u <= alpha * (1.0 + s) {
                        (u - s * alpha).max(0.0)
                    } else if u <= gamma * alpha {
                        (((gamma - 1.0) * u - s * gamma * alpha) / (gamma - 1.0 - s)).clamp(0.0, u)
                    } else {
                        u
                    };
                    let f = if u > 0.0 { new / u } else { 0.0 };
                    r.iter_mut().for_each(|v| *v *= f);
                }
            }
        }
    }
}

/// Euclidean projection of `v` onto `{u : ‖u‖₁ ≤ radius}` (Duchi et al., sort-based).
fn project_l1_ball(v: &[f64], radius: f64) -> Vec<f64> {
    let l1: f64 = v.iter().map(|x| x.abs()).sum();
    if l1 <= radius {
        return v.to_vec();
    }
    if radius <= 0.0 {
        return vec![0.0; v.len()];
    }
    let mut a: Vec<f64> = v.iter().map(|x| x.abs()).collect();
    a.sort_by(|p, q| q.total_cmp(p));
    let (mut cum, mut theta) = (0.0, 0.0);
    for (k, &ak) in a.iter().enumerate() {
        cum += ak;
        let t = (cum - radius) / (k + 1) as f64;
        if ak > t {
            theta = t;
        }
    }
    v.iter()
        .map(|x| x.signum() * (x.abs() - theta).max(0.0))
        .collect()
}

/// A task graph for the smooth term `α ‖W R‖²_F`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskGraph {
    /// `R`, `n_tasks × n_edges`.
    pub r: Array2<f64>,
    /// `α`.
    pub alpha: f64,
}

impl TaskGraph {
    /// The graph with one column `e_s − e_t` per edge `(s, t)` of `n_tasks` tasks (MALSAR's
    /// SRMTL convention), weight `alpha`.
    ///
    /// # Errors
    /// A task index out of range or a self-loop.
    pub fn from_edges(n_tasks: usize, edges: &[(usize, usize)], alpha: f64) -> Result<Self> {
        let mut r = Array2::zeros((n_tasks, edges.len()));
        for (e, &(s, t)) in edges.iter().enumerate() {
            if s >= n_tasks || t >= n_tasks || s == t {
                return Err(mtlkit_core::Error::InvalidParameter {
                    name: "edges",
                    value: format!("({s}, {t})"),
                    expected: "pairs of distinct task indices below n_tasks",
                }
                .into());
            }
            r[[s, e]] = 1.0;
            r[[t, e]] = -1.0;
        }
        Ok(Self { r, alpha })
    }
}

/// Hyperparameters of a structured model (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct StructuredParams {
    /// One regularizer per part; `W` is the sum of the parts.
    pub parts: Vec<Regularizer>,
    /// Optional graph term.
    pub graph: Option<TaskGraph>,
    /// Optional task-side quadratic term `α tr(W M Wᵀ)` (`M`: `n_tasks × n_tasks`, symmetric
    /// positive semi-definite; MTRL's `Ω⁻¹`).
    pub task_metric: Option<(Array2<f64>, f64)>,
    /// Optional feature-side quadratic term `α tr(Wᵀ A W)` (`A`: `n_features × n_features`,
    /// symmetric positive semi-definite; multi-task feature learning's `D⁻¹`).
    pub feature_metric: Option<(Array2<f64>, f64)>,
    /// One loss for all tasks or one per task.
    pub losses: Vec<Loss>,
    /// Task weights `c_t`.
    pub scaling: LossScaling,
    /// Fit intercepts.
    pub fit_intercept: bool,
    /// Relative tolerance on the KKT residual.
    pub tol: f64,
    /// Maximum iterations.
    pub max_iter: usize,
}

impl StructuredParams {
    /// A model with these parts (squared loss, task-mean scaling, intercepts, `tol = 1e-6`,
    /// `max_iter = 10_000`).
    pub fn new(parts: Vec<Regularizer>) -> Self {
        Self {
            parts,
            graph: None,
            task_metric: None,
            feature_metric: None,
            losses: vec![Loss::Squared],
            scaling: LossScaling::TaskMean,
            fit_intercept: true,
            tol: 1e-6,
            max_iter: 10_000,
        }
    }

    /// Evgeniou & Pontil's mean regularization: `w_t = w₀ + v_t`, penalty
    /// `alpha_mean·T/2 ‖w₀‖² + alpha_task/2 Σ_t ‖v_t‖²` (parts `[SharedMean, Ridge]`).
    pub fn mean_regularized(alpha_mean: f64, alpha_task: f64) -> Self {
        Self::new(vec![
            Regularizer::SharedMean { alpha: alpha_mean },
            Regularizer::Ridge { alpha: alpha_task },
        ])
    }

    /// Set the graph term.
    pub fn graph(mut self, g: TaskGraph) -> Self {
        self.graph = Some(g);
        self
    }
    /// Set the losses (one for all tasks, or one per task).
    pub fn losses(mut self, l: Vec<Loss>) -> Self {
        self.losses = l;
        self
    }
    /// Set the scaling.
    pub fn scaling(mut self, s: LossScaling) -> Self {
        self.scaling = s;
        self
    }
    /// Set `fit_intercept`.
    pub fn fit_intercept(mut self, v: bool) -> Self {
        self.fit_intercept = v;
        self
    }
    /// Set the tolerance.
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Set the iteration cap.
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }

    fn quads(&self) -> Vec<Quad> {
        let flat = |m: &Array2<f64>| m.iter().copied().collect::<Vec<f64>>();
        let mut q = Vec::new();
        if let Some(g) = &self.graph {
            q.push(Quad {
                tasks_side: true,
                m: flat(&g.r.dot(&g.r.t())),
                alpha: g.alpha,
            });
        }
        if let Some((m, alpha)) = &self.task_metric {
            q.push(Quad {
                tasks_side: true,
                m: flat(m),
                alpha: *alpha,
            });
        }
        if let Some((a, alpha)) = &self.feature_metric {
            q.push(Quad {
                tasks_side: false,
                m: flat(a),
                alpha: *alpha,
            });
        }
        q
    }

    /// The metrics' strengths, shapes and values; with `psd`, also that each is symmetric
    /// positive semi-definite ([`not_psd`]: checked once per prepared fit, path or alternating
    /// loop, not at each of its inner fits, whose metrics are PSD by construction).
    fn check_metrics(&self, d: usize, nt: usize, psd: bool) -> Result<()> {
        for (m, alpha, n, what) in [
            (&self.task_metric, nt, "task metric"),
            (&self.feature_metric, d, "feature metric"),
        ]
        .into_iter()
        .filter_map(|(m, n, what)| m.as_ref().map(|(m, a)| (m, *a, n, what)))
        {
            param::non_negative("metric alpha", alpha)?;
            if m.dim() != (n, n) || m.iter().any(|v| !v.is_finite()) {
                return Err(mtlkit_core::Error::InvalidParameter {
                    name: "metric",
                    value: format!("{what} of shape {:?}", m.dim()),
                    expected: "a finite square matrix matching the tasks / features",
                }
                .into());
            }
            if let Some(why) = psd.then(|| not_psd(m)).flatten() {
                return Err(mtlkit_core::Error::InvalidParameter {
                    name: "metric",
                    value: format!("a {what} that is {why}"),
                    expected: "symmetric positive semi-definite (a quadratic penalty that is \
                               not would be unbounded below)",
                }
                .into());
            }
        }
        Ok(())
    }

    fn check(&self, nt: usize) -> Result<Vec<Loss>> {
        if self.parts.is_empty() {
            return Err(mtlkit_core::Error::InvalidParameter {
                name: "parts",
                value: "[]".into(),
                expected: "at least one regularized part",
            }
            .into());
        }
        for p in &self.parts {
            p.check(nt)?;
        }
        param::positive("tol", self.tol)?;
        param::positive_count("max_iter", self.max_iter)?;
        if let Some(g) = &self.graph {
            param::non_negative("graph alpha", g.alpha)?;
            if g.r.nrows() != nt {
                return Err(mtlkit_core::Error::ShapeMismatch {
                    what: "rows of the task graph R vs tasks",
                    task: None,
                    expected: nt,
                    found: g.r.nrows(),
                }
                .into());
            }
            if g.r.iter().any(|v| !v.is_finite()) {
                return Err(mtlkit_core::Error::InvalidParameter {
                    name: "graph",
                    value: "non-finite entry".into(),
                    expected: "a finite task graph",
                }
                .into());
            }
        }
        match self.losses.len() {
            1 => Ok(vec![self.losses[0]; nt]),
            n if n == nt => Ok(self.losses.clone()),
            n => Err(LinearError::LossCount {
                expected: nt,
                found: n,
            }),
        }
    }

    /// Fit on `data` (either layout).
    ///
    /// ```
    /// use mtlkit_core::MultiTaskDataset;
    /// use mtlkit_linear::structured::{Regularizer, StructuredParams};
    /// use ndarray::Array2;
    ///
    /// // three tasks whose weights are multiples of one vector: rank one
    /// let x = Array2::from_shape_fn((60, 5), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
    /// let w = Array2::from_shape_fn((5, 3), |(j, t)| (j as f64 - 2.0) * (t as f64 + 1.0));
    /// let y = x.dot(&w);
    /// let data = MultiTaskDataset::shared(x, y)?;
    /// let m = StructuredParams::new(vec![Regularizer::TraceNorm { alpha: 0.5 }]).fit(&data)?;
    /// assert!(m.info.converged);
    /// assert_eq!(m.rank(1e-6), 1);
    /// # Ok::<(), mtlkit_linear::LinearError>(())
    /// ```
    ///
    /// # Errors
    /// Invalid hyperparameters (negative or NaN strengths, a bad `gamma`, a graph of the wrong
    /// size, a loss count other than 1 or `n_tasks`, a task or feature metric that is not
    /// symmetric positive semi-definite), invalid labels of a logistic task.
    pub fn fit(&self, data: &MultiTaskDataset) -> Result<StructuredModel> {
        self.fit_init(data, None)
    }

    /// A warm-started regularization path: for each `scale` (decreasing is fastest) every
    /// part's `alpha` (and the graph's) multiplied by it; each fit starts from the previous
    /// solution.
    ///
    /// ```
    /// use mtlkit_core::MultiTaskDataset;
    /// use mtlkit_linear::structured::{Regularizer, StructuredParams};
    /// use ndarray::Array2;
    ///
    /// let x = Array2::from_shape_fn((40, 6), |(i, j)| ((i * 5 + j * 7) % 13) as f64 - 6.0);
    /// let y = Array2::from_shape_fn((40, 3), |(i, t)| x[[i, 0]] * (t as f64 + 1.0) - x[[i, 2]]);
    /// let data = MultiTaskDataset::shared(x, y)?;
    /// let p = StructuredParams::new(vec![Regularizer::TraceNorm { alpha: 10.0 }]);
    /// let path = p.path(&data, &[1.0, 0.1, 0.01])?;
    /// assert!(path[0].rank(1e-6) <= path[2].rank(1e-6));
    /// # Ok::<(), mtlkit_linear::LinearError>(())
    /// ```
    ///
    /// # Errors
    /// As [`fit`](Self::fit), plus a negative or non-finite scale.
    pub fn path(&self, data: &MultiTaskDataset, scales: &[f64]) -> Result<Vec<StructuredModel>> {
        for &c in scales {
            param::non_negative("scale", c)?;
        }
        let prepared = self.prepare_data(data)?;
        let mut out: Vec<StructuredModel> = Vec::with_capacity(scales.len());
        for &c in scales {
            let m = self
                .scaled(c)
                .fit_prepared(&prepared, out.last().map(|m| m.parts.as_slice()))?;
            out.push(m);
        }
        Ok(out)
    }

    /// The same model with every part's `alpha` and the graph's weight multiplied by `c`.
    fn scaled(&self, c: f64) -> Self {
        let mut p = self.clone();
        for r in &mut p.parts {
            *r = r.scaled(c);
        }
        if let Some(g) = &mut p.graph {
            g.alpha *= c;
        }
        p
    }

    /// K-fold cross-validation of the strength: for each fold (split **within each task**,
    /// `mtlkit_core::split::k_fold`), a warm-started [`path`](Self::path) over `scales`; the
    /// score of a scale is the mean over folds of the mean over tasks of each task's held-out
    /// loss (mean squared error for squared tasks, mean log-loss for logistic ones; missing
    /// targets left out). Returns the scale with the lowest score, the scores
    /// (`n_scales × n_folds`), and the model refitted on all of `data` at that scale.
    ///
    /// # Errors
    /// As [`path`](Self::path), and too few samples of a task for the folds.
    pub fn cross_validate(
        &self,
        data: &MultiTaskDataset,
        scales: &[f64],
        n_splits: usize,
        seed: Option<u64>,
    ) -> Result<StructuredCv> {
        if scales.is_empty() {
            return Err(mtlkit_core::Error::InvalidParameter {
                name: "scales",
                value: "[]".into(),
                expected: "at least one scale",
            }
            .into());
        }
        let folds = mtlkit_core::split::k_fold(data, n_splits, seed)?;
        let losses = self.check(data.n_tasks())?;
        let mut scores = Array2::<f64>::zeros((scales.len(), folds.len()));
        for (f, (train, test)) in folds.iter().enumerate() {
            let path = self.path(train, scales)?;
            for (a, m) in path.iter().enumerate() {
                scores[[a, f]] = held_out_loss(m, test, &losses);
            }
        }
        let mean = scores
            .mean_axis(ndarray::Axis(1))
            .unwrap_or_else(|| Array1::zeros(0));
        let best = mean
            .iter()
            .enumerate()
            .min_by(|p, q| p.1.total_cmp(q.1))
            .map_or(0, |(i, _)| i);
        let scale = scales[best];
        let model = self.scaled(scale).fit(data)?;
        Ok(StructuredCv {
            scale,
            scales: scales.to_vec(),
            scores,
            model,
        })
    }

    /// Fit starting from parts `init` (each `d × T`), e.g. a path's previous solution.
    ///
    /// # Errors
    /// As [`fit`](Self::fit), plus a shape mismatch of `init`.
    pub fn fit_init(
        &self,
        data: &MultiTaskDataset,
        init: Option<&[Array2<f64>]>,
    ) -> Result<StructuredModel> {
        self.fit_prepared(&self.prepare_data(data)?, init)
    }

    /// The data prepared for this model's losses, scaling and intercepts (with the Gram forms):
    /// built once for a whole path or alternating loop.
    fn prepare_data(&self, data: &MultiTaskDataset) -> Result<PreparedData> {
        let (d, nt) = (data.n_features(), data.n_tasks());
        let losses = self.check(nt)?;
        self.check_metrics(d, nt, true)?;
        let prep = pertask::prepare(data, &losses, self.scaling, self.fit_intercept)?;
        let grams = grams(&prep.tasks, d);
        Ok(PreparedData {
            prep,
            grams,
            losses,
            d,
            nt,
        })
    }

    /// [`fit_init`](Self::fit_init) on data already prepared (by a `StructuredParams` with the
    /// same losses, scaling and intercept setting).
    fn fit_prepared(
        &self,
        data: &PreparedData,
        init: Option<&[Array2<f64>]>,
    ) -> Result<StructuredModel> {
        let (d, nt) = (data.d, data.nt);
        self.check(nt)?;
        self.check_metrics(d, nt, false)?;
        let (prep, losses) = (&data.prep, data.losses.clone());
        let mut x0: Vec<Vec<f64>> = match init {
            Some(parts) => {
                if parts.len() != self.parts.len() || parts.iter().any(|p| p.dim() != (d, nt)) {
                    return Err(LinearError::WarmStartShape {
                        expected: (d, nt),
                        found: parts.first().map_or((0, 0), |p| p.dim()),
                    });
                }
                parts.iter().map(|p| p.iter().copied().collect()).collect()
            }
            None => vec![vec![0.0; d * nt]; self.parts.len()],
        };
        let problem = Problem {
            tasks: &prep.tasks,
            grams: &data.grams,
            d,
            nt,
            quads: self.quads(),
        };
        let mut total_iter = 0;
        if init.is_none() && self.parts.iter().any(|p| !p.is_convex()) {
            // non-convex penalties: start from the convex L2,1 solution with the same alpha
            let convex: Vec<Regularizer> =
                self.parts
                    .iter()
                    .map(|p| match *p {
                        Regularizer::BlockMcp { alpha, .. }
                        | Regularizer::BlockScad { alpha, .. } => Regularizer::L21 { alpha },
                        ref other => other.clone(),
                    })
                    .collect();
            let warm = apg(&problem, &convex, x0.clone(), self.tol, self.max_iter);
            total_iter += warm.n_iter;
            x0 = warm.parts;
        }
        let mut sol = apg(&problem, &self.parts, x0, self.tol, self.max_iter);
        sol.n_iter += total_iter;
        if !sol.converged {
            log::warn!(
                "structured model did not converge after {} iterations: KKT residual {:.3e} > \
                 tolerance {:.3e} (increase max_iter or tol)",
                sol.n_iter,
                sol.kkt,
                self.tol
            );
        }
        let mut coef = Array2::<f64>::zeros((d, nt));
        let mut parts = Vec::with_capacity(sol.parts.len());
        for p in &sol.parts {
            let a = Array2::from_shape_vec((d, nt), p.clone())
                .unwrap_or_else(|_| unreachable!("parts are d × T"));
            coef += &a;
            parts.push(a);
        }
        let intercept = prep.intercepts(coef.view(), &sol.b);
        Ok(StructuredModel {
            coef,
            parts,
            intercept,
            losses,
            classes: prep.classes.clone(),
            info: StructuredInfo {
                n_iter: sol.n_iter,
                kkt_residual: sol.kkt,
                objective: sol.objective,
                converged: sol.converged,
            },
        })
    }
}

/// `(K / tr K, tr K · K⁻¹)` for `K = (Wᵀ W + ε σ²_max I)^{1/2}` (`tasks_side`, `T × T`) or
/// `K = (W Wᵀ + ε σ²_max I)^{1/2}` (`d × d`), `σ_max` the largest singular value of `W`: the
/// closed-form covariance step of MTRL and of multi-task feature learning, and its inverse (the
/// next weight step's metric). `ε` is relative so that it does not depend on the data's scale.
fn normalised_sqrt(
    w: &Array2<f64>,
    tasks_side: bool,
    eps: f64,
) -> Result<(Array2<f64>, Array2<f64>)> {
    let (d, nt) = w.dim();
    let flat: Vec<f64> = w.iter().copied().collect();
    let (u, s, v) = crate::linalg::svd(&flat, d, nt).ok_or_else(|| LinearError::InvalidModel {
        path: None,
        reason: "the SVD of the coefficients did not converge".into(),
    })?;
    let k = s.len();
    // ε relative to the largest squared singular value (scale-free; 0 coefficients: ε itself)
    let smax2 = s.first().map_or(0.0, |x| x * x);
    let eps = if smax2 > 0.0 { eps * smax2 } else { eps };
    // the side's singular vectors: V (T × k) for the task side, U (d × k) for features
    let (vecs, n) = if tasks_side { (v, nt) } else { (u, d) };
    let root_eps = eps.sqrt();
    let roots: Vec<f64> = s.iter().map(|x| (x * x + eps).sqrt()).collect();
    let trace = roots.iter().sum::<f64>() + (n - k) as f64 * root_eps;
    let mut kmat = Array2::<f64>::eye(n) * root_eps;
    let mut kinv = Array2::<f64>::eye(n) / root_eps;
    for r in 0..k {
        for i in 0..n {
            for j in 0..n {
                let vv = vecs[i * k + r] * vecs[j * k + r];
                kmat[[i, j]] += vv * (roots[r] - root_eps);
                kinv[[i, j]] += vv * (1.0 / roots[r] - 1.0 / root_eps);
            }
        }
    }
    Ok((kmat / trace, kinv * trace))
}

/// Multi-task relationship learning (Zhang & Yeung, 2010): a learned task covariance `Ω`
/// (`T × T`, which can express positive, zero and negative task correlation),
///
/// `min_{W, b, Ω} f(W, b) + λ₁/2 ‖W‖²_F + λ₂/2 tr(W Ω⁻¹ Wᵀ)` s.t. `Ω ⪰ 0, tr Ω = 1`,
///
/// `f` the data term of [`StructuredParams`]. Alternating minimisation: the `W` step is a
/// structured fit (ridge part plus the task metric `Ω⁻¹`), the `Ω` step is closed form,
/// `Ω = (WᵀW + ε σ²_max I)^{1/2} / tr(·)` (`ε > 0`, relative to the largest squared singular
/// value of `W`, keeps `Ω` invertible and the weight step well conditioned). Stops when the joint
/// objective changes by less than `outer_tol` (relative) between outer iterations.
#[derive(Debug, Clone, PartialEq)]
pub struct Mtrl {
    /// `λ₁` (ridge).
    pub lambda1: f64,
    /// `λ₂` (task-covariance term).
    pub lambda2: f64,
    /// `ε` of the covariance step.
    pub epsilon: f64,
    /// Outer iterations cap.
    pub max_outer: usize,
    /// Relative objective change that ends the outer loop.
    pub outer_tol: f64,
    /// The inner fits' settings (losses, scaling, intercept, tol, max_iter; `parts` and the
    /// metrics are set by the outer loop).
    pub inner: StructuredParams,
}

/// An alternating fit: the model, the learned covariance, the outer loop's report.
#[derive(Debug, Clone, PartialEq)]
pub struct AlternatingModel {
    /// The final weight step's model.
    pub model: StructuredModel,
    /// The learned covariance: `Ω` (`T × T`) for MTRL, `D` (`d × d`) for feature learning.
    pub covariance: Array2<f64>,
    /// Joint objective after each outer iteration.
    pub objective_trace: Vec<f64>,
    /// Whether the outer loop met `outer_tol` (and every inner fit converged).
    pub converged: bool,
}

impl AlternatingModel {
    /// The model in the common model format (see [`StructuredModel::to_linear_model`]); the
    /// metadata's `structure` also names the alternating `model`, its `hyperparameters` and the
    /// learned `covariance`.
    pub fn to_linear_model(
        &self,
        inner: &StructuredParams,
        data: &MultiTaskDataset,
        model: &str,
        hyperparameters: serde_json::Value,
    ) -> crate::MultiTaskLinearModel {
        let mut m = self.model.to_linear_model(inner, data);
        if let Some(serde_json::Value::Object(st)) = m.structure.as_mut() {
            st.insert("model".into(), model.into());
            st.insert("hyperparameters".into(), hyperparameters);
            st.insert(
                "covariance".into(),
                self.covariance
                    .rows()
                    .into_iter()
                    .map(|r| r.to_vec())
                    .collect::<Vec<_>>()
                    .into(),
            );
            st.insert("outer_iterations".into(), self.objective_trace.len().into());
        }
        m.info.converged = self.converged;
        m
    }

    /// The covariance as correlations (`Ω_ij / √(Ω_ii Ω_jj)`).
    pub fn correlation(&self) -> Array2<f64> {
        let c = &self.covariance;
        Array2::from_shape_fn(c.dim(), |(i, j)| c[[i, j]] / (c[[i, i]] * c[[j, j]]).sqrt())
    }
}

impl Mtrl {
    /// MTRL with `λ₁`, `λ₂`, `ε = 1e-4`, at most 100 outer iterations, `outer_tol = 1e-6`.
    pub fn new(lambda1: f64, lambda2: f64) -> Self {
        Self {
            lambda1,
            lambda2,
            epsilon: 1e-4,
            max_outer: 100,
            outer_tol: 1e-6,
            inner: StructuredParams::new(vec![Regularizer::Ridge { alpha: lambda1 }]),
        }
    }

    /// Fit on `data`.
    ///
    /// # Errors
    /// Invalid hyperparameters (negative `λ`, `ε <= 0`) and the errors of
    /// [`StructuredParams::fit`].
    pub fn fit(&self, data: &MultiTaskDataset) -> Result<AlternatingModel> {
        param::non_negative("lambda1", self.lambda1)?;
        param::non_negative("lambda2", self.lambda2)?;
        param::positive("epsilon", self.epsilon)?;
        let nt = data.n_tasks();
        let eps = self.epsilon;
        alternate(
            data,
            &self.inner,
            vec![Regularizer::Ridge {
                alpha: self.lambda1,
            }],
            true,
            self.lambda2 / 2.0,
            uniform(nt),
            &|w| normalised_sqrt(w, true, eps),
            self.max_outer,
            self.outer_tol,
        )
    }
}

/// The most features [`FeatureLearning`] takes: its covariance step keeps `d × d` matrices
/// (half a GiB each at this size) and takes their eigendecomposition at every outer iteration.
pub const MAX_FEATURE_LEARNING_FEATURES: usize = 8192;

/// Multi-task feature learning (Argyriou, Evgeniou & Pontil, 2008): a learned feature
/// covariance `D` (`d × d`) shared by all tasks,
///
/// `min_{W, b, D} f(W, b) + γ tr(Wᵀ D⁻¹ W)` s.t. `D ⪰ 0, tr D ≤ 1`
///
/// (equivalent to `γ ‖W‖²_*`, a squared trace norm). Alternating minimisation as the paper:
/// `D = (W Wᵀ + ε σ²_max I)^{1/2} / tr(·)`, then the `W` step with the feature metric `D⁻¹`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureLearning {
    /// `γ`.
    pub gamma: f64,
    /// `ε` of the covariance step.
    pub epsilon: f64,
    /// Outer iterations cap.
    pub max_outer: usize,
    /// Relative objective change that ends the outer loop.
    pub outer_tol: f64,
    /// The inner fits' settings.
    pub inner: StructuredParams,
}

impl FeatureLearning {
    /// Feature learning with `γ`, `ε = 1e-4`, at most 100 outer iterations, `outer_tol = 1e-6`.
    pub fn new(gamma: f64) -> Self {
        Self {
            gamma,
            epsilon: 1e-4,
            max_outer: 100,
            outer_tol: 1e-6,
            inner: StructuredParams::new(vec![Regularizer::Ridge { alpha: 0.0 }]),
        }
    }

    /// Fit on `data`.
    ///
    /// # Errors
    /// As [`Mtrl::fit`], and more than [`MAX_FEATURE_LEARNING_FEATURES`] features.
    pub fn fit(&self, data: &MultiTaskDataset) -> Result<AlternatingModel> {
        param::non_negative("gamma", self.gamma)?;
        param::positive("epsilon", self.epsilon)?;
        let d = data.n_features();
        if d > MAX_FEATURE_LEARNING_FEATURES {
            return Err(mtlkit_core::Error::InvalidParameter {
                name: "n_features",
                value: d.to_string(),
                expected: "at most MAX_FEATURE_LEARNING_FEATURES (8192) for feature learning, \
                           which keeps d × d matrices and takes their eigendecomposition at every \
                           outer iteration (the trace norm penalty gives the same family of \
                           solutions without them)",
            }
            .into());
        }
        let eps = self.epsilon;
        alternate(
            data,
            &self.inner,
            vec![Regularizer::Ridge { alpha: 0.0 }],
            false,
            self.gamma,
            uniform(d),
            &|w| normalised_sqrt(w, false, eps),
            self.max_outer,
            self.outer_tol,
        )
    }
}

/// The closed-form covariance step of an alternating model: `W ↦ (covariance, metric)`.
type CovarianceStep<'a> = dyn Fn(&Array2<f64>) -> Result<(Array2<f64>, Array2<f64>)> + 'a;

/// `(I / n, n I)`: the uniform trace-one covariance and its inverse.
fn uniform(n: usize) -> (Array2<f64>, Array2<f64>) {
    (
        Array2::<f64>::eye(n) / n as f64,
        Array2::<f64>::eye(n) * n as f64,
    )
}

/// Clustered multi-task learning, the convex relaxation of Zhou, Chen & Ye (2011; MALSAR's
/// `CMTL`): tasks in `k` clusters, cluster structure relaxed to a matrix `M`,
///
/// `min_{W, b, M} f(W, b) + ρ₁ η (1 + η) tr(W (ηI + M)⁻¹ Wᵀ)` s.t. `tr M = k`, `0 ⪯ M ⪯ I`,
/// `η = ρ₂ / ρ₁`,
///
/// by alternating minimisation: the `W` step is a structured fit with the task metric
/// `η(1 + η)(ηI + M)⁻¹`; the `M` step is closed form from the SVD `W = U Σ Vᵀ`:
/// `M = V diag(m) Vᵀ` with `m_i = clip(σ_i/√ν − η, 0, 1)` and `ν` set by bisection so that
/// `Σ m_i = k` (directions with `σ = 0` share what is left). `covariance` of the result is `M`,
/// whose large entries group tasks of one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusteredMtl {
    /// `ρ₁`.
    pub rho1: f64,
    /// `ρ₂` (`η = ρ₂/ρ₁`).
    pub rho2: f64,
    /// Number of clusters `k` (`1 ≤ k ≤ T`).
    pub k: usize,
    /// Outer iterations cap.
    pub max_outer: usize,
    /// Relative objective change that ends the outer loop.
    pub outer_tol: f64,
    /// The inner fits' settings.
    pub inner: StructuredParams,
}

impl ClusteredMtl {
    /// Clustered MTL with `ρ₁`, `ρ₂`, `k` clusters, at most 100 outer iterations,
    /// `outer_tol = 1e-6`.
    pub fn new(rho1: f64, rho2: f64, k: usize) -> Self {
        Self {
            rho1,
            rho2,
            k,
            max_outer: 100,
            outer_tol: 1e-6,
            inner: StructuredParams::new(vec![Regularizer::Ridge { alpha: 0.0 }]),
        }
    }

    /// Fit on `data`.
    ///
    /// # Errors
    /// `ρ₁ <= 0`, `ρ₂ <= 0`, `k` outside `1..=T`, and the errors of [`StructuredParams::fit`].
    pub fn fit(&self, data: &MultiTaskDataset) -> Result<AlternatingModel> {
        param::positive("rho1", self.rho1)?;
        param::positive("rho2", self.rho2)?;
        let nt = data.n_tasks();
        if self.k == 0 || self.k > nt {
            return Err(mtlkit_core::Error::InvalidParameter {
                name: "k",
                value: self.k.to_string(),
                expected: "a number of clusters between 1 and n_tasks",
            }
            .into());
        }
        let eta = self.rho2 / self.rho1;
        let k = self.k as f64;
        let scale = eta * (1.0 + eta);
        if !scale.is_finite() || scale == 0.0 {
            return Err(mtlkit_core::Error::InvalidParameter {
                name: "rho2 / rho1",
                value: format!("{eta:e}"),
                expected: "a ratio η whose η(1 + η) is a positive finite number (η between \
                           about 1e-308 and 1e154)",
            }
            .into());
        }
        let m0 = Array2::<f64>::eye(nt) * (k / nt as f64);
        let inv0 = Array2::<f64>::eye(nt) * (scale / (eta + k / nt as f64));
        alternate(
            data,
            &self.inner,
            vec![Regularizer::Ridge { alpha: 0.0 }],
            true,
            self.rho1,
            (m0, inv0),
            &|w| cluster_step(w, eta, k),
            self.max_outer,
            self.outer_tol,
        )
    }
}

/// The `M` step of clustered MTL: `(M, η(1 + η)(ηI + M)⁻¹)`.
fn cluster_step(w: &Array2<f64>, eta: f64, k: f64) -> Result<(Array2<f64>, Array2<f64>)> {
    let (d, nt) = w.dim();
    let flat: Vec<f64> = w.iter().copied().collect();
    let (_, s, v) = crate::linalg::svd(&flat, d, nt).ok_or_else(|| LinearError::InvalidModel {
        path: None,
        reason: "the SVD of the coefficients did not converge".into(),
    })?;
    let r = s.len();
    let m_of = |nu: f64| -> Vec<f64> {
        s.iter()
            .map(|&si| (si / nu.sqrt() - eta).clamp(0.0, 1.0))
            .collect()
    };
    let total = |m: &[f64]| m.iter().sum::<f64>();
    // Σ m_i(ν) decreases in ν: bisection on log ν
    let mut m = m_of(1e-300);
    let fill;
    if total(&m) <= k {
        // even ν → 0 leaves mass: the σ = 0 directions (T − r of them, or those with m = 0)
        // share the rest uniformly
        let free = (nt - r) as f64 + m.iter().filter(|&&x| x == 0.0).count() as f64;
        let rest = k - total(&m);
        let c = if free > 0.0 {
            (rest / free).min(1.0)
        } else {
            0.0
        };
        for x in &mut m {
            if *x == 0.0 {
                *x = c;
            }
        }
        fill = if nt > r { c } else { 0.0 };
    } else {
        let (mut lo, mut hi) = (1e-300f64.ln(), 1e300f64.ln());
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if total(&m_of(mid.exp())) > k {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        m = m_of(hi.exp());
        fill = 0.0;
    }
    let scale = eta * (1.0 + eta);
    let mut mm = Array2::<f64>::eye(nt) * fill;
    let mut inv = Array2::<f64>::eye(nt) * (scale / (eta + fill));
    for (q, &mq) in m.iter().enumerate() {
        for i in 0..nt {
            for j in 0..nt {
                let vv = v[i * r + q] * v[j * r + q];
                mm[[i, j]] += vv * (mq - fill);
                inv[[i, j]] += vv * (scale / (eta + mq) - scale / (eta + fill));
            }
        }
    }
    Ok((mm, inv))
}

/// The alternating loop of MTRL, clustered MTL (`tasks_side`) and feature learning.
#[allow(clippy::too_many_arguments)]
fn alternate(
    data: &MultiTaskDataset,
    inner: &StructuredParams,
    parts: Vec<Regularizer>,
    tasks_side: bool,
    weight: f64,
    start: (Array2<f64>, Array2<f64>),
    step: &CovarianceStep<'_>,
    max_outer: usize,
    outer_tol: f64,
) -> Result<AlternatingModel> {
    param::positive_count("max_outer", max_outer)?;
    param::positive("outer_tol", outer_tol)?;
    let (mut cov, mut inv) = start;
    // the data are prepared once; each weight step only changes the metric
    let prepared = inner.prepare_data(data)?;
    let mut trace = Vec::new();
    let mut prev: Option<Vec<Array2<f64>>> = None;
    let mut all_inner = true;
    let mut converged = false;
    let mut model = None;
    for _ in 0..max_outer {
        let mut p = inner.clone();
        p.parts.clone_from(&parts);
        if tasks_side {
            p.task_metric = Some((inv.clone(), weight));
        } else {
            p.feature_metric = Some((inv.clone(), weight));
        }
        let m = p.fit_prepared(&prepared, prev.as_deref())?;
        all_inner &= m.info.converged;
        (cov, inv) = step(&m.coef)?;
        // joint objective at (W, new covariance): the inner objective with the old metric
        // replaced by the new one
        let w = &m.coef;
        let quad = if tasks_side {
            (w.dot(&inv) * w).sum()
        } else {
            (inv.dot(w) * w).sum()
        };
        let old_quad = if tasks_side {
            p.task_metric
                .as_ref()
                .map_or(0.0, |(a, _)| (w.dot(a) * w).sum())
        } else {
            p.feature_metric
                .as_ref()
                .map_or(0.0, |(a, _)| (a.dot(w) * w).sum())
        };
        let obj = m.info.objective - weight * old_quad + weight * quad;
        prev = Some(m.parts.clone());
        model = Some(m);
        if let Some(&last) = trace.last() {
            let last: f64 = last;
            trace.push(obj);
            if (last - obj).abs() <= outer_tol * last.abs().max(1e-300) {
                converged = true;
                break;
            }
        } else {
            trace.push(obj);
        }
    }
    let model = model.ok_or_else(|| LinearError::InvalidModel {
        path: None,
        reason: "no outer iteration ran".into(),
    })?;
    if !(converged && all_inner) {
        log::warn!(
            "alternating fit stopped after {} outer iterations without meeting outer_tol {:.1e}              (or an inner fit did not converge)",
            trace.len(),
            outer_tol
        );
    }
    Ok(AlternatingModel {
        model,
        covariance: cov,
        objective_trace: trace,
        converged: converged && all_inner,
    })
}

/// GO-MTL (Kumar & Daumé III, 2012): a latent basis shared by all tasks, `W = L S` with
/// `L` (`d × k`) and sparse task codes `S` (`k × T`),
///
/// `min_{L, S, b} f(L S, b) + μ ‖S‖₁ + λ ‖L‖²_F`
///
/// (non-convex jointly, convex in each factor). Start: `L`, `S` from the top `k` singular
/// triplets of an independent ridge fit (`W ≈ U_k Σ_k V_kᵀ`, `L = U_k Σ_k^{1/2}`,
/// `S = Σ_k^{1/2} V_kᵀ`); then alternate an `S` step (FISTA with soft-thresholding) and an
/// `L` step (accelerated gradient), each stopped on its KKT residual (`inner.tol`), and a
/// closed-form rebalancing of each basis column against its codes (`W` unchanged, objective
/// lower), until the objective changes by less than `outer_tol` (relative).
#[derive(Debug, Clone, PartialEq)]
pub struct GoMtl {
    /// Latent basis size `k`.
    pub k: usize,
    /// `μ` (sparsity of the codes).
    pub mu: f64,
    /// `λ` (size of the basis).
    pub lambda: f64,
    /// Outer iterations cap.
    pub max_outer: usize,
    /// Relative objective change that ends the outer loop.
    pub outer_tol: f64,
    /// Losses, scaling, intercept, inner `tol` and `max_iter`.
    pub inner: StructuredParams,
}

/// A fitted GO-MTL model.
#[derive(Debug, Clone, PartialEq)]
pub struct GoMtlModel {
    /// `W = L S`, `n_features × n_tasks`.
    pub coef: Array2<f64>,
    /// The basis `L`, `n_features × k`.
    pub basis: Array2<f64>,
    /// The codes `S`, `k × n_tasks` (which basis vectors each task uses).
    pub codes: Array2<f64>,
    /// One intercept per task.
    pub intercept: Array1<f64>,
    /// Objective after each outer iteration.
    pub objective_trace: Vec<f64>,
    /// Whether the outer loop met `outer_tol` and every inner step its `tol`.
    pub converged: bool,
}

impl GoMtl {
    /// GO-MTL with `k`, `μ`, `λ`, at most 5000 outer iterations (alternating on a product
    /// converges slowly: the codes' preference for sparsity rotates the basis a little at
    /// each step; thousands of cheap iterations are usual), `outer_tol = 1e-6`.
    pub fn new(k: usize, mu: f64, lambda: f64) -> Self {
        Self {
            k,
            mu,
            lambda,
            max_outer: 5000,
            outer_tol: 1e-6,
            inner: StructuredParams::new(vec![Regularizer::Ridge { alpha: 0.0 }]),
        }
    }

    /// Fit on `data`.
    ///
    /// # Errors
    /// `k` outside `1..=min(d, T)`, negative `μ`, `λ`, and the errors of
    /// [`StructuredParams::fit`].
    pub fn fit(&self, data: &MultiTaskDataset) -> Result<GoMtlModel> {
        let (d, nt) = (data.n_features(), data.n_tasks());
        param::non_negative("mu", self.mu)?;
        param::non_negative("lambda", self.lambda)?;
        param::positive_count("max_outer", self.max_outer)?;
        param::positive("outer_tol", self.outer_tol)?;
        if self.k == 0 || self.k > d.min(nt) {
            return Err(mtlkit_core::Error::InvalidParameter {
                name: "k",
                value: self.k.to_string(),
                expected: "a basis size between 1 and min(n_features, n_tasks)",
            }
            .into());
        }
        let k = self.k;
        let losses = self.inner.check(nt)?;
        let prep = pertask::prepare(data, &losses, self.inner.scaling, self.inner.fit_intercept)?;
        let task_grams = grams(&prep.tasks, d);
        let pb = Problem {
            tasks: &prep.tasks,
            grams: &task_grams,
            d,
            nt,
            quads: Vec::new(),
        };
        // start: ridge, then its top-k singular triplets
        let ridge_alpha = 1e-3 * self.lambda.max(1e-3);
        let w0 = apg(
            &pb,
            &[Regularizer::Ridge { alpha: ridge_alpha }],
            vec![vec![0.0; d * nt]],
            self.inner.tol,
            self.inner.max_iter,
        );
        let (u, sv, v) =
            crate::linalg::svd(&w0.parts[0], d, nt).ok_or_else(|| LinearError::InvalidModel {
                path: None,
                reason: "the SVD of the starting coefficients did not converge".into(),
            })?;
        let r = sv.len();
        let mut l: Vec<f64> = (0..d * k)
            .map(|i| u[(i / k) * r + i % k] * sv[i % k].sqrt())
            .collect();
        let mut sc: Vec<f64> = (0..k * nt)
            .map(|i| v[(i % nt) * r + i / nt] * sv[i / nt].sqrt())
            .collect();
        let mut b = w0.b;
        let lasso = Regularizer::Lasso { alpha: self.mu };
        let mut trace: Vec<f64> = Vec::new();
        let (mut converged, mut all_inner) = (false, true);
        for _ in 0..self.max_outer {
            // S step: W = L S, linear in S
            let (s_new, b_new, ok) = factor_fista(
                &pb,
                &|x: &[f64]| matmul(&l, x, d, k, nt),
                &|g: &[f64]| matmul_tn(&l, g, d, k, nt),
                &|x: &mut [f64], step: f64| lasso.prox_of(x, k, nt, step),
                0.0,
                sc.clone(),
                b.clone(),
                self.inner.tol,
                self.inner.max_iter,
            );
            sc = s_new;
            b = b_new;
            all_inner &= ok;
            // L step: W = L S, linear in L; ridge λ‖L‖² = (2λ)/2 ‖L‖²
            let (l_new, b_new, ok) = factor_fista(
                &pb,
                &|x: &[f64]| matmul(x, &sc, d, k, nt),
                &|g: &[f64]| matmul_nt(g, &sc, d, k, nt),
                &|_: &mut [f64], _: f64| {},
                2.0 * self.lambda,
                l.clone(),
                b.clone(),
                self.inner.tol,
                self.inner.max_iter,
            );
            l = l_new;
            b = b_new;
            all_inner &= ok;
            // rebalance each basis column (W unchanged): L_q ← c L_q, S_q ← S_q / c with the c
            // minimising μ‖S_q‖₁/c + λ c² ‖L_q‖², c³ = μ‖S_q‖₁ / (2λ‖L_q‖²); removes the slow
            // scale drift of alternating on a product
            for q in 0..k {
                let l2: f64 = (0..d).map(|i| l[i * k + q].powi(2)).sum();
                let s1: f64 = (0..nt).map(|j| sc[q * nt + j].abs()).sum();
                if l2 > 0.0 && s1 > 0.0 && self.lambda > 0.0 && self.mu > 0.0 {
                    let c = (self.mu * s1 / (2.0 * self.lambda * l2)).cbrt();
                    (0..d).for_each(|i| l[i * k + q] *= c);
                    (0..nt).for_each(|j| sc[q * nt + j] /= c);
                }
            }
            let w = matmul(&l, &sc, d, k, nt);
            let obj = pb.eval(&w, &b, None)
                + self.mu * sc.iter().map(|x| x.abs()).sum::<f64>()
                + self.lambda * l.iter().map(|x| x * x).sum::<f64>();
            let done = trace
                .last()
                .is_some_and(|&last: &f64| (last - obj).abs() <= self.outer_tol * last.abs());
            trace.push(obj);
            if done {
                converged = true;
                break;
            }
        }
        let coef = Array2::from_shape_vec((d, nt), matmul(&l, &sc, d, k, nt))
            .unwrap_or_else(|_| unreachable!("W is d × T"));
        let intercept = prep.intercepts(coef.view(), &b);
        if !(converged && all_inner) {
            log::warn!(
                "GO-MTL stopped after {} outer iterations without meeting outer_tol {:.1e} (or \
                 an inner step did not converge)",
                trace.len(),
                self.outer_tol
            );
        }
        Ok(GoMtlModel {
            coef,
            basis: Array2::from_shape_vec((d, k), l).unwrap_or_else(|_| unreachable!("L is d × k")),
            codes: Array2::from_shape_vec((k, nt), sc)
                .unwrap_or_else(|_| unreachable!("S is k × T")),
            intercept,
            objective_trace: trace,
            converged: converged && all_inner,
        })
    }
}

impl GoMtlModel {
    /// The model in the common model format (see [`StructuredModel::to_linear_model`]), with
    /// `k`, `μ`, `λ`, the basis and the codes in the metadata's `structure`.
    pub fn to_linear_model(
        &self,
        params: &GoMtl,
        data: &MultiTaskDataset,
    ) -> crate::MultiTaskLinearModel {
        let sm = StructuredModel {
            coef: self.coef.clone(),
            parts: vec![self.coef.clone()],
            intercept: self.intercept.clone(),
            losses: vec![Loss::Squared; self.coef.ncols()],
            classes: vec![None; self.coef.ncols()],
            info: StructuredInfo {
                n_iter: self.objective_trace.len(),
                kkt_residual: f64::NAN,
                objective: self.objective_trace.last().copied().unwrap_or(f64::NAN),
                converged: self.converged,
            },
        };
        let mut m = sm.to_linear_model(&params.inner, data);
        m.info.dual_gap = 0.0;
        if let Some(serde_json::Value::Object(st)) = m.structure.as_mut() {
            let rows =
                |a: &Array2<f64>| a.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>();
            st.insert("model".into(), "go-mtl".into());
            st.insert(
                "hyperparameters".into(),
                serde_json::json!({"k": params.k, "mu": params.mu, "lambda": params.lambda}),
            );
            st.insert("basis".into(), rows(&self.basis).into());
            st.insert("codes".into(), rows(&self.codes).into());
            st.insert("kkt_residual".into(), serde_json::Value::Null);
        }
        m
    }
}

/// `A B` for row-major `A` (`d × k`) and `B` (`k × t`).
fn matmul(a: &[f64], b: &[f64], d: usize, k: usize, t: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * t];
    for i in 0..d {
        for q in 0..k {
            let aiq = a[i * k + q];
            if aiq != 0.0 {
                for j in 0..t {
                    out[i * t + j] += aiq * b[q * t + j];
                }
            }
        }
    }
    out
}

/// `Aᵀ G` for `A` (`d × k`) and `G` (`d × t`): `k × t`.
fn matmul_tn(a: &[f64], g: &[f64], d: usize, k: usize, t: usize) -> Vec<f64> {
    let mut out = vec![0.0; k * t];
    for i in 0..d {
        for q in 0..k {
            let aiq = a[i * k + q];
            for j in 0..t {
                out[q * t + j] += aiq * g[i * t + j];
            }
        }
    }
    out
}

/// `G Bᵀ` for `G` (`d × t`) and `B` (`k × t`): `d × k`.
fn matmul_nt(g: &[f64], b: &[f64], d: usize, k: usize, t: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * k];
    for i in 0..d {
        for q in 0..k {
            out[i * k + q] = (0..t).map(|j| g[i * t + j] * b[q * t + j]).sum();
        }
    }
    out
}

/// FISTA over a variable `x` mapped linearly to `W = map(x)` (`adjoint` maps `∇_W f` back),
/// with a proximal term and a ridge `ρ/2 ‖x‖²`; the intercepts are optimised alongside.
/// Same backtracking, restart and KKT stopping rule as [`apg`]. Returns `(x, b, converged)`.
#[allow(clippy::too_many_arguments)]
fn factor_fista(
    pb: &Problem<'_>,
    map: &dyn Fn(&[f64]) -> Vec<f64>,
    adjoint: &dyn Fn(&[f64]) -> Vec<f64>,
    prox: &dyn Fn(&mut [f64], f64),
    rho: f64,
    x0: Vec<f64>,
    b0: Vec<f64>,
    tol: f64,
    max_iter: usize,
) -> (Vec<f64>, Vec<f64>, bool) {
    let (d, nt) = (pb.d, pb.nt);
    let mut gw = vec![0.0; d * nt];
    let mut gb = vec![0.0; nt];
    let grad = |x: &[f64], b: &[f64], gw: &mut Vec<f64>, gb: &mut Vec<f64>| -> Vec<f64> {
        let w = map(x);
        pb.eval(&w, b, Some((gw, gb)));
        let mut g = adjoint(gw);
        g.iter_mut().zip(x).for_each(|(gi, xi)| *gi += rho * xi);
        g
    };
    // scale: the gradient at the start
    let g0 = grad(&x0, &b0, &mut gw, &mut gb);
    let scale = (g0.iter().chain(&gb).map(|v| v * v).sum::<f64>())
        .sqrt()
        .max(1e-300);
    let (mut x, mut b) = (x0, b0);
    let (mut yx, mut yb) = (x.clone(), b.clone());
    let (mut s, mut tk) = (1.0f64, 1.0f64);
    for _ in 0..max_iter {
        let g = grad(&yx, &yb, &mut gw, &mut gb);
        let wy = map(&yx);
        s *= 1.25;
        let (nx, nb) = loop {
            let mut nx: Vec<f64> = yx.iter().zip(&g).map(|(a, gi)| a - s * gi).collect();
            prox(&mut nx, s);
            let nb: Vec<f64> = yb.iter().zip(&gb).map(|(a, gi)| a - s * gi).collect();
            let dx: Vec<f64> = nx.iter().zip(&yx).map(|(a, c)| a - c).collect();
            let db: Vec<f64> = nb.iter().zip(&yb).map(|(a, c)| a - c).collect();
            let dw = map(&dx);
            let curv =
                pb.bregman(&wy, &yb, &dw, &db) + 0.5 * rho * dx.iter().map(|v| v * v).sum::<f64>();
            let dd: f64 = dx.iter().chain(&db).map(|v| v * v).sum();
            if curv <= dd / (2.0 * s) || s < 1e-20 {
                break (nx, nb);
            }
            s *= 0.5;
        };
        let res: f64 = nx
            .iter()
            .zip(&yx)
            .chain(nb.iter().zip(&yb))
            .map(|(a, c)| (a - c) * (a - c))
            .sum::<f64>()
            .sqrt()
            / s;
        // restart when the step goes against the momentum
        let dot: f64 = yx
            .iter()
            .zip(&nx)
            .zip(&x)
            .map(|((a, n), o)| (a - n) * (n - o))
            .sum();
        if dot > 0.0 {
            tk = 1.0;
            yx.clone_from(&nx);
            yb.clone_from(&nb);
        } else {
            let tn = 0.5 * (1.0 + (1.0 + 4.0 * tk * tk).sqrt());
            let beta = (tk - 1.0) / tn;
            yx = nx.iter().zip(&x).map(|(a, o)| a + beta * (a - o)).collect();
            yb = nb.iter().zip(&b).map(|(a, o)| a + beta * (a - o)).collect();
            tk = tn;
        }
        x = nx;
        b = nb;
        if res <= tol * scale {
            return (x, b, true);
        }
    }
    (x, b, false)
}

/// The result of [`StructuredParams::cross_validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct StructuredCv {
    /// The chosen scale of every strength.
    pub scale: f64,
    /// The scales tried.
    pub scales: Vec<f64>,
    /// Held-out loss, `n_scales × n_folds`.
    pub scores: Array2<f64>,
    /// Refitted on all the data at `scale`.
    pub model: StructuredModel,
}

/// Mean over tasks of each task's mean held-out loss on `test` (labels of logistic tasks mapped
/// to `{0, 1}` by the model's classes).
fn held_out_loss(m: &StructuredModel, test: &MultiTaskDataset, losses: &[Loss]) -> f64 {
    use mtlkit_core::TaskId;
    let nt = test.n_tasks();
    let mut total = 0.0;
    for (t, &loss) in losses.iter().enumerate().take(nt) {
        let (x, y) = test.task(TaskId(t));
        let (mut sum, mut n) = (0.0, 0usize);
        for (row, &yi) in x.rows().into_iter().zip(y.iter()) {
            if yi.is_nan() {
                continue;
            }
            let z = row.dot(&m.coef.column(t)) + m.intercept[t];
            sum += match loss {
                Loss::Squared => (yi - z) * (yi - z),
                Loss::Logistic => {
                    let y01 = match m.classes[t] {
                        Some([_, one]) => f64::from(u8::from(yi == one)),
                        None => yi,
                    };
                    log1pexp(z) - y01 * z
                }
            };
            n += 1;
        }
        total += if n > 0 { sum / n as f64 } else { 0.0 };
    }
    total / nt as f64
}

/// Data prepared once for several structured fits.
struct PreparedData {
    prep: pertask::Prepared,
    grams: Vec<Option<Gram>>,
    losses: Vec<Loss>,
    d: usize,
    nt: usize,
}

/// Convergence report of a structured fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StructuredInfo {
    /// FISTA iterations (including the convex warm start of non-convex penalties).
    pub n_iter: usize,
    /// Relative KKT residual `‖G_s(x)‖_F / ‖∇f(0)‖_F` of the returned point.
    pub kkt_residual: f64,
    /// Objective at the returned point (the prepared problem: centred squared tasks).
    pub objective: f64,
    /// Whether the residual met `tol`.
    pub converged: bool,
}

/// A fitted structured model.
#[derive(Debug, Clone, PartialEq)]
pub struct StructuredModel {
    /// `W = Σ parts`, `n_features × n_tasks`.
    pub coef: Array2<f64>,
    /// The parts (e.g. `w₀ 1ᵀ` and `V` for mean regularization; `P`, `Q` for dirty models).
    pub parts: Vec<Array2<f64>>,
    /// One intercept per task.
    pub intercept: Array1<f64>,
    /// Loss per task.
    pub losses: Vec<Loss>,
    /// Class labels of logistic tasks.
    pub classes: Vec<Option<[f64; 2]>>,
    /// Convergence report.
    pub info: StructuredInfo,
}

impl StructuredModel {
    /// The model in the form every tool reads (`mtlkit predict`, the Python package): a
    /// [`crate::MultiTaskLinearModel`] of kind `structured` with `params`' regularizers in its
    /// `structure`, named after `data`'s tasks and features.
    pub fn to_linear_model(
        &self,
        params: &StructuredParams,
        data: &MultiTaskDataset,
    ) -> crate::MultiTaskLinearModel {
        let structure = serde_json::json!({
            "parts": params.parts,
            "graph": params.graph.as_ref().map(|g| serde_json::json!({
                "r": g.r.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
                "alpha": g.alpha,
            })),
            "kkt_residual": self.info.kkt_residual,
            "objective": self.info.objective,
        });
        crate::MultiTaskLinearModel {
            coef: self.coef.clone(),
            intercept: self.intercept.clone(),
            task_names: data.task_names().into(),
            feature_names: data.feature_names().into(),
            hyperparameters: crate::Hyperparameters {
                estimator: crate::EstimatorKind::Structured,
                alpha: params.parts.iter().map(Regularizer::alpha).sum(),
                l1_ratio: 1.0,
                fit_intercept: params.fit_intercept,
                tol: params.tol,
                max_iter: params.max_iter,
                selection: crate::Selection::Cyclic,
                random_state: 0,
                screening: false,
                working_set: false,
                anderson: false,
                gram: crate::GramMode::Auto,
                scaling: params.scaling,
                mixed_precision: false,
            },
            info: crate::FitInfo {
                n_iter: self.info.n_iter,
                dual_gap: self.info.kkt_residual,
                converged: self.info.converged,
            },
            losses: self.losses.clone(),
            classes: self.classes.clone(),
            structure: Some(structure),
            class_labels: None,
        }
    }

    /// `X W + 1 bᵀ` for `x` (`n × d`): predictions (squared tasks) or log-odds (logistic).
    ///
    /// # Errors
    /// A feature-count mismatch.
    pub fn decision_function(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.coef.nrows() {
            return Err(mtlkit_core::Error::ShapeMismatch {
                what: "features of X vs the model",
                task: None,
                expected: self.coef.nrows(),
                found: x.ncols(),
            }
            .into());
        }
        Ok(x.dot(&self.coef) + &self.intercept)
    }

    /// Numerical rank of `W`: singular values above `rel_tol · σ_max` (a NaN `rel_tol` counts
    /// as 0: every non-zero singular value).
    pub fn rank(&self, rel_tol: f64) -> usize {
        let rel_tol = if rel_tol.is_nan() { 0.0 } else { rel_tol };
        let (d, nt) = self.coef.dim();
        let w: Vec<f64> = self.coef.iter().copied().collect();
        let s = crate::linalg::singular_values(&w, d, nt);
        let top = s.iter().fold(0.0f64, |m, v| m.max(*v));
        s.iter().filter(|&&v| v > rel_tol * top).count()
    }
}

/// Gram form of a squared task with `n_t > d`: `XᵀX` (`d × d`, shared between tasks with the
/// same design), `Xᵀy`, `‖y‖²`; a pass then costs `d²` instead of `n_t·d`.
struct Gram {
    g: std::sync::Arc<Vec<f64>>,
    h: Vec<f64>,
    y2: f64,
}

fn grams(tasks: &[Task], d: usize) -> Vec<Option<Gram>> {
    let mut cache: Vec<(*const Vec<f64>, std::sync::Arc<Vec<f64>>)> = Vec::new();
    tasks
        .iter()
        .map(|task| {
            if task.loss != Loss::Squared || task.n <= d {
                return None;
            }
            let key = std::sync::Arc::as_ptr(&task.x);
            let g = match cache.iter().find(|(k, _)| *k == key) {
                Some((_, g)) => std::sync::Arc::clone(g),
                None => {
                    let mut g = vec![0.0; d * d];
                    crate::linalg::gram(&task.x, task.n, d, &mut g, 1);
                    let g = std::sync::Arc::new(g);
                    cache.push((key, std::sync::Arc::clone(&g)));
                    g
                }
            };
            let n = task.n;
            let h = (0..d)
                .map(|j| crate::linalg::dot(&task.x[j * n..(j + 1) * n], &task.y))
                .collect();
            let y2 = task.y.iter().map(|v| v * v).sum();
            Some(Gram { g, h, y2 })
        })
        .collect()
}

/// The smooth part: the data term over prepared tasks plus the graph term.
struct Problem<'a> {
    tasks: &'a [Task],
    grams: &'a [Option<Gram>],
    d: usize,
    nt: usize,
    /// Quadratic terms `α tr(W M Wᵀ)` (task side) and `α tr(Wᵀ A W)` (feature side).
    quads: Vec<Quad>,
}

/// A quadratic term; `m` row-major, `T × T` on the task side, `d × d` on the feature side.
struct Quad {
    tasks_side: bool,
    m: Vec<f64>,
    alpha: f64,
}

impl Quad {
    /// `α tr(W M Wᵀ)` or `α tr(Wᵀ A W)` of `w` (`d × T` row-major), adding `2α W M` / `2α A W`
    /// to `grad` when given.
    fn eval(&self, w: &[f64], d: usize, nt: usize, grad: Option<&mut [f64]>) -> f64 {
        let (m, alpha) = (&self.m, self.alpha);
        let mut f = 0.0;
        let mut mw = vec![0.0; d * nt];
        if self.tasks_side {
            for j in 0..d {
                let row = &w[j * nt..(j + 1) * nt];
                for s in 0..nt {
                    mw[j * nt + s] = (0..nt).map(|u| row[u] * m[u * nt + s]).sum();
                }
            }
        } else {
            for j in 0..d {
                for k in 0..d {
                    let a = m[j * d + k];
                    if a != 0.0 {
                        for t in 0..nt {
                            mw[j * nt + t] += a * w[k * nt + t];
                        }
                    }
                }
            }
        }
        f += alpha * w.iter().zip(&mw).map(|(a, b)| a * b).sum::<f64>();
        if let Some(g) = grad {
            g.iter_mut()
                .zip(&mw)
                .for_each(|(gi, v)| *gi += 2.0 * alpha * v);
        }
        f
    }
}

impl Problem<'_> {
    /// `f(W, b)`; with `grad`, also `∇_W f` (row-major `d × T`) and `∇_b f`.
    fn eval(&self, w: &[f64], b: &[f64], grad: Option<(&mut [f64], &mut [f64])>) -> f64 {
        let (d, nt) = (self.d, self.nt);
        let mut f = 0.0;
        let mut grad = grad;
        if let Some((gw, gb)) = grad.as_mut() {
            gw.iter_mut().for_each(|v| *v = 0.0);
            gb.iter_mut().for_each(|v| *v = 0.0);
        }
        for (t, task) in self.tasks.iter().enumerate() {
            if let Some(gr) = &self.grams[t] {
                let wt: Vec<f64> = (0..d).map(|j| w[j * nt + t]).collect();
                let mut gw_t = vec![0.0; d];
                for (k, &v) in wt.iter().enumerate() {
                    if v != 0.0 {
                        crate::linalg::axpy(v, &gr.g[k * d..(k + 1) * d], &mut gw_t);
                    }
                }
                let quad: f64 = crate::linalg::dot(&wt, &gw_t);
                let lin: f64 = crate::linalg::dot(&wt, &gr.h);
                f += task.c * 0.5 * (quad - 2.0 * lin + gr.y2).max(0.0);
                if let Some((gw, _)) = grad.as_mut() {
                    for j in 0..d {
                        gw[j * nt + t] = task.c * (gw_t[j] - gr.h[j]);
                    }
                }
                continue;
            }
            let n = task.n;
            let x = &task.x;
            let mut z = vec![if task.intercept { b[t] } else { 0.0 }; n];
            for j in 0..d {
                let wj = w[j * nt + t];
                if wj != 0.0 {
                    crate::linalg::axpy(wj, &x[j * n..(j + 1) * n], &mut z);
                }
            }
            // residual-like vector: dℓ/dz (times sample weights)
            let mut r = vec![0.0; n];
            match task.loss {
                Loss::Squared => {
                    for i in 0..n {
                        let e = z[i] - task.y[i];
                        f += task.c * 0.5 * e * e;
                        r[i] = e;
                    }
                }
                Loss::Logistic => {
                    for i in 0..n {
                        let s = task.s.get(i).copied().unwrap_or(1.0);
                        f += task.c * s * (log1pexp(z[i]) - task.y[i] * z[i]);
                        r[i] = s * (sigmoid(z[i]) - task.y[i]);
                    }
                }
            }
            if let Some((gw, gb)) = grad.as_mut() {
                for j in 0..d {
                    gw[j * nt + t] = task.c * crate::linalg::dot(&x[j * n..(j + 1) * n], &r);
                }
                if task.intercept {
                    gb[t] = task.c * r.iter().sum::<f64>();
                }
            }
        }
        for q in &self.quads {
            f += q.eval(w, d, nt, grad.as_mut().map(|(gw, _)| &mut **gw));
        }
        f
    }
}

impl Problem<'_> {
    /// `f(y + Δ) − f(y) − ⟨∇f(y), Δ⟩` computed without cancellation: `½ c ‖X Δ‖²` for squared
    /// tasks, the per-sample Bregman divergence of `log(1 + eᶻ)` (second-order Taylor form for
    /// tiny changes) for logistic tasks, `α ‖Δ R‖²` for the graph term.
    fn bregman(&self, w: &[f64], b: &[f64], dw: &[f64], db: &[f64]) -> f64 {
        let (d, nt) = (self.d, self.nt);
        let mut total = 0.0;
        for (t, task) in self.tasks.iter().enumerate() {
            if let Some(gr) = &self.grams[t] {
                let dt: Vec<f64> = (0..d).map(|j| dw[j * nt + t]).collect();
                let mut gd = vec![0.0; d];
                for (k, &v) in dt.iter().enumerate() {
                    if v != 0.0 {
                        crate::linalg::axpy(v, &gr.g[k * d..(k + 1) * d], &mut gd);
                    }
                }
                total += 0.5 * task.c * crate::linalg::dot(&dt, &gd).max(0.0);
                continue;
            }
            let n = task.n;
            let x = &task.x;
            let mut dz = vec![if task.intercept { db[t] } else { 0.0 }; n];
            for j in 0..d {
                let v = dw[j * nt + t];
                if v != 0.0 {
                    crate::linalg::axpy(v, &x[j * n..(j + 1) * n], &mut dz);
                }
            }
            match task.loss {
                Loss::Squared => total += 0.5 * task.c * dz.iter().map(|v| v * v).sum::<f64>(),
                Loss::Logistic => {
                    let mut z = vec![if task.intercept { b[t] } else { 0.0 }; n];
                    for j in 0..d {
                        let v = w[j * nt + t];
                        if v != 0.0 {
                            crate::linalg::axpy(v, &x[j * n..(j + 1) * n], &mut z);
                        }
                    }
                    let mut sum = 0.0;
                    for i in 0..n {
                        let (z0, dl) = (z[i], dz[i]);
                        let p = sigmoid(z0);
                        let div = if dl.abs() < 1e-4 {
                            let q = p * (1.0 - p);
                            0.5 * q * dl * dl + q * (1.0 - 2.0 * p) * dl * dl * dl / 6.0
                        } else {
                            log1pexp(z0 + dl) - log1pexp(z0) - p * dl
                        };
                        sum += task.s.get(i).copied().unwrap_or(1.0) * div.max(0.0);
                    }
                    total += task.c * sum;
                }
            }
        }
        for q in &self.quads {
            total += q.eval(dw, d, nt, None);
        }
        total
    }
}

struct ApgResult {
    parts: Vec<Vec<f64>>,
    b: Vec<f64>,
    n_iter: usize,
    kkt: f64,
    objective: f64,
    converged: bool,
}

fn sum_parts(parts: &[Vec<f64>], out: &mut [f64]) {
    out.iter_mut().for_each(|v| *v = 0.0);
    for p in parts {
        out.iter_mut().zip(p).for_each(|(o, v)| *o += v);
    }
}

/// One prox-gradient step from `(yp, yb)` with gradient `(g, gb)` and step `s`.
#[allow(clippy::too_many_arguments)]
fn prox_step(
    regs: &[Regularizer],
    yp: &[Vec<f64>],
    yb: &[f64],
    g: &[f64],
    gb: &[f64],
    s: f64,
    d: usize,
    nt: usize,
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let parts = regs
        .iter()
        .zip(yp)
        .map(|(r, p)| {
            let mut q: Vec<f64> = p.iter().zip(g).map(|(a, b)| a - s * b).collect();
            r.prox_of(&mut q, d, nt, s);
            q
        })
        .collect();
    let b = yb.iter().zip(gb).map(|(a, b)| a - s * b).collect();
    (parts, b)
}

/// `Σ ‖a − b‖²` over parts and intercepts, and `Σ ⟨u, v⟩` helpers.
fn dist2(ap: &[Vec<f64>], ab: &[f64], bp: &[Vec<f64>], bb: &[f64]) -> f64 {
    let parts: f64 = ap
        .iter()
        .zip(bp)
        .map(|(p, q)| p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
        .sum();
    parts
        + ab.iter()
            .zip(bb)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
}

/// FISTA with backtracking (and step increase), adaptive restart and a monotone safeguard.
fn apg(
    pb: &Problem<'_>,
    regs: &[Regularizer],
    x0: Vec<Vec<f64>>,
    tol: f64,
    max_iter: usize,
) -> ApgResult {
    let (d, nt) = (pb.d, pb.nt);
    let penalty = |parts: &[Vec<f64>]| -> f64 {
        regs.iter()
            .zip(parts)
            .map(|(r, p)| r.value_of(p, d, nt))
            .sum::<f64>()
    };
    let mut w = vec![0.0; d * nt];
    let mut g = vec![0.0; d * nt];
    let mut gb = vec![0.0; nt];
    // scale of the stopping rule: the data gradient at W = 0
    let zero_b = vec![0.0; nt];
    pb.eval(&w, &zero_b, Some((&mut g, &mut gb)));
    let scale = (g.iter().chain(&gb).map(|v| v * v).sum::<f64>())
        .sqrt()
        .max(1e-300);
    // feasible start for constrained parts (SharedMean): project x0
    let mut x: Vec<Vec<f64>> = x0;
    for (r, p) in regs.iter().zip(x.iter_mut()) {
        if matches!(r, Regularizer::SharedMean { .. }) {
            r.prox_of(p, d, nt, 0.0);
        }
    }
    let mut xb = vec![0.0; nt];
    let mut yp = x.clone();
    let mut yb = xb.clone();
    sum_parts(&x, &mut w);
    let mut fx = pb.eval(&w, &xb, None) + penalty(&x);
    let mut s = 1.0;
    let mut tk = 1.0f64;
    let mut kkt = f64::INFINITY;
    let mut converged = false;
    let mut it = 0;
    let mut wn = vec![0.0; d * nt];
    while it < max_iter {
        it += 1;
        sum_parts(&yp, &mut w);
        pb.eval(&w, &yb, Some((&mut g, &mut gb)));
        // backtracking: try a larger step first, halve until the quadratic bound holds
        s *= 1.25;
        let (np, nb, fnew) = loop {
            let (np, nb) = prox_step(regs, &yp, &yb, &g, &gb, s, d, nt);
            sum_parts(&np, &mut wn);
            let dw: Vec<f64> = wn.iter().zip(&w).map(|(a, b)| a - b).collect();
            let db: Vec<f64> = nb.iter().zip(&yb).map(|(a, b)| a - b).collect();
            let dd = dist2(&np, &nb, &yp, &yb);
            // the sufficient-decrease test in its cancellation-free form
            if pb.bregman(&w, &yb, &dw, &db) <= dd / (2.0 * s) || s < 1e-20 {
                let fnew = pb.eval(&wn, &nb, None);
                break (np, nb, fnew);
            }
            s *= 0.5;
        };
        let fnew_total = fnew + penalty(&np);
        // KKT residual at y (cheap); confirm at the new point before stopping
        let res_y = dist2(&np, &nb, &yp, &yb).sqrt() / s;
        if res_y <= tol * scale {
            let fx_chk = pb.eval(&wn, &nb, Some((&mut g, &mut gb)));
            let (cp, cb) = prox_step(regs, &np, &nb, &g, &gb, s, d, nt);
            let res_x = dist2(&cp, &cb, &np, &nb).sqrt() / s;
            kkt = res_x / scale;
            if res_x <= tol * scale {
                x = np;
                xb = nb;
                fx = fx_chk + penalty(&x);
                converged = true;
                break;
            }
        }
        // adaptive restart (gradient scheme) and monotone safeguard
        let restart_dot: f64 = yp
            .iter()
            .zip(&np)
            .zip(&x)
            .map(|((y, n), o)| {
                y.iter()
                    .zip(n)
                    .zip(o)
                    .map(|((a, b), c)| (a - b) * (b - c))
                    .sum::<f64>()
            })
            .sum::<f64>()
            + yb.iter()
                .zip(&nb)
                .zip(&xb)
                .map(|((a, b), c)| (a - b) * (b - c))
                .sum::<f64>();
        let rose = fnew_total > fx + 1e-15 * fx.abs();
        if rose || restart_dot > 0.0 {
            tk = 1.0;
            if rose {
                // no progress from the extrapolated point: restart from x
                yp.clone_from(&x);
                yb.clone_from(&xb);
                continue;
            }
            yp.clone_from(&np);
            yb.clone_from(&nb);
        } else {
            let tn = 0.5 * (1.0 + (1.0 + 4.0 * tk * tk).sqrt());
            let beta = (tk - 1.0) / tn;
            yp = np
                .iter()
                .zip(&x)
                .map(|(n, o)| n.iter().zip(o).map(|(a, b)| a + beta * (a - b)).collect())
                .collect();
            yb = nb
                .iter()
                .zip(&xb)
                .map(|(a, b)| a + beta * (a - b))
                .collect();
            tk = tn;
        }
        x = np;
        xb = nb;
        fx = fnew_total;
        kkt = res_y / scale;
    }
    if !converged {
        // report the residual of the point returned
        sum_parts(&x, &mut w);
        pb.eval(&w, &xb, Some((&mut g, &mut gb)));
        let (cp, cb) = prox_step(regs, &x, &xb, &g, &gb, s, d, nt);
        kkt = dist2(&cp, &cb, &x, &xb).sqrt() / s / scale;
    }
    ApgResult {
        parts: x,
        b: xb,
        n_iter: it,
        kkt,
        objective: fx,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn rand_mat(rng: &mut StdRng, d: usize, nt: usize) -> Vec<f64> {
        (0..d * nt).map(|_| rng.random_range(-2.0..2.0)).collect()
    }

    fn all_convex() -> Vec<Regularizer> {
        vec![
            Regularizer::Lasso { alpha: 0.7 },
            Regularizer::TaskLasso {
                alpha: 0.7,
                weights: vec![1.0, 0.5, 2.0, 0.0],
            },
            Regularizer::L1Inf { alpha: 0.7 },
            Regularizer::L21 { alpha: 0.7 },
            Regularizer::ColumnL21 { alpha: 0.7 },
            Regularizer::TraceNorm { alpha: 0.7 },
            Regularizer::Ridge { alpha: 0.7 },
            Regularizer::SharedMean { alpha: 0.7 },
        ]
    }

    fn all() -> Vec<Regularizer> {
        let mut v = all_convex();
        v.push(Regularizer::BlockMcp {
            alpha: 0.7,
            gamma: 3.0,
        });
        v.push(Regularizer::BlockScad {
            alpha: 0.7,
            gamma: 3.7,
        });
        v
    }

    fn prox_of(r: &Regularizer, p: &[f64], d: usize, nt: usize, s: f64) -> Vec<f64> {
        let mut q = p.to_vec();
        r.prox_of(&mut q, d, nt, s);
        q
    }

    fn norm(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn convex_proxes_are_non_expansive_and_identity_at_zero_step() {
        let mut rng = StdRng::seed_from_u64(1);
        let (d, nt) = (7, 4);
        for r in all_convex() {
            for _ in 0..50 {
                let a = rand_mat(&mut rng, d, nt);
                let b = rand_mat(&mut rng, d, nt);
                let s = rng.random_range(0.01..2.0);
                let (pa, pb) = (prox_of(&r, &a, d, nt, s), prox_of(&r, &b, d, nt, s));
                assert!(norm(&pa, &pb) <= norm(&a, &b) * (1.0 + 1e-12), "{r:?}");
                if !matches!(r, Regularizer::SharedMean { .. }) {
                    assert!(norm(&prox_of(&r, &a, d, nt, 0.0), &a) < 1e-12, "{r:?}");
                }
            }
        }
    }

    #[test]
    fn proxes_minimise_their_objective() {
        // prox_s(v) beats random perturbations on ½‖u − v‖² + s R(u) (also for MCP / SCAD
        // within their step condition)
        let mut rng = StdRng::seed_from_u64(2);
        let (d, nt) = (5, 3);
        for r in all() {
            for _ in 0..30 {
                let v = rand_mat(&mut rng, d, nt);
                let s = rng.random_range(0.05..0.9);
                let u = prox_of(&r, &v, d, nt, s);
                let obj = |u: &[f64]| 0.5 * norm(u, &v).powi(2) + s * r.value_of(u, d, nt);
                let best = obj(&u);
                assert!(best.is_finite(), "{r:?}");
                for _ in 0..40 {
                    let mut w = u.clone();
                    let k = rng.random_range(0..w.len());
                    w[k] += rng.random_range(-0.1..0.1);
                    if matches!(r, Regularizer::SharedMean { .. }) {
                        // stay feasible: move a whole row
                        let j = k / nt;
                        let delta = w[k] - u[k];
                        for t in 0..nt {
                            w[j * nt + t] = u[j * nt + t] + delta;
                        }
                    }
                    assert!(obj(&w) >= best - 1e-10, "{r:?}: {} < {best}", obj(&w));
                }
            }
        }
    }

    #[test]
    fn prox_is_zero_inside_the_dual_norm_ball() {
        // Lasso: ‖v‖∞ ≤ sα; L2,1: max row norm ≤ sα; L1,∞: max row ℓ1 ≤ sα; trace: σ_max ≤ sα
        let (d, nt, s, alpha) = (4, 3, 0.5, 2.0);
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..20 {
            let mut v = rand_mat(&mut rng, d, nt);
            // scale into the ball of every dual norm at once: ‖v‖_F ≤ sα / √T
            let f = norm(&v, &vec![0.0; v.len()]);
            v.iter_mut()
                .for_each(|x| *x *= 0.99 * s * alpha / (f * (nt as f64).sqrt()));
            for r in [
                Regularizer::Lasso { alpha },
                Regularizer::L21 { alpha },
                Regularizer::L1Inf { alpha },
                Regularizer::ColumnL21 { alpha },
                Regularizer::TraceNorm { alpha },
            ] {
                let u = prox_of(&r, &v, d, nt, s);
                assert!(u.iter().all(|x| x.abs() < 1e-12), "{r:?}");
            }
        }
    }

    #[test]
    fn moreau_identity_for_l1inf_and_trace_norm() {
        // prox_{sR}(v) + s prox_{R*/s}(v/s) = v; R* is the indicator of the dual-norm ball, so
        // the second term is the projection onto the ball of radius sα
        let mut rng = StdRng::seed_from_u64(4);
        let (d, nt, s, alpha) = (6, 4, 0.3, 1.5);
        for _ in 0..20 {
            let v = rand_mat(&mut rng, d, nt);
            let u = prox_of(&Regularizer::L1Inf { alpha }, &v, d, nt, s);
            // projection onto {‖row‖₁ ≤ sα} row by row
            let proj: Vec<f64> = v
                .chunks(nt)
                .flat_map(|r| project_l1_ball(r, s * alpha))
                .collect();
            let back: Vec<f64> = u.iter().zip(&proj).map(|(a, b)| a + b).collect();
            assert!(norm(&back, &v) < 1e-12);
            // trace norm: v − prox = projection onto {σ_max ≤ sα}: σ_max of it ≤ sα
            let u = prox_of(&Regularizer::TraceNorm { alpha }, &v, d, nt, s);
            let rest: Vec<f64> = v.iter().zip(&u).map(|(a, b)| a - b).collect();
            let smax = crate::linalg::singular_values(&rest, d, nt)
                .into_iter()
                .fold(0.0f64, f64::max);
            assert!(smax <= s * alpha * (1.0 + 1e-10), "{smax}");
        }
    }
}
