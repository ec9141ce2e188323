//! The About box: what this Stepwise is.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct AboutInfo {
    pub name: String,
    pub version: String,
    pub identifier: String,
    /// When the shipped prices were taken.
    pub prices_dated: String,
}

#[tauri::command]
#[specta::specta]
pub fn about() -> AboutInfo {
    AboutInfo {
        name: "Stepwise".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        identifier: stepwise_engine::APP_IDENTIFIER.into(),
        prices_dated: stepwise_engine::usage::DEFAULT_PRICES_DATE.to_string(),
    }
}
