// Starts the reference MCP server (@modelcontextprotocol/server-everything, over stdio) as its
// child and passes every message through unchanged, noting in the file $STEPWISE_MCP_LOG each
// message with the moment it passed (milliseconds since the epoch): tests and the benchmark see
// what reached the server — a `notifications/cancelled` — and when. It also makes the server a
// tree of two processes, as `npx` would, so ending the whole group is tested too.
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const entry = require.resolve("@modelcontextprotocol/server-everything/dist/index.js");
const logPath = process.env.STEPWISE_MCP_LOG;
const log = logPath ? fs.openSync(logPath, "a") : null;
const note = (dir, line) => {
  if (log !== null) fs.writeSync(log, `${JSON.stringify({ dir, t: performance.timeOrigin + performance.now(), line })}\n`);
};

// Arguments after the script (a test's tag) go to the server too, so a test can find both processes.
const server = spawn(process.execPath, [entry, "stdio", ...process.argv.slice(2)], { stdio: ["pipe", "pipe", "inherit"] });
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  note("in", line);
  server.stdin.write(`${line}\n`);
});
readline.createInterface({ input: server.stdout }).on("line", (line) => {
  note("out", line);
  process.stdout.write(`${line}\n`);
});
process.stdin.on("end", () => server.stdin.end());
server.on("exit", (code) => process.exit(code ?? 1));
