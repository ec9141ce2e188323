//! Which models each provider offers, and whether it can be used now: the model picker and
//! Settings' provider cards both read this.
//!
//! OpenAI-compatible servers list theirs at `GET {base}/models` (OpenAI, and the servers on this
//! computer: Ollama, LM Studio, llama.cpp, vLLM); Anthropic at `GET /v1/models`. Asking is also
//! the cheapest check of a key: a rejected key is said as such, a server that is not running as
//! "not running on this computer". A provider with nothing to list is a state, never an error.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::ProviderError;
use super::http;
use crate::event::ErrorKind;
use crate::model_ref::ProviderKind;

/// How long a server on this computer may take to answer (one that is running answers at once).
const LOCAL_LIMIT: Duration = Duration::from_secs(3);
/// How long a service on the internet may take.
const REMOTE_LIMIT: Duration = Duration::from_secs(10);

/// One model a provider offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct ListedModel {
    /// What a workflow names it by: `lmstudio:qwen2.5-7b-instruct`.
    pub reference: String,
    /// The provider's own name for it: `qwen2.5-7b-instruct`.
    pub id: String,
    /// A name for people where the provider gives one (Anthropic's "Claude Sonnet 4.5").
    pub label: Option<String>,
}

/// Whether a provider can be used now, in words a card can show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ProviderState {
    /// It answered with its models.
    Ready,
    /// It cannot work without a key, and none is set.
    NeedsKey,
    /// Its address is on this computer and nothing answers there.
    NotRunning,
    /// It refused the key.
    KeyRejected,
    /// Anything else: it could not be reached, or answered oddly (the message says).
    Problem,
}

/// One provider as the picker and Settings see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProviderModels {
    pub kind: ProviderKind,
    /// Its name for people: "LM Studio".
    pub label: String,
    /// Its address is on this computer (a server found on its usual port, say).
    pub local: bool,
    pub state: ProviderState,
    /// The state in a sentence: "Running on this computer — 3 models", "Needs an API key".
    pub message: String,
    pub base_url: String,
    pub models: Vec<ListedModel>,
}

/// What asking a provider for its models needs: where it is and its key (the settings file
/// gives both; see `settings/`).
pub trait Endpoints {
    fn base_url(&self, kind: ProviderKind) -> String;
    /// The key, if one is set and not blank.
    fn api_key(&self, kind: ProviderKind) -> Option<String>;
}

/// Every configurable provider, asked at once (a local server that is not running answers
/// "connection refused" at once; an unreachable service costs at most its limit).
pub async fn survey(endpoints: &(impl Endpoints + Sync)) -> Vec<ProviderModels> {
    join_all(ProviderKind::CONFIGURABLE.map(|kind| provider_models(endpoints, kind))).await
}

/// One provider's models and state.
pub async fn provider_models(
    endpoints: &(impl Endpoints + Sync),
    kind: ProviderKind,
) -> ProviderModels {
    let base_url = endpoints.base_url(kind);
    let key = endpoints.api_key(kind);
    let local = super::on_this_computer(&base_url);
    let done = |state, message: String, models| ProviderModels {
        kind,
        label: kind.label().to_string(),
        local,
        state,
        message,
        base_url: base_url.clone(),
        models,
    };
    if key.is_none() && kind.needs_key() && !local {
        return done(
            ProviderState::NeedsKey,
            "Needs an API key".to_string(),
            Vec::new(),
        );
    }
    match list(kind, &base_url, key.as_deref(), local).await {
        Ok(models) => {
            let count = match models.len() {
                0 => "no models loaded yet".to_string(),
                1 => "1 model".to_string(),
                n => format!("{n} models"),
            };
            let place = if local {
                "Running on this computer"
            } else {
                "Ready"
            };
            done(ProviderState::Ready, format!("{place} — {count}"), models)
        }
        Err(e) if e.kind == ErrorKind::Auth => done(
            ProviderState::KeyRejected,
            "The key was rejected".into(),
            Vec::new(),
        ),
        Err(e) if local && e.kind == ErrorKind::Network => done(
            ProviderState::NotRunning,
            "Not running on this computer".into(),
            Vec::new(),
        ),
        Err(e) => done(ProviderState::Problem, e.message, Vec::new()),
    }
}

/// Asks one provider for its models.
pub async fn list(
    kind: ProviderKind,
    base_url: &str,
    key: Option<&str>,
    local: bool,
) -> Result<Vec<ListedModel>, ProviderError> {
    let limit = if local { LOCAL_LIMIT } else { REMOTE_LIMIT };
    let anthropic = kind == ProviderKind::Anthropic;
    let (url, host) = http::endpoint(
        base_url,
        if anthropic {
            "v1/models?limit=1000"
        } else {
            "models"
        },
    )?;
    let mut headers = HeaderMap::new();
    if let Some(key) = key {
        http::key_may_go_to(&url, &host)?;
        if anthropic {
            headers.insert("x-api-key", http::secret_header(key, "API key")?);
        } else {
            headers.insert(
                AUTHORIZATION,
                http::secret_header(&format!("Bearer {key}"), "API key")?,
            );
        }
    }
    if anthropic {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(super::anthropic::API_VERSION),
        );
    }
    let body = http::get_json(url, headers, &host, limit).await?;
    let data = body
        .get("data")
        .or_else(|| body.get("models"))
        .and_then(|d| d.as_array())
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Provider,
                format!("{host} did not answer with a list of models."),
            )
        })?;
    let mut models: Vec<ListedModel> = data
        .iter()
        .filter_map(|m| {
            let id = m.get("id").or_else(|| m.get("name"))?.as_str()?.trim();
            // A name a model reference can hold (no spaces or control characters), of a model
            // that can write an answer.
            let usable = !id.is_empty()
                && !id.chars().any(|c| c.is_whitespace() || c.is_control())
                && writes_text(id);
            usable.then(|| ListedModel {
                reference: format!("{}:{id}", kind.prefix()),
                id: id.to_string(),
                label: m
                    .get("display_name")
                    .and_then(|n| n.as_str())
                    .map(str::to_string),
            })
        })
        .collect();
    models.sort_by(|a, b| a.id.cmp(&b.id));
    models.dedup_by(|a, b| a.id == b.id);
    Ok(models)
}

/// Whether a listed model can answer a chat: OpenAI's list, and Ollama's, also hold models that
/// embed, speak, hear or draw, which a step cannot use.
fn writes_text(id: &str) -> bool {
    const NOT_CHAT: [&str; 14] = [
        "embed",
        "tts",
        "whisper",
        "dall-e",
        "davinci",
        "babbage",
        "moderation",
        "transcribe",
        "realtime",
        "-audio",
        "image",
        "sora",
        "rerank",
        "search-api",
    ];
    let id = id.to_ascii_lowercase();
    !NOT_CHAT.iter().any(|w| id.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_models_that_write_are_offered() {
        for id in [
            "gpt-5-mini",
            "o3",
            "claude-sonnet-4-5",
            "llama3.2:latest",
            "qwen2.5-7b-instruct",
        ] {
            assert!(writes_text(id), "{id}");
        }
        for id in [
            "text-embedding-3-small",
            "nomic-embed-text:latest",
            "tts-1",
            "whisper-1",
            "dall-e-3",
            "gpt-4o-mini-transcribe",
            "gpt-4o-realtime-preview",
            "gpt-4o-audio-preview",
            "gpt-image-1",
            "omni-moderation-latest",
            "davinci-002",
        ] {
            assert!(!writes_text(id), "{id}");
        }
    }
}
