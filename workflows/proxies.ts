/**
 * Activity proxies shared by the workflows, one per timeout class (docs/ARCHITECTURE.md).
 * Workflows import activities with `import type` only.
 */
import {
  proxyActivities,
  proxyLocalActivities,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ChatSettings } from '../contracts/chat';
import { FAILURE_TYPES, type FailureType } from '../contracts/errors';

/** Domain failures that no retry can fix. */
export const NON_RETRYABLE: FailureType[] = [
  FAILURE_TYPES.NotFound,
  FAILURE_TYPES.ContextTooLarge,
  FAILURE_TYPES.QuotaExceeded,
  FAILURE_TYPES.LlmUnavailable,
];

/** The LLM call's activity name, checked against the activities' own names. */
export const LLM_ACTIVITY: keyof Activities = 'callLlm';

/** Backoff of the local steps: 0.2 s doubling to 5 s. */
const LOCAL_BACKOFF = { initialMs: 200, coefficient: 2, maximumMs: 5_000 } as const;

/**
 * A local-activity retry policy whose attempts stop once their backoffs add up to
 * `budgetMs`. Why attempts and not only `scheduleToCloseTimeout`: the SDK core (1.24)
 * loses a local activity's schedule-to-close timeout when it fires while the activity
 * is backing off between attempts (the usual case when a dependency refuses at once),
 * and the activity then retries forever. Both are set: whichever ends first wins.
 */
export function localRetryWithin(budgetMs: number): LocalActivityOptions {
  let attempts = 1;
  for (let waited = 0, next: number = LOCAL_BACKOFF.initialMs; waited < budgetMs; attempts++) {
    waited += next;
    next = Math.min(next * LOCAL_BACKOFF.coefficient, LOCAL_BACKOFF.maximumMs);
  }
  return {
    startToCloseTimeout: 10_000,
    scheduleToCloseTimeout: budgetMs,
    retry: {
      initialInterval: LOCAL_BACKOFF.initialMs,
      backoffCoefficient: LOCAL_BACKOFF.coefficient,
      maximumInterval: LOCAL_BACKOFF.maximumMs,
      maximumAttempts: attempts,
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
  };
}

/** Fast steps (Postgres + Redis only), as local activities: no round trip to the server. */
export const fast = proxyLocalActivities<Activities>(localRetryWithin(120_000));

/**
 * The LLM heartbeats every second; this much silence means its worker is gone, for
 * chats started before `llmHeartbeatTimeoutMs` was a setting.
 */
export const LLM_HEARTBEAT_TIMEOUT_MS = 10_000;

/**
 * The LLM call: a regular activity (it heartbeats), retried by Temporal with a short
 * backoff so a failing LLM answers `llm_unavailable` in bounded time: at most
 * `llmMaxAttempts` attempts, 0.3 s, 0.6 s, 1.2 s, 2 s... apart.
 */
export function llmActivities(settings: ChatSettings) {
  return proxyActivities<Activities>({
    startToCloseTimeout: settings.llmAttemptTimeoutMs,
    heartbeatTimeout: settings.llmHeartbeatTimeoutMs ?? LLM_HEARTBEAT_TIMEOUT_MS,
    retry: {
      initialInterval: '300ms',
      backoffCoefficient: 2,
      maximumInterval: '2s',
      maximumAttempts: settings.llmMaxAttempts,
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
  });
}

/**
 * The steps that write the reply and the ledger row to Postgres. Local activities like
 * {@link fast}, but their retry budget comes from settings (`REPLY_STORE_BUDGET_MS`):
 * a Postgres outage shorter than the budget only delays `done`; past it the chat
 * workflow hands the usage record to a `billingWorkflow` (workflows/usage.ts).
 */
export function storeActivities(settings: ChatSettings) {
  return proxyLocalActivities<Activities>(
    localRetryWithin(settings.replyStoreBudgetMs ?? DEFAULT_REPLY_STORE_BUDGET_MS),
  );
}

/** The store budget of workflows started before `replyStoreBudgetMs` existed. */
export const DEFAULT_REPLY_STORE_BUDGET_MS = 120_000;
