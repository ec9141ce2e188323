import { describe, expect, it } from "vitest";
import { PATIENCE_MS, eventually, every } from "./test-support";

describe("test support", () => {
  it("lists every member of a union, in the order named", () => {
    expect(every<"a" | "b">({ a: true, b: true })).toEqual(["a", "b"]);
  });

  it("waits until a check gives a value, and returns it", async () => {
    let calls = 0;
    const value = await eventually(PATIENCE_MS, "the third call", () => (++calls === 3 ? calls : undefined));
    expect(value).toBe(3);
  });

  it("fails at the deadline, saying what it waited for", async () => {
    await expect(eventually(50, "the moon", () => false)).rejects.toThrow(/waiting for the moon/);
  });
});
