//! `mtlkit demo`: what multi-task learning does, on the bundled Parkinson's telemonitoring data.
//!
//! Two tasks share one design: predict `motor_UPDRS` and `total_UPDRS` from age, sex, test time
//! and 16 voice measures. The rows are split within each task (seeded), features are
//! standardised with the training statistics, then a multi-task Lasso (one L2,1 penalty: a
//! feature is used by both tasks or by neither) is compared with independent single-task Lassos
//! at the same `alpha` on held-out R² and MSE.

use anyhow::{Context, Result, ensure};
use mtlkit_core::metrics::{mean_squared_error, r2_score};
use mtlkit_core::split::train_test_split;
use mtlkit_core::{Fit, MultiTaskDataset, Predict, TaskId};
use mtlkit_linear::{MultiTaskLasso, MultiTaskLinearModel, alpha_max};
use ndarray::{Array2, Axis};

use crate::args::DemoArgs;

struct Scores {
    r2: f64,
    mse: f64,
}

pub fn run(a: &DemoArgs) -> Result<()> {
    ensure!(
        a.alpha_ratio > 0.0 && a.alpha_ratio <= 1.0,
        "--alpha-ratio must be in (0, 1], got {}",
        a.alpha_ratio
    );
    let data = mtlkit_datasets::parkinsons()?.to_shared_dataset()?;
    let (train, test) = train_test_split(&data, a.test_size, a.seed)?;
    let (train, test) = standardise(&train, &test)?;
    let alpha = a.alpha_ratio * alpha_max(&train, 1.0, true)?;
    let params = MultiTaskLasso::new(alpha).max_iter(10_000).tol(1e-8);

    let mtl = params.fit(&train).context("fitting the multi-task model")?;
    let mtl_scores = score(&mtl, &test)?;
    let mut stl_scores = Vec::new();
    let mut stl_active = Vec::new();
    for t in 0..data.n_tasks() {
        let one = train.select_tasks(&[TaskId(t)])?;
        let m = params.fit(&one).context("fitting a single-task model")?;
        let test_one = test.select_tasks(&[TaskId(t)])?;
        stl_scores.push(score(&m, &test_one)?.remove(0));
        stl_active.push(active(&m));
    }
    let names = data.task_names();
    let mtl_active = active(&mtl);
    if a.json {
        let tasks: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(t, n)| {
                serde_json::json!({
                    "task": n,
                    "multitask": {"r2": mtl_scores[t].r2, "mse": mtl_scores[t].mse},
                    "single_task": {"r2": stl_scores[t].r2, "mse": stl_scores[t].mse, "n_active_features": stl_active[t].len()},
                })
            })
            .collect();
        let out = serde_json::json!({
            "data": "parkinsons_telemonitoring",
            "n_train": train.n_samples(TaskId(0)),
            "n_test": test.n_samples(TaskId(0)),
            "alpha": alpha,
            "multitask_active_features": mtl_active,
            "tasks": tasks,
        });
        println!("{out}");
        return Ok(());
    }
    println!("mtlkit demo: Parkinson's telemonitoring (UCI, Tsanas et al. 2009, CC BY 4.0)");
    println!(
        "  {} recordings, {} features, {} tasks; within-task split: {} train / {} test (seed {})",
        data.n_samples(TaskId(0)),
        data.n_features(),
        data.n_tasks(),
        train.n_samples(TaskId(0)),
        test.n_samples(TaskId(0)),
        a.seed
    );
    println!(
        "  multi-task Lasso (L2,1) vs independent Lassos, alpha = {:.4} (= {} x alpha_max), standardised features\n",
        alpha, a.alpha_ratio
    );
    println!(
        "  {:<14} {:>12} {:>12} {:>12} {:>12} {:>10}",
        "task", "R2 multi", "R2 single", "MSE multi", "MSE single", "features"
    );
    for (t, n) in names.iter().enumerate() {
        println!(
            "  {:<14} {:>12.4} {:>12.4} {:>12.3} {:>12.3} {:>4} / {:<3}",
            n,
            mtl_scores[t].r2,
            stl_scores[t].r2,
            mtl_scores[t].mse,
            stl_scores[t].mse,
            mtl_active.len(),
            stl_active[t].len()
        );
    }
    let avg = |v: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = v.collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    println!(
        "  {:<14} {:>12.4} {:>12.4} {:>12.3} {:>12.3}",
        "average",
        avg(&mut mtl_scores.iter().map(|s| s.r2)),
        avg(&mut stl_scores.iter().map(|s| s.r2)),
        avg(&mut mtl_scores.iter().map(|s| s.mse)),
        avg(&mut stl_scores.iter().map(|s| s.mse)),
    );
    let mut union: Vec<&String> = stl_active.iter().flatten().collect();
    union.sort();
    union.dedup();
    println!(
        "\n  features (multi / single): the multi-task model selects one set for both tasks ({}),\n  \
         the single-task models select their own ({} distinct in all).",
        mtl_active.len(),
        union.len()
    );
    println!("  shared features: {}", mtl_active.join(", "));
    Ok(())
}

fn active(m: &MultiTaskLinearModel) -> Vec<String> {
    m.coef()
        .rows()
        .into_iter()
        .zip(m.feature_names())
        .filter(|(r, _)| r.iter().any(|&v| v != 0.0))
        .map(|(_, n)| n.clone())
        .collect()
}

fn score(m: &MultiTaskLinearModel, test: &MultiTaskDataset) -> Result<Vec<Scores>> {
    let (x, y) = test.require_shared("scoring")?;
    let p = m.predict(&x)?;
    Ok((0..y.ncols())
        .map(|t| Scores {
            r2: r2_score(y.column(t), p.column(t)),
            mse: mean_squared_error(y.column(t), p.column(t)),
        })
        .collect())
}

/// Standardise both parts with the training mean and standard deviation (constant columns are
/// only centred).
fn standardise(
    train: &MultiTaskDataset,
    test: &MultiTaskDataset,
) -> Result<(MultiTaskDataset, MultiTaskDataset)> {
    let (x, _) = train.require_shared("standardising")?;
    let mean = x.mean_axis(Axis(0)).context("empty training set")?;
    let std = x
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 });
    let apply = |d: &MultiTaskDataset| -> Result<MultiTaskDataset> {
        let (x, y) = d.require_shared("standardising")?;
        let xs: Array2<f64> =
            (&x - &mean.view().insert_axis(Axis(0))) / std.view().insert_axis(Axis(0));
        Ok(MultiTaskDataset::shared(xs, y.to_owned())?
            .with_task_names(d.task_names().to_vec())?
            .with_feature_names(d.feature_names().to_vec())?)
    };
    Ok((apply(train)?, apply(test)?))
}
