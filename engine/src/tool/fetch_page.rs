//! `fetch_page`: opens an http(s) address and returns the page's readable text.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use html2text::{Element, Handle};
use reqwest::Url;
use serde_json::json;

use super::net_guard::read_body;
use super::seen_addresses::{SeenAddresses, addresses_in};
use super::sites::host_allowed;
use super::web_access::WebAccess;
use super::{
    Grant, Tool, ToolError, ToolOutput, ToolSpec, describe, net_guard, shorten, string_arg,
    truncate_at_char,
};

/// Text given to the model, at most (bytes).
pub const MAX_TEXT_BYTES: usize = 100_000;
/// A page larger than this is not read further (its text is cut anyway).
const MAX_PAGE_BYTES: usize = 5_000_000;
/// Columns the text is wrapped at.
const WIDTH: usize = 120;

pub struct FetchPage {
    spec: ToolSpec,
    web: Arc<WebAccess>,
    seen: SeenAddresses,
}

impl FetchPage {
    pub fn new(web: Arc<WebAccess>, seen: SeenAddresses) -> Self {
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
            web,
            seen,
        }
    }

    /// Whether this address opens without asking: the run was shown it (its input, a search
    /// result, a page it read) or Settings allow its host. One the model put together asks —
    /// unless it would be refused anyway.
    fn opens_unasked(&self, url: &Url) -> bool {
        let settings = self.web.settings();
        net_guard::refusal(url, settings.allow_private_network).is_some()
            || self.seen.contains(url)
            || url
                .host_str()
                .is_some_and(|h| host_allowed(h, &settings.allow_hosts))
    }
}

/// The address a call names, if it is one.
fn url_of(arguments: Option<&serde_json::Value>) -> Option<Url> {
    let address = arguments?.get("url")?.as_str()?.trim();
    Url::parse(address).ok()
}

impl Tool for FetchPage {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn read_only(&self) -> bool {
        super::builtin("fetch_page").is_some_and(|b| b.read_only)
    }

    fn asks_for_call(&self, arguments: &serde_json::Value) -> bool {
        url_of(Some(arguments)).is_some_and(|u| !self.opens_unasked(&u))
    }

    fn grant(&self, arguments: &serde_json::Value) -> Grant {
        match url_of(Some(arguments)).and_then(|u| u.host_str().map(str::to_string)) {
            Some(host) if self.asks_for_call(arguments) => Grant::Host(host),
            _ => Grant::Tool(self.policy_name()),
        }
    }

    fn describe(&self, arguments: Option<&serde_json::Value>) -> String {
        match url_of(arguments) {
            Some(u) if !self.opens_unasked(&u) => {
                format!("Opening {}", shorten(u.as_str(), 80))
            }
            _ => describe(&self.spec.name, arguments),
        }
    }

    fn call(
        &self,
        arguments: serde_json::Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        let web = self.web.clone();
        let seen = self.seen.clone();
        Box::pin(async move {
            let address = string_arg(&arguments, "url")?;
            let url = Url::parse(&address)
                .map_err(|e| ToolError::answer(format!("“{address}” is not a web address: {e}")))?;
            let host = url.host_str().unwrap_or("the site").to_string();
            let response = web.clients().await?.pages.get(url).await?;
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
            let page_url = response.url().clone();
            let body = read_body(response, MAX_PAGE_BYTES).await?;
            let html = content_type.starts_with("text/html")
                || content_type.starts_with("application/xhtml");
            let text = content_type.starts_with("text/") || content_type.contains("json");
            if !(html || text) {
                return Err(ToolError::answer(format!(
                    "{host} sent {content_type}, not a page of text"
                )));
            }
            // Parsing megabytes of HTML takes a while: off the async threads, so a cancel
            // pressed meanwhile lands at once (the parse finishes unseen).
            // A cancel drops this future; the parse sees that and stops (it would otherwise
            // burn a core for a second after the run has ended).
            let dropped = DropFlag::default();
            let abandoned = dropped.flag();
            let read = tokio::task::spawn_blocking(move || {
                let (mut text, links) = if html {
                    readable_page(Abandonable::new(&body, abandoned), &page_url)?
                } else {
                    let text = String::from_utf8_lossy(&body).into_owned();
                    let links = addresses_in(&text).collect();
                    (text, links)
                };
                seen.note_all(links);
                let cut = truncate_at_char(&mut text, MAX_TEXT_BYTES);
                Ok::<_, ToolError>((text, cut))
            })
            .await
            .map_err(|e| ToolError::answer(format!("{host} could not be read: {e}")))?;
            drop(dropped);
            let (mut text, cut) = read?;
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

/// A page's readable text and the addresses it links to or writes out. The page is parsed once,
/// into html2text's tree: its main part is rendered from that tree, its links read from it.
fn readable_page(html: Abandonable<'_>, base: &Url) -> Result<(String, Vec<Url>), ToolError> {
    let unreadable =
        |e: html2text::Error| ToolError::answer(format!("the page could not be read as text: {e}"));
    let abandoned = html.abandoned.clone();
    let gone = || ToolError::answer("the page was no longer needed");
    let config = html2text::config::plain();
    let dom = config.parse_html(html).map_err(|e| {
        if abandoned.load(Ordering::Relaxed) {
            gone()
        } else {
            unreadable(e)
        }
    })?;
    let (mut main, mut body) = (None, None);
    let mut hrefs = Vec::new();
    visit(&dom.document, &mut |node| {
        let Element { name, attrs, .. } = &node.data else {
            return;
        };
        let tag: &str = &name.local;
        let attrs = attrs.borrow();
        let attr = |n: &str| {
            attrs
                .iter()
                .find(|a| &*a.name.local == n)
                .map(|a| a.value.to_string())
        };
        if body.is_none() && tag == "body" {
            body = Some(node.clone());
        }
        if main.is_none()
            && (tag == "main" || tag == "article" || attr("role").as_deref() == Some("main"))
        {
            main = Some(node.clone());
        }
        if tag == "a"
            && let Some(href) = attr("href")
        {
            hrefs.push(href);
        }
    });
    // Only the main part is rendered: the body is made to hold it alone.
    if let (Some(main), Some(body)) = (main, body) {
        *body.children.borrow_mut() = vec![main];
    }
    if abandoned.load(Ordering::Relaxed) {
        return Err(gone());
    }
    let tree = config.dom_to_render_tree(&dom).map_err(unreadable)?;
    if abandoned.load(Ordering::Relaxed) {
        return Err(gone());
    }
    let text = tidy(&config.render_to_string(tree, WIDTH).map_err(unreadable)?);
    let mut links: Vec<Url> = addresses_in(&text).collect();
    links.extend(
        hrefs
            .iter()
            .filter_map(|h| base.join(h.trim()).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https")),
    );
    Ok((text, links))
}

/// Set when the future that waits for a parse is dropped (a cancel, a timeout).
#[derive(Default)]
struct DropFlag(Arc<AtomicBool>);

impl DropFlag {
    fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A page's bytes as the parser reads them, in pieces: once nobody waits for the parse, the
/// next read fails and the parse stops.
struct Abandonable<'a> {
    rest: &'a [u8],
    abandoned: Arc<AtomicBool>,
}

impl<'a> Abandonable<'a> {
    fn new(bytes: &'a [u8], abandoned: Arc<AtomicBool>) -> Self {
        Abandonable {
            rest: bytes,
            abandoned,
        }
    }
}

impl std::io::Read for Abandonable<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.abandoned.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("the page was no longer needed"));
        }
        // Small pieces, so that a stop is seen within a fraction of a millisecond.
        let n = buf.len().min(self.rest.len()).min(16 * 1024);
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// Every node under `node`, in document order (depth first, without recursion: a page may nest
/// deeper than a thread's stack).
fn visit(node: &Handle, f: &mut impl FnMut(&Handle)) {
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        f(&n);
        stack.extend(n.children.borrow().iter().rev().cloned());
    }
}

/// Blank lines of layout tables and empty blocks say nothing: at most one in a row.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines().map(str::trim_end) {
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank <= 1 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim().to_string()
}

/// A page's main text: its `<main>` or `<article>` when it has one (menus and footers left
/// out), else its body; scripts and styles never.
#[cfg(test)]
fn readable_text(html: &[u8]) -> Result<String, ToolError> {
    let base = Url::parse("https://page.test/").map_err(|e| ToolError::answer(e.to_string()))?;
    readable_page(Abandonable::new(html, Arc::default()), &base).map(|(text, _)| text)
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
    fn a_pages_links_are_its_addresses() {
        let base = Url::parse("https://site.test/dir/page").unwrap();
        let page = b"<main><p>See <a href='/other'>this</a>, <a href='rel?q=1'>that</a>, \
            <a href='mailto:x@y.z'>mail</a> and https://written.test/out.</p></main>";
        let (text, links) = readable_page(Abandonable::new(page, Arc::default()), &base).unwrap();
        assert!(text.contains("See"), "{text}");
        let links: Vec<String> = links.iter().map(|u| u.to_string()).collect();
        for want in [
            "https://site.test/other",
            "https://site.test/dir/rel?q=1",
            "https://written.test/out",
        ] {
            assert!(links.contains(&want.to_string()), "{want} in {links:?}");
        }
        assert!(!links.iter().any(|l| l.starts_with("mailto")));
    }

    #[test]
    fn a_parse_nobody_waits_for_stops() {
        let page = "<p>Tides.</p>".repeat(100_000);
        let flag = DropFlag::default();
        let abandoned = flag.flag();
        drop(flag);
        let base = Url::parse("https://site.test/").unwrap();
        let e = readable_page(Abandonable::new(page.as_bytes(), abandoned), &base).unwrap_err();
        assert!(e.message.contains("no longer needed"), "{}", e.message);
    }

    #[test]
    fn a_page_without_main_is_read_whole() {
        let text = readable_text(b"<body><p>One</p><p>Two</p></body>").unwrap();
        assert!(text.contains("One") && text.contains("Two"), "{text}");
    }
}
