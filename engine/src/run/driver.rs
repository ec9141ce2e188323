//! The task that runs a workflow's steps in order, streaming each one's text as events.
//!
//! Every await races the step's cancellation token (a child of the run's), so a cancel stops the
//! run at whatever it is waiting on; dropping the provider's stream is what closes its connection.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{FutureExt, StreamExt};

use super::RunState;
use super::state::Decision;
use crate::event::{ErrorKind, EventKind, Usage};
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
    /// Bytes of text one step may write.
    pub max_step_output: usize,
}

/// Runs the workflow, then emits the terminal event once every task of the run has ended.
/// A panic anywhere in the steps (a provider, a bug) ends the run `failed` with kind `internal`
/// and its one terminal event, so no subscriber, `cancel` or `wait` is left hanging.
pub(crate) async fn drive(run: Arc<RunState>, cx: DriveContext) {
    let decision = match AssertUnwindSafe(run_steps(&run, &cx)).catch_unwind().await {
        Ok(decision) => decision,
        Err(_) => Some(Decision::Failed(RunError {
            step_index: run.running_step().unwrap_or(0) as u32,
            kind: ErrorKind::Internal,
            message: "Stepwise hit an internal error and stopped this run. The text so far is \
                      kept. Please try again; if it happens again, report it with the log."
                .into(),
        })),
    };
    if let Some(decision) = decision {
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
            end = stream_step(run, index, &cx.providers, request, cx.max_step_output) => end,
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
    max_output: usize,
) -> StepEnd {
    let provider = match providers.resolve(&request.model) {
        Ok(p) => p,
        Err(e) => return StepEnd::Failed(e),
    };
    let mut stream = provider.stream(request);
    // The text itself lives in the run's snapshot; the step only counts it.
    let mut written = 0usize;
    let mut usage = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(Chunk::Text(text)) if text.is_empty() => {}
            Ok(Chunk::Text(mut text)) => {
                let over = written + text.len() > max_output;
                if over {
                    text.truncate(floor_char_boundary(&text, max_output - written));
                }
                written += text.len();
                if !text.is_empty()
                    && !run.emit(EventKind::TextDelta {
                        step_index: index,
                        text,
                    })
                {
                    return StepEnd::Stopped;
                }
                if over {
                    return StepEnd::Failed(too_long(max_output));
                }
            }
            Ok(Chunk::Usage(u)) => usage = Some(u),
            Err(e) => return StepEnd::Failed(e),
        }
    }
    StepEnd::Completed {
        output: run.step_text(index as usize),
        usage,
    }
}

/// The largest index ≤ `at` that starts a character of `text`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

fn too_long(max_output: usize) -> ProviderError {
    let size = if max_output >= 1_000_000 {
        format!("{} MB", max_output as f64 / 1_000_000.0)
    } else {
        format!("{} kB", (max_output as f64 / 1_000.0).ceil())
    };
    ProviderError::new(
        ErrorKind::Provider,
        format!(
            "This step wrote more than {size} of text, so Stepwise stopped it (a model that repeats \
             itself does this). The text so far is kept. The limit is `max_step_output_bytes` \
             under [limits] in the settings file."
        ),
    )
}
