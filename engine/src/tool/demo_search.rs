//! The demo model's `web_search`: sample results made from the query, offline and the same every
//! time, labelled so that nobody takes them for the web's.

use futures_util::future::BoxFuture;

use super::web_search::{SearchResult, note_results, render, spec};
use super::{SeenAddresses, Tool, ToolError, ToolOutput, ToolSpec, string_arg};

/// Begins every answer of the demo search.
pub const DEMO_LABEL: &str = "Demo search — sample results made offline, not from the web.\n";

pub struct DemoSearch {
    spec: ToolSpec,
    seen: SeenAddresses,
}

impl DemoSearch {
    pub fn new(seen: SeenAddresses) -> Self {
        DemoSearch { spec: spec(), seen }
    }
}

impl Tool for DemoSearch {
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
        let seen = self.seen.clone();
        Box::pin(async move {
            let query = string_arg(&arguments, "query")?;
            let slug: String = query
                .to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("-");
            let angles = [
                (
                    "An overview",
                    "what it is, how it works and where it is used today",
                ),
                (
                    "Costs and economics",
                    "what it costs to build and run, and who pays",
                ),
                (
                    "Risks and open questions",
                    "what could go wrong and what is still unknown",
                ),
                (
                    "Recent developments",
                    "what has changed in the last few years",
                ),
                ("A beginner's guide", "the key terms, explained simply"),
            ];
            let results: Vec<SearchResult> = angles
                .iter()
                .enumerate()
                .map(|(i, (title, about))| SearchResult {
                    title: format!("{query}: {title} (sample)"),
                    url: format!("https://example.org/demo/{slug}/{}", i + 1),
                    snippet: format!("A sample page on {query}: {about}."),
                })
                .collect();
            note_results(&seen, &results);
            let mut out = render(&query, &results, DEMO_LABEL);
            out.preview = format!("{} (demo search)", out.preview);
            Ok(out)
        })
    }
}
