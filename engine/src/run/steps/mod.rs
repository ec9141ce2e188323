//! The step executors (ARCHITECTURE.md §3): one file per kind, recursive over the tree.
//!
//! [`run_step`] is what every kind shares: it announces the step, runs the kind's executor under
//! a child of its parent's cancellation token (with the step's timeout, if it has one), and turns
//! the result into the step's last event — completed, failed, or set aside by `on_error`.
//!
//! A cancel never goes through `on_error` or retries: every executor returns [`Halt::Stopped`]
//! as soon as its token is cancelled, and `run_step` passes that straight up.

mod agent;
mod condition;
mod context;
mod group;
mod loop_rounds;
mod outline;
mod parallel;
mod replay;
mod review;
pub(crate) mod router;
mod scope;
mod step;
mod stream;
mod tool_calls;
mod tool_step;

pub(crate) use context::RunContext;
pub(crate) use outline::outline;
pub(crate) use replay::Replay;
pub(crate) use scope::Scope;
pub(crate) use step::run_step;

use std::future::Future;
use std::pin::Pin;

use crate::event::ErrorKind;
use crate::prompt::PreviousStep;
use crate::workflow::{Step, StepKind};

/// Why a step did not produce an output.
#[derive(Debug)]
pub(crate) enum Halt {
    /// It failed (or a step inside it did): `on_error` decides what happens next.
    Failed(StepFailure),
    /// The run's outcome was decided elsewhere (a cancel): emit nothing more.
    Stopped,
}

/// A failure, named by the step where it started.
#[derive(Clone, Debug)]
pub(crate) struct StepFailure {
    pub path: String,
    pub kind: ErrorKind,
    pub message: String,
}

/// What a kind's executor gives back. (What its model calls used is in the run's meters.)
pub(crate) struct Done {
    pub output: String,
}

impl Done {
    fn text(output: String) -> Self {
        Done { output }
    }
}

pub(crate) type Executed<'a> = Pin<Box<dyn Future<Output = Result<Done, Halt>> + Send + 'a>>;

/// Where a kind's executor runs: its scope, its step, the path it runs under, and the output
/// of the step before it (the flow).
#[derive(Clone, Copy)]
pub(crate) struct At<'a> {
    pub scope: &'a Scope,
    pub step: &'a Step,
    pub path: &'a str,
    pub previous: Option<&'a PreviousStep>,
}

/// The executor of the step's kind, given what only that kind has.
fn execute<'a>(
    scope: &'a Scope,
    step: &'a Step,
    path: &'a str,
    previous: Option<&'a PreviousStep>,
) -> Executed<'a> {
    let at = At {
        scope,
        step,
        path,
        previous,
    };
    match &step.kind {
        StepKind::Agent(k) => agent::execute(at, k),
        StepKind::Parallel(k) => parallel::execute(at, k),
        StepKind::Loop(k) => loop_rounds::execute(at, k),
        StepKind::Condition(k) => condition::execute(at, k),
        StepKind::Router(k) => router::execute(at, k),
        StepKind::Group(k) => group::execute(at, k),
        StepKind::Tool(k) => tool_step::execute(at, k),
    }
}

/// Steps one after another, each given the output of the last one that produced one. Returns
/// that last output (the flow after the sequence).
pub(crate) async fn run_sequence(
    scope: &Scope,
    steps: &[Step],
    mut previous: Option<PreviousStep>,
) -> Result<Option<PreviousStep>, Halt> {
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            between_steps(scope).await?;
        }
        if let Some(output) = run_step(scope, step, previous.as_ref()).await? {
            previous = Some(PreviousStep {
                name: step.name.clone(),
                output,
            });
        }
    }
    Ok(previous)
}

/// Between steps: let other tasks (a cancel, the window's reader) run before the next step
/// starts, and stop here if the run was cancelled meanwhile.
pub(crate) async fn between_steps(scope: &Scope) -> Result<(), Halt> {
    tokio::select! {
        biased;
        _ = scope.token.cancelled() => Err(Halt::Stopped),
        _ = tokio::task::yield_now() => Ok(()),
    }
}
