//! What the endpoint answers (protocol v2). Every route does exactly what the same call on the
//! owner's [`Engine`] does; nothing here decides anything about a run.

use std::sync::{Arc, Weak};

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::events::{self, DropConnection};
use super::wire::{
    ApprovalRequest, Approved, Cancelled, Problem, ReviewRequest, StartRequest, Started,
};
use crate::engine::{Engine, StartError, StartRun};
use crate::event::{CancelReason, RunId};
use crate::run::ReviewError;
use crate::snapshot::{RunSnapshot, RunSummary};
use crate::store::Store;

/// How an owner starts a run asked for through its endpoint (the app starts it as its window
/// would, so the window shows it; a `stepwise` process with [`Engine::start`]).
pub type Starter = Arc<dyn Fn(StartRun) -> Result<RunId, StartError> + Send + Sync>;

/// What every route reaches.
#[derive(Clone)]
pub(super) struct Owner {
    pub engine: Engine,
    /// Weak: the endpoint must not keep the history open past its owner.
    pub history: Weak<Store>,
    pub starter: Option<Starter>,
    pub max_event_backlog: usize,
}

pub(super) fn router(owner: Owner, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v2/runs", get(list).post(start))
        .route("/v2/runs/{id}", get(snapshot))
        .route("/v2/runs/{id}/events", get(follow))
        .route("/v2/runs/{id}/cancel", post(cancel))
        .route("/v2/runs/{id}/review", post(review))
        .route("/v2/runs/{id}/approval", post(approval))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(owner)
}

/// Every request must carry `Authorization: Bearer <token>` (a cluster worker's endpoint on TCP,
/// §13); one that does not is refused with 401 before any route sees it.
pub(super) fn with_token(routes: Router, token: String) -> Router {
    let token: Arc<str> = token.into();
    routes.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let token = token.clone();
            async move {
                let given = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                if given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
                    next.run(req).await
                } else {
                    let body = Problem {
                        error: "this worker's endpoint needs the cluster's token".into(),
                    };
                    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
                }
            }
        },
    ))
}

/// Compares two secrets in a time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Why a request was refused; the body is a [`Problem`].
#[derive(Debug, thiserror::Error)]
pub(super) enum Refusal {
    #[error("this process runs no run with that id")]
    UnknownRun,
    #[error("that is not a run id")]
    NotAnId,
    #[error("{0}")]
    Review(#[from] ReviewError),
    #[error("{0}")]
    Start(#[from] StartError),
    #[error("this Stepwise process does not start runs for others")]
    StartsNone,
    #[error("{0}")]
    History(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match &self {
            Refusal::UnknownRun => StatusCode::NOT_FOUND,
            Refusal::NotAnId => StatusCode::BAD_REQUEST,
            Refusal::Review(_) => StatusCode::CONFLICT,
            Refusal::Start(StartError::ShuttingDown) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Start(StartError::RunExists) => StatusCode::CONFLICT,
            Refusal::Start(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::StartsNone => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::History(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let body = Problem {
            error: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

fn run_id(text: &str) -> Result<RunId, Refusal> {
    text.parse().map_err(|_| Refusal::NotAnId)
}

/// The runs this process owns (live ones and those that ended lately), oldest first.
async fn list(State(o): State<Owner>) -> Json<Vec<RunSummary>> {
    Json(o.engine.list())
}

/// One run this process holds, as it stands (a follower that joins late starts from it and
/// follows the events after its `last_seq`).
async fn snapshot(
    State(o): State<Owner>,
    Path(id): Path<String>,
) -> Result<Json<RunSnapshot>, Refusal> {
    let id = run_id(&id)?;
    o.engine.get(id).map(Json).ok_or(Refusal::UnknownRun)
}

async fn cancel(
    State(o): State<Owner>,
    Path(id): Path<String>,
) -> Result<Json<Cancelled>, Refusal> {
    let id = run_id(&id)?;
    if !o.engine.holds(id) {
        return Err(Refusal::UnknownRun);
    }
    let cancelled = o.engine.cancel(id, CancelReason::User);
    Ok(Json(Cancelled { cancelled }))
}

async fn review(
    State(o): State<Owner>,
    Path(id): Path<String>,
    Json(req): Json<ReviewRequest>,
) -> Result<StatusCode, Refusal> {
    let id = run_id(&id)?;
    o.engine.answer_review(id, &req.path, req.answer)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn approval(
    State(o): State<Owner>,
    Path(id): Path<String>,
    Json(req): Json<ApprovalRequest>,
) -> Result<Json<Approved>, Refusal> {
    let id = run_id(&id)?;
    let grant = o
        .engine
        .answer_tool_call(id, &req.path, &req.call_id, req.answer);
    Ok(Json(Approved {
        answered: grant.is_some(),
        grant,
    }))
}

async fn start(
    State(o): State<Owner>,
    Json(req): Json<StartRequest>,
) -> Result<(StatusCode, Json<Started>), Refusal> {
    let starter = o.starter.as_ref().ok_or(Refusal::StartsNone)?;
    let run_id = starter(StartRun {
        workflow: req.workflow,
        input: req.input,
        run_id: req.run_id,
    })?;
    Ok((StatusCode::CREATED, Json(Started { run_id })))
}

#[derive(Deserialize)]
struct From {
    /// Events after this sequence number (default: from the first).
    after: Option<u64>,
}

/// The run's events as server-sent events: `id:` is the event's seq, `data:` its JSON. The
/// stream ends after the terminal event. `Last-Event-ID` resumes as `after` does.
async fn follow(
    State(o): State<Owner>,
    Path(id): Path<String>,
    Query(from): Query<From>,
    headers: HeaderMap,
    axum::Extension(drop_connection): axum::Extension<DropConnection>,
) -> Result<Response, Refusal> {
    let id = run_id(&id)?;
    let after = from
        .after
        .or_else(|| {
            headers
                .get("last-event-id")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    let subscription = o.engine.subscribe(id).ok_or(Refusal::UnknownRun)?;
    let (saved, subscription) = events::saved_then_live(o.history, id, after, subscription)
        .await
        .map_err(Refusal::History)?;
    let body = events::body(saved, subscription, o.max_event_backlog, drop_connection.0);
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}
