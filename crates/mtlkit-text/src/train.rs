//! Training and evaluation of a [`TextModel`] on encoded sentences.
//!
//! One step: a batch of sentences padded to its longest; each of the model's tasks with at
//! least one label in the batch gets its masked loss (padding, ROOT and unannotated sentences
//! excluded); a **loss-level** weighting method of `mtlkit-weighting` turns the losses into
//! weights (`Weighting::aggregate`, as `mtlkit-deep`'s trainer does for loss-level methods);
//! one backward pass of `Σ λ_t L_t` and one optimizer step follow. Methods that need task
//! gradients (a Gramian or a Jacobian: MGDA, PCGrad, …) are rejected for text models.
//!
//! After every epoch the model is scored on the validation sentences (mean over tasks of
//! their metric); the best epoch's model is kept, with early stopping after `patience` epochs
//! without improvement. The test set is never seen here.

use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use mtlkit_deep::schedule::OptimizerConfig;
use mtlkit_weighting::{Method, Need, StepInput};
use ndarray::Array1;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::data::{Batch, Encoded, Task, Vocab};
use crate::error::{Result, TextError, config_err};
use crate::iob2::spans;
use crate::model::{ModelConfig, TextModel, argmax, masked_ce};

/// Trainer settings (every field has a default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextTrainerConfig {
    /// Maximum number of epochs (default 10).
    pub epochs: usize,
    /// Sentences per batch (default 32).
    pub batch_size: usize,
    /// Learning rate (default 2e-3).
    pub lr: f64,
    /// Optimizer (default Adam), as in `mtlkit-deep`.
    pub optimizer: OptimizerConfig,
    /// Early-stopping patience in epochs (default 3; `None`: every epoch runs, the best
    /// validation epoch is still the one kept).
    pub patience: Option<usize>,
    /// Clip the gradient of each parameter tensor to this norm (default 5; burn's per-tensor
    /// clipping, not a clip of the global norm over all parameters).
    pub clip_grad_norm: Option<f64>,
    /// Loss-level task weighting (default `sum`).
    pub weighting: Method,
    /// Sentences per evaluation batch (default 256).
    pub eval_batch_size: usize,
}

impl Default for TextTrainerConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            lr: 2e-3,
            optimizer: OptimizerConfig::default(),
            patience: Some(3),
            clip_grad_norm: Some(5.0),
            weighting: Method::Sum(mtlkit_weighting::methods::SumConfig::default()),
            eval_batch_size: 256,
        }
    }
}

impl TextTrainerConfig {
    /// Check every setting.
    ///
    /// # Errors
    /// [`TextError::Config`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 || self.eval_batch_size == 0 {
            return Err(config_err(
                "trainer.epochs, batch_size and eval_batch_size must be ≥ 1",
            ));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(config_err(format!(
                "trainer.lr must be positive, got {}",
                self.lr
            )));
        }
        if let Some(c) = self.clip_grad_norm
            && !(c > 0.0 && c.is_finite())
        {
            return Err(config_err(format!(
                "trainer.clip_grad_norm must be positive, got {c}"
            )));
        }
        if self.patience == Some(0) {
            return Err(config_err(
                "trainer.patience must be ≥ 1 epoch (or left out: every epoch runs)",
            ));
        }
        self.optimizer
            .validate()
            .map_err(|e| config_err(e.to_string()))?;
        let w = self.weighting.build(2, 0)?;
        if w.need() != Need::Losses {
            return Err(config_err(format!(
                "weighting '{}' needs task gradients; text models support loss-level methods only (sum, mean, fixed, uncertainty, dwa, …)",
                w.name()
            )));
        }
        Ok(())
    }
}

/// One epoch's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss per task (the model's tasks, in order).
    pub train_loss: Vec<f64>,
    /// Validation metric per task.
    pub validation: Vec<Option<f64>>,
    /// Validation score (mean of the available metrics).
    pub score: f64,
    /// Wall seconds of the epoch (training and validation).
    pub seconds: f64,
}

/// A trained model and how it was selected.
#[derive(Debug)]
pub struct Trained {
    /// The model of the best validation epoch (plain backend, evaluation mode).
    pub model: TextModel,
    /// The best validation epoch (1-based).
    pub best_epoch: usize,
    /// Its validation score.
    pub best_score: f64,
    /// Per-epoch log.
    pub log: Vec<EpochLog>,
    /// Wall seconds.
    pub seconds: f64,
}

/// Encoded sentences that fit `vocab`: word, character-feature and label ids within their
/// tables (heads within their sentence), one affix row and one label per position.
fn check_encoded(set: &str, sents: &[Encoded], vocab: &Vocab) -> Result<()> {
    let bad = |k: usize, what: String| {
        Err(config_err(format!(
            "{set} sentence {k}: {what} (was it encoded with another vocabulary?)"
        )))
    };
    for (k, e) in sents.iter().enumerate() {
        let n = e.len();
        if e.affix.len() != n * crate::data::N_AFFIX || e.labels.len() != Task::ALL.len() {
            return bad(k, "inconsistent lengths".into());
        }
        if let Some(&w) = e.words.iter().find(|&&w| w as usize >= vocab.words.len()) {
            return bad(
                k,
                format!("word id {w} beyond the {} words", vocab.words.len()),
            );
        }
        if let Some(&a) = e.affix.iter().find(|&&a| a as usize >= vocab.affixes.len()) {
            return bad(
                k,
                format!("feature id {a} beyond the {}", vocab.affixes.len()),
            );
        }
        for (ti, (labels, task)) in e.labels.iter().zip(Task::ALL).enumerate() {
            if labels.len() != n {
                return bad(k, format!("{} labels for {n} positions", labels.len()));
            }
            let limit = if task == Task::Head {
                n
            } else {
                vocab.labels[ti].len()
            };
            if let Some(&l) = labels.iter().find(|&&l| l >= 0 && l as usize >= limit) {
                return bad(k, format!("{} label {l} beyond {limit}", task.name()));
            }
        }
    }
    Ok(())
}

/// Train a model for `tasks` on `train`, selecting the epoch on `valid`.
///
/// # Errors
/// Invalid configuration, no task or a task listed twice, sentences encoded with another
/// vocabulary, no training or validation sentence with a label of the tasks, a non-finite
/// loss.
#[allow(clippy::too_many_arguments)]
pub fn train_model(
    tasks: &[Task],
    vocab: &Vocab,
    mcfg: &ModelConfig,
    tcfg: &TextTrainerConfig,
    train: &[Encoded],
    valid: &[Encoded],
    seed: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<Trained> {
    tcfg.validate()?;
    mcfg.validate()?;
    if tasks.is_empty() {
        return Err(config_err("no task to train"));
    }
    if let Some(t) = mtlkit_core::param::first_duplicate(tasks.iter().copied()) {
        return Err(config_err(format!("task {} is listed twice", t.name())));
    }
    for (set, sents) in [("training", train), ("validation", valid)] {
        check_encoded(set, sents, vocab)?;
    }
    if !valid.iter().any(|e| tasks.iter().any(|t| e.has(*t))) {
        return Err(config_err(format!(
            "no validation sentence has a label of {} (the model is selected on validation)",
            names(tasks)
        )));
    }
    let t0 = Instant::now();
    let train: Vec<&Encoded> = train
        .iter()
        .filter(|e| tasks.iter().any(|t| e.has(*t)))
        .collect();
    if train.is_empty() {
        return Err(config_err(format!(
            "no training sentence has a label of {}",
            names(tasks)
        )));
    }
    let device = mtlkit_deep::cpu_device();
    let plain = device.clone().without_autodiff();
    let mut model = mtlkit_deep::seeded(&device, seed, |d| TextModel::new(mcfg, vocab, tasks, d));
    let mut optim = mtlkit_deep::TrainerConfig {
        optimizer: tcfg.optimizer.clone(),
        clip_grad_norm: tcfg.clip_grad_norm,
        ..Default::default()
    }
    .build_optimizer();
    let mut weighting = tcfg.weighting.build(tasks.len(), seed)?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7e57);
    let lengths: Vec<usize> = train.iter().map(|e| e.len()).collect();
    let mut best: Option<(TextModel, usize, f64)> = None;
    let mut log = Vec::new();
    let mut since_best = 0;
    for epoch in 1..=tcfg.epochs {
        let te = Instant::now();
        let mut acc = vec![(0.0f64, 0usize); tasks.len()];
        for idx in crate::data::epoch_batches(&lengths, tcfg.batch_size, &mut rng) {
            let sents: Vec<&Encoded> = idx.iter().map(|&i| train[i]).collect();
            let b = Batch::new(&sents, &device, mcfg.word_dropout, &mut rng);
            let outs = model.outputs(&b, tasks);
            let mut ids = Vec::new();
            let mut losses = Vec::new();
            for (k, (t, out)) in tasks.iter().zip(outs).enumerate() {
                let (lab, m, count) = &b.labels[*t as usize];
                if *count == 0 {
                    continue;
                }
                ids.push(k);
                losses.push(masked_ce(out, lab.clone(), m.clone(), *count));
            }
            if ids.is_empty() {
                continue;
            }
            let lv: Vec<f64> = losses
                .iter()
                .map(|l| f64::from(l.clone().into_scalar::<f32>()))
                .collect();
            if let Some((k, v)) = lv.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(TextError::Training(format!(
                    "task '{}' has loss {v} at epoch {epoch}: training diverged (lower the learning rate)",
                    tasks[ids[k]]
                )));
            }
            let arr = Array1::from(lv.clone());
            let agg = weighting.aggregate(&StepInput::new(arr.view()).with_tasks(&ids))?;
            let total = losses
                .into_iter()
                .zip(agg.weights.iter())
                .map(|(l, &w)| l.mul_scalar(w))
                .reduce(|a, b| a + b)
                .ok_or_else(|| TextError::Training("empty step".into()))?;
            let grads = GradientsParams::from_grads(total.backward(), &model);
            model = optim.step(tcfg.lr, model, grads);
            for (k, &t) in ids.iter().enumerate() {
                acc[t].0 += lv[k];
                acc[t].1 += 1;
            }
        }
        weighting.end_epoch();
        let eval_model = model.valid();
        let preds = predict(&eval_model, tasks, valid, &plain, tcfg.eval_batch_size);
        let metrics: Vec<Option<f64>> = tasks
            .iter()
            .zip(&preds)
            .map(|(t, p)| metric(*t, p, valid, vocab))
            .collect();
        let avail: Vec<f64> = metrics.iter().flatten().copied().collect();
        #[allow(clippy::cast_precision_loss)]
        let score = if avail.is_empty() {
            // no validation labels: the last epoch wins
            epoch as f64
        } else {
            avail.iter().sum::<f64>() / avail.len() as f64
        };
        #[allow(clippy::cast_precision_loss)]
        let train_loss: Vec<f64> = acc
            .iter()
            .map(|(s, n)| if *n > 0 { s / *n as f64 } else { f64::NAN })
            .collect();
        let rec = EpochLog {
            epoch,
            train_loss,
            validation: metrics,
            score,
            seconds: te.elapsed().as_secs_f64(),
        };
        progress(&format!(
            "[{}] seed {seed} epoch {epoch}: loss {} valid {} score {score:.4} ({:.1} s)",
            names(tasks),
            fmt_list(&rec.train_loss),
            rec.validation
                .iter()
                .map(|v| v.map_or("-".into(), |v| format!("{v:.4}")))
                .collect::<Vec<_>>()
                .join(" "),
            rec.seconds
        ));
        log.push(rec);
        if best.as_ref().is_none_or(|(_, _, s)| score > *s) {
            best = Some((eval_model, epoch, score));
            since_best = 0;
        } else {
            since_best += 1;
            if tcfg.patience.is_some_and(|p| since_best >= p) {
                break;
            }
        }
    }
    let (model, best_epoch, best_score) =
        best.ok_or_else(|| TextError::Training("no epoch ran".into()))?;
    Ok(Trained {
        model,
        best_epoch,
        best_score,
        log,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn names(tasks: &[Task]) -> String {
    tasks.iter().map(|t| t.name()).collect::<Vec<_>>().join("+")
}

fn fmt_list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Predicted labels: per task of `tasks`, per sentence, one label per position (position 0,
/// ROOT, included).
pub fn predict(
    model: &TextModel,
    tasks: &[Task],
    data: &[Encoded],
    device: &Device,
    batch_size: usize,
) -> Vec<Vec<Vec<i64>>> {
    let mut out = vec![vec![Vec::new(); data.len()]; tasks.len()];
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.sort_by_key(|&i| data[i].len());
    let mut rng = StdRng::seed_from_u64(0);
    for chunk in order.chunks(batch_size.max(1)) {
        let sents: Vec<&Encoded> = chunk.iter().map(|&i| &data[i]).collect();
        let b = Batch::new(&sents, device, 0.0, &mut rng);
        let [_, t] = b.dims;
        for (k, o) in model.outputs(&b, tasks).into_iter().enumerate() {
            let p = argmax(o);
            for (r, &i) in chunk.iter().enumerate() {
                out[k][i] = p[r * t..r * t + data[i].len()].to_vec();
            }
        }
    }
    out
}

/// The task's metric of predictions against the gold labels of `gold` (`None` when no
/// position has a label): token accuracy, UAS for `head`, entity-level F1 for `ner`.
pub fn metric(task: Task, pred: &[Vec<i64>], gold: &[Encoded], vocab: &Vocab) -> Option<f64> {
    let ti = task as usize;
    if task == Task::Ner {
        let names = &vocab.labels[ti].names;
        let tag = |l: i64| -> &str {
            usize::try_from(l)
                .ok()
                .filter(|&i| i > 1)
                .and_then(|i| names.get(i))
                .map_or("O", String::as_str)
        };
        // a gold tag unseen in training (encoded as UNK, id 1) is an entity of a type the
        // model cannot name: a miss, not an `O` (consecutive unseen tags form one span)
        let gold_tag = |l: i64| -> &str {
            if l == i64::from(crate::data::UNK) {
                "I-\u{0}unseen"
            } else {
                tag(l)
            }
        };
        let (mut tp, mut np, mut ng, mut any) = (0usize, 0usize, 0usize, false);
        for (p, g) in pred.iter().zip(gold) {
            let gl = &g.labels[ti];
            if !gl.iter().any(|&l| l >= 0) {
                continue;
            }
            any = true;
            let gs = spans(&gl[1..].iter().map(|&l| gold_tag(l)).collect::<Vec<_>>());
            let ps = spans(&p[1..].iter().map(|&l| tag(l)).collect::<Vec<_>>());
            np += ps.len();
            ng += gs.len();
            tp += ps.iter().filter(|s| gs.contains(s)).count();
        }
        if !any {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        return Some(if np + ng == 0 {
            1.0
        } else {
            2.0 * tp as f64 / (np + ng) as f64
        });
    }
    let (mut right, mut n) = (0usize, 0usize);
    for (p, g) in pred.iter().zip(gold) {
        for (pp, &gg) in p.iter().zip(&g.labels[ti]) {
            if gg >= 0 {
                n += 1;
                right += usize::from(*pp == gg);
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    (n > 0).then(|| right as f64 / n as f64)
}

/// Labelled attachment score: the fraction of words whose predicted head and relation are both
/// right (`None` without gold heads).
pub fn las(head: &[Vec<i64>], deprel: &[Vec<i64>], gold: &[Encoded]) -> Option<f64> {
    let (mut right, mut n) = (0usize, 0usize);
    for ((h, d), g) in head.iter().zip(deprel).zip(gold) {
        let gh = &g.labels[Task::Head as usize];
        let gd = &g.labels[Task::Deprel as usize];
        for p in 0..g.len() {
            if gh[p] >= 0 && gd[p] >= 0 {
                n += 1;
                right += usize::from(h[p] == gh[p] && d[p] == gd[p]);
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    (n > 0).then(|| right as f64 / n as f64)
}
