//! Runs another place drives that this history keeps a copy of, as this process hears them: a
//! run the app sent to a cluster (§13) is recorded here from the events its worker streams, so
//! History shows it like a local run. Its `owner` in the history is the place's word
//! (`cluster`), never a process's id, so no process is ever taken for its dead owner.

use std::sync::Arc;

use rusqlite::params;

use super::{Store, StoreError, StoreSink, created};
use crate::event::{RunEvent, RunId};
use crate::owner::OwnerKind;
use crate::sink::RunSink;
use crate::snapshot::RunSnapshot;
use crate::workflow::Workflow;

/// Records the runs one place drives, as they are heard.
#[derive(Clone)]
pub struct Mirror {
    sink: Arc<StoreSink>,
    owner: OwnerKind,
}

impl Mirror {
    /// A run was sent there: recorded before its first event.
    pub fn created(&self, run_id: RunId, workflow: &Workflow, input: &str, created_at_ms: u64) {
        let mut c = created(run_id, workflow, input, created_at_ms);
        c.owner = Some(self.owner.word().to_string());
        self.sink.push(|q| q.push_created(c));
    }

    /// Its next event, in `seq` order.
    pub fn event(&self, event: &RunEvent) {
        self.sink.event(event);
    }

    /// The run is now exactly `snapshot` (heard late, or its end heard without its last events):
    /// what was recorded of it is replaced, and its events go on after `snapshot.last_seq`.
    pub fn replace(&self, snapshot: &RunSnapshot) {
        self.sink.push(|q| q.push_replaced(snapshot));
    }
}

impl Store {
    /// Records runs that `owner` (a place, not a process: [`OwnerKind::Cluster`]) drives.
    pub fn mirror(&self, owner: OwnerKind) -> Mirror {
        Mirror {
            sink: Arc::new(self.store_sink()),
            owner,
        }
    }

    /// The runs `owner` drives that the history has as live (pending, running or waiting),
    /// oldest first: the app follows them again when it starts.
    pub fn live_runs_of(&self, owner: OwnerKind) -> Result<Vec<RunId>, StoreError> {
        let conn = self.reader();
        let ids: Vec<String> = conn
            .prepare_cached(
                "SELECT id FROM runs WHERE owner = ?1 AND status IN ('pending', 'running', 'waiting')
                 ORDER BY created_at_ms, rowid",
            )
            .and_then(|mut s| {
                s.query_map(params![owner.word()], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(|e| self.sql(e))?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }
}
