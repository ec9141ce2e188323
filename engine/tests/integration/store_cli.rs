//! History through the `stepwise` binary: surviving a crash (SIGKILL mid-stream), and the
//! history, show, export and delete commands.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::scratch_db;
use stepwise_engine::store::Store;
use stepwise_engine::{EventKind, RunEvent, RunId, RunStatus, StepStatus};
use stepwise_testkit::{PATIENCE, eventually};

fn stepwise(_db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    c.env("STEPWISE_DEMO_FIRST_TOKEN_MS", "0")
        .env("STEPWISE_DEMO_WORD_MS", "1")
        .env("STEPWISE_SETTINGS", "/nonexistent/settings.toml");
    c
}

fn run(db: &Path, args: &[&str]) -> Output {
    stepwise(db)
        .args(args)
        .args(["--db", db.to_str().unwrap()])
        .output()
        .unwrap()
}

#[test]
fn a_killed_run_is_found_interrupted_with_its_text() {
    let db = scratch_db("crash");
    let mut child = stepwise(&db)
        .env("STEPWISE_DEMO_WORD_MS", "5")
        .args([
            "run",
            "long-story",
            "--input",
            "a dragon who learns to code",
            "--json",
            "--db",
            db.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = crate::support::stdout_lines(&mut child);
    let mut events: Vec<RunEvent> = Vec::new();
    let deltas = |evs: &[RunEvent]| -> String {
        evs.iter()
            .filter_map(|e| match &e.kind {
                EventKind::TextDelta { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    };
    // Stream 50 words, then let the run go on until its batch writer has put them on disk
    // (nothing flushes it: the run writes a batch every 250 ms while it streams).
    while deltas(&events).split_whitespace().count() < 50 {
        events.push(serde_json::from_str(&rx.recv_timeout(PATIENCE).unwrap()).unwrap());
    }
    let early = deltas(&events);
    let id = events[0].run_id;
    {
        let reader = Store::open(&db).unwrap();
        eventually(PATIENCE, "the first 50 words on disk", || {
            let saved = reader.get_run(id).unwrap();
            saved.is_some_and(|r| r.steps[0].text.starts_with(&early))
        });
    }
    child.kill().unwrap(); // SIGKILL: no flush, no clean exit
    child.wait().unwrap();
    // Everything it printed before it died (the reading thread ends at the pipe's end).
    events.extend(
        rx.iter()
            .map(|line| serde_json::from_str::<RunEvent>(&line).unwrap()),
    );
    let shown = deltas(&events);

    let store = Store::open(&db).unwrap();
    let saved_run = store.get_run(id).unwrap().unwrap();
    assert_eq!(saved_run.status, RunStatus::Interrupted);
    assert_eq!(saved_run.steps[0].status, StepStatus::Cancelled);
    let saved = &saved_run.steps[0].text;
    assert!(
        saved.starts_with(&early),
        "everything older than a batch is saved ({} of {} bytes)",
        saved.len(),
        early.len()
    );
    assert!(
        shown.starts_with(saved.as_str()),
        "what is saved is what was shown, never more"
    );
    assert!(saved_run.ended_at_ms.is_some());
    drop(store);

    let out = run(&db, &["show", &id.to_string()[..8]]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Interrupted (Stepwise stopped unexpectedly)") && text.contains(&early[..40]),
        "{text}"
    );
}

/// The app holds the history open while a `stepwise run` in a terminal crashes: the app's store
/// notices the dead process and marks its run interrupted — it does not stay "running" forever.
#[test]
fn a_run_of_a_crashed_process_is_interrupted_while_another_holds_the_history() {
    let db = scratch_db("crash-shared");
    let holder = Store::open(&db).unwrap();
    let mut child = stepwise(&db)
        .env("STEPWISE_DEMO_WORD_MS", "5")
        .args(["run", "long-story", "--input", "a dragon", "--json", "--db"])
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = crate::support::stdout_lines(&mut child);
    let first: RunEvent = serde_json::from_str(&lines.recv_timeout(PATIENCE).unwrap()).unwrap();
    // Wait until the run is saved as running, then kill it without warning.
    eventually(PATIENCE, "the run to be saved as running", || {
        let saved = holder.get_run(first.run_id).unwrap();
        saved.is_some_and(|r| r.status == RunStatus::Running)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(holder.recover_interrupted().unwrap(), 1);
    let saved = holder.get_run(first.run_id).unwrap().unwrap();
    assert_eq!(saved.status, RunStatus::Interrupted);
    assert_eq!(saved.steps[0].status, StepStatus::Cancelled);
    assert_eq!(holder.recover_interrupted().unwrap(), 0, "once");
    // `stepwise history` opened beside the holder sees it the same way.
    drop(holder);
    let holder = Store::open(&db).unwrap();
    let out = run(&db, &["history", "--json"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("interrupted"));
    drop(holder);
}

fn ids_of(out: &Output) -> Vec<RunId> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn history_show_export_and_delete() {
    let db = scratch_db("commands");
    assert_eq!(
        run(
            &db,
            &["run", "research-and-write", "--input", "tidal energy"]
        )
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        run(
            &db,
            &[
                "run",
                "long-story",
                "--input",
                "a dragon",
                "--cancel-after-ms",
                "30"
            ]
        )
        .status
        .code(),
        Some(130)
    );
    assert_eq!(
        run(
            &db,
            &[
                "run",
                "research-and-write",
                "--input",
                "no history",
                "--no-history"
            ]
        )
        .status
        .code(),
        Some(0)
    );

    let all = ids_of(&run(&db, &["history", "--json"]));
    assert_eq!(all.len(), 2, "--no-history runs are not recorded");
    let found = ids_of(&run(&db, &["history", "--search", "tidal", "--json"]));
    assert_eq!(found, [all[1]]);
    let cancelled = ids_of(&run(&db, &["history", "--status", "cancelled", "--json"]));
    assert_eq!(cancelled, [all[0]]);
    let listed = String::from_utf8(run(&db, &["history"]).stdout).unwrap();
    assert!(
        listed.contains("cancelled")
            && listed.contains("completed")
            && listed.contains("tidal energy"),
        "{listed}"
    );
    // Each run says what it used; the demo model costs nothing, and a stopped run is estimated.
    let lines: Vec<&str> = listed.lines().collect();
    assert!(lines.iter().all(|l| l.ends_with(" out · free")), "{listed}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cancelled") && l.contains("· ≈ ")),
        "{listed}"
    );
    assert_eq!(
        run(&db, &["history", "--status", "weird"]).status.code(),
        Some(2)
    );

    let md = run(&db, &["export", &all[1].to_string(), "--format", "md"]);
    assert!(
        String::from_utf8(md.stdout)
            .unwrap()
            .starts_with("# Research and write")
    );
    let json = run(&db, &["export", &all[1].to_string(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["run"]["status"], "completed");
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["type"], "RunCompleted");
    assert!(events.last().unwrap()["seq"].as_u64().unwrap() > 10);

    assert_eq!(
        run(&db, &["show", "ffffffff"]).status.code(),
        Some(2),
        "unknown run"
    );
    assert_eq!(
        run(&db, &["delete", &all[0].to_string()]).status.code(),
        Some(0)
    );
    assert_eq!(ids_of(&run(&db, &["history", "--json"])), [all[1]]);
    let out = run(&db, &["delete", "--all"]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("Deleted 1 runs")
    );
    assert!(ids_of(&run(&db, &["history", "--json"])).is_empty());
}

#[test]
fn a_damaged_history_costs_the_history_not_the_run() {
    let db = scratch_db("damaged");
    std::fs::write(&db, vec![7u8; 4096]).unwrap();
    let out = run(&db, &["run", "research-and-write", "--input", "still runs"]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("damaged") && err.contains("runs still work"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), vec![7u8; 4096]);
    assert_eq!(run(&db, &["history"]).status.code(), Some(1));
}
