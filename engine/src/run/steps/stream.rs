//! Streaming one model call into a step's `TextDelta` events, with the step's retries.

use std::time::Duration;

use futures_util::StreamExt;

use super::{Halt, Scope, StepFailure};
use crate::event::{ErrorKind, EventKind};
use crate::provider::{Chunk, ModelRequest, ProviderError};
use crate::tool::ToolCall;

/// What one model call gave once it finished: the step's whole text so far, this call's own
/// text, the tools it asked for (complete calls only) and how many bytes those calls took to
/// stream. Its usage went to the run's meters (`run/meter.rs`), where a cancel finds it too.
pub(super) struct Streamed {
    pub text: String,
    pub turn_text: String,
    pub calls: Vec<ToolCall>,
    pub call_bytes: usize,
}

/// What a step has written before a model call: its text, and its earlier tool calls' bytes
/// (names, ids, arguments). Both count toward the step's output limit: a model that streams
/// endless arguments is stopped like one that streams endless text.
#[derive(Clone, Copy, Default)]
pub(super) struct Written {
    pub text: usize,
    pub calls: usize,
}

/// Streams `request` into the step at `path`. A provider fault before any text was shown is
/// tried again (after 1 s, 2 s, 4 s …); after text, or for a fault a retry cannot mend (a
/// rejected key, a bad setting), the step fails. Dropping this future drops the provider's
/// stream, which is how a cancel or a timeout closes the connection.
///
/// `retries` is one budget for the whole call: at most `1 + retries` requests, whether a retry
/// is the provider's (a 429 or 5xx answer, sent again inside one attempt) or the step's (a
/// dropped or silent stream). With `retries = 0` the provider's own policy applies to 429 and
/// 5xx answers (`[network] max_retries`), and nothing else is tried again.
/// `written` is what the step already has (from earlier tool rounds): the step's output limit
/// counts it.
pub(super) async fn stream_model(
    scope: &Scope,
    path: &str,
    mut request: ModelRequest,
    retries: u32,
    written: Written,
) -> Result<Streamed, Halt> {
    let mut attempt = 0;
    // Requests sent so far.
    let mut sent: u32 = 0;
    loop {
        if retries > 0 {
            request.retries = Some(retries.saturating_sub(sent));
        }
        match stream_once(scope, path, request.clone(), written).await {
            Ok(done) => return Ok(done),
            Err(Attempt::Stopped) => return Err(Halt::Stopped),
            Err(Attempt::Failed { error, wrote }) => {
                sent = sent.saturating_add(error.requests.max(1));
                if wrote || sent > retries || !retryable(error.kind) {
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
    written_before: Written,
) -> Result<Streamed, Attempt> {
    let before = written_before.text;
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
    // Bytes of tool calls, the earlier rounds' and this call's.
    let mut call_bytes = written_before.calls;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(Chunk::Text(text)) if text.is_empty() => {}
            Ok(Chunk::Text(mut text)) => {
                let room = max_output.saturating_sub(written + call_bytes);
                let over = text.len() > room;
                if over {
                    text.truncate(floor_char_boundary(&text, room));
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
            Ok(Chunk::ToolCallBytes(n)) => {
                call_bytes = call_bytes.saturating_add(n);
                if written.saturating_add(call_bytes) > max_output {
                    // Not tried again: the model would most likely do the same.
                    return Err(Attempt::Failed {
                        error: too_long(max_output),
                        wrote: true,
                    });
                }
            }
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
        call_bytes: call_bytes - written_before.calls,
    })
}

/// The largest index ≤ `at` that starts a character of `text`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// A size in words for people: "500 bytes", "100 kB", "1.5 MB".
pub(super) fn size(bytes: usize) -> String {
    if bytes < 1_000 {
        format!("{bytes} bytes")
    } else if bytes >= 1_000_000 {
        format!("{} MB", bytes as f64 / 1_000_000.0)
    } else {
        format!("{} kB", (bytes as f64 / 1_000.0).ceil())
    }
}

fn too_long(max_output: usize) -> ProviderError {
    let size = size(max_output);
    ProviderError::new(
        ErrorKind::Provider,
        format!(
            "This step wrote more than {size} of text and tool calls, so Stepwise stopped it (a \
             model that repeats itself does this). The text so far is kept. The limit is \
             `max_step_output_bytes` under [limits] in the settings file."
        ),
    )
}
