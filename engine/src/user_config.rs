//! The engine as the user's settings file and environment configure it: what the `stepwise`
//! command line and the cluster worker run with. (The app builds its own from the same file,
//! with the keys from the keychain: `src-tauri/src/state.rs`.)

use std::path::Path;

use crate::EngineConfig;
use crate::provider::{DemoModel, DemoPace};
use crate::settings::{Settings, SettingsError};

/// Why the settings cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UserConfigError {
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    DemoPace(String),
}

/// The settings file is `STEPWISE_SETTINGS` if set, else the user's
/// `~/.config/stepwise/settings.toml`; `OPENAI_API_KEY` and friends override it. The demo model's
/// pace comes from `STEPWISE_DEMO_FIRST_TOKEN_MS` and `STEPWISE_DEMO_WORD_MS`.
pub fn from_user_settings() -> Result<(Settings, EngineConfig), UserConfigError> {
    let pace = DemoPace::from_env().map_err(UserConfigError::DemoPace)?;
    let path = Settings::shared_path();
    let settings = match &path {
        Some(p) => Settings::load(p)?,
        None => Settings::default(),
    }
    .with_env(|k| std::env::var(k).ok());
    let config = EngineConfig {
        providers: settings.providers(DemoModel::new(pace)),
        tools: settings.tools(path.as_deref().and_then(Path::parent)),
        default_model: settings.default_model()?,
        sink: None,
        max_step_output: settings.max_step_output(),
        prices: settings.price_table(),
    };
    Ok((settings, config))
}
