//! The window sees every run on this computer: a run a `stepwise` process in a terminal owns
//! appears in the window live, with where it was started, and the window's Cancel and review
//! answers reach it; a run the window holds is answered from a terminal. Real processes, real
//! sockets, one history.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;
use serde_json::json;
use stepwise_engine::{EventKind, RunEvent, RunSnapshot};
use stepwise_testkit::{PATIENCE, eventually};

fn cli(t: &TestApp) -> Command {
    let mut c = Command::new(stepwise_cli());
    c.env("STEPWISE_DB", t.state().paths.history_db())
        .env("STEPWISE_SETTINGS", "/nonexistent/settings.toml")
        .env("STEPWISE_DEMO_FIRST_TOKEN_MS", "0");
    c
}

#[test]
fn a_run_started_from_a_terminal_shows_live_in_the_window_and_its_cancel_button_stops_it() {
    let t = app("others-cancel", PACED, Duration::ZERO);
    let mut owner = cli(&t)
        .env("STEPWISE_DEMO_WORD_MS", "20")
        .args(["run", "long-story", "--input", "from a terminal", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(owner.stdout.take().unwrap()).lines();
    let first: RunEvent = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let id = first.run_id.to_string();

    // The window gets its events from the first, as it would its own run's.
    t.wait_for(&id, "text", |k| matches!(k, EventKind::TextDelta { .. }));
    assert!(matches!(
        t.events_of(&id)[0].kind,
        EventKind::RunStarted { .. }
    ));
    let shown: RunSnapshot = t.ok("get_run", json!({ "runId": id }));
    assert_eq!(shown.owner, Some(stepwise_engine::OwnerKind::Terminal));
    // Listed with where it was started, once the history has it.
    eventually(PATIENCE, "the list names its owner", || {
        let list: serde_json::Value = t.ok("list_runs", json!({ "filter": {} }));
        list["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["run_id"] == id.as_str() && r["owner"] == "terminal")
    });

    // The window's Cancel.
    let stopped: bool = t.ok("cancel_run", json!({ "runId": id }));
    assert!(stopped);
    let events = t.wait_end(&id);
    let cancelled = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::RunCancelled { .. }))
        .count();
    assert_eq!(cancelled, 1);
    // The terminal's process saw the same end, and ended.
    let rest: Vec<RunEvent> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(matches!(
        rest.last().unwrap().kind,
        EventKind::RunCancelled { .. }
    ));
    assert_eq!(owner.wait().unwrap().code(), Some(130));
    let again: bool = t.ok("cancel_run", json!({ "runId": id }));
    assert!(!again);
}

#[test]
fn a_review_the_window_holds_is_answered_from_a_terminal() {
    let t = app("others-answer", PACED, Duration::ZERO);
    let reviewed = stepwise_engine::workflow::parse(
        "name = \"Reviewed\"\n[[steps]]\nname = \"Draft\"\ninstructions = \"Write a note.\"\n\
         review = true\n",
        None,
    )
    .unwrap();
    let id: String = t.ok(
        "start_run",
        json!({ "workflow": reviewed, "input": "a note to the team", "runId": null }),
    );
    t.wait_for(&id, "a review", |k| {
        matches!(k, EventKind::ReviewRequested { .. })
    });
    t.flush_history();
    let out = cli(&t).args(["answer", &id, "approve"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("started in the Stepwise window"));
    t.wait_for(&id, "the answer", |k| {
        matches!(k, EventKind::ReviewAnswered { .. })
    });
    let end = t.wait_end(&id);
    assert!(matches!(
        end.last().unwrap().kind,
        EventKind::RunCompleted { .. }
    ));
}

#[test]
fn a_background_run_goes_to_the_open_window() {
    let t = app("others-background", PACED, Duration::ZERO);
    let out = cli(&t)
        .args([
            "run",
            "long-story",
            "--input",
            "a lighthouse",
            "--background",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Stepwise window"));
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // The window runs it, as its own.
    assert!(t.state().engine.get(id.parse().unwrap()).is_some());
    t.wait_for(&id, "text", |k| matches!(k, EventKind::TextDelta { .. }));
    let shown: RunSnapshot = t.ok("get_run", json!({ "runId": id }));
    assert_eq!(shown.owner, None);
    // And a terminal stops it by its id.
    let cancel = cli(&t).args(["cancel", &id]).output().unwrap();
    assert_eq!(cancel.status.code(), Some(0));
    let end = t.wait_end(&id);
    assert!(matches!(
        end.last().unwrap().kind,
        EventKind::RunCancelled { .. }
    ));
}
