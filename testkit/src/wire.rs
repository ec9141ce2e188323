//! The two wire formats: what each SSE event and error body looks like.

use serde_json::json;

use crate::behavior::{Behavior, Fault, RawEnd, RawStream};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    OpenAi,
    Anthropic,
}

impl Format {
    pub fn of_path(path: &str) -> Option<Format> {
        let path = path.split('?').next().unwrap_or(path);
        if path.ends_with("/chat/completions") {
            Some(Format::OpenAi)
        } else if path.ends_with("/messages") {
            Some(Format::Anthropic)
        } else {
            None
        }
    }
}

/// One thing the server does while streaming.
pub enum Item {
    /// An SSE event, sent after waiting `wait_ms`.
    Event {
        sse: String,
        wait_ms: u64,
    },
    Drop,
    Stall,
    /// Bytes sent as they are (they may not be UTF-8), then a stall.
    RawThenStall(Vec<u8>),
    /// Comments and empty events every `interval_ms` until the client closes.
    KeepAlive {
        interval_ms: u64,
    },
    /// This event again and again until the client closes.
    Repeat(String),
}

/// The items of a raw stream: its events as they are, then its end.
pub fn raw_items(raw: &RawStream) -> impl Iterator<Item = Item> + '_ {
    let end = match &raw.end {
        RawEnd::Finish => None,
        RawEnd::Drop => Some(Item::Drop),
        RawEnd::Stall => Some(Item::Stall),
        RawEnd::Repeat(sse) => Some(Item::Repeat(sse.clone())),
    };
    raw.events.iter().map(|sse| event(sse.clone())).chain(end)
}

fn sse(event: Option<&str>, data: &serde_json::Value) -> String {
    match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// The events of a whole streamed answer, with the behavior's fault spliced in. Made one at a
/// time, so a stream of a million tokens costs no memory up front.
pub fn stream_items<'a>(
    format: Format,
    b: &'a Behavior,
    model: &'a str,
    prompt_tokens: usize,
) -> impl Iterator<Item = Item> + 'a {
    let n = b.token_count();
    let mut stopped = false;
    let body = (0..=n)
        .map_while(move |i| {
            if stopped {
                return None;
            }
            if let Some(item) = fault_at(format, &b.fault, i) {
                stopped = true;
                return Some(vec![item]);
            }
            if i == n {
                return Some(epilogue(format, b, model, prompt_tokens));
            }
            let wait_ms = if i == 0 {
                b.first_token_delay_ms
            } else {
                b.token_interval_ms
            };
            Some(vec![Item::Event {
                sse: token_event(format, model, &b.token(i)),
                wait_ms,
            }])
        })
        .flatten();
    prelude(format, model, prompt_tokens)
        .into_iter()
        .chain(body)
}

fn event(sse: String) -> Item {
    Item::Event { sse, wait_ms: 0 }
}

fn prelude(format: Format, model: &str, prompt_tokens: usize) -> Vec<Item> {
    match format {
        Format::OpenAi => {
            vec![event(sse(
                None,
                &openai_chunk(model, json!({"role": "assistant", "content": ""}), None),
            ))]
        }
        Format::Anthropic => vec![
            event(sse(
                Some("message_start"),
                &json!({"type": "message_start", "message": {"id": "msg_test", "type": "message", "role": "assistant",
                    "model": model, "content": [], "stop_reason": null,
                    "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}}),
            )),
            event(sse(
                Some("content_block_start"),
                &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            )),
            event(sse(Some("ping"), &json!({"type": "ping"}))),
        ],
    }
}

fn token_event(format: Format, model: &str, token: &str) -> String {
    match format {
        Format::OpenAi => sse(None, &openai_chunk(model, json!({"content": token}), None)),
        Format::Anthropic => sse(
            Some("content_block_delta"),
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}}),
        ),
    }
}

/// A call's arguments in pieces of `chars` characters (whole characters: each piece is a valid
/// JSON string, but a piece may end inside a JSON string of the arguments).
fn pieces(arguments: &str, chars: usize) -> Vec<String> {
    if chars == 0 {
        return vec![arguments.to_string()];
    }
    let all: Vec<char> = arguments.chars().collect();
    all.chunks(chars).map(|c| c.iter().collect()).collect()
}

/// The tool calls' events; `None` in the list marks where to stall.
fn tool_call_items(format: Format, b: &Behavior, model: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut sent = 0;
    for (i, call) in b.tool_calls.iter().enumerate() {
        let start = match format {
            Format::OpenAi => sse(
                None,
                &openai_chunk(
                    model,
                    json!({"tool_calls": [{"index": i, "id": call.id, "type": "function",
                        "function": {"name": call.name, "arguments": ""}}]}),
                    None,
                ),
            ),
            Format::Anthropic => sse(
                Some("content_block_start"),
                &json!({"type": "content_block_start", "index": i + 1,
                    "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}}),
            ),
        };
        items.push(event(start));
        for piece in pieces(&call.arguments, b.argument_piece_chars) {
            if b.stall_after_argument_pieces == Some(sent) {
                items.push(Item::Stall);
                return items;
            }
            sent += 1;
            let ev = match format {
                Format::OpenAi => sse(
                    None,
                    &openai_chunk(
                        model,
                        json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                        None,
                    ),
                ),
                Format::Anthropic => sse(
                    Some("content_block_delta"),
                    &json!({"type": "content_block_delta", "index": i + 1,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
                ),
            };
            items.push(Item::Event {
                sse: ev,
                wait_ms: b.token_interval_ms,
            });
        }
        if format == Format::Anthropic {
            items.push(event(sse(
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": i + 1}),
            )));
        }
    }
    items
}

fn epilogue(format: Format, b: &Behavior, model: &str, prompt_tokens: usize) -> Vec<Item> {
    let n = b.token_count();
    let calls = !b.tool_calls.is_empty();
    match format {
        Format::OpenAi => {
            let mut items = tool_call_items(format, b, model);
            if matches!(items.last(), Some(Item::Stall)) {
                return items;
            }
            let finish = if calls { "tool_calls" } else { "stop" };
            items.push(event(sse(
                None,
                &openai_chunk(model, json!({}), Some(finish)),
            )));
            if b.usage {
                items.push(event(sse(
                    None,
                    &json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
                        "choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n,
                        "total_tokens": prompt_tokens + n}}),
                )));
            }
            items.push(event("data: [DONE]\n\n".to_string()));
            items
        }
        Format::Anthropic => {
            let usage = if b.usage {
                json!({"output_tokens": n})
            } else {
                json!({})
            };
            let mut items = vec![event(sse(
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": 0}),
            ))];
            items.extend(tool_call_items(format, b, model));
            if matches!(items.last(), Some(Item::Stall)) {
                return items;
            }
            let stop = if calls { "tool_use" } else { "end_turn" };
            items.push(event(sse(
                Some("message_delta"),
                &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": usage}),
            )));
            items.push(event(sse(
                Some("message_stop"),
                &json!({"type": "message_stop"}),
            )));
            items
        }
    }
}

fn fault_at(format: Format, fault: &Fault, at: usize) -> Option<Item> {
    let ev = event;
    match fault {
        Fault::DropAfter { tokens } if *tokens == at => Some(Item::Drop),
        Fault::StallAfter { tokens } if *tokens == at => Some(Item::Stall),
        Fault::KeepAliveAfter {
            tokens,
            interval_ms,
        } if *tokens == at => Some(Item::KeepAlive {
            interval_ms: *interval_ms,
        }),
        Fault::InvalidUtf8After { tokens } if *tokens == at => {
            Some(Item::RawThenStall(match format {
                Format::OpenAi => {
                    b"data: {\"choices\": [{\"delta\": {\"content\": \"caf\xff".to_vec()
                }
                Format::Anthropic => {
                    b"event: content_block_delta\ndata: {\"delta\": {\"text\": \"caf\xff".to_vec()
                }
            }))
        }
        Fault::HugeLineAfter { tokens, bytes } if *tokens == at => {
            let mut line = b"data: ".to_vec();
            line.resize(6 + bytes, b'a');
            Some(Item::RawThenStall(line))
        }
        Fault::MalformedAfter { tokens } if *tokens == at => Some(ev(match format {
            Format::OpenAi => "data: {\"choices\": [{\"delta\": {\"content\": oops\n\n".to_string(),
            Format::Anthropic => {
                "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", oops\n\n"
                    .to_string()
            }
        })),
        Fault::ErrorEventAfter { tokens, message } if *tokens == at => Some(ev(match format {
            Format::OpenAi => sse(
                None,
                &json!({"error": {"message": message, "type": "server_error"}}),
            ),
            Format::Anthropic => sse(
                Some("error"),
                &json!({"type": "error", "error": {"type": "overloaded_error", "message": message}}),
            ),
        })),
        _ => None,
    }
}

fn openai_chunk(model: &str, delta: serde_json::Value, finish: Option<&str>) -> serde_json::Value {
    json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

/// The JSON body of an error response, in the provider's format.
/// A model list as each API gives it.
pub fn model_list(format: Format, ids: &[String]) -> String {
    match format {
        Format::OpenAi => json!({
            "object": "list",
            "data": ids.iter().map(|id| json!({"id": id, "object": "model", "owned_by": "testkit"})).collect::<Vec<_>>(),
        })
        .to_string(),
        Format::Anthropic => json!({
            "data": ids.iter().map(|id| json!({
                "type": "model", "id": id, "display_name": format!("Test {id}"),
                "created_at": "2025-01-01T00:00:00Z",
            })).collect::<Vec<_>>(),
            "has_more": false,
            "first_id": ids.first(),
            "last_id": ids.last(),
        })
        .to_string(),
    }
}

pub fn error_body(format: Format, code: u16, message: &str) -> String {
    match format {
        Format::OpenAi => {
            json!({"error": {"message": message, "type": "error", "code": code}}).to_string()
        }
        Format::Anthropic => {
            let kind = match code {
                401 | 403 => "authentication_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                400 | 404 => "invalid_request_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
        }
    }
}
