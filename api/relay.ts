/**
 * Fans request events out from Redis Streams to sockets.
 *
 * One dedicated connection per API process runs a single blocking `XREAD` over every
 * stream some socket here is watching (not one Redis connection per client). A new
 * subscription wakes the reader with `CLIENT UNBLOCK` so it joins the read at once.
 *
 * Delivery is exactly once and in order per subscriber: each subscriber remembers the
 * last seq it was given and drops anything at or below it. A subscriber that joins a
 * stream the reader already follows first catches up with `XRANGE` (buffering live
 * events meanwhile), then goes live.
 */
import type { Redis } from 'ioredis';
import type { RequestEvent } from '../contracts/protocol';
import { decodeEntry, seqOfStreamId } from '../lib/event-log';
import type { Logger } from '../lib/logger';

export type EventHandler = (event: RequestEvent, seq: number) => void;

interface Subscriber {
  lastSeq: number;
  catchingUp: boolean;
  buffer: Array<[RequestEvent, number]>;
  handler: EventHandler;
}

interface Followed {
  /** Last seq the reader has read from this stream. */
  cursor: number;
  subscribers: Set<Subscriber>;
}

type XReadReply = Array<[string, Array<[string, string[]]>]> | null;

const BLOCK_MS = 5000;
const READ_COUNT = 1000;

export class StreamRelay {
  private readonly streams = new Map<string, Followed>();
  private readerId: number | undefined;
  /** Bumped on every new stream; the loop records the version its XREAD covers. */
  private version = 0;
  private readingVersion = -1;
  private closed = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly reader: Redis,
    private readonly commands: Redis,
    private readonly logger: Logger,
  ) {}

  /** Starts the read loop. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops the loop and releases nothing else (the caller owns the connections). */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.unblock();
    await this.loop;
  }

  /** Number of streams followed (for metrics and tests). */
  get followedStreams(): number {
    return this.streams.size;
  }

  /**
   * Delivers every event of `streamKey` after `afterSeq`, in order and once, then the
   * live ones, until the returned function is called.
   */
  subscribe(streamKey: string, afterSeq: number, handler: EventHandler): () => void {
    const sub: Subscriber = { lastSeq: afterSeq, catchingUp: false, buffer: [], handler };
    let followed = this.streams.get(streamKey);
    if (!followed) {
      followed = { cursor: afterSeq, subscribers: new Set([sub]) };
      this.streams.set(streamKey, followed);
      this.version++;
      this.wake?.();
      void this.unblock();
    } else {
      followed.subscribers.add(sub);
      sub.catchingUp = true;
      void this.catchUp(streamKey, sub);
    }
    return () => {
      const f = this.streams.get(streamKey);
      if (!f) return;
      f.subscribers.delete(sub);
      if (f.subscribers.size === 0) this.streams.delete(streamKey);
    };
  }

  private deliver(sub: Subscriber, event: RequestEvent, seq: number): void {
    if (seq <= sub.lastSeq) return;
    sub.lastSeq = seq;
    try {
      sub.handler(event, seq);
    } catch (err) {
      this.logger.error('relay handler failed', { err });
    }
  }

  private async catchUp(streamKey: string, sub: Subscriber): Promise<void> {
    try {
      const entries = await this.commands.xrange(streamKey, `${sub.lastSeq + 1}-0`, '+');
      for (const [id, fields] of entries) {
        const event = decodeEntry(fields);
        if (event) this.deliver(sub, event, seqOfStreamId(id));
      }
    } catch (err) {
      this.logger.warn('relay catch-up failed', { err });
    } finally {
      sub.catchingUp = false;
      for (const [event, seq] of sub.buffer.splice(0)) this.deliver(sub, event, seq);
    }
  }

  /** Interrupts the reader's XREAD until it has picked up the newest streams. */
  private async unblock(): Promise<void> {
    for (let i = 0; i < 50 && this.readerId !== undefined; i++) {
      if (this.readingVersion >= this.version && !this.closed) return;
      const n = await this.commands.client('UNBLOCK', this.readerId).catch(() => 0);
      if (n === 1 || this.closed) return;
      // The reader was between two reads: it may not have sent its XREAD yet.
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  private async run(): Promise<void> {
    this.readerId = Number(await this.reader.client('ID'));
    while (!this.closed) {
      if (this.streams.size === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const keys = [...this.streams.keys()];
      const ids = keys.map((k) => `${this.streams.get(k)?.cursor ?? 0}-0`);
      this.readingVersion = this.version;
      let reply: XReadReply;
      try {
        reply = (await this.reader.xread(
          'COUNT',
          READ_COUNT,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          ...keys,
          ...ids,
        ));
      } catch (err) {
        if (this.closed) break;
        this.logger.warn('relay read failed; retrying', { err });
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const [key, entries] of reply ?? []) {
        const followed = this.streams.get(key);
        if (!followed) continue;
        for (const [id, fields] of entries) {
          const seq = seqOfStreamId(id);
          followed.cursor = Math.max(followed.cursor, seq);
          const event = decodeEntry(fields);
          if (!event) continue;
          for (const sub of followed.subscribers) {
            if (sub.catchingUp) sub.buffer.push([event, seq]);
            else this.deliver(sub, event, seq);
          }
        }
      }
    }
  }
}
