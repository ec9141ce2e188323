//! Quitting with live runs: each is cancelled as `app_exit` and saved before the app ends.

use std::time::Duration;

use crate::support::*;
use stepwise_app::lifecycle::shutdown;
use stepwise_engine::{CancelReason, EventKind, RunStatus};
use stepwise_testkit::PATIENCE;

#[test]
fn app_exit_cancels_and_saves_every_live_run() {
    let t = app("exit", PACED, Duration::from_millis(16));
    let done = t.start_template("research-and-write", "finished before quitting");
    t.wait_end(&done);
    let live: Vec<String> = (0..3)
        .map(|i| t.start_template("long-story", &format!("story {i}")))
        .collect();
    for id in &live {
        t.wait_for(id, "the story's first words", |e| {
            matches!(e, EventKind::TextDelta { .. })
        });
    }
    let state = t.state();
    // The app's quit waits `EXIT_LIMIT` (two seconds); a busy machine may take longer, so the
    // limit here only guards against a hang. What is checked is that every run is saved as
    // cancelled by the exit.
    assert!(
        tauri::async_runtime::block_on(shutdown(&state, PATIENCE)),
        "saved before the deadline"
    );
    let store = state.store.as_ref().unwrap();
    for id in &live {
        let run = store.get_run(id.parse().unwrap()).unwrap().unwrap();
        assert_eq!(
            (run.status, run.cancel_reason),
            (RunStatus::Cancelled, Some(CancelReason::AppExit))
        );
        assert!(!run.steps[0].text.is_empty(), "the partial text is saved");
        let events = t.wait_end(id);
        assert!(matches!(
            events.last().unwrap().kind,
            EventKind::RunCancelled {
                reason: CancelReason::AppExit,
                ..
            }
        ));
    }
    let finished = store.get_run(done.parse().unwrap()).unwrap().unwrap();
    assert_eq!(
        finished.status,
        RunStatus::Completed,
        "finished runs are untouched"
    );
    let err = t
        .call("start_run", start_args("long-story", "late"))
        .unwrap_err();
    assert_eq!(err["kind"], "shutting_down");
}
