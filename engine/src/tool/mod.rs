//! Tools an agent may call (ARCHITECTURE.md §9): what a tool is, how a call is described, and
//! the built-in ones. A call is a future: dropping it is how a cancel or a timeout stops it, so a
//! tool must release what it holds (an HTTP tool: its connection) when dropped.

mod builtins;
mod demo_search;
mod fetch_page;
pub mod mcp;
pub mod net_guard;
mod registry;
mod seen_addresses;
pub mod sites;
mod special_addresses;
mod tool_settings;
mod web_access;
mod web_search;

pub use builtins::{BUILTIN_TOOLS, BuiltinTool, builtin};
pub use registry::Tools;
pub use seen_addresses::SeenAddresses;
pub use tool_settings::{DEFAULT_WEB_SEARCH_URL, ToolSettings};

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// What a model is told about a tool: its name, what it does and the JSON Schema of its
/// arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub input_schema: serde_json::Value,
}

/// A call a model asked for: its id (the provider's, echoed with the result), the tool's name,
/// and the arguments as the model wrote them (JSON text, not yet checked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A call's answer for the model (`content`), and a few words for a person (`preview`, such as
/// "8 results").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolOutput {
    pub content: String,
    pub preview: String,
}

/// A call that did not work. It goes back to the model as the tool's answer (the model may try
/// something else) unless it is `fatal`, which fails the step (a tool that cannot run at all).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    pub message: String,
    pub fatal: bool,
}

impl ToolError {
    /// A failure the model is told about.
    pub fn answer(message: impl Into<String>) -> Self {
        ToolError {
            message: message.into(),
            fatal: false,
        }
    }
}

/// One tool. `call` must not block; its I/O happens while the future is polled.
pub trait Tool: Send + Sync + 'static {
    fn spec(&self) -> &ToolSpec;
    fn call(
        &self,
        arguments: serde_json::Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>>;
    /// What a call does, in words for a person.
    fn describe(&self, arguments: Option<&serde_json::Value>) -> String {
        describe(&self.spec().name, arguments)
    }
    /// How long a call may take, if the tool has its own limit.
    fn timeout(&self) -> Option<std::time::Duration> {
        None
    }
    /// It only reads (a search, a page): it may run without asking.
    fn read_only(&self) -> bool {
        false
    }
    /// How Settings name it in `allow` and `ask`: `fetch_page`, `SERVER.TOOL`.
    fn policy_name(&self) -> String {
        self.spec().name.clone()
    }
    /// This call asks first although the tool only reads: `fetch_page` opening an address the
    /// model put together (see `seen_addresses.rs`).
    fn asks_for_call(&self, _arguments: &serde_json::Value) -> bool {
        false
    }
    /// What "Allow always" allows from now on for this call.
    fn grant(&self, _arguments: &serde_json::Value) -> Grant {
        Grant::Tool(self.policy_name())
    }
}

/// What "Allow always" lets run without asking from now on: a tool (as Settings name it in
/// `[tools] allow`), or the host of an address `fetch_page` was asked to open (`allow_hosts`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Grant {
    Tool(String),
    Host(String),
}

/// A tool as a step holds it.
pub type SharedTool = Arc<dyn Tool>;

/// What a call does, in words for a person: "Searching the web for “tidal energy”".
pub fn describe(tool: &str, arguments: Option<&serde_json::Value>) -> String {
    let arg = |name: &str| {
        arguments
            .and_then(|a| a.get(name))
            .and_then(|v| v.as_str())
            .map(|s| shorten(s.trim(), 80))
    };
    match builtin(tool).and_then(|b| Some((b, arg(b.title_arg)?))) {
        Some((b, value)) => b.title.replace("{}", &value),
        None => format!("Calling {tool}"),
    }
}

pub(crate) fn shorten(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A required string argument, or an answer that says which is missing.
pub(crate) fn string_arg(args: &serde_json::Value, name: &str) -> Result<String, ToolError> {
    match args.get(name).and_then(|v| v.as_str()).map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(ToolError::answer(format!(
            "the argument `{name}` (a non-empty string) is missing"
        ))),
    }
}

/// The first `max` bytes of `text`, cut at a character boundary.
pub(crate) fn truncate_at_char(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut at = max;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    true
}
