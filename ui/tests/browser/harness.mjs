// Serves the harness build (tests/browser/dist) on 127.0.0.1, starts the real shell for it
// (the Rust example `ui_backend`, built by `npm run test:browser`) and opens Debian's Chromium.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(here, "dist");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
export const REPO = path.resolve(here, "../../..");
const TARGET = process.env.CARGO_TARGET_DIR ?? path.join(REPO, "target");
const BACKEND = process.env.STEPWISE_UI_BACKEND ?? path.join(TARGET, "debug/examples/ui_backend");

/** Starts the backend; resolves with its port once it listens. */
async function startBackend() {
  if (!fs.existsSync(BACKEND)) throw new Error(`${BACKEND} is missing: run \`cargo build --example ui_backend\``);
  // Its apps' folders go under target/tmp; it ends when we do (its standard input closes).
  const folder = path.join(TARGET, "tmp");
  fs.mkdirSync(folder, { recursive: true });
  const child = spawn(BACKEND, [folder], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = readline.createInterface({ input: child.stdout });
  const port = await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the backend ended (${code}) before it listened`)));
    lines.once("line", (line) => resolve(Number(line)));
  });
  return { child, port };
}

export async function startHarness({ width = 1200, height = 800 } = {}) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const file = path.join(DIST, url.pathname === "/" ? "index.html" : url.pathname);
    if (!file.startsWith(DIST) || !fs.existsSync(file)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const backend = await startBackend();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-ui-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width, height },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run"],
  });
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    context,
    /**
     * A fresh app made by the backend as `options` say (examples/ui_backend/options.rs), the
     * apps before it quit. Resolves with the page address for it and its model servers' addresses.
     */
    async newApp(options = {}) {
      const res = await fetch(`http://127.0.0.1:${backend.port}/apps`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(options),
      });
      if (!res.ok) throw new Error(`the backend could not make the app: ${await res.text()}`);
      const app = await res.json();
      return { ...app, url: `${base}/?backend=${backend.port}&app=${app.id}` };
    },
    async close() {
      await context.close();
      server.close();
      backend.child.kill("SIGTERM");
      await new Promise((r) => (backend.child.exitCode !== null ? r() : backend.child.once("exit", r)));
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
