//! OpenAI-compatible chat completions, streamed: OpenAI, Ollama, LM Studio, llama.cpp, vLLM.

use std::collections::BTreeMap;

use reqwest::header::{AUTHORIZATION, HeaderMap};
use serde_json::json;

use super::http::{self, HttpCore, HttpOptions, Prepared, Step, WireParser};
use super::{Chunk, ChunkStream, ModelRequest, Provider, ProviderError};
use crate::event::saturating_u32;
use crate::event::{ErrorKind, Usage};
use crate::tool::ToolCall;

pub use crate::model_ref::{OLLAMA_BASE_URL, OPENAI_BASE_URL};

/// The answer's length limit (tokens) unless settings say otherwise: far above any normal answer,
/// well below a runaway one.
pub const OPENAI_MAX_TOKENS: u32 = 16_384;

/// One OpenAI-compatible server: its base URL (ending in `/v1` for most) and an optional key.
pub struct OpenAiProvider {
    core: HttpCore,
    base_url: String,
    api_key: Option<String>,
    max_tokens: u32,
    /// How the key is set, for the message when a server needs one and there is none.
    key_hint: &'static str,
}

impl OpenAiProvider {
    pub fn new(base_url: impl Into<String>, api_key: Option<String>, options: HttpOptions) -> Self {
        OpenAiProvider {
            core: HttpCore::new(options),
            base_url: base_url.into(),
            api_key: api_key.filter(|k| !k.trim().is_empty()),
            max_tokens: OPENAI_MAX_TOKENS,
            key_hint: "OPENAI_API_KEY",
        }
    }

    /// Caps each answer at `n` tokens.
    pub fn with_max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = n.max(1);
        self
    }

    fn prepare(&self, req: &ModelRequest) -> Result<Prepared, ProviderError> {
        let (url, host) = http::endpoint(&self.base_url, "chat/completions")?;
        let mut headers = HeaderMap::new();
        match &self.api_key {
            Some(key) => {
                http::key_may_go_to(&url, &host)?;
                headers.insert(
                    AUTHORIZATION,
                    http::secret_header(&format!("Bearer {}", key.trim()), "API key")?,
                );
            }
            // Local servers take no key; OpenAI itself always needs one.
            None if host == "api.openai.com" => {
                return Err(ProviderError::new(
                    ErrorKind::Auth,
                    format!(
                        "No API key for {host}. Add it in Settings (or set {}).",
                        self.key_hint
                    ),
                ));
            }
            None => {}
        }
        let mut body = json!({
            "model": req.model.model(),
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": messages(req),
        });
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.input_schema,
                    }})
                })
                .collect();
        }
        // OpenAI's newer models take only `max_completion_tokens`; the servers that copy the API
        // (Ollama, LM Studio, llama.cpp, vLLM) know `max_tokens`.
        let limit = if host == "api.openai.com" {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[limit] = json!(self.max_tokens);
        Ok(Prepared {
            url,
            headers,
            body,
            host,
        })
    }
}

/// The conversation so far: instructions, the message, then each tool round as an assistant
/// message with its `tool_calls` and one `tool` message per answer.
fn messages(req: &ModelRequest) -> serde_json::Value {
    let mut out = vec![
        json!({"role": "system", "content": req.system}),
        json!({"role": "user", "content": req.user}),
    ];
    for turn in &req.turns {
        let calls: Vec<_> = turn
            .calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect();
        let text = (!turn.text.is_empty()).then_some(turn.text.as_str());
        out.push(json!({"role": "assistant", "content": text, "tool_calls": calls}));
        for answer in &turn.results {
            let content = if answer.is_error {
                format!("Error: {}", answer.content)
            } else {
                answer.content.clone()
            };
            out.push(json!({"role": "tool", "tool_call_id": answer.call_id, "content": content}));
        }
    }
    serde_json::Value::Array(out)
}

impl Provider for OpenAiProvider {
    fn stream(&self, request: ModelRequest) -> ChunkStream {
        self.core.stream(
            self.prepare(&request),
            request.retries,
            ChatCompletions::default(),
        )
    }
}

/// Reads `chat.completion.chunk` events up to `data: [DONE]`.
#[derive(Default)]
pub(super) struct ChatCompletions {
    finished: bool,
    /// Tool calls being streamed, by their `index`: the id and name come in the first fragment,
    /// the arguments in pieces. They are passed on whole when the choice finishes.
    calls: BTreeMap<u64, PartialCall>,
}

#[derive(Default)]
struct PartialCall {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
}

impl ChatCompletions {
    /// Joins one `delta.tool_calls[]` fragment to its call; returns the bytes it brought (the
    /// step's output limit counts them).
    fn add_fragment(
        &mut self,
        fragment: &serde_json::Value,
        host: &str,
    ) -> Result<usize, ProviderError> {
        let index = fragment
            .get("index")
            .and_then(|i| i.as_u64())
            // A server that streams each call whole may leave the index out.
            .unwrap_or(self.calls.len() as u64);
        let call = self.calls.entry(index).or_default();
        let text = |p: &str| {
            fragment
                .pointer(p)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let mut bytes = 0;
        if let Some(id) = text("/id") {
            bytes += id.len();
            call.id = Some(id.to_string());
        }
        if let Some(name) = text("/function/name") {
            bytes += name.len();
            call.name = Some(name.to_string());
        }
        let before = call.arguments.len();
        match fragment.pointer("/function/arguments") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(piece)) => call.arguments.push_str(piece),
            // Some servers send the arguments as an object rather than JSON text.
            Some(object) => call.arguments.push_str(&object.to_string()),
        }
        bytes += call.arguments.len() - before;
        if call.name.is_none() && call.id.is_none() && call.arguments.is_empty() {
            return Err(http::parse::malformed(
                host,
                "a tool call fragment with nothing in it",
            ));
        }
        Ok(bytes)
    }

    /// The calls of a finished choice, in order. A call the server sent without an id gets one
    /// from the step (`run/steps/tool_calls.rs`).
    fn finished_calls(&mut self, host: &str) -> Result<Vec<Chunk>, ProviderError> {
        std::mem::take(&mut self.calls)
            .into_values()
            .map(|c| {
                let name = c
                    .name
                    .ok_or_else(|| http::parse::malformed(host, "a tool call without a name"))?;
                Ok(Chunk::ToolCall(ToolCall {
                    id: c.id.unwrap_or_default(),
                    name,
                    arguments: if c.arguments.trim().is_empty() {
                        "{}".to_string()
                    } else {
                        c.arguments
                    },
                }))
            })
            .collect()
    }
}

impl WireParser for ChatCompletions {
    fn on_event(&mut self, event: &http::SseEvent, host: &str) -> Result<Step, ProviderError> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(Step::More(Vec::new()));
        }
        if data == "[DONE]" {
            return Ok(Step::Done(Vec::new()));
        }
        let v = http::parse::json_of(event, host)?;
        if let Some(err) = v.get("error") {
            let msg = err
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("no details");
            return Err(ProviderError::new(
                ErrorKind::Provider,
                format!(
                    "{host} reported an error mid-answer: {msg}. The text so far is kept; try again."
                ),
            ));
        }
        let mut out = Vec::new();
        let choices = v.get("choices").and_then(|c| c.as_array());
        let usage = v.get("usage").filter(|u| !u.is_null());
        if choices.is_none() && usage.is_none() {
            return Err(http::parse::malformed(
                host,
                "a chunk with neither `choices` nor `usage`",
            ));
        }
        let mut call_bytes = 0;
        if let Some(choice) = choices.and_then(|c| c.first()) {
            if let Some(text) = choice.pointer("/delta/content").and_then(|t| t.as_str())
                && !text.is_empty()
            {
                out.push(Chunk::Text(text.to_string()));
            }
            if let Some(fragments) = choice
                .pointer("/delta/tool_calls")
                .and_then(|t| t.as_array())
            {
                for fragment in fragments {
                    call_bytes += self.add_fragment(fragment, host)?;
                }
            }
            // Counted before the calls it completes. A fragment that brings nothing is not
            // progress: endless empty ones must not keep a silent step alive.
            if call_bytes > 0 {
                out.push(Chunk::ToolCallBytes(call_bytes));
            }
            if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
                self.finished = true;
                out.extend(self.finished_calls(host)?);
            }
        }
        if let Some(u) = usage {
            out.push(Chunk::Usage(Usage {
                input_tokens: u
                    .get("prompt_tokens")
                    .and_then(|n| n.as_u64())
                    .map(saturating_u32),
                output_tokens: u
                    .get("completion_tokens")
                    .and_then(|n| n.as_u64())
                    .map(saturating_u32),
                ..Usage::default()
            }));
        }
        Ok(Step::More(out))
    }

    fn on_end(&mut self, host: &str) -> Result<(), ProviderError> {
        // Some servers end the body after the finishing chunk without `[DONE]`: that is complete.
        if self.finished {
            Ok(())
        } else {
            Err(http::parse::dropped(host))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::stream::StreamExt;

    use super::*;

    use crate::provider::http::parse::paced_body as body;

    fn chunk(delta: serde_json::Value) -> String {
        format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": delta}]})
        )
    }

    #[tokio::test(start_paused = true)]
    async fn call_bytes_are_reported_and_empty_fragments_are_not_progress() {
        let mut events = vec![chunk(json!({"tool_calls": [{"index": 0, "id": "c1",
            "function": {"name": "web_search", "arguments": "{\"q"}}]}))];
        // A server that keeps sending fragments with nothing in them.
        events.extend(
            (0..50).map(|_| {
                chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": ""}}]}))
            }),
        );
        let idle = Duration::from_secs(1);
        let mut s = http::parse::chunks(
            body(events, Duration::from_millis(400)),
            ChatCompletions::default(),
            "h".into(),
            idle,
        );
        assert_eq!(
            s.next().await.unwrap().unwrap(),
            Chunk::ToolCallBytes("c1".len() + "web_search".len() + "{\"q".len())
        );
        let started = tokio::time::Instant::now();
        let e = s.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
        assert_eq!(started.elapsed(), idle, "silent since the last content");
    }
}
