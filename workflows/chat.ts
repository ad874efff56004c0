/**
 * chatWorkflow: one user message -> one streamed assistant reply.
 *
 * Deterministic orchestration only; every step that touches the world is an activity.
 * The short steps (prepare, finish, emit) are local activities; the LLM call is a
 * regular activity with heartbeats so a dead worker's call is retried elsewhere.
 * The request ends with exactly one `done` or `error` event on its stream.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  cancelSignal,
  chatStateQuery,
  type ChatPhase,
  type ChatWorkflowInput,
  type ChatWorkflowResult,
} from '../contracts/definitions';
import { ERRORS, errorSpecForType, type ErrorSpec } from '../contracts/errors';

/** Fast steps: Postgres + Redis only. Retried briefly, then the request fails. */
const fast = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '2m',
  retry: {
    initialInterval: '200ms',
    maximumInterval: '5s',
    nonRetryableErrorTypes: ['NotFound', 'ContextTooLarge', 'QuotaExceeded'],
  },
});

/** The LLM heartbeats every second; 10 s of silence means its worker is gone. */
const LLM_HEARTBEAT_TIMEOUT = '10s';

export async function chatWorkflow(input: ChatWorkflowInput): Promise<ChatWorkflowResult> {
  let phase: ChatPhase = 'preparing';
  let failure: ErrorSpec | undefined;
  setHandler(chatStateQuery, () => ({ phase, errorCode: failure?.code }));

  const work = new CancellationScope();
  setHandler(cancelSignal, () => work.cancel());

  const llm = proxyActivities<Activities>({
    startToCloseTimeout: input.settings.llmAttemptTimeoutMs,
    heartbeatTimeout: LLM_HEARTBEAT_TIMEOUT,
    retry: {
      initialInterval: '300ms',
      backoffCoefficient: 2,
      maximumInterval: '2s',
      maximumAttempts: input.settings.llmMaxAttempts,
      nonRetryableErrorTypes: ['LlmUnavailable', 'ContextTooLarge'],
    },
  });

  const ids = { requestId: input.requestId, userId: input.userId };
  try {
    const reply = await work.run(async () => {
      const prepared = await fast.prepareChat({
        ...ids,
        sessionId: input.sessionId,
        content: input.content,
        model: input.model,
        maxHistoryMessages: input.settings.maxHistoryMessages,
      });
      phase = 'calling_llm';
      return await llm.callLlm({
        ...ids,
        model: input.model,
        messages: prepared.messages,
        maxTokens: input.settings.maxCompletionTokens,
      });
    });
    phase = 'finishing';
    const finished = await fast.finishChat({
      ...ids,
      sessionId: input.sessionId,
      plan: input.plan,
      model: input.model,
      content: reply.content,
      usage: reply.usage,
    });
    phase = 'completed';
    return { status: 'completed', messageId: finished.messageId, usage: reply.usage };
  } catch (err) {
    failure = classify(err);
    phase = 'failed';
    const spec = failure;
    await CancellationScope.nonCancellable(() =>
      fast.emitEvent({ ...ids, event: { type: 'error', code: spec.code, message: spec.message } }),
    );
    if (spec.code === 'llm_unavailable' || spec.code === 'internal') {
      // A system failure: fail the workflow so operators see it in the Temporal UI.
      throw ApplicationFailure.create({ type: spec.code, message: spec.message, cause: asError(err), nonRetryable: true });
    }
    return { status: 'error', code: spec.code, message: spec.message };
  }
}

/** Maps a failure to the contract's error: by failure type, never by message text. */
function classify(err: unknown): ErrorSpec {
  if (isCancellation(err)) return ERRORS.Cancelled;
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    const type = cause instanceof ApplicationFailure ? cause.type : undefined;
    const spec = errorSpecForType(type);
    if (spec !== ERRORS.Internal) return spec;
    // Retries exhausted, a timeout, or a transient type: the LLM is unavailable.
    if (err.activityType === 'callLlm') return ERRORS.LlmUnavailable;
  }
  return ERRORS.Internal;
}

function asError(err: unknown): Error | undefined {
  return err instanceof Error ? err : undefined;
}
