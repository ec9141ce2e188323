//! Reading event logs written by protocol version 1 (histories from before the step tree).
//!
//! Version 1 named a step by its position in a straight line. Each old event is turned into its
//! version 2 form as it is read: a step's path is its id, made from its name by the same rule as
//! a workflow file's (so an old run's steps get the ids its workflow gets today).

use serde::Deserialize;

use super::{
    CancelReason, ErrorKind, EventKind, PROTOCOL_VERSION, PartialStep, RunEvent, RunId, StepInfo,
    Usage,
};
use crate::workflow::{StepKindName, ids_for_names};

#[derive(Deserialize)]
struct OldEvent {
    run_id: RunId,
    seq: u64,
    #[serde(default)]
    first_seq: Option<u64>,
    ts_ms: u64,
    #[serde(flatten)]
    kind: OldKind,
}

#[derive(Deserialize)]
struct OldStep {
    name: String,
    model: String,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum OldKind {
    RunStarted {
        workflow_name: String,
        input: String,
        steps: Vec<OldStep>,
    },
    StepStarted {
        step_index: u32,
        model: String,
    },
    TextDelta {
        step_index: u32,
        text: String,
    },
    StepCompleted {
        step_index: u32,
        output: String,
        duration_ms: u64,
        usage: Option<Usage>,
    },
    RunCompleted {
        output: String,
        duration_ms: u64,
    },
    RunCancelled {
        reason: CancelReason,
        step_index: Option<u32>,
        partial_output: String,
        duration_ms: u64,
    },
    RunFailed {
        step_index: u32,
        error: ErrorKind,
        message: String,
        duration_ms: u64,
    },
}

/// Reads one run's log in order, old and new events alike.
#[derive(Default)]
pub struct Upgrader {
    /// The steps of the run as its (old) `RunStarted` gave them.
    steps: Vec<StepInfo>,
}

impl Upgrader {
    /// The event in today's form. Events of the current version pass through unchanged.
    pub fn read(&mut self, json: &str) -> Result<RunEvent, serde_json::Error> {
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        if serde_json::from_str::<Version>(json)?.v >= 2 {
            return serde_json::from_str(json);
        }
        let old: OldEvent = serde_json::from_str(json)?;
        Ok(RunEvent {
            v: PROTOCOL_VERSION,
            run_id: old.run_id,
            seq: old.seq,
            first_seq: old.first_seq,
            ts_ms: old.ts_ms,
            kind: self.upgrade(old.kind),
        })
    }

    fn path(&self, index: u32) -> String {
        self.steps
            .get(index as usize)
            .map(|s| s.path.clone())
            .unwrap_or_else(|| format!("step-{}", index + 1))
    }

    fn upgrade(&mut self, kind: OldKind) -> EventKind {
        match kind {
            OldKind::RunStarted {
                workflow_name,
                input,
                steps,
            } => {
                let ids = ids_for_names(steps.iter().map(|s| s.name.as_str()));
                self.steps = steps
                    .into_iter()
                    .zip(ids)
                    .map(|(s, id)| StepInfo {
                        path: id.clone(),
                        parent: None,
                        id,
                        name: s.name,
                        kind: StepKindName::Agent,
                        model: s.model,
                        branch: None,
                        round: None,
                    })
                    .collect();
                EventKind::RunStarted {
                    workflow_name,
                    input,
                    steps: self.steps.clone(),
                    resumed_from: None,
                }
            }
            OldKind::StepStarted { step_index, model } => {
                let mut step = self
                    .steps
                    .get(step_index as usize)
                    .cloned()
                    .unwrap_or_else(|| StepInfo {
                        path: self.path(step_index),
                        parent: None,
                        id: self.path(step_index),
                        name: format!("Step {}", step_index + 1),
                        kind: StepKindName::Agent,
                        model: String::new(),
                        branch: None,
                        round: None,
                    });
                step.model = model;
                EventKind::StepStarted { step }
            }
            OldKind::TextDelta { step_index, text } => EventKind::TextDelta {
                path: self.path(step_index).into(),
                text,
            },
            OldKind::StepCompleted {
                step_index,
                output,
                duration_ms,
                usage,
            } => EventKind::StepCompleted {
                path: self.path(step_index),
                output,
                duration_ms,
                usage,
            },
            OldKind::RunCompleted {
                output,
                duration_ms,
            } => EventKind::RunCompleted {
                output,
                duration_ms,
            },
            OldKind::RunCancelled {
                reason,
                step_index,
                partial_output,
                duration_ms,
            } => EventKind::RunCancelled {
                reason,
                running: step_index
                    .map(|i| PartialStep {
                        path: self.path(i),
                        text: partial_output,
                        usage: None,
                    })
                    .into_iter()
                    .collect(),
                duration_ms,
            },
            OldKind::RunFailed {
                step_index,
                error,
                message,
                duration_ms,
            } => EventKind::RunFailed {
                path: Some(self.path(step_index)),
                error,
                message,
                duration_ms,
            },
        }
    }
}
