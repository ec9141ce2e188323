//! `web_search`: DuckDuckGo's plain-HTML results page, read into title, address and snippet.

use std::sync::{Arc, OnceLock};

use futures_util::future::BoxFuture;
use reqwest::Url;
use scraper::{ElementRef, Html, Selector};
use serde_json::json;

use super::net_guard::read_body;
use super::web_access::WebAccess;
use super::{SeenAddresses, Tool, ToolError, ToolOutput, ToolSpec, string_arg};

/// Results given to the model, at most.
pub const MAX_RESULTS: usize = 10;
/// A results page larger than this is not read further.
const MAX_PAGE_BYTES: usize = 2_000_000;

pub struct WebSearch {
    spec: ToolSpec,
    web: Arc<WebAccess>,
    base_url: String,
    /// The run's addresses: each result's joins them (`fetch_page` opens it without asking).
    seen: SeenAddresses,
}

impl WebSearch {
    pub fn new(web: Arc<WebAccess>, base_url: String, seen: SeenAddresses) -> Self {
        WebSearch {
            spec: spec(),
            web,
            base_url,
            seen,
        }
    }
}

/// What the model is told (the demo search says the same, so a workflow reads alike on both).
pub(super) fn spec() -> ToolSpec {
    ToolSpec {
        name: "web_search".into(),
        description: format!(
            "Search the web. Returns up to {MAX_RESULTS} results, each with a title, an address \
             and a snippet; use fetch_page to read one in full."
        ),
        input_schema: json!({
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to search for"}},
            "required": ["query"],
        }),
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchResult {
    pub title: String,
    pub url: String,
    pub snippet: String,
}

impl Tool for WebSearch {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn read_only(&self) -> bool {
        super::builtin("web_search").is_some_and(|b| b.read_only)
    }

    fn call(
        &self,
        arguments: serde_json::Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        let web = self.web.clone();
        let base = self.base_url.clone();
        let seen = self.seen.clone();
        Box::pin(async move {
            let query = string_arg(&arguments, "query")?;
            let mut url = Url::parse(&base).map_err(|e| ToolError {
                message: format!("the web search address in Settings ({base}) is not valid: {e}"),
                fatal: true,
            })?;
            url.query_pairs_mut().append_pair("q", &query);
            let client = web.clients().await?.search;
            let host = url.host_str().unwrap_or("the search site").to_string();
            let response = client.get(url).await.map_err(|e| {
                ToolError::answer(format!(
                    "the search at {host} did not answer: {}",
                    e.message
                ))
            })?;
            if !response.status().is_success() {
                return Err(ToolError::answer(format!(
                    "the search at {host} answered {}",
                    response.status()
                )));
            }
            let html = read_body(response, MAX_PAGE_BYTES).await?;
            // Off the async threads, like every page parse (a cancel lands meanwhile).
            let results =
                tokio::task::spawn_blocking(move || parse_results(&String::from_utf8_lossy(&html)))
                    .await
                    .map_err(|e| {
                        ToolError::answer(format!("the results could not be read: {e}"))
                    })?;
            note_results(&seen, &results);
            Ok(render(&query, &results, ""))
        })
    }
}

/// The results as the model reads them, and the preview a person sees.
pub(super) fn render(query: &str, results: &[SearchResult], label: &str) -> ToolOutput {
    if results.is_empty() {
        return ToolOutput {
            content: format!("{label}No results for “{query}”."),
            preview: "no results".into(),
        };
    }
    let mut content = format!("{label}Results for “{query}”:\n");
    for (i, r) in results.iter().enumerate() {
        content.push_str(&format!("\n{}. {}\n   {}\n", i + 1, r.title, r.url));
        if !r.snippet.is_empty() {
            content.push_str(&format!("   {}\n", r.snippet));
        }
    }
    let n = results.len();
    ToolOutput {
        content,
        preview: format!("{n} result{}", if n == 1 { "" } else { "s" }),
    }
}

/// The results' addresses join the run's: `fetch_page` opens them without asking.
pub(super) fn note_results(seen: &SeenAddresses, results: &[SearchResult]) {
    seen.note_all(results.iter().filter_map(|r| Url::parse(&r.url).ok()));
}

fn selector(
    css: &'static str,
    cell: &'static OnceLock<Option<Selector>>,
) -> Option<&'static Selector> {
    cell.get_or_init(|| Selector::parse(css).ok()).as_ref()
}

/// Reads a DuckDuckGo HTML results page: each `.result` (ads left out) with its `a.result__a`
/// link and `.result__snippet`. At most [`MAX_RESULTS`].
pub fn parse_results(html: &str) -> Vec<SearchResult> {
    static RESULT: OnceLock<Option<Selector>> = OnceLock::new();
    static LINK: OnceLock<Option<Selector>> = OnceLock::new();
    static SNIPPET: OnceLock<Option<Selector>> = OnceLock::new();
    let (Some(result), Some(link), Some(snippet)) = (
        selector(".result", &RESULT),
        selector("a.result__a", &LINK),
        selector(".result__snippet", &SNIPPET),
    ) else {
        return Vec::new();
    };
    let doc = Html::parse_document(html);
    doc.select(result)
        .filter(|r| !r.value().classes().any(|c| c == "result--ad"))
        .filter_map(|r| {
            let a = r.select(link).next()?;
            let url = target(a.value().attr("href")?)?;
            Some(SearchResult {
                title: text_of(a),
                url,
                snippet: r.select(snippet).next().map(text_of).unwrap_or_default(),
            })
        })
        .filter(|r| !r.title.is_empty())
        .take(MAX_RESULTS)
        .collect()
}

fn text_of(e: ElementRef<'_>) -> String {
    e.text()
        .collect::<Vec<_>>()
        .join("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// DuckDuckGo links through itself (`//duckduckgo.com/l/?uddg=<the address>`): the real address.
fn target(href: &str) -> Option<String> {
    let absolute = Url::parse(href)
        .or_else(|_| Url::parse(&format!("https:{href}")))
        .ok()?;
    let real = absolute
        .query_pairs()
        .find(|(k, _)| k == "uddg")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| absolute.to_string());
    matches!(Url::parse(&real).ok()?.scheme(), "http" | "https").then_some(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<html><body><div class="results">
      <div class="result results_links result--ad"><a class="result__a" href="https://ads.example/">Ad</a></div>
      <div class="result results_links">
        <h2><a class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fen.wikipedia.org%2Fwiki%2FTidal_power&amp;rut=x">Tidal <b>power</b> - Wikipedia</a></h2>
        <a class="result__snippet" href="x">Tidal power or <b>tidal energy</b> is harnessed…</a>
      </div>
      <div class="result"><a class="result__a" href="https://example.org/b">Second</a></div>
      <div class="result"><a class="result__a" href="javascript:alert(1)">Bad</a></div>
    </div></body></html>"#;

    #[test]
    fn reads_titles_addresses_and_snippets() {
        let r = parse_results(PAGE);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].title, "Tidal power - Wikipedia");
        assert_eq!(r[0].url, "https://en.wikipedia.org/wiki/Tidal_power");
        assert_eq!(r[0].snippet, "Tidal power or tidal energy is harnessed…");
        assert_eq!(r[1].url, "https://example.org/b");
        assert_eq!(r[1].snippet, "");
    }

    #[test]
    fn keeps_at_most_ten() {
        let many: String = (0..15)
            .map(|i| format!(r#"<div class="result"><a class="result__a" href="https://e.org/{i}">R{i}</a></div>"#))
            .collect();
        assert_eq!(parse_results(&many).len(), MAX_RESULTS);
        assert_eq!(render("q", &parse_results(&many), "").preview, "10 results");
        assert_eq!(render("q", &[], "").preview, "no results");
    }
}
