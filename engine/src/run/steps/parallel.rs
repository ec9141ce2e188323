//! `parallel`: every child starts at once, each as a task on the run's tracker (so the run's
//! terminal event waits for all of them), each under a child of this step's token (so a cancel
//! or a timeout reaches every branch at once). A branch that fails does not stop the others: the
//! step waits for all, then fails with the first failure. Its output is each branch's output
//! under the branch's name.

use super::{At, Done, Executed, Halt, StepFailure, run_step};
use crate::event::ErrorKind;
use crate::workflow::ParallelStep;

pub(super) fn execute<'a>(at: At<'a>, parallel: &'a ParallelStep) -> Executed<'a> {
    let (scope, path, previous) = (at.scope, at.path, at.previous);
    Box::pin(async move {
        let steps = &parallel.steps;
        let inside = scope.inside(path, None);
        let branches: Vec<_> = steps
            .iter()
            .map(|step| {
                let (scope, step, previous) = (inside.clone(), step.clone(), previous.cloned());
                inside.spawn(async move { run_step(&scope, &step, previous.as_ref()).await })
            })
            .collect();
        let mut sections = Vec::new();
        let mut failure = None;
        let mut stopped = false;
        for (step, branch) in steps.iter().zip(branches) {
            match branch.await {
                Ok(Ok(Some(output))) => sections.push(format!("## {}\n\n{}", step.name, output)),
                Ok(Ok(None)) => {}
                Ok(Err(Halt::Stopped)) => stopped = true,
                Ok(Err(Halt::Failed(f))) => {
                    failure.get_or_insert(f);
                }
                // A branch that panicked: the run cannot trust its state.
                Err(_) => {
                    failure.get_or_insert(StepFailure {
                        path: format!("{path}/{}", step.id),
                        kind: ErrorKind::Internal,
                        message: "Stepwise hit an internal error in this branch and stopped it."
                            .into(),
                    });
                }
            }
        }
        if stopped {
            return Err(Halt::Stopped);
        }
        if let Some(f) = failure {
            return Err(Halt::Failed(f));
        }
        Ok(Done::text(sections.join("\n\n")))
    })
}
