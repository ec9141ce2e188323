//! `cargo bench --bench events`: run events delivered to a webview listener through Tauri's mock
//! runtime while the engine streams 10,000 deltas a second, with the bridge's 16 ms coalescing and
//! without it. Prints a table, then one JSON object as the last line. Figures, not assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use stepwise_engine::EventKind;
use stepwise_engine::provider::DemoPace;

/// 0.1 ms a word: 10,000 deltas a second from the engine.
const PACE: DemoPace = DemoPace {
    first_token: Duration::ZERO,
    per_word: Duration::from_micros(100),
};
const RUNS: usize = 12;

struct Figures {
    events_per_sec: f64,
    deltas_per_sec: f64,
    deltas_per_event: f64,
}

fn measure(window: Duration) -> Figures {
    let t = support::app(&format!("bench-{}", window.as_millis()), PACE, window);
    let started = Instant::now();
    let (mut events, mut deltas) = (0usize, 0u64);
    for i in 0..RUNS {
        let id = t.start_template("long-story", &format!("a dragon number {i}"));
        for e in t.wait_end(&id) {
            events += 1;
            if matches!(e.kind, EventKind::TextDelta { .. }) {
                deltas += e.seq - e.first_seq() + 1;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    Figures {
        events_per_sec: events as f64 / secs,
        deltas_per_sec: deltas as f64 / secs,
        deltas_per_event: deltas as f64 / events as f64,
    }
}

fn main() {
    let with = measure(Duration::from_millis(16));
    let without = measure(Duration::ZERO);
    println!(
        "{:<56} {:>14} {:>14}",
        "measure (engine at 10,000 deltas/s)", "coalesced", "not coalesced"
    );
    println!(
        "{:<56} {:>14.0} {:>14.0}",
        "events per second delivered to the listener", with.events_per_sec, without.events_per_sec
    );
    println!(
        "{:<56} {:>14.0} {:>14.0}",
        "deltas per second delivered (text carried)", with.deltas_per_sec, without.deltas_per_sec
    );
    println!(
        "{:<56} {:>14.1} {:>14.1}",
        "deltas carried per event (all event kinds)",
        with.deltas_per_event,
        without.deltas_per_event
    );
    println!(
        "{{\"coalesced_events_per_sec\":{:.0},\"coalesced_deltas_per_sec\":{:.0},\"uncoalesced_events_per_sec\":{:.0},\"uncoalesced_deltas_per_sec\":{:.0}}}",
        with.events_per_sec, with.deltas_per_sec, without.events_per_sec, without.deltas_per_sec
    );
}
