// Tokens and cost as the window shows them. The sums follow the engine's (`Usage::plus` in
// engine/src/usage/mod.rs) to the letter, so both folds give the same snapshot.
import type { Usage } from "../bindings";

const add = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a == null && b == null ? null : (a ?? 0) + (b ?? 0);

/** Both counts added; estimated if either was; the cost the sum of the costs known (one side's
 * alone when only it has a price, none when neither has). */
export function plusUsage(a: Usage, b: Usage): Usage {
  const u: Usage = { input_tokens: add(a.input_tokens, b.input_tokens), output_tokens: add(a.output_tokens, b.output_tokens) };
  if (a.estimated || b.estimated) u.estimated = true;
  const cost = a.cost_usd != null && b.cost_usd != null ? a.cost_usd + b.cost_usd : (a.cost_usd ?? b.cost_usd);
  if (cost != null) u.cost_usd = cost;
  return u;
}

/** Every usage added up; null when there is none. */
export function totalUsage(all: (Usage | null | undefined)[]): Usage | null {
  let total: Usage | null = null;
  for (const u of all) if (u) total = total ? plusUsage(total, u) : u;
  return total;
}

/** `1234567` → `1,234,567`. */
export const thousands = (n: number): string => n.toLocaleString("en-US");

/** A cost for a person: "free", "$0.0012" (two significant digits for small sums), "$1.23". */
export function dollars(usd: number): string {
  if (usd <= 0) return "free";
  if (usd >= 0.995) return `$${usd.toFixed(2)}`;
  const decimals = Math.min(8, Math.max(2, 2 - Math.floor(Math.log10(usd)) - 1));
  return `$${usd.toFixed(decimals)}`;
}

/** "≈ 1,234 in · 56 out" — `≈` where a count is Stepwise's estimate (a stream cut short). */
export function tokensText(u: Usage): string {
  const n = (v: number | null | undefined) => (v == null ? "?" : thousands(v));
  return `${u.estimated ? "≈ " : ""}${n(u.input_tokens)} in · ${n(u.output_tokens)} out`;
}

/** The cost, or why there is none. */
export const costText = (u: Usage): string => (u.cost_usd == null ? "no price" : dollars(u.cost_usd));
