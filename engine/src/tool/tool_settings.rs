//! `[tools]` in the settings file: what the tools may do, and their limits.

use serde::{Deserialize, Serialize};

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
    /// Hosts `fetch_page` may open without asking although no search result or page of the run
    /// named the address (`example.com` also covers `www.example.com`, not `example.com.evil`).
    pub allow_hosts: Vec<String>,
    /// A proxy for the tools' web requests (`http://host:port`). None from the environment is
    /// used: a proxy resolves names itself, which would walk around the private-network guard,
    /// so the one named here is checked like any address and the guard still checks each target.
    pub proxy: Option<String>,
    /// A tool's answer goes to the model cut at this many bytes (at a character, saying so).
    pub max_result_bytes: usize,
    /// At most this many calls run from one turn of a model; the rest are answered with an error.
    pub max_calls_per_turn: usize,
}

impl Default for ToolSettings {
    fn default() -> Self {
        ToolSettings {
            web_search_url: DEFAULT_WEB_SEARCH_URL.to_string(),
            allow_private_network: false,
            timeout_secs: 60,
            allow: Vec::new(),
            ask: Vec::new(),
            allow_hosts: Vec::new(),
            proxy: None,
            max_result_bytes: 100_000,
            max_calls_per_turn: 16,
        }
    }
}
