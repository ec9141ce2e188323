//! Streaming one model call into a step's `TextDelta` events, with the step's retries.

use std::time::Duration;

use futures_util::StreamExt;

use super::{Halt, Scope, StepFailure};
use crate::event::{ErrorKind, EventKind};
use crate::provider::{Chunk, ModelRequest, ProviderError};
use crate::tool::ToolCall;

/// What one model call gave once it finished: the step's whole text so far, this call's own
/// text, and the tools it asked for (complete calls only). Its usage went to the run's meters
/// (`run/meter.rs`), where a cancel finds it too.
pub(super) struct Streamed {
    pub text: String,
    pub turn_text: String,
    pub calls: Vec<ToolCall>,
}

/// Streams `request` into the step at `path`. A provider fault before any text was shown is
/// tried again up to `retries` times (after 1 s, 2 s, 4 s …); after text, or for a fault a retry
/// cannot mend (a rejected key, a bad setting), the step fails. Dropping this future drops the
/// provider's stream, which is how a cancel or a timeout closes the connection.
/// `written` is the text the step already has (from earlier tool rounds): the step's output
/// limit counts it.
pub(super) async fn stream_model(
    scope: &Scope,
    path: &str,
    request: ModelRequest,
    retries: u32,
    written: usize,
) -> Result<Streamed, Halt> {
    let mut attempt = 0;
    loop {
        match stream_once(scope, path, request.clone(), written).await {
            Ok(done) => return Ok(done),
            Err(Attempt::Stopped) => return Err(Halt::Stopped),
            Err(Attempt::Failed { error, wrote }) => {
                if wrote || attempt >= retries || !retryable(error.kind) {
                    return Err(Halt::Failed(StepFailure {
                        path: path.to_string(),
                        kind: error.kind,
                        message: error.message,
                    }));
                }
                attempt += 1;
                let wait = Duration::from_secs(1 << (attempt - 1).min(5));
                tokio::select! {
                    biased;
                    _ = scope.token.cancelled() => return Err(Halt::Stopped),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Faults another attempt may mend. A rejected key or a bad setting will not change by waiting.
fn retryable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::RateLimit | ErrorKind::Provider | ErrorKind::Network | ErrorKind::Timeout
    )
}

enum Attempt {
    Failed { error: ProviderError, wrote: bool },
    Stopped,
}

async fn stream_once(
    scope: &Scope,
    path: &str,
    request: ModelRequest,
    before: usize,
) -> Result<Streamed, Attempt> {
    let provider = scope
        .cx
        .providers
        .resolve(&request.model)
        .map_err(|error| Attempt::Failed {
            error,
            wrote: false,
        })?;
    let max_output = scope.cx.max_step_output;
    let keep_turn = !request.tools.is_empty();
    let meters = &scope.run.meters;
    meters.call_started(path, &request, before);
    let mut stream = provider.stream(request);
    // Shared by every delta of this step.
    let shared_path: std::sync::Arc<str> = path.into();
    // The step's text lives in the run's snapshot; this call keeps its own part for the next
    // tool round's request.
    let mut written = before;
    let mut turn_text = String::new();
    let mut calls = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(Chunk::Text(text)) if text.is_empty() => {}
            Ok(Chunk::Text(mut text)) => {
                let over = written + text.len() > max_output;
                if over {
                    text.truncate(floor_char_boundary(&text, max_output - written));
                }
                written += text.len();
                if keep_turn {
                    turn_text.push_str(&text);
                }
                if !text.is_empty()
                    && !scope.run.emit(EventKind::TextDelta {
                        path: shared_path.clone(),
                        text,
                    })
                {
                    return Err(Attempt::Stopped);
                }
                if over {
                    return Err(Attempt::Failed {
                        error: too_long(max_output),
                        wrote: true,
                    });
                }
            }
            Ok(Chunk::Usage(u)) => meters.reported(path, u),
            Ok(Chunk::ToolCall(call)) => calls.push(call),
            Err(error) => {
                let wrote = written > before;
                // A call that failed before any text (a refused key, a 429) is taken as
                // charging nothing; one cut off mid-answer stays open, to be estimated.
                if !wrote {
                    meters.call_failed(path);
                }
                return Err(Attempt::Failed { error, wrote });
            }
        }
    }
    let text = scope.run.step_text(path);
    meters.call_finished(path, &text);
    Ok(Streamed {
        text,
        turn_text,
        calls,
    })
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
