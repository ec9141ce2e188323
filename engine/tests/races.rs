//! Cancel against completion, at random points: exactly one terminal event, and it matches what
//! `cancel` answered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use stepwise_engine::provider::{DemoModel, DemoPace};
use stepwise_engine::{CancelReason, EventKind};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_terminal_event_over_many_random_races() {
    // Short instant runs finish in about the time a cancel takes, so both outcomes happen.
    let engine = demo_engine(DemoModel::new(DemoPace::INSTANT).with_words(20));
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let (mut cancelled, mut completed) = (0, 0);
    for _ in 0..1_500 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let (id, mut sub) = start(&engine, steps(2, "demo"), "race");
        let canceller = {
            let engine = engine.clone();
            let spins = rng % 40;
            let micros = (rng >> 8) % 30;
            tokio::spawn(async move {
                for _ in 0..spins {
                    tokio::task::yield_now().await;
                }
                if micros > 20 {
                    tokio::time::sleep(Duration::from_micros(micros)).await;
                }
                engine.cancel(id, CancelReason::User)
            })
        };
        let events = collect(&mut sub).await;
        let said_true = canceller.await.unwrap();
        match assert_well_formed(&events) {
            EventKind::RunCancelled { .. } => {
                assert!(said_true, "cancelled although cancel returned false");
                cancelled += 1;
            }
            EventKind::RunCompleted { .. } => {
                assert!(!said_true, "completed although cancel returned true");
                completed += 1;
            }
            other => panic!("unexpected end {other:?}"),
        }
    }
    println!("cancelled {cancelled}, completed {completed}");
    assert!(
        cancelled > 0 && completed > 0,
        "both sides of the race were exercised"
    );
}
