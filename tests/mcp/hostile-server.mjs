// A small MCP server over stdio (plain JSON-RPC, one message a line) that misbehaves on purpose,
// for the tests of how Stepwise copes. The first argument picks how:
//
//   hang-list       answers `initialize`, never `tools/list`
//   cursor-repeat   every page of `tools/list` says there is more, with the same cursor
//   cursor-endless  every page says there is more, with a new cursor each time
//   bad-stderr      writes a byte that is not UTF-8 to stderr, then a line to stderr at every call
//   flood           tool `flood` {mb, end}: writes mb megabytes to stderr with no newline (then
//                   "\nafter the flood\n" when `end`), and answers once it is written
//   big             tool `echo` answers `size` bytes of text; `picture` answers an image
//   stubborn        ignores SIGTERM and the end of its input (only SIGKILL ends it)
//
// In every mode `echo` {message} answers "Echo: message" and `where` answers its working folder.
// Further arguments are ignored (a test's tag, so it can find the process).
import readline from "node:readline";

const mode = process.argv[2] ?? "";
const send = (msg) => process.stdout.write(`${JSON.stringify({ jsonrpc: "2.0", ...msg })}\n`);
const text = (t) => ({ content: [{ type: "text", text: t }] });
const tool = (name) => ({
  name, description: `${name} (test)`, inputSchema: { type: "object" }, annotations: { readOnlyHint: true },
});
const TOOLS = [tool("echo"), tool("where"), tool("flood"), tool("picture")];
let calls = 0;
let page = 0;

if (mode === "bad-stderr") process.stderr.write(Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0x0a]));
if (mode === "stubborn") process.on("SIGTERM", () => {});

function list(id, params) {
  if (mode === "hang-list") return;
  page += 1;
  if (mode === "cursor-repeat") return send({ id, result: { tools: TOOLS, nextCursor: "again" } });
  if (mode === "cursor-endless") return send({ id, result: { tools: TOOLS, nextCursor: `page-${page}` } });
  send({ id, result: { tools: TOOLS } });
}

function call(id, { name, arguments: args = {} }) {
  calls += 1;
  if (mode === "bad-stderr") process.stderr.write(`called ${calls}\n`);
  switch (name) {
    case "echo":
      if (mode === "big") return send({ id, result: text("a".repeat(args.size ?? 12_000_000)) });
      return send({ id, result: text(`Echo: ${args.message}`) });
    case "where":
      return send({ id, result: text(process.cwd()) });
    case "flood": {
      const chunk = "x".repeat(1 << 20);
      for (let i = 0; i < (args.mb ?? 1); i += 1) process.stderr.write(chunk);
      if (args.end) process.stderr.write("\nafter the flood\n");
      // Written: stderr is a pipe, and writes to a pipe are synchronous in Node on Linux.
      return send({ id, result: text("flooded") });
    }
    case "picture":
      return send({ id, result: { content: [
        { type: "text", text: "A picture:" },
        { type: "image", mimeType: "image/png", data: "iVBORw0KGgo".repeat(200_000) },
      ] } });
    default:
      return send({ id, error: { code: -32602, message: `no tool ${name}` } });
  }
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch { return; }
  const { id, method, params = {} } = msg;
  if (id === undefined) return; // a notification
  switch (method) {
    case "initialize":
      return send({ id, result: {
        protocolVersion: params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: `hostile-${mode}`, version: "1.0.0" },
      } });
    case "tools/list": return list(id, params);
    case "tools/call": return call(id, params);
    case "ping": return send({ id, result: {} });
    default: return send({ id, error: { code: -32601, message: `no method ${method}` } });
  }
});
if (mode === "stubborn") process.stdin.on("end", () => setInterval(() => {}, 1000));
else process.stdin.on("end", () => process.exit(0));
