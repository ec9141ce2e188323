//! The real Stepwise shell for the UI's browser tests (`ui/tests/browser/`): the app on Tauri's
//! mock runtime — real commands, real engine, real events — served to a page over a WebSocket.
//!
//! ```text
//! node test ──POST /apps {options}──▶ a fresh app in a fresh folder ──▶ {"id", "servers"}
//! page (backend-ipc.ts) ══ ws://…/apps/ID ══ {"id","cmd","args"} ▶ command ▶ {"id","ok"|"err"}
//!                                          ◀ {"event":"run-update","payload"} (every shell event)
//! ```
//!
//! `ui_backend [FOLDER]`: prints the port it listens on (127.0.0.1) as its first line and serves
//! until SIGTERM or until its standard input closes. Making a new app quits the ones before it
//! (their runs cancelled and saved, their folders removed), so a test never pays for the one
//! before. A page that reloads connects to the same app again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The app tests' mock shell: the app and its commands, made one way for both.
#[path = "../../tests/support/mock_shell.rs"]
mod mock_shell;
mod options;
mod prepare;
mod session;
mod socket;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{any, post};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use options::AppOptions;
use prepare::{Prepared, prepare};

/// The apps, by id: in practice the latest one only.
#[derive(Default)]
struct Apps {
    by_id: Mutex<HashMap<String, Arc<Prepared>>>,
    made: std::sync::atomic::AtomicUsize,
    /// Every app's folder is made under here.
    root: PathBuf,
}

#[tokio::main]
async fn main() {
    // Its apps' folders go under the folder given (the harness gives one under target/), else
    // under the system's temporary folder; either way they are removed as the apps quit.
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("stepwise-ui-backend-{}", std::process::id()));
    let apps = Arc::new(Apps {
        root: root.clone(),
        ..Apps::default()
    });
    let router = Router::new()
        .route("/apps", post(new_app))
        .route("/apps/{id}", any(socket::connect))
        // A test's options may carry a long scripted answer (the frames bench: 100,000 tokens).
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(apps.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap().port());
    axum::serve(listener, router)
        .with_graceful_shutdown(quit_asked())
        .await
        .unwrap();
    retire(&apps).await;
    let _ = std::fs::remove_dir_all(root);
}

/// Resolves when the harness is done: SIGTERM, Ctrl-C, or its end of our standard input closed
/// (it ended without a word, so nothing is left running).
async fn quit_asked() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = stdin_closed => {}
    }
}

/// `POST /apps` with [`AppOptions`]: quits the apps there were and makes a new one.
async fn new_app(
    State(apps): State<Arc<Apps>>,
    Json(options): Json<AppOptions>,
) -> Result<Json<Value>, (StatusCode, String)> {
    retire(&apps).await;
    let n = apps.made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let id = format!("app{n}");
    let folder = apps.root.join(&id);
    let prepared = prepare(&folder, options)
        .await
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    let servers: HashMap<&String, String> = prepared
        .servers
        .iter()
        .map(|(name, s)| (name, s.url()))
        .collect();
    let answer = json!({ "id": id, "servers": servers, "root": folder });
    apps.by_id.lock().await.insert(id, Arc::new(prepared));
    Ok(Json(answer))
}

/// Quits every app (each as the desktop app quits) and removes its folder.
async fn retire(apps: &Apps) {
    let old: Vec<Arc<Prepared>> = apps.by_id.lock().await.drain().map(|(_, p)| p).collect();
    for p in old {
        // The history can save again before the app quits.
        p.lock.lock().unwrap().take();
        // A page still connected holds a reference only until its socket closes.
        match Arc::try_unwrap(p) {
            Ok(p) => p.session.close().await,
            Err(p) => {
                stepwise_app::lifecycle::shutdown(
                    &p.session.state(),
                    std::time::Duration::from_secs(2),
                )
                .await;
            }
        }
    }
}

/// The app `id`, while it is the current one.
pub(crate) async fn find_app(apps: &Apps, id: &str) -> Option<Arc<Prepared>> {
    apps.by_id.lock().await.get(id).cloned()
}
