// A stand-in for the Rust backend in browser tests: the real UI, with IPC answered here through
// Tauri's own mocks. Runs stream `run-update` events like the bridge does. The scenario comes from
// the page's URL (`?scenario=…`); every command the page invokes is recorded in `window.__calls`.
import { emit } from "@tauri-apps/api/event";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { RunEvent, RunSnapshot } from "../../src/bindings";
import { applyEvent, emptySnapshot } from "../../src/lib/run-state";

type Json = Record<string, unknown>;
declare global {
  interface Window { __calls: { cmd: string; args: Json }[]; __fake: { tokensPerTick: number; tickMs: number } }
}

const params = new URLSearchParams(location.search);
const scenario = params.get("scenario") ?? "normal";
window.__calls = [];
window.__fake = scenario === "perf" ? { tokensPerTick: 10, tickMs: 10 } : { tokensPerTick: 3, tickMs: 30 };

const TEMPLATES = [
  {
    id: "research-and-write",
    workflow: {
      name: "Research and write", description: "Research a topic, then write an article about it",
      steps: [
        { name: "Research", instructions: "List facts.", model: "demo", tools: ["web_search"] },
        { name: "Write", instructions: "Write.", model: "demo" },
      ],
    },
  },
  {
    id: "three-angles",
    workflow: {
      name: "Three angles", description: "Research a topic from three angles at once, then bring them together",
      steps: [
        { name: "Angles", kind: "parallel", steps: ["Economics", "Environment", "Society"].map((name) => ({ name, instructions: `The ${name} angle.`, model: "demo" })) },
        { name: "Summary", instructions: "Bring {{steps.economics.output}} together.", model: "demo" },
      ],
    },
  },
  {
    id: "draft-and-review",
    workflow: {
      name: "Draft and review", description: "Write a draft, then critique and revise it until the reviewer approves",
      steps: [
        { name: "Draft", instructions: "Write a draft.", model: "demo" },
        { name: "Review and revise", id: "revise", kind: "loop", max_iterations: 4, until: 'output("critique") contains "APPROVED"',
          steps: [{ name: "Critique", instructions: "Review it.", model: "demo" }, { name: "Revise", instructions: "Revise it.", model: "demo" }] },
      ],
    },
  },
  {
    id: "answer-a-message",
    workflow: {
      name: "Answer a message", description: "Read a customer's message, pick how to handle it, and write the reply",
      steps: [{ name: "Triage", kind: "router", model: "demo", routes: [
        { name: "Billing", description: "Invoices and payments", steps: [{ name: "Billing reply", instructions: "Reply.", model: "demo" }] },
        { name: "Technical", description: "Errors and crashes", steps: [{ name: "Technical reply", instructions: "Reply.", model: "demo" }] },
      ] }],
    },
  },
];

const XSS = [
  "Here is the answer. ", "<img src=x onerror=\"window.__pwned=1\"> ", "<script>window.__pwned=2</script> ",
  "[click me](javascript:window.__pwned=3) ", "<iframe src=\"https://example.invalid\"></iframe> ",
  "<a href=\"https://example.invalid\" onclick=\"window.__pwned=4\">link</a> ", "**bold** and done.",
];

const PERF_TOKENS = 100_000;

// A workflow whose first step waits for the person's review.
if (scenario === "review") TEMPLATES.push({
  id: "check-a-draft",
  workflow: {
    name: "Check a draft", description: "Write a draft, let me check it, then write the email",
    steps: [
      { name: "Draft", instructions: "Write a draft.", model: "demo", review: true } as never,
      { name: "Email", instructions: "Write an email.", model: "demo" },
    ],
  },
});

function words(step: number): string[] {
  if (scenario === "xss") return XSS;
  if (scenario === "perf") {
    if (step > 0) return ["Done."];
    return Array.from({ length: PERF_TOKENS }, (_, i) => (i % 60 === 59 ? `word${i}.\n\n` : `word${i} `));
  }
  const base = step === 0 ? "Key fact about the topic number" : "Paragraph of the article, sentence";
  return Array.from({ length: 400 }, (_, i) => `${base} ${i}. `);
}

// History, settings and saved workflows, in memory.
const past = [
  { run_id: "11111111-0000-4000-8000-000000000001", workflow_name: "Research and write", input: "tidal energy", status: "completed", started_at_ms: 1_790_000_000_000, ended_at_ms: 1_790_000_010_000 },
  { run_id: "11111111-0000-4000-8000-000000000002", workflow_name: "Long story", input: "a dragon who learns to code", status: "cancelled", started_at_ms: 1_790_000_100_000, ended_at_ms: 1_790_000_110_000,
    usage: { input_tokens: 1234, output_tokens: 567, estimated: true, cost_usd: 0.0042 } },
  { run_id: "11111111-0000-4000-8000-000000000003", workflow_name: "Research and write", input: "honey bees", status: "failed", started_at_ms: 1_790_000_200_000, ended_at_ms: 1_790_000_210_000 },
];
const savedKeys: Record<string, string> = {};
const preset = (kind: string, id: string, label: string, url: string, takes_key: boolean) => ({
  kind, id, label, default_base_url: url, takes_key, needs_key: takes_key, local: !takes_key, env_vars: [],
  example_model: "m", hint: `${label} hint.`,
});
const provider = (p: ReturnType<typeof preset>) =>
  ({ preset: p, base_url: "", default_model: "", has_key: false, from_environment: false, key_saved_for: null });
let settingsView = {
  default_model: "demo", idle_timeout_secs: 60, key_storage: "file",
  key_warning: null,
  history: { available: true, path: "/tmp/history.db", message: null, saving_error: null },
  providers: [
    provider(preset("open_ai", "openai", "OpenAI-compatible", "https://api.openai.com/v1", true)),
    provider(preset("anthropic", "anthropic", "Anthropic", "https://api.anthropic.com", true)),
    provider(preset("ollama", "ollama", "Ollama", "http://localhost:11434/v1", false)),
    provider(preset("lm_studio", "lmstudio", "LM Studio", "http://localhost:1234/v1", false)),
  ],
};

// What the providers offer: Ollama runs here with two models (none in `no-models`), OpenAI needs
// a key, Anthropic's key was rejected, LM Studio is not running.
const LABELS: Record<string, string> = { open_ai: "OpenAI", anthropic: "Anthropic", ollama: "Ollama", lm_studio: "LM Studio" };
const state = (kind: string, st: string, message: string, base_url: string, models: string[] = []) => ({
  kind, label: LABELS[kind], local: base_url.startsWith("http://localhost"), state: st, message, base_url,
  models: models.map((id) => ({ reference: `${kind === "lm_studio" ? "lmstudio" : kind}:${id}`, id, label: null })),
});
const catalog = () => [
  state("open_ai", "needs_key", "Needs an API key", "https://api.openai.com/v1"),
  state("anthropic", "key_rejected", "The key was rejected", "https://api.anthropic.com"),
  scenario === "no-models"
    ? state("ollama", "not_running", "Not running on this computer", "http://localhost:11434/v1")
    : state("ollama", "ready", "Running on this computer — 2 models", "http://localhost:11434/v1", ["llama3.2", "qwen2.5"]),
  state("lm_studio", "not_running", "Not running on this computer", "http://localhost:1234/v1"),
];

// Prices (dollars per million tokens) as the engine keeps them; a step's cost is fixed when its
// run starts, as the engine's is.
const SHIPPED: Record<string, { input: number; output: number }> = { "openai:gpt-5-mini": { input: 0.25, output: 2 } };
const prices: Record<string, { input: number; output: number }> = { ...SHIPPED, "ollama:qwen2.5": { input: 0, output: 0 } };
const pricesView = () => ({
  defaults_dated: "2025-10-15",
  entries: Object.entries(prices).sort().map(([model, price]) => ({ model, price, default: SHIPPED[model] ?? null })),
});
/** What a step of `model` that wrote `words` pieces used (100 tokens in), at today's prices. */
function usageOf(model: string, words: number, estimated = false): Json {
  const price = model === "demo" ? { input: 0, output: 0 } : prices[model];
  const u: Json = { input_tokens: 100, output_tokens: words };
  if (estimated) u.estimated = true;
  if (price) u.cost_usd = (100 * price.input + words * price.output) / 1_000_000;
  return u;
}
const workflows = new Map<string, Json>();
// Dozens of the user's own workflows, for the layout with many.
if (scenario === "many") {
  for (let i = 1; i <= 30; i++) {
    workflows.set(`mine-${i}`, { name: `My workflow ${i}`, description: `Saved workflow number ${i}`,
      steps: [{ name: "Draft", instructions: "Draft.", model: "demo" }, { name: "Polish", instructions: "Polish.", model: "demo" }] });
  }
}

type Draft = {
  id?: string; name?: string; kind?: string; instructions?: string; model?: string | null; if?: string; until?: string;
  max_iterations?: number | null; tools?: string[]; review?: boolean; steps?: Draft[]; then?: Draft[]; else?: Draft[]; routes?: { name: string; description: string; steps: Draft[] }[];
};

/** The backend's rules, as far as these tests need them (issues name the step by its place). */
function validate(w: { name?: string; steps?: Draft[] }) {
  const issues: Json[] = [];
  const issue = (step: string | null, field: string, message: string) =>
    issues.push({ step, step_name: null, field, line: null, message });
  if (!w.name?.trim()) issue(null, "name", "the workflow needs a name");
  if (!w.steps?.length) issue(null, "steps", "the workflow needs at least one step");
  const check = (steps: Draft[], prefix: string) => steps.forEach((st, i) => {
    const at = `${prefix}[${i}]`;
    const kind = st.kind ?? "agent";
    if (!st.name?.trim()) issue(at, "name", "the step needs a name");
    if (kind === "agent" && !st.instructions?.trim()) issue(at, "instructions", "the instructions are empty; say what this step should do");
    if (st.model && !/^(demo|(openai|anthropic|ollama):\S+)$/.test(st.model)) issue(at, "model", `unknown provider \`${st.model}\``);
    if (kind === "loop" && !st.max_iterations) issue(at, "max_iterations", "a loop needs `max_iterations`, the most rounds it may run (1 to 100)");
    if (st.until && !/^(not )?output(\("[a-z0-9_-]+"\))? (contains|matches|equals) ".*"$/.test(st.until)) issue(at, "until", "after the subject comes `contains`, `matches` or `equals`");
    if (kind === "condition" && !st.if?.trim()) issue(at, "if", "a condition needs an `if` test, for example: output contains \"yes\"");
    if (["parallel", "loop", "group"].includes(kind) && !st.steps?.length) issue(at, "steps", `a ${kind} step needs at least one step in \`steps\``);
    check(st.steps ?? [], `${at}.steps`);
    check(st.then ?? [], `${at}.then`);
    check(st.else ?? [], `${at}.else`);
    (st.routes ?? []).forEach((r, k) => check(r.steps ?? [], `${at}.routes[${k}].steps`));
  });
  check(w.steps ?? [], "steps");
  return issues;
}

// A run is played from a plan made when it starts: every event it will send, in order (parallel
// branches interleaved), so a reloaded page can pick it up where it was.
type Body = Json & { type: string };
const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "step";

function plan(steps: Draft[]): { outline: Json[]; events: Body[] } {
  const outline: Json[] = [];
  let agents = 0;
  const info = (st: Draft, path: string, parent: string | null, branch: string | null, round: number | null) => ({
    path, parent, id: st.id || slug(st.name ?? ""), name: st.name ?? "", kind: st.kind ?? "agent",
    model: (st.kind ?? "agent") === "agent" || st.kind === "router" ? st.model || "demo" : "", branch, round,
  });
  const at = (prefix: string | null, st: Draft) => (prefix ? `${prefix}/${st.id || slug(st.name ?? "")}` : st.id || slug(st.name ?? ""));
  const outlineOf = (list: Draft[], prefix: string | null, parent: string | null, branch: string | null, round: number | null) => {
    for (const st of list) {
      const path = at(prefix, st);
      outline.push(info(st, path, parent, branch, round));
      if (st.kind === "loop") outlineOf(st.steps ?? [], `${path}#1`, path, null, 1);
      else if (st.kind === "condition") { outlineOf(st.then ?? [], path, path, "then", null); outlineOf(st.else ?? [], path, path, "else", null); }
      else if (st.kind === "router") for (const r of st.routes ?? []) outlineOf(r.steps, path, path, r.name, null);
      else outlineOf(st.steps ?? [], path, path, null, null);
    }
  };
  const stream = (path: string, text: string[]): Body[] => [
    ...text.map((t) => ({ type: "TextDelta", path, text: t })),
    { type: "StepCompleted", path, output: text.join(""), duration_ms: 1000, usage: null },
  ];
  // An agent with web_search says so, searches (a few ticks; `Wait` is the fake's own pause, never
  // sent), then writes, as the demo model does.
  const searching = (path: string, text: string[]): Body[] => {
    const lead = "Let me look that up first.\n\n";
    const call = { path, call_id: "demo_call_1" };
    return [
      { type: "TextDelta", path, text: lead },
      { ...call, type: "ToolCallStarted", tool: "web_search", arguments: JSON.stringify({ query: "the topic" }),
        title: "Searching the web for “the topic”", at: [...lead].length },
      // The person's yes or no, in the scenario where the search asks first.
      ...(scenario === "approve" ? [{ ...call, type: "ToolApprovalRequested" }, { ...call, type: "AwaitAnswer" }] : []),
      { type: "Wait", ticks: scenario === "slow-tool" ? 1_000_000 : 20 },
      { ...call, type: "ToolCallFinished", ok: true, preview: "5 results (demo search)",
        result: "Demo search — sample results made offline, not from the web.", duration_ms: 600 },
      ...text.map((t) => ({ type: "TextDelta", path, text: t })),
      { type: "StepCompleted", path, output: lead + text.join(""), duration_ms: 1000, usage: null },
    ];
  };
  const sequence = (list: Draft[], prefix: string | null, parent: string | null, branch: string | null, round: number | null): Body[] =>
    list.flatMap((st) => step(st, prefix, parent, branch, round));
  const skip = (list: Draft[], prefix: string): Body[] =>
    list.map((st) => ({ type: "StepSkipped", path: at(prefix, st), reason: "not_taken", message: null }));
  const step = (st: Draft, prefix: string | null, parent: string | null, branch: string | null, round: number | null): Body[] => {
    const path = at(prefix, st);
    const out: Body[] = [{ type: "StepStarted", step: info(st, path, parent, branch, round) }];
    const done = (output: string): Body => ({ type: "StepCompleted", path, output, duration_ms: 1000, usage: null });
    switch (st.kind ?? "agent") {
      case "agent": {
        const text = words(agents++);
        const body = (st.tools?.includes("web_search") ? searching : stream)(path, text);
        const model = st.model || settingsView.default_model || "demo";
        (body[body.length - 1] as Json).usage = usageOf(model, text.length + (st.tools?.includes("web_search") ? 1 : 0));
        // A reviewed step waits for the person before it completes (`AwaitReview`: the fake's own).
        if (st.review) body.splice(body.length - 1, 0, { type: "ReviewRequested", path, output: text.join("") }, { type: "AwaitReview", path });
        out.push(...body);
        break;
      }
      case "parallel": {
        const branches = (st.steps ?? []).map((c) => step(c, path, path, null, null));
        for (let i = 0; branches.some((b) => i < b.length); i++) for (const b of branches) if (i < b.length) out.push(b[i]);
        out.push(done("all branches"));
        break;
      }
      case "loop": {
        const max = st.max_iterations ?? 1;
        for (let r = 1; r <= Math.min(2, max); r++) {
          out.push({ type: "LoopRoundStarted", path, round: r, max_rounds: max });
          out.push(...sequence(st.steps ?? [], `${path}#${r}`, path, null, r));
        }
        out.push(done("the last round"));
        break;
      }
      case "condition":
        out.push(...skip(st.else ?? [], path), ...sequence(st.then ?? [], path, path, "then", null), done("the branch"));
        break;
      case "router": {
        const [first, ...others] = st.routes ?? [];
        out.push(...stream(path, [`${first.name}\n`, "It fits best."]).slice(0, -1));
        out.push({ type: "RouteChosen", path, route: first.name, reason: "It fits best." });
        for (const r of others) out.push(...skip(r.steps, path));
        out.push(...sequence(first.steps, path, path, first.name, null), done("the route"));
        break;
      }
      default: out.push(...sequence(st.steps ?? [], path, path, null, null), done("the group"));
    }
    return out;
  };
  outlineOf(steps, null, null, null, null);
  return { outline, events: sequence(steps, null, null, null, null) };
}

interface Live {
  id: string; seq: number; timer?: ReturnType<typeof setInterval>; plan: Body[]; next: number; deltas: number;
  ended: boolean; snapshot: RunSnapshot; waited?: number;
  /** The answer to the call that waits, once given; whether it was a no. */
  answer?: string; denied?: boolean;
  /** The answer to the review that waits, once given; the outputs reviews settled on. */
  review?: Json & { action: string }; reviewed?: Record<string, string>;
  workflow?: { name: string; steps: Draft[] }; input?: string; resumed?: boolean;
}
const runs = new Map<string, Live>();

// Runs outlive a page reload, as they do in the real app (the backend keeps going); live ones resume.
const STORE = "stepwise-fake-runs";
// A run's plan is stored once, when it starts; what changes is stored as it changes.
function persist() {
  sessionStorage.setItem(STORE, JSON.stringify([...runs.values()].map(({ timer: _t, plan: _p, ...r }) => r)));
}
for (const r of JSON.parse(sessionStorage.getItem(STORE) ?? "[]") as Live[]) {
  r.plan = JSON.parse(sessionStorage.getItem(`${STORE}-plan-${r.id}`) ?? "[]");
  runs.set(r.id, r);
  if (!r.ended) r.timer = setInterval(() => tick(r), window.__fake.tickMs);
}

function send(run: Live, body: Json) {
  run.seq += 1;
  const event = { v: 2, run_id: run.id, seq: run.seq, ts_ms: Date.now(), ...body } as unknown as RunEvent;
  applyEvent(run.snapshot, event);
  if (scenario !== "perf") persist();
  void emit("run-update", event);
}

function startRun(args: Json): string {
  const id = (args.runId as string) ?? crypto.randomUUID();
  const input = String(args.input ?? "").trim();
  if (!input) throw { kind: "empty_input" };
  const wf = args.workflow as { name: string; steps: Draft[] };
  const { outline, events } = plan(wf.steps);
  const run: Live = { id, seq: 0, plan: events, next: 0, deltas: 0, ended: false, snapshot: emptySnapshot(id), workflow: wf, input };
  runs.set(id, run);
  if (scenario !== "perf") sessionStorage.setItem(`${STORE}-plan-${id}`, JSON.stringify(events));
  send(run, { type: "RunStarted", workflow_name: wf.name, input, steps: outline });
  while (run.plan[run.next] && run.plan[run.next].type !== "TextDelta") send(run, run.plan[run.next++]);
  run.timer = setInterval(() => tick(run), window.__fake.tickMs);
  return id;
}

/** Sends the next few deltas (and every other event up to the one after them). */
function tick(run: Live) {
  if (run.ended) return;
  let sent = 0;
  while (run.next < run.plan.length) {
    const e = run.plan[run.next];
    if (e.type === "AwaitReview") {
      const answer = run.review;
      if (!answer) return;
      run.review = undefined;
      const path = e.path as string;
      send(run, { type: "ReviewAnswered", path, answer });
      const reviewed = (run.reviewed ??= {});
      if (answer.action === "send_back") {
        // It writes again, saying what it changed, and waits again.
        const text = [`Revised as you asked (“${answer.note}”). `, ...words(7)];
        run.plan.splice(run.next + 1, 0, ...text.map((t) => ({ type: "TextDelta", path, text: t })),
          { type: "ReviewRequested", path, output: text.join("") }, { type: "AwaitReview", path });
        sessionStorage.setItem(`${STORE}-plan-${run.id}`, JSON.stringify(run.plan));
        reviewed[path] = text.join("");
      } else if (answer.action === "edit") reviewed[path] = answer.text as string;
      run.next += 1;
      continue;
    }
    if (e.type === "StepCompleted" && run.reviewed?.[e.path as string] !== undefined) {
      send(run, { ...e, output: run.reviewed[e.path as string] });
      run.next += 1;
      continue;
    }
    if (e.type === "AwaitAnswer") {
      if (!run.answer) return;
      send(run, { type: "ToolApprovalAnswered", path: e.path, call_id: e.call_id, answer: run.answer });
      run.denied = run.answer === "deny";
      run.answer = undefined;
      run.next += 1;
      continue;
    }
    if (e.type === "Wait" && run.denied) {
      run.next += 1;
      continue;
    }
    if (e.type === "ToolCallFinished" && run.denied) {
      send(run, { ...e, ok: false, preview: "the person did not allow this call", result: "the person did not allow this call" });
      run.denied = false;
      run.next += 1;
      continue;
    }
    if (e.type === "Wait") {
      run.waited = (run.waited ?? 0) + 1;
      if (run.waited < (e.ticks as number)) return;
      run.waited = 0;
      run.next += 1;
      continue;
    }
    if (e.type === "TextDelta") {
      if (sent === window.__fake.tokensPerTick) return;
      if (scenario.startsWith("fail:") && run.deltas >= 6 && !run.resumed) {
        const kind = scenario.slice(5);
        end(run, { type: "RunFailed", path: e.path, error: kind, message: `The provider said no (${kind}).`, duration_ms: 100 });
        return;
      }
      sent += 1;
      run.deltas += 1;
    }
    send(run, e);
    run.next += 1;
  }
  end(run, { type: "RunCompleted", output: "done", duration_ms: 2000 });
}

function end(run: Live, body: Json) {
  run.ended = true;
  clearInterval(run.timer);
  send(run, body);
}

/** A new run that reuses the outputs of the original's steps before `from` (the first that did
 * not finish when null), as the engine does (engine/src/resume.rs). */
function resumeRun(a: Json): string {
  const original = runs.get(a.runId as string);
  if (!original?.workflow || !original.ended) throw { kind: "resume", detail: { kind: "not_ended" } };
  const top = original.snapshot.steps.filter((st) => st.parent === null);
  const done = (st: (typeof top)[number]) => st.status === "completed";
  const from = (a.from as string | null) ?? top.find((st) => !done(st))?.path;
  if (!from) throw { kind: "resume", detail: { kind: "all_done" } };
  const at = top.findIndex((st) => st.path === from);
  if (at < 0) throw { kind: "resume", detail: { kind: "no_such_step", step: from } };
  const notDone = top.slice(0, at).find((st) => !done(st));
  if (notDone) throw { kind: "resume", detail: { kind: "earlier_step_not_done", step: notDone.name } };
  const reused = top.slice(0, at).map((st) => st.path);
  const inReused = (p: string) => reused.some((r) => p === r || p.startsWith(`${r}/`) || p.startsWith(`${r}#`));
  const id = crypto.randomUUID();
  const { outline, events } = plan(original.workflow.steps);
  // A `Wait` has no path: it belongs to the step of the events around it.
  let last = "";
  const rest = events.filter((e) => {
    last = ((e.type === "StepStarted" ? (e.step as Json).path : e.path) as string | undefined) ?? last;
    return !inReused(last);
  });
  const run: Live = { id, seq: 0, plan: rest, next: 0, deltas: 0, ended: false, snapshot: emptySnapshot(id),
    workflow: original.workflow, input: original.input, resumed: true };
  runs.set(id, run);
  sessionStorage.setItem(`${STORE}-plan-${id}`, JSON.stringify(rest));
  send(run, { type: "RunStarted", workflow_name: original.workflow.name, input: original.input, steps: outline,
    resumed_from: { run_id: original.id, step: from } });
  for (const st of original.snapshot.steps.filter((s) => inReused(s.path) && s.status === "completed")) {
    send(run, { type: "StepReused", from_run: original.id, output: st.text, step: {
      path: st.path, parent: st.parent, id: st.id, name: st.name, kind: st.kind, model: st.model, branch: st.branch, round: st.round } });
  }
  (original.snapshot.continued_in as string[]) = [...(original.snapshot.continued_in ?? []), id];
  persist();
  while (run.plan[run.next] && run.plan[run.next].type !== "TextDelta") send(run, run.plan[run.next++]);
  run.timer = setInterval(() => tick(run), window.__fake.tickMs);
  return id;
}

/** The MCP entries' variables as the app keeps them (the window never gets the values). */
const savedEnv: Record<string, Record<string, string>> = {};
let stopInspecting: (() => void) | null = null;
let toolsView = { web_search_url: "https://html.duckduckgo.com/html/", allow_private_network: false, allow_hosts: [] as string[], proxy: "", timeout_secs: 60, servers: [] as { name: string }[] };

mockIPC(
  (cmd, args) => {
    const a = (args ?? {}) as Json;
    if (!cmd.startsWith("plugin:event")) window.__calls.push({ cmd, args: a });
    switch (cmd) {
      case "list_templates": return TEMPLATES;
      case "list_workflows": return [...workflows.entries()].map(([id, workflow]) => ({ id, workflow }));
      case "list_runs": {
        const words = String((a.filter as Json)?.search ?? "").toLowerCase().split(/\s+/).filter(Boolean);
        const live = [...runs.values()].map((r) => {
          const s = r.snapshot;
          return { run_id: r.id, workflow_name: s.workflow_name, input: s.input, status: s.status, started_at_ms: s.started_at_ms, ended_at_ms: null, usage: s.usage ?? null };
        }).reverse();
        const older = scenario === "history" ? past : [];
        const list = [...live, ...older].filter((r) => words.every((w) => r.input.includes(w)));
        const saving_error = scenario === "disk-full" ? "Runs are not being saved to the history right now (database or disk is full)." : null;
        return { runs: list, history: { available: true, path: "/tmp/history.db", message: null, saving_error } };
      }
      case "delete_run": {
        const i = past.findIndex((r) => r.run_id === a.runId);
        if (i >= 0) past.splice(i, 1);
        return i >= 0;
      }
      case "export_run": return `# ${past.find((r) => r.run_id === a.runId)?.workflow_name}\n`;
      case "get_settings": return settingsView;
      case "save_settings": {
        const u = a.update as typeof settingsView;
        if (!/^(demo|(openai|anthropic|ollama):\S+)$/.test(u.default_model)) throw { kind: "settings", detail: "Default model: unknown provider" };
        settingsView = { ...settingsView, default_model: u.default_model, idle_timeout_secs: u.idle_timeout_secs };
        return settingsView;
      }
      case "set_api_key":
      case "clear_api_key": {
        const set = cmd === "set_api_key";
        if (set) savedKeys[a.provider as string] = a.key as string; else delete savedKeys[a.provider as string];
        settingsView = { ...settingsView, providers: settingsView.providers.map((p) =>
          p.preset.kind === a.provider ? { ...p, has_key: set } : p) };
        return set ? "file" : null;
      }
      case "get_tools_settings": return toolsView;
      case "save_tools_settings": {
        const u = a.update as typeof toolsView;
        const bad = u.servers.find((s) => !/^[A-Za-z0-9_-]+$/.test(s.name));
        if (bad) throw { kind: "settings", detail: `“${bad.name}” cannot name an MCP server: use letters, digits, - and _` };
        // As the app: a variable's value is kept here and never sent back.
        for (const s of u.servers as { name: string; saved_name?: string | null; env: { name: string; value: string; set: boolean }[] }[]) {
          const before = savedEnv[s.saved_name ?? s.name] ?? {};
          savedEnv[s.name] = Object.fromEntries(s.env.map((e) => [e.name, e.set && !e.value ? before[e.name] ?? "" : e.value]));
          s.saved_name = s.name;
          s.env = Object.keys(savedEnv[s.name]).sort().map((name) => ({ name, value: "", set: true }));
        }
        toolsView = u;
        return toolsView;
      }
      case "inspect_mcp_server":
        if (a.name === "slow") return new Promise((resolve) => { stopInspecting = () => resolve({ ok: false, message: "Stopped.", tools: [], stderr: [], stopped: true }); });
        return a.name === "broken"
        ? { ok: false, message: "the MCP server “broken” did not start: connection closed. Its last words on stderr: no config file", tools: [], stderr: [], stopped: false }
        : { ok: true, message: null, stderr: ["Starting default (STDIO) server..."], stopped: false, tools: [
          { name: "echo", title: "Echo Tool", description: "Echoes back the input string", read_only: true },
          { name: "get-env", title: null, description: "Returns all environment variables", read_only: false },
        ] };
      case "stop_inspecting_mcp_server": {
        const stop = stopInspecting;
        stopInspecting = null;
        stop?.();
        return stop !== null;
      }
      case "answer_review": {
        const run = runs.get(a.runId as string);
        const waiting = run?.plan[run.next];
        const answer = a.answer as Json & { action: string };
        if (!run || run.ended || waiting?.type !== "AwaitReview" || waiting.path !== a.path) throw { kind: "review", detail: { kind: "not_waiting" } };
        if (answer.action === "edit" && !String(answer.text).trim()) throw { kind: "review", detail: { kind: "empty_edit" } };
        if (answer.action === "send_back" && !String(answer.note).trim()) throw { kind: "review", detail: { kind: "empty_note" } };
        run.review = answer;
        return null;
      }
      case "resume_run": return resumeRun(a);
      case "answer_tool_call": {
        const run = runs.get(a.runId as string);
        const waiting = run?.plan[run.next];
        if (!run || run.ended || waiting?.type !== "AwaitAnswer" || waiting.path !== a.path || waiting.call_id !== a.callId) return false;
        run.answer = a.answer as string;
        return true;
      }
      case "list_models": return catalog();
      case "provider_state": return catalog().find((p) => p.kind === a.provider);
      case "get_prices": return pricesView();
      case "set_price": {
        const model = String(a.model).trim().toLowerCase();
        if (a.price) prices[model] = a.price as { input: number; output: number };
        else if (SHIPPED[model]) prices[model] = SHIPPED[model];
        else delete prices[model];
        return pricesView();
      }
      case "spending": return (a.sinceMs as number[]).map((since_ms) => ({
        since_ms, runs: 2, unpriced_steps: 0,
        usage: { input_tokens: 2400, output_tokens: 5100, estimated: true, cost_usd: 0.0123 },
      }));
      case "about": return { name: "Stepwise", version: "0.1.0", identifier: "org.stepwise.desktop", prices_dated: "2025-10-15" };
      case "test_connection": return { ok: false, message: "The API key was rejected by api.example.com (401 Unauthorized) — check it in Settings.", latency_ms: null };
      case "save_workflow": {
        const w = a.workflow as Json;
        const issues = validate(w as never);
        if (issues.length) throw { kind: "invalid_workflow", detail: { file: null, issues } };
        const id = (a.id as string) ?? String(w.name).toLowerCase().replace(/[^a-z0-9]+/g, "-");
        workflows.set(id, w);
        return id;
      }
      case "delete_workflow": return workflows.delete(a.id as string);
      // A start that takes its time to answer (a slow disk, a busy machine).
      case "start_run": return scenario === "slow-start"
        ? new Promise((resolve) => setTimeout(() => resolve(startRun(a)), 800))
        : startRun(a);
      case "get_run": return runs.get(a.runId as string)?.snapshot ?? null;
      case "cancel_run": {
        const run = runs.get(a.runId as string);
        if (!run || run.ended) return false;
        const running = run.snapshot.steps.filter((st) => st.status === "running" || st.status === "waiting").map((st) => ({
          path: st.path, text: st.text,
          ...(st.kind === "agent" ? { usage: usageOf(st.model, st.text.split(". ").length - 1, true) } : {}),
        }));
        const cancelled = { type: "RunCancelled", reason: "user", running, duration_ms: 500 };
        // A tool that takes a moment to stop (a local server ending its work): the run ends
        // only once it has.
        const toolRunning = run.snapshot.steps.some((st) => st.tool_calls.some((c) => c.status === "running"));
        if (scenario === "slow-tool" && toolRunning) {
          clearInterval(run.timer);
          setTimeout(() => end(run, cancelled), 800);
        } else end(run, cancelled);
        return true;
      }
      default: throw { kind: "io", detail: `the fake backend has no ${cmd}` };
    }
  },
  { shouldMockEvents: true },
);
