//! Random tool-call streams, for fuzz tests: the shapes a broken or hostile model server may send
//! in either wire format — ids missing, repeated or reused across rounds; unknown, empty or huge
//! names; arguments invalid, empty, not an object, huge or endless; calls cut off mid-way; text
//! between them; a stream that drops or sends garbage. Deterministic for a seed (a small
//! xorshift generator: no dependency, the same cases on every machine).

use serde_json::json;

use crate::behavior::{Behavior, RawEnd, RawStream};
use crate::wire::Format;

/// xorshift64*: fast, small, good enough to pick shapes.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `percent` in 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What the generated stream should lead to, as far as the generator knows: used by tests to
/// check that what must happen did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shape {
    /// Calls whose start was sent.
    pub calls: usize,
    /// The stream ends with a proper end marker.
    pub complete: bool,
    /// A call's arguments go on until the client stops reading.
    pub endless: bool,
}

/// One model turn: the raw events and how the stream ends.
#[derive(Clone, Debug)]
pub struct Turn {
    pub stream: RawStream,
    pub shape: Shape,
}

impl Turn {
    pub fn behavior(&self) -> Behavior {
        Behavior::raw(self.stream.events.clone(), self.stream.end.clone())
    }

    /// A turn that just answers `text` and ends.
    pub fn text(format: Format, text: &str) -> Turn {
        let mut events = prelude(format);
        events.push(text_event(format, text));
        events.extend(ending(format, false));
        Turn {
            stream: RawStream {
                events,
                end: RawEnd::Finish,
            },
            shape: Shape {
                calls: 0,
                complete: true,
                endless: false,
            },
        }
    }
}

/// Makes random turns that call `tools` (and tools that do not exist).
pub struct TurnMaker<'a> {
    pub tools: &'a [&'a str],
    /// Valid arguments for a tool by name (anything the tool accepts; the fuzz does not care
    /// whether it works).
    pub arguments: &'a dyn Fn(&str, &mut Rng) -> serde_json::Value,
    /// "Huge" means about this many bytes of arguments.
    pub huge: usize,
    /// Endless arguments repeat a piece of this many bytes.
    pub endless_piece: usize,
}

impl TurnMaker<'_> {
    pub fn turn(&self, rng: &mut Rng, format: Format) -> Turn {
        let mut events = prelude(format);
        let mut shape = Shape::default();
        if rng.chance(40) {
            events.push(text_event(format, pick_text(rng)));
        }
        let n = match rng.below(10) {
            0 => 0,
            1..=6 => 1 + rng.below(3),
            7 | 8 => 3 + rng.below(6),
            // Beyond a typical `max_calls_per_turn`.
            _ => 15 + rng.below(6),
        };
        let mut cut = false;
        let mut end = RawEnd::Finish;
        for i in 0..n {
            shape.calls += 1;
            let id = match rng.below(8) {
                0 => None,
                1 => Some(String::new()),
                2 | 3 => Some("call_0".to_string()),
                4 => Some(format!("call_{}", i % 2)),
                _ => Some(format!("call_{:x}", rng.next_u64())),
            };
            let name = match rng.below(12) {
                0 => "no_such_tool".to_string(),
                1 => String::new(),
                2 => "x".repeat(2_000),
                3 => format!("{} ", rng.pick(self.tools)),
                _ => rng.pick(self.tools).to_string(),
            };
            let mut endless = false;
            let arguments = match rng.below(14) {
                0 => String::new(),
                1 => "{\"query\": \"unterminated".to_string(),
                2 => pick_text(rng).to_string(),
                3 => "[1, 2, 3]".to_string(),
                4 => "null".to_string(),
                5 => json!({ "query": "é".repeat(self.huge / 2 + rng.below(64)) }).to_string(),
                6 => {
                    endless = true;
                    "{\"query\": \"".to_string()
                }
                7 => "{}".to_string(),
                _ => (self.arguments)(&name, rng).to_string(),
            };
            let index = i + usize::from(format == Format::Anthropic);
            events.push(call_start(format, rng, index, id.as_deref(), &name));
            let pieces = split(&arguments, rng);
            let cut_at = rng.chance(8).then(|| rng.below(pieces.len() + 1));
            for (k, piece) in pieces.iter().enumerate() {
                if cut_at == Some(k) {
                    cut = true;
                    break;
                }
                events.push(argument_event(format, rng, index, piece));
            }
            if endless {
                shape.endless = true;
                let piece = "é".repeat(self.endless_piece.div_ceil(2));
                end = RawEnd::Repeat(argument_event(format, rng, index, &piece));
                break;
            }
            if cut {
                break;
            }
            if format == Format::Anthropic {
                events.push(json_event(
                    "content_block_stop",
                    &json!({"type": "content_block_stop", "index": index}),
                ));
            }
        }
        if !shape.endless {
            if cut {
                // A call cut short: the stream drops, or ends as if all were well.
                if rng.chance(50) {
                    end = RawEnd::Drop;
                } else {
                    events.extend(ending(format, shape.calls > 0));
                    shape.complete = true;
                }
            } else {
                match rng.below(20) {
                    0 => end = RawEnd::Drop,
                    1 => events.push("data: {\"choices\": [{\"delta\": oops\n\n".to_string()),
                    // The body ends with no end marker.
                    2 => {}
                    _ => {
                        events.extend(ending(format, shape.calls > 0));
                        shape.complete = true;
                    }
                }
            }
        }
        Turn {
            stream: RawStream { events, end },
            shape,
        }
    }
}

const TEXTS: [&str; 5] = [
    "Let me look. ",
    "Ünïcödé ✓ — ",
    "{\"not\": \"a call\"} ",
    "\u{1F30A} tides ",
    "",
];

fn pick_text(rng: &mut Rng) -> &'static str {
    TEXTS[rng.below(TEXTS.len())]
}

/// `text` in pieces of 1 to 40 characters (whole characters), sometimes in one piece.
fn split(text: &str, rng: &mut Rng) -> Vec<String> {
    if text.is_empty() {
        return vec![String::new()];
    }
    if text.len() > 4_000 || rng.chance(30) {
        // Large arguments in large pieces: the fuzz must stay fast.
        let chars: Vec<char> = text.chars().collect();
        let size = if text.len() > 4_000 {
            1_000
        } else {
            chars.len()
        };
        return chars.chunks(size).map(|c| c.iter().collect()).collect();
    }
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let n = 1 + rng.below(40);
        let at = rest.char_indices().nth(n).map_or(rest.len(), |(i, _)| i);
        out.push(rest[..at].to_string());
        rest = &rest[at..];
    }
    out
}

fn data_event(data: &serde_json::Value) -> String {
    format!("data: {data}\n\n")
}

fn json_event(event: &str, data: &serde_json::Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

fn openai_delta(delta: serde_json::Value, finish: Option<&str>) -> String {
    data_event(
        &json!({"id": "chatcmpl-fuzz", "object": "chat.completion.chunk", "created": 0,
        "model": "fuzz", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
    )
}

fn prelude(format: Format) -> Vec<String> {
    match format {
        Format::OpenAi => vec![openai_delta(
            json!({"role": "assistant", "content": ""}),
            None,
        )],
        Format::Anthropic => vec![
            json_event(
                "message_start",
                &json!({"type": "message_start", "message": {"id": "msg_fuzz", "type": "message",
                "role": "assistant", "model": "fuzz", "content": [], "stop_reason": null,
                "usage": {"input_tokens": 10, "output_tokens": 1}}}),
            ),
            json_event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
            ),
        ],
    }
}

fn text_event(format: Format, text: &str) -> String {
    match format {
        Format::OpenAi => openai_delta(json!({ "content": text }), None),
        Format::Anthropic => json_event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": text}}),
        ),
    }
}

fn call_start(format: Format, rng: &mut Rng, index: usize, id: Option<&str>, name: &str) -> String {
    match format {
        Format::OpenAi => {
            let mut fragment =
                json!({"type": "function", "function": {"name": name, "arguments": ""}});
            // Servers that stream each call whole may leave the index out.
            if rng.below(10) > 0 {
                fragment["index"] = json!(index);
            }
            if let Some(id) = id {
                fragment["id"] = json!(id);
            }
            openai_delta(json!({ "tool_calls": [fragment] }), None)
        }
        Format::Anthropic => {
            let mut block = json!({"type": "tool_use", "name": name, "input": {}});
            if let Some(id) = id {
                block["id"] = json!(id);
            }
            json_event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": index, "content_block": block}),
            )
        }
    }
}

fn argument_event(format: Format, rng: &mut Rng, index: usize, piece: &str) -> String {
    match format {
        Format::OpenAi => {
            let mut fragment = json!({"function": {"arguments": piece}});
            if rng.below(10) > 0 {
                fragment["index"] = json!(index);
            }
            openai_delta(json!({ "tool_calls": [fragment] }), None)
        }
        Format::Anthropic => json_event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": piece}}),
        ),
    }
}

/// The events that end an answer properly.
fn ending(format: Format, calls: bool) -> Vec<String> {
    match format {
        Format::OpenAi => vec![
            openai_delta(json!({}), Some(if calls { "tool_calls" } else { "stop" })),
            data_event(
                &json!({"id": "chatcmpl-fuzz", "object": "chat.completion.chunk",
                "created": 0, "model": "fuzz", "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}),
            ),
            "data: [DONE]\n\n".to_string(),
        ],
        Format::Anthropic => vec![
            json_event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": 0}),
            ),
            json_event(
                "message_delta",
                &json!({"type": "message_delta", "delta": {"stop_reason":
                if calls { "tool_use" } else { "end_turn" }, "stop_sequence": null},
                "usage": {"output_tokens": 5}}),
            ),
            json_event("message_stop", &json!({"type": "message_stop"})),
        ],
    }
}
