//! Numbers that come from outside and must not be trusted: a provider's token counts past
//! `u32` (saturated, never wrapped), one retry budget for a step (a 503 with `retries = 3` is
//! four requests, not twelve), and a history that cannot be read refuses a start with a chosen
//! id instead of taking it as "no such run".

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use stepwise_engine::provider::{DemoModel, HttpOptions, OpenAiProvider, Providers, RetryPolicy};
use stepwise_engine::store::Store;
use stepwise_engine::{Engine, EngineConfig, EventKind, ProviderKind, RunId, StartError, StartRun};
use stepwise_testkit::{Behavior, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn engine_at(base: &str, max_retries: u32) -> Engine {
    let options = HttpOptions {
        idle_timeout: Duration::from_secs(30),
        retry: RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        },
    };
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::default()).with(
            ProviderKind::OpenAi,
            Arc::new(OpenAiProvider::new(base, None, options)),
        ),
        ..EngineConfig::default()
    })
}

fn step_with_retries(retries: u32) -> stepwise_engine::Workflow {
    workflow_of(&format!(
        "name = \"R\"\n[[steps]]\nname = \"Ask\"\ninstructions = \"x\"\nmodel = \"openai:m\"\n\
         retries = {retries}\n"
    ))
}

#[tokio::test]
async fn a_steps_retries_and_the_providers_are_one_budget() {
    let server = TestServer::start().await.unwrap();
    server.set_default(Behavior::status(503, "overloaded"));
    // `retries = 3`: four requests in all, though the provider alone would retry twice each time.
    let engine = engine_at(&server.openai_base(), 2);
    let (_, mut sub) = start(&engine, step_with_retries(3), "x");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunFailed { .. }
    ));
    assert_eq!(server.request_count(), 4);

    // No `retries`: the provider's own policy, as before (one request and two retries).
    server.reset();
    server.set_default(Behavior::status(503, "overloaded"));
    let (_, mut sub) = start(&engine, step_with_retries(0), "x");
    collect(&mut sub).await;
    assert_eq!(server.request_count(), 3);
}

/// Serves one canned streaming answer on a real socket, whatever is asked.
async fn canned(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Headers, then the JSON body by its length.
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n",
            body.len()
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(body.as_bytes()).await.unwrap();
        socket.shutdown().await.unwrap();
    });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn token_counts_too_large_for_u32_saturate() {
    let huge = u64::from(u32::MAX) + 7;
    let body = format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"Hi\"}},\"finish_reason\":null}}]}}\n\n\
         data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n\
         data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":{huge},\"completion_tokens\":{huge}}}}}\n\n\
         data: [DONE]\n\n"
    );
    let base = canned(body).await;
    let engine = engine_at(&base, 0);
    let (_, mut sub) = start(&engine, step_with_retries(0), "x");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    let usage = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::StepCompleted { usage, .. } => *usage,
            _ => None,
        })
        .unwrap();
    assert_eq!(usage.input_tokens, Some(u32::MAX));
    assert_eq!(usage.output_tokens, Some(u32::MAX));
}

#[tokio::test]
async fn a_history_that_cannot_be_read_refuses_a_chosen_id() {
    let path = scratch_db("unreadable-history");
    let store = Store::open(&path).unwrap();
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::default()),
        sink: Some(store.sink()),
        ..EngineConfig::default()
    });
    // Someone broke the file under us: its runs table is gone.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("ALTER TABLE runs RENAME TO runs_gone")
        .unwrap();
    let run = StartRun {
        workflow: steps(1, "demo"),
        input: "x".into(),
        run_id: Some(RunId::new_v4()),
    };
    match engine.start(run) {
        Err(StartError::HistoryUnreadable(why)) => assert!(why.contains("runs"), "{why}"),
        other => panic!("started anyway: {other:?}"),
    }
}
