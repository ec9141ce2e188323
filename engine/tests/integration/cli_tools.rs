//! `stepwise run` with an agent that uses `web_search`, `fetch_page` and an MCP server's tool,
//! against the local test server in both wire formats: the calls stream as events (`--json`) and
//! as one line each (for a person), tools that ask first are declined without `--allow-tools`,
//! and a cancel mid-call leaves no process behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{long_mcp_call, processes_tagged, shim};
use serde_json::json;
use stepwise_engine::{EventKind, RunEvent};
use stepwise_testkit::{Behavior, Page, ScriptedCall, TestServer};

const ARTICLE: &str = "<main><h1>Tides</h1><p>Tides rise twice a day.</p></main>";

/// A folder with a settings file pointing both providers, web search and an MCP server (tagged
/// `tag`) at the test server, and a workflow using all three kinds of tool with `model`.
fn setup(server: &TestServer, tag: &str, model: &str, tools: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-tools-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let settings = dir.join("settings.toml");
    std::fs::write(
        &settings,
        format!(
            "[openai]\nbase_url = \"{base}/v1\"\n[anthropic]\nbase_url = \"{base}\"\n\
             [tools]\nweb_search_url = \"{base}/html/\"\nallow_private_network = true\n\
             allow_hosts = [\"127.0.0.1\"]\n\
             [mcp.everything]\ncommand = \"node\"\nargs = [{shim:?}, \"{tag}\"]\n",
            base = server.url(),
            shim = shim().display().to_string(),
        ),
    )
    .unwrap();
    let workflow = dir.join("act.toml");
    std::fs::write(
        &workflow,
        format!(
            "name = \"Act\"\n[[steps]]\nname = \"Look\"\ninstructions = \"Look it up.\"\n\
             model = \"{model}\"\ntools = [{tools}]\n"
        ),
    )
    .unwrap();
    (settings, workflow)
}

fn stepwise(settings: &Path, workflow: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    c.env("STEPWISE_SETTINGS", settings)
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .args([
            "run",
            &workflow.display().to_string(),
            "--input",
            "tides",
            "--no-history",
        ])
        .args(extra);
    c
}

fn events(out: &Output) -> Vec<RunEvent> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an event ({e}): {l}")))
        .collect()
}

async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

async fn all_three(model: &str, tag: &str) {
    let server = TestServer::start().await.unwrap();
    server.set_page(
        "/html/",
        Page::html(r#"<div class="result"><a class="result__a" href="https://example.org/t">Tides</a></div>"#),
    );
    server.set_page("/article", Page::html(ARTICLE));
    server.push(Behavior::text(&["Looking. "], 0).with_calls(
        vec![
            ScriptedCall::new("s", "web_search", json!({"query": "tides"})),
            ScriptedCall::new(
                "f",
                "fetch_page",
                json!({"url": format!("{}/article", server.url())}),
            ),
            ScriptedCall::new("e", "everything__echo", json!({"message": "hello"})),
        ],
        7,
    ));
    server.push(Behavior::text(&["Tides ", "rise."], 0));
    let (settings, workflow) = setup(
        &server,
        tag,
        model,
        "\"web_search\", \"fetch_page\", \"everything.echo\"",
    );
    let out = output(stepwise(&settings, &workflow, &["--json"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out);
    let finished: Vec<(String, bool)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCallFinished { call_id, ok, .. } => Some((call_id.clone(), *ok)),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 3, "{finished:?}");
    assert!(finished.iter().all(|(_, ok)| *ok), "{finished:?}");
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::RunCompleted { .. }
    ));
    assert!(
        processes_tagged(tag).is_empty(),
        "no server left after the run"
    );
}

#[tokio::test]
async fn three_kinds_of_tool_over_openai() {
    all_three("openai:test", "stepwise-cli-openai").await;
}

#[tokio::test]
async fn three_kinds_of_tool_over_anthropic() {
    all_three("anthropic:test", "stepwise-cli-anthropic").await;
}

#[tokio::test]
async fn a_person_reads_one_line_a_call_and_tools_that_ask_are_declined_without_the_flag() {
    let server = TestServer::start().await.unwrap();
    server.set_page(
        "/html/",
        Page::html(r#"<div class="result"><a class="result__a" href="https://example.org/t">Tides</a></div>"#),
    );
    server.push(Behavior::text(&[], 0).with_calls(
        vec![
            ScriptedCall::new("s", "web_search", json!({"query": "tides"})),
            ScriptedCall::new("t", "everything__toggle-simulated-logging", json!({})),
        ],
        0,
    ));
    server.push(Behavior::text(&["Done."], 0));
    let tag = "stepwise-cli-human";
    let (settings, workflow) = setup(
        &server,
        tag,
        "openai:test",
        "\"web_search\", \"everything.toggle-simulated-logging\"",
    );
    let out = output(stepwise(&settings, &workflow, &[])).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("⚙ Searching the web for “tides” … 1 result, "),
        "{text}"
    );
    assert!(
        text.contains("not allowed (run with --allow-tools"),
        "{text}"
    );
    assert!(
        text.contains("⚠ everything · ") && text.contains("the person did not allow this call"),
        "{text}"
    );
    assert!(processes_tagged(tag).is_empty());
}

#[tokio::test]
async fn a_cancel_during_an_mcp_call_ends_the_run_and_the_server() {
    let server = TestServer::start().await.unwrap();
    server.push(long_mcp_call(&["Working. "]));
    let tag = "stepwise-cli-cancel";
    let (settings, workflow) = setup(&server, tag, "openai:test", "\"everything\"");
    let out = output(stepwise(
        &settings,
        &workflow,
        &["--json", "--cancel-after-ms", "4000"],
    ))
    .await;
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out);
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ToolCallStarted { .. })),
        "the call had started: {:?}",
        events.last()
    );
    let terminal: Vec<_> = events.iter().filter(|e| e.kind.is_terminal()).collect();
    assert_eq!(terminal.len(), 1);
    assert!(matches!(terminal[0].kind, EventKind::RunCancelled { .. }));
    assert!(
        processes_tagged(tag).is_empty(),
        "no server left after the cancel"
    );
}
