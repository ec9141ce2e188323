//! The `drive` activity: one leg of a run, on this worker's engine (§13). It starts the run (or
//! takes it over from a checkpoint), heartbeats a new checkpoint within 100 ms of a step boundary and at
//! least every second, passes a Temporal cancel on to the engine, and ends when the run ends —
//! or parks the run when nothing is left to do but wait for a person, so that no worker holds
//! it while it waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stepwise_engine::cluster::{Checkpoint, Leg, LegEnd, checkpoint, from_payload, to_payload};
use stepwise_engine::{CancelReason, Engine, EventKind, RunStatus, StartRun, Subscription};
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// How often a leg looks whether to heartbeat: a checkpoint that changed goes out at the next
/// look (the SDK sends at most one a second anyway), and one goes out at least every second so
/// Temporal knows the worker lives — well inside the heartbeat timeout.
const LOOK: Duration = Duration::from_millis(100);
const BEAT: Duration = Duration::from_secs(1);

/// What every leg on this worker shares.
pub struct Legs {
    pub engine: Engine,
    /// This worker's endpoint, as clients reach it (`http://HOST:PORT`).
    pub endpoint: String,
    /// Set when the worker stops: a leg cancelled then is handed back, not the run cancelled.
    pub stopping: Arc<AtomicBool>,
}

#[activities]
impl Legs {
    #[activity(name = "drive")]
    pub async fn drive(
        self: Arc<Self>,
        ctx: ActivityContext,
        leg: String,
    ) -> Result<String, ActivityError> {
        let leg: Leg = from_payload(&leg).map_err(|e| bad_run(e.to_string()))?;
        // An earlier attempt's last heartbeat (its worker died) is newer than the workflow's.
        let beat: Option<Checkpoint> = ctx
            .heartbeat_details()
            .deserialize::<String>()
            .ok()
            .flatten()
            .and_then(|text| from_payload(&text).ok());
        let from = beat.map(|c| c.snapshot).or(leg.from);
        let id = leg.order.run_id;
        let started = match from {
            None => self.engine.start_subscribed(StartRun {
                workflow: leg.order.workflow,
                input: leg.order.input,
                run_id: Some(id),
            }),
            Some(snapshot) => self.engine.take_over(snapshot, leg.order.workflow),
        };
        let (_, mut events) = started.map_err(|e| bad_run(e.to_string()))?;
        if leg.cancel {
            self.engine.cancel(id, CancelReason::User);
        }
        // The review this leg was started to answer: until the run has taken the answer, it is
        // not waiting for the person any more, though its snapshot still says so.
        let mut answering = None;
        if let Some(a) = leg.answer {
            // Refused only if that review is no longer waited for: the run goes on as it is.
            if self.engine.answer_review(id, &a.path, a.answer).is_ok() {
                answering = Some(a.path);
            }
        }
        let base_seq = events.snapshot.last_seq;
        let mut cancelled = false;
        let mut look = tokio::time::interval(LOOK);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Something other than text happened since the last checkpoint.
        let mut changed = true;
        let mut last_beat = Instant::now();
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(e) => {
                        if let EventKind::ReviewAnswered { path, .. } = &e.kind
                            && answering.as_ref() == Some(path)
                        {
                            answering = None;
                        }
                        changed |= !matches!(e.kind, EventKind::TextDelta { .. });
                        continue;
                    }
                    None => break, // ended, or parked
                },
                _ = look.tick() => {}
                _ = ctx.cancelled(), if !cancelled => {
                    if self.stopping.load(Ordering::Acquire) {
                        // Temporal gives the leg to another worker, which goes on from the
                        // last checkpoint; this process ends without a word for the run.
                        return Err(ActivityError::cancelled());
                    }
                    cancelled = true;
                    self.engine.cancel(id, CancelReason::User);
                    continue;
                }
            }
            if !changed && last_beat.elapsed() < BEAT {
                continue;
            }
            let Some(now) = self.engine.get(id) else {
                break;
            };
            // Nothing runs and a person is asked: let go of the run until answered.
            if answering.is_none() && now.can_wait_across_restart() && self.engine.park(id) {
                drain(&mut events).await;
                break;
            }
            let beat = Checkpoint {
                endpoint: self.endpoint.clone(),
                base_seq,
                snapshot: checkpoint(&now),
            };
            let _ = ctx.record_heartbeat(to_payload(&beat)).await;
            changed = false;
            last_beat = Instant::now();
        }
        let end = self.engine.wait(id).await.or_else(|| self.engine.get(id));
        let snapshot = end.ok_or_else(|| bad_run("the run left this worker's memory".into()))?;
        if snapshot.status == RunStatus::Waiting {
            // Parked: the next leg, on this worker or another, takes it over afresh.
            self.engine.forget(id);
        }
        let end = if snapshot.status == RunStatus::Waiting {
            LegEnd::Waiting {
                snapshot: checkpoint(&snapshot),
            }
        } else {
            LegEnd::Ended {
                end: Checkpoint {
                    endpoint: self.endpoint.clone(),
                    base_seq,
                    snapshot,
                },
            }
        };
        Ok(to_payload(&end))
    }
}

async fn drain(events: &mut Subscription) {
    while events.next().await.is_some() {}
}

/// A run this worker cannot run at all (its workflow refused): trying again elsewhere would
/// not help.
fn bad_run(message: String) -> ActivityError {
    ActivityError::Application(Box::new(
        ApplicationFailure::builder(message)
            .type_name("BadRun".to_owned())
            .non_retryable(true)
            .build(),
    ))
}
