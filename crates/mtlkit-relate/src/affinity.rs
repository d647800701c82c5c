//! Task affinity matrices: `T × T`, one row and column per task, larger = more related.
//!
//! Every source of task relationships ends in one [`TaskAffinity`], the exchange format read by
//! the grouping functions and by `mtlkit relate --from FILE.json`:
//!
//! ```json
//! {"kind": "weight-cosine", "tasks": ["a", "b"], "matrix": [[1.0, 0.3], [0.3, 1.0]]}
//! ```
//!
//! `kind` names the source (free text; the ones made here are listed below), `tasks` the tasks
//! in matrix order, `matrix` the rows. Grouping needs a square, finite, symmetric matrix; a
//! directed affinity (TAG's lookahead affinity `Z_{i→j}`) is made symmetric with
//! [`TaskAffinity::symmetrized`] (`(A + Aᵀ)/2`). Zero means "no relationship": a task alone in
//! its group scores 0 in the exact search ([`crate::grouping`]).
//!
//! Sources computed here, from fitted linear models (`W`, `n_features × n_tasks`):
//!
//! | kind | affinity `A_st` |
//! |---|---|
//! | `weight-cosine` | cosine of the weight vectors `w_s`, `w_t` ([`weight_cosine`]) |
//! | `weight-correlation` | Pearson correlation of `w_s`, `w_t` over features ([`weight_correlation`]) |
//! | `mtrl-correlation` | MTRL's learned task covariance `Ω` as correlations ([`covariance_correlation`]) |
//! | `clustered-mtl` | clustered MTL's relaxed cluster matrix `M` as correlations |
//! | `go-mtl-usage` | cosine of GO-MTL's basis usage `|S_·t|` ([`basis_usage`]) |

use std::path::Path;

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::{RelateError, Result};

/// A task affinity matrix with its task names and the name of its source.
///
/// The JSON form is `{"kind": ..., "tasks": [...], "matrix": [[...], ...]}` (see the module
/// docs). Construct with [`TaskAffinity::new`] (validated) or read with
/// [`TaskAffinity::from_json`] / [`TaskAffinity::read`], which validate too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAffinity {
    /// The source, e.g. `weight-cosine`, `mtrl-correlation`, `gradient-cosine`, `tag-lookahead`.
    pub kind: String,
    /// Task names, in matrix order.
    pub tasks: Vec<String>,
    /// Rows of the `T × T` matrix; `matrix[s][t]` is the affinity of tasks `s` and `t`.
    pub matrix: Vec<Vec<f64>>,
}

impl TaskAffinity {
    /// A validated affinity from a `T × T` array (square, finite, one unique non-empty name per
    /// task; symmetry is not required here, see [`check_symmetric`](Self::check_symmetric)).
    ///
    /// # Errors
    /// [`RelateError::Empty`], [`RelateError::NotSquare`], [`RelateError::NamesLength`],
    /// [`RelateError::InvalidName`], [`RelateError::NonFinite`].
    pub fn new(
        kind: impl Into<String>,
        tasks: Vec<String>,
        matrix: ArrayView2<'_, f64>,
    ) -> Result<Self> {
        let a = Self {
            kind: kind.into(),
            tasks,
            matrix: matrix.rows().into_iter().map(|r| r.to_vec()).collect(),
        };
        a.validate()?;
        Ok(a)
    }

    /// Parse and validate the JSON form.
    ///
    /// # Errors
    /// [`RelateError::Json`] for malformed JSON or missing fields, and the errors of
    /// [`validate`](Self::validate).
    pub fn from_json(text: &str) -> Result<Self> {
        let a: Self = serde_json::from_str(text)?;
        a.validate()?;
        Ok(a)
    }

    /// Read and validate a JSON file.
    ///
    /// # Errors
    /// [`RelateError::Io`] and the errors of [`from_json`](Self::from_json).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| RelateError::Io {
            operation: "reading",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// The JSON form (pretty-printed).
    ///
    /// # Errors
    /// Never for a validated affinity (finite numbers).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Check the shape, the names and the values.
    ///
    /// # Errors
    /// [`RelateError::Empty`], [`RelateError::NotSquare`], [`RelateError::NamesLength`],
    /// [`RelateError::InvalidName`], [`RelateError::NonFinite`].
    pub fn validate(&self) -> Result<()> {
        let n = self.matrix.len();
        if n == 0 {
            return Err(RelateError::Empty);
        }
        for (row, r) in self.matrix.iter().enumerate() {
            if r.len() != n {
                return Err(RelateError::NotSquare {
                    row,
                    expected: n,
                    found: r.len(),
                });
            }
            for (col, &value) in r.iter().enumerate() {
                if !value.is_finite() {
                    return Err(RelateError::NonFinite { row, col, value });
                }
            }
        }
        if self.tasks.len() != n {
            return Err(RelateError::NamesLength {
                expected: n,
                found: self.tasks.len(),
            });
        }
        for (i, name) in self.tasks.iter().enumerate() {
            if name.is_empty() || self.tasks[..i].contains(name) {
                return Err(RelateError::InvalidName { name: name.clone() });
            }
        }
        Ok(())
    }

    /// Check symmetry: `|A_st − A_ts| ≤ 1e-9 · max(1, max |A|)`.
    ///
    /// # Errors
    /// [`RelateError::Asymmetric`] naming the first offending pair.
    pub fn check_symmetric(&self) -> Result<()> {
        let scale = self
            .matrix
            .iter()
            .flatten()
            .fold(1.0f64, |m, v| m.max(v.abs()));
        for (s, row) in self.matrix.iter().enumerate() {
            for (t, &a) in row.iter().enumerate().take(s) {
                let b = self.matrix[t][s];
                if (a - b).abs() > 1e-9 * scale {
                    return Err(RelateError::Asymmetric {
                        row: s,
                        col: t,
                        a,
                        b,
                    });
                }
            }
        }
        Ok(())
    }

    /// The symmetric part `(A + Aᵀ)/2` (kind suffixed with `+sym`).
    pub fn symmetrized(&self) -> Self {
        let a = self.to_array();
        let s = (&a + &a.t()) / 2.0;
        Self {
            kind: format!("{}+sym", self.kind),
            tasks: self.tasks.clone(),
            matrix: s.rows().into_iter().map(|r| r.to_vec()).collect(),
        }
    }

    /// Number of tasks `T`.
    pub fn n_tasks(&self) -> usize {
        self.matrix.len()
    }

    /// The matrix as an array (`T × T`).
    pub fn to_array(&self) -> Array2<f64> {
        let n = self.matrix.len();
        Array2::from_shape_fn((n, n), |(i, j)| {
            self.matrix[i].get(j).copied().unwrap_or(f64::NAN)
        })
    }

    /// The same affinity restricted to and reordered by `names`.
    ///
    /// # Errors
    /// [`RelateError::UnknownTask`] for a name not in the affinity.
    pub fn reorder(&self, names: &[String]) -> Result<Self> {
        let idx: Vec<usize> = names
            .iter()
            .map(|n| {
                self.tasks
                    .iter()
                    .position(|t| t == n)
                    .ok_or_else(|| RelateError::UnknownTask {
                        name: n.clone(),
                        known: self.tasks.join(", "),
                    })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            kind: self.kind.clone(),
            tasks: names.to_vec(),
            matrix: idx
                .iter()
                .map(|&i| idx.iter().map(|&j| self.matrix[i][j]).collect())
                .collect(),
        })
    }
}

/// Default task names `task0, task1, …`.
pub(crate) fn default_names(n: usize) -> Vec<String> {
    (0..n).map(|t| format!("task{t}")).collect()
}

fn check_coef(coef: ArrayView2<'_, f64>) -> Result<()> {
    if coef.ncols() == 0 {
        return Err(RelateError::Empty);
    }
    if coef.nrows() == 0 {
        return Err(mtlkit_core::Error::NoFeatures.into());
    }
    Ok(mtlkit_core::dataset_checks::check_finite(
        "coef", coef, None,
    )?)
}

/// Cosine similarity of the columns of `v` (`m × T`); a zero column has affinity 0 with every
/// other task and 1 with itself.
fn column_cosine(v: ArrayView2<'_, f64>) -> Array2<f64> {
    let nt = v.ncols();
    // each column divided by its largest entry first: no norm under- or overflows (weights
    // near 1e-170 or 1e170)
    let mut u = v.to_owned();
    for mut c in u.columns_mut() {
        let m = c.iter().fold(0.0f64, |a, &x| a.max(x.abs()));
        if m > 0.0 {
            c.mapv_inplace(|x| x / m);
        }
    }
    let norms: Vec<f64> = u.columns().into_iter().map(|c| c.dot(&c).sqrt()).collect();
    Array2::from_shape_fn((nt, nt), |(s, t)| {
        if s == t {
            1.0
        } else if norms[s] > 0.0 && norms[t] > 0.0 {
            (u.column(s).dot(&u.column(t)) / (norms[s] * norms[t])).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    })
}

/// `A_st = w_sᵀ w_t / (‖w_s‖ ‖w_t‖)` for the columns of `coef` (`n_features × n_tasks`, the Rust
/// shape of `W`); a task with all-zero weights has affinity 0 with the others. `tasks` defaults to
/// `task0, task1, …`.
///
/// ```
/// use mtlkit_relate::affinity::weight_cosine;
/// use ndarray::array;
///
/// let w = array![[1.0, 2.0, 0.0], [0.0, 0.0, 1.0]]; // tasks 0 and 1 parallel, 2 orthogonal
/// let a = weight_cosine(w.view(), None)?;
/// assert!((a.matrix[0][1] - 1.0).abs() < 1e-12 && a.matrix[0][2].abs() < 1e-12);
/// # Ok::<(), mtlkit_relate::RelateError>(())
/// ```
///
/// # Errors
/// No task, no feature, a non-finite weight, a wrong number of names.
pub fn weight_cosine(
    coef: ArrayView2<'_, f64>,
    tasks: Option<Vec<String>>,
) -> Result<TaskAffinity> {
    check_coef(coef)?;
    let names = tasks.unwrap_or_else(|| default_names(coef.ncols()));
    TaskAffinity::new("weight-cosine", names, column_cosine(coef).view())
}

/// Pearson correlation of the weight vectors over features (columns of `coef` centred, then
/// their cosine); needs at least 2 features.
///
/// # Errors
/// As [`weight_cosine`], plus fewer than 2 features.
pub fn weight_correlation(
    coef: ArrayView2<'_, f64>,
    tasks: Option<Vec<String>>,
) -> Result<TaskAffinity> {
    check_coef(coef)?;
    if coef.nrows() < 2 {
        return Err(RelateError::InvalidSetting {
            name: "n_features",
            value: coef.nrows().to_string(),
            expected: "at least 2 for a correlation over features",
        });
    }
    let mean = coef.mean_axis(Axis(0)).unwrap_or_default();
    let centred = &coef - &mean;
    let names = tasks.unwrap_or_else(|| default_names(coef.ncols()));
    TaskAffinity::new(
        "weight-correlation",
        names,
        column_cosine(centred.view()).view(),
    )
}

/// A covariance (`T × T`, e.g. MTRL's `Ω` or clustered MTL's `M`) as correlations
/// `C_st / √(C_ss C_tt)`; a task with zero variance has correlation 0 with the others.
///
/// # Errors
/// Not square, non-finite, asymmetric, a negative variance, a wrong number of names.
pub fn covariance_correlation(
    kind: &str,
    cov: ArrayView2<'_, f64>,
    tasks: Option<Vec<String>>,
) -> Result<TaskAffinity> {
    let n = cov.nrows();
    if cov.ncols() != n {
        return Err(RelateError::NotSquare {
            row: 0,
            expected: n,
            found: cov.ncols(),
        });
    }
    mtlkit_core::dataset_checks::check_finite("covariance", cov, None)?;
    if let Some(t) = (0..n).find(|&t| cov[[t, t]] < 0.0) {
        return Err(RelateError::InvalidSetting {
            name: "covariance",
            value: format!("a variance of {:e} (task {t})", cov[[t, t]]),
            expected: "a covariance matrix: non-negative variances on the diagonal",
        });
    }
    let scale = cov.iter().fold(0.0f64, |m, &v| m.max(v.abs()));
    for s in 0..n {
        for t in 0..s {
            let (a, b) = (cov[[s, t]], cov[[t, s]]);
            if (a - b).abs() > 1e-9 * scale {
                return Err(RelateError::Asymmetric {
                    row: s,
                    col: t,
                    a,
                    b,
                });
            }
        }
    }
    // (the square root of each variance first: their product may under- or overflow)
    let sd: Vec<f64> = (0..n).map(|t| cov[[t, t]].sqrt()).collect();
    let c = Array2::from_shape_fn((n, n), |(s, t)| {
        if s == t {
            1.0
        } else if sd[s] > 0.0 && sd[t] > 0.0 {
            (cov[[s, t]] / sd[s] / sd[t]).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    });
    let names = tasks.unwrap_or_else(|| default_names(n));
    TaskAffinity::new(kind, names, c.view())
}

/// GO-MTL basis usage: the cosine of `|S_·s|` and `|S_·t|` for the codes `S` (`k × T`): 1 when
/// two tasks use the same basis vectors in the same proportions, 0 when they share none.
///
/// # Errors
/// As [`weight_cosine`].
pub fn basis_usage(codes: ArrayView2<'_, f64>, tasks: Option<Vec<String>>) -> Result<TaskAffinity> {
    check_coef(codes)?;
    let usage = codes.mapv(f64::abs);
    let names = tasks.unwrap_or_else(|| default_names(codes.ncols()));
    TaskAffinity::new("go-mtl-usage", names, column_cosine(usage.view()).view())
}
