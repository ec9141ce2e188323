//! What a run looks like at a given `seq`: the fold of its events.
//!
//! The engine keeps one snapshot per run and applies every event to it as it is emitted, so
//! `snapshot == fold(events 1..=last_seq)` always holds. A UI (re)joining a run takes a snapshot
//! and applies the events after `last_seq` with the same rules.

use serde::{Deserialize, Serialize};

use crate::event::{CancelReason, ErrorKind, EventKind, RunEvent, RunId, Usage};
use crate::status::{RunStatus, StepStatus};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunSnapshot {
    pub run_id: RunId,
    pub workflow_name: String,
    pub input: String,
    pub status: RunStatus,
    pub steps: Vec<StepSnapshot>,
    /// The last step's output once completed.
    pub final_output: Option<String>,
    pub cancel_reason: Option<CancelReason>,
    pub error: Option<RunError>,
    #[specta(type = Option<u32>)]
    pub started_at_ms: Option<u64>,
    #[specta(type = Option<u32>)]
    pub ended_at_ms: Option<u64>,
    #[specta(type = u32)]
    pub last_seq: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct StepSnapshot {
    pub name: String,
    pub model: String,
    pub status: StepStatus,
    /// Everything streamed so far; the output once completed.
    pub text: String,
    #[specta(type = Option<u32>)]
    pub started_at_ms: Option<u64>,
    #[specta(type = Option<u32>)]
    pub duration_ms: Option<u64>,
    pub usage: Option<Usage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunError {
    pub step_index: u32,
    pub kind: ErrorKind,
    pub message: String,
}

/// A line in a list of runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunSummary {
    pub run_id: RunId,
    pub workflow_name: String,
    pub input: String,
    pub status: RunStatus,
    #[specta(type = Option<u32>)]
    pub started_at_ms: Option<u64>,
    #[specta(type = Option<u32>)]
    pub ended_at_ms: Option<u64>,
}

impl RunSnapshot {
    /// A run that exists but has emitted nothing yet.
    pub fn new(run_id: RunId) -> Self {
        RunSnapshot {
            run_id,
            workflow_name: String::new(),
            input: String::new(),
            status: RunStatus::Pending,
            steps: Vec::new(),
            final_output: None,
            cancel_reason: None,
            error: None,
            started_at_ms: None,
            ended_at_ms: None,
            last_seq: 0,
        }
    }

    pub fn summary(&self) -> RunSummary {
        RunSummary {
            run_id: self.run_id,
            workflow_name: self.workflow_name.clone(),
            input: self.input.clone(),
            status: self.status,
            started_at_ms: self.started_at_ms,
            ended_at_ms: self.ended_at_ms,
        }
    }

    /// The index of the step that is running, if any.
    pub fn running_step(&self) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.status == StepStatus::Running)
    }

    /// Applies the next event. Returns false (and changes nothing) for an event that is not the
    /// next one (it must start at `last_seq + 1`; a coalesced delta covers `first_seq..=seq`) or
    /// belongs to another run, which makes re-delivery harmless.
    pub fn apply(&mut self, event: &RunEvent) -> bool {
        let next = self.last_seq + 1;
        if event.run_id != self.run_id || event.first_seq() != next || event.seq < next {
            return false;
        }
        self.last_seq = event.seq;
        match &event.kind {
            EventKind::RunStarted {
                workflow_name,
                input,
                steps,
            } => {
                self.workflow_name.clone_from(workflow_name);
                self.input.clone_from(input);
                self.started_at_ms = Some(event.ts_ms);
                self.steps = steps
                    .iter()
                    .map(|s| StepSnapshot {
                        name: s.name.clone(),
                        model: s.model.clone(),
                        status: StepStatus::Pending,
                        text: String::new(),
                        started_at_ms: None,
                        duration_ms: None,
                        usage: None,
                    })
                    .collect();
            }
            EventKind::StepStarted {
                step_index, model, ..
            } => {
                self.status = RunStatus::Running;
                if let Some(s) = self.steps.get_mut(*step_index as usize) {
                    s.status = StepStatus::Running;
                    s.started_at_ms = Some(event.ts_ms);
                    s.model.clone_from(model);
                }
            }
            EventKind::TextDelta { step_index, text } => {
                if let Some(s) = self.steps.get_mut(*step_index as usize) {
                    s.text.push_str(text);
                }
            }
            EventKind::StepCompleted {
                step_index,
                output,
                duration_ms,
                usage,
            } => {
                if let Some(s) = self.steps.get_mut(*step_index as usize) {
                    s.status = StepStatus::Completed;
                    s.text.clone_from(output);
                    s.duration_ms = Some(*duration_ms);
                    s.usage = *usage;
                }
            }
            EventKind::RunCompleted { output, .. } => {
                self.status = RunStatus::Completed;
                self.final_output = Some(output.clone());
                self.ended_at_ms = Some(event.ts_ms);
            }
            EventKind::RunCancelled {
                reason, step_index, ..
            } => {
                self.status = RunStatus::Cancelled;
                self.cancel_reason = Some(*reason);
                self.ended_at_ms = Some(event.ts_ms);
                self.end_steps(*step_index, StepStatus::Cancelled, event.ts_ms);
            }
            EventKind::RunFailed {
                step_index,
                error,
                message,
                ..
            } => {
                self.status = RunStatus::Failed;
                self.error = Some(RunError {
                    step_index: *step_index,
                    kind: *error,
                    message: message.clone(),
                });
                self.ended_at_ms = Some(event.ts_ms);
                self.end_steps(Some(*step_index), StepStatus::Failed, event.ts_ms);
            }
        }
        true
    }

    /// At a run's end: the step that was running gets `status` (its text kept), later ones `skipped`.
    fn end_steps(&mut self, at: Option<u32>, status: StepStatus, now_ms: u64) {
        for (i, s) in self.steps.iter_mut().enumerate() {
            if Some(i as u32) == at && s.status != StepStatus::Completed {
                s.status = status;
                s.duration_ms = s.started_at_ms.map(|t| now_ms.saturating_sub(t));
            } else if matches!(s.status, StepStatus::Pending | StepStatus::Running) {
                s.status = StepStatus::Skipped;
            }
        }
    }
}
