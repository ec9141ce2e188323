//! Where in the tree a step runs: its run, the token it stops by, the path its children get, and
//! the trackers of the timeouts around it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Halt, RunContext, outline};
use crate::event::{EventKind, SkipReason, StepInfo};
use crate::prompt::ReviewNote;
use crate::run::RunState;
use crate::workflow::{Step, TestContext};

/// Where in the tree a step runs. Cheap to clone (a parallel branch takes its own).
#[derive(Clone)]
pub(crate) struct Scope {
    pub run: Arc<RunState>,
    pub cx: Arc<RunContext>,
    /// Cancelled when the run is cancelled or a step around this one stops (a timeout).
    pub token: CancellationToken,
    /// Prefix of the paths of the steps here (`angles`, `revise#2`); `None` at the top.
    prefix: Option<String>,
    /// The path of the step these steps are inside.
    parent: Option<String>,
    branch: Option<String>,
    round: Option<u32>,
    /// The trackers of the steps around this one that have a timeout: a branch task spawned
    /// here is tracked by each, so a step that times out can wait until its branches have ended
    /// before it reports them.
    trackers: Vec<TaskTracker>,
    /// The reviewer's note when the step around these was sent back: its agents are told it.
    pub note: Option<Arc<ReviewNote>>,
}

impl Scope {
    /// The top of a run.
    pub fn top(run: Arc<RunState>, cx: Arc<RunContext>) -> Self {
        Scope {
            token: run.token.child_token(),
            run,
            cx,
            prefix: None,
            parent: None,
            branch: None,
            round: None,
            trackers: Vec::new(),
            note: None,
        }
    }

    /// The same place, with the note of a step that was sent back (if it was).
    pub(super) fn with_note(mut self, note: Option<ReviewNote>) -> Scope {
        if let Some(note) = note {
            self.note = Some(Arc::new(note));
        }
        self
    }

    /// Where a step's own executor runs: under the step's token and, if the step has a timeout,
    /// tracked by the step's tracker too.
    pub(super) fn for_step(
        &self,
        token: CancellationToken,
        tracker: Option<&TaskTracker>,
    ) -> Scope {
        let mut trackers = self.trackers.clone();
        trackers.extend(tracker.cloned());
        Scope {
            token,
            trackers,
            ..self.clone()
        }
    }

    pub fn path_of(&self, step: &Step) -> String {
        match &self.prefix {
            Some(p) => format!("{p}/{}", step.id),
            None => step.id.clone(),
        }
    }

    /// The scope of the steps inside the step at `path`.
    pub fn inside(&self, path: &str, branch: Option<&str>) -> Scope {
        Scope {
            prefix: Some(path.to_string()),
            parent: Some(path.to_string()),
            branch: branch.map(str::to_string),
            round: None,
            ..self.clone()
        }
    }

    /// The scope of a loop's steps in round `round`.
    pub fn round(&self, path: &str, round: u32) -> Scope {
        Scope {
            prefix: Some(format!("{path}#{round}")),
            parent: Some(path.to_string()),
            branch: None,
            round: Some(round),
            ..self.clone()
        }
    }

    pub fn info(&self, step: &Step) -> StepInfo {
        outline::info(
            step,
            self.path_of(step),
            self.parent.clone(),
            self.branch.clone(),
            self.round,
            &self.cx.default_model,
        )
    }

    /// Runs `work` as a task of the run (the run's terminal event waits for it).
    pub fn spawn<F>(&self, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut work: Pin<Box<dyn Future<Output = F::Output> + Send>> = Box::pin(work);
        for t in &self.trackers {
            work = Box::pin(t.track_future(work));
        }
        self.run.tasks.spawn(work)
    }

    /// Marks the not-taken steps (a condition's other branch, the routes not chosen) skipped.
    pub fn skip_not_taken(&self, steps: &[Step]) -> Result<(), Halt> {
        for s in steps {
            if !self.run.emit(EventKind::StepSkipped {
                path: self.path_of(s),
                reason: SkipReason::NotTaken,
                message: None,
                usage: None,
            }) {
                return Err(Halt::Stopped);
            }
        }
        Ok(())
    }

    /// The values a condition's or a loop's test looks at.
    pub fn test_context(&self, output: String) -> impl TestContext + '_ {
        Values {
            scope: self,
            output,
        }
    }
}

struct Values<'a> {
    scope: &'a Scope,
    output: String,
}

impl TestContext for Values<'_> {
    fn output(&self) -> String {
        self.output.clone()
    }
    fn step_output(&self, id: &str) -> String {
        self.scope.cx.output_of(id)
    }
    fn input(&self) -> String {
        self.scope.cx.input.clone()
    }
}
