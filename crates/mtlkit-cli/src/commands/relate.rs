//! `mtlkit relate`: task affinity, task groups and the negative-transfer report
//! (`mtlkit_relate`), as a table or JSON, with a heatmap and a gain chart.

use anyhow::{Context, Result, bail};
use mtlkit_relate::report::{AffinityMethod, ModelFamily, Report, ReportParams};
use mtlkit_relate::{GroupingMethod, TaskAffinity, negative_transfer_report};

use crate::args::{AffinityArg, FamilyArg, GroupingArg, RelateArgs};
use crate::commands::fit::load_dropping;
use crate::commands::plot::{self, Bars, Heatmap};
use crate::config::DataSource;

/// Validate the flags into the data source and the report settings.
fn configure(a: &RelateArgs) -> Result<(DataSource, ReportParams)> {
    let source = match (&a.task_col, &a.target, &a.targets) {
        (Some(task_col), Some(target), None) => {
            if task_col == target {
                bail!("--task-col and --target must be different columns");
            }
            DataSource::Long {
                path: a.data.clone(),
                task_col: task_col.clone(),
                target: target.clone(),
            }
        }
        (None, None, Some(targets)) => {
            let targets: Vec<String> = targets.iter().map(|t| t.trim().to_string()).collect();
            if targets.is_empty() || targets.iter().any(String::is_empty) {
                bail!("--targets needs a comma-separated list of column names");
            }
            DataSource::Csv {
                path: a.data.clone(),
                targets,
            }
        }
        (Some(_), None, _) => bail!("--task-col needs --target naming the target column"),
        (None, Some(_), _) => bail!("--target needs --task-col naming the task column"),
        _ => bail!(
            "give either --task-col C --target Y (long format) or --targets Y1,Y2,... (wide format)"
        ),
    };
    if a.groups == 0 {
        bail!("--groups must be at least 1");
    }
    let fixed = match &a.from {
        Some(path) => {
            let aff =
                TaskAffinity::read(path).with_context(|| format!("--from '{}'", path.display()))?;
            Some(if a.symmetrize { aff.symmetrized() } else { aff })
        }
        None if a.symmetrize => bail!("--symmetrize goes with --from FILE.json"),
        None => None,
    };
    let p = ReportParams {
        n_folds: a.folds,
        inner_folds: a.inner_folds,
        seed: a.seed,
        n_groups: Some(a.groups),
        grouping: match a.grouping {
            GroupingArg::Auto => GroupingMethod::Auto,
            GroupingArg::Hierarchical => GroupingMethod::Hierarchical,
            GroupingArg::Exact => GroupingMethod::Exact,
        },
        affinity: match a.affinity {
            AffinityArg::Weights => AffinityMethod::WeightCosine,
            AffinityArg::WeightCorrelation => AffinityMethod::WeightCorrelation,
            AffinityArg::Mtrl => AffinityMethod::Mtrl,
            AffinityArg::Clustered => AffinityMethod::Clustered,
            AffinityArg::GoMtl => AffinityMethod::GoMtl,
        },
        family: match a.model {
            FamilyArg::MeanRegularized => ModelFamily::MeanRegularized,
            FamilyArg::L21 => ModelFamily::L21,
        },
        fixed_affinity: fixed,
        ..ReportParams::default()
    };
    Ok((source, p))
}

pub fn run(a: &RelateArgs) -> Result<()> {
    let (source, params) = configure(a)?;
    let data = load_dropping(&source, &a.drop)?;
    if let Some(fixed) = &params.fixed_affinity {
        // name the mismatch before any fit
        fixed
            .reorder(data.task_names())
            .with_context(|| "--from: the affinity's tasks must include every task of --data")?;
    }
    let start = std::time::Instant::now();
    let report = negative_transfer_report(&data, &params)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut written = Vec::new();
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating '{}'", dir.display()))?;
        let json = serde_json::to_string_pretty(&report)?;
        let path = dir.join("report.json");
        mtlkit_core::io::atomic_write(&path, json.as_bytes())?;
        written.push(path);
        let path = dir.join("affinity.json");
        mtlkit_core::io::atomic_write(&path, report.affinity.to_json()?.as_bytes())?;
        written.push(path);
        written.extend(figures(&report, dir)?);
    }
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("seconds".into(), seconds.into());
            m.insert(
                "files".into(),
                written
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        println!("{v}");
    } else {
        print_table(&report);
        println!("({seconds:.1} s)");
        for p in &written {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}

fn print_table(r: &Report) {
    let k = r.params.n_folds;
    println!(
        "{:<16} {:>5} {:>5} {:>9} {:>9} {:>9}  {:>22}  {:>22}",
        "task",
        "n",
        "group",
        "R2 single",
        "R2 pool",
        "R2 group",
        "gain pooled +- SE (w/K)",
        "gain grouped +- SE (w/K)"
    );
    for t in &r.tasks {
        let gain = |g: &mtlkit_relate::report::Gain| {
            format!(
                "{:+.3} +- {:.3} ({}/{}){}",
                g.mean,
                g.se,
                g.wins,
                g.n_folds,
                if g.hurt { " HURT" } else { "" }
            )
        };
        println!(
            "{:<16} {:>5} {:>5} {:>9.3} {:>9.3} {:>9.3}  {:>22}  {:>22}",
            t.task,
            t.n_samples,
            t.group.map_or("-".into(), |g| g.to_string()),
            t.single.r2,
            t.pooled.r2,
            t.grouped.as_ref().map_or(f64::NAN, |g| g.r2),
            gain(&t.gain_pooled),
            t.gain_grouped.as_ref().map_or(String::new(), gain),
        );
    }
    let s = &r.summary;
    println!(
        "affinity {}; {} groups ({}): {}",
        r.affinity.kind,
        r.grouping.as_ref().map_or(0, |g| g.n_groups()),
        r.grouping.as_ref().map_or("-", |g| g.method.as_str()),
        r.grouping.as_ref().map_or(String::new(), |g| g
            .groups
            .iter()
            .map(|m| format!(
                "[{}]",
                m.iter()
                    .map(|&t| r.affinity.tasks[t].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
            .collect::<Vec<_>>()
            .join(" "))
    );
    if !r.fold_grouping_ari.is_empty() {
        let (m, _) = mtlkit_relate::report::mean_se(&r.fold_grouping_ari);
        println!(
            "grouping stability: mean ARI of the {k} training-fold groupings vs all data {m:.3}"
        );
    }
    println!(
        "mean R2 over tasks: single {:.4}, pooled {:.4}, grouped {:.4}",
        s.mean_r2.0,
        s.mean_r2.1,
        s.mean_r2.2.unwrap_or(f64::NAN)
    );
    println!(
        "mean gain over tasks (+- SE over tasks): pooled {:+.4} +- {:.4}, grouped {:+.4} +- {:.4}",
        s.gain_pooled.0,
        s.gain_pooled.1,
        s.gain_grouped.map_or(f64::NAN, |g| g.0),
        s.gain_grouped.map_or(f64::NAN, |g| g.1)
    );
    println!(
        "hurt by pooling ({}): {}",
        s.hurt_by_pooling.len(),
        s.hurt_by_pooling.join(", ")
    );
    println!(
        "hurt by grouping ({}): {}",
        s.hurt_by_grouping.len(),
        s.hurt_by_grouping.join(", ")
    );
    println!("flag rule: {}", r.flag_rule);
}

/// heatmap.svg/png (affinity ordered by group) and gain.svg/png (per-task gains ± SE).
fn figures(r: &Report, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let nt = r.affinity.n_tasks();
    let (order, blocks) = match &r.grouping {
        Some(g) => {
            let mut blocks = Vec::new();
            let mut start = 0;
            for m in &g.groups {
                blocks.push((start, start + m.len()));
                start += m.len();
            }
            (g.order(), blocks)
        }
        None => ((0..nt).collect(), Vec::new()),
    };
    let title = format!(
        "task affinity: {} ({} groups)",
        r.affinity.kind,
        blocks.len()
    );
    let heat = Heatmap {
        title: &title,
        labels: order.iter().map(|&t| r.affinity.tasks[t].clone()).collect(),
        matrix: order
            .iter()
            .map(|&i| order.iter().map(|&j| r.affinity.matrix[i][j]).collect())
            .collect(),
        blocks,
    };
    let mut out = plot::write_heatmap(&heat, &dir.join("heatmap"))?;
    let mut series = vec![(
        "pooled - single".to_string(),
        order
            .iter()
            .map(|&t| {
                let g = &r.tasks[t].gain_pooled;
                (g.mean, g.se, g.hurt)
            })
            .collect(),
    )];
    if r.tasks.iter().all(|t| t.gain_grouped.is_some()) {
        series.push((
            "grouped - single".to_string(),
            order
                .iter()
                .map(|&t| {
                    r.tasks[t]
                        .gain_grouped
                        .as_ref()
                        .map_or((f64::NAN, f64::NAN, false), |g| (g.mean, g.se, g.hurt))
                })
                .collect(),
        ));
    }
    let title = format!(
        "held-out R2 gain over single-task, mean +- SE over {} folds (red dot: hurt)",
        r.params.n_folds
    );
    let bars = Bars {
        title: &title,
        y_label: "R2(multi-task) - R2(single-task)",
        labels: order.iter().map(|&t| r.tasks[t].task.clone()).collect(),
        series,
    };
    out.extend(plot::write_bars(&bars, &dir.join("gain"))?);
    Ok(out)
}
