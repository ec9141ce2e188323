//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use stepwise_engine::files::FileLimits;

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
    /// Answer a run that waits for your review: approve, edit FILE, or send-back TEXT. The run
    /// then goes on here.
    Answer(AnswerArgs),
    /// Stop a live run, wherever it runs (this terminal, another one, the background or the
    /// window). Exit 0 if it stopped it, 1 if the run had already ended, 2 for an unknown id.
    Cancel {
        /// The run's id (or a unique prefix of it).
        run_id: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Follow any run live to its end, from its beginning (a run that ended is shown from the
    /// history). Exits as `run` does for the run's outcome.
    Watch {
        /// The run's id (or a unique prefix of it).
        run_id: String,
        /// Print every event as one JSON line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// The runs going on this computer now, and where each was started.
    Runs {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Continue a run that was cancelled, failed or interrupted: a new run that reuses the
    /// outputs of the steps before the one it continues from.
    Resume(ResumeArgs),
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
    /// Print the text Stepwise reads of a file (what `run --file` gives a run), or why there is
    /// none. The file is read in a child process held to time and memory limits.
    Extract {
        file: PathBuf,
        /// Print the answer as one JSON line (what the reading child prints).
        #[arg(long)]
        json: bool,
        /// Refuse a file larger than this.
        #[arg(long, value_name = "BYTES", default_value_t = FileLimits::default().max_file_bytes)]
        max_file_bytes: u64,
        /// The reading process may use no more memory than this.
        #[arg(long, value_name = "BYTES", default_value_t = FileLimits::default().memory_limit_bytes)]
        memory_limit_bytes: u64,
        /// The reading process is stopped after this long.
        #[arg(long, value_name = "MS", default_value_t = FileLimits::default().time_limit_ms)]
        time_limit_ms: u64,
    },
    /// Host runs for a Temporal cluster's task queue: the stepwise-worker program (its
    /// `--help` says the options; `[cluster]` in the settings gives their defaults).
    #[command(disable_help_flag = true)]
    Worker {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
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
    /// Only runs with this status: completed, failed, cancelled, interrupted, running, waiting.
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

#[derive(Args)]
pub struct AnswerArgs {
    /// The run's id (or a unique prefix of it).
    pub run_id: String,
    /// approve, edit or send-back.
    pub action: String,
    /// For edit: the file with the new text (`-`: the standard input). For send-back: the note.
    pub value: Option<String>,
    /// The waiting step's path, when several wait.
    #[arg(long)]
    pub step: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub allow_tools: bool,
    #[command(flatten)]
    pub db: DbArg,
}

#[derive(Args)]
pub struct ResumeArgs {
    /// The run's id (or a unique prefix of it).
    pub run_id: String,
    /// The top-level step to run again from (its id); default: the first that did not finish.
    #[arg(long, value_name = "STEP")]
    pub from: Option<String>,
    /// Run today's version of the workflow (a file or template) instead of the one saved with
    /// the run; its steps before --from must be the same.
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "MS")]
    pub cancel_after_ms: Option<u64>,
    #[arg(long)]
    pub allow_tools: bool,
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
    /// A file whose text the first step gets with the input, under a heading with its name
    /// (repeat for several): text of any encoding, Markdown, CSV, JSON, HTML, XML, logs,
    /// subtitles. Every file is read before the run starts; one that cannot be is said by name.
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
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
    #[arg(long, conflicts_with = "background")]
    pub no_history: bool,
    /// Print the run's id and return at once; the run goes on in the Stepwise window if it is
    /// open, else in a stepwise process of its own (`stepwise watch ID`, `stepwise cancel ID`).
    #[arg(long, conflicts_with_all = ["json", "cancel_after_ms"])]
    pub background: bool,
    /// Set by `--background` for the process it starts: the input (with its files' text) is
    /// in this file, which is removed once read.
    #[arg(long, hide = true, value_name = "PATH", requires = "detached_run_id")]
    pub input_file: Option<PathBuf>,
    /// Set by `--background` for the process it starts: own the run with this id.
    #[arg(long, hide = true, value_name = "RUN_ID")]
    pub detached_run_id: Option<stepwise_engine::RunId>,
    /// Let tools that ask first (most MCP tools) run; without it, their calls are declined and
    /// the model is told so.
    #[arg(long)]
    pub allow_tools: bool,
    /// Where the run goes: `here` (this computer) or `cluster` (the Temporal cluster in the
    /// settings' [cluster]; `stepwise watch|cancel|answer` reach it there).
    #[arg(long, value_enum, default_value = "here", conflicts_with_all = ["cancel_after_ms", "no_history"])]
    pub on: Where,
    #[command(flatten)]
    pub db: DbArg,
}

/// Where a run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Where {
    Here,
    Cluster,
}
