//! `loop`: runs its steps in rounds until its `until` test holds on the round's output (or on
//! any step's, with `output("id")`), or `max_iterations` rounds have run. Each round starts from
//! the previous round's output; the loop's output is the last round's.

use super::{At, Done, Executed, Halt, between_steps, run_sequence};
use crate::event::EventKind;
use crate::workflow::LoopStep;

pub(super) fn execute<'a>(at: At<'a>, this: &'a LoopStep) -> Executed<'a> {
    let (scope, path, previous) = (at.scope, at.path, at.previous);
    Box::pin(async move {
        let (steps, until, max_rounds) = (&this.steps, this.until.as_ref(), this.max_iterations);
        let mut flow = previous.cloned();
        let mut output = String::new();
        for round in 1..=max_rounds {
            if round > 1 {
                between_steps(scope).await?;
            }
            if !scope.run.emit(EventKind::LoopRoundStarted {
                path: path.to_string(),
                round,
                max_rounds,
            }) {
                return Err(Halt::Stopped);
            }
            flow = run_sequence(&scope.round(path, round), steps, flow).await?;
            output = flow.as_ref().map(|p| p.output.clone()).unwrap_or_default();
            if until.is_some_and(|t| t.eval(&scope.test_context(output.clone()))) {
                break;
            }
        }
        Ok(Done::text(output))
    })
}
