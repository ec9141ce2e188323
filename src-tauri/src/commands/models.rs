//! The model picker and the provider cards: which models each provider offers and whether it can
//! be used now (the engine asks each, `provider::models`). Nothing found is a state, never an
//! error.

use std::sync::Arc;

use stepwise_engine::ProviderKind;
use stepwise_engine::provider::models::{ProviderModels, provider_models, survey};
use tauri::State;

use super::effective_settings;
use crate::error::AppError;
use crate::state::AppState;

/// Every provider, asked at once, with the keys Settings hold (which never leave the backend).
#[tauri::command]
#[specta::specta]
pub async fn list_models(state: State<'_, Arc<AppState>>) -> Result<Vec<ProviderModels>, AppError> {
    let settings = effective_settings(&state).await?;
    Ok(survey(&settings).await)
}

/// One provider again (after its card was edited, or its Test button).
#[tauri::command]
#[specta::specta]
pub async fn provider_state(
    state: State<'_, Arc<AppState>>,
    provider: ProviderKind,
) -> Result<ProviderModels, AppError> {
    if provider == ProviderKind::Demo {
        return Err(AppError::Settings("The demo model needs no setting".into()));
    }
    let settings = effective_settings(&state).await?;
    Ok(provider_models(&settings, provider).await)
}
