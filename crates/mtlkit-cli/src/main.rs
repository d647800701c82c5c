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
        eprintln!("error: {}", one_line(&e));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, `a: b: c`, leaving out a cause whose text the
/// message so far already ends with (errors that print their source themselves).
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        if msg.is_empty() {
            msg = text;
        } else if !msg.ends_with(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}
