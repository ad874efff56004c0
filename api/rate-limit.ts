/**
 * Abuse limits of the API.
 *
 * - {@link ChatRateLimiter}: chat requests per user per minute, a sliding-window log in
 *   one Redis script, so every API process shares one count per user (no per-replica
 *   limits) and the clock is Redis's own (no skew between processes). Entries are the
 *   request ids: a requestId already counted in the window is not counted again (an
 *   idempotent replay), and a start that turns out to be a replay is refunded.
 * - {@link TokenBucket}: frames per WebSocket connection, in memory (a flood is a
 *   property of one connection, so no shared state is needed).
 */
import type { Redis } from 'ioredis';

const WINDOW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return {1, 0, 0} end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now, 0}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0, 1}
`;

export const RATE_WINDOW_MS = 60_000;

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until a slot frees up (0 when allowed). */
  retryAfterSeconds: number;
  /** True when this call added the request to the window (refund only then). */
  counted: boolean;
}

type WindowCommand = (
  key: string,
  limit: string,
  windowMs: string,
  member: string,
) => Promise<[number, number, number]>;

/** Per-user chat request limit over a sliding minute, shared through Redis. */
export class ChatRateLimiter {
  private readonly take_: WindowCommand;

  constructor(private readonly redis: Redis) {
    if (!('chatRateWindow' in redis)) {
      redis.defineCommand('chatRateWindow', { numberOfKeys: 1, lua: WINDOW_SCRIPT });
    }
    this.take_ = (redis as unknown as { chatRateWindow: WindowCommand }).chatRateWindow.bind(redis);
  }

  static key(userId: string): string {
    return `ratelimit:{u:${userId}}:chat`;
  }

  /** Counts request `requestId` for the user if the window has room. */
  async take(userId: string, requestId: string, perMinute: number): Promise<RateDecision> {
    const [allowed, waitMs, added] = await this.take_(
      ChatRateLimiter.key(userId),
      String(perMinute),
      String(RATE_WINDOW_MS),
      requestId,
    );
    return allowed === 1
      ? { allowed: true, retryAfterSeconds: 0, counted: added === 1 }
      : {
          allowed: false,
          retryAfterSeconds: Math.max(1, Math.ceil(Number(waitMs) / 1000)),
          counted: false,
        };
  }

  /** Uncounts a request that turned out not to start anything (a replay). */
  async refund(userId: string, requestId: string): Promise<void> {
    await this.redis.zrem(ChatRateLimiter.key(userId), requestId);
  }
}

const limiters = new WeakMap<Redis, ChatRateLimiter>();

/** The limiter over an API's Redis connection (one per connection). */
export function chatRateLimiter(redis: Redis): ChatRateLimiter {
  let limiter = limiters.get(redis);
  if (!limiter) {
    limiter = new ChatRateLimiter(redis);
    limiters.set(redis, limiter);
  }
  return limiter;
}

/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = this.now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whole seconds until the next token (at least 1). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((1 - this.tokens) / this.rate));
  }
}
