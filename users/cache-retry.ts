/**
 * Invalidations that could not reach Redis, retried in the background until they do,
 * so a cache that was unreachable for a moment does not keep stale entries until
 * their TTL.
 */
import type { Logger } from '../lib/logger';

/** Pending work per key (one entry per entity: a newer invalidation replaces the older). */
export class RetryQueue<T> {
  private readonly pending = new Map<string, T>();
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param run retries one entry; throws while the target is still unreachable
   * @param ready whether a retry is worth trying now
   */
  constructor(
    private readonly run: (key: string, item: T) => Promise<void>,
    private readonly ready: () => boolean,
    private readonly options: { intervalMs: number; maxEntries: number; logger?: Logger },
  ) {}

  get size(): number {
    return this.pending.size;
  }

  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** Forgets a key (its work succeeded some other way). */
  delete(key: string): void {
    this.pending.delete(key);
  }

  /** Queues work for a key; past `maxEntries` the oldest entry is given up (and logged). */
  add(key: string, item: T): void {
    if (this.pending.size >= this.options.maxEntries && !this.pending.has(key)) {
      const oldest = this.pending.keys().next();
      if (!oldest.done) {
        this.pending.delete(oldest.value);
        this.options.logger?.error('cache invalidation given up; its TTL will expire it');
      }
    }
    this.pending.set(key, item);
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer (pending work is dropped with the process). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async flush(): Promise<void> {
    if (!this.ready()) return;
    for (const [key, item] of [...this.pending]) {
      try {
        await this.run(key, item);
        if (this.pending.get(key) === item) this.pending.delete(key);
      } catch {
        return; // still unreachable: try again on the next tick
      }
    }
    if (this.pending.size === 0) this.close();
  }
}
