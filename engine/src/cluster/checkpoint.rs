//! A run's checkpoint: what another process needs to go on with it. Finished steps keep their
//! outputs; a step still running when the checkpoint is taken is put back to pending (its text
//! so far dropped), so the process that goes on runs it again from its start.

use crate::snapshot::RunSnapshot;
use crate::status::StepStatus;
use crate::workflow::StepField;

/// `snapshot` as another worker can take it over (`Engine::take_over`).
pub fn checkpoint(snapshot: &RunSnapshot) -> RunSnapshot {
    let mut c = snapshot.clone();
    for step in &mut c.steps {
        // A step that holds others (a group, a loop, a parallel, a router) stays running: its
        // finished children give their outputs and the others run again inside it.
        let holds_others = step.kind.info().fields.iter().any(|f| {
            matches!(
                f,
                StepField::Steps | StepField::Then | StepField::Else | StepField::Routes
            )
        });
        if step.status == StepStatus::Running && !holds_others {
            step.status = StepStatus::Pending;
            step.text.clear();
            step.started_at_ms = None;
            step.duration_ms = None;
            step.usage = None;
            step.tool_calls.clear();
            step.note = None;
        }
    }
    c.recount_usage();
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, RunEvent, StepInfo};
    use crate::workflow::StepKindName;

    #[test]
    fn a_running_agent_goes_back_to_pending_and_finished_steps_keep_their_outputs() {
        let mut s = RunSnapshot::new(uuid::Uuid::new_v4());
        let info = |id: &str| StepInfo {
            path: id.into(),
            parent: None,
            id: id.into(),
            name: id.into(),
            kind: StepKindName::Agent,
            model: "demo".into(),
            branch: None,
            round: None,
        };
        let kinds = [
            EventKind::RunStarted {
                workflow_name: "w".into(),
                input: "in".into(),
                steps: vec![info("a"), info("b")],
                resumed_from: None,
            },
            EventKind::StepStarted { step: info("a") },
            EventKind::TextDelta {
                path: "a".into(),
                text: "done".into(),
            },
            EventKind::StepCompleted {
                path: "a".into(),
                output: "done".into(),
                duration_ms: 1,
                usage: None,
            },
            EventKind::StepStarted { step: info("b") },
            EventKind::TextDelta {
                path: "b".into(),
                text: "half".into(),
            },
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            let event = RunEvent {
                v: 2,
                run_id: s.run_id,
                seq: i as u64 + 1,
                first_seq: None,
                ts_ms: 1,
                kind,
            };
            assert!(s.apply(&event));
        }
        let c = checkpoint(&s);
        assert_eq!(c.last_seq, 6);
        let a = c.step("a").unwrap();
        assert_eq!((a.status, a.text.as_str()), (StepStatus::Completed, "done"));
        let b = c.step("b").unwrap();
        assert_eq!((b.status, b.text.as_str()), (StepStatus::Pending, ""));
        assert!(b.started_at_ms.is_none());
    }
}
