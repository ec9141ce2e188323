// Every run the window knows, kept in step with the backend. Updates are queued as they arrive and
// applied once per animation frame, so the window's work stays bounded at any token rate.
import { commands, events, type AppError, type RunEvent, type RunSnapshot, type WorkflowDraft } from "../bindings";
import { applyEvent, emptySnapshot, isLive, join, runWords } from "./run-state";

export class Runs {
  byId: Record<string, RunSnapshot> = $state({});
  /** Newest first. */
  order: string[] = $state([]);
  active: string | null = $state(null);
  /** Ticks once a second while a run is live, for elapsed times. */
  now: number = $state(Date.now());
  /** Step changes and outcomes, for the screen reader's live region. */
  announcement: string = $state("");

  private queue: RunEvent[] = [];
  private frame = false;

  async init(): Promise<void> {
    await events.runUpdate.listen((e) => this.receive(e.payload));
    setInterval(() => {
      if (this.order.some((id) => isLive(this.byId[id]?.status ?? "completed"))) this.now = Date.now();
    }, 1000);
    // After a reload: rebuild every live and recent run from its snapshot.
    const list = await commands.listRuns({ limit: 20 });
    if (list.status === "ok") {
      for (const r of list.data.runs) {
        if (!this.byId[r.run_id]) {
          this.byId[r.run_id] = { ...emptySnapshot(r.run_id), workflow_name: r.workflow_name, input: r.input, status: r.status };
          this.order.push(r.run_id);
        }
        if (isLive(r.status)) void this.resync(r.run_id);
      }
    }
  }

  receive(e: RunEvent): void {
    this.queue.push(e);
    if (!this.frame) {
      this.frame = true;
      requestAnimationFrame(() => this.flush());
    }
  }

  private flush(): void {
    this.frame = false;
    const batch = this.queue;
    this.queue = [];
    for (const e of batch) {
      let run = this.byId[e.run_id];
      if (!run) {
        if (e.type !== "RunStarted") { void this.resync(e.run_id); continue; }
        this.byId[e.run_id] = emptySnapshot(e.run_id);
        this.order.unshift(e.run_id);
        run = this.byId[e.run_id];
      }
      const result = applyEvent(run, e);
      if (result === "gap") void this.resync(e.run_id);
      if (result === "applied" && e.type !== "TextDelta" && e.run_id === this.active) {
        this.announcement = runWords(run);
      }
    }
    this.now = Date.now();
  }

  /** Takes the backend's snapshot and keeps whichever is newer. */
  async resync(id: string): Promise<void> {
    const snap = await commands.getRun(id);
    if (snap.status === "ok" && snap.data) {
      this.byId[id] = join(this.byId[id] ?? emptySnapshot(id), snap.data, []);
    }
  }

  /** Opens a past run (loads its steps from the history). */
  async open(id: string): Promise<void> {
    this.active = id;
    if (!this.byId[id] || this.byId[id].last_seq === 0) await this.resync(id);
  }

  async start(workflow: WorkflowDraft, input: string): Promise<AppError | null> {
    const id = crypto.randomUUID();
    this.byId[id] = emptySnapshot(id);
    this.order.unshift(id);
    this.active = id;
    const started = await commands.startRun(workflow, input, id);
    if (started.status === "error") {
      delete this.byId[id];
      this.order = this.order.filter((x) => x !== id);
      this.active = this.order[0] ?? null;
      return started.error;
    }
    void this.resync(id);
    return null;
  }

  async cancel(id: string): Promise<void> {
    await commands.cancelRun(id);
  }
}
