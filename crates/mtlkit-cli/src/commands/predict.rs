//! `mtlkit predict`.

use anyhow::{Result, bail};
use mtlkit_core::Predict;
use mtlkit_linear::MultiTaskLinearModel;
use ndarray::Axis;

use crate::args::PredictArgs;
use crate::io;

pub fn run(a: &PredictArgs) -> Result<()> {
    let model = MultiTaskLinearModel::load(&a.model)?;
    let table = io::read_table(&a.x)?;
    let x = match &table.columns {
        None => table.values,
        Some(cols) => {
            // match CSV columns to the model's features by name
            if let Some(unknown) = cols.iter().find(|c| !model.feature_names().contains(c)) {
                bail!(
                    "unknown column '{unknown}' in '{}': the model's features are {}",
                    a.x.display(),
                    model.feature_names().join(", ")
                );
            }
            let mut idx = Vec::with_capacity(model.n_features());
            for f in model.feature_names() {
                match cols.iter().position(|c| c == f) {
                    Some(i) => idx.push(i),
                    None => bail!(
                        "column '{f}' (a feature of the model) is missing from '{}'",
                        a.x.display()
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
