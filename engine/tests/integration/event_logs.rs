//! One fold, two languages: the recorded event logs in `fixtures/event-logs/` (one JSON event a
//! line, every kind of step and every outcome, coalesced deltas included) must fold to the
//! snapshot saved beside each — here with the engine's `RunSnapshot::apply`, and in
//! `ui/src/lib/event-logs.test.ts` with the window's `applyEvent`. If either fold changes, its
//! test fails until both agree again.
//!
//! `fixtures/event-logs/v1/` holds logs written by protocol version 1 (before the step tree), as
//! old histories keep them: read through `event::v1::Upgrader`, they fold to today's snapshots.
//! (Only the history reads version 1; the window never receives it.)
//!
//! `cargo test -p stepwise-engine --test integration event_logs -- --ignored` records the version 2 logs
//! afresh from real runs and writes the snapshots the engine folds every log to (review the diff
//! before keeping it).

use std::path::PathBuf;
use std::time::Duration;

use crate::support::*;
use serde_json::json;
use std::sync::Arc;
use stepwise_engine::event::PROTOCOL_VERSION;
use stepwise_engine::event::v1::Upgrader;
use stepwise_engine::provider::{DemoModel, DemoPace};
use stepwise_engine::provider::{HttpOptions, OpenAiProvider};
use stepwise_engine::store::Store;
use stepwise_engine::tool::{ToolSettings, Tools};
use stepwise_engine::workflow::StepKindName;
use stepwise_engine::workflow::templates;
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, ErrorKind, EventKind, RunEvent, RunSnapshot,
};
use stepwise_testkit::{Behavior, Page, ScriptedCall, TestServer};
use uuid::Uuid;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/event-logs")
}

fn read_log(path: &std::path::Path) -> Vec<RunEvent> {
    let mut upgrader = Upgrader::default();
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| upgrader.read(l).unwrap())
        .collect()
}

fn logs_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    logs.sort();
    logs
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
    let v1 = logs_in(&dir().join("v1"));
    assert!(v1.len() >= 6, "only {} version 1 logs", v1.len());
    for path in logs_in(&dir()).into_iter().chain(v1) {
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
    assert!(checked >= 20, "only {checked} logs");
}

#[test]
fn the_logs_cover_every_event_and_step_kind() {
    let mut types = std::collections::BTreeSet::new();
    let mut kinds = std::collections::BTreeSet::new();
    for path in logs_in(&dir()) {
        for e in read_log(&path) {
            assert_eq!(e.v, PROTOCOL_VERSION, "{}", path.display());
            types.insert(e.kind.type_name());
            if let EventKind::StepStarted { step } = &e.kind {
                kinds.insert(step.kind.as_str());
            }
        }
    }
    for t in [
        "RunStarted",
        "StepStarted",
        "TextDelta",
        "StepCompleted",
        "StepFailed",
        "StepSkipped",
        "LoopRoundStarted",
        "RouteChosen",
        "ToolCallStarted",
        "ToolCallFinished",
        "ToolApprovalRequested",
        "ToolApprovalAnswered",
        "ReviewRequested",
        "ReviewAnswered",
        "StepReused",
        "RunCompleted",
        "RunCancelled",
        "RunFailed",
    ] {
        assert!(types.contains(t), "no log has a {t}");
    }
    for k in StepKindName::ALL {
        assert!(
            kinds.contains(k.as_str()),
            "no log runs a {} step",
            k.as_str()
        );
    }
}

/// Writes the snapshot of a log that has none yet (a log written by hand, such as
/// `taken-over.jsonl`): `cargo test -p stepwise-engine --test integration -- --ignored fold_new_logs`.
#[test]
#[ignore = "writes the snapshots of new logs"]
fn fold_new_logs() {
    for path in logs_in(&dir()) {
        let target = path.with_extension("snapshot.json");
        if !target.exists() {
            let snapshot = serde_json::to_string_pretty(&fold(&read_log(&path))).unwrap();
            std::fs::write(target, snapshot + "\n").unwrap();
        }
    }
}

/// Re-writes the snapshot of each version 1 log (their logs are history: never re-recorded).
fn refold_v1() {
    for path in logs_in(&dir().join("v1")) {
        let snapshot = serde_json::to_string_pretty(&fold(&read_log(&path))).unwrap();
        std::fs::write(path.with_extension("snapshot.json"), snapshot + "\n").unwrap();
    }
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
            | EventKind::StepFailed { duration_ms, .. }
            | EventKind::RunCompleted { duration_ms, .. }
            | EventKind::RunCancelled { duration_ms, .. }
            | EventKind::RunFailed { duration_ms, .. }
            | EventKind::ToolCallFinished { duration_ms, .. } = &mut e.kind
            {
                *duration_ms = 100;
            }
            e
        })
        .collect()
}

/// An engine whose `openai:` models are the test server, with these tool settings.
fn tool_engine(server: &TestServer, tools: ToolSettings) -> Engine {
    Engine::new(EngineConfig {
        providers: stepwise_engine::provider::Providers::demo(DemoModel::new(DemoPace::INSTANT))
            .with(
                stepwise_engine::ProviderKind::OpenAi,
                Arc::new(OpenAiProvider::new(
                    server.openai_base(),
                    None,
                    HttpOptions::default(),
                )),
            ),
        tools: Tools::new(tools),
        ..EngineConfig::default()
    })
}

/// Follows a run and cancels it once `ready` holds for the events seen so far.
async fn cancel_after(
    engine: &Engine,
    id: stepwise_engine::RunId,
    sub: &mut stepwise_engine::Subscription,
    ready: impl Fn(&[RunEvent]) -> bool,
) -> Vec<RunEvent> {
    let mut events = Vec::new();
    let mut cancelled = false;
    while let Some(e) = next_event(sub).await {
        events.push(e);
        if !cancelled && ready(&events) {
            assert!(engine.cancel(id, CancelReason::User));
            cancelled = true;
        }
    }
    events
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
    refold_v1();
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
    while let Some(e) = next_event(&mut sub).await {
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
    let mut events = vec![
        next_event(&mut sub).await.unwrap(),
        next_event(&mut sub).await.unwrap(),
    ];
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

    // The step tree: every kind, completed and cancelled in the middle.
    let angles = templates::get("three-angles").unwrap().workflow;
    let review = templates::get("draft-and-review").unwrap().workflow;
    let triage = templates::get("answer-a-message").unwrap().workflow;
    let engine = demo_engine(DemoModel::new(DemoPace::INSTANT));
    let (_, mut sub) = start(&engine, angles.clone(), "tidal energy");
    write(
        "parallel-completed",
        normalized(collect(&mut sub).await, 11),
    );
    let (_, mut sub) = start(&engine, review.clone(), "tidal energy");
    write("loop-completed", normalized(collect(&mut sub).await, 12));
    let (_, mut sub) = start(&engine, triage, "I was charged twice on my invoice");
    write("router-completed", normalized(collect(&mut sub).await, 13));

    let engine = demo_engine(DemoModel::new(paced));
    let (id, mut sub) = start(&engine, angles, "tidal energy");
    let events = cancel_after(&engine, id, &mut sub, |seen| {
        // Every branch has written something.
        ["angles/economics", "angles/environment", "angles/society"]
            .iter()
            .all(|p| !deltas_of(seen, p).is_empty())
    })
    .await;
    write("parallel-cancelled-mid-branch", normalized(events, 14));
    let (id, mut sub) = start(&engine, review, "tidal energy");
    let events = cancel_after(&engine, id, &mut sub, |seen| {
        !deltas_of(seen, "revise#2/critique").is_empty()
    })
    .await;
    write("loop-cancelled-in-round-2", normalized(events, 15));

    // A condition whose `else` runs, inside a group.
    let engine = demo_engine(DemoModel::new(DemoPace::INSTANT));
    let wf = workflow_of(
        "name = \"Check\"\n[[steps]]\nname = \"Facts\"\ninstructions = \"List the facts.\"\n\
         [[steps]]\nname = \"Wrap\"\nkind = \"group\"\n\
         [[steps.steps]]\nname = \"Long enough\"\nkind = \"condition\"\n\
         if = 'output contains \"NO SUCH WORD\"'\n\
         [[steps.steps.then]]\nname = \"Expand\"\ninstructions = \"Write an article.\"\n\
         [[steps.steps.else]]\nname = \"Shorten\"\ninstructions = \"Summarize it.\"\n",
    );
    let (_, mut sub) = start(&engine, wf, "bees");
    write("condition-else", normalized(collect(&mut sub).await, 16));

    // Failures set aside: `skip` and `continue`; and a step that runs out of time.
    let mut script = Script::words(6, Duration::ZERO);
    script.fail_after = Some((2, ErrorKind::Network));
    let engine = scripted_engine(ScriptedProvider::new(script));
    let wf = workflow_of(
        "name = \"Aside\"\n[[steps]]\nname = \"A\"\ninstructions = \"a\"\n\
         [[steps]]\nname = \"B\"\ninstructions = \"b\"\nmodel = \"openai:m\"\non_error = \"skip\"\n\
         [[steps]]\nname = \"C\"\ninstructions = \"c\"\nmodel = \"openai:m\"\non_error = \"continue\"\n\
         [[steps]]\nname = \"D\"\ninstructions = \"d\"\n",
    );
    let (_, mut sub) = start(&engine, wf, "set aside");
    write(
        "failures-set-aside",
        normalized(collect(&mut sub).await, 17),
    );
    let engine = scripted_engine(ScriptedProvider::new(Script::words(
        100,
        Duration::from_millis(300),
    )));
    let wf = workflow_of(
        "name = \"Slow\"\n[[steps]]\nname = \"Slow\"\ninstructions = \"a\"\nmodel = \"openai:m\"\ntimeout_secs = 1\n",
    );
    let (_, mut sub) = start(&engine, wf, "too slow");
    write("failed-by-timeout", normalized(collect(&mut sub).await, 18));

    // Tools: a call that fails at once (the page is missing) beside one that hangs, cancelled
    // while it hangs.
    let server = TestServer::start().await.unwrap();
    server.set_page("/slow", Page::stalling());
    let base = server.url();
    server.push(Behavior::text(&["Reading ", "both. "], 0).with_calls(
        vec![
            ScriptedCall::new(
                "gone",
                "fetch_page",
                json!({ "url": format!("{base}/gone") }),
            ),
            ScriptedCall::new(
                "slow",
                "fetch_page",
                json!({ "url": format!("{base}/slow") }),
            ),
        ],
        4,
    ));
    let engine = tool_engine(
        &server,
        ToolSettings {
            allow_private_network: true,
            allow_hosts: vec!["127.0.0.1".into()],
            ..ToolSettings::default()
        },
    );
    let wf = workflow_of(
        "name = \"Read\"\n[[steps]]\nname = \"Read\"\ninstructions = \"r\"\nmodel = \"openai:m\"\ntools = [\"fetch_page\"]\n",
    );
    let (id, mut sub) = start(&engine, wf, "two pages");
    let events = cancel_after(&engine, id, &mut sub, |seen| {
        seen.iter()
            .any(|e| matches!(e.kind, EventKind::ToolCallFinished { .. }))
    })
    .await;
    // The server's port changes from run to run; the log should not.
    let events = with_address(&events, &base, "http://127.0.0.1:8080");
    write("tool-call-cancelled", normalized(events, 19));

    // A tool step: no model, its arguments filled in from the input.
    server.set_page(
        "/article",
        Page::html("<main><h1>Tides</h1><p>Twice a day.</p></main>"),
    );
    let wf = workflow_of(
        "name = \"Fetch\"\n[[steps]]\nname = \"Fetch\"\nkind = \"tool\"\ntool = \"fetch_page\"\n\
         [steps.arguments]\nurl = \"{{input}}\"\n",
    );
    let (_, mut sub) = start(&engine, wf, &format!("{base}/article"));
    let events = with_address(&collect(&mut sub).await, &base, "http://127.0.0.1:8080");
    write("tool-step", normalized(events, 21));

    // A tool that asks first (Settings say `ask`): denied, then allowed; the model goes on.
    let server = TestServer::start().await.unwrap();
    server.set_page("/page", Page::html("<p>The page.</p>"));
    let base = server.url();
    let fetch = |id: &str| {
        Behavior::text(&["Asking. "], 0).with_calls(
            vec![ScriptedCall::new(
                id,
                "fetch_page",
                json!({ "url": format!("{base}/page") }),
            )],
            0,
        )
    };
    server.push(fetch("denied"));
    server.push(fetch("allowed"));
    server.push(Behavior::text(&["Read ", "it."], 0));
    let engine = tool_engine(
        &server,
        ToolSettings {
            allow_private_network: true,
            allow_hosts: vec!["127.0.0.1".into()],
            ask: vec!["fetch_page".into()],
            ..ToolSettings::default()
        },
    );
    let wf = workflow_of(
        "name = \"Ask\"\n[[steps]]\nname = \"Read\"\ninstructions = \"r\"\nmodel = \"openai:m\"\ntools = [\"fetch_page\"]\n",
    );
    let (id, mut sub) = start(&engine, wf, "ask first");
    let mut events = Vec::new();
    let mut answers = vec![
        stepwise_engine::ApprovalAnswer::Allow,
        stepwise_engine::ApprovalAnswer::Deny,
    ];
    while let Some(e) = next_event(&mut sub).await {
        if let EventKind::ToolApprovalRequested { path, call_id } = &e.kind {
            engine.answer_tool_call(id, path, call_id, answers.pop().unwrap());
        }
        events.push(e);
    }
    let events = with_address(&events, &base, "http://127.0.0.1:8080");
    write("tool-call-approval", normalized(events, 20));

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

    // Reviews: sent back with a note, then edited; and cancelled while waiting.
    let reviewed = || {
        workflow_of(
            "name = \"Reviewed\"\n[[steps]]\nname = \"Draft\"\ninstructions = \"Write a short summary.\"\n\
             review = true\n[[steps]]\nname = \"Email\"\ninstructions = \"Write an email.\"\n",
        )
    };
    let engine = demo_engine(DemoModel::new(DemoPace::INSTANT));
    let (id, mut sub) = start(&engine, reviewed(), "tidal energy");
    let mut answers = vec![
        stepwise_engine::ReviewAnswer::Edit {
            text: "My own summary of tidal energy.".into(),
        },
        stepwise_engine::ReviewAnswer::SendBack {
            note: "Mention the costs.".into(),
        },
    ];
    let mut events = Vec::new();
    while let Some(e) = next_event(&mut sub).await {
        if let EventKind::ReviewRequested { path, .. } = &e.kind {
            engine
                .answer_review(id, path, answers.pop().unwrap())
                .unwrap();
        }
        events.push(e);
    }
    write("review-sent-back-then-edited", normalized(events, 21));
    let (id, mut sub) = start(&engine, reviewed(), "tidal energy");
    let mut events =
        events_until(&mut sub, |e| matches!(e, EventKind::ReviewRequested { .. })).await;
    assert!(engine.cancel(id, CancelReason::User));
    events.extend(collect(&mut sub).await);
    write("review-cancelled-while-waiting", normalized(events, 22));

    // A run that waited across a quit, approved after the restart, as the history keeps it.
    let db = scratch_db("record-event-logs-restart");
    let store = Store::open(&db).unwrap();
    let engine = Engine::new(EngineConfig {
        providers: stepwise_engine::provider::Providers::demo(DemoModel::new(DemoPace::INSTANT)),
        sink: Some(store.sink()),
        ..EngineConfig::default()
    });
    let (id, mut sub) = start(&engine, reviewed(), "across a restart");
    events_until(&mut sub, |e| matches!(e, EventKind::ReviewRequested { .. })).await;
    engine.shutdown(CancelReason::AppExit).await;
    store.flush(Duration::from_secs(10)).unwrap();
    drop(store);
    let store = Store::open(&db).unwrap();
    let stepwise_engine::store::Waiting::Ready { snapshot, workflow } =
        store.take_waiting(id).unwrap()
    else {
        panic!("not waiting");
    };
    let engine = Engine::new(EngineConfig {
        providers: stepwise_engine::provider::Providers::demo(DemoModel::new(DemoPace::INSTANT)),
        sink: Some(store.sink()),
        ..EngineConfig::default()
    });
    let (id, mut sub) = engine.revive(*snapshot, *workflow).unwrap();
    engine
        .answer_review(id, "draft", stepwise_engine::ReviewAnswer::Approve)
        .unwrap();
    collect(&mut sub).await;
    store.flush(Duration::from_secs(10)).unwrap();
    write(
        "review-approved-after-a-restart-as-saved",
        normalized(store.events(id).unwrap(), 23),
    );

    // A failed run continued from the step that failed: the steps before it reused.
    let mut script = Script::words(6, Duration::ZERO);
    script.fail_after = Some((3, ErrorKind::Auth));
    let engine = scripted_engine(ScriptedProvider::new(script));
    let wf = workflow_of(
        "name = \"Three\"\n[[steps]]\nname = \"First\"\ninstructions = \"a\"\n\
         [[steps]]\nname = \"Second\"\ninstructions = \"b\"\nmodel = \"openai:m\"\n\
         [[steps]]\nname = \"Third\"\ninstructions = \"c\"\n",
    );
    let (failed, mut sub) = start(&engine, wf.clone(), "continue me");
    collect(&mut sub).await;
    let mut original = engine.get(failed).unwrap();
    original.run_id = Uuid::from_u128(5);
    let engine = scripted_engine(ScriptedProvider::new(Script::words(6, Duration::ZERO)));
    let (_, mut sub) = engine
        .resume(stepwise_engine::ResumeRun {
            original,
            workflow: wf,
            today: None,
            from: None,
            run_id: None,
        })
        .unwrap();
    write(
        "resumed-after-failure",
        normalized(collect(&mut sub).await, 24),
    );

    // A group set aside (its time ran out, `on_error = "skip"`) while a step inside it waited for
    // a review: the waiting step is skipped with it.
    let engine = demo_engine(DemoModel::new(DemoPace::INSTANT));
    let wf = workflow_of(
        "name = \"Set aside\"\n[[steps]]\nname = \"Both\"\nkind = \"group\"\n\
         timeout_secs = 1\non_error = \"skip\"\n\
         [[steps.steps]]\nname = \"Draft\"\ninstructions = \"a\"\nreview = true\n\
         [[steps]]\nname = \"After\"\ninstructions = \"b\"\n",
    );
    let (_, mut sub) = start(&engine, wf, "set aside");
    write(
        "group-skipped-while-a-step-waited",
        normalized(collect(&mut sub).await, 25),
    );
}
