//! Streaming chat over HTTP: what OpenAI-compatible servers and Anthropic have in common.
//!
//! [`HttpCore::open`] sends the request (retrying 429 and 5xx before any text exists), then
//! [`chunks`] turns the SSE body into [`Chunk`](super::Chunk)s with a per-format
//! [`WireParser`]. Everything runs while the returned stream is polled, so dropping it aborts
//! whatever is in flight — connecting, waiting for headers, a retry's back-off, reading the body —
//! and closes the connection.

mod errors;
pub(crate) mod parse;
pub(crate) mod sse;

pub(crate) use parse::{Step, WireParser};
pub(crate) use sse::SseEvent;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use reqwest::header::{ACCEPT, ACCEPT_ENCODING, HeaderMap, HeaderValue, RETRY_AFTER};

use super::{ChunkStream, ProviderError};
use crate::event::ErrorKind;

/// How a provider retries a 429 or 5xx answer. Only the request is retried, never a stream that
/// has produced text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    /// First back-off; each retry doubles it, unless the server says when (Retry-After).
    pub base_delay: Duration,
    /// A Retry-After longer than this is not waited for: the step fails and says when to retry.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_wait: Duration::from_secs(20),
        }
    }
}

/// Connection settings shared by the HTTP providers.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// No content for this long (while connecting, waiting for headers or for the next piece of
    /// the answer) fails the step with `timeout`. There is no overall limit: a long answer may
    /// stream for as long as it needs.
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            idle_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

/// The one HTTP client of the process, built by the first request that needs it: building one
/// reads the system's certificate bundle, which an offline run never needs. One client also
/// means one connection pool for every provider.
static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
static CLIENTS_BUILT: AtomicUsize = AtomicUsize::new(0);

/// How many HTTP clients this process has built (0 or 1): start-up does none of that work.
#[doc(hidden)]
pub fn clients_built() -> usize {
    CLIENTS_BUILT.load(Ordering::SeqCst)
}

fn client() -> Result<reqwest::Client, ProviderError> {
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    let built = reqwest::Client::builder()
        // A key must never follow a redirect to another host (reqwest strips only
        // `Authorization`, not Anthropic's `x-api-key`): a model API does not redirect.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ProviderError::new(ErrorKind::Internal, format!("cannot set up HTTP: {e}")))?;
    CLIENTS_BUILT.fetch_add(1, Ordering::SeqCst);
    Ok(CLIENT.get_or_init(|| built).clone())
}

/// The options every request of one provider uses. Cheap: the client is shared.
#[derive(Clone)]
pub(crate) struct HttpCore {
    options: HttpOptions,
}

/// A request ready to send; `host` names the server in messages for people.
pub(crate) struct Prepared {
    pub url: reqwest::Url,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    pub host: String,
}

impl HttpCore {
    pub fn new(options: HttpOptions) -> Self {
        HttpCore { options }
    }

    /// Streams the answer to `prepared`, parsed by `parser`. A failure before the stream exists
    /// (bad settings) comes as the stream's only item.
    /// `retries`: the request's own limit on retrying a 429 or 5xx answer (`ModelRequest::retries`).
    pub fn stream<P: WireParser>(
        &self,
        prepared: Result<Prepared, ProviderError>,
        retries: Option<u32>,
        parser: P,
    ) -> ChunkStream {
        let core = self.clone();
        let answer = async move {
            let opened = match prepared {
                Ok(p) => {
                    let host = p.host.clone();
                    core.open(p, retries).await.map(|body| (body, host))
                }
                Err(e) => Err(e),
            };
            match opened {
                Ok((body, host)) => parse::chunks(body, parser, host, core.options.idle_timeout),
                Err(e) => Box::pin(stream::iter([Err(e)])) as ChunkStream,
            }
        };
        Box::pin(stream::once(answer).flatten())
    }

    /// Sends the request, retrying 429 and 5xx with back-off, and returns the body.
    async fn open(&self, p: Prepared, retries: Option<u32>) -> Result<parse::Body, ProviderError> {
        let client = client()?;
        let idle = self.options.idle_timeout;
        let retry = self.options.retry;
        let max_retries = retries.unwrap_or(retry.max_retries);
        let mut headers = p.headers;
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        // A compressed body arrives in blocks, which defeats streaming.
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        let mut attempt = 0;
        loop {
            let send = client
                .post(p.url.clone())
                .headers(headers.clone())
                .json(&p.body)
                .send();
            // Connecting and waiting for the headers are bounded like any other silence.
            let sent = |mut e: ProviderError| {
                e.requests = attempt + 1;
                e
            };
            let response = match tokio::time::timeout_at(parse::deadline_after(idle), send).await {
                Err(_) => return Err(sent(errors::silent(&p.host, idle))),
                Ok(Err(e)) => return Err(sent(errors::from_reqwest(&e, &p.host, idle))),
                Ok(Ok(r)) => r,
            };
            let status = response.status();
            if status.is_success() {
                let host = p.host.clone();
                return Ok(response
                    .bytes_stream()
                    .map(move |r| r.map_err(|e| errors::from_reqwest(&e, &host, idle)))
                    .boxed());
            }
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body =
                match tokio::time::timeout_at(parse::deadline_after(idle), response.text()).await {
                    Ok(Ok(text)) => text,
                    _ => String::new(),
                };
            let error = errors::from_status(status, &body, retry_after, &p.host);
            let retryable = status.as_u16() == 429 || status.is_server_error();
            let wait = retry_after.unwrap_or(
                retry
                    .base_delay
                    .saturating_mul(2u32.saturating_pow(attempt)),
            );
            if !retryable || attempt >= max_retries || wait > retry.max_wait {
                return Err(sent(error));
            }
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }
}

/// A GET answered with JSON (a model list), within `limit` from connecting to the last byte.
pub(crate) async fn get_json(
    url: reqwest::Url,
    headers: HeaderMap,
    host: &str,
    limit: Duration,
) -> Result<serde_json::Value, ProviderError> {
    let client = client()?;
    let answer = async {
        let response = client
            .get(url)
            .headers(headers)
            .send()
            .await
            .map_err(|e| errors::from_reqwest(&e, host, limit))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| errors::from_reqwest(&e, host, limit))?;
        if !status.is_success() {
            return Err(errors::from_status(status, &body, None, host));
        }
        serde_json::from_str(&body).map_err(|_| {
            ProviderError::new(
                ErrorKind::Provider,
                format!("{host} did not answer with a list of models."),
            )
        })
    };
    tokio::time::timeout(limit, answer)
        .await
        .unwrap_or_else(|_| Err(errors::silent(host, limit)))
}

/// A key goes only over an encrypted connection, or to this computer: over plain http anyone on
/// the way could read it.
pub(crate) fn key_may_go_to(url: &reqwest::Url, host: &str) -> Result<(), ProviderError> {
    if url.scheme() == "https" || is_loopback(url) {
        return Ok(());
    }
    Err(ProviderError::new(
        ErrorKind::InvalidConfig,
        format!(
            "Stepwise will not send your API key to {host} over plain http, where anyone on the way could read it. Use an https:// base URL in Settings (or remove the key if the server needs none)."
        ),
    ))
}

/// Whether the URL names this computer (`localhost`, 127.0.0.0/8, `[::1]`).
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let bare = url
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a provider's base URL is on this computer (its models then cost nothing).
pub fn on_this_computer(base_url: &str) -> bool {
    reqwest::Url::parse(base_url.trim()).is_ok_and(|u| is_loopback(&u))
}

/// `base` with a trailing slash, then `path` joined onto it (`Url::join` drops the last segment
/// of a base without one).
pub(crate) fn endpoint(base: &str, path: &str) -> Result<(reqwest::Url, String), ProviderError> {
    let mut base = base.trim().to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    let bad = |why: String| {
        ProviderError::new(
            ErrorKind::InvalidConfig,
            format!(
                "The base URL `{}` is not valid ({why}). Fix it in Settings.",
                errors::redact_urls(base.trim_end_matches('/'))
            ),
        )
    };
    let url = reqwest::Url::parse(&base).map_err(|e| bad(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "it holds a user name or password; put a key in Settings instead".into(),
        ));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("it must start with http:// or https://".into()));
    }
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err(bad("it has no host".into())),
    };
    let url = url.join(path).map_err(|e| bad(e.to_string()))?;
    Ok((url, host))
}

/// A header value from a secret; an invalid one (a pasted newline) is a settings error.
pub(crate) fn secret_header(value: &str, what: &str) -> Result<HeaderValue, ProviderError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        ProviderError::new(
            ErrorKind::InvalidConfig,
            format!("The {what} contains characters that cannot be sent (a line break?). Paste it again in Settings."),
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_base_path() {
        let (u, h) = endpoint("http://localhost:11434/v1", "chat/completions").unwrap();
        assert_eq!(
            (u.as_str(), h.as_str()),
            (
                "http://localhost:11434/v1/chat/completions",
                "localhost:11434"
            )
        );
        let (u, h) = endpoint("https://api.openai.com/v1/", "chat/completions").unwrap();
        assert_eq!(
            (u.as_str(), h.as_str()),
            (
                "https://api.openai.com/v1/chat/completions",
                "api.openai.com"
            )
        );
        let (u, _) = endpoint("https://api.anthropic.com", "v1/messages").unwrap();
        assert_eq!(u.as_str(), "https://api.anthropic.com/v1/messages");
    }

    #[test]
    fn bad_base_urls_are_settings_errors() {
        for base in ["localhost:11434", "ftp://x/", "not a url", ""] {
            let e = endpoint(base, "chat/completions").unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidConfig, "{base}");
            assert!(e.message.contains("Settings"));
        }
    }
}
