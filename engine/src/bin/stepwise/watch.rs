//! `stepwise watch RUN_ID`: follow any run on this computer live to its end, from its first
//! event — through its owner's endpoint while it goes on, from the history once it has ended.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use stepwise_engine::control::Client;
use stepwise_engine::store::Store;
use stepwise_engine::{EventKind, RunEvent, RunId, RunStatus};

use crate::follow::{EXIT_CANCELLED, EXIT_FAILED, EXIT_WAITING, runtime, write_event};
use crate::human::HumanView;
use crate::locate::{Located, locate};
use crate::{EXIT_BAD_INPUT, history};

pub fn watch(run_id: &str, json: bool, db: &crate::args::DbArg) -> ExitCode {
    let store = match history::open(db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stepwise: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::from(EXIT_FAILED);
    };
    let here = runtime.block_on(async {
        let mut view = View::stdout(json);
        match locate(&store, run_id).await {
            Ok(Located::Live { id, client, .. }) => view.live(&store, &client, id).await,
            Ok(Located::Ended(id)) => view.saved(&store, id),
            Ok(Located::Unknown) => return None,
            Err(e) => {
                eprintln!("stepwise: {e}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        }
        .into()
    });
    if let Some(code) = here {
        return code;
    }
    drop(runtime);
    // Not on this computer: on the cluster, if the settings name one.
    if let (Some(cluster), Ok(id)) = (crate::cluster::configured(), run_id.parse()) {
        return crate::cluster::watch(&cluster, id, json);
    }
    eprintln!("stepwise: no run `{run_id}` on this computer or in the history");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// A run's events as a watcher shows them (also a cluster run's: `cluster.rs`).
pub(crate) struct View<W: Write> {
    pub out: W,
    human: HumanView,
    pub json: bool,
    /// The last event shown: a reconnect or the history goes on after it.
    pub last_seq: u64,
    /// The terminal event's outcome, once shown.
    pub outcome: Option<RunStatus>,
}

impl View<BufWriter<io::StdoutLock<'static>>> {
    pub fn stdout(json: bool) -> Self {
        View {
            out: BufWriter::new(io::stdout().lock()),
            human: HumanView::default(),
            json,
            last_seq: 0,
            outcome: None,
        }
    }
}

impl<W: Write> View<W> {
    /// Follows the owner's stream; if it ends before the run did (the owner dropped a watcher
    /// that fell behind, or it went away), asks again from the last event, and when the owner is
    /// gone, shows the rest from the history.
    async fn live(&mut self, store: &Store, client: &Client, id: RunId) -> ExitCode {
        while self.outcome.is_none() {
            let Ok(mut events) = client.events(id, self.last_seq).await else {
                break;
            };
            let before = self.last_seq;
            while let Some(Ok(event)) = events.next().await {
                if self.show(&event).is_err() {
                    return ExitCode::from(EXIT_FAILED); // nobody reads any more
                }
            }
            if self.last_seq == before {
                break; // nothing new: do not ask in a loop
            }
        }
        if self.outcome.is_none() {
            // The owner has gone: its runs are interrupted in the history.
            let _ = store.recover_interrupted();
            return self.saved(store, id);
        }
        self.exit_code()
    }

    /// Shows the saved events after the last one shown.
    fn saved(&mut self, store: &Store, id: RunId) -> ExitCode {
        let events = match store.events(id) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("stepwise: {e}");
                return ExitCode::from(EXIT_FAILED);
            }
        };
        let after = self.last_seq;
        for event in events.iter().filter(|e| e.seq > after) {
            if self.show(event).is_err() {
                return ExitCode::from(EXIT_FAILED);
            }
        }
        if self.outcome.is_none() {
            // No terminal event: interrupted, or waiting for a review.
            self.outcome = store.get_run(id).ok().flatten().map(|s| s.status);
            if let Some(status) = self.outcome {
                let _ = writeln!(self.out, "\nThe run is {}.", status.word());
            }
        }
        let _ = self.out.flush();
        self.exit_code()
    }

    pub fn show(&mut self, event: &RunEvent) -> io::Result<()> {
        write_event(&mut self.out, &mut self.human, event, self.json)?;
        self.out.flush()?;
        self.last_seq = event.seq;
        self.outcome = match &event.kind {
            EventKind::RunCompleted { .. } => Some(RunStatus::Completed),
            EventKind::RunFailed { .. } => Some(RunStatus::Failed),
            EventKind::RunCancelled { .. } => Some(RunStatus::Cancelled),
            _ => self.outcome,
        };
        Ok(())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.outcome {
            Some(RunStatus::Completed) => ExitCode::SUCCESS,
            Some(RunStatus::Cancelled) => ExitCode::from(EXIT_CANCELLED),
            Some(RunStatus::Waiting) => ExitCode::from(EXIT_WAITING),
            _ => ExitCode::from(EXIT_FAILED),
        }
    }
}
