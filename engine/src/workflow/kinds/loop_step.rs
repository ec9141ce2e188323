//! `loop`: its steps run in rounds until `until` holds or `max_iterations` rounds have run.

use std::collections::HashSet;

use super::drafts;
use super::{Branch, BranchLabel, Kind, StepField};
use crate::workflow::build::StepBuilder;
use crate::workflow::citations::Citations;
use crate::workflow::{Step, StepDraft, Test};

pub const MAX_LOOP_ITERATIONS: i64 = 100;

#[derive(Clone, Debug, PartialEq)]
pub struct LoopStep {
    pub steps: Vec<Step>,
    /// Checked after each round; none: every round runs.
    pub until: Option<Test>,
    pub max_iterations: u32,
}

impl Kind for LoopStep {
    fn build(b: &mut StepBuilder<'_, '_>) -> Self {
        let d = b.draft;
        let max = b.number(
            StepField::MaxIterations,
            &d.max_iterations,
            1,
            MAX_LOOP_ITERATIONS,
        );
        if d.max_iterations.value.is_none() {
            b.issue(
                StepField::MaxIterations,
                None,
                format!(
                    "a loop needs `max_iterations`, the most rounds it may run \
                     (1 to {MAX_LOOP_ITERATIONS})"
                ),
            );
        }
        LoopStep {
            until: b.test(StepField::Until, &d.until),
            steps: b.children(StepField::Steps, true),
            max_iterations: max.unwrap_or(1) as u32,
        }
    }

    fn draft(&self, d: &mut StepDraft) {
        d.steps = drafts(&self.steps);
        d.until = self
            .until
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default();
        d.max_iterations = Some(self.max_iterations);
    }

    // Its steps run in rounds: under `PATH#N`, round N.
    its_steps_are_one_branch!(BranchLabel::Rounds);

    /// `until` is checked after a round, so it may cite the round's steps.
    fn cite(&self, step: &Step, c: &mut Citations, done: &HashSet<String>) {
        let mut inside = done.clone();
        c.sequence(&self.steps, &mut inside);
        if let Some(t) = &self.until {
            c.test(step, StepField::Until, t, &inside);
        }
    }
}
