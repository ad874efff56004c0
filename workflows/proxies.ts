/**
 * Activity proxies shared by the workflows, one per timeout class (docs/ARCHITECTURE.md).
 * Workflows import activities with `import type` only.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ChatSettings } from '../contracts/definitions';
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

/** Fast steps (Postgres + Redis only), as local activities: no round trip to the server. */
export const fast = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '200ms', maximumInterval: '5s', nonRetryableErrorTypes: NON_RETRYABLE },
});

/** The LLM heartbeats every second; 10 s of silence means its worker is gone. */
export const LLM_HEARTBEAT_TIMEOUT = '10s';

/**
 * The LLM call: a regular activity (it heartbeats), retried by Temporal with a short
 * backoff so a failing LLM answers `llm_unavailable` in bounded time: at most
 * `llmMaxAttempts` attempts, 0.3 s, 0.6 s, 1.2 s, 2 s... apart.
 */
export function llmActivities(settings: ChatSettings) {
  return proxyActivities<Activities>({
    startToCloseTimeout: settings.llmAttemptTimeoutMs,
    heartbeatTimeout: LLM_HEARTBEAT_TIMEOUT,
    retry: {
      initialInterval: '300ms',
      backoffCoefficient: 2,
      maximumInterval: '2s',
      maximumAttempts: settings.llmMaxAttempts,
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
  });
}
