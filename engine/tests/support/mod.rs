//! Shared helpers for the engine's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream;
use stepwise_engine::provider::{
    Chunk, ChunkStream, DemoModel, DemoPace, ModelRequest, Provider, ProviderError, Providers,
};
use stepwise_engine::{
    Engine, EngineConfig, ErrorKind, EventKind, ProviderKind, RunEvent, RunId, StartRun,
    Subscription, Workflow, workflow,
};
use stepwise_testkit::PATIENCE;

/// The instant demo model beside `openai:` and `anthropic:` models served by the test server
/// (keys `sk-test` and `sk-ant`; no retries, so a fault shows at once).
pub fn server_providers(server: &stepwise_testkit::TestServer) -> Providers {
    use stepwise_engine::provider::{AnthropicProvider, OpenAiProvider};
    let openai = OpenAiProvider::new(server.openai_base(), Some("sk-test".into()), no_retries());
    let anthropic = AnthropicProvider::new(server.url(), Some("sk-ant".into()), 1024, no_retries());
    Providers::demo(DemoModel::new(DemoPace::INSTANT))
        .with(ProviderKind::OpenAi, Arc::new(openai))
        .with(ProviderKind::Anthropic, Arc::new(anthropic))
}

/// A model turn that writes `text`, then calls the MCP test server's long-running operation
/// (30 s), so that a test can stop it midway.
pub fn long_mcp_call(text: &[&str]) -> stepwise_testkit::Behavior {
    let call = stepwise_testkit::ScriptedCall::new(
        "long",
        "everything__trigger-long-running-operation",
        serde_json::json!({"duration": 30, "steps": 30}),
    );
    stepwise_testkit::Behavior::text(text, 0).with_calls(vec![call], 0)
}

/// An engine whose demo model streams with no delay.
pub fn instant_engine() -> Engine {
    demo_engine(DemoModel::new(DemoPace::INSTANT))
}

pub fn demo_engine(demo: DemoModel) -> Engine {
    Engine::new(EngineConfig {
        providers: Providers::demo(demo),
        default_model: None,
        sink: None,
        ..EngineConfig::default()
    })
}

/// An engine whose `openai:*` models are served by `provider` (a scripted stand-in).
pub fn scripted_engine(provider: Arc<ScriptedProvider>) -> Engine {
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT))
            .with(ProviderKind::OpenAi, provider),
        default_model: None,
        sink: None,
        ..EngineConfig::default()
    })
}

pub fn workflow_of(toml: &str) -> Workflow {
    workflow::parse(toml, None).unwrap()
}

/// A workflow of `n` steps on one model.
pub fn steps(n: usize, model: &str) -> Workflow {
    let mut t = String::from("name = \"Test\"\n");
    for i in 1..=n {
        t.push_str(&format!(
            "[[steps]]\nname = \"Step {i}\"\ninstructions = \"Do part {i}.\"\nmodel = \"{model}\"\n"
        ));
    }
    workflow_of(&t)
}

pub fn start(engine: &Engine, workflow: Workflow, input: &str) -> (RunId, Subscription) {
    engine
        .start_subscribed(StartRun {
            workflow,
            input: input.into(),
            run_id: None,
        })
        .unwrap()
}

/// One single-step run of `model`, to its end.
pub async fn run_one(engine: &Engine, model: &str) -> Vec<RunEvent> {
    let (_, mut sub) = start(engine, steps(1, model), "the question");
    collect(&mut sub).await
}

/// The kind and message of a run that failed (and is otherwise well formed).
pub fn failure(events: &[RunEvent]) -> (ErrorKind, String) {
    match assert_well_formed(events) {
        EventKind::RunFailed { error, message, .. } => (*error, message.clone()),
        other => panic!("expected RunFailed, got {other:?}"),
    }
}

/// The run's next event, or `None` once its stream has ended (after the terminal event).
/// Panics if nothing comes within [`PATIENCE`]: a run that hangs fails the test instead of
/// hanging it.
pub async fn next_event(sub: &mut Subscription) -> Option<RunEvent> {
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("run hung: no event before the deadline")
}

/// Every event until the stream ends (after the terminal event).
pub async fn collect(sub: &mut Subscription) -> Vec<RunEvent> {
    let mut events = Vec::new();
    while let Some(e) = next_event(sub).await {
        events.push(e);
    }
    events
}

/// Checks the protocol's invariants on a whole run's events and returns the terminal one.
pub fn assert_well_formed(events: &[RunEvent]) -> &EventKind {
    assert!(!events.is_empty());
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "seq must be 1, 2, 3 … with no gap");
    }
    assert!(matches!(events[0].kind, EventKind::RunStarted { .. }));
    let terminals = events.iter().filter(|e| e.kind.is_terminal()).count();
    assert_eq!(terminals, 1, "exactly one terminal event");
    let last = &events.last().unwrap().kind;
    assert!(last.is_terminal(), "the terminal event is the last");
    last
}

/// The text of every `TextDelta` of one step, concatenated.
pub fn deltas_of(events: &[RunEvent], path: &str) -> String {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TextDelta { path: p, text } if &**p == path => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The path of step `i` (0-based) of a workflow made by [`steps`]: `step-1`, `step-2` …
pub fn step_path(i: usize) -> String {
    format!("step-{}", i + 1)
}

/// The steps a `RunCancelled` says were running, as (path, text), innermost first.
pub fn cancelled_during(kind: &EventKind) -> Vec<(String, String)> {
    match kind {
        EventKind::RunCancelled { running, .. } => running
            .iter()
            .rev()
            .map(|p| (p.path.clone(), p.text.clone()))
            .collect(),
        other => panic!("expected RunCancelled, got {other:?}"),
    }
}

/// What a scripted stream does.
#[derive(Clone, Debug)]
pub struct Script {
    pub pieces: Vec<String>,
    pub first_delay: Duration,
    pub delay: Duration,
    /// After this many pieces, fail with this error instead of going on.
    pub fail_after: Option<(usize, ErrorKind)>,
}

impl Script {
    pub fn words(n: usize, delay: Duration) -> Self {
        Script {
            pieces: (0..n).map(|i| format!("w{i} ")).collect(),
            first_delay: delay,
            delay,
            fail_after: None,
        }
    }
}

/// A provider that streams a script, records every request, and notes when its streams are
/// dropped (that is what closes a real provider's connection).
pub struct ScriptedProvider {
    pub script: Script,
    pub requests: Mutex<Vec<ModelRequest>>,
    pub dropped: Arc<AtomicUsize>,
}

impl ScriptedProvider {
    pub fn new(script: Script) -> Arc<Self> {
        Arc::new(ScriptedProvider {
            script,
            requests: Mutex::new(Vec::new()),
            dropped: Arc::default(),
        })
    }
}

struct DropFlag(Arc<AtomicUsize>, Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.1.store(true, Ordering::SeqCst);
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Provider for ScriptedProvider {
    fn stream(&self, request: ModelRequest) -> ChunkStream {
        self.requests.lock().unwrap().push(request);
        let script = self.script.clone();
        let flag = DropFlag(self.dropped.clone(), Arc::default());
        Box::pin(stream::unfold(
            (0usize, script, flag),
            |(i, script, flag)| async move {
                if let Some((n, kind)) = script.fail_after
                    && i == n
                {
                    let failure = Err(ProviderError::new(kind, "scripted failure"));
                    return Some((failure, (usize::MAX, script, flag)));
                }
                let piece = script.pieces.get(i)?.clone();
                let delay = if i == 0 {
                    script.first_delay
                } else {
                    script.delay
                };
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Some((Ok(Chunk::Text(piece)), (i + 1, script, flag)))
            },
        ))
    }
}

/// A history database path of its own for the test `name`, in an empty folder under target/tmp
/// (replaced on every run, so tests leave nothing to pile up in /tmp).
#[track_caller]
pub fn scratch_db(name: &str) -> PathBuf {
    // The calling file's name keeps two files' tests (one binary) apart.
    let file = std::path::Path::new(std::panic::Location::caller().file())
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("test")
        .to_string();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{file}-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("history.db")
}

/// Reads the run's events up to and including the first that `stop` accepts.
pub async fn events_until(
    sub: &mut Subscription,
    stop: impl Fn(&EventKind) -> bool,
) -> Vec<RunEvent> {
    let mut events = Vec::new();
    while let Some(e) = next_event(sub).await {
        let done = stop(&e.kind);
        events.push(e);
        if done {
            return events;
        }
    }
    panic!("the run ended first: {:?}", events.last())
}

/// How the call `call_id` ended: whether it worked, and its preview.
pub fn tool_outcome(events: &[RunEvent], call_id: &str) -> (bool, String) {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolCallFinished {
                call_id: id,
                ok,
                preview,
                ..
            } if id == call_id => Some((*ok, preview.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ToolCallFinished for {call_id}"))
}

/// HTTP options for tests that count requests: no retries of the HTTP layer's own.
pub fn no_retries() -> stepwise_engine::provider::HttpOptions {
    stepwise_engine::provider::HttpOptions {
        idle_timeout: Duration::from_secs(30),
        retry: stepwise_engine::provider::RetryPolicy {
            max_retries: 0,
            base_delay: Duration::from_millis(10),
            max_wait: Duration::from_secs(1),
        },
    }
}

/// The events with `from` (a server's address, whose port changes from run to run) written as
/// `to`, so that a recorded log stays the same.
pub fn with_address(events: &[RunEvent], from: &str, to: &str) -> Vec<RunEvent> {
    events
        .iter()
        .map(|e| {
            let line = serde_json::to_string(e).unwrap();
            serde_json::from_str(&line.replace(from, to)).unwrap()
        })
        .collect()
}

/// The logging shim around the reference MCP server (`tests/mcp/`, installed by the test
/// command).
pub fn shim() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/mcp/logged-server.mjs");
    assert!(
        path.with_file_name("node_modules").is_dir(),
        "the MCP test server is not installed: run `npm ci` in tests/mcp (scripts/test.sh does)"
    );
    path
}

#[allow(unused_imports)] // Not every test file that includes this module uses it.
pub use stepwise_testkit::{processes_tagged, server_runtime};

/// The lines a child process prints on its (piped) standard output, as they come.
pub fn stdout_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    rx
}
