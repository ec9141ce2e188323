//! The run event protocol (ARCHITECTURE.md §4): one tagged enum, versioned, every event numbered.
//!
//! This serde form is the wire format: the CLI's `--json` prints it and the UI receives it.
//! Counters and times are `u64` here and plain numbers in TypeScript (the `specta(type = u32)`
//! overrides only name the TS type: JSON numbers are exact up to 2^53, far beyond any seq or
//! millisecond timestamp).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Bumped when an event changes in a way old readers cannot ignore.
pub const PROTOCOL_VERSION: u32 = 1;

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "type")]
pub enum EventKind {
    RunStarted {
        workflow_name: String,
        input: String,
        steps: Vec<StepInfo>,
    },
    StepStarted {
        step_index: u32,
        name: String,
        /// The model reference actually used, e.g. `demo` or `openai:gpt-5-mini`.
        model: String,
    },
    TextDelta {
        step_index: u32,
        text: String,
    },
    StepCompleted {
        step_index: u32,
        output: String,
        #[specta(type = u32)]
        duration_ms: u64,
        usage: Option<Usage>,
    },
    RunCompleted {
        output: String,
        #[specta(type = u32)]
        duration_ms: u64,
    },
    RunCancelled {
        reason: CancelReason,
        /// The step that was running, if one was (a run can be cancelled before or between steps).
        step_index: Option<u32>,
        /// The running step's text so far. Completed steps keep their outputs too.
        partial_output: String,
        #[specta(type = u32)]
        duration_ms: u64,
    },
    RunFailed {
        step_index: u32,
        error: ErrorKind,
        /// Written for a person: what went wrong and what to do about it.
        message: String,
        #[specta(type = u32)]
        duration_ms: u64,
    },
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
}

/// A step as announced in `RunStarted`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct StepInfo {
    pub name: String,
    pub model: String,
}

/// Token counts when the provider reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Usage {
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The user asked (Cancel button, Esc, Ctrl-C, `--cancel-after-ms`).
    User,
    /// The app was closing.
    AppExit,
}

/// Why a run failed, coarse enough for the UI to say what to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Auth,
    RateLimit,
    Provider,
    Network,
    Timeout,
    InvalidConfig,
    Internal,
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
                step_index: 0,
                text: "hi".into(),
            },
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "v": 1, "run_id": "00000000-0000-0000-0000-000000000000", "seq": 3,
                "ts_ms": 42, "type": "TextDelta", "step_index": 0, "text": "hi"
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
