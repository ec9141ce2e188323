//! A Stepwise app on Tauri's mock runtime: real commands, real events, no display.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use stepwise_app::bridge::{Emit, RunUpdate};
use stepwise_app::paths::AppPaths;
use stepwise_app::secrets::Secrets;
use stepwise_app::state::{AppState, StateOptions};
use stepwise_engine::provider::DemoPace;
use stepwise_engine::{EventKind, RunEvent};
use stepwise_testkit::{PATIENCE, eventually};
use tauri::test::{MockRuntime, get_ipc_response};
use tauri::{App, Listener, Manager, WebviewWindow, WebviewWindowBuilder};
use tauri_specta::Event;

mod mock_shell;
use mock_shell::request;

pub struct TestApp {
    pub app: App<MockRuntime>,
    pub window: WebviewWindow<MockRuntime>,
    /// Every `run-update` the webview was sent, in order, as JSON (what the UI parses).
    pub updates: Arc<Mutex<Vec<Value>>>,
    pub root: PathBuf,
}

/// A fresh folder for one test, named after its file and `name`.
#[track_caller]
pub fn temp_root(name: &str) -> PathBuf {
    // Under target/tmp, replaced on every run: tests leave nothing to pile up in /tmp. The
    // calling file's name keeps two files' tests (one binary) apart.
    let file = std::path::Path::new(std::panic::Location::caller().file())
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("test")
        .to_string();
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}-{file}-{name}", env!("CARGO_CRATE_NAME")));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// An app whose demo model streams at `pace`, with the bridge's coalescing `window`.
#[track_caller]
pub fn app(name: &str, pace: DemoPace, window: Duration) -> TestApp {
    app_in(
        temp_root(name),
        pace,
        window,
        Arc::new(stepwise_app::attention::Quiet),
    )
}

/// An app over the data folder `root` (kept as it is: a second app over the same folder is the
/// app started again), whose notifications and title go to `desk`.
pub fn app_in(
    root: PathBuf,
    pace: DemoPace,
    window: Duration,
    desk: Arc<dyn stepwise_app::attention::Desk>,
) -> TestApp {
    let app = mock_shell::app();
    let updates: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = updates.clone();
    app.listen_any("run-update", move |e| {
        seen.lock()
            .unwrap()
            .push(serde_json::from_str(e.payload()).unwrap())
    });
    let handle = app.handle().clone();
    let emit: Emit = Arc::new(move |u: RunUpdate| {
        u.emit(&handle).unwrap();
    });
    let paths = AppPaths::under(&root);
    let secrets = Secrets::file_only(paths.secrets_file());
    let state = Arc::new(AppState::new(
        paths,
        emit,
        StateOptions {
            demo_pace: pace,
            secrets,
            window,
            desk,
        },
    ));
    app.manage(state.clone());
    // As the app does at start: its runs are served, other processes' runs followed.
    stepwise_app::sharing::share(&state);
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    TestApp {
        app,
        window,
        updates,
        root,
    }
}

impl TestApp {
    /// Invokes a command as the webview would; Ok is the command's value, Err its error.
    pub fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let res = get_ipc_response(&self.window, request(cmd, args));
        res.map(|b| b.deserialize::<Value>().unwrap())
    }

    /// Sends a command the way the webview does and returns at once, as the webview's own
    /// thread would; the answer arrives on the channel.
    pub fn send(&self, cmd: &str, args: Value) -> std::sync::mpsc::Receiver<Result<Value, Value>> {
        let (tx, rx) = std::sync::mpsc::channel();
        let webview: &tauri::Webview<MockRuntime> = self.window.as_ref();
        webview.clone().on_message(
            request(cmd, args),
            Box::new(move |_, _, response, _, _| {
                let answer = match response {
                    tauri::ipc::InvokeResponse::Ok(b) => Ok(b.deserialize::<Value>().unwrap()),
                    tauri::ipc::InvokeResponse::Err(e) => Err(e.0),
                };
                let _ = tx.send(answer);
            }),
        );
        rx
    }

    pub fn ok<T: DeserializeOwned>(&self, cmd: &str, args: Value) -> T {
        let v = self
            .call(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"));
        serde_json::from_value(v).unwrap()
    }

    pub fn state(&self) -> tauri::State<'_, Arc<AppState>> {
        self.app.state::<Arc<AppState>>()
    }

    /// Updates of one run, parsed.
    pub fn events_of(&self, run_id: &str) -> Vec<RunEvent> {
        self.updates
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["run_id"] == run_id)
            .map(|v| serde_json::from_value(v.clone()).unwrap())
            .collect()
    }

    /// Waits until the run's terminal update has been sent, and returns all its updates.
    pub fn wait_end(&self, run_id: &str) -> Vec<RunEvent> {
        eventually(PATIENCE, &format!("run {run_id} to end"), || {
            let evs = self.events_of(run_id);
            evs.last()
                .is_some_and(|e| e.kind.is_terminal())
                .then_some(evs)
        })
    }

    /// Waits until one of the run's updates is `what`.
    pub fn wait_for(&self, run_id: &str, what: &str, is: impl Fn(&EventKind) -> bool) {
        eventually(PATIENCE, &format!("{what} in run {run_id}"), || {
            self.events_of(run_id).iter().any(|e| is(&e.kind))
        })
    }

    /// The text the window was shown of a run, every delta in order.
    pub fn shown_text(&self, run_id: &str) -> String {
        self.events_of(run_id)
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::TextDelta { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// Approves the review of the step at `path`, as the review panel's button does.
    pub fn approve(&self, run_id: &str, path: &str) {
        self.ok::<()>(
            "answer_review",
            json!({ "runId": run_id, "path": path, "answer": { "action": "approve" } }),
        );
    }

    /// Waits until the history has written everything handed to it.
    pub fn flush_history(&self) {
        self.state()
            .store
            .as_ref()
            .unwrap()
            .flush(PATIENCE)
            .unwrap();
    }

    /// Starts a template by id with `input`.
    pub fn start_template(&self, template: &str, input: &str) -> String {
        self.ok("start_run", start_args(template, input))
    }
}

/// The `stepwise` command line, built beside the app's tests by `cargo test --workspace`.
pub fn stepwise_cli() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let cli = exe.parent().unwrap().parent().unwrap().join("stepwise");
    assert!(
        cli.is_file(),
        "{} is not built: run the tests with `cargo test --workspace`",
        cli.display()
    );
    cli
}

/// Draft (reviewed) → Email, on the demo model, as the UI sends a workflow.
pub fn reviewed() -> Value {
    let wf = stepwise_engine::workflow::parse(
        "name = \"Reviewed\"\n[[steps]]\nname = \"Draft\"\ninstructions = \"Write a short summary.\"\n\
         review = true\n[[steps]]\nname = \"Email\"\ninstructions = \"Write an email.\"\n",
        None,
    )
    .unwrap();
    serde_json::to_value(wf).unwrap()
}

/// The arguments of `start_run` for a template, as the UI sends them.
pub fn start_args(template: &str, input: &str) -> Value {
    let wf = stepwise_engine::workflow::templates::get(template)
        .unwrap()
        .workflow;
    json!({ "workflow": wf, "input": input, "runId": null })
}

pub const INSTANT: DemoPace = DemoPace::INSTANT;
pub const PACED: DemoPace = DemoPace {
    first_token: Duration::ZERO,
    per_word: Duration::from_millis(2),
};

#[allow(unused_imports)] // Not every test file that includes this module uses it.
pub use stepwise_testkit::server_runtime;
