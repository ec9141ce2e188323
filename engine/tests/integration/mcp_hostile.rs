//! MCP servers that misbehave (`tests/mcp/hostile-server.mjs`, plain JSON-RPC over stdio) and the
//! reference server (`@modelcontextprotocol/server-everything`) under changing settings: every
//! request has a time limit, one server's start never holds up another's, stderr is read
//! whatever is written to it, answers are bounded, each tool reaches a model once under a name
//! of its own, a changed entry restarts only its own server once no run uses it, and a quit ends
//! every server at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use serde_json::json;
use stepwise_engine::provider::{DemoModel, DemoPace, OpenAiProvider, Providers};
use stepwise_engine::tool::mcp::McpServerSettings;
use stepwise_engine::tool::{SeenAddresses, ToolSettings, Tools};
use stepwise_engine::usage::PriceTable;
use stepwise_engine::{CancelReason, Engine, EngineConfig, ErrorKind, EventKind, ProviderKind};
use stepwise_testkit::{Behavior, PATIENCE, ScriptedCall, TestServer, eventually_async};

fn hostile_script() -> PathBuf {
    shim().with_file_name("hostile-server.mjs")
}

/// The hostile server in `mode`, tagged (its command line carries `tag`).
fn hostile(mode: &str, tag: &str) -> McpServerSettings {
    McpServerSettings {
        command: Some("node".into()),
        args: vec![
            hostile_script().display().to_string(),
            mode.into(),
            tag.into(),
        ],
        ..McpServerSettings::default()
    }
}

/// The reference server, tagged.
fn everything(tag: &str) -> McpServerSettings {
    McpServerSettings {
        command: Some("node".into()),
        args: vec![shim().display().to_string(), tag.into()],
        ..McpServerSettings::default()
    }
}

fn providers(server: &TestServer) -> Providers {
    let openai = OpenAiProvider::new(server.openai_base(), None, no_retries());
    Providers::demo(DemoModel::new(DemoPace::INSTANT)).with(ProviderKind::OpenAi, Arc::new(openai))
}

fn engine_with(server: &TestServer, tools: Tools) -> Engine {
    Engine::new(EngineConfig {
        providers: providers(server),
        tools,
        ..EngineConfig::default()
    })
}

fn tools(entries: &[(&str, McpServerSettings)]) -> Tools {
    Tools::with_mcp(
        ToolSettings::default(),
        entries
            .iter()
            .map(|(n, e)| (n.to_string(), e.clone()))
            .collect(),
    )
}

fn step(tools: &str) -> stepwise_engine::Workflow {
    workflow_of(&format!(
        "name = \"Use\"\n[[steps]]\nname = \"Use\"\ninstructions = \"u\"\nmodel = \"openai:test\"\ntools = [{tools}]\n"
    ))
}

/// The tool names the model was offered in request `i`.
fn offered(server: &TestServer, i: usize) -> Vec<String> {
    server.requests()[i].json()["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_server_that_never_lists_its_tools_fails_the_step_within_its_time_limit() {
    let tag = "stepwise-hostile-hang";
    let mut entry = hostile("hang-list", tag);
    entry.timeout_secs = Some(1);
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, tools(&[("mute", entry)]));
    let (_, mut sub) = start(&engine, step("\"mute\""), "x");
    let events = collect(&mut sub).await;
    let (kind, message) = failure(&events);
    assert_eq!(kind, ErrorKind::Tool);
    assert!(
        message.contains("“mute” did not list its tools: no answer within 1 s"),
        "{message}"
    );
    assert_eq!(server.request_count(), 0, "no model was asked");
    eventually_async(PATIENCE, "the server is ended", async || {
        processes_tagged(tag).is_empty()
    })
    .await;
    engine.shutdown(CancelReason::AppExit).await;
}

#[tokio::test]
async fn one_servers_slow_start_does_not_hold_up_another() {
    let mut mute = hostile("hang-list", "stepwise-hostile-slow");
    mute.timeout_secs = Some(60);
    let tools = tools(&[
        ("mute", mute),
        ("healthy", hostile("plain", "stepwise-hostile-healthy")),
    ]);
    let slow = tokio::spawn({
        let tools = tools.clone();
        async move { tools.mcp().server("mute", 60).await.map(|_| ()) }
    });
    // The slow one is listing (it has been asked for its tools and will never answer).
    eventually_async(PATIENCE, "the slow server is started", async || {
        !processes_tagged("stepwise-hostile-slow").is_empty()
    })
    .await;
    let healthy = tokio::time::timeout(Duration::from_secs(20), tools.mcp().server("healthy", 60))
        .await
        .expect("the healthy server waited behind the slow one")
        .unwrap();
    assert!(healthy.tools.iter().any(|t| t.name == "echo"));
    assert!(!slow.is_finished(), "the slow one is still starting");
    slow.abort();
    tools.shutdown().await;
    eventually_async(PATIENCE, "no server is left", async || {
        processes_tagged("stepwise-hostile-slow").is_empty()
            && processes_tagged("stepwise-hostile-healthy").is_empty()
    })
    .await;
}

#[tokio::test]
async fn listing_stops_at_a_repeated_or_an_endless_cursor() {
    for mode in ["cursor-repeat", "cursor-endless"] {
        let server = TestServer::start().await.unwrap();
        server.push(Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new(
                "e",
                "pages__echo",
                json!({"message": "hi"}),
            )],
            0,
        ));
        server.push(Behavior::text(&["Done."], 0));
        let engine = engine_with(
            &server,
            tools(&[("pages", hostile(mode, "stepwise-hostile-pages"))]),
        );
        let (_, mut sub) = start(&engine, step("\"pages\""), "x");
        let events = collect(&mut sub).await;
        assert!(
            matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
            "{mode}: {:?}",
            events.last()
        );
        assert_eq!(tool_outcome(&events, "e"), (true, "Echo: hi".to_string()));
        assert_eq!(
            offered(&server, 0),
            [
                "pages__echo",
                "pages__where",
                "pages__flood",
                "pages__picture"
            ],
            "{mode}: each tool once, however many pages listed it"
        );
        engine.shutdown(CancelReason::AppExit).await;
    }
}

#[tokio::test]
async fn a_byte_that_is_not_utf8_on_stderr_does_not_stop_the_server() {
    let tools = tools(&[("odd", hostile("bad-stderr", "stepwise-hostile-utf8"))]);
    let server = tools.mcp().server("odd", 60).await.unwrap();
    for i in 1..=3 {
        let out = server
            .call("echo", json!({"message": format!("m{i}")}), 100_000)
            .await
            .unwrap();
        assert_eq!(out.content, format!("Echo: m{i}"));
    }
    eventually_async(PATIENCE, "its later lines are kept", async || {
        server.stderr_tail(10).iter().any(|l| l == "called 3")
    })
    .await;
    assert_eq!(
        server.stderr_tail(10),
        ["bad \u{FFFD}", "called 1", "called 2", "called 3"]
    );
    tools.shutdown().await;
}

#[tokio::test]
async fn a_huge_answer_is_cut_and_an_image_is_described() {
    let tools = tools(&[("big", hostile("big", "stepwise-hostile-big"))]);
    let server = tools.mcp().server("big", 60).await.unwrap();
    let out = server
        .call("echo", json!({"size": 12_000_000}), 100_000)
        .await
        .unwrap();
    let note = "\n\n[The answer goes on; only its first 100 kB are shown.]";
    assert!(
        out.content.ends_with(note),
        "{}",
        &out.content[out.content.len() - 80..]
    );
    assert_eq!(out.content.len(), 100_000 + note.len());

    let picture = server.call("picture", json!({}), 100_000).await.unwrap();
    assert_eq!(
        picture.content, "A picture:\n\n[an image (image/png, 1.6 MB)]",
        "described, not inlined"
    );
    tools.shutdown().await;
}

#[tokio::test]
async fn each_tool_reaches_the_model_once_under_a_name_of_its_own() {
    let tag = "stepwise-hostile-names";
    let server = TestServer::start().await.unwrap();
    server.push(Behavior::text(&[], 0).with_calls(
        vec![ScriptedCall::new(
            "e",
            "everything__echo",
            json!({"message": "once"}),
        )],
        0,
    ));
    server.push(Behavior::text(&["Done."], 0));
    let engine = engine_with(&server, tools(&[("everything", everything(tag))]));
    let (_, mut sub) = start(&engine, step("\"everything\", \"everything.echo\""), "x");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    assert_eq!(tool_outcome(&events, "e"), (true, "Echo: once".to_string()));
    let names = offered(&server, 0);
    let listed = engine.tools().mcp().running("everything").await.unwrap();
    assert_eq!(names.len(), listed.tools.len(), "{names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "no name twice: {names:?}");
    assert_eq!(names.iter().filter(|n| *n == "everything__echo").count(), 1);

    // A built-in tool named twice is one tool (a workflow file may not list it twice; a step
    // built otherwise still sends it once).
    let twice = engine
        .tools()
        .for_step(
            &["web_search".to_string(), "web_search".to_string()],
            false,
            &SeenAddresses::default(),
        )
        .await
        .unwrap();
    assert_eq!(twice.len(), 1);
    engine.shutdown(CancelReason::AppExit).await;
    assert!(processes_tagged(tag).is_empty());
}

#[tokio::test]
async fn a_server_starts_in_the_settings_folder() {
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mcp-settings-folder");
    std::fs::create_dir_all(&folder).unwrap();
    let tools = Tools::with_mcp_in(
        ToolSettings::default(),
        BTreeMap::from([("here".to_string(), hostile("plain", "stepwise-hostile-cwd"))]),
        Some(folder.clone()),
    );
    let server = tools.mcp().server("here", 60).await.unwrap();
    let out = server.call("where", json!({}), 100_000).await.unwrap();
    assert_eq!(Path::new(&out.content), folder.canonicalize().unwrap());
    tools.shutdown().await;
}

#[tokio::test]
async fn a_changed_entry_restarts_only_its_server_and_only_once_no_run_uses_it() {
    let (kept_tag, old_tag, new_tag) = (
        "stepwise-lifecycle-kept",
        "stepwise-lifecycle-old",
        "stepwise-lifecycle-new",
    );
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(
        &server,
        tools(&[
            ("kept", everything(kept_tag)),
            ("changing", everything(old_tag)),
        ]),
    );
    // A run is mid-call on each server when the settings change.
    server.push(Behavior::text(&[], 0).with_calls(
        vec![
            ScriptedCall::new(
                "k",
                "kept__trigger-long-running-operation",
                json!({"duration": 2, "steps": 2}),
            ),
            ScriptedCall::new(
                "c",
                "changing__trigger-long-running-operation",
                json!({"duration": 2, "steps": 2}),
            ),
        ],
        0,
    ));
    server.push(Behavior::text(&["Done."], 0));
    let (_, mut sub) = start(&engine, step("\"kept\", \"changing\""), "x");
    let mut events =
        events_until(&mut sub, |k| matches!(k, EventKind::ToolCallStarted { .. })).await;
    let kept_before = processes_tagged(kept_tag);
    assert_eq!(kept_before.len(), 2, "the shim and the server");
    engine.reconfigure(
        providers(&server),
        tools(&[
            ("kept", everything(kept_tag)),
            ("changing", everything(new_tag)),
        ]),
        None,
        1 << 20,
        PriceTable::default(),
    );
    // Both calls finish: no server was stopped under a running call.
    events.extend(collect(&mut sub).await);
    assert!(
        matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
        "{:?}",
        events.last()
    );
    assert!(tool_outcome(&events, "k").0 && tool_outcome(&events, "c").0);
    // The run has ended: the changed entry's old server goes, the unchanged one stays.
    eventually_async(PATIENCE, "the old server is stopped", async || {
        processes_tagged(old_tag).is_empty()
    })
    .await;
    assert_eq!(
        processes_tagged(kept_tag),
        kept_before,
        "the unchanged server kept running"
    );

    // New runs get the new entry's server.
    server.push(Behavior::text(&[], 0).with_calls(
        vec![ScriptedCall::new(
            "n",
            "changing__echo",
            json!({"message": "new"}),
        )],
        0,
    ));
    server.push(Behavior::text(&["Done."], 0));
    let (_, mut sub) = start(&engine, step("\"changing\""), "x");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    assert_eq!(processes_tagged(new_tag).len(), 2);
    engine.shutdown(CancelReason::AppExit).await;
    for tag in [kept_tag, old_tag, new_tag] {
        assert!(processes_tagged(tag).is_empty(), "{tag} left running");
    }
}

#[tokio::test]
async fn a_quit_ends_every_server_at_once_within_the_exit_limit() {
    // Servers that ignore SIGTERM and the end of their input: each needs the SIGKILL.
    let tags = [
        "stepwise-stubborn-1",
        "stepwise-stubborn-2",
        "stepwise-stubborn-3",
    ];
    let tools = tools(&[
        ("s1", hostile("stubborn", tags[0])),
        ("s2", hostile("stubborn", tags[1])),
        ("s3", hostile("stubborn", tags[2])),
    ]);
    for name in ["s1", "s2", "s3"] {
        tools.mcp().server(name, 60).await.unwrap();
    }
    let engine = Engine::new(EngineConfig {
        tools,
        ..EngineConfig::default()
    });
    // The servers are ended side by side (SIGTERM, then SIGKILL half a second later), about
    // 1.5 s at worst, inside the app's two-second exit limit. A busy machine may take longer,
    // so this deadline only guards against a hang; the ending itself is what is checked.
    tokio::time::timeout(
        Duration::from_secs(30),
        engine.shutdown(CancelReason::AppExit),
    )
    .await
    .expect("the servers were never ended");
    for tag in tags {
        assert!(processes_tagged(tag).is_empty(), "{tag} left running");
    }
}
