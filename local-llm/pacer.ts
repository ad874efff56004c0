/**
 * Wakes many paced streams with few timers: callbacks due in the same 5 ms slot share
 * one `setTimeout`. A thousand replies at 20 tokens/s are 20,000 token writes a second;
 * with a timer (and a promise, and an abort listener) each, the embedded LLM would spend
 * more CPU on pacing than on writing, and dominate the benchmarks it serves.
 */

/** Width of a slot: a token is written at most this late. */
const SLOT_MS = 5;
const slots = new Map<number, Array<() => void>>();

/** Calls `fn` at `dueMs` (a `performance.now()` time), at most {@link SLOT_MS} late. */
export function callAt(dueMs: number, fn: () => void): void {
  const slot = Math.ceil(dueMs / SLOT_MS);
  const waiting = slots.get(slot);
  if (waiting) {
    waiting.push(fn);
    return;
  }
  const list = [fn];
  slots.set(slot, list);
  setTimeout(
    () => {
      slots.delete(slot);
      for (const f of list) f();
    },
    Math.max(0, slot * SLOT_MS - performance.now()),
  );
}
