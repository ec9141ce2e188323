//! Engine settings the CLI takes from its environment and the settings file.

use stepwise_engine::EngineConfig;
use stepwise_engine::provider::{DemoModel, DemoPace};
use stepwise_engine::settings::Settings;

/// The settings file is `STEPWISE_SETTINGS` if set, else the user's
/// `~/.config/stepwise/settings.toml`; `OPENAI_API_KEY` and friends override it. The demo model's
/// pace comes from `STEPWISE_DEMO_FIRST_TOKEN_MS` and `STEPWISE_DEMO_WORD_MS`.
pub fn engine_config() -> Result<EngineConfig, String> {
    let pace = DemoPace::from_env()?;
    let path = Settings::shared_path();
    let settings = match &path {
        Some(p) => Settings::load(p).map_err(|e| e.to_string())?,
        None => Settings::default(),
    }
    .with_env(|k| std::env::var(k).ok());
    Ok(EngineConfig {
        providers: settings.providers(DemoModel::new(pace)),
        tools: settings.tools(path.as_deref().and_then(std::path::Path::parent)),
        default_model: settings.default_model().map_err(|e| e.to_string())?,
        sink: None,
        max_step_output: settings.max_step_output(),
        prices: settings.price_table(),
    })
}
