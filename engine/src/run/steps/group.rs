//! `group`: a named sequence of steps. Its output is the output of its last step that gave one.

use super::{Done, Executed, Scope, run_sequence};
use crate::prompt::PreviousStep;
use crate::workflow::{GroupStep, Step};

pub(super) fn execute<'a>(
    scope: &'a Scope,
    _step: &'a Step,
    group: &'a GroupStep,
    path: &'a str,
    previous: Option<&'a PreviousStep>,
) -> Executed<'a> {
    Box::pin(async move {
        let inside = scope.inside(path, None);
        let flow = run_sequence(&inside, &group.steps, previous.cloned()).await?;
        Ok(Done::text(flow.map(|p| p.output).unwrap_or_default()))
    })
}
