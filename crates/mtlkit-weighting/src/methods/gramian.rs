//! Gradient-level methods that need only the Gramian `G = J Jᵀ`.

use ndarray::{Array1, Array2, ArrayView2};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::loss::basics;
use crate::common::{AdamConfig, AdamState, Amortizer, bad_len, load_state, save_state, step_rng};
use crate::error::{Result, WeightingError, check_nonneg, check_positive_usize, check_range};
use crate::input::{Gram, Prepared, StepInput, prepare};
use crate::linalg::{matvec, softmax};
use crate::solvers::{
    SolverReport, alpha_fair, dual_cone_qp, frank_wolfe_min_norm, min_norm_point, pinv_sym, sym_eig,
};
use crate::{Aggregation, Need, Weighting};

/// Runs `compute` every `every` calls and reuses the cached weights in between.
fn amortized(
    amort: &mut Amortizer,
    every: usize,
    input: &StepInput<'_>,
    num_tasks: usize,
    name: &'static str,
    compute: impl FnOnce(&Prepared<'_>) -> Result<Aggregation>,
) -> Result<Aggregation> {
    if !amort.due(every) {
        let p = prepare(input, num_tasks, name, Need::Losses)?;
        if let Some(w) = amort.reuse(&p.tasks) {
            amort.calls += 1;
            return Ok(Aggregation {
                weights: w,
                direction: None,
                report: SolverReport::closed_form(),
                updated: false,
            });
        }
    }
    let p = prepare(input, num_tasks, name, Need::Gramian)?;
    let agg = compute(&p)?;
    if agg.weights.iter().any(|w| !w.is_finite()) {
        return Err(WeightingError::NonFinite {
            what: "computed weights",
        });
    }
    amort.store(&p.tasks, &agg.weights);
    amort.calls += 1;
    Ok(agg)
}

fn need_now(amort: &Amortizer, every: usize) -> Need {
    if amort.due(every) {
        Need::Gramian
    } else {
        Need::Losses
    }
}

/// `state`/`load_state` for methods whose only state is their [`Amortizer`].
macro_rules! amortizer_state {
    () => {
        fn state(&self) -> Result<serde_json::Value> {
            save_state(self.name(), self.num_tasks, &self.amort)
        }
        fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
            let st: Amortizer = load_state(self.name(), self.num_tasks, state)?;
            if !st.len_ok(self.num_tasks) {
                return Err(bad_len(self.name()));
            }
            self.amort = st;
            Ok(())
        }
        fn need_now(&self) -> Need {
            need_now(&self.amort, self.update_every)
        }
    };
}

fn merge_reports(a: SolverReport, b: SolverReport) -> SolverReport {
    SolverReport {
        iterations: a.iterations + b.iterations,
        converged: a.converged && b.converged,
        residual: a.residual.max(b.residual),
    }
}

// ---------------------------------------------------------------------------------------------

/// Gradient normalization applied before MGDA's min-norm problem (Sener & Koltun 2018, §3.3 /
/// LibMTL `mgda_gn`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MgdaNormalization {
    /// No normalization (the default of LibMTL and torchjd).
    #[default]
    None,
    /// Divide each gradient by its L2 norm.
    L2,
    /// Divide each gradient by its loss.
    Loss,
    /// Divide each gradient by its loss times its L2 norm.
    LossPlus,
}

/// The min-norm solver of MGDA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MgdaSolver {
    /// Frank–Wolfe (Sener & Koltun 2018, Algorithm 2; torchjd's `MGDA`), stopping when the step
    /// is below `epsilon` or after `max_iters`. Exact for two tasks.
    #[default]
    FrankWolfe,
    /// Wolfe's exact nearest-point algorithm ([`crate::solvers::min_norm_point`]).
    Exact,
}

/// Config of [`Mgda`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MgdaConfig {
    /// Gradient normalization.
    pub normalization: MgdaNormalization,
    /// Min-norm solver.
    pub solver: MgdaSolver,
    /// Frank–Wolfe stopping step size (torchjd: 1e-3).
    pub epsilon: f64,
    /// Frank–Wolfe iteration cap (torchjd: 100); the exact solver uses at least `50·T`.
    pub max_iters: usize,
    /// Recompute every this many steps, reuse the last weights in between.
    pub update_every: usize,
}

impl Default for MgdaConfig {
    fn default() -> Self {
        Self {
            normalization: MgdaNormalization::None,
            solver: MgdaSolver::FrankWolfe,
            epsilon: 1e-3,
            max_iters: 100,
            update_every: 1,
        }
    }
}

/// Multiple-Gradient Descent Algorithm: the min-norm point of the convex hull of the
/// (normalized) gradients.
///
/// Sources: Désidéri, "Multiple-gradient descent algorithm (MGDA) for multiobjective
/// optimization", C. R. Math. 2012; Sener & Koltun, "Multi-Task Learning as Multi-Objective
/// Optimization", NeurIPS 2018 (Frank–Wolfe, Algorithm 2, and the normalizations); torchjd
/// `MGDA` (solver loop, golden values `[0, 1, 1]` and weights `[0.6, 0.4]`); LibMTL `MGDA`
/// (`mgda_gn`). Returned weights are on the raw gradients: `λ_t = sol_t / n_t` with `n_t` the
/// normalizer (so `Jᵀλ` is the min-norm point of the normalized gradients).
#[derive(Debug, Clone)]
pub struct Mgda {
    num_tasks: usize,
    cfg: MgdaConfig,
    update_every: usize,
    amort: Amortizer,
}

impl Mgda {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: MgdaConfig) -> Result<Self> {
        check_nonneg("epsilon", config.epsilon, false)?;
        check_positive_usize("max_iters", config.max_iters)?;
        check_positive_usize("update_every", config.update_every)?;
        Ok(Self {
            num_tasks,
            update_every: config.update_every,
            cfg: config,
            amort: Amortizer::new(num_tasks),
        })
    }
}

/// Normalizers `n_t` in units of `gram.norm_scale` for the gradient norm (loss factors raw).
fn mgda_normalizers(kind: MgdaNormalization, gram: &Gram, losses: &Array1<f64>) -> Vec<f64> {
    let k = losses.len();
    (0..k)
        .map(|i| {
            let gn = gram.unit[[i, i]].max(0.0).sqrt();
            let l = losses[i].abs().max(1e-12);
            let n = match kind {
                MgdaNormalization::None => 1.0,
                MgdaNormalization::L2 => gn,
                MgdaNormalization::Loss => l,
                MgdaNormalization::LossPlus => l * gn,
            };
            if n > 0.0 && n.is_finite() { n } else { 1.0 }
        })
        .collect()
}

impl Weighting for Mgda {
    basics!("mgda", Need::Gramian);
    amortizer_state!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let cfg = self.cfg.clone();
        amortized(
            &mut self.amort,
            self.update_every,
            input,
            self.num_tasks,
            "mgda",
            |p| {
                let gram = p.gram("mgda")?;
                let k = p.k();
                let n = mgda_normalizers(cfg.normalization, gram, &p.losses.to_owned());
                let mut g = gram.unit.clone();
                for i in 0..k {
                    for j in 0..k {
                        g[[i, j]] /= n[i] * n[j];
                    }
                }
                let (sol, report) = match cfg.solver {
                    MgdaSolver::FrankWolfe => {
                        frank_wolfe_min_norm(g.view(), cfg.epsilon, cfg.max_iters)?
                    }
                    MgdaSolver::Exact => {
                        min_norm_point(g.view(), 1e-13, cfg.max_iters.max(50 * k))?
                    }
                };
                // Back to raw gradients: the gradient-norm factor carries the norm scale.
                let grad_scaled = matches!(
                    cfg.normalization,
                    MgdaNormalization::L2 | MgdaNormalization::LossPlus
                );
                let w = Array1::from_iter((0..k).map(|i| {
                    let mut x = sol[i] / n[i];
                    if grad_scaled && gram.norm_scale > 0.0 && gram.unit[[i, i]] > 0.0 {
                        x /= gram.norm_scale;
                    }
                    x
                }));
                Ok(Aggregation::new(w, report))
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`PcGrad`] (no hyperparameters; the projection order is random).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcGradConfig {}

/// The projected gradients of PCGrad, as weights on the original gradients: row `i` holds the
/// coefficients of `g_i^PC` when `g_i` is projected, in the order `orders[i]` (the other tasks;
/// `i` itself is skipped), onto the normal plane of each `g_j` it conflicts with:
/// `g_i^PC ← g_i^PC − min(⟨g_i^PC, g_j⟩, 0) / ‖g_j‖² · g_j`.
pub fn pcgrad_projections(g: ArrayView2<f64>, orders: &[Vec<usize>]) -> Array2<f64> {
    let k = g.nrows();
    let mut out = Array2::<f64>::zeros((k, k));
    for i in 0..k {
        let mut w = Array1::<f64>::zeros(k);
        w[i] = 1.0;
        for &j in orders.get(i).map(Vec::as_slice).unwrap_or(&[]) {
            if j == i || j >= k {
                continue;
            }
            let ip = g.row(j).dot(&w);
            if ip < 0.0 && g[[j, j]] > 0.0 {
                w[j] -= ip / g[[j, j]];
            }
        }
        out.row_mut(i).assign(&w);
    }
    out
}

/// PCGrad ("gradient surgery").
///
/// Sources: Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020, Algorithm 1;
/// torchjd `PCGrad` (works on the Gramian; for each task `i` a fresh random order of the other
/// tasks; the projected gradients are **summed**, golden value `[0.5848, 3.8012, 3.8012]`).
/// The random orders come from a generator seeded by `(seed, step)`.
#[derive(Debug, Clone)]
pub struct PcGrad {
    num_tasks: usize,
    seed: u64,
    step: u64,
}

impl PcGrad {
    /// A new instance; `seed` fixes the projection orders.
    pub fn new(num_tasks: usize, seed: u64) -> Self {
        Self {
            num_tasks,
            seed,
            step: 0,
        }
    }
}

impl Weighting for PcGrad {
    basics!("pcgrad", Need::Gramian);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Gramian)?;
        let g = &p.gram(self.name())?.unit;
        let k = p.k();
        let mut rng = step_rng(self.seed, self.step, 0x5043);
        self.step += 1;
        let orders: Vec<Vec<usize>> = (0..k)
            .map(|i| {
                let mut o: Vec<usize> = (0..k).filter(|&j| j != i).collect();
                o.shuffle(&mut rng);
                o
            })
            .collect();
        let w = pcgrad_projections(g.view(), &orders).sum_axis(ndarray::Axis(0));
        Ok(Aggregation::new(w, SolverReport::closed_form()))
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.step)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        self.step = load_state(self.name(), self.num_tasks, state)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`GradVac`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradVacConfig {
    /// EMA rate of the similarity targets (LibMTL default 0.5).
    pub beta: f64,
}

impl Default for GradVacConfig {
    fn default() -> Self {
        Self { beta: 0.5 }
    }
}

/// Gradient Vaccine (whole-model granularity).
///
/// Sources: Wang, Tsvetkov, Firat & Cao, "Gradient Vaccine: Investigating and Improving
/// Multi-task Optimization in Massively Multilingual Models", ICLR 2021, Algorithm 1; LibMTL
/// `GradVac` (group type 0). For each task `i` and, in random order, each other task `j`: with
/// `φ = cos(g_i', g_j)` and the target `φ̂_ij` (an EMA of past similarities, initially 0),
/// if `φ < φ̂_ij` then `g_i' += ‖g_i'‖ (φ̂ √(1−φ²) − φ √(1−φ̂²)) / (‖g_j‖ √(1−φ̂²)) · g_j`,
/// which sets `cos(g_i', g_j) = φ̂_ij`; then `φ̂_ij ← (1−β) φ̂_ij + β φ`. The aggregated
/// direction is `Σ_i g_i'`. Works on the Gramian (the `g_i'` stay combinations of the `g_j`).
/// Differences: the EMA update runs at every visit as in the paper's Algorithm 1 (LibMTL only
/// updates it inside the `if`), and the `1e-8` guards are relative to the largest gradient
/// norm; per-layer granularities are not offered.
#[derive(Debug, Clone)]
pub struct GradVac {
    num_tasks: usize,
    beta: f64,
    seed: u64,
    st: GradVacState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GradVacState {
    step: u64,
    /// Row-major `num_tasks × num_tasks` similarity targets.
    targets: Vec<f64>,
}

impl GradVac {
    /// Validates `beta ∈ [0, 1]`.
    pub fn new(num_tasks: usize, config: GradVacConfig, seed: u64) -> Result<Self> {
        check_range("beta", config.beta, 0.0, 1.0)?;
        Ok(Self {
            num_tasks,
            beta: config.beta,
            seed,
            st: GradVacState {
                step: 0,
                targets: vec![0.0; num_tasks * num_tasks],
            },
        })
    }

    /// The similarity target `φ̂_ij` between tasks `i` and `j`.
    pub fn target(&self, i: usize, j: usize) -> f64 {
        self.st.targets[i * self.num_tasks + j]
    }
}

/// Gradient norms (of the unit-scaled Gramian: relative to the largest task gradient) at or
/// below this are zero for [`GradVac`].
const ZERO_NORM: f64 = 1e-12;

impl Weighting for GradVac {
    basics!("gradvac", Need::Gramian);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Gramian)?;
        let g = &p.gram(self.name())?.unit;
        let k = p.k();
        let n = self.num_tasks;
        let mut rng = step_rng(self.seed, self.st.step, 0x4756);
        self.st.step += 1;
        const EPS: f64 = 1e-8;
        let mut w_all = Array1::<f64>::zeros(k);
        for i in 0..k {
            let mut w = Array1::<f64>::zeros(k);
            w[i] = 1.0;
            let mut order: Vec<usize> = (0..k).filter(|&j| j != i).collect();
            order.shuffle(&mut rng);
            for j in order {
                let gw = matvec(g.view(), w.view());
                let pc_norm = w.dot(&gw).max(0.0).sqrt();
                let gj_norm = g[[j, j]].max(0.0).sqrt();
                if gj_norm <= ZERO_NORM || pc_norm <= ZERO_NORM {
                    // a zero gradient has no direction to align with: no weight for it (the
                    // reference's `/(‖g_j‖ s_t + 1e-8)` gives it about 1e8, which `Jᵀλ` hides
                    // but a task's own parameters would not), and no similarity to track
                    continue;
                }
                let phi = (gw[j] / (pc_norm * gj_norm + EPS)).clamp(-1.0, 1.0);
                let idx = p.tasks[i] * n + p.tasks[j];
                let target = self.st.targets[idx];
                if phi < target {
                    let s_t = (1.0 - target * target).max(0.0).sqrt();
                    let s_p = (1.0 - phi * phi).max(0.0).sqrt();
                    let coef = pc_norm * (target * s_p - phi * s_t) / (gj_norm * s_t + EPS);
                    w[j] += coef;
                }
                self.st.targets[idx] = (1.0 - self.beta) * target + self.beta * phi;
            }
            w_all += &w;
        }
        Ok(Aggregation::new(w_all, SolverReport::closed_form()))
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: GradVacState = load_state(self.name(), self.num_tasks, state)?;
        if st.targets.len() != self.num_tasks * self.num_tasks {
            return Err(bad_len(self.name()));
        }
        self.st = st;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`ImtlG`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImtlGConfig {
    /// Recompute every this many steps, reuse the last weights in between.
    pub update_every: usize,
}

impl Default for ImtlGConfig {
    fn default() -> Self {
        Self { update_every: 1 }
    }
}

/// IMTL-G: the combination whose direction has equal projections on every unit task gradient.
///
/// Sources: Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021; torchjd `IMTLG`
/// (the generalization of Quinton & Rey 2024 that allows linearly dependent gradients):
/// `v = G⁺ d` with `d_i = ‖g_i‖`, weights `v / Σv` (0 if `|Σv| < 1e-12`); golden value
/// `[0.0767, 1, 1]`. The pseudo-inverse uses the Jacobi eigendecomposition.
#[derive(Debug, Clone)]
pub struct ImtlG {
    num_tasks: usize,
    update_every: usize,
    amort: Amortizer,
}

impl ImtlG {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: ImtlGConfig) -> Result<Self> {
        check_positive_usize("update_every", config.update_every)?;
        Ok(Self {
            num_tasks,
            update_every: config.update_every,
            amort: Amortizer::new(num_tasks),
        })
    }
}

impl Weighting for ImtlG {
    basics!("imtl-g", Need::Gramian);
    amortizer_state!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        amortized(
            &mut self.amort,
            self.update_every,
            input,
            self.num_tasks,
            "imtl-g",
            |p| {
                let g = &p.gram("imtl-g")?.unit;
                let d = g.diag().mapv(|x| x.max(0.0).sqrt());
                let (pinv, report) = pinv_sym(g.view())?;
                let v = pinv.dot(&d);
                let s = v.sum();
                let w = if s.abs() < 1e-12 {
                    Array1::zeros(v.len())
                } else {
                    v / s
                };
                Ok(Aggregation::new(w, report))
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------

/// Rescaling of the CAGrad direction (official code's `rescale`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaGradRescale {
    /// No rescaling: Algorithm 1 of the paper, and torchjd.
    #[default]
    None,
    /// Divide by `1 + c²` (official code and LibMTL's default `rescale=1`).
    OnePlusCSquared,
    /// Divide by `1 + c` (`rescale=2`).
    OnePlusC,
}

/// Config of [`CaGrad`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaGradConfig {
    /// Radius scale `c ≥ 0` of the ball around the mean gradient (LibMTL default 0.5; the paper
    /// uses 0.4 on NYUv2/Cityscapes). `c = 0` is the mean gradient.
    pub c: f64,
    /// Rescaling of the direction.
    pub rescale: CaGradRescale,
    /// Below this norm (relative, on the trace-normalized Gramian) `g_w` counts as zero and the
    /// weights are 0 (torchjd: 1e-4).
    pub norm_eps: f64,
    /// Iteration cap of the inner solver.
    pub max_iters: usize,
    /// Recompute every this many steps, reuse the last weights in between.
    pub update_every: usize,
}

impl Default for CaGradConfig {
    fn default() -> Self {
        Self {
            c: 0.5,
            rescale: CaGradRescale::None,
            norm_eps: 1e-4,
            max_iters: 1_000,
            update_every: 1,
        }
    }
}

/// Conflict-Averse Gradient descent.
///
/// Sources: Liu, Liu, Jin, Stone & Liu, "Conflict-Averse Gradient Descent for Multi-task
/// Learning", NeurIPS 2021, Algorithm 1; torchjd `CAGrad` (golden value for `c = 0.5`:
/// `[0.1835, 1.2041, 1.2041]`). On the trace-normalized Gramian `Ĝ`, with `b = 1/k`,
/// `φ = c² bᵀĜb`, solve `min_{w ∈ simplex} wᵀĜb + √φ √(wᵀĜw)` and return
/// `λ = b + √φ / √(wᵀĜw) · w` (0 when `√(wᵀĜw) < norm_eps`). The convex problem is solved by
/// an active-set Newton method (torchjd uses cvxpy/Clarabel,
/// the official code scipy SLSQP); the report's residual is the Frank–Wolfe duality gap.
#[derive(Debug, Clone)]
pub struct CaGrad {
    num_tasks: usize,
    cfg: CaGradConfig,
    update_every: usize,
    amort: Amortizer,
}

impl CaGrad {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: CaGradConfig) -> Result<Self> {
        check_nonneg("c", config.c, false)?;
        check_nonneg("norm_eps", config.norm_eps, false)?;
        check_positive_usize("max_iters", config.max_iters)?;
        check_positive_usize("update_every", config.update_every)?;
        Ok(Self {
            num_tasks,
            update_every: config.update_every,
            cfg: config,
            amort: Amortizer::new(num_tasks),
        })
    }
}

/// `min_{w ∈ simplex} wᵀ a + kappa √(wᵀ G w)` by an active-set Newton method (one stage per
/// smoothing level δ of `√(wᵀGw + δ)`): Newton steps
/// on the current face `{w_S > 0, Σ w = 1}` (equality-constrained, Levenberg-regularized when
/// the face Hessian is singular, projected-gradient fallback), Armijo backtracking, a
/// coordinate leaves the face when it hits 0 and the most violating one joins when the face is
/// solved. The residual is the Frank–Wolfe gap `wᵀ∇F − min_i ∇F_i`.
fn cagrad_inner(
    g: &Array2<f64>,
    a: &Array1<f64>,
    kappa: f64,
    max_iters: usize,
) -> Result<(Array1<f64>, SolverReport)> {
    // Smoothing continuation: the objective is not differentiable where `wᵀGw = 0`, which can
    // be the optimum (Pareto-stationary gradients); solve with √(q + δ) for decreasing δ.
    let n = a.len();
    let mut w = Array1::from_elem(n, 1.0 / n as f64);
    let mut support = vec![true; n];
    let mut report = SolverReport::closed_form();
    let mut delta = 1e-4;
    while delta >= 1e-20 {
        let budget = max_iters.saturating_sub(report.iterations).max(1);
        let r = cagrad_stage(g, a, kappa, delta, budget, &mut w, &mut support);
        report = SolverReport {
            iterations: report.iterations + r.iterations,
            converged: r.converged,
            residual: r.residual,
        };
        delta *= 1e-2;
    }
    Ok((w, report))
}

fn cagrad_stage(
    g: &Array2<f64>,
    a: &Array1<f64>,
    kappa: f64,
    delta: f64,
    max_iters: usize,
    w: &mut Array1<f64>,
    support: &mut [bool],
) -> SolverReport {
    let n = a.len();
    let f =
        |w: &Array1<f64>| -> f64 { w.dot(a) + kappa * (w.dot(&g.dot(w)).max(0.0) + delta).sqrt() };
    let grad = |w: &Array1<f64>| -> Array1<f64> {
        let gw = g.dot(w);
        let r = (w.dot(&gw).max(0.0) + delta).sqrt();
        a + &(gw * (kappa / r))
    };
    let fw_gap = |w: &Array1<f64>, d: &Array1<f64>| -> f64 {
        let m = d.iter().fold(f64::INFINITY, |m, &x| m.min(x));
        (w.dot(d) - m).max(0.0)
    };
    let scale = a.iter().fold(0.0_f64, |m, &x| m.max(x.abs())) + kappa;
    let tol = 1e-14 * scale.max(f64::MIN_POSITIVE);
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iters {
        iterations += 1;
        let d_all = grad(w);
        if fw_gap(w, &d_all) <= tol {
            converged = true;
            break;
        }
        let idx: Vec<usize> = (0..n).filter(|&i| support[i]).collect();
        let m = idx.len();
        // Face Hessian κ (G/r − (Gw)(Gw)ᵀ/r³).
        let gw = g.dot(&*w);
        let q = w.dot(&gw).max(0.0) + delta;
        let r = q.sqrt();
        let mut kkt = Array2::<f64>::zeros((m + 1, m + 1));
        let mut rhs = Array1::<f64>::zeros(m + 1);
        let mut tr = 0.0;
        for (p_, &ip) in idx.iter().enumerate() {
            for (q_, &iq) in idx.iter().enumerate() {
                kkt[[p_, q_]] = kappa * (g[[ip, iq]] / r - gw[ip] * gw[iq] / (r * q));
            }
            tr += kkt[[p_, p_]];
            kkt[[p_, m]] = 1.0;
            kkt[[m, p_]] = 1.0;
            rhs[p_] = -d_all[ip];
        }
        let lev = 1e-12 * tr.abs().max(f64::MIN_POSITIVE);
        for p_ in 0..m {
            kkt[[p_, p_]] += lev;
        }
        let mean_grad = idx.iter().map(|&i| d_all[i]).sum::<f64>() / m as f64;
        let pg: Vec<f64> = idx.iter().map(|&i| -(d_all[i] - mean_grad)).collect();
        let mut dir: Vec<f64> = match crate::linalg::lu_solve(kkt.view(), rhs.view()) {
            Some(sol) => (0..m).map(|p_| sol[p_]).collect(),
            None => pg.clone(),
        };
        let mut slope: f64 = (0..m).map(|p_| dir[p_] * d_all[idx[p_]]).sum();
        if slope.is_nan() || slope >= 0.0 {
            dir = pg;
            slope = (0..m).map(|p_| dir[p_] * d_all[idx[p_]]).sum();
        }
        let face_solved = slope.is_nan() || slope >= -tol * 1e-3;
        if face_solved {
            // Add the most violating coordinate outside the face, if any.
            let mut best: Option<usize> = None;
            for i in 0..n {
                if !support[i]
                    && d_all[i] < mean_grad - tol
                    && best.is_none_or(|b| d_all[i] < d_all[b])
                {
                    best = Some(i);
                }
            }
            match best {
                Some(i) => {
                    support[i] = true;
                    continue;
                }
                None => {
                    converged = true;
                    break;
                }
            }
        }
        let mut t_max = f64::INFINITY;
        let mut blocking = None;
        for (p_, &ip) in idx.iter().enumerate() {
            if dir[p_] < 0.0 {
                let t = w[ip] / -dir[p_];
                if t < t_max {
                    t_max = t;
                    blocking = Some(ip);
                }
            }
        }
        let mut t = t_max.min(1.0);
        let f0 = f(w);
        let mut moved = false;
        for _ in 0..60 {
            let mut cand = w.clone();
            for (p_, &ip) in idx.iter().enumerate() {
                cand[ip] = (cand[ip] + t * dir[p_]).max(0.0);
            }
            if f(&cand) <= f0 + 1e-4 * t * slope {
                if t == t_max
                    && let Some(b) = blocking
                {
                    cand[b] = 0.0;
                    support[b] = false;
                }
                let s: f64 = cand.sum();
                *w = cand / s;
                moved = true;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            // No descent possible numerically: the face is solved to precision.
            let mut best: Option<usize> = None;
            for i in 0..n {
                if !support[i]
                    && d_all[i] < mean_grad - tol
                    && best.is_none_or(|b| d_all[i] < d_all[b])
                {
                    best = Some(i);
                }
            }
            match best {
                Some(i) => support[i] = true,
                None => break,
            }
        }
        if support.iter().all(|&x| !x) {
            support.fill(true);
        }
    }
    let residual = fw_gap(w, &grad(w));
    SolverReport {
        iterations,
        converged: converged || residual <= 1e-10 * scale,
        residual,
    }
}

impl Weighting for CaGrad {
    basics!("cagrad", Need::Gramian);
    amortizer_state!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let cfg = self.cfg.clone();
        amortized(
            &mut self.amort,
            self.update_every,
            input,
            self.num_tasks,
            "cagrad",
            |p| {
                let k = p.k();
                let b = Array1::from_elem(k, 1.0 / k as f64);
                let scale = match cfg.rescale {
                    CaGradRescale::None => 1.0,
                    CaGradRescale::OnePlusCSquared => 1.0 / (1.0 + cfg.c * cfg.c),
                    CaGradRescale::OnePlusC => 1.0 / (1.0 + cfg.c),
                };
                if cfg.c == 0.0 {
                    return Ok(Aggregation::new(b * scale, SolverReport::closed_form()));
                }
                let g = p.gram("cagrad")?.trace_normalized();
                let gb = g.dot(&b);
                let sqrt_phi = cfg.c * b.dot(&gb).max(0.0).sqrt();
                let (w, report) = cagrad_inner(&g, &gb, sqrt_phi, cfg.max_iters)?;
                let gw_norm = w.dot(&g.dot(&w)).max(0.0).sqrt();
                let lam = if gw_norm >= cfg.norm_eps && gw_norm > 0.0 {
                    (b + &(w * (sqrt_phi / gw_norm))) * scale
                } else {
                    Array1::zeros(k)
                };
                Ok(Aggregation::new(lam, report))
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------

/// Adds `reg · G_ii` to each diagonal entry of a normalized Gramian: a ridge relative to each
/// task's own squared norm, which keeps per-task scale invariance and guarantees a solution of
/// the bargaining systems when no gradient is zero.
fn add_relative_ridge(g: &mut Array2<f64>, reg: f64) {
    for i in 0..g.nrows() {
        g[[i, i]] += reg * g[[i, i]];
    }
}

/// Solves a bargaining system on the tasks with a non-zero gradient only (a task whose
/// gradient is exactly zero has no utility to bargain with, and its weight would be infinite);
/// those tasks get the mean weight of the others, and all tasks get `1/k` if every gradient is
/// zero.
fn on_nonzero_gradients(
    g: &Array2<f64>,
    init: Option<&Array1<f64>>,
    solve: impl FnOnce(&Array2<f64>, Option<&Array1<f64>>) -> Result<(Array1<f64>, SolverReport)>,
) -> Result<(Array1<f64>, SolverReport)> {
    let k = g.nrows();
    let live: Vec<usize> = (0..k).filter(|&i| g[[i, i]] > 0.0).collect();
    if live.is_empty() {
        return Ok((
            Array1::from_elem(k, 1.0 / k as f64),
            SolverReport::closed_form(),
        ));
    }
    let sub = Array2::from_shape_fn((live.len(), live.len()), |(a, b)| g[[live[a], live[b]]]);
    let sub_init = init.map(|a| Array1::from_iter(live.iter().map(|&i| a[i])));
    let (w, report) = solve(&sub, sub_init.as_ref())?;
    let mean = w.mean().unwrap_or(0.0);
    let mut out = Array1::from_elem(k, mean);
    for (a, &i) in live.iter().enumerate() {
        out[i] = w[a];
    }
    Ok((out, report))
}

/// Config of [`NashMtl`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NashMtlConfig {
    /// Upper bound of `‖Jᵀλ‖`; `0` disables the clipping (official code and torchjd: 1.0).
    pub max_norm: f64,
    /// Recompute every this many steps (official code and torchjd: 1).
    pub update_every: usize,
    /// Newton iteration cap.
    pub max_iters: usize,
    /// Stopping tolerance on `max_i |α_i (Ĝα)_i − 1|`.
    pub tol: f64,
    /// Relative ridge: `reg · G_ii` is added to each diagonal entry of the normalized Gramian so
    /// that the bargaining system always has a solution (e.g. for exactly opposite gradients).
    pub reg: f64,
}

impl Default for NashMtlConfig {
    fn default() -> Self {
        Self {
            max_norm: 1.0,
            update_every: 1,
            max_iters: 100,
            tol: 1e-10,
            reg: 1e-12,
        }
    }
}

/// Nash-MTL: the Nash bargaining solution `α_i (Gα)_i = 1`.
///
/// Sources: Navon et al., "Multi-Task Learning as a Bargaining Game", ICML 2022, Algorithm 1
/// and the official code (github.com/AvivNavon/nash-mtl); torchjd `NashMTL` (golden value
/// `[0.0542, 0.7061, 0.7061]`). As there, the system is solved on `G / ‖G‖_F`, and `λ = α` is
/// then scaled so that `‖Jᵀλ‖ ≤ max_norm`. Difference: the official code approximates the
/// solution with at most 20 convex-concave iterations of cvxpy/ECOS; here Newton's method on
/// the equivalent strictly convex potential ([`crate::solvers::nash_bargaining`]) solves it to
/// `tol`, warm-started from the previous solution, with a tiny relative ridge `reg · G_ii`.
/// Tasks whose gradient is exactly zero are left out of the bargaining and get the mean
/// weight of the others (their weight would be infinite). On reuse steps
/// (`update_every > 1`) the last clipped weights are returned as they are.
#[derive(Debug, Clone)]
pub struct NashMtl {
    num_tasks: usize,
    cfg: NashMtlConfig,
    update_every: usize,
    amort: Amortizer,
    prev: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NashState {
    amort: Amortizer,
    prev: Vec<Option<f64>>,
}

impl NashMtl {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: NashMtlConfig) -> Result<Self> {
        check_nonneg("max_norm", config.max_norm, false)?;
        check_positive_usize("update_every", config.update_every)?;
        check_positive_usize("max_iters", config.max_iters)?;
        check_nonneg("tol", config.tol, true)?;
        check_nonneg("reg", config.reg, true)?;
        Ok(Self {
            num_tasks,
            update_every: config.update_every,
            cfg: config,
            amort: Amortizer::new(num_tasks),
            prev: vec![None; num_tasks],
        })
    }
}

impl Weighting for NashMtl {
    basics!("nash-mtl", Need::Gramian);
    fn need_now(&self) -> Need {
        need_now(&self.amort, self.update_every)
    }
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let cfg = self.cfg.clone();
        let prev = &mut self.prev;
        amortized(
            &mut self.amort,
            self.update_every,
            input,
            self.num_tasks,
            "nash-mtl",
            |p| {
                let gram = p.gram("nash-mtl")?;
                let (g, _) = gram.frobenius_normalized();
                let init: Option<Array1<f64>> = p
                    .tasks
                    .iter()
                    .map(|&t| prev[t])
                    .collect::<Option<Vec<f64>>>()
                    .map(Array1::from);
                let (mut alpha, report) = on_nonzero_gradients(&g, init.as_ref(), |g, init| {
                    let mut g = g.clone();
                    add_relative_ridge(&mut g, cfg.reg);
                    crate::solvers::nash_bargaining(
                        g.view(),
                        init.map(|a| a.view()),
                        cfg.tol,
                        cfg.max_iters,
                    )
                })?;
                for (r, &t) in p.tasks.iter().enumerate() {
                    prev[t] = Some(alpha[r]);
                }
                if cfg.max_norm > 0.0 {
                    let norm = gram.norm_scale * alpha.dot(&gram.unit.dot(&alpha)).max(0.0).sqrt();
                    if norm > cfg.max_norm {
                        alpha *= cfg.max_norm / norm;
                    }
                }
                Ok(Aggregation::new(alpha, report))
            },
        )
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(
            self.name(),
            self.num_tasks,
            &NashState {
                amort: self.amort.clone(),
                prev: self.prev.clone(),
            },
        )
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: NashState = load_state(self.name(), self.num_tasks, state)?;
        if !st.amort.len_ok(self.num_tasks) || st.prev.len() != self.num_tasks {
            return Err(bad_len(self.name()));
        }
        self.amort = st.amort;
        self.prev = st.prev;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`AlignedMtl`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlignedMtlConfig {
    /// Recompute every this many steps, reuse the last weights in between.
    pub update_every: usize,
}

impl Default for AlignedMtlConfig {
    fn default() -> Self {
        Self { update_every: 1 }
    }
}

/// Aligned-MTL: align the principal components of the gradient matrix.
///
/// Sources: Senushkin et al., "Independent Component Alignment for Multi-Task Learning", CVPR
/// 2023, Algorithm 1 (official code github.com/SamsungLabs/MTL); torchjd `AlignedMTL` (golden
/// value `[0.2133, 0.9673, 0.9673]`). With `G = V Λ Vᵀ` restricted to the `r` eigenvalues
/// above `λ_max · T · ε_f32` (torchjd's tolerance), `B = √λ_r V Λ^{-1/2} Vᵀ` and `λ = B · 1/k`
/// (uniform weights if `G = 0`). The transformed gradients `B J` are orthogonal with equal
/// norms `√λ_r` on the span of the gradients (`B G B = λ_r P_r`).
#[derive(Debug, Clone)]
pub struct AlignedMtl {
    num_tasks: usize,
    update_every: usize,
    amort: Amortizer,
}

impl AlignedMtl {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: AlignedMtlConfig) -> Result<Self> {
        check_positive_usize("update_every", config.update_every)?;
        Ok(Self {
            num_tasks,
            update_every: config.update_every,
            amort: Amortizer::new(num_tasks),
        })
    }
}

/// The balance transformation `B` of Aligned-MTL for a Gramian (see [`AlignedMtl`]).
pub fn aligned_mtl_balance(g: ArrayView2<f64>) -> Result<(Array2<f64>, SolverReport)> {
    let k = g.nrows();
    let eig = sym_eig(g)?;
    let lmax = eig.values.iter().fold(0.0_f64, |m, &x| m.max(x));
    let tol = lmax * k as f64 * f64::from(f32::EPSILON);
    let keep: Vec<usize> = (0..k).filter(|&i| eig.values[i] > tol).collect();
    if keep.is_empty() {
        return Ok((Array2::eye(k), eig.report));
    }
    let lmin = keep
        .iter()
        .map(|&i| eig.values[i])
        .fold(f64::INFINITY, f64::min);
    let mut b = Array2::<f64>::zeros((k, k));
    for &c in &keep {
        let v = eig.vectors.column(c);
        let f = (lmin / eig.values[c]).sqrt();
        for i in 0..k {
            for j in 0..k {
                b[[i, j]] += f * v[i] * v[j];
            }
        }
    }
    Ok((b, eig.report))
}

impl Weighting for AlignedMtl {
    basics!("aligned-mtl", Need::Gramian);
    amortizer_state!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        amortized(
            &mut self.amort,
            self.update_every,
            input,
            self.num_tasks,
            "aligned-mtl",
            |p| {
                let g = &p.gram("aligned-mtl")?.unit;
                let k = p.k();
                let (b, report) = aligned_mtl_balance(g.view())?;
                let w = b.dot(&Array1::from_elem(k, 1.0 / k as f64));
                Ok(Aggregation::new(w, report))
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`UpGrad`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpGradConfig {
    /// Ridge added to the trace-normalized Gramian (torchjd: 1e-4).
    pub reg_eps: f64,
    /// Recompute every this many steps, reuse the last weights in between.
    pub update_every: usize,
}

impl Default for UpGradConfig {
    fn default() -> Self {
        Self {
            reg_eps: 1e-4,
            update_every: 1,
        }
    }
}

/// QP settings shared by UPGrad and DualProj.
const QP_TOL: f64 = 1e-12;

fn qp_iters(k: usize) -> usize {
    20 * k + 100
}

/// UPGrad: the mean of the projections of every task gradient onto the dual cone.
///
/// Sources: Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024
/// (arXiv:2406.16232); torchjd `UPGrad` (golden values `[0.2929, 1.9004, 1.9004]`, weights on
/// `G` `[1.1109, 0.7894]`). With `Ĝ = G / tr(G) + reg_eps·I`, for each task `i` solve
/// `min_v vᵀĜv  s.t.  v ≥ e_i / k` ([`crate::solvers::dual_cone_qp`], the QP torchjd gives
/// quadprog) and sum the solutions. `⟨Jᵀλ, g_i⟩ ≥ 0` for every task up to the ridge.
/// Difference: torchjd zeroes `G` when `tr(G) < 1e-4` (absolute), here only when `G = 0`.
#[derive(Debug, Clone)]
pub struct UpGrad {
    num_tasks: usize,
    reg_eps: f64,
    update_every: usize,
    amort: Amortizer,
}

impl UpGrad {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: UpGradConfig) -> Result<Self> {
        check_nonneg("reg_eps", config.reg_eps, false)?;
        check_positive_usize("update_every", config.update_every)?;
        Ok(Self {
            num_tasks,
            reg_eps: config.reg_eps,
            update_every: config.update_every,
            amort: Amortizer::new(num_tasks),
        })
    }
}

fn regularized(gram: &Gram, reg: f64) -> Array2<f64> {
    let mut g = gram.trace_normalized();
    for i in 0..g.nrows() {
        g[[i, i]] += reg;
    }
    g
}

impl Weighting for UpGrad {
    basics!("upgrad", Need::Gramian);
    amortizer_state!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let reg = self.reg_eps;
        amortized(
            &mut self.amort,
            self.update_every,
            input,
            self.num_tasks,
            "upgrad",
            |p| {
                let k = p.k();
                let g = regularized(p.gram("upgrad")?, reg);
                let mut w = Array1::<f64>::zeros(k);
                let mut report = SolverReport::closed_form();
                for i in 0..k {
                    let mut u = Array1::<f64>::zeros(k);
                    u[i] = 1.0 / k as f64;
                    let (v, r) = dual_cone_qp(g.view(), u.view(), QP_TOL, qp_iters(k))?;
                    w += &v;
                    report = merge_reports(report, r);
                }
                Ok(Aggregation::new(w, report))
            },
        )
    }
}

/// Config of [`DualProj`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DualProjConfig {
    /// Ridge added to the trace-normalized Gramian (torchjd: 1e-4).
    pub reg_eps: f64,
    /// Recompute every this many steps, reuse the last weights in between.
    pub update_every: usize,
}

impl Default for DualProjConfig {
    fn default() -> Self {
        Self {
            reg_eps: 1e-4,
            update_every: 1,
        }
    }
}

/// DualProj: the projection of the mean gradient onto the dual cone of the task gradients.
///
/// Sources: Lopez-Paz & Ranzato, "Gradient Episodic Memory for Continual Learning", NeurIPS
/// 2017, Eq. 11; torchjd `DualProj` (golden value `[0.5563, 1.1109, 1.1109]`): one QP
/// `min_v vᵀĜv  s.t.  v ≥ 1/k` on `Ĝ = G / tr(G) + reg_eps·I`.
#[derive(Debug, Clone)]
pub struct DualProj {
    num_tasks: usize,
    reg_eps: f64,
    update_every: usize,
    amort: Amortizer,
}

impl DualProj {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: DualProjConfig) -> Result<Self> {
        check_nonneg("reg_eps", config.reg_eps, false)?;
        check_positive_usize("update_every", config.update_every)?;
        Ok(Self {
            num_tasks,
            reg_eps: config.reg_eps,
            update_every: config.update_every,
            amort: Amortizer::new(num_tasks),
        })
    }
}

impl Weighting for DualProj {
    basics!("dualproj", Need::Gramian);
    amortizer_state!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let reg = self.reg_eps;
        amortized(
            &mut self.amort,
            self.update_every,
            input,
            self.num_tasks,
            "dualproj",
            |p| {
                let k = p.k();
                let g = regularized(p.gram("dualproj")?, reg);
                let u = Array1::from_elem(k, 1.0 / k as f64);
                let (v, r) = dual_cone_qp(g.view(), u.view(), QP_TOL, qp_iters(k))?;
                Ok(Aggregation::new(v, r))
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`FairGrad`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FairGradConfig {
    /// Fairness parameter `α > 0` (LibMTL default 1.0: proportional fairness; →∞: max-min).
    pub alpha: f64,
    /// Recompute every this many steps, reuse the last weights in between.
    pub update_every: usize,
    /// Newton iteration cap.
    pub max_iters: usize,
    /// Relative ridge: `reg · G_ii` is added to each diagonal entry of the normalized Gramian
    /// so that a solution always exists.
    pub reg: f64,
}

impl Default for FairGradConfig {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            update_every: 1,
            max_iters: 100,
            reg: 1e-12,
        }
    }
}

/// FairGrad: α-fair allocation of the update among tasks.
///
/// Sources: Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024; official
/// code (github.com/OptMN-Lab/fairgrad) as adapted in LibMTL `FairGrad`: the weights solve
/// `G w = w^{-1/α}` with `w ≥ 0` (there by `scipy.optimize.least_squares`). Here the
/// equivalent strictly convex problem is solved by Newton's method
/// ([`crate::solvers::alpha_fair`]) on the Frobenius-normalized Gramian plus the relative ridge
/// `reg · diag(G)`, then
/// rescaled exactly to the raw Gramian (`w = s^{-α/(α+1)} w'` for `G = s Ĝ`), so that huge
/// gradients give tiny but finite weights. Tasks with an exactly zero gradient get the mean
/// weight of the others; if `G = 0`, the weights are uniform `1/k`.
#[derive(Debug, Clone)]
pub struct FairGrad {
    num_tasks: usize,
    cfg: FairGradConfig,
    update_every: usize,
    amort: Amortizer,
}

impl FairGrad {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: FairGradConfig) -> Result<Self> {
        check_nonneg("alpha", config.alpha, true)?;
        check_positive_usize("update_every", config.update_every)?;
        check_positive_usize("max_iters", config.max_iters)?;
        check_nonneg("reg", config.reg, true)?;
        Ok(Self {
            num_tasks,
            update_every: config.update_every,
            cfg: config,
            amort: Amortizer::new(num_tasks),
        })
    }
}

impl Weighting for FairGrad {
    basics!("fairgrad", Need::Gramian);
    amortizer_state!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let cfg = self.cfg.clone();
        amortized(
            &mut self.amort,
            self.update_every,
            input,
            self.num_tasks,
            "fairgrad",
            |p| {
                let gram = p.gram("fairgrad")?;
                let k = p.k();
                if gram.is_zero() {
                    return Ok(Aggregation::new(
                        Array1::from_elem(k, 1.0 / k as f64),
                        SolverReport::closed_form(),
                    ));
                }
                let (g, fro) = gram.frobenius_normalized();
                let (w, report) = on_nonzero_gradients(&g, None, |g, _| {
                    let mut g = g.clone();
                    add_relative_ridge(&mut g, cfg.reg);
                    alpha_fair(g.view(), cfg.alpha, None, 1e-10, cfg.max_iters)
                })?;
                // G = s Ĝ with s = norm_scale² · ‖unit‖_F.
                let ln_s = 2.0 * gram.norm_scale.ln() + fro.ln();
                let factor = (-cfg.alpha / (cfg.alpha + 1.0) * ln_s).exp();
                Ok(Aggregation::new(w * factor, report))
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`GradNorm`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradNormConfig {
    /// Restoring-force strength α (paper: 1.5 on NYUv2; LibMTL default 1.5).
    pub alpha: f64,
    /// Optimizer of the weight logits. The paper trains the weights with the model's
    /// optimizer; set the model's learning rate (default PyTorch Adam, lr 1e-3).
    pub optimizer: AdamConfig,
}

impl Default for GradNormConfig {
    fn default() -> Self {
        Self {
            alpha: 1.5,
            optimizer: AdamConfig::default(),
        }
    }
}

/// GradNorm: learn loss weights that equalize the weighted gradient norms, adjusted by the
/// relative training rates.
///
/// Sources: Chen et al., "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep
/// Multitask Networks", ICML 2018; LibMTL `GradNorm` (weights `k · softmax(p)`, so they always
/// sum to k). With `G_i = w_i ‖g_i‖`, `Ḡ = mean G_i` (constant), `r_i = L̃_i / mean L̃`,
/// `L̃_i = L_i / L_i(0)`, the method takes an Adam step on `p` for
/// `Σ_i |G_i − Ḡ r_i^α| / Ḡ` (closed-form gradient) after returning the weights of the step.
/// Needs only the Gramian's diagonal (the gradient norms w.r.t. the shared parameters the
/// trainer chose, e.g. the last shared layer as in the paper). Differences: `L_i(0)` is the
/// loss at the first step the task is seen (LibMTL: the first epoch's average and equal
/// weights during that epoch); the balancing loss is divided by `Ḡ` so that Adam sees a
/// scale-free gradient.
#[derive(Debug, Clone)]
pub struct GradNorm {
    num_tasks: usize,
    cfg: GradNormConfig,
    st: GradNormState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GradNormState {
    logits: Vec<f64>,
    initial: Vec<Option<f64>>,
    adam: AdamState,
}

impl GradNorm {
    /// Validates the config.
    pub fn new(num_tasks: usize, config: GradNormConfig) -> Result<Self> {
        check_nonneg("alpha", config.alpha, false)?;
        config.optimizer.validate()?;
        Ok(Self {
            num_tasks,
            cfg: config,
            st: GradNormState {
                logits: vec![1.0; num_tasks],
                initial: vec![None; num_tasks],
                adam: AdamState::new(num_tasks),
            },
        })
    }
}

impl Weighting for GradNorm {
    basics!("gradnorm", Need::Gramian);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Gramian)?;
        let gram = p.gram(self.name())?;
        let k = p.k();
        let logits: Vec<f64> = p.tasks.iter().map(|&t| self.st.logits[t]).collect();
        let s = softmax(&logits);
        let w: Vec<f64> = s.iter().map(|x| k as f64 * x).collect();
        for (r, &t) in p.tasks.iter().enumerate() {
            if self.st.initial[t].is_none() {
                self.st.initial[t] = Some(p.losses[r]);
            }
        }
        // Norms in units of the largest gradient norm (the objective is divided by Ḡ anyway).
        let norms: Vec<f64> = (0..k).map(|i| gram.unit[[i, i]].max(0.0).sqrt()).collect();
        let gi: Vec<f64> = (0..k).map(|i| w[i] * norms[i]).collect();
        let gbar = gi.iter().sum::<f64>() / k as f64;
        if gbar > 0.0 {
            let lt: Vec<f64> = p
                .tasks
                .iter()
                .enumerate()
                .map(|(r, &t)| match self.st.initial[t] {
                    Some(l0) if l0 > 0.0 => p.losses[r] / l0,
                    _ => 1.0,
                })
                .collect();
            let lmean = lt.iter().sum::<f64>() / k as f64;
            let a: Vec<f64> = (0..k)
                .map(|i| {
                    let ri = if lmean > 0.0 { lt[i] / lmean } else { 1.0 };
                    let target = gbar * ri.powf(self.cfg.alpha);
                    let sign = if gi[i] > target {
                        1.0
                    } else if gi[i] < target {
                        -1.0
                    } else {
                        0.0
                    };
                    sign * norms[i] / gbar
                })
                .collect();
            let aw: f64 = (0..k).map(|i| a[i] * w[i]).sum();
            let grad: Vec<f64> = (0..k).map(|m| a[m] * w[m] - s[m] * aw).collect();
            self.st
                .adam
                .step(&self.cfg.optimizer, &mut self.st.logits, &p.tasks, &grad);
        }
        Ok(Aggregation::new(
            Array1::from(w),
            SolverReport::closed_form(),
        ))
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: GradNormState = load_state(self.name(), self.num_tasks, state)?;
        let n = self.num_tasks;
        if st.logits.len() != n || st.initial.len() != n || !st.adam.len_ok(n) {
            return Err(bad_len(self.name()));
        }
        self.st = st;
        Ok(())
    }
}
