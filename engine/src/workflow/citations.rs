//! The second pass: what instructions, arguments and tests cite (`{{steps.ID.output}}`,
//! `output("ID")`) must have finished before the citing step runs. It needs every id and the
//! order steps run in, so it runs over the built tree; each kind says how its steps are ordered
//! (`Kind::cite`; `sequence` is in `kinds/mod.rs`).

use std::collections::{HashMap, HashSet};

use super::placeholders::{Placeholder, cited};
use super::table::StepField;
use super::{Step, Test, WorkflowIssue};

/// Where a step is in the file, for the issues this pass finds.
pub(super) struct Place {
    pub at: String,
    pub name: Option<String>,
    pub instructions_line: Option<u32>,
    pub if_line: Option<u32>,
    pub until_line: Option<u32>,
}

pub(in crate::workflow) struct Citations {
    places: HashMap<String, Place>,
    pub(super) issues: Vec<WorkflowIssue>,
}

impl Citations {
    pub(super) fn new(places: HashMap<String, Place>) -> Self {
        Citations {
            places,
            issues: Vec::new(),
        }
    }

    /// A text field's `{{steps.ID.output}}` placeholders.
    pub fn text(&mut self, s: &Step, field: StepField, text: &str, done: &HashSet<String>) {
        for p in cited(text) {
            if let Placeholder::StepOutput(id) = p
                && let Some(msg) = self.problem(s, &id, done)
            {
                self.issue(s, field, msg);
            }
        }
    }

    /// A test's `output("ID")` subjects.
    pub fn test(&mut self, s: &Step, field: StepField, t: &Test, done: &HashSet<String>) {
        for id in t.cited_steps() {
            if let Some(msg) = self.problem(s, &id, done) {
                self.issue(s, field, msg);
            }
        }
    }

    fn problem(&self, s: &Step, id: &str, done: &HashSet<String>) -> Option<String> {
        if done.contains(id) {
            None
        } else if id == s.id {
            Some(format!("a step cannot use its own output (`{id}`)"))
        } else if self.places.contains_key(id) {
            Some(format!(
                "the step `{id}` has not finished when this one runs (it runs later, or beside \
                 it), so its output cannot be used here"
            ))
        } else {
            Some(format!("no step has the id `{id}`"))
        }
    }

    fn issue(&mut self, s: &Step, field: StepField, message: String) {
        let Some(place) = self.places.get(&s.id) else {
            return;
        };
        let line = match field {
            StepField::If => place.if_line,
            StepField::Until => place.until_line,
            _ => place.instructions_line,
        };
        self.issues.push(WorkflowIssue {
            step: Some(place.at.clone()),
            step_name: place.name.clone(),
            field: Some(field.as_str().to_string()),
            line,
            message,
        });
    }
}
