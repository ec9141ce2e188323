// End to end: the real Stepwise window under Xvfb, through WebKitWebDriver.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { APP, ARTIFACTS, ROOT, appEnv, click, freshRoot, launch, shot, statusText, waitFor } from "./support.mjs";

const streamText = async (browser) => {
  const r = await browser.$(".stream");
  return (await r.isExisting()) ? r.getText() : "";
};

test("first launch → run a template on the demo model → Cancel → kept in history", async () => {
  const app = await launch(freshRoot("cancel"));
  const { browser } = app;
  try {
    await shot(browser, "1-first-launch");
    await click(browser, "Run");
    await waitFor(async () => /Running \d:\d\d/.test(await (await browser.$(".stepper")).getText()), "step 1 running with its time");
    await waitFor(async () => (await streamText(browser)).length > 40, "text streaming in");
    await shot(browser, "2-streaming");
    await click(browser, "Cancel");
    await waitFor(async () => (await statusText(browser)).startsWith("Cancelled"), "Cancelled");
    const kept = await streamText(browser);
    assert.ok(kept.length > 40, "the partial text is kept");
    await browser.pause(500);
    assert.equal(await streamText(browser), kept, "no more text arrives");
    assert.equal(await (await browser.$("button.cancel")).isEnabled(), false, "Cancel is disabled");
    await shot(browser, "3-cancelled");
    await click(browser, "History");
    const row = await browser.$(".history-list li");
    await row.waitForExist({ timeout: 10_000 });
    assert.match(await row.getProperty("textContent"), /Research and write[\s\S]*tidal energy[\s\S]*Cancelled/);
    await click(browser, "Open");
    await waitFor(async () => (await streamText(browser)) === kept, "the saved text, as shown");
    await shot(browser, "4-history");
  } finally {
    await app.close();
  }
});

/** Picks a workflow card by its visible name. */
async function choose(browser, name) {
  const card = await browser.$(`//label[contains(@class,"card")][.//span[normalize-space()="${name}"]]`);
  await card.waitForClickable({ timeout: 10_000 });
  await card.click();
}

async function setInput(browser, text) {
  const box = await browser.$("#input");
  await box.clearValue();
  await box.setValue(text);
}

test("a run completes; its result can be copied and it opens from history", async () => {
  const app = await launch(freshRoot("complete"), { STEPWISE_DEMO_WORD_MS: "2" });
  const { browser } = app;
  try {
    await click(browser, "Run");
    await waitFor(async () => (await statusText(browser)) === "Completed.", "Completed", 60_000);
    const result = await streamText(browser);
    await click(browser, "Copy the result");
    await (await browser.$('//button[normalize-space()="Copied"]')).waitForExist({ timeout: 5_000 });
    await shot(browser, "5-completed");
    await click(browser, "History");
    await click(browser, "Open");
    await waitFor(async () => (await statusText(browser)) === "Completed.", "the run from history");
    assert.equal(await streamText(browser), result);
  } finally {
    await app.close();
  }
});

/** The test SSE server as its own process. */
async function startServer() {
  // Built by `cargo test` with the rest of the workspace (a debug build paces tokens as well).
  const bin = path.join(ROOT, "target/debug/stepwise-test-server");
  const proc = spawn(bin, ["0"], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    proc.stdout.on("data", (d) => {
      const m = /listening on (http:\/\/\S+)/.exec(String(d));
      if (m) resolve(m[1]);
    });
    proc.once("exit", () => reject(new Error("the test server exited")));
  });
  const control = async (method, p, body) => {
    const r = await fetch(`${url}/_control/${p}`, { method, body: body ? JSON.stringify(body) : undefined });
    return r.json();
  };
  return { url, control, stop: () => proc.kill() };
}

const behavior = (over = {}) => ({ tokens: [], numbered: 5000, first_token_delay_ms: 20, token_interval_ms: 20, usage: true, fault: { kind: "none" }, ...over });

test("against the test SSE server: streams, Cancel closes the connection, faults are explained", async () => {
  const server = await startServer();
  const root = freshRoot("sse");
  const dir = path.join(root, "data/org.stepwise.desktop/workflows");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "ask-the-server.toml"),
    'name = "Ask the server"\ndescription = "One step on the local test server"\n\n[[steps]]\nname = "Answer"\ninstructions = "Answer."\nmodel = "openai:test-model"\n');
  const app = await launch(root);
  const { browser } = app;
  try {
    await server.control("PUT", "default", behavior({ numbered: 3 }));
    // Point Settings at the server, as a person would.
    await click(browser, "Settings");
    await (await browser.$('//article[@data-provider="openai"]//button[normalize-space()="Edit"]')).click();
    await (await browser.$("#openai-url")).setValue(`${server.url}/v1`);
    await (await browser.$("#openai-model")).selectByAttribute("value", "__other");
    await (await browser.$("#openai-model-typed")).setValue("test-model");
    await (await browser.$("#openai-key")).setValue("sk-e2e-secret");
    await click(browser, "Save key");
    await (await browser.$('//*[contains(text(),"key saved")]')).waitForExist({ timeout: 10_000 });
    await click(browser, "Save settings");
    await (await browser.$('//*[contains(text(),"Settings saved")]')).waitForExist({ timeout: 10_000 });
    assert.ok(!(await browser.getPageSource()).includes("sk-e2e-secret"), "the key is not in the page");
    await (await browser.$('//article[@data-provider="openai"]//button[normalize-space()="Test"]')).click();
    await waitFor(async () => /Connected: test-model answered/.test(await (await browser.$(".result")).getText()), "the connection test");
    assert.equal((await server.control("GET", "requests"))[0].headers.find(([k]) => k === "authorization")?.[1], "Bearer sk-e2e-secret");
    await shot(browser, "6-settings-server");
    await server.control("POST", "reset");
    await server.control("PUT", "default", behavior());
    await click(browser, "Runs");
    await choose(browser, "Ask the server");
    await click(browser, "Run");
    await waitFor(async () => /tok20 /.test(await streamText(browser)), "text from the server");
    await click(browser, "Cancel");
    await waitFor(async () => (await statusText(browser)).startsWith("Cancelled"), "Cancelled");
    await waitFor(async () => (await server.control("GET", "requests")).at(-1)?.disconnected === true, "the server to see the close", 5_000);
    const [req] = await server.control("GET", "requests");
    assert.ok(req.chunks_sent < 1000, `not drained: ${req.chunks_sent} chunks`);
    await shot(browser, "7-sse-cancelled");

    const faults = [
      [{ kind: "status", code: 401, message: "bad key", retry_after_secs: null }, /API key was not accepted/],
      [{ kind: "status", code: 429, message: "slow down", retry_after_secs: 90 }, /limiting requests/],
      [{ kind: "drop_after", tokens: 5 }, /connection failed/],
    ];
    for (const [fault, words] of faults) {
      await server.control("PUT", "default", behavior({ numbered: 50, fault }));
      await click(browser, "Run");
      const alert = await browser.$('[role="alert"]');
      await alert.waitForExist({ timeout: 20_000 });
      assert.match(await alert.getText(), words, JSON.stringify(fault));
      if (fault.code === 401) await shot(browser, "8-sse-401");
    }
  } finally {
    await app.close();
    server.stop();
  }
});

test("a model picked from the list: the local server is found, its models listed, and the run uses the one picked", async () => {
  const server = await startServer();
  const root = freshRoot("picker");
  const data = path.join(root, "data/org.stepwise.desktop/workflows");
  const config = path.join(root, "config/stepwise");
  fs.mkdirSync(data, { recursive: true });
  fs.mkdirSync(config, { recursive: true });
  fs.writeFileSync(path.join(data, "default-model.toml"),
    'name = "On the default model"\ndescription = "One step that names no model"\n\n[[steps]]\nname = "Answer"\ninstructions = "Answer."\n');
  // LM Studio "runs" on this computer: the test server stands at its address.
  fs.writeFileSync(path.join(config, "settings.toml"), `[lmstudio]\nbase_url = "${server.url}/v1"\n`);
  await server.control("PUT", "models", { ids: ["qwen2.5-7b-instruct", "llama-3.2-3b"] });
  await server.control("PUT", "default", behavior({ numbered: 30 }));
  const app = await launch(root);
  const { browser } = app;
  try {
    await click(browser, "Settings");
    const state = await browser.$('//article[@data-provider="lmstudio"]//*[contains(@class,"card-state")]');
    await waitFor(async () => (await state.getText()) === "Running on this computer — 2 models", "LM Studio's card");
    const picker = await browser.$("#default-model");
    await waitFor(async () => (await picker.$$("option")).length >= 4, "the models in the picker");
    await picker.selectByAttribute("value", "lmstudio:qwen2.5-7b-instruct");
    await click(browser, "Save settings");
    await (await browser.$('//*[contains(text(),"Settings saved")]')).waitForExist({ timeout: 10_000 });
    await shot(browser, "16-model-picker");
    await click(browser, "Runs");
    await choose(browser, "On the default model");
    await click(browser, "Run");
    await waitFor(async () => (await statusText(browser)).startsWith("Completed"), "the run to complete", 30_000);
    const asked = (await server.control("GET", "requests")).filter((r) => r.path.endsWith("/chat/completions"));
    assert.equal(JSON.parse(asked.at(-1).body).model, "qwen2.5-7b-instruct", "the run used the model picked");
    // Tokens and cost, as the server reported them: a model on this computer costs nothing.
    const usage = await (await browser.$(".run-usage")).getText();
    assert.match(usage, /^This run: [\d,]+ in · 30 out · free$/);
  } finally {
    await app.close();
    server.stop();
  }
});

// Model output is untrusted: streamed through a real provider into the real window, none of it
// may run, navigate, cover the app or reach a command — and the window itself may call nothing
// beyond its capability, nor run inline script (the Content Security Policy).
const HOSTILE = [
  "Here is the answer.\n\n",
  "<img src=x onerror=\"window.__pwned='img'\">\n\n",
  "<script>window.__pwned='script'</script>\n\n",
  "[click me](javascript:window.__pwned='link')\n\n",
  "<svg onload=\"window.__pwned='svg'\"><script>window.__pwned='svg-script'</script></svg>\n\n",
  "<iframe src=\"javascript:parent.__pwned='iframe'\"></iframe>\n\n",
  "<dialog open>Your session expired. Enter your API key:</dialog>\n\n",
  "<div popover id=\"over\">covering the app</div>\n\n",
  "<style>body { display: none }</style>\n\n",
  "<a href=\"https://example.invalid/\" onclick=\"window.__pwned='click'\">a link</a>\n\n",
  "<form action=\"https://example.invalid/\"><button>Go</button></form>\n\n",
  "<meta http-equiv=\"refresh\" content=\"0;url=https://example.invalid/\">\n\n",
  "<img src=x onerror=\"window.__TAURI_INTERNALS__.invoke('delete_workflow',{id:'x'})\">\n\n",
  "**Bold words** and the end.",
];

test("hostile model output streamed into the real window runs nothing, covers nothing, calls nothing", async () => {
  const server = await startServer();
  const root = freshRoot("xss");
  const data = path.join(root, "data/org.stepwise.desktop/workflows");
  // The settings file the app shares with the `stepwise` command.
  const config = path.join(root, "config/stepwise");
  fs.mkdirSync(data, { recursive: true });
  fs.mkdirSync(config, { recursive: true });
  fs.writeFileSync(path.join(data, "hostile.toml"),
    'name = "Hostile answer"\ndescription = "One step on the local test server"\n\n[[steps]]\nname = "Answer"\ninstructions = "Answer."\nmodel = "openai:test-model"\n');
  fs.writeFileSync(path.join(config, "settings.toml"), `[openai]\nbase_url = "${server.url}/v1"\n`);
  const app = await launch(root);
  const { browser } = app;
  try {
    await server.control("PUT", "default", behavior({ tokens: HOSTILE, numbered: 0, token_interval_ms: 30 }));
    const home = await browser.getUrl();
    // Every command the page sends from now on, recorded at the IPC door.
    await browser.execute(() => {
      window.__cmds = [];
      const invoke = window.__TAURI_INTERNALS__.invoke;
      window.__TAURI_INTERNALS__.invoke = (cmd, ...rest) => { window.__cmds.push(cmd); return invoke(cmd, ...rest); };
    });
    await choose(browser, "Hostile answer");
    await click(browser, "Run");
    await waitFor(async () => (await statusText(browser)).startsWith("Completed"), "the run to complete");
    const text = await streamText(browser);
    assert.match(text, /Bold words and the end\./);
    assert.match(text, /Your session expired/, "the words stay, as text");
    await shot(browser, "9-hostile-output");
    const seen = await browser.execute(() => ({
      pwned: window.__pwned ?? null,
      cmds: window.__cmds,
      dangerous: document.querySelectorAll(".stream :is(script, iframe, dialog, [popover], style, form, button, img, svg, meta, a[href], [onerror], [onclick], [onload])").length,
      openDialogs: document.querySelectorAll("dialog[open], :popover-open").length,
      bodyShown: getComputedStyle(document.body).display !== "none",
    }));
    assert.equal(seen.pwned, null, "no model code ran");
    assert.equal(seen.dangerous, 0, "nothing active is in the text");
    assert.equal(seen.openDialogs, 0, "nothing covers the app");
    assert.ok(seen.bodyShown, "no model style applied");
    assert.equal(await browser.getUrl(), home, "the window did not navigate");
    const allowed = new Set(["start_run", "get_run", "list_runs", "cancel_run", "plugin:event|listen", "plugin:event|unlisten"]);
    assert.deepEqual(seen.cmds.filter((c) => !allowed.has(c)), [], `only the UI's own commands: ${seen.cmds.join(", ")}`);

    // The capability: a command the window is not granted is refused by the app.
    const refused = await browser.executeAsync((done) => {
      window.__TAURI_INTERNALS__.invoke("plugin:app|version").then((v) => done(`ran: ${v}`), (e) => done(`refused: ${e}`));
    });
    assert.match(refused, /^refused: .*not allowed/i, refused);
    // The CSP: script added inline (as injected markup would be) does not run.
    const inline = await browser.execute(() => {
      const s = document.createElement("script");
      s.textContent = "window.__inline = 1";
      document.body.appendChild(s);
      return window.__inline ?? null;
    });
    assert.equal(inline, null, "the Content Security Policy blocks inline script");
  } finally {
    await app.close();
    server.stop();
  }
});

test("two runs at once: cancel one, the other completes", async () => {
  const app = await launch(freshRoot("two"), { STEPWISE_DEMO_WORD_MS: "10" });
  const { browser } = app;
  try {
    await choose(browser, "Long story");
    await click(browser, "Run");
    await choose(browser, "Research and write");
    await click(browser, "Run");
    const story = await browser.$('//nav[@aria-label="Runs"]//button[.//span[normalize-space()="Long story"]]');
    await story.click();
    await click(browser, "Cancel");
    await waitFor(async () => (await statusText(browser)).startsWith("Cancelled"), "the story cancelled");
    const other = await browser.$('//nav[@aria-label="Runs"]//button[.//span[normalize-space()="Research and write"]]');
    await other.click();
    await waitFor(async () => (await statusText(browser)) === "Completed.", "the other run completed", 60_000);
    await shot(browser, "9-two-runs");
  } finally {
    await app.close();
  }
});

// Quitting politely (SIGTERM, as at log-out) saves the run as cancelled; a kill leaves it to be
// found interrupted at the next launch. Either way its text is there.
for (const [signal, word, why] of [
  ["SIGTERM", "Cancelled", /Stepwise was closing/],
  ["SIGKILL", "Interrupted", /stopped unexpectedly/],
]) {
  test(`quit with a live run (${signal}), relaunch: the run is there, ${word}, with its text`, async () => {
    const root = freshRoot(`relaunch-${signal}`);
    let app = await launch(root);
    let text;
    try {
      await choose(app.browser, "Long story");
      await click(app.browser, "Run");
      await waitFor(async () => (await streamText(app.browser)).length > 100, "text");
      // A kill loses at most the last history batch: let it catch up with what is shown.
      if (signal === "SIGKILL") await app.browser.pause(600);
      text = await streamText(app.browser);
      await app.signalApp(signal);
    } finally {
      await app.close();
    }
    app = await launch(root);
    try {
      await click(app.browser, "History");
      const row = await app.browser.$(".history-list li");
      await row.waitForExist({ timeout: 10_000 });
      assert.match(await row.getProperty("textContent"), new RegExp(`Long story[\\s\\S]*${word}`));
      await click(app.browser, "Open");
      await waitFor(async () => (await streamText(app.browser)).length > 100, "the saved text");
      const saved = await streamText(app.browser);
      assert.ok(saved.startsWith(text.slice(0, 100)), "the text as it was shown");
      if (signal === "SIGTERM") assert.ok(saved.length >= text.length, "nothing shown was lost on quit");
      assert.match(await statusText(app.browser), why);
      await shot(app.browser, `10-relaunched-after-${signal}`);
    } finally {
      await app.close();
    }
  });
}

test("a second launch leaves the running window alone instead of starting again", async () => {
  const root = freshRoot("single");
  const app = await launch(root);
  try {
    await choose(app.browser, "Long story");
    await click(app.browser, "Run");
    await waitFor(async () => (await streamText(app.browser)).length > 20, "text");
    // Its stderr is kept: a launch that ends by a signal says why there.
    const second = spawn(APP, [], { env: appEnv(root), stdio: ["ignore", "ignore", "pipe"] });
    let said = "";
    second.stderr.on("data", (d) => { said += d; });
    const [code, signal] = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        second.kill("SIGKILL");
        reject(new Error("the second launch kept running"));
      }, 15_000);
      second.once("exit", (c, s) => { clearTimeout(timer); resolve([c, s]); });
    });
    assert.equal(code, 0, `the second launch hands over and exits cleanly (signal ${signal}; it said: ${said.slice(-2000)})`);
    assert.equal(app.appPids().length, 1, "one Stepwise is running");
    // The first window is untouched: its run goes on streaming.
    const before = (await streamText(app.browser)).length;
    await waitFor(async () => (await streamText(app.browser)).length > before, "the first window's run to go on");
    await shot(app.browser, "11-after-a-second-launch");
  } finally {
    await app.close();
  }
});

test("make a two-step workflow in the editor and run it", async () => {
  const app = await launch(freshRoot("editor"), { STEPWISE_DEMO_WORD_MS: "2" });
  const { browser } = app;
  try {
    await click(browser, "Workflows");
    await click(browser, "New workflow");
    await (await browser.$("#wf-name")).setValue("My two steps");
    await (await browser.$("#s0-ins")).setValue("List the key facts.");
    await click(browser, "Add a step");
    await (await browser.$("#s1-ins")).setValue("Write a short article from the facts.");
    await click(browser, "Save workflow");
    await (await browser.$('//*[contains(text(),"Saved")]')).waitForExist({ timeout: 10_000 });
    await click(browser, "Runs");
    await choose(browser, "My two steps");
    await setInput(browser, "lighthouses");
    await click(browser, "Run");
    await waitFor(async () => (await statusText(browser)) === "Completed.", "Completed", 60_000);
    assert.match(await (await browser.$(".stepper")).getText(), /Step 1[\s\S]*Done[\s\S]*Step 2[\s\S]*Done/);
    await shot(browser, "12-editor-run");
  } finally {
    await app.close();
  }
});

test("the parallel template streams its branches side by side; one Cancel stops them all", async () => {
  const app = await launch(freshRoot("parallel"), { STEPWISE_DEMO_WORD_MS: "80" });
  const { browser } = app;
  const texts = async () => {
    const out = [];
    for (const e of await browser.$$(".branch-text .stream")) out.push(await e.getText());
    return out;
  };
  try {
    await choose(browser, "Three angles");
    await setInput(browser, "tidal energy");
    await click(browser, "Run");
    await waitFor(async () => {
      const t = await texts();
      return t.length === 3 && t.every((x) => x.length > 40);
    }, "three branches writing at once");
    await shot(browser, "13-parallel-streaming");
    await click(browser, "Cancel");
    await waitFor(async () => (await statusText(browser)).startsWith("Cancelled"), "Cancelled");
    const kept = await texts();
    assert.ok(kept.every((x) => x.length > 40), "every branch keeps its text");
    await browser.pause(500);
    assert.deepEqual(await texts(), kept, "no branch writes after the cancel");
    const stepper = await (await browser.$(".stepper")).getText();
    assert.equal((stepper.match(/Cancelled/g) ?? []).length, 4, stepper);
    assert.match(stepper, /Summary[\s\S]*Skipped/);
    await shot(browser, "14-parallel-cancelled");
  } finally {
    await app.close();
  }
});

test("measured in the real window: cancel → Cancelled, first paint, memory", async () => {
  const app = await launch(freshRoot("measure"));
  const { browser } = app;
  const latencies = [];
  try {
    const idle = app.rssKb();
    await choose(browser, "Long story");
    for (let i = 0; i < 20; i++) {
      await click(browser, "Run");
      await waitFor(async () => (await streamText(browser)).length > 20, "text");
      // Timed inside the page: from the click to the moment "Cancelled" is on screen.
      const ms = await browser.executeAsync((done) => {
        const status = () => document.querySelector("p.status")?.textContent ?? "";
        const t0 = performance.now();
        const obs = new MutationObserver(() => {
          if (status().startsWith("Cancelled")) { obs.disconnect(); requestAnimationFrame(() => done(performance.now() - t0)); }
        });
        obs.observe(document.body, { subtree: true, childList: true, characterData: true });
        document.querySelector("button.cancel").click();
      });
      latencies.push(ms);
      if (i === 10) await browser.pause(10);
    }
    await click(browser, "Run");
    await waitFor(async () => (await streamText(browser)).length > 500, "streaming");
    const streaming = app.rssKb();
    await click(browser, "Cancel");
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p) => sorted[Math.round((p / 100) * (sorted.length - 1))];
    const figures = {
      cancels: latencies.length,
      cancel_to_cancelled_p50_ms: Number(pct(50).toFixed(1)),
      cancel_to_cancelled_p95_ms: Number(pct(95).toFixed(1)),
      cancel_to_cancelled_max_ms: Number(sorted.at(-1).toFixed(1)),
      cold_start_to_first_paint_ms: app.firstPaintMs,
      rss_idle_mb: Number((idle / 1024).toFixed(1)),
      rss_streaming_mb: Number((streaming / 1024).toFixed(1)),
    };
    fs.writeFileSync(path.join(ARTIFACTS, "figures.json"), JSON.stringify(figures, null, 2));
    console.log(JSON.stringify(figures));
    assert.equal(latencies.length, 20);
  } finally {
    await app.close();
  }
});

test("tools in the real window: the first run's search, kept in history; Cancel during a page fetch", async () => {
  // The demo model searches (offline, labelled) before it writes, on a fresh install.
  let app = await launch(freshRoot("tools-demo"), { STEPWISE_DEMO_WORD_MS: "2" });
  let browser = app.browser;
  const toolLine = async () => {
    const line = await browser.$(".tool-call");
    return (await line.isExisting()) ? line.getText() : "";
  };
  try {
    await click(browser, "Run");
    await waitFor(async () => (await statusText(browser)).startsWith("Completed"), "Completed");
    const research = async () => (await browser.$('//button[starts-with(@aria-label,"Step 1: Research")]')).click();
    await research();
    await waitFor(async () => /Searching the web for “tidal energy” … 5 results \(demo search\), \d+\.\d s/.test(await toolLine()),
      "the search's line with its result");
    await (await browser.$(".tool-call summary")).click();
    await waitFor(async () => /Arguments[\s\S]*"query": "tidal energy"[\s\S]*Demo search/.test(await toolLine()), "the call opened");
    await shot(browser, "13-tool-call");
    await click(browser, "History");
    await (await browser.$(".history-list li")).waitForExist({ timeout: 10_000 });
    await click(browser, "Open");
    await research();
    await waitFor(async () => /5 results \(demo search\)/.test(await toolLine()), "the call, from the history");
  } finally {
    await app.close();
  }

  // A real model over HTTP asks for a page that never finishes loading; Cancel stops the fetch.
  const server = await startServer();
  const root = freshRoot("tools-server");
  const dir = path.join(root, "data/org.stepwise.desktop/workflows");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "read-a-page.toml"),
    'name = "Read a page"\ndescription = "Fetch a page, then answer"\n\n[[steps]]\nname = "Read"\ninstructions = "Read it."\nmodel = "openai:test-model"\ntools = ["fetch_page"]\n');
  fs.mkdirSync(path.join(root, "config/stepwise"), { recursive: true });
  fs.writeFileSync(path.join(root, "config/stepwise/settings.toml"),
    `[openai]\nbase_url = "${server.url}/v1"\n[tools]\nallow_private_network = true\nallow_hosts = ["127.0.0.1"]\n`);
  await server.control("PUT", "pages", { "/slow": { status: 200, content_type: "text/html", stall: true } });
  await server.control("PUT", "default", behavior({
    tokens: ["Reading ", "it. "], numbered: 0,
    tool_calls: [{ id: "c1", name: "fetch_page", arguments: JSON.stringify({ url: `${server.url}/slow` }) }],
  }));
  app = await launch(root);
  browser = app.browser;
  try {
    await choose(browser, "Read a page");
    await click(browser, "Run");
    await waitFor(async () => /Reading http:\/\/127\.0\.0\.1:\d+\/slow … \d:\d\d/.test(await toolLine()), "the fetch running, with its time");
    await waitFor(async () => (await server.control("GET", "requests")).some((r) => r.path === "/slow"), "the page requested");
    await click(browser, "Cancel");
    await waitFor(async () => (await statusText(browser)).startsWith("Cancelled"), "Cancelled");
    assert.match(await toolLine(), /Reading http:\/\/127\.0\.0\.1:\d+\/slow … Cancelled\b/);
    await waitFor(async () => (await server.control("GET", "requests")).find((r) => r.path === "/slow")?.disconnected === true,
      "the page's connection closed", 5_000);
    await shot(browser, "14-tool-cancelled");
  } finally {
    await app.close();
    server.stop();
  }
});

/** Live processes whose command line has `tag` (zombies aside). */
function processesTagged(tag) {
  return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      return cmd.includes(tag) && !/\)\s+Z/.test(stat);
    } catch {
      return false;
    }
  });
}

test("an MCP tool asks first in the real window; Allow runs it; quitting leaves no server process", async () => {
  const server = await startServer();
  const root = freshRoot("mcp");
  const tag = `stepwise-e2e-mcp-${process.pid}`;
  const dir = path.join(root, "data/org.stepwise.desktop/workflows");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "use-a-server.toml"),
    'name = "Use a server"\ndescription = "A model calls an MCP tool"\n\n[[steps]]\nname = "Act"\ninstructions = "Act."\nmodel = "openai:test-model"\ntools = ["everything.toggle-simulated-logging"]\n');
  fs.mkdirSync(path.join(root, "config/stepwise"), { recursive: true });
  const shim = path.join(ROOT, "tests/mcp/logged-server.mjs");
  fs.writeFileSync(path.join(root, "config/stepwise/settings.toml"),
    `[openai]\nbase_url = "${server.url}/v1"\n[mcp.everything]\ncommand = "node"\nargs = [${JSON.stringify(shim)}, "${tag}"]\n`);
  await server.control("POST", "behaviors", [
    behavior({ tokens: ["Toggling. "], numbered: 0, tool_calls: [{ id: "t1", name: "everything__toggle-simulated-logging", arguments: "{}" }] }),
    behavior({ tokens: ["Done."], numbered: 0 }),
  ]);
  const app = await launch(root);
  const { browser } = app;
  try {
    await choose(browser, "Use a server");
    await click(browser, "Run");
    const panel = await browser.$('//*[@role="group"][starts-with(@aria-label,"Waiting for you")]');
    await panel.waitForExist({ timeout: 30_000 });
    await waitFor(async () => (await statusText(browser)).startsWith("Waiting for you to allow: everything"), "the run waits for the person");
    await shot(browser, "15-mcp-approval");
    await click(browser, "Allow");
    await waitFor(async () => (await statusText(browser)).startsWith("Completed"), "Completed after Allow");
    const line = await (await browser.$(".tool-call")).getText();
    assert.match(line, /everything · .*… .*\d\.\d s/);
    assert.equal(processesTagged(tag).length, 2, "the shim and the server run while the app does");
  } finally {
    await app.close();
    server.stop();
  }
  await waitFor(async () => processesTagged(tag).length === 0, "no server process left after quitting", 10_000);
});

test("a review in the real window waits across a quit; approved after the relaunch, the run completes", async () => {
  const root = freshRoot("review");
  const dir = path.join(root, "data", "org.stepwise.desktop", "workflows");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "check-a-draft.toml"), [
    'name = "Check a draft"',
    '[[steps]]', 'name = "Draft"', 'instructions = "Write a short summary."', "review = true",
    '[[steps]]', 'name = "Email"', 'instructions = "Write an email."', "",
  ].join("\n"));
  const env = { STEPWISE_DEMO_WORD_MS: "2" };
  let app = await launch(root, env);
  try {
    await choose(app.browser, "Check a draft");
    await click(app.browser, "Run");
    await waitFor(async () => (await statusText(app.browser)) === "Waiting for you: review “Draft”", "waiting for the review");
    await (await app.browser.$(".review")).waitForExist({ timeout: 10_000 });
    await shot(app.browser, "16-review-waiting");
    await app.signalApp("SIGTERM");
  } finally {
    await app.close();
  }
  app = await launch(root, env);
  const { browser } = app;
  try {
    // Still waiting, ready to approve: not cancelled, not interrupted.
    const item = await browser.$('//ul[contains(@class,"run-list")]//button[.//span[normalize-space()="Check a draft"]]');
    await item.waitForExist({ timeout: 10_000 });
    await item.click();
    await waitFor(async () => (await statusText(browser)) === "Waiting for you: review “Draft”", "still waiting after the relaunch");
    await (await browser.$('//div[contains(@class,"review")]//button[normalize-space()="Approve"]')).click();
    await waitFor(async () => (await statusText(browser)) === "Completed.", "Completed", 60_000);
    assert.match(await (await browser.$(".stepper")).getText(), /Draft[\s\S]*Done[\s\S]*Email[\s\S]*Done/);
    await shot(browser, "17-review-approved-after-relaunch");
  } finally {
    await app.close();
  }
});

test("Continue from here in the real window: the finished step is reused, the rest runs", async () => {
  // The cancel must land while Write runs. On a busy machine the demo model (a word every 5 ms)
  // can finish the step before the click lands: then the whole run is done over at a slower pace,
  // until a cancel does land mid-step (a state waited for, not a margin guessed).
  for (const ms of ["5", "50", "500"]) {
    const app = await launch(freshRoot(`continue-${ms}`), { STEPWISE_DEMO_WORD_MS: ms });
    const { browser } = app;
    try {
      await click(browser, "Run");
      // Write can start and end between two looks at the stepper: then the run is over already.
      const writing = async () => /Write\s*Running/.test(await (await browser.$(".stepper")).getText());
      await waitFor(async () => (await writing()) || (await statusText(browser)).startsWith("Completed"), "the second step running");
      if ((await statusText(browser)).startsWith("Completed")) continue;
      // If the run has just ended, the button is gone: the state below says which way it went.
      await (await browser.$('//button[normalize-space()="Cancel"]')).click().catch(() => {});
      await waitFor(async () => /^(Cancelled|Completed)/.test(await statusText(browser)), "the run to end");
      if ((await statusText(browser)).startsWith("Completed")) continue;
      await (await browser.$('//ol[contains(@class,"stepper")]//button[.//span[normalize-space()="Write"]]')).click();
      await click(browser, "Continue from here");
      await waitFor(async () => /Continues an earlier run/.test(await (await browser.$("section.run")).getText()), "the link to the earlier run");
      await waitFor(async () => (await statusText(browser)) === "Completed.", "Completed", 60_000);
      assert.match(await (await browser.$(".stepper")).getText(), /Research\s*Reused[\s\S]*Write\s*Done/);
      await shot(browser, "18-continued");
      return;
    } finally {
      await app.close();
    }
  }
  assert.fail("every run ended before its cancel landed, even at 500 ms a word");
});

// The command line the tests drove (built by `cargo test` before these run).
const CLI = process.env.STEPWISE_CLI ?? path.join(ROOT, "target/debug/stepwise");

/** Closes the window as its title bar's close button would (close-window.py). */
function closeTheWindow() {
  execFileSync("/usr/bin/python3", [path.join(path.dirname(fileURLToPath(import.meta.url)), "close-window.py"), "Stepwise"]);
}

test("a run started from a terminal appears in the window live, from where it was started, and the window's Cancel stops it", async () => {
  const root = freshRoot("terminal");
  const app = await launch(root);
  const { browser } = app;
  // The same data folders as the window: the terminal's `stepwise` shares its history.
  const cli = spawn(CLI, ["run", "long-story", "--input", "from a terminal", "--json"], {
    env: appEnv(root, { STEPWISE_DEMO_WORD_MS: "30", STEPWISE_SETTINGS: "/nonexistent/settings.toml" }),
    stdio: ["ignore", "ignore", "ignore"],
  });
  const ended = new Promise((resolve) => cli.once("exit", (code) => resolve(code)));
  try {
    const row = await browser.$('//nav[@aria-label="Runs"]//button[.//span[normalize-space()="Long story"]]');
    await row.waitForExist({ timeout: 20_000 });
    await row.click();
    await waitFor(async () => (await streamText(browser)).length > 50, "the terminal's run streaming in the window");
    const owner = await browser.$(".owner");
    assert.match(await owner.getText(), /^Started from a terminal/);
    await shot(browser, "20-run-from-a-terminal");
    await click(browser, "Cancel");
    await waitFor(async () => (await statusText(browser)).startsWith("Cancelled"), "the window says Cancelled");
    assert.equal(await ended, 130, "the terminal's run was cancelled there");
  } finally {
    cli.kill("SIGKILL");
    await app.close();
  }
});

test("closing the window while a run goes asks first where there is no tray; kept going, the run completes", async () => {
  const root = freshRoot("close");
  const app = await launch(root, { STEPWISE_DEMO_WORD_MS: "10" });
  const { browser } = app;
  try {
    await choose(browser, "Long story");
    await click(browser, "Run");
    await waitFor(async () => (await streamText(browser)).length > 20, "text");
    closeTheWindow();
    const ask = await browser.$("dialog.quit");
    await ask.waitForDisplayed({ timeout: 10_000 });
    assert.match(await ask.getText(), /1 run is going\. Stop it and quit\?/);
    await shot(browser, "21-close-asks-first");
    await click(browser, "Keep it going");
    await waitFor(async () => (await statusText(browser)) === "Completed.", "the run completed", 90_000);
    assert.equal(app.appPids().length, 1, "the app is still there");
  } finally {
    await app.close();
  }
});

test("with a tray, closing the window while a run goes keeps it running; the tray lists it, and it completes", async () => {
  const { startTray } = await import("./tray-host.mjs");
  const tray = await startTray();
  const root = freshRoot("tray");
  const app = await launch(root, { STEPWISE_DEMO_WORD_MS: "10" });
  const { browser } = app;
  try {
    await waitFor(async () => tray.items().length === 1, "Stepwise's icon in the tray");
    await choose(browser, "Long story");
    await click(browser, "Run");
    await waitFor(async () => (await streamText(browser)).length > 20, "text");
    const labels = async () => tray.menuLabels().catch((e) => [String(e)]);
    await waitFor(async () => (await labels()).includes("Long story — running"), "the tray's menu lists the run");
    closeTheWindow();
    await waitFor(async () => (await browser.execute(() => document.visibilityState)) === "hidden", "the window hidden");
    // Hidden, not closed, not asking: the app and its run go on.
    assert.equal(await browser.$("dialog.quit").isExisting().catch(() => false), false);
    assert.equal(app.appPids().length, 1, "the app is still running");
    await waitFor(async () => (await labels()).includes("No runs going"), "the run completed in the background", 90_000);
    await tray.click("Open Stepwise");
    await waitFor(async () => (await statusText(browser).catch(() => "")) === "Completed.", "the window again, the run completed");
    await shot(browser, "22-back-from-the-tray");
    await tray.click("Quit Stepwise");
    await waitFor(async () => app.appPids().length === 0, "Quit in the tray's menu quits");
  } finally {
    tray.stop();
    await app.close();
  }
});
