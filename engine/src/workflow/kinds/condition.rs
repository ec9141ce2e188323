//! `condition`: `then` runs when the test holds, else `otherwise` (which may be empty).

use std::collections::HashSet;

use super::drafts;
use super::{Branch, BranchLabel, Kind, StepField};
use crate::workflow::build::StepBuilder;
use crate::workflow::citations::Citations;
use crate::workflow::{Step, StepDraft, Test};

#[derive(Clone, Debug, PartialEq)]
pub struct ConditionStep {
    pub test: Test,
    pub then: Vec<Step>,
    pub otherwise: Vec<Step>,
}

impl Kind for ConditionStep {
    fn build(b: &mut StepBuilder<'_, '_>) -> Self {
        let d = b.draft;
        let test = b.test(StepField::If, &d.if_test);
        if d.if_test.text().is_none() {
            b.issue(
                StepField::If,
                d.if_test.line,
                "a condition needs an `if` test, for example: output contains \"yes\"".into(),
            );
        }
        let then = b.children(StepField::Then, true);
        let otherwise = b.children(StepField::Else, false);
        ConditionStep {
            // Stands in for a test that did not parse (the workflow is refused anyway).
            test: test.unwrap_or_else(Test::never),
            then,
            otherwise,
        }
    }

    fn draft(&self, d: &mut StepDraft) {
        d.if_test = self.test.to_string();
        d.then = drafts(&self.then);
        d.else_steps = drafts(&self.otherwise);
    }

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![
            Branch {
                steps: &self.then,
                label: BranchLabel::Named("then"),
            },
            Branch {
                steps: &self.otherwise,
                label: BranchLabel::Named("else"),
            },
        ]
    }

    fn branches_mut(&mut self) -> Vec<&mut Vec<Step>> {
        vec![&mut self.then, &mut self.otherwise]
    }

    fn cite(&self, step: &Step, c: &mut Citations, done: &HashSet<String>) {
        c.test(step, StepField::If, &self.test, done);
        c.sequence(&self.then, &mut done.clone());
        c.sequence(&self.otherwise, &mut done.clone());
    }
}
