//! What the benchmarks share: percentiles, formatting, the process's peak memory.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stepwise_engine::{EventKind, RunEvent, RunId, RunSink, Workflow};

/// Where a bench keeps its history database: under target/tmp. The bench empties it first and
/// removes it when done (these grow to gigabytes).
pub fn scratch_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// A multi-threaded Tokio runtime of `threads` workers: 2 for the engine (the machine's cores),
/// 1 for a server that stands for another process.
pub fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

/// The `p`th percentile of sorted durations.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((p / 100.0) * (sorted.len() - 1) as f64).round() as usize]
}

pub fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The process's peak resident set (VmHWM), in MB; 0 where /proc is not there.
pub fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// The process's resident set now (VmRSS), in MB.
pub fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

fn status_mb(field: &str) -> f64 {
    let kb: u64 = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    kb as f64 / 1024.0
}

/// Passes everything to the history and notes the instant each `RunCancelled` is emitted (sinks
/// are called as events are emitted, under the run's lock).
pub struct Timing {
    history: Arc<dyn RunSink>,
    cancelled_at: Mutex<HashMap<RunId, Instant>>,
}

impl Timing {
    pub fn new(history: Arc<dyn RunSink>) -> Self {
        Timing {
            history,
            cancelled_at: Mutex::default(),
        }
    }

    /// When the run's `RunCancelled` was emitted (taken: each is read once).
    pub fn cancelled_at(&self, id: RunId) -> Option<Instant> {
        self.cancelled_at.lock().unwrap().remove(&id)
    }
}

impl RunSink for Timing {
    fn run_created(&self, run_id: RunId, workflow: &Workflow, input: &str, created_at_ms: u64) {
        self.history
            .run_created(run_id, workflow, input, created_at_ms);
    }

    fn event(&self, event: &RunEvent) {
        if matches!(event.kind, EventKind::RunCancelled { .. }) {
            self.cancelled_at
                .lock()
                .unwrap()
                .insert(event.run_id, Instant::now());
        }
        self.history.event(event);
    }
}

/// Starts the workflow of this TOML on the input "q", subscribed from its first event.
pub fn start_toml(
    engine: &stepwise_engine::Engine,
    toml: &str,
) -> (stepwise_engine::RunId, stepwise_engine::Subscription) {
    let workflow = stepwise_engine::workflow::parse(toml, None).unwrap();
    engine
        .start_subscribed(stepwise_engine::StartRun {
            workflow,
            input: "q".into(),
            run_id: None,
        })
        .unwrap()
}
