//! Tasks: what each task predicts ([`TaskKind`]) and the loss it is trained with ([`LossKind`]).

use serde::{Deserialize, Serialize};

use crate::error::{Result, config_err};

/// What a task predicts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TaskKind {
    /// A real value (one output).
    Regression,
    /// A 0/1 label (one output: the logit).
    Binary,
    /// One of `classes` labels `0..classes` (one logit per class; the target is the index).
    Multiclass {
        /// Number of classes (≥ 2).
        classes: usize,
    },
    /// `labels` independent 0/1 labels (one logit each).
    Multilabel {
        /// Number of labels (≥ 1).
        labels: usize,
    },
}

impl TaskKind {
    /// Width of the task head's output.
    pub fn output_dim(&self) -> usize {
        match self {
            Self::Regression | Self::Binary => 1,
            Self::Multiclass { classes } => *classes,
            Self::Multilabel { labels } => *labels,
        }
    }

    /// Columns of the task's target matrix (1, or `labels` for multilabel tasks).
    pub fn target_dim(&self) -> usize {
        match self {
            Self::Multilabel { labels } => *labels,
            _ => 1,
        }
    }

    /// The loss used when none is given: MSE, BCE with logits, cross-entropy, BCE.
    pub fn default_loss(&self) -> LossKind {
        match self {
            Self::Regression => LossKind::Mse,
            Self::Binary | Self::Multilabel { .. } => LossKind::Bce,
            Self::Multiclass { .. } => LossKind::CrossEntropy,
        }
    }

    /// Check one target value (`NaN` = missing is handled by the caller).
    pub(crate) fn check_value(&self, v: f64) -> std::result::Result<(), String> {
        if !v.is_finite() {
            return Err(format!("non-finite target {v}"));
        }
        match self {
            Self::Regression if !fits_f32(v) => Err(format!(
                "target {v:e} is beyond f32's range (±3.4e38; deep models train in single \
                 precision): rescale it"
            )),
            Self::Regression => Ok(()),
            Self::Binary | Self::Multilabel { .. } if v == 0.0 || v == 1.0 => Ok(()),
            Self::Binary | Self::Multilabel { .. } => {
                Err(format!("label {v} is not 0 or 1 (binary labels)"))
            }
            Self::Multiclass { classes } => {
                if v.fract() == 0.0 && v >= 0.0 && (v as usize) < *classes {
                    Ok(())
                } else {
                    Err(format!(
                        "label {v} is not a class index in 0..{classes} (multiclass labels)"
                    ))
                }
            }
        }
    }
}

/// Whether a finite `v` is within `f32`'s range (the deep models train in single precision).
pub(crate) fn fits_f32(v: f64) -> bool {
    v.abs() <= f64::from(f32::MAX)
}

/// The training loss of a task. Every loss is averaged over the task's labelled entries in a
/// batch (missing labels contribute nothing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LossKind {
    /// Mean squared error `(f − y)²` (regression).
    Mse,
    /// Huber loss with threshold `delta`: `½r²` for `|r| ≤ δ`, `δ(|r| − ½δ)` beyond
    /// (regression).
    Huber {
        /// The threshold δ (> 0).
        delta: f64,
    },
    /// Binary cross-entropy on the logit, `log(1 + e^f) − y f` (binary and multilabel).
    Bce,
    /// Cross-entropy of the softmax of the logits (multiclass).
    CrossEntropy,
}

/// One task: its name, kind and loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Task name (unique).
    pub name: String,
    /// What the task predicts.
    pub kind: TaskKind,
    /// The loss (default: [`TaskKind::default_loss`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossKind>,
}

impl TaskSpec {
    /// A task with the default loss of its kind.
    pub fn new(name: impl Into<String>, kind: TaskKind) -> Self {
        Self {
            name: name.into(),
            kind,
            loss: None,
        }
    }

    /// Set the loss.
    #[must_use]
    pub fn with_loss(mut self, loss: LossKind) -> Self {
        self.loss = Some(loss);
        self
    }

    /// The loss in use.
    pub fn loss(&self) -> LossKind {
        self.loss
            .clone()
            .unwrap_or_else(|| self.kind.default_loss())
    }

    /// Check the kind's sizes and that the loss fits the kind.
    ///
    /// # Errors
    /// [`crate::DeepError::Config`] naming the task.
    pub fn validate(&self) -> Result<()> {
        let name = &self.name;
        if name.is_empty() {
            return Err(config_err("a task has an empty name"));
        }
        match self.kind {
            TaskKind::Multiclass { classes } if classes < 2 => {
                return Err(config_err(format!(
                    "task '{name}': a multiclass task needs at least 2 classes, got {classes}"
                )));
            }
            TaskKind::Multilabel { labels: 0 } => {
                return Err(config_err(format!(
                    "task '{name}': a multilabel task needs at least 1 label"
                )));
            }
            _ => {}
        }
        let ok = match (&self.kind, self.loss()) {
            (TaskKind::Regression, LossKind::Mse) => true,
            (TaskKind::Regression, LossKind::Huber { delta }) => {
                if !(delta > 0.0 && delta.is_finite()) {
                    return Err(config_err(format!(
                        "task '{name}': Huber delta must be positive and finite, got {delta}"
                    )));
                }
                true
            }
            (TaskKind::Binary | TaskKind::Multilabel { .. }, LossKind::Bce) => true,
            (TaskKind::Multiclass { .. }, LossKind::CrossEntropy) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(config_err(format!(
                "task '{name}': loss {:?} does not fit a {:?} task",
                self.loss(),
                self.kind
            )))
        }
    }
}

/// Check a list of tasks: each valid, names unique, at least one.
pub(crate) fn validate_specs(specs: &[TaskSpec]) -> Result<()> {
    if specs.is_empty() {
        return Err(config_err("no tasks: at least one task is required"));
    }
    let mut seen = std::collections::HashSet::new();
    for s in specs {
        s.validate()?;
        if !seen.insert(s.name.as_str()) {
            return Err(config_err(format!("task name '{}' appears twice", s.name)));
        }
    }
    Ok(())
}
