// The real Stepwise window, driven as a person would: WebKitWebDriver (WebKitGTK's own WebDriver,
// which tauri-driver would only stand in front of on Linux) launches the release binary, with a
// fresh data folder per launch (XDG_* folders under a temp root).
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { remote } from "webdriverio";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, "../..");
// The binary under test: the release build, or (the package check) the one a .deb installed.
export const APP = process.env.STEPWISE_APP ?? path.join(ROOT, "target/release/stepwise-app");
export const ARTIFACTS = path.join(ROOT, "test-artifacts/e2e");
const DRIVER = process.env.WEBKIT_WEBDRIVER ?? "/usr/bin/WebKitWebDriver";
const DRIVER_PORT = 4444;

fs.mkdirSync(ARTIFACTS, { recursive: true });

const roots = [];
// Each test's data folders go when the test process ends.
process.on("exit", () => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

export function freshRoot(name) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-e2e-${name}-`));
  for (const d of ["data", "config", "cache"]) fs.mkdirSync(path.join(root, d));
  roots.push(root);
  return root;
}

async function waitForPort(port, ms = 20_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, "127.0.0.1", () => { s.destroy(); r(true); });
      s.on("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** The environment of an app whose data folders are under `root`. */
export function appEnv(root, env = {}) {
  return {
    ...process.env,
    XDG_DATA_HOME: path.join(root, "data"),
    XDG_CONFIG_HOME: path.join(root, "config"),
    XDG_CACHE_HOME: path.join(root, "cache"),
    STEPWISE_DEMO_FIRST_TOKEN_MS: "100",
    STEPWISE_DEMO_WORD_MS: "20",
    ...env,
  };
}

/** Launches the app on the data folders under `root`. */
export async function launch(root, env = {}) {
  const driver = spawn(DRIVER, [`--port=${DRIVER_PORT}`, "--host=127.0.0.1"], {
    // Tauri lets WebDriver automate its webview only when this is set.
    env: { ...appEnv(root, env), TAURI_WEBVIEW_AUTOMATION: "true" },
    // No pipes: the app, started below the driver, must not hold this process open.
    stdio: "ignore",
  });
  await waitForPort(DRIVER_PORT);
  const started = Date.now();
  const browser = await remote({
    hostname: "127.0.0.1",
    port: DRIVER_PORT,
    logLevel: "error",
    // The app is the "browser" WebKitWebDriver starts (what tauri-driver's tauri:options become).
    capabilities: { "webkitgtk:browserOptions": { binary: APP, args: [] }, "wdio:enforceWebDriverClassic": true },
  });
  await (await browser.$("h1")).waitForExist({ timeout: 20_000 });
  const firstPaintMs = Date.now() - started;
  return {
    browser,
    firstPaintMs,
    /** Resident memory (kB) of this app and its WebKit processes. */
    rssKb: () => descendants(driver.pid).reduce((sum, pid) => sum + rssOf(pid), 0),
    /** The app's own processes (not its WebKit helpers) below this launch. */
    appPids: () => descendants(driver.pid).filter((p) => commOf(p) === "stepwise-app" && isAlive(p)),
    /** Sends `signal` to the app process itself and waits until it has ended. */
    async signalApp(signal, ms = 10_000) {
      const [pid] = this.appPids();
      if (!pid) throw new Error("the app process is not running");
      process.kill(pid, signal);
      await waitFor(async () => !isAlive(pid), `the app to end after ${signal}`, ms);
    },
    async close() {
      const tree = descendants(driver.pid);
      try { await browser.deleteSession(); } catch { /* the app may be gone already */ }
      driver.kill("SIGTERM");
      await new Promise((r) => driver.once("exit", r));
      // Whatever of this launch is still running (the app, its WebKit helpers) ends here.
      for (const pid of tree) {
        try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
      }
    },
  };
}

/** Every process below `root`, from /proc. */
function descendants(root) {
  const parent = new Map();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch { /* exited */ }
  }
  const below = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p; p = parent.get(p)) {
      if (p === root) { below.push(pid); break; }
    }
  }
  return below;
}

function commOf(pid) {
  try { return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return ""; }
}

/** Running, as opposed to gone or a zombie waiting for its parent. */
function isAlive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function rssOf(pid) {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
    return Number(line?.split(/\s+/)[1] ?? 0);
  } catch {
    return 0;
  }
}

export const shot = (browser, name) => browser.saveScreenshot(path.join(ARTIFACTS, `${name}.png`));

/** Clicks a button by its visible text. */
export async function click(browser, text) {
  const b = await browser.$(`//button[normalize-space()="${text}"]`);
  await b.waitForClickable({ timeout: 10_000 });
  await b.click();
}

export async function statusText(browser) {
  const s = await browser.$("p.status");
  return (await s.isExisting()) ? s.getText() : "";
}

export async function waitFor(fn, what, ms = 20_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
