//! The state of one run, shared by its driver task, `cancel` callers and subscribers. What it
//! waits on from the person is in `waits.rs`; what a revived run already had, `replayed.rs`.
//!
//! Three rules live here, all enforced under one lock:
//! - **seq**: every event gets the next number and reaches every subscriber in that order.
//! - **one outcome**: the first call to [`RunState::decide`] fixes the run's outcome
//!   (completed / failed / cancelled); every later attempt loses. Once decided, non-terminal events
//!   are refused, so no text arrives after `cancel` returned true.
//! - **terminal last**: [`RunState::finish`] emits the one terminal event and closes every
//!   subscription; nothing is emitted after it. The one exception is a run *parked* at a quit
//!   while it waits for the person: it emits nothing, stays `waiting` in the history, and a
//!   later process brings it back (`Engine::revive`) to emit the rest, terminal event included.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Subscription;
use super::meter::Meters;
use super::replayed::Replayed;
use super::waits::{Approvals, ReviewError, Reviews};
use crate::event::{
    ApprovalAnswer, CancelReason, ErrorKind, EventKind, PROTOCOL_VERSION, PartialStep,
    ReviewAnswer, RunEvent, RunId, Usage,
};
use crate::sink::RunSink;
use crate::snapshot::{RunError, RunSnapshot};
use crate::tool::Grant;
use crate::usage::PriceTable;

/// How a run ends, decided once.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Decision {
    Completed {
        output: String,
    },
    Failed(RunError),
    Cancelled(CancelReason),
    /// Stopped at a quit while waiting for reviews: no terminal event; the history keeps the
    /// run `waiting` for the next start.
    Parked,
}

pub(crate) struct RunState {
    pub id: RunId,
    /// Cancelled when the outcome is decided as `Cancelled`; every await of the run races it.
    pub token: CancellationToken,
    /// Tasks a run spawns besides its driver (tool calls, helpers). The driver waits for all of
    /// them before it emits the terminal event.
    pub tasks: TaskTracker,
    started: Instant,
    inner: Mutex<Inner>,
    finished: watch::Sender<bool>,
    /// Tool calls waiting for the person to allow them (`waits.rs`).
    approvals: Approvals,
    /// Steps whose output waits for the person's review (`waits.rs`).
    reviews: Reviews,
    /// For a run brought back from the history: the events it already has (`replayed.rs`).
    replayed: Replayed,
    /// Each step's tokens as its model calls go (`meter.rs`).
    pub meters: Meters,
    /// What the steps still running at the end had used, for `RunCancelled`.
    settled_at_end: Mutex<HashMap<String, Usage>>,
}

/// Where events go besides subscribers; kept beside them under the lock so both see one order.
type Sink = Option<Arc<dyn RunSink>>;

struct Inner {
    sink: Sink,
    snapshot: RunSnapshot,
    decided: Option<Decision>,
    subscribers: Vec<mpsc::UnboundedSender<RunEvent>>,
    finished: bool,
}

impl RunState {
    pub fn new(id: RunId, sink: Sink) -> Self {
        RunState {
            id,
            token: CancellationToken::new(),
            tasks: TaskTracker::new(),
            started: Instant::now(),
            inner: Mutex::new(Inner {
                sink,
                snapshot: RunSnapshot::new(id),
                decided: None,
                subscribers: Vec::new(),
                finished: false,
            }),
            finished: watch::Sender::new(false),
            approvals: Approvals::default(),
            reviews: Reviews::default(),
            replayed: Replayed::default(),
            meters: Meters::default(),
            settled_at_end: Mutex::new(HashMap::new()),
        }
    }

    /// A run brought back from the history where it waited: it goes on from `snapshot` (its
    /// events so far), and its reviews can be answered at once, before its steps get back to them.
    pub fn revived(snapshot: RunSnapshot, sink: Sink) -> Self {
        let run = RunState::new(snapshot.run_id, sink);
        for s in &snapshot.steps {
            if s.status == crate::status::StepStatus::Waiting {
                run.reviews.open(&s.path);
            }
        }
        // Its duration counts from when it first started, not from now.
        let run = RunState {
            replayed: Replayed::of(&snapshot),
            started: snapshot
                .started_at_ms
                .and_then(|t| {
                    let ago = now_ms().saturating_sub(t);
                    Instant::now().checked_sub(std::time::Duration::from_millis(ago))
                })
                .unwrap_or(run.started),
            ..run
        };
        run.lock().snapshot = snapshot;
        run
    }

    /// A step sent back runs again: the events of the steps inside it are new ones.
    pub fn forget_replayed_inside(&self, path: &str) {
        self.replayed.forget_inside(path);
    }

    /// The step at `path` waits for its review: the answer arrives on the receiver.
    pub fn await_review(&self, path: &str) -> oneshot::Receiver<ReviewAnswer> {
        self.reviews.wait(path)
    }

    /// Answers the review of the step at `path`.
    pub fn answer_review(&self, path: &str, answer: ReviewAnswer) -> Result<(), ReviewError> {
        match &answer {
            ReviewAnswer::Edit { text } if text.trim().is_empty() => {
                return Err(ReviewError::EmptyEdit);
            }
            ReviewAnswer::SendBack { note } if note.trim().is_empty() => {
                return Err(ReviewError::EmptyNote);
            }
            _ => {}
        }
        if self.is_decided() {
            return Err(ReviewError::NotWaiting);
        }
        self.reviews.answer(path, answer)
    }

    /// At a quit: a run that only waits for reviews stops without a terminal event and stays
    /// `waiting` in the history. True iff this call parked it.
    pub fn park(&self) -> bool {
        let mut inner = self.lock();
        if inner.decided.is_some() || inner.finished || !inner.snapshot.can_wait_across_restart() {
            return false;
        }
        inner.decided = Some(Decision::Parked);
        drop(inner);
        self.token.cancel();
        true
    }

    /// Registers a call that waits for the person; the answer arrives on the receiver.
    pub fn await_approval(
        &self,
        path: &str,
        call_id: &str,
        grant: Grant,
    ) -> oneshot::Receiver<ApprovalAnswer> {
        self.approvals.wait(path, call_id, grant)
    }

    /// Answers a waiting call; what "Allow always" allows for it if one was waiting.
    pub fn answer(&self, path: &str, call_id: &str, answer: ApprovalAnswer) -> Option<Grant> {
        self.approvals.answer(path, call_id, answer)
    }

    /// The lock is never held across an await and no code under it can panic halfway through an
    /// update, so a poisoned lock still guards consistent data: keep going.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Emits a non-terminal event. Returns false, emitting nothing, once the outcome is decided.
    pub fn emit(&self, kind: EventKind) -> bool {
        debug_assert!(!kind.is_terminal());
        let mut inner = self.lock();
        if inner.decided.is_some() || inner.finished {
            return false;
        }
        if self.replayed.already_emitted(&kind) {
            return true;
        }
        inner.push(self.id, kind);
        true
    }

    /// Fixes the outcome if nobody has yet. True iff this call decided it.
    pub fn decide(&self, decision: Decision) -> bool {
        let mut inner = self.lock();
        if inner.decided.is_some() || inner.finished {
            return false;
        }
        let cancelled = matches!(decision, Decision::Cancelled(_));
        inner.decided = Some(decision);
        drop(inner);
        if cancelled {
            self.token.cancel();
        }
        true
    }

    /// `cancel_run`: true iff this call moved a live run to cancelled.
    pub fn cancel(&self, reason: CancelReason) -> bool {
        self.decide(Decision::Cancelled(reason))
    }

    /// Emits the terminal event for the decided outcome and closes every subscription.
    /// Called once by the driver after all of the run's tasks have ended.
    pub fn finish(&self) {
        let mut inner = self.lock();
        if inner.finished {
            return;
        }
        let duration_ms = self.started.elapsed().as_millis() as u64;
        let kind = match inner.decided.clone() {
            Some(Decision::Parked) => {
                // No terminal event: the run is not over, it waits in the history.
                inner.finished = true;
                self.finished.send_replace(true);
                inner.subscribers.clear();
                return;
            }
            Some(Decision::Completed { output }) => EventKind::RunCompleted {
                output,
                duration_ms,
            },
            Some(Decision::Failed(e)) => EventKind::RunFailed {
                path: e.path,
                error: e.kind,
                message: e.message,
                duration_ms,
            },
            Some(Decision::Cancelled(reason)) => {
                let mut settled = std::mem::take(
                    &mut *self
                        .settled_at_end
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                EventKind::RunCancelled {
                    reason,
                    running: inner
                        .snapshot
                        .running()
                        .map(|s| PartialStep {
                            path: s.path.clone(),
                            text: s.text.clone(),
                            usage: settled.remove(&s.path),
                        })
                        .collect(),
                    duration_ms,
                }
            }
            // The driver always decides before finishing; if that ever breaks, say so plainly
            // rather than leave the run hanging.
            None => EventKind::RunFailed {
                path: None,
                error: ErrorKind::Internal,
                message: "The run stopped without an outcome. This is a bug in Stepwise.".into(),
                duration_ms,
            },
        };
        inner.push(self.id, kind);
        inner.finished = true;
        // Finished for everyone before any subscriber sees its channel close: whoever has seen
        // the end finds the run finished (`is_finished`, `live_count`), never a moment later.
        self.finished.send_replace(true);
        inner.subscribers.clear();
    }

    /// Ends the metering of the step at `path` (`meter.rs`): what its model calls used, priced.
    /// A call cut short is estimated from the step's text, read in place under the run's lock
    /// (no copy; only OpenAI's tokenizer takes more than a moment, and only for such a call).
    pub fn settle_usage(&self, path: &str, prices: &PriceTable) -> Option<Usage> {
        let inner = self.lock();
        let text = inner.snapshot.step(path).map_or("", |s| s.text.as_str());
        self.meters.settle(path, text, prices)
    }

    /// Before the terminal event: settles the steps still running (a cancel stopped them), so
    /// that `RunCancelled` says what each had used.
    pub fn settle_running(&self, prices: &PriceTable) {
        let inner = self.lock();
        let settled = inner
            .snapshot
            .running()
            .filter_map(|s| {
                Some((
                    s.path.clone(),
                    self.meters.settle(&s.path, &s.text, prices)?,
                ))
            })
            .collect();
        drop(inner);
        *self
            .settled_at_end
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = settled;
    }

    /// A step's text so far (its output once it completes).
    pub fn step_text(&self, path: &str) -> String {
        self.lock()
            .snapshot
            .step(path)
            .map(|s| s.text.clone())
            .unwrap_or_default()
    }

    /// How many characters (Unicode scalar values) a step's text has so far.
    pub fn step_chars(&self, path: &str) -> u32 {
        self.lock()
            .snapshot
            .step(path)
            .map_or(0, |s| s.text.chars().count() as u32)
    }

    /// The paths of the steps inside `outer` that are still running, innermost first (a step
    /// that times out ends them before itself).
    pub fn running_inside(&self, outer: &str) -> Vec<String> {
        let inner = self.lock();
        let mut paths: Vec<String> = inner
            .snapshot
            .running()
            .filter(|s| crate::snapshot::is_inside(&s.path, outer))
            .map(|s| s.path.clone())
            .collect();
        paths.reverse();
        paths
    }

    /// Whether the run's outcome is already decided (a cancel, or the end).
    pub fn is_decided(&self) -> bool {
        let inner = self.lock();
        inner.decided.is_some() || inner.finished
    }

    pub fn snapshot(&self) -> RunSnapshot {
        self.lock().snapshot.clone()
    }

    pub fn summary(&self) -> crate::snapshot::RunSummary {
        self.lock().snapshot.summary()
    }

    /// The snapshot and, atomically with it, a channel of every later event.
    pub fn subscribe(&self) -> Subscription {
        let mut inner = self.lock();
        let (tx, rx) = mpsc::unbounded_channel();
        if !inner.finished {
            inner.subscribers.push(tx);
        }
        Subscription::new(inner.snapshot.clone(), rx)
    }

    pub fn is_finished(&self) -> bool {
        *self.finished.borrow()
    }

    /// Resolves once the terminal event is out.
    pub async fn wait_finished(&self) {
        let mut rx = self.finished.subscribe();
        // An error means the sender is gone, which only happens with the run itself.
        let _ = rx.wait_for(|done| *done).await;
    }
}

impl Inner {
    fn push(&mut self, run_id: RunId, kind: EventKind) {
        let event = RunEvent {
            v: PROTOCOL_VERSION,
            run_id,
            seq: self.snapshot.last_seq + 1,
            first_seq: None,
            ts_ms: now_ms(),
            kind,
        };
        self.snapshot.apply(&event);
        if let Some(sink) = &self.sink {
            sink.event(&event);
        }
        // A subscriber that has gone away is dropped; the others get the event in order.
        self.subscribers.retain(|tx| tx.send(event.clone()).is_ok());
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
