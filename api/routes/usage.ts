/** `GET /v1/me/usage?days=N`: the caller's token usage and quotas (docs/API.md "HTTP"). */
import express, { type Request, type Router } from 'express';
import type { Redis } from 'ioredis';
import type { Plan } from '../../contracts/common';
import { ERRORS } from '../../contracts/errors';
import { UsageCounters, utcDay, utcMonth } from '../../usage/counters';
import { ledgerUsage, limitsFor, startOfUtcDay } from '../../usage/ledger';
import type { ApiDeps } from '../deps';
import { AppError } from '../errors';

export const MAX_USAGE_DAYS = 90;
export const DEFAULT_USAGE_DAYS = 7;
const DAY_MS = 86_400_000;

export interface UsageBody {
  daily: Array<{ date: string; tokens: number; costUsd: number }>;
  month: { period: string; tokens: number; costUsd: number };
  quota: {
    plan: Plan;
    daily: { used: number; limit: number; remaining: number };
    monthly: { used: number; limit: number; remaining: number };
  };
}

const counters = new WeakMap<Redis, UsageCounters>();
function countersOf(redis: Redis): UsageCounters {
  let c = counters.get(redis);
  if (!c) counters.set(redis, (c = new UsageCounters(redis)));
  return c;
}

/** `?days=N`: a whole number from 1 to 90 (default 7). */
export function parseDays(raw: unknown): number {
  if (raw === undefined) return DEFAULT_USAGE_DAYS;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < 1 || n > MAX_USAGE_DAYS) {
    throw new AppError(
      ERRORS.BadRequest,
      `days must be a whole number from 1 to ${MAX_USAGE_DAYS}`,
    );
  }
  return n;
}

/**
 * The usage report. Each day (and the month) is the larger of the Postgres ledger
 * and the Redis counter: the counter is ahead while billing rows are still landing
 * (async, retried while Postgres is down), the ledger holds days whose counters
 * expired or were lost. Both only ever grow, so the larger one is the best known.
 * `costUsd` comes from the ledger alone (the counters hold tokens): a request's cost
 * shows once its row has landed.
 */
export async function usageReport(
  deps: ApiDeps,
  userId: string,
  plan: Plan,
  days: number,
  now: Date,
): Promise<UsageBody> {
  const today = startOfUtcDay(now);
  const dates = Array.from(
    { length: days },
    (_, i) => new Date(today.getTime() - (days - 1 - i) * DAY_MS),
  );
  const [ledger, redis, limits] = await Promise.all([
    ledgerUsage(deps.db, userId, dates[0] ?? today, now),
    countersOf(deps.redis).usedOn(userId, dates, now),
    limitsFor(deps.db, userId, plan, deps.config),
  ]);
  const daily = dates.map((d, i) => {
    const date = utcDay(d);
    const day = ledger.byDay.get(date);
    return { date, tokens: Math.max(day?.tokens ?? 0, redis.days[i] ?? 0), costUsd: day?.costUsd ?? 0 };
  });
  const monthTokens = Math.max(ledger.month.tokens, redis.month ?? 0);
  const dayUsed = daily.at(-1)?.tokens ?? 0;
  return {
    daily,
    month: { period: utcMonth(now), tokens: monthTokens, costUsd: ledger.month.costUsd },
    quota: {
      plan,
      daily: { used: dayUsed, limit: limits.daily, remaining: Math.max(0, limits.daily - dayUsed) },
      monthly: {
        used: monthTokens,
        limit: limits.monthly,
        remaining: Math.max(0, limits.monthly - monthTokens),
      },
    },
  };
}

function callerOf(req: Request) {
  if (!req.user) throw new AppError(ERRORS.Unauthorized);
  return req.user;
}

/** The usage routes (mounted on the authenticated `/v1` router). */
export function usageRoutes(deps: ApiDeps): Router {
  const router = express.Router();
  router.get('/me/usage', async (req, res) => {
    const user = callerOf(req);
    const days = parseDays(req.query.days);
    res.json(await usageReport(deps, user.userId, user.plan, days, new Date()));
  });
  return router;
}
