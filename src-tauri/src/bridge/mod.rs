//! The event bridge: one task per run forwards the engine's events to the webview as typed Tauri
//! events, merging text deltas within a short window.
//!
//! The bridge also keeps, per run, the fold of what it has sent. `get_run` answers from it, so a
//! webview that (re)loads gets a snapshot that ends exactly on an event it was sent: every later
//! event starts after it, none straddles it, and the text arrives exactly once.

mod coalesce;

pub use coalesce::Coalescer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use stepwise_engine::{EventKind, OwnerKind, RunEvent, RunId, RunSnapshot, Subscription};
use tokio::time::Instant;

/// What the webview receives: one run event (a merged `TextDelta` covers `first_seq..=seq`).
/// The Tauri event is named `run-update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct RunUpdate(pub RunEvent);

/// Sends one update to the webview(s).
pub type Emit = Arc<dyn Fn(RunUpdate) + Send + Sync>;

/// At most this long between a delta arriving and the webview getting it: one frame.
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(16);

/// What the bridge has sent of each run it is forwarding.
type Sent = Arc<Mutex<HashMap<RunId, Arc<Mutex<RunSnapshot>>>>>;

pub struct Bridge {
    emit: Emit,
    window: Duration,
    /// Runs being forwarded. A run leaves once its terminal event is sent (`get_run` then
    /// answers from the engine, which keeps recent runs, or from the history).
    runs: Sent,
}

impl Bridge {
    /// `window` zero forwards every event as it comes.
    pub fn new(emit: Emit, window: Duration) -> Self {
        Bridge {
            emit,
            window,
            runs: Arc::default(),
        }
    }

    fn runs(&self) -> MutexGuard<'_, HashMap<RunId, Arc<Mutex<RunSnapshot>>>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts forwarding a run, unless it is already forwarded (a re-sent start). `sub` must have
    /// been taken before the run's first event.
    pub fn follow(&self, run_id: RunId, sub: Subscription) {
        let from = sub.snapshot.clone();
        self.forward(run_id, from, sub, |_| {});
    }

    /// Forwards a run another process owns, from its first event, as `events` bring them (its
    /// owner's endpoint). `ended` is told, once the stream ends, whether the run's terminal event
    /// came (if not, its owner went away).
    pub fn follow_other(
        &self,
        run_id: RunId,
        owner: OwnerKind,
        events: impl Stream<Item = RunEvent> + Unpin + Send + 'static,
        ended: impl FnOnce(bool) + Send + 'static,
    ) {
        let mut from = RunSnapshot::new(run_id);
        from.owner = Some(owner);
        self.forward(run_id, from, events, ended);
    }

    /// Forwards a run another place drives from `from` (what is known of it so far): the events
    /// that follow it (seq after `from.last_seq`), as `events` bring them.
    pub fn follow_from(
        &self,
        from: RunSnapshot,
        events: impl Stream<Item = RunEvent> + Unpin + Send + 'static,
        ended: impl FnOnce(bool) + Send + 'static,
    ) {
        self.forward(from.run_id, from, events, ended);
    }

    /// What the bridge has sent of a run it forwards is now `snapshot` (a run heard anew: the
    /// app rejoined it, or it ended without its last events). The webview, seeing the next
    /// event skip ahead or the run's owner line, asks for it (`get_run`).
    pub fn replace(&self, snapshot: RunSnapshot) {
        if let Some(sent) = self.runs().get(&snapshot.run_id) {
            *sent.lock().unwrap_or_else(PoisonError::into_inner) = snapshot;
        }
    }

    fn forward(
        &self,
        run_id: RunId,
        from: RunSnapshot,
        events: impl Stream<Item = RunEvent> + Unpin + Send + 'static,
        ended: impl FnOnce(bool) + Send + 'static,
    ) {
        let sent = {
            let mut runs = self.runs();
            if runs.contains_key(&run_id) {
                return;
            }
            let sent = Arc::new(Mutex::new(from));
            runs.insert(run_id, sent.clone());
            sent
        };
        let runs = self.runs.clone();
        let emit = self.emit.clone();
        let window = self.window;
        tauri::async_runtime::spawn(async move {
            forward(events, sent.clone(), emit, window).await;
            runs.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&run_id);
            let status = sent.lock().unwrap_or_else(PoisonError::into_inner).status;
            ended(!status.is_live());
        });
    }

    /// The run as the webview has been sent it, if the bridge forwards it.
    pub fn snapshot(&self, run_id: RunId) -> Option<RunSnapshot> {
        let sent = self.runs().get(&run_id).cloned()?;
        let snap = sent.lock().unwrap_or_else(PoisonError::into_inner).clone();
        Some(snap)
    }

    /// Forgets a finished run (its record lives on in the history).
    pub fn forget(&self, run_id: RunId) {
        self.runs().remove(&run_id);
    }
}

async fn forward(
    mut sub: impl Stream<Item = RunEvent> + Unpin,
    sent: Arc<Mutex<RunSnapshot>>,
    emit: Emit,
    window: Duration,
) {
    let mut coalescer = Coalescer::default();
    let mut deadline: Option<Instant> = None;
    let send = |event: RunEvent| {
        // Fold and send under one lock, so `snapshot` never sits between the two.
        let mut snap = sent.lock().unwrap_or_else(PoisonError::into_inner);
        snap.apply(&event);
        log_milestone(&event);
        emit(RunUpdate(event));
    };
    loop {
        let next = match deadline {
            Some(at) => tokio::select! {
                biased;
                e = sub.next() => e,
                _ = tokio::time::sleep_until(at) => {
                    if let Some(e) = coalescer.flush() {
                        send(e);
                    }
                    deadline = None;
                    continue;
                }
            },
            None => sub.next().await,
        };
        let Some(event) = next else {
            if let Some(e) = coalescer.flush() {
                send(e);
            }
            return;
        };
        if window.is_zero() {
            send(event);
            continue;
        }
        for e in coalescer.push(event) {
            send(e);
        }
        deadline = match (coalescer.is_holding(), deadline) {
            (true, None) => Some(Instant::now() + window),
            (true, d) => d,
            (false, _) => None,
        };
    }
}

/// Run starts, ends and failures go to the log with the run id; never the model's text.
fn log_milestone(e: &RunEvent) {
    match &e.kind {
        EventKind::RunStarted {
            workflow_name,
            steps,
            ..
        } => {
            tracing::info!(run_id = %e.run_id, workflow = %workflow_name, steps = steps.len(), "run started");
        }
        EventKind::RunCompleted { duration_ms, .. } => {
            tracing::info!(run_id = %e.run_id, duration_ms, "run completed");
        }
        EventKind::RunCancelled {
            reason,
            running,
            duration_ms,
        } => {
            let running: Vec<&str> = running.iter().map(|p| p.path.as_str()).collect();
            tracing::info!(run_id = %e.run_id, ?reason, ?running, duration_ms, "run cancelled");
        }
        EventKind::RunFailed {
            path,
            error,
            message,
            ..
        } => {
            tracing::warn!(run_id = %e.run_id, ?path, ?error, %message, "run failed");
        }
        _ => {}
    }
}
