//! MCP servers (ARCHITECTURE.md §9): `[mcp.NAME]` entries in the settings, each a local server
//! started as a child process (stdio) or a remote one at an address (streamable HTTP), through
//! the official Rust SDK (`rmcp`). A server starts the first time a step needs it and is shared
//! by every run after; [`McpServers::shutdown`] ends them all (the app at quit, the CLI after its
//! run), each stdio server with its whole process group.

mod answer;
mod env;
mod fleet;
mod group;
pub mod naming;
mod server;
mod stderr;
mod tool;

pub use server::{Server, ServerTool};
pub use tool::McpTool;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ToolError;
use fleet::Fleet;
use server::Launch;

/// One `[mcp.NAME]` entry: a `command` (with `args` and `env`) for a local server, or a `url`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpServerSettings {
    pub command: Option<String>,
    pub args: Vec<String>,
    /// The only variables the server gets besides the few it needs to start (PATH, HOME, …):
    /// never Stepwise's API keys.
    pub env: BTreeMap<String, String>,
    pub url: Option<String>,
    /// A call to one of its tools that takes longer is stopped (default: the tools' timeout).
    pub timeout_secs: Option<u64>,
}

impl McpServerSettings {
    /// What is wrong with the entry, in words, if anything.
    pub fn problem(&self) -> Option<String> {
        match (&self.command, &self.url) {
            (Some(c), None) if !c.trim().is_empty() => None,
            (None, Some(u)) if u.starts_with("http://") || u.starts_with("https://") => None,
            (None, Some(u)) => Some(format!("`{u}` is not an http or https address")),
            (Some(_), Some(_)) => Some("give either a command or a url, not both".into()),
            _ => Some("give a command to start it, or the url it answers at".into()),
        }
    }
}

/// Whether `name` can name an MCP server (letters, digits, `-` and `_`).
pub fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The configured servers and the ones running.
///
/// Each configured server has a slot of its own, whose lock is held while it starts: a server
/// that is slow to start holds up only the steps that need it. When the settings change
/// ([`McpServers::succeeded_by`]) an unchanged entry keeps its slot, so its server goes on
/// running; a changed or removed one's server stays with the runs that started before the
/// change and is stopped when the last of them lets it go (or at shutdown).
pub struct McpServers {
    configs: BTreeMap<String, McpServerSettings>,
    /// Where stdio servers start: the settings file's folder (None: Stepwise's own).
    working_dir: Option<PathBuf>,
    slots: HashMap<String, Slot>,
    fleet: Arc<Fleet>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Server>>>>;

impl Default for McpServers {
    fn default() -> Self {
        McpServers::new(BTreeMap::new(), None)
    }
}

impl McpServers {
    pub fn new(configs: BTreeMap<String, McpServerSettings>, working_dir: Option<PathBuf>) -> Self {
        let slots = configs
            .keys()
            .map(|k| (k.clone(), Slot::default()))
            .collect();
        McpServers {
            configs,
            working_dir,
            slots,
            fleet: Arc::default(),
        }
    }

    pub fn same_entries(&self, other: &McpServers) -> bool {
        self.configs == other.configs && self.working_dir == other.working_dir
    }

    /// `next`'s entries, keeping this one's running servers for the entries that did not
    /// change. A changed entry's server is not stopped here: the runs that use it keep it.
    pub fn succeeded_by(&self, next: &McpServers) -> McpServers {
        let same_dir = self.working_dir == next.working_dir;
        let slots = next
            .configs
            .iter()
            .map(|(name, config)| {
                let slot = match self.slots.get(name) {
                    Some(old) if same_dir && self.configs.get(name) == Some(config) => old.clone(),
                    _ => Slot::default(),
                };
                (name.clone(), slot)
            })
            .collect();
        McpServers {
            configs: next.configs.clone(),
            working_dir: next.working_dir.clone(),
            slots,
            fleet: self.fleet.clone(),
        }
    }

    /// How long a call to `name`'s tools may take: its entry's `timeout_secs`, else `default`.
    pub fn timeout(&self, name: &str, default_secs: u64) -> Duration {
        let secs = self
            .configs
            .get(name)
            .and_then(|c| c.timeout_secs)
            .unwrap_or(default_secs);
        Duration::from_secs(secs.clamp(1, 24 * 3600))
    }

    /// The server `name`, started now if it is not running (or has stopped since). Listing its
    /// tools may take as long as a call to them.
    pub async fn server(
        &self,
        name: &str,
        default_timeout_secs: u64,
    ) -> Result<Arc<Server>, ToolError> {
        let (Some(config), Some(slot)) = (self.configs.get(name), self.slots.get(name)) else {
            return Err(ToolError {
                message: format!(
                    "there is no MCP server “{name}” in Settings; add it there, or take it out \
                     of the step's tools"
                ),
                fatal: true,
            });
        };
        let mut slot = slot.lock().await;
        if let Some(s) = slot.as_ref()
            && s.is_alive()
        {
            return Ok(s.clone());
        }
        if let Some(dead) = slot.take() {
            dead.stop().await;
        }
        let launch = Launch {
            list_limit: self.timeout(name, default_timeout_secs),
            working_dir: self.working_dir.clone(),
            stops: self.fleet.stops.clone(),
        };
        let server = Arc::new(Server::start(name, config, launch).await?);
        self.fleet.enlist(&server);
        *slot = Some(server.clone());
        Ok(server)
    }

    /// Like [`McpServers::server`] for Settings' "Show its tools": None when
    /// [`McpServers::stop_inspecting`] stopped it first (a start stopped half-way ends the
    /// process it had started).
    pub async fn inspect(
        &self,
        name: &str,
        default_timeout_secs: u64,
    ) -> Result<Option<Arc<Server>>, ToolError> {
        let (id, token) = self.fleet.inspection(name);
        let result = tokio::select! {
            () = token.cancelled() => Ok(None),
            r = self.server(name, default_timeout_secs) => r.map(Some),
        };
        self.fleet.inspected(name, id);
        result
    }

    /// Stops the inspection of `name` under way, if any; true when there was one.
    pub fn stop_inspecting(&self, name: &str) -> bool {
        self.fleet.stop_inspection(name)
    }

    /// The running server `name`, if it is running (for its stderr, or a test).
    pub async fn running(&self, name: &str) -> Option<Arc<Server>> {
        self.slots.get(name)?.lock().await.clone()
    }

    /// Ends every server started under these settings or earlier ones (stdio ones with their
    /// process groups), all at once, and waits until they are gone.
    pub async fn shutdown(&self) {
        self.fleet.shutdown().await;
    }
}
