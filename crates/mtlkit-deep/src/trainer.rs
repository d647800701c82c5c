//! The trainer: mini-batch training of a [`MultiTaskModel`] with a pluggable task-weighting
//! method, learning-rate schedules, early stopping on a **validation** set (never the test
//! set), per-task metrics every epoch, a JSON log, a progress bar, and checkpoints from which a
//! killed run resumes to the same weights as an uninterrupted one.
//!
//! One step: the batch's tasks that have labels ([`crate::Batch::present`]) are evaluated on
//! their rows, each with its masked loss ([`crate::loss::task_loss`]); the weighting method
//! turns the losses into weights `λ` ([`mtlkit_weighting::Weighting::aggregate`]); one backward
//! pass of `Σ_t λ_t L_t` and one optimizer step follow. Methods that need gradients (a Gramian
//! or a Jacobian) go through the gradient oracles of [`crate::oracle`].

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Tensor};
use mtlkit_weighting::{Method, Need, StepInput, Weighting};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::arch::MultiTaskModel;
use crate::data::{Batch, DeepDataset, Sampling};
use crate::error::{DeepError, Result, config_err};
use crate::eval::{Metric, task_metrics};
use crate::loss::{task_loss, tensor2};
use crate::schedule::{EarlyStopping, LrSchedule, OptimizerConfig};

/// Trainer settings (every field has a default; see each).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainerConfig {
    /// Maximum number of epochs (default 50).
    pub epochs: usize,
    /// Rows per batch (per task for per-task data with [`Sampling::AllTasks`]; default 256).
    pub batch_size: usize,
    /// Base learning rate (default 1e-3).
    pub lr: f64,
    /// Optimizer (default Adam).
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule (default constant).
    pub schedule: LrSchedule,
    /// Linear warm-up steps (default 0).
    pub warmup_steps: usize,
    /// Early-stopping patience in epochs (`None`: run every epoch; the best validation epoch
    /// is still the one returned). Default 10.
    pub patience: Option<usize>,
    /// Smallest validation improvement that resets the patience (default 0).
    pub min_delta: f64,
    /// Seed of the parameter initialisation, the batch order and random weightings (default 0).
    /// In an experiment ([`crate::experiment`]) each run takes its seed from `run.seeds`
    /// instead, and this field is not read.
    pub seed: u64,
    /// Task sampling for per-task data (default all tasks every step).
    pub sampling: Sampling,
    /// Clip the gradient of each parameter tensor to this norm (default none). This is burn's
    /// per-tensor norm clipping, not a clip of the global norm over all parameters: a model
    /// with many tensors can move further in one step than the value suggests.
    pub clip_grad_norm: Option<f64>,
    /// Write a checkpoint every this many steps (and at the end of every epoch) when a
    /// checkpoint folder is given (default 50).
    pub checkpoint_every: usize,
    /// The task-weighting method (default equal weights, `Σ_t L_t`).
    pub weighting: Method,
    /// Show a progress bar (only drawn on a terminal; default true).
    pub progress: bool,
    /// Gradient oracle for methods that need task gradients (default: representation level
    /// when the architecture has a split).
    pub oracle: crate::oracle::OracleChoice,
    /// Compute task gradients at every step even for loss-level methods, to log gradient
    /// cosines and the conflict ratio (default false).
    pub monitor_gradients: bool,
    /// Measure task affinity while training (lookahead affinity and gradient cosines,
    /// averaged over the run; see [`crate::affinity`]). Default off.
    pub affinity: Option<crate::affinity::AffinityConfig>,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        Self {
            epochs: 50,
            batch_size: 256,
            lr: 1e-3,
            optimizer: OptimizerConfig::default(),
            schedule: LrSchedule::default(),
            warmup_steps: 0,
            patience: Some(10),
            min_delta: 0.0,
            seed: 0,
            sampling: Sampling::default(),
            clip_grad_norm: None,
            checkpoint_every: 50,
            weighting: Method::Sum(mtlkit_weighting::methods::SumConfig::default()),
            progress: true,
            oracle: crate::oracle::OracleChoice::default(),
            monitor_gradients: false,
            affinity: None,
        }
    }
}

impl TrainerConfig {
    /// Check every setting.
    ///
    /// # Errors
    /// [`DeepError::Config`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(config_err("epochs must be ≥ 1"));
        }
        if self.batch_size == 0 {
            return Err(config_err("batch_size must be ≥ 1"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(config_err(format!(
                "lr must be positive and finite, got {}",
                self.lr
            )));
        }
        if !(self.min_delta >= 0.0 && self.min_delta.is_finite()) {
            return Err(config_err(format!(
                "min_delta must be ≥ 0, got {}",
                self.min_delta
            )));
        }
        if let Some(c) = self.clip_grad_norm
            && !(c > 0.0 && c.is_finite())
        {
            return Err(config_err(format!(
                "clip_grad_norm must be positive, got {c}"
            )));
        }
        if self.checkpoint_every == 0 {
            return Err(config_err("checkpoint_every must be ≥ 1"));
        }
        if self.patience == Some(0) {
            return Err(config_err(
                "patience must be ≥ 1 epoch (or left out: every epoch runs)",
            ));
        }
        self.optimizer.validate()?;
        if let Some(a) = &self.affinity {
            a.validate()?;
        }
        self.schedule.validate()?;
        self.sampling.validate()
    }

    /// The burn optimizer for these settings.
    pub fn build_optimizer(&self) -> ModuleOptimizer {
        let clip = self
            .clip_grad_norm
            .map(|c| GradientClippingConfig::Norm(c as f32));
        #[allow(clippy::cast_possible_truncation)]
        match self.optimizer {
            OptimizerConfig::Adam {
                beta1,
                beta2,
                epsilon,
                weight_decay,
            } => AdamConfig::new()
                .with_beta_1(beta1 as f32)
                .with_beta_2(beta2 as f32)
                .with_epsilon(epsilon as f32)
                .with_weight_decay(
                    (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32)),
                )
                .with_grad_clipping(clip)
                .init(),
            OptimizerConfig::AdamW {
                beta1,
                beta2,
                epsilon,
                weight_decay,
            } => AdamWConfig::new()
                .with_beta_1(beta1 as f32)
                .with_beta_2(beta2 as f32)
                .with_epsilon(epsilon as f32)
                .with_weight_decay(weight_decay as f32)
                .with_grad_clipping(clip)
                .init(),
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
            } => SgdConfig::new()
                .with_momentum((momentum > 0.0).then(|| {
                    // PyTorch's SGD momentum (no dampening)
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0)
                }))
                .with_weight_decay(
                    (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32)),
                )
                .with_gradient_clipping(clip)
                .init(),
        }
    }
}

/// Per-task validation losses and metrics of one evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean loss of each task over its labelled entries.
    #[serde(deserialize_with = "nullable::vec")]
    pub losses: Vec<f64>,
    /// Metrics of each task ([`Metric::for_kind`]; `NaN` where undefined, `null` in JSON).
    #[serde(deserialize_with = "nullable::metrics")]
    pub metrics: Vec<Vec<(Metric, f64)>>,
}

impl Evaluation {
    /// The early-stopping score: the mean of the task losses (lower is better).
    pub fn score(&self) -> f64 {
        self.losses.iter().sum::<f64>() / self.losses.len().max(1) as f64
    }
}

/// One epoch of the training log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Steps run so far (all epochs).
    pub steps: usize,
    /// Mean training loss of each task over the epoch's steps where it was present (`NaN`,
    /// `null` in JSON, for a task absent from every step).
    #[serde(deserialize_with = "nullable::vec")]
    pub train_losses: Vec<f64>,
    /// Mean task weight over the epoch's steps where the task was present.
    #[serde(deserialize_with = "nullable::vec")]
    pub weights: Vec<f64>,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
    /// Mean fraction of conflicting task pairs (negative gradient cosine) over the epoch's
    /// steps, when task gradients were computed.
    #[serde(default)]
    pub conflict_ratio: Option<f64>,
    /// Mean pairwise gradient cosines over the epoch's steps (`T × T`; `NaN` for pairs never
    /// seen together), when task gradients were computed.
    #[serde(default)]
    pub cosines: Option<Vec<Vec<Option<f64>>>>,
    /// The gradient oracle of the epoch's steps (`losses`, `representation`, `parameters`).
    #[serde(default)]
    pub oracle: String,
    /// Mean milliseconds per training step.
    #[serde(default)]
    pub step_ms: f64,
    /// The validation evaluation (absent without a validation set).
    pub validation: Option<Evaluation>,
    /// Whether this epoch is the best so far on validation.
    pub best: bool,
    /// Wall seconds of the epoch (training and validation).
    pub seconds: f64,
}

/// JSON has no NaN: serde_json writes `null`; these read it back as NaN.
mod nullable {
    use serde::{Deserialize, Deserializer};

    use crate::eval::Metric;

    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v: Vec<Option<f64>> = Deserialize::deserialize(d)?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }

    pub fn metrics<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<(Metric, f64)>>, D::Error> {
        let v: Vec<Vec<(Metric, Option<f64>)>> = Deserialize::deserialize(d)?;
        Ok(v.into_iter()
            .map(|t| {
                t.into_iter()
                    .map(|(m, x)| (m, x.unwrap_or(f64::NAN)))
                    .collect()
            })
            .collect())
    }
}

/// The result of [`train`].
#[derive(Debug)]
pub struct TrainOutcome<M> {
    /// The model of the best validation epoch (the last epoch without a validation set).
    pub model: M,
    /// One entry per epoch run.
    pub history: Vec<EpochLog>,
    /// The best validation epoch.
    pub best_epoch: Option<usize>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Steps run in all.
    pub steps: usize,
    /// Task affinity averaged over the run, when [`TrainerConfig::affinity`] is set.
    pub affinity: Option<crate::affinity::TrainingAffinity>,
}

/// Where a run keeps its checkpoints and log.
#[derive(Clone, Debug, Default)]
pub struct RunFiles {
    /// Checkpoint folder: a run that finds a checkpoint there resumes from it.
    pub checkpoint_dir: Option<PathBuf>,
    /// JSON-lines training log (one [`EpochLog`] per line, appended).
    pub log: Option<PathBuf>,
    /// Stop after this many steps in all (as if the process were killed there; tests and
    /// time-boxed runs). The run can be resumed from its last checkpoint.
    pub max_steps: Option<usize>,
}

/// The evaluation of `model` on `data` (no gradients; batches of `chunk` rows).
///
/// # Errors
/// A model that does not fit `data` ([`check_model_fits`]).
pub fn evaluate<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    device: &Device,
    chunk: usize,
) -> Result<Evaluation> {
    let valid = model.valid();
    let plain = device.clone().without_autodiff();
    evaluate_plain(&valid, data, &plain, chunk)
}

/// [`evaluate`] for a model already on a plain (non-autodiff) device.
///
/// # Errors
/// A model that does not fit `data` ([`check_model_fits`]).
pub fn evaluate_plain<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    device: &Device,
    chunk: usize,
) -> Result<Evaluation> {
    check_model_fits(model, data, device)?;
    Ok(evaluate_fitting(model, data, device, chunk))
}

/// [`evaluate_plain`] for a model known to fit `data` (the training loop's validations).
fn evaluate_fitting<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    device: &Device,
    chunk: usize,
) -> Evaluation {
    let outs = predict_fitting(model, data, device, chunk);
    let mut losses = Vec::with_capacity(data.n_tasks());
    let mut metrics = Vec::with_capacity(data.n_tasks());
    for (t, spec) in data.specs().iter().enumerate() {
        let (_, targets) = data.task(t);
        let tb = crate::data::TaskBatch {
            rows: 0..targets.n_rows(),
            y: targets.y.clone(),
            mask: targets.mask.clone(),
        };
        let out = tensor2(&outs[t], device);
        let l = f64::from(task_loss(&spec.loss(), out, &tb, device).into_scalar::<f32>());
        losses.push(l);
        metrics.push(task_metrics(
            &spec.kind,
            outs[t].view(),
            targets.y.view(),
            targets.mask.view(),
        ));
    }
    Evaluation { losses, metrics }
}

/// Whether `model` fits `data`: one head per task, taking `data`'s input features, each head
/// as wide as its task's output (`kind.output_dim()`); checked on one row of zeros (a model
/// built for another input width fails inside burn: that panic is caught and reported).
///
/// # Errors
/// A [`DeepError::Config`] naming the mismatch.
pub fn check_model_fits<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    device: &Device,
) -> Result<()> {
    let t_n = data.n_tasks();
    if model.n_tasks() != t_n {
        return Err(config_err(format!(
            "the model has {} task heads, the data {t_n} tasks",
            model.n_tasks()
        )));
    }
    let d = data.n_features();
    let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let x = Tensor::<2>::zeros([1, d], device);
        model.forward(x, &vec![Some(0..1); t_n])
    }));
    let Ok(outs) = probe else {
        return Err(config_err(format!(
            "the model does not take the data's {d} input features (it was built for another \
             input width)"
        )));
    };
    for ((t, spec), out) in data.specs().iter().enumerate().zip(outs) {
        let width = out.map_or(0, |o| o.dims()[1]);
        if width != spec.kind.output_dim() {
            return Err(config_err(format!(
                "task {t} ('{}'): the model's head gives {width} outputs, the task needs {}",
                spec.name,
                spec.kind.output_dim()
            )));
        }
    }
    Ok(())
}

/// Every task's outputs on all of its rows (`rows_t × output_dim_t`).
///
/// # Errors
/// A model that does not fit `data` ([`check_model_fits`]).
pub fn predict<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    device: &Device,
    chunk: usize,
) -> Result<Vec<Array2<f32>>> {
    check_model_fits(model, data, device)?;
    Ok(predict_fitting(model, data, device, chunk))
}

/// [`predict`] for a model known to fit `data` (the training loop's own evaluations).
fn predict_fitting<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    device: &Device,
    chunk: usize,
) -> Vec<Array2<f32>> {
    let t_n = data.n_tasks();
    let chunk = chunk.max(1);
    let mut outs: Vec<Vec<f32>> = vec![Vec::new(); t_n];
    let mut widths = vec![0usize; t_n];
    let mut run = |x: Array2<f32>, tasks: &[usize]| {
        // one forward over the chunk for the tasks given
        let n = x.nrows();
        let xt = tensor2(&x, device);
        let mut rows: Vec<Option<Range<usize>>> = vec![None; t_n];
        for &t in tasks {
            rows[t] = Some(0..n);
        }
        for (t, o) in model.forward(xt, &rows).into_iter().enumerate() {
            if let Some(o) = o {
                widths[t] = o.dims()[1];
                outs[t].extend(
                    o.into_data()
                        .convert::<f32>()
                        .try_to_vec::<f32>()
                        .unwrap_or_default(),
                );
            }
        }
    };
    match data.layout() {
        crate::DeepLayout::Shared { x, .. } => {
            let all: Vec<usize> = (0..t_n).collect();
            for start in (0..x.nrows()).step_by(chunk) {
                let end = (start + chunk).min(x.nrows());
                run(x.slice(ndarray::s![start..end, ..]).to_owned(), &all);
            }
        }
        crate::DeepLayout::PerTask { tasks } => {
            for (t, (x, _)) in tasks.iter().enumerate() {
                for start in (0..x.nrows()).step_by(chunk) {
                    let end = (start + chunk).min(x.nrows());
                    run(x.slice(ndarray::s![start..end, ..]).to_owned(), &[t]);
                }
            }
        }
    }
    outs.into_iter()
        .zip(widths)
        .enumerate()
        .map(|(t, (v, w))| {
            let n = data.n_rows(t);
            Array2::from_shape_vec((n, w.max(1)), v)
                .unwrap_or_else(|_| Array2::zeros((n, w.max(1))))
        })
        .collect()
}

/// The losses of the present tasks of a batch (task ids, loss tensors).
fn batch_losses<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    batch: &Batch,
    device: &Device,
) -> (Vec<usize>, Vec<Tensor<1>>) {
    let x = tensor2(&batch.x, device);
    let rows: Vec<Option<Range<usize>>> = batch
        .tasks
        .iter()
        .map(|t| t.as_ref().map(|tb| tb.rows.clone()))
        .collect();
    let outs = model.forward(x, &rows);
    let mut ids = Vec::new();
    let mut losses = Vec::new();
    for (t, (o, tb)) in outs.into_iter().zip(&batch.tasks).enumerate() {
        if let (Some(o), Some(tb)) = (o, tb) {
            ids.push(t);
            losses.push(task_loss(&data.specs()[t].loss(), o, tb, device));
        }
    }
    (ids, losses)
}

fn scalars(losses: &[Tensor<1>]) -> Vec<f64> {
    losses
        .iter()
        .map(|l| f64::from(l.clone().into_scalar::<f32>()))
        .collect()
}

/// The trainer's state between steps (what a checkpoint holds besides the model and the
/// optimizer).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunState {
    format: u32,
    /// Epoch in progress and the next step within it.
    epoch: usize,
    step_in_epoch: usize,
    steps: usize,
    early: EarlyStopping,
    history: Vec<EpochLog>,
    weighting: serde_json::Value,
    /// Running sums of the epoch in progress (losses, weights, counts per task).
    acc_loss: Vec<f64>,
    acc_weight: Vec<f64>,
    acc_count: Vec<usize>,
    /// Gradient statistics of the epoch in progress: conflict-ratio sum and count, cosine sums
    /// and counts per pair, step seconds.
    acc_conflict: (f64, usize),
    acc_cos: Vec<(f64, usize)>,
    acc_step_s: f64,
    acc_steps: usize,
    oracle: String,
    /// File names (inside the checkpoint folder) of the model, optimizer and best model.
    model_file: String,
    optim_file: String,
    best_file: Option<String>,
    /// A fingerprint of the settings the run was started with.
    config: serde_json::Value,
    done: bool,
    stopped_early: bool,
    /// Run-long sums of the affinity measurements (lookahead, gradient cosine).
    #[serde(default)]
    aff_lookahead: crate::affinity::PairSums,
    #[serde(default)]
    aff_cosine: crate::affinity::PairSums,
}

const STATE_FILE: &str = "state.json";

/// Train `model` on `train`, selecting the epoch on `validation` (when given), on `device`
/// (an autodiff device, e.g. `Device::flex().autodiff()`).
///
/// # Errors
/// Invalid settings, a weighting method that rejects its input, a diverging run (non-finite
/// loss), unreadable or foreign checkpoints, IO errors.
pub fn train<M>(
    model: M,
    train: &DeepDataset,
    validation: Option<&DeepDataset>,
    cfg: &TrainerConfig,
    device: &Device,
    files: &RunFiles,
) -> Result<TrainOutcome<M>>
where
    M: MultiTaskModel,
{
    cfg.validate()?;
    if let Some(v) = validation
        && (v.specs() != train.specs() || v.n_features() != train.n_features())
    {
        return Err(config_err(
            "the validation set must have the training set's tasks and features",
        ));
    }
    let t_n = train.n_tasks();
    check_model_fits(&model.valid(), train, &device.clone().without_autodiff())?;
    let mut weighting: Box<dyn Weighting> = cfg.weighting.build(t_n, cfg.seed)?;
    let mut optim = cfg.build_optimizer();
    // what a checkpoint must match to be resumed: the trainer settings and the data (a run
    // pointed at a folder trained on other data must not pick up that run's weights)
    let mut config_fp = serde_json::to_value(cfg).map_err(|e| config_err(e.to_string()))?;
    if let Some(o) = config_fp.as_object_mut() {
        let data = format!(
            "{:016x}/{}",
            train.fingerprint(),
            validation.map_or_else(
                || "none".to_string(),
                |v| format!("{:016x}", v.fingerprint())
            )
        );
        o.insert("data_fingerprint".into(), serde_json::Value::String(data));
    }
    let mut model = model;
    let mut best_model: Option<M> = None;
    let mut st = RunState {
        format: 1,
        epoch: 0,
        step_in_epoch: 0,
        steps: 0,
        early: EarlyStopping::new(cfg.patience.unwrap_or(usize::MAX), cfg.min_delta),
        history: Vec::new(),
        weighting: serde_json::Value::Null,
        acc_loss: vec![0.0; t_n],
        acc_weight: vec![0.0; t_n],
        acc_count: vec![0; t_n],
        acc_conflict: (0.0, 0),
        acc_cos: vec![(0.0, 0); t_n * t_n],
        acc_step_s: 0.0,
        acc_steps: 0,
        oracle: String::new(),
        model_file: String::new(),
        optim_file: String::new(),
        best_file: None,
        config: config_fp.clone(),
        done: false,
        stopped_early: false,
        aff_lookahead: crate::affinity::PairSums::new(t_n),
        aff_cosine: crate::affinity::PairSums::new(t_n),
    };
    // resume
    if let Some(dir) = &files.checkpoint_dir
        && let Some((s, m, o, b)) = load_checkpoint(dir, model.clone(), optim.clone())?
    {
        if s_config_differs(&s, &config_fp) {
            return Err(DeepError::ModelFile {
                path: dir.join(STATE_FILE),
                message: "the checkpoint was written by a run with other trainer settings or on \
                          other data: give this run another output folder"
                    .into(),
            });
        }
        weighting.load_state(&s.weighting)?;
        model = m;
        optim = o;
        best_model = b;
        st = s;
    }
    let total_steps_est = cfg.epochs
        * train
            .epoch_plan(0, cfg.seed, cfg.batch_size, &cfg.sampling)
            .len();
    let bar = crate::progress::bar(cfg.progress, total_steps_est as u64);
    bar.set_position(st.steps as u64);
    let mut last_lr = cfg.lr;
    while !st.done && st.epoch < cfg.epochs {
        let epoch = st.epoch;
        let t0 = Instant::now();
        let plan = train.epoch_plan(epoch, cfg.seed, cfg.batch_size, &cfg.sampling);
        while st.step_in_epoch < plan.len() {
            if files.max_steps.is_some_and(|m| st.steps >= m) {
                bar.finish_and_clear();
                let affinity = run_affinity(cfg, &st, t_n);
                return Ok(TrainOutcome {
                    model: best_model.unwrap_or(model),
                    history: st.history,
                    best_epoch: st.early.best_epoch,
                    stopped_early: false,
                    steps: st.steps,
                    affinity,
                });
            }
            // (the plan's rows are the data's own)
            let batch = train.batch_of(&plan[st.step_in_epoch]);
            let t_step = Instant::now();
            let lr = cfg
                .schedule
                .lr(cfg.lr, st.steps, total_steps_est, epoch, cfg.warmup_steps);
            last_lr = lr;
            if let Some(a) = &cfg.affinity
                && st.steps.is_multiple_of(a.every)
            {
                let eta = a.lookahead_lr.unwrap_or(lr);
                if let Some((ids, z)) =
                    crate::affinity::lookahead(&model, train, &batch, eta, device)?
                {
                    st.aff_lookahead.add(t_n, &ids, &z);
                }
            }
            let use_grads = weighting.need_now() != Need::Losses
                || cfg.monitor_gradients
                || cfg.affinity.as_ref().is_some_and(|a| a.cosine);
            let (ids, lv, weights) = if use_grads {
                let step = gradient_step(
                    &model,
                    train,
                    &batch,
                    weighting.as_mut(),
                    device,
                    cfg.oracle,
                )?;
                if step.tasks.is_empty() {
                    st.step_in_epoch += 1;
                    continue;
                }
                if let Some(stats) = &step.stats
                    && let (Some(r), Some(c)) = (stats.conflict_ratio, &stats.cosines)
                {
                    if cfg.affinity.as_ref().is_some_and(|a| a.cosine) {
                        st.aff_cosine.add(t_n, &stats.tasks, c);
                    }
                    st.acc_conflict.0 += r;
                    st.acc_conflict.1 += 1;
                    for (a, &ta) in stats.tasks.iter().enumerate() {
                        for (b, &tb) in stats.tasks.iter().enumerate() {
                            let cell = &mut st.acc_cos[ta * t_n + tb];
                            if c[a][b].is_finite() {
                                cell.0 += c[a][b];
                                cell.1 += 1;
                            }
                        }
                    }
                }
                st.oracle = step.oracle.to_string();
                model = optim.step(lr, model, step.grads);
                (step.tasks, step.losses, step.weights)
            } else {
                let (ids, losses) = batch_losses(&model, train, &batch, device);
                if ids.is_empty() {
                    st.step_in_epoch += 1;
                    continue;
                }
                let lv = scalars(&losses);
                if let Some((k, v)) = lv.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(DeepError::Training(format!(
                        "task '{}' has loss {v} at epoch {epoch}, step {}: training diverged (lower the learning rate, clip gradients, or standardise the regression targets: the squared loss overflows f32 beyond about 1e19)",
                        train.specs()[ids[k]].name,
                        st.step_in_epoch
                    )));
                }
                let lv_arr = Array1::from(lv.clone());
                let agg = weighting.aggregate(&StepInput::new(lv_arr.view()).with_tasks(&ids))?;
                let total = losses
                    .into_iter()
                    .zip(agg.weights.iter())
                    .map(|(l, &w)| l.mul_scalar(w))
                    .reduce(|a, b| a + b)
                    .ok_or_else(|| DeepError::Training("empty step".into()))?;
                let grads = GradientsParams::from_grads(total.backward(), &model);
                model = optim.step(lr, model, grads);
                st.oracle = "losses".into();
                (ids, lv, agg.weights.to_vec())
            };
            st.acc_step_s += t_step.elapsed().as_secs_f64();
            st.acc_steps += 1;
            if weighting.wants_losses_after_step() {
                let (_, after) = batch_losses(
                    &model.valid(),
                    train,
                    &batch,
                    &device.clone().without_autodiff(),
                );
                let after = Array1::from(scalars(&after));
                weighting.observe_losses_after_step(after.view(), Some(&ids))?;
            }
            for (k, &t) in ids.iter().enumerate() {
                st.acc_loss[t] += lv[k];
                st.acc_weight[t] += weights[k];
                st.acc_count[t] += 1;
            }
            st.step_in_epoch += 1;
            st.steps += 1;
            bar.inc(1);
            if let Some(dir) = &files.checkpoint_dir
                && st.steps.is_multiple_of(cfg.checkpoint_every)
                && st.step_in_epoch < plan.len()
            {
                st.weighting = weighting.state()?;
                save_checkpoint(dir, &mut st, &model, &optim, best_model.as_ref())?;
            }
        }
        // end of epoch: validation, early stopping, log
        weighting.end_epoch();
        let evaluation = validation
            .map(|v| evaluate_fitting(&model.valid(), v, &device.clone().without_autodiff(), 4096));
        let best = match &evaluation {
            Some(e) => st.early.update(epoch, e.score()),
            None => {
                st.early.best_epoch = Some(epoch);
                true
            }
        };
        if best {
            best_model = Some(model.clone());
        }
        let mean = |s: &[f64], c: &[usize]| -> Vec<f64> {
            s.iter()
                .zip(c)
                .map(|(a, &k)| if k > 0 { a / k as f64 } else { f64::NAN })
                .collect()
        };
        let cosines = (st.acc_conflict.1 > 0).then(|| {
            (0..t_n)
                .map(|a| {
                    (0..t_n)
                        .map(|b| {
                            let (s, c) = st.acc_cos[a * t_n + b];
                            (c > 0).then(|| s / c as f64)
                        })
                        .collect()
                })
                .collect()
        });
        let log = EpochLog {
            epoch,
            steps: st.steps,
            train_losses: mean(&st.acc_loss, &st.acc_count),
            weights: mean(&st.acc_weight, &st.acc_count),
            lr: last_lr,
            conflict_ratio: (st.acc_conflict.1 > 0)
                .then(|| st.acc_conflict.0 / st.acc_conflict.1 as f64),
            cosines,
            oracle: st.oracle.clone(),
            step_ms: 1e3 * st.acc_step_s / st.acc_steps.max(1) as f64,
            validation: evaluation,
            best,
            seconds: t0.elapsed().as_secs_f64(),
        };
        if let Some(path) = &files.log {
            append_log(path, &log)?;
        }
        log::info!(
            "epoch {epoch}: train losses {:?}, validation score {:?}",
            log.train_losses,
            log.validation.as_ref().map(Evaluation::score)
        );
        st.history.push(log);
        st.acc_loss.iter_mut().for_each(|v| *v = 0.0);
        st.acc_weight.iter_mut().for_each(|v| *v = 0.0);
        st.acc_count.iter_mut().for_each(|v| *v = 0);
        st.acc_conflict = (0.0, 0);
        st.acc_cos.iter_mut().for_each(|v| *v = (0.0, 0));
        st.acc_step_s = 0.0;
        st.acc_steps = 0;
        st.epoch += 1;
        st.step_in_epoch = 0;
        if validation.is_some() && cfg.patience.is_some() && st.early.should_stop() {
            st.done = true;
            st.stopped_early = true;
        }
        if st.epoch >= cfg.epochs {
            st.done = true;
        }
        if let Some(dir) = &files.checkpoint_dir {
            st.weighting = weighting.state()?;
            save_checkpoint(dir, &mut st, &model, &optim, best_model.as_ref())?;
        }
    }
    bar.finish_and_clear();
    let affinity = run_affinity(cfg, &st, t_n);
    Ok(TrainOutcome {
        model: best_model.unwrap_or(model),
        history: st.history,
        best_epoch: st.early.best_epoch,
        stopped_early: st.stopped_early,
        steps: st.steps,
        affinity,
    })
}

/// The run-long affinity averages, when measured.
fn run_affinity(
    cfg: &TrainerConfig,
    st: &RunState,
    t_n: usize,
) -> Option<crate::affinity::TrainingAffinity> {
    let a = cfg.affinity.as_ref()?;
    Some(crate::affinity::TrainingAffinity {
        lookahead: st.aff_lookahead.means(t_n),
        lookahead_steps: st.aff_lookahead.steps,
        cosine: a.cosine.then(|| st.aff_cosine.means(t_n)),
        cosine_steps: st.aff_cosine.steps,
    })
}

/// One step through a gradient oracle.
fn gradient_step<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    batch: &Batch,
    weighting: &mut dyn Weighting,
    device: &Device,
    choice: crate::oracle::OracleChoice,
) -> Result<crate::oracle::OracleStep> {
    use crate::oracle::{OracleChoice, parameter_step, representation_step};
    match choice {
        OracleChoice::Parameters => parameter_step(model, data, batch, weighting, device),
        OracleChoice::Representation => representation_step(model, data, batch, weighting, device)?
            .ok_or_else(|| {
                config_err(
                    "this architecture has no representation split: use the parameter-level oracle",
                )
            }),
        // methods that act on Jacobian coordinates keep per-coordinate state (EMAs of the
        // gradients): the parameters are the coordinates that persist from step to step (the
        // representation's rows are other samples at every step)
        OracleChoice::Auto if weighting.need() == Need::Jacobian => {
            parameter_step(model, data, batch, weighting, device)
        }
        OracleChoice::Auto => match representation_step(model, data, batch, weighting, device)? {
            Some(s) => Ok(s),
            None => parameter_step(model, data, batch, weighting, device),
        },
    }
}

fn s_config_differs(s: &RunState, fp: &serde_json::Value) -> bool {
    // the progress flag does not change the run
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("progress");
        }
        v
    };
    strip(&s.config) != strip(fp)
}

fn io_err(operation: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DeepError {
    let path = path.to_path_buf();
    move |source| DeepError::Io {
        operation,
        path,
        source,
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    mtlkit_core::io::atomic_write(path, bytes).map_err(DeepError::from)
}

/// Write a checkpoint: the model, optimizer and best model under names unique to this step,
/// then `state.json` naming them (written atomically, last), then the files of older
/// checkpoints are removed. A kill at any point leaves the previous checkpoint intact.
fn save_checkpoint<M: Module>(
    dir: &Path,
    st: &mut RunState,
    model: &M,
    optim: &ModuleOptimizer,
    best: Option<&M>,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
    let tag = format!("{:05}-{:09}", st.epoch, st.steps);
    let record_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: burn::store::RecordError| DeepError::ModelFile {
            path,
            message: format!("cannot encode: {e}"),
        }
    };
    let model_file = format!("model-{tag}.bpk");
    let p = dir.join(&model_file);
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(record_err(&p))?;
    write_atomic(&p, &bytes)?;
    let optim_file = format!("optim-{tag}.bpk");
    let p = dir.join(&optim_file);
    let bytes = optim.into_bytes().map_err(record_err(&p))?;
    write_atomic(&p, &bytes)?;
    let best_file = match best {
        Some(b) => {
            let name = format!("best-{tag}.bpk");
            let p = dir.join(&name);
            let bytes = b
                .clone()
                .into_record()
                .into_bytes()
                .map_err(record_err(&p))?;
            write_atomic(&p, &bytes)?;
            Some(name)
        }
        None => None,
    };
    st.model_file = model_file;
    st.optim_file = optim_file;
    st.best_file = best_file;
    let json = serde_json::to_vec_pretty(&*st).map_err(|e| config_err(e.to_string()))?;
    write_atomic(&dir.join(STATE_FILE), &json)?;
    // remove the files of older checkpoints
    let keep = [
        Some(&st.model_file),
        Some(&st.optim_file),
        st.best_file.as_ref(),
    ];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let ours = (name.starts_with("model-")
                || name.starts_with("optim-")
                || name.starts_with("best-"))
                && name.ends_with(".bpk");
            if ours && !keep.iter().any(|k| k.is_some_and(|k| *k == name)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

type Loaded<M> = (RunState, M, ModuleOptimizer, Option<M>);

/// Load the checkpoint in `dir`, if there is one (`state.json`).
fn load_checkpoint<M: Module>(
    dir: &Path,
    model: M,
    optim: ModuleOptimizer,
) -> Result<Option<Loaded<M>>> {
    let state_path = dir.join(STATE_FILE);
    if !state_path.exists() {
        return Ok(None);
    }
    let bad = |path: &Path, message: String| DeepError::ModelFile {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read(&state_path).map_err(io_err("reading", &state_path))?;
    let st: RunState = serde_json::from_slice(&text)
        .map_err(|e| bad(&state_path, format!("not a trainer state ({e})")))?;
    if st.format != 1 {
        return Err(bad(
            &state_path,
            format!("unknown checkpoint format {}", st.format),
        ));
    }
    let read_module = |name: &str, m: M| -> Result<M> {
        let p = dir.join(name);
        let bytes = std::fs::read(&p).map_err(io_err("reading", &p))?;
        let rec = burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
            .map_err(|e| bad(&p, format!("corrupt model record ({e})")))?;
        m.try_load_record(rec)
            .map_err(|e| bad(&p, format!("the record does not fit the model ({e})")))
    };
    let m = read_module(&st.model_file, model.clone())?;
    let best = match &st.best_file {
        Some(b) => Some(read_module(b, model)?),
        None => None,
    };
    let p = dir.join(&st.optim_file);
    let bytes = std::fs::read(&p).map_err(io_err("reading", &p))?;
    let o = optim
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| bad(&p, format!("corrupt optimizer state ({e})")))?;
    Ok(Some((st, m, o, best)))
}

fn append_log(path: &Path, log: &EpochLog) -> Result<()> {
    use std::io::Write;
    let line = serde_json::to_string(log).map_err(|e| config_err(e.to_string()))?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| DeepError::Io {
            operation: "appending to",
            path: path.to_path_buf(),
            source,
        })?;
    writeln!(f, "{line}").map_err(|source| DeepError::Io {
        operation: "writing",
        path: path.to_path_buf(),
        source,
    })
}
