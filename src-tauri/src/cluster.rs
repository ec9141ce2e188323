//! Runs the app sends to the Temporal cluster in Settings (“Where runs go”, §13): started on the
//! cluster, followed live from the worker that drives them — across a change of worker, through
//! waits for a person — shown in the window like its own runs, kept in the history as copies
//! (`store::Mirror`), and cancelled and answered through the cluster.
//!
//! The window's seq for a cluster run is the app's own: a worker that takes the run over goes on
//! from its checkpoint (its events start again from there), which the app turns into events that
//! go on after the last one it showed — the step that was cut starts again, no event is shown
//! twice, and the history's copy never goes back.

use std::sync::{Arc, Weak};
use std::time::Duration;

use stepwise_engine::cluster::{Cluster, Followed, Follower, RunOrder, end_event};
use stepwise_engine::event::PROTOCOL_VERSION;
use stepwise_engine::failure::ErrorKind;
use stepwise_engine::snapshot::RunError;
use stepwise_engine::store::Mirror;
use stepwise_engine::{OwnerKind, RunEvent, RunId, RunSnapshot, RunStatus, StepStatus, Workflow};

use crate::error::AppError;
use crate::state::AppState;

/// How long to wait before asking again when the cluster cannot be reached.
const ASK_AGAIN: Duration = Duration::from_secs(1);

/// Sends a run to the cluster and follows it in the window; returns its id. A start sent again
/// with the same id (a webview reload) returns the run already sent.
pub async fn send(
    state: &Arc<AppState>,
    cluster: Cluster,
    workflow: Workflow,
    input: String,
    run_id: Option<RunId>,
) -> Result<RunId, AppError> {
    if input.trim().is_empty() {
        return Err(AppError::EmptyInput);
    }
    let id = run_id.unwrap_or_else(uuid::Uuid::new_v4);
    // Claimed before the start is sent: the same start sent twice at once starts it once.
    if !state.cluster_runs.take(id, &cluster) {
        return Ok(id);
    }
    let order = RunOrder {
        run_id: id,
        workflow,
        input,
    };
    if let Err(e) = cluster.start(&order).await {
        state.cluster_runs.done(id);
        return Err(e.into());
    }
    let mirror = state.store.as_ref().map(|s| s.mirror(OwnerKind::Cluster));
    if let Some(m) = &mirror {
        m.created(id, &order.workflow, &order.input, now_ms());
    }
    let mut from = RunSnapshot::new(id);
    from.owner = Some(OwnerKind::Cluster);
    follow(state, Follower::new(cluster, id), from, mirror);
    Ok(id)
}

/// At start: the cluster runs the history has as live (the app was closed while they went on)
/// are followed again from where they stand on the cluster now. It reads the history: call it
/// on a blocking thread. Returns how many.
pub fn follow_again(state: &Arc<AppState>) -> usize {
    let Some(store) = &state.store else { return 0 };
    let Some(cluster) = state.cluster() else {
        return 0; // no cluster in the settings now: they show as they were last heard
    };
    let ids = store.live_runs_of(OwnerKind::Cluster).unwrap_or_else(|e| {
        tracing::error!("cannot read the cluster runs: {e}");
        Vec::new()
    });
    let mut followed = 0;
    for id in ids {
        let Ok(Some(mut from)) = store.get_run(id) else {
            continue;
        };
        from.owner = Some(OwnerKind::Cluster);
        if !state.cluster_runs.take(id, &cluster) {
            continue;
        }
        let follower = Follower::joining(cluster.clone(), id);
        let mirror = Some(store.mirror(OwnerKind::Cluster));
        follow(state, follower, from, mirror);
        followed += 1;
    }
    followed
}

/// Forwards what `follower` hears of the run to the window (after `from`, what is known of it)
/// and to the history's copy. The run is claimed already (`ClusterRuns::take`).
fn follow(state: &Arc<AppState>, follower: Follower, from: RunSnapshot, mirror: Option<Mirror>) {
    let id = from.run_id;
    let hearing = Hearing {
        follower,
        gone: state.gone.subscribe(),
        offset: from.last_seq,
        last: from.last_seq,
        mirror,
        state: Arc::downgrade(state),
    };
    let events = Box::pin(futures_util::stream::unfold(hearing, |mut h| async move {
        let event = h.next().await?;
        Some((event, h))
    }));
    let weak = Arc::downgrade(state);
    state.bridge.follow_from(from, events, move |_| {
        if let Some(state) = weak.upgrade() {
            state.cluster_runs.done(id);
        }
    });
    tracing::info!(run_id = %id, "following a run on the cluster");
}

/// One cluster run as the app hears it: the follower's events with the app's seq.
struct Hearing {
    follower: Follower,
    /// The app's seq of an event is the worker's plus this.
    offset: u64,
    /// The app's seq of the last event it showed.
    last: u64,
    mirror: Option<Mirror>,
    state: Weak<AppState>,
    /// Resolves once the app's state is gone.
    gone: tokio::sync::watch::Receiver<()>,
}

impl Hearing {
    /// The run's next event for the window; `None` once it has ended (or the app is closing).
    async fn next(&mut self) -> Option<RunEvent> {
        loop {
            self.state.upgrade()?;
            // The app may close while the follower waits (a run that waits for a person with
            // no worker holding it is asked about every second): this task ends with it.
            let heard = tokio::select! {
                heard = self.follower.next() => heard?,
                _ = self.gone.changed() => return None,
            };
            match heard {
                Ok(Followed::Event(mut e)) => {
                    e.seq += self.offset;
                    if let Some(first) = e.first_seq.as_mut() {
                        *first += self.offset;
                    }
                    self.last = e.seq;
                    if let Some(m) = &self.mirror {
                        m.event(&e);
                    }
                    return Some(e);
                }
                // The next event from the new worker is `to + 1`: shown after the last one.
                Ok(Followed::Rewind { to }) => self.offset = self.last.saturating_sub(to),
                Ok(Followed::Joined(now) | Followed::Waiting(now)) => {
                    let worker_seq = now.last_seq;
                    self.heard_anew(now);
                    self.offset = self.last.saturating_sub(worker_seq);
                }
                // Its end heard without its last event (the worker that ended it is gone, or
                // the app joined late): the run as it ended, then the terminal event it stands
                // for, so the window, the notifications and the history all hear the end.
                Ok(Followed::Ended { snapshot, status }) => {
                    let end = match snapshot {
                        Some(s) => s,
                        None => self.ended_by_the_cluster(&status)?,
                    };
                    let kind = end_event(&end)?;
                    let ts_ms = end.ended_at_ms.unwrap_or_else(now_ms);
                    self.heard_anew(end);
                    self.last += 1;
                    let e = RunEvent {
                        v: PROTOCOL_VERSION,
                        run_id: self.follower.run_id(),
                        seq: self.last,
                        first_seq: None,
                        ts_ms,
                        kind,
                    };
                    if let Some(m) = &self.mirror {
                        m.event(&e);
                    }
                    return Some(e);
                }
                Err(e) => {
                    let id = self.follower.run_id();
                    tracing::warn!(run_id = %id, "the cluster cannot be reached ({e}); asking again");
                    tokio::time::sleep(ASK_AGAIN).await;
                }
            }
        }
    }

    /// The run is now `s` (as the cluster has it): the window and the history take it whole,
    /// one seq after the last event shown.
    fn heard_anew(&mut self, mut s: RunSnapshot) {
        // Never behind the worker's numbering, so that the offset to it stays positive.
        self.last = (self.last + 1).max(s.last_seq);
        s.last_seq = self.last;
        s.owner = Some(OwnerKind::Cluster);
        if let Some(m) = &self.mirror {
            m.replace(&s);
        }
        if let Some(state) = self.state.upgrade() {
            state.bridge.replace(s);
        }
    }

    /// Temporal ended the run itself (terminated, timed out): it ends as failed, saying so,
    /// keeping what the window was shown of it.
    fn ended_by_the_cluster(&self, status: &str) -> Option<RunSnapshot> {
        let state = self.state.upgrade()?;
        let id = self.follower.run_id();
        tracing::warn!(run_id = %id, status, "the cluster ended the run itself");
        let mut s = state
            .bridge
            .snapshot(id)
            .unwrap_or_else(|| RunSnapshot::new(id));
        s.status = RunStatus::Failed;
        s.ended_at_ms = Some(now_ms());
        s.error = Some(RunError {
            path: None,
            kind: ErrorKind::Internal,
            message: format!(
                "The cluster stopped this run ({}) before it finished; what its steps wrote is kept.",
                status.replace('_', " ")
            ),
        });
        for step in &mut s.steps {
            step.status = match step.status {
                StepStatus::Pending => StepStatus::Skipped,
                StepStatus::Running | StepStatus::Waiting => StepStatus::Cancelled,
                done => done,
            };
        }
        Some(s)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
