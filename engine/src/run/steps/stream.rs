//! Streaming one model call into a step's `TextDelta` events, with the step's retries.

use std::time::Duration;

use futures_util::StreamExt;

use super::{Halt, Scope, StepFailure};
use crate::event::{ErrorKind, EventKind, Usage};
use crate::provider::{Chunk, ModelRequest, ProviderError};

/// The step's text and usage once the model has finished.
pub(super) struct Streamed {
    pub text: String,
    pub usage: Option<Usage>,
}

/// Streams `request` into the step at `path`. A provider fault before any text was shown is
/// tried again up to `retries` times (after 1 s, 2 s, 4 s …); after text, or for a fault a retry
/// cannot mend (a rejected key, a bad setting), the step fails. Dropping this future drops the
/// provider's stream, which is how a cancel or a timeout closes the connection.
pub(super) async fn stream_model(
    scope: &Scope,
    path: &str,
    request: ModelRequest,
    retries: u32,
) -> Result<Streamed, Halt> {
    let mut attempt = 0;
    loop {
        match stream_once(scope, path, request.clone()).await {
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
    let mut stream = provider.stream(request);
    // Shared by every delta of this step.
    let shared_path: std::sync::Arc<str> = path.into();
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
            Ok(Chunk::Usage(u)) => usage = Some(u),
            Err(error) => {
                return Err(Attempt::Failed {
                    error,
                    wrote: written > 0,
                });
            }
        }
    }
    Ok(Streamed {
        text: scope.run.step_text(path),
        usage,
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
