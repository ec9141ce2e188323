//! Who owns a live run, and what happens to the runs of an owner that died: each process that
//! runs runs holds a lock on a file named by its owner id (`owners/` beside the history); a run
//! whose owner's file nobody holds is `interrupted`, keeping its text.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::codec::word;
use super::queries::index_output;
use super::{Store, StoreError, owners_dir};
use crate::event::RunId;
use crate::owner::{Owner, OwnerKind};
use crate::status::StepStatus;

impl Store {
    /// This process's owner id: the one its runs carry in the history.
    pub fn owner_id(&self) -> &str {
        &self.owner_id
    }

    /// Records this process as an owner reachable at `endpoint`, so that other processes can
    /// follow, answer and cancel its runs. The row goes when the store closes.
    pub fn announce(&self, kind: OwnerKind, endpoint: &Path) -> Result<(), StoreError> {
        self.reader()
            .execute(
                "INSERT OR REPLACE INTO owners (id, kind, endpoint, pid, started_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    self.owner_id,
                    kind.word(),
                    endpoint.to_string_lossy(),
                    std::process::id(),
                    crate::run::now_ms() as i64
                ],
            )
            .map(drop)
            .map_err(|e| self.sql(e))
    }

    /// The owners whose process is alive, this one included if it announced itself.
    pub fn live_owners(&self) -> Result<Vec<Owner>, StoreError> {
        let owners = {
            let conn = self.reader();
            let mut stmt = conn
                .prepare_cached("SELECT id, kind, endpoint, pid FROM owners ORDER BY started_at_ms")
                .map_err(|e| self.sql(e))?;
            stmt.query_map([], read_owner)
                .map_err(|e| self.sql(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.sql(e))?
        };
        let dir = owners_dir(&self.path);
        Ok(owners
            .into_iter()
            .flatten()
            .filter(|o| o.id == self.owner_id || !owner_is_dead(&dir, &o.id))
            .collect())
    }

    /// The live owner of a run that is live in the history (`None`: the run has ended, is
    /// unknown, or its owner is gone).
    pub fn owner_of(&self, run: RunId) -> Result<Option<Owner>, StoreError> {
        let owner = self
            .reader()
            .query_row(
                "SELECT o.id, o.kind, o.endpoint, o.pid FROM runs r JOIN owners o ON o.id = r.owner
                 WHERE r.id = ?1 AND r.status IN ('pending', 'running', 'waiting')",
                params![run.to_string()],
                read_owner,
            )
            .optional()
            .map_err(|e| self.sql(e))?
            .flatten();
        let dir = owners_dir(&self.path);
        Ok(owner.filter(|o| o.id == self.owner_id || !owner_is_dead(&dir, &o.id)))
    }

    /// This process no longer answers for runs (it is closing).
    pub(super) fn withdraw(&self) {
        let _ = self
            .reader()
            .execute("DELETE FROM owners WHERE id = ?1", params![self.owner_id]);
    }
}

/// A row of `owners`; `None` for a kind this version does not know (a newer Stepwise's).
fn read_owner(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Owner>> {
    let kind: String = r.get(1)?;
    let endpoint: String = r.get(2)?;
    Ok(OwnerKind::from_word(&kind).map(|kind| Owner {
        id: r.get::<_, String>(0).unwrap_or_default(),
        kind,
        endpoint: PathBuf::from(endpoint),
        pid: r.get::<_, i64>(3).map(|p| p as u32).unwrap_or(0),
    }))
}

/// Runs whose owning process has died become `interrupted`: another process sharing the file
/// (the app while a `stepwise run` crashed, or the other way round) notices when it can take the
/// dead owner's lock file. Returns how many runs it marked.
pub(super) fn recover_dead_owners(
    conn: &Connection,
    me: &str,
    owners: &Path,
) -> rusqlite::Result<usize> {
    let candidates: Vec<String> = conn
        .prepare_cached(
            "SELECT DISTINCT owner FROM runs
             WHERE status IN ('pending', 'running') AND owner IS NOT NULL AND owner != ?1",
        )?
        .query_map(params![me], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut marked = 0;
    for owner in candidates {
        if owner_is_dead(owners, &owner) {
            marked += mark_interrupted(conn, Some(&owner))?;
            conn.execute("DELETE FROM owners WHERE id = ?1", params![owner])?;
            let _ = std::fs::remove_file(owners.join(&owner));
        }
    }
    Ok(marked)
}

/// Whether the Stepwise process that owns runs as `owner` has ended (nobody holds its file).
pub(super) fn owner_is_dead(owners: &Path, owner: &str) -> bool {
    // Owner ids are uuids we made; anything else is not a file name to touch.
    if owner.parse::<uuid::Uuid>().is_err() {
        return false;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .open(owners.join(owner))
    {
        Ok(f) => f.try_lock().is_ok(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Runs a dead process left `pending` or `running` become `interrupted`, keeping their text:
/// every such run, or only those of one owner.
pub(super) fn mark_interrupted(conn: &Connection, owner: Option<&str>) -> rusqlite::Result<usize> {
    // Immediate: it reads, then writes, while another process may be writing.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM runs WHERE status IN ('pending', 'running')
               AND (?1 IS NULL OR owner = ?1)",
        )?
        .query_map(params![owner], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        interrupt(&tx, id)?;
    }
    tx.commit()?;
    Ok(ids.len())
}

/// Marks one run interrupted, keeping its text: its running (or waiting) steps were stopped,
/// the ones that had not started never ran.
pub(super) fn interrupt(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE steps SET status = CASE status WHEN 'pending' THEN ?3 ELSE ?2 END,
                          unreviewed = (status = 'waiting')
         WHERE run_id = ?1 AND status IN ('pending', 'running', 'waiting')",
    )?
    .execute(params![
        id,
        word(&StepStatus::Cancelled),
        word(&StepStatus::Skipped)
    ])?;
    conn.prepare_cached(
        "UPDATE runs SET status = 'interrupted',
             ended_at_ms = COALESCE(ended_at_ms, (SELECT MAX(ts_ms) FROM events e WHERE e.run_id = runs.id), created_at_ms)
         WHERE id = ?1",
    )?
    .execute(params![id])?;
    index_output(conn, id)
}
