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
  deprecatePatch,
  log,
  patched,
  setHandler,
} from '@temporalio/workflow';
import {
  cancelSignal,
  chatStateQuery,
  type ChatPhase,
  type ChatWorkflowInput,
  type ChatWorkflowResult,
} from '../contracts/chat';
import type { TokenUsage } from '../contracts/common';
import {
  ERRORS,
  errorSpecForType,
  FAILURE_TYPES,
  failure as catalogFailure,
  failureType,
  type ErrorSpec,
} from '../contracts/errors';
import { ApprovalDesk } from './approvals';
import { type CompletionReply, converseForClient } from './completion';
import { converse, type Reply } from './converse';
import { fast, LLM_ACTIVITY, storeActivities } from './proxies';
import { startSummary } from './summarize';
import { prepareChatInput, saveReplyInput } from './steps';
import { quotaRefusalMessage, RequestMeter } from './usage';

/**
 * Patch (being retired): the reply step writes the ledger row (one workflow execution per
 * request) instead of a billing child per request. The branch for workflows started
 * before it is gone (they ended long ago: chat workflows live at most an hour); the
 * deprecated marker stays for one release so that a rollback to the release before
 * still replays today's workflows, and is then deleted (README "Rolling out a workflow change").
 */
export const LEDGER_IN_REPLY_STEP = 'ledger-in-reply-step';

/**
 * Patch: `status: summarizing` goes out from the reply step, before `done`. Before it the
 * status was emitted after the summary's start, behind `done`, where the event log
 * refuses everything: no client ever saw it. Asked only when a summary is due, so other
 * requests carry no marker. Retire as {@link LEDGER_IN_REPLY_STEP} (README "Rolling out a workflow change").
 */
export const SUMMARIZING_BEFORE_DONE = 'summarizing-before-done';

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
        : await fast.prepareChat(prepareChatInput(input));
      await meter.reserve(prepared.promptTokens);
      phase = 'calling_llm';
      const onUsage = (usage: TokenUsage) => meter.report(usage);
      const reply: Reply & Partial<CompletionReply> = completion
        ? await converseForClient(input, completion, prepared.messages, onUsage)
        : await converse(input, prepared.messages, {
            onUsage,
            beforeLlm: () => meter.resume(),
            approvals: new ApprovalDesk(input, () => meter.pause()),
          });
      return { ...reply, summaryDue: prepared.summaryDue, foldBefore: prepared.windowStartId };
    });
    phase = 'finishing';
    deprecatePatch(LEDGER_IN_REPLY_STEP);
    const finished = await finish(input, meter, reply);
    phase = 'completed';
    return {
      status: 'completed',
      messageId: finished.messageId,
      usage: reply.usage,
      content: reply.content,
      ...(input.completion ? { toolCalls: reply.toolCalls, finishReason: reply.finishReason } : {}),
    };
  } catch (err) {
    failure = classify(err);
    phase = 'failed';
    const spec = failure;
    const message = quotaRefusalMessage(err) ?? spec.message;
    const emitError = () =>
      fast.emitEvent({
        ...ids,
        event: { type: 'error', code: spec.code, message },
        ...(input.method ? { method: input.method } : {}),
      });
    await CancellationScope.nonCancellable(async () => {
      deprecatePatch(LEDGER_IN_REPLY_STEP);
      await meter.settle(meter.reportedUsage);
      await emitError();
      await meter.billFailed();
    });
    if (spec === ERRORS.LlmUnavailable || spec === ERRORS.Internal) {
      // A system failure: fail the workflow so operators see it in the Temporal UI.
      const type =
        spec === ERRORS.LlmUnavailable ? FAILURE_TYPES.LlmUnavailable : FAILURE_TYPES.Internal;
      throw catalogFailure(type, spec.message, {
        cause: err instanceof Error ? err : undefined,
        nonRetryable: true,
      });
    }
    return { status: 'error', code: spec.code, message };
  }
}

type FinishedReply = Reply & Partial<CompletionReply> & { summaryDue: boolean; foldBefore: string };

/** What `done` carries beyond the reply text, for a completion (and its metrics label). */
function doneExtras(input: ChatWorkflowInput, reply: FinishedReply) {
  return {
    ...(input.completion
      ? {
          store: !input.completion.stateless,
          toolCalls: reply.toolCalls,
          finishReason: reply.finishReason,
        }
      : {}),
    ...(input.method ? { method: input.method } : {}),
  };
}

/**
 * Ends a request that has its reply: settles the usage (counters, `usage` event), then
 * one step stores the reply and the ledger row together and sends `done`. If Postgres
 * stays down past that step's retry budget, the failure ends the request as `internal`
 * and the failure path bills it (`RequestMeter.billFailed`: the ledger row, or a billing
 * workflow that retries until it lands). A due summary is announced just before
 * `done` (`status: summarizing`) and starts after it: it never delays the reply.
 */
async function finish(
  input: ChatWorkflowInput,
  meter: RequestMeter,
  reply: FinishedReply,
): Promise<{ messageId: string }> {
  const settledAt = await meter.settle(reply.usage);
  const statusFirst = reply.summaryDue && patched(SUMMARIZING_BEFORE_DONE);
  const finished = await storeActivities(input.settings).saveReply(
    saveReplyInput(input, reply, settledAt, {
      summarizing: statusFirst,
      ...doneExtras(input, reply),
    }),
  );
  if (reply.summaryDue) await summarizeInBackground(input, reply.foldBefore, statusFirst);
  return finished;
}

/**
 * Starts the session's summarisation without waiting for it (the reply step already sent
 * `status: summarizing`, unless this workflow started before
 * {@link SUMMARIZING_BEFORE_DONE}). Nothing about it can fail the chat request: until a
 * summary exists, prompts carry the window alone.
 */
async function summarizeInBackground(
  input: ChatWorkflowInput,
  foldBefore: string,
  statusSent: boolean,
): Promise<void> {
  try {
    const started = await startSummary(input, foldBefore);
    if (started && !statusSent) {
      // The shape before the patch (the log refuses it after `done`), kept for replay.
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
