//! What a browser test asks of its app: everything that differs between tests is data given
//! here when the app is made (never logic in the page).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use stepwise_testkit::{Behavior, Models, Page};

/// How to make one app. Every field may be left out: the default is a fresh app whose demo
/// model streams at [`Pace::default`].
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppOptions {
    /// How fast the demo model writes.
    pub demo: Pace,
    /// Model servers (`stepwise_testkit::TestServer`) started for this app, by name. Settings
    /// cite a server's address as `{{NAME}}` (`http://127.0.0.1:PORT`).
    pub servers: BTreeMap<String, ServerOptions>,
    /// The settings file the app starts with (TOML), after `{{NAME}}` is replaced by the address
    /// of the server `NAME` (`{{remote:NAME}}`: the same server at an address Stepwise does not
    /// count as this computer's, so it is priced) and `{{closed}}` by one where nothing listens.
    pub settings: Option<String>,
    /// API keys saved through `set_api_key` before the page opens: provider → key.
    pub keys: BTreeMap<String, String>,
    /// Workflows saved through `save_workflow` before the page opens (drafts, as the UI sends).
    pub workflows: Vec<Value>,
    /// Runs made before the page opens, in order, so the history holds them.
    pub history: Vec<SeedRun>,
    /// Commands whose answer comes this many milliseconds late (a slow disk, a busy machine):
    /// the command runs only once the delay has passed.
    pub slow_commands: BTreeMap<String, u64>,
    /// Another connection holds the history's write lock, so the history cannot save.
    pub history_locked: bool,
}

/// The demo model's pace, in milliseconds.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pace {
    pub first_token_ms: u64,
    pub per_word_ms: u64,
}

impl Default for Pace {
    /// About 100 words a second: long enough to act while a step writes, short enough for a
    /// busy machine.
    fn default() -> Self {
        Pace {
            first_token_ms: 0,
            per_word_ms: 10,
        }
    }
}

/// One model server: what it lists, what it answers.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerOptions {
    /// What `GET /v1/models` answers.
    pub models: Option<Models>,
    /// What a request gets once the queue is empty.
    pub default: Option<Behavior>,
    /// What the first requests get, in order.
    pub queue: Vec<Behavior>,
    /// Web pages by path, for the tools to fetch.
    pub pages: BTreeMap<String, Page>,
}

/// A run made before the page opens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRun {
    /// A template's id, or the name of a workflow given in [`AppOptions::workflows`].
    pub workflow: String,
    pub input: String,
    /// Queued on server `NAME` just before this run starts: `[NAME, behavior]`.
    #[serde(default)]
    pub behaviors: Vec<(String, Behavior)>,
    /// `ends` waits for the run to end on its own; `cancel` cancels it once it has written.
    #[serde(default)]
    pub then: SeedEnd,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum SeedEnd {
    #[default]
    Ends,
    Cancel,
}
