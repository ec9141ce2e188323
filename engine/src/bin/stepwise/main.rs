//! `stepwise`: run Stepwise workflows from a terminal.
//!
//! Exit codes: 0 completed, 1 failed, 130 cancelled, 2 bad input, 3 waiting for your review
//! (`stepwise answer`). `stepwise cancel`: 0 stopped, 1 already ended, 2 unknown id.
//!
//! Every `stepwise` process that runs runs serves a control endpoint (`stepwise_engine::control`),
//! so `cancel`, `watch`, `answer` and `runs` reach a run wherever it goes on.

mod args;
mod background;
mod cancel;
mod cluster;
mod config;
mod endpoint;
mod extract;
mod follow;
mod history;
mod human;
mod locate;
mod pick_up;
mod run;
mod runs;
mod watch;

use std::process::ExitCode;

use clap::Parser;
use stepwise_engine::workflow::{self, templates};

use args::{Cli, Command};

/// Bad input: unknown template, invalid file, empty input, bad option value.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Templates => {
            for t in templates::all() {
                let w = &t.workflow;
                println!("{:<20} {:<24} {}", t.id, w.name, w.description);
            }
            ExitCode::SUCCESS
        }
        Command::Validate { file } => match workflow::parse_file(&file) {
            Ok(_) => {
                println!("ok");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
        Command::Run(args) => run::run(args),
        Command::Answer(args) => pick_up::answer(args),
        Command::Cancel { run_id, db } => cancel::cancel(&run_id, &db),
        Command::Watch { run_id, json, db } => watch::watch(&run_id, json, &db),
        Command::Runs { json, db } => runs::runs(json, &db),
        Command::Resume(args) => pick_up::resume(args),
        Command::History(args) => history::list(args),
        Command::Show { run_id, json, db } => history::show(&run_id, json, db),
        Command::Export { run_id, format, db } => history::export(&run_id, format, db),
        Command::Delete { run_id, all, db } => history::delete(run_id.as_deref(), all, db),
        Command::Worker { args } => cluster::worker(&args),
        Command::Extract {
            file,
            json,
            max_file_bytes,
            memory_limit_bytes,
            time_limit_ms,
        } => {
            let limits = stepwise_engine::files::FileLimits {
                max_file_bytes,
                memory_limit_bytes,
                time_limit_ms,
            };
            extract::extract(&file, json, limits)
        }
    }
}
