//! Steps a run does not run again, and what stands in for them:
//!
//! - a **continued** run (`Engine::resume`) takes the outputs of the steps before the one it
//!   continues from out of the earlier run, and says so with `StepReused` (no model is asked);
//! - a **revived** run (one that waited across a quit, `Engine::revive`) already has the events
//!   of the steps it finished: they give their saved outputs and emit nothing, and a step that
//!   waited for its review waits again with its saved output.
//!
//! Each saved outcome is taken once: a step that is sent back runs the steps inside it for real.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::event::{EventKind, SkipReason};
use crate::snapshot::{RunSnapshot, StepSnapshot, is_inside};
use crate::status::StepStatus;

/// What a step gave in the run it is taken from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Saved {
    Output(String),
    Skipped(SkipReason, Option<String>),
    /// It waited for its review with this output.
    Review(String),
}

#[derive(Default)]
pub(crate) struct Replay {
    saved: Mutex<HashMap<String, Saved>>,
    /// For a continued run: the run the reused steps come from, as it ended.
    from: Option<RunSnapshot>,
    /// The outputs the run starts with, by step id, in the order they were made (taken once
    /// by `RunContext::with_replay`).
    outputs: Vec<(String, String)>,
    /// For a revived run: the routes its routers had chosen, by path, each taken once.
    routes: Mutex<HashMap<String, (String, String)>>,
}

impl Replay {
    /// A continued run reuses `reused` (top-level steps of `original`) and what is inside them;
    /// the step it continues from, if the run ended while that step waited for its review, waits
    /// for it again with the output it had (nothing is asked of a model for it).
    pub fn continued(original: RunSnapshot, reused: &[&str], from: &str) -> Self {
        let mut saved: HashMap<String, Saved> = original
            .steps
            .iter()
            .filter(|s| reused.contains(&s.path.as_str()))
            .filter_map(|s| Some((s.path.clone(), saved_of(s)?)))
            .collect();
        if let Some(s) = original.step(from).filter(|s| s.unreviewed) {
            saved.insert(s.path.clone(), Saved::Review(s.text.clone()));
        }
        // What the reused steps (and a step that waits for its review again) and the steps
        // inside them made.
        let outputs = outputs_of(original.steps.iter().filter(|s| {
            saved
                .keys()
                .any(|top| s.path == *top || is_inside(&s.path, top))
        }));
        Replay {
            saved: Mutex::new(saved),
            from: Some(original),
            outputs,
            routes: Mutex::default(),
        }
    }

    /// A revived run goes back to where it waited.
    pub fn revived(snapshot: &RunSnapshot) -> Self {
        let saved = snapshot
            .steps
            .iter()
            .filter_map(|s| {
                let saved = match s.status {
                    StepStatus::Waiting => Saved::Review(s.text.clone()),
                    _ => saved_of(s)?,
                };
                Some((s.path.clone(), saved))
            })
            .collect();
        let routes = snapshot
            .steps
            .iter()
            .filter(|s| !s.status.is_ended())
            .filter_map(|s| {
                let c = s.chosen.as_ref()?;
                Some((s.path.clone(), (c.route.clone(), c.reason.clone())))
            })
            .collect();
        Replay {
            saved: Mutex::new(saved),
            from: None,
            outputs: outputs_of(snapshot.steps.iter()),
            routes: Mutex::new(routes),
        }
    }

    /// The outputs the run starts with (what `{{steps.ID.output}}` reads), by step id, in the
    /// order they were made (a loop's later rounds win); once.
    pub fn take_outputs(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.outputs)
    }

    /// The route the router at `path` had chosen (a revived run), once.
    pub fn route(&self, path: &str) -> Option<(String, String)> {
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(path)
    }

    /// A step sent back runs again for real, with everything inside it: nothing saved under it
    /// stands in any more.
    pub fn forget_inside(&self, path: &str) {
        self.saved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p, _| !is_inside(p, path));
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p, _| p != path && !is_inside(p, path));
    }

    /// The saved outcome of the step at `path`, once.
    pub fn take(&self, path: &str) -> Option<Saved> {
        self.saved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(path)
    }

    /// What announces a reused step (and everything inside it) in a continued run; nothing
    /// for a revived one, which has those events already.
    pub(super) fn reused_events(&self, path: &str) -> Vec<EventKind> {
        let Some(original) = &self.from else {
            return Vec::new();
        };
        let mut events = Vec::new();
        for s in original
            .steps
            .iter()
            .filter(|s| s.path == path || is_inside(&s.path, path))
        {
            let event = match saved_of(s) {
                Some(Saved::Output(output)) => EventKind::StepReused {
                    step: s.info(),
                    output,
                    from_run: original.run_id,
                },
                Some(Saved::Skipped(reason, message)) => EventKind::StepSkipped {
                    path: s.path.clone(),
                    reason,
                    message,
                    usage: None,
                },
                _ => continue,
            };
            events.push(event);
        }
        events
    }
}

/// The outputs of the steps that gave one, by id, in order.
fn outputs_of<'a>(steps: impl Iterator<Item = &'a StepSnapshot>) -> Vec<(String, String)> {
    steps
        .filter_map(|s| match saved_of(s) {
            Some(Saved::Output(o)) => Some((s.id.clone(), o)),
            _ => None,
        })
        .collect()
}

/// What a finished step gave: its output (a failure set aside by `continue` gives its text), or
/// that it was skipped. `None` for a step that did not end (or failed the run).
fn saved_of(s: &StepSnapshot) -> Option<Saved> {
    match s.status {
        StepStatus::Completed | StepStatus::Failed => Some(Saved::Output(s.text.clone())),
        StepStatus::Skipped => Some(Saved::Skipped(
            s.skipped.unwrap_or(SkipReason::NotTaken),
            s.note.clone(),
        )),
        _ => None,
    }
}
