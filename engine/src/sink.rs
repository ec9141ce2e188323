//! Where a run's record goes besides its subscribers: the history store, or anything else that
//! must see every event of every run, in order.

use crate::event::{RunEvent, RunId};
use crate::snapshot::RunSnapshot;
use crate::workflow::Workflow;

/// Sees every run from its creation on. Both calls happen while the run's state is locked (that
/// is what keeps events in `seq` order), so they must only hand the data off, never block.
pub trait RunSink: Send + Sync + 'static {
    /// A run was accepted: the workflow exactly as it will run, before its first event.
    fn run_created(&self, run_id: RunId, workflow: &Workflow, input: &str, created_at_ms: u64);
    /// Every event of every run, in `seq` order per run.
    fn event(&self, event: &RunEvent);
    /// A run that waited across a quit is going on (`Engine::revive`): its events continue
    /// after `snapshot.last_seq`.
    fn run_revived(&self, _snapshot: &RunSnapshot) {}
    /// A run another process began goes on here (`Engine::take_over`, a cluster worker's):
    /// recorded from `snapshot`, its events continue after `snapshot.last_seq`.
    fn run_taken_over(&self, workflow: &Workflow, snapshot: &RunSnapshot) {
        let started = snapshot.started_at_ms.unwrap_or_default();
        self.run_created(snapshot.run_id, workflow, &snapshot.input, started);
        self.run_revived(snapshot);
    }
    /// Whether a run with this id was ever recorded (so a new run must not take its id).
    /// Called outside any run's lock; it may read a file. An error (the file cannot be read)
    /// refuses the start: "no such run" is not known then.
    fn has_run(&self, _run_id: RunId) -> Result<bool, SinkError> {
        Ok(false)
    }
}

/// The record could not be read; the message says why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);
