//! `agent`: a model's answer streamed into the step. With tools, the model may ask for calls:
//! they run (`tool_calls.rs`), their answers go back, and the model goes on — until it answers
//! without a call, or has used `max_tool_rounds` rounds.

use super::stream::{Written, stream_model};
use super::tool_calls::{ToolRounds, run_calls};
use super::{At, Done, Executed, Halt, StepFailure};
use crate::event::ErrorKind;
use crate::prompt::{build, with_note};
use crate::provider::{ModelRequest, ToolTurn};
use crate::workflow::AgentStep;

pub(super) fn execute<'a>(at: At<'a>, agent: &'a AgentStep) -> Executed<'a> {
    let (scope, step, path, previous) = (at.scope, at.step, at.path, at.previous);
    Box::pin(async move {
        let AgentStep {
            instructions,
            model,
            tools: tool_names,
            max_tool_rounds,
        } = agent;
        let cx = &scope.cx;
        let mut prompt = build(instructions, &cx.input, previous, &|id| cx.output_of(id));
        if let Some(note) = &scope.note {
            prompt.user = with_note(prompt.user, note);
        }
        let model = model.clone().unwrap_or_else(|| cx.default_model.clone());
        let tools = cx
            .tools
            .for_step(tool_names, model.is_demo(), &cx.seen)
            .await
            .map_err(|e| {
                Halt::Failed(StepFailure {
                    path: path.to_string(),
                    kind: ErrorKind::Tool,
                    message: format!("{}.", e.message),
                })
            })?;
        let mut request = ModelRequest::new(model, prompt.system, prompt.user);
        request.tools = tools.iter().map(|t| t.spec().clone()).collect();

        let mut rounds = ToolRounds::default();
        let mut written = Written::default();
        loop {
            let mut streamed =
                stream_model(scope, path, request.clone(), step.retries, written).await?;
            written.text = streamed.text.len();
            written.calls += streamed.call_bytes;
            if streamed.calls.is_empty() {
                return Ok(Done {
                    output: streamed.text,
                });
            }
            if request.turns.len() as u32 >= *max_tool_rounds {
                return Err(Halt::Failed(StepFailure {
                    path: path.to_string(),
                    kind: ErrorKind::Tool,
                    message: format!(
                        "The model was still asking for tools after {max_tool_rounds} rounds, so \
                         Stepwise stopped the step. The text so far is kept. Raise \
                         `max_tool_rounds` on the step if it needs more."
                    ),
                }));
            }
            // The calls keep the ids they ran under: the model reads its answers by them.
            let results = run_calls(scope, path, &tools, &mut streamed.calls, &mut rounds).await?;
            request.turns.push(ToolTurn {
                text: streamed.turn_text,
                calls: streamed.calls,
                results,
            });
        }
    })
}
