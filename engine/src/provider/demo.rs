//! The built-in offline demo model: deterministic text streamed word by word at a human pace,
//! so a fresh install runs with no key and no network.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::stream;
use tokio::time::Instant;

use super::demo_text::{compose, into_pieces};
use super::demo_tools;
use super::{Chunk, ChunkStream, ModelRequest, Provider};
use crate::event::Usage;
use crate::event::saturating_u32;
use crate::tool::ToolCall;

/// How fast the demo model "thinks" and "types".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoPace {
    /// Wait before the first word, like a real model's time to first token.
    pub first_token: Duration,
    /// Time between words.
    pub per_word: Duration,
}

impl DemoPace {
    /// About 30 words a second after a short pause: readable as it streams.
    pub const HUMAN: DemoPace = DemoPace {
        first_token: Duration::from_millis(400),
        per_word: Duration::from_millis(33),
    };
    /// No waiting at all, for tests and benchmarks.
    pub const INSTANT: DemoPace = DemoPace {
        first_token: Duration::ZERO,
        per_word: Duration::ZERO,
    };
}

impl DemoPace {
    /// The human pace, changed by `STEPWISE_DEMO_FIRST_TOKEN_MS` and `STEPWISE_DEMO_WORD_MS`
    /// (whole milliseconds; `0` for no waiting) — how tests and demos speed the model up.
    pub fn from_env() -> Result<DemoPace, String> {
        let ms = |name: &str| -> Result<Option<Duration>, String> {
            match std::env::var(name) {
                Err(_) => Ok(None),
                Ok(v) => v
                    .trim()
                    .parse::<u64>()
                    .map(|ms| Some(Duration::from_millis(ms)))
                    .map_err(|_| {
                        format!("{name} must be a whole number of milliseconds, not `{v}`")
                    }),
            }
        };
        let mut pace = DemoPace::HUMAN;
        if let Some(d) = ms("STEPWISE_DEMO_FIRST_TOKEN_MS")? {
            pace.first_token = d;
        }
        if let Some(d) = ms("STEPWISE_DEMO_WORD_MS")? {
            pace.per_word = d;
        }
        Ok(pace)
    }
}

impl Default for DemoPace {
    fn default() -> Self {
        DemoPace::HUMAN
    }
}

/// The demo model. Its answer depends only on the request, so the same step gives the same text.
#[derive(Clone, Debug, Default)]
pub struct DemoModel {
    pace: DemoPace,
    /// Exact answer length in words, for benchmarks; `None` lets the instructions decide.
    words: Option<usize>,
}

impl DemoModel {
    pub fn new(pace: DemoPace) -> Self {
        DemoModel { pace, words: None }
    }

    /// Makes every answer exactly `words` words long.
    pub fn with_words(mut self, words: usize) -> Self {
        self.words = Some(words);
        self
    }
}

/// With no delay the stream is always ready; yielding now and then keeps one fast run from
/// starving the others on the same worker thread.
const YIELD_EVERY: usize = 64;

struct DemoStream {
    pieces: VecDeque<String>,
    sent: usize,
    pace: DemoPace,
    next_at: Option<Instant>,
    /// Tool calls, asked for after the text.
    calls: VecDeque<ToolCall>,
    usage: Option<Usage>,
}

impl Provider for DemoModel {
    fn stream(&self, request: ModelRequest) -> ChunkStream {
        let (text, calls) = match demo_tools::first_turn(&request) {
            Some((lead, calls)) if self.words.is_none() => (lead, calls),
            _ => (
                compose(&request, self.words) + &demo_tools::sources(&request),
                Vec::new(),
            ),
        };
        let pieces: VecDeque<String> = into_pieces(&text).into();
        let input_words =
            request.user.split_whitespace().count() + request.system.split_whitespace().count();
        let usage = Usage {
            input_tokens: Some(saturating_u32(input_words as u64)),
            output_tokens: Some(saturating_u32(pieces.len() as u64)),
            ..Usage::default()
        };
        let state = DemoStream {
            pieces,
            sent: 0,
            pace: self.pace,
            next_at: None,
            calls: calls.into(),
            usage: Some(usage),
        };
        Box::pin(stream::unfold(state, |mut st| async move {
            if let Some(piece) = st.pieces.pop_front() {
                st.wait_for_next().await;
                st.sent += 1;
                return Some((Ok(Chunk::Text(piece)), st));
            }
            if let Some(call) = st.calls.pop_front() {
                return Some((Ok(Chunk::ToolCall(call)), st));
            }
            let usage = st.usage.take()?;
            Some((Ok(Chunk::Usage(usage)), st))
        }))
    }
}

impl DemoStream {
    /// Sleeps until the next word is due. Deadlines are absolute so the pace does not drift.
    async fn wait_for_next(&mut self) {
        let delay = if self.sent == 0 {
            self.pace.first_token
        } else {
            self.pace.per_word
        };
        if delay.is_zero() {
            if self.sent % YIELD_EVERY == YIELD_EVERY - 1 {
                tokio::task::yield_now().await;
            }
            return;
        }
        let due = self.next_at.unwrap_or_else(Instant::now) + delay;
        tokio::time::sleep_until(due).await;
        self.next_at = Some(due);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_ref::ModelRef;
    use futures_util::StreamExt;

    fn request(input: &str) -> ModelRequest {
        ModelRequest::new(ModelRef::demo(), "List the key facts.".into(), input.into())
    }

    async fn collect(model: &DemoModel, req: ModelRequest) -> (String, Option<Usage>) {
        let mut text = String::new();
        let mut usage = None;
        let mut s = model.stream(req);
        while let Some(c) = s.next().await {
            match c.unwrap() {
                Chunk::Text(t) => text.push_str(&t),
                Chunk::Usage(u) => usage = Some(u),
                Chunk::ToolCall(c) => panic!("no tools were offered, yet {c:?}"),
                Chunk::ToolCallBytes(n) => panic!("no tools were offered, yet {n} bytes"),
            }
        }
        (text, usage)
    }

    #[tokio::test]
    async fn is_deterministic_and_reports_usage() {
        let m = DemoModel::new(DemoPace::INSTANT);
        let (a, ua) = collect(&m, request("tidal energy")).await;
        let (b, _) = collect(&m, request("tidal energy")).await;
        let (c, _) = collect(&m, request("bees")).await;
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.contains("tidal energy"), "{a}");
        assert_eq!(
            ua.unwrap().output_tokens.unwrap() as usize,
            a.split_whitespace().count()
        );
    }

    #[tokio::test]
    async fn exact_word_count_on_request() {
        let m = DemoModel::new(DemoPace::INSTANT).with_words(5000);
        let (text, _) = collect(&m, request("tidal energy")).await;
        assert_eq!(text.split_whitespace().count(), 5000);
    }

    #[tokio::test(start_paused = true)]
    async fn streams_at_the_configured_pace() {
        let pace = DemoPace {
            first_token: Duration::from_millis(400),
            per_word: Duration::from_millis(33),
        };
        let m = DemoModel::new(pace).with_words(31);
        let start = Instant::now();
        let (text, _) = collect(&m, request("tidal energy")).await;
        assert_eq!(text.split_whitespace().count(), 31);
        // 400 ms, then 30 gaps of 33 ms (the clock is paused, so this is exact).
        assert_eq!(start.elapsed(), Duration::from_millis(400 + 30 * 33));
    }
}
