//! Model providers (ARCHITECTURE.md §6): given a request, a stream of text that stops when dropped.
//!
//! Dropping the stream is the only way a run stops a provider, so an implementation must release
//! everything it holds (for HTTP providers: close the connection) in its drop.

mod anthropic;
mod demo;
mod demo_text;
mod demo_tools;
pub(crate) mod http;
pub mod models;
mod openai;
mod registry;
mod request_tokens;
#[cfg(test)]
mod wire_fuzz;

pub use anthropic::{ANTHROPIC_BASE_URL, AnthropicProvider};
pub use demo::{DemoModel, DemoPace};
pub use http::{HttpOptions, RetryPolicy, clients_built, on_this_computer};
pub use openai::{OLLAMA_BASE_URL, OPENAI_BASE_URL, OPENAI_MAX_TOKENS, OpenAiProvider};
pub use registry::Providers;
pub use request_tokens::estimate_request;

use std::pin::Pin;

use futures_util::Stream;

use crate::event::{ErrorKind, Usage};
use crate::model_ref::ModelRef;
use crate::tool::{ToolCall, ToolSpec};

/// What a provider streams: text as it arrives, token usage when it reports it, and each tool
/// call once its arguments have arrived in full (a call cut off mid-arguments never appears).
/// A call's id may be empty (the step gives it one).
#[derive(Clone, Debug, PartialEq)]
pub enum Chunk {
    Text(String),
    Usage(Usage),
    ToolCall(ToolCall),
    /// This many bytes of tool calls (names, ids, pieces of arguments) arrived: progress, and
    /// part of the step's output, whose limit counts them as they come (a call is held whole
    /// until it is complete, so endless arguments would otherwise grow unseen).
    ToolCallBytes(usize),
}

/// A stream of chunks; it ends after the last chunk, or with an error.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Chunk, ProviderError>> + Send>>;

/// A failure a person can act on: its kind decides the wording the UI adds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
    /// Requests the call sent before it failed: more than one when 429 or 5xx answers were
    /// retried inside it. A step's retry budget counts them (`run/steps/stream.rs`).
    pub requests: u32,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            requests: 1,
        }
    }
}

/// One call to a model: the step's instructions (the system prompt) and its message. How they
/// are built from a step is the step's business (`run/steps/prompt.rs`). A step with tools also
/// sends their descriptions, and after its first turn what the model said and asked for and
/// what the tools answered.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRequest {
    pub model: ModelRef,
    pub system: String,
    pub user: String,
    pub tools: Vec<ToolSpec>,
    pub turns: Vec<ToolTurn>,
    /// How many times a 429 or 5xx answer may be sent again within this call; `None`: the
    /// provider's own policy (`[network] max_retries`). A step with `retries` sets what is left
    /// of its budget, so the two never multiply.
    pub retries: Option<u32>,
}

impl ModelRequest {
    /// A request with no tools.
    pub fn new(model: ModelRef, system: String, user: String) -> Self {
        ModelRequest {
            model,
            system,
            user,
            tools: Vec::new(),
            turns: Vec::new(),
            retries: None,
        }
    }
}

/// One round of a step's tool use: the model's text and calls, then each call's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolTurn {
    pub text: String,
    pub calls: Vec<ToolCall>,
    pub results: Vec<ToolAnswer>,
}

/// What a tool answered to one call, as the model reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolAnswer {
    pub call_id: String,
    pub content: String,
    pub is_error: bool,
}

/// A model provider. `stream` must not block: any I/O happens while the stream is polled.
pub trait Provider: Send + Sync + 'static {
    fn stream(&self, request: ModelRequest) -> ChunkStream;
}
