// A run as the window shows it: the snapshot the backend sent, then each `run-update` after it.
// The rules are the backend's (RunSnapshot::apply): an update applies only if it starts right
// after the last one applied; a merged delta covers first_seq..seq.
import type { ErrorKind, RunEvent, RunSnapshot, RunStatus, StepSnapshot, StepStatus } from "../bindings";

export type Applied = "applied" | "duplicate" | "gap";

export function emptySnapshot(runId: string): RunSnapshot {
  return {
    run_id: runId, workflow_name: "", input: "", status: "pending", steps: [], final_output: null,
    cancel_reason: null, error: null, started_at_ms: null, ended_at_ms: null, last_seq: 0,
  };
}

export const isLive = (status: RunStatus): boolean => status === "pending" || status === "running";

/** Applies one update. "duplicate": already applied (ignored). "gap": something was missed
 * (the caller takes a fresh snapshot). */
export function applyEvent(s: RunSnapshot, e: RunEvent): Applied {
  if (e.run_id !== s.run_id) return "duplicate";
  const first = e.first_seq ?? e.seq;
  if (e.seq <= s.last_seq) return "duplicate";
  if (first !== s.last_seq + 1) return "gap";
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
      if (st) { st.status = "completed"; st.text = e.output; st.duration_ms = e.duration_ms; st.usage = e.usage ?? null; }
      break;
    }
    case "RunCompleted":
      s.status = "completed"; s.final_output = e.output; s.ended_at_ms = e.ts_ms;
      break;
    case "RunCancelled":
      s.status = "cancelled"; s.cancel_reason = e.reason; s.ended_at_ms = e.ts_ms;
      endSteps(s, e.step_index ?? null, "cancelled", e.ts_ms);
      break;
    case "RunFailed":
      s.status = "failed"; s.ended_at_ms = e.ts_ms;
      s.error = { step_index: e.step_index, kind: e.error, message: e.message };
      endSteps(s, e.step_index, "failed", e.ts_ms);
      break;
  }
  return "applied";
}

function endSteps(s: RunSnapshot, at: number | null, status: StepStatus, now: number) {
  s.steps.forEach((st, i) => {
    if (i === at && st.status !== "completed") {
      st.status = status;
      st.duration_ms = st.started_at_ms != null ? Math.max(0, now - st.started_at_ms) : null;
    } else if (st.status === "pending" || st.status === "running") {
      st.status = "skipped";
    }
  });
}

/** A snapshot taken after some updates were already received: keeps the newer of the two and
 * applies the buffered updates that follow it. */
export function join(current: RunSnapshot, fresh: RunSnapshot, buffered: RunEvent[]): RunSnapshot {
  const base = fresh.last_seq >= current.last_seq ? structuredClone(fresh) : current;
  for (const e of buffered) applyEvent(base, e);
  return base;
}

/** The step to show: the running one, else the last one with text. */
export function focusStep(s: RunSnapshot): number | null {
  const running = s.steps.findIndex((st) => st.status === "running");
  if (running >= 0) return running;
  for (let i = s.steps.length - 1; i >= 0; i--) if (s.steps[i].text) return i;
  return null;
}

export function clock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** "Waiting", "Running 0:12", "Done in 0:34", … for a step at time `now`. */
export function stepWords(st: StepSnapshot, now: number): string {
  switch (st.status) {
    case "pending": return "Waiting";
    case "running": return `Running ${clock(st.started_at_ms != null ? now - st.started_at_ms : 0)}`;
    case "completed": return `Done in ${clock(st.duration_ms ?? 0)}`;
    case "cancelled": return "Cancelled";
    case "failed": return "Failed";
    case "skipped": return "Skipped";
  }
}

/** What went wrong and what to do, for each kind of failure. */
export function failureAdvice(kind: ErrorKind): { title: string; action: string; settings: boolean } {
  switch (kind) {
    case "auth": return { title: "The API key was not accepted", action: "Check the key in Settings, then try again.", settings: true };
    case "rate_limit": return { title: "The provider is limiting requests", action: "Wait a little, then try again.", settings: false };
    case "provider": return { title: "The provider had a problem", action: "Try again in a moment.", settings: false };
    case "network": return { title: "The connection failed", action: "Check the connection and the provider's address in Settings, then try again.", settings: true };
    case "timeout": return { title: "The provider stopped answering", action: "Try again, or choose another model in Settings.", settings: true };
    case "invalid_config": return { title: "The setup is not complete", action: "Fix the model or provider in Settings, then try again.", settings: true };
    case "internal": return { title: "Something went wrong inside Stepwise", action: "Try again; if it keeps happening, please report it.", settings: false };
  }
}

/** One line a person reads (and a screen reader announces) for the run's state. */
export function runWords(s: RunSnapshot): string {
  switch (s.status) {
    case "pending": return "Starting…";
    case "running": {
      const i = s.steps.findIndex((st) => st.status === "running");
      return i >= 0 ? `Step ${i + 1} of ${s.steps.length}: ${s.steps[i].name}` : "Running…";
    }
    case "completed": return "Completed.";
    case "cancelled": return s.cancel_reason === "app_exit"
      ? "Cancelled because Stepwise was closing. The text written so far is kept."
      : "Cancelled. The text written so far is kept.";
    case "failed": return s.error ? `Failed: ${failureAdvice(s.error.kind).title}.` : "Failed.";
    case "interrupted": return "Interrupted: Stepwise stopped unexpectedly. The text saved so far is kept.";
  }
}

/** One word for a run's state, as lists show it. */
export function runStatusWord(status: RunStatus): string {
  switch (status) {
    case "pending": return "Starting";
    case "running": return "Running";
    case "completed": return "Completed";
    case "cancelled": return "Cancelled";
    case "failed": return "Failed";
    case "interrupted": return "Interrupted";
  }
}
