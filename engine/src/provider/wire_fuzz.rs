//! Fuzzing both wire parsers with random tool-call streams (`stepwise_testkit::fuzz`), fed as
//! bytes cut at random places (inside events, inside UTF-8 characters). Whatever arrives, the
//! stream gives chunks and then at most one error a person can read — never a panic, never an
//! internal error — and every byte of a tool call it holds was reported as `ToolCallBytes` first
//! (the step's output limit counts those, so no call grows unseen). Full runs over these shapes
//! are in `tests/integration/tool_call_fuzz.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use stepwise_testkit::fuzz::{Rng, Turn, TurnMaker};
use stepwise_testkit::{Format, RawEnd};

use super::anthropic::Messages;
use super::http::parse::{Body, WireParser, chunks};
use super::openai::ChatCompletions;
use super::{Chunk, ChunkStream};
use crate::event::ErrorKind;

const CASES: usize = 2_000;
/// How often an endless call's last piece is sent before the body ends.
const ENDLESS_REPEATS: usize = 100;

fn arguments(name: &str, rng: &mut Rng) -> serde_json::Value {
    match name {
        "fetch_page" => {
            serde_json::json!({ "url": format!("http://127.0.0.1:9/{}", rng.below(9)) })
        }
        _ => serde_json::json!({ "query": format!("tides ✓ {}", rng.below(99)) }),
    }
}

/// The turn's bytes, cut into pieces of random sizes.
fn body(turn: &Turn, rng: &mut Rng) -> Body {
    let mut all: Vec<u8> = turn.stream.events.concat().into_bytes();
    match &turn.stream.end {
        RawEnd::Repeat(event) => all.extend(event.repeat(ENDLESS_REPEATS).into_bytes()),
        RawEnd::Finish | RawEnd::Drop | RawEnd::Stall => {}
    }
    let mut pieces = Vec::new();
    let mut rest = &all[..];
    // Small pieces cut events and characters; large ones keep a huge stream quick.
    let most = if rng.chance(50) { 40 } else { 2_000 };
    while !rest.is_empty() {
        let n = (1 + rng.below(most)).min(rest.len());
        pieces.push(Ok(Bytes::copy_from_slice(&rest[..n])));
        rest = &rest[n..];
    }
    stream::iter(pieces).boxed()
}

fn parse<P: WireParser>(turn: &Turn, rng: &mut Rng, parser: P) -> ChunkStream {
    chunks(
        body(turn, rng),
        parser,
        "fuzz.test".into(),
        Duration::from_secs(60),
    )
}

#[tokio::test]
async fn random_tool_call_streams_give_chunks_then_at_most_one_readable_error() {
    let maker = TurnMaker {
        tools: &["web_search", "fetch_page"],
        arguments: &arguments,
        huge: 2_000,
        endless_piece: 4,
    };
    let mut rng = Rng::new(0x5EED_0007);
    let mut calls_seen = 0;
    let mut errors_seen = 0;
    for case in 0..CASES {
        let format = if case.is_multiple_of(2) {
            Format::OpenAi
        } else {
            Format::Anthropic
        };
        let turn = maker.turn(&mut rng, format);
        let mut stream = match format {
            Format::OpenAi => parse(&turn, &mut rng, ChatCompletions::default()),
            Format::Anthropic => parse(&turn, &mut rng, Messages::default()),
        };
        let mut counted = 0usize;
        let mut held = 0usize;
        let mut failed = None;
        while let Some(item) = stream.next().await {
            assert!(failed.is_none(), "case {case}: an item after the error");
            match item {
                Ok(Chunk::ToolCallBytes(n)) => {
                    assert!(n > 0, "case {case}: empty progress");
                    counted += n;
                }
                Ok(Chunk::ToolCall(call)) => {
                    calls_seen += 1;
                    assert!(!call.name.is_empty(), "case {case}: a call without a name");
                    assert!(!call.arguments.trim().is_empty(), "case {case}");
                    // "{}" stands in for arguments that never came.
                    let arguments = if call.arguments == "{}" {
                        0
                    } else {
                        call.arguments.len()
                    };
                    held += call.id.len() + call.name.len() + arguments;
                    assert!(
                        held <= counted,
                        "case {case}: {held} bytes of calls held, {counted} counted"
                    );
                }
                Ok(Chunk::Text(_) | Chunk::Usage(_)) => {}
                Err(e) => {
                    assert_ne!(e.kind, ErrorKind::Internal, "case {case}: {}", e.message);
                    assert!(!e.message.contains("bug"), "case {case}: {}", e.message);
                    failed = Some(e);
                }
            }
        }
        if turn.shape.endless && failed.is_none() {
            // Every repeated piece was reported: a limit on them can stop the step.
            assert!(
                counted >= ENDLESS_REPEATS * 4,
                "case {case}: only {counted} bytes counted of an endless call"
            );
        }
        if turn.shape.complete && failed.is_none() {
            assert!(
                matches!(turn.stream.end, RawEnd::Finish),
                "case {case}: a complete stream ended"
            );
        }
        errors_seen += usize::from(failed.is_some());
    }
    // The fuzz reached both outcomes often.
    assert!(calls_seen > CASES, "{calls_seen} calls");
    assert!(errors_seen > CASES / 20, "{errors_seen} errors");
}
