//! The engine under bad luck and long sessions: a panicking provider, a runaway step, thousands
//! of finished runs, a cancel before a start, a start racing a shutdown.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use futures_util::stream;
use stepwise_engine::engine::RETAINED_FINISHED_RUNS;
use stepwise_engine::provider::{
    Chunk, ChunkStream, DemoModel, DemoPace, ModelRequest, Provider, Providers,
};
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, ErrorKind, EventKind, ProviderKind, RunStatus, StartRun,
    StepStatus,
};
use stepwise_testkit::{PATIENCE, eventually_async};
use uuid::Uuid;

/// Streams two words, then panics (a bug in a provider).
struct Panicking;

impl Provider for Panicking {
    fn stream(&self, _: ModelRequest) -> ChunkStream {
        Box::pin(stream::unfold(0, |i| async move {
            if i == 2 {
                panic!("a provider bug");
            }
            Some((Ok(Chunk::Text(format!("p{i} "))), i + 1))
        }))
    }
}

fn engine_with(kind: ProviderKind, provider: Arc<dyn Provider>, max_output: usize) -> Engine {
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT)).with(kind, provider),
        max_step_output: max_output,
        ..EngineConfig::default()
    })
}

#[tokio::test]
async fn a_panic_ends_the_run_failed_with_its_one_terminal_event() {
    let engine = engine_with(ProviderKind::OpenAi, Arc::new(Panicking), 1_000_000);
    let (id, mut sub) = start(&engine, steps(2, "openai:m"), "x");
    let events = tokio::time::timeout(Duration::from_secs(30), collect(&mut sub))
        .await
        .expect("subscribers are not left hanging");
    match assert_well_formed(&events) {
        EventKind::RunFailed { path, error, .. } => {
            assert_eq!(
                (path.as_deref(), *error),
                (Some("step-1"), ErrorKind::Internal)
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        deltas_of(&events, "step-1"),
        "p0 p1 ",
        "the text so far is kept"
    );
    let snap = tokio::time::timeout(PATIENCE, engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap.status, RunStatus::Failed);
    assert_eq!(snap.steps[0].status, StepStatus::Failed);
    assert!(!engine.cancel(id, CancelReason::User));
    assert_eq!(engine.live_count(), 0);
}

#[tokio::test]
async fn a_step_that_writes_too_much_is_stopped_at_the_limit() {
    let provider = ScriptedProvider::new(Script::words(10_000, Duration::ZERO));
    let engine = engine_with(ProviderKind::OpenAi, provider.clone(), 1_000);
    let (_, mut sub) = start(&engine, steps(2, "openai:m"), "x");
    let events = collect(&mut sub).await;
    match assert_well_formed(&events) {
        EventKind::RunFailed {
            path,
            error,
            message,
            ..
        } => {
            assert_eq!(
                (path.as_deref(), *error),
                (Some("step-1"), ErrorKind::Provider)
            );
            assert!(
                message.contains("more than 1 kB") && message.contains("max_step_output_bytes"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let text = deltas_of(&events, "step-1");
    assert_eq!(text.len(), 1_000, "exactly up to the limit");
    assert!(text.starts_with("w0 w1 "));
    assert_eq!(
        provider.dropped.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn the_limit_never_splits_a_character() {
    let provider = ScriptedProvider::new(Script {
        pieces: vec!["ab".into(), "日本語".into()],
        first_delay: Duration::ZERO,
        delay: Duration::ZERO,
        fail_after: None,
    });
    let engine = engine_with(ProviderKind::OpenAi, provider, 6);
    let (_, mut sub) = start(&engine, steps(1, "openai:m"), "x");
    let events = collect(&mut sub).await;
    assert_eq!(deltas_of(&events, "step-1"), "ab日");
}

#[tokio::test]
async fn finished_runs_leave_memory_and_recent_ones_stay() {
    let engine = instant_engine();
    let mut ids = Vec::new();
    for _ in 0..(RETAINED_FINISHED_RUNS + 20) {
        let (id, mut sub) = start(&engine, steps(1, "demo"), "x");
        collect(&mut sub).await;
        engine.wait(id).await;
        ids.push(id);
    }
    // The driver retires a run right after its terminal event; give it that moment.
    eventually_async(PATIENCE, "only the retained runs to be left", async || {
        let kept = engine.list().len();
        if kept == RETAINED_FINISHED_RUNS {
            Ok(())
        } else {
            Err(format!("{kept} runs"))
        }
    })
    .await;
    assert!(
        engine.get(ids[0]).is_none(),
        "the oldest finished run is gone"
    );
    let newest = engine.get(*ids.last().unwrap()).unwrap();
    assert_eq!(newest.status, RunStatus::Completed);
}

#[tokio::test]
async fn a_cancel_of_an_id_never_started_leaves_nothing_behind() {
    let engine = instant_engine();
    let id = Uuid::new_v4();
    assert!(!engine.cancel(id, CancelReason::User));
    assert!(engine.get(id).is_none() && engine.list().is_empty());
    let (same, mut sub) = engine
        .start_subscribed(StartRun {
            workflow: steps(1, "demo"),
            input: "x".into(),
            run_id: Some(id),
        })
        .unwrap();
    assert_eq!(same, id);
    assert!(matches!(
        assert_well_formed(&collect(&mut sub).await),
        EventKind::RunCompleted { .. }
    ));
}

#[tokio::test]
async fn waiting_after_a_cancel_returns_the_cancelled_outcome() {
    let engine = demo_engine(DemoModel::new(DemoPace {
        first_token: Duration::from_millis(10),
        per_word: Duration::from_millis(10),
    }));
    let (id, _sub) = start(&engine, steps(2, "demo"), "x");
    assert!(engine.cancel(id, CancelReason::User));
    let snap = engine.wait(id).await.unwrap();
    assert_eq!(snap.status, RunStatus::Cancelled);
    assert_eq!(snap.cancel_reason, Some(CancelReason::User));
    // And once more, after the end.
    assert_eq!(engine.wait(id).await.unwrap().status, RunStatus::Cancelled);
}

/// A shutdown that races a start must still wait for the run it let in: when `shutdown`
/// returns, every run the engine accepted has emitted its terminal event.
#[test]
fn a_start_racing_a_shutdown_is_never_left_running() {
    for i in 0..300u64 {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let engine = demo_engine(DemoModel::new(DemoPace {
                first_token: Duration::from_millis(1),
                per_word: Duration::from_millis(1),
            }));
            let starter = {
                let engine = engine.clone();
                tokio::spawn(async move {
                    engine.start(StartRun {
                        workflow: steps(1, "demo"),
                        input: "x".into(),
                        run_id: None,
                    })
                })
            };
            // Land the shutdown at a different moment of the start each time.
            // (A spin: tokio's timer counts in milliseconds.)
            let until = std::time::Instant::now() + Duration::from_micros(i % 150);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            engine.shutdown(CancelReason::AppExit).await;
            // Checked at once: a run accepted before the shutdown must have ended by now.
            assert_eq!(engine.live_count(), 0, "a run outlived shutdown");
            let _ = starter.await.unwrap();
        });
    }
}
