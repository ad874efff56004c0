/**
 * Per-user token counters and quota reservations in Redis (shared by every process):
 * daily (UTC), monthly (UTC calendar month) and per session.
 *
 * - `reserve` atomically checks `used + reserved + amount` against the daily and the
 *   monthly limit and, when it fits, holds `amount` under the request's id with a TTL,
 *   so concurrent requests can never overshoot together, and a request whose workflow
 *   died cannot hold quota forever.
 * - `settle` drops the reservation and adds the real count, once per request: the
 *   per-request marker is set in the same script, so a retried activity changes nothing.
 * - Counters are rebuildable: one that Redis lost (restart, flush) is never trusted as
 *   zero; `reserve` asks for it to be seeded from the Postgres ledger first
 *   (`hydrate`). See usage/scripts.ts for the scripts' contracts.
 *
 * Rebuild trade-off: billing rows land asynchronously, a few ms after the settle (longer
 * while Postgres is down). Requests settled *after* Redis lost the counters are counted
 * exactly once (they are noted beside the counter and left out of the ledger sum).
 * Requests settled *before* the loss whose row had not landed yet when the counter is
 * rebuilt are missing from it: the counter undercounts by at most the billing lag of
 * that moment. We accept that rather than block quota checks on billing; the ledger
 * itself never misses them, and the usage endpoint reads max(ledger, counter).
 */
import type { Redis } from 'ioredis';
import { HYDRATE_SCRIPT, MARK_EMITTED_SCRIPT, RESERVE_SCRIPT, SETTLE_SCRIPT } from './scripts';

const DAY_S = 86_400;
/** Daily counters outlive their day a little (yesterday's usage stays readable). */
export const DAY_COUNTER_TTL_S = 3 * DAY_S;
export const MONTH_COUNTER_TTL_S = 35 * DAY_S;
/** Per-request settle markers: far longer than any retry of the settle activity. */
export const MARKER_TTL_S = 2 * DAY_S;

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
  const day = utcDay(now);
  const month = utcMonth(now);
  return {
    /** Every key of the user starts with this (tests, ops). */
    prefix: `usage:${tag}:`,
    marker: `usage:${tag}:req:${requestId}`,
    daily: `usage:${tag}:day:${day}`,
    monthly: `usage:${tag}:month:${month}`,
    session: `usage:${tag}:s:${sessionId}`,
    reservations: `usage:${tag}:resv`,
    reservedAmounts: `usage:${tag}:resamt`,
    dailyUnhydrated: `usage:${tag}:unh-day:${day}`,
    monthlyUnhydrated: `usage:${tag}:unh-month:${month}`,
  };
}

export interface QuotaLimits {
  daily: number;
  monthly: number;
}

export type ReserveVerdict =
  | { ok: true; dailyUsed: number; monthlyUsed: number; reserved: number }
  | {
      ok: false;
      scope: 'daily' | 'monthly';
      dailyUsed: number;
      monthlyUsed: number;
      reserved: number;
    };

/** What the ledger must say to seed counters: sums without the listed requests. */
export type LedgerBase = (q: {
  day: boolean;
  month: boolean;
  excludeDay: string[];
  excludeMonth: string[];
}) => Promise<{ day: number; month: number }>;

export interface SettleResult {
  /** True for the first settle of this request (the counters moved). */
  first: boolean;
  /** False once the request's usage event was sent (see {@link UsageCounters.markEmitted}). */
  emitPending: boolean;
  /** When the usage was first settled (decides its UTC day); ISO string. */
  settledAt: string;
  dailyUsed: number;
}

type Script = (...args: string[]) => Promise<unknown>;

const HYDRATE_ATTEMPTS = 5;

/** The quota counters of every user, over one Redis connection. */
export class UsageCounters {
  private readonly cmd: Record<'reserve' | 'settle' | 'hydrate' | 'emitted', Script>;

  constructor(private readonly redis: Redis) {
    const scripts = {
      chatQuotaReserve: [4, RESERVE_SCRIPT],
      chatQuotaSettle: [8, SETTLE_SCRIPT],
      chatQuotaHydrate: [4, HYDRATE_SCRIPT],
      chatQuotaEmitted: [1, MARK_EMITTED_SCRIPT],
    } as const;
    for (const [name, [numberOfKeys, lua]] of Object.entries(scripts)) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua });
    }
    const r = redis as unknown as Record<keyof typeof scripts, Script>;
    this.cmd = {
      reserve: r.chatQuotaReserve.bind(redis),
      settle: r.chatQuotaSettle.bind(redis),
      hydrate: r.chatQuotaHydrate.bind(redis),
      emitted: r.chatQuotaEmitted.bind(redis),
    };
  }

  /**
   * Holds `amount` tokens for request `id` if they fit both limits, counting other
   * requests' live reservations. Seeds lost counters through `ledger` first.
   */
  async reserve(
    userId: string,
    id: string,
    amount: number,
    limits: QuotaLimits,
    ttlMs: number,
    now: Date,
    ledger: LedgerBase,
  ): Promise<ReserveVerdict> {
    const k = usageKeys(userId, now);
    for (let attempt = 0; attempt < HYDRATE_ATTEMPTS; attempt++) {
      const raw = (await this.cmd.reserve(
        k.daily,
        k.monthly,
        k.reservations,
        k.reservedAmounts,
        id,
        String(amount),
        String(limits.daily),
        String(limits.monthly),
        String(ttlMs),
      )) as [string, number, number, number, number, number];
      const [verdict, dailyUsed, monthlyUsed, reserved, dayHydrated, monthHydrated] = raw;
      if (verdict === 'ok') return { ok: true, dailyUsed, monthlyUsed, reserved };
      if (verdict === 'daily' || verdict === 'monthly') {
        return { ok: false, scope: verdict, dailyUsed, monthlyUsed, reserved };
      }
      await this.hydrate(k, dayHydrated === 0, monthHydrated === 0, ledger);
    }
    throw new Error('quota counters kept changing while being rebuilt; try again');
  }

  /** Seeds the counters that are not hydrated from the ledger (one try). */
  private async hydrate(
    k: ReturnType<typeof usageKeys>,
    day: boolean,
    month: boolean,
    ledger: LedgerBase,
  ): Promise<void> {
    const [excludeDay, excludeMonth] = await Promise.all([
      day ? this.redis.hkeys(k.dailyUnhydrated) : Promise.resolve([]),
      month ? this.redis.hkeys(k.monthlyUnhydrated) : Promise.resolve([]),
    ]);
    const base = await ledger({ day, month, excludeDay, excludeMonth });
    await this.cmd.hydrate(
      k.daily,
      k.monthly,
      k.dailyUnhydrated,
      k.monthlyUnhydrated,
      String(day ? base.day : 0),
      String(month ? base.month : 0),
      String(excludeDay.length),
      String(excludeMonth.length),
      String(DAY_COUNTER_TTL_S),
      String(MONTH_COUNTER_TTL_S),
    );
  }

  /**
   * Drops the request's reservation and adds `tokens` to its day, month and session,
   * once per request (or per `part` of it) whatever is retried.
   */
  async settle(
    userId: string,
    sessionId: string,
    requestId: string,
    tokens: number,
    now: Date,
    part?: number,
  ): Promise<SettleResult> {
    // A part (the usage so far, settled before a wait for approval) has its own marker:
    // each part and the final settle count once; all drop the request's reservation.
    const k = usageKeys(userId, now, sessionId, part ? `${requestId}#part${part}` : requestId);
    const [first, marker, dailyUsed] = (await this.cmd.settle(
      k.daily,
      k.monthly,
      k.session,
      k.marker,
      k.reservations,
      k.reservedAmounts,
      k.dailyUnhydrated,
      k.monthlyUnhydrated,
      requestId,
      String(tokens),
      now.toISOString(),
      String(DAY_COUNTER_TTL_S),
      String(MONTH_COUNTER_TTL_S),
      String(MARKER_TTL_S),
    )) as [number, string, number];
    return {
      first: first === 1,
      emitPending: marker.startsWith('s|'),
      settledAt: marker.slice(2),
      dailyUsed: Number(dailyUsed),
    };
  }

  /** Records that the request's usage event was sent, so a retried settle won't resend it. */
  async markEmitted(userId: string, requestId: string, settledAt: string): Promise<void> {
    await this.cmd.emitted(usageKeys(userId, new Date(), '', requestId).marker, settledAt);
  }

  /** Tokens the user has used (settled) on the UTC day of `now`. */
  async dailyUsed(userId: string, now: Date): Promise<number> {
    return Number((await this.redis.hget(usageKeys(userId, now).daily, 'used')) ?? 0);
  }

  /** Tokens the user has used (settled) in the UTC month of `now`. */
  async monthlyUsed(userId: string, now: Date): Promise<number> {
    return Number((await this.redis.hget(usageKeys(userId, now).monthly, 'used')) ?? 0);
  }

  /** Settled tokens of a session (all time, while the counter lives). */
  async sessionUsed(userId: string, sessionId: string): Promise<number> {
    return Number((await this.redis.get(usageKeys(userId, new Date(), sessionId).session)) ?? 0);
  }

  /** Tokens held by the user's live reservations (expired ones not counted). */
  async reserved(userId: string): Promise<number> {
    const k = usageKeys(userId, new Date());
    const [[, ids], [, amounts]] = (await this.redis
      .multi()
      .zrangebyscore(k.reservations, Date.now(), '+inf')
      .hgetall(k.reservedAmounts)
      .exec()) as [[unknown, string[]], [unknown, Record<string, string>]];
    return ids.reduce((sum, id) => sum + Number(amounts[id] ?? 0), 0);
  }

  /**
   * The used counters of several UTC days (null where Redis holds none), oldest first,
   * plus the month of `now`.
   */
  async usedOn(
    userId: string,
    days: readonly Date[],
    now: Date,
  ): Promise<{ days: Array<number | null>; month: number | null }> {
    const pipe = this.redis.pipeline();
    for (const d of days) pipe.hget(usageKeys(userId, d).daily, 'used');
    pipe.hget(usageKeys(userId, now).monthly, 'used');
    const out = ((await pipe.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return v === null || v === undefined ? null : Number(v);
    });
    return { days: out.slice(0, days.length), month: out[days.length] ?? null };
  }
}
