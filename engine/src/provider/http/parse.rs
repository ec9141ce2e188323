//! The response body → SSE events → chunks, with a small parser per wire format.
//!
//! The idle timer lives here, not on the raw bytes: only content (text, usage, a tool's or a
//! thought's progress) resets it, so keep-alive comments or empty events cannot keep a silent
//! step alive forever.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::time::Instant;

use super::errors;
use super::sse::{MAX_EVENT_BYTES, SseError, SseEvent, SseReader};
use crate::event::ErrorKind;
use crate::provider::{Chunk, ChunkStream, ProviderError};

/// A response body as it arrives.
pub(crate) type Body = BoxStream<'static, Result<Bytes, ProviderError>>;

/// What one SSE event means.
pub(crate) enum Step {
    /// Chunks to pass on (possibly none); more events follow.
    More(Vec<Chunk>),
    /// Content the user does not see as text (a thought, a tool's input): the model is working,
    /// so the idle timer starts again.
    Progress,
    /// The answer is complete; anything after is not read.
    Done(Vec<Chunk>),
}

/// A wire format's reading of SSE events. `host` is for messages.
pub(crate) trait WireParser: Send + 'static {
    fn on_event(&mut self, event: &SseEvent, host: &str) -> Result<Step, ProviderError>;
    /// The body ended without `Done`: fine for some servers, a dropped connection for most.
    fn on_end(&mut self, host: &str) -> Result<(), ProviderError>;
}

struct State<P> {
    body: Option<Body>,
    reader: SseReader,
    events: VecDeque<SseEvent>,
    parser: P,
    pending: VecDeque<Chunk>,
    host: String,
    idle: Duration,
    /// When the step counts as silent: `idle` after the last content.
    deadline: Instant,
}

/// A deadline `idle` from now; a limit too large to add is simply never reached.
pub(crate) fn deadline_after(idle: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(idle)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Reads events until the parser says done, the body ends, the step is silent for `idle`, or
/// something fails; after a failure the stream ends. The connection is dropped as soon as the
/// answer is complete.
pub(crate) fn chunks<P: WireParser>(
    body: Body,
    parser: P,
    host: String,
    idle: Duration,
) -> ChunkStream {
    let state = State {
        body: Some(body),
        reader: SseReader::default(),
        events: VecDeque::new(),
        parser,
        pending: VecDeque::new(),
        host,
        idle,
        deadline: deadline_after(idle),
    };
    Box::pin(stream::unfold(state, |mut st| async move {
        loop {
            if let Some(chunk) = st.pending.pop_front() {
                return Some((Ok(chunk), st));
            }
            let result = if let Some(event) = st.events.pop_front() {
                st.parser.on_event(&event, &st.host)
            } else {
                let body = st.body.as_mut()?;
                match tokio::time::timeout_at(st.deadline, body.next()).await {
                    Err(_) => Err(errors::silent(&st.host, st.idle)),
                    Ok(None) => st.parser.on_end(&st.host).map(|()| Step::Done(Vec::new())),
                    Ok(Some(Err(e))) => Err(e),
                    Ok(Some(Ok(bytes))) => {
                        let mut out = Vec::new();
                        match st.reader.feed(&bytes, &mut out) {
                            Ok(()) => {
                                st.events.extend(out);
                                continue;
                            }
                            Err(e) => Err(sse_error(e, &st.host)),
                        }
                    }
                }
            };
            match result {
                Ok(Step::More(chunks)) => {
                    if !chunks.is_empty() {
                        st.deadline = deadline_after(st.idle);
                    }
                    st.pending.extend(chunks);
                }
                Ok(Step::Progress) => st.deadline = deadline_after(st.idle),
                Ok(Step::Done(chunks)) => {
                    st.pending.extend(chunks);
                    st.body = None;
                    st.events.clear();
                }
                Err(e) => {
                    st.body = None;
                    st.events.clear();
                    return Some((Err(e), st));
                }
            }
        }
    }))
}

fn sse_error(e: SseError, host: &str) -> ProviderError {
    match e {
        SseError::NotUtf8 => malformed(host, "text that is not UTF-8"),
        SseError::TooLong => malformed(
            host,
            &format!(
                "a line or event longer than {} MB",
                MAX_EVENT_BYTES / (1024 * 1024)
            ),
        ),
    }
}

/// A chunk the server should never have sent; names what was wrong (never the model's text,
/// which may be private and goes to no log).
pub(crate) fn malformed(host: &str, what: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Provider,
        format!("{host} sent a malformed chunk: {what}. The text so far is kept; try again."),
    )
}

/// Parses an event's data as JSON, or says where it is broken (not what it says).
pub(crate) fn json_of(event: &SseEvent, host: &str) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_str(&event.data).map_err(|e| {
        malformed(
            host,
            &format!(
                "not JSON ({:?} at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        )
    })
}

/// The connection ended before the format's end marker.
pub(crate) fn dropped(host: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Network,
        format!(
            "The connection to {host} closed before the answer was complete. The text so far is kept; try again."
        ),
    )
}

/// A test body: `events`, each after `every`, then nothing (the connection stays open).
#[cfg(test)]
pub(crate) fn paced_body(events: Vec<String>, every: Duration) -> Body {
    stream::iter(events)
        .then(move |e| async move {
            tokio::time::sleep(every).await;
            Ok(Bytes::from(e))
        })
        .chain(stream::pending())
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts every event as text.
    struct Echo;

    impl WireParser for Echo {
        fn on_event(&mut self, event: &SseEvent, _: &str) -> Result<Step, ProviderError> {
            Ok(match event.data.as_str() {
                "" => Step::More(Vec::new()),
                "thinking" => Step::Progress,
                text => Step::More(vec![Chunk::Text(text.to_string())]),
            })
        }
        fn on_end(&mut self, _: &str) -> Result<(), ProviderError> {
            Ok(())
        }
    }

    /// A body that sends `pieces`, each after its delay.
    fn body(pieces: Vec<(u64, &'static str)>) -> Body {
        stream::iter(pieces)
            .then(|(ms, text)| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(Bytes::from_static(text.as_bytes()))
            })
            .chain(stream::pending())
            .boxed()
    }

    #[tokio::test(start_paused = true)]
    async fn only_content_resets_the_idle_timer() {
        // Keep-alive comments and empty events every 400 ms: no content after "a" for > 1 s.
        let mut pieces = vec![(0, "data: a\n\n")];
        for _ in 0..10 {
            pieces.push((400, ": keep-alive\n\n"));
            pieces.push((0, "data:\n\n"));
        }
        let mut s = chunks(body(pieces), Echo, "h".into(), Duration::from_secs(1));
        assert_eq!(s.next().await.unwrap().unwrap(), Chunk::Text("a".into()));
        let started = Instant::now();
        let e = s.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert!(s.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn text_and_progress_keep_a_slow_step_alive() {
        let pieces = vec![
            (900, "data: a\n\n"),
            (900, "data: thinking\n\n"),
            (900, "data: b\n\n"),
        ];
        let mut s = chunks(body(pieces), Echo, "h".into(), Duration::from_secs(1));
        assert_eq!(s.next().await.unwrap().unwrap(), Chunk::Text("a".into()));
        assert_eq!(s.next().await.unwrap().unwrap(), Chunk::Text("b".into()));
        assert_eq!(
            s.next().await.unwrap().unwrap_err().kind,
            ErrorKind::Timeout
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_limit_does_not_overflow() {
        let mut s = chunks(
            body(vec![(5, "data: a\n\n")]),
            Echo,
            "h".into(),
            Duration::from_secs(u64::MAX),
        );
        assert_eq!(s.next().await.unwrap().unwrap(), Chunk::Text("a".into()));
    }

    #[test]
    fn malformed_json_is_described_without_quoting_it() {
        let e = json_of(
            &SseEvent {
                event: String::new(),
                data: "{\"content\": \"my private words".into(),
            },
            "h",
        )
        .unwrap_err();
        assert!(!e.message.contains("private"), "{}", e.message);
        assert!(e.message.contains("not JSON"), "{}", e.message);
    }
}
