//! Train/test splits **within each task**.
//!
//! Every task keeps samples on both sides, so a per-task score exists for every task. In the
//! shared layout all tasks share their rows, so one row split serves every task; in the per-task
//! layout each task's rows are split on their own.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::{Error, Layout, MultiTaskDataset, Result, param};

/// The units a split works on, with their sizes: all rows (shared layout, named "all tasks") or
/// each task's rows.
fn unit_sizes(data: &MultiTaskDataset) -> Vec<(String, usize)> {
    match data.layout() {
        Layout::Shared { x, .. } => vec![("all tasks".to_string(), x.nrows())],
        Layout::PerTask(t) => data
            .task_names()
            .iter()
            .cloned()
            .zip(t.iter().map(|t| t.x().nrows()))
            .collect(),
    }
}

/// Split `data` into `(train, test)` with a fraction `test_size` of each task's samples in the
/// test part (rounded up, as scikit-learn's `train_test_split`), shuffled with `seed`.
///
/// The same `seed` gives the same split.
///
/// # Errors
/// [`Error::InvalidParameter`] when `test_size` is not in `(0, 1)`; [`Error::TooFewSamples`]
/// naming a task with fewer than 2 samples.
pub fn train_test_split(
    data: &MultiTaskDataset,
    test_size: f64,
    seed: u64,
) -> Result<(MultiTaskDataset, MultiTaskDataset)> {
    param::open_unit_interval("test_size", test_size)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let sizes = unit_sizes(data);
    let mut train = Vec::with_capacity(sizes.len());
    let mut test = Vec::with_capacity(sizes.len());
    for (task, n) in sizes {
        if n < 2 {
            return Err(Error::TooFewSamples {
                task,
                operation: "a train/test split",
                needed: 2,
                found: n,
            });
        }
        let n_test = ((test_size * n as f64).ceil() as usize).clamp(1, n - 1);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut rng);
        let mut te = idx[..n_test].to_vec();
        let mut tr = idx[n_test..].to_vec();
        te.sort_unstable();
        tr.sort_unstable();
        train.push(tr);
        test.push(te);
    }
    Ok((data.take_rows(&train), data.take_rows(&test)))
}

/// The test rows of each of `n_splits` folds over `n` samples, as scikit-learn's `KFold`:
/// consecutive chunks of `0..n` (shuffled first with `seed` when given), the first `n % n_splits`
/// chunks one longer.
pub fn k_fold_indices(n: usize, n_splits: usize, seed: Option<u64>) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..n).collect();
    if let Some(s) = seed {
        idx.shuffle(&mut StdRng::seed_from_u64(s));
    }
    let k = n_splits.max(1);
    let mut out = Vec::with_capacity(k);
    let mut start = 0;
    for f in 0..k {
        let size = n / k + usize::from(f < n % k);
        let mut test = idx[start..start + size].to_vec();
        test.sort_unstable();
        out.push(test);
        start += size;
    }
    out
}

/// K-fold cross-validation splits **within each task**: `(train, test)` per fold, every task on
/// both sides of every fold. In the shared layout the rows are split (scikit-learn's `KFold`);
/// in the per-task layout each task's rows are split on their own. `seed` shuffles before
/// splitting; `None` keeps the order (scikit-learn's default).
///
/// # Errors
/// [`Error::InvalidParameter`] for `n_splits < 2`; [`Error::TooFewSamples`] naming a task with
/// fewer samples than folds.
pub fn k_fold(
    data: &MultiTaskDataset,
    n_splits: usize,
    seed: Option<u64>,
) -> Result<Vec<(MultiTaskDataset, MultiTaskDataset)>> {
    if n_splits < 2 {
        return Err(Error::InvalidParameter {
            name: "n_splits",
            value: n_splits.to_string(),
            expected: "at least 2 folds",
        });
    }
    let sizes = unit_sizes(data);
    let mut per_unit: Vec<Vec<Vec<usize>>> = Vec::with_capacity(sizes.len());
    for (i, (task, n)) in sizes.iter().enumerate() {
        if *n < n_splits {
            return Err(Error::TooFewSamples {
                task: task.clone(),
                operation: "k-fold cross-validation",
                needed: n_splits,
                found: *n,
            });
        }
        per_unit.push(k_fold_indices(
            *n,
            n_splits,
            seed.map(|s| s.wrapping_add(i as u64)),
        ));
    }
    Ok((0..n_splits)
        .map(|f| {
            let test: Vec<Vec<usize>> = per_unit.iter().map(|u| u[f].clone()).collect();
            let train: Vec<Vec<usize>> = per_unit
                .iter()
                .zip(&sizes)
                .map(|(u, (_, n))| (0..*n).filter(|i| u[f].binary_search(i).is_err()).collect())
                .collect();
            (data.take_rows(&train), data.take_rows(&test))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaskId;
    use ndarray::{Array1, Array2};

    fn per_task(sizes: &[usize]) -> MultiTaskDataset {
        MultiTaskDataset::per_task(
            sizes
                .iter()
                .map(|&n| {
                    let x = Array2::from_shape_fn((n, 2), |(i, j)| (i * 2 + j) as f64);
                    let y = Array1::from_shape_fn(n, |i| i as f64);
                    (x, y)
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn splits_within_each_task_and_is_seeded() {
        let d = per_task(&[10, 3, 101]);
        let (tr, te) = train_test_split(&d, 0.25, 7).unwrap();
        for (t, n) in [(0, 10), (1, 3), (2, 101)] {
            let (ntr, nte) = (tr.n_samples(TaskId(t)), te.n_samples(TaskId(t)));
            assert_eq!(ntr + nte, n);
            assert_eq!(nte, ((0.25 * n as f64).ceil() as usize).clamp(1, n - 1));
            // train and test rows are disjoint and cover the task: y holds the row index
            let mut all: Vec<f64> = tr
                .task(TaskId(t))
                .1
                .iter()
                .chain(te.task(TaskId(t)).1.iter())
                .copied()
                .collect();
            all.sort_by(f64::total_cmp);
            assert_eq!(all, (0..n).map(|i| i as f64).collect::<Vec<_>>());
        }
        let (tr2, _) = train_test_split(&d, 0.25, 7).unwrap();
        assert_eq!(tr, tr2);
        let (tr3, _) = train_test_split(&d, 0.25, 8).unwrap();
        assert_ne!(tr, tr3);
    }

    #[test]
    fn rejects_bad_input() {
        let d = per_task(&[10, 1]);
        assert!(
            matches!(train_test_split(&d, 0.2, 0), Err(Error::TooFewSamples { task, .. }) if task == "task1")
        );
        let d = per_task(&[10]);
        assert!(train_test_split(&d, 0.0, 0).is_err());
        assert!(train_test_split(&d, f64::NAN, 0).is_err());
    }

    #[test]
    fn k_fold_matches_sklearn_sizes_and_covers_every_row_once() {
        // scikit-learn's KFold(3) on 10 rows: test folds [0..4), [4..7), [7..10)
        let f = k_fold_indices(10, 3, None);
        assert_eq!(f, vec![vec![0, 1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]]);
        let g = k_fold_indices(11, 4, Some(7));
        let mut all: Vec<usize> = g.concat();
        all.sort_unstable();
        assert_eq!(all, (0..11).collect::<Vec<_>>());
        assert_eq!(g, k_fold_indices(11, 4, Some(7)));
    }
}
