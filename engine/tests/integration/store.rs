//! The history store: what it keeps of every outcome, migrations, concurrency, queries, exports,
//! and every bad state (locked, read-only, damaged, newer, full).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use stepwise_engine::provider::{DemoModel, DemoPace, Providers};
use stepwise_engine::store::{ExportFormat, RunFilter, Store, StoreError, StoreOptions};
use stepwise_engine::workflow::templates;
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, ErrorKind, EventKind, ProviderKind, RunId, RunSnapshot,
    RunStatus, StartError, StartRun, StepStatus,
};
use stepwise_testkit::{PATIENCE, eventually_async};

const SOON: Duration = Duration::from_secs(10);

fn engine_with_store(store: &Store, pace: DemoPace) -> Engine {
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(pace)),
        default_model: None,
        sink: Some(store.sink()),
        ..EngineConfig::default()
    })
}

const PACED: DemoPace = DemoPace {
    first_token: Duration::ZERO,
    per_word: Duration::from_millis(1),
};

#[tokio::test]
async fn every_outcome_is_saved_exactly_as_the_engine_saw_it() {
    let path = scratch_db("outcomes");
    let store = Store::open(&path).unwrap();
    let mut script = Script::words(10, Duration::ZERO);
    script.fail_after = Some((3, ErrorKind::Provider));
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(PACED))
            .with(ProviderKind::OpenAi, ScriptedProvider::new(script)),
        default_model: None,
        sink: Some(store.sink()),
        ..EngineConfig::default()
    });
    let wf = templates::get("research-and-write").unwrap().workflow;
    let (done, mut a) = start(&engine, wf.clone(), "tidal energy");
    let (failed, mut b) = start(&engine, steps(2, "openai:m"), "will fail");
    let (cancelled, mut c) = start(&engine, wf.clone(), "to cancel");
    events_until(&mut c, |k| matches!(k, EventKind::TextDelta { .. })).await;
    assert!(engine.cancel(cancelled, CancelReason::User));
    let mut all = Vec::new();
    for sub in [&mut a, &mut b, &mut c] {
        all.push(collect(sub).await);
    }
    store.flush(SOON).unwrap();

    for (id, status) in [
        (done, RunStatus::Completed),
        (failed, RunStatus::Failed),
        (cancelled, RunStatus::Cancelled),
    ] {
        let saved = store.get_run(id).unwrap().unwrap();
        assert_eq!(saved.status, status);
        assert_eq!(
            saved,
            engine.get(id).unwrap(),
            "the saved run is the engine's final snapshot"
        );
        let events = store.events(id).unwrap();
        // Consecutive deltas are saved merged (one event standing for `first_seq..=seq`).
        assert_eq!(events.last().unwrap().seq, saved.last_seq);
        assert!(events.len() as u64 <= saved.last_seq);
        let mut replay = stepwise_engine::RunSnapshot::new(id);
        for e in &events {
            assert!(replay.apply(e));
        }
        assert_eq!(replay, saved, "the event log replays to the saved run");
    }
    // The workflow as it ran is kept, so editing it later changes nothing here.
    assert_eq!(store.workflow_of(done).unwrap().unwrap(), wf);
    let f = store.get_run(failed).unwrap().unwrap();
    assert_eq!(f.steps[0].text, "w0 w1 w2 ");
    assert_eq!(f.error.unwrap().kind, ErrorKind::Provider);
    let c = store.get_run(cancelled).unwrap().unwrap();
    assert_eq!(c.steps[0].status, StepStatus::Cancelled);
    assert!(!c.steps[0].text.is_empty());
    assert_eq!(c.cancel_reason, Some(CancelReason::User));
    assert!(store.health().is_none());
}

#[tokio::test]
async fn text_is_durable_while_the_run_streams() {
    let path = scratch_db("durable");
    let store = Store::open(&path).unwrap();
    let engine = engine_with_store(
        &store,
        DemoPace {
            first_token: Duration::ZERO,
            per_word: Duration::from_millis(2),
        },
    );
    let (id, mut sub) = start(
        &engine,
        templates::get("long-story").unwrap().workflow,
        "a dragon",
    );
    let mut shown = String::new();
    while shown.split_whitespace().count() < 100 {
        if let EventKind::TextDelta { text, .. } = next_event(&mut sub).await.unwrap().kind {
            shown.push_str(&text);
        }
    }
    // Without any flush, the batch writer puts the text shown so far on disk (within a batch
    // interval or two; the deadline only guards against it never coming).
    eventually_async(PATIENCE, "the shown text on disk", async || {
        match store.get_run(id).unwrap() {
            Some(saved) if saved.steps[0].text.starts_with(&shown) => Ok(()),
            Some(saved) => Err(format!(
                "saved {} bytes, shown {}",
                saved.steps[0].text.len(),
                shown.len()
            )),
            None => Err("not saved yet".to_string()),
        }
    })
    .await;
    // A second reader (another process's view) opened now sees the live run as it is.
    let other = Store::open(&path).unwrap();
    let saved = other.get_run(id).unwrap().unwrap();
    assert_eq!(
        saved.status,
        RunStatus::Running,
        "a second reader must not mark a live run interrupted"
    );
    assert!(
        saved.steps[0].text.starts_with(&shown),
        "saved {} words, shown {}",
        saved.steps[0].text.len(),
        shown.len()
    );
    assert!(engine.cancel(id, CancelReason::User));
    collect(&mut sub).await;
}

#[tokio::test]
async fn a_flush_does_not_wait_out_the_batch_interval() {
    // With an hour-long batch interval, only a flush that cuts it short can answer in time.
    let options = StoreOptions {
        batch_interval: Some(Duration::from_secs(3600)),
        ..StoreOptions::default()
    };
    let store = Store::open_with(&scratch_db("flush"), &options).unwrap();
    let engine = engine_with_store(&store, DemoPace::INSTANT);
    for _ in 0..3 {
        let (id, mut sub) = start(&engine, steps(1, "demo"), "quick");
        collect(&mut sub).await;
        store.flush(SOON).unwrap();
        assert_eq!(
            store.get_run(id).unwrap().unwrap().status,
            RunStatus::Completed
        );
    }
}

#[tokio::test]
async fn many_concurrent_runs_all_land_intact() {
    let path = scratch_db("concurrent");
    let store = Store::open(&path).unwrap();
    let engine = engine_with_store(&store, PACED);
    let mut subs = Vec::new();
    for i in 0..200 {
        let wf = if i % 2 == 0 {
            steps(2, "demo")
        } else {
            templates::get("meeting-notes").unwrap().workflow
        };
        subs.push(start(&engine, wf, &format!("topic number {i}")));
    }
    let mut finals = Vec::new();
    let mut cancelled_count = 0;
    for (i, (id, sub)) in subs.iter_mut().enumerate() {
        if i % 5 == 0 {
            engine.cancel(*id, CancelReason::User);
        }
        // The run's final state as a subscriber saw it (the engine keeps only recent runs).
        let mut fold = sub.snapshot.clone();
        for e in collect(sub).await {
            assert!(fold.apply(&e));
        }
        cancelled_count += usize::from(fold.status == RunStatus::Cancelled);
        finals.push(fold);
    }
    store.flush(SOON).unwrap();
    for fold in &finals {
        assert_eq!(&store.get_run(fold.run_id).unwrap().unwrap(), fold);
    }
    let all = store
        .list_runs(&RunFilter {
            limit: Some(500),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(all.len(), 200);
    let cancelled = store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Cancelled),
            limit: Some(500),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(cancelled.len(), cancelled_count);
}

async fn seeded(name: &str) -> (Store, Engine, Vec<RunId>) {
    let store = Store::open(&scratch_db(name)).unwrap();
    let engine = engine_with_store(&store, DemoPace::INSTANT);
    let mut ids = Vec::new();
    for (t, input) in [
        ("research-and-write", "tidal energy"),
        ("long-story", "a dragon who learns to code"),
        ("research-and-write", "honey bees"),
    ] {
        let (id, mut sub) = start(&engine, templates::get(t).unwrap().workflow, input);
        collect(&mut sub).await;
        ids.push(id);
        // Distinct creation times, so the newest-first order is certain.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    store.flush(SOON).unwrap();
    (store, engine, ids)
}

#[tokio::test]
async fn search_filters_and_pages() {
    let (store, _engine, ids) = seeded("search").await;
    let list = |f: RunFilter| {
        store
            .list_runs(&f)
            .unwrap()
            .iter()
            .map(|r| r.run_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(RunFilter::default()),
        [ids[2], ids[1], ids[0]],
        "newest first"
    );
    assert_eq!(
        list(RunFilter {
            search: Some("tidal".into()),
            ..Default::default()
        }),
        [ids[0]]
    );
    // Output is searched too: the story's text mentions its chapters.
    assert_eq!(
        list(RunFilter {
            search: Some("chapter".into()),
            ..Default::default()
        }),
        [ids[1]]
    );
    assert_eq!(
        list(RunFilter {
            search: Some("HONEY bee".into()),
            ..Default::default()
        }),
        [ids[2]],
        "prefix, any case"
    );
    assert!(
        list(RunFilter {
            search: Some("\"unbalanced OR (".into()),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        list(RunFilter {
            workflow: Some("Long story".into()),
            ..Default::default()
        }),
        [ids[1]]
    );
    assert_eq!(
        list(RunFilter {
            limit: Some(2),
            offset: Some(1),
            ..Default::default()
        }),
        [ids[1], ids[0]]
    );
    assert!(
        list(RunFilter {
            status: Some(RunStatus::Failed),
            ..Default::default()
        })
        .is_empty()
    );
    // The filter reads when a run was created, which can be earlier than when it started by more
    // than a millisecond on a busy machine: take that very time from the file.
    let since: u64 = rusqlite::Connection::open(store.path())
        .unwrap()
        .query_row(
            "SELECT created_at_ms FROM runs WHERE id = ?1",
            [ids[1].to_string()],
            |r| r.get::<_, i64>(0),
        )
        .map(|ms| ms as u64)
        .unwrap();
    assert_eq!(
        list(RunFilter {
            since_ms: Some(since),
            ..Default::default()
        })
        .len(),
        2
    );
    let prefix = &ids[0].to_string()[..8];
    assert_eq!(store.resolve_id(prefix).unwrap(), Some(ids[0]));
    assert_eq!(store.resolve_id("zz").unwrap(), None);
}

#[tokio::test]
async fn delete_one_or_all_but_never_a_live_run() {
    let (store, engine, ids) = seeded("delete").await;
    assert!(store.delete_run(ids[0]).unwrap());
    assert!(!store.delete_run(ids[0]).unwrap(), "already gone");
    assert!(store.get_run(ids[0]).unwrap().is_none());
    assert!(
        store.events(ids[0]).unwrap().is_empty(),
        "its events went with it"
    );
    assert!(
        store
            .list_runs(&RunFilter {
                search: Some("tidal".into()),
                ..Default::default()
            })
            .unwrap()
            .is_empty()
    );

    let paced = engine_with_store(&store, DemoPace::HUMAN);
    let (live, _sub) = start(&paced, steps(1, "demo"), "still going");
    store.flush(SOON).unwrap();
    assert_eq!(store.delete_run(live), Err(StoreError::RunIsLive));
    assert_eq!(store.delete_all().unwrap(), 2, "the two finished runs");
    assert_eq!(
        store.list_runs(&RunFilter::default()).unwrap().len(),
        1,
        "the live run stays"
    );
    drop(engine);
}

#[tokio::test]
async fn export_as_markdown_and_json() {
    let (store, engine, ids) = seeded("export").await;
    let md = store
        .export(ids[0], ExportFormat::Markdown)
        .unwrap()
        .unwrap();
    let run = engine.get(ids[0]).unwrap();
    assert!(
        md.starts_with("# Research and write\n\n**Input:** tidal energy"),
        "{md}"
    );
    assert!(md.contains("**Status:** Completed"));
    assert!(
        md.contains("## 1. Research (demo, done in") && md.contains("## 2. Write (demo, done in")
    );
    assert!(md.contains(run.steps[1].text.trim_end()));
    let json: serde_json::Value =
        serde_json::from_str(&store.export(ids[0], ExportFormat::Json).unwrap().unwrap()).unwrap();
    assert_eq!(json["run"]["status"], "completed");
    assert_eq!(json["workflow"]["name"], "Research and write");
    let events = json["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["seq"], run.last_seq);
    assert_eq!(
        events.last().unwrap()["output"].as_str(),
        run.final_output.as_deref(),
        "texts left out of the saved log are restored in the export"
    );
    assert!(
        store
            .export(RunId::new_v4(), ExportFormat::Markdown)
            .unwrap()
            .is_none()
    );
}

#[test]
fn an_empty_file_becomes_a_fresh_history() {
    let path = scratch_db("empty");
    std::fs::write(&path, b"").unwrap();
    let store = Store::open(&path).unwrap();
    assert!(store.list_runs(&RunFilter::default()).unwrap().is_empty());
}

#[test]
fn the_first_schema_migrates_and_keeps_its_runs() {
    let path = scratch_db("v1");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../fixtures/history-v1.sql"))
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let id: RunId = "6f1c2b9e-0000-4000-8000-000000000001".parse().unwrap();
    let run = store.get_run(id).unwrap().unwrap();
    assert_eq!(
        (run.status, run.input.as_str()),
        (RunStatus::Completed, "the moons of Jupiter")
    );
    assert_eq!(run.steps[0].text, "Io has volcanoes. Europa has an ocean.");
    // Before the step tree a step had no path: it is named by the id its name gives.
    assert_eq!(
        (run.steps[0].path.as_str(), run.steps[0].kind),
        ("research", stepwise_engine::workflow::StepKindName::Agent)
    );
    assert_eq!(
        store.workflow_of(id).unwrap().unwrap().steps[0].id,
        "research"
    );
    // Version 2 added search; the old run is indexed by the migration.
    let found = store
        .list_runs(&RunFilter {
            search: Some("europa".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.iter().map(|r| r.run_id).collect::<Vec<_>>(), [id]);
    // Its version 1 log is read in today's form.
    let events = store.events(id).unwrap();
    assert_eq!(events.len(), 1);
    let EventKind::RunStarted { steps, .. } = &events[0].kind else {
        panic!("{:?}", events[0])
    };
    assert_eq!((steps[0].path.as_str(), events[0].v), ("research", 2));
    drop(store);
    let version: u32 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 8);
}

/// `fixtures/history-v3.db` was written by the `stepwise` CLI of the version before the step
/// tree: a completed run, a run cancelled in its first step, and one that failed in step 2.
#[tokio::test]
async fn a_history_from_before_the_step_tree_opens_and_shows_every_run() {
    let path = scratch_db("v3");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/history-v3.db"),
        &path,
    )
    .unwrap();
    let store = Store::open(&path).unwrap();
    let runs = store.list_runs(&RunFilter::default()).unwrap();
    assert_eq!(runs.len(), 3);
    let by_input = |input: &str| runs.iter().find(|r| r.input == input).unwrap().run_id;

    let done = store.get_run(by_input("tidal energy")).unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    let paths: Vec<&str> = done.steps.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["research", "write"]);
    assert_eq!(
        done.final_output.as_deref(),
        Some(done.steps[1].text.as_str())
    );

    let failed = store.get_run(by_input("honey bees")).unwrap().unwrap();
    let error = failed.error.clone().unwrap();
    assert_eq!(
        (error.path.as_deref(), error.kind),
        (Some("write-it-up"), ErrorKind::Auth),
        "the failed step's position becomes its path"
    );
    assert_eq!(failed.steps[1].status, StepStatus::Failed);

    // Each old log, read in today's form, folds to the run the history shows.
    for run in &runs {
        let saved = store.get_run(run.run_id).unwrap().unwrap();
        let events = store.events(run.run_id).unwrap();
        assert!(
            events
                .iter()
                .all(|e| e.v == stepwise_engine::event::PROTOCOL_VERSION)
        );
        let mut folded = RunSnapshot::new(run.run_id);
        for e in &events {
            assert!(folded.apply(e), "{e:?}");
        }
        assert_eq!(folded.status, saved.status, "{}", run.input);
        assert_eq!(
            folded
                .steps
                .iter()
                .map(|s| (&s.path, s.status, &s.text))
                .collect::<Vec<_>>(),
            saved
                .steps
                .iter()
                .map(|s| (&s.path, s.status, &s.text))
                .collect::<Vec<_>>(),
            "{}",
            run.input
        );
    }
    let cancelled = by_input("Q3 planning");
    let events = store.events(cancelled).unwrap();
    let EventKind::RunCancelled { running, .. } = &events.last().unwrap().kind else {
        panic!()
    };
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].path, "summarize");
    assert!(!running[0].text.is_empty(), "the partial text is restored");

    // Today's runs go into the same file beside them.
    let engine = engine_with_store(&store, DemoPace::INSTANT);
    let wf = templates::get("three-angles").unwrap().workflow;
    let (id, mut sub) = start(&engine, wf, "tidal energy");
    collect(&mut sub).await;
    store.flush(Duration::from_secs(10)).unwrap();
    let tree = store.get_run(id).unwrap().unwrap();
    assert_eq!(tree.status, RunStatus::Completed);
    assert_eq!(tree.steps.len(), 5);
    assert_eq!(store.list_runs(&RunFilter::default()).unwrap().len(), 4);
    // Its export follows the tree: each branch under its parallel step, each text once.
    let md = store.export(id, ExportFormat::Markdown).unwrap().unwrap();
    assert!(md.contains("\n## 1. Angles (parallel, done in"), "{md}");
    assert!(md.contains("\n### Economics (demo, done in"), "{md}");
    assert!(md.contains("\n## 2. Summary (demo, done in"), "{md}");
    let economics = &tree.step("angles/economics").unwrap().text;
    assert_eq!(md.matches(economics.as_str()).count(), 1, "each text once");
}

fn bytes_of(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn a_damaged_file_is_refused_and_left_untouched() {
    let path = scratch_db("corrupt");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("runs still work"));
    assert_eq!(bytes_of(&path), garbage, "nothing overwritten");
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let path = scratch_db("newer");
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let before = bytes_of(&path);
    let err = Store::open(&path).err().unwrap();
    assert_eq!(
        err,
        StoreError::TooNew {
            path: path.display().to_string(),
            found: 99,
            supported: 8
        }
    );
    assert_eq!(bytes_of(&path), before);
}

#[test]
fn a_read_only_file_is_refused_and_left_untouched() {
    let path = scratch_db("readonly");
    drop(Store::open(&path).unwrap());
    let before = bytes_of(&path);
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms).unwrap();
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err}");
    assert_eq!(bytes_of(&path), before);
}

#[test]
fn a_locked_database_is_reported_in_bounded_time() {
    let path = scratch_db("locked");
    drop(Store::open(&path).unwrap());
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    // The open gives up after its busy timeout (two seconds); the deadline here only catches an
    // open that waits for ever.
    let (tx, rx) = std::sync::mpsc::channel();
    let opening = path.clone();
    std::thread::spawn(move || tx.send(Store::open(&opening).err()));
    let err = rx
        .recv_timeout(PATIENCE)
        .expect("opening a locked database never gave up")
        .unwrap();
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
    drop(holder);
    assert!(Store::open(&path).is_ok(), "usable again once released");
}

#[tokio::test]
async fn a_full_disk_never_stops_a_run() {
    let path = scratch_db("full");
    let store = Store::open_with(
        &path,
        &StoreOptions {
            max_bytes: Some(512 * 1024),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let engine = engine_with_store(&store, DemoPace::INSTANT);
    let (small, mut s1) = start(&engine, steps(1, "demo"), "fits");
    collect(&mut s1).await;
    store.flush(SOON).unwrap();
    // A run far larger than the cap: every write of it fails, the run does not notice.
    let big = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT).with_words(100_000)),
        default_model: None,
        sink: Some(store.sink()),
        ..EngineConfig::default()
    });
    let (id, mut sub) = start(&big, steps(1, "demo"), "too big");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    assert_eq!(
        big.get(id).unwrap().steps[0]
            .text
            .split_whitespace()
            .count(),
        100_000
    );
    assert_eq!(store.flush(SOON), Err(StoreError::Full));
    assert!(
        store.health().unwrap().contains("full"),
        "{:?}",
        store.health()
    );
    // What was saved before is intact and readable.
    assert_eq!(
        store.get_run(small).unwrap().unwrap().status,
        RunStatus::Completed
    );
}

#[tokio::test]
async fn a_start_with_an_id_from_the_history_is_refused() {
    let path = scratch_db("id-taken");
    let store = Store::open(&path).unwrap();
    let id = RunId::new_v4();
    let first = engine_with_store(&store, PACED);
    let run = StartRun {
        workflow: steps(1, "demo"),
        input: "x".into(),
        run_id: Some(id),
    };
    first.start(run.clone()).unwrap();
    first.wait(id).await.unwrap();
    store.flush(SOON).unwrap();
    // A new session (the run is no longer in memory) must not merge a new run into the old one.
    let second = engine_with_store(&store, PACED);
    assert_eq!(second.start(run), Err(StartError::RunExists));
    assert_eq!(
        store.get_run(id).unwrap().unwrap().status,
        RunStatus::Completed
    );
}

/// Deleting past runs while others stream and the writer commits every millisecond: each delete
/// waits its turn instead of failing with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_can_be_deleted_while_runs_stream() {
    let path = scratch_db("delete-while-streaming");
    let store = Arc::new(
        Store::open_with(
            &path,
            &StoreOptions {
                batch_interval: Some(Duration::from_millis(1)),
                ..StoreOptions::default()
            },
        )
        .unwrap(),
    );
    let engine = engine_with_store(&store, DemoPace::INSTANT);
    let mut old = Vec::new();
    for _ in 0..60 {
        let (id, mut sub) = start(&engine, steps(1, "demo"), "old run");
        collect(&mut sub).await;
        old.push(id);
    }
    store.flush(SOON).unwrap();
    let streaming: Vec<_> = (0..8)
        .map(|_| {
            start(
                &engine,
                templates::get("long-story").unwrap().workflow,
                "new run",
            )
        })
        .collect();
    let deleter = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            old.iter()
                .map(|id| store.delete_run(*id))
                .collect::<Vec<_>>()
        })
    };
    for result in deleter.await.unwrap() {
        assert!(result.unwrap());
    }
    for (id, _) in streaming {
        engine.cancel(id, CancelReason::User);
    }
}

/// After a large write the write-ahead log file shrinks back at the next checkpoint instead of
/// keeping its largest size on disk for good.
#[tokio::test]
async fn the_write_ahead_log_does_not_keep_its_largest_size() {
    let path = scratch_db("wal-limit");
    let store = Store::open_with(
        &path,
        &StoreOptions {
            wal_checkpoint_pages: Some(50),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let wal = || std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len());
    let piece = "x".repeat(64 * 1024);
    let big = ScriptedProvider::new(Script {
        pieces: vec![piece; 192], // 12 MB in one batch
        first_delay: Duration::ZERO,
        delay: Duration::ZERO,
        fail_after: None,
    });
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT))
            .with(ProviderKind::OpenAi, big),
        sink: Some(store.sink()),
        max_step_output: usize::MAX,
        ..EngineConfig::default()
    });
    let (_, mut sub) = start(&engine, steps(1, "openai:m"), "big");
    collect(&mut sub).await;
    store.flush(SOON).unwrap();
    let largest = wal();
    assert!(
        largest > 10_000_000,
        "the big write went through the log ({largest} bytes)"
    );
    // Small writes after it: the log is checkpointed, then cut back.
    let small = engine_with_store(&store, DemoPace::INSTANT);
    for _ in 0..5 {
        let (_, mut sub) = start(&small, steps(1, "demo"), "small");
        collect(&mut sub).await;
        store.flush(SOON).unwrap();
    }
    assert!(wal() < 5_000_000, "the log was cut back to {} bytes", wal());
}
