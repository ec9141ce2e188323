//! A request's input tokens, estimated the way its model counts them (`usage/estimate.rs`),
//! for a step whose provider never said.

use super::ModelRequest;
use crate::usage::Counter;

/// The input tokens of a request, as the model would have counted them.
pub fn estimate_request(request: &ModelRequest) -> u32 {
    const PER_MESSAGE: u32 = 4;
    const REPLY_PRIMING: u32 = 3;
    let counter = Counter::for_model(&request.model);
    let mut parts: Vec<&str> = vec![&request.system, &request.user];
    let mut messages = 2;
    let tool_defs: Vec<String> = request
        .tools
        .iter()
        .map(|t| format!("{} {} {}", t.name, t.description, t.input_schema))
        .collect();
    parts.extend(tool_defs.iter().map(String::as_str));
    for turn in &request.turns {
        parts.push(&turn.text);
        messages += 1;
        for call in &turn.calls {
            parts.push(&call.name);
            parts.push(&call.arguments);
        }
        for answer in &turn.results {
            parts.push(&answer.content);
            messages += 1;
        }
    }
    let text_tokens = parts
        .iter()
        .map(|p| counter.count(p))
        .fold(0u32, u32::saturating_add);
    text_tokens
        .saturating_add(PER_MESSAGE * messages)
        .saturating_add(REPLY_PRIMING)
}
