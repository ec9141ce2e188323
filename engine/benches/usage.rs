//! `cargo bench -p stepwise-engine --bench usage`: what counting tokens costs, and what it adds to a
//! cancel. A cancelled stream's tokens are estimated before `RunCancelled` is emitted, so the
//! estimate is on the cancel path: measured here through the real local server, for a model
//! counted with OpenAI's tokenizer (`gpt-5-mini`) and one approximated (`test-model`), and for
//! the first cancel of a process, which loads the tokenizer's table. Prints a table, then one
//! JSON object as the last line. Figures, not assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Timing, pct, us};
use stepwise_engine::provider::estimate_request;
use stepwise_engine::provider::{DemoModel, DemoPace, HttpOptions, OpenAiProvider, Providers};
use stepwise_engine::store::Store;
use stepwise_engine::usage::count_tokens;
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, EventKind, ModelRef, ProviderKind, StartRun, workflow,
};
use stepwise_testkit::{Behavior, TestServer};

/// One line of the table: what is measured, and its figure.
fn row(measure: impl std::fmt::Display, value: impl std::fmt::Display) {
    println!("{measure:<64} {value:>14}");
}

fn main() {
    // `STEPWISE_BENCH_TABLE=1`: only what loading OpenAI's tokenizer costs, in a process that has
    // done nothing else (its time, and the memory it holds from then on).
    if std::env::var_os("STEPWISE_BENCH_TABLE").is_some() {
        let before = common::rss_mb();
        let t = Instant::now();
        count_tokens(&"openai:gpt-5".parse().unwrap(), "warm");
        let took = t.elapsed();
        let held = common::rss_mb() - before;
        println!(
            "{:<64} {:>11.1} ms",
            "load OpenAI's o200k table",
            took.as_secs_f64() * 1e3
        );
        println!("{:<64} {:>11.1} MB", "memory it holds", held);
        println!(
            "{{\"table_load_ms\":{:.1},\"table_mb\":{:.1}}}",
            took.as_secs_f64() * 1e3,
            held
        );
        return;
    }
    let rt = common::runtime(2);
    let dir = common::scratch_dir("bench-usage");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&dir.join("history.db")).unwrap();
    let timing = Arc::new(Timing::new(store.sink()));
    let figures = rt.block_on(async {
        let server = TestServer::start().await.unwrap();
        let engine = engine(&server, timing.clone());
        // First, before anything else has used the tokenizer: the first cancel of a process
        // (its first call began loading the table on a thread of its own).
        let first = cancels(&engine, &server, &timing, "openai:gpt-5-mini", 1).await[0];
        let tiktoken = cancels(&engine, &server, &timing, "openai:gpt-5-mini", 200).await;
        let approx = cancels(&engine, &server, &timing, "openai:test-model", 200).await;
        (first, tiktoken, approx)
    });
    let (first, tiktoken, approx) = figures;

    let gpt: ModelRef = "openai:gpt-5-mini".parse().unwrap();
    let text_1k: String = "The tide rises and falls twice a day, and turbines turn. ".repeat(18);
    let text_100k = text_1k.repeat(100);
    // The median of 21 (the first use on a thread also sets up its copy of the tokenizer's
    // regular expressions: that one is timed apart).
    let (tfirst, _) = {
        let t = Instant::now();
        let n = std::thread::spawn(move || count_tokens(&"openai:gpt-5".parse().unwrap(), "Hello"))
            .join()
            .unwrap();
        (t.elapsed(), n)
    };
    let time = |f: &dyn Fn() -> u32| {
        let mut runs: Vec<(Duration, u32)> = (0..21)
            .map(|_| {
                let t = Instant::now();
                let n = f();
                (t.elapsed(), n)
            })
            .collect();
        runs.sort();
        runs[10]
    };
    let (t1k, n1k) = time(&|| count_tokens(&gpt, &text_1k));
    let (t100k, n100k) = time(&|| count_tokens(&gpt, &text_100k));
    let mut request = stepwise_engine::provider::ModelRequest::new(
        gpt.clone(),
        "Write an engaging article from the research.".into(),
        text_1k.repeat(4),
    );
    request.system.push_str(&text_1k);
    let (treq, nreq) = time(&|| estimate_request(&request));

    println!("{:<64} {:>14}", "measure", "value");
    row(
        "first cancel of a process (tokenizer loaded since the call began)",
        us(first),
    );
    row(
        "cancel → RunCancelled, OpenAI tokenizer (gpt-5-mini): p50",
        us(pct(&tiktoken, 50.0)),
    );
    row(
        "cancel → RunCancelled, OpenAI tokenizer (gpt-5-mini): p99",
        us(pct(&tiktoken, 99.0)),
    );
    row(
        "cancel → RunCancelled, 4-bytes approximation: p50",
        us(pct(&approx, 50.0)),
    );
    row(
        "cancel → RunCancelled, 4-bytes approximation: p99",
        us(pct(&approx, 99.0)),
    );
    row(format!("count 1 kB ({n1k} tokens)"), us(t1k));
    row(format!("count 100 kB ({n100k} tokens)"), us(t100k));
    row(format!("estimate a 5 kB request ({nreq} tokens)"), us(treq));
    println!(
        "{:<64} {:>11.1} MB",
        "peak RSS (tokenizer loaded)",
        common::peak_rss_mb()
    );
    println!(
        "{{\"first_thread_count_us\":{:.0},\"first_cancel_us\":{:.0},\"tiktoken_cancel_p50_us\":{:.1},\"tiktoken_cancel_p99_us\":{:.1},\
         \"approx_cancel_p50_us\":{:.1},\"approx_cancel_p99_us\":{:.1},\"count_1k_us\":{:.1},\
         \"count_100k_us\":{:.1},\"estimate_request_us\":{:.1},\"peak_rss_mb\":{:.1}}}",
        tfirst.as_secs_f64() * 1e6,
        first.as_secs_f64() * 1e6,
        pct(&tiktoken, 50.0).as_secs_f64() * 1e6,
        pct(&tiktoken, 99.0).as_secs_f64() * 1e6,
        pct(&approx, 50.0).as_secs_f64() * 1e6,
        pct(&approx, 99.0).as_secs_f64() * 1e6,
        t1k.as_secs_f64() * 1e6,
        t100k.as_secs_f64() * 1e6,
        treq.as_secs_f64() * 1e6,
        common::peak_rss_mb(),
    );
    store.close(Duration::from_secs(10)).unwrap();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn engine(server: &TestServer, timing: Arc<Timing>) -> Engine {
    let openai = OpenAiProvider::new(
        server.openai_base(),
        Some("sk-bench".into()),
        HttpOptions::default(),
    );
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT))
            .with(ProviderKind::OpenAi, Arc::new(openai)),
        sink: Some(timing),
        ..EngineConfig::default()
    })
}

/// `n` runs of one step on `model`, each cancelled once it has streamed about 2 kB: the time
/// from `cancel` returning to `RunCancelled` being emitted (estimate included).
async fn cancels(
    engine: &Engine,
    server: &TestServer,
    timing: &Timing,
    model: &str,
    n: usize,
) -> Vec<Duration> {
    let wf = workflow::parse(
        &format!("name = \"Bench\"\n[[steps]]\nname = \"Write\"\ninstructions = \"Write.\"\nmodel = \"{model}\"\n"),
        None,
    )
    .unwrap();
    server.set_default(Behavior::words(100_000, 1));
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (id, mut sub) = engine
            .start_subscribed(StartRun {
                workflow: wf.clone(),
                input: "tidal energy".into(),
                run_id: None,
            })
            .unwrap();
        let mut written = 0;
        while written < 2_000 {
            match sub.next().await.map(|e| e.kind) {
                Some(EventKind::TextDelta { text, .. }) => written += text.len(),
                Some(_) => {}
                None => panic!("the run ended before the cancel"),
            }
        }
        let asked = Instant::now();
        assert!(engine.cancel(id, CancelReason::User));
        while sub.next().await.is_some() {}
        out.push(timing.cancelled_at(id).unwrap().duration_since(asked));
    }
    out.sort();
    out
}
