//! Anthropic's messages API, streamed.

use std::collections::HashMap;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;

use super::http::{self, HttpCore, HttpOptions, Prepared, Step, WireParser};
use super::{Chunk, ChunkStream, ModelRequest, Provider, ProviderError};
use crate::event::saturating_u32;
use crate::event::{ErrorKind, Usage};
use crate::tool::ToolCall;

pub use crate::model_ref::ANTHROPIC_BASE_URL;
pub(super) const API_VERSION: &str = "2023-06-01";

pub struct AnthropicProvider {
    core: HttpCore,
    base_url: String,
    api_key: Option<String>,
    max_tokens: u32,
}

impl AnthropicProvider {
    pub fn new(
        base_url: impl Into<String>,
        api_key: Option<String>,
        max_tokens: u32,
        options: HttpOptions,
    ) -> Self {
        AnthropicProvider {
            core: HttpCore::new(options),
            base_url: base_url.into(),
            api_key: api_key.filter(|k| !k.trim().is_empty()),
            max_tokens: max_tokens.max(1),
        }
    }

    fn prepare(&self, req: &ModelRequest) -> Result<Prepared, ProviderError> {
        let (url, host) = http::endpoint(&self.base_url, "v1/messages")?;
        let Some(key) = &self.api_key else {
            return Err(ProviderError::new(
                ErrorKind::Auth,
                format!("No API key for {host}. Add it in Settings (or set ANTHROPIC_API_KEY)."),
            ));
        };
        http::key_may_go_to(&url, &host)?;
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", http::secret_header(key.trim(), "API key")?);
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        let mut body = json!({
            "model": req.model.model(),
            "max_tokens": self.max_tokens,
            "stream": true,
            "system": req.system,
            "messages": messages(req),
        });
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
                .collect();
        }
        Ok(Prepared {
            url,
            headers,
            body,
            host,
        })
    }
}

/// The conversation so far: the message, then each tool round as an assistant message of text
/// and `tool_use` blocks and a user message of `tool_result` blocks.
fn messages(req: &ModelRequest) -> serde_json::Value {
    let mut out = vec![json!({"role": "user", "content": req.user})];
    for turn in &req.turns {
        let mut content = Vec::new();
        if !turn.text.is_empty() {
            content.push(json!({"type": "text", "text": turn.text}));
        }
        for call in &turn.calls {
            // The API takes the input as an object; arguments that were not one were already
            // answered as an error, so an empty object stands for them here.
            let input = serde_json::from_str::<serde_json::Value>(&call.arguments)
                .ok()
                .filter(|v| v.is_object())
                .unwrap_or_else(|| json!({}));
            content.push(
                json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}),
            );
        }
        out.push(json!({"role": "assistant", "content": content}));
        let results: Vec<_> = turn
            .results
            .iter()
            .map(|a| {
                json!({"type": "tool_result", "tool_use_id": a.call_id, "content": a.content,
                    "is_error": a.is_error})
            })
            .collect();
        out.push(json!({"role": "user", "content": results}));
    }
    serde_json::Value::Array(out)
}

impl Provider for AnthropicProvider {
    fn stream(&self, request: ModelRequest) -> ChunkStream {
        self.core
            .stream(self.prepare(&request), request.retries, Messages::default())
    }
}

/// Reads `message_start` … `message_stop`.
#[derive(Default)]
pub(super) struct Messages {
    usage: Usage,
    /// `tool_use` blocks being streamed, by block index; each is passed on whole at its
    /// `content_block_stop` (one still open at `message_stop` was cut off, and never runs).
    calls: HashMap<u64, ToolCall>,
}

impl WireParser for Messages {
    fn on_event(&mut self, event: &http::SseEvent, host: &str) -> Result<Step, ProviderError> {
        let kind = event.event.as_str();
        // An empty event is a keep-alive, like a ping: nothing to read, and not content.
        if kind == "ping" || event.data.trim().is_empty() {
            return Ok(Step::More(Vec::new()));
        }
        let v = http::parse::json_of(event, host)?;
        let tokens = |p: &str| v.pointer(p).and_then(|n| n.as_u64()).map(saturating_u32);
        let index = v.get("index").and_then(|i| i.as_u64()).unwrap_or(0);
        match kind {
            "content_block_start" => {
                let block = v.get("content_block");
                if block.and_then(|b| b.get("type")).and_then(|t| t.as_str()) != Some("tool_use") {
                    return Ok(Step::More(Vec::new()));
                }
                let field = |f: &str| block.and_then(|b| b.get(f)).and_then(|s| s.as_str());
                let Some(name) = field("name").filter(|n| !n.is_empty()) else {
                    return Err(http::parse::malformed(
                        host,
                        "a tool_use block without a name",
                    ));
                };
                // A block without an id gets one from the step (`run/steps/tool_calls.rs`).
                let id = field("id").unwrap_or_default();
                self.calls.insert(
                    index,
                    ToolCall {
                        id: id.to_string(),
                        name: name.to_string(),
                        arguments: String::new(),
                    },
                );
                Ok(Step::More(vec![Chunk::ToolCallBytes(
                    id.len() + name.len(),
                )]))
            }
            "content_block_stop" => match self.calls.remove(&index) {
                Some(mut call) => {
                    if call.arguments.trim().is_empty() {
                        call.arguments = "{}".to_string();
                    }
                    Ok(Step::More(vec![Chunk::ToolCall(call)]))
                }
                None => Ok(Step::More(Vec::new())),
            },
            "message_start" => {
                self.usage.input_tokens = tokens("/message/usage/input_tokens");
                // Said at once, so a stream cut short keeps the exact input count.
                Ok(Step::More(vec![Chunk::Usage(self.usage)]))
            }
            "content_block_delta" => match v.pointer("/delta/type").and_then(|t| t.as_str()) {
                Some("text_delta") => match v.pointer("/delta/text").and_then(|t| t.as_str()) {
                    Some(text) => Ok(Step::More(vec![Chunk::Text(text.to_string())])),
                    None => Err(http::parse::malformed(host, "a text delta without `text`")),
                },
                Some("input_json_delta") => {
                    let piece = v.pointer("/delta/partial_json").and_then(|t| t.as_str());
                    match (self.calls.get_mut(&index), piece) {
                        // Nothing new is not progress: endless empty pieces must not keep a
                        // silent step alive.
                        (Some(_), Some("")) => Ok(Step::More(Vec::new())),
                        (Some(call), Some(piece)) => {
                            call.arguments.push_str(piece);
                            Ok(Step::More(vec![Chunk::ToolCallBytes(piece.len())]))
                        }
                        _ => Err(http::parse::malformed(
                            host,
                            "tool input for a block that is not a tool call",
                        )),
                    }
                }
                // Thinking deltas are not text for the user, but they are work.
                Some(_) => Ok(Step::Progress),
                None => Err(http::parse::malformed(
                    host,
                    "a content delta without a `delta.type`",
                )),
            },
            "message_delta" => {
                if let Some(n) = tokens("/usage/output_tokens") {
                    self.usage.output_tokens = Some(n);
                }
                Ok(Step::More(Vec::new()))
            }
            "message_stop" => Ok(Step::Done(vec![Chunk::Usage(self.usage)])),
            "error" => {
                let kind = v
                    .pointer("/error/type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("");
                let msg = v
                    .pointer("/error/message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("no details");
                let (error, advice) = match kind {
                    "rate_limit_error" => (ErrorKind::RateLimit, "Wait a minute, then try again."),
                    "authentication_error" | "permission_error" => {
                        (ErrorKind::Auth, "Check the API key in Settings.")
                    }
                    _ => (
                        ErrorKind::Provider,
                        "The text so far is kept; try again in a moment.",
                    ),
                };
                Err(ProviderError::new(
                    error,
                    format!("{host} reported an error mid-answer: {msg}. {advice}"),
                ))
            }
            // Event types added later by the API are skipped, as its documentation asks.
            _ => Ok(Step::More(Vec::new())),
        }
    }

    fn on_end(&mut self, host: &str) -> Result<(), ProviderError> {
        Err(http::parse::dropped(host))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::stream::StreamExt;

    use super::*;

    use crate::provider::http::parse::paced_body as body;

    fn event(kind: &str, data: serde_json::Value) -> String {
        format!("event: {kind}\ndata: {data}\n\n")
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_without_an_id_passes_and_empty_pieces_are_not_progress() {
        let start = |index: u32, block: serde_json::Value| {
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": index, "content_block": block}),
            )
        };
        let piece = |index: u32, p: &str| {
            event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": p}}),
            )
        };
        let stop = event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        );
        let mut events = vec![
            start(
                1,
                json!({"type": "tool_use", "name": "web_search", "input": {}}),
            ),
            piece(1, "{}"),
            stop,
            start(
                2,
                json!({"type": "tool_use", "id": "c2", "name": "web_search", "input": {}}),
            ),
        ];
        // A server that keeps sending pieces with nothing in them.
        events.extend((0..50).map(|_| piece(2, "")));
        let idle = Duration::from_secs(1);
        let mut s = http::parse::chunks(
            body(events, Duration::from_millis(400)),
            Messages::default(),
            "h".into(),
            idle,
        );
        let mut next = async || s.next().await.unwrap();
        assert_eq!(
            next().await.unwrap(),
            Chunk::ToolCallBytes("web_search".len())
        );
        assert_eq!(next().await.unwrap(), Chunk::ToolCallBytes(2));
        assert_eq!(
            next().await.unwrap(),
            Chunk::ToolCall(ToolCall {
                id: String::new(),
                name: "web_search".into(),
                arguments: "{}".into(),
            })
        );
        assert_eq!(
            next().await.unwrap(),
            Chunk::ToolCallBytes("c2web_search".len())
        );
        let started = tokio::time::Instant::now();
        let e = next().await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
        assert_eq!(started.elapsed(), idle, "silent since the last content");
    }
}
