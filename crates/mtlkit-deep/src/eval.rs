//! Evaluation: per-task metrics and the multi-task summaries the field reports — Δm (flat
//! average of the sign-corrected relative change of every metric against single-task
//! models), Δp (the same averaged per task first) and the mean rank of methods.

use ndarray::{ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::task::TaskKind;

/// A metric and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Mean squared error (lower is better).
    Mse,
    /// Mean absolute error (lower is better).
    Mae,
    /// Coefficient of determination `1 − SS_res/SS_tot` (higher is better).
    R2,
    /// Fraction of correct labels (higher is better); multilabel: over all labelled entries.
    Accuracy,
    /// Area under the ROC curve (higher is better; binary tasks, ties counted half).
    Auc,
    /// Mean negative log-likelihood of the labels (lower is better).
    LogLoss,
    /// Macro-averaged F1 over the `K` classes of a multiclass task, `mean_k 2TP/(2TP+FP+FN)`,
    /// a class neither present nor predicted counting 0 (scikit-learn's `f1_score(average=
    /// "macro", labels=range(K), zero_division=0)`; higher is better).
    MacroF1,
}

impl Metric {
    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Self::R2 | Self::Accuracy | Self::Auc | Self::MacroF1)
    }

    /// The metrics reported for a task kind (the first one is the task's main metric, used for
    /// early stopping).
    pub fn for_kind(kind: &TaskKind) -> &'static [Metric] {
        match kind {
            TaskKind::Regression => &[Metric::Mse, Metric::Mae, Metric::R2],
            TaskKind::Binary => &[Metric::Auc, Metric::Accuracy, Metric::LogLoss],
            TaskKind::Multiclass { .. } => &[Metric::Accuracy, Metric::MacroF1, Metric::LogLoss],
            TaskKind::Multilabel { .. } => &[Metric::Accuracy, Metric::LogLoss],
        }
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mse => "mse",
            Self::Mae => "mae",
            Self::R2 => "r2",
            Self::Accuracy => "accuracy",
            Self::Auc => "auc",
            Self::LogLoss => "log-loss",
            Self::MacroF1 => "macro-f1",
        }
    }
}

/// `log(1 + e^z)`, stable.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// The metrics of one task from its head's raw outputs (`rows × output_dim`: values for
/// regression, logits otherwise), targets and mask (`rows × target_dim`). Only labelled
/// entries count. `NaN` where undefined (no labelled entry; AUC with one class only; R² of
/// constant targets).
pub fn task_metrics(
    kind: &TaskKind,
    outputs: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    mask: ArrayView2<'_, f32>,
) -> Vec<(Metric, f64)> {
    let metrics = Metric::for_kind(kind);
    metrics
        .iter()
        .map(|&m| (m, metric_value(m, kind, outputs, y, mask)))
        .collect()
}

fn metric_value(
    m: Metric,
    kind: &TaskKind,
    out: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    mask: ArrayView2<'_, f32>,
) -> f64 {
    // labelled (prediction, target) pairs, per entry (multiclass: per row)
    let labelled = |i: usize, j: usize| mask[[i, j]] > 0.0;
    match kind {
        TaskKind::Regression => {
            let pairs: Vec<(f64, f64)> = (0..y.nrows())
                .filter(|&i| labelled(i, 0))
                .map(|i| (f64::from(out[[i, 0]]), f64::from(y[[i, 0]])))
                .collect();
            if pairs.is_empty() {
                return f64::NAN;
            }
            let n = pairs.len() as f64;
            match m {
                Metric::Mse => pairs.iter().map(|(p, t)| (p - t).powi(2)).sum::<f64>() / n,
                Metric::Mae => pairs.iter().map(|(p, t)| (p - t).abs()).sum::<f64>() / n,
                Metric::R2 => {
                    let mean = pairs.iter().map(|p| p.1).sum::<f64>() / n;
                    let ss_tot: f64 = pairs.iter().map(|p| (p.1 - mean).powi(2)).sum();
                    let ss_res: f64 = pairs.iter().map(|(p, t)| (p - t).powi(2)).sum();
                    if ss_tot > 0.0 {
                        1.0 - ss_res / ss_tot
                    } else {
                        f64::NAN
                    }
                }
                _ => f64::NAN,
            }
        }
        TaskKind::Binary | TaskKind::Multilabel { .. } => {
            let pairs: Vec<(f64, f64)> = (0..y.nrows())
                .flat_map(|i| (0..y.ncols()).map(move |j| (i, j)))
                .filter(|&(i, j)| labelled(i, j))
                .map(|(i, j)| (f64::from(out[[i, j]]), f64::from(y[[i, j]])))
                .collect();
            if pairs.is_empty() {
                return f64::NAN;
            }
            let n = pairs.len() as f64;
            match m {
                Metric::Accuracy => {
                    pairs
                        .iter()
                        .filter(|(z, t)| (*z > 0.0) == (*t > 0.5))
                        .count() as f64
                        / n
                }
                Metric::LogLoss => pairs.iter().map(|(z, t)| softplus(*z) - t * z).sum::<f64>() / n,
                Metric::Auc => auc(&pairs),
                _ => f64::NAN,
            }
        }
        TaskKind::Multiclass { classes } => {
            let rows: Vec<usize> = (0..y.nrows()).filter(|&i| labelled(i, 0)).collect();
            if rows.is_empty() {
                return f64::NAN;
            }
            let n = rows.len() as f64;
            let argmax = |i: usize| {
                out.row(i)
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |b, (k, &v)| if v > b.1 { (k, v) } else { b },
                    )
                    .0
            };
            match m {
                Metric::Accuracy => {
                    rows.iter()
                        .filter(|&&i| argmax(i) as f32 == y[[i, 0]])
                        .count() as f64
                        / n
                }
                Metric::MacroF1 => {
                    // per class: true positives, false positives, false negatives
                    let mut c = vec![[0usize; 3]; *classes];
                    for &i in &rows {
                        let p = argmax(i);
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        let t = y[[i, 0]] as usize;
                        if p == t {
                            c[t][0] += 1;
                        } else {
                            c[p][1] += 1;
                            c[t][2] += 1;
                        }
                    }
                    c.iter()
                        .map(|&[tp, fp, fn_]| {
                            let den = 2 * tp + fp + fn_;
                            if den == 0 {
                                0.0
                            } else {
                                (2 * tp) as f64 / den as f64
                            }
                        })
                        .sum::<f64>()
                        / *classes as f64
                }
                Metric::LogLoss => {
                    rows.iter()
                        .map(|&i| {
                            let row = out.row(i);
                            let mx = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                            let lse = f64::from(mx)
                                + row
                                    .iter()
                                    .map(|&v| f64::from(v - mx).exp())
                                    .sum::<f64>()
                                    .ln();
                            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                            let c = y[[i, 0]] as usize;
                            lse - f64::from(row[c])
                        })
                        .sum::<f64>()
                        / n
                }
                _ => f64::NAN,
            }
        }
    }
}

/// ROC AUC of `(score, label)` pairs (Mann–Whitney, ties counted half); `NaN` with one class.
pub fn auc(pairs: &[(f64, f64)]) -> f64 {
    let mut v: Vec<(f64, bool)> = pairs.iter().map(|&(s, t)| (s, t > 0.5)).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut pos, mut neg) = (0usize, 0usize);
    for &(_, p) in &v {
        if p {
            pos += 1;
        } else {
            neg += 1;
        }
    }
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    // sum of the ranks of the positives (average ranks for ties)
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1].0 == v[i].0 {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg * v[i..=j].iter().filter(|x| x.1).count() as f64;
        i = j + 1;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64
}

/// The sign-corrected relative change of each metric, in percent:
/// `100 · (−1)^{lower-better} · (M − M_single) / M_single`.
fn relative_changes(method: &[f64], single: &[f64], higher: &[bool]) -> Vec<f64> {
    method
        .iter()
        .zip(single)
        .zip(higher)
        .map(|((&m, &b), &h)| {
            let s = if h { 1.0 } else { -1.0 };
            100.0 * s * (m - b) / b.abs()
        })
        .collect()
}

/// Δm (Maninis et al. 2019; Vandenhende et al. 2021): the flat average over all metrics of
/// all tasks of the sign-corrected relative change against the single-task baseline, in
/// percent (positive = better than single-task).
pub fn delta_m(method: &[f64], single: &[f64], higher_is_better: &[bool]) -> f64 {
    let c = relative_changes(method, single, higher_is_better);
    c.iter().sum::<f64>() / c.len().max(1) as f64
}

/// Δp: the relative changes averaged within each task first (`task_of[k]` = task of metric
/// `k`), then across tasks, in percent.
pub fn delta_p(
    method: &[f64],
    single: &[f64],
    higher_is_better: &[bool],
    task_of: &[usize],
) -> f64 {
    let c = relative_changes(method, single, higher_is_better);
    let n_tasks = task_of.iter().copied().max().map_or(0, |m| m + 1);
    let mut sums = vec![0.0; n_tasks];
    let mut counts = vec![0usize; n_tasks];
    for (&v, &t) in c.iter().zip(task_of) {
        sums[t] += v;
        counts[t] += 1;
    }
    let per: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .filter(|(_, k)| **k > 0)
        .map(|(s, &k)| s / k as f64)
        .collect();
    per.iter().sum::<f64>() / per.len().max(1) as f64
}

/// Mean rank of each method (rows of `table`, metrics in columns): each metric ranks the
/// methods (1 = best; ties share the average rank), and the ranks are averaged over metrics.
pub fn mean_rank(table: ArrayView2<'_, f64>, higher_is_better: &[bool]) -> Vec<f64> {
    let (methods, metrics) = table.dim();
    let mut ranks = vec![0.0; methods];
    for (k, col) in table.axis_iter(Axis(1)).enumerate() {
        for i in 0..methods {
            let better = (0..methods)
                .filter(|&j| {
                    if higher_is_better[k] {
                        col[j] > col[i]
                    } else {
                        col[j] < col[i]
                    }
                })
                .count();
            let ties = (0..methods).filter(|&j| col[j] == col[i]).count();
            ranks[i] += better as f64 + (ties as f64 + 1.0) / 2.0;
        }
    }
    ranks.iter().map(|r| r / metrics.max(1) as f64).collect()
}

/// Mean and sample standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    let s = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, s)
}
