//! The window as a client of a Temporal cluster (Settings → Where runs go): the app on Tauri's
//! mock runtime, a real Temporal dev server and a real `stepwise-worker` process. A run sent
//! there streams in the window, is kept in the history, stops at once on Cancel, waits for a
//! review that the window answers, and is followed again by the app started anew.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use stepwise_engine::{EventKind, OwnerKind, RunEvent, RunSnapshot, RunStatus, StepStatus};
use stepwise_testkit::temporal::{DevServer, Worker};
use stepwise_testkit::{PATIENCE, eventually};

const TOKEN: &str = "app-cluster-token";

/// `stepwise-worker`, built beside the app's tests by `cargo test --workspace`.
fn worker_program() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let worker = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("stepwise-worker");
    assert!(
        worker.is_file(),
        "{} is not built: run the tests with `cargo test --workspace`",
        worker.display()
    );
    worker
}

/// A worker of `queue` whose demo model writes a word every `word_ms`.
fn worker(server: &DevServer, root: &Path, queue: &str, word_ms: u64) -> Worker {
    let mut c = Command::new(worker_program());
    c.env("STEPWISE_SETTINGS", "/nonexistent/settings.toml")
        .env("STEPWISE_CLUSTER_ADDRESS", &server.grpc)
        .env("STEPWISE_CLUSTER_TASK_QUEUE", queue)
        .env("STEPWISE_CLUSTER_TOKEN", TOKEN)
        .env("XDG_RUNTIME_DIR", root)
        .env("STEPWISE_DEMO_WORD_MS", word_ms.to_string())
        .env("STEPWISE_DEMO_FIRST_TOKEN_MS", "0")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .args(["--db", root.join("worker.db").to_str().unwrap()]);
    Worker::start(c, queue)
}

/// Settings → Where runs go: the cluster, through the window's own command.
fn send_runs_to(app: &TestApp, server: &DevServer, queue: &str) -> Value {
    let update = json!({
        "send_runs": true, "http_address": server.http, "namespace": "default",
        "task_queue": queue, "api_key": null, "token": TOKEN,
    });
    app.ok::<Value>("save_cluster_settings", json!({ "update": update }));
    update
}

/// Every event the window was sent once, in order, none missing (a merged delta stands for
/// `first_seq..=seq`).
fn assert_gapless(events: &[RunEvent]) {
    let mut next = 1;
    for e in events {
        assert_eq!(
            e.first_seq.unwrap_or(e.seq),
            next,
            "a gap or a duplicate at seq {}",
            e.seq
        );
        next = e.seq + 1;
    }
}

/// The run as the history has it, once it has been written as `status`.
fn saved_as(app: &TestApp, id: &str, status: RunStatus) -> RunSnapshot {
    eventually(
        PATIENCE,
        &format!("the history to have run {id} {status:?}"),
        || {
            app.flush_history();
            let store = app.state().store.clone().unwrap();
            store
                .get_run(id.parse().unwrap())
                .unwrap()
                .filter(|r| r.status == status)
        },
    )
}

#[test]
fn a_run_sent_to_the_cluster_streams_in_the_window_is_kept_in_history_and_stops_at_once_on_cancel()
{
    let t = app("cluster-runs", INSTANT, Duration::ZERO);
    let server = DevServer::start(Path::new(env!("CARGO_MANIFEST_DIR")));
    let queue = "app-cluster-runs";

    // Before any worker: the test says so in words, and so does a run's start once a worker is
    // needed (a run waits for one; none is sent yet).
    let update = send_runs_to(&t, &server, queue);
    let report: Value = t.ok("test_cluster", json!({ "update": update }));
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("no worker serves"),
        "{report}"
    );
    let _w = worker(&server, &t.root, queue, 15);
    eventually(PATIENCE, "the test to find the worker", || {
        let report: Value = t.ok("test_cluster", json!({ "update": update }));
        (report["ok"] == true).then_some(())
    });

    // A run: it streams in the window from the worker, live, and is said to run on the cluster.
    let id = t.start_template("research-and-write", "tidal energy");
    t.wait_for(&id, "text", |k| matches!(k, EventKind::TextDelta { .. }));
    let live: RunSnapshot = t.ok("get_run", json!({ "runId": id }));
    assert_eq!(live.owner, Some(OwnerKind::Cluster));
    let events = t.wait_end(&id);
    assert_gapless(&events);
    let Some(EventKind::RunCompleted { output, .. }) = events.last().map(|e| &e.kind) else {
        panic!("the run did not complete: {:?}", events.last());
    };
    // The history keeps it like a local run: every step, the output.
    let saved = saved_as(&t, &id, RunStatus::Completed);
    assert_eq!(saved.final_output.as_deref(), Some(output.as_str()));
    assert!(
        saved
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Completed)
    );
    assert_eq!(saved.owner, None, "an ended run names no live owner");

    // Cancel: the worker stops it at once; one terminal event; the text so far is kept.
    let id = t.start_template("long-story", "a lighthouse keeper");
    t.wait_for(&id, "text", |k| matches!(k, EventKind::TextDelta { .. }));
    let listed: Value = t.ok("list_runs", json!({ "filter": {} }));
    let row = listed["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == id.as_str())
        .cloned();
    assert!(row.is_some_and(|r| r["owner"] == "cluster"), "{listed}");
    let stopped: bool = t.ok("cancel_run", json!({ "runId": id }));
    assert!(stopped);
    let events = t.wait_end(&id);
    assert_gapless(&events);
    let terminal: Vec<_> = events.iter().filter(|e| e.kind.is_terminal()).collect();
    assert_eq!(terminal.len(), 1);
    assert!(matches!(terminal[0].kind, EventKind::RunCancelled { .. }));
    let shown = t.shown_text(&id);
    assert!(!shown.is_empty());
    let saved = saved_as(&t, &id, RunStatus::Cancelled);
    let kept: String = saved.steps.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(kept, shown, "the history keeps the text the window showed");
    // A second cancel stops nothing.
    let again: bool = t.ok("cancel_run", json!({ "runId": id }));
    assert!(!again);
}

#[test]
fn a_review_on_the_cluster_is_answered_from_the_window_and_the_app_started_again_follows_the_run() {
    let root = temp_root("cluster-review");
    let server = DevServer::start(Path::new(env!("CARGO_MANIFEST_DIR")));
    let queue = "app-cluster-review";
    let _w = worker(&server, &root, queue, 0);

    let t = app_in(
        root.clone(),
        INSTANT,
        Duration::ZERO,
        std::sync::Arc::new(stepwise_app::attention::Quiet),
    );
    send_runs_to(&t, &server, queue);
    let id: String = t.ok(
        "start_run",
        json!({ "workflow": reviewed(), "input": "tidal energy", "runId": null }),
    );
    // The window shows it waiting (from its events, or from the run as it waits on the cluster
    // with no worker holding it), and so does the history.
    eventually(PATIENCE, "the run to show waiting", || {
        let s: RunSnapshot = t.ok("get_run", json!({ "runId": id }));
        (s.status == RunStatus::Waiting).then_some(())
    });
    saved_as(&t, &id, RunStatus::Waiting);

    // The app closes while the run waits on the cluster; started again, it follows the run
    // from where it stands, and the window answers the review.
    drop(t);
    let t = app_in(
        root,
        INSTANT,
        Duration::ZERO,
        std::sync::Arc::new(stepwise_app::attention::Quiet),
    );
    let followed = stepwise_app::cluster::follow_again(&t.state());
    assert_eq!(followed, 1);
    let waiting = eventually(PATIENCE, "the run to show waiting again", || {
        let s: RunSnapshot = t.ok("get_run", json!({ "runId": id }));
        (s.status == RunStatus::Waiting && s.owner == Some(OwnerKind::Cluster)).then_some(s)
    });
    assert_eq!(waiting.step("draft").unwrap().status, StepStatus::Waiting);
    t.approve(&id, "draft");
    let events = t.wait_end(&id);
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::RunCompleted { .. }
    ));
    let saved = saved_as(&t, &id, RunStatus::Completed);
    assert!(
        saved
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Completed)
    );
    assert!(!saved.step("email").unwrap().text.is_empty());
}
