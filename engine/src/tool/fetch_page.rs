//! `fetch_page`: opens an http(s) address and returns the page's readable text.

use std::sync::OnceLock;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use reqwest::Url;
use scraper::{Html, Selector};
use serde_json::json;

use super::web_search::cause;
use super::{
    Tool, ToolError, ToolOutput, ToolSpec, Tools, net_guard, string_arg, truncate_at_char,
};

/// Text given to the model, at most (bytes).
pub const MAX_TEXT_BYTES: usize = 100_000;
/// A page larger than this is not read further (its text is cut anyway).
const MAX_PAGE_BYTES: usize = 5_000_000;
/// Columns the text is wrapped at.
const WIDTH: usize = 120;

pub struct FetchPage {
    spec: ToolSpec,
    tools: Tools,
    allow_private: bool,
}

impl FetchPage {
    pub fn new(tools: Tools, allow_private: bool) -> Self {
        FetchPage {
            spec: ToolSpec {
                name: "fetch_page".into(),
                description: format!(
                    "Open a web page (an http or https address) and read its main text, at most \
                     {} kB.",
                    MAX_TEXT_BYTES / 1000
                ),
                input_schema: json!({
                    "type": "object",
                    "properties": {"url": {"type": "string", "description": "The page's address"}},
                    "required": ["url"],
                }),
            },
            tools,
            allow_private,
        }
    }
}

impl Tool for FetchPage {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn read_only(&self) -> bool {
        true
    }

    fn call(
        &self,
        arguments: serde_json::Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        let tools = self.tools.clone();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let address = string_arg(&arguments, "url")?;
            let url = Url::parse(&address)
                .map_err(|e| ToolError::answer(format!("“{address}” is not a web address: {e}")))?;
            if let Some(why) = net_guard::refusal(&url, allow_private) {
                return Err(ToolError::answer(format!("refused: {why}")));
            }
            let host = url.host_str().unwrap_or("the site").to_string();
            let response = tools.clients()?.pages.get(url).send().await.map_err(|e| {
                ToolError::answer(format!("{host} could not be read: {}", cause(&e)))
            })?;
            if !response.status().is_success() {
                return Err(ToolError::answer(format!(
                    "{host} answered {}",
                    response.status()
                )));
            }
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("text/html")
                .to_ascii_lowercase();
            let body = read_body(response, MAX_PAGE_BYTES).await?;
            let mut text = if content_type.starts_with("text/html")
                || content_type.starts_with("application/xhtml")
            {
                readable_text(&body)?
            } else if content_type.starts_with("text/") || content_type.contains("json") {
                String::from_utf8_lossy(&body).into_owned()
            } else {
                return Err(ToolError::answer(format!(
                    "{host} sent {content_type}, not a page of text"
                )));
            };
            let cut = truncate_at_char(&mut text, MAX_TEXT_BYTES);
            let kb = (text.len() as f64 / 1000.0).max(0.1);
            if cut {
                text.push_str("\n\n[The page goes on; only its first 100 kB are shown.]");
            }
            Ok(ToolOutput {
                preview: format!("{kb:.1} kB of text from {host}"),
                content: text,
            })
        })
    }
}

/// Reads a response body up to `max` bytes (the rest is not downloaded).
pub(super) async fn read_body(
    response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, ToolError> {
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

/// A page's main text: its `<main>` or `<article>` when it has one (menus and footers left
/// out), else its body; scripts and styles never. html2text does the reading.
pub fn readable_text(html: &[u8]) -> Result<String, ToolError> {
    static MAIN: OnceLock<Option<Selector>> = OnceLock::new();
    let source = String::from_utf8_lossy(html);
    let main = MAIN
        .get_or_init(|| Selector::parse("main, article, [role=main]").ok())
        .as_ref()
        .and_then(|sel| {
            Html::parse_document(&source)
                .select(sel)
                .next()
                .map(|m| m.html())
        });
    let chosen = main.as_deref().unwrap_or(&source);
    let text = html2text::config::plain()
        .string_from_read(chosen.as_bytes(), WIDTH)
        .map_err(|e| ToolError::answer(format!("the page could not be read as text: {e}")))?;
    // Blank lines of layout tables and empty blocks say nothing.
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines().map(str::trim_end) {
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank <= 1 {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_main_text_without_scripts_or_styles() {
        let page = br#"<html><head><title>T</title><style>body{color:red}</style></head><body>
            <nav>Home | About | Menu</nav>
            <main><h1>Tidal energy</h1><script>var secret = 1;</script>
            <p>Tides are <b>predictable</b>.</p></main><footer>Copyright</footer></body></html>"#;
        let text = readable_text(page).unwrap();
        assert!(text.contains("Tidal energy"), "{text}");
        // Headings and emphasis stay visible, as a model reads Markdown well.
        assert!(text.contains("Tides are **predictable**."), "{text}");
        for absent in ["secret", "color", "Menu", "Copyright"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
    }

    #[test]
    fn a_long_page_is_cut_at_a_character_at_100_kb() {
        let mut text = "é".repeat(MAX_TEXT_BYTES);
        assert!(truncate_at_char(&mut text, MAX_TEXT_BYTES));
        assert!(text.len() <= MAX_TEXT_BYTES && text.len() >= MAX_TEXT_BYTES - 1);
        assert!(text.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_page_without_main_is_read_whole() {
        let text = readable_text(b"<body><p>One</p><p>Two</p></body>").unwrap();
        assert!(text.contains("One") && text.contains("Two"), "{text}");
    }
}
