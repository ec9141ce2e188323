import { describe, expect, it } from "vitest";
import type { RunEvent } from "../bindings";
import { applyEvent, emptySnapshot, failureAdvice, focusStep, join, runStatusWord, runWords, stepWords } from "./run-state";

const ID = "00000000-0000-4000-8000-000000000001";
let t = 1_000;
const ev = (seq: number, body: Record<string, unknown>, first_seq?: number): RunEvent =>
  ({ v: 1, run_id: ID, seq, ts_ms: (t += 10), ...(first_seq ? { first_seq } : {}), ...body }) as unknown as RunEvent;

const started = ev(1, { type: "RunStarted", workflow_name: "W", input: "q", steps: [{ name: "A", model: "demo" }, { name: "B", model: "demo" }] });
const stepA = ev(2, { type: "StepStarted", step_index: 0, name: "A", model: "demo" });

describe("applying updates", () => {
  it("folds a whole run", () => {
    const s = emptySnapshot(ID);
    const events = [
      started, stepA,
      ev(3, { type: "TextDelta", step_index: 0, text: "Hel" }),
      ev(5, { type: "TextDelta", step_index: 0, text: "lo." }, 4),
      ev(6, { type: "StepCompleted", step_index: 0, output: "Hello.", duration_ms: 1200, usage: null }),
      ev(7, { type: "StepStarted", step_index: 1, name: "B", model: "demo" }),
      ev(8, { type: "TextDelta", step_index: 1, text: "Bye" }),
      ev(9, { type: "StepCompleted", step_index: 1, output: "Bye", duration_ms: 10, usage: null }),
      ev(10, { type: "RunCompleted", output: "Bye", duration_ms: 2000 }),
    ];
    for (const e of events) expect(applyEvent(s, e)).toBe("applied");
    expect(s.status).toBe("completed");
    expect(s.steps.map((x) => x.text)).toEqual(["Hello.", "Bye"]);
    expect(s.final_output).toBe("Bye");
    expect(s.last_seq).toBe(10);
  });

  it("ignores an update already applied and reports a gap", () => {
    const s = emptySnapshot(ID);
    applyEvent(s, started);
    applyEvent(s, stepA);
    expect(applyEvent(s, stepA)).toBe("duplicate");
    expect(applyEvent(s, ev(5, { type: "TextDelta", step_index: 0, text: "x" }))).toBe("gap");
    expect(s.last_seq).toBe(2);
    expect(applyEvent(s, { ...started, run_id: "other" } as RunEvent)).toBe("duplicate");
  });

  it("ends each way with the right step states", () => {
    const cancelled = emptySnapshot(ID);
    [started, stepA, ev(3, { type: "TextDelta", step_index: 0, text: "part" }),
      ev(4, { type: "RunCancelled", reason: "user", step_index: 0, partial_output: "part", duration_ms: 5 })]
      .forEach((e) => applyEvent(cancelled, e));
    expect(cancelled.steps.map((x) => x.status)).toEqual(["cancelled", "skipped"]);
    expect(cancelled.steps[0].text).toBe("part");
    expect(runWords(cancelled)).toBe("Cancelled. The text written so far is kept.");

    const failed = emptySnapshot(ID);
    [started, stepA, ev(3, { type: "RunFailed", step_index: 0, error: "auth", message: "bad key", duration_ms: 5 })]
      .forEach((e) => applyEvent(failed, e));
    expect(failed.steps.map((x) => x.status)).toEqual(["failed", "skipped"]);
    expect(failed.error?.kind).toBe("auth");
    expect(runWords(failed)).toBe("Failed: The API key was not accepted.");

    const exited = emptySnapshot(ID);
    [started, ev(2, { type: "RunCancelled", reason: "app_exit", step_index: null, partial_output: "", duration_ms: 1 })]
      .forEach((e) => applyEvent(exited, e));
    expect(exited.steps.map((x) => x.status)).toEqual(["skipped", "skipped"]);
    expect(runWords(exited)).toContain("Stepwise was closing");
  });
});

describe("joining a run", () => {
  it("applies only the buffered updates after the snapshot, once", () => {
    const live = emptySnapshot(ID);
    [started, stepA, ev(3, { type: "TextDelta", step_index: 0, text: "ab" })].forEach((e) => applyEvent(live, e));
    const fresh = structuredClone(live);
    const buffered = [ev(3, { type: "TextDelta", step_index: 0, text: "ab" }), ev(4, { type: "TextDelta", step_index: 0, text: "cd" })];
    const joined = join(emptySnapshot(ID), fresh, buffered);
    expect(joined.steps[0].text).toBe("abcd");
    expect(joined.last_seq).toBe(4);
  });

  it("keeps what it has when the snapshot is older", () => {
    const have = emptySnapshot(ID);
    [started, stepA].forEach((e) => applyEvent(have, e));
    const older = emptySnapshot(ID);
    applyEvent(older, started);
    expect(join(have, older, []).last_seq).toBe(2);
  });
});

describe("words", () => {
  it("says each step state plainly with its time", () => {
    const st = { name: "A", model: "demo", status: "running" as const, text: "", started_at_ms: 0, duration_ms: null, usage: null };
    expect(stepWords(st, 12_400)).toBe("Running 0:12");
    expect(stepWords({ ...st, status: "completed", duration_ms: 34_000 }, 0)).toBe("Done in 0:34");
    expect(stepWords({ ...st, status: "pending" }, 0)).toBe("Waiting");
    expect(stepWords({ ...st, status: "running", started_at_ms: 0 }, 3_725_000)).toBe("Running 1:02:05");
  });

  it("has one word for every run state", () => {
    const words = (["pending", "running", "completed", "cancelled", "failed", "interrupted"] as const).map(runStatusWord);
    expect(words).toEqual(["Starting", "Running", "Completed", "Cancelled", "Failed", "Interrupted"]);
  });

  it("has advice for every error kind", () => {
    for (const k of ["auth", "rate_limit", "provider", "network", "timeout", "invalid_config", "internal"] as const) {
      const a = failureAdvice(k);
      expect(a.title.length).toBeGreaterThan(5);
      expect(a.action).toMatch(/again|Settings/);
    }
  });

  it("focuses the running step, else the last with text", () => {
    const s = emptySnapshot(ID);
    [started, stepA].forEach((e) => applyEvent(s, e));
    expect(focusStep(s)).toBe(0);
    s.steps[0].status = "completed"; s.steps[0].text = "x";
    expect(focusStep(s)).toBe(0);
  });
});
