//! `cargo bench -p stepwise-engine --bench tools`: cancelling a run while a tool runs.
//! A built-in tool (`fetch_page` on a page that never finishes): cancel → `RunCancelled`, and
//! cancel → the page server sees the connection close. An MCP tool (the reference server's
//! long-running operation, through `tests/mcp/logged-server.mjs`): cancel → `RunCancelled`, and
//! cancel → `notifications/cancelled` has reached the server's stdin (the shim notes the moment;
//! both clocks are this machine's wall clock). Two cancels that once waited on work done on the
//! async threads: during the first tool call of a process (its HTTP clients are being built:
//! each sample is a fresh process, this bench started again with `--first-call-sample`), and
//! while a 5 MB page is parsed. Prints a table, then one JSON object as the last line. Figures,
//! not assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{pct, us};
use serde_json::json;
use stepwise_engine::provider::{DemoModel, HttpOptions, OpenAiProvider, Providers};
use stepwise_engine::tool::mcp::McpServerSettings;
use stepwise_engine::tool::{ToolSettings, Tools};
use stepwise_engine::{CancelReason, Engine, EngineConfig, EventKind, ProviderKind};
use stepwise_testkit::{Behavior, Page, ScriptedCall, TestServer};

const BUILTIN_RUNS: usize = 200;
const MCP_RUNS: usize = 60;
const FIRST_CALL_PROCESSES: usize = 30;
const BIG_PAGE_RUNS: usize = 30;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--first-call-sample") {
        first_call_sample(&args[at + 1]);
        return;
    }
    let rt = common::runtime(2);
    // The model and page server on a runtime of its own, as it would be another process.
    let server_rt = common::runtime(1);
    let server = server_rt.block_on(TestServer::start()).unwrap();
    server.set_page("/slow", Page::stalling());
    let log = common::scratch_dir("bench-tools").join("mcp-messages.jsonl");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&log);
    let shim = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/mcp/logged-server.mjs");
    let tools = Tools::with_mcp(
        ToolSettings {
            allow_private_network: true,
            allow_hosts: vec!["127.0.0.1".into()],
            ..ToolSettings::default()
        },
        BTreeMap::from([(
            "everything".to_string(),
            McpServerSettings {
                command: Some("node".into()),
                args: vec![shim.display().to_string()],
                env: BTreeMap::from([("STEPWISE_MCP_LOG".into(), log.display().to_string())]),
                ..McpServerSettings::default()
            },
        )]),
    );
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::default()).with(
            ProviderKind::OpenAi,
            Arc::new(OpenAiProvider::new(
                server.openai_base(),
                None,
                HttpOptions::default(),
            )),
        ),
        tools,
        ..EngineConfig::default()
    });
    rt.block_on(async {
        let (b_emit, b_close) = builtin(&server, &engine).await;
        let (m_emit, m_recv) = mcp(&server, &engine, &log).await;
        let big = big_page(&server, &engine).await;
        let first = first_call(&server).await;
        engine.shutdown(CancelReason::AppExit).await;
        println!("{:<68} {:>12}", "measure", "value");
        let rows = [
            ("built-in tool: cancel → RunCancelled", &b_emit),
            ("built-in tool: cancel → connection closed (server side)", &b_close),
            ("MCP tool: cancel → RunCancelled", &m_emit),
            ("MCP tool: cancel → notifications/cancelled at the server", &m_recv),
            ("first tool call of a process: cancel → RunCancelled", &first),
            ("while a 5 MB page is parsed: cancel → RunCancelled", &big),
        ];
        for (what, d) in rows {
            println!("{:<68} {:>12}", format!("{what}, p50 ({})", d.len()), us(pct(d, 50.0)));
            println!("{:<68} {:>12}", format!("{what}, p99"), us(pct(d, 99.0)));
        }
        let f = |d: &Vec<Duration>, p| pct(d, p).as_secs_f64() * 1e3;
        println!(
            "{}",
            json!({
                "builtin_cancel_to_run_cancelled_ms": {"p50": f(&b_emit, 50.0), "p99": f(&b_emit, 99.0)},
                "builtin_cancel_to_connection_closed_ms": {"p50": f(&b_close, 50.0), "p99": f(&b_close, 99.0)},
                "mcp_cancel_to_run_cancelled_ms": {"p50": f(&m_emit, 50.0), "p99": f(&m_emit, 99.0)},
                "mcp_cancel_to_server_notified_ms": {"p50": f(&m_recv, 50.0), "p99": f(&m_recv, 99.0)},
                "first_call_cancel_to_run_cancelled_ms": {"p50": f(&first, 50.0), "p99": f(&first, 99.0)},
                "big_page_cancel_to_run_cancelled_ms": {"p50": f(&big, 50.0), "p99": f(&big, 99.0)},
            })
        );
    });
}

fn start(engine: &Engine, tools: &str) -> (stepwise_engine::RunId, stepwise_engine::Subscription) {
    common::start_toml(
        engine,
        &format!(
            "name = \"T\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\nmodel = \"openai:bench\"\ntools = [{tools}]\n"
        ),
    )
}

/// Until the run's tool call has started.
async fn until_call(sub: &mut stepwise_engine::Subscription) {
    loop {
        match sub.next().await.map(|e| e.kind) {
            Some(EventKind::ToolCallStarted { .. }) => return,
            Some(k) if k.is_terminal() => panic!("ended early: {k:?}"),
            Some(_) => {}
            None => panic!("stream ended"),
        }
    }
}

/// Time from the cancel to the `RunCancelled` this subscriber receives.
async fn until_cancelled(sub: &mut stepwise_engine::Subscription, since: Instant) -> Duration {
    while let Some(e) = sub.next().await {
        if matches!(e.kind, EventKind::RunCancelled { .. }) {
            return since.elapsed();
        }
    }
    panic!("no RunCancelled")
}

async fn builtin(server: &TestServer, engine: &Engine) -> (Vec<Duration>, Vec<Duration>) {
    let url = format!("{}/slow", server.url());
    let (mut emit, mut close) = (Vec::new(), Vec::new());
    for _ in 0..BUILTIN_RUNS {
        server.reset();
        server.set_page("/slow", Page::stalling());
        server.push(Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new("c", "fetch_page", json!({ "url": url }))],
            0,
        ));
        let (id, mut sub) = start(engine, "\"fetch_page\"");
        until_call(&mut sub).await;
        assert!(server.wait_for_requests(2, Duration::from_secs(5)).await);
        // The request is on the wire; give the server a moment to be waiting on it.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let at = Instant::now();
        assert!(engine.cancel(id, CancelReason::User));
        emit.push(until_cancelled(&mut sub, at).await);
        let closed = server
            .wait_for_disconnect(1, Duration::from_secs(5))
            .await
            .unwrap();
        close.push(closed.saturating_duration_since(at));
    }
    emit.sort();
    close.sort();
    (emit, close)
}

async fn mcp(
    server: &TestServer,
    engine: &Engine,
    log: &std::path::Path,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut emit, mut recv) = (Vec::new(), Vec::new());
    for _ in 0..MCP_RUNS {
        server.reset();
        server.push(Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new(
                "c",
                "everything__trigger-long-running-operation",
                json!({"duration": 60, "steps": 60}),
            )],
            0,
        ));
        let seen_before = lines(log).len();
        let (id, mut sub) = start(engine, "\"everything.trigger-long-running-operation\"");
        until_call(&mut sub).await;
        // Until the call has reached the server.
        let request = loop {
            if let Some(id) = lines(log)[seen_before..].iter().find_map(|m| {
                (m["dir"] == "in" && m["msg"]["method"] == "tools/call")
                    .then(|| m["msg"]["id"].clone())
            }) {
                break id;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let wall = now_ms();
        let at = Instant::now();
        assert!(engine.cancel(id, CancelReason::User));
        emit.push(until_cancelled(&mut sub, at).await);
        let received = loop {
            if let Some(t) = lines(log).iter().find_map(|m| {
                (m["dir"] == "in"
                    && m["msg"]["method"] == "notifications/cancelled"
                    && m["msg"]["params"]["requestId"] == request)
                    .then(|| m["t"].as_f64().unwrap())
            }) {
                break t;
            }
            assert!(
                at.elapsed() < Duration::from_secs(5),
                "the server was never told"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        recv.push(Duration::from_secs_f64(((received - wall) / 1e3).max(0.0)));
    }
    emit.sort();
    recv.sort();
    (emit, recv)
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

/// The shim's log, each line with its message parsed.
fn lines(log: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["msg"] = serde_json::from_str(v["line"].as_str()?).ok()?;
            Some(v)
        })
        .collect()
}

/// Cancel while a 5 MB page is being parsed: the page has reached this process, the parse runs.
async fn big_page(server: &TestServer, engine: &Engine) -> Vec<Duration> {
    let mut page = String::from("<html><body><main>");
    while page.len() < 5_000_000 {
        page.push_str(
            "<p>Tides rise and fall twice a day, <a href=\"/t\">pulled</a> by the moon.</p>\n",
        );
    }
    page.push_str("</main></body></html>");
    let url = format!("{}/big", server.url());
    let mut emit = Vec::new();
    for _ in 0..BIG_PAGE_RUNS {
        server.reset();
        server.set_page("/big", Page::html(&page));
        server.push(Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new("c", "fetch_page", json!({ "url": url }))],
            0,
        ));
        let (id, mut sub) = start(engine, "\"fetch_page\"");
        until_call(&mut sub).await;
        // Until the server has sent the whole page; then a moment for it to arrive and the
        // parse (more than a second for this page) to begin.
        loop {
            if server
                .requests()
                .iter()
                .any(|r| r.path == "/big" && r.completed)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let at = Instant::now();
        assert!(engine.cancel(id, CancelReason::User));
        emit.push(until_cancelled(&mut sub, at).await);
    }
    emit.sort();
    emit
}

/// One fresh process per sample: the first tool call of a process builds the tools' HTTP
/// clients (the system's certificates are read), and a cancel lands meanwhile.
async fn first_call(server: &TestServer) -> Vec<Duration> {
    let exe = std::env::current_exe().unwrap();
    let mut emit = Vec::new();
    for _ in 0..FIRST_CALL_PROCESSES {
        server.reset();
        server.set_page("/slow", Page::stalling());
        server.push(Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new(
                "c",
                "fetch_page",
                json!({ "url": format!("{}/slow", server.url()) }),
            )],
            0,
        ));
        let exe = exe.clone();
        let url = server.url();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe)
                .args(["--first-call-sample", &url])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let micros: f64 = text.trim().parse().unwrap_or_else(|_| {
            panic!("no sample: {text} {}", String::from_utf8_lossy(&out.stderr))
        });
        emit.push(Duration::from_secs_f64(micros / 1e6));
    }
    emit.sort();
    emit
}

/// In the child: one run whose first tool call is cancelled as soon as it starts; prints the
/// microseconds from the cancel to `RunCancelled`.
fn first_call_sample(server_url: &str) {
    let rt = common::runtime(2);
    rt.block_on(async {
        let engine = Engine::new(EngineConfig {
            providers: Providers::demo(DemoModel::default()).with(
                ProviderKind::OpenAi,
                Arc::new(OpenAiProvider::new(
                    format!("{server_url}/v1"),
                    None,
                    HttpOptions::default(),
                )),
            ),
            tools: Tools::new(ToolSettings {
                allow_private_network: true,
                allow_hosts: vec!["127.0.0.1".into()],
                ..ToolSettings::default()
            }),
            ..EngineConfig::default()
        });
        let (id, mut sub) = start(&engine, "\"fetch_page\"");
        until_call(&mut sub).await;
        let at = Instant::now();
        assert!(engine.cancel(id, CancelReason::User));
        let took = until_cancelled(&mut sub, at).await;
        println!("{:.1}", took.as_secs_f64() * 1e6);
    });
}
