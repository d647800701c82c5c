//! Per-step monitoring for the training log: task weights, pairwise gradient cosines, conflict
//! ratio, and running means over an epoch.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WeightingError};
use crate::input::{Gram, StepInput, resolve_tasks};
use crate::{Aggregation, SolverReport};

/// Pairwise cosines `G_ij / √(G_ii G_jj)` of the gradients (0 when either gradient is zero;
/// 1 on the diagonal of non-zero gradients). Scale-safe for huge gradients.
pub fn cosines(g: ArrayView2<f64>) -> Result<Array2<f64>> {
    let (r, c) = g.dim();
    if r != c {
        return Err(WeightingError::Shape {
            what: "gramian",
            expected: "a square matrix".into(),
            got: format!("{r}x{c}"),
        });
    }
    if g.iter().any(|x| !x.is_finite()) {
        return Err(WeightingError::NonFinite { what: "gramian" });
    }
    let d: Vec<f64> = g.diag().iter().map(|&x| x.max(0.0).sqrt()).collect();
    let mut out = Array2::<f64>::zeros((r, r));
    for i in 0..r {
        for j in 0..r {
            if d[i] > 0.0 && d[j] > 0.0 {
                out[[i, j]] = (g[[i, j]] / d[i] / d[j]).clamp(-1.0, 1.0);
            }
        }
    }
    Ok(out)
}

/// Fraction of the pairs `i < j` whose cosine is negative (0 for fewer than two tasks).
pub fn conflict_ratio(cos: ArrayView2<f64>) -> f64 {
    let k = cos.nrows();
    if k < 2 {
        return 0.0;
    }
    let mut conflicts = 0usize;
    for i in 0..k {
        for j in (i + 1)..k {
            if cos[[i, j]] < 0.0 {
                conflicts += 1;
            }
        }
    }
    conflicts as f64 / (k * (k - 1) / 2) as f64
}

/// What to log for one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Task id of each row.
    pub tasks: Vec<usize>,
    /// The weights λ of the step.
    pub weights: Vec<f64>,
    /// Gradient norms, when the step had a Gramian or Jacobian.
    pub gradient_norms: Option<Vec<f64>>,
    /// Pairwise cosines (row-major k×k), when the step had a Gramian or Jacobian.
    pub cosines: Option<Vec<Vec<f64>>>,
    /// Fraction of conflicting pairs, when the step had a Gramian or Jacobian.
    pub conflict_ratio: Option<f64>,
    /// Whether the method recomputed its weights at this step.
    pub updated: bool,
    /// The solver's report.
    pub solver: SolverReport,
}

impl StepStats {
    /// Stats of a step from its input and the method's output (the Gramian is taken from the
    /// input, or computed from its Jacobian; neither → no cosines).
    pub fn new(input: &StepInput<'_>, out: &Aggregation) -> Result<Self> {
        let k = input.losses.len();
        let tasks = match input.tasks {
            Some(t) => resolve_tasks(
                Some(t),
                k,
                t.iter().max().map_or(0, |m| m.saturating_add(1)),
            )?,
            None => (0..k).collect(),
        };
        if out.weights.len() != k {
            return Err(WeightingError::Shape {
                what: "weights",
                expected: format!("{k} (one per row of the step)"),
                got: format!("{}", out.weights.len()),
            });
        }
        // the Gramian as the methods see it: checked (one row per task of the step, symmetric,
        // Cauchy–Schwarz) and scaled to a unit largest diagonal (no overflow for huge
        // gradients); the norms are scaled back
        let g = match (input.gramian, input.jacobian) {
            (Some(g), _) => Some(Gram::from_gramian(g, k)?),
            (None, Some(j)) if j.nrows() != k => {
                return Err(WeightingError::Shape {
                    what: "jacobian",
                    expected: format!("{k} rows (one per task of the step)"),
                    got: format!("{}", j.nrows()),
                });
            }
            (None, Some(j)) => Some(Gram::from_jacobian(j)?),
            _ => None,
        };
        let (gradient_norms, cos, ratio) = match g {
            Some(g) => {
                let c = cosines(g.unit.view())?;
                let r = conflict_ratio(c.view());
                let norms = g
                    .unit
                    .diag()
                    .iter()
                    .map(|&x| x.max(0.0).sqrt() * g.norm_scale)
                    .collect();
                (
                    Some(norms),
                    Some(c.outer_iter().map(|row| row.to_vec()).collect()),
                    Some(r),
                )
            }
            None => (None, None, None),
        };
        Ok(Self {
            tasks,
            weights: out.weights.to_vec(),
            gradient_norms,
            cosines: cos,
            conflict_ratio: ratio,
            updated: out.updated,
            solver: out.report,
        })
    }
}

/// Running means over an epoch (or any window) of the per-task weights and of the conflict
/// ratio.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    steps: u64,
    weight_sum: Vec<f64>,
    weight_count: Vec<u64>,
    conflict_sum: f64,
    conflict_steps: u64,
    unconverged: u64,
}

impl Monitor {
    /// An empty monitor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a step.
    pub fn record(&mut self, stats: &StepStats) {
        self.steps += 1;
        for (&t, &w) in stats.tasks.iter().zip(&stats.weights) {
            if self.weight_sum.len() <= t {
                self.weight_sum.resize(t + 1, 0.0);
                self.weight_count.resize(t + 1, 0);
            }
            self.weight_sum[t] += w;
            self.weight_count[t] += 1;
        }
        if let Some(r) = stats.conflict_ratio {
            self.conflict_sum += r;
            self.conflict_steps += 1;
        }
        if !stats.solver.converged {
            self.unconverged += 1;
        }
    }

    /// Steps recorded.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Mean weight of each task id over the steps where it was present (`None` if never).
    pub fn mean_weights(&self) -> Vec<Option<f64>> {
        self.weight_sum
            .iter()
            .zip(&self.weight_count)
            .map(|(&s, &c)| if c > 0 { Some(s / c as f64) } else { None })
            .collect()
    }

    /// Mean conflict ratio over the steps that had gradients.
    pub fn mean_conflict_ratio(&self) -> Option<f64> {
        (self.conflict_steps > 0).then(|| self.conflict_sum / self.conflict_steps as f64)
    }

    /// Steps whose solver did not meet its stopping criterion.
    pub fn unconverged_steps(&self) -> u64 {
        self.unconverged
    }

    /// Clears the running means (e.g. at an epoch end).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}
