// `npm run bench:frames`: the built UI in Chromium, on the real shell (examples/ui_backend),
// while one run streams 100,000 tokens (words) at 1,000 a second from the test model server
// (paragraphs every 60 words). Records every animation frame's length and every long task
// (> 50 ms) from the first token to the last. Prints a table, then one JSON object. Takes about
// 100 seconds. Figures, not assertions.
import { startHarness } from "./harness.mjs";

const TOKENS = 100_000;
const h = await startHarness();
const app = await h.newApp({
  // Ten words to an event, an event every 10 ms: a timer cannot wait 1 ms a word.
  servers: { model: { default: {
    tokens: Array.from({ length: TOKENS / 10 }, (_, e) => Array.from({ length: 10 }, (_, k) => {
      const i = e * 10 + k;
      return i % 60 === 59 ? `word${i}.\n\n` : `word${i} `;
    }).join("")),
    token_interval_ms: 10,
  } } },
  // 100,000 tokens are about 1.1 MB of text: above a step's usual limit (1 MB).
  settings: '[openai]\nbase_url = "{{model}}/v1"\n[limits]\nmax_step_output_bytes = 4000000\n',
  keys: { open_ai: "sk-test" },
  workflows: [{ name: "A long answer", description: "One step that writes a great deal",
    steps: [{ name: "Write", instructions: "Write at length.", model: "openai:test-model" }] }],
});
const page = await h.context.newPage();
await page.addInitScript(() => {
  window.__frames = [];
  window.__long = [];
  let last = 0;
  const loop = (t) => {
    if (last && window.__measuring) window.__frames.push(t - last);
    last = t;
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
  new PerformanceObserver((list) => {
    if (window.__measuring) for (const e of list.getEntries()) window.__long.push(e.duration);
  }).observe({ type: "longtask", buffered: false });
});
await page.goto(app.url);
await page.locator(".card", { hasText: "A long answer" }).click();
await page.getByLabel("What should it work on?").fill("anything");
await page.getByRole("button", { name: "Run", exact: true }).click();
await page.getByText("word0").first().waitFor();
await page.evaluate(() => { window.__measuring = true; });
const started = Date.now();
await page.locator("p.status", { hasText: "Completed." }).waitFor({ timeout: 300_000 });
const seconds = (Date.now() - started) / 1000;
const { frames, long } = await page.evaluate(() => ({ frames: window.__frames, long: window.__long }));
const sorted = [...frames].sort((a, b) => a - b);
const pct = (p) => sorted[Math.min(sorted.length - 1, Math.round((p / 100) * (sorted.length - 1)))];
const chars = await page.evaluate(() => document.querySelector(".stream")?.textContent?.length ?? 0);
const fig = {
  tokens: TOKENS,
  seconds: Number(seconds.toFixed(1)),
  tokens_per_sec: Math.round(TOKENS / seconds),
  frames: frames.length,
  frame_p50_ms: Number(pct(50).toFixed(1)),
  frame_p99_ms: Number(pct(99).toFixed(1)),
  frame_max_ms: Number(sorted[sorted.length - 1].toFixed(1)),
  long_tasks: long.length,
  longest_task_ms: Number((long.length ? Math.max(...long) : 0).toFixed(1)),
  text_chars: chars,
};
console.log(`${"measure (100,000 tokens at 1,000 tokens/s)".padEnd(46)} value`);
for (const [k, v] of Object.entries(fig)) console.log(`${k.padEnd(46)} ${v}`);
console.log(JSON.stringify(fig));
await h.close();
