//! Whole runs against random tool-call streams from the local test server (over real HTTP, in
//! both wire formats): ids missing, repeated in a turn or reused across rounds; unknown names;
//! arguments invalid, empty, huge or endless; calls cut off mid-way; more calls than a turn may
//! run; two agents asking for approval at once. Whatever the model sends, the run ends with
//! exactly one terminal event; a failure names its step and says what went wrong in words (never
//! an internal error); ids are unique in each step and in every conversation the model is sent,
//! each call answered once. The parsers alone get thousands more cases in
//! `src/provider/wire_fuzz.rs`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::support::*;
use stepwise_engine::tool::{ToolSettings, Tools};
use stepwise_engine::{ApprovalAnswer, Engine, EngineConfig, ErrorKind, EventKind, RunEvent};
use stepwise_testkit::fuzz::{Rng, Turn, TurnMaker};
use stepwise_testkit::{Format, Page, TestServer};

const RUNS: usize = 240;
const MAX_OUTPUT: usize = 20_000;
const MAX_RESULT: usize = 3_000;

const SEARCH_PAGE: &str = r#"<html><body>
  <div class="result"><a class="result__a" href="https://example.org/tides">Tides</a>
    <div class="result__snippet">How the moon moves the sea.</div></div>
</body></html>"#;

fn engine_for(server: &TestServer) -> Engine {
    Engine::new(EngineConfig {
        providers: server_providers(server),
        tools: Tools::new(ToolSettings {
            web_search_url: format!("{}/html/", server.url()),
            allow_private_network: true,
            // Pages ask first: the approvals are fuzzed too.
            ask: vec!["fetch_page".into()],
            max_result_bytes: MAX_RESULT,
            max_calls_per_turn: 8,
            ..ToolSettings::default()
        }),
        max_step_output: MAX_OUTPUT,
        ..EngineConfig::default()
    })
}

fn workflow(model: &str, parallel: bool) -> stepwise_engine::Workflow {
    let agent = |name: &str| {
        format!(
            "name = \"{name}\"\ninstructions = \"Find out.\"\nmodel = \"{model}\"\n\
             tools = [\"web_search\", \"fetch_page\"]\nmax_tool_rounds = 3\n"
        )
    };
    if parallel {
        workflow_of(&format!(
            "name = \"Fuzz\"\n[[steps]]\nname = \"Both\"\nkind = \"parallel\"\n\
             [[steps.steps]]\n{}[[steps.steps]]\n{}",
            agent("One"),
            agent("Two")
        ))
    } else {
        workflow_of(&format!("name = \"Fuzz\"\n[[steps]]\n{}", agent("Look")))
    }
}

/// Runs to the end, answering every approval as it is asked (at random), and returns the events.
async fn run(engine: &Engine, rng: &mut Rng, model: &str, parallel: bool) -> Vec<RunEvent> {
    let (id, mut sub) = start(engine, workflow(model, parallel), "tides");
    let mut events = Vec::new();
    let mut unanswered = 0;
    while let Some(e) = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("run hung")
    {
        if let EventKind::ToolApprovalRequested { path, call_id } = &e.kind {
            // "Allow always" is rare: the lane's engine would stop asking.
            let answer = match rng.below(50) {
                0 => ApprovalAnswer::AllowAlways,
                n if n % 2 == 0 => ApprovalAnswer::Allow,
                _ => ApprovalAnswer::Deny,
            };
            if engine.answer_tool_call(id, path, call_id, answer).is_none() {
                unanswered += 1;
            }
        }
        events.push(e);
    }
    if unanswered > 0 {
        // A call stops waiting only with its step.
        assert!(
            matches!(events.last().unwrap().kind, EventKind::RunFailed { .. }),
            "{unanswered} approvals found nothing waiting: {:?}",
            events.last()
        );
    }
    events
}

/// The run's events keep every promise, whatever the model sent.
fn check_events(events: &[RunEvent], case: usize) {
    let terminal = assert_well_formed(events);
    if let EventKind::RunFailed {
        path,
        error,
        message,
        ..
    } = terminal
    {
        assert_ne!(*error, ErrorKind::Internal, "case {case}: {message}");
        assert!(
            !message.contains("bug in Stepwise"),
            "case {case}: {message}"
        );
        assert!(
            path.is_some(),
            "case {case}: a failure names its step: {message}"
        );
    }
    let mut started: HashSet<(String, String)> = HashSet::new();
    let mut finished: HashSet<(String, String)> = HashSet::new();
    for e in events {
        match &e.kind {
            EventKind::ToolCallStarted { path, call_id, .. } => {
                assert!(!call_id.is_empty(), "case {case}");
                assert!(
                    started.insert((path.clone(), call_id.clone())),
                    "case {case}: the id {call_id} was used twice in {path}"
                );
            }
            EventKind::ToolCallFinished {
                path,
                call_id,
                result,
                ..
            } => {
                let key = (path.clone(), call_id.clone());
                assert!(started.contains(&key), "case {case}: {key:?} never started");
                assert!(finished.insert(key), "case {case}: {call_id} ended twice");
                assert!(result.len() <= 2_100, "case {case}: {} bytes", result.len());
            }
            EventKind::ToolApprovalRequested { path, call_id } => {
                assert!(
                    started.contains(&(path.clone(), call_id.clone())),
                    "case {case}: approval for a call that never started"
                );
            }
            _ => {}
        }
    }
    if matches!(terminal, EventKind::RunCompleted { .. }) {
        assert_eq!(
            started, finished,
            "case {case}: a call of a finished run never ended"
        );
    }
}

/// Every conversation sent to the model names each call once and answers it once, with an
/// answer no longer than the limit (and its note).
fn check_requests(server: &TestServer, format: Format, case: usize) {
    for request in server.requests() {
        let body = request.json();
        let Some(messages) = body["messages"].as_array() else {
            continue;
        };
        let mut calls = HashSet::new();
        let mut answered = HashSet::new();
        let mut answer = |id: &str, content: &str| {
            assert!(
                content.len() <= MAX_RESULT + 100,
                "case {case}: {} bytes",
                content.len()
            );
            assert!(
                answered.insert(id.to_string()),
                "case {case}: {id} answered twice"
            );
        };
        for m in messages {
            match format {
                Format::OpenAi => {
                    for c in m["tool_calls"].as_array().into_iter().flatten() {
                        let id = c["id"].as_str().unwrap();
                        assert!(
                            !id.is_empty() && calls.insert(id.to_string()),
                            "case {case}: {id}"
                        );
                    }
                    if m["role"] == "tool" {
                        answer(
                            m["tool_call_id"].as_str().unwrap(),
                            m["content"].as_str().unwrap(),
                        );
                    }
                }
                Format::Anthropic => {
                    for block in m["content"].as_array().into_iter().flatten() {
                        if block["type"] == "tool_use" {
                            let id = block["id"].as_str().unwrap();
                            assert!(
                                !id.is_empty() && calls.insert(id.to_string()),
                                "case {case}: {id}"
                            );
                        }
                        if block["type"] == "tool_result" {
                            answer(
                                block["tool_use_id"].as_str().unwrap(),
                                block["content"].as_str().unwrap(),
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(calls, answered, "case {case}: every call is answered");
    }
}

/// One case: the server scripted with one to three random turns, then a run against it.
async fn case(server: &TestServer, engine: &Engine, case: usize) -> &'static str {
    // Each case has its own generator, so cases that run at once stay reproducible.
    let mut rng = Rng::new(0xF0_22_00_07 ^ (case as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    server.reset();
    server.set_page("/html/", Page::html(SEARCH_PAGE));
    for i in 0..9 {
        server.set_page(&format!("/p{i}"), Page::html(&format!("<p>Page {i}.</p>")));
    }
    let base = server.url();
    let arguments = |name: &str, rng: &mut Rng| match name {
        "fetch_page" => serde_json::json!({ "url": format!("{base}/p{}", rng.below(9)) }),
        _ => serde_json::json!({ "query": format!("tides ✓ {}", rng.below(99)) }),
    };
    let maker = TurnMaker {
        tools: &["web_search", "fetch_page"],
        arguments: &arguments,
        huge: MAX_OUTPUT * 2 / 3,
        endless_piece: 2_000,
    };
    let (format, model) = if case.is_multiple_of(2) {
        (Format::OpenAi, "openai:fuzz")
    } else {
        (Format::Anthropic, "anthropic:fuzz")
    };
    let parallel = rng.chance(25);
    for _ in 0..1 + rng.below(3) {
        server.push(maker.turn(&mut rng, format).behavior());
    }
    server.set_default(Turn::text(format, "Done.").behavior());
    let events = run(engine, &mut rng, model, parallel).await;
    check_events(&events, case);
    check_requests(server, format, case);
    events.last().unwrap().kind.type_name()
}

/// A lane runs its cases one after another on its own server and engine (an engine's tools
/// build their HTTP clients once, which takes a while).
async fn lane(lane: usize, lanes: usize) -> Vec<&'static str> {
    let server = TestServer::start().await.unwrap();
    let engine = engine_for(&server);
    let mut outcomes = Vec::new();
    for n in (lane..RUNS).step_by(lanes) {
        outcomes.push(case(&server, &engine, n).await);
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_tool_calls_through_whole_runs_end_cleanly() {
    const LANES: usize = 8;
    let mut outcomes: HashMap<&'static str, usize> = HashMap::new();
    // A run spends much of its time waiting on loopback, so several go at once.
    let lanes = (0..LANES).map(|l| lane(l, LANES));
    for lane in futures_util::future::join_all(lanes).await {
        for outcome in lane {
            *outcomes.entry(outcome).or_default() += 1;
        }
    }
    // The fuzz reached both ends often.
    assert!(
        outcomes.get("RunCompleted").copied().unwrap_or(0) > RUNS / 10,
        "{outcomes:?}"
    );
    assert!(
        outcomes.get("RunFailed").copied().unwrap_or(0) > RUNS / 10,
        "{outcomes:?}"
    );
}
