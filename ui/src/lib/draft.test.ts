import { describe, expect, it } from "vitest";
import type { StepKindName } from "../bindings";
import { KINDS, blankStep, fromDraft, inside, parseArgs, toDraft, withKind, wrap } from "./draft";
import { every } from "./test-support";

describe("tools in the editor", () => {
  it("reads arguments a line each, numbers and flags as such", () => {
    expect(parseArgs("url = {{input}}\nduration = 30\nloud = true\n\nno equals sign\n = x")).toEqual({
      url: "{{input}}", duration: 30, loud: true,
    });
  });

  it("a tool step sends its tool and arguments, an agent its tools, and back again", () => {
    const tool = withKind(blankStep("Fetch"), "tool");
    tool.tool = " fetch_page ";
    tool.args = "url = https://example.org/a=b";
    const d = toDraft(tool);
    expect(d).toEqual({ name: "Fetch", kind: "tool", tool: "fetch_page", arguments: { url: "https://example.org/a=b" } });
    expect(fromDraft(d).args).toBe("url = https://example.org/a=b");

    const agent = blankStep("Look");
    agent.instructions = "Find it.";
    agent.tools = ["web_search", "everything.echo"];
    expect(toDraft(agent).tools).toEqual(["web_search", "everything.echo"]);
    expect(toDraft(blankStep("Plain")).tools).toBeUndefined();
  });
});

describe("the kinds of step", () => {
  it("offers every kind the engine has, once", () => {
    const kinds = every<StepKindName>({
      agent: true, parallel: true, loop: true, condition: true, router: true, group: true, tool: true,
    });
    expect(KINDS.map((k) => k.kind).sort()).toEqual(kinds.sort());
  });
});

describe("putting a step inside another", () => {
  it("offers only kinds that hold steps, and none of them loses the step", () => {
    expect(KINDS.filter((k) => k.wraps).map((k) => k.kind)).toEqual(["parallel", "loop", "condition", "group"]);
    for (const { kind } of KINDS.filter((k) => k.wraps)) {
      const outer = wrap(blankStep("Draft", "agent"), kind);
      expect(inside(outer).map((s) => s.name)).toEqual(["Draft"]);
      const d = toDraft(outer);
      const kept = [...(d.steps ?? []), ...(d.then ?? [])].map((s) => s.name);
      expect(kept, kind).toEqual(["Draft"]);
    }
  });
});
