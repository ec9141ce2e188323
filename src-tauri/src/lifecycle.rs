//! Quitting: live runs are cancelled with reason `app_exit` (a run that only waits for a review
//! is left waiting instead) and saved before the process ends, waiting at most [`EXIT_LIMIT`]. Closing the last window quits, and so does a polite signal
//! (SIGTERM at log-out or shutdown, SIGINT from a terminal, SIGHUP when the terminal closes).

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
    // Watchers in other processes get the runs' last events, then the endpoint goes.
    state.stop_sharing(Duration::from_millis(200)).await;
    let saved = match &state.store {
        None => true,
        Some(store) => {
            let store = Arc::clone(store);
            let left = limit
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(100));
            // Saved, the runs left waiting for a review are let go for the next start.
            tokio::task::spawn_blocking(move || {
                store.flush(left).and_then(|()| store.release_waiting())
            })
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
        if let Some(state) = app.try_state::<Arc<AppState>>() {
            shutdown(&state, EXIT_LIMIT).await;
        }
        app.exit(code.unwrap_or(0));
    });
}

/// Turns the first polite termination signal into an ordinary quit, so runs are saved as
/// `app_exit` rather than found `interrupted` at the next launch. A second signal (Ctrl-C pressed
/// twice) ends the process at once, as people expect of a terminal.
pub fn quit_on_signal<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        let mut signals = match TerminationSignals::new() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for termination signals: {e}");
                return;
            }
        };
        let name = signals.next().await;
        tracing::info!(signal = name, "quitting on a signal");
        app.exit(0);
        let name = signals.next().await;
        tracing::warn!(signal = name, "second signal: quitting without waiting");
        std::process::exit(130);
    });
}

#[cfg(unix)]
struct TerminationSignals([tokio::signal::unix::Signal; 3]);

#[cfg(unix)]
impl TerminationSignals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self([
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
            signal(SignalKind::hangup())?,
        ]))
    }

    async fn next(&mut self) -> &'static str {
        let [term, int, hup] = &mut self.0;
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => "SIGHUP",
        }
    }
}

#[cfg(not(unix))]
struct TerminationSignals;

#[cfg(not(unix))]
impl TerminationSignals {
    fn new() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) -> &'static str {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        "Ctrl-C"
    }
}
