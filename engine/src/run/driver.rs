//! The task that runs a workflow's tree and then emits the run's one terminal event.
//!
//! Every await in the steps races a cancellation token (a child of the run's), so a cancel stops
//! the run at whatever it is waiting on; dropping a provider's stream is what closes its
//! connection. The terminal event waits for every task of the run (parallel branches).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;

use super::RunState;
use super::state::Decision;
use super::steps::{Halt, RunContext, Scope, run_sequence};
use crate::event::ErrorKind;
use crate::snapshot::RunError;
use crate::workflow::Workflow;

/// What a driver needs besides the run's state.
pub(crate) struct DriveContext {
    pub workflow: Workflow,
    pub context: RunContext,
}

/// Runs the workflow, then emits the terminal event once every task of the run has ended.
/// A panic anywhere in the steps (a provider, a bug) ends the run `failed` with kind `internal`
/// and its one terminal event, so no subscriber, `cancel` or `wait` is left hanging.
pub(crate) async fn drive(run: Arc<RunState>, cx: DriveContext) {
    let scope = Scope::top(run.clone(), Arc::new(cx.context));
    let decision = match AssertUnwindSafe(run_workflow(&scope, &cx.workflow))
        .catch_unwind()
        .await
    {
        Ok(decision) => decision,
        Err(_) => Some(Decision::Failed(RunError {
            path: run.snapshot().running().last().map(|s| s.path.clone()),
            kind: ErrorKind::Internal,
            message: "Stepwise hit an internal error and stopped this run. The text so far is \
                      kept. Please try again; if it happens again, report it with the log."
                .into(),
        })),
    };
    // Whatever happened, nothing of the run keeps going.
    scope.token.cancel();
    if let Some(decision) = decision {
        // Loses (and changes nothing) if a cancel decided first.
        run.decide(decision);
    }
    run.tasks.close();
    run.tasks.wait().await;
    run.settle_running(&scope.cx.prices);
    run.finish();
}

/// The outcome the steps reached, or `None` if the run was stopped from outside.
async fn run_workflow(scope: &Scope, workflow: &Workflow) -> Option<Decision> {
    match run_sequence(scope, &workflow.steps, None).await {
        Ok(flow) => Some(Decision::Completed {
            output: flow.map(|p| p.output).unwrap_or_default(),
        }),
        Err(Halt::Failed(f)) => Some(Decision::Failed(RunError {
            path: Some(f.path),
            kind: f.kind,
            message: f.message,
        })),
        Err(Halt::Stopped) => None,
    }
}
