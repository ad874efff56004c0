/**
 * Quota steps of a chat request: reserve before the LLM call, settle after it on every
 * path (success, failure, cancel). Both are short Redis scripts (usage/counters.ts)
 * run as local activities; `reserve` may first rebuild lost counters from the ledger.
 */
import type { Plan, TokenUsage } from '../contracts/common';
import { ERRORS, FAILURE_TYPES, failure } from '../contracts/errors';
import { llmCostUsdTotal, quotaRefusalsTotal, tokensConsumedTotal } from '../lib/metrics';
import type { QuotaLimits, ReserveVerdict } from '../usage/counters';
import { ledgerBase, limitsFor, startOfUtcDay, startOfUtcMonth } from '../usage/ledger';
import type { ActivityDeps } from './deps';

export interface ReserveQuotaInput {
  userId: string;
  requestId: string;
  plan: Plan;
  /** Tokens to hold: the prompt's count plus the most the completion may use. */
  amount: number;
}

export interface ReserveQuotaOutput {
  amount: number;
  dailyLimit: number;
  monthlyLimit: number;
}

export interface SettleUsageInput {
  userId: string;
  requestId: string;
  sessionId: string;
  model: string;
  plan: Plan;
  /** What the LLM calls really used (all zero when nothing is to be billed). */
  usage: TokenUsage;
  /** From the reservation; looked up again when the reservation never completed. */
  dailyLimit?: number;
  /**
   * Tokens of `usage` already added to the counters by earlier parts: only the rest is
   * added now. Absent = none.
   */
  counted?: number;
  /**
   * Settles part `n` of the request (its usage so far, before it waits for an approval):
   * the counters move and the reservation is dropped, without a `usage` event.
   */
  part?: number;
}

export interface SettleUsageOutput {
  /** When the usage was settled (ISO): the billing record's `createdAt`. */
  settledAt: string;
  dailyUsed: number;
}

/** Distinct model label values per process; the model name comes from clients. */
const MAX_MODEL_LABELS = 32;
const modelLabels = new Set<string>();

/** A bounded `model` label: the model's name, or `other` past the first few names. */
export function modelLabel(model: string): string {
  if (modelLabels.has(model)) return model;
  if (modelLabels.size >= MAX_MODEL_LABELS || !/^[\w.:/-]{1,64}$/.test(model)) return 'other';
  modelLabels.add(model);
  return model;
}

/** The client-facing refusal: which limit, and when it resets (UTC). */
export function refusalMessage(
  v: ReserveVerdict & { ok: false },
  limits: QuotaLimits,
  amount: number,
  now: Date,
): string {
  if (v.scope === 'daily') {
    const resetsAt = new Date(startOfUtcDay(now).getTime() + 86_400_000).toISOString();
    const tooBig =
      amount > limits.daily
        ? ` This request needs up to ${amount} tokens, more than the daily quota of ${limits.daily}.`
        : '';
    return `${ERRORS.QuotaExceeded.message}.${tooBig} Used today: ${v.dailyUsed} of ${limits.daily} tokens; resets at ${resetsAt}.`;
  }
  const resetsAt = startOfUtcMonth(now, 1).toISOString();
  return `Monthly token quota exceeded (${v.monthlyUsed} of ${limits.monthly} tokens used this month), try again next month: quotas reset on the 1st at 00:00 UTC, next at ${resetsAt}.`;
}

/** Creates the quota activities over their dependencies. */
export function createQuotaActivities(deps: ActivityDeps) {
  const { usage, events } = deps;

  /**
   * Holds `amount` tokens against the user's daily and monthly quota, or refuses with
   * a non-retryable `QuotaExceeded` (nothing held, nothing billed). Idempotent per
   * request: a retry finds its own reservation.
   */
  async function reserveQuota(input: ReserveQuotaInput): Promise<ReserveQuotaOutput> {
    await events.append(input.userId, input.requestId, { type: 'status', state: 'checking_quota' });
    const now = deps.clock();
    const limits = await limitsFor(deps.db, input.userId, input.plan, deps.limits);
    const verdict = await usage.reserve(
      input.userId,
      input.requestId,
      input.amount,
      limits,
      deps.limits.reservationTtlSeconds * 1000,
      now,
      ledgerBase(deps.db, input.userId, now),
    );
    if (!verdict.ok) {
      quotaRefusalsTotal.inc({ reason: verdict.scope });
      throw failure(
        FAILURE_TYPES.QuotaExceeded,
        refusalMessage(verdict, limits, input.amount, now),
        {
          nonRetryable: true,
          details: [{ scope: verdict.scope }],
          benign: true,
        },
      );
    }
    return { amount: input.amount, dailyLimit: limits.daily, monthlyLimit: limits.monthly };
  }

  /**
   * Releases the request's reservation and adds what it really used to the counters,
   * once per request; then sends the `usage` event (once) when there was usage.
   */
  async function settleUsage(input: SettleUsageInput): Promise<SettleUsageOutput> {
    const u = input.usage;
    const settled = await usage.settle(
      input.userId,
      input.sessionId,
      input.requestId,
      Math.max(0, u.totalTokens - (input.counted ?? 0)),
      deps.clock(),
      input.part,
    );
    if (input.part) return { settledAt: settled.settledAt, dailyUsed: settled.dailyUsed };
    if (settled.first && u.totalTokens > 0) {
      const model = modelLabel(input.model);
      tokensConsumedTotal.inc({ model, type: 'prompt' }, u.promptTokens);
      tokensConsumedTotal.inc({ model, type: 'completion' }, u.completionTokens);
      // With the tokens, once per request: 0 for a model without a price, so the series exists.
      llmCostUsdTotal.inc({ model }, u.costUsd ?? 0);
    }
    if (settled.emitPending && u.totalTokens > 0) {
      const dailyLimit =
        input.dailyLimit ?? (await limitsFor(deps.db, input.userId, input.plan, deps.limits)).daily;
      await events.append(input.userId, input.requestId, {
        type: 'usage',
        promptTokens: u.promptTokens,
        completionTokens: u.completionTokens,
        totalTokens: u.totalTokens,
        quota: { dailyUsed: settled.dailyUsed, dailyLimit },
      });
      await usage.markEmitted(input.userId, input.requestId, settled.settledAt);
    }
    return { settledAt: settled.settledAt, dailyUsed: settled.dailyUsed };
  }

  return { reserveQuota, settleUsage };
}
