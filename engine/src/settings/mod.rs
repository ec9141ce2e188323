//! Stepwise's settings: a TOML file in the user's config folder, overridden by environment
//! variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`).
//!
//! ```toml
//! default_model = "openai:gpt-5-mini"     # for steps that name no model; "demo" if unset
//! [openai]
//! base_url = "https://api.openai.com/v1"  # or any OpenAI-compatible service
//! api_key = "…"
//! [lmstudio]                              # also [ollama], [llamacpp], [vllm]: servers on this
//! base_url = "http://localhost:1234/v1"   # computer, each at its usual port unless set here
//! [anthropic]
//! api_key = "…"
//! max_tokens = 4096
//! [network]
//! idle_timeout_secs = 60
//! [prices]
//! "openai:gpt-5-mini" = { input = 0.25, output = 2.0 }   # dollars per million tokens
//! [tools]
//! web_search_url = "https://html.duckduckgo.com/html/"   # or STEPWISE_WEB_SEARCH_URL
//! allow_private_network = false          # fetch_page may not open this computer or the LAN
//! timeout_secs = 60                      # per tool call
//! [cluster]                              # runs on a Temporal cluster: cluster.rs
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model_ref::{ModelRef, ProviderKind};
use crate::provider::{
    AnthropicProvider, DemoModel, HttpOptions, OPENAI_MAX_TOKENS, OpenAiProvider, Providers,
    RetryPolicy,
};
use crate::tool::mcp::{McpServerSettings, valid_server_name};
use crate::tool::{ToolSettings, Tools};
use crate::usage::{Price, PriceTable};
use std::collections::BTreeMap;

mod cluster;
pub use cluster::ClusterSettings;

/// The most text one step may write before it is cut (a runaway model's guard); Settings may
/// change it.
pub const DEFAULT_MAX_STEP_OUTPUT: usize = 1_000_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub default_model: Option<String>,
    pub openai: ProviderSettings,
    pub anthropic: ProviderSettings,
    pub ollama: ProviderSettings,
    pub lmstudio: ProviderSettings,
    pub llamacpp: ProviderSettings,
    pub vllm: ProviderSettings,
    pub network: NetworkSettings,
    pub limits: LimitSettings,
    pub tools: ToolSettings,
    /// MCP servers by name: `[mcp.NAME]` with `command`, `args`, `env` or `url`.
    pub mcp: BTreeMap<String, McpServerSettings>,
    pub notifications: NotificationSettings,
    /// What closing the window does while runs go (the app).
    pub window: WindowSettings,
    /// The person's prices, by model (`openai:gpt-5-mini`), over the shipped ones.
    pub prices: BTreeMap<String, Price>,
    /// A Temporal cluster that runs Stepwise runs (§13); none unless the file (or a
    /// `STEPWISE_CLUSTER_*` variable) says where.
    pub cluster: Option<ClusterSettings>,
}

/// Desktop notifications (the app): when a run ends or waits for you while the window is not
/// in front.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    pub enabled: bool,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings { enabled: true }
    }
}

/// Closing the window while runs go: with `keep_running_in_tray` (and a tray on the desktop) the
/// window hides and the runs go on; otherwise the app asks before it stops them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowSettings {
    pub keep_running_in_tray: bool,
}

impl Default for WindowSettings {
    fn default() -> Self {
        WindowSettings {
            keep_running_in_tray: true,
        }
    }
}

/// Bounds on what one step may do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// A step that writes more text than this (bytes of UTF-8) is stopped with a clear message:
    /// a model caught in a loop would otherwise fill memory and history.
    pub max_step_output_bytes: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_step_output_bytes: DEFAULT_MAX_STEP_OUTPUT as u64,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    pub base_url: Option<String>,
    pub api_key: Option<ApiKey>,
    /// The model Settings offers first for this provider.
    pub default_model: Option<String>,
    /// The answer's length limit in tokens (default 4096 for Anthropic, whose API requires one,
    /// and 16384 for OpenAI-compatible servers).
    pub max_tokens: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    pub idle_timeout_secs: u64,
    pub max_retries: u32,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            idle_timeout_secs: 60,
            max_retries: 2,
        }
    }
}

/// A secret. Its `Debug` never shows it, so it cannot leak into a log by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// The longest idle timeout honoured (one day).
const MAX_IDLE_SECS: u64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the settings file {path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("the settings file {path} is not valid: {message}")]
    Invalid { path: String, message: String },
    #[error("default_model in the settings: {0}")]
    DefaultModel(String),
}

/// Why a price cannot be used.
pub fn price_problem(model: &str, price: &Price) -> Option<String> {
    if let Err(e) = model.parse::<ModelRef>() {
        return Some(format!("`{model}` is not a model: {e}"));
    }
    (!price.is_valid())
        .then(|| format!("the price of `{model}` must be a number of dollars, 0 or more"))
}

impl Settings {
    /// `~/.config/stepwise/settings.toml` on Linux (the platform's config folder elsewhere).
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("stepwise").join("settings.toml"))
    }

    /// The settings file the app and the CLI share: `STEPWISE_SETTINGS` if set, else
    /// [`Settings::default_path`].
    pub fn shared_path() -> Option<PathBuf> {
        std::env::var_os("STEPWISE_SETTINGS")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(Settings::default_path)
    }

    /// Reads the file; a missing file means the defaults (the demo model, no keys).
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => {
                return Err(SettingsError::Unreadable {
                    path: shown,
                    message: e.to_string(),
                });
            }
        };
        let settings: Settings = toml::from_str(&text).map_err(|e| SettingsError::Invalid {
            path: shown.clone(),
            message: e.message().to_string(),
        })?;
        if let Some(problem) = settings
            .prices
            .iter()
            .find_map(|(m, p)| price_problem(m, p))
        {
            return Err(SettingsError::Invalid {
                path: shown,
                message: format!("[prices]: {problem}"),
            });
        }
        for (name, entry) in &settings.mcp {
            let problem = if valid_server_name(name) {
                entry.problem()
            } else {
                Some("a server's name may have only letters, digits, - and _".to_string())
            };
            if let Some(problem) = problem {
                return Err(SettingsError::Invalid {
                    path: shown,
                    message: format!("[mcp.{name}]: {problem}"),
                });
            }
        }
        Ok(settings)
    }

    /// Applies the environment overrides, read through `var` (so tests need not touch the
    /// process environment).
    pub fn with_env(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        // Each provider names its variables once (`ProviderKind::env_vars`): the key, then the
        // address.
        for kind in ProviderKind::CONFIGURABLE {
            let [key_var, url_var] = kind.env_vars() else {
                continue;
            };
            let key = set(var(key_var));
            let url = set(var(url_var));
            if let Some(p) = self.provider_mut(kind) {
                if let Some(k) = key {
                    p.api_key = Some(ApiKey(k));
                }
                if let Some(u) = url {
                    p.base_url = Some(u);
                }
            }
        }
        if let Some(u) = set(var("STEPWISE_WEB_SEARCH_URL")) {
            self.tools.web_search_url = u;
        }
        self.cluster = ClusterSettings::with_env(self.cluster.take(), &var);
        self
    }

    /// The tools steps may enable, as these settings configure them. Stdio MCP servers start
    /// in `folder`: the settings file's folder, where a relative path in an entry points.
    pub fn tools(&self, folder: Option<&Path>) -> Tools {
        Tools::with_mcp_in(
            self.tools.clone(),
            self.mcp.clone(),
            folder.map(Path::to_path_buf),
        )
    }

    pub fn http_options(&self) -> HttpOptions {
        HttpOptions {
            // A day is "never" for a step; larger values would only risk overflow in timers.
            idle_timeout: Duration::from_secs(
                self.network.idle_timeout_secs.clamp(1, MAX_IDLE_SECS),
            ),
            retry: RetryPolicy {
                max_retries: self.network.max_retries,
                ..RetryPolicy::default()
            },
        }
    }

    pub fn default_model(&self) -> Result<Option<ModelRef>, SettingsError> {
        self.default_model
            .as_deref()
            .map(|m| {
                m.parse::<ModelRef>()
                    .map_err(|e| SettingsError::DefaultModel(e.to_string()))
            })
            .transpose()
    }

    /// The demo model plus every HTTP provider as these settings configure it. A provider with
    /// no key is still there: its first request fails with a clear `auth` error.
    pub fn providers(&self, demo: DemoModel) -> Providers {
        let http = self.http_options();
        let key = |p: &ProviderSettings| p.api_key.as_ref().map(|k| k.expose().to_string());
        let openai_like = |kind: ProviderKind, p: &ProviderSettings| {
            OpenAiProvider::new(self.base_url(kind), key(p), http.clone())
                .with_max_tokens(p.max_tokens.unwrap_or(OPENAI_MAX_TOKENS))
        };
        let anthropic = AnthropicProvider::new(
            self.base_url(ProviderKind::Anthropic),
            key(&self.anthropic),
            self.anthropic.max_tokens.unwrap_or(4096),
            http.clone(),
        );
        let mut providers =
            Providers::demo(demo).with(ProviderKind::Anthropic, Arc::new(anthropic));
        for kind in ProviderKind::CONFIGURABLE {
            if let (true, Some(p)) = (kind != ProviderKind::Anthropic, self.provider(kind)) {
                providers = providers.with(kind, Arc::new(openai_like(kind, p)));
            }
        }
        providers
    }

    /// What tokens cost: the shipped prices with the person's over them; the providers whose
    /// address is on this computer cost nothing.
    pub fn price_table(&self) -> PriceTable {
        let local = ProviderKind::CONFIGURABLE
            .into_iter()
            .filter(|k| crate::provider::on_this_computer(&self.base_url(*k)))
            .collect();
        PriceTable::new(&self.prices, local)
    }

    /// One provider's section of the settings (`None` for the demo model, which has none).
    pub fn provider(&self, kind: ProviderKind) -> Option<&ProviderSettings> {
        match kind {
            ProviderKind::OpenAi => Some(&self.openai),
            ProviderKind::Anthropic => Some(&self.anthropic),
            ProviderKind::Ollama => Some(&self.ollama),
            ProviderKind::LmStudio => Some(&self.lmstudio),
            ProviderKind::LlamaCpp => Some(&self.llamacpp),
            ProviderKind::Vllm => Some(&self.vllm),
            ProviderKind::Demo => None,
        }
    }

    pub fn provider_mut(&mut self, kind: ProviderKind) -> Option<&mut ProviderSettings> {
        match kind {
            ProviderKind::OpenAi => Some(&mut self.openai),
            ProviderKind::Anthropic => Some(&mut self.anthropic),
            ProviderKind::Ollama => Some(&mut self.ollama),
            ProviderKind::LmStudio => Some(&mut self.lmstudio),
            ProviderKind::LlamaCpp => Some(&mut self.llamacpp),
            ProviderKind::Vllm => Some(&mut self.vllm),
            ProviderKind::Demo => None,
        }
    }

    /// Where a provider's requests go: its base URL in these settings, or its usual address.
    pub fn base_url(&self, kind: ProviderKind) -> String {
        self.provider(kind)
            .and_then(|p| p.base_url.clone())
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| kind.default_base_url().to_string())
    }

    /// The per-step output limit in bytes.
    pub fn max_step_output(&self) -> usize {
        usize::try_from(self.limits.max_step_output_bytes.max(1)).unwrap_or(usize::MAX)
    }
}

/// Where each provider is and its key, for asking it what models it has.
impl crate::provider::models::Endpoints for Settings {
    fn base_url(&self, kind: ProviderKind) -> String {
        Settings::base_url(self, kind)
    }

    fn api_key(&self, kind: ProviderKind) -> Option<String> {
        self.provider(kind)
            .and_then(|p| p.api_key.as_ref())
            .map(|k| k.expose().trim().to_string())
            .filter(|k| !k.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_the_defaults() {
        let s = Settings::load(Path::new("/nonexistent/stepwise/settings.toml")).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.default_model().unwrap(), None);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let file: Settings = toml::from_str(
            "default_model = \"openai:m\"\n[openai]\nbase_url = \"http://a/v1\"\napi_key = \"file-key\"\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "OPENAI_API_KEY" => Some("env-key".to_string()),
            "ANTHROPIC_BASE_URL" => Some("http://b".to_string()),
            "OPENAI_BASE_URL" => Some("  ".to_string()),
            _ => None,
        };
        let s = file.with_env(env);
        assert_eq!(s.openai.api_key.as_ref().unwrap().expose(), "env-key");
        assert_eq!(
            s.openai.base_url.as_deref(),
            Some("http://a/v1"),
            "a blank variable changes nothing"
        );
        assert_eq!(s.anthropic.base_url.as_deref(), Some("http://b"));
        assert_eq!(s.default_model().unwrap().unwrap().to_string(), "openai:m");
    }

    #[test]
    fn a_huge_idle_timeout_is_clamped_not_overflowed() {
        let s: Settings =
            toml::from_str(&format!("[network]\nidle_timeout_secs = {}\n", u64::MAX)).unwrap();
        assert_eq!(
            s.http_options().idle_timeout,
            Duration::from_secs(MAX_IDLE_SECS)
        );
        let _ = s.providers(DemoModel::default());
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let mut s = Settings::default();
        s.openai.api_key = Some(ApiKey::new("sk-very-secret"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("stepwise-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("settings.toml");
        std::fs::write(&p, "[openai]\napi_kee = \"x\"\n").unwrap();
        let e = Settings::load(&p).unwrap_err();
        assert!(
            matches!(&e, SettingsError::Invalid { message, .. } if message.contains("api_kee")),
            "{e}"
        );
        std::fs::write(&p, "default_model = \"gpt\"\n").unwrap();
        assert!(matches!(
            Settings::load(&p).unwrap().default_model(),
            Err(SettingsError::DefaultModel(_))
        ));
        for (entry, says) in [
            ("[mcp.files]\nargs = [\"x\"]\n", "give a command"),
            (
                "[mcp.files]\ncommand = \"npx\"\nurl = \"https://a/mcp\"\n",
                "not both",
            ),
            ("[mcp.files]\nurl = \"ftp://a\"\n", "not an http"),
            ("[mcp.\"my files\"]\ncommand = \"npx\"\n", "only letters"),
            ("[mcp.files]\ncommand = \"npx\"\nargz = []\n", "argz"),
        ] {
            std::fs::write(&p, entry).unwrap();
            let e = Settings::load(&p).unwrap_err().to_string();
            assert!(e.contains(says), "{entry}: {e}");
        }
        std::fs::write(
            &p,
            "[mcp.files]\ncommand = \"npx\"\nargs = [\"-y\", \"server\"]\nenv = { TOKEN = \"t\" }\n\
             [tools]\nallow = [\"files.read\"]\n",
        )
        .unwrap();
        let s = Settings::load(&p).unwrap();
        assert_eq!(s.mcp["files"].args, ["-y", "server"]);
        assert_eq!(s.tools.allow, ["files.read"]);
        assert_eq!(s.tools.timeout_secs, 60, "the rest keeps its defaults");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_search_address_can_come_from_the_environment() {
        let s = Settings::default().with_env(|k| {
            (k == "STEPWISE_WEB_SEARCH_URL").then(|| "http://127.0.0.1:9/html/".to_string())
        });
        assert_eq!(s.tools.web_search_url, "http://127.0.0.1:9/html/");
        assert_eq!(
            Settings::default().tools.web_search_url,
            "https://html.duckduckgo.com/html/"
        );
    }
}
