//! The Stepwise desktop shell: a thin Tauri layer over `stepwise-engine`.
//!
//! ```text
//! webview ──command──▶ commands/ ──▶ engine (runs) / store (history) / workflows / secrets
//!    ▲                                   │ events
//!    └──── `run-update` ◀── bridge/ ◀────┘ (coalesced, folded for rejoining)
//! ```
//! Nothing here runs a workflow; `state.rs` wires the parts, `lifecycle.rs` saves on quit.

pub mod attention;
mod bindings;
pub mod bridge;
pub mod closing;
pub mod cluster;
pub mod cluster_runs;
pub mod commands;
pub mod desktop;
pub mod error;
pub mod lifecycle;
mod logging;
pub mod others;
pub mod paths;
pub mod secrets;
pub mod sharing;
pub mod state;
pub mod tray;
pub mod window_events;
pub mod workflows;

pub use bindings::{builder, export_bindings};

use std::process::ExitCode;
use std::sync::Arc;

use tauri::Manager;
use tauri_specta::Event;

use bridge::{Emit, RunUpdate};
use lifecycle::Exiting;
use paths::AppPaths;
use state::{AppState, StateOptions};

/// Builds and runs the desktop app until it quits.
pub fn run() -> ExitCode {
    let specta = builder::<tauri::Wry>();
    // In a source checkout, keep the UI's bindings in step with the Rust types.
    #[cfg(debug_assertions)]
    {
        let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src");
        if ui.is_dir()
            && let Err(e) = export_bindings(&ui.join("bindings.ts"))
        {
            eprintln!("stepwise: could not export the TypeScript bindings: {e}");
        }
    }
    let handler = specta.invoke_handler();
    let app = tauri::Builder::default()
        // First plugin: a second launch focuses the running window instead of starting again.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }))
        .invoke_handler(handler)
        .on_window_event(window_events::on_window_event)
        .setup(move |app| {
            specta.mount_events(app);
            let path = app.path();
            let config_dir = path.app_config_dir()?;
            let paths = AppPaths {
                settings_file: paths::shared_settings_file(
                    &config_dir,
                    stepwise_engine::settings::Settings::shared_path(),
                ),
                data_dir: path.app_data_dir()?,
                config_dir,
                log_dir: path.app_log_dir()?,
            };
            app.manage(logging::init(&paths.log_dir));
            let handle = app.handle().clone();
            let emit: Emit = Arc::new(move |update: RunUpdate| {
                if let Err(e) = update.emit(&handle) {
                    tracing::error!("cannot send a run update to the window: {e}");
                }
            });
            let desk = Arc::new(desktop::TauriDesk::new(app.handle().clone()));
            let options = StateOptions::desktop(&paths, desk);
            let state = Arc::new(AppState::new(paths, emit, options));
            app.manage(state.clone());
            app.manage(Exiting::default());
            let quitting = app.handle().clone();
            state.on_quit(move || quitting.exit(0));
            sharing::share(&state);
            tray::install(app.handle());
            // Runs left waiting for a review at the last quit wait again, ready to answer. It
            // reads the history, so on a blocking thread (§1), which is inside the runtime.
            // Runs sent to the cluster that went on while the app was closed are followed again.
            tauri::async_runtime::spawn_blocking(move || {
                let revived = state.revive_waiting();
                tracing::info!(revived, "waiting runs taken up");
                let followed = cluster::follow_again(&state);
                tracing::info!(followed, "cluster runs followed again");
            });
            lifecycle::quit_on_signal(app.handle().clone());
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => {
            app.run(lifecycle::on_event);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stepwise: cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}
