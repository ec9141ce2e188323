//! A run's events for a watcher: the saved ones first, then live, joined with no gap and no
//! duplicate, and sent through a bounded buffer so a watcher that stops reading costs the owner a
//! bounded amount of memory and never slows the run.
//!
//! The seam: the subscription's snapshot is at `last`; the history, once flushed, holds every
//! event up to `last`. The history merges a step's consecutive text deltas, so its last saved
//! delta may run past `last` (`first_seq ≤ last < seq`): those later deltas are live ones this
//! subscription already holds, so the saved delta is cut to the text before them.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Weak;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{EventKind, RunEvent, RunId};
use crate::run::Subscription;
use crate::store::Store;

/// Given to each request by the server: drops the request's own connection (a watcher that fell
/// too far behind: its socket is full, so nothing written would reach it).
#[derive(Clone)]
pub(super) struct DropConnection(pub CancellationToken);

/// Chunks written ahead of the connection (each up to [`CHUNK_BYTES`]).
const CHUNKS_AHEAD: usize = 8;
const CHUNK_BYTES: usize = 64 * 1024;

/// The saved events after `after` up to the subscription's snapshot, with the live events the
/// seam needed, and the subscription to go on with.
pub(super) async fn saved_then_live(
    history: Weak<Store>,
    id: RunId,
    after: u64,
    mut live: Subscription,
) -> Result<(Vec<RunEvent>, Subscription), String> {
    let last = live.snapshot.last_seq;
    if after >= last {
        return Ok((Vec::new(), live));
    }
    let Some(store) = history.upgrade() else {
        return Err(format!(
            "this run is not kept in the history, so only its events after {last} can be followed"
        ));
    };
    let saved = tokio::task::spawn_blocking(move || {
        store.flush(Duration::from_secs(10))?;
        store.events(id)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;

    let mut out = Vec::with_capacity(saved.len());
    let mut across = None;
    for event in saved {
        let first = event.first_seq.unwrap_or(event.seq);
        if event.seq <= after || first > last {
            continue; // the watcher has it, or it comes live
        }
        if event.seq > last {
            across = Some(event);
        } else {
            out.push(event);
        }
    }
    if let Some(merged) = across {
        // The live deltas up to the merged one's end are already in the subscription.
        let mut early = Vec::new();
        let mut tail = 0usize;
        while early.last().is_none_or(|e: &RunEvent| e.seq < merged.seq) {
            let Some(event) = live.next().await else {
                break;
            };
            if let EventKind::TextDelta { text, .. } = &event.kind {
                tail += text.len();
            }
            early.push(event);
        }
        out.extend(cut_before(merged, last, tail));
        out.extend(early);
    }
    Ok((out, live))
}

/// A merged delta cut to the text it had up to `last`: its last `tail` bytes come live.
fn cut_before(mut merged: RunEvent, last: u64, tail: usize) -> Option<RunEvent> {
    let first = merged.first_seq.unwrap_or(merged.seq);
    let EventKind::TextDelta { text, .. } = &mut merged.kind else {
        return Some(merged);
    };
    let keep = text.len().saturating_sub(tail);
    if keep == 0 || !text.is_char_boundary(keep) {
        return None;
    }
    text.truncate(keep);
    merged.seq = last;
    merged.first_seq = (first < last).then_some(first);
    Some(merged)
}

/// The response body: `saved`, then the subscription's events, as server-sent events.
pub(super) fn body(
    saved: Vec<RunEvent>,
    live: Subscription,
    max_backlog: usize,
    drop_connection: CancellationToken,
) -> Body {
    let (tx, rx) = mpsc::channel::<Bytes>(CHUNKS_AHEAD);
    tokio::spawn(forward(saved, live, tx, max_backlog, drop_connection));
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    }))
}

/// Moves events from the subscription to the connection as fast as it takes them. Events wait
/// here (never in the engine) while the watcher is slow; past `max_backlog` of them the watcher is
/// too far behind and its connection is dropped.
async fn forward(
    saved: Vec<RunEvent>,
    mut live: Subscription,
    tx: mpsc::Sender<Bytes>,
    max_backlog: usize,
    drop_connection: CancellationToken,
) {
    // What was saved may be more than the backlog allows; it is in memory already.
    let limit = max_backlog.max(saved.len());
    let mut waiting: VecDeque<RunEvent> = saved.into();
    let mut live_over = false;
    loop {
        if waiting.is_empty() && live_over {
            return; // all sent: the body ends after the terminal event
        }
        tokio::select! {
            biased;
            _ = tx.closed() => return,
            slot = tx.reserve(), if !waiting.is_empty() => {
                let Ok(slot) = slot else { return };
                slot.send(chunk(&mut waiting));
            }
            event = live.next(), if !live_over => match event {
                Some(event) => {
                    waiting.push_back(event);
                    while waiting.len() <= limit && let Some(more) = live.try_next() {
                        waiting.push_back(more);
                    }
                    // Counting what the engine has queued for us too: behind is behind.
                    if waiting.len() + live.waiting() > limit {
                        drop_connection.cancel();
                        return;
                    }
                }
                None => live_over = true,
            },
        }
    }
}

/// As many waiting events as fit in one chunk, in the server-sent events format.
fn chunk(waiting: &mut VecDeque<RunEvent>) -> Bytes {
    let mut out = Vec::with_capacity(CHUNK_BYTES.min(waiting.len() * 128));
    while out.len() < CHUNK_BYTES {
        let Some(event) = waiting.pop_front() else {
            break;
        };
        out.extend_from_slice(format!("id: {}\ndata: ", event.seq).as_bytes());
        // A RunEvent always serializes; its JSON has no raw line break to split the field.
        if serde_json::to_writer(&mut out, &event).is_err() {
            out.extend_from_slice(b"null");
        }
        out.extend_from_slice(b"\n\n");
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn delta(seq: u64, first: Option<u64>, text: &str) -> RunEvent {
        RunEvent {
            v: crate::event::PROTOCOL_VERSION,
            run_id: RunId::nil(),
            seq,
            first_seq: first,
            ts_ms: 0,
            kind: EventKind::TextDelta {
                path: Arc::from("write"),
                text: text.into(),
            },
        }
    }

    #[test]
    fn a_merged_delta_across_the_seam_keeps_only_the_text_before_it() {
        // Saved: deltas 4..=7 merged as "abcdefg"; live from 6: "ef" (6), "g" (7).
        let cut = cut_before(delta(7, Some(4), "abcdefg"), 5, 3).unwrap();
        assert_eq!(cut.seq, 5);
        assert_eq!(cut.first_seq, Some(4));
        let EventKind::TextDelta { text, .. } = cut.kind else {
            panic!()
        };
        assert_eq!(text, "abcd");
        // All of it came live: nothing is left of it.
        assert!(cut_before(delta(7, Some(6), "efg"), 5, 3).is_none());
    }

    #[test]
    fn chunks_are_server_sent_events_with_the_seq_as_id() {
        let mut waiting: VecDeque<RunEvent> = [delta(1, None, "a\nb"), delta(2, None, "c")].into();
        let text = String::from_utf8(chunk(&mut waiting).to_vec()).unwrap();
        let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.is_empty()).collect();
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].starts_with("id: 1\ndata: {"));
        assert!(!blocks[0]["id: 1\ndata: ".len()..].contains('\n'));
        assert!(waiting.is_empty());
    }
}
