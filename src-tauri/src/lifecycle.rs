//! Quitting: live runs are cancelled with reason `app_exit` and saved before the process ends,
//! waiting at most [`EXIT_LIMIT`]. Closing the last window quits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stepwise_engine::CancelReason;
use tauri::{AppHandle, Manager, Runtime};

use crate::state::AppState;

pub const EXIT_LIMIT: Duration = Duration::from_secs(2);

/// Set once the app has started quitting, so the second exit request (ours) goes through.
#[derive(Default)]
pub struct Exiting(AtomicBool);

/// Cancels every live run as `app_exit` and waits until they are saved, within `limit`.
/// Returns whether everything was saved in time.
pub async fn shutdown(state: &AppState, limit: Duration) -> bool {
    let started = Instant::now();
    let live = state.engine.live_count();
    let cancelled = tokio::time::timeout(limit, state.engine.shutdown(CancelReason::AppExit))
        .await
        .is_ok();
    let saved = match &state.store {
        None => true,
        Some(store) => {
            let store = Arc::clone(store);
            let left = limit
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(100));
            tokio::task::spawn_blocking(move || store.flush(left))
                .await
                .is_ok_and(|r| r.is_ok())
        }
    };
    tracing::info!(
        live,
        cancelled,
        saved,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "shut down"
    );
    cancelled && saved
}

/// The app's event loop hook: holds the first exit request until runs are saved, then exits.
pub fn on_event<R: Runtime>(app: &AppHandle<R>, event: tauri::RunEvent) {
    let tauri::RunEvent::ExitRequested { api, code, .. } = event else {
        return;
    };
    let Some(exiting) = app.try_state::<Exiting>() else {
        return;
    };
    if exiting.0.swap(true, Ordering::SeqCst) {
        return; // our own exit, after saving
    }
    api.prevent_exit();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(state) = app.try_state::<AppState>() {
            shutdown(&state, EXIT_LIMIT).await;
        }
        app.exit(code.unwrap_or(0));
    });
}
