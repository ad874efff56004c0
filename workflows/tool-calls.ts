/**
 * Runs the tool calls of one LLM round for the chat workflow. Fast tools are settled
 * by a local activity; a long-running tool becomes a child `toolWorkflow` on the tools
 * task queue, whose id is the client's `taskId`. Every call ends with a `tool` message
 * for the LLM: a failed, invalid or unknown call is an `ok:false` result the LLM reads,
 * never a failure of the request. A call that needs the user's approval waits for it
 * first (workflows/approvals.ts): denied or expired, it ends with that answer and never
 * runs. The calls of a round run in parallel, each waiting for its own approval. Only
 * cancellation (of the request, or of the task) ends the request, as `cancelled`, after
 * each call has recorded its outcome.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  patched,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import {
  addUsage,
  NO_USAGE,
  SESSION_ID_SEARCH_ATTRIBUTE,
  type LlmToolCall,
  type PromptMessage,
  type TokenUsage,
} from '../contracts/common';
import {
  TOOL_NAME_SEARCH_ATTRIBUTE,
  legacyToolWorkflowId,
  toolMessageContent,
  toolWorkflowId,
  type ToolOutcome,
  type ToolTaskMemo,
} from '../contracts/tool';
import type { ChatWorkflowInput } from '../contracts/chat';
import type { Duration } from '@temporalio/common';
import { FAILURE_TYPES } from '../contracts/errors';
import type { ApprovalDesk } from './approvals';
import { fast } from './proxies';
import { toolWorkflow } from './tool';

/** Patch id: task ids hold the user (chat workflows from before replay the old id). */
const USER_SCOPED_TASK_IDS = 'user-scoped-task-ids';

/** Longest a tool task may run before Temporal ends it. */
const TOOL_EXECUTION_TIMEOUT = '1h';

interface CallResult {
  message: PromptMessage;
  usage: TokenUsage;
}

/**
 * What the LLM and the client are told when a task failed. An MCP call cut off mid-call
 * (its worker died, and it may not run twice) is `interrupted`: the tool may or may not
 * have acted, and the LLM must know that.
 */
function failureOutcome(err: unknown): ToolOutcome {
  let cause: unknown = err;
  while (cause instanceof ChildWorkflowFailure && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure && cause.type === FAILURE_TYPES.ToolInterrupted) {
    return { ok: false, error: 'interrupted', detail: cause.message };
  }
  if (cause instanceof ApplicationFailure && cause.message) {
    return { ok: false, error: `the tool failed: ${cause.message}` };
  }
  return { ok: false, error: 'the tool failed' };
}

/** Longest an MCP tool's task may run: its server's call limit, and some slack for retries. */
function taskTimeout(timeoutS: number | undefined): Duration {
  return timeoutS === undefined ? TOOL_EXECUTION_TIMEOUT : Math.max(3600, timeoutS * 2 + 600) * 1000;
}

/** Runs one call to its end: the outcome is stored and sent whatever happens. */
async function runToolCall(
  input: ChatWorkflowInput,
  call: LlmToolCall,
  approvals: ApprovalDesk | undefined,
): Promise<CallResult> {
  // A patch: chat workflows that started a task before ids held the user replay as they ran.
  const taskId = patched(USER_SCOPED_TASK_IDS)
    ? toolWorkflowId(input.userId, input.requestId, call.id)
    : legacyToolWorkflowId(input.requestId, call.id);
  const base = {
    userId: input.userId,
    requestId: input.requestId,
    sessionId: input.sessionId,
    model: input.model,
    call,
  };
  const toolMessage = (outcome: ToolOutcome): PromptMessage => ({
    role: 'tool',
    content: toolMessageContent(outcome),
    tool_call_id: call.id,
  });
  let longRunning = false;
  try {
    const begun = await fast.beginToolCall({ ...base, taskId });
    if (begun.kind === 'done') return { message: toolMessage(begun.outcome), usage: NO_USAGE };
    if (begun.approval) {
      const refused = approvals
        ? await approvals.decide(call)
        : { ok: false, error: 'this request cannot wait for an approval' };
      if (refused) {
        await fast.finishToolCall({ ...base, outcome: refused });
        return { message: toolMessage(refused), usage: NO_USAGE };
      }
      await fast.announceToolCall({ ...base, taskId });
    }
    longRunning = true;
    let outcome: ToolOutcome;
    let usage = NO_USAGE;
    try {
      const memo: ToolTaskMemo = {
        userId: input.userId,
        requestId: input.requestId,
        toolCallId: call.id,
      };
      const done = await executeChild(toolWorkflow, {
        workflowId: taskId,
        taskQueue: input.taskQueues.tools,
        args: [
          {
            taskId,
            tool: begun.tool,
            args: begun.args,
            ...(begun.mcp ? { mcp: begun.mcp } : {}),
            userId: input.userId,
            requestId: input.requestId,
            sessionId: input.sessionId,
            toolCallId: call.id,
            model: input.model,
            taskQueues: input.taskQueues,
          },
        ],
        memo: { ...memo },
        typedSearchAttributes: [
          { key: TOOL_NAME_SEARCH_ATTRIBUTE, value: begun.tool },
          { key: SESSION_ID_SEARCH_ATTRIBUTE, value: input.sessionId },
        ],
        // Cancelling the request cancels the task, and waits for the tool to clean up.
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        // A task id names one task forever: never a second run under the same id.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        workflowExecutionTimeout: taskTimeout(begun.mcp?.timeoutS),
      });
      outcome =
        done.ok === false
          ? { ok: false, result: done.result, error: 'the tool reported an error' }
          : { ok: true, result: done.result };
      usage = done.usage;
    } catch (err) {
      if (isCancellation(err)) throw err;
      outcome = failureOutcome(err);
    }
    await fast.finishToolCall({ ...base, taskId, outcome });
    return { message: toolMessage(outcome), usage };
  } catch (err) {
    if (isCancellation(err)) {
      // Record the call's end even now, so the stored history never holds a tool call
      // without its answer (the next request's prompt would be invalid).
      await CancellationScope.nonCancellable(() =>
        fast.finishToolCall({
          ...base,
          ...(longRunning ? { taskId } : {}),
          outcome: { ok: false, error: 'cancelled' },
        }),
      );
    }
    throw err;
  }
}

/**
 * Runs a round's calls concurrently and returns their `tool` messages in call order.
 * When one is cancelled (e.g. its task was cancelled over HTTP) the others are
 * cancelled too, and the cancellation is rethrown once all have recorded their end.
 */
export async function runToolCalls(
  input: ChatWorkflowInput,
  calls: readonly LlmToolCall[],
  approvals?: ApprovalDesk,
): Promise<{ messages: PromptMessage[]; usage: TokenUsage }> {
  const scope = new CancellationScope();
  const settled = await scope.run(() =>
    Promise.allSettled(
      calls.map((call) =>
        runToolCall(input, call, approvals).catch((err: unknown) => {
          if (isCancellation(err)) scope.cancel();
          throw err;
        }),
      ),
    ),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  let usage = NO_USAGE;
  const messages: PromptMessage[] = [];
  for (const s of settled) {
    if (s.status !== 'fulfilled') continue;
    messages.push(s.value.message);
    usage = addUsage(usage, s.value.usage);
  }
  return { messages, usage };
}
