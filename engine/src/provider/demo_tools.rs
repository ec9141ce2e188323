//! How the demo model uses tools, the same way every time: in its first turn it says what it
//! will do and calls `web_search` for the topic (and `fetch_page` for an address in the
//! request), in parallel; once it has the answers it writes as usual and lists the sources it
//! was given. No tools offered, no calls.

use super::ModelRequest;
use super::demo_text::topic_of;
use crate::prompt::sections;
use crate::tool::ToolCall;

/// The demo model's first turn when it has tools: a line of text and its calls.
pub(super) fn first_turn(req: &ModelRequest) -> Option<(String, Vec<ToolCall>)> {
    if !req.turns.is_empty() {
        return None;
    }
    let offered = |name: &str| req.tools.iter().any(|t| t.name == name);
    let (input, _) = sections(&req.user);
    let topic = topic_of(input);
    let mut calls = Vec::new();
    if offered("web_search") {
        calls.push(ToolCall {
            id: "demo_call_1".into(),
            name: "web_search".into(),
            arguments: serde_json::json!({ "query": topic }).to_string(),
        });
    }
    if offered("fetch_page")
        && let Some(url) = input
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
    {
        calls.push(ToolCall {
            id: format!("demo_call_{}", calls.len() + 1),
            name: "fetch_page".into(),
            arguments: serde_json::json!({ "url": url.trim_end_matches(['.', ',', ')']) })
                .to_string(),
        });
    }
    if calls.is_empty() {
        return None;
    }
    let lead = if calls.len() == 1 && calls[0].name == "web_search" {
        format!("Let me look up {topic} first.\n\n")
    } else {
        format!("Let me look up {topic} and read the page you gave first.\n\n")
    };
    Some((lead, calls))
}

/// The addresses in the tools' answers, as a closing "Sources" list (nothing if none).
pub(super) fn sources(req: &ModelRequest) -> String {
    let mut found: Vec<&str> = Vec::new();
    for answer in req.turns.iter().flat_map(|t| &t.results) {
        if answer.is_error {
            continue;
        }
        for word in answer.content.split_whitespace() {
            if (word.starts_with("https://") || word.starts_with("http://"))
                && !found.contains(&word)
                && found.len() < 5
            {
                found.push(word);
            }
        }
    }
    if found.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n\nSources:\n");
    for (i, url) in found.into_iter().enumerate() {
        out.push_str(&format!("[{}] {url}\n", i + 1));
    }
    out.trim_end().to_string()
}
