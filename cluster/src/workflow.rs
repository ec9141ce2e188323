//! The Temporal workflow of one Stepwise run (§13): the run's id is the workflow's, and its work
//! is done in *legs* — `drive` activities on any worker of the queue. A leg ends when the run
//! ends, or when nothing is left to do but wait for a person: the workflow then waits for the
//! `answer` signal with no worker holding the run (for days if need be) and starts the next leg
//! from where the run waited. A worker that dies mid-leg stops heartbeating; Temporal starts
//! the leg again on another worker, which goes on from the dead one's last checkpoint.
//!
//! Workflow code is replayed by Temporal, so it only decides: no clock, no I/O, no engine.

use std::time::Duration;

use stepwise_engine::RunSnapshot;
use stepwise_engine::StepStatus;
use stepwise_engine::cluster::{Checkpoint, Leg, LegEnd, RunOrder, from_payload, to_payload};
use stepwise_engine::control::ReviewRequest;
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, ApplicationFailure,
    SyncWorkflowContext, WorkflowCancellationToken, WorkflowContext, WorkflowResult,
    WorkflowTermination,
};

use crate::legs::Legs;

/// How long a worker may go without a heartbeat before its leg is given to another worker.
/// Workers heartbeat every second, so a few seconds tells a dead worker from a busy one.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);

#[workflow]
#[derive(Default)]
pub struct StepwiseRun {
    /// Answers to reviews, as signalled, not yet given to a leg.
    answers: Vec<ReviewRequest>,
}

#[workflow_methods]
impl StepwiseRun {
    #[run(name = "StepwiseRun")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, order: String) -> WorkflowResult<String> {
        let order: RunOrder = from_payload(&order).map_err(bad_payload)?;
        let end = Self::legs(ctx, order).await?;
        Ok(to_payload(&end))
    }

    /// A person answered a review (from any app or `stepwise answer`).
    #[signal(name = "answer")]
    pub fn answer(&mut self, _ctx: &mut SyncWorkflowContext<Self>, req: String) {
        // An answer that cannot be read is one nobody gave.
        if let Ok(req) = from_payload(&req) {
            self.answers.push(req);
        }
    }
}

impl StepwiseRun {
    /// Legs until the run ends; its end.
    async fn legs(ctx: &mut WorkflowContext<Self>, order: RunOrder) -> WorkflowResult<Checkpoint> {
        let mut from: Option<RunSnapshot> = None;
        let mut answer: Option<ReviewRequest> = None;
        loop {
            let leg = Leg {
                order: order.clone(),
                from: from.take(),
                answer: answer.take(),
                cancel: false,
            };
            let end = ctx
                .execute_activity(Legs::drive, to_payload(&leg), leg_options(None))
                .await;
            let waiting = match end {
                Ok(text) => match from_payload(&text).map_err(bad_payload)? {
                    LegEnd::Ended { end } => return Ok(end),
                    LegEnd::Waiting { snapshot } => snapshot,
                },
                // Cancelled before a worker took the leg: end the run as cancelled.
                Err(ActivityExecutionError::Cancelled(_)) => {
                    return conclude_cancelled(ctx, &order, None).await;
                }
                Err(e) => return Err(e.into()),
            };
            let paths: Vec<String> = waiting
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Waiting)
                .map(|s| s.path.clone())
                .collect();
            let answered = ctx
                .wait_condition(|s| s.answers.iter().any(|a| paths.contains(&a.path)))
                .await;
            if answered.is_err() {
                // Cancelled while it waited: no worker holds it, so one leg ends it.
                return conclude_cancelled(ctx, &order, Some(waiting)).await;
            }
            answer = ctx.state_mut(|s| {
                let i = s.answers.iter().position(|a| paths.contains(&a.path))?;
                Some(s.answers.remove(i))
            });
            from = Some(waiting);
        }
    }
}

/// A leg that ends the run as cancelled (its one `RunCancelled`, its text kept), run even
/// though the workflow itself is cancelled.
async fn conclude_cancelled(
    ctx: &mut WorkflowContext<StepwiseRun>,
    order: &RunOrder,
    from: Option<RunSnapshot>,
) -> WorkflowResult<Checkpoint> {
    let leg = Leg {
        order: order.clone(),
        from,
        answer: None,
        cancel: true,
    };
    let detached = WorkflowCancellationToken::new();
    let text = ctx
        .execute_activity(Legs::drive, to_payload(&leg), leg_options(Some(detached)))
        .await?;
    match from_payload(&text).map_err(bad_payload)? {
        LegEnd::Ended { end } => Ok(end),
        LegEnd::Waiting { snapshot } => Err(ApplicationFailure::non_retryable(format!(
            "run {} waits again after it was cancelled",
            snapshot.run_id
        ))
        .into()),
    }
}

fn leg_options(token: Option<WorkflowCancellationToken>) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(7 * 24 * 3600))
        .heartbeat_timeout(HEARTBEAT_TIMEOUT)
        // A cancel waits for the leg to end the run (its RunCancelled, its text kept).
        .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(200))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(5))
                .maximum_attempts(20)
                .non_retryable_error_types(["BadRun"])
                .build(),
        )
        .maybe_cancellation_token(token)
        .build()
}

fn bad_payload(e: serde_json::Error) -> WorkflowTermination {
    ApplicationFailure::non_retryable(format!("a run's data could not be read: {e}")).into()
}
