//! `cargo bench -p stepwise-engine --bench cancel`: how fast a cancel takes effect, how many deltas
//! a run can stream, and what cancelling 1,000 live runs costs. Prints a table, then one JSON
//! object as the last line. Figures, not assertions: this machine is shared and noisy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{Timing, ms, pct, us};

use stepwise_engine::provider::{DemoModel, DemoPace, Providers};
use stepwise_engine::store::Store;
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, EventKind, RunId, StartRun, Subscription, Workflow,
    workflow,
};

fn main() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let (hot, hot_rx) = cancel_latencies(DemoPace::INSTANT, 1_000, 2_000).await;
        let (paced, paced_rx) = cancel_latencies(
            DemoPace { first_token: Duration::from_millis(2), per_word: Duration::from_millis(1) },
            300,
            120,
        )
        .await;
        let mut all: Vec<Duration> = hot.iter().chain(&paced).copied().collect();
        all.sort();
        let mut all_rx: Vec<Duration> = hot_rx.iter().chain(&paced_rx).copied().collect();
        all_rx.sort();
        let (deltas_per_sec, durable_per_sec) = delta_rate(1_000_000).await;
        let cancel_all = cancel_all_live(1_000).await;
        let rss_mb = common::peak_rss_mb();

        let (p50, p99) = (pct(&all, 50.0), pct(&all, 99.0));
        println!("{:<60} {:>14}", "measure (history store enabled)", "value");
        println!("{:<60} {:>14}", "cancel → RunCancelled emitted, streaming flat out: p50", us(pct(&hot, 50.0)));
        println!("{:<60} {:>14}", "cancel → RunCancelled emitted, streaming flat out: p99", us(pct(&hot, 99.0)));
        println!("{:<60} {:>14}", "cancel → RunCancelled emitted, 1 word/ms: p50", us(pct(&paced, 50.0)));
        println!("{:<60} {:>14}", "cancel → RunCancelled emitted, 1 word/ms: p99", us(pct(&paced, 99.0)));
        println!("{:<60} {:>14}", format!("cancel → RunCancelled emitted, all {} cancels: p50", all.len()), us(p50));
        println!("{:<60} {:>14}", format!("cancel → RunCancelled emitted, all {} cancels: p99", all.len()), us(p99));
        println!("{:<60} {:>14}", "cancel → RunCancelled received by a subscriber: p50", us(pct(&all_rx, 50.0)));
        println!("{:<60} {:>14}", "cancel → RunCancelled received by a subscriber: p99", us(pct(&all_rx, 99.0)));
        println!("{:<60} {:>14.0}", "deltas per second, one run, zero-delay demo", deltas_per_sec);
        println!("{:<60} {:>14.0}", "  … counting until all are saved in the history", durable_per_sec);
        println!("{:<60} {:>11.2} ms", "1,000 live runs: cancel all → all terminal", ms(cancel_all));
        println!("{:<60} {:>11.1} MB", "peak RSS", rss_mb);
        println!(
            "{{\"store\":true,\"cancels\":{},\"cancel_p50_us\":{:.1},\"cancel_p99_us\":{:.1},\"received_p99_us\":{:.1},\"deltas_per_sec\":{:.0},\
             \"durable_deltas_per_sec\":{:.0},\"cancel_all_1000_ms\":{:.2},\"peak_rss_mb\":{:.1}}}",
            all.len(),
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            pct(&all_rx, 99.0).as_secs_f64() * 1e6,
            deltas_per_sec,
            durable_per_sec,
            ms(cancel_all),
            rss_mb
        );
    });
    let _ = std::fs::remove_dir_all(common::scratch_dir(SCRATCH));
}

/// The folder of the history database below.
const SCRATCH: &str = "bench-cancel";

/// Every engine here records into one history database, as the app does.
fn store() -> &'static Arc<Store> {
    static STORE: OnceLock<Arc<Store>> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = common::scratch_dir(SCRATCH);
        let _ = std::fs::remove_dir_all(&dir);
        Arc::new(Store::open(&dir.join("history.db")).unwrap())
    })
}

fn timing() -> &'static Arc<Timing> {
    static TIMING: OnceLock<Arc<Timing>> = OnceLock::new();
    TIMING.get_or_init(|| Arc::new(Timing::new(store().sink())))
}

fn engine(demo: DemoModel) -> Engine {
    Engine::new(EngineConfig {
        providers: Providers::demo(demo),
        default_model: None,
        sink: Some(timing().clone()),
        ..EngineConfig::default()
    })
}

/// For the one-million-word run: no per-step output limit (the default would stop it at 1 MB).
fn unlimited_engine(demo: DemoModel) -> Engine {
    Engine::new(EngineConfig {
        providers: Providers::demo(demo),
        sink: Some(timing().clone()),
        max_step_output: usize::MAX,
        ..EngineConfig::default()
    })
}

fn two_steps() -> Workflow {
    workflow::parse(
        "name = \"Bench\"\n[[steps]]\nname = \"A\"\ninstructions = \"List facts.\"\n\
         [[steps]]\nname = \"B\"\ninstructions = \"Write an article.\"\n",
        None,
    )
    .unwrap()
}

fn start(engine: &Engine, workflow: Workflow) -> (RunId, Subscription) {
    engine
        .start_subscribed(StartRun {
            workflow,
            input: "tidal energy".into(),
            run_id: None,
        })
        .unwrap()
}

/// Cancels runs at random points (before the first word, mid-step, in step 2) and times cancel →
/// `RunCancelled` as a subscriber receives it.
async fn cancel_latencies(
    pace: DemoPace,
    runs: usize,
    words: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let engine = engine(DemoModel::new(pace).with_words(words));
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut out = Vec::with_capacity(runs);
    let mut received = Vec::with_capacity(runs);
    while out.len() < runs {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let after_deltas = (rng % (2 * words as u64)) as usize;
        let (id, mut sub) = start(&engine, two_steps());
        let mut seen = 0;
        let mut ended_first = false;
        while seen < after_deltas {
            match sub.next().await.map(|e| e.kind) {
                Some(EventKind::TextDelta { .. }) => seen += 1,
                Some(k) if k.is_terminal() => {
                    ended_first = true;
                    break;
                }
                _ => {}
            }
        }
        if ended_first {
            continue;
        }
        let t0 = Instant::now();
        if !engine.cancel(id, CancelReason::User) {
            continue; // it completed first: not a cancel
        }
        loop {
            match sub.next().await {
                Some(e) if matches!(e.kind, EventKind::RunCancelled { .. }) => break,
                Some(_) => {}
                None => panic!("stream ended without RunCancelled"),
            }
        }
        received.push(t0.elapsed());
        let emitted = timing().cancelled_at(id).unwrap();
        out.push(emitted.duration_since(t0));
    }
    out.sort();
    received.sort();
    (out, received)
}

/// One run with a zero-delay demo model, read by one subscriber: deltas per second as the
/// subscriber got them, and counting until the history has saved them all.
async fn delta_rate(words: usize) -> (f64, f64) {
    store().flush(Duration::from_secs(60)).unwrap();
    let engine = unlimited_engine(DemoModel::new(DemoPace::INSTANT).with_words(words));
    let one = workflow::parse(
        "name = \"B\"\n[[steps]]\nname = \"A\"\ninstructions = \"List facts.\"\n",
        None,
    )
    .unwrap();
    let t0 = Instant::now();
    let (_, mut sub) = start(&engine, one);
    let mut deltas = 0usize;
    while let Some(e) = sub.next().await {
        if matches!(e.kind, EventKind::TextDelta { .. }) {
            deltas += 1;
        }
    }
    assert_eq!(deltas, words);
    let streamed = t0.elapsed().as_secs_f64();
    store().flush(Duration::from_secs(120)).unwrap();
    (
        deltas as f64 / streamed,
        deltas as f64 / t0.elapsed().as_secs_f64(),
    )
}

/// Starts `n` runs streaming at a human pace, then cancels them all at once.
async fn cancel_all_live(n: usize) -> Duration {
    let engine = engine(DemoModel::new(DemoPace {
        first_token: Duration::from_millis(20),
        per_word: Duration::from_millis(33),
    }));
    let ids: Vec<RunId> = (0..n).map(|_| start(&engine, two_steps()).0).collect();
    // Let every run get into its first step and stream a few words.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(engine.live_count(), n);
    let t0 = Instant::now();
    for id in &ids {
        assert!(engine.cancel(*id, CancelReason::User));
    }
    for id in &ids {
        // `None`: it has ended and already left memory (only recent runs stay).
        engine.wait(*id).await;
    }
    let elapsed = t0.elapsed();
    assert_eq!(engine.live_count(), 0);
    elapsed
}
