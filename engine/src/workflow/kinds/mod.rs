//! The kinds of step, said once. Each kind is a struct in its own file here (what a step of that
//! kind holds, how it is built from a checked draft, how it is written back, what it cites) and
//! one row of [`STEP_KINDS`] (its words and fields, which the editor, the stepper and the command
//! line read — the window gets the table through the generated bindings).
//!
//! To add a kind: a file here with its struct and a [`Kind`] impl; here its variant of
//! [`StepKind`] and its arms of `each_kind!`, `StepKind::name` and `StepKind::build`; in
//! `table.rs` its [`StepKindName`] and its row of [`STEP_KINDS`]; its executor in `run/steps/`
//! (ARCHITECTURE.md §11). The compiler points at each place that must learn it.

/// The structural half of `Kind` for a kind whose only steps are one plain list in `steps`
/// (a group, a parallel): it builds them, writes them back, and lists them as one branch.
macro_rules! holds_a_list_of_steps {
    () => {
        fn build(b: &mut StepBuilder<'_, '_>) -> Self {
            Self {
                steps: b.children(StepField::Steps, true),
            }
        }

        fn draft(&self, d: &mut StepDraft) {
            d.steps = super::drafts(&self.steps);
        }

        its_steps_are_one_branch!(BranchLabel::None);
    };
}

/// `Kind`'s `branches` for a kind whose steps are all in `steps`, as one branch of this label.
macro_rules! its_steps_are_one_branch {
    ($label:expr) => {
        fn branches(&self) -> Vec<Branch<'_>> {
            vec![Branch {
                steps: &self.steps,
                label: $label,
            }]
        }

        fn branches_mut(&mut self) -> Vec<&mut Vec<Step>> {
            vec![&mut self.steps]
        }
    };
}

/// `Kind`'s model methods for a kind that calls a model, named in its `model` field.
macro_rules! calls_a_model {
    () => {
        fn model(&self) -> Option<&ModelRef> {
            self.model.as_ref()
        }

        fn model_slot(&mut self) -> Option<&mut Option<ModelRef>> {
            Some(&mut self.model)
        }
    };
}

mod agent;
mod condition;
mod group;
mod loop_step;
mod parallel;
mod router;
mod tool;

pub use agent::AgentStep;
pub use condition::ConditionStep;
pub use group::GroupStep;
pub use loop_step::LoopStep;
pub use parallel::ParallelStep;
pub use router::{Route, RouterStep};
pub use tool::ToolStep;

use std::collections::HashSet;

use super::build::StepBuilder;
use super::citations::Citations;
use super::draft::{StepDraft, WorkflowDraft};
pub use super::table::{STEP_KINDS, StepField, StepKindInfo, StepKindName};
use super::{OnError, Step, Workflow};
use crate::model_ref::ModelRef;

/// What a step does, with what only its kind has.
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    Agent(AgentStep),
    Parallel(ParallelStep),
    Loop(LoopStep),
    Condition(ConditionStep),
    Router(RouterStep),
    Group(GroupStep),
    Tool(ToolStep),
}

/// Runs `$body` with `$k` bound to the kind's struct, whatever the kind.
macro_rules! each_kind {
    ($kind:expr, $k:ident => $body:expr) => {
        match $kind {
            StepKind::Agent($k) => $body,
            StepKind::Parallel($k) => $body,
            StepKind::Loop($k) => $body,
            StepKind::Condition($k) => $body,
            StepKind::Router($k) => $body,
            StepKind::Group($k) => $body,
            StepKind::Tool($k) => $body,
        }
    };
}

/// Steps inside a step, and how they run relative to it.
pub struct Branch<'a> {
    pub steps: &'a [Step],
    pub label: BranchLabel<'a>,
}

/// What the events say of a branch's steps.
#[derive(Clone, Copy)]
pub enum BranchLabel<'a> {
    /// Plain children (a group's, a parallel's).
    None,
    /// A named branch: `then`, `else`, a route's name.
    Named(&'a str),
    /// Rounds: the steps run under `PATH#N`, round N.
    Rounds,
}

/// What each kind's file provides.
pub(in crate::workflow) trait Kind: Sized {
    /// Builds the kind from a draft whose common fields are checked; issues go to `b`.
    fn build(b: &mut StepBuilder<'_, '_>) -> Self;
    /// Writes the kind's fields into a draft (the inverse of `build`).
    fn draft(&self, d: &mut StepDraft);
    /// The steps inside it, by branch, in file order.
    fn branches(&self) -> Vec<Branch<'_>> {
        Vec::new()
    }
    fn branches_mut(&mut self) -> Vec<&mut Vec<Step>> {
        Vec::new()
    }
    /// The model it names, for a kind that calls one.
    fn model_slot(&mut self) -> Option<&mut Option<ModelRef>> {
        None
    }
    fn model(&self) -> Option<&ModelRef> {
        None
    }
    /// Checks what it and its steps cite, given the ids finished before it (`done`).
    fn cite(&self, step: &Step, c: &mut Citations, done: &HashSet<String>);
}

impl StepKind {
    pub fn name(&self) -> StepKindName {
        match self {
            StepKind::Agent(_) => StepKindName::Agent,
            StepKind::Parallel(_) => StepKindName::Parallel,
            StepKind::Loop(_) => StepKindName::Loop,
            StepKind::Condition(_) => StepKindName::Condition,
            StepKind::Router(_) => StepKindName::Router,
            StepKind::Group(_) => StepKindName::Group,
            StepKind::Tool(_) => StepKindName::Tool,
        }
    }

    pub(super) fn build(name: StepKindName, b: &mut StepBuilder<'_, '_>) -> StepKind {
        match name {
            StepKindName::Agent => StepKind::Agent(Kind::build(b)),
            StepKindName::Parallel => StepKind::Parallel(Kind::build(b)),
            StepKindName::Loop => StepKind::Loop(Kind::build(b)),
            StepKindName::Condition => StepKind::Condition(Kind::build(b)),
            StepKindName::Router => StepKind::Router(Kind::build(b)),
            StepKindName::Group => StepKind::Group(Kind::build(b)),
            StepKindName::Tool => StepKind::Tool(Kind::build(b)),
        }
    }

    pub(super) fn draft(&self, d: &mut StepDraft) {
        each_kind!(self, k => k.draft(d))
    }

    pub fn branches(&self) -> Vec<Branch<'_>> {
        each_kind!(self, k => k.branches())
    }

    pub(super) fn branches_mut(&mut self) -> Vec<&mut Vec<Step>> {
        each_kind!(self, k => k.branches_mut())
    }

    pub fn model(&self) -> Option<&ModelRef> {
        each_kind!(self, k => k.model())
    }

    pub(super) fn model_slot(&mut self) -> Option<&mut Option<ModelRef>> {
        each_kind!(self, k => k.model_slot())
    }

    pub(super) fn cite(&self, step: &Step, c: &mut Citations, done: &HashSet<String>) {
        each_kind!(self, k => k.cite(step, c, done))
    }
}

impl Citations {
    /// Steps in order: each sees what finished before it, then counts as finished itself.
    pub fn sequence(&mut self, steps: &[Step], done: &mut HashSet<String>) {
        for s in steps {
            self.step(s, done);
            s.walk(&mut |x| {
                done.insert(x.id.clone());
            });
        }
    }

    /// One step (and what is inside it), seeing `done`: its kind says how its steps are ordered.
    pub fn step(&mut self, s: &Step, done: &HashSet<String>) {
        s.kind.cite(s, self, done);
    }
}

/// Steps as drafts (a kind's `draft`).
pub(in crate::workflow) fn drafts(steps: &[Step]) -> Vec<StepDraft> {
    steps.iter().map(StepDraft::from).collect()
}

impl From<&Step> for StepDraft {
    fn from(s: &Step) -> Self {
        let mut d = StepDraft {
            id: s.id.clone(),
            name: s.name.clone(),
            kind: s.kind_name(),
            timeout_secs: s.timeout_secs,
            retries: (s.retries > 0).then_some(s.retries),
            on_error: (s.on_error != OnError::Stop).then_some(s.on_error),
            review: s.review,
            model: s.model().map(ToString::to_string),
            ..StepDraft::default()
        };
        s.kind.draft(&mut d);
        d
    }
}

impl From<&Workflow> for WorkflowDraft {
    fn from(w: &Workflow) -> Self {
        WorkflowDraft {
            name: w.name.clone(),
            description: w.description.clone(),
            steps: drafts(&w.steps),
        }
    }
}

impl From<Workflow> for WorkflowDraft {
    fn from(w: Workflow) -> Self {
        WorkflowDraft::from(&w)
    }
}
