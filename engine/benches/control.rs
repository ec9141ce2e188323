//! `cargo bench -p stepwise-engine --bench control`: the control endpoint between processes.
//! - A cancel sent from this process to a run a `stepwise run` process owns: how long until
//!   `RunCancelled` reaches a watcher here (through the owner's endpoint), and until the
//!   provider (a local OpenAI-compatible server in this process) sees its connection closed.
//! - Deltas per second through the endpoint to a watcher that reads as fast as it can.
//! - Memory while watchers that never read are attached to long runs (it must stay flat).
//!
//! Prints a table, then one JSON object as the last line. Figures, not assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{pct, us};
use stepwise_engine::control::{Client, Endpoint, Limits};
use stepwise_engine::provider::{DemoModel, DemoPace, Providers};
use stepwise_engine::store::Store;
use stepwise_engine::{Engine, EngineConfig, EventKind, RunEvent, RunId, StartRun, workflow};
use stepwise_testkit::{Behavior, TestServer};
use tokio::io::AsyncWriteExt;

const CANCELS: usize = 60;

fn main() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let (emitted, closed, answered) = cancels_from_another_process(CANCELS).await;
        let deltas_per_sec = watch_rate(200_000).await;
        let short = never_reading_watchers(8, 20_000).await;
        let long = never_reading_watchers(8, 100_000).await;

        println!("{:<64} {:>12}", "measure", "value");
        println!("{:<64} {:>12}", format!("cancel from another process → its answer ({CANCELS} runs): p50"), us(pct(&answered, 50.0)));
        println!("{:<64} {:>12}", "cancel from another process → its answer: p99", us(pct(&answered, 99.0)));
        println!("{:<64} {:>12}", "cancel from another process → RunCancelled at a watcher: p50", us(pct(&emitted, 50.0)));
        println!("{:<64} {:>12}", "cancel from another process → RunCancelled at a watcher: p99", us(pct(&emitted, 99.0)));
        println!("{:<64} {:>12}", "cancel from another process → provider connection closed: p50", us(pct(&closed, 50.0)));
        println!("{:<64} {:>12}", "cancel from another process → provider connection closed: p99", us(pct(&closed, 99.0)));
        println!("{:<64} {:>12.0}", "deltas per second through the endpoint to one watcher", deltas_per_sec);
        for (words, g) in [("20,000", short), ("100,000", long)] {
            println!("{:<64} {:>9.1} MB", format!("memory growth, 8 runs × {words} deltas, no watcher"), g[0]);
            println!("{:<64} {:>9.1} MB", "  … next 8, each with a watcher that never reads", g[1]);
            println!("{:<64} {:>9.1} MB", "  … 8 more such", g[2]);
            println!("{:<64} {:>9.1} MB", "  … 8 more such", g[3]);
        }
        println!(
            "{{\"cancels\":{CANCELS},\"answer_p99_us\":{:.1},\"emitted_p50_us\":{:.1},\"emitted_p99_us\":{:.1},\
             \"closed_p50_us\":{:.1},\"closed_p99_us\":{:.1},\"watch_deltas_per_sec\":{:.0},\
             \"lazy_rounds_mb_20k\":{:?},\"lazy_rounds_mb_100k\":{:?}}}",
            pct(&answered, 99.0).as_secs_f64() * 1e6,
            pct(&emitted, 50.0).as_secs_f64() * 1e6,
            pct(&emitted, 99.0).as_secs_f64() * 1e6,
            pct(&closed, 50.0).as_secs_f64() * 1e6,
            pct(&closed, 99.0).as_secs_f64() * 1e6,
            deltas_per_sec,
            short.map(|m| (m * 10.0).round() / 10.0),
            long.map(|m| (m * 10.0).round() / 10.0),
        );
    });
}

/// Each run: a `stepwise run` process streams from the local server; once its text flows, this
/// process watches it through the endpoint and cancels it there.
async fn cancels_from_another_process(n: usize) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let dir = common::scratch_dir("bench-control");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rt")).unwrap();
    let db = dir.join("history.db");
    let server = TestServer::start().await.unwrap();
    let store = Store::open(&db).unwrap();
    let (mut emitted, mut closed, mut answered) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        server.reset();
        server.set_default(Behavior::words(1_000_000, 1));
        let mut owner = Command::new(env!("CARGO_BIN_EXE_stepwise"))
            .env("STEPWISE_DB", &db)
            .env("XDG_RUNTIME_DIR", dir.join("rt"))
            .env("STEPWISE_SETTINGS", "/nonexistent/settings.toml")
            .env("OPENAI_BASE_URL", server.openai_base())
            .env("OPENAI_API_KEY", "sk-bench")
            .args([
                "run",
                "long-story",
                "--input",
                "x",
                "--json",
                "--model",
                "openai:m",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(owner.stdout.take().unwrap()).lines();
        let first: RunEvent = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        let id = first.run_id;
        // Text flows: the owner is mid-stream.
        for line in lines.by_ref() {
            if line.unwrap().contains("TextDelta") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let endpoint = store
            .live_owners()
            .unwrap()
            .into_iter()
            .find(|o| o.id != store.owner_id())
            .unwrap()
            .endpoint;
        let client = Client::new(&endpoint).unwrap();
        let mut watch = client.events(id, 0).await.unwrap();
        let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            while let Some(Ok(e)) = watch.next().await {
                if matches!(e.kind, EventKind::RunCancelled { .. }) {
                    let _ = seen_tx.send(Instant::now());
                    return;
                }
            }
        });
        let t0 = Instant::now();
        assert!(client.cancel(id).await.unwrap());
        answered.push(t0.elapsed());
        let seen = seen_rx.await.unwrap();
        emitted.push(seen - t0);
        let gone = server
            .wait_for_disconnect(0, Duration::from_secs(30))
            .await
            .unwrap();
        closed.push(gone.saturating_duration_since(t0));
        owner.wait().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
    for v in [&mut emitted, &mut closed, &mut answered] {
        v.sort();
    }
    (emitted, closed, answered)
}

/// An engine (an instant demo model writing `words` words a step) served at a socket of its own.
fn served(
    name: &str,
    words: usize,
    limits: Limits,
) -> (Engine, Arc<Store>, Endpoint, std::path::PathBuf) {
    let dir = common::scratch_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(Store::open(&dir.join("history.db")).unwrap());
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT).with_words(words)),
        sink: Some(store.sink()),
        max_step_output: 64 << 20,
        ..EngineConfig::default()
    });
    let socket = dir.join("owner.sock");
    let endpoint = Endpoint::open_at(&socket, engine.clone(), Some(&store), None, limits).unwrap();
    (engine, store, endpoint, socket)
}

/// A run that waits for a review, then streams: a watcher joins while it waits, so that all of
/// the second step's text comes live.
fn waits_then_streams(engine: &Engine) -> RunId {
    let toml = "name = \"W\"\n[[steps]]\nname = \"Wait\"\ninstructions = \"x\"\nmodel = \"demo\"\n\
                review = true\n[[steps]]\nname = \"Stream\"\ninstructions = \"y\"\nmodel = \"demo\"\n";
    let workflow = workflow::parse(toml, None).unwrap();
    engine
        .start(StartRun {
            workflow,
            input: "x".into(),
            run_id: None,
        })
        .unwrap()
}

async fn until_review(engine: &Engine, id: RunId) {
    let mut sub = engine.subscribe(id).unwrap();
    if sub
        .snapshot
        .steps
        .iter()
        .any(|s| s.status == stepwise_engine::StepStatus::Waiting)
    {
        return;
    }
    while let Some(e) = sub.next().await {
        if matches!(e.kind, EventKind::ReviewRequested { .. }) {
            return;
        }
    }
}

/// Deltas per second a watcher gets when it reads as fast as it can.
async fn watch_rate(words: usize) -> f64 {
    // The instant demo model writes far faster than any provider: the watcher may fall further
    // behind than an endpoint allows by default, which is not what this measures.
    let limits = Limits {
        max_event_backlog: usize::MAX,
        ..Limits::default()
    };
    let (engine, _store, _endpoint, socket) = served("bench-control-rate", words, limits);
    let id = waits_then_streams(&engine);
    until_review(&engine, id).await;
    let client = Client::new(&socket).unwrap();
    let mut watch = client.events(id, 0).await.unwrap();
    engine
        .answer_review(id, "wait", stepwise_engine::ReviewAnswer::Approve)
        .unwrap();
    let t0 = Instant::now();
    let mut deltas = 0usize;
    while let Some(Ok(e)) = watch.next().await {
        if matches!(&e.kind, EventKind::TextDelta { path, .. } if &**path == "stream") {
            deltas += 1;
        }
    }
    deltas as f64 / t0.elapsed().as_secs_f64()
}

/// How much the process's memory grows over rounds of `runs` runs of `words` deltas each: one
/// with no watcher, then three with a watcher on each run that sends its request and never
/// reads. Flat means the later rounds cost nothing more: what a dropped watcher held is
/// reused, and nothing piles up per watcher or per delta.
async fn never_reading_watchers(runs: usize, words: usize) -> [f64; 4] {
    let name = format!("bench-control-lazy-{words}");
    let (engine, _store, _endpoint, socket) = served(&name, words, Limits::default());
    // One whole run first, so that the allocator's pools exist before measuring.
    let id = waits_then_streams(&engine);
    until_review(&engine, id).await;
    engine
        .answer_review(id, "wait", stepwise_engine::ReviewAnswer::Approve)
        .unwrap();
    engine.wait(id).await.unwrap();
    let mut growth = [0.0; 4];
    let mut lazy = Vec::new();
    for (phase, watched) in [false, true, true, true].into_iter().enumerate() {
        let before = common::rss_mb();
        for _ in 0..runs {
            let id = waits_then_streams(&engine);
            until_review(&engine, id).await;
            if watched {
                let mut c = tokio::net::UnixStream::connect(&socket).await.unwrap();
                let request = format!("GET /v2/runs/{id}/events HTTP/1.1\r\nHost: x\r\n\r\n");
                c.write_all(request.as_bytes()).await.unwrap();
                lazy.push(c);
            }
            engine
                .answer_review(id, "wait", stepwise_engine::ReviewAnswer::Approve)
                .unwrap();
            engine.wait(id).await.unwrap();
        }
        growth[phase] = common::rss_mb() - before;
    }
    drop(lazy);
    growth
}
