// Every run the window knows, kept in step with the backend. Updates are queued as they arrive and
// applied once per animation frame, so the window's work stays bounded at any token rate.
import {
  commands, events, type AppError, type ResumeError, type RunEvent, type RunSnapshot, type WorkflowDraft,
} from "../bindings";
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

  /** Runs the user asked to stop that have not ended yet: their tool calls say "Stopping the
   * tool…" until the backend says the run has ended. */
  stopping: Record<string, boolean> = $state({});

  /** Set while the history cannot save (a full disk): said in the window. */
  historyProblem: string | null = $state(null);

  private queue: RunEvent[] = [];
  private frame = false;
  /** Runs whose start has not answered yet, and those of them the user asked to cancel. */
  private starting = new Set<string>();
  private cancelWanted = new Set<string>();

  async init(): Promise<void> {
    await events.runUpdate.listen((e) => this.receive(e.payload));
    let tick = 0;
    setInterval(() => {
      if (this.order.some((id) => isLive(this.byId[id]?.status ?? "completed"))) {
        this.now = Date.now();
        // While runs stream, look every few seconds whether the history is still saving.
        if (++tick % 5 === 0) void this.checkHistory();
        // A run another process owns ends without a last event if that process goes away:
        // ask about those every other second.
        if (tick % 2 === 0) {
          for (const id of this.order) {
            const r = this.byId[id];
            if (r?.owner && isLive(r.status)) void this.resync(id);
          }
        }
      }
    }, 1000);
    // After a reload: rebuild every live and recent run from its snapshot.
    const list = await commands.listRuns({ limit: 20 });
    if (list.status === "ok") {
      this.historyProblem = list.data.history.saving_error;
      for (const r of list.data.runs) {
        if (!this.byId[r.run_id]) {
          this.byId[r.run_id] = { ...emptySnapshot(r.run_id), workflow_name: r.workflow_name, input: r.input, status: r.status, owner: r.owner ?? null };
        }
        // A live run's update may have come first (its snapshot then fetched): it is listed too.
        if (!this.order.includes(r.run_id)) this.order.push(r.run_id);
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
        // A run the window did not start (a terminal's, the background's): the backend's
        // snapshot says whose it is.
        void this.resync(e.run_id);
      }
      const result = applyEvent(run, e);
      if (result === "gap") void this.resync(e.run_id);
      if (result === "applied" && e.type !== "TextDelta" && e.run_id === this.active) {
        this.announcement = runWords(run);
      }
    }
    this.now = Date.now();
  }

  private async checkHistory(): Promise<void> {
    const list = await commands.listRuns({ limit: 1 });
    if (list.status === "ok") this.historyProblem = list.data.history.saving_error;
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
    this.starting.add(id);
    const started = await commands.startRun(workflow, input, id);
    this.starting.delete(id);
    if (started.status === "error") {
      this.cancelWanted.delete(id);
      delete this.byId[id];
      this.order = this.order.filter((x) => x !== id);
      this.active = this.order[0] ?? null;
      return started.error;
    }
    // Cancel was pressed before the start answered: the backend did not know the run yet, so
    // the cancel is sent now that it does.
    if (this.cancelWanted.delete(id)) await commands.cancelRun(id);
    void this.resync(id);
    return null;
  }

  /** Continues a run that ended from a step (null: where it stopped), as a new run; shows it.
   * Returns why not, in words, when it cannot. */
  async resume(id: string, from: string | null, useToday: boolean): Promise<string | null> {
    const r = await commands.resumeRun(id, from, useToday);
    if (r.status === "error") {
      const e = r.error;
      if (e.kind === "resume") return resumeWords(e.detail);
      if (e.kind === "workflow_not_found") return `There is no workflow named “${e.detail}” today.`;
      return "The run could not be continued.";
    }
    const newId = r.data;
    if (!this.byId[newId]) {
      this.byId[newId] = emptySnapshot(newId);
      this.order.unshift(newId);
    }
    this.active = newId;
    void this.resync(newId);
    // The earlier run now links to this one.
    void this.resync(id);
    return null;
  }

  /** Cancel and Esc. A run whose start has not answered yet is cancelled as soon as it has. */
  async cancel(id: string): Promise<void> {
    if (isLive(this.byId[id]?.status ?? "completed")) this.stopping[id] = true;
    if (this.starting.has(id)) this.cancelWanted.add(id);
    const r = await commands.cancelRun(id);
    if (r.status === "ok" && r.data) this.cancelWanted.delete(id);
  }
}

/** Why a run cannot be continued from there, for a person. */
export function resumeWords(e: ResumeError): string {
  switch (e.kind) {
    case "not_ended": return "This run has not ended yet.";
    case "no_such_step": return `The workflow has no step “${e.step}” at its top level.`;
    case "nested": return `“${e.step}” is inside “${e.top}”: continue from “${e.top}”.`;
    case "earlier_step_not_done": return `“${e.step}” did not finish, so the run cannot go on from after it: continue from “${e.step}” or earlier.`;
    case "all_done": return "Every step of this run finished: pick a step to run again from.";
    case "workflow_changed": return `Today's version of the workflow differs before “${e.from}” (from “${e.step}” on): continue with the workflow as it was in the run.`;
    case "no_workflow": return "This run's workflow was not kept, so it cannot be continued.";
  }
}
