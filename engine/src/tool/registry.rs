//! Which tools exist and how a step gets its own: the built-in ones by name (MCP servers'
//! tools join them here).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::demo_search::DemoSearch;
use super::fetch_page::FetchPage;
use super::mcp::{McpServerSettings, McpServers, McpTool, valid_server_name};
use super::web_search::WebSearch;
use super::{SharedTool, Tool, ToolError, net_guard};
use std::collections::BTreeMap;

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
    /// Tools that run without asking (`fetch_page`, `SERVER.TOOL`): "Allow always" adds here.
    pub allow: Vec<String>,
    /// Tools that ask first even though they only read.
    pub ask: Vec<String>,
}

impl Default for ToolSettings {
    fn default() -> Self {
        ToolSettings {
            web_search_url: DEFAULT_WEB_SEARCH_URL.to_string(),
            allow_private_network: false,
            timeout_secs: 60,
            allow: Vec::new(),
            ask: Vec::new(),
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
    mcp: Arc<McpServers>,
    /// Tools the person allowed "always" since these settings were made.
    allowed_now: Mutex<HashSet<String>>,
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
        Tools::with_mcp(settings, BTreeMap::new())
    }

    /// With the MCP servers of the settings' `[mcp.NAME]` entries.
    pub fn with_mcp(settings: ToolSettings, mcp: BTreeMap<String, McpServerSettings>) -> Self {
        Tools {
            inner: Arc::new(Inner {
                settings,
                clients: OnceLock::new(),
                mcp: Arc::new(McpServers::new(mcp)),
                allowed_now: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// The MCP servers (configured and running).
    pub fn mcp(&self) -> &McpServers {
        &self.inner.mcp
    }

    /// These tools, with `old`'s running MCP servers if the entries are the same (settings
    /// changed elsewhere: no server restarts).
    pub fn reusing_servers_of(self, old: &Tools) -> Tools {
        if self.inner.mcp.same_entries(&old.inner.mcp) {
            Tools {
                inner: Arc::new(Inner {
                    settings: self.inner.settings.clone(),
                    clients: OnceLock::new(),
                    mcp: old.inner.mcp.clone(),
                    allowed_now: Mutex::new(
                        old.inner
                            .allowed_now
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .clone(),
                    ),
                }),
            }
        } else {
            self
        }
    }

    pub fn shares_servers_with(&self, other: &Tools) -> bool {
        Arc::ptr_eq(&self.inner.mcp, &other.inner.mcp)
    }

    /// Ends every MCP server this engine started.
    pub async fn shutdown(&self) {
        self.inner.mcp.shutdown().await;
    }

    pub fn settings(&self) -> &ToolSettings {
        &self.inner.settings
    }

    /// How long one call may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.inner.settings.timeout_secs.clamp(1, 24 * 3600))
    }

    /// Whether a call to `tool` waits for the person: tools that only read run at once, others
    /// ask — unless Settings say otherwise (`allow`, `ask`) or the person said "allow always".
    pub fn needs_approval(&self, tool: &dyn Tool) -> bool {
        let name = tool.policy_name();
        let listed = |list: &[String]| list.contains(&name);
        if listed(&self.inner.settings.allow)
            || self
                .inner
                .allowed_now
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&name)
        {
            return false;
        }
        listed(&self.inner.settings.ask) || !tool.read_only()
    }

    /// "Allow always": the tool runs without asking from now on (the app also saves it).
    pub fn allow_from_now_on(&self, name: &str) {
        self.inner
            .allowed_now
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string());
    }

    /// Whether a step may name `name` in its tools: a built-in tool, `SERVER` (all of an MCP
    /// server's tools) or `SERVER.TOOL`. Whether the server is in Settings is known only when
    /// the step runs (a workflow file does not depend on one computer's settings).
    pub fn can_name(name: &str) -> bool {
        if BUILTIN_TOOLS.iter().any(|(n, _)| *n == name) {
            return true;
        }
        let (server, tool) = match name.split_once('.') {
            Some((s, t)) => (s, Some(t)),
            None => (name, None),
        };
        valid_server_name(server) && tool.is_none_or(|t| !t.trim().is_empty())
    }

    /// The tools a step enabled, starting the MCP servers it needs. The demo model searches a
    /// clearly labelled offline sample instead of the web, so a fresh install's first run needs
    /// no network.
    pub async fn for_step(
        &self,
        names: &[String],
        demo: bool,
    ) -> Result<Vec<SharedTool>, ToolError> {
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
                    let (server, only) = match other.split_once('.') {
                        Some((s, t)) => (s, Some(t)),
                        None => (other, None),
                    };
                    let running = self
                        .inner
                        .mcp
                        .server(server, self.inner.settings.timeout_secs)
                        .await?;
                    let chosen: Vec<_> = running
                        .tools
                        .iter()
                        .filter(|t| only.is_none_or(|o| o == t.name))
                        .cloned()
                        .collect();
                    if chosen.is_empty() {
                        return Err(ToolError {
                            message: match only {
                                Some(t) => format!("the MCP server “{server}” has no tool “{t}”"),
                                None => format!("the MCP server “{server}” offers no tools"),
                            },
                            fatal: true,
                        });
                    }
                    for t in chosen {
                        tools.push(Arc::new(McpTool::new(running.clone(), t)));
                    }
                    continue;
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
