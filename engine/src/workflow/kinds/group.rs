//! `group`: a named sequence of steps.

use std::collections::HashSet;

use super::drafts;
use super::{Branch, BranchLabel, Kind, StepField};
use crate::workflow::build::StepBuilder;
use crate::workflow::citations::Citations;
use crate::workflow::{Step, StepDraft};

#[derive(Clone, Debug, PartialEq)]
pub struct GroupStep {
    pub steps: Vec<Step>,
}

impl Kind for GroupStep {
    fn build(b: &mut StepBuilder<'_, '_>) -> Self {
        GroupStep {
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

    fn cite(&self, _step: &Step, c: &mut Citations, done: &HashSet<String>) {
        c.sequence(&self.steps, &mut done.clone());
    }
}
