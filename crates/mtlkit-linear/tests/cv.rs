//! Cross-validated estimators against scikit-learn 1.9's MultiTaskLassoCV / MultiTaskElasticNetCV
//! (fixtures from `scripts/gen_cv_fixtures.py`, folds given explicitly), and the grid's
//! defining properties.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::path::PathBuf;

use mtlkit_core::{Fit, MultiTaskDataset};
use mtlkit_linear::cv::{Folds, MultiTaskElasticNetCV, MultiTaskLassoCV, alpha_grid};
use mtlkit_linear::{Loss, MultiTaskElasticNet, MultiTaskLasso};
use ndarray::{Array1, Array2, Array3};
use ndarray_npy::NpzReader;

struct Fixture {
    name: String,
    x: Array2<f64>,
    y: Array2<f64>,
    fold_id: Array1<i64>,
    l1_ratios: Array1<f64>,
    fit_intercept: bool,
    alphas: Array2<f64>,
    mse_path: Array3<f64>,
    alpha: f64,
    l1_ratio: f64,
    coef: Array2<f64>,
    intercept: Array1<f64>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cv");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let mut z = NpzReader::new(File::open(&p).unwrap()).unwrap();
            let scalar = |z: &mut NpzReader<File>, k: &str| -> f64 {
                z.by_name::<ndarray::OwnedRepr<f64>, ndarray::Ix0>(k)
                    .unwrap()
                    .into_scalar()
            };
            Fixture {
                name: p.file_stem().unwrap().to_string_lossy().into_owned(),
                x: z.by_name("X").unwrap(),
                y: z.by_name("Y").unwrap(),
                fold_id: z.by_name("fold_id").unwrap(),
                l1_ratios: z.by_name("l1_ratios").unwrap(),
                fit_intercept: scalar(&mut z, "fit_intercept") != 0.0,
                alphas: z.by_name("alphas").unwrap(),
                mse_path: z.by_name("mse_path").unwrap(),
                alpha: scalar(&mut z, "alpha"),
                l1_ratio: scalar(&mut z, "l1_ratio"),
                coef: z.by_name("coef").unwrap(),
                intercept: z.by_name("intercept").unwrap(),
            }
        })
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn cv_estimators_reproduce_sklearn() {
    let fx = fixtures();
    assert!(fx.len() >= 5);
    for f in fx {
        let data = MultiTaskDataset::shared(f.x.clone(), f.y.clone()).unwrap();
        let k = (f.fold_id.iter().max().unwrap() + 1) as usize;
        let folds = Folds::Explicit(
            (0..k)
                .map(|fold| {
                    (0..f.x.nrows())
                        .filter(|&i| f.fold_id[i] as usize == fold)
                        .collect()
                })
                .collect(),
        );
        let res = if f.l1_ratios.len() == 1 && f.l1_ratios[0] == 1.0 && f.name.starts_with("lasso")
        {
            let base = MultiTaskLasso::new(1.0)
                .fit_intercept(f.fit_intercept)
                .tol(1e-12)
                .max_iter(1_000_000)
                .check()
                .unwrap();
            MultiTaskLassoCV::new(base)
                .n_alphas(20)
                .folds(folds)
                .fit(&data)
                .unwrap()
        } else {
            let base = MultiTaskElasticNet::new(1.0, 0.5)
                .fit_intercept(f.fit_intercept)
                .tol(1e-12)
                .max_iter(1_000_000)
                .check()
                .unwrap();
            MultiTaskElasticNetCV::new(base, f.l1_ratios.to_vec())
                .n_alphas(20)
                .folds(folds)
                .fit(&data)
                .unwrap()
        };
        assert_eq!(res.alphas.dim(), f.alphas.dim(), "{}", f.name);
        for (a, b) in res.alphas.iter().zip(f.alphas.iter()) {
            assert!(rel(*a, *b) < 1e-10, "{}: alphas {a} vs {b}", f.name);
        }
        assert_eq!(res.mse_path.dim(), f.mse_path.dim(), "{}", f.name);
        let worst = res
            .mse_path
            .iter()
            .zip(f.mse_path.iter())
            .map(|(a, b)| rel(*a, *b))
            .fold(0.0f64, f64::max);
        assert!(
            worst < 1e-6,
            "{}: mse_path relative error {worst:e}",
            f.name
        );
        assert!(
            rel(res.alpha, f.alpha) < 1e-12,
            "{}: alpha_ {} vs {}",
            f.name,
            res.alpha,
            f.alpha
        );
        assert_eq!(res.l1_ratio, f.l1_ratio, "{}", f.name);
        let m = &res.model;
        let dc =
            (&m.coef() - &f.coef).mapv(f64::abs).sum() / f.coef.mapv(f64::abs).sum().max(1e-300);
        assert!(dc < 1e-6, "{}: coef {dc:e}", f.name);
        let di = (m.intercept() - &f.intercept).mapv(f64::abs).sum();
        assert!(
            di < 1e-6 * (1.0 + f.intercept.mapv(f64::abs).sum()),
            "{}",
            f.name
        );
        eprintln!(
            "{}: mse_path max relative error {worst:.1e}, alpha_ {}",
            f.name, res.alpha
        );
    }
}

#[test]
fn the_grid_starts_at_alpha_max_where_every_coefficient_is_zero() {
    let g = alpha_grid(2.0, 1e-3, 5).unwrap();
    assert_eq!(g.len(), 5);
    assert!((g[0] - 2.0).abs() < 1e-15 && (g[4] - 2e-3).abs() < 1e-15);
    assert!(
        g.windows(2)
            .all(|w| (w[0] / w[1] - 10f64.powf(0.75)).abs() < 1e-12)
    );
    // squared, logistic and mixed losses, per-task layout: alpha_max gives W = 0, and just below
    // it some row is non-zero
    let x1 = Array2::from_shape_fn((30, 4), |(i, j)| ((i * 7 + j * 5) % 13) as f64 - 6.0);
    let y1 = Array1::from_shape_fn(30, |i| x1[[i, 0]] - 0.5 * x1[[i, 2]]);
    let y2 = Array1::from_shape_fn(30, |i| {
        if x1[[i, 1]] + x1[[i, 3]] > 0.0 {
            1.0
        } else {
            0.0
        }
    });
    let y3 = Array1::from_shape_fn(30, |i| if x1[[i, 0]] > x1[[i, 2]] { 1.0 } else { 0.0 });
    let y4 = Array1::from_shape_fn(30, |i| x1[[i, 3]] + 0.1 * (i % 4) as f64);
    let tasks = |a: &Array1<f64>, b: &Array1<f64>| {
        MultiTaskDataset::per_task(vec![(x1.clone(), a.clone()), (x1.clone(), b.clone())]).unwrap()
    };
    for (losses, data) in [
        ([Loss::Squared, Loss::Squared], tasks(&y1, &y4)),
        ([Loss::Logistic, Loss::Logistic], tasks(&y2, &y3)),
        ([Loss::Squared, Loss::Logistic], tasks(&y1, &y2)),
    ] {
        let base = MultiTaskLasso::new(1.0)
            .task_losses(losses)
            .tol(1e-10)
            .max_iter(100_000);
        let amax = base.check().unwrap().alpha_max(&data).unwrap();
        let path = base
            .check()
            .unwrap()
            .path(&data, &[amax, 0.9 * amax])
            .unwrap();
        assert!(path[0].coef().iter().all(|&v| v == 0.0), "{losses:?}");
        assert!(path[1].coef().iter().any(|&v| v != 0.0), "{losses:?}");
        // a fit above alpha_max is all zero too
        let above = base.clone().alpha(1.5 * amax).fit(&data).unwrap();
        assert!(above.coef().iter().all(|&v| v == 0.0));
    }
}

#[test]
fn cv_runs_within_tasks_on_the_per_task_layout_and_is_thread_count_independent() {
    let x1 = Array2::from_shape_fn((40, 5), |(i, j)| ((i * 3 + j * 11) % 17) as f64 - 8.0);
    let y1 = Array1::from_shape_fn(40, |i| x1[[i, 0]] + 0.3 * ((i % 5) as f64));
    let x2 = Array2::from_shape_fn((25, 5), |(i, j)| ((i * 5 + j * 7) % 19) as f64 - 9.0);
    let y2 = Array1::from_shape_fn(25, |i| {
        2.0 * x2[[i, 0]] - x2[[i, 3]] + 0.2 * ((i % 3) as f64)
    });
    let data = MultiTaskDataset::per_task(vec![(x1, y1), (x2, y2)]).unwrap();
    let base = MultiTaskElasticNet::new(1.0, 0.5)
        .tol(1e-10)
        .check()
        .unwrap();
    let cv = |jobs: usize, one_se: bool| {
        MultiTaskElasticNetCV::new(base.clone(), vec![0.5, 1.0])
            .n_alphas(12)
            .folds(Folds::KFold {
                n_splits: 5,
                shuffle: Some(3),
            })
            .one_standard_error(one_se)
            .n_jobs(jobs)
            .fit(&data)
            .unwrap()
    };
    let (a, b) = (cv(1, false), cv(2, false));
    assert_eq!(a.mse_path, b.mse_path);
    assert_eq!(a.alpha, b.alpha);
    assert_eq!(a.task_score_path.dim(), (2, 12, 5, 2));
    // the chosen point minimises the mean CV score
    let mean = a.mse_path.mean_axis(ndarray::Axis(2)).unwrap();
    let min = mean.iter().copied().fold(f64::INFINITY, f64::min);
    let l = a.l1_ratios.iter().position(|&r| r == a.l1_ratio).unwrap();
    let k = a.alphas.row(l).iter().position(|&v| v == a.alpha).unwrap();
    assert_eq!(mean[[l, k]], min);
    // the one-standard-error rule picks an alpha at least as large
    let c = cv(1, true);
    assert!(c.alpha >= a.alpha);
    // too few samples per task for the folds is a clear error
    let small = MultiTaskDataset::per_task(vec![(Array2::ones((3, 2)), Array1::zeros(3))]).unwrap();
    let err = MultiTaskLassoCV::new(MultiTaskLasso::new(1.0).check().unwrap())
        .fit(&small)
        .unwrap_err();
    assert!(err.to_string().contains("k-fold"), "{err}");
}

#[test]
fn classification_folds_are_stratified_and_metrics_are_reported() {
    // two classification tasks with 3 positives in 30 (rare class) and one regression task:
    // every test fold must hold a positive of each classification task, so every AUC is defined
    let x = Array2::from_shape_fn((30, 3), |(i, j)| ((i * 7 + j * 13) % 11) as f64 - 5.0);
    let rare =
        |shift: usize| Array1::from_shape_fn(30, |i| if i % 10 == shift { 1.0 } else { 0.0 });
    let reg = Array1::from_shape_fn(30, |i| x[[i, 0]] + 0.2 * (i % 4) as f64);
    let data = MultiTaskDataset::per_task(vec![
        (x.clone(), rare(2)),
        (x.clone(), rare(7)),
        (x.clone(), reg),
    ])
    .unwrap();
    let base = MultiTaskLasso::new(1.0)
        .task_losses([Loss::Logistic, Loss::Logistic, Loss::Squared])
        .tol(1e-8)
        .check()
        .unwrap();
    for shuffle in [None, Some(5)] {
        let res = MultiTaskLassoCV::new(base.clone())
            .n_alphas(6)
            .folds(Folds::KFold {
                n_splits: 3,
                shuffle,
            })
            .fit(&data)
            .unwrap();
        let auc = &res.task_auc_path;
        for t in 0..2 {
            assert!(
                auc.slice(ndarray::s![.., .., .., t])
                    .iter()
                    .all(|v| v.is_finite()),
                "{shuffle:?}"
            );
            assert!(
                res.task_r2_path
                    .slice(ndarray::s![.., .., .., t])
                    .iter()
                    .all(|v| v.is_nan())
            );
            let acc = res
                .task_accuracy_path
                .slice(ndarray::s![.., .., .., t])
                .to_owned();
            assert!(acc.iter().all(|&v| (0.0..=1.0).contains(&v)));
        }
        assert!(
            res.task_auc_path
                .slice(ndarray::s![.., .., .., 2])
                .iter()
                .all(|v| v.is_nan())
        );
        // R² and MSE agree: R² = 1 − MSE / var(y_test) ⇒ lower MSE, higher R², fold by fold
        let r2 = res.task_r2_path.slice(ndarray::s![0, .., 0, 2]).to_owned();
        let mse = res
            .task_score_path
            .slice(ndarray::s![0, .., 0, 2])
            .to_owned();
        for a in 1..r2.len() {
            assert_eq!(mse[a] < mse[a - 1], r2[a] > r2[a - 1]);
        }
    }
}

#[test]
fn group_folds_keep_groups_together_and_match_the_same_explicit_folds() {
    let f = &fixtures()[0];
    let data = MultiTaskDataset::shared(f.x.clone(), f.y.clone()).unwrap();
    let n = f.x.nrows();
    // 8 groups of unequal sizes
    let groups: Vec<u64> = (0..n).map(|i| ((i * i) % 8) as u64).collect();
    // the greedy rule by hand: largest group first to the lightest fold
    let mut sizes: Vec<(u64, usize)> = (0..8)
        .map(|g| (g, groups.iter().filter(|&&h| h == g).count()))
        .filter(|&(_, c)| c > 0)
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut load = [0usize; 3];
    let mut fold_of = std::collections::HashMap::new();
    for (g, c) in sizes {
        let k = (0..3).min_by_key(|&k| (load[k], k)).unwrap();
        load[k] += c;
        fold_of.insert(g, k);
    }
    let explicit: Vec<Vec<usize>> = (0..3)
        .map(|k| (0..n).filter(|&i| fold_of[&groups[i]] == k).collect())
        .collect();
    let base = MultiTaskLasso::new(1.0).tol(1e-10).check().unwrap();
    let by_group = MultiTaskLassoCV::new(base.clone())
        .n_alphas(8)
        .folds(Folds::Groups {
            n_splits: 3,
            groups: groups.clone(),
        })
        .fit(&data)
        .unwrap();
    let by_rows = MultiTaskLassoCV::new(base.clone())
        .n_alphas(8)
        .folds(Folds::Explicit(explicit))
        .fit(&data)
        .unwrap();
    assert_eq!(by_group.mse_path, by_rows.mse_path);
    assert_eq!(by_group.alpha, by_rows.alpha);
    // more folds than groups is an error
    let err = MultiTaskLassoCV::new(base)
        .folds(Folds::Groups {
            n_splits: 9,
            groups,
        })
        .fit(&data)
        .unwrap_err();
    assert!(err.to_string().contains("number of groups"), "{err}");
    // one given split is a validation set: its path is the test error of one fit per alpha
    let one: Vec<usize> = (0..n).filter(|i| i % 4 == 0).collect();
    let base = MultiTaskLasso::new(1.0).tol(1e-10).check().unwrap();
    let single = MultiTaskLassoCV::new(base.clone())
        .n_alphas(8)
        .folds(Folds::Explicit(vec![one.clone()]))
        .fit(&data)
        .unwrap();
    assert_eq!(single.mse_path.shape(), &[1, 8, 1]);
    let pairs = vec![((0..n).filter(|i| i % 4 != 0).collect(), one.clone())];
    let by_pair = MultiTaskLassoCV::new(base.clone())
        .n_alphas(8)
        .folds(Folds::Splits(pairs))
        .fit(&data)
        .unwrap();
    assert_eq!(single.mse_path, by_pair.mse_path);
    // the one-standard-error rule needs two splits; no split at all is an error
    for folds in [Folds::Explicit(vec![one]), Folds::Explicit(vec![])] {
        let err = MultiTaskLassoCV::new(base.clone())
            .one_standard_error(true)
            .folds(folds)
            .fit(&data)
            .unwrap_err()
            .to_string();
        assert!(err.contains("folds"), "{err}");
    }
}
