//! Every kind of step against the local test server over real HTTP: the outputs each produces,
//! and a cancel (or a timeout) at any point of the tree — every branch stops, the server sees
//! every connection close, the run ends with exactly one terminal event.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use stepwise_engine::provider::{
    DemoModel, DemoPace, HttpOptions, OpenAiProvider, Providers, RetryPolicy,
};
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, ErrorKind, EventKind, ProviderKind, RunEvent, RunId,
    RunStatus, StepStatus, Subscription, Workflow,
};
use stepwise_testkit::{Behavior, Fault, PATIENCE, TestServer, eventually_async};

const USER: CancelReason = CancelReason::User;
/// Generous on purpose (shared CI machines); the providers benchmark measures the real figure.
const CLOSE_BOUND: Duration = Duration::from_secs(2);

fn engine_for(server: &TestServer) -> Engine {
    let options = HttpOptions {
        idle_timeout: Duration::from_secs(30),
        // The HTTP layer's own retries are off: these tests count requests.
        retry: RetryPolicy {
            max_retries: 0,
            base_delay: Duration::from_millis(10),
            max_wait: Duration::from_secs(1),
        },
    };
    let openai = OpenAiProvider::new(server.openai_base(), Some("sk-test".into()), options);
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT))
            .with(ProviderKind::OpenAi, Arc::new(openai)),
        ..EngineConfig::default()
    })
}

/// `toml` with `MODEL` standing for the test server's model.
fn flow(toml: &str) -> Workflow {
    workflow_of(&toml.replace("MODEL", "openai:test"))
}

/// Follows the run and cancels it once `ready` holds for what has been seen.
async fn cancel_when(
    engine: &Engine,
    id: RunId,
    sub: &mut Subscription,
    ready: impl Fn(&[RunEvent]) -> bool,
) -> Vec<RunEvent> {
    let mut events = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("run hung")
    {
        events.push(e);
        if ready(&events) {
            assert!(engine.cancel(id, USER), "the cancel stopped a live run");
            events.extend(collect(sub).await);
            return events;
        }
    }
    panic!("the run ended before it was ready to cancel: {events:?}")
}

/// Every request the server got was seen to close within the bound of the cancel.
async fn all_connections_closed(server: &TestServer, n: usize) {
    assert_eq!(server.request_count(), n, "requests");
    for i in 0..n {
        assert!(
            server.requests()[i].completed
                || server.wait_for_disconnect(i, CLOSE_BOUND).await.is_some(),
            "request {i} was neither finished nor closed"
        );
    }
    // Every request is finished or seen closed; what is left is the server's own bookkeeping.
    eventually_async(PATIENCE, "no connection left open", async || {
        server.open_connections() == 0
    })
    .await;
}

fn system_prompts(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| {
            r.json()["messages"][0]["content"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// A router with two routes of one step each.
const ROUTER: &str = "name = \"R\"\n[[steps]]\nname = \"Pick\"\nkind = \"router\"\nmodel = \"MODEL\"\n\
     [[steps.routes]]\nname = \"A\"\ndescription = \"a\"\n\
     [[steps.routes.steps]]\nname = \"One\"\ninstructions = \"1\"\nmodel = \"MODEL\"\n\
     [[steps.routes]]\nname = \"B\"\ndescription = \"b\"\n\
     [[steps.routes.steps]]\nname = \"Two\"\ninstructions = \"2\"\nmodel = \"MODEL\"\n";

const EVERY_KIND: &str = r#"
name = "Every kind"

[[steps]]
name = "Research"
instructions = "Research it."
model = "MODEL"

[[steps]]
name = "Angles"
kind = "parallel"
  [[steps.steps]]
  name = "Left"
  instructions = "The left view."
  model = "MODEL"
  [[steps.steps]]
  name = "Right"
  instructions = "The right view."
  model = "MODEL"

[[steps]]
name = "Polish"
kind = "loop"
max_iterations = 3
until = 'output contains "APPROVED"'
  [[steps.steps]]
  name = "Review"
  kind = "group"
    [[steps.steps.steps]]
    name = "Critique"
    instructions = "Critique it."
    model = "MODEL"

[[steps]]
name = "Check"
kind = "condition"
if = 'output("left") contains "Alpha"'
  [[steps.then]]
  name = "Yes"
  instructions = "Both: {{steps.left.output}} | {{steps.right.output}}"
  model = "MODEL"
  [[steps.else]]
  name = "No"
  instructions = "Never."
  model = "MODEL"

[[steps]]
name = "Pick"
kind = "router"
model = "MODEL"
  [[steps.routes]]
  name = "Alpha"
  description = "The first way"
    [[steps.routes.steps]]
    name = "Finish"
    instructions = "Finish with {{input}}."
    model = "MODEL"
  [[steps.routes]]
  name = "Beta"
  description = "The second way"
    [[steps.routes.steps]]
    name = "Other"
    instructions = "Other."
    model = "MODEL"
"#;

#[tokio::test]
async fn every_kind_completes_with_the_right_outputs() {
    let server = TestServer::start().await.unwrap();
    // Every call answers the same two lines: a route name, then a reason that approves.
    server.set_default(Behavior::text(&["Alpha\n", "APPROVED by the reviewer"], 0));
    let engine = engine_for(&server);
    let (id, mut sub) = start(&engine, flow(EVERY_KIND), "the question");
    let events = collect(&mut sub).await;
    let EventKind::RunCompleted { output, .. } = assert_well_formed(&events) else {
        panic!("{:?}", events.last())
    };
    let answer = "Alpha\nAPPROVED by the reviewer";
    assert_eq!(*output, answer, "the run's output is the chosen route's");
    let snap = engine.get(id).unwrap();
    let step = |p: &str| snap.step(p).unwrap_or_else(|| panic!("no step {p}"));
    assert_eq!(step("research").text, answer);
    assert_eq!(
        step("angles").text,
        format!("## Left\n\n{answer}\n\n## Right\n\n{answer}"),
        "a parallel's output is each branch under its name"
    );
    assert_eq!(
        step("polish").rounds.unwrap().round,
        1,
        "approved in round 1"
    );
    assert_eq!(
        step("polish#1/review/critique").status,
        StepStatus::Completed
    );
    assert_eq!(
        step("polish").text,
        answer,
        "a loop's output is its last round's"
    );
    assert_eq!(step("check/yes").status, StepStatus::Completed);
    assert_eq!(step("check/no").status, StepStatus::Skipped);
    let pick = step("pick");
    assert_eq!(pick.chosen.as_ref().unwrap().route, "Alpha");
    assert_eq!(
        pick.chosen.as_ref().unwrap().reason,
        "APPROVED by the reviewer"
    );
    assert_eq!(step("pick/other").status, StepStatus::Skipped);
    assert_eq!(step("pick/finish").status, StepStatus::Completed);
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::LoopRoundStarted { path, round: 1, max_rounds: 3 } if path == "polish"
    )));

    // Research, 2 branches, 1 critique, Yes, the router, Finish: 7 calls, none for skipped steps.
    let prompts = system_prompts(&server);
    assert_eq!(prompts.len(), 7, "{prompts:#?}");
    assert!(
        prompts.contains(&format!("Both: {answer} | {answer}")),
        "named outputs are filled in: {prompts:#?}"
    );
    assert!(prompts.contains(&"Finish with the question.".to_string()));
    assert!(
        prompts
            .iter()
            .any(|p| p.contains("Routes:\n- Alpha: The first way\n- Beta: The second way"))
    );
    assert!(!prompts.iter().any(|p| p == "Never." || p == "Other."));
    // A step that cites nothing still chains: the critique got the parallel's output.
    let critique = server
        .requests()
        .iter()
        .find(|r| r.body.contains("Critique it."))
        .cloned()
        .unwrap();
    assert!(
        critique.json()["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("## Left")
    );
}

#[tokio::test]
async fn every_kind_runs_on_the_demo_model_too() {
    let engine = instant_engine();
    let wf = workflow_of(&EVERY_KIND.replace("MODEL", "demo"));
    let (id, mut sub) = start(&engine, wf, "the moons of Jupiter");
    let events = collect(&mut sub).await;
    assert!(
        matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
        "{:?}",
        events.last()
    );
    let snap = engine.wait(id).await.unwrap();
    for s in &snap.steps {
        assert!(
            matches!(s.status, StepStatus::Completed | StepStatus::Skipped),
            "{}: {:?}",
            s.path,
            s.status
        );
    }
    // The demo reviewer never approves a text nobody revised: the loop runs all its rounds.
    assert_eq!(snap.step("polish").unwrap().rounds.unwrap().round, 3);
    assert!(snap.step("pick").unwrap().chosen.is_some());
}

#[tokio::test]
async fn a_cancel_mid_branch_stops_every_branch_and_closes_every_connection() {
    let server = TestServer::start().await.unwrap();
    server.set_default(Behavior::words(2_000, 10));
    let engine = engine_for(&server);
    let wf = flow(
        "name = \"P\"\n[[steps]]\nname = \"All\"\nkind = \"parallel\"\n\
         [[steps.steps]]\nname = \"A\"\ninstructions = \"a\"\nmodel = \"MODEL\"\n\
         [[steps.steps]]\nname = \"B\"\ninstructions = \"b\"\nmodel = \"MODEL\"\n\
         [[steps.steps]]\nname = \"C\"\ninstructions = \"c\"\nmodel = \"MODEL\"\n\
         [[steps]]\nname = \"After\"\ninstructions = \"never\"\nmodel = \"MODEL\"\n",
    );
    let (id, mut sub) = start(&engine, wf, "x");
    let events = cancel_when(&engine, id, &mut sub, |seen| {
        ["all/a", "all/b", "all/c"]
            .iter()
            .all(|p| deltas_of(seen, p).len() > 10)
    })
    .await;
    let during = cancelled_during(assert_well_formed(&events));
    let mut paths: Vec<&str> = during.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["all", "all/a", "all/b", "all/c"]);
    for (path, text) in &during {
        assert_eq!(
            *text,
            deltas_of(&events, path),
            "{path}: exactly what was streamed"
        );
    }
    all_connections_closed(&server, 3).await;
    let snap = engine.wait(id).await.unwrap();
    assert_eq!(snap.step("after").unwrap().status, StepStatus::Skipped);
    assert_eq!(engine.live_count(), 0);
}

#[tokio::test]
async fn a_cancel_in_round_three_keeps_rounds_one_and_two() {
    let server = TestServer::start().await.unwrap();
    server.push(Behavior::text(&["round one"], 0));
    server.push(Behavior::text(&["round two"], 0));
    server.set_default(Behavior::words(2_000, 10));
    let engine = engine_for(&server);
    let wf = flow(
        "name = \"L\"\n[[steps]]\nname = \"Again\"\nkind = \"loop\"\nmax_iterations = 5\n\
         until = 'output contains \"never\"'\n\
         [[steps.steps]]\nname = \"Try\"\ninstructions = \"t\"\nmodel = \"MODEL\"\n",
    );
    let (id, mut sub) = start(&engine, wf, "x");
    let events = cancel_when(&engine, id, &mut sub, |seen| {
        deltas_of(seen, "again#3/try").len() > 10
    })
    .await;
    assert_eq!(
        cancelled_during(assert_well_formed(&events))
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>(),
        ["again#3/try", "again"]
    );
    let snap = engine.wait(id).await.unwrap();
    let texts: Vec<(&str, StepStatus, &str)> = snap
        .steps
        .iter()
        .map(|s| {
            (
                s.path.as_str(),
                s.status,
                s.text.get(..9).unwrap_or(&s.text),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("again", StepStatus::Cancelled, ""),
            ("again#1/try", StepStatus::Completed, "round one"),
            ("again#2/try", StepStatus::Completed, "round two"),
            ("again#3/try", StepStatus::Cancelled, "tok0 tok1"),
        ]
    );
    let rounds: Vec<u32> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::LoopRoundStarted { round, .. } => Some(round),
            _ => None,
        })
        .collect();
    assert_eq!(rounds, [1, 2, 3], "no round starts after the cancel");
    all_connections_closed(&server, 3).await;
}

#[tokio::test]
async fn a_cancel_while_the_router_decides_picks_nothing() {
    let server = TestServer::start().await.unwrap();
    server.set_default(Behavior::words(2_000, 10));
    let engine = engine_for(&server);
    let wf = flow(ROUTER);
    let (id, mut sub) = start(&engine, wf, "x");
    let events = cancel_when(&engine, id, &mut sub, |seen| {
        !deltas_of(seen, "pick").is_empty()
    })
    .await;
    assert_eq!(
        cancelled_during(assert_well_formed(&events))
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>(),
        ["pick"]
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::RouteChosen { .. }))
    );
    all_connections_closed(&server, 1).await;
    let snap = engine.wait(id).await.unwrap();
    assert!(
        snap.steps[1..]
            .iter()
            .all(|s| s.status == StepStatus::Skipped)
    );
}

#[tokio::test]
async fn a_router_answer_that_names_no_route_fails_plainly() {
    let server = TestServer::start().await.unwrap();
    server.set_default(Behavior::text(&["Gamma\n", "it seemed best"], 0));
    let engine = engine_for(&server);
    let wf = flow(ROUTER);
    let (_, mut sub) = start(&engine, wf, "x");
    let (kind, message) = failure(&collect(&mut sub).await);
    assert_eq!(kind, ErrorKind::Provider);
    assert!(
        message.contains("did not pick one of the routes (A, B)") && message.contains("Gamma"),
        "{message}"
    );
}

#[tokio::test]
async fn a_timeout_closes_the_connection_and_fails_the_step_or_is_set_aside() {
    let server = TestServer::start().await.unwrap();
    server.set_default(Behavior::words(2_000, 50));
    let engine = engine_for(&server);
    let slow = |on_error: &str| {
        flow(&format!(
            "name = \"T\"\n[[steps]]\nname = \"Slow\"\ninstructions = \"s\"\nmodel = \"MODEL\"\n\
             timeout_secs = 1\non_error = \"{on_error}\"\n\
             [[steps]]\nname = \"Next\"\ninstructions = \"Write a summary.\"\n"
        ))
    };
    let (id, mut sub) = start(&engine, slow("stop"), "x");
    let events = collect(&mut sub).await;
    let (kind, message) = failure(&events);
    assert_eq!(kind, ErrorKind::Timeout);
    assert!(message.contains("time limit (1 s)"), "{message}");
    let snap = engine.wait(id).await.unwrap();
    assert_eq!(snap.steps[0].status, StepStatus::Failed);
    assert!(!snap.steps[0].text.is_empty(), "the text so far is kept");
    assert_eq!(snap.steps[1].status, StepStatus::Skipped);
    all_connections_closed(&server, 1).await;

    server.reset();
    server.set_default(Behavior::words(2_000, 50));
    let (id, mut sub) = start(&engine, slow("continue"), "x");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    let snap = engine.wait(id).await.unwrap();
    assert_eq!(snap.steps[0].status, StepStatus::Failed);
    assert_eq!(
        snap.steps[1].status,
        StepStatus::Completed,
        "the run went on"
    );
    all_connections_closed(&server, 1).await;
}

#[tokio::test]
async fn a_parallel_timeout_stops_every_branch_inside_it() {
    let server = TestServer::start().await.unwrap();
    server.set_default(Behavior::words(2_000, 50));
    let engine = engine_for(&server);
    let wf = flow(
        "name = \"T\"\n[[steps]]\nname = \"Both\"\nkind = \"parallel\"\ntimeout_secs = 1\n\
         [[steps.steps]]\nname = \"A\"\ninstructions = \"a\"\nmodel = \"MODEL\"\n\
         [[steps.steps]]\nname = \"B\"\ninstructions = \"b\"\nmodel = \"MODEL\"\n",
    );
    let (id, mut sub) = start(&engine, wf, "x");
    let events = collect(&mut sub).await;
    assert_eq!(failure(&events).0, ErrorKind::Timeout);
    let snap = engine.wait(id).await.unwrap();
    for p in ["both", "both/a", "both/b"] {
        assert_eq!(snap.step(p).unwrap().status, StepStatus::Failed, "{p}");
    }
    // Nothing arrives for a branch after its failure was reported.
    let failed_at = events
        .iter()
        .position(|e| matches!(&e.kind, EventKind::StepFailed { path, .. } if path == "both/a"))
        .unwrap();
    assert!(
        !events[failed_at..]
            .iter()
            .any(|e| matches!(e.kind, EventKind::TextDelta { .. }))
    );
    all_connections_closed(&server, 2).await;
}

#[tokio::test]
async fn retries_happen_only_before_any_text_and_never_after_a_cancel() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_for(&server);
    let wf = |retries: u32| {
        flow(&format!(
            "name = \"R\"\n[[steps]]\nname = \"A\"\ninstructions = \"a\"\nmodel = \"MODEL\"\nretries = {retries}\n"
        ))
    };
    // Dropped before any text: tried again, and the second attempt's text is the step's.
    server.push(Behavior::words(5, 0).with_fault(Fault::DropAfter { tokens: 0 }));
    server.push(Behavior::text(&["second ", "try"], 0));
    let (id, mut sub) = start(&engine, wf(2), "x");
    let events = collect(&mut sub).await;
    assert!(
        matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
        "{events:?}"
    );
    assert_eq!(engine.wait(id).await.unwrap().steps[0].text, "second try");
    assert_eq!(server.request_count(), 2);

    // Dropped after text was shown: not tried again.
    server.reset();
    server.push(Behavior::words(5, 0).with_fault(Fault::DropAfter { tokens: 3 }));
    let (_, mut sub) = start(&engine, wf(2), "x");
    assert_eq!(failure(&collect(&mut sub).await).0, ErrorKind::Network);
    assert_eq!(server.request_count(), 1, "no retry after text");

    // A rejected key is not a fault another attempt mends.
    server.reset();
    server.push(Behavior::status(401, "bad key"));
    let (_, mut sub) = start(&engine, wf(3), "x");
    assert_eq!(failure(&collect(&mut sub).await).0, ErrorKind::Auth);
    assert_eq!(server.request_count(), 1);

    // A cancel during the back-off before a retry: no further request, the run is cancelled.
    // A server of its own, so that no connection kept alive from the cases above is open.
    let server = TestServer::start().await.unwrap();
    let engine = engine_for(&server);
    server.set_default(Behavior::words(5, 0).with_fault(Fault::DropAfter { tokens: 0 }));
    let (id, mut sub) = start(&engine, wf(5), "x");
    assert!(server.wait_for_requests(1, PATIENCE).await);
    // The server has dropped the first attempt: the step is now waiting out its back-off (1 s).
    eventually_async(PATIENCE, "the first attempt to be dropped", async || {
        server.open_connections() == 0
    })
    .await;
    assert!(engine.cancel(id, USER));
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCancelled { .. }
    ));
    // Once the engine has shut down, none of its tasks is left to send a retry.
    engine.shutdown(CancelReason::AppExit).await;
    assert_eq!(server.request_count(), 1, "no retry after a cancel");
}

#[tokio::test]
async fn a_cancel_inside_a_step_that_skips_its_errors_still_cancels_the_run() {
    // agno#7718 / #7732: a cancel inside a step with on_error = "skip" must not become "skipped"
    // and let the workflow carry on.
    let server = TestServer::start().await.unwrap();
    server.set_default(Behavior::words(2_000, 10));
    let engine = engine_for(&server);
    let wf = flow(
        "name = \"S\"\n[[steps]]\nname = \"Lenient\"\ninstructions = \"a\"\nmodel = \"MODEL\"\non_error = \"skip\"\nretries = 3\n\
         [[steps]]\nname = \"Next\"\ninstructions = \"b\"\nmodel = \"MODEL\"\n",
    );
    let (id, mut sub) = start(&engine, wf, "x");
    let events = cancel_when(&engine, id, &mut sub, |seen| {
        deltas_of(seen, "lenient").len() > 10
    })
    .await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCancelled { .. }
    ));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::StepSkipped { .. }))
    );
    let snap = engine.wait(id).await.unwrap();
    assert_eq!(snap.status, RunStatus::Cancelled);
    assert_eq!(snap.steps[0].status, StepStatus::Cancelled);
    assert_eq!(
        snap.steps[1].status,
        StepStatus::Skipped,
        "the run did not carry on"
    );
    all_connections_closed(&server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_of_two_loops_cancelled_mid_stream_ends_with_one_run_cancelled() {
    // agno#10390: an async Parallel(Loop, Loop) stream hung after cancel returned true and never
    // emitted its cancelled event.
    let server = TestServer::start().await.unwrap();
    server.set_default(Behavior::words(40, 5));
    let engine = engine_for(&server);
    let wf = flow(
        "name = \"PL\"\n[[steps]]\nname = \"Both\"\nkind = \"parallel\"\n\
         [[steps.steps]]\nname = \"Left\"\nkind = \"loop\"\nmax_iterations = 50\n\
         [[steps.steps.steps]]\nname = \"L\"\ninstructions = \"l\"\nmodel = \"MODEL\"\n\
         [[steps.steps]]\nname = \"Right\"\nkind = \"loop\"\nmax_iterations = 50\n\
         [[steps.steps.steps]]\nname = \"R\"\ninstructions = \"r\"\nmodel = \"MODEL\"\n",
    );
    let (id, mut sub) = start(&engine, wf, "x");
    let events = cancel_when(&engine, id, &mut sub, |seen| {
        !deltas_of(seen, "both/left#2/l").is_empty()
            && !deltas_of(seen, "both/right#2/r").is_empty()
    })
    .await;
    let terminals: Vec<_> = events.iter().filter(|e| e.kind.is_terminal()).collect();
    assert_eq!(terminals.len(), 1);
    assert!(matches!(terminals[0].kind, EventKind::RunCancelled { .. }));
    assert_well_formed(&events);
    let snap = tokio::time::timeout(PATIENCE, engine.wait(id))
        .await
        .expect("the run ended")
        .unwrap();
    assert_eq!(snap.status, RunStatus::Cancelled);
    assert_eq!(engine.live_count(), 0);
    let n = server.request_count();
    all_connections_closed(&server, n).await;
}
