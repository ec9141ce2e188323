//! Reviews, notifications and continuing runs in the app (Tauri's mock runtime): the commands,
//! a run that waits across a restart of the app, and when a notification is asked for.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{INSTANT, TestApp, app_in, reviewed, temp_root};
use serde_json::json;
use stepwise_app::attention::{Desk, Notice};
use stepwise_app::window_events::on_window_event;
use stepwise_engine::{EventKind, RunSnapshot, RunStatus};

/// Records what the app asks of the desktop.
#[derive(Default)]
struct Recorded {
    notices: Mutex<Vec<Notice>>,
    titles: Mutex<Vec<String>>,
}

impl Desk for Recorded {
    fn set_title(&self, title: &str) {
        self.titles.lock().unwrap().push(title.to_string());
    }
    fn notify(&self, notice: Notice) {
        self.notices.lock().unwrap().push(notice);
    }
}

fn start(app: &TestApp) -> String {
    app.ok(
        "start_run",
        json!({ "workflow": reviewed(), "input": "tidal energy", "runId": null }),
    )
}

/// Waits until the run asks for a review.
fn wait_for_review(app: &TestApp, run_id: &str) {
    app.wait_for(run_id, "a review request", is_review);
}

fn is_review(e: &EventKind) -> bool {
    matches!(e, EventKind::ReviewRequested { .. })
}

fn focus(app: &TestApp, focused: bool) {
    let webview: &tauri::Webview<_> = app.window.as_ref();
    on_window_event(&webview.window(), &tauri::WindowEvent::Focused(focused));
}

#[test]
fn a_notification_is_asked_for_only_when_the_window_is_not_in_front() {
    let desk = Arc::new(Recorded::default());
    let app = app_in(temp_root("notify"), INSTANT, Duration::ZERO, desk.clone());

    // In front: the person sees it; no notification.
    let id = start(&app);
    wait_for_review(&app, &id);
    assert!(desk.notices.lock().unwrap().is_empty());
    assert_eq!(
        desk.titles.lock().unwrap().last().unwrap(),
        "Stepwise — 1 waiting for you"
    );
    app.approve(&id, "draft");
    app.wait_end(&id);
    assert!(desk.notices.lock().unwrap().is_empty());
    assert_eq!(desk.titles.lock().unwrap().last().unwrap(), "Stepwise");

    // Behind other windows (or hidden): the wait and the end are both announced, each naming
    // the run a click opens.
    focus(&app, false);
    let id = start(&app);
    wait_for_review(&app, &id);
    app.approve(&id, "draft");
    app.wait_end(&id);
    let notices = desk.notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_eq!(notices[0].title, "Waiting for you");
    assert!(notices[0].body.contains("“Draft” is ready for your review"));
    assert_eq!(notices[1].title, "Run finished");
    assert!(notices.iter().all(|n| n.run_id.to_string() == id));

    // Turned off in Settings: nothing more.
    let mut settings: serde_json::Value = app.ok("get_settings", json!({}));
    settings["notifications"] = json!(false);
    let update = json!({
        "default_model": settings["default_model"],
        "providers": [],
        "idle_timeout_secs": settings["idle_timeout_secs"],
        "notifications": false,
    });
    app.call("save_settings", json!({ "update": update }))
        .unwrap();
    let id = start(&app);
    wait_for_review(&app, &id);
    assert_eq!(desk.notices.lock().unwrap().len(), 2);
}

#[test]
fn a_run_waiting_when_the_app_quits_waits_again_after_a_restart() {
    let root = temp_root("restart");
    let quiet = || Arc::new(stepwise_app::attention::Quiet);
    let app = app_in(root.clone(), INSTANT, Duration::ZERO, quiet());
    let id = start(&app);
    wait_for_review(&app, &id);
    // A generous limit, not the app's two seconds: it only guards against a hang.
    let saved = tauri::async_runtime::block_on(stepwise_app::lifecycle::shutdown(
        &app.state(),
        stepwise_testkit::PATIENCE,
    ));
    assert!(saved);
    assert!(
        !app.events_of(&id).iter().any(|e| e.kind.is_terminal()),
        "a waiting run is not cancelled at a quit"
    );
    drop(app);

    let app = app_in(root, INSTANT, Duration::ZERO, quiet());
    let state = app.state();
    assert_eq!(
        tauri::async_runtime::block_on(async { state.revive_waiting() }),
        1
    );
    let run: RunSnapshot = app.ok("get_run", json!({ "runId": id }));
    assert_eq!(run.status, RunStatus::Waiting);
    let refused = app
        .call(
            "answer_review",
            json!({ "runId": id, "path": "draft", "answer": { "action": "send_back", "note": " " } }),
        )
        .unwrap_err();
    assert_eq!(refused["kind"], "review");
    app.approve(&id, "draft");
    let events = app.wait_end(&id);
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::RunCompleted { .. }
    ));
}

#[test]
fn a_cancelled_run_is_continued_from_a_step_and_both_show_the_link() {
    let app = app_in(
        temp_root("continue"),
        INSTANT,
        Duration::ZERO,
        Arc::new(stepwise_app::attention::Quiet),
    );
    let id = start(&app);
    wait_for_review(&app, &id);
    assert!(app.ok::<bool>("cancel_run", json!({ "runId": id })));
    app.wait_end(&id);
    let refused = app
        .call(
            "resume_run",
            json!({ "runId": id, "from": "email", "useToday": false }),
        )
        .unwrap_err();
    assert_eq!(refused["kind"], "resume");
    assert!(refused["detail"]["kind"] == "earlier_step_not_done");
    let new_id: String = app.ok(
        "resume_run",
        json!({ "runId": id, "from": "draft", "useToday": false }),
    );
    wait_for_review(&app, &new_id);
    app.approve(&new_id, "draft");
    app.wait_end(&new_id);
    app.flush_history();
    let new: RunSnapshot = app.ok("get_run", json!({ "runId": new_id }));
    assert_eq!(new.resumed_from.unwrap().run_id.to_string(), id);
    let old = app
        .state()
        .store
        .as_ref()
        .unwrap()
        .get_run(id.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(old.continued_in.len(), 1);
    assert_eq!(old.continued_in[0].to_string(), new_id);
}
