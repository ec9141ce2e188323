//! One round of tool calls: every call the model asked for in one turn, run at the same time,
//! each announced (`ToolCallStarted`) and reported (`ToolCallFinished`), each answer going back
//! to the model. Dropping the future (a cancel, a step's timeout) drops every call in flight,
//! which closes its connection.
//!
//! A model's calls are not trusted to be well formed: each gets an id unique in its step (ids
//! may be missing, repeated in a turn or reused from an earlier round), at most
//! `[tools] max_calls_per_turn` of a turn run, and every answer goes back cut at
//! `[tools] max_result_bytes`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;

use super::stream::size;
use super::{Halt, Scope, StepFailure};
use crate::event::{ApprovalAnswer, ErrorKind, EventKind};
use crate::provider::ToolAnswer;
use crate::tool::{SharedTool, ToolCall, ToolError, ToolOutput, describe, truncate_at_char};

/// The start of a tool's answer that its `ToolCallFinished` carries, for the person to read.
const RESULT_EXCERPT_BYTES: usize = 2_000;

/// What a step's tool rounds remember between rounds.
#[derive(Default)]
pub(super) struct ToolRounds {
    /// Arguments that were not JSON are answered as an error once; the second time the step
    /// fails (the model is not going to get it right).
    malformed_seen: bool,
    /// Every call id the step has used: a call that repeats one gets a fresh id.
    ids: HashSet<String>,
}

impl ToolRounds {
    /// Gives every call an id not used before in the step: the events, the approval and the
    /// answer to the model all name a call by it, so two calls must never share one. A model's
    /// own id is kept when it is new (it is echoed back, which some servers check).
    fn make_ids_unique(&mut self, calls: &mut [ToolCall]) {
        for call in calls {
            if call.id.is_empty() || self.ids.contains(&call.id) {
                call.id = format!("call_{}", uuid::Uuid::new_v4().simple());
            }
            self.ids.insert(call.id.clone());
        }
    }
}

/// Runs `calls` and returns their answers in the same order. Their ids are made unique first
/// (`calls` keeps the ids used, for the conversation the model reads next).
pub(super) async fn run_calls(
    scope: &Scope,
    path: &str,
    tools: &[SharedTool],
    calls: &mut [ToolCall],
    rounds: &mut ToolRounds,
) -> Result<Vec<ToolAnswer>, Halt> {
    rounds.make_ids_unique(calls);
    let limit = scope.cx.tools.settings().max_calls_per_turn.max(1);
    let (run, refused) = calls.split_at(calls.len().min(limit));
    let mut answers = run_some(scope, path, tools, run, rounds).await?;
    // The rest are not shown to the person (a runaway model may ask for thousands); the model
    // learns the limit and may ask again in its next turn.
    answers.extend(refused.iter().map(|call| ToolAnswer {
        call_id: call.id.clone(),
        content: format!(
            "not run: Stepwise runs at most {limit} tool calls from one turn. Ask for this one \
             again in your next turn if you still need it."
        ),
        is_error: true,
    }));
    Ok(answers)
}

/// Runs every call of `calls` at once.
async fn run_some(
    scope: &Scope,
    path: &str,
    tools: &[SharedTool],
    calls: &[ToolCall],
    rounds: &mut ToolRounds,
) -> Result<Vec<ToolAnswer>, Halt> {
    let timeout = scope.cx.tools.timeout();
    let at = scope.run.step_chars(path);
    let mut pending = Vec::with_capacity(calls.len());
    for call in calls {
        let arguments = match serde_json::from_str::<serde_json::Value>(&call.arguments) {
            Ok(v) if v.is_object() => Ok(v),
            Ok(_) => Err("the arguments must be a JSON object".to_string()),
            Err(e) => Err(format!("the arguments are not valid JSON ({e})")),
        };
        let tool = tools.iter().find(|t| t.spec().name == call.name);
        let title = match tool {
            Some(t) => t.describe(arguments.as_ref().ok()),
            None => describe(&call.name, arguments.as_ref().ok()),
        };
        if !scope.run.emit(EventKind::ToolCallStarted {
            path: path.to_string(),
            call_id: call.id.clone(),
            tool: call.name.clone(),
            arguments: call.arguments.clone(),
            title,
            at,
        }) {
            return Err(Halt::Stopped);
        }
        let arguments = match arguments {
            Ok(a) => a,
            Err(why) if rounds.malformed_seen => {
                return Err(Halt::Failed(StepFailure {
                    path: path.to_string(),
                    kind: ErrorKind::Tool,
                    message: format!(
                        "The model called {} with arguments Stepwise cannot read, again: {why}. \
                         A model that supports tool calling may do better.",
                        call.name
                    ),
                }));
            }
            Err(why) => {
                rounds.malformed_seen = true;
                pending.push(Pending::Answered(Err(ToolError::answer(why))));
                continue;
            }
        };
        match tool {
            Some(tool) => pending.push(Pending::Call(tool.clone(), arguments)),
            None => {
                let known: Vec<&str> = tools.iter().map(|t| t.spec().name.as_str()).collect();
                pending.push(Pending::Answered(Err(ToolError::answer(format!(
                    "there is no tool named {}; this step has {}",
                    call.name,
                    known.join(", ")
                )))));
            }
        }
    }
    // Each call reports as soon as it ends; a call that cannot run at all fails the step at
    // once (the others are dropped, their connections closed).
    let finished = pending.into_iter().zip(calls).map(|(p, call)| async move {
        let started = Instant::now();
        let outcome = match p {
            Pending::Answered(outcome) => outcome,
            Pending::Call(tool, arguments) => {
                if scope.cx.tools.needs_approval(tool.as_ref(), &arguments)
                    && !approved(scope, path, call, &tool, &arguments).await?
                {
                    Err(ToolError::answer("the person did not allow this call"))
                } else {
                    let limit = tool.timeout().unwrap_or(timeout);
                    match tokio::time::timeout(limit, tool.call(arguments)).await {
                        Ok(outcome) => outcome,
                        Err(_) => Err(ToolError::answer(format!(
                            "it took longer than {} and was stopped",
                            seconds(limit)
                        ))),
                    }
                }
            }
        };
        finish(scope, path, call, outcome, started.elapsed())
    });
    try_join_all(finished).await
}

/// Asks the person about a call and waits for the answer (a cancel drops the wait with the rest
/// of the step). "Allow always" lets the tool run without asking from now on.
async fn approved(
    scope: &Scope,
    path: &str,
    call: &ToolCall,
    tool: &SharedTool,
    arguments: &serde_json::Value,
) -> Result<bool, Halt> {
    let grant = tool.grant(arguments);
    let answer = scope.run.await_approval(path, &call.id, grant.clone());
    if !scope.run.emit(EventKind::ToolApprovalRequested {
        path: path.to_string(),
        call_id: call.id.clone(),
    }) {
        return Err(Halt::Stopped);
    }
    // The sender is dropped only with the run, which is then decided: stop like a cancel.
    let answer = answer.await.map_err(|_| Halt::Stopped)?;
    if !scope.run.emit(EventKind::ToolApprovalAnswered {
        path: path.to_string(),
        call_id: call.id.clone(),
        answer,
    }) {
        return Err(Halt::Stopped);
    }
    if answer == ApprovalAnswer::AllowAlways {
        scope.cx.tools.allow_from_now_on(&grant);
    }
    Ok(answer != ApprovalAnswer::Deny)
}

/// Reports one call's end and makes its answer for the model, cut at `[tools]
/// max_result_bytes` (an answer goes back in every later round, so a huge one would be paid for
/// again and again).
fn finish(
    scope: &Scope,
    path: &str,
    call: &ToolCall,
    outcome: Result<ToolOutput, ToolError>,
    took: Duration,
) -> Result<ToolAnswer, Halt> {
    let (ok, preview, content) = match outcome {
        Ok(ToolOutput { content, preview }) => (true, preview, content),
        Err(e) if e.fatal => {
            return Err(Halt::Failed(StepFailure {
                path: path.to_string(),
                kind: ErrorKind::Tool,
                message: format!("The tool {} could not run: {}.", call.name, e.message),
            }));
        }
        Err(e) => (false, e.message.clone(), e.message),
    };
    let content = capped(content, scope.cx.tools.settings().max_result_bytes);
    let mut result = content.clone();
    if truncate_at_char(&mut result, RESULT_EXCERPT_BYTES) {
        result.push('…');
    }
    // An error's preview is its message, which a tool may make as long as it likes.
    let mut preview = preview;
    if truncate_at_char(&mut preview, RESULT_EXCERPT_BYTES) {
        preview.push('…');
    }
    if !scope.run.emit(EventKind::ToolCallFinished {
        path: path.to_string(),
        call_id: call.id.clone(),
        ok,
        preview,
        result,
        duration_ms: took.as_millis() as u64,
    }) {
        return Err(Halt::Stopped);
    }
    Ok(ToolAnswer {
        call_id: call.id.clone(),
        content,
        is_error: !ok,
    })
}

/// `content` cut at `max` bytes (at a character), saying so.
fn capped(mut content: String, max: usize) -> String {
    if truncate_at_char(&mut content, max) {
        content.push_str(&format!(
            "\n\n[The answer goes on; only its first {} are shown.]",
            size(max)
        ));
    }
    content
}

enum Pending {
    Call(SharedTool, serde_json::Value),
    Answered(Result<ToolOutput, ToolError>),
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs())
}
