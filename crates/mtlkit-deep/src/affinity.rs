//! Task affinity measured while a multi-task model trains: which tasks help each other.
//!
//! Two measures, both averaged over the training steps at which they are taken:
//!
//! * **lookahead inter-task affinity** (TAG, Fifty et al. 2021): at a step with shared
//!   parameters `θ_s`, take one plain gradient step on task `i` alone,
//!   `θ_{s|i} = θ_s − η ∇_{θ_s} L_i`, and measure how the loss of task `j` on the same batch
//!   moves:
//!
//!   `Z_{i→j} = 1 − L_j(θ_{s|i}) / L_j(θ_s)`.
//!
//!   `Z_{i→j} > 0`: a step on `i` lowers `j`'s loss (i helps j); `< 0`: it raises it. The step
//!   is taken on every parameter task `i`'s loss reads; task `j ≠ i` reads only the shared ones
//!   (its own head and gates are not in `L_i`'s graph), so the off-diagonal entries are exactly
//!   TAG's. The diagonal also moves task `i`'s own head (self-affinity, kept for reference).
//!   Cost per measurement: one forward and backward per task plus one forward per task.
//! * **gradient cosine**: the cosine of the task gradients at the shared representation (or at
//!   the parameters, per the oracle), from the Gramian the gradient oracles form anyway
//!   ([`crate::oracle`]).
//!
//! The matrices are written in the `TaskAffinity` JSON form read by `mtlkit relate`
//! (`{"kind", "tasks", "matrix"}`), which groups tasks from them.

use std::ops::Range;

use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::arch::MultiTaskModel;
use crate::data::{Batch, DeepDataset};
use crate::error::{DeepError, Result, config_err};
use crate::loss::{task_loss, tensor2};

/// When and how to measure task affinity during training (`[trainer.affinity]` in a config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AffinityConfig {
    /// Take the lookahead measurement every `every` optimizer steps (default 10; ≥ 1).
    pub every: usize,
    /// Learning rate `η` of the lookahead step (default: the trainer's learning rate at that
    /// step).
    pub lookahead_lr: Option<f64>,
    /// Also average the pairwise gradient cosines over every step (the trainer then computes
    /// task gradients at each step through its gradient oracle; default true).
    pub cosine: bool,
}

impl Default for AffinityConfig {
    fn default() -> Self {
        Self {
            every: 10,
            lookahead_lr: None,
            cosine: true,
        }
    }
}

impl AffinityConfig {
    /// Check the settings.
    ///
    /// # Errors
    /// `every` of 0, a non-positive or non-finite lookahead learning rate.
    pub fn validate(&self) -> Result<()> {
        if self.every == 0 {
            return Err(config_err("affinity.every must be ≥ 1"));
        }
        if let Some(lr) = self.lookahead_lr
            && !(lr.is_finite() && lr > 0.0)
        {
            return Err(config_err(format!(
                "affinity.lookahead_lr must be positive and finite, got {lr}"
            )));
        }
        Ok(())
    }
}

/// A `T × T` task-affinity matrix with its task names: the JSON form `mtlkit relate --from`
/// reads (`{"kind": ..., "tasks": [...], "matrix": [[...], ...]}`, row `i`, column `j`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AffinityMatrix {
    /// What was measured (`"lookahead"`, `"gradient-cosine"`).
    pub kind: String,
    /// Task names, in row order.
    pub tasks: Vec<String>,
    /// The matrix; pairs never measured are 0 (see [`TrainingAffinity::unmeasured`]).
    pub matrix: Vec<Vec<f64>>,
}

/// A `T × T` matrix with entries for the measured pairs only.
pub type PairMatrix = Vec<Vec<Option<f64>>>;

/// One lookahead measurement: the present task ids and the `k × k` matrix over them.
pub type Lookahead = (Vec<usize>, Vec<Vec<f64>>);

/// Training-averaged affinities of one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingAffinity {
    /// Mean lookahead affinity `Z_{i→j}` (row `i` stepped, column `j` measured); `None` for
    /// pairs never measured together (a task absent from every measured batch).
    pub lookahead: Vec<Vec<Option<f64>>>,
    /// Number of lookahead measurements.
    pub lookahead_steps: usize,
    /// Mean pairwise gradient cosine, when measured.
    pub cosine: Option<Vec<Vec<Option<f64>>>>,
    /// Number of steps with cosines.
    pub cosine_steps: usize,
}

impl TrainingAffinity {
    /// Pairs of tasks that were never measured together (they appear as 0 in
    /// [`AffinityMatrix`]).
    pub fn unmeasured(&self) -> usize {
        self.lookahead
            .iter()
            .flatten()
            .filter(|v| v.is_none())
            .count()
    }

    /// The mean over several runs (seeds) of the same tasks: pairwise means over the runs that
    /// measured each pair.
    pub fn mean(runs: &[&TrainingAffinity]) -> Option<TrainingAffinity> {
        let first = runs.first()?;
        let t = first.lookahead.len();
        let avg = |get: &dyn Fn(&TrainingAffinity) -> Option<&PairMatrix>| {
            let mut any = false;
            let m: Vec<Vec<Option<f64>>> = (0..t)
                .map(|i| {
                    (0..t)
                        .map(|j| {
                            let v: Vec<f64> = runs
                                .iter()
                                .filter_map(|r| get(r).and_then(|m| m.get(i)?.get(j).copied()?))
                                .collect();
                            any |= !v.is_empty();
                            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
                        })
                        .collect()
                })
                .collect();
            any.then_some(m)
        };
        Some(TrainingAffinity {
            lookahead: avg(&|r| Some(&r.lookahead)).unwrap_or_else(|| vec![vec![None; t]; t]),
            lookahead_steps: runs.iter().map(|r| r.lookahead_steps).sum(),
            cosine: avg(&|r| r.cosine.as_ref()),
            cosine_steps: runs.iter().map(|r| r.cosine_steps).sum(),
        })
    }

    /// The lookahead matrix (and the cosine matrix, when measured) as [`AffinityMatrix`]es
    /// named by `tasks`.
    pub fn matrices(&self, tasks: &[String]) -> Vec<AffinityMatrix> {
        let dense = |m: &Vec<Vec<Option<f64>>>| -> Vec<Vec<f64>> {
            m.iter()
                .map(|r| r.iter().map(|v| v.unwrap_or(0.0)).collect())
                .collect()
        };
        let mut out = Vec::new();
        if self.lookahead_steps > 0 {
            out.push(AffinityMatrix {
                kind: "lookahead".into(),
                tasks: tasks.to_vec(),
                matrix: dense(&self.lookahead),
            });
        }
        if let Some(c) = &self.cosine {
            out.push(AffinityMatrix {
                kind: "gradient-cosine".into(),
                tasks: tasks.to_vec(),
                matrix: dense(c),
            });
        }
        out
    }
}

/// Running sums of one measure (`T × T` cells of (sum, count)).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PairSums {
    pub(crate) cells: Vec<(f64, usize)>,
    pub(crate) steps: usize,
}

impl PairSums {
    pub(crate) fn new(t: usize) -> Self {
        Self {
            cells: vec![(0.0, 0); t * t],
            steps: 0,
        }
    }

    /// Adds a `k × k` measurement over the task ids `ids`.
    pub(crate) fn add(&mut self, t: usize, ids: &[usize], m: &[Vec<f64>]) {
        for (a, &ta) in ids.iter().enumerate() {
            for (b, &tb) in ids.iter().enumerate() {
                if let Some(&v) = m.get(a).and_then(|r| r.get(b))
                    && v.is_finite()
                {
                    let c = &mut self.cells[ta * t + tb];
                    c.0 += v;
                    c.1 += 1;
                }
            }
        }
        self.steps += 1;
    }

    pub(crate) fn means(&self, t: usize) -> Vec<Vec<Option<f64>>> {
        (0..t)
            .map(|i| {
                (0..t)
                    .map(|j| {
                        let (s, c) = self.cells.get(i * t + j).copied().unwrap_or((0.0, 0));
                        (c > 0).then(|| s / c as f64)
                    })
                    .collect()
            })
            .collect()
    }
}

/// Per-task losses of `model` (evaluated without autodiff) on the batch: `(task ids, losses)`.
fn plain_losses<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    batch: &Batch,
    device: &Device,
) -> (Vec<usize>, Vec<f64>) {
    let x = tensor2(&batch.x, device);
    let rows: Vec<Option<Range<usize>>> = batch
        .tasks
        .iter()
        .map(|t| t.as_ref().map(|tb| tb.rows.clone()))
        .collect();
    let outs = model.forward(x, &rows);
    let mut ids = Vec::new();
    let mut lv = Vec::new();
    for (t, (o, tb)) in outs.into_iter().zip(&batch.tasks).enumerate() {
        if let (Some(o), Some(tb)) = (o, tb) {
            ids.push(t);
            let l = task_loss(&data.specs()[t].loss(), o, tb, device);
            lv.push(f64::from(l.into_scalar::<f32>()));
        }
    }
    (ids, lv)
}

/// One lookahead measurement on `batch` with step size `lr`: the present task ids and the
/// `k × k` matrix `Z_{i→j} = 1 − L_j(θ − lr ∇L_i) / L_j(θ)` (row `i` stepped). `None` when
/// fewer than two tasks are present.
///
/// # Errors
/// A non-finite loss.
pub fn lookahead<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    batch: &Batch,
    lr: f64,
    device: &Device,
) -> Result<Option<Lookahead>> {
    let plain = device.clone().without_autodiff();
    let (ids, base) = plain_losses(&model.valid(), data, batch, &plain);
    if ids.len() < 2 {
        return Ok(None);
    }
    if let Some((k, v)) = base.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(DeepError::Training(format!(
            "task '{}' has loss {v} in the affinity measurement",
            data.specs()[ids[k]].name
        )));
    }
    let n_rows = batch.tasks.len();
    let mut z = Vec::with_capacity(ids.len());
    for &i in &ids {
        let Some(tb) = &batch.tasks[i] else {
            continue;
        };
        let x = tensor2(&batch.x, device);
        let mut only: Vec<Option<Range<usize>>> = vec![None; n_rows];
        only[i] = Some(tb.rows.clone());
        let Some(out) = model.forward(x, &only).swap_remove(i) else {
            continue;
        };
        let loss = task_loss(&data.specs()[i].loss(), out, tb, device);
        let grads = GradientsParams::from_grads(loss.backward(), model);
        let mut sgd = SgdConfig::new().init();
        let stepped = sgd.step(lr, model.clone(), grads);
        let (ids_after, after) = plain_losses(&stepped.valid(), data, batch, &plain);
        if ids_after != ids {
            return Err(DeepError::Training(
                "the affinity measurement saw other tasks after the lookahead step".into(),
            ));
        }
        z.push(
            base.iter()
                .zip(&after)
                .map(|(&b, &a)| if b > 0.0 { 1.0 - a / b } else { 0.0 })
                .collect(),
        );
    }
    Ok(Some((ids, z)))
}
