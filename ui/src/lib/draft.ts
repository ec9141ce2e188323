// The workflow editor's model: a step of any kind with every field present, so forms can bind to
// it. It becomes a `StepDraft` for the backend with only the fields its kind uses (switching a
// step's kind never leaves stray fields for the backend to refuse).
import { BUILTIN_TOOLS, STEP_KINDS } from "../bindings";
import type { ArgumentValue, OnError, StepDraft, StepField, StepKindName, WorkflowDraft } from "../bindings";

export type EStep = {
  id: string; name: string; kind: StepKindName; instructions: string; model: string | null;
  if: string; until: string; max_iterations: number | null; timeout_secs: number | null;
  retries: number | null; on_error: OnError | null;
  /** An agent's most model → tools → model rounds (empty: the engine's default). */
  max_tool_rounds: number | null;
  /** Wait for the person's review when it finishes. */
  review: boolean;
  /** An agent's tools; a tool step's tool and its arguments as "name = value" lines. */
  tools: string[]; tool: string; args: string;
  steps: EStep[]; then: EStep[]; else: EStep[]; routes: ERoute[];
};
export type ERoute = { name: string; description: string; steps: EStep[] };
export type EWorkflow = { name: string; description: string; steps: EStep[] };

/** Every kind of step with its words and fields, from the engine's table (`STEP_KINDS` in the
 * bindings). `wraps`: a step can be put inside one ("Put inside…"); a tool step and an agent hold
 * no steps, and a router's steps belong to named routes. */
export const KINDS = STEP_KINDS.map((k) => ({ ...k, wraps: k.wraps_into !== null }));

/** The row of a kind. */
export function kindInfo(kind: StepKindName): (typeof KINDS)[number] {
  return KINDS.find((k) => k.kind === kind) ?? KINDS[0];
}

/** Whether a step of this kind has the field (its form shows it, its draft carries it). */
export function uses(kind: StepKindName, field: StepField): boolean {
  return (kindInfo(kind).fields as readonly StepField[]).includes(field);
}

/** The built-in tools an agent may use, in a person's words (the engine's table). */
export { BUILTIN_TOOLS };

/** "name = value" lines → arguments (numbers and true/false as such, the rest as text). */
export function parseArgs(text: string): Record<string, ArgumentValue> {
  const out: Record<string, ArgumentValue> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at < 0) continue;
    const key = line.slice(0, at).trim();
    const raw = line.slice(at + 1).trim();
    if (!key) continue;
    out[key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === "true" ? true : raw === "false" ? false : raw;
  }
  return out;
}

export function argsText(args: Partial<Record<string, ArgumentValue>> | undefined): string {
  return Object.entries(args ?? {})
    .map(([k, v]) => `${k} = ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("\n");
}

export function blankStep(name: string, kind: StepKindName = "agent"): EStep {
  const s: EStep = {
    id: "", name, kind, instructions: "", model: null, if: "", until: "", max_iterations: null,
    timeout_secs: null, retries: null, on_error: null, max_tool_rounds: null, review: false, tools: [], tool: "", args: "",
    steps: [], then: [], else: [], routes: [],
  };
  return withKind(s, kind);
}

/** Gives a step what its (new) kind needs to be valid at a glance: a first child, two routes … */
export function withKind(s: EStep, kind: StepKindName): EStep {
  s.kind = kind;
  if (uses(kind, "steps") && !s.steps.length) {
    s.steps = kindInfo(kind).child === "branch" ? [blankStep("Branch 1"), blankStep("Branch 2")] : [blankStep("Step 1")];
  }
  if (kind === "loop" && s.max_iterations == null) s.max_iterations = 3;
  if (kind === "condition" && !s.then.length) s.then = [blankStep("When yes")];
  if (kind === "router" && !s.routes.length) {
    s.routes = [1, 2].map((n) => ({ name: `Route ${n}`, description: "", steps: [blankStep(`Route ${n} step`)] }));
  }
  return s;
}

/** Puts `s` inside a new step of `kind` (a loop, a group …), in its place. */
export function wrap(s: EStep, kind: StepKindName): EStep {
  const info = kindInfo(kind);
  const outer = blankStep(`${s.name} (${info.label.toLowerCase()})`, "agent");
  outer.kind = kind;
  if (info.wraps_into === "then") outer.then = [s];
  else outer.steps = [s];
  if (kind === "loop") outer.max_iterations = 3;
  return outer;
}

/** The steps directly inside `s`, whatever its kind (to take them out of it). */
export function inside(s: EStep): EStep[] {
  return [...s.steps, ...s.then, ...s.else, ...s.routes.flatMap((r) => r.steps)];
}

export function fromDraft(d: StepDraft): EStep {
  return {
    id: d.id ?? "", name: d.name ?? "", kind: d.kind ?? "agent", instructions: d.instructions ?? "",
    model: d.model ?? null, if: d.if ?? "", until: d.until ?? "", max_iterations: d.max_iterations ?? null,
    timeout_secs: d.timeout_secs ?? null, retries: d.retries ?? null, on_error: d.on_error ?? null,
    max_tool_rounds: d.max_tool_rounds ?? null,
    review: d.review ?? false,
    tools: [...(d.tools ?? [])], tool: d.tool ?? "", args: argsText(d.arguments),
    steps: (d.steps ?? []).map(fromDraft), then: (d.then ?? []).map(fromDraft), else: (d.else ?? []).map(fromDraft),
    routes: (d.routes ?? []).map((r) => ({ name: r.name ?? "", description: r.description ?? "", steps: (r.steps ?? []).map(fromDraft) })),
  };
}

export function fromWorkflow(w: WorkflowDraft): EWorkflow {
  return { name: w.name ?? "", description: w.description ?? "", steps: (w.steps ?? []).map(fromDraft) };
}

/** The draft the backend checks: only the fields the step's kind uses. */
export function toDraft(s: EStep): StepDraft {
  const d: StepDraft = { name: s.name };
  if (s.id.trim()) d.id = s.id.trim();
  if (s.kind !== "agent") d.kind = s.kind;
  const number = (v: number | null) => (v === null || Number.isNaN(v) ? undefined : v);
  if (number(s.timeout_secs) !== undefined) d.timeout_secs = number(s.timeout_secs);
  if (s.on_error) d.on_error = s.on_error;
  if (s.review) d.review = true;
  // Only the fields the kind uses (the engine refuses any other).
  const has = (f: StepField) => uses(s.kind, f);
  if (has("instructions")) d.instructions = s.instructions;
  if (has("model") && s.model?.trim()) d.model = s.model.trim();
  if (has("retries") && number(s.retries) !== undefined) d.retries = number(s.retries);
  if (has("tools") && s.tools.length) d.tools = [...s.tools];
  if (has("max_tool_rounds") && number(s.max_tool_rounds) !== undefined) d.max_tool_rounds = number(s.max_tool_rounds);
  if (has("tool")) d.tool = s.tool.trim();
  if (has("arguments")) d.arguments = parseArgs(s.args);
  if (has("if")) d.if = s.if;
  if (has("then")) d.then = s.then.map(toDraft);
  if (has("else")) d.else = s.else.map(toDraft);
  if (has("until")) d.until = s.until;
  if (has("max_iterations") && number(s.max_iterations) !== undefined) d.max_iterations = number(s.max_iterations);
  if (has("steps")) d.steps = s.steps.map(toDraft);
  if (has("routes")) d.routes = s.routes.map((r) => ({ name: r.name, description: r.description, steps: r.steps.map(toDraft) }));
  return d;
}

export function toWorkflow(w: EWorkflow): WorkflowDraft {
  return { name: w.name, description: w.description, steps: w.steps.map(toDraft) };
}
