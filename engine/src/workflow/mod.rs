//! Workflows: an ordered list of steps, each an agent (instructions and a model).
//!
//! Files are TOML (ARCHITECTURE.md §2). [`parse`] turns text into a validated [`Workflow`] or a
//! [`WorkflowError`] whose every issue names the file, the step and the field.

mod error;
mod parse;
pub mod templates;

pub use error::{WorkflowError, WorkflowIssue};
pub use parse::{parse, parse_file};

use serde::{Deserialize, Serialize};

use crate::model_ref::ModelRef;

/// A validated workflow. Construct it with [`parse`] (or [`Workflow::validate`] for one built in
/// code) so that the engine never sees an invalid one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Workflow {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub steps: Vec<Step>,
}

/// One step: an agent with instructions and a model. A step without a model uses the engine's
/// default model (the offline demo model unless settings say otherwise).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Step {
    pub name: String,
    pub instructions: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[specta(type = Option<String>)]
    pub model: Option<ModelRef>,
}

impl Workflow {
    /// Checks a workflow built in code (or edited in the UI) by the same rules as a file.
    pub fn validate(&self) -> Result<(), WorkflowError> {
        WorkflowDraft::from(self).validate().map(|_| ())
    }

    /// Replaces every step's model (the CLI's `--model`).
    pub fn with_model(mut self, model: &ModelRef) -> Self {
        for step in &mut self.steps {
            step.model = Some(model.clone());
        }
        self
    }
}

/// A workflow as an editor holds it: any text in any field, a model not yet checked. It crosses
/// from the UI in this form so that every mistake comes back as a [`WorkflowError`] on its field,
/// never as a failure to read the message. A [`Workflow`] serializes to the same shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct WorkflowDraft {
    pub name: String,
    pub description: String,
    pub steps: Vec<StepDraft>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct StepDraft {
    pub name: String,
    pub instructions: String,
    /// Empty or absent: the default model.
    pub model: Option<String>,
}

impl WorkflowDraft {
    /// The workflow, checked by the same rules as a file (no line numbers: there is no file).
    pub fn validate(&self) -> Result<Workflow, WorkflowError> {
        parse::Draft::from_draft(self).validate(None)
    }
}

impl From<&Workflow> for WorkflowDraft {
    fn from(w: &Workflow) -> Self {
        WorkflowDraft {
            name: w.name.clone(),
            description: w.description.clone(),
            steps: w
                .steps
                .iter()
                .map(|s| StepDraft {
                    name: s.name.clone(),
                    instructions: s.instructions.clone(),
                    model: s.model.as_ref().map(ToString::to_string),
                })
                .collect(),
        }
    }
}
