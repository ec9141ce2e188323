//! `condition`: runs `then` when its test holds on the previous output (the run's input for a
//! first step), else `else`; the branch not taken is marked skipped. With nothing to run, the
//! previous output passes through.

use super::{At, Done, Executed, run_sequence};
use crate::workflow::ConditionStep;

pub(super) fn execute<'a>(at: At<'a>, this: &'a ConditionStep) -> Executed<'a> {
    let (scope, path, previous) = (at.scope, at.path, at.previous);
    Box::pin(async move {
        let (test, then, otherwise) = (&this.test, &this.then[..], &this.otherwise[..]);
        let looked_at = previous
            .map(|p| p.output.clone())
            .unwrap_or_else(|| scope.cx.input.clone());
        let holds = test.eval(&scope.test_context(looked_at.clone()));
        let (taken, branch, not_taken) = if holds {
            (then, "then", otherwise)
        } else {
            (otherwise, "else", then)
        };
        let other = if holds { "else" } else { "then" };
        scope.inside(path, Some(other)).skip_not_taken(not_taken)?;
        let flow =
            run_sequence(&scope.inside(path, Some(branch)), taken, previous.cloned()).await?;
        Ok(Done::text(match (taken.is_empty(), flow) {
            (false, Some(p)) => p.output,
            _ => looked_at,
        }))
    })
}
