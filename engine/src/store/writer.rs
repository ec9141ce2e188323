//! The one thread that writes history. It takes what the engine queued (see `queue.rs`) at most
//! every [`BATCH_INTERVAL`] — sooner when someone flushes or a lot of text is waiting — and
//! writes it in one transaction.
//!
//! Text is stored once: each step's new text is appended to its row, and the event log keeps the
//! deltas; the copies of that text inside `StepCompleted`, `RunCompleted` and `RunCancelled` are
//! left out of the log and restored when it is read (`queries::restore_texts`). The writer folds
//! each run's events (the engine's own fold, with the text taken out) to know every status; it
//! holds no text beyond the batch it is writing. A batch that fails (a full disk) stays pending
//! and is written by the next one that succeeds: what is saved is always a prefix of what was shown.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, params};

use super::codec::word;
use super::queries;
use super::queue::{Created, Queue};
use crate::event::{EventKind, ReviewAnswer, RunEvent, RunId};
use crate::snapshot::{RunSnapshot, StepSnapshot, is_inside};

pub(super) const BATCH_INTERVAL: Duration = Duration::from_millis(250);
/// While writes keep failing, how often to try again.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often an idle writer looks for runs left live by a Stepwise process that has died.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// Past this many unsaved event rows (writes failing for a long time), the event log of that
/// stretch is given up; runs and their text are still saved once writing works again.
const MAX_UNSAVED_EVENTS: usize = 200_000;

pub(super) enum Msg {
    /// Commit everything queued so far, then answer.
    Flush(Sender<Result<(), String>>),
    /// Commit and stop.
    Shutdown(Sender<Result<(), String>>),
}

/// The last write error, if the last write failed; shared with the store for `health`.
pub(super) type Health = Arc<Mutex<Option<String>>>;

/// What the sink and the store share with the writer.
#[derive(Default)]
pub(super) struct Shared {
    pub queue: Mutex<Queue>,
    /// A flush or shutdown is waiting, or much text is queued: write now.
    pub urgent: AtomicBool,
}

impl Shared {
    pub fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct EventRow {
    run_id: String,
    seq: i64,
    ts_ms: i64,
    kind: &'static str,
    body: String,
}

/// A run the writer is following: its statuses (no text), and what of them is on disk.
struct Live {
    snapshot: RunSnapshot,
    written: Vec<Option<StepSnapshot>>,
    dirty: bool,
    ended: bool,
}

/// Who this store is among the processes sharing the file (see `Store::open_with`).
pub(super) struct Owner {
    pub id: String,
    pub dir: PathBuf,
}

pub(super) struct Writer {
    conn: Connection,
    health: Health,
    interval: Duration,
    owner: Owner,
    created: Vec<Created>,
    rows: Vec<EventRow>,
    /// New text per step, to append to its row.
    appends: HashMap<(RunId, usize), String>,
    /// Whole texts that replace a step's (a container's or router's output).
    replaces: HashMap<(RunId, usize), String>,
    live: HashMap<RunId, Live>,
}

impl Writer {
    pub fn new(conn: Connection, health: Health, interval: Duration, owner: Owner) -> Self {
        Writer {
            conn,
            health,
            interval,
            owner,
            created: Vec::new(),
            rows: Vec::new(),
            appends: HashMap::new(),
            replaces: HashMap::new(),
            live: HashMap::new(),
        }
    }

    /// One wake-up per batch: the first queued event unparks the writer, which then parks until
    /// the batch interval is up — or until a flush, a shutdown or a large backlog unparks it —
    /// and takes everything queued. (Waking per event would cost a context switch per token.)
    pub fn run(mut self, rx: Receiver<Msg>, shared: Arc<Shared>) {
        let mut replies = Vec::new();
        let mut last_sweep = Instant::now();
        loop {
            // Wait for work; wake up anyway to retry a failed write or to sweep.
            let wait = if self.pending() {
                RETRY_INTERVAL
            } else {
                SWEEP_INTERVAL
            };
            let idle_until = Instant::now() + wait;
            while shared.queue().is_empty() && !shared.urgent.load(Ordering::Acquire) {
                let left = idle_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::park_timeout(left);
            }
            let deadline = Instant::now() + self.interval;
            while !shared.urgent.load(Ordering::Acquire) && !shared.queue().is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::park_timeout(left);
            }
            shared.urgent.store(false, Ordering::Release);
            // Control messages first: a flush answers for everything queued before it was sent.
            let mut stop = false;
            let mut disconnected = false;
            loop {
                match rx.try_recv() {
                    Ok(Msg::Flush(reply)) => replies.push(reply),
                    Ok(Msg::Shutdown(reply)) => {
                        replies.push(reply);
                        stop = true;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            let taken = std::mem::take(&mut *shared.queue());
            for c in taken.created {
                self.created(c);
            }
            for r in taken.revived {
                self.revived(r);
            }
            for r in taken.replaced {
                self.replaced(r);
            }
            for e in taken.events {
                self.event(e);
            }
            let result = self.commit();
            for reply in replies.drain(..) {
                let _ = reply.send(result.clone());
            }
            if stop || disconnected {
                return;
            }
            if last_sweep.elapsed() >= SWEEP_INTERVAL {
                last_sweep = Instant::now();
                // A failure is tried again at the next sweep; nothing is lost meanwhile.
                let _ =
                    super::owners::recover_dead_owners(&self.conn, &self.owner.id, &self.owner.dir);
            }
        }
    }

    fn pending(&self) -> bool {
        !self.created.is_empty()
            || !self.rows.is_empty()
            || !self.appends.is_empty()
            || !self.replaces.is_empty()
            || self.live.values().any(|l| l.dirty)
    }

    /// A run that waited across a quit goes on: follow it from its saved state (what is on
    /// disk already is that state, so nothing is rewritten until it changes).
    fn revived(&mut self, mut snapshot: RunSnapshot) {
        // A run another process began (a cluster worker's, §13) was only just created here:
        // none of it is on disk yet, so all of it is written.
        let only_created = self.created.iter().any(|c| c.run_id == snapshot.run_id);
        let written = if only_created {
            Vec::new()
        } else {
            for s in &mut snapshot.steps {
                s.text.clear();
            }
            snapshot.steps.iter().cloned().map(Some).collect()
        };
        self.live.insert(
            snapshot.run_id,
            Live {
                snapshot,
                written,
                dirty: true,
                ended: false,
            },
        );
    }

    /// A mirrored run is now exactly `snapshot`: every step is written again, text and all.
    fn replaced(&mut self, snapshot: RunSnapshot) {
        let id = snapshot.run_id;
        self.appends.retain(|(run, _), _| *run != id);
        self.replaces.retain(|(run, _), _| *run != id);
        for (i, step) in snapshot.steps.iter().enumerate() {
            self.replaces.insert((id, i), step.text.clone());
        }
        let ended = !snapshot.status.is_live();
        let mut statuses = snapshot;
        for s in &mut statuses.steps {
            s.text.clear();
        }
        self.live.insert(
            id,
            Live {
                snapshot: statuses,
                written: Vec::new(),
                dirty: true,
                ended,
            },
        );
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

    fn event(&mut self, mut e: RunEvent) {
        // Runs that started before this store was attached are not recorded.
        let Some(live) = self.live.get_mut(&e.run_id) else {
            return;
        };
        // The log keeps each delta's text; the copies of it at a step's or run's end were left
        // out by the queue. Once a delta's text is taken for its step, the fold below carries
        // no text at all.
        self.rows.push(EventRow {
            run_id: e.run_id.to_string(),
            seq: e.seq as i64,
            ts_ms: e.ts_ms as i64,
            kind: e.kind.type_name(),
            body: serde_json::to_string(&e).unwrap_or_default(),
        });
        // An event the run's state already holds (a mirrored run replaced in the same batch,
        // after the event was queued) is kept in the log only: its text is in that state.
        if live.snapshot.last_seq > 0 && e.seq <= live.snapshot.last_seq {
            return;
        }
        // A container's or router's output is not its deltas: it replaces the step's text; so
        // do an edited or reused output, and a step sent back (and the steps inside it) start
        // from nothing.
        let mut replace = Vec::new();
        match &mut e.kind {
            EventKind::TextDelta { path, text } => {
                let text = std::mem::take(text);
                if let Some(i) = live.snapshot.position(path) {
                    // After a replacement in this batch, the text goes on from it.
                    match self.replaces.get_mut(&(e.run_id, i)) {
                        Some(whole) => whole.push_str(&text),
                        None => self
                            .appends
                            .entry((e.run_id, i))
                            .or_default()
                            .push_str(&text),
                    }
                }
            }
            EventKind::StepCompleted { path, output, .. }
            | EventKind::ReviewRequested { path, output }
                if !output.is_empty() =>
            {
                replace.push((path.clone(), std::mem::take(output)));
            }
            EventKind::StepReused { step, output, .. } => {
                replace.push((step.path.clone(), output.clone()));
            }
            EventKind::ReviewAnswered { path, answer } => match answer {
                ReviewAnswer::Edit { text } => replace.push((path.clone(), text.clone())),
                ReviewAnswer::SendBack { .. } => {
                    for s in &live.snapshot.steps {
                        if s.path == *path || is_inside(&s.path, path) {
                            replace.push((s.path.clone(), String::new()));
                        }
                    }
                }
                ReviewAnswer::Approve => {}
            },
            _ => {}
        }
        live.snapshot.apply(&e);
        for (path, text) in replace {
            if let Some(i) = live.snapshot.position(&path) {
                self.appends.remove(&(e.run_id, i));
                self.replaces.insert((e.run_id, i), text);
            }
        }
        live.dirty = true;
        live.ended |= e.kind.is_terminal();
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
                self.appends.clear();
                self.replaces.clear();
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
            let owner = c.owner.as_deref().unwrap_or(&self.owner.id);
            insert_run(&tx, c, owner).map_err(|e| e.to_string())?;
        }
        let mut written = Vec::new();
        for (id, live) in self.live.iter().filter(|(_, l)| l.dirty) {
            written.push((*id, write_run(&tx, live).map_err(|e| e.to_string())?));
        }
        {
            let mut append = tx
                .prepare_cached("UPDATE steps SET text = text || ?3 WHERE run_id = ?1 AND idx = ?2")
                .map_err(|e| e.to_string())?;
            for ((run, step), text) in &self.appends {
                append
                    .execute(params![run.to_string(), *step as i64, text])
                    .map_err(|e| e.to_string())?;
            }
            let mut replace = tx
                .prepare_cached("UPDATE steps SET text = ?3 WHERE run_id = ?1 AND idx = ?2")
                .map_err(|e| e.to_string())?;
            for ((run, step), text) in &self.replaces {
                replace
                    .execute(params![run.to_string(), *step as i64, text])
                    .map_err(|e| e.to_string())?;
            }
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO events (run_id, seq, ts_ms, type, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| e.to_string())?;
            for r in &self.rows {
                insert
                    .execute(params![r.run_id, r.seq, r.ts_ms, r.kind, r.body])
                    .map_err(|e| e.to_string())?;
            }
        }
        for (id, _) in self.live.iter().filter(|(_, l)| l.dirty && l.ended) {
            queries::index_output(&tx, &id.to_string()).map_err(|e| e.to_string())?;
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

fn insert_run(tx: &Transaction<'_>, c: &Created, owner: &str) -> rusqlite::Result<()> {
    let id = c.run_id.to_string();
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO runs (id, workflow_name, workflow_json, input, status, created_at_ms, owner)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)",
        )?
        .execute(params![id, c.workflow_name, c.workflow_json, c.input, c.created_at_ms as i64, owner])?;
    if inserted == 1 {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO runs_fts (rowid, input, output) SELECT rowid, input, '' FROM runs WHERE id = ?1",
        )?
        .execute(params![id])?;
    }
    Ok(())
}

/// Writes a run's row and the steps whose status changed (never their text: that is appended);
/// returns what is now on disk of each step.
fn write_run(tx: &Transaction<'_>, live: &Live) -> rusqlite::Result<Vec<Option<StepSnapshot>>> {
    let s = &live.snapshot;
    let id = s.run_id.to_string();
    let error = s.error.as_ref();
    tx.prepare_cached(
        "UPDATE runs SET status = ?2, reason = ?3, error_path = ?4, error_kind = ?5, error_message = ?6,
                started_at_ms = ?7, ended_at_ms = ?8, last_seq = ?9, resumed_from = ?10,
                resumed_from_step = ?11
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        word(&s.status),
        s.cancel_reason.as_ref().map(word),
        error.and_then(|e| e.path.as_deref()),
        error.map(|e| word(&e.kind)),
        error.map(|e| e.message.as_str()),
        s.started_at_ms.map(|t| t as i64),
        s.ended_at_ms.map(|t| t as i64),
        s.last_seq as i64,
        s.resumed_from.as_ref().map(|r| r.run_id.to_string()),
        s.resumed_from.as_ref().map(|r| r.step.as_str()),
    ])?;
    let mut written = live.written.clone();
    written.resize(s.steps.len(), None);
    let mut upsert = tx.prepare_cached(
        "INSERT INTO steps (run_id, idx, name, model, status, text, started_at_ms, duration_ms,
                            input_tokens, output_tokens, path, parent, step_id, kind, branch, round,
                            loop_round, loop_max, route, route_reason, skipped, note, tool_calls,
                            reviews, reused, unreviewed, tokens_estimated, cost_usd)
         VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)
         ON CONFLICT (run_id, idx) DO UPDATE SET model = excluded.model, status = excluded.status,
             started_at_ms = excluded.started_at_ms, duration_ms = excluded.duration_ms,
             input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
             loop_round = excluded.loop_round, loop_max = excluded.loop_max, route = excluded.route,
             route_reason = excluded.route_reason, skipped = excluded.skipped, note = excluded.note,
             tool_calls = excluded.tool_calls, reviews = excluded.reviews, reused = excluded.reused,
             unreviewed = excluded.unreviewed, tokens_estimated = excluded.tokens_estimated,
             cost_usd = excluded.cost_usd",
    )?;
    for (i, step) in s.steps.iter().enumerate() {
        if written[i].as_ref() == Some(step) {
            continue;
        }
        upsert.execute(params![
            id,
            i as i64,
            step.name,
            step.model,
            word(&step.status),
            step.started_at_ms.map(|t| t as i64),
            step.duration_ms.map(|t| t as i64),
            step.usage.and_then(|u| u.input_tokens),
            step.usage.and_then(|u| u.output_tokens),
            step.path,
            step.parent,
            step.id,
            word(&step.kind),
            step.branch,
            step.round,
            step.rounds.map(|r| r.round),
            step.rounds.map(|r| r.max),
            step.chosen.as_ref().map(|c| c.route.as_str()),
            step.chosen.as_ref().map(|c| c.reason.as_str()),
            step.skipped.as_ref().map(word),
            step.note,
            (!step.tool_calls.is_empty())
                .then(|| serde_json::to_string(&step.tool_calls).unwrap_or_default()),
            (!step.reviews.is_empty())
                .then(|| serde_json::to_string(&step.reviews).unwrap_or_default()),
            step.reused,
            step.unreviewed,
            step.usage.is_some_and(|u| u.estimated),
            step.usage.and_then(|u| u.cost_usd),
        ])?;
        written[i] = Some(step.clone());
    }
    Ok(written)
}
