//! A run from start to its one terminal event: events, statuses, snapshots, step chaining.

use std::time::Duration;

use crate::support::*;
use stepwise_engine::provider::{DemoModel, DemoPace};
use stepwise_engine::workflow::templates;
use stepwise_engine::{
    ErrorKind, EventKind, RunSnapshot, RunStatus, StartError, StartRun, StepStatus,
};
use uuid::Uuid;

#[tokio::test]
async fn a_template_runs_to_completion_on_the_demo_model() {
    let engine = instant_engine();
    let wf = templates::get("research-and-write").unwrap().workflow;
    let (id, mut sub) = start(&engine, wf, "tidal energy");
    assert_eq!(
        sub.snapshot.last_seq, 0,
        "subscribed before the first event"
    );
    let events = collect(&mut sub).await;

    let EventKind::RunCompleted { output, .. } = assert_well_formed(&events) else {
        panic!("expected RunCompleted, got {:?}", events.last());
    };
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e.kind {
            EventKind::RunStarted { .. } => "RunStarted",
            EventKind::StepStarted { .. } => "StepStarted",
            EventKind::TextDelta { .. } => "TextDelta",
            EventKind::StepCompleted { .. } => "StepCompleted",
            EventKind::ToolCallStarted { .. } | EventKind::ToolCallFinished { .. } => "ToolCall",
            _ => "end",
        })
        .collect();
    let mut compact = kinds.clone();
    compact.dedup();
    assert_eq!(
        compact,
        [
            "RunStarted",
            "StepStarted",
            "TextDelta",
            // The research step searches (the demo search), then writes on.
            "ToolCall",
            "TextDelta",
            "StepCompleted",
            "StepStarted",
            "TextDelta",
            "StepCompleted",
            "end"
        ]
    );
    // Each step's output is exactly its deltas; the run's output is the last step's.
    for step in ["research", "write"] {
        let completed = events.iter().find_map(|e| match &e.kind {
            EventKind::StepCompleted {
                path,
                output,
                usage,
                ..
            } if path == step => Some((output.clone(), *usage)),
            _ => None,
        });
        let (out, usage) = completed.unwrap();
        assert_eq!(out, deltas_of(&events, step));
        assert!(
            usage.unwrap().output_tokens.unwrap() > 0,
            "the demo model reports usage"
        );
    }
    assert_eq!(*output, deltas_of(&events, "write"));
    assert!(output.contains("tidal energy"));

    // The engine's snapshot is the fold of the events.
    let snap = engine.get(id).unwrap();
    let mut folded = RunSnapshot::new(id);
    for e in &events {
        assert!(folded.apply(e));
    }
    assert_eq!(snap, folded);
    assert_eq!(snap.status, RunStatus::Completed);
    assert!(snap.steps.iter().all(|s| s.status == StepStatus::Completed));
    assert_eq!(snap.final_output.as_deref(), Some(output.as_str()));
    assert_eq!(engine.list().len(), 1);
    assert_eq!(engine.list()[0].status, RunStatus::Completed);
}

#[tokio::test]
async fn each_step_gets_the_original_input_and_the_previous_output() {
    let provider = ScriptedProvider::new(Script::words(3, Duration::ZERO));
    let engine = scripted_engine(provider.clone());
    let (_, mut sub) = start(&engine, steps(3, "openai:scripted"), "the question");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));

    let requests = provider.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].user, "the question");
    assert_eq!(requests[0].system, "Do part 1.");
    assert_eq!(requests[0].model.to_string(), "openai:scripted");
    for r in &requests[1..] {
        assert!(
            r.user.starts_with("Original request:\nthe question\n"),
            "a later step still knows the question: {}",
            r.user
        );
        assert!(r.user.ends_with("):\nw0 w1 w2 "), "{}", r.user);
    }
    assert!(
        requests[2]
            .user
            .contains("Output of the previous step (Step 2)")
    );
}

#[tokio::test]
async fn a_provider_error_fails_the_run_and_keeps_the_partial_text() {
    let mut script = Script::words(10, Duration::ZERO);
    script.fail_after = Some((4, ErrorKind::RateLimit));
    let provider = ScriptedProvider::new(script);
    let engine = scripted_engine(provider.clone());
    let wf = workflow_of(
        "name = \"Two\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\n\
         [[steps]]\nname = \"B\"\ninstructions = \"y\"\nmodel = \"openai:m\"\n\
         [[steps]]\nname = \"C\"\ninstructions = \"z\"\n",
    );
    let (id, mut sub) = start(&engine, wf, "input");
    let events = collect(&mut sub).await;
    let EventKind::RunFailed {
        path,
        error,
        message,
        ..
    } = assert_well_formed(&events)
    else {
        panic!("expected RunFailed");
    };
    assert_eq!(
        (path.as_deref(), *error, message.as_str()),
        (Some("b"), ErrorKind::RateLimit, "scripted failure")
    );

    let snap = engine.get(id).unwrap();
    assert_eq!(snap.status, RunStatus::Failed);
    let statuses: Vec<StepStatus> = snap.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            StepStatus::Completed,
            StepStatus::Failed,
            StepStatus::Skipped
        ]
    );
    assert_eq!(snap.steps[1].text, "w0 w1 w2 w3 ", "partial text is kept");
    assert_eq!(snap.error.unwrap().kind, ErrorKind::RateLimit);
    assert_eq!(
        provider.dropped.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn a_provider_that_is_not_set_up_fails_with_invalid_config() {
    let engine = instant_engine();
    let (_, mut sub) = start(&engine, steps(1, "anthropic:claude-x"), "input");
    let events = collect(&mut sub).await;
    let EventKind::RunFailed { error, message, .. } = assert_well_formed(&events) else {
        panic!("expected RunFailed");
    };
    assert_eq!(*error, ErrorKind::InvalidConfig);
    assert!(
        message.contains("Anthropic") && message.contains("Settings"),
        "{message}"
    );
}

#[tokio::test]
async fn steps_without_a_model_use_the_default_model() {
    let engine = instant_engine();
    let wf = workflow_of("name = \"N\"\n[[steps]]\nname = \"A\"\ninstructions = \"List facts.\"\n");
    assert!(wf.steps[0].model().is_none());
    let (_, mut sub) = start(&engine, wf, "bees");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    let EventKind::RunStarted { steps, .. } = &events[0].kind else {
        panic!()
    };
    assert_eq!(steps[0].model, "demo");
}

#[tokio::test]
async fn start_is_idempotent_on_a_caller_chosen_id() {
    let engine = demo_engine(DemoModel::new(DemoPace::HUMAN));
    let id = Uuid::new_v4();
    let wf = templates::get("long-story").unwrap().workflow;
    let req = StartRun {
        workflow: wf,
        input: "a dragon".into(),
        run_id: Some(id),
    };
    assert_eq!(engine.start(req.clone()).unwrap(), id);
    assert_eq!(engine.start(req).unwrap(), id);
    assert_eq!(engine.list().len(), 1, "the second start started nothing");
    assert!(engine.cancel(id, stepwise_engine::CancelReason::User));
}

#[tokio::test]
async fn bad_starts_are_refused_with_a_reason() {
    let engine = instant_engine();
    let wf = templates::get("long-story").unwrap().workflow;
    let empty = StartRun {
        workflow: wf.clone(),
        input: "  \n".into(),
        run_id: None,
    };
    assert_eq!(engine.start(empty), Err(StartError::EmptyInput));
    let mut bad = wf;
    bad.steps[0].kind =
        stepwise_engine::workflow::StepKind::Agent(stepwise_engine::workflow::AgentStep {
            instructions: String::new(),
            model: None,
            tools: Vec::new(),
            max_tool_rounds: 8,
        });
    let err = engine
        .start(StartRun {
            workflow: bad,
            input: "x".into(),
            run_id: None,
        })
        .unwrap_err();
    let StartError::InvalidWorkflow(e) = err else {
        panic!()
    };
    assert_eq!(e.issues[0].field.as_deref(), Some("instructions"));
    assert!(engine.list().is_empty(), "nothing was started");
}

#[tokio::test]
async fn a_late_subscriber_gets_the_snapshot_and_a_gap_free_tail() {
    let engine = demo_engine(DemoModel::new(DemoPace {
        first_token: Duration::ZERO,
        per_word: Duration::from_millis(1),
    }));
    let wf = templates::get("research-and-write").unwrap().workflow;
    let (id, mut early) = start(&engine, wf, "tidal energy");
    // Join mid-stream, after some text.
    loop {
        let e = next_event(&mut early).await.unwrap();
        if e.seq >= 40 {
            break;
        }
    }
    let mut late = engine.subscribe(id).unwrap();
    let joined_at = late.snapshot.last_seq;
    assert!(joined_at >= 40);
    assert!(!late.snapshot.steps[0].text.is_empty());
    let tail = collect(&mut late).await;
    assert_eq!(
        tail[0].seq,
        joined_at + 1,
        "the tail starts right after the snapshot"
    );
    for w in tail.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1);
    }
    // Snapshot + tail is the whole run, each event exactly once.
    let mut view = late.snapshot.clone();
    for e in &tail {
        assert!(view.apply(e));
    }
    assert_eq!(view, engine.get(id).unwrap());
    assert_eq!(view.status, RunStatus::Completed);

    // A subscriber to a finished run gets the final snapshot and an empty, closed stream.
    let mut after = engine.subscribe(id).unwrap();
    assert_eq!(after.snapshot.status, RunStatus::Completed);
    assert!(next_event(&mut after).await.is_none());
}

#[tokio::test]
async fn unknown_runs_are_none() {
    let engine = instant_engine();
    let id = Uuid::new_v4();
    assert!(engine.get(id).is_none());
    assert!(engine.subscribe(id).is_none());
    assert!(engine.wait(id).await.is_none());
}
