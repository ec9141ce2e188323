//! Closing the window is not quitting while runs go: with a tray on the desktop (and the setting
//! on) the window hides and the runs go on — the tray shows them, opens the window and quits;
//! without one the window asks first ("2 runs are going. Stop them and quit?"). With no run
//! going, closing quits as it always did (`lifecycle.rs` saves on the way out).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tauri::{Manager, Runtime};
use tauri_specta::Event;

use crate::attention::Notice;
use crate::state::AppState;

/// What closing the main window does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnClose {
    /// Nothing goes: the window closes and the app quits.
    Quit,
    /// The window hides; the runs go on; the tray brings it back.
    HideToTray,
    /// The window stays and asks whether to stop the runs and quit.
    Ask { runs: usize },
}

/// `live` runs of this app going (other processes' runs are theirs to keep), the person's
/// setting, and whether the desktop shows a tray.
pub fn on_close(live: usize, keep_in_tray: bool, tray: bool) -> OnClose {
    match (live, keep_in_tray && tray) {
        (0, _) => OnClose::Quit,
        (_, true) => OnClose::HideToTray,
        (runs, false) => OnClose::Ask { runs },
    }
}

/// Sent to the window when it should ask before quitting (`Ask`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct CloseAsked {
    pub runs: u32,
}

/// The main window's close request, decided. Returns whether the close goes ahead.
pub fn close_requested<R: Runtime>(window: &tauri::Window<R>) -> bool {
    let Some(state) = window.try_state::<Arc<AppState>>() else {
        return true;
    };
    let live = state.engine.live_count();
    let keep = state.settings().window.keep_running_in_tray;
    let tray = window
        .try_state::<crate::tray::Tray>()
        .is_some_and(|t| t.shown());
    match on_close(live, keep, tray) {
        OnClose::Quit => true,
        OnClose::HideToTray => {
            let _ = window.hide();
            tell_once_about_the_tray(&state, live);
            false
        }
        OnClose::Ask { runs } => {
            let _ = CloseAsked { runs: runs as u32 }.emit(window.app_handle());
            false
        }
    }
}

/// The first time the window hides to the tray, a note says where it went.
fn tell_once_about_the_tray(state: &AppState, live: usize) {
    let marker = state.paths.data_dir.join("told-about-the-tray");
    if marker.exists() {
        return;
    }
    let runs = if live == 1 {
        "1 run goes".to_string()
    } else {
        format!("{live} runs go")
    };
    // A click on the note opens the run that goes (the first, if several do).
    let Some(going) = state.engine.list().into_iter().find(|r| r.status.is_live()) else {
        return;
    };
    state.attention.tell(Notice {
        run_id: going.run_id,
        title: "Stepwise is still running".into(),
        body: format!(
            "{runs} on in the background. Stepwise's icon in the tray opens the window again, \
             and quits."
        ),
    });
    let _ = std::fs::create_dir_all(&state.paths.data_dir);
    let _ = std::fs::write(marker, b"");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_quits_only_when_nothing_goes_or_asks_first() {
        assert_eq!(on_close(0, true, true), OnClose::Quit);
        assert_eq!(on_close(0, false, false), OnClose::Quit);
        assert_eq!(on_close(2, true, true), OnClose::HideToTray);
        // No tray on this desktop, or the person turned it off: ask, never stop runs unasked.
        assert_eq!(on_close(2, true, false), OnClose::Ask { runs: 2 });
        assert_eq!(on_close(1, false, true), OnClose::Ask { runs: 1 });
    }
}
