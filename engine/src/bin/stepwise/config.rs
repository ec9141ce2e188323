//! Engine settings the CLI takes from its environment and the settings file.

use std::time::Duration;

use stepwise_engine::EngineConfig;
use stepwise_engine::provider::{DemoModel, DemoPace};
use stepwise_engine::settings::Settings;

/// The settings file is `STEPWISE_SETTINGS` if set, else the user's
/// `~/.config/stepwise/settings.toml`; `OPENAI_API_KEY` and friends override it.
/// `STEPWISE_DEMO_FIRST_TOKEN_MS` and `STEPWISE_DEMO_WORD_MS` set the demo model's pace
/// (default: 400 ms, then 33 ms a word; `0` for no waiting).
pub fn engine_config() -> Result<EngineConfig, String> {
    let mut pace = DemoPace::HUMAN;
    if let Some(ms) = env_ms("STEPWISE_DEMO_FIRST_TOKEN_MS")? {
        pace.first_token = ms;
    }
    if let Some(ms) = env_ms("STEPWISE_DEMO_WORD_MS")? {
        pace.per_word = ms;
    }
    let path = std::env::var_os("STEPWISE_SETTINGS")
        .map(Into::into)
        .or_else(Settings::default_path);
    let settings = match path {
        Some(p) => Settings::load(&p).map_err(|e| e.to_string())?,
        None => Settings::default(),
    }
    .with_env(|k| std::env::var(k).ok());
    Ok(EngineConfig {
        providers: settings
            .providers(DemoModel::new(pace))
            .map_err(|e| e.to_string())?,
        default_model: settings.default_model().map_err(|e| e.to_string())?,
        sink: None,
    })
}

fn env_ms(name: &str) -> Result<Option<Duration>, String> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| format!("{name} must be a whole number of milliseconds, not `{v}`")),
    }
}
