/**
 * chatWorkflow: one user message -> one streamed assistant reply.
 *
 * Deterministic orchestration only; every step that touches the world is an activity.
 * Steps: prepare the prompt (store the user message, prune the history) -> reserve
 * quota -> converse with the LLM -> settle usage (counters, `usage` event, billing;
 * on failure and cancel too) -> finish (store the reply, send `done`).
 * The request ends with exactly one `done` or `error` event on its stream. A `cancel`
 * signal cancels whatever step is running.
 */
import {
  ActivityFailure,
  CancellationScope,
  isCancellation,
  log,
  setHandler,
} from '@temporalio/workflow';
import {
  cancelSignal,
  chatStateQuery,
  type ChatPhase,
  type ChatWorkflowInput,
  type ChatWorkflowResult,
  type TokenUsage,
} from '../contracts/definitions';
import {
  ERRORS,
  errorSpecForType,
  FAILURE_TYPES,
  failure as catalogFailure,
  failureType,
  type ErrorSpec,
} from '../contracts/errors';
import { type CompletionReply, converseForClient } from './completion';
import { converse, type Reply } from './converse';
import { fast, LLM_ACTIVITY } from './proxies';
import { startSummary } from './summarize';
import { quotaRefusalMessage, RequestMeter } from './usage';

export async function chatWorkflow(input: ChatWorkflowInput): Promise<ChatWorkflowResult> {
  let phase: ChatPhase = 'preparing';
  let failure: ErrorSpec | undefined;
  setHandler(chatStateQuery, () => ({ phase, errorCode: failure?.code }));

  const work = new CancellationScope();
  setHandler(cancelSignal, () => work.cancel());

  const ids = { requestId: input.requestId, userId: input.userId };
  const meter = new RequestMeter(input);
  try {
    const reply = await work.run(async () => {
      const { completion } = input;
      const prepared = completion
        ? await fast.prepareCompletion({
            ...ids,
            sessionId: input.sessionId,
            model: input.model,
            settings: input.settings,
            completion,
          })
        : await fast.prepareChat({
            ...ids,
            sessionId: input.sessionId,
            content: input.content,
            model: input.model,
            settings: input.settings,
          });
      await meter.reserve(prepared.promptTokens);
      phase = 'calling_llm';
      const onUsage = (usage: TokenUsage) => meter.report(usage);
      const reply: Reply & Partial<CompletionReply> = completion
        ? await converseForClient(input, completion, prepared.messages, onUsage)
        : await converse(input, prepared.messages, onUsage);
      return { ...reply, summaryDue: prepared.summaryDue, foldBefore: prepared.windowStartId };
    });
    await meter.settle(reply.usage);
    if (reply.summaryDue) await summarizeInBackground(input, reply.foldBefore);
    phase = 'finishing';
    const [, finished] = await Promise.all([
      meter.billingStarted(),
      fast.finishChat({
        ...ids,
        sessionId: input.sessionId,
        plan: input.plan,
        model: input.model,
        content: reply.content,
        usage: reply.usage,
        ...(input.completion
          ? {
              store: !input.completion.stateless,
              toolCalls: reply.toolCalls,
              finishReason: reply.finishReason,
            }
          : {}),
        ...(input.method ? { method: input.method } : {}),
      }),
    ]);
    phase = 'completed';
    return { status: 'completed', messageId: finished.messageId, usage: reply.usage };
  } catch (err) {
    failure = classify(err);
    phase = 'failed';
    const spec = failure;
    const message = quotaRefusalMessage(err) ?? spec.message;
    await CancellationScope.nonCancellable(async () => {
      await meter.settleFailed();
      await fast.emitEvent({
        ...ids,
        event: { type: 'error', code: spec.code, message },
        ...(input.method ? { method: input.method } : {}),
      });
      await meter.billingStarted();
    });
    if (spec === ERRORS.LlmUnavailable || spec === ERRORS.Internal) {
      // A system failure: fail the workflow so operators see it in the Temporal UI.
      const type = spec === ERRORS.LlmUnavailable ? FAILURE_TYPES.LlmUnavailable : FAILURE_TYPES.Internal;
      throw catalogFailure(type, spec.message, {
        cause: err instanceof Error ? err : undefined,
        nonRetryable: true,
      });
    }
    return { status: 'error', code: spec.code, message };
  }
}

/**
 * Starts the session's summarisation without waiting for it. Nothing about it can fail
 * the chat request: until a summary exists, prompts carry the window alone.
 */
async function summarizeInBackground(input: ChatWorkflowInput, foldBefore: string): Promise<void> {
  try {
    if (await startSummary(input, foldBefore)) {
      await fast.emitEvent({
        requestId: input.requestId,
        userId: input.userId,
        event: { type: 'status', state: 'summarizing', detail: 'summarising earlier messages' },
      });
    }
  } catch (err) {
    log.warn('could not start summarisation', { error: String(err) });
  }
}

/** Maps a failure to the contract's error: by failure type, never by message text. */
export function classify(err: unknown): ErrorSpec {
  if (isCancellation(err)) return ERRORS.Cancelled;
  if (err instanceof ActivityFailure) {
    const spec = errorSpecForType(failureType(err));
    if (spec !== ERRORS.Internal) return spec;
    // Retries exhausted, a timeout, or a transient type: the LLM is unavailable.
    if (err.activityType === LLM_ACTIVITY) return ERRORS.LlmUnavailable;
  }
  // A local activity's non-retryable failure arrives unwrapped (no ActivityFailure).
  return errorSpecForType(failureType(err));
}
