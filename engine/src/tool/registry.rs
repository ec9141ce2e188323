//! Which tools exist and how a step gets its own: the built-in ones by name (MCP servers'
//! tools join them here).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::builtins::{BUILTIN_TOOLS, builtin};
use super::demo_search::DemoSearch;
use super::fetch_page::FetchPage;
use super::mcp::{
    McpServerSettings, McpServers, McpTool, Server, ServerTool, naming, valid_server_name,
};
use super::sites::host_allowed;
use super::tool_settings::ToolSettings;
use super::web_access::WebAccess;
use super::web_search::WebSearch;
use super::{Grant, SeenAddresses, SharedTool, Tool, ToolError};
use std::collections::BTreeMap;

/// The tools of an engine. Cheap to clone; its HTTP clients are built on the first call that
/// needs one (building reads the system's certificates, which an offline run never needs).
#[derive(Clone, Default)]
pub struct Tools {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The settings, and the web tools' clients built from them.
    web: Arc<WebAccess>,
    mcp: Arc<McpServers>,
    /// Tools and hosts the person allowed "always" since these settings were made.
    allowed_now: Mutex<HashSet<Grant>>,
}

impl Tools {
    pub fn new(settings: ToolSettings) -> Self {
        Tools::with_mcp(settings, BTreeMap::new())
    }

    /// With the MCP servers of the settings' `[mcp.NAME]` entries, started in Stepwise's own
    /// working folder.
    pub fn with_mcp(settings: ToolSettings, mcp: BTreeMap<String, McpServerSettings>) -> Self {
        Tools::with_mcp_in(settings, mcp, None)
    }

    /// With the MCP servers of the settings' `[mcp.NAME]` entries, whose stdio servers start in
    /// `working_dir` (the settings file's folder, so a relative path in an entry means the same
    /// whoever starts Stepwise, and from wherever).
    pub fn with_mcp_in(
        settings: ToolSettings,
        mcp: BTreeMap<String, McpServerSettings>,
        working_dir: Option<std::path::PathBuf>,
    ) -> Self {
        Tools {
            inner: Arc::new(Inner {
                web: Arc::new(WebAccess::new(settings)),
                mcp: Arc::new(McpServers::new(mcp, working_dir)),
                allowed_now: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// The MCP servers (configured and running).
    pub fn mcp(&self) -> &McpServers {
        &self.inner.mcp
    }

    /// These tools, with `old`'s running MCP servers for the entries that did not change. A
    /// changed entry's server is not stopped: the runs that started with it keep it, and it is
    /// stopped once the last of them ends (or at shutdown); new runs start the new one.
    pub fn reusing_servers_of(self, old: &Tools) -> Tools {
        let same = self.inner.mcp.same_entries(&old.inner.mcp);
        Tools {
            inner: Arc::new(Inner {
                web: self.inner.web.clone(),
                mcp: Arc::new(old.inner.mcp.succeeded_by(&self.inner.mcp)),
                allowed_now: Mutex::new(if same {
                    old.inner
                        .allowed_now
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone()
                } else {
                    HashSet::new()
                }),
            }),
        }
    }

    /// Ends every MCP server this engine started (under these settings or earlier ones).
    pub async fn shutdown(&self) {
        self.inner.mcp.shutdown().await;
    }

    pub fn settings(&self) -> &ToolSettings {
        self.inner.web.settings()
    }

    /// How long one call may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.inner.web.settings().timeout_secs.clamp(1, 24 * 3600))
    }

    /// Whether a call to `tool` with `arguments` waits for the person: tools that only read run
    /// at once, others ask, and so does a read that would send what the model put together
    /// somewhere (`Tool::asks_for_call`) — unless Settings say otherwise (`allow`, `ask`,
    /// `allow_hosts`) or the person said "allow always".
    pub fn needs_approval(&self, tool: &dyn Tool, arguments: &serde_json::Value) -> bool {
        let name = tool.policy_name();
        let listed = |list: &[String]| list.contains(&name);
        let allowed_now = self
            .inner
            .allowed_now
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if listed(&self.inner.web.settings().allow)
            || allowed_now.contains(&Grant::Tool(name.clone()))
        {
            return false;
        }
        if listed(&self.inner.web.settings().ask) || !tool.read_only() {
            return true;
        }
        if !tool.asks_for_call(arguments) {
            return false;
        }
        // An address the person allowed "always" for its host in this session.
        let Grant::Host(host) = tool.grant(arguments) else {
            return true;
        };
        let hosts: Vec<String> = allowed_now
            .into_iter()
            .filter_map(|g| match g {
                Grant::Host(h) => Some(h),
                Grant::Tool(_) => None,
            })
            .collect();
        !host_allowed(&host, &hosts)
    }

    /// "Allow always": the tool, or the host, runs without asking from now on (the app also
    /// saves it).
    pub fn allow_from_now_on(&self, grant: &Grant) {
        self.inner
            .allowed_now
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(grant.clone());
    }

    /// Whether a step may name `name` in its tools: a built-in tool, `SERVER` (all of an MCP
    /// server's tools) or `SERVER.TOOL`. Whether the server is in Settings is known only when
    /// the step runs (a workflow file does not depend on one computer's settings).
    pub fn can_name(name: &str) -> bool {
        if builtin(name).is_some() {
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
    /// `seen` is the run's addresses: the search tools add their results, `fetch_page` its
    /// pages' links, and opens those without asking.
    pub async fn for_step(
        &self,
        names: &[String],
        demo: bool,
        seen: &SeenAddresses,
    ) -> Result<Vec<SharedTool>, ToolError> {
        // Each tool once, in the order first named: `["t", "t.echo"]` is t's tools, and
        // `web_search` listed twice is one tool (a provider refuses a name given twice).
        enum Pick {
            Builtin(&'static str),
            Mcp(usize),
        }
        let mut picks: Vec<Pick> = Vec::new();
        let mut mcp: Vec<(Arc<Server>, ServerTool)> = Vec::new();
        for name in names {
            if let Some(builtin) = builtin(name).map(|t| t.name) {
                if !picks
                    .iter()
                    .any(|p| matches!(p, Pick::Builtin(b) if *b == builtin))
                {
                    picks.push(Pick::Builtin(builtin));
                }
                continue;
            }
            let (server, only) = match name.split_once('.') {
                Some((s, t)) => (s, Some(t)),
                None => (name.as_str(), None),
            };
            let running = self
                .inner
                .mcp
                .server(server, self.inner.web.settings().timeout_secs)
                .await?;
            let chosen: Vec<_> = running
                .tools
                .iter()
                .filter(|t| only.is_none_or(|o| o == t.name))
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
                if !mcp
                    .iter()
                    .any(|(s, known)| s.name == server && known.name == t.name)
                {
                    picks.push(Pick::Mcp(mcp.len()));
                    mcp.push((running.clone(), t.clone()));
                }
            }
        }
        // Unique names for the model, each leading back to one (server, tool).
        let pairs: Vec<(&str, &str)> = mcp
            .iter()
            .map(|(s, t)| (s.name.as_str(), t.name.as_str()))
            .collect();
        let builtin_names: Vec<&str> = BUILTIN_TOOLS.iter().map(|t| t.name).collect();
        let mut model_names = naming::model_names(&pairs, &builtin_names)?.into_iter();
        let mut mcp_tools: Vec<SharedTool> = Vec::new();
        for (server, tool) in mcp {
            let name = model_names.next().unwrap_or_default();
            let timeout = self
                .inner
                .mcp
                .timeout(&server.name, self.inner.web.settings().timeout_secs);
            let max = self.inner.web.settings().max_result_bytes;
            mcp_tools.push(Arc::new(McpTool::new(server, tool, name, timeout, max)));
        }
        let tools = picks
            .into_iter()
            .filter_map(|pick| -> Option<SharedTool> {
                Some(match pick {
                    Pick::Builtin("web_search") if demo => Arc::new(DemoSearch::new(seen.clone())),
                    Pick::Builtin("web_search") => Arc::new(WebSearch::new(
                        self.inner.web.clone(),
                        self.inner.web.settings().web_search_url.clone(),
                        seen.clone(),
                    )),
                    Pick::Builtin("fetch_page") => {
                        Arc::new(FetchPage::new(self.inner.web.clone(), seen.clone()))
                    }
                    // A row of `BUILTIN_TOOLS` with no arm here is offered by no step:
                    // `every_builtin_tool_is_made` fails on it.
                    Pick::Builtin(_) => return None,
                    Pick::Mcp(i) => mcp_tools.get(i)?.clone(),
                })
            })
            .collect();
        Ok(tools)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_builtin_tool_is_made() {
        let tools = Tools::default();
        for demo in [false, true] {
            for row in &BUILTIN_TOOLS {
                let made = tools
                    .for_step(&[row.name.to_string()], demo, &SeenAddresses::default())
                    .await
                    .unwrap();
                assert_eq!(made.len(), 1, "{} (demo: {demo})", row.name);
                assert_eq!(made[0].spec().name, row.name);
                assert_eq!(made[0].read_only(), row.read_only, "{}", row.name);
            }
        }
    }
}
