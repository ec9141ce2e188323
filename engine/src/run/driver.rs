//! The task that runs a workflow's steps in order, streaming each one's text as events.
//!
//! Every await races the step's cancellation token (a child of the run's), so a cancel stops the
//! run at whatever it is waiting on; dropping the provider's stream is what closes its connection.

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;

use super::RunState;
use super::state::Decision;
use crate::event::{EventKind, Usage};
use crate::model_ref::ModelRef;
use crate::provider::{Chunk, ModelRequest, PreviousStep, ProviderError, Providers};
use crate::snapshot::RunError;
use crate::workflow::Workflow;

/// What a driver needs besides the run's state.
pub(crate) struct DriveContext {
    pub workflow: Workflow,
    pub input: String,
    pub providers: Providers,
    pub default_model: ModelRef,
}

/// Runs the workflow, then emits the terminal event once every task of the run has ended.
pub(crate) async fn drive(run: Arc<RunState>, cx: DriveContext) {
    if let Some(decision) = run_steps(&run, &cx).await {
        // Loses (and changes nothing) if a cancel decided first.
        run.decide(decision);
    }
    run.tasks.close();
    run.tasks.wait().await;
    run.finish();
}

/// The outcome the steps reached, or `None` if the run was stopped from outside.
async fn run_steps(run: &RunState, cx: &DriveContext) -> Option<Decision> {
    let mut previous: Option<PreviousStep> = None;
    for (index, step) in cx.workflow.steps.iter().enumerate() {
        if index > 0 {
            // Between steps: let other tasks (a cancel, the UI's reader) run before the next
            // step starts, and stop here if the run was cancelled meanwhile.
            tokio::select! {
                biased;
                _ = run.token.cancelled() => return None,
                _ = tokio::task::yield_now() => {}
            }
        }
        let index = index as u32;
        let model = step
            .model
            .clone()
            .unwrap_or_else(|| cx.default_model.clone());
        if !run.emit(EventKind::StepStarted {
            step_index: index,
            name: step.name.clone(),
            model: model.to_string(),
        }) {
            return None;
        }
        let started = Instant::now();
        let request = ModelRequest {
            model: model.clone(),
            instructions: step.instructions.clone(),
            input: cx.input.clone(),
            previous: previous.take(),
        };
        let token = run.token.child_token();
        let end = tokio::select! {
            biased;
            _ = token.cancelled() => StepEnd::Stopped,
            end = stream_step(run, index, &cx.providers, request) => end,
        };
        match end {
            StepEnd::Stopped => return None,
            StepEnd::Failed(e) => {
                return Some(Decision::Failed(RunError {
                    step_index: index,
                    kind: e.kind,
                    message: e.message,
                }));
            }
            StepEnd::Completed { output, usage } => {
                if !run.emit(EventKind::StepCompleted {
                    step_index: index,
                    output: output.clone(),
                    duration_ms: started.elapsed().as_millis() as u64,
                    usage,
                }) {
                    return None;
                }
                previous = Some(PreviousStep {
                    name: step.name.clone(),
                    output,
                });
            }
        }
    }
    Some(Decision::Completed {
        output: previous.map(|p| p.output).unwrap_or_default(),
    })
}

enum StepEnd {
    Completed {
        output: String,
        usage: Option<Usage>,
    },
    Failed(ProviderError),
    /// The outcome was decided elsewhere (a cancel); emit nothing more.
    Stopped,
}

/// Streams one step's text into `TextDelta` events. Dropping this future drops the provider's
/// stream, which is how a cancel reaches the provider.
async fn stream_step(
    run: &RunState,
    index: u32,
    providers: &Providers,
    request: ModelRequest,
) -> StepEnd {
    let provider = match providers.resolve(&request.model) {
        Ok(p) => p,
        Err(e) => return StepEnd::Failed(e),
    };
    let mut stream = provider.stream(request);
    let mut output = String::new();
    let mut usage = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(Chunk::Text(text)) if text.is_empty() => {}
            Ok(Chunk::Text(text)) => {
                output.push_str(&text);
                if !run.emit(EventKind::TextDelta {
                    step_index: index,
                    text,
                }) {
                    return StepEnd::Stopped;
                }
            }
            Ok(Chunk::Usage(u)) => usage = Some(u),
            Err(e) => return StepEnd::Failed(e),
        }
    }
    StepEnd::Completed { output, usage }
}
