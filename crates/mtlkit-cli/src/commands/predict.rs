//! `mtlkit predict`.

use anyhow::{Result, bail};
use mtlkit_core::Predict;
use mtlkit_linear::MultiTaskLinearModel;
use ndarray::Axis;

use crate::args::PredictArgs;
use crate::io;

pub fn run(a: &PredictArgs) -> Result<()> {
    let model = MultiTaskLinearModel::load(&a.model)?;
    let path = match (&a.x, &a.data, &a.task_col) {
        (Some(x), None, None) => x,
        (None, Some(data), Some(task_col)) => return run_long(&model, data, task_col, &a.out),
        (None, Some(_), None) => bail!("--data (long format) needs --task-col"),
        _ => bail!("give either --x X, or --data FILE.csv --task-col COLUMN"),
    };
    let table = io::read_table(path)?;
    let x = match &table.columns {
        None => table.values,
        Some(cols) => {
            // match CSV columns to the model's features by name
            if let Some(unknown) = cols.iter().find(|c| !model.feature_names().contains(c)) {
                bail!(
                    "unknown column '{unknown}' in '{}': the model's features are {}",
                    path.display(),
                    model.feature_names().join(", ")
                );
            }
            let mut idx = Vec::with_capacity(model.n_features());
            for f in model.feature_names() {
                match cols.iter().position(|c| c == f) {
                    Some(i) => idx.push(i),
                    None => bail!(
                        "column '{f}' (a feature of the model) is missing from '{}'",
                        path.display()
                    ),
                }
            }
            table.values.select(Axis(1), &idx)
        }
    };
    let pred = model.predict(&x.view())?;
    io::write_table(&a.out, &pred, model.task_names())?;
    eprintln!(
        "wrote {} x {} predictions to {}",
        pred.nrows(),
        pred.ncols(),
        a.out.display()
    );
    Ok(())
}

/// Long format: each row predicted for its own task.
fn run_long(
    model: &MultiTaskLinearModel,
    data: &std::path::Path,
    task_col: &str,
    out: &std::path::Path,
) -> Result<()> {
    let (header, keys, values) = io::read_csv_keyed(data, Some(task_col))?;
    let mut idx = Vec::with_capacity(model.n_features());
    for f in model.feature_names() {
        match header.iter().position(|c| c == f) {
            Some(i) => idx.push(i),
            None => bail!(
                "column '{f}' (a feature of the model) is missing from '{}'",
                data.display()
            ),
        }
    }
    let x = values.select(Axis(1), &idx);
    let z = model.decision_function(x.view())?;
    let mut rows = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let t = model
            .task_names()
            .iter()
            .position(|n| n == k)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "'{}' line {}: unknown task '{k}' (the model's tasks are {})",
                    data.display(),
                    i + 2,
                    model.task_names().join(", ")
                )
            })?;
        let v = z[[i, t]];
        let (pred, proba) = match model.classes()[t] {
            Some([c0, c1]) => {
                let p = if v >= 0.0 {
                    1.0 / (1.0 + (-v).exp())
                } else {
                    v.exp() / (1.0 + v.exp())
                };
                (if v > 0.0 { c1 } else { c0 }, format!("{p:?}"))
            }
            None => (v, String::new()),
        };
        rows.push(vec![k.clone(), format!("{pred:?}"), proba]);
    }
    let header = vec![
        task_col.to_string(),
        "prediction".into(),
        "probability".into(),
    ];
    io::write_csv_rows(out, &header, &rows)?;
    eprintln!("wrote {} predictions to {}", rows.len(), out.display());
    Ok(())
}
