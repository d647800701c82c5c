//! `mtlkit fit`.

use anyhow::{Context, Result, bail};
use mtlkit_core::{Fit, MultiTaskDataset};
use mtlkit_linear::estimator::EstimatorPenalty;
use mtlkit_linear::{
    L21, L21Ridge, MultiTaskElasticNet, MultiTaskLasso, MultiTaskParams, ValidMultiTaskParams,
};
use ndarray::Axis;

use crate::config::{DataSource, FitConfig, PenaltyConfig};
use crate::io;

/// Hyperparameters checked before any data is read.
pub(crate) enum Checked {
    Lasso(ValidMultiTaskParams<L21>),
    ElasticNet(ValidMultiTaskParams<L21Ridge>),
}

/// The estimator of `cfg`, checked.
pub(crate) fn checked(cfg: &FitConfig) -> Result<Checked> {
    Ok(match cfg.penalty {
        PenaltyConfig::Lasso { alpha } => {
            Checked::Lasso(configure(MultiTaskLasso::new(alpha), cfg).check()?)
        }
        PenaltyConfig::ElasticNet { alpha, l1_ratio } => {
            Checked::ElasticNet(configure(MultiTaskElasticNet::new(alpha, l1_ratio), cfg).check()?)
        }
    })
}

/// The dataset of `cfg`, with its sample weights.
pub(crate) fn load_data(cfg: &FitConfig) -> Result<MultiTaskDataset> {
    let mut data = load(&cfg.source)?;
    if let Some(path) = &cfg.sample_weight {
        let w = io::read_table(path)?.values;
        if w.ncols() != 1 {
            bail!(
                "'{}': sample weights must be one column, found {}",
                path.display(),
                w.ncols()
            );
        }
        data = data.with_sample_weight(w.column(0).to_owned())?;
    }
    Ok(data)
}

pub fn run(cfg: FitConfig) -> Result<()> {
    if let Some(st) = &cfg.structure {
        return run_structured(&cfg, st);
    }
    let checked = checked(&cfg)?;
    // a float32 .npy design with the plain shared problem is fitted in single precision (X kept
    // in f32, half the memory; arithmetic in f64)
    if let DataSource::Files { x, y } = &cfg.source {
        let plain = cfg.sample_weight.is_none()
            && cfg
                .losses
                .iter()
                .all(|&l| l == mtlkit_linear::Loss::Squared)
            && cfg.scaling == mtlkit_linear::LossScaling::TaskMean;
        if plain && let Some(x32) = io::read_npy_f32(x)? {
            let yt = io::read_table(y)?;
            let mut model = match checked {
                Checked::Lasso(p) => p.fit_f32(x32.view(), yt.values.view())?,
                Checked::ElasticNet(p) => p.fit_f32(x32.view(), yt.values.view())?,
            };
            if let Some(c) = yt.columns {
                model = model
                    .with_task_names(c)
                    .context("task names from the Y header")?;
            }
            return finish(&cfg, &model);
        }
    }
    let data = load_data(&cfg)?;
    let model = match checked {
        Checked::Lasso(p) => p.fit(&data)?,
        Checked::ElasticNet(p) => p.fit(&data)?,
    };
    finish(&cfg, &model)
}

/// `fit --penalty`: a structured model (accelerated proximal gradient), saved in the same model
/// format (`estimator: structured`, the regularizers in the metadata's `structure`).
fn run_structured(cfg: &FitConfig, st: &crate::config::StructureConfig) -> Result<()> {
    use crate::config::AlternatingConfig;
    use mtlkit_linear::structured::{
        ClusteredMtl, FeatureLearning, GoMtl, Mtrl, StructuredParams, TaskGraph,
    };
    let data = load_data(cfg)?;
    let inner = |p: StructuredParams| {
        p.losses(cfg.losses.clone())
            .scaling(cfg.scaling)
            .fit_intercept(cfg.fit_intercept)
            .tol(cfg.tol)
            .max_iter(cfg.max_iter)
    };
    if let Some(alt) = st.alternating {
        let model = match alt {
            AlternatingConfig::GoMtl(k, mu, lambda) => {
                let mut g = GoMtl::new(k, mu, lambda);
                g.inner = inner(g.inner);
                g.fit(&data)?.to_linear_model(&g, &data)
            }
            AlternatingConfig::Mtrl(l1, l2) => {
                let mut e = Mtrl::new(l1, l2);
                e.inner = inner(e.inner);
                let hp = serde_json::json!({"lambda1": l1, "lambda2": l2});
                e.fit(&data)?.to_linear_model(&e.inner, &data, "mtrl", hp)
            }
            AlternatingConfig::FeatureLearning(g) => {
                let mut e = FeatureLearning::new(g);
                e.inner = inner(e.inner);
                let hp = serde_json::json!({"gamma": g});
                e.fit(&data)?
                    .to_linear_model(&e.inner, &data, "feature-learning", hp)
            }
            AlternatingConfig::Clustered(r1, r2, k) => {
                let mut e = ClusteredMtl::new(r1, r2, k);
                e.inner = inner(e.inner);
                let hp = serde_json::json!({"rho1": r1, "rho2": r2, "k": k});
                e.fit(&data)?
                    .to_linear_model(&e.inner, &data, "clustered", hp)
            }
        };
        return finish(cfg, &model);
    }
    let mut p = StructuredParams::new(st.parts.clone())
        .losses(cfg.losses.clone())
        .scaling(cfg.scaling)
        .fit_intercept(cfg.fit_intercept)
        .tol(cfg.tol)
        .max_iter(cfg.max_iter);
    if let Some((edges, alpha)) = &st.graph {
        p = p.graph(TaskGraph::from_edges(data.n_tasks(), edges, *alpha)?);
    }
    let m = p.fit(&data)?;
    let model = m.to_linear_model(&p, &data);
    finish(cfg, &model)
}

/// Save the model and print the summary.
fn finish(cfg: &FitConfig, model: &mtlkit_linear::MultiTaskLinearModel) -> Result<()> {
    model.save(&cfg.out)?;
    let info = model.info();
    let n_active = model
        .coef()
        .rows()
        .into_iter()
        .filter(|r| r.iter().any(|&v| v != 0.0))
        .count();
    if cfg.json {
        let summary = serde_json::json!({
            "model": cfg.out.display().to_string(),
            "estimator": model.hyperparameters().estimator.name(),
            "n_features": model.n_features(),
            "n_tasks": model.n_tasks(),
            "n_active_features": n_active,
            "n_iter": info.n_iter,
            "dual_gap": info.dual_gap,
            "converged": info.converged,
            "structure": model.structure(),
            // one loss for all tasks, or "mixed" with the list
            "loss": if model.losses().windows(2).all(|w| w[0] == w[1]) {
                model.losses().first().map_or("squared", |l| l.name())
            } else {
                "mixed"
            },
            "losses": model.losses().iter().map(|l| l.name()).collect::<Vec<_>>(),
            "scaling": model.hyperparameters().scaling.name(),
        });
        let mut summary = summary;
        if summary["loss"] != "mixed"
            && let Some(m) = summary.as_object_mut()
        {
            m.remove("losses");
        }
        println!("{summary}");
    } else {
        println!(
            "{}: {} tasks, {}/{} features active, {} iterations, {} {:.3e}{}; saved to {}",
            model.hyperparameters().estimator.name(),
            model.n_tasks(),
            n_active,
            model.n_features(),
            info.n_iter,
            if model.structure().is_some() {
                "relative KKT residual"
            } else {
                "dual gap"
            },
            info.dual_gap,
            if info.converged {
                ""
            } else {
                " (NOT converged)"
            },
            cfg.out.display()
        );
    }
    Ok(())
}

fn configure<P: EstimatorPenalty>(p: MultiTaskParams<P>, cfg: &FitConfig) -> MultiTaskParams<P> {
    p.fit_intercept(cfg.fit_intercept)
        .tol(cfg.tol)
        .max_iter(cfg.max_iter)
        .selection(cfg.selection)
        .random_state(cfg.random_state)
        .n_threads(cfg.n_threads)
        .mixed_precision(cfg.mixed_precision)
        .task_losses(cfg.losses.iter().copied())
        .scaling(cfg.scaling)
}

fn load(source: &DataSource) -> Result<MultiTaskDataset> {
    load_dropping(source, &[])
}

/// The dataset of `source` with the CSV columns `drop` left out (neither features nor
/// targets); every dropped column must exist.
pub(crate) fn load_dropping(source: &DataSource, drop: &[String]) -> Result<MultiTaskDataset> {
    let check_drop = |header: &[String], path: &std::path::Path| -> Result<()> {
        for d in drop {
            if !header.contains(d) {
                bail!(
                    "unknown column '{d}' in --drop for '{}' (columns: {})",
                    path.display(),
                    header.join(", ")
                );
            }
        }
        Ok(())
    };
    match source {
        DataSource::Files { x, y } => {
            if !drop.is_empty() {
                bail!("--drop applies to --data FILE.csv only");
            }
            let xt = io::read_table(x)?;
            let yt = io::read_table(y)?;
            if xt.values.nrows() != yt.values.nrows() {
                bail!(
                    "X ('{}') has {} rows but Y ('{}') has {}",
                    x.display(),
                    xt.values.nrows(),
                    y.display(),
                    yt.values.nrows()
                );
            }
            let mut data = MultiTaskDataset::shared(xt.values, yt.values)?;
            if let Some(c) = xt.columns {
                data = data
                    .with_feature_names(c)
                    .context("feature names from the X header")?;
            }
            if let Some(c) = yt.columns {
                data = data
                    .with_task_names(c)
                    .context("task names from the Y header")?;
            }
            Ok(data)
        }
        DataSource::Long {
            path,
            task_col,
            target,
        } => {
            let (header, keys, values) = io::read_csv_keyed(path, Some(task_col))?;
            let tcol = header.iter().position(|h| h == target).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown target column '{target}' in '{}' (columns: {task_col}, {})",
                    path.display(),
                    header.join(", ")
                )
            })?;
            check_drop(&header, path)?;
            if drop.contains(target) {
                bail!("--drop names the target column '{target}'");
            }
            let fcols: Vec<usize> = (0..header.len())
                .filter(|&c| c != tcol && !drop.contains(&header[c]))
                .collect();
            if fcols.is_empty() {
                bail!("'{}' has no feature columns", path.display());
            }
            // tasks in order of first appearance
            let mut names: Vec<String> = Vec::new();
            let mut rows: Vec<Vec<usize>> = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                match names.iter().position(|n| n == k) {
                    Some(t) => rows[t].push(i),
                    None => {
                        names.push(k.clone());
                        rows.push(vec![i]);
                    }
                }
            }
            let tasks = rows
                .iter()
                .zip(&names)
                .map(|(r, name)| {
                    let labelled: Vec<usize> =
                        r.iter().copied().filter(|&i| !values[[i, tcol]].is_nan()).collect();
                    if labelled.is_empty() {
                        bail!("task '{name}' has no labelled row (its '{target}' values are all missing)");
                    }
                    let x = values.select(Axis(0), &labelled).select(Axis(1), &fcols);
                    let y = values.column(tcol).select(Axis(0), &labelled);
                    Ok((x, y))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(MultiTaskDataset::per_task(tasks)
                .with_context(|| format!("'{}'", path.display()))?
                .with_feature_names(fcols.iter().map(|&c| header[c].clone()))?
                .with_task_names(names)?)
        }
        DataSource::Csv { path, targets } => {
            let (header, values) = io::read_csv(path)?;
            let mut tcols = Vec::with_capacity(targets.len());
            for t in targets {
                match header.iter().position(|h| h == t) {
                    Some(c) if !tcols.contains(&c) => tcols.push(c),
                    Some(_) => bail!("target column '{t}' is listed twice"),
                    None => bail!(
                        "unknown target column '{t}' in '{}' (columns: {})",
                        path.display(),
                        header.join(", ")
                    ),
                }
            }
            check_drop(&header, path)?;
            if let Some(d) = drop.iter().find(|d| targets.contains(d)) {
                bail!("--drop names the target column '{d}': leave it out of --targets instead");
            }
            let fcols: Vec<usize> = (0..header.len())
                .filter(|c| !tcols.contains(c) && !drop.contains(&header[*c]))
                .collect();
            if fcols.is_empty() {
                bail!(
                    "'{}' has no feature columns left after the targets",
                    path.display()
                );
            }
            let x = values.select(Axis(1), &fcols);
            let y = values.select(Axis(1), &tcols);
            Ok(MultiTaskDataset::shared(x, y)?
                .with_feature_names(fcols.iter().map(|&c| header[c].clone()))?
                .with_task_names(targets.clone())?)
        }
    }
}
