//! `stepwise runs`: the runs going on this computer now — in terminals, in the background and
//! in the window — each with where it was started.

use std::process::ExitCode;

use stepwise_engine::control::Client;
use stepwise_engine::{OwnerKind, RunSummary};

use crate::follow::runtime;
use crate::{EXIT_BAD_INPUT, history};

pub fn runs(json: bool, db: &crate::args::DbArg) -> ExitCode {
    let store = match history::open(db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stepwise: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let owners = match store.live_owners() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("stepwise: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    // Each owner says which of its runs go on; one that does not answer has none to show.
    let live: Vec<(OwnerKind, u32, RunSummary)> = runtime.block_on(async {
        let mut live = Vec::new();
        for owner in owners {
            let Ok(client) = Client::new(&owner.endpoint) else {
                continue;
            };
            for run in client.runs().await.unwrap_or_default() {
                if run.status.is_live() {
                    live.push((owner.kind, owner.pid, run));
                }
            }
        }
        live
    });
    if json {
        let rows: Vec<serde_json::Value> = live
            .iter()
            .map(|(kind, pid, run)| serde_json::json!({ "run": run, "owner": kind, "pid": pid }))
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return ExitCode::SUCCESS;
    }
    if live.is_empty() {
        println!("No runs are going on.");
    }
    for (kind, pid, run) in &live {
        println!(
            "{}  {:<24} {:<8} {} (process {pid})",
            run.run_id,
            run.workflow_name,
            run.status.word(),
            kind.words()
        );
    }
    ExitCode::SUCCESS
}
