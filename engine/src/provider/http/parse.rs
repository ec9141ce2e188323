//! SSE events → chunks, with a small parser per wire format.

use std::collections::VecDeque;

use eventsource_stream::{Event, EventStreamError};
use futures_util::stream::{self, StreamExt};

use super::SseEvents;
use super::errors::quote;
use crate::event::ErrorKind;
use crate::provider::{Chunk, ChunkStream, ProviderError};

/// What one SSE event means.
pub(crate) enum Step {
    /// Chunks to pass on (possibly none); more events follow.
    More(Vec<Chunk>),
    /// The answer is complete; anything after is not read.
    Done(Vec<Chunk>),
}

/// A wire format's reading of SSE events. `host` is for messages.
pub(crate) trait WireParser: Send + 'static {
    fn on_event(&mut self, event: &Event, host: &str) -> Result<Step, ProviderError>;
    /// The body ended without `Done`: fine for some servers, a dropped connection for most.
    fn on_end(&mut self, host: &str) -> Result<(), ProviderError>;
}

struct State<P> {
    events: Option<SseEvents>,
    parser: P,
    pending: VecDeque<Chunk>,
    host: String,
}

/// Reads events until the parser says done, the body ends, or something fails; after a failure
/// the stream ends. The connection is dropped as soon as the answer is complete.
pub(super) fn chunks<P: WireParser>(events: SseEvents, parser: P, host: String) -> ChunkStream {
    let state = State {
        events: Some(events),
        parser,
        pending: VecDeque::new(),
        host,
    };
    Box::pin(stream::unfold(state, |mut st| async move {
        loop {
            if let Some(chunk) = st.pending.pop_front() {
                return Some((Ok(chunk), st));
            }
            let events = st.events.as_mut()?;
            let result = match events.next().await {
                None => st.parser.on_end(&st.host).map(|()| Step::Done(Vec::new())),
                Some(Err(e)) => Err(transport_error(e, &st.host)),
                Some(Ok(event)) => st.parser.on_event(&event, &st.host),
            };
            match result {
                Ok(Step::More(chunks)) => st.pending.extend(chunks),
                Ok(Step::Done(chunks)) => {
                    st.pending.extend(chunks);
                    st.events = None;
                }
                Err(e) => {
                    st.events = None;
                    return Some((Err(e), st));
                }
            }
        }
    }))
}

fn transport_error(e: EventStreamError<ProviderError>, host: &str) -> ProviderError {
    match e {
        EventStreamError::Transport(e) => e,
        EventStreamError::Utf8(e) => malformed(host, &format!("text that is not UTF-8 ({e})")),
        EventStreamError::Parser(e) => {
            malformed(host, &format!("an event that is not valid SSE ({e})"))
        }
    }
}

/// A chunk the server should never have sent; names what was wrong.
pub(crate) fn malformed(host: &str, what: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Provider,
        format!("{host} sent a malformed chunk: {what}. The text so far is kept; try again."),
    )
}

/// Parses an event's data as JSON, or says what was wrong with it.
pub(crate) fn json_of(event: &Event, host: &str) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_str(&event.data).map_err(|e| {
        malformed(
            host,
            &format!("not JSON ({e}): `{}`", quote(event.data.trim())),
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
