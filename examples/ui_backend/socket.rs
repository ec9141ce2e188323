//! One page's connection to its app: commands in, answers and events out, all on one
//! WebSocket, in the order the app produced them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::Apps;
use crate::prepare::Prepared;

/// A command from the page, as `invoke` was called.
#[derive(Deserialize)]
struct Call {
    id: u64,
    cmd: String,
    #[serde(default)]
    args: Value,
}

/// `GET /apps/ID` upgraded to a WebSocket.
pub async fn connect(
    ws: WebSocketUpgrade,
    Path(id): Path<String>,
    State(apps): State<Arc<Apps>>,
) -> Response {
    match crate::find_app(&apps, &id).await {
        Some(app) => ws.on_upgrade(move |socket| serve(socket, app)),
        None => (StatusCode::NOT_FOUND, format!("no app {id}")).into_response(),
    }
}

async fn serve(socket: WebSocket, app: Arc<Prepared>) {
    let (mut to_page, mut from_page) = socket.split();
    // Answers and events share one queue, so the page gets them in the order they came.
    let (out, mut queue) = mpsc::unbounded_channel::<String>();
    let mut events = app.session.subscribe();
    let forward_events = {
        let out = out.clone();
        tokio::spawn(async move {
            while let Some(msg) = events.recv().await {
                if out.send(msg).is_err() {
                    break;
                }
            }
        })
    };
    let writer = tokio::spawn(async move {
        while let Some(msg) = queue.recv().await {
            if to_page.send(Message::text(msg)).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(msg)) = from_page.next().await {
        let Message::Text(text) = msg else { continue };
        let Ok(call) = serde_json::from_str::<Call>(text.as_str()) else {
            continue;
        };
        match app.slow_commands.get(&call.cmd).copied() {
            // Only this command waits; the others go on meanwhile.
            Some(ms) => {
                let app = app.clone();
                let out = out.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let answer = app.session.invoke(&call.cmd, call.args);
                    reply(call.id, answer, out).await;
                });
            }
            // Sent now, in the order the page sent them; answered whenever each is done.
            None => {
                let answer = app.session.invoke(&call.cmd, call.args);
                tokio::spawn(reply(call.id, answer, out.clone()));
            }
        }
    }
    // The page has gone (closed, or reloading: it connects again).
    forward_events.abort();
    writer.abort();
}

async fn reply(
    id: u64,
    answer: tokio::sync::oneshot::Receiver<crate::session::Answer>,
    out: mpsc::UnboundedSender<String>,
) {
    let msg = match answer.await {
        Ok(Ok(value)) => json!({ "id": id, "ok": value }),
        Ok(Err(error)) => json!({ "id": id, "err": error }),
        Err(_) => json!({ "id": id, "err": "the command gave no answer" }),
    };
    let _ = out.send(msg.to_string());
}
