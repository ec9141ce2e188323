//! Which tools exist and how a step gets its own: the built-in ones by name (MCP servers'
//! tools join them here).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::demo_search::DemoSearch;
use super::fetch_page::FetchPage;
use super::web_search::WebSearch;
use super::{SharedTool, ToolError, net_guard};

/// The built-in tools, by the name a step enables them with, and what they do in a few words.
pub const BUILTIN_TOOLS: &[(&str, &str)] = &[
    (
        "web_search",
        "Search the web (DuckDuckGo) and read the top results",
    ),
    ("fetch_page", "Open a web page and read its text"),
];

/// DuckDuckGo's plain-HTML results page, which needs no key.
pub const DEFAULT_WEB_SEARCH_URL: &str = "https://html.duckduckgo.com/html/";

/// `[tools]` in the settings file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolSettings {
    /// Where `web_search` asks (`STEPWISE_WEB_SEARCH_URL` overrides it).
    pub web_search_url: String,
    /// Lets `fetch_page` open this computer and the local network (off: a model could otherwise
    /// read a router's admin page or a local server's API).
    pub allow_private_network: bool,
    /// A tool call that takes longer is stopped, and the model told so.
    pub timeout_secs: u64,
}

impl Default for ToolSettings {
    fn default() -> Self {
        ToolSettings {
            web_search_url: DEFAULT_WEB_SEARCH_URL.to_string(),
            allow_private_network: false,
            timeout_secs: 60,
        }
    }
}

/// A page fetch gives up after this long (connect, redirects and body together).
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// The tools of an engine. Cheap to clone; its HTTP clients are built on the first call that
/// needs one (building reads the system's certificates, which an offline run never needs).
#[derive(Clone, Default)]
pub struct Tools {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    settings: ToolSettings,
    clients: OnceLock<Result<Clients, String>>,
}

/// The search client goes only where the settings say; the page client goes where a model says,
/// so it is the guarded one.
#[derive(Clone)]
pub(super) struct Clients {
    pub search: reqwest::Client,
    pub pages: reqwest::Client,
}

impl Tools {
    pub fn new(settings: ToolSettings) -> Self {
        Tools {
            inner: Arc::new(Inner {
                settings,
                clients: OnceLock::new(),
            }),
        }
    }

    pub fn settings(&self) -> &ToolSettings {
        &self.inner.settings
    }

    /// How long one call may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.inner.settings.timeout_secs.clamp(1, 24 * 3600))
    }

    /// Whether `name` is a tool a step may enable.
    pub fn exists(name: &str) -> bool {
        BUILTIN_TOOLS.iter().any(|(n, _)| *n == name)
    }

    /// The tools a step enabled. The demo model searches a clearly labelled offline sample
    /// instead of the web, so a fresh install's first run needs no network.
    pub fn for_step(&self, names: &[String], demo: bool) -> Result<Vec<SharedTool>, ToolError> {
        let mut tools: Vec<SharedTool> = Vec::new();
        for name in names {
            let tool: SharedTool = match name.as_str() {
                "web_search" if demo => Arc::new(DemoSearch::new()),
                "web_search" => Arc::new(WebSearch::new(
                    self.clone(),
                    self.inner.settings.web_search_url.clone(),
                )),
                "fetch_page" => Arc::new(FetchPage::new(
                    self.clone(),
                    self.inner.settings.allow_private_network,
                )),
                other => {
                    return Err(ToolError {
                        message: format!("there is no tool `{other}`"),
                        fatal: true,
                    });
                }
            };
            tools.push(tool);
        }
        Ok(tools)
    }

    pub(super) fn clients(&self) -> Result<Clients, ToolError> {
        let allow = self.inner.settings.allow_private_network;
        self.inner
            .clients
            .get_or_init(|| {
                let search = net_guard::client(true, FETCH_TIMEOUT).map_err(|e| e.to_string())?;
                let pages = net_guard::client(allow, FETCH_TIMEOUT).map_err(|e| e.to_string())?;
                Ok(Clients { search, pages })
            })
            .clone()
            .map_err(|e| ToolError {
                message: format!("cannot set up HTTP for tools: {e}"),
                fatal: true,
            })
    }
}
