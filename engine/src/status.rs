//! Run and step statuses (ARCHITECTURE.md §3).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Pending,
    Running,
    /// A step waits for the person (a review, or a tool call to allow); the run goes on once
    /// they answer. A run that waits and has nothing else running stays `waiting` across a quit.
    Waiting,
    Completed,
    Failed,
    Cancelled,
    /// Found `pending` or `running` in the store at start-up: the process died under it.
    Interrupted,
}

impl RunStatus {
    /// Its name as the wire and the history spell it.
    pub fn word(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn is_live(self) -> bool {
        matches!(
            self,
            RunStatus::Pending | RunStatus::Running | RunStatus::Waiting
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    /// It has finished and its output waits for the person's review (`review = true`).
    Waiting,
    Completed,
    Failed,
    Cancelled,
    /// Never ran (the run ended before it, or its branch was not taken), or its failure was
    /// set aside (`on_error = "skip"`).
    Skipped,
}

impl StepStatus {
    pub fn is_ended(self) -> bool {
        !matches!(
            self,
            StepStatus::Pending | StepStatus::Running | StepStatus::Waiting
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_word_is_its_wire_name() {
        for s in [
            RunStatus::Pending,
            RunStatus::Running,
            RunStatus::Waiting,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Cancelled,
            RunStatus::Interrupted,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.word());
        }
    }
}
