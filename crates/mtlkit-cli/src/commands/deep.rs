//! `mtlkit train` and `mtlkit evaluate`: deep multi-task models from a TOML configuration.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use mtlkit_deep::experiment::{ExperimentConfig, TableData, run_experiment};
use mtlkit_deep::persist::{load_model, save_model};

use crate::args::{EvaluateArgs, TrainArgs};
use crate::io::read_csv_keyed;

/// Read and check an experiment configuration; data paths become relative to its folder.
fn read_config(path: &Path) -> Result<ExperimentConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading '{}'", path.display()))?;
    let mut cfg: ExperimentConfig = toml::from_str(&text)
        .with_context(|| format!("'{}': invalid configuration", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let fix = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    fix(&mut cfg.data.train);
    if let Some(v) = cfg.data.validation.as_mut() {
        fix(v);
    }
    if let Some(t) = cfg.data.test.as_mut() {
        fix(t);
    }
    cfg.validate()?;
    Ok(cfg)
}

fn read_table(path: &Path, task_column: Option<&str>) -> Result<TableData> {
    let (columns, keys, values) = read_csv_keyed(path, task_column)?;
    Ok(TableData {
        columns,
        values,
        keys: task_column.map(|_| keys),
    })
}

/// `mtlkit train`.
pub fn run_train(a: &TrainArgs) -> Result<()> {
    // a text experiment (`[corpus]` table) goes to mtlkit-text
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading '{}'", a.config.display()))?;
    if super::text::is_text_config(&text) {
        return super::text::run_train(a, &text);
    }
    if a.data_dir.is_some() || a.max_sentences.is_some() {
        bail!(
            "--data-dir and --max-sentences apply to text configurations (with a [corpus] table) only"
        );
    }
    let mut cfg = read_config(&a.config)?;
    a.override_seeds_epochs(&mut cfg.run.seeds, &mut cfg.trainer.epochs)?;
    cfg.validate()?;
    let tc = cfg.data.task_column.clone();
    let train = read_table(&cfg.data.train, tc.as_deref())?;
    let valid = cfg
        .data
        .validation
        .as_ref()
        .map(|p| read_table(p, tc.as_deref()))
        .transpose()?;
    let test = cfg
        .data
        .test
        .as_ref()
        .map(|p| read_table(p, tc.as_deref()))
        .transpose()?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating '{}'", a.out.display()))?;
    let t0 = std::time::Instant::now();
    let (report, model, meta) = run_experiment(
        &cfg,
        &train,
        valid.as_ref(),
        test.as_ref(),
        Some(&a.out.join("checkpoints")),
        Some(&a.out.join("train.log.jsonl")),
    )?;
    let model_path = a.out.join("model.safetensors");
    save_model(&model_path, &model, &meta)?;
    let json = serde_json::json!({
        "report": report,
        "model": model_path,
        "seconds": t0.elapsed().as_secs_f64(),
        "config": cfg,
    });
    mtlkit_core::io::atomic_write(
        &a.out.join("report.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    // the measured affinities, in the form `mtlkit relate --from` reads
    let mut affinity_files = Vec::new();
    if let Some(aff) = &report.affinity {
        if aff.unmeasured() > 0 {
            eprintln!(
                "warning: {} task pair(s) were never in a measured batch together; their affinity is written as 0",
                aff.unmeasured()
            );
        }
        for m in aff.matrices(&report.tasks) {
            let path = a.out.join(format!("affinity_{}.json", m.kind));
            mtlkit_core::io::atomic_write(&path, serde_json::to_string_pretty(&m)?.as_bytes())?;
            affinity_files.push(path);
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", report.table());
        println!(
            "model: {} (seed {}), {:.1} s",
            model_path.display(),
            meta.info
                .get("seed")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0),
            t0.elapsed().as_secs_f64()
        );
        for p in &affinity_files {
            println!("affinity: {}", p.display());
        }
    }
    Ok(())
}

/// `mtlkit evaluate`.
pub fn run_evaluate(a: &EvaluateArgs) -> Result<()> {
    let device = burn_device();
    let (model, meta) = load_model(&a.model, &device)?;
    let (columns, task_column) = match &a.config {
        Some(c) => {
            let cfg = read_config(c)?;
            if cfg
                .tasks
                .iter()
                .map(|t| &t.name)
                .ne(meta.tasks.iter().map(|t| &t.name))
            {
                bail!("the configuration's tasks are not the model's");
            }
            (
                cfg.tasks
                    .iter()
                    .map(|t| t.column.clone())
                    .collect::<Vec<_>>(),
                cfg.data.task_column.clone(),
            )
        }
        None => (meta.tasks.iter().map(|t| t.name.clone()).collect(), None),
    };
    let table = read_table(&a.data, task_column.as_deref())?;
    let cfg = ExperimentConfig {
        data: mtlkit_deep::experiment::DataConfig {
            train: a.data.clone(),
            validation: None,
            test: None,
            validation_fraction: 0.2,
            features: Some(meta.feature_names.clone()),
            exclude: Vec::new(),
            task_column,
            standardize: false,
        },
        tasks: meta
            .tasks
            .iter()
            .zip(columns)
            .map(|(t, column)| mtlkit_deep::experiment::TaskColumn {
                name: t.name.clone(),
                column,
                kind: t.kind.clone(),
                loss: t.loss.clone(),
            })
            .collect(),
        model: meta.architecture.clone(),
        trainer: Default::default(),
        run: Default::default(),
    };
    let (mut ds, _) = cfg.dataset(&table)?;
    if let Some(s) = &meta.standardizer {
        ds.map_inputs(|x| s.apply(x));
    }
    let ev = mtlkit_deep::trainer::evaluate_plain(&model, &ds, &device, 4096)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"tasks": meta.tasks.iter().map(|t| &t.name).collect::<Vec<_>>(), "evaluation": ev})
            )?
        );
    } else {
        for (t, spec) in meta.tasks.iter().enumerate() {
            let ms: Vec<String> = ev.metrics[t]
                .iter()
                .map(|(m, v)| format!("{} {v:.4}", m.name()))
                .collect();
            println!(
                "{:<20} loss {:.4}  {}",
                spec.name,
                ev.losses[t],
                ms.join("  ")
            );
        }
    }
    Ok(())
}

fn burn_device() -> mtlkit_deep::burn_device::Device {
    mtlkit_deep::burn_device::Device::flex()
}
