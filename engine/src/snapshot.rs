//! What a run looks like at a given `seq`: the fold of its events.
//!
//! The engine keeps one snapshot per run and applies every event to it as it is emitted, so
//! `snapshot == fold(events 1..=last_seq)` always holds. A UI (re)joining a run takes a snapshot
//! and applies the events after `last_seq` with the same rules.

use serde::{Deserialize, Serialize};

use crate::event::{
    ApprovalAnswer, CancelReason, ErrorKind, EventKind, ResumedFrom, ReviewAnswer, RunEvent, RunId,
    SkipReason, StepInfo, Usage,
};
use crate::status::{RunStatus, StepStatus};
use crate::workflow::StepKindName;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunSnapshot {
    pub run_id: RunId,
    pub workflow_name: String,
    pub input: String,
    pub status: RunStatus,
    pub steps: Vec<StepSnapshot>,
    /// The last step's output once completed.
    pub final_output: Option<String>,
    pub cancel_reason: Option<CancelReason>,
    pub error: Option<RunError>,
    #[specta(type = Option<u32>)]
    pub started_at_ms: Option<u64>,
    #[specta(type = Option<u32>)]
    pub ended_at_ms: Option<u64>,
    #[specta(type = u32)]
    pub last_seq: u64,
    /// The run this one continues, and from which step.
    #[serde(default)]
    pub resumed_from: Option<ResumedFrom>,
    /// The runs that continue this one, oldest first. Not part of the fold (the later runs'
    /// `RunStarted` say it): the history fills it in when it reads a run.
    #[serde(default)]
    pub continued_in: Vec<RunId>,
    /// Every step's tokens and cost added up (`None` until a step has some).
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Who runs it, when another Stepwise process does (the window follows it through that
    /// process's endpoint); `None`: this process, or the history.
    #[serde(default)]
    pub owner: Option<crate::owner::OwnerKind>,
}

/// One step as far as the run has got: the outline's steps from the start, others (a loop's
/// later rounds) from when they start. The list only grows, in order of first appearance; a
/// step's children follow it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct StepSnapshot {
    pub path: String,
    pub parent: Option<String>,
    pub id: String,
    pub name: String,
    pub kind: StepKindName,
    pub model: String,
    pub branch: Option<String>,
    pub round: Option<u32>,
    pub status: StepStatus,
    /// Everything streamed so far; the output once completed.
    pub text: String,
    #[specta(type = Option<u32>)]
    pub started_at_ms: Option<u64>,
    #[specta(type = Option<u32>)]
    pub duration_ms: Option<u64>,
    pub usage: Option<Usage>,
    /// A loop: the round running (or the last one run) and the most it may run.
    pub rounds: Option<LoopRounds>,
    /// A router: the route it took and why.
    pub chosen: Option<RouteChoice>,
    /// Why it was skipped (`None` for a step the run's end left unstarted).
    pub skipped: Option<SkipReason>,
    /// What went wrong, for a step that failed or whose failure was set aside.
    pub note: Option<String>,
    /// The tools its model called, in the order they began.
    pub tool_calls: Vec<ToolCallView>,
    /// Its reviews so far, answered ones only, oldest first (`review = true`): what it wrote
    /// each time and what the person said.
    #[serde(default)]
    pub reviews: Vec<ReviewRound>,
    /// Its output was taken from the run this one continues.
    #[serde(default)]
    pub reused: bool,
    /// It had finished and was waiting for its review when the run ended: its text is its whole
    /// output, and a run that continues from it asks for the review again instead of running it.
    #[serde(default)]
    pub unreviewed: bool,
}

/// One answered review of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ReviewRound {
    /// The step's output as the person saw it.
    pub output: String,
    pub answer: ReviewAnswer,
}

/// One tool call as far as it has got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ToolCallView {
    pub call_id: String,
    pub tool: String,
    pub arguments: String,
    pub title: String,
    /// Where in the step's text it happened (characters before it).
    pub at: u32,
    pub status: ToolCallStatus,
    pub preview: Option<String>,
    pub result: Option<String>,
    /// The person's answer, for a call that asked.
    pub approval: Option<ApprovalAnswer>,
    #[specta(type = Option<u32>)]
    pub started_at_ms: Option<u64>,
    #[specta(type = Option<u32>)]
    pub duration_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallStatus {
    /// It waits for the person to allow it.
    Waiting,
    Running,
    /// It answered.
    Done,
    /// It went wrong (the model was told so).
    Failed,
    /// The step or the run ended while it was running; it was stopped.
    Cancelled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct LoopRounds {
    pub round: u32,
    pub max: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct RouteChoice {
    pub route: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunError {
    /// The step whose failure ended the run, when one did.
    pub path: Option<String>,
    pub kind: ErrorKind,
    pub message: String,
}

/// A line in a list of runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunSummary {
    pub run_id: RunId,
    pub workflow_name: String,
    pub input: String,
    pub status: RunStatus,
    #[specta(type = Option<u32>)]
    pub started_at_ms: Option<u64>,
    #[specta(type = Option<u32>)]
    pub ended_at_ms: Option<u64>,
    /// Its steps' tokens and cost added up.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Who runs it, for a live run another Stepwise process owns (`None`: this process, or
    /// the run has ended).
    #[serde(default)]
    pub owner: Option<crate::owner::OwnerKind>,
}

impl RunSnapshot {
    /// A run that exists but has emitted nothing yet.
    pub fn new(run_id: RunId) -> Self {
        RunSnapshot {
            run_id,
            workflow_name: String::new(),
            input: String::new(),
            status: RunStatus::Pending,
            steps: Vec::new(),
            final_output: None,
            cancel_reason: None,
            error: None,
            started_at_ms: None,
            ended_at_ms: None,
            last_seq: 0,
            resumed_from: None,
            continued_in: Vec::new(),
            usage: None,
            owner: None,
        }
    }

    pub fn summary(&self) -> RunSummary {
        RunSummary {
            run_id: self.run_id,
            workflow_name: self.workflow_name.clone(),
            input: self.input.clone(),
            status: self.status,
            started_at_ms: self.started_at_ms,
            ended_at_ms: self.ended_at_ms,
            usage: self.usage,
            owner: self.owner,
        }
    }

    /// The run's output: that of its last top-level step that gave one (a step set aside by
    /// `on_error = "skip"` gives none, so the output before it passes on).
    pub fn final_text(&self) -> String {
        self.steps
            .iter()
            .rev()
            .find(|s| {
                s.parent.is_none() && matches!(s.status, StepStatus::Completed | StepStatus::Failed)
            })
            .map(|s| s.text.clone())
            .unwrap_or_default()
    }

    /// The step with this path.
    pub fn step(&self, path: &str) -> Option<&StepSnapshot> {
        self.steps.iter().rev().find(|s| s.path == path)
    }

    fn step_mut(&mut self, path: &str) -> Option<&mut StepSnapshot> {
        self.steps.iter_mut().rev().find(|s| s.path == path)
    }

    fn tool_call_mut(&mut self, path: &str, call_id: &str) -> Option<&mut ToolCallView> {
        // The last with that id: a server that numbers calls per turn reuses ids across rounds,
        // and a round's calls all start before any of them ends.
        self.step_mut(path)?
            .tool_calls
            .iter_mut()
            .rev()
            .find(|c| c.call_id == call_id)
    }

    /// The tool calls waiting for the person, with their steps' paths.
    pub fn waiting_calls(&self) -> impl Iterator<Item = (&str, &ToolCallView)> {
        self.steps.iter().flat_map(|s| {
            s.tool_calls
                .iter()
                .filter(|c| c.status == ToolCallStatus::Waiting)
                .map(move |c| (s.path.as_str(), c))
        })
    }

    /// Where the step with this path is in `steps` (stable: the list only grows).
    pub fn position(&self, path: &str) -> Option<usize> {
        self.steps.iter().rposition(|s| s.path == path)
    }

    /// Every step that is running or waiting for its review, outermost first.
    pub fn running(&self) -> impl Iterator<Item = &StepSnapshot> {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Running | StepStatus::Waiting))
    }

    /// Whether anything waits for the person: a step's review or a tool call to allow.
    pub fn waits_for_person(&self) -> bool {
        self.steps.iter().any(|s| s.status == StepStatus::Waiting)
            || self.waiting_calls().next().is_some()
    }

    /// Whether the run can wait across a quit: it waits for reviews only, and every step still
    /// running holds one of them (a parallel step whose branch waits). A tool call waiting to
    /// be allowed is in the middle of its step's conversation with the model, which is not
    /// saved: such a run is stopped at a quit like a running one.
    pub fn can_wait_across_restart(&self) -> bool {
        let reviews: Vec<&str> = self
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Waiting)
            .map(|s| s.path.as_str())
            .collect();
        !reviews.is_empty()
            && self.waiting_calls().next().is_none()
            && self
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Running)
                .all(|s| reviews.iter().any(|r| is_inside(r, &s.path)))
    }

    /// Applies the next event. Returns false (and changes nothing) for an event that is not the
    /// next one (it must start at `last_seq + 1`; a coalesced delta covers `first_seq..=seq`) or
    /// belongs to another run, which makes re-delivery harmless.
    pub fn apply(&mut self, event: &RunEvent) -> bool {
        let next = self.last_seq + 1;
        if event.run_id != self.run_id || event.first_seq() != next || event.seq < next {
            return false;
        }
        self.last_seq = event.seq;
        let now = event.ts_ms;
        match &event.kind {
            EventKind::RunStarted {
                workflow_name,
                input,
                steps,
                resumed_from,
            } => {
                self.resumed_from.clone_from(resumed_from);
                self.workflow_name.clone_from(workflow_name);
                self.input.clone_from(input);
                self.started_at_ms = Some(now);
                self.steps = steps.iter().map(StepSnapshot::pending).collect();
            }
            EventKind::StepStarted { step } => {
                self.status = RunStatus::Running;
                if self.step(&step.path).is_none() {
                    self.steps.push(StepSnapshot::pending(step));
                }
                if let Some(s) = self.step_mut(&step.path) {
                    // A step that starts again while running was cut where another worker
                    // took the run over (§13): it starts from nothing.
                    if s.status == StepStatus::Running {
                        s.text.clear();
                        s.tool_calls.clear();
                        s.usage = None;
                    }
                    s.status = StepStatus::Running;
                    s.started_at_ms = Some(now);
                    s.model.clone_from(&step.model);
                }
            }
            EventKind::TextDelta { path, text } => {
                if let Some(s) = self.step_mut(path) {
                    s.text.push_str(text);
                }
            }
            EventKind::StepCompleted {
                path,
                output,
                duration_ms,
                usage,
            } => {
                if let Some(s) = self.step_mut(path) {
                    s.status = StepStatus::Completed;
                    s.text.clone_from(output);
                    s.duration_ms = Some(*duration_ms);
                    s.usage = *usage;
                }
            }
            EventKind::StepFailed {
                path,
                message,
                duration_ms,
                usage,
                ..
            } => {
                if let Some(s) = self.step_mut(path) {
                    s.stop_tool_calls(now);
                    s.status = StepStatus::Failed;
                    s.duration_ms = Some(*duration_ms);
                    s.note = Some(message.clone());
                    s.usage = *usage;
                }
            }
            EventKind::StepSkipped {
                path,
                reason,
                message,
                usage,
            } => self.skip(path, *reason, message.as_ref(), *usage, now),
            EventKind::LoopRoundStarted {
                path,
                round,
                max_rounds,
            } => {
                if let Some(s) = self.step_mut(path) {
                    s.rounds = Some(LoopRounds {
                        round: *round,
                        max: *max_rounds,
                    });
                }
            }
            EventKind::RouteChosen {
                path,
                route,
                reason,
            } => {
                if let Some(s) = self.step_mut(path) {
                    s.chosen = Some(RouteChoice {
                        route: route.clone(),
                        reason: reason.clone(),
                    });
                }
            }
            EventKind::ToolCallStarted {
                path,
                call_id,
                tool,
                arguments,
                title,
                at,
            } => {
                let call = ToolCallView {
                    call_id: call_id.clone(),
                    tool: tool.clone(),
                    arguments: arguments.clone(),
                    title: title.clone(),
                    at: *at,
                    status: ToolCallStatus::Running,
                    preview: None,
                    result: None,
                    approval: None,
                    started_at_ms: Some(now),
                    duration_ms: None,
                };
                if let Some(s) = self.step_mut(path) {
                    s.tool_calls.push(call);
                }
            }
            EventKind::ToolCallFinished {
                path,
                call_id,
                ok,
                preview,
                result,
                duration_ms,
            } => {
                if let Some(c) = self.tool_call_mut(path, call_id) {
                    c.status = if *ok {
                        ToolCallStatus::Done
                    } else {
                        ToolCallStatus::Failed
                    };
                    c.preview = Some(preview.clone());
                    c.result = Some(result.clone());
                    c.duration_ms = Some(*duration_ms);
                }
            }
            EventKind::ToolApprovalRequested { path, call_id } => {
                if let Some(c) = self.tool_call_mut(path, call_id) {
                    c.status = ToolCallStatus::Waiting;
                }
            }
            EventKind::ToolApprovalAnswered {
                path,
                call_id,
                answer,
            } => {
                if let Some(c) = self.tool_call_mut(path, call_id) {
                    // A denied call ends with its ToolCallFinished (the model is told).
                    c.status = ToolCallStatus::Running;
                    c.approval = Some(*answer);
                }
            }
            EventKind::ReviewRequested { path, output } => {
                if let Some(s) = self.step_mut(path) {
                    s.status = StepStatus::Waiting;
                    s.text.clone_from(output);
                }
            }
            EventKind::ReviewAnswered { path, answer } => self.answer_review(path, answer),
            EventKind::StepReused { step, output, .. } => self.reuse(step, output),
            EventKind::RunCompleted { output, .. } => {
                self.status = RunStatus::Completed;
                self.final_output = Some(output.clone());
                self.ended_at_ms = Some(now);
                self.end_steps(None, now);
            }
            EventKind::RunCancelled {
                reason, running, ..
            } => {
                for p in running {
                    if let (Some(u), Some(s)) = (p.usage, self.step_mut(&p.path)) {
                        s.usage = Some(u);
                    }
                }
                self.status = RunStatus::Cancelled;
                self.cancel_reason = Some(*reason);
                self.ended_at_ms = Some(now);
                self.end_steps(None, now);
            }
            EventKind::RunFailed {
                path,
                error,
                message,
                ..
            } => {
                self.status = RunStatus::Failed;
                self.error = Some(RunError {
                    path: path.clone(),
                    kind: *error,
                    message: message.clone(),
                });
                self.ended_at_ms = Some(now);
                self.end_steps(path.as_deref(), now);
            }
        }
        self.after(&event.kind);
        true
    }

    /// A step set aside: it keeps its text; the steps inside it that had not ended are skipped
    /// with it.
    fn skip(
        &mut self,
        path: &str,
        reason: SkipReason,
        message: Option<&String>,
        usage: Option<Usage>,
        now: u64,
    ) {
        for s in &mut self.steps {
            if s.path == path || is_inside(&s.path, path) {
                s.stop_tool_calls(now);
            }
            if s.path == path {
                s.status = StepStatus::Skipped;
                s.skipped = Some(reason);
                s.note = message.cloned();
                s.usage = usage;
                s.duration_ms = s.started_at_ms.map(|t| now.saturating_sub(t));
            } else if is_inside(&s.path, path) && !s.status.is_ended() {
                s.status = StepStatus::Skipped;
                s.skipped = Some(reason);
            }
        }
    }

    /// The person answered a step's review: it goes on (approve, edit) or runs again (send back).
    fn answer_review(&mut self, path: &str, answer: &ReviewAnswer) {
        if matches!(answer, ReviewAnswer::SendBack { .. }) {
            // The steps inside it run again too: they start over.
            for s in self.steps.iter_mut().filter(|s| is_inside(&s.path, path)) {
                let fresh = StepSnapshot::pending(&s.info());
                *s = fresh;
            }
        }
        if let Some(s) = self.step_mut(path) {
            s.reviews.push(ReviewRound {
                output: s.text.clone(),
                answer: answer.clone(),
            });
            s.status = StepStatus::Running;
            match answer {
                ReviewAnswer::Edit { text } => s.text.clone_from(text),
                // It runs again from nothing; what it wrote is in `reviews`.
                ReviewAnswer::SendBack { .. } => {
                    s.text.clear();
                    s.tool_calls.clear();
                    s.usage = None;
                }
                ReviewAnswer::Approve => {}
            }
        }
    }

    /// A step a continued run takes from an earlier one, completed with its saved output.
    fn reuse(&mut self, step: &StepInfo, output: &str) {
        if self.status == RunStatus::Pending {
            self.status = RunStatus::Running;
        }
        if self.step(&step.path).is_none() {
            self.steps.push(StepSnapshot::pending(step));
        }
        if let Some(s) = self.step_mut(&step.path) {
            s.status = StepStatus::Completed;
            s.text = output.to_string();
            s.reused = true;
        }
    }

    /// What every applied event may change besides its own fields: the run's usage (when a
    /// step's is settled) and whether the run waits for the person.
    fn after(&mut self, kind: &EventKind) {
        if matches!(
            kind,
            EventKind::StepCompleted { .. }
                | EventKind::StepFailed { .. }
                | EventKind::StepSkipped { .. }
                | EventKind::RunCancelled { .. }
                | EventKind::ReviewAnswered { .. }
        ) {
            self.recount_usage();
        }
        // Whether the run waits for the person (text changes nothing there: the hot path skips it).
        if !matches!(kind, EventKind::TextDelta { .. })
            && matches!(self.status, RunStatus::Running | RunStatus::Waiting)
        {
            self.status = if self.waits_for_person() {
                RunStatus::Waiting
            } else {
                RunStatus::Running
            };
        }
    }

    /// The run's usage: every step's added up (containers have none of their own, so nothing
    /// counts twice).
    pub fn recount_usage(&mut self) {
        self.usage = Usage::total(self.steps.iter().filter_map(|s| s.usage));
    }

    /// At a run's end no step is left open: the failed step and the steps around it are
    /// `failed`; any other step still running was stopped (`cancelled`, its text kept); one that
    /// never started is `skipped`.
    fn end_steps(&mut self, failed: Option<&str>, now_ms: u64) {
        for s in &mut self.steps {
            s.stop_tool_calls(now_ms);
            let on_failed_path = failed.is_some_and(|f| f == s.path || is_inside(f, &s.path));
            s.unreviewed = s.status == StepStatus::Waiting;
            match s.status {
                StepStatus::Running | StepStatus::Waiting => {
                    s.status = if on_failed_path {
                        StepStatus::Failed
                    } else {
                        StepStatus::Cancelled
                    };
                    s.duration_ms = s.started_at_ms.map(|t| now_ms.saturating_sub(t));
                }
                StepStatus::Pending => {
                    s.status = if on_failed_path {
                        StepStatus::Failed
                    } else {
                        StepStatus::Skipped
                    };
                }
                _ => {}
            }
        }
    }
}

/// Whether the step at `path` is inside the step at `outer`: `angles/economics` is inside
/// `angles`, `revise#2/critique` inside `revise`.
pub fn is_inside(path: &str, outer: &str) -> bool {
    path.strip_prefix(outer)
        .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('#'))
}

impl StepSnapshot {
    fn pending(info: &StepInfo) -> Self {
        StepSnapshot {
            path: info.path.clone(),
            parent: info.parent.clone(),
            id: info.id.clone(),
            name: info.name.clone(),
            kind: info.kind,
            model: info.model.clone(),
            branch: info.branch.clone(),
            round: info.round,
            status: StepStatus::Pending,
            text: String::new(),
            started_at_ms: None,
            duration_ms: None,
            usage: None,
            rounds: None,
            chosen: None,
            skipped: None,
            note: None,
            tool_calls: Vec::new(),
            reviews: Vec::new(),
            reused: false,
            unreviewed: false,
        }
    }

    /// The step as `StepStarted` announced it.
    pub fn info(&self) -> StepInfo {
        StepInfo {
            path: self.path.clone(),
            parent: self.parent.clone(),
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind,
            model: self.model.clone(),
            branch: self.branch.clone(),
            round: self.round,
        }
    }

    /// A step that ends stops the tool calls it was making.
    fn stop_tool_calls(&mut self, now_ms: u64) {
        for c in &mut self.tool_calls {
            if matches!(c.status, ToolCallStatus::Running | ToolCallStatus::Waiting) {
                c.status = ToolCallStatus::Cancelled;
                c.duration_ms = c.started_at_ms.map(|t| now_ms.saturating_sub(t));
            }
        }
    }
}
