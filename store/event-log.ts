/**
 * The per-request event log: one Redis Stream per chat request, written by activities
 * and read by any API process (docs/ARCHITECTURE.md "Events to the client travel through one
 * Redis Stream per request").
 *
 * Every append goes through one Lua script that, atomically:
 * - refuses anything after the request's terminal event (`done`/`error`), so a request
 *   ends with exactly one of them even when an activity is retried or a zombie attempt
 *   keeps writing;
 * - applies an optional fence: an LLM attempt writes with its attempt number, and once
 *   a later attempt has written, an earlier one can no longer add deltas behind the
 *   `restart` the client has seen;
 * - writes an event marked `once` (e.g. `status: pruning`) only the first time, so a
 *   retried step never repeats an event the client already has;
 * - numbers the event (`<seq>-0` stream ids), caps the stream and renews its TTL (never
 *   shortening it: see {@link EventLog.keepFor}).
 *
 * Sequence numbers never go back, even when Redis loses the request's keys (a restart
 * without persistence, an eviction): a request's first event is numbered from the
 * Redis server's clock in microseconds, and so is the first one after a loss, so every
 * later event sorts after every earlier one and no eventId ever names two events. Such
 * an append reports `fresh`, which lets the writer detect the loss and re-send what the
 * client may have missed (a `restart` followed by the full text so far).
 *
 * The eventId the client sees is the zero-padded seq, so eventIds of a request sort
 * as strings in the order sent.
 */
import type { Redis } from 'ioredis';
import type { ChatMethod } from '../contracts/chat';
import { TERMINAL_EVENT_TYPES, type RequestEvent } from '../contracts/protocol';

// KEYS: stream, seq, fence, end, once, live. ARGV: payload, fence, terminal, ttl, maxLen,
// once-name ('' = none), then payloads written first when the seq was missing.
// Every call that adds entries publishes them, one `<seq> <payload>` line each, as one
// message on the request's shard channel (api/relay.ts follows it live).
const APPEND_SCRIPT = `
if redis.call('EXISTS', KEYS[4]) == 1 then return false end
if ARGV[6] ~= '' then
  local prior = redis.call('HGET', KEYS[5], ARGV[6])
  if prior then return {tonumber(prior), 0} end
end
local fence = tonumber(ARGV[2])
if fence > 0 then
  local current = tonumber(redis.call('GET', KEYS[3]) or '0')
  if fence < current then return false end
  if fence > current then redis.call('SET', KEYS[3], fence, 'EX', ARGV[4]) end
end
-- Renews a key's TTL without ever shortening it (a request waiting for an approval keeps
-- its events longer: EventLog.keepFor).
local function keep(key)
  redis.call('EXPIRE', key, ARGV[4], 'NX')
  redis.call('EXPIRE', key, ARGV[4], 'GT')
end
local fresh = 0
if redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2])))
  fresh = 1
end
local seq
local published = {}
local function add(payload)
  seq = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], string.format('%d-0', seq), 'e', payload)
  published[#published + 1] = string.format('%d ', seq) .. payload
end
if fresh == 1 then
  for i = 7, #ARGV do add(ARGV[i]) end
end
add(ARGV[1])
redis.call('SPUBLISH', KEYS[6], table.concat(published, '\\n'))
if ARGV[3] == '1' then redis.call('SET', KEYS[4], seq, 'EX', ARGV[4]) end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[5], ARGV[6], seq)
  keep(KEYS[5])
end
keep(KEYS[1])
keep(KEYS[2])
return {seq, fresh}
`;

/** Upper bound on the events kept per request (a long reply is one delta per token). */
export const MAX_EVENTS_PER_REQUEST = 50_000;

/** Digits of an eventId: a microsecond clock reading has 16 until the year 2286. */
const EVENT_ID_WIDTH = 16;

/** The client-facing eventId of an event's sequence number. */
export function toEventId(seq: number): string {
  return String(seq).padStart(EVENT_ID_WIDTH, '0');
}

/** What a client's `lastEventId` may look like (older ids had 10 digits). */
export const EVENT_ID_RE = /^\d{1,16}$/;

/** Parses a client's `lastEventId`; undefined when it is not one of ours. */
export function parseEventId(eventId: string): number | undefined {
  if (!EVENT_ID_RE.test(eventId)) return undefined;
  return Number(eventId);
}

/** Redis keys of one request; the hash tag keeps them in one cluster slot. */
export function requestKeys(userId: string, requestId: string) {
  const tag = `{req:${userId}:${requestId}}`;
  return {
    stream: `chat:${tag}:events`,
    seq: `chat:${tag}:seq`,
    fence: `chat:${tag}:fence`,
    end: `chat:${tag}:end`,
    once: `chat:${tag}:once`,
    /** Shard channel the append script publishes every new entry on (live followers). */
    live: `chat:${tag}:live`,
  };
}

/** Sequence number of a stream entry id written by the append script (`<seq>-0`). */
export function seqOfStreamId(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

export interface AppendOptions {
  /** Fencing token (the LLM activity's attempt number); 0 or absent = unfenced. */
  fence?: number;
  /** How the request came in, for metrics of terminal events (workers/metered-event-log.ts). */
  method?: ChatMethod;
  /**
   * A name that makes the append happen once per request: a repeat (a retried step)
   * writes nothing and answers the first write's seq.
   */
  once?: string;
  /**
   * Events written just before this one when the request's events turn out to be lost
   * (see the module doc), e.g. `restart` + the full text before a `done`.
   */
  ifLost?: readonly RequestEvent[];
}

/** An accepted append: its seq, and whether the request's events were lost before it. */
export interface Appended {
  seq: number;
  /**
   * True when the request had no events in Redis (its first event, or the first after
   * Redis lost them; then events the client had not read yet may be gone).
   */
  fresh: boolean;
}

type AppendCommand = (...args: string[]) => Promise<[number, number] | null>;

/** Writes request events; see the module doc for the guarantees. */
export class EventLog {
  private readonly append_: AppendCommand;

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {
    if (!('chatAppendEvent' in redis)) {
      redis.defineCommand('chatAppendEvent', { numberOfKeys: 6, lua: APPEND_SCRIPT });
    }
    const cmd = (redis as unknown as { chatAppendEvent: AppendCommand }).chatAppendEvent;
    this.append_ = cmd.bind(redis);
  }

  /**
   * Appends an event; returns its sequence number, or null when it was refused
   * (the request already ended, or a later attempt fenced this one off).
   */
  async append(
    userId: string,
    requestId: string,
    event: RequestEvent,
    options: AppendOptions = {},
  ): Promise<number | null> {
    return (await this.write(userId, requestId, event, options))?.seq ?? null;
  }

  /** Like {@link append}, and says whether the request's earlier events were lost. */
  async write(
    userId: string,
    requestId: string,
    event: RequestEvent,
    options: AppendOptions = {},
  ): Promise<Appended | null> {
    const k = requestKeys(userId, requestId);
    const reply = await this.append_(
      k.stream,
      k.seq,
      k.fence,
      k.end,
      k.once,
      k.live,
      JSON.stringify(event),
      String(options.fence ?? 0),
      TERMINAL_EVENT_TYPES.has(event.type) ? '1' : '0',
      String(this.ttlSeconds),
      String(MAX_EVENTS_PER_REQUEST),
      options.once ?? '',
      ...(options.ifLost ?? []).map((e) => JSON.stringify(e)),
    );
    return reply === null ? null : { seq: Number(reply[0]), fresh: reply[1] === 1 };
  }

  /**
   * Keeps the request's events at least `seconds` from now (never shortens them): a
   * request that waits for a decision for a day must still be resumable then. The next
   * append sets the usual TTL again.
   */
  async keepFor(userId: string, requestId: string, seconds: number): Promise<void> {
    const k = requestKeys(userId, requestId);
    const pipe = this.redis.pipeline();
    for (const key of [k.stream, k.seq, k.fence, k.once]) pipe.expire(key, Math.ceil(seconds), 'GT');
    await pipe.exec();
  }

  /** True when the request has written at least one event (and it has not expired). */
  async exists(userId: string, requestId: string): Promise<boolean> {
    return (await this.redis.exists(requestKeys(userId, requestId).stream)) === 1;
  }

  /** True when the request has ended (its terminal event is written). */
  async ended(userId: string, requestId: string): Promise<boolean> {
    return (await this.redis.exists(requestKeys(userId, requestId).end)) === 1;
  }
}

/**
 * What a client needs after Redis lost a request's events: discard the text you have
 * (some deltas may be gone), here is all of it.
 */
export function lostTextRecovery(content: string): RequestEvent[] {
  if (content === '') return [{ type: 'restart', reason: EVENTS_LOST }];
  return [
    { type: 'restart', reason: EVENTS_LOST },
    { type: 'delta', content },
  ];
}

/** The `restart` reason when Redis lost events the client may not have read. */
export const EVENTS_LOST = 'events_lost';

/**
 * Decodes a live message of the append script: `<seq> <payload>` lines, in seq order.
 * Lines that do not parse are skipped (a reader then sees a gap and reads the stream).
 */
export function decodeLiveMessage(message: string): Array<[RequestEvent, number]> {
  const out: Array<[RequestEvent, number]> = [];
  for (const line of message.split('\n')) {
    const space = line.indexOf(' ');
    const seq = Number(line.slice(0, space));
    if (space <= 0 || !Number.isSafeInteger(seq)) continue;
    try {
      out.push([JSON.parse(line.slice(space + 1)) as RequestEvent, seq]);
    } catch {
      /* skipped: see above */
    }
  }
  return out;
}

/** Decodes one stream entry's fields into the event it carries. */
export function decodeEntry(fields: string[]): RequestEvent | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'e') {
      try {
        return JSON.parse(fields[i + 1] as string) as RequestEvent;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
