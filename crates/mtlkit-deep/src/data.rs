//! Data for deep multi-task models: one shared input with a target per task, or one dataset
//! per task (sizes may differ); label masks; seeded, deterministic batch plans and task
//! samplers.
//!
//! Inputs are `f32` (the precision the networks run in). Targets are stored per task as an
//! `n × target_dim` matrix with a mask of the same shape (`1` = labelled): a `NaN` target is a
//! missing label and contributes nothing to the loss, its gradients or the metrics.

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{DeepError, Result, config_err};
use crate::task::{TaskSpec, validate_specs};

/// One task's targets and label mask, both `n × target_dim`.
#[derive(Clone, Debug, PartialEq)]
pub struct Targets {
    /// Target values (`0` where missing).
    pub y: Array2<f32>,
    /// `1` where labelled, `0` where missing.
    pub mask: Array2<f32>,
}

impl Targets {
    /// Targets from an `n × target_dim` matrix, `NaN` = missing; values are checked against
    /// the task's kind (binary labels 0/1, class indices in range, finite values).
    ///
    /// # Errors
    /// [`DeepError::BadTarget`] naming the task and row; [`DeepError::Config`] when the width
    /// is not the kind's target width.
    pub fn new(spec: &TaskSpec, values: ArrayView2<'_, f64>) -> Result<Self> {
        let (n, k) = values.dim();
        if k != spec.kind.target_dim() {
            return Err(config_err(format!(
                "task '{}': targets have {k} columns, a {:?} task needs {}",
                spec.name,
                spec.kind,
                spec.kind.target_dim()
            )));
        }
        let mut y = Array2::<f32>::zeros((n, k));
        let mut mask = Array2::<f32>::zeros((n, k));
        for ((i, j), &v) in values.indexed_iter() {
            if v.is_nan() {
                continue;
            }
            spec.kind
                .check_value(v)
                .map_err(|message| DeepError::BadTarget {
                    task: spec.name.clone(),
                    row: i,
                    message,
                })?;
            #[allow(clippy::cast_possible_truncation)]
            {
                y[[i, j]] = v as f32;
            }
            mask[[i, j]] = 1.0;
        }
        Ok(Self { y, mask })
    }

    /// Targets of a one-column task from a vector (`NaN` = missing).
    ///
    /// # Errors
    /// As [`Targets::new`].
    pub fn from_column(spec: &TaskSpec, values: ArrayView1<'_, f64>) -> Result<Self> {
        Self::new(spec, values.insert_axis(Axis(1)))
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.y.nrows()
    }

    /// Number of labelled entries.
    pub fn n_labelled(&self) -> usize {
        self.mask.iter().filter(|&&m| m > 0.0).count()
    }

    /// Whether row `i` has any label.
    pub fn row_labelled(&self, i: usize) -> bool {
        self.mask.row(i).iter().any(|&m| m > 0.0)
    }

    fn select(&self, rows: &[usize]) -> Self {
        Self {
            y: self.y.select(Axis(0), rows),
            mask: self.mask.select(Axis(0), rows),
        }
    }
}

/// How the samples are laid out.
#[derive(Clone, Debug, PartialEq)]
pub enum DeepLayout {
    /// One input matrix `n × d` shared by all tasks, with every task's targets on its rows.
    Shared {
        /// Inputs.
        x: Array2<f32>,
        /// One entry per task, each with `n` rows.
        targets: Vec<Targets>,
    },
    /// One input matrix and one set of targets per task (`n_t` may differ).
    PerTask {
        /// `(X_t, targets_t)` per task.
        tasks: Vec<(Array2<f32>, Targets)>,
    },
}

/// A multi-task dataset for deep models: inputs, per-task targets with masks, task specs.
#[derive(Clone, Debug, PartialEq)]
pub struct DeepDataset {
    layout: DeepLayout,
    specs: Vec<TaskSpec>,
    n_features: usize,
}

fn check_x(x: &Array2<f32>, task: Option<&str>) -> Result<()> {
    if x.nrows() == 0 {
        return Err(mtlkit_core::Error::NoSamples {
            task: task.map(str::to_string),
        }
        .into());
    }
    if x.ncols() == 0 {
        return Err(mtlkit_core::Error::NoFeatures.into());
    }
    if let Some(((row, col), &v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(mtlkit_core::Error::NonFinite {
            array: "X",
            task: task.map(str::to_string),
            row,
            col,
            value: f64::from(v),
        }
        .into());
    }
    Ok(())
}

fn no_labels(spec: &TaskSpec) -> DeepError {
    mtlkit_core::Error::NoLabels {
        task: spec.name.clone(),
    }
    .into()
}

impl DeepDataset {
    /// One shared input `x` (`n × d`) with one [`Targets`] per task (each `n` rows).
    ///
    /// # Errors
    /// Empty or non-finite `x`, a wrong number of target sets or rows, invalid specs, a task
    /// without any label.
    pub fn shared(x: Array2<f32>, targets: Vec<Targets>, specs: Vec<TaskSpec>) -> Result<Self> {
        validate_specs(&specs)?;
        check_x(&x, None)?;
        if targets.len() != specs.len() {
            return Err(mtlkit_core::Error::ShapeMismatch {
                what: "target sets vs tasks",
                task: None,
                expected: specs.len(),
                found: targets.len(),
            }
            .into());
        }
        for (t, s) in targets.iter().zip(&specs) {
            check_targets(t, s, x.nrows())?;
        }
        let n_features = x.ncols();
        Ok(Self {
            layout: DeepLayout::Shared { x, targets },
            specs,
            n_features,
        })
    }

    /// One `(X_t, targets_t)` per task.
    ///
    /// # Errors
    /// As [`DeepDataset::shared`], plus tasks that disagree on the number of features.
    pub fn per_task(tasks: Vec<(Array2<f32>, Targets)>, specs: Vec<TaskSpec>) -> Result<Self> {
        validate_specs(&specs)?;
        if tasks.len() != specs.len() {
            return Err(mtlkit_core::Error::ShapeMismatch {
                what: "datasets vs tasks",
                task: None,
                expected: specs.len(),
                found: tasks.len(),
            }
            .into());
        }
        let n_features = tasks.first().map_or(0, |(x, _)| x.ncols());
        for ((x, t), s) in tasks.iter().zip(&specs) {
            check_x(x, Some(&s.name))?;
            if x.ncols() != n_features {
                return Err(mtlkit_core::Error::ShapeMismatch {
                    what: "features of this task vs the first task",
                    task: Some(s.name.clone()),
                    expected: n_features,
                    found: x.ncols(),
                }
                .into());
            }
            check_targets(t, s, x.nrows())?;
        }
        Ok(Self {
            layout: DeepLayout::PerTask { tasks },
            specs,
            n_features,
        })
    }

    /// The layout.
    pub fn layout(&self) -> &DeepLayout {
        &self.layout
    }

    /// The task specs.
    pub fn specs(&self) -> &[TaskSpec] {
        &self.specs
    }

    /// Number of tasks.
    pub fn n_tasks(&self) -> usize {
        self.specs.len()
    }

    /// A 64-bit fingerprint of the whole dataset (task specs, inputs, targets and masks, in
    /// order; FNV-1a over their bits): two datasets that differ in any value, shape or task
    /// have different fingerprints but for a 2⁻⁶⁴ chance. A checkpoint records the fingerprint
    /// of the data it was trained on, so that a run is never resumed on other data.
    pub fn fingerprint(&self) -> u64 {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(PRIME);
            }
        };
        let array = |a: &Array2<f32>, eat: &mut dyn FnMut(&[u8])| {
            eat(&(a.nrows() as u64).to_le_bytes());
            eat(&(a.ncols() as u64).to_le_bytes());
            for v in a.iter() {
                eat(&v.to_bits().to_le_bytes());
            }
        };
        eat(serde_json::to_string(&self.specs)
            .unwrap_or_default()
            .as_bytes());
        eat(&(self.n_features as u64).to_le_bytes());
        match &self.layout {
            DeepLayout::Shared { x, targets } => {
                eat(b"shared");
                array(x, &mut eat);
                for tg in targets {
                    array(&tg.y, &mut eat);
                    array(&tg.mask, &mut eat);
                }
            }
            DeepLayout::PerTask { tasks } => {
                eat(b"per-task");
                for (x, tg) in tasks {
                    array(x, &mut eat);
                    array(&tg.y, &mut eat);
                    array(&tg.mask, &mut eat);
                }
            }
        }
        h
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Rows of task `t` (all rows for a shared input).
    pub fn n_rows(&self, t: usize) -> usize {
        match &self.layout {
            DeepLayout::Shared { x, .. } => x.nrows(),
            DeepLayout::PerTask { tasks } => tasks[t].0.nrows(),
        }
    }

    /// Task `t`'s inputs and targets.
    pub fn task(&self, t: usize) -> (ArrayView2<'_, f32>, &Targets) {
        match &self.layout {
            DeepLayout::Shared { x, targets } => (x.view(), &targets[t]),
            DeepLayout::PerTask { tasks } => (tasks[t].0.view(), &tasks[t].1),
        }
    }

    /// The dataset restricted to some rows: for a shared input `rows[0]` (one list), for
    /// per-task data one list per task. Indices must be in range (checked).
    ///
    /// # Errors
    /// An index out of range, a wrong number of lists, or a task left without labels.
    pub fn select(&self, rows: &[Vec<usize>]) -> Result<Self> {
        let bad = |what| config_err(format!("row selection: {what}"));
        let layout = match &self.layout {
            DeepLayout::Shared { x, targets } => {
                let [r] = rows else {
                    return Err(bad("a shared input takes one row list"));
                };
                if r.iter().any(|&i| i >= x.nrows()) {
                    return Err(bad("index out of range"));
                }
                DeepLayout::Shared {
                    x: x.select(Axis(0), r),
                    targets: targets.iter().map(|t| t.select(r)).collect(),
                }
            }
            DeepLayout::PerTask { tasks } => {
                if rows.len() != tasks.len() {
                    return Err(bad("per-task data takes one row list per task"));
                }
                let mut out = Vec::with_capacity(tasks.len());
                for ((x, t), r) in tasks.iter().zip(rows) {
                    if r.iter().any(|&i| i >= x.nrows()) {
                        return Err(bad("index out of range"));
                    }
                    out.push((x.select(Axis(0), r), t.select(r)));
                }
                DeepLayout::PerTask { tasks: out }
            }
        };
        match layout {
            DeepLayout::Shared { x, targets } => Self::shared(x, targets, self.specs.clone()),
            DeepLayout::PerTask { tasks } => Self::per_task(tasks, self.specs.clone()),
        }
    }

    /// The dataset restricted to some tasks (in the given order).
    ///
    /// # Errors
    /// An unknown or repeated task index, or no task.
    pub fn select_tasks(&self, tasks: &[usize]) -> Result<Self> {
        let mut seen = std::collections::HashSet::new();
        if tasks.is_empty()
            || tasks
                .iter()
                .any(|&t| t >= self.n_tasks() || !seen.insert(t))
        {
            return Err(config_err("task selection: unknown, repeated or no task"));
        }
        let specs: Vec<TaskSpec> = tasks.iter().map(|&t| self.specs[t].clone()).collect();
        match &self.layout {
            DeepLayout::Shared { x, targets } => Self::shared(
                x.clone(),
                tasks.iter().map(|&t| targets[t].clone()).collect(),
                specs,
            ),
            DeepLayout::PerTask { tasks: data } => {
                Self::per_task(tasks.iter().map(|&t| data[t].clone()).collect(), specs)
            }
        }
    }

    /// Apply `f` to every input matrix (e.g. standardisation).
    pub fn map_inputs(&mut self, mut f: impl FnMut(&mut Array2<f32>)) {
        match &mut self.layout {
            DeepLayout::Shared { x, .. } => f(x),
            DeepLayout::PerTask { tasks } => tasks.iter_mut().for_each(|(x, _)| f(x)),
        }
    }

    /// All input rows stacked (every task's rows for per-task data).
    pub fn all_inputs(&self) -> Array2<f32> {
        match &self.layout {
            DeepLayout::Shared { x, .. } => x.clone(),
            DeepLayout::PerTask { tasks } => {
                let views: Vec<_> = tasks.iter().map(|(x, _)| x.view()).collect();
                ndarray::concatenate(Axis(0), &views)
                    .unwrap_or_else(|_| Array2::zeros((0, self.n_features)))
            }
        }
    }

    /// Split off a validation set: a seeded random `fraction` of the rows (of each task's rows
    /// for per-task data, so every task appears in both parts). Returns `(train, validation)`.
    ///
    /// # Errors
    /// `fraction` outside (0, 1), or a part left without rows or labels.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Self, Self)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(config_err(format!(
                "validation fraction must be in (0, 1), got {fraction}"
            )));
        }
        let lists = match &self.layout {
            DeepLayout::Shared { .. } => 1,
            DeepLayout::PerTask { tasks } => tasks.len(),
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut tr, mut va) = (Vec::new(), Vec::new());
        for l in 0..lists {
            let n = self.n_rows(l);
            let mut idx: Vec<usize> = (0..n).collect();
            idx.shuffle(&mut rng);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let nv = ((n as f64 * fraction).round() as usize).clamp(1, n.saturating_sub(1).max(1));
            let mut v = idx[..nv].to_vec();
            let mut t = idx[nv..].to_vec();
            v.sort_unstable();
            t.sort_unstable();
            va.push(v);
            tr.push(t);
        }
        let part = |rows: &[Vec<usize>], which: &str| {
            self.select(rows).map_err(|e| match e {
                DeepError::Data(mtlkit_core::Error::NoLabels { task }) => config_err(format!(
                    "the {which} part of the split has no label of task '{task}' (it has too \
                     few labelled rows to split: give a validation table or label more rows)"
                )),
                other => other,
            })
        };
        Ok((part(&tr, "training")?, part(&va, "validation")?))
    }

    /// The batch of the given rows (see [`BatchIndex`]).
    ///
    /// # Errors
    /// An index of the other layout, a per-task index without one row list per task, or a
    /// row beyond its task's rows.
    pub fn batch(&self, index: &BatchIndex) -> Result<Batch> {
        let beyond = |rows: &[usize], n: usize, task: Option<usize>| -> Result<()> {
            match rows.iter().find(|&&i| i >= n) {
                Some(&i) => Err(config_err(format!(
                    "batch row {i} is beyond the {n} rows{}",
                    task.map(|t| format!(" of task {t}")).unwrap_or_default()
                ))),
                None => Ok(()),
            }
        };
        match (&self.layout, index) {
            (DeepLayout::Shared { x, .. }, BatchIndex::Shared(rows)) => {
                beyond(rows, x.nrows(), None)?
            }
            (DeepLayout::PerTask { tasks }, BatchIndex::PerTask(per)) => {
                if per.len() != tasks.len() {
                    return Err(config_err(format!(
                        "a per-task batch index with {} row lists for {} tasks",
                        per.len(),
                        tasks.len()
                    )));
                }
                for (t, ((xt, _), rows)) in tasks.iter().zip(per).enumerate() {
                    beyond(rows, xt.nrows(), Some(t))?;
                }
            }
            _ => {
                return Err(config_err(
                    "the batch index is of the other layout (shared vs per task) than the data",
                ));
            }
        }
        Ok(self.batch_of(index))
    }

    /// [`batch`](Self::batch) of an index known to fit.
    pub(crate) fn batch_of(&self, index: &BatchIndex) -> Batch {
        match (&self.layout, index) {
            (DeepLayout::Shared { x, targets }, BatchIndex::Shared(rows)) => {
                let tasks = targets
                    .iter()
                    .map(|t| {
                        let tb = TaskBatch {
                            rows: 0..rows.len(),
                            y: t.y.select(Axis(0), rows),
                            mask: t.mask.select(Axis(0), rows),
                        };
                        // a task without any label in the batch is left out of the step
                        tb.mask.iter().any(|&m| m > 0.0).then_some(tb)
                    })
                    .collect();
                Batch {
                    x: x.select(Axis(0), rows),
                    tasks,
                }
            }
            (DeepLayout::PerTask { tasks }, BatchIndex::PerTask(per)) => {
                let total: usize = per.iter().map(Vec::len).sum();
                let mut x = Array2::<f32>::zeros((total, self.n_features));
                let mut out = Vec::with_capacity(tasks.len());
                let mut at = 0;
                for ((xt, tt), rows) in tasks.iter().zip(per) {
                    if rows.is_empty() {
                        out.push(None);
                        continue;
                    }
                    for (k, &i) in rows.iter().enumerate() {
                        x.row_mut(at + k).assign(&xt.row(i));
                    }
                    let tb = TaskBatch {
                        rows: at..at + rows.len(),
                        y: tt.y.select(Axis(0), rows),
                        mask: tt.mask.select(Axis(0), rows),
                    };
                    at += rows.len();
                    out.push(tb.mask.iter().any(|&m| m > 0.0).then_some(tb));
                }
                Batch { x, tasks: out }
            }
            _ => Batch {
                x: Array2::zeros((0, self.n_features)),
                tasks: vec![None; self.n_tasks()],
            },
        }
    }

    /// The whole dataset as one batch (evaluation).
    pub fn full_batch(&self) -> Batch {
        self.batch_of(&self.full_index())
    }

    /// Every row, in order.
    pub fn full_index(&self) -> BatchIndex {
        match &self.layout {
            DeepLayout::Shared { x, .. } => BatchIndex::Shared((0..x.nrows()).collect()),
            DeepLayout::PerTask { tasks } => BatchIndex::PerTask(
                tasks
                    .iter()
                    .map(|(x, _)| (0..x.nrows()).collect())
                    .collect(),
            ),
        }
    }

    /// The batches of epoch `epoch` (deterministic in `(seed, epoch)`, so a resumed run draws
    /// the same batches as an uninterrupted one).
    ///
    /// Shared input: the rows shuffled and cut into batches of `batch_size` (the last one may
    /// be smaller). Per-task data: see [`Sampling`].
    pub fn epoch_plan(
        &self,
        epoch: usize,
        seed: u64,
        batch_size: usize,
        sampling: &Sampling,
    ) -> Vec<BatchIndex> {
        let batch_size = batch_size.max(1);
        let mut rng =
            StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        match &self.layout {
            DeepLayout::Shared { x, .. } => {
                let mut idx: Vec<usize> = (0..x.nrows()).collect();
                idx.shuffle(&mut rng);
                idx.chunks(batch_size)
                    .map(|c| BatchIndex::Shared(c.to_vec()))
                    .collect()
            }
            DeepLayout::PerTask { tasks } => {
                let sizes: Vec<usize> = tasks.iter().map(|(x, _)| x.nrows()).collect();
                sampling.plan(&sizes, batch_size, &mut rng)
            }
        }
    }
}

fn check_targets(t: &Targets, spec: &TaskSpec, n: usize) -> Result<()> {
    if t.n_rows() != n {
        return Err(mtlkit_core::Error::ShapeMismatch {
            what: "rows of the targets vs rows of X",
            task: Some(spec.name.clone()),
            expected: n,
            found: t.n_rows(),
        }
        .into());
    }
    if t.y.ncols() != spec.kind.target_dim() || t.mask.dim() != t.y.dim() {
        return Err(config_err(format!(
            "task '{}': targets must have {} column(s) and a mask of the same shape",
            spec.name,
            spec.kind.target_dim()
        )));
    }
    // the mask is 0 (missing) or 1 (labelled); a missing entry's value must still be finite
    // (a masked loss multiplies it by 0, and NaN · 0 is NaN); a labelled one must fit the kind
    for ((i, j), &v) in t.y.indexed_iter() {
        let m = t.mask[[i, j]];
        let bad = |message: String| DeepError::BadTarget {
            task: spec.name.clone(),
            row: i,
            message,
        };
        if m != 0.0 && m != 1.0 {
            return Err(bad(format!(
                "mask value {m} in column {j} (it must be 0 or 1)"
            )));
        }
        if m == 0.0 && !v.is_finite() {
            return Err(bad(format!(
                "non-finite value {v} under a 0 mask in column {j} (missing entries hold 0)"
            )));
        }
        if m > 0.0 {
            spec.kind.check_value(f64::from(v)).map_err(bad)?;
        }
    }
    if t.n_labelled() == 0 {
        return Err(no_labels(spec));
    }
    Ok(())
}

/// Which rows form a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchIndex {
    /// Rows of a shared input.
    Shared(Vec<usize>),
    /// Rows of each task's data (an empty list: the task is absent from the batch).
    PerTask(Vec<Vec<usize>>),
}

/// A batch: the stacked inputs and, per task, the rows that belong to it with their targets
/// (`None`: the task has no label in this batch and is left out of the step).
#[derive(Clone, Debug)]
pub struct Batch {
    /// Inputs, `rows × d`.
    pub x: Array2<f32>,
    /// Per task: its rows of `x`, targets and mask.
    pub tasks: Vec<Option<TaskBatch>>,
}

impl Batch {
    /// Tasks present in the batch.
    pub fn present(&self) -> Vec<usize> {
        (0..self.tasks.len())
            .filter(|&t| self.tasks[t].is_some())
            .collect()
    }
}

/// One task's part of a [`Batch`].
#[derive(Clone, Debug)]
pub struct TaskBatch {
    /// Rows of the batch input that belong to the task (all rows for a shared input).
    pub rows: Range<usize>,
    /// Targets, `|rows| × target_dim`.
    pub y: Array2<f32>,
    /// Label mask, same shape.
    pub mask: Array2<f32>,
}

/// How batches are drawn from per-task datasets of different sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[derive(Default)]
pub enum Sampling {
    /// Every step takes `batch_size` rows from every task (each task's rows shuffled and cycled;
    /// an epoch has as many steps as the largest task needs, LibMTL's multi-input loop).
    #[default]
    AllTasks,
    /// Every step takes one batch from one task, drawn with probability `∝ n_t^{1/τ}`
    /// (τ = 1: proportional to size; τ → ∞: uniform); an epoch has `Σ_t n_t / batch_size`
    /// steps.
    Temperature {
        /// τ > 0.
        tau: f64,
    },
    /// `Temperature` with τ = 1.
    Proportional,
    /// `Temperature` with τ = ∞.
    Uniform,
}

impl Sampling {
    /// Check τ.
    ///
    /// # Errors
    /// A non-positive or NaN τ.
    pub fn validate(&self) -> Result<()> {
        if let Self::Temperature { tau } = self
            && (tau.is_nan() || *tau <= 0.0)
        {
            return Err(config_err(format!(
                "sampling temperature must be > 0, got {tau}"
            )));
        }
        Ok(())
    }

    /// Task probabilities for task sizes `sizes` (for [`Sampling::AllTasks`], all ones).
    pub fn probabilities(&self, sizes: &[usize]) -> Array1<f64> {
        let tau = match self {
            Self::AllTasks => return Array1::ones(sizes.len()),
            Self::Temperature { tau } => *tau,
            Self::Proportional => 1.0,
            Self::Uniform => f64::INFINITY,
        };
        if tau.is_infinite() {
            return Array1::from_elem(sizes.len(), 1.0 / sizes.len().max(1) as f64);
        }
        // n^{1/τ} normalised in log space: a small τ (n^{1/τ} beyond f64) goes to the largest
        // tasks, not to NaN; an empty task gets probability 0 (under `Uniform` above, every
        // task gets 1/T, as before)
        let logs: Vec<f64> = sizes
            .iter()
            .map(|&n| {
                if n == 0 {
                    f64::NEG_INFINITY
                } else {
                    (n as f64).ln() / tau
                }
            })
            .collect();
        let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if top == f64::NEG_INFINITY {
            return Array1::from_elem(sizes.len(), 1.0 / sizes.len().max(1) as f64);
        }
        let w: Array1<f64> = logs.iter().map(|&l| (l - top).exp()).collect();
        let s = w.sum();
        w / s
    }

    fn plan(&self, sizes: &[usize], batch_size: usize, rng: &mut StdRng) -> Vec<BatchIndex> {
        use rand::Rng;
        let mut orders: Vec<Vec<usize>> = sizes
            .iter()
            .map(|&n| {
                let mut v: Vec<usize> = (0..n).collect();
                v.shuffle(rng);
                v
            })
            .collect();
        let mut cursor = vec![0usize; sizes.len()];
        // the next `b` rows of task t, reshuffling when its rows run out
        let mut take = |t: usize, b: usize, rng: &mut StdRng| -> Vec<usize> {
            let n = sizes[t];
            let b = b.min(n);
            let mut out = Vec::with_capacity(b);
            while out.len() < b {
                if cursor[t] == n {
                    orders[t].shuffle(rng);
                    cursor[t] = 0;
                }
                out.push(orders[t][cursor[t]]);
                cursor[t] += 1;
            }
            out
        };
        match self {
            Self::AllTasks => {
                let steps = sizes
                    .iter()
                    .map(|&n| n.div_ceil(batch_size))
                    .max()
                    .unwrap_or(0);
                (0..steps)
                    .map(|_| {
                        BatchIndex::PerTask(
                            (0..sizes.len()).map(|t| take(t, batch_size, rng)).collect(),
                        )
                    })
                    .collect()
            }
            _ => {
                let p = self.probabilities(sizes);
                let total: usize = sizes.iter().sum();
                let steps = total.div_ceil(batch_size);
                (0..steps)
                    .map(|_| {
                        let u: f64 = rng.random();
                        let mut acc = 0.0;
                        let mut pick = sizes.len() - 1;
                        for (t, &pt) in p.iter().enumerate() {
                            acc += pt;
                            if u < acc {
                                pick = t;
                                break;
                            }
                        }
                        let rows = take(pick, batch_size, rng);
                        BatchIndex::PerTask(
                            (0..sizes.len())
                                .map(|t| if t == pick { rows.clone() } else { Vec::new() })
                                .collect(),
                        )
                    })
                    .collect()
            }
        }
    }
}
