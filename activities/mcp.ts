/**
 * `callMcpTool`: one MCP tool call, the single activity of its `toolWorkflow` on the
 * tools task queue (the worker that holds the MCP connections, tools/mcp/hub.ts).
 *
 * - Progress: the server's progress notifications become heartbeats and `tool_progress`
 *   events through the same reporter as `summarize_document`, which also repeats the
 *   last value every second while the server is silent.
 * - Cancel: Temporal's cancellation aborts the SDK request, which sends MCP
 *   `notifications/cancelled` to the server.
 * - Never twice silently: a call that may not run again (its `retry` rule) first records
 *   "started" in Postgres (store/tool-call-starts.ts). An attempt that finds the record
 *   (its worker died mid-call, or an operator reset the task) answers `ToolInterrupted`
 *   instead of calling: the tool may or may not have acted, and the LLM is told so.
 * - Timeouts: the server's `timeoutS` bounds the call (progress does not extend it).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolHeartbeat } from '../contracts/tool';
import { FAILURE_TYPES, failure } from '../contracts/errors';
import { markToolCallStarted } from '../store/tool-call-starts';
import { McpServerDown } from '../tools/mcp/connection';
import type { ActivityDeps } from './deps';
import { ToolProgressReporter } from './tool-progress';

export interface CallMcpToolInput {
  taskId: string;
  userId: string;
  requestId: string;
  server: string;
  /** The server's own name for the tool. */
  tool: string;
  args: Record<string, unknown>;
  /** May a second attempt call the server again (read-only / idempotent, or `retry: always`)? */
  retryable: boolean;
  timeoutS: number;
}

/** What the call answered: MCP's `CallToolResult` fields the contract passes on. */
export interface CallMcpToolOutput {
  result: { content: unknown[]; structuredContent?: unknown };
  isError: boolean;
}

/** Largest result kept (serialized bytes): it travels through Temporal and into the prompt. */
export const MAX_MCP_RESULT_BYTES = 512 * 1024;

/** `progress` as the contract reports it: 100 x progress / total, when a total is given. */
function percent(progress: number, total: number | undefined, last: number): number {
  if (!total || total <= 0) return last;
  return Math.max(0, Math.min(100, Math.floor((100 * progress) / total)));
}

/** Creates the MCP call activity over its dependencies (`deps.mcp`: the worker's hub). */
export function createMcpActivities(deps: ActivityDeps) {
  async function callMcpTool(input: CallMcpToolInput): Promise<CallMcpToolOutput> {
    const ctx = Context.current();
    const connection = deps.mcp?.connection(input.server);
    if (!connection) {
      throw failure(FAILURE_TYPES.ToolUnavailable, `the MCP server "${input.server}" is not configured on this worker`, {
        nonRetryable: true,
      });
    }
    const prior = ctx.info.heartbeatDetails as Partial<ToolHeartbeat> | undefined;
    let progress = typeof prior?.progress === 'number' ? prior.progress : 0;
    let message = ctx.info.attempt > 1 ? `running again (attempt ${ctx.info.attempt})` : 'calling the server';
    if (!input.retryable && !(await markToolCallStarted(deps.db, input.taskId))) {
      throw failure(
        FAILURE_TYPES.ToolInterrupted,
        'the call was interrupted (its worker stopped mid-call); the tool may or may not have acted, and it is not run again',
        { nonRetryable: true },
      );
    }
    const reporter = new ToolProgressReporter(ctx, deps, input, () => ({ progress, message, checkpoint: null }));
    const signal = ctx.cancellationSignal;
    reporter.start();
    try {
      const answer: CallToolResult = await connection.call(input.tool, input.args, {
        signal,
        timeout: input.timeoutS * 1000,
        onprogress: (p) => {
          progress = percent(p.progress, p.total, progress);
          if (p.message) message = p.message.slice(0, 500);
          void reporter.report();
        },
      });
      const result = {
        content: Array.isArray(answer.content) ? answer.content : [],
        ...(answer.structuredContent !== undefined ? { structuredContent: answer.structuredContent } : {}),
      };
      const bytes = Buffer.byteLength(JSON.stringify(result));
      if (bytes > MAX_MCP_RESULT_BYTES) {
        throw failure(
          FAILURE_TYPES.ToolResultTooLarge,
          `the result is too large (${bytes} bytes; at most ${MAX_MCP_RESULT_BYTES} are kept)`,
          // The server's answer, not a fault here: logged at debug level.
          { nonRetryable: true, benign: true },
        );
      }
      progress = 100;
      message = answer.isError ? 'the tool reported an error' : 'done';
      await reporter.report(true);
      return { result, isError: answer.isError === true };
    } catch (err) {
      if (signal.aborted) {
        message = 'cancelled';
        await reporter.report(true);
        throw new CancelledFailure('cancelled', [{ progress, message: `cancelled at ${progress}%` }]);
      }
      throw callFailure(err, input);
    } finally {
      reporter.stop();
    }
  }

  return { callMcpTool };
}

/** Maps what a call threw to a failure the workflow branches on (by type, never by text). */
function callFailure(err: unknown, input: CallMcpToolInput): unknown {
  if (err instanceof McpServerDown) {
    return failure(FAILURE_TYPES.ToolUnavailable, err.message, { nonRetryable: true, benign: true });
  }
  if (err instanceof McpError && err.code === (ErrorCode.RequestTimeout as number)) {
    return failure(FAILURE_TYPES.ToolTimedOut, `no answer within ${input.timeoutS} s`, { nonRetryable: true, benign: true });
  }
  if (err instanceof McpError) {
    // The server answered with an error: running it again would answer the same.
    return failure(FAILURE_TYPES.ToolFailed, `the server answered an error: ${err.message}`, { nonRetryable: true, benign: true });
  }
  if (err instanceof ApplicationFailure) return err; // already ours (the result too large)
  // The connection broke mid-call: a call that may run again is retried (maybe on another
  // worker); one that may not ends interrupted (the server may have acted).
  const text = err instanceof Error ? err.message : String(err);
  if (input.retryable) return failure(FAILURE_TYPES.ToolUnavailable, `the MCP call failed: ${text}`);
  return failure(
    FAILURE_TYPES.ToolInterrupted,
    `the connection to the MCP server broke mid-call (${text}); the tool may or may not have acted`,
    { nonRetryable: true },
  );
}
