//! What a model's tool calls may not do, against the local test server: send back a huge answer
//! every round (answers are cut at `[tools] max_result_bytes`), give two calls one id (each gets
//! its own), stream arguments without end (they count toward the step's output limit), ask for
//! more calls than a turn may run (the rest are told the limit); and two tool steps waiting for
//! the person at once have distinct ids, each answered on its own.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::*;
use serde_json::json;
use stepwise_engine::tool::{ToolSettings, Tools};
use stepwise_engine::{
    ApprovalAnswer, Engine, EngineConfig, ErrorKind, EventKind, RunEvent, Workflow,
};
use stepwise_testkit::{Behavior, PATIENCE, Page, RawEnd, ScriptedCall, TestServer};

/// Runs `agent(model)` on "tides" with these tools to its end, which must be a completion.
async fn completed_run(server: &TestServer, tools: ToolSettings, model: &str) -> Vec<RunEvent> {
    let engine = engine_for(server, tools, 1_000_000);
    let (_, mut sub) = start(&engine, agent(model), "tides");
    let events = collect(&mut sub).await;
    assert!(
        matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
        "{model}: {:?}",
        events.last()
    );
    events
}

fn engine_for(server: &TestServer, tools: ToolSettings, max_output: usize) -> Engine {
    Engine::new(EngineConfig {
        providers: server_providers(server),
        tools: Tools::new(tools),
        max_step_output: max_output,
        ..EngineConfig::default()
    })
}

fn search_tools(server: &TestServer) -> ToolSettings {
    ToolSettings {
        web_search_url: format!("{}/html/", server.url()),
        ..ToolSettings::default()
    }
}

/// A results page of ten results with long snippets (the search tool keeps them all).
fn big_search_page() -> String {
    let snippet = "Les marées montent deux fois par jour — ✓ ".repeat(20);
    let results: String = (0..10)
        .map(|i| {
            format!(
                "<div class=\"result\"><a class=\"result__a\" href=\"https://example.org/{i}\">Tides {i}</a>\
                 <div class=\"result__snippet\">{snippet}</div></div>"
            )
        })
        .collect();
    format!("<html><body>{results}</body></html>")
}

fn agent(model: &str) -> Workflow {
    workflow_of(&format!(
        "name = \"Act\"\n[[steps]]\nname = \"Look\"\ninstructions = \"Find out.\"\nmodel = \"{model}\"\n\
         tools = [\"web_search\"]\n"
    ))
}

fn search(id: &str) -> ScriptedCall {
    ScriptedCall::new(id, "web_search", json!({"query": "tides"}))
}

/// The answers the model was sent in request `body`, in either wire format: (call id, content).
fn answers_in(body: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in body["messages"].as_array().unwrap() {
        if m["role"] == "tool" {
            out.push((
                m["tool_call_id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            ));
        }
        for block in m["content"].as_array().into_iter().flatten() {
            if block["type"] == "tool_result" {
                out.push((
                    block["tool_use_id"].as_str().unwrap().to_string(),
                    block["content"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

/// The call ids the model itself was said to have used, in request `body`.
fn calls_in(body: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for m in body["messages"].as_array().unwrap() {
        for c in m["tool_calls"].as_array().into_iter().flatten() {
            out.push(c["id"].as_str().unwrap().to_string());
        }
        for block in m["content"].as_array().into_iter().flatten() {
            if block["type"] == "tool_use" {
                out.push(block["id"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

fn model_requests(server: &TestServer) -> Vec<serde_json::Value> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.json())
        .collect()
}

#[tokio::test]
async fn every_tool_answer_goes_to_the_model_cut_at_max_result_bytes() {
    for model in ["openai:test", "anthropic:test"] {
        let server = TestServer::start().await.unwrap();
        server.set_page("/html/", Page::html(&big_search_page()));
        server.push(Behavior::text(&[], 0).with_calls(vec![search("a")], 0));
        server.push(Behavior::text(&[], 0).with_calls(vec![search("b")], 0));
        server.push(Behavior::text(&["Done."], 0));
        let tools = ToolSettings {
            max_result_bytes: 2_000,
            ..search_tools(&server)
        };
        completed_run(&server, tools, model).await;
        let requests = model_requests(&server);
        assert_eq!(requests.len(), 3, "{model}");
        let note = "\n\n[The answer goes on; only its first 2 kB are shown.]";
        // The last request carries both rounds' answers, each cut (not just the newest).
        let answers = answers_in(&requests[2]);
        assert_eq!(answers.len(), 2, "{model}");
        for (id, content) in &answers {
            let (kept, said) = content.split_at(content.len() - note.len());
            assert_eq!(said, note, "{model}: {id}");
            assert!(
                kept.len() <= 2_000 && kept.len() > 1_990,
                "{model}: {}",
                kept.len()
            );
        }
        assert!(
            requests[2].to_string().len() < 10_000,
            "{model}: the request stays small"
        );
    }
}

#[tokio::test]
async fn two_calls_with_one_id_in_a_turn_each_get_their_own() {
    for model in ["openai:test", "anthropic:test"] {
        let server = TestServer::start().await.unwrap();
        server.set_page("/html/", Page::html(&big_search_page()));
        // Twice "dup" in one turn, then "dup" again in the next round; searches ask first.
        server.push(Behavior::text(&[], 0).with_calls(vec![search("dup"), search("dup")], 3));
        server.push(Behavior::text(&[], 0).with_calls(vec![search("dup")], 0));
        server.push(Behavior::text(&["Done."], 0));
        let tools = ToolSettings {
            ask: vec!["web_search".into()],
            ..search_tools(&server)
        };
        let engine = engine_for(&server, tools, 1_000_000);
        let (id, mut sub) = start(&engine, agent(model), "tides");
        let mut events = Vec::new();
        let mut held = Vec::new();
        let mut requested = 0;
        while let Some(e) = tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .unwrap()
        {
            if let EventKind::ToolApprovalRequested { path, call_id } = &e.kind {
                requested += 1;
                held.push((path.clone(), call_id.clone()));
                // The first turn's two calls wait side by side before either is answered.
                if requested >= 2 {
                    for (path, call) in held.drain(..) {
                        let answered =
                            engine.answer_tool_call(id, &path, &call, ApprovalAnswer::Allow);
                        assert!(answered.is_some(), "{model}: {call} waits");
                    }
                }
            }
            events.push(e);
        }
        assert!(
            matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
            "{model}: {:?}",
            events.last()
        );
        let started: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::ToolCallStarted { call_id, .. } => Some(call_id.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(started.len(), 3, "{model}");
        assert_eq!(
            started[0], "dup",
            "{model}: a model's own id is kept when it is new"
        );
        let unique: HashSet<&String> = started.iter().collect();
        assert_eq!(unique.len(), 3, "{model}: {started:?}");
        // The model is told of each call under the id it ran by, each answered once.
        let last = &model_requests(&server)[2];
        assert_eq!(calls_in(last), started, "{model}");
        let answered: Vec<String> = answers_in(last).into_iter().map(|(id, _)| id).collect();
        assert_eq!(answered, started, "{model}");
    }
}

#[tokio::test]
async fn tool_call_arguments_count_toward_the_step_output_limit() {
    let endless = |server: &TestServer, model: &str| {
        let piece = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
            "function": {"arguments": "aaaaaaaaaaaaaaaaaaaa"}}]}, "finish_reason": null}]});
        if model.starts_with("openai") {
            let start = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
                "id": "c", "type": "function", "function": {"name": "web_search", "arguments": "{\"query\": \""}}]},
                "finish_reason": null}]});
            server.push(Behavior::raw(
                vec![format!("data: {start}\n\n")],
                RawEnd::Repeat(format!("data: {piece}\n\n")),
            ));
        } else {
            let start = json!({"type": "content_block_start", "index": 0, "content_block":
                {"type": "tool_use", "id": "c", "name": "web_search", "input": {}}});
            let piece = json!({"type": "content_block_delta", "index": 0, "delta":
                {"type": "input_json_delta", "partial_json": "aaaaaaaaaaaaaaaaaaaa"}});
            server.push(Behavior::raw(
                vec![
                    format!(
                        "event: message_start\ndata: {}\n\n",
                        json!({"type": "message_start",
                        "message": {"usage": {"input_tokens": 3}}})
                    ),
                    format!("event: content_block_start\ndata: {start}\n\n"),
                ],
                RawEnd::Repeat(format!("event: content_block_delta\ndata: {piece}\n\n")),
            ));
        }
    };
    for model in ["openai:test", "anthropic:test"] {
        // Arguments that never end, after a little text: stopped at 1 kB of text and arguments.
        let server = TestServer::start().await.unwrap();
        server.push(Behavior::text(&["Searching. "], 0));
        endless(&server, model);
        let engine = engine_for(&server, search_tools(&server), 1_000);
        let wf = workflow_of(&format!(
            "name = \"Act\"\n[[steps]]\nname = \"Before\"\ninstructions = \"x\"\nmodel = \"{model}\"\n\
             [[steps]]\nname = \"Look\"\ninstructions = \"Find out.\"\nmodel = \"{model}\"\n\
             tools = [\"web_search\"]\n"
        ));
        let (_, mut sub) = start(&engine, wf, "tides");
        let events = collect(&mut sub).await;
        let (kind, message) = failure(&events);
        assert_eq!(kind, ErrorKind::Provider, "{model}: {message}");
        assert!(
            message.contains("more than 1 kB") && message.contains("max_step_output_bytes"),
            "{model}: {message}"
        );
        assert!(server.wait_for_disconnect(1, PATIENCE).await.is_some());
        assert!(
            !events
                .iter()
                .any(|e| matches!(e.kind, EventKind::ToolCallStarted { .. })),
            "{model}: the call never ran"
        );

        // A whole call whose arguments are over the limit, in pieces: the same.
        let server = TestServer::start().await.unwrap();
        let huge = ScriptedCall::new("h", "web_search", json!({"query": "é".repeat(5_000)}));
        server.push(Behavior::text(&["Hm. "], 0).with_calls(vec![huge], 100));
        let engine = engine_for(&server, search_tools(&server), 1_000);
        let (_, mut sub) = start(&engine, agent(model), "tides");
        let events = collect(&mut sub).await;
        let (_, message) = failure(&events);
        assert!(message.contains("more than 1 kB"), "{model}: {message}");
        assert_eq!(
            deltas_of(&events, "look"),
            "Hm. ",
            "{model}: the text is kept"
        );
    }
}

#[tokio::test]
async fn at_most_max_calls_per_turn_run_and_the_rest_are_told_the_limit() {
    for model in ["openai:test", "anthropic:test"] {
        let server = TestServer::start().await.unwrap();
        server.set_page("/html/", Page::html(&big_search_page()));
        let calls = (0..5).map(|i| search(&format!("c{i}"))).collect();
        server.push(Behavior::text(&[], 0).with_calls(calls, 0));
        server.push(Behavior::text(&["Done."], 0));
        let tools = ToolSettings {
            max_calls_per_turn: 2,
            ..search_tools(&server)
        };
        let events = completed_run(&server, tools, model).await;
        let started = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::ToolCallStarted { .. }))
            .count();
        assert_eq!(started, 2, "{model}");
        let searches = server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/html/"))
            .count();
        assert_eq!(searches, 2, "{model}");
        let answers = answers_in(&model_requests(&server)[1]);
        assert_eq!(answers.len(), 5, "{model}: every call is answered");
        for (id, content) in &answers[2..] {
            assert!(
                content.contains("at most 2 tool calls from one turn"),
                "{model}: {id}: {content}"
            );
        }
        assert!(!answers[0].1.contains("at most"), "{model}");
    }
}

#[tokio::test]
async fn two_tool_steps_waiting_at_once_have_distinct_ids_and_each_is_answered() {
    let server = TestServer::start().await.unwrap();
    server.set_page("/html/", Page::html(&big_search_page()));
    let tools = ToolSettings {
        ask: vec!["web_search".into()],
        ..search_tools(&server)
    };
    let engine = engine_for(&server, tools, 1_000_000);
    let wf = workflow_of(
        "name = \"Both\"\n[[steps]]\nname = \"Both\"\nkind = \"parallel\"\n\
         [[steps.steps]]\nname = \"One\"\nkind = \"tool\"\ntool = \"web_search\"\n\
         [steps.steps.arguments]\nquery = \"{{input}} one\"\n\
         [[steps.steps]]\nname = \"Two\"\nkind = \"tool\"\ntool = \"web_search\"\n\
         [steps.steps.arguments]\nquery = \"{{input}} two\"\n",
    );
    let (id, mut sub) = start(&engine, wf, "tides");
    let mut waiting = Vec::new();
    let mut events = Vec::new();
    while waiting.len() < 2 {
        let e = tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .unwrap()
            .expect("both wait before the run ends");
        if let EventKind::ToolApprovalRequested { path, call_id } = &e.kind {
            waiting.push((path.clone(), call_id.clone()));
        }
        events.push(e);
    }
    // Both wait at once, under ids of their own (the window keys its list by step and id).
    assert_ne!(waiting[0].1, waiting[1].1, "{waiting:?}");
    let run = engine.get(id).unwrap();
    assert_eq!(run.waiting_calls().count(), 2);
    for (path, call_id) in &waiting {
        assert!(
            engine
                .answer_tool_call(id, path, call_id, ApprovalAnswer::Allow)
                .is_some(),
            "{path} {call_id} waits"
        );
    }
    events.extend(collect(&mut sub).await);
    assert!(
        matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
        "{:?}",
        events.last()
    );
    let searches = server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/html/"))
        .count();
    assert_eq!(searches, 2);
}
