//! `parallel`: its steps run at the same time; its output is each one's under its name.

use std::collections::HashSet;

use super::{Branch, BranchLabel, Kind, StepField};
use crate::workflow::build::StepBuilder;
use crate::workflow::citations::Citations;
use crate::workflow::{Step, StepDraft};

#[derive(Clone, Debug, PartialEq)]
pub struct ParallelStep {
    /// The branches: each runs as a task of its own, beside the others, and none sees another's
    /// output.
    pub steps: Vec<Step>,
}

impl Kind for ParallelStep {
    holds_a_list_of_steps!();

    /// Side by side: a branch cannot cite another, which may not have finished.
    fn cite(&self, _step: &Step, c: &mut Citations, done: &HashSet<String>) {
        for s in &self.steps {
            c.step(s, done);
        }
    }
}
