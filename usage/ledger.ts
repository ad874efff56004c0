/**
 * The usage ledger in Postgres (`usage_records`, migration 004): the durable record of
 * every request's tokens, written once per request (by the chat workflow's reply step, or a
 * billing workflow when that write failed), and the
 * source the Redis counters are rebuilt from. Also the per-user quota overrides.
 */
import type { Pool } from 'pg';
import type { Plan } from '../contracts/common';
import type { UsageRecord } from '../contracts/billing';
import type { Queryable } from '../store/db';
import { timeQuery } from '../lib/metrics';
import type { LedgerBase, QuotaLimits } from './counters';

/** The plans' limits from config. */
export interface PlanLimits {
  freeDailyTokens: number;
  proDailyTokens: number;
  freeMonthlyTokens: number;
  proMonthlyTokens: number;
}

/** Monthly limit of a daily override that has no monthly one (SPEC: monthly = 30x daily). */
export const MONTHLY_PER_DAILY = 30;

/** Start of the UTC day of `t`. */
export function startOfUtcDay(t: Date): Date {
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
}

/** Start of the UTC month of `t`, shifted by `add` months. */
export function startOfUtcMonth(t: Date, add = 0): Date {
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + add, 1));
}

/** Inserts a request's usage; false when it was already there (idempotent). */
export async function insertUsage(db: Queryable, r: UsageRecord): Promise<boolean> {
  const res = await timeQuery('usage_insert', () =>
    db.query(
      `INSERT INTO usage_records (user_id, request_id, session_id, model, prompt_tokens,
         completion_tokens, total_tokens, estimated, created_at, cost_usd)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (user_id, request_id) DO NOTHING`,
      [
        r.userId,
        r.requestId,
        r.sessionId || null,
        r.model,
        r.promptTokens,
        r.completionTokens,
        r.totalTokens,
        r.estimated,
        r.createdAt,
        r.costUsd ?? null,
      ],
    ),
  );
  return res.rowCount === 1;
}

/** The user's limits: the plan's, unless an override row says otherwise. */
export async function limitsFor(
  db: Pool,
  userId: string,
  plan: Plan,
  plans: PlanLimits,
): Promise<QuotaLimits> {
  const { rows } = await timeQuery('quota_override', () =>
    db.query<{ daily_tokens: string | null; monthly_tokens: string | null }>(
      'SELECT daily_tokens, monthly_tokens FROM user_quota_overrides WHERE user_id = $1',
      [userId],
    ),
  );
  const planDaily = plan === 'pro' ? plans.proDailyTokens : plans.freeDailyTokens;
  const planMonthly = plan === 'pro' ? plans.proMonthlyTokens : plans.freeMonthlyTokens;
  const o = rows[0];
  const daily = o?.daily_tokens != null ? Number(o.daily_tokens) : planDaily;
  const monthly =
    o?.monthly_tokens != null
      ? Number(o.monthly_tokens)
      : o?.daily_tokens != null
        ? MONTHLY_PER_DAILY * daily
        : planMonthly;
  return { daily, monthly };
}

/** The ledger sums that seed a user's lost counters for the day and month of `now`. */
export function ledgerBase(db: Pool, userId: string, now: Date): LedgerBase {
  return async (q) => {
    const day = startOfUtcDay(now);
    const { rows } = await timeQuery('usage_sum', () =>
      db.query<{ day: string; month: string }>(
        `SELECT
           COALESCE(SUM(total_tokens) FILTER (
             WHERE created_at >= $2 AND created_at < $3 AND NOT (request_id = ANY($6::text[]))), 0) AS day,
           COALESCE(SUM(total_tokens) FILTER (WHERE NOT (request_id = ANY($7::text[]))), 0) AS month
         FROM usage_records
         WHERE user_id = $1 AND created_at >= $4 AND created_at < $5`,
        [
          userId,
          day,
          new Date(day.getTime() + 86_400_000),
          startOfUtcMonth(now),
          startOfUtcMonth(now, 1),
          q.excludeDay,
          q.excludeMonth,
        ],
      ),
    );
    return { day: Number(rows[0]?.day ?? 0), month: Number(rows[0]?.month ?? 0) };
  };
}

/** Tokens and their cost in US dollars (rows without a price cost 0). */
export interface LedgerTotal {
  tokens: number;
  costUsd: number;
}

/** Ledger totals per UTC day (`YYYY-MM-DD`) since `from`, and of the month of `now`. */
export async function ledgerUsage(
  db: Pool,
  userId: string,
  from: Date,
  now: Date,
): Promise<{ byDay: Map<string, LedgerTotal>; month: LedgerTotal }> {
  const [days, month] = await Promise.all([
    timeQuery('usage_daily', () =>
      db.query<{ day: string; tokens: string; cost: string }>(
        `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, SUM(total_tokens) AS tokens,
                COALESCE(SUM(cost_usd), 0) AS cost
           FROM usage_records WHERE user_id = $1 AND created_at >= $2
          GROUP BY 1`,
        [userId, from],
      ),
    ),
    timeQuery('usage_sum', () =>
      db.query<{ tokens: string; cost: string }>(
        `SELECT COALESCE(SUM(total_tokens), 0) AS tokens, COALESCE(SUM(cost_usd), 0) AS cost FROM usage_records
          WHERE user_id = $1 AND created_at >= $2 AND created_at < $3`,
        [userId, startOfUtcMonth(now), startOfUtcMonth(now, 1)],
      ),
    ),
  ]);
  const total = (r: { tokens: string; cost: string } | undefined): LedgerTotal => ({
    tokens: Number(r?.tokens ?? 0),
    costUsd: Number(r?.cost ?? 0),
  });
  return {
    byDay: new Map(days.rows.map((r) => [r.day, total(r)])),
    month: total(month.rows[0]),
  };
}
