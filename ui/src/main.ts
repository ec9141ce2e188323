// A minimal run screen: pick a template, run it, watch the steps stream, cancel.
import { commands, events, type RunSnapshot, type Template } from "./bindings";
import { apply, emptySnapshot } from "./run-view";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>("start");
const select = $<HTMLSelectElement>("template");
const input = $<HTMLTextAreaElement>("input");
const view = $<HTMLElement>("run-view");
const statusLine = $<HTMLParagraphElement>("status");
const cancelButton = $<HTMLButtonElement>("cancel");
const stepsList = $<HTMLOListElement>("steps");
const textBox = $<HTMLPreElement>("text");
const errorLine = $<HTMLParagraphElement>("error");

let templates: Template[] = [];
let run: RunSnapshot | null = null;
let framePending = false;

function showError(message: string | null) {
  errorLine.hidden = message === null;
  errorLine.textContent = message ?? "";
}

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

const WORDS: Record<string, string> = {
  pending: "Waiting", running: "Running", completed: "Done", cancelled: "Cancelled", failed: "Failed", skipped: "Skipped",
};

// Model output is untrusted: it is only ever set as text, never as HTML.
function render() {
  framePending = false;
  if (!run) return;
  view.hidden = false;
  const now = Date.now();
  stepsList.replaceChildren(
    ...run.steps.map((st) => {
      const li = document.createElement("li");
      li.dataset.status = st.status;
      const time =
        st.status === "running" && st.started_at_ms ? ` ${clock(now - st.started_at_ms)}`
        : st.duration_ms != null ? ` in ${clock(st.duration_ms)}` : "";
      li.textContent = `${st.name} — ${WORDS[st.status] ?? st.status}${time}`;
      return li;
    }),
  );
  const current = run.steps.find((st) => st.status === "running") ?? [...run.steps].reverse().find((st) => st.text);
  textBox.textContent = current?.text ?? "";
  textBox.scrollTop = textBox.scrollHeight;
  const live = run.status === "pending" || run.status === "running";
  cancelButton.disabled = !live;
  statusLine.textContent =
    run.status === "cancelled" ? "Cancelled — the text written so far is kept."
    : run.status === "failed" ? `Failed: ${run.error?.message ?? ""}`
    : run.status === "completed" ? "Completed."
    : `Running ${run.workflow_name}…`;
}

function schedule() {
  if (!framePending) {
    framePending = true;
    requestAnimationFrame(render);
  }
}

async function start(e: SubmitEvent) {
  e.preventDefault();
  showError(null);
  const template = templates.find((t) => t.id === select.value);
  if (!template) return;
  const runId = crypto.randomUUID();
  run = emptySnapshot(runId);
  const started = await commands.startRun(template.workflow, input.value, runId);
  if (started.status === "error") {
    run = null;
    showError(started.error.kind === "empty_input" ? "Type what the workflow should work on first." : JSON.stringify(started.error));
    return;
  }
  const snap = await commands.getRun(runId);
  if (snap.status === "ok" && snap.data && run && run.run_id === runId && snap.data.last_seq > run.last_seq) {
    run = snap.data;
  }
  schedule();
}

async function main() {
  await events.runUpdate.listen((e) => {
    if (run && apply(run, e.payload)) schedule();
  });
  templates = await commands.listTemplates();
  select.replaceChildren(
    ...templates.map((t) => {
      const o = document.createElement("option");
      o.value = t.id;
      o.textContent = `${t.workflow.name} — ${t.workflow.description}`;
      return o;
    }),
  );
  form.addEventListener("submit", (e) => void start(e));
  cancelButton.addEventListener("click", () => {
    if (run) void commands.cancelRun(run.run_id);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && run && !cancelButton.disabled) void commands.cancelRun(run.run_id);
  });
  setInterval(() => run && (run.status === "running" || run.status === "pending") && schedule(), 1000);
}

void main();
