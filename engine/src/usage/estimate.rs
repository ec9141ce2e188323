//! Counting tokens Stepwise was not told about: a stream cut short never gets its usage.
//!
//! OpenAI's models are counted with their own tokenizer (`tiktoken-rs`'s o200k: GPT-4o, 4.1, 4.5,
//! 5, the o-series and gpt-oss; the older GPT-4 and 3.5 used cl100k, whose table would add 1.7 MB
//! to the app for models few still run, so they are counted with o200k too, a close
//! approximation). No maintained crate has the
//! other families' tokenizers offline (Claude's is not published; Llama's, Qwen's and the rest
//! are downloads), so they are approximated: one token for every 4 bytes of UTF-8, rounded up —
//! the "4 characters per token" rule of thumb for English, counted in bytes so that scripts
//! which need more tokens per character count more. Either way the result is marked estimated.
//!
//! A request's input is what the model reads: its instructions, message, tool definitions and
//! earlier tool rounds, plus 4 tokens per message for the chat format and 3 to prime the reply
//! (OpenAI's published accounting).

use crate::model_ref::ModelRef;

/// How a model family's tokens are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// OpenAI's o200k_base (GPT-4o and later; GPT-4 and 3.5 approximately).
    O200k,
    /// No tokenizer at hand: 4 bytes a token.
    Approximate,
}

impl Counter {
    /// The counter for a model, by the family its name says.
    pub fn for_model(model: &ModelRef) -> Counter {
        // Served elsewhere (Ollama's `gpt-oss:20b`) the family is still in the name.
        let name = model.model().to_ascii_lowercase();
        let name = name.rsplit('/').next().unwrap_or(&name);
        let o200k = [
            "gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-", "gpt-oss", "o1", "o3", "o4",
        ];
        // GPT-4 and 3.5 (cl100k) are counted with o200k too: close, and 1.7 MB lighter.
        let older = ["gpt-4", "gpt-3.5"];
        if o200k.iter().chain(&older).any(|p| family_is(name, p)) {
            Counter::O200k
        } else {
            Counter::Approximate
        }
    }

    /// The tokens of `text`.
    pub fn count(self, text: &str) -> u32 {
        let n = match self {
            Counter::O200k => tiktoken_rs::o200k_base_singleton()
                .encode_ordinary(text)
                .len(),
            Counter::Approximate => text.len().div_ceil(4),
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// Loads the tokenizer `model` is counted with, once a process, on a thread of its own: the
/// first OpenAI-family call of a process warms it, so that a cancel that comes later does not
/// wait for its table (0.13–0.19 s, and 46 MB held, which a process that never calls such a
/// model never spends).
pub fn prepare(model: &ModelRef) {
    static WARMING: std::sync::Once = std::sync::Once::new();
    if Counter::for_model(model) == Counter::O200k {
        WARMING.call_once(|| {
            let _ = std::thread::Builder::new()
                .name("stepwise-tokenizer".into())
                .spawn(|| {
                    tiktoken_rs::o200k_base_singleton();
                });
        });
    }
}

/// Whether `name` is `family` or a variant of it (`gpt-5-mini`, `o3:latest`), not a longer
/// word that starts the same (`o1` is not `o10b`).
fn family_is(name: &str, family: &str) -> bool {
    name.strip_prefix(family).is_some_and(|rest| {
        rest.is_empty() || rest.starts_with(['-', ':', '.', '_']) || family.ends_with('-')
    })
}

/// The tokens of `text` for `model`.
pub fn count_tokens(model: &ModelRef, text: &str) -> u32 {
    Counter::for_model(model).count(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{ModelRequest, estimate_request};

    fn m(s: &str) -> ModelRef {
        s.parse().unwrap()
    }

    #[test]
    fn families_are_told_by_name() {
        assert_eq!(Counter::for_model(&m("openai:gpt-5-mini")), Counter::O200k);
        assert_eq!(
            Counter::for_model(&m("openai:gpt-4o-2024-08-06")),
            Counter::O200k
        );
        assert_eq!(Counter::for_model(&m("openai:o3")), Counter::O200k);
        assert_eq!(Counter::for_model(&m("ollama:gpt-oss:20b")), Counter::O200k);
        assert_eq!(Counter::for_model(&m("openai:gpt-4-turbo")), Counter::O200k);
        assert_eq!(
            Counter::for_model(&m("openai:gpt-3.5-turbo")),
            Counter::O200k
        );
        assert_eq!(
            Counter::for_model(&m("anthropic:claude-sonnet-4-5")),
            Counter::Approximate
        );
        assert_eq!(
            Counter::for_model(&m("ollama:llama3.2")),
            Counter::Approximate
        );
        assert_eq!(Counter::for_model(&m("ollama:o10b")), Counter::Approximate);
        assert_eq!(Counter::for_model(&ModelRef::demo()), Counter::Approximate);
    }

    #[test]
    fn counts_with_the_family_tokenizer() {
        // "Hello, world!" is 4 tokens in o200k.
        assert_eq!(count_tokens(&m("openai:gpt-5"), "Hello, world!"), 4);
        // 13 bytes → 4 by the approximation; non-Latin text counts its bytes.
        assert_eq!(
            count_tokens(&m("anthropic:claude-haiku-4-5"), "Hello, world!"),
            4
        );
        assert_eq!(count_tokens(&m("ollama:qwen"), "日本語"), 3);
        assert_eq!(count_tokens(&m("ollama:qwen"), ""), 0);
    }

    #[test]
    fn a_request_counts_everything_the_model_reads() {
        let model = m("openai:gpt-5-mini");
        let bare = ModelRequest::new(model.clone(), "Be brief.".into(), "Hi".into());
        let n = estimate_request(&bare);
        // 3 + 1 tokens of text, two messages of 4, 3 to prime the reply.
        assert_eq!(n, 3 + 1 + 8 + 3);
        let mut longer = bare.clone();
        longer.user = "Hi ".repeat(100);
        assert!(estimate_request(&longer) > n + 90);
    }
}
