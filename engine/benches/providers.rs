//! `cargo bench -p stepwise-engine --bench providers`: the HTTP providers against the local test
//! server. How soon after a cancel the server sees the connection close, deltas per second
//! through the OpenAI path, cancelling 100 / 1,000 concurrent streaming runs, and the step tree:
//! a parallel step of 8 branches cancelled mid-stream, and 1,000 runs of 4 branches each
//! cancelled at once. Prints a table, then one JSON object as the last line. Figures, not
//! assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Timing, pct, us};

use stepwise_engine::provider::{DemoModel, HttpOptions, OpenAiProvider, Providers};
use stepwise_engine::store::Store;
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, EventKind, ProviderKind, RunId, Subscription,
};
use stepwise_testkit::{Behavior, TestServer};

/// How many times the 1,000-run cancel is measured.
const REPEATS_1000: usize = 7;
/// How many times the 1,000 × 4-branch cancel is measured.
const REPEATS_TREE: usize = 3;

fn main() {
    // 1,000 runs hold 2,000 sockets in this process (client and server side).
    // 1,000 runs of 4 branches hold 8,000 sockets.
    let _ = rlimit::increase_nofile_limit(16_384);
    let rt = common::runtime(2);
    // The server gets its own runtime (one thread), as a provider is its own process: its
    // tasks share the machine's two cores with the engine but not the engine's task queues.
    let server_rt = common::runtime(1);
    let server = server_rt.block_on(TestServer::start()).unwrap();
    let dir = common::scratch_dir("bench-providers");
    let _ = std::fs::remove_dir_all(&dir);
    rt.block_on(async {
        let store = Store::open(&dir.join("history.db")).unwrap();
        let timing = Arc::new(Timing::new(store.sink()));
        let engine = engine_for(&server, timing.clone());

        let closes = close_latencies(&server, &engine, 200).await;
        let rate = delta_rate(&server, &engine, 200_000).await;
        let c100 = cancel_all(&server, &engine, 100, 0).await;
        // One sample of the 1,000-run figure says little on a shared 2-core machine: take several.
        let mut c1000s = Vec::new();
        for _ in 0..REPEATS_1000 {
            c1000s.push(cancel_all(&server, &engine, 1_000, 0).await);
        }
        c1000s.sort_by(|a, b| a.0.total_cmp(&b.0));
        let c1000 = (
            c1000s[c1000s.len() / 2].0,
            c1000s.iter().map(|r| r.1).max().unwrap_or(0),
        );
        let c1000_max = c1000s.last().map_or(0.0, |r| r.0);
        let (tree_emit, tree_close) = parallel_cancels(&server, &engine, &timing, 200).await;
        let mut trees = Vec::new();
        for _ in 0..REPEATS_TREE {
            trees.push(cancel_all(&server, &engine, 1_000, 4).await);
        }
        trees.sort_by(|a, b| a.0.total_cmp(&b.0));
        let tree = trees[trees.len() / 2];
        let tree_open = trees.iter().map(|r| r.1).max().unwrap_or(0);
        let rss_mb = common::peak_rss_mb();

        let (p50, p99) = (pct(&closes, 50.0), pct(&closes, 99.0));
        println!("{:<58} {:>12}", "measure", "value");
        println!("{:<58} {:>12}", format!("cancel → server sees the close, p50 ({} cancels)", closes.len()), us(p50));
        println!("{:<58} {:>12}", "cancel → server sees the close, p99", us(p99));
        println!("{:<58} {:>12.0}", "deltas per second, OpenAI path, zero-delay server", rate);
        println!("{:<58} {:>9.2} ms", "100 streaming runs: cancel all → all terminal", c100.0);
        println!("{:<58} {:>12}", "100 streaming runs: connections open 1 s later", c100.1);
        println!("{:<58} {:>9.2} ms", format!("1000 streaming runs: cancel all → all terminal, median of {REPEATS_1000}"), c1000.0);
        println!("{:<58} {:>9.2} ms", "1000 streaming runs: cancel all → all terminal, slowest", c1000_max);
        println!("{:<58} {:>12}", "1000 streaming runs: connections open 1 s later (worst)", c1000.1);
        println!("{:<58} {:>12}", format!("parallel of 8: cancel → RunCancelled emitted, p50 ({})", tree_emit.len()), us(pct(&tree_emit, 50.0)));
        println!("{:<58} {:>12}", "parallel of 8: cancel → RunCancelled emitted, p99", us(pct(&tree_emit, 99.0)));
        println!("{:<58} {:>12}", "parallel of 8: cancel → last of 8 connections closed, p50", us(pct(&tree_close, 50.0)));
        println!("{:<58} {:>12}", "parallel of 8: cancel → last of 8 connections closed, p99", us(pct(&tree_close, 99.0)));
        println!("{:<58} {:>9.2} ms", format!("1000 runs × 4 branches: cancel all → all terminal, median of {REPEATS_TREE}"), tree.0);
        println!("{:<58} {:>12}", "1000 runs × 4 branches: connections open 1 s later (worst)", tree_open);
        println!("{:<58} {:>9.1} MB", "peak RSS (engine, client and server in one process)", rss_mb);
        println!(
            "{{\"store\":true,\"cancels\":{},\"close_p50_us\":{:.1},\"close_p99_us\":{:.1},\"deltas_per_sec\":{:.0},\
             \"cancel_all_100_ms\":{:.2},\"open_after_1s_100\":{},\"cancel_all_1000_ms\":{:.2},\
             \"cancel_all_1000_max_ms\":{:.2},\"open_after_1s_1000\":{},\"parallel8_emit_p99_us\":{:.1},\
             \"parallel8_last_close_p99_us\":{:.1},\"cancel_all_1000x4_ms\":{:.2},\"open_after_1s_1000x4\":{},\
             \"peak_rss_mb\":{:.1}}}",
            closes.len(),
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            rate,
            c100.0,
            c100.1,
            c1000.0,
            c1000_max,
            c1000.1,
            pct(&tree_emit, 99.0).as_secs_f64() * 1e6,
            pct(&tree_close, 99.0).as_secs_f64() * 1e6,
            tree.0,
            tree_open,
            rss_mb
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// The engine records into the history, as the app does; the throughput run streams far more
/// than one step may write by default, so the step limit is off.
fn engine_for(server: &TestServer, sink: Arc<Timing>) -> Engine {
    let openai = OpenAiProvider::new(
        server.openai_base(),
        Some("sk-bench".into()),
        HttpOptions::default(),
    );
    Engine::new(EngineConfig {
        tools: Default::default(),
        providers: Providers::demo(DemoModel::default())
            .with(ProviderKind::OpenAi, Arc::new(openai)),
        default_model: None,
        sink: Some(sink),
        max_step_output: usize::MAX,
        prices: Default::default(),
    })
}

fn start(engine: &Engine) -> (RunId, Subscription) {
    start_branching(engine, 0)
}

/// One step, or (for `branches` > 0) a parallel step of that many branches, on the test server.
fn start_branching(engine: &Engine, branches: usize) -> (RunId, Subscription) {
    let text = if branches == 0 {
        "name = \"B\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\nmodel = \"openai:bench\"\n"
            .to_string()
    } else {
        let mut t = String::from("name = \"P\"\n[[steps]]\nname = \"All\"\nkind = \"parallel\"\n");
        for i in 0..branches {
            t.push_str(&format!(
                "[[steps.steps]]\nname = \"B{i}\"\ninstructions = \"x\"\nmodel = \"openai:bench\"\n"
            ));
        }
        t
    };
    common::start_toml(engine, &text)
}

async fn until_deltas(sub: &mut Subscription, n: usize) {
    let mut seen = 0;
    while seen < n {
        match sub.next().await.map(|e| e.kind) {
            Some(EventKind::TextDelta { .. }) => seen += 1,
            Some(k) if k.is_terminal() => panic!("ended early: {k:?}"),
            Some(_) => {}
            None => panic!("stream ended"),
        }
    }
}

/// Cancels runs streaming a token every 5 ms after a random number of tokens; the server notes
/// the moment it sees the connection close (same clock: it runs in this process).
async fn close_latencies(server: &TestServer, engine: &Engine, n: usize) -> Vec<Duration> {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        server.reset();
        server.set_default(Behavior::words(100_000, 5));
        let (id, mut sub) = start(engine);
        until_deltas(&mut sub, 1 + (rng % 20) as usize).await;
        let t0 = Instant::now();
        assert!(engine.cancel(id, CancelReason::User));
        let seen = server
            .wait_for_disconnect(0, Duration::from_secs(5))
            .await
            .expect("server saw no close");
        out.push(seen.saturating_duration_since(t0));
        while sub.next().await.is_some() {}
    }
    out.sort();
    out
}

async fn delta_rate(server: &TestServer, engine: &Engine, tokens: usize) -> f64 {
    server.reset();
    server.set_default(Behavior::words(tokens, 0));
    let t0 = Instant::now();
    let (_, mut sub) = start(engine);
    let mut deltas = 0;
    while let Some(e) = sub.next().await {
        match e.kind {
            EventKind::TextDelta { .. } => deltas += 1,
            EventKind::RunCompleted { .. } => {}
            k if k.is_terminal() => panic!("{k:?}"),
            _ => {}
        }
    }
    assert_eq!(deltas, tokens);
    deltas as f64 / t0.elapsed().as_secs_f64()
}

/// Until every one of `branches` branches has streamed a delta.
async fn until_every_branch(sub: &mut Subscription, branches: usize) {
    let mut seen = std::collections::HashSet::new();
    while seen.len() < branches {
        match sub.next().await.map(|e| e.kind) {
            Some(EventKind::TextDelta { path, .. }) => {
                seen.insert(path);
            }
            Some(k) if k.is_terminal() => panic!("ended early: {k:?}"),
            Some(_) => {}
            None => panic!("stream ended"),
        }
    }
}

/// A parallel step of 8 branches, each streaming a token every 5 ms, cancelled once every branch
/// has written: how soon `RunCancelled` is emitted, and how soon the server has seen the last of
/// the 8 connections close.
async fn parallel_cancels(
    server: &TestServer,
    engine: &Engine,
    timing: &Timing,
    n: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut emitted, mut closed) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        server.reset();
        server.set_default(Behavior::words(100_000, 5));
        let (id, mut sub) = start_branching(engine, 8);
        until_every_branch(&mut sub, 8).await;
        let t0 = Instant::now();
        assert!(engine.cancel(id, CancelReason::User));
        let mut last = t0;
        for i in 0..8 {
            let seen = server
                .wait_for_disconnect(i, Duration::from_secs(5))
                .await
                .expect("server saw no close");
            last = last.max(seen);
        }
        while sub.next().await.is_some() {}
        emitted.push(timing.cancelled_at(id).unwrap().duration_since(t0));
        closed.push(last.saturating_duration_since(t0));
    }
    emitted.sort();
    closed.sort();
    (emitted, closed)
}

/// `n` runs (of one step, or of a parallel step with `branches` branches) streaming a token every
/// 50 ms; once each has shown text, cancel all. Returns the time until every run is terminal and
/// the connections of this phase still open one second later (counting the server's open
/// connections would include keep-alive ones pooled by earlier, completed runs).
async fn cancel_all(
    server: &TestServer,
    engine: &Engine,
    n: usize,
    branches: usize,
) -> (f64, usize) {
    server.reset();
    server.set_default(Behavior::words(100_000, 50));
    let mut runs: Vec<(RunId, Subscription)> =
        (0..n).map(|_| start_branching(engine, branches)).collect();
    for (_, sub) in &mut runs {
        until_every_branch(sub, branches.max(1)).await;
    }
    let t0 = Instant::now();
    for (id, _) in &runs {
        assert!(engine.cancel(*id, CancelReason::User));
    }
    for (id, _) in &runs {
        // `None`: it has ended and already left memory (only recent runs stay).
        engine.wait(*id).await;
    }
    let elapsed = t0.elapsed().as_secs_f64() * 1e3;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = server
        .requests()
        .iter()
        .filter(|r| !r.disconnected && !r.completed)
        .count();
    (elapsed, open)
}
