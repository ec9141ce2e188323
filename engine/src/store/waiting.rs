//! Runs that wait for a person across a quit: the history keeps them `waiting`, and the next
//! Stepwise process to open it takes them over (`Engine::revive`) — the app at start-up, or
//! `stepwise answer`. One process at a time: a run stays with the process that holds it while
//! that process lives.

use rusqlite::{OptionalExtension, params};

use super::owners::{interrupt, owner_is_dead};
use super::{Store, StoreError, owners_dir};
use crate::event::RunId;
use crate::snapshot::RunSnapshot;
use crate::workflow::Workflow;

/// What `Store::take_waiting` found.
#[derive(Debug)]
pub enum Waiting {
    /// The run, rebuilt from its event log, and its workflow: it is this process's now.
    Ready {
        snapshot: Box<RunSnapshot>,
        workflow: Box<Workflow>,
    },
    /// Another Stepwise process that is still running holds it (the window, usually).
    Elsewhere,
    /// It does not wait (any more). A run saved `waiting` that cannot go on (something else was
    /// running when its process died, or its log is incomplete) is marked interrupted here.
    NotWaiting,
}

impl Store {
    /// The runs saved as waiting for a person, oldest first.
    pub fn waiting_run_ids(&self) -> Result<Vec<RunId>, StoreError> {
        let conn = self.reader();
        let ids: Vec<String> = conn
            .prepare_cached(
                // A run a cluster holds waits there, not here.
                "SELECT id FROM runs WHERE status = 'waiting' AND owner IS NOT 'cluster'
                 ORDER BY created_at_ms, rowid",
            )
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(|e| self.sql(e))?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Lets go of this process's waiting runs (at a quit, once they are saved): the next
    /// process to open the history may take them up.
    pub fn release_waiting(&self) -> Result<usize, StoreError> {
        self.reader()
            .execute(
                "UPDATE runs SET owner = NULL WHERE status = 'waiting' AND owner = ?1",
                params![self.owner_id],
            )
            .map_err(|e| self.sql(e))
    }

    /// Takes over a waiting run for this process, rebuilt from its events.
    pub fn take_waiting(&self, id: RunId) -> Result<Waiting, StoreError> {
        let key = id.to_string();
        let row: Option<(String, Option<String>, i64)> = self
            .reader()
            .query_row(
                "SELECT status, owner, last_seq FROM runs WHERE id = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let Some((status, owner, last_seq)) = row else {
            return Ok(Waiting::NotWaiting);
        };
        if status != "waiting" {
            return Ok(Waiting::NotWaiting);
        }
        if let Some(owner) = owner.filter(|o| *o != self.owner_id)
            && !owner_is_dead(&owners_dir(&self.path), &owner)
        {
            return Ok(Waiting::Elsewhere);
        }
        let mut snapshot = RunSnapshot::new(id);
        for e in self.events(id)? {
            snapshot.apply(&e);
        }
        let workflow = self.workflow_of(id)?;
        let conn = self.reader();
        match workflow {
            Some(workflow)
                if snapshot.last_seq == last_seq as u64 && snapshot.can_wait_across_restart() =>
            {
                conn.execute(
                    "UPDATE runs SET owner = ?2 WHERE id = ?1",
                    params![key, self.owner_id],
                )
                .map_err(|e| self.sql(e))?;
                Ok(Waiting::Ready {
                    snapshot: Box::new(snapshot),
                    workflow: Box::new(workflow),
                })
            }
            _ => {
                interrupt(&conn, &key).map_err(|e| self.sql(e))?;
                Ok(Waiting::NotWaiting)
            }
        }
    }
}
