//! Loss-level methods: they need only the losses.

use ndarray::{Array1, ArrayView1};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::common::{AdamConfig, AdamState, bad_len, load_state, save_state, std_normal, step_rng};
use crate::error::{Result, WeightingError, check_nonneg};
use crate::input::{StepInput, check_nonneg_losses, prepare, resolve_tasks};
use crate::linalg::softmax;
use crate::{Aggregation, Need, SolverReport, Weighting};

macro_rules! basics {
    ($name:expr, $need:expr) => {
        fn name(&self) -> &'static str {
            $name
        }
        fn num_tasks(&self) -> usize {
            self.num_tasks
        }
        fn need(&self) -> Need {
            $need
        }
    };
}
pub(crate) use basics;

macro_rules! stateless {
    () => {
        fn state(&self) -> Result<serde_json::Value> {
            save_state(self.name(), self.num_tasks, &())
        }
        fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
            load_state::<()>(self.name(), self.num_tasks, state)
        }
    };
}

fn closed(weights: Array1<f64>) -> Aggregation {
    Aggregation::new(weights, SolverReport::closed_form())
}

// ---------------------------------------------------------------------------------------------

/// Config of [`Mean`] (no hyperparameters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeanConfig {}

/// Equal weights `1/k` over the k present tasks: the direction is the mean gradient.
///
/// Source: torchjd `Mean` (golden value on `[[-4,1,1],[6,1,1]]`: `[1, 1, 1]`).
#[derive(Debug, Clone)]
pub struct Mean {
    num_tasks: usize,
}

impl Mean {
    /// A new instance over `num_tasks` tasks.
    pub fn new(num_tasks: usize) -> Self {
        Self { num_tasks }
    }
}

impl Weighting for Mean {
    basics!("mean", Need::Losses);
    stateless!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        let k = p.k();
        Ok(closed(Array1::from_elem(k, 1.0 / k as f64)))
    }
}

/// Config of [`Sum`] (no hyperparameters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SumConfig {}

/// Equal weights 1 ("EW" in LibMTL): the direction is the sum of the gradients.
///
/// Sources: LibMTL `EW`; torchjd `Sum` (golden value `[2, 2, 2]`).
#[derive(Debug, Clone)]
pub struct Sum {
    num_tasks: usize,
}

impl Sum {
    /// A new instance over `num_tasks` tasks.
    pub fn new(num_tasks: usize) -> Self {
        Self { num_tasks }
    }
}

impl Weighting for Sum {
    basics!("sum", Need::Losses);
    stateless!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        Ok(closed(Array1::ones(p.k())))
    }
}

/// Config of [`Fixed`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FixedConfig {
    /// One non-negative weight per task (required: length `num_tasks`).
    pub weights: Vec<f64>,
}

/// Fixed, user-given weights (a hand-tuned linear scalarization).
#[derive(Debug, Clone)]
pub struct Fixed {
    num_tasks: usize,
    weights: Vec<f64>,
}

impl Fixed {
    /// Validates the weights (`num_tasks` finite non-negative values).
    pub fn new(num_tasks: usize, config: FixedConfig) -> Result<Self> {
        if config.weights.len() != num_tasks {
            return Err(WeightingError::InvalidParameter {
                name: "weights",
                value: format!("{} values", config.weights.len()),
                reason: "must have one weight per task",
            });
        }
        for &w in &config.weights {
            check_nonneg("weights", w, false)?;
        }
        Ok(Self {
            num_tasks,
            weights: config.weights,
        })
    }
}

impl Weighting for Fixed {
    basics!("fixed", Need::Losses);
    stateless!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        Ok(closed(Array1::from_iter(
            p.tasks.iter().map(|&t| self.weights[t]),
        )))
    }
}

/// Config of [`LogSum`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSumConfig {
    /// Added to each loss inside the logarithm (DB-MTL's `1e-8`).
    pub eps: f64,
}

impl Default for LogSumConfig {
    fn default() -> Self {
        Self { eps: 1e-8 }
    }
}

/// Scale-invariant loss: minimize `Σ_t log(L_t + ε)`, i.e. weights `1 / (L_t + ε)`.
///
/// Multiplying a task's loss by a constant leaves the direction unchanged. This is the "log"
/// part of DB-MTL (Lin et al. 2023, "Dual-Balancing for Multi-Task Learning") without its
/// gradient balancing; also a special case of GLS up to a per-step factor.
#[derive(Debug, Clone)]
pub struct LogSum {
    num_tasks: usize,
    eps: f64,
}

impl LogSum {
    /// Validates `eps >= 0`.
    pub fn new(num_tasks: usize, config: LogSumConfig) -> Result<Self> {
        check_nonneg("eps", config.eps, false)?;
        Ok(Self {
            num_tasks,
            eps: config.eps,
        })
    }
}

impl Weighting for LogSum {
    basics!("log-sum", Need::Losses);
    stateless!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        check_nonneg_losses(p.losses, self.name())?;
        let w = p
            .losses
            .mapv(|l| 1.0 / (l + self.eps).max(f64::MIN_POSITIVE));
        Ok(closed(w.mapv(|x| x.min(f64::MAX))))
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`Uncertainty`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UncertaintyConfig {
    /// Optimizer of the log-variances `s_t`. The paper trains them with the model's optimizer;
    /// set the same learning rate as the model's (default: PyTorch Adam defaults, lr 1e-3).
    pub optimizer: AdamConfig,
    /// Initial `s_t` (LibMTL: -0.5).
    pub init: f64,
}

impl Default for UncertaintyConfig {
    fn default() -> Self {
        Self {
            optimizer: AdamConfig::default(),
            init: -0.5,
        }
    }
}

/// Uncertainty weighting (homoscedastic task uncertainty).
///
/// Source: Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for
/// Scene Geometry and Semantics", CVPR 2018; LibMTL `UW` conventions: the objective is
/// `Σ_t L_t / (2 e^{s_t}) + s_t / 2` with learned log-variances `s_t` (init -0.5), so the loss
/// weights are `1 / (2 e^{s_t})`. The method owns the `s_t` and updates them itself with Adam
/// on the closed-form gradient `∂/∂s_t = ½ − L_t / (2 e^{s_t})` (whose fixed point is
/// `s_t = log L_t`), after returning the weights of the step (as a joint backward would).
/// `s_t` is clamped to `[-40, 40]` so that weights stay finite when a loss is 0.
#[derive(Debug, Clone)]
pub struct Uncertainty {
    num_tasks: usize,
    cfg: UncertaintyConfig,
    st: UncertaintyState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UncertaintyState {
    s: Vec<f64>,
    adam: AdamState,
}

/// The log-scales `s_t` of [`Uncertainty`] and [`ImtlL`] stay within `±S_BOUND`, so that their
/// weights `e^{∓s_t}` stay finite.
const S_BOUND: f64 = 40.0;

impl UncertaintyState {
    /// A restored state for `n` tasks: the right lengths, every `s_t` within `±S_BOUND`.
    fn check(&self, n: usize, name: &'static str) -> Result<()> {
        if self.s.len() != n || !self.adam.len_ok(n) {
            return Err(bad_len(name));
        }
        for &v in &self.s {
            crate::error::check_range("state s", v, -S_BOUND, S_BOUND)?;
        }
        Ok(())
    }
}

impl Uncertainty {
    /// Validates the optimizer and the initial value.
    pub fn new(num_tasks: usize, config: UncertaintyConfig) -> Result<Self> {
        config.optimizer.validate()?;
        // the range `s_t` is clamped to after each step: weights `e^{-s_t}/2` stay finite
        crate::error::check_range("init", config.init, -S_BOUND, S_BOUND)?;
        Ok(Self {
            num_tasks,
            st: UncertaintyState {
                s: vec![config.init; num_tasks],
                adam: AdamState::new(num_tasks),
            },
            cfg: config,
        })
    }

    /// The current log-variances `s_t`.
    pub fn log_variances(&self) -> &[f64] {
        &self.st.s
    }
}

impl Weighting for Uncertainty {
    basics!("uncertainty", Need::Losses);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        let w = Array1::from_iter(p.tasks.iter().map(|&t| 0.5 * (-self.st.s[t]).exp()));
        let grads: Vec<f64> = p
            .tasks
            .iter()
            .enumerate()
            .map(|(r, &t)| 0.5 - 0.5 * p.losses[r] * (-self.st.s[t]).exp())
            .collect();
        self.st
            .adam
            .step(&self.cfg.optimizer, &mut self.st.s, &p.tasks, &grads);
        for &t in &p.tasks {
            self.st.s[t] = self.st.s[t].clamp(-S_BOUND, S_BOUND);
        }
        Ok(closed(w))
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: UncertaintyState = load_state(self.name(), self.num_tasks, state)?;
        st.check(self.num_tasks, self.name())?;
        self.st = st;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`Dwa`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DwaConfig {
    /// Softmax temperature `T` (paper and LibMTL: 2.0).
    pub temperature: f64,
}

impl Default for DwaConfig {
    fn default() -> Self {
        Self { temperature: 2.0 }
    }
}

/// Dynamic Weight Average.
///
/// Source: Liu, Johns & Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019;
/// LibMTL `DWA`. With `r_t = L̄_t(e−1) / L̄_t(e−2)` the ratio of a task's average loss over the
/// two previous epochs, the weights are `k · softmax(r / T)` over the k present tasks (they
/// sum to k); during the first two epochs they are all 1. Epoch averages are accumulated from
/// the losses given at each step; the trainer calls [`Weighting::end_epoch`]. A task absent for
/// a whole epoch keeps its previous average.
#[derive(Debug, Clone)]
pub struct Dwa {
    num_tasks: usize,
    temperature: f64,
    st: DwaState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DwaState {
    sum: Vec<f64>,
    count: Vec<u64>,
    last: Vec<Option<f64>>,
    before_last: Vec<Option<f64>>,
    epochs: u64,
}

impl Dwa {
    /// Validates `temperature > 0`.
    pub fn new(num_tasks: usize, config: DwaConfig) -> Result<Self> {
        check_nonneg("temperature", config.temperature, true)?;
        Ok(Self {
            num_tasks,
            temperature: config.temperature,
            st: DwaState {
                sum: vec![0.0; num_tasks],
                count: vec![0; num_tasks],
                last: vec![None; num_tasks],
                before_last: vec![None; num_tasks],
                epochs: 0,
            },
        })
    }
}

impl Weighting for Dwa {
    basics!("dwa", Need::Losses);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        check_nonneg_losses(p.losses, self.name())?;
        let k = p.k();
        let ratios: Option<Vec<f64>> = p
            .tasks
            .iter()
            .map(|&t| match (self.st.last[t], self.st.before_last[t]) {
                (Some(a), Some(b)) if self.st.epochs >= 2 => {
                    Some(if b > 0.0 { a / b } else { 1.0 })
                }
                _ => None,
            })
            .collect();
        let w = match ratios {
            Some(r) => {
                // shifted by the largest ratio before the division: a tiny temperature gives
                // the argmax (0 and −∞ scores), not overflowing ones
                let top = r.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                let z: Vec<f64> = r.iter().map(|x| (x - top) / self.temperature).collect();
                Array1::from_iter(softmax(&z).into_iter().map(|s| k as f64 * s))
            }
            None => Array1::ones(k),
        };
        for (r, &t) in p.tasks.iter().enumerate() {
            self.st.sum[t] += p.losses[r];
            self.st.count[t] += 1;
        }
        Ok(closed(w))
    }
    fn end_epoch(&mut self) {
        for t in 0..self.num_tasks {
            if self.st.count[t] > 0 {
                let avg = self.st.sum[t] / self.st.count[t] as f64;
                self.st.before_last[t] = self.st.last[t];
                self.st.last[t] = Some(avg);
            }
            self.st.sum[t] = 0.0;
            self.st.count[t] = 0;
        }
        self.st.epochs += 1;
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: DwaState = load_state(self.name(), self.num_tasks, state)?;
        let n = self.num_tasks;
        if st.sum.len() != n
            || st.count.len() != n
            || st.last.len() != n
            || st.before_last.len() != n
        {
            return Err(bad_len(self.name()));
        }
        self.st = st;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`Gls`] (no hyperparameters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlsConfig {}

/// Geometric Loss Strategy: minimize the geometric mean `(Π_t L_t)^{1/k}`.
///
/// Source: Chennupati et al., "MultiNet++: Multi-Stream Feature Aggregation and Geometric Loss
/// Strategy for Multi-Task Learning", CVPR-W 2019; LibMTL `GLS`. The weights are the exact
/// gradient of the geometric mean, `λ_t = GM / (k L_t)` (computed in log space). LibMTL's
/// *reported* weights `L_t / (k Π L)` differ from the gradient it back-propagates; here the
/// weights are the ones that produce the update. Losses are clamped below at 1e-12.
#[derive(Debug, Clone)]
pub struct Gls {
    num_tasks: usize,
}

impl Gls {
    /// A new instance over `num_tasks` tasks.
    pub fn new(num_tasks: usize) -> Self {
        Self { num_tasks }
    }
}

impl Weighting for Gls {
    basics!("gls", Need::Losses);
    stateless!();
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        check_nonneg_losses(p.losses, self.name())?;
        let k = p.k() as f64;
        let l = p.losses.mapv(|x| x.max(1e-12));
        let log_gm = l.iter().map(|x| x.ln()).sum::<f64>() / k;
        Ok(closed(l.mapv(|x| (log_gm - x.ln()).exp() / k)))
    }
}

// ---------------------------------------------------------------------------------------------

/// Distribution of [`Rlw`]'s random weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RlwDistribution {
    /// `softmax(N(0, 1))` (the default of LibMTL).
    #[default]
    Normal,
    /// `softmax(U(0, 1))`.
    Uniform,
    /// `softmax(Dirichlet(1))` (LibMTL applies the softmax to the Dirichlet draw as well).
    Dirichlet,
    /// Independent Bernoulli(0.5) 0/1 weights, redrawn while all are 0.
    Bernoulli,
    /// One task chosen uniformly gets weight 1, the others 0.
    ConstrainedBernoulli,
}

/// Config of [`Rlw`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RlwConfig {
    /// The distribution of the weights.
    pub distribution: RlwDistribution,
}

/// Random Loss Weighting: fresh random weights at every step.
///
/// Source: Lin et al., "Reasonable Effectiveness of Random Weighting: A Litmus Test for
/// Multi-Task Learning", TMLR 2022 (arXiv:2111.10603); LibMTL `RLW` (same distributions and
/// normalizations). Draws come from a generator seeded by `(seed, step)`, so a run is
/// reproducible and a checkpoint only stores the step counter.
#[derive(Debug, Clone)]
pub struct Rlw {
    num_tasks: usize,
    distribution: RlwDistribution,
    seed: u64,
    step: u64,
}

impl Rlw {
    /// A new instance; `seed` makes the draws reproducible.
    pub fn new(num_tasks: usize, config: RlwConfig, seed: u64) -> Self {
        Self {
            num_tasks,
            distribution: config.distribution,
            seed,
            step: 0,
        }
    }
}

impl Weighting for Rlw {
    basics!("rlw", Need::Losses);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        let k = p.k();
        let mut rng = step_rng(self.seed, self.step, 0x0052_4c57);
        self.step += 1;
        let w: Vec<f64> = match self.distribution {
            RlwDistribution::Normal => {
                softmax(&(0..k).map(|_| std_normal(&mut rng)).collect::<Vec<_>>())
            }
            RlwDistribution::Uniform => {
                softmax(&(0..k).map(|_| rng.random::<f64>()).collect::<Vec<_>>())
            }
            RlwDistribution::Dirichlet => {
                let e: Vec<f64> = (0..k).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect();
                let s: f64 = e.iter().sum();
                softmax(&e.iter().map(|x| x / s).collect::<Vec<_>>())
            }
            RlwDistribution::Bernoulli => loop {
                let b: Vec<f64> = (0..k)
                    .map(|_| if rng.random::<bool>() { 1.0 } else { 0.0 })
                    .collect();
                if b.iter().any(|&x| x > 0.0) {
                    break b;
                }
            },
            RlwDistribution::ConstrainedBernoulli => {
                let i = rng.random_range(0..k);
                (0..k).map(|j| if j == i { 1.0 } else { 0.0 }).collect()
            }
        };
        Ok(closed(Array1::from(w)))
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

/// Config of [`Stch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StchConfig {
    /// Smoothing parameter μ (LibMTL: 1.0).
    pub mu: f64,
    /// Epochs of log-loss warm-up before the nadir point is fixed (LibMTL: 4).
    pub warmup_epochs: u64,
}

impl Default for StchConfig {
    fn default() -> Self {
        Self {
            mu: 1.0,
            warmup_epochs: 4,
        }
    }
}

/// Smooth Tchebycheff scalarization.
///
/// Source: Lin et al., "Smooth Tchebycheff Scalarization for Multi-Objective Optimization",
/// ICML 2024; LibMTL `STCH` (adapted from the authors' `STCH_MTL`). For epochs
/// `e ≤ warmup_epochs` the objective is `Σ log L_t` (weights `1/L_t`), and during epoch
/// `warmup_epochs` the losses are averaged into the nadir vector `z`. Afterwards the objective
/// is `k · μ log Σ_t exp(log(L_t / z_t) / μ)`, whose weights are
/// `λ_t = k · softmax_t(log(L_t/z_t)/μ) / L_t`. The trainer calls [`Weighting::end_epoch`].
#[derive(Debug, Clone)]
pub struct Stch {
    num_tasks: usize,
    mu: f64,
    warmup_epochs: u64,
    st: StchState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StchState {
    epoch: u64,
    sum: Vec<f64>,
    count: Vec<u64>,
    nadir: Option<Vec<f64>>,
}

const STCH_EPS: f64 = 1e-20;

impl Stch {
    /// Validates `mu > 0`.
    pub fn new(num_tasks: usize, config: StchConfig) -> Result<Self> {
        check_nonneg("mu", config.mu, true)?;
        Ok(Self {
            num_tasks,
            mu: config.mu,
            warmup_epochs: config.warmup_epochs,
            st: StchState {
                epoch: 0,
                sum: vec![0.0; num_tasks],
                count: vec![0; num_tasks],
                nadir: None,
            },
        })
    }

    /// The nadir vector, once fixed.
    pub fn nadir(&self) -> Option<&[f64]> {
        self.st.nadir.as_deref()
    }
}

impl Weighting for Stch {
    basics!("stch", Need::Losses);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        check_nonneg_losses(p.losses, self.name())?;
        if self.st.epoch <= self.warmup_epochs {
            if self.st.epoch == self.warmup_epochs {
                for (r, &t) in p.tasks.iter().enumerate() {
                    self.st.sum[t] += p.losses[r];
                    self.st.count[t] += 1;
                }
            }
            return Ok(closed(p.losses.mapv(|l| 1.0 / (l + STCH_EPS))));
        }
        let (sum, count) = (&self.st.sum, &self.st.count);
        let nadir = self.st.nadir.get_or_insert_with(|| {
            (0..sum.len())
                .map(|t| {
                    if count[t] > 0 {
                        sum[t] / count[t] as f64
                    } else {
                        1.0
                    }
                })
                .collect()
        });
        let k = p.k() as f64;
        let z: Vec<f64> = p.tasks.iter().map(|&t| nadir[t].max(STCH_EPS)).collect();
        let f: Vec<f64> = (0..p.k())
            .map(|r| (p.losses[r] / z[r] + STCH_EPS).ln() / self.mu)
            .collect();
        let s = softmax(&f);
        let w = Array1::from_iter((0..p.k()).map(|r| k * s[r] / (p.losses[r] + STCH_EPS * z[r])));
        Ok(closed(w))
    }
    fn end_epoch(&mut self) {
        self.st.epoch += 1;
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: StchState = load_state(self.name(), self.num_tasks, state)?;
        let n = self.num_tasks;
        if st.sum.len() != n
            || st.count.len() != n
            || st.nadir.as_ref().is_some_and(|z| z.len() != n)
        {
            return Err(bad_len(self.name()));
        }
        self.st = st;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`Famo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FamoConfig {
    /// Learning rate of the logits (paper / official code: 0.025).
    pub w_lr: f64,
    /// Weight decay of the logits (paper / official code: 1e-3).
    pub gamma: f64,
    /// Known lower bound of each loss (official code: 0).
    pub min_loss: f64,
}

impl Default for FamoConfig {
    fn default() -> Self {
        Self {
            w_lr: 0.025,
            gamma: 1e-3,
            min_loss: 0.0,
        }
    }
}

/// Fast Adaptive Multitask Optimization.
///
/// Source: Liu, Liu, Wang & Liu, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023;
/// official code (github.com/Cranial-XIX/FAMO) as adapted in LibMTL `FAMO`. With logits `w`,
/// `z = softmax(w)` and `D_t = L_t − min_loss + 1e-8`, the step minimizes
/// `Σ_t z_t log D_t / c` with `c = Σ_t z_t / D_t` (constant), i.e. weights
/// `λ_t = z_t / (D_t c)` (they sum to 1). After the parameter update the trainer gives the
/// losses of the same batch to [`Weighting::observe_losses_after_step`]; FAMO then takes an
/// Adam step (lr `w_lr`, weight decay `gamma`) on `w` with gradient
/// `J_softmax(w)ᵀ (log D_before − log D_after)`. If it is never called, the weights stay at
/// the `1/(D_t c)` of uniform logits. With a task subset, the softmax runs over the present
/// tasks' logits.
#[derive(Debug, Clone)]
pub struct Famo {
    num_tasks: usize,
    adam: AdamConfig,
    min_loss: f64,
    st: FamoState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FamoState {
    w: Vec<f64>,
    adam: AdamState,
    prev_tasks: Option<Vec<usize>>,
    prev_losses: Option<Vec<f64>>,
}

const FAMO_EPS: f64 = 1e-8;

impl Famo {
    /// Validates the learning rate, decay and bound.
    pub fn new(num_tasks: usize, config: FamoConfig) -> Result<Self> {
        let adam = AdamConfig {
            lr: config.w_lr,
            weight_decay: config.gamma,
            ..AdamConfig::default()
        };
        adam.validate()?;
        if !config.min_loss.is_finite() {
            return Err(WeightingError::InvalidParameter {
                name: "min_loss",
                value: format!("{}", config.min_loss),
                reason: "must be finite",
            });
        }
        Ok(Self {
            num_tasks,
            adam,
            min_loss: config.min_loss,
            st: FamoState {
                w: vec![0.0; num_tasks],
                adam: AdamState::new(num_tasks),
                prev_tasks: None,
                prev_losses: None,
            },
        })
    }

    /// The current logits `w`.
    pub fn logits(&self) -> &[f64] {
        &self.st.w
    }

    fn check_losses(&self, losses: ArrayView1<f64>) -> Result<()> {
        if losses.iter().any(|&l| l - self.min_loss + FAMO_EPS <= 0.0) {
            return Err(WeightingError::InvalidInput(
                "FAMO needs losses above `min_loss`".into(),
            ));
        }
        Ok(())
    }
}

impl Weighting for Famo {
    basics!("famo", Need::Losses);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        self.check_losses(p.losses)?;
        let logits: Vec<f64> = p.tasks.iter().map(|&t| self.st.w[t]).collect();
        let z = softmax(&logits);
        let d: Vec<f64> = p
            .losses
            .iter()
            .map(|&l| l - self.min_loss + FAMO_EPS)
            .collect();
        let c: f64 = z.iter().zip(&d).map(|(z, d)| z / d).sum();
        let w = Array1::from_iter(z.iter().zip(&d).map(|(z, d)| z / (d * c)));
        self.st.prev_tasks = Some(p.tasks.clone());
        self.st.prev_losses = Some(p.losses.to_vec());
        Ok(closed(w))
    }
    fn wants_losses_after_step(&self) -> bool {
        true
    }
    fn observe_losses_after_step(
        &mut self,
        losses: ArrayView1<f64>,
        tasks: Option<&[usize]>,
    ) -> Result<()> {
        if losses.iter().any(|x| !x.is_finite()) {
            return Err(WeightingError::NonFinite {
                what: "losses after step",
            });
        }
        self.check_losses(losses)?;
        let tasks = resolve_tasks(tasks, losses.len(), self.num_tasks)?;
        let (Some(pt), Some(pl)) = (self.st.prev_tasks.take(), self.st.prev_losses.take()) else {
            return Err(WeightingError::InvalidInput(
                "observe_losses_after_step called before aggregate".into(),
            ));
        };
        if pt != tasks {
            return Err(WeightingError::InvalidTasks(
                "the losses after the step must be for the same tasks as the step".into(),
            ));
        }
        let delta: Vec<f64> = (0..tasks.len())
            .map(|r| {
                (pl[r] - self.min_loss + FAMO_EPS).ln()
                    - (losses[r] - self.min_loss + FAMO_EPS).ln()
            })
            .collect();
        let logits: Vec<f64> = tasks.iter().map(|&t| self.st.w[t]).collect();
        let z = softmax(&logits);
        let zd: f64 = z.iter().zip(&delta).map(|(a, b)| a * b).sum();
        let grad: Vec<f64> = (0..tasks.len()).map(|r| z[r] * (delta[r] - zd)).collect();
        self.st.adam.step(&self.adam, &mut self.st.w, &tasks, &grad);
        Ok(())
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: FamoState = load_state(self.name(), self.num_tasks, state)?;
        if st.w.len() != self.num_tasks || !st.adam.len_ok(self.num_tasks) {
            return Err(bad_len(self.name()));
        }
        self.st = st;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// Config of [`ImtlL`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImtlLConfig {
    /// Optimizer of the scales `s_t` (the paper trains them with the model's optimizer; default
    /// PyTorch Adam, lr 1e-3).
    pub optimizer: AdamConfig,
}

/// IMTL-L, the loss-balancing half of Impartial Multi-Task Learning.
///
/// Source: Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021; LibMTL `IMTL`
/// (its `loss_scale`, init 0). The scaled losses are `e^{s_t} L_t − s_t`; the weights are
/// `e^{s_t}`, and the method updates `s_t` itself with Adam on `∂/∂s_t = e^{s_t} L_t − 1`,
/// whose fixed point `s_t = −log L_t` makes every scaled loss equal to 1. `s_t` is clamped to
/// `[-40, 40]`. (LibMTL's `IMTL` combines this with IMTL-G; use [`crate::methods::ImtlG`] for
/// the gradient half.)
#[derive(Debug, Clone)]
pub struct ImtlL {
    num_tasks: usize,
    cfg: ImtlLConfig,
    st: UncertaintyState,
}

impl ImtlL {
    /// Validates the optimizer.
    pub fn new(num_tasks: usize, config: ImtlLConfig) -> Result<Self> {
        config.optimizer.validate()?;
        Ok(Self {
            num_tasks,
            cfg: config,
            st: UncertaintyState {
                s: vec![0.0; num_tasks],
                adam: AdamState::new(num_tasks),
            },
        })
    }

    /// The current scales `s_t`.
    pub fn scales(&self) -> &[f64] {
        &self.st.s
    }
}

impl Weighting for ImtlL {
    basics!("imtl-l", Need::Losses);
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation> {
        let p = prepare(input, self.num_tasks, self.name(), Need::Losses)?;
        let w = Array1::from_iter(p.tasks.iter().map(|&t| self.st.s[t].exp()));
        let grads: Vec<f64> = (0..p.k()).map(|r| w[r] * p.losses[r] - 1.0).collect();
        self.st
            .adam
            .step(&self.cfg.optimizer, &mut self.st.s, &p.tasks, &grads);
        for &t in &p.tasks {
            self.st.s[t] = self.st.s[t].clamp(-S_BOUND, S_BOUND);
        }
        Ok(closed(w))
    }
    fn state(&self) -> Result<serde_json::Value> {
        save_state(self.name(), self.num_tasks, &self.st)
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let st: UncertaintyState = load_state(self.name(), self.num_tasks, state)?;
        st.check(self.num_tasks, self.name())?;
        self.st = st;
        Ok(())
    }
}
