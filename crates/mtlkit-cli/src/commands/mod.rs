//! Command implementations.

mod deep;
mod demo;
mod export;
mod fit;
mod plot;
mod predict;
mod relate;
mod select;
mod text;

use anyhow::Result;

use crate::args::{Cli, Command};

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Fit(a) => fit::run(a.try_into()?),
        Command::Predict(a) => predict::run(&a),
        Command::Export(a) => export::run(&a),
        Command::Path(a) => select::run_path(a),
        Command::Cv(a) => select::run_cv(a),
        Command::Demo(a) => demo::run(&a),
        Command::Train(a) => deep::run_train(&a),
        Command::Evaluate(a) => deep::run_evaluate(&a),
        Command::Relate(a) => relate::run(&a),
    }
}
