//! The commands the webview may call (each allowed by name in the capabilities). They translate
//! between IPC and the engine; the work happens in the engine, the store and the bridge.

pub mod about;
pub mod cluster;
pub mod costs;
pub mod models;
pub mod review;
pub mod runs;
pub mod settings;
pub mod tools;
pub mod window;
pub mod workflows;

use std::sync::Arc;

use stepwise_engine::RunId;

use crate::error::AppError;
use crate::state::AppState;

/// Runs `work` on a thread meant for blocking (SQLite, the keychain, files): never on the
/// window's main thread, where it would freeze the window, nor on the async workers that
/// stream runs. Every command that touches those goes through here.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(&AppState) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let state = Arc::clone(state);
    tauri::async_runtime::spawn_blocking(move || work(&state))
        .await
        .map_err(|e| AppError::Internal(format!("a background task failed: {e}")))?
}

/// The settings as runs use them (keys from the keychain and the environment included), read on
/// a blocking thread: what talks to a provider starts from here.
pub(crate) async fn effective_settings(
    state: &Arc<AppState>,
) -> Result<stepwise_engine::settings::Settings, AppError> {
    blocking(state, |s| Ok(s.effective_settings())).await
}

/// Run ids cross IPC as strings.
pub(crate) fn parse_run_id(text: &str) -> Result<RunId, AppError> {
    text.trim()
        .parse()
        .map_err(|_| AppError::InvalidRunId(text.to_string()))
}
