/**
 * Coalesces an LLM stream's tokens into few `delta` events (docs/API.md "Overload": a
 * delta may carry several tokens).
 *
 * One write is in flight at a time; tokens that arrive meanwhile, or within the flush
 * interval after the last write, join the next delta. The interval grows with the number
 * of streams this process writes, so the process's Redis writes stay near
 * `writesPerSecond` however many replies it streams, until `maxMs` (the longest a token
 * may wait) caps it: one stream alone flushes every token at once, a thousand wait up to
 * `maxMs`. The first token of a reply never waits.
 */
import { DEFAULT_DELTA_FLUSH, type DeltaFlushSettings } from '../lib/config';
import type { Appended } from '../store/event-log';

/** How many DeltaWriters of this process are open (the streams it writes). */
let openWriters = 0;

/** The flush interval for `streams` concurrent streams. */
export function flushIntervalMs(streams: number, settings: DeltaFlushSettings): number {
  return Math.min(settings.maxMs, (streams / settings.writesPerSecond) * 1000);
}

export interface DeltaWriterOptions {
  /** Writes one delta; null = refused (the request ended, or a newer attempt took over). */
  write(content: string): Promise<Appended | null>;
  /** Redis had lost the request's events before this write: `text` is all text written so far. */
  onLost(text: string): Promise<void>;
  /** Called once when writing must stop (refused or failed): abort the LLM stream. */
  onStop(): void;
  settings?: DeltaFlushSettings;
}

export class DeltaWriter {
  private pending = '';
  private written = '';
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private closed = false;
  /** Why writing stopped: refused (`superseded`) or a write failed. */
  private stopped: { superseded: true } | { error: unknown } | undefined;
  /** Deltas written (for tests and metrics). */
  writes = 0;

  constructor(private readonly options: DeltaWriterOptions) {
    openWriters++;
  }

  /** True once a write was refused: the request ended or a newer attempt took over. */
  get superseded(): boolean {
    return this.stopped !== undefined && 'superseded' in this.stopped;
  }

  /** Adds a token; it is written within the flush interval. */
  push(piece: string): void {
    if (this.stopped || piece === '') return;
    this.pending += piece;
    this.schedule();
  }

  /** Writes what is pending and waits for it; throws what a write threw. */
  async drain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight || (this.pending !== '' && !this.stopped)) {
      if (!this.inFlight) this.flush();
      await this.inFlight;
    }
    this.close();
    if (this.stopped && 'error' in this.stopped) throw this.stopped.error;
  }

  /** Stops the writer without writing what is pending (the attempt failed). */
  close(): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.closed = true;
    openWriters--;
  }

  private schedule(): void {
    if (this.inFlight || this.timer || this.stopped) return;
    const interval = flushIntervalMs(openWriters, this.options.settings ?? DEFAULT_DELTA_FLUSH);
    const wait = this.lastFlushAt + interval - performance.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    if (this.pending === '' || this.stopped) return;
    const content = this.pending;
    this.pending = '';
    this.lastFlushAt = performance.now();
    this.writes++;
    this.inFlight = this.writeOne(content).finally(() => {
      this.inFlight = undefined;
      if (this.pending !== '') this.schedule();
    });
  }

  private async writeOne(content: string): Promise<void> {
    try {
      const written = await this.options.write(content);
      if (written === null) return this.stop({ superseded: true });
      this.written += content;
      // Redis lost the request's events: deltas the client had not read may be gone.
      if (written.fresh) await this.options.onLost(this.written);
    } catch (error) {
      this.stop({ error });
    }
  }

  private stop(why: NonNullable<DeltaWriter['stopped']>): void {
    if (this.stopped) return;
    this.stopped = why;
    this.options.onStop();
  }
}
