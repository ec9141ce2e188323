//! Merging text deltas so the webview's load stays bounded at any token rate.
//!
//! Rules: only consecutive `TextDelta`s of the same step merge; anything else (a step boundary, a
//! terminal event) first releases what is pending, so order is kept and nothing crosses a step
//! or the end. A merged delta says which events it stands for (`first_seq..=seq`).

use stepwise_engine::{EventKind, RunEvent};

#[derive(Default)]
pub struct Coalescer {
    pending: Option<RunEvent>,
}

impl Coalescer {
    /// Takes the next event; returns what must be sent now, in order. A delta is held back (and
    /// later ones of the same step appended) until [`Coalescer::flush`] or a non-mergeable event.
    pub fn push(&mut self, event: RunEvent) -> Vec<RunEvent> {
        let mut out = Vec::new();
        if let EventKind::TextDelta { path, text } = &event.kind {
            if let Some(p) = &mut self.pending
                && let EventKind::TextDelta {
                    path: held,
                    text: held_text,
                } = &mut p.kind
                && held == path
                && p.seq + 1 == event.seq
            {
                held_text.push_str(text);
                p.first_seq = Some(p.first_seq());
                p.seq = event.seq;
                p.ts_ms = event.ts_ms;
                return out;
            }
            out.extend(self.pending.take());
            self.pending = Some(event);
            return out;
        }
        out.extend(self.pending.take());
        out.push(event);
        out
    }

    /// Releases the held delta, if any.
    pub fn flush(&mut self) -> Option<RunEvent> {
        self.pending.take()
    }

    pub fn is_holding(&self) -> bool {
        self.pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stepwise_engine::event::PROTOCOL_VERSION;
    use stepwise_engine::{CancelReason, RunId};

    fn ev(seq: u64, kind: EventKind) -> RunEvent {
        RunEvent {
            v: PROTOCOL_VERSION,
            run_id: RunId::nil(),
            seq,
            first_seq: None,
            ts_ms: seq,
            kind,
        }
    }

    fn delta(seq: u64, step: u32, text: &str) -> RunEvent {
        ev(
            seq,
            EventKind::TextDelta {
                path: format!("step-{step}").into(),
                text: text.into(),
            },
        )
    }

    #[test]
    fn merges_a_step_s_deltas_and_says_which_events_it_covers() {
        let mut c = Coalescer::default();
        assert!(c.push(delta(3, 0, "a")).is_empty());
        assert!(c.push(delta(4, 0, "b")).is_empty());
        assert!(c.push(delta(5, 0, "c")).is_empty());
        let merged = c.flush().unwrap();
        assert_eq!((merged.first_seq, merged.seq), (Some(3), 5));
        assert_eq!(
            merged.kind,
            EventKind::TextDelta {
                path: "step-0".into(),
                text: "abc".into()
            }
        );
        assert!(c.flush().is_none());
    }

    #[test]
    fn a_single_delta_stays_as_it_was() {
        let mut c = Coalescer::default();
        c.push(delta(3, 0, "a"));
        assert_eq!(c.flush().unwrap(), delta(3, 0, "a"));
    }

    #[test]
    fn never_crosses_a_step_or_an_end_and_never_reorders() {
        let mut c = Coalescer::default();
        c.push(delta(3, 0, "a"));
        let out = c.push(delta(4, 1, "b"));
        assert_eq!(
            out,
            vec![delta(3, 0, "a")],
            "a new step releases the old one first"
        );
        let end = ev(
            5,
            EventKind::RunCancelled {
                reason: CancelReason::User,
                running: vec![stepwise_engine::event::PartialStep {
                    usage: None,
                    path: "step-1".into(),
                    text: "b".into(),
                }],
                duration_ms: 1,
            },
        );
        let out = c.push(end.clone());
        assert_eq!(
            out,
            vec![delta(4, 1, "b"), end],
            "pending text goes out before the end"
        );
        assert!(!c.is_holding());
    }
}
