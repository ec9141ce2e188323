// The app as a .deb installed it (scripts/check-package.sh sets STEPWISE_APP to the installed
// binary): the real window starts, says its version, and runs a template to its end.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { APP, ARTIFACTS, click, freshRoot, launch, shot, statusText, waitFor } from "./support.mjs";

test("the installed app starts the real window, says its version and runs a template", async () => {
  assert.ok(process.env.STEPWISE_APP, "STEPWISE_APP names the installed binary");
  assert.equal(APP, process.env.STEPWISE_APP);
  const app = await launch(freshRoot("installed"), { STEPWISE_DEMO_WORD_MS: "2" });
  const { browser } = app;
  try {
    // Idle: the window painted, nothing running (measured as the end-to-end suite does).
    await browser.pause(1500);
    const idleMb = Number((app.rssKb() / 1024).toFixed(1));
    await click(browser, "About");
    const about = await browser.$("dialog.about .version");
    await about.waitForExist({ timeout: 10_000 });
    const version = await about.getText();
    const expected = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, "../../tauri.conf.json"), "utf8")).version;
    assert.equal(version, `Version ${expected}`);
    await click(browser, "Close");
    await click(browser, "Run");
    await waitFor(async () => (await statusText(browser)) === "Completed.", "the template to complete", 60_000);
    await shot(browser, "20-installed-completed");
    const figures = { installed_rss_idle_mb: idleMb };
    fs.writeFileSync(path.join(ARTIFACTS, "package-figures.json"), JSON.stringify(figures, null, 2));
    console.log(JSON.stringify(figures));
  } finally {
    await app.close();
  }
});
