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
    /// List past runs, newest first.
    History(HistoryArgs),
    /// Show one past run with every step's text.
    Show {
        /// The run's id (or a unique prefix of it).
        run_id: String,
        /// Print the run as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Export one past run.
    Export {
        run_id: String,
        #[arg(long, value_enum, default_value = "md")]
        format: Format,
        #[command(flatten)]
        db: DbArg,
    },
    /// Delete one past run, or all finished runs with --all.
    Delete {
        #[arg(required_unless_present = "all")]
        run_id: Option<String>,
        #[arg(long, conflicts_with = "run_id")]
        all: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Args)]
pub struct DbArg {
    /// The history database (default: `STEPWISE_DB`, else the app's, in your data folder).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Args)]
pub struct HistoryArgs {
    /// Only runs whose input or output contain these words.
    #[arg(long)]
    pub search: Option<String>,
    /// Only runs with this status: completed, failed, cancelled, interrupted, running.
    #[arg(long)]
    pub status: Option<String>,
    /// Only runs of the workflow with this name.
    #[arg(long)]
    pub workflow: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
    /// Print the runs as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DbArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Md,
    Json,
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
    /// Do not record this run in the history.
    #[arg(long)]
    pub no_history: bool,
    /// Let tools that ask first (most MCP tools) run; without it, their calls are declined and
    /// the model is told so.
    #[arg(long)]
    pub allow_tools: bool,
    #[command(flatten)]
    pub db: DbArg,
}
