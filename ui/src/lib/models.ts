// The models the picker offers: asked of the backend once and shared by every picker on screen
// (each provider is asked over the network); Settings asks again after a change.
import { commands, type ProviderModels } from "../bindings";

let catalog: Promise<ProviderModels[]> | null = null;
let askedAt = 0;
/** A list older than this is asked again (a server started meanwhile shows up). */
const FRESH_MS = 60_000;

export function modelCatalog(fresh = false): Promise<ProviderModels[]> {
  if (fresh || !catalog || Date.now() - askedAt > FRESH_MS) {
    askedAt = Date.now();
    catalog = commands.listModels().then((r) => (r.status === "ok" ? r.data : []));
  }
  return catalog;
}

/** What the picker says under the list: which servers on this computer are running. */
export function foundWords(providers: ProviderModels[]): string {
  const local = providers.filter((p) => p.state === "ready" && p.local);
  const off = providers.filter((p) => p.state === "not_running").map((p) => p.label);
  if (local.length) {
    const on = local.map((p) => p.label).join(", ");
    return `Running on this computer: ${on}.${off.length ? ` Not running: ${off.join(", ")}.` : ""}`;
  }
  if (off.length) return `No model server is running on this computer (${off.join(", ")}). The demo model always works.`;
  return "The demo model always works; add a provider in Settings for more.";
}
