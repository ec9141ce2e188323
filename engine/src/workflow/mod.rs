//! Workflows: a tree of steps (ARCHITECTURE.md §2). Most steps are agents (instructions and a
//! model); others hold steps of their own (`parallel`, `loop`, `condition`, `router`, `group`)
//! or call one tool (`tool`). Each kind is one file in `kinds/`, and one row of its table.
//!
//! Files are TOML. [`parse`] turns text into a validated [`Workflow`] or a [`WorkflowError`] whose
//! every issue names the file, the line, the step and the field. A workflow crosses to the window
//! (and into the history) as a [`WorkflowDraft`], the one shape both the editor and a file have.

mod build;
mod citations;
mod draft;
mod error;
mod ids;
pub mod kinds;
mod parse;
pub mod placeholders;
mod table;
pub mod templates;
pub mod test_expr;
mod validate;

pub use draft::{RouteDraft, StepDraft, WorkflowDraft};
pub use error::{WorkflowError, WorkflowIssue};
pub use ids::{slug, unique};
pub use kinds::{
    AgentStep, ConditionStep, GroupStep, LoopStep, ParallelStep, Route, RouterStep, STEP_KINDS,
    StepField, StepKind, StepKindInfo, StepKindName, ToolStep,
};
pub use parse::{parse, parse_file};
pub use test_expr::{Test, TestContext};

/// Tool rounds an agent may take unless its step says otherwise.
pub const DEFAULT_MAX_TOOL_ROUNDS: u32 = 8;

use serde::{Deserialize, Serialize};

use crate::model_ref::ModelRef;

/// A validated workflow. Construct it with [`parse`] or from a [`WorkflowDraft`] so that the
/// engine never sees an invalid one. Its serde form is the draft's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "WorkflowDraft", try_from = "WorkflowDraft")]
pub struct Workflow {
    pub name: String,
    pub description: String,
    pub steps: Vec<Step>,
}

/// One step of the tree. Its `id` is unique in the workflow (from its name unless given) and is
/// how instructions cite its output and how events name it.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub kind: StepKind,
    /// The whole step (with its children) must end within this many seconds.
    pub timeout_secs: Option<u64>,
    /// Extra attempts after a provider fault, only while no text has been shown (agent, router).
    pub retries: u32,
    pub on_error: OnError,
    /// When it finishes, the run waits for the person to approve, edit or send back its output.
    pub review: bool,
}

/// What a step's failure does to the run. A cancel ignores it: a cancel always stops the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The run fails.
    #[default]
    Stop,
    /// The step is marked skipped, its output empty, and the run goes on.
    Skip,
    /// The step is marked failed, its text so far stands as its output, and the run goes on.
    Continue,
}

impl Step {
    pub fn kind_name(&self) -> StepKindName {
        self.kind.name()
    }

    /// The model this step calls itself (agents and routers), if it names one.
    pub fn model(&self) -> Option<&ModelRef> {
        self.kind.model()
    }

    /// Whether this step calls a model itself.
    pub fn calls_model(&self) -> bool {
        self.kind_name().info().calls_model
    }

    /// The step's direct children, every branch and route included, in file order.
    pub fn children(&self) -> Vec<&Step> {
        self.kind
            .branches()
            .into_iter()
            .flat_map(|b| b.steps)
            .collect()
    }

    /// This step and everything under it, depth first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Step)) {
        f(self);
        for c in self.children() {
            c.walk(f);
        }
    }
}

impl Workflow {
    /// Checks a workflow built in code by the same rules as a file.
    pub fn validate(&self) -> Result<(), WorkflowError> {
        WorkflowDraft::from(self).validate().map(|_| ())
    }

    /// Replaces the model of every step that calls one (the CLI's `--model`).
    pub fn with_model(mut self, model: &ModelRef) -> Self {
        fn set(steps: &mut [Step], model: &ModelRef) {
            for step in steps {
                if let Some(m) = step.kind.model_slot() {
                    *m = Some(model.clone());
                }
                for branch in step.kind.branches_mut() {
                    set(branch, model);
                }
            }
        }
        set(&mut self.steps, model);
        self
    }

    /// Every step of the tree, depth first in file order.
    pub fn all_steps(&self) -> Vec<&Step> {
        let mut out = Vec::new();
        for s in &self.steps {
            s.walk(&mut |x| out.push(x));
        }
        out
    }

    /// The step with this id, anywhere in the tree.
    pub fn find(&self, id: &str) -> Option<&Step> {
        self.all_steps().into_iter().find(|s| s.id == id)
    }
}

impl TryFrom<WorkflowDraft> for Workflow {
    type Error = WorkflowError;
    fn try_from(d: WorkflowDraft) -> Result<Self, WorkflowError> {
        d.validate()
    }
}

/// The ids steps with these names get in a straight workflow that gives no ids (how old
/// histories' steps are named today).
pub fn ids_for_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    names
        .into_iter()
        .map(|n| {
            let id = ids::unique(ids::from_name(n.trim()), |x| taken.contains(x));
            taken.insert(id.clone());
            id
        })
        .collect()
}
