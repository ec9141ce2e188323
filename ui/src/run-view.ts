// The run as the backend sent it: a snapshot, then each `run-update` that follows it.
// (The full run screen replaces this page; the fold rules are the backend's RunSnapshot::apply.)
import type { RunEvent, RunSnapshot, StepSnapshot } from "./bindings";

export function emptySnapshot(runId: string): RunSnapshot {
  return {
    run_id: runId, workflow_name: "", input: "", status: "pending", steps: [], final_output: null,
    cancel_reason: null, error: null, started_at_ms: null, ended_at_ms: null, last_seq: 0,
  };
}

/** Applies the next update; false (nothing changed) for one already applied or out of order. */
export function apply(s: RunSnapshot, e: RunEvent): boolean {
  const first = e.first_seq ?? e.seq;
  if (e.run_id !== s.run_id || first !== s.last_seq + 1) return false;
  s.last_seq = e.seq;
  const step = (i: number): StepSnapshot | undefined => s.steps[i];
  switch (e.type) {
    case "RunStarted":
      s.workflow_name = e.workflow_name;
      s.input = e.input;
      s.started_at_ms = e.ts_ms;
      s.steps = e.steps.map((st) => ({
        name: st.name, model: st.model, status: "pending", text: "", started_at_ms: null, duration_ms: null, usage: null,
      }));
      break;
    case "StepStarted": {
      s.status = "running";
      const st = step(e.step_index);
      if (st) { st.status = "running"; st.started_at_ms = e.ts_ms; st.model = e.model; }
      break;
    }
    case "TextDelta": {
      const st = step(e.step_index);
      if (st) st.text += e.text;
      break;
    }
    case "StepCompleted": {
      const st = step(e.step_index);
      if (st) { st.status = "completed"; st.text = e.output; st.duration_ms = e.duration_ms; st.usage = e.usage; }
      break;
    }
    case "RunCompleted":
      s.status = "completed"; s.final_output = e.output; s.ended_at_ms = e.ts_ms;
      break;
    case "RunCancelled":
      s.status = "cancelled"; s.cancel_reason = e.reason; s.ended_at_ms = e.ts_ms;
      endSteps(s, e.step_index ?? null, "cancelled");
      break;
    case "RunFailed":
      s.status = "failed"; s.ended_at_ms = e.ts_ms;
      s.error = { step_index: e.step_index, kind: e.error, message: e.message };
      endSteps(s, e.step_index, "failed");
      break;
  }
  return true;
}

function endSteps(s: RunSnapshot, at: number | null, status: "cancelled" | "failed") {
  s.steps.forEach((st, i) => {
    if (i === at && st.status !== "completed") st.status = status;
    else if (st.status === "pending" || st.status === "running") st.status = "skipped";
  });
}
