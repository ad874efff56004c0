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
 * - numbers the event (`<seq>-0` stream ids, seq from 1), caps the stream and renews
 *   its TTL.
 *
 * The eventId the client sees is the zero-padded seq, so eventIds of a request sort
 * as strings in the order sent.
 */
import type { Redis } from 'ioredis';
import type { ChatMethod } from '../contracts/definitions';
import { TERMINAL_EVENT_TYPES, type RequestEvent } from '../contracts/protocol';

const APPEND_SCRIPT = `
if redis.call('EXISTS', KEYS[4]) == 1 then return false end
local fence = tonumber(ARGV[2])
if fence > 0 then
  local current = tonumber(redis.call('GET', KEYS[3]) or '0')
  if fence < current then return false end
  if fence > current then redis.call('SET', KEYS[3], fence, 'EX', ARGV[4]) end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], seq .. '-0', 'e', ARGV[1])
if ARGV[3] == '1' then redis.call('SET', KEYS[4], seq, 'EX', ARGV[4]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return seq
`;

/** Upper bound on the events kept per request (a long reply is one delta per token). */
export const MAX_EVENTS_PER_REQUEST = 50_000;

const EVENT_ID_WIDTH = 10;

/** The client-facing eventId of an event's sequence number. */
export function toEventId(seq: number): string {
  return String(seq).padStart(EVENT_ID_WIDTH, '0');
}

/** Parses a client's `lastEventId`; undefined when it is not one of ours. */
export function parseEventId(eventId: string): number | undefined {
  if (!/^\d{1,15}$/.test(eventId)) return undefined;
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
}

type AppendCommand = (
  stream: string,
  seq: string,
  fence: string,
  end: string,
  payload: string,
  fenceArg: string,
  terminal: string,
  ttl: string,
  maxLen: string,
) => Promise<number | null>;

/** Writes request events; see the module doc for the guarantees. */
export class EventLog {
  private readonly append_: AppendCommand;

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {
    if (!('chatAppendEvent' in redis)) {
      redis.defineCommand('chatAppendEvent', { numberOfKeys: 4, lua: APPEND_SCRIPT });
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
    const k = requestKeys(userId, requestId);
    const seq = await this.append_(
      k.stream,
      k.seq,
      k.fence,
      k.end,
      JSON.stringify(event),
      String(options.fence ?? 0),
      TERMINAL_EVENT_TYPES.has(event.type) ? '1' : '0',
      String(this.ttlSeconds),
      String(MAX_EVENTS_PER_REQUEST),
    );
    return seq === null ? null : Number(seq);
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
