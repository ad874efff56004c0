/**
 * Per-user token counters in Redis: daily (UTC), monthly and per session. A request's
 * usage is added exactly once: the per-request marker is set in the same script that
 * bumps the counters, so a retried activity changes nothing.
 */
import type { Redis } from 'ioredis';

const SETTLE_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('INCRBY', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  redis.call('INCRBY', KEYS[3], ARGV[1])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
  redis.call('INCRBY', KEYS[4], ARGV[1])
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
return tonumber(redis.call('GET', KEYS[2]) or '0')
`;

const DAY_S = 86_400;

/** `YYYY-MM-DD` of a time, in UTC (quota days start at 00:00 UTC). */
export function utcDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** `YYYY-MM` of a time, in UTC. */
export function utcMonth(now: Date): string {
  return now.toISOString().slice(0, 7);
}

/** Redis keys of a user's counters; the hash tag keeps one user's keys in one slot. */
export function usageKeys(userId: string, now: Date, sessionId = '', requestId = '') {
  const tag = `{u:${userId}}`;
  return {
    marker: `usage:${tag}:req:${requestId}`,
    daily: `usage:${tag}:d:${utcDay(now)}`,
    monthly: `usage:${tag}:m:${utcMonth(now)}`,
    session: `usage:${tag}:s:${sessionId}`,
  };
}

type SettleCommand = (...args: string[]) => Promise<number>;

/** Adds token usage to a user's counters, once per request. */
export class UsageCounters {
  private readonly settle_: SettleCommand;

  constructor(private readonly redis: Redis) {
    if (!('chatSettleUsage' in redis)) {
      redis.defineCommand('chatSettleUsage', { numberOfKeys: 4, lua: SETTLE_SCRIPT });
    }
    this.settle_ = (redis as unknown as { chatSettleUsage: SettleCommand }).chatSettleUsage.bind(
      redis,
    );
  }

  /** Adds `tokens` for this request (once); returns the user's tokens used today. */
  async record(
    userId: string,
    sessionId: string,
    requestId: string,
    tokens: number,
    now: Date,
  ): Promise<number> {
    const k = usageKeys(userId, now, sessionId, requestId);
    return Number(
      await this.settle_(
        k.marker,
        k.daily,
        k.monthly,
        k.session,
        String(tokens),
        String(2 * DAY_S),
        String(2 * DAY_S),
        String(32 * DAY_S),
      ),
    );
  }

  /** Tokens the user has used today (UTC). */
  async dailyUsed(userId: string, now: Date): Promise<number> {
    return Number((await this.redis.get(usageKeys(userId, now).daily)) ?? 0);
  }
}
