//! Quitting with live runs: each is cancelled as `app_exit` and saved before the app ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use stepwise_app::lifecycle::{EXIT_LIMIT, shutdown};
use stepwise_engine::{CancelReason, EventKind, RunStatus};
use support::*;

#[test]
fn app_exit_cancels_and_saves_every_live_run() {
    let t = app("exit", PACED, Duration::from_millis(16));
    let done = t.start_template("research-and-write", "finished before quitting");
    t.wait_end(&done);
    let live: Vec<String> = (0..3)
        .map(|i| t.start_template("long-story", &format!("story {i}")))
        .collect();
    for id in &live {
        while !t
            .events_of(id)
            .iter()
            .any(|e| matches!(e.kind, EventKind::TextDelta { .. }))
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let state = t.state();
    assert!(
        tauri::async_runtime::block_on(shutdown(&state, EXIT_LIMIT)),
        "saved within the limit"
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
