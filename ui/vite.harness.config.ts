import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

// A build of the real UI for browser tests, its IPC carried to the real shell
// (tests/browser/backend-ipc.ts → examples/ui_backend).
export default defineConfig({
  plugins: [svelte({ configFile: "../../svelte.config.js" })],
  root: "tests/browser",
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
});
