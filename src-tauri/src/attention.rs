//! Telling the person when a run needs them or has ended while they look elsewhere: a desktop
//! notification when the window is not in front (clicking it opens that run), and the window's
//! title counting the runs going and waiting — so a run left waiting behind other windows is
//! never silently stuck.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use stepwise_engine::{Engine, EventKind, RunEvent, RunId, RunStatus};

/// One notification: what to say, and the run a click opens.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub run_id: RunId,
    pub title: String,
    pub body: String,
}

/// What the desktop does for attention. The app's is `desktop::TauriDesk`; tests record.
pub trait Desk: Send + Sync {
    fn set_title(&self, title: &str);
    fn notify(&self, notice: Notice);
}

/// A desk that does nothing (no window: tests that do not look).
pub struct Quiet;

impl Desk for Quiet {
    fn set_title(&self, _: &str) {}
    fn notify(&self, _: Notice) {}
}

pub struct Attention {
    engine: Engine,
    desk: Arc<dyn Desk>,
    /// The window has the focus: the person sees the run already.
    front: AtomicBool,
    enabled: AtomicBool,
    title: Mutex<String>,
}

impl Attention {
    pub fn new(engine: Engine, desk: Arc<dyn Desk>, enabled: bool) -> Self {
        Attention {
            engine,
            desk,
            front: AtomicBool::new(true),
            enabled: AtomicBool::new(enabled),
            title: Mutex::new(String::new()),
        }
    }

    /// A note the person must get whatever the notification setting says (it is about where
    /// Stepwise went, not about a run's progress).
    pub fn tell(&self, notice: Notice) {
        self.desk.notify(notice);
    }

    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    /// The window gained or lost the focus (hidden and minimized windows lose it).
    pub fn window_focused(&self, focused: bool) {
        self.front.store(focused, Ordering::Relaxed);
    }

    /// Every event the window is sent passes here.
    pub fn seen(&self, event: &RunEvent) {
        let notice = match &event.kind {
            EventKind::TextDelta { .. } => return,
            EventKind::ReviewRequested { path, .. } => Some(("Waiting for you", path.as_str())),
            EventKind::ToolApprovalRequested { path, .. } => {
                Some(("Waiting for you", path.as_str()))
            }
            EventKind::RunCompleted { .. } => Some(("Run finished", "")),
            EventKind::RunFailed { .. } => Some(("Run failed", "")),
            EventKind::RunStarted { .. }
            | EventKind::ReviewAnswered { .. }
            | EventKind::ToolApprovalAnswered { .. }
            | EventKind::RunCancelled { .. } => None,
            _ => return,
        };
        self.update_title();
        let Some((title, path)) = notice else { return };
        if self.front.load(Ordering::Relaxed) || !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let Some(run) = self.engine.get(event.run_id) else {
            return;
        };
        let workflow = &run.workflow_name;
        let body = match &event.kind {
            EventKind::ReviewRequested { .. } => {
                let step = run.step(path).map(|s| s.name.as_str()).unwrap_or(path);
                format!("“{workflow}”: “{step}” is ready for your review.")
            }
            EventKind::ToolApprovalRequested { call_id, .. } => {
                let tool = run
                    .step(path)
                    .and_then(|s| s.tool_calls.iter().rev().find(|c| c.call_id == *call_id))
                    .map(|c| c.title.clone())
                    .unwrap_or_default();
                format!("“{workflow}” asks before it goes on: {tool}")
            }
            EventKind::RunFailed { message, .. } => {
                let first = message.split(['\n', '.']).next().unwrap_or_default();
                format!("“{workflow}”: {first}.")
            }
            _ => format!("“{workflow}” is done."),
        };
        self.desk.notify(Notice {
            run_id: event.run_id,
            title: title.to_string(),
            body,
        });
    }

    fn update_title(&self) {
        let runs = self.engine.list();
        let going = runs
            .iter()
            .filter(|r| matches!(r.status, RunStatus::Pending | RunStatus::Running))
            .count();
        let waiting = runs
            .iter()
            .filter(|r| r.status == RunStatus::Waiting)
            .count();
        let title = window_title(going, waiting);
        let mut last = self.title.lock().unwrap_or_else(PoisonError::into_inner);
        if *last != title {
            self.desk.set_title(&title);
            *last = title;
        }
    }
}

/// "Stepwise", "Stepwise — 2 running", "Stepwise — 1 running · 1 waiting for you".
pub fn window_title(going: usize, waiting: usize) -> String {
    let mut parts = Vec::new();
    if going > 0 {
        parts.push(format!("{going} running"));
    }
    if waiting > 0 {
        parts.push(format!("{waiting} waiting for you"));
    }
    if parts.is_empty() {
        "Stepwise".into()
    } else {
        format!("Stepwise — {}", parts.join(" · "))
    }
}

#[cfg(test)]
mod tests {
    use super::window_title;

    #[test]
    fn the_title_counts_what_is_going_and_waiting() {
        assert_eq!(window_title(0, 0), "Stepwise");
        assert_eq!(window_title(2, 0), "Stepwise — 2 running");
        assert_eq!(
            window_title(1, 1),
            "Stepwise — 1 running · 1 waiting for you"
        );
        assert_eq!(window_title(0, 3), "Stepwise — 3 waiting for you");
    }
}
