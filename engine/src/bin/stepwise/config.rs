//! Engine settings the CLI takes from its environment and the settings file.

use stepwise_engine::EngineConfig;
use stepwise_engine::settings::Settings;

/// See `stepwise_engine::user_config`.
pub fn engine_config() -> Result<EngineConfig, String> {
    stepwise_engine::user_config::from_user_settings()
        .map(|(_, config)| config)
        .map_err(|e| e.to_string())
}

/// The settings file as the environment overrides it (`[cluster]` for cluster runs).
pub fn settings() -> Result<Settings, String> {
    stepwise_engine::user_config::from_user_settings()
        .map(|(settings, _)| settings)
        .map_err(|e| e.to_string())
}
