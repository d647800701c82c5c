//! Experiments: a TOML configuration with a `[corpus]` table, the data protocol, multi-task
//! and single-task runs over seeds, and the report.
//!
//! **Protocol.** Tagging and parsing tasks train on the treebank's training split. Universal
//! NER has no training file, so when `ner` is a task the NER-annotated dev sentences are split
//! once (seeded by `corpus.split_seed`) into a part whose **NER labels only** join the training
//! set (`ner_train_fraction`, default 0.8; their other labels are never used) and a held-out
//! part. Validation (model selection, early stopping) uses every dev sentence, with NER scored
//! on the held-out part only. Every task is reported on the official test split, which is never
//! used for selection. Single-task baselines are the same architecture trained on one task.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::conllu::{Sentence, read_file};
use crate::data::{Encoded, Source, Task, Vocab};
use crate::error::{Result, config_err};
use crate::model::ModelConfig;
use crate::train::{TextTrainerConfig, las, metric, predict, train_model};

/// Where the corpus is and how much of it to use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorpusConfig {
    /// Folder of the files (relative to the configuration file).
    pub dir: PathBuf,
    /// Training split (CoNLL-U, `.gz` or plain), relative to `dir`.
    pub train: String,
    /// Development split (validation).
    pub dev: String,
    /// Test split (reported).
    pub test: String,
    /// IOB2 NER tags of dev sentences (needed with the `ner` task).
    pub ner_dev: Option<String>,
    /// IOB2 NER tags of test sentences.
    pub ner_test: Option<String>,
    /// Use only the first N training sentences (default all).
    pub max_train_sentences: Option<usize>,
    /// Use only the first N dev and test sentences (default all; for quick checks).
    pub max_eval_sentences: Option<usize>,
    /// Share of the NER-annotated dev sentences whose NER labels are trained on (default 0.8).
    pub ner_train_fraction: f64,
    /// Seed of that split (default 0; the same for every run seed).
    pub split_seed: u64,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("."),
            train: "en_ewt-ud-train.conllu.gz".into(),
            dev: "en_ewt-ud-dev.conllu.gz".into(),
            test: "en_ewt-ud-test.conllu.gz".into(),
            ner_dev: None,
            ner_test: None,
            max_train_sentences: None,
            max_eval_sentences: None,
            ner_train_fraction: 0.8,
            split_seed: 0,
        }
    }
}

/// Seeds and baselines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// One multi-task (and single-task) run per seed (default `[0, 1, 2]`).
    pub seeds: Vec<u64>,
    /// Also train one single-task model per task and seed (default true).
    pub single_task: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seeds: vec![0, 1, 2],
            single_task: true,
        }
    }
}

/// A text experiment (the TOML file `mtlkit train --config` reads when it has `[corpus]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    /// The corpus.
    pub corpus: CorpusConfig,
    /// The tasks, e.g. `["upos", "xpos", "deprel", "head", "ner"]`.
    pub tasks: Vec<Task>,
    /// Model sizes.
    #[serde(default)]
    pub model: ModelConfig,
    /// Trainer settings.
    #[serde(default)]
    pub trainer: TextTrainerConfig,
    /// Seeds and baselines.
    #[serde(default)]
    pub run: RunConfig,
}

impl TextConfig {
    /// Parse a TOML configuration; `dir` becomes relative to `base` (the file's folder).
    ///
    /// # Errors
    /// [`crate::TextError::Config`] for invalid TOML, unknown keys or tasks, bad values.
    pub fn from_toml(text: &str, base: &Path) -> Result<Self> {
        let mut cfg: Self = toml::from_str(text).map_err(|e| config_err(e.to_string()))?;
        if cfg.corpus.dir.is_relative() {
            cfg.corpus.dir = base.join(&cfg.corpus.dir);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check the configuration.
    ///
    /// # Errors
    /// [`crate::TextError::Config`] naming the problem.
    pub fn validate(&self) -> Result<()> {
        if self.tasks.is_empty() {
            return Err(config_err("tasks is empty"));
        }
        for (i, t) in self.tasks.iter().enumerate() {
            if self.tasks[..i].contains(t) {
                return Err(config_err(format!("task '{t}' is listed twice")));
            }
        }
        if self.tasks.contains(&Task::Ner) && self.corpus.ner_dev.is_none() {
            return Err(config_err(
                "the ner task needs corpus.ner_dev (NER tags of dev sentences)",
            ));
        }
        if !(self.corpus.ner_train_fraction > 0.0 && self.corpus.ner_train_fraction < 1.0) {
            return Err(config_err(format!(
                "corpus.ner_train_fraction must be in (0, 1), got {}",
                self.corpus.ner_train_fraction
            )));
        }
        if self.run.seeds.is_empty() {
            return Err(config_err("run.seeds is empty"));
        }
        if let Some(s) = mtlkit_core::param::first_duplicate(self.run.seeds.iter().copied()) {
            return Err(config_err(format!("run.seeds lists seed {s} twice")));
        }
        self.model.validate()?;
        self.trainer.validate()
    }
}

/// Sizes of the data actually used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// Training-split sentences.
    pub train_sentences: usize,
    /// Dev sentences whose NER labels are trained on.
    pub ner_train_sentences: usize,
    /// Validation sentences (all of dev).
    pub validation_sentences: usize,
    /// Of which with NER labels held out for validation.
    pub ner_validation_sentences: usize,
    /// Test sentences.
    pub test_sentences: usize,
    /// Of which with NER labels.
    pub ner_test_sentences: usize,
    /// NER sentences dropped because their tokens differ from the treebank's.
    pub ner_dropped: usize,
    /// Vocabulary sizes: words, character features.
    pub vocab: [usize; 2],
}

/// One metric value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    /// Task (or `parse` for LAS).
    pub task: String,
    /// Metric name.
    pub metric: String,
    /// Value.
    pub value: f64,
}

/// One training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Seed.
    pub seed: u64,
    /// Tasks trained.
    pub tasks: Vec<Task>,
    /// Best validation epoch (the model reported).
    pub best_epoch: usize,
    /// Epochs run.
    pub epochs: usize,
    /// Validation score of the selected epoch.
    pub validation_score: f64,
    /// Test metrics of the selected model.
    pub test: Vec<MetricValue>,
    /// Wall seconds (training and validation).
    pub seconds: f64,
    /// Per-epoch log.
    pub log: Vec<crate::train::EpochLog>,
}

/// The experiment's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextReport {
    /// Always `test`.
    pub report_set: String,
    /// Tasks.
    pub tasks: Vec<Task>,
    /// Data sizes.
    pub data: DataSummary,
    /// Multi-task runs, one per seed.
    pub multi_task: Vec<RunResult>,
    /// Single-task runs, per seed and task.
    pub single_task: Vec<RunResult>,
    /// Per seed: LAS of the single-task `head` and `deprel` models combined (when both ran).
    pub single_task_las: Vec<f64>,
}

/// The loaded corpus.
struct Corpus {
    train: Vec<Sentence>,
    dev: Vec<Sentence>,
    test: Vec<Sentence>,
    dev_ner: Vec<Option<Vec<String>>>,
    test_ner: Vec<Option<Vec<String>>>,
    dropped: usize,
}

fn load(cfg: &TextConfig) -> Result<Corpus> {
    let c = &cfg.corpus;
    let path = |f: &str| c.dir.join(f);
    let mut train = read_file(&path(&c.train))?;
    if let Some(n) = c.max_train_sentences {
        train.truncate(n);
    }
    let mut dev = read_file(&path(&c.dev))?;
    let mut test = read_file(&path(&c.test))?;
    if let Some(n) = c.max_eval_sentences {
        dev.truncate(n);
        test.truncate(n);
    }
    let want_ner = cfg.tasks.contains(&Task::Ner);
    let mut dropped = 0;
    let mut ner = |file: &Option<String>, sents: &[Sentence]| -> Result<Vec<Option<Vec<String>>>> {
        match (file, want_ner) {
            (Some(f), true) => {
                let (tags, d) = crate::iob2::join(sents, &crate::iob2::read_file(&path(f))?);
                dropped += d;
                Ok(tags)
            }
            _ => Ok(vec![None; sents.len()]),
        }
    };
    let dev_ner = ner(&c.ner_dev, &dev)?;
    let test_ner = ner(&c.ner_test, &test)?;
    Ok(Corpus {
        train,
        dev,
        test,
        dev_ner,
        test_ner,
        dropped,
    })
}

/// Run the experiment: per seed, the multi-task model and (when configured) one single-task
/// model per task; `progress` receives one line per epoch.
///
/// # Errors
/// Unreadable or malformed files, invalid configuration, training failures.
pub fn run_text_experiment(cfg: &TextConfig, progress: &mut dyn FnMut(&str)) -> Result<TextReport> {
    cfg.validate()?;
    let corpus = load(cfg)?;
    let tasks = &cfg.tasks;
    let mut use_task = [false; 5];
    for t in tasks {
        use_task[*t as usize] = true;
    }
    let no_ner = {
        let mut u = use_task;
        u[Task::Ner as usize] = false;
        u
    };
    let ner_only = {
        let mut u = [false; 5];
        u[Task::Ner as usize] = use_task[Task::Ner as usize];
        u
    };
    // the NER split of dev
    let mut ner_idx: Vec<usize> = (0..corpus.dev.len())
        .filter(|&i| corpus.dev_ner[i].is_some())
        .collect();
    ner_idx.shuffle(&mut StdRng::seed_from_u64(cfg.corpus.split_seed));
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let n_ner_train = if use_task[Task::Ner as usize] {
        (ner_idx.len() as f64 * cfg.corpus.ner_train_fraction).round() as usize
    } else {
        0
    };
    let mut ner_train = vec![false; corpus.dev.len()];
    for &i in &ner_idx[..n_ner_train] {
        ner_train[i] = true;
    }
    let mut train_src: Vec<Source<'_>> = corpus
        .train
        .iter()
        .map(|s| Source {
            sentence: s,
            ner: None,
            use_task: no_ner,
        })
        .collect();
    train_src.extend(
        (0..corpus.dev.len())
            .filter(|&i| ner_train[i])
            .map(|i| Source {
                sentence: &corpus.dev[i],
                ner: corpus.dev_ner[i].as_deref(),
                use_task: ner_only,
            }),
    );
    let valid_src: Vec<Source<'_>> = (0..corpus.dev.len())
        .map(|i| Source {
            sentence: &corpus.dev[i],
            ner: if ner_train[i] {
                None
            } else {
                corpus.dev_ner[i].as_deref()
            },
            use_task,
        })
        .collect();
    let test_src: Vec<Source<'_>> = (0..corpus.test.len())
        .map(|i| Source {
            sentence: &corpus.test[i],
            ner: corpus.test_ner[i].as_deref(),
            use_task,
        })
        .collect();
    let vocab = Vocab::build(&train_src, cfg.model.min_word_count);
    let enc = |v: &[Source<'_>]| -> Vec<Encoded> { v.iter().map(|s| vocab.encode(s)).collect() };
    let (train, valid, test) = (enc(&train_src), enc(&valid_src), enc(&test_src));
    let data = DataSummary {
        train_sentences: corpus.train.len(),
        ner_train_sentences: n_ner_train,
        validation_sentences: valid.len(),
        ner_validation_sentences: valid.iter().filter(|e| e.has(Task::Ner)).count(),
        test_sentences: test.len(),
        ner_test_sentences: test.iter().filter(|e| e.has(Task::Ner)).count(),
        ner_dropped: corpus.dropped,
        vocab: [vocab.words.len(), vocab.affixes.len()],
    };
    progress(&format!(
        "data: {} training sentences (+{} with NER labels only), {} validation, {} test; vocabulary {} words, {} character features",
        data.train_sentences,
        data.ner_train_sentences,
        data.validation_sentences,
        data.test_sentences,
        data.vocab[0],
        data.vocab[1]
    ));
    let plain = burn::tensor::Device::flex();
    let eval_bs = cfg.trainer.eval_batch_size;
    let run = |ts: &[Task],
               seed: u64,
               progress: &mut dyn FnMut(&str)|
     -> Result<(RunResult, Vec<Vec<Vec<i64>>>)> {
        let tr = train_model(
            ts,
            &vocab,
            &cfg.model,
            &cfg.trainer,
            &train,
            &valid,
            seed,
            progress,
        )?;
        let preds = predict(&tr.model, ts, &test, &plain, eval_bs);
        let mut metrics: Vec<MetricValue> = ts
            .iter()
            .zip(&preds)
            .filter_map(|(t, p)| {
                metric(*t, p, &test, &vocab).map(|value| MetricValue {
                    task: t.name().into(),
                    metric: t.metric().into(),
                    value,
                })
            })
            .collect();
        if let (Some(h), Some(d)) = (
            ts.iter().position(|t| *t == Task::Head),
            ts.iter().position(|t| *t == Task::Deprel),
        ) && let Some(value) = las(&preds[h], &preds[d], &test)
        {
            metrics.push(MetricValue {
                task: "parse".into(),
                metric: "las".into(),
                value,
            });
        }
        Ok((
            RunResult {
                seed,
                tasks: ts.to_vec(),
                best_epoch: tr.best_epoch,
                epochs: tr.log.len(),
                validation_score: tr.best_score,
                test: metrics,
                seconds: tr.seconds,
                log: tr.log,
            },
            preds,
        ))
    };
    let mut multi_task = Vec::new();
    let mut single_task = Vec::new();
    let mut single_task_las = Vec::new();
    for &seed in &cfg.run.seeds {
        let (r, _) = run(tasks, seed, progress)?;
        progress(&format!(
            "multi-task seed {seed}: {} ({:.1} s)",
            fmt_metrics(&r.test),
            r.seconds
        ));
        multi_task.push(r);
        if cfg.run.single_task && tasks.len() > 1 {
            let mut head = None;
            let mut deprel = None;
            for &t in tasks {
                let (r, mut p) = run(&[t], seed, progress)?;
                progress(&format!(
                    "single-task {t} seed {seed}: {} ({:.1} s)",
                    fmt_metrics(&r.test),
                    r.seconds
                ));
                match t {
                    Task::Head => head = p.pop(),
                    Task::Deprel => deprel = p.pop(),
                    _ => {}
                }
                single_task.push(r);
            }
            if let (Some(h), Some(d)) = (head, deprel)
                && let Some(v) = las(&h, &d, &test)
            {
                single_task_las.push(v);
            }
        }
    }
    Ok(TextReport {
        report_set: "test".into(),
        tasks: tasks.clone(),
        data,
        multi_task,
        single_task,
        single_task_las,
    })
}

fn fmt_metrics(m: &[MetricValue]) -> String {
    m.iter()
        .map(|m| format!("{} {} {:.4}", m.task, m.metric, m.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss)]
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

impl TextReport {
    /// Rows `(task, metric, multi-task values, single-task values)`, one per reported metric.
    pub fn rows(&self) -> Vec<(String, String, Vec<f64>, Vec<f64>)> {
        let mut keys: Vec<(String, String)> = Vec::new();
        for r in &self.multi_task {
            for m in &r.test {
                if !keys.contains(&(m.task.clone(), m.metric.clone())) {
                    keys.push((m.task.clone(), m.metric.clone()));
                }
            }
        }
        keys.into_iter()
            .map(|(task, metric)| {
                let get = |r: &RunResult| {
                    r.test
                        .iter()
                        .find(|m| m.task == task && m.metric == metric)
                        .map(|m| m.value)
                };
                let mt: Vec<f64> = self.multi_task.iter().filter_map(get).collect();
                let st: Vec<f64> = if task == "parse" {
                    self.single_task_las.clone()
                } else {
                    self.single_task
                        .iter()
                        .filter(|r| r.tasks.len() == 1 && r.tasks[0].name() == task)
                        .filter_map(get)
                        .collect()
                };
                (task, metric, mt, st)
            })
            .collect()
    }

    /// A plain-text table: per task, mean ± sd over seeds of the multi-task and single-task
    /// models on the test set.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "BiLSTM tagger/parser on the {} set, {} seed(s)",
            self.report_set,
            self.multi_task.len()
        );
        let _ = writeln!(
            s,
            "{:<8} {:<6} {:>20} {:>20} {:>8}",
            "task", "metric", "multi-task", "single-task", "Δ"
        );
        for (task, metric, mt, st) in self.rows() {
            let f = |v: &[f64]| {
                if v.is_empty() {
                    "—".to_string()
                } else {
                    let (m, sd) = mean_sd(v);
                    format!("{m:.4} ± {sd:.4}")
                }
            };
            let d = if st.is_empty() {
                "—".into()
            } else {
                format!("{:+.4}", mean_sd(&mt).0 - mean_sd(&st).0)
            };
            let _ = writeln!(
                s,
                "{task:<8} {metric:<6} {:>20} {:>20} {d:>8}",
                f(&mt),
                f(&st)
            );
        }
        let secs = |v: &[RunResult]| mean_sd(&v.iter().map(|r| r.seconds).collect::<Vec<_>>()).0;
        let _ = write!(
            s,
            "seconds per run: multi-task {:.1}",
            secs(&self.multi_task)
        );
        if !self.single_task.is_empty() {
            let _ = write!(s, ", single-task {:.1}", secs(&self.single_task));
        }
        let _ = writeln!(s);
        s
    }

    /// The same table in Markdown.
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| task | metric | multi-task (mean ± sd) | single-task (mean ± sd) | Δ (MTL − STL) |"
        );
        let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
        for (task, metric, mt, st) in self.rows() {
            let f = |v: &[f64]| {
                if v.is_empty() {
                    "—".to_string()
                } else {
                    let (m, sd) = mean_sd(v);
                    format!("{:.2} ± {:.2}", 100.0 * m, 100.0 * sd)
                }
            };
            let d = if st.is_empty() {
                "—".into()
            } else {
                format!("{:+.2}", 100.0 * (mean_sd(&mt).0 - mean_sd(&st).0))
            };
            let _ = writeln!(s, "| {task} | {metric} | {} | {} | {d} |", f(&mt), f(&st));
        }
        s
    }
}
