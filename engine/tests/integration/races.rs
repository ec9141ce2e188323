//! Cancel against completion, at random points: exactly one terminal event, and it matches what
//! `cancel` answered.

use std::time::Duration;

use crate::support::*;
use stepwise_engine::provider::{DemoModel, DemoPace};
use stepwise_engine::{CancelReason, EventKind};

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

/// A random step tree of at most `depth` levels, every model call scripted.
fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

fn random_steps(rng: &mut u64, depth: u32, counter: &mut u32) -> String {
    let n = 1 + next(rng) % 3;
    let mut out = String::new();
    for _ in 0..n {
        *counter += 1;
        let name = format!("S{counter}");
        let kind = if depth == 0 { 0 } else { next(rng) % 6 };
        let inner = |rng: &mut u64, counter: &mut u32| random_steps(rng, depth - 1, counter);
        let step = match kind {
            1 => format!(
                "{{ name = \"{name}\", kind = \"parallel\", steps = [{}] }}",
                inner(rng, counter)
            ),
            2 => format!(
                "{{ name = \"{name}\", kind = \"loop\", max_iterations = {}, until = 'output contains \"w2\"', steps = [{}] }}",
                1 + next(rng) % 3,
                inner(rng, counter)
            ),
            3 => format!(
                "{{ name = \"{name}\", kind = \"condition\", if = 'output contains \"w1\"', then = [{}], else = [{}] }}",
                inner(rng, counter),
                inner(rng, counter)
            ),
            4 => format!(
                "{{ name = \"{name}\", kind = \"group\", steps = [{}] }}",
                inner(rng, counter)
            ),
            5 => format!(
                "{{ name = \"{name}\", kind = \"router\", model = \"openai:m\", routes = [\
                 {{ name = \"w0\", description = \"first\", steps = [{}] }}, \
                 {{ name = \"zz\", description = \"other\", steps = [{}] }}] }}",
                inner(rng, counter),
                inner(rng, counter)
            ),
            _ => format!("{{ name = \"{name}\", instructions = \"do\", model = \"openai:m\" }}"),
        };
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&step);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_trees_end_once_and_stop_everything_at_a_cancel() {
    let provider = ScriptedProvider::new(Script::words(3, Duration::ZERO));
    let engine = scripted_engine(provider.clone());
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let (mut cancelled, mut ended) = (0, 0);
    for round in 0..400 {
        let mut counter = 0;
        let steps = random_steps(&mut rng, 3, &mut counter);
        let wf = workflow_of(&format!("name = \"Random {round}\"\nsteps = [{steps}]\n"));
        let (id, mut sub) = start(&engine, wf, "race");
        let spins = next(&mut rng) % 60;
        let canceller = {
            let engine = engine.clone();
            tokio::spawn(async move {
                for _ in 0..spins {
                    tokio::task::yield_now().await;
                }
                let said = engine.cancel(id, CancelReason::User);
                // Nothing but the terminal event may follow a cancel that returned true.
                (said, engine.get(id).map(|s| s.last_seq))
            })
        };
        let events = collect(&mut sub).await;
        let (said_true, seq_at_cancel) = canceller.await.unwrap();
        let terminal = assert_well_formed(&events);
        if said_true {
            assert!(
                matches!(terminal, EventKind::RunCancelled { .. }),
                "{terminal:?}"
            );
            let after = seq_at_cancel.unwrap();
            assert!(
                events
                    .iter()
                    .filter(|e| e.seq > after)
                    .all(|e| e.kind.is_terminal()),
                "an event other than the terminal one followed the cancel"
            );
            cancelled += 1;
        } else {
            assert!(!matches!(terminal, EventKind::RunCancelled { .. }));
            ended += 1;
        }
        // Every model stream the run opened was closed by the time its terminal event came.
        let opened = provider.requests.lock().unwrap().len();
        assert_eq!(
            provider.dropped.load(std::sync::atomic::Ordering::SeqCst),
            opened,
            "a stream outlived its run ({round})"
        );
    }
    println!("cancelled {cancelled}, ended on their own {ended}");
    assert!(
        cancelled > 0 && ended > 0,
        "both sides of the race were exercised"
    );
    assert_eq!(engine.live_count(), 0);
}
