//! Experiments as the field reports them: a configured multi-task model trained over several
//! seeds, single-task baselines of the same architecture, per-task metrics with their spread,
//! Δm, Δp — model selection on validation only, reporting on the test set when one is given.
//!
//! The configuration ([`ExperimentConfig`]) is what `mtlkit train --config FILE.toml` reads.
//! Tables come in as parsed CSV ([`TableData`]); the CLI reads the files.

use std::collections::HashMap;
use std::path::PathBuf;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::data::{DeepDataset, Targets};
use crate::error::{Result, config_err};
use crate::eval::{Metric, delta_m, delta_p, mean_std};
use crate::model::{ArchConfig, DeepModel};
use crate::persist::{ModelMeta, Standardizer};
use crate::task::{LossKind, TaskKind, TaskSpec};
use crate::trainer::{Evaluation, RunFiles, TrainerConfig, evaluate, train};

/// Where the data comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Training table (CSV with a header; paths relative to the config file).
    pub train: PathBuf,
    /// Validation table; without one, `validation_fraction` of the training rows (of each
    /// task's rows) is held out.
    #[serde(default)]
    pub validation: Option<PathBuf>,
    /// Test table: evaluated once per run with the model selected on validation.
    #[serde(default)]
    pub test: Option<PathBuf>,
    /// Held-out fraction when no validation table is given (default 0.2).
    #[serde(default = "default_fraction")]
    pub validation_fraction: f64,
    /// Input columns (default: every column that is not a target, the task column or
    /// excluded).
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// Columns never used as inputs.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Per-task layout: the column naming each row's task (rows of task `t` are those whose
    /// value equals the task's `name`); without it all tasks share every row.
    #[serde(default)]
    pub task_column: Option<String>,
    /// Standardise the inputs with the training rows' mean and deviation (default true; stored
    /// in the model).
    #[serde(default = "yes")]
    pub standardize: bool,
}

fn default_fraction() -> f64 {
    0.2
}
fn yes() -> bool {
    true
}

/// One task of the configuration: its spec and the column holding its labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskColumn {
    /// Task name.
    pub name: String,
    /// Column with the labels (empty / `NA` / `nan` = missing).
    pub column: String,
    /// Kind.
    pub kind: TaskKind,
    /// Loss (default for the kind).
    #[serde(default)]
    pub loss: Option<LossKind>,
}

impl TaskColumn {
    fn spec(&self) -> TaskSpec {
        TaskSpec {
            name: self.name.clone(),
            kind: self.kind.clone(),
            loss: self.loss.clone(),
        }
    }
}

/// Seeds and baselines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// One run per seed (parameter initialisation, batch order, validation split). Default
    /// `[0]`.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Also train one single-task model per task (same architecture, one head) and report Δm.
    #[serde(default)]
    pub single_task: bool,
    /// Task groups (task names; each task in at most one group): one model per group and seed
    /// is trained as well, e.g. the groups `mtlkit relate` chose from a measured affinity.
    /// Groups of one task reuse nothing: they are trained like the single-task baselines.
    #[serde(default)]
    pub groups: Vec<Vec<String>>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seeds: default_seeds(),
            single_task: false,
            groups: Vec::new(),
        }
    }
}

/// The whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Data.
    pub data: DataConfig,
    /// Tasks.
    pub tasks: Vec<TaskColumn>,
    /// Architecture.
    pub model: ArchConfig,
    /// Trainer settings.
    #[serde(default)]
    pub trainer: TrainerConfig,
    /// Seeds and baselines.
    #[serde(default)]
    pub run: RunConfig,
}

/// A parsed table: column names, values (`NaN` = missing) and, for per-task data, the task
/// column's text labels.
#[derive(Clone, Debug)]
pub struct TableData {
    /// Column names (without the task column).
    pub columns: Vec<String>,
    /// Values, rows × columns.
    pub values: Array2<f64>,
    /// The task column's labels, when the layout is per task.
    pub keys: Option<Vec<String>>,
}

impl ExperimentConfig {
    /// Check the configuration (not the data).
    ///
    /// # Errors
    /// Invalid settings, no seeds, duplicate task names.
    pub fn validate(&self) -> Result<()> {
        crate::task::validate_specs(&self.tasks.iter().map(TaskColumn::spec).collect::<Vec<_>>())?;
        self.model.validate()?;
        self.trainer.validate()?;
        if self.run.seeds.is_empty() {
            return Err(config_err("run.seeds is empty"));
        }
        // a repeated seed repeats a run and understates the spread over seeds
        if let Some(s) = mtlkit_core::param::first_duplicate(self.run.seeds.iter().copied()) {
            return Err(config_err(format!("run.seeds lists seed {s} twice")));
        }
        if let Some(f) = &self.data.features {
            if let Some(dup) = mtlkit_core::param::first_duplicate(f.iter().map(String::as_str)) {
                return Err(config_err(format!("data.features lists '{dup}' twice")));
            }
            // a task's own labels as an input leak the answer into the model
            if let Some(t) = self.tasks.iter().find(|t| f.contains(&t.column)) {
                return Err(config_err(format!(
                    "data.features lists '{}', the label column of task '{}'",
                    t.column, t.name
                )));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for g in &self.run.groups {
            if g.is_empty() {
                return Err(config_err("run.groups has an empty group"));
            }
            for name in g {
                if !self.tasks.iter().any(|t| &t.name == name) {
                    return Err(config_err(format!(
                        "run.groups names an unknown task '{name}'"
                    )));
                }
                if !seen.insert(name) {
                    return Err(config_err(format!("run.groups lists task '{name}' twice")));
                }
            }
        }
        let f = self.data.validation_fraction;
        if !(f > 0.0 && f < 1.0) {
            return Err(config_err(format!(
                "validation_fraction must be in (0, 1), got {f}"
            )));
        }
        Ok(())
    }

    /// The input columns of `table`.
    fn feature_columns(&self, table: &TableData) -> Result<Vec<usize>> {
        let pos = |name: &str| column_index(table, name, "unknown column");
        for t in &self.tasks {
            pos(&t.column)?;
        }
        for e in &self.data.exclude {
            pos(e)?;
        }
        match &self.data.features {
            Some(f) => f.iter().map(|c| pos(c)).collect(),
            None => Ok((0..table.columns.len())
                .filter(|&j| {
                    let c = &table.columns[j];
                    !self.tasks.iter().any(|t| &t.column == c) && !self.data.exclude.contains(c)
                })
                .collect()),
        }
    }

    /// Build the dataset of one table.
    ///
    /// # Errors
    /// Unknown columns, missing values in inputs, labels that do not fit their task, tasks
    /// without labels, a task column that names no configured task.
    pub fn dataset(&self, table: &TableData) -> Result<(DeepDataset, Vec<String>)> {
        check_table(table)?;
        let feats = self.feature_columns(table)?;
        self.dataset_of(table, feats)
    }

    /// Build the dataset of another table of the same experiment (validation, test) with the
    /// inputs `features` of the training table, looked up by name: a table that orders its
    /// columns differently, or has more of them, gives the same inputs in the same order.
    ///
    /// # Errors
    /// As [`dataset`](Self::dataset), and an input column missing from `table`.
    pub fn dataset_like(
        &self,
        table: &TableData,
        features: &[String],
    ) -> Result<(DeepDataset, Vec<String>)> {
        check_table(table)?;
        // (the task and excluded columns are checked as for the training table)
        self.feature_columns(table)?;
        let feats = features
            .iter()
            .map(|name| {
                column_index(
                    table,
                    name,
                    "missing from this table: the training table's input column",
                )
            })
            .collect::<Result<Vec<usize>>>()?;
        self.dataset_of(table, feats)
    }

    fn dataset_of(
        &self,
        table: &TableData,
        feats: Vec<usize>,
    ) -> Result<(DeepDataset, Vec<String>)> {
        if feats.is_empty() {
            return Err(config_err("no input columns left"));
        }
        let names: Vec<String> = feats.iter().map(|&j| table.columns[j].clone()).collect();
        let col = |name: &str| table.columns.iter().position(|c| c == name).unwrap_or(0);
        let specs: Vec<TaskSpec> = self.tasks.iter().map(TaskColumn::spec).collect();
        let x_of = |rows: &[usize]| -> Result<Array2<f32>> {
            let mut x = Array2::<f32>::zeros((rows.len(), feats.len()));
            for (r, &i) in rows.iter().enumerate() {
                for (c, &j) in feats.iter().enumerate() {
                    let v = table.values[[i, j]];
                    if !v.is_finite() {
                        return Err(config_err(format!(
                            "row {} column '{}': missing or non-finite input ({v}); inputs must be complete",
                            i + 1,
                            table.columns[j]
                        )));
                    }
                    if !crate::task::fits_f32(v) {
                        return Err(config_err(format!(
                            "row {} column '{}': input {v:e} is beyond f32's range (±3.4e38; deep \
                             models train in single precision): rescale it",
                            i + 1,
                            table.columns[j]
                        )));
                    }
                    #[allow(clippy::cast_possible_truncation)]
                    {
                        x[[r, c]] = v as f32;
                    }
                }
            }
            Ok(x)
        };
        let ds = match (&self.data.task_column, &table.keys) {
            (None, _) => {
                let rows: Vec<usize> = (0..table.values.nrows()).collect();
                let x = x_of(&rows)?;
                let targets = self
                    .tasks
                    .iter()
                    .zip(&specs)
                    .map(|(t, s)| Targets::from_column(s, table.values.column(col(&t.column))))
                    .collect::<Result<Vec<_>>>()?;
                DeepDataset::shared(x, targets, specs)?
            }
            (Some(tc), Some(keys)) => {
                let mut by_task: HashMap<&str, Vec<usize>> = HashMap::new();
                for (i, k) in keys.iter().enumerate() {
                    by_task.entry(k.as_str()).or_default().push(i);
                }
                if let Some(k) = by_task
                    .keys()
                    .find(|k| !self.tasks.iter().any(|t| t.name == **k))
                {
                    return Err(config_err(format!(
                        "task column '{tc}' names task '{k}', which is not configured"
                    )));
                }
                let mut data = Vec::with_capacity(self.tasks.len());
                for (t, s) in self.tasks.iter().zip(&specs) {
                    let rows = by_task.get(t.name.as_str()).cloned().unwrap_or_default();
                    let y: Array1<f64> = rows
                        .iter()
                        .map(|&i| table.values[[i, col(&t.column)]])
                        .collect();
                    data.push((x_of(&rows)?, Targets::from_column(s, y.view())?));
                }
                DeepDataset::per_task(data, specs)?
            }
            (Some(tc), None) => {
                return Err(config_err(format!("the table has no task column '{tc}'")));
            }
        };
        Ok((ds, names))
    }
}

/// One run's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Seed.
    pub seed: u64,
    /// Task(s) trained (all tasks for the multi-task run).
    pub tasks: Vec<String>,
    /// Best validation epoch.
    pub best_epoch: Option<usize>,
    /// Epochs run.
    pub epochs: usize,
    /// Evaluation of the selected model on the report set.
    pub report: Evaluation,
    /// Wall seconds.
    pub seconds: f64,
    /// Task affinity measured during the run (when `trainer.affinity` is set).
    #[serde(default)]
    pub affinity: Option<crate::affinity::TrainingAffinity>,
}

/// The experiment's summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExperimentReport {
    /// Architecture name.
    pub architecture: String,
    /// Which set the metrics are on (`test`, or `validation` when no test set is given).
    pub report_set: String,
    /// Task names.
    pub tasks: Vec<String>,
    /// Multi-task runs, one per seed.
    pub multi_task: Vec<RunResult>,
    /// Single-task runs (per seed, per task), when requested.
    pub single_task: Vec<RunResult>,
    /// Per seed: Δm of the multi-task model against the single-task models of the same seed.
    pub delta_m: Vec<f64>,
    /// Per seed: Δp.
    pub delta_p: Vec<f64>,
    /// Grouped runs (per seed, per group of `run.groups`).
    #[serde(default)]
    pub grouped: Vec<RunResult>,
    /// Per seed: Δm of the grouped models (each task scored by its group's model) against the
    /// single-task models.
    #[serde(default)]
    pub delta_m_grouped: Vec<f64>,
    /// The multi-task runs' affinity, averaged over seeds (when measured).
    #[serde(default)]
    pub affinity: Option<crate::affinity::TrainingAffinity>,
}

/// Fewer labelled rows than this in a task of a validation or test set draw a warning: its
/// metrics (and a model selection on them) rest on too little data to mean much.
pub const FEW_EVAL_LABELS: usize = 10;

/// Warn for each task of `ds` (the `set` named) with fewer than [`FEW_EVAL_LABELS`] labelled
/// rows.
fn warn_few_labels(set: &str, ds: &DeepDataset) {
    for (t, spec) in ds.specs().iter().enumerate() {
        let n = ds.task(t).1.n_labelled();
        if n < FEW_EVAL_LABELS {
            log::warn!(
                "task '{}': the {set} set has {n} labelled row{}; its metrics rest on too few \
                 rows to compare models (give a larger {set} set)",
                spec.name,
                if n == 1 { "" } else { "s" }
            );
        }
    }
}

/// The data of one seed: train, validation, report set, feature names, standardiser.
type Prepared = (
    DeepDataset,
    DeepDataset,
    Option<DeepDataset>,
    Vec<String>,
    Option<Standardizer>,
);

fn prepare(
    cfg: &ExperimentConfig,
    train_t: &TableData,
    valid_t: Option<&TableData>,
    test_t: Option<&TableData>,
    seed: u64,
) -> Result<Prepared> {
    let (full, names) = cfg.dataset(train_t)?;
    // the other tables' inputs by the training table's names (their own column order may
    // differ)
    let (mut tr, mut va) = match valid_t {
        Some(v) => (full, cfg.dataset_like(v, &names)?.0),
        None => full.split(cfg.data.validation_fraction, seed)?,
    };
    let mut te = match test_t {
        Some(t) => Some(cfg.dataset_like(t, &names)?.0),
        None => None,
    };
    for (set, ds) in [("validation", Some(&va)), ("test", te.as_ref())] {
        if let Some(ds) = ds {
            warn_few_labels(set, ds);
        }
    }
    let std = cfg
        .data
        .standardize
        .then(|| Standardizer::fit(tr.all_inputs().view()));
    if let Some(s) = &std {
        tr.map_inputs(|x| s.apply(x));
        va.map_inputs(|x| s.apply(x));
        if let Some(t) = &mut te {
            t.map_inputs(|x| s.apply(x));
        }
    }
    Ok((tr, va, te, names, std))
}

/// Run the experiment: the multi-task model for every seed (and single-task baselines when
/// configured). `checkpoint_root`, when given, holds one checkpoint folder per run, so a
/// killed experiment resumes where it stopped. Returns the report and the multi-task model
/// (with its metadata) of the seed with the best validation score.
///
/// # Errors
/// Invalid configuration or data, training failures, IO.
pub fn run_experiment(
    cfg: &ExperimentConfig,
    train_t: &TableData,
    valid_t: Option<&TableData>,
    test_t: Option<&TableData>,
    checkpoint_root: Option<&std::path::Path>,
    log: Option<&std::path::Path>,
) -> Result<(ExperimentReport, DeepModel, ModelMeta)> {
    cfg.validate()?;
    let device = crate::cpu_device();
    let task_names: Vec<String> = cfg.tasks.iter().map(|t| t.name.clone()).collect();
    let mut multi = Vec::new();
    let mut single = Vec::new();
    let mut grouped: Vec<RunResult> = Vec::new();
    let mut best: Option<(f64, DeepModel, ModelMeta)> = None;
    let run_one = |tr: &DeepDataset,
                   va: &DeepDataset,
                   te: Option<&DeepDataset>,
                   seed: u64,
                   tag: String|
     -> Result<(RunResult, DeepModel, f64)> {
        let t0 = std::time::Instant::now();
        let out_dims: Vec<usize> = tr.specs().iter().map(|s| s.kind.output_dim()).collect();
        let model = crate::seeded(&device, seed, |d| {
            cfg.model.build(tr.n_features(), &out_dims, d)
        });
        let tcfg = TrainerConfig {
            seed,
            ..cfg.trainer.clone()
        };
        let files = RunFiles {
            checkpoint_dir: checkpoint_root.map(|r| r.join(&tag)),
            log: log.map(|l| l.with_file_name(format!("{tag}.log.jsonl"))),
            max_steps: None,
        };
        let out = train(model, tr, Some(va), &tcfg, &device, &files)?;
        let val = evaluate(&out.model, va, &device, 4096)?;
        let report = match te {
            Some(t) => evaluate(&out.model, t, &device, 4096)?,
            None => val.clone(),
        };
        Ok((
            RunResult {
                seed,
                tasks: tr.specs().iter().map(|s| s.name.clone()).collect(),
                best_epoch: out.best_epoch,
                epochs: out.history.len(),
                report,
                seconds: t0.elapsed().as_secs_f64(),
                affinity: out.affinity,
            },
            out.model,
            val.score(),
        ))
    };
    for &seed in &cfg.run.seeds {
        let (tr, va, te, names, std) = prepare(cfg, train_t, valid_t, test_t, seed)?;
        cfg.model.check_inputs(tr.n_features())?;
        let (res, model, score) = run_one(&tr, &va, te.as_ref(), seed, format!("mtl-seed{seed}"))?;
        log::info!("seed {seed}: multi-task validation score {score:.5}");
        if best.as_ref().is_none_or(|b| score < b.0) {
            let meta = ModelMeta {
                format: crate::persist::FORMAT.into(),
                version: crate::persist::VERSION,
                architecture: cfg.model.clone(),
                tasks: tr.specs().to_vec(),
                feature_names: names.clone(),
                standardizer: std.clone(),
                info: serde_json::json!({
                    "seed": seed,
                    "best_epoch": res.best_epoch,
                    "validation_score": score,
                }),
            };
            best = Some((score, model, meta));
        }
        multi.push(res);
        for (g, group) in cfg.run.groups.iter().enumerate() {
            let ids: Vec<usize> = group
                .iter()
                .filter_map(|n| task_names.iter().position(|t| t == n))
                .collect();
            let (trg, vag) = (tr.select_tasks(&ids)?, va.select_tasks(&ids)?);
            let teg = te.as_ref().map(|d| d.select_tasks(&ids)).transpose()?;
            let (r, _, _) = run_one(
                &trg,
                &vag,
                teg.as_ref(),
                seed,
                format!("group{g}-seed{seed}"),
            )?;
            grouped.push(r);
        }
        if cfg.run.single_task {
            for (t, name) in task_names.iter().enumerate() {
                let (tr1, va1) = (tr.select_tasks(&[t])?, va.select_tasks(&[t])?);
                let te1 = te.as_ref().map(|d| d.select_tasks(&[t])).transpose()?;
                let (r, _, _) = run_one(
                    &tr1,
                    &va1,
                    te1.as_ref(),
                    seed,
                    format!("stl-{name}-seed{seed}"),
                )?;
                single.push(r);
            }
        }
    }
    let (mut dm, mut dp, mut dmg) = (Vec::new(), Vec::new(), Vec::new());
    if cfg.run.single_task {
        // Δm and Δp of per-task metrics `of(t)` of one seed against its single-task runs
        let compare = |seed: u64, of: &dyn Fn(usize) -> Option<Vec<(Metric, f64)>>| {
            let (mut mv, mut sv, mut hb, mut task_of) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (t, name) in task_names.iter().enumerate() {
                let Some(s) = single
                    .iter()
                    .find(|s| s.seed == seed && s.tasks == [name.clone()])
                else {
                    continue;
                };
                let Some(ms) = of(t) else { continue };
                for ((metric, a), (_, b)) in ms.iter().zip(&s.report.metrics[0]) {
                    if a.is_finite() && b.is_finite() && *b != 0.0 {
                        mv.push(*a);
                        sv.push(*b);
                        hb.push(metric.higher_is_better());
                        task_of.push(t);
                    }
                }
            }
            (delta_m(&mv, &sv, &hb), delta_p(&mv, &sv, &hb, &task_of))
        };
        for m in &multi {
            let (a, b) = compare(m.seed, &|t| Some(m.report.metrics[t].clone()));
            dm.push(a);
            dp.push(b);
            if !grouped.is_empty() {
                let (a, _) = compare(m.seed, &|t| {
                    grouped_metrics(&grouped, m.seed, &task_names[t])
                });
                dmg.push(a);
            }
        }
    }
    let affinity = crate::affinity::TrainingAffinity::mean(
        &multi
            .iter()
            .filter_map(|r| r.affinity.as_ref())
            .collect::<Vec<_>>(),
    );
    let (_, model, meta) = best.ok_or_else(|| config_err("no seed ran"))?;
    Ok((
        ExperimentReport {
            architecture: cfg.model.name().into(),
            report_set: if test_t.is_some() {
                "test"
            } else {
                "validation"
            }
            .into(),
            tasks: task_names,
            multi_task: multi,
            single_task: single,
            delta_m: dm,
            delta_p: dp,
            grouped,
            delta_m_grouped: dmg,
            affinity,
        },
        model,
        meta,
    ))
}

/// The metrics of task `name` from the grouped run of `seed` that holds it.
fn grouped_metrics(grouped: &[RunResult], seed: u64, name: &str) -> Option<Vec<(Metric, f64)>> {
    grouped.iter().filter(|r| r.seed == seed).find_map(|r| {
        let k = r.tasks.iter().position(|t| t == name)?;
        r.report.metrics.get(k).cloned()
    })
}

impl ExperimentReport {
    /// A plain-text table: per task and metric, mean ± sd over seeds of the multi-task and
    /// single-task models, then Δm and Δp.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} on the {} set, {} seed(s)",
            self.architecture,
            self.report_set,
            self.multi_task.len()
        );
        let groups = !self.grouped.is_empty();
        let _ = write!(
            s,
            "{:<20} {:<10} {:>22} {:>22}",
            "task", "metric", "multi-task", "single-task"
        );
        let _ = if groups {
            writeln!(s, " {:>22}", "grouped")
        } else {
            writeln!(s)
        };
        for (t, name) in self.tasks.iter().enumerate() {
            let metrics: Vec<Metric> = self
                .multi_task
                .first()
                .map(|r| r.report.metrics[t].iter().map(|m| m.0).collect())
                .unwrap_or_default();
            for (k, metric) in metrics.iter().enumerate() {
                let mt: Vec<f64> = self
                    .multi_task
                    .iter()
                    .map(|r| r.report.metrics[t][k].1)
                    .collect();
                let st: Vec<f64> = self
                    .single_task
                    .iter()
                    .filter(|r| r.tasks == [name.clone()])
                    .map(|r| r.report.metrics[0][k].1)
                    .collect();
                let fmt = |v: &[f64]| {
                    if v.is_empty() {
                        "—".to_string()
                    } else {
                        let (m, sd) = mean_std(v);
                        format!("{m:.4} ± {sd:.4}")
                    }
                };
                let _ = write!(
                    s,
                    "{:<20} {:<10} {:>22} {:>22}",
                    name,
                    metric.name(),
                    fmt(&mt),
                    fmt(&st)
                );
                let _ = if groups {
                    let gt: Vec<f64> = self
                        .multi_task
                        .iter()
                        .filter_map(|r| grouped_metrics(&self.grouped, r.seed, name))
                        .filter_map(|m| m.get(k).map(|v| v.1))
                        .collect();
                    writeln!(s, " {:>22}", fmt(&gt))
                } else {
                    writeln!(s)
                };
            }
        }
        if !self.delta_m.is_empty() {
            let (m, sd) = mean_std(&self.delta_m);
            let (p, psd) = mean_std(&self.delta_p);
            let _ = writeln!(
                s,
                "Δm = {m:+.2}% ± {sd:.2}   Δp = {p:+.2}% ± {psd:.2}   (positive: better than single-task)"
            );
        }
        if !self.delta_m_grouped.is_empty() {
            let (m, sd) = mean_std(&self.delta_m_grouped);
            let _ = writeln!(s, "Δm of the grouped models = {m:+.2}% ± {sd:.2}");
        }
        if let Some(a) = &self.affinity
            && a.lookahead_steps > 0
        {
            let _ = writeln!(
                s,
                "lookahead affinity Z[i→j] (row i stepped, column j measured; {} measurements):",
                a.lookahead_steps
            );
            let _ = write!(s, "{:<20}", "");
            for n in &self.tasks {
                let _ = write!(s, " {:>12}", truncate(n, 12));
            }
            let _ = writeln!(s);
            for (i, row) in a.lookahead.iter().enumerate() {
                let _ = write!(s, "{:<20}", truncate(&self.tasks[i], 20));
                for v in row {
                    let _ = match v {
                        Some(v) => write!(s, " {v:>12.2e}"),
                        None => write!(s, " {:>12}", "—"),
                    };
                }
                let _ = writeln!(s);
            }
        }
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The position of column `name` in `table`, or an error `"{what} '{name}' (columns: …)"`.
fn column_index(table: &TableData, name: &str, what: &str) -> Result<usize> {
    table.columns.iter().position(|c| c == name).ok_or_else(|| {
        config_err(format!(
            "{what} '{name}' (columns: {})",
            table.columns.join(", ")
        ))
    })
}

/// A table whose parts agree: one name per value column, one key per row.
fn check_table(table: &TableData) -> Result<()> {
    if table.columns.len() != table.values.ncols() {
        return Err(config_err(format!(
            "the table has {} column names for {} value columns",
            table.columns.len(),
            table.values.ncols()
        )));
    }
    if let Some(keys) = &table.keys
        && keys.len() != table.values.nrows()
    {
        return Err(config_err(format!(
            "the table has {} task keys for {} rows",
            keys.len(),
            table.values.nrows()
        )));
    }
    Ok(())
}

/// Column-wise helper for callers building [`TableData`] from `(header, values)` (a mismatch
/// of names, columns or keys is reported when the table is used).
pub fn table(columns: Vec<String>, values: Array2<f64>, keys: Option<Vec<String>>) -> TableData {
    TableData {
        columns,
        values,
        keys,
    }
}
