//! What the server does with a request.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Behavior {
    /// The text pieces to stream, one per SSE event.
    pub tokens: Vec<String>,
    /// Wait after the headers before the first token (time to first token).
    pub first_token_delay_ms: u64,
    /// Wait between tokens; 0 sends them as fast as the connection takes them.
    pub token_interval_ms: u64,
    /// Send a usage chunk at the end (OpenAI) / usage in message_start and message_delta (Anthropic).
    pub usage: bool,
    pub fault: Fault,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior::words(20, 0)
    }
}

impl Behavior {
    /// `n` tokens `tok0 `, `tok1 ` … sent every `interval_ms`.
    pub fn words(n: usize, interval_ms: u64) -> Self {
        Behavior {
            tokens: (0..n).map(|i| format!("tok{i} ")).collect(),
            first_token_delay_ms: interval_ms,
            token_interval_ms: interval_ms,
            usage: true,
            fault: Fault::None,
        }
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    pub fn status(code: u16, message: &str) -> Self {
        Behavior::default().with_fault(Fault::Status {
            code,
            message: message.to_string(),
            retry_after_secs: None,
        })
    }
}

/// A failure to inject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    #[default]
    None,
    /// Answer with this status and a JSON error body in the provider's format.
    Status {
        code: u16,
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// Read the request, then never answer (the client waits for headers).
    HangBeforeHeaders,
    /// Close the connection after this many tokens, mid-stream.
    DropAfter { tokens: usize },
    /// After this many tokens, send an event whose data is not valid JSON.
    MalformedAfter { tokens: usize },
    /// After this many tokens, send nothing more but keep the connection open.
    StallAfter { tokens: usize },
    /// After this many tokens, send the provider's in-stream error event.
    ErrorEventAfter { tokens: usize, message: String },
}
