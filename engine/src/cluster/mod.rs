//! Stepwise on a Temporal cluster (§13): what a cluster run is made of, shared by the workers
//! (the `stepwise-worker` program, which hosts runs with Temporal's SDK) and their clients (the
//! `stepwise` command line and the app, which reach the cluster through Temporal's HTTP API).
//!
//! ```text
//! client ──HTTP API──▶ Temporal ──task queue──▶ worker: workflow StepwiseRun (one per run, id = run id)
//!    │                    ▲                        └─ activity drive: the engine runs the run,
//!    │                    └── heartbeats: Checkpoint ◀─┘  heartbeating what another worker needs
//!    └──── live events, cancel: the worker's endpoint (TCP + token), found in the checkpoint
//! ```
//!
//! Every type here crosses a process boundary as JSON: a worker and a client of the same
//! version read each other's. Each goes through Temporal as one JSON *text* (a string payload,
//! [`to_payload`]): Temporal's HTTP API shows an empty list inside a JSON payload as `null`,
//! which would not read back, while a string comes back as it was sent.

mod checkpoint;
mod follow;
mod temporal;

pub use crate::settings::ClusterSettings;
pub use checkpoint::checkpoint;
pub use follow::{Followed, Follower, end_event};
pub use temporal::{Cluster, ClusterError, ClusterRun};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::control::ReviewRequest;
use crate::event::RunId;
use crate::snapshot::RunSnapshot;
use crate::workflow::Workflow;

/// The Temporal workflow type of a Stepwise run.
pub const WORKFLOW_TYPE: &str = "StepwiseRun";
/// The signal that answers a review of a run waiting on the cluster.
pub const ANSWER_SIGNAL: &str = "answer";
/// The memo field that says which program started the run (shown by Temporal's own tools).
pub const MEMO_STARTED_BY: &str = "stepwise_started_by";

/// What a cluster run is started with: the workflow's one argument.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOrder {
    pub run_id: RunId,
    /// The workflow as checked by the client that sent it.
    pub workflow: Workflow,
    pub input: String,
}

/// What the `drive` activity is given: the run, where to go on from (`None`: its start), and
/// the answer to the review it waited for, if it did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Leg {
    pub order: RunOrder,
    pub from: Option<RunSnapshot>,
    pub answer: Option<ReviewRequest>,
    /// End the run as cancelled (it was cancelled while it waited with no worker).
    #[serde(default)]
    pub cancel: bool,
}

/// How a leg ended.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LegEnd {
    /// The run ended (completed, failed or cancelled): its final snapshot, and the worker
    /// that holds its events (the workflow's result).
    Ended { end: Checkpoint },
    /// Nothing runs, the run waits for a person's review: no worker holds it until answered.
    Waiting { snapshot: RunSnapshot },
}

/// What a worker heartbeats while it drives a run: another worker goes on from `snapshot` if
/// this one dies, and clients find the live events and the fast cancel at `endpoint`. A run's
/// end is one too (the workflow's result): its final snapshot, and where its last events are.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The worker's endpoint (`http://HOST:PORT`), reached with the cluster's token.
    pub endpoint: String,
    /// This worker's events for the run start after this seq (a checkpoint it went on from);
    /// a watcher that got later events from an earlier worker goes back to it (§13).
    pub base_seq: u64,
    /// The run at its last step boundary, steps that were running back to pending.
    pub snapshot: RunSnapshot,
}

/// A value as it goes through Temporal: its JSON text.
pub fn to_payload<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A value back from its JSON text.
pub fn from_payload<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(text)
}
