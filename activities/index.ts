/**
 * All activities, built by one factory over their dependencies (Temporal's
 * activities-dependency-injection pattern). Workflows type their proxies with
 * `ReturnType<typeof createActivities>`.
 */
import { createApprovalActivities } from './approvals';
import { createBillingActivities } from './billing';
import { createChatActivities } from './chat';
import { createCompletionActivities } from './completions';
import type { ActivityDeps } from './deps';
import { withPermanentFailures } from './failures';
import { createLlmActivities } from './llm';
import { createMcpActivities } from './mcp';
import { createQuotaActivities } from './quota';
import { createSummaryActivities } from './summaries';
import { createSummarizeDocumentActivities } from './summarize-document';
import { createToolActivities } from './tools';

export type { ActivityDeps } from './deps';

/** Every activity, failures that no retry can fix made non-retryable (./failures.ts). */
export function createActivities(deps: ActivityDeps) {
  return withPermanentFailures({
    ...createChatActivities(deps),
    ...createCompletionActivities(deps),
    ...createLlmActivities(deps),
    ...createSummaryActivities(deps),
    ...createQuotaActivities(deps),
    ...createBillingActivities(deps),
    ...createToolActivities(deps),
    ...createSummarizeDocumentActivities(deps),
    ...createMcpActivities(deps),
    ...createApprovalActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
