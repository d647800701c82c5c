//! The multi-task data model.
//!
//! A [`MultiTaskDataset`] holds `T` tasks over the same `n_features` features, in one of two
//! [`Layout`]s:
//!
//! - **Shared**: one design `X` (`n_samples × n_features`) for all tasks and a target matrix `Y`
//!   (`n_samples × n_tasks`); column `t` of `Y` is task `t`'s target. Solvers can then use matrix
//!   products over all tasks at once.
//! - **Per task**: one `(X_t, y_t)` per task, `X_t` of shape `n_t × n_features`, with `n_t` free
//!   per task (the general multi-task setting).
//!
//! Construction validates everything a solver relies on, and returns a typed [`Error`]
//! naming the task: shapes, non-finite values, empty tasks, zero features, feature-count mismatch.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::{Error, Result};

/// Index of a task in a [`MultiTaskDataset`] (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub usize);

/// One task's own data in the per-task layout.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskData {
    x: Array2<f64>,
    y: Array1<f64>,
}

impl TaskData {
    /// The task's design, `n_t × n_features`.
    pub fn x(&self) -> ArrayView2<'_, f64> {
        self.x.view()
    }
    /// The task's target, length `n_t`.
    pub fn y(&self) -> ArrayView1<'_, f64> {
        self.y.view()
    }
}

/// How the samples of a [`MultiTaskDataset`] are stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// One design shared by all tasks and a target matrix with one column per task.
    Shared {
        /// Design, `n_samples × n_features`.
        x: Array2<f64>,
        /// Targets, `n_samples × n_tasks`.
        y: Array2<f64>,
    },
    /// One design and target per task.
    PerTask(Vec<TaskData>),
}

impl Layout {
    /// A short name for messages: `"a shared design"` or `"one design per task"`.
    pub fn describe(&self) -> &'static str {
        match self {
            Layout::Shared { .. } => "a shared design",
            Layout::PerTask(_) => "one design per task",
        }
    }
}

/// A validated multi-task dataset with task and feature names.
///
/// Names default to `task0, task1, …` and `x0, x1, …` (scikit-learn's feature-name convention).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiTaskDataset {
    layout: Layout,
    task_names: Vec<String>,
    feature_names: Vec<String>,
    sample_weight: Option<Array1<f64>>,
}

impl MultiTaskDataset {
    /// A dataset with one design `x` (`n_samples × n_features`) shared by all tasks and targets
    /// `y` (`n_samples × n_tasks`).
    ///
    /// **Missing targets**: a NaN in `y[i, t]` means task `t` has no label for sample `i`; the
    /// sample is left out of that task's loss only (estimators then fit the general per-task
    /// formulation). Infinite targets are still errors, and so is a task with no label at all.
    ///
    /// # Errors
    /// [`Error::NoTasks`] (`y` has no column), [`Error::NoSamples`], [`Error::NoFeatures`],
    /// [`Error::ShapeMismatch`] (rows of `y` ≠ rows of `x`), [`Error::NonFinite`] (any
    /// non-finite `x`, an infinite `y`), [`Error::NoLabels`] (a column of `y` all NaN).
    pub fn shared(x: Array2<f64>, y: Array2<f64>) -> Result<Self> {
        if y.ncols() == 0 {
            return Err(Error::NoTasks);
        }
        check_design(x.view(), None)?;
        if y.nrows() != x.nrows() {
            return Err(Error::ShapeMismatch {
                what: "rows of Y vs rows of X",
                task: None,
                expected: x.nrows(),
                found: y.nrows(),
            });
        }
        for ((row, col), &value) in y.indexed_iter() {
            if value.is_infinite() {
                return Err(Error::NonFinite {
                    array: "Y",
                    task: None,
                    row,
                    col,
                    value,
                });
            }
        }
        let (d, t) = (x.ncols(), y.ncols());
        let task_names = default_names("task", t);
        for (col, name) in y.columns().into_iter().zip(&task_names) {
            if col.iter().all(|v| v.is_nan()) {
                return Err(Error::NoLabels { task: name.clone() });
            }
        }
        Ok(Self {
            layout: Layout::Shared { x, y },
            task_names,
            feature_names: default_names("x", d),
            sample_weight: None,
        })
    }

    /// A dataset with one `(X_t, y_t)` per task; `n_t` may differ between tasks, the number of
    /// features may not.
    ///
    /// # Errors
    /// [`Error::NoTasks`], [`Error::NoSamples`] naming an empty task, [`Error::NoFeatures`],
    /// [`Error::FeatureCountMismatch`], [`Error::ShapeMismatch`] naming the task, [`Error::NonFinite`].
    pub fn per_task(tasks: Vec<(Array2<f64>, Array1<f64>)>) -> Result<Self> {
        let Some(first) = tasks.first() else {
            return Err(Error::NoTasks);
        };
        let d = first.0.ncols();
        let names = default_names("task", tasks.len());
        let mut out = Vec::with_capacity(tasks.len());
        for ((x, y), name) in tasks.into_iter().zip(&names) {
            check_design(x.view(), Some(name))?;
            if x.ncols() != d {
                return Err(Error::FeatureCountMismatch {
                    task: name.clone(),
                    expected: d,
                    found: x.ncols(),
                });
            }
            if y.len() != x.nrows() {
                return Err(Error::ShapeMismatch {
                    what: "length of y vs rows of X",
                    task: Some(name.clone()),
                    expected: x.nrows(),
                    found: y.len(),
                });
            }
            check_finite("y", y.view().insert_axis(Axis(1)), Some(name))?;
            out.push(TaskData { x, y });
        }
        Ok(Self {
            layout: Layout::PerTask(out),
            task_names: names,
            feature_names: default_names("x", d),
            sample_weight: None,
        })
    }

    /// Replace the task names (one per task, non-empty, unique).
    ///
    /// # Errors
    /// [`Error::NamesLength`], [`Error::InvalidName`].
    pub fn with_task_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self> {
        self.task_names = check_names("task names", names, self.n_tasks())?;
        Ok(self)
    }

    /// Replace the feature names (one per feature, non-empty, unique).
    ///
    /// # Errors
    /// [`Error::NamesLength`], [`Error::InvalidName`].
    pub fn with_feature_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self> {
        self.feature_names = check_names("feature names", names, self.n_features())?;
        Ok(self)
    }

    /// Attach one weight per sample (shared layout): finite, `>= 0`, not all zero.
    ///
    /// Estimators follow scikit-learn 1.9: the weights are rescaled to sum to `n_samples`, so
    /// an integer weight is equivalent to repeating the row.
    ///
    /// # Errors
    /// [`Error::WrongLayout`] for a per-task dataset, [`Error::ShapeMismatch`] for a length other
    /// than `n_samples`, [`Error::InvalidParameter`] for a negative, non-finite or all-zero weight.
    pub fn with_sample_weight(mut self, w: Array1<f64>) -> Result<Self> {
        let n = match &self.layout {
            Layout::Shared { x, .. } => x.nrows(),
            Layout::PerTask(_) => {
                return Err(Error::WrongLayout {
                    operation: "sample_weight",
                    expected: "a shared design",
                    found: self.layout.describe(),
                });
            }
        };
        check_sample_weight(w.view(), n)?;
        self.sample_weight = Some(w);
        Ok(self)
    }

    /// The sample weights, if any (as given, not rescaled).
    pub fn sample_weight(&self) -> Option<&Array1<f64>> {
        self.sample_weight.as_ref()
    }

    /// The storage layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// `(X, Y)` when the layout is shared.
    pub fn as_shared(&self) -> Option<(ArrayView2<'_, f64>, ArrayView2<'_, f64>)> {
        match &self.layout {
            Layout::Shared { x, y } => Some((x.view(), y.view())),
            Layout::PerTask(_) => None,
        }
    }

    /// `(X, Y)` when the layout is shared, else [`Error::WrongLayout`] naming `operation`.
    ///
    /// # Errors
    /// [`Error::WrongLayout`] for a per-task dataset.
    pub fn require_shared(
        &self,
        operation: &'static str,
    ) -> Result<(ArrayView2<'_, f64>, ArrayView2<'_, f64>)> {
        self.as_shared().ok_or(Error::WrongLayout {
            operation,
            expected: "a shared design (one X, Y with one column per task)",
            found: self.layout.describe(),
        })
    }

    /// Whether some target is missing (NaN in the shared layout's `Y`).
    pub fn has_missing_targets(&self) -> bool {
        match &self.layout {
            Layout::Shared { y, .. } => y.iter().any(|v| v.is_nan()),
            Layout::PerTask(_) => false,
        }
    }

    /// Number of tasks `T`.
    pub fn n_tasks(&self) -> usize {
        match &self.layout {
            Layout::Shared { y, .. } => y.ncols(),
            Layout::PerTask(t) => t.len(),
        }
    }

    /// Number of features `d`.
    pub fn n_features(&self) -> usize {
        match &self.layout {
            Layout::Shared { x, .. } => x.ncols(),
            Layout::PerTask(t) => t.first().map_or(0, |t| t.x.ncols()),
        }
    }

    /// Number of samples of `task` (`n` for every task in the shared layout).
    ///
    /// # Panics
    /// If `task` is out of range (a programming error, not user input).
    pub fn n_samples(&self, task: TaskId) -> usize {
        match &self.layout {
            Layout::Shared { x, .. } => x.nrows(),
            Layout::PerTask(t) => t[task.0].x.nrows(),
        }
    }

    /// `(X_t, y_t)` of one task, whatever the layout.
    ///
    /// # Panics
    /// If `task` is out of range (a programming error, not user input).
    pub fn task(&self, task: TaskId) -> (ArrayView2<'_, f64>, ArrayView1<'_, f64>) {
        match &self.layout {
            Layout::Shared { x, y } => (x.view(), y.column(task.0)),
            Layout::PerTask(t) => (t[task.0].x.view(), t[task.0].y.view()),
        }
    }

    /// Task names, one per task.
    pub fn task_names(&self) -> &[String] {
        &self.task_names
    }

    /// Feature names, one per feature.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// A dataset holding only `tasks` (in that order), with their names.
    ///
    /// # Errors
    /// [`Error::NoTasks`] for an empty selection, [`Error::InvalidParameter`] for an index out of
    /// range.
    pub fn select_tasks(&self, tasks: &[TaskId]) -> Result<Self> {
        if tasks.is_empty() {
            return Err(Error::NoTasks);
        }
        if let Some(bad) = tasks.iter().find(|t| t.0 >= self.n_tasks()) {
            return Err(Error::InvalidParameter {
                name: "task",
                value: bad.0.to_string(),
                expected: "a task index below n_tasks",
            });
        }
        let idx: Vec<usize> = tasks.iter().map(|t| t.0).collect();
        let layout = match &self.layout {
            Layout::Shared { x, y } => Layout::Shared {
                x: x.clone(),
                y: y.select(Axis(1), &idx),
            },
            Layout::PerTask(t) => Layout::PerTask(idx.iter().map(|&i| t[i].clone()).collect()),
        };
        Ok(Self {
            layout,
            task_names: idx.iter().map(|&i| self.task_names[i].clone()).collect(),
            feature_names: self.feature_names.clone(),
            sample_weight: self.sample_weight.clone(),
        })
    }

    /// A dataset over row subsets: one list of rows for the shared layout, one per task
    /// otherwise (names and sample weights follow).
    ///
    /// # Panics
    /// If an index is out of range or the number of lists does not match the layout (callers
    /// build the lists from the data, e.g. [`crate::split::k_fold`]).
    pub fn take_rows(&self, rows: &[Vec<usize>]) -> Self {
        let layout = match &self.layout {
            Layout::Shared { x, y } => Layout::Shared {
                x: x.select(Axis(0), &rows[0]),
                y: y.select(Axis(0), &rows[0]),
            },
            Layout::PerTask(t) => Layout::PerTask(
                t.iter()
                    .zip(rows)
                    .map(|(t, r)| TaskData {
                        x: t.x.select(Axis(0), r),
                        y: t.y.select(Axis(0), r),
                    })
                    .collect(),
            ),
        };
        Self {
            layout,
            task_names: self.task_names.clone(),
            feature_names: self.feature_names.clone(),
            sample_weight: self
                .sample_weight
                .as_ref()
                .map(|w| w.select(Axis(0), &rows[0])),
        }
    }
}

/// Check sample weights for `n` rows: length `n`, finite, `>= 0`, not all zero.
///
/// # Errors
/// [`Error::ShapeMismatch`] for a length other than `n`, [`Error::InvalidParameter`] for a
/// negative, non-finite or all-zero weight, or weights whose sum overflows.
pub fn check_sample_weight(w: ArrayView1<'_, f64>, n: usize) -> Result<()> {
    if w.len() != n {
        return Err(Error::ShapeMismatch {
            what: "length of sample_weight vs rows of X",
            task: None,
            expected: n,
            found: w.len(),
        });
    }
    if let Some(&bad) = w.iter().find(|v| !v.is_finite() || **v < 0.0) {
        return Err(Error::InvalidParameter {
            name: "sample_weight",
            value: bad.to_string(),
            expected: "finite weights >= 0",
        });
    }
    let sum = w.sum();
    if sum <= 0.0 {
        return Err(Error::InvalidParameter {
            name: "sample_weight",
            value: "all zero".into(),
            expected: "at least one positive weight",
        });
    }
    // the weights are rescaled to sum to `n`: a sum that overflows would rescale every weight
    // to zero (and fit the zero model without a word)
    if !sum.is_finite() {
        return Err(Error::InvalidParameter {
            name: "sample_weight",
            value: "weights whose sum overflows".into(),
            expected: "a finite sum (only their ratios matter: divide them by their largest)",
        });
    }
    Ok(())
}

/// Check a design: at least one row and one column, all values finite.
///
/// # Errors
/// [`Error::NoSamples`], [`Error::NoFeatures`], [`Error::NonFinite`].
pub fn check_design(x: ArrayView2<'_, f64>, task: Option<&String>) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::NoSamples {
            task: task.cloned(),
        });
    }
    if x.ncols() == 0 {
        return Err(Error::NoFeatures);
    }
    check_finite("X", x, task)
}

/// Check that every value of `a` is finite.
///
/// # Errors
/// [`Error::NonFinite`] with the first offending position.
pub fn check_finite(
    array: &'static str,
    a: ArrayView2<'_, f64>,
    task: Option<&String>,
) -> Result<()> {
    for ((row, col), &value) in a.indexed_iter() {
        if !value.is_finite() {
            return Err(Error::NonFinite {
                array,
                task: task.cloned(),
                row,
                col,
                value,
            });
        }
    }
    Ok(())
}

fn default_names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn check_names<S: Into<String>>(
    what: &'static str,
    names: impl IntoIterator<Item = S>,
    expected: usize,
) -> Result<Vec<String>> {
    let names: Vec<String> = names.into_iter().map(Into::into).collect();
    if names.len() != expected {
        return Err(Error::NamesLength {
            what,
            expected,
            found: names.len(),
        });
    }
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        if n.trim().is_empty() || !seen.insert(n.as_str()) {
            return Err(Error::InvalidName {
                what,
                name: n.clone(),
            });
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2, array};

    #[test]
    fn shared_validates_shapes_and_values() {
        let x = Array2::<f64>::zeros((3, 2));
        assert!(matches!(
            MultiTaskDataset::shared(x.clone(), Array2::zeros((4, 2))),
            Err(Error::ShapeMismatch {
                expected: 3,
                found: 4,
                ..
            })
        ));
        assert!(matches!(
            MultiTaskDataset::shared(x.clone(), Array2::zeros((3, 0))),
            Err(Error::NoTasks)
        ));
        assert!(matches!(
            MultiTaskDataset::shared(Array2::zeros((0, 2)), Array2::zeros((0, 1))),
            Err(Error::NoSamples { task: None })
        ));
        assert!(matches!(
            MultiTaskDataset::shared(Array2::zeros((3, 0)), Array2::zeros((3, 1))),
            Err(Error::NoFeatures)
        ));
        let mut xn = x.clone();
        xn[[2, 1]] = f64::NAN;
        assert!(matches!(
            MultiTaskDataset::shared(xn, Array2::zeros((3, 1))),
            Err(Error::NonFinite {
                array: "X",
                row: 2,
                col: 1,
                ..
            })
        ));
        let mut yi = Array2::zeros((3, 2));
        yi[[0, 1]] = f64::INFINITY;
        assert!(matches!(
            MultiTaskDataset::shared(x, yi),
            Err(Error::NonFinite {
                array: "Y",
                row: 0,
                col: 1,
                ..
            })
        ));
    }

    #[test]
    fn per_task_names_the_task() {
        let ok = (Array2::<f64>::zeros((3, 2)), Array1::<f64>::zeros(3));
        let err =
            MultiTaskDataset::per_task(vec![ok.clone(), (Array2::zeros((2, 3)), Array1::zeros(2))])
                .unwrap_err();
        assert!(
            matches!(&err, Error::FeatureCountMismatch { task, expected: 2, found: 3 } if task == "task1")
        );
        let err =
            MultiTaskDataset::per_task(vec![ok.clone(), (Array2::zeros((2, 2)), Array1::zeros(5))])
                .unwrap_err();
        assert!(err.to_string().contains("task 'task1'"), "{err}");
        let err =
            MultiTaskDataset::per_task(vec![ok.clone(), (Array2::zeros((0, 2)), Array1::zeros(0))])
                .unwrap_err();
        assert!(matches!(&err, Error::NoSamples { task: Some(t) } if t == "task1"));
        assert!(matches!(
            MultiTaskDataset::per_task(vec![]),
            Err(Error::NoTasks)
        ));
        let mut y = Array1::zeros(3);
        y[1] = f64::NAN;
        let err = MultiTaskDataset::per_task(vec![ok, (Array2::zeros((3, 2)), y)]).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFinite {
                array: "y",
                row: 1,
                ..
            }
        ));
    }

    #[test]
    fn names_are_checked() {
        let d = MultiTaskDataset::shared(array![[1.0, 2.0]], array![[1.0, 2.0]]).unwrap();
        assert_eq!(d.task_names(), ["task0", "task1"]);
        assert_eq!(d.feature_names(), ["x0", "x1"]);
        assert!(d.clone().with_task_names(["a"]).is_err());
        assert!(d.clone().with_task_names(["a", "a"]).is_err());
        assert!(d.clone().with_feature_names(["a", ""]).is_err());
        let d = d.with_task_names(["motor", "total"]).unwrap();
        assert_eq!(d.task_names(), ["motor", "total"]);
    }

    #[test]
    fn sample_weight_is_checked_and_follows_splits() {
        let d = MultiTaskDataset::shared(Array2::zeros((4, 2)), Array2::zeros((4, 1))).unwrap();
        assert!(d.clone().with_sample_weight(Array1::ones(3)).is_err());
        assert!(
            d.clone()
                .with_sample_weight(array![1.0, -1.0, 1.0, 1.0])
                .is_err()
        );
        assert!(
            d.clone()
                .with_sample_weight(array![1.0, f64::NAN, 1.0, 1.0])
                .is_err()
        );
        assert!(d.clone().with_sample_weight(Array1::zeros(4)).is_err());
        // each finite, their sum not: refused (rescaling to sum to n would zero them all)
        let err = d
            .clone()
            .with_sample_weight(Array1::from_elem(4, 1e308))
            .unwrap_err();
        assert!(err.to_string().contains("overflows"), "{err}");
        assert!(
            d.clone()
                .with_sample_weight(Array1::from_elem(4, 1e306))
                .is_ok()
        );
        let w = d.with_sample_weight(array![1.0, 2.0, 3.0, 4.0]).unwrap();
        let sub = w.take_rows(&[vec![1, 3]]);
        assert_eq!(sub.sample_weight(), Some(&array![2.0, 4.0]));
        let pt =
            MultiTaskDataset::per_task(vec![(Array2::zeros((2, 1)), Array1::zeros(2))]).unwrap();
        assert!(matches!(
            pt.with_sample_weight(Array1::ones(2)),
            Err(Error::WrongLayout { .. })
        ));
    }

    #[test]
    fn select_tasks_keeps_names() {
        let d = MultiTaskDataset::shared(
            array![[1.0], [2.0]],
            array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        )
        .unwrap()
        .with_task_names(["a", "b", "c"])
        .unwrap();
        let s = d.select_tasks(&[TaskId(2), TaskId(0)]).unwrap();
        assert_eq!(s.task_names(), ["c", "a"]);
        assert_eq!(s.as_shared().unwrap().1, array![[3.0, 1.0], [6.0, 4.0]]);
        assert!(d.select_tasks(&[TaskId(3)]).is_err());
    }
}
