//! The control endpoint in one process, over a real Unix socket: what each route does, the
//! watcher's stream (saved events, then live, no gap, no duplicate), and the socket's modes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod hostile;
#[path = "../support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use stepwise_engine::control::{Client, ClientError, Endpoint, Limits};
use stepwise_engine::provider::{DemoModel, DemoPace, Providers};
use stepwise_engine::store::Store;
use stepwise_engine::workflow::templates;
use stepwise_engine::{Engine, EngineConfig, EventKind, RunEvent, RunId, RunSnapshot, StartRun};
use stepwise_testkit::PATIENCE;
use support::*;

/// An engine recording into a history of its own, served at a socket in a private folder.
pub struct Served {
    pub engine: Engine,
    pub store: Arc<Store>,
    pub endpoint: Endpoint,
    pub client: Client,
}

pub fn served(name: &str, pace: DemoPace, limits: Limits) -> Served {
    served_with(name, Providers::demo(DemoModel::new(pace)), limits)
}

pub fn served_with(name: &str, providers: Providers, limits: Limits) -> Served {
    let db = scratch_db(name);
    let store = Arc::new(Store::open(&db).unwrap());
    let engine = Engine::new(EngineConfig {
        providers,
        sink: Some(store.sink()),
        ..EngineConfig::default()
    });
    let folder = db.parent().unwrap().join("rt");
    std::fs::create_dir_all(&folder).unwrap();
    let socket = folder.join("owner.sock");
    let endpoint = Endpoint::open_at(&socket, engine.clone(), Some(&store), None, limits).unwrap();
    let client = Client::new(&socket).unwrap();
    Served {
        engine,
        store,
        endpoint,
        client,
    }
}

pub fn story(engine: &Engine) -> RunId {
    engine
        .start(StartRun {
            workflow: templates::get("long-story").unwrap().workflow,
            input: "a lighthouse".into(),
            run_id: None,
        })
        .unwrap()
}

pub async fn watch_to_end(client: &Client, id: RunId, after: u64) -> Vec<RunEvent> {
    let mut stream = client.events(id, after).await.unwrap();
    let mut events = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(e) = stream.next().await {
            events.push(e.unwrap());
        }
    })
    .await
    .expect("the stream ended in time");
    events
}

fn fold(events: &[RunEvent]) -> RunSnapshot {
    let mut s = RunSnapshot::new(events[0].run_id);
    for e in events {
        s.apply(e);
    }
    s
}

#[tokio::test]
async fn a_watcher_from_the_first_event_gets_every_event_once_whenever_it_joins() {
    let pace = DemoPace {
        first_token: Duration::ZERO,
        per_word: Duration::from_millis(1),
    };
    let s = served("joins", pace, Limits::default());
    // Joining at once, a little later, and after the end.
    for wait_for in [0usize, 40, usize::MAX] {
        let id = story(&s.engine);
        if wait_for == usize::MAX {
            s.engine.wait(id).await.unwrap();
        } else {
            let mut sub = s.engine.subscribe(id).unwrap();
            let mut deltas = 0;
            while deltas < wait_for {
                if let EventKind::TextDelta { .. } = next_event(&mut sub).await.unwrap().kind {
                    deltas += 1;
                }
            }
        }
        let events = watch_to_end(&s.client, id, 0).await;
        assert_eq!(events[0].seq, 1, "from its first event ({wait_for})");
        for pair in events.windows(2) {
            assert_eq!(
                pair[1].first_seq.unwrap_or(pair[1].seq),
                pair[0].seq + 1,
                "no gap, no duplicate ({wait_for})"
            );
        }
        assert!(matches!(
            events.last().unwrap().kind,
            EventKind::RunCompleted { .. }
        ));
        let final_snapshot = s.engine.wait(id).await.unwrap();
        assert_eq!(fold(&events).steps, final_snapshot.steps, "({wait_for})");
    }
}

#[tokio::test]
async fn cancel_review_approval_and_start_do_what_the_engine_does() {
    let s = served("routes", DemoPace::HUMAN, Limits::default());
    // Cancel: true once for a live run, then false; an unknown id is said so.
    let id = story(&s.engine);
    assert!(s.client.cancel(id).await.unwrap());
    assert!(!s.client.cancel(id).await.unwrap());
    let run = s.engine.wait(id).await.unwrap();
    assert_eq!(run.status, stepwise_engine::RunStatus::Cancelled);
    assert!(matches!(
        s.client.cancel(RunId::new_v4()).await,
        Err(ClientError::UnknownRun)
    ));
    assert!(matches!(
        s.client.events(RunId::new_v4(), 0).await,
        Err(ClientError::UnknownRun)
    ));

    // A review answered through the endpoint.
    let review = workflow_of(
        "name = \"R\"\n[[steps]]\nname = \"Draft\"\ninstructions = \"x\"\nreview = true\nmodel = \"demo\"\n",
    );
    let (id, mut sub) = start(&s.engine, review, "a note");
    events_until(&mut sub, |k| matches!(k, EventKind::ReviewRequested { .. })).await;
    let empty = stepwise_engine::control::ReviewRequest {
        path: "draft".into(),
        answer: stepwise_engine::ReviewAnswer::Edit { text: " ".into() },
    };
    let refused = s.client.answer_review(id, &empty).await.unwrap_err();
    assert!(
        matches!(refused, ClientError::Refused { status: 409, .. }),
        "{refused:?}"
    );
    let approve = stepwise_engine::control::ReviewRequest {
        path: "draft".into(),
        answer: stepwise_engine::ReviewAnswer::Approve,
    };
    s.client.answer_review(id, &approve).await.unwrap();
    assert_eq!(
        s.engine.wait(id).await.unwrap().status,
        stepwise_engine::RunStatus::Completed
    );

    // No call waits: nothing was answered.
    let approval = stepwise_engine::control::ApprovalRequest {
        path: "draft".into(),
        call_id: "nope".into(),
        answer: stepwise_engine::ApprovalAnswer::Allow,
    };
    assert!(
        !s.client
            .answer_tool_call(id, &approval)
            .await
            .unwrap()
            .answered
    );

    // This owner starts no runs for others: refused in words.
    let start = stepwise_engine::control::StartRequest {
        workflow: templates::get("long-story").unwrap().workflow,
        input: "x".into(),
        run_id: None,
    };
    let refused = s.client.start(&start).await.unwrap_err();
    assert!(
        matches!(refused, ClientError::Refused { status: 405, .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_owner_that_starts_runs_returns_the_id_at_once() {
    let db = scratch_db("starts");
    let store = Arc::new(Store::open(&db).unwrap());
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::HUMAN)),
        sink: Some(store.sink()),
        ..EngineConfig::default()
    });
    let socket = db.parent().unwrap().join("owner.sock");
    let starting = engine.clone();
    let starter: stepwise_engine::control::Starter = Arc::new(move |req| starting.start(req));
    let _endpoint = Endpoint::open_at(
        &socket,
        engine.clone(),
        Some(&store),
        Some(starter),
        Limits::default(),
    )
    .unwrap();
    let client = Client::new(&socket).unwrap();
    let mut start = stepwise_engine::control::StartRequest {
        workflow: templates::get("long-story").unwrap().workflow,
        input: "a lighthouse".into(),
        run_id: None,
    };
    let id = client.start(&start).await.unwrap();
    assert!(engine.get(id).unwrap().status.is_live());
    let listed = client.runs().await.unwrap();
    assert!(listed.iter().any(|r| r.run_id == id));
    assert!(client.cancel(id).await.unwrap());
    // A bad start is refused with the engine's words.
    start.input = "  ".into();
    let refused = client.start(&start).await.unwrap_err();
    assert!(refused.to_string().contains("input is empty"), "{refused}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_socket_is_for_its_user_only() {
    use std::os::unix::fs::MetadataExt;
    let s = served("modes", DemoPace::HUMAN, Limits::default());
    let mode = std::fs::metadata(s.endpoint.path()).unwrap().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Closing takes the socket away.
    let path: PathBuf = s.endpoint.path().to_path_buf();
    s.endpoint.close(Duration::from_secs(1)).await;
    assert!(!path.exists());
    assert!(matches!(
        s.client.runs().await,
        Err(ClientError::Unreachable { .. })
    ));
}
