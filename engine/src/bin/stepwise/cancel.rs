//! `stepwise cancel RUN_ID`: stop a live run wherever it goes on, through its owner's endpoint —
//! the same call the window's Cancel button makes.

use std::process::ExitCode;

use crate::follow::runtime;
use crate::history;
use crate::locate::{Located, locate};

/// Exit codes: stopped it, it had already ended, no such run.
const STOPPED: u8 = 0;
const ALREADY_ENDED: u8 = 1;
const UNKNOWN: u8 = 2;
/// Not on this computer: ask the cluster, if the settings name one.
const ON_CLUSTER: u8 = 255;

pub fn cancel(run_id: &str, db: &crate::args::DbArg) -> ExitCode {
    let store = match history::open(db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stepwise: {e}");
            return ExitCode::from(UNKNOWN);
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let code = runtime.block_on(async {
        match locate(&store, run_id).await {
            Ok(Located::Live { id, client, .. }) => match client.cancel(id).await {
                Ok(true) => {
                    println!("Cancelled run {id}; what its steps wrote is kept.");
                    STOPPED
                }
                Ok(false) => {
                    println!("Run {id} had already ended; nothing to stop.");
                    ALREADY_ENDED
                }
                Err(e) => {
                    // Its owner went away between finding it and asking: the run ended with it.
                    println!("Run {id} is no longer running ({e}).");
                    ALREADY_ENDED
                }
            },
            Ok(Located::Ended(id)) => {
                println!("Run {id} had already ended; nothing to stop.");
                ALREADY_ENDED
            }
            Ok(Located::Unknown) => ON_CLUSTER,
            Err(e) => {
                eprintln!("stepwise: {e}");
                UNKNOWN
            }
        }
    });
    if code != ON_CLUSTER {
        return ExitCode::from(code);
    }
    drop(runtime);
    if let (Some(cluster), Ok(id)) = (crate::cluster::configured(), run_id.parse()) {
        return ExitCode::from(crate::cluster::cancel(&cluster, id));
    }
    eprintln!("stepwise: no run `{run_id}` on this computer (`stepwise runs` lists the live ones)");
    ExitCode::from(UNKNOWN)
}
