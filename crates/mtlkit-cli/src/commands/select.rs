//! `mtlkit path` and `mtlkit cv`: regularization paths and cross-validation, with tables, JSON
//! and figures.

use std::path::PathBuf;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use mtlkit_core::MultiTaskDataset;
use mtlkit_linear::cv::{
    CvResult, Folds, MultiTaskCv, MultiTaskElasticNetCV, MultiTaskLassoCV, auto_alpha_grid,
};
use mtlkit_linear::estimator::EstimatorPenalty;
use mtlkit_linear::{MultiTaskLinearModel, ValidMultiTaskParams};

use super::fit::{Checked, checked, load_data};
use super::plot::{self, Figure, Line};
use crate::args::{CvArgs, GridArgs, PathArgs};
use crate::config::FitConfig;

/// The grid's alphas for `p` on `data`.
fn grid<P: EstimatorPenalty>(
    p: &ValidMultiTaskParams<P>,
    data: &MultiTaskDataset,
    g: &GridArgs,
) -> Result<Vec<f64>> {
    if let Some(a) = &g.alphas {
        if a.is_empty() || a.iter().any(|v| !v.is_finite() || *v < 0.0) {
            bail!("--alphas must be finite values >= 0");
        }
        let mut a = a.clone();
        a.sort_by(|p, q| q.total_cmp(p));
        return Ok(a);
    }
    if g.n_alphas == 0 {
        bail!("--n-alphas must be at least 1");
    }
    if !(g.eps > 0.0 && g.eps < 1.0) {
        bail!("--eps must be in (0, 1), got {}", g.eps);
    }
    Ok(auto_alpha_grid(
        p.alpha_max(data)?,
        p.params().penalty().l1_ratio(),
        g.eps,
        g.n_alphas,
    )?)
}

fn row_norms(m: &MultiTaskLinearModel) -> Vec<f64> {
    m.coef()
        .rows()
        .into_iter()
        .map(|r| r.dot(&r).sqrt())
        .collect()
}

fn spinner(msg: &str) -> ProgressBar {
    // drawn on a terminal only (indicatif hides it otherwise)
    let pb = ProgressBar::new_spinner().with_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

pub fn run_path(a: PathArgs) -> Result<()> {
    let json = a.grid.json;
    let cfg = FitConfig::from_common(a.common, 1.0, PathBuf::new(), json)?;
    let est = checked(&cfg)?;
    let data = load_data(&cfg)?;
    match est {
        Checked::Lasso(p) => path_impl(&p, &data, &a.grid),
        Checked::ElasticNet(p) => path_impl(&p, &data, &a.grid),
    }
}

fn path_impl<P: EstimatorPenalty>(
    p: &ValidMultiTaskParams<P>,
    data: &MultiTaskDataset,
    g: &GridArgs,
) -> Result<()> {
    let alphas = grid(p, data, g)?;
    let pb = spinner(&format!("path over {} alphas", alphas.len()));
    let models = p.path(data, &alphas)?;
    pb.finish_and_clear();
    let norms: Vec<Vec<f64>> = models.iter().map(row_norms).collect();
    let active: Vec<usize> = norms
        .iter()
        .map(|r| r.iter().filter(|&&v| v > 0.0).count())
        .collect();
    let mut written = Vec::new();
    if let Some(dir) = &g.figures {
        std::fs::create_dir_all(dir)?;
        let d = data.n_features();
        // at most 30 lines: the features with the largest norms anywhere on the path
        let mut order: Vec<usize> = (0..d).collect();
        let peak = |j: usize| norms.iter().map(|r| r[j]).fold(0.0f64, f64::max);
        order.sort_by(|&i, &j| peak(j).total_cmp(&peak(i)));
        order.truncate(30);
        let lines = order
            .iter()
            .map(|&j| Line {
                points: alphas
                    .iter()
                    .zip(&norms)
                    .map(|(&al, r)| (al, r[j]))
                    .collect(),
                err: None,
                label: (j == order[0] || order.len() <= 8).then(|| data.feature_names()[j].clone()),
            })
            .collect();
        let fig = Figure {
            title: "coefficient paths: ||W_j|| (feature across tasks)",
            y_label: "row norm ||W_j||",
            lines,
            marker: None,
        };
        written = plot::write(&fig, &dir.join("path"))?;
    }
    if g.json {
        let v = serde_json::json!({
            "alphas": alphas,
            "n_active_features": active,
            "n_iter": models.iter().map(|m| m.info().n_iter).collect::<Vec<_>>(),
            "dual_gap": models.iter().map(|m| m.info().dual_gap).collect::<Vec<_>>(),
            "converged": models.iter().map(|m| m.info().converged).collect::<Vec<_>>(),
            "feature_names": data.feature_names(),
            "row_norms": norms,
            "figures": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!(
            "{:>12}  {:>8}  {:>7}  {:>10}",
            "alpha", "active", "n_iter", "dual_gap"
        );
        for (k, m) in models.iter().enumerate() {
            println!(
                "{:>12.5e}  {:>8}  {:>7}  {:>10.3e}{}",
                alphas[k],
                active[k],
                m.info().n_iter,
                m.info().dual_gap,
                if m.info().converged {
                    ""
                } else {
                    "  (not converged)"
                }
            );
        }
        for p in &written {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}

/// What `cv_impl` needs of the flags.
struct CvOpts<'a> {
    grid: &'a GridArgs,
    one_se: bool,
    n_jobs: usize,
    out: &'a PathBuf,
}

pub fn run_cv(a: CvArgs) -> Result<()> {
    let CvArgs {
        common,
        grid: g,
        l1_ratios,
        folds: n_folds,
        shuffle_seed,
        one_se,
        n_jobs,
        out,
    } = a;
    let cfg = FitConfig::from_common(common, 1.0, out.clone(), g.json)?;
    let opts = CvOpts {
        grid: &g,
        one_se,
        n_jobs,
        out: &out,
    };
    let est = checked(&cfg)?;
    let data = load_data(&cfg)?;
    if n_folds < 2 {
        bail!("--folds must be at least 2");
    }
    let folds = Folds::KFold {
        n_splits: n_folds,
        shuffle: shuffle_seed,
    };
    match est {
        Checked::Lasso(p) => {
            if l1_ratios.is_some() {
                bail!("--l1-ratios applies to multitask-elasticnet only");
            }
            let alphas = grid(&p, &data, &g)?;
            let cv = MultiTaskLassoCV::new(p).alphas(alphas);
            cv_impl(cv, &data, &opts, folds)
        }
        Checked::ElasticNet(p) => {
            let l1 = l1_ratios.unwrap_or_else(|| vec![p.params().penalty().l1_ratio]);
            let mut cv = MultiTaskElasticNetCV::new(p, l1);
            cv = match &g.alphas {
                Some(al) => cv.alphas(al.clone()),
                None => cv.n_alphas(g.n_alphas).eps(g.eps),
            };
            cv_impl(cv, &data, &opts, folds)
        }
    }
}

fn cv_impl<P: EstimatorPenalty + Send + Sync>(
    cv: MultiTaskCv<P>,
    data: &MultiTaskDataset,
    a: &CvOpts<'_>,
    folds: Folds,
) -> Result<()> {
    let cv = cv
        .folds(folds)
        .one_standard_error(a.one_se)
        .n_jobs(a.n_jobs);
    let pb = ProgressBar::new(cv.n_paths() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} cross-validation [{bar:30}] {pos}/{len} paths {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let tick = pb.clone();
    let start = std::time::Instant::now();
    let res: CvResult = cv.on_progress(move || tick.inc(1)).fit(data)?;
    let fit_seconds = start.elapsed().as_secs_f64();
    pb.finish_and_clear();
    res.model.save(a.out)?;
    let (nl, na, nf) = res.mse_path.dim();
    let mean = res
        .mse_path
        .mean_axis(ndarray::Axis(2))
        .unwrap_or_else(|| unreachable!("folds"));
    let sd = res.mse_path.std_axis(ndarray::Axis(2), 0.0);
    let mut written = Vec::new();
    if let Some(dir) = &a.grid.figures {
        std::fs::create_dir_all(dir)?;
        let lines = (0..nl)
            .map(|l| Line {
                points: (0..na)
                    .map(|k| (res.alphas[[l, k]], mean[[l, k]]))
                    .collect(),
                err: Some((0..na).map(|k| sd[[l, k]]).collect()),
                label: Some(format!("l1_ratio = {}", res.l1_ratios[l])),
            })
            .collect();
        let title = format!(
            "{nf}-fold CV: mean test score +- sd over folds (chosen alpha {:.3e})",
            res.alpha
        );
        let fig = Figure {
            title: &title,
            y_label: "mean test score (MSE / log-loss)",
            lines,
            marker: Some(res.alpha),
        };
        written = plot::write(&fig, &dir.join("cv"))?;
    }
    let best_l = res
        .l1_ratios
        .iter()
        .position(|&r| r == res.l1_ratio)
        .unwrap_or(0);
    if a.grid.json {
        let v = serde_json::json!({
            "alpha": res.alpha,
            "l1_ratio": res.l1_ratio,
            "l1_ratios": res.l1_ratios,
            "alphas": res.alphas.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            "mean_score": mean.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            "sd_score": sd.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            "n_folds": nf,
            "fit_seconds": fit_seconds,
            "model": a.out.display().to_string(),
            "n_active_features": row_norms(&res.model).iter().filter(|&&v| v > 0.0).count(),
            "figures": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!(
            "{:>12}  {:>12}  {:>10}   (l1_ratio {})",
            "alpha", "mean score", "sd", res.l1_ratio
        );
        for k in 0..na {
            let al = res.alphas[[best_l, k]];
            println!(
                "{:>12.5e}  {:>12.6e}  {:>10.3e}{}",
                al,
                mean[[best_l, k]],
                sd[[best_l, k]],
                if al == res.alpha { "  <- chosen" } else { "" }
            );
        }
        println!(
            "chosen alpha {:.6e}, l1_ratio {} ({nf} folds); refitted model saved to {}",
            res.alpha,
            res.l1_ratio,
            a.out.display()
        );
        for p in &written {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}
