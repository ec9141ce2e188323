// A run as the window shows it: the snapshot the backend sent, then each `run-update` after it.
// The rules are the backend's (RunSnapshot::apply): an update applies only if it starts right
// after the last one applied; a merged delta covers first_seq..seq.
import { FAILURES, OWNER_KINDS } from "../bindings";
import type {
  ErrorKind, OwnerKind, RunEvent, RunSnapshot, RunStatus, StepInfo, StepSnapshot, ToolCallView,
} from "../bindings";
import { totalUsage } from "./usage";

export type Applied = "applied" | "duplicate" | "gap";

export function emptySnapshot(runId: string): RunSnapshot {
  return {
    run_id: runId, workflow_name: "", input: "", status: "pending", steps: [], final_output: null,
    cancel_reason: null, error: null, started_at_ms: null, ended_at_ms: null, last_seq: 0,
    resumed_from: null, continued_in: [], usage: null, owner: null,
  };
}

export const isLive = (status: RunStatus): boolean =>
  status === "pending" || status === "running" || status === "waiting";

/** Whether the step at `path` is inside the step at `outer` (`angles/economics` in `angles`,
 * `revise#2/critique` in `revise`). */
export function isInside(path: string, outer: string): boolean {
  if (!path.startsWith(outer)) return false;
  const next = path.charAt(outer.length);
  return next === "/" || next === "#";
}

function pending(info: StepInfo): StepSnapshot {
  return {
    path: info.path, parent: info.parent ?? null, id: info.id, name: info.name, kind: info.kind,
    model: info.model, branch: info.branch ?? null, round: info.round ?? null, status: "pending",
    text: "", started_at_ms: null, duration_ms: null, usage: null, rounds: null, chosen: null,
    skipped: null, note: null, tool_calls: [], reviews: [], reused: false, unreviewed: false,
  };
}

/** A step that ends stops the tool calls it was making. */
function stopToolCalls(st: StepSnapshot, now: number) {
  for (const c of st.tool_calls) {
    if (c.status === "running" || c.status === "waiting") {
      c.status = "cancelled";
      c.duration_ms = c.started_at_ms != null ? Math.max(0, now - c.started_at_ms) : null;
    }
  }
}

/** Applies one update. "duplicate": already applied (ignored). "gap": something was missed
 * (the caller takes a fresh snapshot). */
export function applyEvent(s: RunSnapshot, e: RunEvent): Applied {
  if (e.run_id !== s.run_id) return "duplicate";
  const first = e.first_seq ?? e.seq;
  if (e.seq <= s.last_seq) return "duplicate";
  if (first !== s.last_seq + 1) return "gap";
  s.last_seq = e.seq;
  const now = e.ts_ms;
  switch (e.type) {
    case "RunStarted":
      s.workflow_name = e.workflow_name;
      s.input = e.input;
      s.started_at_ms = now;
      s.steps = e.steps.map(pending);
      s.resumed_from = e.resumed_from ?? null;
      break;
    case "StepStarted": {
      s.status = "running";
      if (!findStep(s, e.step.path)) (s.steps as StepSnapshot[]).push(pending(e.step));
      const st = findStep(s, e.step.path);
      if (st) {
        // A step that starts again while running was cut where another worker took the run
        // over (ARCHITECTURE §13): it starts from nothing.
        if (st.status === "running") { st.text = ""; st.tool_calls = []; st.usage = null; }
        st.status = "running"; st.started_at_ms = now; st.model = e.step.model;
      }
      break;
    }
    case "TextDelta": {
      const st = findStep(s, e.path);
      if (st) st.text += e.text;
      break;
    }
    case "StepCompleted": {
      const st = findStep(s, e.path);
      if (st) { st.status = "completed"; st.text = e.output; st.duration_ms = e.duration_ms; st.usage = e.usage ?? null; }
      break;
    }
    case "StepFailed": {
      const st = findStep(s, e.path);
      if (st) { stopToolCalls(st, now); st.status = "failed"; st.duration_ms = e.duration_ms; st.note = e.message; st.usage = e.usage ?? null; }
      break;
    }
    case "StepSkipped":
      // A step set aside keeps its text; the steps inside it that had not ended go with it.
      for (const st of s.steps) {
        if (st.path === e.path || isInside(st.path, e.path)) stopToolCalls(st, now);
        if (st.path === e.path) {
          st.status = "skipped"; st.skipped = e.reason; st.note = e.message ?? null; st.usage = e.usage ?? null;
          st.duration_ms = st.started_at_ms != null ? Math.max(0, now - st.started_at_ms) : null;
        } else if (isInside(st.path, e.path) && (st.status === "pending" || st.status === "running" || st.status === "waiting")) {
          st.status = "skipped"; st.skipped = e.reason;
        }
      }
      break;
    case "LoopRoundStarted": {
      const st = findStep(s, e.path);
      if (st) st.rounds = { round: e.round, max: e.max_rounds };
      break;
    }
    case "RouteChosen": {
      const st = findStep(s, e.path);
      if (st) st.chosen = { route: e.route, reason: e.reason };
      break;
    }
    case "ToolCallStarted": {
      const st = findStep(s, e.path);
      if (st) (st.tool_calls as ToolCallView[]).push({
        call_id: e.call_id, tool: e.tool, arguments: e.arguments, title: e.title, at: e.at,
        status: "running", preview: null, result: null, approval: null, started_at_ms: now, duration_ms: null,
      });
      break;
    }
    case "ToolCallFinished": {
      const c = lastCall(findStep(s, e.path), e.call_id);
      if (c) {
        c.status = e.ok ? "done" : "failed";
        c.preview = e.preview; c.result = e.result; c.duration_ms = e.duration_ms;
      }
      break;
    }
    case "ToolApprovalRequested": {
      const c = lastCall(findStep(s, e.path), e.call_id);
      if (c) c.status = "waiting";
      break;
    }
    case "ToolApprovalAnswered": {
      // A denied call ends with its ToolCallFinished (the model is told).
      const c = lastCall(findStep(s, e.path), e.call_id);
      if (c) { c.status = "running"; c.approval = e.answer; }
      break;
    }
    case "ReviewRequested": {
      const st = findStep(s, e.path);
      if (st) { st.status = "waiting"; st.text = e.output; }
      break;
    }
    case "ReviewAnswered": {
      if (e.answer.action === "send_back") {
        // The steps inside it run again too: they start over.
        s.steps = s.steps.map((st) => (isInside(st.path, e.path) ? pending(st) : st));
      }
      const st = findStep(s, e.path);
      if (st) {
        st.reviews = [...(st.reviews ?? []), { output: st.text, answer: e.answer }];
        st.status = "running";
        if (e.answer.action === "edit") st.text = e.answer.text;
        if (e.answer.action === "send_back") { st.text = ""; st.tool_calls = []; st.usage = null; }
      }
      break;
    }
    case "StepReused": {
      if (s.status === "pending") s.status = "running";
      if (!findStep(s, e.step.path)) (s.steps as StepSnapshot[]).push(pending(e.step));
      const st = findStep(s, e.step.path);
      if (st) { st.status = "completed"; st.text = e.output; st.reused = true; }
      break;
    }
    case "RunCompleted":
      s.status = "completed"; s.final_output = e.output; s.ended_at_ms = now;
      endSteps(s, null, now);
      break;
    case "RunCancelled":
      for (const p of e.running) {
        const st = findStep(s, p.path);
        if (st && p.usage) st.usage = p.usage;
      }
      s.status = "cancelled"; s.cancel_reason = e.reason; s.ended_at_ms = now;
      endSteps(s, null, now);
      break;
    case "RunFailed":
      s.status = "failed"; s.ended_at_ms = now;
      s.error = { path: e.path ?? null, kind: e.error, message: e.message };
      endSteps(s, e.path ?? null, now);
      break;
  }
  if (["StepCompleted", "StepFailed", "StepSkipped", "RunCancelled", "ReviewAnswered"].includes(e.type)) {
    s.usage = totalUsage(s.steps.map((st) => st.usage));
  }
  // Whether the run waits for the person (text changes nothing there: the hot path skips it).
  if (e.type !== "TextDelta" && (s.status === "running" || s.status === "waiting")) {
    s.status = s.steps.some((st) => st.status === "waiting") || waitingCalls(s).length ? "waiting" : "running";
  }
  return "applied";
}

/** A step's last call with this id (a server that numbers calls per turn reuses ids across
 * rounds; a round's calls all start before any of them ends). */
function lastCall(st: StepSnapshot | undefined, id: string): ToolCallView | undefined {
  const calls = st?.tool_calls ?? [];
  for (let i = calls.length - 1; i >= 0; i--) if (calls[i].call_id === id) return calls[i];
  return undefined;
}

/** The step with this path. */
export function findStep(s: RunSnapshot, path: string): StepSnapshot | undefined {
  for (let i = s.steps.length - 1; i >= 0; i--) if (s.steps[i].path === path) return s.steps[i];
  return undefined;
}

/** At a run's end no step is left open: the failed step and the steps around it fail, any other
 * running step was stopped (cancelled, its text kept), and one never started is skipped. */
function endSteps(s: RunSnapshot, failed: string | null, now: number) {
  for (const st of s.steps) {
    stopToolCalls(st, now);
    const onFailedPath = failed !== null && (failed === st.path || isInside(failed, st.path));
    st.unreviewed = st.status === "waiting";
    if (st.status === "running" || st.status === "waiting") {
      st.status = onFailedPath ? "failed" : "cancelled";
      st.duration_ms = st.started_at_ms != null ? Math.max(0, now - st.started_at_ms) : null;
    } else if (st.status === "pending") {
      st.status = onFailedPath ? "failed" : "skipped";
    }
  }
}

/** A snapshot taken after some updates were already received: keeps the newer of the two and
 * applies the buffered updates that follow it. */
export function join(current: RunSnapshot, fresh: RunSnapshot, buffered: RunEvent[]): RunSnapshot {
  // A run whose process went away mid-run ends in the history (interrupted) without a last
  // event: that word is newer than any text shown live, however far the text got.
  const ended = isLive(current.status) && !isLive(fresh.status);
  const base = ended || fresh.last_seq >= current.last_seq ? structuredClone(fresh) : current;
  base.owner = fresh.owner ?? current.owner ?? null;
  for (const e of buffered) applyEvent(base, e);
  return base;
}

/** Where a run another Stepwise process owns was started, capitalised for a line of its own. */
export function ownerWords(owner: OwnerKind): string {
  const words = OWNER_KINDS.find((o) => o.kind === owner)?.words ?? "";
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Steps that write text themselves (the others hold steps). */
export const writes = (st: StepSnapshot): boolean => st.kind === "agent" || st.kind === "router" || st.kind === "tool";

/** The steps directly inside `parent` (the top level for null), in the order they appeared. */
export function childrenOf(s: RunSnapshot, parent: string | null): StepSnapshot[] {
  return s.steps.filter((st) => (st.parent ?? null) === parent);
}

/** The step to show: the latest writing step that is running, else the last one with text,
 * else the last one that started (its pane says there is no text yet). */
export function focusStep(s: RunSnapshot): string | null {
  const last = (ok: (st: StepSnapshot) => boolean) => {
    for (let i = s.steps.length - 1; i >= 0; i--) if (writes(s.steps[i]) && ok(s.steps[i])) return s.steps[i].path;
    return null;
  };
  return last((st) => st.status === "running") ?? last((st) => !!st.text) ?? last((st) => st.started_at_ms !== null);
}

/** A step's text cut where its tool calls happened: text, the calls made there, text, …; the
 * last part is the text still being written. `at` counts characters (code points). */
export type TextPart = { kind: "text"; text: string } | { kind: "call"; call: ToolCallView };

export function textParts(text: string, calls: readonly ToolCallView[]): TextPart[] {
  if (!calls.length) return [{ kind: "text", text }];
  const parts: TextPart[] = [];
  let index = 0; // UTF-16 index into `text`
  let chars = 0; // code points before `index`
  for (const call of calls) {
    const from = index;
    while (chars < call.at && index < text.length) {
      const code = text.codePointAt(index) ?? 0;
      index += code > 0xffff ? 2 : 1;
      chars++;
    }
    if (index > from) parts.push({ kind: "text", text: text.slice(from, index) });
    parts.push({ kind: "call", call });
  }
  parts.push({ kind: "text", text: text.slice(index) });
  return parts;
}

/** "8 results, 0.4 s", "Running 0:03", "Stopping the tool…" — a call's state after its title. */
export function toolCallWords(c: ToolCallView, now: number, stopping: boolean): string {
  switch (c.status) {
    case "waiting": return stopping ? "Cancelled" : "Waiting for you";
    case "running":
      if (stopping) return "Stopping the tool…";
      return clock(c.started_at_ms != null ? now - c.started_at_ms : 0);
    case "done": return `${c.preview ?? "done"}, ${seconds(c.duration_ms ?? 0)}`;
    case "failed": return `did not work: ${c.preview ?? "no details"}`;
    case "cancelled": return "Cancelled";
  }
}

/** Tool calls waiting for the person, with their step and a key for lists: a call's id is
 * unique only within its step, so the key is the step's path and the id. */
export function waitingCalls(s: RunSnapshot): { step: StepSnapshot; call: ToolCallView; key: string }[] {
  return s.steps.flatMap((step) =>
    step.tool_calls.filter((c) => c.status === "waiting").map((call) => ({ step, call, key: approvalKey(step.path, call.call_id) })));
}

/** How an approval is named in the window: by step path and call id. */
export function approvalKey(path: string, callId: string): string {
  return JSON.stringify([path, callId]);
}

/** Steps whose output waits for the person's review. */
export function reviewsWaiting(s: RunSnapshot): StepSnapshot[] {
  return s.steps.filter((st) => st.status === "waiting");
}

/** Whether a finished run can be continued from this step: it is a top-level step, and every
 * top-level step before it completed (or was set aside on purpose). The backend checks the same
 * (engine/src/resume.rs) and says why when it refuses; this only decides where the button shows. */
export function canContinueFrom(s: RunSnapshot, path: string): boolean {
  if (isLive(s.status) || s.status === "pending") return false;
  const top = childrenOf(s, null);
  const at = top.findIndex((st) => st.path === path);
  if (at < 0) return false;
  return top.slice(0, at).every((st) => st.status === "completed" || (st.status === "skipped" && st.skipped !== null));
}

/** 0.4 s, 12 s */
export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
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
    case "waiting": return "Waiting for your review";
    case "completed": return st.reused ? "Reused" : `Done in ${clock(st.duration_ms ?? 0)}`;
    case "cancelled": return st.unreviewed ? "Stopped before your review" : "Cancelled";
    case "failed": return st.note && st.duration_ms != null ? `Failed after ${clock(st.duration_ms)}` : "Failed";
    case "skipped":
      if (st.skipped === "not_taken") return "Not taken";
      if (st.skipped === "on_error") return "Skipped after a problem";
      return "Skipped";
  }
}

/** "Revise — round 2 of at most 5" for a loop that has started. */
export function loopWords(st: StepSnapshot): string | null {
  return st.rounds ? `Round ${st.rounds.round} of at most ${st.rounds.max}` : null;
}

/** What went wrong and what to do, for each kind of failure. */
export function failureAdvice(kind: ErrorKind): { title: string; action: string; settings: boolean } {
  // The engine's words for each kind (`FAILURES` in the bindings); the table has every kind.
  const row = FAILURES.find((f) => f.kind === kind) ?? FAILURES[FAILURES.length - 1];
  return { title: row.title, action: row.action, settings: row.settings };
}

/** One line a person reads (and a screen reader announces) for the run's state. */
export function runWords(s: RunSnapshot): string {
  switch (s.status) {
    case "pending": return "Starting…";
    case "waiting": {
      const review = reviewsWaiting(s)[0];
      if (review) return `Waiting for you: review “${review.name}”`;
      const call = waitingCalls(s)[0];
      return call ? `Waiting for you to allow: ${call.call.title}` : "Waiting for you";
    }
    case "running": {
      const top = childrenOf(s, null);
      const i = top.findIndex((st) => st.status === "running");
      if (i < 0) return "Running…";
      const working = s.steps.filter((st) => st.status === "running" && writes(st) && st.path !== top[i].path);
      const inner = working.length ? `: ${working.map((st) => st.name).join(", ")}` : "";
      return `Step ${i + 1} of ${top.length}: ${top[i].name}${inner}`;
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
    case "waiting": return "Waiting for you";
    case "completed": return "Completed";
    case "cancelled": return "Cancelled";
    case "failed": return "Failed";
    case "interrupted": return "Interrupted";
  }
}
