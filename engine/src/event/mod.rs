//! The run event protocol (ARCHITECTURE.md §4): one tagged enum, versioned, every event numbered.
//!
//! This serde form is the wire format: the CLI's `--json` prints it and the UI receives it.
//! Counters and times are `u64` here and plain numbers in TypeScript (the `specta(type = u32)`
//! overrides only name the TS type: JSON numbers are exact up to 2^53, far beyond any seq or
//! millisecond timestamp).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::failure::ErrorKind;
pub use crate::usage::{Usage, saturating_u32};
use crate::workflow::StepKindName;

pub mod v1;

/// Bumped when an event changes in a way old readers cannot ignore. Version 1 named steps by
/// their position in a straight line; version 2 by their path in the tree (`v1.rs` reads both).
pub const PROTOCOL_VERSION: u32 = 2;

/// Every run is known by a uuid, which a caller may choose (so that starting is idempotent).
pub type RunId = Uuid;

/// One event of one run. `seq` is 1, 2, 3 … per run with no gap, so a reader that has applied a
/// snapshot up to `last_seq` applies exactly the events after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunEvent {
    pub v: u32,
    pub run_id: RunId,
    #[specta(type = u32)]
    pub seq: u64,
    /// Set only on a coalesced `TextDelta` that stands for the events `first_seq..=seq` (a front
    /// end may merge deltas to bound its load); absent means `first_seq == seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[specta(type = Option<u32>)]
    pub first_seq: Option<u64>,
    /// Milliseconds since the Unix epoch.
    #[specta(type = u32)]
    pub ts_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// A step is named by its **path**: the ids from the top of the tree down, `/` between them, and
/// `#N` after a loop for its round N: `angles/economics`, `revise#3/critique`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "type")]
pub enum EventKind {
    /// The run's steps as far as they are known before it runs (a loop's children in round 1).
    RunStarted {
        workflow_name: String,
        input: String,
        steps: Vec<StepInfo>,
        /// A run that continues an earlier one: which, and from which step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resumed_from: Option<ResumedFrom>,
    },
    /// A step starts (for a step the outline did not hold, such as a loop's round 2, this is
    /// where it first appears).
    StepStarted { step: StepInfo },
    TextDelta {
        // Shared by every delta of a step: each event is cloned for every subscriber and the
        // history, and a shared path costs no allocation per token.
        #[specta(type = String)]
        path: Arc<str>,
        text: String,
    },
    StepCompleted {
        path: String,
        output: String,
        #[specta(type = u32)]
        duration_ms: u64,
        usage: Option<Usage>,
    },
    /// A step failed. The run fails too unless the step (or a step around it) says
    /// `on_error = "skip"` or `"continue"`.
    StepFailed {
        path: String,
        error: ErrorKind,
        message: String,
        #[specta(type = u32)]
        duration_ms: u64,
        /// What the step used before it failed (estimated where the stream was cut short).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
    },
    /// A step that will not run, or whose failure was set aside (`on_error = "skip"`).
    StepSkipped {
        path: String,
        reason: SkipReason,
        /// For a failure set aside: what went wrong.
        message: Option<String>,
        /// For a failure set aside: what the step had used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
    },
    /// A loop begins round `round` (1-based) of at most `max_rounds`.
    LoopRoundStarted {
        path: String,
        round: u32,
        max_rounds: u32,
    },
    /// A router's model picked a route, and said why in one line.
    RouteChosen {
        path: String,
        route: String,
        reason: String,
    },
    /// A step's model asked for a tool and the call begins. `arguments` is the JSON text the
    /// model wrote (it may not be valid: the model is then told so).
    ToolCallStarted {
        path: String,
        call_id: String,
        tool: String,
        arguments: String,
        /// What the call does in words: "Searching the web for “tidal energy”".
        title: String,
        /// Where in the step's text it happened: how many characters (Unicode scalar values)
        /// the step had written when the call began.
        at: u32,
    },
    /// A tool call ended: its answer went back to the model. `preview` is a few words for a
    /// person ("8 results", or what went wrong); `result` the start of the answer (≤ 2 kB).
    ToolCallFinished {
        path: String,
        call_id: String,
        ok: bool,
        preview: String,
        result: String,
        #[specta(type = u32)]
        duration_ms: u64,
    },
    /// A tool call waits for the person's yes or no before it runs.
    ToolApprovalRequested { path: String, call_id: String },
    /// The person answered; a denied call goes back to the model as the tool's answer.
    ToolApprovalAnswered {
        path: String,
        call_id: String,
        answer: ApprovalAnswer,
    },
    /// A step with `review = true` has finished: its output waits for the person's review.
    ReviewRequested { path: String, output: String },
    /// The person reviewed the step: approved it, edited its output, or sent it back to run again
    /// with a note.
    ReviewAnswered { path: String, answer: ReviewAnswer },
    /// A continued run takes this step's output from the run it continues: nothing is asked of
    /// a model. Sent for each reused step and every step inside it, outermost first.
    StepReused {
        step: StepInfo,
        output: String,
        from_run: RunId,
    },
    RunCompleted {
        output: String,
        #[specta(type = u32)]
        duration_ms: u64,
    },
    RunCancelled {
        reason: CancelReason,
        /// Every step that was running (parallel branches, and the steps around them), with its
        /// text so far. Completed steps keep their outputs too.
        running: Vec<PartialStep>,
        #[specta(type = u32)]
        duration_ms: u64,
    },
    RunFailed {
        /// The step whose failure ended the run, when one did.
        path: Option<String>,
        error: ErrorKind,
        /// Written for a person: what went wrong and what to do about it.
        message: String,
        #[specta(type = u32)]
        duration_ms: u64,
    },
}

/// What a person said to a tool call that asked first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalAnswer {
    Allow,
    /// Allow this call, and this tool from now on without asking.
    AllowAlways,
    Deny,
}

/// What a person said to a step's output that waited for review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ReviewAnswer {
    /// The output goes on as it is.
    Approve,
    /// The output goes on as the person rewrote it (the step's own text is kept beside it).
    Edit { text: String },
    /// The step runs again, told the note; its earlier output is kept.
    SendBack { note: String },
}

/// Where a continued run comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct ResumedFrom {
    pub run_id: RunId,
    /// The step it runs again from (the steps before it are reused).
    pub step: String,
}

/// A running step's text at a cancel, and what it had used (estimated where its stream was
/// cut short).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PartialStep {
    pub path: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// Why a step did not run or was set aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A condition's other branch, or a route the router did not pick.
    NotTaken,
    /// It failed and says `on_error = "skip"`.
    OnError,
}

impl RunEvent {
    /// The first `seq` this event stands for (its own, unless it is a coalesced delta).
    pub fn first_seq(&self) -> u64 {
        self.first_seq.unwrap_or(self.seq)
    }
}

impl EventKind {
    /// The `type` tag of the wire form.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::RunStarted { .. } => "RunStarted",
            EventKind::StepStarted { .. } => "StepStarted",
            EventKind::TextDelta { .. } => "TextDelta",
            EventKind::StepCompleted { .. } => "StepCompleted",
            EventKind::StepFailed { .. } => "StepFailed",
            EventKind::StepSkipped { .. } => "StepSkipped",
            EventKind::LoopRoundStarted { .. } => "LoopRoundStarted",
            EventKind::RouteChosen { .. } => "RouteChosen",
            EventKind::ToolCallStarted { .. } => "ToolCallStarted",
            EventKind::ToolCallFinished { .. } => "ToolCallFinished",
            EventKind::ToolApprovalRequested { .. } => "ToolApprovalRequested",
            EventKind::ToolApprovalAnswered { .. } => "ToolApprovalAnswered",
            EventKind::ReviewRequested { .. } => "ReviewRequested",
            EventKind::ReviewAnswered { .. } => "ReviewAnswered",
            EventKind::StepReused { .. } => "StepReused",
            EventKind::RunCompleted { .. } => "RunCompleted",
            EventKind::RunCancelled { .. } => "RunCancelled",
            EventKind::RunFailed { .. } => "RunFailed",
        }
    }

    /// RunCompleted, RunCancelled and RunFailed end a run; exactly one of them is emitted.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventKind::RunCompleted { .. }
                | EventKind::RunCancelled { .. }
                | EventKind::RunFailed { .. }
        )
    }

    /// The step the event is about, if it is about one.
    pub fn path(&self) -> Option<&str> {
        match self {
            EventKind::StepStarted { step } | EventKind::StepReused { step, .. } => {
                Some(&step.path)
            }
            EventKind::TextDelta { path, .. } => Some(path),
            EventKind::StepCompleted { path, .. }
            | EventKind::StepFailed { path, .. }
            | EventKind::StepSkipped { path, .. }
            | EventKind::LoopRoundStarted { path, .. }
            | EventKind::RouteChosen { path, .. }
            | EventKind::ToolCallStarted { path, .. }
            | EventKind::ToolCallFinished { path, .. }
            | EventKind::ToolApprovalRequested { path, .. }
            | EventKind::ToolApprovalAnswered { path, .. }
            | EventKind::ReviewRequested { path, .. }
            | EventKind::ReviewAnswered { path, .. } => Some(path),
            EventKind::RunFailed { path, .. } => path.as_deref(),
            // Listed, not `_`: a new event must say here whether it is about a step.
            EventKind::RunStarted { .. }
            | EventKind::RunCompleted { .. }
            | EventKind::RunCancelled { .. } => None,
        }
    }
}

/// A step as `RunStarted` and `StepStarted` announce it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct StepInfo {
    pub path: String,
    /// The path of the step it is inside, if any.
    pub parent: Option<String>,
    pub id: String,
    pub name: String,
    pub kind: StepKindName,
    /// The model it calls (agents and routers; empty for the others), e.g. `demo`.
    pub model: String,
    /// Inside a condition: `then` or `else`; inside a router: the route's name.
    pub branch: Option<String>,
    /// Directly inside a loop: the round it belongs to.
    pub round: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The user asked (Cancel button, Esc, Ctrl-C, `--cancel-after-ms`).
    User,
    /// The app was closing.
    AppExit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_flat_and_tagged() {
        let e = RunEvent {
            v: PROTOCOL_VERSION,
            run_id: Uuid::nil(),
            seq: 3,
            first_seq: None,
            ts_ms: 42,
            kind: EventKind::TextDelta {
                path: "angles/economics".into(),
                text: "hi".into(),
            },
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "v": 2, "run_id": "00000000-0000-0000-0000-000000000000", "seq": 3,
                "ts_ms": 42, "type": "TextDelta", "path": "angles/economics", "text": "hi"
            })
        );
        assert_eq!(json["type"], e.kind.type_name());
        let back: RunEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn kinds_are_snake_case() {
        assert_eq!(
            serde_json::to_string(&ErrorKind::RateLimit).unwrap(),
            "\"rate_limit\""
        );
        assert_eq!(
            serde_json::to_string(&CancelReason::AppExit).unwrap(),
            "\"app_exit\""
        );
    }
}
