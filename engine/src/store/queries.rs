//! Reading, searching and deleting history.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::codec::{parse, parse_opt, word};
use super::{Store, StoreError};
use crate::event::v1::Upgrader;
use crate::event::{EventKind, ResumedFrom, RunEvent, RunId, Usage};
use crate::owner::OwnerKind;
use crate::snapshot::{LoopRounds, RouteChoice, RunError, RunSnapshot, RunSummary, StepSnapshot};
use crate::status::RunStatus;
use crate::workflow::{Workflow, ids_for_names};

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
                "SELECT r.id, r.workflow_name, r.input, r.status, r.started_at_ms, r.ended_at_ms,
                        u.input_tokens, u.output_tokens, u.estimated, u.cost_usd,
                        CASE WHEN r.owner = 'cluster' AND r.status IN ('pending', 'running', 'waiting')
                             THEN 'cluster' ELSE o.kind END
                 FROM runs r
                 LEFT JOIN owners o ON o.id = r.owner AND o.id != ?8
                      AND r.status IN ('pending', 'running', 'waiting')
                 LEFT JOIN (SELECT run_id, SUM(input_tokens) AS input_tokens,
                                   SUM(output_tokens) AS output_tokens,
                                   MAX(tokens_estimated) AS estimated, SUM(cost_usd) AS cost_usd
                            FROM steps
                            WHERE input_tokens IS NOT NULL OR output_tokens IS NOT NULL
                            GROUP BY run_id) u ON u.run_id = r.id
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
                    self.owner_id,
                ],
                |r| {
                    Ok(RunSummary {
                        run_id: parse_id(&r.get::<_, String>(0)?)?,
                        workflow_name: r.get(1)?,
                        input: r.get(2)?,
                        status: parse(&r.get::<_, String>(3)?)?,
                        started_at_ms: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
                        ended_at_ms: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
                        usage: summed_usage(r, 6)?,
                        owner: r
                            .get::<_, Option<String>>(10)?
                            .as_deref()
                            .and_then(OwnerKind::from_word),
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

    /// The runs that continue this one (`stepwise resume`, "Continue from here"), oldest first.
    pub fn continued_in(&self, id: RunId) -> Result<Vec<RunId>, StoreError> {
        let conn = self.reader();
        continued_in(&conn, id).map_err(|e| self.sql(e))
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

    /// The run's event log, in `seq` order, as subscribers got it (merged deltas aside); a log
    /// written by protocol version 1 is read in today's form (`event::v1`).
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
        let mut upgrader = Upgrader::default();
        let mut events: Vec<RunEvent> = bodies
            .iter()
            .filter_map(|b| upgrader.read(b).ok())
            .collect();
        restore_texts(id, &mut events);
        Ok(events)
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
        // Immediate: take the write lock before reading, so the writer committing meanwhile
        // makes this wait (busy timeout) instead of failing with "database is locked".
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
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
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
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

/// Usage summed in SQL: input, output, estimated, cost from column `at` on (`None` when no
/// step had any).
pub(super) fn summed_usage(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<Usage>> {
    let input: Option<i64> = r.get(at)?;
    let output: Option<i64> = r.get(at + 1)?;
    Ok((input.is_some() || output.is_some()).then(|| Usage {
        input_tokens: input.map(|n| n.clamp(0, i64::from(u32::MAX)) as u32),
        output_tokens: output.map(|n| n.clamp(0, i64::from(u32::MAX)) as u32),
        estimated: r
            .get::<_, Option<bool>>(at + 2)
            .ok()
            .flatten()
            .unwrap_or(false),
        cost_usd: r.get(at + 3).ok().flatten(),
    }))
}

fn parse_id(text: &str) -> rusqlite::Result<RunId> {
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A run as the history keeps it; columns are read by name, so a new one cannot shift the rest.
pub(super) fn read_run(conn: &Connection, id: RunId) -> rusqlite::Result<Option<RunSnapshot>> {
    let key = id.to_string();
    // Runs saved before the step tree named a failed step by its position.
    let mut old_error_step = None;
    let run = conn
        .query_row(
            "SELECT workflow_name, input, status, reason, error_step, error_kind, error_message,
                    final_output, started_at_ms, ended_at_ms, last_seq, error_path,
                    resumed_from, resumed_from_step, owner
             FROM runs WHERE id = ?1",
            params![key],
            |r| {
                let error = match r.get::<_, Option<String>>("error_kind")? {
                    Some(kind) => Some(RunError {
                        path: r.get("error_path")?,
                        kind: parse(&kind)?,
                        message: r
                            .get::<_, Option<String>>("error_message")?
                            .unwrap_or_default(),
                    }),
                    None => None,
                };
                old_error_step = r.get::<_, Option<u32>>("error_step")?;
                Ok(RunSnapshot {
                    run_id: id,
                    workflow_name: r.get("workflow_name")?,
                    input: r.get("input")?,
                    status: parse(&r.get::<_, String>("status")?)?,
                    steps: Vec::new(),
                    final_output: r.get("final_output")?,
                    cancel_reason: parse_opt(r.get("reason")?)?,
                    error,
                    started_at_ms: r.get::<_, Option<i64>>("started_at_ms")?.map(|t| t as u64),
                    ended_at_ms: r.get::<_, Option<i64>>("ended_at_ms")?.map(|t| t as u64),
                    last_seq: r.get::<_, i64>("last_seq")? as u64,
                    resumed_from: match (
                        r.get::<_, Option<String>>("resumed_from")?,
                        r.get::<_, Option<String>>("resumed_from_step")?,
                    ) {
                        (Some(id), step) => Some(ResumedFrom {
                            run_id: parse_id(&id)?,
                            step: step.unwrap_or_default(),
                        }),
                        _ => None,
                    },
                    continued_in: Vec::new(),
                    usage: None,
                    // A live copy of a cluster run says where it runs (a process's id is not
                    // a place to show; a process's live run says so from its endpoint).
                    owner: r
                        .get::<_, Option<String>>("owner")?
                        .as_deref()
                        .and_then(OwnerKind::from_word)
                        .filter(|k| *k == OwnerKind::Cluster)
                        .filter(|_| {
                            parse::<RunStatus>(&r.get::<_, String>("status").unwrap_or_default())
                                .is_ok_and(RunStatus::is_live)
                        }),
                })
            },
        )
        .optional()?;
    let Some(mut run) = run else { return Ok(None) };
    let mut stmt = conn.prepare_cached(
        "SELECT name, model, status, text, started_at_ms, duration_ms, input_tokens, output_tokens,
                path, parent, step_id, kind, branch, round, loop_round, loop_max, route,
                route_reason, note, skipped, tool_calls, reviews, reused, unreviewed,
                tokens_estimated, cost_usd
         FROM steps WHERE run_id = ?1 ORDER BY idx",
    )?;
    run.steps = stmt
        .query_map(params![key], |r| {
            let (input_tokens, output_tokens) = (
                r.get::<_, Option<u32>>("input_tokens")?,
                r.get::<_, Option<u32>>("output_tokens")?,
            );
            let path: Option<String> = r.get("path")?;
            let loop_rounds = match (
                r.get::<_, Option<u32>>("loop_round")?,
                r.get::<_, Option<u32>>("loop_max")?,
            ) {
                (Some(round), Some(max)) => Some(LoopRounds { round, max }),
                _ => None,
            };
            let chosen = match (
                r.get::<_, Option<String>>("route")?,
                r.get::<_, Option<String>>("route_reason")?,
            ) {
                (Some(route), reason) => Some(RouteChoice {
                    route,
                    reason: reason.unwrap_or_default(),
                }),
                _ => None,
            };
            Ok(StepSnapshot {
                name: r.get("name")?,
                model: r.get("model")?,
                status: parse(&r.get::<_, String>("status")?)?,
                text: r.get("text")?,
                started_at_ms: r.get::<_, Option<i64>>("started_at_ms")?.map(|t| t as u64),
                duration_ms: r.get::<_, Option<i64>>("duration_ms")?.map(|t| t as u64),
                usage: (input_tokens.is_some() || output_tokens.is_some()).then_some(Usage {
                    input_tokens,
                    output_tokens,
                    estimated: r.get("tokens_estimated")?,
                    cost_usd: r.get("cost_usd")?,
                }),
                id: r.get::<_, Option<String>>("step_id")?.unwrap_or_default(),
                path: path.unwrap_or_default(),
                parent: r.get("parent")?,
                kind: parse(&r.get::<_, String>("kind")?)?,
                branch: r.get("branch")?,
                round: r.get("round")?,
                rounds: loop_rounds,
                chosen,
                skipped: parse_opt(r.get("skipped")?)?,
                note: r.get("note")?,
                tool_calls: json_list(r, "tool_calls")?,
                reviews: json_list(r, "reviews")?,
                reused: r.get("reused")?,
                unreviewed: r.get("unreviewed")?,
            })
        })?
        .collect::<Result<_, _>>()?;
    // Steps saved before the step tree have no path: a straight line, named by ids made from
    // their names (as `event::v1` names them in the old log).
    if run.steps.iter().any(|s| s.path.is_empty()) {
        let ids = ids_for_names(run.steps.iter().map(|s| s.name.as_str()));
        for (s, id) in run.steps.iter_mut().zip(ids) {
            s.path.clone_from(&id);
            s.id = id;
        }
        if let (Some(e), Some(i)) = (run.error.as_mut(), old_error_step) {
            e.path = run.steps.get(i as usize).map(|s| s.path.clone());
        }
    }
    run.continued_in = continued_in(conn, id)?;
    run.recount_usage();
    // Stored once, in the step that gave it (older histories also kept a copy in the run's row).
    if run.final_output.is_none() && run.status == RunStatus::Completed {
        run.final_output = Some(run.final_text());
    }
    Ok(Some(run))
}

/// The runs that continue this one, oldest first.
pub(super) fn continued_in(conn: &Connection, id: RunId) -> rusqlite::Result<Vec<RunId>> {
    conn.prepare_cached(
        "SELECT id FROM runs WHERE resumed_from = ?1 ORDER BY created_at_ms, rowid",
    )?
    .query_map(params![id.to_string()], |r| {
        parse_id(&r.get::<_, String>(0)?)
    })?
    .collect()
}

/// A JSON list column (NULL: empty).
fn json_list<T: serde::de::DeserializeOwned>(
    r: &rusqlite::Row<'_>,
    column: &str,
) -> rusqlite::Result<Vec<T>> {
    match r.get::<_, Option<String>>(column)? {
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                r.as_ref().column_index(column).unwrap_or(0),
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        }),
        None => Ok(Vec::new()),
    }
}

/// Puts back the texts the writer leaves out of the log (a step's output at its end, the run's
/// output, a cancelled step's partial text), from the deltas before them — the same rules by
/// which the engine made them. Logs that kept them are left as they are.
pub(super) fn restore_texts(id: RunId, events: &mut [RunEvent]) {
    let mut fold = RunSnapshot::new(id);
    for e in events.iter_mut() {
        match &mut e.kind {
            EventKind::StepCompleted { path, output, .. } if output.is_empty() => {
                if let Some(s) = fold.step(path) {
                    output.clone_from(&s.text);
                }
            }
            EventKind::RunCompleted { output, .. } if output.is_empty() => {
                *output = fold.final_text();
            }
            EventKind::RunCancelled { running, .. } => {
                for p in running.iter_mut().filter(|p| p.text.is_empty()) {
                    if let Some(s) = fold.step(&p.path) {
                        p.text.clone_from(&s.text);
                    }
                }
            }
            _ => {}
        }
        fold.apply(e);
    }
}

/// Indexes a finished run's text for search (the index keeps no copy of it).
pub(super) fn index_output(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO runs_fts (rowid, input, output)
         SELECT r.rowid, r.input,
                COALESCE((SELECT group_concat(text, char(10) || char(10))
                          FROM (SELECT text FROM steps WHERE run_id = r.id ORDER BY idx)), '')
         FROM runs r WHERE r.id = ?1",
    )?
    .execute(params![id])?;
    Ok(())
}

/// The words of a text as search sees them: runs of letters and digits.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
}

/// The user's words as an FTS5 query: every word must appear (as a prefix), and nothing the
/// user types can be taken as query syntax.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = words(text).map(|t| format!("\"{t}\"*")).collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Whether `text` matches a search the way the history's search does: every word of the
/// query starts some word of the text, in any case. For runs not in the history yet (or without
/// one), so that a live run and a saved one match the same words the same way.
pub fn matches_search(query: &str, text: &str) -> bool {
    let mut terms = words(query).map(str::to_lowercase).peekable();
    if terms.peek().is_none() {
        return false; // like a query of only punctuation
    }
    let have: Vec<String> = words(text).map(str::to_lowercase).collect();
    terms.all(|t| have.iter().any(|w| w.starts_with(&t)))
}

#[cfg(test)]
mod tests {
    use super::{fts_query, matches_search};

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

    #[test]
    fn live_runs_match_as_the_history_does() {
        assert!(matches_search("tid ENER", "Tidal energy, in short"));
        assert!(
            !matches_search("dal", "tidal energy"),
            "prefixes of words, not any substring"
        );
        assert!(!matches_search("tidal wind", "tidal energy"), "every word");
        assert!(!matches_search(" () ", "anything"));
    }
}
