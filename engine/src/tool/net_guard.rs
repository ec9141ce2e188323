//! Where a tool may connect. A model chooses the addresses `fetch_page` opens, and a page can
//! redirect anywhere, so unless Settings allow it a tool never reaches this computer or the
//! private network (a router's admin page, a local server's API, a cloud's metadata service).
//!
//! Three things make that hold:
//! - every address is checked before it is opened, each redirect too (redirects are followed here,
//!   one hop at a time, not by the HTTP client);
//! - names are resolved by Stepwise, and private answers dropped, when it connects itself;
//! - no proxy is taken from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`): a proxy
//!   resolves names itself, so `intranet.corp.internal` would be fetched through it. The proxy
//!   Settings name for tools (`[tools] proxy`) is used, and then the target's name is resolved
//!   and checked here before the request goes to the proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Url, redirect};

use super::ToolError;
pub use super::special_addresses::is_private;

/// Redirects a tool follows before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// Why an address may not be opened, in words for the model and the person reading the step.
pub fn refusal(url: &Url, allow_private: bool) -> Option<String> {
    match url.scheme() {
        "http" | "https" => {}
        "file" => {
            return Some(
                "fetch_page does not open files on this computer (file:// addresses)".to_string(),
            );
        }
        other => {
            return Some(format!(
                "fetch_page opens only http and https addresses, not {other}:"
            ));
        }
    }
    if allow_private {
        return None;
    }
    let host = url.host_str()?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let private = match literal.parse::<std::net::IpAddr>() {
        Ok(ip) => is_private(ip),
        Err(_) => {
            // `localhost.` is `localhost` too.
            let name = host.trim_end_matches('.');
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
    };
    private.then(|| private_refusal(host))
}

pub fn private_refusal(host: &str) -> String {
    format!(
        "{host} is on this computer or a private network, which tools may not open unless \
         Settings allow it (Tools → “Let tools open addresses on this computer and the local \
         network”)"
    )
}

/// What is wrong with a proxy address for the tools, if anything.
pub fn proxy_problem(proxy: &str) -> Option<String> {
    let fits = Url::parse(proxy.trim()).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    (!fits).then(|| {
        format!(
            "“{}” is not a proxy address: write it as http://host:port (or https://host:port)",
            proxy.trim()
        )
    })
}

/// The public addresses `host` resolves to, or why there are none.
async fn public_addresses(host: &str) -> Result<Vec<SocketAddr>, String> {
    let all: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| format!("{host} could not be found ({e})"))?
        .collect();
    let public: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|a| !is_private(a.ip()))
        .collect();
    if public.is_empty() {
        return Err(private_refusal(host));
    }
    Ok(public)
}

/// Resolves names as the system does, then drops private addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = public_addresses(&host).await?;
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// An HTTP client for tools and the checks that go with it.
#[derive(Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    allow_private: bool,
    /// Requests go through a proxy: the target's name is resolved and checked here first.
    proxied: bool,
}

/// How a guarded client is made.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientOptions {
    pub allow_private: bool,
    /// A whole-request limit (connect, redirects and body together).
    pub timeout: Duration,
    /// The proxy Settings name for tools; never one from the environment.
    pub proxy: Option<String>,
}

impl GuardedClient {
    /// Builds the client. This reads the system's certificates (tens of milliseconds): call it
    /// off the async threads.
    pub fn build(options: &ClientOptions) -> Result<GuardedClient, String> {
        let mut builder = reqwest::Client::builder()
            // Redirects are followed by `get`, each hop checked.
            .redirect(redirect::Policy::none())
            .timeout(options.timeout)
            .user_agent(concat!("Stepwise/", env!("CARGO_PKG_VERSION")))
            .no_proxy();
        let proxied = match options.proxy.as_deref().map(str::trim) {
            Some(p) if !p.is_empty() => {
                if let Some(problem) = proxy_problem(p) {
                    return Err(format!("the tools' proxy in Settings: {problem}"));
                }
                let proxy = reqwest::Proxy::all(p)
                    .map_err(|e| format!("the tools' proxy in Settings ({p}) is not valid: {e}"))?;
                builder = builder.proxy(proxy);
                true
            }
            _ => false,
        };
        // Through a proxy the client connects only to the proxy, which the person chose (it may
        // well be on this computer): the targets are checked in `get` instead.
        if !options.allow_private && !proxied {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        Ok(GuardedClient {
            client,
            allow_private: options.allow_private,
            proxied,
        })
    }

    /// GETs `url`, following at most [`MAX_REDIRECTS`] redirects, every address checked before
    /// it is opened. The answer's final address is the response's `url()`.
    pub async fn get(&self, url: Url) -> Result<reqwest::Response, ToolError> {
        let mut url = url;
        for hop in 0..=MAX_REDIRECTS {
            self.check(&url).await?;
            let host = url.host_str().unwrap_or("the site").to_string();
            let response = self.client.get(url.clone()).send().await.map_err(|e| {
                ToolError::answer(format!("{host} could not be read: {}", cause(&e)))
            })?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let Some(next) = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l).ok())
            else {
                return Ok(response);
            };
            if hop == MAX_REDIRECTS {
                break;
            }
            url = next;
        }
        Err(ToolError::answer(format!(
            "{} sent more than {MAX_REDIRECTS} redirects",
            url.host_str().unwrap_or("the site")
        )))
    }

    async fn check(&self, url: &Url) -> Result<(), ToolError> {
        if let Some(why) = refusal(url, self.allow_private) {
            return Err(ToolError::answer(format!("refused: {why}")));
        }
        if self.proxied && !self.allow_private {
            let host = url.host_str().unwrap_or("");
            let literal = host.trim_start_matches('[').trim_end_matches(']');
            if literal.parse::<std::net::IpAddr>().is_err() {
                // A name that also resolves privately is refused: the proxy may pick either.
                let all = tokio::net::lookup_host((literal, 0))
                    .await
                    .map_err(|e| ToolError::answer(format!("{host} could not be found ({e})")))?;
                let mut any = false;
                for a in all {
                    any = true;
                    if is_private(a.ip()) {
                        return Err(ToolError::answer(format!(
                            "refused: {}",
                            private_refusal(host)
                        )));
                    }
                }
                if !any {
                    return Err(ToolError::answer(format!("{host} could not be found")));
                }
            }
        }
        Ok(())
    }
}

/// Reads a response body up to `max` bytes (the rest is not downloaded).
pub async fn read_body(response: reqwest::Response, max: usize) -> Result<Vec<u8>, ToolError> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        let piece =
            piece.map_err(|e| ToolError::answer(format!("the page broke off: {}", cause(&e))))?;
        let room = max.saturating_sub(body.len());
        body.extend_from_slice(&piece[..piece.len().min(room)]);
        if body.len() >= max {
            break;
        }
    }
    Ok(body)
}

/// The innermost cause of a request error, which says what happened ("connection refused").
pub fn cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    if e.is_timeout() {
        "it took too long".to_string()
    } else {
        source.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn files_and_private_hosts_are_refused_with_reasons() {
        assert!(
            refusal(&url("file:///etc/passwd"), true)
                .unwrap()
                .contains("file://")
        );
        assert!(
            refusal(&url("ftp://example.com/"), false)
                .unwrap()
                .contains("ftp")
        );
        for u in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://localhost./",
            "http://app.localhost/",
            "http://[::1]/",
            "http://192.168.0.1/",
            "http://[64:ff9b::a00:1]/",
            "http://[::ffff:7f00:1]/",
            "http://[2002:c0a8:101::1]/",
            "http://198.18.0.1/",
        ] {
            assert!(
                refusal(&url(u), false).unwrap().contains("private network"),
                "{u}"
            );
            assert_eq!(refusal(&url(u), true), None, "{u}");
        }
        assert_eq!(refusal(&url("https://example.com/a"), false), None);
    }

    #[tokio::test]
    async fn names_that_resolve_privately_are_refused_through_a_proxy() {
        // The proxy is never reached: the check comes first.
        let client = GuardedClient::build(&ClientOptions {
            allow_private: false,
            timeout: Duration::from_secs(5),
            proxy: Some("http://127.0.0.1:9".into()),
        })
        .unwrap();
        for u in ["http://localhost./x", "http://127.0.0.1/x"] {
            let e = client.get(url(u)).await.unwrap_err();
            assert!(e.message.contains("private network"), "{u}: {}", e.message);
        }
    }
}
