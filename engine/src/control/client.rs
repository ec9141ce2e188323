//! Talking to another process's endpoint: what `stepwise cancel`, `watch`, `answer`, `runs` and
//! `run --background` use, and the window for runs it does not own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::wire::{
    ApprovalRequest, Approved, Cancelled, Problem, ReviewRequest, StartRequest, Started,
};
use crate::event::{RunEvent, RunId};
use crate::provider::http::sse::{SseEvent, SseReader};
use crate::snapshot::{RunSnapshot, RunSummary};

/// A request other than following events gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest event a watcher takes: the history keeps a step's streamed text as one merged
/// delta, which may be as long as the longest step output Settings allow.
const MAX_EVENT_BYTES: usize = 256 * 1024 * 1024;

/// Why a request to an owner did not get its answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nobody answers at the endpoint: the owner has ended (its runs are now `interrupted`, or
    /// ended before it did).
    #[error("the Stepwise process that ran this run is gone ({endpoint}: {message})")]
    Unreachable { endpoint: String, message: String },
    #[error("that process runs no run with this id")]
    UnknownRun,
    /// The owner refused: its words.
    #[error("{message}")]
    Refused { status: u16, message: String },
    /// The owner answered something this version cannot read.
    #[error("the answer from {endpoint} could not be read: {message}")]
    Broken { endpoint: String, message: String },
}

/// A client of one owner's endpoint.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: PathBuf,
    /// `http://stepwise` over a socket (the host is not used); a worker's `http://HOST:PORT`.
    base: String,
}

impl Client {
    /// An owner on this computer, at its socket.
    pub fn new(endpoint: &Path) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .unix_socket(endpoint)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| ClientError::Broken {
                endpoint: endpoint.display().to_string(),
                message: e.to_string(),
            })?;
        Ok(Client {
            http,
            endpoint: endpoint.to_path_buf(),
            base: "http://stepwise".into(),
        })
    }

    /// A cluster worker's endpoint on TCP (`http://HOST:PORT`, or `https://…` trusting the
    /// system's authorities and `authority`), with the cluster's token.
    pub fn tcp(
        address: &str,
        token: &str,
        authority: Option<&reqwest::Certificate>,
    ) -> Result<Client, ClientError> {
        let broken = |message: String| ClientError::Broken {
            endpoint: address.to_string(),
            message,
        };
        let mut headers = reqwest::header::HeaderMap::new();
        let mut bearer = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| broken("the cluster's token is not a valid header value".into()))?;
        bearer.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, bearer);
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true);
        // With an authority the workers' endpoints are TLS: the token never goes in clear to
        // an `http://` address a heartbeat names.
        if let Some(ca) = authority {
            builder = builder.add_root_certificate(ca.clone()).https_only(true);
        }
        let http = builder.build().map_err(|e| broken(e.to_string()))?;
        Ok(Client {
            http,
            endpoint: PathBuf::from(address),
            base: address.trim_end_matches('/').to_string(),
        })
    }

    pub fn endpoint(&self) -> &Path {
        &self.endpoint
    }

    /// The runs the owner has (live ones and those that ended lately), oldest first.
    pub async fn runs(&self) -> Result<Vec<RunSummary>, ClientError> {
        self.call(self.http.get(self.url("/v2/runs"))).await
    }

    /// One run the owner holds, as it stands now.
    pub async fn run(&self, id: RunId) -> Result<RunSnapshot, ClientError> {
        self.call(self.http.get(self.url(&format!("/v2/runs/{id}"))))
            .await
    }

    /// Cancels a run: true only when this stopped a live run (as `Engine::cancel`).
    pub async fn cancel(&self, id: RunId) -> Result<bool, ClientError> {
        let path = format!("/v2/runs/{id}/cancel");
        let c: Cancelled = self.call(self.http.post(self.url(&path))).await?;
        Ok(c.cancelled)
    }

    pub async fn answer_review(&self, id: RunId, req: &ReviewRequest) -> Result<(), ClientError> {
        let path = format!("/v2/runs/{id}/review");
        let response = self.send(self.http.post(self.url(&path)).json(req)).await?;
        self.refusal(response).await.map(drop)
    }

    /// Answers a tool call that waits: whether one was waiting for it, and what "Allow always"
    /// allows.
    pub async fn answer_tool_call(
        &self,
        id: RunId,
        req: &ApprovalRequest,
    ) -> Result<Approved, ClientError> {
        let path = format!("/v2/runs/{id}/approval");
        self.call(self.http.post(self.url(&path)).json(req)).await
    }

    /// Starts a run in the owner; returns its id at once.
    pub async fn start(&self, req: &StartRequest) -> Result<RunId, ClientError> {
        let s: Started = self
            .call(self.http.post(self.url("/v2/runs")).json(req))
            .await?;
        Ok(s.run_id)
    }

    /// Follows a run's events after `after` (0: from its first) until its terminal event.
    pub async fn events(&self, id: RunId, after: u64) -> Result<EventStream, ClientError> {
        let path = format!("/v2/runs/{id}/events?after={after}");
        let response = self
            .http
            .get(self.url(&path))
            .send()
            .await
            .map_err(|e| self.gone(e))?;
        let response = self.refusal(response).await?;
        Ok(EventStream {
            response,
            reader: SseReader::with_limit(MAX_EVENT_BYTES),
            ready: std::collections::VecDeque::new(),
            endpoint: self.endpoint.display().to_string(),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = self.send(req).await?;
        let response = self.refusal(response).await?;
        response.json().await.map_err(|e| self.broken(e))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        req.timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.gone(e))
    }

    /// The response if it is a success; its `Problem` as an error otherwise.
    async fn refusal(&self, response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ClientError::UnknownRun);
        }
        let message = match response.json::<Problem>().await {
            Ok(p) => p.error,
            Err(_) => status.to_string(),
        };
        Err(ClientError::Refused {
            status: status.as_u16(),
            message,
        })
    }

    fn gone(&self, e: reqwest::Error) -> ClientError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message = s.to_string();
            source = s.source();
        }
        ClientError::Unreachable {
            endpoint: self.endpoint.display().to_string(),
            message,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn broken(&self, e: impl std::fmt::Display) -> ClientError {
        ClientError::Broken {
            endpoint: self.endpoint.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// A run's events as they come from its owner.
pub struct EventStream {
    response: reqwest::Response,
    reader: SseReader,
    ready: std::collections::VecDeque<SseEvent>,
    endpoint: String,
}

impl EventStream {
    /// The next event; `None` when the stream ends — after the terminal event, or early if the
    /// owner went away or dropped this watcher for falling behind (the caller can tell by
    /// whether the last event was terminal, and reconnect from its seq).
    pub async fn next(&mut self) -> Option<Result<RunEvent, ClientError>> {
        loop {
            if let Some(sse) = self.ready.pop_front() {
                return Some(
                    serde_json::from_str(&sse.data).map_err(|e| ClientError::Broken {
                        endpoint: self.endpoint.clone(),
                        message: e.to_string(),
                    }),
                );
            }
            let bytes = match self.response.chunk().await {
                Ok(Some(bytes)) => bytes,
                Ok(None) | Err(_) => return None,
            };
            let mut out = Vec::new();
            if self.reader.feed(&bytes, &mut out).is_err() {
                return Some(Err(ClientError::Broken {
                    endpoint: self.endpoint.clone(),
                    message: "the event stream is not valid".into(),
                }));
            }
            self.ready.extend(out);
        }
    }
}
