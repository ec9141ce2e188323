//! The system tray icon, shown where the desktop has a tray: its menu names the runs going, opens
//! the window and quits. Where there is none, nothing is shown and closing the window asks
//! first (`closing.rs`).
//!
//! On Linux the icon goes through libayatana-appindicator, which needs a StatusNotifierWatcher on
//! the session bus (the desktop's tray) to be seen, and which the process cannot survive loading
//! without: both are checked before the icon is made.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use stepwise_engine::{RunId, RunSummary};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::state::AppState;

const TRAY_ID: &str = "stepwise";
/// How often the menu's list of runs is brought up to date (only rebuilt when it changed).
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The tray icon's state, managed by the app when the icon was made.
#[derive(Default)]
pub struct Tray {
    shown: AtomicBool,
    /// The runs the menu lists now.
    listed: Mutex<Vec<(RunId, String)>>,
}

impl Tray {
    /// Whether the icon is on the desktop's tray.
    pub fn shown(&self) -> bool {
        self.shown.load(Ordering::Relaxed)
    }
}

/// Makes the tray icon if this desktop can show one; manages [`Tray`] either way.
pub fn install<R: Runtime>(app: &AppHandle<R>) {
    let tray = Tray::default();
    match desktop_has_a_tray() {
        Ok(()) => match build(app) {
            Ok(()) => {
                tray.shown.store(true, Ordering::Relaxed);
                tracing::info!("tray icon shown");
            }
            Err(e) => tracing::warn!("no tray icon: {e}"),
        },
        Err(why) => tracing::info!("no tray icon: {why}"),
    }
    let shown = tray.shown();
    app.manage(tray);
    if shown {
        keep_the_menu_current(app.clone());
    }
}

fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Stepwise")
        .menu(&menu(app, &[])?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => show_window(app),
            "quit" => app.exit(0), // quitting cancels and saves (lifecycle.rs)
            id => {
                if let Some(run) = id.strip_prefix("run:") {
                    crate::desktop::open_run(app, run);
                }
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Open Stepwise · the runs going · Quit Stepwise.
fn menu<R: Runtime>(app: &AppHandle<R>, runs: &[(RunId, String)]) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    menu.append(&entry(app, "open", "Open Stepwise", true)?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    if runs.is_empty() {
        menu.append(&entry(app, "none", "No runs going", false)?)?;
    }
    for (id, label) in runs {
        menu.append(&entry(app, format!("run:{id}"), label, true)?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&entry(app, "quit", "Quit Stepwise", true)?)?;
    Ok(menu)
}

/// One line of the menu (no keyboard shortcut); its id is what a click reports.
fn entry<R: Runtime>(
    app: &AppHandle<R>,
    id: impl Into<tauri::menu::MenuId>,
    text: impl AsRef<str>,
    enabled: bool,
) -> tauri::Result<MenuItem<R>> {
    MenuItem::with_id(app, id, text, enabled, None::<&str>)
}

/// What the menu says of a run going.
fn label(run: &RunSummary) -> String {
    let status = if run.status == stepwise_engine::RunStatus::Waiting {
        "waits for you"
    } else {
        "running"
    };
    format!("{} — {status}", run.workflow_name)
}

fn keep_the_menu_current<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(REFRESH_EVERY).await;
            let (Some(state), Some(tray)) =
                (app.try_state::<Arc<AppState>>(), app.try_state::<Tray>())
            else {
                continue;
            };
            let runs: Vec<(RunId, String)> = state
                .engine
                .list()
                .iter()
                .filter(|r| r.status.is_live())
                .map(|r| (r.run_id, label(r)))
                .collect();
            let mut listed = tray.listed.lock().unwrap_or_else(PoisonError::into_inner);
            if *listed == runs {
                continue;
            }
            if let (Some(icon), Ok(menu)) = (app.tray_by_id(TRAY_ID), menu(&app, &runs)) {
                let _ = icon.set_menu(Some(menu));
                let going = runs.len();
                let _ = icon.set_tooltip(Some(match going {
                    0 => "Stepwise".to_string(),
                    1 => "Stepwise — 1 run going".to_string(),
                    n => format!("Stepwise — {n} runs going"),
                }));
            }
            *listed = runs;
        }
    });
}

fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Why no tray icon can be shown here, if none can.
#[cfg(all(unix, not(target_os = "macos")))]
fn desktop_has_a_tray() -> Result<(), String> {
    const LIBRARIES: [&str; 2] = ["libayatana-appindicator3.so.1", "libappindicator3.so.1"];
    let folders = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
    ];
    let found = folders.iter().any(|f| {
        LIBRARIES
            .iter()
            .any(|l| std::path::Path::new(f).join(l).exists())
    });
    if !found {
        return Err("libayatana-appindicator3 is not installed".into());
    }
    let bus = zbus::blocking::Connection::session().map_err(|e| format!("no session bus: {e}"))?;
    let dbus = zbus::blocking::fdo::DBusProxy::new(&bus).map_err(|e| e.to_string())?;
    let name = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher")
        .map_err(|e| e.to_string())?;
    match dbus.name_has_owner(name) {
        Ok(true) => Ok(()),
        Ok(false) => Err("the desktop has no tray (no StatusNotifierWatcher)".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Windows and macOS always have a tray (the notification area, the menu bar).
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn desktop_has_a_tray() -> Result<(), String> {
    Ok(())
}
