import { describe, expect, it } from "vitest";
import { costText, dollars, plusUsage, tokensText, totalUsage } from "./usage";

describe("tokens and cost in words", () => {
  it("says costs as the CLI does", () => {
    expect(dollars(0)).toBe("free");
    expect(dollars(0.001234)).toBe("$0.0012");
    expect(dollars(0.05)).toBe("$0.050");
    expect(dollars(0.5)).toBe("$0.50");
    expect(dollars(12.345)).toBe("$12.35");
  });

  it("marks estimates and missing prices", () => {
    const u = { input_tokens: 1234, output_tokens: 56, estimated: true };
    expect(tokensText(u)).toBe("≈ 1,234 in · 56 out");
    expect(costText(u)).toBe("no price");
  });

  it("adds up like the engine: estimated if either, cost where both have one", () => {
    const a = { input_tokens: 10, output_tokens: null, cost_usd: 0.5 };
    const b = { input_tokens: 5, output_tokens: 7, estimated: true };
    expect(plusUsage(a, b)).toEqual({ input_tokens: 15, output_tokens: 7, estimated: true, cost_usd: 0.5 });
    expect(totalUsage([null, undefined])).toBeNull();
    expect(totalUsage([a, null, a])).toEqual({ input_tokens: 20, output_tokens: null, cost_usd: 1 });
  });
});
