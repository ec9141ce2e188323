//! A client of the cluster for the app and the `stepwise` command line: Temporal's HTTP API
//! (the frontend's JSON mapping of its gRPC service, on by default since Temporal 1.23), spoken
//! with the reqwest the engine already has — so nothing of Temporal's SDK is built into the app
//! or added to its package. Only `stepwise-worker` links the SDK (§13).
//!
//! The API's "payload shorthand" carries each argument, memo field, heartbeat and result as
//! plain JSON, which is what every type in `cluster/` is.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{
    ANSWER_SIGNAL, Checkpoint, ClusterSettings, LegEnd, MEMO_STARTED_BY, RunOrder, WORKFLOW_TYPE,
    from_payload, to_payload,
};
use crate::control::{Client, ReviewRequest, tls};
use crate::event::RunId;
use crate::snapshot::RunSnapshot;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the cluster did not do what was asked, in words.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterError {
    #[error(
        "nothing answers at {address}: is the Temporal server running there, with its HTTP API on? ({message})"
    )]
    Unreachable { address: String, message: String },
    #[error("the cluster refused the API key (HTTP {status}): check [cluster] api_key")]
    Refused { status: u16 },
    #[error("the cluster has no namespace “{namespace}”")]
    NoNamespace { namespace: String },
    #[error("the cluster has no run with this id")]
    UnknownRun,
    #[error("the cluster already has a run with this id")]
    RunExists,
    #[error("the run is not waiting for that review")]
    NotWaiting,
    #[error("the cluster answered: {message}")]
    Failed { message: String },
    /// The workers' endpoints' TLS settings (`endpoint_ca`) could not be used.
    #[error("{message}")]
    Tls { message: String },
}

/// Where a cluster run stands, as Temporal knows it.
#[derive(Clone, Debug)]
pub struct ClusterRun {
    /// Temporal's word: `running`, `completed`, `failed`, `canceled`, `terminated`,
    /// `timed_out`, `continued_as_new`.
    pub status: String,
    /// While a worker drives it: its last heartbeat (endpoint, checkpoint).
    pub checkpoint: Option<Checkpoint>,
    /// How many times its current leg was started (more than 1: another worker took it over).
    pub attempt: u32,
}

impl ClusterRun {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }
}

/// A client of one cluster (namespace and task queue).
#[derive(Clone)]
pub struct Cluster {
    http: reqwest::Client,
    settings: ClusterSettings,
    /// The authority that signed the workers' endpoints' certificates (`endpoint_ca`).
    authority: Option<reqwest::Certificate>,
}

impl Cluster {
    pub fn new(settings: ClusterSettings) -> Result<Cluster, ClusterError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| ClusterError::Failed {
                message: e.to_string(),
            })?;
        let authority = settings
            .endpoint_ca
            .as_deref()
            .map(tls::authority)
            .transpose()
            .map_err(|e| ClusterError::Tls {
                message: e.to_string(),
            })?;
        Ok(Cluster {
            http,
            settings,
            authority,
        })
    }

    pub fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    /// Says in words what is wrong with the connection, or nothing.
    pub async fn test_connection(&self) -> Result<(), ClusterError> {
        let url = format!("{}/namespaces/{}", self.api(), self.settings.namespace);
        self.call::<Value>(self.http.get(url)).await.map(drop)
    }

    /// How many workers poll the task queue (Temporal counts those seen in the last minutes).
    pub async fn workers(&self) -> Result<usize, ClusterError> {
        let url = format!(
            "{}/namespaces/{}/task-queues/{}",
            self.api(),
            self.settings.namespace,
            self.settings.task_queue
        );
        let queue: Value = self.call(self.http.get(url)).await?;
        Ok(queue["pollers"].as_array().map_or(0, Vec::len))
    }

    /// Starts the run on the cluster: the workflow's id is the run's. The same order sent again
    /// (a client that retried) starts nothing more; the id of another run is refused.
    pub async fn start(&self, order: &RunOrder) -> Result<(), ClusterError> {
        let body = json!({
            "workflowId": order.run_id.to_string(),
            "workflowType": {"name": WORKFLOW_TYPE},
            "taskQueue": {"name": self.settings.task_queue},
            "input": [to_payload(order)],
            "requestId": order.run_id.to_string(),
            "memo": {"fields": {MEMO_STARTED_BY: "stepwise"}},
            "workflowIdReusePolicy": "WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE",
        });
        let url = self.workflow_url(order.run_id, "");
        match self.call::<Value>(self.http.post(url).json(&body)).await {
            Err(ClusterError::Failed { message }) if message.contains("already") => {
                Err(ClusterError::RunExists)
            }
            other => other.map(drop),
        }
    }

    /// Where the run stands.
    pub async fn describe(&self, id: RunId) -> Result<ClusterRun, ClusterError> {
        let d: Value = self.call(self.http.get(self.workflow_url(id, ""))).await?;
        let status = d["workflowExecutionInfo"]["status"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("WORKFLOW_EXECUTION_STATUS_")
            .to_ascii_lowercase();
        let pending = d["pendingActivities"].get(0);
        let checkpoint = pending.and_then(|a| first_payload::<Checkpoint>(&a["heartbeatDetails"]));
        let attempt = pending.and_then(|a| a["attempt"].as_u64()).unwrap_or(1) as u32;
        Ok(ClusterRun {
            status,
            checkpoint,
            attempt,
        })
    }

    /// The run as it ended (the workflow's result: its final snapshot, and the worker that has
    /// its last events), or `None` while it goes on.
    pub async fn result(&self, id: RunId) -> Result<Option<Checkpoint>, ClusterError> {
        let url = format!(
            "{}?historyEventFilterType=HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT",
            self.workflow_url(id, "/history")
        );
        let h: Value = self.call(self.http.get(url)).await?;
        let Some(close) = h["history"]["events"].get(0) else {
            return Ok(None);
        };
        let result = &close["workflowExecutionCompletedEventAttributes"]["result"];
        Ok(first_payload(result))
    }

    /// The run as it waits on the cluster for a person, no worker holding it: the last leg's
    /// result, from Temporal's history — once the workflow has taken it in (its last event is a
    /// finished workflow task) and nothing came since (an answer on its way, the next leg).
    /// `None` unless it waits so.
    pub async fn waiting(&self, id: RunId) -> Result<Option<RunSnapshot>, ClusterError> {
        let url = format!(
            "{}?maximumPageSize=20",
            self.workflow_url(id, "/history-reverse")
        );
        let h: Value = self.call(self.http.get(url)).await?;
        let events = h["history"]["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let settled = events
            .first()
            .is_some_and(|e| e["workflowTaskCompletedEventAttributes"].is_object());
        if !settled {
            return Ok(None);
        }
        for e in &events {
            let done = &e["activityTaskCompletedEventAttributes"]["result"];
            if let Some(end) = first_payload::<LegEnd>(done) {
                return Ok(match end {
                    LegEnd::Waiting { snapshot } => Some(snapshot),
                    LegEnd::Ended { .. } => None,
                });
            }
            let moved_on = e["workflowExecutionSignaledEventAttributes"].is_object()
                || e["activityTaskScheduledEventAttributes"].is_object();
            if moved_on {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Answers the review the run waits for, through Temporal (it reaches the run wherever it
    /// waits: in a worker, or on the cluster with no worker holding it).
    pub async fn answer(&self, id: RunId, req: &ReviewRequest) -> Result<(), ClusterError> {
        let url = self.workflow_url(id, &format!("/signal/{ANSWER_SIGNAL}"));
        let body = json!({ "input": [to_payload(req)] });
        self.call::<Value>(self.http.post(url).json(&body))
            .await
            .map(drop)
    }

    /// The endpoint of the worker that drives the run now, if one does and can be reached with
    /// the cluster's token.
    pub async fn holder(&self, id: RunId) -> Result<Option<Client>, ClusterError> {
        let run = self.describe(id).await?;
        Ok(run.checkpoint.and_then(|c| self.worker(&c.endpoint)))
    }

    /// Answers a review wherever the run waits: through the worker that holds it (at once), else
    /// through Temporal (a run that waits with no worker; the next leg applies it).
    pub async fn answer_review(&self, id: RunId, req: &ReviewRequest) -> Result<(), ClusterError> {
        if let Some(worker) = self.holder(id).await?
            && worker.answer_review(id, req).await.is_ok()
        {
            return Ok(());
        }
        self.answer(id, req).await
    }

    /// Cancels the run both ways (§13): straight to the worker that drives it, so its model's
    /// connection closes at once, and through Temporal, so it reaches a worker that cannot be
    /// reached now (at its next heartbeat) or a run that waits with no worker. True iff the run
    /// was live when asked.
    pub async fn cancel(&self, id: RunId) -> Result<bool, ClusterError> {
        let run = self.describe(id).await?;
        if !run.is_running() {
            return Ok(false);
        }
        let mut stopped = false;
        if let Some(c) = &run.checkpoint
            && let Some(worker) = self.worker(&c.endpoint)
        {
            stopped = matches!(worker.cancel(id).await, Ok(true));
        }
        let url = self.workflow_url(id, "/cancel");
        let body = json!({ "reason": "cancelled by the person" });
        match self.call::<Value>(self.http.post(url).json(&body)).await {
            Ok(_) => Ok(true),
            // It ended meanwhile: only a stop the worker said it made counts.
            Err(ClusterError::UnknownRun | ClusterError::Failed { .. }) => Ok(stopped),
            Err(e) => Err(e),
        }
    }

    /// A client of a worker's endpoint, with the cluster's token (`None` without one).
    pub fn worker(&self, endpoint: &str) -> Option<Client> {
        let token = self.settings.token.as_ref()?;
        Client::tcp(endpoint, token.expose(), self.authority.as_ref()).ok()
    }

    fn api(&self) -> String {
        format!(
            "{}/api/v1",
            self.settings.http_address.trim_end_matches('/')
        )
    }

    fn workflow_url(&self, id: RunId, rest: &str) -> String {
        format!(
            "{}/namespaces/{}/workflows/{id}{rest}",
            self.api(),
            self.settings.namespace
        )
    }

    async fn call<T: DeserializeOwned>(
        &self,
        mut req: reqwest::RequestBuilder,
    ) -> Result<T, ClusterError> {
        if let Some(key) = &self.settings.api_key {
            req = req.bearer_auth(key.expose());
        }
        let response =
            req.timeout(REQUEST_TIMEOUT)
                .send()
                .await
                .map_err(|e| ClusterError::Unreachable {
                    address: self.settings.http_address.clone(),
                    message: innermost(&e),
                })?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(|e| ClusterError::Failed {
                message: e.to_string(),
            });
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message = body["message"].as_str().unwrap_or("").to_string();
        Err(match (status.as_u16(), body["code"].as_u64()) {
            (401 | 403, _) | (_, Some(7 | 16)) => ClusterError::Refused {
                status: status.as_u16(),
            },
            (_, Some(5)) if message.contains("amespace") => ClusterError::NoNamespace {
                namespace: self.settings.namespace.clone(),
            },
            (404, _) | (_, Some(5)) => ClusterError::UnknownRun,
            (_, Some(6)) => ClusterError::RunExists,
            _ if message.is_empty() => ClusterError::Failed {
                message: format!("HTTP {status}"),
            },
            _ => ClusterError::Failed { message },
        })
    }
}

/// The first payload of a `Payloads` value (`{"payloads": [..]}`, or the shorthand's list),
/// read from its JSON text.
fn first_payload<T: DeserializeOwned>(v: &Value) -> Option<T> {
    let list = v.get("payloads").unwrap_or(v);
    from_payload(list.get(0)?.as_str()?).ok()
}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message = s.to_string();
        source = s.source();
    }
    message
}
