//! Workflows: a tree of steps (ARCHITECTURE.md §2). Most steps are agents (instructions and a
//! model); others hold steps of their own: `parallel`, `loop`, `condition`, `router`, `group`.
//!
//! Files are TOML. [`parse`] turns text into a validated [`Workflow`] or a [`WorkflowError`] whose
//! every issue names the file, the line, the step and the field. A workflow crosses to the window
//! (and into the history) as a [`WorkflowDraft`], the one shape both the editor and a file have.

mod draft;
mod error;
mod ids;
mod parse;
pub mod placeholders;
pub mod templates;
pub mod test_expr;
mod validate;

pub use draft::{RouteDraft, StepDraft, WorkflowDraft};
pub use error::{WorkflowError, WorkflowIssue};
pub use ids::{slug, unique};
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

#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    Agent {
        instructions: String,
        /// `None`: the engine's default model.
        model: Option<ModelRef>,
        /// The tools its model may call, by name (`web_search`, `fetch_page`).
        tools: Vec<String>,
        /// Model → tools → model rounds it may take before it must answer.
        max_tool_rounds: u32,
    },
    /// Children run at the same time; the output is each child's output under its name.
    Parallel { steps: Vec<Step> },
    /// Children run in rounds until `until` holds or `max_iterations` rounds have run.
    Loop {
        steps: Vec<Step>,
        until: Option<Test>,
        max_iterations: u32,
    },
    /// `then` runs when `test` holds, else `otherwise` (which may be empty).
    Condition {
        test: Test,
        then: Vec<Step>,
        otherwise: Vec<Step>,
    },
    /// A model picks one route for the input.
    Router {
        /// Extra guidance for the choice (may be empty).
        instructions: String,
        model: Option<ModelRef>,
        routes: Vec<Route>,
    },
    /// A named sequence.
    Group { steps: Vec<Step> },
    /// One tool call with the arguments the file gives (string values may cite `{{input}}` and
    /// `{{steps.ID.output}}`), no model: its answer is the step's output.
    Tool {
        tool: String,
        arguments: serde_json::Map<String, serde_json::Value>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub name: String,
    pub description: String,
    pub steps: Vec<Step>,
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

/// The kinds of step, as files and events name them.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type,
)]
#[serde(rename_all = "snake_case")]
pub enum StepKindName {
    #[default]
    Agent,
    Parallel,
    Loop,
    Condition,
    Router,
    Group,
    Tool,
}

impl StepKindName {
    pub const ALL: [StepKindName; 7] = [
        StepKindName::Agent,
        StepKindName::Parallel,
        StepKindName::Loop,
        StepKindName::Condition,
        StepKindName::Router,
        StepKindName::Group,
        StepKindName::Tool,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepKindName::Agent => "agent",
            StepKindName::Parallel => "parallel",
            StepKindName::Loop => "loop",
            StepKindName::Condition => "condition",
            StepKindName::Router => "router",
            StepKindName::Group => "group",
            StepKindName::Tool => "tool",
        }
    }
}

impl Step {
    pub fn kind_name(&self) -> StepKindName {
        match &self.kind {
            StepKind::Agent { .. } => StepKindName::Agent,
            StepKind::Parallel { .. } => StepKindName::Parallel,
            StepKind::Loop { .. } => StepKindName::Loop,
            StepKind::Condition { .. } => StepKindName::Condition,
            StepKind::Router { .. } => StepKindName::Router,
            StepKind::Group { .. } => StepKindName::Group,
            StepKind::Tool { .. } => StepKindName::Tool,
        }
    }

    /// The model this step calls itself (agents and routers), if it names one.
    pub fn model(&self) -> Option<&ModelRef> {
        match &self.kind {
            StepKind::Agent { model, .. } | StepKind::Router { model, .. } => model.as_ref(),
            _ => None,
        }
    }

    /// Whether this step calls a model itself.
    pub fn calls_model(&self) -> bool {
        matches!(self.kind, StepKind::Agent { .. } | StepKind::Router { .. })
    }

    /// The step's direct children, every branch and route included, in file order.
    pub fn children(&self) -> Vec<&Step> {
        match &self.kind {
            StepKind::Agent { .. } | StepKind::Tool { .. } => Vec::new(),
            StepKind::Parallel { steps }
            | StepKind::Loop { steps, .. }
            | StepKind::Group { steps } => steps.iter().collect(),
            StepKind::Condition {
                then, otherwise, ..
            } => then.iter().chain(otherwise).collect(),
            StepKind::Router { routes, .. } => routes.iter().flat_map(|r| &r.steps).collect(),
        }
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
                match &mut step.kind {
                    StepKind::Agent { model: m, .. } => *m = Some(model.clone()),
                    StepKind::Tool { .. } => {}
                    StepKind::Router {
                        model: m, routes, ..
                    } => {
                        *m = Some(model.clone());
                        for r in routes {
                            set(&mut r.steps, model);
                        }
                    }
                    StepKind::Parallel { steps }
                    | StepKind::Loop { steps, .. }
                    | StepKind::Group { steps } => set(steps, model),
                    StepKind::Condition {
                        then, otherwise, ..
                    } => {
                        set(then, model);
                        set(otherwise, model);
                    }
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
