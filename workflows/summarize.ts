/**
 * summarizeWorkflow: folds older turns of a session into its running summary.
 * One runs per session at a time (its workflow id is the session's); chat requests
 * start it and never wait for it, and its failures never fail a chat request.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  summaryWorkflowId,
  type SummarizeWorkflowInput,
  type SummarizeWorkflowResult,
} from '../contracts/summarize';
import type { ChatWorkflowInput } from '../contracts/chat';

/** Two attempts, then the run fails (the breaker decides when to try again). */
const summaries = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumAttempts: 2 },
});

export async function summarizeWorkflow(
  input: SummarizeWorkflowInput,
): Promise<SummarizeWorkflowResult> {
  return await summaries.summarizeSession(input);
}

/**
 * Starts the session's summarisation unless one is already running. Returns true when
 * this call started it. The child is abandoned: it outlives the chat request.
 * `foldBefore` is the first message of the triggering prompt's window.
 */
export async function startSummary(chat: ChatWorkflowInput, foldBefore: string): Promise<boolean> {
  try {
    await startChild(summarizeWorkflow, {
      workflowId: summaryWorkflowId(chat.sessionId),
      taskQueue: chat.taskQueues.summaries,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      args: [
        {
          sessionId: chat.sessionId,
          model: chat.settings.summaryModel,
          keepRecent: chat.settings.maxHistoryMessages,
          foldBefore,
          minNewMessages: chat.settings.summaryMinNewMessages,
          maxSummaryTokens: chat.settings.summaryMaxTokens,
        },
      ],
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}
