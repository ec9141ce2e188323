//! Careless and hostile clients cannot hurt the owner: each one here is refused or dropped, and
//! the owner's run goes on to its end, its endpoint still answering.

use std::time::Duration;

use stepwise_engine::ProviderKind;
use stepwise_engine::RunStatus;
use stepwise_engine::control::Limits;
use stepwise_engine::provider::{DemoModel, DemoPace, Providers};
use stepwise_testkit::PATIENCE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::support::*;
use super::{Served, served, served_with, story};

/// Everything the server sends until it closes the connection (within `PATIENCE`).
async fn answer_to(s: &Served, request: &[u8]) -> String {
    let mut c = UnixStream::connect(s.endpoint.path()).await.unwrap();
    // The server may answer (and close) before taking the whole request: a failed write is fine.
    let _ = c.write_all(request).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, c.read_to_end(&mut got)).await;
    String::from_utf8_lossy(&got).into_owned()
}

/// The owner still serves, and its run went on to its end.
async fn unhurt(s: &Served, id: stepwise_engine::RunId) {
    assert!(
        s.client
            .runs()
            .await
            .unwrap()
            .iter()
            .any(|r| r.run_id == id)
    );
    let end = tokio::time::timeout(PATIENCE, s.engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(end.status, RunStatus::Completed);
}

fn quick() -> DemoPace {
    DemoPace {
        first_token: Duration::ZERO,
        per_word: Duration::from_millis(1),
    }
}

#[tokio::test]
async fn garbage_an_oversized_head_or_body_is_refused_and_nothing_else_changes() {
    let s = served("hostile-input", quick(), Limits::default());
    let id = story(&s.engine);

    let garbage = answer_to(&s, b"\x00\xff\xfe not http at all\r\n\r\n").await;
    assert!(
        garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
        "{garbage}"
    );

    let long_line = format!(
        "GET /v2/runs?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = answer_to(&s, long_line.as_bytes()).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );

    let many_headers: String = (0..400)
        .map(|i| format!("X-H{i}: {}\r\n", "v".repeat(100)))
        .collect();
    let head = format!("GET /v2/runs HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n");
    let answer = answer_to(&s, head.as_bytes()).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );

    // A body over the limit: refused by its length, before it is read.
    let body = "x".repeat(2 * 1024 * 1024);
    let post = format!(
        "POST /v2/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = answer_to(&s, post.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(200)]
    );

    // A body that is not what the route takes: 4xx with words, nothing started.
    let bad = "{\"workflow\": 3}";
    let post = format!(
        "POST /v2/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{bad}",
        bad.len()
    );
    let answer = answer_to(&s, post.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert_eq!(s.engine.list().len(), 1);

    unhurt(&s, id).await;
}

#[tokio::test]
async fn a_watcher_that_never_reads_is_dropped_and_never_holds_the_run_up() {
    // Twenty thousand deltas: far more than a socket and the owner's buffers hold.
    let scripted = ScriptedProvider::new(Script::words(20_000, Duration::ZERO));
    let providers = Providers::demo(DemoModel::new(DemoPace::INSTANT))
        .with(ProviderKind::OpenAi, scripted.clone());
    let limits = Limits {
        max_event_backlog: 1_000,
        ..Limits::default()
    };
    let s = served_with("hostile-slow", providers, limits);
    // The run waits for a review first, so that the watcher is following it live before the
    // flood of text starts.
    let workflow = workflow_of(
        "name = \"H\"\n[[steps]]\nname = \"Draft\"\ninstructions = \"x\"\nmodel = \"demo\"\nreview = true\n\
         [[steps]]\nname = \"Long\"\ninstructions = \"y\"\nmodel = \"openai:any\"\n",
    );
    let (id, mut sub) = start(&s.engine, workflow, "x");
    events_until(&mut sub, |k| {
        matches!(k, stepwise_engine::EventKind::ReviewRequested { .. })
    })
    .await;

    let mut lazy = UnixStream::connect(s.endpoint.path()).await.unwrap();
    let request = format!("GET /v2/runs/{id}/events HTTP/1.1\r\nHost: x\r\n\r\n");
    lazy.write_all(request.as_bytes()).await.unwrap();
    // Its answer has begun (the owner follows the run for it); then it reads nothing more.
    let mut head = [0u8; 64];
    let n = lazy.read(&mut head).await.unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"));
    s.engine
        .answer_review(id, "draft", stepwise_engine::ReviewAnswer::Approve)
        .unwrap();

    // The run ends on its own while the watcher reads nothing.
    let end = tokio::time::timeout(PATIENCE, s.engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(end.status, RunStatus::Completed);

    // The watcher was dropped: what it finally reads stops short of the end, then the
    // connection closes.
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, lazy.read_to_end(&mut got))
        .await
        .expect("the owner closed the connection")
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(
        !text.contains("RunCompleted"),
        "a dropped watcher does not get the end"
    );
    assert!(s.client.runs().await.is_ok());
}

#[tokio::test]
async fn a_thousand_connections_at_once_do_not_stop_the_owner() {
    let _ = rlimit::increase_nofile_limit(8_192);
    let limits = Limits {
        head_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let s = served("hostile-flood", quick(), limits);
    let id = story(&s.engine);
    let mut flood = Vec::new();
    for _ in 0..1_000 {
        match UnixStream::connect(s.endpoint.path()).await {
            Ok(c) => flood.push(c),
            Err(_) => break, // the backlog is full: the rest would wait, which is the point
        }
    }
    assert!(flood.len() >= 100, "only {} connected", flood.len());
    // Half of them start a request and stop halfway.
    for c in flood.iter_mut().step_by(2) {
        let _ = c.write_all(b"GET /v2/runs HTTP/1.1\r\nHo").await;
    }
    // While they are held the run goes on; those that never finish a request are closed after
    // the head's time limit, and the owner answers again even before the flood lets go.
    let end = tokio::time::timeout(PATIENCE, s.engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(end.status, RunStatus::Completed);
    stepwise_testkit::eventually_async(PATIENCE, "the owner answers again", async || {
        s.client.runs().await.is_ok()
    })
    .await;
    drop(flood);
}

#[tokio::test]
async fn a_watcher_that_hangs_up_mid_stream_leaves_the_run_as_it_was() {
    let s = served("hostile-hangup", quick(), Limits::default());
    for _ in 0..3 {
        let id = story(&s.engine);
        let mut stream = s.client.events(id, 0).await.unwrap();
        for _ in 0..5 {
            stream.next().await.unwrap().unwrap();
        }
        drop(stream);
        unhurt(&s, id).await;
    }
    // And a watcher that comes after gets the whole run.
    let id = story(&s.engine);
    let events = super::watch_to_end(&s.client, id, 0).await;
    assert!(matches!(
        events.last().unwrap().kind,
        stepwise_engine::EventKind::RunCompleted { .. }
    ));
}
