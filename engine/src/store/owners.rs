//! Who owns a live run, and what happens to the runs of an owner that died: each process that
//! runs runs holds a lock on a file named by its owner id (`owners/` beside the history); a run
//! whose owner's file nobody holds is `interrupted`, keeping its text.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior, params};

use super::codec::word;
use super::queries::index_output;
use crate::status::StepStatus;

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
