//! `agent`: one call to a model, its text streamed into the step.

use super::prompt::{PreviousStep, build};
use super::stream::stream_model;
use super::{Done, Executed, Scope};
use crate::provider::ModelRequest;
use crate::workflow::{Step, StepKind};

pub(super) fn execute<'a>(
    scope: &'a Scope,
    step: &'a Step,
    path: &'a str,
    previous: Option<&'a PreviousStep>,
) -> Executed<'a> {
    Box::pin(async move {
        let StepKind::Agent {
            instructions,
            model,
        } = &step.kind
        else {
            return Ok(Done::text(String::new()));
        };
        let cx = &scope.cx;
        let prompt = build(instructions, &cx.input, previous, &|id| cx.output_of(id));
        let request = ModelRequest {
            model: model.clone().unwrap_or_else(|| cx.default_model.clone()),
            system: prompt.system,
            user: prompt.user,
        };
        let streamed = stream_model(scope, path, request, step.retries).await?;
        Ok(Done {
            output: streamed.text,
            usage: streamed.usage,
        })
    })
}
