// A stand-in for the Rust backend in browser tests: the real UI, with IPC answered here through
// Tauri's own mocks. Runs stream `run-update` events like the bridge does. The scenario comes from
// the page's URL (`?scenario=…`); every command the page invokes is recorded in `window.__calls`.
import { emit } from "@tauri-apps/api/event";
import { mockIPC } from "@tauri-apps/api/mocks";

type Json = Record<string, unknown>;
declare global {
  interface Window { __calls: { cmd: string; args: Json }[]; __fake: { tokensPerTick: number; tickMs: number } }
}

const params = new URLSearchParams(location.search);
const scenario = params.get("scenario") ?? "normal";
window.__calls = [];
window.__fake = scenario === "perf" ? { tokensPerTick: 10, tickMs: 10 } : { tokensPerTick: 3, tickMs: 30 };

const TEMPLATE = {
  id: "research-and-write",
  workflow: {
    name: "Research and write", description: "Research a topic, then write an article about it",
    steps: [{ name: "Research", instructions: "List facts.", model: "demo" }, { name: "Write", instructions: "Write.", model: "demo" }],
  },
};

const XSS = [
  "Here is the answer. ", "<img src=x onerror=\"window.__pwned=1\"> ", "<script>window.__pwned=2</script> ",
  "[click me](javascript:window.__pwned=3) ", "<iframe src=\"https://example.invalid\"></iframe> ",
  "<a href=\"https://example.invalid\" onclick=\"window.__pwned=4\">link</a> ", "**bold** and done.",
];

const PERF_TOKENS = 100_000;

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
  { run_id: "11111111-0000-4000-8000-000000000002", workflow_name: "Long story", input: "a dragon who learns to code", status: "cancelled", started_at_ms: 1_790_000_100_000, ended_at_ms: 1_790_000_110_000 },
  { run_id: "11111111-0000-4000-8000-000000000003", workflow_name: "Research and write", input: "honey bees", status: "failed", started_at_ms: 1_790_000_200_000, ended_at_ms: 1_790_000_210_000 },
];
const savedKeys: Record<string, string> = {};
let settingsView = {
  default_model: "demo", idle_timeout_secs: 60, key_storage: "file",
  key_warning: null,
  history: { available: true, path: "/tmp/history.db", message: null, saving_error: null },
  openai: { base_url: "", default_model: "", has_key: false, from_environment: false, key_saved_for: null },
  anthropic: { base_url: "", default_model: "", has_key: false, from_environment: false, key_saved_for: null },
  ollama: { base_url: "", default_model: "", has_key: false, from_environment: false, key_saved_for: null },
};
const workflows = new Map<string, Json>();
// Dozens of the user's own workflows, for the layout with many.
if (scenario === "many") {
  for (let i = 1; i <= 30; i++) {
    workflows.set(`mine-${i}`, { name: `My workflow ${i}`, description: `Saved workflow number ${i}`,
      steps: [{ name: "Draft", instructions: "Draft.", model: "demo" }, { name: "Polish", instructions: "Polish.", model: "demo" }] });
  }
}
const PROVIDER_KEY: Record<string, "openai" | "anthropic" | "ollama"> = { open_ai: "openai", anthropic: "anthropic", ollama: "ollama" };

/** The backend's rules, as far as these tests need them. */
function validate(w: { name?: string; steps?: { name?: string; instructions?: string; model?: string | null }[] }) {
  const issues: Json[] = [];
  const issue = (step_index: number | null, field: string, message: string) =>
    issues.push({ step_index, step_name: null, field, line: null, message });
  if (!w.name?.trim()) issue(null, "name", "the workflow needs a name");
  if (!w.steps?.length) issue(null, "steps", "the workflow needs at least one step");
  (w.steps ?? []).forEach((st, i) => {
    if (!st.name?.trim()) issue(i, "name", "the step needs a name");
    if (!st.instructions?.trim()) issue(i, "instructions", "the instructions are empty; say what this step should do");
    if (st.model && !/^(demo|(openai|anthropic|ollama):\S+)$/.test(st.model)) issue(i, "model", `unknown provider \`${st.model}\``);
  });
  return issues;
}

interface Live { id: string; seq: number; timer?: ReturnType<typeof setInterval>; step: number; sent: number; text: string; ended: boolean; snapshot: Json; stepCount: number }
const runs = new Map<string, Live>();

// Runs outlive a page reload, as they do in the real app (the backend keeps going); live ones resume.
const STORE = "stepwise-fake-runs";
function persist() {
  sessionStorage.setItem(STORE, JSON.stringify([...runs.values()].map(({ timer: _t, ...r }) => r)));
}
for (const r of JSON.parse(sessionStorage.getItem(STORE) ?? "[]") as Live[]) {
  runs.set(r.id, r);
  if (!r.ended) r.timer = setInterval(() => tick(r, r.stepCount), window.__fake.tickMs);
}

function send(run: Live, body: Json) {
  run.seq += 1;
  const event = { v: 1, run_id: run.id, seq: run.seq, ts_ms: Date.now(), ...body };
  applyToSnapshot(run, event);
  if (scenario !== "perf") persist();
  void emit("run-update", event);
}

function applyToSnapshot(run: Live, e: Json) {
  const s = run.snapshot as { last_seq: number; status: string; steps: Json[]; workflow_name: string; input: string; started_at_ms: number | null };
  s.last_seq = e.seq as number;
  switch (e.type) {
    case "RunStarted":
      s.workflow_name = e.workflow_name as string; s.input = e.input as string; s.started_at_ms = e.ts_ms as number;
      s.steps = (e.steps as Json[]).map((st) => ({ name: st.name, model: st.model, status: "pending", text: "", started_at_ms: null, duration_ms: null, usage: null }));
      break;
    case "StepStarted": s.status = "running"; Object.assign(s.steps[e.step_index as number], { status: "running", started_at_ms: e.ts_ms }); break;
    case "TextDelta": (s.steps[e.step_index as number] as { text: string }).text += e.text as string; break;
    case "StepCompleted": Object.assign(s.steps[e.step_index as number], { status: "completed", duration_ms: e.duration_ms }); break;
    default: s.status = e.type === "RunCompleted" ? "completed" : e.type === "RunCancelled" ? "cancelled" : "failed";
  }
}

function startRun(args: Json): string {
  const id = (args.runId as string) ?? crypto.randomUUID();
  const input = String(args.input ?? "").trim();
  if (!input) throw { kind: "empty_input" };
  const run: Live = { id, seq: 0, step: 0, sent: 0, text: "", ended: false, stepCount: (args.workflow as { steps: unknown[] }).steps.length,
    snapshot: { run_id: id, workflow_name: "", input: "", status: "pending", steps: [], final_output: null, cancel_reason: null, error: null, started_at_ms: null, ended_at_ms: null, last_seq: 0 } };
  runs.set(id, run);
  const wf = args.workflow as { name: string; steps: { name: string; model?: string }[] };
  send(run, { type: "RunStarted", workflow_name: wf.name, input, steps: wf.steps.map((s) => ({ name: s.name, model: s.model ?? "demo" })) });
  send(run, { type: "StepStarted", step_index: 0, name: wf.steps[0].name, model: "demo" });
  run.timer = setInterval(() => tick(run, wf.steps.length), window.__fake.tickMs);
  return id;
}

function tick(run: Live, stepCount: number) {
  if (run.ended) return;
  if (scenario.startsWith("fail:") && run.sent >= 6) {
    const kind = scenario.slice(5);
    end(run, { type: "RunFailed", step_index: run.step, error: kind, message: `The provider said no (${kind}).`, duration_ms: 100 });
    return;
  }
  const all = words(run.step);
  for (let i = 0; i < window.__fake.tokensPerTick && run.sent < all.length; i++) {
    send(run, { type: "TextDelta", step_index: run.step, text: all[run.sent] });
    run.text += all[run.sent];
    run.sent += 1;
  }
  if (run.sent >= all.length) {
    send(run, { type: "StepCompleted", step_index: run.step, output: run.text, duration_ms: 1000, usage: null });
    run.step += 1; run.sent = 0; run.text = "";
    if (run.step >= stepCount) { end(run, { type: "RunCompleted", output: "done", duration_ms: 2000 }); return; }
    send(run, { type: "StepStarted", step_index: run.step, name: `Step ${run.step + 1}`, model: "demo" });
  }
}

function end(run: Live, body: Json) {
  run.ended = true;
  clearInterval(run.timer);
  send(run, body);
}

mockIPC(
  (cmd, args) => {
    const a = (args ?? {}) as Json;
    if (!cmd.startsWith("plugin:event")) window.__calls.push({ cmd, args: a });
    switch (cmd) {
      case "list_templates": return [TEMPLATE];
      case "list_workflows": return [...workflows.entries()].map(([id, workflow]) => ({ id, workflow }));
      case "list_runs": {
        const words = String((a.filter as Json)?.search ?? "").toLowerCase().split(/\s+/).filter(Boolean);
        const live = [...runs.values()].map((r) => {
          const s = r.snapshot as { workflow_name: string; input: string; status: string; started_at_ms: number | null };
          return { run_id: r.id, workflow_name: s.workflow_name, input: s.input, status: s.status, started_at_ms: s.started_at_ms, ended_at_ms: null };
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
      case "set_api_key": {
        const k = PROVIDER_KEY[a.provider as string];
        savedKeys[k] = a.key as string;
        settingsView = { ...settingsView, [k]: { ...settingsView[k], has_key: true } };
        return "file";
      }
      case "clear_api_key": {
        const k = PROVIDER_KEY[a.provider as string];
        delete savedKeys[k];
        settingsView = { ...settingsView, [k]: { ...settingsView[k], has_key: false } };
        return null;
      }
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
        end(run, { type: "RunCancelled", reason: "user", step_index: run.step, partial_output: run.text, duration_ms: 500 });
        return true;
      }
      default: throw { kind: "io", detail: `the fake backend has no ${cmd}` };
    }
  },
  { shouldMockEvents: true },
);
