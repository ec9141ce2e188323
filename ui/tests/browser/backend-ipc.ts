// The page's IPC carried to the real shell: every `invoke` goes to the Rust
// backend (examples/ui_backend, one app per test) over a WebSocket, and every event the shell
// sends (`run-update`, `open-run`) is emitted here as Tauri would. Nothing is answered here.
// The page's address names the backend's port and the app: `?backend=PORT&app=ID`.
// Every command the page invokes is recorded in `window.__calls`.
import { emit } from "@tauri-apps/api/event";
import { mockIPC } from "@tauri-apps/api/mocks";

type Json = Record<string, unknown>;
declare global {
  interface Window { __calls: { cmd: string; args: Json }[] }
}

const params = new URLSearchParams(location.search);
const socket = new WebSocket(`ws://127.0.0.1:${params.get("backend")}/apps/${params.get("app")}`);
const opened = new Promise<void>((resolve, reject) => {
  socket.addEventListener("open", () => resolve(), { once: true });
  socket.addEventListener("error", () => reject(new Error("the test backend cannot be reached")), { once: true });
});
const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
let last = 0;

socket.addEventListener("message", (m) => {
  const msg = JSON.parse(m.data as string);
  if ("event" in msg) {
    void emit(msg.event, msg.payload);
    return;
  }
  const w = waiting.get(msg.id);
  waiting.delete(msg.id);
  if ("err" in msg) w?.reject(msg.err);
  else w?.resolve(msg.ok);
});

window.__calls = [];
mockIPC(
  async (cmd, args) => {
    const a = (args ?? {}) as Json;
    window.__calls.push({ cmd, args: a });
    await opened;
    const id = ++last;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, cmd, args: a }));
    });
  },
  { shouldMockEvents: true },
);
