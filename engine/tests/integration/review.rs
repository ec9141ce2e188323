//! Review steps, runs that wait across a restart, and continuing a run that ended — against the
//! real HTTP test server (which records every prompt) and a real history file.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{assert_well_formed, collect, events_until, scratch_db, start, workflow_of};
use stepwise_engine::provider::{
    DemoModel, DemoPace, HttpOptions, OpenAiProvider, Providers, RetryPolicy,
};
use stepwise_engine::store::{Store, Waiting};
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, EventKind, ProviderKind, ResumeError, ResumeRun,
    ReviewAnswer, ReviewError, RunEvent, RunId, RunStatus, StartError, StepStatus, Subscription,
    Workflow,
};
use stepwise_testkit::{Behavior, TestServer};

const LIMIT: Duration = Duration::from_secs(20);

fn engine(server: &TestServer, key: &str, store: Option<&Store>) -> Engine {
    let options = HttpOptions {
        idle_timeout: Duration::from_secs(30),
        retry: RetryPolicy {
            max_retries: 0,
            base_delay: Duration::from_millis(10),
            max_wait: Duration::from_secs(1),
        },
    };
    let openai = OpenAiProvider::new(server.openai_base(), Some(key.into()), options);
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT))
            .with(ProviderKind::OpenAi, Arc::new(openai)),
        sink: store.map(Store::sink),
        ..EngineConfig::default()
    })
}

/// Draft (reviewed) → Final.
fn reviewed() -> Workflow {
    workflow_of(
        r#"name = "Reviewed"
[[steps]]
id = "draft"
name = "Draft"
instructions = "Write a draft."
model = "openai:test"
review = true
[[steps]]
id = "final"
name = "Final"
instructions = "Polish it."
model = "openai:test"
"#,
    )
}

fn says(text: &str) -> Behavior {
    Behavior::text(&[text], 0)
}

/// The user message of the server's `i`th request.
fn prompt(server: &TestServer, i: usize) -> String {
    let body = server.requests()[i].json();
    let messages = body["messages"].as_array().unwrap();
    messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn until_review(sub: &mut Subscription) -> Vec<RunEvent> {
    events_until(sub, |e| matches!(e, EventKind::ReviewRequested { .. })).await
}

fn output_of(events: &[RunEvent]) -> String {
    match assert_well_formed(events) {
        EventKind::RunCompleted { output, .. } => output.clone(),
        other => panic!("not completed: {other:?}"),
    }
}

#[tokio::test]
async fn approve_edit_and_send_back_each_reach_the_next_step_as_intended() {
    let server = TestServer::start().await.unwrap();
    let engine = engine(&server, "sk-test", None);

    // Approve: the next step gets the draft as written.
    server.push(says("First draft."));
    server.push(says("Polished."));
    let (id, mut sub) = start(&engine, reviewed(), "tides");
    let seen = until_review(&mut sub).await;
    assert_eq!(engine.get(id).unwrap().status, RunStatus::Waiting);
    assert!(matches!(
        &seen.last().unwrap().kind,
        EventKind::ReviewRequested { path, output } if path == "draft" && output == "First draft."
    ));
    assert_eq!(server.request_count(), 1, "nothing runs on while it waits");
    engine
        .answer_review(id, "draft", ReviewAnswer::Approve)
        .unwrap();
    let rest = collect(&mut sub).await;
    assert_eq!(output_of(&[seen, rest].concat()), "Polished.");
    assert!(prompt(&server, 1).contains("First draft."));

    // Edit: the next step gets the person's text; the history keeps both.
    server.reset();
    server.push(says("Second draft."));
    server.push(says("Polished again."));
    let (id, mut sub) = start(&engine, reviewed(), "tides");
    until_review(&mut sub).await;
    assert_eq!(
        engine.answer_review(id, "draft", ReviewAnswer::Edit { text: "  ".into() }),
        Err(ReviewError::EmptyEdit)
    );
    engine
        .answer_review(
            id,
            "draft",
            ReviewAnswer::Edit {
                text: "My own draft.".into(),
            },
        )
        .unwrap();
    collect(&mut sub).await;
    let p = prompt(&server, 1);
    assert!(
        p.contains("My own draft.") && !p.contains("Second draft."),
        "{p}"
    );
    let snap = engine.get(id).unwrap();
    let draft = snap.step("draft").unwrap();
    assert_eq!(draft.text, "My own draft.");
    assert_eq!(draft.reviews.len(), 1);
    assert_eq!(draft.reviews[0].output, "Second draft.");

    // Send back: the step runs again with the note and its last answer, as a second round.
    server.reset();
    server.push(says("Long draft."));
    server.push(says("Short draft."));
    server.push(says("Polished short."));
    let (id, mut sub) = start(&engine, reviewed(), "tides");
    let mut seen = until_review(&mut sub).await;
    engine
        .answer_review(
            id,
            "draft",
            ReviewAnswer::SendBack {
                note: "Make it shorter.".into(),
            },
        )
        .unwrap();
    seen.extend(until_review(&mut sub).await);
    assert!(matches!(
        &seen.last().unwrap().kind,
        EventKind::ReviewRequested { output, .. } if output == "Short draft."
    ));
    let again = prompt(&server, 1);
    assert!(
        again.contains("Make it shorter.") && again.contains("Long draft."),
        "{again}"
    );
    engine
        .answer_review(id, "draft", ReviewAnswer::Approve)
        .unwrap();
    seen.extend(collect(&mut sub).await);
    assert_eq!(output_of(&seen), "Polished short.");
    assert!(prompt(&server, 2).contains("Short draft.") && !prompt(&server, 2).contains("Long"));
    let snap = engine.get(id).unwrap();
    let draft = snap.step("draft").unwrap();
    assert_eq!(draft.reviews.len(), 2);
    assert_eq!(draft.reviews[0].output, "Long draft.");
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn cancel_while_waiting_ends_the_run_once_and_keeps_the_text() {
    let server = TestServer::start().await.unwrap();
    let engine = engine(&server, "sk-test", None);
    server.push(says("A draft to keep."));
    let (id, mut sub) = start(&engine, reviewed(), "tides");
    let mut events = until_review(&mut sub).await;
    assert!(engine.cancel(id, CancelReason::User));
    assert!(!engine.cancel(id, CancelReason::User));
    events.extend(collect(&mut sub).await);
    let EventKind::RunCancelled { running, .. } = assert_well_formed(&events) else {
        panic!("not cancelled");
    };
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].text, "A draft to keep.");
    let snap = engine.get(id).unwrap();
    assert_eq!(snap.status, RunStatus::Cancelled);
    assert_eq!(snap.step("draft").unwrap().status, StepStatus::Cancelled);
    assert_eq!(snap.step("draft").unwrap().text, "A draft to keep.");
    assert_eq!(
        engine.answer_review(id, "draft", ReviewAnswer::Approve),
        Err(ReviewError::NotWaiting),
        "a late answer is refused"
    );
    assert_eq!(server.request_count(), 1);
    assert!(snap.step("draft").unwrap().unreviewed);

    // Continued, it asks for the review again with the draft it had: the draft is not paid twice.
    server.push(says("Final."));
    let (new, mut sub) = engine
        .resume(ResumeRun {
            original: snap,
            workflow: reviewed(),
            today: None,
            from: None,
            run_id: None,
        })
        .unwrap();
    let mut events = until_review(&mut sub).await;
    assert!(matches!(
        &events.last().unwrap().kind,
        EventKind::ReviewRequested { output, .. } if output == "A draft to keep."
    ));
    assert_eq!(server.request_count(), 1, "no request for the draft");
    engine
        .answer_review(new, "draft", ReviewAnswer::Approve)
        .unwrap();
    events.extend(collect(&mut sub).await);
    assert_eq!(output_of(&events), "Final.");
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn a_run_waiting_at_quit_is_still_waiting_after_a_restart_and_completes_when_approved() {
    let server = TestServer::start().await.unwrap();
    let db = scratch_db("review-restart");
    server.push(says("Draft before the quit."));
    server.push(says("Final after the restart."));

    let store = Store::open(&db).unwrap();
    let first = engine(&server, "sk-test", Some(&store));
    let (id, mut sub) = start(&first, reviewed(), "tides");
    let before = until_review(&mut sub).await;
    // The app quits: the waiting run is parked, not cancelled — no terminal event.
    first.shutdown(CancelReason::AppExit).await;
    assert!(collect(&mut sub).await.is_empty());
    store.flush(LIMIT).unwrap();
    drop(store);

    // A new process over the same history.
    let store = Store::open(&db).unwrap();
    assert_eq!(
        store.get_run(id).unwrap().unwrap().status,
        RunStatus::Waiting
    );
    assert_eq!(store.waiting_run_ids().unwrap(), vec![id]);
    let Waiting::Ready { snapshot, workflow } = store.take_waiting(id).unwrap() else {
        panic!("not ready to answer");
    };
    assert_eq!(
        snapshot.step("draft").unwrap().text,
        "Draft before the quit."
    );
    let second = engine(&server, "sk-test", Some(&store));
    let (id, mut sub) = second.revive(*snapshot, *workflow).unwrap();
    assert_eq!(second.get(id).unwrap().status, RunStatus::Waiting);
    second
        .answer_review(id, "draft", ReviewAnswer::Approve)
        .unwrap();
    let after = collect(&mut sub).await;
    assert_eq!(after.first().unwrap().seq, before.last().unwrap().seq + 1);
    assert!(
        !after
            .iter()
            .any(|e| matches!(e.kind, EventKind::StepStarted { ref step } if step.path == "draft")),
        "the reviewed step is not started again"
    );
    store.flush(LIMIT).unwrap();

    // The whole log, as saved: one run, one terminal event, no gap.
    let saved = store.events(id).unwrap();
    assert_eq!(output_of(&saved), "Final after the restart.");
    let snap = store.get_run(id).unwrap().unwrap();
    assert_eq!(snap.status, RunStatus::Completed);
    assert_eq!(snap.step("draft").unwrap().reviews.len(), 1);
    assert_eq!(
        server.request_count(),
        2,
        "the draft was not asked for again"
    );
    assert!(prompt(&server, 1).contains("Draft before the quit."));
    second.shutdown(CancelReason::AppExit).await;
}

/// Draft → Outline → Write → Polish.
fn four_steps() -> Workflow {
    workflow_of(&four_steps_toml())
}

#[tokio::test]
async fn a_failed_run_continued_after_the_key_is_fixed_pays_only_for_the_rest() {
    let server = TestServer::start().await.unwrap();
    let db = scratch_db("resume-failed");
    let store = Store::open(&db).unwrap();

    // The run that never failed, for comparison.
    for t in ["A.", "B.", "C.", "D."] {
        server.push(says(t));
    }
    let clean = engine(&server, "sk-test", None);
    let (_, mut sub) = start(&clean, four_steps(), "tides");
    let clean_output = output_of(&collect(&mut sub).await);
    let clean_prompts: Vec<String> = (2..4).map(|i| prompt(&server, i)).collect();

    // Step 3 is refused: a wrong key.
    server.reset();
    server.push(says("A."));
    server.push(says("B."));
    server.push(Behavior::status(401, "invalid api key"));
    let broken = engine(&server, "sk-wrong", Some(&store));
    let (failed_id, mut sub) = start(&broken, four_steps(), "tides");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunFailed { .. }
    ));
    store.flush(LIMIT).unwrap();

    // The key is fixed; the run is continued from where it stopped.
    server.reset();
    server.push(says("C."));
    server.push(says("D."));
    let fixed = engine(&server, "sk-test", Some(&store));
    let original = store.get_run(failed_id).unwrap().unwrap();
    let workflow = store.workflow_of(failed_id).unwrap().unwrap();
    let (id, mut sub) = fixed
        .resume(ResumeRun {
            original,
            workflow,
            today: None,
            from: None,
            run_id: None,
        })
        .unwrap();
    let events = collect(&mut sub).await;
    assert_eq!(output_of(&events), clean_output);
    assert_eq!(server.request_count(), 2, "requests only for steps 3 and 4");
    let prompts: Vec<String> = (0..2).map(|i| prompt(&server, i)).collect();
    assert_eq!(
        prompts, clean_prompts,
        "the same prompts as a run that never failed"
    );
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer sk-test")
    );
    let reused: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StepReused { step, from_run, .. } if *from_run == failed_id => {
                Some(step.path.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(reused, ["draft", "outline"]);

    // Both show the link.
    store.flush(LIMIT).unwrap();
    let new = store.get_run(id).unwrap().unwrap();
    assert_eq!(new.resumed_from.as_ref().unwrap().run_id, failed_id);
    assert_eq!(new.resumed_from.as_ref().unwrap().step, "write");
    assert!(new.step("draft").unwrap().reused);
    assert_eq!(
        store.get_run(failed_id).unwrap().unwrap().continued_in,
        vec![id]
    );
}

#[tokio::test]
async fn continuing_checks_where_from_and_with_which_workflow() {
    let server = TestServer::start().await.unwrap();
    let db = scratch_db("resume-checks");
    let store = Store::open(&db).unwrap();
    server.push(says("A."));
    server.push(Behavior::status(500, "down"));
    let e = engine(&server, "sk-test", Some(&store));
    let (failed, mut sub) = start(&e, four_steps(), "tides");
    collect(&mut sub).await;
    store.flush(LIMIT).unwrap();
    let original = store.get_run(failed).unwrap().unwrap();
    let saved = store.workflow_of(failed).unwrap().unwrap();
    let resume = |from: Option<&str>, today: Option<Workflow>| {
        e.resume(ResumeRun {
            original: original.clone(),
            workflow: saved.clone(),
            today,
            from: from.map(str::to_string),
            run_id: None,
        })
        .map(|(id, _)| id)
    };
    let refused = |r: Result<RunId, StartError>| match r {
        Err(StartError::Resume(e)) => e,
        other => panic!("not refused: {other:?}"),
    };
    assert!(matches!(
        refused(resume(Some("write"), None)),
        ResumeError::EarlierStepNotDone { step } if step == "Outline"
    ));
    assert!(matches!(
        refused(resume(Some("nope"), None)),
        ResumeError::NoSuchStep { .. }
    ));
    assert!(matches!(
        refused(resume(Some("outline/x"), None)),
        ResumeError::Nested { top, .. } if top == "outline"
    ));
    // Today's version with a changed first step cannot reuse it.
    let changed = workflow_of(&four_steps_toml().replace("Draft it.", "Draft it differently."));
    assert!(matches!(
        refused(resume(Some("outline"), Some(changed))),
        ResumeError::WorkflowChanged { step, .. } if step == "Draft"
    ));
    // A change after the step continued from is today's to make.
    let later = workflow_of(&four_steps_toml().replace("Polish it.", "Polish it well."));
    server.reset();
    for t in ["B.", "C.", "D."] {
        server.push(says(t));
    }
    let id = resume(None, Some(later)).unwrap();
    let snap = e.wait(id).await.unwrap();
    assert_eq!(snap.status, RunStatus::Completed);
    assert_eq!(server.request_count(), 3);
    assert!(server.requests()[2].body.contains("Polish it well."));
}

fn four_steps_toml() -> String {
    let mut t = String::from("name = \"Four\"\n");
    for name in ["Draft", "Outline", "Write", "Polish"] {
        t.push_str(&format!(
            "[[steps]]\nname = \"{name}\"\ninstructions = \"{name} it.\"\nmodel = \"openai:test\"\n"
        ));
    }
    t
}

#[tokio::test]
async fn a_revived_run_keeps_its_routers_choice_and_a_step_sent_back_after_the_restart_runs_again()
{
    let server = TestServer::start().await.unwrap();
    let db = scratch_db("review-restart-routed");
    let routed = || {
        workflow_of(
            r#"name = "Routed"
[[steps]]
name = "Pick"
kind = "router"
model = "openai:test"
[[steps.routes]]
name = "short"
description = "short answers"
[[steps.routes.steps]]
name = "Answer"
instructions = "Answer."
model = "openai:test"
review = true
[[steps.routes]]
name = "long"
description = "long answers"
[[steps.routes.steps]]
name = "Essay"
instructions = "Essay."
model = "openai:test"
[[steps]]
name = "Sign"
instructions = "Sign it."
model = "openai:test"
"#,
        )
    };
    server.push(says("short\nIt fits."));
    server.push(says("Short answer."));
    let store = Store::open(&db).unwrap();
    let first = engine(&server, "sk-test", Some(&store));
    let (id, mut sub) = start(&first, routed(), "tides");
    let mut all = until_review(&mut sub).await;
    first.shutdown(CancelReason::AppExit).await;
    store.flush(LIMIT).unwrap();
    drop(store);

    let store = Store::open(&db).unwrap();
    let Waiting::Ready { snapshot, workflow } = store.take_waiting(id).unwrap() else {
        panic!("not waiting");
    };
    server.reset();
    server.push(says("A better answer."));
    server.push(says("Signed."));
    let second = engine(&server, "sk-test", Some(&store));
    let (id, mut sub) = second.revive(*snapshot, *workflow).unwrap();
    second
        .answer_review(
            id,
            "pick/answer",
            ReviewAnswer::SendBack {
                note: "Say more.".into(),
            },
        )
        .unwrap();
    all.extend(until_review(&mut sub).await);
    assert_eq!(server.request_count(), 1, "the router was not asked again");
    assert!(prompt(&server, 0).contains("Say more."));
    second
        .answer_review(id, "pick/answer", ReviewAnswer::Approve)
        .unwrap();
    all.extend(collect(&mut sub).await);
    assert_eq!(output_of(&all), "Signed.");
    assert!(prompt(&server, 1).contains("A better answer."));
    let chosen = all
        .iter()
        .filter(|e| matches!(e.kind, EventKind::RouteChosen { .. }))
        .count();
    assert_eq!(chosen, 1, "one choice, made before the quit");
    second.shutdown(CancelReason::AppExit).await;
}
