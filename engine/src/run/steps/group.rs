//! `group`: a named sequence of steps. Its output is the output of its last step that gave one.

use super::{At, Done, Executed, run_sequence};
use crate::workflow::GroupStep;

pub(super) fn execute<'a>(at: At<'a>, group: &'a GroupStep) -> Executed<'a> {
    let (scope, path, previous) = (at.scope, at.path, at.previous);
    Box::pin(async move {
        let inside = scope.inside(path, None);
        let flow = run_sequence(&inside, &group.steps, previous.cloned()).await?;
        Ok(Done::text(flow.map(|p| p.output).unwrap_or_default()))
    })
}
