//! The real desk (see `attention.rs`): the main window's title, and system notifications whose
//! click opens the run.
//!
//! Notifications go through `notify-rust` directly — the crate Tauri's notification plugin uses on
//! desktops — because the plugin drops the notification's handle, so a click on it cannot be
//! answered. Here the freedesktop `default` action (a click on the notification's body) is
//! declared and waited for on a thread of its own; it raises the window and asks the UI to open
//! the run (`OpenRun`). No notification service (a bare Xvfb session) costs a log line, nothing more.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime};
use tauri_specta::Event;

use crate::attention::{Desk, Notice};

/// Sent to the window when the person clicks a notification: show this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct OpenRun {
    pub run_id: String,
}

pub struct TauriDesk<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> TauriDesk<R> {
    pub fn new(app: AppHandle<R>) -> Self {
        TauriDesk { app }
    }
}

impl<R: Runtime> Desk for TauriDesk<R> {
    fn set_title(&self, title: &str) {
        if let Some(w) = self.app.get_webview_window("main")
            && let Err(e) = w.set_title(title)
        {
            tracing::warn!("cannot set the window title: {e}");
        }
    }

    fn notify(&self, notice: Notice) {
        let app = self.app.clone();
        // Showing talks to the session bus and waiting for a click blocks: a thread of its own.
        let spawned = std::thread::Builder::new()
            .name("stepwise-notice".into())
            .spawn(move || show(app, notice));
        if let Err(e) = spawned {
            tracing::warn!("cannot show a notification: {e}");
        }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn show<R: Runtime>(app: AppHandle<R>, notice: Notice) {
    let shown = notify_rust::Notification::new()
        .appname("Stepwise")
        .summary(&notice.title)
        .body(&notice.body)
        .icon(stepwise_engine::APP_IDENTIFIER)
        .action("default", "Open")
        .show();
    match shown {
        Ok(handle) => handle.wait_for_action(|action| {
            if action == "default" {
                open_run(&app, &notice.run_id.to_string());
            }
        }),
        Err(e) => tracing::info!("no notification shown ({e})"),
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn show<R: Runtime>(app: AppHandle<R>, notice: Notice) {
    // Elsewhere the system raises the app on a click; the window then shows the latest run.
    let _ = (app, notice);
}

/// Raises the window and asks it to show the run.
pub fn open_run<R: Runtime>(app: &AppHandle<R>, run_id: &str) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
    let event = OpenRun {
        run_id: run_id.to_string(),
    };
    if let Err(e) = event.emit(app) {
        tracing::warn!("cannot ask the window to open the run: {e}");
    }
}
