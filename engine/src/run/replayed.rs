//! For a run brought back from the history (`Engine::revive`): the events it already has, which
//! its steps will try to emit again on their way back to where they were (`steps/replay.rs` gives
//! them their saved outputs). Each such event is let through as already done, once.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use crate::event::EventKind;
use crate::snapshot::{RunSnapshot, is_inside};
use crate::status::StepStatus;

/// An event a revived run already has, by what it says of which step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Had {
    Started(String),
    Skipped(String),
    ReviewRequested(String),
    RouteChosen(String),
    /// A loop's round, by the round's path (`revise#2`).
    Round(String),
}

impl Had {
    /// The key of an event that can be had already; none for any other.
    fn of(kind: &EventKind) -> Option<Had> {
        Some(match kind {
            EventKind::StepStarted { step } => Had::Started(step.path.clone()),
            EventKind::StepSkipped { path, .. } => Had::Skipped(path.clone()),
            EventKind::ReviewRequested { path, .. } => Had::ReviewRequested(path.clone()),
            EventKind::RouteChosen { path, .. } => Had::RouteChosen(path.clone()),
            EventKind::LoopRoundStarted { path, round, .. } => {
                Had::Round(format!("{path}#{round}"))
            }
            _ => return None,
        })
    }

    fn path(&self) -> &str {
        match self {
            Had::Started(p)
            | Had::Skipped(p)
            | Had::ReviewRequested(p)
            | Had::RouteChosen(p)
            | Had::Round(p) => p,
        }
    }
}

#[derive(Default)]
pub(crate) struct Replayed {
    had: Mutex<HashSet<Had>>,
}

impl Replayed {
    /// What a run saved as `snapshot` has already emitted.
    pub fn of(snapshot: &RunSnapshot) -> Self {
        let mut had = HashSet::new();
        for s in &snapshot.steps {
            if s.status != StepStatus::Pending {
                had.insert(Had::Started(s.path.clone()));
            }
            if s.status == StepStatus::Skipped {
                had.insert(Had::Skipped(s.path.clone()));
            }
            if s.status == StepStatus::Waiting {
                had.insert(Had::ReviewRequested(s.path.clone()));
            }
            if s.chosen.is_some() {
                had.insert(Had::RouteChosen(s.path.clone()));
            }
            for round in 1..=s.rounds.map_or(0, |r| r.round) {
                had.insert(Had::Round(format!("{}#{round}", s.path)));
            }
        }
        Replayed {
            had: Mutex::new(had),
        }
    }

    /// Whether the event is one the run already has: if so it is not emitted again, and counts
    /// as emitted (once).
    pub fn already_emitted(&self, kind: &EventKind) -> bool {
        let mut had = self.had.lock().unwrap_or_else(PoisonError::into_inner);
        // Most runs were never revived: nothing to look up.
        if had.is_empty() {
            return false;
        }
        Had::of(kind).is_some_and(|key| had.remove(&key))
    }

    /// A step sent back runs again: the events of the steps inside it are new ones.
    pub fn forget_inside(&self, path: &str) {
        self.had
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|h| !is_inside(h.path(), path) && h.path() != path);
    }
}
