//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "stepwise",
    version,
    about = "Run Stepwise workflows from a terminal"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// List the built-in templates (id, name, description).
    Templates,
    /// Check a workflow file: prints `ok`, or every problem with its step, field and line.
    Validate { file: PathBuf },
    /// Run a workflow and stream its steps.
    Run(RunArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// A workflow file (.toml) or the id of a built-in template.
    pub workflow: String,
    /// What the workflow should work on.
    #[arg(long)]
    pub input: String,
    /// Print every event as one JSON line (the same form the app's UI receives).
    #[arg(long)]
    pub json: bool,
    /// Cancel the run after this many milliseconds, the way the Cancel button does.
    #[arg(long, value_name = "MS")]
    pub cancel_after_ms: Option<u64>,
    /// Use this model for every step: `demo`, `openai:MODEL`, `anthropic:MODEL`, `ollama:MODEL`.
    #[arg(long)]
    pub model: Option<String>,
}
