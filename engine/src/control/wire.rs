//! The bodies the control endpoint takes and gives (JSON), shared by the server and the client.

use serde::{Deserialize, Serialize};

use crate::event::{ApprovalAnswer, ReviewAnswer, RunId};
use crate::tool::Grant;
use crate::workflow::Workflow;

/// The answer to a cancel: the same meaning as [`crate::Engine::cancel`]'s result — true only
/// when this request stopped a live run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancelled {
    pub cancelled: bool,
}

/// An answer to the review of the step at `path`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewRequest {
    pub path: String,
    pub answer: ReviewAnswer,
}

/// An answer to a tool call that waits for the person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub path: String,
    pub call_id: String,
    pub answer: ApprovalAnswer,
}

/// Whether a tool call was waiting for that answer, and what "Allow always" allows for it (the
/// caller may keep that in its settings, as the window does).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {
    pub answered: bool,
    #[serde(default)]
    pub grant: Option<Grant>,
}

/// A run to start: the workflow as it should run (already loaded and checked by the caller, who
/// may have read it from a file the owner cannot see) and its input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartRequest {
    pub workflow: Workflow,
    pub input: String,
    /// Chosen by the caller to make a retried start idempotent.
    #[serde(default)]
    pub run_id: Option<RunId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    pub run_id: RunId,
}

/// Why a request was refused, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub error: String,
}
