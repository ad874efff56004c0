/**
 * An in-memory event log for activity unit tests (no Redis): the append script's rules
 * from store/event-log.ts (nothing after a terminal event, fences, `once`, `fresh`,
 * `ifLost`) over a plain array, so a test reads every event an activity wrote, with
 * the fence it wrote it under.
 *
 * It implements every public member of {@link EventLog}, so a change to that interface
 * breaks this file at compile time rather than a test at run time.
 */
import { TERMINAL_EVENT_TYPES, type RequestEvent } from '../contracts/protocol';
import type { AppendOptions, Appended, EventLog } from '../store/event-log';

/** The public surface of {@link EventLog} (its private Redis members left out). */
type EventLogApi = { [K in keyof EventLog]: EventLog[K] };

/** One accepted event. */
export interface LoggedEvent {
  userId: string;
  requestId: string;
  seq: number;
  event: RequestEvent;
  /** The fence it was written under (0 = unfenced). */
  fence: number;
}

interface RequestState {
  seq: number;
  fence: number;
  ended: boolean;
  once: Map<string, number>;
}

export class MemoryEventLog implements EventLogApi {
  /** Every accepted event, in the order accepted. */
  readonly entries: LoggedEvent[] = [];
  private readonly requests = new Map<string, RequestState>();
  private waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];

  async append(
    userId: string,
    requestId: string,
    event: RequestEvent,
    options: AppendOptions = {},
  ): Promise<number | null> {
    return (await this.write(userId, requestId, event, options))?.seq ?? null;
  }

  // Async like the real one, so callers interleave with it as they do with Redis.
  // eslint-disable-next-line @typescript-eslint/require-await
  async write(
    userId: string,
    requestId: string,
    event: RequestEvent,
    options: AppendOptions = {},
  ): Promise<Appended | null> {
    const key = `${userId}\n${requestId}`;
    const known = this.requests.get(key);
    if (known?.ended) return null;
    const prior = options.once === undefined ? undefined : known?.once.get(options.once);
    if (prior !== undefined) return { seq: prior, fresh: false };
    const fence = options.fence ?? 0;
    if (fence > 0 && fence < (known?.fence ?? 0)) return null;
    const fresh = known === undefined;
    const state = known ?? { seq: 0, fence: 0, ended: false, once: new Map<string, number>() };
    this.requests.set(key, state);
    if (fence > state.fence) state.fence = fence;
    const add = (e: RequestEvent) =>
      this.entries.push({ userId, requestId, seq: ++state.seq, event: e, fence });
    if (fresh) for (const e of options.ifLost ?? []) add(e);
    add(event);
    if (TERMINAL_EVENT_TYPES.has(event.type)) state.ended = true;
    if (options.once !== undefined) state.once.set(options.once, state.seq);
    this.wake();
    return { seq: state.seq, fresh };
  }

  // eslint-disable-next-line @typescript-eslint/require-await
  async exists(userId: string, requestId: string): Promise<boolean> {
    return this.requests.has(`${userId}\n${requestId}`);
  }

  /** Events in memory never expire: nothing to keep. */
  keepFor(_userId: string, _requestId: string, _seconds: number): Promise<void> {
    return Promise.resolve();
  }

  // eslint-disable-next-line @typescript-eslint/require-await
  async ended(userId: string, requestId: string): Promise<boolean> {
    return this.requests.get(`${userId}\n${requestId}`)?.ended ?? false;
  }

  /** The events of one request, in order. */
  events(requestId: string): RequestEvent[] {
    return this.entries.filter((e) => e.requestId === requestId).map((e) => e.event);
  }

  /**
   * Resolves once `ready()` holds, checked now and after every accepted event: waits for
   * what an activity writes without polling, so it also works under mocked timers.
   */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ ready, resolve }));
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.ready()) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
