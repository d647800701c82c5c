//! `mtlkit train` on a text configuration (a TOML file with a `[corpus]` table): token-level
//! multi-task learning on a CoNLL-U treebank (`mtlkit-text`).

use std::path::Path;

use anyhow::{Context, Result};
use mtlkit_text::experiment::{TextConfig, run_text_experiment};

use crate::args::TrainArgs;

/// Whether the configuration text is a text experiment (has a top-level `[corpus]` table).
pub fn is_text_config(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.get("corpus").is_some_and(toml::Value::is_table))
}

/// Run a text experiment: print the table (or the JSON report), write `report.json` and
/// `RESULTS.md` (the Markdown table) into the output folder.
pub fn run_train(a: &TrainArgs, text: &str) -> Result<()> {
    let base = a.config.parent().unwrap_or(Path::new("."));
    let mut cfg =
        TextConfig::from_toml(text, base).with_context(|| format!("'{}'", a.config.display()))?;
    a.override_seeds_epochs(&mut cfg.run.seeds, &mut cfg.trainer.epochs)?;
    if let Some(d) = &a.data_dir {
        cfg.corpus.dir.clone_from(d);
    }
    if let Some(n) = a.max_sentences {
        cfg.corpus.max_train_sentences = Some(n);
        cfg.corpus.max_eval_sentences = Some(n);
    }
    cfg.validate()
        .with_context(|| format!("'{}'", a.config.display()))?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating '{}'", a.out.display()))?;
    let t0 = std::time::Instant::now();
    let quiet = a.json;
    let mut progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let report = run_text_experiment(&cfg, &mut progress)?;
    let json = serde_json::json!({
        "report": report,
        "seconds": t0.elapsed().as_secs_f64(),
        "config": cfg,
    });
    mtlkit_core::io::atomic_write(
        &a.out.join("report.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    mtlkit_core::io::atomic_write(&a.out.join("RESULTS.md"), report.markdown().as_bytes())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", report.table());
        println!(
            "{:.1} s; report: {}",
            t0.elapsed().as_secs_f64(),
            a.out.join("report.json").display()
        );
    }
    Ok(())
}
