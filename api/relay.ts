/**
 * Fans request events out from Redis to sockets, at O(1) cost per event and subscriber
 * however many requests this process follows.
 *
 * Two Redis structures per request (store/event-log.ts): its Stream, the log a follower
 * catches up from (`XRANGE` after its last seq), and a shard channel on which the append
 * script publishes every entry it adds. One dedicated subscriber connection per API
 * process listens to the channels of the requests some socket here follows
 * (`SSUBSCRIBE` / `SUNSUBSCRIBE` as followers come and go); a published message reaches
 * exactly the followers of its request. (The relay this replaced re-issued one `XREAD`
 * naming every followed stream after each batch: O(streams) per event.)
 *
 * Exactly once and in order per subscriber: each remembers the last seq it was given and
 * drops anything at or below it. Seqs of a request are consecutive (the append script's
 * `INCR`), so a live event more than one past a subscriber's last seq means it missed
 * some (it joined while they were published, the subscriber connection dropped, or Redis
 * lost the request and renumbered it): it then reads the gap from the Stream, buffering
 * live events meanwhile, and goes on. A new subscriber starts the same way: subscribed
 * first, then caught up from the Stream, so nothing falls between the two.
 */
import type { Redis } from 'ioredis';
import type { RequestEvent } from '../contracts/protocol';
import { decodeEntry, decodeLiveMessage, seqOfStreamId } from '../store/event-log';
import type { Logger } from '../lib/logger';

export type EventHandler = (event: RequestEvent, seq: number) => void;

interface Subscriber {
  streamKey: string;
  lastSeq: number;
  /** True while its gap is read from the Stream; live events wait in `buffer`. */
  catchingUp: boolean;
  buffer: Array<[RequestEvent, number]>;
  handler: EventHandler;
  /** The request's channel subscription is confirmed (catching up before it could miss events). */
  ready: Promise<void>;
  /** Unsubscribed: nothing more is read or delivered for it. */
  gone: boolean;
  /** When it last got an event, or last read the Stream (`performance.now()`). */
  heardAt: number;
}

/** A failed catch-up (Redis unreachable) is tried again after this long. */
const CATCH_UP_RETRY_MS = 500;
/**
 * A follower that heard nothing for this long reads its Stream once: the safety net for
 * a live message lost without a later one to reveal the gap (e.g. a subscription that
 * failed while Redis was unreachable). Costs one `XRANGE` per quiet request per period.
 */
const QUIET_CHECK_MS = 5000;

/** The request a stream key belongs to: its live channel has the same hash tag. */
function channelOf(streamKey: string): string {
  return streamKey.replace(/:events$/, ':live');
}

export class StreamRelay {
  /** Live channel -> its subscribers here. */
  private readonly channels = new Map<string, Set<Subscriber>>();
  private closed = false;
  private started = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    /** A connection used only for channel subscriptions (it enters subscriber mode). */
    private readonly subscriber: Redis,
    private readonly commands: Redis,
    private readonly logger: Logger,
  ) {}

  /** Starts listening. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.subscriber.on('smessage', (channel: string, message: string) =>
      this.onMessage(channel, message),
    );
    // After a reconnect: subscribe again (ioredis re-subscribes what had succeeded; this
    // covers any that failed while Redis was away) and read what was published meanwhile.
    this.subscriber.on('ready', () => {
      const channels = [...this.channels.keys()];
      if (channels.length > 0) this.subscriber.ssubscribe(...channels).catch(() => undefined);
      for (const subs of this.channels.values()) for (const sub of subs) this.catchUp(sub);
    });
    this.sweeper = setInterval(() => {
      const quietSince = performance.now() - QUIET_CHECK_MS;
      for (const subs of this.channels.values()) {
        for (const sub of subs) if (sub.heardAt < quietSince) this.catchUp(sub);
      }
    }, QUIET_CHECK_MS);
    this.sweeper.unref();
  }

  /** Stops delivering; the caller owns (and closes) the connections. */
  close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.channels.clear();
    return Promise.resolve();
  }

  /** Number of requests followed (for metrics and tests). */
  get followedStreams(): number {
    return this.channels.size;
  }

  /**
   * Delivers every event of `streamKey` after `afterSeq`, in order and once, then the
   * live ones, until the returned function is called.
   */
  subscribe(streamKey: string, afterSeq: number, handler: EventHandler): () => void {
    const channel = channelOf(streamKey);
    let subs = this.channels.get(channel);
    let ready: Promise<void>;
    if (subs) {
      ready = [...subs][0]!.ready;
    } else {
      subs = new Set();
      this.channels.set(channel, subs);
      ready = this.subscriber.ssubscribe(channel).then(
        () => undefined,
        (err: unknown) =>
          this.logger.warn('relay subscribe failed; following from the stream', { err }),
      );
    }
    const sub: Subscriber = {
      streamKey,
      lastSeq: afterSeq,
      catchingUp: false,
      buffer: [],
      handler,
      ready,
      gone: false,
      heardAt: performance.now(),
    };
    subs.add(sub);
    this.catchUp(sub);
    return () => {
      sub.gone = true;
      const set = this.channels.get(channel);
      if (!set?.delete(sub) || set.size > 0) return;
      this.channels.delete(channel);
      if (!this.closed) this.subscriber.sunsubscribe(channel).catch(() => undefined);
    };
  }

  private onMessage(channel: string, message: string): void {
    const subs = this.channels.get(channel);
    if (!subs) return;
    const events = decodeLiveMessage(message);
    for (const sub of subs) {
      for (const [event, seq] of events) {
        if (sub.catchingUp) sub.buffer.push([event, seq]);
        else if (seq > sub.lastSeq + 1) {
          // A gap: read it from the Stream (this event included) before going on.
          this.catchUp(sub);
          break;
        } else this.deliver(sub, event, seq);
      }
    }
  }

  private deliver(sub: Subscriber, event: RequestEvent, seq: number): void {
    if (seq <= sub.lastSeq || sub.gone) return;
    sub.lastSeq = seq;
    sub.heardAt = performance.now();
    try {
      sub.handler(event, seq);
    } catch (err) {
      this.logger.error('relay handler failed', { err });
    }
  }

  /** Reads the subscriber's events after its last seq from the Stream, then its buffer. */
  private catchUp(sub: Subscriber): void {
    if (sub.catchingUp || sub.gone || this.closed) return;
    sub.catchingUp = true;
    void this.readGap(sub);
  }

  private async readGap(sub: Subscriber): Promise<void> {
    try {
      await sub.ready;
      const entries = await this.commands.xrange(sub.streamKey, `${sub.lastSeq + 1}-0`, '+');
      sub.heardAt = performance.now();
      for (const [id, fields] of entries) {
        const event = decodeEntry(fields);
        if (event) this.deliver(sub, event, seqOfStreamId(id));
      }
    } catch (err) {
      this.logger.warn('relay catch-up failed; trying again', { err });
      setTimeout(() => {
        sub.catchingUp = false;
        this.catchUp(sub);
      }, CATCH_UP_RETRY_MS).unref();
      return;
    }
    sub.catchingUp = false;
    const buffered = sub.buffer.splice(0);
    // Buffered events after a new gap (renumbered after a loss) are read again.
    for (const [event, seq] of buffered) {
      if (seq > sub.lastSeq + 1) {
        this.catchUp(sub);
        break;
      }
      this.deliver(sub, event, seq);
    }
  }
}
