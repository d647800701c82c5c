//! `mtlkit`: the command-line tool.
//!
//! Parsing happens in two stages: [`args`] holds the raw flags (clap), [`config`] validates them
//! into typed configs, and [`commands`] runs them. Every user error ends in a one-line message on
//! stderr and a non-zero exit code (1 for bad input or IO, 2 for unparsable flags).

mod args;
mod commands;
mod config;
mod io;

use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .format_target(false)
        .init();
    let cli = args::Cli::parse();
    if let Err(e) = commands::run(cli) {
        let msg = format!("{e:#}").replace('\n', " ");
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}
