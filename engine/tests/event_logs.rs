//! One fold, two languages: the recorded event logs in `fixtures/event-logs/` (one JSON event a
//! line, every outcome, coalesced deltas included) must fold to the snapshot saved beside each —
//! here with the engine's `RunSnapshot::apply`, and in `ui/src/lib/event-logs.test.ts` with the
//! window's `applyEvent`. If either fold changes, its test fails until both agree again.
//!
//! `cargo test -p stepwise-engine --test event_logs -- --ignored` records the logs afresh from
//! real runs and writes the snapshots the engine folds them to (review the diff before keeping it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use stepwise_engine::provider::{DemoModel, DemoPace};
use stepwise_engine::store::Store;
use stepwise_engine::workflow::templates;
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, ErrorKind, EventKind, RunEvent, RunSnapshot,
};
use support::*;
use uuid::Uuid;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/event-logs")
}

fn read_log(path: &std::path::Path) -> Vec<RunEvent> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn fold(events: &[RunEvent]) -> RunSnapshot {
    let mut s = RunSnapshot::new(events[0].run_id);
    for e in events {
        assert!(s.apply(e), "event {} applies", e.seq);
    }
    s
}

#[test]
fn every_recorded_log_folds_to_its_saved_snapshot() {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let snapshot: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("snapshot.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(fold(&read_log(&path))).unwrap(),
            snapshot,
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} logs");
}

/// Fixed ids and times, so a log records what happened, not when.
fn normalized(events: Vec<RunEvent>, id: u128) -> Vec<RunEvent> {
    let run_id = Uuid::from_u128(id);
    events
        .into_iter()
        .map(|mut e| {
            e.run_id = run_id;
            e.ts_ms = 1_800_000_000_000 + e.seq * 10;
            if let EventKind::StepCompleted { duration_ms, .. }
            | EventKind::RunCompleted { duration_ms, .. }
            | EventKind::RunCancelled { duration_ms, .. }
            | EventKind::RunFailed { duration_ms, .. } = &mut e.kind
            {
                *duration_ms = 100;
            }
            e
        })
        .collect()
}

fn write(name: &str, events: Vec<RunEvent>) {
    let lines: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let path = dir().join(format!("{name}.jsonl"));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let snapshot = serde_json::to_string_pretty(&fold(&events)).unwrap();
    std::fs::write(path.with_extension("snapshot.json"), snapshot + "\n").unwrap();
}

#[tokio::test]
#[ignore = "records the fixtures afresh: run with --ignored, then review the diff"]
async fn record_the_event_logs() {
    std::fs::create_dir_all(dir()).unwrap();
    let paced = DemoPace {
        first_token: Duration::ZERO,
        per_word: Duration::from_millis(2),
    };
    let research = templates::get("research-and-write").unwrap().workflow;

    // Completed, two steps with usage, every delta on its own.
    let engine = demo_engine(DemoModel::new(DemoPace::INSTANT));
    let (_, mut sub) = start(&engine, research.clone(), "tidal energy");
    write("completed", normalized(collect(&mut sub).await, 1));

    // Cancelled by the user in the middle of step 1; cancelled before any step; at app exit.
    let engine = demo_engine(DemoModel::new(paced));
    let (id, mut sub) = start(&engine, research.clone(), "honey bees");
    let mut events = Vec::new();
    while let Some(e) = sub.next().await {
        let delta = matches!(e.kind, EventKind::TextDelta { .. });
        events.push(e);
        if delta && events.len() == 8 {
            assert!(engine.cancel(id, CancelReason::User));
        }
    }
    write("cancelled-mid-step", normalized(events, 2));
    let (id, mut sub) = start(&engine, research.clone(), "before it began");
    assert!(engine.cancel(id, CancelReason::User));
    write(
        "cancelled-before-a-step",
        normalized(collect(&mut sub).await, 3),
    );
    let (id, mut sub) = start(&engine, research.clone(), "closing");
    let mut events = vec![sub.next().await.unwrap(), sub.next().await.unwrap()];
    assert!(engine.cancel(id, CancelReason::AppExit));
    events.extend(collect(&mut sub).await);
    write("cancelled-at-exit", normalized(events, 4));

    // Failed in step 2 after some text (a rate limit).
    let mut script = Script::words(6, Duration::ZERO);
    script.fail_after = Some((3, ErrorKind::RateLimit));
    let engine = scripted_engine(ScriptedProvider::new(script));
    let wf = workflow_of(
        "name = \"Two\"\n[[steps]]\nname = \"First\"\ninstructions = \"a\"\n\
         [[steps]]\nname = \"Second\"\ninstructions = \"b\"\nmodel = \"openai:m\"\n",
    );
    let (_, mut sub) = start(&engine, wf, "fails later");
    write("failed-in-step-2", normalized(collect(&mut sub).await, 5));

    // As the history keeps it: merged deltas (`first_seq`) and the texts restored on reading.
    let db = scratch_db("record-event-logs");
    let store = Store::open(&db).unwrap();
    let engine = Engine::new(EngineConfig {
        providers: stepwise_engine::provider::Providers::demo(DemoModel::new(DemoPace::INSTANT)),
        sink: Some(store.sink()),
        ..EngineConfig::default()
    });
    let (id, mut sub) = start(&engine, research, "from the history");
    collect(&mut sub).await;
    store.flush(Duration::from_secs(10)).unwrap();
    let saved = store.events(id).unwrap();
    assert!(saved.iter().any(|e| e.first_seq.is_some()));
    write("completed-as-saved", normalized(saved, 6));
}
