//! The schema and its migrations. `PRAGMA user_version` is the number of migrations applied;
//! each runs once, in a transaction. A database from a newer Stepwise is refused, untouched.

use rusqlite::Connection;

use super::StoreError;

/// In order:
/// - Version 1: runs, steps, the event log.
/// - Version 2: full-text search over input and output.
/// - Version 3: text is stored once — the search index keeps no copy of it (contentless), the
///   event log no copy of a step's text at its end (restored on reading), and `final_output` is
///   read from the last step; runs name the process that owns them while they are live.
/// - Version 4: the step tree — a step is known by its path (older rows have none: their path
///   is their id, made from the name when read), with its kind and what the tree shows of it.
/// - Version 5: a step's tool calls.
/// - Version 6: reviews, reuse and continued runs.
/// - Version 7: tokens and cost (estimated counts, cost in dollars).
/// - Version 8: owners — each live Stepwise process, its kind and its control endpoint.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE runs (
        id             TEXT PRIMARY KEY,
        workflow_name  TEXT NOT NULL,
        workflow_json  TEXT NOT NULL,      -- the workflow exactly as it ran
        input          TEXT NOT NULL,
        status         TEXT NOT NULL,
        reason         TEXT,               -- why a cancelled run was cancelled
        error_step     INTEGER,
        error_kind     TEXT,
        error_message  TEXT,
        final_output   TEXT,
        created_at_ms  INTEGER NOT NULL,
        started_at_ms  INTEGER,
        ended_at_ms    INTEGER,
        last_seq       INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_created ON runs (created_at_ms DESC);
    CREATE INDEX runs_by_status ON runs (status);
    CREATE TABLE steps (
        run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        idx            INTEGER NOT NULL,
        name           TEXT NOT NULL,
        model          TEXT NOT NULL,
        status         TEXT NOT NULL,
        text           TEXT NOT NULL DEFAULT '',
        started_at_ms  INTEGER,
        duration_ms    INTEGER,
        input_tokens   INTEGER,
        output_tokens  INTEGER,
        PRIMARY KEY (run_id, idx)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq     INTEGER NOT NULL,
        ts_ms   INTEGER NOT NULL,
        type    TEXT NOT NULL,
        body    TEXT NOT NULL,            -- the event's JSON, exactly as subscribers got it
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;",
    // The index shares the rowid of `runs`; existing runs are indexed as the migration runs.
    "CREATE VIRTUAL TABLE runs_fts USING fts5 (input, output);
    INSERT INTO runs_fts (rowid, input, output)
        SELECT r.rowid, r.input,
               COALESCE((SELECT group_concat(text, char(10) || char(10))
                         FROM (SELECT text FROM steps WHERE run_id = r.id ORDER BY idx)), '')
        FROM runs r;",
    "ALTER TABLE runs ADD COLUMN owner TEXT;
    DROP TABLE runs_fts;
    CREATE VIRTUAL TABLE runs_fts USING fts5 (input, output, content = '', contentless_delete = 1);
    INSERT INTO runs_fts (rowid, input, output)
        SELECT r.rowid, r.input,
               COALESCE((SELECT group_concat(text, char(10) || char(10))
                         FROM (SELECT text FROM steps WHERE run_id = r.id ORDER BY idx)), '')
        FROM runs r;
    UPDATE events SET body = json_set(body, '$.output', '')
        WHERE type IN ('StepCompleted', 'RunCompleted');
    UPDATE events SET body = json_set(body, '$.partial_output', '') WHERE type = 'RunCancelled';
    UPDATE runs SET final_output = NULL;",
    "ALTER TABLE steps ADD COLUMN path TEXT;
    ALTER TABLE steps ADD COLUMN parent TEXT;
    ALTER TABLE steps ADD COLUMN step_id TEXT;
    ALTER TABLE steps ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent';
    ALTER TABLE steps ADD COLUMN branch TEXT;
    ALTER TABLE steps ADD COLUMN round INTEGER;
    ALTER TABLE steps ADD COLUMN loop_round INTEGER;
    ALTER TABLE steps ADD COLUMN loop_max INTEGER;
    ALTER TABLE steps ADD COLUMN route TEXT;
    ALTER TABLE steps ADD COLUMN route_reason TEXT;
    ALTER TABLE steps ADD COLUMN skipped TEXT;
    ALTER TABLE steps ADD COLUMN note TEXT;
    ALTER TABLE runs ADD COLUMN error_path TEXT;",
    // A step's tool calls, as the JSON of the snapshot's `tool_calls` (NULL: none).
    "ALTER TABLE steps ADD COLUMN tool_calls TEXT;",
    // Reviews (JSON of the snapshot's `reviews`, NULL: none), reused steps, and the run a run
    // continues. `waiting` is a new status: such runs are not interrupted at start-up.
    "ALTER TABLE steps ADD COLUMN reviews TEXT;
    ALTER TABLE steps ADD COLUMN reused INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE steps ADD COLUMN unreviewed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN resumed_from TEXT;
    ALTER TABLE runs ADD COLUMN resumed_from_step TEXT;
    CREATE INDEX runs_by_resumed_from ON runs (resumed_from) WHERE resumed_from IS NOT NULL;",
    // Tokens and cost: whether a step's counts were estimated (its stream was cut short), and
    // what they cost at the prices of the day.
    "ALTER TABLE steps ADD COLUMN tokens_estimated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE steps ADD COLUMN cost_usd REAL;",
    // The processes that own live runs and where to reach them (`control/`). A row lives as
    // long as its process: removed at its end, or by whoever finds the process dead.
    "CREATE TABLE owners (
        id             TEXT PRIMARY KEY,
        kind           TEXT NOT NULL,
        endpoint       TEXT NOT NULL,
        pid            INTEGER NOT NULL,
        started_at_ms  INTEGER NOT NULL
    );",
];

pub(super) const VERSION: u32 = MIGRATIONS.len() as u32;

pub(super) fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the schema up to [`VERSION`].
pub(super) fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let sql = |e: rusqlite::Error| StoreError::from_sqlite(&e, path);
    let found = version(conn).map_err(sql)?;
    if found > VERSION {
        return Err(StoreError::TooNew {
            path: path.to_string(),
            found,
            supported: VERSION,
        });
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(migration).map_err(sql)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}
