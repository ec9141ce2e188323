//! The window's events the shell listens to. Here, not in `attention.rs`, because the hook
//! reaches the app's state (which owns the attention) and attention must not know the state.

use std::sync::Arc;

use tauri::Manager;

use crate::state::AppState;

/// The app's window event hook: the main window's focus says whether the person sees the runs;
/// closing it while runs go hides it or asks first (`closing.rs`).
pub fn on_window_event<R: tauri::Runtime>(window: &tauri::Window<R>, event: &tauri::WindowEvent) {
    if let tauri::WindowEvent::CloseRequested { api, .. } = event
        && window.label() == "main"
        && !crate::closing::close_requested(window)
    {
        api.prevent_close();
    }
    if let tauri::WindowEvent::Focused(focused) = event
        && window.label() == "main"
        && let Some(state) = window.try_state::<Arc<AppState>>()
    {
        state.attention.window_focused(*focused);
    }
}
