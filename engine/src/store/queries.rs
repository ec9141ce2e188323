//! Reading, searching and deleting history.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::codec::{parse, parse_opt, word};
use super::{Store, StoreError};
use crate::event::{RunEvent, RunId, Usage};
use crate::snapshot::{RunError, RunSnapshot, RunSummary, StepSnapshot};
use crate::status::RunStatus;
use crate::workflow::Workflow;

/// Which runs to list. Every field narrows; `search` is full-text over input and output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct RunFilter {
    pub status: Option<RunStatus>,
    pub workflow: Option<String>,
    /// Runs created at or after this time (ms since the Unix epoch).
    #[specta(type = Option<u32>)]
    pub since_ms: Option<u64>,
    /// Runs created before this time.
    #[specta(type = Option<u32>)]
    pub until_ms: Option<u64>,
    pub search: Option<String>,
    /// Page size (default 50, at most 500) and how many to skip.
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

impl Store {
    /// Runs matching the filter, newest first.
    pub fn list_runs(&self, f: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let conn = self.reader();
        let query = f.search.as_deref().and_then(fts_query);
        if f.search.is_some() && query.is_none() {
            return Ok(Vec::new()); // a search of only punctuation matches nothing
        }
        let mut stmt = conn
            .prepare_cached(
                "SELECT r.id, r.workflow_name, r.input, r.status, r.started_at_ms, r.ended_at_ms
                 FROM runs r
                 WHERE (?1 IS NULL OR r.status = ?1)
                   AND (?2 IS NULL OR r.workflow_name = ?2)
                   AND (?3 IS NULL OR r.created_at_ms >= ?3)
                   AND (?4 IS NULL OR r.created_at_ms < ?4)
                   AND (?5 IS NULL OR r.rowid IN (SELECT rowid FROM runs_fts WHERE runs_fts MATCH ?5))
                 ORDER BY r.created_at_ms DESC, r.rowid DESC
                 LIMIT ?6 OFFSET ?7",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(
                params![
                    f.status.as_ref().map(word),
                    f.workflow,
                    f.since_ms.map(|t| t as i64),
                    f.until_ms.map(|t| t as i64),
                    query,
                    f.limit.unwrap_or(50).min(500),
                    f.offset.unwrap_or(0),
                ],
                |r| {
                    Ok(RunSummary {
                        run_id: parse_id(&r.get::<_, String>(0)?)?,
                        workflow_name: r.get(1)?,
                        input: r.get(2)?,
                        status: parse(&r.get::<_, String>(3)?)?,
                        started_at_ms: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
                        ended_at_ms: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
                    })
                },
            )
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// One run with every step, as it was last saved.
    pub fn get_run(&self, id: RunId) -> Result<Option<RunSnapshot>, StoreError> {
        let conn = self.reader();
        read_run(&conn, id).map_err(|e| self.sql(e))
    }

    /// The workflow exactly as the run ran it ("Run again").
    pub fn workflow_of(&self, id: RunId) -> Result<Option<Workflow>, StoreError> {
        let conn = self.reader();
        let json: Option<String> = conn
            .query_row(
                "SELECT workflow_json FROM runs WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// The run's event log, in `seq` order.
    pub fn events(&self, id: RunId) -> Result<Vec<RunEvent>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached("SELECT body FROM events WHERE run_id = ?1 ORDER BY seq")
            .map_err(|e| self.sql(e))?;
        let bodies = stmt
            .query_map(params![id.to_string()], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(bodies
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect())
    }

    /// A full run id from a unique prefix of one (as `stepwise show 3f2a` accepts).
    pub fn resolve_id(&self, text: &str) -> Result<Option<RunId>, StoreError> {
        if let Ok(id) = text.parse::<RunId>() {
            return Ok(Some(id));
        }
        let prefix: String = text
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || *c == '-')
            .collect();
        if prefix.is_empty() || prefix.len() != text.len() {
            return Ok(None);
        }
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached("SELECT id FROM runs WHERE id LIKE ?1 || '%' LIMIT 2")
            .map_err(|e| self.sql(e))?;
        let ids = stmt
            .query_map(params![prefix.to_lowercase()], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(match ids.as_slice() {
            [one] => one.parse().ok(),
            _ => None,
        })
    }

    /// Deletes a finished run (and its steps and events). False when there is no such run.
    pub fn delete_run(&self, id: RunId) -> Result<bool, StoreError> {
        let mut conn = self.reader();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        let status: Option<String> = tx
            .query_row(
                "SELECT status FROM runs WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        match status.as_deref() {
            None => return Ok(false),
            Some("pending" | "running") => return Err(StoreError::RunIsLive),
            Some(_) => {}
        }
        tx.execute(
            "DELETE FROM runs_fts WHERE rowid = (SELECT rowid FROM runs WHERE id = ?1)",
            params![id.to_string()],
        )
        .map_err(|e| self.sql(e))?;
        tx.execute("DELETE FROM runs WHERE id = ?1", params![id.to_string()])
            .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(true)
    }

    /// Deletes every finished run; live ones stay. Returns how many were deleted.
    pub fn delete_all(&self) -> Result<usize, StoreError> {
        let mut conn = self.reader();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        tx.execute(
            "DELETE FROM runs_fts WHERE rowid IN (SELECT rowid FROM runs WHERE status NOT IN ('pending', 'running'))",
            [],
        )
        .map_err(|e| self.sql(e))?;
        let n = tx
            .execute(
                "DELETE FROM runs WHERE status NOT IN ('pending', 'running')",
                [],
            )
            .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(n)
    }
}

fn parse_id(text: &str) -> rusqlite::Result<RunId> {
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn read_run(conn: &Connection, id: RunId) -> rusqlite::Result<Option<RunSnapshot>> {
    let key = id.to_string();
    let run = conn
        .query_row(
            "SELECT workflow_name, input, status, reason, error_step, error_kind, error_message,
                    final_output, started_at_ms, ended_at_ms, last_seq
             FROM runs WHERE id = ?1",
            params![key],
            |r| {
                let error = match (r.get::<_, Option<u32>>(4)?, r.get::<_, Option<String>>(5)?) {
                    (Some(step_index), Some(kind)) => Some(RunError {
                        step_index,
                        kind: parse(&kind)?,
                        message: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    }),
                    _ => None,
                };
                Ok(RunSnapshot {
                    run_id: id,
                    workflow_name: r.get(0)?,
                    input: r.get(1)?,
                    status: parse(&r.get::<_, String>(2)?)?,
                    steps: Vec::new(),
                    final_output: r.get(7)?,
                    cancel_reason: parse_opt(r.get(3)?)?,
                    error,
                    started_at_ms: r.get::<_, Option<i64>>(8)?.map(|t| t as u64),
                    ended_at_ms: r.get::<_, Option<i64>>(9)?.map(|t| t as u64),
                    last_seq: r.get::<_, i64>(10)? as u64,
                })
            },
        )
        .optional()?;
    let Some(mut run) = run else { return Ok(None) };
    let mut stmt = conn.prepare_cached(
        "SELECT name, model, status, text, started_at_ms, duration_ms, input_tokens, output_tokens
         FROM steps WHERE run_id = ?1 ORDER BY idx",
    )?;
    run.steps = stmt
        .query_map(params![key], |r| {
            let (input_tokens, output_tokens) =
                (r.get::<_, Option<u32>>(6)?, r.get::<_, Option<u32>>(7)?);
            Ok(StepSnapshot {
                name: r.get(0)?,
                model: r.get(1)?,
                status: parse(&r.get::<_, String>(2)?)?,
                text: r.get(3)?,
                started_at_ms: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
                duration_ms: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
                usage: (input_tokens.is_some() || output_tokens.is_some()).then_some(Usage {
                    input_tokens,
                    output_tokens,
                }),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(run))
}

/// Runs a dead process left `pending` or `running` become `interrupted`, keeping their text.
pub(super) fn mark_interrupted(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute_batch(
        "BEGIN;
         UPDATE steps SET status = CASE status WHEN 'running' THEN 'cancelled' ELSE 'skipped' END
           WHERE status IN ('pending', 'running')
             AND run_id IN (SELECT id FROM runs WHERE status IN ('pending', 'running'));
         UPDATE runs_fts SET output = COALESCE((SELECT group_concat(text, char(10) || char(10))
             FROM (SELECT text FROM steps s JOIN runs r ON s.run_id = r.id
                   WHERE r.rowid = runs_fts.rowid ORDER BY s.idx)), '')
           WHERE rowid IN (SELECT rowid FROM runs WHERE status IN ('pending', 'running'));",
    )?;
    let n = conn.execute(
        "UPDATE runs SET status = 'interrupted',
             ended_at_ms = COALESCE(ended_at_ms, (SELECT MAX(ts_ms) FROM events e WHERE e.run_id = runs.id), created_at_ms)
         WHERE status IN ('pending', 'running')",
        [],
    )?;
    conn.execute_batch("COMMIT;")?;
    Ok(n)
}

/// The user's words as an FTS5 query: every word must appear (as a prefix), and nothing the
/// user types can be taken as query syntax.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{t}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_text_becomes_a_safe_prefix_query() {
        assert_eq!(
            fts_query("tidal energy").as_deref(),
            Some("\"tidal\"* \"energy\"*")
        );
        assert_eq!(
            fts_query("\"a\" OR b*").as_deref(),
            Some("\"a\"* \"OR\"* \"b\"*")
        );
        assert_eq!(fts_query("  ()* "), None);
    }
}
