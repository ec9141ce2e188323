//! What the engine hands the history writer: new runs and events, merged as they come.
//!
//! The engine calls the sink under a run's lock, so handing off must be cheap and must never
//! block. Consecutive text deltas of one step are merged into one pending event (a coalesced
//! delta, `first_seq..=seq`), so the queue holds the new *text* since the writer last took it,
//! not one cloned event per token: its size is bounded by what the models write in one batch
//! interval, at any token rate, and the writer's work per batch is proportional to that text.

use std::collections::HashMap;

use crate::event::{EventKind, RunEvent, RunId};

/// A run accepted by the engine, before its first event.
pub(super) struct Created {
    pub run_id: RunId,
    pub workflow_name: String,
    pub workflow_json: String,
    pub input: String,
    pub created_at_ms: u64,
}

/// Past this much queued text the writer is woken at once instead of at its next interval.
pub(super) const WAKE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Default)]
pub(super) struct Queue {
    pub created: Vec<Created>,
    /// In order per run; a merged delta stands for `first_seq..=seq`.
    pub events: Vec<RunEvent>,
    /// For each run, where its newest queued event is (to merge the next delta into it).
    newest: HashMap<RunId, usize>,
    /// Text bytes queued.
    pub bytes: usize,
}

impl Queue {
    pub fn push_created(&mut self, c: Created) {
        self.created.push(c);
    }

    /// Queues an event; returns the text bytes now queued.
    pub fn push_event(&mut self, e: &RunEvent) -> usize {
        if let EventKind::TextDelta { step_index, text } = &e.kind {
            self.bytes += text.len();
            if let Some(&at) = self.newest.get(&e.run_id)
                && let Some(prev) = self.events.get_mut(at)
                && prev.seq + 1 == e.first_seq()
                && let EventKind::TextDelta {
                    step_index: prev_step,
                    text: prev_text,
                } = &mut prev.kind
                && prev_step == step_index
            {
                prev_text.push_str(text);
                prev.first_seq = Some(prev.first_seq());
                prev.seq = e.seq;
                prev.ts_ms = e.ts_ms;
                return self.bytes;
            }
        }
        self.newest.insert(e.run_id, self.events.len());
        self.events.push(without_end_texts(e));
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.events.is_empty()
    }
}

/// The event as the history keeps it: the copies of a step's text at its end
/// (`StepCompleted.output`, `RunCompleted.output`, `RunCancelled.partial_output`) are left out —
/// the text is saved once, from the deltas, and restored on reading (`queries::restore_texts`).
/// Done here, so the run's lock never waits for a copy of a whole step's text.
fn without_end_texts(e: &RunEvent) -> RunEvent {
    let kind = match &e.kind {
        EventKind::StepCompleted {
            step_index,
            duration_ms,
            usage,
            ..
        } => EventKind::StepCompleted {
            step_index: *step_index,
            output: String::new(),
            duration_ms: *duration_ms,
            usage: *usage,
        },
        EventKind::RunCompleted { duration_ms, .. } => EventKind::RunCompleted {
            output: String::new(),
            duration_ms: *duration_ms,
        },
        EventKind::RunCancelled {
            reason,
            step_index,
            duration_ms,
            ..
        } => EventKind::RunCancelled {
            reason: *reason,
            step_index: *step_index,
            partial_output: String::new(),
            duration_ms: *duration_ms,
        },
        other => other.clone(),
    };
    RunEvent { kind, ..*e }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::PROTOCOL_VERSION;
    use uuid::Uuid;

    fn delta(run: RunId, seq: u64, step: u32, text: &str) -> RunEvent {
        RunEvent {
            v: PROTOCOL_VERSION,
            run_id: run,
            seq,
            first_seq: None,
            ts_ms: seq,
            kind: EventKind::TextDelta {
                step_index: step,
                text: text.into(),
            },
        }
    }

    #[test]
    fn deltas_of_one_step_merge_and_nothing_else_does() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut q = Queue::default();
        q.push_event(&delta(a, 1, 0, "x"));
        q.push_event(&delta(b, 1, 0, "p"));
        q.push_event(&delta(a, 2, 0, "y"));
        q.push_event(&delta(a, 3, 0, "z"));
        q.push_event(&delta(a, 4, 1, "w")); // another step: a new event
        assert_eq!(q.push_event(&delta(b, 2, 0, "q")), 6);
        let got: Vec<(RunId, Option<u64>, u64, String)> = q
            .events
            .iter()
            .map(|e| match &e.kind {
                EventKind::TextDelta { text, .. } => (e.run_id, e.first_seq, e.seq, text.clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (a, Some(1), 3, "xyz".into()),
                (b, Some(1), 2, "pq".into()),
                (a, None, 4, "w".into()),
            ]
        );
    }

    #[test]
    fn a_step_end_is_queued_without_its_text() {
        let run = Uuid::new_v4();
        let mut q = Queue::default();
        q.push_event(&RunEvent {
            kind: EventKind::StepCompleted {
                step_index: 0,
                output: "the whole step".into(),
                duration_ms: 5,
                usage: None,
            },
            ..delta(run, 7, 0, "")
        });
        assert_eq!(
            q.events[0].kind,
            EventKind::StepCompleted {
                step_index: 0,
                output: String::new(),
                duration_ms: 5,
                usage: None,
            }
        );
        assert_eq!((q.events[0].seq, q.bytes), (7, 0));
    }
}
