//! `group`: a named sequence of steps. Its output is the output of its last step that gave one.

use super::prompt::PreviousStep;
use super::{Done, Executed, Scope, run_sequence};
use crate::workflow::Step;

pub(super) fn execute<'a>(
    scope: &'a Scope,
    steps: &'a [Step],
    path: &'a str,
    previous: Option<&'a PreviousStep>,
) -> Executed<'a> {
    Box::pin(async move {
        let inside = scope.inside(path, None);
        let flow = run_sequence(&inside, steps, previous.cloned()).await?;
        Ok(Done::text(flow.map(|p| p.output).unwrap_or_default()))
    })
}
