//! MCP servers (ARCHITECTURE.md §9): `[mcp.NAME]` entries in the settings, each a local server
//! started as a child process (stdio) or a remote one at an address (streamable HTTP), through
//! the official Rust SDK (`rmcp`). A server starts the first time a step needs it and is shared
//! by every run after; [`McpServers::shutdown`] ends them all (the app at quit, the CLI after its
//! run), each stdio server with its whole process group.

mod env;
mod server;
mod tool;

pub use server::{Server, ServerTool};
pub use tool::McpTool;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ToolError;

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
#[derive(Default)]
pub struct McpServers {
    configs: BTreeMap<String, McpServerSettings>,
    running: tokio::sync::Mutex<HashMap<String, Arc<Server>>>,
}

impl McpServers {
    pub fn new(configs: BTreeMap<String, McpServerSettings>) -> Self {
        McpServers {
            configs,
            running: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn same_entries(&self, other: &McpServers) -> bool {
        self.configs == other.configs
    }

    /// The server `name`, started now if it is not running (or has stopped since).
    pub async fn server(
        &self,
        name: &str,
        default_timeout_secs: u64,
    ) -> Result<Arc<Server>, ToolError> {
        let Some(config) = self.configs.get(name) else {
            return Err(ToolError {
                message: format!(
                    "there is no MCP server “{name}” in Settings; add it there, or take it out \
                     of the step's tools"
                ),
                fatal: true,
            });
        };
        let mut running = self.running.lock().await;
        if let Some(s) = running.get(name)
            && s.is_alive()
        {
            return Ok(s.clone());
        }
        if let Some(dead) = running.remove(name) {
            dead.stop().await;
        }
        let timeout = config.timeout_secs.unwrap_or(default_timeout_secs);
        let server = Arc::new(Server::start(name, config, timeout).await?);
        running.insert(name.to_string(), server.clone());
        Ok(server)
    }

    /// The running server `name`, if it is running (for its stderr, or a test).
    pub async fn running(&self, name: &str) -> Option<Arc<Server>> {
        self.running.lock().await.get(name).cloned()
    }

    /// Ends every running server (stdio ones with their process groups) and waits until they
    /// are gone.
    pub async fn shutdown(&self) {
        let all: Vec<Arc<Server>> = self.running.lock().await.drain().map(|(_, s)| s).collect();
        for s in all {
            s.stop().await;
        }
    }
}
