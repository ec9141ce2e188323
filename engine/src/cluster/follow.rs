//! Following a cluster run to its end (§13): live from the worker that drives it, across a
//! change of worker, through waits for a person with no worker holding it. `stepwise watch` and
//! the app both follow through this one loop; what each does with what it hears is its own.

use std::time::Duration;

use super::{Checkpoint, Cluster, ClusterError};
use crate::control::EventStream;
use crate::event::{CancelReason, EventKind, PartialStep, RunEvent, RunId};
use crate::snapshot::RunSnapshot;
use crate::status::{RunStatus, StepStatus};

/// How long between two looks at a run that has no worker to follow yet, at most.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);
const FIRST_PAUSE: Duration = Duration::from_millis(50);

/// What a follower hears, in order.
#[derive(Debug)]
pub enum Followed {
    /// The run's next event, from the worker that drives it (its `seq` is that run's).
    Event(RunEvent),
    /// Another worker goes on from its checkpoint: the events after `to` that came from the
    /// worker before are taken back (its cut step starts again); the next event is `to + 1`.
    Rewind { to: u64 },
    /// A follower that joined late ([`Follower::joining`]) starts from the run as its worker
    /// holds it now; the next event is `snapshot.last_seq + 1`.
    Joined(RunSnapshot),
    /// The run waits on the cluster for a person's review, no worker holding it (said once per
    /// wait). Following on, the next event comes once someone answers.
    Waiting(RunSnapshot),
    /// The run has ended and its terminal event cannot be had (its worker is gone): its final
    /// state as Temporal keeps it, or `None` when Temporal ended it itself (`status` says how:
    /// `terminated`, `timed_out`, …).
    Ended {
        snapshot: Option<RunSnapshot>,
        status: String,
    },
}

/// Follows one cluster run. Call [`Follower::next`] until it gives `None` (after the terminal
/// event, or after [`Followed::Ended`]). An error (the cluster cannot be reached) loses nothing:
/// calling `next` again carries on from where it was.
pub struct Follower {
    cluster: Cluster,
    id: RunId,
    /// The worker whose events are followed now.
    endpoint: Option<String>,
    /// The last event heard.
    last_seq: u64,
    events: Option<EventStream>,
    /// Said once the events of the ending worker are drained.
    ending: Option<Followed>,
    waiting_said: bool,
    /// Joined late: no event is known yet, a snapshot comes first.
    joining: bool,
    done: bool,
    pause: Duration,
}

impl Follower {
    /// Follows from the run's first event.
    pub fn new(cluster: Cluster, id: RunId) -> Follower {
        Follower {
            cluster,
            id,
            endpoint: None,
            last_seq: 0,
            events: None,
            ending: None,
            waiting_said: false,
            joining: false,
            done: false,
            pause: FIRST_PAUSE,
        }
    }

    /// Follows a run from where it stands now (the app, started again while its run went on):
    /// the first thing heard is [`Followed::Joined`] — or, for a run that waits or has ended,
    /// [`Followed::Waiting`] or [`Followed::Ended`].
    pub fn joining(cluster: Cluster, id: RunId) -> Follower {
        let mut f = Follower::new(cluster, id);
        f.joining = true;
        f
    }

    pub fn run_id(&self) -> RunId {
        self.id
    }

    /// The next thing heard of the run; `None` once it has ended and all of it was told.
    pub async fn next(&mut self) -> Option<Result<Followed, ClusterError>> {
        loop {
            if let Some(events) = &mut self.events {
                match events.next().await {
                    Some(Ok(event)) => {
                        self.last_seq = event.seq;
                        self.waiting_said = false;
                        self.joining = false;
                        self.pause = FIRST_PAUSE;
                        if event.kind.is_terminal() {
                            self.done = true;
                            self.events = None;
                            self.ending = None;
                        }
                        return Some(Ok(Followed::Event(event)));
                    }
                    // The worker went away, parked the run, or dropped a slow watcher: look again.
                    _ => self.events = None,
                }
            }
            if self.done {
                return None;
            }
            if let Some(end) = self.ending.take() {
                self.done = true;
                return Some(Ok(end));
            }
            match self.look().await {
                Ok(Some(heard)) => return Some(Ok(heard)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
            if self.events.is_none() && self.ending.is_none() {
                // Not started yet, waiting for a person, or between workers: ask again soon.
                tokio::time::sleep(self.pause).await;
                self.pause = (self.pause * 2).min(LONGEST_PAUSE);
            }
        }
    }

    /// One look at the run on the cluster: opens the events of the worker that drives it, or
    /// says what the follower must hear first.
    async fn look(&mut self) -> Result<Option<Followed>, ClusterError> {
        let run = self.cluster.describe(self.id).await?;
        if !run.is_running() {
            return self.ended(run.status).await;
        }
        if let Some(c) = run.checkpoint
            && let Some(worker) = self.cluster.worker(&c.endpoint)
        {
            if self.joining {
                // The run as the worker holds it, then its events after that.
                let Ok(now) = worker.run(self.id).await else {
                    return Ok(None);
                };
                self.joining = false;
                self.endpoint = Some(c.endpoint.clone());
                self.last_seq = now.last_seq;
                return Ok(Some(Followed::Joined(now)));
            }
            if let Some(rewind) = self.switch_to(&c) {
                return Ok(Some(rewind));
            }
            if self.joining {
                return Ok(None); // the next look takes the run whole from this worker
            }
            if let Ok(events) = worker.events(self.id, self.last_seq).await {
                self.events = Some(events);
                return Ok(None);
            }
        }
        if !self.waiting_said
            && let Some(snapshot) = self.cluster.waiting(self.id).await?
        {
            self.waiting_said = true;
            return Ok(Some(Followed::Waiting(snapshot)));
        }
        Ok(None)
    }

    /// The run has ended on the cluster: its last events from the worker that ended it while
    /// that worker still has them, else its final state from Temporal.
    async fn ended(&mut self, status: String) -> Result<Option<Followed>, ClusterError> {
        let Some(end) = self.cluster.result(self.id).await? else {
            self.done = true;
            return Ok(Some(Followed::Ended {
                snapshot: None,
                status,
            }));
        };
        if self.joining {
            self.done = true;
            return Ok(Some(Followed::Ended {
                snapshot: Some(end.snapshot),
                status,
            }));
        }
        if let Some(rewind) = self.switch_to(&end) {
            return Ok(Some(rewind));
        }
        if self.joining {
            // Behind the worker that ended it: its final state whole.
            self.done = true;
            return Ok(Some(Followed::Ended {
                snapshot: Some(end.snapshot),
                status,
            }));
        }
        let told = Followed::Ended {
            snapshot: Some(end.snapshot.clone()),
            status,
        };
        if self.last_seq < end.snapshot.last_seq
            && let Some(worker) = self.cluster.worker(&end.endpoint)
            && let Ok(events) = worker.events(self.id, self.last_seq).await
        {
            self.events = Some(events);
            self.ending = Some(told);
            return Ok(None);
        }
        self.done = true;
        Ok(Some(told))
    }

    /// Follows the worker of `c` from now. A worker other than the one followed goes on from
    /// its checkpoint: if the earlier worker's events went past it, they are taken back.
    fn switch_to(&mut self, c: &Checkpoint) -> Option<Followed> {
        if self.endpoint.as_deref() == Some(&c.endpoint) {
            return None;
        }
        let had_one = self.endpoint.is_some();
        self.endpoint = Some(c.endpoint.clone());
        self.events = None;
        if had_one && self.last_seq > c.base_seq {
            self.last_seq = c.base_seq;
            return Some(Followed::Rewind { to: c.base_seq });
        }
        if had_one && self.last_seq < c.base_seq {
            // Behind its checkpoint (the earlier worker died before this follower heard all it
            // sent): the new worker has nothing before it, so the run is taken whole from it.
            self.joining = true;
        }
        None
    }
}

/// The terminal event an ended run's final state stands for, for a follower that heard the end
/// ([`Followed::Ended`]) without the event itself; `None` while the run is live.
pub fn end_event(s: &RunSnapshot) -> Option<EventKind> {
    let duration_ms = match (s.started_at_ms, s.ended_at_ms) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    Some(match s.status {
        RunStatus::Completed => EventKind::RunCompleted {
            output: s.final_output.clone().unwrap_or_else(|| s.final_text()),
            duration_ms,
        },
        RunStatus::Cancelled => EventKind::RunCancelled {
            reason: s.cancel_reason.unwrap_or(CancelReason::User),
            running: s
                .steps
                .iter()
                .filter(|st| st.status == StepStatus::Cancelled)
                .map(|st| PartialStep {
                    path: st.path.clone(),
                    text: st.text.clone(),
                    usage: st.usage,
                })
                .collect(),
            duration_ms,
        },
        RunStatus::Failed | RunStatus::Interrupted => {
            let error = s.error.clone();
            EventKind::RunFailed {
                path: error.as_ref().and_then(|e| e.path.clone()),
                error: error
                    .as_ref()
                    .map_or(crate::failure::ErrorKind::Internal, |e| e.kind),
                message: error.map(|e| e.message).unwrap_or_default(),
                duration_ms,
            }
        }
        RunStatus::Pending | RunStatus::Running | RunStatus::Waiting => return None,
    })
}
