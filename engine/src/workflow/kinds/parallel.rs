//! `parallel`: its steps run at the same time; its output is each one's under its name.

use std::collections::HashSet;

use super::drafts;
use super::{Branch, BranchLabel, Kind, StepField};
use crate::workflow::build::StepBuilder;
use crate::workflow::citations::Citations;
use crate::workflow::{Step, StepDraft};

#[derive(Clone, Debug, PartialEq)]
pub struct ParallelStep {
    pub steps: Vec<Step>,
}

impl Kind for ParallelStep {
    fn build(b: &mut StepBuilder<'_, '_>) -> Self {
        ParallelStep {
            steps: b.children(StepField::Steps, true),
        }
    }

    fn draft(&self, d: &mut StepDraft) {
        d.steps = drafts(&self.steps);
    }

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![Branch {
            steps: &self.steps,
            label: BranchLabel::None,
        }]
    }

    fn branches_mut(&mut self) -> Vec<&mut Vec<Step>> {
        vec![&mut self.steps]
    }

    /// Side by side: a branch cannot cite another, which may not have finished.
    fn cite(&self, _step: &Step, c: &mut Citations, done: &HashSet<String>) {
        for s in &self.steps {
            c.step(s, done);
        }
    }
}
