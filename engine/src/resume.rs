//! Continuing a run that ended (cancelled, failed, interrupted — or completed, to redo its last
//! steps): a new run, linked to the old one, that takes the outputs of the steps before the one
//! it continues from and runs from that step on. What may be continued from where is decided
//! here; the engine runs it (`Engine::resume`, `run/steps/replay.rs`).

use serde::Serialize;

use crate::event::RunId;
use crate::snapshot::RunSnapshot;
use crate::status::{RunStatus, StepStatus};
use crate::workflow::Workflow;

/// What to continue, and how.
#[derive(Clone, Debug)]
pub struct ResumeRun {
    /// The run as it ended (from the history).
    pub original: RunSnapshot,
    /// The workflow as that run ran it.
    pub workflow: Workflow,
    /// Today's version of the workflow, to run instead; its steps before `from` must be the
    /// same as the run's.
    pub today: Option<Workflow>,
    /// The top-level step to run again from (its id); the first one that did not finish if
    /// `None`.
    pub from: Option<String>,
    /// As for [`crate::StartRun`]: makes starting idempotent.
    pub run_id: Option<RunId>,
}

/// Why a run cannot be continued from there. Nothing was started.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResumeError {
    #[error("this run has not ended: it can be continued once it is cancelled, fails or ends")]
    NotEnded,
    #[error("the workflow has no step “{step}” at its top level")]
    NoSuchStep { step: String },
    #[error(
        "“{step}” is inside “{top}”: continue from “{top}”, which runs it again with everything inside it"
    )]
    Nested { step: String, top: String },
    #[error(
        "“{step}” did not finish in this run, so the run cannot go on from after it: continue from “{step}” or an earlier step"
    )]
    EarlierStepNotDone { step: String },
    #[error("every step of this run finished: pick the step to run again from")]
    AllDone,
    #[error(
        "today's version of the workflow is not the same as this run's before “{from}” (from “{step}” on): continue with the workflow as it was in the run, or start a new run"
    )]
    WorkflowChanged { from: String, step: String },
    #[error("this run's workflow was not kept in the history, so it cannot be continued")]
    NoWorkflow,
}

/// A checked plan: the workflow to run, the step it runs from, and the steps it reuses.
#[derive(Debug)]
pub(crate) struct Plan {
    pub workflow: Workflow,
    pub from: String,
    pub reused: Vec<String>,
}

pub(crate) fn plan(req: &ResumeRun) -> Result<Plan, ResumeError> {
    let original = &req.original;
    if !matches!(
        original.status,
        RunStatus::Cancelled | RunStatus::Failed | RunStatus::Interrupted | RunStatus::Completed
    ) {
        return Err(ResumeError::NotEnded);
    }
    let status_of = |id: &str| original.step(id).map(|s| (s.status, s.skipped.is_some()));
    // A step the next ones can build on: it completed, or was set aside on purpose.
    let done = |id: &str| {
        matches!(
            status_of(id),
            Some((StepStatus::Completed, _)) | Some((StepStatus::Skipped, true))
        )
    };
    let steps = &req.workflow.steps;
    let from = match &req.from {
        Some(from) => {
            if let Some((top, _)) = from.split_once(['/', '#']) {
                return Err(ResumeError::Nested {
                    step: from.clone(),
                    top: top.to_string(),
                });
            }
            if !steps.iter().any(|s| s.id == *from) {
                return Err(ResumeError::NoSuchStep { step: from.clone() });
            }
            from.clone()
        }
        None => steps
            .iter()
            .find(|s| !done(&s.id))
            .map(|s| s.id.clone())
            .ok_or(ResumeError::AllDone)?,
    };
    let at = steps.iter().position(|s| s.id == from).unwrap_or(0);
    if let Some(s) = steps[..at].iter().find(|s| !done(&s.id)) {
        return Err(ResumeError::EarlierStepNotDone {
            step: s.name.clone(),
        });
    }
    let workflow = match &req.today {
        None => req.workflow.clone(),
        Some(today) => {
            let Some(today_at) = today.steps.iter().position(|s| s.id == from) else {
                return Err(ResumeError::NoSuchStep { step: from });
            };
            if today_at != at || today.steps[..at] != steps[..at] {
                // The first step that differs (one exists: `from` is at different places, or
                // a step before it differs).
                let i = (0..=at)
                    .find(|&i| steps.get(i) != today.steps.get(i))
                    .unwrap_or(0);
                let step = today.steps.get(i).or(steps.get(i)).map(|s| s.name.clone());
                return Err(ResumeError::WorkflowChanged {
                    from: steps[at].name.clone(),
                    step: step.unwrap_or_default(),
                });
            }
            today.clone()
        }
    };
    Ok(Plan {
        workflow,
        reused: steps[..at].iter().map(|s| s.id.clone()).collect(),
        from,
    })
}
