// Helpers for the UI's tests (imported by *.test.ts only; nothing in the app uses them).
import { vi } from "vitest";

/**
 * Every member of a string union, from an object with one key per member:
 *
 *     const STATUSES = every<RunStatus>({ pending: true, running: true, … });
 *
 * The object must name each member exactly once, so when the generated bindings gain a member
 * (a new status, a new error kind) the type check fails until the list has it: a test that says
 * "every state" cannot quietly miss one.
 */
export function every<T extends string>(members: Record<T, true>): T[] {
  return Object.keys(members) as T[];
}

/**
 * Calls `check` until it gives a value (anything but `undefined`, `null` or `false`, and without
 * throwing), then returns that value. Past `deadlineMs` it fails with what it waited for and the
 * last thing `check` threw. The deadline only bounds a hang: make it generous (a busy CI machine
 * is slow), since a check that holds returns at once.
 */
export async function eventually<T>(
  deadlineMs: number,
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
): Promise<T> {
  try {
    return await vi.waitFor(
      async () => {
        const value = await check();
        if (value === undefined || value === null || value === false) throw new Error("not yet");
        return value;
      },
      { timeout: deadlineMs, interval: 10 },
    );
  } catch (last) {
    const seen = last instanceof Error ? last.message : String(last);
    throw new Error(`gave up after ${deadlineMs} ms waiting for ${what} (last: ${seen})`);
  }
}

/** A deadline for waits in tests: long enough for a loaded 2-core CI machine. */
export const PATIENCE_MS = 30_000;
