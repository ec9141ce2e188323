//! One app for one browser test: the real shell on Tauri's mock runtime (as `tests/support`
//! builds it) over a fresh data folder, its commands answered as the webview's would be, its
//! events handed to every page connected to it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use stepwise_app::bridge::{DEFAULT_WINDOW, Emit, RunUpdate};
use stepwise_app::paths::AppPaths;
use stepwise_app::secrets::Secrets;
use stepwise_app::state::{AppState, StateOptions};
use stepwise_engine::provider::DemoPace;
use tauri::test::MockRuntime;
use tauri::{App, Listener, Manager, WebviewWindow, WebviewWindowBuilder};

use tauri_specta::Event;
use tokio::sync::{mpsc, oneshot};

use crate::options::Pace;

/// The events the shell sends the window (`src-tauri/src/bindings.rs`).
const EVENTS: [&str; 2] = ["run-update", "open-run"];

/// A command's answer: its value, or its error, both as the UI parses them.
pub type Answer = Result<Value, Value>;

pub struct Session {
    /// Held only to keep the app alive (a mutex: an `App` may not be shared between threads).
    app: Mutex<App<MockRuntime>>,
    state: Arc<AppState>,
    window: WebviewWindow<MockRuntime>,
    /// Where each event goes: one sender per connected page (and per seeding wait).
    listeners: Arc<Mutex<Vec<mpsc::UnboundedSender<String>>>>,
    pub root: PathBuf,
}

impl Session {
    /// A new app over `root` (its settings file already written, if any).
    pub fn new(root: PathBuf, pace: Pace) -> Session {
        let app = crate::mock_shell::app();
        let listeners: Arc<Mutex<Vec<mpsc::UnboundedSender<String>>>> = Arc::default();
        for name in EVENTS {
            let to = listeners.clone();
            app.listen_any(name, move |e| {
                // The page's message: the event's name and its payload as the shell sent it.
                let msg = format!(r#"{{"event":"{name}","payload":{}}}"#, e.payload());
                to.lock().unwrap().retain(|tx| tx.send(msg.clone()).is_ok());
            });
        }
        let handle = app.handle().clone();
        let emit: Emit = Arc::new(move |u: RunUpdate| {
            u.emit(&handle).unwrap();
        });
        let paths = AppPaths::under(&root);
        let secrets = Secrets::file_only(paths.secrets_file());
        let demo_pace = DemoPace {
            first_token: Duration::from_millis(pace.first_token_ms),
            per_word: Duration::from_millis(pace.per_word_ms),
        };
        let state = Arc::new(AppState::new(
            paths,
            emit,
            StateOptions {
                demo_pace,
                secrets,
                window: DEFAULT_WINDOW,
                desk: Arc::new(stepwise_app::attention::Quiet),
            },
        ));
        app.manage(state.clone());
        let window = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        Session {
            app: Mutex::new(app),
            state,
            window,
            listeners,
            root,
        }
    }

    /// Every event from now on, as the page's messages.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listeners.lock().unwrap().push(tx);
        rx
    }

    /// Sends a command the way the webview does; the answer comes on the returned channel
    /// when the command has one (a slow command does not hold up the others).
    pub fn invoke(&self, cmd: &str, args: Value) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        let request = crate::mock_shell::request(cmd, args);
        let webview: &tauri::Webview<MockRuntime> = self.window.as_ref();
        webview.clone().on_message(
            request,
            Box::new(move |_, _, response, _, _| {
                let answer = match response {
                    tauri::ipc::InvokeResponse::Ok(body) => body
                        .deserialize::<Value>()
                        .map_err(|e| Value::String(e.to_string())),
                    tauri::ipc::InvokeResponse::Err(e) => Err(e.0),
                };
                let _ = tx.send(answer);
            }),
        );
        rx
    }

    /// Invokes and waits for the answer.
    pub async fn call(&self, cmd: &str, args: Value) -> Answer {
        self.invoke(cmd, args)
            .await
            .unwrap_or_else(|_| Err(Value::String(format!("{cmd} gave no answer"))))
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Quits as the app does (live runs cancelled and saved), then lets the app go.
    pub async fn close(self) {
        let state = self.state();
        stepwise_app::lifecycle::shutdown(&state, Duration::from_secs(2)).await;
        self.listeners.lock().unwrap().clear();
        drop(self.window);
        drop(self.app);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
