//! What the window asks of the app itself.

use std::sync::Arc;

use tauri::State;

use crate::state::AppState;

/// Quits: every live run is cancelled and saved first (`lifecycle.rs`), as at any quit. The
/// window calls it when the person chose "Stop them and quit".
#[tauri::command]
#[specta::specta]
pub fn quit_app(state: State<'_, Arc<AppState>>) {
    state.quit();
}
