//! The one thread that writes history. It folds each run's events into a snapshot (the same fold
//! the engine uses) and writes in batches: one transaction at most every [`BATCH_INTERVAL`] or
//! [`BATCH_MAX`] messages, and at once when someone asks for a flush (the app on exit).
//!
//! Step text is written from the snapshot, not appended, so a batch that fails (a full disk) is
//! repaired by the next one that succeeds: what is saved is always a prefix of what was shown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, params};

use super::codec::word;
use crate::event::{RunEvent, RunId};
use crate::snapshot::RunSnapshot;
use crate::status::StepStatus;

pub(super) const BATCH_INTERVAL: Duration = Duration::from_millis(250);
/// Queued messages that cut a batch interval short.
pub(super) const BATCH_MAX: usize = 5_000;
/// At most this many messages go into one transaction, so a writer that has fallen behind holds
/// a bounded amount in memory; it goes straight on to the next batch.
const MAX_PER_COMMIT: usize = 20_000;
/// While writes keep failing, how often to try again.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Past this many unsaved events (writes failing for a long time), the oldest event-log rows are
/// given up; runs and their text are still saved once writing works again.
const MAX_UNSAVED_EVENTS: usize = 500_000;

pub(super) enum Msg {
    Created(Created),
    Event(RunEvent),
    /// Commit everything sent so far, then answer.
    Flush(Sender<Result<(), String>>),
    /// Commit and stop.
    Shutdown(Sender<Result<(), String>>),
}

pub(super) struct Created {
    pub run_id: RunId,
    pub workflow_name: String,
    pub workflow_json: String,
    pub input: String,
    pub created_at_ms: u64,
}

/// The last write error, if the last write failed; shared with the store for `health`.
pub(super) type Health = Arc<Mutex<Option<String>>>;

/// Lets senders cut the writer's batch interval short (see [`Writer::run`]).
#[derive(Default)]
pub(super) struct Signal {
    /// A flush or shutdown is waiting, or the batch is full: write now.
    pub urgent: AtomicBool,
    /// Messages sent since the writer last took the queue.
    pub queued: AtomicUsize,
}

struct EventRow {
    run_id: String,
    seq: i64,
    ts_ms: i64,
    kind: &'static str,
    body: String,
}

/// A run the writer is following, and what of it is already on disk.
struct Live {
    snapshot: RunSnapshot,
    written: Vec<Option<(StepStatus, usize)>>,
    dirty: bool,
    ended: bool,
}

pub(super) struct Writer {
    conn: Connection,
    health: Health,
    interval: Duration,
    created: Vec<Created>,
    rows: Vec<EventRow>,
    live: HashMap<RunId, Live>,
}

impl Writer {
    pub fn new(conn: Connection, health: Health, interval: Duration) -> Self {
        Writer {
            conn,
            health,
            interval,
            created: Vec::new(),
            rows: Vec::new(),
            live: HashMap::new(),
        }
    }

    /// One wake-up per batch: the first message wakes the writer, which then parks until the
    /// batch interval is up — or until a flush, a shutdown or a full batch unparks it — and takes
    /// everything queued in one transaction. (Waking per event would cost a context switch per
    /// token and compete with the runs for the CPU.)
    pub fn run(mut self, rx: Receiver<Msg>, signal: Arc<Signal>) {
        let mut replies = Vec::new();
        let mut behind = false;
        loop {
            // Wait for work; while unsaved work remains after a failure, wake up to retry.
            let first = if behind {
                rx.try_recv().ok()
            } else if self.pending() {
                match rx.recv_timeout(RETRY_INTERVAL) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        // A last try; a failure stays in `health`.
                        let _ = self.commit();
                        return;
                    }
                }
            } else {
                match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => return,
                }
            };
            let deadline = Instant::now() + self.interval;
            while !behind && !signal.urgent.load(Ordering::Acquire) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::park_timeout(left);
            }
            signal.urgent.store(false, Ordering::Release);
            signal.queued.store(0, Ordering::Release);
            let mut stop = false;
            let mut taken = 0;
            for msg in first
                .into_iter()
                .chain(std::iter::from_fn(|| rx.try_recv().ok()))
            {
                taken += 1;
                match msg {
                    Msg::Created(c) => self.created(c),
                    Msg::Event(e) => self.event(e),
                    Msg::Flush(reply) => replies.push(reply),
                    Msg::Shutdown(reply) => {
                        replies.push(reply);
                        stop = true;
                        break;
                    }
                }
                if taken == MAX_PER_COMMIT {
                    break;
                }
            }
            behind = taken == MAX_PER_COMMIT;
            let result = self.commit();
            for reply in replies.drain(..) {
                let _ = reply.send(result.clone());
            }
            if stop {
                return;
            }
        }
    }

    fn pending(&self) -> bool {
        !self.created.is_empty() || !self.rows.is_empty() || self.live.values().any(|l| l.dirty)
    }

    fn created(&mut self, c: Created) {
        self.live.insert(
            c.run_id,
            Live {
                snapshot: RunSnapshot::new(c.run_id),
                written: Vec::new(),
                dirty: true,
                ended: false,
            },
        );
        self.created.push(c);
    }

    fn event(&mut self, e: RunEvent) {
        // Runs that started before this store was attached are not recorded.
        let Some(live) = self.live.get_mut(&e.run_id) else {
            return;
        };
        live.snapshot.apply(&e);
        live.dirty = true;
        live.ended |= e.kind.is_terminal();
        self.rows.push(EventRow {
            run_id: e.run_id.to_string(),
            seq: e.seq as i64,
            ts_ms: e.ts_ms as i64,
            kind: e.kind.type_name(),
            body: serde_json::to_string(&e).unwrap_or_default(),
        });
    }

    /// Writes everything unsaved in one transaction. On failure nothing is marked saved, so the
    /// next commit tries again; the error is kept for `Store::health`.
    fn commit(&mut self) -> Result<(), String> {
        if !self.pending() {
            return Ok(());
        }
        let result = self.try_commit();
        let mut health = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok(()) => {
                *health = None;
                self.created.clear();
                self.rows.clear();
                self.live.retain(|_, l| !l.ended);
                for l in self.live.values_mut() {
                    l.dirty = false;
                }
            }
            Err(e) => {
                *health = Some(e.clone());
                if self.rows.len() > MAX_UNSAVED_EVENTS {
                    self.rows.clear();
                    *health = Some(format!("{e} (part of the event log could not be kept)"));
                }
            }
        }
        result
    }

    fn try_commit(&mut self) -> Result<(), String> {
        let tx = self.conn.transaction().map_err(|e| e.to_string())?;
        for c in &self.created {
            insert_run(&tx, c).map_err(|e| e.to_string())?;
        }
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO events (run_id, seq, ts_ms, type, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| e.to_string())?;
            for r in &self.rows {
                stmt.execute(params![r.run_id, r.seq, r.ts_ms, r.kind, r.body])
                    .map_err(|e| e.to_string())?;
            }
        }
        let mut written = Vec::new();
        for (id, live) in self.live.iter().filter(|(_, l)| l.dirty) {
            written.push((*id, write_run(&tx, live).map_err(|e| e.to_string())?));
        }
        tx.commit().map_err(|e| e.to_string())?;
        for (id, w) in written {
            if let Some(l) = self.live.get_mut(&id) {
                l.written = w;
            }
        }
        Ok(())
    }
}

fn insert_run(tx: &Transaction<'_>, c: &Created) -> rusqlite::Result<()> {
    let id = c.run_id.to_string();
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO runs (id, workflow_name, workflow_json, input, status, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
        )?
        .execute(params![id, c.workflow_name, c.workflow_json, c.input, c.created_at_ms as i64])?;
    if inserted == 1 {
        tx.prepare_cached(
            "INSERT INTO runs_fts (rowid, input, output) SELECT rowid, input, '' FROM runs WHERE id = ?1",
        )?
        .execute(params![id])?;
    }
    Ok(())
}

/// Writes a run's row and the steps that changed; returns what is now on disk of each step.
fn write_run(
    tx: &Transaction<'_>,
    live: &Live,
) -> rusqlite::Result<Vec<Option<(StepStatus, usize)>>> {
    let s = &live.snapshot;
    let id = s.run_id.to_string();
    let error = s.error.as_ref();
    tx.prepare_cached(
        "UPDATE runs SET status = ?2, reason = ?3, error_step = ?4, error_kind = ?5, error_message = ?6,
                final_output = ?7, started_at_ms = ?8, ended_at_ms = ?9, last_seq = ?10
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        word(&s.status),
        s.cancel_reason.as_ref().map(word),
        error.map(|e| e.step_index),
        error.map(|e| word(&e.kind)),
        error.map(|e| e.message.as_str()),
        s.final_output,
        s.started_at_ms.map(|t| t as i64),
        s.ended_at_ms.map(|t| t as i64),
        s.last_seq as i64,
    ])?;
    let mut written = live.written.clone();
    written.resize(s.steps.len(), None);
    let mut upsert = tx.prepare_cached(
        "INSERT INTO steps (run_id, idx, name, model, status, text, started_at_ms, duration_ms, input_tokens, output_tokens)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (run_id, idx) DO UPDATE SET model = excluded.model, status = excluded.status,
             text = excluded.text, started_at_ms = excluded.started_at_ms, duration_ms = excluded.duration_ms,
             input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens",
    )?;
    for (i, step) in s.steps.iter().enumerate() {
        let now = (step.status, step.text.len());
        if written[i] == Some(now) {
            continue;
        }
        upsert.execute(params![
            id,
            i as i64,
            step.name,
            step.model,
            word(&step.status),
            step.text,
            step.started_at_ms.map(|t| t as i64),
            step.duration_ms.map(|t| t as i64),
            step.usage.and_then(|u| u.input_tokens),
            step.usage.and_then(|u| u.output_tokens),
        ])?;
        written[i] = Some(now);
    }
    if live.ended {
        let output: Vec<&str> = s.steps.iter().map(|st| st.text.as_str()).collect();
        tx.prepare_cached(
            "UPDATE runs_fts SET output = ?2 WHERE rowid = (SELECT rowid FROM runs WHERE id = ?1)",
        )?
        .execute(params![id, output.join("\n\n")])?;
    }
    Ok(written)
}
