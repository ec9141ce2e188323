//! Agents that call tools, against the local test server over real HTTP: tool calls streamed in
//! both wire formats (split inside JSON strings and inside UTF-8 characters), the built-in
//! `web_search` and `fetch_page` reading local pages, the answers going back to the model, and a
//! cancel at every moment of a call — during its arguments, during its request — ending the run
//! with exactly one `RunCancelled` and no connection left open.

use std::time::Duration;

use crate::support::*;
use serde_json::json;
use stepwise_engine::provider::{DemoModel, DemoPace, Providers};
use stepwise_engine::store::Store;
use stepwise_engine::tool::{ToolSettings, Tools};
use stepwise_engine::workflow::templates;
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, ErrorKind, EventKind, RunEvent, RunStatus, ToolCallStatus,
    Workflow,
};
use stepwise_testkit::{Behavior, PATIENCE, Page, ScriptedCall, TestServer, eventually_async};

/// Generous on purpose (shared CI machines); the providers benchmark measures the real figure.
const CLOSE_BOUND: Duration = Duration::from_secs(2);

const SEARCH_PAGE: &str = r#"<html><body>
  <div class="result"><h2><a class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fexample.org%2Ftides&amp;rut=1">Tides <b>explained</b></a></h2>
    <a class="result__snippet">How the <b>moon</b> moves the sea.</a></div>
  <div class="result"><a class="result__a" href="https://example.org/turbines">Tidal turbines</a>
    <div class="result__snippet">Blades under water.</div></div>
</body></html>"#;

const ARTICLE: &str = "<html><head><script>var hidden = 1;</script></head><body><nav>Menu</nav>\
    <article><h1>Tidal power</h1><p>Tides rise twice a day, as predictable as clockwork.</p></article>\
    </body></html>";

/// An engine whose `openai:` and `anthropic:` models are the test server, whose web search is
/// the server's `/html/` page, and whose tools may open the server (it is on this computer).
fn engine_for(server: &TestServer, tools: ToolSettings) -> Engine {
    Engine::new(EngineConfig {
        providers: server_providers(server),
        tools: Tools::new(tools),
        ..EngineConfig::default()
    })
}

fn local_tools(server: &TestServer) -> ToolSettings {
    ToolSettings {
        web_search_url: format!("{}/html/", server.url()),
        allow_private_network: true,
        // The model asks for the server's pages by addresses it was never shown.
        allow_hosts: vec!["127.0.0.1".into()],
        ..ToolSettings::default()
    }
}

fn agent(model: &str, tools: &str) -> Workflow {
    workflow_of(&format!(
        "name = \"Act\"\n[[steps]]\nname = \"Look\"\ninstructions = \"Find out.\"\nmodel = \"{model}\"\ntools = [{tools}]\n"
    ))
}

fn tool_events(events: &[RunEvent]) -> Vec<&EventKind> {
    events
        .iter()
        .map(|e| &e.kind)
        .filter(|k| {
            matches!(
                k,
                EventKind::ToolCallStarted { .. } | EventKind::ToolCallFinished { .. }
            )
        })
        .collect()
}

/// A search, split awkwardly, in one wire format: the call runs, its answer goes back, the model
/// answers with it.
async fn search_round_trip(model: &str) {
    let server = TestServer::start().await.unwrap();
    server.set_page("/html/", Page::html(SEARCH_PAGE));
    let query = "tidal énergie ✓ \"quoted\"";
    server.push(
        Behavior::text(&["Let me ", "check. "], 0)
            .with_calls(
                vec![ScriptedCall::new(
                    "call_1",
                    "web_search",
                    json!({ "query": query }),
                )],
                3,
            )
            .with_split_utf8(),
    );
    server.push(Behavior::text(&["Tides ", "are ", "explained."], 0));
    let engine = engine_for(&server, local_tools(&server));
    let (_, mut sub) = start(&engine, agent(model, "\"web_search\""), "tides");
    let events = collect(&mut sub).await;
    assert!(
        matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
        "{events:?}"
    );

    let calls = tool_events(&events);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let EventKind::ToolCallStarted {
        call_id,
        tool,
        arguments,
        title,
        ..
    } = calls[0]
    else {
        panic!("{calls:?}")
    };
    assert_eq!((call_id.as_str(), tool.as_str()), ("call_1", "web_search"));
    let args: serde_json::Value = serde_json::from_str(arguments).unwrap();
    assert_eq!(args["query"], query, "the arguments were joined whole");
    assert_eq!(title, &format!("Searching the web for “{query}”"));
    let EventKind::ToolCallFinished {
        ok,
        preview,
        result,
        ..
    } = calls[1]
    else {
        panic!("{calls:?}")
    };
    assert!(ok, "{preview}");
    assert_eq!(preview, "2 results");
    assert!(result.contains("https://example.org/tides"), "{result}");

    // The text of both turns is the step's; the search asked for the query.
    assert_eq!(
        deltas_of(&events, "look"),
        "Let me check. Tides are explained."
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "model, search, model");
    assert!(requests[1].path.starts_with("/html/?q=tidal+%C3%A9nergie"));

    // What went back to the model, in its own format.
    let second = requests[2].json();
    let results = serde_json::to_string(&second["messages"]).unwrap();
    assert!(results.contains("Tides explained"), "{results}");
    assert!(results.contains("https://example.org/tides"), "{results}");
    if model.starts_with("openai:") {
        let messages = second["messages"].as_array().unwrap();
        let assistant = &messages[2];
        assert_eq!(assistant["role"], "assistant");
        assert_eq!(assistant["content"], "Let me check. ");
        assert_eq!(assistant["tool_calls"][0]["id"], "call_1");
        assert_eq!(assistant["tool_calls"][0]["function"]["name"], "web_search");
        assert_eq!(messages[3]["role"], "tool");
        assert_eq!(messages[3]["tool_call_id"], "call_1");
        assert_eq!(
            requests[0].json()["tools"][0]["function"]["name"],
            "web_search"
        );
    } else {
        let messages = second["messages"].as_array().unwrap();
        assert_eq!(messages[1]["role"], "assistant");
        assert_eq!(messages[1]["content"][0]["text"], "Let me check. ");
        assert_eq!(messages[1]["content"][1]["type"], "tool_use");
        assert_eq!(messages[1]["content"][1]["input"]["query"], query);
        assert_eq!(messages[2]["content"][0]["type"], "tool_result");
        assert_eq!(messages[2]["content"][0]["tool_use_id"], "call_1");
        assert_eq!(messages[2]["content"][0]["is_error"], false);
        assert_eq!(requests[0].json()["tools"][0]["name"], "web_search");
    }
}

#[tokio::test]
async fn openai_tool_calls_are_joined_run_and_answered() {
    search_round_trip("openai:test").await;
}

#[tokio::test]
async fn anthropic_tool_use_is_joined_run_and_answered() {
    search_round_trip("anthropic:test").await;
}

#[tokio::test]
async fn fetch_page_reads_the_main_text_and_calls_in_one_turn_run_together() {
    let server = TestServer::start().await.unwrap();
    server.set_page("/article", Page::html(ARTICLE));
    server.set_page("/slow", Page::stalling());
    let base = server.url();
    server.push(Behavior::text(&[], 0).with_calls(
        vec![
            ScriptedCall::new("a", "fetch_page", json!({ "url": format!("{base}/slow") })),
            ScriptedCall::new(
                "b",
                "fetch_page",
                json!({ "url": format!("{base}/article") }),
            ),
        ],
        5,
    ));
    server.push(Behavior::text(&["Done."], 0));
    let mut tools = local_tools(&server);
    tools.timeout_secs = 1;
    let engine = engine_for(&server, tools);
    let (_, mut sub) = start(&engine, agent("openai:test", "\"fetch_page\""), "read");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    let finished: Vec<(String, bool, String, String)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCallFinished {
                call_id,
                ok,
                preview,
                result,
                ..
            } => Some((call_id.clone(), *ok, preview.clone(), result.clone())),
            _ => None,
        })
        .collect();
    // Both started before either ended: the article came back while the slow page still hung,
    // and the slow one hit the one-second tool timeout (its connection closed).
    assert_eq!(finished.len(), 2, "{finished:?}");
    let article = finished.iter().find(|f| f.0 == "b").unwrap();
    assert!(article.1, "{article:?}");
    assert!(article.3.contains("Tides rise twice a day"), "{article:?}");
    assert!(!article.3.contains("hidden") && !article.3.contains("Menu"));
    assert!(
        article.2.contains("kB of text from 127.0.0.1"),
        "{article:?}"
    );
    let slow = finished.iter().find(|f| f.0 == "a").unwrap();
    assert!(!slow.1);
    assert_eq!(slow.2, "it took longer than 1 s and was stopped");
    let slow_request = server
        .requests()
        .iter()
        .position(|r| r.path == "/slow")
        .unwrap();
    assert!(
        server
            .wait_for_disconnect(slow_request, CLOSE_BOUND)
            .await
            .is_some()
    );
    // The model was told both answers, the timeout as an error.
    let last = server.requests().last().unwrap().json();
    let tool_messages: Vec<&serde_json::Value> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(tool_messages.len(), 2);
    assert!(
        tool_messages[0]["content"]
            .as_str()
            .unwrap()
            .starts_with("Error: it took longer")
    );
}

#[tokio::test]
async fn cancel_during_a_tool_request_closes_its_connection() {
    let server = TestServer::start().await.unwrap();
    server.set_page("/slow-1", Page::stalling());
    server.set_page("/slow-2", Page::stalling());
    let base = server.url();
    server.push(Behavior::text(&["Reading. "], 0).with_calls(
        vec![
            ScriptedCall::new(
                "a",
                "fetch_page",
                json!({ "url": format!("{base}/slow-1") }),
            ),
            ScriptedCall::new(
                "b",
                "fetch_page",
                json!({ "url": format!("{base}/slow-2") }),
            ),
        ],
        0,
    ));
    let engine = engine_for(&server, local_tools(&server));
    let (id, mut sub) = start(&engine, agent("openai:test", "\"fetch_page\""), "read");
    let both_started = async {
        let mut events = Vec::new();
        while let Some(e) = next_event(&mut sub).await {
            let started = matches!(e.kind, EventKind::ToolCallStarted { .. });
            events.push(e);
            if started && tool_events(&events).len() == 2 {
                break;
            }
        }
        events
    };
    let mut events = tokio::time::timeout(PATIENCE, both_started)
        .await
        .expect("the two calls never started");
    // Both page requests are open at the same time.
    assert!(server.wait_for_requests(3, PATIENCE).await);
    assert!(engine.cancel(id, CancelReason::User));
    events.extend(collect(&mut sub).await);
    let EventKind::RunCancelled { running, .. } = assert_well_formed(&events) else {
        panic!("{events:?}")
    };
    assert_eq!(running[0].text, "Reading. ");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ToolCallFinished { .. })),
        "a stopped call reports no answer"
    );
    for i in 1..3 {
        assert!(
            server.wait_for_disconnect(i, CLOSE_BOUND).await.is_some(),
            "page request {i} closed"
        );
    }
    let run = engine.get(id).unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    let calls = &run.steps[0].tool_calls;
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.status == ToolCallStatus::Cancelled));
}

#[tokio::test]
async fn a_call_cut_off_mid_arguments_never_runs() {
    // Events the server sends before it stalls: the prelude, the text, the call's start and
    // three pieces of its arguments.
    for (model, sent_before_stall) in [("openai:test", 6), ("anthropic:test", 9)] {
        let server = TestServer::start().await.unwrap();
        server.set_page("/html/", Page::html(SEARCH_PAGE));
        let mut b = Behavior::text(&["Searching. "], 0).with_calls(
            vec![ScriptedCall::new(
                "c",
                "web_search",
                json!({"query": "half"}),
            )],
            2,
        );
        b.stall_after_argument_pieces = Some(3);
        server.push(b);
        let engine = engine_for(&server, local_tools(&server));
        let (id, mut sub) = start(&engine, agent(model, "\"web_search\""), "x");
        let mut events = events_until(
            &mut sub,
            |k| matches!(k, EventKind::TextDelta { path, .. } if &**path == "look"),
        )
        .await;
        eventually_async(
            PATIENCE,
            &format!("{model}: the server to send all it sends before it stalls"),
            async || server.requests()[0].chunks_sent >= sent_before_stall,
        )
        .await;
        assert!(engine.cancel(id, CancelReason::User));
        events.extend(collect(&mut sub).await);
        assert_eq!(deltas_of(&events, "look"), "Searching. ");
        assert!(matches!(
            assert_well_formed(&events),
            EventKind::RunCancelled { .. }
        ));
        assert!(tool_events(&events).is_empty(), "{model}: {events:?}");
        assert!(server.wait_for_disconnect(0, CLOSE_BOUND).await.is_some());
        assert_eq!(server.request_count(), 1, "{model}: no search was made");
    }
}

#[tokio::test]
async fn a_private_address_is_refused_unless_allowed() {
    let server = TestServer::start().await.unwrap();
    server.set_page("/article", Page::html(ARTICLE));
    let url = format!("{}/article", server.url());
    server.push(Behavior::text(&[], 0).with_calls(
        vec![
            ScriptedCall::new("a", "fetch_page", json!({ "url": url })),
            ScriptedCall::new("b", "fetch_page", json!({ "url": "file:///etc/passwd" })),
        ],
        0,
    ));
    server.push(Behavior::text(&["Could not read it."], 0));
    let mut tools = local_tools(&server);
    tools.allow_private_network = false;
    let engine = engine_for(&server, tools);
    let (_, mut sub) = start(&engine, agent("openai:test", "\"fetch_page\""), "x");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    let previews: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCallFinished { ok, preview, .. } => {
                assert!(!ok);
                Some(preview.clone())
            }
            _ => None,
        })
        .collect();
    assert!(previews[0].contains("private network"), "{previews:?}");
    assert!(previews[1].contains("file://"), "{previews:?}");
    assert!(
        server.requests().iter().all(|r| r.path != "/article"),
        "the page was never opened"
    );
}

#[tokio::test]
async fn redirects_are_followed_five_times_at_most() {
    let server = TestServer::start().await.unwrap();
    for i in 0..7 {
        server.set_page(&format!("/r{i}"), Page::redirect(&format!("/r{}", i + 1)));
    }
    server.set_page("/r7", Page::html(ARTICLE));
    server.set_page("/r2-ok", Page::redirect("/article"));
    server.set_page("/article", Page::html(ARTICLE));
    let base = server.url();
    server.push(Behavior::text(&[], 0).with_calls(
        vec![
            ScriptedCall::new("far", "fetch_page", json!({ "url": format!("{base}/r0") })),
            ScriptedCall::new(
                "near",
                "fetch_page",
                json!({ "url": format!("{base}/r2-ok") }),
            ),
        ],
        0,
    ));
    server.push(Behavior::text(&["ok"], 0));
    let engine = engine_for(&server, local_tools(&server));
    let (_, mut sub) = start(&engine, agent("openai:test", "\"fetch_page\""), "x");
    let events = collect(&mut sub).await;
    let outcome = |id: &str| tool_outcome(&events, id);
    let (ok, preview) = outcome("far");
    assert!(!ok && preview.contains("redirect"), "{preview}");
    assert!(outcome("near").0);
}

#[tokio::test]
async fn malformed_arguments_are_answered_once_then_fail_the_step() {
    let server = TestServer::start().await.unwrap();
    let broken = ScriptedCall {
        id: "x".into(),
        name: "web_search".into(),
        arguments: "{\"query\": \"unterminated".into(),
    };
    server.push(Behavior::text(&[], 0).with_calls(vec![broken.clone()], 4));
    server.push(Behavior::text(&[], 0).with_calls(vec![broken], 4));
    let engine = engine_for(&server, local_tools(&server));
    let (_, mut sub) = start(&engine, agent("openai:test", "\"web_search\""), "x");
    let events = collect(&mut sub).await;
    let EventKind::RunFailed { error, message, .. } = assert_well_formed(&events) else {
        panic!("{events:?}")
    };
    assert_eq!(*error, ErrorKind::Tool);
    assert!(message.contains("again"), "{message}");
    // The first time, the model was told what was wrong.
    let told = serde_json::to_string(&server.requests()[1].json()["messages"]).unwrap();
    assert!(told.contains("not valid JSON"), "{told}");
    assert_eq!(server.request_count(), 2, "no search was made");
}

#[tokio::test]
async fn a_model_that_keeps_calling_tools_is_stopped_at_max_tool_rounds() {
    let server = TestServer::start().await.unwrap();
    server.set_page("/html/", Page::html(SEARCH_PAGE));
    server.set_default(Behavior::text(&["Again. "], 0).with_calls(
        vec![ScriptedCall::new(
            "again",
            "web_search",
            json!({"query": "more"}),
        )],
        0,
    ));
    let engine = engine_for(&server, local_tools(&server));
    let wf = workflow_of(
        "name = \"Loop\"\n[[steps]]\nname = \"Look\"\ninstructions = \"x\"\nmodel = \"openai:test\"\n\
         tools = [\"web_search\"]\nmax_tool_rounds = 2\n",
    );
    let (_, mut sub) = start(&engine, wf, "x");
    let events = collect(&mut sub).await;
    let EventKind::RunFailed { error, message, .. } = assert_well_formed(&events) else {
        panic!("{events:?}")
    };
    assert_eq!(*error, ErrorKind::Tool);
    assert!(message.contains("after 2 rounds"), "{message}");
    assert_eq!(deltas_of(&events, "look"), "Again. Again. Again. ");
    // Three model turns and two searches.
    assert_eq!(server.request_count(), 5);
}

#[tokio::test]
async fn the_demo_model_searches_offline_and_the_history_keeps_the_call() {
    let db = scratch_db("tools-demo-history");
    let store = Store::open(&db).unwrap();
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT)),
        sink: Some(store.sink()),
        // An address nothing listens on: the demo search must not need it.
        tools: Tools::new(ToolSettings {
            web_search_url: "http://127.0.0.1:9/".into(),
            ..ToolSettings::default()
        }),
        ..EngineConfig::default()
    });
    let research = templates::get("research-and-write").unwrap().workflow;
    let (id, mut sub) = start(&engine, research, "tidal energy");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    let calls = tool_events(&events);
    let EventKind::ToolCallStarted { tool, title, .. } = calls[0] else {
        panic!()
    };
    assert_eq!(tool, "web_search");
    assert_eq!(title, "Searching the web for “tidal energy”");
    let EventKind::ToolCallFinished { ok, preview, .. } = calls[1] else {
        panic!()
    };
    assert!(ok);
    assert_eq!(preview, "5 results (demo search)");
    let research_text = deltas_of(&events, "research");
    assert!(research_text.starts_with("Let me look up tidal energy first."));
    assert!(research_text.contains("Sources:\n[1] https://example.org/demo/tidal-energy/1"));

    store.flush(Duration::from_secs(10)).unwrap();
    let saved = store.get_run(id).unwrap().unwrap();
    assert_eq!(saved, engine.get(id).unwrap(), "the history folds alike");
    let markdown = store
        .export(id, stepwise_engine::store::ExportFormat::Markdown)
        .unwrap()
        .unwrap();
    assert!(
        markdown.contains("- *Searching the web for “tidal energy” — 5 results (demo search), "),
        "{markdown}"
    );
    let call = &saved.steps[0].tool_calls[0];
    assert_eq!(call.status, ToolCallStatus::Done);
    assert_eq!(
        call.at,
        "Let me look up tidal energy first.\n\n".chars().count() as u32
    );
}

#[tokio::test]
async fn a_tool_step_runs_its_tool_with_filled_in_arguments_and_no_model() {
    let server = TestServer::start().await.unwrap();
    server.set_page("/article", Page::html(ARTICLE));
    server.push(Behavior::text(&["Summed up."], 0));
    let engine = engine_for(&server, local_tools(&server));
    let wf = workflow_of(
        "name = \"Read then write\"\n\
         [[steps]]\nname = \"Fetch\"\nkind = \"tool\"\ntool = \"fetch_page\"\n\
         [steps.arguments]\nurl = \"{{input}}\"\n\
         [[steps]]\nname = \"Sum up\"\ninstructions = \"Sum up: {{steps.fetch.output}}\"\nmodel = \"openai:test\"\n",
    );
    let (_, mut sub) = start(&engine, wf, &format!("{}/article", server.url()));
    let events = collect(&mut sub).await;
    assert!(
        matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
        "{:?}",
        events.last()
    );
    let fetched = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::StepCompleted { path, output, .. } if path == "fetch" => {
                Some(output.clone())
            }
            _ => None,
        })
        .unwrap();
    assert!(fetched.contains("Tides rise twice a day"), "{fetched}");
    let started = tool_events(&events);
    let EventKind::ToolCallStarted { arguments, .. } = started[0] else {
        panic!()
    };
    assert!(arguments.contains("/article"), "{arguments}");
    // Only the second step asked a model, with the page's text in its instructions.
    let requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .collect();
    assert_eq!(requests.len(), 1);
    let system = requests[0].json()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("Tides rise twice a day"), "{system}");

    // A tool that answers with an error fails the step: there is no model to tell.
    let (_, mut sub) = start(
        &engine,
        workflow_of(
            "name = \"Missing\"\n[[steps]]\nname = \"Fetch\"\nkind = \"tool\"\ntool = \"fetch_page\"\n\
             [steps.arguments]\nurl = \"{{input}}\"\n",
        ),
        &format!("{}/nothing-here", server.url()),
    );
    let events = collect(&mut sub).await;
    let EventKind::RunFailed { error, message, .. } = assert_well_formed(&events) else {
        panic!()
    };
    assert_eq!(*error, ErrorKind::Tool);
    assert!(message.contains("404"), "{message}");
}

#[test]
fn tool_steps_and_tool_lists_are_checked_with_their_lines() {
    let err = |toml: &str| {
        stepwise_engine::workflow::parse(toml, Some("t.toml"))
            .unwrap_err()
            .to_string()
    };
    let e = err("name = \"W\"\n[[steps]]\nname = \"T\"\nkind = \"tool\"\n");
    assert!(e.contains("needs `tool`"), "{e}");
    let e = err("name = \"W\"\n[[steps]]\nname = \"T\"\nkind = \"tool\"\ntool = \"everything\"\n");
    assert!(e.contains("is not one tool"), "{e}");
    let e = err(
        "name = \"W\"\n[[steps]]\nname = \"T\"\nkind = \"tool\"\ntool = \"fetch_page\"\ninstructions = \"x\"\n",
    );
    assert!(
        e.contains("`instructions` is not used by tool steps"),
        "{e}"
    );
    let e = err(
        "name = \"W\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\ntools = [\"web search\"]\n",
    );
    assert!(e.contains("line 5") && e.contains("is not a tool"), "{e}");
    let e = err(
        "name = \"W\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\ntools = [\"fetch_page\", \"fetch_page\"]\n",
    );
    assert!(e.contains("listed twice"), "{e}");
    let e = err(
        "name = \"W\"\n[[steps]]\nname = \"T\"\nkind = \"tool\"\ntool = \"fetch_page\"\n\
         [steps.arguments]\nurl = \"{{steps.later.output}}\"\n[[steps]]\nname = \"Later\"\ninstructions = \"x\"\n",
    );
    assert!(e.contains("arguments") && e.contains("later"), "{e}");
    // A server's tool by name, and a whole server for an agent, are fine in a file.
    stepwise_engine::workflow::parse(
        "name = \"W\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\ntools = [\"everything\", \"files.read_file\"]\n\
         [[steps]]\nname = \"T\"\nkind = \"tool\"\ntool = \"everything.echo\"\n[steps.arguments]\nmessage = \"hi\"\n",
        None,
    )
    .unwrap();
}

#[tokio::test]
async fn a_server_that_reuses_call_ids_across_rounds_or_sends_none() {
    let server = TestServer::start().await.unwrap();
    server.set_page("/html/", Page::html(SEARCH_PAGE));
    let call = |id: &str| {
        Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new(id, "web_search", json!({"query": "q"}))],
            0,
        )
    };
    // Some local servers number calls per turn: the same id in both rounds; others send none.
    server.push(call("call_0"));
    server.push(call("call_0"));
    server.push(call(""));
    server.push(call(""));
    server.push(Behavior::text(&["Done."], 0));
    let engine = engine_for(&server, local_tools(&server));
    let (id, mut sub) = start(&engine, agent("openai:test", "\"web_search\""), "x");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    let calls = &engine.get(id).unwrap().steps[0].tool_calls;
    assert_eq!(calls.len(), 4);
    assert!(
        calls.iter().all(|c| c.status == ToolCallStatus::Done),
        "{calls:?}"
    );
    // Every call has an id of its own in the step: the first keeps the model's, a reused or
    // missing one gets a fresh one.
    let made: Vec<&str> = calls.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(made[0], "call_0");
    let unique: std::collections::HashSet<&&str> = made.iter().collect();
    assert_eq!(unique.len(), 4, "{made:?}");
    // What went back to the model pairs each answer with its call, under those ids.
    let last = server.requests().last().unwrap().json();
    let ids: Vec<String> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["tool_call_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, made);
}
