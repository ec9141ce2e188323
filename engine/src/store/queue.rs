//! What the engine hands the history writer: new runs and events, merged as they come.
//!
//! The engine calls the sink under a run's lock, so handing off must be cheap and must never
//! block. Consecutive text deltas of one step are merged into one pending event (a coalesced
//! delta, `first_seq..=seq`), so the queue holds the new *text* since the writer last took it,
//! not one cloned event per token: its size is bounded by what the models write in one batch
//! interval, at any token rate, and the writer's work per batch is proportional to that text.

use std::collections::{HashMap, HashSet};

use crate::event::{EventKind, RunEvent, RunId};
use crate::snapshot::RunSnapshot;
use crate::workflow::StepKindName;

/// A run accepted by the engine, before its first event.
pub(super) struct Created {
    pub run_id: RunId,
    pub workflow_name: String,
    pub workflow_json: String,
    pub input: String,
    pub created_at_ms: u64,
    /// Who drives it, if not this process (a mirrored run's place: `Mirror`).
    pub owner: Option<String>,
}

/// Past this much queued text the writer is woken at once instead of at its next interval.
pub(super) const WAKE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Default)]
pub(super) struct Queue {
    pub created: Vec<Created>,
    /// Runs that waited across a quit and go on (`RunSink::run_revived`), as they were saved.
    pub revived: Vec<RunSnapshot>,
    /// Mirrored runs heard anew (`Mirror::replace`): recorded as exactly these.
    pub replaced: Vec<RunSnapshot>,
    /// In order per run; a merged delta stands for `first_seq..=seq`.
    pub events: Vec<RunEvent>,
    /// For each run, where its newest queued event is (to merge the next delta into it).
    newest: HashMap<RunId, usize>,
    /// Text bytes queued.
    pub bytes: usize,
    /// The paths of each live run's agent steps: their output is their streamed text, so the
    /// log need not keep it twice. (A container's or router's output is not the sum of its
    /// deltas; it is kept.)
    agents: HashMap<RunId, HashSet<String>>,
}

impl Queue {
    pub fn push_created(&mut self, c: Created) {
        self.created.push(c);
    }

    pub fn push_revived(&mut self, snapshot: &RunSnapshot) {
        let agents = snapshot
            .steps
            .iter()
            .filter(|s| s.kind == StepKindName::Agent)
            .map(|s| s.path.clone())
            .collect();
        self.agents.insert(snapshot.run_id, agents);
        self.revived.push(snapshot.clone());
    }

    pub fn push_replaced(&mut self, snapshot: &RunSnapshot) {
        self.push_revived(snapshot);
        let revived = self.revived.pop();
        self.replaced.extend(revived);
    }

    /// Queues an event; returns the text bytes now queued.
    pub fn push_event(&mut self, e: &RunEvent) -> usize {
        match &e.kind {
            EventKind::StepStarted { step } if step.kind == StepKindName::Agent => {
                self.agents
                    .entry(e.run_id)
                    .or_default()
                    .insert(step.path.clone());
            }
            k if k.is_terminal() => {
                self.agents.remove(&e.run_id);
            }
            _ => {}
        }
        if let EventKind::TextDelta { path, text } = &e.kind {
            self.bytes += text.len();
            if let Some(&at) = self.newest.get(&e.run_id)
                && let Some(prev) = self.events.get_mut(at)
                && prev.seq + 1 == e.first_seq()
                && let EventKind::TextDelta {
                    path: prev_path,
                    text: prev_text,
                } = &mut prev.kind
                && prev_path == path
            {
                prev_text.push_str(text);
                prev.first_seq = Some(prev.first_seq());
                prev.seq = e.seq;
                prev.ts_ms = e.ts_ms;
                return self.bytes;
            }
        }
        self.newest.insert(e.run_id, self.events.len());
        let agents = self.agents.get(&e.run_id);
        self.events.push(without_end_texts(e, |p| {
            agents.is_some_and(|a| a.contains(p))
        }));
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.created.is_empty()
            && self.revived.is_empty()
            && self.replaced.is_empty()
            && self.events.is_empty()
    }
}

/// The event as the history keeps it: the copies of a step's streamed text at its end (an
/// agent's `StepCompleted.output`, `RunCompleted.output`, each `RunCancelled.running` text) are
/// left out — the text is saved once, from the deltas, and restored on reading
/// (`queries::restore_texts`). Done here, so the run's lock never waits for a copy of a whole
/// step's text.
fn without_end_texts(e: &RunEvent, streamed: impl Fn(&str) -> bool) -> RunEvent {
    let kind = match &e.kind {
        EventKind::StepCompleted {
            path,
            duration_ms,
            usage,
            ..
        } if streamed(path) => EventKind::StepCompleted {
            path: path.clone(),
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
            running,
            duration_ms,
        } => EventKind::RunCancelled {
            reason: *reason,
            running: running
                .iter()
                .map(|p| crate::event::PartialStep {
                    path: p.path.clone(),
                    text: String::new(),
                    usage: p.usage,
                })
                .collect(),
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

    fn delta(run: RunId, seq: u64, step: &str, text: &str) -> RunEvent {
        RunEvent {
            v: PROTOCOL_VERSION,
            run_id: run,
            seq,
            first_seq: None,
            ts_ms: seq,
            kind: EventKind::TextDelta {
                path: step.into(),
                text: text.into(),
            },
        }
    }

    #[test]
    fn deltas_of_one_step_merge_and_nothing_else_does() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut q = Queue::default();
        q.push_event(&delta(a, 1, "a", "x"));
        q.push_event(&delta(b, 1, "a", "p"));
        q.push_event(&delta(a, 2, "a", "y"));
        q.push_event(&delta(a, 3, "a", "z"));
        q.push_event(&delta(a, 4, "b", "w")); // another step: a new event
        assert_eq!(q.push_event(&delta(b, 2, "a", "q")), 6);
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

    fn started(run: RunId, seq: u64, path: &str, kind: StepKindName) -> RunEvent {
        RunEvent {
            kind: EventKind::StepStarted {
                step: crate::event::StepInfo {
                    path: path.into(),
                    parent: None,
                    id: path.into(),
                    name: path.into(),
                    kind,
                    model: String::new(),
                    branch: None,
                    round: None,
                },
            },
            ..delta(run, seq, path, "")
        }
    }

    fn completed(run: RunId, seq: u64, path: &str) -> RunEvent {
        RunEvent {
            kind: EventKind::StepCompleted {
                path: path.into(),
                output: "the whole step".into(),
                duration_ms: 5,
                usage: None,
            },
            ..delta(run, seq, path, "")
        }
    }

    #[test]
    fn an_agent_end_is_queued_without_its_text_and_a_container_end_with_it() {
        let run = Uuid::new_v4();
        let mut q = Queue::default();
        q.push_event(&started(run, 1, "write", StepKindName::Agent));
        q.push_event(&started(run, 2, "angles", StepKindName::Parallel));
        q.push_event(&completed(run, 3, "write"));
        q.push_event(&completed(run, 4, "angles"));
        let output = |i: usize| match &q.events[i].kind {
            EventKind::StepCompleted { output, .. } => output.clone(),
            _ => unreachable!(),
        };
        assert_eq!(output(2), "");
        assert_eq!(output(3), "the whole step");
        assert_eq!((q.events[2].seq, q.bytes), (3, 0));
    }
}
