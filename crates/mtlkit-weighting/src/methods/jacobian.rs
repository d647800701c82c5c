//! Gradient-level methods that need the Jacobian itself (gradient buffers or per-coordinate
//! surgery).

use ndarray::{Array1, ArrayView2};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::loss::basics;
use crate::common::{bad_len, load_state, save_state, step_rng};
use crate::error::{Result, WeightingError, check_nonneg, check_range};
use crate::input::{StepInput, check_nonneg_losses, prepare};
use crate::linalg::softmax;
use crate::{Aggregation, Need, SolverReport, Weighting};

/// Per-task P-vectors (buffers) allocated on first use; P must not change afterwards.
fn ensure_buffers(
    buf: &mut Vec<Vec<f64>>,
    num_tasks: usize,
    p: usize,
    method: &'static str,
) -> Result<()> {
    if buf.is_empty() {
        *buf = vec![vec![0.0; p]; num_tasks];
        return Ok(());
    }
    if buf[0].len() != p {
        return Err(WeightingError::Shape {
            what: "jacobian",
            expected: format!(
                "{} columns (as in earlier steps of `{method}`)",
                buf[0].len()
            ),
            got: format!("{p}"),
        });
    }
    Ok(())
}

fn norm(v: &[f64]) -> f64 {
    let m = v.iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * v.iter().map(|x| (x / m) * (x / m)).sum::<f64>().sqrt()
}

fn buffers_ok(buf: &[Vec<f64>], n: usize) -> bool {
    buf.is_empty() || (buf.len() == n && buf.iter().all(|r| r.len() == buf[0].len()))
}

fn finite_or_err(v: &Array1<f64>, what: &'static str) -> Result<()> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(WeightingError::NonFinite { what })
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`ExcessMtl`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExcessMtlConfig {
    /// Step size of the exponentiated-gradient weight update (official code: 1e-2).
    pub robust_step_size: f64,
}

impl Default for ExcessMtlConfig {
    fn default() -> Self {
        Self {
            robust_step_size: 1e-2,
        }
    }
}

/// ExcessMTL: robust weighting by estimated excess risks.
///
/// Sources: He et al., "Robust Multi-Task Learning with Excess Risks", ICML 2024; official code
/// (github.com/yifei-he/ExcessMTL) as in LibMTL `ExcessMTL`. Each task's excess risk is
/// estimated as `e_t = g_tᵀ diag(√(Σ_s g_t,s² + 1e-7))⁻¹ g_t` (an AdaGrad-style diagonal
/// Hessian approximation accumulated over steps); the first estimate `e_t(0)` normalizes the
/// later ones, and the weights are updated multiplicatively,
/// `w_t ← w_t exp(η e_t / e_t(0))`, then normalized to sum to the number of (present) tasks.
/// Kept in log space so that the exponentials cannot overflow. The squared gradients must stay
/// below ~1e308 (gradients up to ~1e150).
#[derive(Debug, Clone)]
pub struct ExcessMtl {
    num_tasks: usize,
    step_size: f64,
    st: ExcessState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ExcessState {
    grad_sq_sum: Vec<Vec<f64>>,
    initial: Vec<Option<f64>>,
    log_weights: Vec<f64>,
}

impl ExcessMtl {
    /// Validates the step size.
    pub fn new(num_tasks: usize, config: ExcessMtlConfig) -> Result<Self> {
        check_nonneg("robust_step_size", config.robust_step_size, false)?;
        Ok(Self {
            num_tasks,
            step_size: config.robust_step_size,
            st: ExcessState {
                grad_sq_sum: Vec::new(),
                initial: vec![None; num_tasks],
                log_weights: vec![0.0; num_tasks],
            },
        })
    }
}

impl Weighting for ExcessMtl {
    basics!("excess-mtl", Need::Jacobian);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Jacobian)?;
        let j: ArrayView2<f64> = p.jac(self.name())?;
        ensure_buffers(
            &mut self.st.grad_sq_sum,
            self.num_tasks,
            j.ncols(),
            "excess-mtl",
        )?;
        for (r, &t) in p.tasks.iter().enumerate() {
            let row = j.row(r);
            let acc = &mut self.st.grad_sq_sum[t];
            let mut e = 0.0;
            for (c, &g) in row.iter().enumerate() {
                acc[c] += g * g;
                e += g * g / (acc[c] + 1e-7).sqrt();
            }
            if !e.is_finite() {
                return Err(WeightingError::NonFinite {
                    what: "excess risk estimate (gradients too large)",
                });
            }
            match self.st.initial[t] {
                None => {
                    if e > 0.0 {
                        self.st.initial[t] = Some(e);
                    }
                }
                Some(e0) => {
                    self.st.log_weights[t] += self.step_size * e / e0;
                }
            }
        }
        let lw: Vec<f64> = p.tasks.iter().map(|&t| self.st.log_weights[t]).collect();
        let k = p.k() as f64;
        let w = Array1::from_iter(softmax(&lw).into_iter().map(|s| k * s));
        Ok(Aggregation::new(w, SolverReport::closed_form()))
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: ExcessState = load_state(self.name(), self.num_tasks, state)?;
        let n = self.num_tasks;
        if !buffers_ok(&st.grad_sq_sum, n) || st.initial.len() != n || st.log_weights.len() != n {
            return Err(bad_len(self.name()));
        }
        self.st = st;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`DbMtl`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbMtlConfig {
    /// EMA rate of the log-loss gradients (LibMTL default 0.9).
    pub beta: f64,
    /// Decay exponent of the EMA rate, `β / step^σ` (LibMTL default 0).
    pub beta_sigma: f64,
}

impl Default for DbMtlConfig {
    fn default() -> Self {
        Self {
            beta: 0.9,
            beta_sigma: 0.0,
        }
    }
}

/// DB-MTL: dual balancing — log losses, and gradients rescaled to the largest norm.
///
/// Sources: Lin et al., "Dual-Balancing for Multi-Task Learning", 2023 (arXiv:2308.12029);
/// LibMTL `DB_MTL`. The log-loss gradients `g_t / (L_t + 1e-8)` are averaged into per-task
/// buffers `b_t ← ĝ_t + β/step^σ (b_t − ĝ_t)` (zero-initialized), then rescaled to the
/// largest norm: direction `Σ_t (max_s ‖b_s‖ / (‖b_t‖ + 1e-8)) b_t`. Returns that
/// [`Aggregation::direction`]; the weights are `α_t / (L_t + 1e-8)`, exact (`d = Jᵀλ`) only
/// when `β = 0`.
#[derive(Debug, Clone)]
pub struct DbMtl {
    num_tasks: usize,
    cfg: DbMtlConfig,
    st: DbState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DbState {
    step: u64,
    buffers: Vec<Vec<f64>>,
}

impl DbMtl {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: DbMtlConfig) -> Result<Self> {
        check_range("beta", config.beta, 0.0, 1.0)?;
        check_nonneg("beta_sigma", config.beta_sigma, false)?;
        Ok(Self {
            num_tasks,
            cfg: config,
            st: DbState {
                step: 0,
                buffers: Vec::new(),
            },
        })
    }
}

impl Weighting for DbMtl {
    basics!("db-mtl", Need::Jacobian);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Jacobian)?;
        check_nonneg_losses(p.losses, self.name())?;
        let j = p.jac(self.name())?;
        ensure_buffers(&mut self.st.buffers, self.num_tasks, j.ncols(), "db-mtl")?;
        self.st.step += 1;
        let rate = self.cfg.beta / (self.st.step as f64).powf(self.cfg.beta_sigma);
        for (r, &t) in p.tasks.iter().enumerate() {
            let inv = 1.0 / (p.losses[r] + 1e-8);
            for (b, &g) in self.st.buffers[t].iter_mut().zip(j.row(r)) {
                let gh = g * inv;
                *b = gh + rate * (*b - gh);
            }
        }
        let norms: Vec<f64> = p.tasks.iter().map(|&t| norm(&self.st.buffers[t])).collect();
        let max = norms.iter().fold(0.0_f64, |m, &x| m.max(x));
        let alpha: Vec<f64> = norms.iter().map(|&u| max / (u + 1e-8)).collect();
        let mut d = Array1::<f64>::zeros(j.ncols());
        for (r, &t) in p.tasks.iter().enumerate() {
            for (dc, &b) in d.iter_mut().zip(&self.st.buffers[t]) {
                *dc += alpha[r] * b;
            }
        }
        finite_or_err(&d, "DB-MTL direction")?;
        let w = Array1::from_iter((0..p.k()).map(|r| alpha[r] / (p.losses[r] + 1e-8)));
        Ok(Aggregation {
            weights: w,
            direction: Some(d),
            report: SolverReport::closed_form(),
            updated: true,
        })
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: DbState = load_state(self.name(), self.num_tasks, state)?;
        if !buffers_ok(&st.buffers, self.num_tasks) {
            return Err(bad_len(self.name()));
        }
        self.st = st;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`MoCo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MoCoConfig {
    /// Learning rate of the gradient tracking variable `y` (LibMTL default 0.5).
    pub beta: f64,
    /// Decay exponent of `beta` (`β / step^σ`, LibMTL default 0.5).
    pub beta_sigma: f64,
    /// Learning rate of the weights λ (LibMTL default 0.1).
    pub gamma: f64,
    /// Decay exponent of `gamma` (LibMTL default 0.5).
    pub gamma_sigma: f64,
    /// ℓ2 regularization of the λ update (LibMTL default 0).
    pub rho: f64,
}

impl Default for MoCoConfig {
    fn default() -> Self {
        Self {
            beta: 0.5,
            beta_sigma: 0.5,
            gamma: 0.1,
            gamma_sigma: 0.5,
            rho: 0.0,
        }
    }
}

/// MoCo: MGDA with a bias-corrected moving average of the gradients.
///
/// Sources: Fernando et al., "Mitigating Gradient Bias in Multi-objective Learning: A Provably
/// Convergent Approach", ICLR 2023; LibMTL `MoCo` (from the authors' code). Each gradient is
/// normalized to the norm of its loss, `ĝ_t = g_t L_t / (‖g_t‖ + 1e-8)`; the tracking
/// variables move `y_t ← y_t − β_s (y_t − ĝ_t)`; the weights take the step
/// `λ ← softmax(λ − γ_s (Y Yᵀ + ρI) λ)` (as in the reference code, the softmax is applied to
/// λ itself); the direction is `Yᵀλ`, returned in [`Aggregation::direction`]; the weights
/// returned are λ.
#[derive(Debug, Clone)]
pub struct MoCo {
    num_tasks: usize,
    cfg: MoCoConfig,
    st: MoCoState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MoCoState {
    step: u64,
    y: Vec<Vec<f64>>,
    lambda: Vec<f64>,
}

impl MoCo {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: MoCoConfig) -> Result<Self> {
        check_range("beta", config.beta, 0.0, 1.0)?;
        check_nonneg("beta_sigma", config.beta_sigma, false)?;
        check_nonneg("gamma", config.gamma, false)?;
        check_nonneg("gamma_sigma", config.gamma_sigma, false)?;
        check_nonneg("rho", config.rho, false)?;
        Ok(Self {
            num_tasks,
            cfg: config,
            st: MoCoState {
                step: 0,
                y: Vec::new(),
                lambda: vec![1.0 / num_tasks as f64; num_tasks],
            },
        })
    }
}

impl Weighting for MoCo {
    basics!("moco", Need::Jacobian);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Jacobian)?;
        let j = p.jac(self.name())?;
        ensure_buffers(&mut self.st.y, self.num_tasks, j.ncols(), "moco")?;
        self.st.step += 1;
        let s = self.st.step as f64;
        let beta = self.cfg.beta / s.powf(self.cfg.beta_sigma);
        let gamma = self.cfg.gamma / s.powf(self.cfg.gamma_sigma);
        let k = p.k();
        for (r, &t) in p.tasks.iter().enumerate() {
            let row: Vec<f64> = j.row(r).to_vec();
            let scale = p.losses[r] / (norm(&row) + 1e-8);
            for (y, g) in self.st.y[t].iter_mut().zip(&row) {
                *y -= beta * (*y - g * scale);
            }
        }
        // Gramian of the present tracking variables, computed with a scaling.
        let m = p
            .tasks
            .iter()
            .flat_map(|&t| self.st.y[t].iter())
            .fold(0.0_f64, |m, &x| m.max(x.abs()));
        let mut yy = ndarray::Array2::<f64>::zeros((k, k));
        if m > 0.0 {
            for a in 0..k {
                for b in 0..k {
                    let ya = &self.st.y[p.tasks[a]];
                    let yb = &self.st.y[p.tasks[b]];
                    yy[[a, b]] = ya
                        .iter()
                        .zip(yb)
                        .map(|(x, z)| (x / m) * (z / m))
                        .sum::<f64>()
                        * m
                        * m;
                }
            }
        }
        let lam: Vec<f64> = p.tasks.iter().map(|&t| self.st.lambda[t]).collect();
        let upd: Vec<f64> = (0..k)
            .map(|a| {
                let gl: f64 =
                    (0..k).map(|b| yy[[a, b]] * lam[b]).sum::<f64>() + self.cfg.rho * lam[a];
                lam[a] - gamma * gl
            })
            .collect();
        if upd.iter().any(|x| !x.is_finite()) {
            return Err(WeightingError::NonFinite {
                what: "MoCo weight update (tracked gradients too large)",
            });
        }
        let lam = softmax(&upd);
        for (r, &t) in p.tasks.iter().enumerate() {
            self.st.lambda[t] = lam[r];
        }
        let mut d = Array1::<f64>::zeros(j.ncols());
        for (r, &t) in p.tasks.iter().enumerate() {
            for (dc, &y) in d.iter_mut().zip(&self.st.y[t]) {
                *dc += lam[r] * y;
            }
        }
        finite_or_err(&d, "MoCo direction")?;
        Ok(Aggregation {
            weights: Array1::from(lam),
            direction: Some(d),
            report: SolverReport::closed_form(),
            updated: true,
        })
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: MoCoState = load_state(self.name(), self.num_tasks, state)?;
        if !buffers_ok(&st.y, self.num_tasks) || st.lambda.len() != self.num_tasks {
            return Err(bad_len(self.name()));
        }
        self.st = st;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`GradDrop`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradDropConfig {
    /// Fraction of every gradient always kept (LibMTL default 0).
    pub leak: f64,
}

/// GradDrop: gradient sign dropout.
///
/// Sources: Chen et al., "Just Pick a Sign: Optimizing Deep Multitask Models with Gradient Sign
/// Dropout", NeurIPS 2020; LibMTL `GradDrop`. Per coordinate `c`, the positive sign purity
/// `P_c = ½ (1 + Σ_t J_tc / (Σ_t |J_tc| + ε))`; with `U_c ~ U(0, 1)`, task `t` keeps its
/// coordinate if `P_c > U_c` and `J_tc > 0`, or `P_c < U_c` and `J_tc < 0`; the direction is
/// `Σ_t J_tc (leak + (1 − leak) M_tc)`, returned in [`Aggregation::direction`] (weights: all
/// 1, the nominal sum). Differences: the paper applies it to the gradients w.r.t. a shared
/// activation layer, summed over the batch after multiplying by the sign of the inputs; here
/// it acts on whatever coordinates the trainer passes as `J` (e.g. shared parameters), and
/// `ε = 1e-7 · max|J|` is relative. Draws come from a generator seeded by `(seed, step)`.
#[derive(Debug, Clone)]
pub struct GradDrop {
    num_tasks: usize,
    leak: f64,
    seed: u64,
    step: u64,
}

impl GradDrop {
    /// Validates `leak ∈ [0, 1]`.
    pub fn new(num_tasks: usize, config: GradDropConfig, seed: u64) -> Result<Self> {
        check_range("leak", config.leak, 0.0, 1.0)?;
        Ok(Self {
            num_tasks,
            leak: config.leak,
            seed,
            step: 0,
        })
    }
}

impl Weighting for GradDrop {
    basics!("graddrop", Need::Jacobian);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Jacobian)?;
        let j = p.jac(self.name())?;
        let mut rng = step_rng(self.seed, self.step, 0x4744);
        self.step += 1;
        let scale = j.iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
        let mut d = Array1::<f64>::zeros(j.ncols());
        for c in 0..j.ncols() {
            let col = j.column(c);
            // Sums of the scaled column (avoids overflow for huge gradients).
            let (s, a) = if scale > 0.0 {
                col.iter().fold((0.0, 0.0), |(s, a), &x| {
                    (s + x / scale, a + (x / scale).abs())
                })
            } else {
                (0.0, 0.0)
            };
            let purity = 0.5 * (1.0 + s / (a + 1e-7));
            let u: f64 = rng.random::<f64>();
            let mut out = 0.0;
            for &x in col.iter() {
                let keep = (purity > u && x > 0.0) || (purity < u && x < 0.0);
                let m = if keep { 1.0 } else { 0.0 };
                out += x * (self.leak + (1.0 - self.leak) * m);
            }
            d[c] = out;
        }
        finite_or_err(&d, "GradDrop direction")?;
        Ok(Aggregation {
            weights: Array1::ones(p.k()),
            direction: Some(d),
            report: SolverReport::closed_form(),
            updated: true,
        })
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.step)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        self.step = load_state(self.name(), self.num_tasks, state)?;
        Ok(())
    }
}
