//! MCP servers against the real reference server, `@modelcontextprotocol/server-everything` from
//! npm (installed by `scripts/test.sh` into `tests/mcp/`), started through
//! `tests/mcp/logged-server.mjs`, which passes every message through and notes what reached the
//! server and when. Listing and calling tools from a run, the environment a server gets, a
//! cancel mid-call (the server receives `notifications/cancelled`), a server killed mid-call,
//! and no process left behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use serde_json::json;
use stepwise_engine::provider::{DemoModel, DemoPace, OpenAiProvider, Providers};
use stepwise_engine::tool::mcp::McpServerSettings;
use stepwise_engine::tool::{ToolSettings, Tools};
use stepwise_engine::{CancelReason, Engine, EngineConfig, ErrorKind, EventKind, ProviderKind};
use stepwise_testkit::{Behavior, PATIENCE, ScriptedCall, TestServer, eventually_async};

/// The reference server, tagged (its processes carry `tag` on their command lines) and logging
/// to `log`.
fn everything(tag: &str, log: &Path) -> McpServerSettings {
    McpServerSettings {
        command: Some("node".into()),
        args: vec![shim().display().to_string(), tag.into()],
        env: BTreeMap::from([("STEPWISE_MCP_LOG".into(), log.display().to_string())]),
        ..McpServerSettings::default()
    }
}

fn engine_with(server: &TestServer, tools: Tools) -> Engine {
    let openai = OpenAiProvider::new(server.openai_base(), None, no_retries());
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT))
            .with(ProviderKind::OpenAi, Arc::new(openai)),
        tools,
        ..EngineConfig::default()
    })
}

fn tools_for(tag: &str, log: &Path) -> Tools {
    Tools::with_mcp(
        ToolSettings::default(),
        BTreeMap::from([("everything".to_string(), everything(tag, log))]),
    )
}

fn step(tools: &str) -> stepwise_engine::Workflow {
    workflow_of(&format!(
        "name = \"Use\"\n[[steps]]\nname = \"Use\"\ninstructions = \"u\"\nmodel = \"openai:test\"\ntools = [{tools}]\n"
    ))
}

/// The messages that passed through the logging shim.
fn logged(log: &Path) -> Vec<(String, f64, serde_json::Value)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let msg = serde_json::from_str(v["line"].as_str().unwrap()).unwrap_or_default();
            (
                v["dir"].as_str().unwrap().to_string(),
                v["t"].as_f64().unwrap(),
                msg,
            )
        })
        .collect()
}

/// Waits until the logging shim has passed a `tools/call` on to the server: the call is under
/// way at the server's end.
async fn call_reached_server(log: &Path) {
    eventually_async(PATIENCE, "the call to reach the server", async || {
        logged(log)
            .iter()
            .any(|(d, _, m)| d == "in" && m["method"] == "tools/call")
    })
    .await;
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepwise-mcp-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("messages.jsonl");
    let _ = std::fs::remove_file(&log);
    log
}

#[tokio::test]
async fn a_run_lists_and_calls_a_servers_tools_and_the_server_gets_no_secrets() {
    let log = scratch("call");
    let tag = "stepwise-mcp-test-call";
    let tools = tools_for(tag, &log);
    let server = TestServer::start().await.unwrap();
    server.push(Behavior::text(&["Echoing. "], 0).with_calls(
        vec![
            ScriptedCall::new("e", "everything__echo", json!({"message": "héllo"})),
            ScriptedCall::new("v", "everything__get-env", json!({})),
        ],
        3,
    ));
    server.push(Behavior::text(&["Done."], 0));
    let engine = engine_with(&server, tools.clone());
    let (_, mut sub) = start(
        &engine,
        step("\"everything.echo\", \"everything.get-env\""),
        "x",
    );
    let events = collect(&mut sub).await;
    assert!(
        matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
        "{:?}",
        events.last()
    );
    let finished: Vec<(String, bool, String)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCallFinished {
                call_id,
                ok,
                result,
                ..
            } => Some((call_id.clone(), *ok, result.clone())),
            _ => None,
        })
        .collect();
    let echo = finished.iter().find(|f| f.0 == "e").unwrap();
    assert!(echo.1);
    assert_eq!(echo.2, "Echo: héllo");
    let titles: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCallStarted { title, .. } => Some(title.clone()),
            _ => None,
        })
        .collect();
    assert!(
        titles.iter().any(|t| t.starts_with("everything · ")),
        "{titles:?}"
    );

    // Only what the server needs and its entry's variables: this process's own (cargo sets
    // CARGO_MANIFEST_DIR for every test) stay behind.
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok());
    let env = &finished.iter().find(|f| f.0 == "v").unwrap().2;
    assert!(env.contains("\"PATH\""), "{env}");
    assert!(env.contains("STEPWISE_MCP_LOG"), "{env}");
    assert!(!env.contains("CARGO_MANIFEST_DIR"), "{env}");

    // The model saw the server's tools, described, under names every provider accepts.
    let offered = server.requests()[0].json()["tools"].clone();
    let names: Vec<&str> = offered
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["everything__echo", "everything__get-env"]);
    let listed = tools.mcp().running("everything").await.unwrap();
    let echo_tool = listed.tools.iter().find(|t| t.name == "echo").unwrap();
    assert!(echo_tool.read_only, "the server marks echo read-only");
    assert!(!echo_tool.description.is_empty());
    assert!(
        listed
            .stderr_tail(10)
            .iter()
            .any(|l| l.contains("Starting default (STDIO) server")),
        "its stderr is kept"
    );

    // Shared: a second run uses the same server process.
    let before = processes_tagged(tag);
    assert_eq!(before.len(), 2, "the shim and the server: {before:?}");
    server.push(Behavior::text(&[], 0).with_calls(
        vec![ScriptedCall::new(
            "e2",
            "everything__echo",
            json!({"message": "again"}),
        )],
        0,
    ));
    server.push(Behavior::text(&["ok"], 0));
    let (_, mut sub) = start(&engine, step("\"everything\""), "x");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    assert_eq!(
        processes_tagged(tag),
        before,
        "the same server served both runs"
    );
    let all = server.requests()[2].json()["tools"]
        .as_array()
        .unwrap()
        .len();
    assert!(all > 5, "a bare server name enables all its tools ({all})");

    engine.shutdown(CancelReason::AppExit).await;
    assert_eq!(
        processes_tagged(tag),
        Vec::<u32>::new(),
        "no process left after quit"
    );
}

#[tokio::test]
async fn a_cancel_mid_call_reaches_the_server_and_ends_the_call() {
    let log = scratch("cancel");
    let tag = "stepwise-mcp-test-cancel";
    let server = TestServer::start().await.unwrap();
    server.push(long_mcp_call(&["Working. "]));
    let tools = tools_for(tag, &log);
    let engine = engine_with(&server, tools.clone());
    let (id, mut sub) = start(&engine, step("\"everything\""), "x");
    let mut events =
        events_until(&mut sub, |k| matches!(k, EventKind::ToolCallStarted { .. })).await;
    call_reached_server(&log).await;
    // What the server had seen before the cancel: the log is written in the order messages
    // pass, so whatever comes after this many lines came after the cancel (an order, not a
    // clock: the shim's clock and ours need not agree to the millisecond on a busy machine).
    let seen_before_cancel = logged(&log).len();
    assert!(engine.cancel(id, CancelReason::User));
    events.extend(collect(&mut sub).await);
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCancelled { .. }
    ));

    // The server received `notifications/cancelled` for the call's request id, and never
    // answered it.
    let (call_id, received) = eventually_async(
        PATIENCE,
        "notifications/cancelled to reach the server",
        async || {
            let messages = logged(&log);
            let call = messages
                .iter()
                .find(|(d, _, m)| d == "in" && m["method"] == "tools/call")
                .map(|(_, _, m)| m["id"].clone())
                .unwrap();
            messages
                .iter()
                .position(|(d, _, m)| {
                    d == "in"
                        && m["method"] == "notifications/cancelled"
                        && m["params"]["requestId"] == call
                })
                .map(|at| (call.clone(), at))
        },
    )
    .await;
    assert!(received >= seen_before_cancel, "after the cancel");
    // The server reads its messages in order: once it has answered a call sent after the
    // cancel, anything it was going to say in answer to the cancel has been said (and logged).
    tools
        .mcp()
        .running("everything")
        .await
        .unwrap()
        .call("echo", json!({"message": "after the cancel"}), 10_000)
        .await
        .unwrap();
    assert!(
        !logged(&log)
            .iter()
            .any(|(d, _, m)| d == "out" && m["id"] == call_id && m.get("result").is_some()),
        "the cancelled call got no answer"
    );
    engine.shutdown(CancelReason::AppExit).await;
    assert!(processes_tagged(tag).is_empty());
}

#[tokio::test]
async fn a_server_that_dies_mid_call_fails_the_step_with_its_last_words() {
    let log = scratch("killed");
    let tag = "stepwise-mcp-test-killed";
    let server = TestServer::start().await.unwrap();
    server.push(long_mcp_call(&[]));
    let tools = tools_for(tag, &log);
    let engine = engine_with(&server, tools.clone());
    let (_, mut sub) = start(&engine, step("\"everything\""), "x");
    let mut events =
        events_until(&mut sub, |k| matches!(k, EventKind::ToolCallStarted { .. })).await;
    call_reached_server(&log).await;
    let group = tools
        .mcp()
        .running("everything")
        .await
        .unwrap()
        .process_group()
        .unwrap();
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .status()
        .unwrap();
    events.extend(collect(&mut sub).await);
    let EventKind::RunFailed { error, message, .. } = assert_well_formed(&events) else {
        panic!("{:?}", events.last())
    };
    assert_eq!(*error, ErrorKind::Tool);
    assert!(message.contains("stopped while"), "{message}");
    assert!(
        message.contains("Starting default (STDIO) server"),
        "{message}"
    );
    engine.shutdown(CancelReason::AppExit).await;
    assert!(processes_tagged(tag).is_empty());
}

#[tokio::test]
async fn a_server_that_cannot_start_fails_the_step_and_says_why() {
    let server = TestServer::start().await.unwrap();
    let tools = Tools::with_mcp(
        ToolSettings::default(),
        BTreeMap::from([(
            "broken".to_string(),
            McpServerSettings {
                command: Some("node".into()),
                args: vec![
                    "-e".into(),
                    "console.error('no config file'); process.exit(3)".into(),
                ],
                ..McpServerSettings::default()
            },
        )]),
    );
    let engine = engine_with(&server, tools);
    let (_, mut sub) = start(&engine, step("\"broken\""), "x");
    let events = collect(&mut sub).await;
    let EventKind::RunFailed { error, message, .. } = assert_well_formed(&events) else {
        panic!("{:?}", events.last())
    };
    assert_eq!(*error, ErrorKind::Tool);
    assert!(message.contains("“broken” did not start"), "{message}");
    assert!(message.contains("no config file"), "{message}");
    assert_eq!(server.request_count(), 0, "no model was asked");

    let (_, mut sub) = start(&engine, step("\"nowhere\""), "x");
    let events = collect(&mut sub).await;
    let EventKind::RunFailed { message, .. } = assert_well_formed(&events) else {
        panic!()
    };
    assert!(
        message.contains("no MCP server “nowhere” in Settings"),
        "{message}"
    );
}

/// Follows a run, answering each approval request with the next of `answers`.
async fn follow_answering(
    engine: &Engine,
    id: stepwise_engine::RunId,
    sub: &mut stepwise_engine::Subscription,
    mut answers: Vec<stepwise_engine::ApprovalAnswer>,
) -> Vec<stepwise_engine::RunEvent> {
    answers.reverse();
    let mut events = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("run hung")
    {
        if let EventKind::ToolApprovalRequested { path, call_id } = &e.kind {
            let answer = answers.pop().expect("an approval nobody expected");
            assert!(engine.answer_tool_call(id, path, call_id, answer).is_some());
        }
        events.push(e);
    }
    events
}

#[tokio::test]
async fn a_tool_that_changes_things_asks_first_deny_allow_always() {
    use stepwise_engine::ApprovalAnswer::{AllowAlways, Deny};
    let log = scratch("approve");
    let tag = "stepwise-mcp-test-approve";
    let server = TestServer::start().await.unwrap();
    let toggle = |id: &str| {
        Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new(
                id,
                "everything__toggle-simulated-logging",
                json!({}),
            )],
            0,
        )
    };
    server.push(toggle("first"));
    server.push(toggle("second"));
    server.push(toggle("third"));
    server.push(Behavior::text(&["Done."], 0));
    let engine = engine_with(&server, tools_for(tag, &log));
    let (id, mut sub) = start(
        &engine,
        step("\"everything.toggle-simulated-logging\""),
        "x",
    );
    let events = follow_answering(&engine, id, &mut sub, vec![Deny, AllowAlways]).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    let asked: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolApprovalRequested { call_id, .. } => Some(call_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        asked,
        ["first", "second"],
        "allowed always: the third ran at once"
    );
    let outcome = |id: &str| tool_outcome(&events, id);
    assert_eq!(
        outcome("first"),
        (false, "the person did not allow this call".to_string())
    );
    assert!(outcome("second").0 && outcome("third").0);
    // The model was told of the denial; the server never saw the denied call.
    let told = serde_json::to_string(&server.requests()[1].json()["messages"]).unwrap();
    assert!(
        told.contains("the person did not allow this call"),
        "{told}"
    );
    let calls = logged(&log)
        .iter()
        .filter(|(d, _, m)| d == "in" && m["method"] == "tools/call")
        .count();
    assert_eq!(calls, 2);
    let snapshot = engine.get(id).unwrap();
    let approvals: Vec<_> = snapshot.steps[0]
        .tool_calls
        .iter()
        .map(|c| c.approval)
        .collect();
    assert_eq!(approvals, [Some(Deny), Some(AllowAlways), None]);
    engine.shutdown(CancelReason::AppExit).await;
}

#[tokio::test]
async fn cancel_while_a_call_waits_for_approval() {
    let log = scratch("approve-cancel");
    let server = TestServer::start().await.unwrap();
    server.push(Behavior::text(&["Asking. "], 0).with_calls(
        vec![ScriptedCall::new(
            "wait",
            "everything__toggle-simulated-logging",
            json!({}),
        )],
        0,
    ));
    let engine = engine_with(&server, tools_for("stepwise-mcp-test-approve-cancel", &log));
    let (id, mut sub) = start(&engine, step("\"everything\""), "x");
    let mut events = events_until(&mut sub, |k| {
        matches!(k, EventKind::ToolApprovalRequested { .. })
    })
    .await;
    assert_eq!(
        engine.get(id).unwrap().steps[0].tool_calls[0].status,
        stepwise_engine::ToolCallStatus::Waiting
    );
    assert!(engine.cancel(id, CancelReason::User));
    events.extend(collect(&mut sub).await);
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCancelled { .. }
    ));
    let snapshot = engine.get(id).unwrap();
    assert_eq!(
        snapshot.steps[0].tool_calls[0].status,
        stepwise_engine::ToolCallStatus::Cancelled
    );
    assert_eq!(
        engine.answer_tool_call(id, "use", "wait", stepwise_engine::ApprovalAnswer::Allow),
        None,
        "a stopped call takes no answer"
    );
    assert!(
        !logged(&log)
            .iter()
            .any(|(d, _, m)| d == "in" && m["method"] == "tools/call"),
        "the call never ran"
    );
    engine.shutdown(CancelReason::AppExit).await;
}

#[tokio::test]
async fn a_servers_own_timeout_stops_its_calls() {
    let log = scratch("timeout");
    let server = TestServer::start().await.unwrap();
    server.push(Behavior::text(&[], 0).with_calls(
        vec![ScriptedCall::new(
            "slow",
            "everything__trigger-long-running-operation",
            json!({"duration": 20, "steps": 20}),
        )],
        0,
    ));
    server.push(Behavior::text(&["Gave up."], 0));
    let mut entry = everything("stepwise-mcp-test-timeout", &log);
    entry.timeout_secs = Some(1);
    let tools = Tools::with_mcp(
        ToolSettings::default(),
        BTreeMap::from([("everything".to_string(), entry)]),
    );
    let engine = engine_with(&server, tools);
    let (_, mut sub) = start(&engine, step("\"everything\""), "x");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    assert_eq!(
        tool_outcome(&events, "slow"),
        (false, "it took longer than 1 s and was stopped".to_string())
    );
    engine.shutdown(CancelReason::AppExit).await;
}

#[tokio::test]
async fn a_server_at_an_address_streamable_http() {
    // The reference server in its streamable HTTP mode, on a free port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let entry =
        shim().with_file_name("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let mut http = tokio::process::Command::new("node")
        .arg(&entry)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    eventually_async(PATIENCE, "the HTTP server to listen", async || {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    let server = TestServer::start().await.unwrap();
    server.push(Behavior::text(&[], 0).with_calls(
        vec![ScriptedCall::new(
            "e",
            "remote__echo",
            json!({"message": "over http"}),
        )],
        0,
    ));
    server.push(Behavior::text(&[], 0).with_calls(
        vec![ScriptedCall::new(
            "long",
            "remote__trigger-long-running-operation",
            json!({"duration": 3600, "steps": 60}),
        )],
        0,
    ));
    let tools = Tools::with_mcp(
        ToolSettings::default(),
        BTreeMap::from([(
            "remote".to_string(),
            McpServerSettings {
                url: Some(format!("http://127.0.0.1:{port}/mcp")),
                ..McpServerSettings::default()
            },
        )]),
    );
    let engine = engine_with(&server, tools);
    let (id, mut sub) = start(&engine, step("\"remote\""), "x");
    let mut events = events_until(
        &mut sub,
        |k| matches!(k, EventKind::ToolCallStarted { call_id, .. } if call_id == "long"),
    )
    .await;
    assert_eq!(
        tool_outcome(&events, "e"),
        (true, "Echo: over http".to_string())
    );
    // Gives the call a moment to get going at the server's end. Not a wait for correctness
    // (nothing here shows when the server has it; a cancel that lands sooner ends the run
    // the same way), so a slow machine cannot fail the test through it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(engine.cancel(id, CancelReason::User));
    // The call would take an hour: a run that ends at all was ended by the cancel.
    let rest = tokio::time::timeout(PATIENCE, collect(&mut sub))
        .await
        .expect("the cancel did not end the call");
    events.extend(rest);
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCancelled { .. }
    ));
    engine.shutdown(CancelReason::AppExit).await;
    http.kill().await.unwrap();
}
