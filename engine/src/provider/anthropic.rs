//! Anthropic's messages API, streamed.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;

use super::http::{self, HttpCore, HttpOptions, Prepared, Step, WireParser};
use super::{Chunk, ChunkStream, ModelRequest, Provider, ProviderError};
use crate::event::{ErrorKind, Usage};

pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
const API_VERSION: &str = "2023-06-01";

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
        let body = json!({
            "model": req.model.model(),
            "max_tokens": self.max_tokens,
            "stream": true,
            "system": req.system,
            "messages": [{"role": "user", "content": req.user}],
        });
        Ok(Prepared {
            url,
            headers,
            body,
            host,
        })
    }
}

impl Provider for AnthropicProvider {
    fn stream(&self, request: ModelRequest) -> ChunkStream {
        self.core
            .stream(self.prepare(&request), Messages::default())
    }
}

/// Reads `message_start` … `message_stop`.
#[derive(Default)]
struct Messages {
    usage: Usage,
}

impl WireParser for Messages {
    fn on_event(&mut self, event: &http::SseEvent, host: &str) -> Result<Step, ProviderError> {
        let kind = event.event.as_str();
        // An empty event is a keep-alive, like a ping: nothing to read, and not content.
        if matches!(kind, "ping" | "content_block_start" | "content_block_stop")
            || event.data.trim().is_empty()
        {
            return Ok(Step::More(Vec::new()));
        }
        let v = http::parse::json_of(event, host)?;
        let tokens = |p: &str| v.pointer(p).and_then(|n| n.as_u64()).map(|n| n as u32);
        match kind {
            "message_start" => {
                self.usage.input_tokens = tokens("/message/usage/input_tokens");
                Ok(Step::More(Vec::new()))
            }
            "content_block_delta" => match v.pointer("/delta/type").and_then(|t| t.as_str()) {
                Some("text_delta") => match v.pointer("/delta/text").and_then(|t| t.as_str()) {
                    Some(text) => Ok(Step::More(vec![Chunk::Text(text.to_string())])),
                    None => Err(http::parse::malformed(host, "a text delta without `text`")),
                },
                // Tool input and thinking deltas are not text for the user, but they are work.
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
