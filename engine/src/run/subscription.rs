//! A subscriber's view of a run: a snapshot, then every later event, with no gap and no duplicate.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::sync::mpsc;

use crate::event::RunEvent;
use crate::snapshot::RunSnapshot;

/// Apply `snapshot`, then the events of this stream: they start at `snapshot.last_seq + 1`. The
/// stream ends after the terminal event (at once if the run had already ended).
pub struct Subscription {
    pub snapshot: RunSnapshot,
    events: mpsc::UnboundedReceiver<RunEvent>,
}

impl Subscription {
    pub(crate) fn new(snapshot: RunSnapshot, events: mpsc::UnboundedReceiver<RunEvent>) -> Self {
        Subscription { snapshot, events }
    }

    /// The next event, or `None` after the terminal one.
    pub async fn next(&mut self) -> Option<RunEvent> {
        self.events.recv().await
    }

    /// The next event if one is already waiting (lets a reader batch what has piled up).
    pub fn try_next(&mut self) -> Option<RunEvent> {
        self.events.try_recv().ok()
    }

    /// How many events wait to be read (a reader that falls too far behind can tell).
    pub fn waiting(&self) -> usize {
        self.events.len()
    }
}

impl Stream for Subscription {
    type Item = RunEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RunEvent>> {
        self.events.poll_recv(cx)
    }
}
