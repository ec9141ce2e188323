// The real app, with its IPC carried to the real shell (backend-ipc.ts) installed first.
import "./backend-ipc";
import "../../src/main";
