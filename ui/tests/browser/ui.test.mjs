// The built UI in headless Chromium (Debian's), talking to the real shell: every command goes to
// the app on Tauri's mock runtime (examples/ui_backend/), every event comes from it. Each test
// gets a fresh app in a fresh folder, made as its options say (examples/ui_backend/options.rs):
// the demo model's pace, model servers (stepwise-testkit) with their scripted answers, settings,
// saved workflows, past runs. Screenshots of each state go to test-artifacts/ui/.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { REPO, startHarness } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.resolve(here, "../../../test-artifacts/ui");
const AXE = path.resolve(here, "../../node_modules/axe-core/axe.min.js");
/** The real MCP server the tests run (installed by scripts/lib.sh `need_mcp_servers`). */
const EVERYTHING = path.join(REPO, "tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js");

let harness, context;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  harness = await startHarness();
  ({ context } = harness);
});

after(async () => {
  await harness?.close();
});

// The demo model's paces: slow enough to act while a step writes (a step takes seconds), or quick.
const STREAM = { first_token_ms: 0, per_word_ms: 40 };
const QUICK = { first_token_ms: 0, per_word_ms: 1 };

/** A page on a fresh app made as `options` say; `page.app` has its servers' addresses. */
async function open(options = { demo: STREAM }) {
  const app = await harness.newApp(options);
  const page = await context.newPage();
  page.app = app;
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(e.message));
  page.on("dialog", (d) => { page.problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
  await page.goto(app.url);
  await page.getByText("Research and write").first().waitFor();
  return page;
}

async function run(page, input = "tidal energy") {
  await page.getByLabel("What should it work on?").fill(input);
  await page.getByRole("button", { name: "Run", exact: true }).click();
}

/** Returns once every event the shell sent before it has reached the page and been drawn: the
 * backend answers a command on the same ordered socket as its events, and the window applies
 * updates once a frame. What the window shows then is all it was sent (no sleeping on a guess). */
async function settled(page) {
  await page.evaluate(async () => {
    await window.__TAURI_INTERNALS__.invoke("about", {});
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  });
}

const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const cancelButton = (page) => page.getByRole("button", { name: "Cancel", exact: true });
const status = (page, text) => page.locator("p.status", { hasText: text });
const choose = (page, name) => page.locator(".card", { hasText: name }).click();
const streamText = (page) => page.getByRole("region", { name: /Text of step/ }).innerText();
/** The `n`th item (from 1) of the lists in the step's text: the demo model writes its facts as one. */
const item = (page, n) => page.getByRole("region", { name: /Text of step/ }).locator("li").nth(n - 1);

test("start → steps advance → text streams → Cancel → Cancelled with the partial text", async () => {
  const page = await open();
  await shot(page, "1-home");
  await run(page);
  await page.getByRole("button", { name: /Step 1: Research, Running/ }).waitFor();
  await item(page, 1).waitFor();
  await shot(page, "2-streaming");
  const before = await cancelButton(page).boundingBox();
  await item(page, 3).waitFor();
  const written = await item(page, 2).innerText();
  assert.deepEqual(await cancelButton(page).boundingBox(), before, "Cancel never moves or resizes while text streams");
  assert.equal(await cancelButton(page).isEnabled(), true);

  await cancelButton(page).click();
  await status(page, "Cancelled. The text written so far is kept.").waitFor();
  assert.equal(await cancelButton(page).isEnabled(), false, "Cancel is disabled once the run is over");
  const kept = await streamText(page);
  assert.ok(kept.includes(written), "the text written before the cancel is kept");
  await settled(page);
  assert.equal(await streamText(page), kept, "no more text arrives");
  assert.match(await page.getByRole("button", { name: /Step 2: Write/ }).innerText(), /Skipped/);
  assert.deepEqual(await cancelButton(page).boundingBox(), before, "and it is still in the same place");
  await shot(page, "3-cancelled");
  assert.ok(await page.evaluate(() => window.__calls.some((c) => c.cmd === "cancel_run")));
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("Esc cancels the running run", async () => {
  const page = await open();
  await run(page);
  await item(page, 1).waitFor();
  await page.keyboard.press("Escape");
  await status(page, "Cancelled. The text written so far is kept.").waitFor();
  await page.close();
});

test("a finished run completes and every step's text is one click away", async () => {
  const page = await open({ demo: QUICK });
  await run(page);
  await status(page, "Completed.").waitFor({ timeout: 15_000 });
  await page.getByRole("button", { name: /Step 1: Research, Done in/ }).click();
  // The last lines the demo model wrote in its first step.
  assert.match(await streamText(page), /Worth checking next: .*\s+Sources:/s);
  await shot(page, "4-completed");
  await page.close();
});

/** A saved workflow of one step on the model server's model (`openai:test-model`). */
const ASK = {
  name: "Ask the model", description: "One step on the test server's model",
  steps: [{ name: "Answer", instructions: "Answer in a few words.", model: "openai:test-model" }],
};
const status_ = (code, message = "no") => ({ fault: { kind: "status", code, message } });
/** An app whose OpenAI-compatible provider is the test model server `model` (key `sk-test`),
 * answering its first requests as `queue` says, then `fallback`; ASK and `workflows` saved. */
const onModel = ({ queue = [], fallback = { numbered: 40, token_interval_ms: 20 }, base = "{{model}}/v1", network = "",
  settings = "", workflows = [], demo = STREAM, extra = {} } = {}) => ({
  demo,
  servers: { model: { queue, default: fallback } },
  settings: `[openai]\nbase_url = "${base}"\n[network]\nmax_retries = 0\n${network}${settings}`,
  keys: { open_ai: "sk-test" },
  workflows: [ASK, ...workflows],
  ...extra,
});

// Each kind, made by the real engine from the test server's answer; the backend's own message
// (what the provider or the engine said) is shown under the window's words. `internal` (a bug
// inside Stepwise: a panic) is not made here: nothing in a working engine panics on purpose.
const KINDS = {
  auth: [/API key was not accepted.*Settings/s, onModel({ queue: [status_(401)] }), /401/],
  rate_limit: [/limiting requests.*Wait a little/s, onModel({ queue: [status_(429)] }), /429/],
  provider: [/provider had a problem/, onModel({ queue: [status_(500)] }), /500/],
  network: [/connection failed/, onModel({ queue: [{ numbered: 40, fault: { kind: "drop_after", tokens: 3 } }] }), /closed|connection/i],
  timeout: [/stopped answering/, onModel({ queue: [{ numbered: 40, fault: { kind: "stall_after", tokens: 3 } }],
    network: "idle_timeout_secs = 1\n" }), /1 s|second/],
  invalid_config: [/setup is not complete/, onModel({ base: "ftp://nowhere" }), /base URL/],
};

test("each kind of failure says what went wrong and what to do", async () => {
  for (const [kind, [words, options, message]] of Object.entries(KINDS)) {
    const page = await open(options);
    await choose(page, "Ask the model");
    await run(page);
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, words, kind);
    assert.match(text, message, `${kind}: the backend's message is shown`);
    await page.getByRole("button", { name: "Try again" }).waitFor();
    if (kind === "auth") {
      await shot(page, "5-failed-auth");
      await page.getByRole("button", { name: "Open Settings" }).click();
      await page.getByRole("heading", { name: "Settings" }).waitFor();
    }
    await page.close();
  }
});

const XSS = [
  "Here is the answer. ", "<img src=x onerror=\"window.__pwned=1\"> ", "<script>window.__pwned=2</script> ",
  "[click me](javascript:window.__pwned=3) ", "<iframe src=\"https://example.invalid\"></iframe> ",
  "<a href=\"https://example.invalid\" onclick=\"window.__pwned=4\">link</a> ", "**bold** and done.",
];

test("model output cannot run code, navigate or call commands (XSS)", async () => {
  const page = await open(onModel({ fallback: { tokens: XSS, token_interval_ms: 5 } }));
  await choose(page, "Ask the model");
  await run(page);
  await page.getByText("and done.").waitFor({ timeout: 15_000 });
  const region = page.getByRole("region", { name: /Text of step/ });
  assert.equal(await page.evaluate(() => window.__pwned), undefined, "no injected code ran");
  assert.equal(await region.locator("img, script, iframe, svg, form").count(), 0);
  assert.equal(await region.locator("a[href]").count(), 0, "links cannot navigate the window");
  assert.equal(await region.locator("[onerror], [onclick]").count(), 0);
  assert.match(await region.innerText(), /bold/);
  const cmds = await page.evaluate(() => [...new Set(window.__calls.map((c) => c.cmd))].sort());
  assert.deepEqual(cmds, ["get_run", "list_runs", "list_templates", "list_workflows", "start_run"], "only the UI's own calls");
  assert.deepEqual(page.problems, []);
  await shot(page, "6-xss");
  await page.close();
});

test("no serious or critical accessibility violations (axe-core)", async () => {
  const page = await open();
  const check = async (when) => {
    await page.addScriptTag({ path: AXE });
    const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(bad.map((v) => `${v.id}: ${v.help}`), [], when);
  };
  await check("home");
  await run(page);
  await item(page, 1).waitFor();
  await check("while running");
  await cancelButton(page).click();
  await status(page, "Cancelled. The text written so far is kept.").waitFor();
  await check("cancelled");
  await page.close();
});

test("an empty input is refused with a plain message", async () => {
  const page = await open();
  await run(page, "   ");
  await page.getByText("Type what the workflow should work on first.").waitFor();
  await page.close();
});

/** A one-step workflow on `ollama:llama3.2`, served by the model server at an address that is
 * not this computer's, at $1,000 / $2,000 a million tokens: its runs cost something. */
const PRICED = (name) => ({
  name, description: "One step on a priced model",
  steps: [{ name: "Write", instructions: "Write it.", model: "ollama:llama3.2" }],
});
const PRICED_SETTINGS = '[ollama]\nbase_url = "{{remote:model}}/v1"\n[prices]\n"ollama:llama3.2" = { input = 1000.0, output = 2000.0 }\n';

// Three past runs, made by the real engine before the page opens.
const HISTORY = {
  demo: QUICK,
  servers: { model: { models: { ids: ["llama3.2"] } } },
  settings: PRICED_SETTINGS,
  workflows: [PRICED("Long story")],
  history: [
    { workflow: "research-and-write", input: "tidal energy" },
    { workflow: "Long story", input: "a dragon who learns to code", then: "cancel",
      behaviors: [["model", { numbered: 400, token_interval_ms: 20 }]] },
    { workflow: "Long story", input: "honey bees", behaviors: [["model", status_(500)]] },
  ],
};

test("history: search, open, copy and delete past runs", async () => {
  const page = await open(HISTORY);
  await page.getByRole("button", { name: "History" }).click();
  await page.getByText("a dragon who learns to code").waitFor();
  assert.equal(await page.locator(".history-list li").count(), 3);
  // A past run says what it cost; a stopped one's estimate is marked.
  assert.match(await page.locator(".history-list li", { hasText: "a dragon who learns to code" }).innerText(),
    /≈ [\d,]+ in · [\d,]+ out · \$\d+\.\d+/);
  await page.getByLabel("Search inputs and results").fill("tidal");
  await page.waitForFunction(() => document.querySelectorAll(".history-list li").length === 1);
  await page.getByLabel("Search inputs and results").fill("");
  await page.waitForFunction(() => document.querySelectorAll(".history-list li").length === 3);
  const row = page.locator(".history-list li", { hasText: "honey bees" });
  await row.getByRole("button", { name: "Delete" }).click();
  await row.getByRole("button", { name: "Delete for good?" }).click();
  await page.waitForFunction(() => document.querySelectorAll(".history-list li").length === 2);
  assert.equal(await page.getByText("honey bees").count(), 0);
  await shot(page, "7-history");
  await page.close();
});

test("settings: a key can be saved but is never shown", async () => {
  // The OpenAI-compatible provider is the test model server, which rejects every key.
  const page = await open({ servers: { model: { default: status_(401, "Incorrect API key provided") } },
    settings: '[openai]\nbase_url = "{{model}}/v1"\n' });
  const url = `${page.app.servers.model}/v1`;
  await page.getByRole("button", { name: "Settings" }).click();
  const secret = "sk-never-show-me-4242";
  await page.locator('[data-provider="openai"]').getByRole("button", { name: "Edit" }).click();
  await page.locator("#openai-url").fill(url);
  const field = page.getByLabel("API key").first();
  await field.fill(secret);
  await page.getByRole("button", { name: "Save key" }).first().click();
  await page.getByText("key saved in a file only you can read").first().waitFor();
  assert.equal(await field.inputValue(), "", "the field is emptied once the key is sent");
  assert.equal(await field.getAttribute("type"), "password");
  assert.match(await field.getAttribute("placeholder"), /A key is set/);
  assert.ok(!(await page.content()).includes(secret), "the key appears nowhere in the page");
  assert.equal(await page.locator("#openai-url").inputValue(), url, "saving a key keeps unsaved edits");
  await page.locator('[data-provider="openai"]').getByRole("button", { name: "Test" }).click();
  await page.getByText("The API key was rejected").first().waitFor();
  await page.locator("#default-model").selectOption("__other");
  await page.getByLabel("Model name").fill("gpt4");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("alert").getByText("unknown provider").waitFor();
  await shot(page, "8-settings");
  await page.close();
});

test("settings: where runs go — this computer by default; a cluster's test and errors say what is wrong in words", async () => {
  const page = await open();
  await page.getByRole("button", { name: "Settings" }).click();
  const here = page.getByRole("radio", { name: "This computer", exact: true });
  const cluster = page.getByRole("radio", { name: /A Temporal cluster/ });
  assert.ok(await here.isChecked(), "runs go to this computer unless Settings say otherwise");
  assert.equal(await page.locator("#cluster-address").count(), 0, "no cluster fields until a cluster is chosen");
  await cluster.check();
  // A typo in the address: refused on its field's words, nothing saved.
  await page.locator("#cluster-address").fill("temporal.example.com:7243");
  await page.getByRole("button", { name: "Save where runs go" }).click();
  await page.getByRole("alert").getByText("is not an address like").waitFor();
  // Nothing listens there: the test says so, naming the address.
  await page.locator("#cluster-address").fill("http://127.0.0.1:9");
  await page.getByRole("button", { name: "Test connection" }).click();
  await page.getByText("✗ Nothing answers at http://127.0.0.1:9").waitFor();
  // The workers' token is write-only, like a key.
  const secret = "token-never-show-me-77";
  await page.locator("#cluster-token").fill(secret);
  await page.getByRole("button", { name: "Save where runs go" }).click();
  await page.getByText("Saved: new runs go to the cluster.").first().waitFor();
  assert.equal(await page.locator("#cluster-token").inputValue(), "");
  assert.match(await page.locator("#cluster-token").getAttribute("placeholder"), /A token is set/);
  assert.ok(!(await page.content()).includes(secret), "the token appears nowhere in the page");
  await shot(page, "8b-where-runs-go");
  // Back to this computer.
  await here.check();
  await page.getByRole("button", { name: "Save where runs go" }).click();
  await page.getByText("Saved: new runs run on this computer.").first().waitFor();
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("editor: the backend's validation messages appear on their fields", async () => {
  const page = await open();
  await page.getByRole("button", { name: "Workflows" }).click();
  await page.getByRole("button", { name: "New workflow" }).click();
  await page.getByRole("button", { name: "Add a step" }).click();
  await page.locator("#s1-model").selectOption("__other");
  await page.getByLabel("Model name").fill("gpt4");
  await page.getByRole("button", { name: "Save workflow" }).click();
  await page.getByText("the workflow needs a name").waitFor();
  assert.equal(await page.locator("#wf-name").getAttribute("aria-invalid"), "true");
  assert.match(await page.locator("#s0-ins-err").innerText(), /instructions are empty/);
  assert.match(await page.locator("#s1-model-err").innerText(), /unknown provider/);
  await shot(page, "9-editor-errors");
  await page.locator("#wf-name").fill("My two steps");
  await page.locator("#s0-ins").fill("Make a plan.");
  await page.locator("#s1-ins").fill("Carry it out.");
  await page.locator("#s1-model").selectOption("");
  await page.getByRole("button", { name: "Move step 2 up" }).click();
  assert.equal(await page.locator("#s0-ins").inputValue(), "Carry it out.", "steps reorder");
  await page.getByRole("button", { name: "Save workflow" }).click();
  await page.getByText('Saved "My two steps".').first().waitFor();
  assert.equal(await page.locator(".field-error").count(), 0);
  await page.getByRole("button", { name: "Runs", exact: true }).click();
  await page.locator(".card", { hasText: "My two steps" }).waitFor();
  await page.close();
});

test("several runs: each keeps its own view, and switching loses nothing", async () => {
  const page = await open();
  await run(page, "first topic");
  await item(page, 1).waitFor();
  await run(page, "second topic");
  await status(page, "Step 1 of 2").waitFor();
  const list = page.getByRole("navigation", { name: "Runs" });
  assert.equal(await list.getByRole("button").count(), 2);
  await list.getByRole("button", { name: /first topic/ }).click();
  await page.getByText("Input: first topic").waitFor();
  await cancelButton(page).click();
  await status(page, "Cancelled.").waitFor();
  const firstText = await streamText(page);
  await list.getByRole("button", { name: /second topic/ }).click();
  await page.getByText("Input: second topic").waitFor();
  assert.equal(await cancelButton(page).isEnabled(), true, "the other run is still going");
  await list.getByRole("button", { name: /first topic/ }).click();
  assert.equal(await streamText(page), firstText, "the cancelled run's text is as it was");
  assert.match(await list.getByRole("button", { name: /first topic/ }).innerText(), /Cancelled/);
  assert.match(await list.getByRole("button", { name: /second topic/ }).innerText(), /Running/);
  await page.close();
});

test("a reload mid-run rebuilds the view from the snapshot and later updates", async () => {
  const page = await open();
  await run(page, "survives a reload");
  // Sentences written before the reload, and one written after it (each whole: the next has begun).
  await item(page, 3).waitFor();
  const sentences = [await item(page, 1).innerText(), await item(page, 2).innerText()];
  await page.reload();
  await page.getByRole("navigation", { name: "Runs" }).getByRole("button", { name: /survives a reload/ }).click();
  await item(page, 6).waitFor();
  sentences.push(await item(page, 5).innerText());
  const text = await streamText(page);
  for (const [n, sentence] of sentences.entries()) {
    const hits = text.split(sentence).length - 1;
    assert.equal(hits, 1, `sentence ${n} appears exactly once after the reload`);
  }
  await cancelButton(page).click();
  await status(page, "Cancelled.").waitFor();
  await page.close();
});

test("readable at 200% zoom and in the dark theme", async () => {
  const page = await open();
  // 200% zoom of a 1200-pixel window leaves 600 CSS pixels.
  await page.setViewportSize({ width: 600, height: 800 });
  await run(page);
  await item(page, 1).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at 200% (${overflow}px too wide)`);
  assert.ok(await cancelButton(page).isVisible());
  await shot(page, "10-zoom-200");
  await page.emulateMedia({ colorScheme: "dark" });
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help}`), [], "dark theme");
  await shot(page, "11-dark");
  await page.close();
});

test("Cancel pressed before the start has answered still stops the run", async () => {
  // The start takes 800 ms to answer (the backend holds it); Cancel is there at once.
  const page = await open({ demo: STREAM, slow_commands: { start_run: 800 } });
  await run(page);
  // The start takes 800 ms to answer; Cancel is there at once and must not be lost.
  await cancelButton(page).click();
  await status(page, "Cancelled. The text written so far is kept.").waitFor({ timeout: 10_000 });
  const calls = await page.evaluate(() => window.__calls.map((c) => c.cmd));
  const start = calls.indexOf("start_run");
  assert.ok(start >= 0 && calls.lastIndexOf("cancel_run") > start, calls.join(", "));
  await settled(page);
  const text = await streamText(page);
  await settled(page);
  assert.equal(await streamText(page), text, "no text arrives after the cancel");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("Run again on a cancelled run starts a fresh run with the same input", async () => {
  const page = await open();
  await run(page, "honey bees");
  await item(page, 1).waitFor();
  await cancelButton(page).click();
  await status(page, "Cancelled. The text written so far is kept.").waitFor();
  await page.getByRole("button", { name: "Run again" }).click();
  await page.getByRole("button", { name: /Step 1: Research, Running/ }).waitFor();
  const starts = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "start_run").map((c) => c.args));
  assert.equal(starts.length, 2);
  assert.equal(starts[1].input, "honey bees");
  assert.notEqual(starts[1].runId, starts[0].runId, "a new run, not the old one again");
  await cancelButton(page).click();
  await page.close();
});

test("a history that stopped saving says so in the window", async () => {
  // Another connection holds the history's write lock while a run is saved: the save fails.
  const page = await open({ demo: QUICK, history_locked: true, history: [{ workflow: "research-and-write", input: "tidal energy" }] });
  await page.getByRole("alert").filter({ hasText: "not being saved to the history" }).waitFor();
  await shot(page, "history-not-saving");
  await page.close();
});

test("the frame stays put: header, tabs and Cancel never scroll away, even with dozens of workflows", async () => {
  // Dozens of the user's own workflows, saved before the page opens.
  const mine = Array.from({ length: 30 }, (_, i) => ({
    name: `My workflow ${i + 1}`, description: `Saved workflow number ${i + 1}`,
    steps: [{ name: "Draft", instructions: "Draft.", model: "demo" }, { name: "Polish", instructions: "Polish.", model: "demo" }],
  }));
  const page = await open({ demo: STREAM, workflows: mine });
  await page.setViewportSize({ width: 1100, height: 760 });
  await run(page);
  await item(page, 1).waitFor();
  await run(page, "a second run");
  await page.getByText("Input: a second run").waitFor();
  await item(page, 1).waitFor();
  const header = await page.getByRole("navigation", { name: "Sections" }).boundingBox();
  const cancel = await cancelButton(page).boundingBox();
  // Scroll everything that scrolls: the workflow pane, the run, the page itself.
  await page.getByText("My workflow 30").scrollIntoViewIfNeeded();
  await page.mouse.move(700, 600);
  await page.mouse.wheel(0, 3000);
  await page.evaluate(() => window.scrollTo(0, 10_000));
  await item(page, 4).waitFor();
  assert.equal(await page.evaluate(() => document.scrollingElement.scrollTop), 0, "the page itself does not scroll");
  assert.deepEqual(await page.getByRole("navigation", { name: "Sections" }).boundingBox(), header, "the tabs stay");
  assert.deepEqual(await cancelButton(page).boundingBox(), cancel, "Cancel stays");
  const inView = (b) => b && b.y >= 0 && b.y + b.height <= 760;
  assert.ok(inView(cancel) && inView(header));
  await shot(page, "frame-many-workflows");
  // Finding one of 36 workflows (the six templates and thirty of the user's).
  await page.getByLabel("Find a workflow").fill("workflow 17");
  const names = await page.locator(".card-name").allInnerTexts();
  assert.deepEqual(names, ["Research and write", "My workflow 17"], "the chosen one stays, and the match");
  await cancelButton(page).click();
  await page.close();
});

const branchText = (page, name) => page.locator(".branch-text", { has: page.getByRole("heading", { name }) })
  .getByRole("region").innerText();

test("the tree: parallel branches stream side by side, and one Cancel stops them all", async () => {
  const page = await open();
  await choose(page, "Three angles");
  await run(page);
  await page.getByRole("group", { name: "Angles: the branches side by side" }).waitFor();
  for (const name of ["Economics", "Environment", "Society"]) {
    await page.getByRole("button", { name: new RegExp(`Angles, branch \\d: ${name}, Running`) }).waitFor();
  }
  // All three write at the same time: each has written two of its facts.
  await page.waitForFunction(() => [...document.querySelectorAll(".branch-text .stream")]
    .filter((el) => el.querySelectorAll("li").length >= 2).length === 3);
  await shot(page, "12-parallel-streaming");
  const before = await cancelButton(page).boundingBox();
  await cancelButton(page).click();
  await status(page, "Cancelled. The text written so far is kept.").waitFor();
  const kept = await Promise.all(["Economics", "Environment", "Society"].map((n) => branchText(page, n)));
  for (const text of kept) assert.ok(text.split("\n").filter((l) => l.trim()).length >= 3, "each branch keeps its text");
  for (const name of ["Economics", "Environment", "Society"]) {
    assert.match(await page.getByRole("button", { name: new RegExp(`: ${name},`) }).innerText(), /Cancelled/);
  }
  assert.match(await page.getByRole("button", { name: /Step 2: Summary/ }).innerText(), /Skipped/);
  await settled(page);
  const later = await Promise.all(["Economics", "Environment", "Society"].map((n) => branchText(page, n)));
  assert.deepEqual(later, kept, "no branch writes after the cancel");
  assert.deepEqual(await cancelButton(page).boundingBox(), before);
  const cancel = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "cancel_run").length);
  assert.equal(cancel, 1, "one Cancel for every branch");
  await shot(page, "13-parallel-cancelled");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("the tree: a loop's rounds are one click away, and a router says what it chose", async () => {
  const page = await open({ demo: QUICK });
  await choose(page, "Draft and review");
  await run(page);
  await status(page, "Completed.").waitFor({ timeout: 20_000 });
  await page.getByText("Review and revise — round 2 of at most 4").waitFor();
  const rounds = page.getByRole("group", { name: "Rounds of Review and revise" });
  await rounds.getByRole("button", { name: "Round 1" }).click();
  await page.getByRole("button", { name: /Review and revise, round 1, step 2: Revise, Done in/ }).waitFor();
  assert.equal(await rounds.getByRole("button", { name: "Round 1" }).getAttribute("aria-pressed"), "true");
  await rounds.getByRole("button", { name: "Round 2" }).click();
  await page.getByRole("button", { name: /Review and revise, round 2, step 1: Critique/ }).click();
  assert.match(await streamText(page), /APPROVED/, "the critique's text is shown");
  await shot(page, "14-loop-rounds");

  await choose(page, "Answer a message");
  await run(page, "my invoice is wrong");
  await status(page, "Completed.").waitFor({ timeout: 20_000 });
  await page.getByText("Chose Billing: The request is about my invoice is wrong").waitFor();
  assert.match(await page.locator(".branch", { hasText: "Route: Technical" }).innerText(), /not taken/);
  assert.match(await page.getByRole("button", { name: /Technical reply/ }).innerText(), /Not taken/);
  await shot(page, "15-router");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("editor: every kind is built with forms, with the backend's errors on the right field", async () => {
  const page = await open();
  await page.getByRole("button", { name: "Workflows" }).click();
  await page.getByRole("button", { name: "New workflow" }).click();
  await page.locator("#wf-name").fill("Polish it");
  await page.locator("#s0-name").fill("Draft");
  await page.locator("#s0-ins").fill("Write a draft.");
  await page.getByRole("button", { name: "Add a step" }).click();
  await page.locator("#s1-name").fill("Rounds");
  await page.locator("#s1-kind").selectOption("loop");
  // A loop comes with a first step inside it and a round limit.
  assert.equal(await page.locator("#s1-max").inputValue(), "3");
  await page.locator("#s1-until").fill('output "APPROVED"');
  await page.locator("#s1-c0-ins").fill("Critique the draft.");
  await page.getByRole("button", { name: "Add a step to “Rounds”" }).click();
  await page.locator("#s1-c1-name").fill("Check");
  await page.locator("#s1-c1-kind").selectOption("condition");
  await page.getByRole("button", { name: "Save workflow" }).click();
  await page.getByText("Not saved").first().waitFor();
  assert.match(await page.locator("#s1-until-err").innerText(), /contains/);
  assert.match(await page.locator("#s1-c1-if-err").innerText(), /needs an `if` test/);
  assert.match(await page.locator("#s1-c1-t0-ins-err").innerText(), /instructions are empty/);
  await shot(page, "16-editor-tree-errors");
  await page.locator("#s1-until").fill('output contains "APPROVED"');
  await page.locator("#s1-c1-if").fill('output contains "?"');
  await page.locator("#s1-c1-t0-ins").fill("Answer the question.");
  // Put the first step inside a new group, then take it out again.
  await page.getByLabel("Put step 1 inside").selectOption("group");
  assert.equal(await page.locator("#s0-kind").inputValue(), "group");
  assert.equal(await page.locator("#s0-c0-ins").inputValue(), "Write a draft.");
  await page.getByRole("button", { name: "Take the steps out of step 1" }).click();
  assert.equal(await page.locator("#s0-ins").inputValue(), "Write a draft.");
  await page.getByRole("button", { name: "Save workflow" }).click();
  await page.getByText('Saved "Polish it".').first().waitFor();
  const saved = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "save_workflow").at(-1).args.workflow);
  assert.deepEqual(saved.steps.map((s) => s.kind ?? "agent"), ["agent", "loop"]);
  assert.equal(saved.steps[1].until, 'output contains "APPROVED"');
  assert.equal(saved.steps[1].steps[1].kind, "condition");
  assert.equal(saved.steps[1].steps[1].then[0].instructions, "Answer the question.");
  assert.equal(saved.steps[1].instructions, undefined, "a loop carries no instructions");
  assert.deepEqual(page.problems, []);
  await page.close();
});

const toolCall = (page) => page.locator(".tool-call");

test("a tool call shows where it happened, with its time, and opens to its arguments and result", async () => {
  const page = await open();
  await run(page);
  await toolCall(page).getByText("Searching the web for “tidal energy”").waitFor();
  await toolCall(page).locator(".state", { hasText: /^5 results \(demo search\), \d+(\.\d)? s$/ }).waitFor();
  await item(page, 3).waitFor();
  const fact = await item(page, 1).innerText();
  // Where it happened: after the lead line, before the facts.
  const order = await page.getByRole("region", { name: /Text of step/ }).evaluate((box, fact) => {
    const text = box.innerText;
    return [text.indexOf("Let me look up tidal energy first."), text.indexOf("Searching the web"), text.indexOf(fact)];
  }, fact);
  assert.ok(order[0] >= 0 && order[0] < order[1] && order[1] < order[2], `in order: ${order}`);
  await toolCall(page).locator("summary").click();
  await toolCall(page).getByRole("heading", { name: "Arguments" }).waitFor();
  assert.match(await toolCall(page).locator("pre").first().innerText(), /"query": "tidal energy"/);
  assert.match(await toolCall(page).innerText(), /Demo search — sample results/);
  await shot(page, "tool-call-open");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("Cancel during a tool call says “Stopping the tool…” until it has stopped, then Cancelled", async () => {
  // The demo model reads the page named in the input; the test server sends its headers, then
  // nothing, so the call runs until it is stopped.
  const page = await open({
    demo: STREAM,
    servers: { web: { pages: { "/slow": { status: 200, content_type: "text/html", stall: true } } } },
    settings: "[tools]\nallow_private_network = true\n",
    workflows: [{ name: "Read a page", description: "Reads the page it is given",
      steps: [{ name: "Read", instructions: "Research the topic and list the key facts.", model: "demo", tools: ["fetch_page"] }] }],
  });
  await choose(page, "Read a page");
  await run(page, `what ${page.app.servers.web}/slow says`);
  const state = toolCall(page).locator(".state");
  await state.filter({ hasText: /^0:0[1-9]$/ }).waitFor(); // its time runs while it works
  // The words show from the click until the run's end, which the real engine sends at once: they
  // are watched for as they appear.
  await page.evaluate(() => {
    window.__states = [];
    new MutationObserver(() => {
      for (const el of document.querySelectorAll(".tool-call .state")) window.__states.push(el.textContent);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await cancelButton(page).click();
  await page.waitForFunction(() => window.__states.includes("Stopping the tool…"));
  await shot(page, "tool-call-stopping");
  await status(page, "Cancelled. The text written so far is kept.").waitFor();
  assert.equal(await state.innerText(), "Cancelled");
  assert.match(await streamText(page), /Let me look up .* and read the page you gave first\./);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("settings: an MCP server is added, its tools listed with their descriptions, a broken one says why", async () => {
  assert.ok(fs.existsSync(EVERYTHING), `${EVERYTHING} is missing: run \`npm ci\` in tests/mcp (scripts/test.sh does)`);
  const page = await open();
  await page.getByRole("button", { name: "Settings" }).click();
  await page.getByRole("button", { name: "Add an MCP server" }).click();
  await page.getByLabel("Name (steps use it: NAME or NAME.TOOL)").fill("everything");
  await page.getByLabel("Command that starts it on this computer").fill("node");
  await page.getByLabel("Its arguments, one a line").fill(`--no-warnings\n${EVERYTHING}`);
  await page.getByRole("button", { name: "Save tool settings" }).click();
  await page.getByText("Tool settings saved.").first().waitFor();
  const saved = await page.evaluate(() => window.__calls.find((c) => c.cmd === "save_tools_settings").args.update);
  assert.deepEqual(saved.servers[0].args, ["--no-warnings", EVERYTHING]);
  await page.getByRole("button", { name: "Show its tools" }).click();
  const list = page.getByRole("list", { name: "Tools of everything" });
  await list.getByText("Echo Tool").waitFor();
  assert.match(await list.innerText(), /everything\.echo reads only\s+Echoes back the input string/);
  await page.getByText("What it wrote to its error output").click();
  await page.getByText("Starting default (STDIO) server...").waitFor();
  await shot(page, "settings-mcp");

  // A server whose program is not there: it ends at once.
  await page.getByLabel("Name (steps use it: NAME or NAME.TOOL)").fill("broken");
  await page.getByLabel("Its arguments, one a line").fill(path.join(REPO, "tests/mcp/no-such-server.mjs"));
  await page.getByRole("button", { name: "Save tool settings" }).click();
  await page.getByText("Tool settings saved.").first().waitFor();
  await page.getByRole("button", { name: "Show its tools" }).click();
  await page.getByRole("alert").filter({ hasText: "did not start" }).waitFor();
  await page.getByLabel("Name (steps use it: NAME or NAME.TOOL)").fill("not ok!");
  await page.getByRole("button", { name: "Save tool settings" }).click();
  await page.getByRole("alert").filter({ hasText: "cannot name an MCP server" }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("settings: a saved MCP variable shows as set, never its value; Show its tools can be cancelled", async () => {
  const page = await open();
  await page.getByRole("button", { name: "Settings" }).click();
  await page.getByRole("button", { name: "Add an MCP server" }).click();
  await page.getByLabel("Name (steps use it: NAME or NAME.TOOL)").fill("slow");
  await page.getByLabel("Command that starts it on this computer").fill("node");
  await page.getByLabel(/^Environment it gets/).fill("TOKEN=s3cret");
  await page.getByRole("button", { name: "Save tool settings" }).click();
  await page.getByText("Tool settings saved.").first().waitFor();
  const vars = page.getByRole("list", { name: "Variables of slow" });
  assert.match(await vars.innerText(), /TOKEN\s+set/);
  assert.equal(await page.getByLabel(/^More variables/).inputValue(), "");
  assert.doesNotMatch(await page.content(), /s3cret/);
  // Saved again untouched: the value is kept (sent as "set", with no value).
  await page.getByRole("button", { name: "Save tool settings" }).click();
  const calls = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "save_tools_settings").map((c) => c.args.update));
  assert.deepEqual(calls[1].servers[0].env, [{ name: "TOKEN", value: "", set: true }]);
  await page.getByRole("button", { name: "Replace TOKEN" }).click();
  await page.getByLabel("New value of TOKEN").fill("other");

  await page.getByRole("button", { name: "Show its tools" }).click();
  await page.getByRole("status").filter({ hasText: "Starting slow…" }).waitFor();
  await page.getByRole("button", { name: "Cancel starting slow" }).click();
  await page.getByRole("status").filter({ hasText: "Stopped." }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.close();
});

/** Settings that make the web search ask first. */
const APPROVE = { demo: STREAM, settings: '[tools]\nask = ["web_search"]\n' };

test("a tool that asks first: “Waiting for you” with Allow / Allow always / Deny; a denial reaches the line; Cancel still works", async () => {
  const page = await open(APPROVE);
  await run(page);
  const panel = page.getByRole("group", { name: /Waiting for you: Searching the web/ });
  await panel.waitFor();
  await status(page, "Waiting for you to allow: Searching the web for “tidal energy”").waitFor();
  assert.match(await toolCall(page).locator(".state").innerText(), /Waiting for you/);
  await shot(page, "tool-approval");
  await panel.getByRole("button", { name: "Deny" }).click();
  await toolCall(page).locator(".state", { hasText: "did not work: the person did not allow this call" }).waitFor();
  assert.equal(await panel.count(), 0, "the question is gone once answered");
  const answered = await page.evaluate(() => window.__calls.find((c) => c.cmd === "answer_tool_call").args);
  assert.deepEqual([answered.path, answered.callId, answered.answer], ["research", "demo_call_1", "deny"]);
  await item(page, 3).waitFor();
  await page.close();

  // Cancel while it waits: the run stops at once and the call says so.
  const again = await open(APPROVE);
  await run(again);
  await again.getByRole("group", { name: /Waiting for you/ }).waitFor();
  await cancelButton(again).click();
  await status(again, "Cancelled. The text written so far is kept.").waitFor();
  assert.equal(await toolCall(again).locator(".state").innerText(), "Cancelled");
  assert.equal(await again.getByRole("group", { name: /Waiting for you/ }).count(), 0);
  assert.deepEqual(again.problems, []);
  await again.close();
});

/** A workflow whose first step waits for the person's review. */
const REVIEW = {
  demo: QUICK,
  workflows: [{
    name: "Check a draft", description: "Write a draft, let me check it, then write the email",
    steps: [
      { name: "Draft", instructions: "Write a draft.", model: "demo", review: true },
      { name: "Email", instructions: "Write an email.", model: "demo" },
    ],
  }],
};

test("a review: the run waits for me; send back with a note, edit, approve; Cancel still works", async () => {
  const page = await open(REVIEW);
  await page.getByText("Check a draft").first().click();
  await run(page);
  const panel = page.getByRole("group", { name: "Waiting for you: review “Draft”" });
  await panel.waitFor();
  await status(page, "Waiting for you: review “Draft”").waitFor();
  assert.equal(await page.locator(".run-status[data-status=waiting]").count(), 1, "the run list says it waits");
  await shot(page, "review-waiting");
  // An empty note is refused with what to do.
  await panel.getByRole("button", { name: "Send back" }).click();
  await panel.getByRole("button", { name: "Send back" }).click();
  await panel.getByRole("alert").filter({ hasText: "Say what the step should change." }).waitFor();
  await panel.getByLabel("What should the step change?").fill("Mention the costs");
  await panel.getByRole("button", { name: "Send back" }).click();
  await page.getByText("Revised as you asked (“Mention the costs”)").first().waitFor();
  await panel.getByText("Round 2").waitFor();
  // Edit, then approve: the next step goes on.
  await panel.getByRole("button", { name: "Edit" }).click();
  await panel.getByLabel("The text the next steps get").fill("My own draft about the topic.");
  await panel.getByRole("button", { name: "Approve the edited text" }).click();
  await status(page, "Completed.").waitFor();
  assert.equal(await panel.count(), 0, "the panel is gone once answered");
  const answers = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "answer_review").map((c) => c.args.answer));
  assert.deepEqual(answers.map((a) => a.action), ["send_back", "send_back", "edit"]);
  assert.equal(answers[2].text, "My own draft about the topic.");
  await page.getByRole("button", { name: /Draft/ }).first().click();
  assert.match(await streamText(page), /My own draft about the topic\./);
  assert.deepEqual(page.problems, []);
  await page.close();

  // Cancel while it waits: the run stops at once, the draft is kept.
  const again = await open(REVIEW);
  await again.getByText("Check a draft").first().click();
  await run(again);
  await again.getByRole("group", { name: /Waiting for you: review/ }).waitFor();
  await cancelButton(again).click();
  await status(again, "Cancelled. The text written so far is kept.").waitFor();
  assert.equal(await again.getByRole("group", { name: /Waiting for you/ }).count(), 0);
  assert.ok((await streamText(again)).length > 20, "the draft is kept");
  await again.close();
});

test("continue a stopped run: from a step in the run view, from History, and after fixing Settings", async () => {
  // Cancelled during the second step: continue from it; the first step is reused, not run again.
  const page = await open({ demo: { first_token_ms: 0, per_word_ms: 30 } });
  await run(page);
  await page.locator(".stepper li[data-status=running]", { hasText: "Write" }).waitFor();
  await cancelButton(page).click();
  await status(page, "Cancelled").waitFor();
  await page.getByRole("button", { name: /Write/ }).first().click();
  await page.getByRole("button", { name: "Continue from here: “Write”" }).click();
  await page.getByText("Continues an earlier run from “Write”").waitFor();
  await page.locator(".stepper li", { hasText: "Research" }).getByText("Reused").waitFor();
  await status(page, "Completed.").waitFor();
  const resumed = await page.evaluate(() => window.__calls.find((c) => c.cmd === "resume_run").args);
  assert.deepEqual([resumed.from, resumed.useToday], ["write", false]);
  await shot(page, "continued-run");
  await page.getByRole("button", { name: "Open the earlier run" }).click();
  await page.getByText("This run was continued in a later run.").waitFor();

  // History offers it for a run that stopped.
  await page.getByRole("button", { name: "History" }).click();
  await page.getByRole("button", { name: /Continue “Research and write” from where it stopped/ }).first().waitFor();
  await page.close();

  // A rejected key: fix it in Settings, then continue from there.
  // The model server refuses the first request (401), then answers.
  const failed = await open(onModel({ queue: [status_(401)], fallback: { numbered: 20, token_interval_ms: 5 } }));
  await choose(failed, "Ask the model");
  await run(failed);
  await failed.getByRole("button", { name: "Fix in Settings, then continue" }).click();
  const banner = failed.getByRole("group", { name: "Continue the run" });
  await banner.waitFor();
  await shot(failed, "fix-then-continue");
  await banner.getByRole("button", { name: "Continue the run" }).click();
  await failed.getByText("Continues an earlier run").waitFor();
  await status(failed, "Completed.").waitFor();
  assert.deepEqual(failed.problems, []);
  await failed.close();
});

// Ollama is a model server here with two models; Anthropic's server rejects the saved key; the
// other servers of this computer do not run; OpenAI has no key (no request is made).
const PROVIDERS = {
  servers: { ollama: { models: { ids: ["llama3.2", "qwen2.5"] } }, anthropic: { models: { ids: [], status: 401 } } },
  settings: '[anthropic]\nbase_url = "{{anthropic}}"\n[ollama]\nbase_url = "{{ollama}}/v1"\n'
    + '[lmstudio]\nbase_url = "{{closed}}/v1"\n[llamacpp]\nbase_url = "{{closed}}/v1"\n[vllm]\nbase_url = "{{closed}}/v1"\n',
  keys: { anthropic: "sk-ant-test" },
};
const NO_SERVERS = {
  settings: '[ollama]\nbase_url = "{{closed}}/v1"\n[lmstudio]\nbase_url = "{{closed}}/v1"\n'
    + '[llamacpp]\nbase_url = "{{closed}}/v1"\n[vllm]\nbase_url = "{{closed}}/v1"\n',
};

test("the model picker lists each provider's models, says which servers run here, and still takes a typed name", async () => {
  const page = await open(PROVIDERS);
  await page.getByRole("button", { name: "Settings" }).click();
  // Each provider is a card that says its state in words.
  const card = (id) => page.locator(`[data-provider="${id}"] .card-state`);
  await card("ollama").getByText("Running on this computer — 2 models").waitFor();
  assert.equal(await card("openai").innerText(), "Needs a key");
  assert.equal(await card("anthropic").innerText(), "Key rejected");
  assert.equal(await card("lmstudio").innerText(), "Not running on this computer");
  assert.equal(await page.locator("#openai-url").count(), 0, "a card opens for editing only when asked");
  const picker = page.locator("#default-model");
  const options = await picker.locator("option").allInnerTexts();
  assert.deepEqual(options.slice(0, 3), ["Demo model (offline, free)", "llama3.2", "qwen2.5"]);
  await page.getByText("Running on this computer: Ollama. Not running: LM Studio, llama.cpp, vLLM.").first().waitFor();
  // A provider's card picks its model to test with from that provider's own list.
  await page.locator('[data-provider="ollama"]').getByRole("button", { name: "Edit" }).click();
  assert.deepEqual(await page.locator("#ollama-model option").allInnerTexts(),
    ["The usual (llama3.2)", "llama3.2", "qwen2.5", "Another model (type its name)…"]);
  await page.locator("#ollama-model").selectOption("qwen2.5");
  await picker.selectOption("ollama:qwen2.5");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByText("Settings saved.").first().waitFor();
  const saved = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "save_settings").pop().args.update);
  assert.equal(saved.default_model, "ollama:qwen2.5");
  assert.equal(saved.providers.find((p) => p.kind === "ollama").default_model, "qwen2.5");
  await shot(page, "20-settings-cards");

  // In the editor too: picked from the list, or typed.
  await page.getByRole("button", { name: "Workflows" }).click();
  await page.getByRole("button", { name: "New workflow" }).click();
  await page.locator("#s0-model").selectOption("ollama:llama3.2");
  await page.locator("#s0-model").selectOption("__other");
  await page.getByLabel("Model name").fill("openai:my-finetune");
  assert.equal(await page.getByLabel("Model name").inputValue(), "openai:my-finetune");
  await shot(page, "21-editor-picker");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("finding no model server is a friendly state, not an error", async () => {
  const page = await open(NO_SERVERS);
  await page.getByRole("button", { name: "Settings" }).click();
  await page.getByText("No model server is running on this computer (Ollama, LM Studio, llama.cpp, vLLM). The demo model always works.").first().waitFor();
  assert.deepEqual(await page.locator("#default-model option").allInnerTexts(), ["Demo model (offline, free)", "Another model (type its name)…"]);
  assert.equal(await page.getByRole("alert").count(), 0);
  await page.close();
});

// Ollama is the model server, at an address Stepwise does not count as this computer's (a
// server of this computer costs nothing, whatever its price). Its answers: 400 tokens with
// their usage; the second run's come slowly, to be stopped.
const IN = "48";
const PAID = "$0.85";
const COST = {
  demo: STREAM,
  servers: { model: { models: { ids: ["llama3.2"] }, default: { numbered: 400 },
    queue: [{ numbered: 400 }, { numbered: 400, token_interval_ms: 20 }] } },
  settings: '[ollama]\nbase_url = "{{remote:model}}/v1"\n',
};

test("tokens and cost: per step and per run, ≈ on a stopped run, History's totals, and a changed price changes the cost", async () => {
  const page = await open(COST);
  // A price for a model picked from the list, in a workflow of one step on it.
  await page.getByRole("button", { name: "Settings" }).click();
  await page.getByLabel("Model to price").fill("ollama:llama3.2");
  await page.getByLabel("New model's input price").fill("1000");
  await page.getByLabel("New model's output price").fill("2000");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByText("Price of ollama:llama3.2 saved").first().waitFor();
  await page.getByRole("button", { name: "Workflows" }).click();
  await page.getByRole("button", { name: "New workflow" }).click();
  await page.locator("#wf-name").fill("Priced");
  await page.locator("#s0-ins").fill("Write about it.");
  await page.locator("#s0-model").selectOption("ollama:llama3.2");
  await page.getByRole("button", { name: "Save workflow" }).click();
  await page.getByText('Saved "Priced".').first().waitFor();
  await page.getByRole("button", { name: "Runs", exact: true }).click();
  await page.locator(".card", { hasText: "Priced" }).click();
  await run(page);
  // 48 tokens in (the server counts a quarter of the request's bytes), 400 out, at $1,000 /
  // $2,000 per million.
  const usage = page.locator(".step-node .step-usage").first();
  await usage.waitFor({ timeout: 30_000 });
  assert.equal(await usage.innerText(), `${IN} in · 400 out · ${PAID}`);
  assert.equal(await page.locator(".run-usage").innerText(), `This run: ${IN} in · 400 out · ${PAID}`);

  // Stopped mid-step: the counts are estimates, marked ≈.
  await run(page, "honey bees");
  await page.getByText("tok5").first().waitFor();
  await cancelButton(page).click();
  await status(page, "Cancelled. The text written so far is kept.").waitFor();
  const stopped = page.locator(".step-node .step-usage").first();
  assert.match(await stopped.innerText(), /^≈ [\d,]+ in · \d+ out · \$0\.\d+$/);
  assert.equal(await stopped.locator(".usage").getAttribute("data-estimated"), "true");
  await shot(page, "22-cost-cancelled");

  // A changed price changes the cost of the runs after it.
  await page.getByRole("button", { name: "Settings" }).click();
  const row = page.locator('tr[data-model="ollama:llama3.2"]');
  await row.getByLabel("ollama:llama3.2 input price").fill("0");
  await row.getByLabel("ollama:llama3.2 output price").fill("0");
  await row.getByRole("button", { name: "Save" }).click();
  await page.getByText("Price of ollama:llama3.2 saved").first().waitFor();
  await page.getByRole("button", { name: "Runs", exact: true }).click();
  await run(page, "tidal energy");
  await page.locator(".run-usage", { hasText: `This run: ${IN} in · 400 out · free` }).waitFor({ timeout: 30_000 });

  // The three runs, added up: the stopped one's counts are estimates, so the totals are too.
  await page.getByRole("button", { name: "History" }).click();
  await page.locator('.spending [data-period="Today"]', { hasText: /≈ [\d,]+ in · [\d,]+ out/ }).waitFor();
  assert.match(await page.locator('.spending [data-period="This month"]').innerText(), /\$0\.\d+/);
  // Each run in the list says what it cost.
  assert.match(await page.locator(".history-list li").last().innerText(), new RegExp(`${IN} in · 400 out · \\${PAID}`));
  await shot(page, "23-history-totals");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("About says which version this is", async () => {
  const page = await open();
  await page.getByRole("button", { name: "About" }).click();
  await page.getByRole("dialog", { name: "About Stepwise" }).getByText("Version 0.1.0").waitFor();
  await page.getByRole("button", { name: "Close" }).click();
  assert.equal(await page.getByRole("dialog").count(), 0);
  await page.close();
});
