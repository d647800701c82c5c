//! Command implementations.

mod demo;
mod export;
mod fit;
mod predict;

use anyhow::Result;

use crate::args::{Cli, Command};

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Fit(a) => fit::run(a.try_into()?),
        Command::Predict(a) => predict::run(&a),
        Command::Export(a) => export::run(&a),
        Command::Demo(a) => demo::run(&a),
    }
}
