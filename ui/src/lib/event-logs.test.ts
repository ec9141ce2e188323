// One fold, two languages: the event logs the engine recorded (engine/tests/fixtures/event-logs)
// must fold here, with the window's applyEvent, to exactly the snapshot the engine's own fold
// gives (saved beside each log; engine/tests/integration/event_logs.rs checks the Rust side).
/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../bindings";
import { applyEvent, emptySnapshot } from "./run-state";

const files = import.meta.glob("../../../engine/tests/fixtures/event-logs/*", {
  query: "?raw", import: "default", eager: true,
}) as Record<string, string>;
const logs = Object.keys(files).filter((f) => f.endsWith(".jsonl")).sort();

describe("the recorded event logs", () => {
  it("are all there", () => {
    expect(logs.length).toBeGreaterThanOrEqual(14);
  });

  for (const name of logs) {
    it(`${name.split("/").pop()} folds to the engine's snapshot`, () => {
      const events = files[name].split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as RunEvent);
      const expected = JSON.parse(files[name.replace(/\.jsonl$/, ".snapshot.json")]);
      const s = emptySnapshot(events[0].run_id);
      for (const e of events) expect(applyEvent(s, e)).toBe("applied");
      expect(s).toEqual(expected);
    });
  }
});
