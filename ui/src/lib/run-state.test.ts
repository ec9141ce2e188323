import { describe, expect, it } from "vitest";
import type { ErrorKind, RunEvent, RunStatus, StepSnapshot, ToolCallView } from "../bindings";
import { applyEvent, childrenOf, emptySnapshot, failureAdvice, focusStep, isInside, join, runStatusWord, runWords, stepWords, textParts, toolCallWords, waitingCalls } from "./run-state";
import { every } from "./test-support";

const ID = "00000000-0000-4000-8000-000000000001";
let t = 1_000;
const ev = (seq: number, body: Record<string, unknown>, first_seq?: number): RunEvent =>
  ({ v: 2, run_id: ID, seq, ts_ms: (t += 10), ...(first_seq ? { first_seq } : {}), ...body }) as unknown as RunEvent;

const info = (name: string, extra: Record<string, unknown> = {}) => ({
  path: name.toLowerCase(), parent: null, id: name.toLowerCase(), name, kind: "agent", model: "demo", branch: null, round: null, ...extra,
});
const started = ev(1, { type: "RunStarted", workflow_name: "W", input: "q", steps: [info("A"), info("B")] });
const stepA = ev(2, { type: "StepStarted", step: info("A") });

describe("applying updates", () => {
  it("folds a whole run", () => {
    const s = emptySnapshot(ID);
    const events = [
      started, stepA,
      ev(3, { type: "TextDelta", path: "a", text: "Hel" }),
      ev(5, { type: "TextDelta", path: "a", text: "lo." }, 4),
      ev(6, { type: "StepCompleted", path: "a", output: "Hello.", duration_ms: 1200, usage: null }),
      ev(7, { type: "StepStarted", step: info("B") }),
      ev(8, { type: "TextDelta", path: "b", text: "Bye" }),
      ev(9, { type: "StepCompleted", path: "b", output: "Bye", duration_ms: 10, usage: null }),
      ev(10, { type: "RunCompleted", output: "Bye", duration_ms: 2000 }),
    ];
    for (const e of events) expect(applyEvent(s, e)).toBe("applied");
    expect(s.status).toBe("completed");
    expect(s.steps.map((x) => x.text)).toEqual(["Hello.", "Bye"]);
    expect(s.final_output).toBe("Bye");
    expect(s.last_seq).toBe(10);
  });

  it("skips a step set aside with the steps inside it that had not ended, waiting ones too (as the engine's fold does)", () => {
    const s = emptySnapshot(ID);
    const group = info("G", { kind: "group" });
    const inner = info("D", { path: "g/d", parent: "g" });
    [ev(1, { type: "RunStarted", workflow_name: "W", input: "q", steps: [group, inner] }),
      ev(2, { type: "StepStarted", step: group }), ev(3, { type: "StepStarted", step: inner }),
      ev(4, { type: "ReviewRequested", path: "g/d", output: "draft" })]
      .forEach((e) => applyEvent(s, e));
    expect(s.steps.map((x) => x.status)).toEqual(["running", "waiting"]);
    applyEvent(s, ev(5, { type: "StepSkipped", path: "g", reason: "on_error", message: null, usage: null }));
    expect(s.steps.map((x) => x.status)).toEqual(["skipped", "skipped"]);
    expect(s.status).toBe("running");
  });

  it("ignores an update already applied and reports a gap", () => {
    const s = emptySnapshot(ID);
    applyEvent(s, started);
    applyEvent(s, stepA);
    expect(applyEvent(s, stepA)).toBe("duplicate");
    expect(applyEvent(s, ev(5, { type: "TextDelta", path: "a", text: "x" }))).toBe("gap");
    expect(s.last_seq).toBe(2);
    expect(applyEvent(s, { ...started, run_id: "other" } as RunEvent)).toBe("duplicate");
  });

  it("ends each way with the right step states", () => {
    const cancelled = emptySnapshot(ID);
    [started, stepA, ev(3, { type: "TextDelta", path: "a", text: "part" }),
      ev(4, { type: "RunCancelled", reason: "user", running: [{ path: "a", text: "part" }], duration_ms: 5 })]
      .forEach((e) => applyEvent(cancelled, e));
    expect(cancelled.steps.map((x) => x.status)).toEqual(["cancelled", "skipped"]);
    expect(cancelled.steps[0].text).toBe("part");
    expect(runWords(cancelled)).toBe("Cancelled. The text written so far is kept.");

    const failed = emptySnapshot(ID);
    [started, stepA, ev(3, { type: "RunFailed", path: "a", error: "auth", message: "bad key", duration_ms: 5 })]
      .forEach((e) => applyEvent(failed, e));
    expect(failed.steps.map((x) => x.status)).toEqual(["failed", "skipped"]);
    expect(failed.error?.kind).toBe("auth");
    expect(runWords(failed)).toBe("Failed: The API key was not accepted.");

    const exited = emptySnapshot(ID);
    [started, ev(2, { type: "RunCancelled", reason: "app_exit", running: [], duration_ms: 1 })]
      .forEach((e) => applyEvent(exited, e));
    expect(exited.steps.map((x) => x.status)).toEqual(["skipped", "skipped"]);
    expect(runWords(exited)).toContain("Stepwise was closing");
  });
});

describe("joining a run", () => {
  it("applies only the buffered updates after the snapshot, once", () => {
    const live = emptySnapshot(ID);
    [started, stepA, ev(3, { type: "TextDelta", path: "a", text: "ab" })].forEach((e) => applyEvent(live, e));
    const fresh = structuredClone(live);
    const buffered = [ev(3, { type: "TextDelta", path: "a", text: "ab" }), ev(4, { type: "TextDelta", path: "a", text: "cd" })];
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
    const st: StepSnapshot = {
      ...info("A"), kind: "agent", status: "running", text: "", started_at_ms: 0, duration_ms: null, usage: null,
      rounds: null, chosen: null, skipped: null, note: null, tool_calls: [],
    };
    expect(stepWords(st, 12_400)).toBe("Running 0:12");
    expect(stepWords({ ...st, status: "completed", duration_ms: 34_000 }, 0)).toBe("Done in 0:34");
    expect(stepWords({ ...st, status: "pending" }, 0)).toBe("Waiting");
    expect(stepWords({ ...st, status: "running", started_at_ms: 0 }, 3_725_000)).toBe("Running 1:02:05");
  });

  it("has one word for every run state", () => {
    // One entry per state of the bindings' RunStatus: the type check fails if one is missing.
    const expected = {
      pending: "Starting", running: "Running", waiting: "Waiting for you", completed: "Completed",
      cancelled: "Cancelled", failed: "Failed", interrupted: "Interrupted",
    } satisfies Record<RunStatus, string>;
    for (const [state, word] of Object.entries(expected)) expect(runStatusWord(state as RunStatus), state).toBe(word);
  });

  it("has advice for every error kind", () => {
    const kinds = every<ErrorKind>({
      auth: true, rate_limit: true, provider: true, network: true, timeout: true, invalid_config: true, tool: true, internal: true,
    });
    for (const k of kinds) {
      const a = failureAdvice(k);
      expect(a.title.length).toBeGreaterThan(5);
      expect(a.action).toMatch(/again|Settings/);
    }
  });

  it("focuses the running step, else the last with text", () => {
    const s = emptySnapshot(ID);
    [started, stepA].forEach((e) => applyEvent(s, e));
    expect(focusStep(s)).toBe("a");
    s.steps[0].status = "completed"; s.steps[0].text = "x";
    expect(focusStep(s)).toBe("a");
    expect(stepWords({ ...s.steps[1], status: "skipped", skipped: "not_taken" }, 0)).toBe("Not taken");
  });
});

describe("the step tree", () => {
  it("knows what is inside what, rounds included", () => {
    expect(isInside("angles/economics", "angles")).toBe(true);
    expect(isInside("revise#2/critique", "revise")).toBe(true);
    expect(isInside("angles-2/x", "angles")).toBe(false);
    expect(isInside("angles", "angles")).toBe(false);
  });

  it("adds a loop's later rounds as they start, and a skip reaches inside", () => {
    const s = emptySnapshot(ID);
    const loop = info("Revise", { kind: "loop", model: "" });
    const round = (n: number) => info("Critique", { path: `revise#${n}/critique`, parent: "revise", round: n });
    [
      ev(1, { type: "RunStarted", workflow_name: "W", input: "q", steps: [loop, round(1)] }),
      ev(2, { type: "StepStarted", step: loop }),
      ev(3, { type: "LoopRoundStarted", path: "revise", round: 1, max_rounds: 3 }),
      ev(4, { type: "StepStarted", step: round(1) }),
      ev(5, { type: "StepCompleted", path: "revise#1/critique", output: "no", duration_ms: 1, usage: null }),
      ev(6, { type: "LoopRoundStarted", path: "revise", round: 2, max_rounds: 3 }),
      ev(7, { type: "StepStarted", step: round(2) }),
      ev(8, { type: "TextDelta", path: "revise#2/critique", text: "hm" }),
      ev(9, { type: "StepSkipped", path: "revise", reason: "on_error", message: "it broke" }),
    ].forEach((e) => expect(applyEvent(s, e)).toBe("applied"));
    expect(childrenOf(s, "revise").map((c) => [c.path, c.round, c.status])).toEqual([
      ["revise#1/critique", 1, "completed"], ["revise#2/critique", 2, "skipped"],
    ]);
    expect(s.steps[0].rounds).toEqual({ round: 2, max: 3 });
    expect([s.steps[0].status, s.steps[0].note]).toEqual(["skipped", "it broke"]);
  });
});

describe("tool calls", () => {
  const call = (id: string, at: number, extra: Partial<ToolCallView> = {}): ToolCallView => ({
    call_id: id, tool: "web_search", arguments: "{}", title: `Searching for ${id}`, at,
    status: "done", preview: "3 results", result: "", started_at_ms: 1000, duration_ms: 400, ...extra,
  });

  it("cuts the text where the calls happened, counting characters not UTF-16 units", () => {
    const text = "Let me 🔎 look.Found it.";
    const parts = textParts(text, [call("a", 14), call("b", 14)]);
    expect(parts).toEqual([
      { kind: "text", text: "Let me 🔎 look." },
      { kind: "call", call: call("a", 14) },
      { kind: "call", call: call("b", 14) },
      { kind: "text", text: "Found it." },
    ]);
    expect(textParts("plain", [])).toEqual([{ kind: "text", text: "plain" }]);
  });

  it("says how a call went, and that it is being stopped", () => {
    expect(toolCallWords(call("a", 0), 0, false)).toBe("3 results, 0.4 s");
    const running = call("a", 0, { status: "running", duration_ms: null });
    expect(toolCallWords(running, 4200, false)).toBe("0:03");
    expect(toolCallWords(running, 4200, true)).toBe("Stopping the tool…");
    expect(toolCallWords(call("a", 0, { status: "failed", preview: "404" }), 0, false)).toBe("did not work: 404");
    expect(toolCallWords(call("a", 0, { status: "cancelled" }), 0, false)).toBe("Cancelled");
  });

  it("keys the calls waiting for the person by step and id: two steps may use the same id", () => {
    const s = emptySnapshot(ID);
    const a = info("A");
    const b = info("B");
    const asks = (seq: number, path: string) => [
      ev(seq, { type: "ToolCallStarted", path, call_id: "call_1", tool: "fetch_page", arguments: "{}", title: `Reading ${path}`, at: 0 }),
      ev(seq + 1, { type: "ToolApprovalRequested", path, call_id: "call_1" }),
    ];
    [
      ev(1, { type: "RunStarted", workflow_name: "W", input: "q", steps: [a, b] }),
      ev(2, { type: "StepStarted", step: a }),
      ev(3, { type: "StepStarted", step: b }),
      ...asks(4, a.path),
      ...asks(6, b.path),
    ].forEach((e) => expect(applyEvent(s, e)).toBe("applied"));
    const waiting = waitingCalls(s);
    expect(waiting.map((w) => [w.step.path, w.call.call_id])).toEqual([["a", "call_1"], ["b", "call_1"]]);
    // The window's list is keyed by these (a repeated key throws in Svelte).
    expect(new Set(waiting.map((w) => w.key)).size).toBe(2);
  });

  it("folds a call and stops it when the run is cancelled", () => {
    const s = emptySnapshot(ID);
    const a = info("A");
    [
      ev(1, { type: "RunStarted", workflow_name: "W", input: "q", steps: [a] }),
      ev(2, { type: "StepStarted", step: a }),
      ev(3, { type: "TextDelta", path: a.path, text: "Hi. " }),
      ev(4, { type: "ToolCallStarted", path: a.path, call_id: "c1", tool: "fetch_page", arguments: "{}", title: "Reading x", at: 4 }),
      ev(5, { type: "ToolCallStarted", path: a.path, call_id: "c2", tool: "fetch_page", arguments: "{}", title: "Reading y", at: 4 }),
      ev(6, { type: "ToolCallFinished", path: a.path, call_id: "c1", ok: true, preview: "1 kB", result: "text", duration_ms: 5 }),
      ev(7, { type: "RunCancelled", reason: "user", running: [{ path: a.path, text: "Hi. " }], duration_ms: 9 }),
    ].forEach((e) => expect(applyEvent(s, e)).toBe("applied"));
    expect(s.steps[0].tool_calls.map((c) => [c.call_id, c.status, c.at])).toEqual([
      ["c1", "done", 4], ["c2", "cancelled", 4],
    ]);
  });
});
