//! Optimizer choice, learning-rate schedules and early stopping (backend-free parts of the
//! trainer).

use serde::{Deserialize, Serialize};

use crate::error::{Result, config_err};

/// The optimizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient.
    Adam {
        /// β₁.
        #[serde(default = "beta1")]
        beta1: f64,
        /// β₂.
        #[serde(default = "beta2")]
        beta2: f64,
        /// ε.
        #[serde(default = "eps")]
        epsilon: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// AdamW (Loshchilov & Hutter 2019): decoupled weight decay.
    AdamW {
        /// β₁.
        #[serde(default = "beta1")]
        beta1: f64,
        /// β₂.
        #[serde(default = "beta2")]
        beta2: f64,
        /// ε.
        #[serde(default = "eps")]
        epsilon: f64,
        /// Decoupled weight decay.
        #[serde(default = "adamw_decay")]
        weight_decay: f64,
    },
    /// Stochastic gradient descent with optional momentum.
    Sgd {
        /// Momentum (0 = none).
        #[serde(default)]
        momentum: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
}

fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.999
}
fn eps() -> f64 {
    1e-8
}
fn adamw_decay() -> f64 {
    1e-2
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self::Adam {
            beta1: beta1(),
            beta2: beta2(),
            epsilon: eps(),
            weight_decay: 0.0,
        }
    }
}

impl OptimizerConfig {
    /// Check the hyperparameters.
    ///
    /// # Errors
    /// Betas outside `[0, 1)`, negative or NaN ε, decay or momentum.
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, v: f64| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(config_err(format!("{name} must be in [0, 1), got {v}")))
            }
        };
        let nonneg = |name: &str, v: f64| {
            if v >= 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(config_err(format!(
                    "{name} must be ≥ 0 and finite, got {v}"
                )))
            }
        };
        match *self {
            Self::Adam {
                beta1,
                beta2,
                epsilon,
                weight_decay,
            }
            | Self::AdamW {
                beta1,
                beta2,
                epsilon,
                weight_decay,
            } => {
                unit("beta1", beta1)?;
                unit("beta2", beta2)?;
                nonneg("epsilon", epsilon)?;
                nonneg("weight_decay", weight_decay)
            }
            Self::Sgd {
                momentum,
                weight_decay,
            } => {
                unit("momentum", momentum)?;
                nonneg("weight_decay", weight_decay)
            }
        }
    }
}

/// Learning-rate schedule, applied per step on top of an optional linear warm-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays (≥ 1).
        every: usize,
        /// Factor (in (0, 1]).
        gamma: f64,
    },
    /// Multiply by `gamma` every epoch.
    Exponential {
        /// Factor (in (0, 1]).
        gamma: f64,
    },
    /// Cosine annealing from the base rate to `min_lr` over the run's steps.
    Cosine {
        /// Final rate.
        #[serde(default)]
        min_lr: f64,
    },
}

impl LrSchedule {
    /// Check the parameters.
    ///
    /// # Errors
    /// A factor outside (0, 1], `every = 0`, a negative or NaN `min_lr`.
    pub fn validate(&self) -> Result<()> {
        let factor = |g: f64| {
            if g > 0.0 && g <= 1.0 {
                Ok(())
            } else {
                Err(config_err(format!(
                    "schedule gamma must be in (0, 1], got {g}"
                )))
            }
        };
        match *self {
            Self::Constant => Ok(()),
            Self::Step { every, gamma } => {
                if every == 0 {
                    return Err(config_err("schedule `every` must be ≥ 1"));
                }
                factor(gamma)
            }
            Self::Exponential { gamma } => factor(gamma),
            Self::Cosine { min_lr } => {
                if min_lr >= 0.0 && min_lr.is_finite() {
                    Ok(())
                } else {
                    Err(config_err(format!("min_lr must be ≥ 0, got {min_lr}")))
                }
            }
        }
    }

    /// The rate at global step `step` (0-based) of `total_steps`, in epoch `epoch`, with a
    /// linear warm-up over the first `warmup` steps.
    pub fn lr(
        &self,
        base: f64,
        step: usize,
        total_steps: usize,
        epoch: usize,
        warmup: usize,
    ) -> f64 {
        let scheduled = match *self {
            Self::Constant => base,
            Self::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Self::Exponential { gamma } => base * gamma.powi(epoch as i32),
            Self::Cosine { min_lr } => {
                let p = step as f64 / total_steps.max(1) as f64;
                min_lr + 0.5 * (base - min_lr) * (1.0 + (std::f64::consts::PI * p.min(1.0)).cos())
            }
        };
        if step < warmup {
            scheduled * (step + 1) as f64 / warmup as f64
        } else {
            scheduled
        }
    }
}

/// Early stopping on a validation score (lower is better): stop after `patience` epochs
/// without an improvement larger than `min_delta`; remembers the best epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// Smallest decrease that counts as an improvement.
    pub min_delta: f64,
    /// Best score so far (`None` before the first finite score).
    pub best: Option<f64>,
    /// Epoch of the best score.
    pub best_epoch: Option<usize>,
    /// Epochs since the best one.
    pub bad_epochs: usize,
}

impl EarlyStopping {
    /// A new tracker.
    pub fn new(patience: usize, min_delta: f64) -> Self {
        Self {
            patience,
            min_delta,
            best: None,
            best_epoch: None,
            bad_epochs: 0,
        }
    }

    /// Record epoch `epoch`'s score; returns whether it is the new best. Non-finite scores
    /// never improve.
    pub fn update(&mut self, epoch: usize, score: f64) -> bool {
        if score.is_finite() && self.best.is_none_or(|b| score < b - self.min_delta) {
            self.best = Some(score);
            self.best_epoch = Some(epoch);
            self.bad_epochs = 0;
            true
        } else {
            self.bad_epochs += 1;
            false
        }
    }

    /// Whether to stop.
    pub fn should_stop(&self) -> bool {
        self.bad_epochs >= self.patience.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let c = LrSchedule::Cosine { min_lr: 0.1 };
        assert!((c.lr(1.0, 0, 100, 0, 0) - 1.0).abs() < 1e-12);
        assert!((c.lr(1.0, 50, 100, 0, 0) - 0.55).abs() < 1e-12);
        assert!((c.lr(1.0, 100, 100, 0, 0) - 0.1).abs() < 1e-12);
        let s = LrSchedule::Step {
            every: 2,
            gamma: 0.5,
        };
        assert_eq!(s.lr(1.0, 0, 10, 3, 0), 0.5);
        assert_eq!(s.lr(1.0, 0, 10, 4, 0), 0.25);
        assert_eq!(LrSchedule::Constant.lr(2.0, 1, 10, 0, 4), 1.0);
        assert!(LrSchedule::Exponential { gamma: 0.0 }.validate().is_err());
        assert!(
            LrSchedule::Step {
                every: 0,
                gamma: 0.5
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn early_stopping_waits_for_patience() {
        let mut e = EarlyStopping::new(2, 0.0);
        assert!(e.update(0, 1.0));
        assert!(!e.update(1, 1.5));
        assert!(!e.should_stop());
        assert!(!e.update(2, f64::NAN));
        assert!(e.should_stop());
        assert_eq!(e.best_epoch, Some(0));
    }

    #[test]
    fn optimizer_checks() {
        assert!(OptimizerConfig::default().validate().is_ok());
        let bad = OptimizerConfig::Sgd {
            momentum: 1.0,
            weight_decay: 0.0,
        };
        assert!(bad.validate().is_err());
    }
}
