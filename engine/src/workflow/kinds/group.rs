//! `group`: a named sequence of steps.

use std::collections::HashSet;

use super::{Branch, BranchLabel, Kind, StepField};
use crate::workflow::build::StepBuilder;
use crate::workflow::citations::Citations;
use crate::workflow::{Step, StepDraft};

#[derive(Clone, Debug, PartialEq)]
pub struct GroupStep {
    /// In order: each gets the output of the one before it.
    pub steps: Vec<Step>,
}

impl Kind for GroupStep {
    holds_a_list_of_steps!();

    fn cite(&self, _step: &Step, c: &mut Citations, done: &HashSet<String>) {
        c.sequence(&self.steps, &mut done.clone());
    }
}
