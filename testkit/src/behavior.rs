//! What the server does with a request.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Behavior {
    /// The text pieces to stream, one per SSE event. When empty, `numbered` tokens are made up.
    pub tokens: Vec<String>,
    /// Stream `tok0 `, `tok1 ` … up to this many, made one at a time (long streams cost no memory).
    pub numbered: usize,
    /// Wait after the headers before the first token (time to first token).
    pub first_token_delay_ms: u64,
    /// Wait between tokens; 0 sends them as fast as the connection takes them.
    pub token_interval_ms: u64,
    /// Send a usage chunk at the end (OpenAI) / usage in message_start and message_delta (Anthropic).
    pub usage: bool,
    pub fault: Fault,
    /// Tool calls to ask for after the text (the answer then ends with `tool_calls` /
    /// `tool_use`). Each call's arguments are streamed in pieces of `argument_piece_chars`.
    pub tool_calls: Vec<ScriptedCall>,
    /// Characters per streamed piece of a call's arguments (0: all at once).
    pub argument_piece_chars: usize,
    /// Send each event in two HTTP chunks, split inside its first multi-byte UTF-8 character
    /// (or in its middle), a few milliseconds apart.
    pub split_utf8: bool,
    /// Stall (keep the connection open, send nothing) after this many argument pieces.
    pub stall_after_argument_pieces: Option<usize>,
    /// Send exactly these events instead of an answer made from the fields above (a hostile or
    /// broken server's stream, byte for byte).
    pub raw: Option<RawStream>,
}

/// A stream given event by event: each entry is sent as it is (`data: …\n\n` and all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct RawStream {
    pub events: Vec<String>,
    pub end: RawEnd,
}

/// How a raw stream ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", content = "event", rename_all = "snake_case")]
pub enum RawEnd {
    /// The body ends properly after the last event.
    #[default]
    Finish,
    /// The connection closes mid-body.
    Drop,
    /// Nothing more is sent; the connection stays open until the client closes it.
    Stall,
    /// This event again and again until the client closes the connection.
    Repeat(String),
}

/// A tool call the server asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptedCall {
    pub id: String,
    pub name: String,
    /// The JSON text of the arguments.
    pub arguments: String,
}

impl ScriptedCall {
    pub fn new(id: &str, name: &str, arguments: serde_json::Value) -> Self {
        ScriptedCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.to_string(),
        }
    }
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior::words(20, 0)
    }
}

impl Behavior {
    /// `n` tokens `tok0 `, `tok1 ` … sent every `interval_ms`.
    pub fn words(n: usize, interval_ms: u64) -> Self {
        Behavior {
            tokens: Vec::new(),
            numbered: n,
            first_token_delay_ms: interval_ms,
            token_interval_ms: interval_ms,
            usage: true,
            fault: Fault::None,
            tool_calls: Vec::new(),
            argument_piece_chars: 0,
            split_utf8: false,
            stall_after_argument_pieces: None,
            raw: None,
        }
    }

    /// Fixed text pieces instead of numbered ones.
    pub fn text(tokens: &[&str], interval_ms: u64) -> Self {
        Behavior {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            ..Behavior::words(0, interval_ms)
        }
    }

    pub fn token_count(&self) -> usize {
        if self.tokens.is_empty() {
            self.numbered
        } else {
            self.tokens.len()
        }
    }

    pub fn token(&self, i: usize) -> String {
        match self.tokens.get(i) {
            Some(t) => t.clone(),
            None => format!("tok{i} "),
        }
    }

    /// Asks for `calls` after the text, their arguments in pieces of `piece_chars` characters.
    pub fn with_calls(mut self, calls: Vec<ScriptedCall>, piece_chars: usize) -> Self {
        self.tool_calls = calls;
        self.argument_piece_chars = piece_chars;
        self
    }

    /// Sends exactly `events`, then ends as `end` says.
    pub fn raw(events: Vec<String>, end: RawEnd) -> Self {
        Behavior {
            raw: Some(RawStream { events, end }),
            ..Behavior::words(0, 0)
        }
    }

    /// Sends each event in two HTTP chunks split inside a UTF-8 character.
    pub fn with_split_utf8(mut self) -> Self {
        self.split_utf8 = true;
        self
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    pub fn status(code: u16, message: &str) -> Self {
        Behavior::default().with_fault(Fault::Status {
            code,
            message: message.to_string(),
            retry_after_secs: None,
        })
    }
}

/// A failure to inject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    #[default]
    None,
    /// Answer with this status and a JSON error body in the provider's format.
    Status {
        code: u16,
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// Read the request, then never answer (the client waits for headers).
    HangBeforeHeaders,
    /// Close the connection after this many tokens, mid-stream.
    DropAfter { tokens: usize },
    /// After this many tokens, send an event whose data is not valid JSON.
    MalformedAfter { tokens: usize },
    /// After this many tokens, send nothing more but keep the connection open.
    StallAfter { tokens: usize },
    /// After this many tokens, send the provider's in-stream error event.
    ErrorEventAfter { tokens: usize, message: String },
    /// After this many tokens, send only SSE comments and empty events, every `interval_ms`,
    /// until the client closes (a server that keeps the line alive but says nothing).
    KeepAliveAfter { tokens: usize, interval_ms: u64 },
    /// After this many tokens, send the start of an event with a byte that is not UTF-8, then
    /// nothing more (the connection stays open).
    InvalidUtf8After { tokens: usize },
    /// After this many tokens, send a data line of this many bytes with no line end, then
    /// nothing more.
    HugeLineAfter { tokens: usize, bytes: usize },
    /// Answer `307 Temporary Redirect` to `location`.
    Redirect { location: String },
}
