//! HTTP and network failures → the error kinds of the event protocol, in words a person can act
//! on. Error bodies of auth failures are never repeated (they can echo part of a key).

use std::time::Duration;

use reqwest::StatusCode;

use crate::event::ErrorKind;
use crate::provider::ProviderError;

/// Longest piece of a provider's own message that is quoted.
const MAX_QUOTE: usize = 300;

pub(super) fn from_status(
    status: StatusCode,
    body: &str,
    retry_after: Option<Duration>,
    host: &str,
) -> ProviderError {
    let code = status.as_u16();
    let label = format!("{code} {}", status.canonical_reason().unwrap_or(""))
        .trim()
        .to_string();
    let said = provider_message(body)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    match code {
        401 | 403 => ProviderError::new(
            ErrorKind::Auth,
            format!("The API key was rejected by {host} ({label}) — check it in Settings."),
        ),
        429 => {
            let when = match retry_after {
                Some(d) => format!("Try again in {} s.", d.as_secs().max(1)),
                None => "Wait a minute, then try again.".to_string(),
            };
            ProviderError::new(
                ErrorKind::RateLimit,
                format!("{host} is limiting requests ({label}){said}. {when}"),
            )
        }
        400 | 404 | 422 => ProviderError::new(
            ErrorKind::InvalidConfig,
            format!(
                "{host} refused the request ({label}){said}. Check the model name and the base URL in Settings."
            ),
        ),
        500..=599 => ProviderError::new(
            ErrorKind::Provider,
            format!("{host} had a server error ({label}){said}. Try again in a moment."),
        ),
        _ => ProviderError::new(
            ErrorKind::Provider,
            format!("{host} answered {label}{said}."),
        ),
    }
}

/// The `error.message` of an OpenAI- or Anthropic-style error body, or short plain text.
fn provider_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .or_else(|| v.get("error"))
                .and_then(|m| m.as_str())
                .map(str::to_string)
        });
    let text = from_json.unwrap_or_else(|| body.to_string());
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(quote(&redact_urls(&text)))
}

pub(super) fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTE {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX_QUOTE).collect();
        format!("{cut}…")
    }
}

pub(super) fn from_reqwest(e: &reqwest::Error, host: &str, idle: Duration) -> ProviderError {
    if e.is_timeout() {
        return silent(host, idle);
    }
    let cause = root_cause(e);
    if e.is_connect() {
        // reqwest has no accessor for a failed name lookup; its connector says "dns error".
        let message = if causes(e).any(|c| c.to_string().starts_with("dns error")) {
            format!(
                "Could not find the server {host} ({cause}). Check the base URL in Settings and that this computer is online."
            )
        } else {
            format!(
                "Could not connect to {host} ({cause}). Check that it is running and that the base URL in Settings is right."
            )
        };
        return ProviderError::new(ErrorKind::Network, message);
    }
    if e.is_body() || e.is_decode() {
        return ProviderError::new(
            ErrorKind::Network,
            format!(
                "The connection to {host} dropped in the middle of the answer ({cause}). The text so far is kept; try again."
            ),
        );
    }
    ProviderError::new(
        ErrorKind::Network,
        format!("The request to {host} failed ({cause}). Try again."),
    )
}

/// The error and each of its causes, outermost first.
fn causes(e: &reqwest::Error) -> impl Iterator<Item = &dyn std::error::Error> {
    std::iter::successors(Some(e as &dyn std::error::Error), |c| c.source())
}

/// The innermost cause: "Connection refused (os error 111)" rather than reqwest's wrapper.
fn root_cause(e: &reqwest::Error) -> String {
    causes(e)
        .last()
        .map(|c| quote(&redact_urls(&c.to_string())))
        .unwrap_or_default()
}

/// Every URL in `text` without its `user:password@` and its query string, which is where
/// secrets ride in URLs: a message quoting an address can go to the window or a log.
pub(crate) fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '`' | '"' | '\'' | ')' | '>' | ']'))
            .unwrap_or(after.len());
        let (url, tail) = after.split_at(end);
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let (authority, path) = url.split_at(authority_end);
        out.push_str(authority.rsplit('@').next().unwrap_or(authority));
        out.push_str(path.split(['?', '#']).next().unwrap_or(path));
        rest = tail;
    }
    out.push_str(rest);
    out
}

pub(super) fn silent(host: &str, idle: Duration) -> ProviderError {
    ProviderError::new(
        ErrorKind::Timeout,
        format!(
            "{host} sent nothing for {} s, so the step was stopped. Try again, or pick another model.",
            idle.as_secs_f64().round()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, body: &str, retry: Option<u64>) -> ProviderError {
        from_status(
            StatusCode::from_u16(code).unwrap(),
            body,
            retry.map(Duration::from_secs),
            "api.example.com",
        )
    }

    #[test]
    fn statuses_map_to_kinds_with_actionable_words() {
        let e = status(
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-abc***xyz"}}"#,
            None,
        );
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(
            e.message,
            "The API key was rejected by api.example.com (401 Unauthorized) — check it in Settings."
        );
        assert!(!e.message.contains("sk-"), "auth bodies are never quoted");
        let e = status(
            429,
            r#"{"error":{"message":"Rate limit reached"}}"#,
            Some(7),
        );
        assert_eq!(e.kind, ErrorKind::RateLimit);
        assert!(
            e.message.contains("Rate limit reached") && e.message.contains("Try again in 7 s"),
            "{}",
            e.message
        );
        assert_eq!(status(503, "upstream down", None).kind, ErrorKind::Provider);
        assert!(
            status(500, "", None)
                .message
                .contains("server error (500 Internal Server Error)")
        );
        assert_eq!(
            status(404, r#"{"error":{"message":"model not found"}}"#, None).kind,
            ErrorKind::InvalidConfig
        );
        let long = "x".repeat(5000);
        assert!(status(500, &long, None).message.chars().count() < 450);
    }

    #[test]
    fn quoted_urls_lose_their_secrets() {
        assert_eq!(
            redact_urls(
                "error sending request for url (http://me:pw@host:8080/v1/x?key=sk-1#f) now"
            ),
            "error sending request for url (http://host:8080/v1/x) now"
        );
        assert_eq!(redact_urls("`https://a.b/?token=t`"), "`https://a.b/`");
        assert_eq!(redact_urls("no address here"), "no address here");
        let e = status(
            500,
            "failed at https://u:p@x.example/v1?api_key=secret",
            None,
        );
        assert!(
            !e.message.contains("secret") && !e.message.contains("u:p"),
            "{}",
            e.message
        );
    }

    /// A resolver that knows no name, so the test sends no query off this machine.
    struct NoNames;

    impl reqwest::dns::Resolve for NoNames {
        fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
            Box::pin(async { Err("Name or service not known".into()) })
        }
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_a_network_error_naming_the_host() {
        let client = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(NoNames))
            .build()
            .unwrap();
        let e = client
            .get("http://models.example.invalid/v1/chat/completions")
            .send()
            .await
            .unwrap_err();
        let e = from_reqwest(&e, "models.example.invalid", Duration::from_secs(60));
        assert_eq!(e.kind, ErrorKind::Network);
        assert!(
            e.message
                .starts_with("Could not find the server models.example.invalid")
                && e.message.contains("Name or service not known")
                && e.message.contains("base URL in Settings"),
            "{}",
            e.message
        );
    }
}
