//! Settings, API keys and the connection test. No response ever carries a key: only whether one
//! is set, and where keys are kept.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use stepwise_engine::ProviderKind;
use stepwise_engine::model_ref::ProviderPreset;
use stepwise_engine::provider::{Chunk, ModelRequest};
use stepwise_engine::settings::ProviderSettings;
use tauri::State;

use super::{blocking, effective_settings};
use crate::error::AppError;
use crate::secrets::{KeyStorage, origin_of};
use crate::state::{AppState, HistoryStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SettingsView {
    /// Model for steps that name none: `demo`, `openai:NAME`, …
    pub default_model: String,
    /// Every provider a person can set up, in the order to show them (the engine's presets).
    pub providers: Vec<ProviderView>,
    pub idle_timeout_secs: u32,
    pub key_storage: KeyStorage,
    /// A problem with how keys are kept (for example a key file others could read).
    pub key_warning: Option<String>,
    pub history: HistoryStatus,
    /// Desktop notifications when a run ends or waits for you while the window is behind others.
    pub notifications: bool,
    /// Closing the window while runs go hides it to the tray (where the desktop has one).
    pub keep_running_in_tray: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProviderView {
    /// What it is, its usual address, whether it takes a key.
    pub preset: ProviderPreset,
    /// Empty: the provider's usual address.
    pub base_url: String,
    pub default_model: String,
    pub has_key: bool,
    /// The key (or base URL) comes from an environment variable, which wins over Settings.
    pub from_environment: bool,
    /// The saved key belongs to another address than the base URL now set (it is not sent
    /// there): the address it was saved for.
    pub key_saved_for: Option<String>,
}

/// What Settings can change. Keys are set separately, write-only (`set_api_key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SettingsUpdate {
    pub default_model: String,
    /// The providers to change; one left out stays as it was.
    pub providers: Vec<ProviderUpdate>,
    pub idle_timeout_secs: u32,
    /// Desktop notifications on or off; left as they are when absent.
    #[serde(default)]
    pub notifications: Option<bool>,
    /// Closing the window keeps runs going in the tray, or asks; left as it is when absent.
    #[serde(default)]
    pub keep_running_in_tray: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProviderUpdate {
    pub kind: ProviderKind,
    pub base_url: String,
    pub default_model: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ConnectionReport {
    pub ok: bool,
    /// What happened, in words for a person.
    pub message: String,
    #[specta(type = Option<u32>)]
    pub latency_ms: Option<u64>,
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings(state: State<'_, Arc<AppState>>) -> Result<SettingsView, AppError> {
    blocking(&state, |s| Ok(view(s))).await
}

fn view(state: &AppState) -> SettingsView {
    let saved = state.settings().clone();
    let keys = state.keys();
    let effective = keys.effective;
    let env = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let none = ProviderSettings::default();
    let provider = |kind: ProviderKind| {
        let saved = saved.provider(kind).unwrap_or(&none);
        ProviderView {
            preset: kind.preset(),
            base_url: saved.base_url.clone().unwrap_or_default(),
            default_model: saved.default_model.clone().unwrap_or_default(),
            has_key: effective
                .provider(kind)
                .is_some_and(|p| p.api_key.is_some()),
            from_environment: kind.env_vars().iter().any(|v| env(v)),
            key_saved_for: keys
                .saved_elsewhere
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, origin)| origin.clone()),
        }
    };
    SettingsView {
        default_model: saved.default_model.clone().unwrap_or_else(|| "demo".into()),
        providers: ProviderKind::CONFIGURABLE.map(provider).to_vec(),
        // The limit in force (a setting past a day counts as a day), never a truncated number.
        idle_timeout_secs: u32::try_from(saved.http_options().idle_timeout.as_secs())
            .unwrap_or(u32::MAX),
        notifications: saved.notifications.enabled,
        keep_running_in_tray: saved.window.keep_running_in_tray,
        key_storage: state.secrets.storage(),
        key_warning: state.secrets.warning(),
        history: state.history_status(),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn save_settings(
    state: State<'_, Arc<AppState>>,
    update: SettingsUpdate,
) -> Result<SettingsView, AppError> {
    blocking(&state, move |s| save(s, update)).await
}

fn save(state: &AppState, update: SettingsUpdate) -> Result<SettingsView, AppError> {
    let default_model = update.default_model.trim().to_string();
    default_model
        .parse::<stepwise_engine::ModelRef>()
        .map_err(|e| AppError::Settings(format!("Default model: {e}")))?;
    if update.idle_timeout_secs == 0 {
        return Err(AppError::Settings(
            "The idle timeout must be at least 1 second".into(),
        ));
    }
    let mut s = state.settings().clone();
    s.default_model = Some(default_model);
    for u in &update.providers {
        let Some(p) = s.provider_mut(u.kind) else {
            return Err(AppError::Settings(format!(
                "The {} model has no settings to change",
                u.kind.label()
            )));
        };
        p.base_url = Some(u.base_url.trim().to_string()).filter(|v| !v.is_empty());
        p.default_model = Some(u.default_model.trim().to_string()).filter(|v| !v.is_empty());
    }
    s.network.idle_timeout_secs = u64::from(update.idle_timeout_secs);
    if let Some(on) = update.keep_running_in_tray {
        s.window.keep_running_in_tray = on;
    }
    if let Some(on) = update.notifications {
        s.notifications.enabled = on;
    }
    state.save_settings(s)?;
    Ok(view(state))
}

/// Stores a key (keychain, or the private file where there is none) and says where. The key is
/// tied to the address it is for: `base_url` as typed in Settings next to it (empty: the
/// provider's usual address), or the saved one when absent. It is sent nowhere else.
#[tauri::command]
#[specta::specta]
pub async fn set_api_key(
    state: State<'_, Arc<AppState>>,
    provider: ProviderKind,
    key: String,
    base_url: Option<String>,
) -> Result<KeyStorage, AppError> {
    if provider == ProviderKind::Demo {
        return Err(AppError::Settings("The demo model needs no key".into()));
    }
    blocking(&state, move |s| {
        let mut settings = s.settings().clone();
        if let (Some(typed), Some(p)) = (base_url, settings.provider_mut(provider)) {
            p.base_url = Some(typed.trim().to_string()).filter(|u| !u.is_empty());
        }
        let origin = origin_of(&settings.base_url(provider));
        let storage = s.secrets.set(provider, &key, origin)?;
        s.apply_settings()?;
        tracing::info!(provider = provider.prefix(), ?storage, "API key set");
        Ok(storage)
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn clear_api_key(
    state: State<'_, Arc<AppState>>,
    provider: ProviderKind,
) -> Result<(), AppError> {
    blocking(&state, move |s| {
        s.secrets.clear(provider)?;
        s.apply_settings()?;
        tracing::info!(provider = provider.prefix(), "API key cleared");
        Ok(())
    })
    .await
}

/// Asks the provider for a one-word answer and reports, in plain words, whether it came.
#[tauri::command]
#[specta::specta]
pub async fn test_connection(
    state: State<'_, Arc<AppState>>,
    provider: ProviderKind,
) -> Result<ConnectionReport, AppError> {
    if provider == ProviderKind::Demo {
        return Ok(ConnectionReport {
            ok: true,
            message: "The demo model works offline.".into(),
            latency_ms: Some(0),
        });
    }
    let settings = effective_settings(&state).await?;
    let configured = settings
        .provider(provider)
        .and_then(|p| p.default_model.clone());
    let model = configured.unwrap_or_else(|| provider.example_model().to_string());
    let model_ref = format!("{}:{model}", provider.prefix())
        .parse::<stepwise_engine::ModelRef>()
        .map_err(|e| AppError::Settings(e.to_string()))?;
    let providers = settings.providers(state.demo().clone());
    let p = providers
        .resolve(&model_ref)
        .map_err(|e| AppError::Settings(e.message))?;
    let request = ModelRequest::new(
        model_ref,
        "Reply with the single word OK.".into(),
        "Connection test".into(),
    );
    let started = Instant::now();
    let mut stream = p.stream(request);
    // The first piece of text is proof enough; dropping the stream closes the connection.
    let first = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stream.next().await {
                Some(Ok(Chunk::Text(_) | Chunk::ToolCall(_) | Chunk::ToolCallBytes(_))) | None => {
                    return Ok(());
                }
                Some(Ok(Chunk::Usage(_))) => {}
                Some(Err(e)) => return Err(e),
            }
        }
    })
    .await;
    let latency = started.elapsed().as_millis() as u64;
    Ok(match first {
        Ok(Ok(())) => ConnectionReport {
            ok: true,
            message: format!(
                "Connected: {model} answered in {:.1} s.",
                latency as f64 / 1000.0
            ),
            latency_ms: Some(latency),
        },
        Ok(Err(e)) => ConnectionReport {
            ok: false,
            message: e.message,
            latency_ms: None,
        },
        Err(_) => ConnectionReport {
            ok: false,
            message: "No answer within 30 s. Check the address and try again.".into(),
            latency_ms: None,
        },
    })
}
