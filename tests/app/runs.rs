//! Runs through IPC on the mock runtime: events in order with no gap, coalescing rules, cancel,
//! joining a live run, idempotent start.

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use stepwise_engine::{EventKind, RunEvent, RunSnapshot, RunStatus};
use stepwise_testkit::{PATIENCE, eventually};

/// Applies updates in order to a fresh snapshot: every one must start right after the last.
fn fold(run_id: &str, events: &[RunEvent]) -> RunSnapshot {
    let mut snap = RunSnapshot::new(run_id.parse().unwrap());
    for e in events {
        assert!(
            snap.apply(e),
            "update {}..={} does not follow {}",
            e.first_seq(),
            e.seq,
            snap.last_seq
        );
    }
    snap
}

#[test]
fn updates_arrive_in_order_with_no_gap_and_rebuild_the_run() {
    let t = app("order", PACED, Duration::from_millis(16));
    let id = t.start_template("research-and-write", "tidal energy");
    let events = t.wait_end(&id);
    let folded = fold(&id, &events);
    let snap: RunSnapshot = t.ok("get_run", json!({ "runId": id }));
    assert_eq!(folded, snap, "what the webview was sent is the run");
    assert_eq!(snap.status, RunStatus::Completed);
    assert!(matches!(events[0].kind, EventKind::RunStarted { .. }));
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::RunCompleted { .. }
    ));
}

#[test]
fn coalescing_merges_deltas_but_never_across_a_step_or_the_end() {
    let t = app("coalesce", PACED, Duration::from_millis(16));
    let id = t.start_template("meeting-notes", "Q3 planning");
    let events = t.wait_end(&id);
    fold(&id, &events);
    let last_seq = events.last().unwrap().seq;
    assert!(
        (events.len() as u64) < last_seq / 2,
        "{} updates for {last_seq} events: not coalesced",
        events.len()
    );
    // Each merged delta is one step's text: the step that started last and has not completed.
    let mut current: Option<&str> = None;
    for e in &events {
        match &e.kind {
            EventKind::StepStarted { step } => current = Some(&step.path),
            EventKind::StepCompleted { path, .. } => {
                assert_eq!(current, Some(path.as_str()));
                current = None;
            }
            EventKind::TextDelta { path, .. } => assert_eq!(current, Some(&**path)),
            _ => {}
        }
    }
    let merged = events.iter().filter(|e| e.first_seq.is_some()).count();
    assert!(merged > 0);
}

#[test]
fn without_a_window_every_event_is_forwarded_as_it_is() {
    let t = app("nowindow", INSTANT, Duration::ZERO);
    let id = t.start_template("research-and-write", "bees");
    let events = t.wait_end(&id);
    fold(&id, &events);
    assert_eq!(events.len() as u64, events.last().unwrap().seq);
    assert!(events.iter().all(|e| e.first_seq.is_none()));
}

#[test]
fn cancel_through_ipc_stops_the_run_and_run_cancelled_is_last() {
    let t = app("cancel", PACED, Duration::from_millis(16));
    let id = t.start_template("long-story", "a dragon who learns to code");
    t.wait_for(&id, "the story's first words", |e| {
        matches!(e, EventKind::TextDelta { .. })
    });
    assert!(t.ok::<bool>("cancel_run", json!({ "runId": id })));
    let events = t.wait_end(&id);
    let EventKind::RunCancelled { running, .. } = &events.last().unwrap().kind else {
        panic!()
    };
    let partial_output = &running[0].text;
    let shown = t.shown_text(&id);
    assert_eq!(*partial_output, shown, "the kept text is what was shown");
    // The bridge lets go of a run when its forwarding task returns: from then on nothing more
    // can be sent, so whatever came after RunCancelled would be here by now.
    let run_id = id.parse().unwrap();
    eventually(PATIENCE, "the bridge to let go of the run", || {
        t.state().bridge.snapshot(run_id).is_none()
    });
    assert_eq!(
        t.events_of(&id).len(),
        events.len(),
        "nothing after RunCancelled"
    );
    assert!(
        !t.ok::<bool>("cancel_run", json!({ "runId": id })),
        "second cancel"
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert!(
        !t.ok::<bool>("cancel_run", json!({ "runId": unknown })),
        "unknown run"
    );
    let err = t
        .call("cancel_run", json!({ "runId": "nonsense" }))
        .unwrap_err();
    assert_eq!(err["kind"], "invalid_run_id");
    let snap: RunSnapshot = t.ok("get_run", json!({ "runId": id }));
    assert_eq!(snap.status, RunStatus::Cancelled);
}

#[test]
fn joining_a_live_run_mid_stream_yields_the_full_text_exactly_once() {
    let t = app("join", PACED, Duration::from_millis(16));
    let id = t.start_template("long-story", "a lighthouse keeper");
    eventually(PATIENCE, "ten updates", || t.events_of(&id).len() >= 10);
    // A webview that reloads: snapshot first, then the updates after it.
    let snap: RunSnapshot = t.ok("get_run", json!({ "runId": id }));
    assert!(snap.last_seq > 0 && snap.status.is_live());
    let events = t.wait_end(&id);
    let mut joined = snap.clone();
    for e in events.iter().filter(|e| e.seq > snap.last_seq) {
        assert!(
            joined.apply(e),
            "the first update after the snapshot starts right after it"
        );
    }
    let full = fold(&id, &events);
    assert_eq!(joined, full);
    assert!(joined.steps[0].text.len() > 1000);
}

#[test]
fn starting_again_with_the_same_id_starts_nothing_new() {
    let t = app("idempotent", PACED, Duration::from_millis(16));
    let wf = stepwise_engine::workflow::templates::get("long-story")
        .unwrap()
        .workflow;
    let run_id = uuid::Uuid::new_v4().to_string();
    let args = json!({ "workflow": wf, "input": "x", "runId": run_id });
    let a: String = t.ok("start_run", args.clone());
    let b: String = t.ok("start_run", args);
    assert_eq!((a.as_str(), b.as_str()), (run_id.as_str(), run_id.as_str()));
    assert!(t.ok::<bool>("cancel_run", json!({ "runId": run_id })));
    let events = t.wait_end(&run_id);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::RunStarted { .. }))
            .count(),
        1
    );
    fold(&run_id, &events);
}

#[test]
fn list_runs_shows_live_runs_then_history() {
    let t = app("list", PACED, Duration::from_millis(16));
    let done = t.start_template("research-and-write", "finished topic");
    t.wait_end(&done);
    let live = t.start_template("long-story", "still going");
    let list: Value = t.ok("list_runs", json!({ "filter": {} }));
    let ids: Vec<&str> = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [live.as_str(), done.as_str()]);
    assert_eq!(list["history"]["available"], true);
    let found: Value = t.ok("list_runs", json!({ "filter": { "search": "finished" } }));
    assert_eq!(found["runs"].as_array().unwrap().len(), 1);
    t.ok::<bool>("cancel_run", json!({ "runId": live }));
}

/// A long session keeps no finished run's text in the bridge, and only recent ones in the engine;
/// a finished run still reads back whole.
#[test]
fn finished_runs_leave_the_bridge_and_the_engine_keeps_only_recent_ones() {
    let t = app("release", INSTANT, Duration::ZERO);
    let ids: Vec<String> = (0..40)
        .map(|i| {
            let id = t.start_template("meeting-notes", &format!("meeting {i}"));
            t.wait_end(&id);
            id
        })
        .collect();
    let parse = |id: &str| id.parse::<stepwise_engine::RunId>().unwrap();
    let state = t.state();
    // The forwarding task lets go right after the terminal event.
    eventually(
        PATIENCE,
        "the bridge to let go of every finished run",
        || {
            ids.iter()
                .all(|id| state.bridge.snapshot(parse(id)).is_none())
        },
    );
    assert!(state.engine.list().len() <= stepwise_engine::engine::RETAINED_FINISHED_RUNS);
    state.store.as_ref().unwrap().flush(PATIENCE).unwrap();
    let first: RunSnapshot = t.ok("get_run", json!({ "runId": ids[0] }));
    assert_eq!(first.status, RunStatus::Completed);
    assert_eq!(first.input, "meeting 0");
}

/// A live run and a saved one match a search the same way: whole words by their start.
#[test]
fn live_runs_match_a_search_as_saved_ones_do() {
    let t = app("search-live", PACED, Duration::from_millis(16));
    let live = t.start_template("long-story", "tidal energy for islands");
    let count = |q: &str| {
        let found: Value = t.ok("list_runs", json!({ "filter": { "search": q } }));
        found["runs"].as_array().unwrap().len()
    };
    assert_eq!(count("tid ISL"), 1, "word starts, any case");
    assert_eq!(
        count("dal"),
        0,
        "not any piece of a word (the history's search does not)"
    );
    assert_eq!(count("tidal wind"), 0, "every word");
    t.ok::<bool>("cancel_run", json!({ "runId": live }));
}
