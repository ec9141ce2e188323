//! `tool`: one tool call with the arguments the workflow gives, and no model. Its answer is the
//! step's output; a tool that answers with an error fails the step (there is no model to tell).

use super::tool_calls::{ToolRounds, run_calls};
use super::{At, Done, Executed, Halt, StepFailure};
use crate::event::ErrorKind;
use crate::tool::ToolCall;
use crate::workflow::ToolStep;
use crate::workflow::placeholders::{Placeholder, render};

pub(super) fn execute<'a>(at: At<'a>, this: &'a ToolStep) -> Executed<'a> {
    let At { scope, path, .. } = at;
    Box::pin(async move {
        let ToolStep { tool, arguments } = this;
        let fail = |message: String| {
            Halt::Failed(StepFailure {
                path: path.to_string(),
                kind: ErrorKind::Tool,
                message,
            })
        };
        let cx = &scope.cx;
        let tools = cx
            .tools
            .for_step(std::slice::from_ref(tool), false, &cx.seen)
            .await
            .map_err(|e| fail(format!("{}.", e.message)))?;
        let Some(chosen) = tools.first() else {
            return Err(fail(format!("There is no tool {tool}.")));
        };
        let arguments = fill(
            &serde_json::Value::Object(arguments.clone()),
            &|p: &Placeholder| match p {
                Placeholder::Input => cx.input.clone(),
                Placeholder::StepOutput(id) => cx.output_of(id),
            },
        );
        // Unique in the run, not just the step: two tool steps that wait for the person at once
        // (in a parallel step) must not share an id.
        let mut call = ToolCall {
            id: format!("tool_{}", uuid::Uuid::new_v4().simple()),
            name: chosen.spec().name.clone(),
            arguments: arguments.to_string(),
        };
        let answers = run_calls(
            scope,
            path,
            &tools[..1],
            std::slice::from_mut(&mut call),
            &mut ToolRounds::default(),
        )
        .await?;
        match answers.into_iter().next() {
            Some(a) if !a.is_error => Ok(Done::text(a.content)),
            Some(a) => Err(fail(format!("{tool} did not work: {}", a.content))),
            None => Err(fail(format!("{tool} gave no answer."))),
        }
    })
}

/// The arguments with every string's placeholders filled in.
fn fill(value: &serde_json::Value, with: &dyn Fn(&Placeholder) -> String) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(render(s, with)),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, with)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, with)))
                .collect(),
        ),
        other => other.clone(),
    }
}
