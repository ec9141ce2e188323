//! The cancellation promise (ARCHITECTURE.md §5): true only when it stopped a live run; nothing after it
//! but `RunCancelled`; partial text kept; the provider's stream dropped; no task left.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::*;
use stepwise_engine::provider::{DemoModel, DemoPace};
use stepwise_engine::workflow::templates;
use stepwise_engine::{CancelReason, EventKind, RunStatus, StartError, StartRun, StepStatus};
use stepwise_testkit::PATIENCE;
use uuid::Uuid;

const USER: CancelReason = CancelReason::User;

#[tokio::test]
async fn cancel_of_an_unknown_run_is_false() {
    assert!(!instant_engine().cancel(Uuid::new_v4(), USER));
}

#[tokio::test]
async fn cancel_of_a_finished_run_is_false_and_changes_nothing() {
    let engine = instant_engine();
    let (id, mut sub) = start(&engine, steps(1, "demo"), "x");
    collect(&mut sub).await;
    let before = engine.get(id).unwrap();
    assert!(!engine.cancel(id, USER));
    assert_eq!(engine.get(id).unwrap(), before);
    assert_eq!(before.status, RunStatus::Completed);
}

#[tokio::test]
async fn cancel_twice_is_true_then_false() {
    let engine = demo_engine(DemoModel::new(DemoPace::HUMAN));
    let (id, mut sub) = start(&engine, steps(1, "demo"), "x");
    assert!(engine.cancel(id, USER));
    assert!(!engine.cancel(id, USER));
    assert!(
        !engine.cancel(id, CancelReason::AppExit),
        "the first reason stands"
    );
    let events = collect(&mut sub).await;
    let EventKind::RunCancelled { reason, .. } = assert_well_formed(&events) else {
        panic!()
    };
    assert_eq!(*reason, USER);
}

#[tokio::test(flavor = "current_thread")]
async fn cancel_while_pending_skips_every_step() {
    // On one thread the driver has not run yet when `start` returns: the run is pending.
    let engine = instant_engine();
    let (id, mut sub) = start(&engine, steps(2, "demo"), "x");
    assert_eq!(engine.get(id).unwrap().status, RunStatus::Pending);
    assert!(engine.cancel(id, USER));
    let events = collect(&mut sub).await;
    assert_eq!(events.len(), 2, "RunStarted, RunCancelled: {events:?}");
    assert_eq!(cancelled_during(assert_well_formed(&events)), []);
    let snap = engine.get(id).unwrap();
    assert_eq!(snap.status, RunStatus::Cancelled);
    assert!(snap.steps.iter().all(|s| s.status == StepStatus::Skipped));
}

#[tokio::test]
async fn cancel_before_the_first_delta_stops_the_wait_for_the_first_token() {
    let provider = ScriptedProvider::new(Script::words(5, Duration::from_secs(3600)));
    let engine = scripted_engine(provider.clone());
    let (id, mut sub) = start(&engine, steps(2, "openai:slow"), "x");
    // Wait until step 1 has started (the provider is now waiting an hour for its first token).
    while !matches!(
        next_event(&mut sub).await.unwrap().kind,
        EventKind::StepStarted { .. }
    ) {}
    assert!(engine.cancel(id, USER));
    let rest = tokio::time::timeout(PATIENCE, collect(&mut sub))
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(
        cancelled_during(&rest[0].kind),
        [(step_path(0), String::new())]
    );
    assert_eq!(
        provider.dropped.load(Ordering::SeqCst),
        1,
        "the provider's stream was dropped"
    );
    let snap = engine.get(id).unwrap();
    assert_eq!(snap.steps[0].status, StepStatus::Cancelled);
    assert_eq!(snap.steps[1].status, StepStatus::Skipped);
}

#[tokio::test(flavor = "current_thread")]
async fn cancel_between_steps_keeps_the_first_step_and_starts_no_other() {
    let engine = instant_engine();
    let wf = templates::get("research-and-write").unwrap().workflow;
    let (id, mut sub) = start(&engine, wf, "tidal energy");
    let mut seen = Vec::new();
    loop {
        let e = next_event(&mut sub).await.unwrap();
        let done = matches!(&e.kind, EventKind::StepCompleted { path, .. } if path == "research");
        seen.push(e);
        if done {
            break;
        }
    }
    // The driver yields between steps, so this cancel lands before step 2 starts.
    assert!(engine.cancel(id, USER));
    seen.extend(collect(&mut sub).await);
    assert_eq!(cancelled_during(assert_well_formed(&seen)), []);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(&e.kind, EventKind::StepStarted { step } if step.path == "write"))
    );
    let snap = engine.get(id).unwrap();
    assert_eq!(snap.steps[0].status, StepStatus::Completed);
    assert_eq!(snap.steps[0].text, deltas_of(&seen, "research"));
    assert_eq!(snap.steps[1].status, StepStatus::Skipped);
}

#[tokio::test]
async fn cancel_in_step_two_of_three_keeps_exactly_what_was_streamed() {
    let engine = demo_engine(DemoModel::new(DemoPace {
        first_token: Duration::ZERO,
        per_word: Duration::from_millis(2),
    }));
    let wf = templates::get("meeting-notes").unwrap().workflow;
    assert_eq!(wf.steps.len(), 3);
    let (id, mut sub) = start(&engine, wf, "Q3 planning: budget, hiring, launch date");
    let mut seen = Vec::new();
    let mut step2_deltas = 0;
    while step2_deltas < 5 {
        let e = next_event(&mut sub).await.unwrap();
        if matches!(&e.kind, EventKind::TextDelta { path, .. } if &**path == "action-items") {
            step2_deltas += 1;
        }
        seen.push(e);
    }
    assert!(engine.cancel(id, USER));
    seen.extend(collect(&mut sub).await);

    let terminal = assert_well_formed(&seen);
    assert!(matches!(
        terminal,
        EventKind::RunCancelled { reason: USER, .. }
    ));
    let partial_output = deltas_of(&seen, "action-items");
    assert_eq!(
        cancelled_during(terminal),
        [("action-items".to_string(), partial_output.clone())],
        "partial text = exactly the deltas emitted"
    );
    let snap = engine.get(id).unwrap();
    let statuses: Vec<StepStatus> = snap.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            StepStatus::Completed,
            StepStatus::Cancelled,
            StepStatus::Skipped
        ]
    );
    let step1_output = seen.iter().find_map(|e| match &e.kind {
        EventKind::StepCompleted { path, output, .. } if path == "summarize" => {
            Some(output.clone())
        }
        _ => None,
    });
    assert_eq!(
        snap.steps[0].text,
        step1_output.unwrap(),
        "step 1 output intact"
    );
    assert_eq!(snap.steps[1].text, partial_output);
    assert_eq!(snap.steps[2].text, "");
    assert_eq!(snap.cancel_reason, Some(USER));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_text_delta_after_cancel_returned_true() {
    // A fast stream on another thread keeps emitting while we cancel from this one.
    let engine = demo_engine(DemoModel::new(DemoPace::INSTANT).with_words(20_000));
    for round in 0..200u64 {
        let (id, mut sub) = start(&engine, steps(1, "demo"), "x");
        // Let it stream a little (a different amount each round).
        for _ in 0..(round % 7) {
            tokio::task::yield_now().await;
        }
        assert!(engine.cancel(id, USER));
        // Everything emitted before the cancel is in this snapshot; after it, only the end.
        let at_cancel = engine.get(id).unwrap().last_seq;
        let events = collect(&mut sub).await;
        assert_well_formed(&events);
        let after: Vec<_> = events.iter().filter(|e| e.seq > at_cancel).collect();
        assert!(
            after
                .iter()
                .all(|e| matches!(e.kind, EventKind::RunCancelled { .. })),
            "round {round}: events after cancel returned true: {after:?}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_task_of_the_run_is_alive_when_the_terminal_event_is_out() {
    let provider = ScriptedProvider::new(Script::words(1000, Duration::from_millis(5)));
    let engine = scripted_engine(provider.clone());
    let metrics = tokio::runtime::Handle::current().metrics();
    let (id, mut sub) = start(&engine, steps(2, "openai:m"), "x");
    while !matches!(
        next_event(&mut sub).await.unwrap().kind,
        EventKind::TextDelta { .. }
    ) {}
    assert_eq!(metrics.num_alive_tasks(), 1, "the run's driver");
    assert!(engine.cancel(id, USER));
    let rest = collect(&mut sub).await;
    assert!(matches!(
        rest.last().unwrap().kind,
        EventKind::RunCancelled { .. }
    ));
    // On this one thread, the test resumes only once the driver has returned.
    assert_eq!(metrics.num_alive_tasks(), 0, "no task of the run is left");
    assert_eq!(
        provider.dropped.load(Ordering::SeqCst),
        1,
        "the provider stream is closed"
    );
    assert_eq!(engine.live_count(), 0);
}

#[tokio::test]
async fn shutdown_cancels_every_live_run_as_app_exit_and_waits() {
    let engine = demo_engine(DemoModel::new(DemoPace::HUMAN));
    let mut subs = Vec::new();
    for _ in 0..20 {
        subs.push(start(&engine, steps(2, "demo"), "x"));
    }
    let (done_id, mut done_sub) = start(&engine, steps(1, "demo"), "finished before exit");
    assert!(engine.cancel(done_id, USER));
    collect(&mut done_sub).await;

    // The app's quit allows two seconds (`EXIT_LIMIT`); a busy machine may take longer, so this
    // deadline only guards against a hang. What is checked is how every run ended.
    tokio::time::timeout(PATIENCE, engine.shutdown(CancelReason::AppExit))
        .await
        .expect("the shutdown never finished");
    assert_eq!(engine.live_count(), 0);
    for (id, _) in &subs {
        let snap = engine.get(*id).unwrap();
        assert_eq!(
            (snap.status, snap.cancel_reason),
            (RunStatus::Cancelled, Some(CancelReason::AppExit))
        );
    }
    assert_eq!(
        engine.get(done_id).unwrap().cancel_reason,
        Some(USER),
        "finished runs untouched"
    );
    let wf = steps(1, "demo");
    assert_eq!(
        engine.start(StartRun {
            workflow: wf,
            input: "late".into(),
            run_id: None
        }),
        Err(StartError::ShuttingDown)
    );
}
