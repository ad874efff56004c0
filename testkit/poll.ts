/**
 * The suite's one polling helper: for what lands asynchronously (ledger rows, billing
 * workflows, heartbeats, metrics, stored summaries). Bounded, and a timeout names what was
 * awaited and the probe's last error.
 */

type Maybe<T> = T | undefined | null | false;

export interface PollOptions {
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
  /** Pause between probes (default 100 ms). */
  everyMs?: number;
}

/**
 * Calls `probe` until it returns a truthy value, and returns that value. A probe that throws
 * counts as "not yet" (a row or workflow that does not exist yet); its last error is in the
 * timeout's message.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<Maybe<T>> | Maybe<T>,
  options: PollOptions | number = {},
): Promise<T> {
  const { timeoutMs = 20_000, everyMs = 100 } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
