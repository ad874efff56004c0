/**
 * toolWorkflow: one long-running tool call, started by the chat workflow as a child on
 * the tools task queue. Its workflow id is the client's `taskId`; it carries the
 * `ToolName` and `SessionId` search attributes and the owner in its memo.
 *
 * The tool itself is one heartbeating activity that resumes from its checkpoint when
 * retried (see activities/summarize-document.ts). Cancelling this workflow (from the
 * chat request's `cancel`, or `POST /v1/tasks/:taskId/cancel`) cancels the activity,
 * waits until it has cleaned up, and ends the workflow as cancelled.
 * `toolStateQuery` answers the task's state, also after it has closed.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ToolExecutionStatus } from '../activities/tools';
import {
  toolStateQuery,
  type ToolState,
  type ToolWorkflowInput,
  type ToolWorkflowResult,
} from '../contracts/tool';
import { FAILURE_TYPES, failure, failureType } from '../contracts/errors';
import { NO_USAGE } from '../contracts/common';
import { fast, NON_RETRYABLE } from './proxies';

/**
 * A tool's activity heartbeats every second; this much silence means its worker is
 * gone and the attempt is retried elsewhere (from its checkpoint, after the 0.5 s retry
 * interval). It bounds the gap between `tool_progress` frames when a worker dies to
 * about timeout + retry interval + dispatch (~4 s; the target is 6 s), and leaves
 * 2 s of slack for a busy worker's heartbeats (sent at most 1 s apart).
 */
export const TOOL_HEARTBEAT_TIMEOUT = '3s';

const longTools = proxyActivities<Activities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: TOOL_HEARTBEAT_TIMEOUT,
  // Cancellation waits for the activity to acknowledge it (and clean up).
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    // A dead worker's attempt restarts soon after its heartbeat times out.
    initialInterval: '500ms',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 6,
    nonRetryableErrorTypes: [...NON_RETRYABLE, FAILURE_TYPES.InvalidToolArguments],
  },
});

/** MCP outcomes no retry changes. */
const MCP_NON_RETRYABLE = [
  FAILURE_TYPES.InvalidToolArguments,
  FAILURE_TYPES.ToolInterrupted,
  FAILURE_TYPES.ToolTimedOut,
  FAILURE_TYPES.ToolFailed,
  FAILURE_TYPES.ToolResultTooLarge,
];

/**
 * The MCP call's activity: its start-to-close limit is the server's `timeoutS` (the call
 * itself enforces it; this is the backstop), with the tools' heartbeat and retry
 * policy. A retry after a worker's death calls again only when the call is retryable:
 * otherwise the activity answers `ToolInterrupted` (activities/mcp.ts).
 */
function mcpActivities(timeoutS: number) {
  return proxyActivities<Activities>({
    startToCloseTimeout: `${timeoutS + 30}s`,
    heartbeatTimeout: TOOL_HEARTBEAT_TIMEOUT,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '500ms',
      backoffCoefficient: 2,
      maximumInterval: '10s',
      maximumAttempts: 6,
      nonRetryableErrorTypes: [...NON_RETRYABLE, ...MCP_NON_RETRYABLE],
    },
  });
}

/** Runs the tool named in the input. */
async function run(input: ToolWorkflowInput): Promise<ToolWorkflowResult> {
  if (input.mcp) {
    const out = await mcpActivities(input.mcp.timeoutS).callMcpTool({
      taskId: input.taskId,
      userId: input.userId,
      requestId: input.requestId,
      server: input.mcp.server,
      tool: input.mcp.tool,
      args: input.args,
      retryable: input.mcp.retryable,
      timeoutS: input.mcp.timeoutS,
    });
    return { result: out.result, usage: NO_USAGE, ...(out.isError ? { ok: false } : {}) };
  }
  switch (input.tool) {
    case 'summarize_document': {
      const out = await longTools.summarizeDocument({
        taskId: input.taskId,
        userId: input.userId,
        requestId: input.requestId,
        model: input.model,
        args: input.args,
      });
      return { result: { summary: out.summary, chunks: out.chunks }, usage: out.usage };
    }
    default:
      throw failure(
        FAILURE_TYPES.InvalidToolArguments,
        `${input.tool} is not a long-running tool`,
        {
          nonRetryable: true,
        },
      );
  }
}

/** The progress a cancelled activity reported in its cancellation details. */
function lastProgress(err: unknown): { progress: number; message: string } | undefined {
  const cancelled = err instanceof ActivityFailure ? err.cause : err;
  if (!(cancelled instanceof CancelledFailure)) return undefined;
  const d = cancelled.details[0] as { progress?: unknown; message?: unknown } | undefined;
  if (typeof d?.progress !== 'number' || typeof d.message !== 'string') return undefined;
  return { progress: d.progress, message: d.message };
}

/** The failure's own message (an activity's cause), for the task's `error`. */
function errorMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof Error && cause.message ? cause.message : 'the tool failed';
}

/** Runs one long-running tool call to its end: completed, failed or cancelled. */
export async function toolWorkflow(input: ToolWorkflowInput): Promise<ToolWorkflowResult> {
  const state: ToolState = {
    taskId: input.taskId,
    tool: input.tool,
    status: 'running',
    progress: 0,
    message: 'started',
  };
  setHandler(toolStateQuery, () => state);
  const startedAt = Date.now();
  const record = (status: ToolExecutionStatus) =>
    CancellationScope.nonCancellable(() =>
      fast.recordToolOutcome({ tool: input.tool, status, durationMs: Date.now() - startedAt }),
    );

  try {
    const out = await run(input);
    if (out.ok === false) {
      // The tool answered with an error (MCP `isError`): the task failed, its result stands.
      const error = 'the tool reported an error';
      Object.assign(state, { status: 'failed', progress: 100, message: error, result: out.result, error });
      await record('error');
      return out;
    }
    Object.assign(state, {
      status: 'completed',
      progress: 100,
      message: 'done',
      result: out.result,
    });
    await record('ok');
    return out;
  } catch (err) {
    // A cancelled task whose activity then timed out (its worker was gone) is cancelled too.
    if (isCancellation(err) || CancellationScope.current().consideredCancelled) {
      const last = lastProgress(err);
      Object.assign(state, {
        status: 'cancelled',
        progress: last?.progress ?? state.progress,
        message: last?.message ?? 'cancelled',
        error: 'cancelled',
      });
      await record('cancelled');
      throw isCancellation(err) ? err : new CancelledFailure('cancelled');
    }
    const message = errorMessage(err);
    Object.assign(state, { status: 'failed', message: 'failed', error: message });
    await record('error');
    throw failure(failureType(err) ?? FAILURE_TYPES.Internal, message, { nonRetryable: true });
  }
}
