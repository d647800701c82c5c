//! What a step gives a method: losses, and the Gramian or Jacobian when the method needs them.

use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WeightingError};

/// The most a method needs from the trainer at a step. Ordered: `Losses < Gramian < Jacobian`.
///
/// - `Losses`: only the T loss values (loss-level methods).
/// - `Gramian`: also `G = J Jᵀ` (T×T) of the per-task gradients; a Jacobian is accepted too
///   (the Gramian is then computed from it).
/// - `Jacobian`: the per-task gradient matrix `J` (T×P) itself (methods that alter coordinates
///   or keep gradient buffers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// Only the losses.
    Losses,
    /// The losses and the Gramian `G = J Jᵀ` (or the Jacobian, from which it is computed).
    Gramian,
    /// The losses and the Jacobian `J` (T×P).
    Jacobian,
}

/// The input of one step.
///
/// Rows are tasks: `losses[r]`, row/column `r` of the Gramian and row `r` of the Jacobian all
/// belong to the same task. By default row `r` is task `r` and all `num_tasks` tasks must be
/// present. When some tasks are absent from a batch, pass only the present ones and name them
/// with [`StepInput::with_tasks`] (their ids in `0..num_tasks`, one per row); the method then
/// works on that subset, updates only the state of the present tasks, and returns one weight
/// per given row.
#[derive(Debug, Clone, Copy)]
pub struct StepInput<'a> {
    /// The loss of each present task (length k).
    pub losses: ArrayView1<'a, f64>,
    /// The Gramian `G = J Jᵀ` (k×k), when computed.
    pub gramian: Option<ArrayView2<'a, f64>>,
    /// The Jacobian `J` (k×P), one gradient per row, when computed.
    pub jacobian: Option<ArrayView2<'a, f64>>,
    /// The task id of each row; `None` means row `r` is task `r` and all tasks are present.
    pub tasks: Option<&'a [usize]>,
}

impl<'a> StepInput<'a> {
    /// A step with only losses.
    pub fn new(losses: ArrayView1<'a, f64>) -> Self {
        Self {
            losses,
            gramian: None,
            jacobian: None,
            tasks: None,
        }
    }

    /// Adds the Gramian `G = J Jᵀ`.
    pub fn with_gramian(mut self, gramian: ArrayView2<'a, f64>) -> Self {
        self.gramian = Some(gramian);
        self
    }

    /// Adds the Jacobian `J` (one task gradient per row).
    pub fn with_jacobian(mut self, jacobian: ArrayView2<'a, f64>) -> Self {
        self.jacobian = Some(jacobian);
        self
    }

    /// Names the task of each row (a subset of `0..num_tasks`, no repetition).
    pub fn with_tasks(mut self, tasks: &'a [usize]) -> Self {
        self.tasks = Some(tasks);
        self
    }

    /// Number of rows (present tasks) of this step.
    pub fn num_rows(&self) -> usize {
        self.losses.len()
    }
}

/// `J Jᵀ`, computed with a scaling that avoids overflow for huge gradients where possible.
pub fn gramian(jacobian: ArrayView2<f64>) -> Array2<f64> {
    let c = jacobian.iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
    if c == 0.0 || !c.is_finite() {
        return jacobian.dot(&jacobian.t());
    }
    let jn = jacobian.mapv(|x| x / c);
    let mut g = jn.dot(&jn.t());
    g.mapv_inplace(|x| x * c * c);
    g
}

/// Relative tolerance (to the largest diagonal entry) of the symmetry and Cauchy–Schwarz checks
/// of a given Gramian: above the rounding of an `f64` `J Jᵀ`, and of most `f32` ones (a
/// trainer that forms `J Jᵀ` in `f32` over many parameters should symmetrize it and clip its
/// off-diagonal entries to `√(G_ii G_jj)`, as mtlkit-deep does).
const GRAM_TOL: f64 = 1e-6;

/// A Gramian kept as `G = norm_scale² · unit`, `unit` having largest diagonal entry 1 (or all
/// zeros when every gradient is zero). Avoids overflow/underflow for huge or tiny gradients.
#[derive(Debug, Clone)]
pub(crate) struct Gram {
    pub unit: Array2<f64>,
    /// The largest gradient norm, `sqrt(max_i G_ii)`.
    pub norm_scale: f64,
}

impl Gram {
    pub fn is_zero(&self) -> bool {
        self.norm_scale == 0.0
    }

    /// Trace-normalized Gramian (torchjd's `normalize`): `G / tr(G)`, zeros if `G = 0`.
    pub fn trace_normalized(&self) -> Array2<f64> {
        let tr: f64 = self.unit.diag().sum();
        if tr > 0.0 {
            self.unit.mapv(|x| x / tr)
        } else {
            Array2::zeros(self.unit.raw_dim())
        }
    }

    /// Frobenius-normalized Gramian: `G / ‖G‖_F`, zeros if `G = 0`.
    pub fn frobenius_normalized(&self) -> (Array2<f64>, f64) {
        let f = self.unit.iter().map(|x| x * x).sum::<f64>().sqrt();
        if f > 0.0 {
            (self.unit.mapv(|x| x / f), f)
        } else {
            (Array2::zeros(self.unit.raw_dim()), 0.0)
        }
    }

    pub(crate) fn from_gramian(g: ArrayView2<f64>, k: usize) -> Result<Self> {
        if g.dim() != (k, k) {
            return Err(WeightingError::Shape {
                what: "gramian",
                expected: format!("{k}x{k} (one row and column per present task)"),
                got: format!("{}x{}", g.nrows(), g.ncols()),
            });
        }
        if g.iter().any(|x| !x.is_finite()) {
            return Err(WeightingError::NonFinite { what: "gramian" });
        }
        let md = g.diag().iter().fold(0.0_f64, |m, &x| m.max(x));
        if g.diag()
            .iter()
            .any(|&d| d < -1e-12 * md.max(f64::MIN_POSITIVE))
        {
            return Err(WeightingError::InvalidInput(
                "the Gramian has a negative diagonal entry (it must be J Jᵀ)".into(),
            ));
        }
        // the two cheap necessary conditions of a Gramian `J Jᵀ`, up to rounding: symmetry,
        // and Cauchy–Schwarz `G_ij² ≤ G_ii G_jj` (a T×T Jacobian passed as the Gramian, or an
        // indefinite matrix, fails one of them); checked on `G / max_i G_ii`
        let unit_of = |x: f64| if md > 0.0 { x / md } else { x };
        for i in 0..k {
            for j in 0..i {
                let (a, b) = (unit_of(g[[i, j]]), unit_of(g[[j, i]]));
                if (a - b).abs() > GRAM_TOL {
                    return Err(WeightingError::InvalidInput(format!(
                        "the Gramian is not symmetric (G[{i},{j}] = {:e}, G[{j},{i}] = {:e}; it \
                         must be J Jᵀ)",
                        g[[i, j]],
                        g[[j, i]]
                    )));
                }
                let (di, dj) = (unit_of(g[[i, i]]).max(0.0), unit_of(g[[j, j]]).max(0.0));
                let c = 0.5 * (a + b);
                if c * c > di * dj * (1.0 + GRAM_TOL) + GRAM_TOL * GRAM_TOL {
                    return Err(WeightingError::InvalidInput(format!(
                        "the Gramian is not positive semi-definite: |G[{i},{j}]| = {:e} exceeds \
                         sqrt(G[{i},{i}] G[{j},{j}]) (it must be J Jᵀ)",
                        g[[i, j]].abs()
                    )));
                }
            }
        }
        if md <= 0.0 {
            return Ok(Self {
                unit: Array2::zeros((k, k)),
                norm_scale: 0.0,
            });
        }
        let mut unit = Array2::<f64>::zeros((k, k));
        for i in 0..k {
            for j in 0..k {
                unit[[i, j]] = 0.5 * (g[[i, j]] / md + g[[j, i]] / md);
            }
            unit[[i, i]] = unit[[i, i]].max(0.0);
        }
        Ok(Self {
            unit,
            norm_scale: md.sqrt(),
        })
    }

    pub(crate) fn from_jacobian(j: ArrayView2<f64>) -> Result<Self> {
        let k = j.nrows();
        let c = j.iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
        if c == 0.0 {
            return Ok(Self {
                unit: Array2::zeros((k, k)),
                norm_scale: 0.0,
            });
        }
        let jn = j.mapv(|x| x / c);
        let g0 = jn.dot(&jn.t());
        let md = g0.diag().iter().fold(0.0_f64, |m, &x| m.max(x));
        let norm_scale = c * md.sqrt();
        if !norm_scale.is_finite() {
            return Err(WeightingError::NonFinite {
                what: "gradient norm (overflows f64)",
            });
        }
        Ok(Self {
            unit: g0.mapv(|x| x / md),
            norm_scale,
        })
    }
}

/// A validated step: rows resolved to task ids, the Gramian prepared when needed.
pub(crate) struct Prepared<'a> {
    pub losses: ArrayView1<'a, f64>,
    /// Task id of each row.
    pub tasks: Vec<usize>,
    pub gram: Option<Gram>,
    pub jacobian: Option<ArrayView2<'a, f64>>,
}

impl Prepared<'_> {
    pub fn k(&self) -> usize {
        self.tasks.len()
    }

    /// The Gramian, which `prepare` guarantees when the need was at least `Gramian`.
    pub fn gram(&self, method: &'static str) -> Result<&Gram> {
        self.gram.as_ref().ok_or(WeightingError::MissingInput {
            method,
            need: Need::Gramian,
        })
    }

    /// The Jacobian, which `prepare` guarantees when the need was `Jacobian`.
    pub fn jac(&self, method: &'static str) -> Result<ArrayView2<'_, f64>> {
        self.jacobian.ok_or(WeightingError::MissingInput {
            method,
            need: Need::Jacobian,
        })
    }
}

/// Validates a step for a method over `num_tasks` tasks that needs `need` now.
pub(crate) fn prepare<'a>(
    input: &StepInput<'a>,
    num_tasks: usize,
    method: &'static str,
    need: Need,
) -> Result<Prepared<'a>> {
    let k = input.losses.len();
    if k == 0 {
        return Err(WeightingError::Shape {
            what: "losses",
            expected: "at least one task".into(),
            got: "0".into(),
        });
    }
    if input.losses.iter().any(|x| !x.is_finite()) {
        return Err(WeightingError::NonFinite { what: "losses" });
    }
    let tasks = resolve_tasks(input.tasks, k, num_tasks)?;
    let mut jacobian = None;
    if let Some(j) = input.jacobian {
        if j.nrows() != k || j.ncols() == 0 {
            return Err(WeightingError::Shape {
                what: "jacobian",
                expected: format!("{k}xP with P >= 1 (one row per present task)"),
                got: format!("{}x{}", j.nrows(), j.ncols()),
            });
        }
        if need == Need::Jacobian || (need == Need::Gramian && input.gramian.is_none()) {
            if j.iter().any(|x| !x.is_finite()) {
                return Err(WeightingError::NonFinite { what: "jacobian" });
            }
            jacobian = Some(j);
        }
    }
    let gram = match need {
        Need::Losses => None,
        // Jacobian-level methods work on `J` directly; no Gramian is formed for them.
        Need::Jacobian => {
            if jacobian.is_none() {
                return Err(WeightingError::MissingInput { method, need });
            }
            None
        }
        Need::Gramian => match (input.gramian, jacobian) {
            (Some(g), _) => Some(Gram::from_gramian(g, k)?),
            (None, Some(j)) => Some(Gram::from_jacobian(j)?),
            (None, None) => return Err(WeightingError::MissingInput { method, need }),
        },
    };
    Ok(Prepared {
        losses: input.losses,
        tasks,
        gram,
        jacobian,
    })
}

pub(crate) fn resolve_tasks(
    tasks: Option<&[usize]>,
    k: usize,
    num_tasks: usize,
) -> Result<Vec<usize>> {
    match tasks {
        None => {
            if k != num_tasks {
                return Err(WeightingError::Shape {
                    what: "losses",
                    expected: format!(
                        "{num_tasks} (all tasks; name a subset with StepInput::with_tasks)"
                    ),
                    got: format!("{k}"),
                });
            }
            Ok((0..k).collect())
        }
        Some(t) => {
            if t.len() != k {
                return Err(WeightingError::InvalidTasks(format!(
                    "{} task ids for {k} rows",
                    t.len()
                )));
            }
            let mut seen = vec![false; num_tasks];
            for &id in t {
                if id >= num_tasks {
                    return Err(WeightingError::InvalidTasks(format!(
                        "task id {id} out of range 0..{num_tasks}"
                    )));
                }
                if seen[id] {
                    return Err(WeightingError::InvalidTasks(format!(
                        "task id {id} given twice"
                    )));
                }
                seen[id] = true;
            }
            Ok(t.to_vec())
        }
    }
}

/// Checks that every loss is `>= 0` (for methods taking logarithms or ratios of losses).
pub(crate) fn check_nonneg_losses(losses: ArrayView1<f64>, method: &'static str) -> Result<()> {
    if losses.iter().any(|&l| l < 0.0) {
        return Err(WeightingError::InvalidInput(format!(
            "method `{method}` takes logarithms or ratios of the losses, which must be >= 0"
        )));
    }
    Ok(())
}
